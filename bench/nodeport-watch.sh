#!/bin/sh
# Benchmark for nodeport-watch against the test API server (real TLS):
#   1. watch frame -> "add" line latency, p50 and p99 over 300 changes,
#      side by side with `kubectl get svc -A -w` seeing the same changes;
#   2. RSS of both after that run;
#   3. initial list of 5,000 Services: time from start to "done", and
#      kubectl's time to print the same list.
# Writes a Markdown section to $BENCH_OUT.  Run: sh bench/run.sh nodeport-watch
set -eu
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
cd "$(dirname "$0")/.."
BENCH_OUT=${BENCH_OUT:-/dev/stdout}
. tests/integration/helpers/nodeport-watch.bash

NPW_DIR=$(mktemp -d /tmp/npw-bench.XXXXXX)
PKI=$NPW_DIR/pki
export NPW_DIR PKI
trap 'for f in "$NPW_DIR"/*.pid; do npw_stop_pidfile "$f"; done; rm -rf "$NPW_DIR"' EXIT
npw_make_pki
PORT=$(npw_free_port)
CTL=$(npw_free_port)
while [ "$CTL" = "$PORT" ]; do CTL=$(npw_free_port); done
npw_start_apiserver bench "$PORT" "$CTL"
npw_wait_port "$PORT"
npw_kubeconfig "$NPW_DIR/kc" "https://127.0.0.1:$PORT"

python3 - "$RDAGENT" "$NPW_DIR/kc" "$CTL" "$BENCH_OUT" <<'PY'
import http.client, json, os, statistics, subprocess, sys, threading, time

rdagent, kubeconfig, ctl, out = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
CHANGES = 300
BULK = 5000

def post(path, body=b""):
    # http.client connects directly; it never reads proxy variables.
    c = http.client.HTTPConnection("127.0.0.1", ctl, timeout=60)
    c.request("POST", path, body)
    r = c.getresponse()
    data = r.read()
    c.close()
    return data

def service(i):
    return json.dumps({"kind": "Service", "apiVersion": "v1",
        "metadata": {"name": "lat-%d" % i, "namespace": "bench"},
        "spec": {"type": "NodePort", "ports": [{"protocol": "TCP", "port": 80, "targetPort": 80,
                                               "nodePort": 30000 + i}]}}).encode()

class Reader:
    """Timestamps the first line that contains each key."""
    def __init__(self, proc, key_of):
        self.proc, self.key_of, self.seen, self.cond = proc, key_of, {}, threading.Condition()
        threading.Thread(target=self.run, daemon=True).start()
    def run(self):
        for line in self.proc.stdout:
            t = time.monotonic()
            k = self.key_of(line.decode(errors="replace"))
            if k is not None:
                with self.cond:
                    self.seen.setdefault(k, t)
                    self.cond.notify_all()
    def wait(self, key, timeout=10):
        end = time.monotonic() + timeout
        with self.cond:
            while key not in self.seen and time.monotonic() < end:
                self.cond.wait(0.5)
            return self.seen.get(key)

def npw_key(line):
    p = line.split()
    if len(p) >= 2 and p[0] == "add" and p[1].startswith("kubernetes/bench/"):
        return p[1].rsplit("/", 1)[1]
    if p[:1] == ["done"]:
        return "#done"
    return None

def kubectl_key(line):
    line = line.strip()
    if line.startswith("service/lat-"):
        return line[len("service/"):]
    if line == "service/web":
        return "#listed"
    return None

def rss_kb(pid):
    vals = {}
    with open("/proc/%d/status" % pid) as f:
        for l in f:
            if l.startswith(("VmRSS:", "VmHWM:")):
                vals[l.split(":")[0]] = int(l.split()[1])
    return vals

npw = subprocess.Popen([rdagent, "nodeport-watch", "--kubeconfig", kubeconfig, "-q"],
                       stdout=subprocess.PIPE)
cache = os.path.join(os.path.dirname(kubeconfig), "kube-cache")
kubectl = subprocess.Popen(["kubectl", "--kubeconfig", kubeconfig, "--cache-dir", cache,
                            "get", "svc", "-A", "-w", "-o", "name"],
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
rn, rk = Reader(npw, npw_key), Reader(kubectl, kubectl_key)
assert rn.wait("#done", 30) and rk.wait("#listed", 60), "watchers did not start"
time.sleep(1)
lat_n, lat_k = [], []
for i in range(CHANGES):
    t0 = time.monotonic()
    post("/ctl/apply", service(i))
    tn, tk = rn.wait("lat-%d" % i), rk.wait("lat-%d" % i)
    if tn: lat_n.append((tn - t0) * 1000)
    if tk: lat_k.append((tk - t0) * 1000)
rss_n, rss_k = rss_kb(npw.pid), rss_kb(kubectl.pid)
for p in (npw, kubectl):
    p.terminate()
    p.wait()

def pct(v, q):
    v = sorted(v)
    return v[min(len(v) - 1, int(round(q * (len(v) - 1))))]

# Initial list of BULK services.
post("/ctl/bulk?count=%d" % BULK)
t0 = time.monotonic()
r = subprocess.run([rdagent, "nodeport-watch", "--kubeconfig", kubeconfig, "--once", "-q"],
                   stdout=subprocess.PIPE, check=True)
list_n = time.monotonic() - t0
adds = sum(1 for l in r.stdout.decode().splitlines() if l.startswith("add kubernetes/bulk/"))
t0 = time.monotonic()
r = subprocess.run(["kubectl", "--kubeconfig", kubeconfig, "--cache-dir", cache, "get", "svc", "-A", "-o", "name"],
                   stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, check=True)
list_k = time.monotonic() - t0
listed_k = sum(1 for l in r.stdout.decode().splitlines() if l.startswith("service/bulk-"))

cpu = "unknown"
with open("/proc/cpuinfo") as f:
    for l in f:
        if l.startswith("model name"):
            cpu = l.split(":", 1)[1].strip()
            break
kv = subprocess.run(["kubectl", "version", "--client"], stdout=subprocess.PIPE).stdout.decode().splitlines()[0]
with open(out, "w") as f:
    f.write("## nodeport-watch\n\n")
    f.write("Made by `bench/nodeport-watch.sh` on %s, %d CPUs (%s), against the test API\n"
            "server (`tests/integration/helpers/kube_apiserver.py`, Python, real TLS with client\n"
            "certificates), with %s in the same run. Other work shared the machine.\n\n"
            % (time.strftime("%Y-%m-%d"), os.cpu_count(), cpu, kv))
    f.write("Latency: from the control request that makes the server write a watch frame\n"
            "to the line on the tool's stdout, %d changes, one at a time. Both columns\n"
            "include the Python server's request handling and thread handoff; the gap\n"
            "between the columns is the tools' own cost.\n\n" % CHANGES)
    f.write("| measure | nodeport-watch | kubectl get svc -A -w -o name | ratio |\n|---|---|---|---|\n")
    f.write("| frame -> line p50 | %.2f ms | %.2f ms | %.1fx |\n" % (pct(lat_n, .5), pct(lat_k, .5), pct(lat_k, .5) / pct(lat_n, .5)))
    f.write("| frame -> line p99 | %.2f ms | %.2f ms | %.1fx |\n" % (pct(lat_n, .99), pct(lat_k, .99), pct(lat_k, .99) / pct(lat_n, .99)))
    f.write("| changes seen | %d/%d | %d/%d | |\n" % (len(lat_n), CHANGES, len(lat_k), CHANGES))
    f.write("| RSS after the run (VmRSS) | %d KiB | %d KiB | %.0fx |\n" % (rss_n["VmRSS"], rss_k["VmRSS"], rss_k["VmRSS"] / rss_n["VmRSS"]))
    f.write("| peak RSS (VmHWM) | %d KiB | %d KiB | %.0fx |\n" % (rss_n["VmHWM"], rss_k["VmHWM"], rss_k["VmHWM"] / rss_n["VmHWM"]))
    f.write("| initial list of %d Services, start to end of output | %.2f s (%d adds, to `done`) | %.2f s (%d names) | %.1fx |\n\n"
            % (BULK, list_n, adds, list_k, listed_k, list_k / list_n))
    f.write("Both list times include the Python server's JSON encoding; nodeport-watch\n"
            "also makes one TLS connection per 500-item page.\n")
PY
