#!/usr/bin/env bats
# The agent's command lines, the drop-in form, auto-detection with a
# containerd that starts after the agent, and the shutdown order with
# vtunnel-peer.  Each agent runs in a private network namespace.

load helpers/agent
load helpers/containerd

setup_file() {
	export NS=rdtest-agent-$BATS_ROOT_PID
	agent_netns_create "$NS"
}

teardown_file() {
	agent_netns_delete "$NS"
}

setup() {
	AGENT_PID=
	RECEIVER_PID=
	CONTAINERD_DIR=
	unset RDAGENT_AGENT_BACKOFF
}

teardown() {
	agent_test_teardown
	containerd_stop "rdagent-$BATS_ROOT_PID"
}

# Prints the pipeline the agent logged, without timestamp and prefix.
pipeline_of() {
	sed -n 's/.*agent: info: pipeline: //p' "$1" | head -1
}

# Prints the applet names of the agent's children, sorted.
children_of() {
	ps -o comm= --ppid "$1" | sort | tr '\n' ' '
}

@test "agent: option combinations are usage errors" {
	run "$RDAGENT" agent --docker --containerd
	[ "$status" -eq 2 ]
	[[ "$output" == *"--docker and --containerd are mutually exclusive"* ]]

	run "$RDAGENT" agent --docker --vtunnel-peer
	[ "$status" -eq 2 ]
	[[ "$output" == *"--vtunnel-peer needs --privileged-service"* ]]

	run "$RDAGENT" agent --privileged-service
	[ "$status" -eq 2 ]
	[[ "$output" == *"no source selected"* ]]

	run "$RDAGENT" agent --kubernetes --k8s-listen-addr 10.0.0.1
	[ "$status" -eq 2 ]
	[[ "$output" == *"valid options are 0.0.0.0 and 127.0.0.1"* ]]

	run "$RDAGENT" agent --iptables=maybe
	[ "$status" -eq 2 ]
	[[ "$output" == *"invalid value 'maybe' for --iptables"* ]]

	run "$RDAGENT" agent --docker extra
	[ "$status" -eq 2 ]
	[[ "$output" == *"unexpected argument 'extra'"* ]]
}

# Values a child would reject are the agent's usage errors, not a child
# that exits 2 on every restart.
@test "agent: addresses and paths are checked at start" {
	run "$RDAGENT" agent --privileged-service --docker --vtunnel-addr bogus
	[ "$status" -eq 2 ]
	[[ "$output" == *"invalid value 'bogus' for --vtunnel-addr"* ]]

	run "$RDAGENT" agent --privileged-service --docker --vtunnel-peer \
		--vtunnel-upstream tcp:1.2.3:4
	[ "$status" -eq 2 ]
	[[ "$output" == *"invalid value 'tcp:1.2.3:4' for --vtunnel-upstream"* ]]

	run "$RDAGENT" agent --docker --docker-socket relative.sock
	[ "$status" -eq 2 ]
	[[ "$output" == *"invalid value 'relative.sock' for --docker-socket: expected an absolute path"* ]]

	run "$RDAGENT" agent --containerd --containerd-socket ''
	[ "$status" -eq 2 ]
	[[ "$output" == *"for --containerd-socket: expected an absolute path"* ]]

	run "$RDAGENT" agent --docker --docker-socket "/tmp/$(printf '%0200d' 0)"
	[ "$status" -eq 2 ]
	[[ "$output" == *"longer than a unix socket path may be"* ]]

	run "$RDAGENT" agent --kubernetes --kubeconfig ''
	[ "$status" -eq 2 ]
	[[ "$output" == *"empty value for --kubeconfig"* ]]
}

@test "agent: drop-in form rejects bad flags" {
	ln -s "$(readlink -f "$RDAGENT")" "$BATS_TEST_TMPDIR/rancher-desktop-guestagent"
	run "$BATS_TEST_TMPDIR/rancher-desktop-guestagent" -dockr=true
	[ "$status" -eq 2 ]
	[[ "$output" == *"flag provided but not defined: -dockr"* ]]

	run "$BATS_TEST_TMPDIR/rancher-desktop-guestagent" -docker=true -containerd=true
	[ "$status" -eq 2 ]
	[[ "$output" == *"requires either -docker or -containerd but not both"* ]]

	run "$BATS_TEST_TMPDIR/rancher-desktop-guestagent" -iptables=false
	[ "$status" -eq 2 ]
	[[ "$output" == *"requires either -docker, -containerd or -iptables enabled"* ]]

	run "$BATS_TEST_TMPDIR/rancher-desktop-guestagent" -help
	[ "$status" -eq 0 ]
	[[ "$output" == *"-privilegedService"* ]]
}

@test "agent: drop-in form rejects non-root" {
	ln -s "$(readlink -f "$RDAGENT")" "$BATS_TEST_TMPDIR/rancher-desktop-guestagent"
	chmod 755 "$BATS_TEST_TMPDIR"
	run setpriv --reuid=65534 --regid=65534 --clear-groups \
		"$BATS_TEST_TMPDIR/rancher-desktop-guestagent" -kubernetes=true -iptables=true
	[ "$status" -eq 1 ]
	[[ "$output" == *"agent: error: agent must run as root"* ]]
}

# Rancher Desktop's OpenRC script passes -flag=value words; the same
# pipeline must come out as from the native options.
@test "agent: drop-in flags start the native pipeline" {
	local port go_log native_log go_children native_children
	require_applet nodeport-watch
	port=$(free_port "$NS")
	ln -s "$(readlink -f "$RDAGENT")" "$BATS_TEST_TMPDIR/rancher-desktop-guestagent"
	go_log=$BATS_TEST_TMPDIR/go.log
	native_log=$BATS_TEST_TMPDIR/native.log

	# Privileged mode, moby, current Kubernetes.
	ip netns exec "$NS" "$BATS_TEST_TMPDIR/rancher-desktop-guestagent" \
		-adminInstall=true -kubernetes=true -iptables=false -privilegedService=true \
		-docker=true -containerd=false -k8sServiceListenerAddr=127.0.0.1 -debug \
		-vtunnelAddr "127.0.0.1:$port" -k8sAPIPort 6443 \
		-kubeconfig "$BATS_TEST_TMPDIR/k3s.yaml" >"$go_log" 2>&1 3>&- &
	AGENT_PID=$!
	wait_until grep -q "started source nodeport-watch" "$go_log"
	wait_until child_count_is 3
	go_children=$(children_of "$AGENT_PID")
	agent_stop
	[ "$AGENT_STATUS" -eq 0 ]

	AGENT_LOG=$native_log agent_start "$NS" --privileged-service --docker --kubernetes \
		--iptables=false --k8s-listen-addr 127.0.0.1 --debug \
		--vtunnel-addr "127.0.0.1:$port" --kubeconfig "$BATS_TEST_TMPDIR/k3s.yaml"
	wait_until grep -q "started source nodeport-watch" "$native_log"
	wait_until child_count_is 3
	native_children=$(children_of "$AGENT_PID")
	agent_stop
	[ "$AGENT_STATUS" -eq 0 ]

	echo "go: $(pipeline_of "$go_log")"
	echo "native: $(pipeline_of "$native_log")"
	[ "$(pipeline_of "$go_log")" = "$(pipeline_of "$native_log")" ]
	[ "$(pipeline_of "$go_log")" = "docker-watch --debug + nodeport-watch --debug --kubeconfig $BATS_TEST_TMPDIR/k3s.yaml --listen-addr 127.0.0.1 | vtunnel-send --debug --to tcp:127.0.0.1:$port" ]
	[ "$go_children" = "$native_children" ]
	[ "$go_children" = "docker-watch nodeport-watch vtunnel-send " ]
}

@test "agent: drop-in listener mode matches --iptables" {
	local go_log=$BATS_TEST_TMPDIR/go.log native_log=$BATS_TEST_TMPDIR/native.log
	ln -s "$(readlink -f "$RDAGENT")" "$BATS_TEST_TMPDIR/rancher-desktop-guestagent"

	ip netns exec "$NS" "$BATS_TEST_TMPDIR/rancher-desktop-guestagent" \
		-kubernetes=false -privilegedService=false -iptables=true >"$go_log" 2>&1 3>&- &
	AGENT_PID=$!
	wait_until grep -q "started source ipt-scan" "$go_log"
	agent_stop
	[ "$AGENT_STATUS" -eq 0 ]

	AGENT_LOG=$native_log agent_start "$NS" --iptables
	wait_until grep -q "started source ipt-scan" "$native_log"
	agent_stop
	[ "$AGENT_STATUS" -eq 0 ]

	[ "$(pipeline_of "$go_log")" = "ipt-scan | listen-hold" ]
	[ "$(pipeline_of "$native_log")" = "ipt-scan | listen-hold" ]
}

# No mode option: the agent finds nothing, waits on inotify, and builds
# the pipeline when a real containerd creates its socket (in a directory
# that did not exist when the agent started).
@test "agent: detects a containerd that starts later" {
	local dir=/tmp/rdtest-agent-detect-$BATS_ROOT_PID cns=rdagent-$BATS_ROOT_PID port
	port=$(free_port "$NS")
	agent_start "$NS" --containerd-socket "$dir/containerd.sock" \
		--docker-socket "$BATS_TEST_TMPDIR/docker.sock" \
		--kubeconfig "$BATS_TEST_TMPDIR/k3s.yaml"
	wait_until log_has "nothing found yet; waiting for any of"
	[ -z "$(ps -o pid= --ppid "$AGENT_PID")" ]

	containerd_start "$dir"
	wait_until log_has "detected $dir/containerd.sock"
	wait_until child_pid ctr-watch
	wait_until child_pid listen-hold
	wait_until child_pid ipt-scan
	log_has "pipeline: ctr-watch --address $dir/containerd.sock + ipt-scan | listen-hold"

	# The detected pipeline works: a published port becomes a listener.
	containerd_image_import "$cns"
	containerd_run "$cns" "web-detect-$BATS_ROOT_PID" \
		--label "nerdctl/ports=[{\"HostPort\":$port,\"ContainerPort\":80,\"Protocol\":\"tcp\",\"HostIP\":\"127.0.0.1\"}]"
	wait_until listening 127.0.0.1 "$port"

	agent_stop
	[ "$AGENT_STATUS" -eq 0 ]
	not_listening 127.0.0.1 "$port"
}

@test "agent: SIGUSR1 logs every child's state" {
	agent_start "$NS" --iptables
	wait_until child_pid ipt-scan
	wait_until child_pid listen-hold
	kill -USR1 "$AGENT_PID"
	wait_until log_has "agent: info: state: source ipt-scan pid"
	wait_until log_has "agent: info: state: sink listen-hold pid"
	wait_until log_has "listen-hold: info: 0 sockets for 0 bindings"
	wait_until log_has "ipt-scan: info: state: 0 bindings emitted"
	not log_has "does not handle SIGUSR1"
	sleep 0.5
	not log_has "killed by signal"
	agent_stop
	[ "$AGENT_STATUS" -eq 0 ]
}

# PR_SET_PDEATHSIG: the children get SIGTERM when the agent dies, so
# listen-hold still closes its listeners.
@test "agent: SIGKILL of the agent stops every child" {
	local kids port
	port=$(free_port "$NS")
	agent_start "$NS" --iptables
	wait_until child_pid ipt-scan
	wait_until child_pid listen-hold
	add_dnat CNI-DN-agentkill "$port"
	wait_until listening 0.0.0.0 "$port"
	kids=$(pgrep -P "$AGENT_PID")
	kill -KILL "$AGENT_PID"
	wait "$AGENT_PID" || true
	AGENT_PID=
	for pid in $kids; do
		wait_until process_gone "$pid"
	done
	not_listening 0.0.0.0 "$port"
	del_dnat CNI-DN-agentkill "$port"
}

# Rancher Desktop turns -iptables on next to -privilegedService for
# Kubernetes versions without the Service watcher: NAT table forwards go
# over the vtunnel then.
@test "agent: privileged mode with the NAT table as source" {
	local rport port
	rport=$(free_port "$NS")
	port=$(free_port "$NS")
	receiver_start "$NS" "$rport"
	ln -s "$(readlink -f "$RDAGENT")" "$BATS_TEST_TMPDIR/rancher-desktop-guestagent"
	AGENT_LOG=$BATS_TEST_TMPDIR/agent.log
	ip netns exec "$NS" "$BATS_TEST_TMPDIR/rancher-desktop-guestagent" \
		-kubernetes=false -iptables=true -privilegedService=true -vtunnelAddr "127.0.0.1:$rport" \
		>"$AGENT_LOG" 2>&1 3>&- &
	AGENT_PID=$!
	wait_until child_pid ipt-scan
	wait_until child_pid vtunnel-send
	log_has "pipeline: ipt-scan | vtunnel-send --to tcp:127.0.0.1:$rport"

	add_dnat CNI-DN-agentpriv "$port"
	wait_until receiver_has 1
	[ "$(sed -n 1p "$RECEIVER_FILE")" = "{\"connectAddrs\":[{\"addr\":\"10.231.0.2/24\",\"network\":\"ip+net\"}],\"ports\":{\"80/tcp\":[{\"HostIp\":\"0.0.0.0\",\"HostPort\":\"$port\"}]},\"remove\":false}" ]

	agent_stop
	[ "$AGENT_STATUS" -eq 0 ]
	[ "$(receiver_count)" -eq 2 ]
	[ "$(sed -n 2p "$RECEIVER_FILE")" = "{\"connectAddrs\":[{\"addr\":\"10.231.0.2/24\",\"network\":\"ip+net\"}],\"ports\":{\"80/tcp\":[{\"HostIp\":\"0.0.0.0\",\"HostPort\":\"$port\"}]},\"remove\":true}" ]
}

# Prints the restart delays the agent logged for APPLET, one line.
delays_of() {
	sed -n "s/.*agent: info: restarting $1 in \([0-9.]*\) s/\1/p" "$AGENT_LOG" | tr '\n' ' '
}

# The delay doubles from MIN_MS up to MAX_MS while the child keeps
# failing, and starts again from MIN_MS once it ran HEALTHY_MS.
@test "agent: restart delays double, cap and reset" {
	local old i
	export RDAGENT_AGENT_BACKOFF=100:400:3000
	agent_start "$NS" --iptables
	wait_until child_pid listen-hold
	for i in 1 2 3 4; do
		wait_until child_pid ipt-scan
		old=$(child_pid ipt-scan)
		kill -KILL "$old"
		wait_until child_restarted ipt-scan "$old"
	done
	[ "$(delays_of ipt-scan)" = "0.100 0.200 0.400 0.400 " ]
	wait_until log_has "ipt-scan (pid $old) killed by signal 9 (Killed) after 0\."

	# Healthy for longer than 3 s: the next failure waits 0.1 s again.
	old=$(child_pid ipt-scan)
	sleep 3.5
	kill -KILL "$old"
	wait_until child_restarted ipt-scan "$old"
	wait_until log_has "ipt-scan (pid $old) killed by signal 9 (Killed) after [3-9]\."
	[ "$(delays_of ipt-scan)" = "0.100 0.200 0.400 0.400 0.100 " ]
	agent_stop
	[ "$AGENT_STATUS" -eq 0 ]
}

@test "agent: SIGINT stops like SIGTERM" {
	local port
	port=$(free_port "$NS")
	agent_start "$NS" --iptables
	wait_until child_pid ipt-scan
	wait_until child_pid listen-hold
	add_dnat CNI-DN-agentint "$port"
	wait_until listening 0.0.0.0 "$port"
	kill -INT "$AGENT_PID"
	AGENT_STATUS=0
	wait "$AGENT_PID" || AGENT_STATUS=$?
	AGENT_PID=
	[ "$AGENT_STATUS" -eq 0 ]
	not_listening 0.0.0.0 "$port"
	log_has "agent: info: received Interrupt"
	log_has "agent: info: all children stopped; exiting"
}

# A sink that cannot stop (here: stopped by SIGSTOP) is killed so that
# the agent still exits 0 within its 3 s.
@test "agent: SIGTERM kills a child that does not stop" {
	local sink start
	agent_start "$NS" --iptables
	wait_until child_pid ipt-scan
	sink=$(wait_until child_pid listen-hold)
	kill -STOP "$sink"
	start=$(date +%s%N)
	agent_stop
	[ "$AGENT_STATUS" -eq 0 ]
	echo "stopped after $(( ($(date +%s%N) - start) / 1000000 )) ms"
	log_has "agent: warn: listen-hold (pid $sink) did not stop in time; killing it"
	log_has "listen-hold (pid $sink) killed by signal 9"
	process_gone "$sink"
	# Only a hang fails this; the agent bounds itself at 3 s.
	[ $(( ($(date +%s%N) - start) / 1000000000 )) -lt 10 ]
}

# "rdagent" alone is the agent with auto-detection.  A private /run hides
# any containerd of the machine; DOCKER_HOST and KUBECONFIG name paths
# that do not exist.
@test "agent: rdagent with no arguments detects and waits" {
	local dir=$BATS_TEST_TMPDIR
	AGENT_LOG=$dir/agent.log
	DOCKER_HOST=unix://$dir/docker.sock KUBECONFIG=$dir/k3s.yaml \
		unshare -m sh -c 'mount -t tmpfs rdtest-run /run && exec "$0"' "$(readlink -f "$RDAGENT")" \
		>"$AGENT_LOG" 2>&1 3>&- &
	AGENT_PID=$!
	wait_until log_has "nothing found yet; waiting for any of $dir/docker.sock, /run/k3s/containerd/containerd.sock, /run/containerd/containerd.sock, $dir/k3s.yaml"
	log_has "agent: info: auto-detection: looking for"
	[ -z "$(ps -o pid= --ppid "$AGENT_PID")" ]
	agent_stop
	[ "$AGENT_STATUS" -eq 0 ]
}

# The service files parse: systemd-analyze checks a copy of the unit that
# runs this build, and the OpenRC script is shell.
@test "agent: service files parse" {
	local root=$BATS_TEST_DIRNAME/../..
	sh -n "$root/contrib/openrc/rdagent"
	grep -qx 'command_args="agent ${RDAGENT_ARGS}"' "$root/contrib/openrc/rdagent"
	grep -qx 'supervisor=supervise-daemon' "$root/contrib/openrc/rdagent"
	command -v systemd-analyze >/dev/null || skip "no systemd-analyze"
	sed "s|/usr/local/bin/rdagent|$(readlink -f "$RDAGENT")|" "$root/contrib/systemd/rdagent.service" \
		> "$BATS_TEST_TMPDIR/rdagent-test-$BATS_ROOT_PID.service"
	run systemd-analyze verify "$BATS_TEST_TMPDIR/rdagent-test-$BATS_ROOT_PID.service"
	echo "$output"
	[ "$status" -eq 0 ]
	[ -z "$output" ]
}
