#!/usr/bin/env python3
"""User-space memory per idle echod connection: RSS delta / connections.

    bench/echod_idle_rss.py [--echod build/apps/echod] [--conns 10000] [--backend epoll]

Starts echod, warms it up (one echo, so its receive buffer is touched), reads
VmRSS, opens N idle connections from 127.0.0.1, waits until echod holds all
of them (/proc/PID/fd), reads VmRSS again.  The delta is what the sessions
cost in user space (kernel socket memory is not in RSS)."""

import argparse
import os
import resource
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from echod_proc import Echod  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--echod", default="build/apps/echod")
    ap.add_argument("--conns", type=int, default=10000)
    ap.add_argument("--backend", default="epoll")
    a = ap.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    if a.conns + 100 > hard:
        raise SystemExit("RLIMIT_NOFILE %d is too low for %d connections" % (hard, a.conns))
    d = Echod(a.echod, a.backend)
    try:
        base_fds = d.fds()
        warm = socket.create_connection(("127.0.0.1", d.port))
        warm.sendall(b"x" * 65536)
        got = 0
        while got < 65536:
            got += len(warm.recv(65536))
        warm.close()
        d.wait_fds(base_fds)
        time.sleep(0.2)
        rss0 = d.rss_kib()
        socks = []
        t0 = time.monotonic()
        for _ in range(a.conns):
            socks.append(socket.create_connection(("127.0.0.1", d.port)))
        if not d.wait_fds(base_fds + a.conns):
            raise SystemExit("echod holds %d descriptors, expected %d" % (d.fds(), base_fds + a.conns))
        elapsed = time.monotonic() - t0
        time.sleep(0.2)
        rss1 = d.rss_kib()
        delta = (rss1 - rss0) * 1024
        print("backend %s: %d idle connections (opened in %.2f s); echod VmRSS %d KiB -> %d KiB; "
              "%.1f bytes per idle connection" % (a.backend, a.conns, elapsed, rss0, rss1, delta / a.conns))
        for s in socks:
            s.close()
        ok = d.wait_fds(base_fds)
        print("after closing them all: %d descriptors (%s), VmRSS %d KiB"
              % (d.fds(), "back to baseline" if ok else "NOT back to baseline", d.rss_kib()))
    finally:
        print(d.stop().strip().splitlines()[-1])


if __name__ == "__main__":
    main()
