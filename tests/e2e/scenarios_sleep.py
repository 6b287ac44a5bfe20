# SPDX-License-Identifier: LGPL-2.1-or-later
"""e2e scenarios 0-7: the install layout, the sleep paths (deep, s2idle, hibernate, a failing
write, a killed daemon), the hook's step and s2idle steering. Run by tests/e2e/run."""
import contextlib
import os
import re
import time

import e2e
from e2e import ts, msg, fmt_entry, is_daemon, daemon_id, daemon_rx, Skip
from harness import GUESTS, TDS, IGNORING, SHUTDOWN_TIMEOUT, KILL_SHUTDOWN_TIMEOUT


# ----------------------------------------------------------------------------------
# Scenarios


def sc_install(c):
    """meson install puts everything where systemd looks; the units work as installed."""
    env, T = c.env, c.env.tree.p
    problems, notes = [], []
    dirs = e2e.unit_search_dirs()

    def check_dir(kind, path):
        if os.path.dirname(path) not in dirs[kind]:
            problems.append("%s installed to %s: systemd 252 reads only %s" % (
                kind, path, ", ".join(dirs[kind])))

    unit = None
    for src, dst in sorted(env.installed.items()):
        if dst.endswith((".service", ".socket")):
            check_dir("system unit", dst)
            if dst.endswith("tdsleepd.service"):
                unit = open(T(dst)).read()
        elif "/system-sleep/" in dst:
            check_dir("sleep hook", dst)
            if not os.access(T(dst), os.X_OK):
                problems.append("sleep hook %s is not executable" % dst)
        elif "/logind.conf.d/" in dst:
            check_dir("logind drop-in", dst)
        elif "/sysusers.d/" in dst:
            check_dir("sysusers", dst)
        elif dst.endswith(".catalog"):
            if os.path.dirname(dst) not in ("/usr/lib/systemd/catalog", "/lib/systemd/catalog",
                                            "/usr/local/lib/systemd/catalog"):
                problems.append("journal catalog %s is not in a catalog dir journalctl reads" % dst)
    if unit is None:
        raise AssertionError("no tdsleepd.service installed: %s" % env.installed)
    exe = re.search(r"^ExecStart=(\S+)", unit, re.M).group(1)
    if not os.access(T(exe), os.X_OK):
        problems.append("ExecStart=%s does not exist in the installed tree" % exe)
    helptext = e2e.run(["nsenter", "-t", str(c.ct.leader), "-a", "--", exe, "--help"], check=False).stdout
    m = re.search(r"^The config: (\S+?),", helptext, re.M)
    if not m or os.path.dirname(env.config_path()) != m.group(1):
        problems.append("tdsleepd searches its config first in %s, but meson installs it as %s"
                        % (m.group(1) if m else "(no search path in --help)", env.config_path()))
    m = re.search(r"--state-dir=DIR.*\(default (\S+?)\)", helptext)
    sd = re.search(r"^StateDirectory=(\S+)", unit, re.M)
    if m and sd and m.group(1) != "/var/lib/" + sd.group(1):
        problems.append("tdsleepd keeps its state in %s (built-in default), but the unit's "
                        "StateDirectory=%s is /var/lib/%s; under ProtectSystem=strict only the latter "
                        "is writable" % (m.group(1), sd.group(1), sd.group(1)))
    # --- and at run time, in the booted container
    for u in ("tdsleepd.service", "tdsleepd.socket"):
        st = c.ct.show(u, "ActiveState")
        if st != "active":
            problems.append("%s is %s after boot" % (u, st))
    r = c.ct.run(["getent", "group", "tdsleep"], check=False)
    if r.returncode != 0:
        problems.append("group tdsleep not created by systemd-sysusers")
    r = c.ct.run(["busctl", "get-property", "org.freedesktop.login1", "/org/freedesktop/login1",
                  "org.freedesktop.login1.Manager", "InhibitDelayMaxUSec"], check=False)
    notes.append("logind InhibitDelayMaxUSec=%s" % r.stdout.strip().split()[-1] if r.stdout else "?")
    if r.stdout.strip() != "t 90000000":
        problems.append("logind's InhibitDelayMaxUSec is %r, not the installed drop-in's 90s" % r.stdout.strip())
    if any(dst.endswith(".catalog") for dst in env.installed.values()):
        # what a package's trigger does; then journalctl -x can explain the daemon's messages
        c.ct.run(["journalctl", "--update-catalog"], check=False)
        cat = c.ct.run(["journalctl", "--list-catalog", "--no-pager"], check=False).stdout
        missing = ["%s (%s)" % (mid, what) for what, mid in e2e.MSG_ALL.items() if mid not in cat]
        if missing:
            problems.append("journal catalog has no entry for %s" % ", ".join(missing))
        else:
            notes.append("catalog entries found")
    if problems:
        raise AssertionError("\n".join(problems))
    return "; ".join(notes)


def sc_suspend_deep(c):
    c.env.reset_power("s2idle [deep]")
    c.ready()
    w = c.start("suspend")
    c.wait_sleep_unit(w)
    c.wait_resumed(w)
    return c.assert_stopped_then_started(w)


def sc_suspend_s2idle(c):
    c.env.reset_power("[s2idle] deep")
    c.ready()
    w = c.start("suspend")
    c.wait_sleep_unit(w)
    c.wait_resumed(w)
    c.j.sync(c.ct)
    problems = []
    for name in GUESTS:
        evs = c.events(w, name)
        if evs:
            problems.append("%s was touched: %s" % (name, evs))
        if c.env.state(name) != "running":
            problems.append("%s is %s" % (name, c.env.state(name)))
    started = c.j.select(daemon_id(e2e.MSG_CYCLE_STARTED), w["mark"])
    if started and "survive" not in msg(started[0]):
        problems.append("daemon: %r" % msg(started[0]))
    with open(os.path.join(c.env.power, "mem_sleep")) as f:
        ms = f.read().strip()
    if ms != "[s2idle] deep":
        problems.append("mem_sleep is %r after the cycle, expected '[s2idle] deep'" % ms)
    problems += ["tdsleepd logged an error: %s" % fmt_entry(e) for e in c.daemon_errors(w)]
    if problems:
        raise AssertionError("\n".join(problems))
    return "no guest event; %s" % (msg(started[0]) if started else "no cycle logged")


def sc_hibernate(c):
    c.env.reset_power("s2idle [deep]")
    c.ready()
    w = c.start("hibernate")
    c.wait_sleep_unit(w)
    c.wait_resumed(w)
    res = c.ct.show(w["unit"], "Result")
    if res != "success":
        raise AssertionError("%s Result=%s (the fake hibernation should succeed)" % (w["unit"], res))
    return c.assert_stopped_then_started(w)


WRITEFAIL = "/etc/systemd/system/systemd-suspend.service.d/e2e-writefail.conf"


def sc_write_fails(c):
    c.env.reset_power("s2idle [deep]")
    c.ready()
    # e2e: systemd-sleep alone sees /dev/full as /sys/power/state: open works, write ENOSPC
    # (sorts after e2e-state.conf: the empty BindPaths= drops that copy first)
    c.ct.write(WRITEFAIL, "[Service]\nBindPaths=\nBindPaths=/dev/full:/sys/power/state\n")
    c.ct.run(["systemctl", "daemon-reload"])
    try:
        w = c.start("suspend")
        c.wait_sleep_unit(w)
        c.wait_resumed(w)
        res = c.ct.show(w["unit"], "Result")
        if res == "success":
            raise AssertionError("%s succeeded: the write to /sys/power/state did not fail" % w["unit"])
        return "sleep unit Result=%s; %s" % (res, c.assert_stopped_then_started(w))
    finally:
        c.ct.remove(WRITEFAIL)
        c.ct.run(["systemctl", "daemon-reload"], check=False)
        c.ct.run(["systemctl", "reset-failed", "systemd-suspend.service"], check=False)


def sc_kill_while_stopping(c):
    c.env.reset_power("s2idle [deep]")
    c.env.set_shutdown_timeout(KILL_SHUTDOWN_TIMEOUT)
    try:
        c.ready()
        pid0 = c.ct.show("tdsleepd.service", "MainPID")
        n0 = int(c.ct.show("tdsleepd.service", "NRestarts"))
        w = c.start("suspend")
        # busy: the ACPI TDs are down, the ignoring one is in its graceful-stop wait
        for name in TDS:
            if name != IGNORING:
                c.ev.wait(name, "STOPPED", 30, since=w["ev"])
        c.j.wait(daemon_rx(r"Shutting down TD %s\b" % IGNORING), w["mark"], 30,
                 "'Shutting down TD %s'" % IGNORING)
        if c.env.state(IGNORING) != "running":
            raise AssertionError("%s is not running any more: too late to kill the daemon" % IGNORING)
        c.ct.run(["systemctl", "kill", "-s", "KILL", "tdsleepd"])
        t_kill = time.time()
        c.wait_sleep_unit(w)
        c.wait_resumed(w)
        pid1 = c.ct.show("tdsleepd.service", "MainPID")
        n1 = int(c.ct.show("tdsleepd.service", "NRestarts"))
        problems = []
        if pid1 == pid0 or n1 != n0 + 1:
            problems.append("tdsleepd not restarted once: MainPID %s -> %s, NRestarts %d -> %d" % (
                pid0, pid1, n0, n1))
        if w["done"].get("_PID") != pid1:
            problems.append("'Resumed' came from pid %s, not the restarted daemon %s" % (
                w["done"].get("_PID"), pid1))
        if ts(w["sleep_start"]) < t_kill + 0.5:
            problems.append("%s started %.2fs after the kill: the delay lock did not survive it" % (
                w["unit"], ts(w["sleep_start"]) - t_kill))
        try:
            # the graceful stop was interrupted: the ignoring TD is forced off by the new daemon
            detail = c.assert_stopped_then_started(w)
        except AssertionError as e:
            problems.append(str(e))
            detail = ""
        if problems:
            raise AssertionError("\n".join(problems))
        return "restarted (pid %s -> %s), suspend began %.1fs after the kill; %s" % (
            pid0, pid1, ts(w["sleep_start"]) - t_kill, detail)
    finally:
        with contextlib.suppress(Exception):
            c.env.set_shutdown_timeout(SHUTDOWN_TIMEOUT)


def sc_hook_step(c):
    """The sleep hook passes the exact step (SYSTEMD_SLEEP_ACTION) to tdsleepd.

    Assertion, kept simple on purpose: our own hook (e2e-record) logs the value
    systemd-sleep put in SYSTEMD_SLEEP_ACTION for `pre`; after it, tdsleepd's journal has
    a line naming that value as the step: either a line with the word "step" and the
    value, or the daemon's "Prepare(OPERATION, STEP) from the control socket" with
    STEP equal to the value. Skipped while tdsleepctl is not installed (the hook then
    does nothing)."""
    if not any(os.access(c.env.tree.p(d + "/tdsleepctl"), os.X_OK)
               for d in ("/usr/local/bin", "/usr/local/sbin", "/usr/bin", "/usr/sbin")):
        raise Skip("tdsleepctl is not installed in the tree (the sleep hook then does nothing)")
    c.env.reset_power("s2idle [deep]")
    c.ready()
    w = c.start("suspend")
    c.wait_sleep_unit(w)
    c.wait_resumed(w)
    c.j.sync(c.ct)
    rec = c.j.select(lambda e: e.get("SYSLOG_IDENTIFIER") == "e2e-hook" and msg(e).startswith("e2e-hook pre "),
                     w["mark"])
    if not rec:
        raise AssertionError("our e2e-record hook did not run for `pre`")
    m = re.search(r"SYSTEMD_SLEEP_ACTION=(\S*)", msg(rec[0]))
    action = m.group(1) if m else ""
    if not action:
        raise AssertionError("systemd-sleep set no SYSTEMD_SLEEP_ACTION: %r" % msg(rec[0]))
    a = re.escape(action)
    rx = re.compile(r"(\bstep\b.*\b%s\b|\b%s\b.*\bstep\b|Prepare\([^,()]+, %s\))" % (a, a, a), re.I)
    lines = [e for e in c.j.select(is_daemon, w["mark"]) if rx.search(msg(e)) and ts(e) >= ts(rec[0]) - 1]
    if not lines:
        raise AssertionError("SYSTEMD_SLEEP_ACTION=%s, but no tdsleepd journal line names it as the step "
                             "(want 'step ... %s' or 'Prepare(OPERATION, %s)')" % (action, action, action))
    detail = c.assert_stopped_then_started(w)
    return "SYSTEMD_SLEEP_ACTION=%s -> %r; %s" % (action, msg(lines[0]), detail)


def sc_s2idle_steering(c):
    """OnDeepSleep=s2idle: with deep selected, tdsleepd writes s2idle into mem_sleep for
    the cycle (under ProtectKernelTunables= with ReadWritePaths=/sys/power/mem_sleep),
    no TD is touched, and deep is selected again after resume."""
    c.env.reset_power("s2idle [deep]")
    c.env.set_config(OnDeepSleep="s2idle")
    try:
        c.ready()
        w = c.start("suspend")
        c.wait_sleep_unit(w)
        c.wait_resumed(w)
        c.j.sync(c.ct)
        problems = []
        sel = c.j.select(daemon_rx(r"Selected s2idle in /sys/power/mem_sleep"), w["mark"])
        rest = c.j.select(daemon_rx(r"Restored deep in /sys/power/mem_sleep"), w["mark"])
        if not sel:
            problems.append("no 'Selected s2idle in /sys/power/mem_sleep' from tdsleepd")
        elif ts(sel[0]) > ts(w["sleep_start"]):
            problems.append("s2idle selected after %s started" % w["unit"])
        if not rest:
            problems.append("no 'Restored deep in /sys/power/mem_sleep' from tdsleepd")
        with open(os.path.join(c.env.power, "mem_sleep")) as f:
            ms = f.read().strip()
        if ms != "deep":
            problems.append("mem_sleep holds %r after the cycle; tdsleepd should have written 'deep'" % ms)
        for name in GUESTS:
            if c.events(w, name):
                problems.append("%s was touched: %s" % (name, c.events(w, name)))
        problems += ["tdsleepd logged an error: %s" % fmt_entry(e) for e in c.daemon_errors(w)]
        if problems:
            raise AssertionError("\n".join(problems))
        return "%s; %s" % (msg(sel[0]), msg(rest[0]))
    finally:
        c.env.reset_power("s2idle [deep]")
        with contextlib.suppress(Exception):
            c.env.set_config()
