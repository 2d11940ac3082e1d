/* usage: ctr-watch [OPTIONS]
 *
 * Follows containerd's event API (gRPC over HTTP/2 on a unix socket) and
 * writes a port event for every port that nerdctl published for a running
 * container: from the container label nerdctl/ports, or from
 * network-config.json in the directory named by the label
 * nerdctl/state-dir (nerdctl 2.1.3 and later).  Starts with a snapshot
 * "sync SOURCE" ... "done SOURCE", and emits a new one after every
 * reconnect.  OWNER is SOURCE/NAMESPACE/CONTAINER-ID.
 *
 *   --address PATH   containerd socket (default: the first that exists of
 *                    /run/k3s/containerd/containerd.sock and
 *                    /run/containerd/containerd.sock)
 *   --namespace NS   follow only namespace NS; repeat for more (default: all)
 *   --source NAME    SOURCE of owners and sync/done lines (default: containerd)
 *   --once           print the snapshot, then exit
 *   -v, --debug, --verbose
 *                    log debug messages
 *   -q, --quiet      log warnings and errors only
 *
 * Exit codes: 0 stopped by SIGTERM/SIGINT, end of output, or --once done;
 * 1 protocol failure in --once mode; 2 usage error; 111 containerd
 * unreachable in --once mode.
 * SIGUSR1 logs the connection state and every container's ports.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "applet.h"
#include "clock.h"
#include "containerd.h"
#include "grpc.h"
#include "h2.h"
#include "io.h"
#include "loop.h"
#include "nerdctl.h"
#include "pev.h"

#define DEFAULT_SOURCE "containerd"
static const char *const default_addresses[] = {
	"/run/k3s/containerd/containerd.sock",
	"/run/containerd/containerd.sock",
};

#define MAX_NAMESPACES 16           /* --namespace options */
#define MAX_LISTED_NAMESPACES 1024  /* namespaces of one snapshot */
/* Largest gRPC message accepted.  A GetContainerResponse carries the OCI
 * spec and every label (each label up to 4096 bytes), so it is the
 * largest message here. */
#define MSG_MAX (4u << 20)
/* Largest network-config.json read. */
#define NETWORK_CONFIG_MAX (4u << 20)
/* Events that arrive while a snapshot or a lookup is running wait here. */
#define QUEUE_MAX 1024
/* containerd limits identifiers to 76 characters (its identifiers package). */
#define ID_MAX 127
#define CALL_TIMEOUT_MS 30000
/* nerdctl 2.1.3+ may write network-config.json after the task starts. */
#define NETWORK_CONFIG_RETRY_MS 100
#define NETWORK_CONFIG_RETRIES 30
#define BACKOFF_INITIAL_MS 100
#define BACKOFF_MAX_MS 5000

enum call_kind { CALL_NONE, CALL_NAMESPACES, CALL_TASKS, CALL_CONTAINER };

/* A running container and the ports last emitted for it. */
struct container {
	struct container *next;
	char ns[ID_MAX + 1];
	char id[ID_MAX + 1];
	struct nerdctl_port *ports;
	size_t count;
	/* network-config.json still to be read, and the reads so far */
	char *file_path;
	unsigned file_attempts;
};

struct queued_event {
	enum ctrd_event_kind kind;
	char ns[ID_MAX + 1];
	char id[ID_MAX + 1];
	int init_process;   /* TaskExit/TaskDelete of the container's init process */
};

struct unary_call {
	enum call_kind kind;
	uint32_t stream;
	char ns[ID_MAX + 1];
	char id[ID_MAX + 1];
	int http_status;
	int grpc_status;    /* -1 until the status header arrives */
	char grpc_message[256];
	int got_message;
	size_t message_len;
};

struct watcher {
	struct loop loop;
	/* options */
	const char *address_option;
	char address[sizeof ((struct sockaddr_un *)0)->sun_path];
	const char *namespaces[MAX_NAMESPACES];
	unsigned namespace_count;
	const char *source;
	int once;

	/* connection */
	int fd;
	struct loop_watch watch;
	struct loop_timer reconnect_timer;
	struct loop_timer call_timer;
	struct loop_timer file_timer;
	struct backoff backoff;
	struct log_limit connect_limit;
	int connected;
	uint32_t subscribe_stream;
	struct grpc_reader subscribe_reader;
	struct grpc_reader call_reader;
	struct unary_call call;

	/* snapshot */
	int syncing;
	int files_wait;    /* --once: the snapshot waits for network-config.json files */
	char (*snapshot_namespaces)[ID_MAX + 1];
	unsigned snapshot_namespace_count, snapshot_namespace_index;
	char (*snapshot_ids)[ID_MAX + 1];
	size_t snapshot_id_count, snapshot_id_cap, snapshot_id_index;

	struct queued_event queue[QUEUE_MAX];
	size_t queue_head, queue_len;
	int queue_overflow;
	int busy;          /* an event at the queue head is being applied */

	struct container *containers;
	int exit_code;
};

static struct h2_conn *h2;     /* allocated by ctr_watch_main */
/* Status of the subscription stream, reset when it is opened. */
static int sub_http_status, sub_grpc_status;
static char sub_message[256];
static uint8_t *subscribe_buf;   /* MSG_MAX bytes each, allocated by ctr_watch_main */
static uint8_t *call_buf;

static void disconnect(struct watcher *w, const char *why);
static void advance(struct watcher *w);
static void advance_snapshot(struct watcher *w);
static void flush_output(struct watcher *w);
static void process_queue(struct watcher *w);

/* Output ------------------------------------------------------------- */

static void stop_on_write_error(struct watcher *w, int err)
{
	if (err == -EPIPE) {
		info("standard output closed; stopping");
		loop_stop(&w->loop, EXIT_OK);
	} else {
		log_errno(LOG_ERROR, -err, "write to standard output failed; stopping");
		loop_stop(&w->loop, EXIT_FAIL);
	}
}

static int make_owner(const struct watcher *w, const char *ns, const char *id, char *owner, size_t size)
{
	int n = snprintf(owner, size, "%s/%s/%s", w->source, ns, id);

	return n > 0 && (size_t)n < size && strlen(owner) - strlen(w->source) - 1 <= PEV_ID_MAX ? 0 : -1;
}

static void emit_binding(struct watcher *w, enum pev_verb verb, const struct container *c,
			 const struct nerdctl_port *p)
{
	char owner[PEV_OWNER_MAX + ID_MAX * 2];
	struct pev ev;
	int err;

	if (make_owner(w, c->ns, c->id, owner, sizeof owner) < 0 ||
	    pev_set_binding(&ev, verb, owner, p->proto, &p->host_ip, p->host_port,
			    p->container_port, NULL) < 0) {
		warn("container %s in namespace %s: owner '%s' is not a valid port-event owner; skipped",
		     c->id, c->ns, owner);
		return;
	}
	err = pev_write(STDOUT_FILENO, &ev);
	if (err < 0)
		stop_on_write_error(w, err);
}

static void emit_marker(struct watcher *w, enum pev_verb verb)
{
	int err = pev_write_marker(STDOUT_FILENO, verb, w->source);

	if (err < 0)
		stop_on_write_error(w, err);
}

/* Container table ---------------------------------------------------- */

static struct container **find_container(struct watcher *w, const char *ns, const char *id)
{
	struct container **pp;

	for (pp = &w->containers; *pp; pp = &(*pp)->next)
		if (!strcmp((*pp)->ns, ns) && !strcmp((*pp)->id, id))
			return pp;
	return pp;
}

static void free_containers(struct watcher *w)
{
	while (w->containers) {
		struct container *c = w->containers;

		w->containers = c->next;
		free(c->ports);
		free(c->file_path);
		free(c);
	}
}

static int port_equal(const struct nerdctl_port *a, const struct nerdctl_port *b)
{
	return a->proto == b->proto && a->host_port == b->host_port &&
	       a->container_port == b->container_port && pev_addr_equal(&a->host_ip, &b->host_ip);
}

static int port_in(const struct nerdctl_port *p, const struct nerdctl_port *set, size_t count)
{
	for (size_t i = 0; i < count; i++)
		if (port_equal(p, &set[i]))
			return 1;
	return 0;
}

/* Records ports (taking ownership) for a running container and emits the
 * difference to what was emitted for it before.  Returns the container,
 * or NULL when out of memory. */
static struct container *set_ports(struct watcher *w, const char *ns, const char *id,
		      struct nerdctl_port *ports, size_t count)
{
	struct container **pp = find_container(w, ns, id);
	struct container *c = *pp;

	if (!c) {
		c = calloc(1, sizeof *c);
		if (!c) {
			error("out of memory recording container %s in namespace %s; its ports are not reported", id, ns);
			free(ports);
			return NULL;
		}
		snprintf(c->ns, sizeof c->ns, "%s", ns);
		snprintf(c->id, sizeof c->id, "%s", id);
		*pp = c;
	}
	/* During a snapshot the table starts empty and is written out as a
	 * whole when the snapshot is complete (write_snapshot). */
	for (size_t i = 0; i < c->count && !w->syncing; i++)
		if (!port_in(&c->ports[i], ports, count))
			emit_binding(w, PEV_DEL, c, &c->ports[i]);
	for (size_t i = 0; i < count && !w->syncing; i++)
		if (!port_in(&ports[i], c->ports, c->count) && !port_in(&ports[i], ports, i))
			emit_binding(w, PEV_ADD, c, &ports[i]);
	free(c->ports);
	c->ports = ports;
	c->count = count;
	return c;
}

/* Writes the snapshot held in the container table: "sync", an add per
 * port, "done".  It goes out only once complete, so a daemon that fails
 * during the snapshot leaves the consumer's bindings as they were
 * instead of unconfirmed behind a "sync" that no "done" follows. */
static size_t write_snapshot(struct watcher *w)
{
	size_t ports = 0;

	emit_marker(w, PEV_SYNC);
	for (const struct container *c = w->containers; c; c = c->next)
		for (size_t i = 0; i < c->count; i++)
			if (!port_in(&c->ports[i], c->ports, i)) {
				emit_binding(w, PEV_ADD, c, &c->ports[i]);
				ports++;
			}
	emit_marker(w, PEV_DONE);
	return ports;
}

static void remove_container(struct watcher *w, const char *ns, const char *id)
{
	struct container **pp = find_container(w, ns, id);
	struct container *c = *pp;

	if (!c)
		return;
	debug("container %s in namespace %s stopped; withdrawing %zu ports", id, ns, c->count);
	for (size_t i = 0; i < c->count; i++)
		emit_binding(w, PEV_DEL, c, &c->ports[i]);
	*pp = c->next;
	free(c->ports);
	free(c->file_path);
	free(c);
}

/* Port data ---------------------------------------------------------- */

/* Parses nerdctl port data; returns a malloc'ed array (NULL for none) and
 * sets *count, or logs the error and returns NULL with *count 0. */
static struct nerdctl_port *parse_ports(const char *ns, const char *id, const char *what,
					const char *text, size_t len, enum nerdctl_format format,
					size_t *count)
{
	size_t max_tokens = nerdctl_max_tokens(len);
	jsmntok_t *tokens = calloc(max_tokens, sizeof *tokens);
	/* An entry takes at least 5 tokens (an object and two key/values). */
	size_t max_ports = max_tokens / 5 + 1;
	struct nerdctl_port *ports = calloc(max_ports, sizeof *ports);
	const char *reason = NULL;
	int entry, n = -1;

	*count = 0;
	if (!tokens || !ports) {
		error("out of memory parsing %s of container %s in namespace %s", what, id, ns);
	} else {
		n = nerdctl_parse_ports(text, len, format, tokens, (int)max_tokens, ports, max_ports,
					&reason, &entry);
		if (n < 0 && entry >= 0)
			error("container %s in namespace %s: invalid %s: entry %d: %s; no ports reported for it",
			      id, ns, what, entry, reason);
		else if (n < 0)
			error("container %s in namespace %s: invalid %s: %s; no ports reported for it",
			      id, ns, what, reason);
	}
	free(tokens);
	if (n <= 0) {
		free(ports);
		return NULL;
	}
	*count = (size_t)n;
	return ports;
}

/* Reads network-config.json.  Returns 0 with the ports, -ENOENT when it
 * does not exist yet, or another -errno after logging. */
static int read_network_config(const char *path, const char *ns, const char *id,
			       struct nerdctl_port **ports, size_t *count)
{
	char *text;
	struct stat st;
	ssize_t n;
	size_t len = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	*ports = NULL;
	*count = 0;
	if (fd < 0) {
		if (errno == ENOENT)
			return -ENOENT;
		log_errno(LOG_ERROR, errno, "container %s in namespace %s: open %s failed; no ports reported for it",
			  id, ns, path);
		return -errno;
	}
	if (fstat(fd, &st) < 0 || st.st_size > NETWORK_CONFIG_MAX) {
		error("container %s in namespace %s: %s is larger than %u bytes or unreadable; no ports reported for it",
		      id, ns, path, NETWORK_CONFIG_MAX);
		close(fd);
		return -EFBIG;
	}
	text = malloc((size_t)st.st_size + 1);
	if (!text) {
		close(fd);
		error("out of memory reading %s", path);
		return -ENOMEM;
	}
	while (len < (size_t)st.st_size && (n = safe_read(fd, text + len, (size_t)st.st_size - len)) > 0)
		len += (size_t)n;
	close(fd);
	/* An empty file is one nerdctl is still writing. */
	if (len == 0) {
		free(text);
		return -ENOENT;
	}
	*ports = parse_ports(ns, id, path, text, len, NERDCTL_NETWORK_CONFIG_FILE, count);
	free(text);
	return 0;
}

/* Reads network-config.json again for every container still waiting for
 * it.  The waits run beside the event queue, so a container whose file
 * never appears (nerdctl before 2.1.3 without -p sets nerdctl/state-dir
 * but writes no such file) delays no other event. */
static void file_retry(struct loop *loop, struct loop_timer *timer)
{
	struct watcher *w = timer->ctx;
	int waiting = 0;

	for (struct container *c = w->containers; c; c = c->next) {
		struct nerdctl_port *ports;
		size_t count;
		int err;

		if (!c->file_path)
			continue;
		err = read_network_config(c->file_path, c->ns, c->id, &ports, &count);
		if (err == -ENOENT && ++c->file_attempts < NETWORK_CONFIG_RETRIES) {
			waiting = 1;
			continue;
		}
		if (err == -ENOENT)
			warn("container %s in namespace %s: %s does not exist after %u ms; no ports reported for it",
			     c->id, c->ns, c->file_path, NETWORK_CONFIG_RETRY_MS * NETWORK_CONFIG_RETRIES);
		free(c->file_path);
		c->file_path = NULL;
		set_ports(w, c->ns, c->id, ports, count);
	}
	if (waiting) {
		loop_timer_start(loop, timer, NETWORK_CONFIG_RETRY_MS, file_retry, w);
	} else if (w->files_wait) {
		w->files_wait = 0;
		advance_snapshot(w);
	}
	flush_output(w);
}

/* Applies the ports in network-config.json at PATH, or, while it does not
 * exist yet, records the container without ports and retries in the
 * background. */
static void resolve_file_ports(struct watcher *w, const char *path)
{
	struct nerdctl_port *ports;
	size_t count;
	struct container *c;
	int err = read_network_config(path, w->call.ns, w->call.id, &ports, &count);

	c = set_ports(w, w->call.ns, w->call.id, ports, count);
	if (!c || err != -ENOENT)
		return;
	c->file_path = strdup(path);
	c->file_attempts = 1;
	if (!c->file_path)
		error("out of memory recording %s; no ports reported for container %s in namespace %s",
		      path, w->call.id, w->call.ns);
	else if (!w->file_timer.armed)
		loop_timer_start(&w->loop, &w->file_timer, NETWORK_CONFIG_RETRY_MS, file_retry, w);
}

/* Applies a GetContainerResponse. */
static void handle_container(struct watcher *w, const uint8_t *msg, size_t len)
{
	char path[PATH_MAX];
	struct ctrd_container c;
	struct container *known;
	struct nerdctl_port *ports;
	size_t count;
	int err = ctrd_parse_get_container(msg, len, &c);

	if (err) {
		error("container %s in namespace %s: invalid GetContainerResponse: %s; skipped",
		      w->call.id, w->call.ns, ctrd_strerror(err));
		return;
	}
	/* This answer replaces any wait for network-config.json. */
	known = *find_container(w, w->call.ns, w->call.id);
	if (known) {
		free(known->file_path);
		known->file_path = NULL;
	}
	if (c.ports) {
		ports = parse_ports(w->call.ns, w->call.id, "label nerdctl/ports", c.ports, c.ports_len,
				    NERDCTL_LABEL, &count);
		set_ports(w, w->call.ns, w->call.id, ports, count);
		return;
	}
	if (c.state_dir && c.state_dir_len) {
		if ((size_t)snprintf(path, sizeof path, "%.*s/%s", (int)c.state_dir_len,
				     c.state_dir, NERDCTL_NETWORK_CONFIG) >= sizeof path) {
			error("container %s in namespace %s: label nerdctl/state-dir is too long; no ports reported for it",
			      w->call.id, w->call.ns);
			set_ports(w, w->call.ns, w->call.id, NULL, 0);
			return;
		}
		resolve_file_ports(w, path);
		return;
	}
	/* No port data at all: pod sandboxes, BuildKit workers.  Recorded
	 * as running, so a later label update is still noticed. */
	set_ports(w, w->call.ns, w->call.id, NULL, 0);
}

/* Calls ------------------------------------------------------------- */

static void call_timeout(struct loop *loop, struct loop_timer *timer)
{
	struct watcher *w = timer->ctx;

	disconnect(w, "containerd did not answer a call within 30 s");
}

static int start_call(struct watcher *w, enum call_kind kind, const char *ns, const char *id)
{
	static const char *const paths[] = {
		[CALL_NAMESPACES] = "/containerd.services.namespaces.v1.Namespaces/List",
		[CALL_TASKS] = "/containerd.services.tasks.v1.Tasks/List",
		[CALL_CONTAINER] = "/containerd.services.containers.v1.Containers/Get",
	};
	uint8_t body[GRPC_PREFIX_LEN + 512];
	uint8_t msg[512];
	int msg_len = 0;
	struct h2_header headers[3] = {
		{ "content-type", "application/grpc" },
		{ "te", "trailers" },
		{ "containerd-namespace", ns },
	};
	int64_t stream;

	if (kind == CALL_CONTAINER)
		msg_len = ctrd_encode_get_container(msg, sizeof msg, id);
	if (msg_len < 0)
		return -1;
	int body_len = grpc_frame(body, sizeof body, msg, (size_t)msg_len);

	stream = h2_request(h2, "localhost", paths[kind], headers, ns ? 3 : 2, body, (size_t)body_len);
	if (stream < 0) {
		disconnect(w, h2_strerror((int)stream));
		return -1;
	}
	memset(&w->call, 0, sizeof w->call);
	w->call.kind = kind;
	w->call.stream = (uint32_t)stream;
	w->call.grpc_status = -1;
	snprintf(w->call.ns, sizeof w->call.ns, "%s", ns ? ns : "");
	snprintf(w->call.id, sizeof w->call.id, "%s", id ? id : "");
	grpc_reader_init(&w->call_reader, call_buf, MSG_MAX);
	loop_timer_start(&w->loop, &w->call_timer, CALL_TIMEOUT_MS, call_timeout, w);
	return 0;
}

static void start_subscribe(struct watcher *w)
{
	static const char *const topics[] = {
		"/tasks/start", "/tasks/exit", "/tasks/delete", "/containers/update", "/containers/delete",
	};
	char filter_text[MAX_NAMESPACES * 5][ID_MAX + 64];
	const char *filters[MAX_NAMESPACES * 5];
	size_t count = 0;
	static uint8_t msg[16384];
	static uint8_t body[GRPC_PREFIX_LEN + sizeof msg];
	struct h2_header headers[2] = {
		{ "content-type", "application/grpc" },
		{ "te", "trailers" },
	};
	int64_t stream;

	/* Filters are ORed; "," ANDs conditions within one (containerd
	 * filters package).  Envelopes are filtered again on arrival. */
	for (unsigned t = 0; t < 5; t++) {
		if (!w->namespace_count) {
			snprintf(filter_text[count], sizeof filter_text[count], "topic==\"%s\"", topics[t]);
			filters[count] = filter_text[count];
			count++;
		}
		for (unsigned i = 0; i < w->namespace_count; i++) {
			snprintf(filter_text[count], sizeof filter_text[count],
				 "namespace==\"%s\",topic==\"%s\"", w->namespaces[i], topics[t]);
			filters[count] = filter_text[count];
			count++;
		}
	}
	int msg_len = ctrd_encode_subscribe(msg, sizeof msg, filters, count);
	int body_len = msg_len < 0 ? -1 : grpc_frame(body, sizeof body, msg, (size_t)msg_len);

	if (body_len < 0) {
		disconnect(w, "subscribe request too large");
		return;
	}
	stream = h2_request(h2, "localhost", "/containerd.services.events.v1.Events/Subscribe",
			    headers, 2, body, (size_t)body_len);
	if (stream < 0) {
		disconnect(w, h2_strerror((int)stream));
		return;
	}
	w->subscribe_stream = (uint32_t)stream;
	sub_http_status = 0;
	sub_grpc_status = -1;
	sub_message[0] = 0;
	grpc_reader_init(&w->subscribe_reader, subscribe_buf, MSG_MAX);
}

/* Snapshot ----------------------------------------------------------- */

static void start_snapshot(struct watcher *w)
{
	free_containers(w);
	w->syncing = 1;
	w->snapshot_namespace_count = 0;
	w->snapshot_namespace_index = 0;
	w->snapshot_id_count = 0;
	w->snapshot_id_index = 0;
	if (w->namespace_count) {
		for (unsigned i = 0; i < w->namespace_count; i++)
			snprintf(w->snapshot_namespaces[i], ID_MAX + 1, "%s", w->namespaces[i]);
		w->snapshot_namespace_count = w->namespace_count;
		advance(w);
		return;
	}
	start_call(w, CALL_NAMESPACES, NULL, NULL);
}

static int on_namespace(void *ctx, const char *name)
{
	struct watcher *w = ctx;

	if (strlen(name) > ID_MAX) {
		warn("namespace name longer than %d bytes skipped", ID_MAX);
		return 0;
	}
	if (w->snapshot_namespace_count == MAX_LISTED_NAMESPACES) {
		warn("more than %d namespaces; namespace %s and later ones are not followed",
		     MAX_LISTED_NAMESPACES, name);
		return 1;
	}
	snprintf(w->snapshot_namespaces[w->snapshot_namespace_count++], ID_MAX + 1, "%s", name);
	return 0;
}

static int on_task(void *ctx, const char *container_id, uint32_t pid, int status)
{
	struct watcher *w = ctx;

	if (status != CTRD_STATUS_RUNNING)
		return 0;
	if (strlen(container_id) > ID_MAX) {
		warn("container id longer than %d bytes skipped", ID_MAX);
		return 0;
	}
	if (w->snapshot_id_count == w->snapshot_id_cap) {
		size_t cap = w->snapshot_id_cap ? w->snapshot_id_cap * 2 : 64;
		void *p = realloc(w->snapshot_ids, cap * sizeof *w->snapshot_ids);

		if (!p) {
			error("out of memory listing running tasks");
			return 1;
		}
		w->snapshot_ids = p;
		w->snapshot_id_cap = cap;
	}
	snprintf(w->snapshot_ids[w->snapshot_id_count++], ID_MAX + 1, "%s", container_id);
	return 0;
}

/* Starts the next call of the snapshot, or finishes it. */
static void advance_snapshot(struct watcher *w)
{
	if (w->snapshot_id_index < w->snapshot_id_count) {
		const char *ns = w->snapshot_namespaces[w->snapshot_namespace_index - 1];

		start_call(w, CALL_CONTAINER, ns, w->snapshot_ids[w->snapshot_id_index++]);
		return;
	}
	if (w->snapshot_namespace_index < w->snapshot_namespace_count) {
		w->snapshot_id_count = 0;
		w->snapshot_id_index = 0;
		start_call(w, CALL_TASKS, w->snapshot_namespaces[w->snapshot_namespace_index++], NULL);
		return;
	}
	/* --once reports no later events, so it waits for the files here. */
	if (w->once && w->file_timer.armed) {
		w->files_wait = 1;
		return;
	}
	w->syncing = 0;
	size_t ports = write_snapshot(w);

	backoff_reset(&w->backoff);
	info("snapshot done: %zu ports in %u namespaces", ports, w->snapshot_namespace_count);
	if (w->once) {
		loop_stop(&w->loop, EXIT_OK);
		return;
	}
	/* Apply the events that arrived during the snapshot. */
	advance(w);
}

/* Events ------------------------------------------------------------- */

static int namespace_followed(const struct watcher *w, const char *ns)
{
	if (!w->namespace_count)
		return 1;
	for (unsigned i = 0; i < w->namespace_count; i++)
		if (!strcmp(w->namespaces[i], ns))
			return 1;
	return 0;
}

/* Copies an id that was checked to be at most ID_MAX bytes. */
static void copy_id(char dst[ID_MAX + 1], const char *src)
{
	size_t n = strnlen(src, ID_MAX);

	memcpy(dst, src, n);
	dst[n] = 0;
}

static void enqueue(struct watcher *w, const struct ctrd_event *ev)
{
	struct queued_event *q;

	if (w->queue_len == QUEUE_MAX) {
		if (!w->queue_overflow)
			warn("more than %d containerd events waiting; resynchronizing", QUEUE_MAX);
		w->queue_overflow = 1;
		return;
	}
	q = &w->queue[(w->queue_head + w->queue_len++) % QUEUE_MAX];
	q->kind = ev->kind;
	copy_id(q->ns, ev->namespace);
	copy_id(q->id, ev->container_id);
	/* TaskExit and TaskDelete name the process in id; the init
	 * process's id is the container id, or empty in TaskDelete. */
	q->init_process = !ev->exec_id[0] || !strcmp(ev->exec_id, ev->container_id);
}

static int on_envelope(void *ctx, const uint8_t *msg, size_t len)
{
	struct watcher *w = ctx;
	struct ctrd_event ev;
	int err = ctrd_parse_envelope(msg, len, &ev);

	if (err) {
		error("invalid event envelope from containerd: %s", ctrd_strerror(err));
		return 1;
	}
	debug("event %s in namespace %s: container %s process %s", ev.topic, ev.namespace,
	      ev.container_id, ev.exec_id);
	if (ev.kind == CTRD_EV_OTHER || !namespace_followed(w, ev.namespace))
		return 0;
	if (strlen(ev.namespace) > ID_MAX || strlen(ev.container_id) > ID_MAX) {
		warn("event %s: namespace or container id longer than %d bytes; ignored", ev.topic, ID_MAX);
		return 0;
	}
	enqueue(w, &ev);
	if (!w->syncing)
		process_queue(w);
	return 0;
}

/* Applies queued events in order until one needs a call. */
static void process_queue(struct watcher *w)
{
	while (!w->busy && w->queue_len && w->connected) {
		struct queued_event *q = &w->queue[w->queue_head];
		int needs_lookup = 0;

		switch (q->kind) {
		case CTRD_EV_TASK_START:
			needs_lookup = 1;
			break;
		case CTRD_EV_CONTAINER_UPDATE:
			needs_lookup = *find_container(w, q->ns, q->id) != NULL;
			break;
		case CTRD_EV_TASK_EXIT:
		case CTRD_EV_TASK_DELETE:
			if (q->init_process)
				remove_container(w, q->ns, q->id);
			break;
		case CTRD_EV_CONTAINER_DELETE:
			remove_container(w, q->ns, q->id);
			break;
		default:
			break;
		}
		if (needs_lookup) {
			w->busy = 1;
			start_call(w, CALL_CONTAINER, q->ns, q->id);
			return;
		}
		w->queue_head = (w->queue_head + 1) % QUEUE_MAX;
		w->queue_len--;
	}
}

/* Moves on after a call finished. */
static void advance(struct watcher *w)
{
	if (!w->connected)
		return;
	if (w->syncing) {
		advance_snapshot(w);
		return;
	}
	if (w->busy) {
		w->busy = 0;
		w->queue_head = (w->queue_head + 1) % QUEUE_MAX;
		w->queue_len--;
	}
	if (w->queue_overflow) {
		/* Events were dropped, so a new snapshot replaces them.  The
		 * subscription keeps running. */
		w->queue_overflow = 0;
		w->queue_len = 0;
		start_snapshot(w);
		return;
	}
	process_queue(w);
}

/* Ends the unary call: checks its status and applies its message. */
static void finish_call(struct watcher *w)
{
	struct unary_call *call = &w->call;

	loop_timer_stop(&w->loop, &w->call_timer);
	call->stream = 0;
	if (call->http_status != 200) {
		char why[64];

		snprintf(why, sizeof why, "unexpected HTTP status %d", call->http_status);
		disconnect(w, why);
		return;
	}
	if (call->grpc_status < 0) {
		disconnect(w, "call ended without grpc-status");
		return;
	}
	if (call->grpc_status == GRPC_NOT_FOUND && call->kind == CALL_CONTAINER) {
		/* Removed between the event and the lookup. */
		debug("container %s in namespace %s not found; skipped", call->id, call->ns);
		advance(w);
		return;
	}
	if (call->grpc_status != GRPC_OK || !call->got_message) {
		char why[400];

		snprintf(why, sizeof why, "call failed: %s (%d): %s", grpc_status_name(call->grpc_status),
			 call->grpc_status, call->grpc_message[0] ? call->grpc_message : "no message");
		disconnect(w, why);
		return;
	}
	int err = 0;

	switch (call->kind) {
	case CALL_NAMESPACES:
		err = ctrd_parse_namespaces(call_buf, call->message_len, on_namespace, w);
		if (err == CTRD_ERR_CALLBACK)
			err = 0;
		break;
	case CALL_TASKS:
		err = ctrd_parse_tasks(call_buf, call->message_len, on_task, w);
		break;
	case CALL_CONTAINER:
		handle_container(w, call_buf, call->message_len);
		break;
	default:
		break;
	}
	if (err) {
		char why[128];

		snprintf(why, sizeof why, "invalid response: %s", ctrd_strerror(err));
		disconnect(w, why);
		return;
	}
	advance(w);
}

static int on_call_message(void *ctx, const uint8_t *msg, size_t len)
{
	struct watcher *w = ctx;

	if (w->call.got_message)
		return 1;   /* a unary call has one response message */
	w->call.got_message = 1;
	w->call.message_len = len;
	return 0;
}

static int header_is(const struct h2_event *ev, const char *name)
{
	return ev->name_len == strlen(name) && !memcmp(ev->name, name, ev->name_len);
}

/* Records :status, grpc-status and grpc-message of the subscription or
 * the unary call. */
static void record_header(struct watcher *w, const struct h2_event *ev, int *http_status,
			  int *grpc_status, char *message, size_t message_size)
{
	if (header_is(ev, ":status")) {
		int v = grpc_parse_status(ev->value, ev->value_len);

		*http_status = v;
	} else if (header_is(ev, "grpc-status")) {
		*grpc_status = grpc_parse_status(ev->value, ev->value_len);
	} else if (header_is(ev, "grpc-message")) {
		grpc_percent_decode(ev->value, ev->value_len, message, message_size);
	}
}

static int on_h2_event(void *ctx, const struct h2_event *ev)
{
	struct watcher *w = ctx;
	int err;

	if (ev->type == H2_EV_GOAWAY) {
		char why[160];

		snprintf(why, sizeof why, "containerd sent GOAWAY (%s)", h2_error_code_name(ev->error_code));
		disconnect(w, why);
		return 1;
	}
	if (ev->stream && ev->stream == w->subscribe_stream) {
		switch (ev->type) {
		case H2_EV_HEADER:
			record_header(w, ev, &sub_http_status, &sub_grpc_status, sub_message, sizeof sub_message);
			return 0;
		case H2_EV_HEADERS_DONE:
			if (!ev->trailers && sub_http_status != 200) {
				char why[64];

				snprintf(why, sizeof why, "subscribe answered HTTP status %d", sub_http_status);
				disconnect(w, why);
				return 1;
			}
			return 0;
		case H2_EV_DATA:
			err = grpc_reader_feed(&w->subscribe_reader, ev->data, ev->len, on_envelope, w);
			if (err) {
				disconnect(w, err == GRPC_ERR_CALLBACK ? "invalid event" : grpc_strerror(err));
				return 1;
			}
			return 0;
		case H2_EV_END_STREAM:
		case H2_EV_RESET: {
			char why[400];

			if (ev->type == H2_EV_RESET)
				snprintf(why, sizeof why, "event stream reset (%s)", h2_error_code_name(ev->error_code));
			else
				snprintf(why, sizeof why, "event stream ended: %s (%d): %s",
					 grpc_status_name(sub_grpc_status), sub_grpc_status,
					 sub_message[0] ? sub_message : "no message");
			w->subscribe_stream = 0;
			disconnect(w, why);
			return 1;
		}
		default:
			return 0;
		}
	}
	if (!ev->stream || ev->stream != w->call.stream)
		return 0;
	switch (ev->type) {
	case H2_EV_HEADER:
		record_header(w, ev, &w->call.http_status, &w->call.grpc_status,
			      w->call.grpc_message, sizeof w->call.grpc_message);
		return 0;
	case H2_EV_DATA:
		err = grpc_reader_feed(&w->call_reader, ev->data, ev->len, on_call_message, w);
		if (err) {
			disconnect(w, err == GRPC_ERR_CALLBACK ? "more than one message in a unary response"
							       : grpc_strerror(err));
			return 1;
		}
		return 0;
	case H2_EV_END_STREAM:
		if (!grpc_reader_idle(&w->call_reader)) {
			disconnect(w, "response ended inside a gRPC message");
			return 1;
		}
		finish_call(w);
		return !w->connected;
	case H2_EV_RESET: {
		char why[96];

		snprintf(why, sizeof why, "call stream reset (%s)", h2_error_code_name(ev->error_code));
		disconnect(w, why);
		return 1;
	}
	default:
		return 0;
	}
}

/* Connection --------------------------------------------------------- */

static void flush_output(struct watcher *w)
{
	size_t len;
	const uint8_t *out;

	if (!w->connected)
		return;
	out = h2_output(h2, &len);
	while (len) {
		ssize_t n = send(w->fd, out, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			break;
		if (n < 0 && (errno == EPIPE || errno == ECONNRESET)) {
			/* The peer closed.  What it sent before closing (often a
			 * protocol error) is still to be read, and names the cause
			 * better than the write error: on_socket reads it, then
			 * sees the end of the stream and disconnects. */
			debug("write to containerd failed: %s; reading what it sent before closing",
			      strerror(errno));
			h2_output_consume(h2, len);
			len = 0;
			break;
		}
		if (n < 0) {
			char why[128];

			snprintf(why, sizeof why, "write failed: %s", strerror(errno));
			disconnect(w, why);
			return;
		}
		h2_output_consume(h2, (size_t)n);
		out = h2_output(h2, &len);
	}
	loop_watch_modify(&w->loop, &w->watch, EPOLLIN | (len ? EPOLLOUT : 0));
}

static void on_socket(struct loop *loop, struct loop_watch *watch, uint32_t events)
{
	struct watcher *w = watch->ctx;
	static uint8_t buf[65536];

	if (events & EPOLLIN || events & (EPOLLHUP | EPOLLERR)) {
		ssize_t n = recv(w->fd, buf, sizeof buf, 0);

		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n <= 0) {
			char why[128];

			snprintf(why, sizeof why, "%s", n == 0 ? "containerd closed the connection" : strerror(errno));
			disconnect(w, why);
			return;
		}
		int err = h2_feed(h2, buf, (size_t)n, on_h2_event, w);

		if (err && err != H2_ERR_CALLBACK) {
			char why[160];

			snprintf(why, sizeof why, "%s: %s", h2_strerror(err), h2->reason ? h2->reason : "");
			flush_output(w);   /* the GOAWAY that names the error */
			disconnect(w, why);
			return;
		}
	}
	flush_output(w);
}

static void connect_now(struct loop *loop, struct loop_timer *timer);

static void schedule_reconnect(struct watcher *w)
{
	unsigned delay = backoff_next(&w->backoff);

	loop_timer_start(&w->loop, &w->reconnect_timer, delay, connect_now, w);
}

static void disconnect(struct watcher *w, const char *why)
{
	if (!w->connected)
		return;
	w->connected = 0;
	loop_watch_remove(&w->loop, &w->watch);
	close(w->fd);
	w->fd = -1;
	loop_timer_stop(&w->loop, &w->call_timer);
	loop_timer_stop(&w->loop, &w->file_timer);
	w->call.stream = 0;
	w->subscribe_stream = 0;
	w->busy = 0;
	w->queue_len = 0;
	w->queue_overflow = 0;
	w->syncing = 0;
	w->files_wait = 0;
	if (w->once) {
		error("connection to containerd at %s lost: %s", w->address, why);
		loop_stop(&w->loop, EXIT_FAIL);
		return;
	}
	warn("connection to containerd at %s lost: %s; reconnecting", w->address, why);
	schedule_reconnect(w);
}

static const char *pick_address(struct watcher *w)
{
	if (w->address_option)
		return w->address_option;
	for (size_t i = 0; i < sizeof default_addresses / sizeof *default_addresses; i++)
		if (access(default_addresses[i], F_OK) == 0)
			return default_addresses[i];
	return default_addresses[0];
}

static void connect_now(struct loop *loop, struct loop_timer *timer)
{
	struct watcher *w = timer->ctx;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	snprintf(w->address, sizeof w->address, "%s", pick_address(w));
	memcpy(sa.sun_path, w->address, strlen(w->address));
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
		int err = errno;

		if (fd >= 0)
			close(fd);
		if (w->once) {
			log_errno(LOG_ERROR, err, "connect to containerd at %s failed", w->address);
			loop_stop(&w->loop, EXIT_TEMPORARY);
			return;
		}
		unsigned delay = backoff_next(&w->backoff);

		if (log_limit_allow(&w->connect_limit, 30000))
			log_errno(LOG_WARN, err, "connect to containerd at %s failed; retrying in %u ms (repeats are logged every 30 s)",
				  w->address, delay);
		loop_timer_start(&w->loop, &w->reconnect_timer, delay, connect_now, w);
		return;
	}
	w->connect_limit.last_ms = 0;
	w->fd = fd;
	if (loop_watch_add(&w->loop, &w->watch, fd, EPOLLIN, on_socket, w) < 0) {
		close(fd);
		schedule_reconnect(w);
		return;
	}
	w->connected = 1;
	info("connected to containerd at %s", w->address);
	h2_init(h2);
	/* Subscribe first, so nothing that happens during the snapshot is
	 * missed; the queued events are applied after "done". */
	start_subscribe(w);
	if (w->connected)
		start_snapshot(w);
	flush_output(w);
}

static void on_signal(struct loop *loop, int signo, void *ctx)
{
	info("stopping on signal %d", signo);
	loop_stop(loop, EXIT_OK);
}

/* At most this many per-container lines in a SIGUSR1 state dump. */
#define STATE_LINES_MAX 1000

/* SIGUSR1: logs the connection, the snapshot in progress, the counts,
 * the next connect, and one line per container with its ports. */
static void on_sigusr1(struct loop *loop, int signo, void *ctx)
{
	struct watcher *w = ctx;
	size_t containers = 0, ports = 0, shown = 0;

	for (const struct container *c = w->containers; c; c = c->next) {
		containers++;
		ports += c->count;
	}
	info("state: %s containerd at %s%s; %s; %zu containers with %zu ports; %zu events queued",
	     w->connected ? "connected to" : "not connected to",
	     w->address[0] ? w->address : "(no attempt yet)", w->syncing ? ", snapshot in progress" : "",
	     w->namespace_count ? "selected namespaces" : "all namespaces", containers, ports,
	     w->queue_len);
	if (w->reconnect_timer.armed) {
		uint64_t now = clock_ms();

		info("state: next connect in %llu ms",
		     (unsigned long long)(w->reconnect_timer.due_ms > now ? w->reconnect_timer.due_ms - now : 0));
	}
	for (const struct container *c = w->containers; c; c = c->next) {
		char text[512];
		size_t len = 0, i;

		if (shown == STATE_LINES_MAX) {
			info("state: %zu more containers not shown", containers - shown);
			break;
		}
		text[0] = 0;
		for (i = 0; i < c->count && len < sizeof text - 64; i++) {
			char ip[INET6_ADDRSTRLEN];
			int v6 = c->ports[i].host_ip.family == AF_INET6;

			len += (size_t)snprintf(text + len, sizeof text - len, "%s%s %s%s%s:%u->%u",
						i ? ", " : "", pev_proto_name(c->ports[i].proto), v6 ? "[" : "",
						pev_addr_format(&c->ports[i].host_ip, ip, sizeof ip),
						v6 ? "]" : "", c->ports[i].host_port, c->ports[i].container_port);
		}
		info("state: container %s/%s: %s%s", c->ns, c->id, c->count ? text : "no ports",
		     i < c->count ? ", ..." : "");
		shown++;
	}
}

int ctr_watch_main(int argc, char **argv)
{
	static const struct option options[] = {
		{ "address", required_argument, 0, 'a' },
		{ "namespace", required_argument, 0, 'n' },
		{ "source", required_argument, 0, 's' },
		{ "once", no_argument, 0, 'o' },
		COMMON_LONG_OPTIONS,
		{ 0, 0, 0, 0 },
	};
	/* The large state lives on the heap rather than in .bss, because in
	 * a multicall binary every applet's process would map .bss. */
	struct watcher *w = calloc(1, sizeof *w);
	char (*listed)[ID_MAX + 1] = calloc(MAX_LISTED_NAMESPACES, sizeof *listed);
	int c, code;

	h2 = calloc(1, sizeof *h2);
	subscribe_buf = malloc(MSG_MAX);
	call_buf = malloc(MSG_MAX);
	if (!w || !listed || !h2 || !subscribe_buf || !call_buf)
		die(EXIT_FAIL, "out of memory for the connection buffers (%u bytes)", 2 * MSG_MAX);

	w->source = DEFAULT_SOURCE;
	w->fd = -1;
	while ((c = applet_getopt(argc, argv, "", options)) != -1) {
		switch (c) {
		case 'a':
			if (strlen(optarg) >= sizeof w->address)
				usage_error("--address: path longer than %zu bytes", sizeof w->address - 1);
			w->address_option = optarg;
			break;
		case 'n':
			if (!*optarg || strlen(optarg) > ID_MAX || strchr(optarg, '"'))
				usage_error("--namespace: invalid namespace name '%s'", optarg);
			if (w->namespace_count == MAX_NAMESPACES)
				usage_error("--namespace: at most %d namespaces", MAX_NAMESPACES);
			w->namespaces[w->namespace_count++] = optarg;
			break;
		case 's':
			if (!pev_source_valid(optarg, strlen(optarg)))
				usage_error("--source: '%s' is not a valid source name ([a-z0-9_-]{1,32})", optarg);
			w->source = optarg;
			break;
		case 'o':
			w->once = 1;
			break;
		}
	}
	no_arguments(argc, argv);
	w->snapshot_namespaces = listed;

	signal(SIGPIPE, SIG_IGN);
	if ((code = loop_init(&w->loop)) < 0)
		die_errno(EXIT_FAIL, -code, "event loop setup failed");
	loop_signal(&w->loop, SIGTERM, on_signal, w);
	loop_signal(&w->loop, SIGINT, on_signal, w);
	loop_signal(&w->loop, SIGUSR1, on_sigusr1, w);
	backoff_init(&w->backoff, BACKOFF_INITIAL_MS, BACKOFF_MAX_MS);
	info("starting; source %s, %s", w->source, w->namespace_count ? "selected namespaces" : "all namespaces");
	loop_timer_start(&w->loop, &w->reconnect_timer, 0, connect_now, w);
	code = loop_run(&w->loop);
	if (w->connected) {
		h2_goaway(h2, H2_NO_ERROR);
		flush_output(w);
		close(w->fd);
	}
	free_containers(w);
	free(w->snapshot_ids);
	loop_free(&w->loop);
	if (code < 0) {
		log_errno(LOG_ERROR, -code, "event loop failed");
		return EXIT_FAIL;
	}
	info("stopped");
	return code;
}
