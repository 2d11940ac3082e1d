#!/usr/bin/env python3
"""Test Kubernetes API server for nodeport-watch.

Serves core/v1 Services over real TLS (client-certificate verification,
optional bearer tokens) with the parts of the API that a list + watch
client and kubectl use: discovery (/api, /apis, /api/v1, /version),
GET /api/v1/services and /api/v1/namespaces/NS/services with limit and
continue paging, and chunked watch streams with bookmarks, resource
versions, 410 expiry (as an ERROR frame inside a 200 stream or as an HTTP
410), dropped connections and timeoutSeconds.

A plain-HTTP control endpoint on 127.0.0.1 lets a test change Services
and steer failures:

  POST /ctl/apply          body: a Service object; ADDED or MODIFIED
  POST /ctl/delete?namespace=NS&name=N
  POST /ctl/bulk?count=N   add N NodePort Services in one go (benchmarks)
  POST /ctl/bookmark       BOOKMARK frame to every watcher
  POST /ctl/expire?mode=frame|http&reason=Expired|Gone&code=410|none
                           forget history: open watches get an ERROR frame
                           ("frame", the default; reason and code as given,
                           "none" leaves the code out, to check that the
                           reason alone is enough) and older versions are
                           refused from then on
  POST /ctl/drop           close every watch connection without a final chunk
  POST /ctl/end            end every watch stream normally
  POST /ctl/fail?status=503&count=N  answer the next N API requests with
                           that status
  POST /ctl/expire-continue?count=N  answer the next N list requests that
                           carry a continue token with 410 Expired
  GET  /ctl/requests       JSON list of the API requests seen so far
  GET  /ctl/state          JSON: resourceVersion, services, watchers

Only the Python standard library is used.
"""
import argparse
import base64
import json
import queue
import socket
import ssl
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class State:
    def __init__(self, services):
        self.lock = threading.Lock()
        self.rv = 1000
        self.compacted = 0          # versions below this are expired
        self.expire_mode = "frame"
        self.services = {}          # (namespace, name) -> object
        self.history = []           # (rv, type, object)
        self.watchers = set()       # queues
        self.requests = []
        self.fail_status = 0
        self.fail_count = 0
        self.expire_continue = 0
        self.unavailable = 0
        for obj in services:
            self.apply_locked(obj, record=False)

    def next_rv(self):
        self.rv += 1
        return str(self.rv)

    def apply_locked(self, obj, record=True):
        meta = obj.setdefault("metadata", {})
        key = (meta.get("namespace", "default"), meta["name"])
        meta["namespace"] = key[0]
        kind = "MODIFIED" if key in self.services else "ADDED"
        meta["resourceVersion"] = self.next_rv()
        meta.setdefault("uid", "%08x-0000-4000-8000-%012x" % (self.rv, self.rv))
        meta.setdefault("creationTimestamp", time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
        obj.setdefault("kind", "Service")
        obj.setdefault("apiVersion", "v1")
        self.services[key] = obj
        if record:
            self.broadcast(kind, obj)
        return kind

    def delete_locked(self, namespace, name):
        obj = self.services.pop((namespace, name), None)
        if obj is None:
            return False
        obj = json.loads(json.dumps(obj))
        obj["metadata"]["resourceVersion"] = self.next_rv()
        self.broadcast("DELETED", obj)
        return True

    def broadcast(self, kind, obj):
        rv = int(obj["metadata"]["resourceVersion"])
        frame = {"type": kind, "object": obj}
        self.history.append((rv, frame))
        for q in list(self.watchers):
            q.put(("frame", frame))

    def sorted_services(self):
        return [self.services[k] for k in sorted(self.services)]


def status(code, reason, message):
    return {"kind": "Status", "apiVersion": "v1", "metadata": {},
            "status": "Failure", "message": message, "reason": reason, "code": code}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "kube-apiserver-test"

    def log_message(self, fmt, *args):
        if self.server.verbose:
            sys.stderr.write("apiserver: " + (fmt % args) + "\n")

    def send_json(self, code, obj, extra_headers=()):
        body = json.dumps(obj, separators=(",", ":")).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for k, v in extra_headers:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    # ---- authentication ----

    def authenticated(self):
        auth = self.headers.get("Authorization", "")
        if self.server.tokens and auth.startswith("Bearer "):
            return auth[7:] in self.server.tokens, "token"
        cert = self.connection.getpeercert() if hasattr(self.connection, "getpeercert") else None
        if cert:
            return True, "certificate"
        return False, "none"

    def do_GET(self):
        url = urllib.parse.urlsplit(self.path)
        query = urllib.parse.parse_qs(url.query)
        state = self.server.state
        ok, how = self.authenticated()
        with state.lock:
            state.requests.append({"path": url.path, "query": {k: v[0] for k, v in query.items()},
                                   "auth": how, "accept": self.headers.get("Accept", ""),
                                   "user_agent": self.headers.get("User-Agent", "")})
            if state.unavailable > 0:
                state.unavailable -= 1
                fail = (503, "ServiceUnavailable", "apiserver not ready")
            elif state.fail_count > 0:
                state.fail_count -= 1
                fail = (state.fail_status, "InternalError", "injected failure")
            else:
                fail = None
        if fail:
            self.send_json(fail[0], status(*fail))
            return
        if not ok:
            self.send_json(401, status(401, "Unauthorized", "Unauthorized"))
            return
        path = url.path.rstrip("/")
        if path == "/version":
            self.send_json(200, {"major": "1", "minor": "32", "gitVersion": "v1.32.0+test",
                                 "platform": "linux/amd64"})
        elif path == "/api":
            self.send_json(200, {"kind": "APIVersions", "versions": ["v1"],
                                 "serverAddressByClientCIDRs": [
                                     {"clientCIDR": "0.0.0.0/0",
                                      "serverAddress": "127.0.0.1:%d" % self.server.api_port}]})
        elif path == "/apis":
            self.send_json(200, {"kind": "APIGroupList", "apiVersion": "v1", "groups": []})
        elif path == "/api/v1":
            self.send_json(200, {"kind": "APIResourceList", "groupVersion": "v1", "resources": [
                {"name": "services", "singularName": "service", "namespaced": True,
                 "kind": "Service", "shortNames": ["svc"], "categories": ["all"],
                 "verbs": ["create", "delete", "get", "list", "patch", "update", "watch"]}]})
        elif path == "/api/v1/services":
            self.services(None, query)
        elif path.startswith("/api/v1/namespaces/") and path.endswith("/services") \
                and path.count("/") == 5:
            self.services(path.split("/")[4], query)
        else:
            self.send_json(404, status(404, "NotFound", "the server could not find the requested resource"))

    def services(self, namespace, query):
        if query.get("watch", ["0"])[0] in ("1", "true"):
            self.watch(namespace, query)
        else:
            self.list(namespace, query)

    def list(self, namespace, query):
        state = self.server.state
        limit = int(query.get("limit", ["0"])[0] or 0)
        token = query.get("continue", [""])[0]
        with state.lock:
            items = [s for s in state.sorted_services()
                     if namespace is None or s["metadata"]["namespace"] == namespace]
            start, list_rv = 0, str(state.rv)
            if token:
                try:
                    start, list_rv = json.loads(base64.urlsafe_b64decode(token))
                except ValueError:
                    self.send_json(400, status(400, "BadRequest", "invalid continue token"))
                    return
                if state.expire_continue > 0 or int(list_rv) < state.compacted:
                    state.expire_continue = max(0, state.expire_continue - 1)
                    self.send_json(410, status(410, "Expired",
                                               "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter."))
                    return
            page = items[start:start + limit] if limit > 0 else items[start:]
            meta = {"resourceVersion": list_rv}
            if limit > 0 and start + limit < len(items):
                meta["continue"] = base64.urlsafe_b64encode(
                    json.dumps([start + limit, list_rv]).encode()).decode()
                meta["remainingItemCount"] = len(items) - start - limit
            body = {"kind": "ServiceList", "apiVersion": "v1", "metadata": meta, "items": page}
            data = json.dumps(body, separators=(",", ":")).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def chunk(self, data):
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def watch(self, namespace, query):
        state = self.server.state
        rv = query.get("resourceVersion", [""])[0]
        bookmarks = query.get("allowWatchBookmarks", ["false"])[0] == "true"
        timeout = int(query.get("timeoutSeconds", ["0"])[0] or 0) or 1800
        deadline = time.monotonic() + timeout
        q = queue.Queue()
        with state.lock:
            expired = rv not in ("", "0") and int(rv) < state.compacted
            if expired and state.expire_mode == "http":
                self.send_json(410, status(410, "Expired", "too old resource version: %s (%d)" % (rv, state.rv)))
                return
            if rv in ("", "0"):
                backlog = [{"type": "ADDED", "object": s} for s in state.sorted_services()]
            elif expired:
                backlog = []
            else:
                backlog = [f for (v, f) in state.history if v > int(rv)]
            state.watchers.add(q)
        try:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            if expired:
                self.chunk(self.frame({"type": "ERROR", "object": status(
                    410, "Expired", "too old resource version: %s (%d)" % (rv, state.rv))}))
                self.chunk(b"")
                return
            for f in backlog:
                if namespace is None or f["object"]["metadata"]["namespace"] == namespace:
                    self.chunk(self.frame(f))
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    self.chunk(b"")
                    return
                try:
                    kind, item = q.get(timeout=min(left, 1.0))
                except queue.Empty:
                    continue
                if kind == "frame":
                    obj = item["object"]
                    if obj.get("kind") == "Status" or namespace is None or \
                            obj["metadata"]["namespace"] == namespace:
                        self.chunk(self.frame(item))
                elif kind == "bookmark":
                    if bookmarks:
                        self.chunk(self.frame({"type": "BOOKMARK", "object": {
                            "kind": "Service", "apiVersion": "v1",
                            "metadata": {"resourceVersion": item,
                                         "annotations": {"k8s.io/initial-events-end": "true"}},
                            "spec": {}, "status": {"loadBalancer": {}}}}))
                elif kind == "expire":
                    reason, code = item
                    st = status(code, reason, "The resourceVersion for the provided watch is too old.")
                    if code is None:
                        del st["code"]
                    self.chunk(self.frame({"type": "ERROR", "object": st}))
                    self.chunk(b"")
                    return
                elif kind == "end":
                    self.chunk(b"")
                    return
                elif kind == "drop":
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError, OSError):
            self.close_connection = True
        finally:
            with state.lock:
                state.watchers.discard(q)

    @staticmethod
    def frame(f):
        return json.dumps(f, separators=(",", ":")).encode() + b"\n"


class ControlHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def reply(self, obj, code=200):
        body = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        state = self.server.state
        with state.lock:
            if self.path == "/ctl/requests":
                self.reply(state.requests)
            elif self.path == "/ctl/state":
                self.reply({"resourceVersion": str(state.rv), "services": len(state.services),
                            "watchers": len(state.watchers), "compacted": state.compacted})
            else:
                self.reply({"error": "not found"}, 404)

    def do_POST(self):
        url = urllib.parse.urlsplit(self.path)
        query = {k: v[0] for k, v in urllib.parse.parse_qs(url.query).items()}
        length = int(self.headers.get("Content-Length", "0") or 0)
        body = self.rfile.read(length) if length else b""
        state = self.server.state
        with state.lock:
            if url.path == "/ctl/apply":
                kind = state.apply_locked(json.loads(body))
                self.reply({"event": kind, "resourceVersion": str(state.rv)})
            elif url.path == "/ctl/delete":
                found = state.delete_locked(query.get("namespace", "default"), query["name"])
                self.reply({"deleted": found, "resourceVersion": str(state.rv)}, 200 if found else 404)
            elif url.path == "/ctl/bulk":
                count = int(query.get("count", "1"))
                prefix = query.get("prefix", "bulk")
                for i in range(count):
                    state.apply_locked(bulk_service(prefix, i), record=True)
                self.reply({"resourceVersion": str(state.rv), "services": len(state.services)})
            elif url.path == "/ctl/bookmark":
                rv = str(state.rv)
                for q in list(state.watchers):
                    q.put(("bookmark", rv))
                self.reply({"resourceVersion": rv, "watchers": len(state.watchers)})
            elif url.path == "/ctl/expire":
                # Versions before the new one are gone, as after an etcd
                # compaction; a list returns the new one, which stays valid.
                state.compacted = int(state.next_rv())
                state.history = []
                state.expire_mode = query.get("mode", "frame")
                if state.expire_mode == "frame":
                    code = query.get("code", "410")
                    item = (query.get("reason", "Expired"), None if code == "none" else int(code))
                    for q in list(state.watchers):
                        q.put(("expire", item))
                else:
                    for q in list(state.watchers):
                        q.put(("end", None))
                self.reply({"compacted": str(state.compacted), "watchers": len(state.watchers)})
            elif url.path in ("/ctl/drop", "/ctl/end"):
                for q in list(state.watchers):
                    q.put((url.path[5:], None))
                self.reply({"watchers": len(state.watchers)})
            elif url.path == "/ctl/expire-continue":
                state.expire_continue = int(query.get("count", "1"))
                self.reply({"count": state.expire_continue})
            elif url.path == "/ctl/fail":
                state.fail_status = int(query.get("status", "503"))
                state.fail_count = int(query.get("count", "1"))
                self.reply({"status": state.fail_status, "count": state.fail_count})
            else:
                self.reply({"error": "not found"}, 404)


def bulk_service(prefix, i):
    return {"kind": "Service", "apiVersion": "v1",
            "metadata": {"name": "%s-%05d" % (prefix, i), "namespace": "bulk",
                         "labels": {"app.kubernetes.io/name": "%s-%05d" % (prefix, i)}},
            "spec": {"ports": [{"name": "http", "protocol": "TCP", "port": 8080,
                                "targetPort": 8080, "nodePort": 20000 + i % 40000}],
                     "selector": {"app.kubernetes.io/name": "%s-%05d" % (prefix, i)},
                     "clusterIP": "10.43.%d.%d" % (i // 250 % 256, i % 250 + 1),
                     "clusterIPs": ["10.43.%d.%d" % (i // 250 % 256, i % 250 + 1)],
                     "type": "NodePort", "sessionAffinity": "None",
                     "externalTrafficPolicy": "Cluster", "ipFamilies": ["IPv4"],
                     "ipFamilyPolicy": "SingleStack", "internalTrafficPolicy": "Cluster"},
            "status": {"loadBalancer": {}}}


class TLSServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, addr, context, **kw):
        self.context = context
        super().__init__(addr, Handler)
        for k, v in kw.items():
            setattr(self, k, v)

    def get_request(self):
        sock, addr = self.socket.accept()
        return sock, addr

    def finish_request(self, request, client_address):
        # The handshake runs in the request's thread, so a stalled client
        # never blocks the accept loop.
        try:
            request.settimeout(30)
            tls = self.context.wrap_socket(request, server_side=True)
            tls.settimeout(None)
        except (ssl.SSLError, OSError) as e:
            if self.verbose:
                sys.stderr.write("apiserver: TLS handshake failed: %s\n" % e)
            request.close()
            return
        self.RequestHandlerClass(tls, client_address, self)

    def handle_error(self, request, client_address):
        if self.verbose:
            super().handle_error(request, client_address)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--control-port", type=int, required=True)
    ap.add_argument("--cert", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--client-ca", required=True)
    ap.add_argument("--token", action="append", default=[],
                    help="accept this bearer token (then a client certificate is optional)")
    ap.add_argument("--services", help="JSON file with a list of Service objects")
    ap.add_argument("--refuse-seconds", type=float, default=0,
                    help="open the API port only after this delay (connection refused before)")
    ap.add_argument("--unavailable", type=int, default=0,
                    help="answer the first N API requests with 503 'apiserver not ready'")
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args()

    services = []
    if args.services:
        with open(args.services) as f:
            services = json.load(f)
    state = State(services)
    state.unavailable = args.unavailable

    ctl = ThreadingHTTPServer(("127.0.0.1", args.control_port), ControlHandler)
    ctl.daemon_threads = True
    ctl.state = state
    threading.Thread(target=ctl.serve_forever, daemon=True).start()

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(args.cert, args.key)
    context.load_verify_locations(args.client_ca)
    context.verify_mode = ssl.CERT_OPTIONAL if args.token else ssl.CERT_REQUIRED

    if args.refuse_seconds:
        time.sleep(args.refuse_seconds)
    server = TLSServer(("127.0.0.1", args.port), context, state=state, tokens=set(args.token),
                       api_port=args.port, verbose=args.verbose)
    sys.stderr.write("apiserver: listening on https://127.0.0.1:%d\n" % args.port)
    sys.stderr.flush()
    server.serve_forever()


if __name__ == "__main__":
    main()
