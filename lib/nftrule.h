/* Decoder for nf_tables rule messages (NFT_MSG_NEWRULE from a dump or an
 * event) into struct nat_rule.  Sans-I/O: it reads one message from a
 * caller's buffer, allocates nothing and keeps no state between calls.
 * nftrule_watch_datagram, at the end, reads event datagrams for a
 * listener that must know when to dump the rules again.
 *
 * It runs the rule's expressions over a model of the nf_tables registers
 * and recognises the forms that iptables-nft (1.8.x) and nft write for
 * DNAT rules:
 *
 *   meta l4proto / payload nh+9 (ip) or nh+6 (ip6), cmp eq     protocol
 *   payload nh+16 len 4 (ip) or nh+24 len 16 (ip6), [bitwise],
 *     cmp eq                                                    destination address
 *   payload th+2 len 2, cmp eq | cmp gte+lte | range eq         destination port
 *   immediate (addr, port) + nat dnat                           DNAT target
 *   match tcp / udp (struct xt_tcp / xt_udp dpts)               destination port
 *   target DNAT rev 0, 1, 2 (nf_nat_ipv4_multi_range_compat,
 *     nf_nat_range, nf_nat_range2)                              DNAT target
 *
 * Layouts follow the uapi headers linux/netfilter/nf_tables.h,
 * nf_tables_compat.h, nf_nat.h and xt_tcpudp.h (Linux 6.1).  Any other
 * expression that compares a register marks the rule other_match, and an
 * unknown expression clears what the decoder knows about every register,
 * so a register is never read as something it no longer contains. */
#ifndef RDAGENT_NFTRULE_H
#define RDAGENT_NFTRULE_H

#include "natrule.h"
#include "netlink.h"

/* nfnetlink and nf_tables values used to build requests and read events
 * (uapi linux/netfilter/nfnetlink.h, nf_tables.h, linux/netfilter.h).
 * musl's headers lack them; tests/unit/test_nftrule.c checks them against
 * the kernel headers. */
#define NFNL_SUBSYS_NFTABLES_ID 10
#define NFNETLINK_VERSION_0     0
#define NFNL_GROUP_NFTABLES     7      /* NFNLGRP_NFTABLES */
#define NFT_PROTO_IPV4          2      /* NFPROTO_IPV4 */
#define NFT_PROTO_IPV6          10     /* NFPROTO_IPV6 */

enum {
	NFT_MSG_ID_NEWTABLE = 0,
	NFT_MSG_ID_GETTABLE = 1,
	NFT_MSG_ID_DELTABLE = 2,
	NFT_MSG_ID_NEWCHAIN = 3,
	NFT_MSG_ID_DELCHAIN = 5,
	NFT_MSG_ID_NEWRULE = 6,
	NFT_MSG_ID_GETRULE = 7,
	NFT_MSG_ID_DELRULE = 8,
	NFT_MSG_ID_NEWGEN = 15,
	NFT_MSG_ID_GETGEN = 16,
};

/* Attribute numbers of enum nft_table_attributes, nft_rule_attributes and
 * nft_gen_attributes that callers use. */
#define NFT_ATTR_TABLE_NAME  1
#define NFT_ATTR_RULE_TABLE  1
#define NFT_ATTR_RULE_CHAIN  2
#define NFT_ATTR_GEN_ID      1

/* struct nfgenmsg: the family header of every nfnetlink message. */
struct nft_genmsg {
	uint8_t family;
	uint8_t version;
	uint16_t res_id;     /* big endian */
};

/* Returns the nlmsg_type of nf_tables message msg (NFT_MSG_ID_*). */
static inline uint16_t nft_msg_type(unsigned msg)
{
	return (uint16_t)(NFNL_SUBSYS_NFTABLES_ID << 8 | msg);
}

/* Decodes a NFT_MSG_NEWRULE message of family ip or ip6 into rule.
 * Returns 0 when the rule was decoded (rule->dnat is 1 for a DNAT rule),
 * -EAFNOSUPPORT for another family, -ENOMSG for a message that is not a
 * rule, and -EBADMSG when an attribute is truncated, out of bounds or has
 * the wrong size, or the table name, chain name or expression list is
 * missing.  On error, rule is zeroed. */
int nftrule_decode(const struct nl_hdr *msg, struct nat_rule *rule);

/* Reads the table name of any nf_tables object message (table, chain,
 * rule, set...) whose first attribute type is the table name, which holds
 * for every NFT_MSG_NEW* and NFT_MSG_DEL* message except NEWGEN.  Sets
 * *family (NFT_PROTO_*, the nfgenmsg family) and *table (pointing into
 * msg).  Returns 0, -ENOENT when the message has no
 * table name, or -EBADMSG. */
int nftrule_msg_table(const struct nl_hdr *msg, int *family, const char **table);

/* Reads the NFNLGRP_NFTABLES event messages of one received datagram
 * and decides whether the listener must dump the rules again.  The kernel
 * sends a message per changed table, chain, rule or set, then
 * NFT_MSG_NEWGEN when the transaction commits.  A rescan waits for that
 * commit, so a burst of changes in one transaction costs one rescan.
 * A message that does not parse hides what changed, so it calls for a
 * rescan at once. */
struct nftrule_watch {
	const char *const *tables;   /* watched table names, in families ip and ip6 */
	size_t table_count;
	int dirty;                   /* a watched table changed; the caller clears
	                              * it when it starts a rescan */
	/* Set with NFTRULE_WATCH_MALFORMED, for the log: the type and length
	 * of the message that did not parse, or type 0 with the datagram's
	 * length and err (from nl_cb_run) when the datagram did not split
	 * into messages. */
	uint16_t bad_type;
	uint32_t bad_len;
	int bad_err;
};

enum nftrule_watch_result {
	NFTRULE_WATCH_WAIT,       /* nothing to do until more events arrive */
	NFTRULE_WATCH_RESCAN,     /* a change to a watched table was committed */
	NFTRULE_WATCH_MALFORMED,  /* a message did not parse: rescan now */
};

/* Feeds the datagram (buf, len) to w.  Sets w->dirty for a message that
 * names a watched table, and for a malformed message.  Returns
 * NFTRULE_WATCH_MALFORMED when any message or the datagram itself was
 * malformed, otherwise NFTRULE_WATCH_RESCAN when NFT_MSG_NEWGEN arrived
 * while w->dirty was set, otherwise NFTRULE_WATCH_WAIT. */
enum nftrule_watch_result nftrule_watch_datagram(struct nftrule_watch *w, const void *buf,
						 size_t len);

#endif
