# SPDX-License-Identifier: LGPL-2.1-or-later
"""Shared by the control socket's tests (test_control*, test_control_abuse, test_cli,
test_hold, test_cpus, test_varlink_idioms): a raw Varlink client, calls as another
user, the control configuration and ControlCase, a daemon with TDs and a VM."""
import json
import os
import re
import select
import socket
import subprocess
import time

from tdsleeptest import PYTHON, TDSleepTestCase, Timeout, config_text, wait_until

IFACE = "io.tdsleep.Manager"
SOURCE_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
IDL_PATH = os.path.join(SOURCE_ROOT, "daemon", "io.tdsleep.Manager.varlink")
NOBODY_UID = 65534
NOGROUP_GID = 65534
OTHER_GID = 54321            # no such group: a user outside SocketGroup=
MESSAGE_MAX = 64 * 1024      # VARLINK_DEFAULT_MESSAGE_MAX
CONNECTIONS_MAX = 1280       # VARLINK_DEFAULT_CONNECTIONS_MAX, root may use all of them
OUTPUT_MAX = 2 * 1024 * 1024  # VARLINK_DEFAULT_OUTPUT_MAX
CHANGING = [("Prepare", {"operation": "suspend"}), ("Resume", {}), ("Drain", {"timeoutUSec": 5000000}),
            ("Restore", {}), ("Hold", {"reason": "nobody wants this"}), ("Release", {}),
            ("Reload", {})]
# io.systemd.service's methods that change something: root only, too.
SERVICE_CHANGING = [("Reload", {}), ("SetLogLevel", {"level": 7})]
PERMISSION_DENIED = "org.varlink.service.PermissionDenied"
HEX32 = r"^[0-9a-f]{32}$"


# ----------------------------------------------------------------------------------
# A raw Varlink client: JSON objects ended by NUL over AF_UNIX


class VarlinkConn:
    """One connection; send calls, read messages one by one (streams, errors, EOF)."""

    def __init__(self, path, timeout=10):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
        self.sock.settimeout(timeout)
        self.sock.connect(path)
        self.buf = b""
        self.eof = False
        self.received = 0

    def send_raw(self, data):
        self.sock.sendall(data)

    def send(self, method, params=None, more=False, oneway=False):
        msg = {"method": method}
        if params is not None:
            msg["parameters"] = params
        if more:
            msg["more"] = True
        if oneway:
            msg["oneway"] = True
        self.send_raw(json.dumps(msg).encode() + b"\0")

    def _fill(self, timeout):
        r, _, _ = select.select([self.sock], [], [], max(timeout, 0))
        if not r:
            return False
        try:
            data = self.sock.recv(1 << 20)
        except (ConnectionResetError, BrokenPipeError):
            data = b""
        if not data:
            self.eof = True
        self.received += len(data)
        self.buf += data
        return True

    def recv(self, timeout=10):
        """The next message as a dict; None at end of file; raises Timeout."""
        end = time.monotonic() + timeout
        while b"\0" not in self.buf:
            if self.eof:
                return None
            if not self._fill(end - time.monotonic()) and time.monotonic() >= end:
                raise Timeout("no message within %.1fs" % timeout)
        raw, self.buf = self.buf.split(b"\0", 1)
        return json.loads(raw)

    def call(self, method, params=None, more=False, timeout=10):
        """Replies to one call: every streamed one and the last (or the error)."""
        self.send(method, params, more)
        out = []
        while True:
            m = self.recv(timeout)
            if m is None:
                raise AssertionError("%s: connection closed after %d replies" % (method, len(out)))
            out.append(m)
            if "error" in m or not m.get("continues"):
                return out

    def wait_eof(self, timeout=10):
        """Read (and return the messages) until the server closes; raises Timeout."""
        msgs, end = [], time.monotonic() + timeout
        while True:
            m = self.recv(end - time.monotonic())
            if m is None:
                return msgs
            msgs.append(m)

    def peer_closed(self):
        """Has the server closed its end (even with unread data pending)?"""
        p = select.poll()
        p.register(self.sock, select.POLLRDHUP)
        return any(ev & (select.POLLRDHUP | select.POLLHUP) for _, ev in p.poll(0))

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.close()


def vcall(path, method, params=None, timeout=10):
    """One call, one reply (a dict with parameters or error)."""
    with VarlinkConn(path, timeout) as c:
        out = c.call(method, params, timeout=timeout)
    assert len(out) == 1, out
    return out[0]


def sanitized(pid):
    """ASan keeps freed memory in quarantine and shadow memory, TSan keeps shadow memory
    and its own history: RSS bounds mean nothing there. gcc links the runtime as a
    library; clang (the tsan build) links it into the binary."""
    with open("/proc/%d/maps" % pid) as f:
        if re.search(r"lib[at]san", f.read()):
            return True
    with open("/proc/%d/exe" % pid, "rb") as f:
        return b"ThreadSanitizer" in f.read()


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        return int(re.search(r"^VmRSS:\s+(\d+) kB", f.read(), re.M).group(1))


# Runs as another user (subprocess with user=/group=): the calls named in argv[2], each on
# its own connection; prints one JSON result per call (the first reply, or the errno of a
# failed connect, or {"eof": true}).
AS_USER_CLIENT = r'''
import json, socket, sys
path, calls = sys.argv[1], json.loads(sys.argv[2])
out = []
for method, params, more in calls:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(10)
    try:
        s.connect(path)
    except OSError as e:
        out.append({"connect_errno": e.errno})
        continue
    msg = {"method": method, "parameters": params}
    if more:
        msg["more"] = True
    s.sendall(json.dumps(msg).encode() + b"\0")
    buf = b""
    while b"\0" not in buf:
        d = s.recv(65536)
        if not d:
            break
        buf += d
    s.close()
    out.append(json.loads(buf.split(b"\0")[0]) if b"\0" in buf else {"eof": True})
print(json.dumps(out))
'''


def call_as(uid, gid, path, calls):
    """[(method, params, more)] as uid:gid with no supplementary groups."""
    r = subprocess.run([PYTHON, "-c", AS_USER_CLIENT, path, json.dumps(calls)], user=uid, group=gid,
                       extra_groups=[], cwd="/", capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        raise AssertionError("client as %d:%d failed: %s" % (uid, gid, r.stderr))
    return json.loads(r.stdout)


def open_for_others(*dirs):
    """Let nobody reach the socket: search permission on the directories above it."""
    for d in dirs:
        os.chmod(d, 0o711)


def control_config(**sleep):
    sleep.setdefault("ShutdownTimeoutSec", "10s")
    return config_text({"SocketGroup": "nogroup"}, **sleep)


def is_phase(event, phase):
    return event["type"] == "phase" and event.get("phase") == phase


def params(reply):
    assert "error" not in reply, reply
    return reply.get("parameters", {})


# ----------------------------------------------------------------------------------
# Every method, as root; one fresh daemon per test


class ControlCase(TDSleepTestCase):
    """A daemon with three TDs and a VM, and root's calls to it."""

    def start(self, n_td=3, vm=True, config=None):
        self.tds = [self.uniq("td%d" % i) for i in range(n_td)]
        for n in self.tds:
            self.define_test_domain(n)
        self.vm = self.uniq("vm")
        if vm:
            self.define_test_domain(self.vm, td=False)
        self.d = self.daemon(config=config or control_config()).start()
        self.sock = self.d.ctl_socket
        self.wait_lock()
        return self.d

    def call(self, method, p=None, **kw):
        return vcall(self.sock, IFACE + "." + method, p, **kw)

    def ok(self, method, p=None, **kw):
        return params(self.call(method, p, **kw))

    def wait_phase(self, phase, timeout=10):
        return wait_until(lambda: self.ok("GetStatus")["status"]["phase"] == phase, timeout,
                          "phase %s" % phase)
