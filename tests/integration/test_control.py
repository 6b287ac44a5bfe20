# SPDX-License-Identifier: LGPL-2.1-or-later
"""The control socket (io.tdsleep.Manager over Varlink) against the running daemon:
every method as root, one fresh daemon per test. Bad input is test_control_bad_input;
the shared client and ControlCase are in controltest.py.

Domains come from libvirt's test driver (instant shutdown), so the module stays fast."""
import re
import unittest

from tdsleeptest import Timeout, log, now, wait_until
from controltest import IFACE, IDL_PATH, HEX32, VarlinkConn, vcall, control_config, params, ControlCase


class ControlMethods(ControlCase):

    def test_get_status(self):
        self.start()
        st = self.ok("GetStatus")["status"]
        self.assertEqual(st["phase"], "idle")
        self.assertIsNone(st["step"])
        self.assertFalse(st["awaitingHook"])
        self.assertEqual(st["tdsRunning"], len(self.tds))
        self.assertTrue(st["delayLock"])
        self.assertIsNone(st["blockLock"])
        self.assertIsNone(st["hold"])
        self.assertTrue(st["libvirtConnected"])
        self.assertTrue(st["logindPresent"])
        self.assertEqual(st["memSleep"], "deep")
        self.assertEqual(st["inhibitDelayMaxUSec"], 120000000)
        self.assertNotIn("inhibitDelayMaxSec", st)
        self.assertIsNone(st["cycleId"])
        # debug: the tests start tdsleepd with TDSLEEP_LOG_LEVEL=debug (else info, 6)
        self.assertEqual(st["logLevel"], 7)
        self.assertTrue(st["canCreateTDs"])
        self.assertEqual(st["packages"], [{"id": 0, "cpus": [0, 1], "online": [0, 1]}])
        self.assertEqual(st["cycle"], [])
        self.assertIn(st["kernelPolicy"], ("exclusive", "runtime", "none"))
        self.assertEqual(st["libvirtUri"], self.lv.test_uri)

    def test_list_domains(self):
        self.start()
        doms = {d["name"]: d for d in self.ok("ListDomains")["domains"]}
        for n in self.tds:
            self.assertIn(n, doms)
            self.assertTrue(doms[n]["protected"], n)
            self.assertTrue(doms[n]["active"])
            self.assertTrue(doms[n]["persistent"])
            self.assertEqual(doms[n]["action"], "stop")
            self.assertEqual(doms[n]["shutdownTimeoutUSec"], 10000000)
            self.assertNotIn("policyError", doms[n])
            self.assertRegex(doms[n]["uuid"], r"^[0-9a-f-]{36}$")
        self.assertFalse(doms[self.vm]["protected"], "an ordinary VM is not protected")
        self.assertEqual(doms[self.vm]["kind"], "none")

    def test_plan(self):
        self.start()
        # (asked for, the enum in the reply, its steps): systemd's dashed spelling is
        # accepted too, the reply always has the enum
        expect = [("suspend", "suspend", ["suspend"]), ("hibernate", "hibernate", ["hibernate"]),
                  ("hybrid_sleep", "hybrid_sleep", ["hybrid_sleep"]),
                  ("hybrid-sleep", "hybrid_sleep", ["hybrid_sleep"]),
                  ("suspend_then_hibernate", "suspend_then_hibernate", ["suspend", "hibernate"]),
                  ("suspend-then-hibernate", "suspend_then_hibernate", ["suspend", "hibernate"]),
                  ("drain", "drain", ["drain"])]
        for op, enum, steps in expect:
            with self.subTest(operation=op):
                p = self.ok("Plan", {"operation": op})
                self.assertEqual(p["operation"], enum)
                self.assertEqual(p["steps"], steps)
                self.assertFalse(p["keepsTDs"], "deep is selected: %s loses TDs" % op)
                self.assertEqual(sorted(d["name"] for d in p["domains"]), sorted(self.tds))
                self.assertEqual([d["verdict"] for d in p["domains"]], ["stop"] * len(self.tds))
                self.assertNotIn("verdicts", p, "the verdict is in each domain")
        for bad in ("nap", "unknown", "Suspend", "hybrid_sleep ", "suspend_then-hibernate", ""):
            with self.subTest(operation=bad):
                err = self.call("Plan", {"operation": bad})
                self.assertEqual(err.get("error"), "org.varlink.service.InvalidParameter")
                self.assertEqual(err["parameters"], {"parameter": "operation"})
        # no side effects
        self.assertEqual(self.states(self.tds + [self.vm]), {n: "running" for n in self.tds + [self.vm]})
        self.assertEqual(self.ok("GetStatus")["status"]["phase"], "idle")

    def test_plan_s2idle_keeps_tds(self):
        self.sysfs.write("sys/power/mem_sleep", "[s2idle] deep\n")
        self.start()
        p = self.ok("Plan", {"operation": "suspend"})
        self.assertTrue(p["keepsTDs"])
        self.assertEqual(sorted(d["name"] for d in p["domains"]), sorted(self.tds))
        self.assertEqual([d["verdict"] for d in p["domains"]], ["keep"] * len(self.tds))

    def test_prepare_suspend_stops_tds_then_resume_starts_them(self):
        self.start()
        t0 = now()
        with VarlinkConn(self.sock, 20) as c:
            out = c.call(IFACE + ".Prepare", {"operation": "suspend", "step": "suspend"}, more=True, timeout=20)
            at_reply = self.states(self.tds + [self.vm])
        final = params(out[-1])
        self.assertFalse(out[-1].get("continues"))
        self.assertEqual(final["phase"], "ready")
        self.assertEqual((final["stopped"], final["leftRunning"], final["failed"]), (len(self.tds), 0, 0))
        self.assertEqual({n: at_reply[n] for n in self.tds}, {n: "shutoff" for n in self.tds},
                         "Prepare must return only once every TD is stopped")
        self.assertEqual(at_reply[self.vm], "running")
        events = [m["parameters"]["event"] for m in out[:-1]]
        self.assertTrue(events and all(m.get("continues") for m in out[:-1]),
                        "with more, progress events come before the final reply: %s" % out)
        self.assertIn(("phase", "ready"), [(e["type"], e.get("phase")) for e in events])
        stopped = sorted(e["domain"]["name"] for e in events
                         if e["type"] == "domain" and e["domain"]["state"] == "stopped")
        self.assertEqual(stopped, sorted(self.tds))
        self.d.wait_log(r"Prepare\(suspend, suspend\) from the control socket", 5)
        st = self.ok("GetStatus")["status"]
        self.assertEqual((st["phase"], st["step"], st["tdsRunning"]), ("ready", "suspend", 0))
        self.assertEqual(sorted(x["name"] for x in st["cycle"]), sorted(self.tds))
        self.assertEqual({x["state"] for x in st["cycle"]}, {"stopped"})
        # A second Prepare for the same step answers at once.
        self.assertEqual(self.ok("Prepare", {"operation": "suspend"})["phase"], "ready")

        t1 = now()
        self.assertIn(self.ok("Resume")["phase"], ("resuming", "idle"))
        for n in self.tds:
            self.events.wait(n, "STARTED", 10, since=t1)
        self.wait_phase("idle")
        self.assertEqual(self.states(self.tds + [self.vm]), {n: "running" for n in self.tds + [self.vm]})
        self.assertEqual(self.events.select(self.vm, since=t0), [])

    def test_resume_takes_the_delay_lock_again(self):
        """Prepare + Resume over the socket with no sleep in between (an operator trying
        `tdsleepctl prepare suspend; tdsleepctl resume`): the next sleep must still wait
        for tdsleepd, so its delay lock must be back."""
        self.start()
        self.assertEqual(self.ok("Prepare", {"operation": "suspend"})["phase"], "ready")
        self.assertFalse(self.ok("GetStatus")["status"]["delayLock"])
        self.ok("Resume")
        self.wait_phase("idle")
        try:
            self.wait_lock(3)
        except Timeout:
            st = self.ok("GetStatus")["status"]
            self.fail("after Resume, idle with %d TDs running and no delay lock (delayLock=%s, "
                      "logind inhibitors %s): the next sleep would not wait for the TDs" %
                      (st["tdsRunning"], st["delayLock"], self.mock.inhibitors()))

    def test_prepare_without_more_and_bad_step(self):
        self.start()
        r = self.ok("Prepare", {"operation": "suspend-then-hibernate", "step": "suspend"})
        self.assertEqual((r["phase"], r["stopped"]), ("ready", len(self.tds)))
        self.assertEqual(self.states(self.tds), {n: "shutoff" for n in self.tds})
        self.ok("Resume")
        self.wait_phase("idle")
        for op, step, bad in (("nap", None, "operation"), ("suspend", "nap", "step"),
                              ("drain", None, "operation"), ("unknown", None, "operation"),
                              ("suspend", "drain", "step"), ("suspend", "unknown", "step"),
                              ("hybrid_Sleep", None, "operation")):
            with self.subTest(operation=op, step=step):
                p = {"operation": op}
                if step:
                    p["step"] = step
                err = self.call("Prepare", p)
                self.assertEqual((err.get("error"), err.get("parameters")),
                                 ("org.varlink.service.InvalidParameter", {"parameter": bad}))
        self.assertEqual(self.ok("GetStatus")["status"]["phase"], "idle")

    def test_drain_and_restore(self):
        self.start()
        t0 = now()
        r = self.ok("Drain", {"timeoutUSec": 5000000})
        self.assertEqual((r["stopped"], r["leftRunning"], r["failed"]), (len(self.tds), 0, 0))
        self.assertNotIn("phase", r)
        self.assertEqual(self.states(self.tds + [self.vm]),
                         dict({n: "shutoff" for n in self.tds}, **{self.vm: "running"}))
        st = self.ok("GetStatus")["status"]
        self.assertEqual((st["phase"], st["step"]), ("ready", "drain"))
        self.assertRegex(st["cycleId"], HEX32, "a drain is a cycle in progress")
        self.assertTrue(st["delayLock"], "a drain is no sleep: the delay lock stays")
        busy = self.call("Drain", {})
        self.assertEqual((busy.get("error"), busy.get("parameters")), (IFACE + ".Busy", {"phase": "ready"}))
        # Resume does not end a drain.
        self.ok("Resume")
        self.assertEqual(self.states(self.tds), {n: "shutoff" for n in self.tds})
        t1 = now()
        self.assertIn(self.ok("Restore")["phase"], ("resuming", "idle"))
        for n in self.tds:
            self.events.wait(n, "STARTED", 10, since=t1)
        self.wait_phase("idle")
        self.assertEqual(self.events.select(self.vm, since=t0), [])
        # Nothing drained: Restore is a no-op.
        self.assertEqual(self.ok("Restore")["phase"], "idle")
        for bad in (-1, 3600000001, 5.0, 1e9, "5", True, [5]):
            with self.subTest(timeoutUSec=bad):
                err = self.call("Drain", {"timeoutUSec": bad})
                self.assertEqual((err.get("error"), err.get("parameters")),
                                 ("org.varlink.service.InvalidParameter", {"parameter": "timeoutUSec"}))
        err = self.call("Drain", {"timeout": 5})
        self.assertEqual(err.get("parameters"), {"parameter": "timeout"}, "the old name is gone")
        self.assertEqual(self.ok("GetStatus")["status"]["phase"], "idle")

    def test_drain_while_libvirtd_is_away(self):
        self.start()
        self.lv.wait_client(self.d.pid, 10)
        self.lv.kill9()
        # the daemon notices the closed connection: STATUS says so
        self.d.wait_status(lambda st: "libvirt disconnected" in st, 10, "STATUS libvirt disconnected")
        r = self.call("Drain", {})
        self.assertEqual(r.get("error"), IFACE + ".LibvirtUnavailable")
        self.assertIn("uri", r.get("parameters", {}))
        self.assertEqual(self.ok("GetStatus")["status"]["phase"], "idle", "nothing started")
        self.lv.restart()   # the test driver's domains died with it: only the answer changes
        self.lv.wait_client(self.d.pid, 30)
        self.assertEqual(params(self.call("Drain", {}))["stopped"], 0)
        self.ok("Restore")

    def test_hold_and_release(self):
        self.start()
        reason = "firmware update ticket #4711"

        def block_locks():
            return [i for i in self.mock.inhibitors() if i[1] == "tdsleepd" and i[3] == "block"]
        self.assertEqual(block_locks(), [])
        self.assertEqual(self.ok("Hold", {"reason": reason}), {"untilUSec": None, "stored": True})
        locks = wait_until(block_locks, 5, "the block lock of Hold()")
        self.assertEqual(len(locks), 1)
        self.assertIn(reason, locks[0][2])
        self.assertEqual(locks[0][0], "sleep")
        st = wait_until(lambda: (lambda s: s if s["blockLock"] else None)(self.ok("GetStatus")["status"]),
                        5, "blockLock in GetStatus")
        self.assertEqual(st["hold"], reason)
        self.assertIn(reason, st["blockLock"])
        self.assertEqual(self.ok("Release"), {})
        wait_until(lambda: not block_locks(), 5, "the block lock to go")
        st = self.ok("GetStatus")["status"]
        self.assertIsNone(st["hold"])
        self.assertIsNone(st["blockLock"])
        self.assertEqual(self.ok("Release"), {}, "Release without a hold is fine")
        for bad in ("", "x" * 513):
            err = self.call("Hold", {"reason": bad})
            self.assertEqual(err.get("parameters"), {"parameter": "reason"}, len(bad))
        self.assertEqual(block_locks(), [])

    def test_reload_good_and_broken(self):
        d = self.start()
        timeouts = lambda: {x["name"]: x["shutdownTimeoutUSec"] for x in self.ok("ListDomains")["domains"]
                            if x["name"] in self.tds}
        self.assertEqual(set(timeouts().values()), {10000000})
        d.write_config(control_config(ShutdownTimeoutSec="7s"))
        self.assertEqual(self.ok("Reload"), {})
        self.assertEqual(set(timeouts().values()), {7000000})
        d.write_config(control_config(ShutdownTimeoutSec="3s") + "NoSuchKey=1\n")
        with open(d.config) as f:
            bad_line = len(f.read().splitlines())
        err = self.call("Reload")
        self.assertEqual(err.get("error"), IFACE + ".InvalidConfiguration", err)
        self.assertRegex(err["parameters"]["message"],
                         r"^%s:%d: " % (re.escape(d.config), bad_line))
        self.assertEqual(set(timeouts().values()), {7000000}, "the old configuration must be kept")
        d.write_config(control_config(ShutdownTimeoutSec="nonsense"))
        err = self.call("Reload")
        self.assertEqual(err.get("error"), IFACE + ".InvalidConfiguration", err)
        self.assertRegex(err["parameters"]["message"], r"^%s:\d+: " % re.escape(d.config))
        self.assertEqual(set(timeouts().values()), {7000000})
        self.assertTrue(d.alive())

    def test_subscribe_streams_a_suspend_cycle(self):
        self.start()
        sub = VarlinkConn(self.sock, 20)
        self.addCleanup(sub.close)
        sub.send(IFACE + ".Subscribe", {}, more=True)
        first = sub.recv()
        self.assertTrue(first.get("continues"), first)
        self.assertEqual(first["parameters"]["event"]["type"], "phase")
        self.assertEqual(first["parameters"]["event"]["phase"], "idle")
        self.mock.prepare_for_sleep(True)
        events = []
        while True:
            m = sub.recv(20)
            self.assertIsNotNone(m, "the subscription ended")
            self.assertTrue(m.get("continues"), m)
            e = m["parameters"]["event"]
            events.append(e)
            if e["type"] == "phase" and e["phase"] == "ready":
                break
        self.assertEqual(self.states(self.tds), {n: "shutoff" for n in self.tds})
        self.mock.prepare_for_sleep(False)
        while True:
            e = sub.recv(20)["parameters"]["event"]
            events.append(e)
            if e["type"] == "phase" and e["phase"] == "idle":
                break
        log("Subscribe: %d events in a suspend cycle of %d TDs" % (len(events), len(self.tds)))
        phases = [e["phase"] for e in events if e["type"] == "phase"]
        self.assertEqual(phases, ["preparing", "ready", "resuming", "idle"])
        for n in self.tds:
            states = [e["domain"]["state"] for e in events if e["type"] == "domain" and e["domain"]["name"] == n]
            self.assertIn("stopped", states, n)
            self.assertIn("started", states, n)
            self.assertLess(states.index("stopped"), states.index("started"), (n, states))
        self.assertNotIn(self.vm, [e["domain"]["name"] for e in events if e["type"] == "domain"])
        self.assertTrue([e for e in events if e["type"] == "status" and e.get("message")],
                        "status events expected")
        # Subscribe without more is refused
        err = self.call("Subscribe")
        self.assertEqual(err.get("error"), "org.varlink.service.ExpectedMore")

    def test_subscriber_sees_only_real_events(self):
        """A second subscriber joining is no phase change for the first one."""
        self.start()
        a = VarlinkConn(self.sock)
        self.addCleanup(a.close)
        a.send(IFACE + ".Subscribe", {}, more=True)
        self.assertEqual(a.recv()["parameters"]["event"]["phase"], "idle")
        b = VarlinkConn(self.sock)
        self.addCleanup(b.close)
        b.send(IFACE + ".Subscribe", {}, more=True)
        self.assertEqual(b.recv()["parameters"]["event"]["phase"], "idle")
        self.ok("GetStatus")   # b's subscription is certainly processed by now
        try:
            extra = a.recv(0.5)
        except Timeout:
            extra = None
        self.assertIsNone(extra, "subscriber A got B's initial event")

    def test_service_info_and_interface_description(self):
        self.start()
        info = params(vcall(self.sock, "org.varlink.service.GetInfo"))
        self.assertEqual(info["product"], "tdsleepd")
        self.assertEqual(info["vendor"], "tdsleep")
        self.assertIn(IFACE, info["interfaces"])
        self.assertIn("org.varlink.service", info["interfaces"])
        self.assertTrue(info["version"])
        desc = params(vcall(self.sock, "org.varlink.service.GetInterfaceDescription",
                            {"interface": IFACE}))["description"]
        with open(IDL_PATH) as f:
            self.assertEqual(desc, f.read(), "GetInterfaceDescription must return the IDL file")
        for m in ("GetStatus", "ListDomains", "Plan", "Prepare", "Resume", "Drain", "Restore",
                  "Hold", "Release", "Reload", "Subscribe"):
            self.assertRegex(desc, r"(?m)^method %s\(" % m)
        err = vcall(self.sock, "org.varlink.service.GetInterfaceDescription", {"interface": "com.example.Nope"})
        self.assertEqual(err.get("error"), "org.varlink.service.InterfaceNotFound")
        svc = params(vcall(self.sock, "org.varlink.service.GetInterfaceDescription",
                           {"interface": "org.varlink.service"}))["description"]
        self.assertIn("method GetInfo", svc)

# ----------------------------------------------------------------------------------
# Bad input, all against one daemon; its RSS is compared before and after


if __name__ == "__main__":
    unittest.main(verbosity=2)
