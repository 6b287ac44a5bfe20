# SPDX-License-Identifier: LGPL-2.1-or-later
"""Integration harness for tdsleepd.

Everything the daemon talks to is real or the ecosystem's own stand-in, started
privately by the test itself:
  - PrivateLibvirtd: a root libvirtd in its own mount namespace (private /etc/libvirt,
    /etc/passwd, /etc/group, /run, /var), under our subreaper; its QEMU driver runs
    real TCG guests, its test driver holds many cheap domains.
  - GuestImages: a Debian kernel + busybox initramfs (with and without acpid), built
    once from Debian packages and cached in the build directory.
  - PrivateBus + LogindMock: a private system-type dbus-daemon with python3-dbusmock's
    logind template.
  - FakeSysfs: the sysfs/procfs files the daemon reads, below a root directory.
  - Daemon: tdsleepd with its own config, state dir and NOTIFY_SOCKET.
Waiting is done on events (libvirt lifecycle events, sd_notify messages, process exit,
lines on a pipe); where no event exists (dbusmock's inhibitor list, a serial console
file) we poll at short intervals against a deadline.
"""
import contextlib
import fcntl
import functools
import glob
import gzip
import json
import lzma
import os
import re
import select
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
BUILD_DIR = os.environ.get("TDSLEEP_BUILD_DIR") or os.path.join(REPO, "build")
TDSLEEPD = os.environ.get("TDSLEEPD") or os.path.join(BUILD_DIR, "daemon", "tdsleepd")
PYTHON = "/usr/bin/python3"

LOGIND = ("org.freedesktop.login1", "/org/freedesktop/login1")
LOGIND_IFACE = "org.freedesktop.login1.Manager"
MOCK_IFACE = "org.freedesktop.DBus.Mock"
TDSLEEP_NS = "urn:tdsleep:domain:1"

T0 = time.monotonic()


def now():
    """Seconds since the harness was imported (monotonic)."""
    return time.monotonic() - T0


def log(msg):
    if os.environ.get("TDSLEEP_TEST_QUIET") != "1":
        sys.stderr.write("[%8.3f] %s\n" % (now(), msg))
        sys.stderr.flush()


class Timeout(AssertionError):
    pass


def wait_until(cond, timeout, what, interval=0.02):
    """Poll cond() until it returns something truthy; only for state that has no event."""
    end = time.monotonic() + timeout
    while True:
        r = cond()
        if r:
            return r
        if time.monotonic() >= end:
            raise Timeout("timed out after %.1fs waiting for %s" % (timeout, what))
        time.sleep(interval)


# ----------------------------------------------------------------------------------
# Environment checks


def missing_requirements(need_qemu=False):
    """A reason to skip, or None."""
    if os.geteuid() != 0:
        return "integration tests need root (private libvirtd in a mount namespace)"
    progs = ["/usr/sbin/libvirtd", "dbus-daemon", "unshare", "mount"]
    if need_qemu:
        progs += ["qemu-system-x86_64", "busybox", "apt-get", "dpkg"]
    for p in progs:
        if shutil.which(p) is None:
            return "%s not found" % p
    for mod in ("dbus", "dbusmock", "libvirt", "gi"):
        try:
            __import__(mod)
        except ImportError:
            return "python module %s missing (use /usr/bin/python3 with python3-%s)" % (mod, mod)
    if not os.access(TDSLEEPD, os.X_OK):
        return "tdsleepd not built: %s (set TDSLEEPD=)" % TDSLEEPD
    return None


def make_tempdir(tag):
    return tempfile.mkdtemp(prefix="tdsleep-integ-%s-" % tag, dir=os.environ.get("TMPDIR", "/tmp"))


def pid_alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


def wait_pid_gone(pid, timeout):
    """Wait for a process that is not our child to disappear (pidfd: no polling)."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return True
    try:
        r, _, _ = select.select([fd], [], [], timeout)
        return bool(r)
    finally:
        os.close(fd)


# ----------------------------------------------------------------------------------
# libvirt: event loop, lifecycle events


EVENT_NAMES = {0: "DEFINED", 1: "UNDEFINED", 2: "STARTED", 3: "SUSPENDED", 4: "RESUMED",
               5: "STOPPED", 6: "SHUTDOWN", 7: "PMSUSPENDED", 8: "CRASHED"}
DETAIL_NAMES = {
    2: {0: "BOOTED", 1: "MIGRATED", 2: "RESTORED", 3: "FROM_SNAPSHOT", 4: "WAKEUP"},
    5: {0: "SHUTDOWN", 1: "DESTROYED", 2: "CRASHED", 3: "MIGRATED", 4: "SAVED",
        5: "FAILED", 6: "FROM_SNAPSHOT"},
    6: {0: "FINISHED", 1: "GUEST", 2: "HOST"},
}
STATE_NAMES = {0: "nostate", 1: "running", 2: "blocked", 3: "paused", 4: "shutdown",
               5: "shutoff", 6: "crashed", 7: "pmsuspended"}


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


# ----------------------------------------------------------------------------------
# Guest images from Debian packages


def _cpio_newc(entries):
    """entries: (path, mode, data bytes) -> newc archive bytes (symlink: data = target)."""
    out = bytearray()
    ino = 1

    def add(name, mode, data):
        nonlocal ino
        nb = name.encode() + b"\0"
        hdr = "070701" + "".join("%08X" % v for v in (
            ino, mode, 0, 0, 1, 0, len(data), 0, 0, 0, 0, len(nb), 0))
        out.extend(hdr.encode() + nb)
        out.extend(b"\0" * (-len(out) % 4))
        out.extend(data)
        out.extend(b"\0" * (-len(out) % 4))
        ino += 1

    for name, mode, data in entries:
        add(name, mode, data)
    add("TRAILER!!!", 0, b"")
    return bytes(out)


GUEST_INIT = """#!/bin/sh
export PATH=/bin
mount -t devtmpfs devtmpfs /dev
mount -t proc proc /proc
mount -t sysfs sysfs /sys
insmod /lib/modules/button.ko
insmod /lib/modules/evdev.ko
if [ {acpid} = 1 ]; then
    acpid -f -d -c /etc/acpi >/dev/ttyS0 2>&1 &
    p=$!
    # claim readiness only once acpid listens: an earlier power button is lost
    i=0
    while [ $i -lt 200 ] && ! ls -l /proc/$p/fd 2>/dev/null | grep -q /dev/input/event; do
        sleep 0.05; i=$((i+1))
    done
fi
echo "GUEST-READY acpid={acpid} kernel=$(uname -r)" > /dev/ttyS0
while :; do sleep 3600; done
"""

# busybox acpid maps the power button to "PWRF 00000080" and runs that file.
GUEST_POWER_BUTTON = """#!/bin/sh
echo "GUEST: ACPI power button -> poweroff" > /dev/ttyS0
poweroff -f
"""


# The slow variant (GuestImages.initrd_slow): acts on the button, but late.
GUEST_SLOW_POWER_BUTTON = """#!/bin/sh
echo "GUEST: ACPI power button -> poweroff in {delay}s" > /dev/ttyS0
sleep {delay}
echo "GUEST: slow poweroff now" > /dev/ttyS0
poweroff -f
"""


class GuestImages:
    """vmlinux/vmlinuz + initramfs (acpid) + initramfs-ignore (no acpid), cached in
    BUILD/test-guests/<kernel package>_<version>/ (or $TDSLEEP_GUEST_CACHE/...)."""

    def __init__(self, cache_root=None):
        self.cache_root = cache_root or os.environ.get("TDSLEEP_GUEST_CACHE") or \
            os.path.join(BUILD_DIR, "test-guests")
        self.dir = None
        self.kernel = None

    @staticmethod
    def _kernel_package():
        pkg = os.environ.get("TDSLEEP_GUEST_KERNEL_PKG")
        if not pkg:
            out = subprocess.run(["apt-cache", "depends", "linux-image-amd64"],
                                 capture_output=True, text=True).stdout
            m = re.search(r"Depends: (linux-image-[0-9][^\s]*-amd64)", out)
            if not m:
                raise unittest.SkipTest("cannot find Debian's linux-image-*-amd64 package (apt-get update?)")
            pkg = m.group(1)
        out = subprocess.run(["apt-cache", "show", "--no-all-versions", pkg],
                             capture_output=True, text=True).stdout
        m = re.search(r"^Version: (\S+)", out, re.M)
        if not m:
            raise unittest.SkipTest("apt-cache knows no version of %s" % pkg)
        return pkg, m.group(1)

    def build(self):
        pkg, version = self._kernel_package()
        self.dir = os.path.join(self.cache_root, "%s_%s" % (pkg, version.replace(":", "%3a")))
        os.makedirs(self.cache_root, exist_ok=True)
        with open(os.path.join(self.cache_root, ".lock"), "w") as lockf:
            fcntl.flock(lockf, fcntl.LOCK_EX)   # another test run may be building
            if not os.path.exists(os.path.join(self.dir, "complete")):
                self._build(pkg)
        self.kernel = os.path.join(self.dir, "vmlinux")
        if not os.path.exists(self.kernel):
            self.kernel = os.path.join(self.dir, "vmlinuz")
        return self

    def initrd(self, acpid):
        return os.path.join(self.dir, "initramfs.cpio.gz" if acpid else "initramfs-ignore.cpio.gz")

    def initrd_slow(self, delay):
        """An initramfs whose guest honours the ACPI power button but powers off only
        `delay` seconds later (it prints "GUEST: ACPI power button" at once). Built from
        the acpid initramfs plus a second cpio archive that replaces the button's
        script (the kernel unpacks concatenated archives in order)."""
        path = os.path.join(self.dir, "initramfs-slow%d.cpio.gz" % delay)
        with open(os.path.join(self.cache_root, ".lock"), "w") as lockf:
            fcntl.flock(lockf, fcntl.LOCK_EX)
            if not os.path.exists(path):
                script = GUEST_SLOW_POWER_BUTTON.format(delay=delay).encode()
                overlay = _cpio_newc([("etc/acpi/PWRF/00000080", 0o100755, script)])
                tmp = path + ".tmp"
                with open(tmp, "wb") as f:
                    f.write(open(self.initrd(True), "rb").read())
                    f.write(gzip.compress(overlay, 6))
                os.rename(tmp, path)
        return path

    def _build(self, pkg):
        t = time.monotonic()
        work = tempfile.mkdtemp(prefix="guest-build-", dir=self.cache_root)
        try:
            r = subprocess.run(["apt-get", "download", pkg], cwd=work, capture_output=True, text=True)
            debs = glob.glob(os.path.join(work, "*.deb"))
            if r.returncode != 0 or not debs:
                raise unittest.SkipTest("apt-get download %s failed: %s" % (pkg, r.stderr.strip()[-300:]))
            kx = os.path.join(work, "kx")
            subprocess.run(["dpkg", "-x", debs[0], kx], check=True)
            # Debian 13's kernel packages ship /usr/lib/modules (merged /usr), 12's /lib/modules
            moddir = os.path.join(kx, "usr/lib/modules")
            if not os.path.isdir(moddir):
                moddir = os.path.join(kx, "lib/modules")
            kver = sorted(os.listdir(moddir))[0]
            out = os.path.join(work, "out")
            os.makedirs(out)
            shutil.copy(os.path.join(kx, "boot", "vmlinuz-" + kver), os.path.join(out, "vmlinuz"))
            self._extract_vmlinux(os.path.join(out, "vmlinuz"), os.path.join(out, "vmlinux"))
            mods = {}
            for m in ("drivers/acpi/button.ko", "drivers/input/evdev.ko"):
                p = os.path.join(moddir, kver, "kernel", m)
                if os.path.exists(p):
                    mods[os.path.basename(m)] = open(p, "rb").read()
                elif os.path.exists(p + ".xz"):
                    mods[os.path.basename(m)] = lzma.decompress(open(p + ".xz", "rb").read())
                else:
                    raise RuntimeError("module %s not in %s" % (m, pkg))
            busybox = open(shutil.which("busybox"), "rb").read()
            for name, acpid in (("initramfs.cpio.gz", 1), ("initramfs-ignore.cpio.gz", 0)):
                with open(os.path.join(out, name), "wb") as f:
                    f.write(gzip.compress(self._initramfs(busybox, mods, acpid), 6))
            with open(os.path.join(out, "complete"), "w") as f:
                f.write("%s %s\n" % (pkg, kver))
            if os.path.exists(self.dir):
                shutil.rmtree(self.dir)
            os.rename(out, self.dir)
            log("guest images built in %.1fs: %s" % (time.monotonic() - t, self.dir))
        finally:
            shutil.rmtree(work, ignore_errors=True)

    @staticmethod
    def _initramfs(busybox, mods, acpid):
        D, F, L = 0o040755, 0o100755, 0o120777
        e = [(d, D, b"") for d in ("bin", "dev", "proc", "sys", "lib", "lib/modules", "etc",
                                   "etc/acpi", "etc/acpi/PWRF", "var", "var/run", "var/log", "tmp")]
        e.append(("bin/busybox", F, busybox))
        for a in ("sh", "mount", "insmod", "mkdir", "acpid", "poweroff", "sleep", "echo",
                  "cat", "ls", "grep", "uname"):
            e.append(("bin/" + a, L, b"busybox"))
        for name, data in mods.items():
            e.append(("lib/modules/" + name, 0o100644, data))
        e.append(("etc/acpi/PWRF/00000080", F, GUEST_POWER_BUTTON.encode()))
        e.append(("init", F, GUEST_INIT.format(acpid=acpid).encode()))
        return _cpio_newc(e)

    @staticmethod
    def _extract_vmlinux(bzimage, dest):
        """The ELF kernel inside the bzImage boots about twice as fast under TCG (PVH)."""
        data = open(bzimage, "rb").read()
        off = data.find(b"\xfd7zXZ\x00")
        while off >= 0:
            try:
                elf = lzma.LZMADecompressor(format=lzma.FORMAT_XZ).decompress(data[off:])
                if elf[:4] == b"\x7fELF":
                    with open(dest, "wb") as f:
                        f.write(elf)
                    return True
            except lzma.LZMAError:
                pass
            off = data.find(b"\xfd7zXZ\x00", off + 1)
        return False


# ----------------------------------------------------------------------------------
# Domain XML


def tdsleep_metadata(trust_domain=True, **attrs):
    """<metadata> marking a TD (libvirt 9.0 rejects launchSecurity type='tdx')."""
    if trust_domain is None and not attrs:
        return ""
    a = "" if trust_domain is None else ' trust-domain="%s"' % ("yes" if trust_domain else "no")
    for k, v in attrs.items():
        a += ' %s="%s"' % (k.replace("_", "-"), v)
    return '<metadata><tdsleep:domain xmlns:tdsleep="%s"%s/></metadata>' % (TDSLEEP_NS, a)


SEV_XML = ("<launchSecurity type='sev'><cbitpos>47</cbitpos><reducedPhysBits>1</reducedPhysBits>"
           "<policy>0x0003</policy></launchSecurity>")


def _td_metadata(td, meta):
    """td: True (trust-domain="yes"), "no" (trust-domain="no") or False (no metadata)."""
    if td == "no":
        return tdsleep_metadata(False, **meta)
    return tdsleep_metadata(True, **meta) if td else ""


def testdrv_domain_xml(name, td=True, sev=False, **meta):
    return """<domain type='test'>
  <name>{name}</name>
  <memory unit='MiB'>128</memory>
  <vcpu>1</vcpu>
  {meta}
  <os><type arch='x86_64'>hvm</type></os>
  {sev}
</domain>""".format(name=name, meta=_td_metadata(td, meta), sev=SEV_XML if sev else "")


def qemu_domain_xml(name, images, serial, acpid=True, td=True, initrd=None, **meta):
    return """<domain type='qemu'>
  <name>{name}</name>
  <memory unit='MiB'>128</memory>
  <vcpu>1</vcpu>
  {meta}
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
    <kernel>{kernel}</kernel>
    <initrd>{initrd}</initrd>
    <cmdline>console=ttyS0 quiet panic=-1</cmdline>
  </os>
  <features><acpi/></features>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>destroy</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    <controller type='usb' model='none'/>
    <memballoon model='none'/>
    <serial type='file'><source path='{serial}' append='off'/></serial>
  </devices>
</domain>""".format(name=name, meta=_td_metadata(td, meta),
                    kernel=images.kernel, initrd=initrd or images.initrd(acpid), serial=serial)


def domain_state(conn, name):
    """'running', 'shutoff', ... or None when no such domain exists."""
    import libvirt
    try:
        return STATE_NAMES.get(conn.lookupByName(name).state()[0], "?")
    except libvirt.libvirtError as e:
        if e.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN:
            return None
        raise


class GuestPool:
    """Real TCG guests defined once per module and reused while they run."""

    def __init__(self, lv, images, serial_dir):
        self.lv, self.images, self.serial_dir = lv, images, serial_dir
        self.guests = {}  # name -> serial path
        self.options = {}
        self.transient = {}  # name -> XML of a transient guest (created, never defined)

    def define(self, name, acpid=True, td=True, initrd=None, transient=False, **meta):
        """initrd: a path instead of the shared image (a test may move it away);
        transient: not defined, created by ensure_running()/use()."""
        serial = os.path.join(self.serial_dir, name + ".log")
        xml = qemu_domain_xml(name, self.images, serial, acpid, td, initrd=initrd, **meta)
        if not transient:
            self.lv.qemu.defineXML(xml)
        self.guests[name] = serial
        self.options[name] = dict(meta, acpid=acpid, td=td)
        if transient:
            self.transient[name] = xml

    def serial(self, name):
        try:
            return open(self.guests[name], errors="replace").read()
        except OSError:
            return ""

    def ready(self, name):
        return "GUEST-READY" in self.serial(name)

    def ensure_running(self, names, timeout=120):
        """Start the guests that are not running (in parallel) and wait until every one
        printed GUEST-READY (ACPI requests before that are lost)."""
        import libvirt
        t = time.monotonic()
        started = []
        for n in names:
            if n in self.transient:
                if not self._exists(n):
                    self.lv.qemu.createXML(self.transient[n], 0)
                    started.append(n)
                continue
            d = self.lv.qemu.lookupByName(n)
            if not d.isActive():
                d.create()          # QEMU truncates the serial file (append='off')
                started.append(n)
        wait_until(lambda: all(self.ready(n) for n in names), timeout,
                   "GUEST-READY from %s" % ", ".join(names), interval=0.05)
        if started:
            log("guests %s booted in %.1fs" % (", ".join(started), time.monotonic() - t))
        return libvirt

    def _exists(self, name):
        import libvirt
        try:
            return self.lv.qemu.lookupByName(name).isActive()
        except libvirt.libvirtError:
            return False

    def use(self, names, timeout=120):
        """Exactly these pool TDs run (other pool TDs are destroyed, so the daemon
        sees only the test's TDs); reuse the ones already up."""
        import libvirt
        for n, opts in self.options.items():
            if n not in names and opts.get("td", True):
                try:
                    d = self.lv.qemu.lookupByName(n)
                except libvirt.libvirtError:
                    continue        # a transient guest that is not running
                if d.isActive():
                    d.destroy()
        self.ensure_running(names, timeout)

    def stop_all(self):
        import libvirt
        for n in self.guests:
            with contextlib.suppress(libvirt.libvirtError):
                d = self.lv.qemu.lookupByName(n)
                if d.isActive():
                    d.destroy()


# ----------------------------------------------------------------------------------
# D-Bus: private system bus and logind mock

BUS_CONF = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path={path}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_type="method_call"/>
    <allow send_type="signal"/>
    <allow send_requested_reply="true" send_type="method_return"/>
    <allow send_requested_reply="true" send_type="error"/>
    <allow receive_type="method_call"/>
    <allow receive_type="method_return"/>
    <allow receive_type="error"/>
    <allow receive_type="signal"/>
  </policy>
</busconfig>
"""


class PrivateBus:
    def __init__(self, base):
        self.base = base
        self.path = os.path.join(base, "system_bus_socket")
        self.address = "unix:path=" + self.path
        self.proc = None
        self.conn = None

    def start(self):
        conf = os.path.join(self.base, "bus.conf")
        with open(conf, "w") as f:
            f.write(BUS_CONF.format(path=self.path))
        self.proc = subprocess.Popen(["dbus-daemon", "--config-file=" + conf, "--nofork",
                                      "--print-address=1"], stdout=subprocess.PIPE,
                                     stdin=subprocess.DEVNULL, text=True, start_new_session=True)
        line = self.proc.stdout.readline()   # printed once it listens
        if not line:
            raise RuntimeError("dbus-daemon failed to start")
        import dbus.bus
        self.conn = dbus.bus.BusConnection(self.address)

    def stop(self):
        if self.conn is not None:
            with contextlib.suppress(Exception):
                self.conn.close()
            self.conn = None
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
        if self.proc:
            self.proc.stdout.close()


class LogindMock:
    """python3-dbusmock's logind (see logind_mock.py) driven by the test."""

    def __init__(self, bus, logfile):
        self.bus, self.logfile = bus, logfile
        self.proc = None

    def start(self, preparing=False, delay_max_usec=120_000_000):
        import dbus
        env = dict(os.environ, DBUS_SYSTEM_BUS_ADDRESS=self.bus.address)
        params = json.dumps({"PreparingForSleep": preparing, "InhibitDelayMaxUSec": delay_max_usec})
        self.proc = subprocess.Popen([PYTHON, os.path.join(HERE, "logind_mock.py"), self.logfile, params],
                                     env=env, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL,
                                     text=True, start_new_session=True)
        if self.proc.stdout.readline().strip() != "READY":
            self.proc.wait(5)
            raise RuntimeError("logind mock failed to start, see %s" % self.logfile)
        self.obj = self.bus.conn.get_object(*LOGIND)
        self.mock = dbus.Interface(self.obj, MOCK_IFACE)
        self.mgr = dbus.Interface(self.obj, LOGIND_IFACE)
        return self

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc:
            self.proc.stdout.close()
        self.proc = None

    def kill(self):
        self.proc.kill()
        self.proc.wait()
        self.proc.stdout.close()
        self.proc = None

    def set_preparing(self, value):
        import dbus
        self.mock.UpdateProperties(LOGIND_IFACE, {"PreparingForSleep": dbus.Boolean(value)})

    def prepare_for_sleep(self, start):
        """What logind does: PreparingForSleep first, then the signal."""
        import dbus
        self.set_preparing(start)
        self.mock.EmitSignal(LOGIND_IFACE, "PrepareForSleep", "b", [dbus.Boolean(start)])
        log("logind mock: PrepareForSleep(%s)" % ("true" if start else "false"))

    def inhibitors(self):
        return [tuple(str(x) if i < 4 else int(x) for i, x in enumerate(i))
                for i in self.mgr.ListInhibitors()]

    def daemon_locks(self):
        return [i for i in self.inhibitors() if i[1] == "tdsleepd" and i[3] == "delay"]

    def inhibit_calls(self):
        return [[str(a) for a in c[1]] for c in self.mock.GetMethodCalls("Inhibit")]


# ----------------------------------------------------------------------------------
# Fake sysfs / procfs


class FakeSysfs:
    def __init__(self, root, mem_sleep="s2idle [deep]", state="freeze mem disk", swap=False,
                 disk="[platform] shutdown reboot suspend test_resume"):
        self.root = root
        self.write("sys/power/state", state + "\n")
        self.write("sys/power/mem_sleep", mem_sleep + "\n")
        self.write("sys/power/disk", disk + "\n")
        swaps = "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n"
        if swap:
            swaps += "/dev/vda2                               partition\t4194300\t\t0\t\t-2\n"
        self.write("proc/swaps", swaps)
        cpuinfo = ""
        for n in (0, 1):
            cpuinfo += ("processor\t: %d\nvendor_id\t: GenuineIntel\nphysical id\t: 0\n"
                        "flags\t\t: fpu vme de pse tsc msr pae mce cx8 apic\n\n" % n)
        self.write("proc/cpuinfo", cpuinfo)
        self.write("sys/devices/system/cpu/online", "0-1\n")
        self.write("sys/devices/system/cpu/possible", "0-1\n")
        self.write("sys/devices/system/cpu/present", "0-1\n")
        for n in (0, 1):
            self.write("sys/devices/system/cpu/cpu%d/topology/physical_package_id" % n, "0\n")
            self.write("sys/devices/system/cpu/cpu%d/online" % n, "1\n")
        self.write("sys/module/kvm_intel/parameters/tdx", "N\n")

    def write(self, rel, text):
        p = os.path.join(self.root, rel)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "w") as f:
            f.write(text)

    def read(self, rel):
        return open(os.path.join(self.root, rel)).read()


# ----------------------------------------------------------------------------------
# sd_notify receiver


class NotifySocket:
    """A unix datagram socket for NOTIFY_SOCKET; messages kept as (t, pid, {k: v}).

    It is also the service's fd store, as systemd keeps it: FDSTORE=1 keeps the fds passed
    along under FDNAME= (several may share a name), FDSTOREREMOVE=1 drops every fd of
    that FDNAME=, and a stored fd that hangs up (POLLHUP/POLLERR) is dropped unless it
    came with FDPOLL=0. Daemon.start() hands them back as LISTEN_FDS; release_store()
    is what systemd does when the service stops for good."""

    def __init__(self, path):
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
        self.sock.bind(path)
        self.cond = threading.Condition()
        self.messages = []
        self.store = []      # [name, fd, poll], in the order systemd would hand them back
        self.barriers = 0    # barrier datagrams sent / taken in
        self.barriers_seen = 0
        self.closed = False
        self.rfd, self.wfd = os.pipe()
        self.thread = threading.Thread(target=self._loop, name="notify", daemon=True)
        self.thread.start()

    def _loop(self):
        while True:
            p = select.poll()
            p.register(self.sock, select.POLLIN)
            p.register(self.rfd, select.POLLIN)
            with self.cond:
                watched = {e[1]: e for e in self.store if e[2]}
            for fd in watched:
                p.register(fd, 0)     # POLLHUP and POLLERR are always reported
            events = dict(p.poll())
            if self.rfd in events:
                if b"x" in os.read(self.rfd, 64):
                    return
                continue
            for fd, ev in events.items():
                if fd in watched and ev & (select.POLLHUP | select.POLLERR):
                    self._store_drop(lambda e, entry=watched[fd]: e is entry, "hung up")
            if self.sock.fileno() in events:
                self._receive()

    def _store_drop(self, match, why):
        with self.cond:
            gone = [e for e in self.store if match(e)]
            self.store = [e for e in self.store if not match(e)]
        for name, fd, _ in gone:
            os.close(fd)
            log("fd store: dropped %s (fd %d): %s" % (name, fd, why))
        return len(gone)

    def _receive(self):
        # MSG_CMSG_CLOEXEC: a stored inhibitor fd must not leak into libvirtd or QEMU,
        # where it would hold the lock for good.
        data, anc, _, _ = self.sock.recvmsg(65536, socket.CMSG_SPACE(12) + socket.CMSG_SPACE(4 * 253),
                                            socket.MSG_CMSG_CLOEXEC)
        pid, fds = None, []
        for level, typ, cdata in anc:
            if level == socket.SOL_SOCKET and typ == socket.SCM_CREDENTIALS:
                pid = struct.unpack("iII", cdata[:12])[0]
            elif level == socket.SOL_SOCKET and typ == socket.SCM_RIGHTS:
                fds += struct.unpack("%di" % (len(cdata) // 4), cdata[:len(cdata) - len(cdata) % 4])
        fields = {}
        for line in data.decode(errors="replace").split("\n"):
            if "=" in line:
                k, v = line.split("=", 1)
                fields[k] = v
        if "HARNESS_BARRIER" in fields and pid == os.getpid():
            with self.cond:
                self.barriers_seen = int(fields["HARNESS_BARRIER"])
                self.cond.notify_all()
            return
        self._store_update(fields, fds)
        if fds:
            fields["_FDS"] = str(len(fds))
        with self.cond:
            self.messages.append((now(), pid, fields))
            self.cond.notify_all()
        if "STATUS" in fields:
            log("notify[%s]: STATUS=%s" % (pid, fields["STATUS"]))
        for k in fields:
            if k != "STATUS":
                log("notify[%s]: %s=%s" % (pid, k, fields[k]))

    def _store_update(self, fields, fds):
        """systemd's rules: a message either removes (FDSTOREREMOVE=1) or adds (FDSTORE=1);
        fds sent without FDSTORE=1 are closed."""
        name = fields.get("FDNAME", "stored")
        if fields.get("FDSTOREREMOVE") == "1":
            self._store_drop(lambda e: e[0] == name, "FDSTOREREMOVE=1")
        elif fields.get("FDSTORE") == "1" and fds:
            with self.cond:
                self.store += [[name, fd, fields.get("FDPOLL") != "0"] for fd in fds]
            log("fd store: keeping %d fd(s) as %s" % (len(fds), name))
            fds = []
        for fd in fds:
            os.close(fd)

    def barrier(self, timeout=5):
        """Wait until every datagram sent before now has been taken in: they queue in
        order, so one of ours behind them tells. A daemon's last FDSTORE=1 may still be
        queued when it exits, or when the lock it carries is already visible in logind."""
        with self.cond:
            self.barriers += 1
            token = self.barriers
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as s:
            s.sendto(b"HARNESS_BARRIER=%d" % token, self.path)
        end = time.monotonic() + timeout
        with self.cond:
            while self.barriers_seen < token:
                rem = end - time.monotonic()
                if rem <= 0:
                    raise Timeout("the notify socket did not catch up within %.1fs" % timeout)
                self.cond.wait(rem)

    def stored(self):
        """[(name, fd)] as systemd would pass them to the next start."""
        self.barrier()
        with self.cond:
            return [(name, fd) for name, fd, _ in self.store]

    def release_store(self):
        if not self.closed:
            self.barrier()
        if self._store_drop(lambda e: True, "the service stopped") and not self.closed:
            os.write(self.wfd, b"w")      # the poll set changed under the notify thread

    def wait(self, pred, timeout, what, pid=None, since=0.0, alive=None):
        """Wait for a message (from pid, after since) for which pred(fields) holds.
        alive(): returns False when waiting is pointless (the sender died)."""
        end = time.monotonic() + timeout
        with self.cond:
            while True:
                for m in self.messages:
                    if m[0] >= since and (pid is None or m[1] == pid) and pred(m[2]):
                        return m
                if alive is not None and not alive():
                    raise Timeout("the daemon exited while waiting for %s" % what)
                rem = end - time.monotonic()
                if rem <= 0:
                    raise Timeout("no notify message %s within %.1fs" % (what, timeout))
                self.cond.wait(min(rem, 0.2))

    def select(self, pid=None, key=None):
        with self.cond:
            return [m for m in self.messages if (pid is None or m[1] == pid) and (key is None or key in m[2])]

    def close(self):
        os.write(self.wfd, b"x")
        self.thread.join(5)
        self.closed = True
        self.release_store()
        self.sock.close()
        os.close(self.rfd)
        os.close(self.wfd)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)


# ----------------------------------------------------------------------------------
# tdsleepd


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


# ----------------------------------------------------------------------------------
# Varlink client for the control socket (io.tdsleep.Manager)


def varlink_call(path, method, params=None, more=False, timeout=30):
    """Call method over the Varlink socket at path (JSON objects ended by NUL); return
    the list of replies as dicts ("parameters", "error", "continues"). With more, read
    until a reply without "continues" (or an error). Raises Timeout."""
    msg = {"method": method, "parameters": params or {}}
    if more:
        msg["more"] = True
    end = time.monotonic() + timeout
    replies, buf = [], b""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC) as s:
        s.settimeout(timeout)
        s.connect(path)
        s.sendall(json.dumps(msg).encode() + b"\0")
        while True:
            while b"\0" in buf:
                raw, buf = buf.split(b"\0", 1)
                r = json.loads(raw)
                replies.append(r)
                if "error" in r or not r.get("continues"):
                    return replies
            rem = end - time.monotonic()
            if rem <= 0:
                raise Timeout("no reply to %s within %.1fs" % (method, timeout))
            s.settimeout(rem)
            try:
                data = s.recv(65536)
            except socket.timeout:
                raise Timeout("no reply to %s within %.1fs" % (method, timeout))
            if not data:
                raise AssertionError("%s: connection closed after %d replies" % (method, len(replies)))
            buf += data


def varlink_method(path, method, params=None, timeout=30):
    """One io.tdsleep.Manager call: its parameters, or raise VarlinkError."""
    r = varlink_call(path, "io.tdsleep.Manager." + method, params, timeout=timeout)[-1]
    if "error" in r:
        raise VarlinkError(r["error"], r.get("parameters"))
    return r.get("parameters", {})


class VarlinkError(Exception):
    def __init__(self, error, params):
        super().__init__("%s %s" % (error, params))
        self.error, self.params = error, params


def config_text(manager=None, **sleep):
    """[Manager] and [Sleep] sections from keyword arguments (ShutdownTimeoutSec='3s')."""
    out = "[Manager]\n"
    for k, v in (manager or {}).items():
        out += "%s=%s\n" % (k, v)
    out += "\n[Sleep]\n"
    for k, v in sleep.items():
        out += "%s=%s\n" % (k, v)
    return out


# ----------------------------------------------------------------------------------
# Test case base


class TDSleepTestCase(unittest.TestCase):
    """Module-wide: private libvirtd (+ guest images when NEED_QEMU) and private bus.
    Per test: a logind mock, a fake sysfs, a Daemon, fresh domains."""

    NEED_QEMU = False
    GUESTS = {}          # name -> dict(acpid=..., td=..., meta...) defined in setUpClass

    @classmethod
    def setUpClass(cls):
        reason = missing_requirements(cls.NEED_QEMU)
        if reason:
            raise unittest.SkipTest(reason)
        cls.base = make_tempdir(cls.__name__)
        cls.addClassCleanup(shutil.rmtree, cls.base, True)
        if cls.NEED_QEMU:
            cls.images = GuestImages().build()
        cls.lv = PrivateLibvirtd(os.path.join(cls.base, "libvirt"))
        cls.addClassCleanup(cls.lv.stop)
        cls.lv.start()
        cls.events = cls.lv.events
        cls.bus = PrivateBus(cls.base)
        cls.addClassCleanup(cls.bus.stop)
        cls.bus.start()
        if cls.NEED_QEMU:
            sdir = os.path.join(cls.base, "serial")
            os.makedirs(sdir)
            cls.pool = GuestPool(cls.lv, cls.images, sdir)
            for name, opts in cls.GUESTS.items():
                cls.pool.define(name, **opts)

    def setUp(self):
        self.t_start = now()
        log("===== %s" % self.id())
        self.dir = tempfile.mkdtemp(prefix="t-", dir=self.base)
        self.mock = LogindMock(self.bus, os.path.join(self.dir, "logind-mock.log")).start()
        self.addCleanup(lambda: self.mock.stop())
        self.sysfs = FakeSysfs(os.path.join(self.dir, "root"))
        self._daemons = []
        self._test_domains = []

    def tearDown(self):
        failed = self._outcome is not None and not self._outcome.success
        for d in self._daemons:
            with contextlib.suppress(Exception):
                d.stop()
        if failed or os.environ.get("TDSLEEP_TEST_VERBOSE") == "1":
            for d in self._daemons:
                sys.stderr.write("\n" + d.all_stderr())
            sys.stderr.write("\n--- libvirt events since test start ---\n%s\n" %
                             "\n".join("%8.3f %s %s/%s" % e for e in self.events.select(since=self.t_start)))
        for d in self._daemons:
            d.close()
        self._remove_test_domains()
        log("===== %s done in %.1fs" % (self.id(), now() - self.t_start))

    # --- daemon
    def daemon(self, uri=None, config=None, dropins=None, workdir=None, fdstore=True):
        # fdstore: the harness's notify socket is always a fd store, as systemd's (kept
        # for the tests that ask for it by name)
        d = Daemon(workdir or self.dir, uri or self.lv.test_uri, self.bus, self.sysfs.root)
        d.write_config(config if config is not None else config_text(ShutdownTimeoutSec="10s"), dropins)
        self._daemons.append(d)
        return d

    # --- test-driver domains
    def define_test_domain(self, name, td=True, sev=False, start=True, transient=False, **meta):
        xml = testdrv_domain_xml(name, td=td, sev=sev, **meta)
        if transient:
            dom = self.lv.test.createXML(xml, 0)
        else:
            dom = self.lv.test.defineXML(xml)
            if start:
                dom.create()
        self._test_domains.append(name)
        # The events of this setup arrive on the event thread, possibly late on a busy
        # machine: let them in now, so none lands after a test's "since" mark.
        if transient or start:
            self.events.wait(name, "STARTED", 10)
        return dom

    def _remove_test_domains(self):
        import libvirt
        if self.lv.test is None:
            return
        for n in self._test_domains:
            with contextlib.suppress(libvirt.libvirtError):
                d = self.lv.test.lookupByName(n)
                if d.isActive():
                    d.destroy()
                if d.isPersistent():
                    d.undefine()

    def states(self, names, conn=None):
        conn = conn or self.lv.test
        return {n: domain_state(conn, n) for n in names}

    # --- sleep cycle helpers
    def wait_lock(self, timeout=10):
        return wait_until(lambda: self.mock.daemon_locks(), timeout, "tdsleepd's delay lock")

    def wait_lock_gone(self, timeout, snapshot=None):
        """Wait until the daemon's delay lock is gone; return (t, snapshot()) taken right
        when the absence was seen."""
        def check():
            if self.mock.daemon_locks():
                return None
            return (now(), snapshot() if snapshot else None)
        return wait_until(check, timeout, "tdsleepd to release its delay lock")

    def uniq(self, stem):
        return "%s-%s" % (self._testMethodName.replace("test_", "")[:20].replace("_", "-"), stem)


def main():
    """Runner: `python3 tdsleeptest.py [module...]`; exits 77 when everything skipped."""
    loader = unittest.TestLoader()
    names = sys.argv[1:] or sorted(os.path.splitext(os.path.basename(p))[0]
                                   for p in glob.glob(os.path.join(HERE, "test_*.py")))
    sys.path.insert(0, HERE)
    suite = loader.loadTestsFromNames(names)
    res = unittest.TextTestRunner(verbosity=2).run(suite)
    if not res.wasSuccessful():
        return 1
    # setUpClass skips are recorded without counting as a test run
    test_skips = [s for s in res.skipped if isinstance(s[0], unittest.TestCase)]
    if res.skipped and res.testsRun - len(test_skips) == 0:
        return 77
    return 0


if __name__ == "__main__":
    sys.exit(main())
