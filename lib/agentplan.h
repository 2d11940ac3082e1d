/* The agent's configuration and the pipeline it runs.
 *
 * A configuration comes from the native options (parsed by the applet) or
 * from the reference guest agent's Go-style flags (parsed here).  A plan
 * lists the child processes for one configuration and the detection
 * result: sources, the one sink they all feed, and optionally the vtunnel
 * peer.  Nothing here forks, prints or exits. */
#ifndef RDAGENT_AGENTPLAN_H
#define RDAGENT_AGENTPLAN_H

#include <stddef.h>

/* A boolean option that may also be absent; absent options get a default
 * that depends on the mode. */
enum tristate { TRI_UNSET = -1, TRI_OFF = 0, TRI_ON = 1 };

#define AGENT_DEFAULT_VTUNNEL_ADDR "tcp:127.0.0.1:3040"
#define AGENT_DEFAULT_DOCKER_SOCKET "/var/run/docker.sock"
#define AGENT_DEFAULT_KUBECONFIG "/etc/rancher/k3s/k3s.yaml"
/* The socket paths of k3s's containerd (which Rancher Desktop uses) and
 * of a stand-alone containerd, in the order ctr-watch tries them. */
#define AGENT_K3S_CONTAINERD_SOCKET "/run/k3s/containerd/containerd.sock"
#define AGENT_CONTAINERD_SOCKET "/run/containerd/containerd.sock"

struct agent_config {
	enum tristate privileged;      /* --privileged-service */
	enum tristate docker;
	enum tristate containerd;
	enum tristate kubernetes;
	enum tristate iptables;        /* default: on in listener mode, off in privileged mode */
	enum tristate vtunnel_peer;
	const char *vtunnel_addr;      /* transport form, e.g. tcp:127.0.0.1:3040; NULL for the default */
	/* vtunnel-peer's upstream (--to) and handshake addresses; NULL keeps
	 * its defaults, the Windows host over AF_VSOCK. */
	const char *vtunnel_upstream;
	const char *vtunnel_handshake;
	const char *k8s_listen_addr;   /* 0.0.0.0 or 127.0.0.1; NULL leaves nodeport-watch's default */
	const char *docker_socket;     /* path; NULL for the default */
	const char *containerd_socket; /* path; NULL lets ctr-watch choose */
	const char *kubeconfig;        /* path; NULL lets nodeport-watch choose */
	int debug;                     /* pass --debug to every child */
	int quiet;                     /* pass --quiet to every child */
	int go_style;                  /* invoked as rancher-desktop-guestagent */
	/* Accepted from the Go-style command line for compatibility and
	 * otherwise unused: rdagent does not talk to Rancher Desktop's
	 * wsl-proxy, which is what these configure in the reference agent. */
	int admin_install;
	const char *k8s_api_port;
	char vtunnel_addr_buf[300];    /* storage for a HOST:PORT turned into tcp:HOST:PORT */
};

void agent_config_init(struct agent_config *cfg);

/* Returns 1 when any option that selects sources or the mode was given, so
 * the agent must not detect them. */
int agent_config_has_mode(const struct agent_config *cfg);

/* Sets cfg->vtunnel_addr from a native or Go-style value: a transport
 * address (tcp:, unix:, vsock:) is kept, a bare HOST:PORT gets "tcp:".
 * Returns 0, or -1 when value is empty or too long. */
int agent_config_set_vtunnel_addr(struct agent_config *cfg, const char *value);

/* Parses the reference agent's command line (argv[0] is the program
 * name): -flag, -flag=value and -flag value, with one or two dashes, and
 * bool flags only as -flag or -flag=value, as Go's flag package does.
 * Returns 0, 1 when help was requested, or -1 with a message in err. */
int agent_parse_go_flags(struct agent_config *cfg, int argc, char **argv, char *err, size_t err_size);

/* Checks option combinations; the rules follow the reference agent.
 * Returns 0, or -1 with a message in err. */
int agent_config_check(const struct agent_config *cfg, char *err, size_t err_size);

/* The result of auto-detection: each path that exists, or NULL. */
struct agent_detect {
	const char *docker_socket;
	const char *containerd_socket;
	const char *kubeconfig;
};

enum plan_role { PLAN_SOURCE, PLAN_SINK, PLAN_RELAY };

#define PLAN_MAX_CHILDREN 8
#define PLAN_MAX_ARGS 12

struct plan_child {
	const char *applet;
	enum plan_role role;
	/* argv for the child, argv[0] is the applet name, NULL-terminated. */
	const char *argv[PLAN_MAX_ARGS];
	char arg_buf[320];             /* storage for built values such as unix://PATH */
};

struct plan {
	struct plan_child child[PLAN_MAX_CHILDREN];
	unsigned count;
	int privileged;
};

/* Builds the plan for cfg.  detect is NULL when the options chose the
 * sources; otherwise it selects the detected sources to run, and a plan
 * with no source is empty (count 0).  Returns 0, or -1 with err set. */
int plan_build(const struct agent_config *cfg, const struct agent_detect *detect,
	       struct plan *plan, char *err, size_t err_size);

/* Copies a child, pointing its argv at the copy's own arg_buf. */
void plan_child_copy(struct plan_child *dst, const struct plan_child *src);

/* Finds a child by applet name; NULL when the plan has none. */
const struct plan_child *plan_find(const struct plan *plan, const char *applet);

/* Writes the pipeline as a shell-like line, e.g.
 * "docker-watch + nodeport-watch | vtunnel-send --to tcp:127.0.0.1:3040".
 * Returns dst; the text is cut to fit size. */
char *plan_describe(const struct plan *plan, char *dst, size_t size);

#endif
