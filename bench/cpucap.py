"""A cap on the CPU time of benchmark servers: a cgroup whose processes share
a fraction of one CPU.

Why: on a 2-core machine echobench saturates its core before a good server
does, so messages/s ranks clients, not servers.  Capped at half a CPU, the
server is the bottleneck with a whole core of client behind it, as on a
machine with more cores for the clients; messages/s then follows the
server's cost per message.  The period is 10 ms (the kernel's default is
100 ms) so that throttling comes in short slices.

Needs root and the cpu controller: cgroup v1 (/sys/fs/cgroup/cpu) or v2
(cpu in /sys/fs/cgroup/cgroup.controllers).  CpuCap raises OSError where it
cannot be had; callers leave the capped measurement out and say why.
"""
import os

PERIOD_US = 10000
V1 = "/sys/fs/cgroup/cpu"
V2 = "/sys/fs/cgroup"


def _write(path, text):
    with open(path, "w") as f:
        f.write(text)


def _v2_has_cpu():
    try:
        with open(os.path.join(V2, "cgroup.controllers")) as f:
            return "cpu" in f.read().split()
    except OSError:
        return False


class CpuCap:
    def __init__(self, share, name):
        if not 0 < share <= 64:
            raise ValueError(f"CPU share {share}: not in (0, 64]")
        quota = max(1000, int(share * PERIOD_US))
        if os.path.isfile(os.path.join(V1, "cpu.cfs_quota_us")):
            self.parent = V1
            self.path = os.path.join(V1, name)
            os.mkdir(self.path)
            try:
                _write(os.path.join(self.path, "cpu.cfs_period_us"), str(PERIOD_US))
                _write(os.path.join(self.path, "cpu.cfs_quota_us"), str(quota))
            except OSError:
                os.rmdir(self.path)
                raise
        elif _v2_has_cpu():
            self.parent = V2
            # A child gets the cpu controller only if its parent hands it down.
            _write(os.path.join(V2, "cgroup.subtree_control"), "+cpu")
            self.path = os.path.join(V2, name)
            os.mkdir(self.path)
            try:
                _write(os.path.join(self.path, "cpu.max"), f"{quota} {PERIOD_US}")
            except OSError:
                os.rmdir(self.path)
                raise
        else:
            raise OSError("no cgroup cpu controller (v1 at /sys/fs/cgroup/cpu, or v2 with cpu enabled)")
        self.share = share

    def add(self, pid):
        """Moves a process, all its threads, into the cap; its children
        started later (echod --workers, io_uring workers) inherit it."""
        _write(os.path.join(self.path, "cgroup.procs"), str(pid))

    def close(self):
        """Removes the group; a process still in it goes back to the parent."""
        try:
            with open(os.path.join(self.path, "cgroup.procs")) as f:
                left = [p for p in f.read().split() if p]
            for pid in left:
                try:
                    _write(os.path.join(self.parent, "cgroup.procs"), pid)
                except OSError:
                    pass  # exited meanwhile
            os.rmdir(self.path)
        except FileNotFoundError:
            pass
