/* see lib/netlink.h */
#include "netlink.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

/* ---- builder ---- */

static void *msg_reserve(struct nl_msg *m, size_t len)
{
	size_t total = NL_ALIGN(len);
	uint8_t *p;

	if (m->err)
		return NULL;
	if (len > UINT32_MAX || total > m->size - m->len) {
		m->err = -EMSGSIZE;
		return NULL;
	}
	p = m->buf + m->len;
	memset(p, 0, total);
	m->len += total;
	return p;
}

/* see lib/netlink.h */
void nl_msg_init(struct nl_msg *m, void *buf, size_t size, uint16_t type,
		 uint16_t flags, uint32_t seq)
{
	struct nl_hdr *h;

	m->buf = buf;
	m->size = size;
	m->len = 0;
	m->err = 0;
	h = msg_reserve(m, NL_HDR_LEN);
	if (!h)
		return;
	h->type = type;
	h->flags = flags;
	h->seq = seq;
	h->pid = 0;
	h->len = NL_HDR_LEN;
}

/* see lib/netlink.h */
void *nl_msg_put_extra(struct nl_msg *m, size_t len)
{
	return msg_reserve(m, len);
}

/* see lib/netlink.h */
int nl_msg_put_attr(struct nl_msg *m, uint16_t type, const void *data, size_t len)
{
	struct nl_attr *a;

	if (!m->err && len > UINT16_MAX - NL_ATTR_HDR_LEN) {
		m->err = -EMSGSIZE;
		return m->err;
	}
	a = msg_reserve(m, NL_ATTR_HDR_LEN + len);
	if (!a)
		return m->err;
	a->len = (uint16_t)(NL_ATTR_HDR_LEN + len);
	a->type = type;
	if (len)
		memcpy((uint8_t *)a + NL_ATTR_HDR_LEN, data, len);
	return 0;
}

int nl_msg_put_u8(struct nl_msg *m, uint16_t type, uint8_t value)
{
	return nl_msg_put_attr(m, type, &value, sizeof value);
}

int nl_msg_put_u16(struct nl_msg *m, uint16_t type, uint16_t value)
{
	return nl_msg_put_attr(m, type, &value, sizeof value);
}

int nl_msg_put_u32(struct nl_msg *m, uint16_t type, uint32_t value)
{
	return nl_msg_put_attr(m, type, &value, sizeof value);
}

int nl_msg_put_u64(struct nl_msg *m, uint16_t type, uint64_t value)
{
	return nl_msg_put_attr(m, type, &value, sizeof value);
}

int nl_msg_put_be16(struct nl_msg *m, uint16_t type, uint16_t value)
{
	uint8_t b[2] = { (uint8_t)(value >> 8), (uint8_t)value };

	return nl_msg_put_attr(m, type, b, sizeof b);
}

int nl_msg_put_be32(struct nl_msg *m, uint16_t type, uint32_t value)
{
	uint8_t b[4] = { (uint8_t)(value >> 24), (uint8_t)(value >> 16),
			 (uint8_t)(value >> 8), (uint8_t)value };

	return nl_msg_put_attr(m, type, b, sizeof b);
}

int nl_msg_put_strz(struct nl_msg *m, uint16_t type, const char *s)
{
	return nl_msg_put_attr(m, type, s, strlen(s) + 1);
}

/* see lib/netlink.h */
long nl_msg_nest_start(struct nl_msg *m, uint16_t type)
{
	size_t offset = m->len;

	if (nl_msg_put_attr(m, type | NL_ATTR_F_NESTED, NULL, 0) < 0)
		return m->err;
	return (long)offset;
}

/* see lib/netlink.h */
void nl_msg_nest_end(struct nl_msg *m, long offset)
{
	struct nl_attr *a;
	size_t len;

	if (m->err || offset < 0 || (size_t)offset + NL_ATTR_HDR_LEN > m->len)
		return;
	len = m->len - (size_t)offset;
	if (len > UINT16_MAX) {
		m->err = -EMSGSIZE;
		return;
	}
	a = (struct nl_attr *)(m->buf + offset);
	a->len = (uint16_t)len;
}

/* see lib/netlink.h */
int nl_msg_end(struct nl_msg *m)
{
	if (m->err)
		return m->err;
	((struct nl_hdr *)m->buf)->len = (uint32_t)m->len;
	return (int)m->len;
}

/* ---- messages ---- */

/* see lib/netlink.h */
int nl_msg_ok(const struct nl_hdr *h, size_t remaining)
{
	return remaining >= sizeof *h && h->len >= sizeof *h && h->len <= remaining;
}

/* see lib/netlink.h */
const struct nl_hdr *nl_msg_next(const struct nl_hdr *h, size_t *remaining)
{
	size_t step = NL_ALIGN((size_t)h->len);

	if (step > *remaining)
		step = *remaining;
	*remaining -= step;
	return (const struct nl_hdr *)((const uint8_t *)h + step);
}

const void *nl_msg_payload(const struct nl_hdr *h)
{
	return (const uint8_t *)h + NL_HDR_LEN;
}

size_t nl_msg_payload_len(const struct nl_hdr *h)
{
	return h->len - NL_HDR_LEN;
}

/* see lib/netlink.h */
const struct nl_attr *nl_msg_attrs(const struct nl_hdr *h, size_t extra_len, size_t *len)
{
	size_t payload = nl_msg_payload_len(h);
	size_t skip = NL_ALIGN(extra_len);

	if (payload < extra_len) {
		*len = 0;
		return NULL;
	}
	/* The kernel pads the family header; a message that ends inside the
	 * padding has no attributes. */
	*len = payload > skip ? payload - skip : 0;
	return (const struct nl_attr *)((const uint8_t *)nl_msg_payload(h) + skip);
}

/* ---- attributes ---- */

/* see lib/netlink.h */
int nl_attr_ok(const struct nl_attr *a, size_t remaining)
{
	return remaining >= sizeof *a && a->len >= sizeof *a && a->len <= remaining;
}

/* see lib/netlink.h */
const struct nl_attr *nl_attr_next(const struct nl_attr *a, size_t *remaining)
{
	size_t step = NL_ALIGN((size_t)a->len);

	if (step > *remaining)
		step = *remaining;
	*remaining -= step;
	return (const struct nl_attr *)((const uint8_t *)a + step);
}

uint16_t nl_attr_type(const struct nl_attr *a)
{
	return a->type & NL_ATTR_TYPE_MASK;
}

const void *nl_attr_payload(const struct nl_attr *a)
{
	return (const uint8_t *)a + NL_ATTR_HDR_LEN;
}

size_t nl_attr_payload_len(const struct nl_attr *a)
{
	return a->len - NL_ATTR_HDR_LEN;
}

/* see lib/netlink.h */
int nl_attr_parse(const void *data, size_t len, const struct nl_attr **tb, unsigned max)
{
	const struct nl_attr *a;
	size_t rem;

	for (unsigned i = 0; i <= max; i++)
		tb[i] = NULL;
	if (!data)
		return len ? -EBADMSG : 0;
	nl_attr_for_each(a, data, len, rem) {
		uint16_t type = nl_attr_type(a);

		if (type <= max)
			tb[type] = a;
	}
	return rem ? -EBADMSG : 0;
}

/* see lib/netlink.h */
int nl_attr_parse_nested(const struct nl_attr *nest, const struct nl_attr **tb, unsigned max)
{
	return nl_attr_parse(nl_attr_payload(nest), nl_attr_payload_len(nest), tb, max);
}

static int get_exact(const struct nl_attr *a, void *out, size_t size)
{
	if (!a || nl_attr_payload_len(a) != size)
		return -EINVAL;
	memcpy(out, nl_attr_payload(a), size);
	return 0;
}

int nl_attr_get_u8(const struct nl_attr *a, uint8_t *out)
{
	return get_exact(a, out, sizeof *out);
}

int nl_attr_get_u16(const struct nl_attr *a, uint16_t *out)
{
	return get_exact(a, out, sizeof *out);
}

int nl_attr_get_u32(const struct nl_attr *a, uint32_t *out)
{
	return get_exact(a, out, sizeof *out);
}

int nl_attr_get_u64(const struct nl_attr *a, uint64_t *out)
{
	return get_exact(a, out, sizeof *out);
}

int nl_attr_get_be16(const struct nl_attr *a, uint16_t *out)
{
	uint8_t b[2];

	if (get_exact(a, b, sizeof b) < 0)
		return -EINVAL;
	*out = (uint16_t)(b[0] << 8 | b[1]);
	return 0;
}

int nl_attr_get_be32(const struct nl_attr *a, uint32_t *out)
{
	uint8_t b[4];

	if (get_exact(a, b, sizeof b) < 0)
		return -EINVAL;
	*out = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
	return 0;
}

int nl_attr_get_be64(const struct nl_attr *a, uint64_t *out)
{
	uint8_t b[8];
	uint64_t v = 0;

	if (get_exact(a, b, sizeof b) < 0)
		return -EINVAL;
	for (int i = 0; i < 8; i++)
		v = v << 8 | b[i];
	*out = v;
	return 0;
}

int nl_attr_get_str(const struct nl_attr *a, const char **out)
{
	if (!a || !memchr(nl_attr_payload(a), 0, nl_attr_payload_len(a)))
		return -EINVAL;
	*out = nl_attr_payload(a);
	return 0;
}

/* ---- callback runner ---- */

/* Turns an NL_MSG_ERROR message into NL_CB_STOP (ACK) or -errno. */
static int error_message(const struct nl_hdr *h)
{
	const struct nl_err *e;
	int32_t error;

	if (nl_msg_payload_len(h) < sizeof e->error)
		return -EBADMSG;
	e = nl_msg_payload(h);
	memcpy(&error, &e->error, sizeof error);
	if (error == 0)
		return NL_CB_STOP;
	/* The kernel sends a negative errno; a positive one would be a
	 * broken sender, so it is reported as such instead of as success. */
	if (error > 0 || error < -4095)
		return -EBADMSG;
	return error;
}

/* see lib/netlink.h */
int nl_cb_run(const void *buf, size_t len, uint32_t seq, uint32_t portid,
	      nl_msg_cb *cb, void *ctx)
{
	const struct nl_hdr *h = buf;
	size_t rem = len;

	while (rem) {
		int r;

		if (!nl_msg_ok(h, rem))
			return -EBADMSG;
		if (portid && h->pid && h->pid != portid)
			return -ESRCH;
		if (seq && h->seq && h->seq != seq)
			return -EPROTO;
		if (h->flags & NL_F_DUMP_INTR)
			return -EINTR;

		switch (h->type) {
		case NL_MSG_NOOP:
			r = NL_CB_OK;
			break;
		case NL_MSG_ERROR:
			return error_message(h);
		case NL_MSG_DONE:
			return NL_CB_STOP;
		case NL_MSG_OVERRUN:
			return -ENOBUFS;
		default:
			r = h->type >= NL_MIN_TYPE && cb ? cb(h, ctx) : NL_CB_OK;
			break;
		}
		if (r != NL_CB_OK)
			return r;
		h = nl_msg_next(h, &rem);
	}
	return NL_CB_OK;
}

/* ---- sockets ---- */

/* see lib/netlink.h */
int nl_sock_open(int protocol, int nonblock)
{
	struct nl_sockaddr sa = { .family = AF_NETLINK };
	int type = SOCK_RAW | SOCK_CLOEXEC | (nonblock ? SOCK_NONBLOCK : 0);
	int fd = socket(AF_NETLINK, type, protocol);

	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
		int r = -errno;

		close(fd);
		return r;
	}
	return fd;
}

/* see lib/netlink.h */
uint32_t nl_sock_portid(int fd)
{
	struct nl_sockaddr sa;
	socklen_t len = sizeof sa;

	memset(&sa, 0, sizeof sa);
	if (getsockname(fd, (struct sockaddr *)&sa, &len) < 0)
		return 0;
	return sa.pid;
}

/* see lib/netlink.h */
int nl_sock_set_opt(int fd, int option, int value)
{
	if (setsockopt(fd, NL_SOL_NETLINK, option, &value, sizeof value) < 0)
		return -errno;
	return 0;
}

/* see lib/netlink.h */
int nl_sock_join(int fd, unsigned group)
{
	return nl_sock_set_opt(fd, NL_OPT_ADD_MEMBERSHIP, (int)group);
}

/* see lib/netlink.h */
int nl_sock_send(int fd, const void *buf, size_t len)
{
	struct nl_sockaddr sa = { .family = AF_NETLINK };
	ssize_t n;

	do
		n = sendto(fd, buf, len, 0, (struct sockaddr *)&sa, sizeof sa);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	return (size_t)n == len ? 0 : -EMSGSIZE;
}

/* see lib/netlink.h */
ssize_t nl_sock_recv(int fd, void *buf, size_t size)
{
	for (;;) {
		struct nl_sockaddr sa;
		struct iovec iov = { .iov_base = buf, .iov_len = size };
		struct msghdr mh = {
			.msg_name = &sa, .msg_namelen = sizeof sa,
			.msg_iov = &iov, .msg_iovlen = 1,
		};
		ssize_t n = recvmsg(fd, &mh, 0);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (mh.msg_flags & MSG_TRUNC)
			return -EMSGSIZE;
		/* Only the kernel (port id 0) sends to this socket, so anything else
		 * is a forged reply from another process. */
		if (mh.msg_namelen >= sizeof sa && sa.pid != 0)
			continue;
		return n;
	}
}

/* Reads and drops the rest of the reply to seq, up to its NL_MSG_DONE or
 * NL_MSG_ERROR.  Returns 0, or -errno when the stream cannot be followed. */
static int drain_reply(int fd, void *buf, size_t size, uint32_t seq)
{
	for (;;) {
		ssize_t n = nl_sock_recv(fd, buf, size);
		const struct nl_hdr *h = buf;
		size_t rem;

		if (n < 0)
			return (int)n;
		rem = (size_t)n;
		while (nl_msg_ok(h, rem)) {
			if (h->seq == seq && (h->type == NL_MSG_DONE || h->type == NL_MSG_ERROR))
				return 0;
			h = nl_msg_next(h, &rem);
		}
		if (rem)
			return -EBADMSG;
	}
}

/* Wraps the caller's callback to tell its errors from the kernel's. */
struct request_ctx {
	nl_msg_cb *cb;
	void *ctx;
	int cb_failed;
};

static int request_cb(const struct nl_hdr *msg, void *ctx)
{
	struct request_ctx *rc = ctx;
	int r = rc->cb ? rc->cb(msg, rc->ctx) : NL_CB_OK;

	if (r < 0 || r == NL_CB_STOP)
		rc->cb_failed = 1;
	return r;
}

/* Returns 1 when the datagram in (buf, len) ends the reply: it contains a
 * NL_MSG_DONE or NL_MSG_ERROR, or a message without NL_F_MULTI. */
static int reply_complete(const void *buf, size_t len)
{
	const struct nl_hdr *h = buf;
	size_t rem = len;

	while (nl_msg_ok(h, rem)) {
		if (h->type == NL_MSG_DONE || h->type == NL_MSG_ERROR || !(h->flags & NL_F_MULTI))
			return 1;
		h = nl_msg_next(h, &rem);
	}
	return 0;
}

/* see lib/netlink.h */
int nl_sock_request(int fd, const void *req, size_t req_len, void *buf, size_t size,
		    nl_msg_cb *cb, void *ctx)
{
	const struct nl_hdr *rh = req;
	struct request_ctx rc = { .cb = cb, .ctx = ctx };
	uint32_t portid = nl_sock_portid(fd);
	uint32_t seq;
	int r;

	if (req_len < NL_HDR_LEN)
		return -EINVAL;
	seq = rh->seq;
	r = nl_sock_send(fd, req, req_len);
	if (r < 0)
		return r;
	for (;;) {
		ssize_t n = nl_sock_recv(fd, buf, size);

		if (n < 0)
			return (int)n;
		r = nl_cb_run(buf, (size_t)n, seq, portid, request_cb, &rc);
		/* A reply to a request without NL_F_ACK that is not
		 * multi-part (a plain GET) ends with its one message. */
		if (r == NL_CB_OK && !(rh->flags & NL_F_ACK) && reply_complete(buf, (size_t)n))
			return 0;
		if (r == NL_CB_OK)
			continue;
		/* A callback that stopped, or an interrupted dump, leaves the
		 * rest of the reply queued; read it so the next request on
		 * this socket receives only its own reply. */
		if ((rc.cb_failed || r == -EINTR) && !reply_complete(buf, (size_t)n)) {
			int d = drain_reply(fd, buf, size, seq);

			if (d < 0)
				return d;
		}
		return r == NL_CB_STOP ? 0 : r;
	}
}
