# SPDX-License-Identifier: LGPL-2.1-or-later
"""The control socket against one long-running daemon given bad input (malformed and
oversized messages, unknown methods, wrong parameters, 500 clients, a subscriber that
never reads, a client gone mid-call, callers that are not root) with its RSS measured.

Domains come from libvirt's test driver (instant shutdown), so the module stays fast.
The socket is bound 0660 root:nogroup (SocketGroup=nogroup): `nobody` may read, not
change; a user outside the group cannot even connect."""
import json
import os
import select
import socket
import time
import unittest

from tdsleeptest import (TDSleepTestCase, Daemon, FakeSysfs, LogindMock, log, make_tempdir, now,
                         testdrv_domain_xml, wait_until)
from controltest import (IFACE, NOBODY_UID, NOGROUP_GID, OTHER_GID, MESSAGE_MAX, OUTPUT_MAX, CHANGING,
                         SERVICE_CHANGING, PERMISSION_DENIED, VarlinkConn, vcall, sanitized, rss_kib, call_as,
                         open_for_others, control_config, is_phase, params)


class ControlBadInput(TDSleepTestCase):
    """Tests run in name order on one daemon (test_99 checks what is left)."""

    N_TD = 40          # with long names: a Drain/Restore cycle makes ~100 KiB of events

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.dir = make_tempdir("ctl")
        cls.addClassCleanup(__import__("shutil").rmtree, cls.dir, True)
        open_for_others(cls.base, cls.dir)
        cls.mock = LogindMock(cls.bus, os.path.join(cls.dir, "logind-mock.log")).start()
        cls.addClassCleanup(cls.mock.stop)
        cls.sysfs = FakeSysfs(os.path.join(cls.dir, "root"))
        pad = "p" * 440
        cls.tds = ["bad-td%02d-%s" % (i, pad) for i in range(cls.N_TD)]
        cls.vm = "bad-vm"
        cls.addClassCleanup(cls._undefine)
        for n in cls.tds + [cls.vm]:
            cls.lv.test.defineXML(testdrv_domain_xml(n, td=n != cls.vm)).create()
        cls.d = Daemon(cls.dir, cls.lv.test_uri, cls.bus, cls.sysfs.root)
        cls.d.write_config(control_config())
        cls.addClassCleanup(cls.d.close)
        cls.addClassCleanup(cls.d.stop)
        cls.d.start()
        cls.sock = cls.d.ctl_socket
        wait_until(lambda: cls.mock.daemon_locks(), 10, "tdsleepd's delay lock")
        # Warm up (first replies, a subscriber, a cycle) before the baseline.
        for _ in range(3):
            vcall(cls.sock, IFACE + ".GetStatus")
            vcall(cls.sock, IFACE + ".ListDomains")
        cls._cycle()
        cls.rss_start = rss_kib(cls.d.pid)
        cls.numbers = {"rss_start_kib": cls.rss_start}
        log("BadInput: daemon pid %d, RSS at start %d kB" % (cls.d.pid, cls.rss_start))

    @classmethod
    def _undefine(cls):
        import libvirt
        for n in cls.tds + [cls.vm]:
            try:
                d = cls.lv.test.lookupByName(n)
                if d.isActive():
                    d.destroy()
                d.undefine()
            except libvirt.libvirtError:
                pass

    @classmethod
    def _cycle(cls, conn=None, watcher=None):
        """One Drain + Restore; waits for idle (on watcher's stream, else by polling)."""
        c = conn or VarlinkConn(cls.sock, 20)
        try:
            r = c.call(IFACE + ".Drain", {"timeoutUSec": 5000000}, timeout=20)[-1]
            assert "error" not in r, r
            r = c.call(IFACE + ".Restore", timeout=20)[-1]
            assert "error" not in r, r
        finally:
            if conn is None:
                c.close()
        if watcher is not None:
            while True:
                m = watcher.recv(20)
                assert m is not None, "the reading subscriber was dropped"
                if is_phase(m["parameters"]["event"], "idle"):
                    return
        wait_until(lambda: vcall(cls.sock, IFACE + ".GetStatus")["parameters"]["status"]["phase"] == "idle",
                   20, "phase idle")

    def setUp(self):
        self.t_start = now()
        log("===== %s" % self.id())
        self.log_mark = len(self.d.stderr())

    def tearDown(self):
        failed = self._outcome is not None and not self._outcome.success
        if failed:
            __import__("sys").stderr.write("\n--- tdsleepd log during this test ---\n%s\n" %
                                           self.d.stderr()[self.log_mark:][-6000:])
        log("===== %s done in %.1fs (RSS %d kB)" % (self.id(), now() - self.t_start,
                                                    rss_kib(self.d.pid) if self.d.alive() else -1))

    def assertServes(self):
        self.assertTrue(self.d.alive(), "tdsleepd died:\n" + self.d.stderr()[-3000:])
        st = params(vcall(self.sock, IFACE + ".GetStatus"))["status"]
        self.assertIn(st["phase"], ("idle", "ready", "preparing", "resuming"))
        return st

    def serves_again(self):
        try:
            return "error" not in vcall(self.sock, IFACE + ".GetStatus")
        except AssertionError:      # closed: still at the limit
            return False

    def new_log(self):
        return self.d.stderr()[self.log_mark:]

    def call(self, method, p=None):
        return vcall(self.sock, IFACE + "." + method, p)

    def test_01_malformed_json(self):
        for junk in (b"{not json", b'{"method": "io.tdsleep.Manager.GetStatus"', b"[1, 2, 3]", b'"x"',
                     b"{}", b'{"method": 42}', b'{"method": "io.tdsleep.Manager.GetStatus", "parameters": []}',
                     b"\xff\xfe\x00", b"\0"):
            with self.subTest(junk=junk):
                with VarlinkConn(self.sock) as c:
                    c.send_raw(junk if junk.endswith(b"\0") else junk + b"\0")
                    msgs = c.wait_eof(5)
                    # an answer is optional; if one comes it is an error, and the server closes
                    for m in msgs:
                        self.assertIn("error", m, m)
                    log("malformed %r -> %s, closed" % (junk, msgs))
                self.assertServes()
        # A good call on the same connection after a bad one is not served.
        with VarlinkConn(self.sock) as c:
            c.send_raw(b"{oops\0" + json.dumps({"method": IFACE + ".GetStatus"}).encode() + b"\0")
            msgs = c.wait_eof(5)
            self.assertFalse([m for m in msgs if "error" not in m], msgs)
        self.assertServes()

    def test_02_no_nul_then_close(self):
        body = json.dumps({"method": IFACE + ".Hold", "parameters": {"reason": "half a message"}}).encode()
        with VarlinkConn(self.sock) as c:
            c.send_raw(body)
            c.sock.shutdown(socket.SHUT_WR)
            self.assertEqual(c.wait_eof(5), [], "an unterminated message must not be answered")
        with VarlinkConn(self.sock) as c:
            c.send_raw(body)          # and a plain close
        self.assertServes()
        st = self.assertServes()
        self.assertIsNone(st["hold"], "an unterminated message must not be executed")
        self.assertNotIn("half a message", self.new_log())

    def test_03_message_over_the_limit(self):
        # Just below the limit: answered (the extra field is refused by name).
        near = {"method": IFACE + ".GetStatus", "parameters": {"pad": ""}}
        near["parameters"]["pad"] = "y" * (MESSAGE_MAX - len(json.dumps(near)) - 100)
        with VarlinkConn(self.sock) as c:
            r = c.call(near["method"], near["parameters"])
            self.assertEqual(r[-1].get("parameters"), {"parameter": "pad"})
        # Over the limit with its NUL: refused and closed.
        over = {"method": IFACE + ".GetStatus", "parameters": {"pad": "z" * (MESSAGE_MAX + 1024)}}
        with VarlinkConn(self.sock) as c:
            c.send_raw(json.dumps(over).encode() + b"\0")
            msgs = c.wait_eof(5)
            self.assertFalse([m for m in msgs if "error" not in m], msgs)
            log("oversized message (%d bytes) -> %s, closed" % (len(json.dumps(over)) + 1, msgs))
        # Over the limit and no NUL at all (the server must not buffer without end).
        with VarlinkConn(self.sock) as c:
            try:
                c.send_raw(b"{" + b" " * (4 * MESSAGE_MAX))
            except (BrokenPipeError, ConnectionResetError):
                pass
            msgs = c.wait_eof(5)
            self.assertFalse([m for m in msgs if "error" not in m], msgs)
        # Mid-call (a Subscribe running), a huge next message also closes the connection.
        with VarlinkConn(self.sock) as c:
            c.send(IFACE + ".Subscribe", {}, more=True)
            self.assertTrue(c.recv()["continues"])
            try:
                c.send_raw(b"x" * (2 * MESSAGE_MAX))
            except (BrokenPipeError, ConnectionResetError):
                pass
            c.wait_eof(5)
        self.assertServes()

    def test_04_unknown_method_and_interface(self):
        r = self.call("Sleepwalk")
        self.assertEqual(r.get("error"), "org.varlink.service.MethodNotFound", r)
        self.assertEqual(r.get("parameters"), {"method": IFACE + ".Sleepwalk"})
        r = vcall(self.sock, "com.example.Nothing.GetStatus")
        self.assertEqual(r.get("error"), "org.varlink.service.InterfaceNotFound", r)
        self.assertEqual(r.get("parameters"), {"interface": "com.example.Nothing"})
        r = vcall(self.sock, "org.varlink.service.Nope")
        self.assertEqual(r.get("error"), "org.varlink.service.MethodNotFound", r)
        self.assertServes()

    def test_05_wrong_types_and_extra_parameters(self):
        cases = [
            ("Plan", {"operation": 5}, "operation"),
            ("Plan", {"operation": None}, "operation"),
            ("Plan", {}, "operation"),
            ("Plan", {"operation": "suspend", "extra": 1}, "extra"),
            ("Prepare", {"operation": ["suspend"]}, "operation"),
            ("Prepare", {"operation": "suspend", "step": 3}, "step"),
            ("Prepare", {"operation": "suspend", "force": True}, "force"),
            ("Plan", {"operation": "hybrid_sleep_"}, "operation"),
            ("Prepare", {"operation": "Hibernate"}, "operation"),
            ("Drain", {"timeoutUSec": "5"}, "timeoutUSec"),
            ("Drain", {"timeoutUSec": 1e9}, "timeoutUSec"),
            ("Drain", {"timeoutUSec": 2.5}, "timeoutUSec"),
            ("Drain", {"timeoutUSec": -5}, "timeoutUSec"),
            ("Drain", {"timeout": 5}, "timeout"),
            ("Drain", {"timeoutUSec": 5, "now": True}, "now"),
            ("Hold", {"reason": True}, "reason"),
            ("Hold", {"reason": {"a": 1}}, "reason"),
            ("Hold", {}, "reason"),
            ("GetStatus", {"verbose": True}, "verbose"),
            ("ListDomains", {"all": 1}, "all"),
            ("Resume", {"x": None}, "x"),
            ("Restore", {"x": 1}, "x"),
            ("Release", {"reason": "x"}, "reason"),
            ("Reload", {"path": "/etc/passwd"}, "path"),
            ("Subscribe", {"filter": "phase"}, "filter"),
        ]
        for method, p, field in cases:
            with self.subTest(method=method, params=p):
                with VarlinkConn(self.sock) as c:
                    r = c.call(IFACE + "." + method, p, more=method == "Subscribe")[-1]
                self.assertEqual(r.get("error"), "org.varlink.service.InvalidParameter", r)
                self.assertEqual(r.get("parameters"), {"parameter": field}, r)
        r = vcall(self.sock, "org.varlink.service.GetInterfaceDescription", {"interface": 1})
        self.assertEqual(r.get("error"), "org.varlink.service.InvalidParameter", r)
        st = self.assertServes()
        self.assertEqual((st["phase"], st["hold"]), ("idle", None), "nothing may have been done")
        self.assertEqual(self.states(self.tds[:3]), {n: "running" for n in self.tds[:3]})

    def test_06_500_clients_at_once(self):
        results = []
        for rnd in (1,):
            conns, refused_connect = [], 0
            for _ in range(500):
                try:
                    conns.append(VarlinkConn(self.sock, 5))
                except OSError:
                    refused_connect += 1
            for c in conns:
                try:
                    c.send(IFACE + ".GetStatus", {})
                except OSError:
                    pass
            served = closed = silent = 0
            end = time.monotonic() + 15
            pending = set(range(len(conns)))
            while pending and time.monotonic() < end:
                r, _, _ = select.select([conns[i].sock for i in pending], [], [], 1)
                for s in r:
                    i = next(i for i in pending if conns[i].sock is s)
                    c = conns[i]
                    c._fill(0)
                    if b"\0" in c.buf:
                        m = c.recv(0)
                        self.assertEqual(m["parameters"]["status"]["phase"], "idle")
                        served += 1
                        pending.discard(i)
                    elif c.eof:
                        closed += 1
                        pending.discard(i)
            silent = len(pending)
            rss_full = rss_kib(self.d.pid)
            # while all are held open, root still gets in
            with VarlinkConn(self.sock) as extra:
                try:
                    extra.send(IFACE + ".GetStatus", {})
                    extra_closed = extra.recv(5) is None
                except (BrokenPipeError, ConnectionResetError):
                    extra_closed = True
            for c in conns:
                c.close()
            results.append((served, closed, silent, refused_connect, rss_full))
            log("500 clients (round %d): %d served, %d closed by tdsleepd, %d unanswered, "
                "%d connect() failed; RSS with the connections open %d kB" %
                (rnd, served, closed, silent, refused_connect, rss_full))
            self.assertEqual(refused_connect, 0, "every client can connect (the listen backlog)")
            self.assertEqual(silent, 0, "every client is answered or closed")
            self.assertEqual(served, 500, "root's 500 connections are within the limit: all served")
            self.assertEqual(closed, 0)
            self.assertFalse(extra_closed, "a 501st root client is served too")
            # afterwards it serves again (the closes are seen asynchronously)
            wait_until(self.serves_again, 5, "GetStatus to be served again")
        rss = rss_kib(self.d.pid)
        self.numbers["rss_after_500_clients_kib"] = rss
        log("RSS after 500 clients: %d kB (start %d kB)" % (rss, self.rss_start))
        self.assertServes()

    def test_07_subscriber_that_never_reads(self):
        lazy = VarlinkConn(self.sock)
        self.addCleanup(lazy.close)
        lazy.send(IFACE + ".Subscribe", {}, more=True)
        reader = VarlinkConn(self.sock, 20)
        self.addCleanup(reader.close)
        reader.send(IFACE + ".Subscribe", {}, more=True)
        self.assertEqual(reader.recv()["parameters"]["event"]["type"], "phase")
        ctl = VarlinkConn(self.sock, 20)
        self.addCleanup(ctl.close)
        rss0 = rss_kib(self.d.pid)
        peak, cycles, t0 = rss0, 0, time.monotonic()
        received0 = reader.received
        while not lazy.peer_closed() and cycles < 150 and time.monotonic() - t0 < 25:
            self._cycle(ctl, reader)
            cycles += 1
            peak = max(peak, rss_kib(self.d.pid))
        per_cycle = (reader.received - received0) / max(cycles, 1)
        dropped = lazy.peer_closed()
        got = lazy.wait_eof(10) if dropped else []
        rss_after = rss_kib(self.d.pid)
        self.numbers.update(storm_cycles=cycles, storm_rss_peak_kib=peak, storm_rss_after_kib=rss_after)
        log("never-reading subscriber: %d Drain/Restore cycles (%.0f bytes of events each, %d events "
            "read by the lazy one before the drop), dropped=%s; RSS %d kB before, peak %d kB, "
            "%d kB after" % (cycles, per_cycle, len(got), dropped, rss0, peak, rss_after))
        self.assertTrue(dropped, "a subscriber that does not read must be dropped")
        self.assertRegex(self.new_log(), r"peer does not read, \d+ bytes queued; dropping it")
        if sanitized(self.d.pid):
            log("sanitizer build: RSS bounds not checked (its quarantine or shadow keeps memory)")
        elif os.environ.get("TDSLEEP_SKIP_RSS_BOUNDS"):
            log("RSS bounds not checked (%s): they are calibrated on Debian 12's glibc"
                % os.environ["TDSLEEP_SKIP_RSS_BOUNDS"])
        else:
            self.assertLess(peak - rss0, (OUTPUT_MAX // 1024) * 3,
                            "RSS must stay bounded while a subscriber does not read")
            self.assertLess(rss_after - self.rss_start, 2048,
                            "RSS back near the start after the drop (start %d kB, before the storm %d kB, "
                            "peak %d kB, after %d kB)" % (self.rss_start, rss0, peak, rss_after))
        # the reading subscriber is still there
        self.assertReaderStillServed(reader)
        self.assertServes()

    def assertReaderStillServed(self, reader):
        self.assertNotIn("error", self.call("Drain", {}))
        while not is_phase(reader.recv(10)["parameters"]["event"], "ready"):
            pass
        self.assertNotIn("error", self.call("Restore"))
        while not is_phase(reader.recv(10)["parameters"]["event"], "idle"):
            pass

    def test_08_client_gone_mid_prepare(self):
        # a) Gone right after sending Prepare.
        c = VarlinkConn(self.sock)
        c.send(IFACE + ".Prepare", {"operation": "suspend"}, more=True)
        c.close()
        wait_until(lambda: params(self.call("GetStatus"))["status"]["phase"] == "ready", 20, "ready")
        self.assertEqual(self.states(self.tds), {n: "shutoff" for n in self.tds})
        self.assertEqual(params(self.call("Resume"))["phase"], "resuming")
        wait_until(lambda: params(self.call("GetStatus"))["status"]["phase"] == "idle", 20, "idle")
        # b) Gone after the first progress event, with stops still going.
        c = VarlinkConn(self.sock)
        c.send(IFACE + ".Prepare", {"operation": "hibernate"}, more=True)
        first = c.recv(10)
        c.close()
        self.assertTrue(first.get("continues"), first)
        st = wait_until(lambda: (lambda s: s if s["phase"] == "ready" else None)(
            params(self.call("GetStatus"))["status"]), 20, "ready")
        self.assertEqual(st["step"], "hibernate")
        # a Prepare from someone else for the same step is answered
        r = params(self.call("Prepare", {"operation": "hibernate"}))
        self.assertEqual((r["phase"], r["stopped"]), ("ready", self.N_TD))
        # c) A Drain caller gone mid-call, on top of a client gone mid-Resume.
        c = VarlinkConn(self.sock)
        c.send(IFACE + ".Resume", {})
        c.close()
        wait_until(lambda: params(self.call("GetStatus"))["status"]["phase"] == "idle", 20, "idle")
        self.assertEqual(self.states(self.tds), {n: "running" for n in self.tds})
        c = VarlinkConn(self.sock)
        c.send(IFACE + ".Drain", {"timeoutUSec": 5000000}, more=True)
        c.close()
        wait_until(lambda: params(self.call("GetStatus"))["status"]["phase"] == "ready", 20, "drained")
        self.assertNotIn("error", self.call("Restore"))
        wait_until(lambda: params(self.call("GetStatus"))["status"]["phase"] == "idle", 20, "idle")
        self.assertEqual(self.states(self.tds), {n: "running" for n in self.tds})
        # d) Gone while a large reply (ListDomains: 41 domains with long names) is written.
        for _ in range(20):
            c = VarlinkConn(self.sock)
            c.send(IFACE + ".ListDomains", {})
            c.close()
        self.assertEqual(len(params(self.call("ListDomains"))["domains"]), self.N_TD + 1)
        self.assertServes()

    def test_09_nobody_may_read_but_not_change(self):
        calls = [[IFACE + "." + m, p, False] for m, p in CHANGING]
        calls += [["io.systemd.service." + m, p, False] for m, p in SERVICE_CHANGING]
        calls += [[IFACE + ".GetStatus", {}, False], [IFACE + ".ListDomains", {}, False],
                  [IFACE + ".Plan", {"operation": "suspend"}, False], [IFACE + ".Subscribe", {}, True],
                  ["org.varlink.service.GetInfo", {}, False], ["io.systemd.service.Ping", {}, False]]
        out = call_as(NOBODY_UID, NOGROUP_GID, self.sock, calls)
        for (method, _, _), r in zip(calls, out):
            with self.subTest(method=method):
                if method.rsplit(".", 1)[1] in dict(CHANGING + SERVICE_CHANGING):
                    self.assertEqual(r.get("error"), PERMISSION_DENIED, r)
                else:
                    self.assertNotIn("error", r, r)
                    self.assertNotIn("connect_errno", r, r)
        # Malformed parameters from nobody: still PermissionDenied, never executed.
        out = call_as(NOBODY_UID, NOGROUP_GID, self.sock,
                      [[IFACE + ".Hold", {"reason": 1}, False], [IFACE + ".Drain", {"x": 1}, False]])
        self.assertEqual([r.get("error") for r in out], [PERMISSION_DENIED] * 2, out)
        st = self.assertServes()
        self.assertEqual((st["phase"], st["hold"]), ("idle", None), "nobody changed nothing")
        self.assertEqual(st["logLevel"], 7, "nobody's SetLogLevel changed nothing")
        self.assertEqual(self.states(self.tds), {n: "running" for n in self.tds})
        self.assertNotRegex(self.new_log(), r"from the control socket")

    def test_10_outside_the_group_cannot_connect(self):
        st = os.stat(self.sock)
        self.assertEqual((oct(st.st_mode & 0o777), st.st_uid, st.st_gid), (oct(0o660), 0, NOGROUP_GID))
        out = call_as(NOBODY_UID, OTHER_GID, self.sock,
                      [[IFACE + ".GetStatus", {}, False], [IFACE + ".Drain", {}, False]])
        self.assertEqual(out, [{"connect_errno": 13}] * 2)
        self.assertServes()

    def test_99_still_serves_and_rss_is_back(self):
        st = self.assertServes()
        self.assertEqual(st["phase"], "idle")
        self.assertEqual(st["tdsRunning"], self.N_TD)
        rss = rss_kib(self.d.pid)
        self.numbers["rss_end_kib"] = rss
        log("BadInput numbers: %s; RSS end - start = %+d kB" %
            (json.dumps(self.numbers, sort_keys=True), rss - self.rss_start))
        if sanitized(self.d.pid):
            log("sanitizer build: RSS not compared (its quarantine or shadow keeps memory)")
            return
        self.assertLess(rss - self.rss_start, 2048, "RSS must be back within 2 MiB of the start")


if __name__ == "__main__":
    unittest.main(verbosity=2)
