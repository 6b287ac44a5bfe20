# SPDX-License-Identifier: LGPL-2.1-or-later
"""bench/idle_cases.py: the idle and control cases run by bench/run on its Bench: tdsleepd's
system calls, context switches and memory at rest; GetStatus round trips, alone and
under a flood of unprivileged streams."""
import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import time

from measure import BENCH, say, mono, LockWatch, rss, ctx_switches

def sockets_held(pid):
    """Sockets tdsleepd holds: its libvirt connections, the bus, the control socket."""
    n = 0
    for fd in os.listdir("/proc/%d/fd" % pid):
        with contextlib.suppress(OSError):
            n += os.readlink("/proc/%d/fd/%s" % (pid, fd)).startswith("socket:")
    return n


T = None   # the harness module (tests/integration/tdsleeptest.py), set by bench/run


class IdleControlCases:
    """Part of bench/run's Bench (its libvirtd, daemons and results)."""

    def case_idle_control(self):
        a = self.args
        n = a.domains
        names = self.with_domains(n)
        mock, d = self.new_daemon(self.lv.test_uri)
        try:
            self.wait_known(d, n)
            sockets = self.one_cycle(mock, d, n)
            LockWatch(mock, d).close()
            time.sleep(1)
            if "idle" in a.cases:
                self.res["idle"] = self.idle(d, n)
                self.res["idle"]["sockets_after_cycle"] = sockets
            if "control" in a.cases:
                self.res["control"] = self.control(d, n)
            self.res.setdefault("idle", {})["rss_after"] = rss(d.pid)
        finally:
            self.stop_daemon(mock, d)
            self.drop_domains(names)

    def one_cycle(self, mock, d, n):
        """A sleep and a resume before the idle window, so that what a host carries after
        its first resume (the executor's workers, their own libvirt connections) is there
        while idle is measured."""
        lock = LockWatch(mock, d)
        mock.set_preparing(True)
        mock.mock.EmitSignal(T.LOGIND_IFACE, "PrepareForSleep", "b", [True])
        lock.wait_released(120)
        lock.close()
        mock.set_preparing(False)
        mock.mock.EmitSignal(T.LOGIND_IFACE, "PrepareForSleep", "b", [False])
        self.wait_known(d, n)
        held = sockets_held(d.pid)
        say("idle: after one sleep cycle tdsleepd holds %d sockets" % held)
        return held

    def idle(self, d, n):
        a = self.args
        out = {"domains": n, "seconds": a.idle_seconds}
        out.update(rss(d.pid))
        # Wake-ups first without a tracer (ptrace itself switches the tracee), then
        # the system calls over a second window of the same length.
        cs0 = ctx_switches(d.pid)
        time.sleep(a.idle_seconds)
        cs1 = ctx_switches(d.pid)
        out["ctx"] = {k: cs1[k] - cs0[k] for k in cs0}
        out["threads"] = cs1["threads"]
        t0 = mono()
        tr = os.path.join(self.base, "strace.txt")
        p = subprocess.Popen(["strace", "-f", "-ttt", "-q", "-o", tr, "-p", str(d.pid)],
                             stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(a.idle_seconds)
        p.send_signal(signal.SIGINT)
        p.wait(30)
        out["elapsed"] = mono() - t0
        # Attaching interrupts the epoll_wait the daemon sleeps in: the loop goes round
        # once (a few calls in the first milliseconds). Count those apart.
        calls, settle, t_first = {}, {}, None
        text = open(tr).read() if os.path.exists(tr) else ""
        out["keepalive_pings"] = len(re.findall(r'read\(\d+, "keep', text))
        for line in text.splitlines():
            m = re.match(r"\d+\s+(\d+\.\d+)\s+(?:<\.\.\. )?(\w+)", line)
            if not m or "resumed>" in line and "<..." not in line:
                continue
            t = float(m.group(1))
            t_first = t if t_first is None else t_first
            bucket = settle if t - t_first < 0.5 else calls
            bucket[m.group(2)] = bucket.get(m.group(2), 0) + 1
        out["syscalls"] = calls
        out["attach_syscalls"] = settle
        with contextlib.suppress(OSError):
            shutil.copy(tr, os.path.join(self.tools, "idle-strace.txt"))   # kept for reading
        say("idle: %d syscalls (+%d right after attaching), %s context switches over %.0fs (%s); RSS %s"
            % (sum(calls.values()), sum(settle.values()), out["ctx"], out["elapsed"], calls, out["rss_kib"]))
        return out

    def control(self, d, n):
        a = self.args
        out = {"domains": n, "seconds": a.load_seconds, "by_clients": {}}
        for clients, rate in ((1, 0), (64, 0), (64, 50)):
            runs = []
            for _ in range(a.runs):
                r = subprocess.run([self.vlload, d.ctl_socket, str(clients), str(a.load_seconds), str(rate)],
                                   capture_output=True, text=True)
                if r.returncode != 0:
                    raise RuntimeError("vlload failed: " + r.stderr)
                f = r.stdout.split()
                runs.append({f[i]: float(f[i + 1]) for i in range(0, len(f), 2)})
            out["by_clients"]["%d %d" % (clients, rate)] = runs
            say("control: %d clients, rate %s: %s" % (clients, rate or "closed loop", runs[-1]))
        out["flood"] = self.flood(d)
        return out

    def root_latency(self, d, busy=False):
        """Root's GetStatus, one client at 200 requests/s; busy: meanwhile 16 connections
        of nobody (its per-user limit) call GetStatus back to back."""
        a = self.args
        hog = None
        if busy:
            hog = subprocess.Popen(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", self.vlload,
                                    d.ctl_socket, "16", str(a.load_seconds + 2), "0"],
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            time.sleep(0.5)     # let it reach full speed before measuring
        r = subprocess.run([self.vlload, d.ctl_socket, "1", str(a.load_seconds), "200"], capture_output=True, text=True)
        if hog:
            hog_out, hog_err = hog.communicate(timeout=60)
            if hog.returncode != 0:
                raise RuntimeError("unprivileged vlload failed: " + hog_err)
        if r.returncode != 0:
            raise RuntimeError("vlload failed: " + r.stderr)
        f = r.stdout.split()
        return {f[i]: float(f[i + 1]) for i in range(0, len(f), 2)}

    def flood(self, d):
        """Root's GetStatus latency while 1000 unprivileged connections (63 users) are held
        open with Subscribe streams, then with 16 more of them busy."""
        out = {"connections": 1000, "runs": []}
        for _ in range(self.args.runs):
            row = {"alone": self.root_latency(d)}
            p = subprocess.Popen([sys.executable, os.path.join(BENCH, "flood.py"), d.ctl_socket, "1000"],
                                 stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
            try:
                line = p.stdout.readline().split()
                if not line or line[0] != "OPEN":
                    raise RuntimeError("flood.py did not start")
                row["streams"] = int(line[1])
                row["held"] = self.root_latency(d)
                row["busy"] = self.root_latency(d, busy=True)
            finally:
                p.stdin.close()
                p.wait(30)
                p.stdout.close()
            out["runs"].append(row)
            say("control under a flood of %d unprivileged streams: root p50/p99 %.0f/%.0f µs alone, "
                "%.0f/%.0f µs held, %.0f/%.0f µs with 16 busy" % (
                    row["streams"], row["alone"]["p50_us"], row["alone"]["p99_us"], row["held"]["p50_us"],
                    row["held"]["p99_us"], row["busy"]["p50_us"], row["busy"]["p99_us"]))
        return out
