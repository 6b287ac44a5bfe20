# SPDX-License-Identifier: LGPL-2.1-or-later
"""Issue 14: a stalled libvirtd delays nothing else. tdsleepd's libvirt calls run on its
worker threads; the loop (control socket, logind, watchdog, timers) keeps answering
while the private libvirtd is stopped with SIGSTOP in the middle of a prepare.

This asserts that it answers at all, promptly, while the stall lasts; how fast (p50,
p99) is measured in bench/. The stall itself is the scenario (a deliberate wait), not
synchronisation."""
import contextlib
import os
import signal
import time
import unittest

from tdsleeptest import TDSleepTestCase, config_text, log, now, testdrv_domain_xml, wait_until

TDS = ["stall-td1", "stall-td2", "stall-td3"]
STALL = 6                   # seconds libvirtd stays stopped
ANSWER = 2.0                # a GetStatus must answer within this while it does


class Stall(TDSleepTestCase):
    def continue_libvirtd_after(self):
        self.addCleanup(self.continue_libvirtd)
        self.libvirtd_may_be_stopped = True

    def continue_libvirtd(self):
        with contextlib.suppress(ProcessLookupError, TypeError):
            os.kill(self.lv.pid, signal.SIGCONT)

    def tearDown(self):
        # tearDown runs before the cleanups and talks to libvirtd (the domains go): a
        # test that failed with libvirtd stopped must not leave the run hanging there.
        if getattr(self, "libvirtd_may_be_stopped", False):
            self.continue_libvirtd()
        super().tearDown()

    def test_getstatus_answers_while_libvirtd_is_stopped_mid_prepare(self):
        for n in TDS:
            self.define_test_domain(n)
        d = self.daemon(config=config_text(ShutdownTimeoutSec="30s")).start()
        self.wait_lock()
        self.lv.wait_client(d.pid, 10)
        self.continue_libvirtd_after()
        os.kill(self.lv.pid, signal.SIGSTOP)
        t0 = now()
        self.mock.prepare_for_sleep(True)
        d.wait_status(lambda s: s.startswith("preparing"), 5, "STATUS preparing", since=t0)
        answers = []
        while now() - t0 < STALL:
            t = now()
            st = d.call("GetStatus", timeout=ANSWER)["status"]
            answers.append(now() - t)
            self.assertEqual(st["phase"], "preparing", "the prepare cannot be over: libvirtd is stopped")
            self.assertIsNotNone(d.call("ListDomains", timeout=ANSWER))
            time.sleep(0.5)     # a few calls spread over the stall
        self.assertTrue(self.mock.daemon_locks(), "the delay lock went while the shutdowns are in flight")
        log("GetStatus during a %ds stall: %d calls, slowest %.1f ms" %
            (STALL, len(answers), 1000 * max(answers)))
        os.kill(self.lv.pid, signal.SIGCONT)
        _, st = self.wait_lock_gone(30, lambda: self.states(TDS))
        self.assertEqual(st, {n: "shutoff" for n in TDS})
        t1 = now()
        self.mock.prepare_for_sleep(False)
        d.wait_status(lambda s: s.startswith("idle"), 30, "STATUS idle", since=t1)
        self.assertEqual(self.states(TDS), {n: "running" for n in TDS})

    def test_connecting_to_a_stopped_libvirtd_does_not_block_the_loop(self):
        """tdsleepd starts while libvirtd is stopped: virConnectOpen waits on a worker,
        the control socket answers (libvirt not connected yet), and the connection is
        made once libvirtd continues."""
        self.define_test_domain(TDS[0])
        self.continue_libvirtd_after()
        os.kill(self.lv.pid, signal.SIGSTOP)
        d = self.daemon(config=config_text(ShutdownTimeoutSec="30s")).start()
        t0 = now()
        while now() - t0 < 3:
            st = d.call("GetStatus", timeout=ANSWER)["status"]
            self.assertFalse(st["libvirtConnected"], "connected to a stopped libvirtd")
            time.sleep(0.5)     # a few calls spread over the stall
        os.kill(self.lv.pid, signal.SIGCONT)
        d.wait_log(r"Connected to libvirt at .*: \d+ domains", 20)
        self.assertTrue(d.status()["libvirtConnected"])
        self.assertIn(TDS[0], [x["name"] for x in d.call("ListDomains")["domains"]])

    def answer_while_stopped(self, d, seconds, what):
        """GetStatus and ListDomains answer within ANSWER all along; returns the slowest."""
        t0 = now()
        answers = []
        while now() - t0 < seconds:
            t = now()
            d.call("GetStatus", timeout=ANSWER)
            self.assertIsNotNone(d.call("ListDomains", timeout=ANSWER))
            answers.append(now() - t)
            time.sleep(0.5)     # a few calls spread over the stall
        log("GetStatus and ListDomains while libvirtd is stopped (%s): %d calls, slowest %.1f ms" %
            (what, len(answers), 1000 * max(answers)))

    def test_transient_td_xml_is_read_on_a_worker(self):
        """A transient TD's XML is read before it is stopped: with libvirtd stopped, the
        read waits on a worker, the prepare waits for it, the loop keeps answering; once
        libvirtd continues, the TD is stopped and re-created from that XML."""
        tr = "stall-tr"
        self.define_test_domain(tr, transient=True)
        d = self.daemon(config=config_text(ShutdownTimeoutSec="30s")).start()
        self.wait_lock()
        self.lv.wait_client(d.pid, 10)
        self.continue_libvirtd_after()
        os.kill(self.lv.pid, signal.SIGSTOP)
        t0 = now()
        self.mock.prepare_for_sleep(True)
        d.wait_status(lambda s: s.startswith("preparing"), 5, "STATUS preparing", since=t0)
        try:
            self.answer_while_stopped(d, 3, "a transient TD's XML is being read")
            self.assertEqual(d.status()["phase"], "preparing", "prepared without the TD's XML")
        finally:
            os.kill(self.lv.pid, signal.SIGCONT)
        _, st = self.wait_lock_gone(30, lambda: self.states([tr]))
        self.assertEqual(st, {tr: None}, "the transient TD was not stopped")
        t1 = now()
        self.mock.prepare_for_sleep(False)
        self.events.wait(tr, "STARTED", 30, since=t1)
        d.wait_status(lambda s: s.startswith("idle"), 30, "STATUS idle", since=t1)
        self.assertEqual(self.states([tr]), {tr: "running"})

    def test_new_domain_is_read_on_a_worker(self):
        """A domain appears and libvirtd stops right after: the reads of the new domain
        (state, persistence, XML) wait on a worker, not on the loop. Whether libvirtd
        stops before or after tdsleepd's reads is up to the scheduler; either way the loop
        keeps answering, and the domain is in the table once libvirtd continues."""
        d = self.daemon(config=config_text(ShutdownTimeoutSec="30s")).start()
        self.lv.wait_client(d.pid, 10)
        d.wait_log(r"Connected to libvirt at .*: \d+ domains", 20)
        self.continue_libvirtd_after()
        name = "stall-new"
        self.lv.test.createXML(testdrv_domain_xml(name), 0)
        self._test_domains.append(name)
        os.kill(self.lv.pid, signal.SIGSTOP)
        try:
            self.answer_while_stopped(d, 3, "a new domain is being read")
        finally:
            os.kill(self.lv.pid, signal.SIGCONT)
        wait_until(lambda: name in [x["name"] for x in d.call("ListDomains")["domains"]], 20,
                   "the new domain in ListDomains")

    def test_exit_does_not_wait_for_a_stopped_libvirtd(self):
        """SIGTERM while libvirtd is stopped and a call is in flight: tdsleepd waits a
        bounded time for it (5 s), then exits, well within TimeoutStopSec=."""
        for n in TDS[:1]:
            self.define_test_domain(n)
        d = self.daemon(config=config_text(ShutdownTimeoutSec="30s")).start()
        self.wait_lock()
        self.lv.wait_client(d.pid, 10)
        self.continue_libvirtd_after()
        os.kill(self.lv.pid, signal.SIGSTOP)
        t0 = now()
        self.mock.prepare_for_sleep(True)
        d.wait_status(lambda s: s.startswith("preparing"), 5, "STATUS preparing", since=t0)
        t1 = now()
        try:
            status = d.stop(timeout=15)
        finally:
            os.kill(self.lv.pid, signal.SIGCONT)    # tearDown talks to libvirtd
        log("exit with libvirtd stopped took %.1f s" % (now() - t1))
        self.assertEqual(status, 0, "tdsleepd did not exit cleanly while libvirtd is stopped")
        self.assertRegex(d.stderr(), r"libvirtd has not answered \d+ call\(s\) within 5s")


if __name__ == "__main__":
    unittest.main(verbosity=2)
