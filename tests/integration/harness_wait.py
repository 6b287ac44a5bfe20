# SPDX-License-Identifier: LGPL-2.1-or-later
"""Integration harness: the clock, the log, and waiting for a condition or a process.

Waiting is done on events where one exists (the other harness modules block on their
own); wait_until() polls only state that has no event, against a deadline.
"""
import os
import select
import sys
import time


T0 = time.monotonic()


def now():
    """Seconds since the harness was imported (monotonic)."""
    return time.monotonic() - T0


def log(msg):
    if os.environ.get("TDSLEEP_TEST_QUIET") != "1":
        sys.stderr.write("[%8.3f] %s\n" % (now(), msg))
        sys.stderr.flush()


class Timeout(AssertionError):
    pass


def wait_until(cond, timeout, what, interval=0.02):
    """Poll cond() until it returns something truthy; only for state that has no event."""
    end = time.monotonic() + timeout
    while True:
        r = cond()
        if r:
            return r
        if time.monotonic() >= end:
            raise Timeout("timed out after %.1fs waiting for %s" % (timeout, what))
        time.sleep(interval)


def pid_alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


def wait_pid_gone(pid, timeout):
    """Wait for a process that is not our child to disappear (pidfd: no polling)."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return True
    try:
        r, _, _ = select.select([fd], [], [], timeout)
        return bool(r)
    finally:
        os.close(fd)
