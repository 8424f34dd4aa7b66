#!/usr/bin/env python3
"""Tests of how make bench judges issue 4's bar (run_bench.bar_check and
summarize), on made-up rows: no server, no network.

usage: test_bar.py
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run_bench as rb  # noqa: E402

failures = []


def check(name, cond, detail=""):
    print("ok" if cond else "FAIL", name, "" if cond else detail)
    if not cond:
        failures.append(name)


def echo_row(server, conns, rep, cpu, msgs, p99, core=None):
    r = {c: "" for c in rb.TSV_COLUMNS}
    r.update(kind="echo", server=server, conns=str(conns), size="64", rep=str(rep), msgs_per_s=str(msgs),
             p99_us=str(p99), server_cpu_us_per_msg=str(cpu))
    if core is not None:
        r["server_core_us_per_msg"] = str(core)
    return r


def judge(rows):
    names = sorted({r["server"] for r in rows}, key=rb.SERVER_ORDER.index)
    tables, thr, cpu, p99, idle = rb.summarize(rows, names, None)
    return tables, rb.bar_check(thr, cpu, p99, idle, rows)


def line(bar, start):
    hits = [x for x in bar if x.startswith(start)]
    return hits[0] if len(hits) == 1 else f"{len(hits)} lines start with {start!r}: {bar}"


def test_per_round_verdict():
    # Rounds 1 and 2 ran in a slow spell, round 3 did not: echod used about
    # 0.92 of libuv's CPU in the two rounds of the spell.  The ratio of the
    # medians (12 / 11) mixes runs from inside and outside the spell; the
    # median of the per-round ratios does not, and decides.
    rows = []
    for rep, mine, peer in ((1, 10.0, 11.0), (2, 12.0, 13.0), (3, 14.0, 9.0)):
        rows.append(echo_row("echod-epoll", 100, rep, mine, 100, 50))
        rows.append(echo_row("libuv", 100, rep, peer, 100, 50))
    _, bar = judge(rows)
    got = line(bar, "- CPU/msg vs libuv at 100 conns")
    check("per-round ratios decide", "0.923 (bar <= 0.95): met" in got, got)
    check("ratio of the medians shown beside", "ratio of the medians 1.091" in got, got)
    check("the per-round ratios' range shown", "of 3 per-round ratios, which range from 0.909 to 1.556;" in got, got)


def test_not_met():
    rows = [echo_row("echod-epoll", 1000, 1, 10.0, 90, 120), echo_row("epoll", 1000, 1, 9.0, 100, 100)]
    _, bar = judge(rows)
    got = line(bar, "- CPU/msg vs epoll at 1,000 conns")
    check("CPU above the bar is NOT met", "1.111 (bar <= 1.03): NOT met" in got, got)
    got = line(bar, "- msgs/s at 1,000 conns")
    check("fewer msgs/s than the best peer is NOT met", "0.900 of the best peer's (epoll)" in got
          and "NOT met" in got, got)
    got = line(bar, "- p99 at 1,000 conns")
    check("a higher p99 than the best peer's is NOT met", "1.200 of the best peer's (epoll" in got
          and "NOT met" in got, got)
    got = line(bar, "- CPU/msg vs libuv at 1,000 conns")
    check("a peer that did not run is not measured", got.endswith("not measured"), got)


def test_best_peer():
    rows = []
    for rep in (1, 2, 3):
        rows += [echo_row("echod-epoll", 10, rep, 5.0, 110, 90), echo_row("libuv", 10, rep, 6.0, 100, 95),
                 echo_row("select", 10, rep, 6.0, 105, 80)]
    _, bar = judge(rows)
    got = line(bar, "- msgs/s at 10 conns")
    check("msgs/s against the fastest peer", "(select)" in got and "1.048" in got and ": met" in got, got)
    got = line(bar, "- p99 at 10 conns")
    check("p99 against the peer with the lowest", "(select, 80 us)" in got and "NOT met" in got, got)


def test_busy_figure():
    rows = [echo_row("echod-epoll", 10000, 1, 8.0, 100, 10, core=9.0),
            echo_row("libuv", 10000, 1, 10.0, 100, 10, core=10.0)]
    tables, bar = judge(rows)
    got = line(bar, "- CPU/msg vs libuv at 10,000 conns")
    check("busy time given beside the verdict", "its CPU's busy time per msg: 0.900" in got, got)
    check("busy time tables", any("Server CPU busy per message, 64 B" in t for t in tables))
    old = [echo_row("echod-epoll", 10000, 1, 8.0, 100, 10), echo_row("libuv", 10000, 1, 10.0, 100, 10)]
    tables, bar = judge(old)
    check("runs from before the busy figure: no busy table", not any("busy" in t for t in tables))
    check("runs from before the busy figure: still judged",
          ": met" in line(bar, "- CPU/msg vs libuv at 10,000 conns"))


def test_skipped_rows():
    rows = [echo_row("echod-epoll", 10000, 1, 8.0, 100, 10), echo_row("epoll", 10000, 1, 8.0, 100, 10)]
    skipped = echo_row("select", 10000, 1, "", "", "")
    skipped["note"] = "skipped: above 1000 descriptors"
    _, bar = judge(rows + [skipped])
    check("a skipped peer is not the best peer", "(epoll)" in line(bar, "- msgs/s at 10,000 conns"))


def bound_row(server, conns, rep, msgs):
    r = echo_row(server, conns, rep, 5.0, msgs, 100)
    r.update(kind="bound", note="0.5 CPU")
    return r


def test_server_bound():
    rows = [echo_row("echod-epoll", 1000, 1, 5.0, 100, 100), echo_row("libuv", 1000, 1, 6.0, 100, 100)]
    for rep in (1, 2, 3):
        rows += [bound_row("echod-epoll", 1000, rep, 120), bound_row("libuv", 1000, rep, 100),
                 bound_row("libevent", 1000, rep, 105), bound_row("libev", 1000, rep, 90),
                 bound_row("epoll", 1000, rep, 115)]
    rows += [bound_row("echod-epoll", 100, 1, 100), bound_row("libuv", 100, 1, 95),
             bound_row("libevent", 100, 1, 80), bound_row("epoll", 100, 1, 120)]
    tables, bar = judge(rows)
    got = line(bar, "- server-bound msgs/s at 1,000 conns")
    check("server-bound: every library peer 10 % behind is met",
          "1.200 x libuv's, 1.143 x libevent's, 1.333 x libev's, 1.043 x epoll's" in got
          and "capped at 0.5 CPU" in got and got.endswith(": met"), got)
    got = line(bar, "- server-bound msgs/s at 100 conns")
    check("server-bound: one library peer within 10 % is NOT met (the bare loop is not a library)",
          "1.053 x libuv's" in got and got.endswith("NOT met"), got)
    check("server-bound tables", any("server-bound: each server capped at 0.5 CPU" in t for t in tables))
    check("server-bound rows stay out of the echo cells' verdicts",
          "1.000 of the best peer's (libuv)" in line(bar, "- msgs/s at 1,000 conns"))


def test_warmup():
    class Args:
        warmup = 0.5
    a = Args()
    check("warm-up: the floor below 2,500 connections", rb.warmup_for(a, 1000) == 0.5, rb.warmup_for(a, 1000))
    check("warm-up: 1 s per 5,000 connections above it", rb.warmup_for(a, 10000) == 2, rb.warmup_for(a, 10000))
    a.warmup = 0
    check("warm-up: 0 turns it off", rb.warmup_for(a, 10000) == 0, rb.warmup_for(a, 10000))
    check("warm-up: an older run's docs say it had none", "no warm-up" in rb.warmup_text({}), rb.warmup_text({}))
    check("warm-up: the docs give it", "for 0.5 s" in rb.warmup_text({"warmup": 0.5}),
          rb.warmup_text({"warmup": 0.5}))


def main():
    for test in (test_per_round_verdict, test_not_met, test_best_peer, test_busy_figure, test_skipped_rows,
                 test_server_bound, test_warmup):
        test()
    print(f"{len(failures)} failed: {', '.join(failures)}" if failures else "all passed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
