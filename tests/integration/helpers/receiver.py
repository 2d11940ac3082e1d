"""A stand-in for Rancher Desktop's Privileged Service: accepts stream
connections on 127.0.0.1:PORT, reads each to end of stream, decodes
exactly one JSON object from it and appends one line to FILE.

Default line: the object with sorted keys, compact.  With --times the
line is "NANOSECONDS add|remove HOSTPORT" per binding instead, for
benchmarks.  A connection that does not hold exactly one object is
recorded as "INVALID ...".

usage: receiver.py PORT FILE [--times]
"""
import json
import socket
import sys
import time


def record(data, times):
    now = time.time_ns()
    try:
        text = data.decode()
        obj, end = json.JSONDecoder().raw_decode(text)
        if text[end:].strip():
            raise ValueError("data after the object")
    except ValueError as e:
        return ["INVALID %r: %s" % (data, e)]
    if not times:
        return [json.dumps(obj, sort_keys=True, separators=(",", ":"))]
    verb = "remove" if obj.get("remove") else "add"
    return ["%d %s %s" % (now, verb, b["HostPort"])
            for binds in obj.get("ports", {}).values() for b in binds]


def main():
    port, path = int(sys.argv[1]), sys.argv[2]
    times = "--times" in sys.argv[3:]
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", port))
    s.listen(64)
    while True:
        c, _ = s.accept()
        data = b""
        while True:
            chunk = c.recv(65536)
            if not chunk:
                break
            data += chunk
        c.close()
        with open(path, "a") as f:
            for line in record(data, times):
                f.write(line + "\n")


main()
