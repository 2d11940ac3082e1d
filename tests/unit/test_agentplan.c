/* The agent's Go-style flag parser, option checks and pipeline plans. */
#include "unit.h"

#include <stdio.h>
#include <string.h>

#include "agentplan.h"

#define ARGC(v) ((int)(sizeof(v) / sizeof *(v)))

static char err[256];

static int go_parse(struct agent_config *cfg, int argc, char **argv)
{
	agent_config_init(cfg);
	err[0] = 0;
	return agent_parse_go_flags(cfg, argc, argv, err, sizeof err);
}

/* Asserts that argv fails to parse or check with a message containing word. */
static void assert_go_rejected(int argc, char **argv, const char *word)
{
	struct agent_config cfg;
	int r = go_parse(&cfg, argc, argv);

	if (r == 0)
		r = agent_config_check(&cfg, err, sizeof err);
	if (r != -1)
		fail_msg("accepted %s ... (returned %d)", argc > 1 ? argv[1] : "", r);
	if (!strstr(err, word))
		fail_msg("rejected with '%s', expected a message with '%s'", err, word);
}

static const char *describe(const struct agent_config *cfg, const struct agent_detect *detect)
{
	static char line[512];
	struct plan plan;

	if (plan_build(cfg, detect, &plan, err, sizeof err) < 0)
		fail_msg("plan_build failed: %s", err);
	return plan_describe(&plan, line, sizeof line);
}

/* The command line Rancher Desktop's OpenRC script builds in privileged
 * mode with the moby engine and a current Kubernetes. */
static void go_openrc_privileged(void **state)
{
	char *argv[] = { "rancher-desktop-guestagent", "-kubernetes=true", "-iptables=false",
			 "-privilegedService=true", "-docker=true", "-containerd=false", "-debug" };
	struct agent_config cfg;

	(void)state;
	assert_int_equal(go_parse(&cfg, ARGC(argv), argv), 0);
	assert_int_equal(agent_config_check(&cfg, err, sizeof err), 0);
	assert_int_equal(cfg.privileged, TRI_ON);
	assert_int_equal(cfg.docker, TRI_ON);
	assert_int_equal(cfg.containerd, TRI_OFF);
	assert_int_equal(cfg.iptables, TRI_OFF);
	assert_true(cfg.debug);
	assert_string_equal(cfg.vtunnel_addr, "tcp:127.0.0.1:3040");
	assert_string_equal(describe(&cfg, NULL),
			    "docker-watch --debug + nodeport-watch --debug --kubeconfig /etc/rancher/k3s/k3s.yaml"
			    " --listen-addr 0.0.0.0 | vtunnel-send --debug --to tcp:127.0.0.1:3040");
}

/* Non-admin install: listener mode with the default -iptables=true. */
static void go_openrc_listener(void **state)
{
	char *argv[] = { "rancher-desktop-guestagent", "-kubernetes=false", "-privilegedService=false",
			 "-iptables=true" };
	struct agent_config cfg;

	(void)state;
	assert_int_equal(go_parse(&cfg, ARGC(argv), argv), 0);
	assert_int_equal(agent_config_check(&cfg, err, sizeof err), 0);
	assert_string_equal(describe(&cfg, NULL), "ipt-scan | listen-hold");
}

/* Older Kubernetes with the Privileged Service: the NAT table feeds the
 * vtunnel too. */
static void go_privileged_with_iptables(void **state)
{
	char *argv[] = { "x", "-privilegedService", "-iptables", "-containerd", "-containerdSock",
			 "/run/c.sock" };
	struct agent_config cfg;

	(void)state;
	assert_int_equal(go_parse(&cfg, ARGC(argv), argv), 0);
	assert_int_equal(agent_config_check(&cfg, err, sizeof err), 0);
	assert_string_equal(describe(&cfg, NULL),
			    "ctr-watch --address /run/c.sock + ipt-scan | vtunnel-send --to tcp:127.0.0.1:3040");
}

static void go_value_forms(void **state)
{
	char *argv[] = { "x", "--vtunnelAddr", "127.0.0.1:4000", "-k8sServiceListenerAddr=127.0.0.1",
			 "--kubeconfig=/k.yaml", "-k8sAPIPort", "6444", "-adminInstall=true",
			 "--docker=T", "-kubernetes=1", "-tap-interface-ip", "192.168.127.2" };
	struct agent_config cfg;

	(void)state;
	assert_int_equal(go_parse(&cfg, ARGC(argv), argv), 0);
	assert_int_equal(agent_config_check(&cfg, err, sizeof err), 0);
	assert_string_equal(cfg.vtunnel_addr, "tcp:127.0.0.1:4000");
	assert_string_equal(cfg.k8s_listen_addr, "127.0.0.1");
	assert_string_equal(cfg.kubeconfig, "/k.yaml");
	assert_string_equal(cfg.k8s_api_port, "6444");
	assert_true(cfg.admin_install);
	assert_int_equal(cfg.docker, TRI_ON);
	assert_int_equal(cfg.kubernetes, TRI_ON);
}

static void go_bool_spellings(void **state)
{
	static const char *const on[] = { "1", "t", "T", "TRUE", "true", "True" };
	static const char *const off[] = { "0", "f", "F", "FALSE", "false", "False" };
	struct agent_config cfg;
	char arg[32];
	char *argv[] = { "x", arg };

	(void)state;
	for (unsigned i = 0; i < 6; i++) {
		snprintf(arg, sizeof arg, "-docker=%s", on[i]);
		assert_int_equal(go_parse(&cfg, 2, argv), 0);
		assert_int_equal(cfg.docker, TRI_ON);
		snprintf(arg, sizeof arg, "-docker=%s", off[i]);
		assert_int_equal(go_parse(&cfg, 2, argv), 0);
		assert_int_equal(cfg.docker, TRI_OFF);
	}
}

/* A bool flag never takes the next argument, as in Go's flag package, so
 * "-docker false" leaves "false" as an unexpected argument. */
static void go_bool_takes_no_separate_value(void **state)
{
	char *argv[] = { "x", "-docker", "false" };

	(void)state;
	assert_go_rejected(ARGC(argv), argv, "unexpected argument 'false'");
}

static void go_rejections(void **state)
{
	char *unknown[] = { "x", "-dockr" };
	char *missing[] = { "x", "-kubeconfig" };
	char *bad_bool[] = { "x", "-docker=yes" };
	char *three_dashes[] = { "x", "---docker" };
	char *both[] = { "x", "-docker", "-containerd" };
	char *none[] = { "x", "-iptables=false" };
	char *listen[] = { "x", "-kubernetes", "-k8sServiceListenerAddr=10.0.0.1" };
	char *empty_vtunnel[] = { "x", "-privilegedService", "-docker", "-vtunnelAddr=" };
	char *api_port[] = { "x", "-k8sAPIPort=http" };

	(void)state;
	assert_go_rejected(ARGC(unknown), unknown, "flag provided but not defined: -dockr");
	assert_go_rejected(ARGC(missing), missing, "flag needs an argument: -kubeconfig");
	assert_go_rejected(ARGC(bad_bool), bad_bool, "invalid boolean value \"yes\" for -docker");
	assert_go_rejected(ARGC(three_dashes), three_dashes, "bad flag syntax");
	assert_go_rejected(ARGC(both), both, "not both");
	assert_go_rejected(ARGC(none), none, "requires either -docker, -containerd or -iptables");
	assert_go_rejected(ARGC(listen), listen, "valid options are 0.0.0.0 and 127.0.0.1");
	assert_go_rejected(ARGC(empty_vtunnel), empty_vtunnel, "-vtunnelAddr must be provided");
	assert_go_rejected(ARGC(api_port), api_port, "-k8sAPIPort");
}

/* The listener address is checked only with -kubernetes, as the
 * reference agent does. */
static void go_listen_addr_unchecked_without_kubernetes(void **state)
{
	char *argv[] = { "x", "-k8sServiceListenerAddr=10.0.0.1" };
	struct agent_config cfg;

	(void)state;
	assert_int_equal(go_parse(&cfg, ARGC(argv), argv), 0);
	assert_int_equal(agent_config_check(&cfg, err, sizeof err), 0);
}

static void go_help(void **state)
{
	char *single[] = { "x", "-help" };
	char *double_dash[] = { "x", "--h" };
	struct agent_config cfg;

	(void)state;
	assert_int_equal(go_parse(&cfg, ARGC(single), single), 1);
	assert_int_equal(go_parse(&cfg, ARGC(double_dash), double_dash), 1);
}

static void native_config(struct agent_config *cfg)
{
	agent_config_init(cfg);
}

static void native_listener_default_iptables(void **state)
{
	struct agent_config cfg;

	(void)state;
	native_config(&cfg);
	cfg.kubernetes = TRI_ON;
	assert_int_equal(agent_config_check(&cfg, err, sizeof err), 0);
	assert_string_equal(describe(&cfg, NULL), "ipt-scan + nodeport-watch | listen-hold");
	cfg.iptables = TRI_OFF;
	assert_string_equal(describe(&cfg, NULL), "nodeport-watch | listen-hold");
}

static void native_privileged_with_peer(void **state)
{
	struct agent_config cfg;

	(void)state;
	native_config(&cfg);
	cfg.privileged = cfg.docker = cfg.vtunnel_peer = TRI_ON;
	cfg.docker_socket = "/tmp/d.sock";
	cfg.vtunnel_upstream = "tcp:127.0.0.1:17381";
	cfg.vtunnel_handshake = "unix:/tmp/hs.sock";
	assert_int_equal(agent_config_set_vtunnel_addr(&cfg, "unix:/tmp/vt.sock"), 0);
	assert_int_equal(agent_config_check(&cfg, err, sizeof err), 0);
	assert_string_equal(describe(&cfg, NULL),
			    "docker-watch --host unix:///tmp/d.sock | vtunnel-send --to unix:/tmp/vt.sock;"
			    " vtunnel-peer --listen unix:/tmp/vt.sock --to tcp:127.0.0.1:17381 --handshake unix:/tmp/hs.sock");
}

static void native_rejections(void **state)
{
	struct agent_config cfg;

	(void)state;
	native_config(&cfg);
	cfg.docker = cfg.containerd = TRI_ON;
	assert_int_equal(agent_config_check(&cfg, err, sizeof err), -1);
	assert_non_null(strstr(err, "mutually exclusive"));

	native_config(&cfg);
	cfg.vtunnel_peer = TRI_ON;
	cfg.docker = TRI_ON;
	assert_int_equal(agent_config_check(&cfg, err, sizeof err), -1);
	assert_non_null(strstr(err, "--privileged-service"));

	native_config(&cfg);
	cfg.privileged = TRI_ON;
	assert_int_equal(agent_config_check(&cfg, err, sizeof err), -1);
	assert_non_null(strstr(err, "no source selected"));

	native_config(&cfg);
	cfg.privileged = cfg.docker = TRI_ON;
	cfg.vtunnel_upstream = "tcp:127.0.0.1:1";
	assert_int_equal(agent_config_check(&cfg, err, sizeof err), -1);
	assert_non_null(strstr(err, "add --vtunnel-peer"));

	native_config(&cfg);
	cfg.iptables = TRI_OFF;
	assert_int_equal(agent_config_check(&cfg, err, sizeof err), -1);

	native_config(&cfg);
	cfg.kubernetes = TRI_ON;
	cfg.k8s_listen_addr = "::";
	assert_int_equal(agent_config_check(&cfg, err, sizeof err), -1);
}

static void native_auto_mode_has_no_mode(void **state)
{
	struct agent_config cfg;

	(void)state;
	native_config(&cfg);
	cfg.docker_socket = "/tmp/d.sock";
	cfg.kubeconfig = "/tmp/k.yaml";
	cfg.debug = 1;
	assert_false(agent_config_has_mode(&cfg));
	assert_int_equal(agent_config_check(&cfg, err, sizeof err), 0);
	cfg.iptables = TRI_ON;
	assert_true(agent_config_has_mode(&cfg));
}

static void vtunnel_addr_forms(void **state)
{
	struct agent_config cfg;
	char long_addr[400];

	(void)state;
	native_config(&cfg);
	assert_int_equal(agent_config_set_vtunnel_addr(&cfg, "127.0.0.1:3040"), 0);
	assert_string_equal(cfg.vtunnel_addr, "tcp:127.0.0.1:3040");
	assert_int_equal(agent_config_set_vtunnel_addr(&cfg, "tcp:[::1]:3040"), 0);
	assert_string_equal(cfg.vtunnel_addr, "tcp:[::1]:3040");
	assert_int_equal(agent_config_set_vtunnel_addr(&cfg, "vsock:1:17381"), 0);
	assert_string_equal(cfg.vtunnel_addr, "vsock:1:17381");
	assert_int_equal(agent_config_set_vtunnel_addr(&cfg, ""), -1);
	memset(long_addr, 'a', sizeof long_addr - 1);
	long_addr[sizeof long_addr - 1] = 0;
	assert_int_equal(agent_config_set_vtunnel_addr(&cfg, long_addr), -1);
}

static void detect_plans(void **state)
{
	struct agent_config cfg;
	struct agent_detect found = { 0 };
	struct plan plan;

	(void)state;
	native_config(&cfg);
	assert_int_equal(plan_build(&cfg, &found, &plan, err, sizeof err), 0);
	assert_int_equal(plan.count, 0);

	found.containerd_socket = "/run/k3s/containerd/containerd.sock";
	assert_string_equal(describe(&cfg, &found),
			    "ctr-watch --address /run/k3s/containerd/containerd.sock + ipt-scan | listen-hold");

	found.docker_socket = "/var/run/docker.sock";
	found.kubeconfig = "/etc/rancher/k3s/k3s.yaml";
	assert_string_equal(describe(&cfg, &found),
			    "docker-watch --host unix:///var/run/docker.sock + ctr-watch --address"
			    " /run/k3s/containerd/containerd.sock + ipt-scan + nodeport-watch --kubeconfig"
			    " /etc/rancher/k3s/k3s.yaml | listen-hold");
}

static void child_copy_rebases_argv(void **state)
{
	struct agent_config cfg;
	struct plan plan;
	struct plan_child copy;
	const struct plan_child *c;

	(void)state;
	native_config(&cfg);
	cfg.docker = TRI_ON;
	cfg.docker_socket = "/d.sock";
	assert_int_equal(plan_build(&cfg, NULL, &plan, err, sizeof err), 0);
	c = plan_find(&plan, "docker-watch");
	assert_non_null(c);
	assert_null(plan_find(&plan, "ctr-watch"));
	plan_child_copy(&copy, c);
	memset(&plan, 0, sizeof plan);
	assert_string_equal(copy.argv[0], "docker-watch");
	assert_string_equal(copy.argv[1], "--host");
	assert_string_equal(copy.argv[2], "unix:///d.sock");
	assert_ptr_equal(copy.argv[2], copy.arg_buf);
	assert_null(copy.argv[3]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(go_openrc_privileged),
		cmocka_unit_test(go_openrc_listener),
		cmocka_unit_test(go_privileged_with_iptables),
		cmocka_unit_test(go_value_forms),
		cmocka_unit_test(go_bool_spellings),
		cmocka_unit_test(go_bool_takes_no_separate_value),
		cmocka_unit_test(go_rejections),
		cmocka_unit_test(go_listen_addr_unchecked_without_kubernetes),
		cmocka_unit_test(go_help),
		cmocka_unit_test(native_listener_default_iptables),
		cmocka_unit_test(native_privileged_with_peer),
		cmocka_unit_test(native_rejections),
		cmocka_unit_test(native_auto_mode_has_no_mode),
		cmocka_unit_test(vtunnel_addr_forms),
		cmocka_unit_test(detect_plans),
		cmocka_unit_test(child_copy_rebases_argv),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
