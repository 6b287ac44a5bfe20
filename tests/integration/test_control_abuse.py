# SPDX-License-Identifier: LGPL-2.1-or-later
"""The control socket under deliberate abuse (issue 10), each numbered case against the
real daemon: an unprivileged flood must not lock out root or the sleep hook; bad strings,
NaN, duplicate keys and bad method names are refused and change nothing; a oneway call
registers nothing; supplementary groups come from the socket (SO_PEERGROUPS); Hold
succeeds only with logind's lock held."""
import json
import os
import subprocess
import time

from tdsleeptest import BUILD_DIR, LOGIND_IFACE, PYTHON, TDSleepTestCase, Timeout, log, wait_until
from controltest import (IFACE, NOBODY_UID, NOGROUP_GID, OTHER_GID, VarlinkConn, control_config,
                         open_for_others, params, vcall)
from test_kernel_policy import set_host

CTL = os.environ.get("TDSLEEPCTL") or os.path.join(BUILD_DIR, "cli", "tdsleepctl")
PER_UID_MAX = 16             # VARLINK_DEFAULT_CONNECTIONS_PER_UID_MAX
SHARED_MAX = 1280 - 256      # VARLINK_DEFAULT_CONNECTIONS_MAX - VARLINK_DEFAULT_CONNECTIONS_RESERVED
IDLE_TIMEOUT = 5             # VARLINK_DEFAULT_IDLE_TIMEOUT_USEC, seconds
FLOOD_UID0 = 61000           # users that exist only as numbers: 61000, 61001, ...

# Runs as root: opens connections that send nothing, each batch under another effective
# uid/gid (SO_PEERCRED records the credentials at connect() time). Prints "OPEN" and the
# number connected, then answers commands on stdin: "REPORT" (how many the server has
# closed so far), "WAITEOF SECONDS" (wait until all are closed), end of input: exit.
FLOOD = r'''
import json, os, select, socket, sys, time
path, spec = sys.argv[1], json.loads(sys.argv[2])
socks = []
for uid, gid, groups, n in spec:
    os.setgroups(groups)
    os.setegid(gid)
    os.seteuid(uid)
    for _ in range(n):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            s.connect(path)
            socks.append(s)
        except OSError:
            s.close()
    os.seteuid(0)
    os.setegid(0)
    os.setgroups([])
print("OPEN", len(socks), flush=True)
def closed():
    p = select.poll()
    for s in socks:
        p.register(s, select.POLLRDHUP)
    return len(p.poll(0))
for line in sys.stdin:
    cmd = line.split()
    if cmd[0] == "REPORT":
        print(json.dumps({"closed": closed()}), flush=True)
    elif cmd[0] == "WAITEOF":
        t0 = time.monotonic()
        while closed() < len(socks) and time.monotonic() - t0 < float(cmd[1]):
            time.sleep(0.05)
        print(json.dumps({"closed": closed(), "elapsed": time.monotonic() - t0}), flush=True)
'''


class Flood:
    """Connections held open (and silent) by unprivileged users, from a helper process."""

    def __init__(self, path, spec):
        self.proc = subprocess.Popen([PYTHON, "-c", FLOOD, path, json.dumps(spec)], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline().split()
        assert line and line[0] == "OPEN", line
        self.opened = int(line[1])

    def ask(self, cmd):
        self.proc.stdin.write(cmd + "\n")
        self.proc.stdin.flush()
        return json.loads(self.proc.stdout.readline())

    def close(self):
        self.proc.stdin.close()
        self.proc.wait(10)
        self.proc.stdout.close()


def many_users(n_users, per_user, first=FLOOD_UID0):
    return [[first + i, NOGROUP_GID, [], per_user] for i in range(n_users)]


def call_with_groups(uid, gid, groups, path, method, p):
    """One call as uid:gid with exactly these supplementary groups."""
    code = ("import json, socket, sys\n"
            "s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM); s.settimeout(10); s.connect(sys.argv[1])\n"
            "s.sendall(json.dumps({'method': sys.argv[2], 'parameters': json.loads(sys.argv[3])}).encode() + b'\\0')\n"
            "b = b''\n"
            "while b'\\0' not in b:\n"
            "    d = s.recv(65536)\n"
            "    if not d: break\n"
            "    b += d\n"
            "print(b.split(b'\\0')[0].decode() or '{\"eof\": true}')\n")
    r = subprocess.run([PYTHON, "-c", code, path, method, json.dumps(p)], user=uid, group=gid,
                       extra_groups=groups, cwd="/", capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


class ControlAbuse(TDSleepTestCase):

    def start(self, n_td=2, host=None):
        if host:
            set_host(self.sysfs, **host)
        self.tds = [self.uniq("td%d" % i) for i in range(n_td)]
        for n in self.tds:
            self.define_test_domain(n)
        open_for_others(self.base, self.dir)
        self.d = self.daemon(config=control_config()).start()
        self.sock = self.d.ctl_socket
        self.wait_lock()
        return self.d

    def call(self, method, p=None, **kw):
        return vcall(self.sock, IFACE + "." + method, p, **kw)

    def status(self):
        return params(self.call("GetStatus"))["status"]

    def block_locks(self):
        return [i for i in self.mock.inhibitors() if i[1] == "tdsleepd" and i[3] == "block"]

    def raw(self, data, timeout=5):
        """Send raw bytes (a NUL is added); the messages until the server closes."""
        with VarlinkConn(self.sock) as c:
            c.send_raw(data + b"\0")
            return c.wait_eof(timeout)

    def assertRefusedAndClosed(self, data, what):
        msgs = self.raw(data)
        self.assertEqual(len(msgs), 1, "%s: %s" % (what, msgs))
        self.assertEqual(msgs[0].get("error"), "org.varlink.service.InvalidParameter", (what, msgs))

    def assertNothingChanged(self):
        st = self.status()
        self.assertEqual((st["phase"], st["hold"], st["blockLock"]), ("idle", None, None), st)
        self.assertEqual(self.states(self.tds), {n: "running" for n in self.tds})
        self.assertEqual(self.block_locks(), [])

    # ---- 1. Starvation

    def test_1_unprivileged_flood_cannot_lock_out_root(self):
        self.start()
        flood = Flood(self.sock, [[NOBODY_UID, NOGROUP_GID, [], 256]])
        self.addCleanup(flood.close)
        self.assertEqual(flood.opened, 256, "connect() itself succeeds (the listen backlog)")
        r = subprocess.run([CTL, "--socket=" + self.sock, "status"], capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(flood.ask("REPORT")["closed"], 256 - PER_UID_MAX,
                         "nobody keeps %d connections, the rest are closed at once" % PER_UID_MAX)
        # The ones it kept send nothing: closed after the idle timeout.
        t0 = time.monotonic()
        done = flood.ask("WAITEOF %d" % (IDLE_TIMEOUT * 4))
        log("nobody's %d silent connections closed after %.1fs" % (PER_UID_MAX, time.monotonic() - t0))
        self.assertEqual(done["closed"], 256, "silent connections must be closed by the idle timeout")
        self.assertServes()

    def test_1_many_users_cannot_take_roots_reserve(self):
        self.start()
        n_users = SHARED_MAX // PER_UID_MAX + 6
        flood = Flood(self.sock, many_users(n_users, PER_UID_MAX))
        self.addCleanup(flood.close)
        t0 = time.monotonic()
        st = self.status()          # as root, with every unprivileged place taken
        log("root's GetStatus with %d unprivileged connections held: %.1f ms" %
            (SHARED_MAX, (time.monotonic() - t0) * 1000))
        self.assertEqual(st["phase"], "idle")
        self.assertEqual(flood.ask("REPORT")["closed"], n_users * PER_UID_MAX - SHARED_MAX,
                         "the unprivileged share is %d connections" % SHARED_MAX)
        # Root can still open many connections at once: its reserve and the shared rest.
        conns = [VarlinkConn(self.sock) for _ in range(64)]
        for c in conns:
            c.send(IFACE + ".GetStatus", {})
        for c in conns:
            self.assertIn("status", c.recv(10)["parameters"])
            c.close()

    def test_1_sleep_hook_gets_through_a_flood(self):
        self.start(host=dict(tdx=True, state="freeze mem disk", mem_sleep="[s2idle] deep", swap=True))
        t0 = time.monotonic()
        self.mock.prepare_for_sleep(True)
        self.wait_lock_gone(10)
        self.d.wait_status(lambda s: "waiting for the sleep hook" in s, 5, "waiting for the hook")
        flood = Flood(self.sock, [[NOBODY_UID, NOGROUP_GID, [], 256]] +
                      many_users(SHARED_MAX // PER_UID_MAX + 2, PER_UID_MAX))
        self.addCleanup(flood.close)
        env = dict(os.environ, SYSTEMD_SLEEP_ACTION="hibernate", TDSLEEP_SYSFS_ROOT=self.sysfs.root)
        r = subprocess.run([CTL, "--socket=" + self.sock, "hook", "pre", "hibernate"], env=env,
                           capture_output=True, text=True, timeout=120)
        log("hook under a flood of %d connections: exit %d after %.1fs" % (flood.opened, r.returncode,
                                                                              time.monotonic() - t0))
        self.assertEqual((r.returncode, r.stderr), (0, ""), "the hook must reach tdsleepd")
        st = self.status()
        self.assertEqual((st["phase"], st["step"], st["awaitingHook"]), ("ready", "hibernate", False))
        self.assertEqual(self.states(self.tds), {n: "shutoff" for n in self.tds})
        self.mock.prepare_for_sleep(False)

    # ---- 2. Hold that holds nothing

    def test_2_hold_with_bad_unicode_is_refused_and_holds_nothing(self):
        self.start()
        hold = lambda reason: b'{"method":"' + IFACE.encode() + b'.Hold","parameters":{"reason":"' + reason + b'"}}'
        for reason in (rb"\ufffe\uffff", b"\xc0\xaf", b"\xed\xa0\x80", b"\xef\xbf\xbe", rb"\ud800",
                       rb"x\u0000y", b"\xff"):
            with self.subTest(reason=reason):
                self.assertRefusedAndClosed(hold(reason), reason)
        for reason in ("a\nb", "\x1b[31mred", "tab\there", "\u009b2J", "x" * 257, ""):
            with self.subTest(reason=reason):
                r = self.call("Hold", {"reason": reason})
                self.assertEqual((r.get("error"), r.get("parameters")),
                                 ("org.varlink.service.InvalidParameter", {"parameter": "reason"}))
        self.assertNothingChanged()
        # GetStatus replies are valid UTF-8 (json.loads on bytes decodes strictly).
        with VarlinkConn(self.sock) as c:
            c.send(IFACE + ".GetStatus", {})
            c._fill(5)
            raw = c.buf.split(b"\0")[0]
        raw.decode("utf-8", errors="strict")

    def test_2_hold_reason_is_logged_escaped_and_held(self):
        self.start()
        reason = 'ticket "4711" \\ é '
        reason += "y" * (256 - len(reason.encode()))
        self.assertEqual(params(self.call("Hold", {"reason": reason})), {"untilUSec": None, "stored": True})
        # Success means the lock is held already: no waiting here.
        locks = self.block_locks()
        self.assertEqual(len(locks), 1, "Hold returned before logind granted the lock")
        self.assertIn(reason, locks[0][2])
        self.assertEqual(self.status()["hold"], reason)
        self.d.wait_log(r'Hold\("ticket \\"4711\\" \\\\ é ', 5)
        self.assertEqual(params(self.call("Release")), {})

    def test_2_hold_refused_by_logind_is_an_error_and_changes_nothing(self):
        self.start()
        self.mock.mock.AddMethod(LOGIND_IFACE, "Inhibit", "ssss", "h",
                                 "raise dbus.exceptions.DBusException('refused by the test', "
                                 "name='org.freedesktop.DBus.Error.InvalidArgs')")
        r = self.call("Hold", {"reason": "maintenance"})
        self.assertEqual(r.get("error"), IFACE + ".LockRefused", r)
        self.assertIn("message", r["parameters"])
        self.assertNothingChanged()
        self.mock.stop()            # no logind at all: refused too
        self.d.wait_log(r"logind went away", 10)
        r = self.call("Hold", {"reason": "maintenance"})
        self.assertEqual(r.get("error"), IFACE + ".LockRefused", r)
        self.assertIsNone(self.status()["hold"])

    # ---- 3. NaN

    def test_3_drain_with_nan_or_infinite_timeout_is_refused(self):
        self.start()
        for method, field in ((IFACE + ".Drain", b"timeoutUSec"), ("io.systemd.service.SetLogLevel", b"level")):
            call = b'{"method":"' + method.encode() + b'","parameters":{"' + field + b'":%s}}'
            for t in (b"NaN", b"nan", b"Infinity", b"-Infinity", b"1e999", b"-1e400"):
                with self.subTest(method=method, value=t):
                    self.assertRefusedAndClosed(call % t, t)
        # Finite, but no integer microseconds: refused, naming the field, the connection kept.
        for t in (0.5, 1e9, 3600000000.5, -0.0):
            with self.subTest(timeoutUSec=t):
                r = self.call("Drain", {"timeoutUSec": t})
                self.assertEqual((r.get("error"), r.get("parameters")),
                                 ("org.varlink.service.InvalidParameter", {"parameter": "timeoutUSec"}), r)
        self.assertNothingChanged()

    # ---- 3b. Enums: only the values the IDL lists (and systemd's dashed operations)

    def test_3b_unknown_enum_values_are_refused_naming_the_field(self):
        self.start()
        bad_operations = ["", "Suspend", "SUSPEND", "suspend ", " suspend", "hybrid_sleep_", "hybrid__sleep",
                          "suspend_then-hibernate", "hybrid sleep", "unknown", "nap", "s2idle", "deep",
                          "hibernate\n", "ready", "x" * 4096]
        for op in bad_operations:
            with self.subTest(operation=op):
                for method, p, field in (("Plan", {"operation": op}, "operation"),
                                         ("Prepare", {"operation": op}, "operation"),
                                         ("Prepare", {"operation": "suspend", "step": op}, "step")):
                    r = self.call(method, p)
                    self.assertEqual((r.get("error"), r.get("parameters")),
                                     ("org.varlink.service.InvalidParameter", {"parameter": field}), (method, p, r))
        # drain is an operation for Plan only; unknown is what logind leaves open, never asked for
        for p, field in (({"operation": "drain"}, "operation"), ({"operation": "suspend", "step": "drain"}, "step"),
                         ({"operation": "suspend", "step": "unknown"}, "step")):
            r = self.call("Prepare", p)
            self.assertEqual(r.get("parameters"), {"parameter": field}, (p, r))
        self.assertNothingChanged()

    # ---- 4. oneway

    def test_4_oneway_prepare_registers_nothing_and_a_later_subscribe_keeps_streaming(self):
        self.start()
        with VarlinkConn(self.sock, 20) as c:
            c.send(IFACE + ".Prepare", {"operation": "suspend"}, oneway=True)
            c.send(IFACE + ".Subscribe", {}, more=True)
            seen = []
            while not [e for e in seen if e.get("phase") == "ready"]:
                m = c.recv(20)
                self.assertIsNotNone(m, "the subscription was closed")
                self.assertTrue(m.get("continues"), "a final reply ended the Subscribe stream: %s" % m)
                seen.append(m["parameters"]["event"])
            self.assertEqual(self.states(self.tds), {n: "shutoff" for n in self.tds}, "the oneway call ran")
            self.call("Resume")
            while True:     # the stream goes on after the Prepare completed
                m = c.recv(20)
                self.assertTrue(m and m.get("continues"), m)
                if m["parameters"]["event"].get("phase") == "idle":
                    break
        # oneway Hold: done, and its answer from logind goes nowhere, even into a stream
        with VarlinkConn(self.sock) as c:
            c.send(IFACE + ".Hold", {"reason": "oneway"}, oneway=True)
            c.send(IFACE + ".Subscribe", {}, more=True)
            self.assertTrue(c.recv(10).get("continues"))
            wait_until(self.block_locks, 5, "the oneway Hold's block lock")
            self.call("Release")
            self.assertNotIn("error", self.call("Drain", {"timeoutUSec": 5000000}))
            m = c.recv(10)      # the drain's first event: the stream is still open
            self.assertTrue(m and m.get("continues"), "the Hold's reply ended the Subscribe stream: %s" % m)
            self.assertNotIn("error", self.call("Restore"))

    # ---- 5. Method names

    def test_5_duplicate_keys_and_bad_method_names_are_refused(self):
        self.start()
        m = IFACE.encode()
        cases = [
            b'{"method":"' + m + b'.Sleepwalk","method":"' + m + b'.Hold","parameters":{"reason":"dup"}}',
            b'{"method":"' + m + b'.Hold","parameters":{"reason":"a","reason":"b"}}',
            b'{"method":"' + m + b'.GetStatus\\u0000x"}',
            b'{"method":"' + m + b'.Get_Status"}',
            b'{"method":"' + m + b'.getStatus"}',
            b'{"method":"GetStatus"}',
            b'{"method":"' + m + b'.GetStatus","parameters":{},"upgrade":true}',
            b'{"method":"' + m + b'.GetStatus","bogus":1}',
        ]
        for data in cases:
            with self.subTest(data=data):
                self.assertRefusedAndClosed(data, data)
        self.assertNothingChanged()

    def test_5_unknown_parameters_are_refused_for_every_method_in_the_idl(self):
        self.start()
        import re
        methods = []
        for iface in (IFACE, "io.systemd.service"):
            desc = params(vcall(self.sock, "org.varlink.service.GetInterfaceDescription",
                                {"interface": iface}))["description"]
            methods += [(iface, name, args) for name, args in re.findall(r"(?m)^method (\w+)\(([^)]*)\)", desc)]
        self.assertGreaterEqual(len(methods), 14)
        for iface, name, args in methods:
            with self.subTest(method=name):
                r = VarlinkConn(self.sock)
                out = r.call(iface + "." + name, {"notInTheIdl": 1}, more=name == "Subscribe")[-1]
                r.close()
                self.assertEqual((out.get("error"), out.get("parameters")),
                                 ("org.varlink.service.InvalidParameter", {"parameter": "notInTheIdl"}))
                # Every field the IDL declares is known: a wrong type names it, not another.
                for field in re.findall(r"(\w+)\s*:", args):
                    out = vcall(self.sock, iface + "." + name, {field: [[]]})
                    self.assertEqual(out.get("parameters"), {"parameter": field}, (name, field, out))
        self.assertNothingChanged()

    # ---- 6. Group access

    def test_6_supplementary_group_may_read_not_change(self):
        self.start()
        st = call_with_groups(NOBODY_UID, OTHER_GID, [NOGROUP_GID], self.sock, IFACE + ".GetStatus", {})
        self.assertIn("status", st.get("parameters", {}), st)
        for method, p in ((IFACE + ".Drain", {}), (IFACE + ".Hold", {"reason": "x"}),
                          ("io.systemd.service.SetLogLevel", {"level": 7}), ("io.systemd.service.Reload", {})):
            r = call_with_groups(NOBODY_UID, OTHER_GID, [NOGROUP_GID], self.sock, method, p)
            # the standard error, not one of our own
            self.assertEqual(r.get("error"), "org.varlink.service.PermissionDenied", r)
        ping = call_with_groups(NOBODY_UID, OTHER_GID, [NOGROUP_GID], self.sock, "io.systemd.service.Ping", {})
        self.assertNotIn("error", ping)
        # The same user without the group cannot even connect (the socket is 0660).
        with self.assertRaises(AssertionError):
            call_with_groups(NOBODY_UID, OTHER_GID, [], self.sock, IFACE + ".GetStatus", {})
        self.assertNothingChanged()

    # ---- 7. Socket ownership

    def test_7_self_bound_socket_without_chown_says_so_and_stays_roots(self):
        """As under the unit (no CAP_CHOWN): the group cannot be given, and tdsleepd says
        so instead of leaving a socket that looks shared."""
        import shutil
        import stat
        from tdsleeptest import TDSLEEPD
        if not shutil.which("setpriv"):
            self.skipTest("setpriv (util-linux) not found")
        wrapper = os.path.join(self.dir, "tdsleepd-nochown")
        with open(wrapper, "w") as f:
            f.write("#!/bin/sh\nexec setpriv --bounding-set=-chown --inh-caps=-chown -- %s \"$@\"\n" % TDSLEEPD)
        os.chmod(wrapper, 0o755)
        open_for_others(self.base, self.dir)
        self.d = self.daemon(config=control_config())
        self.d.binary = wrapper
        self.d.start()
        self.sock = self.d.ctl_socket
        self.d.wait_log(r"Cannot give .* to group nogroup .*use tdsleepd\.socket", 10)
        st = os.stat(self.sock)
        self.assertEqual((stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid), (0o600, 0, 0))
        self.assertEqual(self.status()["phase"], "idle", "root is served")
        with self.assertRaises(AssertionError):     # EACCES on connect
            call_with_groups(NOBODY_UID, NOGROUP_GID, [NOGROUP_GID], self.sock, IFACE + ".GetStatus", {})

    def assertServes(self):
        self.assertTrue(self.d.alive(), "tdsleepd died")
        self.assertEqual(self.status()["phase"], "idle")


if __name__ == "__main__":
    import unittest
    unittest.main(verbosity=2)
