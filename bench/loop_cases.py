# SPDX-License-Identifier: LGPL-2.1-or-later
"""bench/loop_cases.py: the cases of issue 14 ("the loop never blocks on libvirt"),
run by bench/run on its Bench (private libvirtd, bus, logind mock, fake sysfs).

  resume_real  real QEMU guests: tdsleepd's resume against two floors,
               virDomainCreate one after another (bench/lvwatch create) and from
               threads with a connection each (bench/lvwatch create-threads)
  stall        GetStatus latency while the private libvirtd is stopped (SIGSTOP)
               during a prepare
"""
import contextlib
import os
import signal
import subprocess
import time

T = None        # the harness module (tests/integration/tdsleeptest.py), set by bench/run
R = None        # bench/measure.py (floor_run, LockWatch, LvWatch, say), set by bench/run


def _fmt(s):
    return "%.1f ms" % (s * 1e3) if s < 1 else "%.2f s" % s


def resume_real(b):
    """For each number of guests: per run, the serial floor, the parallel floor (both
    from every guest shut off, until the last STARTED), then a tdsleepd cycle whose
    resume is timed the same way. Guests are destroyed between the floors (how they
    stopped does not matter to a create) and booted to GUEST-READY before tdsleepd's
    prepare (it shuts them down over ACPI)."""
    run = R
    a = b.args
    images = T.GuestImages().build()
    sdir = os.path.join(b.base, "serial-resume")
    os.makedirs(sdir, exist_ok=True)
    pool = T.GuestPool(b.lv, images, sdir)
    b.cleanups.append(pool.stop_all)
    all_names = ["bench-resume-%d" % i for i in range(max(a.resume_guests))]
    for n in all_names:
        pool.define(n, acpid=True)
    uri = b.lv.qemu_uri
    b.res["resume"] = {}
    for size in a.resume_guests:
        names = all_names[:size]
        r = {k: [] for k in ("serial", "parallel", "tdsleepd", "prepare", "left")}
        for i in range(a.runs):
            pool.stop_all()
            dt, _ = run.floor_run(b.lvwatch, uri, names, "started", "create")
            r["serial"].append(dt)
            pool.stop_all()
            dt, _ = run.floor_run(b.lvwatch, uri, names, "started", "create-threads")
            r["parallel"].append(dt)
            pool.use(names)
            time.sleep(0.5)     # settle after boot, as the real case does
            c = b.tdsleepd_cycle(uri, names, timeout="60s")
            r["tdsleepd"].append(c["resume"])
            r["prepare"].append(c["prepare"])
            r["left"].append(c["left"])
            run.say("resume %d real guests run %d: serial floor %s, parallel floor %s, tdsleepd %s" % (
                size, i + 1, _fmt(r["serial"][-1]), _fmt(r["parallel"][-1]), _fmt(r["tdsleepd"][-1])))
        b.res["resume"][size] = r
    pool.stop_all()


def _vlload(b, sock, seconds, rate):
    return subprocess.Popen([b.vlload, sock, "1", str(seconds), str(rate), "scheduled"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _vlload_result(p):
    out, err = p.communicate(timeout=300)
    if p.returncode != 0:
        raise RuntimeError("vlload failed: " + err)
    f = out.split()
    return {f[i]: float(f[i + 1]) for i in range(0, len(f), 2)}


def stall(b, n=10, rate=200):
    """tdsleepd with n test-driver TDs; libvirtd is stopped, then PrepareForSleep(true)
    is emitted, so tdsleepd's first stop request meets a libvirtd that does not answer.
    Meanwhile one client calls GetStatus `rate` times a second (bench/vlload,
    latency counted from when each call was due), for the stall's length; then
    libvirtd continues and the cycle completes (lock released, TDs started again)."""
    run = R
    a = b.args
    names = b.with_domains(n)
    out = {"domains": n, "seconds": a.stall_seconds, "rate": rate, "runs": []}
    try:
        for i in range(a.runs):
            mock, d = b.new_daemon(b.lv.test_uri, timeout="60s")
            try:
                b.wait_known(d, n)
                lock = run.LockWatch(mock, d)
                pid = b.lv.pid
                os.kill(pid, signal.SIGSTOP)
                try:
                    mock.set_preparing(True)
                    t0 = time.monotonic()
                    mock.mock.EmitSignal(T.LOGIND_IFACE, "PrepareForSleep", "b", [True])
                    p = _vlload(b, d.ctl_socket, a.stall_seconds, rate)
                    # The stall's length is what is measured against: a plain wait.
                    time.sleep(max(0, a.stall_seconds - (time.monotonic() - t0)))
                finally:
                    os.kill(pid, signal.SIGCONT)
                t_cont = time.monotonic()
                row = _vlload_result(p)
                t_rel = lock.wait_released(120)
                lock.close()
                row["release_after_cont"] = t_rel - t_cont
                started = run.LvWatch(b.lvwatch, b.lv.test_uri, names, "started")
                started.go()
                mock.set_preparing(False)
                mock.mock.EmitSignal(T.LOGIND_IFACE, "PrepareForSleep", "b", [False])
                started.result()
                out["runs"].append(row)
                run.say("stall run %d: libvirtd stopped %.0f s; GetStatus p50 %.0f µs, p99 %.0f µs, max %.0f µs "
                        "(%d calls); lock released %s after SIGCONT" % (
                            i + 1, a.stall_seconds, row["p50_us"], row["p99_us"], row["max_us"],
                            row["requests"], _fmt(row["release_after_cont"])))
            finally:
                with contextlib.suppress(ProcessLookupError, TypeError):
                    os.kill(b.lv.pid, signal.SIGCONT)
                b.stop_daemon(mock, d)
    finally:
        b.drop_domains(names)
    b.res["stall"] = out
