# SPDX-License-Identifier: LGPL-2.1-or-later
"""Integration harness: a client for tdsleepd's control socket (Varlink, io.tdsleep.Manager)."""
import json
import socket
import time

from harness_wait import Timeout


def varlink_call(path, method, params=None, more=False, timeout=30):
    """Call method over the Varlink socket at path (JSON objects ended by NUL); return
    the list of replies as dicts ("parameters", "error", "continues"). With more, read
    until a reply without "continues" (or an error). Raises Timeout."""
    msg = {"method": method, "parameters": params or {}}
    if more:
        msg["more"] = True
    end = time.monotonic() + timeout
    replies, buf = [], b""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC) as s:
        s.settimeout(timeout)
        s.connect(path)
        s.sendall(json.dumps(msg).encode() + b"\0")
        while True:
            while b"\0" in buf:
                raw, buf = buf.split(b"\0", 1)
                r = json.loads(raw)
                replies.append(r)
                if "error" in r or not r.get("continues"):
                    return replies
            rem = end - time.monotonic()
            if rem <= 0:
                raise Timeout("no reply to %s within %.1fs" % (method, timeout))
            s.settimeout(rem)
            try:
                data = s.recv(65536)
            except socket.timeout:
                raise Timeout("no reply to %s within %.1fs" % (method, timeout))
            if not data:
                raise AssertionError("%s: connection closed after %d replies" % (method, len(replies)))
            buf += data


def varlink_method(path, method, params=None, timeout=30):
    """One io.tdsleep.Manager call: its parameters, or raise VarlinkError."""
    r = varlink_call(path, "io.tdsleep.Manager." + method, params, timeout=timeout)[-1]
    if "error" in r:
        raise VarlinkError(r["error"], r.get("parameters"))
    return r.get("parameters", {})


class VarlinkError(Exception):
    def __init__(self, error, params):
        super().__init__("%s %s" % (error, params))
        self.error, self.params = error, params
