#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""flood: hold N connections to tdsleepd's control socket open as unprivileged users.

  flood.py SOCKET N [FIRST_UID] [GID]      (as root)

Connects N times, PER_UID (16, the daemon's per-user limit) under each effective uid
FIRST_UID, FIRST_UID+1, ... (SO_PEERCRED records the credentials at connect() time), and
starts a Subscribe stream on each: a call in progress, so the idle timeout does not close
them, which is the most an unprivileged user can hold. Prints "OPEN <streams>" once every
stream sent its first event, then waits until stdin is closed."""
import json
import os
import socket
import sys

PER_UID = 16
CALL = json.dumps({"method": "io.tdsleep.Manager.Subscribe", "parameters": {}, "more": True}).encode() + b"\0"


def main():
    path, n = sys.argv[1], int(sys.argv[2])
    uid0 = int(sys.argv[3]) if len(sys.argv) > 3 else 61000
    gid = int(sys.argv[4]) if len(sys.argv) > 4 else 65534
    socks = []
    os.setgroups([])
    for i in range(n):
        if i % PER_UID == 0:
            os.seteuid(0)
            os.setegid(gid)
            os.seteuid(uid0 + i // PER_UID)
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(path)
        s.sendall(CALL)
        socks.append(s)
    os.seteuid(0)
    streaming = 0
    for s in socks:
        s.settimeout(10)
        try:
            streaming += b'"continues":true' in s.recv(65536)
        except OSError:
            pass
    print("OPEN", streaming, flush=True)
    sys.stdin.read()


if __name__ == "__main__":
    main()
