# SPDX-License-Identifier: LGPL-2.1-or-later
"""tests/package/run's steps: install, a suspend cycle, the upgrades (idle, mid-cycle,
drained), remove and purge, each checked inside the e2e container, and the tree
snapshot that purge compares. Imported with tests/e2e and tests/package on sys.path."""
import contextlib
import glob
import json
import os
import re
import time

import e2e
from e2e import ts, msg, fmt_entry, daemon_rx, unit_msg
import harness as E2E

MODERN = E2E.modern            # tests/modern's module when TDSLEEP_E2E_ROOT is set

DEB_DIR = "/root/debs"                          # in the container
CONFIG = "/etc/tdsleep/tdsleepd.conf"
STATE_DIR = "/var/lib/tdsleep"
SENTINEL = STATE_DIR + "/package-test-sentinel"
HOLD_REASON = "package upgrade test"
MIDCYCLE_TIMEOUT = "20s"        # td-ignore's graceful wait while the upgrade runs
HELPER_UNIT = "tdsleepd-restart-when-idle.service"
SD_MSG_UNIT_STOPPING = "de5b426a63be47a7b6ac3eaac82e2f6f"
SD_MSG_UNIT_SUCCESS = "7ad2d189f7e94e70a38c781354912448"      # "Deactivated successfully"
CATALOG_IDS = (e2e.MSG_CYCLE_STARTED, e2e.MSG_LOCK_RELEASED, e2e.MSG_CYCLE_DONE)

# The tree is compared before install and after purge (piuparts' discipline). Paths
# that change whatever is installed are not compared, as piuparts ignores them.
IGNORED = [r"^/var/log(/|$)", r"^/var/cache/(apt|debconf|ldconfig)(/|$)", r"^/var/lib/apt(/|$)",
           r"^/var/lib/dpkg(/|$)", r"^/var/lib/systemd/(catalog|deb-systemd-helper-enabled|"
           r"deb-systemd-user-helper-enabled|timers|random-seed)(/|$)", r"^/etc/ld\.so\.cache$",
           r"^/var/lib/ucf(/|$)", r"^/root/debs(/|$)", r"^/var/tmp(/|$)", r"^/tmp(/|$)", r"^/run(/|$)"]
# What may stay after a purge, and why (reported in the tier's output).
JUSTIFIED = {
    "/etc/group-": "systemd-sysusers' backup of /etc/group, made when it added the tdsleep group",
    "/etc/gshadow-": "systemd-sysusers' backup of /etc/gshadow, made when it added the tdsleep group",
}


def tree_snapshot(root):
    """Every path in the tree (not below the ignored ones) -> its type."""
    rx = re.compile("|".join(IGNORED))
    snap = {}
    for d, dirs, files in os.walk(root):
        rel = "/" + os.path.relpath(d, root) if d != root else "/"
        keep = []
        for n in dirs:
            p = os.path.join(rel, n)
            if rx.search(p):
                continue
            if os.path.islink(os.path.join(d, n)):
                snap[p] = "link"
            else:
                snap[p] = "dir"
                keep.append(n)
        dirs[:] = keep
        for n in files:
            p = os.path.join(rel, n)
            if not rx.search(p):
                snap[p] = "link" if os.path.islink(os.path.join(d, n)) else "file"
    return snap


# ----------------------------------------------------------------------------------
# Steps


class Steps:
    def __init__(self, env, c, versions, steps):
        self.env = env
        self.steps = steps
        self.c = c
        self.ct = env.ct
        self.v1, self.v2, self.v3 = (list(versions) + [None, None])[:3]
        self.before = None
        self.xfail = []

    def apt(self, *args, timeout=300):
        r = self.ct.run(["env", "DEBIAN_FRONTEND=noninteractive", "apt-get", "-q", "-y",
                         "-o", "Dpkg::Use-Pty=0"] + list(args), check=False, timeout=timeout)
        if r.returncode != 0:
            raise AssertionError("apt-get %s failed (exit %d):\n%s%s" % (
                " ".join(args), r.returncode, r.stdout[-3000:], r.stderr[-3000:]))
        return r.stdout + r.stderr

    def deb(self, version):
        return "%s/tdsleep_%s_amd64.deb" % (DEB_DIR, version)

    def installed_version(self):
        r = self.ct.run(["dpkg-query", "-W", "-f=${db:Status-Abbrev}|${Version}", "tdsleep"], check=False)
        return r.stdout.strip() if r.returncode == 0 else ""

    def status(self):
        r = self.ct.run(["tdsleepctl", "--json", "status"], check=False)
        # 5-8: status's health codes (tdsleepctl(1)); the reply is there all the same
        if r.returncode not in (0, 5, 6, 7, 8):
            raise AssertionError("tdsleepctl status failed: %s%s" % (r.stdout, r.stderr))
        return json.loads(r.stdout)["status"]

    def show(self, unit, prop):
        return self.ct.show(unit, prop)

    def exists(self, path):
        return os.path.lexists(self.env.tree.p(path))

    # --- install
    def install(self):
        problems, notes = [], []
        if not MODERN:
            self.apt("update")
            had_libvirt = self.ct.run(["dpkg-query", "-W", "libvirt0"], check=False).returncode == 0
            if had_libvirt:
                raise AssertionError("libvirt0 is in the tree before the install: apt would resolve nothing")
        if "purge" in self.steps:       # piuparts: the tree before, compared after the purge
            self.before = tree_snapshot(self.env.tree.root)
        mark = self.c.j.mark()
        # Recommends: libvirt-daemon-system would start a second, unused libvirtd in
        # the container: tdsleepd here talks to the host's private one.
        out = self.apt("install", "--no-install-recommends", self.deb(self.v1))
        self.install_output = out
        if self.installed_version() != "ii |%s" % self.v1:
            problems.append("dpkg says %r after the install" % self.installed_version())
        if MODERN:
            # the tree holds the build and test dependencies (libvirt0 and the rest): apt
            # checked that trixie satisfies every Depends, and had nothing to fetch
            notes.append("Depends satisfied by Debian 13 (installed in the tree: %s)" % self.ct.run(
                ["dpkg-query", "-W", "-f=${Package} ${Version}", "libvirt0"], check=False).stdout.strip())
        elif self.ct.run(["dpkg-query", "-W", "libvirt0"], check=False).returncode != 0:
            problems.append("libvirt0 was not installed from the mirror")
        else:
            notes.append("dependencies from the mirror: %s" % " ".join(
                re.findall(r"^Get:\d+ http\S+ \S+ \S+ (\S+)", out, re.M)[:5]) + " ...")
        for u in ("tdsleepd.socket", "tdsleepd.service"):
            if self.show(u, "ActiveState") != "active":
                problems.append("%s is %s" % (u, self.show(u, "ActiveState")))
            if self.show(u, "UnitFileState") != "enabled":
                problems.append("%s is %s, not enabled" % (u, self.show(u, "UnitFileState")))
        if self.ct.run(["getent", "group", "tdsleep"], check=False).returncode != 0:
            problems.append("no group tdsleep")
        grp = self.ct.run(["stat", "-c", "%G", "/run/tdsleep/io.tdsleep.Manager"], check=False).stdout.strip()
        if grp != "tdsleep":
            problems.append("the control socket's group is %r, not tdsleep" % grp)
        # journald's trigger (interest-noawait on the catalog dir) ran: nothing by hand
        cat = self.ct.run(["journalctl", "--list-catalog", "--no-pager"], check=False).stdout
        missing = [m for m in CATALOG_IDS if m not in cat]
        if missing:
            problems.append("the catalog has no entry for %s (journald's trigger did not run?)" % missing)
        conffiles = self.ct.run(["dpkg-query", "-W", "-f=${Conffiles}", "tdsleep"]).stdout
        if CONFIG not in conffiles:
            problems.append("%s is not a conffile: %r" % (CONFIG, conffiles))
        # logind started before the drop-in came: the postinst and tdsleepd say what to do
        if "systemctl restart systemd-logind" not in out:
            problems.append("the postinst did not say how logind picks up InhibitDelayMaxSec=90:\n" + out[-1500:])
        warn = self.c.j.wait(daemon_rx(r"InhibitDelayMaxSec is 5s"), mark, 30, "tdsleepd's logind warning")
        if "systemctl restart systemd-logind" not in msg(warn):
            problems.append("tdsleepd's warning does not say what to do: %r" % msg(warn))
        if problems:
            raise AssertionError("\n".join(problems))
        # what the operator does next (nobody is logged in to the container)
        self.ct.run(["systemctl", "restart", "systemd-logind"])
        delay = self.ct.run(["busctl", "get-property", "org.freedesktop.login1", "/org/freedesktop/login1",
                             "org.freedesktop.login1.Manager", "InhibitDelayMaxUSec"]).stdout.strip()
        if delay != "t 90000000":
            raise AssertionError("logind's InhibitDelayMaxUSec after its restart: %r, not 90 s" % delay)
        notes.append("group, socket group, units, catalog, conffile; logind 90s after the advised restart")
        return "; ".join(notes)

    def suspend_cycle(self):
        self.env.reset_power("s2idle [deep]")
        self.c.ready()
        w = self.c.start("suspend")
        self.c.wait_sleep_unit(w)
        self.c.wait_resumed(w)
        return self.c.assert_stopped_then_started(w)

    # --- upgrade between cycles
    def upgrade_idle(self):
        self.c.ready()
        self.ct.run(["sh", "-c", "echo kept > %s" % SENTINEL])
        self.ct.run(["tdsleepctl", "hold", HOLD_REASON])
        held = self.status()
        if held.get("hold") != HOLD_REASON or not (held.get("holdInfo") or {}).get("stored"):
            raise AssertionError("tdsleepctl hold did not take, or was not stored: %r" % held.get("holdInfo"))
        pid0 = self.show("tdsleepd.service", "MainPID")
        mark = self.c.j.mark()
        out = self.apt("install", "--no-install-recommends", self.deb(self.v2))
        problems = []
        if self.installed_version() != "ii |%s" % self.v2:
            problems.append("dpkg says %r after the upgrade" % self.installed_version())
        pid1 = self.show("tdsleepd.service", "MainPID")
        if pid1 == pid0 or pid1 == "0":
            problems.append("tdsleepd not restarted by the upgrade: MainPID %s -> %s" % (pid0, pid1))
        if "restarted tdsleepd" not in out:
            problems.append("the postinst did not report the restart:\n" + out[-1500:])
        if "gives no sleep delay lock" in out:
            problems.append("the restart ran without the helper's own sleep delay lock:\n" + out[-1500:])
        running = daemon_rx(r"running: libvirt")
        try:
            self.c.j.wait(lambda e: running(e) and e.get("_PID") == pid1, mark, 20,
                          "the new tdsleepd's (pid %s) start" % pid1)
        except AssertionError as e:
            problems.append(str(e))
        if self.ct.run(["cat", SENTINEL], check=False).stdout.strip() != "kept":
            problems.append("%s did not survive the upgrade" % SENTINEL)
        self.c.ready()
        if problems:
            self.ct.run(["tdsleepctl", "release"], check=False)
            raise AssertionError("\n".join(problems))
        try:
            self.check_hold_survived(held["holdInfo"], pid1, mark)
        finally:
            self.ct.run(["tdsleepctl", "release"])
        if self.exists("/var/lib/tdsleep/hold.json"):
            raise AssertionError("tdsleepctl release left /var/lib/tdsleep/hold.json")
        return "MainPID %s -> %s; %s kept; hold restored (same owner and start, block lock back); postinst: %s" % (
            pid0, pid1, SENTINEL, " / ".join(line.strip() for line in out.splitlines()
                                             if "tdsleep-restart-when-idle:" in line))

    def check_hold_survived(self, before, pid1, mark):
        """The new tdsleepd took the hold back from /var/lib/tdsleep/hold.json: same reason,
        owner and start, its block lock in logind again, and the journal says so."""
        self.c.j.wait(lambda e: daemon_rx(r"Restored the operator's hold \"%s\"" % re.escape(HOLD_REASON))(e)
                      and e.get("_PID") == pid1, mark, 20, "the new tdsleepd restoring the hold")
        after = self.status().get("holdInfo")
        if after != before:
            raise AssertionError("the hold after the upgrade differs: %r, before: %r" % (after, before))
        deadline = time.time() + 20
        while True:
            locks = self.ct.run(["systemd-inhibit", "--list", "--no-pager", "--no-legend"], check=False).stdout
            if any("tdsleepd" in line and "block" in line and HOLD_REASON in line for line in locks.splitlines()):
                return
            if time.time() > deadline:
                raise AssertionError("no block lock with the hold's reason after the upgrade:\n" + locks)
            time.sleep(0.5)

    # --- upgrade in the middle of a prepare
    def upgrade_midcycle(self):
        env, c = self.env, self.c
        env.reset_power("s2idle [deep]")
        env.set_config(MIDCYCLE_TIMEOUT)
        try:
            c.ready()
            pid0 = self.show("tdsleepd.service", "MainPID")
            w = c.start("suspend")
            # the ACPI TDs are down, the ignoring one is in its graceful wait: mid-prepare
            for name in E2E.TDS:
                if name != E2E.IGNORING:
                    c.ev.wait(name, "STOPPED", 30, since=w["ev"])
            c.j.wait(daemon_rx(r"Shutting down TD %s\b" % E2E.IGNORING), w["mark"], 30,
                     "'Shutting down TD %s'" % E2E.IGNORING)
            phase0 = self.status()["phase"]
            out = self.apt("install", "--no-install-recommends", self.deb(self.v3))
            t_apt = time.time()
            phase1 = self.status()["phase"]
            problems = []
            if phase0 != "preparing" or phase1 != "preparing":
                problems.append("the upgrade did not run mid-prepare (phase %s before, %s after; raise "
                                "MIDCYCLE_TIMEOUT?)" % (phase0, phase1))
            if self.installed_version() != "ii |%s" % self.v3:
                problems.append("dpkg says %r after the upgrade" % self.installed_version())
            if self.show("tdsleepd.service", "MainPID") != pid0:
                problems.append("tdsleepd was restarted during the prepare")
            if "deferred until the cycle ends" not in out:
                problems.append("the postinst did not say the restart is deferred:\n" + out[-1500:])
            if self.show(HELPER_UNIT, "ActiveState") not in ("active", "activating"):
                problems.append("%s is %s" % (HELPER_UNIT, self.show(HELPER_UNIT, "ActiveState")))
            c.wait_sleep_unit(w)
            c.wait_resumed(w)
            restarted = c.j.wait(lambda e: e.get("_SYSTEMD_UNIT") == HELPER_UNIT and
                                 "restarted tdsleepd" in msg(e), w["mark"], 60,
                                 "the deferred restart by %s" % HELPER_UNIT)
            try:        # the helper is done once tdsleepd runs again
                c.j.wait(unit_msg(HELPER_UNIT, SD_MSG_UNIT_SUCCESS), w["mark"], 60,
                         "'%s: Deactivated successfully'" % HELPER_UNIT)
            except AssertionError as e:
                problems.append("%s; it is %s, Result=%s" % (e, self.show(HELPER_UNIT, "ActiveState"),
                                                            self.show(HELPER_UNIT, "Result")))
            c.j.sync(self.ct)
            if c.j.select(lambda e: e.get("_SYSTEMD_UNIT") == HELPER_UNIT and
                          "gives no sleep delay lock" in msg(e), w["mark"]):
                problems.append("the deferred restart ran without the helper's own sleep delay lock")
            stops = c.j.select(unit_msg("tdsleepd.service", SD_MSG_UNIT_STOPPING), w["mark"])
            if not stops:
                problems.append("systemd never stopped tdsleepd for the deferred restart")
            elif ts(stops[0]) < ts(w["done"]):
                problems.append("tdsleepd stopped at %s, before its cycle ended (%s)" % (
                    fmt_entry(stops[0]), fmt_entry(w["done"])))
            pid1 = self.show("tdsleepd.service", "MainPID")
            if pid1 == pid0:
                problems.append("tdsleepd still runs as pid %s after the deferred restart" % pid0)
            if w["done"].get("_PID") != pid0:
                problems.append("the cycle was finished by pid %s, not by the daemon that began it (%s)" % (
                    w["done"].get("_PID"), pid0))
            try:
                detail = c.assert_stopped_then_started(w)
            except AssertionError as e:
                problems.append(str(e))
                detail = ""
            if problems:
                raise AssertionError("\n".join(problems))
            said = [line.strip() for line in out.splitlines() if "deferred" in line]
            return ("upgraded %.1fs before the cycle ended, phase %s, postinst: %r; restarted %.1fs after the "
                    "cycle (pid %s -> %s), the helper unit exited; %s" % (
                        ts(w["done"]) - t_apt, phase1, said[0] if said else "", ts(restarted) - ts(w["done"]),
                        pid0, pid1, detail))
        finally:
            with contextlib.suppress(Exception):
                env.set_config()

    # --- upgrade during a maintenance drain
    def upgrade_drained(self):
        """drain, upgrade (a reinstall of the same version runs the same postinst path),
        restore. Whatever phase tdsleepd reports while drained, the TDs stay stopped
        until the restore and are all running after it."""
        c = self.c
        c.ready()
        self.ct.run(["tdsleepctl", "drain"], timeout=60)
        st = self.status()
        if st.get("tdsRunning") != 0:
            raise AssertionError("TDs still running after the drain: %r" % st)
        pid0 = self.show("tdsleepd.service", "MainPID")
        mark = c.j.mark()
        out = self.apt("install", "--reinstall", "--no-install-recommends", self.deb(self.v3))
        pid1 = self.show("tdsleepd.service", "MainPID")
        problems = []
        if st["phase"] == "idle":
            how = "restarted at once (a drain is idle between cycles and lasts across restarts)"
            if pid1 == pid0:
                problems.append("phase idle while drained, but tdsleepd was not restarted")
            st1 = self.status()
            if not st1.get("drained") or st1.get("tdsRunning") != 0:
                problems.append("the drain did not survive the restart: %r" % st1)
        else:
            how = "deferred until the restore"
            if pid1 != pid0:
                problems.append("tdsleepd restarted in phase %s while drained" % st["phase"])
            if "deferred until the cycle ends" not in out:
                problems.append("the postinst did not say the restart is deferred:\n" + out[-1500:])
        if any(self.env.state(n) == "running" for n in E2E.TDS):
            problems.append("a drained TD runs again before the restore: %s" % {
                n: self.env.state(n) for n in E2E.TDS})
        self.ct.run(["tdsleepctl", "restore"], timeout=60)
        if how.startswith("deferred"):
            try:
                c.j.wait(unit_msg(HELPER_UNIT, SD_MSG_UNIT_SUCCESS), mark, 60,
                         "the deferred restart after the restore")
            except AssertionError as e:
                problems.append(str(e))
            if self.show("tdsleepd.service", "MainPID") == pid0:
                problems.append("tdsleepd not restarted after the restore")
        c.ready()
        if problems:
            raise AssertionError("\n".join(problems))
        return "phase %s while drained: %s; pid %s -> %s; every TD running after the restore" % (
            st["phase"], how, pid0, self.show("tdsleepd.service", "MainPID"))

    # --- remove
    def remove(self):
        self.apt("remove", "tdsleep")
        problems = []
        st = self.installed_version()
        if not st.startswith("rc"):
            problems.append("dpkg status %r after remove, want rc (config files kept)" % st)
        for u in ("tdsleepd.service", "tdsleepd.socket", HELPER_UNIT):
            if self.show(u, "ActiveState") not in ("inactive", "failed"):
                problems.append("%s is %s after remove" % (u, self.show(u, "ActiveState")))
            if self.show(u, "LoadState") == "loaded":
                problems.append("%s is still loaded (unit file left?)" % u)
        # Debian keeps the enablement state (the links, dangling now, and
        # deb-systemd-helper's record) as configuration until purge, so that a
        # reinstall keeps the admin's choice; the units cannot load or start.
        links = glob.glob(self.env.tree.p("/etc/systemd/system/*/tdsleepd.*"))
        if any(os.path.exists(p) for p in links):
            problems.append("enablement links still point to unit files: %s" % links)
        for p in (CONFIG, SENTINEL):
            if not self.exists(p):
                problems.append("%s is gone after remove (only purge may remove it)" % p)
        for p in ("/usr/sbin/tdsleepd", "/usr/bin/tdsleepctl", "/lib/systemd/system-sleep/tdsleep"):
            if self.exists(p):
                problems.append("%s is still there after remove" % p)
        if problems:
            raise AssertionError("\n".join(problems))
        return "units inactive, not loadable (%d enablement links dangle until purge); %s and %s kept" % (
            len(links), CONFIG, SENTINEL)

    # --- purge
    def purge(self):
        self.apt("purge", "tdsleep")
        # piuparts: the dependencies the package pulled in go too
        self.apt("autoremove", "--purge")
        problems, leftovers = [], []
        if self.installed_version():
            problems.append("dpkg still knows tdsleep: %r" % self.installed_version())
        for p in ("/etc/tdsleep", STATE_DIR):
            if self.exists(p):
                problems.append("%s is left after purge" % p)
        for pat in ("/etc/systemd/system/*/tdsleepd.*", "/var/lib/systemd/deb-systemd-helper-*/*tdsleep*"):
            for p in glob.glob(self.env.tree.p(pat)):
                problems.append("%s is left after purge" % p)
        if self.ct.run(["test", "-e", "/run/tdsleep"], check=False).returncode == 0:
            problems.append("/run/tdsleep is left after purge")
        cat = self.ct.run(["journalctl", "--list-catalog", "--no-pager"], check=False).stdout
        if any(m in cat for m in CATALOG_IDS):
            problems.append("the journal catalog still has tdsleep's entries")
        if self.ct.run(["dpkg-query", "-W", "libvirt0"], check=False).returncode == 0:
            problems.append("libvirt0 (pulled in by tdsleep) was not autoremoved")
        after = tree_snapshot(self.env.tree.root)
        for p in sorted(set(after) - set(self.before)):
            if p in JUSTIFIED:
                leftovers.append("%s (%s)" % (p, JUSTIFIED[p]))
            else:
                problems.append("left after purge: %s (%s)" % (p, after[p]))
        for p in sorted(set(self.before) - set(after)):
            if p == "/etc/tdsleep" or p.startswith("/etc/tdsleep/"):
                continue        # the test's drop-in: purge removes /etc/tdsleep whole
            problems.append("gone after purge, but there before the install: %s" % p)
        named = [p for p in after if "tdsleep" in p and p in self.before]
        test_own = [p for p in named if p.startswith("/etc/systemd/system/tdsleepd.service.d")]
        if set(named) - set(test_own):
            problems.append("paths named tdsleep that were there before (test files?): %s" % (
                sorted(set(named) - set(test_own))))
        if self.ct.run(["getent", "group", "tdsleep"], check=False).returncode == 0:
            leftovers.append("group tdsleep in /etc/group (Debian leaves system groups: files may still "
                             "belong to it)")
        if problems:
            raise AssertionError("\n".join(problems))
        self.leftovers = leftovers
        return "left: " + ("; ".join(leftovers) if leftovers else "nothing")


# ----------------------------------------------------------------------------------
