/* inet_diag request builder and reply parser on hand-built messages
 * laid out as in <linux/inet_diag.h>. */
#include "unit.h"

#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#include "inetdiag.h"

struct sockets {
	struct inetdiag_socket s[4];
	int count;
};

static void collect(void *ctx, const struct inetdiag_socket *s)
{
	struct sockets *c = ctx;

	assert_true(c->count < 4);
	c->s[c->count++] = *s;
}

/* Appends a netlink message to buf at *len; returns its offset. */
static size_t put_msg(uint8_t *buf, size_t *len, uint16_t type, uint32_t seq,
		      const void *body, size_t body_len)
{
	uint32_t total = (uint32_t)(16 + body_len);
	uint16_t flags = 2;
	uint32_t pid = 0;
	size_t at = *len;

	memcpy(buf + at, &total, 4);
	memcpy(buf + at + 4, &type, 2);
	memcpy(buf + at + 6, &flags, 2);
	memcpy(buf + at + 8, &seq, 4);
	memcpy(buf + at + 12, &pid, 4);
	memcpy(buf + at + 16, body, body_len);
	*len = at + ((total + 3u) & ~3u);
	return at;
}

/* Builds an inet_diag_msg body (72 bytes) plus an optional 8-byte
 * INET_DIAG_SKV6ONLY attribute; returns the body length. */
static size_t diag_body(uint8_t *body, uint8_t family, uint8_t state, uint16_t port,
			const uint8_t *addr, uint32_t inode, int v6only)
{
	memset(body, 0, 80);
	body[0] = family;
	body[1] = state;
	body[4] = (uint8_t)(port >> 8);
	body[5] = (uint8_t)port;
	memcpy(body + 8, addr, family == AF_INET ? 4 : 16);
	memcpy(body + 68, &inode, 4);
	if (v6only < 0)
		return 72;
	body[72] = 5;                /* nla_len */
	body[74] = 11;               /* INET_DIAG_SKV6ONLY */
	body[76] = (uint8_t)v6only;
	return 80;
}

static void build_request(void **state)
{
	uint8_t buf[INETDIAG_REQUEST_MAX];
	uint32_t len, states;
	uint16_t type, flags, port_op;

	assert_int_equal(inetdiag_build_request(buf, sizeof buf, 7, AF_INET6, IPPROTO_TCP,
						1u << 10, 8080), 16 + 56 + 20);
	memcpy(&len, buf, 4);
	memcpy(&type, buf + 4, 2);
	memcpy(&flags, buf + 6, 2);
	assert_int_equal(len, 92);
	assert_int_equal(type, 20);          /* SOCK_DIAG_BY_FAMILY */
	assert_int_equal(flags, 0x301);      /* NLM_F_REQUEST | NLM_F_DUMP */
	assert_int_equal(buf[16], AF_INET6);
	assert_int_equal(buf[17], IPPROTO_TCP);
	memcpy(&states, buf + 20, 4);
	assert_int_equal(states, 1u << 10);
	/* The bytecode attribute: sport >= 8080, then sport <= 8080. */
	assert_int_equal(buf[72], 20);
	assert_int_equal(buf[74], 1);        /* INET_DIAG_REQ_BYTECODE */
	assert_int_equal(buf[76], 2);        /* INET_DIAG_BC_S_GE */
	memcpy(&port_op, buf + 82, 2);
	assert_int_equal(port_op, 8080);
	assert_int_equal(buf[84], 3);        /* INET_DIAG_BC_S_LE */

	assert_int_equal(inetdiag_build_request(buf, sizeof buf, 1, AF_INET, IPPROTO_UDP, 1, 0), 72);
	assert_int_equal(inetdiag_build_request(buf, sizeof buf, 1, AF_UNIX, IPPROTO_TCP, 1, 0), -EINVAL);
	assert_int_equal(inetdiag_build_request(buf, sizeof buf, 1, AF_INET, IPPROTO_SCTP, 1, 0), -EINVAL);
	assert_int_equal(inetdiag_build_request(buf, 16, 1, AF_INET, IPPROTO_TCP, 1, 0), -EINVAL);
}

static void parse_dump(void **state)
{
	static const uint8_t v4[4] = { 127, 0, 0, 1 }, any6[16];
	uint8_t buf[512], body[80];
	struct sockets c = { .count = 0 };
	size_t len = 0, n;
	int32_t zero = 0;

	n = diag_body(body, AF_INET, 10, 8080, v4, 1234, -1);
	put_msg(buf, &len, 20, 5, body, n);
	n = diag_body(body, AF_INET6, 10, 8080, any6, 99, 0);
	put_msg(buf, &len, 20, 5, body, n);
	/* Not a complete dump yet: more datagrams follow. */
	assert_int_equal(inetdiag_parse(buf, len, 5, collect, &c), 1);
	put_msg(buf, &len, 3, 5, &zero, 4);
	c.count = 0;
	assert_int_equal(inetdiag_parse(buf, len, 5, collect, &c), 0);
	assert_int_equal(c.count, 2);
	assert_int_equal(c.s[0].family, AF_INET);
	assert_int_equal(c.s[0].port, 8080);
	assert_memory_equal(c.s[0].addr, v4, 4);
	assert_int_equal(c.s[0].inode, 1234);
	assert_int_equal(c.s[0].v6only, -1);
	assert_int_equal(c.s[1].family, AF_INET6);
	assert_int_equal(c.s[1].v6only, 0);
	assert_int_equal(c.s[1].inode, 99);

	/* Replies to another sequence number are skipped. */
	c.count = 0;
	assert_int_equal(inetdiag_parse(buf, len, 6, collect, &c), 1);
	assert_int_equal(c.count, 0);
}

static void parse_error_reply(void **state)
{
	uint8_t buf[64], body[20] = { 0 };
	int32_t err = -EPERM;
	size_t len = 0;
	struct sockets c = { .count = 0 };

	memcpy(body, &err, 4);
	put_msg(buf, &len, 2, 9, body, sizeof body);
	assert_int_equal(inetdiag_parse(buf, len, 9, collect, &c), -EPERM);
}

static void parse_malformed(void **state)
{
	static const uint8_t any4[4], any6[16];
	uint8_t buf[256], body[80];
	struct sockets c = { .count = 0 };
	size_t len = 0, n;
	uint32_t bad;

	n = diag_body(body, AF_INET, 10, 80, any4, 1, -1);
	put_msg(buf, &len, 20, 1, body, n);
	/* Cut short: the declared length exceeds what was received. */
	assert_int_equal(inetdiag_parse(buf, len - 4, 1, collect, &c), -EBADMSG);
	/* A declared length below the header size. */
	bad = 8;
	memcpy(buf, &bad, 4);
	assert_int_equal(inetdiag_parse(buf, len, 1, collect, &c), -EBADMSG);
	/* A body too short for inet_diag_msg. */
	len = 0;
	put_msg(buf, &len, 20, 1, body, 40);
	assert_int_equal(inetdiag_parse(buf, len, 1, collect, &c), -EBADMSG);
	/* An attribute whose length runs past the message. */
	len = 0;
	n = diag_body(body, AF_INET6, 10, 80, any6, 1, 1);
	body[72] = 40;
	put_msg(buf, &len, 20, 1, body, n);
	assert_int_equal(inetdiag_parse(buf, len, 1, collect, &c), -EBADMSG);
	/* Trailing bytes shorter than a header. */
	len = 0;
	n = diag_body(body, AF_INET, 10, 80, any4, 1, -1);
	put_msg(buf, &len, 20, 1, body, n);
	assert_int_equal(c.count, 0);
	assert_int_equal(inetdiag_parse(buf, len + 3, 1, collect, &c), -EBADMSG);
	/* The complete message before them was still reported. */
	assert_int_equal(c.count, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(build_request),
		cmocka_unit_test(parse_dump),
		cmocka_unit_test(parse_error_reply),
		cmocka_unit_test(parse_malformed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
