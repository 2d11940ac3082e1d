#!/usr/bin/env bats
# listen-hold against real sockets on loopback and in a private network
# namespace.  Clients are python3; ports are random and checked free.

load helpers/common
load helpers/listen-hold

setup_file() {
	export NETNS_NAME=rdtest-lh-$BATS_ROOT_PID
	ip netns add "$NETNS_NAME"
	ip -n "$NETNS_NAME" link set lo up
	# A veth pair inside the namespace gives it a non-loopback address
	# (the dummy driver is not always available).
	ip -n "$NETNS_NAME" link add lh0 type veth peer name lh1
	ip -n "$NETNS_NAME" link set lh1 up
	ip -n "$NETNS_NAME" link set lh0 up
	ip -n "$NETNS_NAME" addr add 10.213.0.1/24 dev lh0
}

teardown_file() {
	ip netns delete "$NETNS_NAME" 2>/dev/null || true
}

setup() {
	PORT=$(free_port)
	LH_PID=
	OTHER_PID=
}

teardown() {
	lh_cleanup
	if [ -n "$OTHER_PID" ]; then
		kill "$OTHER_PID" 2>/dev/null || true
		wait "$OTHER_PID" 2>/dev/null || true
	fi
	if [ -n "${LH_LOG:-}" ] && [ -f "$LH_LOG" ]; then
		echo "--- listen-hold log:"
		cat "$LH_LOG"
	fi
}

# Starts a python3 TCP listener on ADDR PORT that another process owns.
start_other_listener() {
	python3 -c '
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2])))
s.listen(16)
while True:
    c, _ = s.accept()
    c.sendall(b"other\n")
    c.close()
' "$1" "$2" 3>&- &
	OTHER_PID=$!
	wait_until tcp_connects "$1" "$2"
}

# Reads the first line a server sends on a TCP connection.
tcp_greeting() {
	python3 -c '
import socket, sys
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=2)
print(s.recv(64).decode().strip())
' "$1" "$2"
}

@test "tcp ipv4 binding opens and closes" {
	lh_start
	run tcp_connects 127.0.0.1 "$PORT"
	[ "$status" -ne 0 ]
	lh_send "add docker/web tcp 0.0.0.0 $PORT 80"
	wait_until tcp_connects 127.0.0.1 "$PORT"
	# Accept-and-close: several connections in a row all succeed.
	for _ in 1 2 3 4 5; do tcp_connects 127.0.0.1 "$PORT"; done
	[ "$(tcp_listeners "$PORT")" = "0.0.0.0:$PORT" ]
	lh_send "del docker/web tcp 0.0.0.0 $PORT 80"
	wait_until tcp_refused 127.0.0.1 "$PORT"
	[ -z "$(tcp_listeners "$PORT")" ]
	kill -0 "$LH_PID"
}

@test "tcp ipv6 binding is v6only" {
	lh_start
	lh_send "add docker/web tcp :: $PORT 80"
	wait_until tcp_connects ::1 "$PORT"
	# IPV6_V6ONLY: the IPv6 wildcard does not take IPv4 connections.
	tcp_refused 127.0.0.1 "$PORT"
	lh_send "add docker/web tcp 0.0.0.0 $PORT 80"
	wait_until tcp_connects 127.0.0.1 "$PORT"
	[ "$(tcp_listeners "$PORT" | tr '\n' ' ')" = "0.0.0.0:$PORT [::]:$PORT " ]
	# The two are held independently.
	lh_send "del docker/web tcp :: $PORT 80"
	wait_until tcp_refused ::1 "$PORT"
	tcp_connects 127.0.0.1 "$PORT"
	lh_send "add docker/web tcp ::1 $((PORT + 1)) 80"
	wait_until tcp_connects ::1 "$((PORT + 1))"
}

@test "udp held only with --udp" {
	lh_start
	lh_send "add docker/dns udp 127.0.0.1 $PORT 53" "add docker/web tcp 127.0.0.1 $((PORT + 1)) 80"
	wait_until tcp_connects 127.0.0.1 "$((PORT + 1))"
	log_has "udp 127.0.0.1:$PORT for docker/dns: not held"
	run udp_reaches 127.0.0.1 "$PORT"
	[ "$status" -ne 0 ]
	lh_close_input
	[ "$LH_STATUS" -eq 0 ]

	lh_start --udp
	lh_send "add docker/dns udp 127.0.0.1 $PORT 53" "add docker/dns6 udp ::1 $PORT 53"
	wait_until udp_reaches 127.0.0.1 "$PORT"
	wait_until udp_reaches ::1 "$PORT"
	# The datagrams were read and dropped: nothing waits in the queue.
	wait_until prints 0 udp_queued "$PORT"
	lh_send "del docker/dns udp 127.0.0.1 $PORT 53"
	wait_until prints 0 udp_sockets "$PORT" 127.0.0.1
	[ "$(udp_sockets "$PORT" "[::1]")" -eq 1 ]
}

@test "second owner keeps port open" {
	lh_start
	lh_send "add docker/a tcp 127.0.0.1 $PORT 80" "add iptables/CNI-DN-1 tcp 127.0.0.1 $PORT 80"
	wait_until tcp_connects 127.0.0.1 "$PORT"
	lh_send "del docker/a tcp 127.0.0.1 $PORT 80"
	# Prove the del was applied before checking that the port stayed open.
	lh_send "add docker/marker tcp 127.0.0.1 $((PORT + 1)) 80"
	wait_until tcp_connects 127.0.0.1 "$((PORT + 1))"
	tcp_connects 127.0.0.1 "$PORT"
	lh_send "del iptables/CNI-DN-1 tcp 127.0.0.1 $PORT 80"
	wait_until tcp_refused 127.0.0.1 "$PORT"
}

@test "snapshot reconciles bindings" {
	lh_start
	lh_send "sync docker" \
		"add docker/keep tcp 127.0.0.1 $PORT 80" \
		"add docker/drop tcp 127.0.0.1 $((PORT + 1)) 80" \
		"done docker"
	wait_until tcp_connects 127.0.0.1 "$((PORT + 1))"
	tcp_connects 127.0.0.1 "$PORT"
	local keep_inode
	keep_inode=$(ss -Hltne "sport = :$PORT" | grep -o 'ino:[0-9]*')
	PORT3=$(free_port)
	lh_send "sync docker" \
		"add docker/keep tcp 127.0.0.1 $PORT 80" \
		"add docker/new tcp 127.0.0.1 $PORT3 80" \
		"done docker"
	wait_until tcp_refused 127.0.0.1 "$((PORT + 1))"
	tcp_connects 127.0.0.1 "$PORT3"
	tcp_connects 127.0.0.1 "$PORT"
	# The kept binding's socket was never closed and reopened.
	[ "$(ss -Hltne "sport = :$PORT" | grep -o 'ino:[0-9]*')" = "$keep_inode" ]
}

@test "invalid lines are skipped" {
	lh_start
	lh_send "bogus" \
		"add docker/a tcp 127.0.0.1 0 80" \
		"add docker/a tcp [::1] $PORT 80" \
		"add nosource tcp 127.0.0.1 $PORT 80" \
		"add docker/a tcp 127.0.0.1 0$PORT 80"
	printf 'add docker/a tcp 127.0.0.1 %s 80\r\n' "$PORT" >&5
	printf 'add docker/a tcp 127.0.0.1 %s 80 k=%02000d\n' "$PORT" 0 >&5
	lh_send "add docker/a tcp 127.0.0.1 $PORT 80"
	wait_until tcp_connects 127.0.0.1 "$PORT"
	log_has "input line 1: rejected: unknown verb"
	log_has "input line 2: rejected: invalid host port"
	log_has "input line 3: rejected: invalid host address"
	log_has "input line 4: rejected: owner has no '/'"
	log_has "input line 5: rejected: invalid host port"
	log_has "input line 6: rejected: carriage return"
	log_has "input line 7: rejected: line longer than 1023 bytes"
	[ "$(grep -c rejected "$LH_LOG")" -eq 7 ]
}

@test "127.0.0.5 is held on 127.0.0.1" {
	lh_start
	lh_send "add docker/a tcp 127.0.0.5 $PORT 80"
	wait_until tcp_connects 127.0.0.1 "$PORT"
	# Held on exactly 127.0.0.1, never widened to 0.0.0.0.
	[ "$(tcp_listeners "$PORT")" = "127.0.0.1:$PORT" ]
	log_has "tcp 127.0.0.5:$PORT for docker/a: held on tcp 127.0.0.1:$PORT"
	# 127.0.0.1 and 127.0.0.5 share the socket until both are gone.
	lh_send "add docker/b tcp 127.0.0.1 $PORT 80" "del docker/a tcp 127.0.0.5 $PORT 80" \
		"add docker/marker tcp 127.0.0.1 $((PORT + 1)) 80"
	wait_until tcp_connects 127.0.0.1 "$((PORT + 1))"
	tcp_connects 127.0.0.1 "$PORT"
	lh_send "del docker/b tcp 127.0.0.1 $PORT 80"
	wait_until tcp_refused 127.0.0.1 "$PORT"
}

@test "other listener is left alone, then taken" {
	start_other_listener 127.0.0.1 "$PORT"
	lh_start --recheck 1
	lh_send "add docker/a tcp 127.0.0.1 $PORT 80" "add docker/b tcp 0.0.0.0 $PORT 80"
	wait_until log_has "tcp 0.0.0.0:$PORT: another process listens on 127.0.0.1"
	wait_until log_has "tcp 127.0.0.1:$PORT: another process listens on 127.0.0.1"
	# Reported at info level, not as an error.
	not grep -q "error:" "$LH_LOG"
	[ "$(tcp_greeting 127.0.0.1 "$PORT")" = other ]
	[ "$(tcp_listeners "$PORT")" = "127.0.0.1:$PORT" ]
	kill "$OTHER_PID"
	wait "$OTHER_PID" || true
	OTHER_PID=
	wait_until log_has "tcp 0.0.0.0:$PORT: the other listener is gone; holding it now"
	wait_until tcp_connects 127.0.0.1 "$PORT"
	[ "$(tcp_greeting 127.0.0.1 "$PORT")" = "" ]
	# 127.0.0.1 stays covered by our own wildcard socket.
	[ "$(tcp_listeners "$PORT")" = "0.0.0.0:$PORT" ]
	lh_send "del docker/b tcp 0.0.0.0 $PORT 80"
	wait_until prints "127.0.0.1:$PORT" tcp_listeners "$PORT"
}

@test "address in use at bind counts as satisfied" {
	# Bound without SO_REUSEADDR and not listening: socket diagnostics
	# see no listener, so only bind's EADDRINUSE tells listen-hold.
	python3 -c '
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.bind(("127.0.0.1", int(sys.argv[1])))
print("bound", flush=True)
time.sleep(60)
' "$PORT" 3>&- >"$BATS_TEST_TMPDIR/bound" &
	OTHER_PID=$!
	wait_until grep -q bound "$BATS_TEST_TMPDIR/bound"
	lh_start --recheck 1
	lh_send "add docker/a tcp 127.0.0.1 $PORT 80"
	wait_until log_has "info: tcp 127.0.0.1:$PORT: bind reports the address in use"
	not grep -q "error:" "$LH_LOG"
	tcp_refused 127.0.0.1 "$PORT"
	kill "$OTHER_PID"
	wait "$OTHER_PID" || true
	OTHER_PID=
	wait_until tcp_connects 127.0.0.1 "$PORT"
	log_has "tcp 127.0.0.1:$PORT: the other listener is gone; holding it now"
}

@test "wildcard replaces our specific socket" {
	lh_start
	lh_send "add docker/a tcp 127.0.0.1 $PORT 80"
	wait_until tcp_connects 127.0.0.1 "$PORT"
	lh_send "add docker/b tcp 0.0.0.0 $PORT 80"
	wait_until prints "0.0.0.0:$PORT" tcp_listeners "$PORT"
	log_has "tcp 127.0.0.1:$PORT: our socket on the wildcard address takes the port over"
	# Without the wildcard binding, 127.0.0.1 is held again at once.
	lh_send "del docker/b tcp 0.0.0.0 $PORT 80"
	wait_until prints "127.0.0.1:$PORT" tcp_listeners "$PORT"
}

@test "udp socket of another process is left alone" {
	python3 -c '
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
time.sleep(60)
' "$PORT" 3>&- &
	OTHER_PID=$!
	wait_until prints 1 udp_sockets "$PORT"
	lh_start --udp --recheck 1
	lh_send "add docker/dns udp 127.0.0.1 $PORT 53"
	wait_until log_has "udp 127.0.0.1:$PORT: another process listens on 127.0.0.1"
	[ "$(udp_sockets "$PORT")" -eq 1 ]
	kill "$OTHER_PID"
	wait "$OTHER_PID" || true
	OTHER_PID=
	wait_until log_has "udp 127.0.0.1:$PORT: the other listener is gone; holding it now"
	[ "$(udp_sockets "$PORT")" -eq 1 ]
	udp_reaches 127.0.0.1 "$PORT"
}

@test "dual-stack listener covers ipv4" {
	# An IPv6 wildcard socket without IPV6_V6ONLY also takes IPv4.
	python3 -c '
import socket, sys, time
s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
s.bind(("::", int(sys.argv[1])))
s.listen(16)
time.sleep(60)
' "$PORT" 3>&- &
	OTHER_PID=$!
	wait_until tcp_connects 127.0.0.1 "$PORT"
	lh_start
	lh_send "add docker/a tcp 0.0.0.0 $PORT 80"
	wait_until log_has "tcp 0.0.0.0:$PORT: another process listens on ::,"
	# Only the python3 socket listens (ss shows a dual-stack one as "*").
	[ "$(tcp_listeners "$PORT")" = "*:$PORT" ]
	# The count of closed sockets leaves out the port it never held.
	lh_close_input
	[ "$LH_STATUS" -eq 0 ]
	log_has "end of input: closed 0 sockets for 1 bindings"
}

@test "specific address held as given" {
	NETNS=$NETNS_NAME
	lh_start --recheck 1
	lh_send "add docker/a tcp 10.213.0.1 $PORT 80"
	wait_until tcp_connects 10.213.0.1 "$PORT"
	log_has "warn: tcp 10.213.0.1:$PORT for docker/a: held as given"
	# Not widened: loopback in the namespace stays closed.
	tcp_refused 127.0.0.1 "$PORT"
	[ "$(ip netns exec "$NETNS" ss -Hltn "sport = :$PORT" | awk '{ print $4 }')" = "10.213.0.1:$PORT" ]
}

@test "bind failure is retried with backoff" {
	NETNS=$NETNS_NAME
	lh_start
	lh_send "add docker/a tcp 10.213.0.2 $PORT 80" "add docker/b tcp 127.0.0.1 $PORT 80"
	wait_until log_has "tcp 10.213.0.2:$PORT: bind failed for docker/a; retrying in 1000 ms"
	log_has "Address not available"
	# The other binding is held regardless.
	wait_until tcp_connects 127.0.0.1 "$PORT"
	ip -n "$NETNS" addr add 10.213.0.2/24 dev lh0
	WAIT_SECONDS=20 wait_until tcp_connects 10.213.0.2 "$PORT"
	log_has "tcp 10.213.0.2:$PORT: holding it for docker/a"
	ip -n "$NETNS" addr del 10.213.0.2/24 dev lh0
}

@test "sctp is logged, not held" {
	lh_start
	lh_send "add docker/a sctp 0.0.0.0 $PORT 80" "add docker/marker tcp 127.0.0.1 $PORT 80"
	wait_until tcp_connects 127.0.0.1 "$PORT"
	log_has "sctp 0.0.0.0:$PORT for docker/a: not held"
}

@test "end of input closes all and exits 0" {
	lh_start
	lh_send "add docker/a tcp 127.0.0.1 $PORT 80" "add docker/b tcp ::1 $PORT 80"
	wait_until tcp_connects ::1 "$PORT"
	tcp_connects 127.0.0.1 "$PORT"
	lh_close_input
	[ "$LH_STATUS" -eq 0 ]
	tcp_refused 127.0.0.1 "$PORT"
	tcp_refused ::1 "$PORT"
	log_has "end of input: closed 2 sockets for 2 bindings"
}

@test "sigterm and sigint close all and exit 0" {
	for sig in TERM INT; do
		lh_start
		lh_send "add docker/a tcp 127.0.0.1 $PORT 80"
		wait_until tcp_connects 127.0.0.1 "$PORT"
		kill -"$sig" "$LH_PID"
		local status=0
		wait "$LH_PID" || status=$?
		LH_PID=
		exec 5>&-
		[ "$status" -eq 0 ]
		tcp_refused 127.0.0.1 "$PORT"
		log_has "SIG$sig: closed 1 sockets for 1 bindings"
	done
}

@test "sigusr1 logs bindings with owners" {
	lh_start
	lh_send "add docker/a tcp 127.0.0.1 $PORT 80" "add iptables/CNI-DN-7 tcp 127.0.0.1 $PORT 80" \
		"add docker/c udp 0.0.0.0 $PORT 53"
	wait_until tcp_connects 127.0.0.1 "$PORT"
	kill -USR1 "$LH_PID"
	wait_until log_has "1 sockets for 3 bindings"
	wait_until log_has "tcp 127.0.0.1:$PORT: held; owners: iptables/CNI-DN-7, docker/a"
	log_has "udp 0.0.0.0:$PORT: not held; owner: docker/c"
	kill -0 "$LH_PID"
}

@test "idle process does not wake up" {
	lh_start
	lh_send "add docker/a tcp 127.0.0.1 $PORT 80"
	wait_until tcp_connects 127.0.0.1 "$PORT"
	sleep 0.2
	local before after
	before=$(awk '/^voluntary_ctxt_switches/ { print $2 }' "/proc/$LH_PID/status")
	sleep 2
	after=$(awk '/^voluntary_ctxt_switches/ { print $2 }' "/proc/$LH_PID/status")
	[ "$before" = "$after" ]
}

@test "regular file as input" {
	printf 'add docker/a tcp 127.0.0.1 %s 80\nbogus\n' "$PORT" > "$BATS_TEST_TMPDIR/events"
	LH_LOG=$BATS_TEST_TMPDIR/listen-hold.log
	run "$RDAGENT" listen-hold < "$BATS_TEST_TMPDIR/events"
	echo "$output" > "$LH_LOG"
	[ "$status" -eq 0 ]
	log_has "input line 2: rejected"
	log_has "end of input: closed 1 sockets for 1 bindings"
}

@test "usage errors exit 2" {
	run "$RDAGENT" listen-hold --recheck 0
	[ "$status" -eq 2 ]
	[[ "$output" == *"invalid value '0' for --recheck"* ]]
	run "$RDAGENT" listen-hold --bogus
	[ "$status" -eq 2 ]
	[[ "$output" == *"--bogus"* ]]
	run "$RDAGENT" listen-hold extra
	[ "$status" -eq 2 ]
	[[ "$output" == *"unexpected argument 'extra'"* ]]
}

@test "long owner name is logged" {
	local owner
	owner=docker/$(head -c 240 /dev/zero | tr '\0' a)
	lh_start
	lh_send "add $owner tcp 127.0.0.1 $PORT 80"
	wait_until log_has "tcp 127.0.0.1:$PORT: holding it for $owner"
	not log_has "more"
	# With a second owner the first stays and the rest is counted.
	lh_send "add docker/b tcp 0.0.0.0 $((PORT + 1)) 80" "add ${owner}b tcp 0.0.0.0 $((PORT + 1)) 80"
	wait_until tcp_connects 127.0.0.1 "$((PORT + 1))"
	kill -USR1 "$LH_PID"
	wait_until log_has "tcp 0.0.0.0:$((PORT + 1)): held; owners: ${owner}b, docker/b"
	# A log line has room for one owner of maximum length, then a count.
	printf -v owner 'docker/%0255d' 0
	lh_send "add $owner tcp 127.0.0.1 $((PORT + 1)) 80" "add ${owner%?}1 tcp 127.0.0.1 $((PORT + 1)) 80"
	wait_until log_has "tcp 127.0.0.1:$((PORT + 1)): our socket on the wildcard address covers it"
	kill -USR1 "$LH_PID"
	wait_until log_has "tcp 127.0.0.1:$((PORT + 1)): covered by our socket on the wildcard address; owners: ${owner%?}1, $owner"
	lh_send "del docker/b tcp 0.0.0.0 $((PORT + 1)) 80" "del ${owner%?}1 tcp 0.0.0.0 $((PORT + 1)) 80"
}

@test "read error exits 1" {
	LH_LOG=$BATS_TEST_TMPDIR/listen-hold.log
	run "$RDAGENT" listen-hold < "$BATS_TEST_TMPDIR"
	echo "$output" > "$LH_LOG"
	[ "$status" -eq 1 ]
	log_has "read from standard input failed; closing every socket: Is a directory"
	log_has "read error: closed 0 sockets for 0 bindings; exiting with status 1"
}

@test "ipv4-mapped address is held as ipv4" {
	lh_start
	lh_send "add docker/a tcp ::ffff:127.0.0.1 $PORT 80" "add docker/b tcp ::ffff:127.0.0.9 $((PORT + 1)) 80"
	wait_until tcp_connects 127.0.0.1 "$PORT"
	wait_until tcp_connects 127.0.0.1 "$((PORT + 1))"
	log_has "tcp [::ffff:127.0.0.1]:$PORT for docker/a: held on tcp 127.0.0.1:$PORT, the IPv4 address it maps"
	log_has "tcp [::ffff:127.0.0.9]:$((PORT + 1)) for docker/b: held on tcp 127.0.0.1:$((PORT + 1))"
	[ "$(tcp_listeners "$PORT")" = "127.0.0.1:$PORT" ]
	# It shares the socket of the plain IPv4 binding.
	lh_send "add docker/c tcp 127.0.0.1 $PORT 80" "del docker/a tcp ::ffff:127.0.0.1 $PORT 80" \
		"add docker/marker tcp 127.0.0.1 $((PORT + 2)) 80"
	wait_until tcp_connects 127.0.0.1 "$((PORT + 2))"
	tcp_connects 127.0.0.1 "$PORT"
	not grep -q "error:" "$LH_LOG"
	lh_send "del docker/c tcp 127.0.0.1 $PORT 80"
	wait_until tcp_refused 127.0.0.1 "$PORT"
}

@test "sigusr1 tells covered from taken" {
	start_other_listener 127.0.0.1 "$((PORT + 1))"
	lh_start
	lh_send "add docker/a tcp 0.0.0.0 $PORT 80" "add docker/b tcp 127.0.0.1 $PORT 80" \
		"add docker/c tcp 127.0.0.1 $((PORT + 1)) 80"
	wait_until tcp_connects 127.0.0.1 "$PORT"
	wait_until log_has "tcp 127.0.0.1:$((PORT + 1)): another process listens"
	kill -USR1 "$LH_PID"
	wait_until log_has "1 sockets for 3 bindings (3 endpoints)"
	wait_until log_has "tcp 127.0.0.1:$PORT: covered by our socket on the wildcard address; owners: docker/b"
	log_has "tcp 0.0.0.0:$PORT: held; owners: docker/a"
	log_has "tcp 127.0.0.1:$((PORT + 1)): left to another process; owners: docker/c"
	[ "$(tcp_listeners "$PORT")" = "0.0.0.0:$PORT" ]
}

@test "socket failure names socket" {
	# A hard limit of 10 descriptors leaves room for stdio, epoll,
	# signalfd, the netlink socket and a few listeners only.
	lh_start_limited() {
		(ulimit -n 10 && printf 'add docker/p%d tcp 127.0.0.1 %d 80\n' \
			$(for i in 0 1 2 3 4 5 6 7; do echo "$i $((BASE + i))"; done) |
			"$RDAGENT" listen-hold 3>&-) > "$LH_LOG" 2>&1
	}
	BASE=$(free_range 8)
	LH_LOG=$BATS_TEST_TMPDIR/listen-hold.log
	run lh_start_limited
	[ "$status" -eq 0 ]
	log_has ": socket failed for docker/p"
	log_has "retrying in 1000 ms and backing off: No file descriptors available"
	not log_has "bind failed"
}

@test "many adds share one socket dump" {
	local count=600 base
	base=$(free_range "$count")
	lh_start -v
	awk -v base="$base" -v n="$count" \
		'BEGIN { for (i = 0; i < n; i++) printf "add b/%d tcp 127.0.0.1 %d -\n", i, base + i }' \
		> "$BATS_TEST_TMPDIR/adds"
	head -n 300 "$BATS_TEST_TMPDIR/adds" >&5
	wait_until prints 300 tcp_range_count "$base" "$count"
	# A listener opened between two batches is seen by the second one.
	start_other_listener 127.0.0.1 "$((base + 300))"
	tail -n +301 "$BATS_TEST_TMPDIR/adds" >&5
	wait_until prints "$count" tcp_range_count "$base" "$count"
	wait_until log_has "tcp 127.0.0.1:$((base + 300)): another process listens on 127.0.0.1"
	# Every hold was checked, in far fewer dumps than there were adds.
	[ "$(grep -c "checked tcp listeners" "$LH_LOG")" -lt 60 ]
	[ "$(sed -n 's/.*checked tcp listeners for \([0-9]*\) queued.*/\1/p' "$LH_LOG" |
		awk '{ s += $1 } END { print s + 0 }')" -eq "$count" ]
	[ "$(grep -c ": holding it for b/" "$LH_LOG")" -eq $((count - 1)) ]
	[ "$(tcp_greeting 127.0.0.1 "$((base + 300))")" = other ]
	# Deletes in one burst close them all.
	sed 's/^add/del/' "$BATS_TEST_TMPDIR/adds" >&5
	wait_until prints 1 tcp_range_count "$base" "$count"
	lh_send "add docker/marker tcp 127.0.0.1 $PORT 80"
	wait_until tcp_connects 127.0.0.1 "$PORT"
	kill -USR1 "$LH_PID"
	wait_until log_has "1 sockets for 1 bindings (1 endpoints)"
}
