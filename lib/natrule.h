/* One NAT rule as ipt-scan understands it, whatever it was read from: an
 * nf_tables rule message (lib/nftrule) or an iptables-save line
 * (lib/iptsave).  Both decoders fill this structure and leave the choice of
 * which rules count, and the expansion into port bindings, to the caller. */
#ifndef RDAGENT_NATRULE_H
#define RDAGENT_NATRULE_H

#include <stdint.h>

#include "pev.h"

/* Table and chain names: NFT_NAME_MAXLEN (uapi linux/netfilter/nf_tables.h)
 * is 256 bytes including the NUL; iptables chain names are shorter. */
#define NAT_NAME_MAX 256
/* Rule comment: nf_tables limits rule user data to NFT_USERDATA_MAXLEN
 * (256) bytes, and an xtables comment is at most 256 bytes with its NUL. */
#define NAT_COMMENT_MAX 256

struct nat_rule {
	int family;                   /* AF_INET or AF_INET6 */
	char table[NAT_NAME_MAX];
	char chain[NAT_NAME_MAX];
	char comment[NAT_COMMENT_MAX];   /* rule comment, or "" */

	int has_proto;
	enum pev_proto proto;

	/* Destination address match; prefix is 32 or 128 for one host. */
	int has_daddr;
	struct pev_addr daddr;
	unsigned daddr_prefix;

	/* Destination port match; both 0 when the rule matches no port. */
	uint16_t dport_min, dport_max;

	/* The rule also matches something a binding cannot express (source
	 * address, interface, mark, address type...). */
	int other_match;

	/* The rule's verdict is DNAT.  to_addr.family is 0 when the DNAT
	 * keeps the address; to_port_min is 0 when it keeps the port. */
	int dnat;
	struct pev_addr to_addr;
	uint16_t to_port_min, to_port_max;
	/* NF_NAT_RANGE_PROTO_OFFSET: the new port is to_port_min plus the
	 * distance of the original port from to_port_base. */
	int to_port_offset;
	uint16_t to_port_base;

	/* Set when the rule is DNAT but in a form this decoder cannot turn
	 * into bindings (a negated match, ports from a set); a static string
	 * for the log.  NULL otherwise. */
	const char *unsupported;
};

#endif
