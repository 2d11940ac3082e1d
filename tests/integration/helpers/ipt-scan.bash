# Helpers for tests/integration/ipt-scan.bats.  Every test gets a network
# namespace of its own, so rules never reach the host's NAT table, and
# ipt-scan runs inside it (its netlink socket belongs to that namespace).

RDAGENT=${RDAGENT:-$BATS_TEST_DIRNAME/../../out/rdagent}

# Creates the test's namespace $NS and a private directory $DIR.
ns_setup() {
	NS=iptscan-$BATS_ROOT_PID-$BATS_TEST_NUMBER
	DIR=$BATS_TEST_TMPDIR
	SCAN_PID=
	ip netns add "$NS"
	ip -n "$NS" link set lo up
}

# Stops ipt-scan and removes the namespaces the test created.
ns_teardown() {
	if [ -n "${SCAN_PID:-}" ]; then
		kill "$SCAN_PID" 2>/dev/null || true
		wait "$SCAN_PID" 2>/dev/null || true
	fi
	[ -n "${NS:-}" ] && ip netns del "$NS" 2>/dev/null || true
	[ -n "${CTR_NS:-}" ] && ip netns del "$CTR_NS" 2>/dev/null || true
	return 0
}

in_ns() { ip netns exec "$NS" "$@"; }

# Starts ipt-scan in the namespace with the given options; its output goes
# to $DIR/out, its log to $DIR/err.
scan_start() {
	ip netns exec "$NS" "$RDAGENT" ipt-scan "$@" > "$DIR/out" 2> "$DIR/err" &
	SCAN_PID=$!
	wait_for_line '^done iptables$'
}

# Waits up to ${WAIT_SECONDS:-20} s until $DIR/out has a line matching
# the extended regular expression $1 (at least $2 such lines).
wait_for_line() {
	local pattern=$1 count=${2:-1} i=0
	while [ "$(grep -cE -- "$pattern" "$DIR/out" 2>/dev/null)" -lt "$count" ]; do
		i=$((i + 1))
		if [ "$i" -gt $((${WAIT_SECONDS:-20} * 20)) ]; then
			echo "timed out waiting for $count line(s) matching '$pattern'; output was:" >&2
			cat "$DIR/out" >&2
			echo "log:" >&2
			cat "$DIR/err" >&2
			return 1
		fi
		if [ -n "${SCAN_PID:-}" ] && ! kill -0 "$SCAN_PID" 2>/dev/null; then
			echo "ipt-scan exited; log:" >&2
			cat "$DIR/err" >&2
			return 1
		fi
		sleep 0.05
	done
}

# Same for the log.
wait_for_log() {
	local pattern=$1 count=${2:-1} i=0
	while [ "$(grep -cE -- "$pattern" "$DIR/err" 2>/dev/null)" -lt "$count" ]; do
		i=$((i + 1))
		if [ "$i" -gt $((${WAIT_SECONDS:-20} * 20)) ]; then
			echo "timed out waiting for log line '$pattern'; log was:" >&2
			cat "$DIR/err" >&2
			return 1
		fi
		sleep 0.05
	done
}

# Writes the rules the CNI portmap plugin's iptables backend writes for
# one container: $1 is the iptables command (iptables, iptables-legacy,
# ip6tables...), $2 the chain, $3 host port, $4 container address (with
# brackets for IPv6), $5 localhost address with prefix, or "" for a rule
# without -d.
portmap_rules() {
	local ipt=$1 chain=$2 port=$3 target=$4 local=${5:-}
	in_ns "$ipt" -t nat -N CNI-HOSTPORT-DNAT 2>/dev/null || true
	in_ns "$ipt" -t nat -N CNI-HOSTPORT-SETMARK 2>/dev/null || true
	in_ns "$ipt" -t nat -N "$chain"
	in_ns "$ipt" -t nat -A CNI-HOSTPORT-DNAT -p tcp -m comment --comment "dnat name: \"bridge\" id: \"$chain\"" -m multiport --dports "$port" -j "$chain"
	if [ -n "$local" ]; then
		in_ns "$ipt" -t nat -A "$chain" -s "$local" -d "$local" -p tcp -m tcp --dport "$port" -j CNI-HOSTPORT-SETMARK
		in_ns "$ipt" -t nat -A "$chain" -d "$local" -p tcp -m tcp --dport "$port" -j DNAT --to-destination "$target:80"
	else
		in_ns "$ipt" -t nat -A "$chain" -p tcp -m tcp --dport "$port" -j DNAT --to-destination "$target:80"
	fi
}

# Prints the voluntary plus involuntary context switches of process $1.
ctxt_switches() {
	awk '/^(non)?voluntary_ctxt_switches:/ { n += $2 } END { print n }' "/proc/$1/status"
}
