/* Netlink framing for any netlink family: a bounds-checked message builder,
 * message and attribute iteration, a callback runner, and thin socket
 * helpers.  Shaped like libmnl's core (nlmsg, attr, callback, socket), but
 * every builder call checks the buffer size and every length read from a
 * buffer passes the three-condition check before it is trusted.
 *
 * Wire format (uapi linux/netlink.h; all fields host byte order):
 *
 *   struct nlmsghdr (16 bytes)  len type flags seq pid
 *   family header               e.g. struct nfgenmsg, struct ifaddrmsg
 *   attributes                  struct nlattr (4 bytes: len type) + payload,
 *                               each padded to NL_ALIGNTO (4) bytes
 *
 * musl's headers do not ship <linux/netlink.h>, so this header defines the
 * structures and constants itself, with the uapi names prefixed by nl_/NL_
 * and the values of the uapi header (linux/netlink.h, Linux 6.1).  They
 * never clash with the kernel headers in a glibc build.
 *
 * Functions return 0 or a value >= 0 on success and -errno on failure; the
 * parsing side never allocates.  Only the nl_sock_* helpers do I/O. */
#ifndef RDAGENT_NETLINK_H
#define RDAGENT_NETLINK_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Protocols for socket(AF_NETLINK, ..., protocol); linux/netlink.h. */
#define NL_PROTO_ROUTE      0
#define NL_PROTO_NETFILTER  12

/* struct nlmsghdr nlmsg_flags; linux/netlink.h. */
#define NL_F_REQUEST        0x01
#define NL_F_MULTI          0x02
#define NL_F_ACK            0x04
#define NL_F_ECHO           0x08
#define NL_F_DUMP_INTR      0x10    /* the dump changed while it ran: dump again */
#define NL_F_DUMP_FILTERED  0x20
/* Modifiers of GET requests. */
#define NL_F_ROOT           0x100
#define NL_F_MATCH          0x200
#define NL_F_ATOMIC         0x400
#define NL_F_DUMP           (NL_F_ROOT | NL_F_MATCH)
/* Modifiers of NEW requests. */
#define NL_F_REPLACE        0x100
#define NL_F_EXCL           0x200
#define NL_F_CREATE         0x400
#define NL_F_APPEND         0x800
/* Flags of NLMSG_ERROR acknowledgements. */
#define NL_F_CAPPED         0x100
#define NL_F_ACK_TLVS       0x200

/* Control message types; linux/netlink.h.  Family types start at NL_MIN_TYPE. */
#define NL_MSG_NOOP         0x1
#define NL_MSG_ERROR        0x2
#define NL_MSG_DONE         0x3
#define NL_MSG_OVERRUN      0x4
#define NL_MIN_TYPE         0x10

/* struct nlattr nla_type flag bits; linux/netlink.h. */
#define NL_ATTR_F_NESTED        0x8000
#define NL_ATTR_F_NET_BYTEORDER 0x4000
#define NL_ATTR_TYPE_MASK       0x3fff

/* setsockopt(fd, SOL_NETLINK, ...); linux/socket.h and linux/netlink.h. */
#define NL_SOL_NETLINK          270
#define NL_OPT_ADD_MEMBERSHIP   1
#define NL_OPT_DROP_MEMBERSHIP  2
#define NL_OPT_NO_ENOBUFS       5
#define NL_OPT_EXT_ACK          11
#define NL_OPT_GET_STRICT_CHK   12

#define NL_ALIGNTO 4u
#define NL_ALIGN(len) (((len) + NL_ALIGNTO - 1) & ~(size_t)(NL_ALIGNTO - 1))

/* struct nlmsghdr. */
struct nl_hdr {
	uint32_t len;      /* whole message including this header, without final padding */
	uint16_t type;
	uint16_t flags;
	uint32_t seq;
	uint32_t pid;      /* port id of the sender; 0 for the kernel */
};

/* struct nlattr. */
struct nl_attr {
	uint16_t len;      /* header plus payload, without padding */
	uint16_t type;     /* NL_ATTR_F_* bits and the type */
};

/* struct nlmsgerr: payload of NL_MSG_ERROR; error is 0 for an ACK and a
 * negative errno otherwise, followed by the header of the request (and its
 * payload unless NL_F_CAPPED). */
struct nl_err {
	int32_t error;
	struct nl_hdr msg;
};

/* struct sockaddr_nl. */
struct nl_sockaddr {
	uint16_t family;   /* AF_NETLINK */
	uint16_t pad;
	uint32_t pid;
	uint32_t groups;
};

#define NL_HDR_LEN  NL_ALIGN(sizeof(struct nl_hdr))   /* 16 */
#define NL_ATTR_HDR_LEN NL_ALIGN(sizeof(struct nl_attr)) /* 4 */

/* Receive buffer size that never truncates a message: the kernel builds
 * dump messages of at most 32 KiB (net/netlink/af_netlink.c caps
 * max_recvmsg_len at SKB_WITH_OVERHEAD(32768)). */
#define NL_RECV_BUF_SIZE 32768

/* ---- Building a message in a caller-owned buffer ---- */

/* A builder writes one message at the start of buf.  The first call that
 * does not fit sets err to -EMSGSIZE; every later call then does nothing,
 * so a caller may add a run of attributes and check once in nl_msg_end. */
struct nl_msg {
	uint8_t *buf;
	size_t size;
	size_t len;        /* bytes used, always a multiple of NL_ALIGNTO */
	int err;           /* 0 or the first error (sticky) */
};

/* Starts a message with the given header fields at buf.  size must hold at
 * least NL_HDR_LEN, otherwise err is -EMSGSIZE. */
void nl_msg_init(struct nl_msg *m, void *buf, size_t size, uint16_t type,
		 uint16_t flags, uint32_t seq);
/* Reserves len zeroed bytes (padded to NL_ALIGNTO) for a family header
 * such as struct nfgenmsg; returns a pointer to them, or NULL on error. */
void *nl_msg_put_extra(struct nl_msg *m, size_t len);
/* Appends an attribute; each returns 0 or the sticky error. */
int nl_msg_put_attr(struct nl_msg *m, uint16_t type, const void *data, size_t len);
int nl_msg_put_u8(struct nl_msg *m, uint16_t type, uint8_t value);
int nl_msg_put_u16(struct nl_msg *m, uint16_t type, uint16_t value);
int nl_msg_put_u32(struct nl_msg *m, uint16_t type, uint32_t value);
int nl_msg_put_u64(struct nl_msg *m, uint16_t type, uint64_t value);
/* Network byte order forms, as nf_tables expects for most integers. */
int nl_msg_put_be16(struct nl_msg *m, uint16_t type, uint16_t value);
int nl_msg_put_be32(struct nl_msg *m, uint16_t type, uint32_t value);
/* Appends the string with its terminating NUL. */
int nl_msg_put_strz(struct nl_msg *m, uint16_t type, const char *s);
/* Opens a nested attribute (NL_ATTR_F_NESTED set); returns its offset for
 * nl_msg_nest_end, or -errno. */
long nl_msg_nest_start(struct nl_msg *m, uint16_t type);
/* Closes the nest opened at offset by setting its length. */
void nl_msg_nest_end(struct nl_msg *m, long offset);
/* Sets the header length and returns the message length, or the sticky
 * error.  The message stays at buf. */
int nl_msg_end(struct nl_msg *m);

/* ---- Walking received messages ---- */

/* Returns 1 when a complete message header and body of h->len bytes fit in
 * remaining: remaining >= header, h->len >= header, h->len <= remaining. */
int nl_msg_ok(const struct nl_hdr *h, size_t remaining);
/* Steps to the next message and decreases *remaining by the aligned length
 * of h.  The caller checks the result with nl_msg_ok. */
const struct nl_hdr *nl_msg_next(const struct nl_hdr *h, size_t *remaining);
const void *nl_msg_payload(const struct nl_hdr *h);
size_t nl_msg_payload_len(const struct nl_hdr *h);
/* Returns the attributes that follow a family header of extra_len bytes
 * (aligned), or NULL with *len 0 when the message is shorter than that. */
const struct nl_attr *nl_msg_attrs(const struct nl_hdr *h, size_t extra_len, size_t *len);

/* ---- Attributes ---- */

/* Returns 1 when an attribute header and payload fit in remaining:
 * remaining >= 4, a->len >= 4, a->len <= remaining. */
int nl_attr_ok(const struct nl_attr *a, size_t remaining);
const struct nl_attr *nl_attr_next(const struct nl_attr *a, size_t *remaining);
uint16_t nl_attr_type(const struct nl_attr *a);
const void *nl_attr_payload(const struct nl_attr *a);
size_t nl_attr_payload_len(const struct nl_attr *a);

/* Iterates over the attributes in (data, len); ends at the first one that
 * fails nl_attr_ok.  Use nl_attr_parse when trailing bytes must be caught. */
#define nl_attr_for_each(a, data, len, rem) \
	for ((rem) = (len), (a) = (const struct nl_attr *)(data); \
	     nl_attr_ok((a), (rem)); (a) = nl_attr_next((a), &(rem)))

/* Fills tb[0..max] with the last attribute of each type <= max in (data,
 * len) and NULL elsewhere; types above max are skipped.  Returns 0, or
 * -EBADMSG when the attributes do not tile len exactly (a length field is
 * out of bounds or bytes are left over). */
int nl_attr_parse(const void *data, size_t len, const struct nl_attr **tb, unsigned max);
/* Same for the payload of a nested attribute. */
int nl_attr_parse_nested(const struct nl_attr *nest, const struct nl_attr **tb, unsigned max);

/* Typed getters: each checks the payload length (exactly the type's size;
 * for strings, a NUL inside the payload) and returns 0 or -EINVAL.  The
 * be forms convert from network byte order. */
int nl_attr_get_u8(const struct nl_attr *a, uint8_t *out);
int nl_attr_get_u16(const struct nl_attr *a, uint16_t *out);
int nl_attr_get_u32(const struct nl_attr *a, uint32_t *out);
int nl_attr_get_u64(const struct nl_attr *a, uint64_t *out);
int nl_attr_get_be16(const struct nl_attr *a, uint16_t *out);
int nl_attr_get_be32(const struct nl_attr *a, uint32_t *out);
int nl_attr_get_be64(const struct nl_attr *a, uint64_t *out);
/* *out points into the payload; the string ends at its first NUL. */
int nl_attr_get_str(const struct nl_attr *a, const char **out);

/* ---- The callback runner ---- */

/* A message callback returns NL_CB_OK to continue, NL_CB_STOP to stop
 * without error, or a negative errno that nl_cb_run passes on. */
enum { NL_CB_STOP = 0, NL_CB_OK = 1 };
typedef int nl_msg_cb(const struct nl_hdr *msg, void *ctx);

/* Walks the messages in buf (one recv's worth) and calls cb for each
 * message of a family type (>= NL_MIN_TYPE).  Checks, in order, for each
 * message:
 *   - the three length conditions: -EBADMSG when they fail, including
 *     bytes left over after the last message;
 *   - port id: -ESRCH unless portid == 0, h->pid == 0 or they are equal;
 *   - sequence: -EPROTO unless seq == 0, h->seq == 0 or they are equal
 *     (the kernel sends multicast notifications with seq 0);
 *   - NL_F_DUMP_INTR: -EINTR, which means the dump is inconsistent and the
 *     caller must discard what it collected and dump again.
 * NL_MSG_ERROR returns its error (negative errno), or NL_CB_STOP for an
 * ACK (error 0); a truncated error message is -EBADMSG.  NL_MSG_DONE
 * returns NL_CB_STOP; NOOP is skipped; OVERRUN is -ENOBUFS.
 * Returns NL_CB_OK when buf ended and more messages may follow. */
int nl_cb_run(const void *buf, size_t len, uint32_t seq, uint32_t portid,
	      nl_msg_cb *cb, void *ctx);

/* ---- Sockets (the only functions here that do I/O) ---- */

/* Opens and binds an AF_NETLINK socket of protocol (NL_PROTO_*), with
 * SOCK_CLOEXEC and, when nonblock, SOCK_NONBLOCK.  The kernel picks the
 * port id; nl_sock_portid reads it back.  Returns the fd or -errno
 * (-EPERM/-EACCES without CAP_NET_ADMIN where the family requires it,
 * -EPROTONOSUPPORT when the kernel lacks the family). */
int nl_sock_open(int protocol, int nonblock);
/* Returns the port id bound to fd, or 0 when getsockname fails. */
uint32_t nl_sock_portid(int fd);
/* Joins a multicast group (a group number, not a bit mask). */
int nl_sock_join(int fd, unsigned group);
/* Sets an integer socket option at NL_SOL_NETLINK. */
int nl_sock_set_opt(int fd, int option, int value);
/* Sends one message (or a batch) to the kernel; 0 or -errno. */
int nl_sock_send(int fd, const void *buf, size_t len);
/* Receives one datagram; returns its length, or -errno: -EAGAIN on an
 * empty non-blocking socket, -ENOBUFS when the kernel dropped messages for
 * lack of receive buffer (a multicast listener must resynchronise), and
 * -EMSGSIZE when the datagram was longer than size (it is then lost).
 * Datagrams from a sender other than the kernel (pid != 0) are dropped. */
ssize_t nl_sock_recv(int fd, void *buf, size_t size);
/* Sends the request in (req, req_len), whose header carries seq, then
 * receives into (buf, size) and runs cb until the request completes:
 * NL_MSG_DONE, an ACK or an error, or for a request without NL_F_ACK a
 * reply message without NL_F_MULTI.  Set NL_F_ACK only on requests that
 * are not dumps, because the kernel ends a dump with NL_MSG_DONE.  On -EINTR (interrupted dump) and on
 * an error a callback returned, it first reads the rest of the reply so
 * the socket can serve the next request.  After -EBADMSG, -ESRCH, -EPROTO
 * or a receive error the socket state is unknown and the caller should
 * close it.  fd must be blocking.  Returns 0 or -errno. */
int nl_sock_request(int fd, const void *req, size_t req_len, void *buf, size_t size,
		    nl_msg_cb *cb, void *ctx);

#endif
