# SPDX-License-Identifier: LGPL-2.1-or-later
"""tests/e2e/run's machinery (tests/package/run uses it too): the settings, the guests,
Env (everything the tier starts), Ctx (what a scenario works with) and the diagnostics
printed when one fails. Imported with tests/e2e on sys.path."""
import json
import os
import re
import shutil
import sys
import tempfile
import time

import e2e
from e2e import (log, ts, msg, fmt_entry, is_daemon, daemon_id, daemon_rx, unit_msg, SetupError, Skip,
                 realtime_of)

tdsleeptest = e2e.tdsleeptest
BUILD = os.path.abspath(os.environ.get("TDSLEEP_BUILD_DIR") or os.path.join(e2e.REPO, "build"))
CACHE = os.path.abspath(os.environ.get("TDSLEEP_E2E_CACHE") or os.path.join(BUILD, "e2e-cache"))
VERBOSE = e2e.VERBOSE
TIER_TIMEOUT = int(os.environ.get("TDSLEEP_E2E_TIMEOUT", "600"))
# A prepared tree with the project installed (tests/modern: Debian 13, whose own libvirtd
# runs the guests inside the container); its additions live in tests/modern/modern_e2e.py.
ROOT = os.environ.get("TDSLEEP_E2E_ROOT")
modern = None
if ROOT:
    sys.path.insert(0, os.path.join(e2e.REPO, "tests", "modern"))
    import modern_e2e as modern  # noqa: E402

# The guests: name -> (honours ACPI shutdown, is a TD by <metadata>)
GUESTS = {
    "td-acpi-1": dict(acpid=True, td=True),
    "td-acpi-2": dict(acpid=True, td=True),
    "td-ignore": dict(acpid=False, td=True),
    "vm-plain": dict(acpid=True, td=False),
}
TDS = [n for n, o in GUESTS.items() if o["td"]]
IGNORING = "td-ignore"
PLAIN = "vm-plain"
SHUTDOWN_TIMEOUT = "3s"         # the ACPI-ignoring TD is forced off after this
KILL_SHUTDOWN_TIMEOUT = "10s"   # scenario 5: keeps the daemon busy while it is killed

FAKE_CPU_DIR = "/run/e2e-cpu"                 # bound over /sys/devices/system/cpu in scenario 8
SLEEP_STATE_COPY = "/etc/e2e-sleep-state"     # systemd-sleep's own /sys/power/state
POWER_DEFAULTS = {
    "state": "freeze mem disk\n",
    "disk": "[platform] shutdown reboot suspend\n",
    "resume": "0:0\n",
    "resume_offset": "0\n",
    "image_size": "0\n",
}
if modern:     # its scenarios and package steps use the same guests and /sys/power files
    modern.GUESTS, modern.TDS, modern.POWER_DEFAULTS = GUESTS, TDS, POWER_DEFAULTS


def skip_reason():
    if os.geteuid() != 0:
        return "the e2e tier needs root (systemd-nspawn, a private libvirtd in a mount namespace)"
    if modern:
        return modern.skip_reason(ROOT)
    for prog in ("debootstrap", "systemd-nspawn", "systemctl", "unshare", "nsenter", "tar", "meson",
                 "readelf", "dpkg", "qemu-system-x86_64", "busybox", "apt-get"):
        if shutil.which(prog) is None:
            return "%s not found (tools/test installs: debootstrap systemd-container " \
                   "qemu-system-x86 busybox-static libvirt-daemon-driver-qemu)" % prog
    if not os.access("/usr/sbin/libvirtd", os.X_OK):
        return "/usr/sbin/libvirtd not found (libvirt-daemon)"
    try:
        import libvirt  # noqa: F401
    except ImportError:
        return "python3-libvirt missing (run with /usr/bin/python3)"
    if not os.access(os.path.join(BUILD, "daemon", "tdsleepd"), os.X_OK):
        return "tdsleepd not built in %s (set TDSLEEP_BUILD_DIR)" % BUILD
    if not e2e.CgroupParent("probe").hierarchies:
        return "no usable cgroup hierarchy under /sys/fs/cgroup"
    return None


# ----------------------------------------------------------------------------------
# Setup


def base_tree():
    """The cached bookworm tree: systemd and the libraries tdsleepd links against."""
    pkgs = set(e2e.BASE_PACKAGES) | e2e.needed_packages(
        [os.path.join(BUILD, "daemon", "tdsleepd"), os.path.join(BUILD, "cli", "tdsleepctl")])
    return e2e.BaseTree(CACHE, pkgs, e2e.host_mirror())


def guest_images():
    return tdsleeptest.GuestImages(cache_root=os.path.join(CACHE, "guests")).build()


def prepare():
    """--prepare: make the cached tree and guest images only (tools/test runs this in
    the background while the CPU-bound tiers run: it waits on the network and disk)."""
    t = time.monotonic()
    made = base_tree().ensure()
    log("tree %s in %.1fs" % ("made" if made else "cached", time.monotonic() - t))
    t = time.monotonic()
    guest_images()
    log("guest images ready in %.1fs" % (time.monotonic() - t))
    return 0


class TierTimeout(BaseException):
    """The overall limit: not caught by a scenario's `except Exception`."""


class Env:
    """Everything the tier started; stop() removes all of it."""

    def __init__(self):
        self.work = tempfile.mkdtemp(prefix="tdsleep-e2e-%d-" % os.getpid(), dir="/tmp")
        self.name = "tdsleep-e2e-%d" % os.getpid()
        self.power = os.path.join(self.work, "power")
        self.cpus = os.path.join(self.work, "cpu")
        self.tree = e2e.Tree(ROOT or os.path.join(self.work, "tree"), BUILD)
        self.lv = None
        self.pool = None
        self.ct = None
        self.installed = {}
        self.tree_error = None
        self.timings = {}
        self.stopped = False

    # --- the tree (in a thread, while the guests boot)
    def prepare_tree(self):
        try:
            t = time.monotonic()
            if modern:
                self.installed = modern.installed()
                self.write_test_config()
                e2e.run(["systemctl", "--root=" + self.tree.root, "enable", "tdsleepd.service"])
                modern.configure(self)
                self.timings["configure"] = time.monotonic() - t
                return
            base = base_tree()
            made = base.ensure()
            self.timings["debootstrap" if made else "tree cache"] = time.monotonic() - t
            t = time.monotonic()
            self.tree.extract(base.tarball)
            self.timings["extract"] = time.monotonic() - t
            t = time.monotonic()
            self.install()
            self.timings["install"] = time.monotonic() - t
        except BaseException as e:     # reported by the main thread
            self.tree_error = e

    def install(self):
        r = e2e.run(["meson", "introspect", BUILD, "--installed"])
        self.installed = json.loads(r.stdout)          # build path -> install path
        self.tree.install()
        self.write_test_config()
        e2e.run(["systemctl", "--root=" + self.tree.root, "enable", "tdsleepd.service"])

    def write_test_config(self):
        """The test-only files (also used by tests/package/run, before the package is in)."""
        T = self.tree.p
        # --- test-only configuration ("e2e:" comments say why) ---
        e2e.write(T("/etc/hostname"), self.name + "\n")
        # e2e: a persistent journal in the tree, followed from the host (e2e.Journal)
        os.makedirs(T("/var/log/journal"), exist_ok=True)
        e2e.write(T("/etc/systemd/journald.conf.d/e2e.conf"),
                  "# e2e: followed from the host\n[Journal]\nStorage=persistent\nRateLimitBurst=0\n")
        # e2e: no console login on the pipe console
        os.symlink("/dev/null", T("/etc/systemd/system/console-getty.service"))
        # e2e: the daemon reaches the host's private libvirtd through its socket dir,
        # bound into the container; a short graceful-stop budget for the ACPI-ignoring TD.
        conf = self.config_path()
        e2e.write(T(conf + ".d/e2e.conf"), self.daemon_conf(SHUTDOWN_TIMEOUT))
        # e2e: debug logging, so a failure shows what the daemon did
        e2e.write(T("/etc/systemd/system/tdsleepd.service.d/e2e.conf"),
                  "# e2e: debug logging for diagnostics\n[Service]\nEnvironment=TDSLEEP_LOG_LEVEL=debug\n")
        # e2e: a fake active swap file (never swapon'ed), seen only by logind and the
        # hibernating services, so CanHibernate=yes and systemd-sleep finds a resume place
        e2e.write(T(e2e.FAKE_SWAPS),
                  "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n"
                  "%s                      file\t\t33554432\t0\t\t-2\n" % e2e.FAKE_SWAPFILE)
        e2e.run(["fallocate", "-l", "16M", T(e2e.FAKE_SWAPFILE)])
        os.chmod(T(e2e.FAKE_SWAPFILE), 0o600)
        for u in ("systemd-logind", "systemd-hibernate", "systemd-hybrid-sleep",
                  "systemd-suspend-then-hibernate"):
            e2e.write(T("/etc/systemd/system/%s.service.d/e2e-swaps.conf" % u),
                      "# e2e: fake swap for hibernation\n[Service]\nBindReadOnlyPaths=%s:/proc/swaps\n"
                      % e2e.FAKE_SWAPS)
        # e2e: systemd-sleep opens /sys/power/state with fopen("w"), i.e. O_TRUNC. Real
        # sysfs ignores that; our fake is a regular file that would read empty while the
        # hooks run (and tdsleepd, asked by its hook then, would see no sleep state at
        # all). The sleep services get their own copy; everyone else sees the fake.
        for u in ("systemd-suspend", "systemd-hibernate", "systemd-hybrid-sleep",
                  "systemd-suspend-then-hibernate"):
            e2e.write(T("/etc/systemd/system/%s.service.d/e2e-state.conf" % u),
                      "# e2e: see tests/e2e/run (O_TRUNC on a fake sysfs file)\n"
                      "[Service]\nBindPaths=%s:/sys/power/state\n" % SLEEP_STATE_COPY)
        e2e.write(T(SLEEP_STATE_COPY), POWER_DEFAULTS["state"])
        # e2e: a hook of our own records what systemd-sleep passes to hooks
        e2e.write(T("/usr/lib/systemd/system-sleep/e2e-record"),
                  "#!/bin/sh\n# e2e: record the hook arguments and SYSTEMD_SLEEP_ACTION\n"
                  "echo \"e2e-hook $1 $2 SYSTEMD_SLEEP_ACTION=$SYSTEMD_SLEEP_ACTION\" | "
                  "systemd-cat -t e2e-hook\n", 0o755)

    def config_path(self):
        for src, dst in self.installed.items():
            if dst.endswith("/tdsleepd.conf"):
                return dst
        raise SetupError("meson installs no tdsleepd.conf: %s" % self.installed)

    @staticmethod
    def daemon_conf(timeout, **sleep):
        extra = "".join("%s=%s\n" % kv for kv in sleep.items())
        return ("# e2e: the host's private libvirtd (socket dir bound into the container) and a\n"
                "# short graceful-stop budget so the ACPI-ignoring TD is forced off quickly\n"
                "[Manager]\n%s\n[Sleep]\nShutdownTimeoutSec=%s\n%s" % (
                    "" if modern else "LibvirtURI=%s\n" % e2e.LIBVIRT_URI, timeout, extra))

    def set_config(self, timeout=SHUTDOWN_TIMEOUT, **sleep):
        """Rewrite the config drop-in and reload the running daemon (ExecReload=)."""
        mark = self.ct.journal.mark()
        self.ct.write(self.config_path() + ".d/e2e.conf", self.daemon_conf(timeout, **sleep))
        self.ct.run(["systemctl", "reload", "tdsleepd.service"])
        self.ct.journal.wait(daemon_rx(r"Reloaded the configuration"), mark, 20, "the daemon's reload")

    def set_shutdown_timeout(self, timeout):
        self.set_config(timeout)

    def reset_cpus(self, cpu1_online=True):
        """A fake /sys/devices/system/cpu: cpu0 in package 0 (not hotpluggable), cpu1 alone
        in package 1; with cpu1 offline, package 1 has no online CPU."""
        on = "1" if cpu1_online else "0"
        files = {"present": "0-1\n", "possible": "0-1\n", "online": "0-1\n" if cpu1_online else "0\n",
                 "offline": "\n" if cpu1_online else "1\n",
                 "cpu0/topology/physical_package_id": "0\n",
                 "cpu1/topology/physical_package_id": "1\n", "cpu1/online": on + "\n"}
        for rel, text in files.items():
            e2e.write(os.path.join(self.cpus, rel), text)

    # --- guests
    def start_libvirt(self):
        if modern:
            return modern.prepare_guests(self)     # libvirtd runs in the container
        t = time.monotonic()
        try:
            images = guest_images()
        except tdsleeptest.unittest.SkipTest as e:
            raise Skip("guest images: %s" % e)
        self.timings["guest images"] = time.monotonic() - t
        t = time.monotonic()
        self.lv = tdsleeptest.PrivateLibvirtd(os.path.join(self.work, "libvirt"))
        self.lv.start()
        self.timings["libvirtd"] = time.monotonic() - t
        serial = os.path.join(self.work, "serial")
        os.makedirs(serial)
        self.pool = tdsleeptest.GuestPool(self.lv, images, serial)
        for name, opts in GUESTS.items():
            self.pool.define(name, **opts)
        self.t_guests = time.monotonic()
        for name in GUESTS:                         # boot in parallel; wait later
            self.lv.qemu.lookupByName(name).create()

    def state(self, name):
        return tdsleeptest.domain_state(self.lv.qemu, name)

    # --- the container
    def boot(self):
        os.makedirs(self.power)
        self.reset_power("s2idle [deep]")
        self.reset_cpus()
        # nspawn's /sys is read-only and has no power/ in a container. A fake CPU topology
        # (scenario 8) goes to /run/e2e-cpu: nspawn mounts sysfs's devices/ over any bind
        # below /sys/devices, so the scenario binds it over /sys/devices/system/cpu later.
        self.ct = self.make_container([(self.power, "/sys/power"), (self.cpus, FAKE_CPU_DIR)] +
                                      (modern.binds(self) if modern else
                                       [(os.path.dirname(self.lv.sock), e2e.LIBVIRT_SOCK_DIR)]))
        t = time.monotonic()
        st = self.ct.boot()
        self.timings["boot"] = time.monotonic() - t
        log("container %s booted (%s) in %.1fs, init pid %d" % (self.name, st, self.timings["boot"],
                                                                self.ct.leader))
        if st == "degraded":
            log("failed units: %s" % self.ct.run(["systemctl", "--failed", "--no-legend"],
                                                 check=False).stdout.strip())
        if modern:
            modern.start_guests(self)

    def make_container(self, binds):
        return e2e.Container(self.name, self.tree.root, self.work, binds,
                             extra_args=modern.nspawn_args() if modern else ())

    def reset_power(self, mem_sleep):
        """systemd-sleep writes into these files: rewrite them before every scenario."""
        for name, text in dict(POWER_DEFAULTS, mem_sleep=mem_sleep + "\n").items():
            e2e.write(os.path.join(self.power, name), text)

    def remove_work(self):
        if VERBOSE and self.ct:
            log("console:\n" + self.ct.console_tail(60))
            log("journal at shutdown:\n" + "\n".join(fmt_entry(e) for e in self.ct.journal.entries[-40:]))
        shutil.rmtree(self.work, ignore_errors=True)

    def stop(self):
        if self.stopped:
            return
        self.stopped = True
        for what, fn in (("guests", lambda: self.pool and self.pool.stop_all()),
                         ("container", lambda: self.ct and self.ct.stop()),
                         ("libvirtd", lambda: self.lv and self.lv.stop()),
                         ("workdir", self.remove_work)):
            t = time.monotonic()
            try:
                fn()
            except BaseException as e:
                log("cleanup of %s failed: %s" % (what, e))
            if VERBOSE:
                log("cleanup of %s: %.1fs" % (what, time.monotonic() - t))


# ----------------------------------------------------------------------------------
# Scenario helpers


class Ctx:
    def __init__(self, env):
        self.env = env
        self.ct = env.ct
        self.j = env.ct.journal
        self.ev = env.lv.events

    def daemon_status(self):
        return self.ct.show("tdsleepd.service", "StatusText")

    def ready(self, timeout=90):
        """All guests up (GUEST-READY), daemon idle, connected, holding its delay lock."""
        self.env.pool.ensure_running(list(GUESTS), timeout)
        want = ("idle", "%d TDs running" % len(TDS), "delay lock held", "libvirt connected")
        end = time.monotonic() + timeout
        st = ""
        while time.monotonic() < end:
            st = self.daemon_status()
            if all(w in st for w in want):
                break
            time.sleep(0.1)
        else:
            raise AssertionError("daemon not ready: StatusText=%r (want %s); ActiveState=%s" % (
                st, ", ".join(want), self.ct.show("tdsleepd.service", "ActiveState")))
        inh = self.ct.run(["systemd-inhibit", "--list", "--no-pager", "--no-legend"]).stdout
        if not re.search(r"^.*tdsleepd.*\bsleep\b.*\bdelay\b", inh, re.M):
            raise AssertionError("logind lists no delay lock of tdsleepd:\n%s" % inh)

    def start(self, verb):
        """Run `systemctl VERB` inside; returns the scenario window (journal mark, event time)."""
        w = dict(mark=self.j.mark(), ev=tdsleeptest.now(), verb=verb,
                 unit="systemd-%s.service" % verb)
        self.ct.run(["systemctl", verb])
        return w

    def wait_sleep_unit(self, w, timeout=120):
        """The sleep service's start (systemd's 'Starting ...') and its end."""
        w["sleep_start"] = self.j.wait(unit_msg(w["unit"], e2e.SD_MSG_UNIT_STARTING), w["mark"], timeout,
                                       "'Starting %s'" % w["unit"])
        w["sleep_end"] = self.j.wait(lambda e: unit_msg(w["unit"], e2e.SD_MSG_UNIT_STARTED)(e) or
                                     unit_msg(w["unit"], e2e.SD_MSG_UNIT_FAILED)(e) or
                                     (e.get("_PID") == "1" and e.get("UNIT") == w["unit"] and
                                      "Failed to start" in msg(e)),
                                     w["mark"], timeout, "the end of %s" % w["unit"])
        return w

    def wait_resumed(self, w, timeout=90):
        w["pfs_false"] = self.j.wait(daemon_rx(r"PrepareForSleep\(false\)"), w["mark"], timeout,
                                     "tdsleepd's 'logind: PrepareForSleep(false)'")
        w["done"] = self.j.wait(daemon_id(e2e.MSG_CYCLE_DONE), w["mark"], timeout,
                                "tdsleepd's 'Resumed in' (MESSAGE_ID=%s)" % e2e.MSG_CYCLE_DONE)
        return w

    def events(self, w, name):
        """libvirt lifecycle events of a guest in the window: (realtime, EVENT, DETAIL)."""
        return [(realtime_of(e[0]), e[2], e[3]) for e in self.ev.select(name, since=w["ev"])]

    def daemon_errors(self, w, allow=()):
        return [e for e in self.j.select(is_daemon, w["mark"])
                if int(e.get("PRIORITY", "6")) <= 3 and not any(re.search(a, msg(e)) for a in allow)]

    # --- the common assertions of a cycle that stops TDs and starts them again
    def assert_stopped_then_started(self, w, forced=(IGNORING,)):
        self.j.sync(self.ct)
        problems = []
        sleep_t = ts(w["sleep_start"])
        prepared = self.j.select(daemon_id(e2e.MSG_LOCK_RELEASED), w["mark"])
        if not prepared:
            problems.append("no 'Prepared for sleep' (MESSAGE_ID=%s) from tdsleepd" % e2e.MSG_LOCK_RELEASED)
        elif ts(prepared[0]) > sleep_t:
            problems.append("'Prepared for sleep' at %.3f is after 'Starting %s' at %.3f" % (
                ts(prepared[0]), w["unit"], sleep_t))
        pfs_false_t = ts(w["pfs_false"])
        for name in TDS:
            evs = self.events(w, name)
            stops = [e for e in evs if e[1] == "STOPPED"]
            starts = [e for e in evs if e[1] == "STARTED"]
            want_detail = "DESTROYED" if name in forced else "SHUTDOWN"
            if not stops:
                problems.append("%s: never stopped (events %s)" % (name, evs))
            else:
                if stops[0][0] > sleep_t:
                    problems.append("%s: STOPPED at %.3f, after %s started at %.3f" % (
                        name, stops[0][0], w["unit"], sleep_t))
                if stops[0][2] != want_detail:
                    problems.append("%s: STOPPED/%s, expected STOPPED/%s" % (name, stops[0][2], want_detail))
            if not starts or starts[-1][0] < pfs_false_t:
                problems.append("%s: not started again after PrepareForSleep(false) at %.3f (events %s)" % (
                    name, pfs_false_t, evs))
            st = self.env.state(name)
            if st != "running":
                problems.append("%s: %s at the end, expected running" % (name, st))
        self.assert_plain_untouched(w, problems)
        m = re.search(r"(\d+) TDs started again, (\d+) failed", msg(w["done"]))
        if not m or (int(m.group(1)), int(m.group(2))) != (len(TDS), 0):
            problems.append("daemon says %r, expected %d TDs started again, 0 failed" % (
                msg(w["done"]), len(TDS)))
        problems += ["tdsleepd logged an error: %s" % fmt_entry(e) for e in self.daemon_errors(w)]
        if problems:
            raise AssertionError("\n".join(problems))
        return "stopped %.2fs before %s; resumed: %s" % (
            sleep_t - max(e[0] for n in TDS for e in self.events(w, n) if e[1] == "STOPPED"),
            w["unit"], msg(w["done"]))

    def assert_plain_untouched(self, w, problems):
        evs = self.events(w, PLAIN)
        if evs:
            problems.append("the ordinary VM %s was touched: %s" % (PLAIN, evs))
        if self.env.state(PLAIN) != "running":
            problems.append("the ordinary VM %s is %s" % (PLAIN, self.env.state(PLAIN)))

# ----------------------------------------------------------------------------------


def print_diagnostics(c, w_mark, ev_since):
    c.j.sync(c.ct)
    print("---- tdsleepd journal (this scenario) ----")
    for e in c.j.select(is_daemon, w_mark):
        print("  " + fmt_entry(e))
    print("---- systemd, logind, sleep (this scenario) ----")
    for e in c.j.select(lambda e: not is_daemon(e) and (
            e.get("_PID") == "1" or e.get("_COMM") in ("systemd-logind", "systemd-sleep")), w_mark):
        print("  " + fmt_entry(e))
    print("---- libvirt events (this scenario) ----")
    for e in c.ev.select(since=ev_since):
        t = realtime_of(e[0])
        print("  %s.%03d %s %s/%s" % (time.strftime("%H:%M:%S", time.localtime(t)), int(t * 1000) % 1000,
                                       e[1], e[2], e[3]))
    print("---- daemon status: %s ----" % c.ct.run(
        ["systemctl", "show", "-p", "ActiveState,SubState,MainPID,NRestarts,StatusText", "tdsleepd"],
        check=False).stdout.replace("\n", " "))
    print("---- container console (last lines) ----")
    print(c.ct.console_tail(40))
    sys.stdout.flush()
