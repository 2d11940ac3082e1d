/* usage: nodeport-watch [OPTIONS]
 *
 * Watches Kubernetes Services through the API server (HTTPS, list + watch)
 * and writes port events for the ports that must be forwarded: each
 * nodePort of a NodePort Service, each port of a LoadBalancer Service.
 * Starts with a "sync SOURCE" ... "done SOURCE" snapshot and emits another
 * after every relist; in between, only the changes.
 *
 *   --kubeconfig PATH   kubeconfig file (default: $KUBECONFIG, else
 *                       /etc/rancher/k3s/k3s.yaml); waits for it to appear
 *                       and reconnects when it changes
 *   --listen-addr ADDR  HOST_IP of every event: 0.0.0.0 (default) or
 *                       127.0.0.1
 *   --source NAME       SOURCE of the events (default: kubernetes)
 *   --once              list once, write the snapshot and exit
 *   -v, --debug, --verbose
 *                       log debug messages
 *   -q, --quiet         log warnings and errors only
 *
 * SIGUSR1 logs the connection state and every Service's bindings.
 * Exit codes: 0 done (--once, or stdout closed), 1 invalid kubeconfig or
 * rejected certificate with --once, 2 usage error, 111 API server or
 * kubeconfig unavailable with --once.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/inotify.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "applet.h"
#include "clock.h"
#include "http.h"
#include "io.h"
#include "kube.h"
#include "kubeconfig.h"
#include "loop.h"
#include "pem.h"
#include "pev.h"
#include "tls.h"

#define DEFAULT_KUBECONFIG "/etc/rancher/k3s/k3s.yaml"
/* Services per list page; the API server may return fewer. */
#define LIST_LIMIT 500
/* Connect, handshake and list responses must finish within this time. */
#define REQUEST_TIMEOUT_MS 30000
/* Watches ask the server to end after 5 to 10 minutes, as client-go's
 * reflector does, and give up locally 30 s after that. */
#define WATCH_TIMEOUT_MIN_S 300
#define WATCH_GRACE_MS 30000
#define BACKOFF_INITIAL_MS 100
#define BACKOFF_MAX_MS 5000
/* Body bytes kept from an error response for its Status message. */
#define ERROR_BODY_MAX 4096

enum request_kind { REQ_LIST, REQ_WATCH };

/* Failure classes: what --once exits with, and whether to retry. */
enum failure { FAIL_TEMPORARY, FAIL_PERMANENT };

/* One Service's bindings as last emitted. */
struct service_entry {
	struct service_entry *next;
	char *key;                        /* "namespace/name" */
	unsigned generation;              /* snapshot that last confirmed it */
	unsigned count;
	struct kube_binding bindings[];
};

struct service_table {
	struct service_entry **buckets;
	size_t bucket_count, count;
};

struct server_url {
	char host[256];                   /* without brackets */
	char port[8];
	char host_header[272];
	char prefix[512];                 /* path prefix without trailing '/' */
};

struct npw {
	struct loop loop;
	char config_path[PATH_MAX];
	struct pev_addr listen_addr;
	char source[PEV_SOURCE_MAX + 1];
	int once;

	/* kubeconfig and what it configures */
	int inotify_fd;
	int inotify_wd;
	struct loop_watch inotify_watch;
	char watched_dir[PATH_MAX];
	char *config_text;                /* last content read, to ignore no-op rewrites */
	size_t config_len;
	int config_loaded;
	int waiting_logged;
	struct kubeconfig kc;
	struct tls_config tls;
	struct server_url url;

	/* the current request */
	int fd;
	struct loop_watch sock_watch;
	struct tls_conn *conn;
	int connected;
	enum request_kind kind;
	char request[8192];
	size_t request_len, request_sent;
	struct http_parser http;
	int status;
	struct kube_split split;
	char *object_buf;
	jsmntok_t *tokens;
	char error_body[ERROR_BODY_MAX];
	size_t error_len;
	int expired;                      /* the watch saw an ERROR 410 frame */
	unsigned expired_streak;          /* relists with no watch event since */
	int stream_failed;                /* a callback stopped the response */
	char stream_error[512];
	struct loop_timer request_timer;
	struct loop_timer retry_timer;
	struct backoff backoff;
	struct log_limit retry_limit;
	struct log_limit skip_limit;      /* skipped objects and frames */
	char last_failure[768];           /* last failure logged, to log changes at once */

	/* list/watch state */
	char resource_version[KUBE_RV_MAX];  /* "" until a list finished */
	char continue_token[1024];
	struct kube_list_meta list_meta;
	int in_snapshot;
	unsigned generation;
	unsigned long snapshot_services, snapshot_bindings;
	uint64_t snapshot_started_ms;
	struct service_table services;
};

static struct npw *self;

/* ---- output ---- */

static void write_event(struct npw *n, enum pev_verb verb, const char *key,
			const struct kube_binding *b)
{
	char owner[PEV_OWNER_MAX + 16];
	struct pev ev;
	int r;

	snprintf(owner, sizeof(owner), "%s/%s", n->source, key);
	if (pev_set_binding(&ev, verb, owner, b->proto, &n->listen_addr, b->host_port,
			    b->target_port, NULL) < 0) {
		warn("service %s: owner '%s' is not a valid event owner (too long?); port %u skipped",
		     key, owner, b->host_port);
		return;
	}
	r = pev_write(STDOUT_FILENO, &ev);
	if (r == -EPIPE) {
		info("standard output closed; exiting");
		exit(EXIT_OK);
	}
	if (r < 0)
		die_errno(EXIT_FAIL, -r, "write to standard output failed");
}

static void write_marker(struct npw *n, enum pev_verb verb)
{
	int r = pev_write_marker(STDOUT_FILENO, verb, n->source);

	if (r == -EPIPE) {
		info("standard output closed; exiting");
		exit(EXIT_OK);
	}
	if (r < 0)
		die_errno(EXIT_FAIL, -r, "write to standard output failed");
}

/* ---- service table ---- */

static size_t hash_key(const char *s)
{
	size_t h = 5381;

	while (*s)
		h = h * 33 + (unsigned char)*s++;
	return h;
}

static struct service_entry **table_slot(struct service_table *t, const char *key)
{
	struct service_entry **e;

	if (!t->bucket_count)
		return NULL;
	e = &t->buckets[hash_key(key) % t->bucket_count];
	while (*e && strcmp((*e)->key, key))
		e = &(*e)->next;
	return e;
}

static int table_grow(struct service_table *t)
{
	size_t count = t->bucket_count ? t->bucket_count * 2 : 64;
	struct service_entry **b = calloc(count, sizeof(*b));

	if (!b)
		return -ENOMEM;
	for (size_t i = 0; i < t->bucket_count; i++) {
		struct service_entry *e = t->buckets[i], *next;

		for (; e; e = next) {
			size_t h = hash_key(e->key) % count;

			next = e->next;
			e->next = b[h];
			b[h] = e;
		}
	}
	free(t->buckets);
	t->buckets = b;
	t->bucket_count = count;
	return 0;
}

/* Replaces (or inserts) the entry for key; returns the new entry or NULL. */
static struct service_entry *table_put(struct service_table *t, const char *key,
				       const struct kube_binding *b, unsigned count)
{
	struct service_entry **slot, *e;

	if (t->count >= t->bucket_count && table_grow(t) < 0)
		return NULL;
	slot = table_slot(t, key);
	e = malloc(sizeof(*e) + count * sizeof(*b));
	if (!e)
		return NULL;
	if (!(e->key = strdup(key))) {
		free(e);
		return NULL;
	}
	e->count = count;
	memcpy(e->bindings, b, count * sizeof(*b));
	e->generation = 0;
	if (*slot) {
		e->next = (*slot)->next;
		free((*slot)->key);
		free(*slot);
	} else {
		e->next = NULL;
		t->count++;
	}
	*slot = e;
	return e;
}

static void table_remove(struct service_table *t, const char *key)
{
	struct service_entry **slot = table_slot(t, key), *e;

	if (!slot || !(e = *slot))
		return;
	*slot = e->next;
	free(e->key);
	free(e);
	t->count--;
}

/* Drops entries that the snapshot generation did not confirm: the
 * consumer withdraws their bindings at "done". */
static void table_prune(struct service_table *t, unsigned generation)
{
	for (size_t i = 0; i < t->bucket_count; i++) {
		struct service_entry **e = &t->buckets[i];

		while (*e) {
			if ((*e)->generation != generation) {
				struct service_entry *dead = *e;

				*e = dead->next;
				free(dead->key);
				free(dead);
				t->count--;
			} else {
				e = &(*e)->next;
			}
		}
	}
}

static int binding_in(const struct kube_binding *b, const struct kube_binding *set, unsigned count)
{
	for (unsigned i = 0; i < count; i++)
		if (set[i].proto == b->proto && set[i].host_port == b->host_port &&
		    set[i].target_port == b->target_port)
			return 1;
	return 0;
}

/* Applies a Service's new state: in a snapshot every binding is written
 * (an add confirms it); outside one only the difference. */
static void apply_service(struct npw *n, const struct kube_service *svc, int deleted)
{
	struct kube_binding now[KUBE_PORTS_MAX];
	unsigned count = deleted ? 0 : kube_service_bindings(svc, now);
	char key[2 * KUBE_NAME_MAX + 2];
	struct service_entry **slot, *old, *e;

	snprintf(key, sizeof(key), "%s/%s", svc->namespace, svc->name);
	slot = table_slot(&n->services, key);
	old = slot ? *slot : NULL;
	if (!n->in_snapshot && old) {
		for (unsigned i = 0; i < old->count; i++)
			if (!binding_in(&old->bindings[i], now, count))
				write_event(n, PEV_DEL, key, &old->bindings[i]);
	}
	for (unsigned i = 0; i < count; i++)
		if (n->in_snapshot || !old || !binding_in(&now[i], old->bindings, old->count))
			write_event(n, PEV_ADD, key, &now[i]);
	if (n->in_snapshot) {
		n->snapshot_services++;
		n->snapshot_bindings += count;
	}
	if (deleted) {
		table_remove(&n->services, key);
		return;
	}
	/* Services without bindings are kept too, so that a later change of
	 * type is a difference against a known state. */
	e = table_put(&n->services, key, now, count);
	if (!e) {
		error("service %s: out of memory; its ports are not tracked", key);
		return;
	}
	e->generation = n->generation;
}

/* ---- kubeconfig ---- */

static int read_file(const char *path, size_t max, char **out, size_t *out_len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	size_t len = 0, cap = 4096;
	char *buf;

	if (fd < 0)
		return -errno;
	if (!(buf = malloc(cap + 1))) {
		close(fd);
		return -ENOMEM;
	}
	for (;;) {
		ssize_t r;

		if (len == cap) {
			char *b;

			if (cap >= max) {
				free(buf);
				close(fd);
				return -EFBIG;
			}
			cap *= 2;
			if (!(b = realloc(buf, cap + 1))) {
				free(buf);
				close(fd);
				return -ENOMEM;
			}
			buf = b;
		}
		r = safe_read(fd, buf + len, cap - len);
		if (r < 0) {
			free(buf);
			close(fd);
			return (int)r;
		}
		if (r == 0)
			break;
		len += (size_t)r;
	}
	close(fd);
	buf[len] = '\0';
	*out = buf;
	*out_len = len;
	return 0;
}

static int parse_server_url(const char *server, struct server_url *u, const char **why)
{
	const char *p = server, *host, *host_end, *port = NULL, *port_end = NULL;
	size_t n;

	memset(u, 0, sizeof(*u));
	if (strncmp(p, "https://", 8)) {
		*why = strncmp(p, "http://", 7) ? "the server URL does not start with https://"
						: "plain http:// API servers are not supported";
		return -EINVAL;
	}
	p += 8;
	if (*p == '[') {
		host = ++p;
		if (!(host_end = strchr(p, ']'))) {
			*why = "the server URL has an unclosed '['";
			return -EINVAL;
		}
		p = host_end + 1;
	} else {
		host = p;
		while (*p && *p != ':' && *p != '/' && *p != '?' && *p != '#')
			p++;
		host_end = p;
	}
	if (*p == ':') {
		port = ++p;
		while (*p >= '0' && *p <= '9')
			p++;
		port_end = p;
	}
	n = (size_t)(host_end - host);
	if (!n || n >= sizeof(u->host) || memchr(host, '@', n)) {
		*why = "the server URL has no valid host";
		return -EINVAL;
	}
	memcpy(u->host, host, n);
	if (port) {
		unsigned long v;

		if (port == port_end || port_end - port > 5 ||
		    (v = strtoul(port, NULL, 10)) < 1 || v > 65535) {
			*why = "the server URL's port is not in 1-65535";
			return -EINVAL;
		}
		snprintf(u->port, sizeof(u->port), "%lu", v);
	} else {
		strcpy(u->port, "443");
	}
	if (*p && *p != '/') {
		*why = "the server URL has a query or fragment";
		return -EINVAL;
	}
	n = strlen(p);
	while (n && p[n - 1] == '/')
		n--;
	if (n >= sizeof(u->prefix)) {
		*why = "the server URL's path is too long";
		return -EINVAL;
	}
	memcpy(u->prefix, p, n);
	snprintf(u->host_header, sizeof(u->host_header), strchr(u->host, ':') ? "[%s]:%s" : "%s:%s",
		 u->host, u->port);
	return 0;
}

/* Loads the file form of a PEM value when the -data form is absent. */
static int load_pem(const char *what, uint8_t **data, size_t *len, const char *file)
{
	char *text;
	size_t n;
	int r;

	if (*data || !file)
		return 0;
	r = read_file(file, 1u << 20, &text, &n);
	if (r < 0) {
		log_errno(LOG_ERROR, -r, "kubeconfig %s: read %s %s failed", self->config_path, what, file);
		return r;
	}
	*data = (uint8_t *)text;
	*len = n;
	return 0;
}

/* Builds the TLS configuration from a parsed kubeconfig.  Returns 0 or
 * -errno after logging why. */
static int configure(struct kubeconfig *kc, struct tls_config *tls, struct server_url *url)
{
	const char *why = NULL;
	const char *path = self->config_path;
	int r;

	if (parse_server_url(kc->server, url, &why) < 0) {
		error("kubeconfig %s: cluster '%s': server '%s': %s", path, kc->cluster, kc->server, why);
		return -EINVAL;
	}
	/* An unreadable named file makes the kubeconfig invalid; -ENOENT
	 * would mean that the kubeconfig itself is missing. */
	if (load_pem("certificate-authority", &kc->ca_pem, &kc->ca_pem_len, kc->ca_file) ||
	    load_pem("client-certificate", &kc->cert_pem, &kc->cert_pem_len, kc->cert_file) ||
	    load_pem("client-key", &kc->key_pem, &kc->key_pem_len, kc->key_file))
		return -EINVAL;
	tls_config_init(tls);
	tls->insecure = kc->insecure;
	if (tls_config_set_name(tls, kc->tls_server_name ? kc->tls_server_name : url->host) < 0) {
		error("kubeconfig %s: server name '%s' is empty or too long", path,
		      kc->tls_server_name ? kc->tls_server_name : url->host);
		return -EINVAL;
	}
	if (kc->insecure) {
		warn("kubeconfig %s: cluster '%s' sets insecure-skip-tls-verify: the API server's certificate is not verified",
		     path, kc->cluster);
	} else if (!kc->ca_pem) {
		error("kubeconfig %s: cluster '%s' has no certificate-authority-data or certificate-authority; set one, or insecure-skip-tls-verify: true",
		      path, kc->cluster);
		return -EINVAL;
	} else if ((r = tls_config_add_ca(tls, (const char *)kc->ca_pem, kc->ca_pem_len, &why)) < 0) {
		error("kubeconfig %s: cluster '%s': certificate authority: %s", path, kc->cluster, why);
		tls_config_free(tls);
		return r;
	}
	if (kc->cert_pem &&
	    (r = tls_config_set_client(tls, (const char *)kc->cert_pem, kc->cert_pem_len,
				       (const char *)kc->key_pem, kc->key_pem_len, &why)) < 0) {
		error("kubeconfig %s: user '%s': %s", path, kc->user, why);
		tls_config_free(tls);
		return r;
	}
	return 0;
}

/* Reads and applies the kubeconfig.  Returns 1 when a new configuration
 * is in force, 0 when the file is unchanged, -ENOENT when it is missing,
 * or another -errno when it is invalid (logged). */
static int load_config(struct npw *n)
{
	struct kubeconfig kc;
	struct kubeconfig_error err;
	struct tls_config tls;
	struct server_url url;
	char dir[PATH_MAX], *slash, *text, msg[320];
	const char *credentials;
	size_t len;
	int r;

	r = read_file(n->config_path, KUBECONFIG_SIZE_MAX, &text, &len);
	if (r == -ENOENT || r == -ENOTDIR)
		return -ENOENT;
	if (r < 0) {
		log_errno(LOG_ERROR, -r, "read kubeconfig %s failed", n->config_path);
		return r;
	}
	if (n->config_text && len == n->config_len && !memcmp(text, n->config_text, len)) {
		free(text);
		return 0;
	}
	free(n->config_text);
	n->config_text = text;
	n->config_len = len;
	snprintf(dir, sizeof(dir), "%s", n->config_path);
	slash = strrchr(dir, '/');
	if (slash)
		*slash = '\0';
	else
		strcpy(dir, ".");
	r = kubeconfig_parse(text, len, dir, &kc, &err);
	if (r == -ENOMEM)
		die(EXIT_FAIL, "out of memory reading kubeconfig %s", n->config_path);
	if (r < 0) {
		error("invalid kubeconfig %s: %s", n->config_path, kubeconfig_strerror(&err, msg, sizeof(msg)));
		return r;
	}
	r = configure(&kc, &tls, &url);
	if (r < 0) {
		kubeconfig_free(&kc);
		return r;
	}
	if (n->config_loaded) {
		kubeconfig_free(&n->kc);
		tls_config_free(&n->tls);
	}
	n->kc = kc;
	n->tls = tls;
	n->url = url;
	n->config_loaded = 1;
	credentials = "no credentials";
	if (kc.cert_pem)
		credentials = "client certificate";
	else if (kc.token || kc.token_file)
		credentials = "bearer token";
	info("kubeconfig %s: context '%s', server %s, %s", n->config_path, kc.context, kc.server, credentials);
	return 1;
}

/* ---- inotify: wait for the kubeconfig to appear and to change ---- */

static void watch_nearest_dir(struct npw *n)
{
	char dir[PATH_MAX];
	char *slash;
	int wd;

	snprintf(dir, sizeof(dir), "%s", n->config_path);
	/* The file's directory, or its nearest existing ancestor while the
	 * directory itself does not exist yet. */
	for (;;) {
		slash = strrchr(dir, '/');
		if (!slash) {
			strcpy(dir, ".");
		} else if (slash == dir) {
			dir[1] = '\0';
		} else {
			*slash = '\0';
		}
		if (access(dir, F_OK) == 0 || !strcmp(dir, "/") || !strcmp(dir, "."))
			break;
	}
	if (!strcmp(dir, n->watched_dir) && n->inotify_wd >= 0)
		return;
	if (n->inotify_wd >= 0)
		inotify_rm_watch(n->inotify_fd, n->inotify_wd);
	wd = inotify_add_watch(n->inotify_fd, dir, IN_CREATE | IN_MOVED_TO | IN_CLOSE_WRITE |
			       IN_DELETE | IN_MOVED_FROM | IN_ATTRIB | IN_DELETE_SELF | IN_MOVE_SELF);
	if (wd < 0) {
		log_errno(LOG_ERROR, errno, "inotify watch on %s failed; kubeconfig changes are not noticed", dir);
		n->watched_dir[0] = '\0';
		n->inotify_wd = -1;
		return;
	}
	n->inotify_wd = wd;
	snprintf(n->watched_dir, sizeof(n->watched_dir), "%s", dir);
	debug("watching %s for changes of %s", dir, n->config_path);
}

static void start_sync(struct npw *n);
static void close_request(struct npw *n);

static void config_changed(struct npw *n)
{
	int r;

	watch_nearest_dir(n);
	r = load_config(n);
	if (r == -ENOENT) {
		if (n->config_loaded && !n->waiting_logged)
			warn("kubeconfig %s was removed; keeping the current connection until it is back",
			     n->config_path);
		n->waiting_logged = 1;
		return;
	}
	n->waiting_logged = 0;
	if (r <= 0)
		return;
	info("kubeconfig %s loaded; listing services", n->config_path);
	close_request(n);
	loop_timer_stop(&n->loop, &n->retry_timer);
	backoff_reset(&n->backoff);
	n->resource_version[0] = '\0';
	start_sync(n);
}

static void on_inotify(struct loop *loop, struct loop_watch *w, uint32_t events)
{
	struct npw *n = w->ctx;
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	const char *base = strrchr(n->config_path, '/');
	int relevant = 0;
	ssize_t len;

	base = base ? base + 1 : n->config_path;
	while ((len = read(n->inotify_fd, buf, sizeof(buf))) > 0) {
		for (char *p = buf; p < buf + len;) {
			const struct inotify_event *ev = (const struct inotify_event *)p;

			/* Any event in an ancestor may be the missing directory
			 * appearing; in the file's own directory only its name
			 * matters. */
			if ((ev->mask & (IN_DELETE_SELF | IN_MOVE_SELF | IN_IGNORED | IN_Q_OVERFLOW)) ||
			    strlen(n->watched_dir) + 1 + strlen(base) != strlen(n->config_path) ||
			    (ev->len && !strcmp(ev->name, base)))
				relevant = 1;
			p += sizeof(*ev) + ev->len;
		}
	}
	if (relevant) {
		if (n->inotify_wd >= 0 && access(n->watched_dir, F_OK) < 0)
			n->inotify_wd = -1;
		config_changed(n);
	}
}

/* ---- requests ---- */

static void close_request(struct npw *n)
{
	loop_timer_stop(&n->loop, &n->request_timer);
	if (n->fd >= 0) {
		loop_watch_remove(&n->loop, &n->sock_watch);
		close(n->fd);
		n->fd = -1;
	}
	n->connected = 0;
}

static void start_request(struct npw *n);

static void on_retry(struct loop *loop, struct loop_timer *t)
{
	start_request(t->ctx);
}

/* Ends the current request after a failure: exits with --once, else
 * retries with backoff. */
static void fail_request(struct npw *n, enum failure kind, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void fail_request(struct npw *n, enum failure kind, const char *fmt, ...)
{
	char msg[768];
	va_list ap;
	unsigned delay;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	close_request(n);
	if (n->once) {
		error("%s", msg);
		exit(kind == FAIL_PERMANENT ? EXIT_FAIL : EXIT_TEMPORARY);
	}
	delay = backoff_next(&n->backoff);
	/* A new reason is logged at once; the same one again at most every
	 * 30 s, with the count of repeats. */
	if (strcmp(msg, n->last_failure)) {
		n->retry_limit.last_ms = 0;
		snprintf(n->last_failure, sizeof(n->last_failure), "%s", msg);
	}
	if (log_limit_allow(&n->retry_limit, 30000)) {
		if (n->retry_limit.suppressed)
			warn("%s; retrying in %u ms (%u similar errors not logged)", msg, delay,
			     n->retry_limit.suppressed);
		else
			warn("%s; retrying in %u ms", msg, delay);
		n->retry_limit.suppressed = 0;
	}
	loop_timer_start(&n->loop, &n->retry_timer, delay, on_retry, n);
}

static void on_request_timeout(struct loop *loop, struct loop_timer *t)
{
	struct npw *n = t->ctx;

	fail_request(n, FAIL_TEMPORARY, "%s request to %s timed out",
		     n->kind == REQ_LIST ? "list" : "watch", n->kc.server);
}

static int append_query(char *buf, size_t size, size_t *len, const char *name, const char *value)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = *len;

	if (n + strlen(name) + 2 >= size)
		return -1;
	n += (size_t)sprintf(buf + n, "%s%s=", strchr(buf, '?') ? "&" : "?", name);
	/* RFC 3986 §2.3 unreserved characters pass; everything else is
	 * percent-encoded (continue tokens are base64 with '=' and '/'). */
	for (const char *p = value; *p; p++) {
		unsigned char c = (unsigned char)*p;

		if (n + 4 >= size)
			return -1;
		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '.' || c == '_' || c == '~') {
			buf[n++] = (char)c;
		} else {
			buf[n++] = '%';
			buf[n++] = hex[c >> 4];
			buf[n++] = hex[c & 15];
		}
	}
	buf[n] = '\0';
	*len = n;
	return 0;
}

static int build_request(struct npw *n)
{
	char target[2048], limit[16], timeout[16], auth[8192 + 8];
	struct http_field fields[4];
	size_t len, nfields = 0;
	char *token = NULL;
	int r;

	len = (size_t)snprintf(target, sizeof(target), "%s/api/v1/services", n->url.prefix);
	if (n->kind == REQ_LIST) {
		snprintf(limit, sizeof(limit), "%d", LIST_LIMIT);
		r = append_query(target, sizeof(target), &len, "limit", limit);
		if (!r && n->continue_token[0])
			r = append_query(target, sizeof(target), &len, "continue", n->continue_token);
	} else {
		unsigned seconds = WATCH_TIMEOUT_MIN_S + (unsigned)(clock_us() % WATCH_TIMEOUT_MIN_S);

		snprintf(timeout, sizeof(timeout), "%u", seconds);
		r = append_query(target, sizeof(target), &len, "watch", "1");
		if (!r)
			r = append_query(target, sizeof(target), &len, "allowWatchBookmarks", "true");
		if (!r)
			r = append_query(target, sizeof(target), &len, "resourceVersion", n->resource_version);
		if (!r)
			r = append_query(target, sizeof(target), &len, "timeoutSeconds", timeout);
	}
	if (r < 0)
		return -ENOSPC;
	fields[nfields++] = (struct http_field){ "Accept", "application/json" };
	fields[nfields++] = (struct http_field){ "User-Agent", "rdagent-nodeport-watch/" RDAGENT_VERSION };
	fields[nfields++] = (struct http_field){ "Connection", "close" };
	if (n->kc.token) {
		token = strdup(n->kc.token);
	} else if (n->kc.token_file) {
		/* Re-read for every request: token files are rotated in place. */
		size_t tlen;

		r = read_file(n->kc.token_file, 8192, &token, &tlen);
		if (r < 0) {
			log_errno(LOG_ERROR, -r, "read tokenFile %s failed; sending no token", n->kc.token_file);
			token = NULL;
		}
	}
	if (token) {
		size_t tlen = strlen(token);

		while (tlen && (token[tlen - 1] == '\n' || token[tlen - 1] == '\r' ||
				token[tlen - 1] == ' ' || token[tlen - 1] == '\t'))
			token[--tlen] = '\0';
		snprintf(auth, sizeof(auth), "Bearer %s", token);
		fields[nfields++] = (struct http_field){ "Authorization", auth };
	}
	r = http_request_format(n->request, sizeof(n->request), "GET", target, n->url.host_header,
				fields, nfields, -1);
	if (token) {
		explicit_bzero(token, strlen(token));
		explicit_bzero(auth, sizeof(auth));
		free(token);
	}
	if (r < 0)
		return r;
	n->request_len = (size_t)r;
	n->request_sent = 0;
	return 0;
}

static void on_socket(struct loop *loop, struct loop_watch *w, uint32_t events);
static const struct http_callbacks http_callbacks;

static void start_request(struct npw *n)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV };
	struct addrinfo *ai;
	int r;

	close_request(n);
	n->kind = n->resource_version[0] && !n->in_snapshot ? REQ_WATCH : REQ_LIST;
	r = build_request(n);
	if (r < 0) {
		fail_request(n, FAIL_PERMANENT, "cannot format the request to %s (%s)", n->kc.server,
			     r == -ENOSPC ? "too long" : "invalid character");
		return;
	}
	/* NOTE: getaddrinfo blocks while a host name resolves; k3s and
	 * Rancher Desktop write IP addresses, which resolve at once. */
	r = getaddrinfo(n->url.host, n->url.port, &hints, &ai);
	if (r) {
		fail_request(n, FAIL_TEMPORARY, "resolve %s failed: %s", n->url.host, gai_strerror(r));
		return;
	}
	n->fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (n->fd < 0) {
		r = errno;
		freeaddrinfo(ai);
		fail_request(n, FAIL_TEMPORARY, "socket for %s failed: %s", n->kc.server, strerror(r));
		return;
	}
	r = connect(n->fd, ai->ai_addr, ai->ai_addrlen) < 0 ? errno : 0;
	freeaddrinfo(ai);
	if (r && r != EINPROGRESS) {
		fail_request(n, FAIL_TEMPORARY, "connect to %s failed: %s", n->kc.server, strerror(r));
		return;
	}
	r = loop_watch_add(&n->loop, &n->sock_watch, n->fd, EPOLLOUT, on_socket, n);
	if (r < 0) {
		fail_request(n, FAIL_TEMPORARY, "epoll for %s failed: %s", n->kc.server, strerror(-r));
		return;
	}
	n->status = 0;
	n->error_len = 0;
	n->expired = 0;
	n->stream_failed = 0;
	http_parser_init(&n->http, 0, &http_callbacks, n);
	loop_timer_start(&n->loop, &n->request_timer, REQUEST_TIMEOUT_MS, on_request_timeout, n);
	if (n->kind == REQ_LIST)
		debug("listing services%s", n->continue_token[0] ? " (next page)" : "");
	else
		debug("watching services from resourceVersion %s", n->resource_version);
}

static void start_sync(struct npw *n)
{
	n->continue_token[0] = '\0';
	start_request(n);
}

/* ---- response handling ---- */

/* Logs a skipped object or frame: each one while they are rare, then at
 * most one line per 10 s with the number not logged, so a server that
 * sends nothing valid cannot flood the log. */
static void log_skipped(struct npw *n, const char *what, const char *reason, const char *text, size_t len)
{
	char sample[128];

	if (!log_limit_allow(&n->skip_limit, 10000))
		return;
	log_sanitize(sample, sizeof(sample), text, len < 120 ? len : 120);
	if (n->skip_limit.suppressed)
		warn("%s skipped (%s): %s (%u more skipped without a log line)", what, reason, sample,
		     n->skip_limit.suppressed);
	else
		warn("%s skipped (%s): %s", what, reason, sample);
	n->skip_limit.suppressed = 0;
}

static const char *event_type_name(enum kube_event_type type)
{
	switch (type) {
	case KUBE_ADDED: return "ADDED";
	case KUBE_MODIFIED: return "MODIFIED";
	case KUBE_DELETED: return "DELETED";
	case KUBE_BOOKMARK: return "BOOKMARK";
	case KUBE_ERROR: return "ERROR";
	}
	return "?";
}

static void handle_event(struct npw *n, const char *text, size_t len)
{
	struct kube_event ev;
	const char *reason;

	if (kube_event_parse(text, len, n->tokens, KUBE_TOKENS_MAX, &ev, &reason) < 0) {
		log_skipped(n, "watch frame", reason, text, len);
		return;
	}
	switch (ev.type) {
	case KUBE_ADDED:
	case KUBE_MODIFIED:
	case KUBE_DELETED:
		debug("%s %s/%s at %s", event_type_name(ev.type), ev.service.namespace, ev.service.name,
		      ev.resource_version);
		apply_service(n, &ev.service, ev.type == KUBE_DELETED);
		break;
	case KUBE_BOOKMARK:
		debug("BOOKMARK at %s", ev.resource_version);
		break;
	case KUBE_ERROR:
		if (kube_status_expired(&ev.status)) {
			info("resourceVersion %s expired (code %d, reason %s: %s); listing services again",
			     n->resource_version, ev.status.code, ev.status.reason[0] ? ev.status.reason : "none",
			     ev.status.message);
			n->expired = 1;
		} else {
			snprintf(n->stream_error, sizeof(n->stream_error), "watch ERROR %d %s: %s",
				 ev.status.code, ev.status.reason, ev.status.message);
			n->stream_failed = 1;
		}
		return;
	}
	n->expired_streak = 0;
	if (ev.resource_version[0])
		memcpy(n->resource_version, ev.resource_version, sizeof(n->resource_version));
}

static void handle_item(struct npw *n, const char *text, size_t len)
{
	struct kube_service svc;
	struct json j;
	const char *reason;
	int r = json_parse(&j, text, len, n->tokens, KUBE_TOKENS_MAX);

	if (r < 0) {
		log_skipped(n, "list item", json_strerror(r), text, len);
		return;
	}
	if (kube_service_parse(&j, 0, &svc, &reason) < 0) {
		log_skipped(n, "list item", reason, text, len);
		return;
	}
	apply_service(n, &svc, 0);
}

static int on_part(void *ctx, enum kube_split_part part, const char *text, size_t len, int too_large)
{
	struct npw *n = ctx;
	const char *what = "watch frame";

	if (part == KUBE_PART_ITEM)
		what = "list item";
	else if (part == KUBE_PART_METADATA)
		what = "list metadata";
	if (too_large) {
		log_skipped(n, what, "larger than " KUBE_OBJECT_MAX_TEXT " bytes", text, len);
		return 0;
	}
	if (part == KUBE_PART_OBJECT) {
		handle_event(n, text, len);
	} else if (part == KUBE_PART_ITEM) {
		handle_item(n, text, len);
	} else {
		const char *reason;

		if (kube_list_meta_parse(text, len, n->tokens, KUBE_TOKENS_MAX, &n->list_meta, &reason) < 0) {
			snprintf(n->stream_error, sizeof(n->stream_error), "invalid list metadata: %s", reason);
			n->stream_failed = 1;
			return 1;
		}
	}
	return 0;
}

static int on_status(void *ctx, const struct http_parser *p)
{
	struct npw *n = ctx;

	n->status = p->status;
	return 0;
}

static int on_headers_done(void *ctx, const struct http_parser *p)
{
	struct npw *n = ctx;

	if (n->status != 200)
		return 0;
	if (!n->expired_streak)
		backoff_reset(&n->backoff);
	if (n->kind == REQ_LIST) {
		memset(&n->list_meta, 0, sizeof(n->list_meta));
		kube_split_init(&n->split, KUBE_SPLIT_LIST, n->object_buf, KUBE_OBJECT_MAX);
		if (!n->in_snapshot) {
			n->in_snapshot = 1;
			n->generation++;
			n->snapshot_services = 0;
			n->snapshot_bindings = 0;
			n->snapshot_started_ms = clock_ms();
			write_marker(n, PEV_SYNC);
		}
	} else {
		kube_split_init(&n->split, KUBE_SPLIT_STREAM, n->object_buf, KUBE_OBJECT_MAX);
		/* A watch is long-lived: the request timer becomes the
		 * guard against a server that stops sending. */
		loop_timer_start(&n->loop, &n->request_timer,
				 2u * WATCH_TIMEOUT_MIN_S * 1000 + WATCH_GRACE_MS, on_request_timeout, n);
		if (n->last_failure[0])
			info("watching services at %s again", n->kc.server);
		n->retry_limit.last_ms = 0;
		n->retry_limit.suppressed = 0;
		n->last_failure[0] = '\0';
	}
	return 0;
}

static int on_body(void *ctx, const char *data, size_t len)
{
	struct npw *n = ctx;
	int r;

	if (n->status != 200) {
		size_t room = sizeof(n->error_body) - n->error_len;

		if (len > room)
			len = room;
		memcpy(n->error_body + n->error_len, data, len);
		n->error_len += len;
		return 0;
	}
	r = kube_split_feed(&n->split, data, len, on_part, n);
	if (r == -EINVAL) {
		snprintf(n->stream_error, sizeof(n->stream_error), "the %s response is not JSON",
			 n->kind == REQ_LIST ? "list" : "watch");
		n->stream_failed = 1;
	}
	if (n->expired)
		return 1;
	return r;
}

static void finish_snapshot(struct npw *n)
{
	table_prune(&n->services, n->generation);
	n->in_snapshot = 0;
	write_marker(n, PEV_DONE);
	info("listed %lu services (%lu ports to forward) at resourceVersion %s in %llu ms",
	     n->snapshot_services, n->snapshot_bindings, n->resource_version,
	     (unsigned long long)(clock_ms() - n->snapshot_started_ms));
}

static void relist(struct npw *n)
{
	n->resource_version[0] = '\0';
	n->continue_token[0] = '\0';
	/* A server that expires every version it hands out would make this
	 * a tight loop: from the second relist without a watch event in
	 * between, wait as after a failure. */
	if (n->expired_streak++) {
		unsigned delay = backoff_next(&n->backoff);

		warn("the API server expired resourceVersion %u times in a row; listing again in %u ms",
		     n->expired_streak, delay);
		loop_timer_start(&n->loop, &n->retry_timer, delay, on_retry, n);
		return;
	}
	start_request(n);
}

/* Acts on an HTTP error status; the body may hold a Status object. */
static void handle_http_error(struct npw *n)
{
	struct kube_status st;
	char body[160];
	const char *what = n->kind == REQ_LIST ? "list" : "watch";

	if (kube_status_parse(n->error_body, n->error_len, n->tokens, KUBE_TOKENS_MAX, &st) < 0) {
		memset(&st, 0, sizeof(st));
		log_sanitize(st.message, sizeof(st.message), n->error_body, n->error_len);
	}
	if (n->status == 410 || (n->status >= 400 && n->status < 500 && kube_status_expired(&st))) {
		close_request(n);
		if (n->kind == REQ_LIST) {
			info("list continue token expired (%s); listing again from the start", st.message);
			n->continue_token[0] = '\0';
			start_request(n);
		} else {
			info("resourceVersion %s expired (HTTP 410: %s); listing services again",
			     n->resource_version, st.message);
			relist(n);
		}
		return;
	}
	log_sanitize(body, sizeof(body), st.message, strlen(st.message));
	if (n->status == 401 || n->status == 403)
		fail_request(n, FAIL_PERMANENT, "%s services at %s: HTTP %d %s: %s (check the kubeconfig's credentials)",
			     what, n->kc.server, n->status, n->http.reason, body);
	else
		fail_request(n, FAIL_TEMPORARY, "%s services at %s: HTTP %d %s: %s", what, n->kc.server,
			     n->status, n->http.reason, body);
}

static void finish_response(struct npw *n)
{
	close_request(n);
	if (n->status != 200) {
		handle_http_error(n);
		return;
	}
	if (n->stream_failed) {
		fail_request(n, FAIL_TEMPORARY, "%s", n->stream_error);
		return;
	}
	if (n->kind == REQ_WATCH) {
		if (n->expired) {
			relist(n);
			return;
		}
		/* The server ended the watch (timeoutSeconds): resume. */
		n->expired_streak = 0;
		debug("watch ended; resuming from resourceVersion %s", n->resource_version);
		start_request(n);
		return;
	}
	if (!kube_split_idle(&n->split)) {
		fail_request(n, FAIL_TEMPORARY, "the list response ended inside a JSON value");
		return;
	}
	if (n->list_meta.continue_token[0]) {
		memcpy(n->continue_token, n->list_meta.continue_token, sizeof(n->continue_token));
		start_request(n);
		return;
	}
	if (!n->list_meta.resource_version[0]) {
		fail_request(n, FAIL_TEMPORARY, "the list response has no metadata.resourceVersion");
		return;
	}
	memcpy(n->resource_version, n->list_meta.resource_version, sizeof(n->resource_version));
	n->continue_token[0] = '\0';
	finish_snapshot(n);
	if (n->once) {
		loop_stop(&n->loop, EXIT_OK);
		return;
	}
	start_request(n);
}

static int on_complete(void *ctx, const struct http_parser *p)
{
	return 0;
}

static const struct http_callbacks http_callbacks = {
	.status = on_status,
	.headers_done = on_headers_done,
	.body = on_body,
	.complete = on_complete,
};

/* Feeds received application data to the HTTP parser.  Returns 1 when
 * the response ended (handled), -1 after a failure (handled), 0 to go on. */
static int feed_http(struct npw *n, const char *data, size_t len)
{
	int r = http_parser_feed(&n->http, data, len, NULL);

	if (r == 1) {
		finish_response(n);
		return 1;
	}
	if (r == HTTP_ERROR_CALLBACK && n->expired) {
		close_request(n);
		relist(n);
		return 1;
	}
	if (r == HTTP_ERROR_CALLBACK && n->stream_failed) {
		fail_request(n, FAIL_TEMPORARY, "%s", n->stream_error);
		return -1;
	}
	if (r < 0) {
		fail_request(n, FAIL_TEMPORARY, "invalid HTTP response from %s: %s", n->kc.server,
			     http_strerror(r));
		return -1;
	}
	return 0;
}

static void connection_failed(struct npw *n, int r)
{
	char msg[512];
	int err = tls_conn_error(n->conn);

	if (r == -EPROTO) {
		tls_conn_strerror(n->conn, msg, sizeof(msg));
		fail_request(n, tls_error_is_certificate(err) ? FAIL_PERMANENT : FAIL_TEMPORARY,
			     "TLS with %s failed: %s", n->kc.server, msg);
	} else {
		fail_request(n, FAIL_TEMPORARY, "connection to %s failed: %s", n->kc.server, strerror(-r));
	}
}

static void on_socket(struct loop *loop, struct loop_watch *w, uint32_t events)
{
	struct npw *n = w->ctx;
	char buf[16384];

	if (!n->connected) {
		int err = 0;
		socklen_t len = sizeof(err);
		int one = 1;

		if (getsockopt(n->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
			err = errno;
		if (err) {
			fail_request(n, FAIL_TEMPORARY, "connect to %s failed: %s", n->kc.server, strerror(err));
			return;
		}
		setsockopt(n->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		if (tls_conn_start(n->conn, &n->tls) < 0) {
			fail_request(n, FAIL_PERMANENT, "TLS setup for %s failed", n->kc.server);
			return;
		}
		n->connected = 1;
	}
	for (;;) {
		int progress = 0, r = tls_conn_pump(n->conn, n->fd);
		size_t got;

		if (r < 0) {
			connection_failed(n, r);
			return;
		}
		while (n->request_sent < n->request_len) {
			size_t sent = tls_conn_write(n->conn, n->request + n->request_sent,
						     n->request_len - n->request_sent);

			if (!sent)
				break;
			n->request_sent += sent;
			progress = 1;
		}
		while ((got = tls_conn_read(n->conn, buf, sizeof(buf))) > 0) {
			progress = 1;
			if (feed_http(n, buf, got))
				return;
		}
		if (r == TLS_CLOSED) {
			r = http_parser_finish(&n->http);
			if (r == 1)
				finish_response(n);
			else if (n->kind == REQ_WATCH && n->status == 200)
				fail_request(n, FAIL_TEMPORARY, "the watch connection to %s closed", n->kc.server);
			else
				fail_request(n, FAIL_TEMPORARY, "%s closed the connection before the response ended",
					     n->kc.server);
			return;
		}
		if (!progress)
			break;
	}
	loop_watch_modify(&n->loop, &n->sock_watch, tls_conn_events(n->conn));
}

/* ---- main ---- */

static void on_signal(struct loop *loop, int signo, void *ctx)
{
	info("stopping on signal %d", signo);
	loop_stop(loop, EXIT_OK);
}

/* At most this many per-service lines in a SIGUSR1 state dump. */
#define STATE_LINES_MAX 1000

/* SIGUSR1: logs the kubeconfig, the request in progress, the resource
 * version, the counts, the next retry, and one line per Service that has
 * bindings. */
static void on_sigusr1(struct loop *loop, int signo, void *ctx)
{
	struct npw *n = ctx;
	const char *what = n->kind == REQ_LIST ? "listing services" : "watching services";
	const char *server = n->config_loaded && n->kc.server ? n->kc.server : "no server yet";
	unsigned long bindings = 0, shown = 0, with_bindings = 0;

	for (size_t i = 0; i < n->services.bucket_count; i++)
		for (const struct service_entry *e = n->services.buckets[i]; e; e = e->next) {
			bindings += e->count;
			with_bindings += e->count > 0;
		}
	if (n->fd >= 0)
		info("state: %s on %s%s; resourceVersion %s; %zu services (%lu with bindings), %lu bindings",
		     what, server, n->connected ? "" : " (connecting)",
		     n->resource_version[0] ? n->resource_version : "none yet", n->services.count,
		     with_bindings, bindings);
	else
		info("state: not connected to %s; kubeconfig %s %s; %zu services (%lu with bindings), %lu bindings",
		     server, n->config_path, n->config_loaded ? "loaded" : "not read yet",
		     n->services.count, with_bindings, bindings);
	if (n->retry_timer.armed) {
		uint64_t now = clock_ms();

		info("state: next attempt in %llu ms after: %s",
		     (unsigned long long)(n->retry_timer.due_ms > now ? n->retry_timer.due_ms - now : 0),
		     n->last_failure[0] ? n->last_failure : "no failure");
	}
	for (size_t i = 0; i < n->services.bucket_count; i++) {
		for (const struct service_entry *e = n->services.buckets[i]; e; e = e->next) {
			char text[512];
			size_t len = 0;
			unsigned j;

			if (!e->count)
				continue;
			if (shown == STATE_LINES_MAX) {
				info("state: %lu more services with bindings not shown", with_bindings - shown);
				return;
			}
			text[0] = 0;
			for (j = 0; j < e->count && len < sizeof(text) - 32; j++)
				len += (size_t)snprintf(text + len, sizeof(text) - len, "%s%s %u->%u",
							j ? ", " : "", pev_proto_name(e->bindings[j].proto),
							e->bindings[j].host_port, e->bindings[j].target_port);
			info("state: service %s: %s%s", e->key, text, j < e->count ? ", ..." : "");
			shown++;
		}
	}
}

int nodeport_watch_main(int argc, char **argv)
{
	static const struct option options[] = {
		{ "kubeconfig", required_argument, 0, 'k' },
		{ "listen-addr", required_argument, 0, 'l' },
		{ "source", required_argument, 0, 's' },
		{ "once", no_argument, 0, 'o' },
		COMMON_LONG_OPTIONS,
		{ 0, 0, 0, 0 },
	};
	static struct npw npw;
	struct npw *n = &npw;
	const char *config = NULL, *listen = "0.0.0.0";
	int opt, r, loaded;

	self = n;
	strcpy(n->source, "kubernetes");
	while ((opt = applet_getopt(argc, argv, COMMON_SHORT_OPTIONS, options)) != -1) {
		switch (opt) {
		case 'k':
			config = optarg;
			break;
		case 'l':
			listen = optarg;
			break;
		case 's':
			if (!pev_source_valid(optarg, strlen(optarg)))
				usage_error("--source '%s' is not 1-32 characters of a-z, 0-9, '_' and '-'", optarg);
			strcpy(n->source, optarg);
			break;
		case 'o':
			n->once = 1;
			break;
		}
	}
	no_arguments(argc, argv);
	if (strcmp(listen, "0.0.0.0") && strcmp(listen, "127.0.0.1"))
		usage_error("--listen-addr must be 0.0.0.0 or 127.0.0.1, not '%s'", listen);
	pev_addr_parse(listen, strlen(listen), &n->listen_addr);
	if (!config)
		config = getenv("KUBECONFIG");
	if (config && strchr(config, ':')) {
		/* kubectl merges a KUBECONFIG list; one file is read here. */
		static char first[PATH_MAX];

		snprintf(first, sizeof(first), "%.*s", (int)(strchr(config, ':') - config), config);
		warn("KUBECONFIG lists several files; reading only the first, %s", first);
		config = first;
	}
	if (!config || !*config)
		config = DEFAULT_KUBECONFIG;
	if (strlen(config) >= sizeof(n->config_path))
		usage_error("kubeconfig path is too long");
	strcpy(n->config_path, config);

	signal(SIGPIPE, SIG_IGN);
	n->fd = -1;
	n->inotify_fd = -1;
	n->inotify_wd = -1;
	backoff_init(&n->backoff, BACKOFF_INITIAL_MS, BACKOFF_MAX_MS);
	n->conn = malloc(sizeof(*n->conn));
	n->object_buf = malloc(KUBE_OBJECT_MAX);
	n->tokens = malloc(KUBE_TOKENS_MAX * sizeof(*n->tokens));
	if (!n->conn || !n->object_buf || !n->tokens)
		die(EXIT_FAIL, "out of memory");
	if ((r = loop_init(&n->loop)) < 0)
		die_errno(EXIT_FAIL, -r, "event loop setup failed");
	loop_signal(&n->loop, SIGTERM, on_signal, n);
	loop_signal(&n->loop, SIGINT, on_signal, n);
	loop_signal(&n->loop, SIGUSR1, on_sigusr1, n);

	loaded = load_config(n);
	if (n->once) {
		if (loaded == -ENOENT)
			die(EXIT_TEMPORARY, "kubeconfig %s does not exist", n->config_path);
		if (loaded < 0)
			return EXIT_FAIL;
		start_sync(n);
		return loop_run(&n->loop);
	}
	n->inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (n->inotify_fd < 0)
		die_errno(EXIT_FAIL, errno, "inotify_init1 failed");
	if ((r = loop_watch_add(&n->loop, &n->inotify_watch, n->inotify_fd, EPOLLIN, on_inotify, n)) < 0)
		die_errno(EXIT_FAIL, -r, "epoll for inotify failed");
	watch_nearest_dir(n);
	if (loaded == -ENOENT) {
		info("kubeconfig %s does not exist yet; waiting for it", n->config_path);
		n->waiting_logged = 1;
	} else if (loaded > 0) {
		start_sync(n);
	} else {
		info("waiting for kubeconfig %s to change", n->config_path);
	}
	return loop_run(&n->loop);
}
