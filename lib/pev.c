/* see lib/pev.h */
#include "pev.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "io.h"
#include "log.h"

static const char *const proto_names[] = { "tcp", "udp", "sctp" };

const char *pev_proto_name(enum pev_proto proto)
{
	return proto_names[proto];
}

int pev_proto_parse(const char *s, size_t len, enum pev_proto *proto)
{
	for (unsigned i = 0; i < 3; i++) {
		if (strlen(proto_names[i]) == len && !memcmp(s, proto_names[i], len)) {
			*proto = (enum pev_proto)i;
			return 0;
		}
	}
	return -1;
}

int pev_source_valid(const char *s, size_t len)
{
	if (len < 1 || len > PEV_SOURCE_MAX)
		return 0;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-'))
			return 0;
	}
	return 1;
}

/* Strict dotted quad: four decimal octets 0-255 without leading zeros
 * (a leading zero is read as octal by inet_aton, so it is ambiguous). */
static int parse_ipv4(const char *s, size_t len, uint8_t out[4])
{
	size_t i = 0;

	for (int octet = 0; octet < 4; octet++) {
		unsigned value = 0;
		size_t start = i;

		if (octet > 0) {
			if (i >= len || s[i] != '.')
				return -1;
			start = ++i;
		}
		while (i < len && s[i] >= '0' && s[i] <= '9') {
			value = value * 10 + (unsigned)(s[i] - '0');
			if (value > 255)
				return -1;
			i++;
		}
		if (i == start || (i - start > 1 && s[start] == '0'))
			return -1;
		out[octet] = (uint8_t)value;
	}
	return i == len ? 0 : -1;
}

int pev_addr_parse(const char *s, size_t len, struct pev_addr *addr)
{
	char text[INET6_ADDRSTRLEN];

	memset(addr, 0, sizeof *addr);
	if (memchr(s, ':', len)) {
		if (len >= sizeof text || memchr(s, '%', len) || memchr(s, '[', len))
			return -1;
		memcpy(text, s, len);
		text[len] = 0;
		if (inet_pton(AF_INET6, text, addr->bytes) != 1)
			return -1;
		addr->family = AF_INET6;
		return 0;
	}
	if (parse_ipv4(s, len, addr->bytes) < 0)
		return -1;
	addr->family = AF_INET;
	return 0;
}

char *pev_addr_format(const struct pev_addr *addr, char *dst, size_t size)
{
	if (!inet_ntop(addr->family, addr->bytes, dst, (socklen_t)size))
		snprintf(dst, size, "?");
	return dst;
}

int pev_addr_equal(const struct pev_addr *a, const struct pev_addr *b)
{
	if (a->family != b->family)
		return 0;
	return !memcmp(a->bytes, b->bytes, a->family == AF_INET ? 4 : 16);
}

int pev_addr_is_any(const struct pev_addr *addr)
{
	static const uint8_t zero[16];

	return !memcmp(addr->bytes, zero, addr->family == AF_INET ? 4 : 16);
}

/* Decimal 1-65535 without sign or leading zero. */
static int parse_port(const char *s, size_t len, uint16_t *port)
{
	unsigned value = 0;

	if (len < 1 || len > 5 || s[0] == '0')
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		value = value * 10 + (unsigned)(s[i] - '0');
	}
	if (value > 65535)
		return -1;
	*port = (uint16_t)value;
	return 0;
}

static int parse_owner(const char *s, size_t len, struct pev *ev, const char **reason)
{
	const char *slash = memchr(s, '/', len);
	size_t source_len;

	if (!slash) {
		*reason = "owner has no '/' between source and id";
		return -1;
	}
	source_len = (size_t)(slash - s);
	if (!pev_source_valid(s, source_len)) {
		*reason = "owner's source is not [a-z0-9_-]{1,32}";
		return -1;
	}
	if (len - source_len - 1 < 1 || len - source_len - 1 > PEV_ID_MAX) {
		*reason = "owner's id is empty or longer than 255 bytes";
		return -1;
	}
	/* Printable ASCII without spaces was already checked for the line. */
	memcpy(ev->source, s, source_len);
	ev->source[source_len] = 0;
	memcpy(ev->owner, s, len);
	ev->owner[len] = 0;
	return 0;
}

/* A line of PEV_LINE_MAX - 1 bytes holds at most this many one-byte
 * fields, so the KEY=VALUE count is never the reason a line fails. */
#define MAX_FIELDS (PEV_LINE_MAX / 2)

int pev_parse(const char *line, size_t len, struct pev *ev, const char **reason)
{
	const char *field[MAX_FIELDS];
	size_t flen[MAX_FIELDS];
	size_t count = 0, start = 0;
	size_t attrs_len = 0;

	memset(ev, 0, offsetof(struct pev, attrs));
	ev->attrs[0] = 0;
	if (len == 0 || line[0] == '#')
		return 1;
	if (len > PEV_LINE_MAX - 1) {
		*reason = "line longer than 1023 bytes";
		return -1;
	}
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)line[i];

		if (c == 0) {
			*reason = "NUL byte in line";
			return -1;
		}
		if (c == '\r') {
			*reason = "carriage return in line (CRLF line ends are not accepted)";
			return -1;
		}
		if (c < 0x20 || c > 0x7e) {
			*reason = "control or non-ASCII byte in line";
			return -1;
		}
	}
	for (size_t i = 0; i <= len; i++) {
		if (i < len && line[i] != ' ')
			continue;
		if (i == start) {
			*reason = "empty field (fields are separated by exactly one space)";
			return -1;
		}
		if (count == MAX_FIELDS) {
			*reason = "too many fields";
			return -1;
		}
		field[count] = line + start;
		flen[count++] = i - start;
		start = i + 1;
	}

#define IS(i, word) (flen[i] == sizeof(word) - 1 && !memcmp(field[i], word, flen[i]))
	if (IS(0, "sync") || IS(0, "done")) {
		ev->verb = IS(0, "sync") ? PEV_SYNC : PEV_DONE;
		if (count != 2) {
			*reason = count < 2 ? "missing source" : "extra field after source";
			return -1;
		}
		if (!pev_source_valid(field[1], flen[1])) {
			*reason = "source is not [a-z0-9_-]{1,32}";
			return -1;
		}
		memcpy(ev->source, field[1], flen[1]);
		ev->source[flen[1]] = 0;
		return 0;
	}
	if (IS(0, "add"))
		ev->verb = PEV_ADD;
	else if (IS(0, "del"))
		ev->verb = PEV_DEL;
	else {
		*reason = "unknown verb (expected add, del, sync or done)";
		return -1;
	}
	if (count < 6) {
		*reason = "missing field (expected VERB OWNER PROTO HOST_IP HOST_PORT TARGET_PORT)";
		return -1;
	}
	if (parse_owner(field[1], flen[1], ev, reason) < 0)
		return -1;
	if (pev_proto_parse(field[2], flen[2], &ev->proto) < 0) {
		*reason = "protocol is not tcp, udp or sctp";
		return -1;
	}
	if (pev_addr_parse(field[3], flen[3], &ev->host_ip) < 0) {
		*reason = "invalid host address (expected IPv4 dotted quad or IPv6 without brackets or zone)";
		return -1;
	}
	if (parse_port(field[4], flen[4], &ev->host_port) < 0) {
		*reason = "invalid host port (expected 1-65535 without sign or leading zero)";
		return -1;
	}
	if (IS(5, "-"))
		ev->target_port = 0;
	else if (parse_port(field[5], flen[5], &ev->target_port) < 0) {
		*reason = "invalid target port (expected 1-65535 or '-')";
		return -1;
	}
	for (size_t i = 6; i < count; i++) {
		const char *eq = memchr(field[i], '=', flen[i]);

		if (!eq || eq == field[i]) {
			*reason = "extra field that is not KEY=VALUE";
			return -1;
		}
		if ((size_t)(eq - field[i]) == 9 && !memcmp(field[i], "target_ip", 9)) {
			size_t vlen = flen[i] - 10;

			if (pev_addr_parse(eq + 1, vlen, &ev->target_ip) < 0) {
				*reason = "invalid target_ip address";
				return -1;
			}
			continue;
		}
		if (attrs_len)
			ev->attrs[attrs_len++] = ' ';
		memcpy(ev->attrs + attrs_len, field[i], flen[i]);
		attrs_len += flen[i];
	}
#undef IS
	ev->attrs[attrs_len] = 0;
	return 0;
}

int pev_format(const struct pev *ev, char *buf, size_t size)
{
	char host[INET6_ADDRSTRLEN], target[INET6_ADDRSTRLEN], port[8];
	int n;

	/* PEV_LINE_MAX counts the newline, and snprintf needs one more byte
	 * for the NUL, so a line of the maximum length needs PEV_LINE_MAX + 1. */
	if (size > PEV_LINE_MAX + 1)
		size = PEV_LINE_MAX + 1;
	if (ev->verb == PEV_SYNC || ev->verb == PEV_DONE) {
		if (!pev_source_valid(ev->source, strlen(ev->source)))
			return -1;
		n = snprintf(buf, size, "%s %s\n", ev->verb == PEV_SYNC ? "sync" : "done", ev->source);
		return n < 0 || (size_t)n >= size ? -1 : n;
	}
	if (ev->target_port)
		snprintf(port, sizeof port, "%u", ev->target_port);
	else
		strcpy(port, "-");
	n = snprintf(buf, size, "%s %s %s %s %u %s%s%s%s%s\n",
		     ev->verb == PEV_ADD ? "add" : "del", ev->owner,
		     pev_proto_name(ev->proto), pev_addr_format(&ev->host_ip, host, sizeof host),
		     ev->host_port, port,
		     ev->target_ip.family ? " target_ip=" : "",
		     ev->target_ip.family ? pev_addr_format(&ev->target_ip, target, sizeof target) : "",
		     ev->attrs[0] ? " " : "", ev->attrs);
	return n < 0 || (size_t)n >= size ? -1 : n;
}

int pev_write(int fd, const struct pev *ev)
{
	char line[PEV_LINE_MAX + 1];
	int n = pev_format(ev, line, sizeof line);

	if (n < 0)
		return -EINVAL;
	/* One write(2) below PIPE_BUF is atomic on a pipe. */
	return full_write(fd, line, (size_t)n);
}

int pev_write_marker(int fd, enum pev_verb verb, const char *source)
{
	struct pev ev;

	memset(&ev, 0, sizeof ev);
	ev.verb = verb;
	if (strlen(source) > PEV_SOURCE_MAX)
		return -EINVAL;
	strcpy(ev.source, source);
	return pev_write(fd, &ev);
}

int pev_set_binding(struct pev *ev, enum pev_verb verb, const char *owner,
		    enum pev_proto proto, const struct pev_addr *host_ip,
		    uint16_t host_port, uint16_t target_port,
		    const struct pev_addr *target_ip)
{
	const char *reason;
	size_t len = strlen(owner);

	memset(ev, 0, sizeof *ev);
	ev->verb = verb;
	if (len >= PEV_OWNER_MAX || parse_owner(owner, len, ev, &reason) < 0)
		return -1;
	for (size_t i = 0; i < len; i++)
		if (owner[i] <= 0x20 || owner[i] > 0x7e)
			return -1;
	ev->proto = proto;
	ev->host_ip = *host_ip;
	ev->host_port = host_port;
	ev->target_port = target_port;
	if (target_ip)
		ev->target_ip = *target_ip;
	return host_port ? 0 : -1;
}

void pev_reader_init(struct pev_reader *r)
{
	r->len = 0;
	r->lineno = 1;
	r->skipping = 0;
}

void pev_reader_feed(struct pev_reader *r, const char *data, size_t len,
		     pev_line_cb *cb, void *ctx)
{
	while (len) {
		const char *nl = memchr(data, '\n', len);
		size_t take = nl ? (size_t)(nl - data) : len;

		if (!r->skipping) {
			size_t room = sizeof r->buf - r->len;

			if (take < room) {
				memcpy(r->buf + r->len, data, take);
				r->len += take;
			} else {
				/* Over-long: report it now with its first bytes, skip the rest. */
				memcpy(r->buf + r->len, data, room);
				cb(ctx, r->buf, sizeof r->buf, r->lineno, 1);
				r->skipping = 1;
				r->len = 0;
			}
		}
		if (!nl)
			return;
		if (!r->skipping)
			cb(ctx, r->buf, r->len, r->lineno, 0);
		r->skipping = 0;
		r->len = 0;
		r->lineno++;
		data = nl + 1;
		len -= take + 1;
	}
}

void pev_reader_finish(struct pev_reader *r, pev_line_cb *cb, void *ctx)
{
	if (r->len && !r->skipping)
		cb(ctx, r->buf, r->len, r->lineno, 0);
	r->len = 0;
	r->skipping = 0;
}

static void consumer_line(void *ctx, const char *line, size_t len,
			  unsigned long lineno, int too_long)
{
	struct pev_consumer *c = ctx;
	const char *reason = NULL;
	char shown[80];
	struct pev ev;
	int r;

	if (too_long) {
		c->rejected++;
		warn("input line %lu: rejected: line longer than %d bytes; skipped up to its newline ('%s')",
		     lineno, PEV_LINE_MAX - 1, log_sanitize(shown, sizeof shown, line, len));
		return;
	}
	r = pev_parse(line, len, &ev, &reason);
	if (r == 1)
		return;
	if (r < 0) {
		c->rejected++;
		warn("input line %lu: rejected: %s: '%s'", lineno, reason,
		     log_sanitize(shown, sizeof shown, line, len));
		return;
	}
	c->cb(c->ctx, &ev);
}

void pev_consumer_init(struct pev_consumer *c, pev_event_cb *cb, void *ctx)
{
	pev_reader_init(&c->reader);
	c->cb = cb;
	c->ctx = ctx;
	c->rejected = 0;
}

int pev_consumer_read(struct pev_consumer *c, int fd)
{
	char chunk[4096];
	ssize_t n = safe_read(fd, chunk, sizeof chunk);

	if (n < 0)
		return (int)n;
	if (n == 0) {
		pev_reader_finish(&c->reader, consumer_line, c);
		return 0;
	}
	pev_reader_feed(&c->reader, chunk, (size_t)n, consumer_line, c);
	return 1;
}
