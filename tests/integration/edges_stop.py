# SPDX-License-Identifier: LGPL-2.1-or-later
"""Issue 9's edges 1 and 2: a sleep aborted while a stop is in flight, a drain undone by a
restart. Mixed into test_edges.Edges."""
import os
import threading

from tdsleeptest import LogindMock, VarlinkError, log, now
from edgestest import ACPI, SLOW, IGN, S2, MEM_SLEEP


class StopEdges:
    """Part of test_edges.Edges (its guests, setUpClass and helpers)."""

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
