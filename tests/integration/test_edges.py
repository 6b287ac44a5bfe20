# SPDX-License-Identifier: LGPL-2.1-or-later
"""Issue 9's edges, one regression test per defect, against the real daemon.

Real QEMU (TCG) guests where the guest's behaviour matters (defects 1, 3, 4, 8):
one that honours the ACPI power button, one that honours it late (it powers off
SLOW_DELAY seconds after the button), one that ignores it; the test driver where
instant, cheap domains are enough. The guests are defined once for the module and
reused while they run. Waiting is done on libvirt lifecycle events, sd_notify STATUS
and daemon log lines; the few deliberate waits (a stalled libvirtd) are the scenario,
not synchronisation."""
import contextlib
import os
import re
import shutil
import signal
import subprocess
import threading
import time
import unittest

from tdsleeptest import (BUILD_DIR, LogindMock, TDSleepTestCase, VarlinkError, config_text, log, now,
                         wait_until)

ACPI = "edge-acpi"          # honours the power button
SLOW = "edge-slow"          # honours it, powers off SLOW_DELAY s later
IGN = "edge-ign"            # ignores it
S2 = "edge-s2idle"          # on-deep-sleep="s2idle"; ignores ACPI (never needs to boot)
F1, F2 = "edge-f1", "edge-f2"   # persistent, each with its own initrd (moved away by tests)
TR = "edge-tr"              # transient, its own initrd
SLOW_DELAY = 5

MEM_SLEEP = "s2idle [deep]\n"   # FakeSysfs's default
CTL = os.environ.get("TDSLEEPCTL") or os.path.join(BUILD_DIR, "cli", "tdsleepctl")


class Edges(TDSleepTestCase):
    NEED_QEMU = True
    GUESTS = {
        ACPI: dict(acpid=True),
        IGN: dict(acpid=False),
        S2: dict(acpid=False, on_deep_sleep="s2idle"),
    }

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.pool.define(SLOW, acpid=True, initrd=cls.images.initrd_slow(SLOW_DELAY))
        cls.initrds = {}
        idir = os.path.join(cls.base, "initrd")
        os.makedirs(idir)
        for name in (F1, F2, TR):
            path = os.path.join(idir, name + ".cpio.gz")
            shutil.copy(cls.images.initrd(True), path)
            cls.initrds[name] = path
            cls.pool.define(name, acpid=True, initrd=path, transient=(name == TR))

    # ---- helpers

    def qdaemon(self, fdstore=False, **sleep):
        return self.daemon(uri=self.lv.qemu_uri, config=config_text(**sleep), fdstore=fdstore)

    def qstates(self, names):
        return self.states(names, conn=self.lv.qemu)

    def started(self, name, since):
        return len(self.events.select(name, "STARTED", since=since))

    def wait_phase(self, d, phase, since, timeout=40):
        return d.wait_status(lambda s: s.startswith(phase + ";") or s.startswith(phase + " "),
                             timeout, "STATUS %s" % phase, since=since)

    def wait_button(self, name, before, timeout=20):
        """The guest printed one more "ACPI power button" line than `before` (a serial
        file has no event: polled)."""
        wait_until(lambda: self.pool.serial(name).count("ACPI power button") > before, timeout,
                   "%s to see the ACPI power button" % name, interval=0.05)

    def buttons(self, name):
        return self.pool.serial(name).count("ACPI power button")

    def move_initrd(self, name):
        os.rename(self.initrds[name], self.initrds[name] + ".away")

        def back():
            if os.path.exists(self.initrds[name] + ".away"):
                os.rename(self.initrds[name] + ".away", self.initrds[name])
        self.addCleanup(back)
        return back

    def libvirtd_running_after(self):
        """Cleanup for tests that stop or kill the private libvirtd."""
        def ensure():
            pid = self.lv.pid
            if pid:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGCONT)
            if self.lv.qemu is None:
                self.lv.restart()
        self.addCleanup(ensure)

    def last_cycle(self, d):
        lc = d.status().get("lastCycle")
        self.assertIsNotNone(lc, "GetStatus has no lastCycle after a finished cycle")
        return {x["name"]: x for x in lc["domains"]}

    # ---- 1. a sleep aborted while a stop is in flight

    def test_1_sleep_aborted_mid_stop_cycle_still_ends(self):
        """PrepareForSleep(false) while a slow guest's and an ACPI-ignoring guest's
        graceful stops are pending; the ignoring one's stop timer fires during resuming.
        The cycle ends, mem_sleep is as it was, Drain works, the slow one (stopped after
        the resume began) is started again exactly once. The ignoring one got tdsleepd's
        shutdown request, which cannot be withdrawn: at the end of its window it is forced
        off and started again, exactly once (DESIGN.md, section 5)."""
        self.pool.use([SLOW, IGN])
        d = self.qdaemon(ShutdownTimeoutSec="8s", ForceOff="yes").start()
        self.wait_lock()
        b = self.buttons(SLOW)
        t0 = now()
        self.mock.prepare_for_sleep(True)
        self.wait_button(SLOW, b)
        d.wait_log(r"Shutting down TD %s " % IGN, 10)
        t1 = now()
        self.mock.prepare_for_sleep(False)
        e = self.events.wait(SLOW, "STOPPED", 20, since=t0)
        self.assertEqual(e[3], "SHUTDOWN")
        self.assertGreater(e[0], t1, "the slow guest should stop only after the resume began")
        self.events.wait(SLOW, "STARTED", 30, since=e[0])
        # IGN's timer (8 s) fires during resuming: the cycle must still end
        self.wait_phase(d, "idle", since=t1, timeout=30)
        self.assertFalse(os.path.exists(d.state_file), "the record of the finished cycle is still there")
        self.assertEqual(self.sysfs.read("sys/power/mem_sleep"), MEM_SLEEP)
        self.assertEqual([e[3] for e in self.events.select(IGN, "STOPPED", since=t0)], ["DESTROYED"],
                         "the ignoring guest got the request: forced off once at the end of its window")
        self.assertEqual(self.qstates([SLOW, IGN]), {SLOW: "running", IGN: "running"})
        self.assertEqual(self.started(SLOW, t0), 1)
        self.assertEqual(self.started(IGN, t0), 1)
        self.assertEqual(d.status()["phase"], "idle")
        # Drain is not Busy: the engine is really idle
        t2 = now()
        r = d.call("Drain", {"timeoutUSec": 1000000}, timeout=60)
        self.assertEqual(r["stopped"], 2, r)
        self.assertEqual(self.qstates([SLOW, IGN]), {SLOW: "shutoff", IGN: "shutoff"})
        d.call("Restore")
        for n in (SLOW, IGN):
            self.events.wait(n, "STARTED", 30, since=t2)
        self.wait_phase(d, "idle", since=t2, timeout=30)
        for n in (SLOW, IGN):
            self.assertEqual(self.started(n, t2), 1, n)
        self.assertTrue(d.alive())

    def test_1_sleep_aborted_mid_stop_restores_mem_sleep(self):
        """suspend-then-hibernate: the suspend step steers to s2idle (mem_sleep written),
        the hibernate step then stops the s2idle TD, which ignores ACPI; the sleep ends
        while its stop is pending and its timer fires during resuming: it is forced off
        and started again once (the request cannot be withdrawn). The cycle ends and
        mem_sleep is given back."""
        # with swap, hibernation is possible too: only the hook can say which step comes
        self.sysfs.write("proc/swaps", "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n"
                         "/dev/vda2                               partition\t4194300\t\t0\t\t-2\n")
        self.pool.use([S2])
        d = self.qdaemon(ShutdownTimeoutSec="5s", ForceOff="yes").start()
        self.wait_lock()
        t0 = now()
        self.mock.prepare_for_sleep(True)
        d.wait_status(lambda s: "waiting for the sleep hook" in s, 10, "STATUS waiting for the sleep hook",
                      since=t0)
        r = d.call("Prepare", {"operation": "suspend-then-hibernate", "step": "suspend"})
        self.assertEqual(r["phase"], "ready", r)
        self.assertEqual(self.sysfs.read("sys/power/mem_sleep"), "s2idle\n", "the suspend step did not steer")
        self.assertEqual(self.qstates([S2]), {S2: "running"})
        th = threading.Thread(target=self._call_quietly,
                              args=(d, "Prepare", {"operation": "suspend-then-hibernate", "step": "hibernate"}))
        th.start()
        self.addCleanup(th.join, 30)
        d.wait_log(r"Shutting down TD %s " % S2, 10)
        t1 = now()
        self.mock.prepare_for_sleep(False)
        self.wait_phase(d, "idle", since=t1, timeout=30)
        th.join(10)
        self.assertFalse(th.is_alive(), "the hibernate step's Prepare never got an answer")
        self.assertEqual(self.sysfs.read("sys/power/mem_sleep").strip(), "deep", "mem_sleep not restored")
        self.assertFalse(os.path.exists(d.state_file))
        self.assertEqual([e[3] for e in self.events.select(S2, "STOPPED", since=t0)], ["DESTROYED"],
                         "the ignoring TD got the request: forced off once, then started again")
        self.assertEqual(self.started(S2, t0), 1)
        self.assertEqual(d.call("Drain", {"timeoutUSec": 500000}, timeout=30)["stopped"], 1)
        t2 = now()
        d.call("Restore")
        self.events.wait(S2, "STARTED", 30, since=t2)
        self.wait_phase(d, "idle", since=t2)

    def test_1_stop_finishing_after_its_timer_fired_in_resume_is_started_once(self):
        """The slow guest's stop timer (3 s) fires during resuming, before the guest
        acts on the button it did receive (5 s), which it would then do by itself.
        tdsleepd asked for that shutdown and cannot withdraw it: it forces the guest off
        at the end of the window and starts it again, exactly once."""
        self.pool.use([SLOW])
        d = self.qdaemon(ShutdownTimeoutSec="3s", ForceOff="yes").start()
        self.wait_lock()
        b = self.buttons(SLOW)
        t0 = now()
        self.mock.prepare_for_sleep(True)
        self.wait_button(SLOW, b)
        t1 = now()
        self.mock.prepare_for_sleep(False)
        e = self.events.wait(SLOW, "STOPPED", 20, since=t0)
        self.assertEqual(e[3], "DESTROYED", "forced off at the end of its window, not left to power off later")
        try:
            self.events.wait(SLOW, "STARTED", 30, since=e[0])
        finally:
            self.wait_phase(d, "idle", since=t1, timeout=30)
        self.assertEqual(self.started(SLOW, t0), 1)
        self.assertEqual(self.qstates([SLOW]), {SLOW: "running"})

    def test_1_restore_during_long_drain_ends_cycle(self):
        """Restore while a Drain still waits for an ACPI-ignoring guest: the cycle ends,
        the guest that did stop is started once; the ignoring one got the request, so it
        is forced off at the end of its window and started again once."""
        self.pool.use([ACPI, IGN])
        d = self.qdaemon(ShutdownTimeoutSec="6s", ForceOff="yes").start()
        self.wait_lock()
        t0 = now()
        result = {}

        def drain():
            try:
                result["reply"] = d.call("Drain", timeout=60)
            except (VarlinkError, AssertionError) as e:
                result["error"] = e
        th = threading.Thread(target=drain)
        th.start()
        self.addCleanup(th.join, 60)
        self.events.wait(ACPI, "STOPPED", 20, since=t0)
        self.wait_phase(d, "preparing", since=t0, timeout=10)
        t1 = now()
        r = d.call("Restore")
        log("Restore -> %s" % r)
        self.events.wait(ACPI, "STARTED", 30, since=t1)
        self.wait_phase(d, "idle", since=t1, timeout=30)
        th.join(30)
        self.assertFalse(th.is_alive(), "the Drain call never got an answer")
        log("Drain -> %s" % result)
        if "error" in result:       # the drain never became ready: Aborted, as documented
            self.assertEqual(getattr(result["error"], "error", None), "io.tdsleep.Manager.Aborted", result)
        self.assertEqual([e[3] for e in self.events.select(IGN, "STOPPED", since=t0)], ["DESTROYED"])
        self.assertEqual(self.qstates([ACPI, IGN]), {ACPI: "running", IGN: "running"})
        self.assertEqual(self.started(ACPI, t0), 1)
        self.assertEqual(self.started(IGN, t0), 1)
        self.assertFalse(d.status()["drained"])
        self.assertFalse(os.path.exists(d.state_file))

    def test_1_resume_call_mid_stop_ends_cycle(self):
        """Resume() (the control socket) while stops are pending; logind's own
        PrepareForSleep(false) comes later and starts nothing a second time."""
        self.pool.use([SLOW, IGN])
        d = self.qdaemon(ShutdownTimeoutSec="8s", ForceOff="yes").start()
        self.wait_lock()
        b = self.buttons(SLOW)
        t0 = now()
        self.mock.prepare_for_sleep(True)
        self.wait_button(SLOW, b)
        t1 = now()
        d.call("Resume")
        self.events.wait(SLOW, "STARTED", 30, since=t1)
        self.wait_phase(d, "idle", since=t1, timeout=30)
        self.assertFalse(os.path.exists(d.state_file))
        self.mock.prepare_for_sleep(False)
        d.wait_log(r"logind: PrepareForSleep\(false\)", 10)
        self.assertEqual(self.started(SLOW, t0), 1)
        self.assertEqual(self.started(IGN, t0), 1, "forced off at the end of its window, started once")
        self.assertEqual([e[3] for e in self.events.select(IGN, "STOPPED", since=t0)], ["DESTROYED"])
        self.assertEqual(d.status()["phase"], "idle")
        self.assertTrue(self.mock.daemon_locks(), "the delay lock must be held again")

    def test_1_logind_restart_mid_stop_ends_cycle(self):
        """logind restarts while stops are pending; the new instance prepares no sleep."""
        self.pool.use([SLOW, IGN])
        d = self.qdaemon(ShutdownTimeoutSec="8s", ForceOff="yes").start()
        self.wait_lock()
        b = self.buttons(SLOW)
        t0 = now()
        self.mock.prepare_for_sleep(True)
        self.wait_button(SLOW, b)
        t1 = now()
        self.mock.kill()
        self.mock = LogindMock(self.bus, os.path.join(self.dir, "logind-mock-2.log")).start()
        self.events.wait(SLOW, "STARTED", 30, since=t1)
        self.wait_phase(d, "idle", since=t1, timeout=30)
        self.wait_lock(10)
        self.assertFalse(os.path.exists(d.state_file))
        self.assertEqual(self.started(SLOW, t0), 1)
        self.assertEqual(self.started(IGN, t0), 1, "forced off at the end of its window, started once")
        self.assertEqual([e[3] for e in self.events.select(IGN, "STOPPED", since=t0)], ["DESTROYED"])

    # ---- 2. a drain undone by a restart

    def _drained(self):
        tds = [self.uniq("td%d" % i) for i in range(2)]
        for t in tds:
            self.define_test_domain(t)
        vm = self.uniq("vm")
        self.define_test_domain(vm, td=False)
        d = self.daemon().start()
        self.wait_lock()
        r = d.call("Drain")
        self.assertEqual(r["stopped"], 2, r)
        self.assertEqual(self.states(tds + [vm]), {tds[0]: "shutoff", tds[1]: "shutoff", vm: "running"})
        self.assertTrue(d.status()["drained"])
        return d, tds, vm

    def _assert_still_drained_then_restore(self, d, tds, t_restart, restarted=True):
        """After the restart, once the daemon reacted to logind (a restarted tdsleepd says
        how it goes on with the record it found; a GetStatus answer then means that
        reaction, starts included, is over): still drained, nothing started."""
        if restarted:
            d.wait_log(r"stay drained until Restore|is over: starting again", 20)
        st = d.status()
        self.assertEqual(self.states(tds), {t: "shutoff" for t in tds}, "drained TDs were started by the restart")
        self.assertEqual([e for t in tds for e in self.events.select(t, "STARTED", since=t_restart)], [],
                         "drained TDs were started by the restart")
        self.assertTrue(st["drained"], st)
        self.assertEqual(st["phase"], "ready", st)
        t1 = now()
        d.call("Restore")
        for t in tds:
            self.events.wait(t, "STARTED", 15, since=t1)
        self.wait_phase(d, "idle", since=t1)
        for t in tds:
            self.assertEqual(self.started(t, t_restart), 1, t)
        self.assertEqual(self.states(tds), {t: "running" for t in tds})

    def test_2_drain_survives_tdsleepd_sigterm(self):
        d, tds, vm = self._drained()
        self.assertEqual(d.stop(), 0)
        t = now()
        d.start()
        self._assert_still_drained_then_restore(d, tds, t)

    def test_2_drain_survives_tdsleepd_sigkill(self):
        d, tds, vm = self._drained()
        d.kill9()
        t = now()
        d.start()
        self._assert_still_drained_then_restore(d, tds, t)

    def test_2_drain_survives_logind_restart(self):
        d, tds, vm = self._drained()
        t = now()
        self.mock.kill()
        self.mock = LogindMock(self.bus, os.path.join(self.dir, "logind-mock-2.log")).start()
        self.wait_lock(10)      # the lock comes back from the reaction to the new logind
        self._assert_still_drained_then_restore(d, tds, t, restarted=False)

    # ---- 3. start failures after resume

    def test_3_start_failures_are_retried_reported_and_do_not_block_others(self):
        """Three TDs cannot start after resume (their initrd is gone), ParallelStart=1:
        the one that can starts anyway; F1's file comes back after its first failure and
        the retry (2 s later) starts it; F2 and the transient TR fail every attempt and
        GetStatus's lastCycle says so, with libvirt's error; TR's XML is kept."""
        self.pool.use([ACPI, F1, F2, TR])
        tr_uuid = self.lv.qemu.lookupByName(TR).UUIDString()
        d = self.qdaemon(ShutdownTimeoutSec="20s", ForceOff="yes", ParallelStart="1",
                         StartRetries="1").start()
        self.wait_lock()
        t0 = now()
        self.mock.prepare_for_sleep(True)
        _, st = self.wait_lock_gone(40, lambda: self.qstates([ACPI, F1, F2, TR]))
        self.assertEqual(st, {ACPI: "shutoff", F1: "shutoff", F2: "shutoff", TR: None})
        back_f1 = self.move_initrd(F1)
        self.move_initrd(F2)
        self.move_initrd(TR)
        t1 = now()
        self.mock.prepare_for_sleep(False)
        d.wait_log(r"Failed to start TD %s again \(attempt 1 of 2\)" % F1, 30)
        back_f1()
        self.events.wait(ACPI, "STARTED", 30, since=t1)
        self.events.wait(F1, "STARTED", 30, since=t1)
        self.wait_phase(d, "idle", since=t1, timeout=60)
        self.assertEqual(self.qstates([ACPI, F1, F2, TR]),
                         {ACPI: "running", F1: "running", F2: "shutoff", TR: None})
        for n in (ACPI, F1):
            self.assertEqual(self.started(n, t0), 1, n)
        lc = self.last_cycle(d)
        self.assertEqual(lc[ACPI]["state"], "started", lc)
        self.assertEqual(lc[F1]["state"], "started", lc)
        for n in (F2, TR):
            self.assertEqual(lc[n]["state"], "start_failed", lc)
            self.assertTrue(lc[n].get("error"), "no error for %s: %s" % (n, lc[n]))
        log_text = d.stderr()
        self.assertRegex(log_text, r"Failed to start TD %s again after 2 attempts" % F2)
        self.assertRegex(log_text, r"Failed to start TD %s again after 2 attempts: .*its XML is kept in" % TR)
        kept = os.path.join(d.state_dir, "failed", tr_uuid + ".xml")
        if os.path.isdir(os.path.join(d.state_dir, "failed")) or "Failed to keep the XML" not in log_text:
            self.assertTrue(os.path.exists(kept), "the transient TD's XML is not in %s" % kept)
            self.assertIn(tr_uuid, open(kept).read())
        else:
            log("NOTE: no %s on this tree (record_keep_failed_xml is a stub): %s" %
                (kept, [line for line in log_text.splitlines() if "keep the XML" in line]))
        # and the operator sees it where they look first
        out = subprocess.run([CTL, "--socket=" + d.ctl_socket, "status"], capture_output=True,
                             text=True, timeout=30).stdout
        for n in (F2, TR):
            self.assertRegex(out, r"%s.*(start-failed|failed)" % n,
                             "tdsleepctl status shows no trace of the failed start:\n" + out)

    def test_3_libvirtd_killed_while_starting_is_not_a_failure(self):
        """libvirtd dies while tdsleepd's start call waits for it (StartRetries=0, so a
        counted failure would be final): the start is made again after the reconnect."""
        self.pool.use([ACPI])
        d = self.qdaemon(ShutdownTimeoutSec="20s", StartRetries="0").start()
        self.wait_lock()
        t0 = now()
        self.mock.prepare_for_sleep(True)
        _, st = self.wait_lock_gone(30, lambda: self.qstates([ACPI]))
        self.assertEqual(st, {ACPI: "shutoff"})
        self.libvirtd_running_after()
        os.kill(self.lv.pid, signal.SIGSTOP)
        t1 = now()
        self.mock.prepare_for_sleep(False)
        d.wait_log(r"Resuming: starting again", 10)
        self.lv.kill9()
        self.lv.restart()
        self.events.wait(ACPI, "STARTED", 40, since=t1)
        self.wait_phase(d, "idle", since=t1, timeout=40)
        self.assertEqual(self.started(ACPI, t0), 1)
        self.assertNotRegex(d.stderr(), r"Failed to start TD %s" % ACPI)
        self.assertEqual(self.last_cycle(d)[ACPI]["state"], "started")

    def test_3_sigpipe_does_not_kill_tdsleepd(self):
        """What a write to a libvirtd that just died raises (the race above hits it about
        every other run): tdsleepd must not die of it, under systemd or not (systemd's
        IgnoreSIGPIPE= covers only the unit)."""
        d = self.daemon().start()
        self.wait_lock()
        os.kill(d.pid, signal.SIGPIPE)
        try:
            phase = d.status()["phase"]     # an answer after the signal: it was handled
        except OSError as e:
            phase = e
        if not d.alive() or not isinstance(phase, str):
            with contextlib.suppress(subprocess.TimeoutExpired):
                d.proc.wait(5)
            self.fail("tdsleepd died of SIGPIPE (exit status %s; GetStatus: %s)" % (d.proc.poll(), phase))
        self.assertEqual(phase, "idle")

    # ---- 4. the record

    def _tmpfs_state_dir(self, d, size, fill):
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=%s,mode=0700" % size, "tdsleep-edge",
                        d.state_dir], check=True)
        self.addCleanup(subprocess.run, ["umount", "-l", d.state_dir])
        if fill:
            fd = os.open(os.path.join(d.state_dir, "filler"), os.O_WRONLY | os.O_CREAT, 0o600)
            try:
                with contextlib.suppress(OSError):
                    while True:
                        os.write(fd, b"\0" * 4096)
            finally:
                os.close(fd)

    def test_4_disk_full_record_degraded_tds_still_come_back(self):
        """The state directory is full: the record goes to systemd's fd store, STATUS
        and GetStatus say it is degraded, the TDs are stopped; tdsleepd is SIGKILLed
        while the host "sleeps" and, restarted with the fd store handed back, starts
        each TD once (the transient one re-created)."""
        td = self.uniq("td")
        self.define_test_domain(td)
        tr = self.uniq("tr")
        self.define_test_domain(tr, transient=True)
        d = self.daemon(fdstore=True)
        self._tmpfs_state_dir(d, "64k", fill=True)
        d.start()
        self.wait_lock()
        t0 = now()
        self.mock.prepare_for_sleep(True)
        t_gone, st = self.wait_lock_gone(20, lambda: self.states([td, tr]))
        log_text = d.stderr()
        if not any(k in log_text.lower() for k in ("fd store", "fdstore", "fd-store")):
            self.skipTest("record.c keeps no fd-store copy of the record on this tree (the daemon logs "
                          "nothing about the fd store); with the disk full it left %s; log: %s" %
                          (st, [line for line in log_text.splitlines() if "record" in line][:3]))
        self.assertEqual(st, {td: "shutoff", tr: None}, "TDs must be stopped with the record in the fd store")
        d.wait_status(lambda s: "record degraded" in s, 5, "STATUS record degraded", since=t0)
        self.assertTrue(d.status()["recordDegraded"])
        self.assertRegex(log_text, r"tdsleepd\[crit\]: .*record")
        d.kill9()
        self.mock.prepare_for_sleep(False)       # resume while tdsleepd is down
        t1 = now()
        d.start()
        for n in (td, tr):
            self.events.wait(n, "STARTED", 20, since=t1)
        self.wait_phase(d, "idle", since=t1)
        for n in (td, tr):
            self.assertEqual(len(self.events.select(n, "STARTED", since=t0)), 1, n)
        self.assertFalse(self.lv.test.lookupByName(tr).isPersistent())

    def test_4_readonly_state_dir_finished_cycle_is_never_replayed(self):
        """The state directory turns read-only before the resume: the finished cycle's
        record cannot be removed. The operator then shuts a TD down on purpose; a
        restarted tdsleepd must not "finish" the old cycle and start it again."""
        td = self.uniq("td")
        self.define_test_domain(td)
        d = self.daemon(fdstore=True)
        self._tmpfs_state_dir(d, "1m", fill=False)
        d.start()
        self.wait_lock()
        t0 = now()
        self.mock.prepare_for_sleep(True)
        _, st = self.wait_lock_gone(20, lambda: self.states([td]))
        self.assertEqual(st, {td: "shutoff"})
        subprocess.run(["mount", "-o", "remount,ro", d.state_dir], check=True)
        t1 = now()
        self.mock.prepare_for_sleep(False)
        self.events.wait(td, "STARTED", 15, since=t1)
        self.wait_phase(d, "idle", since=t1)
        self.assertEqual(d.status()["lastCycle"]["domains"][0]["state"], "started")
        # the operator's shutdown, after the cycle
        self.lv.test.lookupByName(td).shutdown()
        self.events.wait(td, "STOPPED", 5, since=t1)
        self.assertEqual(d.stop(), 0)
        t2 = now()
        d.start()
        # done once it is idle with logind present (a record it took over keeps the phase
        # it had until logind answers; GetStatus has no event: polled)
        wait_until(lambda: (lambda st: st["phase"] == "idle" and st["logindPresent"] and
                            st["libvirtConnected"])(d.status()), 20, "tdsleepd idle after its restart")
        self.assertEqual(self.states([td]), {td: "shutoff"},
                         "a restart replayed a finished cycle and started a TD the operator shut down")
        self.assertEqual(self.events.select(td, "STARTED", since=t2), [],
                         "a restart replayed a finished cycle and started a TD the operator shut down")
        self.assertEqual(self.states([td]), {td: "shutoff"})

    # ---- 5. a prepare with no view of libvirt

    def test_5_prepare_without_libvirt_holds_the_lock_until_it_answers(self):
        self.pool.use([ACPI])
        self.libvirtd_running_after()
        self.lv.kill9()            # the guest keeps running, as on a real host
        d = self.qdaemon(ShutdownTimeoutSec="20s").start()
        self.wait_lock()
        t0 = now()
        self.mock.prepare_for_sleep(True)
        d.wait_status(lambda s: "waiting for libvirt" in s, 10, "STATUS waiting for libvirt", since=t0)
        self.assertTrue(self.mock.daemon_locks(), "the delay lock went with no view of the TDs")
        st = d.status()
        self.assertTrue(st["awaitingLibvirt"], st)
        self.assertEqual(st["phase"], "preparing")
        self.assertTrue(self.mock.daemon_locks())
        self.lv.restart()
        e = self.events.wait(ACPI, "STOPPED", 40, since=t0)
        self.assertEqual(e[3], "SHUTDOWN")
        t_gone, st = self.wait_lock_gone(30, lambda: self.qstates([ACPI]))
        self.assertEqual(st, {ACPI: "shutoff"})
        self.assertGreaterEqual(t_gone, e[0] - 0.05)
        t1 = now()
        self.mock.prepare_for_sleep(False)
        self.events.wait(ACPI, "STARTED", 30, since=t1)
        self.wait_phase(d, "idle", since=t1)
        self.assertEqual(self.started(ACPI, t0), 1)

    # ---- 6. an unreadable /sys/power/state

    def test_6_unreadable_power_state_stops_tds(self):
        tds = [self.uniq("td%d" % i) for i in range(2)]
        for t in tds:
            self.define_test_domain(t)
        d = self.daemon().start()
        self.wait_lock()
        for case in ("missing", "garbage"):
            with self.subTest(case=case):
                p = os.path.join(self.sysfs.root, "sys/power/state")
                if case == "missing":
                    os.unlink(p)
                else:
                    with open(p, "wb") as f:
                        f.write(b"\xff\xfe\x00 nonsense [[[\n")
                t0 = now()
                self.mock.prepare_for_sleep(True)
                _, st = self.wait_lock_gone(20, lambda: self.states(tds))
                self.assertEqual(st, {t: "shutoff" for t in tds}, "unreadable state: TDs must be stopped")
                t1 = now()
                self.mock.prepare_for_sleep(False)
                for t in tds:
                    self.events.wait(t, "STARTED", 15, since=t1)
                self.wait_phase(d, "idle", since=t1)
                self.wait_lock(10)

    # ---- 7. smaller divergences

    def test_7_s2idle_td_started_while_preparing_is_stopped(self):
        """No TD asked for s2idle when the cycle was planned (so it did not steer): an
        s2idle-policy TD that starts while preparing is stopped like the rest, and
        started again after resume."""
        self.pool.use([IGN])
        d = self.qdaemon(ShutdownTimeoutSec="4s", ForceOff="yes").start()
        self.wait_lock()
        t0 = now()
        self.mock.prepare_for_sleep(True)
        d.wait_log(r"Shutting down TD %s " % IGN, 10)
        self.lv.qemu.lookupByName(S2).create()
        d.wait_log(r"TD %s started while preparing for sleep: stopping it too" % S2, 10)
        self.events.wait(S2, "STOPPED", 20, since=t0)
        _, st = self.wait_lock_gone(20, lambda: self.qstates([IGN, S2]))
        self.assertEqual(st, {IGN: "shutoff", S2: "shutoff"})
        self.assertEqual(self.sysfs.read("sys/power/mem_sleep"), MEM_SLEEP, "the cycle did not steer")
        t1 = now()
        self.mock.prepare_for_sleep(False)
        for n in (IGN, S2):
            self.events.wait(n, "STARTED", 30, since=t1)
        self.wait_phase(d, "idle", since=t1)
        self.assertEqual(self.started(S2, t0), 2, "S2: started by the test, then once by tdsleepd")
        self.assertEqual(self.started(IGN, t0), 1)
        self.lv.qemu.lookupByName(S2).destroy()

    def test_7_plan_matches_prepare(self):
        """Plan("suspend") says what PrepareForSleep then does: with an s2idle TD it
        steers and keeps every TD; without it, it stops them."""
        self.sysfs.write("sys/power/state", "freeze mem\n")      # a suspend, nothing else
        td = self.uniq("td")
        self.define_test_domain(td)
        s2 = self.uniq("s2")
        self.define_test_domain(s2, on_deep_sleep="s2idle")
        d = self.daemon().start()
        self.wait_lock()
        p = d.call("Plan", {"operation": "suspend"})
        verdicts = [x["verdict"] for x in p["domains"]]
        log("Plan(suspend) with an s2idle TD: %s, verdicts %s" % ({k: p[k] for k in ("keepsTDs", "steerS2idle")},
                                                                  verdicts))
        self.assertTrue(p["steerS2idle"], p)
        self.assertTrue(p["keepsTDs"], p)
        self.assertNotIn("stop", verdicts, p)
        t0 = now()
        self.mock.prepare_for_sleep(True)
        _, st = self.wait_lock_gone(10, lambda: (self.states([td, s2]), self.sysfs.read("sys/power/mem_sleep")))
        self.assertEqual(st, ({td: "running", s2: "running"}, "s2idle\n"))
        self.mock.prepare_for_sleep(False)
        self.wait_phase(d, "idle", since=t0)
        self.wait_lock(10)
        self.assertEqual(self.events.select(td, since=t0) + self.events.select(s2, since=t0), [])
        self.assertEqual(self.sysfs.read("sys/power/mem_sleep").strip(), "deep", "mem_sleep not restored")

        self.sysfs.write("sys/power/mem_sleep", MEM_SLEEP)
        self.lv.test.lookupByName(s2).destroy()
        # Plan answers from tdsleepd's table, which its own STOPPED event updates
        wait_until(lambda: not [x for x in d.call("ListDomains")["domains"] if x["name"] == s2 and x["active"]],
                   10, "tdsleepd's table to see %s stopped" % s2)
        p = d.call("Plan", {"operation": "suspend"})
        verdicts = [x["verdict"] for x in p["domains"]]
        log("Plan(suspend) without: %s, verdicts %s" % ({k: p[k] for k in ("keepsTDs", "steerS2idle")}, verdicts))
        self.assertFalse(p["steerS2idle"], p)
        self.assertFalse(p["keepsTDs"], p)
        self.assertEqual(verdicts, ["stop"], p)
        t1 = now()
        self.mock.prepare_for_sleep(True)
        _, st = self.wait_lock_gone(10, lambda: self.states([td]))
        self.assertEqual(st, {td: "shutoff"})
        self.mock.prepare_for_sleep(False)
        self.events.wait(td, "STARTED", 10, since=t1)
        self.wait_phase(d, "idle", since=t1)
        self.assertEqual(self.sysfs.read("sys/power/mem_sleep"), MEM_SLEEP)

    def test_7_replan_keeps_a_forced_off_td_forcing(self):
        """The ignoring TD's window ends while libvirtd is gone, so its force-off waits
        for libvirt; meanwhile the hook names a new step (a re-plan). When libvirt is
        back the TD is forced off at once: it is not asked gracefully again."""
        self.pool.use([IGN])
        d = self.qdaemon(ShutdownTimeoutSec="2s", ForceOff="yes").start()
        self.wait_lock()
        t0 = now()
        self.mock.prepare_for_sleep(True)
        d.wait_log(r"Shutting down TD %s " % IGN, 10)
        self.libvirtd_running_after()
        self.lv.kill9()
        # nothing is decided without libvirt (a stop whose event was lost is a stop)
        d.wait_log(r"The window of TD %s ended while libvirt is away" % IGN, 10)
        th = threading.Thread(target=self._call_quietly,
                              args=(d, "Prepare", {"operation": "hibernate", "step": "hibernate"}))
        th.start()
        self.addCleanup(th.join, 30)
        d.wait_log(r"Prepare\(hibernate, hibernate\)", 10)
        t1 = now()
        self.lv.restart()
        e = self.events.wait(IGN, "STOPPED", 20, since=t0)
        self.assertEqual(e[3], "DESTROYED")
        self.assertLess(e[0] - t1, 15, "forced off long after libvirt came back")
        self.wait_lock_gone(20)
        self.assertEqual(len(re.findall(r"Shutting down TD %s " % IGN, d.stderr())), 1,
                         "the TD being forced off was asked gracefully again")
        self.mock.prepare_for_sleep(False)
        self.events.wait(IGN, "STARTED", 30, since=t1)
        self.wait_phase(d, "idle", since=t1)
        self.assertEqual(self.started(IGN, t0), 1)

    @staticmethod
    def _call_quietly(d, method, params):
        try:
            log("%s -> %s" % (method, d.call(method, params, timeout=60)))
        except Exception as e:   # noqa: BLE001 (Aborted is a fine answer here)
            log("%s -> %s" % (method, e))

    def test_7_failed_shutdown_request_keeps_the_graceful_window(self):
        """virDomainShutdown fails (a paused guest: "domain is not running"): the TD
        still gets its window before it is forced off, not destroyed at once."""
        self.pool.use([IGN])
        self.lv.qemu.lookupByName(IGN).suspend()
        d = self.qdaemon(ShutdownTimeoutSec="3s", ForceOff="yes").start()
        self.wait_lock()
        t0 = now()
        self.mock.prepare_for_sleep(True)
        d.wait_log(r"Failed to ask TD %s to shut down" % IGN, 10)
        e = self.events.wait(IGN, "STOPPED", 20, since=t0)
        self.assertEqual(e[3], "DESTROYED")
        self.assertGreaterEqual(e[0] - t0, 2.8, "forced off before its window was over")
        self.wait_lock_gone(10)
        t1 = now()
        self.mock.prepare_for_sleep(False)
        self.events.wait(IGN, "STARTED", 30, since=t1)
        self.wait_phase(d, "idle", since=t1)
        self.assertEqual(self.qstates([IGN]), {IGN: "running"})

    # ---- 8. a stalled libvirtd

    def test_8_stalled_libvirtd_does_not_eat_the_graceful_window(self):
        """libvirtd stalls for 12 s as the prepare starts, ShutdownTimeoutSec=8s: the
        window counts from delivery, so the ACPI guest stops gracefully."""
        self.pool.use([ACPI])
        d = self.qdaemon(ShutdownTimeoutSec="8s", ForceOff="yes").start()
        self.wait_lock()
        self.lv.wait_client(d.pid, 10)
        self.libvirtd_running_after()
        os.kill(self.lv.pid, signal.SIGSTOP)
        t0 = now()
        self.mock.prepare_for_sleep(True)
        time.sleep(12)              # the stall itself (the scenario), not a synchronisation
        os.kill(self.lv.pid, signal.SIGCONT)
        t1 = now()
        log("libvirtd continued after %.1fs" % (t1 - t0))
        e = self.events.wait(ACPI, "STOPPED", 30, since=t0)
        self.assertEqual(e[3], "SHUTDOWN", "destroyed although it honours ACPI: the stall ate its window")
        _, st = self.wait_lock_gone(20, lambda: self.qstates([ACPI]))
        self.assertEqual(st, {ACPI: "shutoff"})
        t2 = now()
        self.mock.prepare_for_sleep(False)
        self.events.wait(ACPI, "STARTED", 30, since=t2)
        self.wait_phase(d, "idle", since=t2)
        self.assertEqual(self.started(ACPI, t0), 1)


if __name__ == "__main__":
    unittest.main(verbosity=2)
