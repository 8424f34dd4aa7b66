#!/usr/bin/env python3
"""Integration test of examples/seed_echo.c: a real server process, real TCP on 127.0.0.1.

Runs the Linux build (--exe PATH; the backend comes from $NETEV_BACKEND) or
the mingw-w64 build under Wine (--exe seed_echo.exe --emulator ..., from the
Windows build's CTest).  Checks, with the server on its own free port:
  - 63 clients connected at once are all served, and every byte of random,
    randomly fragmented messages comes back in order;
  - the 64th and 65th clients are refused cleanly (closed at once), and the
    63 are still served afterwards;
  - the server does not spin: its CPU time (/proc/PID/stat, whole process
    tree) barely moves while the clients are idle;
  - a freed slot takes a new client; a client sending 2 MiB while reading
    (the server's sends would block) gets all of it back.
Only Python's standard library; every process started is stopped by PID."""

import argparse
import os
import random
import socket
import subprocess
import sys
import threading
import time

CLIENTS = 63  # 64 events per wait, one of them the listener's
ROUNDS = 12
HOST = "127.0.0.1"


def log(msg):
    print(msg, flush=True)


class Failure(Exception):
    pass


def check(cond, what):
    if not cond:
        raise Failure(what)


def free_port():
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def tree_cpu_seconds(pid):
    """utime+stime of pid and its descendants, in seconds."""
    tick = os.sysconf("SC_CLK_TCK")
    parents, cpu = {}, {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        # after "(comm)": state ppid ... utime(14th field) stime(15th)
        parents[int(entry)] = int(fields[1])
        cpu[int(entry)] = int(fields[11]) + int(fields[12])
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        total += cpu.get(p, 0)
        todo.extend(c for c, pp in parents.items() if pp == p)
    return total / tick


class Server:
    def __init__(self, cmd, env, logpath):
        self.logpath = logpath
        self.logfile = open(logpath, "w")
        self.proc = subprocess.Popen(cmd, env=env, stdout=self.logfile, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)

    def output(self):
        with open(self.logpath) as f:
            return f.read()

    def alive(self):
        return self.proc.poll() is None

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.logfile.close()


def wait_ready(server, port, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        check(server.alive(), "server exited early:\n" + server.output()[-2000:])
        if "Accept" in server.output():
            try:
                socket.create_connection((HOST, port), timeout=2).close()
                return
            except OSError:
                pass
        time.sleep(0.1)
    raise Failure(f"server not ready on port {port} after {timeout} s:\n" + server.output()[-2000:])


def connect(port):
    s = socket.create_connection((HOST, port), timeout=20)
    s.settimeout(20)
    return s


def recv_exactly(s, n):
    buf = bytearray()
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            raise Failure(f"connection closed after {len(buf)} of {n} bytes")
        buf += chunk
    return bytes(buf)


def echo_rounds(s, rounds, rng, errors):
    try:
        for _ in range(rounds):
            msg = rng.randbytes(rng.randint(1, 2500))
            # random fragmentation: the server's reads see pieces
            cuts = sorted(rng.sample(range(1, len(msg)), min(2, len(msg) - 1))) if len(msg) > 2 else []
            start = 0
            for cut in cuts + [len(msg)]:
                s.sendall(msg[start:cut])
                start = cut
                if rng.random() < 0.3:
                    time.sleep(0.002)
            got = recv_exactly(s, len(msg))
            if got != msg:
                errors.append("echo mismatch")
                return
    except (OSError, Failure) as e:
        errors.append(f"{type(e).__name__}: {e}")


def echo_all(clients, rounds, seed):
    errors, threads = [], []
    for i, s in enumerate(clients):
        t = threading.Thread(target=echo_rounds, args=(s, rounds, random.Random(seed + i), errors))
        t.start()
        threads.append(t)
    for t in threads:
        t.join(120)
        check(not t.is_alive(), "a client hung")
    check(not errors, f"{len(errors)} clients failed, first: {errors[:1]}")


def refused(port):
    """A client past the ceiling: accepted and closed at once (EOF or reset)."""
    s = connect(port)
    s.settimeout(10)
    try:
        s.sendall(b"anyone?")
        data = s.recv(100)
        check(data == b"", f"refused client got {data!r}")
    except (ConnectionResetError, BrokenPipeError):
        pass
    except socket.timeout:
        raise Failure("the 64th client was neither served nor refused: it hangs")
    finally:
        s.close()


def wait_log_count(server, text, count, timeout=20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.output().count(text) >= count:
            return
        time.sleep(0.05)
    raise Failure(f"expected {count} x {text!r} in the server's output, got {server.output().count(text)}")


def idle_cpu(server, seconds=1.5):
    before = tree_cpu_seconds(server.proc.pid)
    time.sleep(seconds)
    return tree_cpu_seconds(server.proc.pid) - before


def bulk(port, size=8 * 1024 * 1024):
    """Send a lot and start reading late, through a small receive buffer: the
    server's sends block while data keeps coming; its reads must resume once
    its sends are done (the seed skipped that recv and stalled)."""
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8192)
    s.settimeout(60)
    s.connect((HOST, port))
    data = random.Random(7).randbytes(size)
    got = bytearray()
    errors = []

    def reader():
        time.sleep(0.5)
        try:
            while len(got) < size:
                chunk = s.recv(65536)
                if not chunk:
                    errors.append("closed early")
                    return
                got.extend(chunk)
        except OSError as e:
            errors.append(str(e))

    t = threading.Thread(target=reader)
    t.start()
    try:
        s.sendall(data)
    except OSError as e:
        raise Failure(f"bulk send stalled after the server stopped reading: {e}")
    t.join(120)
    check(not t.is_alive(), f"bulk echo hung at {len(got)} of {size} bytes")
    check(not errors, f"bulk echo: {errors}")
    check(bytes(got) == data, "bulk echo mismatch")
    s.close()


def run(cmd, env, port, workdir, ready_timeout):
    server = Server(cmd, env, os.path.join(workdir, f"seed_echo_{port}.log"))
    ok = False
    try:
        wait_ready(server, port, ready_timeout)
        wait_log_count(server, "Client Disconnected", 1)  # the readiness probe
        clients = [connect(port) for _ in range(CLIENTS)]
        wait_log_count(server, "Client Connected", CLIENTS + 1)
        log(f"{CLIENTS} clients connected")
        echo_all(clients, ROUNDS, seed=1)
        log(f"{CLIENTS} clients x {ROUNDS} round trips echoed")
        refused(port)
        refused(port)
        wait_log_count(server, "Client Refused", 2)
        log("64th and 65th clients refused")
        echo_all(clients, 2, seed=100)
        cpu = idle_cpu(server)
        log(f"server CPU while idle with {CLIENTS} clients: {cpu:.3f} s in 1.5 s")
        check(cpu < 0.3, f"the server spins: {cpu:.2f} s of CPU in 1.5 s idle")
        clients.pop().close()
        wait_log_count(server, "Client Disconnected", 2)
        extra = connect(port)
        echo_all([extra], 3, seed=200)
        log("a freed slot takes a new client")
        for s in clients + [extra]:
            s.close()
        wait_log_count(server, "Client Disconnected", CLIENTS + 2)
        bulk(port)
        log("8 MiB echoed to a client that reads late")
        cpu = idle_cpu(server, 1.0)
        check(cpu < 0.2, f"the server spins after its clients left: {cpu:.2f} s in 1 s")
        check(server.alive(), "server died")
        ok = True
    except Failure:
        sys.stdout.write("--- server output (tail) ---\n" + server.output()[-3000:] + "\n")
        raise
    finally:
        server.stop()
        if ok:
            os.unlink(server.logpath)  # kept when a check failed


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--exe", required=True, help="seed_echo (Linux) or seed_echo.exe (Windows build)")
    ap.add_argument("--emulator", default="",
                    help="'|'-separated command that runs a Windows program (the mingw build's "
                         "CMAKE_CROSSCOMPILING_EMULATOR: scripts/wine-run.sh and its arguments)")
    args = ap.parse_args()
    port = free_port()
    env = dict(os.environ)
    workdir = os.path.dirname(os.path.abspath(args.exe))
    if args.emulator:
        # NETEV_WINE_EXEC: the script becomes the Windows program, stopped by its PID
        env["NETEV_WINE_EXEC"] = "1"
        cmd, ready_timeout = args.emulator.split("|") + [args.exe, str(port), HOST], 180
        log(f"Windows build under Wine, port {port}")
    else:
        cmd, ready_timeout = [args.exe, str(port), HOST], 20
        log(f"Linux build, backend {env.get('NETEV_BACKEND', 'default')}, port {port}")
    try:
        run(cmd, env, port, workdir, ready_timeout)
    except Failure as e:
        log(f"FAIL: {e}")
        return 1
    log("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
