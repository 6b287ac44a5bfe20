#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Run a command as a child subreaper and reap every orphan it leaves behind.

libvirtd double-forks QEMU. Without a subreaper the QEMU process is re-parented to
PID 1, and libvirt only sees a guest as gone once that zombie is reaped: slow (or
never) when PID 1 is not a real init. As PR_SET_CHILD_SUBREAPER we reap at once.

Usage: subreaper.py [--pidfile=PATH] [--linger] CMD [ARGS...]
  --pidfile  write the pid of CMD there (so a test can SIGKILL CMD itself)
  --linger   when CMD exits, keep reaping until no descendant is left (a SIGKILLed
             libvirtd leaves its QEMU processes running; they stay our children)
SIGTERM, SIGINT and SIGHUP are forwarded to CMD while it runs. Exits with CMD's status.
"""
import ctypes
import os
import signal
import sys

PR_SET_CHILD_SUBREAPER = 36


def main(argv):
    pidfile, linger = None, False
    while argv and argv[0].startswith("--"):
        opt = argv.pop(0)
        if opt.startswith("--pidfile="):
            pidfile = opt.split("=", 1)[1]
        elif opt == "--linger":
            linger = True
        else:
            sys.exit("subreaper: unknown option " + opt)
    if not argv:
        sys.exit(__doc__)

    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        sys.exit("subreaper: prctl(PR_SET_CHILD_SUBREAPER): errno %d" % ctypes.get_errno())

    child = os.fork()
    if child == 0:
        try:
            os.execvp(argv[0], argv)
        finally:
            os._exit(127)
    if pidfile:
        with open(pidfile + ".tmp", "w") as f:
            f.write("%d\n" % child)
        os.rename(pidfile + ".tmp", pidfile)

    state = {"alive": True}

    def forward(sig, frame):
        if state["alive"]:
            try:
                os.kill(child, sig)
            except ProcessLookupError:
                pass

    for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(s, forward)

    rc = 0
    while True:
        try:
            pid, status = os.wait()
        except ChildProcessError:
            break
        except InterruptedError:
            continue
        if pid == child:
            state["alive"] = False
            rc = os.waitstatus_to_exitcode(status)
            if not linger:
                break
    return rc if rc >= 0 else 128 - rc


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
