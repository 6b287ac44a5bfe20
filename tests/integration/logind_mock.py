#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""python3-dbusmock's logind template, plus the properties tdsleepd reads, on the bus
named by DBUS_SYSTEM_BUS_ADDRESS.

Unlike `python3 -m dbusmock --template logind`, the object is complete (template and
extra properties loaded) BEFORE the well-known name is claimed, so a daemon that
reacts to the name appearing never sees a half-built logind. Prints "READY" on stdout
once the name is ours (the harness waits for that line).

Usage: logind_mock.py LOGFILE [JSON-PARAMETERS]
"""
import json
import os
import sys

import dbus
import dbus.bus
import dbus.mainloop.glib
import dbus.service
import dbusmock.mockobject as mockobject
from gi.repository import GLib

MAIN_IFACE = "org.freedesktop.login1.Manager"


def main():
    logfile = sys.argv[1]
    params = json.loads(sys.argv[2]) if len(sys.argv) > 2 else {}
    dbus.mainloop.glib.DBusGMainLoop(set_as_default=True)
    bus = dbus.bus.BusConnection(os.environ["DBUS_SYSTEM_BUS_ADDRESS"])
    module = mockobject.load_module("logind")

    obj = mockobject.DBusMockObject(bus, module.MAIN_OBJ, module.MAIN_IFACE, {}, logfile, False)
    obj.AddTemplate("logind", {"PreparingForSleep": bool(params.get("PreparingForSleep", False))})
    obj.AddProperties(MAIN_IFACE, dbus.Dictionary({
        "InhibitDelayMaxUSec": dbus.UInt64(params.get("InhibitDelayMaxUSec", 120_000_000)),
        "DelayInhibited": dbus.String(params.get("DelayInhibited", "")),
        "BlockInhibited": dbus.String(params.get("BlockInhibited", "")),
    }, signature="sv"))
    mockobject.objects[module.MAIN_OBJ] = obj

    loop = GLib.MainLoop()
    bus.add_signal_receiver(lambda *a: loop.quit(), signal_name="Disconnected",
                            path="/org/freedesktop/DBus/Local",
                            dbus_interface="org.freedesktop.DBus.Local")
    name = dbus.service.BusName(module.BUS_NAME, bus, allow_replacement=True,
                                replace_existing=True, do_not_queue=True)
    print("READY", flush=True)
    loop.run()
    del name


if __name__ == "__main__":
    main()
