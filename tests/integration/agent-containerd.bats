#!/usr/bin/env bats
# Listener mode end to end: a real containerd (private paths) with
# nerdctl-labelled containers, CNI-shaped DNAT rules in the agent's
# network namespace, and the agent running ctr-watch, ipt-scan and
# listen-hold there.

load helpers/agent
load helpers/containerd

setup_file() {
	export NS=rdtest-agent-ctr-$BATS_ROOT_PID
	agent_netns_create "$NS"
	# runc keeps its state per containerd namespace under /run/containerd,
	# shared with every containerd on the machine: keep ours unique.
	export CNS=rdagent-$BATS_ROOT_PID
	containerd_start "/tmp/rdtest-agent-ctr-$BATS_ROOT_PID"
	containerd_image_import "$CNS"
}

teardown_file() {
	containerd_stop "$CNS"
	agent_netns_delete "$NS"
}

setup() {
	AGENT_PID=
	unset RDAGENT_AGENT_BACKOFF
}

teardown() {
	agent_test_teardown
	containerd_clean_namespace "$CNS"
}

# Runs container NAME-$BATS_ROOT_PID labelled as nerdctl labels one that
# publishes 127.0.0.1:PORT -> 80/tcp.
run_labelled() {
	containerd_run "$CNS" "$1-$BATS_ROOT_PID" \
		--label "nerdctl/ports=[{\"HostPort\":$2,\"ContainerPort\":80,\"Protocol\":\"tcp\",\"HostIP\":\"127.0.0.1\"}]"
}

start_listener_mode() {
	agent_start "$NS" --containerd --containerd-socket "$CONTAINERD_ADDRESS"
	wait_until child_pid ctr-watch
	wait_until child_pid ipt-scan
	wait_until child_pid listen-hold
}

@test "listener: DNAT rules and labels become listeners" {
	local p1 p2
	p1=$(free_port "$NS")
	p2=$(free_port "$NS")
	start_listener_mode
	log_has "pipeline: ctr-watch --address $CONTAINERD_ADDRESS + ipt-scan | listen-hold"

	add_dnat CNI-DN-agenttest1 "$p1"
	wait_until listening 0.0.0.0 "$p1"
	run_labelled web1 "$p2"
	wait_until listening 127.0.0.1 "$p2"

	del_dnat CNI-DN-agenttest1 "$p1"
	wait_until not_listening 0.0.0.0 "$p1"
	ctrx -n "$CNS" tasks kill -s KILL "web1-$BATS_ROOT_PID" >/dev/null
	wait_until not_listening 127.0.0.1 "$p2"

	agent_stop
	[ "$AGENT_STATUS" -eq 0 ]
}

# kill -9 of each source: the listeners stay open the whole time and
# listen-hold closes nothing.  kill -9 of listen-hold: its sockets die
# with it, and the restarted one opens the same set from the agent's
# state.
@test "listener: kill -9 of each child keeps the listeners" {
	local p1 p2 child old closed
	p1=$(free_port "$NS")
	p2=$(free_port "$NS")
	start_listener_mode
	add_dnat CNI-DN-agenttest2 "$p1"
	run_labelled web2 "$p2"
	wait_until listening 0.0.0.0 "$p1"
	wait_until listening 127.0.0.1 "$p2"

	for child in ipt-scan ctr-watch; do
		old=$(child_pid "$child")
		kill -KILL "$old"
		wait_until child_restarted "$child" "$old"
		wait_until log_has "$child (pid $old) killed by signal 9"
	done
	# Both sources resent their snapshots; a change after them proves
	# they are done, and nothing was closed on the way.
	local p3
	p3=$(free_port "$NS")
	add_dnat CNI-DN-agenttest3 "$p3"
	wait_until listening 0.0.0.0 "$p3"
	not log_has "closed, its last owner is gone"
	listening 0.0.0.0 "$p1"
	listening 127.0.0.1 "$p2"

	old=$(child_pid listen-hold)
	kill -KILL "$old"
	wait_until child_restarted listen-hold "$old"
	wait_until log_has "replaying [0-9]* lines of current state into listen-hold"
	wait_until listening 0.0.0.0 "$p1"
	wait_until listening 127.0.0.1 "$p2"
	wait_until listening 0.0.0.0 "$p3"

	agent_stop
	[ "$AGENT_STATUS" -eq 0 ]
	not_listening 0.0.0.0 "$p1"
	not_listening 127.0.0.1 "$p2"
	not_listening 0.0.0.0 "$p3"
}

@test "listener: SIGTERM closes every listener" {
	local p1
	p1=$(free_port "$NS")
	start_listener_mode
	add_dnat CNI-DN-agenttest4 "$p1"
	wait_until listening 0.0.0.0 "$p1"

	agent_stop
	[ "$AGENT_STATUS" -eq 0 ]
	not_listening 0.0.0.0 "$p1"
	log_has "listen-hold: info: .*closed 1 sockets"
	log_has "agent: info: all children stopped; exiting"
}

@test "listener: 50 restarts leak no descriptor" {
	local p1 p2 fds_before fds_after old i child
	local children=(ipt-scan ctr-watch listen-hold)
	p1=$(free_port "$NS")
	p2=$(free_port "$NS")
	export RDAGENT_AGENT_BACKOFF=10:40
	start_listener_mode
	add_dnat CNI-DN-agenttest5 "$p1"
	run_labelled web5 "$p2"
	wait_until listening 0.0.0.0 "$p1"
	wait_until listening 127.0.0.1 "$p2"
	fds_before=$(fd_count "$AGENT_PID")

	for i in $(seq 0 49); do
		child=${children[i % 3]}
		old=$(child_pid "$child")
		kill -KILL "$old"
		wait_until child_restarted "$child" "$old"
	done
	for child in "${children[@]}"; do
		wait_until child_pid "$child"
	done
	fds_after=$(fd_count "$AGENT_PID")
	echo "descriptors: $fds_before before, $fds_after after"
	[ "$fds_after" -eq "$fds_before" ]
	[ "$(grep -c 'killed by signal 9' "$AGENT_LOG")" -eq 50 ]
	[ -z "$(ps -o stat= --ppid "$AGENT_PID" | grep Z || true)" ]
	wait_until listening 0.0.0.0 "$p1"
	wait_until listening 127.0.0.1 "$p2"

	agent_stop
	[ "$AGENT_STATUS" -eq 0 ]
	not_listening 0.0.0.0 "$p1"
}
