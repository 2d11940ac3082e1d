/* see lib/inetdiag.h */
#include "inetdiag.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>

/* musl ships no <linux/...> headers, so the uapi layouts are restated
 * here from include/uapi/linux/{netlink,sock_diag,inet_diag}.h. */
#define NETLINK_MSG_ERROR 2
#define NETLINK_MSG_DONE 3
#define NETLINK_F_REQUEST 0x1
#define NETLINK_F_DUMP 0x300
#define SOCK_DIAG_BY_FAMILY 20
#define INET_DIAG_REQ_BYTECODE 1
#define INET_DIAG_BC_S_GE 2
#define INET_DIAG_BC_S_LE 3
#define INET_DIAG_SKV6ONLY 11

struct nl_header {
	uint32_t len;
	uint16_t type;
	uint16_t flags;
	uint32_t seq;
	uint32_t pid;
};

struct diag_sockid {
	uint16_t sport;          /* network order */
	uint16_t dport;
	uint32_t src[4];
	uint32_t dst[4];
	uint32_t ifindex;
	uint32_t cookie[2];
};

struct diag_req_v2 {
	uint8_t family;
	uint8_t protocol;
	uint8_t ext;
	uint8_t pad;
	uint32_t states;
	struct diag_sockid id;
};

struct diag_msg {
	uint8_t family;
	uint8_t state;
	uint8_t timer;
	uint8_t retrans;
	struct diag_sockid id;
	uint32_t expires;
	uint32_t rqueue;
	uint32_t wqueue;
	uint32_t uid;
	uint32_t inode;
};

struct nl_attr {
	uint16_t len;
	uint16_t type;
};

struct bc_op {
	uint8_t code;
	uint8_t yes;
	uint16_t no;
};

_Static_assert(sizeof(struct nl_header) == 16, "nlmsghdr is 16 bytes");
_Static_assert(sizeof(struct diag_req_v2) == 56, "inet_diag_req_v2 is 56 bytes");
_Static_assert(sizeof(struct diag_msg) == 72, "inet_diag_msg is 72 bytes");
_Static_assert(INETDIAG_REQUEST_MAX >= 16 + 56 + 4 + 4 * sizeof(struct bc_op),
	       "request buffer holds header, request and bytecode");

#define ALIGN4(n) (((n) + 3u) & ~3u)

/* see lib/inetdiag.h */
int inetdiag_build_request(void *buf, size_t size, uint32_t seq, int family,
			   int protocol, uint32_t states, uint16_t port)
{
	struct nl_header nh = { 0 };
	struct diag_req_v2 req = { 0 };
	unsigned char *p = buf;
	size_t len = sizeof nh + sizeof req;

	if (size < INETDIAG_REQUEST_MAX || (family != AF_INET && family != AF_INET6) ||
	    (protocol != IPPROTO_TCP && protocol != IPPROTO_UDP))
		return -EINVAL;
	req.family = (uint8_t)family;
	req.protocol = (uint8_t)protocol;
	/* No ext bits: the kernel adds INET_DIAG_SKV6ONLY to each AF_INET6
	 * socket without being asked (checked on Linux 6.18). */
	req.states = states;
	memset(buf, 0, size);
	if (port) {
		/* The filter "sport >= port && sport <= port" in inet_diag
		 * bytecode.  Each op jumps 'yes' bytes when its test is true and
		 * 'no' bytes when false.  A socket matches when the program ends
		 * exactly at its last byte, and a jump 4 bytes past the end
		 * rejects it.  The port operand is in host order, in the 'no'
		 * field of the op that follows.  Checked with strace on Linux
		 * 6.18: the kernel then returns only the sockets on the port. */
		struct bc_op ops[4] = {
			{ INET_DIAG_BC_S_GE, 8, 16 + 4 },
			{ 0, 0, port },
			{ INET_DIAG_BC_S_LE, 8, 8 + 4 },
			{ 0, 0, port },
		};
		struct nl_attr attr = { (uint16_t)(sizeof attr + sizeof ops), INET_DIAG_REQ_BYTECODE };

		memcpy(p + len, &attr, sizeof attr);
		memcpy(p + len + sizeof attr, ops, sizeof ops);
		len += sizeof attr + sizeof ops;
	}
	nh.len = (uint32_t)len;
	nh.type = SOCK_DIAG_BY_FAMILY;
	nh.flags = NETLINK_F_REQUEST | NETLINK_F_DUMP;
	nh.seq = seq;
	memcpy(p, &nh, sizeof nh);
	memcpy(p + sizeof nh, &req, sizeof req);
	return (int)len;
}

/* Reads the attributes after an inet_diag_msg; only INET_DIAG_SKV6ONLY
 * matters here.  Returns 0 or -EBADMSG. */
static int parse_attrs(const unsigned char *p, size_t len, struct inetdiag_socket *s)
{
	while (len >= sizeof(struct nl_attr)) {
		struct nl_attr attr;

		memcpy(&attr, p, sizeof attr);
		if (attr.len < sizeof attr || attr.len > len)
			return -EBADMSG;
		if ((attr.type & 0x3fff) == INET_DIAG_SKV6ONLY && attr.len >= sizeof attr + 1)
			s->v6only = p[sizeof attr] != 0;
		if (ALIGN4(attr.len) >= len)
			break;
		p += ALIGN4(attr.len);
		len -= ALIGN4(attr.len);
	}
	return 0;
}

static int parse_socket(const unsigned char *p, size_t len, inetdiag_socket_cb *cb, void *ctx)
{
	struct diag_msg msg;
	struct inetdiag_socket s;

	if (len < sizeof msg)
		return -EBADMSG;
	memcpy(&msg, p, sizeof msg);
	memset(&s, 0, sizeof s);
	s.family = msg.family;
	s.state = msg.state;
	s.port = ntohs(msg.id.sport);
	s.inode = msg.inode;
	s.v6only = -1;
	if (msg.family == AF_INET)
		memcpy(s.addr, msg.id.src, 4);
	else if (msg.family == AF_INET6)
		memcpy(s.addr, msg.id.src, 16);
	else
		return 0;
	if (parse_attrs(p + sizeof msg, len - sizeof msg, &s) < 0)
		return -EBADMSG;
	cb(ctx, &s);
	return 0;
}

/* see lib/inetdiag.h */
int inetdiag_parse(const void *buf, size_t len, uint32_t seq,
		   inetdiag_socket_cb *cb, void *ctx)
{
	const unsigned char *p = buf;

	/* The three checks before reading a message: room for a header, a
	 * declared length of at least a header, and no more than remains. */
	while (len >= sizeof(struct nl_header)) {
		struct nl_header nh;
		size_t body;

		memcpy(&nh, p, sizeof nh);
		if (nh.len < sizeof nh || nh.len > len)
			return -EBADMSG;
		body = nh.len - sizeof nh;
		if (nh.seq != seq) {
			/* A reply to an earlier, abandoned request: skip it. */
		} else if (nh.type == NETLINK_MSG_DONE) {
			return 0;
		} else if (nh.type == NETLINK_MSG_ERROR) {
			int32_t err;

			if (body < sizeof err)
				return -EBADMSG;
			memcpy(&err, p + sizeof nh, sizeof err);
			return err < 0 ? err : -EBADMSG;
		} else if (nh.type == SOCK_DIAG_BY_FAMILY) {
			int r = parse_socket(p + sizeof nh, body, cb, ctx);

			if (r < 0)
				return r;
		}
		if (ALIGN4(nh.len) >= len)
			return 1;
		p += ALIGN4(nh.len);
		len -= ALIGN4(nh.len);
	}
	return len ? -EBADMSG : 1;
}
