# SPDX-License-Identifier: LGPL-2.1-or-later
"""Integration harness: a private root libvirtd and its lifecycle events.

PrivateLibvirtd runs in its own mount namespace (private /etc/libvirt, /etc/passwd,
/etc/group, /run, /var) under our subreaper; its QEMU driver runs real TCG guests,
its test driver holds many cheap domains. LifecycleEvents is the one process-wide
event loop every connection reports to.
"""
import contextlib
import os
import re
import shutil
import signal
import subprocess
import threading
import time

from harness_env import HERE, PYTHON
from harness_wait import Timeout, log, now, pid_alive, wait_pid_gone, wait_until


EVENT_NAMES = {0: "DEFINED", 1: "UNDEFINED", 2: "STARTED", 3: "SUSPENDED", 4: "RESUMED",
               5: "STOPPED", 6: "SHUTDOWN", 7: "PMSUSPENDED", 8: "CRASHED"}
DETAIL_NAMES = {
    2: {0: "BOOTED", 1: "MIGRATED", 2: "RESTORED", 3: "FROM_SNAPSHOT", 4: "WAKEUP"},
    5: {0: "SHUTDOWN", 1: "DESTROYED", 2: "CRASHED", 3: "MIGRATED", 4: "SAVED",
        5: "FAILED", 6: "FROM_SNAPSHOT"},
    6: {0: "FINISHED", 1: "GUEST", 2: "HOST"},
}


class LifecycleEvents:
    """One process-wide libvirt event loop thread; every connection's lifecycle
    events land here as (t, domain name, EVENT, DETAIL)."""

    _instance = None

    @classmethod
    def get(cls):
        if cls._instance is None:
            cls._instance = cls()
        return cls._instance

    def __init__(self):
        import libvirt
        self.libvirt = libvirt
        libvirt.virEventRegisterDefaultImpl()  # must precede every virConnectOpen
        # Errors are exceptions here; do not also print them (e.g. an expected "Domain not found").
        libvirt.registerErrorHandler(lambda ctx, err: None, None)
        self.cond = threading.Condition()
        self.events = []
        threading.Thread(target=self._loop, name="libvirt-events", daemon=True).start()

    def _loop(self):
        while True:
            self.libvirt.virEventRunDefaultImpl()

    def watch(self, conn):
        conn.domainEventRegisterAny(None, self.libvirt.VIR_DOMAIN_EVENT_ID_LIFECYCLE, self._cb, None)

    def _cb(self, conn, dom, event, detail, opaque):
        ev = (now(), dom.name(), EVENT_NAMES.get(event, str(event)),
              DETAIL_NAMES.get(event, {}).get(detail, str(detail)))
        with self.cond:
            self.events.append(ev)
            self.cond.notify_all()
        log("libvirt event: %s %s/%s" % ev[1:])

    def select(self, name=None, event=None, since=0.0, detail=None):
        with self.cond:
            return [e for e in self.events
                    if e[0] >= since and (name is None or e[1] == name)
                    and (event is None or e[2] == event) and (detail is None or e[3] == detail)]

    def wait(self, name, event, timeout, since=0.0, count=1):
        """Wait until `count` events `event` for domain `name` arrived after `since`;
        return the last of them."""
        end = time.monotonic() + timeout
        with self.cond:
            while True:
                found = self.select(name, event, since)
                if len(found) >= count:
                    return found[count - 1]
                rem = end - time.monotonic()
                if rem <= 0:
                    raise Timeout("no %s event (x%d) for %s within %.1fs; got %s" %
                                  (event, count, name, timeout, self.select(name, since=since)))
                self.cond.wait(rem)


# ----------------------------------------------------------------------------------
# Private libvirtd

LIBVIRTD_CONF = """\
unix_sock_dir = "{base}/sock"
auth_unix_ro = "none"
auth_unix_rw = "none"
log_outputs = "3:file:{base}/libvirtd.log"
"""

# Debian's libvirt 9.0 QEMU driver needs user libvirt-qemu even with user="root", a
# security driver off, no namespaces/cgroups (no systemd here) and stdio to a file
# (otherwise it needs virtlogd).
QEMU_CONF = """\
user = "root"
group = "root"
dynamic_ownership = 0
remember_owner = 0
security_driver = "none"
namespaces = [ ]
cgroup_controllers = [ ]
stdio_handler = "file"
"""


class PrivateLibvirtd:
    """Root libvirtd in `unshare --mount` with everything it writes below base."""

    def __init__(self, base):
        self.base = base
        self.sock = os.path.join(base, "sock", "libvirt-sock")
        self.qemu_uri = "qemu:///system?socket=" + self.sock
        self.test_uri = "test+unix:///default?socket=" + self.sock
        self.reapers = []        # every subreaper we started (they linger while QEMU runs)
        self.qemu = None         # our connections
        self.test = None
        self.events = LifecycleEvents.get()
        self._setup()

    def _setup(self):
        b = self.base
        for d in ("etc", "run", "sock", "var/lib/libvirt", "var/cache/libvirt",
                  "var/log/libvirt", "var/tmp"):
            os.makedirs(os.path.join(b, d), exist_ok=True)
        with contextlib.suppress(FileExistsError):
            os.symlink("/run", os.path.join(b, "var/run"))
        for f in ("libvirt.conf", "libvirt-admin.conf"):
            with contextlib.suppress(OSError):
                shutil.copy("/etc/libvirt/" + f, os.path.join(b, "etc", f))
        with open(os.path.join(b, "etc/libvirtd.conf"), "w") as f:
            f.write(LIBVIRTD_CONF.format(base=b))
        with open(os.path.join(b, "etc/qemu.conf"), "w") as f:
            f.write(QEMU_CONF)
        for name, line in (("passwd", "libvirt-qemu:x:64055:64055:Libvirt Qemu:/var/lib/libvirt:/usr/sbin/nologin\n"),
                           ("group", "libvirt-qemu:x:64055:\n")):
            text = open("/etc/" + name).read()
            if not re.search(r"^libvirt-qemu:", text, re.M):
                text += ("" if text.endswith("\n") else "\n") + line
            with open(os.path.join(b, name), "w") as f:
                f.write(text)

    @property
    def pid(self):
        """pid of libvirtd itself (the subreaper writes it)."""
        try:
            return int(open(os.path.join(self.base, "libvirtd.pid")).read())
        except (OSError, ValueError):
            return None

    def start(self, timeout=60):
        b = self.base
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.sock)
            os.unlink(os.path.join(b, "libvirtd.pid"))
        script = ("set -eu\n"
                  "mount --bind {b}/etc /etc/libvirt\n"
                  "mount --bind {b}/passwd /etc/passwd\n"
                  "mount --bind {b}/group /etc/group\n"
                  "mount --bind {b}/run /run\n"
                  "mount --bind {b}/var /var\n"
                  "exec {py} {reaper} --linger --pidfile={b}/libvirtd.pid "
                  "/usr/sbin/libvirtd -f {b}/etc/libvirtd.conf -p /run/libvirtd.pid\n").format(
                      b=b, py=PYTHON, reaper=os.path.join(HERE, "subreaper.py"))
        out = open(os.path.join(b, "daemon.out"), "ab")
        p = subprocess.Popen(["unshare", "--mount", "--propagation", "private", "/bin/sh", "-c", script],
                             stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                             start_new_session=True)
        out.close()
        self.reapers.append(p)
        t = time.monotonic()
        self._wait_ready(p, timeout)
        log("libvirtd ready after %.2fs (pid %s)" % (time.monotonic() - t, self.pid))

    def _wait_ready(self, proc, timeout):
        import libvirt
        end = time.monotonic() + timeout
        # The socket appears first; the drivers only answer once libvirtd has
        # initialised them, so the real signal is a successful open of each URI.
        while True:
            if proc.poll() is not None and (self.pid is None or not pid_alive(self.pid)):
                raise RuntimeError("libvirtd exited during start-up:\n" + self.output())
            if os.path.exists(self.sock):
                try:
                    qemu = libvirt.open(self.qemu_uri)
                    test = libvirt.open(self.test_uri)
                    break
                except libvirt.libvirtError:
                    pass
            if time.monotonic() > end:
                raise RuntimeError("libvirtd not ready within %ds:\n%s" % (timeout, self.output()))
            time.sleep(0.05)
        self.qemu, self.test = qemu, test
        self.events.watch(qemu)
        self.events.watch(test)
        # The test driver's /default comes with a running domain "test"; it is not ours.
        with contextlib.suppress(libvirt.libvirtError):
            d = test.lookupByName("test")
            if d.isActive():
                d.destroy()
            d.undefine()

    def output(self):
        try:
            return open(os.path.join(self.base, "daemon.out"), errors="replace").read()[-4000:]
        except OSError:
            return ""

    def _close_connections(self):
        for c in (self.qemu, self.test):
            if c is not None:
                with contextlib.suppress(Exception):
                    c.close()
        self.qemu = self.test = None

    def client_pids(self):
        """pids of the processes connected to libvirtd (its admin interface)."""
        uri = "libvirtd:///system?socket=" + os.path.join(self.base, "sock", "libvirt-admin-sock")
        r = subprocess.run(["virt-admin", "-c", uri, "client-list", "libvirtd"],
                           capture_output=True, text=True)
        pids = []
        for line in r.stdout.splitlines()[2:]:
            if not line.split():
                continue
            info = subprocess.run(["virt-admin", "-c", uri, "client-info", "libvirtd", line.split()[0]],
                                  capture_output=True, text=True).stdout
            m = re.search(r"unix_process_id:\s*(\d+)", info)
            if m:
                pids.append(int(m.group(1)))
        return pids

    def wait_client(self, pid, timeout):
        """Wait until process pid holds a connection to this libvirtd (no event for
        that: poll the admin interface)."""
        return wait_until(lambda: pid in self.client_pids(), timeout,
                          "pid %d to connect to libvirtd" % pid, interval=0.1)

    def kill9(self):
        """SIGKILL libvirtd (its QEMU guests keep running, as on a real host)."""
        pid = self.pid
        assert pid and pid_alive(pid), "libvirtd is not running"
        os.kill(pid, signal.SIGKILL)
        if not wait_pid_gone(pid, 10):
            raise RuntimeError("libvirtd %d survived SIGKILL" % pid)
        self._close_connections()
        log("libvirtd %d killed with SIGKILL" % pid)

    def restart(self):
        self.start()

    def qemu_pids(self):
        """QEMU processes of this libvirtd: orphans re-parented to one of our subreapers
        (never a pid read from a file: it may have been reused by someone else)."""
        reapers = {p.pid for p in self.reapers}
        daemon = self.pid
        pids = []
        for d in os.listdir("/proc"):
            if not d.isdigit() or int(d) == daemon:
                continue
            try:
                with open("/proc/%s/status" % d) as f:
                    ppid = int(re.search(r"^PPid:\s+(\d+)", f.read(), re.M).group(1))
            except (OSError, AttributeError):
                continue
            if ppid in reapers:
                pids.append(int(d))
        return pids

    def stop(self):
        import libvirt
        # libvirtd does not stop guests when it exits: destroy them first.
        if self.qemu is not None:
            with contextlib.suppress(libvirt.libvirtError):
                for d in self.qemu.listAllDomains(libvirt.VIR_CONNECT_LIST_DOMAINS_ACTIVE):
                    with contextlib.suppress(libvirt.libvirtError):
                        d.destroy()
        self._close_connections()
        for p in self.reapers:
            if p.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    p.send_signal(signal.SIGTERM)   # forwarded to libvirtd
        for pid in self.qemu_pids():                # belt and braces
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        for p in self.reapers:
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
        self.reapers = []
