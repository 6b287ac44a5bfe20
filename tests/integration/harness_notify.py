# SPDX-License-Identifier: LGPL-2.1-or-later
"""Integration harness: the NOTIFY_SOCKET receiver, which is also systemd's fd store."""
import contextlib
import os
import select
import socket
import struct
import threading
import time

from harness_wait import Timeout, log, now


class NotifySocket:
    """A unix datagram socket for NOTIFY_SOCKET; messages kept as (t, pid, {k: v}).

    It is also the service's fd store, as systemd keeps it: FDSTORE=1 keeps the fds passed
    along under FDNAME= (several may share a name), FDSTOREREMOVE=1 drops every fd of
    that FDNAME=, and a stored fd that hangs up (POLLHUP/POLLERR) is dropped unless it
    came with FDPOLL=0. Daemon.start() hands them back as LISTEN_FDS; release_store()
    is what systemd does when the service stops for good."""

    def __init__(self, path):
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
        self.sock.bind(path)
        self.cond = threading.Condition()
        self.messages = []
        self.store = []      # [name, fd, poll], in the order systemd would hand them back
        self.barriers = 0    # barrier datagrams sent / taken in
        self.barriers_seen = 0
        self.closed = False
        self.rfd, self.wfd = os.pipe()
        self.thread = threading.Thread(target=self._loop, name="notify", daemon=True)
        self.thread.start()

    def _loop(self):
        while True:
            p = select.poll()
            p.register(self.sock, select.POLLIN)
            p.register(self.rfd, select.POLLIN)
            with self.cond:
                watched = {e[1]: e for e in self.store if e[2]}
            for fd in watched:
                p.register(fd, 0)     # POLLHUP and POLLERR are always reported
            events = dict(p.poll())
            if self.rfd in events:
                if b"x" in os.read(self.rfd, 64):
                    return
                continue
            for fd, ev in events.items():
                if fd in watched and ev & (select.POLLHUP | select.POLLERR):
                    self._store_drop(lambda e, entry=watched[fd]: e is entry, "hung up")
            if self.sock.fileno() in events:
                self._receive()

    def _store_drop(self, match, why):
        with self.cond:
            gone = [e for e in self.store if match(e)]
            self.store = [e for e in self.store if not match(e)]
        for name, fd, _ in gone:
            os.close(fd)
            log("fd store: dropped %s (fd %d): %s" % (name, fd, why))
        return len(gone)

    def _receive(self):
        # MSG_CMSG_CLOEXEC: a stored inhibitor fd must not leak into libvirtd or QEMU,
        # where it would hold the lock for good.
        data, anc, _, _ = self.sock.recvmsg(65536, socket.CMSG_SPACE(12) + socket.CMSG_SPACE(4 * 253),
                                            socket.MSG_CMSG_CLOEXEC)
        pid, fds = None, []
        for level, typ, cdata in anc:
            if level == socket.SOL_SOCKET and typ == socket.SCM_CREDENTIALS:
                pid = struct.unpack("iII", cdata[:12])[0]
            elif level == socket.SOL_SOCKET and typ == socket.SCM_RIGHTS:
                fds += struct.unpack("%di" % (len(cdata) // 4), cdata[:len(cdata) - len(cdata) % 4])
        fields = {}
        for line in data.decode(errors="replace").split("\n"):
            if "=" in line:
                k, v = line.split("=", 1)
                fields[k] = v
        if "HARNESS_BARRIER" in fields and pid == os.getpid():
            with self.cond:
                self.barriers_seen = int(fields["HARNESS_BARRIER"])
                self.cond.notify_all()
            return
        self._store_update(fields, fds)
        if fds:
            fields["_FDS"] = str(len(fds))
        with self.cond:
            self.messages.append((now(), pid, fields))
            self.cond.notify_all()
        if "STATUS" in fields:
            log("notify[%s]: STATUS=%s" % (pid, fields["STATUS"]))
        for k in fields:
            if k != "STATUS":
                log("notify[%s]: %s=%s" % (pid, k, fields[k]))

    def _store_update(self, fields, fds):
        """systemd's rules: a message either removes (FDSTOREREMOVE=1) or adds (FDSTORE=1);
        fds sent without FDSTORE=1 are closed."""
        name = fields.get("FDNAME", "stored")
        if fields.get("FDSTOREREMOVE") == "1":
            self._store_drop(lambda e: e[0] == name, "FDSTOREREMOVE=1")
        elif fields.get("FDSTORE") == "1" and fds:
            with self.cond:
                self.store += [[name, fd, fields.get("FDPOLL") != "0"] for fd in fds]
            log("fd store: keeping %d fd(s) as %s" % (len(fds), name))
            fds = []
        for fd in fds:
            os.close(fd)

    def barrier(self, timeout=5):
        """Wait until every datagram sent before now has been taken in: they queue in
        order, so one of ours behind them tells. A daemon's last FDSTORE=1 may still be
        queued when it exits, or when the lock it carries is already visible in logind."""
        with self.cond:
            self.barriers += 1
            token = self.barriers
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as s:
            s.sendto(b"HARNESS_BARRIER=%d" % token, self.path)
        end = time.monotonic() + timeout
        with self.cond:
            while self.barriers_seen < token:
                rem = end - time.monotonic()
                if rem <= 0:
                    raise Timeout("the notify socket did not catch up within %.1fs" % timeout)
                self.cond.wait(rem)

    def stored(self):
        """[(name, fd)] as systemd would pass them to the next start."""
        self.barrier()
        with self.cond:
            return [(name, fd) for name, fd, _ in self.store]

    def release_store(self):
        if not self.closed:
            self.barrier()
        if self._store_drop(lambda e: True, "the service stopped") and not self.closed:
            os.write(self.wfd, b"w")      # the poll set changed under the notify thread

    def wait(self, pred, timeout, what, pid=None, since=0.0, alive=None):
        """Wait for a message (from pid, after since) for which pred(fields) holds.
        alive(): returns False when waiting is pointless (the sender died)."""
        end = time.monotonic() + timeout
        with self.cond:
            while True:
                for m in self.messages:
                    if m[0] >= since and (pid is None or m[1] == pid) and pred(m[2]):
                        return m
                if alive is not None and not alive():
                    raise Timeout("the daemon exited while waiting for %s" % what)
                rem = end - time.monotonic()
                if rem <= 0:
                    raise Timeout("no notify message %s within %.1fs" % (what, timeout))
                self.cond.wait(min(rem, 0.2))

    def select(self, pid=None, key=None):
        with self.cond:
            return [m for m in self.messages if (pid is None or m[1] == pid) and (key is None or key in m[2])]

    def close(self):
        os.write(self.wfd, b"x")
        self.thread.join(5)
        self.closed = True
        self.release_store()
        self.sock.close()
        os.close(self.rfd)
        os.close(self.wfd)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)
