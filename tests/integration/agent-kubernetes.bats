#!/usr/bin/env bats
# The agent with nodeport-watch: the test Kubernetes API server (real TLS,
# helpers/kube_apiserver.py) and the agent run in a private network
# namespace; NodePort and LoadBalancer ports become listen-hold listeners.

load helpers/agent
load helpers/nodeport-watch

setup_file() {
	export NS=rdtest-agent-k8s-$BATS_ROOT_PID
	agent_netns_create "$NS"
	export NPW_DIR
	NPW_DIR=$(mktemp -d /tmp/rdtest-agent-k8s.XXXXXX)
	export PKI=$NPW_DIR/pki
	npw_make_pki
}

teardown_file() {
	agent_netns_delete "$NS"
	rm -rf "$NPW_DIR"
}

setup() {
	AGENT_PID=
	unset RDAGENT_AGENT_BACKOFF
	PORT=$(free_port "$NS")
	CTL=$(free_port "$NS")
	while [ "$CTL" = "$PORT" ]; do CTL=$(free_port "$NS"); done
	KUBECONFIG_FILE=$BATS_TEST_TMPDIR/k3s.yaml
	npw_kubeconfig "$KUBECONFIG_FILE" "https://127.0.0.1:$PORT"
}

teardown() {
	agent_test_teardown
	for f in "$NPW_DIR"/*.pid; do npw_stop_pidfile "$f"; done
	true
}

# The helpers reach the server on 127.0.0.1, so they run in $NS too.
in_ns() {
	ip netns exec "$NS" bash -c '. "$1"; shift; "$@"' _ "$BATS_TEST_DIRNAME/helpers/nodeport-watch.bash" "$@"
}

start_api() {
	in_ns npw_start_apiserver "api$BATS_TEST_NUMBER" "$PORT" "$CTL"
}

# The listeners for the fixture Services (tests/fixtures/nodeport-watch):
# three NodePorts of default/web, 30053 of edge-system/dns-np (its udp
# twin is not held) and the LoadBalancer ports 80 and 443 of traefik.
FIXTURE_PORTS="30080 30443 31850 30053 80 443"

all_listening() {
	local p
	for p in $FIXTURE_PORTS; do
		listening 0.0.0.0 "$p" || return 1
	done
}

none_listening() {
	local p
	for p in $FIXTURE_PORTS; do
		not_listening 0.0.0.0 "$p" || return 1
	done
}

@test "kubernetes: Services become listeners and survive kill -9" {
	local child old
	start_api
	agent_start "$NS" --kubernetes --iptables=false --kubeconfig "$KUBECONFIG_FILE"
	wait_until child_pid nodeport-watch
	wait_until child_pid listen-hold
	wait_until all_listening

	# A new NodePort Service after the start.
	printf '%s' '{"kind":"Service","apiVersion":"v1","metadata":{"name":"late","namespace":"default"},"spec":{"ports":[{"name":"http","protocol":"TCP","port":8080,"targetPort":8080,"nodePort":32080}],"type":"NodePort"},"status":{"loadBalancer":{}}}' \
		> "$BATS_TEST_TMPDIR/svc.json"
	in_ns npw_ctl "$CTL" POST /ctl/apply "$BATS_TEST_TMPDIR/svc.json" >/dev/null
	wait_until listening 0.0.0.0 32080

	for child in nodeport-watch listen-hold; do
		old=$(child_pid "$child")
		kill -KILL "$old"
		wait_until child_restarted "$child" "$old"
		wait_until all_listening
		wait_until listening 0.0.0.0 32080
	done
	# The restarted nodeport-watch resent its snapshot: nothing it still
	# lists was closed.
	not log_has "closed, its last owner is gone"

	in_ns npw_ctl "$CTL" POST "/ctl/delete?namespace=default&name=late" >/dev/null
	wait_until not_listening 0.0.0.0 32080

	agent_stop
	[ "$AGENT_STATUS" -eq 0 ]
	none_listening
}

# k3s writes its kubeconfig only once the server runs: the agent finds it
# by itself and adds nodeport-watch to the pipeline.
@test "kubernetes: detects the kubeconfig when k3s writes it" {
	local late=$BATS_TEST_TMPDIR/rancher/k3s/k3s.yaml
	start_api
	agent_start "$NS" --kubeconfig "$late" --docker-socket "$BATS_TEST_TMPDIR/none/docker.sock" \
		--containerd-socket "$BATS_TEST_TMPDIR/none/containerd.sock"
	wait_until log_has "nothing found yet"

	mkdir -p "$(dirname "$late")"
	cp "$KUBECONFIG_FILE" "$late"
	wait_until child_pid nodeport-watch
	log_has "pipeline: ipt-scan + nodeport-watch --kubeconfig $late | listen-hold"
	wait_until all_listening

	agent_stop
	[ "$AGENT_STATUS" -eq 0 ]
	none_listening
}
