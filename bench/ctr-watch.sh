#!/bin/bash
# Benchmark of ctr-watch against `ctr events` on the same containerd and
# the same containers, in the same run:
#
#   * latency from containerd publishing /tasks/start (the Envelope
#     timestamp, which `ctr events` prints) to the line each tool writes:
#     `ctr events` prints the event itself, ctr-watch prints the `add`
#     line after one more call (Containers/Get);
#   * resident memory (VmRSS, VmHWM) of both processes;
#   * 200 containers started at once: every binding emitted exactly once.
#
# Writes its Markdown section to $BENCH_OUT.  Needs root, containerd,
# runc and python3 (to stamp each output line with the time it arrived).
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
set -eu
cd "$(dirname "$0")/.."
. tests/integration/helpers/containerd.bash

SEQUENTIAL=${SEQUENTIAL:-40}
BURST=${BURST:-200}
BENCH_OUT=${BENCH_OUT:-/dev/stdout}
dir=/tmp/ctrw-bench-$$
ns=ctrw-bench-$$
watch_pid= events_pid=

cleanup() {
	[ -n "$watch_pid" ] && kill "$watch_pid" 2>/dev/null
	[ -n "$events_pid" ] && kill "$events_pid" 2>/dev/null
	containerd_stop "$ns"
	rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# Prints each input line prefixed with the wall-clock time it arrived, in
# nanoseconds since the epoch.
stamp() {
	python3 -u -c '
import sys, time
for line in sys.stdin:
    sys.stdout.write("%d %s" % (time.time_ns(), line))
'
}

containerd_start "$dir/containerd"
containerd_image_import "$ns"

ctrx -n "$ns" events > >(stamp > "$dir/events.txt") 2>/dev/null &
events_pid=$!
out/rdagent ctr-watch --address "$CONTAINERD_ADDRESS" --namespace "$ns" -q > >(stamp > "$dir/watch.txt") &
watch_pid=$!
for i in $(seq 1 100); do
	grep -q "done containerd" "$dir/watch.txt" 2>/dev/null && break
	sleep 0.1
done
sleep 0.5
rss_idle=$(awk '/VmRSS/ {print $2}' /proc/$watch_pid/status)

label() {
	printf 'nerdctl/ports=[{"HostPort":%d,"ContainerPort":80,"Protocol":"tcp","HostIP":"0.0.0.0"}]' "$1"
}

for i in $(seq 1 "$SEQUENTIAL"); do
	containerd_run "$ns" seq$i --label "$(label $((20000 + i)))"
	sleep 0.2
done
sleep 1

burst_start=$(date +%s.%N)
burst_pids=()
for i in $(seq 1 "$BURST"); do
	containerd_run "$ns" burst$i --label "$(label $((30000 + i)))" &
	burst_pids+=($!)
done
wait_runs() {
	local n
	for n in $(seq 1 1200); do
		[ "$(grep -c ' add containerd/.*/burst' "$dir/watch.txt")" -ge "$BURST" ] && return 0
		sleep 0.1
	done
	return 1
}
burst_complete=yes
wait_runs || burst_complete=no
burst_end=$(date +%s.%N)
wait "${burst_pids[@]}" 2>/dev/null || true
sleep 1

rss_watch=$(awk '/VmRSS/ {print $2}' /proc/$watch_pid/status)
hwm_watch=$(awk '/VmHWM/ {print $2}' /proc/$watch_pid/status)
ctr_pid=$(pgrep -P "$events_pid" -x ctr || echo "$events_pid")
rss_ctr=$(awk '/VmRSS/ {print $2}' /proc/$ctr_pid/status 2>/dev/null || echo "?")
hwm_ctr=$(awk '/VmHWM/ {print $2}' /proc/$ctr_pid/status 2>/dev/null || echo "?")
wakeups_before=$(awk '/voluntary_ctxt_switches/ && !/non/ {print $2}' /proc/$watch_pid/status)
sleep 5
wakeups_after=$(awk '/voluntary_ctxt_switches/ && !/non/ {print $2}' /proc/$watch_pid/status)

python3 - "$dir/events.txt" "$dir/watch.txt" "$SEQUENTIAL" "$BURST" > "$dir/result.txt" <<'PY'
import re, sys, datetime
events, watch, seq, burst = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
published, ctr_seen, add_seen, adds = {}, {}, {}, {}
for line in open(events):
    m = re.match(r"(\d+) (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)\.(\d+) \+0000 UTC \S+ /tasks/start .*\"container_id\":\"([^\"]+)\"", line)
    if not m:
        continue
    base = datetime.datetime.strptime(m.group(2), "%Y-%m-%d %H:%M:%S").replace(tzinfo=datetime.timezone.utc)
    ns = int(base.timestamp()) * 10**9 + int(m.group(3).ljust(9, "0")[:9])
    published[m.group(4)] = ns
    ctr_seen[m.group(4)] = int(m.group(1))
for line in open(watch):
    parts = line.split()
    if len(parts) > 2 and parts[1] == "add":
        cid = parts[2].rsplit("/", 1)[1]
        adds[cid] = adds.get(cid, 0) + 1
        add_seen.setdefault(cid, int(parts[0]))
def pct(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]
ids = ["seq%d" % i for i in range(1, seq + 1)]
lat_ctr = [(ctr_seen[c] - published[c]) / 1e6 for c in ids if c in ctr_seen]
lat_add = [(add_seen[c] - published[c]) / 1e6 for c in ids if c in add_seen and c in published]
bursts = ["burst%d" % i for i in range(1, burst + 1)]
once = sum(1 for c in bursts if adds.get(c) == 1)
missing = sum(1 for c in bursts if c not in adds)
dup = sum(1 for c in bursts if adds.get(c, 0) > 1)
ctr_burst = sum(1 for c in bursts if c in ctr_seen)
print("lat_ctr_p50=%.2f" % pct(lat_ctr, 50))
print("lat_ctr_p99=%.2f" % pct(lat_ctr, 99))
print("lat_add_p50=%.2f" % pct(lat_add, 50))
print("lat_add_p99=%.2f" % pct(lat_add, 99))
print("lat_n=%d" % len(lat_add))
print("burst_once=%d" % once)
print("burst_missing=%d" % missing)
print("burst_dup=%d" % dup)
print("burst_ctr=%d" % ctr_burst)
PY
. "$dir/result.txt"
burst_seconds=$(python3 -c "print(round($burst_end - $burst_start, 1))")

{
	echo "## ctr-watch"
	echo
	echo "Made by \`sh bench/run.sh ctr-watch\` on $(date -u +%Y-%m-%d): $(nproc) CPUs,"
	echo "$(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo), $(containerd --version | awk '{print $1, $3}'),"
	echo "snapshotter $CONTAINERD_SNAPSHOTTER. Reference tool: \`ctr events\` on the same daemon"
	echo "in the same run. Latency is measured from the Envelope timestamp of"
	echo "/tasks/start (containerd's clock) to the arrival of each tool's line"
	echo "at a Python line stamper; ctr-watch's \`add\` line needs one more call"
	echo "(Containers/Get) after the event."
	echo
	echo "| measure | ctr-watch | ctr events |"
	echo "|---|---|---|"
	echo "| /tasks/start → line, p50 ($lat_n containers, one at a time) | $lat_add_p50 ms (\`add\`) | $lat_ctr_p50 ms (event) |"
	echo "| /tasks/start → line, p99 | $lat_add_p99 ms | $lat_ctr_p99 ms |"
	echo "| RSS after start (idle) | $rss_idle KiB | |"
	echo "| RSS at the end (VmRSS / VmHWM) | $rss_watch / $hwm_watch KiB | $rss_ctr / $hwm_ctr KiB |"
	echo "| voluntary wake-ups in 5 s idle | $((wakeups_after - wakeups_before)) | |"
	echo
	echo "Burst: $BURST containers started at once (all \`ctr run -d\` in parallel),"
	echo "done in ${burst_seconds} s (complete: $burst_complete): $burst_once bindings emitted exactly once,"
	echo "$burst_missing missing, $burst_dup duplicated; \`ctr events\` saw $burst_ctr of the $BURST /tasks/start events."
} > "$BENCH_OUT"
