/* Unit tests for lib/nftrule on rule messages recorded from the kernel
 * (tests/fixtures/ipt-scan/nft-rules.nlmsg and nft-events.nlmsg; capture.sh
 * there records them), plus xtables forms that current iptables-nft no
 * longer writes, built with lib/netlink from the uapi layouts. */
#include "unit.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <linux/netfilter.h>
#include <linux/netfilter/nf_nat.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nf_tables_compat.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/xt_tcpudp.h>

#include "natbind.h"
#include "netlink.h"
#include "nftrule.h"

#define FIXTURES "tests/fixtures/ipt-scan/"

/* The values lib/ defines for musl builds must match the kernel's. */
_Static_assert(NFNL_SUBSYS_NFTABLES_ID == NFNL_SUBSYS_NFTABLES, "subsystem");
_Static_assert(NFNL_GROUP_NFTABLES == NFNLGRP_NFTABLES, "group");
_Static_assert(NFT_PROTO_IPV4 == NFPROTO_IPV4 && NFT_PROTO_IPV6 == NFPROTO_IPV6, "families");
_Static_assert((int)NFT_MSG_ID_NEWTABLE == (int)NFT_MSG_NEWTABLE && (int)NFT_MSG_ID_GETTABLE == (int)NFT_MSG_GETTABLE &&
	       (int)NFT_MSG_ID_DELTABLE == (int)NFT_MSG_DELTABLE && (int)NFT_MSG_ID_NEWCHAIN == (int)NFT_MSG_NEWCHAIN &&
	       (int)NFT_MSG_ID_DELCHAIN == (int)NFT_MSG_DELCHAIN && (int)NFT_MSG_ID_NEWRULE == (int)NFT_MSG_NEWRULE &&
	       (int)NFT_MSG_ID_GETRULE == (int)NFT_MSG_GETRULE && (int)NFT_MSG_ID_DELRULE == (int)NFT_MSG_DELRULE &&
	       (int)NFT_MSG_ID_NEWGEN == (int)NFT_MSG_NEWGEN && (int)NFT_MSG_ID_GETGEN == (int)NFT_MSG_GETGEN,
	       "message types");
_Static_assert(NFT_ATTR_TABLE_NAME == NFTA_TABLE_NAME && NFT_ATTR_RULE_TABLE == NFTA_RULE_TABLE &&
	       NFT_ATTR_RULE_CHAIN == NFTA_RULE_CHAIN && NFT_ATTR_GEN_ID == NFTA_GEN_ID,
	       "attributes");
_Static_assert(sizeof(struct nft_genmsg) == sizeof(struct nfgenmsg), "nfgenmsg");
/* The numbers lib/nftrule.c uses internally. */
_Static_assert(NFTA_RULE_EXPRESSIONS == 4 && NFTA_RULE_USERDATA == 7 && NFTA_RULE_MAX == 11, "rule");
_Static_assert(NFTA_PAYLOAD_DREG == 1 && NFTA_PAYLOAD_BASE == 2 && NFTA_PAYLOAD_OFFSET == 3 &&
	       NFTA_PAYLOAD_LEN == 4 && NFTA_PAYLOAD_SREG == 5, "payload");
_Static_assert(NFTA_CMP_SREG == 1 && NFTA_CMP_OP == 2 && NFTA_CMP_DATA == 3 && NFT_CMP_GTE == 5,
	       "cmp");
_Static_assert(NFTA_RANGE_FROM_DATA == 3 && NFTA_RANGE_TO_DATA == 4, "range");
_Static_assert(NFTA_NAT_TYPE == 1 && NFTA_NAT_REG_PROTO_MAX == 6 && NFTA_NAT_FLAGS == 7 &&
	       NFT_NAT_DNAT == 1, "nat");
_Static_assert(NFTA_BITWISE_MASK == 4 && NFTA_BITWISE_XOR == 5 && NFTA_BITWISE_OP == 6, "bitwise");
_Static_assert(NFT_META_NFPROTO == 15 && NFT_META_L4PROTO == 16, "meta keys");
_Static_assert(NFTA_IMMEDIATE_DREG == 1 && NFTA_IMMEDIATE_DATA == 2 && NFTA_DATA_VALUE == 1,
	       "immediate");
_Static_assert(NFTA_TARGET_NAME == 1 && NFTA_TARGET_REV == 2 && NFTA_TARGET_INFO == 3 &&
	       NFTA_MATCH_INFO == 3, "xt");
_Static_assert(NFTA_LOOKUP_SREG == 2, "lookup");
_Static_assert(NFT_REG32_00 == 8 && NFT_REG_4 == 4, "registers");
_Static_assert(sizeof(struct nf_nat_ipv4_multi_range_compat) == 20, "rev 0");
_Static_assert(sizeof(struct nf_nat_range) == 40 && offsetof(struct nf_nat_range, min_proto) == 36,
	       "rev 1");
_Static_assert(offsetof(struct nf_nat_range2, base_proto) == 40, "rev 2");
_Static_assert(offsetof(struct xt_tcp, invflags) == 11 && offsetof(struct xt_tcp, option) == 8 &&
	       offsetof(struct xt_udp, invflags) == 8, "xt_tcpudp");

/* Splits a fixture into messages; returns how many (at most max). */
static size_t split_messages(const uint8_t *buf, size_t len, const struct nl_hdr **msgs, size_t max)
{
	const struct nl_hdr *h = (const struct nl_hdr *)buf;
	size_t rem = len, n = 0;

	while (nl_msg_ok(h, rem) && n < max) {
		msgs[n++] = h;
		h = nl_msg_next(h, &rem);
	}
	assert_int_equal(rem, 0);
	return n;
}

static struct pev_addr addr(const char *text)
{
	struct pev_addr a;

	assert_int_equal(pev_addr_parse(text, strlen(text), &a), 0);
	return a;
}

static void assert_addr(const struct pev_addr *a, const char *text)
{
	struct pev_addr want = addr(text);

	assert_int_equal(a->family, want.family);
	assert_memory_equal(a->bytes, want.bytes, want.family == AF_INET ? 4 : 16);
}

struct expect {
	size_t index;
	const char *chain;
	int dnat;
	enum pev_proto proto;
	const char *daddr;        /* NULL: no destination address match */
	unsigned prefix;
	uint16_t dport_min, dport_max;
	const char *to_addr;      /* NULL: address unchanged */
	uint16_t to_min, to_max;
	int other_match;
	int unsupported;
	const char *comment;
};

/* What the recorded rules are (capture.sh writes them in this order). */
static const struct expect expected[] = {
	{ 0, "CNI-HOSTPORT-DNAT", 0, PEV_TCP, NULL, 0, 0, 0, NULL, 0, 0, 0, 1, "dnat name: \"bridge\" id: \"2e2f8d5b\"" },
	{ 1, "CNI-HOSTPORT-SETMARK", 0, 0, NULL, 0, 0, 0, NULL, 0, 0, 0, 0, "CNI portfwd masquerade mark" },
	{ 4, "CNI-DN-2e2f8d5b91929ef9fc152", 0, PEV_TCP, "127.0.0.1", 32, 8081, 8081, NULL, 0, 0, 1, 0, "" },
	{ 5, "CNI-DN-2e2f8d5b91929ef9fc152", 1, PEV_TCP, "127.0.0.1", 32, 8081, 8081, "10.4.0.7", 80, 80, 0, 0, "" },
	{ 6, "CNI-DN-2e2f8d5b91929ef9fc152", 1, PEV_TCP, NULL, 0, 8443, 8443, "10.4.0.7", 443, 443, 0, 0, "" },
	{ 7, "CNI-DN-04579c7bb67f4c3f6cca0", 1, PEV_UDP, NULL, 0, 5353, 5353, "10.4.0.7", 53, 53, 0, 0, "" },
	{ 8, "CNI-DN-04579c7bb67f4c3f6cca0", 1, PEV_UDP, NULL, 0, 6000, 6003, "10.4.0.7", 0, 0, 0, 0, "" },
	/* --tcp-option makes iptables-nft write the xtables tcp match. */
	{ 9, "CNI-DN-forms", 1, PEV_TCP, NULL, 0, 7001, 7001, "10.4.0.8", 71, 71, 1, 0, "" },
	{ 10, "CNI-DN-forms", 1, PEV_TCP, NULL, 0, 7002, 7002, "10.4.0.8", 8000, 8010, 1, 0, "" },
	{ 11, "CNI-DN-forms", 1, PEV_TCP, "10.0.0.0", 8, 7003, 7003, "10.4.0.8", 0, 0, 0, 0, "" },
	{ 12, "CNI-DN-forms", 1, PEV_UDP, NULL, 0, 0, 0, "10.4.0.8", 74, 74, 0, 1, "" },
	{ 13, "CNI-DN-forms", 0, PEV_TCP, NULL, 0, 7005, 7005, NULL, 0, 0, 0, 0, "" },
	{ 14, "POSTROUTING", 0, 0, NULL, 0, 0, 0, NULL, 0, 0, 1, 0, "" },
	{ 15, "CNI-DN-native", 1, PEV_TCP, NULL, 0, 9100, 9102, "10.4.0.10", 100, 100, 0, 0, "" },
	{ 16, "CNI-DN-native", 1, PEV_TCP, "192.168.0.0", 16, 9103, 9103, "10.4.0.10", 103, 103, 0, 0, "" },
	{ 17, "CNI-DN-native", 1, PEV_UDP, NULL, 0, 9104, 9105, "10.4.0.10", 0, 0, 0, 0, "" },
	/* The network header's protocol byte instead of meta l4proto. */
	{ 18, "CNI-DN-native", 1, PEV_UDP, NULL, 0, 9106, 9106, "10.4.0.10", 106, 106, 0, 0, "" },
	{ 19, "hostports", 1, PEV_TCP, NULL, 0, 9090, 9090, "10.4.0.9", 90, 90, 0, 0, "f00dcafe0123" },
	{ 20, "hostip_hostports", 1, PEV_UDP, "127.0.0.1", 32, 9091, 9091, "10.4.0.9", 91, 91, 0, 0, "f00dcafe0123" },
	{ 25, "masquerading", 0, 0, "10.4.0.9", 32, 0, 0, NULL, 0, 0, 1, 0, "f00dcafe0123" },
	/* ip6tables-nft 1.8.9 writes IPv6 DNAT as the xtables target. */
	{ 31, "CNI-DN-2e2f8d5b91929ef9fc152", 1, PEV_TCP, "::1", 128, 8081, 8081, "fd00:4::7", 80, 80, 0, 0, "" },
	{ 34, "CNI-DN-04579c7bb67f4c3f6cca0", 1, PEV_UDP, NULL, 0, 6000, 6003, "fd00:4::7", 0, 0, 0, 0, "" },
	{ 35, "CNI-DN-native6", 1, PEV_TCP, NULL, 0, 9107, 9107, "fd00:4::10", 107, 107, 0, 0, "" },
	{ 36, "hostports", 1, PEV_TCP, NULL, 0, 9092, 9092, "fd00:4::9", 92, 92, 0, 0, "f00dcafe0123" },
	{ 37, "hostip_hostports", 1, PEV_TCP, "::1", 128, 9093, 9093, "fd00:4::9", 93, 93, 0, 0, "f00dcafe0123" },
};

static void check_rule(const struct nat_rule *r, const struct expect *e)
{
	print_message("rule %zu in %s\n", e->index, e->chain);
	assert_string_equal(r->chain, e->chain);
	assert_int_equal(r->dnat, e->dnat);
	assert_int_equal(r->unsupported != NULL, e->unsupported);
	assert_int_equal(r->other_match, e->other_match);
	assert_string_equal(r->comment, e->comment);
	if (e->proto || r->has_proto)
		assert_int_equal(r->proto, e->proto);
	assert_int_equal(r->has_daddr, e->daddr != NULL);
	if (e->daddr) {
		assert_addr(&r->daddr, e->daddr);
		assert_int_equal(r->daddr_prefix, e->prefix);
	}
	assert_int_equal(r->dport_min, e->dport_min);
	assert_int_equal(r->dport_max, e->dport_max);
	if (e->to_addr)
		assert_addr(&r->to_addr, e->to_addr);
	else
		assert_int_equal(r->to_addr.family, 0);
	assert_int_equal(r->to_port_min, e->to_min);
	assert_int_equal(r->to_port_max, e->to_max);
}

static void test_recorded_rules(void **state)
{
	const struct nl_hdr *msgs[64];
	struct nat_rule rule;
	size_t len, n;
	uint8_t *buf;

	(void)state;
	buf = unit_read_file(FIXTURES "nft-rules.nlmsg", &len);
	n = split_messages(buf, len, msgs, 64);
	assert_int_equal(n, 38);
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(nftrule_decode(msgs[i], &rule), 0);
		assert_int_equal(rule.family, i < 26 ? AF_INET : AF_INET6);
		assert_string_equal(rule.table, i < 19 || (i >= 26 && i < 36) ? "nat" : "cni_hostport");
	}

	for (size_t i = 0; i < sizeof expected / sizeof expected[0]; i++) {
		assert_int_equal(nftrule_decode(msgs[expected[i].index], &rule), 0);
		check_rule(&rule, &expected[i]);
	}
	/* The port-offset form: --to-destination 10.4.0.8:8000-8010/7002. */
	assert_int_equal(nftrule_decode(msgs[10], &rule), 0);
	assert_true(rule.to_port_offset);
	assert_int_equal(rule.to_port_base, 7002);
	free(buf);
}

static int format_event(void *ctx, enum pev_verb verb, const struct natbind_set *s,
			const struct natbind *b)
{
	char *out = ctx;
	char line[PEV_LINE_MAX];
	struct pev ev;
	int n;

	assert_int_equal(natbind_event(s, b, verb, &ev), 0);
	n = pev_format(&ev, line, sizeof line);
	assert_true(n > 0);
	strncat(out, line, 8192 - strlen(out) - 1);
	return 0;
}

static void test_recorded_bindings(void **state)
{
	static const char *const prefixes[] = { "CNI-DN-" };
	const struct natbind_config config = { prefixes, 1, 1024 };
	const struct nl_hdr *msgs[64];
	struct natbind_set set, empty;
	struct natbind_outcome outcome;
	struct nat_rule rule;
	char out[8192] = "";
	size_t len, n;
	uint8_t *buf;

	(void)state;
	buf = unit_read_file(FIXTURES "nft-rules.nlmsg", &len);
	n = split_messages(buf, len, msgs, 64);
	natbind_set_init(&set);
	natbind_set_init(&empty);
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(nftrule_decode(msgs[i], &rule), 0);
		assert_int_equal(natbind_add_rule(&set, &config, &rule, &outcome), 0);
	}
	natbind_set_finish(&set);
	assert_true(natbind_diff(&empty, &set, format_event, out) > 0);
	assert_string_equal(out,
		"add iptables/CNI-DN-04579c7bb67f4c3f6cca0 udp 0.0.0.0 5353 53 target_ip=10.4.0.7\n"
		"add iptables/CNI-DN-04579c7bb67f4c3f6cca0 udp 0.0.0.0 6000 - target_ip=10.4.0.7\n"
		"add iptables/CNI-DN-04579c7bb67f4c3f6cca0 udp 0.0.0.0 6001 - target_ip=10.4.0.7\n"
		"add iptables/CNI-DN-04579c7bb67f4c3f6cca0 udp 0.0.0.0 6002 - target_ip=10.4.0.7\n"
		"add iptables/CNI-DN-04579c7bb67f4c3f6cca0 udp 0.0.0.0 6003 - target_ip=10.4.0.7\n"
		"add iptables/CNI-DN-04579c7bb67f4c3f6cca0 udp :: 5353 53 target_ip=fd00:4::7\n"
		"add iptables/CNI-DN-04579c7bb67f4c3f6cca0 udp :: 6000 - target_ip=fd00:4::7\n"
		"add iptables/CNI-DN-04579c7bb67f4c3f6cca0 udp :: 6001 - target_ip=fd00:4::7\n"
		"add iptables/CNI-DN-04579c7bb67f4c3f6cca0 udp :: 6002 - target_ip=fd00:4::7\n"
		"add iptables/CNI-DN-04579c7bb67f4c3f6cca0 udp :: 6003 - target_ip=fd00:4::7\n"
		"add iptables/CNI-DN-2e2f8d5b91929ef9fc152 tcp 0.0.0.0 8443 443 target_ip=10.4.0.7\n"
		"add iptables/CNI-DN-2e2f8d5b91929ef9fc152 tcp 127.0.0.1 8081 80 target_ip=10.4.0.7\n"
		"add iptables/CNI-DN-2e2f8d5b91929ef9fc152 tcp :: 8443 443 target_ip=fd00:4::7\n"
		"add iptables/CNI-DN-2e2f8d5b91929ef9fc152 tcp ::1 8081 80 target_ip=fd00:4::7\n"
		"add iptables/CNI-DN-forms tcp 0.0.0.0 7001 71 target_ip=10.4.0.8\n"
		"add iptables/CNI-DN-forms tcp 0.0.0.0 7002 8000 target_ip=10.4.0.8\n"
		"add iptables/CNI-DN-forms tcp 0.0.0.0 7003 - target_ip=10.4.0.8\n"
		"add iptables/CNI-DN-native tcp 0.0.0.0 9100 100 target_ip=10.4.0.10\n"
		"add iptables/CNI-DN-native tcp 0.0.0.0 9101 100 target_ip=10.4.0.10\n"
		"add iptables/CNI-DN-native tcp 0.0.0.0 9102 100 target_ip=10.4.0.10\n"
		"add iptables/CNI-DN-native tcp 0.0.0.0 9103 103 target_ip=10.4.0.10\n"
		"add iptables/CNI-DN-native udp 0.0.0.0 9104 - target_ip=10.4.0.10\n"
		"add iptables/CNI-DN-native udp 0.0.0.0 9105 - target_ip=10.4.0.10\n"
		"add iptables/CNI-DN-native udp 0.0.0.0 9106 106 target_ip=10.4.0.10\n"
		"add iptables/CNI-DN-native6 tcp :: 9107 107 target_ip=fd00:4::10\n"
		"add iptables/cni_hostport/f00dcafe0123 tcp 0.0.0.0 9090 90 target_ip=10.4.0.9\n"
		"add iptables/cni_hostport/f00dcafe0123 tcp :: 9092 92 target_ip=fd00:4::9\n"
		"add iptables/cni_hostport/f00dcafe0123 tcp ::1 9093 93 target_ip=fd00:4::9\n"
		"add iptables/cni_hostport/f00dcafe0123 udp 127.0.0.1 9091 91 target_ip=10.4.0.9\n");
	natbind_set_free(&set);
	free(buf);
}

/* Cutting a recorded message anywhere must give -EBADMSG or a rule that
 * matches the whole message in every field a binding uses: never a rule
 * with part of its expressions. */
static void test_truncated_rules(void **state)
{
	const struct nl_hdr *msgs[64];
	struct nat_rule full, cut;
	uint8_t copy[2048];
	size_t len, n;
	uint8_t *buf;

	(void)state;
	buf = unit_read_file(FIXTURES "nft-rules.nlmsg", &len);
	n = split_messages(buf, len, msgs, 64);
	for (size_t i = 0; i < n; i++) {
		assert_true(msgs[i]->len <= sizeof copy);
		assert_int_equal(nftrule_decode(msgs[i], &full), 0);
		for (uint32_t l = NL_HDR_LEN; l < msgs[i]->len; l++) {
			int r;

			memcpy(copy, msgs[i], l);
			((struct nl_hdr *)copy)->len = l;
			r = nftrule_decode((const struct nl_hdr *)copy, &cut);
			if (r == 0) {
				assert_int_equal(cut.dnat, full.dnat);
				assert_int_equal(cut.dport_min, full.dport_min);
				assert_int_equal(cut.dport_max, full.dport_max);
				assert_int_equal(cut.to_port_min, full.to_port_min);
				assert_int_equal(cut.has_daddr, full.has_daddr);
			} else {
				assert_int_equal(r, -EBADMSG);
			}
		}
	}
	free(buf);
}

static void test_recorded_events(void **state)
{
	const struct nl_hdr *msgs[8];
	const char *table;
	struct nat_rule rule;
	size_t len, n;
	uint8_t *buf;
	int family;

	(void)state;
	buf = unit_read_file(FIXTURES "nft-events.nlmsg", &len);
	n = split_messages(buf, len, msgs, 8);
	assert_int_equal(n, 2);
	/* iptables -A: the new rule, then the generation that commits it. */
	assert_int_equal(msgs[0]->type, nft_msg_type(NFT_MSG_ID_NEWRULE));
	assert_int_equal(nftrule_msg_table(msgs[0], &family, &table), 0);
	assert_int_equal(family, NFT_PROTO_IPV4);
	assert_string_equal(table, "nat");
	assert_int_equal(nftrule_decode(msgs[0], &rule), 0);
	assert_int_equal(rule.dport_min, 5454);
	assert_true(rule.dnat);
	assert_int_equal(msgs[1]->type, nft_msg_type(NFT_MSG_ID_NEWGEN));
	free(buf);
}

static const char *const watched[] = { "nat", "cni_hostport" };

/* The recorded events of one iptables command, fed whole or message by
 * message, as the event socket may deliver them. */
static void test_watch_commit(void **state)
{
	static const char *const other[] = { "filter" };
	struct nftrule_watch w = { .tables = watched, .table_count = 2 };
	const struct nl_hdr *msgs[8];
	size_t len, first;
	uint8_t *buf;

	(void)state;
	buf = unit_read_file(FIXTURES "nft-events.nlmsg", &len);
	assert_int_equal(split_messages(buf, len, msgs, 8), 2);
	first = NL_ALIGN(msgs[0]->len);

	assert_int_equal(nftrule_watch_datagram(&w, buf, len), NFTRULE_WATCH_RESCAN);
	assert_true(w.dirty);

	/* The rule in one datagram, the commit in the next. */
	w.dirty = 0;
	assert_int_equal(nftrule_watch_datagram(&w, buf, first), NFTRULE_WATCH_WAIT);
	assert_true(w.dirty);
	assert_int_equal(nftrule_watch_datagram(&w, buf + first, len - first),
			 NFTRULE_WATCH_RESCAN);

	/* A commit with no watched change before it. */
	w.dirty = 0;
	assert_int_equal(nftrule_watch_datagram(&w, buf + first, len - first), NFTRULE_WATCH_WAIT);
	assert_false(w.dirty);

	/* A change to a table nobody watches. */
	w.tables = other;
	w.table_count = 1;
	assert_int_equal(nftrule_watch_datagram(&w, buf, len), NFTRULE_WATCH_WAIT);
	assert_false(w.dirty);
	free(buf);
}

/* A malformed or truncated event hides what changed: it calls for a
 * rescan at once, without waiting for a commit, even when no watched
 * table was named. */
static void test_watch_malformed(void **state)
{
	static const char *const other[] = { "filter" };
	struct nftrule_watch w = { .tables = other, .table_count = 1 };
	const struct nl_hdr *msgs[8];
	struct nl_attr *a;
	size_t len, first;
	uint8_t *buf, *copy;

	(void)state;
	buf = unit_read_file(FIXTURES "nft-events.nlmsg", &len);
	assert_int_equal(split_messages(buf, len, msgs, 8), 2);
	first = NL_ALIGN(msgs[0]->len);
	copy = malloc(len);
	assert_non_null(copy);

	/* The rule's first attribute (the table name) claims more bytes
	 * than the message holds. */
	memcpy(copy, buf, len);
	a = (struct nl_attr *)(copy + NL_HDR_LEN + NL_ALIGN(sizeof(struct nft_genmsg)));
	a->len = (uint16_t)(msgs[0]->len + 4);
	assert_int_equal(nftrule_watch_datagram(&w, copy, first), NFTRULE_WATCH_MALFORMED);
	assert_true(w.dirty);
	assert_int_equal(w.bad_type, nft_msg_type(NFT_MSG_ID_NEWRULE));
	assert_int_equal(w.bad_len, msgs[0]->len);
	/* Followed by its commit, it is still malformed. */
	w.dirty = 0;
	assert_int_equal(nftrule_watch_datagram(&w, copy, len), NFTRULE_WATCH_MALFORMED);

	/* A datagram cut inside its last message. */
	w.dirty = 0;
	assert_int_equal(nftrule_watch_datagram(&w, buf, len - 4), NFTRULE_WATCH_MALFORMED);
	assert_true(w.dirty);
	assert_int_equal(w.bad_type, 0);
	assert_int_equal(w.bad_len, len - 4);
	assert_int_equal(w.bad_err, -EBADMSG);

	/* A message header that claims more than the datagram holds. */
	w.dirty = 0;
	memcpy(copy, buf, len);
	((struct nl_hdr *)copy)->len = (uint32_t)len + 16;
	assert_int_equal(nftrule_watch_datagram(&w, copy, len), NFTRULE_WATCH_MALFORMED);
	assert_true(w.dirty);
	free(copy);
	free(buf);
}

/* Builds a rule message of family nfproto in chain "CNI-DN-x" with the
 * expressions that add_exprs puts inside NFTA_RULE_EXPRESSIONS. */
static int build_rule(uint8_t *buf, size_t size, int nfproto,
		      void (*add_exprs)(struct nl_msg *m, const void *arg), const void *arg)
{
	struct nl_msg m;
	struct nft_genmsg *g;
	long list;

	nl_msg_init(&m, buf, size, nft_msg_type(NFT_MSG_ID_NEWRULE), NL_F_MULTI, 1);
	g = nl_msg_put_extra(&m, sizeof *g);
	assert_non_null(g);
	g->family = (uint8_t)nfproto;
	nl_msg_put_strz(&m, NFTA_RULE_TABLE, "nat");
	nl_msg_put_strz(&m, NFTA_RULE_CHAIN, "CNI-DN-x");
	list = nl_msg_nest_start(&m, NFTA_RULE_EXPRESSIONS);
	add_exprs(&m, arg);
	nl_msg_nest_end(&m, list);
	return nl_msg_end(&m);
}

static void put_xt(struct nl_msg *m, const char *kind, const char *name, uint32_t rev,
		   const void *info, size_t len)
{
	long elem = nl_msg_nest_start(m, NFTA_LIST_ELEM);
	long data;

	nl_msg_put_strz(m, NFTA_EXPR_NAME, kind);
	data = nl_msg_nest_start(m, NFTA_EXPR_DATA);
	nl_msg_put_strz(m, NFTA_MATCH_NAME, name);
	nl_msg_put_be32(m, NFTA_MATCH_REV, rev);
	nl_msg_put_attr(m, NFTA_MATCH_INFO, info, len);
	nl_msg_nest_end(m, data);
	nl_msg_nest_end(m, elem);
}

struct xt_case {
	struct xt_udp udp;
	struct xt_tcp tcp;
	int use_tcp;
	uint32_t rev;
	union {
		struct nf_nat_ipv4_multi_range_compat r0;
		struct nf_nat_range r1;
	} target;
	size_t target_len;
};

static void add_xt_case(struct nl_msg *m, const void *arg)
{
	const struct xt_case *c = arg;

	if (c->use_tcp)
		put_xt(m, "match", "tcp", 0, &c->tcp, sizeof c->tcp);
	else
		put_xt(m, "match", "udp", 0, &c->udp, sizeof c->udp);
	put_xt(m, "target", "DNAT", c->rev, &c->target, c->target_len);
}

static void test_xt_udp_dnat_rev0(void **state)
{
	struct xt_case c;
	struct nat_rule rule;
	uint8_t buf[1024];
	int len;

	(void)state;
	memset(&c, 0, sizeof c);
	c.udp.spts[1] = 0xffff;
	c.udp.dpts[0] = 5000;      /* host byte order, as xt_udp has it */
	c.udp.dpts[1] = 5002;
	c.rev = 0;
	c.target.r0.rangesize = 1;
	c.target.r0.range[0].flags = NF_NAT_RANGE_MAP_IPS | NF_NAT_RANGE_PROTO_SPECIFIED;
	c.target.r0.range[0].min_ip = htonl(0x0a000005);
	c.target.r0.range[0].max_ip = htonl(0x0a000005);
	c.target.r0.range[0].min.udp.port = htons(53);
	c.target.r0.range[0].max.udp.port = htons(53);
	c.target_len = sizeof c.target.r0;
	len = build_rule(buf, sizeof buf, NFT_PROTO_IPV4, add_xt_case, &c);
	assert_true(len > 0);
	assert_int_equal(nftrule_decode((const struct nl_hdr *)buf, &rule), 0);
	assert_true(rule.dnat);
	assert_true(rule.has_proto);
	assert_int_equal(rule.proto, PEV_UDP);
	assert_int_equal(rule.dport_min, 5000);
	assert_int_equal(rule.dport_max, 5002);
	assert_addr(&rule.to_addr, "10.0.0.5");
	assert_int_equal(rule.to_port_min, 53);
	assert_false(rule.other_match);

	/* A rangesize other than 1 is not a valid revision 0 target. */
	c.target.r0.rangesize = 2;
	len = build_rule(buf, sizeof buf, NFT_PROTO_IPV4, add_xt_case, &c);
	assert_int_equal(nftrule_decode((const struct nl_hdr *)buf, &rule), -EBADMSG);
	/* A short target info is malformed. */
	c.target.r0.rangesize = 1;
	c.target_len = 12;
	len = build_rule(buf, sizeof buf, NFT_PROTO_IPV4, add_xt_case, &c);
	assert_int_equal(nftrule_decode((const struct nl_hdr *)buf, &rule), -EBADMSG);
}

static void test_xt_tcp_dnat_rev1_ip6(void **state)
{
	struct xt_case c;
	struct nat_rule rule;
	uint8_t buf[1024];
	int len;

	(void)state;
	memset(&c, 0, sizeof c);
	c.use_tcp = 1;
	c.tcp.spts[1] = 0xffff;
	c.tcp.dpts[0] = c.tcp.dpts[1] = 8080;
	c.rev = 1;
	c.target.r1.flags = NF_NAT_RANGE_MAP_IPS | NF_NAT_RANGE_PROTO_SPECIFIED;
	inet_pton(AF_INET6, "fd00::5", &c.target.r1.min_addr);
	c.target.r1.min_proto.tcp.port = htons(80);
	c.target.r1.max_proto.tcp.port = htons(80);
	c.target_len = sizeof c.target.r1;
	len = build_rule(buf, sizeof buf, NFT_PROTO_IPV6, add_xt_case, &c);
	assert_true(len > 0);
	assert_int_equal(nftrule_decode((const struct nl_hdr *)buf, &rule), 0);
	assert_int_equal(rule.family, AF_INET6);
	assert_true(rule.dnat);
	assert_int_equal(rule.proto, PEV_TCP);
	assert_int_equal(rule.dport_min, 8080);
	assert_addr(&rule.to_addr, "fd00::5");
	assert_int_equal(rule.to_port_min, 80);

	/* "! --dport 8080" cannot become a binding. */
	c.tcp.invflags = XT_TCP_INV_DSTPT;
	len = build_rule(buf, sizeof buf, NFT_PROTO_IPV6, add_xt_case, &c);
	assert_int_equal(nftrule_decode((const struct nl_hdr *)buf, &rule), 0);
	assert_non_null(rule.unsupported);
}

struct cmp_case {
	uint32_t sreg;
	uint8_t data[4];
	size_t data_len;
};

static void add_cmp_case(struct nl_msg *m, const void *arg)
{
	const struct cmp_case *c = arg;
	long elem = nl_msg_nest_start(m, NFTA_LIST_ELEM), data, value;

	nl_msg_put_strz(m, NFTA_EXPR_NAME, "meta");
	data = nl_msg_nest_start(m, NFTA_EXPR_DATA);
	nl_msg_put_be32(m, NFTA_META_DREG, NFT_REG_1);
	nl_msg_put_be32(m, NFTA_META_KEY, NFT_META_L4PROTO);
	nl_msg_nest_end(m, data);
	nl_msg_nest_end(m, elem);

	elem = nl_msg_nest_start(m, NFTA_LIST_ELEM);
	nl_msg_put_strz(m, NFTA_EXPR_NAME, "cmp");
	data = nl_msg_nest_start(m, NFTA_EXPR_DATA);
	nl_msg_put_be32(m, NFTA_CMP_SREG, c->sreg);
	nl_msg_put_be32(m, NFTA_CMP_OP, NFT_CMP_EQ);
	value = nl_msg_nest_start(m, NFTA_CMP_DATA);
	nl_msg_put_attr(m, NFTA_DATA_VALUE, c->data, c->data_len);
	nl_msg_nest_end(m, value);
	nl_msg_nest_end(m, data);
	nl_msg_nest_end(m, elem);
}

static void test_malformed_expressions(void **state)
{
	struct cmp_case c = { NFT_REG_1, { 6 }, 1 };
	struct nat_rule rule;
	uint8_t buf[512];

	(void)state;
	assert_true(build_rule(buf, sizeof buf, NFT_PROTO_IPV4, add_cmp_case, &c) > 0);
	assert_int_equal(nftrule_decode((const struct nl_hdr *)buf, &rule), 0);
	assert_int_equal(rule.proto, PEV_TCP);

	/* A protocol compared as 4 bytes does not fit the 1-byte load. */
	c.data_len = 4;
	assert_true(build_rule(buf, sizeof buf, NFT_PROTO_IPV4, add_cmp_case, &c) > 0);
	assert_int_equal(nftrule_decode((const struct nl_hdr *)buf, &rule), -EBADMSG);

	/* Register 5 does not exist (enum nft_registers). */
	c.data_len = 1;
	c.sreg = 5;
	assert_true(build_rule(buf, sizeof buf, NFT_PROTO_IPV4, add_cmp_case, &c) > 0);
	assert_int_equal(nftrule_decode((const struct nl_hdr *)buf, &rule), -EBADMSG);

	/* Families other than ip and ip6 are not decoded. */
	c.sreg = NFT_REG_1;
	assert_true(build_rule(buf, sizeof buf, NFPROTO_INET, add_cmp_case, &c) > 0);
	assert_int_equal(nftrule_decode((const struct nl_hdr *)buf, &rule), -EAFNOSUPPORT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_recorded_rules),
		cmocka_unit_test(test_recorded_bindings),
		cmocka_unit_test(test_truncated_rules),
		cmocka_unit_test(test_recorded_events),
		cmocka_unit_test(test_watch_commit),
		cmocka_unit_test(test_watch_malformed),
		cmocka_unit_test(test_xt_udp_dnat_rev0),
		cmocka_unit_test(test_xt_tcp_dnat_rev1_ip6),
		cmocka_unit_test(test_malformed_expressions),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
