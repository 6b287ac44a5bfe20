# SPDX-License-Identifier: LGPL-2.1-or-later
"""Integration harness: a private system-type dbus-daemon and python3-dbusmock's logind
(logind_mock.py) on it, driven by the test.
"""
import contextlib
import json
import os
import subprocess

from harness_env import HERE, PYTHON
from harness_wait import log


LOGIND = ("org.freedesktop.login1", "/org/freedesktop/login1")
LOGIND_IFACE = "org.freedesktop.login1.Manager"
MOCK_IFACE = "org.freedesktop.DBus.Mock"

BUS_CONF = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path={path}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_type="method_call"/>
    <allow send_type="signal"/>
    <allow send_requested_reply="true" send_type="method_return"/>
    <allow send_requested_reply="true" send_type="error"/>
    <allow receive_type="method_call"/>
    <allow receive_type="method_return"/>
    <allow receive_type="error"/>
    <allow receive_type="signal"/>
  </policy>
</busconfig>
"""


class PrivateBus:
    def __init__(self, base):
        self.base = base
        self.path = os.path.join(base, "system_bus_socket")
        self.address = "unix:path=" + self.path
        self.proc = None
        self.conn = None

    def start(self):
        conf = os.path.join(self.base, "bus.conf")
        with open(conf, "w") as f:
            f.write(BUS_CONF.format(path=self.path))
        self.proc = subprocess.Popen(["dbus-daemon", "--config-file=" + conf, "--nofork",
                                      "--print-address=1"], stdout=subprocess.PIPE,
                                     stdin=subprocess.DEVNULL, text=True, start_new_session=True)
        line = self.proc.stdout.readline()   # printed once it listens
        if not line:
            raise RuntimeError("dbus-daemon failed to start")
        import dbus.bus
        self.conn = dbus.bus.BusConnection(self.address)

    def stop(self):
        if self.conn is not None:
            with contextlib.suppress(Exception):
                self.conn.close()
            self.conn = None
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
        if self.proc:
            self.proc.stdout.close()


class LogindMock:
    """python3-dbusmock's logind (see logind_mock.py) driven by the test."""

    def __init__(self, bus, logfile):
        self.bus, self.logfile = bus, logfile
        self.proc = None

    def start(self, preparing=False, delay_max_usec=120_000_000):
        import dbus
        env = dict(os.environ, DBUS_SYSTEM_BUS_ADDRESS=self.bus.address)
        params = json.dumps({"PreparingForSleep": preparing, "InhibitDelayMaxUSec": delay_max_usec})
        self.proc = subprocess.Popen([PYTHON, os.path.join(HERE, "logind_mock.py"), self.logfile, params],
                                     env=env, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL,
                                     text=True, start_new_session=True)
        if self.proc.stdout.readline().strip() != "READY":
            self.proc.wait(5)
            raise RuntimeError("logind mock failed to start, see %s" % self.logfile)
        self.obj = self.bus.conn.get_object(*LOGIND)
        self.mock = dbus.Interface(self.obj, MOCK_IFACE)
        self.mgr = dbus.Interface(self.obj, LOGIND_IFACE)
        return self

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc:
            self.proc.stdout.close()
        self.proc = None

    def kill(self):
        self.proc.kill()
        self.proc.wait()
        self.proc.stdout.close()
        self.proc = None

    def set_preparing(self, value):
        import dbus
        self.mock.UpdateProperties(LOGIND_IFACE, {"PreparingForSleep": dbus.Boolean(value)})

    def prepare_for_sleep(self, start):
        """What logind does: PreparingForSleep first, then the signal."""
        import dbus
        self.set_preparing(start)
        self.mock.EmitSignal(LOGIND_IFACE, "PrepareForSleep", "b", [dbus.Boolean(start)])
        log("logind mock: PrepareForSleep(%s)" % ("true" if start else "false"))

    def inhibitors(self):
        return [tuple(str(x) if i < 4 else int(x) for i, x in enumerate(i))
                for i in self.mgr.ListInhibitors()]

    def daemon_locks(self):
        return [i for i in self.inhibitors() if i[1] == "tdsleepd" and i[3] == "delay"]

    def inhibit_calls(self):
        return [[str(a) for a in c[1]] for c in self.mock.GetMethodCalls("Inhibit")]
