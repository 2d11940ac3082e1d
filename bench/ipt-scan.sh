#!/bin/sh
# Benchmarks ipt-scan in nf_tables mode against the reference agents'
# method, a loop that runs `iptables -t nat -S` every 3 seconds, in the
# same run and the same network namespace:
#   1. rule written -> port-event line latency (p50, p99), both detectors
#      watching the same rules written one by one with iptables-restore;
#   2. time to scan 10,000 rules (ipt-scan --once vs iptables -t nat -S);
#   3. CPU time and wake-ups over 60 s idle, both running side by side.
# Writes its Markdown section to $BENCH_OUT.  Needs root (it creates a
# network namespace) and out/rdagent.
set -eu
cd "$(dirname "$0")/.."
BENCH_OUT=${BENCH_OUT:-/dev/stdout}
ns=iptscan-bench-$$
ip netns add "$ns"
trap 'ip netns del "$ns" 2>/dev/null || true' EXIT INT TERM

python3 - "$ns" "$BENCH_OUT" <<'PY'
import os, statistics, subprocess, sys, threading, time

ns, out_path = sys.argv[1], sys.argv[2]
RDAGENT = os.path.abspath('out/rdagent')
LOOP_SECONDS = 3
RULES = 60
SPACING = 0.25
IDLE_SECONDS = 60


def in_ns(*args, **kw):
    return subprocess.run(['ip', 'netns', 'exec', ns] + list(args), check=True, **kw)


def pct(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def proc_stat(pid):
    """utime+stime+cutime+cstime in seconds, and context switches."""
    with open(f'/proc/{pid}/stat') as f:
        fields = f.read().rsplit(')', 1)[1].split()
    ticks = os.sysconf('SC_CLK_TCK')
    cpu = sum(int(fields[i]) for i in (11, 12, 13, 14)) / ticks
    switches = 0
    with open(f'/proc/{pid}/status') as f:
        for line in f:
            if 'ctxt_switches' in line:
                switches += int(line.split()[1])
    return cpu, switches


def rss_kb(pid):
    with open(f'/proc/{pid}/status') as f:
        for line in f:
            if line.startswith('VmRSS:'):
                return int(line.split()[1])
    return 0


# ---- 1. latency ----
in_ns('iptables', '-t', 'nat', '-N', 'CNI-DN-bench')
scan = subprocess.Popen(['ip', 'netns', 'exec', ns, RDAGENT, 'ipt-scan', '--backend', 'nft'],
                        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, bufsize=1)
seen_scan = {}
ready = threading.Event()


def read_scan():
    for line in scan.stdout:
        now = time.monotonic()
        if line.startswith('done '):
            ready.set()
        parts = line.split()
        if parts and parts[0] == 'add':
            seen_scan.setdefault(int(parts[4]), now)


threading.Thread(target=read_scan, daemon=True).start()
ready.wait(10)

seen_loop = {}
stop_loop = threading.Event()


def reference_loop():
    while not stop_loop.is_set():
        text = subprocess.run(['ip', 'netns', 'exec', ns, 'iptables', '-t', 'nat', '-S'],
                              capture_output=True, text=True).stdout
        now = time.monotonic()
        for line in text.splitlines():
            if '-j DNAT' in line and '--dport' in line:
                port = int(line.split('--dport')[1].split()[0])
                seen_loop.setdefault(port, now)
        stop_loop.wait(LOOP_SECONDS)


loop_thread = threading.Thread(target=reference_loop, daemon=True)
loop_thread.start()
writer = subprocess.Popen(['ip', 'netns', 'exec', ns, 'iptables-restore', '--noflush'],
                          stdin=subprocess.PIPE, text=True, bufsize=1)
written = {}
time.sleep(0.5)
for i in range(RULES):
    port = 20000 + i
    rule = (f'*nat\n-A CNI-DN-bench -p tcp -m tcp --dport {port} '
            f'-j DNAT --to-destination 10.9.0.{i % 250 + 1}:80\nCOMMIT\n')
    written[port] = time.monotonic()
    writer.stdin.write(rule)
    writer.stdin.flush()
    time.sleep(SPACING)
time.sleep(LOOP_SECONDS + 2)
stop_loop.set()
writer.stdin.close()
writer.wait()
loop_thread.join()

lat_scan = [(seen_scan[p] - t) * 1000 for p, t in written.items() if p in seen_scan]
lat_loop = [(seen_loop[p] - t) * 1000 for p, t in written.items() if p in seen_loop]
scan_pid = scan.pid

# ---- 3. idle, before the 10,000 rules so both watch the same small table ----
time.sleep(1)
# The ip netns exec process execs ipt-scan, so scan.pid is ipt-scan itself.
loop = subprocess.Popen(['ip', 'netns', 'exec', ns, 'sh', '-c',
                         f'while :; do iptables -t nat -S > /dev/null; sleep {LOOP_SECONDS}; done'])
time.sleep(0.5)
scan_cpu0, scan_sw0 = proc_stat(scan_pid)
loop_cpu0, loop_sw0 = proc_stat(loop.pid)
time.sleep(IDLE_SECONDS)
scan_cpu1, scan_sw1 = proc_stat(scan_pid)
loop_cpu1, loop_sw1 = proc_stat(loop.pid)
scan_rss = rss_kb(scan_pid)
loop.terminate()
loop.wait()
scan.terminate()
scan.wait()

# ---- 2. scanning 10,000 rules ----
lines = ['*nat']
for c in range(100):
    lines.append(f':CNI-DN-big{c} - [0:0]')
for c in range(100):
    for p in range(100):
        lines.append(f'-A CNI-DN-big{c} -p tcp -m tcp --dport {30000 + c * 100 + p} '
                     f'-j DNAT --to-destination 10.{c}.{p}.1:80')
lines.append('COMMIT\n')
in_ns('iptables-restore', '--noflush', input='\n'.join(lines), text=True)


def timed(args, runs=5):
    times = []
    for _ in range(runs):
        t = time.monotonic()
        r = subprocess.run(['ip', 'netns', 'exec', ns] + args, capture_output=True, text=True)
        times.append((time.monotonic() - t) * 1000)
    return statistics.median(times), r.stdout


scan_ms, scan_out = timed([RDAGENT, 'ipt-scan', '--once', '--backend', 'nft'])
save_ms, _ = timed(['iptables', '-t', 'nat', '-S'])
bindings = sum(1 for l in scan_out.splitlines() if l.startswith('add '))

cpu = subprocess.run(['sh', '-c', "grep -m1 'model name' /proc/cpuinfo | cut -d: -f2"],
                     capture_output=True, text=True).stdout.strip()
kernel = os.uname().release
iptv = subprocess.run(['iptables', '--version'], capture_output=True, text=True).stdout.strip()

with open(out_path, 'w') as f:
    f.write(f'''## ipt-scan

Measured by `sh bench/run.sh ipt-scan` (bench/ipt-scan.sh) on {cpu},
{os.cpu_count()} cores, kernel {kernel}, {iptv}, inside a network namespace.
The reference is the reference agents' method: `iptables -t nat -S` every
{LOOP_SECONDS} s, run in the same namespace at the same time.

### Rule written → port-event line

{RULES} DNAT rules written one at a time ({SPACING * 1000:.0f} ms apart) through one
`iptables-restore --noflush` process; the clock starts when the rule is
written to its stdin and stops when the detector reports the port.

| detector | detected | p50 | p99 | max |
|---|---|---|---|---|
| ipt-scan (nf_tables events) | {len(lat_scan)}/{RULES} | {pct(lat_scan, 50):.1f} ms | {pct(lat_scan, 99):.1f} ms | {max(lat_scan):.1f} ms |
| `iptables -t nat -S` every {LOOP_SECONDS} s | {len(lat_loop)}/{RULES} | {pct(lat_loop, 50):.0f} ms | {pct(lat_loop, 99):.0f} ms | {max(lat_loop):.0f} ms |

p50 ratio (loop / ipt-scan): {pct(lat_loop, 50) / max(pct(lat_scan, 50), 0.001):.0f}×.

### Scanning 10,000 rules

100 `CNI-DN-` chains of 100 DNAT rules each; median of 5 runs, wall time
including process start.

| command | time | result |
|---|---|---|
| `ipt-scan --once --backend nft` | {scan_ms:.0f} ms | {bindings} bindings |
| `iptables -t nat -S` | {save_ms:.0f} ms | text only |

### Idle for {IDLE_SECONDS} s

Both run side by side over {IDLE_SECONDS} s with no rule changes ({RULES} rules in the
table). CPU time is user + system, for the loop including the iptables
processes it ran (cutime + cstime of its shell); context switches are the
process's own voluntary + involuntary switches (for the loop, its shell
only, so a lower bound).

| detector | CPU time | context switches | RSS |
|---|---|---|---|
| ipt-scan | {(scan_cpu1 - scan_cpu0) * 1000:.0f} ms | {scan_sw1 - scan_sw0} | {scan_rss} KiB |
| `iptables -t nat -S` every {LOOP_SECONDS} s | {(loop_cpu1 - loop_cpu0) * 1000:.0f} ms | {loop_sw1 - loop_sw0} | - |
''')
PY
