# SPDX-License-Identifier: LGPL-2.1-or-later
"""Integration harness: where things are, and whether this machine can run the tests."""
import os
import shutil
import tempfile


HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
BUILD_DIR = os.environ.get("TDSLEEP_BUILD_DIR") or os.path.join(REPO, "build")
TDSLEEPD = os.environ.get("TDSLEEPD") or os.path.join(BUILD_DIR, "daemon", "tdsleepd")
PYTHON = "/usr/bin/python3"


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
