# SPDX-License-Identifier: LGPL-2.1-or-later
"""Issue 9's edges 7 and 8: smaller divergences, a stalled libvirtd. Mixed into
test_edges.Edges."""
import os
import re
import signal
import threading
import time

from tdsleeptest import log, now, wait_until
from edgestest import ACPI, IGN, S2, MEM_SLEEP


class DivergenceEdges:
    """Part of test_edges.Edges (its guests, setUpClass and helpers)."""

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
