#!/usr/bin/env python3
"""Physical limits of this machine for the protocol-path ceiling (make bench-ceiling).

    bench-limits.py [--mib N] [--seconds S] [--json]

memcpy: one thread copies a buffer of N MiB (past the caches) into another; GB/s of bytes
copied. Python's slice assignment between bytearrays is a single memcpy call.
loopback TCP: one thread sends N MiB buffers over a 127.0.0.1 connection to another that
receives into a 4 MiB buffer (what vtremote's reader does with a picture); GB/s delivered.
Both the send and the receive run in the kernel with the GIL released, so Python's own cost
is a few calls per megabyte. Each figure is the best of several passes of about S seconds.
"""

import argparse
import json
import socket
import sys
import threading
import time


def memcpy_gbps(mib, seconds):
    src = bytearray(b"\x5a" * (mib << 20))
    dst = bytearray(len(src))
    best = 0.0
    for _ in range(3):
        n, t0 = 0, time.perf_counter()
        while True:
            dst[:] = src
            n += len(src)
            t = time.perf_counter() - t0
            if t >= seconds / 3:
                break
        best = max(best, n / t / 1e9)
    return best


def tcp_gbps(mib, seconds):
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    port = listener.getsockname()[1]
    total = int(seconds * 4e9)  # bytes to move: about `seconds` at 4 GB/s, fewer if slower
    chunk = bytes(mib << 20)
    result = {}

    def receiver():
        conn, _ = listener.accept()
        buf = bytearray(4 << 20)
        view = memoryview(buf)
        got = 0
        t0 = time.perf_counter()
        while True:
            n = conn.recv_into(view)
            if n == 0:
                break
            got += n
        result["t"] = time.perf_counter() - t0
        result["bytes"] = got
        conn.close()

    th = threading.Thread(target=receiver)
    th.start()
    s = socket.create_connection(("127.0.0.1", port))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sent, deadline = 0, time.perf_counter() + seconds
    while sent < total and time.perf_counter() < deadline:
        s.sendall(chunk)
        sent += len(chunk)
    s.close()
    th.join()
    listener.close()
    return result["bytes"] / result["t"] / 1e9


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--mib", type=int, default=64)
    p.add_argument("--seconds", type=float, default=3.0)
    p.add_argument("--json", action="store_true")
    a = p.parse_args()
    out = {
        "memcpy_GBps": memcpy_gbps(a.mib, a.seconds),
        "loopback_tcp_GBps": max(tcp_gbps(a.mib, a.seconds / 3) for _ in range(3)),
        "buffer_MiB": a.mib,
    }
    if a.json:
        json.dump(out, sys.stdout)
        sys.stdout.write("\n")
    else:
        print("memcpy, one thread:        %.2f GB/s" % out["memcpy_GBps"])
        print("loopback TCP, one stream:  %.2f GB/s" % out["loopback_tcp_GBps"])


if __name__ == "__main__":
    main()
