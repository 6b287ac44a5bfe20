# SPDX-License-Identifier: LGPL-2.1-or-later
"""Configuration errors at start and on reload, and a clean SIGTERM."""
import os
import re
import signal
import unittest

from tdsleeptest import TDSleepTestCase, config_text, now, wait_until


class Config(TDSleepTestCase):

    def _broken_start(self, config, dropins, where, line):
        td, vm = self.uniq("td"), self.uniq("vm")
        self.define_test_domain(td)
        self.define_test_domain(vm, td=False)
        # Even while logind is preparing for sleep, a daemon with a broken config
        # must not touch anything.
        self.mock.set_preparing(True)
        d = self.daemon(config=config, dropins=dropins)
        t0 = now()
        d.start(wait=False)
        rc = d.wait_exit(15)
        self.assertNotEqual(rc, 0, "tdsleepd accepted a broken config")
        self.assertEqual(d.notify.select(pid=d.pid, key="READY"), [], "READY=1 sent with a broken config")
        err = d.stderr()
        self.assertRegex(err, re.escape(where) + r":%d: \S" % line,
                         "expected 'file:line: message' for %s line %d" % (where, line))
        self.assertEqual(self.mock.inhibit_calls(), [], "inhibitor taken with a broken config")
        self.assertEqual(self.mock.inhibitors(), [])
        self.assertEqual(self.events.select(td, since=t0), [])
        self.assertEqual(self.states([td, vm]), {td: "running", vm: "running"})
        self.assertEqual(os.listdir(d.state_dir), [])
        return err

    def test_unknown_key(self):
        cfg = "[Manager]\n\n[Sleep]\nShutdownTimeoutSec=10s\nShutdownTimeoutSecs=10s\n"
        self._broken_start(cfg, None, "tdsleepd.conf", 5)

    def test_bad_value(self):
        cfg = "[Sleep]\nForceOff=yes\nShutdownTimeoutSec=soon\n"
        self._broken_start(cfg, None, "tdsleepd.conf", 3)

    def test_bad_dropin(self):
        self._broken_start(config_text(ShutdownTimeoutSec="10s"),
                           {"10-good.conf": "[Sleep]\nParallelStart=2\n",
                            "50-bad.conf": "[Sleep]\n# comment\nParallelShutdown=-3\n"},
                           "50-bad.conf", 3)

    def test_sighup_with_broken_config_keeps_old_one(self):
        td, sev = self.uniq("td"), self.uniq("sev")
        self.define_test_domain(td)
        self.define_test_domain(sev, td=False, sev=True)
        d = self.daemon(config=config_text(ShutdownTimeoutSec="10s")).start()
        self.wait_lock()
        # A new config that would protect sev, plus one bad line: nothing of it applies.
        d.write_config("[Sleep]\nProtectedKinds=tdx sev\nShutdownTimeoutSec=10s\nForceOff=perhaps\n")
        d.signal(signal.SIGHUP)
        d.wait_log(r"tdsleepd\.conf:4: ", 10)
        self.assertTrue(d.alive(), "daemon died on a bad reload")
        t0 = now()
        self.mock.prepare_for_sleep(True)
        _, st = self.wait_lock_gone(20, lambda: self.states([td, sev]))
        self.assertEqual(st, {td: "shutoff", sev: "running"}, "parts of the rejected config were applied")
        self.mock.prepare_for_sleep(False)
        self.wait_lock(10)
        self.events.wait(td, "STARTED", 10, since=t0)

    def test_sighup_with_good_config_applies_it(self):
        td, sev = self.uniq("td"), self.uniq("sev")
        self.define_test_domain(td)
        self.define_test_domain(sev, td=False, sev=True)
        d = self.daemon(config=config_text(ShutdownTimeoutSec="10s")).start()
        self.wait_lock()
        d.write_config(config_text(ShutdownTimeoutSec="10s", ProtectedKinds="tdx sev"))
        t_hup = now()
        d.signal(signal.SIGHUP)
        # The reload is done when the daemon says so: a notify message (RELOADING=1/READY=1
        # or a new STATUS=) or a log line about the reload.
        wait_until(lambda: d.notify.select(pid=d.pid) and d.notify.select(pid=d.pid)[-1][0] >= t_hup
                   or re.search(r"(?i)reload", d.stderr()), 10, "the reload to be acknowledged")
        t0 = now()
        self.mock.prepare_for_sleep(True)
        _, st = self.wait_lock_gone(20, lambda: self.states([td, sev]))
        self.assertEqual(st, {td: "shutoff", sev: "shutoff"})
        self.mock.prepare_for_sleep(False)
        self.wait_lock(10)
        self.events.wait(sev, "STARTED", 10, since=t0)

    def test_sigterm_exits_cleanly(self):
        td = self.uniq("td")
        self.define_test_domain(td)
        d = self.daemon().start()
        self.wait_lock()
        t0 = now()
        d.signal(signal.SIGTERM)
        self.assertEqual(d.wait_exit(10), 0)
        self.assertTrue(d.notify.select(pid=d.pid, key="STOPPING"), "no STOPPING=1")
        # The harness's fd store gives its copy of the lock back once the clean exit is
        # reaped (as systemd does); logind's mock sees the pipe close right after.
        wait_until(lambda: self.mock.daemon_locks() == [], 5, "the delay lock gone after a clean exit")
        self.assertEqual(self.states([td]), {td: "running"}, "SIGTERM while idle must not stop TDs")
        self.assertEqual(self.events.select(td, since=t0), [])


if __name__ == "__main__":
    unittest.main(verbosity=2)
