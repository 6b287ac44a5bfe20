# SPDX-License-Identifier: LGPL-2.1-or-later
"""Configuration errors at start and on reload, and a clean SIGTERM."""
import os
import re
import signal
import subprocess
import unittest

from tdsleeptest import TDSLEEPD, TDSleepTestCase, config_text, now, wait_until


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

    def test_bad_option_exits_1(self):
        """As tdsleepd(8) says, and as systemd's daemons do: a failed start, status 1."""
        r = subprocess.run([TDSLEEPD, "--bogus"], capture_output=True, text=True, timeout=10)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("--bogus", r.stderr)

    def _search_dirs(self):
        """The search path as tdsleepd --help states it (the first is the build's sysconfdir)."""
        out = subprocess.run([TDSLEEPD, "--help"], capture_output=True, text=True, timeout=10).stdout
        m = re.search(r"^The config: (.*): the first$", out, re.M)
        self.assertIsNotNone(m, out)
        dirs = m.group(1).split(", ")
        self.assertEqual(dirs[1:], ["/run/tdsleep", "/usr/local/lib/tdsleep", "/usr/lib/tdsleep"])
        return dirs

    def _write_under(self, root, d, rel, text):
        path = os.path.join(root, d.lstrip("/"), rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(text)
        return path

    def test_search_path_below_root(self):
        """The main file found first, drop-ins of every directory by name, the earliest
        directory's for a name: what the daemon applies, what --cat-config shows, and a
        broken drop-in named by file and line on reload."""
        etc, run, local, usr = self._search_dirs()
        root = os.path.join(self.dir, "root-conf")
        self._write_under(root, usr, "tdsleepd.conf", "[Sleep]\nProtectedKinds=tdx sev\nShutdownTimeoutSec=10s\n")
        self._write_under(root, local, "tdsleepd.conf.d/50-kinds.conf", "[Sleep]\nProtectedKinds=tdx\n")
        mine = self._write_under(root, etc, "tdsleepd.conf.d/50-kinds.conf", "[Sleep]\n# both\nProtectedKinds=sev tdx\n")
        late = self._write_under(root, run, "tdsleepd.conf.d/60-start.conf", "[Sleep]\nParallelStart=2\n")
        r = subprocess.run([TDSLEEPD, "--config-root=" + root, "--cat-config"], capture_output=True, text=True,
                           timeout=10)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(re.findall(r"(?m)^# (/\S+)$", r.stdout)[:3],
                         [os.path.join(root, usr.lstrip("/"), "tdsleepd.conf"), mine, late])
        self.assertIn("# %s:3\nProtectedKinds=tdx sev\n" % mine, r.stdout)
        self.assertIn("# %s:2\nParallelStart=2\n" % late, r.stdout)
        self.assertIn("# built-in default\nForceOff=yes\n", r.stdout)

        td, sev = self.uniq("td"), self.uniq("sev")
        self.define_test_domain(td)
        self.define_test_domain(sev, td=False, sev=True)
        d = self.daemon()
        d.config_root = root
        d.start()
        self.wait_lock()
        t0 = now()
        self.mock.prepare_for_sleep(True)
        _, st = self.wait_lock_gone(20, lambda: self.states([td, sev]))
        self.assertEqual(st, {td: "shutoff", sev: "shutoff"}, "/etc's drop-in (sev protected) must win")
        self.mock.prepare_for_sleep(False)
        self.wait_lock(10)
        self.events.wait(sev, "STARTED", 10, since=t0)
        with open(late, "w") as f:
            f.write("[Sleep]\nParallelStart=many\n")
        d.signal(signal.SIGHUP)
        d.wait_log(re.escape(late) + r":2: ParallelStart=many: expected an integer", 10)
        self.assertTrue(d.alive())

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
