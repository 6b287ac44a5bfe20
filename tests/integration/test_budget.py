# SPDX-License-Identifier: LGPL-2.1-or-later
"""The stop budget against a short logind InhibitDelayMaxUSec: the warning at start-up
and on a change of the domain set, what Plan says, and what a prepare does (cut the
windows, steer a suspend to s2idle, or block sleep). libvirt's test driver: shutdowns
are instant, so what is checked is the decision, its journal line and its effect."""
import unittest

from tdsleeptest import TDSleepTestCase, config_text, now, wait_until

USEC = 1_000_000


class Budget(TDSleepTestCase):

    def short_logind(self, seconds):
        """logind restarted with a short InhibitDelayMaxSec (before tdsleepd starts)."""
        self.mock.stop()
        self.mock.start(delay_max_usec=seconds * USEC)

    def tds(self, n, tag="btd", **meta):
        names = [self.uniq("%s%d" % (tag, i)) for i in range(n)]
        for name in names:
            self.define_test_domain(name, **meta)
        return names

    def block_locks(self):
        return [i for i in self.mock.inhibitors() if i[1] == "tdsleepd" and i[3] == "block"]

    def test_cut_windows_when_s2idle_is_not_offered(self):
        """Two TDs of 60 s, one at a time, 30 s of logind delay, no s2idle: each window is
        cut to 2.5 s so that both stops and their force-offs end by 25 s."""
        self.sysfs.write("sys/power/mem_sleep", "[deep]\n")
        self.short_logind(30)
        tds = self.tds(2)
        d = self.daemon(config=config_text(ShutdownTimeoutSec="60s", ParallelShutdown="1")).start()
        self.wait_lock()
        d.wait_log(r"logind's InhibitDelayMaxSec is 30s, but stopping 2 TDs for suspend may take up to 140s "
                   r".*a prepare cuts every graceful shutdown window to 2\.5s", 10)
        plan = d.call("Plan", {"operation": "suspend"})
        self.assertEqual(plan["inhibitDelayMaxUSec"], 30 * USEC)
        self.assertFalse(plan["fits"])
        (b,) = plan["budgets"]
        self.assertEqual((b["step"], b["stops"], b["stopBudgetUSec"], b["limit"], b["limitUSec"]),
                         ("suspend", 2, 140 * USEC, "logind", 30 * USEC))
        self.assertEqual((b["fits"], b["overBudget"], b["stopWindowMaxUSec"], b["plannedUSec"]),
                         (False, "shorten", 2_500_000, 25 * USEC))
        self.assertEqual(self.block_locks(), [], "a cut that fits needs no block lock")
        self.mock.prepare_for_sleep(True)
        _, st = self.wait_lock_gone(20, lambda: self.states(tds))
        self.assertEqual(st, {n: "shutoff" for n in tds})
        d.wait_log(r"Stopping 2 TDs may take 140s, but logind waits only 30s: cutting every graceful "
                   r"shutdown window to 2\.5s", 5)
        self.mock.prepare_for_sleep(False)
        for n in tds:
            self.events.wait(n, "STARTED", 10, since=self.t_start)

    def test_suspend_steered_to_s2idle(self):
        """The same with s2idle offered: the suspend goes to s2idle, nothing is stopped."""
        self.short_logind(30)
        tds = self.tds(2)
        d = self.daemon(config=config_text(ShutdownTimeoutSec="60s", ParallelShutdown="1")).start()
        self.wait_lock()
        d.wait_log(r"InhibitDelayMaxSec is 30s.*a suspend is steered to s2idle instead", 10)
        (b,) = d.call("Plan", {"operation": "suspend"})["budgets"]
        self.assertEqual((b["overBudget"], b["stops"], b["plannedUSec"]), ("s2idle", 0, 0))
        t0 = now()
        self.mock.prepare_for_sleep(True)
        _, st = self.wait_lock_gone(10, lambda: self.states(tds))
        self.assertEqual(st, {n: "running" for n in tds})
        self.assertEqual(self.sysfs.read("sys/power/mem_sleep").strip(), "s2idle")
        d.wait_log(r"Stopping the TDs may take 140s, but logind waits only 30s: suspending to idle instead", 5)
        for n in tds:
            self.assertEqual(self.events.select(n, "STOPPED", since=t0), [])
        self.mock.prepare_for_sleep(False)

    def test_block_lock_until_it_fits(self):
        """ForceOff=no and too little time: sleep is refused with a block lock, once per
        change; when a TD stops and the rest fits, the lock goes and the journal says so."""
        self.sysfs.write("sys/power/mem_sleep", "[deep]\n")
        self.short_logind(30)
        tds = self.tds(2)
        d = self.daemon(config=config_text(ShutdownTimeoutSec="20s", ParallelShutdown="1",
                                           ForceOff="no")).start()
        wait_until(self.block_locks, 10, "the budget's block lock")
        (lock,) = self.block_locks()
        self.assertIn("TDs cannot be stopped in time: stopping 2 TDs for suspend may take 40s, past logind's 30s",
                      lock[2])
        d.wait_log(r"InhibitDelayMaxSec is 30s, but stopping 2 TDs for suspend may take up to 40s.*no prepare "
                   r"can fit; tdsleepd holds a block lock", 10)
        (b,) = d.call("Plan", {"operation": "suspend"})["budgets"]
        self.assertEqual((b["fits"], b["overBudget"], b["stopWindowMaxUSec"]), (False, "block", None))
        self.assertEqual(d.status()["blockLock"], lock[2])
        # A crash keeps the lock (fd store) until the restarted daemon has listed the TDs
        # and checked the budget again: then the same lock stays, not taken again.
        n_block = len([c for c in self.mock.inhibit_calls() if c[3] == "block"])
        d.kill9()
        d.start()
        d.wait_log(r"Decided after the restart: keeping the sleep block lock kept across the restart: TDs cannot "
                   r"be stopped in time", 10)
        self.assertIn("Kept the sleep block lock across the restart", d.stderr())
        self.assertEqual(self.block_locks(), [lock])
        self.assertEqual(len([c for c in self.mock.inhibit_calls() if c[3] == "block"]), n_block)
        # A third TD changes the numbers but not the outcome: no second warning. With
        # only it left running, the budget fits.
        self.tds(1, tag="late")
        for n in tds:
            self.lv.test.lookupByName(n).destroy()
        wait_until(lambda: not self.block_locks(), 10, "the block lock to go once one TD fits")
        d.wait_log(r"Stopping the TDs fits the sleep's limit again \(up to 20s of 30s\)", 5)
        self.assertEqual(len(d.stderr().split("no prepare can fit")), 2, "warned once per change")


if __name__ == "__main__":
    unittest.main()
