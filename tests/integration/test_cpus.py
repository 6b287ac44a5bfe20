# SPDX-License-Identifier: LGPL-2.1-or-later
"""Issue 3: CPU packages. The fake sysfs holds two packages (0: cpu0 without an online
file, cpu1; 1: cpu2, cpu3); the daemon reports whether a TD can be created, onlines
the lowest CPU of an empty package before stopping or starting TDs (OnlineCPUs=yes),
and follows uevents from its libudev monitor, here fed by umockdev's preload library.

With umockdev the daemon runs under libumockdev-preload.so.0 with UMOCKDEV_DIR at a
testbed that only carries the cpu devices (for their uevents); --sysfs-root still
points at the fake tree, which the daemon re-reads on each event."""
import ctypes.util
import json
import os
import re
import shutil
import subprocess
import unittest

from tdsleeptest import PYTHON, TDSleepTestCase, Timeout, config_text, now, wait_until
from controltest import IFACE, VarlinkConn
from test_kernel_policy import ControlMixin, set_host

CPU = "sys/devices/system/cpu"
PACKAGE = {0: 0, 1: 0, 2: 1, 3: 1}


def two_packages(sysfs, online):
    """online: {cpu: 0|1} for cpu1..cpu3 (cpu0 has no online file: always online).
    Offline CPUs keep their topology here unless dropped with offline_cpu()."""
    sysfs.write(CPU + "/present", "0-3\n")
    sysfs.write(CPU + "/possible", "0-3\n")
    os.unlink(os.path.join(sysfs.root, CPU, "cpu0/online"))
    for cpu, pkg in PACKAGE.items():
        sysfs.write(CPU + "/cpu%d/topology/physical_package_id" % cpu, "%d\n" % pkg)
    for cpu, v in online.items():
        sysfs.write(CPU + "/cpu%d/online" % cpu, "%d\n" % v)
    update_online_list(sysfs)


def update_online_list(sysfs):
    up = [0] + [c for c in (1, 2, 3) if sysfs.read(CPU + "/cpu%d/online" % c).strip() == "1"]
    sysfs.write(CPU + "/online", ",".join(str(c) for c in up) + "\n")


def offline_cpu(sysfs, cpu):
    """What the kernel does: online=0 and the topology directory gone."""
    sysfs.write(CPU + "/cpu%d/online" % cpu, "0\n")
    shutil.rmtree(os.path.join(sysfs.root, CPU, "cpu%d/topology" % cpu))
    update_online_list(sysfs)


def online_cpu(sysfs, cpu):
    sysfs.write(CPU + "/cpu%d/online" % cpu, "1\n")
    sysfs.write(CPU + "/cpu%d/topology/physical_package_id" % cpu, "%d\n" % PACKAGE[cpu])
    update_online_list(sysfs)


class CpuPackagesTestCase(ControlMixin, TDSleepTestCase):

    def packages(self, d):
        st = self.status(d)
        return st["canCreateTDs"], {p["id"]: (p["cpus"], p["online"]) for p in st["packages"]}

    def line_index(self, d, pattern):
        lines = d.stderr().splitlines()
        found = [i for i, l in enumerate(lines) if re.search(pattern, l)]
        self.assertTrue(found, "no log line /%s/ in:\n%s" % (pattern, d.stderr()))
        return found[0]

    def setup_td(self):
        set_host(self.sysfs, tdx=True, state="freeze mem disk", mem_sleep="s2idle [deep]", swap=False)
        td, vm = self.uniq("td"), self.uniq("vm")
        self.define_test_domain(td)
        self.define_test_domain(vm, td=False)
        return td, vm


class EmptyPackageAtStart(CpuPackagesTestCase):

    def test_reported_and_onlined_before_tds_are_stopped(self):
        td, vm = self.setup_td()
        two_packages(self.sysfs, {1: 1, 2: 0, 3: 0})
        d = self.daemon().start()
        d.wait_status(lambda s: "TDs cannot be created" in s, 5, "STATUS saying TDs cannot be created")
        can, pk = self.packages(d)
        self.assertFalse(can)
        self.assertEqual(pk, {0: ([0, 1], [0, 1]), 1: ([2, 3], [])})
        self.wait_lock()

        t0 = now()
        self.mock.prepare_for_sleep(True)
        _, st = self.wait_lock_gone(20, lambda: self.states([td, vm]))
        self.assertEqual(st, {td: "shutoff", vm: "running"})
        self.assertEqual(self.sysfs.read(CPU + "/cpu2/online").strip(), "1",
                         "OnlineCPUs=yes: the lowest CPU of the empty package must be onlined")
        self.assertEqual(self.sysfs.read(CPU + "/cpu3/online"), "0\n", "one CPU is enough")
        onlined = self.line_index(d, r"Brought 1 CPU online")
        stopping = self.line_index(d, r"Shutting down TD %s\b" % re.escape(td))
        self.assertLess(onlined, stopping, "the CPU must be online before TDs are torn down")
        can, pk = self.packages(d)
        self.assertTrue(can)
        self.assertEqual(pk[1], ([2, 3], [2]))
        d.wait_status(lambda s: "cannot be created" not in s, 5, "STATUS without the warning", since=t0)
        t1 = now()
        self.mock.prepare_for_sleep(False)
        self.events.wait(td, "STARTED", 10, since=t1)
        self.wait_idle(d, t1)
        self.assertEqual(self.events.select(vm, since=t0), [])

    def test_online_cpus_no_leaves_the_package_alone(self):
        td, vm = self.setup_td()
        two_packages(self.sysfs, {1: 1, 2: 0, 3: 0})
        d = self.daemon(config=config_text(ShutdownTimeoutSec="10s") + "\n[CPU]\nOnlineCPUs=no\n").start()
        self.assertFalse(self.status(d)["canCreateTDs"])
        self.wait_lock()
        self.mock.prepare_for_sleep(True)
        _, st = self.wait_lock_gone(20, lambda: self.states([td, vm]))
        self.assertEqual(st[vm], "running")
        self.assertEqual(self.sysfs.read(CPU + "/cpu2/online"), "0\n")
        self.assertEqual(self.sysfs.read(CPU + "/cpu3/online"), "0\n")
        self.assertNotRegex(d.stderr(), r"Brought \d+ CPUs? online")
        self.assertFalse(self.status(d)["canCreateTDs"])


PRELOAD = "libumockdev-preload.so.0"


def umockdev_missing():
    if not ctypes.util.find_library("umockdev-preload"):
        return "umockdev's preload library (%s) is not installed (Debian: libumockdev0)" % PRELOAD
    try:
        import gi
        gi.require_version("UMockdev", "1.0")
        from gi.repository import UMockdev  # noqa: F401
    except (ImportError, ValueError) as e:
        return "python3-gi with gir1.2-umockdev-1.0 needed: %s" % e
    return None


# umockdev's uevent sender finds the device through libudev, so it must itself run under
# the preload library: a helper process owns the testbed and sends on request.
UMOCKDEV_HELPER = r"""
import json, sys
import gi
gi.require_version("UMockdev", "1.0")
from gi.repository import UMockdev
tb = UMockdev.Testbed.new()
for dev in json.loads(sys.argv[1]):
    if not tb.add_from_string(dev):
        sys.exit("cannot add " + dev)
print(tb.get_root_dir(), flush=True)
for line in sys.stdin:
    devpath, action = line.split()
    tb.uevent(devpath, action)
    print("sent", flush=True)
"""


class UmockdevTestbed:
    def __init__(self, devices, errfile):
        self.err = open(errfile, "w")
        env = dict(os.environ, LD_PRELOAD=PRELOAD)
        env.pop("UMOCKDEV_DIR", None)
        self.proc = subprocess.Popen([PYTHON, "-c", UMOCKDEV_HELPER, json.dumps(devices)], env=env,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.err, text=True)
        self.root = self.proc.stdout.readline().strip()
        if not self.root:
            self.proc.wait(5)
            raise RuntimeError("umockdev helper failed: " + open(errfile).read())

    def uevent(self, devpath, action):
        self.proc.stdin.write("%s %s\n" % (devpath, action))
        self.proc.stdin.flush()
        if self.proc.stdout.readline().strip() != "sent":
            raise RuntimeError("umockdev helper did not send the uevent")

    def close(self):
        self.proc.stdin.close()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc.stdout.close()
        self.err.close()
        shutil.rmtree(self.root, ignore_errors=True)


class UdevMonitor(CpuPackagesTestCase):
    """uevents through umockdev reach the daemon's libudev monitor."""

    @classmethod
    def setUpClass(cls):
        reason = umockdev_missing()
        if reason:
            raise unittest.SkipTest(reason)
        super().setUpClass()

    def setUp(self):
        super().setUp()
        self.testbed = UmockdevTestbed(
            ["P: /devices/system/cpu/cpu%d\nE: SUBSYSTEM=cpu\nA: topology/physical_package_id=%d\\n\n" % (cpu, pkg)
             for cpu, pkg in PACKAGE.items()], os.path.join(self.dir, "umockdev-helper.err"))
        self.addCleanup(self.testbed.close)

    def preloaded_daemon(self, **kw):
        d = self.daemon(**kw)
        # An ASan build (tools/test's sanitizers tier) must accept a preload before it.
        asan = os.environ.get("ASAN_OPTIONS")
        d.env = {"LD_PRELOAD": PRELOAD, "UMOCKDEV_DIR": self.testbed.root,
                 "ASAN_OPTIONS": (asan + ":" if asan else "") + "verify_asan_link_order=0"}
        d.start()
        with open("/proc/%d/maps" % d.pid) as f:
            self.assertIn("libumockdev-preload", f.read(), "tdsleepd does not run under umockdev's preload")
        return d

    def uevent(self, d, cpu, action):
        """Send the uevent and wait until the daemon's monitor got it (its debug log)."""
        rx = r"cpus: uevent %s /sys/devices/system/cpu/cpu%d\b" % (action, cpu)
        seen = len(re.findall(rx, d.stderr()))
        self.testbed.uevent("/sys/devices/system/cpu/cpu%d" % cpu, action)
        wait_until(lambda: len(re.findall(rx, d.stderr())) > seen, 5,
                   "the daemon to receive the %s uevent of cpu%d" % (action, cpu))

    def events_until_quiet(self, sub, after=None):
        """(type, message) of the events that come until none has come for 0.5 s;
        numbered on from after, when given."""
        got = []
        while True:
            try:
                e = sub.recv(0.5)["parameters"]["event"]
            except Timeout:
                return got
            if after is not None:
                self.assertEqual(e["sequence"], after + 1 + len(got), e)
            got.append((e["type"], e.get("message")))

    def test_last_cpu_of_a_package_goes_offline_and_back(self):
        td, vm = self.setup_td()
        two_packages(self.sysfs, {1: 1, 2: 1, 3: 1})
        d = self.preloaded_daemon()
        self.assertEqual(self.packages(d), (True, {0: ([0, 1], [0, 1]), 1: ([2, 3], [2, 3])}))
        # one CPU of package 1 goes: nothing to say
        offline_cpu(self.sysfs, 2)
        self.uevent(d, 2, "offline")
        self.assertEqual(self.packages(d), (True, {0: ([0, 1], [0, 1]), 1: ([2, 3], [3])}),
                         "the daemon must re-read the fake tree on the uevent")
        self.assertNotRegex(d.stderr(), r"no online CPU")
        # the last one goes while a TD runs: a warning, and the status says so
        sub = VarlinkConn(d.ctl_socket, 10)
        self.addCleanup(sub.close)
        sub.send(IFACE + ".Subscribe", {}, more=True)
        first = sub.recv()["parameters"]["event"]
        t0 = now()
        offline_cpu(self.sysfs, 3)
        self.testbed.uevent("/sys/devices/system/cpu/cpu3", "offline")
        d.wait_status(lambda s: "TDs cannot be created" in s, 5, "STATUS saying TDs cannot be created", since=t0)
        # one event for the change: cpus, not cpus and then a status event saying it again
        self.assertEqual(self.events_until_quiet(sub, first["sequence"]),
                         [("cpus", "CPU packages without an online CPU: 1")])
        warned = [l for l in d.stderr().splitlines()
                  if l.startswith("tdsleepd[warning]:") and "no online CPU" in l and "package 1" in l]
        self.assertEqual(len(warned), 1, "expected one warning naming package 1:\n" + d.stderr())
        self.assertEqual(self.packages(d), (False, {0: ([0, 1], [0, 1]), 1: ([2, 3], [])}),
                         "the package is remembered although topology/ is gone")
        # back online
        t1 = now()
        online_cpu(self.sysfs, 3)
        self.testbed.uevent("/sys/devices/system/cpu/cpu3", "online")
        d.wait_status(lambda s: "cannot be created" not in s, 5, "STATUS without the warning", since=t1)
        self.assertEqual([e[0] for e in self.events_until_quiet(sub)], ["cpus"])
        self.assertEqual(self.packages(d), (True, {0: ([0, 1], [0, 1]), 1: ([2, 3], [3])}))
        self.assertEqual(self.states([td, vm]), {td: "running", vm: "running"})
        self.assertTrue(d.alive())

    def test_package_emptied_while_asleep_is_onlined_before_tds_start(self):
        td, vm = self.setup_td()
        two_packages(self.sysfs, {1: 1, 2: 1, 3: 1})
        d = self.preloaded_daemon()
        self.wait_lock()
        t0 = now()
        self.mock.prepare_for_sleep(True)
        _, st = self.wait_lock_gone(20, lambda: self.states([td, vm]))
        self.assertEqual(st, {td: "shutoff", vm: "running"})
        # no TD exists now: the kernel lets package 1 go empty
        offline_cpu(self.sysfs, 2)
        self.uevent(d, 2, "offline")
        t1 = now()
        offline_cpu(self.sysfs, 3)
        self.testbed.uevent("/sys/devices/system/cpu/cpu3", "offline")
        d.wait_status(lambda s: "TDs cannot be created" in s, 5, "STATUS saying TDs cannot be created", since=t1)
        said = [l for l in d.stderr().splitlines() if "no online CPU" in l]
        self.assertEqual(len(said), 1, d.stderr())
        self.assertTrue(said[0].startswith("tdsleepd[notice]:"), "no TD runs: a notice, not a warning: " + said[0])
        t2 = now()
        self.mock.prepare_for_sleep(False)
        self.events.wait(td, "STARTED", 10, since=t2)
        self.wait_idle(d, t2)
        self.assertEqual(self.sysfs.read(CPU + "/cpu2/online").strip(), "1", "the lowest CPU of package 1")
        self.assertEqual(self.sysfs.read(CPU + "/cpu3/online"), "0\n")
        onlined = self.line_index(d, r"Brought 1 CPU online")
        started = self.line_index(d, r"Started TD %s again" % re.escape(td))
        self.assertLess(onlined, started, "the CPU must be online before TDs are created again")
        self.assertTrue(self.status(d)["canCreateTDs"])
        self.assertEqual(self.events.select(vm, since=t0), [])


if __name__ == "__main__":
    unittest.main(verbosity=2)
