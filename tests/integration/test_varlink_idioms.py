# SPDX-License-Identifier: LGPL-2.1-or-later
"""The control interface's systemd habits (issue 13): closed sets are IDL enums, times
integer µs named ...USec, org.varlink.service.PermissionDenied, every event type sent is
declared; events are numbered, timed and tied to their cycle, each change told once;
io.systemd.service (Ping, Reload, SetLogLevel); GetInfo names the project's address."""
import json
import os
import re
import shlex
import shutil
import subprocess
import time
import unittest

from controltest import (HEX32, IDL_PATH, IFACE, SOURCE_ROOT, ControlCase, VarlinkConn, control_config,
                         params, vcall)


def varlinkctl():
    """systemd's varlinkctl (>= 255) as a command list: $TDSLEEP_VARLINKCTL (e.g. a newer
    systemd's binary run through its tree's loader), else varlinkctl on PATH, else None."""
    cmd = os.environ.get("TDSLEEP_VARLINKCTL")
    if cmd:
        return shlex.split(cmd)
    path = shutil.which("varlinkctl")
    return [path] if path else None


class VarlinkIdioms(ControlCase):

    def test_get_info_and_io_systemd_service(self):
        self.start()
        info = params(vcall(self.sock, "org.varlink.service.GetInfo"))
        # the project's own address, the same as debian/control's Homepage
        with open(os.path.join(SOURCE_ROOT, "debian", "control")) as f:
            homepage = re.search(r"(?m)^Homepage: (\S+)$", f.read()).group(1)
        self.assertEqual(info["url"], homepage)
        self.assertNotIn(".invalid", info["url"])
        # io.systemd.service, as systemd's services serve it
        self.assertIn("io.systemd.service", info["interfaces"])
        sd = params(vcall(self.sock, "org.varlink.service.GetInterfaceDescription",
                          {"interface": "io.systemd.service"}))["description"]
        with open(os.path.join(SOURCE_ROOT, "daemon", "io.systemd.service.varlink")) as f:
            self.assertEqual(sd, f.read())
        for m in ("Ping()", "Reload()", "SetLogLevel(level: int)"):
            self.assertIn("method " + m, sd)

    def assert_events_well_formed(self, first, events, t0):
        """Numbered one by one after the first (which repeats the last number sent), timed
        now and in order, and each change told once: a status event never repeats the
        status line the event before it already told."""
        seqs = [e["sequence"] for e in [first] + events]
        self.assertEqual(seqs, list(range(seqs[0], seqs[0] + len(seqs))), "no gap, no repeat")
        mono = [e["monotonicUSec"] for e in [first] + events]
        self.assertEqual(mono, sorted(mono), "monotonicUSec goes forward")
        for e in [first] + events:
            self.assertLessEqual(abs(e["realtimeUSec"] / 1e6 - time.time()), 120, e)
            self.assertGreaterEqual(e["realtimeUSec"] / 1e6, t0 - 60, e)
            self.assertEqual(sorted(set(e) - {"cycleId", "phase", "domain", "message"}),
                             ["monotonicUSec", "realtimeUSec", "sequence", "type"], e)
            self.assertIn(e["type"], ("phase", "domain", "status", "cpus"), e)
        line = first.get("message")
        for e in events:
            if e["type"] in ("phase", "status"):
                self.assertIsNotNone(e.get("message"), e)
                if e["type"] == "status":
                    self.assertNotEqual(e["message"], line, "a change told twice: %s" % e)
                line = e["message"]

    def test_events_of_a_suspend_cycle(self):
        """Every event of a cycle: well formed, told once, and with the cycle's id (the
        phase event back to idle too), which GetStatus and lastCycle report as well."""
        self.start()
        t0 = time.time()
        sub = VarlinkConn(self.sock, 20)
        self.addCleanup(sub.close)
        sub.send(IFACE + ".Subscribe", {}, more=True)
        first = sub.recv()["parameters"]["event"]
        self.mock.prepare_for_sleep(True)
        events = []
        while not (events and events[-1]["type"] == "phase" and events[-1]["phase"] == "ready"):
            events.append(sub.recv(20)["parameters"]["event"])
        st = self.ok("GetStatus")["status"]
        self.assertRegex(st["cycleId"], HEX32)
        self.mock.prepare_for_sleep(False)
        while not (events[-1]["type"] == "phase" and events[-1]["phase"] == "idle"):
            events.append(sub.recv(20)["parameters"]["event"])
        self.assert_events_well_formed(first, events, t0)
        self.assertIsNone(first.get("cycleId"), "idle before the cycle: no cycle")
        self.assertEqual({e.get("cycleId") for e in events}, {st["cycleId"]},
                         [e for e in events if e.get("cycleId") != st["cycleId"]])
        self.assertEqual(st["cycleId"], self.ok("GetStatus")["status"]["lastCycle"]["id"])
        self.assertIsNone(self.ok("GetStatus")["status"]["cycleId"], "the cycle is over")
        # a second subscriber starts with the number of the last event sent before it,
        # which the first one has seen (or is about to: events after the cycle's end)
        with VarlinkConn(self.sock, 20) as late:
            late.send(IFACE + ".Subscribe", {}, more=True)
            start = late.recv()["parameters"]["event"]["sequence"]
            self.assertGreaterEqual(start, events[-1]["sequence"])
            seq = events[-1]["sequence"]
            while seq < start:
                e = sub.recv(10)["parameters"]["event"]
                self.assertEqual(e["sequence"], seq + 1, e)
                seq = e["sequence"]
            self.assertEqual(seq, start)

    def test_idl_idioms(self):
        """systemd's habits: closed sets are enums, times integer µs named ...USec, the
        standard PermissionDenied, and every event type the daemon sends is declared."""
        with open(IDL_PATH) as f:
            idl = f.read()
        code = "\n".join(l.split("#")[0] for l in idl.splitlines())
        self.assertNotIn("float", code, "times are integer microseconds")
        self.assertNotRegex(code, r"\w+(?<!U)[Ss]ec\s*:", "durations are named ...USec")
        self.assertNotIn("error PermissionDenied", code, "org.varlink.service.PermissionDenied is used")
        for name in ("Phase", "Step", "Action", "Verdict", "DomainKind", "DomainState", "KernelPolicy",
                     "MemSleep", "EventType"):
            self.assertRegex(code, r"(?m)^type %s \(" % name)
        for field in ("kind: DomainKind", "state: DomainState", "kernelPolicy: ?KernelPolicy",
                      "memSleep: ?MemSleep", "step: ?Step", "step: Step", "type: EventType",
                      "operation: Step", "steps: []Step"):
            self.assertIn(field, code)
        event_types = re.search(r"type EventType \(([^)]*)\)", code).group(1).replace(" ", "").split(",")
        daemon_src = ""
        for name in os.listdir(os.path.join(SOURCE_ROOT, "daemon")):
            if name.endswith(".c"):
                with open(os.path.join(SOURCE_ROOT, "daemon", name)) as f:
                    daemon_src += f.read()
        sent = set(re.findall(r'event_(?:new|stamped)\(m, "(\w+)"', daemon_src))
        self.assertTrue(sent)
        self.assertEqual(sent, set(event_types), "every event type sent is declared, and every declared one sent")

    def test_set_log_level_and_ping(self):
        d = self.start()
        self.assertEqual(params(vcall(self.sock, "io.systemd.service.Ping")), {})
        self.assertEqual(params(vcall(self.sock, "io.systemd.service.SetLogLevel", {"level": 5})), {})
        self.assertEqual(self.ok("GetStatus")["status"]["logLevel"], 5)
        d.wait_log(r"SetLogLevel\(5\) from the control socket: log level 7 -> 5", 5)
        self.assertEqual(params(vcall(self.sock, "io.systemd.service.SetLogLevel", {"level": 7})), {})
        d.wait_log(r"log level 5 -> 7", 5)
        for bad in ({"level": 8}, {"level": -1}, {"level": "7"}, {"level": 7.0}, {"level": None}, {},
                    {"level": 7, "target": "journal"}, {"level": 2 ** 40}):
            with self.subTest(params=bad):
                err = vcall(self.sock, "io.systemd.service.SetLogLevel", bad)
                self.assertEqual(err.get("error"), "org.varlink.service.InvalidParameter", err)
                self.assertEqual(err["parameters"]["parameter"], "target" if "target" in bad else "level")
        self.assertEqual(self.ok("GetStatus")["status"]["logLevel"], 7, "a refused call changes nothing")
        self.assertEqual(params(vcall(self.sock, "io.systemd.service.SetLogLevel", {"level": 3})), {})
        self.assertEqual(self.ok("GetStatus")["status"]["logLevel"], 3)
        # io.systemd.service.Reload is Reload
        d.write_config(control_config(ShutdownTimeoutSec="3s") + "NoSuchKey=1\n")
        err = vcall(self.sock, "io.systemd.service.Reload")
        self.assertEqual(err.get("error"), IFACE + ".InvalidConfiguration", err)


    def test_systemd_varlinkctl(self):
        """A second implementation reads the interface: systemd's IDL parser accepts both
        IDLs, and varlinkctl calls, streams and sets the log level."""
        vctl = varlinkctl()
        if not vctl:
            self.skipTest("no varlinkctl (systemd >= 255; or set TDSLEEP_VARLINKCTL)")

        def run(*args, check=True):
            r = subprocess.run(vctl + list(args), capture_output=True, text=True, timeout=30)
            if check and r.returncode != 0:
                self.fail("varlinkctl %s: exit %d: %s" % (" ".join(args), r.returncode, r.stderr))
            return r
        for idl in (IDL_PATH, os.path.join(SOURCE_ROOT, "daemon", "io.systemd.service.varlink")):
            run("validate-idl", idl)
        self.start()
        self.assertIn("URL: " + params(vcall(self.sock, "org.varlink.service.GetInfo"))["url"],
                      run("info", self.sock).stdout)
        self.assertIn("type EventType", run("introspect", self.sock, IFACE).stdout)
        plan = json.loads(run("call", "--json=short", self.sock, IFACE + ".Plan",
                              '{"operation":"hybrid_sleep"}').stdout)
        self.assertEqual(plan["steps"], ["hybrid_sleep"])
        r = run("call", self.sock, IFACE + ".Drain", '{"timeoutUSec":1.5}', check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("org.varlink.service.InvalidParameter", r.stderr)
        run("call", self.sock, "io.systemd.service.SetLogLevel", '{"level":5}')
        self.assertEqual(self.ok("GetStatus")["status"]["logLevel"], 5)
        sub = subprocess.Popen(vctl + ["call", "--more", "--json=short", self.sock, IFACE + ".Subscribe", "{}"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

        def next_event():
            line = sub.stdout.readline()
            if not line:
                self.fail("varlinkctl call --more Subscribe ended: %s" % sub.communicate(timeout=10)[1])
            return json.loads(line.strip("\x1e \n"))["event"]     # --more: JSON-SEQ (RFC 7464)
        try:
            self.assertEqual(next_event()["phase"], "idle")
            self.mock.prepare_for_sleep(True)
            self.wait_phase("ready")
            self.mock.prepare_for_sleep(False)
            self.wait_phase("idle")
            events = []
            while not (events and events[-1]["type"] == "phase" and events[-1]["phase"] == "idle"):
                events.append(next_event())
        finally:
            sub.terminate()
            sub.communicate(timeout=10)
        self.assertEqual([e["phase"] for e in events if e["type"] == "phase"],
                         ["preparing", "ready", "resuming", "idle"])
        self.assertEqual(len({e["cycleId"] for e in events}), 1)


if __name__ == "__main__":
    unittest.main(verbosity=2)
