#!/bin/sh
# Benchmarks listen-hold and writes a Markdown section to $BENCH_OUT:
#   * size of out/rdagent;
#   * RSS of listen-hold idle and holding 1,000 TCP bindings;
#   * latency from an "add" line written to its socket accepting a
#     connection (p50, p99 over 300 ports);
#   * wake-ups (context switches) over 60 s idle while holding 1,000 ports;
#   * time for 1,000, 10,000 and 20,000 adds, and as many deletes, piped
#     in at once, in a private network namespace (SCALE_COUNTS), and the
#     same for the binary named by OLD_RDAGENT when it is set (labelled
#     OLD_LABEL in the table).
# In the same run it measures the nearest existing tools: "busybox nc -l"
# holding one port (one process per port, the classic placeholder) and a
# python3 process holding the same 1,000 ports with selectors.
# Every socket is on 127.0.0.1; ports are random and checked free.
set -eu
cd "$(dirname "$0")/.."
: "${BENCH_OUT:=out/bench/listen-hold.md}"
IDLE_SECONDS=${IDLE_SECONDS:-60}
COUNT=1000
SAMPLES=300
work=$(mktemp -d /tmp/bench-listen-hold.XXXXXX)
SCALE_COUNTS=${SCALE_COUNTS:-1000 10000 20000}
OLD_RDAGENT=${OLD_RDAGENT:-}
OLD_LABEL=${OLD_LABEL:-$OLD_RDAGENT}
netns=rdbench-lh-$$
pids=

cleanup() {
	for p in $pids; do
		kill "$p" 2>/dev/null || true
	done
	exec 5>&- 2>/dev/null || true
	ip netns delete "$netns" 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT INT TERM

# Prints a base port B such that B .. B+span-1 are all free on TCP.
free_range() {
	span=$1
	while :; do
		base=$(python3 -c 'import random; print(random.randint(20000, 60000 - '"$span"'))')
		used=$(ss -Htan | awk -v lo="$base" -v hi="$((base + span - 1))" '
			{ n = split($4, a, ":"); p = a[n] + 0; if (p >= lo && p <= hi) c++ }
			END { print c + 0 }')
		[ "$used" = 0 ] && { echo "$base"; return; }
	done
}

status_field() {
	awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"
}

switches() {
	echo $(( $(status_field "$1" voluntary_ctxt_switches) + $(status_field "$1" nonvoluntary_ctxt_switches) ))
}

listening_count() {
	ss -Hltn "( sport >= :$1 and sport < :$(($1 + $2)) )" | wc -l
}

wait_listening() {
	i=0
	while [ "$(listening_count "$1" "$2")" -lt "$2" ]; do
		i=$((i + 1))
		[ "$i" -lt 600 ] || { echo "bench: timed out waiting for $2 listeners" >&2; exit 1; }
		sleep 0.05
	done
}

size=$(stat -c %s out/rdagent)

# --- listen-hold: idle, then 1,000 bindings ---
mkfifo "$work/in"
# Processes started after fd 5 opens must not inherit it: listen-hold
# only sees end of input once every writer has closed the FIFO.
out/rdagent listen-hold -q < "$work/in" 2> "$work/lh.log" &
lh=$!
pids="$pids $lh"
exec 5> "$work/in"
sleep 0.5
rss_idle=$(status_field "$lh" VmRSS)

base=$(free_range "$COUNT")
i=0
while [ "$i" -lt "$COUNT" ]; do
	echo "add bench/b$i tcp 127.0.0.1 $((base + i)) 80"
	i=$((i + 1))
done >&5
wait_listening "$base" "$COUNT"
sleep 0.5
rss_1000=$(status_field "$lh" VmRSS)

# --- reference: python3 holding the same number of ports ---
pybase=$(free_range "$COUNT")
python3 -c '
import selectors, socket, sys
base, count = int(sys.argv[1]), int(sys.argv[2])
sel = selectors.DefaultSelector()
for port in range(base, base + count):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", port))
    s.listen(64)
    s.setblocking(False)
    sel.register(s, selectors.EVENT_READ)
while True:
    for key, _ in sel.select():
        try:
            key.fileobj.accept()[0].close()
        except BlockingIOError:
            pass
' "$pybase" "$COUNT" 5>&- &
py=$!
pids="$pids $py"
wait_listening "$pybase" "$COUNT"
sleep 0.5
rss_py=$(status_field "$py" VmRSS)

# --- reference: busybox nc -l holding one port ---
have_nc=0
if command -v busybox >/dev/null 2>&1 && busybox nc --help 2>&1 | grep -q -- '-l'; then
	have_nc=1
	ncport=$(free_range 1)
	busybox nc -l -p "$ncport" < /dev/null > /dev/null 2>&1 5>&- &
	nc=$!
	pids="$pids $nc"
	wait_listening "$ncport" 1
	sleep 0.5
	rss_nc=$(status_field "$nc" VmRSS)
fi

# --- wake-ups over IDLE_SECONDS, all three in the same window ---
lh_before=$(switches "$lh")
py_before=$(switches "$py")
[ "$have_nc" = 1 ] && nc_before=$(switches "$nc")
sleep "$IDLE_SECONDS"
lh_wakeups=$(( $(switches "$lh") - lh_before ))
py_wakeups=$(( $(switches "$py") - py_before ))
[ "$have_nc" = 1 ] && nc_wakeups=$(( $(switches "$nc") - nc_before ))

# --- latency: add line written -> connect() succeeds ---
latbase=$(free_range "$SAMPLES")
python3 - "$work/in" "$latbase" "$SAMPLES" > "$work/lat" <<'EOF'
import os, socket, sys, time
fifo, base, samples = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
fd = os.open(fifo, os.O_WRONLY)
result = []
for i in range(samples):
    port = base + i
    line = f"add bench/lat{i} tcp 127.0.0.1 {port} 80\n".encode()
    start = time.perf_counter_ns()
    os.write(fd, line)
    while True:
        s = socket.socket()
        try:
            s.connect(("127.0.0.1", port))
            break
        except ConnectionRefusedError:
            pass
        finally:
            s.close()
    result.append((time.perf_counter_ns() - start) / 1000)
result.sort()
print(f"{result[len(result) // 2]:.0f} {result[len(result) * 99 // 100]:.0f}")
EOF
read -r lat_p50 lat_p99 < "$work/lat"

# Reference latency: starting one "busybox nc -l" per port, as a script
# that keeps a placeholder process per port would.
nc_lat="n/a"
if [ "$have_nc" = 1 ]; then
	ncbase=$(free_range 50)
	nc_lat=$(python3 - "$ncbase" <<'EOF'
import socket, subprocess, sys, time
base = int(sys.argv[1])
result, procs = [], []
for i in range(50):
    port = base + i
    start = time.perf_counter_ns()
    procs.append(subprocess.Popen(["busybox", "nc", "-l", "-p", str(port)],
                                  stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL))
    while True:
        s = socket.socket()
        try:
            s.connect(("127.0.0.1", port))
            break
        except ConnectionRefusedError:
            pass
        finally:
            s.close()
    result.append((time.perf_counter_ns() - start) / 1000)
for p in procs:
    p.kill()
    p.wait()
result.sort()
print(f"{result[len(result) // 2]:.0f} {result[len(result) * 99 // 100]:.0f}")
EOF
)
fi

exec 5>&-
wait "$lh" || true
pids="$py ${nc:-}"

# --- scaling: N adds, then N adds and N deletes, piped in at once ---
# Prints "wall user system" in seconds for BINARY reading the events in
# FILE through a pipe.  The run ends at end of input, after every socket
# is closed.
scale_run() {
	ip netns exec "$netns" /usr/bin/time -f '%e %U %S' -o "$work/time" \
		sh -c 'cat "$2" | "$1" listen-hold -q' sh "$1" "$2" \
		2> "$work/scale.log"
	cat "$work/time"
}

# Prints a table row: COUNT, then adds and deletes for each binary.
scale_row() {
	row="| $1"
	awk -v n="$1" 'BEGIN { for (i = 0; i < n; i++) printf "add b/%d tcp 127.0.0.1 %d -\n", i, 10000 + i }' \
		> "$work/adds"
	sed 's/^add/del/' "$work/adds" | cat "$work/adds" - > "$work/both"
	for bin in out/rdagent $OLD_RDAGENT; do
		read -r add_wall add_user add_sys <<-EOF
		$(scale_run "$bin" "$work/adds")
		EOF
		read -r both_wall both_user both_sys <<-EOF
		$(scale_run "$bin" "$work/both")
		EOF
		row="$row | $add_wall s ($(echo "$add_user $add_sys" | awk '{ printf "%.2f", $1 + $2 }') s CPU)"
		row="$row | $(echo "$both_wall $add_wall" | awk '{ d = $1 - $2; printf "%.2f", d < 0 ? 0 : d }') s"
	done
	echo "$row |"
}

ip netns add "$netns"
ip -n "$netns" link set lo up
scale_rows=
for n in $SCALE_COUNTS; do
	scale_rows="$scale_rows$(scale_row "$n")
"
done

cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
load=$(cut -d' ' -f1-3 /proc/loadavg)
{
	echo "## listen-hold"
	echo
	echo "Measured by \`bench/listen-hold.sh\` on $(date -u +%Y-%m-%d), $(nproc) x $cpu,"
	echo "Linux $(uname -r), load average $load at the end (other work shared the"
	echo "machine, which shows most in p99). Sockets on 127.0.0.1."
	echo
	echo "| measure | listen-hold | reference, same run |"
	echo "|---|---|---|"
	echo "| binary size (all applets, stripped, static) | $size bytes | |"
	if [ "$have_nc" = 1 ]; then
		echo "| RSS idle, no bindings | $rss_idle kB | busybox nc -l holding 1 port: $rss_nc kB |"
	else
		echo "| RSS idle, no bindings | $rss_idle kB | |"
	fi
	echo "| RSS holding $COUNT TCP ports | $rss_1000 kB | python3 selectors, one process: $rss_py kB |"
	echo "| context switches over ${IDLE_SECONDS} s idle, $COUNT ports held | $lh_wakeups | python3: $py_wakeups$([ "$have_nc" = 1 ] && echo "; busybox nc -l (1 port): $nc_wakeups") |"
	echo "| add line written -> port accepts, p50 / p99 ($SAMPLES ports) | $lat_p50 / $lat_p99 µs | start busybox nc -l per port (50 ports): $(echo "$nc_lat" | awk '{ if (NF == 2) printf "%s / %s µs", $1, $2; else print $0 }') |"
	echo
	echo "Latency is measured by a python3 client that writes the line to the FIFO"
	echo "listen-hold reads and then retries connect() until it succeeds, so it"
	echo "includes the client's own retry loop. Each add written alone runs one"
	echo "inet_diag query (filtered to the port) before bind. Context switches are"
	echo "voluntary + nonvoluntary from /proc/PID/status; listen-hold sleeps in"
	echo "epoll_wait with no timer while nothing changes. A connection to any held"
	echo "port still wakes it (to accept and close), and other test suites on a"
	echo "shared machine pick random ports in the same 20000-60000 range, so a"
	echo "count of a few can come from them rather than from listen-hold."
	echo
	echo "### Many ports at once"
	echo
	echo "N adds (\`add b/I tcp 127.0.0.1 10000+I -\`) piped from awk into"
	echo "\`listen-hold -q\` in a private network namespace, until end of input"
	echo "closed every socket; then the same adds followed by N deletes, and"
	echo "the deletes column is the difference of the two wall times. CPU is"
	echo "user + system of the whole pipeline. With the hard limit of $(ulimit -Hn)"
	echo "descriptors here, the last few sockets of a 20,000-port run fail with"
	echo "EMFILE and wait for a retry until end of input."
	echo
	if [ -n "$OLD_RDAGENT" ]; then
		echo "| N | this build: adds | deletes | before ($OLD_LABEL): adds | deletes |"
		echo "|---|---|---|---|---|"
	else
		echo "| N | adds | deletes |"
		echo "|---|---|---|"
	fi
	printf '%s' "$scale_rows"
} > "$BENCH_OUT"
cat "$BENCH_OUT"
