"""Start an echod process and read its state from /proc (for the echod_* benchmarks)."""

import os
import re
import signal
import subprocess
import tempfile
import time


class Echod:
    def __init__(self, path, backend, extra=()):
        self.out = tempfile.TemporaryFile()
        self.proc = subprocess.Popen([path, "-b", "127.0.0.1", "-p", "0", "--backend", backend, *extra],
                                     stdout=self.out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        self.pid = self.proc.pid
        end = time.monotonic() + 10
        while True:
            self.out.seek(0)
            m = re.search(rb"port (\d+)", self.out.read())
            if m:
                self.port = int(m.group(1))
                return
            if time.monotonic() > end or self.proc.poll() is not None:
                self.kill()
                raise SystemExit("echod did not start")
            time.sleep(0.02)

    def fds(self):
        return len(os.listdir("/proc/%d/fd" % self.pid))

    def rss_kib(self):
        with open("/proc/%d/status" % self.pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return -1

    def cpu_seconds(self):
        with open("/proc/%d/stat" % self.pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def wait_fds(self, want, seconds=30):
        end = time.monotonic() + seconds
        while self.fds() != want:
            if time.monotonic() > end:
                return False
            time.sleep(0.05)
        return True

    def stop(self):
        """SIGTERM; returns echod's output (its summary is the last line)."""
        if self.proc.poll() is None:
            os.kill(self.pid, signal.SIGTERM)
            self.proc.wait(timeout=30)
        self.out.seek(0)
        return self.out.read().decode()

    def kill(self):
        if self.proc.poll() is None:
            os.kill(self.pid, signal.SIGKILL)
            self.proc.wait()
