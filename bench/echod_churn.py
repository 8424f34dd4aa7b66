#!/usr/bin/env python3
"""Connect/disconnect churn against echod: cycles per second, and whether
descriptors or memory grow.

    bench/echod_churn.py [--echod build/apps/echod] [--cycles 1000000] [--seconds 240]
                         [--backend epoll] [--echo-every 10] [--rst-every 0]

One client process connects to a fresh echod on 127.0.0.1 and closes, over and
over; every --echo-every-th cycle it first echoes 64 bytes (and checks them);
every --rst-every-th cycle it closes with a reset instead of a FIN.  It stops
after --cycles or --seconds, whichever comes first, and reports the rate, the
CPU echod used per cycle, and echod's descriptor count and VmRSS after a
warm-up and at the end (after echod has closed every session)."""

import argparse
import os
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from echod_proc import Echod  # noqa: E402

LINGER_RST = struct.pack("ii", 1, 0)


def run(d, n, echo_every, rst_every, until):
    addr = ("127.0.0.1", d.port)
    msg = bytes(range(64))
    done = 0
    while done < n and time.monotonic() < until:
        s = socket.socket()
        s.connect(addr)
        if echo_every and done % echo_every == 0:
            s.sendall(msg)
            got = b""
            while len(got) < len(msg):
                b = s.recv(64)
                if not b:
                    raise SystemExit("echod closed a connection before echoing")
                got += b
            if got != msg:
                raise SystemExit("echo differs")
        if rst_every and done % rst_every == 0:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, LINGER_RST)
        s.close()
        done += 1
    return done


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--echod", default="build/apps/echod")
    ap.add_argument("--cycles", type=int, default=1000000)
    ap.add_argument("--seconds", type=float, default=240)
    ap.add_argument("--backend", default="epoll")
    ap.add_argument("--echo-every", type=int, default=10)
    ap.add_argument("--rst-every", type=int, default=0)
    ap.add_argument("--warmup", type=int, default=5000)
    a = ap.parse_args()
    d = Echod(a.echod, a.backend)
    try:
        base = d.fds()
        run(d, a.warmup, a.echo_every, a.rst_every, float("inf"))
        d.wait_fds(base)
        fds0, rss0, cpu0 = d.fds(), d.rss_kib(), d.cpu_seconds()
        t0 = time.monotonic()
        done = run(d, a.cycles, a.echo_every, a.rst_every, t0 + a.seconds)
        elapsed = time.monotonic() - t0
        settled = d.wait_fds(base)
        fds1, rss1, cpu = d.fds(), d.rss_kib(), d.cpu_seconds() - cpu0
        print("backend %s: %d cycles in %.1f s = %.0f cycles/s (echo every %d, reset every %d)"
              % (a.backend, done, elapsed, done / elapsed, a.echo_every, a.rst_every))
        print("echod CPU %.2f s = %.1f us per cycle" % (cpu, cpu / done * 1e6))
        print("after %d warm-up cycles: %d fds, VmRSS %d KiB; after the run: %d fds%s, VmRSS %d KiB (%+d KiB)"
              % (a.warmup, fds0, rss0, fds1, "" if settled else " (NOT back to baseline)", rss1, rss1 - rss0))
    finally:
        print(d.stop().strip().splitlines()[-1])


if __name__ == "__main__":
    main()
