#!/usr/bin/env python3
"""The benchmark matrix of issue 4: echod (both backends) against echo servers
on libuv, libevent, libev, a bare epoll loop and a select() loop.

    python3 bench/run_bench.py            # the full matrix (make bench)
    python3 bench/run_bench.py --quick    # about a minute (make bench-quick)

Every server runs alone, pinned to CPU 0; echobench runs on the other CPUs
(CPU 1 on a 2-core machine; -T one thread per CPU on larger ones).
For each cell (server x connections x message size, depth 1) echobench
reports messages/s, latency percentiles and the server's CPU time per
message (utime+stime from /proc/PID/stat over the measured window, divided
by the messages), and how busy the server's CPU was per message (the kernel's
work for it that no process is charged with included).  Cells repeat (--reps,
servers in a rotating order) and the medians are compared with echod.  Also:
user-space memory per idle connection (server RSS growth / connections),
connections per second (connect + echo + close), and server-bound cells:
each server capped at half a CPU (bench/cpucap.py), so that it sets the pace.

Writes bench/results/<date>.tsv (every run), and with --docs (the default
of the full run) docs/bench.md and docs/bench.png.
"""
import argparse
import datetime
import json
import os
import platform
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time

from cpucap import CpuCap

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FD_SETSIZE = 1024
IDLE_BASE = 1000  # idle connections per server process held before an idle measurement starts
IDLE_WARM = 1024  # clients per server process echoing at once before it
PORT_BASE = 17100  # below the ephemeral range; each server start takes the next port
REFERENCE = "echod-epoll"
SERVER_ORDER = ["echod-epoll", "echod-poll", "echod-nouring", "libuv", "libevent", "libev", "epoll", "select",
                "uring", "uring-recv", "uring-send"]
TSV_COLUMNS = ["kind", "server", "conns", "size", "rep", "msgs_per_s", "mb_per_s", "p50_us", "p90_us",
               "p99_us", "p999_us", "max_us", "server_cpu_us_per_msg", "client_cpu_us_per_msg", "connect_s",
               "errors", "rss_bytes_per_conn", "others_cpu", "note", "server_core_us_per_msg"]


def log(*a):
    print(*a, flush=True)


def fail(msg):
    print("run_bench: " + msg, file=sys.stderr, flush=True)
    sys.exit(1)


# ---------------------------------------------------------------- servers

class Server:
    """A benchmark server: name, command line (port filled in), whether
    select() limits it to FD_SETSIZE descriptors, and whether it can spread
    its connections over several processes (echod --workers)."""

    def __init__(self, name, argv, fd_limited=False, workers_option=False, in_matrix=True):
        self.name, self.argv, self.fd_limited = name, argv, fd_limited
        self.workers_option = workers_option
        self.in_matrix = in_matrix  # run unless --servers names others

    def max_conns(self, hard_limit):
        limit = hard_limit - 64
        return min(limit, FD_SETSIZE - 24) if self.fd_limited else limit

    def processes_for(self, conns, hard_limit):
        """Processes needed to hold conns connections: 1, several (workers),
        or None when this server cannot."""
        if conns <= self.max_conns(hard_limit):
            return 1
        if not self.workers_option:
            return None
        # The kernel spreads connections by hash: aim at 80 % of a process's share.
        return -(-conns // int(0.8 * self.max_conns(hard_limit)))

    def with_workers(self, n):
        return self if n == 1 else Server(self.name, self.argv + ["--workers", str(n)], self.fd_limited, True)


def find_servers(build, echod, standin):
    peers = os.path.join(build, "bench")
    servers = []
    if standin:
        # Development only: the bare epoll peer stands in for echod.
        exe = os.path.join(peers, "peer_epoll")
        servers += [Server("echod-epoll", [exe, "-b", "127.0.0.1", "-p", "{port}"]),
                    Server("echod-poll", [exe, "-b", "127.0.0.1", "-p", "{port}"])]
    else:
        if not os.access(echod, os.X_OK):
            fail(f"{echod} is missing: echod must be built first (apps/echod.c, `make build`); "
                 "the benchmark compares everything with it.")
        servers += [Server("echod-" + b, [echod, "--bind", "127.0.0.1", "--port", "{port}", "--backend", b])
                    for b in ("epoll", "poll")]
        extra, workers = echod_extra_args(echod)
        for s in servers:
            s.argv += extra
            s.workers_option = workers
        # Only when named: echod without its send ring (netev_send_batch makes
        # one send(2) per request), the measure of what the ring buys.
        servers.append(Server("echod-nouring", ["env", "NETEV_NO_IO_URING=1"] + servers[0].argv, in_matrix=False))
    for name, exe, limited in (("libuv", "peer_uv", False), ("libevent", "peer_event", False),
                               ("libev", "peer_ev", False), ("epoll", "peer_epoll", False),
                               ("select", "peer_select", True)):
        path = os.path.join(peers, exe)
        if not os.access(path, os.X_OK):
            fail(f"{path} is missing: the peers are built when their libraries are installed "
                 "(scripts/bench-deps.sh installs libuv1-dev, libevent-dev, libev-dev; then `make build`)")
        servers.append(Server(name, [path, "-b", "127.0.0.1", "-p", "{port}"], limited))
    # Only when named (--servers): a completion loop on io_uring, the measure
    # of what such a design would save; built when liburing is installed.
    uring = os.path.join(peers, "peer_uring")
    if os.access(uring, os.X_OK):
        servers.append(Server("uring", [uring, "-b", "127.0.0.1", "-p", "{port}"], in_matrix=False))
        # Half of it: the ring for receiving only, or for sending only (env execs: one PID).
        for half in ("recv", "send"):
            servers.append(Server("uring-" + half, ["env", "PEER_URING_MODE=" + half, uring, "-b", "127.0.0.1",
                                                    "-p", "{port}"], in_matrix=False))
    return servers


def echod_extra_args(echod):
    """echod may cap its connections: lift the cap if it has an option for it.
    Also: whether it has --workers (an older echod, measured with --echod, may not)."""
    try:
        out = subprocess.run([echod, "--help"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             universal_newlines=True, timeout=5).stdout
    except (OSError, subprocess.TimeoutExpired):
        return [], False
    return (["--max-conns", "1000000"] if "--max-conns" in out else []), "--workers" in out


class Running:
    """A started server process, pinned to a CPU, stopped by its PID."""
    port_counter = 0

    def __init__(self, server, cpu, logdir):
        Running.port_counter = (Running.port_counter + 1) % 800
        self.port = PORT_BASE + Running.port_counter
        argv = [a.replace("{port}", str(self.port)) for a in server.argv]
        if cpu is not None:
            argv = ["taskset", "-c", str(cpu)] + argv  # taskset execs: the PID is the server's
        self.log = open(os.path.join(logdir, server.name + ".log"), "a")
        self.proc = subprocess.Popen(argv, stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        self.pid = self.proc.pid
        deadline = time.monotonic() + 10
        while True:
            if self.proc.poll() is not None:
                self.log.close()
                fail(f"{server.name} exited at once with status {self.proc.returncode}: {' '.join(argv)} "
                     f"(see {self.log.name})")
            try:
                socket.create_connection(("127.0.0.1", self.port), 0.5).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    self.stop()
                    fail(f"{server.name} does not listen on port {self.port}")
                time.sleep(0.02)
        time.sleep(0.05)  # let it see that probe connection close

    def processes(self):
        """The server's PID and its children's (echod --workers)."""
        pids = [self.pid]
        for name in os.listdir("/proc"):
            if name.isdigit():
                try:
                    with open(f"/proc/{name}/stat") as f:
                        if int(f.read().rsplit(")", 1)[1].split()[1]) == self.pid:
                            pids.append(int(name))
                except (OSError, IndexError, ValueError):
                    pass  # gone, or not ours to read
        return pids

    def rss_kib(self):
        """VmRSS summed over the server's processes."""
        total = 0
        for pid in self.processes():
            with open(f"/proc/{pid}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
        return total

    def open_fds(self):
        return sum(len(os.listdir(f"/proc/{pid}/fd")) for pid in self.processes())

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


# ---------------------------------------------------------------- echobench

def echobench_argv(args, port, extra):
    argv = [args.echobench, "-H", "127.0.0.1", "-p", str(port), "--json", "-q"] + [str(x) for x in extra]
    if args.client_cpu is not None:
        argv = ["taskset", "-c", str(args.client_cpu)] + argv
    return argv


def machine_ticks(irq=True):
    """Busy clock ticks of the whole machine and stolen ones.  Interrupt and
    softirq ticks count as busy: the tick that lands in a softirq is also
    charged to the interrupted process's stime, so our own loopback traffic
    is subtracted with our processes.  Not so when the server is capped
    (irq=False): while it is throttled its CPU idles, and the softirq work
    for its traffic that lands there is charged to no process (0.2 to 0.37
    CPUs of it in the server-bound cells of 2026-11-27-122518, so nearly
    every one was run four times).  Leaving softirq ticks out has a blind
    spot: those charged to our processes' stime are still subtracted, so
    other load up to their amount goes unseen in those cells."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return v[0] + v[1] + v[2] + (v[5] + v[6] if irq else 0), v[7] if len(v) > 7 else 0


def process_ticks(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])
    except (OSError, IndexError, ValueError):
        return 0


def softirq_threads():
    """PIDs of the ksoftirqd/N kernel threads: the loopback traffic of a cell
    is partly processed there, charged to no process of ours."""
    pids = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/comm") as f:
                    if f.read().startswith("ksoftirqd/"):
                        pids.append(int(name))
            except OSError:
                pass
    return pids


class Interference:
    """CPU the rest of the machine used while a cell ran, in CPUs (0.25 = a
    quarter of one core on average): busy ticks of the machine minus those of
    the server, of echobench and of ksoftirqd, plus stolen time.  ksoftirqd
    counts as ours: it does our traffic's network work, more of it for some
    servers than for others (echod's batched sends leave more there), and
    counted as the rest of the machine's it would send those servers' runs
    to be done again more often."""
    softirqd = None

    def __init__(self, server_pid, irq=True):
        self.pid, self.irq = server_pid, irq
        if Interference.softirqd is None:
            Interference.softirqd = softirq_threads()

    def ours(self):
        return process_ticks(self.pid) + sum(process_ticks(p) for p in Interference.softirqd)

    def __enter__(self):
        self.t0 = time.monotonic()
        self.busy0, self.steal0 = machine_ticks(self.irq)
        self.srv0 = self.ours()
        ru = resource.getrusage(resource.RUSAGE_CHILDREN)
        self.kids0 = ru.ru_utime + ru.ru_stime
        return self

    def __exit__(self, *exc):
        hz = os.sysconf("SC_CLK_TCK")
        busy1, steal1 = machine_ticks(self.irq)
        ru = resource.getrusage(resource.RUSAGE_CHILDREN)
        ours = (self.ours() - self.srv0) / hz + (ru.ru_utime + ru.ru_stime - self.kids0)
        others = (busy1 - self.busy0 + steal1 - self.steal0) / hz - ours
        self.cpus = max(0.0, others / max(1e-3, time.monotonic() - self.t0))
        return False


def measured(args, server, logdir, extra, timeout, what, running=None, capped=False):
    """Runs echobench against the running server, or else a fresh one; while
    the rest of the machine used more than --quiet CPUs meanwhile, tries
    again (--retries), and keeps the quietest attempt."""
    best = None
    for attempt in range(args.retries + 1):
        if running and running.proc.poll() is not None:
            fail(f"{server.name} exited (status {running.proc.returncode}; see {running.log.name})")
        srv = running or Running(server, args.server_cpu, logdir)
        try:
            with Interference(srv.pid, irq=not capped) as noise:
                rep = run_echobench(args, srv.port, extra + server_cpu_args(args, srv), timeout=timeout)
        finally:
            if not running:
                srv.stop()
        if best is None or noise.cpus < best[1]:
            best = (rep, noise.cpus)
        if noise.cpus <= args.quiet:
            break
        log(f"    {server.name} {what}: the rest of the machine used {noise.cpus:.2f} CPUs meanwhile"
            + (", again" if attempt < args.retries else ", keeping the quietest attempt"))
        time.sleep(args.backoff)
    return best


def server_cpu_args(args, srv):
    """echobench's options to measure the server: its process's CPU time and,
    when it is pinned, its CPU's busy time (which also holds the kernel's work
    for it that no process is charged with, such as ksoftirqd's)."""
    pin = [] if args.server_cpu is None else ["--server-core", args.server_cpu]
    return ["--server-pid", srv.pid] + pin


def run_echobench(args, port, extra, timeout):
    p = subprocess.run(echobench_argv(args, port, extra), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       universal_newlines=True, timeout=timeout)
    try:
        rep = json.loads(p.stdout)
    except ValueError:
        fail(f"echobench gave no report (status {p.returncode}): {p.stderr.strip()}")
    if p.returncode != 0:
        log(f"    echobench status {p.returncode}: {p.stderr.strip()[:300]}")
    return rep


def row(kind, server, conns, size, rep_no, rep=None, note="", rss=None):
    r = {c: "" for c in TSV_COLUMNS}
    r.update(kind=kind, server=server, conns=conns, size=size, rep=rep_no, note=note)
    if rep:
        lat = rep["latency_us"]
        r.update(msgs_per_s=round(rep["msgs_per_s"], 1), mb_per_s=round(rep["mb_per_s"], 3),
                 p50_us=lat["p50"], p90_us=lat["p90"], p99_us=lat["p99"], p999_us=lat["p999"], max_us=lat["max"],
                 client_cpu_us_per_msg=rep["client_cpu_us_per_msg"], connect_s=round(rep["connect_seconds"], 4),
                 errors=rep["errors"]["total"])
        for k in ("server_cpu_us_per_msg", "server_core_us_per_msg"):
            if k in rep:
                r[k] = rep[k]
    if rss is not None:
        r["rss_bytes_per_conn"] = round(rss, 1)
    return r


def warmup_for(args, conns):
    """Seconds of unmeasured traffic before a cell's window.  New connections
    cost more per message for their first seconds: at 10,000 connections
    echod's first second ran at about 80 % of the later pace, so a 2-second
    window from a cold start measured mostly that.  Each connection should
    have echoed some dozens of messages first: at least --warmup, and 1 s per
    5,000 connections (at 10,000 about 10 echoes per connection a second)."""
    return max(args.warmup, conns / 5000) if args.warmup > 0 else 0


def echo_load(args, conns, size):
    """echobench's options for an echo cell (depth 1, warmed up) and how long
    the run may take."""
    warm = warmup_for(args, conns)
    return (["-c", conns, "-s", size, "-d", 1, "-w", warm, "-t", args.duration, "-T", args.client_threads,
             "--timeout", 10], warm + args.duration + 120)


def echo_cell(args, server, conns, size, rep_no, logdir, running):
    load, limit = echo_load(args, conns, size)
    rep, noise = measured(args, server, logdir, load, limit, f"c={conns} s={size}", running)
    r = row("echo", server.name, conns, size, rep_no, rep)
    r["others_cpu"] = round(noise, 3)
    log(f"  {server.name:12s} c={conns:<6d} s={size:<5d} #{rep_no}: {rep['msgs_per_s']:>10.0f} msgs/s  "
        f"p99 {rep['latency_us']['p99']:>8.1f} us  server {rep.get('server_cpu_us_per_msg', 0):6.2f} us/msg  "
        f"errors {rep['errors']['total']}  others {noise:.2f} CPU")
    return r


def bound_cell(args, server, conns, rep_no, logdir, running, share):
    """An echo cell, 64 B, with the server under its CPU cap (kind "bound")."""
    load, limit = echo_load(args, conns, 64)
    rep, noise = measured(args, server, logdir, load, limit, f"bound c={conns}", running, capped=True)
    r = row("bound", server.name, conns, 64, rep_no, rep, note=f"{share:g} CPU")
    r["others_cpu"] = round(noise, 3)
    log(f"  {server.name:12s} c={conns:<6d} #{rep_no}: {rep['msgs_per_s']:>10.0f} msgs/s  "
        f"server {rep.get('server_cpu_us_per_msg', 0):6.2f} us/msg  errors {rep['errors']['total']}")
    return r


def bound_section(args, servers, hard, rows, logdir, write_tsv):
    """The servers again, each capped at args.bound_share of a CPU, at a few
    connection counts: messages/s with the server as the bottleneck."""
    try:
        cap = CpuCap(args.bound_share, f"netev-bench-{os.getpid()}")
    except (OSError, ValueError) as e:
        log(f"server-bound cells left out: {e}")
        return f"not measured: {e}"
    log(f"server-bound: each server capped at {args.bound_share:g} CPU (cgroup {cap.path})")
    running = {}
    try:
        for server in servers:
            running[server.name] = Running(server, args.server_cpu, logdir)
            cap.add(running[server.name].pid)
        for rep in range(1, args.bound_reps + 1):
            for conns in args.bound_conns:
                k = (rep - 1) % len(servers)
                for server in servers[k:] + servers[:k]:
                    if conns <= server.max_conns(hard):
                        rows.append(bound_cell(args, server, conns, rep, logdir, running[server.name],
                                               args.bound_share))
                        write_tsv()
    finally:
        for srv in running.values():
            srv.stop()
        cap.close()
    return ""


def start_idle(args, srv, server, conns, source):
    """An echobench process holding conns idle connections from one source address."""
    argv = echobench_argv(args, srv.port, ["-c", conns, "--idle", "-t", 600, "--timeout", 30,
                                           "--source", source, "--sources", 1])
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True)
    ev = threading.Event()
    err_lines = []
    t = threading.Thread(target=watch_idle, args=(p, ev, err_lines), daemon=True)
    t.start()
    return p, ev, err_lines, t


def wait_idle(procs, server):
    deadline = time.monotonic() + 120
    for p, ev, err_lines, _ in procs:
        if not ev.wait(max(0.1, deadline - time.monotonic())):
            fail(f"idle connections to {server.name} did not come up: {''.join(err_lines)[-500:]}")


def idle_cell(args, server, conns, rep_no, logdir, workers=1):
    """RSS growth of the server per idle connection.  Connections come from
    several echobench processes (each at most --per-process, each from its own
    source address), because RLIMIT_NOFILE and the port range are per
    process and per address.  With workers > 1 (echod --workers) the server
    is that many processes, and their RSS is summed."""
    srv = Running(server.with_workers(workers), args.server_cpu, logdir)
    procs = []
    try:
        # One-time memory (buffers, the bookkeeping of batches of up to a
        # thousand records, which the client's bursts bring) is made first,
        # by a burst of echoes from IDLE_WARM clients per server process.
        # Then a baseline of IDLE_BASE idle connections per process stays
        # open through the measurement: it takes up whatever the warm-up's
        # connections left free, and the growth is counted from it on.
        warm = IDLE_WARM * workers
        run_echobench(args, srv.port, ["-c", warm, "-n", 4 * warm], timeout=60)
        procs.append(start_idle(args, srv, server, IDLE_BASE * workers, "127.0.0.250"))
        wait_idle(procs, server)
        time.sleep(0.2)
        rss0, fds0 = srv.rss_kib(), srv.open_fds()
        nproc = -(-conns // args.per_process)
        for i in range(nproc):
            share = conns // nproc + (1 if i < conns % nproc else 0)
            procs.append(start_idle(args, srv, server, share, f"127.0.0.{2 + i}"))
        wait_idle(procs, server)
        time.sleep(0.5)
        rss1, fds1 = srv.rss_kib(), srv.open_fds()
        errors = 0
        for p, _, err_lines, t in procs:
            p.send_signal(signal.SIGINT)
            out, _ = p.communicate(timeout=60)
            t.join(5)
            errors += json.loads(out)["errors"]["total"]
        procs = []
    finally:
        for p, *_ in procs:
            p.kill()
            p.wait()
        srv.stop()
    per_conn = (rss1 - rss0) * 1024.0 / conns
    note = f"{nproc} echobench processes after a baseline of {IDLE_BASE * workers}; server fds +{fds1 - fds0}"
    if workers > 1:
        note = f"{workers} echod workers (--workers), RSS summed; " + note
    r = row("idle", server.name, conns, 0, rep_no, note=note, rss=per_conn)
    r["errors"] = errors
    log(f"  {server.name:12s} idle {conns:>6d} #{rep_no}: RSS +{rss1 - rss0} KiB = {per_conn:7.1f} B/conn "
        f"({note}; errors {errors})")
    return r


def idle_counts(wanted, hard):
    """The idle counts to measure.  RLIMIT_NOFILE caps a process (20,000 on
    the machine this was written on): a count above it is measured as asked
    for the servers that run several processes (echod --workers), and also
    just under the cap, so that every server has a figure near it."""
    counts = []
    for want in wanted:
        if want + IDLE_BASE + 64 > hard:
            below = hard - IDLE_BASE - 1000
            log(f"  {want:,} idle connections and a baseline of {IDLE_BASE:,} need {want + IDLE_BASE + 64:,} "
                f"descriptors, but RLIMIT_NOFILE's hard "
                f"limit is {hard:,} here: {want:,} for servers with several processes, {below:,} for all")
            counts.append(below)
        counts.append(want)
    return sorted(set(counts))


def watch_idle(p, ev, err_lines):
    for line in p.stderr:
        err_lines.append(line)
        if "connections idle" in line:
            ev.set()
    ev.set()  # exited: the caller finds out from its report


def connrate_cell(args, server, rep_no, logdir):
    # Cycles from several source addresses: each closed connection leaves a TIME_WAIT behind.
    rep, noise = measured(args, server, logdir, ["--reconnect", "-c", args.connrate_conns, "-t",
                                                 args.connrate_duration, "--source", "127.0.0.20", "--sources", 8],
                          args.connrate_duration + 120, "connect rate")
    r = row("connrate", server.name, args.connrate_conns, 64, rep_no, rep)
    r["others_cpu"] = round(noise, 3)
    log(f"  {server.name:12s} connect+echo+close #{rep_no}: {rep['msgs_per_s']:>9.0f} conn/s  "
        f"server {rep.get('server_cpu_us_per_msg', 0):6.1f} us/conn  errors {rep['errors']['total']}  "
        f"others {noise:.2f} CPU")
    return r


# ---------------------------------------------------------------- summary

def num(v):
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


def medians(rows, kind, field):
    """{(server, conns, size): median of field} over the reps."""
    groups = {}
    for r in rows:
        if r["kind"] != kind or r["note"].startswith("skipped"):
            continue
        v = num(r[field])
        if v is not None:
            groups.setdefault((r["server"], int(r["conns"]), int(r["size"])), []).append(v)
    return {k: statistics.median(v) for k, v in groups.items()}


def fmt(v, digits=0):
    if v is None:
        return "n/a"
    if digits == 0:
        return f"{v:,.0f}"
    return f"{v:,.{digits}f}"


def table(title, servers, cols, col_label, value, digits=0, ratio=False):
    lines = [f"**{title}**", "", "| server | " + " | ".join(col_label(c) for c in cols) + " |",
             "|---|" + "---:|" * len(cols)]
    for s in servers:
        cells = []
        for c in cols:
            v = value(s, c)
            if ratio and v is not None:
                cells.append(f"{v:.2f}")
            else:
                cells.append(fmt(v, digits))
        lines.append(f"| {s} | " + " | ".join(cells) + " |")
    return lines + [""]


def paired_ratios(rows, field, server, ref, conns, size, kind="echo"):
    """server/ref within each round (the two ran seconds apart, minutes apart
    from the other rounds), so a slow spell of the host that spans a round
    cancels out; their median, and how many."""
    ratios = round_ratios(rows, field, server, ref, conns, size, kind)
    return (statistics.median(ratios), len(ratios)) if ratios else (None, 0)


def round_ratios(rows, field, server, ref, conns, size, kind="echo"):
    """server/ref in each round that measured both."""
    by_rep = {}
    for r in rows:
        if r["kind"] == kind and int(r["conns"]) == conns and int(r["size"]) == size \
                and r["server"] in (server, ref) and not r["note"].startswith("skipped"):
            v = num(r[field])
            if v is not None:
                by_rep.setdefault(r["rep"], {})[r["server"]] = v
    return [d[server] / d[ref] for d in by_rep.values() if server in d and d.get(ref)]


def ratio_of(m, s, key_s, key_ref):
    v, ref = m.get(key_s), m.get(key_ref)
    if v is None or not ref:
        return None
    return v / ref


def bound_share_label(rows):
    """The cap of the server-bound cells, as their rows note it ("0.5 CPU")."""
    return next((r["note"] for r in rows if r["kind"] == "bound" and r["note"]), "")


def summarize(rows, servers, args):
    """Markdown tables of the medians, ratios to echod and the bar of issue 4."""
    names = [s for s in SERVER_ORDER if s in servers]
    out = []
    thr = medians(rows, "echo", "msgs_per_s")
    cpu = medians(rows, "echo", "server_cpu_us_per_msg")
    core = medians(rows, "echo", "server_core_us_per_msg")
    p99 = medians(rows, "echo", "p99_us")
    conns = sorted({k[1] for k in thr})
    sizes = sorted({k[2] for k in thr})
    for size in sizes:
        label = f"{size} B" if size < 1024 else f"{size // 1024} KiB"
        cl = lambda c: f"{c:,}"
        out += table(f"Messages per second, {label}, depth 1 (median)", names, conns, cl,
                     lambda s, c: thr.get((s, c, size)))
        out += table(f"Server CPU time per message, {label} (microseconds, median; lower is better)", names,
                     conns, cl, lambda s, c: cpu.get((s, c, size)), digits=2)
        out += table(f"p99 latency, {label} (microseconds, median)", names, conns, cl,
                     lambda s, c: p99.get((s, c, size)), digits=0)
        out += table(f"Server CPU per message relative to {REFERENCE}, {label} (above 1: {REFERENCE} uses less)",
                     names, conns, cl, lambda s, c: ratio_of(cpu, (s, c, size), (s, c, size), (REFERENCE, c, size)),
                     ratio=True)
        if any(k[2] == size for k in core):
            out += table(f"Server CPU busy per message, {label}: all of CPU 0's busy time, the kernel's work that "
                         f"no process is charged with included (microseconds, median)", names, conns, cl,
                         lambda s, c: core.get((s, c, size)), digits=2)
            out += table(f"Server CPU busy per message relative to {REFERENCE}, {label} (above 1: {REFERENCE} "
                         "uses less)", names, conns, cl,
                         lambda s, c: ratio_of(core, (s, c, size), (s, c, size), (REFERENCE, c, size)), ratio=True)
        out += table(f"Messages per second relative to {REFERENCE}, {label} (below 1: {REFERENCE} is faster)",
                     names, conns, cl, lambda s, c: ratio_of(thr, (s, c, size), (s, c, size), (REFERENCE, c, size)),
                     ratio=True)
    bound = medians(rows, "bound", "msgs_per_s")
    if bound:
        bc = sorted({k[1] for k in bound})
        share = bound_share_label(rows)
        out += table(f"Messages per second, 64 B, server-bound: each server capped at {share} "
                     "(median)", names, bc, lambda c: f"{c:,}", lambda s, c: bound.get((s, c, 64)))
        out += table(f"Server-bound messages per second relative to {REFERENCE} (below 1: {REFERENCE} is faster)",
                     names, bc, lambda c: f"{c:,}",
                     lambda s, c: ratio_of(bound, (s, c, 64), (s, c, 64), (REFERENCE, c, 64)), ratio=True)
    idle = medians(rows, "idle", "rss_bytes_per_conn")
    if idle:
        ic = sorted({k[1] for k in idle})
        out += table("User-space memory per idle connection (bytes: server RSS growth / connections, median)",
                     names, ic, lambda c: f"{c:,} conns", lambda s, c: idle.get((s, c, 0)), digits=0)
    rate = medians(rows, "connrate", "msgs_per_s")
    rate_cpu = medians(rows, "connrate", "server_cpu_us_per_msg")
    if rate:
        rc = sorted({k[1] for k in rate})
        out += table("Connections per second (connect + 64 B echo + close; median)", names, rc,
                     lambda c: f"{c} at once", lambda s, c: rate.get((s, c, 64)))
        out += table("Server CPU time per connection (microseconds, median)", names, rc,
                     lambda c: f"{c} at once", lambda s, c: rate_cpu.get((s, c, 64)), digits=1)
    return out, thr, cpu, p99, idle


def warmup_text(meta):
    """How the run warmed its connections up, for docs/bench.md's method."""
    w = meta.get("warmup", 0)  # runs before --warmup had none
    if not w:
        return " (no warm-up: the window opened with the first message)"
    return (f" and have echoed for {w:g} s,\n  or 1 s per 5,000 connections where that is longer (2 s at 10,000):"
            " a new connection's first\n  seconds cost more per message, and that warm-up is not measured")


def bar_check(thr, cpu, p99, idle, rows):
    """Issue 4's bar, cell by cell: met / not met / not measured.  The
    verdict is on the median of the per-round ratios: the two runs of a round
    are seconds apart, so the host's slow spells, which raise every server's
    CPU per message by up to a third for seconds to minutes, cancel in them,
    and not in a ratio of medians taken over the whole run (which follows as
    a check)."""
    lines = []

    def verdict(ok):
        return "met" if ok else "NOT met"

    def judged(field, peer, c, of_medians):
        ratios = round_ratios(rows, field, REFERENCE, peer, c, 64)
        if not ratios:
            return of_medians, f"ratio of the medians {of_medians:.3f}"
        # The spread says how far a verdict near its bar is from noise.
        return statistics.median(ratios), (f"median of {len(ratios)} per-round ratios, which range from "
                                           f"{min(ratios):.3f} to {max(ratios):.3f}; ratio of the medians "
                                           f"{of_medians:.3f}")

    for c in (100, 1000, 10000):
        key = (REFERENCE, c, 64)
        for peer, limit in (("libuv", 0.95), ("epoll", 1.03)):
            r = ratio_of(cpu, key, key, (peer, c, 64))
            if r is None:
                lines.append(f"- CPU/msg vs {peer} at {c:,} conns (64 B): not measured")
                continue
            v, how = judged("server_cpu_us_per_msg", peer, c, r)
            cr, cn = paired_ratios(rows, "server_core_us_per_msg", REFERENCE, peer, c, 64)
            whole = f"; its CPU's busy time per msg: {cr:.3f} (median of {cn} per-round ratios)" if cr else ""
            lines.append(f"- CPU/msg vs {peer} at {c:,} conns (64 B): {v:.3f} (bar <= {limit}): "
                         f"{verdict(v <= limit)} ({how}){whole}")
    others = ("libuv", "libevent", "libev", "epoll", "select")
    for c in sorted({k[1] for k in thr if k[2] == 64}):
        mine, lmine = thr.get((REFERENCE, c, 64)), p99.get((REFERENCE, c, 64))
        peers = [(thr[(s, c, 64)], s) for s in others if thr.get((s, c, 64))]
        lat = [(p99[(s, c, 64)], s) for s in others if p99.get((s, c, 64))]
        if mine is None or not peers:
            continue
        best, bname = max(peers)
        v, how = judged("msgs_per_s", bname, c, mine / best)
        lines.append(f"- msgs/s at {c:,} conns (64 B): {v:.3f} of the best peer's ({bname}) (bar >= 1): "
                     f"{verdict(v >= 1)} ({how})")
        if lmine is not None and lat:
            lbest, lname = min(lat)
            v, how = judged("p99_us", lname, c, lmine / lbest)
            lines.append(f"- p99 at {c:,} conns (64 B): {lmine:,.0f} us, {v:.3f} of the best peer's "
                         f"({lname}, {lbest:,.0f} us) (bar <= 1): {verdict(v <= 1)} ({how})")
    bound = medians(rows, "bound", "msgs_per_s")
    for c in sorted({k[1] for k in bound}):
        if (REFERENCE, c, 64) not in bound:
            continue
        parts, worst = [], None
        for peer in ("libuv", "libevent", "libev", "epoll"):
            v, n = paired_ratios(rows, "msgs_per_s", REFERENCE, peer, c, 64, kind="bound")
            if v is None:
                continue
            parts.append(f"{v:.3f} x {peer}'s")
            if peer != "epoll":  # the claim is against the libraries; the bare loop is shown beside them
                worst = v if worst is None else min(worst, v)
        if worst is None:
            continue
        share = bound_share_label(rows)
        lines.append(f"- server-bound msgs/s at {c:,} conns (64 B, each server capped at {share}, standing in "
                     f"for more client cores): {', '.join(parts)} (medians of per-round ratios; the claim: "
                     f">= 1.10 against every library peer): {verdict(worst >= 1.10)}")
    for (s, c, _), v in sorted(idle.items()):
        if s == REFERENCE:
            lines.append(f"- idle memory at {c:,} conns: {v:.0f} B/conn (bar <= 64): {verdict(v <= 64)}")
    return lines


def machine():
    info = {}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    info["cpu"] = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    info["cpus"] = os.cpu_count()
    info["kernel"] = platform.release()
    try:
        with open("/etc/os-release") as f:
            m = re.search(r'PRETTY_NAME="([^"]*)"', f.read())
            info["os"] = m.group(1) if m else "?"
    except OSError:
        info["os"] = "?"
    try:
        info["cc"] = subprocess.run(["cc", "--version"], stdout=subprocess.PIPE,
                                    universal_newlines=True).stdout.splitlines()[0]
    except (OSError, IndexError):
        info["cc"] = "?"
    libs = []
    for pkg in ("libuv1-dev", "libevent-dev", "libev-dev"):
        try:
            v = subprocess.run(["dpkg-query", "-W", "-f=${Version}", pkg], stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL, universal_newlines=True).stdout
        except OSError:
            v = ""
        libs.append(f"{pkg} {v or '?'}")
    info["libs"] = ", ".join(libs)
    with open("/proc/meminfo") as f:
        info["mem"] = f"{int(f.readline().split()[1]) // 1024} MiB"
    info["nofile"] = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    return info


# ---------------------------------------------------------------- plot

def plot(rows, servers, path_png, tmpdir):
    if not shutil.which("gnuplot"):
        log("gnuplot not found: no plot (scripts/bench-deps.sh installs gnuplot-nox)")
        return
    thr = medians(rows, "echo", "msgs_per_s")
    cpu = medians(rows, "echo", "server_cpu_us_per_msg")
    p99 = medians(rows, "echo", "p99_us")
    names = [s for s in SERVER_ORDER if s in servers]
    data = os.path.join(tmpdir, "plot.dat")
    size = 64
    with open(data, "w") as f:
        for s in names:
            f.write(f'"{s}"\n')
            for c in sorted({k[1] for k in thr if k[0] == s and k[2] == size}):
                f.write(f"{c} {thr[(s, c, size)]} {p99.get((s, c, size), 0)} {cpu.get((s, c, size), 0)}\n")
            f.write("\n\n")
    script = f"""
set terminal pngcairo size 1500,500 font ",10"
set output "{path_png}"
set multiplot layout 1,3 title "echo servers, {size} B messages, depth 1 (server on CPU 0, echobench on CPU 1; medians)"
set logscale x
set xlabel "connections"
set grid
set key top right
set xrange [0.7:14000]
set ylabel "messages/s"
set yrange [0:*]
set title "throughput"
set key bottom center
plot for [i=0:{len(names) - 1}] "{data}" index i using 1:2 with linespoints title columnheader(1)
set ylabel "microseconds"
set title "p99 latency"
set key top left
set logscale y
set yrange [*:*]
plot for [i=0:{len(names) - 1}] "{data}" index i using 1:3 with linespoints title columnheader(1)
unset logscale y
set yrange [0:*]
set title "server CPU time per message (lower is better)"
set key top right
plot for [i=0:{len(names) - 1}] "{data}" index i using 1:4 with linespoints title columnheader(1)
unset multiplot
"""
    gp = os.path.join(tmpdir, "plot.gp")
    with open(gp, "w") as f:
        f.write(script)
    subprocess.run(["gnuplot", gp], check=True)
    log(f"wrote {os.path.relpath(path_png, ROOT)}")


# ---------------------------------------------------------------- main

def parse():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="about one minute: fewer cells, one run each")
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--echod", help="echod binary (default BUILD/apps/echod)")
    ap.add_argument("--echod-standin", action="store_true",
                    help="development only: the bare epoll peer plays echod")
    ap.add_argument("--servers", help="comma-separated subset of " + ",".join(SERVER_ORDER))
    ap.add_argument("--conns", help="comma-separated connection counts")
    ap.add_argument("--sizes", help="comma-separated message sizes")
    ap.add_argument("--duration", type=float, help="seconds per cell")
    ap.add_argument("--warmup", type=float, help="seconds of unmeasured traffic before an echo cell's window, and "
                    "1 s per 5,000 connections if that is more (default 0.5, quick 0.25; 0: none)")
    ap.add_argument("--reps", type=int, help="runs per 64-byte echo cell, the bar's (median; default 7); "
                    "other sizes, idle memory and connection rate: at most 3")
    ap.add_argument("--idle", help="comma-separated idle connection counts ('' = none)")
    ap.add_argument("--per-process", type=int, default=15000, help="idle connections per echobench process")
    ap.add_argument("--no-connrate", action="store_true")
    ap.add_argument("--bound-share", type=float,
                    help="server-bound cells: each server capped at this share of a CPU (bench/cpucap.py), so "
                         "that it, not echobench, sets the pace, as with more client cores (default 0.5; "
                         "0 = none; quick: none)")
    ap.add_argument("--bound-conns", default="100,1000,10000", help="connection counts of the server-bound cells")
    ap.add_argument("--bound-reps", type=int,
                    help="rounds of the server-bound cells (default 5; 1 with --quick): with 3, echod's lead over "
                         "one peer at 10,000 connections came out 1.02 to 1.08 in full runs and 1.14 in 6 rounds "
                         "of bench/alternate.py")
    ap.add_argument("--micro", action=argparse.BooleanOptionalAction, default=None,
                    help="also run bench/micro_pairs (default: full run yes, --quick no)")
    ap.add_argument("--quiet", type=float, default=0.15,
                    help="a run is quiet when the rest of the machine used at most this many CPUs (0.15)")
    ap.add_argument("--retries", type=int, help="runs again while not quiet (default 3; quick 1)")
    ap.add_argument("--backoff", type=float, default=2.0, help="seconds to wait before running again")
    ap.add_argument("--redraw", metavar="TSV",
                    help="no measuring: tables, plot and docs/bench.md again from an earlier run's TSV")
    ap.add_argument("--note", default="", help="a line for docs/bench.md (e.g. which echod was measured)")
    ap.add_argument("--docs", action=argparse.BooleanOptionalAction, default=None,
                    help="write docs/bench.md and docs/bench.png (default: full run yes, --quick no)")
    args = ap.parse_args()
    quick = args.quick
    args.conns = [int(x) for x in (args.conns or ("10,1000" if quick else "1,10,100,1000,10000")).split(",")]
    args.sizes = [int(x) for x in (args.sizes or ("64" if quick else "64,4096")).split(",")]
    # Many short runs rather than a few long ones: this host has slow spells
    # that raise every server's CPU per message by up to a third, and at
    # 10,000 connections in 2026-11-27-030659 two of five rounds were hit.
    # The bar's cells, 64 B, run seven times; the rest, which only describe,
    # three.
    args.duration = args.duration or (1.5 if quick else 2.0)
    if args.warmup is None:
        args.warmup = 0.25 if quick else 0.5
    args.reps = args.reps or (1 if quick else 7)
    args.other_reps = min(args.reps, 3)
    args.bound_reps = args.bound_reps or min(args.reps, 5)
    if args.retries is None:
        args.retries = 1 if quick else 3
    idle = args.idle if args.idle is not None else ("1000" if quick else "10000,50000")
    args.idle = [int(x) for x in idle.split(",") if x]
    if args.bound_share is None:
        args.bound_share = 0 if quick else 0.5
    args.bound_conns = [int(x) for x in args.bound_conns.split(",") if x]
    args.connrate_conns = 16
    args.connrate_duration = 1.0 if quick else 2.0
    if args.docs is None:
        args.docs = not quick
    if args.micro is None:
        args.micro = not quick
    args.echobench = os.path.join(args.build, "apps", "echobench")
    args.echod = args.echod or os.path.join(args.build, "apps", "echod")
    ncpu = os.cpu_count() or 1
    if ncpu >= 2 and shutil.which("taskset"):
        # The server gets CPU 0; echobench every other CPU, one thread each.
        args.server_cpu = 0
        args.client_cpu = "1" if ncpu == 2 else f"1-{ncpu - 1}"
        args.client_threads = ncpu - 1
    else:
        args.server_cpu, args.client_cpu, args.client_threads = None, None, 1
    return args


def main():
    args = parse()
    if args.redraw:
        return redraw(args)
    if not os.access(args.echobench, os.X_OK):
        fail(f"{args.echobench} is missing: run `make build` first")
    # Servers and clients inherit the raised soft limit.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    servers = find_servers(args.build, args.echod, args.echod_standin)
    if args.servers:
        wanted = args.servers.split(",")
        servers = [s for s in servers if s.name in wanted]
    else:
        servers = [s for s in servers if s.in_matrix]
    names = [s.name for s in servers]
    stamp = datetime.datetime.now().strftime("%Y-%m-%d-%H%M%S")
    resdir = os.path.join(ROOT, "bench", "results")
    os.makedirs(resdir, exist_ok=True)
    tmpdir = os.path.join(resdir, stamp + ".tmp")
    os.makedirs(tmpdir, exist_ok=True)
    tsv = os.path.join(resdir, stamp + ("-quick" if args.quick else "") + ".tsv")
    info = machine()
    log(f"netev benchmark{' (quick)' if args.quick else ''}: {', '.join(names)}")
    log(f"  {info.get('cpu', '?')}, {info['cpus']} CPUs, Linux {info['kernel']}; server on CPU "
        f"{args.server_cpu}, echobench on CPU {args.client_cpu} ({args.client_threads} thread(s)); "
        f"{args.reps} run(s) per 64 B cell, {args.other_reps} per other cell, {args.duration} s each")
    if args.echod_standin:
        log("  NOTE: --echod-standin: echod-epoll/echod-poll are the bare epoll peer, not echod")
    rows = []
    t0 = time.monotonic()

    def write_tsv():
        with open(tsv, "w") as f:
            f.write("\t".join(TSV_COLUMNS) + "\n")
            for r in rows:
                f.write("\t".join(str(r[c]) for c in TSV_COLUMNS) + "\n")

    log("echo: connections x message size, depth 1")
    # One instance of each server serves all the echo cells, as a server in
    # use serves one client after another, and as in bench/alternate.py; so
    # no window holds a server's one-time work (its tables growing, first
    # touches, echod's send ring being made).  Between its runs a server
    # holds no connection and sleeps.
    running = {}
    try:
        for server in servers:
            running[server.name] = Running(server, args.server_cpu, tmpdir)
        for rep in range(1, args.reps + 1):
            for size in args.sizes:
                if size != 64 and rep > args.other_reps:
                    continue
                for conns in args.conns:
                    k = (rep - 1) % len(servers)  # a rotating order: no server always runs first
                    for server in servers[k:] + servers[:k]:
                        if conns > server.max_conns(hard):
                            if rep == 1:
                                rows.append(row("echo", server.name, conns, size, rep,
                                                note=f"skipped: above {server.max_conns(hard)} descriptors"))
                            continue
                        rows.append(echo_cell(args, server, conns, size, rep, tmpdir, running[server.name]))
                        write_tsv()
    finally:
        for srv in running.values():
            srv.stop()
    bound_note = bound_section(args, servers, hard, rows, tmpdir, write_tsv) if args.bound_share else ""
    if args.idle:
        log("idle connections: server RSS growth per connection")
        for conns in idle_counts(args.idle, hard):
            for rep in range(1, args.other_reps + 1):
                for server in servers:
                    workers = server.processes_for(conns + IDLE_BASE, hard)  # and the baseline
                    if workers is None:
                        if rep == 1:
                            rows.append(row("idle", server.name, conns, 0, rep,
                                            note=f"skipped: above {server.max_conns(hard)} descriptors, "
                                                 "and one process only"))
                        continue
                    rows.append(idle_cell(args, server, conns, rep, tmpdir, workers))
                    write_tsv()
    if not args.no_connrate:
        log("connection rate: connect + echo + close")
        for rep in range(1, args.other_reps + 1):
            for server in servers:
                rows.append(connrate_cell(args, server, rep, tmpdir))
                write_tsv()
    write_tsv()
    micro = ""
    if args.micro:
        exe = os.path.join(args.build, "bench", "micro_pairs")
        log("core micro-benchmark: netev against bare epoll loops (bench/micro_pairs.c)")
        micro = subprocess.run([exe], stdout=subprocess.PIPE, universal_newlines=True, check=True).stdout
        log(micro)
    elapsed = time.monotonic() - t0
    meta = {"elapsed": elapsed, "micro": micro, "note": args.note, "quick": args.quick, "reps": args.reps,
            "other_reps": args.other_reps, "duration": args.duration, "warmup": args.warmup,
            "retries": args.retries, "quiet": args.quiet,
            "client_cpu": args.client_cpu, "client_threads": args.client_threads,
            "connrate_conns": args.connrate_conns, "per_process": args.per_process,
            "echod_standin": args.echod_standin, "machine": info, "bound_share": args.bound_share,
            "bound_note": bound_note, "bound_reps": args.bound_reps,
            "date": datetime.datetime.now().strftime("%Y-%m-%d %H:%M")}
    with open(tsv[:-4] + ".meta.json", "w") as f:
        json.dump(meta, f, indent=1)
    status = report(args, rows, names, tsv, meta, tmpdir)
    shutil.rmtree(tmpdir, ignore_errors=True)
    return status


def report(args, rows, names, tsv, meta, tmpdir):
    tables, thr, cpu, p99, idle = summarize(rows, names, args)
    bar = bar_check(thr, cpu, p99, idle, rows)
    log("")
    log("\n".join(tables))
    log(f"Bar of issue 4 ({REFERENCE}):")
    log("\n".join(bar))
    log(f"\nwrote {os.path.relpath(tsv, ROOT)} ({meta['elapsed']:.0f} s)")
    if args.docs:
        png = os.path.join(ROOT, "docs", "bench.png")
        os.makedirs(os.path.dirname(png), exist_ok=True)
        plot(rows, names, png, tmpdir)
        write_doc(os.path.join(ROOT, "docs", "bench.md"), meta, tsv, tables, bar, rows)
    errors = sum(int(r["errors"] or 0) for r in rows)
    if errors:
        log(f"run_bench: {errors} echobench errors in the runs (see the errors column of the TSV)")
        return 1
    return 0


def redraw(args):
    """Tables, plot and docs/bench.md again from a TSV (and its .meta.json) of an earlier run."""
    with open(args.redraw) as f:
        header = f.readline().rstrip("\n").split("\t")
        rows = []
        for line in f:
            r = {c: "" for c in TSV_COLUMNS}
            r.update(zip(header, line.rstrip("\n").split("\t")))
            rows.append(r)
    with open(args.redraw[:-4] + ".meta.json") as f:
        meta = json.load(f)
    if args.note:  # a note written after the run: kept with it
        meta["note"] = args.note
        with open(args.redraw[:-4] + ".meta.json", "w") as f:
            json.dump(meta, f, indent=1)
    present = {r["server"] for r in rows}
    names = [s for s in SERVER_ORDER if s in present]
    args.docs = True
    tmpdir = args.redraw[:-4] + ".tmp"
    os.makedirs(tmpdir, exist_ok=True)
    try:
        return report(args, rows, names, os.path.abspath(args.redraw), meta, tmpdir)
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)


def bound_method(meta):
    """The method's bullet on the server-bound cells (none for runs from before them)."""
    if not meta.get("bound_share"):
        return ""
    rounds = meta.get("bound_reps", meta["other_reps"])  # runs before --bound-reps had other_reps rounds
    text = f"""- Server-bound cells, standing in for issue 4's machine with more cores: on 2 cores echobench saturates
  its core before a good server does, so messages/s ranks clients. Here each server is capped at
  {meta['bound_share']:g} of a CPU by a cgroup's cpu quota (`bench/cpucap.py`, 10 ms period), which leaves it the
  bottleneck with a whole core of client behind it; 64 B, depth 1, {rounds} rounds, the same
  rotation and per-round ratios as above. A stand-in only: with more cores the server would run uncapped
  on its own core and echobench's threads on the others; throttling also adds waits that a saturated
  core does not have."""
    if meta.get("bound_note"):
        text += f" This run: {meta['bound_note']}."
    return text + "\n"


def write_doc(path, meta, tsv, tables, bar, rows):
    info, micro, note = meta["machine"], meta["micro"], meta["note"]
    standin = ("\n**Development run: `--echod-standin` was given, so the rows named echod are the bare epoll "
               "peer, not echod.**\n" if meta["echod_standin"] else "")
    noise = [float(r["others_cpu"]) for r in rows if r["others_cpu"] != ""]
    noisy = sum(1 for x in noise if x > meta["quiet"])
    text = f"""# netev benchmarks

Latest run: {meta['date']}, `make bench`
({'quick' if meta['quick'] else 'full'} matrix, {meta['elapsed'] / 60:.0f} min). Every run is in
[`{os.path.relpath(tsv, ROOT)}`](../{os.path.relpath(tsv, ROOT)}).
{standin}{(chr(10) + note + chr(10)) if note else ""}
## Machine

- CPU: {info.get('cpu', '?')}, {info['cpus']} CPUs; memory {info['mem']}
- OS: {info['os']}, Linux {info['kernel']}
- Compiler: {info['cc']}; netev built RelWithDebInfo (-O2 -g)
- Peer libraries (Debian packages): {info['libs']}
- RLIMIT_NOFILE hard limit: {info['nofile']:,} descriptors per process

## Method

- Servers: echod (`--backend epoll` and `--backend poll`), and single-threaded echo servers in
  `bench/peers/` on libuv, libevent (event API), libev, a bare level-triggered epoll loop and the
  classic select() loop that rebuilds its fd_sets on every iteration (up to FD_SETSIZE = 1,024
  descriptors, so it sits out the 10,000-connection cells). All read into one 64 KiB buffer, buffer
  what a send did not take, stop reading while they do, set TCP_NODELAY, listen on 127.0.0.1.
- Load: `echobench` (built on netev; {meta['client_threads']} thread(s)), depth 1 (one message in flight per connection),
  {meta['duration']:g} s per cell after all connections are up{warmup_text(meta)},
  every echoed byte checked. echobench sends what
  a round of its loop has to send in one `netev_send_batch` (one `io_uring_enter`), so it spends less per
  message than the servers do, and with many connections the server, not the client, sets the pace.
- The server is pinned to CPU 0 and echobench to CPU(s) {meta['client_cpu']} (`taskset`). The tables give messages/s
  and the server's CPU time per message: utime+stime from `/proc/PID/stat` over the measured window divided
  by the messages echoed in it (clock-tick resolution, 10 ms, over a window of several seconds). Beside it,
  how busy the server's CPU was per message (`echobench --server-core 0`: user, system, irq and softirq
  time of CPU 0 in `/proc/stat`), which also holds the kernel's work on that CPU that no process is
  charged with: mostly loopback receive processing left to `ksoftirqd/0`. The bar of issue 4 is on the
  first figure, as the issue defines it. The two part at 10,000 connections: there echod's sends, many
  in one `io_uring_enter`, leave more of that work to ksoftirqd (measured when echod batched its sends
  only, a thousand per call: 0.14 of echod's own CPU time, against 0.07 to 0.08 for the bare epoll loop,
  libuv and echod without the ring; ksoftirqd/0's CPU time from `/proc` around 2-second windows, medians
  of 6 runs each): its process figure leaves out about 6 % more of its cost than the peers' do.
  The busy figure comes from clock-tick samples, the process figure is the scheduler's exact run time
  (utime+stime are scaled to it): where the server sleeps after almost every message (1 connection),
  the samples miss much of its short runs and the busy figure reads below the process's.
- Why the client batches: up to `bench/results/2026-11-27-004513.tsv` echobench made one send(2) per
  message and saturated its core before the better servers did. Those servers then slept between the
  client's bursts and paid for each wake-up, so CPU per message penalised the cheaper server. At 100
  connections echod went to sleep once per 105 messages and libuv, saturated, once per 1,836; a server
  held below its capacity (`echobench --rate 100000`) cost 6.7 to 7.3 us per message against 4.4 to 5.5 us
  when saturated. With the batching client echod sleeps once per 11,402 messages and libuv once per 6,856.
- One instance of each server, started once, serves all its echo cells one after another (between them
  it holds no connection and sleeps), so no window holds its start-up work.
- Each 64 B echo cell (the bar's) runs {meta['reps']} time(s) (4 KiB cells, idle memory and connection rate
  {meta.get('other_reps', meta['reps'])}), the
  servers of a cell back to back in a rotating order, the rounds minutes apart; the tables show medians.
  The bar below judges each cell on the median of the per-round ratios (echod against the peer in the
  same round, seconds apart), which cancels the host's slow spells: in them every server's CPU per
  message rises by up to a third (`bench/results/2026-11-26-203640.tsv`, 9 runs per cell). The ratio of
  the medians, taken over runs minutes apart, follows each verdict; where the two fall on either side
  of a bar, the difference is within this host's noise. The machine is
  shared: a run during which the rest of the machine used more than {meta['quiet']:g} CPUs (busy ticks in
  `/proc/stat` minus the server's, echobench's and ksoftirqd's, plus steal) is run again, up to {meta['retries']}
  time(s), and the quietest attempt is kept; the TSV's `others_cpu` column gives that figure per run
  (median here: {statistics.median(noise) if noise else 0:.2f} CPUs; {noisy} of {len(noise)} runs stayed above
  {meta['quiet']:g} after the retries).
- Idle memory: the server's VmRSS growth from before to after opening N idle connections (each echoed
  one message first), divided by N. User-space memory only: the kernel's socket buffers are not in RSS.
  Before it, {IDLE_WARM:,} clients per server process echo at once and close (one-time memory: buffers,
  the bookkeeping of batches of a thousand records), then {IDLE_BASE:,} idle connections per process
  open and stay open through the measurement (they take up what the warm-up's connections left free);
  the growth is counted from there.
  Connections come from several echobench processes (at most {meta['per_process']:,} each, each from its
  own source address 127.0.0.2, 127.0.0.3, ...), because a process has at most RLIMIT_NOFILE
  descriptors and an address about 28,000 ports toward one server port. The server itself needs one
  descriptor per connection: where its hard limit is below N, every server is measured at the count
  that fits (noted below), and at N only echod, run with `--workers K` (K processes sharing the port
  through SO_REUSEPORT, K chosen so each holds about 80 % of its limit at most; RSS summed over them).
- Connection rate: `echobench --reconnect`: {meta['connrate_conns']} connections at a time, each one
  connect, one 64-byte echo, close, again; from 8 source addresses, to spread TIME_WAIT.
{bound_method(meta)}- Reproduce: `make bench` (full: about 24 minutes on a quiet machine, more with retries) or `make bench-quick` (a minute or two, not
  written here). `python3 bench/run_bench.py --help` for subsets.
- Closer comparisons of a few servers: `python3 bench/alternate.py --conns N --rounds 15` keeps one
  instance of each running and alternates 1-second runs between them; it gives the medians of the
  per-round ratios, which the host's slow spells hardly move.
- Not in the matrix: `uring` (`bench/peers/peer_uring.c`, built when liburing is installed), an echo
  loop on io_uring's completion model (multishot recv into provided buffers, sends and re-arms submitted
  together, one system call per batch), and its halves `uring-recv` (the ring for receiving only) and
  `uring-send` (epoll and recv(2), the sends of a loop in one `io_uring_enter`). With the client of
  before the change above, the saving was all in the sending half, which echod takes through
  `netev_send_batch` with synchronous results (its recvs now go the same way, `netev_recv_batch`, in
  chunks of up to 64). With the batching client (8 rounds at 1,000 connections)
  the whole completion loop costs 0.96 x echod's CPU per message, and either half alone about 1.05 x:
  `python3 bench/alternate.py --servers echod-epoll,uring,uring-send,uring-recv,epoll,libuv --conns N`.
  Also `echod-nouring`: echod with `NETEV_NO_IO_URING=1`, each recv and send of a batch a recv(2) or
  send(2).

## Results

![throughput, p99 latency and server CPU per message against connections](bench.png)

{chr(10).join(tables)}
## Against the bar of issue 4

{chr(10).join(bar)}
"""
    if micro:
        text += f"""
## Core micro-benchmark

`make bench-micro` (`bench/micro_pairs.c`): N loopback TCP connections, one 64-byte token each
bouncing between this process and an echo child; the driven ends are served in turn by netev
(`netev_wait`, `netev_recv`, `netev_send`) and by two bare epoll loops doing the same work
(level-triggered, one recv per event; edge-triggered, recv until a short read). Both processes share
one CPU, so each runs while the other waits and the rates repeat; the driver's CPU time per event
is the cost without the child's share.

```
{micro.rstrip()}
```
"""
    with open(path, "w") as f:
        f.write(text)
    log(f"wrote {os.path.relpath(path, ROOT)}")


if __name__ == "__main__":
    sys.exit(main())
