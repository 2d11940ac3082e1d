/* Unit tests for lib/netlink: builder, bounds checks, callback runner, and
 * one real request to the kernel over NETLINK_ROUTE (RTM_GETLINK needs no
 * privilege). */
#include "unit.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "netlink.h"

/* RTM_GETLINK and struct ifinfomsg size; uapi linux/rtnetlink.h. */
#define TEST_RTM_NEWLINK 16
#define TEST_RTM_GETLINK 18
#define TEST_IFINFOMSG_LEN 16
#define TEST_IFLA_IFNAME 3

static void test_builder_layout(void **state)
{
	uint8_t buf[128];
	struct nl_msg m;
	uint8_t *extra;
	long nest;
	int len;

	(void)state;
	nl_msg_init(&m, buf, sizeof buf, 0x0a06, NL_F_REQUEST | NL_F_DUMP, 7);
	extra = nl_msg_put_extra(&m, 4);
	assert_non_null(extra);
	extra[0] = 2;
	assert_int_equal(nl_msg_put_strz(&m, 1, "nat"), 0);
	nest = nl_msg_nest_start(&m, 5);
	assert_true(nest > 0);
	assert_int_equal(nl_msg_put_be32(&m, 1, 0x01020304), 0);
	assert_int_equal(nl_msg_put_u8(&m, 2, 9), 0);
	nl_msg_nest_end(&m, nest);
	len = nl_msg_end(&m);
	/* 16 header + 4 extra + 8 ("nat\0") + 4 nest + 8 + 8 */
	assert_int_equal(len, 48);

	const struct nl_hdr *h = (const struct nl_hdr *)buf;
	assert_int_equal(h->len, 48);
	assert_int_equal(h->type, 0x0a06);
	assert_int_equal(h->flags, NL_F_REQUEST | NL_F_DUMP);
	assert_int_equal(h->seq, 7);

	size_t alen;
	const struct nl_attr *attrs = nl_msg_attrs(h, 4, &alen);
	const struct nl_attr *tb[6];
	const struct nl_attr *inner[3];
	const char *s;
	uint32_t v32;
	uint8_t v8;

	assert_int_equal(alen, 28);
	assert_int_equal(nl_attr_parse(attrs, alen, tb, 5), 0);
	assert_int_equal(nl_attr_get_str(tb[1], &s), 0);
	assert_string_equal(s, "nat");
	assert_non_null(tb[5]);
	assert_true(tb[5]->type & NL_ATTR_F_NESTED);
	assert_int_equal(nl_attr_type(tb[5]), 5);
	assert_int_equal(tb[5]->len, 20);
	assert_int_equal(nl_attr_parse_nested(tb[5], inner, 2), 0);
	assert_int_equal(nl_attr_get_be32(inner[1], &v32), 0);
	assert_int_equal(v32, 0x01020304);
	assert_int_equal(nl_attr_get_u8(inner[2], &v8), 0);
	assert_int_equal(v8, 9);
	/* Wrong size for the type is rejected. */
	assert_int_equal(nl_attr_get_u32(inner[2], &v32), -EINVAL);
}

static void test_builder_overflow_sticky(void **state)
{
	uint8_t buf[24];
	struct nl_msg m;

	(void)state;
	nl_msg_init(&m, buf, sizeof buf, 20, NL_F_REQUEST, 1);
	assert_int_equal(nl_msg_put_u32(&m, 1, 5), 0);       /* 16 + 8 = 24 */
	assert_int_equal(nl_msg_put_u8(&m, 2, 1), -EMSGSIZE);
	/* Fits on its own, but the error stays. */
	assert_null(nl_msg_put_extra(&m, 0));
	assert_int_equal(nl_msg_end(&m), -EMSGSIZE);

	nl_msg_init(&m, buf, 8, 20, 0, 1);
	assert_int_equal(nl_msg_end(&m), -EMSGSIZE);

	uint8_t big[70000];
	nl_msg_init(&m, big, sizeof big, 20, 0, 1);
	assert_int_equal(nl_msg_put_attr(&m, 1, big, 65536), -EMSGSIZE);
}

static void test_attr_three_conditions(void **state)
{
	uint8_t buf[16] = { 0 };
	struct nl_attr *a = (struct nl_attr *)buf;
	const struct nl_attr *tb[4];

	(void)state;
	a->len = 8;
	a->type = 1;
	assert_true(nl_attr_ok(a, 8));
	assert_false(nl_attr_ok(a, 3));     /* remaining < header */
	assert_false(nl_attr_ok(a, 7));     /* len > remaining */
	a->len = 3;
	assert_false(nl_attr_ok(a, 16));    /* len < header */
	a->len = 0;
	assert_false(nl_attr_ok(a, 16));    /* would loop forever if allowed */

	/* Bytes after the last attribute are caught by nl_attr_parse. */
	a->len = 8;
	assert_int_equal(nl_attr_parse(buf, 8, tb, 3), 0);
	assert_ptr_equal(tb[1], a);
	assert_int_equal(nl_attr_parse(buf, 10, tb, 3), -EBADMSG);
	a->len = 20;
	assert_int_equal(nl_attr_parse(buf, 16, tb, 3), -EBADMSG);
	/* Types above max are skipped, not an error. */
	a->len = 4;
	a->type = 9;
	assert_int_equal(nl_attr_parse(buf, 4, tb, 3), 0);
	assert_null(tb[1]);
}

static void test_str_needs_nul(void **state)
{
	uint8_t buf[8] = { 8, 0, 1, 0, 'a', 'b', 'c', 'd' };
	const char *s;

	(void)state;
	assert_int_equal(nl_attr_get_str((const struct nl_attr *)buf, &s), -EINVAL);
	buf[7] = 0;
	assert_int_equal(nl_attr_get_str((const struct nl_attr *)buf, &s), 0);
	assert_string_equal(s, "abc");
}

/* Appends a message with no payload beyond `payload` bytes of zeros. */
static size_t put_msg(uint8_t *buf, size_t off, uint16_t type, uint16_t flags,
		      uint32_t seq, uint32_t pid, size_t payload)
{
	struct nl_hdr *h = (struct nl_hdr *)(buf + off);

	memset(h, 0, NL_HDR_LEN + NL_ALIGN(payload));
	h->len = (uint32_t)(NL_HDR_LEN + payload);
	h->type = type;
	h->flags = flags;
	h->seq = seq;
	h->pid = pid;
	return off + NL_HDR_LEN + NL_ALIGN(payload);
}

static int count_cb(const struct nl_hdr *msg, void *ctx)
{
	(void)msg;
	++*(int *)ctx;
	return NL_CB_OK;
}

static void test_runner_dump(void **state)
{
	uint8_t buf[256];
	size_t len = 0;
	int n = 0;

	(void)state;
	len = put_msg(buf, len, 100, NL_F_MULTI, 5, 42, 4);
	len = put_msg(buf, len, NL_MSG_NOOP, NL_F_MULTI, 5, 42, 0);
	len = put_msg(buf, len, 100, NL_F_MULTI, 5, 42, 8);
	assert_int_equal(nl_cb_run(buf, len, 5, 42, count_cb, &n), NL_CB_OK);
	assert_int_equal(n, 2);

	len = put_msg(buf, len, NL_MSG_DONE, NL_F_MULTI, 5, 42, 4);
	n = 0;
	assert_int_equal(nl_cb_run(buf, len, 5, 42, count_cb, &n), NL_CB_STOP);
	assert_int_equal(n, 2);
}

static void test_runner_checks(void **state)
{
	uint8_t buf[256];
	size_t len;
	int n = 0;

	(void)state;
	len = put_msg(buf, 0, 100, 0, 5, 43, 0);
	assert_int_equal(nl_cb_run(buf, len, 5, 42, count_cb, &n), -ESRCH);
	len = put_msg(buf, 0, 100, 0, 6, 42, 0);
	assert_int_equal(nl_cb_run(buf, len, 5, 42, count_cb, &n), -EPROTO);
	/* Notifications carry seq 0 and pid 0 and pass both checks. */
	len = put_msg(buf, 0, 100, 0, 0, 0, 0);
	assert_int_equal(nl_cb_run(buf, len, 5, 42, count_cb, &n), NL_CB_OK);
	assert_int_equal(n, 1);
	/* A listener that expects nothing accepts any seq and pid. */
	len = put_msg(buf, 0, 100, 0, 77, 0, 0);
	assert_int_equal(nl_cb_run(buf, len, 0, 0, count_cb, &n), NL_CB_OK);

	len = put_msg(buf, 0, 100, NL_F_MULTI | NL_F_DUMP_INTR, 5, 42, 0);
	assert_int_equal(nl_cb_run(buf, len, 5, 42, count_cb, &n), -EINTR);
	len = put_msg(buf, 0, NL_MSG_OVERRUN, 0, 5, 42, 0);
	assert_int_equal(nl_cb_run(buf, len, 5, 42, count_cb, &n), -ENOBUFS);

	/* Truncated: header says more than the buffer holds. */
	len = put_msg(buf, 0, 100, 0, 5, 42, 16);
	assert_int_equal(nl_cb_run(buf, len - 4, 5, 42, count_cb, &n), -EBADMSG);
	/* Header length smaller than a header. */
	((struct nl_hdr *)buf)->len = 8;
	assert_int_equal(nl_cb_run(buf, len, 5, 42, count_cb, &n), -EBADMSG);
	/* Trailing bytes shorter than a header. */
	len = put_msg(buf, 0, 100, 0, 5, 42, 0);
	n = 0;
	assert_int_equal(nl_cb_run(buf, len + 4, 5, 42, count_cb, &n), -EBADMSG);
	assert_int_equal(n, 1);
}

static void test_runner_error_ack(void **state)
{
	uint8_t buf[128];
	size_t len;
	int32_t err;

	(void)state;
	len = put_msg(buf, 0, NL_MSG_ERROR, 0, 5, 42, sizeof(struct nl_err));
	err = -EPERM;
	memcpy(buf + NL_HDR_LEN, &err, sizeof err);
	assert_int_equal(nl_cb_run(buf, len, 5, 42, NULL, NULL), -EPERM);
	err = 0;
	memcpy(buf + NL_HDR_LEN, &err, sizeof err);
	assert_int_equal(nl_cb_run(buf, len, 5, 42, NULL, NULL), NL_CB_STOP);
	err = 5;
	memcpy(buf + NL_HDR_LEN, &err, sizeof err);
	assert_int_equal(nl_cb_run(buf, len, 5, 42, NULL, NULL), -EBADMSG);
	/* An error message too short to hold the error code. */
	len = put_msg(buf, 0, NL_MSG_ERROR, 0, 5, 42, 2);
	assert_int_equal(nl_cb_run(buf, len, 5, 42, NULL, NULL), -EBADMSG);
}

static int stop_cb(const struct nl_hdr *msg, void *ctx)
{
	(void)msg;
	(void)ctx;
	return -ECANCELED;
}

struct link_count {
	int links;
	int saw_lo;
};

static int link_cb(const struct nl_hdr *msg, void *ctx)
{
	struct link_count *lc = ctx;
	const struct nl_attr *tb[TEST_IFLA_IFNAME + 1];
	const struct nl_attr *attrs;
	const char *name;
	size_t len;

	if (msg->type != TEST_RTM_NEWLINK)
		return -EPROTO;
	attrs = nl_msg_attrs(msg, TEST_IFINFOMSG_LEN, &len);
	if (!attrs || nl_attr_parse(attrs, len, tb, TEST_IFLA_IFNAME) < 0)
		return -EBADMSG;
	if (nl_attr_get_str(tb[TEST_IFLA_IFNAME], &name) == 0 && strcmp(name, "lo") == 0)
		lc->saw_lo = 1;
	lc->links++;
	return NL_CB_OK;
}

static void test_kernel_route_dump(void **state)
{
	static uint8_t rbuf[NL_RECV_BUF_SIZE];
	uint8_t req[64];
	struct nl_msg m;
	struct link_count lc = { 0 };
	int fd, len;

	(void)state;
	fd = nl_sock_open(NL_PROTO_ROUTE, 0);
	assert_true(fd >= 0);
	assert_true(nl_sock_portid(fd) != 0);

	nl_msg_init(&m, req, sizeof req, TEST_RTM_GETLINK, NL_F_REQUEST | NL_F_DUMP, 1234);
	assert_non_null(nl_msg_put_extra(&m, TEST_IFINFOMSG_LEN));
	len = nl_msg_end(&m);
	assert_true(len > 0);
	assert_int_equal(nl_sock_request(fd, req, (size_t)len, rbuf, sizeof rbuf, link_cb, &lc), 0);
	assert_true(lc.links >= 1);
	assert_true(lc.saw_lo);

	/* A callback error ends the request and drains the dump, so the
	 * next request on the same socket works. */
	((struct nl_hdr *)req)->seq = 1235;
	assert_int_equal(nl_sock_request(fd, req, (size_t)len, rbuf, sizeof rbuf, stop_cb, NULL),
			 -ECANCELED);
	((struct nl_hdr *)req)->seq = 1236;
	lc.links = 0;
	assert_int_equal(nl_sock_request(fd, req, (size_t)len, rbuf, sizeof rbuf, link_cb, &lc), 0);
	assert_true(lc.links >= 1);
	close(fd);
}

static void test_kernel_plain_get(void **state)
{
	static uint8_t rbuf[NL_RECV_BUF_SIZE];
	uint8_t req[64];
	struct nl_msg m;
	struct link_count lc = { 0 };
	int32_t *ifindex;
	int fd, len;

	(void)state;
	fd = nl_sock_open(NL_PROTO_ROUTE, 0);
	assert_true(fd >= 0);
	/* RTM_GETLINK for ifindex 1 (lo) without NLM_F_DUMP or NLM_F_ACK:
	 * one RTM_NEWLINK message and nothing after it. */
	nl_msg_init(&m, req, sizeof req, TEST_RTM_GETLINK, NL_F_REQUEST, 77);
	ifindex = nl_msg_put_extra(&m, TEST_IFINFOMSG_LEN);
	assert_non_null(ifindex);
	ifindex[1] = 1;    /* struct ifinfomsg: family, pad, type; then ifi_index */
	len = nl_msg_end(&m);
	assert_int_equal(nl_sock_request(fd, req, (size_t)len, rbuf, sizeof rbuf, link_cb, &lc), 0);
	assert_int_equal(lc.links, 1);
	assert_true(lc.saw_lo);

	/* With NLM_F_ACK the request also waits for the ACK. */
	((struct nl_hdr *)req)->flags |= NL_F_ACK;
	((struct nl_hdr *)req)->seq = 78;
	lc.links = 0;
	assert_int_equal(nl_sock_request(fd, req, (size_t)len, rbuf, sizeof rbuf, link_cb, &lc), 0);
	assert_int_equal(lc.links, 1);
	close(fd);
}

static void test_kernel_join_group(void **state)
{
	int fd;

	(void)state;
	fd = nl_sock_open(NL_PROTO_ROUTE, 1);
	assert_true(fd >= 0);
	/* RTNLGRP_LINK (uapi linux/rtnetlink.h) is open to every user. */
	assert_int_equal(nl_sock_join(fd, 1), 0);
	/* Nothing is queued yet on a fresh non-blocking listener. */
	uint8_t buf[64];
	ssize_t n = nl_sock_recv(fd, buf, sizeof buf);
	assert_true(n == -EAGAIN || n > 0);
	close(fd);
}

static void test_kernel_error_reply(void **state)
{
	static uint8_t rbuf[NL_RECV_BUF_SIZE];
	uint8_t req[64];
	struct nl_msg m;
	int fd, len;

	(void)state;
	fd = nl_sock_open(NL_PROTO_ROUTE, 0);
	assert_true(fd >= 0);
	/* Type 0x7ff0 is no rtnetlink message: the kernel replies with
	 * NLMSG_ERROR carrying -EOPNOTSUPP (rtnetlink_rcv_msg). */
	nl_msg_init(&m, req, sizeof req, 0x7ff0, NL_F_REQUEST | NL_F_ACK, 9);
	len = nl_msg_end(&m);
	assert_int_equal(nl_sock_request(fd, req, (size_t)len, rbuf, sizeof rbuf, NULL, NULL),
			 -EOPNOTSUPP);
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_builder_layout),
		cmocka_unit_test(test_builder_overflow_sticky),
		cmocka_unit_test(test_attr_three_conditions),
		cmocka_unit_test(test_str_needs_nul),
		cmocka_unit_test(test_runner_dump),
		cmocka_unit_test(test_runner_checks),
		cmocka_unit_test(test_runner_error_ack),
		cmocka_unit_test(test_kernel_route_dump),
		cmocka_unit_test(test_kernel_error_reply),
		cmocka_unit_test(test_kernel_plain_get),
		cmocka_unit_test(test_kernel_join_group),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
