#!/usr/bin/env python3
"""A few servers compared closely: one instance of each stays up, and short
echobench runs alternate between them, round after round.

    python3 bench/alternate.py --conns 100 --rounds 20
    python3 bench/alternate.py --servers echod-epoll,libuv,epoll --conns 1000 --seconds 1

This host has slow spells of a few seconds in which every server's CPU per
message rises by up to a third (bench/results/2026-11-26-203640.tsv).  Runs
of one second, servers back to back, put each pair of neighbouring runs in
the same spell most of the time, so the median of the per-round ratios
(echod / peer) is steadier than a ratio of medians over long runs.  The
server is pinned to CPU 0, echobench to CPU 1, as in make bench.
"""
import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def server_argv(build, name, port):
    p = str(port)
    if name.startswith("echod-"):
        return [os.path.join(build, "apps", "echod"), "--bind", "127.0.0.1", "--port", p,
                "--backend", name[len("echod-"):], "--max-conns", "1000000", "-q"]
    exe = {"libuv": "peer_uv", "libevent": "peer_event", "libev": "peer_ev", "epoll": "peer_epoll",
           "select": "peer_select"}[name]
    return [os.path.join(build, "bench", exe), "-b", "127.0.0.1", "-p", p]


def start(argv, port):
    proc = subprocess.Popen(["taskset", "-c", "0"] + argv, stdout=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    end = time.monotonic() + 10
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), 0.5).close()
            return proc
        except OSError:
            if proc.poll() is not None or time.monotonic() > end:
                proc.kill()
                sys.exit(f"alternate: {argv[0]} did not start listening on port {port}")
            time.sleep(0.02)


def run(build, port, pid, a):
    argv = ["taskset", "-c", "1", os.path.join(build, "apps", "echobench"), "-p", str(port), "-c", str(a.conns),
            "-s", str(a.size), "-d", "1", "-t", str(a.seconds), "--json", "-q", "--server-pid", str(pid)]
    p = subprocess.run(argv, stdout=subprocess.PIPE, universal_newlines=True, timeout=a.seconds + 120)
    rep = json.loads(p.stdout)
    if p.returncode != 0 or rep["errors"]["total"]:
        sys.exit(f"alternate: echobench failed against port {port}: {rep['errors']}")
    return rep["server_cpu_us_per_msg"], rep["msgs_per_s"]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--servers", default="echod-epoll,libuv,epoll", help="the first is compared with the others")
    ap.add_argument("--conns", type=int, default=100)
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--seconds", type=float, default=1.0)
    ap.add_argument("--rounds", type=int, default=20)
    ap.add_argument("--port", type=int, default=17900)
    a = ap.parse_args()
    names = a.servers.split(",")
    procs = {}
    try:
        for i, n in enumerate(names):
            port = a.port + i
            procs[n] = (start(server_argv(a.build, n, port), port), port)
        cpu = {n: [] for n in names}
        thr = {n: [] for n in names}
        for r in range(a.rounds):
            k = r % len(names)  # a rotating order: no server always runs first
            for n in names[k:] + names[:k]:
                proc, port = procs[n]
                c, t = run(a.build, port, proc.pid, a)
                cpu[n].append(c)
                thr[n].append(t)
    finally:
        for proc, _ in procs.values():
            proc.terminate()
            proc.wait()
    print(f"{a.rounds} rounds of {a.seconds:g} s, {a.conns} connections, {a.size} B, depth 1")
    print(f"{'server':12s} {'CPU us/msg median':>18s} {'msgs/s median':>14s}")
    for n in names:
        print(f"{n:12s} {statistics.median(cpu[n]):18.2f} {statistics.median(thr[n]):14.0f}")
    ref = names[0]
    for n in names[1:]:
        pc = statistics.median(x / y for x, y in zip(cpu[ref], cpu[n]))
        pt = statistics.median(x / y for x, y in zip(thr[ref], thr[n]))
        print(f"{ref}/{n}: CPU per message {pc:.3f}, msgs/s {pt:.3f} (medians of the per-round ratios)")


if __name__ == "__main__":
    main()
