#!/usr/bin/env python3
"""Test stand-in for Rancher Desktop's Privileged Service port server.

Like src/go/privileged-service/pkg/port/server.go, it accepts a stream
connection, decodes exactly one JSON object from it, checks that the
object has the shape of types.PortMapping, and closes the connection.
It is stricter than the service about the bytes around the object: the
connection must carry the object and one newline, and nothing else,
before the sender's half-close.  Each valid object is appended to RECORD
as the exact bytes received, one per line; an invalid one goes to
RECORD.errors with the reason, so a test sees both.

    vtunnel-receiver.py ADDR RECORD [--ready FILE] [--reset-first N] [--stall-first N] [--hang]

ADDR is tcp:HOST:PORT or unix:PATH.  --ready writes FILE once listening.
--reset-first N resets the first N connections without reading, as a
relay does when it cannot reach the host.  --stall-first N leaves the
first N connections unread for 1.5 s and then resets them, as a slow or
hung service would; connections behind them wait in the backlog.
--hang listens but never accepts, so a sender's connect and write succeed
and no close ever comes.
"""
import argparse
import ipaddress
import json
import os
import signal
import socket
import struct
import sys
import time


def check_port_mapping(obj):
    """Return None when obj has the shape of types.PortMapping, else why not."""
    if not isinstance(obj, dict):
        return "not an object"
    if set(obj) != {"remove", "ports", "connectAddrs"}:
        return "fields are %s, expected remove, ports, connectAddrs" % sorted(obj)
    if not isinstance(obj["remove"], bool):
        return "remove is not a boolean"
    if not isinstance(obj["ports"], dict) or not obj["ports"]:
        return "ports is not a non-empty object"
    for key, bindings in obj["ports"].items():
        port, _, proto = key.partition("/")
        if not port.isdigit() or not 1 <= int(port) <= 65535 or proto not in ("tcp", "udp", "sctp"):
            return "invalid ports key %r" % key
        if not isinstance(bindings, list) or not bindings:
            return "ports[%r] is not a non-empty list" % key
        for b in bindings:
            if not isinstance(b, dict) or set(b) != {"HostIp", "HostPort"}:
                return "invalid binding %r" % (b,)
            if not isinstance(b["HostIp"], str) or not isinstance(b["HostPort"], str):
                return "HostIp and HostPort must be strings: %r" % (b,)
            try:
                ipaddress.ip_address(b["HostIp"])  # net.ParseIP in portproxy.go
            except ValueError:
                return "HostIp %r is not an IP address" % b["HostIp"]
            if not b["HostPort"].isdigit() or not 1 <= int(b["HostPort"]) <= 65535:
                return "invalid HostPort %r" % b["HostPort"]
    if not isinstance(obj["connectAddrs"], list):
        return "connectAddrs is not a list"
    for a in obj["connectAddrs"]:
        if not isinstance(a, dict) or a.get("network") != "ip+net" or set(a) != {"network", "addr"}:
            return "invalid connectAddr %r" % (a,)
        try:
            ipaddress.ip_interface(a["addr"])  # net.ParseCIDR in portproxy.go
        except ValueError:
            return "connectAddr %r is not IP/PREFIX" % a["addr"]
    return None


def decode_one(conn):
    """Read to the sender's half-close; return (raw object bytes, object).

    The bytes must be exactly one JSON object followed by one newline."""
    data = b""
    while True:
        chunk = conn.recv(65536)
        if not chunk:
            break
        data += chunk
    if not data.endswith(b"\n"):
        raise ValueError("message does not end with a newline: %r" % data[-200:])
    raw = data[:-1]
    text = raw.decode("utf-8", errors="strict")
    try:
        obj, end = json.JSONDecoder().raw_decode(text)
    except json.JSONDecodeError as e:
        raise ValueError("no JSON object at the start (%s): %r" % (e, raw[:200]))
    if end != len(text):
        raise ValueError("bytes other than one newline after the object: %r" % raw[end:][:200])
    return raw, obj


def listen(addr):
    if addr.startswith("tcp:"):
        host, _, port = addr[4:].rpartition(":")
        host = host.strip("[]")
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, int(port)))
    elif addr.startswith("unix:"):
        path = addr[5:]
        if os.path.exists(path):
            os.unlink(path)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.bind(path)
    else:
        sys.exit("vtunnel-receiver: unsupported address %r" % addr)
    sock.listen(128)
    return sock


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("addr")
    parser.add_argument("record")
    parser.add_argument("--ready")
    parser.add_argument("--reset-first", type=int, default=0)
    parser.add_argument("--stall-first", type=int, default=0)
    parser.add_argument("--hang", action="store_true")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))

    sock = listen(args.addr)
    if args.ready:
        with open(args.ready, "w") as f:
            f.write("%d\n" % os.getpid())
    while args.hang:
        signal.pause()
    resets = args.reset_first
    stalls = args.stall_first
    while True:
        conn, _ = sock.accept()
        with conn:
            if stalls > 0:
                stalls -= 1
                time.sleep(1.5)
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                continue
            if resets > 0:
                resets -= 1
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                continue
            conn.settimeout(10)
            try:
                raw, obj = decode_one(conn)
                reason = check_port_mapping(obj)
            except (ValueError, OSError) as e:
                raw, reason = b"", str(e)
            if reason:
                with open(args.record + ".errors", "a") as f:
                    f.write("%s: %s\n" % (reason, raw.decode(errors="replace")))
            else:
                with open(args.record, "ab") as f:
                    f.write(raw + b"\n")


if __name__ == "__main__":
    main()
