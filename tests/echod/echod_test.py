#!/usr/bin/env python3
"""echod integration tests: a real echod process, real TCP on 127.0.0.1.

    echod_test.py --echod PATH [--backend epoll|poll] [--sanitized] [--wrap CMD] CASE...

Each CASE is one function below (test_<case>); `all` runs them all.  Seeds of
random tests are printed, and NETEV_TEST_SEED replays one."""

import argparse
import os
import random
import re
import selectors
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (CFG, Echod, Failure, Thread, check, deadline, echo_ok, free_port,  # noqa: E402
                     pattern, recv_exact, recv_to_eof, rst_close)


def seed():
    s = int(os.environ.get("NETEV_TEST_SEED", random.randrange(1 << 30)))
    print("seed %d (NETEV_TEST_SEED=%d replays it)" % (s, s))
    return random.Random(s)


# ---- echo ----

def test_sizes():
    """One client, 1 byte to 16 MiB, byte-exact; sends and reads at once so
    the big ones go through the partial-send and back-pressure paths."""
    d = Echod()
    sizes = [1, 2, 3, 100, 1000, 4095, 4096, 65535, 65536, 65537, 200000, 1 << 20, (1 << 20) + 7, 16 << 20]
    s = d.connect(timeout=60)
    for i, n in enumerate(sizes):
        data = pattern(n, seed=i)
        sender = Thread(s.sendall, data)
        sender.start()
        back = recv_exact(s, n)
        sender.join_checked(60)
        check(back == data, "echo of %d bytes differs" % n)
    s.close()
    out = d.stop()
    total = sum(sizes)
    check("%d bytes in, %d bytes out" % (total, total) in out, "summary does not count %d bytes: %s" % (total, out))


def test_many_clients():
    """1,000 concurrent clients, 100 round trips each, random sizes sent in
    random fragments; every byte checked."""
    rng = seed()
    clients, rounds = 1000, 100
    d = Echod()
    sel = selectors.DefaultSelector()
    socks = []
    for _ in range(clients):
        s = socket.socket()
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        s.setblocking(False)
        s.connect_ex(("127.0.0.1", d.port))
        socks.append(s)

    def size():
        r = rng.random()
        if r < 0.80:
            return rng.randint(1, 256)
        if r < 0.98:
            return rng.randint(257, 4096)
        return rng.randint(4097, 65536)

    class C:
        pass

    state = {}
    for s in socks:
        c = C()
        c.done, c.expect, c.got, c.frags = 0, b"", 0, []
        state[s.fileno()] = c
        sel.register(s, selectors.EVENT_READ | selectors.EVENT_WRITE, s)

    def next_message(s, c):
        n = size()
        c.expect = rng.randbytes(n)
        c.got = 0
        cuts = sorted(rng.sample(range(1, n), min(n - 1, rng.randint(0, 4)))) if n > 1 else []
        edges = [0] + cuts + [n]
        c.frags = [c.expect[a:b] for a, b in zip(edges, edges[1:])]
        sel.modify(s, selectors.EVENT_READ | selectors.EVENT_WRITE, s)

    for s in socks:
        next_message(s, state[s.fileno()])
    remaining = clients
    end = deadline(150)
    while remaining:
        check(time.monotonic() < end, "%d clients unfinished after the deadline" % remaining)
        for key, mask in sel.select(timeout=5):
            s = key.data
            c = state[s.fileno()]
            if mask & selectors.EVENT_WRITE and c.frags:
                # One fragment per writable event: fragments go out as separate sends.
                f = c.frags[0]
                try:
                    k = s.send(f)
                except BlockingIOError:
                    k = 0
                if k < len(f):
                    c.frags[0] = f[k:]
                else:
                    c.frags.pop(0)
                if not c.frags:
                    sel.modify(s, selectors.EVENT_READ, s)
            if mask & selectors.EVENT_READ:
                try:
                    b = s.recv(65536)
                except BlockingIOError:
                    continue
                check(b, "client %d: connection closed by echod" % s.fileno())
                check(c.expect[c.got:c.got + len(b)] == b,
                      "client %d round %d: echo differs at byte %d" % (s.fileno(), c.done, c.got))
                c.got += len(b)
                if c.got == len(c.expect):
                    c.done += 1
                    if c.done == rounds:
                        sel.unregister(s)
                        remaining -= 1
                    else:
                        next_message(s, c)
    for s in socks:
        s.close()
    out = d.stop()
    m = re.search(r"(\d+) connections, 0 rejected, (\d+) bytes in, (\d+) bytes out", out)
    check(m and int(m.group(1)) == clients and m.group(2) == m.group(3), "summary: %s" % out)


def test_over_64_clients():
    """More than the seed's 64 clients at once, and the newest is served first."""
    d = Echod()
    socks = [d.connect() for _ in range(200)]
    for i, s in enumerate(reversed(socks)):
        echo_ok(s, b"client %d" % i)
    for s in socks:
        echo_ok(s, b"x" * 1000)
        s.close()
    d.stop()


def test_accept_burst():
    """Connections that queue up together are accepted together: 500 clients
    connect while echod is stopped (SIGSTOP); once it continues, every one is
    echoed, and strace shows far fewer waits than connections (one accept per
    wait would need 500; on the poll backend each wait scans every socket)."""
    strace = shutil.which("strace")
    check(strace is not None, "strace is needed (sh scripts/deps.sh test installs it)")
    n = 500
    d = Echod()
    log = tempfile.NamedTemporaryFile(prefix="echod-strace-", suffix=".txt", delete=False)
    log.close()
    tracer = None
    socks = []
    try:
        os.kill(d.pid, signal.SIGSTOP)
        for i in range(n):
            s = socket.create_connection(("127.0.0.1", d.port), timeout=10 * CFG.slow)
            s.sendall(b"burst %d" % i)
            socks.append(s)
        tracer = subprocess.Popen([strace, "-f", "-qq", "-e", "trace=epoll_wait,epoll_pwait,poll,ppoll,accept4,accept",
                                   "-o", log.name, "-p", str(d.pid)],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        end = deadline(10)
        while not re.search(r"TracerPid:\s+%d\b" % tracer.pid, open("/proc/%d/status" % d.pid).read()):
            if time.monotonic() > end or tracer.poll() is not None:
                raise Failure("strace did not attach to echod")
            time.sleep(0.02)
        os.kill(d.pid, signal.SIGCONT)
        for i, s in enumerate(socks):
            want = b"burst %d" % i
            check(recv_exact(s, len(want)) == want, "client %d got a wrong echo" % i)
    finally:
        if tracer:
            tracer.send_signal(signal.SIGINT)
            tracer.wait(10)
        for s in socks:
            s.close()
        os.kill(d.pid, signal.SIGCONT)
    text = open(log.name).read()
    os.unlink(log.name)
    accepts = len(re.findall(r"accept4?\([^\n]*\) = \d+", text))
    waits = len(re.findall(r"epoll_p?wait\(", text)) + len(re.findall(r"p?poll\(\[[^\n]*\], ([2-9]|\d\d+),", text))
    check(accepts == n, "strace saw %d accepts, not %d" % (accepts, n))
    check(waits <= n // 10, "%d waits for %d connections: not accepted in bursts" % (waits, n))
    print("  %d connections accepted in %d waits" % (n, waits))
    d.stop()


def test_no_starvation():
    """A client that floods (sends and reads as fast as it can) does not keep
    another client's small round trips waiting."""
    d = Echod()
    flood = d.connect(timeout=30)
    chunk = pattern(256 * 1024)
    stop = []
    counted = [0]

    def send_flood():
        while not stop:
            flood.sendall(chunk)

    def read_flood():
        while not stop:
            b = flood.recv(1 << 20)
            if not b:
                return
            counted[0] += len(b)

    ts, tr = Thread(send_flood), Thread(read_flood)
    ts.start()
    tr.start()
    time.sleep(0.2)
    small = d.connect()
    worst = 0.0
    for i in range(200):
        t0 = time.monotonic()
        echo_ok(small, b"ping %d" % i)
        worst = max(worst, time.monotonic() - t0)
    flooded = counted[0]
    stop.append(1)
    small.close()
    rst_close(flood)
    ts.join(10)
    tr.join(10)
    print("flood echoed %d bytes meanwhile; slowest small round trip %.1f ms" % (flooded, worst * 1000))
    check(flooded > 4 << 20, "the flood made no progress (%d bytes): the test proves nothing" % flooded)
    check(worst < 0.5 * CFG.slow, "a small round trip waited %.3f s behind the flood" % worst)
    check(d.alive(), "echod died")
    d.stop()


# ---- ends of a connection ----

def test_half_close():
    """The peer's FIN after data: everything is echoed back, then echod closes.
    Also with a tiny --max-pending, so the FIN arrives while reading is stopped,
    and with a huge one, so the end of the stream is read while a backlog waits."""
    # A small receive buffer on the client and a pause before it reads make
    # echod's sends fall short, so the FIN arrives behind a backlog.
    for args, n, small_rcvbuf, delay in (((), 10, False, 0), ((), 3 << 20, False, 0),
                                         (("--max-pending", "4096"), 8 << 20, True, 0.3),
                                         (("--max-pending", "100k"), 8 << 20, True, 0.3),
                                         (("--max-pending", "64m"), 8 << 20, True, 0.3)):
        d = Echod(*args)
        base = d.fds()
        s = socket.socket()
        if small_rcvbuf:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.settimeout(30 * CFG.slow)
        s.connect(("127.0.0.1", d.port))
        data = pattern(n, seed=n & 255)

        def send_then_fin():
            s.sendall(data)
            s.shutdown(socket.SHUT_WR)

        t = Thread(send_then_fin)
        t.start()
        time.sleep(delay)  # echod's backlog fills and reading stops, with the FIN queued behind
        back = recv_to_eof(s)
        t.join_checked(30)
        check(back == data, "%s: echoed %d of %d bytes before EOF, or different bytes" % (args, len(back), n))
        s.close()
        d.wait_fds(base)
        d.stop()


def test_fin_drain_fair():
    """A session reading to the end of its stream after the peer's FIN keeps
    no other client waiting, even with --max-pending at 1 byte, where the
    drain is one byte per read: the drain must go back to the wait between
    reads, as reading before the FIN does.  (Reading to the end in one go,
    a round trip here waited 0.40-0.48 s.)"""
    d = Echod("--max-pending", "1")
    other = d.connect(timeout=30)
    echo_ok(other, b"before")
    s = d.connect(timeout=60)
    n = 128 << 10
    data = pattern(n, seed=7)
    done_r, done_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        # The reader is a process of its own: a thread here would share the
        # interpreter lock with the round trips and its delays would be theirs.
        code = 1
        try:
            back, buf = bytearray(), bytearray(65536)
            view = memoryview(buf)
            while True:
                k = s.recv_into(view)
                if not k:
                    break
                back += view[:k]
            code = 0 if bytes(back) == data else 2
        finally:
            os.write(done_w, b"%d" % code)
            os._exit(0)
    os.close(done_w)
    os.set_blocking(done_r, False)
    s.sendall(data)  # echod reads it a byte at a time; the FIN follows the last of it
    s.shutdown(socket.SHUT_WR)
    fin_at = time.monotonic()
    worst, trips, result = 0.0, 0, b""
    try:
        while time.monotonic() - fin_at < 60 * CFG.slow:
            try:
                result = os.read(done_r, 16)
                break
            except BlockingIOError:
                pass
            t0 = time.monotonic()
            echo_ok(other, b"ping %d" % trips)
            worst, trips = max(worst, time.monotonic() - t0), trips + 1
    finally:
        if not result:
            os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        os.close(done_r)
    drain = time.monotonic() - fin_at
    print("drain after FIN %.3f s; %d round trips meanwhile, slowest %.1f ms" % (drain, trips, worst * 1000))
    check(result == b"0", "the reader did not get the %d bytes back before EOF (%r)" % (n, result))
    check(trips >= 10, "only %d round trips during a %.3f s drain: the test proves nothing" % (trips, drain))
    check(worst < 0.1 * CFG.slow, "a round trip waited %.3f s behind a drain after FIN" % worst)
    other.close()
    s.close()
    d.stop()


def test_reset():
    """A reset in the middle of a stream frees the session at once and
    disturbs no other session; a send into the reset socket does not kill
    echod with SIGPIPE."""
    d = Echod()
    base = d.fds()
    other = d.connect()
    echo_ok(other, b"before")
    for variant in range(3):
        s = d.connect()
        s.setblocking(False)
        sent = 0
        end = time.monotonic() + 0.3
        data = pattern(65536)
        while time.monotonic() < end:  # fill both directions: echod is left with a backlog
            try:
                sent += s.send(data)
            except BlockingIOError:
                time.sleep(0.01)
        check(sent > 0, "nothing sent")
        if variant == 0:
            rst_close(s)
        elif variant == 1:
            s.close()  # unread data: the kernel resets it
        else:
            s.setblocking(True)
            s.recv(1000)  # some data in flight both ways, then a reset
            rst_close(s)
        d.wait_fds(base + 1)
        echo_ok(other, b"still here %d" % variant)
    check(d.alive(), "echod died")
    other.close()
    d.wait_fds(base)
    d.stop()


def test_never_reads():
    """A client that sends and never reads: echod stops reading at
    --max-pending, so its memory stays bounded; it does not spin meanwhile,
    and other clients are served."""
    limit = 1 << 20
    d = Echod("--max-pending", str(limit))
    other = d.connect()
    echo_ok(other, pattern(200000))
    rss0 = d.rss_kib()
    s = d.connect()
    s.setblocking(False)
    data = pattern(1 << 20)
    sent, idle_since = 0, None
    end = deadline(10)
    cap = 64 << 20
    while sent < cap and time.monotonic() < end:
        try:
            sent += s.send(data)
            idle_since = None
        except BlockingIOError:
            idle_since = idle_since or time.monotonic()
            if time.monotonic() - idle_since > 0.5:
                break
            time.sleep(0.01)
    cpu0 = d.cpu_seconds()
    time.sleep(1.0)
    cpu = d.cpu_seconds() - cpu0
    rss = d.rss_kib() - rss0
    print("sent %d bytes before blocking; echod RSS grew %d KiB; CPU %.3f s while blocked" % (sent, rss, cpu))
    check(sent > limit, "echod read less than --max-pending (%d bytes)" % sent)
    check(sent < cap, "echod never stopped reading (%d bytes taken)" % sent)
    bound = (limit >> 10) + 1024 if not CFG.sanitized else (limit >> 10) * 4 + 8192
    check(rss < bound, "echod RSS grew %d KiB for one never-reading client (bound %d KiB)" % (rss, bound))
    check(cpu < 0.2, "echod used %.3f s CPU in 1 s while the client did not read" % cpu)
    echo_ok(other, b"served meanwhile")
    rst_close(s)
    echo_ok(other, b"and after")
    other.close()
    d.stop()


def test_churn():
    """Connect/disconnect churn: no descriptor and no memory growth."""
    d = Echod()
    base = d.fds()

    def cycles(n):
        for i in range(n):
            s = socket.create_connection(("127.0.0.1", d.port), timeout=10 * CFG.slow)
            if i % 3 == 0:
                echo_ok(s, b"churn %d" % i)
            if i % 7 == 0:
                rst_close(s)
            else:
                s.close()
        # The accept queue is FIFO: once this one echoes, echod has taken every
        # connection before it (closed ones may still wait there otherwise).
        s = socket.create_connection(("127.0.0.1", d.port), timeout=10 * CFG.slow)
        echo_ok(s, b"last")
        s.close()

    cycles(500)  # warm up: the tables reach their size
    d.wait_fds(base)
    rss0 = d.rss_kib()
    t0 = time.monotonic()
    n = 3000
    cycles(n)
    d.wait_fds(base)
    grown = d.rss_kib() - rss0
    print("%d cycles in %.2f s; RSS %+d KiB" % (n, time.monotonic() - t0, grown))
    check(grown <= (64 if not CFG.sanitized else 1024), "RSS grew %d KiB over %d cycles" % (grown, n))
    out = d.stop()
    check(" %d connections," % (n + 500 + 2) in out, "summary: %s" % out)


# ---- limits ----

def test_max_conns():
    """Beyond --max-conns a connection is accepted and closed at once, and counted."""
    d = Echod("--max-conns", "3")
    base = d.fds()
    kept = [d.connect() for _ in range(3)]
    for s in kept:
        echo_ok(s, b"kept")
    for _ in range(2):
        s = d.connect()
        try:
            s.sendall(b"rejected?")
            got = s.recv(100)
        except ConnectionResetError:
            got = b""
        check(got == b"", "a connection beyond --max-conns got data back: %r" % got)
        s.close()
    for s in kept:
        echo_ok(s, b"still served")
    kept.pop().close()
    d.wait_fds(base + 2)
    s = d.connect()
    echo_ok(s, b"room again")
    s.close()
    for s in kept:
        s.close()
    out = d.stop()
    check(" 4 connections, 2 rejected," in out, "summary: %s" % out)


def test_emfile():
    """Out of descriptors (low RLIMIT_NOFILE): accept does not spin, echod
    keeps serving, and recovers once descriptors free up."""
    limit = 40
    d = Echod(nofile=limit)
    room = limit - d.fds()
    check(room > 5, "only %d free descriptors" % room)
    served = [d.connect() for _ in range(room)]
    for s in served:
        echo_ok(s, b"in")
    waiting = [d.connect() for _ in range(10)]  # queued in the kernel: echod cannot accept them
    for s in waiting:
        s.sendall(b"queued")
    time.sleep(0.3)
    cpu0 = d.cpu_seconds()
    time.sleep(1.0)
    cpu = d.cpu_seconds() - cpu0
    print("room %d; CPU %.3f s in 1 s while out of descriptors" % (room, cpu))
    check(cpu < 0.2, "echod used %.3f s CPU in 1 s while out of descriptors: spinning" % cpu)
    for s in waiting:
        s.settimeout(0.05)
        try:
            got = s.recv(100)
        except socket.timeout:
            got = None
        check(got is None, "a queued connection was served while out of descriptors")
        s.settimeout(10 * CFG.slow)
    echo_ok(served[0], b"still serving")
    err = d.stderr()
    check("too many open files" in err, "no error line for EMFILE: %r" % err)
    for s in served[-10:]:
        s.close()
    for s in waiting:
        check(recv_exact(s, 6) == b"queued", "queued connection not echoed after recovery")
        echo_ok(s, b"recovered")
    check(len(d.stderr().splitlines()) <= 12, "too many error lines:\n" + d.stderr())
    for s in served[:-10] + waiting:
        s.close()
    d.stop()


# ---- command line, signals, output ----

def run_once(argv, seconds=10, env=None):
    p = subprocess.run(list(CFG.wrap) + [CFG.echod] + argv, capture_output=True, text=True,
                       timeout=seconds * CFG.slow, env=None if env is None else dict(os.environ, **env))
    return p.returncode, p.stdout, p.stderr


def one_error_line(what, code, out, err, *words):
    """echod exited with status 1, said nothing on stdout and one line on
    stderr containing every word."""
    lines = err.splitlines()
    check(code == 1, "%s: exit status %s, expected 1; stderr %r" % (what, code, err))
    check(out == "", "%s: stdout %r" % (what, out))
    check(len(lines) == 1 and all(w in lines[0] for w in words),
          "%s: expected one line with %s: %r" % (what, words, err))
    return lines[0]


def test_bad_options():
    for argv, word in ((["--port", "abc"], "--port"), (["--port", "70000"], "--port"), (["-p", "-1"], "-p"),
                       (["--backend", "kqueue"], "--backend"), (["--max-pending", "0"], "--max-pending"),
                       (["--max-pending", "12q"], "--max-pending"), (["--max-conns", "x"], "--max-conns"),
                       (["--nope"], "--nope"), (["-x"], "-x"), (["extra"], "extra"), (["--port"], "--port"),
                       (["--workers", "0"], "--workers"), (["--workers", "257"], "--workers"),
                       (["--workers", "two"], "--workers")):
        code, out, err = run_once(argv)
        check(code == 2, "%s: exit status %d, expected 2" % (argv, code))
        check(out == "", "%s: printed on stdout: %r" % (argv, out))
        check(word in err, "%s: error does not name %s: %r" % (argv, word, err))
    # Numbers are digits (with a suffix where allowed): strtoull alone skips
    # any leading white space, so '\t80' listened on port 80.  --version
    # after them ends a run that took the value.
    for opt, value in (("--port", "\t80"), ("--port", "\n80"), ("-p", "\r80"), ("--max-conns", "\v5"),
                       ("--max-pending", "\t1k"), ("--workers", "\f2")):
        code, out, err = run_once([opt, value, "--version"])
        check(code == 2 and out == "" and "bad value" in err and opt in err,
              "%s %r: status %d, stdout %r, stderr %r" % (opt, value, code, out, err))
    # A long option that takes no value, given one: named as typed, not as
    # a short option ('-v') or a raw byte (--trace's getopt value).
    for opt, short in (("--verbose", "-v"), ("--trace", None), ("--quiet", "-q"), ("--help", "-h"),
                       ("--version", None), ("--verb", "-v")):
        code, out, err = run_once([opt + "=1"])
        check(code == 2 and out == "", "%s=1: exit status %d, stdout %r" % (opt, code, out))
        check(err.startswith("echod: option '%s' takes no value\n" % opt), "%s=1: %r" % (opt, err))
        check(short is None or "'%s'" % short not in err, "%s=1 named as %s: %r" % (opt, short, err))
        check(all(c.isprintable() for c in err.replace("\n", "")), "%s=1: unprintable error %r" % (opt, err))
    for argv, text in ((["--nope=1"], "unknown option '--nope'"), (["-x"], "unknown option '-x'"),
                       (["-vx"], "unknown option '-x'"), (["-\x03"], "unknown option character 0x03"),
                       ([b"-\xff"], "unknown option character 0xff")):
        code, out, err = run_once(argv)
        check(code == 2 and err.startswith("echod: %s\n" % text), "%s: status %d, %r" % (argv, code, err))
    # The limits are in the messages and the help.
    for argv, text in ((["--max-conns", "100000001"], "0 (no limit) to 100000000"),
                       (["--max-pending", "1025g"], "1 to 1024g (1 TiB)")):
        code, out, err = run_once(argv)
        check(code == 2 and text in err, "%s: status %d, %r" % (argv, code, err))
    code, out, err = run_once(["--max-conns", "100000000", "--max-pending", "1024g", "--version"])
    check(code == 0, "the upper limits themselves are refused: %d %r" % (code, err))
    code, out, err = run_once(["--help"])
    check(code == 0 and err == "", "--help: status %d, stderr %r" % (code, err))
    for opt in ("--port", "--bind", "--backend", "--max-conns", "--max-pending", "--workers", "--verbose",
                "--trace", "--quiet", "--help", "--version", "NETEV_BACKEND", "100000000", "1024g"):
        check(opt in out, "--help does not list %s" % opt)
    code, out, err = run_once(["--version"])
    check(code == 0 and re.match(r"echod \(netev\) \d+\.\d+\.\d+\n$", out), "--version: %d %r" % (code, out))


def test_busy_port():
    """A busy port, or an address that is not one: one line naming it, status 1."""
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen()
    port = holder.getsockname()[1]
    for bind, word, extra in (("127.0.0.1", "127.0.0.1 port %d" % port, []), ("300.1.2.3", "300.1.2.3", []),
                              ("localhost", "localhost", []), ("192.0.2.1", "192.0.2.1", []),
                              ("127.0.0.1", "127.0.0.1 port %d" % port, ["--workers", "3"])):
        code, out, err = run_once(["-b", bind, "-p", str(port), "--backend", CFG.backend] + extra)
        check(code == 1, "bind %s %s: exit status %d, expected 1" % (bind, extra, code))
        lines = err.splitlines()
        check(len(lines) == 1 and word in lines[0],
              "bind %s %s: expected one line naming %r: %r" % (bind, extra, word, err))
        check(out == "", "bind %s: stdout %r" % (bind, out))
    holder.close()


def test_link_local():
    """A link-local IPv6 address is numeric: without a scope bind refuses
    it, and echod says so instead of calling it no address; with one
    (fe80::1%lo) it is taken, and here not available.  A scope on ::1 works."""
    code, out, err = run_once(["-b", "fe80::1", "-p", "0", "--backend", CFG.backend])
    line = one_error_line("fe80::1", code, out, err, "cannot listen on fe80::1 port 0")
    check("not a numeric" not in line, "fe80::1 called no address: %r" % line)
    check("address family not supported" in line or ("invalid argument" in line and "needs a scope" in line),
          "fe80::1: %r" % line)
    code, out, err = run_once(["-b", "fe80::1%lo", "-p", "0", "--backend", CFG.backend])
    line = one_error_line("fe80::1%lo", code, out, err, "cannot listen on fe80::1%lo port 0")
    check("address not available" in line or "address family not supported" in line, "fe80::1%%lo: %r" % line)
    for bad in ("fe80::1%no-such-if0", "127.0.0.1%lo"):
        code, out, err = run_once(["-b", bad, "-p", "0", "--backend", CFG.backend])
        one_error_line(bad, code, out, err, "cannot listen on %s port 0: not a numeric" % bad)
    if not have_ipv6_loopback():
        print("no ::1 here: scoped ::1 skipped")
        return
    d = Echod(bind="[::1%lo]")
    s = d.connect(family=socket.AF_INET6, host="::1")
    echo_ok(s, b"scoped")
    s.close()
    d.stop()


def test_workers_busy_port():
    """A second --workers echod on the port of a running one: exit 1 with
    the busy-port line, instead of joining its SO_REUSEPORT group and
    taking a share of its clients."""
    a = Echod("--workers", "2")
    for bind in ("127.0.0.1", "0.0.0.0"):
        b = Echod("--workers", "2", bind=bind, port=a.port, expect_start=False)
        status = b.wait_exit()
        one_error_line("second echod on %s" % bind, status, b.stdout(), b.stderr(),
                       "cannot listen on %s port %d: address already in use" % (bind, a.port))
    check(len(a.children()) == 2, "the first echod lost workers: %s" % a.children())
    for _ in range(8):  # all still go to the first one's workers
        c = a.connect()
        echo_ok(c, b"mine")
        c.close()
    a.stop()
    # Free again: a fixed port is taken by --workers as before.
    port = a.port
    b = Echod("--workers", "2", port=port)
    check(b.port == port, "listening on %d, not %d" % (b.port, port))
    b.stop()


def test_backend_env():
    """NETEV_BACKEND names the backend when --backend does not: a bad one is
    reported with the variable and its value, and --backend overrides it."""
    for extra in ([], ["--workers", "2"]):
        code, out, err = run_once(["-b", "127.0.0.1", "-p", "0"] + extra, env={"NETEV_BACKEND": "bogus"})
        one_error_line("NETEV_BACKEND=bogus %s" % extra, code, out, err, "NETEV_BACKEND", "bogus")
    d = Echod(env={"NETEV_BACKEND": "bogus"})  # with --backend: the variable does not count
    c = d.connect()
    echo_ok(c, b"x")
    c.close()
    d.stop()
    d = Echod(backend=False, env={"NETEV_BACKEND": CFG.backend})  # checks the start line's backend
    d.stop()


def test_signals():
    """SIGTERM and SIGINT: sessions closed, a one-line summary, status 0."""
    for sig, name in ((signal.SIGTERM, "SIGTERM"), (signal.SIGINT, "SIGINT")):
        d = Echod()
        a = d.connect()
        echo_ok(a, b"x" * 1000)
        b = d.connect()
        echo_ok(b, b"y" * 24)
        b.close()
        out = d.stop(sig)
        lines = out.splitlines()
        check(len(lines) == 2, "expected a start line and a summary: %r" % out)
        check(re.match(r"echod: stopped by %s after \d+\.\d+ s: 2 connections, 0 rejected, "
                       r"1024 bytes in, 1024 bytes out$" % name, lines[1]), "summary: %r" % lines[1])
        a.settimeout(5 * CFG.slow)
        check(a.recv(10) == b"", "the open session was not closed")
        a.close()


# ---- --workers ----

def worker_sessions(pid):
    """Client sessions a worker holds: its sockets but the listener."""
    sockets = 0
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            sockets += os.readlink("/proc/%d/fd/%s" % (pid, fd)).startswith("socket:")
        except OSError:
            pass  # closed while we looked
    return sockets - 1


def wait_gone(pids, seconds=10):
    end = deadline(seconds)
    while any(os.path.exists("/proc/%d" % p) for p in pids):
        if time.monotonic() > end:
            for p in pids:  # the test fails, and leaves nothing running
                try:
                    os.kill(p, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            raise Failure("worker processes still running: %s" % pids)
        time.sleep(0.02)


def test_workers():
    """--workers 3: three processes share the port and all get clients; every
    byte echoed; one summary sums them; SIGTERM stops them all."""
    d = Echod("--workers", "3")
    check(re.search(r"pid %d, 3 workers\)" % d.pid, d.stdout()), "start line: %r" % d.stdout())
    kids = d.children()
    check(len(kids) == 3, "expected 3 worker processes, found %s" % kids)
    clients = [d.connect() for _ in range(60)]
    for i, c in enumerate(clients):
        echo_ok(c, pattern(100 + i, seed=i))
    held = [worker_sessions(k) for k in kids]
    # The kernel hashes client ports: a worker with none of 60 clients has odds of about 1e-10.
    check(sum(held) == 60 and min(held) > 0, "sessions per worker: %s (expected all 60, spread)" % held)
    for c in clients:
        c.close()
    out = d.stop()
    total = sum(100 + i for i in range(60))
    lines = out.splitlines()
    check(len(lines) == 2 and re.match(r"echod: stopped by SIGTERM after \d+\.\d+ s: 60 connections, 0 rejected, "
                                       r"%d bytes in, %d bytes out$" % (total, total), lines[1]),
          "expected a start line and one summed summary: %r" % out)
    wait_gone(kids)


def test_worker_dies():
    """A worker killed stops the server: the others stop, one line says
    which died, status 1.  The parent killed takes its workers along.  A
    second SIGTERM kills workers that do not stop."""
    d = Echod("--workers", "2")
    kids = d.children()
    check(len(kids) == 2, "expected 2 worker processes, found %s" % kids)
    os.kill(kids[0], signal.SIGKILL)
    try:
        status = d.proc.wait(timeout=10 * CFG.slow)
    except subprocess.TimeoutExpired:
        raise Failure("echod kept running after a worker was killed")
    check(status == 1, "exit status %d, expected 1" % status)
    err = d.stderr()
    check(re.search(r"worker \d \(pid %d\) was killed by signal 9; stopping the others" % kids[0], err),
          "stderr does not name the dead worker: %r" % err)
    wait_gone(kids)
    d = Echod("--workers", "2")
    kids = d.children()
    os.kill(d.pid, signal.SIGKILL)  # not d.kill(), which would kill the workers itself
    d.proc.wait()
    wait_gone(kids)
    # A worker that cannot stop (here: stopped by SIGSTOP) keeps echod
    # waiting after SIGTERM; a second SIGTERM kills it.
    d = Echod("--workers", "2")
    kids = d.children()
    os.kill(kids[1], signal.SIGSTOP)
    d.send_signal(signal.SIGTERM)
    time.sleep(0.5 * CFG.slow)
    check(d.alive(), "echod exited while a worker was stopped: %r" % d.stderr())
    out = d.stop(signal.SIGTERM, expect_status=1)
    err = d.stderr()
    check("SIGTERM again: killing the workers still running" in err and
          re.search(r"worker 2 \(pid %d\) was killed by signal 9" % kids[1], err), "stderr: %r" % err)
    wait_gone(kids)


def test_trace():
    """--trace prints the seed's lines; -v one line per connect and disconnect."""
    d = Echod("--trace", "-v")
    s = d.connect()
    echo_ok(s, b"hello")
    s.close()
    end = deadline(5)
    while "Client Disconnected" not in d.stdout() and time.monotonic() < end:
        time.sleep(0.02)
    out = d.stop()
    lines = out.splitlines()
    seed_lines = [x for x in lines if not x.startswith("echod:")]
    check(seed_lines == ["Client Connected", "Recv Data = 5", "Send Data = 5", "Client Disconnected (peer closed)"],
          "trace lines: %r" % seed_lines)
    check(any(re.match(r"echod: fd \d+ connected from 127\.0\.0\.1:\d+$", x) for x in lines), "no -v connect line")
    check(any(re.match(r"echod: fd \d+ disconnected: peer closed$", x) for x in lines), "no -v disconnect line")


def test_closed_stdout():
    """--trace into a pipe whose reader has gone: writes fail, echod serves on."""
    port = free_port()
    argv = list(CFG.wrap) + [CFG.echod, "-b", "127.0.0.1", "-p", str(port), "--backend", CFG.backend, "--trace"]
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    try:
        p.stdout.readline()  # the start line: it is listening
        p.stdout.close()     # the reader goes away
        for i in range(3):
            s = socket.create_connection(("127.0.0.1", port), timeout=10)
            echo_ok(s, b"trace into a broken pipe %d" % i)  # each echo prints trace lines
            s.close()
        check(p.poll() is None, "echod died writing to a closed pipe (status %r)" % p.poll())
        p.send_signal(signal.SIGTERM)
        check(p.wait(timeout=20) == 0, "echod did not exit 0 on SIGTERM")
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()


def test_quiet():
    port = free_port()
    d = Echod("-q", port=port, expect_start=False)
    end = deadline(10)
    while True:
        try:
            s = d.connect()
            break
        except ConnectionRefusedError:
            check(time.monotonic() < end and d.alive(), "quiet echod did not start: %r" % d.stderr())
            time.sleep(0.05)
    echo_ok(s, b"quiet")
    s.close()
    out = d.stop()
    check(out == "", "-q printed %r" % out)


def have_ipv6_loopback():
    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
        return True
    except OSError:
        return False


def test_ipv6():
    if not have_ipv6_loopback():
        print("no ::1 here: skipped")
        return
    d = Echod(bind="::1")
    s = d.connect(family=socket.AF_INET6, host="::1")
    echo_ok(s, pattern(100000))
    s.close()
    d.stop()


CASES = [name[5:] for name in sorted(globals()) if name.startswith("test_")]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--echod", required=True)
    ap.add_argument("--backend", default="epoll")
    ap.add_argument("--sanitized", action="store_true")
    ap.add_argument("--wrap", default="", help="command to run echod under, e.g. valgrind")
    ap.add_argument("cases", nargs="*", default=["all"])
    a = ap.parse_args()
    CFG.echod, CFG.backend, CFG.sanitized = a.echod, a.backend, a.sanitized
    CFG.wrap = shlex.split(a.wrap)
    CFG.slow = 20.0 if CFG.wrap else 3.0 if CFG.sanitized else 1.0
    cases = CASES if a.cases == ["all"] else a.cases
    failed = 0
    for name in cases:
        fn = globals().get("test_" + name)
        if not fn:
            print("unknown case %s (known: %s)" % (name, " ".join(CASES)))
            return 2
        t0 = time.monotonic()
        try:
            fn()
            print("ok   %s [%s] %.1fs" % (name, CFG.backend, time.monotonic() - t0))
        except (Failure, OSError) as e:
            failed += 1
            print("FAIL %s [%s]: %s" % (name, CFG.backend, e))
        finally:
            Echod.kill_all()
        sys.stdout.flush()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
