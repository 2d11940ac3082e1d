/* see lib/agentplan.h */
#include "agentplan.h"
#include "transport.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static int fail(char *err, size_t err_size, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(char *err, size_t err_size, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, err_size, fmt, ap);
	va_end(ap);
	return -1;
}

void agent_config_init(struct agent_config *cfg)
{
	memset(cfg, 0, sizeof *cfg);
	cfg->privileged = cfg->docker = cfg->containerd = TRI_UNSET;
	cfg->kubernetes = cfg->iptables = cfg->vtunnel_peer = TRI_UNSET;
}

int agent_config_has_mode(const struct agent_config *cfg)
{
	return cfg->privileged != TRI_UNSET || cfg->docker != TRI_UNSET ||
	       cfg->containerd != TRI_UNSET || cfg->kubernetes != TRI_UNSET ||
	       cfg->iptables != TRI_UNSET || cfg->vtunnel_peer != TRI_UNSET;
}

int agent_config_set_vtunnel_addr(struct agent_config *cfg, const char *value)
{
	struct transport_addr addr;
	const char *reason;
	int has_scheme = !strncmp(value, "tcp:", 4) || !strncmp(value, "unix:", 5) ||
			 !strncmp(value, "vsock:", 6);
	int n;

	if (!*value)
		return -1;
	n = snprintf(cfg->vtunnel_addr_buf, sizeof cfg->vtunnel_addr_buf, "%s%s",
		     has_scheme ? "" : "tcp:", value);
	if (n < 0 || (size_t)n >= sizeof cfg->vtunnel_addr_buf)
		return -1;
	/* Check it here, so a typo is a usage error of the agent rather than
	 * a vtunnel-send child that exits 2 on every restart. */
	if (transport_parse(cfg->vtunnel_addr_buf, 0, &addr, &reason) < 0)
		return -1;
	cfg->vtunnel_addr = cfg->vtunnel_addr_buf;
	return 0;
}

/* The reference agent's flags, from rancher-sandbox/rancher-desktop,
 * src/go/guestagent/main.go (the release that has -privilegedService,
 * -adminInstall and -k8sAPIPort): names, kinds and defaults. */
enum go_flag {
	GO_DEBUG, GO_KUBECONFIG, GO_IPTABLES, GO_KUBERNETES, GO_DOCKER, GO_CONTAINERD,
	GO_CONTAINERD_SOCK, GO_VTUNNEL_ADDR, GO_PRIVILEGED_SERVICE,
	GO_K8S_SERVICE_LISTENER_ADDR, GO_ADMIN_INSTALL, GO_K8S_API_PORT, GO_TAP_INTERFACE_IP,
};

static const struct {
	const char *name;
	int is_bool;
} go_flags[] = {
	[GO_DEBUG] = { "debug", 1 },
	[GO_KUBECONFIG] = { "kubeconfig", 0 },
	[GO_IPTABLES] = { "iptables", 1 },
	[GO_KUBERNETES] = { "kubernetes", 1 },
	[GO_DOCKER] = { "docker", 1 },
	[GO_CONTAINERD] = { "containerd", 1 },
	[GO_CONTAINERD_SOCK] = { "containerdSock", 0 },
	[GO_VTUNNEL_ADDR] = { "vtunnelAddr", 0 },
	[GO_PRIVILEGED_SERVICE] = { "privilegedService", 1 },
	[GO_K8S_SERVICE_LISTENER_ADDR] = { "k8sServiceListenerAddr", 0 },
	[GO_ADMIN_INSTALL] = { "adminInstall", 1 },
	[GO_K8S_API_PORT] = { "k8sAPIPort", 0 },
	/* Only in later releases; accepted so either command line works. */
	[GO_TAP_INTERFACE_IP] = { "tap-interface-ip", 0 },
};

#define GO_FLAG_COUNT (sizeof go_flags / sizeof *go_flags)

/* The spellings Go's strconv.ParseBool accepts.  Returns 0/1, or -1. */
static int parse_go_bool(const char *s)
{
	static const char *const yes[] = { "1", "t", "T", "TRUE", "true", "True" };
	static const char *const no[] = { "0", "f", "F", "FALSE", "false", "False" };

	for (size_t i = 0; i < sizeof yes / sizeof *yes; i++) {
		if (!strcmp(s, yes[i]))
			return 1;
		if (!strcmp(s, no[i]))
			return 0;
	}
	return -1;
}

static int set_go_flag(struct agent_config *cfg, enum go_flag flag, const char *value)
{
	enum tristate on = value && value[0] == '1' ? TRI_ON : TRI_OFF;

	switch (flag) {
	case GO_DEBUG: cfg->debug = on == TRI_ON; break;
	case GO_KUBECONFIG: cfg->kubeconfig = value; break;
	case GO_IPTABLES: cfg->iptables = on; break;
	case GO_KUBERNETES: cfg->kubernetes = on; break;
	case GO_DOCKER: cfg->docker = on; break;
	case GO_CONTAINERD: cfg->containerd = on; break;
	case GO_CONTAINERD_SOCK: cfg->containerd_socket = value; break;
	case GO_VTUNNEL_ADDR:
		/* The reference rejects an empty address only in privileged
		 * mode, so keep "" until agent_config_check. */
		if (!*value) {
			cfg->vtunnel_addr = "";
			break;
		}
		return agent_config_set_vtunnel_addr(cfg, value);
	case GO_PRIVILEGED_SERVICE: cfg->privileged = on; break;
	case GO_K8S_SERVICE_LISTENER_ADDR: cfg->k8s_listen_addr = value; break;
	case GO_ADMIN_INSTALL: cfg->admin_install = on == TRI_ON; break;
	case GO_K8S_API_PORT: cfg->k8s_api_port = value; break;
	case GO_TAP_INTERFACE_IP: break;
	}
	return 0;
}

int agent_parse_go_flags(struct agent_config *cfg, int argc, char **argv, char *err, size_t err_size)
{
	/* Defaults of the reference agent that differ from the native ones:
	 * iptables scanning is on unless -iptables=false. */
	cfg->go_style = 1;
	cfg->iptables = TRI_ON;
	cfg->privileged = TRI_OFF;
	cfg->kubeconfig = AGENT_DEFAULT_KUBECONFIG;
	cfg->k8s_listen_addr = "0.0.0.0";
	cfg->k8s_api_port = "6443";
	agent_config_set_vtunnel_addr(cfg, "127.0.0.1:3040");

	for (int i = 1; i < argc; i++) {
		const char *arg = argv[i], *name, *eq, *value = NULL;
		size_t name_len;
		unsigned f;

		if (!strcmp(arg, "--"))
			return i + 1 < argc ? fail(err, err_size, "unexpected argument '%s'", argv[i + 1]) : 0;
		if (arg[0] != '-' || arg[1] == 0)
			return fail(err, err_size, "unexpected argument '%s'", arg);
		name = arg + 1 + (arg[1] == '-');
		if (!*name || *name == '-' || *name == '=')
			return fail(err, err_size, "bad flag syntax: %s", arg);
		eq = strchr(name, '=');
		name_len = eq ? (size_t)(eq - name) : strlen(name);
		if (eq)
			value = eq + 1;
		for (f = 0; f < GO_FLAG_COUNT; f++)
			if (strlen(go_flags[f].name) == name_len && !strncmp(go_flags[f].name, name, name_len))
				break;
		if (f == GO_FLAG_COUNT) {
			if ((name_len == 1 && name[0] == 'h') || (name_len == 4 && !strncmp(name, "help", 4)))
				return 1;
			return fail(err, err_size, "flag provided but not defined: -%.*s", (int)name_len, name);
		}
		if (go_flags[f].is_bool) {
			int b = value ? parse_go_bool(value) : 1;

			if (b < 0)
				return fail(err, err_size, "invalid boolean value \"%s\" for -%s", value,
					    go_flags[f].name);
			value = b ? "1" : "0";
		} else if (!value) {
			if (i + 1 >= argc)
				return fail(err, err_size, "flag needs an argument: -%s", go_flags[f].name);
			value = argv[++i];
		}
		if (set_go_flag(cfg, (enum go_flag)f, value) < 0)
			return fail(err, err_size, "invalid value \"%s\" for flag -%s", value, go_flags[f].name);
	}
	return 0;
}

static int is_on(enum tristate t) { return t == TRI_ON; }

static int valid_port(const char *s)
{
	unsigned long v = 0;

	if (!*s || *s == '0' || strlen(s) > 5)
		return 0;
	for (const char *p = s; *p; p++) {
		if (*p < '0' || *p > '9')
			return 0;
		v = v * 10 + (unsigned long)(*p - '0');
	}
	return v >= 1 && v <= 65535;
}

/* A socket path the children accept: absolute, and short enough for
 * sockaddr_un's sun_path (108 bytes on Linux, NUL included). */
static int check_socket_path(const char *path, const char *option, char *err, size_t err_size)
{
	if (!path)
		return 0;
	if (path[0] != '/')
		return fail(err, err_size, "invalid value '%s' for %s: expected an absolute path", path, option);
	if (strlen(path) > 107)
		return fail(err, err_size, "invalid value for %s: the path is %zu bytes, longer than a unix socket path may be (107)",
			    option, strlen(path));
	return 0;
}

int agent_config_check(const struct agent_config *cfg, char *err, size_t err_size)
{
	int privileged = is_on(cfg->privileged);
	/* In the reference, -iptables is on by default in every mode. */
	int iptables = cfg->go_style ? is_on(cfg->iptables) : cfg->iptables != TRI_OFF;

	if (is_on(cfg->docker) && is_on(cfg->containerd))
		return fail(err, err_size, cfg->go_style ?
			    "requires either -docker or -containerd but not both" :
			    "--docker and --containerd are mutually exclusive; choose the engine that publishes the ports");
	if (cfg->go_style && !is_on(cfg->docker) && !is_on(cfg->containerd) && !iptables)
		return fail(err, err_size, "requires either -docker, -containerd or -iptables enabled");
	if (privileged && cfg->vtunnel_addr && !*cfg->vtunnel_addr)
		return fail(err, err_size, "-vtunnelAddr must be provided when -privilegedService is enabled");
	if (is_on(cfg->vtunnel_peer) && !privileged)
		return fail(err, err_size, "--vtunnel-peer needs --privileged-service: only privileged mode sends to the vtunnel");
	if ((cfg->vtunnel_upstream || cfg->vtunnel_handshake) && !is_on(cfg->vtunnel_peer))
		return fail(err, err_size, "--vtunnel-upstream and --vtunnel-handshake configure vtunnel-peer; add --vtunnel-peer");
	if (cfg->k8s_listen_addr && (!cfg->go_style || is_on(cfg->kubernetes)) &&
	    strcmp(cfg->k8s_listen_addr, "0.0.0.0") && strcmp(cfg->k8s_listen_addr, "127.0.0.1"))
		return fail(err, err_size, "invalid Kubernetes service listener address '%s'; valid options are 0.0.0.0 and 127.0.0.1",
			    cfg->k8s_listen_addr);
	if (cfg->k8s_api_port && !valid_port(cfg->k8s_api_port))
		return fail(err, err_size, "invalid value '%s' for -k8sAPIPort: expected a port number from 1 to 65535",
			    cfg->k8s_api_port);
	if (check_socket_path(cfg->docker_socket, cfg->go_style ? "docker socket" : "--docker-socket",
			      err, err_size) < 0 ||
	    check_socket_path(cfg->containerd_socket, cfg->go_style ? "-containerdSock" : "--containerd-socket",
			      err, err_size) < 0)
		return -1;
	if (cfg->kubeconfig && !*cfg->kubeconfig)
		return fail(err, err_size, "empty value for %s: give the path of a kubeconfig file",
			    cfg->go_style ? "-kubeconfig" : "--kubeconfig");
	if (!cfg->go_style && agent_config_has_mode(cfg) && !is_on(cfg->docker) &&
	    !is_on(cfg->containerd) && !is_on(cfg->kubernetes) &&
	    !(privileged ? is_on(cfg->iptables) : iptables))
		return fail(err, err_size, "no source selected: give --docker, --containerd, --kubernetes or --iptables");
	return 0;
}

/* Appends arguments to a child's argv; the list ends with NULL. */
static void add_args(struct plan_child *c, ...)
{
	unsigned n = 0;
	va_list ap;
	const char *s;

	while (c->argv[n])
		n++;
	va_start(ap, c);
	while ((s = va_arg(ap, const char *)) && n + 1 < PLAN_MAX_ARGS)
		c->argv[n++] = s;
	va_end(ap);
	c->argv[n] = NULL;
}

static struct plan_child *add_child(struct plan *plan, const char *applet, enum plan_role role,
				    const struct agent_config *cfg)
{
	struct plan_child *c = &plan->child[plan->count++];

	memset(c, 0, sizeof *c);
	c->applet = applet;
	c->role = role;
	c->argv[0] = applet;
	if (cfg->debug)
		add_args(c, "--debug", NULL);
	else if (cfg->quiet)
		add_args(c, "--quiet", NULL);
	return c;
}

int plan_build(const struct agent_config *cfg, const struct agent_detect *detect,
	       struct plan *plan, char *err, size_t err_size)
{
	int privileged = is_on(cfg->privileged);
	int docker, containerd, kubernetes, iptables;
	const char *docker_socket = cfg->docker_socket, *containerd_socket = cfg->containerd_socket;
	const char *kubeconfig = cfg->kubeconfig;
	const char *vtunnel_addr = cfg->vtunnel_addr && *cfg->vtunnel_addr ? cfg->vtunnel_addr
									   : AGENT_DEFAULT_VTUNNEL_ADDR;
	struct plan_child *c;

	memset(plan, 0, sizeof *plan);
	plan->privileged = privileged;
	if (detect) {
		docker = detect->docker_socket != NULL;
		containerd = detect->containerd_socket != NULL;
		kubernetes = detect->kubeconfig != NULL;
		/* CNI port forwards come from nerdctl and k3s; scan the NAT
		 * table as soon as any engine is there. */
		iptables = docker || containerd || kubernetes;
		if (docker)
			docker_socket = detect->docker_socket;
		if (containerd)
			containerd_socket = detect->containerd_socket;
		if (kubernetes)
			kubeconfig = detect->kubeconfig;
	} else {
		docker = is_on(cfg->docker);
		containerd = is_on(cfg->containerd);
		kubernetes = is_on(cfg->kubernetes);
		iptables = privileged || cfg->go_style ? is_on(cfg->iptables) : cfg->iptables != TRI_OFF;
	}
	if (docker && containerd && !detect)
		return fail(err, err_size, "--docker and --containerd are mutually exclusive");

	if (docker) {
		c = add_child(plan, "docker-watch", PLAN_SOURCE, cfg);
		if (docker_socket) {
			int n = snprintf(c->arg_buf, sizeof c->arg_buf, "unix://%s", docker_socket);

			if (n < 0 || (size_t)n >= sizeof c->arg_buf)
				return fail(err, err_size, "Docker socket path too long: '%s'", docker_socket);
			add_args(c, "--host", c->arg_buf, NULL);
		}
	}
	if (containerd) {
		c = add_child(plan, "ctr-watch", PLAN_SOURCE, cfg);
		if (containerd_socket)
			add_args(c, "--address", containerd_socket, NULL);
	}
	if (iptables)
		add_child(plan, "ipt-scan", PLAN_SOURCE, cfg);
	if (kubernetes) {
		c = add_child(plan, "nodeport-watch", PLAN_SOURCE, cfg);
		if (kubeconfig)
			add_args(c, "--kubeconfig", kubeconfig, NULL);
		if (cfg->k8s_listen_addr)
			add_args(c, "--listen-addr", cfg->k8s_listen_addr, NULL);
	}
	if (!plan->count)
		return detect ? 0 : fail(err, err_size, "no source selected");

	if (privileged) {
		c = add_child(plan, "vtunnel-send", PLAN_SINK, cfg);
		add_args(c, "--to", vtunnel_addr, NULL);
		if (is_on(cfg->vtunnel_peer)) {
			c = add_child(plan, "vtunnel-peer", PLAN_RELAY, cfg);
			add_args(c, "--listen", vtunnel_addr, NULL);
			if (cfg->vtunnel_upstream)
				add_args(c, "--to", cfg->vtunnel_upstream, NULL);
			if (cfg->vtunnel_handshake)
				add_args(c, "--handshake", cfg->vtunnel_handshake, NULL);
		}
	} else {
		add_child(plan, "listen-hold", PLAN_SINK, cfg);
	}
	return 0;
}

void plan_child_copy(struct plan_child *dst, const struct plan_child *src)
{
	*dst = *src;
	for (unsigned i = 0; i < PLAN_MAX_ARGS && src->argv[i]; i++)
		if (src->argv[i] >= src->arg_buf && src->argv[i] < src->arg_buf + sizeof src->arg_buf)
			dst->argv[i] = dst->arg_buf + (src->argv[i] - src->arg_buf);
}

const struct plan_child *plan_find(const struct plan *plan, const char *applet)
{
	for (unsigned i = 0; i < plan->count; i++)
		if (!strcmp(plan->child[i].applet, applet))
			return &plan->child[i];
	return NULL;
}

static size_t append(char *dst, size_t size, size_t n, const char *s)
{
	int r;

	if (n >= size)
		return n;
	r = snprintf(dst + n, size - n, "%s", s);
	return r < 0 ? n : n + (size_t)r;
}

static size_t append_argv(char *dst, size_t size, size_t n, const struct plan_child *c)
{
	for (unsigned i = 0; c->argv[i]; i++) {
		if (i)
			n = append(dst, size, n, " ");
		n = append(dst, size, n, c->argv[i]);
	}
	return n;
}

char *plan_describe(const struct plan *plan, char *dst, size_t size)
{
	size_t n = 0;
	int first = 1;

	if (!size)
		return dst;
	dst[0] = 0;
	if (!plan->count)
		return dst;
	for (unsigned i = 0; i < plan->count; i++) {
		if (plan->child[i].role != PLAN_SOURCE)
			continue;
		if (!first)
			n = append(dst, size, n, " + ");
		first = 0;
		n = append_argv(dst, size, n, &plan->child[i]);
	}
	for (unsigned i = 0; i < plan->count; i++) {
		if (plan->child[i].role == PLAN_SINK) {
			n = append(dst, size, n, " | ");
			n = append_argv(dst, size, n, &plan->child[i]);
		}
	}
	for (unsigned i = 0; i < plan->count; i++) {
		if (plan->child[i].role == PLAN_RELAY) {
			n = append(dst, size, n, "; ");
			n = append_argv(dst, size, n, &plan->child[i]);
		}
	}
	return dst;
}
