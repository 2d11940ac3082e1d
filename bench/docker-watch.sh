#!/bin/sh
# Benchmarks docker-watch against a private dockerd and writes a Markdown
# section to $BENCH_OUT:
#   * container start -> "add" line latency (p50, p99 over SAMPLES
#     containers started one after another), measured from the daemon's own
#     event timestamp (timeNano), side by side with "docker events"
#     receiving the same start events in the same run;
#   * RSS of docker-watch and of "docker events", idle and after the burst;
#   * BURST containers started concurrently: counts of containers whose
#     bindings were not emitted exactly once, and of repeated lines.
# The daemon runs in its own network namespace (tests/integration/helpers/
# docker.bash); needs root, docker.io, busybox-static, python3.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
set -eu
cd "$(dirname "$0")/.."
: "${BENCH_OUT:=out/bench/docker-watch.md}"
SAMPLES=${SAMPLES:-100}
BURST=${BURST:-200}
work=$(mktemp -d /tmp/bench-docker-watch.XXXXXX)
pids=

. tests/integration/helpers/docker.bash

cleanup() {
	for p in $pids; do
		kill "$p" 2>/dev/null || true
	done
	docker_stop >/dev/null 2>&1 || true
	rm -rf "$work"
}
trap cleanup EXIT INT TERM

# Prefixes every input line with its arrival time in nanoseconds
# (CLOCK_REALTIME, the clock of the daemon's timeNano).
stamp() {
	python3 -c '
import sys, time
inp, out = sys.stdin.buffer, sys.stdout.buffer
while True:
    line = inp.readline()
    if not line:
        break
    out.write(b"%d " % time.time_ns() + line)
    out.flush()
'
}

rss_kb() {
	awk '$1 == "VmRSS:" { print $2 }' "/proc/$1/status"
}

# Prints p50 and p99 in microseconds of the numbers (nanoseconds) on stdin.
percentiles() {
	sort -n | awk '{ v[NR] = $1 } END {
		if (NR == 0) { print "n/a n/a"; exit }
		i50 = int(NR * 0.50 + 0.5); if (i50 < 1) i50 = 1
		i99 = int(NR * 0.99 + 0.5); if (i99 < 1) i99 = 1; if (i99 > NR) i99 = NR
		printf "%.0f %.0f\n", v[i50] / 1000, v[i99] / 1000 }'
}

docker_start "bench-$$" >/dev/null 2>&1
docker_image

# A pipeline does not give the pid of its first process, so each measured
# process writes its own pid through sh -c 'echo $$; exec ...'.
sh -c 'echo $$ > "$1"; exec "$2" docker-watch -q -H "$3"' sh "$work/dw.pid" out/rdagent "$DOCKER_HOST" \
	2> "$work/dw.err" | stamp > "$work/dw.out" &
pids="$pids $!"
sh -c 'echo $$ > "$1"; exec docker --host "$2" events --filter type=container --filter event=start --format "{{.ID}} {{.TimeNano}}"' \
	sh "$work/de.pid" "$DOCKER_HOST" 2> "$work/de.err" | stamp > "$work/de.out" &
pids="$pids $!"
for i in $(seq 1 100); do
	[ -s "$work/dw.pid" ] && [ -s "$work/de.pid" ] && grep -q ' done docker$' "$work/dw.out" && break
	sleep 0.1
done
dw=$(cat "$work/dw.pid")
de=$(cat "$work/de.pid")
pids="$pids $dw $de"
sleep 1
rss_dw_idle=$(rss_kb "$dw")
rss_de_idle=$(rss_kb "$de")

# Sequential starts for the latency samples.
base=20000
: > "$work/ids"
for i in $(seq 1 "$SAMPLES"); do
	d run -d -p "$((base + i)):80" "$DOCKER_IMAGE" sleep 1000 >> "$work/ids"
done
# Wait until every sample was seen by both.
for i in $(seq 1 300); do
	[ "$(grep -c ' add docker/' "$work/dw.out")" -ge $((SAMPLES * 2)) ] &&
		[ "$(wc -l < "$work/de.out")" -ge "$SAMPLES" ] && break
	sleep 0.1
done

# Daemon timestamps per container from docker events: "ARRIVAL ID TIMENANO".
awk '{ print $2, $3 }' "$work/de.out" | sort > "$work/start-times"
# docker events latency: arrival - timeNano.
awk '{ print $1 - $3 }' "$work/de.out" > "$work/de.lat"
# docker-watch latency: first add line per container - timeNano.
awk '$2 == "add" { split($3, o, "/"); if (!(o[2] in seen)) { seen[o[2]] = $1; print o[2], $1 } }' "$work/dw.out" |
	sort > "$work/dw-first"
join "$work/dw-first" "$work/start-times" | awk '{ print $2 - $3 }' > "$work/dw.lat"
read -r dw_p50 dw_p99 < <(percentiles < "$work/dw.lat")
read -r de_p50 de_p99 < <(percentiles < "$work/de.lat")
dw_n=$(wc -l < "$work/dw.lat")
de_n=$(wc -l < "$work/de.lat")

# Burst: BURST containers started concurrently, 16 docker CLIs at a time.
burst_base=30000
seq 1 "$BURST" | xargs -P 16 -I{} sh -c \
	'docker --host "$1" run -d -p "$(($2 + {})):80" "$3" sleep 1000 >> "$4" 2>>"$5"' \
	sh "$DOCKER_HOST" "$burst_base" "$DOCKER_IMAGE" "$work/burst-ids" "$work/burst.err"
burst_started=$(wc -l < "$work/burst-ids")
for i in $(seq 1 600); do
	[ "$(grep -c ' add docker/' "$work/dw.out")" -ge $(((SAMPLES + burst_started) * 2)) ] && break
	sleep 0.1
done
sleep 2
# Exactly once: each burst container has one add per host address (0.0.0.0
# and ::) of its port, and no line is repeated.
burst_adds=$(grep -cFf "$work/burst-ids" "$work/dw.out" || true)
duplicates=$(cut -d' ' -f2- "$work/dw.out" | sort | uniq -d | wc -l)
missing=0
while read -r id; do
	n=$(grep -c " add docker/$id " "$work/dw.out" || true)
	[ "$n" -eq 2 ] || missing=$((missing + 1))
done < "$work/burst-ids"
rss_dw_busy=$(rss_kb "$dw")
rss_de_busy=$(rss_kb "$de")

ratio() {
	awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'
}

cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
{
	echo "## docker-watch"
	echo
	echo "Made by \`bench/docker-watch.sh\` on $(date -u +%Y-%m-%d): $(nproc) CPUs ($cpu),"
	echo "Linux $(uname -r), dockerd $(d version --format '{{.Server.Version}}') (API $(d version --format '{{.Server.APIVersion}}'), vfs storage,"
	echo "in its own network namespace), other developers' jobs running on the same machine."
	echo "Latency is from the daemon's event timestamp (timeNano) to the line's arrival"
	echo "in a reader process, over $SAMPLES containers started one after another."
	echo
	echo "| measure | docker-watch | docker events | ratio |"
	echo "|---|---|---|---|"
	echo "| start → line, p50 (µs) | $dw_p50 | $de_p50 | $(ratio "$dw_p50" "$de_p50") |"
	echo "| start → line, p99 (µs) | $dw_p99 | $de_p99 | $(ratio "$dw_p99" "$de_p99") |"
	echo "| samples | $dw_n | $de_n | |"
	echo "| RSS idle (KiB) | $rss_dw_idle | $rss_de_idle | $(ratio "$rss_dw_idle" "$rss_de_idle") |"
	echo "| RSS after the burst (KiB) | $rss_dw_busy | $rss_de_busy | $(ratio "$rss_dw_busy" "$rss_de_busy") |"
	echo
	echo "docker-watch's line comes after an inspect of the container (one more API"
	echo "round trip); \`docker events\` prints the start event itself, which carries no ports."
	echo
	echo "Burst: $BURST containers started concurrently (16 CLI processes): $burst_started started,"
	echo "$burst_adds add lines for them (2 expected per container: 0.0.0.0 and ::),"
	echo "$missing containers without exactly 2, $duplicates repeated lines."
} > "$BENCH_OUT"
cat "$BENCH_OUT"
