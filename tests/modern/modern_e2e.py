# SPDX-License-Identifier: LGPL-2.1-or-later
"""tests/modern's part of tests/e2e/run, used when TDSLEEP_E2E_ROOT names the prepared
Debian 13 tree (tests/modern/run installs the project into it first).

What differs from the Debian 12 e2e tier:
  - libvirt runs inside the container, as Debian ships it (libvirt-daemon-system: the
    monolithic libvirtd, socket-activated; Debian packages no virtqemud), QEMU 11.1 TCG
    guests under it, and tdsleepd reaches it with its built-in URI qemu:///system;
  - the container's /run/libvirt is a host directory, so the harness watches the same
    libvirtd (its lifecycle events) through libvirt-sock;
  - cgroup v2 inside (SYSTEMD_NSPAWN_UNIFIED_HIERARCHY=1), so the scenarios below can
    prove the parts of the unit's sandbox that need it, and systemd 257's tools
    (systemd-analyze security, varlinkctl) look at the daemon.
"""
import fcntl
import json
import os
import re
import shutil
import struct
import subprocess
import time

import e2e
from e2e import log, msg, SetupError, Skip

tdsleeptest = e2e.tdsleeptest
SOCK = "/run/tdsleep/io.tdsleep.Manager"
IFACE = "io.tdsleep.Manager"
BOOT_DIR = "/var/lib/libvirt/boot/tdsleep-e2e"     # guest kernel + initramfs, in the tree
CAP_SYS_BOOT = 22
GUESTS = {}     # set by tests/e2e/harness.py: name -> options
TDS = []
POWER_DEFAULTS = {}     # tests/e2e/harness.py's: the fake /sys/power files


def skip_reason(root, need_installed=True):
    """need_installed: the tree has the project from meson install (tests/e2e), not
    from the package (tests/package/run installs it after boot)."""
    if not os.path.isdir(root):
        return "TDSLEEP_E2E_ROOT=%s is not a directory" % root
    if need_installed and not os.access(os.environ.get("TDSLEEP_E2E_INSTALLED", ""), os.R_OK):
        return "TDSLEEP_E2E_INSTALLED (meson introspect --installed of the tree's build) is not readable"
    for prog in ("systemd-nspawn", "unshare", "nsenter", "busybox", "apt-get", "dpkg"):
        if shutil.which(prog) is None:
            return "%s not found" % prog
    try:
        import libvirt  # noqa: F401
    except ImportError:
        return "python3-libvirt missing (run with /usr/bin/python3)"
    return None


def installed():
    with open(os.environ["TDSLEEP_E2E_INSTALLED"]) as f:
        return json.load(f)


def configure(env):
    """Test-only changes to the tree besides tests/e2e's ("e2e:" says why)."""
    T = env.tree.p
    hibernation_setup(env)
    # e2e: nothing may reach the real network; libvirt's default network is not used
    for unit in ("apt-daily.timer", "apt-daily-upgrade.timer"):
        with_link = T("/etc/systemd/system/timers.target.wants/" + unit)
        if os.path.lexists(with_link):
            os.unlink(with_link)


class ContainerLibvirt:
    """The container's own libvirtd, seen from the host through its socket directory."""

    def __init__(self, work):
        self.run_dir = os.path.join(work, "libvirt-run")     # bound at /run/libvirt
        os.makedirs(self.run_dir)
        self.sock = os.path.join(self.run_dir, "libvirt-sock")
        self.uri = "qemu:///system?socket=" + self.sock
        self.events = tdsleeptest.LifecycleEvents.get()
        self.qemu = None

    def connect(self, timeout=60):
        import libvirt
        end = time.monotonic() + timeout
        err = None
        while time.monotonic() < end:
            if os.path.exists(self.sock):           # libvirtd.socket listens: activation on connect
                try:
                    self.qemu = libvirt.open(self.uri)
                    break
                except libvirt.libvirtError as e:
                    err = e
            time.sleep(0.1)
        else:
            raise SetupError("no connection to the container's libvirtd (%s) within %ds: %s" % (
                self.sock, timeout, err))
        self.events.watch(self.qemu)

    def stop(self):
        if self.qemu is not None:
            self.qemu.close()
            self.qemu = None


class BootImages:
    """tdsleeptest.GuestImages' files as the container sees them (copied into the tree)."""

    def __init__(self, kernel):
        self.kernel = kernel

    def initrd(self, acpid):
        return os.path.join(BOOT_DIR, "initramfs.cpio.gz" if acpid else "initramfs-ignore.cpio.gz")


def prepare_guests(env):
    """Before boot: guest images into the tree, the serial log dir, the libvirt dir."""
    t = time.monotonic()
    try:
        # Debian 12's kernel, as tests/e2e's guests (tools/test shares one cache)
        images = tdsleeptest.GuestImages(cache_root=os.environ.get("TDSLEEP_GUEST_CACHE") or os.path.join(
            os.environ["TDSLEEP_E2E_CACHE"], "guests")).build()
    except tdsleeptest.unittest.SkipTest as e:
        raise Skip("guest images: %s" % e)
    dest = env.tree.p(BOOT_DIR)
    os.makedirs(dest, exist_ok=True)
    for f in (images.kernel, images.initrd(True), images.initrd(False)):
        shutil.copy(f, dest)
    env.timings["guest images"] = time.monotonic() - t
    env.serial = os.path.join(env.work, "serial")
    os.makedirs(env.serial)
    os.chmod(env.serial, 0o777)         # QEMU runs as libvirt-qemu in there
    env.lv = ContainerLibvirt(env.work)
    env.pool = tdsleeptest.GuestPool(env.lv, BootImages(os.path.join(BOOT_DIR, os.path.basename(images.kernel))),
                                     env.serial)


def first_extent(path):
    """Physical byte offset of a file's first extent (FS_IOC_FIEMAP), as systemd reads it."""
    FS_IOC_FIEMAP = 0xC020660B
    buf = bytearray(struct.pack("=QQLLLL", 0, 1 << 62, 1, 0, 1, 0) + bytes(56))     # FIEMAP_FLAG_SYNC
    with open(path, "rb") as f:
        fcntl.ioctl(f.fileno(), FS_IOC_FIEMAP, buf)
    if struct.unpack_from("=L", buf, 20)[0] < 1:
        raise SetupError("%s has no extent" % path)
    return struct.unpack_from("=QQ", buf, 32)[1]


def hibernation_setup(env):
    """e2e: systemd >= 255 hibernates only to a swap it can resume from (tests/e2e fakes an
    active swap file). Two test-only steps make that true here:
      - the fake swap file lives on the host's file system, bound in: logind maps a swap
        file to its block device and offset with FIEMAP, which the overlay lacks ("Not
        enough suitable swap space for hibernation ...");
      - the fake /sys/power/resume and resume_offset name that file, as the initrd does
        on a host booted with resume= (else "Not running on EFI and resume= is not
        set ...": logind reads those two files, not the kernel command line)."""
    env.swapfile = os.path.join(env.work, "swapfile")
    e2e.run(["fallocate", "-l", "16M", env.swapfile])
    os.chmod(env.swapfile, 0o600)
    st = os.stat(env.swapfile)
    POWER_DEFAULTS["resume"] = "%d:%d\n" % (os.major(st.st_dev), os.minor(st.st_dev))
    POWER_DEFAULTS["resume_offset"] = "%d\n" % (first_extent(env.swapfile) // os.sysconf("SC_PAGE_SIZE"))


def binds(env):
    return [(env.lv.run_dir, "/run/libvirt"), (env.serial, env.serial), (env.swapfile, e2e.FAKE_SWAPFILE)]


def nspawn_args():
    # e2e: the container's systemd may load BPF programs, as PID 1 on a host does:
    # IPAddressDeny= (and DevicePolicy= under cgroup v2) are BPF programs on the unit's
    # cgroup. systemd-nspawn's default seccomp filter makes bpf() fail with EPERM and
    # drops CAP_BPF; systemd then says "unit configures an IP firewall, but the local
    # system does not support BPF/cgroup firewalling" and enforces nothing.
    return ["--capability=CAP_BPF", "--system-call-filter=bpf"]


def start_guests(env):
    """After boot: connect to the container's libvirtd, define and start the guests."""
    # e2e: systemd-sleep names the swap file's block device by /dev/block/MAJ:MIN, as
    # udev makes it on a host: give the container that node and link (nspawn's /dev has
    # no disks), else "Failed to format canonical device path for devno ..."
    st = os.stat(env.swapfile)
    dev = "%d:%d" % (os.major(st.st_dev), os.minor(st.st_dev))
    with open("/sys/dev/block/%s/uevent" % dev) as f:
        name = re.search(r"^DEVNAME=(\S+)", f.read(), re.M).group(1)
    env.ct.run(["mknod", "-m", "0600", "/dev/" + name, "b", str(os.major(st.st_dev)), str(os.minor(st.st_dev))])
    env.ct.run(["mkdir", "-p", "/dev/block"])
    env.ct.run(["ln", "-s", "../" + name, "/dev/block/" + dev])
    t = time.monotonic()
    env.lv.connect()
    env.timings["libvirtd"] = time.monotonic() - t
    for name, opts in GUESTS.items():
        env.pool.define(name, **opts)
    env.t_guests = time.monotonic()
    for name in GUESTS:
        env.lv.qemu.lookupByName(name).create()


# ----------------------------------------------------------------------------------
# Scenarios


def _show(c, unit, *props):
    out = c.ct.run(["systemctl", "show", "-p", ",".join(props), unit]).stdout
    return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)


def sc_libvirt_layout(c):
    """Debian 13's libvirt layout, and tdsleepd.service ordered right against it and
    against the modular one: the daemon reaches libvirtd by its built-in URI."""
    problems, notes = [], []
    files = c.ct.run(["systemctl", "list-unit-files", "--no-legend", "--no-pager",
                      "libvirtd*", "virtqemud*", "virtproxyd*", "libvirt-guests*"]).stdout
    enabled = sorted(line.split()[0] for line in files.splitlines() if len(line.split()) > 1
                     and line.split()[1] == "enabled")
    modular = [line.split()[0] for line in files.splitlines() if line.startswith("virtqemud")]
    notes.append("enabled: %s; modular units shipped: %s" % (" ".join(enabled), " ".join(modular) or "none"))
    for u in ("libvirtd.socket", "libvirtd.service"):
        if _show(c, u, "ActiveState")["ActiveState"] != "active":
            problems.append("%s is not active" % u)
    after = _show(c, "tdsleepd.service", "After")["After"].split()
    for u in ("libvirtd.service", "virtqemud.service", "systemd-logind.service"):
        if u not in after:
            problems.append("tdsleepd.service is not After=%s" % u)
    # started after libvirtd at boot (order of the "Started" messages of PID 1)
    started = {}
    for e in c.j.select(lambda e: e.get("_PID") == "1" and e.get("MESSAGE_ID") == e2e.SD_MSG_UNIT_STARTED):
        started.setdefault(e.get("UNIT"), e2e.ts(e))
    if "libvirtd.service" in started and "tdsleepd.service" in started:
        if started["tdsleepd.service"] < started["libvirtd.service"]:
            problems.append("tdsleepd.service started before libvirtd.service at boot")
        notes.append("at boot tdsleepd started %.2fs after libvirtd" % (
            started["tdsleepd.service"] - started["libvirtd.service"]))
    st = json.loads(c.ct.run(["varlinkctl", "call", "--json=short", SOCK, IFACE + ".GetStatus", "{}"]).stdout)
    uri, connected = st["status"]["libvirtUri"], st["status"]["libvirtConnected"]
    notes.append("tdsleepd: libvirtUri=%s connected=%s" % (uri, connected))
    if uri != "qemu:///system" or not connected:
        problems.append("tdsleepd is not connected through the built-in qemu:///system (%s, %s)" % (uri, connected))
    # systemd 257 checks the installed units (unknown or deprecated settings, bad paths)
    r = c.ct.run(["systemd-analyze", "verify", "--man=no", "tdsleepd.service", "tdsleepd.socket"],
                 check=False)      # --man=no: the test tree has no man(1)
    out = "\n".join(line for line in (r.stdout + r.stderr).splitlines()
                    if "tdsleep" in line)
    if r.returncode != 0 or out:
        problems.append("systemd-analyze verify (exit %d):\n%s" % (r.returncode, out or r.stderr[-2000:]))
    if problems:
        raise AssertionError("\n".join(problems))
    return "; ".join(notes)


SANDBOX_PROBE = r"""
import errno, os, socket, sys
unit_cg = sys.argv[1]
srv = socket.socket()
srv.bind(("127.0.0.1", 0))
srv.listen(4)
port = srv.getsockname()[1]
def try_connect():
    s = socket.socket()
    s.settimeout(3)
    try:
        s.connect(("127.0.0.1", port))
        return "connected"
    except socket.timeout:
        return "timeout"
    except OSError as e:
        return errno.errorcode.get(e.errno, str(e.errno))
    finally:
        s.close()
print("outside", try_connect())
pid = os.fork()
if pid == 0:
    with open("/sys/fs/cgroup%s/cgroup.procs" % unit_cg, "w") as f:
        f.write(str(os.getpid()))
    print("inside", try_connect(), flush=True)
    os._exit(0)
os.waitpid(pid, 0)
"""


def sc_sandbox_cgroup2(c):
    """Under cgroup v2 the unit's whole sandbox applies: IPAddressDeny=any (a BPF
    program on the service's cgroup, impossible on cgroup v1) blocks IP even to
    127.0.0.1 for anything in tdsleepd.service's cgroup, while the same connect from
    outside works; the daemon runs with NoNewPrivs, seccomp, CAP_SYS_BOOT alone, a
    read-only /usr, no /home, its own /tmp and /dev. Reports systemd-analyze security."""
    problems, notes = [], []
    fs = c.ct.run(["stat", "-f", "-c", "%T", "/sys/fs/cgroup"]).stdout.strip()
    if fs != "cgroup2fs":
        raise AssertionError("/sys/fs/cgroup in the container is %s, not cgroup2fs" % fs)
    p = _show(c, "tdsleepd.service", "MainPID", "ControlGroup", "IPAddressDeny")
    pid, cg = p["MainPID"], p["ControlGroup"]
    notes.append("IPAddressDeny=%s" % p["IPAddressDeny"])
    r = c.ct.run(["python3", "-c", SANDBOX_PROBE, cg], check=False)
    res = dict(line.split(" ", 1) for line in r.stdout.splitlines())
    if res.get("outside") != "connected":
        problems.append("control connect to 127.0.0.1 from outside the unit failed: %r" % res)
    # the BPF egress program drops the SYN: EPERM or, with retransmits, a timeout
    if res.get("inside") not in ("EPERM", "timeout"):
        problems.append("connect to 127.0.0.1 from tdsleepd.service's cgroup: %r, want EPERM or a "
                        "timeout (IPAddressDeny=any not enforced); stderr: %s" % (res.get("inside"), r.stderr[-500:]))
    notes.append("127.0.0.1 from the unit's cgroup: %s (outside: %s)" % (res.get("inside"), res.get("outside")))
    bpf = c.j.select(lambda e: "firewall" in msg(e) and "not support" in msg(e))
    if bpf:
        problems.append("systemd: %s" % msg(bpf[0]))
    status = c.ct.run(["cat", "/proc/%s/status" % pid]).stdout
    f = dict(re.findall(r"^(\w+):\s*(.*)$", status, re.M))
    if f.get("NoNewPrivs") != "1":
        problems.append("NoNewPrivs=%s" % f.get("NoNewPrivs"))
    if f.get("Seccomp") != "2":
        problems.append("Seccomp=%s (want 2, filter)" % f.get("Seccomp"))
    if int(f.get("CapBnd", "0"), 16) != 1 << CAP_SYS_BOOT:
        problems.append("CapBnd=%s, want CAP_SYS_BOOT alone" % f.get("CapBnd"))
    ns = ["nsenter", "-t", pid, "-m", "--"]
    checks = [
        ("/usr read-only", ns + ["sh", "-c", "touch /usr/e2e-probe 2>&1"], "Read-only file system"),
        ("/etc read-only", ns + ["sh", "-c", "touch /etc/e2e-probe 2>&1"], "Read-only file system"),
        ("no /home", ns + ["sh", "-c", "ls /home 2>&1; echo rc=$?"], "Permission denied|rc=0$"),
    ]
    for what, cmd, want in checks:
        out = c.ct.run(cmd, check=False).stdout.strip()
        if not re.search(want, out, re.M):
            problems.append("%s: %r" % (what, out))
    tun_host = c.ct.run(["test", "-e", "/dev/net/tun"], check=False).returncode == 0
    tun_unit = c.ct.run(ns + ["test", "-e", "/dev/net/tun"], check=False).returncode == 0
    if tun_unit and tun_host:
        problems.append("PrivateDevices=: /dev/net/tun is visible to tdsleepd")
    tmp_host = c.ct.run(["stat", "-c", "%d:%i", "/tmp"]).stdout.strip()
    tmp_unit = c.ct.run(ns + ["stat", "-c", "%d:%i", "/tmp"]).stdout.strip()
    if tmp_host == tmp_unit:
        problems.append("PrivateTmp=: tdsleepd sees the system's /tmp")
    sec = c.ct.run(["systemd-analyze", "security", "--no-pager", "tdsleepd.service"], check=False)
    m = re.search(r"Overall exposure level for tdsleepd.service: ([\d.]+) (\S+)", sec.stdout)
    open_items = [re.sub(r"\s+", " ", line.strip()) for line in sec.stdout.splitlines()
                  if line.lstrip().startswith("✗")]
    log("systemd-analyze security tdsleepd.service (systemd 257):\n" + sec.stdout)
    if not m:
        problems.append("systemd-analyze security printed no exposure level:\n%s" % (sec.stdout + sec.stderr)[-2000:])
    elif float(m.group(1)) > 2.0:
        problems.append("exposure %s %s (the unit says about 1.2)" % (m.group(1), m.group(2)))
    if problems:
        raise AssertionError("\n".join(problems))
    notes.append("NoNewPrivs, seccomp, CapBnd=CAP_SYS_BOOT, ro /usr and /etc, no /home, private /tmp and /dev")
    return "%s; systemd-analyze security: %s %s, %d open: %s" % (
        "; ".join(notes), m.group(1), m.group(2), len(open_items), " | ".join(open_items))


def _varlinkctl(c, *args, check=True):
    return c.ct.run(["varlinkctl"] + list(args), check=check)


def sc_varlinkctl(c):
    """systemd 257's varlinkctl, a second Varlink implementation, against the installed
    socket: info, list-interfaces, introspect, calls, a --more Subscribe that collects
    the events of a whole suspend cycle, error replies, and UTF-8 in a parameter."""
    problems, notes = [], []
    c.env.reset_power("s2idle [deep]")
    c.ready()
    info = json.loads(_varlinkctl(c, "info", "--json=short", SOCK).stdout)
    if IFACE not in info.get("interfaces", []) or "org.varlink.service" not in info.get("interfaces", []):
        problems.append("info: interfaces %s" % info.get("interfaces"))
    ifaces = _varlinkctl(c, "list-interfaces", SOCK).stdout.split()
    if ifaces != sorted(set(ifaces)) or IFACE not in ifaces:
        problems.append("list-interfaces: %s" % ifaces)
    # introspect parses the IDL with systemd's own parser: enums, ?Step, []Step and all
    intro = _varlinkctl(c, "introspect", SOCK, IFACE).stdout
    for want in ("interface io.tdsleep.Manager", "method GetStatus()", "method Subscribe()",
                 "type EventType", "type Step", "error Busy"):
        if want not in intro:
            problems.append("introspect: no %r" % want)
    svc = _varlinkctl(c, "introspect", SOCK, "io.systemd.service").stdout
    if "method SetLogLevel" not in svc:
        problems.append("introspect io.systemd.service: %r" % svc[-300:])
    # systemd's own way to change a service's log level works on tdsleepd; the level
    # found is put back (later scenarios wait for debug lines such as "Shutting down TD")
    before = json.loads(_varlinkctl(c, "call", "--json=short", SOCK, IFACE + ".GetStatus",
                                    "{}").stdout)["status"].get("logLevel", 6)
    _varlinkctl(c, "call", SOCK, "io.systemd.service.SetLogLevel", '{"level":7}')
    st = json.loads(_varlinkctl(c, "call", "--json=short", SOCK, IFACE + ".GetStatus", "{}").stdout)["status"]
    if st.get("logLevel") != 7:
        problems.append("SetLogLevel(7) via varlinkctl, then GetStatus says logLevel=%r" % st.get("logLevel"))
    _varlinkctl(c, "call", SOCK, "io.systemd.service.SetLogLevel", json.dumps({"level": before}))
    st = json.loads(_varlinkctl(c, "call", "--json=short", SOCK, IFACE + ".GetStatus", "{}").stdout)["status"]
    if st["phase"] != "idle" or st["tdsRunning"] != len(TDS):
        problems.append("GetStatus: phase %s, %s TDs running" % (st["phase"], st["tdsRunning"]))
    # errors: a bad parameter, an unknown method
    for method, params, want in ((IFACE + ".Plan", '{"operation":"nap"}', "org.varlink.service.InvalidParameter"),
                                 (IFACE + ".Nap", "{}", "org.varlink.service.MethodNotFound")):
        r = _varlinkctl(c, "call", SOCK, method, params, check=False)
        if r.returncode == 0 or want not in r.stderr + r.stdout:
            problems.append("%s %s: exit %d, %r (want %s)" % (method, params, r.returncode,
                                                               (r.stderr + r.stdout).strip()[-300:], want))
    # UTF-8 both ways (json-c 0.18 in strict mode used to refuse it: common/json-parse.c)
    reason = "Firmware-Update für Büro – 2"
    _varlinkctl(c, "call", SOCK, IFACE + ".Hold", json.dumps({"reason": reason}, ensure_ascii=False))
    try:
        st = json.loads(_varlinkctl(c, "call", "--json=short", SOCK, IFACE + ".GetStatus", "{}").stdout)["status"]
        if st.get("hold") != reason:
            problems.append("Hold(%r) then GetStatus says hold=%r" % (reason, st.get("hold")))
    finally:
        _varlinkctl(c, "call", SOCK, IFACE + ".Release", "{}")
    # Subscribe with --more during a suspend cycle
    # (nsenter does not pass signals on: the shell prints varlinkctl's pid in the container)
    sub = subprocess.Popen(["nsenter", "-t", str(c.ct.leader), "-a", "--", "sh", "-c",
                            'echo $$; exec varlinkctl call --more --json=short "$0" "$1" "{}"',
                            SOCK, IFACE + ".Subscribe"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    inner = sub.stdout.readline().strip()
    try:
        first = sub.stdout.readline()               # the current phase comes at once
        w = c.start("suspend")
        c.wait_sleep_unit(w)
        c.wait_resumed(w)
        detail = c.assert_stopped_then_started(w)
    finally:
        c.ct.run(["kill", inner], check=False)
        try:
            rest, err = sub.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            sub.kill()
            rest, err = sub.communicate()
    events = [json.loads(line)["event"] for line in (first + rest).splitlines() if line.strip()]
    phases = [e.get("phase") for e in events if e.get("type") == "phase"]
    doms = {e["domain"]["name"] for e in events if e.get("type") == "domain" and e.get("domain")}
    for want in ("preparing", "ready", "resuming", "idle"):
        if want not in phases:
            problems.append("Subscribe via varlinkctl: no phase %s event (phases %s)" % (want, phases))
    seqs = [e.get("sequence") for e in events]
    if seqs != list(range(seqs[0], seqs[0] + len(seqs))):
        problems.append("Subscribe via varlinkctl: sequence numbers %s" % seqs)
    starts = [i for i, e in enumerate(events) if e.get("type") == "phase" and e.get("phase") == "preparing"]
    ends = [i for i, e in enumerate(events) if e.get("type") == "phase" and e.get("phase") == "idle"]
    in_cycle = events[starts[0]:ends[-1] + 1] if starts and ends else []
    if len({e.get("cycleId") for e in in_cycle}) != 1 or not in_cycle[-1].get("cycleId"):
        problems.append("Subscribe via varlinkctl: the cycle's events carry cycle ids %s" %
                        sorted({str(e.get("cycleId")) for e in in_cycle}))
    if not set(TDS) <= doms:
        problems.append("Subscribe via varlinkctl: domain events for %s only" % sorted(doms))
    if problems:
        raise AssertionError("\n".join(problems))
    notes.append("info/list-interfaces/introspect/GetStatus ok; InvalidParameter and MethodNotFound as errors; "
                 "UTF-8 Hold reason round trip; Subscribe --more: %d events (phases %s)" % (
                     len(events), " ".join(phases)))
    return "%s; %s" % ("; ".join(notes), detail)


# Numbered m1.. so that no number is also one of tests/e2e's own scenarios (0-13): a
# PASS/FAIL line and TDSLEEP_E2E_ONLY name one scenario.
SCENARIOS = [
    ("m1", "libvirt-layout", sc_libvirt_layout),
    ("m2", "sandbox-cgroup2", sc_sandbox_cgroup2),
    ("m3", "varlinkctl", sc_varlinkctl),
]
