#!/usr/bin/env python3
"""A stand-in for dockerd on a unix socket that replays recorded responses
and injects faults the real daemon cannot be made to send.

usage: fake-dockerd.py SOCKET FIXTURES MODE [API_VERSION]

It responds to GET /_ping with the API-Version header, /vX/containers/json with
the recorded list, /vX/containers/ID/json with the recorded inspect of that
ID (404 for others), and /vX/events with the recorded API 1.52-shaped
json-seq stream, one chunk per record.  Every request line is appended to
SOCKET.requests.  MODE picks the fault:

  replay      no fault
  bad-chunk   the event stream has a chunk-size line that is not hex
  bad-json    the event stream has a record that is not JSON
  big-inspect the inspect responses are over docker-watch's 4 MiB limit
  inspect-500 the inspect responses are HTTP 500 with a message
  cut-inspect the inspect responses end inside the Ports map (valid HTTP,
              truncated JSON)
  race        events while the snapshot is built: the list leaves out v6,
              whose start event follows the list response; web's inspect
              is answered (as running) only after web's die and stop
              events were sent, as if the daemon had made the response
              before they happened; no replay follows
  duplicates  after the snapshot, looper gets a start while running, die
              twice, stop after die, start, stop before die; the event
              after a start is sent only after the response to its
              inspect; no replay follows
"""
import json
import os
import socket
import sys
import threading
import time

sock_path, fixtures, mode = sys.argv[1], sys.argv[2], sys.argv[3]
api_version = sys.argv[4] if len(sys.argv) > 4 else "1.41"


def recorded_body(name):
    raw = open(os.path.join(fixtures, name), "rb").read()
    head, body = raw.split(b"\r\n\r\n", 1)
    if b"chunked" not in head.lower():
        return body
    out, i = b"", 0
    while i < len(body):
        j = body.index(b"\r\n", i)
        n = int(body[i:j].split(b";")[0], 16)
        if n == 0:
            break
        out += body[j + 2:j + 2 + n]
        i = j + 2 + n + 2
    return out


inspects = {}
for name in ("inspect-published.http", "inspect-ipv6.http", "inspect-exposed.http",
             "inspect-restarting.http"):
    body = recorded_body(name)
    inspects[json.loads(body)["Id"]] = body
listing = recorded_body("containers-json.http")
records = open(os.path.join(fixtures, "events-v1.52-shape.jsonseq"), "rb").read().split(b"\x1e")[1:]
log = open(sock_path + ".requests", "a", buffering=1)
# The container IDs of the recorded scenario (see capture.sh).
WEB = "e855939c21d639bd398a18193b985225012983079e5eab4e1db56231a2078ff4"
V6 = "9539cb5c7ef38f0f95eba53d94d5a0ae2b6cbe66bca22c3233ab2781774b0752"
events_conn = None
events_lock = threading.Lock()
events_open = threading.Event()
LOOPER = "d0224e401747fcb4647547d076e9652822da2e3745081049e7ac30f75761a009"
looper_inspected = threading.Event()


def find_record(action, cid):
    for r in records:
        event = json.loads(r)
        if event["Action"] == action and event["Actor"]["ID"] == cid:
            return r
    raise KeyError((action, cid))


def push(*recs):
    """Sends records on the open event stream (race mode)."""
    events_open.wait(10)
    with events_lock:
        for r in recs:
            events_conn.sendall(chunk(b"\x1e" + r))


def respond(conn, status, body, headers=b""):
    conn.sendall(b"HTTP/1.1 %s\r\nApi-Version: %s\r\nContent-Type: application/json\r\n%s"
                 b"Content-Length: %d\r\n\r\n" % (status, api_version.encode(), headers, len(body)) + body)


def chunk(data):
    return b"%x\r\n" % len(data) + data + b"\r\n"


def events(conn):
    global events_conn
    conn.sendall(b"HTTP/1.1 200 OK\r\nApi-Version: %s\r\nContent-Type: application/json-seq\r\n"
                 b"Transfer-Encoding: chunked\r\n\r\n" % api_version.encode())
    if mode == "race":
        events_conn = conn
        events_open.set()
        while conn.recv(4096):
            pass
        return
    if mode == "duplicates":
        time.sleep(0.5)
        for action in ("start", "die", "die", "stop", "start", "stop", "die"):
            looper_inspected.clear()
            conn.sendall(chunk(b"\x1e" + find_record(action, LOOPER)))
            if action == "start":
                looper_inspected.wait(10)
            time.sleep(0.2)
        while conn.recv(4096):
            pass
        return
    # Let the list and the snapshot inspects go first.
    time.sleep(0.5)
    for n, record in enumerate(records):
        if n == 3 and mode == "bad-chunk":
            conn.sendall(b"zz\r\n")
        if n == 3 and mode == "bad-json":
            conn.sendall(chunk(b"\x1e{\"Type\":\"container\",\"Action\":\n"))
        conn.sendall(chunk(b"\x1e" + record))
    # Keep the stream open, as the daemon does.
    while conn.recv(4096):
        pass


def serve(conn):
    buf = b""
    try:
        while True:
            while b"\r\n\r\n" not in buf:
                data = conn.recv(65536)
                if not data:
                    return
                buf += data
            head, buf = buf.split(b"\r\n\r\n", 1)
            target = head.split(b"\r\n")[0].split(b" ")[1].decode()
            log.write(target + "\n")
            path = target.split("?")[0]
            parts = path.split("/")
            if path == "/_ping":
                respond(conn, b"200 OK", b"OK")
            elif path.endswith("/events"):
                events(conn)
                return
            elif path.endswith("/containers/json") and mode == "race":
                listed = [c for c in json.loads(listing) if c["Id"] != V6]
                respond(conn, b"200 OK", json.dumps(listed).encode())
                push(find_record("start", V6))
            elif path.endswith("/containers/json"):
                respond(conn, b"200 OK", listing)
            elif len(parts) == 5 and parts[2] == "containers" and parts[4] == "json":
                cid = parts[3]
                if cid not in inspects:
                    respond(conn, b"404 Not Found", b'{"message":"No such container: %s"}' % cid.encode())
                elif mode == "big-inspect":
                    respond(conn, b"200 OK", b" " * (5 << 20) + inspects[cid])
                elif mode == "race" and cid == WEB:
                    push(find_record("die", WEB), find_record("stop", WEB))
                    time.sleep(0.3)
                    respond(conn, b"200 OK", inspects[cid])
                elif mode == "cut-inspect":
                    body = inspects[cid]
                    respond(conn, b"200 OK", body[:body.index(b'"Ports":{') + 20])
                elif mode == "inspect-500":
                    respond(conn, b"500 Internal Server Error", b'{"message":"injected failure"}')
                else:
                    respond(conn, b"200 OK", inspects[cid])
                    if cid == LOOPER:
                        looper_inspected.set()
            else:
                respond(conn, b"404 Not Found", b'{"message":"page not found"}')
    except OSError:
        pass
    finally:
        conn.close()


server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
server.bind(sock_path)
server.listen(16)
while True:
    c, _ = server.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
