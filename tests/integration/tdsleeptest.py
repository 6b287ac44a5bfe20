# SPDX-License-Identifier: LGPL-2.1-or-later
"""Integration harness for tdsleepd: the test case base and the runner.

Everything the daemon talks to is real or the ecosystem's own stand-in, started
privately by the test itself; each concern has its module beside this one:
  - harness_libvirt: PrivateLibvirtd, a root libvirtd in its own mount namespace
    (private /etc/libvirt, /etc/passwd, /etc/group, /run, /var), under our subreaper;
    its QEMU driver runs real TCG guests, its test driver holds many cheap domains.
    LifecycleEvents: every connection's lifecycle events.
  - harness_guests: GuestImages, a Debian kernel + busybox initramfs (with and without
    acpid), built once from Debian packages and cached in the build directory;
    GuestPool, the real guests. harness_domains: their XML and tdsleep's <metadata>.
  - harness_dbus: PrivateBus + LogindMock, a private system-type dbus-daemon with
    python3-dbusmock's logind template.
  - harness_sysfs: FakeSysfs, the sysfs/procfs files the daemon reads, below a root
    directory.
  - harness_daemon: Daemon, tdsleepd with its own config, state dir and NOTIFY_SOCKET
    (harness_notify: the socket, which is also the fd store); harness_varlink: the
    control socket's client.
  - harness_env: paths and requirements; harness_wait: clock, log and waits.
Waiting is done on events (libvirt lifecycle events, sd_notify messages, process exit,
lines on a pipe); where no event exists (dbusmock's inhibitor list, a serial console
file) we poll at short intervals against a deadline.

The test modules, tests/e2e, tests/modern, bench and tools/demo import every name
from here (`from tdsleeptest import ...`): the modules' names are re-exported.
"""
import contextlib
import glob
import os
import shutil
import sys
import tempfile
import unittest

# Re-exported: the harness's public names, as they were when it was one file.
from harness_daemon import Daemon, DaemonExited, config_text, place_listen_fds  # noqa: F401
from harness_dbus import LOGIND, LOGIND_IFACE, MOCK_IFACE, LogindMock, PrivateBus  # noqa: F401
from harness_domains import (SEV_XML, STATE_NAMES, TDSLEEP_NS, domain_state,  # noqa: F401
                             qemu_domain_xml, tdsleep_metadata, testdrv_domain_xml)
from harness_env import (BUILD_DIR, HERE, PYTHON, REPO, TDSLEEPD, make_tempdir,  # noqa: F401
                         missing_requirements)
from harness_guests import GuestImages, GuestPool  # noqa: F401
from harness_libvirt import DETAIL_NAMES, EVENT_NAMES, LifecycleEvents, PrivateLibvirtd  # noqa: F401
from harness_notify import NotifySocket  # noqa: F401
from harness_sysfs import FakeSysfs  # noqa: F401
from harness_varlink import VarlinkError, varlink_call, varlink_method  # noqa: F401
from harness_wait import T0, Timeout, log, now, pid_alive, wait_pid_gone, wait_until  # noqa: F401


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
