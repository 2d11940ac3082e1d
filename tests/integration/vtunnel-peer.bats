#!/usr/bin/env bats
# vtunnel-peer relaying to tcp: and unix: upstreams (never AF_VSOCK), and
# its handshake listener.

load helpers/vtunnel

SEED=github.com/rancher-sandbox/rancher-desktop-vtunnel

setup() {
	vt_init
}

teardown() {
	for pid in ${PEER_PID:-} ${UP_PID:-}; do
		kill "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	sender_kill
	receiver_stop
	rm -rf "$VT_DIR"
}

# peer_start ARGS: starts vtunnel-peer and waits until it listens.
peer_start() {
	"$RDAGENT" vtunnel-peer "$@" 2> "$VT_DIR/peer.err" 3>&- 7>&- &
	PEER_PID=$!
	wait_grep "$VT_DIR/peer.err" "relaying connections to"
}

# upstream_start MODE ADDR [ARGS]: starts a helper server.
upstream_start() {
	local mode=$1 addr=$2
	shift 2
	rm -f "$VT_DIR/up.ready"
	python3 "$VT_HELPERS/vtunnel-echo.py" "$mode" "$addr" "$@" --ready "$VT_DIR/up.ready" \
		2>> "$VT_DIR/up.log" 3>&- 7>&- &
	UP_PID=$!
	wait_lines "$VT_DIR/up.ready" 1
}

echo_clients() {
	python3 "$VT_HELPERS/vtunnel-echo.py" echo-clients "$@"
}

@test "relays both ways to a tcp upstream" {
	local up listen
	up=$(vt_port)
	listen=$(vt_port)
	upstream_start echo-server "tcp:127.0.0.1:$up"
	peer_start --listen "tcp:127.0.0.1:$listen" --to "tcp:127.0.0.1:$up" --no-handshake
	run echo_clients "tcp:127.0.0.1:$listen" 1 300000
	[ "$status" = 0 ]
	[ "$output" = "ok 1" ]
}

@test "relays both ways to a unix upstream" {
	upstream_start echo-server "unix:$VT_DIR/up.sock"
	peer_start --listen "unix:$VT_DIR/peer.sock" --to "unix:$VT_DIR/up.sock" --no-handshake
	run echo_clients "unix:$VT_DIR/peer.sock" 3 100000
	[ "$status" = 0 ]
	[ "$output" = "ok 3" ]
}

@test "half-close from the upstream side" {
	upstream_start greet-server "unix:$VT_DIR/up.sock" "$VT_DIR/greet.log"
	peer_start --listen "unix:$VT_DIR/peer.sock" --to "unix:$VT_DIR/up.sock" --no-handshake
	# The client reads the greeting to its end (the upstream's FIN), then
	# still sends 70000 bytes the other way.
	run python3 "$VT_HELPERS/vtunnel-echo.py" greet-client "unix:$VT_DIR/peer.sock" 70000
	[ "$status" = 0 ]
	[ "$output" = "hello" ]
	wait_lines "$VT_DIR/greet.log" 1
	[ "$(cat "$VT_DIR/greet.log")" = 70000 ]
}

@test "100 concurrent connections" {
	local listen
	listen=$(vt_port)
	upstream_start echo-server "unix:$VT_DIR/up.sock"
	peer_start --listen "tcp:127.0.0.1:$listen" --to "unix:$VT_DIR/up.sock" --no-handshake
	run echo_clients "tcp:127.0.0.1:$listen" 100 20000
	[ "$status" = 0 ]
	[ "$output" = "ok 100" ]
	# Every relay was closed again.
	run ls "/proc/$PEER_PID/fd"
	[ "${#lines[@]}" -lt 12 ]
}

@test "connections beyond --max-connections wait their turn" {
	upstream_start echo-server "unix:$VT_DIR/up.sock"
	peer_start --listen "unix:$VT_DIR/peer.sock" --to "unix:$VT_DIR/up.sock" --no-handshake \
		--max-connections 2
	run echo_clients "unix:$VT_DIR/peer.sock" 10 50000
	[ "$status" = 0 ]
	[ "$output" = "ok 10" ]
}

@test "idle and half-closed connections cost no CPU" {
	upstream_start flood-server "unix:$VT_DIR/up.sock"
	peer_start --listen "unix:$VT_DIR/peer.sock" --to "unix:$VT_DIR/up.sock" --no-handshake
	# One connection open and silent, one half-closed by a client that
	# does not read while the upstream closes with bytes still queued
	# (EPOLLHUP on the upstream), one closed by the client.  A peer that
	# spins on any of them uses a large share of a CPU in 2 s; an
	# event-driven one uses next to nothing.
	run python3 "$VT_HELPERS/vtunnel-echo.py" idle-clients "unix:$VT_DIR/peer.sock" "$PEER_PID" 2
	[ "$status" = 0 ]
	echo "peer used $output clock ticks while idle"
	[ "$output" -lt 10 ]
	kill -0 "$PEER_PID"
}

@test "handshake returns exactly the seed phrase" {
	local hs
	hs=$(vt_port)
	upstream_start echo-server "unix:$VT_DIR/up.sock"
	peer_start --listen "unix:$VT_DIR/peer.sock" --to "unix:$VT_DIR/up.sock" \
		--handshake "tcp:127.0.0.1:$hs"
	run python3 "$VT_HELPERS/vtunnel-echo.py" read-all "tcp:127.0.0.1:$hs"
	[ "$output" = "b'$SEED'" ]
	run python3 "$VT_HELPERS/vtunnel-echo.py" read-all "tcp:127.0.0.1:$hs"
	[ "$output" = "b'$SEED'" ]
}

@test "failed upstream connect resets the client and is logged" {
	peer_start --listen "unix:$VT_DIR/peer.sock" --to "unix:$VT_DIR/missing.sock" --no-handshake
	run python3 "$VT_HELPERS/vtunnel-echo.py" read-all "unix:$VT_DIR/peer.sock"
	[ "$output" = "reset" ] || [ "$output" = "b''" ]
	grep -q "connect to unix:$VT_DIR/missing.sock failed; closing connection 1: No such file or directory" \
		"$VT_DIR/peer.err"
	# The peer keeps serving.
	kill -0 "$PEER_PID"
}

@test "vtunnel-send through the peer, with the service down then up" {
	local listen
	listen=$(vt_port)
	peer_start --listen "tcp:127.0.0.1:$listen" --to "unix:$VT_DIR/service.sock" --no-handshake
	sender_start --to "tcp:127.0.0.1:$listen" --interface lo
	send "add docker/a tcp 0.0.0.0 8080 80"
	# The peer accepts, cannot reach the service and resets: the sender
	# sees a failed delivery, not a lost message.
	wait_grep "$SEND_ERR" "retrying in"
	receiver_start "unix:$VT_DIR/service.sock" "$VT_DIR/record"
	wait_lines "$VT_DIR/record" 1
	sender_finish
	[ "$SEND_STATUS" = 0 ]
	run cat "$VT_DIR/record"
	[ "${#lines[@]}" = 2 ]
	[[ "${lines[0]}" == '{"remove":false,"ports":{"80/tcp":[{"HostIp":"0.0.0.0","HostPort":"8080"}]},'* ]]
	[[ "${lines[1]}" == '{"remove":true,"ports":{"80/tcp":[{"HostIp":"0.0.0.0","HostPort":"8080"}]},'* ]]
	receiver_errors "$VT_DIR/record"
}

@test "invalid addresses exit 2" {
	run "$RDAGENT" vtunnel-peer --listen tcp:127.0.0.1 --no-handshake
	[ "$status" = 2 ]
	[[ "$output" == *"invalid --listen address"* ]]
	run "$RDAGENT" vtunnel-peer --to vsock:ANY:17381
	[ "$status" = 2 ]
	run "$RDAGENT" vtunnel-peer --handshake udp:1.2.3.4:5
	[ "$status" = 2 ]
}

@test "SIGUSR1 logs listeners and connections" {
	local listen hs
	listen=$(vt_port)
	hs=$(vt_port)
	upstream_start echo-server "unix:$VT_DIR/up.sock"
	peer_start --listen "tcp:127.0.0.1:$listen" --to "unix:$VT_DIR/up.sock" \
		--handshake "tcp:127.0.0.1:$hs"
	# One connection stays open while the peer logs its state; the
	# signal is sent again until the peer has accepted it.
	exec 8<>"/dev/tcp/127.0.0.1/$listen"
	printf 'ping\n' >&8
	local i
	for i in $(seq 1 50); do
		kill -USR1 "$PEER_PID"
		sleep 0.1
		grep -q "state: 1 of 1024 connections" "$VT_DIR/peer.err" && break
	done
	wait_grep "$VT_DIR/peer.err" "vtunnel-peer: info: state: 1 of 1024 connections relayed from tcp:127.0.0.1:$listen to unix:$VT_DIR/up.sock; handshake on tcp:127.0.0.1:$hs"
	wait_grep "$VT_DIR/peer.err" "vtunnel-peer: info: state: connection 1: to upstream open, 0 bytes buffered; to client open, 0 bytes buffered"
	exec 8>&-
	kill -0 "$PEER_PID"
}

@test "SIGTERM stops the peer with status 0" {
	peer_start --listen "unix:$VT_DIR/peer.sock" --to "unix:$VT_DIR/up.sock" --no-handshake
	kill -TERM "$PEER_PID"
	wait "$PEER_PID" && status=0 || status=$?
	PEER_PID=
	[ "$status" = 0 ]
}
