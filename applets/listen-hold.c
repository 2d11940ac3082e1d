/* usage: listen-hold [--udp] [--recheck SECONDS] [-v|-q]
 *
 * Reads port events on stdin and holds a placeholder listening socket for
 * every binding, so that WSL's localhost forwarding relays the port.
 *
 * TCP is held with SO_REUSEADDR on exactly the binding's address (IPv6
 * with IPV6_V6ONLY); connections that arrive are accepted and closed.
 * A TCP address in 127.0.0.0/8 is held on 127.0.0.1, and any other
 * specific address is held as given, with a warning that WSL does not
 * relay it.  An IPv4-mapped IPv6 address (::ffff:a.b.c.d) is held as
 * the IPv4 address.  No address is widened to 0.0.0.0 or ::.
 * A port that another process already listens on is left alone and
 * checked again every --recheck seconds.  SCTP is never held.
 *
 *   --udp                hold UDP bindings too (bind, read and drop
 *                        datagrams); without it they are logged as not held
 *   --recheck SECONDS    how often to check whether a port that another
 *                        process listens on was freed (1-3600, default 30)
 *   -v, --debug, --verbose
 *                        log debug messages
 *   -q, --quiet          log warnings and errors only
 *
 * End of input, SIGTERM or SIGINT closes every socket and exits 0; a
 * failed read of standard input closes every socket and exits 1.
 * SIGUSR1 logs every held endpoint with its state and owners.
 * Exit codes: 0 done, 1 setup or reading input failed, 2 usage error.
 */
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "applet.h"
#include "bindings.h"
#include "clock.h"
#include "inetdiag.h"
#include "io.h"
#include "loop.h"
#include "pev.h"

#define RETRY_INITIAL_MS 1000
#define RETRY_MAX_MS 60000
/* How long a listener stops accepting after accept4 ran out of
 * descriptors, so that a full backlog cannot spin the loop. */
#define ACCEPT_PAUSE_MS 1000
/* Datagrams or connections handled per wake-up before other work runs. */
#define DRAIN_BATCH 64
/* Reads of standard input per wake-up while more input is waiting: up to
 * 256 KiB of events, whose new holds share one socket dump. */
#define INPUT_READS_MAX 64
#define LISTEN_BACKLOG 64
/* NETLINK_SOCK_DIAG from <linux/netlink.h>; musl has no linux headers. */
#define NETLINK_SOCK_DIAG 4
#define TCP_STATE_LISTEN 10
#define TCP_STATE_CLOSE 7
/* An owner list for a log line: the longest owner, then " and N more". */
#define OWNERS_TEXT_MAX (PEV_OWNER_MAX + 32)
#define INITIAL_BUCKETS 64

enum hold_state {
	HOLD_NEW,        /* no attempt yet */
	HOLD_OPEN,       /* our socket is bound */
	HOLD_BUSY,       /* another process holds the port; re-checked */
	HOLD_COVERED,    /* our own wildcard socket on the port covers it */
	HOLD_RETRY,      /* socket, bind or listen failed; retried with backoff */
	HOLD_PAUSED,     /* open, but not accepting for ACCEPT_PAUSE_MS */
};

struct hold;

/* Ties one endpoint of the binding table to the hold it maps to; several
 * endpoints (127.0.0.1 and 127.0.0.5, say) can share a hold. */
struct hold_link {
	struct hold *hold;
	struct endpoint *endpoint;
	struct hold_link *prev, *next;
};

/* One socket that listen-hold keeps: (PROTO, address, port) after the
 * address mapping, shared by every endpoint that maps to it. */
struct hold {
	enum pev_proto proto;
	struct pev_addr addr;
	uint16_t port;
	struct hold_link *links;     /* endpoints that map to this hold */
	enum hold_state state;
	int fd;
	unsigned long inode;         /* of fd, to recognise our own sockets */
	struct loop_watch watch;
	struct loop_timer timer;
	struct backoff backoff;
	int last_errno;              /* of the last failed attempt, for the log */
	const char *last_operation;  /* the call that failed with last_errno */
	/* The result of the last listener check: another process listens on
	 * other_addr (other_found), or the check failed with check_error. */
	int other_found;
	struct pev_addr other_addr;
	int check_error;
	int queued;                  /* on the pending list */
	struct hold *pending_prev, *pending_next;
	struct hold *bucket_next;    /* in lh->buckets, keyed by (proto, port) */
	struct hold *prev, *next;
};

struct listen_hold {
	struct loop loop;
	struct binding_table table;
	struct pev_consumer consumer;
	struct loop_watch input;
	struct hold *holds;
	/* Holds by (proto, port), so that everything on one port is found
	 * without a walk over every hold. */
	struct hold **buckets;
	size_t bucket_count, hold_count;
	/* Holds waiting for an attempt; one socket dump serves them all. */
	struct hold *pending, *pending_tail;
	int udp;
	unsigned recheck_ms;
	int shutting_down;
	int diag_fd;                 /* NETLINK_SOCK_DIAG, opened on first use */
	uint32_t diag_seq;
	enum pev_proto diag_proto;   /* protocol of the dump being read */
	struct log_limit accept_limit;
};

/* Formats "tcp 127.0.0.1:80" or "tcp [::1]:80" into buf. */
static const char *endpoint_text(char *buf, size_t size, enum pev_proto proto,
				 const struct pev_addr *addr, uint16_t port)
{
	char text[INET6_ADDRSTRLEN];

	pev_addr_format(addr, text, sizeof text);
	snprintf(buf, size, addr->family == AF_INET6 ? "%s [%s]:%u" : "%s %s:%u",
		 pev_proto_name(proto), text, port);
	return buf;
}

static const char *hold_text(const struct hold *h, char *buf, size_t size)
{
	return endpoint_text(buf, size, h->proto, &h->addr, h->port);
}

static struct hold *endpoint_hold(const struct endpoint *e)
{
	const struct hold_link *link = e->data;

	return link ? link->hold : NULL;
}

/* Lists the owners of every endpoint that maps to h, for log lines.  The
 * first owner is always listed (size must be at least OWNERS_TEXT_MAX);
 * the list ends with "and N more" when the rest does not fit. */
static const char *hold_owners(const struct hold *h, char *buf, size_t size)
{
	/* Room kept for " and 4294967295 more". */
	const size_t more_max = 24;
	size_t used = 0;
	unsigned total = 0, listed = 0;

	buf[0] = 0;
	for (const struct hold_link *l = h->links; l; l = l->next)
		total += l->endpoint->owners;
	for (const struct hold_link *l = h->links; l; l = l->next) {
		for (const struct binding *b = l->endpoint->bindings; b; b = b->endpoint_next) {
			size_t need = strlen(b->owner) + (listed ? 2 : 0);

			if (listed && used + need + more_max >= size)
				goto full;
			used += (size_t)snprintf(buf + used, size - used, "%s%s",
						 listed ? ", " : "", b->owner);
			if (used >= size)
				used = size - 1;
			listed++;
		}
	}
full:
	if (total > listed)
		snprintf(buf + used, size - used, " and %u more", total - listed);
	if (!total)
		snprintf(buf, size, "(none)");
	return buf;
}

static int is_v4_mapped(const struct pev_addr *addr)
{
	static const uint8_t prefix[12] = { [10] = 0xff, [11] = 0xff };

	return addr->family == AF_INET6 && !memcmp(addr->bytes, prefix, sizeof prefix);
}

/* The address a binding is held on.  An IPv4-mapped IPv6 address
 * (::ffff:a.b.c.d, RFC 4291 section 2.5.5.2) names the IPv4 address, and
 * an AF_INET6 socket with IPV6_V6ONLY cannot bind it, so it is held as
 * IPv4.  WSL's localhost relay serves TCP listeners on 127.0.0.1 and the
 * wildcard addresses only, so the rest of 127.0.0.0/8 is held on
 * 127.0.0.1.  Returns 1 when it changed the address. */
static int map_address(enum pev_proto proto, const struct pev_addr *in, struct pev_addr *out)
{
	*out = *in;
	if (is_v4_mapped(in)) {
		memset(out, 0, sizeof *out);
		out->family = AF_INET;
		memcpy(out->bytes, in->bytes + 12, 4);
	}
	if (proto == PEV_TCP && out->family == AF_INET && out->bytes[0] == 127 &&
	    !(out->bytes[1] == 0 && out->bytes[2] == 0 && out->bytes[3] == 1)) {
		out->bytes[1] = out->bytes[2] = 0;
		out->bytes[3] = 1;
	}
	return !pev_addr_equal(in, out);
}

static int is_loopback(const struct pev_addr *addr)
{
	static const uint8_t v6_loopback[16] = { [15] = 1 };

	if (addr->family == AF_INET)
		return addr->bytes[0] == 127;
	return !memcmp(addr->bytes, v6_loopback, 16);
}

/* --- holds by (proto, port) --- */

static size_t bucket_index(const struct listen_hold *lh, enum pev_proto proto, uint16_t port)
{
	uint32_t key = (uint32_t)proto << 16 | port;

	/* Multiplicative (Fibonacci) hashing by 2^32 / phi; the mask takes
	 * bits from 8 up, which mix more input bits than the lowest ones. */
	return (size_t)((key * 2654435769u) >> 8) & (lh->bucket_count - 1);
}

/* The first hold in the bucket of (proto, port); callers skip the holds
 * of other keys that share the bucket. */
static struct hold *bucket_first(const struct listen_hold *lh, enum pev_proto proto, uint16_t port)
{
	return lh->buckets[bucket_index(lh, proto, port)];
}

static void bucket_insert(struct listen_hold *lh, struct hold *h)
{
	size_t i = bucket_index(lh, h->proto, h->port);

	h->bucket_next = lh->buckets[i];
	lh->buckets[i] = h;
}

static void bucket_remove(struct listen_hold *lh, struct hold *h)
{
	struct hold **pp = &lh->buckets[bucket_index(lh, h->proto, h->port)];

	while (*pp != h)
		pp = &(*pp)->bucket_next;
	*pp = h->bucket_next;
}

/* Doubles the buckets when there are more holds than buckets; a failed
 * allocation keeps the old, slower table. */
static void buckets_grow(struct listen_hold *lh)
{
	size_t n = lh->bucket_count * 2;
	struct hold **old = lh->buckets;

	if (lh->hold_count <= lh->bucket_count || !(lh->buckets = calloc(n, sizeof *lh->buckets))) {
		lh->buckets = old;
		return;
	}
	free(old);
	lh->bucket_count = n;
	for (struct hold *h = lh->holds; h; h = h->next)
		bucket_insert(lh, h);
}

static struct hold *hold_find(struct listen_hold *lh, enum pev_proto proto,
			      const struct pev_addr *addr, uint16_t port)
{
	for (struct hold *h = bucket_first(lh, proto, port); h; h = h->bucket_next)
		if (h->proto == proto && h->port == port && pev_addr_equal(&h->addr, addr))
			return h;
	return NULL;
}

/* Addresses of one family overlap when they are equal or one of them is
 * the family's wildcard. */
static int addresses_overlap(const struct pev_addr *a, const struct pev_addr *b)
{
	return a->family == b->family &&
	       (pev_addr_equal(a, b) || pev_addr_is_any(a) || pev_addr_is_any(b));
}

/* Returns another hold of ours with an open socket whose address overlaps
 * h's on the same port, or NULL.  Our sockets are all IPV6_V6ONLY, so
 * only holds of h's family can overlap. */
static struct hold *our_overlapping_socket(struct listen_hold *lh, const struct hold *h)
{
	for (struct hold *o = bucket_first(lh, h->proto, h->port); o; o = o->bucket_next)
		if (o != h && o->fd >= 0 && o->proto == h->proto && o->port == h->port &&
		    addresses_overlap(&o->addr, &h->addr))
			return o;
	return NULL;
}

/* --- checking for another listener (inet_diag) --- */

/* Records a socket from the dump on every queued hold it conflicts with:
 * same port and overlapping addresses.  An IPv6 wildcard listener without
 * IPV6_V6ONLY also takes IPv4.  Our own sockets are recognised by inode
 * and skipped. */
static void diag_socket(void *ctx, const struct inetdiag_socket *s)
{
	struct listen_hold *lh = ctx;
	struct pev_addr have = { .family = s->family };
	struct hold *first = bucket_first(lh, lh->diag_proto, s->port);

	memcpy(have.bytes, s->addr, s->family == AF_INET ? 4 : 16);
	for (struct hold *h = first; h; h = h->bucket_next)
		if (h->fd >= 0 && s->inode && h->inode == s->inode)
			return;
	for (struct hold *h = first; h; h = h->bucket_next) {
		int overlap;

		if (!h->queued || h->other_found || h->proto != lh->diag_proto || h->port != s->port)
			continue;
		if (s->family == h->addr.family)
			overlap = addresses_overlap(&have, &h->addr);
		else
			overlap = h->addr.family == AF_INET && pev_addr_is_any(&have) && s->v6only == 0;
		if (overlap) {
			h->other_found = 1;
			h->other_addr = have;
		}
	}
}

/* Dumps the sockets of one family and protocol, only those on port when
 * it is not 0, into diag_socket.  Returns 0 or -errno. */
static int diag_dump(struct listen_hold *lh, int family, enum pev_proto proto, uint16_t port)
{
	unsigned char req[INETDIAG_REQUEST_MAX];
	/* 8 KiB, the size the kernel's netlink_dump fills per datagram by
	 * default (at least one page); a larger datagram is truncated, so
	 * MSG_TRUNC is checked. */
	unsigned char buf[8192] __attribute__((aligned(4)));
	int protocol = proto == PEV_TCP ? IPPROTO_TCP : IPPROTO_UDP;
	uint32_t states = 1u << (proto == PEV_TCP ? TCP_STATE_LISTEN : TCP_STATE_CLOSE);
	uint32_t seq = ++lh->diag_seq;
	int len = inetdiag_build_request(req, sizeof req, seq, family, protocol, states, port);

	if (len < 0)
		return len;
	if (send(lh->diag_fd, req, (size_t)len, 0) < 0)
		return -errno;
	lh->diag_proto = proto;
	for (;;) {
		ssize_t n = recv(lh->diag_fd, buf, sizeof buf, MSG_TRUNC);
		int r;

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if ((size_t)n > sizeof buf)
			return -EMSGSIZE;
		r = inetdiag_parse(buf, (size_t)n, seq, diag_socket, lh);
		if (r <= 0)
			return r;
	}
}

/* Dumps the sockets that could conflict with the queued holds of proto:
 * one dump per family, filtered in the kernel to the port when every
 * queued hold is on the same one.  Returns 0 or -errno. */
static int diag_check(struct listen_hold *lh, enum pev_proto proto)
{
	int v4 = 0, v6 = 0, ports = 0;
	unsigned holds = 0;
	uint16_t port = 0;
	int r;

	for (struct hold *h = lh->pending; h; h = h->pending_next) {
		if (h->proto != proto)
			continue;
		holds++;
		if (h->addr.family == AF_INET)
			v4 = 1;
		else
			v6 = 1;
		if (!ports || h->port != port)
			ports++;
		port = h->port;
	}
	if (!v4 && !v6)
		return 0;
	if (ports > 1)
		port = 0;
	if (lh->diag_fd < 0) {
		/* The dump is read with blocking recv calls; the timeout keeps a
		 * kernel that never answers from stopping the applet. */
		struct timeval timeout = { .tv_sec = 1 };

		lh->diag_fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
		if (lh->diag_fd < 0)
			return -errno;
		setsockopt(lh->diag_fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
	}
	r = v4 ? diag_dump(lh, AF_INET, proto, port) : 0;
	/* IPv6 sockets matter to IPv4 holds too, when they are dual-stack. */
	if (r == 0)
		r = diag_dump(lh, AF_INET6, proto, port);
	if (r < 0) {
		/* Unread parts of a failed dump must not reach the next query. */
		close(lh->diag_fd);
		lh->diag_fd = -1;
	}
	debug("checked %s listeners for %u queued holds with one dump per family%s",
	      pev_proto_name(proto), holds, port ? ", filtered to the port" : "");
	return r;
}

/* --- the held sockets --- */

static void hold_queue(struct listen_hold *lh, struct hold *h);
static void attempt_pending(struct listen_hold *lh);

static void hold_timer(struct loop *loop, struct loop_timer *timer)
{
	struct hold *h = timer->ctx;
	struct listen_hold *lh = (struct listen_hold *)loop;

	if (h->state == HOLD_PAUSED) {
		h->state = HOLD_OPEN;
		loop_watch_modify(loop, &h->watch, EPOLLIN);
		return;
	}
	hold_queue(lh, h);
	attempt_pending(lh);
}

/* Accepts and closes every pending connection, or reads and drops every
 * pending datagram, up to DRAIN_BATCH per wake-up. */
static void hold_ready(struct loop *loop, struct loop_watch *watch, uint32_t events)
{
	struct hold *h = watch->ctx;
	struct listen_hold *lh = (struct listen_hold *)loop;
	char text[80];

	for (int i = 0; i < DRAIN_BATCH; i++) {
		if (h->proto == PEV_UDP) {
			char byte;

			if (recv(h->fd, &byte, 1, MSG_DONTWAIT | MSG_TRUNC) < 0 && errno != EINTR)
				return;
			continue;
		}
		int c = accept4(h->fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);

		if (c >= 0) {
			close(c);
			continue;
		}
		if (errno == EINTR || errno == ECONNABORTED)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return;
		/* EMFILE, ENFILE, ENOBUFS: the connection stays queued and the
		 * socket stays readable, so stop watching it for a while. */
		if (log_limit_allow(&lh->accept_limit, 10000))
			log_errno(LOG_WARN, errno, "%s: accept failed; pausing it for %d ms",
				  hold_text(h, text, sizeof text), ACCEPT_PAUSE_MS);
		h->state = HOLD_PAUSED;
		loop_watch_modify(loop, &h->watch, 0);
		loop_timer_start(loop, &h->timer, ACCEPT_PAUSE_MS, hold_timer, h);
		return;
	}
}

/* Creates, binds and (for TCP) listens a socket for h.  Returns the
 * descriptor, or -errno with *operation set to the call that failed. */
static int open_socket(const struct hold *h, const char **operation)
{
	int type = h->proto == PEV_TCP ? SOCK_STREAM : SOCK_DGRAM;
	int one = 1;
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(h->port) };
	struct sockaddr_in6 sin6 = { .sin6_family = AF_INET6, .sin6_port = htons(h->port) };
	struct sockaddr *sa = (struct sockaddr *)&sin;
	socklen_t salen = sizeof sin;
	int fd, err;

	*operation = "socket";
	fd = socket(h->addr.family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (h->addr.family == AF_INET) {
		memcpy(&sin.sin_addr, h->addr.bytes, 4);
	} else {
		memcpy(&sin6.sin6_addr, h->addr.bytes, 16);
		sa = (struct sockaddr *)&sin6;
		salen = sizeof sin6;
		/* 0.0.0.0:P and [::]:P are separate bindings, each held alone,
		 * because WSL's relay does not serve dual-stack sockets. */
		*operation = "setsockopt IPV6_V6ONLY";
		if (setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one) < 0)
			goto fail;
	}
	/* SO_REUSEADDR lets a TCP listener bind while old connections on the
	 * port sit in TIME_WAIT.  UDP does not need it, and on a UDP socket it
	 * would let us bind beside a real socket that also set it and take
	 * its datagrams. */
	*operation = "setsockopt SO_REUSEADDR";
	if (h->proto == PEV_TCP && setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0)
		goto fail;
	*operation = "bind";
	if (bind(fd, sa, salen) < 0)
		goto fail;
	*operation = "listen";
	if (h->proto == PEV_TCP && listen(fd, LISTEN_BACKLOG) < 0)
		goto fail;
	return fd;
fail:
	err = errno;
	close(fd);
	return -err;
}

/* Marks h as satisfied by a socket that is not h's own; why names it. */
static void hold_busy(struct listen_hold *lh, struct hold *h, const char *why)
{
	char text[80], owners[OWNERS_TEXT_MAX];

	if (h->state != HOLD_BUSY)
		info("%s: %s, which WSL relays already; leaving the port alone and checking "
		     "again every %u s (owners: %s)",
		     hold_text(h, text, sizeof text), why, lh->recheck_ms / 1000,
		     hold_owners(h, owners, sizeof owners));
	else
		debug("%s: still taken by another process", hold_text(h, text, sizeof text));
	h->state = HOLD_BUSY;
	loop_timer_start(&lh->loop, &h->timer, lh->recheck_ms, hold_timer, h);
}

/* Marks h, on a specific address, as covered by our own socket on the
 * wildcard address of its port.  Closing the wildcard hold tries h again
 * at once (hold_close); the re-check timer also covers a wildcard hold
 * that failed to open after h yielded to it. */
static void hold_covered(struct listen_hold *lh, struct hold *h, const char *why)
{
	char text[80], owners[OWNERS_TEXT_MAX];

	if (h->state != HOLD_COVERED)
		info("%s: %s; holding it again when that socket closes (owners: %s)",
		     hold_text(h, text, sizeof text), why, hold_owners(h, owners, sizeof owners));
	else
		debug("%s: still covered by our wildcard socket", hold_text(h, text, sizeof text));
	h->state = HOLD_COVERED;
	loop_timer_start(&lh->loop, &h->timer, lh->recheck_ms, hold_timer, h);
}

/* Closes our sockets on specific addresses that h, a wildcard hold of
 * the same family and port, would conflict with.  The wildcard socket
 * covers them, and they wait until it closes. */
static void yield_to_wildcard(struct listen_hold *lh, struct hold *h)
{
	for (struct hold *o = bucket_first(lh, h->proto, h->port); o; o = o->bucket_next) {
		if (o == h || o->fd < 0 || o->proto != h->proto || o->port != h->port ||
		    o->addr.family != h->addr.family)
			continue;
		loop_timer_stop(&lh->loop, &o->timer);
		loop_watch_remove(&lh->loop, &o->watch);
		close(o->fd);
		o->fd = -1;
		o->inode = 0;
		hold_covered(lh, o, "our socket on the wildcard address takes the port over");
	}
}

/* Logs a failed socket, bind or listen for h and arms the retry timer. */
static void hold_failed(struct listen_hold *lh, struct hold *h, enum hold_state before,
			const char *operation, int err)
{
	char text[80], owners[OWNERS_TEXT_MAX];
	unsigned delay = backoff_next(&h->backoff);

	if (before != HOLD_RETRY || h->last_errno != err || h->last_operation != operation)
		log_errno(LOG_ERROR, err, "%s: %s failed for %s; retrying in %u ms and backing off",
			  hold_text(h, text, sizeof text), operation,
			  hold_owners(h, owners, sizeof owners), delay);
	else
		debug("%s: %s failed again: %s; retrying in %u ms",
		      hold_text(h, text, sizeof text), operation, strerror(err), delay);
	h->state = HOLD_RETRY;
	h->last_errno = err;
	h->last_operation = operation;
	loop_timer_start(&lh->loop, &h->timer, delay, hold_timer, h);
}

/* Tries to take h, using the listener check that attempt_pending ran.
 * On failure it arms the re-check or retry timer; it never gives up. */
static void hold_attempt(struct listen_hold *lh, struct hold *h)
{
	char text[80], owners[OWNERS_TEXT_MAX], other[INET6_ADDRSTRLEN];
	char why[INET6_ADDRSTRLEN + 40];
	enum hold_state before = h->state;
	const char *operation;
	struct hold *ours;
	struct stat st;
	int r, fd;

	if (h->other_found) {
		pev_addr_format(&h->other_addr, other, sizeof other);
		snprintf(why, sizeof why, "another process listens on %s", other);
		hold_busy(lh, h, why);
		return;
	}
	/* The dump may predate sockets this batch opened, so our own are
	 * looked up in our table. */
	ours = our_overlapping_socket(lh, h);
	if (ours && !pev_addr_is_any(&h->addr)) {
		hold_covered(lh, h, "our socket on the wildcard address covers it");
		return;
	}
	if (ours)
		yield_to_wildcard(lh, h);
	if (h->check_error < 0)
		debug("%s: socket diagnostics failed (%s); letting bind decide",
		      hold_text(h, text, sizeof text), strerror(-h->check_error));
	fd = open_socket(h, &operation);
	if (fd == -EADDRINUSE) {
		hold_busy(lh, h, "bind reports the address in use");
		return;
	}
	if (fd < 0) {
		hold_failed(lh, h, before, operation, -fd);
		return;
	}
	r = loop_watch_add(&lh->loop, &h->watch, fd, EPOLLIN, hold_ready, h);
	if (r < 0) {
		/* Only ENOMEM or ENOSPC (max_user_watches) can fail here. */
		close(fd);
		hold_failed(lh, h, before, "epoll_ctl", -r);
		return;
	}
	h->fd = fd;
	h->inode = fstat(fd, &st) == 0 ? (unsigned long)st.st_ino : 0;
	h->state = HOLD_OPEN;
	backoff_reset(&h->backoff);
	if (!log_enabled(LOG_INFO))
		return;
	if (before == HOLD_BUSY)
		info("%s: the other listener is gone; holding it now for %s",
		     hold_text(h, text, sizeof text), hold_owners(h, owners, sizeof owners));
	else
		info("%s: holding it for %s", hold_text(h, text, sizeof text),
		     hold_owners(h, owners, sizeof owners));
}

static void pending_remove(struct listen_hold *lh, struct hold *h)
{
	if (!h->queued)
		return;
	if (h->pending_prev)
		h->pending_prev->pending_next = h->pending_next;
	else
		lh->pending = h->pending_next;
	if (h->pending_next)
		h->pending_next->pending_prev = h->pending_prev;
	else
		lh->pending_tail = h->pending_prev;
	h->pending_prev = h->pending_next = NULL;
	h->queued = 0;
}

/* Appends h to the list that the next attempt_pending works through in
 * order. */
static void hold_queue(struct listen_hold *lh, struct hold *h)
{
	if (h->queued)
		return;
	h->queued = 1;
	h->other_found = 0;
	h->check_error = 0;
	h->pending_next = NULL;
	h->pending_prev = lh->pending_tail;
	if (lh->pending_tail)
		lh->pending_tail->pending_next = h;
	else
		lh->pending = h;
	lh->pending_tail = h;
}

/* Checks once for other listeners on the ports of every queued hold,
 * then attempts each.  A batch of adds costs one dump per protocol and
 * family, not one per hold; the kernel walks every listening socket for
 * each dump, filtered or not. */
static void attempt_pending(struct listen_hold *lh)
{
	struct hold *h;

	if (!lh->pending)
		return;
	for (enum pev_proto proto = PEV_TCP; proto <= PEV_UDP; proto++) {
		int r = diag_check(lh, proto);

		if (r == 0)
			continue;
		for (h = lh->pending; h; h = h->pending_next)
			if (h->proto == proto)
				h->check_error = r;
	}
	while ((h = lh->pending)) {
		pending_remove(lh, h);
		hold_attempt(lh, h);
	}
}

static void hold_close(struct listen_hold *lh, struct hold *h)
{
	char text[80];

	loop_timer_stop(&lh->loop, &h->timer);
	pending_remove(lh, h);
	if (h->fd >= 0) {
		loop_watch_remove(&lh->loop, &h->watch);
		close(h->fd);
		if (!lh->shutting_down)
			info("%s: closed, its last owner is gone", hold_text(h, text, sizeof text));
	} else if (!lh->shutting_down) {
		info("%s: no longer wanted (it was not held)", hold_text(h, text, sizeof text));
	}
	bucket_remove(lh, h);
	lh->hold_count--;
	if (h->prev)
		h->prev->next = h->next;
	else
		lh->holds = h->next;
	if (h->next)
		h->next->prev = h->prev;
	/* A hold of ours on an overlapping address (0.0.0.0 against
	 * 127.0.0.1, say) may have been what kept another one waiting. */
	for (struct hold *o = bucket_first(lh, h->proto, h->port); o && !lh->shutting_down;
	     o = o->bucket_next)
		if ((o->state == HOLD_BUSY || o->state == HOLD_COVERED) && o->proto == h->proto &&
		    o->port == h->port)
			loop_timer_start(&lh->loop, &o->timer, 0, hold_timer, o);
	free(h);
}

/* --- binding table callbacks --- */

static int held_protocol(const struct listen_hold *lh, enum pev_proto proto)
{
	return proto == PEV_TCP || (proto == PEV_UDP && lh->udp);
}

static struct hold *hold_new(struct listen_hold *lh, enum pev_proto proto,
			     const struct pev_addr *addr, uint16_t port)
{
	struct hold *h = calloc(1, sizeof *h);

	if (!h)
		return NULL;
	h->proto = proto;
	h->addr = *addr;
	h->port = port;
	h->fd = -1;
	h->state = HOLD_NEW;
	backoff_init(&h->backoff, RETRY_INITIAL_MS, RETRY_MAX_MS);
	h->next = lh->holds;
	if (lh->holds)
		lh->holds->prev = h;
	lh->holds = h;
	bucket_insert(lh, h);
	lh->hold_count++;
	buckets_grow(lh);
	return h;
}

/* An endpoint gets its hold here; the socket opens in binding_added,
 * once the owner is known for the log. */
static void endpoint_opened(void *ctx, struct endpoint *e)
{
	struct listen_hold *lh = ctx;
	struct hold_link *link;
	struct pev_addr addr;
	struct hold *h;
	char text[80];

	if (!held_protocol(lh, e->proto))
		return;
	map_address(e->proto, &e->addr, &addr);
	h = hold_find(lh, e->proto, &addr, e->port);
	link = calloc(1, sizeof *link);
	if (!h && link)
		h = hold_new(lh, e->proto, &addr, e->port);
	if (!h || !link) {
		free(link);
		error("%s: out of memory; not held",
		      endpoint_text(text, sizeof text, e->proto, &e->addr, e->port));
		return;
	}
	link->hold = h;
	link->endpoint = e;
	link->next = h->links;
	if (h->links)
		h->links->prev = link;
	h->links = link;
	e->data = link;
}

static void endpoint_closed(void *ctx, struct endpoint *e)
{
	struct listen_hold *lh = ctx;
	struct hold_link *link = e->data;
	struct hold *h;

	if (!link)
		return;
	e->data = NULL;
	h = link->hold;
	if (link->prev)
		link->prev->next = link->next;
	else
		h->links = link->next;
	if (link->next)
		link->next->prev = link->prev;
	free(link);
	if (!h->links)
		hold_close(lh, h);
}

static void binding_added(void *ctx, struct binding *b)
{
	struct listen_hold *lh = ctx;
	struct hold *h = endpoint_hold(b->endpoint);
	char text[80], held[80];

	endpoint_text(text, sizeof text, b->proto, &b->host_ip, b->host_port);
	if (!h) {
		if (b->proto == PEV_SCTP)
			info("%s for %s: not held, listen-hold does not hold SCTP", text, b->owner);
		else if (b->proto == PEV_UDP && !lh->udp)
			info("%s for %s: not held, WSL does not relay UDP (--udp holds it anyway)",
			     text, b->owner);
		return;
	}
	if (b->endpoint->owners == 1 && is_v4_mapped(&b->host_ip))
		info("%s for %s: held on %s, the IPv4 address it maps", text, b->owner,
		     hold_text(h, held, sizeof held));
	else if (b->endpoint->owners == 1 && !pev_addr_equal(&h->addr, &b->host_ip))
		info("%s for %s: held on %s, because WSL relays only 127.0.0.1 of 127.0.0.0/8",
		     text, b->owner, hold_text(h, held, sizeof held));
	if (b->endpoint->owners == 1 && h->links->endpoint == b->endpoint && !h->links->next &&
	    h->proto == PEV_TCP && !pev_addr_is_any(&h->addr) && !is_loopback(&h->addr))
		warn("%s for %s: held as given, but WSL relays only listeners on loopback or "
		     "wildcard addresses, so Windows will not reach it", text, b->owner);
	if (h->state == HOLD_NEW) {
		hold_queue(lh, h);
		return;
	}
	debug("%s: %s added as owner %u", text, b->owner, b->endpoint->owners);
}

static void binding_removed(void *ctx, struct binding *b)
{
	struct listen_hold *lh = ctx;
	char text[80];

	if (!lh->shutting_down)
		debug("%s: owner %s removed", endpoint_text(text, sizeof text, b->proto, &b->host_ip,
							    b->host_port), b->owner);
}

static const struct binding_ops table_ops = {
	.added = binding_added,
	.removed = binding_removed,
	.opened = endpoint_opened,
	.closed = endpoint_closed,
};

/* --- input and signals --- */

/* Counts the holds that have a socket open: a hold left to another
 * process, covered by our wildcard socket or waiting to retry has none. */
static unsigned open_sockets(const struct listen_hold *lh)
{
	unsigned n = 0;

	for (const struct hold *h = lh->holds; h; h = h->next)
		if (h->fd >= 0)
			n++;
	return n;
}

static void shut_down(struct listen_hold *lh, const char *why, int exit_code)
{
	unsigned holds = open_sockets(lh);
	size_t bindings = lh->table.binding_count;

	lh->shutting_down = 1;
	bt_withdraw_all(&lh->table);
	info("%s: closed %u sockets for %zu bindings; exiting%s", why, holds, bindings,
	     exit_code == EXIT_OK ? "" : " with status 1");
	loop_stop(&lh->loop, exit_code);
}

static void apply_event(void *ctx, const struct pev *ev)
{
	struct listen_hold *lh = ctx;

	if (bt_apply(&lh->table, ev) == -ENOMEM) {
		char line[PEV_LINE_MAX + 1];

		if (pev_format(ev, line, sizeof line) > 0)
			line[strcspn(line, "\n")] = 0;
		else
			snprintf(line, sizeof line, "?");
		error("out of memory applying '%s'; the event is lost", line);
	}
}

/* Ends the input: logs a read error, which makes the exit status 1,
 * then closes everything. */
static void input_ended(struct listen_hold *lh, int r)
{
	if (r < 0) {
		log_errno(LOG_ERROR, -r, "read from standard input failed; closing every socket");
		shut_down(lh, "read error", EXIT_FAIL);
		return;
	}
	shut_down(lh, "end of input", EXIT_OK);
}

/* Reads what is waiting on standard input, up to INPUT_READS_MAX reads,
 * so that a burst of adds is checked against one socket dump. */
static void input_ready(struct loop *loop, struct loop_watch *watch, uint32_t events)
{
	struct listen_hold *lh = watch->ctx;
	int r, waiting = 0;

	for (int i = 0; i < INPUT_READS_MAX; i++) {
		r = pev_consumer_read(&lh->consumer, watch->fd);
		if (r <= 0 || ioctl(watch->fd, FIONREAD, &waiting) < 0 || waiting <= 0)
			break;
	}
	attempt_pending(lh);
	if (r > 0 || r == -EAGAIN)
		return;
	loop_watch_remove(loop, watch);
	input_ended(lh, r);
}

static void log_holds(struct listen_hold *lh)
{
	static const char *const state_names[] = {
		[HOLD_NEW] = "not tried yet",
		[HOLD_OPEN] = "held",
		[HOLD_BUSY] = "left to another process",
		[HOLD_COVERED] = "covered by our socket on the wildcard address",
		[HOLD_RETRY] = "failing, retrying",
		[HOLD_PAUSED] = "held, accept paused",
	};
	char text[80], owners[4 * PEV_OWNER_MAX];

	info("%u sockets for %zu bindings (%zu endpoints)", open_sockets(lh),
	     lh->table.binding_count, lh->table.endpoint_count);
	for (struct hold *h = lh->holds; h; h = h->next) {
		if (h->state == HOLD_RETRY)
			info("%s: %s (%s: %s); owners: %s", hold_text(h, text, sizeof text),
			     state_names[h->state], h->last_operation, strerror(h->last_errno),
			     hold_owners(h, owners, sizeof owners));
		else
			info("%s: %s; owners: %s", hold_text(h, text, sizeof text),
			     state_names[h->state], hold_owners(h, owners, sizeof owners));
	}
	for (struct binding *b = lh->table.bindings; b; b = b->next)
		if (!b->endpoint->data)
			info("%s: not held; owner: %s",
			     endpoint_text(text, sizeof text, b->proto, &b->host_ip, b->host_port),
			     b->owner);
}

static void on_signal(struct loop *loop, int signo, void *ctx)
{
	struct listen_hold *lh = ctx;

	if (signo == SIGUSR1) {
		log_holds(lh);
		return;
	}
	shut_down(lh, signo == SIGTERM ? "SIGTERM" : "SIGINT", EXIT_OK);
}

/* Each held port is a descriptor, and the usual soft limit of 1024 is
 * far below what a host with many published ports needs, so the soft
 * limit is raised to the hard one. */
static void raise_fd_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur >= rl.rlim_max)
		return;
	rl.rlim_cur = rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
		log_errno(LOG_WARN, errno, "raising the descriptor limit to %llu failed",
			  (unsigned long long)rl.rlim_max);
}

static const struct option long_options[] = {
	{ "udp", no_argument, 0, 'u' },
	{ "recheck", required_argument, 0, 'r' },
	COMMON_LONG_OPTIONS,
	{ 0, 0, 0, 0 },
};

int listen_hold_main(int argc, char **argv)
{
	static struct listen_hold lh;
	static const int signals[] = { SIGTERM, SIGINT, SIGUSR1 };
	int c, r;

	lh.recheck_ms = 30000;
	lh.diag_fd = -1;
	lh.bucket_count = INITIAL_BUCKETS;
	while ((c = applet_getopt(argc, argv, "", long_options)) != -1) {
		switch (c) {
		case 'u':
			lh.udp = 1;
			break;
		case 'r':
			lh.recheck_ms = (unsigned)parse_number(optarg, 1, 3600, "--recheck") * 1000;
			break;
		}
	}
	no_arguments(argc, argv);

	raise_fd_limit();

	/* The loop is the first member, so callbacks recover lh from it. */
	r = loop_init(&lh.loop);
	if (r < 0)
		die_errno(EXIT_FAIL, -r, "epoll_create1 failed");
	for (size_t i = 0; i < sizeof signals / sizeof *signals; i++) {
		r = loop_signal(&lh.loop, signals[i], on_signal, &lh);
		if (r < 0)
			die_errno(EXIT_FAIL, -r, "signalfd for signal %d failed", signals[i]);
	}
	lh.buckets = calloc(lh.bucket_count, sizeof *lh.buckets);
	if (!lh.buckets)
		die(EXIT_FAIL, "out of memory");
	r = bt_init(&lh.table, &table_ops, &lh);
	if (r < 0)
		die_errno(EXIT_FAIL, -r, "binding table setup failed");
	pev_consumer_init(&lh.consumer, apply_event, &lh);
	info("started; reading port events on standard input%s", lh.udp ? " (holding UDP too)" : "");

	r = loop_watch_add(&lh.loop, &lh.input, STDIN_FILENO, EPOLLIN, input_ready, &lh);
	if (r == -EPERM) {
		/* A regular file or /dev/null cannot be watched with epoll: read
		 * it to its end, which then closes everything as usual. */
		while ((r = pev_consumer_read(&lh.consumer, STDIN_FILENO)) > 0)
			attempt_pending(&lh);
		attempt_pending(&lh);
		input_ended(&lh, r);
	} else if (r < 0) {
		die_errno(EXIT_FAIL, -r, "epoll_ctl on standard input failed");
	}
	r = loop_run(&lh.loop);
	bt_free(&lh.table);
	loop_free(&lh.loop);
	if (r < 0)
		die_errno(EXIT_FAIL, -r, "epoll_wait failed");
	return r;
}
