# SPDX-License-Identifier: LGPL-2.1-or-later
"""Issue 3: the kernel's picture (KernelPolicy), when to act, the s2idle and refuse
actions, and DESIGN §2's decision table, against libvirt's test driver.

The fake sysfs is plain files: when tdsleepd writes a label into mem_sleep the file
holds just that label, where a real kernel would show "[s2idle] deep". Tests read
what the daemon wrote, then (kernel_shows) rewrite the file the way the kernel would
present the new selection before the daemon reads it again."""
import json
import os
import re
import unittest

from tdsleeptest import TDSleepTestCase, config_text, now, varlink_call, wait_until

SWAPS_HEADER = "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n"
SWAP_AREA = "/dev/vda2                               partition\t4194300\t\t0\t\t-2\n"


def set_host(sysfs, tdx=False, kvm_tdx=None, state=None, mem_sleep=None, swap=None):
    """Shape the fake kernel: cpuinfo flag tdx_host_platform, kvm_intel's tdx parameter
    (Y/N; default: Y with the flag), /sys/power/state, mem_sleep, a swap area."""
    flags = "fpu vme de pse tsc msr pae mce cx8 apic" + (" tdx_host_platform" if tdx else "")
    cpuinfo = "".join("processor\t: %d\nvendor_id\t: GenuineIntel\nphysical id\t: 0\n"
                      "flags\t\t: %s\n\n" % (n, flags) for n in (0, 1))
    sysfs.write("proc/cpuinfo", cpuinfo)
    if kvm_tdx is None:
        kvm_tdx = tdx
    sysfs.write("sys/module/kvm_intel/parameters/tdx", "Y\n" if kvm_tdx else "N\n")
    if state is not None:
        sysfs.write("sys/power/state", state + "\n")
    if mem_sleep is not None:
        sysfs.write("sys/power/mem_sleep", mem_sleep + "\n")
    if swap is not None:
        sysfs.write("proc/swaps", SWAPS_HEADER + (SWAP_AREA if swap else ""))


def kernel_shows(sysfs, available=("s2idle", "deep")):
    """What the kernel does with a label written into mem_sleep: select it and show the
    list with the selection in brackets. Returns the label that was written."""
    written = sysfs.read("sys/power/mem_sleep").strip()
    assert written in available, "daemon wrote %r into mem_sleep" % written
    sysfs.write("sys/power/mem_sleep",
                " ".join("[%s]" % a if a == written else a for a in available) + "\n")
    return written


class ControlMixin:
    """Control-socket calls that must succeed."""

    def call(self, d, method, **params):
        replies = varlink_call(d.ctl_socket, "io.tdsleep.Manager." + method, params)
        self.assertNotIn("error", replies[-1], "%s(%s) failed: %s" % (method, params, replies[-1]))
        return replies[-1].get("parameters", {})

    def status(self, d):
        return self.call(d, "GetStatus")["status"]

    def prepare(self, d, operation, step=None, timeout=30):
        """Prepare(operation, step); returns (reply parameters, harness time of the reply)."""
        params = {"operation": operation}
        if step is not None:
            params["step"] = step
        p = self.call_timeout(d, "Prepare", params, timeout)
        return p, now()

    def call_timeout(self, d, method, params, timeout):
        replies = varlink_call(d.ctl_socket, "io.tdsleep.Manager." + method, params, timeout=timeout)
        self.assertNotIn("error", replies[-1], "%s(%s) failed: %s" % (method, params, replies[-1]))
        return replies[-1].get("parameters", {})

    def log_lines(self, d, pattern, run=-1):
        rx = re.compile(pattern)
        return [l for l in d.stderr(run).splitlines() if rx.search(l)]

    def wait_idle(self, d, since, timeout=15):
        """A cycle that was under way is over: the STATUS line (it starts with the phase)
        said resuming, then idle. (A late "idle; ... delay lock held" from the cycle
        before must not count.)"""
        m = d.wait_status(lambda s: s.startswith("resuming;"), timeout, "phase resuming", since=since)
        return d.wait_status(lambda s: s.startswith("idle;"), timeout, "phase idle", since=m[0])

    def sleep_cycle_end(self, d, since=None):
        """PrepareForSleep(false), then wait for the lock and the end of the cycle."""
        t = now() if since is None else since
        self.mock.prepare_for_sleep(False)
        self.wait_lock(10)
        self.wait_idle(d, t)


class KernelPolicy(ControlMixin, TDSleepTestCase):

    def _td_and_vm(self, **meta):
        td, vm = self.uniq("td"), self.uniq("vm")
        self.define_test_domain(td, **meta)
        self.define_test_domain(vm, td=False)
        return td, vm

    def test_exclusive_selects_s2idle_and_suspend_keeps_tds(self):
        # Upstream kernel with TDX on: S4 gone from state, S3 still listed in mem_sleep.
        set_host(self.sysfs, tdx=True, state="freeze mem", mem_sleep="s2idle [deep]", swap=True)
        td, vm = self._td_and_vm()
        d = self.daemon().start()
        # Before READY the daemon has read the picture and steered away from deep.
        self.assertEqual(self.sysfs.read("sys/power/mem_sleep"), "s2idle\n",
                         "under exclusive, deep must be replaced by s2idle at start")
        st = self.status(d)
        self.assertEqual(st["kernelPolicy"], "exclusive")
        said = self.log_lines(d, r"^tdsleepd\[(notice|warning)\]: Kernel policy exclusive.*s2idle")
        self.assertEqual(len(said), 1, "the journal must say once why s2idle is kept:\n" + d.stderr())
        self.assertEqual(len(self.log_lines(d, r"Kernel policy: exclusive \(detected\)")), 1)
        # Plan already knows what the daemon keeps selected.
        plan = self.call(d, "Plan", operation="suspend")
        self.assertTrue(plan["keepsTDs"], plan)
        self.assertEqual([x["verdict"] for x in plan["domains"]], ["keep"])
        self.assertEqual(kernel_shows(self.sysfs), "s2idle")

        self.wait_lock()
        t0 = now()
        self.mock.prepare_for_sleep(True)
        t_gone, st = self.wait_lock_gone(10, lambda: self.states([td, vm]))
        self.assertEqual(st, {td: "running", vm: "running"})
        self.assertLess(t_gone - t0, 2.0, "nothing to stop: the lock must go at once")
        self.sleep_cycle_end(d)
        self.assertEqual(self.events.select(td, since=t0), [], "the TD must be left alone")
        self.assertEqual(self.states([td, vm]), {td: "running", vm: "running"})
        self.assertEqual(self.sysfs.read("sys/power/mem_sleep"), "[s2idle] deep\n")
        self.assertEqual(len(self.log_lines(d, r"Kernel policy exclusive")), 1,
                         "said once, not per cycle:\n" + d.stderr())
        self.assertTrue(d.alive())

    def test_runtime_deep_stops_tds(self):
        set_host(self.sysfs, tdx=True, state="freeze mem disk", mem_sleep="s2idle [deep]", swap=False)
        td, vm = self._td_and_vm()
        d = self.daemon().start()
        self.assertEqual(self.status(d)["kernelPolicy"], "runtime")
        self.assertEqual(self.sysfs.read("sys/power/mem_sleep"), "s2idle [deep]\n",
                         "runtime: mem_sleep is the operator's")
        self.wait_lock()
        t0 = now()
        self.mock.prepare_for_sleep(True)
        _, st = self.wait_lock_gone(20, lambda: self.states([td, vm]))
        self.assertEqual(st, {td: "shutoff", vm: "running"})
        self.events.wait(td, "STOPPED", 5, since=t0)
        t1 = now()
        self.mock.prepare_for_sleep(False)
        self.events.wait(td, "STARTED", 10, since=t1)
        self.wait_idle(d, t1)
        self.assertEqual(self.events.select(vm, since=t0), [])
        self.assertEqual(self.log_lines(d, r"Kernel policy exclusive"), [])

    def test_detection_matrix_and_none(self):
        """auto follows the kernel's picture; re-read on Reload."""
        set_host(self.sysfs, tdx=False, state="freeze mem disk", mem_sleep="s2idle [deep]")
        d = self.daemon().start()
        cases = [
            # (cpuinfo flag, kvm_intel tdx, state) -> policy
            (dict(tdx=False, kvm_tdx=False, state="freeze mem disk"), "none"),
            (dict(tdx=False, kvm_tdx=False, state="freeze mem"), "none"),
            (dict(tdx=True, kvm_tdx=True, state="freeze mem disk"), "runtime"),
            (dict(tdx=True, kvm_tdx=True, state="freeze mem"), "exclusive"),
        ]
        self.assertEqual(self.status(d)["kernelPolicy"], "none")
        self.assertEqual(self.sysfs.read("sys/power/mem_sleep"), "s2idle [deep]\n")
        for host, want in cases:
            set_host(self.sysfs, mem_sleep="s2idle [deep]", **host)
            self.call(d, "Reload")
            st = self.status(d)
            self.assertEqual(st["kernelPolicy"], want, host)
            self.assertEqual(self.sysfs.read("sys/power/mem_sleep"),
                             "s2idle\n" if want == "exclusive" else "s2idle [deep]\n", host)
        self.assertTrue(d.alive())

    def test_forced_policy_overrides_detection(self):
        # Looks exclusive, but the operator knows better: runtime, mem_sleep untouched.
        set_host(self.sysfs, tdx=True, state="freeze mem", mem_sleep="s2idle [deep]")
        td, vm = self._td_and_vm()
        d = self.daemon(config=config_text({"KernelPolicy": "runtime"}, ShutdownTimeoutSec="10s")).start()
        self.assertEqual(self.status(d)["kernelPolicy"], "runtime")
        self.assertEqual(self.sysfs.read("sys/power/mem_sleep"), "s2idle [deep]\n")
        self.assertEqual(self.log_lines(d, r"Kernel policy: runtime \(detected\)"), [])
        self.assertEqual(len(self.log_lines(d, r"Kernel policy: runtime$")), 1, d.stderr())
        self.wait_lock()
        t0 = now()
        self.mock.prepare_for_sleep(True)
        _, st = self.wait_lock_gone(20, lambda: self.states([td, vm]))
        self.assertEqual(st, {td: "shutoff", vm: "running"}, "forced runtime + deep: the TD must stop")
        t1 = now()
        self.mock.prepare_for_sleep(False)
        self.events.wait(td, "STARTED", 10, since=t1)
        self.wait_idle(d, t1)
        # And forced the other way on a host that looks like TDX is off.
        set_host(self.sysfs, tdx=False, state="freeze mem disk", mem_sleep="s2idle [deep]")
        d.write_config(config_text({"KernelPolicy": "exclusive"}, ShutdownTimeoutSec="10s"))
        self.call(d, "Reload")
        self.assertEqual(self.status(d)["kernelPolicy"], "exclusive")
        self.assertEqual(self.sysfs.read("sys/power/mem_sleep"), "s2idle\n")
        self.assertEqual(len(self.log_lines(d, r"Kernel policy exclusive")), 1)
        self.assertEqual(self.events.select(vm, since=t0), [])


class WhenToAct(ControlMixin, TDSleepTestCase):

    def test_hook_names_the_step(self):
        # s2idle selected and hibernation possible: the operations disagree.
        set_host(self.sysfs, tdx=True, state="freeze mem disk", mem_sleep="[s2idle] deep", swap=True)
        tds = [self.uniq("td0"), self.uniq("td1")]
        for t in tds:
            self.define_test_domain(t)
        vm = self.uniq("vm")
        self.define_test_domain(vm, td=False)
        every = tds + [vm]
        d = self.daemon().start()
        self.assertEqual(self.status(d)["kernelPolicy"], "runtime")
        self.wait_lock()

        # Cycle 1: the hook says suspend.
        t0 = now()
        self.mock.prepare_for_sleep(True)
        _, st = self.wait_lock_gone(10, lambda: self.states(every))
        self.assertEqual(st, {n: "running" for n in every}, "nothing may be stopped before the hook")
        d.wait_status(lambda s: "waiting for the sleep hook" in s, 5, "waiting for the hook", since=t0)
        st = self.status(d)
        self.assertTrue(st["awaitingHook"], st)
        self.assertFalse(st["delayLock"], st)
        self.assertFalse(os.path.exists(d.state_file), "nothing decided yet, nothing to save")
        p, _ = self.prepare(d, "suspend", "suspend")
        self.assertEqual((p["phase"], p["stopped"]), ("ready", 0), p)
        self.assertEqual(self.states(every), {n: "running" for n in every})
        self.assertFalse(self.status(d)["awaitingHook"])
        self.assertEqual(self.mock.daemon_locks(), [])
        self.sleep_cycle_end(d)
        for n in every:
            self.assertEqual(self.events.select(n, since=t0), [], "%s must be left alone" % n)

        # Cycle 2: the hook says hibernate; Prepare returns once the TDs are down.
        t1 = now()
        self.mock.prepare_for_sleep(True)
        self.wait_lock_gone(10)
        d.wait_status(lambda s: "waiting for the sleep hook" in s, 5, "waiting for the hook", since=t1)
        self.assertEqual(self.states(every), {n: "running" for n in every})
        p, _ = self.prepare(d, "hibernate", "hibernate")
        at_reply = self.states(every)
        self.assertEqual((p["phase"], p["stopped"], p["failed"]), ("ready", 2, 0), p)
        self.assertEqual(at_reply, {tds[0]: "shutoff", tds[1]: "shutoff", vm: "running"},
                         "Prepare(hibernate) must return only once the TDs are stopped")
        with open(d.state_file) as f:
            saved = json.load(f)
        self.assertEqual(saved["step"], "hibernate")
        self.assertEqual(sorted(x["name"] for x in saved["domains"]), sorted(tds))
        # Idempotent: asked again for the same step, the same answer, nothing new done.
        p2, _ = self.prepare(d, "hibernate", "hibernate")
        self.assertEqual((p2["phase"], p2["stopped"]), ("ready", 2))
        self.assertEqual(self.mock.daemon_locks(), [])
        t2 = now()
        self.mock.prepare_for_sleep(False)
        for t in tds:
            self.events.wait(t, "STARTED", 10, since=t2)
        self.wait_lock(10)
        self.wait_idle(d, t2)
        self.assertEqual(self.states(every), {n: "running" for n in every})
        for t in tds:
            self.assertEqual(len(self.events.select(t, "STOPPED", since=t1)), 1, t)
        self.assertEqual(self.events.select(vm, since=t0), [])


class OnDeepSleepS2idle(ControlMixin, TDSleepTestCase):
    """deep selected, no swap: a suspend is the only possible sleep, steered to s2idle."""

    def _setup(self, per_domain=False):
        set_host(self.sysfs, tdx=True, state="freeze mem disk", mem_sleep="s2idle [deep]", swap=False)
        td, vm = self.uniq("td"), self.uniq("vm")
        if per_domain:
            self.define_test_domain(td, on_deep_sleep="s2idle")
            cfg = config_text(ShutdownTimeoutSec="10s")
        else:
            self.define_test_domain(td)
            cfg = config_text(ShutdownTimeoutSec="10s", OnDeepSleep="s2idle")
        self.define_test_domain(vm, td=False)
        d = self.daemon(config=cfg).start()
        self.wait_lock()
        return d, td, vm

    def _sleep_steered(self, d, td, vm):
        t0 = now()
        self.mock.prepare_for_sleep(True)
        _, st = self.wait_lock_gone(10, lambda: (self.states([td, vm]), self.sysfs.read("sys/power/mem_sleep")))
        self.assertEqual(st[0], {td: "running", vm: "running"})
        self.assertEqual(st[1], "s2idle\n", "s2idle must be selected before the lock goes")
        return t0

    def _check_restored(self, d, td, t0):
        self.assertEqual(self.sysfs.read("sys/power/mem_sleep"), "deep\n", "the previous choice must be restored")
        self.assertEqual(self.events.select(td, since=t0), [], "the TD must be left alone")
        self.assertFalse(os.path.exists(d.state_file))

    def _cycle(self, d, td, vm):
        t0 = self._sleep_steered(d, td, vm)
        with open(d.state_file) as f:
            self.assertEqual(json.load(f).get("mem_sleep_restore"), "deep")
        kernel_shows(self.sysfs)
        self.assertEqual(self.status(d)["memSleep"], "s2idle")
        self.sleep_cycle_end(d)
        self._check_restored(d, td, t0)
        kernel_shows(self.sysfs)

    def test_config_switches_and_restores(self):
        d, td, vm = self._setup()
        self._cycle(d, td, vm)
        # A failed sleep: PrepareForSleep(false) right after true takes the same path.
        t0 = now()
        self.mock.prepare_for_sleep(True)
        self.mock.prepare_for_sleep(False)
        self.wait_idle(d, t0)
        self.wait_lock(10)
        self.assertEqual(len(self.log_lines(d, r"Restored deep in /sys/power/mem_sleep")), 2, d.stderr())
        self._check_restored(d, td, t0)
        self.assertEqual(self.states([td, vm]), {td: "running", vm: "running"})

    def test_per_domain_metadata(self):
        d, td, vm = self._setup(per_domain=True)
        self._cycle(d, td, vm)
        # the verdict as Plan sees it, with deep selected again: Prepare would steer to
        # s2idle, so Plan says the suspend keeps the TD (one planner for both)
        plan = self.call(d, "Plan", operation="suspend")
        self.assertEqual((plan["keepsTDs"], plan["steerS2idle"], [x["verdict"] for x in plan["domains"]]),
                         (True, True, ["keep"]), plan)
        plan = self.call(d, "Plan", operation="hibernate")
        self.assertEqual([x["verdict"] for x in plan["domains"]], ["stop"], "s2idle falls back to stop for hibernate")

    def test_steered_suspend_keeps_every_td(self):
        """Once the cycle's suspend is steered to s2idle, a TD whose action is stop
        survives it too (DESIGN §2: "select s2idle ... TDs keep running")."""
        set_host(self.sysfs, tdx=True, state="freeze mem disk", mem_sleep="s2idle [deep]", swap=False)
        s2, stop = self.uniq("s2idle"), self.uniq("stop")
        self.define_test_domain(s2, on_deep_sleep="s2idle")
        self.define_test_domain(stop)
        d = self.daemon().start()
        self.wait_lock()
        t0 = now()
        self.mock.prepare_for_sleep(True)
        _, st = self.wait_lock_gone(10, lambda: (self.states([s2, stop]), self.sysfs.read("sys/power/mem_sleep")))
        self.assertEqual(st[1], "s2idle\n")
        self.assertEqual(st[0], {s2: "running", stop: "running"},
                         "the host suspends to idle: stopping the other TD is needless downtime")
        kernel_shows(self.sysfs)
        self.sleep_cycle_end(d)
        self.assertEqual(self.sysfs.read("sys/power/mem_sleep"), "deep\n")
        self.assertEqual(self.events.select(stop, since=t0), [])

    def test_with_swap_the_hook_decides(self):
        """deep selected and hibernation possible: a suspend can be steered to s2idle
        (TDs survive), a hibernation cannot (they do not): the operations disagree, so
        nothing may happen before the hook names the step."""
        set_host(self.sysfs, tdx=True, state="freeze mem disk", mem_sleep="s2idle [deep]", swap=True)
        td, vm = self.uniq("td"), self.uniq("vm")
        self.define_test_domain(td)
        self.define_test_domain(vm, td=False)
        d = self.daemon(config=config_text(ShutdownTimeoutSec="10s", OnDeepSleep="s2idle")).start()
        self.wait_lock()
        t0 = now()
        self.mock.prepare_for_sleep(True)
        _, st = self.wait_lock_gone(10, lambda: self.states([td, vm]))
        self.assertEqual(st, {td: "running", vm: "running"},
                         "OnDeepSleep=s2idle on a host with swap: the TD was stopped before the hook "
                         "said suspend or hibernate")
        p, _ = self.prepare(d, "suspend", "suspend")
        self.assertEqual((p["phase"], p["stopped"]), ("ready", 0), p)
        self.assertEqual(self.sysfs.read("sys/power/mem_sleep"), "s2idle\n")
        self.assertEqual(self.states([td]), {td: "running"})
        kernel_shows(self.sysfs)
        self.sleep_cycle_end(d)
        self.assertEqual(self.sysfs.read("sys/power/mem_sleep"), "deep\n")
        self.assertEqual(self.events.select(td, since=t0), [])

    def test_restart_mid_cycle_restores(self):
        d, td, vm = self._setup()
        # Killed while the host sleeps, restarted before it wakes up.
        t0 = self._sleep_steered(d, td, vm)
        kernel_shows(self.sysfs)
        d.kill9()
        d.start()
        d.wait_log(r"Still prepared for the sleep in progress", 10)
        self.assertEqual(self.sysfs.read("sys/power/mem_sleep"), "[s2idle] deep\n",
                         "the sleep is not over: s2idle must stay selected")
        self.sleep_cycle_end(d)
        self._check_restored(d, td, t0)
        kernel_shows(self.sysfs)
        # Killed while the host sleeps; it wakes up while tdsleepd is down.
        t1 = self._sleep_steered(d, td, vm)
        kernel_shows(self.sysfs)
        d.kill9()
        self.mock.prepare_for_sleep(False)
        d.start()
        self.wait_idle(d, t1)
        self._check_restored(d, td, t1)
        self.wait_lock(10)
        self.assertEqual(self.states([td, vm]), {td: "running", vm: "running"})


class Refuse(ControlMixin, TDSleepTestCase):

    def block_locks(self):
        return [i for i in self.mock.inhibitors() if i[1] == "tdsleepd" and i[3] == "block"]

    def wait_block_lock(self, names, absent=(), timeout=10):
        """Wait for exactly one block lock naming every one of names and none of absent."""
        def check():
            b = self.block_locks()
            if len(b) == 1 and all(n in b[0][2] for n in names) and not any(n in b[0][2] for n in absent):
                return b[0]
            return None
        return wait_until(check, timeout, "one block lock naming %s" % ", ".join(names))

    def wait_no_block_lock(self, timeout=10):
        return wait_until(lambda: not self.block_locks(), timeout, "the block lock to go")

    def test_block_lock_follows_refusing_tds(self):
        a, b = self.uniq("refuse-a"), self.uniq("refuse-b")
        stop, vm = self.uniq("stop"), self.uniq("vm")
        self.define_test_domain(a, on_deep_sleep="refuse")
        self.define_test_domain(stop)
        self.define_test_domain(vm, td=False)
        d = self.daemon().start()
        what, who, why, mode, _, _ = self.wait_block_lock([a], absent=[stop, vm])
        self.assertEqual((what, who, mode), ("sleep", "tdsleepd", "block"))
        self.assertEqual(self.status(d)["blockLock"], why)
        # a second refusing TD starts: both named
        self.define_test_domain(b, on_deep_sleep="refuse")
        self.wait_block_lock([a, b], absent=[stop, vm])
        # one stops: only the other named
        self.lv.test.lookupByName(a).destroy()
        self.wait_block_lock([b], absent=[a])
        # the last one stops: no block lock
        self.lv.test.lookupByName(b).destroy()
        self.wait_no_block_lock()
        self.assertIsNone(self.status(d)["blockLock"])
        self.assertEqual(len(self.mock.daemon_locks()), 1, "the delay lock is another matter")
        self.assertTrue(d.alive())

    def test_forced_sleep_does_not_stop_refusing_td(self):
        set_host(self.sysfs, tdx=True, state="freeze mem disk", mem_sleep="s2idle [deep]", swap=False)
        r, td = self.uniq("refuse"), self.uniq("td")
        self.define_test_domain(r, on_deep_sleep="refuse")
        self.define_test_domain(td)
        d = self.daemon().start()
        self.wait_block_lock([r])
        self.wait_lock()
        t0 = now()
        self.mock.prepare_for_sleep(True)      # root ignores block locks
        _, st = self.wait_lock_gone(20, lambda: self.states([r, td]))
        self.assertEqual(st, {r: "running", td: "shutoff"})
        loud = self.log_lines(d, r"^tdsleepd\[(crit|alert|emerg)\]: .*%s" % re.escape(r))
        self.assertTrue(loud, "a sleep despite a refusing TD must be logged at crit:\n" + d.stderr())
        self.assertEqual(self.events.select(r, since=t0), [])
        self.assertEqual(len(self.block_locks()), 1, "the block lock stays while the TD runs")
        t1 = now()
        self.mock.prepare_for_sleep(False)
        self.events.wait(td, "STARTED", 10, since=t1)
        self.wait_idle(d, t1)
        self.assertEqual(self.events.select(r, since=t0), [])


# DESIGN §2, row by row: (name, operation, sysfs, expected steps, keepsTDs, verdict)
PLAN_ROWS = [
    ("suspend/s2idle", "suspend", dict(state="freeze mem disk", mem_sleep="[s2idle] deep"),
     ["suspend"], True, "keep"),
    ("suspend/freeze only", "suspend", dict(state="freeze disk", mem_sleep="s2idle [deep]"),
     ["suspend"], True, "keep"),
    ("suspend/shallow", "suspend", dict(state="freeze standby mem disk", mem_sleep="s2idle [shallow] deep"),
     ["suspend"], True, "keep"),
    ("suspend/standby only", "suspend", dict(state="standby disk", mem_sleep="s2idle [deep]"),
     ["suspend"], True, "keep"),
    # A TD asks for s2idle, so Prepare steers this suspend to s2idle: every TD is kept,
    # and Plan says so (one planner for both).
    ("suspend/deep", "suspend", dict(state="freeze mem disk", mem_sleep="s2idle [deep]"),
     ["suspend"], True, "keep"),
    ("suspend/deep, no s2idle", "suspend", dict(state="mem disk", mem_sleep="[deep]"),
     ["suspend"], False, "stop"),
    ("hibernate", "hibernate", dict(state="freeze mem disk", mem_sleep="[s2idle] deep"),
     ["hibernate"], False, "stop"),
    ("hybrid-sleep", "hybrid_sleep", dict(state="freeze mem disk", mem_sleep="[s2idle] deep"),
     ["hybrid_sleep"], False, "stop"),
    ("suspend-then-hibernate", "suspend_then_hibernate", dict(state="freeze mem disk", mem_sleep="[s2idle] deep"),
     ["suspend", "hibernate"], False, "stop"),
]


class DecisionTable(ControlMixin, TDSleepTestCase):

    def test_plan_rows(self):
        td, s2, ref, vm = self.uniq("td"), self.uniq("s2idle"), self.uniq("refuse"), self.uniq("vm")
        self.define_test_domain(td)
        self.define_test_domain(s2, on_deep_sleep="s2idle")
        self.define_test_domain(ref, on_deep_sleep="refuse")
        self.define_test_domain(vm, td=False)
        self.sysfs.write("proc/swaps", SWAPS_HEADER + SWAP_AREA)
        d = self.daemon().start()
        t0 = now()
        for name, op, host, steps, keeps, verdict in PLAN_ROWS:
            with self.subTest(row=name):
                set_host(self.sysfs, **host)
                before = self.sysfs.read("sys/power/mem_sleep")
                plan = self.call(d, "Plan", operation=op)
                self.assertEqual(plan["operation"], op)
                self.assertEqual(plan["steps"], steps)
                self.assertEqual(plan["keepsTDs"], keeps)
                self.assertEqual(plan["steerS2idle"], name == "suspend/deep", plan)
                got = {x["name"]: x["verdict"] for x in plan["domains"]}
                self.assertNotIn(vm, got, "a plain VM gets no verdict")
                self.assertEqual(got[td], verdict, "action stop")
                if keeps:
                    want_s2, want_ref = "keep", "keep"
                else:
                    # steering failed (no s2idle) or cannot help (hibernation): stop
                    want_s2 = "stop"
                    want_ref = "refuse"
                self.assertEqual(got[s2], want_s2, "action s2idle")
                self.assertEqual(got[ref], want_ref, "action refuse")
                self.assertEqual(self.sysfs.read("sys/power/mem_sleep"), before, "Plan has no side effects")
        plan = self.call(d, "Plan", operation="drain")
        self.assertEqual((plan["steps"], plan["keepsTDs"]), (["drain"], False))
        self.assertEqual(sorted(x["verdict"] for x in plan["domains"]), ["stop", "stop", "stop"])
        for n in (td, s2, ref, vm):
            self.assertEqual(self.events.select(n, since=t0), [], "Plan must not touch %s" % n)
        self.assertFalse(os.path.exists(d.state_file))

    def test_prepare_outcomes(self):
        """The real outcome of each drivable row, with the hook naming the step."""
        td, vm = self.uniq("td"), self.uniq("vm")
        self.define_test_domain(td)
        self.define_test_domain(vm, td=False)
        self.sysfs.write("proc/swaps", SWAPS_HEADER + SWAP_AREA)
        d = self.daemon().start()
        self.wait_lock()
        rows = [
            # (mem_sleep, operation, [(step, TD state after Prepare)])
            ("[s2idle] deep", "suspend", [("suspend", "running")]),
            ("s2idle [shallow] deep", "suspend", [("suspend", "running")]),
            ("s2idle [deep]", "suspend", [("suspend", "shutoff")]),
            ("[s2idle] deep", "hibernate", [("hibernate", "shutoff")]),
            ("[s2idle] deep", "hybrid-sleep", [("hybrid-sleep", "shutoff")]),
            ("[s2idle] deep", "suspend-then-hibernate", [("suspend", "running"), ("hibernate", "shutoff")]),
        ]
        for mem_sleep, op, steps in rows:
            with self.subTest(operation=op, mem_sleep=mem_sleep):
                set_host(self.sysfs, state="freeze standby mem disk", mem_sleep=mem_sleep)
                t0 = now()
                self.mock.prepare_for_sleep(True)
                self.wait_lock_gone(20)
                for step, want in steps:
                    p, _ = self.prepare(d, op, step)
                    self.assertEqual(p["phase"], "ready", p)
                    self.assertEqual(self.states([td, vm]), {td: want, vm: "running"}, "step %s" % step)
                    self.assertEqual(p["stopped"], 1 if want == "shutoff" else 0, p)
                t1 = now()
                self.mock.prepare_for_sleep(False)
                if steps[-1][1] == "shutoff":
                    self.events.wait(td, "STARTED", 10, since=t1)
                self.wait_lock(10)
                self.wait_idle(d, t1)
                self.assertEqual(self.states([td, vm]), {td: "running", vm: "running"})
                self.assertEqual(self.sysfs.read("sys/power/mem_sleep"), mem_sleep + "\n")
                self.assertEqual(self.events.select(vm, since=t0), [])
        self.assertTrue(d.alive())


if __name__ == "__main__":
    unittest.main(verbosity=2)
