# SPDX-License-Identifier: LGPL-2.1-or-later
"""End-to-end harness for tdsleep: real systemd 252, real logind, real QEMU guests.

Pieces (each owned and cleaned up by the harness):
  - BaseTree: a Debian bookworm minbase tree from debootstrap, cached as a tarball in
    the e2e cache dir, keyed by suite, variant, package list and mirror.
  - Tree: a fresh copy of it with the project installed by `meson install --destdir`
    and the test-only drop-ins (marked "e2e:" below) written in.
  - Container: that tree booted with `systemd-nspawn --boot` inside `unshare --mount`
    (tmpfs on /run/systemd) in its own parent cgroup, a fake /sys/power and the
    private libvirtd's socket dir bound in. Commands run inside with nsenter.
  - Journal: the container's journal streamed (journalctl -f -o json) into a list.
The private libvirtd, the guest images and the guest pool are the project's own
integration harness (tests/integration/tdsleeptest.py), imported, not copied.
"""
import contextlib
import fcntl
import glob
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "tests", "integration"))
os.environ.setdefault("TDSLEEP_TEST_QUIET", "0" if os.environ.get("TDSLEEP_E2E_VERBOSE") == "1" else "1")
import tdsleeptest  # noqa: E402  (the project's integration harness)

VERBOSE = os.environ.get("TDSLEEP_E2E_VERBOSE") == "1"
SUITE = "bookworm"
VARIANT = "minbase"
# What the tree needs besides tdsleepd's own libraries (added from its NEEDED entries).
# procps: kill(1), which tdsleepd.service's ExecReload= runs (minbase has none).
BASE_PACKAGES = ["systemd", "systemd-sysv", "dbus", "libvirt0", "libjson-c5", "libxml2",
                 "libinih1", "libudev1", "procps"]
DEFAULT_MIRROR = "http://deb.debian.org/debian"

# Inside the container.
LIBVIRT_SOCK_DIR = "/run/e2e-libvirt"
LIBVIRT_URI = "qemu:///system?socket=%s/libvirt-sock" % LIBVIRT_SOCK_DIR
FAKE_SWAPS = "/etc/e2e-fake-swaps"
FAKE_SWAPFILE = "/var/e2e-swapfile"

# Messages (daemon/messages.h and systemd's catalog).
MSG_CYCLE_STARTED = "7bbe9452490942e2a72fcb9e13e7aba4"
MSG_TD_STOPPED = "a4c3437676b1448ab58a1f295302ee23"
MSG_TD_FORCED_OFF = "9a99bb8ab0114fbbabeb41dbb4aeae3b"
MSG_LOCK_RELEASED = "1f42c0172d5443389abde36cb3f174db"
MSG_TD_STARTED = "9cb3172a4601425882d4f25544ea77c0"
MSG_CYCLE_DONE = "1b25a870f43c4ff7a51ea13ac6c4960f"
MSG_TD_OUTCOME = "1fe37788eef84d0b9f1fe1a168c2c34a"
# every MESSAGE_ID of tdsleepd (common/journal-ids.h), each with a catalog entry
MSG_ALL = {
    "cycle started": MSG_CYCLE_STARTED, "lock released": MSG_LOCK_RELEASED,
    "drained": "c1c43a99303d4c8888e3f7f5dd29cb66", "restore": "6aae4453a26646238e73cfa09f139698",
    "cycle done": MSG_CYCLE_DONE, "TD outcome": MSG_TD_OUTCOME, "TD stopped": MSG_TD_STOPPED,
    "TD forced off": MSG_TD_FORCED_OFF, "TD left running": "be61cf98180e4392b4a00e7d9943b09c",
    "TD started": MSG_TD_STARTED, "TD start failed": "7c62408416bc4becb0a4861b3ae75084",
    "sleep refused": "1285b66fc73f49609f63501b8130c950", "record degraded": "433c33d3fc374336a57488fe8cf8ba7d",
    "record earlier boot": "0accbde1aafa4946b1f240938a8890e5", "hold": "9fe0302d66be43a183d106b706fa4cb2",
    "release": "91826cdd99cf4606ac427dd78093035f", "kernel policy": "2e9fc507804b4203b0883167a415623d",
    "CPU package emptied": "9b0d9e6d4bb34caf8e7d2533211b0c85",
    "budget exceeded": "dbcb4555cace42cc8f5a77643bc3b948", "budget prepare": "920c04e5d3784c7d9249a227b0e94f5e",
}
SD_MSG_UNIT_STARTING = "7d4958e842da4a758f6c1cdc7b36dcc5"
SD_MSG_UNIT_STARTED = "39f53479d3a045ac8e11786248231fbf"
SD_MSG_UNIT_FAILED = "be02cf6855d2428ba40df7e9d022f03d"

T_REAL0 = time.time() - time.monotonic()     # monotonic -> realtime


def log(msg):
    sys.stdout.write("[e2e %7.1fs] %s\n" % (tdsleeptest.now(), msg))
    sys.stdout.flush()


def realtime_of(t_harness):
    """tdsleeptest's clock (seconds since its import) -> CLOCK_REALTIME seconds."""
    return T_REAL0 + tdsleeptest.T0 + t_harness


class SetupError(Exception):
    """The environment could not be set up (not a scenario failure)."""


class Skip(Exception):
    pass


def run(cmd, check=True, timeout=120, **kw):
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, **kw)
    if check and r.returncode != 0:
        raise SetupError("%s failed (exit %d):\n%s%s" % (" ".join(cmd), r.returncode,
                                                         r.stdout[-3000:], r.stderr[-3000:]))
    return r


# ----------------------------------------------------------------------------------
# The Debian tree


def host_mirror():
    """The Debian mirror the host's apt uses for the main archive."""
    if os.environ.get("TDSLEEP_E2E_MIRROR"):
        return os.environ["TDSLEEP_E2E_MIRROR"]
    files = ["/etc/apt/sources.list"] + sorted(glob.glob("/etc/apt/sources.list.d/*"))
    for path in files:
        try:
            text = open(path).read()
        except OSError:
            continue
        if path.endswith(".sources"):
            for stanza in re.split(r"\n\s*\n", text):
                f = {}
                for line in stanza.splitlines():
                    m = re.match(r"^([A-Za-z-]+):\s*(.*)$", line)
                    if m:
                        f[m.group(1).lower()] = m.group(2).split()
                if "deb" in f.get("types", []) and SUITE in f.get("suites", []) and f.get("uris") \
                        and "security" not in f["uris"][0]:
                    return f["uris"][0]
        else:
            for line in text.splitlines():
                m = re.match(r"^\s*deb\s+(\[[^]]*\]\s+)?(\S+)\s+(\S+)", line)
                if m and m.group(3) == SUITE and "security" not in m.group(2):
                    return m.group(2)
    return DEFAULT_MIRROR


def needed_packages(binaries):
    """Debian packages that hold the shared libraries the binaries link against."""
    pkgs = set()
    for b in binaries:
        if not os.path.exists(b):
            continue
        out = run(["ldd", b], check=False).stdout
        needed = re.findall(r"NEEDED\s+Shared library: \[([^]]+)\]",
                            run(["readelf", "-d", b], check=False).stdout)
        for lib in needed:
            m = re.search(r"^\s*%s => (\S+)" % re.escape(lib), out, re.M)
            if not m:
                continue
            for path in (m.group(1), os.path.realpath(m.group(1))):
                r = run(["dpkg", "-S", path], check=False)
                if r.returncode == 0:
                    pkgs.add(r.stdout.split(":")[0].strip())
                    break
    pkgs.discard("libc6")
    return pkgs


class BaseTree:
    """debootstrap tree as a tarball in the cache dir (made once, shared by runs)."""

    def __init__(self, cache, packages, mirror):
        self.cache = cache
        self.packages = sorted(set(packages))
        self.mirror = mirror
        key = hashlib.sha256(json.dumps([SUITE, VARIANT, self.packages, mirror]).encode()).hexdigest()[:12]
        self.tarball = os.path.join(cache, "%s-%s-%s.tar" % (SUITE, VARIANT, key))

    def ensure(self):
        os.makedirs(self.cache, exist_ok=True)
        with open(os.path.join(self.cache, ".lock"), "w") as lockf:
            fcntl.flock(lockf, fcntl.LOCK_EX)       # another run may be making it
            if os.path.exists(self.tarball):
                return False
            t = time.monotonic()
            tmp = os.path.join(self.cache, "debootstrap.%d" % os.getpid())
            shutil.rmtree(tmp, ignore_errors=True)
            logpath = os.path.join(self.cache, "debootstrap.log")
            cmd = ["debootstrap", "--variant=" + VARIANT, "--include=" + ",".join(self.packages),
                   SUITE, tmp, self.mirror]
            log("debootstrap (first run, cached afterwards): %s" % " ".join(cmd))
            try:
                with open(logpath, "w") as lf:
                    r = subprocess.run(cmd, stdout=lf, stderr=subprocess.STDOUT, timeout=600)
                if r.returncode != 0:
                    raise SetupError("debootstrap failed (exit %d); last lines of %s:\n%s" % (
                        r.returncode, logpath, "".join(open(logpath).readlines()[-25:])))
                # Trim what a test never reads: smaller tarball, faster copies.
                for d in ("usr/share/doc", "usr/share/man", "usr/share/locale", "usr/share/info",
                          "var/cache/apt/archives"):
                    shutil.rmtree(os.path.join(tmp, d), ignore_errors=True)
                run(["tar", "-C", tmp, "-cf", self.tarball + ".tmp", "."], timeout=300)
                os.rename(self.tarball + ".tmp", self.tarball)
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(self.tarball + ".tmp")
            log("debootstrap + tarball: %.1fs -> %s" % (time.monotonic() - t, self.tarball))
            return True


# ----------------------------------------------------------------------------------
# Installing the project into a copy of the tree


def write(path, text, mode=0o644):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, mode)


class Tree:
    def __init__(self, root, build_dir):
        self.root = root
        self.build = build_dir

    def p(self, path):
        return os.path.join(self.root, path.lstrip("/"))

    def extract(self, tarball):
        os.makedirs(self.root)
        run(["tar", "-C", self.root, "-xf", tarball], timeout=300)

    def install(self):
        """meson install --destdir; returns the list of installed paths (in the tree)."""
        r = run(["meson", "install", "-C", self.build, "--no-rebuild", "--destdir", self.root],
                check=False, timeout=300)
        if r.returncode != 0:
            raise SetupError("meson install failed:\n%s%s" % (r.stdout[-3000:], r.stderr[-3000:]))
        installed = []
        for line in r.stdout.splitlines():
            m = re.match(r"^Installing (\S+) to (\S+)$", line.strip())
            if m:
                installed.append(os.path.join(m.group(2), os.path.basename(m.group(1))))
        return installed

    def sbindir_unit_execstart(self, unit_text):
        m = re.search(r"^ExecStart=(\S+)", unit_text, re.M)
        return m.group(1) if m else None


def unit_search_dirs():
    """Where systemd 252 (Debian) looks for what tdsleep installs, per kind."""
    return {
        "system unit": ["/etc/systemd/system", "/run/systemd/system", "/usr/local/lib/systemd/system",
                        "/usr/lib/systemd/system", "/lib/systemd/system"],
        "sleep hook": ["/usr/lib/systemd/system-sleep", "/lib/systemd/system-sleep",
                       "/usr/local/lib/systemd/system-sleep", "/etc/systemd/system-sleep"],
        "logind drop-in": ["/etc/systemd/logind.conf.d", "/run/systemd/logind.conf.d",
                           "/usr/local/lib/systemd/logind.conf.d", "/usr/lib/systemd/logind.conf.d",
                           "/lib/systemd/logind.conf.d"],
        "sysusers": ["/etc/sysusers.d", "/run/sysusers.d", "/usr/local/lib/sysusers.d",
                     "/usr/lib/sysusers.d", "/lib/sysusers.d"],
    }


# ----------------------------------------------------------------------------------
# cgroups


class CgroupParent:
    """A parent cgroup of our own in every hierarchy nspawn needs (hybrid or unified)."""

    def __init__(self, name):
        self.name = name
        if os.path.exists("/sys/fs/cgroup/cgroup.controllers"):
            self.hierarchies = ["/sys/fs/cgroup"]
        else:
            self.hierarchies = [h for h in ("/sys/fs/cgroup/systemd", "/sys/fs/cgroup/unified")
                                if os.path.isdir(h)]
        self.paths = [os.path.join(h, name) for h in self.hierarchies]

    def create(self):
        for p in self.paths:
            os.makedirs(p, exist_ok=True)

    def procs(self):
        pids = set()
        for p in self.paths:
            for d, _, files in os.walk(p):
                if "cgroup.procs" in files:
                    with contextlib.suppress(OSError):
                        pids.update(int(x) for x in open(os.path.join(d, "cgroup.procs")).read().split())
        return pids

    def kill_all(self):
        """SIGKILL every process in our cgroups (all of them are ours: the container)."""
        for p in self.paths:
            kill = os.path.join(p, "cgroup.kill")
            if os.path.exists(kill):
                with contextlib.suppress(OSError):
                    with open(kill, "w") as f:
                        f.write("1")
        for pid in self.procs():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)

    def remove(self):
        for p in self.paths:
            if not os.path.isdir(p):
                continue
            for d, _, _ in sorted(os.walk(p), key=lambda x: -len(x[0])):
                with contextlib.suppress(OSError):
                    os.rmdir(d)


# ----------------------------------------------------------------------------------
# The container


class Journal:
    """The container's journal as a growing list of entries (dicts), from a follower."""

    def __init__(self):
        self.entries = []
        self.cond = threading.Condition()
        self.proc = None

    def follow(self, directory):
        # journalctl runs on the host and reads the container's persistent journal in
        # the tree: no process of ours lives in the container, so its shutdown never
        # waits for one (systemd-shutdown SIGSTOPs everything, and an nsenter'd child
        # that stops makes nsenter stop itself, never reaping it); and the journal stays
        # readable after the container is gone.
        self.proc = subprocess.Popen(["journalctl", "--directory=" + directory,
                                      "-o", "json", "-f", "-n", "all", "--no-pager"],
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                     stdin=subprocess.DEVNULL)
        threading.Thread(target=self._read, name="journal", daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            try:
                e = json.loads(line)
            except ValueError:
                continue
            for k, v in list(e.items()):
                if isinstance(v, list):        # binary or repeated field
                    e[k] = bytes(x for x in v if isinstance(x, int)).decode(errors="replace") \
                        if v and isinstance(v[0], int) else str(v)
            with self.cond:
                self.entries.append(e)
                self.cond.notify_all()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(5)
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()

    def sync(self, container, timeout=10):
        """Wait until everything logged so far inside has reached us: log a token
        and wait for it (journald keeps the order in which it received entries)."""
        token = "e2e-sync-%d-%f" % (os.getpid(), time.monotonic())
        since = self.mark()
        container.run(["systemd-cat", "-t", "e2e-sync", "echo", token], check=False)
        with contextlib.suppress(AssertionError):
            self.wait(lambda e: e.get("MESSAGE") == token, since, timeout, "the sync token")

    def mark(self):
        with self.cond:
            return len(self.entries)

    def select(self, pred, since=0):
        with self.cond:
            return [e for e in self.entries[since:] if pred(e)]

    def wait(self, pred, since, timeout, what):
        end = time.monotonic() + timeout
        with self.cond:
            while True:
                for e in self.entries[since:]:
                    if pred(e):
                        return e
                rem = end - time.monotonic()
                if rem <= 0:
                    raise AssertionError("journal: no %s within %.0fs" % (what, timeout))
                self.cond.wait(rem)


def ts(e):
    """An entry's CLOCK_REALTIME in seconds."""
    return int(e["__REALTIME_TIMESTAMP"]) / 1e6


def msg(e):
    return e.get("MESSAGE", "")


def is_daemon(e):
    return e.get("_SYSTEMD_UNIT") == "tdsleepd.service" or e.get("_COMM") == "tdsleepd"


def has_id(mid):
    return lambda e: e.get("MESSAGE_ID") == mid


def daemon_id(mid):
    return lambda e: is_daemon(e) and e.get("MESSAGE_ID") == mid


def daemon_rx(pattern):
    rx = re.compile(pattern)
    return lambda e: is_daemon(e) and rx.search(msg(e))


def unit_msg(unit, mid):
    """systemd's (PID 1) job messages for a unit: starting, started, failed."""
    return lambda e: e.get("_PID") == "1" and e.get("UNIT") == unit and e.get("MESSAGE_ID") == mid


def fmt_entry(e):
    t = ts(e)
    return "%s.%03d %s[%s]: %s" % (time.strftime("%H:%M:%S", time.localtime(t)), int(t * 1000) % 1000,
                                  e.get("SYSLOG_IDENTIFIER") or e.get("_COMM", "?"), e.get("_PID", "?"), msg(e))


class Container:
    def __init__(self, name, tree, workdir, binds, private_network=True, extra_args=()):
        self.name = name
        self.private_network = private_network
        self.extra_args = list(extra_args)  # more systemd-nspawn options
        self.tree = tree
        self.workdir = workdir
        self.binds = binds                  # [(host, container)]
        self.cg = CgroupParent(name)
        self.console = os.path.join(workdir, "console.log")
        self.proc = None
        self.leader = None
        self.journal = Journal()

    def boot(self, timeout=90):
        self.cg.create()
        # The host's /run is not a tmpfs: nspawn's own files go to a private tmpfs on
        # /run/systemd in our mount namespace. --keep-unit/--register=no: no host systemd.
        script = ('for p in $CGS; do echo $$ > "$p/cgroup.procs" || exit 1; done && '
                  'mount -t tmpfs tmpfs /run/systemd && exec systemd-nspawn "$@"')
        args = ["-q", "-D", self.tree, "-M", self.name, "--boot", "--register=no", "--keep-unit",
                "--console=pipe", "--setenv=SYSTEMD_COLORS=0"] + \
            (["--private-network"] if self.private_network else [])
        for host, ct in self.binds:
            args.append("--bind=%s:%s" % (host, ct))
        args += self.extra_args
        env = dict(os.environ, CGS=" ".join(self.cg.paths))
        out = open(self.console, "wb")
        self.proc = subprocess.Popen(["unshare", "--mount", "--propagation", "private", "--",
                                      "sh", "-c", script, "sh"] + args,
                                     stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                     env=env, start_new_session=True)
        out.close()
        end = time.monotonic() + timeout
        while self.leader is None:
            if self.proc.poll() is not None:
                raise SetupError("systemd-nspawn exited (%s) during boot; console:\n%s" %
                                 (self.proc.returncode, self.console_tail()))
            if time.monotonic() > end:
                raise SetupError("no container init within %ds; console:\n%s" % (timeout, self.console_tail()))
            self.leader = self._find_leader()
            if self.leader is None:
                time.sleep(0.05)
        state = ""
        while time.monotonic() < end:
            r = self.run(["systemctl", "is-system-running", "--wait"], check=False,
                         timeout=max(1, end - time.monotonic()))
            state = r.stdout.strip()
            if state in ("running", "degraded"):
                break
            if self.proc.poll() is not None:
                break
            time.sleep(0.1)
        if state not in ("running", "degraded"):
            raise SetupError("container did not finish booting (%r); console:\n%s" %
                             (state, self.console_tail()))
        self.journal.follow(os.path.join(self.tree, "var/log/journal"))
        return state

    def _find_leader(self):
        for d in os.listdir("/proc"):
            if not d.isdigit():
                continue
            try:
                st = open("/proc/%s/stat" % d).read()
            except OSError:
                continue
            comm = st[st.index("(") + 1:st.rindex(")")]
            ppid = int(st[st.rindex(")") + 2:].split()[1])
            if ppid == self.proc.pid and comm == "systemd":
                return int(d)
        return None

    def run(self, cmd, check=True, timeout=60, input=None):
        r = subprocess.run(["nsenter", "-t", str(self.leader), "-a", "--"] + cmd, capture_output=True,
                           text=True, timeout=timeout, input=input)
        if check and r.returncode != 0:
            raise AssertionError("in container: %s failed (exit %d): %s%s" % (
                " ".join(cmd), r.returncode, r.stdout[-2000:], r.stderr[-2000:]))
        return r

    def write(self, path, text):
        """Write a file in the running container (its root is self.tree on the host)."""
        write(os.path.join(self.tree, path.lstrip("/")), text)

    def remove(self, path):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(os.path.join(self.tree, path.lstrip("/")))

    def show(self, unit, prop):
        return self.run(["systemctl", "show", "-P", prop, unit]).stdout.strip()

    def console_tail(self, n=80):
        try:
            return "".join(open(self.console, errors="replace").readlines()[-n:])
        except OSError:
            return "(no console log)"

    def stop(self, timeout=20):
        self.journal.stop()
        if self.proc is not None and self.proc.poll() is None:
            # SIGTERM to nspawn = SIGRTMIN+3 to the container's init: a clean halt.
            with contextlib.suppress(ProcessLookupError):
                self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                log("container did not halt within %ds: killing it" % timeout)
                self.cg.kill_all()
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        if self.cg.procs():
            self.cg.kill_all()
            end = time.monotonic() + 10
            while self.cg.procs() and time.monotonic() < end:
                time.sleep(0.1)
        self.cg.remove()
