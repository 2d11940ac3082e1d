#!/usr/bin/env bats
# ctr-watch against a real containerd (Debian's containerd package) on
# private paths, with containers run by ctr the way nerdctl records
# published ports: the nerdctl/ports label (before nerdctl 2.1.3) or
# network-config.json in the nerdctl/state-dir directory (2.1.3 and later).

bats_require_minimum_version 1.5.0
load helpers/containerd

RDAGENT=${RDAGENT:-$BATS_TEST_DIRNAME/../../out/rdagent}

setup_file() {
	export TEST_DIR=/tmp/ctrw-$BATS_ROOT_PID
	export NS1=ctrw-a-$BATS_ROOT_PID NS2=ctrw-b-$BATS_ROOT_PID
	containerd_start "$TEST_DIR/containerd"
	containerd_image_import "$NS1"
	containerd_image_import "$NS2"
	# Running before any ctr-watch starts.
	containerd_run "$NS1" early --label 'nerdctl/ports=[{"HostPort":18080,"ContainerPort":80,"Protocol":"tcp","HostIP":"0.0.0.0"}]'
	containerd_run "$NS2" early2 --label 'nerdctl/ports=[{"HostPort":18081,"ContainerPort":81,"Protocol":"udp","HostIP":"127.0.0.1"}]'
	# No port data at all, like a Kubernetes pod sandbox.
	containerd_run "$NS1" sandbox
}

teardown_file() {
	containerd_stop "$NS1" "$NS2"
	rm -rf "$TEST_DIR"
}

# Starts ctr-watch in the background with the given options and waits
# for its first snapshot.
watch_start() {
	WATCH_OUT=$TEST_DIR/watch-$BATS_TEST_NUMBER.out
	WATCH_ERR=$TEST_DIR/watch-$BATS_TEST_NUMBER.err
	"$RDAGENT" ctr-watch --address "$CONTAINERD_ADDRESS" "$@" >"$WATCH_OUT" 2>"$WATCH_ERR" 3>&- &
	WATCH_PID=$!
	wait_for_line '^done containerd$'
}

watch_stop() {
	if [ -n "${WATCH_PID:-}" ]; then
		kill "$WATCH_PID" 2>/dev/null || true
		wait "$WATCH_PID" 2>/dev/null || true
		WATCH_PID=
	fi
}

teardown() {
	watch_stop
}

# Waits up to 20 s until the output has COUNT (default 1) lines matching
# the extended regular expression.
wait_for_line() {
	local pattern=$1 count=${2:-1} i
	for i in $(seq 1 200); do
		[ "$(grep -cE -- "$pattern" "$WATCH_OUT")" -ge "$count" ] && return 0
		sleep 0.1
	done
	echo "timed out waiting for $count line(s) matching '$pattern'; output:" >&2
	cat "$WATCH_OUT" >&2
	echo "log:" >&2
	cat "$WATCH_ERR" >&2
	return 1
}

# Starts ctr-watch against the scripted peer (background job PEER) that
# listens on SOCK, and waits until the peer exits.
watch_peer() {
	local sock=$1 peer=$2 i
	WATCH_OUT=$sock.out WATCH_ERR=$sock.err
	for i in $(seq 1 100); do
		[ -S "$sock" ] && break
		sleep 0.05
	done
	"$RDAGENT" ctr-watch --address "$sock" >"$WATCH_OUT" 2>"$WATCH_ERR" 3>&- &
	WATCH_PID=$!
	wait "$peer"
}

count_lines() {
	grep -cE -- "$1" "$WATCH_OUT" || true
}

@test "--once prints the running containers" {
	run --separate-stderr "$RDAGENT" ctr-watch --address "$CONTAINERD_ADDRESS" --once
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "sync containerd" ]
	[ "${lines[${#lines[@]}-1]}" = "done containerd" ]
	[[ "$output" == *"add containerd/$NS1/early tcp 0.0.0.0 18080 80"* ]]
	[[ "$output" == *"add containerd/$NS2/early2 udp 127.0.0.1 18081 81"* ]]
	[[ "$output" != *"/sandbox "* ]]
	[[ "$stderr" != *error* ]]
}

@test "--namespace limits the snapshot" {
	run --separate-stderr "$RDAGENT" ctr-watch --address "$CONTAINERD_ADDRESS" --once --namespace "$NS2" --source ctrd
	[ "$status" -eq 0 ]
	[ "$output" = "sync ctrd
add ctrd/$NS2/early2 udp 127.0.0.1 18081 81
done ctrd" ]
}

@test "label entries with tcp, udp, IPv6 and empty HostIP" {
	watch_start
	containerd_run "$NS1" multi --label 'nerdctl/ports=[{"HostPort":18100,"ContainerPort":80,"Protocol":"tcp","HostIP":"0.0.0.0"},{"HostPort":18101,"ContainerPort":53,"Protocol":"udp","HostIP":"0.0.0.0"},{"HostPort":18102,"ContainerPort":443,"Protocol":"tcp","HostIP":"::"},{"HostPort":18103,"ContainerPort":8443,"Protocol":"tcp","HostIP":""}]'
	wait_for_line "^add containerd/$NS1/multi " 4
	grep -qx "add containerd/$NS1/multi tcp 0.0.0.0 18100 80" "$WATCH_OUT"
	grep -qx "add containerd/$NS1/multi udp 0.0.0.0 18101 53" "$WATCH_OUT"
	grep -qx "add containerd/$NS1/multi tcp :: 18102 443" "$WATCH_OUT"
	grep -qx "add containerd/$NS1/multi tcp 0.0.0.0 18103 8443" "$WATCH_OUT"
	ctrx -n "$NS1" tasks kill -s KILL multi
	wait_for_line "^del containerd/$NS1/multi " 4
	[ "$(count_lines "^del containerd/$NS1/multi ")" -eq 4 ]
}

@test "an exec'd process exiting keeps the ports" {
	watch_start
	containerd_run "$NS1" execd --label 'nerdctl/ports=[{"HostPort":18200,"ContainerPort":80,"Protocol":"tcp","HostIP":"0.0.0.0"}]'
	wait_for_line "^add containerd/$NS1/execd "
	ctrx -n "$NS1" tasks exec --exec-id probe-$$ execd /bin/true
	# A later event marks that the exec's exit was processed.
	containerd_run "$NS1" marker --label 'nerdctl/ports=[{"HostPort":18201,"ContainerPort":80,"Protocol":"tcp","HostIP":"0.0.0.0"}]'
	wait_for_line "^add containerd/$NS1/marker "
	[ "$(count_lines "^del containerd/$NS1/execd ")" -eq 0 ]
	ctrx -n "$NS1" tasks kill -s KILL execd
	wait_for_line "^del containerd/$NS1/execd tcp 0.0.0.0 18200 80$"
	ctrx -n "$NS1" tasks kill -s KILL marker
	wait_for_line "^del containerd/$NS1/marker "
}

@test "container removal withdraws the ports once" {
	watch_start
	containerd_run "$NS1" removed --label 'nerdctl/ports=[{"HostPort":18300,"ContainerPort":80,"Protocol":"tcp","HostIP":"0.0.0.0"}]'
	wait_for_line "^add containerd/$NS1/removed "
	ctrx -n "$NS1" tasks delete -f removed
	ctrx -n "$NS1" containers delete removed
	wait_for_line "^del containerd/$NS1/removed tcp 0.0.0.0 18300 80$"
	containerd_run "$NS1" marker2 --label 'nerdctl/ports=[{"HostPort":18301,"ContainerPort":80,"Protocol":"tcp","HostIP":"0.0.0.0"}]'
	wait_for_line "^add containerd/$NS1/marker2 "
	[ "$(count_lines "^del containerd/$NS1/removed ")" -eq 1 ]
	ctrx -n "$NS1" tasks kill -s KILL marker2
}

@test "network-config.json in nerdctl/state-dir (nerdctl 2.1.3+)" {
	local state=$TEST_DIR/state-new late=$TEST_DIR/state-late
	mkdir -p "$state" "$late"
	echo '{"portMappings":[{"HostPort":18400,"ContainerPort":80,"Protocol":"tcp","HostIP":"0.0.0.0"},{"HostPort":18401,"ContainerPort":53,"Protocol":"udp","HostIP":"::1"}]}' > "$state/network-config.json"
	watch_start
	containerd_run "$NS1" newstyle --label "nerdctl/state-dir=$state"
	wait_for_line "^add containerd/$NS1/newstyle " 2
	grep -qx "add containerd/$NS1/newstyle tcp 0.0.0.0 18400 80" "$WATCH_OUT"
	grep -qx "add containerd/$NS1/newstyle udp ::1 18401 53" "$WATCH_OUT"
	# The file written shortly after the task started is still read.
	containerd_run "$NS1" latefile --label "nerdctl/state-dir=$late"
	sleep 0.5
	echo '{"portMappings":[{"HostPort":18402,"ContainerPort":80,"Protocol":"tcp","HostIP":""}]}' > "$late/network-config.json"
	wait_for_line "^add containerd/$NS1/latefile tcp 0.0.0.0 18402 80$"
	ctrx -n "$NS1" tasks kill -s KILL newstyle
	ctrx -n "$NS1" tasks kill -s KILL latefile
	wait_for_line "^del containerd/$NS1/newstyle " 2
	wait_for_line "^del containerd/$NS1/latefile "
}

@test "a missing network-config.json delays no other container" {
	local slow=$TEST_DIR/state-slow
	mkdir -p "$slow"
	# Created ahead, so its task starts quickly after the other one's.
	ctrx -n "$NS1" containers create --net-host --snapshotter "$CONTAINERD_SNAPSHOTTER" \
		--label 'nerdctl/ports=[{"HostPort":18450,"ContainerPort":80,"Protocol":"tcp","HostIP":"0.0.0.0"}]' \
		"$CONTAINERD_IMAGE" quick /bin/sleep 100000 >/dev/null
	watch_start
	containerd_run "$NS1" slowfile --label "nerdctl/state-dir=$slow"
	ctrx -n "$NS1" tasks start -d quick >/dev/null
	# quick is reported while slowfile's file is still missing; the file
	# written afterwards is still read.
	wait_for_line "^add containerd/$NS1/quick tcp 0.0.0.0 18450 80$"
	echo '{"portMappings":[{"HostPort":18451,"ContainerPort":80,"Protocol":"tcp","HostIP":""}]}' > "$slow/network-config.json"
	wait_for_line "^add containerd/$NS1/slowfile tcp 0.0.0.0 18451 80$"
	ctrx -n "$NS1" tasks kill -s KILL quick
	ctrx -n "$NS1" tasks kill -s KILL slowfile
	wait_for_line "^del containerd/$NS1/quick "
	wait_for_line "^del containerd/$NS1/slowfile "
	# --once waits for a file written during its snapshot.
	rm "$slow/network-config.json"
	containerd_run "$NS1" slowonce --label "nerdctl/state-dir=$slow"
	(sleep 1; echo '{"portMappings":[{"HostPort":18452,"ContainerPort":80,"Protocol":"udp","HostIP":""}]}' > "$slow/network-config.json") 3>&- &
	local writer=$!
	run --separate-stderr "$RDAGENT" ctr-watch --address "$CONTAINERD_ADDRESS" --once --namespace "$NS1"
	wait "$writer"
	[ "$status" -eq 0 ]
	[[ "$output" == *"add containerd/$NS1/slowonce udp 0.0.0.0 18452 80"* ]]
	[ "${lines[${#lines[@]}-1]}" = "done containerd" ]
	ctrx -n "$NS1" tasks kill -s KILL slowonce
}

@test "two namespaces, and --namespace filters events" {
	watch_start --namespace "$NS2"
	containerd_run "$NS1" other --label 'nerdctl/ports=[{"HostPort":18500,"ContainerPort":80,"Protocol":"tcp","HostIP":"0.0.0.0"}]'
	containerd_run "$NS2" mine --label 'nerdctl/ports=[{"HostPort":18500,"ContainerPort":80,"Protocol":"tcp","HostIP":"0.0.0.0"}]'
	wait_for_line "^add containerd/$NS2/mine tcp 0.0.0.0 18500 80$"
	[ "$(count_lines "/$NS1/")" -eq 0 ]
	watch_stop
	run --separate-stderr "$RDAGENT" ctr-watch --address "$CONTAINERD_ADDRESS" --once
	[[ "$output" == *"add containerd/$NS1/other tcp 0.0.0.0 18500 80"* ]]
	[[ "$output" == *"add containerd/$NS2/mine tcp 0.0.0.0 18500 80"* ]]
	ctrx -n "$NS1" tasks kill -s KILL other
	ctrx -n "$NS2" tasks kill -s KILL mine
}

@test "label update emits only the difference" {
	watch_start
	containerd_run "$NS1" relabel --label 'nerdctl/ports=[{"HostPort":18600,"ContainerPort":80,"Protocol":"tcp","HostIP":"0.0.0.0"},{"HostPort":18601,"ContainerPort":81,"Protocol":"tcp","HostIP":"0.0.0.0"}]'
	wait_for_line "^add containerd/$NS1/relabel " 2
	ctrx -n "$NS1" containers label relabel 'nerdctl/ports=[{"HostPort":18601,"ContainerPort":81,"Protocol":"tcp","HostIP":"0.0.0.0"},{"HostPort":18602,"ContainerPort":82,"Protocol":"udp","HostIP":"0.0.0.0"}]'
	wait_for_line "^add containerd/$NS1/relabel udp 0.0.0.0 18602 82$"
	wait_for_line "^del containerd/$NS1/relabel tcp 0.0.0.0 18600 80$"
	[ "$(count_lines "containerd/$NS1/relabel tcp 0.0.0.0 18601 81")" -eq 1 ]
	ctrx -n "$NS1" tasks kill -s KILL relabel
	wait_for_line "^del containerd/$NS1/relabel " 3
}

@test "malformed label is logged and skipped" {
	watch_start
	containerd_run "$NS1" broken --label 'nerdctl/ports=[{"HostPort":18700,"Protocol":"tcp"'
	containerd_run "$NS1" fine --label 'nerdctl/ports=[{"HostPort":18701,"ContainerPort":80,"Protocol":"tcp","HostIP":"0.0.0.0"}]'
	wait_for_line "^add containerd/$NS1/fine "
	[ "$(count_lines "/broken ")" -eq 0 ]
	grep -q "container broken in namespace $NS1: invalid label nerdctl/ports: truncated JSON" "$WATCH_ERR"
	kill -0 "$WATCH_PID"
	ctrx -n "$NS1" tasks kill -s KILL broken
	ctrx -n "$NS1" tasks kill -s KILL fine
}

@test "containerd restart: reconnect and resync without withdrawing" {
	watch_start
	grep -qx "add containerd/$NS1/early tcp 0.0.0.0 18080 80" "$WATCH_OUT"
	containerd_kill_daemon
	# ctr-watch keeps retrying while the socket is gone.
	sleep 1
	kill -0 "$WATCH_PID"
	containerd_restart
	wait_for_line '^done containerd$' 2
	[ "$(count_lines '^sync containerd$')" -eq 2 ]
	[ "$(count_lines "^del ")" -eq 0 ]
	[ "$(count_lines "^add containerd/$NS1/early tcp 0.0.0.0 18080 80$")" -eq 2 ]
	grep -q "connection to containerd at $CONTAINERD_ADDRESS lost: containerd closed the connection; reconnecting" "$WATCH_ERR"
	containerd_run "$NS1" afterrestart --label 'nerdctl/ports=[{"HostPort":18800,"ContainerPort":80,"Protocol":"tcp","HostIP":"0.0.0.0"}]'
	wait_for_line "^add containerd/$NS1/afterrestart "
	ctrx -n "$NS1" tasks kill -s KILL afterrestart
}

@test "--once exits 111 when the socket is missing" {
	run --separate-stderr "$RDAGENT" ctr-watch --address "$TEST_DIR/missing.sock" --once
	[ "$status" -eq 111 ]
	[[ "$stderr" == *"connect to containerd at $TEST_DIR/missing.sock failed"* ]]
}

@test "SIGUSR1 logs the connection and containers" {
	local err=$TEST_DIR/usr1-missing.err
	# Waits up to 5 s for text in file.
	wait_log() {
		local i
		for i in $(seq 1 50); do
			grep -q -- "$2" "$1" && return 0
			sleep 0.1
		done
		return 1
	}
	"$RDAGENT" ctr-watch --address "$TEST_DIR/missing.sock" >/dev/null 2>"$err" 3>&- &
	WATCH_PID=$!
	wait_log "$err" "connect to containerd at $TEST_DIR/missing.sock failed"
	kill -USR1 "$WATCH_PID"
	wait_log "$err" "state: next connect in"
	grep -q "ctr-watch: info: state: not connected to containerd at $TEST_DIR/missing.sock; all namespaces; 0 containers with 0 ports; 0 events queued" "$err"
	grep -Eq "ctr-watch: info: state: next connect in [0-9]+ ms" "$err"
	kill -0 "$WATCH_PID"
	watch_stop

	watch_start
	local before
	before=$(wc -l < "$WATCH_OUT")
	kill -USR1 "$WATCH_PID"
	wait_log "$WATCH_ERR" "state: container $NS1/early:"
	grep -Eq "ctr-watch: info: state: connected to containerd at $CONTAINERD_ADDRESS; all namespaces; [0-9]+ containers with [0-9]+ ports; 0 events queued" "$WATCH_ERR"
	grep -q "ctr-watch: info: state: container $NS1/early: tcp 0.0.0.0:18080->80$" "$WATCH_ERR"
	grep -q "ctr-watch: info: state: container $NS2/early2: udp 127.0.0.1:18081->81$" "$WATCH_ERR"
	kill -0 "$WATCH_PID"
	# The dump writes no port event.
	[ "$(wc -l < "$WATCH_OUT")" -eq "$before" ]
}

@test "invalid options exit 2" {
	run "$RDAGENT" ctr-watch --source 'Bad!'
	[ "$status" -eq 2 ]
	run "$RDAGENT" ctr-watch --bogus
	[ "$status" -eq 2 ]
	run "$RDAGENT" ctr-watch extra
	[ "$status" -eq 2 ]
}

@test "malformed HTTP/2 from the server: logged, reconnected" {
	# A peer that answers the client preface with a PING instead of
	# SETTINGS, then closes; it counts the connections it accepted.
	local sock=$TEST_DIR/bad.sock count=$TEST_DIR/bad.count
	python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.bind(sys.argv[1]); s.listen(4)
n = 0
while n < 3:
    c, _ = s.accept(); n += 1
    open(sys.argv[2], "w").write(str(n))
    c.recv(65536)
    c.sendall(bytes([0, 0, 8, 6, 0, 0, 0, 0, 0]) + b"12345678")
    c.close()
' "$sock" "$count" 3>&- &
	watch_peer "$sock" $!
	[ "$(cat "$count")" -eq 3 ]
	kill -0 "$WATCH_PID"
	grep -q "HTTP/2 protocol error: server preface is not SETTINGS; reconnecting" "$WATCH_ERR"
	# No snapshot was complete, so not even a "sync" line went out.
	[ "$(grep -c . "$WATCH_OUT")" -eq 0 ]
}

@test "subscribes before the snapshot; a gRPC error status is logged" {
	# A peer that records the order of the requests on the first
	# connection, then ends the subscription (stream 1) with a
	# trailers-only response carrying grpc-status 7 and a
	# percent-encoded grpc-message.
	local sock=$TEST_DIR/status.sock order=$TEST_DIR/status.order
	python3 -c '
import re, socket, sys
PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
def frames(buf):
    pos, out = len(PREFACE), []
    while pos + 9 <= len(buf):
        n = int.from_bytes(buf[pos:pos + 3], "big")
        if pos + 9 + n > len(buf):
            break
        sid = int.from_bytes(buf[pos + 5:pos + 9], "big") & 0x7fffffff
        out.append((buf[pos + 3], sid, buf[pos + 9:pos + 9 + n]))
        pos += 9 + n
    return out
def literal(name, value):
    return bytes([0, len(name)]) + name + bytes([len(value)]) + value
s = socket.socket(socket.AF_UNIX)
s.bind(sys.argv[1]); s.listen(4)
c, _ = s.accept()
buf = b""
while len([f for f in frames(buf) if f[0] == 1]) < 2:
    d = c.recv(65536)
    if not d:
        sys.exit("client closed early")
    buf += d
with open(sys.argv[2], "w") as out:
    for kind, sid, payload in frames(buf):
        if kind == 1:
            path = re.search(rb"/containerd[.]services[.][A-Za-z0-9./]+", payload)
            out.write("%d %s\n" % (sid, path.group().decode() if path else "?"))
block = b"\x88" + literal(b"content-type", b"application/grpc") + literal(b"grpc-status", b"7") + \
    literal(b"grpc-message", b"denied%20by%20test")
c.sendall(bytes([0, 0, 0, 4, 0, 0, 0, 0, 0]))
c.sendall(len(block).to_bytes(3, "big") + bytes([1, 5, 0, 0, 0, 1]) + block)
while c.recv(65536):
    pass
' "$sock" "$order" 3>&- &
	watch_peer "$sock" $!
	[ "$(sed -n 1p "$order")" = "1 /containerd.services.events.v1.Events/Subscribe" ]
	[ "$(sed -n 2p "$order")" = "3 /containerd.services.namespaces.v1.Namespaces/List" ]
	grep -q "lost: event stream ended: PERMISSION_DENIED (7): denied by test; reconnecting" "$WATCH_ERR"
	[ "$(grep -c . "$WATCH_OUT")" -eq 0 ]
}
