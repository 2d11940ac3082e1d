/* see lib/nftrule.h */
#include "nftrule.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>

/* Attribute numbers from uapi linux/netfilter/nf_tables.h and
 * nf_tables_compat.h (Linux 6.1); the unit test compares them with the
 * kernel headers. */
enum {
	RULE_TABLE = 1, RULE_CHAIN = 2, RULE_EXPRESSIONS = 4, RULE_USERDATA = 7,
	RULE_MAX = 11,
};
enum { LIST_ELEM = 1 };
enum { EXPR_NAME = 1, EXPR_DATA = 2, EXPR_MAX = 2 };
enum { DATA_VALUE = 1, DATA_VERDICT = 2, DATA_MAX = 2 };
enum { IMM_DREG = 1, IMM_DATA = 2, IMM_MAX = 2 };
enum { CMP_SREG = 1, CMP_OP = 2, CMP_DATA = 3, CMP_MAX = 3 };
enum { RANGE_SREG = 1, RANGE_OP = 2, RANGE_FROM = 3, RANGE_TO = 4, RANGE_MAX = 4 };
enum { PAYLOAD_DREG = 1, PAYLOAD_BASE = 2, PAYLOAD_OFFSET = 3, PAYLOAD_LEN = 4,
       PAYLOAD_SREG = 5, PAYLOAD_MAX = 8 };
enum { META_DREG = 1, META_KEY = 2, META_SREG = 3, META_MAX = 3 };
enum { BITWISE_SREG = 1, BITWISE_DREG = 2, BITWISE_LEN = 3, BITWISE_MASK = 4,
       BITWISE_XOR = 5, BITWISE_OP = 6, BITWISE_MAX = 7 };
enum { NAT_TYPE = 1, NAT_FAMILY = 2, NAT_ADDR_MIN = 3, NAT_ADDR_MAX = 4,
       NAT_PROTO_MIN = 5, NAT_PROTO_MAX = 6, NAT_FLAGS = 7, NAT_MAX = 7 };
enum { LOOKUP_SREG = 2, LOOKUP_MAX = 6 };
/* NFTA_MATCH_* and NFTA_TARGET_* share their numbering. */
enum { XT_NAME = 1, XT_REV = 2, XT_INFO = 3, XT_MAX = 3 };

enum { CMP_EQ, CMP_NEQ, CMP_LT, CMP_LTE, CMP_GT, CMP_GTE };
enum { BASE_LL, BASE_NETWORK, BASE_TRANSPORT };
enum { META_KEY_PROTOCOL = 1, META_KEY_NFPROTO = 15, META_KEY_L4PROTO = 16 };
enum { NAT_DNAT = 1 };
enum { BITWISE_MASK_XOR = 0 };

/* NF_NAT_RANGE_* flags; uapi linux/netfilter/nf_nat.h. */
#define RANGE_MAP_IPS        0x01
#define RANGE_PROTO_SPECIFIED 0x02
#define RANGE_PROTO_OFFSET   0x20

/* XT_TCP_INV_DSTPT and XT_UDP_INV_DSTPT; uapi linux/netfilter/xt_tcpudp.h. */
#define XT_INV_DSTPT 0x02

/* NFTNL_UDATA_RULE_COMMENT, the first value of enum nftnl_udata_rule_types
 * in libnftnl's include/libnftnl/udata.h: the TLV type of the rule comment
 * that nft stores in NFTA_RULE_USERDATA. */
#define UDATA_RULE_COMMENT 0

#define REG_VERDICT 0
#define REG32_COUNT 16
#define REG_BYTES (REG32_COUNT * 4)

/* Origin of a register value, recorded at the 4-byte slot where a load starts. */
enum reg_kind { REG_UNKNOWN, REG_PAYLOAD, REG_META, REG_IMMEDIATE };

struct reg_origin {
	enum reg_kind kind;
	uint32_t base, offset, len;   /* REG_PAYLOAD */
	uint32_t key;                 /* REG_META */
	int masked;                   /* a bitwise mask was applied */
	uint8_t mask[16];
};

struct decoder {
	struct nat_rule *rule;
	int nfproto;
	struct reg_origin regs[REG32_COUNT];
	uint8_t data[REG_BYTES];      /* values stored by immediate */
	int have_verdict;
};

/* Turns an nf_tables register number into a 4-byte slot index: NFT_REG_1..4
 * are 16-byte registers over slots 0-15, NFT_REG32_00..15 are numbers
 * 8-23 (enum nft_registers).  Returns -1 for the verdict register or an
 * invalid number. */
static int reg_slot(uint32_t reg)
{
	if (reg >= 1 && reg <= 4)
		return (int)(reg - 1) * 4;
	if (reg >= 8 && reg <= 23)
		return (int)(reg - 8);
	return -1;
}

static int get_reg(const struct nl_attr *a, int *slot)
{
	uint32_t reg;

	if (nl_attr_get_be32(a, &reg) < 0)
		return -EBADMSG;
	*slot = reg_slot(reg);
	return *slot < 0 ? -EBADMSG : 0;
}

/* Reads the NFTA_DATA_VALUE inside a nested data attribute. */
static int get_value(const struct nl_attr *a, const uint8_t **value, size_t *len)
{
	const struct nl_attr *tb[DATA_MAX + 1];

	if (!a || nl_attr_parse_nested(a, tb, DATA_MAX) < 0 || !tb[DATA_VALUE])
		return -EBADMSG;
	*value = nl_attr_payload(tb[DATA_VALUE]);
	*len = nl_attr_payload_len(tb[DATA_VALUE]);
	if (*len == 0 || *len > REG_BYTES)
		return -EBADMSG;
	return 0;
}

static void forget_registers(struct decoder *d)
{
	memset(d->regs, 0, sizeof d->regs);
}

static void copy_name(char *dst, size_t size, const char *src)
{
	size_t n = strnlen(src, size - 1);

	memcpy(dst, src, n);
	dst[n] = 0;
}

static int decode_payload(struct decoder *d, const struct nl_attr *data)
{
	const struct nl_attr *tb[PAYLOAD_MAX + 1];
	struct reg_origin o = { .kind = REG_PAYLOAD };
	int slot;

	if (nl_attr_parse_nested(data, tb, PAYLOAD_MAX) < 0)
		return -EBADMSG;
	if (tb[PAYLOAD_SREG] || !tb[PAYLOAD_DREG]) {
		/* A payload write (mangling) stores nothing in a register. */
		return 0;
	}
	if (get_reg(tb[PAYLOAD_DREG], &slot) < 0 ||
	    nl_attr_get_be32(tb[PAYLOAD_BASE], &o.base) < 0 ||
	    nl_attr_get_be32(tb[PAYLOAD_OFFSET], &o.offset) < 0 ||
	    nl_attr_get_be32(tb[PAYLOAD_LEN], &o.len) < 0)
		return -EBADMSG;
	d->regs[slot] = o;
	return 0;
}

static int decode_meta(struct decoder *d, const struct nl_attr *data)
{
	const struct nl_attr *tb[META_MAX + 1];
	struct reg_origin o = { .kind = REG_META };
	int slot;

	if (nl_attr_parse_nested(data, tb, META_MAX) < 0)
		return -EBADMSG;
	if (!tb[META_DREG])
		return 0;   /* meta set: writes packet metadata, not a register */
	if (get_reg(tb[META_DREG], &slot) < 0 || nl_attr_get_be32(tb[META_KEY], &o.key) < 0)
		return -EBADMSG;
	d->regs[slot] = o;
	return 0;
}

static int decode_bitwise(struct decoder *d, const struct nl_attr *data)
{
	const struct nl_attr *tb[BITWISE_MAX + 1];
	const uint8_t *mask, *xor;
	size_t mask_len, xor_len;
	uint32_t op = BITWISE_MASK_XOR;
	int sslot, dslot;

	if (nl_attr_parse_nested(data, tb, BITWISE_MAX) < 0 ||
	    get_reg(tb[BITWISE_SREG], &sslot) < 0 || get_reg(tb[BITWISE_DREG], &dslot) < 0)
		return -EBADMSG;
	if (tb[BITWISE_OP] && nl_attr_get_be32(tb[BITWISE_OP], &op) < 0)
		return -EBADMSG;
	if (op != BITWISE_MASK_XOR || !tb[BITWISE_MASK] || !tb[BITWISE_XOR]) {
		d->regs[dslot].kind = REG_UNKNOWN;   /* a shift: not an address mask */
		return 0;
	}
	if (get_value(tb[BITWISE_MASK], &mask, &mask_len) < 0 ||
	    get_value(tb[BITWISE_XOR], &xor, &xor_len) < 0)
		return -EBADMSG;

	struct reg_origin o = d->regs[sslot];
	int xor_zero = 1;

	for (size_t i = 0; i < xor_len; i++)
		if (xor[i])
			xor_zero = 0;
	if (o.kind != REG_PAYLOAD || !xor_zero || mask_len > sizeof o.mask || mask_len != o.len) {
		d->regs[dslot].kind = REG_UNKNOWN;
		return 0;
	}
	o.masked = 1;
	memcpy(o.mask, mask, mask_len);
	d->regs[dslot] = o;
	return 0;
}

static int decode_immediate(struct decoder *d, const struct nl_attr *data)
{
	const struct nl_attr *tb[IMM_MAX + 1];
	const uint8_t *value;
	size_t len;
	uint32_t reg;
	int slot;

	if (nl_attr_parse_nested(data, tb, IMM_MAX) < 0 || nl_attr_get_be32(tb[IMM_DREG], &reg) < 0)
		return -EBADMSG;
	if (reg == REG_VERDICT) {
		/* accept, drop, jump, goto, return: the rule is not DNAT. */
		d->have_verdict = 1;
		return 0;
	}
	slot = reg_slot(reg);
	if (slot < 0 || get_value(tb[IMM_DATA], &value, &len) < 0 ||
	    (size_t)slot * 4 + len > REG_BYTES)
		return -EBADMSG;
	memcpy(d->data + slot * 4, value, len);
	d->regs[slot] = (struct reg_origin){ .kind = REG_IMMEDIATE, .len = (uint32_t)len };
	return 0;
}

/* Number of leading one bits of a mask, or -1 when it is not a prefix. */
static int mask_prefix(const uint8_t *mask, size_t len)
{
	int bits = 0;
	size_t i = 0;

	while (i < len && mask[i] == 0xff) {
		bits += 8;
		i++;
	}
	if (i < len) {
		uint8_t m = mask[i];

		while (m & 0x80) {
			bits++;
			m = (uint8_t)(m << 1);
		}
		if (m)
			return -1;
		for (i++; i < len; i++)
			if (mask[i])
				return -1;
	}
	return bits;
}

/* Field a payload load reads, from the network header of the rule's
 * family: RFC 791 (IPv4 protocol at 9, destination at 16, source at 12)
 * and RFC 8200 (IPv6 next header at 6, source at 8, destination at 24),
 * and the destination port at offset 2 of both TCP and UDP headers. */
enum field { F_OTHER, F_PROTO, F_DADDR, F_DPORT };

static enum field payload_field(const struct decoder *d, const struct reg_origin *o)
{
	if (o->kind == REG_META)
		return o->key == META_KEY_L4PROTO ? F_PROTO : F_OTHER;
	if (o->kind != REG_PAYLOAD)
		return F_OTHER;
	if (o->base == BASE_TRANSPORT && o->offset == 2 && o->len == 2 && !o->masked)
		return F_DPORT;
	if (o->base != BASE_NETWORK)
		return F_OTHER;
	/* iptables-nft loads only the whole bytes of a prefix ("-d 10.0.0.0/8"
	 * is a 1-byte load at offset 16), so shorter loads are prefixes too. */
	if (d->nfproto == NFT_PROTO_IPV4) {
		if (o->offset == 9 && o->len == 1 && !o->masked)
			return F_PROTO;
		if (o->offset == 16 && o->len >= 1 && o->len <= 4)
			return F_DADDR;
	} else {
		if (o->offset == 6 && o->len == 1 && !o->masked)
			return F_PROTO;
		if (o->offset == 24 && o->len >= 1 && o->len <= 16)
			return F_DADDR;
	}
	return F_OTHER;
}

static void set_proto(struct nat_rule *r, uint8_t number)
{
	/* IANA protocol numbers: 6 TCP, 17 UDP, 132 SCTP. */
	switch (number) {
	case 6: r->proto = PEV_TCP; break;
	case 17: r->proto = PEV_UDP; break;
	case 132: r->proto = PEV_SCTP; break;
	default: r->unsupported = "protocol other than tcp, udp or sctp"; return;
	}
	r->has_proto = 1;
}

static void set_daddr(struct decoder *d, const struct reg_origin *o, const uint8_t *value,
		      size_t len)
{
	struct nat_rule *r = d->rule;
	int prefix = o->masked ? mask_prefix(o->mask, o->len) : (int)o->len * 8;

	if (len != o->len || prefix < 0) {
		r->other_match = 1;
		return;
	}
	r->has_daddr = 1;
	r->daddr.family = d->nfproto == NFT_PROTO_IPV4 ? AF_INET : AF_INET6;
	memset(r->daddr.bytes, 0, sizeof r->daddr.bytes);
	memcpy(r->daddr.bytes, value, len);
	r->daddr_prefix = (unsigned)prefix;
}

static uint16_t be16_at(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static int decode_cmp(struct decoder *d, const struct nl_attr *data)
{
	const struct nl_attr *tb[CMP_MAX + 1];
	struct nat_rule *r = d->rule;
	const struct reg_origin *o;
	const uint8_t *value;
	size_t len;
	uint32_t op;
	int slot;

	if (nl_attr_parse_nested(data, tb, CMP_MAX) < 0 || get_reg(tb[CMP_SREG], &slot) < 0 ||
	    nl_attr_get_be32(tb[CMP_OP], &op) < 0 || get_value(tb[CMP_DATA], &value, &len) < 0)
		return -EBADMSG;
	o = &d->regs[slot];

	switch (payload_field(d, o)) {
	case F_PROTO:
		if (len != 1)
			return -EBADMSG;
		if (op != CMP_EQ) {
			r->unsupported = "negated protocol match";
			return 0;
		}
		set_proto(r, value[0]);
		return 0;
	case F_DADDR:
		if (op != CMP_EQ) {
			r->other_match = 1;   /* "! -d": still one port on any address */
			return 0;
		}
		set_daddr(d, o, value, len);
		return 0;
	case F_DPORT: {
		uint16_t port;

		if (len != 2)
			return -EBADMSG;
		port = be16_at(value);
		switch (op) {
		case CMP_EQ:
			r->dport_min = r->dport_max = port;
			break;
		case CMP_GTE:
			r->dport_min = port;
			break;
		case CMP_GT:
			r->dport_min = (uint16_t)(port + 1);
			break;
		case CMP_LTE:
			r->dport_max = port;
			break;
		case CMP_LT:
			r->dport_max = (uint16_t)(port - 1);
			break;
		default:
			r->unsupported = "negated destination port match";
			break;
		}
		return 0;
	}
	case F_OTHER:
		break;
	}
	/* meta nfproto in an inet table, or any other match. */
	if (!(o->kind == REG_META && o->key == META_KEY_NFPROTO))
		r->other_match = 1;
	return 0;
}

static int decode_range(struct decoder *d, const struct nl_attr *data)
{
	const struct nl_attr *tb[RANGE_MAX + 1];
	struct nat_rule *r = d->rule;
	const uint8_t *from, *to;
	size_t from_len, to_len;
	uint32_t op;
	int slot;

	if (nl_attr_parse_nested(data, tb, RANGE_MAX) < 0 || get_reg(tb[RANGE_SREG], &slot) < 0 ||
	    nl_attr_get_be32(tb[RANGE_OP], &op) < 0 ||
	    get_value(tb[RANGE_FROM], &from, &from_len) < 0 ||
	    get_value(tb[RANGE_TO], &to, &to_len) < 0)
		return -EBADMSG;
	if (payload_field(d, &d->regs[slot]) != F_DPORT) {
		r->other_match = 1;
		return 0;
	}
	if (from_len != 2 || to_len != 2)
		return -EBADMSG;
	if (op != 0) {
		r->unsupported = "negated destination port range";
		return 0;
	}
	r->dport_min = be16_at(from);
	r->dport_max = be16_at(to);
	return 0;
}

static int decode_lookup(struct decoder *d, const struct nl_attr *data)
{
	const struct nl_attr *tb[LOOKUP_MAX + 1];
	int slot;

	if (nl_attr_parse_nested(data, tb, LOOKUP_MAX) < 0 || get_reg(tb[LOOKUP_SREG], &slot) < 0)
		return -EBADMSG;
	if (payload_field(d, &d->regs[slot]) == F_DPORT)
		d->rule->unsupported = "destination ports from a set";
	else
		d->rule->other_match = 1;
	return 0;
}

static void set_to_addr(struct decoder *d, const uint8_t *bytes)
{
	struct nat_rule *r = d->rule;

	memset(&r->to_addr, 0, sizeof r->to_addr);
	r->to_addr.family = d->nfproto == NFT_PROTO_IPV4 ? AF_INET : AF_INET6;
	memcpy(r->to_addr.bytes, bytes, r->to_addr.family == AF_INET ? 4 : 16);
}

static int decode_nat(struct decoder *d, const struct nl_attr *data)
{
	const struct nl_attr *tb[NAT_MAX + 1];
	struct nat_rule *r = d->rule;
	uint32_t type, flags = 0;
	int slot;

	if (nl_attr_parse_nested(data, tb, NAT_MAX) < 0 || nl_attr_get_be32(tb[NAT_TYPE], &type) < 0)
		return -EBADMSG;
	if (tb[NAT_FLAGS] && nl_attr_get_be32(tb[NAT_FLAGS], &flags) < 0)
		return -EBADMSG;
	if (type != NAT_DNAT)
		return 0;
	r->dnat = 1;

	if (tb[NAT_ADDR_MIN]) {
		size_t need = d->nfproto == NFT_PROTO_IPV4 ? 4 : 16;

		if (get_reg(tb[NAT_ADDR_MIN], &slot) < 0)
			return -EBADMSG;
		if (d->regs[slot].kind != REG_IMMEDIATE || d->regs[slot].len < need) {
			r->unsupported = "DNAT address not a constant";
			return 0;
		}
		set_to_addr(d, d->data + slot * 4);
	}
	if (tb[NAT_PROTO_MIN]) {
		if (get_reg(tb[NAT_PROTO_MIN], &slot) < 0)
			return -EBADMSG;
		if (d->regs[slot].kind != REG_IMMEDIATE || d->regs[slot].len < 2) {
			r->unsupported = "DNAT port not a constant";
			return 0;
		}
		r->to_port_min = r->to_port_max = be16_at(d->data + slot * 4);
		if (tb[NAT_PROTO_MAX]) {
			if (get_reg(tb[NAT_PROTO_MAX], &slot) < 0)
				return -EBADMSG;
			if (d->regs[slot].kind == REG_IMMEDIATE && d->regs[slot].len >= 2)
				r->to_port_max = be16_at(d->data + slot * 4);
		}
	}
	return 0;
}

static uint32_t host32_at(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof v);
	return v;
}

static uint16_t host16_at(const uint8_t *p)
{
	uint16_t v;

	memcpy(&v, p, sizeof v);
	return v;
}

/* The xtables "tcp" and "udp" matches: struct xt_tcp and struct xt_udp
 * both start with spts[2] and dpts[2] in host byte order, and keep their
 * inversion flags at offset 11 (xt_tcp) or 8 (xt_udp). */
static int decode_xt_match(struct decoder *d, const char *name, const uint8_t *info, size_t len)
{
	struct nat_rule *r = d->rule;
	size_t inv_at;
	enum pev_proto proto;

	if (strcmp(name, "tcp") == 0) {
		inv_at = 11;
		proto = PEV_TCP;
	} else if (strcmp(name, "udp") == 0) {
		inv_at = 8;
		proto = PEV_UDP;
	} else if (strcmp(name, "comment") == 0) {
		/* struct xt_comment_info: char comment[256]. */
		size_t n = strnlen((const char *)info, len);

		if (n >= sizeof r->comment)
			n = sizeof r->comment - 1;
		memcpy(r->comment, info, n);
		r->comment[n] = 0;
		return 0;
	} else {
		if (strcmp(name, "multiport") == 0)
			r->unsupported = "multiport match";
		else
			r->other_match = 1;
		return 0;
	}
	if (len < inv_at + 1)
		return -EBADMSG;
	r->has_proto = 1;
	r->proto = proto;
	uint16_t lo = host16_at(info + 4), hi = host16_at(info + 6);

	if (info[inv_at] & XT_INV_DSTPT) {
		r->unsupported = "negated destination port match";
		return 0;
	}
	if (lo != 0 || hi != 0xffff) {
		r->dport_min = lo;
		r->dport_max = hi;
	}
	/* Source ports, and for tcp an option or flags test (option,
	 * flg_mask at offsets 8 and 9), are matches a binding cannot express. */
	if (host16_at(info) != 0 || host16_at(info + 2) != 0xffff)
		r->other_match = 1;
	if (proto == PEV_TCP && (info[8] || info[9]))
		r->other_match = 1;
	return 0;
}

/* The xtables DNAT target.  Revision 0 carries struct
 * nf_nat_ipv4_multi_range_compat (rangesize, flags, min_ip, max_ip, min,
 * max: 20 bytes); revision 1 struct nf_nat_range (flags, min_addr[16],
 * max_addr[16], min_proto, max_proto: 40 bytes); revision 2 struct
 * nf_nat_range2 (plus base_proto: 42 bytes).  Ports are big endian. */
static int decode_xt_target(struct decoder *d, const char *name, uint32_t rev,
			    const uint8_t *info, size_t len)
{
	struct nat_rule *r = d->rule;
	uint32_t flags;
	const uint8_t *addr, *ports;

	if (strcmp(name, "DNAT") != 0)
		return 0;
	switch (rev) {
	case 0:
		if (len < 20 || host32_at(info) != 1)
			return -EBADMSG;
		if (d->nfproto != NFT_PROTO_IPV4)
			return -EBADMSG;
		flags = host32_at(info + 4);
		addr = info + 8;
		ports = info + 16;
		break;
	case 1:
	case 2:
		if (len < (rev == 1 ? 40u : 42u))
			return -EBADMSG;
		flags = host32_at(info);
		addr = info + 4;
		ports = info + 36;
		break;
	default:
		r->dnat = 1;
		r->unsupported = "DNAT target revision not known";
		return 0;
	}
	r->dnat = 1;
	if (flags & RANGE_MAP_IPS)
		set_to_addr(d, addr);
	if (flags & RANGE_PROTO_SPECIFIED) {
		r->to_port_min = be16_at(ports);
		r->to_port_max = be16_at(ports + 2);
		if (rev == 2 && (flags & RANGE_PROTO_OFFSET)) {
			r->to_port_offset = 1;
			r->to_port_base = be16_at(ports + 4);
		}
	}
	return 0;
}

static int decode_xt(struct decoder *d, const struct nl_attr *data, int is_target)
{
	const struct nl_attr *tb[XT_MAX + 1];
	const char *name;
	uint32_t rev;

	if (nl_attr_parse_nested(data, tb, XT_MAX) < 0 || nl_attr_get_str(tb[XT_NAME], &name) < 0 ||
	    nl_attr_get_be32(tb[XT_REV], &rev) < 0 || !tb[XT_INFO])
		return -EBADMSG;
	if (is_target)
		return decode_xt_target(d, name, rev, nl_attr_payload(tb[XT_INFO]),
					nl_attr_payload_len(tb[XT_INFO]));
	return decode_xt_match(d, name, nl_attr_payload(tb[XT_INFO]),
			       nl_attr_payload_len(tb[XT_INFO]));
}

/* Expressions that neither load a register nor decide the verdict. */
static int is_passive(const char *name)
{
	static const char *const names[] = { "counter", "log", "limit", "quota", "notrack",
					     "connlimit", "last" };

	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		if (strcmp(name, names[i]) == 0)
			return 1;
	return 0;
}

static int decode_expr(struct decoder *d, const struct nl_attr *elem)
{
	const struct nl_attr *tb[EXPR_MAX + 1];
	const char *name;
	const struct nl_attr *data;

	if (nl_attr_type(elem) != LIST_ELEM || nl_attr_parse_nested(elem, tb, EXPR_MAX) < 0 ||
	    nl_attr_get_str(tb[EXPR_NAME], &name) < 0)
		return -EBADMSG;
	data = tb[EXPR_DATA];
	if (is_passive(name))
		return 0;
	if (!data) {
		forget_registers(d);
		d->rule->other_match = 1;
		return 0;
	}
	if (strcmp(name, "payload") == 0)
		return decode_payload(d, data);
	if (strcmp(name, "meta") == 0)
		return decode_meta(d, data);
	if (strcmp(name, "bitwise") == 0)
		return decode_bitwise(d, data);
	if (strcmp(name, "immediate") == 0)
		return decode_immediate(d, data);
	if (strcmp(name, "cmp") == 0)
		return decode_cmp(d, data);
	if (strcmp(name, "range") == 0)
		return decode_range(d, data);
	if (strcmp(name, "lookup") == 0)
		return decode_lookup(d, data);
	if (strcmp(name, "nat") == 0)
		return decode_nat(d, data);
	if (strcmp(name, "match") == 0)
		return decode_xt(d, data, 0);
	if (strcmp(name, "target") == 0)
		return decode_xt(d, data, 1);
	/* fib, ct, rt, socket...: they may load any register, and what
	 * they load is compared later as "some other match". */
	forget_registers(d);
	return 0;
}

/* Reads the comment TLV from nftnl rule user data: a run of
 * { u8 type; u8 len; u8 value[len]; } records. */
static void decode_userdata(struct nat_rule *r, const uint8_t *p, size_t len)
{
	while (len >= 2) {
		uint8_t type = p[0], vlen = p[1];

		if ((size_t)vlen + 2 > len)
			return;
		if (type == UDATA_RULE_COMMENT && vlen > 0) {
			size_t n = strnlen((const char *)p + 2, vlen);

			if (n >= sizeof r->comment)
				n = sizeof r->comment - 1;
			memcpy(r->comment, p + 2, n);
			r->comment[n] = 0;
			return;
		}
		p += 2 + vlen;
		len -= 2 + (size_t)vlen;
	}
}

static const struct nft_genmsg *genmsg(const struct nl_hdr *msg)
{
	if (nl_msg_payload_len(msg) < sizeof(struct nft_genmsg))
		return NULL;
	return nl_msg_payload(msg);
}

/* see lib/nftrule.h */
int nftrule_decode(const struct nl_hdr *msg, struct nat_rule *rule)
{
	const struct nl_attr *tb[RULE_MAX + 1];
	const struct nft_genmsg *g;
	const struct nl_attr *attrs, *elem;
	const char *table, *chain;
	struct decoder d;
	size_t len, rem;

	memset(rule, 0, sizeof *rule);
	if (msg->type != nft_msg_type(NFT_MSG_ID_NEWRULE))
		return -ENOMSG;
	g = genmsg(msg);
	if (!g)
		return -EBADMSG;
	if (g->family != NFT_PROTO_IPV4 && g->family != NFT_PROTO_IPV6)
		return -EAFNOSUPPORT;
	attrs = nl_msg_attrs(msg, sizeof *g, &len);
	if (!attrs || nl_attr_parse(attrs, len, tb, RULE_MAX) < 0 ||
	    nl_attr_get_str(tb[RULE_TABLE], &table) < 0 ||
	    nl_attr_get_str(tb[RULE_CHAIN], &chain) < 0 || !tb[RULE_EXPRESSIONS])
		return -EBADMSG;
	if (strlen(table) >= NAT_NAME_MAX || strlen(chain) >= NAT_NAME_MAX)
		return -EBADMSG;

	memset(&d, 0, sizeof d);
	d.rule = rule;
	d.nfproto = g->family;
	rule->family = g->family == NFT_PROTO_IPV4 ? AF_INET : AF_INET6;
	copy_name(rule->table, sizeof rule->table, table);
	copy_name(rule->chain, sizeof rule->chain, chain);
	if (tb[RULE_USERDATA])
		decode_userdata(rule, nl_attr_payload(tb[RULE_USERDATA]),
				nl_attr_payload_len(tb[RULE_USERDATA]));

	/* The kernel always sends NFTA_RULE_EXPRESSIONS with a rule
	 * (nf_tables_fill_rule_info), so a rule without it is cut short. */
	const uint8_t *p = nl_attr_payload(tb[RULE_EXPRESSIONS]);

	len = nl_attr_payload_len(tb[RULE_EXPRESSIONS]);
	nl_attr_for_each(elem, p, len, rem) {
		int r = decode_expr(&d, elem);

		if (r < 0) {
			memset(rule, 0, sizeof *rule);
			return r;
		}
	}
	if (rem) {
		memset(rule, 0, sizeof *rule);
		return -EBADMSG;
	}
	/* A rule that also sets a verdict (accept, jump, goto...) ends there,
	 * so it is not treated as DNAT. */
	if (d.have_verdict)
		rule->dnat = 0;
	return 0;
}

/* see lib/nftrule.h */
int nftrule_msg_table(const struct nl_hdr *msg, int *family, const char **table)
{
	const struct nft_genmsg *g = genmsg(msg);
	const struct nl_attr *tb[2];
	const struct nl_attr *attrs;
	size_t len;

	if (!g)
		return -EBADMSG;
	*family = g->family;
	attrs = nl_msg_attrs(msg, sizeof *g, &len);
	if (!attrs || nl_attr_parse(attrs, len, tb, 1) < 0)
		return -EBADMSG;
	if (!tb[1])
		return -ENOENT;
	return nl_attr_get_str(tb[1], table) < 0 ? -EBADMSG : 0;
}

struct watch_pass {
	struct nftrule_watch *w;
	int commit;
	int malformed;
};

static int is_watched(const struct nftrule_watch *w, int family, const char *table)
{
	if (family != NFT_PROTO_IPV4 && family != NFT_PROTO_IPV6)
		return 0;
	for (size_t i = 0; i < w->table_count; i++)
		if (strcmp(table, w->tables[i]) == 0)
			return 1;
	return 0;
}

static int watch_message(const struct nl_hdr *msg, void *ctx)
{
	struct watch_pass *p = ctx;
	struct nftrule_watch *w = p->w;
	const char *table;
	int family, r;

	if (msg->type >> 8 != NFNL_SUBSYS_NFTABLES_ID)
		return NL_CB_OK;
	if ((msg->type & 0xff) == NFT_MSG_ID_NEWGEN) {
		if (w->dirty)
			p->commit = 1;
		return NL_CB_OK;
	}
	r = nftrule_msg_table(msg, &family, &table);
	if (r == -EBADMSG) {
		if (!p->malformed) {
			w->bad_type = msg->type;
			w->bad_len = msg->len;
			w->bad_err = -EBADMSG;
		}
		p->malformed = 1;
		w->dirty = 1;
	} else if (r == 0 && is_watched(w, family, table)) {
		w->dirty = 1;
	}
	return NL_CB_OK;
}

/* see lib/nftrule.h */
enum nftrule_watch_result nftrule_watch_datagram(struct nftrule_watch *w, const void *buf,
						 size_t len)
{
	struct watch_pass p = { .w = w };
	int r = nl_cb_run(buf, len, 0, 0, watch_message, &p);

	if (r < 0 && !p.malformed) {
		w->bad_type = 0;
		w->bad_len = (uint32_t)len;
		w->bad_err = r;
		p.malformed = 1;
	}
	if (p.malformed) {
		w->dirty = 1;
		return NFTRULE_WATCH_MALFORMED;
	}
	return p.commit ? NFTRULE_WATCH_RESCAN : NFTRULE_WATCH_WAIT;
}
