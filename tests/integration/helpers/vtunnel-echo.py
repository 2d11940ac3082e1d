#!/usr/bin/env python3
"""Upstream servers and clients for the vtunnel-peer tests.

    vtunnel-echo.py echo-server ADDR [--ready FILE]
        Per connection: read to end of input, then send back the bytes
        reversed and close.  A reply therefore needs the client's
        half-close to pass through the relay first.
    vtunnel-echo.py greet-server ADDR LOG [--ready FILE]
        Per connection: send "hello\\n" and half-close at once, then read
        to end of input and append the number of bytes received to LOG.
    vtunnel-echo.py echo-clients ADDR COUNT SIZE
        Opens COUNT connections at once, sends SIZE random bytes on each,
        half-closes, and checks each reply; prints "ok COUNT" or fails.
    vtunnel-echo.py greet-client ADDR SIZE
        Reads the greeting to end of input, then sends SIZE bytes and
        half-closes; prints the greeting.
    vtunnel-echo.py read-all ADDR
        Connects, reads to end of input and prints what arrived (as
        Python bytes), or "reset" when the connection was reset.
    vtunnel-echo.py flood-server ADDR [--ready FILE]
        Per connection: read to end of input, then send 400,000 bytes and
        close, which leaves bytes queued behind the close for a client
        that does not read.
    vtunnel-echo.py idle-clients ADDR PID SECONDS
        Holds three connections idle for SECONDS: one open and silent,
        one half-closed and not reading, one closed.  Prints the CPU time
        that PID used meanwhile, in clock ticks.

ADDR is tcp:HOST:PORT or unix:PATH.
"""
import os
import selectors
import socket
import sys
import threading
import time


def address(addr):
    if addr.startswith("tcp:"):
        host, _, port = addr[4:].rpartition(":")
        host = host.strip("[]")
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        return family, (host, int(port))
    if addr.startswith("unix:"):
        return socket.AF_UNIX, addr[5:]
    sys.exit("vtunnel-echo: unsupported address %r" % addr)


def listen(addr, ready):
    family, sockaddr = address(addr)
    sock = socket.socket(family, socket.SOCK_STREAM)
    if family == socket.AF_UNIX:
        if os.path.exists(sockaddr):
            os.unlink(sockaddr)
    else:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(sockaddr)
    sock.listen(256)
    if ready:
        with open(ready, "w") as f:
            f.write("%d\n" % os.getpid())
    return sock


def connect(addr):
    family, sockaddr = address(addr)
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.connect(sockaddr)
    return sock


def read_all(sock):
    data = b""
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            return data
        data += chunk


def serve(sock, handler):
    while True:
        conn, _ = sock.accept()
        threading.Thread(target=handler, args=(conn,), daemon=True).start()


def echo_handler(conn):
    with conn:
        data = read_all(conn)
        conn.sendall(data[::-1])


def greet_handler(log):
    def handler(conn):
        with conn:
            conn.sendall(b"hello\n")
            conn.shutdown(socket.SHUT_WR)
            data = read_all(conn)
            with open(log, "a") as f:
                f.write("%d\n" % len(data))
    return handler


def flood_handler(conn):
    with conn:
        read_all(conn)
        conn.sendall(b"y" * 400000)


def cpu_ticks(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rpartition(")")[2].split()
    return int(fields[11]) + int(fields[12])  # utime, stime


def idle_clients(addr, pid, seconds):
    silent_conn = connect(addr)
    half_closed_conn = connect(addr)
    half_closed_conn.sendall(b"x" * 1000)
    half_closed_conn.shutdown(socket.SHUT_WR)
    closed_conn = connect(addr)
    closed_conn.sendall(b"x" * 1000)
    closed_conn.close()
    time.sleep(0.5)
    before = cpu_ticks(pid)
    time.sleep(seconds)
    print(cpu_ticks(pid) - before)
    silent_conn.close()
    half_closed_conn.close()


def echo_clients(addr, count, size):
    """Runs count connections at once on one selector, as a load test."""
    sel = selectors.DefaultSelector()
    state = {}
    for _ in range(count):
        sock = connect(addr)
        sock.setblocking(False)
        payload = os.urandom(size)
        state[sock] = {"out": payload, "sent": 0, "in": b"", "expect": payload[::-1]}
        sel.register(sock, selectors.EVENT_WRITE | selectors.EVENT_READ)
    done = 0
    while done < count:
        ready = sel.select(timeout=30)
        if not ready:
            sys.exit("timed out: %d of %d connections finished" % (done, count))
        for key, events in ready:
            sock, st = key.fileobj, state[key.fileobj]
            if events & selectors.EVENT_WRITE and st["sent"] < len(st["out"]):
                st["sent"] += sock.send(st["out"][st["sent"]:st["sent"] + 65536])
                if st["sent"] == len(st["out"]):
                    sock.shutdown(socket.SHUT_WR)
                    sel.modify(sock, selectors.EVENT_READ)
            if events & selectors.EVENT_READ:
                chunk = sock.recv(65536)
                if chunk:
                    st["in"] += chunk
                    continue
                sel.unregister(sock)
                sock.close()
                if st["in"] != st["expect"]:
                    sys.exit("reply mismatch: %d bytes, expected %d" % (len(st["in"]), len(st["expect"])))
                done += 1
    print("ok %d" % done)


def main():
    mode, rest = sys.argv[1], sys.argv[2:]
    ready = None
    if "--ready" in rest:
        i = rest.index("--ready")
        ready = rest[i + 1]
        del rest[i:i + 2]
    if mode == "echo-server":
        serve(listen(rest[0], ready), echo_handler)
    elif mode == "greet-server":
        serve(listen(rest[0], ready), greet_handler(rest[1]))
    elif mode == "flood-server":
        serve(listen(rest[0], ready), flood_handler)
    elif mode == "idle-clients":
        idle_clients(rest[0], int(rest[1]), float(rest[2]))
    elif mode == "echo-clients":
        echo_clients(rest[0], int(rest[1]), int(rest[2]))
    elif mode == "greet-client":
        sock = connect(rest[0])
        greeting = read_all(sock)
        sock.sendall(b"x" * int(rest[1]))
        sock.shutdown(socket.SHUT_WR)
        read_all(sock)
        sys.stdout.write(greeting.decode())
    elif mode == "read-all":
        sock = connect(rest[0])
        try:
            print(repr(read_all(sock)))
        except ConnectionResetError:
            print("reset")
    else:
        sys.exit("vtunnel-echo: unknown mode %r" % mode)


if __name__ == "__main__":
    main()
