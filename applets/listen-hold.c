/* usage: listen-hold [--udp] [--recheck SECONDS] [-v|-q]
 *
 * Reads port events on stdin and holds a placeholder listening socket for
 * every binding, so that WSL's localhost forwarding relays the port.
 *
 * TCP is held with SO_REUSEADDR on exactly the binding's address (IPv6
 * with IPV6_V6ONLY); connections that arrive are accepted and closed.
 * A TCP address in 127.0.0.0/8 is held on 127.0.0.1, and any other
 * specific address is held as given, with a warning that WSL does not
 * relay it.  No address is widened to 0.0.0.0 or ::.
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
 * End of input, SIGTERM or SIGINT closes every socket and exits 0.
 * SIGUSR1 logs every held endpoint with its owners.
 * Exit codes: 0 done, 1 setup failed, 2 usage error.
 */
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
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
#define LISTEN_BACKLOG 64
/* NETLINK_SOCK_DIAG from <linux/netlink.h>; musl has no linux headers. */
#define NETLINK_SOCK_DIAG 4
#define TCP_STATE_LISTEN 10
#define TCP_STATE_CLOSE 7

enum hold_state {
	HOLD_NEW,        /* no attempt yet */
	HOLD_OPEN,       /* our socket is bound */
	HOLD_BUSY,       /* another process holds the port; re-checked */
	HOLD_RETRY,      /* bind failed; retried with backoff */
	HOLD_PAUSED,     /* open, but not accepting for ACCEPT_PAUSE_MS */
};

/* One socket that listen-hold keeps: (PROTO, address, port) after the
 * loopback mapping, shared by every endpoint that maps to it. */
struct hold {
	enum pev_proto proto;
	struct pev_addr addr;
	uint16_t port;
	unsigned endpoints;          /* endpoints that map to this hold */
	enum hold_state state;
	int fd;
	unsigned long inode;         /* of fd, to recognise our own sockets */
	struct loop_watch watch;
	struct loop_timer timer;
	struct backoff backoff;
	int last_errno;              /* of the last failed bind, for the log */
	struct hold *prev, *next;
};

struct listen_hold {
	struct loop loop;
	struct binding_table table;
	struct pev_consumer consumer;
	struct loop_watch input;
	struct hold *holds;
	int udp;
	unsigned recheck_ms;
	int shutting_down;
	int diag_fd;                 /* NETLINK_SOCK_DIAG, opened on first use */
	uint32_t diag_seq;
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

/* Lists the owners of every endpoint that maps to h, for log lines; the
 * list is cut with "and N more" when it does not fit. */
static const char *hold_owners(struct listen_hold *lh, const struct hold *h,
			       char *buf, size_t size)
{
	size_t used = 0;
	unsigned listed = 0, skipped = 0;

	buf[0] = 0;
	for (struct binding *b = lh->table.bindings; b; b = b->next) {
		size_t need;

		if (b->endpoint->data != h)
			continue;
		need = strlen(b->owner) + (listed ? 2 : 0);
		if (used + need + 24 >= size) {
			skipped++;
			continue;
		}
		used += (size_t)snprintf(buf + used, size - used, "%s%s", listed ? ", " : "", b->owner);
		listed++;
	}
	if (skipped)
		snprintf(buf + used, size - used, " and %u more", skipped);
	if (!listed && !skipped)
		snprintf(buf, size, "(none)");
	return buf;
}

/* The address a TCP binding is held on: WSL's localhost relay serves
 * listeners on 127.0.0.1 and the wildcard addresses only, so the rest of
 * 127.0.0.0/8 is held on 127.0.0.1.  Returns 1 when it mapped the address. */
static int map_address(enum pev_proto proto, const struct pev_addr *in, struct pev_addr *out)
{
	*out = *in;
	if (proto != PEV_TCP || in->family != AF_INET || in->bytes[0] != 127)
		return 0;
	if (in->bytes[1] == 0 && in->bytes[2] == 0 && in->bytes[3] == 1)
		return 0;
	out->bytes[1] = out->bytes[2] = 0;
	out->bytes[3] = 1;
	return 1;
}

static int is_loopback(const struct pev_addr *addr)
{
	static const uint8_t v6_loopback[16] = { [15] = 1 };

	if (addr->family == AF_INET)
		return addr->bytes[0] == 127;
	return !memcmp(addr->bytes, v6_loopback, 16);
}

/* --- checking for another listener (inet_diag) --- */

struct diag_match {
	struct listen_hold *lh;
	const struct hold *hold;
	int found;                   /* another process listens */
	int ours;                    /* one of our own holds overlaps */
	char addr[INET6_ADDRSTRLEN];
};

static int our_socket(struct listen_hold *lh, uint32_t inode)
{
	for (struct hold *h = lh->holds; h; h = h->next)
		if (h->fd >= 0 && inode && h->inode == inode)
			return 1;
	return 0;
}

/* A listener conflicts with the hold when their ports are equal and
 * their addresses overlap: equal, or one of them the wildcard of the
 * family.  An IPv6 wildcard listener without IPV6_V6ONLY also takes IPv4. */
static void diag_socket(void *ctx, const struct inetdiag_socket *s)
{
	struct diag_match *m = ctx;
	const struct pev_addr *want = &m->hold->addr;
	struct pev_addr have = { .family = s->family };
	int overlap;

	if (m->found || s->port != m->hold->port)
		return;
	memcpy(have.bytes, s->addr, s->family == AF_INET ? 4 : 16);
	if (s->family == want->family)
		overlap = pev_addr_equal(&have, want) || pev_addr_is_any(&have) || pev_addr_is_any(want);
	else
		overlap = want->family == AF_INET && pev_addr_is_any(&have) && s->v6only == 0;
	if (!overlap)
		return;
	if (our_socket(m->lh, s->inode)) {
		m->ours = 1;
		return;
	}
	m->found = 1;
	pev_addr_format(&have, m->addr, sizeof m->addr);
}

/* Dumps the sockets of one family that could conflict with h.  Returns
 * 0 or -errno. */
static int diag_dump(struct listen_hold *lh, int nl, int family, struct diag_match *m)
{
	unsigned char req[INETDIAG_REQUEST_MAX];
	/* 8 KiB, the size the kernel's netlink_dump fills per datagram by
	 * default (at least one page); a larger datagram is truncated, so
	 * MSG_TRUNC is checked. */
	unsigned char buf[8192] __attribute__((aligned(4)));
	int protocol = m->hold->proto == PEV_TCP ? IPPROTO_TCP : IPPROTO_UDP;
	uint32_t states = 1u << (m->hold->proto == PEV_TCP ? TCP_STATE_LISTEN : TCP_STATE_CLOSE);
	uint32_t seq = ++lh->diag_seq;
	int len = inetdiag_build_request(req, sizeof req, seq, family, protocol, states, m->hold->port);

	if (len < 0)
		return len;
	if (send(nl, req, (size_t)len, 0) < 0)
		return -errno;
	for (;;) {
		ssize_t n = recv(nl, buf, sizeof buf, MSG_TRUNC);
		int r;

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if ((size_t)n > sizeof buf)
			return -EMSGSIZE;
		r = inetdiag_parse(buf, (size_t)n, seq, diag_socket, m);
		if (r <= 0)
			return r;
	}
}

/* Asks inet_diag who listens on an address and port that overlap h.
 * Returns 1 when another process does, and writes its address to
 * other_addr.  Returns 2 when only a socket of our own overlaps, 0 when
 * nothing does, or -errno when the query failed and bind must decide. */
static int other_listener(struct listen_hold *lh, const struct hold *h,
			  char *other_addr, size_t size)
{
	struct diag_match m = { .lh = lh, .hold = h };
	int r;

	if (lh->diag_fd < 0) {
		/* The dump is read with blocking recv calls; the timeout keeps a
		 * kernel that never answers from stopping the applet. */
		struct timeval timeout = { .tv_sec = 1 };

		lh->diag_fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
		if (lh->diag_fd < 0)
			return -errno;
		setsockopt(lh->diag_fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
	}
	r = diag_dump(lh, lh->diag_fd, h->addr.family, &m);
	if (r == 0 && !m.found && h->addr.family == AF_INET)
		r = diag_dump(lh, lh->diag_fd, AF_INET6, &m);
	if (r < 0) {
		/* Unread parts of a failed dump must not reach the next query. */
		close(lh->diag_fd);
		lh->diag_fd = -1;
		return r;
	}
	if (m.found) {
		snprintf(other_addr, size, "%s", m.addr);
		return 1;
	}
	return m.ours ? 2 : 0;
}

/* --- the held sockets --- */

static void hold_attempt(struct listen_hold *lh, struct hold *h);

static void hold_timer(struct loop *loop, struct loop_timer *timer)
{
	struct hold *h = timer->ctx;
	struct listen_hold *lh = (struct listen_hold *)loop;

	if (h->state == HOLD_PAUSED) {
		h->state = HOLD_OPEN;
		loop_watch_modify(loop, &h->watch, EPOLLIN);
		return;
	}
	hold_attempt(lh, h);
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
 * descriptor or -errno. */
static int open_socket(const struct hold *h)
{
	int type = h->proto == PEV_TCP ? SOCK_STREAM : SOCK_DGRAM;
	int one = 1;
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(h->port) };
	struct sockaddr_in6 sin6 = { .sin6_family = AF_INET6, .sin6_port = htons(h->port) };
	struct sockaddr *sa = (struct sockaddr *)&sin;
	socklen_t salen = sizeof sin;
	int fd = socket(h->addr.family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int err;

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
		if (setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one) < 0)
			goto fail;
	}
	/* SO_REUSEADDR lets a TCP listener bind while old connections on the
	 * port sit in TIME_WAIT.  UDP does not need it, and on a UDP socket it
	 * would let us bind beside a real socket that also set it and take
	 * its datagrams. */
	if (h->proto == PEV_TCP && setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0)
		goto fail;
	if (bind(fd, sa, salen) < 0)
		goto fail;
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
	char text[80], owners[256];

	if (h->state != HOLD_BUSY)
		info("%s: %s, which WSL relays already; leaving the port alone and checking "
		     "again every %u s (owners: %s)",
		     hold_text(h, text, sizeof text), why, lh->recheck_ms / 1000,
		     hold_owners(lh, h, owners, sizeof owners));
	else
		debug("%s: still taken by another process", hold_text(h, text, sizeof text));
	h->state = HOLD_BUSY;
	loop_timer_start(&lh->loop, &h->timer, lh->recheck_ms, hold_timer, h);
}

/* Closes our sockets on specific addresses that h, a wildcard hold of
 * the same family and port, would conflict with.  The wildcard socket
 * covers them, and they wait as satisfied until it closes. */
static void yield_to_wildcard(struct listen_hold *lh, struct hold *h)
{
	for (struct hold *o = lh->holds; o; o = o->next) {
		if (o == h || o->fd < 0 || o->proto != h->proto || o->port != h->port ||
		    o->addr.family != h->addr.family)
			continue;
		loop_timer_stop(&lh->loop, &o->timer);
		loop_watch_remove(&lh->loop, &o->watch);
		close(o->fd);
		o->fd = -1;
		o->inode = 0;
		hold_busy(lh, o, "our socket on the wildcard address takes the port over");
	}
}

/* Tries to take h: checks for another listener, then binds.  On failure
 * it arms the re-check or retry timer; it never gives up. */
static void hold_attempt(struct listen_hold *lh, struct hold *h)
{
	char text[80], owners[256], other[INET6_ADDRSTRLEN], why[INET6_ADDRSTRLEN + 40];
	enum hold_state before = h->state;
	struct stat st;
	int r, fd;

	r = other_listener(lh, h, other, sizeof other);
	if (r == 1) {
		snprintf(why, sizeof why, "another process listens on %s", other);
		hold_busy(lh, h, why);
		return;
	}
	if (r == 2 && !pev_addr_is_any(&h->addr)) {
		hold_busy(lh, h, "a socket of ours on the wildcard address holds the port");
		return;
	}
	if (r == 2)
		yield_to_wildcard(lh, h);
	if (r < 0)
		debug("%s: socket diagnostics failed (%s); letting bind decide",
		      hold_text(h, text, sizeof text), strerror(-r));
	fd = open_socket(h);
	if (fd == -EADDRINUSE) {
		hold_busy(lh, h, "bind reports the address in use");
		return;
	}
	if (fd < 0) {
		unsigned delay = backoff_next(&h->backoff);

		if (before != HOLD_RETRY || h->last_errno != -fd)
			log_errno(LOG_ERROR, -fd, "%s: bind failed for %s; retrying in %u ms and backing off",
				  hold_text(h, text, sizeof text), hold_owners(lh, h, owners, sizeof owners),
				  delay);
		else
			debug("%s: bind failed again: %s; retrying in %u ms",
			      hold_text(h, text, sizeof text), strerror(-fd), delay);
		h->state = HOLD_RETRY;
		h->last_errno = -fd;
		loop_timer_start(&lh->loop, &h->timer, delay, hold_timer, h);
		return;
	}
	r = loop_watch_add(&lh->loop, &h->watch, fd, EPOLLIN, hold_ready, h);
	if (r < 0) {
		/* Only ENOMEM or ENOSPC (max_user_watches) can fail here. */
		log_errno(LOG_ERROR, -r, "%s: epoll_ctl failed; retrying", hold_text(h, text, sizeof text));
		close(fd);
		h->state = HOLD_RETRY;
		loop_timer_start(&lh->loop, &h->timer, backoff_next(&h->backoff), hold_timer, h);
		return;
	}
	h->fd = fd;
	h->inode = fstat(fd, &st) == 0 ? (unsigned long)st.st_ino : 0;
	h->state = HOLD_OPEN;
	backoff_reset(&h->backoff);
	if (before == HOLD_BUSY)
		info("%s: the other listener is gone; holding it now for %s",
		     hold_text(h, text, sizeof text), hold_owners(lh, h, owners, sizeof owners));
	else
		info("%s: holding it for %s", hold_text(h, text, sizeof text),
		     hold_owners(lh, h, owners, sizeof owners));
}

static struct hold *hold_find(struct listen_hold *lh, enum pev_proto proto,
			      const struct pev_addr *addr, uint16_t port)
{
	for (struct hold *h = lh->holds; h; h = h->next)
		if (h->proto == proto && h->port == port && pev_addr_equal(&h->addr, addr))
			return h;
	return NULL;
}

static void hold_close(struct listen_hold *lh, struct hold *h)
{
	char text[80];

	loop_timer_stop(&lh->loop, &h->timer);
	if (h->fd >= 0) {
		loop_watch_remove(&lh->loop, &h->watch);
		close(h->fd);
		if (!lh->shutting_down)
			info("%s: closed, its last owner is gone", hold_text(h, text, sizeof text));
	} else if (!lh->shutting_down) {
		info("%s: no longer wanted (it was not held)", hold_text(h, text, sizeof text));
	}
	if (h->prev)
		h->prev->next = h->next;
	else
		lh->holds = h->next;
	if (h->next)
		h->next->prev = h->prev;
	/* A hold of ours on an overlapping address (0.0.0.0 against
	 * 127.0.0.1, say) may have been what kept another one waiting. */
	for (struct hold *o = lh->holds; o && !lh->shutting_down; o = o->next)
		if (o->state == HOLD_BUSY && o->proto == h->proto && o->port == h->port)
			loop_timer_start(&lh->loop, &o->timer, 0, hold_timer, o);
	free(h);
}

/* --- binding table callbacks --- */

static int held_protocol(const struct listen_hold *lh, enum pev_proto proto)
{
	return proto == PEV_TCP || (proto == PEV_UDP && lh->udp);
}

/* An endpoint gets its hold here; the socket opens in binding_added,
 * once the owner is known for the log. */
static void endpoint_opened(void *ctx, struct endpoint *e)
{
	struct listen_hold *lh = ctx;
	struct pev_addr addr;
	struct hold *h;

	if (!held_protocol(lh, e->proto))
		return;
	map_address(e->proto, &e->addr, &addr);
	h = hold_find(lh, e->proto, &addr, e->port);
	if (!h) {
		h = calloc(1, sizeof *h);
		if (!h) {
			char text[80];

			error("%s: out of memory; not held",
			      endpoint_text(text, sizeof text, e->proto, &e->addr, e->port));
			return;
		}
		h->proto = e->proto;
		h->addr = addr;
		h->port = e->port;
		h->fd = -1;
		h->state = HOLD_NEW;
		backoff_init(&h->backoff, RETRY_INITIAL_MS, RETRY_MAX_MS);
		h->next = lh->holds;
		if (lh->holds)
			lh->holds->prev = h;
		lh->holds = h;
	}
	h->endpoints++;
	e->data = h;
}

static void endpoint_closed(void *ctx, struct endpoint *e)
{
	struct listen_hold *lh = ctx;
	struct hold *h = e->data;

	if (!h)
		return;
	e->data = NULL;
	if (--h->endpoints == 0)
		hold_close(lh, h);
}

static void binding_added(void *ctx, struct binding *b)
{
	struct listen_hold *lh = ctx;
	struct hold *h = b->endpoint->data;
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
	if (b->endpoint->owners == 1 && !pev_addr_equal(&h->addr, &b->host_ip))
		info("%s for %s: held on %s, because WSL relays only 127.0.0.1 of 127.0.0.0/8",
		     text, b->owner, hold_text(h, held, sizeof held));
	else if (b->endpoint->owners == 1 && h->endpoints == 1 && h->proto == PEV_TCP &&
		 !pev_addr_is_any(&h->addr) && !is_loopback(&h->addr))
		warn("%s for %s: held as given, but WSL relays only listeners on loopback or "
		     "wildcard addresses, so Windows will not reach it", text, b->owner);
	if (h->state == HOLD_NEW) {
		hold_attempt(lh, h);
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
 * process or waiting to retry a bind has none. */
static unsigned open_sockets(const struct listen_hold *lh)
{
	unsigned n = 0;

	for (const struct hold *h = lh->holds; h; h = h->next)
		if (h->fd >= 0)
			n++;
	return n;
}

static void shut_down(struct listen_hold *lh, const char *why)
{
	unsigned holds = open_sockets(lh);
	size_t bindings = lh->table.binding_count;

	lh->shutting_down = 1;
	bt_withdraw_all(&lh->table);
	info("%s: closed %u sockets for %zu bindings; exiting", why, holds, bindings);
	loop_stop(&lh->loop, EXIT_OK);
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

static void input_ready(struct loop *loop, struct loop_watch *watch, uint32_t events)
{
	struct listen_hold *lh = watch->ctx;
	int r = pev_consumer_read(&lh->consumer, watch->fd);

	if (r > 0 || r == -EAGAIN)
		return;
	loop_watch_remove(loop, watch);
	if (r < 0)
		log_errno(LOG_ERROR, -r, "read from standard input failed; treating it as end of input");
	shut_down(lh, "end of input");
}

static void log_holds(struct listen_hold *lh)
{
	static const char *const state_names[] = {
		[HOLD_NEW] = "not tried yet",
		[HOLD_OPEN] = "held",
		[HOLD_BUSY] = "left to another process",
		[HOLD_RETRY] = "bind failing, retrying",
		[HOLD_PAUSED] = "held, accept paused",
	};
	char text[80], owners[768];

	info("%u sockets for %zu bindings (%zu endpoints)", open_sockets(lh),
	     lh->table.binding_count, lh->table.endpoint_count);
	for (struct hold *h = lh->holds; h; h = h->next) {
		if (h->state == HOLD_RETRY)
			info("%s: %s (%s); owners: %s", hold_text(h, text, sizeof text),
			     state_names[h->state], strerror(h->last_errno),
			     hold_owners(lh, h, owners, sizeof owners));
		else
			info("%s: %s; owners: %s", hold_text(h, text, sizeof text),
			     state_names[h->state], hold_owners(lh, h, owners, sizeof owners));
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
	shut_down(lh, signo == SIGTERM ? "SIGTERM" : "SIGINT");
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
			;
		if (r < 0)
			log_errno(LOG_ERROR, -r, "read from standard input failed");
		shut_down(&lh, "end of input");
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
