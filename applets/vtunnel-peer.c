/* usage: vtunnel-peer [OPTIONS]
 *
 * The VM side of Rancher Desktop's vtunnel: accepts stream connections and
 * relays each one, in both directions and with half-close, to an upstream
 * address (the host over AF_VSOCK).  Also replies to the host's handshake
 * with the seed phrase github.com/rancher-sandbox/rancher-desktop-vtunnel
 * and closes the connection.  All connections share one event loop.
 *
 *   --listen ADDR      address to accept relayed connections on
 *                      (default tcp:127.0.0.1:3040)
 *   --to ADDR          upstream address for each connection
 *                      (default vsock:2:17381, the Windows host)
 *   --handshake ADDR   address that answers the handshake
 *                      (default vsock:ANY:17382)
 *   --no-handshake     do not listen for the handshake
 *   --max-connections N  relayed connections at once, 1-65536
 *                      (default 1024); more wait in the listen backlog
 *   -v, --debug, --verbose
 *                      log every connection
 *   -q, --quiet        log warnings and errors only
 *
 * ADDR is tcp:HOST:PORT, tcp:[IPV6]:PORT, unix:PATH or vsock:CID:PORT.
 * SIGUSR1 logs the listeners and every relayed connection.
 *
 * Exit codes: 0 stopped by SIGTERM/SIGINT; 2 invalid option or address;
 * 111 cannot listen (address in use, no vsock support).
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "applet.h"
#include "clock.h"
#include "io.h"
#include "loop.h"
#include "transport.h"

/* The handshake reply, without a newline: the SeedPhrase constant of
 * rancher-desktop src/go/vtunnel/pkg/vmsock/constants.go. */
#define SEED_PHRASE "github.com/rancher-sandbox/rancher-desktop-vtunnel"

/* Bytes buffered per direction of one relay.  64 KiB is the order of a
 * default socket buffer, so a relay buffers about as much as the kernel. */
#define RELAY_BUF 65536
/* Delay before accepting again after accept failed for lack of
 * descriptors or memory, so a readable listener does not spin. */
#define ACCEPT_PAUSE_MS 200

struct peer;

/* One direction: bytes read from one socket and not yet written to the
 * other. */
struct pipe_buf {
	char *data;
	size_t start, end;
	int eof;          /* the source sent FIN */
	int shut;         /* FIN passed on to the destination */
};

struct relay {
	struct peer *peer;
	int client_fd, upstream_fd;
	struct loop_watch client_watch, upstream_watch;
	int connecting;
	int client_hup, upstream_hup;     /* EPOLLHUP seen: both directions closed */
	struct pipe_buf up;     /* client -> upstream */
	struct pipe_buf down;   /* upstream -> client */
	unsigned long id;
	struct relay *prev, *next;
};

struct listener {
	struct peer *peer;
	struct transport_addr addr;
	int fd;
	int handshake;
	struct loop_watch watch;
	struct loop_timer pause;
	struct log_limit limit;
};

struct peer {
	struct loop loop;
	struct transport_addr to;
	struct listener relay_listener;
	struct listener handshake_listener;
	struct relay *relays;
	unsigned relay_count, max_relays;
	unsigned long next_id;
	struct log_limit connect_limit;
};

static void relay_free(struct relay *r, const char *why)
{
	struct peer *p = r->peer;

	if (why)
		debug("connection %lu closed: %s", r->id, why);
	loop_watch_remove(&p->loop, &r->client_watch);
	loop_watch_remove(&p->loop, &r->upstream_watch);
	if (r->client_fd >= 0)
		close(r->client_fd);
	if (r->upstream_fd >= 0)
		close(r->upstream_fd);
	if (r->prev)
		r->prev->next = r->next;
	else
		p->relays = r->next;
	if (r->next)
		r->next->prev = r->prev;
	free(r->up.data);
	free(r->down.data);
	free(r);
	/* A slot is free again: accept what waited in the backlog. */
	if (p->relay_count-- == p->max_relays && p->relay_listener.fd >= 0)
		loop_watch_modify(&p->loop, &p->relay_listener.watch, EPOLLIN);
}

/* Closes the client with a reset (SO_LINGER 0) rather than a FIN, so a
 * sender that waits for the orderly close learns that nothing reached the
 * upstream. */
static void reset_client(struct relay *r)
{
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };

	setsockopt(r->client_fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
}

static void on_relay_socket(struct loop *loop, struct loop_watch *w, uint32_t events);

/* Moves bytes from src into b; returns 0, or -errno for a failed read. */
static int fill(struct pipe_buf *b, int src)
{
	while (!b->eof && b->end < RELAY_BUF) {
		ssize_t n = recv(src, b->data + b->end, RELAY_BUF - b->end, 0);

		if (n > 0) {
			b->end += (size_t)n;
			continue;
		}
		if (n == 0) {
			b->eof = 1;
			break;
		}
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN)
			break;
		return -errno;
	}
	return 0;
}

/* Writes buffered bytes to dst and passes on a FIN once the buffer is
 * empty; returns 0 or -errno. */
static int drain(struct pipe_buf *b, int dst)
{
	while (b->start < b->end) {
		ssize_t n = send(dst, b->data + b->start, b->end - b->start, MSG_NOSIGNAL);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				return 0;
			return -errno;
		}
		b->start += (size_t)n;
	}
	b->start = b->end = 0;
	if (b->eof && !b->shut) {
		shutdown(dst, SHUT_WR);
		b->shut = 1;
	}
	return 0;
}

static uint32_t wanted_events(const struct pipe_buf *in, const struct pipe_buf *out)
{
	uint32_t ev = 0;

	if (!in->eof && in->end < RELAY_BUF)
		ev |= EPOLLIN;
	if (out->start < out->end)
		ev |= EPOLLOUT;
	return ev;
}

/* Handles EPOLLHUP on one socket: its peer is gone for writing too, so
 * bytes still owed to it can never arrive.  They are dropped and that
 * direction counts as finished; what the socket still has to read is
 * relayed to its end as usual. */
static void handle_hangup(struct relay *r, struct loop_watch *w)
{
	int is_client = w == &r->client_watch;
	struct pipe_buf *into = is_client ? &r->down : &r->up;

	if (is_client)
		r->client_hup = 1;
	else
		r->upstream_hup = 1;
	if (!into->shut && into->start < into->end)
		debug("connection %lu: %s hung up; dropping %zu bytes owed to it", r->id,
		      is_client ? "client" : "upstream", into->end - into->start);
	into->start = into->end = 0;
	into->eof = into->shut = 1;
}

/* Sets the epoll interest of one socket.  EPOLLHUP is reported even with
 * an empty mask, so a hung-up socket that needs nothing leaves the epoll
 * set until it needs something again, instead of waking the loop in a
 * tight cycle. */
static int set_interest(struct relay *r, struct loop_watch *w, int fd, int hup, uint32_t events)
{
	struct loop *loop = &r->peer->loop;

	if (hup && events == 0) {
		loop_watch_remove(loop, w);
		return 0;
	}
	if (!w->registered)
		return loop_watch_add(loop, w, fd, events, on_relay_socket, r);
	return loop_watch_modify(loop, w, events);
}

/* Moves what can be moved and sets the epoll interest of both sockets;
 * frees the relay once both directions are finished or one failed.
 * hangup is the watch that reported EPOLLHUP, or NULL. */
static void relay_update(struct relay *r, struct loop_watch *hangup)
{
	int err;

	if (hangup)
		handle_hangup(r, hangup);
	if ((err = fill(&r->up, r->client_fd)) < 0 || (err = drain(&r->up, r->upstream_fd)) < 0 ||
	    (err = fill(&r->down, r->upstream_fd)) < 0 || (err = drain(&r->down, r->client_fd)) < 0) {
		debug("connection %lu failed: %s", r->id, strerror(-err));
		relay_free(r, NULL);
		return;
	}
	if (r->up.shut && r->down.shut) {
		relay_free(r, "both directions finished");
		return;
	}
	if ((err = set_interest(r, &r->client_watch, r->client_fd, r->client_hup,
				wanted_events(&r->up, &r->down))) < 0 ||
	    (err = set_interest(r, &r->upstream_watch, r->upstream_fd, r->upstream_hup,
				wanted_events(&r->down, &r->up))) < 0) {
		debug("connection %lu: epoll_ctl failed: %s", r->id, strerror(-err));
		relay_free(r, NULL);
	}
}

static void on_relay_socket(struct loop *loop, struct loop_watch *w, uint32_t events)
{
	struct relay *r = w->ctx;
	struct peer *p = r->peer;

	if (r->connecting) {
		int err = transport_connect_result(r->upstream_fd);

		if (err < 0) {
			if (log_limit_allow(&p->connect_limit, 1000))
				log_errno(LOG_ERROR, -err, "connect to %s failed; closing connection %lu",
					  p->to.text, r->id);
			reset_client(r);
			relay_free(r, NULL);
			return;
		}
		r->connecting = 0;
		debug("connection %lu: connected to %s", r->id, p->to.text);
		if (loop_watch_add(loop, &r->client_watch, r->client_fd, 0, on_relay_socket, r) < 0) {
			relay_free(r, "watching the client failed");
			return;
		}
		events &= ~(uint32_t)EPOLLHUP;
	}
	if (events & EPOLLERR) {
		int err = transport_connect_result(w->fd);

		debug("connection %lu failed: %s", r->id, strerror(err ? -err : EIO));
		relay_free(r, NULL);
		return;
	}
	relay_update(r, events & EPOLLHUP ? w : NULL);
}

static void start_relay(struct peer *p, int client_fd)
{
	struct relay *r = calloc(1, sizeof *r);
	int in_progress, fd;

	if (r) {
		r->up.data = malloc(RELAY_BUF);
		r->down.data = malloc(RELAY_BUF);
	}
	if (!r || !r->up.data || !r->down.data) {
		error("out of memory: closing a new connection");
		if (r) {
			free(r->up.data);
			free(r->down.data);
			free(r);
		}
		close(client_fd);
		return;
	}
	r->peer = p;
	r->id = ++p->next_id;
	r->client_fd = client_fd;
	r->upstream_fd = -1;
	r->next = p->relays;
	if (p->relays)
		p->relays->prev = r;
	p->relays = r;
	if (++p->relay_count == p->max_relays)
		loop_watch_modify(&p->loop, &p->relay_listener.watch, 0);
	debug("connection %lu accepted", r->id);

	fd = transport_connect(&p->to, &in_progress);
	if (fd < 0) {
		if (log_limit_allow(&p->connect_limit, 1000))
			log_errno(LOG_ERROR, -fd, "connect to %s failed; closing connection %lu",
				  p->to.text, r->id);
		reset_client(r);
		relay_free(r, NULL);
		return;
	}
	r->upstream_fd = fd;
	r->connecting = 1;
	if (loop_watch_add(&p->loop, &r->upstream_watch, fd, EPOLLOUT, on_relay_socket, r) < 0) {
		relay_free(r, "watching the upstream failed");
		return;
	}
	/* A unix connect may finish at once.  The connecting branch of
	 * on_relay_socket then reads SO_ERROR 0 and starts relaying. */
	if (!in_progress)
		on_relay_socket(&p->loop, &r->upstream_watch, EPOLLOUT);
}

static void answer_handshake(struct peer *p, int fd)
{
	/* The phrase is far below any socket buffer, so one send on a new
	 * connection writes all of it. */
	ssize_t n = send(fd, SEED_PHRASE, sizeof SEED_PHRASE - 1, MSG_NOSIGNAL);

	if (n != (ssize_t)(sizeof SEED_PHRASE - 1))
		log_errno(LOG_WARN, n < 0 ? errno : 0, "writing the handshake reply failed");
	else
		info("answered a handshake on %s", p->handshake_listener.addr.text);
	close(fd);
}

static void on_resume_accept(struct loop *loop, struct loop_timer *t)
{
	struct listener *l = t->ctx;

	loop_watch_modify(loop, &l->watch, EPOLLIN);
}

static void on_accept(struct loop *loop, struct loop_watch *w, uint32_t events)
{
	struct listener *l = w->ctx;
	struct peer *p = l->peer;

	for (int i = 0; i < 64; i++) {
		if (!l->handshake && p->relay_count >= p->max_relays)
			return;
		int fd = transport_accept(l->fd);

		if (fd == -EAGAIN || fd == -ECONNABORTED)
			return;
		if (fd < 0) {
			if (log_limit_allow(&l->limit, 5000))
				log_errno(LOG_ERROR, -fd, "accept on %s failed; pausing for %d ms",
					  l->addr.text, ACCEPT_PAUSE_MS);
			loop_watch_modify(loop, &l->watch, 0);
			loop_timer_start(loop, &l->pause, ACCEPT_PAUSE_MS, on_resume_accept, l);
			return;
		}
		if (l->handshake)
			answer_handshake(p, fd);
		else
			start_relay(p, fd);
	}
}

static void parse_listener(struct peer *p, struct listener *l, const char *text, int handshake,
			   const char *option)
{
	const char *reason;

	l->peer = p;
	l->handshake = handshake;
	l->fd = -1;
	if (transport_parse(text, TRANSPORT_LISTEN, &l->addr, &reason) < 0)
		usage_error("invalid %s address '%s': %s", option, text, reason);
}

static void open_listener(struct peer *p, struct listener *l)
{
	int r;

	l->fd = transport_listen(&l->addr);
	if (l->fd < 0)
		die_errno(EXIT_TEMPORARY, -l->fd, "listening on %s failed", l->addr.text);
	r = loop_watch_add(&p->loop, &l->watch, l->fd, EPOLLIN, on_accept, l);
	if (r < 0)
		die_errno(EXIT_TEMPORARY, -r, "watching %s failed", l->addr.text);
	info("listening on %s%s", l->addr.text, l->handshake ? " for the handshake" : "");
}

static void on_signal(struct loop *loop, int signo, void *ctx)
{
	struct peer *p = ctx;

	info("%s: closing %u connections and exiting", signo == SIGTERM ? "SIGTERM" : "SIGINT",
	     p->relay_count);
	loop_stop(loop, EXIT_OK);
}

/* At most this many per-connection lines in a SIGUSR1 state dump. */
#define STATE_LINES_MAX 1000

static const char *direction_state(const struct pipe_buf *b)
{
	if (b->shut)
		return "closed";
	return b->eof ? "closing" : "open";
}

/* SIGUSR1: logs the listeners, the upstream, the connection count, and
 * one line per relayed connection with its buffered bytes. */
static void on_sigusr1(struct loop *loop, int signo, void *ctx)
{
	struct peer *p = ctx;
	unsigned shown = 0;

	info("state: %u of %u connections relayed from %s to %s; handshake %s%s%s",
	     p->relay_count, p->max_relays, p->relay_listener.addr.text, p->to.text,
	     p->handshake_listener.watch.registered ? "on " : "not answered",
	     p->handshake_listener.watch.registered ? p->handshake_listener.addr.text : "",
	     p->relay_listener.pause.armed ? "; accepting paused after a failure" : "");
	for (const struct relay *r = p->relays; r; r = r->next) {
		if (shown == STATE_LINES_MAX) {
			info("state: %u more connections not shown", p->relay_count - shown);
			break;
		}
		if (r->connecting)
			info("state: connection %lu: connecting upstream, %zu bytes from the client waiting",
			     r->id, r->up.end - r->up.start);
		else
			info("state: connection %lu: to upstream %s, %zu bytes buffered; to client %s, %zu bytes buffered",
			     r->id, direction_state(&r->up), r->up.end - r->up.start,
			     direction_state(&r->down), r->down.end - r->down.start);
		shown++;
	}
}

static const struct option long_options[] = {
	{ "listen", required_argument, 0, 'l' },
	{ "to", required_argument, 0, 't' },
	{ "handshake", required_argument, 0, 'H' },
	{ "no-handshake", no_argument, 0, 'N' },
	{ "max-connections", required_argument, 0, 'm' },
	COMMON_LONG_OPTIONS,
	{ 0, 0, 0, 0 }
};

int vtunnel_peer_main(int argc, char **argv)
{
	struct peer p;
	const char *listen_text = "tcp:127.0.0.1:3040", *to_text = "vsock:2:17381";
	const char *handshake_text = "vsock:ANY:17382", *reason;
	int opt, r;

	memset(&p, 0, sizeof p);
	p.max_relays = 1024;
	while ((opt = applet_getopt(argc, argv, COMMON_SHORT_OPTIONS, long_options)) != -1) {
		switch (opt) {
		case 'l':
			listen_text = optarg;
			break;
		case 't':
			to_text = optarg;
			break;
		case 'H':
			handshake_text = optarg;
			break;
		case 'N':
			handshake_text = NULL;
			break;
		case 'm':
			p.max_relays = (unsigned)parse_number(optarg, 1, 65536, "--max-connections");
			break;
		}
	}
	no_arguments(argc, argv);
	if (transport_parse(to_text, 0, &p.to, &reason) < 0)
		usage_error("invalid --to address '%s': %s", to_text, reason);
	parse_listener(&p, &p.relay_listener, listen_text, 0, "--listen");
	if (handshake_text)
		parse_listener(&p, &p.handshake_listener, handshake_text, 1, "--handshake");

	r = loop_init(&p.loop);
	if (r < 0)
		die_errno(EXIT_TEMPORARY, -r, "creating the event loop failed");
	if ((r = loop_signal(&p.loop, SIGTERM, on_signal, &p)) < 0 ||
	    (r = loop_signal(&p.loop, SIGINT, on_signal, &p)) < 0 ||
	    (r = loop_signal(&p.loop, SIGUSR1, on_sigusr1, &p)) < 0)
		die_errno(EXIT_TEMPORARY, -r, "setting up signal handling failed");
	signal(SIGPIPE, SIG_IGN);
	open_listener(&p, &p.relay_listener);
	if (handshake_text)
		open_listener(&p, &p.handshake_listener);
	info("relaying connections to %s", p.to.text);

	r = loop_run(&p.loop);
	while (p.relays)
		relay_free(p.relays, NULL);
	if (r < 0)
		die_errno(EXIT_TEMPORARY, -r, "event loop failed");
	return r;
}
