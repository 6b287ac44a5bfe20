# SPDX-License-Identifier: LGPL-2.1-or-later
"""Integration harness: real TCG guests.

GuestImages builds a Debian kernel + busybox initramfs (with and without acpid) once
from Debian packages and caches it in the build directory; GuestPool defines the
guests once per module and reuses them while they run.
"""
import contextlib
import fcntl
import glob
import gzip
import lzma
import os
import re
import shutil
import subprocess
import tempfile
import time
import unittest

from harness_domains import qemu_domain_xml
from harness_env import BUILD_DIR
from harness_wait import log, wait_until


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
