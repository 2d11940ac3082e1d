#!/usr/bin/env bats
# Privileged mode end to end: a real dockerd (private paths, its own
# network namespace), the agent with docker-watch and vtunnel-send in a
# second namespace, and a receiver that decodes messages like the
# Privileged Service.

load helpers/agent
load helpers/docker

setup_file() {
	export NS=rdtest-agent-dk-$BATS_ROOT_PID
	agent_netns_create "$NS"
	docker_start "agent-$BATS_ROOT_PID"
	docker_image
}

teardown_file() {
	docker_stop
	agent_netns_delete "$NS"
}

setup() {
	AGENT_PID=
	RECEIVER_PID=
	unset RDAGENT_AGENT_BACKOFF
	RPORT=$(free_port "$NS")
	receiver_start "$NS" "$RPORT"
}

teardown() {
	agent_test_teardown
	d ps -aq | xargs -r docker --host "$DOCKER_HOST" rm -f >/dev/null 2>&1 || true
	echo "--- messages:"
	cat "$RECEIVER_FILE" 2>/dev/null || true
}

start_privileged() {
	agent_start "$NS" --privileged-service --docker --docker-socket "$DOCKER_SOCK" \
		--vtunnel-addr "127.0.0.1:$RPORT" "$@"
	wait_until child_pid docker-watch
	wait_until child_pid vtunnel-send
}

# The message the Privileged Service decodes for one binding, keys sorted
# as the receiver records them.
message() {
	local remove=$1 key=$2 ip=$3 port=$4
	printf '{"connectAddrs":[{"addr":"10.231.0.2/24","network":"ip+net"}],"ports":{"%s":[{"HostIp":"%s","HostPort":"%s"}]},"remove":%s}' \
		"$key" "$ip" "$port" "$remove"
}

# Runs a container publishing 127.0.0.1:PORT -> 80/tcp.
run_web() {
	d run -d --name "$1" -p "127.0.0.1:$2:80" "$DOCKER_IMAGE" sleep 1000 >/dev/null
}

@test "privileged: docker run -p and stop reach the receiver" {
	local port
	port=$(free_port "$NS")
	start_privileged

	run_web web1 "$port"
	wait_until receiver_has 1
	[ "$(sed -n 1p "$RECEIVER_FILE")" = "$(message false 80/tcp 127.0.0.1 "$port")" ]

	d stop -t 1 web1 >/dev/null
	wait_until receiver_has 2
	[ "$(sed -n 2p "$RECEIVER_FILE")" = "$(message true 80/tcp 127.0.0.1 "$port")" ]
	[ "$(receiver_count)" -eq 2 ]

	agent_stop
	[ "$AGENT_STATUS" -eq 0 ]
	[ "$(receiver_count)" -eq 2 ]
}

@test "privileged: SIGTERM withdraws every binding" {
	local p1 p2 start
	p1=$(free_port "$NS")
	p2=$(free_port "$NS")
	start_privileged

	run_web web1 "$p1"
	run_web web2 "$p2"
	wait_until receiver_has 2
	[ "$(receiver_state | wc -l)" -eq 2 ]

	start=$(date +%s)
	agent_stop
	[ "$AGENT_STATUS" -eq 0 ]
	# The agent bounds its own shutdown at 3 s; this only catches a hang.
	[ $(($(date +%s) - start)) -le 10 ]
	receiver_state
	[ -z "$(receiver_state)" ]
	[ "$(receiver_count)" -eq 4 ]
	grep -qxF "$(message true 80/tcp 127.0.0.1 "$p1")" "$RECEIVER_FILE"
	grep -qxF "$(message true 80/tcp 127.0.0.1 "$p2")" "$RECEIVER_FILE"
	[ -z "$(pgrep -x docker-watch -P 1 || true)" ]
}

# kill -9 of the source: it restarts and resends its snapshot, and the
# receiver sees nothing for the bindings that did not change.  kill -9 of
# the sink: the restarted sink gets the agent's state and re-adds it, but
# removes nothing.
@test "privileged: kill -9 of each child keeps the forwarded set" {
	local p1 p2 p3 old before count
	p1=$(free_port "$NS")
	p2=$(free_port "$NS")
	p3=$(free_port "$NS")
	start_privileged
	run_web web1 "$p1"
	wait_until receiver_has 1
	before=$(receiver_state)

	old=$(child_pid docker-watch)
	kill -KILL "$old"
	wait_until child_restarted docker-watch "$old"
	wait_until log_has "docker-watch (pid $old) killed by signal 9"
	# A new container after the restart: its add is the only message, so
	# the snapshot before it sent nothing.
	run_web web2 "$p2"
	wait_until receiver_has 2
	[ "$(receiver_count)" -eq 2 ]
	[ "$(sed -n 2p "$RECEIVER_FILE")" = "$(message false 80/tcp 127.0.0.1 "$p2")" ]
	before=$(receiver_state)

	old=$(child_pid vtunnel-send)
	count=$(receiver_count)
	kill -KILL "$old"
	wait_until child_restarted vtunnel-send "$old"
	wait_until log_has "replaying 2 lines of current state into vtunnel-send"
	run_web web3 "$p3"
	wait_until grep -qxF "$(message false 80/tcp 127.0.0.1 "$p3")" "$RECEIVER_FILE"
	# Re-adds only: no remove since the kill.
	not grep -q '"remove":true' < <(tail -n +"$((count + 1))" "$RECEIVER_FILE")
	[ "$(receiver_state)" = "$(printf '%s\n' "$before" "80/tcp 127.0.0.1 $p3" | sort)" ]
}

@test "privileged: 50 restarts leak no descriptor" {
	local p1 fds_before fds_after before old i child
	p1=$(free_port "$NS")
	export RDAGENT_AGENT_BACKOFF=10:40
	start_privileged
	run_web web1 "$p1"
	wait_until receiver_has 1
	before=$(receiver_state)
	fds_before=$(fd_count "$AGENT_PID")

	for i in $(seq 1 50); do
		if [ $((i % 2)) -eq 0 ]; then child=docker-watch; else child=vtunnel-send; fi
		old=$(child_pid "$child")
		kill -KILL "$old"
		wait_until child_restarted "$child" "$old"
	done
	wait_until child_pid docker-watch
	wait_until child_pid vtunnel-send
	fds_after=$(fd_count "$AGENT_PID")
	echo "descriptors: $fds_before before, $fds_after after"
	[ "$fds_after" -eq "$fds_before" ]
	[ "$(grep -c 'killed by signal 9' "$AGENT_LOG")" -eq 50 ]
	# No zombies: every exited child was reaped.
	[ -z "$(ps -o stat= --ppid "$AGENT_PID" | grep Z || true)" ]
	# The receiver still forwards exactly what it did.
	wait_until receiver_state_is "$before"
	not grep -q '"remove":true' "$RECEIVER_FILE"
}

# vtunnel-send died and waits for its restart when SIGTERM arrives: the
# Privileged Service still holds what it sent, so the agent starts it once
# more to withdraw that.
# Several owners, so that the restarted vtunnel-send has more than one
# message to withdraw although its input ends right after the replay.
@test "privileged: SIGTERM while vtunnel-send is down withdraws" {
	local p1 p2 p3 old
	p1=$(free_port "$NS")
	p2=$(free_port "$NS")
	p3=$(free_port "$NS")
	export RDAGENT_AGENT_BACKOFF=60000:60000
	start_privileged
	run_web web1 "$p1"
	run_web web2 "$p2"
	run_web web3 "$p3"
	wait_until receiver_has 3

	old=$(child_pid vtunnel-send)
	kill -KILL "$old"
	wait_until log_has "vtunnel-send (pid $old) killed by signal 9"
	agent_stop
	[ "$AGENT_STATUS" -eq 0 ]
	[ -z "$(receiver_state)" ]
	grep -qxF "$(message true 80/tcp 127.0.0.1 "$p1")" "$RECEIVER_FILE"
	grep -qxF "$(message true 80/tcp 127.0.0.1 "$p2")" "$RECEIVER_FILE"
	grep -qxF "$(message true 80/tcp 127.0.0.1 "$p3")" "$RECEIVER_FILE"
	log_has "vtunnel-send is not running; starting it to withdraw 3 bindings"
}

# A container removed while vtunnel-send waits for its restart: the new
# vtunnel-send never had the binding, but must still send its remove,
# because the one that died delivered the add.
@test "privileged: removal while vtunnel-send is down is delivered" {
	local p1 p2 old
	p1=$(free_port "$NS")
	p2=$(free_port "$NS")
	export RDAGENT_AGENT_BACKOFF=3000:30000
	start_privileged
	run_web web1 "$p1"
	run_web web2 "$p2"
	wait_until receiver_has 2

	old=$(child_pid vtunnel-send)
	kill -KILL "$old"
	wait_until log_has "vtunnel-send (pid $old) killed by signal 9"
	d rm -f web1 >/dev/null
	wait_until child_restarted vtunnel-send "$old"
	wait_until log_has "repeating 1 recent withdrawals to vtunnel-send"
	wait_until grep -qxF "$(message true 80/tcp 127.0.0.1 "$p1")" "$RECEIVER_FILE"
	[ "$(receiver_state)" = "80/tcp 127.0.0.1 $p2" ]
}

# Starts the agent with --vtunnel-peer: vtunnel-send sends to the peer,
# whose upstream is the receiver.  Sets HS, the peer's handshake port.
start_with_peer() {
	local vt
	require_applet vtunnel-peer
	vt=$(free_port "$NS")
	HS=$(free_port "$NS")
	agent_start "$NS" --privileged-service --docker --docker-socket "$DOCKER_SOCK" \
		--vtunnel-peer --vtunnel-addr "tcp:127.0.0.1:$vt" \
		--vtunnel-upstream "tcp:127.0.0.1:$RPORT" --vtunnel-handshake "tcp:127.0.0.1:$HS"
	wait_until child_pid vtunnel-peer
	wait_until child_pid vtunnel-send
}

# With --vtunnel-peer the agent runs the relay too; at shutdown the peer
# must outlive vtunnel-send so the removes get through.
@test "privileged: vtunnel-peer relays and stops last" {
	local p1 seed
	p1=$(free_port "$NS")
	start_with_peer
	wait_until ns_port_listening "$NS" "$HS"
	seed=$(ip netns exec "$NS" bash -c 'exec 5<>"/dev/tcp/127.0.0.1/$1" && cat <&5' _ "$HS")
	[ "$seed" = "github.com/rancher-sandbox/rancher-desktop-vtunnel" ]

	run_web web1 "$p1"
	wait_until receiver_has 1
	[ "$(sed -n 1p "$RECEIVER_FILE")" = "$(message false 80/tcp 127.0.0.1 "$p1")" ]

	agent_stop
	[ "$AGENT_STATUS" -eq 0 ]
	[ "$(sed -n 2p "$RECEIVER_FILE")" = "$(message true 80/tcp 127.0.0.1 "$p1")" ]
	# vtunnel-peer got its SIGTERM only after vtunnel-send had exited.
	local sink_line peer_line
	sink_line=$(grep -n "vtunnel-send (pid [0-9]*) exited" "$AGENT_LOG" | cut -d: -f1)
	peer_line=$(grep -n "vtunnel-peer (pid [0-9]*) \(exited\|killed\)" "$AGENT_LOG" | cut -d: -f1)
	[ -n "$sink_line" ]
	[ -n "$peer_line" ]
	[ "$sink_line" -lt "$peer_line" ]
}

# kill -9 of the relay: vtunnel-send reaches the restarted vtunnel-peer,
# later changes get through, and nothing is removed on the way.
@test "privileged: kill -9 of vtunnel-peer keeps the forwarded set" {
	local p1 p2 old
	p1=$(free_port "$NS")
	p2=$(free_port "$NS")
	start_with_peer
	run_web web1 "$p1"
	wait_until receiver_has 1

	old=$(child_pid vtunnel-peer)
	kill -KILL "$old"
	wait_until child_restarted vtunnel-peer "$old"
	wait_until log_has "vtunnel-peer (pid $old) killed by signal 9"
	run_web web2 "$p2"
	wait_until grep -qxF "$(message false 80/tcp 127.0.0.1 "$p2")" "$RECEIVER_FILE"
	not grep -q '"remove":true' "$RECEIVER_FILE"
	[ "$(receiver_state)" = "$(printf '80/tcp 127.0.0.1 %s\n' "$p1" "$p2" | sort)" ]

	agent_stop
	[ "$AGENT_STATUS" -eq 0 ]
	[ -z "$(receiver_state)" ]
}
