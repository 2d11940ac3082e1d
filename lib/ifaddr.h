/* Addresses of one network interface, read with rtnetlink (RTM_GETADDR
 * dumps and RTM_NEWADDR/RTM_DELADDR notifications, uapi
 * linux/rtnetlink.h and linux/if_addr.h).  Built on lib/netlink.h.
 *
 * musl does not ship the uapi headers, so the constants and struct
 * ifaddrmsg are defined here with the uapi values (Linux 6.1). */
#ifndef RDAGENT_IFADDR_H
#define RDAGENT_IFADDR_H

#include <stddef.h>
#include <stdint.h>

#include "netlink.h"
#include "portmap.h"

/* rtnetlink message types; linux/rtnetlink.h. */
#define IFADDR_RTM_NEWADDR 20
#define IFADDR_RTM_DELADDR 21
#define IFADDR_RTM_GETADDR 22

/* Multicast groups (numbers, not masks); linux/rtnetlink.h enum rtnetlink_groups. */
#define IFADDR_GROUP_IPV4 5     /* RTNLGRP_IPV4_IFADDR */
#define IFADDR_GROUP_IPV6 9     /* RTNLGRP_IPV6_IFADDR */

/* struct ifaddrmsg; linux/if_addr.h. */
struct ifaddr_msg {
	uint8_t family;
	uint8_t prefix_len;
	uint8_t flags;
	uint8_t scope;
	uint32_t index;
};

/* Attribute types; linux/if_addr.h. */
#define IFADDR_ATTR_ADDRESS 1
#define IFADDR_ATTR_LOCAL   2
#define IFADDR_ATTR_MAX     11

/* The address set of an interface in kernel dump order (IPv4 first). */
struct ifaddr_set {
	size_t count;
	struct portmap_addr addrs[PORTMAP_ADDRS_MAX];
	size_t dropped;   /* addresses beyond PORTMAP_ADDRS_MAX, not kept */
};

/* Parses one RTM_NEWADDR message and appends its address to set when it
 * belongs to interface ifindex.  The address is IFA_LOCAL when present
 * (the local end of a point-to-point link), otherwise IFA_ADDRESS.
 * Returns 1 when an address was added, 0 when the message is for another
 * interface or family, or -EBADMSG when it is malformed. */
int ifaddr_parse(const struct nl_hdr *msg, uint32_t ifindex, struct ifaddr_set *set);

/* Builds an RTM_GETADDR dump request for every family into buf; returns
 * its length or -EMSGSIZE. */
int ifaddr_dump_request(void *buf, size_t size, uint32_t seq);

/* Dumps the addresses of ifindex over the blocking NETLINK_ROUTE socket fd
 * into set, receiving into (buf, size), which should hold
 * NL_RECV_BUF_SIZE bytes.  Returns 0 or -errno (-EINTR when the dump was interrupted
 * and should be repeated). */
int ifaddr_dump(int fd, uint32_t seq, uint32_t ifindex, struct ifaddr_set *set,
		void *buf, size_t size);

/* 1 when both sets hold the same addresses in the same order. */
int ifaddr_set_equal(const struct ifaddr_set *a, const struct ifaddr_set *b);

#endif
