#!/bin/sh
# Benchmarks vtunnel-send against the test stand-in for the Privileged
# Service on a unix socket, with --interface lo:
#   - latency from writing one add line to the service having decoded its
#     message (p50, p99 over 300 lines), with the default 5 ms batch window
#     and with --batch 0;
#   - a burst of 1,000 owners written at once: time until the service has
#     all 1,000 messages;
#   - RSS of vtunnel-send idle and after the burst, and of vtunnel-peer idle.
# No reference tool runs: Rancher Desktop's Go guest agent needs WSL and
# the Windows service, which this machine does not have.
set -eu
cd "$(dirname "$0")/.."
: "${BENCH_OUT:?set by bench/run.sh}"
dir=$(mktemp -d "${TMPDIR:-/tmp}/vtunnel-bench.XXXXXX")
trap 'rm -rf "$dir"' EXIT

python3 - "$dir" "$BENCH_OUT" <<'EOF'
import os, platform, socket, subprocess, sys, threading, time

dir, out = sys.argv[1], sys.argv[2]
rdagent = os.path.abspath("out/rdagent")

def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])

class Service:
    """Accepts, reads one message to the sender's half-close, closes."""
    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(path)
        self.sock.listen(1024)
        self.count = 0
        self.cond = threading.Condition()
        threading.Thread(target=self.run, daemon=True).start()

    def run(self):
        while True:
            conn, _ = self.sock.accept()
            data = b""
            while not data.endswith(b"\n"):
                chunk = conn.recv(65536)
                if not chunk:
                    break
                data += chunk
            conn.close()
            with self.cond:
                self.count += 1
                self.cond.notify_all()

    def wait(self, n, timeout=60):
        with self.cond:
            return self.cond.wait_for(lambda: self.count >= n, timeout)

def start_sender(path, *args):
    return subprocess.Popen([rdagent, "vtunnel-send", "--to", "unix:" + path, "--interface", "lo",
                             "-q", *args], stdin=subprocess.PIPE, bufsize=0)

def latency(batch_args, n=300):
    path = os.path.join(dir, "lat%d.sock" % len(batch_args))
    svc = Service(path)
    p = start_sender(path, *batch_args)
    time.sleep(0.3)
    samples = []
    for i in range(n):
        before = svc.count
        t0 = time.monotonic_ns()
        p.stdin.write(b"add docker/lat%d tcp 0.0.0.0 %d 80\n" % (i, 10000 + i))
        if not svc.wait(before + 1):
            sys.exit("vtunnel-send bench: message %d was not received" % i)
        samples.append((time.monotonic_ns() - t0) / 1e6)
    p.stdin.close()
    p.wait(10)
    samples.sort()
    return samples[len(samples) // 2], samples[int(len(samples) * 0.99)]

def burst(n=1000):
    path = os.path.join(dir, "burst.sock")
    svc = Service(path)
    p = start_sender(path)
    time.sleep(0.3)
    idle = rss_kb(p.pid)
    lines = b"".join(b"add docker/burst%d tcp 0.0.0.0 %d 80\n" % (i, 20000 + i) for i in range(n))
    t0 = time.monotonic()
    p.stdin.write(lines)
    ok = svc.wait(n)
    elapsed = time.monotonic() - t0
    after = rss_kb(p.pid)
    p.stdin.close()
    p.wait(30)
    return ok, elapsed, idle, after

def peer_rss():
    path = os.path.join(dir, "peer.sock")
    p = subprocess.Popen([rdagent, "vtunnel-peer", "--listen", "unix:" + path, "--to",
                          "unix:" + os.path.join(dir, "up.sock"), "--no-handshake", "-q"])
    time.sleep(0.3)
    kb = rss_kb(p.pid)
    p.terminate()
    p.wait(10)
    return kb

p50, p99 = latency([])
p50_0, p99_0 = latency(["--batch", "0"])
ok, elapsed, idle, after = burst()
peer = peer_rss()
cpu = "unknown"
with open("/proc/cpuinfo") as f:
    for line in f:
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break

with open(out, "w") as f:
    f.write("## vtunnel-send and vtunnel-peer\n\n")
    f.write("Measured by `bench/vtunnel-send.sh` on %s (%d CPUs), kernel %s, with the\n"
            % (cpu, os.cpu_count(), platform.release()))
    f.write("Python stand-in for the Privileged Service on a unix socket. Other\n"
            "developers' jobs shared the machine, so the numbers are indicative.\n"
            "No reference tool ran: Rancher Desktop's Go agent needs WSL and the\n"
            "Windows service.\n\n")
    f.write("| measure | result |\n|---|---|\n")
    f.write("| add line to decoded message, default 5 ms batch window | p50 %.2f ms, p99 %.2f ms |\n" % (p50, p99))
    f.write("| add line to decoded message, `--batch 0` | p50 %.2f ms, p99 %.2f ms |\n" % (p50_0, p99_0))
    f.write("| 1,000 owners added in one burst: all messages decoded | %s in %.2f s (%.0f messages/s) |\n"
            % ("all" if ok else "NOT all", elapsed, 1000 / elapsed))
    f.write("| RSS of vtunnel-send, idle | %d KB |\n" % idle)
    f.write("| RSS of vtunnel-send after the burst (1,000 owners held) | %d KB |\n" % after)
    f.write("| RSS of vtunnel-peer, idle | %d KB |\n" % peer)
EOF
cat "$BENCH_OUT"
