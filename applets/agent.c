/* usage: agent [OPTIONS]
 *        rancher-desktop-guestagent [GO-STYLE FLAGS]
 *
 * Runs port-event sources and a sink as child processes, joined through
 * the agent by pipes, and keeps them alive.  Each child is this binary
 * under its applet name, so ps shows docker-watch, listen-hold, ...
 *
 * Privileged mode (--privileged-service): the container source and, with
 * --kubernetes, nodeport-watch feed vtunnel-send, which sends every
 * binding to Rancher Desktop's Privileged Service.
 * Listener mode (the default): ipt-scan, nodeport-watch with --kubernetes,
 * and a container source when one is given feed listen-hold, which opens
 * placeholder listeners that WSL forwards.
 * With none of the mode options, the agent detects the Docker socket, the
 * containerd sockets and the k3s kubeconfig, runs listener mode for what
 * it found, waits (inotify) for what is missing, and logs the pipeline.
 *
 *   --privileged-service    privileged mode: send bindings over the vtunnel
 *   --docker[=BOOL]         watch the Docker Engine (docker-watch)
 *   --containerd[=BOOL]     watch containerd (ctr-watch); not with --docker
 *   --kubernetes[=BOOL]     watch NodePort and LoadBalancer Services
 *   --iptables[=BOOL]       scan the NAT table for CNI port forwards;
 *                           default true in listener mode, false in
 *                           privileged mode
 *   --vtunnel-peer[=BOOL]   also run vtunnel-peer (privileged mode only)
 *   --vtunnel-addr ADDR     where vtunnel-send sends and vtunnel-peer
 *                           listens: tcp:IP:PORT, IP:PORT, unix:PATH, or
 *                           vsock:CID:PORT to send straight to the host
 *                           without vtunnel-peer (default tcp:127.0.0.1:3040)
 *   --vtunnel-upstream ADDR   vtunnel-peer's upstream (default: the
 *                           Windows host, vsock:2:17381)
 *   --vtunnel-handshake ADDR  where vtunnel-peer listens for the host's
 *                           handshake (default vsock:ANY:17382)
 *   --k8s-listen-addr ADDR  host address for Service ports: 0.0.0.0
 *                           (default) or 127.0.0.1
 *   --docker-socket PATH    Docker socket (default /var/run/docker.sock)
 *   --containerd-socket PATH  containerd socket (default: the first of
 *                           /run/k3s/containerd/containerd.sock and
 *                           /run/containerd/containerd.sock that exists)
 *   --kubeconfig PATH       kubeconfig (default $KUBECONFIG, then
 *                           /etc/rancher/k3s/k3s.yaml)
 *   -v, --debug, --verbose  debug logging, passed on to every child
 *   -q, --quiet             warnings and errors only, passed on
 *
 * Supervision: a child that exits is restarted after 0.5 s, doubling up to
 * 30 s, and the delay resets once a child ran for 60 s.  The agent keeps
 * the current bindings and replays them into a restarted sink before any
 * new event.  SIGTERM or SIGINT stops the sources, closes the sink's input
 * so it withdraws what it holds (a vtunnel-send that is down is started
 * once more to withdraw), and exits 0 within 3 s.  SIGUSR1 logs the
 * agent's state and is forwarded to every child that handles it.  Children log to the
 * agent's stderr, each line prefixed with the applet name.
 *
 * Invoked as rancher-desktop-guestagent, it takes the Go-style flags of
 * Rancher Desktop's guest agent instead (-flag, -flag=value, -flag value,
 * one or two dashes), refuses to run as non-root, and maps them as
 * -docker, -containerd, -kubernetes, -iptables (default true),
 * -privilegedService, -vtunnelAddr HOST:PORT, -containerdSock PATH,
 * -kubeconfig PATH, -k8sServiceListenerAddr ADDR and -debug; -adminInstall,
 * -k8sAPIPort and -tap-interface-ip are accepted and ignored.
 *
 * Exit codes: 0 stopped by a signal, 1 failure (including not root in the
 * drop-in form), 2 usage error.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/inotify.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agentplan.h"
#include "transport.h"
#include "applet.h"
#include "bindings.h"
#include "clock.h"
#include "io.h"
#include "loop.h"
#include "pev.h"
#include "replay.h"

#define BACKOFF_INITIAL_MS 500
#define BACKOFF_MAX_MS 30000
/* A child that ran this long before it exited was healthy, so its
 * restart delay starts again from BACKOFF_INITIAL_MS. */
#define HEALTHY_MS 60000
/* SIGTERM to the agent must end in exit 0 within 3 s; children still
 * running at this point are killed so the deadline holds. */
#define STOP_KILL_MS 2800
/* Lines queued for the sink beyond this pause reading from the sources,
 * so a slow sink slows the sources down instead of growing memory. */
#define SINK_HIGH_WATER (64 * 1024)
#define DETECT_MAX_PATHS 4
/* Recorded watches: one per path, plus one per parent created while the
 * agent was adding it.  A watch beyond these still works; it is only
 * never removed, which costs at most a spurious rescan. */
#define DETECT_MAX_WATCHES (DETECT_MAX_PATHS * 8)

struct agent;

struct child {
	struct agent *agent;
	struct plan_child spec;
	pid_t pid;                   /* 0 when not running */
	int fd;                      /* the agent's end of the child's pipe, or -1 */
	struct loop_watch watch;
	struct loop_timer restart_timer;
	struct backoff backoff;
	uint64_t started_ms;
	unsigned long restarts;
	struct pev_reader reader;    /* sources: lines from the child's stdout */
	struct log_limit rejected_limit;
};

struct detect_path {
	const char *path;
	const char **found;          /* slot in agent.found to set */
};

/* A binding that was withdrawn.  The Privileged Service keeps a forward
 * until it decodes its remove, and a vtunnel-send that dies may hold that
 * remove unsent, so a restarted vtunnel-send receives the binding again as
 * possibly held ("restored=1") and then its withdrawal. */
#define TOMBSTONES_MAX 1024

struct tombstone {
	char *owner;                 /* NULL for an unused slot */
	enum pev_proto proto;
	struct pev_addr host_ip;
	uint16_t host_port;
	uint16_t target_port;
	struct pev_addr target_ip;
};

struct agent {
	struct loop loop;
	struct agent_config cfg;
	pid_t self;
	unsigned backoff_initial_ms, backoff_max_ms, healthy_ms;
	struct child child[PLAN_MAX_CHILDREN];
	unsigned child_count;
	struct child *sink;
	/* The bindings the sources reported, replayed into a restarted sink. */
	struct binding_table table;
	/* The most recent withdrawals, for a restarted vtunnel-send: the one
	 * that died may not have delivered their removes. */
	struct tombstone tombstones[TOMBSTONES_MAX];
	unsigned tombstone_next;
	char *out;                   /* lines queued for the sink */
	size_t out_len, out_off, out_cap;
	int sources_paused;
	int stopping;
	struct loop_timer stop_timer;
	/* Auto-detection. */
	int detecting;
	int inotify_fd;
	struct loop_watch inotify_watch;
	int wd[DETECT_MAX_WATCHES];
	unsigned wd_count;
	struct detect_path paths[DETECT_MAX_PATHS];
	unsigned path_count;
	struct agent_detect found;
	char docker_host_path[PATH_MAX];
};

static const char go_usage[] =
	"Usage of rancher-desktop-guestagent (rdagent's drop-in form):\n"
	"  -adminInstall             accepted, ignored\n"
	"  -containerd               enable containerd event monitoring\n"
	"  -containerdSock string    containerd socket (default /run/k3s/containerd/containerd.sock)\n"
	"  -debug                    display debug output\n"
	"  -docker                   enable Docker event monitoring\n"
	"  -iptables                 enable iptables scanning (default true)\n"
	"  -k8sAPIPort string        accepted, ignored (default \"6443\")\n"
	"  -k8sServiceListenerAddr string  0.0.0.0 or 127.0.0.1 (default \"0.0.0.0\")\n"
	"  -kubeconfig string        path to kubeconfig (default \"/etc/rancher/k3s/k3s.yaml\")\n"
	"  -kubernetes               enable Kubernetes service forwarding\n"
	"  -privilegedService        enable Privileged Service mode\n"
	"  -tap-interface-ip string  accepted, ignored\n"
	"  -vtunnelAddr string       vtunnel peer address (default \"127.0.0.1:3040\")\n";

/* The applets built into this binary.  A child whose applet is missing
 * would run main()'s default applet, the agent itself, so such children
 * are never started. */
static const char *const built_applets[] = {
#define APPLET(name, func, help) name,
#include "applets.h"
#undef APPLET
};

static int applet_built(const char *name)
{
	for (size_t i = 0; i < sizeof built_applets / sizeof *built_applets; i++)
		if (!strcmp(built_applets[i], name))
			return 1;
	return 0;
}

static const char *role_name(enum plan_role role)
{
	switch (role) {
	case PLAN_SOURCE: return "source";
	case PLAN_SINK: return "sink";
	case PLAN_RELAY: return "relay";
	}
	return "child";
}

/* ---- the sink's queue ---- */

static void source_readable(struct loop *loop, struct loop_watch *w, uint32_t events);
static void sink_writable(struct loop *loop, struct loop_watch *w, uint32_t events);
static void close_child_fd(struct child *c);

static void pause_sources(struct agent *a)
{
	if (a->sources_paused)
		return;
	a->sources_paused = 1;
	for (unsigned i = 0; i < a->child_count; i++)
		if (a->child[i].spec.role == PLAN_SOURCE)
			loop_watch_remove(&a->loop, &a->child[i].watch);
	debug("sink input queue over %d bytes: pausing the sources", SINK_HIGH_WATER);
}

static void resume_sources(struct agent *a)
{
	if (!a->sources_paused)
		return;
	a->sources_paused = 0;
	for (unsigned i = 0; i < a->child_count; i++) {
		struct child *c = &a->child[i];
		int r;

		if (c->spec.role == PLAN_SOURCE && c->fd >= 0 &&
		    (r = loop_watch_add(&a->loop, &c->watch, c->fd, EPOLLIN, source_readable, c)) < 0)
			log_errno(LOG_ERROR, -r, "watching %s's output failed", c->spec.applet);
	}
}

static void drop_queue(struct agent *a)
{
	a->out_len = a->out_off = 0;
	resume_sources(a);
}

/* Records b as withdrawn, replacing an older record of the same binding
 * or else the oldest record. */
static void record_tombstone(void *ctx, struct binding *b)
{
	struct agent *a = ctx;
	struct tombstone *slot = NULL;
	char *owner;

	for (unsigned i = 0; i < TOMBSTONES_MAX && !slot; i++) {
		struct tombstone *t = &a->tombstones[i];

		if (t->owner && t->proto == b->proto && t->host_port == b->host_port &&
		    pev_addr_equal(&t->host_ip, &b->host_ip) && !strcmp(t->owner, b->owner))
			slot = t;
	}
	if (!slot) {
		slot = &a->tombstones[a->tombstone_next];
		a->tombstone_next = (a->tombstone_next + 1) % TOMBSTONES_MAX;
	}
	owner = strdup(b->owner);
	if (!owner) {
		warn("out of memory recording the withdrawal of %s; a restarted sink may not repeat it",
		     b->owner);
		return;
	}
	free(slot->owner);
	slot->owner = owner;
	slot->proto = b->proto;
	slot->host_ip = b->host_ip;
	slot->host_port = b->host_port;
	slot->target_port = b->target_port;
	slot->target_ip = b->target_ip;
}

static const struct binding_ops agent_table_ops = {
	.removed = record_tombstone,
};

static void free_tombstones(struct agent *a)
{
	for (unsigned i = 0; i < TOMBSTONES_MAX; i++) {
		free(a->tombstones[i].owner);
		a->tombstones[i].owner = NULL;
	}
}

static int queue_line(void *ctx, const char *line, size_t len)
{
	struct agent *a = ctx;

	if (a->out_len + len > a->out_cap) {
		size_t cap = a->out_cap ? a->out_cap : 16384;
		char *p;

		while (cap < a->out_len + len)
			cap *= 2;
		p = realloc(a->out, cap);
		if (!p)
			return -ENOMEM;
		a->out = p;
		a->out_cap = cap;
	}
	memcpy(a->out + a->out_len, line, len);
	a->out_len += len;
	return 0;
}

/* Writes queued lines to the sink without blocking; waits for EPOLLOUT
 * when the pipe is full. */
static void flush_sink(struct agent *a)
{
	struct child *s = a->sink;

	if (!s || s->fd < 0) {
		drop_queue(a);
		return;
	}
	while (a->out_off < a->out_len) {
		ssize_t n = write(s->fd, a->out + a->out_off, a->out_len - a->out_off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			break;
		if (n < 0) {
			/* EPIPE: the sink is exiting; SIGCHLD restarts it and
			 * the replay gives it everything again. */
			log_errno(LOG_WARN, errno, "writing to %s (pid %d) failed; dropping %zu queued bytes",
				  s->spec.applet, (int)s->pid, a->out_len - a->out_off);
			loop_watch_remove(&a->loop, &s->watch);
			drop_queue(a);
			return;
		}
		a->out_off += (size_t)n;
	}
	if (a->out_off == a->out_len) {
		a->out_off = a->out_len = 0;
		loop_watch_remove(&a->loop, &s->watch);
		resume_sources(a);
		/* Stopping: everything is written, so end the sink's input. */
		if (a->stopping)
			close_child_fd(s);
		return;
	}
	if (!s->watch.registered) {
		int r = loop_watch_add(&a->loop, &s->watch, s->fd, EPOLLOUT, sink_writable, s);

		if (r < 0)
			log_errno(LOG_ERROR, -r, "watching %s's input failed", s->spec.applet);
	}
	if (a->out_len - a->out_off > SINK_HIGH_WATER)
		pause_sources(a);
}

static void sink_writable(struct loop *loop, struct loop_watch *w, uint32_t events)
{
	struct child *s = w->ctx;

	(void)loop;
	(void)events;
	flush_sink(s->agent);
}

/* ---- lines from the sources ---- */

static void source_line(void *ctx, const char *line, size_t len, unsigned long lineno, int too_long)
{
	struct child *c = ctx;
	struct agent *a = c->agent;
	const char *reason = "line longer than 1023 bytes";
	char shown[96];
	struct pev ev;
	int r = too_long ? -1 : pev_parse(line, len, &ev, &reason);

	if (r == 1)
		return;
	if (r < 0) {
		if (log_limit_allow(&c->rejected_limit, 1000))
			warn("%s line %lu rejected (%s): '%s'; skipping it", c->spec.applet, lineno, reason,
			     log_sanitize(shown, sizeof shown, line, len));
		return;
	}
	r = bt_apply(&a->table, &ev);
	if (r < 0)
		log_errno(LOG_ERROR, -r, "recording %s line %lu failed; a restarted sink will miss it",
			  c->spec.applet, lineno);
	if (a->sink && a->sink->fd >= 0 && !a->stopping) {
		if (queue_line(a, line, len) < 0 || queue_line(a, "\n", 1) < 0) {
			log_errno(LOG_ERROR, ENOMEM, "queueing a line for %s failed", a->sink->spec.applet);
			return;
		}
	}
}

static void close_child_fd(struct child *c)
{
	if (c->fd < 0)
		return;
	loop_watch_remove(&c->agent->loop, &c->watch);
	close(c->fd);
	c->fd = -1;
}

/* Reads what the source wrote; at end of output, closes the pipe.  A line
 * the source did not finish is dropped: it died while writing it. */
static int read_source(struct child *c)
{
	char buf[4096];
	ssize_t n = safe_read(c->fd, buf, sizeof buf);

	if (n > 0) {
		pev_reader_feed(&c->reader, buf, (size_t)n, source_line, c);
		return 1;
	}
	if (n == -EAGAIN)
		return 0;
	if (n < 0)
		log_errno(LOG_ERROR, (int)-n, "reading %s's output failed", c->spec.applet);
	if (c->reader.len)
		warn("%s ended its output inside a line; dropping %zu bytes", c->spec.applet, c->reader.len);
	close_child_fd(c);
	return 0;
}

static void source_readable(struct loop *loop, struct loop_watch *w, uint32_t events)
{
	struct child *c = w->ctx;

	(void)loop;
	(void)events;
	read_source(c);
	flush_sink(c->agent);
}

/* ---- child processes ---- */

/* Runs in the forked child: wires the pipe, makes the child die with the
 * agent, and execs this binary under the applet's name.  Never returns. */
static _Noreturn void exec_child(struct child *c, int pipe_fd, pid_t agent_pid)
{
	sigset_t none;
	int null_fd;

	/* The agent blocks the signals it reads through signalfd and
	 * ignores SIGPIPE; both would carry over into the applet. */
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGPIPE, SIG_DFL);
	/* Own process group: a Ctrl-C on the terminal reaches only the
	 * agent, which then stops the children in order. */
	setpgid(0, 0);
	/* SIGTERM lets a sink withdraw even when the agent is SIGKILLed;
	 * the check catches an agent that died before prctl. */
	if (prctl(PR_SET_PDEATHSIG, SIGTERM) < 0 || getppid() != agent_pid)
		_exit(EXIT_TEMPORARY);
	null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	switch (c->spec.role) {
	case PLAN_SOURCE:
		if (dup2(pipe_fd, 1) < 0 || (null_fd >= 0 && dup2(null_fd, 0) < 0))
			_exit(EXIT_TEMPORARY);
		break;
	case PLAN_SINK:
		if (dup2(pipe_fd, 0) < 0)
			_exit(EXIT_TEMPORARY);
		break;
	case PLAN_RELAY:
		if (null_fd >= 0 && dup2(null_fd, 0) < 0)
			_exit(EXIT_TEMPORARY);
		break;
	}
	execv("/proc/self/exe", (char *const *)c->spec.argv);
	log_errno(LOG_ERROR, errno, "exec /proc/self/exe as %s failed", c->spec.applet);
	_exit(EXIT_NOEXEC);
}

static void restart_due(struct loop *loop, struct loop_timer *t);

static void schedule_restart(struct child *c, uint64_t ran_ms)
{
	unsigned delay;

	if (ran_ms >= c->agent->healthy_ms)
		backoff_reset(&c->backoff);
	delay = backoff_next(&c->backoff);
	info("restarting %s in %u.%03u s", c->spec.applet, delay / 1000, delay % 1000);
	loop_timer_start(&c->agent->loop, &c->restart_timer, delay, restart_due, c);
}

/* Queues a replayed line; an add is marked "restored=1" because the sink
 * that died may have applied it already (docs/port-events.md). */
static int queue_restored_line(void *ctx, const char *line, size_t len)
{
	static const char mark[] = " restored=1\n";

	if (len > 4 && !memcmp(line, "add ", 4) && line[len - 1] == '\n') {
		int r = queue_line(ctx, line, len - 1);

		return r < 0 ? r : queue_line(ctx, mark, sizeof mark - 1);
	}
	return queue_line(ctx, line, len);
}

/* Tells a restarted vtunnel-send about each recent withdrawal that is
 * still withdrawn: an add marked restored=1, then its del, so that it
 * sends the remove that the sink before it may not have delivered. */
static void replay_tombstones(struct agent *a, struct child *c)
{
	char line[PEV_LINE_MAX + 1];
	unsigned count = 0;
	struct pev ev;

	for (unsigned i = 0; i < TOMBSTONES_MAX; i++) {
		const struct tombstone *t = &a->tombstones[i];
		int n;

		if (!t->owner || bt_find(&a->table, t->owner, t->proto, &t->host_ip, t->host_port))
			continue;
		if (pev_set_binding(&ev, PEV_ADD, t->owner, t->proto, &t->host_ip, t->host_port,
				    t->target_port, t->target_ip.family ? &t->target_ip : NULL) < 0)
			continue;
		n = pev_format(&ev, line, sizeof line);
		if (n < 0 || queue_restored_line(a, line, (size_t)n) < 0)
			continue;
		ev.verb = PEV_DEL;
		n = pev_format(&ev, line, sizeof line);
		if (n < 0 || queue_line(a, line, (size_t)n) < 0)
			continue;
		count++;
	}
	if (count)
		info("repeating %u recent withdrawals to %s in case the sink before it did not deliver them",
		     count, c->spec.applet);
}

static int start_child(struct child *c)
{
	struct agent *a = c->agent;
	int fds[2] = { -1, -1 };
	int child_end = -1, agent_end = -1;
	pid_t pid;
	int r;

	if (c->spec.role != PLAN_RELAY) {
		if (pipe2(fds, O_CLOEXEC) < 0) {
			log_errno(LOG_ERROR, errno, "creating a pipe for %s failed", c->spec.applet);
			schedule_restart(c, 0);
			return -1;
		}
		child_end = c->spec.role == PLAN_SOURCE ? fds[1] : fds[0];
		agent_end = c->spec.role == PLAN_SOURCE ? fds[0] : fds[1];
	}
	pid = fork();
	if (pid < 0) {
		log_errno(LOG_ERROR, errno, "fork for %s failed", c->spec.applet);
		if (fds[0] >= 0) {
			close(fds[0]);
			close(fds[1]);
		}
		schedule_restart(c, 0);
		return -1;
	}
	if (pid == 0)
		exec_child(c, child_end, a->self);

	if (child_end >= 0)
		close(child_end);
	c->pid = pid;
	c->fd = agent_end;
	c->started_ms = clock_ms();
	pev_reader_init(&c->reader);
	info("started %s %s (pid %d)", role_name(c->spec.role), c->spec.applet, (int)pid);
	if (agent_end < 0)
		return 0;
	if ((r = fd_set_nonblock(agent_end, 1)) < 0)
		log_errno(LOG_WARN, -r, "setting %s's pipe non-blocking failed", c->spec.applet);
	if (c->spec.role == PLAN_SOURCE) {
		if (!a->sources_paused &&
		    (r = loop_watch_add(&a->loop, &c->watch, agent_end, EPOLLIN, source_readable, c)) < 0)
			log_errno(LOG_ERROR, -r, "watching %s's output failed", c->spec.applet);
		return 0;
	}
	/* A new sink starts empty: give it the current state first. */
	drop_queue(a);
	long lines = replay_table(&a->table, queue_restored_line, a);
	if (lines < 0)
		log_errno(LOG_ERROR, (int)-lines, "replaying the bindings into %s failed", c->spec.applet);
	else if (lines > 0)
		info("replaying %ld lines of current state into %s", lines, c->spec.applet);
	if (a->cfg.privileged == TRI_ON)
		replay_tombstones(a, c);
	flush_sink(a);
	return 0;
}

static void restart_due(struct loop *loop, struct loop_timer *t)
{
	struct child *c = t->ctx;

	(void)loop;
	if (c->agent->stopping || c->pid)
		return;
	c->restarts++;
	start_child(c);
}

static int children_running(const struct agent *a, int role_mask)
{
	int n = 0;

	for (unsigned i = 0; i < a->child_count; i++)
		if (a->child[i].pid && (role_mask & (1 << a->child[i].spec.role)))
			n++;
	return n;
}

static void signal_children(struct agent *a, int role_mask, int signo)
{
	for (unsigned i = 0; i < a->child_count; i++) {
		struct child *c = &a->child[i];

		if (c->pid && (role_mask & (1 << c->spec.role)) && kill(c->pid, signo) < 0 && errno != ESRCH)
			log_errno(LOG_WARN, errno, "sending signal %d to %s (pid %d) failed", signo,
				  c->spec.applet, (int)c->pid);
	}
}

#define ROLE(r) (1 << (r))
#define ALL_ROLES (ROLE(PLAN_SOURCE) | ROLE(PLAN_SINK) | ROLE(PLAN_RELAY))

/* During shutdown: the relay (vtunnel-peer) carries vtunnel-send's
 * removes, so it stops only after the sink is gone; the agent exits when
 * every child is reaped. */
static void continue_stop(struct agent *a)
{
	if (!children_running(a, ROLE(PLAN_SINK)))
		signal_children(a, ROLE(PLAN_RELAY), SIGTERM);
	if (!children_running(a, ALL_ROLES)) {
		info("all children stopped; exiting");
		loop_stop(&a->loop, EXIT_OK);
	}
}

static void log_exit(const struct child *c, pid_t pid, int status, uint64_t ran_ms, int level)
{
	unsigned long secs = (unsigned long)(ran_ms / 1000), tenths = (unsigned long)(ran_ms % 1000 / 100);

	if (WIFSIGNALED(status))
		log_msg(level, "%s (pid %d) killed by signal %d (%s) after %lu.%lu s", c->spec.applet, (int)pid,
			WTERMSIG(status), strsignal(WTERMSIG(status)), secs, tenths);
	else
		log_msg(level, "%s (pid %d) exited with status %d after %lu.%lu s", c->spec.applet, (int)pid,
			WEXITSTATUS(status), secs, tenths);
}

static void child_exited(struct child *c, pid_t pid, int status)
{
	struct agent *a = c->agent;
	uint64_t ran_ms = clock_ms() - c->started_ms;
	int clean = WIFEXITED(status) && WEXITSTATUS(status) == 0;

	c->pid = 0;
	log_exit(c, pid, status, ran_ms, a->stopping && (clean || WIFSIGNALED(status)) ? LOG_INFO :
					 clean ? LOG_WARN : LOG_ERROR);
	if (c->spec.role == PLAN_SOURCE) {
		/* Take the lines it wrote before it died. */
		while (c->fd >= 0 && read_source(c))
			;
		close_child_fd(c);
		flush_sink(a);
	} else if (c->spec.role == PLAN_SINK) {
		close_child_fd(c);
		drop_queue(a);
	}
	if (a->stopping) {
		continue_stop(a);
		return;
	}
	schedule_restart(c, ran_ms);
}

static void on_sigchld(struct loop *loop, int signo, void *ctx)
{
	struct agent *a = ctx;
	int status;
	pid_t pid;

	(void)loop;
	(void)signo;
	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		for (unsigned i = 0; i < a->child_count; i++) {
			if (a->child[i].pid == pid) {
				child_exited(&a->child[i], pid, status);
				break;
			}
		}
	}
}

/* ---- shutdown and state ---- */

static void stop_deadline(struct loop *loop, struct loop_timer *t)
{
	struct agent *a = t->ctx;

	(void)loop;
	for (unsigned i = 0; i < a->child_count; i++)
		if (a->child[i].pid)
			warn("%s (pid %d) did not stop in time; killing it", a->child[i].spec.applet,
			     (int)a->child[i].pid);
	signal_children(a, ALL_ROLES, SIGKILL);
}

static void stop_detection(struct agent *a);

static void on_stop_signal(struct loop *loop, int signo, void *ctx)
{
	struct agent *a = ctx;

	if (a->stopping) {
		info("received %s again; still stopping", strsignal(signo));
		return;
	}
	a->stopping = 1;
	info("received %s: stopping the sources and withdrawing every binding", strsignal(signo));
	stop_detection(a);
	for (unsigned i = 0; i < a->child_count; i++)
		loop_timer_stop(loop, &a->child[i].restart_timer);
	signal_children(a, ROLE(PLAN_SOURCE), SIGTERM);
	/* End of input makes a sink withdraw every binding and exit.  Lines
	 * already queued go first, because they may be part of a replay that
	 * the sink must hold before it can withdraw it.  flush_sink closes
	 * the input once the queue is empty. */
	if (a->sink) {
		/* vtunnel-send's forwards live on in the Privileged Service
		 * after it died; start it once more so it withdraws them. */
		if (!a->sink->pid && a->cfg.privileged == TRI_ON && a->table.binding_count) {
			info("%s is not running; starting it to withdraw %zu bindings", a->sink->spec.applet,
			     a->table.binding_count);
			start_child(a->sink);
		}
		flush_sink(a);
	}
	loop_timer_start(loop, &a->stop_timer, STOP_KILL_MS, stop_deadline, a);
	continue_stop(a);
}

/* Returns 1 when process pid blocks, ignores or catches signo, as read
 * from the SigBlk, SigIgn and SigCgt masks of /proc/PID/status (proc(5)),
 * so that sending it does not kill the process; 0 otherwise. */
static int handles_signal(pid_t pid, int signo)
{
	static const char *const masks[] = { "\nSigBlk:", "\nSigIgn:", "\nSigCgt:" };
	char path[64], buf[4096];
	unsigned long long bit = 1ULL << (signo - 1);

	snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
	if (read_small_file(path, buf, sizeof buf) <= 0)
		return 0;
	for (unsigned i = 0; i < sizeof masks / sizeof *masks; i++) {
		const char *line = strstr(buf, masks[i]);

		if (line && (strtoull(line + strlen(masks[i]), NULL, 16) & bit))
			return 1;
	}
	return 0;
}

static void on_sigusr1(struct loop *loop, int signo, void *ctx)
{
	struct agent *a = ctx;
	uint64_t now = clock_ms();

	(void)loop;
	info("state: %zu bindings on %zu endpoints; %zu bytes queued for the sink%s",
	     a->table.binding_count, a->table.endpoint_count, a->out_len - a->out_off,
	     a->sources_paused ? " (sources paused)" : "");
	for (unsigned i = 0; i < a->child_count; i++) {
		const struct child *c = &a->child[i];

		if (c->pid)
			info("state: %s %s pid %d, up %lu s, %lu restarts", role_name(c->spec.role),
			     c->spec.applet, (int)c->pid, (unsigned long)((now - c->started_ms) / 1000),
			     c->restarts);
		else
			info("state: %s %s not running, %lu restarts%s", role_name(c->spec.role),
			     c->spec.applet, c->restarts, c->restart_timer.armed ? ", restart pending" : "");
	}
	if (a->detecting)
		for (unsigned i = 0; i < a->path_count; i++)
			if (!*a->paths[i].found)
				info("state: waiting for %s", a->paths[i].path);
	/* SIGUSR1's default action ends a process, so only the children that
	 * handle it get it. */
	for (unsigned i = 0; i < a->child_count; i++) {
		const struct child *c = &a->child[i];

		if (!c->pid)
			continue;
		if (!handles_signal(c->pid, signo))
			info("state: %s (pid %d) does not handle SIGUSR1; not sending it", c->spec.applet,
			     (int)c->pid);
		else if (kill(c->pid, signo) < 0 && errno != ESRCH)
			log_errno(LOG_WARN, errno, "sending SIGUSR1 to %s (pid %d) failed", c->spec.applet,
				  (int)c->pid);
	}
}

/* ---- the pipeline ---- */

static struct child *find_child(struct agent *a, const char *applet)
{
	for (unsigned i = 0; i < a->child_count; i++)
		if (!strcmp(a->child[i].spec.applet, applet))
			return &a->child[i];
	return NULL;
}

/* Starts every child of plan that is not running yet, sink first so the
 * sources' first lines have somewhere to go. */
static void apply_plan(struct agent *a, const struct plan *plan)
{
	static const enum plan_role order[] = { PLAN_RELAY, PLAN_SINK, PLAN_SOURCE };
	char line[LOG_LINE_MAX - 64];

	info("pipeline: %s", plan_describe(plan, line, sizeof line));
	for (unsigned r = 0; r < sizeof order / sizeof *order; r++) {
		for (unsigned i = 0; i < plan->count; i++) {
			const struct plan_child *spec = &plan->child[i];
			struct child *c;

			if (spec->role != order[r] || find_child(a, spec->applet))
				continue;
			if (!applet_built(spec->applet)) {
				error("this binary has no %s applet; the pipeline runs without it", spec->applet);
				continue;
			}
			c = &a->child[a->child_count++];
			memset(c, 0, sizeof *c);
			c->agent = a;
			c->fd = -1;
			plan_child_copy(&c->spec, spec);
			backoff_init(&c->backoff, a->backoff_initial_ms, a->backoff_max_ms);
			if (spec->role == PLAN_SINK)
				a->sink = c;
			start_child(c);
		}
	}
}

/* ---- auto-detection ---- */

static int path_exists(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0;
}

/* Writes to dir the deepest existing directory above path.  Returns 0, or
 * -1 when there is none or path is too long. */
static int deepest_existing_dir(const char *path, char dir[PATH_MAX])
{
	char *slash;

	if (strlen(path) >= PATH_MAX)
		return -1;
	strcpy(dir, path);
	for (;;) {
		slash = strrchr(dir, '/');
		if (!slash)
			return -1;
		if (slash == dir)
			slash[1] = 0;
		else
			*slash = 0;
		if (path_exists(dir))
			return 0;
		if (slash == dir)
			return -1;
	}
}

/* Watches the deepest existing directory on the way to path, so the
 * agent wakes when path or one of its missing parents is created.  A
 * parent created while the watch was being added moves the watch down. */
static void watch_towards(struct agent *a, const char *path)
{
	char dir[PATH_MAX], again[PATH_MAX];

	if (deepest_existing_dir(path, dir) < 0)
		return;
	for (;;) {
		int wd = inotify_add_watch(a->inotify_fd, dir, IN_CREATE | IN_MOVED_TO | IN_ONLYDIR);

		if (wd < 0) {
			log_errno(LOG_ERROR, errno, "inotify watch on '%s' failed; not waiting for '%s'", dir, path);
			return;
		}
		if (a->wd_count < sizeof a->wd / sizeof *a->wd)
			a->wd[a->wd_count++] = wd;
		if (deepest_existing_dir(path, again) < 0 || !strcmp(again, dir))
			return;
		strcpy(dir, again);
	}
}

static void stop_detection(struct agent *a)
{
	if (!a->detecting)
		return;
	a->detecting = 0;
	loop_watch_remove(&a->loop, &a->inotify_watch);
	close(a->inotify_fd);
	a->inotify_fd = -1;
	a->wd_count = 0;
}

/* Checks every path not found yet; starts what the new findings add to
 * the pipeline, then watches for the rest.  Loops so that a path created
 * while the watches were being set up is not missed. */
static void detect_scan(struct agent *a)
{
	for (;;) {
		int new_found = 0, missing = 0;

		for (unsigned i = 0; i < a->path_count; i++) {
			struct detect_path *p = &a->paths[i];

			if (*p->found)
				continue;
			/* containerd: the k3s socket wins, as in ctr-watch. */
			if (path_exists(p->path)) {
				info("detected %s", p->path);
				*p->found = p->path;
				new_found = 1;
			}
		}
		if (new_found) {
			struct plan plan;
			char err[256];

			if (plan_build(&a->cfg, &a->found, &plan, err, sizeof err) < 0)
				error("building the pipeline failed: %s", err);
			else if (plan.count)
				apply_plan(a, &plan);
		}
		for (unsigned i = 0; i < a->wd_count; i++)
			inotify_rm_watch(a->inotify_fd, a->wd[i]);
		a->wd_count = 0;
		for (unsigned i = 0; i < a->path_count; i++) {
			if (*a->paths[i].found)
				continue;
			missing = 1;
			watch_towards(a, a->paths[i].path);
		}
		if (!missing) {
			info("every detectable source found; auto-detection done");
			stop_detection(a);
			return;
		}
		int again = 0;

		for (unsigned i = 0; i < a->path_count; i++)
			if (!*a->paths[i].found && path_exists(a->paths[i].path))
				again = 1;
		if (!again)
			return;
	}
}

static void inotify_readable(struct loop *loop, struct loop_watch *w, uint32_t events)
{
	struct agent *a = w->ctx;
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));

	(void)loop;
	(void)events;
	while (read(a->inotify_fd, buf, sizeof buf) > 0)
		;
	detect_scan(a);
}

static void add_detect_path(struct agent *a, const char *path, const char **found)
{
	if (a->path_count < DETECT_MAX_PATHS)
		a->paths[a->path_count++] = (struct detect_path){ path, found };
}

static const char *docker_socket_path(struct agent *a)
{
	const char *host = getenv("DOCKER_HOST");

	if (a->cfg.docker_socket)
		return a->cfg.docker_socket;
	if (host && !strncmp(host, "unix://", 7) && strlen(host + 7) < sizeof a->docker_host_path) {
		strcpy(a->docker_host_path, host + 7);
		return a->docker_host_path;
	}
	return AGENT_DEFAULT_DOCKER_SOCKET;
}

static void start_detection(struct agent *a)
{
	const char *kubeconfig = a->cfg.kubeconfig ? a->cfg.kubeconfig : getenv("KUBECONFIG");

	add_detect_path(a, docker_socket_path(a), &a->found.docker_socket);
	if (a->cfg.containerd_socket) {
		add_detect_path(a, a->cfg.containerd_socket, &a->found.containerd_socket);
	} else {
		add_detect_path(a, AGENT_K3S_CONTAINERD_SOCKET, &a->found.containerd_socket);
		add_detect_path(a, AGENT_CONTAINERD_SOCKET, &a->found.containerd_socket);
	}
	add_detect_path(a, kubeconfig && *kubeconfig ? kubeconfig : AGENT_DEFAULT_KUBECONFIG,
			&a->found.kubeconfig);

	a->inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (a->inotify_fd < 0)
		die_errno(EXIT_FAIL, errno, "inotify_init1 failed; give the sources as options instead");
	if (loop_watch_add(&a->loop, &a->inotify_watch, a->inotify_fd, EPOLLIN, inotify_readable, a) < 0)
		die_errno(EXIT_FAIL, errno, "watching the inotify descriptor failed");
	a->detecting = 1;
	info("auto-detection: looking for the Docker socket, the containerd sockets and the k3s kubeconfig");
	detect_scan(a);
	if (a->detecting && !a->child_count) {
		char list[512] = "";
		size_t n = 0;

		for (unsigned i = 0; i < a->path_count; i++)
			n += (size_t)snprintf(list + n, n < sizeof list ? sizeof list - n : 0, "%s%s",
					      i ? ", " : "", a->paths[i].path);
		info("nothing found yet; waiting for any of %s", list);
	}
}

/* ---- options ---- */

enum {
	OPT_PRIVILEGED = 256, OPT_DOCKER, OPT_CONTAINERD, OPT_KUBERNETES, OPT_IPTABLES,
	OPT_VTUNNEL_PEER, OPT_VTUNNEL_ADDR, OPT_K8S_LISTEN_ADDR, OPT_DOCKER_SOCKET,
	OPT_CONTAINERD_SOCKET, OPT_KUBECONFIG, OPT_VTUNNEL_UPSTREAM, OPT_VTUNNEL_HANDSHAKE,
};

static enum tristate bool_option(const char *value, const char *name)
{
	return !value || parse_bool(value, name) ? TRI_ON : TRI_OFF;
}

/* Rejects an address option that vtunnel-peer would reject, so the
 * mistake is a usage error now instead of a child failing on every restart. */
static void check_transport(const char *text, int flags, const char *option)
{
	struct transport_addr addr;
	const char *reason;

	if (transport_parse(text, flags, &addr, &reason) < 0)
		usage_error("invalid value '%s' for %s: %s", text, option, reason);
}

static void parse_native(struct agent_config *cfg, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "privileged-service", optional_argument, 0, OPT_PRIVILEGED },
		{ "docker", optional_argument, 0, OPT_DOCKER },
		{ "containerd", optional_argument, 0, OPT_CONTAINERD },
		{ "kubernetes", optional_argument, 0, OPT_KUBERNETES },
		{ "iptables", optional_argument, 0, OPT_IPTABLES },
		{ "vtunnel-peer", optional_argument, 0, OPT_VTUNNEL_PEER },
		{ "vtunnel-addr", required_argument, 0, OPT_VTUNNEL_ADDR },
		{ "vtunnel-upstream", required_argument, 0, OPT_VTUNNEL_UPSTREAM },
		{ "vtunnel-handshake", required_argument, 0, OPT_VTUNNEL_HANDSHAKE },
		{ "k8s-listen-addr", required_argument, 0, OPT_K8S_LISTEN_ADDR },
		{ "docker-socket", required_argument, 0, OPT_DOCKER_SOCKET },
		{ "containerd-socket", required_argument, 0, OPT_CONTAINERD_SOCKET },
		{ "kubeconfig", required_argument, 0, OPT_KUBECONFIG },
		COMMON_LONG_OPTIONS,
		{ 0, 0, 0, 0 },
	};
	int opt;

	while ((opt = applet_getopt(argc, argv, "", longopts)) != -1) {
		switch (opt) {
		case OPT_PRIVILEGED: cfg->privileged = bool_option(optarg, "--privileged-service"); break;
		case OPT_DOCKER: cfg->docker = bool_option(optarg, "--docker"); break;
		case OPT_CONTAINERD: cfg->containerd = bool_option(optarg, "--containerd"); break;
		case OPT_KUBERNETES: cfg->kubernetes = bool_option(optarg, "--kubernetes"); break;
		case OPT_IPTABLES: cfg->iptables = bool_option(optarg, "--iptables"); break;
		case OPT_VTUNNEL_PEER: cfg->vtunnel_peer = bool_option(optarg, "--vtunnel-peer"); break;
		case OPT_VTUNNEL_ADDR:
			if (agent_config_set_vtunnel_addr(cfg, optarg) < 0)
				usage_error("invalid value '%s' for --vtunnel-addr: expected tcp:IP:PORT (IPv6 in brackets), IP:PORT, unix:PATH or vsock:CID:PORT",
					    optarg);
			break;
		case OPT_VTUNNEL_UPSTREAM:
			check_transport(optarg, 0, "--vtunnel-upstream");
			cfg->vtunnel_upstream = optarg;
			break;
		case OPT_VTUNNEL_HANDSHAKE:
			check_transport(optarg, TRANSPORT_LISTEN, "--vtunnel-handshake");
			cfg->vtunnel_handshake = optarg;
			break;
		case OPT_K8S_LISTEN_ADDR: cfg->k8s_listen_addr = optarg; break;
		case OPT_DOCKER_SOCKET: cfg->docker_socket = optarg; break;
		case OPT_CONTAINERD_SOCKET: cfg->containerd_socket = optarg; break;
		case OPT_KUBECONFIG: cfg->kubeconfig = optarg; break;
		default: usage_error("unknown option");
		}
	}
	no_arguments(argc, argv);
	cfg->debug = log_get_level() == LOG_DEBUG;
	cfg->quiet = log_get_level() == LOG_WARN;
}

static void parse_go_style(struct agent_config *cfg, int argc, char **argv)
{
	char err[256];
	int r = agent_parse_go_flags(cfg, argc, argv, err, sizeof err);

	if (r == 1) {
		fputs(go_usage, stdout);
		exit(fflush(stdout) == 0 ? EXIT_OK : EXIT_FAIL);
	}
	if (r < 0)
		usage_error("%s", err);
	if (cfg->debug)
		log_set_level(LOG_DEBUG);
	info("starting in the drop-in form of rancher-desktop-guestagent [AdminInstall=%s]",
	     cfg->admin_install ? "true" : "false");
	/* The reference agent fails with "agent must run as root" and exit
	 * status 1 for any effective user other than root. */
	if (geteuid() != 0)
		die(EXIT_FAIL, "agent must run as root");
}

/* Reads RDAGENT_AGENT_BACKOFF=MIN_MS:MAX_MS[:HEALTHY_MS], the restart
 * delays and the run time after which they start again from MIN_MS.
 * Tests shorten them to restart a child many times in a few seconds. */
static void read_backoff(struct agent *a)
{
	const char *env = getenv("RDAGENT_AGENT_BACKOFF");
	unsigned long min_ms = 0, max_ms = 0, healthy_ms = HEALTHY_MS;
	char *end = NULL;

	a->backoff_initial_ms = BACKOFF_INITIAL_MS;
	a->backoff_max_ms = BACKOFF_MAX_MS;
	a->healthy_ms = HEALTHY_MS;
	if (!env || !*env)
		return;
	/* strtoul instead of sscanf keeps the scanf family out of the static binary. */
	if (*env >= '0' && *env <= '9')
		min_ms = strtoul(env, &end, 10);
	if (end && *end == ':' && end[1] >= '0' && end[1] <= '9')
		max_ms = strtoul(end + 1, &end, 10);
	else
		end = NULL;
	if (end && *end == ':' && end[1] >= '0' && end[1] <= '9')
		healthy_ms = strtoul(end + 1, &end, 10);
	if (!end || *end || min_ms < 1 || max_ms < min_ms || max_ms > 3600000 || healthy_ms < 1 ||
	    healthy_ms > 3600000) {
		warn("invalid RDAGENT_AGENT_BACKOFF value '%s'; expected MIN_MS:MAX_MS[:HEALTHY_MS]; using %u:%u:%u",
		     env, BACKOFF_INITIAL_MS, BACKOFF_MAX_MS, HEALTHY_MS);
		return;
	}
	a->backoff_initial_ms = (unsigned)min_ms;
	a->backoff_max_ms = (unsigned)max_ms;
	a->healthy_ms = (unsigned)healthy_ms;
}

/* Makes sure descriptors 0-2 are open, so no pipe lands on them. */
static void ensure_std_fds(void)
{
	for (int fd = 0; fd < 3; fd++)
		if (fcntl(fd, F_GETFD) < 0 && open("/dev/null", O_RDWR) != fd)
			die_errno(EXIT_FAIL, errno, "opening /dev/null as descriptor %d failed", fd);
}

int agent_main(int argc, char **argv)
{
	const char *invoked = "agent";
	struct agent *a = calloc(1, sizeof *a);
	char err[256];
	int r;

	if (!a)
		die_errno(EXIT_FAIL, ENOMEM, "allocating the agent state failed");
	if (argc > 0) {
		const char *slash = strrchr(argv[0], '/');

		invoked = slash ? slash + 1 : argv[0];
	}
	ensure_std_fds();
	agent_config_init(&a->cfg);
	if (!strcmp(invoked, "rancher-desktop-guestagent"))
		parse_go_style(&a->cfg, argc, argv);
	else
		parse_native(&a->cfg, argc, argv);
	if (agent_config_check(&a->cfg, err, sizeof err) < 0)
		usage_error("%s", err);

	a->self = getpid();
	a->inotify_fd = -1;
	read_backoff(a);
	signal(SIGPIPE, SIG_IGN);
	if ((r = loop_init(&a->loop)) < 0)
		die_errno(EXIT_FAIL, -r, "creating the event loop failed");
	if ((r = bt_init(&a->table, &agent_table_ops, a)) < 0)
		die_errno(EXIT_FAIL, -r, "creating the binding table failed");
	if ((r = loop_signal(&a->loop, SIGCHLD, on_sigchld, a)) < 0 ||
	    (r = loop_signal(&a->loop, SIGTERM, on_stop_signal, a)) < 0 ||
	    (r = loop_signal(&a->loop, SIGINT, on_stop_signal, a)) < 0 ||
	    (r = loop_signal(&a->loop, SIGUSR1, on_sigusr1, a)) < 0)
		die_errno(EXIT_FAIL, -r, "setting up signal handling failed");

	info("rdagent %s agent starting (pid %d)", RDAGENT_VERSION, (int)a->self);
	if (agent_config_has_mode(&a->cfg) || a->cfg.go_style) {
		struct plan plan;

		if (plan_build(&a->cfg, NULL, &plan, err, sizeof err) < 0)
			usage_error("%s", err);
		info("%s mode", plan.privileged ? "privileged" : "listener");
		apply_plan(a, &plan);
	} else {
		start_detection(a);
	}

	r = loop_run(&a->loop);
	if (r < 0)
		die_errno(EXIT_FAIL, -r, "event loop failed");
	bt_free(&a->table);
	free_tombstones(a);
	free(a->out);
	loop_free(&a->loop);
	free(a);
	return r;
}
