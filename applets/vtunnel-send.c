/* usage: vtunnel-send [OPTIONS]
 *
 * Reads port events on stdin and sends each change to Rancher Desktop's
 * Privileged Service as a PortMapping JSON message, one message per stream
 * connection.  Keeps every change that could not be delivered and retries
 * with exponential backoff (100 ms up to 5 s).  At end of input, SIGTERM or
 * SIGINT it withdraws everything it forwarded (waiting at most 2.5 s) and
 * exits 0.
 *
 *   --to ADDR          where to send: tcp:HOST:PORT, tcp:[IPV6]:PORT,
 *                      unix:PATH or vsock:CID:PORT (default
 *                      tcp:127.0.0.1:3040, the vtunnel peer)
 *   --interface NAME   network interface whose addresses are sent as
 *                      connectAddrs (default eth0)
 *   --timeout MS       limit for one delivery: connect, write and the
 *                      receiver's close, in milliseconds (default 3000)
 *   --batch MS         wait this long after the first new change before
 *                      sending, so that the lines of one owner, which
 *                      sources write one at a time, form one message
 *                      (default 5; 0 sends at once)
 *   --print            write each message to stdout, one JSON object per
 *                      line, instead of sending it
 *   -v, --debug, --verbose
 *                      log every message sent
 *   -q, --quiet        log warnings and errors only
 *
 * SIGUSR1 logs the delivery state and every owner's bindings.
 *
 * Exit codes: 0 end of input or a signal, after withdrawing what was sent
 * (what could not be withdrawn is logged); 1 stdin cannot be watched;
 * 2 invalid option or address; 111 temporary failure at start.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "applet.h"
#include "bindings.h"
#include "clock.h"
#include "ifaddr.h"
#include "io.h"
#include "loop.h"
#include "netlink.h"
#include "pev.h"
#include "portmap.h"
#include "transport.h"

#define BACKOFF_INITIAL_MS 100
#define BACKOFF_MAX_MS 5000
/* Below 3 s, so that a supervisor that allows its children 3 s to stop
 * (the agent kills them at 2.8 s) still gets the final log line. */
#define SHUTDOWN_LIMIT_MS 2500
#define OWNER_BUCKETS 1024
#define ENDPOINT_BUCKETS 1024
/* Address sets kept for withdrawing bindings sent with an older set. */
#define ADDR_HISTORY 4

/* One binding of an owner: what is wanted and what the service has. */
struct entry {
	struct portmap_binding pb;
	unsigned desired : 1;     /* present in the binding table */
	unsigned delivered : 1;   /* the service has it (an add was delivered) */
	unsigned inflight : 1;    /* part of the message being sent */
	/* A message with this binding was written in full but not confirmed
	 * (timeout or reset while waiting for the close): the service may
	 * or may not have applied it, so the next add or remove is sent even
	 * when delivered says it is not needed. */
	unsigned uncertain : 1;
	unsigned gen;             /* address generation the add was sent with */
	struct entry *next;
};

struct owner {
	char *name;
	struct entry *entries;
	struct owner *hash_next;
	struct owner *dirty_next;
	int dirty;
};

/* How many owners have a delivered add for one (proto, ip, port): the
 * service keys port proxies by listen address and port, so a remove is
 * sent only when the last owner that delivered the endpoint goes. */
struct delivered_endpoint {
	enum pev_proto proto;
	struct pev_addr addr;
	uint16_t port;
	unsigned count;
	struct delivered_endpoint *next;
};

struct addr_generation {
	unsigned gen;
	struct ifaddr_set set;
};

enum phase { IDLE, CONNECTING, WRITING, WAITING_CLOSE };

struct sender {
	struct loop loop;
	struct transport_addr to;
	int print;
	unsigned timeout_ms;
	unsigned batch_ms;
	const char *ifname;
	struct loop_timer batch_timer;

	struct binding_table table;
	struct pev_consumer consumer;
	struct loop_watch stdin_watch;
	int input_open;

	struct owner *owners[OWNER_BUCKETS];
	struct delivered_endpoint *endpoints[ENDPOINT_BUCKETS];
	struct owner *dirty_head, *dirty_tail;

	/* The message being delivered. */
	enum phase phase;
	int restoring;               /* applying an add marked restored=1 */
	int fd;
	struct loop_watch sock_watch;
	struct loop_timer attempt_timer;
	struct loop_timer retry_timer;
	struct owner *cur_owner;
	int cur_remove;
	unsigned cur_gen;
	size_t cur_count;
	struct entry *cur_entries[PORTMAP_BINDINGS_MAX];
	struct portmap_binding cur_bindings[PORTMAP_BINDINGS_MAX];
	char *msg;
	size_t msg_len, msg_off;

	struct backoff backoff;
	unsigned failures;

	/* Interface addresses. */
	unsigned gen;
	struct addr_generation history[ADDR_HISTORY];
	int nl_events_fd;
	int nl_dump_fd;
	uint32_t nl_seq;
	struct loop_watch nl_watch;
	uint8_t *nl_buf;

	int stopping;
	struct loop_timer shutdown_timer;
	/* kick is running: a delivery that finishes at once (--print, or a
	 * connect that fails at once) returns to kick's loop instead of
	 * calling it again, so a burst does not recurse once per message. */
	int in_kick;
};

static uint32_t hash_bytes(const void *data, size_t len, uint32_t h)
{
	const uint8_t *p = data;

	for (size_t i = 0; i < len; i++)
		h = (h ^ p[i]) * 16777619u;   /* FNV-1a */
	return h;
}

/* ---- interface addresses ---- */

static const struct ifaddr_set *current_addrs(struct sender *s)
{
	return &s->history[s->gen % ADDR_HISTORY].set;
}

/* The set that generation gen used, or NULL once it is out of history. */
static const struct ifaddr_set *addrs_of_generation(struct sender *s, unsigned gen)
{
	const struct addr_generation *g = &s->history[gen % ADDR_HISTORY];

	return g->gen == gen ? &g->set : NULL;
}

static void log_addrs(struct sender *s, const struct ifaddr_set *set)
{
	char text[512] = "";
	size_t len = 0;
	char ip[INET6_ADDRSTRLEN];

	for (size_t i = 0; i < set->count && len < sizeof text - 64; i++)
		len += (size_t)snprintf(text + len, sizeof text - len, "%s%s/%u", i ? " " : "",
					pev_addr_format(&set->addrs[i].addr, ip, sizeof ip),
					(unsigned)set->addrs[i].prefix_len);
	if (set->count == 0)
		warn("interface %s has no address: the service cannot forward new ports until it has one",
		     s->ifname);
	else
		info("interface %s addresses: %s", s->ifname, text);
	if (set->dropped)
		warn("interface %s has %zu more addresses than the %d sent", s->ifname, set->dropped,
		     PORTMAP_ADDRS_MAX);
}

static void mark_dirty(struct sender *s, struct owner *o);
static void kick(struct sender *s);

/* Reads the interface's addresses again.  When they changed, a new
 * generation starts, so every delivered binding is withdrawn with the old
 * addresses and sent again with the new ones. */
static void refresh_addrs(struct sender *s, int initial)
{
	struct ifaddr_set set;
	unsigned index = if_nametoindex(s->ifname);
	int r = -EINTR;

	memset(&set, 0, sizeof set);
	if (index == 0) {
		if (initial)
			warn("interface %s not found: sending no connectAddrs until it appears", s->ifname);
	} else {
		for (int tries = 0; r == -EINTR && tries < 5; tries++) {
			memset(&set, 0, sizeof set);
			r = ifaddr_dump(s->nl_dump_fd, ++s->nl_seq, index, &set, s->nl_buf,
					NL_RECV_BUF_SIZE);
		}
		if (r < 0) {
			log_errno(LOG_ERROR, -r, "reading the addresses of %s failed; keeping the previous ones",
				  s->ifname);
			return;
		}
	}
	if (!initial && ifaddr_set_equal(&set, current_addrs(s)))
		return;
	if (!initial) {
		s->gen++;
		info("interface %s addresses changed: withdrawing and sending every port again",
		     s->ifname);
	}
	s->history[s->gen % ADDR_HISTORY].gen = s->gen;
	s->history[s->gen % ADDR_HISTORY].set = set;
	log_addrs(s, &set);
	if (initial)
		return;
	for (size_t i = 0; i < OWNER_BUCKETS; i++)
		for (struct owner *o = s->owners[i]; o; o = o->hash_next)
			mark_dirty(s, o);
	kick(s);
}

static void on_netlink(struct loop *loop, struct loop_watch *w, uint32_t events)
{
	struct sender *s = w->ctx;
	int changed = 0;

	/* A notification only signals a change: a dump then reads the
	 * whole set, so the notification's content is not parsed. */
	for (;;) {
		ssize_t n = nl_sock_recv(s->nl_events_fd, s->nl_buf, NL_RECV_BUF_SIZE);

		if (n == -EAGAIN)
			break;
		if (n == -ENOBUFS) {
			warn("address notifications overflowed; reading the addresses again");
			changed = 1;
			continue;
		}
		if (n < 0) {
			log_errno(LOG_ERROR, (int)-n, "reading address notifications failed; "
				  "interface address changes are no longer seen");
			loop_watch_remove(loop, w);
			return;
		}
		changed = 1;
	}
	if (changed)
		refresh_addrs(s, 0);
}

static int open_netlink(struct sender *s)
{
	int r;

	s->nl_buf = malloc(NL_RECV_BUF_SIZE);
	if (!s->nl_buf)
		return -ENOMEM;
	s->nl_dump_fd = nl_sock_open(NL_PROTO_ROUTE, 0);
	if (s->nl_dump_fd < 0)
		return s->nl_dump_fd;
	s->nl_events_fd = nl_sock_open(NL_PROTO_ROUTE, 1);
	if (s->nl_events_fd < 0)
		return s->nl_events_fd;
	r = nl_sock_join(s->nl_events_fd, IFADDR_GROUP_IPV4);
	if (r == 0)
		r = nl_sock_join(s->nl_events_fd, IFADDR_GROUP_IPV6);
	if (r == 0)
		r = loop_watch_add(&s->loop, &s->nl_watch, s->nl_events_fd, EPOLLIN, on_netlink, s);
	return r;
}

/* ---- owners, entries and delivered endpoints ---- */

static struct owner *find_owner(struct sender *s, const char *name, int create)
{
	uint32_t h = hash_bytes(name, strlen(name), 2166136261u) % OWNER_BUCKETS;
	struct owner *o;

	for (o = s->owners[h]; o; o = o->hash_next)
		if (strcmp(o->name, name) == 0)
			return o;
	if (!create)
		return NULL;
	o = calloc(1, sizeof *o);
	if (!o)
		return NULL;
	o->name = strdup(name);
	if (!o->name) {
		free(o);
		return NULL;
	}
	o->hash_next = s->owners[h];
	s->owners[h] = o;
	return o;
}

static void free_owner(struct sender *s, struct owner *o)
{
	uint32_t h = hash_bytes(o->name, strlen(o->name), 2166136261u) % OWNER_BUCKETS;
	struct owner **pp;

	for (pp = &s->owners[h]; *pp != o; pp = &(*pp)->hash_next)
		;
	*pp = o->hash_next;
	free(o->name);
	free(o);
}

static struct entry *find_entry(struct owner *o, const struct binding *b)
{
	for (struct entry *e = o->entries; e; e = e->next)
		if (e->pb.proto == b->proto && e->pb.host_port == b->host_port &&
		    pev_addr_equal(&e->pb.host_ip, &b->host_ip))
			return e;
	return NULL;
}

static struct delivered_endpoint **endpoint_slot(struct sender *s, const struct portmap_binding *pb)
{
	uint32_t h = hash_bytes(&pb->host_port, sizeof pb->host_port, 2166136261u);
	struct delivered_endpoint **pp;

	h = hash_bytes(pb->host_ip.bytes, sizeof pb->host_ip.bytes, h) ^ (uint32_t)pb->proto;
	for (pp = &s->endpoints[h % ENDPOINT_BUCKETS]; *pp; pp = &(*pp)->next)
		if ((*pp)->proto == pb->proto && (*pp)->port == pb->host_port &&
		    pev_addr_equal(&(*pp)->addr, &pb->host_ip))
			break;
	return pp;
}

static unsigned endpoint_count(struct sender *s, const struct portmap_binding *pb)
{
	struct delivered_endpoint *d = *endpoint_slot(s, pb);

	return d ? d->count : 0;
}

/* Counts one more (delta 1) or one fewer (delta -1) delivering owner.
 * Returns -ENOMEM when a new endpoint cannot be recorded. */
static int endpoint_adjust(struct sender *s, const struct portmap_binding *pb, int delta)
{
	struct delivered_endpoint **pp = endpoint_slot(s, pb), *d = *pp;

	if (!d) {
		if (delta < 0)
			return 0;
		d = calloc(1, sizeof *d);
		if (!d)
			return -ENOMEM;
		d->proto = pb->proto;
		d->addr = pb->host_ip;
		d->port = pb->host_port;
		*pp = d;
	}
	if (delta > 0) {
		d->count++;
	} else if (--d->count == 0) {
		*pp = d->next;
		free(d);
	}
	return 0;
}

static void mark_dirty(struct sender *s, struct owner *o)
{
	if (o->dirty)
		return;
	o->dirty = 1;
	o->dirty_next = NULL;
	if (s->dirty_tail)
		s->dirty_tail->dirty_next = o;
	else
		s->dirty_head = o;
	s->dirty_tail = o;
}

static void pop_dirty(struct sender *s)
{
	struct owner *o = s->dirty_head;

	s->dirty_head = o->dirty_next;
	if (!s->dirty_head)
		s->dirty_tail = NULL;
	o->dirty = 0;
	o->dirty_next = NULL;
}

/* Frees entries that are neither wanted nor delivered, then the owner if
 * it has none left.  Returns 1 when the owner was freed. */
static int prune_owner(struct sender *s, struct owner *o)
{
	struct entry **pp = &o->entries;

	while (*pp) {
		struct entry *e = *pp;

		if (!e->desired && !e->delivered && !e->uncertain && !e->inflight) {
			*pp = e->next;
			free(e);
		} else {
			pp = &e->next;
		}
	}
	if (o->entries || o->dirty || o == s->cur_owner)
		return 0;
	free_owner(s, o);
	return 1;
}

/* ---- binding table callbacks ---- */

static void binding_added(void *ctx, struct binding *b)
{
	struct sender *s = ctx;
	struct owner *o = find_owner(s, b->owner, 1);
	struct entry *e;

	if (!o) {
		error("out of memory: %s %s port %u is not forwarded", b->owner,
		      pev_proto_name(b->proto), (unsigned)b->host_port);
		return;
	}
	e = find_entry(o, b);
	if (!e) {
		e = calloc(1, sizeof *e);
		if (!e) {
			error("out of memory: %s %s port %u is not forwarded", b->owner,
			      pev_proto_name(b->proto), (unsigned)b->host_port);
			prune_owner(s, o);
			return;
		}
		e->pb.proto = b->proto;
		e->pb.host_ip = b->host_ip;
		e->pb.host_port = b->host_port;
		/* Appended, so that a message lists bindings in input order. */
		struct entry **tail = &o->entries;

		while (*tail)
			tail = &(*tail)->next;
		*tail = e;
	}
	/* A delivered entry keeps the key it was sent with, so that its
	 * remove names the same key. */
	if (!e->delivered)
		e->pb.key_port = b->target_port ? b->target_port : b->host_port;
	if (s->restoring && !e->delivered) {
		/* Settled like an unconfirmed delivery: sent again while wanted,
		 * and removed when withdrawn, even if this process never sent it. */
		e->uncertain = 1;
		e->gen = s->gen;
	}
	e->desired = 1;
	mark_dirty(s, o);
}

static void binding_removed(void *ctx, struct binding *b)
{
	struct sender *s = ctx;
	struct owner *o = find_owner(s, b->owner, 0);
	struct entry *e = o ? find_entry(o, b) : NULL;

	if (!e)
		return;
	e->desired = 0;
	mark_dirty(s, o);
}

static const struct binding_ops sender_ops = {
	.added = binding_added,
	.removed = binding_removed,
};

/* ---- delivery ---- */

static void attempt_finished(struct sender *s, int err);
static void on_retry(struct loop *loop, struct loop_timer *t);

static void close_socket(struct sender *s)
{
	if (s->fd < 0)
		return;
	loop_watch_remove(&s->loop, &s->sock_watch);
	close(s->fd);
	s->fd = -1;
}

/* Counts the bindings the service has or may have: delivered, uncertain,
 * or part of an add in flight whose bytes, or some of them, were written. */
static size_t count_delivered(struct sender *s, size_t *owners)
{
	int add_written = !s->cur_remove &&
			  (s->phase == WAITING_CLOSE || (s->phase == WRITING && s->msg_off > 0));
	size_t n = 0;

	*owners = 0;
	for (size_t i = 0; i < OWNER_BUCKETS; i++)
		for (struct owner *o = s->owners[i]; o; o = o->hash_next) {
			size_t before = n;

			for (struct entry *e = o->entries; e; e = e->next)
				n += e->delivered || e->uncertain || (e->inflight && add_written);
			*owners += n > before;
		}
	return n;
}

static void finish_shutdown(struct sender *s)
{
	size_t owners, n = count_delivered(s, &owners);

	if (n)
		error("could not withdraw %zu bindings of %zu owners from %s; they stay forwarded "
		      "until the service restarts", n, owners, s->to.text);
	else
		info("withdrew every binding; exiting");
	loop_stop(&s->loop, EXIT_OK);
}

static void on_shutdown_timer(struct loop *loop, struct loop_timer *t)
{
	finish_shutdown(t->ctx);
}

/* Selects the next batch of the head owner: its removes first (bindings
 * no longer wanted, or sent with an older address set), else its adds.
 * Removes of an endpoint that another owner also delivered are settled
 * without a message.  Returns the number of entries selected. */
static size_t select_batch(struct sender *s, struct owner *o)
{
	size_t n = 0;
	int have_gen = 0;

	s->cur_remove = 1;
	for (struct entry *e = o->entries; e && n < PORTMAP_BINDINGS_MAX; e = e->next) {
		if (!(e->delivered || e->uncertain) ||
		    (e->desired && e->delivered && !e->uncertain && e->gen == s->gen))
			continue;
		/* A wanted binding in an uncertain state is settled by sending
		 * its add again, not by removing it first. */
		if (e->desired && e->uncertain && e->gen == s->gen)
			continue;
		/* A remove batch contains one generation, so that it carries
		 * the addresses its bindings were sent with. */
		if (have_gen && e->gen != s->cur_gen)
			continue;
		if (endpoint_count(s, &e->pb) > e->delivered) {
			debug("%s: %s port %u stays forwarded for another owner", o->name,
			      pev_proto_name(e->pb.proto), (unsigned)e->pb.host_port);
			if (e->delivered)
				endpoint_adjust(s, &e->pb, -1);
			e->delivered = 0;
			e->uncertain = 0;
			continue;
		}
		s->cur_gen = e->gen;
		have_gen = 1;
		s->cur_entries[n++] = e;
	}
	if (n)
		return n;

	s->cur_remove = 0;
	s->cur_gen = s->gen;
	for (struct entry *e = o->entries; e && n < PORTMAP_BINDINGS_MAX; e = e->next)
		if (e->desired && (!e->delivered || e->uncertain || e->gen != s->gen))
			s->cur_entries[n++] = e;
	return n;
}

static void on_socket(struct loop *loop, struct loop_watch *w, uint32_t events);
static void on_attempt_timeout(struct loop *loop, struct loop_timer *t);

static void start_attempt(struct sender *s)
{
	int in_progress, fd;

	s->msg_off = 0;
	if (s->print) {
		int r = full_write(STDOUT_FILENO, s->msg, s->msg_len);

		if (r == -EPIPE)
			exit(EXIT_OK);
		if (r < 0)
			die_errno(EXIT_TEMPORARY, -r, "writing to stdout failed");
		s->phase = WRITING;
		attempt_finished(s, 0);
		return;
	}
	fd = transport_connect(&s->to, &in_progress);
	if (fd < 0) {
		s->phase = CONNECTING;
		attempt_finished(s, fd);
		return;
	}
	s->fd = fd;
	s->phase = in_progress ? CONNECTING : WRITING;
	if (loop_watch_add(&s->loop, &s->sock_watch, fd, EPOLLOUT, on_socket, s) < 0) {
		attempt_finished(s, -errno);
		return;
	}
	loop_timer_start(&s->loop, &s->attempt_timer, s->timeout_ms, on_attempt_timeout, s);
}

/* Starts the next delivery unless one is running or a retry is waiting. */
static void kick(struct sender *s)
{
	if (s->in_kick)
		return;
	s->in_kick = 1;
	while (s->phase == IDLE && !s->retry_timer.armed && !s->loop.stopping) {
		struct owner *o = s->dirty_head;
		const struct ifaddr_set *addrs;
		size_t n;
		int len;

		if (!o) {
			if (s->stopping)
				finish_shutdown(s);
			break;
		}
		n = select_batch(s, o);
		if (n == 0) {
			pop_dirty(s);
			prune_owner(s, o);
			continue;
		}
		addrs = addrs_of_generation(s, s->cur_gen);
		if (!addrs)
			addrs = current_addrs(s);
		for (size_t i = 0; i < n; i++) {
			s->cur_entries[i]->inflight = 1;
			s->cur_bindings[i] = s->cur_entries[i]->pb;
		}
		s->cur_owner = o;
		s->cur_count = n;
		len = portmap_format(s->msg, PORTMAP_MESSAGE_MAX, s->cur_remove, s->cur_bindings, n,
				     addrs->addrs, addrs->count);
		if (len < 0) {
			/* Cannot happen within the static bounds of portmap.h;
			 * drop the batch rather than loop on it. */
			log_errno(LOG_ERROR, -len, "%s: building the message failed; dropping %zu bindings",
				  o->name, n);
			for (size_t i = 0; i < n; i++) {
				s->cur_entries[i]->inflight = 0;
				s->cur_entries[i]->desired = 0;
				s->cur_entries[i]->delivered = 0;
			}
			s->cur_owner = NULL;
			continue;
		}
		s->msg_len = (size_t)len;
		start_attempt(s);
	}
	s->in_kick = 0;
}

static void attempt_finished(struct sender *s, int err)
{
	struct owner *o = s->cur_owner;
	enum phase phase = s->phase;

	loop_timer_stop(&s->loop, &s->attempt_timer);
	close_socket(s);
	s->phase = IDLE;
	s->cur_owner = NULL;
	for (size_t i = 0; i < s->cur_count; i++)
		s->cur_entries[i]->inflight = 0;

	if (err) {
		unsigned delay = backoff_next(&s->backoff);
		const char *step = phase == CONNECTING ? "connect to" : phase == WRITING ? "write to" :
				   "waiting for the close by";

		/* Once the whole message and its FIN were written, the service
		 * may have applied it although no orderly close came back. */
		if (phase == WAITING_CLOSE)
			for (size_t i = 0; i < s->cur_count; i++) {
				s->cur_entries[i]->uncertain = 1;
				if (!s->cur_remove && !s->cur_entries[i]->delivered)
					s->cur_entries[i]->gen = s->cur_gen;
			}
		s->failures++;
		log_errno(LOG_WARN, -err, "%s %s failed (%s of %zu bindings of %s); retrying in %u ms",
			  step, s->to.text, s->cur_remove ? "remove" : "add", s->cur_count, o->name,
			  delay);
		s->cur_count = 0;
		loop_timer_start(&s->loop, &s->retry_timer, delay, on_retry, s);
		return;
	}

	if (s->failures) {
		info("delivery to %s recovered after %u failed attempts", s->to.text, s->failures);
		s->failures = 0;
	}
	backoff_reset(&s->backoff);
	if (log_enabled(LOG_DEBUG))
		debug("sent to %s: %.*s", s->to.text, (int)s->msg_len - 1, s->msg);
	for (size_t i = 0; i < s->cur_count; i++) {
		struct entry *e = s->cur_entries[i];

		e->uncertain = 0;
		if (s->cur_remove) {
			if (e->delivered)
				endpoint_adjust(s, &e->pb, -1);
			e->delivered = 0;
		} else {
			if (!e->delivered && endpoint_adjust(s, &e->pb, 1) < 0)
				error("out of memory: %s may be withdrawn while another owner holds it",
				      o->name);
			e->delivered = 1;
			e->gen = s->cur_gen;
		}
	}
	s->cur_count = 0;
	kick(s);
}

static void on_retry(struct loop *loop, struct loop_timer *t)
{
	kick(t->ctx);
}

static void on_attempt_timeout(struct loop *loop, struct loop_timer *t)
{
	attempt_finished(t->ctx, -ETIMEDOUT);
}

static void on_socket(struct loop *loop, struct loop_watch *w, uint32_t events)
{
	struct sender *s = w->ctx;
	char sink[256];
	int r;

	if (s->phase == CONNECTING) {
		r = transport_connect_result(s->fd);
		if (r < 0) {
			attempt_finished(s, r);
			return;
		}
		s->phase = WRITING;
	}
	if (s->phase == WRITING) {
		while (s->msg_off < s->msg_len) {
			ssize_t n = send(s->fd, s->msg + s->msg_off, s->msg_len - s->msg_off,
					 MSG_NOSIGNAL);

			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0 && errno == EAGAIN)
				return;
			if (n < 0) {
				attempt_finished(s, -errno);
				return;
			}
			s->msg_off += (size_t)n;
		}
		/* The service decodes one object and closes the connection.
		 * Waiting for that close tells a delivered message from one
		 * that a relay accepted but could not pass on: a relay whose
		 * upstream failed resets the connection instead. */
		shutdown(s->fd, SHUT_WR);
		s->phase = WAITING_CLOSE;
		loop_watch_modify(&s->loop, &s->sock_watch, EPOLLIN);
		return;
	}
	for (;;) {
		ssize_t n = recv(s->fd, sink, sizeof sink, 0);

		if (n == 0) {
			attempt_finished(s, 0);
			return;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n < 0) {
			attempt_finished(s, -errno);
			return;
		}
		/* The service sends nothing back; extra bytes are ignored. */
	}
}

/* ---- input ---- */

static void begin_shutdown(struct sender *s, const char *why)
{
	if (s->stopping)
		return;
	s->stopping = 1;
	info("%s: withdrawing every forwarded binding", why);
	if (s->input_open) {
		loop_watch_remove(&s->loop, &s->stdin_watch);
		s->input_open = 0;
	}
	bt_withdraw_all(&s->table);
	loop_timer_start(&s->loop, &s->shutdown_timer, SHUTDOWN_LIMIT_MS, on_shutdown_timer, s);
	/* A retry due more than 500 ms from now is brought forward, so the
	 * withdrawal gets several attempts within the limit. */
	if (s->retry_timer.armed && s->retry_timer.due_ms > clock_ms() + 500)
		loop_timer_start(&s->loop, &s->retry_timer, 100, on_retry, s);
	kick(s);
}

/* 1 when the attributes hold KEY=VALUE exactly, as a whole field. */
static int has_attr(const char *attrs, const char *field)
{
	size_t len = strlen(field);

	for (const char *p = attrs; (p = strstr(p, field)); p += len)
		if ((p == attrs || p[-1] == ' ') && (p[len] == ' ' || p[len] == 0))
			return 1;
	return 0;
}

static void on_event(void *ctx, const struct pev *ev)
{
	struct sender *s = ctx;

	/* "restored=1": a sink before this one may have delivered the add,
	 * so the service may hold it; binding_added marks it unconfirmed. */
	s->restoring = ev->verb == PEV_ADD && has_attr(ev->attrs, "restored=1");
	if (bt_apply(&s->table, ev) < 0)
		error("out of memory: event for %s ignored", ev->verb <= PEV_DEL ? ev->owner : ev->source);
	s->restoring = 0;
}

static void on_batch(struct loop *loop, struct loop_timer *t);

static void on_stdin(struct loop *loop, struct loop_watch *w, uint32_t events)
{
	struct sender *s = w->ctx;

	/* At most 16 reads per wake-up, so a busy producer cannot starve
	 * the deliveries. */
	for (int i = 0; i < 16; i++) {
		int r = pev_consumer_read(&s->consumer, STDIN_FILENO);

		if (r == -EAGAIN)
			break;
		if (r == 0) {
			kick(s);
			begin_shutdown(s, "end of input");
			return;
		}
		if (r < 0) {
			log_errno(LOG_ERROR, -r, "reading stdin failed");
			begin_shutdown(s, "input failed");
			return;
		}
	}
	/* The first change after a quiet time opens the batch window; changes
	 * that arrive while it is open, or while a message is in flight, join
	 * the next message. */
	if (s->batch_ms == 0)
		kick(s);
	else if (!s->batch_timer.armed && s->phase == IDLE)
		loop_timer_start(loop, &s->batch_timer, s->batch_ms, on_batch, s);
}

static void read_all_input(struct sender *s)
{
	int r;

	while ((r = pev_consumer_read(&s->consumer, STDIN_FILENO)) > 0)
		;
	if (r < 0)
		log_errno(LOG_ERROR, -r, "reading stdin failed");
	kick(s);
	begin_shutdown(s, r < 0 ? "input failed" : "end of input");
}

static void on_batch(struct loop *loop, struct loop_timer *t)
{
	kick(t->ctx);
}

static void on_signal(struct loop *loop, int signo, void *ctx)
{
	begin_shutdown(ctx, signo == SIGTERM ? "SIGTERM" : "SIGINT");
}

/* At most this many per-owner lines in a SIGUSR1 state dump. */
#define STATE_LINES_MAX 1000

/* Writes the owner's entries to buf as "tcp 0.0.0.0:8080 delivered, ...",
 * cut with "..." when they do not fit. */
static void entries_text(const struct owner *o, char *buf, size_t size)
{
	size_t len = 0;

	buf[0] = 0;
	for (const struct entry *e = o->entries; e; e = e->next) {
		char ip[INET6_ADDRSTRLEN];
		int v6 = e->pb.host_ip.family == AF_INET6;
		int n;

		if (e->pb.host_ip.family)
			pev_addr_format(&e->pb.host_ip, ip, sizeof ip);
		else
			strcpy(ip, "0.0.0.0");
		n = snprintf(buf + len, size - len, "%s%s %s%s%s:%u %s%s%s", len ? ", " : "",
			     pev_proto_name(e->pb.proto), v6 ? "[" : "", ip, v6 ? "]" : "",
			     e->pb.host_port,
			     e->desired ? (e->delivered ? "delivered" : "not delivered yet")
					: "remove pending",
			     e->inflight ? ", sending" : "", e->uncertain ? ", unconfirmed" : "");
		if (n < 0 || (size_t)n >= size - len) {
			strcpy(buf + size - 4, "...");
			return;
		}
		len += (size_t)n;
	}
}

/* SIGUSR1: logs the destination, the delivery in progress, the counts,
 * the next retry, and one line per owner with its bindings. */
static void on_sigusr1(struct loop *loop, int signo, void *ctx)
{
	static const char *const phase_names[] = {
		[IDLE] = "idle",
		[CONNECTING] = "connecting",
		[WRITING] = "writing a message",
		[WAITING_CLOSE] = "waiting for the receiver to close",
	};
	struct sender *s = ctx;
	size_t owners = 0, pending = 0, shown = 0, endpoints = 0;
	char text[768];

	for (size_t i = 0; i < OWNER_BUCKETS; i++)
		for (const struct owner *o = s->owners[i]; o; o = o->hash_next)
			owners++;
	for (const struct owner *o = s->dirty_head; o; o = o->dirty_next)
		pending++;
	for (size_t i = 0; i < ENDPOINT_BUCKETS; i++)
		for (const struct delivered_endpoint *d = s->endpoints[i]; d; d = d->next)
			endpoints++;
	info("state: %s, sending to %s; %zu bindings, %zu owners, %zu owners with changes to send, "
	     "%zu endpoints delivered; %u failed attempts; %zu addresses of %s%s",
	     phase_names[s->phase], s->print ? "stdout (--print)" : s->to.text, s->table.binding_count, owners, pending, endpoints,
	     s->failures, current_addrs(s)->count, s->ifname, s->stopping ? "; stopping" : "");
	if (s->retry_timer.armed) {
		uint64_t now = clock_ms();

		info("state: next attempt in %llu ms",
		     (unsigned long long)(s->retry_timer.due_ms > now ? s->retry_timer.due_ms - now : 0));
	}
	for (size_t i = 0; i < OWNER_BUCKETS; i++) {
		for (const struct owner *o = s->owners[i]; o; o = o->hash_next) {
			if (shown == STATE_LINES_MAX) {
				info("state: %zu more owners not shown", owners - shown);
				return;
			}
			entries_text(o, text, sizeof text);
			info("state: owner %s: %s", o->name, text);
			shown++;
		}
	}
}

static const struct option long_options[] = {
	{ "to", required_argument, 0, 't' },
	{ "interface", required_argument, 0, 'i' },
	{ "timeout", required_argument, 0, 'T' },
	{ "print", no_argument, 0, 'p' },
	{ "batch", required_argument, 0, 'b' },
	COMMON_LONG_OPTIONS,
	{ 0, 0, 0, 0 }
};

int vtunnel_send_main(int argc, char **argv)
{
	struct sender *s;
	const char *to = "tcp:127.0.0.1:3040", *reason;
	int opt, r;

	/* About 43 KiB of state (x86-64), mostly the hash heads and the batch
	 * arrays: on the heap, not on the stack or in .bss. */
	s = calloc(1, sizeof *s);
	if (!s)
		die(EXIT_TEMPORARY, "out of memory");
	s->ifname = "eth0";
	s->timeout_ms = 3000;
	s->batch_ms = 5;
	s->fd = -1;
	s->nl_events_fd = s->nl_dump_fd = -1;
	while ((opt = applet_getopt(argc, argv, COMMON_SHORT_OPTIONS, long_options)) != -1) {
		switch (opt) {
		case 't':
			to = optarg;
			break;
		case 'i':
			s->ifname = optarg;
			if (!*optarg || strlen(optarg) >= IF_NAMESIZE)
				usage_error("invalid interface name '%s'", optarg);
			break;
		case 'T':
			s->timeout_ms = (unsigned)parse_number(optarg, 1, 600000, "--timeout");
			break;
		case 'p':
			s->print = 1;
			break;
		case 'b':
			s->batch_ms = (unsigned)parse_number(optarg, 0, 1000, "--batch");
			break;
		}
	}
	no_arguments(argc, argv);
	if (transport_parse(to, 0, &s->to, &reason) < 0)
		usage_error("invalid --to address '%s': %s", to, reason);

	s->msg = malloc(PORTMAP_MESSAGE_MAX);
	if (!s->msg)
		die(EXIT_TEMPORARY, "out of memory");
	backoff_init(&s->backoff, BACKOFF_INITIAL_MS, BACKOFF_MAX_MS);
	r = loop_init(&s->loop);
	if (r < 0)
		die_errno(EXIT_TEMPORARY, -r, "creating the event loop failed");
	if (bt_init(&s->table, &sender_ops, s) < 0)
		die(EXIT_TEMPORARY, "out of memory");
	r = open_netlink(s);
	if (r < 0)
		die_errno(EXIT_TEMPORARY, -r, "opening the rtnetlink socket for the addresses of %s failed",
			  s->ifname);
	refresh_addrs(s, 1);

	if ((r = loop_signal(&s->loop, SIGTERM, on_signal, s)) < 0 ||
	    (r = loop_signal(&s->loop, SIGINT, on_signal, s)) < 0 ||
	    (r = loop_signal(&s->loop, SIGUSR1, on_sigusr1, s)) < 0)
		die_errno(EXIT_TEMPORARY, -r, "setting up signal handling failed");
	signal(SIGPIPE, SIG_IGN);
	pev_consumer_init(&s->consumer, on_event, s);
	fd_set_nonblock(STDIN_FILENO, 1);
	info("sending port mappings to %s%s", s->print ? "stdout, not " : "", s->to.text);
	r = loop_watch_add(&s->loop, &s->stdin_watch, STDIN_FILENO, EPOLLIN, on_stdin, s);
	if (r == -EPERM) {
		/* epoll rejects regular files and /dev/null, which never
		 * block anyway: read them to the end now. */
		read_all_input(s);
	} else if (r < 0) {
		die_errno(EXIT_FAIL, -r, "watching stdin failed");
	} else {
		s->input_open = 1;
	}

	r = loop_run(&s->loop);
	if (r < 0)
		die_errno(EXIT_TEMPORARY, -r, "event loop failed");
	return r;
}
