# Helpers for listen-hold.bats: start listen-hold on a FIFO, feed it port
# events, and probe its sockets with python3 clients on loopback or inside
# a network namespace the test created.

RDAGENT=${RDAGENT:-$BATS_TEST_DIRNAME/../../out/rdagent}

# Runs "$@" until it succeeds, for up to $WAIT_SECONDS (default 10).
wait_until() {
	local deadline=$((SECONDS + ${WAIT_SECONDS:-10}))

	until "$@"; do
		if [ "$SECONDS" -ge "$deadline" ]; then
			echo "timed out waiting for: $*" >&2
			return 1
		fi
		sleep 0.05
	done
}

# Prints a TCP and UDP port in 20000-59999 that nothing on this host (or
# in the current namespace) is bound to.
free_port() {
	local port

	while :; do
		port=$((20000 + (RANDOM * 32768 + RANDOM) % 40000))
		if [ -z "$(ss -Hatun "( sport = :$port or sport = :$((port + 1)) )")" ]; then
			echo "$port"
			return
		fi
	done
}

# Starts listen-hold with the given options, reading from a FIFO that the
# test writes to through fd 5 (lh_send).  NETNS, when set, names the
# namespace to run it in.  Sets LH_PID and LH_LOG.
lh_start() {
	LH_FIFO=$BATS_TEST_TMPDIR/input.$$
	LH_LOG=$BATS_TEST_TMPDIR/listen-hold.log
	rm -f "$LH_FIFO"
	mkfifo "$LH_FIFO"
	# fd 3 is bats' own; the child must not keep it open.
	if [ -n "${NETNS:-}" ]; then
		ip netns exec "$NETNS" "$RDAGENT" listen-hold "$@" <"$LH_FIFO" >"$LH_LOG" 2>&1 3>&- &
	else
		"$RDAGENT" listen-hold "$@" <"$LH_FIFO" >"$LH_LOG" 2>&1 3>&- &
	fi
	LH_PID=$!
	exec 5>"$LH_FIFO"
	wait_until grep -q "started" "$LH_LOG"
}

lh_send() {
	printf '%s\n' "$@" >&5
}

# Closes listen-hold's input and waits for it; sets LH_STATUS.
lh_close_input() {
	exec 5>&-
	LH_STATUS=0
	wait "$LH_PID" || LH_STATUS=$?
	LH_PID=
}

# Stops a listen-hold that is still running (teardown after a failure).
lh_cleanup() {
	exec 5>&- 2>/dev/null || true
	if [ -n "${LH_PID:-}" ]; then
		kill "$LH_PID" 2>/dev/null || true
		wait "$LH_PID" 2>/dev/null || true
	fi
	LH_PID=
}

# Succeeds when a TCP connection to ADDR PORT is accepted.
tcp_connects() {
	local cmd=(python3 -c '
import socket, sys
addr, port = sys.argv[1], int(sys.argv[2])
family = socket.AF_INET6 if ":" in addr else socket.AF_INET
s = socket.socket(family, socket.SOCK_STREAM)
s.settimeout(2)
try:
    s.connect((addr, port))
except OSError:
    sys.exit(1)
' "$1" "$2")
	if [ -n "${NETNS:-}" ]; then
		ip netns exec "$NETNS" "${cmd[@]}"
	else
		"${cmd[@]}"
	fi
}

tcp_refused() {
	! tcp_connects "$@"
}

# Sends datagrams to ADDR PORT from a connected UDP socket and succeeds
# when no ICMP port-unreachable comes back, which means a socket is bound.
udp_reaches() {
	python3 -c '
import socket, sys, time
addr, port = sys.argv[1], int(sys.argv[2])
family = socket.AF_INET6 if ":" in addr else socket.AF_INET
s = socket.socket(family, socket.SOCK_DGRAM)
s.connect((addr, port))
try:
    for _ in range(3):
        s.send(b"ping")
        time.sleep(0.05)
    s.send(b"ping")
except ConnectionRefusedError:
    sys.exit(1)
' "$1" "$2"
}

# Prints the local addresses listening on TCP port PORT, one per line.
tcp_listeners() {
	ss -Hltn "sport = :$1" | awk '{ print $4 }' | sort
}

# Succeeds when listen-hold's log contains the fixed string.
log_has() {
	grep -qF -- "$1" "$LH_LOG"
}

# Prints the number of UDP sockets bound to PORT, optionally only those
# on address ADDR.
udp_sockets() {
	if [ -n "${2:-}" ]; then
		ss -Hlun "src $2 and sport = :$1" | wc -l
	else
		ss -Hlun "sport = :$1" | wc -l
	fi
}

# Succeeds when "FUNCTION ARGS..." prints EXPECTED; for wait_until, which
# runs the check again on every try.
prints() {
	local expected=$1

	shift
	[ "$("$@")" = "$expected" ]
}

# Prints the bytes queued on UDP sockets bound to PORT.
udp_queued() {
	ss -Hlun "sport = :$1" | awk '{ s += $2 } END { print s + 0 }'
}

# Prints a base port B such that B .. B+COUNT-1 are all free on TCP and UDP.
free_range() {
	local base
	while :; do
		base=$((20000 + (RANDOM * 32768 + RANDOM) % (40000 - $1)))
		if [ -z "$(ss -Hatun "( sport >= :$base and sport < :$((base + $1)) )")" ]; then
			echo "$base"
			return
		fi
	done
}

# Prints the number of TCP listeners on ports BASE .. BASE+COUNT-1.
tcp_range_count() {
	ss -Hltn "( sport >= :$1 and sport < :$(($1 + $2)) )" | wc -l
}
