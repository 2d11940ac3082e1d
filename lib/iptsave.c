/* see lib/iptsave.h */
#include "iptsave.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

/* Splits a line into words the way iptables-save quotes them: double
 * quotes group a word, and a backslash escapes the next character inside
 * them.  Returns 0 or -1 with *reason. */
static int split_words(const char *line, size_t len, struct iptsave_words *ws, const char **reason)
{
	size_t out = 0, i = 0;

	ws->n = 0;
	if (len >= sizeof ws->buf) {
		*reason = "line too long";
		return -1;
	}
	while (i < len) {
		int quoted = 0;

		while (i < len && (line[i] == ' ' || line[i] == '\t'))
			i++;
		if (i == len)
			break;
		if (ws->n == IPTSAVE_WORDS_MAX) {
			*reason = "too many words";
			return -1;
		}
		ws->w[ws->n++] = ws->buf + out;
		while (i < len && (quoted || (line[i] != ' ' && line[i] != '\t'))) {
			char c = line[i++];

			if (c == '"') {
				quoted = !quoted;
				continue;
			}
			if (quoted && c == '\\' && i < len)
				c = line[i++];
			if (c == 0) {
				*reason = "NUL byte in line";
				return -1;
			}
			ws->buf[out++] = c;
		}
		if (quoted) {
			*reason = "unterminated quote";
			return -1;
		}
		ws->buf[out++] = 0;
	}
	return 0;
}

/* Parses a decimal port 1-65535 (0 allowed when allow_zero). */
static int parse_port(const char *s, size_t len, uint16_t *port, int allow_zero)
{
	unsigned long v = 0;

	if (len == 0 || len > 5)
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	if (v > 65535 || (v == 0 && !allow_zero))
		return -1;
	*port = (uint16_t)v;
	return 0;
}

/* "PORT" or "PORT:PORT" (also "PORT:" and ":PORT", which iptables reads
 * as open ends). */
static int parse_port_range(const char *s, uint16_t *lo, uint16_t *hi)
{
	const char *colon = strchr(s, ':');

	if (!colon)
		return parse_port(s, strlen(s), lo, 0) < 0 ? -1 : (*hi = *lo, 0);
	if (colon == s)
		*lo = 0;
	else if (parse_port(s, (size_t)(colon - s), lo, 1) < 0)
		return -1;
	if (colon[1] == 0)
		*hi = 65535;
	else if (parse_port(colon + 1, strlen(colon + 1), hi, 0) < 0)
		return -1;
	return *lo <= *hi ? 0 : -1;
}

/* Parses ADDR[/PREFIX], PREFIX as a length or (IPv4) a dotted mask. */
static int parse_cidr(const char *s, struct pev_addr *addr, unsigned *prefix)
{
	const char *slash = strchr(s, '/');
	size_t alen = slash ? (size_t)(slash - s) : strlen(s);
	unsigned max;

	if (pev_addr_parse(s, alen, addr) < 0)
		return -1;
	max = addr->family == AF_INET ? 32 : 128;
	*prefix = max;
	if (!slash)
		return 0;
	slash++;
	if (strchr(slash, '.')) {
		struct in_addr m;
		uint32_t v;
		unsigned bits = 0;

		if (addr->family != AF_INET || inet_pton(AF_INET, slash, &m) != 1)
			return -1;
		v = ntohl(m.s_addr);
		while (v & 0x80000000u) {
			bits++;
			v <<= 1;
		}
		if (v)
			return -1;   /* not a prefix mask */
		*prefix = bits;
		return 0;
	}
	char *end;
	unsigned long n = strtoul(slash, &end, 10);

	if (*slash == 0 || *end || n > max)
		return -1;
	*prefix = (unsigned)n;
	return 0;
}

/* Parses the --to-destination value into the rule. */
static int parse_to_destination(const char *s, struct nat_rule *r)
{
	const char *ports = NULL;
	char addr[64];
	size_t alen;

	if (s[0] == '[') {
		const char *close = strchr(s, ']');

		if (!close)
			return -1;
		alen = (size_t)(close - s - 1);
		if (alen >= sizeof addr)
			return -1;
		memcpy(addr, s + 1, alen);
		addr[alen] = 0;
		/* "[a]-[b]:p": keep the first address of the range. */
		const char *rest = close + 1;

		if (*rest == '-') {
			rest = strchr(rest, ']');
			if (!rest)
				return -1;
			rest++;
		}
		if (*rest == ':')
			ports = rest + 1;
		else if (*rest)
			return -1;
	} else {
		const char *colon = strchr(s, ':');
		const char *dash;

		if (colon && strchr(colon + 1, ':')) {
			colon = NULL;   /* a bare IPv6 address without port */
		}
		alen = colon ? (size_t)(colon - s) : strlen(s);
		if (alen >= sizeof addr)
			return -1;
		memcpy(addr, s, alen);
		addr[alen] = 0;
		dash = strchr(addr, '-');
		if (dash && !strchr(addr, ':'))
			addr[dash - addr] = 0;    /* "a.b.c.d-e.f.g.h" */
		if (colon)
			ports = colon + 1;
	}
	if (addr[0]) {
		char *dash = strchr(addr, '-');

		if (dash)
			*dash = 0;   /* IPv6 range without brackets */
		if (pev_addr_parse(addr, strlen(addr), &r->to_addr) < 0)
			return -1;
	}
	if (ports) {
		const char *dash = strchr(ports, '-');
		const char *slash = strchr(ports, '/');
		size_t end = slash ? (size_t)(slash - ports) : strlen(ports);

		if (dash && dash - ports < (long)end) {
			if (parse_port(ports, (size_t)(dash - ports), &r->to_port_min, 0) < 0 ||
			    parse_port(dash + 1, end - (size_t)(dash - ports) - 1, &r->to_port_max, 0) < 0 ||
			    r->to_port_min > r->to_port_max)
				return -1;
		} else {
			if (parse_port(ports, end, &r->to_port_min, 0) < 0)
				return -1;
			r->to_port_max = r->to_port_min;
		}
		if (slash) {
			if (parse_port(slash + 1, strlen(slash + 1), &r->to_port_base, 0) < 0)
				return -1;
			r->to_port_offset = 1;
		}
	}
	return 0;
}

static int parse_proto(const char *s, struct nat_rule *r)
{
	if (strcmp(s, "tcp") == 0 || strcmp(s, "6") == 0)
		r->proto = PEV_TCP;
	else if (strcmp(s, "udp") == 0 || strcmp(s, "17") == 0)
		r->proto = PEV_UDP;
	else if (strcmp(s, "sctp") == 0 || strcmp(s, "132") == 0)
		r->proto = PEV_SCTP;
	else
		return -1;
	r->has_proto = 1;
	return 0;
}

static void copy_text(char *dst, size_t size, const char *src)
{
	size_t n = strnlen(src, size - 1);

	memcpy(dst, src, n);
	dst[n] = 0;
}

/* Options that take no value; every other unknown option is followed by
 * values up to the next word that starts with "-" or is "!". */
static int is_flag_option(const char *opt)
{
	static const char *const flags[] = { "--random", "--random-fully", "--persistent",
					     "--syn", "--rcheck", "--update", "--set",
					     "--remove", "--rsource", "--rdest" };

	for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++)
		if (strcmp(opt, flags[i]) == 0)
			return 1;
	return 0;
}

static int parse_rule(struct iptsave_parser *p, struct iptsave_words *ws, size_t first,
		      struct nat_rule *r, const char **reason)
{
	int negate = 0, saw_jump = 0, saw_ipv6 = 0;
	int to_dest_seen = 0;
	size_t i = first;

	memset(r, 0, sizeof *r);
	copy_text(r->table, sizeof r->table, "nat");
	if (i + 1 >= ws->n || strlen(ws->w[i + 1]) >= NAT_NAME_MAX) {
		*reason = "missing or too long chain name after -A";
		return -1;
	}
	copy_text(r->chain, sizeof r->chain, ws->w[i + 1]);
	i += 2;

	while (i < ws->n) {
		const char *opt = ws->w[i++];
		const char *val = i < ws->n ? ws->w[i] : NULL;

		if (strcmp(opt, "!") == 0) {
			negate = 1;
			continue;
		}
		if (strcmp(opt, "-d") == 0 || strcmp(opt, "--destination") == 0 ||
		    strcmp(opt, "--dst") == 0) {
			if (!val || parse_cidr(val, &r->daddr, &r->daddr_prefix) < 0) {
				*reason = "invalid address after -d";
				return -1;
			}
			i++;
			if (r->daddr.family == AF_INET6)
				saw_ipv6 = 1;
			if (negate) {
				r->other_match = 1;
				memset(&r->daddr, 0, sizeof r->daddr);
			} else {
				r->has_daddr = 1;
			}
		} else if (strcmp(opt, "-p") == 0 || strcmp(opt, "--protocol") == 0) {
			if (!val) {
				*reason = "missing protocol after -p";
				return -1;
			}
			i++;
			if (negate)
				r->unsupported = "negated protocol match";
			else if (parse_proto(val, r) < 0)
				r->unsupported = "protocol other than tcp, udp or sctp";
		} else if (strcmp(opt, "-m") == 0 || strcmp(opt, "--match") == 0) {
			if (!val) {
				*reason = "missing module name after -m";
				return -1;
			}
			i++;
			if (strcmp(val, "multiport") == 0)
				r->unsupported = "multiport match";
			else if (strcmp(val, "tcp") && strcmp(val, "udp") && strcmp(val, "sctp") &&
				 strcmp(val, "comment"))
				r->other_match = 1;
		} else if (strcmp(opt, "--dport") == 0 || strcmp(opt, "--destination-port") == 0) {
			if (!val || parse_port_range(val, &r->dport_min, &r->dport_max) < 0) {
				*reason = "invalid port after --dport";
				return -1;
			}
			i++;
			if (negate)
				r->unsupported = "negated destination port match";
			if (r->dport_min == 0)
				r->dport_min = 1;
		} else if (strcmp(opt, "--comment") == 0) {
			if (!val) {
				*reason = "missing text after --comment";
				return -1;
			}
			i++;
			copy_text(r->comment, sizeof r->comment, val);
		} else if (strcmp(opt, "-j") == 0 || strcmp(opt, "--jump") == 0 ||
			   strcmp(opt, "-g") == 0 || strcmp(opt, "--goto") == 0) {
			if (!val) {
				*reason = "missing target after -j";
				return -1;
			}
			i++;
			saw_jump = 1;
			r->dnat = strcmp(opt, "-j") == 0 || strcmp(opt, "--jump") == 0 ?
				  strcmp(val, "DNAT") == 0 : 0;
		} else if (strcmp(opt, "--to-destination") == 0) {
			if (!val || parse_to_destination(val, r) < 0) {
				*reason = "invalid --to-destination value";
				return -1;
			}
			i++;
			to_dest_seen = 1;
			if (r->to_addr.family == AF_INET6)
				saw_ipv6 = 1;
		} else if (opt[0] == '-') {
			/* -s, -i, --sport, -m addrtype --dst-type...: matches
			 * and target options a binding cannot express. */
			if (!saw_jump)
				r->other_match = 1;
			if (!is_flag_option(opt))
				while (i < ws->n && ws->w[i][0] != '-' && strcmp(ws->w[i], "!") != 0)
					i++;
		} else {
			*reason = "unexpected word where an option was expected";
			return -1;
		}
		negate = 0;
	}
	if (r->dnat && !to_dest_seen) {
		*reason = "DNAT rule without --to-destination";
		return -1;
	}
	r->family = saw_ipv6 ? AF_INET6 : p->family;
	if ((r->has_daddr && r->daddr.family != r->family) ||
	    (r->to_addr.family && r->to_addr.family != r->family)) {
		*reason = "-d and --to-destination addresses of different families";
		return -1;
	}
	return 1;
}

/* see lib/iptsave.h */
void iptsave_init(struct iptsave_parser *p, int family)
{
	p->family = family;
	p->in_nat = 1;
	p->words.n = 0;
}

/* see lib/iptsave.h */
int iptsave_parse_line(struct iptsave_parser *p, const char *line, size_t len,
		       struct nat_rule *rule, const char **reason)
{
	struct iptsave_words *ws = &p->words;
	size_t first = 0;

	if (split_words(line, len, ws, reason) < 0)
		return -1;
	if (ws->n == 0 || ws->w[0][0] == '#')
		return 0;
	if (ws->w[0][0] == '*') {
		p->in_nat = strcmp(ws->w[0], "*nat") == 0;
		return 0;
	}
	if (ws->w[0][0] == ':' || strcmp(ws->w[0], "COMMIT") == 0 ||
	    strcmp(ws->w[0], "-P") == 0 || strcmp(ws->w[0], "-N") == 0)
		return 0;
	/* iptables-save -c puts "[PACKETS:BYTES]" before the rule. */
	if (ws->w[0][0] == '[')
		first = 1;
	if (first >= ws->n || strcmp(ws->w[first], "-A") != 0) {
		*reason = "line is not a rule (-A), chain, table header or COMMIT";
		return -1;
	}
	if (!p->in_nat)
		return 0;
	return parse_rule(p, ws, first, rule, reason);
}
