# SPDX-License-Identifier: LGPL-2.1-or-later
"""Crash safety and restarts of the things around tdsleepd (test driver domains)."""
import glob
import os
import re
import unittest

from tdsleeptest import LogindMock, TDSleepTestCase, now, wait_until


class Recovery(TDSleepTestCase):

    def _tds(self, n=2):
        tds = [self.uniq("td%d" % i) for i in range(n)]
        for t in tds:
            self.define_test_domain(t)
        vm = self.uniq("vm")
        self.define_test_domain(vm, td=False)
        return tds, vm

    def test_restart_after_sleep_starts_tds_from_state_file(self):
        tds, vm = self._tds()
        d = self.daemon().start()
        self.wait_lock()
        t0 = now()
        self.mock.prepare_for_sleep(True)
        _, st = self.wait_lock_gone(20, lambda: self.states(tds))
        self.assertEqual(st, {t: "shutoff" for t in tds})
        self.assertTrue(os.path.exists(d.state_file))
        d.kill9()
        # resume happens while the daemon is down: logind says so, nobody listens
        self.mock.prepare_for_sleep(False)
        d.start()
        for t in tds:
            self.events.wait(t, "STARTED", 15, since=t0)
        wait_until(lambda: not os.path.exists(d.state_file), 15, "the cycle to end (state file removed)")
        self.assertEqual(self.states(tds + [vm]), {t: "running" for t in tds + [vm]})
        for t in tds:
            self.assertEqual(len(self.events.select(t, "STARTED", since=t0)), 1, t)
        self.assertEqual(self.events.select(vm, since=t0), [])
        self.wait_lock(10)

    def test_corrupt_state_file_is_moved_aside(self):
        tds, vm = self._tds(1)
        d = self.daemon()
        garbage = '{"version": 1, "phase": "ready", "domains": [{"uuid": 42'
        with open(d.state_file, "w") as f:
            f.write(garbage)
        t0 = now()
        d.start()
        moved = glob.glob(d.state_file + ".corrupt-*")
        self.assertEqual(len(moved), 1, "corrupt state file not moved aside: %s" % os.listdir(d.state_dir))
        self.assertEqual(open(moved[0]).read(), garbage, "the corrupt file must be kept as it was")
        self.assertFalse(os.path.exists(d.state_file))
        # loudly: at warning level or above, naming the file it was moved to
        loud = [l for l in d.stderr().splitlines()
                if re.match(r"tdsleepd\[(emerg|alert|crit|err|error|warn|warning)\]", l)
                and os.path.basename(moved[0]) in l]
        self.assertTrue(loud, "no warning/error naming %s in:\n%s" % (moved[0], d.stderr()))
        self.wait_lock()
        self.assertEqual(self.states(tds + [vm]), {tds[0]: "running", vm: "running"})
        self.assertEqual(self.events.select(tds[0], since=t0), [])
        self.assertTrue(d.alive())

    def test_logind_restart_retakes_lock(self):
        tds, vm = self._tds(1)
        d = self.daemon().start()
        self.wait_lock()
        self.assertEqual(len(self.mock.inhibit_calls()), 1)
        self.mock.kill()
        self.mock = LogindMock(self.bus, os.path.join(self.dir, "logind-mock-2.log")).start()
        lock = self.wait_lock(10)
        self.assertEqual(lock[0][0], "sleep")
        self.assertTrue(d.alive())
        # and the new instance drives a cycle
        t0 = now()
        self.mock.prepare_for_sleep(True)
        _, st = self.wait_lock_gone(20, lambda: self.states(tds))
        self.assertEqual(st, {tds[0]: "shutoff"})
        self.mock.prepare_for_sleep(False)
        self.wait_lock(10)
        self.events.wait(tds[0], "STARTED", 10, since=t0)

    def test_delay_lock_survives_sigkill_in_fd_store(self):
        tds, vm = self._tds(1)
        d = self.daemon().start()
        self.wait_lock()
        wait_until(lambda: [n for n, _ in d.notify.stored()] == ["delay-inhibitor"], 5,
                   "the delay lock in the fd store")
        d.kill9()
        # The fd store (systemd; here the harness) holds a copy: the lock outlives tdsleepd.
        self.assertEqual(len(self.mock.daemon_locks()), 1, "the delay lock went with the daemon")
        d.start()
        d.wait_log(r"Kept the sleep delay lock across the restart", 10)
        self.assertEqual(len(self.mock.inhibit_calls()), 1, "Inhibit() again: the kept lock was not adopted")
        self.assertEqual(len(self.mock.daemon_locks()), 1)
        # It is the live lock: the cycle releases it (FDSTOREREMOVE drops the stored copy too)
        # once the TD is stopped, and takes a new one after resume.
        t0 = now()
        self.mock.prepare_for_sleep(True)
        _, st = self.wait_lock_gone(20, lambda: self.states(tds))
        self.assertEqual(st, {tds[0]: "shutoff"})
        self.assertEqual(d.notify.stored(), [])
        self.mock.prepare_for_sleep(False)
        self.events.wait(tds[0], "STARTED", 10, since=t0)
        self.wait_lock(10)
        self.assertEqual(len(self.mock.inhibit_calls()), 2)

    def test_record_in_fd_store_survives_sigkill(self):
        """The state directory refuses the record: the copy in the fd store carries the
        cycle across a crash, and each TD is started again exactly once."""
        tds, vm = self._tds(2)
        d = self.daemon().start()
        self.wait_lock()
        away = d.state_dir + ".away"
        os.rename(d.state_dir, away)
        with open(d.state_dir, "w") as f:       # root ignores modes: a file where the dir was
            f.write("not a directory\n")
        t0 = now()
        self.mock.prepare_for_sleep(True)
        _, st = self.wait_lock_gone(20, lambda: self.states(tds))
        self.assertEqual(st, {t: "shutoff" for t in tds})
        # one copy, under either of its two names (each save swaps them)
        self.assertIn([n for n, _ in d.notify.stored()], (["cycle-record"], ["cycle-record-2"]))
        d.wait_status(lambda s: "record degraded" in s, 5, "STATUS= saying the record is degraded")
        d.kill9()
        self.mock.prepare_for_sleep(False)
        d.start()       # the disk still refuses: only the fd store knows the cycle
        for t in tds:
            self.events.wait(t, "STARTED", 15, since=t0)
        # The copy is dropped; as the disk still cannot confirm that no file is left, a
        # marker says the cycle is finished.
        def names():
            return sorted(n for n, _ in d.notify.stored())
        wait_until(lambda: names() == ["cycle-finished", "delay-inhibitor"], 15,
                   "the record's copy dropped from the fd store, a finished marker kept")
        self.assertEqual(self.states(tds + [vm]), {t: "running" for t in tds + [vm]})
        for t in tds:
            self.assertEqual(len(self.events.select(t, "STARTED", since=t0)), 1, t)
        self.assertEqual(self.events.select(vm, since=t0), [])
        os.unlink(d.state_dir)
        os.rename(away, d.state_dir)

    def test_lock_shape(self):
        self.daemon().start()
        (what, who, why, mode, uid, pid), = self.wait_lock()
        self.assertEqual((what, who, mode), ("sleep", "tdsleepd", "delay"))
        self.assertTrue(why)


if __name__ == "__main__":
    unittest.main(verbosity=2)
