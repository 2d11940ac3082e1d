# Helpers for the agent's integration tests: a network namespace for the
# agent, the agent itself, a receiver that decodes PortMapping messages
# like the Privileged Service, and CNI-shaped NAT rules.  The private
# dockerd and containerd come from helpers/docker.bash and
# helpers/containerd.bash.
#
#   agent_netns_create NAME   namespace with lo and a veth named eth0
#                             (10.231.0.2/24, no IPv6) so vtunnel-send's
#                             connectAddrs are known
#   agent_netns_delete NAME
#   agent_start NETNS ARGS... run "rdagent agent ARGS" in NETNS; sets
#                             AGENT_PID and AGENT_LOG
#   agent_stop                SIGTERM, wait, return the exit status
#   child_pid APPLET          pid of the agent's child running APPLET
#   receiver_start NETNS PORT accept PortMapping messages on 127.0.0.1:PORT
#                             in NETNS; one JSON object per line in
#                             $RECEIVER_FILE
#   receiver_state            the forwarded set that the messages leave
#   add_dnat CHAIN PORT       CNI portmap-shaped DNAT rules in $NS
#   del_dnat CHAIN PORT
#   listening ADDR PORT       a TCP listener exists in $NS
#   wait_until CMD...         retry CMD for up to 30 s
#   not CMD...                succeed when CMD fails (use it in place of !;
#                             from helpers/common.bash)

source "${BASH_SOURCE[0]%/*}/common.bash"

RDAGENT=${RDAGENT:-$BATS_TEST_DIRNAME/../../out/rdagent}

wait_until() {
	local i
	for i in $(seq 1 300); do
		"$@" && return 0
		sleep 0.1
	done
	echo "timed out waiting for: $*" >&2
	return 1
}

# A free TCP port on the loopback of NETNS (or the host when empty).
free_port() {
	local ns=${1:-} port
	while :; do
		port=$((20000 + RANDOM % 40000))
		if [ -n "$ns" ]; then
			ip netns exec "$ns" ss -Htan "sport = :$port" | grep -q . || break
		else
			ss -Htan "sport = :$port" | grep -q . || break
		fi
	done
	echo "$port"
}

agent_netns_create() {
	local ns=$1
	ip netns delete "$ns" 2>/dev/null || true
	ip netns add "$ns"
	ip -n "$ns" link set lo up
	ip -n "$ns" link add eth0 type veth peer name veth-peer
	ip netns exec "$ns" sysctl -qw net.ipv6.conf.eth0.disable_ipv6=1
	ip -n "$ns" addr add 10.231.0.2/24 dev eth0
	ip -n "$ns" link set veth-peer up
	ip -n "$ns" link set eth0 up
}

agent_netns_delete() {
	local pids
	pids=$(ip netns pids "$1" 2>/dev/null || true)
	[ -n "$pids" ] && kill -KILL $pids 2>/dev/null
	ip netns delete "$1" 2>/dev/null || true
}

agent_start() {
	local ns=$1
	shift
	AGENT_LOG=${AGENT_LOG:-$BATS_TEST_TMPDIR/agent.log}
	: > "$AGENT_LOG"
	if [ -n "$ns" ]; then
		ip netns exec "$ns" "$RDAGENT" agent "$@" >>"$AGENT_LOG" 2>&1 3>&- &
	else
		"$RDAGENT" agent "$@" >>"$AGENT_LOG" 2>&1 3>&- &
	fi
	AGENT_PID=$!
}

# Sends SIGTERM and waits; the exit status is in AGENT_STATUS.
agent_stop() {
	[ -n "${AGENT_PID:-}" ] || return 0
	kill -TERM "$AGENT_PID" 2>/dev/null || true
	AGENT_STATUS=0
	wait "$AGENT_PID" || AGENT_STATUS=$?
	AGENT_PID=
}

# Teardown shared by the agent's tests: stops what a failed test left,
# empties the NAT table of $NS and prints the agent's log.
agent_test_teardown() {
	agent_cleanup
	receiver_stop
	ip netns exec "$NS" iptables -t nat -F 2>/dev/null || true
	ip netns exec "$NS" iptables -t nat -X 2>/dev/null || true
	if [ -n "${AGENT_LOG:-}" ] && [ -f "$AGENT_LOG" ]; then
		echo "--- agent log:"
		cat "$AGENT_LOG"
	fi
}

# Kills the agent and whatever it left, for teardown after a failure.
agent_cleanup() {
	if [ -n "${AGENT_PID:-}" ]; then
		local kids
		kids=$(pgrep -P "$AGENT_PID" || true)
		kill -KILL "$AGENT_PID" $kids 2>/dev/null || true
		wait "$AGENT_PID" 2>/dev/null || true
		AGENT_PID=
	fi
}

# Prints the pid of the agent's running child APPLET (zombies skipped);
# fails when there is none.
child_pid() {
	local pid
	pid=$(ps -o pid=,stat=,comm= --ppid "$AGENT_PID" |
		awk -v name="$1" '$3 == name && $2 !~ /^Z/ { print $1 }' | tail -1)
	[ -n "$pid" ] && echo "$pid"
}

# Succeeds once the agent runs a child APPLET whose pid is not OLD_PID.
child_restarted() {
	local pid
	pid=$(child_pid "$1") || return 1
	[ "$pid" != "$2" ]
}

# Skips the test when this build has no applet NAME.
require_applet() {
	"$RDAGENT" --list | grep -qx "$1" || skip "this build has no $1 applet"
}

# Succeeds when a TCP socket listens on PORT in network namespace NS.
ns_port_listening() {
	ip netns exec "$1" ss -Hltn "sport = :$2" | grep -q .
}

# Succeeds when the agent has exactly N children.
child_count_is() {
	[ "$(ps -o pid= --ppid "$AGENT_PID" | wc -l)" -eq "$1" ]
}

# Succeeds when the receiver recorded at least N messages.
receiver_has() {
	[ "$(receiver_count)" -ge "$1" ]
}

# Succeeds when the receiver's forwarded set is STATE.
receiver_state_is() {
	[ "$(receiver_state)" = "$1" ]
}

# Succeeds when process PID is gone or a zombie (a child whose parent
# died is reaped by whatever init the machine runs, maybe never).
process_gone() {
	[ ! -e "/proc/$1" ] || grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null
}

log_has() {
	grep -q -- "$1" "$AGENT_LOG"
}

fd_count() {
	ls "/proc/$1/fd" | wc -l
}

# Starts helpers/receiver.py, which decodes messages like the Privileged
# Service, in NETNS on 127.0.0.1:PORT; more arguments go to it.
receiver_start() {
	local ns=$1 port=$2
	shift 2
	RECEIVER_FILE=${RECEIVER_FILE:-$BATS_TEST_TMPDIR/messages}
	: > "$RECEIVER_FILE"
	ip netns exec "$ns" python3 "$BATS_TEST_DIRNAME/helpers/receiver.py" "$port" "$RECEIVER_FILE" "$@" 3>&- &
	RECEIVER_PID=$!
	wait_until ns_port_listening "$ns" "$port"
}

receiver_stop() {
	if [ -n "${RECEIVER_PID:-}" ]; then
		kill "$RECEIVER_PID" 2>/dev/null || true
		wait "$RECEIVER_PID" 2>/dev/null || true
		RECEIVER_PID=
	fi
}

receiver_count() {
	wc -l < "$RECEIVER_FILE"
}

# Prints the set of forwarded ports that the messages so far leave at the
# receiver, one "KEY HOSTIP HOSTPORT" per line, sorted.  A remove of a
# port that is not forwarded prints an "UNKNOWN" line.
receiver_state() {
	python3 -c '
import json, sys
held = set()
for line in open(sys.argv[1]):
    m = json.loads(line)
    for key, binds in m["ports"].items():
        for b in binds:
            t = (key, b["HostIp"], b["HostPort"])
            if m["remove"]:
                if t not in held:
                    print("UNKNOWN", *t)
                held.discard(t)
            else:
                held.add(t)
for t in sorted(held):
    print(*t)
' "$RECEIVER_FILE"
}

# The helpers below work in the namespace $NS.
ipt() {
	ip netns exec "$NS" iptables -t nat "$@"
}

# Writes the rules the CNI portmap plugin writes for one container:
# CHAIN with a DNAT of PORT/tcp to 10.4.0.7:80, reached from
# CNI-HOSTPORT-DNAT.
add_dnat() {
	local chain=$1 port=$2
	ipt -N CNI-HOSTPORT-SETMARK 2>/dev/null &&
		ipt -A CNI-HOSTPORT-SETMARK -m comment --comment "CNI portfwd masquerade mark" \
			-j MARK --set-xmark 0x2000/0x2000
	ipt -N CNI-HOSTPORT-DNAT 2>/dev/null || true
	ipt -C PREROUTING -m addrtype --dst-type LOCAL -j CNI-HOSTPORT-DNAT 2>/dev/null ||
		ipt -A PREROUTING -m addrtype --dst-type LOCAL -j CNI-HOSTPORT-DNAT
	ipt -N "$chain"
	ipt -A CNI-HOSTPORT-DNAT -p tcp -m comment --comment "dnat name: \"cbr0\" id: \"$chain\"" \
		-m multiport --dports "$port" -j "$chain"
	ipt -A "$chain" -p tcp -s 10.4.0.0/24 --dport "$port" -j CNI-HOSTPORT-SETMARK
	ipt -A "$chain" -p tcp --dport "$port" -j DNAT --to-destination 10.4.0.7:80
}

del_dnat() {
	local chain=$1 port=$2
	ipt -D CNI-HOSTPORT-DNAT -p tcp -m comment --comment "dnat name: \"cbr0\" id: \"$chain\"" \
		-m multiport --dports "$port" -j "$chain"
	ipt -F "$chain"
	ipt -X "$chain"
}

listening() {
	ip netns exec "$NS" ss -Hltn "src $1:$2" | grep -q LISTEN
}

not_listening() {
	! listening "$1" "$2"
}
