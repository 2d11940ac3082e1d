/* usage: docker-watch [OPTIONS]
 *
 * Follows the Docker Engine API and writes a port event for every port that
 * a running container publishes: "add" when the container starts, "del"
 * when it stops or is removed.  OWNER is SOURCE/CONTAINER_ID.  A snapshot
 * ("sync SOURCE", an add per port, "done SOURCE") comes first and again
 * after every reconnect.  Waits for the daemon when its socket is missing.
 *
 *   -H, --host unix://PATH
 *                       Engine API socket (default: $DOCKER_HOST, else
 *                       unix:///var/run/docker.sock); only unix:// works
 *   --source NAME       SOURCE in the events (default: docker)
 *   --once              write one snapshot and exit; exit 111 when the
 *                       daemon cannot be reached
 *   -v, --debug, --verbose
 *                       also log every container event and API request
 *   -q, --quiet         log warnings and errors only
 *
 * SIGUSR1 logs the connection state and every container's ports.
 * Exit codes: 0 after --once, on SIGTERM/SIGINT, or when stdout is closed;
 * 1 on a fatal error; 2 on a usage error; 111 with --once when the daemon
 * cannot be reached.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "applet.h"
#include "clock.h"
#include "docker.h"
#include "http.h"
#include "io.h"
#include "loop.h"
#include "pev.h"

/* API versions: 1.40 is Docker 19.03.  Paths use the lower of the daemon's
 * API-Version and API_NEWEST.  NOTE: the integration tests run against
 * Debian's dockerd 20.10 (API 1.41); the API 1.52 event shapes are covered
 * by unit tests and a stand-in daemon (docker-watch-faults.bats) only. */
#define API_OLDEST 40
#define API_NEWEST 52

#define DEFAULT_HOST "unix:///var/run/docker.sock"

/* Response body limits: an inspect is about 5 KiB and a listed container
 * about 1.2 KiB (dockerd 20.10), so these leave ample room. */
#define INSPECT_BODY_MAX (4u << 20)
#define LIST_BODY_MAX (32u << 20)
#define ERROR_BODY_MAX 65536u
/* jsmn needs at most one token per byte of input; these cap the memory. */
#define EVENT_TOKENS_MAX 32768
#define INSPECT_TOKENS_MAX 262144
#define LIST_TOKENS_MAX 2097152

/* Requests sent ahead on the API connection before their responses. */
#define PIPELINE_MAX 16
/* An API request without a response for this long drops the connection. */
#define REQUEST_TIMEOUT_MS 30000

#define READ_SIZE 65536

/* The events that change published ports, as the JSON value of the
 * filters parameter: {"type":["container","network"],"event":["start",
 * "restart","die","stop","kill","destroy","connect","disconnect"]},
 * URL-encoded.  Filter keys combine with AND and values with OR, so the
 * network events are only connect and disconnect. */
#define EVENTS_QUERY "filters=%7B%22type%22%3A%5B%22container%22%2C%22network%22%5D%2C%22event%22%3A%5B" \
	"%22start%22%2C%22restart%22%2C%22die%22%2C%22stop%22%2C%22kill%22%2C%22destroy%22%2C" \
	"%22connect%22%2C%22disconnect%22%5D%7D"

struct port_binding {
	enum pev_proto proto;
	struct pev_addr host_ip;
	uint16_t host_port;
	uint16_t target_port;
	struct pev_addr target_ip;
};

/* The state of one container: the bindings emitted for it (or to emit in
 * the next snapshot) and a generation that every event for the container
 * increments, so that an inspect response read before a later event is
 * recognized as stale and dropped. */
struct container {
	char id[DOCKER_ID_LEN + 1];
	unsigned gen;
	int queued;                  /* an inspect request is waiting to be sent */
	unsigned inflight;           /* inspect requests sent, response not read yet */
	struct port_binding *bindings;
	size_t count;
	struct container *hash_next;
	struct container *prev, *next;
};

#define CONTAINER_BUCKETS 1024

enum request_kind { REQ_PING, REQ_LIST, REQ_INSPECT };

struct request {
	enum request_kind kind;
	char id[DOCKER_ID_LEN + 1];  /* REQ_INSPECT */
	unsigned gen;                /* container generation when sent */
	int snapshot;                /* part of the snapshot being built */
	struct request *next;
};

/* A growing response body with a limit. */
struct body {
	char *data;
	size_t len, cap, max;
	int too_large;
};

struct conn {
	int fd;
	struct loop_watch watch;
	struct http_parser parser;
	struct body body;
};

enum phase {
	PHASE_RETRY,     /* waiting for the retry timer */
	PHASE_PING,      /* GET /_ping sent */
	PHASE_EVENTS,    /* GET /events sent, waiting for its header */
	PHASE_LIST,      /* GET /containers/json sent */
	PHASE_SNAPSHOT,  /* inspecting the listed containers */
	PHASE_LIVE,      /* snapshot written; following events */
};

static struct {
	struct loop loop;
	const char *source;
	char path[sizeof ((struct sockaddr_un *)0)->sun_path];
	int once;

	enum phase phase;
	unsigned api_minor;
	char api_prefix[16];        /* "/v1.NN" */

	struct conn api, events;
	struct docker_records *records;
	int events_status;

	struct request *unsent, *unsent_tail;
	struct request *inflight, *inflight_tail;
	unsigned inflight_count;
	unsigned snapshot_pending;

	struct container *buckets[CONTAINER_BUCKETS];
	struct container *containers;
	size_t container_count;

	struct backoff wait_backoff;    /* daemon not running: up to 1 s */
	struct backoff retry_backoff;   /* after a failure: up to 5 s */
	struct loop_timer retry_timer;
	struct loop_timer request_timer;
	int waiting_logged;
	int ever_synced;
	struct log_limit error_limit;
	struct log_limit port_limit;
} g;

static void reconnect(const char *reason, int daemon_missing);
static void send_requests(void);
static void request_timed_out(struct loop *loop, struct loop_timer *timer);

/* ---- output ---- */

static void write_event(enum pev_verb verb, const char *id, const struct port_binding *b)
{
	char owner[PEV_OWNER_MAX];
	struct pev ev;
	int r;

	snprintf(owner, sizeof owner, "%s/%s", g.source, id);
	if (pev_set_binding(&ev, verb, owner, b->proto, &b->host_ip, b->host_port, b->target_port,
			    b->target_ip.family ? &b->target_ip : NULL) < 0) {
		error("cannot format a port event for container %s; skipping it", id);
		return;
	}
	r = pev_write(STDOUT_FILENO, &ev);
	if (r == -EPIPE) {
		info("stdout closed; exiting");
		exit(EXIT_OK);
	}
	if (r < 0)
		die_errno(EXIT_FAIL, -r, "write to stdout failed");
}

static void write_marker(enum pev_verb verb)
{
	int r = pev_write_marker(STDOUT_FILENO, verb, g.source);

	if (r == -EPIPE) {
		info("stdout closed; exiting");
		exit(EXIT_OK);
	}
	if (r < 0)
		die_errno(EXIT_FAIL, -r, "write to stdout failed");
}

/* ---- the container table ---- */

static unsigned bucket_of(const char *id)
{
	unsigned h = 2166136261u;

	for (const char *p = id; *p; p++)
		h = (h ^ (unsigned char)*p) * 16777619u;
	return h % CONTAINER_BUCKETS;
}

static struct container *container_find(const char *id)
{
	for (struct container *c = g.buckets[bucket_of(id)]; c; c = c->hash_next)
		if (!strcmp(c->id, id))
			return c;
	return NULL;
}

static struct container *container_get(const char *id)
{
	struct container *c = container_find(id);
	unsigned b;

	if (c)
		return c;
	c = calloc(1, sizeof *c);
	if (!c)
		die(EXIT_FAIL, "out of memory for container %s", id);
	memcpy(c->id, id, sizeof c->id);
	b = bucket_of(id);
	c->hash_next = g.buckets[b];
	g.buckets[b] = c;
	c->next = g.containers;
	if (g.containers)
		g.containers->prev = c;
	g.containers = c;
	g.container_count++;
	return c;
}

static void container_free(struct container *c)
{
	struct container **pp = &g.buckets[bucket_of(c->id)];

	while (*pp != c)
		pp = &(*pp)->hash_next;
	*pp = c->hash_next;
	if (c->prev)
		c->prev->next = c->next;
	else
		g.containers = c->next;
	if (c->next)
		c->next->prev = c->prev;
	g.container_count--;
	free(c->bindings);
	free(c);
}

/* Frees a record without bindings and without pending requests. */
static void container_release(struct container *c)
{
	if (!c->count && !c->queued && !c->inflight)
		container_free(c);
}

static int binding_same(const struct port_binding *a, const struct port_binding *b)
{
	return a->proto == b->proto && a->host_port == b->host_port &&
	       a->target_port == b->target_port && pev_addr_equal(&a->host_ip, &b->host_ip) &&
	       a->target_ip.family == b->target_ip.family &&
	       (!a->target_ip.family || pev_addr_equal(&a->target_ip, &b->target_ip));
}

static int binding_in(const struct port_binding *b, const struct port_binding *set, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (binding_same(b, &set[i]))
			return 1;
	return 0;
}

/* Replaces the container's bindings with next (taking ownership) and,
 * once the snapshot is written, emits the difference: del for what went,
 * add for what came.  A binding whose target changed is withdrawn and
 * added again, because consumers key bindings without the target. */
static void container_set(struct container *c, struct port_binding *next, size_t n)
{
	if (g.phase == PHASE_LIVE) {
		for (size_t i = 0; i < c->count; i++)
			if (!binding_in(&c->bindings[i], next, n))
				write_event(PEV_DEL, c->id, &c->bindings[i]);
		for (size_t i = 0; i < n; i++)
			if (!binding_in(&next[i], c->bindings, c->count))
				write_event(PEV_ADD, c->id, &next[i]);
	}
	free(c->bindings);
	c->bindings = next;
	c->count = n;
}

static void containers_clear(void)
{
	while (g.containers)
		container_free(g.containers);
}

/* ---- request queue ---- */

static void request_free_list(struct request **head, struct request **tail)
{
	while (*head) {
		struct request *r = *head;

		*head = r->next;
		free(r);
	}
	*tail = NULL;
}

static struct request *request_new(enum request_kind kind)
{
	struct request *r = calloc(1, sizeof *r);

	if (!r)
		die(EXIT_FAIL, "out of memory for an API request");
	r->kind = kind;
	if (g.unsent_tail)
		g.unsent_tail->next = r;
	else
		g.unsent = r;
	g.unsent_tail = r;
	return r;
}

/* Queues an inspect of c unless one is already waiting to be sent, which
 * then reads the container's state after every event seen so far. */
static void queue_inspect(struct container *c, int snapshot)
{
	struct request *r;

	if (c->queued) {
		if (snapshot) {
			for (r = g.unsent; r; r = r->next) {
				if (r->kind == REQ_INSPECT && !strcmp(r->id, c->id) && !r->snapshot) {
					r->snapshot = 1;
					g.snapshot_pending++;
				}
			}
		}
		return;
	}
	r = request_new(REQ_INSPECT);
	memcpy(r->id, c->id, sizeof r->id);
	r->snapshot = snapshot;
	if (snapshot)
		g.snapshot_pending++;
	c->queued = 1;
}

/* ---- connections ---- */

static void body_reset(struct body *b, size_t max)
{
	/* Keep a small buffer between responses and give large ones back. */
	if (b->cap > 65536) {
		free(b->data);
		b->data = NULL;
		b->cap = 0;
	}
	b->len = 0;
	b->max = max;
	b->too_large = 0;
}

static int body_append(struct body *b, const char *data, size_t len)
{
	if (b->too_large || len > b->max - b->len) {
		b->too_large = 1;
		return 0;
	}
	if (b->len + len + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 8192;
		char *p;

		while (cap < b->len + len + 1)
			cap *= 2;
		p = realloc(b->data, cap);
		if (!p)
			return -ENOMEM;
		b->data = p;
		b->cap = cap;
	}
	memcpy(b->data + b->len, data, len);
	b->len += len;
	b->data[b->len] = '\0';
	return 0;
}

static void conn_close(struct conn *c)
{
	if (c->fd < 0)
		return;
	loop_watch_remove(&g.loop, &c->watch);
	close(c->fd);
	c->fd = -1;
}

/* Connects to the daemon's socket; returns the descriptor or -errno. */
static int connect_socket(void)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int fd, r;

	memcpy(addr.sun_path, g.path, sizeof addr.sun_path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&addr, sizeof addr) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	if ((r = fd_set_nonblock(fd, 1)) < 0) {
		close(fd);
		return r;
	}
	return fd;
}

static int send_request(struct conn *c, const char *target, const char *accept)
{
	struct http_field fields[2] = {
		{ "User-Agent", "rdagent-docker-watch/" RDAGENT_VERSION },
		{ "Accept", accept },
	};
	char buf[1024];
	int n = http_request_format(buf, sizeof buf, "GET", target, "docker", fields, 2, -1);

	if (n < 0)
		return n;
	debug("GET %s", target);
	return full_write(c->fd, buf, (size_t)n);
}

/* ---- API connection: ping, list, inspect ---- */

/* Callback results that stop the API response parser. */
enum { STOP_API_VERSION = 1, STOP_NO_MEMORY = 2 };

static int api_on_header(void *ctx, const char *name, size_t nlen, const char *value, size_t vlen)
{
	unsigned minor;

	if (!g.inflight || g.inflight->kind != REQ_PING || !http_name_is(name, nlen, "api-version"))
		return 0;
	if (docker_api_version_parse(value, vlen, &minor) < 0) {
		char shown[64];

		log_sanitize(shown, sizeof shown, value, vlen);
		error("invalid API-Version '%s' from the Docker daemon", shown);
		return STOP_API_VERSION;
	}
	g.api_minor = minor;
	return 0;
}

static int api_on_headers_done(void *ctx, const struct http_parser *p)
{
	size_t max = ERROR_BODY_MAX;

	if (p->status == 200 && g.inflight)
		max = g.inflight->kind == REQ_LIST ? LIST_BODY_MAX : INSPECT_BODY_MAX;
	body_reset(&g.api.body, max);
	return 0;
}

static int api_on_body(void *ctx, const char *data, size_t len)
{
	return body_append(&g.api.body, data, len) < 0 ? STOP_NO_MEMORY : 0;
}

/* Tokenizes with a token array sized by a counting pass, up to max. */
static jsmntok_t *tokens_for(const char *text, size_t len, int max, int *count)
{
	jsmn_parser p;
	int n;

	jsmn_init(&p);
	n = jsmn_parse(&p, text, len, NULL, 0);
	if (n <= 0 || n > max) {
		*count = n > max ? -2 : -1;
		return NULL;
	}
	*count = n;
	return malloc((size_t)n * sizeof(jsmntok_t));
}

/* Logs an API error response with the daemon's message. */
static void log_api_error(const char *what, int status, const struct body *b)
{
	jsmntok_t tokens[64];
	char message[512];

	docker_error_message(b->data ? b->data : "", b->len, tokens, 64, message, sizeof message);
	error("%s failed: HTTP %d%s%s", what, status, message[0] ? ": " : "", message);
}

struct inspect_ctx {
	struct port_binding *list;
	size_t count, cap;
	struct docker_container *c;
	int failed;
};

static int on_port(void *ctx, const struct docker_port *port, const char *key, const char *reason)
{
	struct inspect_ctx *ic = ctx;
	struct port_binding b;

	if (!port) {
		if (log_limit_allow(&g.port_limit, 1000))
			warn("container %.12s: skipping published port %s: %s; its other ports are kept",
			     ic->c->id, key, reason);
		return 0;
	}
	memset(&b, 0, sizeof b);
	b.proto = port->proto;
	b.host_ip = port->host_ip;
	b.host_port = port->host_port;
	b.target_port = port->container_port;
	/* docker-proxy forwards an IPv6 host address to the container's IPv6
	 * address when it has one, and to its IPv4 address otherwise. */
	b.target_ip = ic->c->ip;
	if (b.host_ip.family == AF_INET6 && ic->c->ip6.family)
		b.target_ip = ic->c->ip6;
	/* The same host endpoint twice in one container is one binding. */
	for (size_t i = 0; i < ic->count; i++)
		if (ic->list[i].proto == b.proto && ic->list[i].host_port == b.host_port &&
		    pev_addr_equal(&ic->list[i].host_ip, &b.host_ip))
			return 0;
	if (ic->count == ic->cap) {
		size_t cap = ic->cap ? ic->cap * 2 : 8;
		struct port_binding *p = realloc(ic->list, cap * sizeof *p);

		if (!p) {
			ic->failed = 1;
			return 1;
		}
		ic->list = p;
		ic->cap = cap;
	}
	ic->list[ic->count++] = b;
	return 0;
}

/* Applies an inspect response for req.  Returns 0, or -1 after a failure
 * that needs a reconnect (it has been logged). */
static int handle_inspect(const struct request *req, int status)
{
	struct container *c = container_find(req->id);
	struct docker_container info;
	struct inspect_ctx ic = { .c = &info };
	jsmntok_t *tokens;
	int count, json_error = 0, r;

	if (c)
		c->inflight--;
	if (status == 404) {
		debug("container %.12s is gone", req->id);
		if (c && c->gen == req->gen)
			container_set(c, NULL, 0);
		if (c)
			container_release(c);
		return 0;
	}
	if (status != 200) {
		if (log_limit_allow(&g.error_limit, 1000))
			log_api_error("inspect of a container", status, &g.api.body);
		if (c)
			container_release(c);
		return 0;
	}
	if (!c || c->gen != req->gen) {
		/* A later event made this response stale; that event queued its own. */
		debug("dropping a stale inspect of container %.12s", req->id);
		if (c)
			container_release(c);
		return 0;
	}
	tokens = tokens_for(g.api.body.data, g.api.body.len, INSPECT_TOKENS_MAX, &count);
	if (!tokens) {
		error("inspect of container %.12s: %s; reconnecting", req->id,
		      count == -2 ? "more JSON tokens than the limit" : "invalid JSON");
		return -1;
	}
	memset(&info, 0, sizeof info);
	r = docker_inspect_parse(g.api.body.data, g.api.body.len, tokens, count, &info, on_port,
				 &ic, &json_error);
	free(tokens);
	if (r < 0 || ic.failed) {
		error("inspect of container %.12s: %s%s%s; reconnecting", req->id,
		      ic.failed ? "out of memory" : docker_strerror(r),
		      r == DOCKER_ERROR_JSON ? ": " : "", r == DOCKER_ERROR_JSON ? json_strerror(json_error) : "");
		free(ic.list);
		return -1;
	}
	if (strcmp(info.id, req->id)) {
		error("inspect of container %.12s returned container %.12s; reconnecting", req->id, info.id);
		free(ic.list);
		return -1;
	}
	/* A container that stopped again before the inspect has no ports. */
	if (!info.running) {
		free(ic.list);
		ic.list = NULL;
		ic.count = 0;
	}
	debug("container %.12s: %s, %zu published ports", req->id,
	      info.running ? "running" : "not running", ic.count);
	container_set(c, ic.list, ic.count);
	container_release(c);
	return 0;
}

static int on_listed(void *ctx, const char *id)
{
	queue_inspect(container_get(id), 1);
	return 0;
}

static void write_snapshot(void)
{
	size_t ports = 0;

	write_marker(PEV_SYNC);
	for (struct container *c = g.containers; c; c = c->next) {
		for (size_t i = 0; i < c->count; i++)
			write_event(PEV_ADD, c->id, &c->bindings[i]);
		ports += c->count;
	}
	write_marker(PEV_DONE);
	g.phase = PHASE_LIVE;
	backoff_reset(&g.retry_backoff);
	info("%s snapshot written: %zu published ports in %zu containers; following events",
	     g.ever_synced ? "new" : "first", ports, g.container_count);
	g.ever_synced = 1;
	if (g.once)
		loop_stop(&g.loop, EXIT_OK);
}

static int handle_list(int status)
{
	jsmntok_t *tokens;
	int count, json_error = 0, r;

	if (status != 200) {
		log_api_error("list of containers", status, &g.api.body);
		return -1;
	}
	tokens = tokens_for(g.api.body.data, g.api.body.len, LIST_TOKENS_MAX, &count);
	if (!tokens) {
		error("list of containers: %s", count == -2 ? "more JSON tokens than the limit" : "invalid JSON");
		return -1;
	}
	r = docker_list_parse(g.api.body.data, g.api.body.len, tokens, count, on_listed, NULL, &json_error);
	free(tokens);
	if (r < 0) {
		error("list of containers: %s", docker_strerror(r));
		return -1;
	}
	debug("%u running containers to inspect", g.snapshot_pending);
	g.phase = PHASE_SNAPSHOT;
	return 0;
}

static int handle_ping(int status)
{
	if (status != 200) {
		log_api_error("ping", status, &g.api.body);
		return -1;
	}
	if (!g.api_minor) {
		error("the Docker daemon sent no API-Version header");
		return -1;
	}
	if (g.api_minor < API_OLDEST) {
		error("the Docker daemon speaks API 1.%u; docker-watch needs 1.%u or later", g.api_minor,
		      API_OLDEST);
		return -1;
	}
	if (g.api_minor > API_NEWEST)
		g.api_minor = API_NEWEST;
	snprintf(g.api_prefix, sizeof g.api_prefix, "/v1.%u", g.api_minor);
	debug("using Docker API 1.%u", g.api_minor);
	return 0;
}

static void open_events(void);

/* Handles the complete response to the oldest request in flight.
 * Returns 0, or -1 when the connection must be dropped (logged). */
static int api_response_done(void)
{
	struct request *req = g.inflight;
	int status = g.api.parser.status;
	int r = 0;

	g.inflight = req->next;
	if (!g.inflight)
		g.inflight_tail = NULL;
	g.inflight_count--;
	if (g.api.body.too_large) {
		error("response to %s is larger than %zu bytes; reconnecting",
		      req->kind == REQ_LIST ? "the container list" : "an inspect", g.api.body.max);
		free(req);
		return -1;
	}
	switch (req->kind) {
	case REQ_PING:
		r = handle_ping(status);
		if (!r)
			open_events();
		break;
	case REQ_LIST:
		r = handle_list(status);
		break;
	case REQ_INSPECT:
		r = handle_inspect(req, status);
		if (req->snapshot && g.snapshot_pending)
			g.snapshot_pending--;
		break;
	}
	free(req);
	if (r < 0)
		return -1;
	if (g.phase == PHASE_SNAPSHOT && !g.snapshot_pending)
		write_snapshot();
	return 0;
}

static const struct http_callbacks api_callbacks = {
	.header = api_on_header,
	.headers_done = api_on_headers_done,
	.body = api_on_body,
};

static void api_readable(struct loop *loop, struct loop_watch *watch, uint32_t events)
{
	static char buf[READ_SIZE];
	ssize_t n = safe_read(g.api.fd, buf, sizeof buf);
	size_t pos = 0;

	if (n == -EAGAIN)
		return;
	if (n < 0) {
		char reason[512];

		snprintf(reason, sizeof reason, "read from the API connection failed: %s", strerror((int)-n));
		reconnect(reason, 0);
		return;
	}
	if (n == 0) {
		if (!g.inflight && !g.unsent) {
			/* An idle keep-alive connection closed: reopen on demand. */
			debug("the daemon closed the idle API connection");
			conn_close(&g.api);
			return;
		}
		reconnect("the daemon closed the API connection before answering", 0);
		return;
	}
	while (pos < (size_t)n) {
		size_t used = 0;
		int r;

		if (!g.inflight) {
			reconnect("the daemon sent data that answers no request", 0);
			return;
		}
		r = http_parser_feed(&g.api.parser, buf + pos, (size_t)n - pos, &used);
		pos += used;
		if (r == 0)
			break;
		if (r < 0) {
			char reason[512];

			if (r == HTTP_ERROR_CALLBACK && g.api.parser.callback_result == STOP_NO_MEMORY)
				snprintf(reason, sizeof reason, "out of memory for a response body");
			else if (r == HTTP_ERROR_CALLBACK)
				snprintf(reason, sizeof reason, "invalid API-Version from the daemon");
			else
				snprintf(reason, sizeof reason, "invalid HTTP response from the daemon: %s",
					 http_strerror(r));
			reconnect(reason, 0);
			return;
		}
		{
			int keep_alive = g.api.parser.keep_alive;

			if (api_response_done() < 0) {
				reconnect("the response could not be used", 0);
				return;
			}
			if (g.phase == PHASE_RETRY)
				return;
			if (!keep_alive) {
				conn_close(&g.api);
				if (g.inflight) {
					reconnect("the daemon closed the API connection with requests pending", 0);
					return;
				}
				break;
			}
		}
		http_parser_reset(&g.api.parser, 0);
	}
	if (g.api.fd >= 0 || g.unsent)
		send_requests();
	/* The timer also covers the wait for the event stream's header. */
	if (g.inflight || g.phase == PHASE_EVENTS)
		loop_timer_start(&g.loop, &g.request_timer, REQUEST_TIMEOUT_MS, request_timed_out, NULL);
	else
		loop_timer_stop(&g.loop, &g.request_timer);
}

static void request_timed_out(struct loop *loop, struct loop_timer *timer)
{
	reconnect("no response from the daemon within 30 s", 0);
}

static int api_open(void)
{
	int fd = connect_socket();

	if (fd < 0)
		return fd;
	g.api.fd = fd;
	http_parser_init(&g.api.parser, 0, &api_callbacks, NULL);
	body_reset(&g.api.body, ERROR_BODY_MAX);
	return loop_watch_add(&g.loop, &g.api.watch, fd, EPOLLIN, api_readable, NULL);
}

/* Sends queued requests while fewer than PIPELINE_MAX are in flight. */
static void send_requests(void)
{
	while (g.unsent && g.inflight_count < PIPELINE_MAX) {
		struct request *req = g.unsent;
		char target[256];
		int r;

		if (g.api.fd < 0 && (r = api_open()) < 0) {
			char reason[512];

			snprintf(reason, sizeof reason, "connect to %s failed: %s", g.path, strerror(-r));
			reconnect(reason, r == -ENOENT || r == -ECONNREFUSED);
			return;
		}
		switch (req->kind) {
		case REQ_PING:
			snprintf(target, sizeof target, "/_ping");
			break;
		case REQ_LIST:
			snprintf(target, sizeof target, "%s/containers/json", g.api_prefix);
			break;
		case REQ_INSPECT:
			snprintf(target, sizeof target, "%s/containers/%s/json", g.api_prefix, req->id);
			break;
		}
		if ((r = send_request(&g.api, target, "application/json")) < 0) {
			char reason[512];

			snprintf(reason, sizeof reason, "sending GET %s failed: %s", target, strerror(-r));
			reconnect(reason, 0);
			return;
		}
		g.unsent = req->next;
		if (!g.unsent)
			g.unsent_tail = NULL;
		req->next = NULL;
		if (req->kind == REQ_INSPECT) {
			struct container *c = container_find(req->id);

			if (c) {
				c->queued = 0;
				c->inflight++;
				req->gen = c->gen;
			}
		}
		if (g.inflight_tail)
			g.inflight_tail->next = req;
		else
			g.inflight = req;
		g.inflight_tail = req;
		g.inflight_count++;
		loop_timer_start(&g.loop, &g.request_timer, REQUEST_TIMEOUT_MS, request_timed_out, NULL);
	}
}

/* ---- events connection ---- */

static void handle_event(const struct docker_event *ev)
{
	struct container *c;

	if ((!ev->is_container && !ev->is_network) || ev->action == DOCKER_ACTION_OTHER) {
		debug("ignoring event '%s'", ev->action_text);
		return;
	}
	if (!ev->id[0]) {
		warn("container event '%s' without a full container ID; ignoring it", ev->action_text);
		return;
	}
	debug("event %s %.12s", ev->action_text, ev->id);
	switch (ev->action) {
	case DOCKER_ACTION_START:
	case DOCKER_ACTION_RESTART:
	case DOCKER_ACTION_KILL:
	case DOCKER_ACTION_NETWORK:
		/* The state decides: kill with a signal the process survives
		 * leaves it running, a restart loop may already have stopped
		 * it again, and a container disconnected from every network
		 * publishes nothing while it runs. */
		c = container_get(ev->id);
		c->gen++;
		queue_inspect(c, 0);
		send_requests();
		break;
	case DOCKER_ACTION_DIE:
	case DOCKER_ACTION_STOP:
	case DOCKER_ACTION_DESTROY:
		/* Events carry no ports and a stopped container's map is
		 * empty, so withdraw what this container was given. */
		c = container_find(ev->id);
		if (!c)
			return;
		c->gen++;
		container_set(c, NULL, 0);
		container_release(c);
		break;
	case DOCKER_ACTION_OTHER:
		break;
	}
}

static int on_record(void *ctx, const char *record, size_t len)
{
	struct docker_event ev;
	jsmntok_t *tokens;
	int count, json_error = 0, r;

	tokens = tokens_for(record, len, EVENT_TOKENS_MAX, &count);
	if (!tokens) {
		char shown[128];

		log_sanitize(shown, sizeof shown, record, len);
		error("invalid event from the Docker daemon (%s): %s",
		      count == -2 ? "more JSON tokens than the limit" : "invalid JSON", shown);
		return 1;
	}
	r = docker_event_parse(record, len, tokens, count, &ev, &json_error);
	free(tokens);
	if (r < 0) {
		char shown[128];

		log_sanitize(shown, sizeof shown, record, len);
		error("invalid event from the Docker daemon (%s): %s",
		      r == DOCKER_ERROR_JSON ? json_strerror(json_error) : docker_strerror(r), shown);
		return 1;
	}
	handle_event(&ev);
	return g.phase == PHASE_RETRY ? 2 : 0;
}

static int events_on_headers_done(void *ctx, const struct http_parser *p)
{
	g.events_status = p->status;
	body_reset(&g.events.body, ERROR_BODY_MAX);
	if (p->status != 200)
		return 0;
	if (g.phase != PHASE_EVENTS)
		return 0;
	/* The stream is open, so nothing that happens from now on is missed:
	 * list the running containers. */
	request_new(REQ_LIST);
	g.phase = PHASE_LIST;
	send_requests();
	return g.phase == PHASE_RETRY ? 1 : 0;
}

static int events_on_body(void *ctx, const char *data, size_t len)
{
	int r;

	if (g.events_status != 200)
		return body_append(&g.events.body, data, len) < 0;
	r = docker_records_feed(g.records, data, len, on_record, NULL);
	if (r == DOCKER_ERROR_RECORD_TOO_LONG) {
		error("event record longer than %d bytes from the Docker daemon", DOCKER_RECORD_MAX);
		return 1;
	}
	return r;
}

static const struct http_callbacks events_callbacks = {
	.headers_done = events_on_headers_done,
	.body = events_on_body,
};

static void events_readable(struct loop *loop, struct loop_watch *watch, uint32_t events)
{
	static char buf[READ_SIZE];
	ssize_t n = safe_read(g.events.fd, buf, sizeof buf);
	int r;

	if (n == -EAGAIN)
		return;
	if (n < 0) {
		char reason[512];

		snprintf(reason, sizeof reason, "read from the event stream failed: %s", strerror((int)-n));
		reconnect(reason, 0);
		return;
	}
	if (n == 0) {
		r = http_parser_finish(&g.events.parser);
		if (g.events_status && g.events_status != 200) {
			log_api_error("event stream request", g.events_status, &g.events.body);
			reconnect("the daemon rejected the event stream request", 0);
		} else {
			reconnect(r == 1 ? "the event stream ended" : "the event stream was cut off", 0);
		}
		return;
	}
	r = http_parser_feed(&g.events.parser, buf, (size_t)n, NULL);
	if (g.phase == PHASE_RETRY)
		return;
	if (r == 1 && g.events_status != 200) {
		log_api_error("event stream request", g.events_status, &g.events.body);
		reconnect("the daemon rejected the event stream request", 0);
	} else if (r == 1) {
		reconnect("the event stream ended", 0);
	} else if (r < 0) {
		char reason[512];

		snprintf(reason, sizeof reason, "invalid event stream: %s",
			 r == HTTP_ERROR_CALLBACK ? "see the previous error" : http_strerror(r));
		reconnect(reason, 0);
	}
}

static void open_events(void)
{
	char target[512];
	int fd, r;

	fd = connect_socket();
	if (fd < 0) {
		char reason[512];

		snprintf(reason, sizeof reason, "connect to %s failed: %s", g.path, strerror(-fd));
		reconnect(reason, fd == -ENOENT || fd == -ECONNREFUSED);
		return;
	}
	g.events.fd = fd;
	g.events_status = 0;
	http_parser_init(&g.events.parser, 0, &events_callbacks, NULL);
	docker_records_init(g.records);
	if ((r = loop_watch_add(&g.loop, &g.events.watch, fd, EPOLLIN, events_readable, NULL)) < 0)
		die_errno(EXIT_FAIL, -r, "epoll registration failed");
	snprintf(target, sizeof target, "%s/events?%s", g.api_prefix, EVENTS_QUERY);
	/* Engine 29 (API 1.52) picks the stream's media type from Accept:
	 * application/jsonl or application/x-ndjson give JSON lines, and
	 * application/json-seq gives RFC 7464 records, which are read too.
	 * Older daemons ignore Accept and send JSON lines. */
	if ((r = send_request(&g.events, target, "application/jsonl, application/x-ndjson;q=0.9")) < 0) {
		char reason[512];

		snprintf(reason, sizeof reason, "sending GET /events failed: %s", strerror(-r));
		reconnect(reason, 0);
		return;
	}
	g.phase = PHASE_EVENTS;
}

/* ---- connect, reconnect ---- */

static void start_session(struct loop *loop, struct loop_timer *timer)
{
	g.api_minor = 0;
	g.snapshot_pending = 0;
	g.phase = PHASE_PING;
	request_new(REQ_PING);
	send_requests();
}

/* Drops both connections and everything learned on them, and schedules a
 * new session: the snapshot it writes replaces what was emitted. */
static void reconnect(const char *reason, int daemon_missing)
{
	unsigned delay;

	conn_close(&g.api);
	conn_close(&g.events);
	request_free_list(&g.unsent, &g.unsent_tail);
	request_free_list(&g.inflight, &g.inflight_tail);
	g.inflight_count = 0;
	g.snapshot_pending = 0;
	containers_clear();
	loop_timer_stop(&g.loop, &g.request_timer);
	g.phase = PHASE_RETRY;

	if (g.once) {
		error("%s; giving up (--once)", reason);
		loop_stop(&g.loop, daemon_missing ? EXIT_TEMPORARY : EXIT_FAIL);
		return;
	}
	if (daemon_missing) {
		delay = backoff_next(&g.wait_backoff);
		if (!g.waiting_logged) {
			info("waiting for the Docker daemon at %s (%s)", g.path, reason);
			g.waiting_logged = 1;
		}
	} else {
		delay = backoff_next(&g.retry_backoff);
		backoff_reset(&g.wait_backoff);
		g.waiting_logged = 0;
		warn("%s; reconnecting in %u ms", reason, delay);
	}
	loop_timer_start(&g.loop, &g.retry_timer, delay, start_session, NULL);
}

/* ---- options ---- */

/* Accepts unix://PATH with an absolute PATH; every other scheme is
 * rejected.  Returns NULL or the reason. */
static const char *parse_host(const char *host, char *path, size_t size)
{
	const char *p;

	if (strncmp(host, "unix://", 7)) {
		if (strstr(host, "://"))
			return "only unix:// sockets are supported (tcp://, ssh:// and npipe:// are not)";
		return "the host must look like unix:///var/run/docker.sock";
	}
	p = host + 7;
	if (p[0] != '/')
		return "the socket path must be absolute, as in unix:///var/run/docker.sock";
	if (strlen(p) >= size)
		return "the socket path is too long for a unix socket";
	strcpy(path, p);
	return NULL;
}

static void on_signal(struct loop *loop, int signo, void *ctx)
{
	info("stopping on signal %d", signo);
	loop_stop(loop, EXIT_OK);
}

/* At most this many per-container lines in a SIGUSR1 state dump. */
#define STATE_LINES_MAX 1000

/* Appends the container's bindings to buf as "tcp 0.0.0.0:8080->80, ...",
 * cut with "..." when they do not fit. */
static void bindings_text(const struct container *c, char *buf, size_t size)
{
	size_t len = 0;

	buf[0] = 0;
	for (size_t i = 0; i < c->count; i++) {
		const struct port_binding *b = &c->bindings[i];
		char ip[64];
		int n;

		n = snprintf(buf + len, size - len, "%s%s %s%s%s:%u->%u", i ? ", " : "",
			     pev_proto_name(b->proto), b->host_ip.family == AF_INET6 ? "[" : "",
			     pev_addr_format(&b->host_ip, ip, sizeof ip),
			     b->host_ip.family == AF_INET6 ? "]" : "", b->host_port, b->target_port);
		if (n < 0 || (size_t)n >= size - len) {
			strcpy(buf + (size > 4 ? size - 4 : 0), "...");
			return;
		}
		len += (size_t)n;
	}
}

/* SIGUSR1: logs the session's phase, the API version, the counts, the
 * next retry, and one line per container with its published ports. */
static void on_sigusr1(struct loop *loop, int signo, void *ctx)
{
	static const char *const phase_names[] = {
		[PHASE_RETRY] = "not connected",
		[PHASE_PING] = "pinging the daemon",
		[PHASE_EVENTS] = "opening the event stream",
		[PHASE_LIST] = "listing containers",
		[PHASE_SNAPSHOT] = "inspecting containers for the snapshot",
		[PHASE_LIVE] = "following events",
	};
	/* The version is known from the ping's response on; before that,
	 * api_prefix still holds the previous session's. */
	int api_known = g.phase != PHASE_RETRY && g.phase != PHASE_PING && g.api_prefix[0];
	char text[768];
	size_t shown = 0;

	info("state: %s on %s, API %s, %zu containers, %u requests in flight%s", phase_names[g.phase],
	     g.path, api_known ? g.api_prefix + 2 : "unknown", g.container_count, g.inflight_count, g.unsent ? ", more queued" : "");
	if (g.retry_timer.armed) {
		uint64_t now = clock_ms();

		info("state: next connect in %llu ms",
		     (unsigned long long)(g.retry_timer.due_ms > now ? g.retry_timer.due_ms - now : 0));
	}
	for (const struct container *c = g.containers; c; c = c->next) {
		if (shown == STATE_LINES_MAX) {
			info("state: %zu more containers not shown", g.container_count - shown);
			break;
		}
		bindings_text(c, text, sizeof text);
		info("state: container %.12s: %zu ports%s%s%s", c->id, c->count, c->count ? ": " : "",
		     text, c->queued || c->inflight ? " (inspect pending)" : "");
		shown++;
	}
}

int docker_watch_main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "host", required_argument, 0, 'H' },
		{ "source", required_argument, 0, 's' },
		{ "once", no_argument, 0, '1' },
		COMMON_LONG_OPTIONS,
		{ 0, 0, 0, 0 },
	};
	const char *host = NULL, *reason;
	int c, r;

	g.source = "docker";
	while ((c = applet_getopt(argc, argv, "H:", longopts)) != -1) {
		switch (c) {
		case 'H':
			host = optarg;
			break;
		case 's':
			if (!pev_source_valid(optarg, strlen(optarg)))
				usage_error("invalid --source '%s': use 1-32 of a-z, 0-9, '_' and '-'", optarg);
			g.source = optarg;
			break;
		case '1':
			g.once = 1;
			break;
		}
	}
	no_arguments(argc, argv);
	if (host) {
		if ((reason = parse_host(host, g.path, sizeof g.path)))
			usage_error("invalid --host '%s': %s", host, reason);
	} else if ((host = getenv("DOCKER_HOST")) && *host) {
		if ((reason = parse_host(host, g.path, sizeof g.path)))
			die(EXIT_FAIL, "invalid DOCKER_HOST '%s': %s; set it to unix://PATH or use --host",
			    host, reason);
	} else {
		parse_host(DEFAULT_HOST, g.path, sizeof g.path);
	}

	signal(SIGPIPE, SIG_IGN);
	if ((r = loop_init(&g.loop)) < 0)
		die_errno(EXIT_FAIL, -r, "epoll_create1 failed");
	if ((r = loop_signal(&g.loop, SIGTERM, on_signal, NULL)) < 0 ||
	    (r = loop_signal(&g.loop, SIGINT, on_signal, NULL)) < 0 ||
	    (r = loop_signal(&g.loop, SIGUSR1, on_sigusr1, NULL)) < 0)
		die_errno(EXIT_FAIL, -r, "signalfd failed");
	g.records = malloc(sizeof *g.records);
	if (!g.records)
		die(EXIT_FAIL, "out of memory for the event record buffer");
	g.api.fd = g.events.fd = -1;
	backoff_init(&g.wait_backoff, 100, 1000);
	backoff_init(&g.retry_backoff, 100, 5000);
	info("starting on %s%s", g.path, g.once ? " (--once)" : "");
	start_session(&g.loop, NULL);
	r = loop_run(&g.loop);
	if (r < 0)
		die_errno(EXIT_FAIL, -r, "event loop failed");
	return r;
}
