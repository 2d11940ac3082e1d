#!/bin/sh
# Benchmarks the agent end to end against a private dockerd:
#   1. docker run -p -> PortMapping message at a receiver (p50, p99),
#      measured from the daemon's own start event and from the moment
#      "docker run" was invoked;
#   2. RSS summed over the agent and all its children, idle;
#   3. CPU time and context switches over IDLE_SECONDS (default 60) idle,
#      with every source of privileged mode (docker-watch, ipt-scan,
#      nodeport-watch against the test API server) and vtunnel-send
#      running, next to
#      "docker events" and a 3-second "iptables -t nat -S" loop doing the
#      reference agents' work in the same run.
# Needs root, docker.io, busybox-static, iproute2, python3, openssl.  Writes its
# Markdown section to $BENCH_OUT.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
set -eu
cd "$(dirname "$0")/.."
ROOT=$(pwd)
RDAGENT=$ROOT/out/rdagent
RUNS=${RUNS:-40}
IDLE_SECONDS=${IDLE_SECONDS:-60}
BENCH_OUT=${BENCH_OUT:-/dev/stdout}
BATS_TEST_DIRNAME=$ROOT/tests/integration
BATS_TEST_TMPDIR=$(mktemp -d /tmp/rdbench-agent.XXXXXX)
ID=bench-$$
NS=rdbench-agent-$$

. tests/integration/helpers/agent.bash
. tests/integration/helpers/docker.bash
. tests/integration/helpers/nodeport-watch.bash
export NPW_DIR=$BATS_TEST_TMPDIR/npw PKI=$BATS_TEST_TMPDIR/npw/pki

cleanup() {
	agent_cleanup
	receiver_stop
	[ -n "${EVENTS_PID:-}" ] && kill "$EVENTS_PID" 2>/dev/null
	[ -n "${LOOP_PID:-}" ] && kill "$LOOP_PID" 2>/dev/null
	docker_stop >/dev/null 2>&1 || true
	npw_stop_pidfile "$NPW_DIR/bench.pid"
	agent_netns_delete "$NS"
	rm -rf "$BATS_TEST_TMPDIR"
}
trap cleanup EXIT

# Sums VmRSS (KiB) over the given pids.
rss_kib() {
	local total=0 pid v
	for pid in "$@"; do
		v=$(awk '/^VmRSS:/ { print $2 }' "/proc/$pid/status" 2>/dev/null || echo 0)
		total=$((total + ${v:-0}))
	done
	echo "$total"
}

# Sums utime+stime (clock ticks) and context switches over the pids.
cpu_ticks() {
	local total=0 pid
	for pid in "$@"; do
		total=$((total + $(awk '{ print $14 + $15 }' "/proc/$pid/stat" 2>/dev/null || echo 0)))
	done
	echo "$total"
}

ctx_switches() {
	local total=0 pid v
	for pid in "$@"; do
		v=$(awk '/ctxt_switches/ { s += $2 } END { print s + 0 }' "/proc/$pid/status" 2>/dev/null || echo 0)
		total=$((total + v))
	done
	echo "$total"
}

percentiles() {
	python3 -c '
import sys
v = sorted(float(x) for x in sys.stdin.read().split())
if not v:
    print("n/a n/a 0")
    sys.exit()
def p(q):
    return v[min(len(v) - 1, int(round(q * (len(v) - 1))))]
print("%.1f %.1f %d" % (p(0.5), p(0.99), len(v)))
'
}

agent_netns_create "$NS"
# A machine running a container engine or k3s has an nf_tables nat table.
# Without one, ipt-scan also polls for iptables-legacy rules every 3 s.
ip netns exec "$NS" iptables -t nat -N CNI-HOSTPORT-DNAT
docker_start "$ID" >/dev/null
docker_image
RPORT=$(free_port "$NS")
RECEIVER_FILE=$BATS_TEST_TMPDIR/messages.times
receiver_start "$NS" "$RPORT" --times

# The test Kubernetes API server serves the fixture Services inside the
# namespace, so nodeport-watch reaches it on 127.0.0.1.
mkdir -p "$PKI"
npw_make_pki
KPORT=$(free_port "$NS")
KCTL=$(free_port "$NS")
ip netns exec "$NS" bash -c '. "$1"; shift; "$@"' _ tests/integration/helpers/nodeport-watch.bash \
	npw_start_apiserver bench "$KPORT" "$KCTL"
npw_kubeconfig "$BATS_TEST_TMPDIR/k3s.yaml" "https://127.0.0.1:$KPORT"

AGENT_LOG=$BATS_TEST_TMPDIR/agent.log
agent_start "$NS" --privileged-service --docker --docker-socket "$DOCKER_SOCK" --iptables \
	--kubernetes --kubeconfig "$BATS_TEST_TMPDIR/k3s.yaml" --vtunnel-addr "127.0.0.1:$RPORT"
wait_until child_pid docker-watch >/dev/null
wait_until child_pid vtunnel-send >/dev/null
wait_until child_pid ipt-scan >/dev/null
wait_until child_pid nodeport-watch >/dev/null

# The daemon's start events with their own timestamps, by container id.
d events --filter type=container --filter event=start --format '{{.ID}} {{.TimeNano}}' \
	> "$BATS_TEST_TMPDIR/events" 2>/dev/null 3>&- &
EVENTS_PID=$!
sleep 0.5

: > "$BATS_TEST_TMPDIR/runs"
for i in $(seq 1 "$RUNS"); do
	port=$((40000 + i))
	t0=$(date +%s%N)
	cid=$(d run -d -p "127.0.0.1:$port:80" "$DOCKER_IMAGE" sleep 1000)
	echo "$port $cid $t0" >> "$BATS_TEST_TMPDIR/runs"
	wait_until grep -q " add $port\$" "$RECEIVER_FILE"
done
sleep 0.5
kill "$EVENTS_PID" 2>/dev/null || true
EVENTS_PID=

python3 - "$BATS_TEST_TMPDIR/runs" "$BATS_TEST_TMPDIR/events" "$RECEIVER_FILE" \
	"$BATS_TEST_TMPDIR/from_event" "$BATS_TEST_TMPDIR/from_run" <<'EOF'
import sys
runs, events, times, out_event, out_run = sys.argv[1:6]
started = {}
for line in open(events):
    cid, ns = line.split()
    started[cid] = int(ns)
got = {}
for line in open(times):
    t, verb, port = line.split()
    if verb == "add" and port not in got:
        got[port] = int(t)
with open(out_event, "w") as fe, open(out_run, "w") as fr:
    for line in open(runs):
        port, cid, t0 = line.split()
        if port not in got:
            continue
        fr.write("%.3f\n" % ((got[port] - int(t0)) / 1e6))
        if cid in started:
            fe.write("%.3f\n" % ((got[port] - started[cid]) / 1e6))
EOF
read -r ev_p50 ev_p99 ev_n < <(percentiles < "$BATS_TEST_TMPDIR/from_event")
read -r run_p50 run_p99 run_n < <(percentiles < "$BATS_TEST_TMPDIR/from_run")

# Idle: every binding is forwarded, nothing changes.
pids="$AGENT_PID $(ps -o pid= --ppid "$AGENT_PID" | tr '\n' ' ')"
rss=$(rss_kib $pids)
rss_detail=""
for pid in $pids; do
	rss_detail="$rss_detail $(cat "/proc/$pid/comm")=$(rss_kib "$pid")"
done

d events --filter type=container >/dev/null 2>&1 3>&- &
EVENTS_PID=$!
ip netns exec "$NS" sh -c 'while :; do iptables -t nat -S >/dev/null; sleep 3; done' 3>&- &
LOOP_PID=$!
sleep 1
ref_pids="$EVENTS_PID $LOOP_PID"
ref_rss=$(rss_kib "$EVENTS_PID")
cpu0=$(cpu_ticks $pids)
ctx0=$(ctx_switches $pids)
for pid in $pids; do
	eval "ctx0_$pid=$(ctx_switches "$pid")"
done
ref_cpu0=$(cpu_ticks $ref_pids)
ref_ctx0=$(ctx_switches $ref_pids)
# The loop's iptables processes come and go; their CPU time is counted in
# the shell's cutime and cstime.
loop_c0=$(awk '{ print $16 + $17 }' "/proc/$LOOP_PID/stat")
sleep "$IDLE_SECONDS"
cpu1=$(cpu_ticks $pids)
ctx1=$(ctx_switches $pids)
ctx_detail=""
for pid in $pids; do
	eval "c0=\$ctx0_$pid"
	ctx_detail="$ctx_detail $(cat "/proc/$pid/comm")=$(($(ctx_switches "$pid") - c0))"
done
ref_cpu1=$(cpu_ticks $ref_pids)
ref_ctx1=$(ctx_switches $ref_pids)
loop_ticks=$(($(awk '{ print $16 + $17 }' "/proc/$LOOP_PID/stat") - loop_c0))
hz=$(getconf CLK_TCK)

agent_stop

{
	echo "## agent"
	echo
	echo "Machine: $(nproc) CPUs, $(uname -r), dockerd $(d version --format "{{.Server.Version}}"), with"
	echo "the vfs storage driver in a private network namespace.  Pipeline:"
	echo "\`docker-watch + ipt-scan + nodeport-watch | vtunnel-send\` (privileged"
	echo "mode), sending to a Python receiver on loopback that decodes each"
	echo "message.  nodeport-watch watches the Python test API server (TLS), which"
	echo "lists the fixture Services; neither Python process is counted below."
	echo
	echo "### docker run -p to PortMapping message ($RUNS containers, one at a time)"
	echo
	echo "| measured from | p50 (ms) | p99 (ms) | samples |"
	echo "|---|---|---|---|"
	echo "| dockerd's start event (TimeNano) | $ev_p50 | $ev_p99 | $ev_n |"
	echo "| \`docker run\` invoked (includes container creation) | $run_p50 | $run_p99 | $run_n |"
	echo
	echo "### Memory, idle, $RUNS containers and the fixture Services forwarded"
	echo
	echo "| processes | RSS (KiB) |"
	echo "|---|---|"
	echo "| agent and all children | $rss |"
	echo "| each:$(echo "$rss_detail" | sed 's/ /, /g; s/^, / /') | |"
	echo "| \`docker events\` alone (reference) | $ref_rss |"
	echo
	echo "### CPU over ${IDLE_SECONDS} s idle"
	echo
	echo "| processes | CPU time (ms) | context switches |"
	echo "|---|---|---|"
	echo "| agent and all children | $(((cpu1 - cpu0) * 1000 / hz)) | $((ctx1 - ctx0)) |"
	echo "| each:$(echo "$ctx_detail" | sed 's/ /, /g; s/^, / /') | | |"
	echo "| \`docker events\` + 3 s \`iptables -t nat -S\` loop (reference) | $(((ref_cpu1 - ref_cpu0 + loop_ticks) * 1000 / hz)) | $((ref_ctx1 - ref_ctx0)) |"
	echo
	echo "CPU times come from /proc/PID/stat in clock ticks of $((1000 / hz)) ms, so"
	echo "0 means less than one tick.  The per-process counts show which process"
	echo "woke up.  The namespace has an nf_tables nat table, as a machine with a"
	echo "container engine has; without one, ipt-scan polls for iptables-legacy"
	echo "rules every 3 s."
} > "$BENCH_OUT"
