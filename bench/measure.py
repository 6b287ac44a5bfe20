# SPDX-License-Identifier: LGPL-2.1-or-later
"""bench/measure.py: what bench/run's cases measure with: the floors (bench/lvwatch), the
delay lock's holder, libvirt-guests run as a host would, statistics and their format,
RSS and context switches of a process."""
import contextlib
import os
import re
import select
import shutil
import statistics
import struct
import subprocess
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BENCH = os.path.join(REPO, "bench")
LIBVIRT_GUESTS = "/usr/lib/libvirt/libvirt-guests.sh"
T = None   # the harness module (tests/integration/tdsleeptest.py), set by bench/run


def say(msg=""):
    print(msg, flush=True)


def mono():
    return time.monotonic()

# ----------------------------------------------------------------------------------
# Measuring helpers


class LvWatch:
    """bench/lvwatch.c: lifecycle events for a set of domains, timestamps on
    CLOCK_MONOTONIC (= time.monotonic())."""

    def __init__(self, tool, uri, names, event, action="none", destroy_after=0):
        argv = [tool, uri, event, action] + ([str(destroy_after)] if destroy_after else [])
        self.p = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.p.stdin.write("".join(n + "\n" for n in names) + "END\n")
        self.p.stdin.flush()
        if self.p.stdout.readline().strip() != "READY":
            self.p.wait()
            raise RuntimeError("lvwatch failed to start (%s)" % " ".join(argv))

    def go(self):
        self.p.stdin.write("GO\n")
        self.p.stdin.flush()

    def result(self, timeout=900):
        r, _, _ = select.select([self.p.stdout], [], [], timeout)
        line = self.p.stdout.readline() if r else ""
        self.p.wait(30)
        m = re.match(r"DONE (\S+) (\S+) (\S+) (\d+) (\d+) (\S+)", line)
        if not m:
            raise RuntimeError("lvwatch: no result (exit %s)" % self.p.returncode)
        return dict(t_go=float(m.group(1)), t_issued=float(m.group(2)), t_last=float(m.group(3)),
                    n=int(m.group(4)), destroyed=int(m.group(5)), t_first=float(m.group(6)))


def floor_run(tool, uri, names, event, action, destroy_after=0):
    """Do `action` to every domain at once; seconds until the last `event`."""
    w = LvWatch(tool, uri, names, event, action, destroy_after)
    w.go()
    r = w.result()
    return r["t_last"] - r["t_go"], r


def pipe_inodes(pid):
    out = {}
    d = "/proc/%d/fd" % pid
    for fd in os.listdir(d):
        with contextlib.suppress(OSError):
            m = re.match(r"pipe:\[(\d+)\]", os.readlink(os.path.join(d, fd)))
            if m:
                out[m.group(1)] = int(fd)
    return out


class LockWatch:
    """The delay lock is the write end of a pipe whose read end the logind mock holds
    (dbusmock's Inhibit). We open that pipe's read end ourselves (through /proc) and
    poll for POLLHUP: it comes the moment tdsleepd closes the lock, to the microsecond,
    with no polling of ListInhibitors."""

    def __init__(self, mock, daemon, timeout=30):
        T.wait_until(lambda: mock.daemon_locks(), timeout, "tdsleepd's delay lock", interval=0.01)
        shared = {}
        mock_pipes = pipe_inodes(mock.proc.pid)
        for ino in pipe_inodes(daemon.pid):
            if ino in mock_pipes:
                shared[ino] = mock_pipes[ino]
        if len(shared) != 1:
            raise RuntimeError("expected one lock pipe between mock and daemon, found %d" % len(shared))
        fd = list(shared.values())[0]
        self.fd = os.open("/proc/%d/fd/%d" % (mock.proc.pid, fd), os.O_RDONLY | os.O_NONBLOCK)

    def wait_released(self, timeout):
        p = select.poll()
        p.register(self.fd, select.POLLHUP)
        if not p.poll(timeout * 1000):
            raise T.Timeout("delay lock not released within %ss" % timeout)
        return mono()

    def close(self):
        os.close(self.fd)


class ShutdownStamps:
    """bench/shutdownstamp.c, preloaded into tdsleepd: when its virDomainShutdown calls
    began and returned (CLOCK_MONOTONIC, = time.monotonic()), read from a file the
    library maps shared. env() is the daemon's extra environment."""

    FORMAT = "<4Q"     # calls, first began, last began, last returned (ns)

    def __init__(self, library, directory):
        self.library = library
        fd, self.path = tempfile.mkstemp(prefix="shutdown-stamps-", dir=directory)
        with os.fdopen(fd, "wb") as f:
            f.write(bytes(struct.calcsize(self.FORMAT)))
        os.chmod(self.path, 0o644)

    def env(self):
        return {"LD_PRELOAD": self.library, "BENCH_SHUTDOWN_STAMPS": self.path}

    def read(self):
        with open(self.path, "rb") as f:
            calls, first, last, returned = struct.unpack(self.FORMAT, f.read(struct.calcsize(self.FORMAT)))
        if not calls or returned < last:      # none made, or the last still running
            return None
        return dict(calls=calls, first_began=first / 1e9, last_began=last / 1e9, last_returned=returned / 1e9)


def stats(xs):
    xs = [x for x in xs if x is not None]
    if not xs:
        return None
    return dict(med=statistics.median(xs), min=min(xs), max=max(xs), n=len(xs))


def fmt_s(s):
    """seconds -> a short human figure."""
    if s is None:
        return "—"
    if s < 0.001:
        return "%.0f µs" % (s * 1e6)
    if s < 1:
        return "%.1f ms" % (s * 1e3)
    return "%.2f s" % s


def fmt_stat(st, f=fmt_s):
    if st is None:
        return "not run"
    if st["n"] == 1:
        return f(st["med"])
    return "%s (%s – %s)" % (f(st["med"]), f(st["min"]), f(st["max"]))


# ----------------------------------------------------------------------------------
# libvirt-guests in a private mount namespace


def _bind_over(target, src, work, script):
    """Append shell lines that make `target` show `src` in the private namespace.
    A target that does not exist on the host is not created there: its parent is
    replaced by a private directory of symlinks to the parent's entries."""
    if os.path.exists(target):
        script.append("mount --bind '%s' '%s'" % (src, target))
        return
    parent = os.path.dirname(target)
    farm = os.path.join(work, "farm" + parent.replace("/", "-"))
    os.makedirs(farm, exist_ok=True)
    for e in os.listdir(parent):
        with contextlib.suppress(FileExistsError):
            os.symlink(os.path.join(parent, e), os.path.join(farm, e))
    link = os.path.join(farm, os.path.basename(target))
    with contextlib.suppress(FileNotFoundError):
        os.unlink(link)
    if os.path.isdir(src):
        os.symlink(src, link)
    else:
        shutil.copy(src, link)
    script.append("mount --bind '%s' '%s'" % (farm, parent))


def libvirt_guests(base, uri, parallel, timeout):
    """Run libvirt-guests.sh stop with the given settings; (seconds, output)."""
    work = tempfile.mkdtemp(prefix="lg-", dir=base)
    conf = os.path.join(work, "libvirt-guests")
    with open(conf, "w") as f:
        f.write("URIS='%s'\nON_BOOT=ignore\nON_SHUTDOWN=shutdown\nPARALLEL_SHUTDOWN=%d\n"
                "SHUTDOWN_TIMEOUT=%d\n" % (uri, parallel, timeout))
    varlib = os.path.join(work, "var-lib-libvirt")
    lock = os.path.join(work, "run-lock")
    os.makedirs(varlib)
    os.makedirs(lock)
    script = ["set -eu"]
    _bind_over("/etc/default/libvirt-guests", conf, work, script)
    _bind_over("/var/lib/libvirt", varlib, work, script)
    script.append("mount --bind '%s' /run/lock" % lock)
    script.append("exec %s stop" % LIBVIRT_GUESTS)
    t0 = mono()
    r = subprocess.run(["unshare", "--mount", "--propagation", "private", "/bin/sh", "-c",
                        "\n".join(script)], capture_output=True, text=True, stdin=subprocess.DEVNULL)
    dt = mono() - t0
    shutil.rmtree(work, ignore_errors=True)
    return dt, r.stdout + r.stderr


def floor(tool, uri, names, event, action):
    floor_run(tool, uri, names, event, action)


def rss(pid):
    st = open("/proc/%d/status" % pid).read()
    g = lambda k: int(re.search(r"^%s:\s+(\d+)" % k, st, re.M).group(1))  # noqa: E731
    out = {"rss_kib": g("VmRSS"), "hwm_kib": g("VmHWM"), "anon_kib": g("RssAnon"), "file_kib": g("RssFile")}
    # What the host pays: USS (pages only tdsleepd maps: Private_Clean + Private_Dirty)
    # and PSS (shared pages split among the processes mapping them, libvirtd among them).
    with contextlib.suppress(OSError, AttributeError):
        roll = open("/proc/%d/smaps_rollup" % pid).read()
        g = lambda k: int(re.search(r"^%s:\s+(\d+)" % k, roll, re.M).group(1))  # noqa: E731
        out["pss_kib"] = g("Pss")
        out["uss_kib"] = g("Private_Clean") + g("Private_Dirty")
    return out


def ctx_switches(pid):
    vol = inv = 0
    tasks = os.listdir("/proc/%d/task" % pid)
    for t in tasks:
        with contextlib.suppress(OSError):
            st = open("/proc/%d/task/%s/status" % (pid, t)).read()
            vol += int(re.search(r"^voluntary_ctxt_switches:\s+(\d+)", st, re.M).group(1))
            inv += int(re.search(r"^nonvoluntary_ctxt_switches:\s+(\d+)", st, re.M).group(1))
    return {"voluntary": vol, "involuntary": inv, "threads": len(tasks)}
