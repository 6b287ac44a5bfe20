# SPDX-License-Identifier: LGPL-2.1-or-later
"""Sleep cycles against libvirt's test driver (instant shutdown, many domains)."""
import json
import os
import unittest

from tdsleeptest import TDSleepTestCase, config_text, now


class SuspendTestDriver(TDSleepTestCase):

    def _domains(self, n_td=3, sev=True):
        tds = [self.uniq("td%d" % i) for i in range(n_td)]
        for n in tds:
            self.define_test_domain(n)
        vm = self.uniq("vm")
        self.define_test_domain(vm, td=False)
        others = [vm]
        if sev:
            s = self.uniq("sev")
            self.define_test_domain(s, td=False, sev=True)
            others.append(s)
        return tds, others

    def test_deep_suspend_stops_only_tds_and_restarts_them(self):
        tds, others = self._domains()
        d = self.daemon(config=config_text(ShutdownTimeoutSec="10s")).start()
        self.wait_lock()
        t0 = now()
        self.mock.prepare_for_sleep(True)
        t_gone, st = self.wait_lock_gone(20, lambda: self.states(tds + others))
        # At the moment the lock is gone every TD is down, nothing else was touched.
        self.assertEqual({n: st[n] for n in tds}, {n: "shutoff" for n in tds},
                         "TDs must be stopped before the delay lock is released")
        self.assertEqual({n: st[n] for n in others}, {n: "running" for n in others})
        for n in tds:
            self.events.wait(n, "STOPPED", 5, since=t0)
        for n in others:
            self.assertEqual(self.events.select(n, since=t0), [], "%s must be left alone" % n)
        self.assertTrue(os.path.exists(d.state_file), "no state file while the cycle is in progress")
        saved = json.load(open(d.state_file))
        self.assertEqual(sorted(x["name"] for x in saved["domains"]), sorted(tds))
        # "asleep": nothing may come back before PrepareForSleep(false)
        self.assertEqual(self.states(tds), {n: "shutoff" for n in tds})

        t1 = now()
        self.mock.prepare_for_sleep(False)
        self.wait_lock(10)
        for n in tds:
            self.events.wait(n, "STARTED", 10, since=t1)
        self.assertEqual(self.states(tds + others), {n: "running" for n in tds + others})
        self.assertTrue(self.wait_until_gone(d.state_file, 10))
        for n in tds:
            self.assertEqual(len(self.events.select(n, "STARTED", since=t0)), 1, n)
        # The stops and starts went over the workers' own connections (virt-pool.c),
        # kept open next to the main one.
        self.assertGreater(self.lv.client_pids().count(d.proc.pid), 1,
                           "the workers made their calls on the main connection")
        # They took the handles from a listing (virt-listing.c), freed once the resume
        # was over.
        d.wait_log(r"Freeing the domain listings of \d+ worker connections", 10)
        self.assertTrue(d.alive())

    def test_sev_is_protected_only_when_configured(self):
        tds, (vm, sev) = self._domains(n_td=1)
        self.daemon(config=config_text(ShutdownTimeoutSec="10s", ProtectedKinds="tdx sev")).start()
        self.wait_lock()
        t0 = now()
        self.mock.prepare_for_sleep(True)
        _, st = self.wait_lock_gone(20, lambda: self.states(tds + [vm, sev]))
        self.assertEqual(st, {tds[0]: "shutoff", sev: "shutoff", vm: "running"})
        self.mock.prepare_for_sleep(False)
        self.wait_lock(10)
        self.events.wait(sev, "STARTED", 10, since=t0)
        self.events.wait(tds[0], "STARTED", 10, since=t0)
        self.assertEqual(self.events.select(vm, since=t0), [])

    def test_s2idle_selected_leaves_tds_running(self):
        self.sysfs.write("sys/power/mem_sleep", "[s2idle] deep\n")
        tds, others = self._domains(n_td=2, sev=False)
        d = self.daemon().start()
        self.wait_lock()
        t0 = now()
        self.mock.prepare_for_sleep(True)
        t_gone, st = self.wait_lock_gone(10, lambda: self.states(tds + others))
        self.assertLess(t_gone - t0, 2.0, "lock must be released promptly when TDs survive")
        self.assertEqual(st, {n: "running" for n in tds + others})
        self.mock.prepare_for_sleep(False)
        self.wait_lock(10)
        self.assertEqual(self.states(tds + others), {n: "running" for n in tds + others})
        for n in tds + others:
            self.assertEqual(self.events.select(n, since=t0), [], "%s must be left alone" % n)
        self.assertEqual(self.sysfs.read("sys/power/mem_sleep"), "[s2idle] deep\n")
        self.assertTrue(d.alive())

    def test_transient_td_is_recreated_after_resume(self):
        name = self.uniq("transient")
        dom = self.define_test_domain(name, transient=True)
        uuid = dom.UUIDString()
        self.assertFalse(dom.isPersistent())
        self.daemon().start()
        self.wait_lock()
        t0 = now()
        self.mock.prepare_for_sleep(True)
        _, st = self.wait_lock_gone(20, lambda: self.states([name]))
        self.assertEqual(st, {name: None}, "a stopped transient domain no longer exists")
        self.events.wait(name, "STOPPED", 5, since=t0)
        self.mock.prepare_for_sleep(False)
        self.wait_lock(10)
        self.events.wait(name, "STARTED", 10, since=t0)
        dom = self.lv.test.lookupByName(name)
        self.assertEqual(dom.UUIDString(), uuid)
        self.assertTrue(dom.isActive())
        self.assertFalse(dom.isPersistent(), "must be re-created as transient, not defined")

    def test_trust_domain_no_is_not_protected(self):
        td = self.uniq("td")
        self.define_test_domain(td)
        no = self.uniq("not-td")
        self.define_test_domain(no, td="no")
        self.daemon().start()
        self.wait_lock()
        self.mock.prepare_for_sleep(True)
        _, st = self.wait_lock_gone(20, lambda: self.states([td, no]))
        self.assertEqual(st, {td: "shutoff", no: "running"})

    def wait_until_gone(self, path, timeout):
        from tdsleeptest import wait_until
        return wait_until(lambda: not os.path.exists(path), timeout, "%s to be removed" % path)


if __name__ == "__main__":
    unittest.main(verbosity=2)
