#!/usr/bin/env python3
"""A few servers compared closely: one instance of each stays up, and short
echobench runs alternate between them, round after round.

    python3 bench/alternate.py --conns 100 --rounds 20
    python3 bench/alternate.py --servers echod-epoll,libuv,epoll --conns 1000 --seconds 1
    python3 bench/alternate.py --other-echod /tmp/wt/build/apps/echod --servers echod-epoll,echod-other,epoll
    python3 bench/alternate.py --server-share 0.5 --servers echod-epoll,libuv,libevent,libev --conns 1000

This host has slow spells of a few seconds in which every server's CPU per
message rises by up to a third (bench/results/2026-11-26-203640.tsv).  Runs
of one second, servers back to back, put each pair of neighbouring runs in
the same spell most of the time, so the median of the per-round ratios
(echod / peer) is steadier than a ratio of medians over long runs.  The
server is pinned to CPU 0, echobench to CPU 1, as in make bench.
"""
import argparse
import os
import shutil
import statistics
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cpucap import CpuCap  # noqa: E402
from run_bench import ROOT, Running, find_servers, run_echobench, server_cpu_args  # noqa: E402


def run(a, srv):
    rep = run_echobench(a, srv.port, ["-c", a.conns, "-s", a.size, "-d", 1, "-w", a.warmup, "-t", a.seconds]
                        + server_cpu_args(a, srv), timeout=a.warmup + a.seconds + 120)
    if rep["errors"]["total"]:
        sys.exit(f"alternate: echobench saw errors against port {srv.port}: {rep['errors']}")
    return rep["server_cpu_us_per_msg"], rep["msgs_per_s"], rep["server_core_us_per_msg"], rep["latency_us"]["p99"]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--servers", default="echod-epoll,libuv,epoll", help="the first is compared with the others")
    ap.add_argument("--conns", type=int, default=100)
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--seconds", type=float, default=1.0)
    ap.add_argument("--rounds", type=int, default=20)
    ap.add_argument("--warmup", type=float, default=0.0,
                    help="seconds of traffic before each run's window, not measured (echobench --warmup)")
    ap.add_argument("--server-share", type=float, metavar="F",
                    help="cap each server at F of a CPU (a cgroup's cpu quota, root; bench/cpucap.py): the server, "
                         "not echobench, is then the bottleneck, as on a machine with more cores for the clients")
    ap.add_argument("--other-echod", metavar="PATH",
                    help="another echod binary (a change under test), as server echod-other (epoll backend)")
    a = ap.parse_args()
    a.echobench = os.path.join(a.build, "apps", "echobench")
    a.server_cpu, a.client_cpu = 0, 1  # as in make bench: the server on CPU 0, echobench on CPU 1
    names = a.servers.split(",")
    known = {s.name: s for s in find_servers(a.build, os.path.join(a.build, "apps", "echod"), False)}
    if a.other_echod:
        # Two echods in one set of rounds: a change's effect, paired round by round.
        other = find_servers(a.build, os.path.abspath(a.other_echod), False)[0]
        other.name = "echod-other"
        known[other.name] = other
    unknown = [n for n in names if n not in known]
    if unknown:
        sys.exit(f"alternate: unknown server(s) {', '.join(unknown)} (known: {', '.join(known)})")
    logdir = tempfile.mkdtemp(prefix="alternate-")
    running = {}
    cap = CpuCap(a.server_share, f"netev-alternate-{os.getpid()}") if a.server_share else None
    try:
        for n in names:
            running[n] = Running(known[n], a.server_cpu, logdir)
            if cap:
                cap.add(running[n].pid)
        cpu = {n: [] for n in names}
        thr = {n: [] for n in names}
        core = {n: [] for n in names}
        p99 = {n: [] for n in names}
        for r in range(a.rounds):
            k = r % len(names)  # a rotating order: no server always runs first
            for n in names[k:] + names[:k]:
                c, t, b, q = run(a, running[n])
                cpu[n].append(c)
                thr[n].append(t)
                core[n].append(b)
                p99[n].append(q)
    finally:
        for srv in running.values():
            srv.stop()
        shutil.rmtree(logdir, ignore_errors=True)
        if cap:
            cap.close()
    print(f"{a.rounds} rounds of {a.seconds:g} s ({a.warmup:g} s warm-up), {a.conns} connections, {a.size} B, depth 1"
          + (f", each server capped at {a.server_share:g} CPU" if cap else ""))
    print("CPU: the server's process time per message; core: its CPU's busy time per message (with the")
    print("kernel's work that no process is charged with, such as ksoftirqd's)")
    print(f"{'server':12s} {'CPU us/msg median':>18s} {'core us/msg median':>19s} {'msgs/s median':>14s} "
          f"{'p99 us median':>14s}")
    for n in names:
        print(f"{n:12s} {statistics.median(cpu[n]):18.2f} {statistics.median(core[n]):19.2f} "
              f"{statistics.median(thr[n]):14.0f} {statistics.median(p99[n]):14.0f}")
    ref = names[0]

    def ratio(v, n):
        return statistics.median(x / y for x, y in zip(v[ref], v[n]))
    for n in names[1:]:
        print(f"{ref}/{n}: CPU per message {ratio(cpu, n):.3f}, core {ratio(core, n):.3f}, "
              f"msgs/s {ratio(thr, n):.3f}, p99 {ratio(p99, n):.3f} (medians of the per-round ratios)")


if __name__ == "__main__":
    main()
