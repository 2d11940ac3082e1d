/* usage: ipt-scan [OPTIONS]
 *
 * Writes the port forwards of the kernel NAT table as port events: DNAT
 * rules in chains named CNI-DN-... (the CNI portmap plugin's iptables
 * backend) and in the nf_tables table cni_hostport (its nftables backend).
 * With nf_tables it reads the rules over netlink and rescans when a rule
 * change is committed, without polling.  Legacy iptables tables have no
 * change notifications, so they are read with iptables-legacy-save and
 * polled.
 *
 *   --backend nft|legacy|auto  where to read rules (default auto: nf_tables,
 *                              plus the legacy nat tables the kernel lists)
 *   --interval SECONDS         legacy polling interval (default 3)
 *   --chain-prefix PREFIX      count DNAT rules in chains whose name starts
 *                              with PREFIX; repeatable (default CNI-DN-)
 *   --max-range N              maximum bindings from one port-range rule
 *                              (default 1024)
 *   --from-file FILE           read iptables-save output from FILE (- for
 *                              stdin) once, print it and exit
 *   --once                     print the current snapshot and exit
 *   --dump-netlink FILE        write every netlink message received to FILE
 *                              (raw, for test fixtures and bug reports)
 *   -v, --debug, --verbose     log each rule that counts or is skipped
 *   -q, --quiet                log warnings and errors only
 *
 * Output: "sync iptables", an "add" line per binding, "done iptables", then
 * "add" and "del" lines for each change.  OWNER is iptables/CHAIN, or
 * iptables/cni_hostport/CONTAINER-ID for the nftables backend.
 * SIGUSR1 logs the backends in use and every binding emitted.
 *
 * Exit codes: 0 stopped by SIGTERM/SIGINT, output closed, or --once or
 * --from-file done; 1 no CAP_NET_ADMIN or unreadable --from-file; 2 usage
 * error; 111 temporary failure (no snapshot with --once, output failed).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "applet.h"
#include "clock.h"
#include "io.h"
#include "iptsave.h"
#include "log.h"
#include "loop.h"
#include "natbind.h"
#include "netlink.h"
#include "nftrule.h"
#include "pev.h"

extern char **environ;

enum backend { BACKEND_AUTO, BACKEND_NFT, BACKEND_LEGACY };

#define MAX_PREFIXES 32
/* Shortest gap between two nf_tables rescans, so a burst of transactions
 * (one per iptables command) costs a few rescans, not one per command. */
#define RESCAN_GAP_MS 10
/* Dump attempts when the rule set changes during a dump (NLM_F_DUMP_INTR). */
#define DUMP_ATTEMPTS 8
/* Maximum time one iptables-legacy-save run may take. */
#define SAVE_TIMEOUT_MS 30000
/* Receive buffer of the event socket: room for the events of a large
 * transaction while a rescan runs.  Needs CAP_NET_ADMIN for the forced
 * size; without it the kernel's default applies. */
#define EVENT_RCVBUF (4 << 20)

struct scan {
	struct loop loop;
	enum backend backend;
	unsigned interval_ms;
	const char *prefixes[MAX_PREFIXES];
	struct natbind_config config;
	int once;
	int dump_fd;

	/* nf_tables */
	int nft_active;
	int event_fd, request_fd;
	uint32_t seq;
	uint8_t *rbuf;
	struct loop_watch event_watch;
	struct loop_timer rescan_timer;
	struct nftrule_watch watch;   /* watch.dirty: the rules changed since the last scan */
	int nft_done;                 /* nft_set contains a complete scan */
	int nft_tables_exist;
	unsigned malformed_strikes;
	uint64_t last_scan_ms;
	struct backoff retry;
	struct natbind_set nft_set, nft_next;

	/* legacy */
	int legacy_active;            /* the legacy poll timer runs */
	int legacy_done;
	int legacy_missing_warned;
	struct loop_timer legacy_timer;
	struct natbind_set legacy_set, legacy_next;
	struct iptsave_parser parser;

	/* output */
	int synced;
	struct natbind_set emitted, merged;
	struct log_limit cap_limit, skip_limit, error_limit;
};

static const char *family_name(int nfproto)
{
	return nfproto == NFT_PROTO_IPV4 ? "ip" : "ip6";
}

static void log_outcome(struct scan *s, const struct nat_rule *r,
			const struct natbind_outcome *o)
{
	if (!o->counted)
		return;
	if (o->capped && log_limit_allow(&s->cap_limit, 60000))
		warn("chain %s: port range %u-%u has more than %u ports; only the first %u are forwarded",
		     r->chain, r->dport_min, r->dport_max, s->config.max_range, s->config.max_range);
	if (o->skipped)
		debug("chain %s: DNAT rule skipped: %s", r->chain, o->skipped);
	else
		debug("chain %s: DNAT rule yields %u binding(s)", r->chain, o->added);
}

/* ---- output ---- */

static int write_event(void *ctx, enum pev_verb verb, const struct natbind_set *set,
		       const struct natbind *b)
{
	struct pev ev;

	(void)ctx;
	if (natbind_event(set, b, verb, &ev) < 0)
		return 0;   /* natbind_add_rule only stores valid owners */
	return pev_write(STDOUT_FILENO, &ev);
}

static void stop_on_output_error(struct scan *s, int r)
{
	if (r == -EPIPE) {
		info("output closed; stopping");
		loop_stop(&s->loop, EXIT_OK);
	} else {
		log_errno(LOG_ERROR, -r, "writing port events failed; stopping");
		loop_stop(&s->loop, EXIT_TEMPORARY);
	}
}

/* Merges the latest complete result of each backend and writes the
 * snapshot (first time) or the differences to what was written before. */
static void publish(struct scan *s)
{
	struct natbind_set empty;
	long r;

	if ((s->nft_active && !s->nft_done) || (s->legacy_active && !s->legacy_done && !s->nft_active))
		return;
	natbind_set_clear(&s->merged);
	if ((s->nft_done && natbind_set_append(&s->merged, &s->nft_set) < 0) ||
	    (s->legacy_done && natbind_set_append(&s->merged, &s->legacy_set) < 0)) {
		error("out of memory merging %zu + %zu bindings; keeping the last output",
		      s->nft_set.count, s->legacy_set.count);
		return;
	}
	natbind_set_finish(&s->merged);

	if (!s->synced) {
		natbind_set_init(&empty);
		r = pev_write_marker(STDOUT_FILENO, PEV_SYNC, NATBIND_SOURCE);
		if (r >= 0)
			r = natbind_diff(&empty, &s->merged, write_event, s);
		if (r >= 0)
			r = pev_write_marker(STDOUT_FILENO, PEV_DONE, NATBIND_SOURCE);
		if (r < 0) {
			stop_on_output_error(s, (int)r);
			return;
		}
		info("snapshot: %zu binding(s)", s->merged.count);
		s->synced = 1;
	} else {
		r = natbind_diff(&s->emitted, &s->merged, write_event, s);
		if (r < 0) {
			stop_on_output_error(s, (int)r);
			return;
		}
		if (r > 0)
			debug("%ld event(s); %zu binding(s) now", r, s->merged.count);
	}
	struct natbind_set t = s->emitted;

	s->emitted = s->merged;
	s->merged = t;
}

/* ---- nf_tables ---- */

struct dump_ctx {
	struct scan *scan;
	struct natbind_set *set;
	const char *table;
	int malformed;
	int nomem;
};

static void dump_message(struct scan *s, const struct nl_hdr *msg)
{
	if (s->dump_fd >= 0 && write(s->dump_fd, msg, NL_ALIGN((size_t)msg->len)) < 0)
		log_errno(LOG_WARN, errno, "writing --dump-netlink file failed");
}

static int rule_cb(const struct nl_hdr *msg, void *ctx)
{
	struct dump_ctx *d = ctx;
	struct scan *s = d->scan;
	struct nat_rule rule;
	struct natbind_outcome outcome;
	int r;

	dump_message(s, msg);
	r = nftrule_decode(msg, &rule);
	if (r == -EBADMSG) {
		d->malformed++;
		if (s->malformed_strikes < 2) {
			warn("malformed rule message in table %s (type %#x, %u bytes); rescanning",
			     d->table, msg->type, msg->len);
			return -EBADMSG;
		}
		warn("malformed rule message in table %s (type %#x, %u bytes) again; skipping that rule",
		     d->table, msg->type, msg->len);
		return NL_CB_OK;
	}
	if (r < 0)
		return NL_CB_OK;    /* another family or message type */
	if (natbind_add_rule(d->set, &s->config, &rule, &outcome) < 0) {
		d->nomem = 1;
		return -ENOMEM;
	}
	log_outcome(s, &rule, &outcome);
	return NL_CB_OK;
}

static int build_request(struct scan *s, uint8_t *buf, size_t size, unsigned msg_type,
			 uint16_t flags, int nfproto, const char *table, uint16_t table_attr)
{
	struct nl_msg m;
	struct nft_genmsg *g;

	nl_msg_init(&m, buf, size, nft_msg_type(msg_type), NL_F_REQUEST | flags, ++s->seq);
	g = nl_msg_put_extra(&m, sizeof *g);
	if (g) {
		g->family = (uint8_t)nfproto;
		g->version = NFNETLINK_VERSION_0;
		g->res_id = 0;
	}
	if (table)
		nl_msg_put_strz(&m, table_attr, table);
	return nl_msg_end(&m);
}

/* Asks whether table exists in family: 1, 0, or -errno. */
static int table_exists(struct scan *s, int nfproto, const char *table)
{
	uint8_t req[128];
	int len = build_request(s, req, sizeof req, NFT_MSG_ID_GETTABLE, NL_F_ACK, nfproto,
				table, NFT_ATTR_TABLE_NAME);
	int r;

	if (len < 0)
		return len;
	r = nl_sock_request(s->request_fd, req, (size_t)len, s->rbuf, NL_RECV_BUF_SIZE, NULL, NULL);
	if (r == -ENOENT)
		return 0;
	return r < 0 ? r : 1;
}

static int dump_table(struct scan *s, int nfproto, const char *table, struct natbind_set *set)
{
	uint8_t req[128];
	size_t mark_count = set->count, mark_pool = set->pool_len;
	int r = -EINTR;

	for (int attempt = 0; attempt < DUMP_ATTEMPTS && r == -EINTR; attempt++) {
		struct dump_ctx d = { .scan = s, .set = set, .table = table };
		int len = build_request(s, req, sizeof req, NFT_MSG_ID_GETRULE, NL_F_DUMP, nfproto,
					table, NFT_ATTR_RULE_TABLE);

		if (len < 0)
			return len;
		set->count = mark_count;
		set->pool_len = mark_pool;
		set->has_last_owner = 0;
		r = nl_sock_request(s->request_fd, req, (size_t)len, s->rbuf, NL_RECV_BUF_SIZE,
				    rule_cb, &d);
		if (r == -EINTR)
			debug("dump of %s %s interrupted by a rule change; dumping again",
			      family_name(nfproto), table);
		if (r == -EBADMSG && d.malformed)
			s->malformed_strikes++;
	}
	if (r == -ENOENT)
		r = 0;    /* the table does not exist */
	return r;
}

static void close_request_socket(struct scan *s)
{
	if (s->request_fd >= 0)
		close(s->request_fd);
	s->request_fd = -1;
}

static int open_request_socket(struct scan *s)
{
	if (s->request_fd >= 0)
		return 0;
	s->request_fd = nl_sock_open(NL_PROTO_NETFILTER, 0);
	return s->request_fd < 0 ? s->request_fd : 0;
}

/* The tables nft_scan dumps and whose changes call for a rescan. */
static const char *const watched_tables[] = { "nat", NATBIND_NFT_TABLE };

/* Dumps the rules of the nat and cni_hostport tables of ip and ip6 into
 * nft_next; on success swaps it into nft_set.  Returns 0 or -errno. */
static int nft_scan(struct scan *s)
{
	static const int families[] = { NFT_PROTO_IPV4, NFT_PROTO_IPV6 };
	int exist = 0;
	int r = open_request_socket(s);

	if (r < 0)
		return r;
	natbind_set_clear(&s->nft_next);
	for (size_t f = 0; f < 2; f++) {
		for (size_t t = 0; t < 2; t++) {
			r = dump_table(s, families[f], watched_tables[t], &s->nft_next);
			if (r < 0) {
				/* The socket may still hold part of a reply. */
				close_request_socket(s);
				return r;
			}
		}
		if (s->backend == BACKEND_AUTO) {
			r = table_exists(s, families[f], "nat");
			if (r < 0) {
				close_request_socket(s);
				return r;
			}
			exist |= r;
		}
	}
	s->nft_tables_exist = exist;
	s->malformed_strikes = 0;
	struct natbind_set t = s->nft_set;

	s->nft_set = s->nft_next;
	s->nft_next = t;
	s->nft_done = 1;
	return 0;
}

/* Errors that mean the kernel has no nf_tables (or no netlink for it),
 * as opposed to a failure worth retrying. */
static int nft_unavailable(int err)
{
	return err == -EPROTONOSUPPORT || err == -EAFNOSUPPORT || err == -EOPNOTSUPP ||
	       err == -EINVAL || err == -ENOENT;
}

static const char *capability_hint(int err)
{
	return err == -EPERM || err == -EACCES ?
	       " (ipt-scan needs CAP_NET_ADMIN in the network namespace)" : "";
}

static void legacy_update(struct scan *s, int scan_now);

static void rescan_cb(struct loop *loop, struct loop_timer *timer)
{
	struct scan *s = timer->ctx;
	int r;

	(void)loop;
	s->watch.dirty = 0;
	r = nft_scan(s);
	s->last_scan_ms = clock_ms();
	if (r < 0) {
		unsigned delay = backoff_next(&s->retry);

		s->watch.dirty = 1;
		if (log_limit_allow(&s->error_limit, 10000))
			log_errno(LOG_ERROR, -r, "reading nf_tables rules failed%s; retrying in %u ms",
				  capability_hint(r), delay);
		loop_timer_start(&s->loop, &s->rescan_timer, delay, rescan_cb, s);
		return;
	}
	backoff_reset(&s->retry);
	/* The legacy tables keep their own timer, so an nf_tables change
	 * does not wait for iptables-legacy-save. */
	if (s->backend == BACKEND_AUTO)
		legacy_update(s, 0);
	publish(s);
}

static void schedule_rescan(struct scan *s)
{
	uint64_t now = clock_ms(), due = s->last_scan_ms + RESCAN_GAP_MS;

	if (s->rescan_timer.armed)
		return;
	loop_timer_start(&s->loop, &s->rescan_timer, due > now ? due - now : 0, rescan_cb, s);
}

static void events_cb(struct loop *loop, struct loop_watch *watch, uint32_t events)
{
	struct scan *s = watch->ctx;

	(void)loop;
	(void)events;
	for (;;) {
		ssize_t n = nl_sock_recv(s->event_fd, s->rbuf, NL_RECV_BUF_SIZE);

		if (n == -EAGAIN)
			return;
		if (n < 0) {
			/* ENOBUFS: the kernel dropped events, so the rules
			 * may have changed without an event reporting it. */
			log_errno(LOG_WARN, (int)-n, "receiving nf_tables events failed; rescanning");
			s->watch.dirty = 1;
			schedule_rescan(s);
			if (n != -ENOBUFS && n != -EMSGSIZE)
				return;
			continue;
		}
		if (s->dump_fd >= 0 && write(s->dump_fd, s->rbuf, (size_t)n) < 0)
			log_errno(LOG_WARN, errno, "writing --dump-netlink file failed");
		switch (nftrule_watch_datagram(&s->watch, s->rbuf, (size_t)n)) {
		case NFTRULE_WATCH_MALFORMED:
			if (s->watch.bad_type)
				warn("malformed nf_tables event (type %#x, %u bytes); rescanning",
				     s->watch.bad_type, s->watch.bad_len);
			else
				log_errno(LOG_WARN, -s->watch.bad_err,
					  "invalid nf_tables event datagram (%zd bytes); rescanning", n);
			schedule_rescan(s);
			break;
		case NFTRULE_WATCH_RESCAN:
			schedule_rescan(s);
			break;
		case NFTRULE_WATCH_WAIT:
			break;
		}
	}
}

/* Opens the event socket and joins NFNLGRP_NFTABLES.  Returns 0 or -errno. */
static int nft_subscribe(struct scan *s)
{
	int size = EVENT_RCVBUF;
	int r;

	s->event_fd = nl_sock_open(NL_PROTO_NETFILTER, 1);
	if (s->event_fd < 0)
		return s->event_fd;
	if (setsockopt(s->event_fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof size) < 0)
		setsockopt(s->event_fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
	r = nl_sock_join(s->event_fd, NFNL_GROUP_NFTABLES);
	if (r < 0)
		return r;
	return loop_watch_add(&s->loop, &s->event_watch, s->event_fd, EPOLLIN, events_cb, s);
}

/* ---- legacy iptables ---- */

/* Returns 1 when /proc/net/FILE lists the nat table: the kernel creates a
 * legacy table in a namespace on its first use. */
static int legacy_nat_listed(const char *file)
{
	char path[64], buf[512];

	snprintf(path, sizeof path, "/proc/net/%s", file);
	if (read_small_file(path, buf, sizeof buf) <= 0)
		return 0;
	for (const char *line = buf; *line;) {
		const char *end = strchr(line, '\n');
		size_t len = end ? (size_t)(end - line) : strlen(line);

		if (len == 3 && memcmp(line, "nat", 3) == 0)
			return 1;
		line += len + (end ? 1 : 0);
	}
	return 0;
}

/* Finds name in $PATH (or the usual sbin directories without one). */
static int find_program(const char *name, char *path, size_t size)
{
	const char *dirs = getenv("PATH");

	if (!dirs || !*dirs)
		dirs = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
	while (*dirs) {
		const char *end = strchr(dirs, ':');
		size_t len = end ? (size_t)(end - dirs) : strlen(dirs);

		if (len && (size_t)snprintf(path, size, "%.*s/%s", (int)len, dirs, name) < size &&
		    access(path, X_OK) == 0)
			return 0;
		dirs += len + (end ? 1 : 0);
	}
	return -ENOENT;
}

struct line_reader {
	char buf[IPTSAVE_LINE_MAX];
	size_t len;
	int skipping;
	unsigned long lineno;
};

static void parse_save_line(struct scan *s, struct natbind_set *set, const char *origin,
			    const char *line, size_t len, unsigned long lineno, int *nomem)
{
	struct nat_rule rule;
	struct natbind_outcome outcome;
	const char *reason;
	int r = iptsave_parse_line(&s->parser, line, len, &rule, &reason);

	if (r < 0) {
		char text[120];

		warn("%s line %lu: %s; skipping it: %s", origin, lineno, reason,
		     log_sanitize(text, sizeof text, line, len));
		return;
	}
	if (r == 0)
		return;
	if (natbind_add_rule(set, &s->config, &rule, &outcome) < 0) {
		*nomem = 1;
		return;
	}
	log_outcome(s, &rule, &outcome);
}

/* Feeds bytes to the parser line by line. */
static void feed_save_text(struct scan *s, struct line_reader *lr, struct natbind_set *set,
			   const char *origin, const char *data, size_t n, int *nomem)
{
	for (size_t i = 0; i < n; i++) {
		char c = data[i];

		if (c == '\n') {
			lr->lineno++;
			if (lr->skipping)
				warn("%s line %lu: longer than %d bytes; skipping it", origin, lr->lineno,
				     IPTSAVE_LINE_MAX - 1);
			else
				parse_save_line(s, set, origin, lr->buf, lr->len, lr->lineno, nomem);
			lr->len = 0;
			lr->skipping = 0;
		} else if (lr->len < sizeof lr->buf - 1) {
			lr->buf[lr->len++] = c;
		} else {
			lr->skipping = 1;
		}
	}
}

static void finish_save_text(struct scan *s, struct line_reader *lr, struct natbind_set *set,
			     const char *origin, int *nomem)
{
	if (lr->len || lr->skipping)
		feed_save_text(s, lr, set, origin, "\n", 1, nomem);
}

/* Runs PROGRAM -t nat and parses its output into set.  Returns 0, 1 when
 * the program is not installed, or -1 after logging why it failed. */
static int run_save(struct scan *s, const char *program, int family, struct natbind_set *set)
{
	char path[4096];
	char *argv[] = { (char *)program, "-t", "nat", NULL };
	struct line_reader lr = { .len = 0 };
	int pipefd[2], status, nomem = 0;
	uint64_t deadline = clock_ms() + SAVE_TIMEOUT_MS;
	pid_t pid;

	if (find_program(program, path, sizeof path) < 0)
		return 1;
	if (pipe2(pipefd, O_CLOEXEC) < 0) {
		log_errno(LOG_ERROR, errno, "pipe for %s failed", program);
		return -1;
	}
	pid = fork();
	if (pid < 0) {
		log_errno(LOG_ERROR, errno, "fork for %s failed", program);
		close(pipefd[0]);
		close(pipefd[1]);
		return -1;
	}
	if (pid == 0) {
		sigset_t none;

		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		if (dup2(pipefd[1], STDOUT_FILENO) < 0)
			_exit(126);
		execve(path, argv, environ);
		_exit(127);
	}
	close(pipefd[1]);
	iptsave_init(&s->parser, family);
	for (;;) {
		char buf[8192];
		struct pollfd pfd = { .fd = pipefd[0], .events = POLLIN };
		int64_t left = (int64_t)(deadline - clock_ms());
		ssize_t n;

		if (left <= 0 || poll(&pfd, 1, (int)left) == 0) {
			error("%s -t nat did not finish within %d s; killing it", program,
			      SAVE_TIMEOUT_MS / 1000);
			kill(pid, SIGKILL);
			break;
		}
		n = read(pipefd[0], buf, sizeof buf);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		feed_save_text(s, &lr, set, program, buf, (size_t)n, &nomem);
	}
	close(pipefd[0]);
	finish_save_text(s, &lr, set, program, &nomem);
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR) {
			log_errno(LOG_ERROR, errno, "waitpid for %s failed", program);
			return -1;
		}
	if (WIFSIGNALED(status)) {
		error("%s -t nat was killed by signal %d", path, WTERMSIG(status));
		return -1;
	}
	if (WEXITSTATUS(status) != 0) {
		error("%s -t nat exited with status %d", path, WEXITSTATUS(status));
		return -1;
	}
	if (nomem) {
		error("out of memory storing the rules from %s", program);
		return -1;
	}
	return 0;
}

/* Scans the legacy nat tables into legacy_set.  In auto mode only the
 * tables /proc lists are read; in legacy mode both always are. */
static void legacy_scan(struct scan *s)
{
	static const struct { const char *program, *proc; int family; } tools[] = {
		{ "iptables-legacy-save", "ip_tables_names", AF_INET },
		{ "ip6tables-legacy-save", "ip6_tables_names", AF_INET6 },
	};
	int failed = 0;

	natbind_set_clear(&s->legacy_next);
	for (size_t i = 0; i < 2; i++) {
		int r;

		if (s->backend == BACKEND_AUTO && !legacy_nat_listed(tools[i].proc))
			continue;
		r = run_save(s, tools[i].program, tools[i].family, &s->legacy_next);
		if (r == 1) {
			if (!s->legacy_missing_warned)
				warn("%s not found in PATH; legacy iptables rules are not read",
				     tools[i].program);
			s->legacy_missing_warned = 1;
		} else if (r < 0) {
			failed = 1;
		}
	}
	if (failed) {
		warn("keeping the previous legacy rules; retrying in %u s", s->interval_ms / 1000);
		return;
	}
	struct natbind_set t = s->legacy_set;

	s->legacy_set = s->legacy_next;
	s->legacy_next = t;
	s->legacy_done = 1;
}

static void legacy_tick(struct loop *loop, struct loop_timer *timer)
{
	struct scan *s = timer->ctx;

	(void)loop;
	legacy_update(s, 1);
	publish(s);
}

/* Decides whether legacy tables need reading, reads them when scan_now
 * (or when they were never read), and keeps the poll timer running only
 * while they need reading.  In auto mode the timer runs while the kernel
 * lists a legacy nat table, or while nf_tables has no nat table (a
 * legacy-only system may create one later).
 * NOTE: the kernel sends no event when a legacy nat table appears, so
 * while nf_tables has a nat table, one created later is only seen after
 * the next nf_tables change calls this function. */
static void legacy_update(struct scan *s, int scan_now)
{
	int listed = 1, poll_needed = 1;

	if (s->backend == BACKEND_NFT)
		return;
	if (s->backend == BACKEND_AUTO) {
		listed = legacy_nat_listed("ip_tables_names") || legacy_nat_listed("ip6_tables_names");
		poll_needed = listed || !s->nft_tables_exist || !s->nft_active;
	}
	if (listed) {
		if (scan_now || !s->legacy_done)
			legacy_scan(s);
	} else if (s->legacy_done && s->legacy_set.count) {
		natbind_set_clear(&s->legacy_set);   /* the legacy tables are gone */
	} else {
		s->legacy_done = 1;
	}
	s->legacy_active = poll_needed;
	if (!poll_needed || s->once)
		loop_timer_stop(&s->loop, &s->legacy_timer);
	else if (!s->legacy_timer.armed)
		loop_timer_start(&s->loop, &s->legacy_timer, s->interval_ms, legacy_tick, s);
}

/* ---- setup ---- */

static int run_from_file(struct scan *s, const char *file)
{
	struct line_reader *lr = calloc(1, sizeof *lr);
	int fd = strcmp(file, "-") == 0 ? STDIN_FILENO : open(file, O_RDONLY | O_CLOEXEC);
	int nomem = 0;
	char buf[8192];
	ssize_t n;

	if (!lr)
		die(EXIT_TEMPORARY, "out of memory");
	if (fd < 0)
		die_errno(EXIT_FAIL, errno, "opening %s failed", file);
	iptsave_init(&s->parser, AF_INET);
	while ((n = read(fd, buf, sizeof buf)) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			die_errno(EXIT_FAIL, errno, "reading %s failed", file);
		}
		feed_save_text(s, lr, &s->legacy_set, file, buf, (size_t)n, &nomem);
	}
	finish_save_text(s, lr, &s->legacy_set, file, &nomem);
	free(lr);
	if (nomem)
		die(EXIT_TEMPORARY, "out of memory storing the rules of %s", file);
	s->legacy_done = 1;
	s->legacy_active = 1;
	publish(s);
	return s->synced ? EXIT_OK : EXIT_TEMPORARY;
}

static void on_signal(struct loop *loop, int signo, void *ctx)
{
	(void)ctx;
	info("received signal %d; stopping", signo);
	loop_stop(loop, EXIT_OK);
}

/* At most this many binding lines in a SIGUSR1 state dump. */
#define STATE_LINES_MAX 1000

static unsigned long long ms_until(const struct loop_timer *t)
{
	uint64_t now = clock_ms();

	return t->due_ms > now ? t->due_ms - now : 0;
}

/* SIGUSR1: logs the backends in use, the binding counts, the pending
 * rescan or poll, and one line per emitted binding. */
static void on_sigusr1(struct loop *loop, int signo, void *ctx)
{
	struct scan *s = ctx;
	size_t shown = 0;

	(void)loop;
	(void)signo;
	info("state: %zu bindings emitted%s; nf_tables %s (%zu bindings); legacy iptables %s (%zu bindings)",
	     s->emitted.count, s->synced ? "" : ", no snapshot written yet",
	     s->nft_active ? "followed" : "not used",
	     s->nft_set.count,
	     s->legacy_active ? "polled" : s->legacy_done ? "read, not polled" : "not used",
	     s->legacy_set.count);
	if (s->rescan_timer.armed)
		info("state: nf_tables rescan in %llu ms", ms_until(&s->rescan_timer));
	if (s->legacy_timer.armed)
		info("state: next legacy iptables poll in %llu ms", ms_until(&s->legacy_timer));
	for (size_t i = 0; i < s->emitted.count; i++) {
		const struct natbind *b = &s->emitted.items[i];
		char host[64], target[64];

		if (shown == STATE_LINES_MAX) {
			info("state: %zu more bindings not shown", s->emitted.count - shown);
			break;
		}
		pev_addr_format(&b->host_ip, host, sizeof host);
		if (b->target_ip.family)
			pev_addr_format(&b->target_ip, target, sizeof target);
		else
			strcpy(target, "same address");
		info("state: %s %s port %u -> %s port %u for %s", pev_proto_name(b->proto), host,
		     b->host_port, target, b->target_port ? b->target_port : b->host_port,
		     natbind_owner(&s->emitted, b));
		shown++;
	}
}

/* Starts the nf_tables side: first scan and, unless --once, events.
 * Returns 0, or -errno when nf_tables cannot be used. */
static int nft_start(struct scan *s)
{
	int r;

	if (!s->once) {
		r = nft_subscribe(s);
		if (r < 0)
			return r;
	}
	r = nft_scan(s);
	s->last_scan_ms = clock_ms();
	if (r < 0 && (s->once || nft_unavailable(r) || r == -EPERM || r == -EACCES))
		return r;
	s->nft_active = 1;
	if (r < 0) {
		/* A dump that kept changing, or lost events: nf_tables works,
		 * so keep following it and take the snapshot on a retry. */
		unsigned delay = backoff_next(&s->retry);

		log_errno(LOG_WARN, -r, "first nf_tables scan failed; retrying in %u ms", delay);
		s->watch.dirty = 1;
		loop_timer_start(&s->loop, &s->rescan_timer, delay, rescan_cb, s);
	}
	return 0;
}

static void cleanup(struct scan *s)
{
	if (s->event_fd >= 0)
		close(s->event_fd);
	close_request_socket(s);
	if (s->dump_fd >= 0)
		close(s->dump_fd);
	natbind_set_free(&s->nft_set);
	natbind_set_free(&s->nft_next);
	natbind_set_free(&s->legacy_set);
	natbind_set_free(&s->legacy_next);
	natbind_set_free(&s->emitted);
	natbind_set_free(&s->merged);
	free(s->rbuf);
	loop_free(&s->loop);
}

int ipt_scan_main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "backend", required_argument, 0, 'b' },
		{ "interval", required_argument, 0, 'i' },
		{ "chain-prefix", required_argument, 0, 'p' },
		{ "max-range", required_argument, 0, 'm' },
		{ "from-file", required_argument, 0, 'f' },
		{ "once", no_argument, 0, 'o' },
		{ "dump-netlink", required_argument, 0, 'd' },
		COMMON_LONG_OPTIONS,
		{ 0, 0, 0, 0 },
	};
	struct scan *s = calloc(1, sizeof *s);
	const char *from_file = NULL, *dump_file = NULL;
	size_t prefix_count = 0;
	int c, r;

	if (!s)
		die(EXIT_TEMPORARY, "out of memory");
	s->interval_ms = 3000;
	s->config.max_range = 1024;
	s->event_fd = s->request_fd = s->dump_fd = -1;
	while ((c = applet_getopt(argc, argv, "", longopts)) != -1) {
		switch (c) {
		case 'b':
			if (strcmp(optarg, "nft") == 0)
				s->backend = BACKEND_NFT;
			else if (strcmp(optarg, "legacy") == 0)
				s->backend = BACKEND_LEGACY;
			else if (strcmp(optarg, "auto") == 0)
				s->backend = BACKEND_AUTO;
			else
				usage_error("invalid value '%s' for --backend: expected nft, legacy or auto",
					    optarg);
			break;
		case 'i':
			s->interval_ms = (unsigned)parse_number(optarg, 1, 86400, "--interval") * 1000;
			break;
		case 'p':
			if (prefix_count == MAX_PREFIXES)
				usage_error("too many --chain-prefix options (at most %d)", MAX_PREFIXES);
			if (!*optarg)
				usage_error("--chain-prefix must not be empty");
			s->prefixes[prefix_count++] = optarg;
			break;
		case 'm':
			s->config.max_range = (unsigned)parse_number(optarg, 1, 65535, "--max-range");
			break;
		case 'f':
			from_file = optarg;
			break;
		case 'o':
			s->once = 1;
			break;
		case 'd':
			dump_file = optarg;
			break;
		default:
			usage_error("unknown option");
		}
	}
	no_arguments(argc, argv);
	if (!prefix_count)
		s->prefixes[prefix_count++] = "CNI-DN-";
	s->config.prefixes = s->prefixes;
	s->config.prefix_count = prefix_count;
	s->watch.tables = watched_tables;
	s->watch.table_count = sizeof watched_tables / sizeof watched_tables[0];
	natbind_set_init(&s->nft_set);
	natbind_set_init(&s->nft_next);
	natbind_set_init(&s->legacy_set);
	natbind_set_init(&s->legacy_next);
	natbind_set_init(&s->emitted);
	natbind_set_init(&s->merged);
	backoff_init(&s->retry, 100, 30000);
	signal(SIGPIPE, SIG_IGN);

	if (from_file) {
		r = run_from_file(s, from_file);
		cleanup(s);
		free(s);
		return r;
	}
	if (dump_file) {
		s->dump_fd = open(dump_file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (s->dump_fd < 0)
			die_errno(EXIT_FAIL, errno, "opening --dump-netlink file %s failed", dump_file);
	}
	s->rbuf = malloc(NL_RECV_BUF_SIZE);
	if (!s->rbuf || (r = loop_init(&s->loop)) < 0)
		die(EXIT_TEMPORARY, "setting up the event loop failed");
	loop_signal(&s->loop, SIGTERM, on_signal, s);
	loop_signal(&s->loop, SIGINT, on_signal, s);
	loop_signal(&s->loop, SIGUSR1, on_sigusr1, s);

	if (s->backend != BACKEND_LEGACY) {
		r = nft_start(s);
		if (r == -EPERM || r == -EACCES)
			die_errno(EXIT_FAIL, -r, "reading nf_tables over netlink failed "
				  "(ipt-scan needs CAP_NET_ADMIN in the network namespace)");
		if (r < 0 && s->backend == BACKEND_NFT)
			die_errno(EXIT_TEMPORARY, -r, "reading nf_tables over netlink failed");
		if (r < 0) {
			log_errno(LOG_WARN, -r, "nf_tables is not usable; reading legacy iptables only");
			if (s->event_fd >= 0) {
				loop_watch_remove(&s->loop, &s->event_watch);
				close(s->event_fd);
				s->event_fd = -1;
			}
			close_request_socket(s);
		} else {
			info("reading nf_tables rules%s", s->once ? "" : "; following changes");
		}
	}
	legacy_update(s, 1);
	if (s->legacy_active && !s->once)
		info("polling legacy iptables every %u s", s->interval_ms / 1000);
	publish(s);

	if (s->once) {
		r = s->synced ? EXIT_OK : EXIT_TEMPORARY;
	} else {
		r = loop_run(&s->loop);
		if (r < 0) {
			log_errno(LOG_ERROR, -r, "event loop failed");
			r = EXIT_TEMPORARY;
		}
	}
	cleanup(s);
	free(s);
	return r;
}
