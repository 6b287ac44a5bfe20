# SPDX-License-Identifier: LGPL-2.1-or-later
"""The operator's hold that lasts (issue 13): kept in the state directory with its owner,
start and end; taken again (with its logind block lock) when tdsleepd restarts; ended
by itself with forUSec, also when the end passed while tdsleepd was down; held even when
the disk refuses to store it, and said so."""
import json
import os
import re
import time

from tdsleeptest import LogindMock, TDSleepTestCase, now, wait_until
from controltest import IFACE, params, vcall

HOLD_FILE = "hold.json"
USEC = 1_000_000


class HoldThatLasts(TDSleepTestCase):

    def start(self, d=None):
        self.td = getattr(self, "td", None) or self.uniq("td")
        if not d:
            self.define_test_domain(self.td)
            d = self.daemon()
        d.start()
        self.d = d
        self.wait_lock()
        return d

    def call(self, method, p=None):
        return vcall(self.d.ctl_socket, IFACE + "." + method, p)

    def ok(self, method, p=None):
        return params(self.call(method, p))

    def status(self):
        return self.ok("GetStatus")["status"]

    def block_locks(self):
        return [i for i in self.mock.inhibitors() if i[1] == "tdsleepd" and i[3] == "block"]

    def hold_path(self):
        return os.path.join(self.d.state_dir, HOLD_FILE)

    def write_hold(self, d, **fields):
        text = dict(version=1, reason="written by hand", uid=0, pid=1, comm="systemd",
                    sinceUSec=int((time.time() - 3600) * USEC), untilUSec=None)
        text.update(fields)
        with open(os.path.join(d.state_dir, HOLD_FILE), "w") as f:
            json.dump(text, f)

    def test_hold_survives_restart_with_owner_and_lock(self):
        self.start()
        reason = "firmware update, ticket #4711"
        t0 = time.time()
        reply = self.ok("Hold", {"reason": reason})
        self.assertEqual(reply, {"untilUSec": None, "stored": True})
        info = self.status()["holdInfo"]
        self.assertEqual((info["reason"], info["uid"], info["pid"], info["untilUSec"], info["stored"]),
                         (reason, 0, os.getpid(), None, True))
        with open("/proc/self/comm") as f:
            self.assertEqual(info["comm"], f.read().strip())
        self.assertLess(abs(info["sinceUSec"] / USEC - t0), 5)
        with open(self.hold_path()) as f:
            stored = json.load(f)
        self.assertEqual((stored["reason"], stored["sinceUSec"], stored["pid"]), (reason, info["sinceUSec"], os.getpid()))

        self._crash_keeps_the_block_lock(reason, info)

        self.d.stop()
        wait_until(lambda: not self.block_locks(), 10, "the block lock to go with tdsleepd")
        self.start(self.d)
        self.d.wait_log(r"Restored the operator's hold \"firmware update, ticket #4711\" \(uid 0, ", 10)
        locks = wait_until(self.block_locks, 10, "the block lock taken again after the restart")
        self.assertIn(reason, locks[0][2])
        st = self.status()
        self.assertEqual(st["hold"], reason)
        self.assertEqual(st["holdInfo"], info, "owner and start survive the restart unchanged")

        self.assertEqual(self.ok("Release"), {})
        wait_until(lambda: not self.block_locks(), 10, "the block lock to go at Release")
        self.assertFalse(os.path.exists(self.hold_path()), "Release removes hold.json")
        self.d.stop()
        self.start(self.d)
        self.assertIsNone(self.status()["holdInfo"])
        self.assertNotIn("Restored the operator's hold", self.d.stderr())
        self.assertEqual(self.block_locks(), [])

    def block_inhibit_calls(self):
        return [c for c in self.mock.inhibit_calls() if c[3] == "block"]

    def stored_names(self):
        return sorted(n for n, _ in self.d.notify.stored())

    def _restart_after_crash(self, while_down=None):
        """SIGKILL, then a restart with the fd store handed back: logind must list a block
        lock of ours at every look until the new run has decided."""
        self.d.kill9()
        if while_down:
            while_down()
        self.d.start(wait=False)
        decided = re.compile(r"Decided after the restart")
        while True:
            # Look first, then read the log: a lock missing before the decision was logged
            # was missing before the decision.
            locks = self.block_locks()
            if decided.search(self.d.stderr()):
                break
            self.assertTrue(locks, "no block lock between the crash and the decision:\n" + self.d.stderr())
            self.assertTrue(self.d.alive(), self.d.stderr())
        self.d.wait_ready()
        self.assertIn("Kept the sleep block lock across the restart", self.d.stderr())

    def _crash_keeps_the_block_lock(self, reason, info):
        """The block lock lives in systemd's fd store (here the harness's): a crash keeps
        it, and the restarted daemon adopts it and, having decided, keeps it as it is."""
        wait_until(lambda: self.stored_names() == ["block-inhibitor", "delay-inhibitor"], 5,
                   "the block lock in the fd store")
        held, n_calls = self.block_locks(), len(self.block_inhibit_calls())
        self._restart_after_crash()
        self.d.wait_log(r"Decided after the restart: keeping the sleep block lock kept across the restart: "
                        r"Held by the operator: firmware update", 10)
        self.assertEqual(self.block_locks(), held, "the same lock, kept")
        self.assertEqual(len(self.block_inhibit_calls()), n_calls, "Inhibit(block) again: the kept lock was dropped")
        self.assertEqual(self.status()["holdInfo"], info, "the hold still shows after the restart")
        self.assertEqual(self.status()["blockLock"], held[0][2])

        # logind restarted while tdsleepd was down, and forgot the lock: it is taken again
        # (the hold's) before the decision.
        self.d.kill9()
        self.mock.kill()
        self.mock = LogindMock(self.bus, os.path.join(self.dir, "logind-mock-2.log")).start()
        self.d.start()
        self.d.wait_log(r"logind does not know our block lock any more: taking it again", 10)
        self.d.wait_log(r"Decided after the restart: sleep stays blocked, now because: Held by the operator: "
                        r"firmware update", 10)
        locks = wait_until(self.block_locks, 5, "the block lock taken again")
        self.assertIn(reason, locks[0][2])
        self.assertEqual(len(self.block_inhibit_calls()), 1, "one Inhibit(block) on the new logind")

        # The hold went while tdsleepd was down: the kept lock stays until the decision,
        # which releases it (and drops it from the fd store).
        self._restart_after_crash(lambda: os.rename(self.hold_path(), self.hold_path() + ".away"))
        self.d.wait_log(r"Decided after the restart, .*: nothing refuses sleep now; releasing the sleep block "
                        r"lock kept across the restart", 10)
        wait_until(lambda: not self.block_locks(), 5, "the kept block lock released after the decision")
        self.assertEqual(self.stored_names(), ["delay-inhibitor"])
        os.rename(self.hold_path() + ".away", self.hold_path())

    def test_hold_for_ends_by_itself(self):
        self.start()
        t0 = now()
        reply = self.ok("Hold", {"reason": "short one", "forUSec": 2 * USEC})
        self.assertTrue(reply["stored"])
        self.assertLess(abs(reply["untilUSec"] / USEC - (time.time() + 2)), 2)
        self.assertEqual(self.status()["holdInfo"]["untilUSec"], reply["untilUSec"])
        wait_until(self.block_locks, 5, "the block lock of the hold")
        wait_until(lambda: not self.block_locks(), 15, "the hold to end after 2 s")
        self.assertGreater(now() - t0, 1.5, "ended too early")
        self.d.wait_log(r"The operator's hold \"short one\" ended at .*: released", 5)
        self.assertIsNone(self.status()["hold"])
        self.assertFalse(os.path.exists(self.hold_path()))

    def test_end_passed_while_down(self):
        self.td = self.uniq("td")
        self.define_test_domain(self.td)
        d = self.daemon()
        self.write_hold(d, reason="overnight", untilUSec=int((time.time() - 60) * USEC))
        self.start(d)
        d.wait_log(r"The operator's hold \"overnight\" \(uid 0, systemd, since .*\) ended at .* while tdsleepd "
                   r"was not running: released", 10)
        self.assertIsNone(self.status()["hold"])
        self.assertFalse(os.path.exists(self.hold_path()))
        self.assertEqual(self.block_locks(), [])

    def test_restored_hold_keeps_its_end(self):
        self.td = self.uniq("td")
        self.define_test_domain(self.td)
        d = self.daemon()
        until = int((time.time() + 3) * USEC)
        self.write_hold(d, reason="until soon", uid=1000, pid=77, comm=None, untilUSec=until)
        self.start(d)
        wait_until(self.block_locks, 10, "the restored hold's block lock")
        info = self.status()["holdInfo"]
        self.assertEqual((info["uid"], info["pid"], info["comm"], info["untilUSec"]), (1000, 77, None, until))
        wait_until(lambda: not self.block_locks(), 15, "the restored hold to end at its time")
        self.assertFalse(os.path.exists(self.hold_path()))

    def test_corrupt_file_is_moved_aside(self):
        self.td = self.uniq("td")
        self.define_test_domain(self.td)
        d = self.daemon()
        with open(os.path.join(d.state_dir, HOLD_FILE), "w") as f:
            f.write('{"version": 1, "reason": ')
        self.start(d)
        d.wait_log(r"hold\.json is corrupt: moved to .*hold\.json\.corrupt-\d+", 10)
        self.assertIsNone(self.status()["hold"])
        self.assertEqual(len([n for n in os.listdir(d.state_dir) if n.startswith("hold.json.corrupt-")]), 1)

    def test_disk_refuses_the_hold_is_held_anyway(self):
        self.start()
        # the temp file's name taken by a directory: every write of hold.json fails (EISDIR)
        os.mkdir(os.path.join(self.d.state_dir, "." + HOLD_FILE + ".tmp"))
        reply = self.ok("Hold", {"reason": "read-only disk"})
        self.assertEqual(reply, {"untilUSec": None, "stored": False})
        wait_until(self.block_locks, 5, "the block lock, stored or not")
        self.assertFalse(self.status()["holdInfo"]["stored"])
        self.d.wait_log(r"Failed to store the operator's hold in .*hold\.json: .*It is held, but a restart", 5)
        self.assertFalse(os.path.exists(self.hold_path()))

    def test_bad_durations_change_nothing(self):
        self.start()
        for bad in (0, -1, 1.5, "2h", 367 * 86400 * USEC, True):
            err = self.call("Hold", {"reason": "x", "forUSec": bad})
            self.assertEqual(err.get("parameters"), {"parameter": "forUSec"}, bad)
        self.assertIsNone(self.status()["hold"])
        self.assertFalse(os.path.exists(self.hold_path()))
        # null is no duration: a plain hold
        self.assertEqual(self.ok("Hold", {"reason": "x", "forUSec": None})["untilUSec"], None)
        self.ok("Release")
