# SPDX-License-Identifier: LGPL-2.1-or-later
"""Integration harness: tdsleepd as a process (own config, state dir, NOTIFY_SOCKET and
fd store), started and restarted as systemd would.
"""
import fcntl
import functools
import os
import re
import shutil
import subprocess

from harness_env import TDSLEEPD
from harness_notify import NotifySocket
from harness_varlink import varlink_method
from harness_wait import Timeout, log, now, wait_until


class DaemonExited(AssertionError):
    pass


def place_listen_fds(fds):
    """In the child before exec: put fds at 3, 4, ... (inheritable), as sd_listen_fds()
    expects. First out of the way, as a stored fd may already sit on one of those numbers.
    Everything else the harness holds is close-on-exec (PEP 446, MSG_CMSG_CLOEXEC)."""
    high = [fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 3 + len(fds)) for fd in fds]
    for i, fd in enumerate(high):
        os.dup2(fd, 3 + i, inheritable=True)
        os.close(fd)


class Daemon:
    """One tdsleepd configuration + state dir; can be started several times."""

    def __init__(self, workdir, libvirt_uri, bus, sysfs_root, binary=TDSLEEPD):
        self.dir = workdir
        self.binary = binary
        self.uri = libvirt_uri
        self.bus = bus
        self.sysfs_root = sysfs_root
        self.config = os.path.join(workdir, "tdsleepd.conf")
        self.dropin_dir = self.config + ".d"
        self.state_dir = os.path.join(workdir, "state")
        self.ctl_socket = os.path.join(workdir, "ctl.sock")
        os.makedirs(self.state_dir, exist_ok=True)
        self.notify = NotifySocket(os.path.join(workdir, "notify.sock"))
        self.proc = None
        self.runs = []       # (Popen, stderr path)
        self.started_at = None
        self.env = {}        # extra environment for the next start() (e.g. LD_PRELOAD)
        self.released_after = None   # the run whose clean exit emptied the fd store
        self.config_root = None      # set: --config-root=DIR instead of --config=PATH

    @property
    def state_file(self):
        return os.path.join(self.state_dir, "cycle.json")

    def write_config(self, text, dropins=None):
        with open(self.config, "w") as f:
            f.write(text)
        if os.path.isdir(self.dropin_dir):
            shutil.rmtree(self.dropin_dir)
        if dropins:
            os.makedirs(self.dropin_dir)
            for name, body in dropins.items():
                with open(os.path.join(self.dropin_dir, name), "w") as f:
                    f.write(body)

    def start(self, wait=True, timeout=30):
        assert self.proc is None or self.proc.poll() is not None, "already running"
        errpath = os.path.join(self.dir, "tdsleepd-%d.stderr" % (len(self.runs) + 1))
        # RUNTIME_DIRECTORY: what RuntimeDirectory=tdsleep (kept with
        # RuntimeDirectoryPreserve=yes) gives the daemon under the unit
        runtime = os.path.join(self.dir, "run")
        os.makedirs(runtime, exist_ok=True)
        env = dict(os.environ, DBUS_SYSTEM_BUS_ADDRESS=self.bus.address,
                   TDSLEEP_LOG_LEVEL="debug", NOTIFY_SOCKET=self.notify.path, RUNTIME_DIRECTORY=runtime)
        for k in ("LISTEN_FDS", "LISTEN_FDNAMES", "LISTEN_PID"):
            env.pop(k, None)
        env.update(self.env)
        # config_root: the search path below it (--config-root), instead of one file
        where = "--config-root=" + self.config_root if self.config_root else "--config=" + self.config
        argv = [self.binary, where, "--state-dir=" + self.state_dir,
                "--sysfs-root=" + self.sysfs_root, "--libvirt-uri=" + self.uri,
                "--socket=" + self.ctl_socket]
        stored = self.notify.stored()
        popen = {}
        if stored:
            # As systemd does after a crash: the fd store comes back as fds 3.. with
            # LISTEN_FDS/LISTEN_FDNAMES; LISTEN_PID must be the daemon's own pid, which
            # only the process itself knows: sh sets it and execs (same pid).
            env.update(LISTEN_FDS=str(len(stored)), LISTEN_FDNAMES=":".join(n for n, _ in stored))
            argv = ["/bin/sh", "-c", 'LISTEN_PID=$$ exec "$0" "$@"'] + argv
            popen = dict(preexec_fn=functools.partial(place_listen_fds, [fd for _, fd in stored]),
                         close_fds=False)
        self.started_at = now()
        with open(errpath, "wb") as err:
            self.proc = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL,
                                         stdout=err, stderr=subprocess.STDOUT, **popen)
        self.runs.append((self.proc, errpath))
        log("tdsleepd started (pid %d): %s%s" % (self.proc.pid, " ".join(argv[-6:]),
                                                  " with fds %s" % env["LISTEN_FDNAMES"] if stored else ""))
        if wait:
            self.wait_ready(timeout)
        return self

    @property
    def pid(self):
        return self.proc.pid

    def alive(self):
        if self.proc is None:
            return False
        self._reaped(self.proc.poll())
        return self.proc.returncode is None

    def _reaped(self, returncode):
        """A clean exit is not restarted (Restart=on-failure): systemd then empties the
        fd store. A crash keeps it for the restart."""
        if returncode == 0 and self.released_after is not self.proc:
            self.released_after = self.proc
            self.notify.release_store()
        return returncode

    def wait_ready(self, timeout=30):
        try:
            return self.notify.wait(lambda f: f.get("READY") == "1", timeout, "READY=1",
                                    pid=self.proc.pid, alive=self.alive)
        except Timeout as e:
            raise DaemonExited("%s (exit status %s)\n--- stderr ---\n%s" %
                               (e, self.proc.poll(), self.stderr()))

    def wait_status(self, pred, timeout, what, since=None):
        return self.notify.wait(lambda f: "STATUS" in f and pred(f["STATUS"]), timeout, what,
                                pid=self.proc.pid, since=self.started_at if since is None else since,
                                alive=self.alive)

    def wait_exit(self, timeout=20):
        try:
            return self._reaped(self.proc.wait(timeout))
        except subprocess.TimeoutExpired:
            raise Timeout("tdsleepd did not exit within %ss" % timeout)

    def signal(self, sig):
        self.proc.send_signal(sig)

    def kill9(self):
        self.proc.kill()
        self.proc.wait()
        log("tdsleepd %d killed with SIGKILL" % self.proc.pid)

    def stop(self, timeout=15):
        """SIGTERM, as `systemctl stop`: once it has exited, systemd empties the fd store
        (kill9() and a crash keep it, as Restart=on-failure does)."""
        if self.alive():
            self.proc.terminate()
            try:
                return self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise Timeout("tdsleepd ignored SIGTERM for %ss" % timeout)
            finally:
                self.notify.release_store()
        return self.proc.returncode if self.proc else None

    def stderr(self, run=-1):
        if not self.runs:
            return ""
        return open(self.runs[run][1], errors="replace").read()

    def all_stderr(self):
        return "\n".join("--- tdsleepd run %d (pid %d, exit %s) ---\n%s" %
                         (i + 1, p.pid, p.returncode, open(path, errors="replace").read())
                         for i, (p, path) in enumerate(self.runs))

    def wait_log(self, pattern, timeout, run=-1):
        """Wait for a stderr line matching pattern (the log has no other signal)."""
        rx = re.compile(pattern)
        return wait_until(lambda: rx.search(self.stderr(run)), timeout,
                          "daemon log line /%s/" % pattern, interval=0.05)

    def call(self, method, params=None, timeout=30):
        """io.tdsleep.Manager.<method> over the control socket (raises VarlinkError)."""
        return varlink_method(self.ctl_socket, method, params, timeout)

    def status(self):
        return self.call("GetStatus")["status"]

    def close(self):
        for p, _ in self.runs:
            if p.poll() is None:
                p.kill()
                p.wait()
        self.notify.close()


def config_text(manager=None, **sleep):
    """[Manager] and [Sleep] sections from keyword arguments (ShutdownTimeoutSec='3s')."""
    out = "[Manager]\n"
    for k, v in (manager or {}).items():
        out += "%s=%s\n" % (k, v)
    out += "\n[Sleep]\n"
    for k, v in sleep.items():
        out += "%s=%s\n" % (k, v)
    return out
