"""Helpers for echod's integration tests: start a real echod process, talk TCP
to it on 127.0.0.1, and read its state from /proc.  Python 3 standard library
only.  Every process started here is stopped by its PID."""

import os
import re
import resource
import signal
import socket
import subprocess
import tempfile
import threading
import time


class Failure(Exception):
    pass


def check(cond, what):
    if not cond:
        raise Failure(what)


class Config:
    echod = None        # path to the binary
    backend = "epoll"
    sanitized = False   # ASan/UBSan build: slower, more memory
    wrap = []           # a command to run echod under (valgrind ...)
    slow = 1.0          # timeout multiplier


CFG = Config()


def deadline(seconds):
    return time.monotonic() + seconds * CFG.slow


class Echod:
    """An echod process on 127.0.0.1 (or the given address).  stdout and
    stderr go to files, so a chatty --trace can never block it on a pipe."""

    started = []  # every process, so that a failed case leaves none running

    @classmethod
    def kill_all(cls):
        for d in cls.started:
            d.kill()
        cls.started = []

    def __init__(self, *args, bind="127.0.0.1", port=0, nofile=None, backend=True,
                 expect_start=True, env=None):
        self.out = tempfile.TemporaryFile(mode="w+b")
        self.err = tempfile.TemporaryFile(mode="w+b")
        argv = list(CFG.wrap) + [CFG.echod]
        if bind is not None:
            argv += ["-b", bind]
        if port is not None:
            argv += ["-p", str(port)]
        if backend:
            argv += ["--backend", CFG.backend]
        argv += list(args)
        self.argv = argv

        def limit():
            if nofile is not None:
                resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))

        # restore_signals (the default) gives the child SIGPIPE's default
        # action back: a send without MSG_NOSIGNAL would kill echod.
        self.proc = subprocess.Popen(argv, stdout=self.out, stderr=self.err,
                                     stdin=subprocess.DEVNULL, preexec_fn=limit,
                                     env=None if env is None else dict(os.environ, **env))
        self.pid = self.proc.pid
        Echod.started.append(self)
        self.port = port
        self.status = None
        if expect_start:
            self.port = self._wait_port()

    def wait_exit(self, seconds=10):
        """Waits for an echod that should exit on its own; its status."""
        try:
            self.status = self.proc.wait(timeout=seconds * CFG.slow)
        except subprocess.TimeoutExpired:
            self.kill()
            raise Failure("echod still running after %ds: %r %r" % (seconds * CFG.slow, self.stdout(), self.stderr()))
        return self.status

    def _wait_port(self):
        end = deadline(10)
        while time.monotonic() < end:
            m = re.search(r"listening on \S+ port (\d+) \(backend (\w+), pid (\d+)(?:, \d+ workers)?\)",
                          self.stdout())
            if m:
                check(m.group(2) == CFG.backend, "echod runs backend %s, not %s" % (m.group(2), CFG.backend))
                check(int(m.group(3)) == self.pid, "start line names pid %s, not %d" % (m.group(3), self.pid))
                return int(m.group(1))
            if self.proc.poll() is not None:
                raise Failure("echod exited with %s before listening: %s" % (self.proc.returncode, self.stderr()))
            time.sleep(0.02)
        self.kill()
        raise Failure("echod printed no start line: %r %r" % (self.stdout(), self.stderr()))

    def _read(self, f):
        f.seek(0)
        return f.read().decode("utf-8", "replace")

    def stdout(self):
        return self._read(self.out)

    def stderr(self):
        return self._read(self.err)

    def alive(self):
        return self.proc.poll() is None

    def connect(self, timeout=10, family=socket.AF_INET, host="127.0.0.1"):
        s = socket.socket(family, socket.SOCK_STREAM)
        s.settimeout(timeout * CFG.slow)
        s.connect((host, self.port))
        return s

    def send_signal(self, sig):
        if self.proc.poll() is None:
            os.kill(self.pid, sig)

    def stop(self, sig=signal.SIGTERM, expect_status=0):
        """Stops echod with sig and checks its exit status and that it
        reported no error (sanitizer reports included)."""
        self.send_signal(sig)
        try:
            self.status = self.proc.wait(timeout=20 * CFG.slow)
        except subprocess.TimeoutExpired:
            self.kill()
            raise Failure("echod did not exit within %ds of signal %d" % (20 * CFG.slow, sig))
        err = self.stderr()
        check("AddressSanitizer" not in err and "runtime error" not in err and "LeakSanitizer" not in err,
              "sanitizer report:\n" + err)
        check(self.status == expect_status, "echod exit status %s, expected %s; stderr:\n%s"
              % (self.status, expect_status, err))
        return self.stdout()

    def kill(self):
        if self.proc.poll() is None:
            kids = self.children()  # --workers: they stop with echod, but a broken one might not
            os.kill(self.pid, signal.SIGKILL)
            self.proc.wait()
            for k in kids:
                try:
                    os.kill(k, signal.SIGKILL)
                except ProcessLookupError:
                    pass

    # ---- /proc ----

    def fds(self):
        """Open descriptors, the loop's io_uring not counted: it is made at
        the first batch of two or more recvs or sends, whenever that comes,
        and kept (one per loop), so it is no session's and no leak."""
        n = 0
        for fd in os.listdir("/proc/%d/fd" % self.pid):
            try:
                n += os.readlink("/proc/%d/fd/%s" % (self.pid, fd)) != "anon_inode:[io_uring]"
            except OSError:
                pass  # closed meanwhile
        return n

    def children(self):
        """PIDs of echod's child processes (its --workers)."""
        kids = []
        for name in os.listdir("/proc"):
            if name.isdigit():
                try:
                    with open("/proc/%s/stat" % name) as f:
                        ppid = int(f.read().rsplit(")", 1)[1].split()[1])
                except (OSError, IndexError, ValueError):
                    continue  # gone, or not readable
                if ppid == self.pid:
                    kids.append(int(name))
        return sorted(kids)

    def rss_kib(self):
        """Resident KiB, the loop's io_uring rings (104 KiB, mapped when the
        first batch of two or more recvs or sends comes) not counted: one
        per loop, made whenever that batch happens to come, and no
        session's memory (as in fds())."""
        rss, mapping = None, ""
        with open("/proc/%d/smaps" % self.pid) as f:
            for line in f:
                head = line.split()
                if head and "-" in head[0] and not head[0].endswith(":"):
                    mapping = line  # a mapping's first line: range perms offset dev inode [name]
                elif head and head[0] == "Rss:" and "io_uring" not in mapping:
                    rss = (rss or 0) + int(head[1])
        if rss is None:
            raise Failure("no Rss in smaps")
        return rss

    def cpu_seconds(self):
        with open("/proc/%d/stat" % self.pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        tick = os.sysconf("SC_CLK_TCK")
        return (int(fields[11]) + int(fields[12])) / tick  # utime + stime

    def wait_fds(self, want, seconds=5):
        """Waits until echod has exactly `want` descriptors open."""
        end = deadline(seconds)
        while True:
            n = self.fds()
            if n == want:
                return
            if time.monotonic() > end:
                raise Failure("echod has %d descriptors open, expected %d" % (n, want))
            time.sleep(0.02)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def recv_exact(s, n):
    parts, got = [], 0
    while got < n:
        b = s.recv(min(n - got, 1 << 20))
        if not b:
            raise Failure("connection closed after %d of %d bytes" % (got, n))
        parts.append(b)
        got += len(b)
    return b"".join(parts)


def recv_to_eof(s):
    parts = []
    while True:
        b = s.recv(1 << 20)
        if not b:
            return b"".join(parts)
        parts.append(b)


def echo_ok(s, payload):
    s.sendall(payload)
    back = recv_exact(s, len(payload))
    check(back == payload, "echo differs (%d bytes)" % len(payload))


def rst_close(s):
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    s.close()


def pattern(n, seed=0):
    """n bytes that differ at every offset, so a lost or repeated chunk shows."""
    block = bytes((i * 131 + seed * 7 + (i >> 8)) & 0xFF for i in range(65536 + 256))
    out = bytearray()
    pos = 0
    while len(out) < n:
        k = min(n - len(out), 65536)
        out += block[pos % 256:pos % 256 + k]
        pos += 1
    return bytes(out)


class Thread(threading.Thread):
    """A thread that keeps its exception for the caller."""

    def __init__(self, fn, *args):
        super().__init__(daemon=True)
        self.fn, self.args, self.error, self.result = fn, args, None, None

    def run(self):
        try:
            self.result = self.fn(*self.args)
        except BaseException as e:  # noqa: B902 - handed to the caller
            self.error = e

    def join_checked(self, seconds):
        self.join(seconds * CFG.slow)
        check(not self.is_alive(), "helper thread did not finish in time")
        if self.error:
            raise self.error
        return self.result
