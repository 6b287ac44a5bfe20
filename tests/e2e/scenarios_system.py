# SPDX-License-Identifier: LGPL-2.1-or-later
"""e2e scenarios 8-13: a CPU package onlined, a supplementary group, the hook's fallback,
logind restarted, metrics and history. Run by tests/e2e/run."""
import contextlib
import json
import os
import re
import threading
import time

import e2e
from e2e import log, ts, msg, fmt_entry, is_daemon, daemon_id, daemon_rx, Skip
from harness import BUILD, TDS, IGNORING, SHUTDOWN_TIMEOUT, FAKE_CPU_DIR


def sc_cpu_online(c):
    """A CPU package with no online CPU: before stopping TDs tdsleepd brings one online
    (OnlineCPUs=yes), writing cpuN/online under ReadWritePaths=/sys/devices/system/cpu.
    The fake topology (cpu0 in package 0, cpu1 offline alone in package 1) is bound over
    /sys/devices/system/cpu inside the container, and tdsleepd restarted to read it (no
    udev events reach a container). Unlike a real kernel the offline cpu1 keeps its
    topology/ dir, so the daemon knows its package at once."""
    c.env.reset_power("s2idle [deep]")
    c.env.reset_cpus(cpu1_online=False)
    CPU = "/sys/devices/system/cpu"
    c.ct.run(["mount", "--bind", FAKE_CPU_DIR, CPU])
    try:
        mark = c.j.mark()
        c.ct.run(["systemctl", "restart", "tdsleepd.service"])     # re-reads the topology
        c.j.wait(daemon_rx(r"running: libvirt"), mark, 30, "tdsleepd's start")
        c.ready()
        w = c.start("suspend")
        c.wait_sleep_unit(w)
        c.wait_resumed(w)
        problems = []
        try:
            detail = c.assert_stopped_then_started(w)
        except AssertionError as e:
            problems.append(str(e))
            detail = ""
        empty = c.j.select(daemon_rx(r"CPU package 1 has no online CPU"), mark)
        if not empty:
            problems.append("tdsleepd did not report the empty CPU package 1 at start")
        on = c.j.select(daemon_rx(r"Brought \d+ CPUs? online"), w["mark"])
        if not on:
            problems.append("no 'Brought 1 CPU online' from tdsleepd")
        elif ts(on[0]) > ts(w["sleep_start"]):
            problems.append("CPU brought online after %s started" % w["unit"])
        with open(os.path.join(c.env.cpus, "cpu1/online")) as f:
            v = f.read().strip()
        if v != "1":
            problems.append("cpu1/online is %r: tdsleepd did not write 1" % v)
        if problems:
            raise AssertionError("\n".join(problems))
        return "%s; %s" % (msg(on[0]), detail)
    finally:
        c.ct.run(["umount", CPU], check=False)
        c.env.reset_cpus()
        c.ct.run(["systemctl", "restart", "tdsleepd.service"], check=False)


def sc_supplementary_group(c):
    """A user who is in tdsleep only as a supplementary group (usermod -aG) may read
    and not change, under the installed hardened unit: tdsleepd reads the caller's groups
    with SO_PEERGROUPS (ProtectProc=invisible hides the caller's /proc/PID/status)."""
    ctl = next((d + "/tdsleepctl" for d in ("/usr/local/bin", "/usr/bin")
                if os.access(c.env.tree.p(d + "/tdsleepctl"), os.X_OK)), None)
    if ctl is None:
        raise Skip("tdsleepctl is not installed in the tree")
    unit = c.ct.run(["systemctl", "cat", "tdsleepd.service"]).stdout
    if not re.search(r"^ProtectProc=invisible", unit, re.M):
        raise AssertionError("the installed unit no longer has ProtectProc=invisible: this scenario proves nothing")
    c.ct.run(["useradd", "--no-create-home", "--no-user-group", "--gid", "users", "e2e-operator"], check=False)
    c.ct.run(["usermod", "-aG", "tdsleep", "e2e-operator"])
    ids = c.ct.run(["id", "e2e-operator"]).stdout.strip()
    if "gid=100(users)" not in ids or "tdsleep" not in ids:
        raise AssertionError("e2e-operator should have primary group users and tdsleep as a supplementary one: " + ids)
    as_op = ["setpriv", "--reuid=e2e-operator", "--regid=users", "--init-groups", "--", ctl]
    st = c.ct.run(as_op + ["status"], check=False)
    # 5-8 are status's health codes: the read worked, the host has something to say
    if st.returncode not in (0, 5, 6, 7, 8):
        raise AssertionError("tdsleepctl status as a supplementary member of tdsleep: exit %d: %s"
                             % (st.returncode, st.stderr.strip()))
    dr = c.ct.run(as_op + ["drain"], check=False)
    if dr.returncode != 4 or "PermissionDenied" not in dr.stderr:
        raise AssertionError("tdsleepctl drain as a non-root member of tdsleep: want exit 4 and PermissionDenied, "
                             "got exit %d: %s" % (dr.returncode, dr.stderr.strip()))
    return "%s: status ok, drain refused (%s)" % (ids, dr.stderr.strip())


MSG_HOOK_S2IDLE = "3c1e0f9b6a2d4e07b8f5d2c4a9e17b36"      # cli/hook-fallback.c


def sc_hook_fallback(c):
    """tdsleepd stopped: the installed sleep hook, given no answer, selects s2idle for a
    suspend itself and logs it at crit with its MESSAGE_ID (systemd-sleep would ignore
    a failing hook and sleep in S3 with TDs running)."""
    if not any(os.access(c.env.tree.p(d + "/tdsleepctl"), os.X_OK) for d in ("/usr/local/bin", "/usr/bin")):
        raise Skip("tdsleepctl is not installed in the tree")
    hook = next((h for h in c.env.installed.values() if "/system-sleep/" in h), None)
    if hook is None:
        raise AssertionError("no sleep hook installed")
    c.env.reset_power("s2idle [deep]")
    c.ready()
    mark = c.j.mark()
    try:
        c.ct.run(["systemctl", "stop", "tdsleepd.socket", "tdsleepd.service"])
        r = c.ct.run(["env", "SYSTEMD_SLEEP_ACTION=suspend", hook, "pre", "suspend"], check=False)
        with open(os.path.join(c.env.power, "mem_sleep")) as f:
            mem_sleep = f.read().strip()
        c.j.sync(c.ct)
        crit = c.j.select(lambda e: e.get("MESSAGE_ID") == MSG_HOOK_S2IDLE, mark)
    finally:
        c.ct.run(["systemctl", "start", "tdsleepd.socket", "tdsleepd.service"], check=False)
        c.env.reset_power("s2idle [deep]")
    if mem_sleep != "s2idle":
        raise AssertionError("the hook did not select s2idle: mem_sleep=%r, exit %d: %s"
                             % (mem_sleep, r.returncode, r.stderr.strip()))
    if not crit or crit[0].get("PRIORITY") != "2":
        raise AssertionError("no crit journal entry with MESSAGE_ID=%s: %s" % (MSG_HOOK_S2IDLE, crit))
    c.ready()
    return "exit %d; mem_sleep=s2idle; journal: %s" % (r.returncode, msg(crit[0]))


def sc_logind_restart_keeps_lock(c):
    """Issue 9 (7): logind restores its inhibitors from /run/systemd/inhibit when it
    restarts, so tdsleepd keeps its delay lock across a logind restart rather than
    closing it (which would open a window with no lock at all). Checked with real
    logind: the lock is still listed afterwards, tdsleepd says it kept it and did not
    take a new one, and the next suspend still waits for it (TDs stopped first).
    An operator's hold rides along: its block lock is kept across logind's restart, and
    across the SIGKILL of tdsleepd that follows (the fd store keeps it too): logind lists
    it at every look from the kill until the restarted daemon has decided, and the hold
    still shows after the restart."""
    c.env.reset_power("s2idle [deep]")
    c.ready()
    ctl = tdsleepctl_path(c)
    c.ct.run([ctl, "hold", HOLD_REASON])
    try:
        return _logind_restart_keeps_lock(c, ctl)
    finally:
        c.ct.run([ctl, "release"], check=False)


HOLD_REASON = "e2e: kept across restarts"


def tdsleepctl_path(c):
    ctl = next((d + "/tdsleepctl" for d in ("/usr/local/bin", "/usr/bin")
                if os.access(c.env.tree.p(d + "/tdsleepctl"), os.X_OK)), None)
    if ctl is None:
        raise Skip("tdsleepctl is not installed in the tree")
    return ctl


def block_locks(c, check=True):
    """tdsleepd's sleep block locks as logind lists them now (systemd-inhibit --list);
    None when the listing failed (check=False)."""
    r = c.ct.run(["systemd-inhibit", "--list", "--no-pager", "--no-legend"], check=check)
    if r.returncode != 0:
        return None
    return [ln for ln in r.stdout.splitlines() if re.search(r"tdsleepd.*\bsleep\b.*\bblock\b", ln)]


class BlockLockSampler:
    """Looks at logind's inhibitors over and over (on a thread) until stopped: how many
    looks, and the ones that found no block lock of tdsleepd."""

    def __init__(self, c):
        self.c, self.looks, self.empty, self.failed, self.stopping = c, 0, [], 0, False
        self.thread = threading.Thread(target=self._run, name="block-locks", daemon=True)
        self.thread.start()

    def _run(self):
        while not self.stopping:
            t, found = time.time(), block_locks(self.c, check=False)
            if found is None:       # systemd-inhibit itself failed: no look at all
                self.failed += 1
                continue
            self.looks += 1
            if not found:
                self.empty.append(time.strftime("%H:%M:%S", time.localtime(t)) + ".%03d" % (int(t * 1000) % 1000))

    def stop(self):
        self.stopping = True
        self.thread.join(30)


def _logind_restart_keeps_lock(c, ctl):
    pid0 = c.ct.show("systemd-logind.service", "MainPID")
    mark = c.j.mark()
    c.ct.run(["systemctl", "restart", "systemd-logind.service"])
    c.j.wait(daemon_rx(r"logind kept our locks across its restart|logind does not know our delay lock"),
             mark, 30, "tdsleepd's reaction to the logind restart")
    pid1 = c.ct.show("systemd-logind.service", "MainPID")
    tdpid = c.ct.show("tdsleepd.service", "MainPID")
    problems = []
    if pid1 == pid0:
        problems.append("systemd-logind was not restarted (MainPID %s)" % pid0)
    # Only what follows logind's going away counts: the journal may take in the daemon's
    # own "Took the sleep delay lock" from its start after the mark (ready() read STATUS).
    seen = c.j.select(daemon_rx(r"logind went away|logind does not know our delay lock|Took the sleep delay lock"),
                      mark)
    gone = next((i for i, e in enumerate(seen) if "went away" in e.get("MESSAGE", "")), None)
    for e in seen[gone + 1:] if gone is not None else []:
        problems.append("tdsleepd lost or re-took its lock: %s" % fmt_entry(e))
    if gone is None:
        problems.append("tdsleepd never said that logind went away")
    if not c.j.select(daemon_rx(r"logind kept our locks across its restart"), mark):
        problems.append("tdsleepd never said \"logind kept our locks across its restart\"")
    inh = c.ct.run(["systemd-inhibit", "--list", "--no-pager", "--no-legend"]).stdout
    # (its PID may be an earlier tdsleepd's: a lock handed on through the fd store)
    lines = [ln for ln in inh.splitlines() if re.search(r"tdsleepd.*\bsleep\b.*\bdelay\b", ln)]
    if not lines:
        problems.append("after the restart logind lists no delay lock of tdsleepd:\n%s" % inh)
    if not block_locks(c):
        problems.append("after the restart logind lists no block lock of tdsleepd (the hold's):\n%s" % inh)
    # Kept also across a crash of tdsleepd right after: the fd store must still hold a copy
    # (systemd drops a stored fd on EPOLLERR, which a FIFO's writer gets when the old
    # logind closes the reading end).
    mark2 = c.j.mark()
    sampler = BlockLockSampler(c)
    try:
        c.ct.run(["systemctl", "kill", "-s", "KILL", "tdsleepd"])
        c.j.wait(daemon_rx(r"tdsleepd \S+ running"), mark2, 30, "tdsleepd restarted after SIGKILL")
        try:
            c.j.wait(daemon_rx(r"Decided after the restart"), mark2, 15, "the restarted tdsleepd's decision")
        except AssertionError as e:
            problems.append(str(e))     # and what the looks saw meanwhile, below
    finally:
        sampler.stop()
    if sampler.empty or sampler.looks < 3:
        problems.append("logind listed no block lock of tdsleepd at %d of %d looks between the SIGKILL and the "
                        "restarted daemon's decision (at %s; %d listings failed)" % (
                            len(sampler.empty), sampler.looks, ", ".join(sampler.empty[:5]), sampler.failed))
    for rx in (r"Kept the sleep block lock across the restart",
               r"Decided after the restart: keeping the sleep block lock kept across the restart: "
               r"Held by the operator: " + re.escape(HOLD_REASON)):
        if not c.j.select(daemon_rx(rx), mark2):
            problems.append("the restarted tdsleepd never said \"%s\"" % rx)
    st = json.loads(c.ct.run([ctl, "--json", "status"], check=False).stdout or "{}")
    if st.get("status", st).get("hold") != HOLD_REASON:
        problems.append("the hold does not show after the restart: %s" % st)
    tdpid2 = c.ct.show("tdsleepd.service", "MainPID")
    if tdpid2 == tdpid:
        problems.append("tdsleepd was not restarted after SIGKILL (MainPID %s)" % tdpid)
    if not c.j.select(daemon_rx(r"Kept the sleep delay lock across the restart"), mark2):
        problems.append("after logind's restart the delay lock was no longer in the fd store: the "
                        "restarted tdsleepd (pid %s) did not get it back, so a crash would have "
                        "left the host with no lock" % tdpid2)
    if problems:
        raise AssertionError("\n".join(problems))
    # the restored lock is a live one: the next suspend still waits for the TDs
    c.ct.run([ctl, "release"])
    c.ready()
    w = c.start("suspend")
    c.wait_sleep_unit(w)
    c.wait_resumed(w)
    return "logind %s -> %s, lock kept (%s); block lock listed at all %d looks across tdsleepd's SIGKILL; %s" % (
        pid0, pid1, lines[0], sampler.looks, c.assert_stopped_then_started(w))


METRICS_DIR = "/var/lib/prometheus/node-exporter"      # Debian's node_exporter textfile dir
METRICS_FILE = METRICS_DIR + "/tdsleep.prom"
METRICS_UNIT_DROPIN = "/etc/systemd/system/tdsleepd.service.d/metrics.conf"


def metric(text, key):
    m = re.search(r"^%s (\S+)$" % re.escape(key), text, re.M)
    return float(m.group(1)) if m else None


def sc_metrics(c):
    """tdsleepctl metrics after a real suspend counts the cycle, and tdsleepd writes the
    same text to MetricsTextfile= in node_exporter's directory, made writable with the
    drop-in tdsleepd.conf(5) documents (ReadWritePaths= under ProtectSystem=strict)."""
    ctl = tdsleepctl_path(c)
    conf_dropin = c.env.config_path() + ".d/metrics.conf"
    c.ct.run(["mkdir", "-p", METRICS_DIR])
    c.ct.write(METRICS_UNIT_DROPIN, "[Service]\nReadWritePaths=%s\n" % METRICS_DIR)
    c.ct.write(conf_dropin, "[Manager]\nMetricsTextfile=%s\n" % METRICS_FILE)
    try:
        mark = c.j.mark()
        c.ct.run(["systemctl", "daemon-reload"])
        c.ct.run(["systemctl", "restart", "tdsleepd.service"])     # a new ReadWritePaths=
        c.j.wait(daemon_rx(r"running: libvirt"), mark, 30, "tdsleepd's start")
        c.env.reset_power("s2idle [deep]")
        c.ready()
        before = c.ct.run([ctl, "metrics"]).stdout
        w = c.start("suspend")
        c.wait_sleep_unit(w)
        c.wait_resumed(w)
        detail = c.assert_stopped_then_started(w)
        text = c.ct.run([ctl, "metrics"]).stdout
        print("---- tdsleepctl metrics after the suspend ----\n" + text + "---- end ----", flush=True)
        key = 'tdsleep_cycles_total{step="suspend",outcome="success"}'
        want = {key: 1, "tdsleep_tds_stopped_total": len(TDS), "tdsleep_tds_forced_off_total": 1,
                "tdsleep_tds_started_total": len(TDS), "tdsleep_tds_start_failed_total": 0,
                "tdsleep_prepare_duration_seconds_count": 1, "tdsleep_resume_duration_seconds_count": 1}
        problems = ["%s: %s before, %s after the suspend; want %s more" % (k, metric(before, k), metric(text, k), v)
                    for k, v in want.items() if (metric(text, k) or 0) - (metric(before, k) or 0) != v]
        if metric(text, "tdsleep_last_cycle_end_time_seconds") is None:
            problems.append("no tdsleep_last_cycle_end_time_seconds")
        # td-ignore is forced off only after its graceful window: the prepare took at least that
        prepared = (metric(text, "tdsleep_prepare_duration_seconds_sum") or 0) - \
            (metric(before, "tdsleep_prepare_duration_seconds_sum") or 0)
        if prepared < float(SHUTDOWN_TIMEOUT.rstrip("s")):
            problems.append("the prepare took %.3fs by the metrics, less than %s (td-ignore's window)" % (
                prepared, SHUTDOWN_TIMEOUT))
        written = ""
        end = time.monotonic() + 10       # written at the end of the loop iteration
        while time.monotonic() < end and written != text:
            with contextlib.suppress(FileNotFoundError):
                written = open(c.env.tree.p(METRICS_FILE)).read()
            time.sleep(0.1)
        if written != text:
            problems.append("%s differs from tdsleepctl metrics:\n%s" % (METRICS_FILE, written[:1500]))
        problems += ["tdsleepd logged an error: %s" % fmt_entry(e) for e in c.daemon_errors({"mark": mark})]
        if problems:
            raise AssertionError("\n".join(problems))
        return "%s = 1, %s written under ProtectSystem=strict; %s" % (key, METRICS_FILE, detail)
    finally:
        c.ct.remove(METRICS_UNIT_DROPIN)
        c.ct.remove(conf_dropin)
        c.ct.run(["systemctl", "daemon-reload"], check=False)
        c.ct.run(["systemctl", "restart", "tdsleepd.service"], check=False)


def tdsleepctl_path(c):
    return next((d + "/tdsleepctl" for d in ("/usr/local/bin", "/usr/bin")
                 if os.access(c.env.tree.p(d + "/tdsleepctl"), os.X_OK)), None)


def check_history_cycle(cy, cycle_id, forced=(IGNORING,)):
    """One cycle of `tdsleepctl history --json` against what a suspend of TDS did."""
    problems = []
    want = dict(id=cycle_id, step="suspend", finished=True, stopped=len(TDS), forcedOff=len(forced),
                started=len(TDS), failures=0, leftRunning=0, stopFailed=0, startFailed=0)
    for k, v in want.items():
        if cy.get(k) != v:
            problems.append("history: %s=%r, expected %r" % (k, cy.get(k), v))
    usec = {k: cy.get(k) for k in ("startedUSec", "endedUSec", "durationUSec", "prepareUSec", "resumeUSec",
                                    "lockHeldUSec")}
    if not all(isinstance(v, int) and v > 0 for v in usec.values()):
        problems.append("history: a time is missing: %s" % usec)
        return problems
    # td-ignore waits out ShutdownTimeoutSec=3s before it is forced off
    if usec["prepareUSec"] < 3000000:
        problems.append("history: prepareUSec=%d, but td-ignore alone takes 3s" % usec["prepareUSec"])
    if usec["lockHeldUSec"] < usec["prepareUSec"]:
        problems.append("history: the lock was held %dµs, less than the prepare's %dµs" % (
            usec["lockHeldUSec"], usec["prepareUSec"]))
    if usec["durationUSec"] < usec["prepareUSec"] + usec["resumeUSec"]:
        problems.append("history: durationUSec=%d < prepare %d + resume %d" % (
            usec["durationUSec"], usec["prepareUSec"], usec["resumeUSec"]))
    if abs(usec["endedUSec"] - usec["startedUSec"] - usec["durationUSec"]) > 1000000:
        problems.append("history: ended - started != duration: %s" % usec)
    doms = {d.get("name"): d for d in cy.get("domains", [])}
    if sorted(doms) != sorted(TDS):
        problems.append("history: domains %s, expected %s" % (sorted(doms), sorted(TDS)))
    for name, d in doms.items():
        if d.get("outcome") != "started" or not d.get("stopped") or d.get("forcedOff") != (name in forced):
            problems.append("history: %s: %s" % (name, d))
    return problems


def sc_history(c):
    """Issue 13 (3): after a real suspend, `tdsleepctl history` (inside, reading the
    system journal through sd-journal) and `--json` give the cycle's step, counts and
    durations; every entry of the cycle carries its TDSLEEP_CYCLE_ID, the start entry
    too; the host's tdsleepctl reads the same from the container's journal with
    --directory; journalctl -x explains the new entries from the installed catalog."""
    ctl = tdsleepctl_path(c)
    if ctl is None:
        raise Skip("tdsleepctl is not installed in the tree")
    c.env.reset_power("s2idle [deep]")
    c.ready()
    w = c.start("suspend")
    c.wait_sleep_unit(w)
    c.wait_resumed(w)
    c.j.sync(c.ct)
    problems = []
    cycle_id = w["done"].get("TDSLEEP_CYCLE_ID", "")
    if not re.fullmatch(r"[0-9a-f]{32}", cycle_id):
        raise AssertionError("the end of the cycle has no TDSLEEP_CYCLE_ID: %s" % fmt_entry(w["done"]))
    # (a PrepareForSleep names no step: "unknown", then the hook's Prepare names it)
    started = [(e.get("TDSLEEP_CYCLE_ID"), e.get("TDSLEEP_STEP")) for e in
               c.j.select(daemon_id(e2e.MSG_CYCLE_STARTED), w["mark"])]
    if not started or any(i != cycle_id for i, _ in started) or ("suspend" not in [s for _, s in started]):
        problems.append("the cycle's start entries lack TDSLEEP_CYCLE_ID=%s or TDSLEEP_STEP=suspend: %s" % (
            cycle_id, started))
    outcomes = c.j.select(daemon_id(e2e.MSG_TD_OUTCOME), w["mark"])
    if sorted(e.get("TDSLEEP_DOMAIN") for e in outcomes) != sorted(TDS):
        problems.append("one outcome entry per TD expected: %s" % [fmt_entry(e) for e in outcomes])
    about_cycle = {e2e.MSG_ALL[k] for k in ("cycle started", "lock released", "TD stopped", "TD forced off",
                                            "TD started", "TD outcome", "cycle done")}
    for e in c.j.select(lambda e: is_daemon(e) and e.get("MESSAGE_ID") in about_cycle, w["mark"]):
        if e.get("TDSLEEP_CYCLE_ID") != cycle_id:
            problems.append("entry without the cycle's id: %s" % fmt_entry(e))

    js = c.ct.run([ctl, "history", "--json", "-n", "1"], check=False)
    text = c.ct.run([ctl, "history"], check=False)
    log("tdsleepctl history (inside the container):\n" + text.stdout + text.stderr)
    log("tdsleepctl history --json -n 1:\n" + js.stdout + js.stderr)
    try:
        cycles = json.loads(js.stdout)["cycles"]
    except (ValueError, KeyError) as e:
        raise AssertionError("tdsleepctl history --json: exit %d, not JSON (%s): %r %s" % (
            js.returncode, e, js.stdout, js.stderr))
    if js.returncode != 0 or len(cycles) != 1:
        problems.append("tdsleepctl history --json -n 1: exit %d, %d cycles" % (js.returncode, len(cycles)))
    else:
        problems += check_history_cycle(cycles[0], cycle_id)
    row = next((ln for ln in text.stdout.splitlines() if cycle_id in ln), "")
    if text.returncode != 0 or not re.search(r"\bsuspend\s+\S+\s+3\s+1\s+3\s+0\s+\S+\s+" + cycle_id, row):
        problems.append("tdsleepctl history: exit %d, no row 'suspend DURATION 3 1 3 0 LOCK %s':\n%s" % (
            text.returncode, cycle_id, text.stdout))

    # The host's tdsleepctl (the build's) reads the container's journal files.
    host = e2e.run([os.path.join(BUILD, "cli", "tdsleepctl"), "history", "--json",
                    "--directory=" + c.env.tree.p("/var/log/journal")], check=False)
    try:
        mine = [cy for cy in json.loads(host.stdout)["cycles"] if cy.get("id") == cycle_id]
    except (ValueError, KeyError):
        mine = []
    if len(mine) != 1:
        problems.append("tdsleepctl history --directory on the host: exit %d, cycle %s not found: %s %s" % (
            host.returncode, cycle_id, host.stdout[-500:], host.stderr))
    else:
        problems += ["--directory: " + p for p in check_history_cycle(mine[0], cycle_id)]

    # The catalog explains the new entries (as after a package's trigger).
    c.ct.run(["journalctl", "--update-catalog"], check=False)
    x = c.ct.run(["journalctl", "-x", "--no-pager", "-n", "1", "MESSAGE_ID=" + e2e.MSG_TD_OUTCOME,
                  "TDSLEEP_DOMAIN=" + IGNORING], check=False).stdout
    if "Subject: Trust domain %s: started" % IGNORING not in x and "is what it did to the trust" not in x:
        problems.append("journalctl -x shows no catalog text for the outcome entry:\n%s" % x)
    problems += ["tdsleepd logged an error: %s" % fmt_entry(e) for e in c.daemon_errors(w)]
    if problems:
        raise AssertionError("\n".join(problems))
    return "cycle %s: %s" % (cycle_id, " ".join(
        "%s=%s" % (k, cycles[0][k]) for k in ("step", "stopped", "forcedOff", "started", "failures",
                                               "prepareUSec", "lockHeldUSec", "durationUSec")))
