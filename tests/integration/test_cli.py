# SPDX-License-Identifier: LGPL-2.1-or-later
"""tdsleepctl against the real tdsleepd (test-driver domains, logind mock): every verb,
human and --json, the sleep hook's Prepare, exit codes and colour rules.

tdsleepctl is found at $TDSLEEPCTL, else $TDSLEEP_BUILD_DIR/cli/tdsleepctl; the module
skips while it is not built."""
import json
import os
import pty
import re
import select
import signal
import subprocess
import tempfile
import time
import unittest

from tdsleeptest import BUILD_DIR, TDSleepTestCase, Timeout, log, now, wait_until
from controltest import (IFACE, NOBODY_UID, NOGROUP_GID, OTHER_GID, control_config, open_for_others,
                         params, vcall)

CTL = os.environ.get("TDSLEEPCTL") or os.path.join(BUILD_DIR, "cli", "tdsleepctl")
ESC = "\x1b["
OPERATIONS = ["suspend", "hibernate", "suspend-then-hibernate", "drain"]
CHANGING_VERBS = [["prepare", "suspend"], ["resume"], ["drain"], ["restore"], ["hold", "why"],
                  ["release"], ["reload"], ["hook", "pre", "suspend"], ["log-level", "debug"]]


# The sleep hook falls back to writing sys/power/mem_sleep below this root when it
# cannot reach tdsleepd: never let a test touch the real one.
os.environ["TDSLEEP_SYSFS_ROOT"] = tempfile.mkdtemp(prefix="tdsleepctl-sysfs.")


def clean_env(**extra):
    env = {k: v for k, v in os.environ.items()
           if k not in ("NO_COLOR", "TDSLEEP_SOCKET", "TDSLEEP_TIMEOUT", "SYSTEMD_SLEEP_ACTION", "TDSLEEP_PAGER",
                        "SYSTEMD_PAGER", "PAGER", "SYSTEMD_LESS", "SYSTEMD_PAGERSECURE")}
    env["TERM"] = "xterm-256color"
    env.update(extra)
    return env


class CLI(TDSleepTestCase):

    @classmethod
    def setUpClass(cls):
        if not os.access(CTL, os.X_OK):
            raise unittest.SkipTest("tdsleepctl not built yet: %s (ninja -C BUILD cli/tdsleepctl, "
                                    "or set TDSLEEPCTL=)" % CTL)
        super().setUpClass()
        open_for_others(cls.base)

    def start(self, n_td=3, config=None):
        open_for_others(self.dir)
        self.tds = [self.uniq("td%d" % i) for i in range(n_td)]
        for n in self.tds:
            self.define_test_domain(n)
        self.vm = self.uniq("vm")
        self.define_test_domain(self.vm, td=False)
        self.d = self.daemon(config=config or control_config()).start()
        self.sock = self.d.ctl_socket
        self.wait_lock()
        return self.d

    def ctl(self, *args, rc=0, env=None, user=None, timeout=30, socket=True):
        argv = [CTL] + (["--socket=" + self.sock] if socket else []) + list(args)
        kw = {}
        if user is not None:
            kw = dict(user=user[0], group=user[1], extra_groups=[], cwd="/")
        r = subprocess.run(argv, capture_output=True, text=True, timeout=timeout,
                           env=clean_env(**(env or {})), **kw)
        if rc is not None:
            self.assertEqual(r.returncode, rc, "%s -> %d\nstdout:\n%s\nstderr:\n%s" %
                             (" ".join(args), r.returncode, r.stdout, r.stderr))
        self.assertNotIn(ESC, r.stdout + r.stderr, "no colour when not on a terminal")
        return r

    def ctl_json(self, *args, **kw):
        """--json: every stdout line is one JSON object."""
        r = self.ctl("--json", *args, **kw)
        lines = [json.loads(line) for line in r.stdout.splitlines() if line.strip()]
        return lines

    def status(self):
        return params(vcall(self.sock, IFACE + ".GetStatus"))["status"]

    def wait_phase(self, phase, timeout=10):
        return wait_until(lambda: self.status()["phase"] == phase, timeout, "phase " + phase)

    # --- reads

    def test_status(self):
        self.start()
        out = self.ctl("status").stdout
        self.assertRegex(out, r"(?m)^\s+Phase: idle$")
        self.assertRegex(out, r"(?m)^\s+TDs running: 3$")
        self.assertRegex(out, r"(?m)^\s+Delay lock: held$")
        self.assertRegex(out, r"(?m)^\s+mem_sleep: deep$")
        self.assertIn("(connected)", out)
        keys = [line.index(":") for line in out.split("\n\n")[0].splitlines()]
        self.assertEqual(len(set(keys)), 1, "status keys aligned on the colon:\n" + out)
        (j,) = self.ctl_json("status")
        self.assertEqual(j["status"], self.status())

    def test_list(self):
        self.start()
        out = self.ctl("list").stdout.splitlines()
        self.assertRegex(out[0], r"^NAME\s+UUID\s+STATE\s+KIND\s+PROTECTED\s+ACTION")
        rows = {line.split()[0]: line for line in out[1:] if line.strip()}
        for n in self.tds:
            self.assertEqual(rows[n].split()[2:5], ["running", "none", "yes"], rows[n])
        self.assertEqual(rows[self.vm].split()[4], "no")
        col = out[0].index("PROTECTED")
        for line in out[1:]:
            self.assertRegex(line[col:], r"^(yes|no)\s", "columns aligned:\n" + "\n".join(out))
        (j,) = self.ctl_json("list")
        prot = {d["name"]: d["protected"] for d in j["domains"]}
        self.assertEqual(prot, dict({n: True for n in self.tds}, **{self.vm: False}))

    def test_plan(self):
        self.start()
        steps = {"suspend": "suspend", "hibernate": "hibernate",
                 "suspend-then-hibernate": "suspend, hibernate", "drain": "drain"}
        for op in OPERATIONS:
            with self.subTest(operation=op):
                out = self.ctl("plan", op).stdout
                self.assertRegex(out, r"(?m)^\s+Operation: %s$" % op)
                self.assertRegex(out, r"(?m)^\s+Steps: %s$" % steps[op].replace(", ", ",? "))
                self.assertRegex(out, r"(?m)^\s+Keeps TDs: no$")
                for n in self.tds:
                    self.assertRegex(out, r"(?m)^%s\s.*\sstop$" % re.escape(n))
                self.assertNotIn(self.vm, out)
                (j,) = self.ctl_json("plan", op)
                self.assertEqual((j["operation"], j["keepsTDs"]), (op.replace("-", "_"), False))
                self.assertEqual([d["verdict"] for d in j["domains"]], ["stop"] * 3)
        r = self.ctl("plan", "nap", rc=2)
        self.assertIn("Unknown operation 'nap'. Valid operations: suspend, hibernate, hybrid-sleep, "
                      "suspend-then-hibernate, drain.", r.stderr)
        self.assertNotIn("Plan(", self.d.stderr(), "checked by tdsleepctl, never sent")
        self.assertEqual(self.states(self.tds), {n: "running" for n in self.tds}, "plan changes nothing")

    # --- changes

    def test_prepare_and_resume(self):
        self.start()
        r = self.ctl("prepare", "suspend")
        self.assertEqual(self.states(self.tds), {n: "shutoff" for n in self.tds},
                         "prepare returns once the TDs are stopped")
        lines = r.stdout.splitlines()
        self.assertRegex(lines[-1], r"^Ready for suspend: 3 stopped, 0 left running, 0 failed\.$")
        for n in self.tds:
            self.assertIn("domain: %s stopped" % n, r.stdout, "progress shown")
        self.assertRegex(r.stdout, r"(?m)^phase: ready; 0 TDs running; ")
        self.d.wait_log(r"Prepare\(suspend, suspend\) from the control socket", 5)
        r = self.ctl("resume")
        self.assertRegex(r.stdout, r"^Phase: (resuming|idle)\n$")
        self.wait_phase("idle")
        self.assertEqual(self.states(self.tds), {n: "running" for n in self.tds})

        out = self.ctl_json("prepare", "suspend-then-hibernate", "--step=hibernate")
        self.d.wait_log(r"Prepare\(suspend-then-hibernate, hibernate\) from the control socket", 5)
        self.assertEqual({k: out[-1][k] for k in ("phase", "stopped", "failed")},
                         {"phase": "ready", "stopped": 3, "failed": 0})
        self.assertTrue(out[:-1] and all("event" in o for o in out[:-1]), out)
        self.assertEqual(self.states(self.tds), {n: "shutoff" for n in self.tds})
        (j,) = self.ctl_json("resume")
        self.assertIn(j["phase"], ("resuming", "idle"))
        self.wait_phase("idle")
        self.assertEqual(self.states(self.tds), {n: "running" for n in self.tds})

    def test_drain_and_restore(self):
        self.start()
        t0 = now()
        r = self.ctl("drain", "--timeout=5")
        self.assertRegex(r.stdout.splitlines()[-1], r"^Drain done: 3 stopped, 0 left running, 0 failed\.$")
        self.assertEqual(self.states(self.tds + [self.vm]),
                         dict({n: "shutoff" for n in self.tds}, **{self.vm: "running"}))
        r = self.ctl("drain", rc=1)
        self.assertIn("Busy", r.stderr)
        r = self.ctl("restore")
        self.assertRegex(r.stdout, r"^Phase: (resuming|idle)\n$")
        self.wait_phase("idle")
        out = self.ctl_json("drain")
        self.assertEqual(out[-1], {"stopped": 3, "leftRunning": 0, "failed": 0})
        (j,) = self.ctl_json("restore")
        self.assertIn(j["phase"], ("resuming", "idle"))
        self.wait_phase("idle")
        self.assertEqual(self.states(self.tds), {n: "running" for n in self.tds})
        self.assertEqual(self.events.select(self.vm, since=t0), [])
        self.ctl("drain", "--timeout=abc", rc=2)
        self.ctl("drain", "--timeout=-1", rc=2)

    def test_hold_and_release(self):
        self.start()

        def block():
            return [i for i in self.mock.inhibitors() if i[1] == "tdsleepd" and i[3] == "block"]
        r = self.ctl("hold", "BIOS update by ops")
        self.assertEqual(r.stdout, "")
        locks = wait_until(block, 5, "the block lock")
        self.assertIn("BIOS update by ops", locks[0][2])
        out = self.ctl("status").stdout
        self.assertRegex(out, r"(?m)^\s+Hold: BIOS update by ops$")
        self.assertRegex(out, r"(?m)^\s+Held by: uid 0 \(root\), tdsleepctl\[\d+\]$")
        self.assertRegex(out, r"(?m)^\s+Held since: \w{3} \d{4}-\d\d-\d\d \d\d:\d\d:\d\d \S+$")
        self.assertRegex(out, r"(?m)^\s+Held until: tdsleepctl release$")
        self.assertEqual(self.ctl("release").stdout, "")
        wait_until(lambda: not block(), 5, "the block lock to go")
        self.assertEqual(self.ctl_json("hold", "json reason"), [{"untilUSec": None, "stored": True}])
        wait_until(block, 5, "the block lock")
        self.assertEqual(self.ctl_json("release"), [{}])
        wait_until(lambda: not block(), 5, "the block lock to go")
        self.ctl("hold", rc=2)

    def test_log_level(self):
        d = self.start()
        self.assertEqual(self.ctl("log-level").stdout, "debug\n", "the tests run tdsleepd at debug level")
        self.assertEqual(self.ctl("log-level", "notice").stdout, "")
        self.assertEqual(self.status()["logLevel"], 5)
        self.assertEqual(self.ctl("log-level").stdout, "notice\n")
        self.assertEqual(self.ctl_json("log-level"), [{"level": 5}])
        d.wait_log(r"SetLogLevel\(5\) from the control socket: log level 7 -> 5", 5)
        self.ctl("log-level", "loud", rc=2)
        self.ctl("log-level", "7")
        self.assertEqual(self.status()["logLevel"], 7)

    def test_hold_for_and_restart(self):
        """hold --for: status shows until when; the hold survives a restart of tdsleepd and
        then ends by itself."""
        self.start()

        def block():
            return [i for i in self.mock.inhibitors() if i[1] == "tdsleepd" and i[3] == "block"]
        t0 = time.time()
        self.assertEqual(self.ctl("hold", "--for=4s", "short window").stdout, "")
        wait_until(block, 5, "the block lock")
        info = self.status()["holdInfo"]
        self.assertAlmostEqual(info["untilUSec"] / 1e6, t0 + 4, delta=2)
        self.assertRegex(self.ctl("status").stdout, r"(?m)^\s+Held until: \w{3} \d{4}-\d\d-\d\d ")
        self.d.stop()
        self.d.start()
        self.d.wait_log(r"Restored the operator's hold \"short window\"", 10)
        wait_until(block, 5, "the block lock, taken again after the restart")
        self.assertEqual(self.status()["holdInfo"], info)
        wait_until(lambda: not block(), 15, "the hold to end by itself")
        self.assertGreater(time.time() - t0, 3)
        self.assertRegex(self.ctl("status").stdout, r"(?m)^\s+Hold: -$")
        for bad in ("0", "soon", "400d"):
            self.assertIn("--for=", self.ctl("hold", "--for=" + bad, "x", rc=2).stderr)
        self.assertIn("--for is only for 'hold'", self.ctl("release", "--for=1h", rc=2).stderr)

    def test_status_is_a_health_check(self):
        """status exits 0 when healthy, 5 with libvirt away, 8 when no TD can be created;
        -q prints nothing."""
        self.start()
        self.assertEqual(self.ctl("-q", "status").stdout, "")
        self.assertEqual(self.ctl("-q").stdout, "")
        self.d.stop()
        # a libvirt URI nobody answers: tdsleepd runs, libvirt stays disconnected
        away = self.daemon(uri="test+unix:///default?socket=" + os.path.join(self.dir, "no-libvirt-sock"),
                           config=control_config(), workdir=os.path.join(self.dir, "away"))
        open_for_others(away.dir)
        away.start()
        self.sock = away.ctl_socket
        self.assertFalse(self.status()["libvirtConnected"])
        r = self.ctl("status", rc=5)
        self.assertIn("(not connected)", r.stdout)
        self.assertEqual(r.stderr, "")
        self.assertEqual(self.ctl("-q", "status", rc=5).stdout, "")
        self.assertEqual(len(self.ctl_json("status", rc=5)), 1)
        away.stop()

    def test_degraded_record_is_unhealthy(self):
        """A drain whose record the disk refuses (only the fd store has it): status exits 6."""
        self.start()
        blocker = os.path.join(self.d.state_dir, "cycle.json.tmp")
        os.mkdir(blocker)       # every save of cycle.json fails (EISDIR): the fd store keeps it
        try:
            self.ctl("drain")
            self.assertTrue(self.status()["recordDegraded"])
            r = self.ctl("status", rc=6)
            self.assertRegex(r.stdout, r"(?m)^\s+Record: degraded")
        finally:
            os.rmdir(blocker)
        self.ctl("restore")
        self.wait_phase("idle")

    def test_no_cpu_online_in_a_package_is_unhealthy(self):
        from test_cpus import two_packages
        two_packages(self.sysfs, {1: 1, 2: 0, 3: 0})
        self.start(config=control_config() + "\n[CPU]\nOnlineCPUs=no\n")
        if self.status()["canCreateTDs"]:
            self.skipTest("this daemon brought a CPU online: nothing to report")
        r = self.ctl("status", rc=8)
        self.assertRegex(r.stdout, r"(?m)^\s*Can create TDs: no$")
        self.ctl("-q", rc=8)

    def test_reload(self):
        d = self.start()
        self.assertEqual(self.ctl("reload").stdout, "")
        self.assertEqual(self.ctl_json("reload"), [{}])
        d.write_config(control_config() + "Nonsense\n")
        r = self.ctl("reload", rc=1)
        self.assertIn("InvalidConfiguration", r.stderr)
        self.assertRegex(r.stderr, r"%s:\d+: " % re.escape(d.config))
        self.assertTrue(d.alive())

    def test_monitor(self):
        self.start()
        for args, parse in ((["monitor"], None), (["--json", "monitor"], json.loads)):
            with self.subTest(args=args):
                p = subprocess.Popen([CTL, "--socket=" + self.sock] + args, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, env=clean_env())
                self._buf = b""
                try:
                    lines = [self._readline(p, 10)]
                    self.assertNotIn("error", params(vcall(self.sock, IFACE + ".Drain", {})))
                    while "ready" not in lines[-1]:
                        lines.append(self._readline(p, 10))
                    vcall(self.sock, IFACE + ".Restore")
                    while not re.search(r"phase\W+idle", lines[-1]):
                        lines.append(self._readline(p, 10))
                finally:
                    p.send_signal(signal.SIGINT)
                    try:
                        rest, err = p.communicate(timeout=5)
                    except subprocess.TimeoutExpired:
                        p.kill()
                        rest, err = p.communicate()
                log("monitor %s: %d lines, exit %d after SIGINT" % (args, len(lines), p.returncode))
                self.assertIn(p.returncode, (0, 130, -signal.SIGINT), err)
                text = "".join(lines)
                self.assertNotIn(ESC, text)
                if parse:
                    evs = [parse(x)["event"] for x in lines]
                    self.assertEqual(evs[0]["type"], "phase")
                    self.assertIn(("phase", "preparing"), [(e["type"], e.get("phase")) for e in evs])
                    self.assertEqual({e["domain"]["name"] for e in evs if e["type"] == "domain"}, set(self.tds))
                    seqs = [e["sequence"] for e in evs]
                    self.assertEqual(seqs, list(range(seqs[0], seqs[0] + len(seqs))), "numbered one by one")
                else:
                    self.assertRegex(lines[0], r"^\d\d:\d\d:\d\d\.\d{3} phase: idle; ")
                    for n in self.tds:
                        self.assertRegex(text, r"domain: %s stopped" % re.escape(n))
                        self.assertRegex(text, r"domain: %s started" % re.escape(n))
                    # each change once: no line says what the one before it said
                    said = [line.split(" ", 1)[1] for line in lines]
                    self.assertEqual([a for a, b in zip(said, said[1:]) if a == b], [], text)
                    # a phase change is one line (the status line rides on it), not a phase and a status
                    for a, b in zip(said, said[1:]):
                        if a.startswith("phase: "):
                            self.assertNotEqual(b, "status: " + a[len("phase: "):], text)

    def _readline(self, p, timeout):
        """One line of p's stdout (unbuffered: select() on the pipe itself)."""
        end = time.monotonic() + timeout
        while b"\n" not in self._buf:
            r, _, _ = select.select([p.stdout.fileno()], [], [], max(0, end - time.monotonic()))
            if not r:
                raise Timeout("monitor printed nothing for %ss" % timeout)
            data = os.read(p.stdout.fileno(), 65536)
            if not data:
                raise AssertionError("monitor exited: %s" % p.stderr.read())
            self._buf += data
        line, self._buf = self._buf.split(b"\n", 1)
        return line.decode() + "\n"

    def test_hook_pre_and_post(self):
        self.start()
        r = self.ctl("hook", "pre", "suspend", env={"SYSTEMD_SLEEP_ACTION": "suspend"})
        self.assertEqual((r.stdout, r.stderr), ("", ""), "the hook is quiet on success")
        self.assertEqual(self.states(self.tds), {n: "shutoff" for n in self.tds})
        self.d.wait_log(r"Prepare\(suspend, suspend\) from the control socket", 5)
        self.ctl("hook", "post", "suspend", env={"SYSTEMD_SLEEP_ACTION": "suspend"})
        self.mock.prepare_for_sleep(False)      # what logind does after the sleep
        self.wait_phase("idle")
        self.assertEqual(self.states(self.tds), {n: "running" for n in self.tds})
        # suspend-then-hibernate: systemd names the step it is about to take
        self.ctl("hook", "pre", "suspend-then-hibernate", env={"SYSTEMD_SLEEP_ACTION": "hibernate"})
        self.d.wait_log(r"Prepare\(suspend-then-hibernate, hibernate\) from the control socket", 5)
        (j,) = self.ctl_json("hook", "pre", "suspend-then-hibernate", env={"SYSTEMD_SLEEP_ACTION": "hibernate"})
        self.assertEqual(j["phase"], "ready")
        self.mock.prepare_for_sleep(False)
        self.wait_phase("idle")
        self.ctl("hook", "sideways", "suspend", rc=2)
        self.ctl("hook", "pre", rc=2)

    def test_hook_pre_keeps_tds_on_s2idle(self):
        self.sysfs.write("sys/power/mem_sleep", "[s2idle] deep\n")
        self.start()
        t = time.monotonic()
        self.ctl("hook", "pre", "suspend", env={"SYSTEMD_SLEEP_ACTION": "suspend"})
        self.assertLess(time.monotonic() - t, 5)
        self.assertEqual(self.states(self.tds), {n: "running" for n in self.tds})

    # --- exit codes, colour

    def test_exit_codes(self):
        self.start()
        self.ctl("status", rc=0)
        self.assertRegex(self.ctl().stdout, r"(?m)^\s+Phase: idle$")
        for args in (["bogus"], ["plan"], ["hold"], ["prepare"], ["--no-such-option", "status"],
                     ["status", "extra"], ["plan", "nap"], ["prepare", "drain"], ["--json=loud", "status"]):
            with self.subTest(args=args):
                r = self.ctl(*args, rc=2)
                self.assertIn("tdsleepctl", r.stderr)
        r = self.ctl("--socket=/nonexistent", "status", rc=3, socket=False)
        self.assertIn("/nonexistent", r.stderr)
        self.assertIn("Start it: systemctl start tdsleepd.socket", r.stderr)
        self.ctl("--socket=/nonexistent", "hook", "pre", "suspend", rc=3, socket=False)
        # nobody, in SocketGroup=: reads work, changes are refused with 4
        nobody = (NOBODY_UID, NOGROUP_GID)
        self.ctl("status", user=nobody)
        self.ctl("plan", "suspend", user=nobody)
        self.ctl("--json", "list", user=nobody)
        for verb in CHANGING_VERBS:
            with self.subTest(verb=verb):
                r = self.ctl(*verb, rc=4, user=nobody)
                self.assertIn("PermissionDenied", r.stderr)
                self.assertIn("this needs root", r.stderr)
        self.assertEqual(self.states(self.tds), {n: "running" for n in self.tds})
        self.assertEqual(self.status()["hold"], None)
        # outside the group: connect() fails with EACCES
        r = self.ctl("status", rc=4, user=(NOBODY_UID, OTHER_GID))
        self.assertIn("ermission denied", r.stderr)
        self.assertIn("Run as root or join group tdsleep", r.stderr)
        # an error reply ends with what to do
        self.ctl("drain")
        r = self.ctl("drain", rc=1)
        self.assertRegex(r.stderr, r"Busy: phase=ready\. Already drained or prepared for a sleep: run "
                                   r"tdsleepctl restore")
        self.ctl("restore")
        self.wait_phase("idle")

    def _on_tty(self, args, **env):
        """Run with stdout on a pseudo-terminal; return what it printed. No pager unless env
        names one (TDSLEEP_PAGER)."""
        master, slave = pty.openpty()
        env = dict(dict(TDSLEEP_PAGER="cat"), **env)
        try:
            p = subprocess.Popen([CTL, "--socket=" + self.sock] + args, stdout=slave, stderr=slave,
                                 stdin=subprocess.DEVNULL, env=clean_env(**env))
            os.close(slave)
            slave = None
            out = b""
            while True:
                r, _, _ = select.select([master], [], [], 10)
                if not r:
                    break
                try:
                    data = os.read(master, 65536)
                except OSError:
                    break
                if not data:
                    break
                out += data
            p.wait(10)
            self.assertEqual(p.returncode, 0, out)
            return out.decode()
        finally:
            os.close(master)
            if slave is not None:
                os.close(slave)

    def test_colour(self):
        self.start()
        tty = self._on_tty(["plan", "suspend"])
        self.assertIn(ESC, tty, "colour on a terminal")
        self.assertNotIn(ESC, self._on_tty(["plan", "suspend"], NO_COLOR="1"), "NO_COLOR")
        self.assertNotIn(ESC, self._on_tty(["status"], TERM="dumb"), "TERM=dumb")
        self.assertNotIn(ESC, self._on_tty(["--json", "status"]), "JSON is never coloured")
        self.assertNotIn(ESC, self.ctl("plan", "suspend").stdout, "not a terminal")

    def test_pager(self):
        """status, list and plan go through the pager on a terminal; --no-pager and the
        changing verbs never."""
        self.start()
        mark = "sed 's/^/P:/'"

        def paged(out):
            lines = [line for line in out.replace("\r\n", "\n").splitlines() if line.strip()]
            return bool(lines) and all(line.startswith("P:") for line in lines)
        for args in (["status"], [], ["list"], ["plan", "hibernate"]):
            self.assertTrue(paged(self._on_tty(args, TDSLEEP_PAGER=mark)), args)
        self.assertFalse(paged(self._on_tty(["--no-pager", "status"], TDSLEEP_PAGER=mark)))
        self.assertFalse(paged(self._on_tty(["hold", "paged?"], TDSLEEP_PAGER=mark)))
        self.ctl("release")
        self.assertFalse(paged(self.ctl("status", env={"TDSLEEP_PAGER": mark}).stdout), "not a terminal")


if __name__ == "__main__":
    unittest.main(verbosity=2)
