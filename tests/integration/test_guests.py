# SPDX-License-Identifier: LGPL-2.1-or-later
"""Sleep cycles with real QEMU (TCG) guests: a Debian kernel with a busybox initramfs
that honours the ACPI power button (acpid) or ignores it. The guests are defined once
for the module and reused while they run; each test boots what it needs in parallel."""
import os
import unittest

from tdsleeptest import TDSleepTestCase, config_text, now, wait_until

A, B = "gtd-a", "gtd-b"            # TDs that honour ACPI shutdown
IGN, IGN2 = "gtd-ign", "gtd-ign2"  # TDs that ignore it
VM = "gvm"                         # an ordinary VM (would honour ACPI if asked)


class RealGuests(TDSleepTestCase):
    NEED_QEMU = True
    GUESTS = {
        A: dict(acpid=True),
        B: dict(acpid=True),
        IGN: dict(acpid=False),
        IGN2: dict(acpid=False),
        VM: dict(acpid=True, td=False),
    }

    def qstates(self, names):
        return self.states(names, conn=self.lv.qemu)

    def qdaemon(self, **sleep):
        return self.daemon(uri=self.lv.qemu_uri, config=config_text(**sleep))

    def started_count(self, name, since):
        return len(self.events.select(name, "STARTED", since=since))

    def test_deep_suspend_real_guests(self):
        self.pool.use([A, B, VM])
        d = self.qdaemon(ShutdownTimeoutSec="20s").start()
        self.wait_lock()
        t0 = now()
        self.mock.prepare_for_sleep(True)
        t_gone, st = self.wait_lock_gone(30, lambda: self.qstates([A, B, VM]))
        self.assertEqual(st, {A: "shutoff", B: "shutoff", VM: "running"})
        for n in (A, B):
            e = self.events.wait(n, "STOPPED", 5, since=t0)
            self.assertEqual(e[3], "SHUTDOWN", "%s should have stopped gracefully, got %s" % (n, e))
            self.assertIn("ACPI power button", self.pool.serial(n))
        self.assertEqual(self.events.select(VM, since=t0), [])
        self.assertNotIn("power button", self.pool.serial(VM))
        log_t = t_gone - t0
        self.mock.prepare_for_sleep(False)
        t1 = now()
        self.wait_lock(10)
        for n in (A, B):
            self.events.wait(n, "STARTED", 20, since=t1)
        self.assertEqual(self.qstates([A, B, VM]), {A: "running", B: "running", VM: "running"})
        self.assertLess(log_t, 10, "two ACPI guests should stop within seconds")
        self.assertTrue(d.alive())

    def test_force_off_yes_destroys_after_timeout(self):
        self.pool.use([IGN])
        self.qdaemon(ShutdownTimeoutSec="3s", ForceOff="yes").start()
        self.wait_lock()
        t0 = now()
        self.mock.prepare_for_sleep(True)
        e = self.events.wait(IGN, "STOPPED", 15, since=t0)
        self.assertEqual(e[3], "DESTROYED")
        self.assertGreaterEqual(e[0] - t0, 2.8, "destroyed before the 3 s timeout")
        self.assertLess(e[0] - t0, 7.0, "not destroyed promptly after the 3 s timeout")
        t_gone, st = self.wait_lock_gone(10, lambda: self.qstates([IGN]))
        self.assertEqual(st, {IGN: "shutoff"})
        self.assertGreaterEqual(t_gone, e[0] - 0.05)
        self.mock.prepare_for_sleep(False)
        self.wait_lock(10)
        self.events.wait(IGN, "STARTED", 20, since=t0)

    def test_force_off_no_leaves_guest_running(self):
        self.pool.use([IGN])
        d = self.qdaemon(ShutdownTimeoutSec="3s", ForceOff="no").start()
        self.wait_lock()
        t0 = now()
        self.mock.prepare_for_sleep(True)
        t_gone, st = self.wait_lock_gone(15, lambda: self.qstates([IGN]))
        self.assertEqual(st, {IGN: "running"})
        self.assertGreaterEqual(t_gone - t0, 2.8, "lock released before the timeout")
        self.assertLess(t_gone - t0, 7.0, "lock not released promptly at the timeout")
        self.assertEqual(self.events.select(IGN, "STOPPED", since=t0), [])
        self.assertIn("ForceOff=no", d.stderr())
        self.mock.prepare_for_sleep(False)
        self.wait_lock(10)
        self.assertEqual(self.qstates([IGN]), {IGN: "running"})
        self.assertEqual(self.started_count(IGN, t0), 0, "a TD that never stopped must not be started")

    def test_parallel_shutdown_one_at_a_time(self):
        # Two TDs that ignore ACPI: each takes the full timeout. One at a time, they
        # are destroyed a timeout apart; all at once, at about the same moment.
        self.pool.use([A, IGN, IGN2])
        self.qdaemon(ShutdownTimeoutSec="2s", ForceOff="yes", ParallelShutdown="1").start()
        self.wait_lock()
        t0 = now()
        self.mock.prepare_for_sleep(True)
        t_gone, st = self.wait_lock_gone(30, lambda: self.qstates([A, IGN, IGN2]))
        self.assertEqual(st, {A: "shutoff", IGN: "shutoff", IGN2: "shutoff"})
        d1 = self.events.wait(IGN, "STOPPED", 5, since=t0)
        d2 = self.events.wait(IGN2, "STOPPED", 5, since=t0)
        sa = self.events.wait(A, "STOPPED", 5, since=t0)
        self.assertGreaterEqual(abs(d1[0] - d2[0]), 1.8,
                                "ParallelShutdown=1 but both slow TDs were destroyed together: %s %s" % (d1, d2))
        # A (quick) did not overlap the window of either slow TD
        for slow in (d1, d2):
            self.assertFalse(slow[0] - 1.7 < sa[0] < slow[0] - 0.05,
                             "%s stopped while %s was being shut down" % (A, slow[1]))
        self.assertGreaterEqual(t_gone - t0, 3.8)
        self.mock.prepare_for_sleep(False)
        self.wait_lock(10)
        for n in (A, IGN, IGN2):
            self.events.wait(n, "STARTED", 20, since=t0)

    def test_short_logind_delay_cuts_windows(self):
        """Two TDs that ignore ACPI, 60 s each, one at a time, but logind waits only 40 s:
        the planner cuts each window to 7.5 s, so both are forced off by 35 s and logind
        never goes on with a TD running (tdsleepd.conf(5), THE STOP BUDGET)."""
        self.pool.use([IGN, IGN2])
        self.sysfs.write("sys/power/mem_sleep", "[deep]\n")    # no s2idle to steer to
        self.mock.stop()
        self.mock.start(delay_max_usec=40_000_000)
        d = self.qdaemon(ShutdownTimeoutSec="60s", ForceOff="yes", ParallelShutdown="1").start()
        self.wait_lock()
        d.wait_log(r"InhibitDelayMaxSec is 40s, but stopping 2 TDs for suspend may take up to 140s.*cuts "
                   r"every graceful shutdown window to 7\.5s", 10)
        t0 = now()
        self.mock.prepare_for_sleep(True)
        t_gone, st = self.wait_lock_gone(45, lambda: self.qstates([IGN, IGN2]))
        self.assertEqual(st, {IGN: "shutoff", IGN2: "shutoff"})
        first, second = sorted((self.events.wait(n, "STOPPED", 5, since=t0) for n in (IGN, IGN2)),
                               key=lambda e: e[0])
        self.assertEqual((first[3], second[3]), ("DESTROYED", "DESTROYED"))
        self.assertGreaterEqual(first[0] - t0, 7.3, "forced off before its cut window ended")
        self.assertLess(first[0] - t0, 17.5, "the first window was not cut to 7.5 s")
        self.assertGreaterEqual(second[0] - first[0], 7.3, "ParallelShutdown=1: the second waits for the first")
        self.assertLess(t_gone - t0, 35, "the cut windows and force-offs must end within the budget")
        self.assertIn("cutting every graceful shutdown window to 7.5s", d.stderr())
        self.mock.prepare_for_sleep(False)
        self.wait_lock(10)
        for n in (IGN, IGN2):
            self.events.wait(n, "STARTED", 20, since=t0)

    def test_sigkill_while_stopping_then_restart_finishes_cycle(self):
        self.pool.use([A, IGN])
        d = self.qdaemon(ShutdownTimeoutSec="60s", ForceOff="yes").start()
        self.wait_lock()
        t0 = now()
        self.mock.prepare_for_sleep(True)
        self.events.wait(A, "STOPPED", 15, since=t0)
        # the daemon now waits for IGN (60 s): kill it in the middle
        self.assertEqual(self.qstates([IGN]), {IGN: "running"})
        self.assertTrue(self.mock.daemon_locks(), "lock released while a TD is still running")
        self.assertTrue(os.path.exists(d.state_file), "no state file before the destructive steps")
        d.kill9()
        # logind still says PreparingForSleep=true; start again with a short timeout
        d.write_config(config_text(ShutdownTimeoutSec="2s", ForceOff="yes"))
        d.start()
        self.events.wait(IGN, "STOPPED", 20, since=t0)
        t_gone, st = self.wait_lock_gone(15, lambda: self.qstates([A, IGN]))
        self.assertEqual(st, {A: "shutoff", IGN: "shutoff"})
        self.mock.prepare_for_sleep(False)
        self.wait_lock(10)
        for n in (A, IGN):
            self.events.wait(n, "STARTED", 20, since=t0)
        wait_until(lambda: not os.path.exists(d.state_file), 20, "the cycle to end (state file removed)")
        self.assertEqual(self.qstates([A, IGN]), {A: "running", IGN: "running"})
        for n in (A, IGN):
            self.assertEqual(self.started_count(n, t0), 1, "%s started more than once" % n)

    def test_libvirtd_killed_while_preparing(self):
        self.pool.use([A, IGN])
        d = self.qdaemon(ShutdownTimeoutSec="4s", ForceOff="yes").start()
        self.wait_lock()
        t0 = now()
        self.mock.prepare_for_sleep(True)
        self.events.wait(A, "STOPPED", 15, since=t0)
        self.lv.kill9()      # while the daemon waits for IGN
        self.lv.restart()
        t_gone, st = self.wait_lock_gone(40, lambda: self.qstates([A, IGN]))
        self.assertEqual(st, {A: "shutoff", IGN: "shutoff"})
        t1 = now()
        self.mock.prepare_for_sleep(False)
        self.wait_lock(10)
        # the lifecycle events, not the states: a domain reads "running" a moment before
        # its STARTED event reaches us (seen with libvirt 12.9 in the modern tier)
        for n in (A, IGN):
            self.events.wait(n, "STARTED", 30, since=t1)
        self.assertEqual(self.qstates([A, IGN]), {A: "running", IGN: "running"})
        self.assertEqual(self.started_count(A, t1), 1)
        self.assertEqual(self.started_count(IGN, t1), 1)
        self.assertTrue(d.alive())

    def test_libvirtd_killed_while_idle_daemon_reconnects(self):
        self.pool.use([A])
        d = self.qdaemon(ShutdownTimeoutSec="10s").start()
        self.wait_lock()
        self.lv.wait_client(d.pid, 10)
        self.lv.kill9()
        self.lv.restart()
        self.lv.wait_client(d.pid, 30)   # the daemon reconnected by itself
        self.assertTrue(d.alive())
        t0 = now()
        self.mock.prepare_for_sleep(True)
        _, st = self.wait_lock_gone(20, lambda: self.qstates([A]))
        self.assertEqual(st, {A: "shutoff"})
        self.mock.prepare_for_sleep(False)
        self.wait_lock(10)
        self.events.wait(A, "STARTED", 20, since=t0)


if __name__ == "__main__":
    unittest.main(verbosity=2)
