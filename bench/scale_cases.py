# SPDX-License-Identifier: LGPL-2.1-or-later
"""bench/scale_cases.py: the cases of issue 6 run by bench/run on its Bench: scale (10, 100,
1000 test-driver TDs: the floors, tdsleepd, libvirt-guests) and real (QEMU guests)."""
import contextlib
import os
import time

from measure import say, mono, floor_run, fmt_s, libvirt_guests, floor

T = None   # the harness module (tests/integration/tdsleeptest.py), set by bench/run

# what record_cycle() keeps of a tdsleepd cycle; "own" is tdsleepd's own share of the
# prepare (bench/run's tdsleepd_cycle), "to_last_shutdown" its first part
CYCLE_KEYS = ("tdsleepd", "tdsleepd_resume", "emit", "after_stop", "first_stop", "left_td", "own",
              "to_last_shutdown")


class ScaleRealCases:
    """Part of bench/run's Bench (its libvirtd, daemons and results)."""

    # --- cases
    def case_scale(self):
        a = self.args
        sizes = a.sizes
        conn, uri = self.lv.test, self.lv.test_uri
        names_all = ["bench-td-%04d" % i for i in range(max(sizes))]
        t = mono()
        for n in names_all:
            conn.defineXML(T.testdrv_domain_xml(n))
        say("scale: defined %d test-driver TDs in %.1fs" % (len(names_all), mono() - t))
        self.res["scale"] = {}
        for size in sizes:
            names = names_all[:size]
            floor(self.lvwatch, uri, names, "started", "create")   # untimed: bring them up
            r = {k: [] for k in ("floor", "floor_issued", "floor_resume", "floor_resume_par", "lg_par", "lg_seq",
                                 "left_lg_par", "left_lg_seq") + CYCLE_KEYS}
            for i in range(a.runs):
                self.time_floor(r, uri, names)
                dt, _ = floor_run(self.lvwatch, uri, names, "started", "create")
                r["floor_resume"].append(dt)
                floor(self.lvwatch, uri, names, "stopped", "shutdown")     # untimed
                dt, _ = floor_run(self.lvwatch, uri, names, "started", "create-threads")
                r["floor_resume_par"].append(dt)
                self.record_cycle(r, self.tdsleepd_cycle(uri, names))
                if size <= a.lg_par_max:
                    dt, out = libvirt_guests(self.base, uri, size, 300)
                    r["lg_par"].append(dt)
                    r["left_lg_par"].append(self.restart_running(uri, names))
                if size <= a.lg_seq_max:
                    dt, out = libvirt_guests(self.base, uri, 0, 300)
                    r["lg_seq"].append(dt)
                    r["left_lg_seq"].append(self.restart_running(uri, names))
                say("scale %4d run %d: floor %s, tdsleepd %s (resume %s vs floor %s, parallel %s), "
                    "libvirt-guests parallel %s, sequential %s" % (
                        size, i + 1, fmt_s(r["floor"][-1]), fmt_s(r["tdsleepd"][-1]),
                        fmt_s(r["tdsleepd_resume"][-1]), fmt_s(r["floor_resume"][-1]),
                        fmt_s(r["floor_resume_par"][-1]), fmt_s(r["lg_par"][-1]) if r["lg_par"] else "skipped",
                        fmt_s(r["lg_seq"][-1]) if r["lg_seq"] else "skipped"))
            self.res["scale"][size] = r
            # leave only the next size's domains running
            for n in names:
                with contextlib.suppress(Exception):
                    conn.lookupByName(n).destroy()
        for n in names_all:
            with contextlib.suppress(Exception):
                conn.lookupByName(n).undefine()

    def time_floor(self, r, uri, names, destroy_after=0):
        """One floor prepare: every virDomainShutdown at once, until the last STOPPED;
        also when the floor's last call returned (to set against tdsleepd's)."""
        dt, w = floor_run(self.lvwatch, uri, names, "stopped", "shutdown", destroy_after)
        r["floor"].append(dt)
        r["floor_issued"].append(w["t_issued"] - w["t_go"])

    def record_cycle(self, r, c):
        """A tdsleepd cycle's figures into the case's lists (CYCLE_KEYS)."""
        r["tdsleepd"].append(c["prepare"])
        r["tdsleepd_resume"].append(c["resume"])
        r["emit"].append(c["emit"])
        r["after_stop"].append(c["prepare"] - c["last_stopped"])
        r["first_stop"].append(c["first_stopped"])
        r["left_td"].append(c["left"])
        r["own"].append(c["own"])
        r["to_last_shutdown"].append(c["to_last_shutdown"])

    def restart_running(self, uri, names):
        """After libvirt-guests: how many were left running; start the rest again."""
        conn = self.conn_for(uri)
        down = [n for n in names if T.domain_state(conn, n) != "running"]
        if down:
            floor(self.lvwatch, uri, down, "started", "create")
        return len(names) - len(down)

    def case_real(self):
        a = self.args
        images = T.GuestImages().build()
        sdir = os.path.join(self.base, "serial")
        os.makedirs(sdir, exist_ok=True)
        pool = T.GuestPool(self.lv, images, sdir)
        self.cleanups.append(pool.stop_all)
        n_honour = 1 if a.quick else 4
        honour = ["bench-acpi-%d" % i for i in range(n_honour)]
        ignore = "bench-noacpi"
        for n in honour:
            pool.define(n, acpid=True)
        pool.define(ignore, acpid=False)
        self.res["real"] = {}
        mixes = [("%d honouring ACPI" % n_honour, honour, 0)]
        if not a.quick:
            mixes.append(("3 honouring + 1 ignoring (10 s timeout)", honour[:3] + [ignore], 10))
        uri = self.lv.qemu_uri
        for label, names, tmo in mixes:
            r = {k: [] for k in ("floor", "floor_issued", "floor_resume", "lg_par", "lg_seq", "left_lg_par",
                                 "left_lg_seq") + CYCLE_KEYS}
            ready = lambda: (pool.use(names), time.sleep(0.5))  # noqa: E731 (settle after boot)
            # Pairs, interleaved on the same guests: floor, tdsleepd, floor, tdsleepd…
            # The report takes the median of the per-pair differences. A pair costs two
            # boots; libvirt-guests (seconds a run) only in the first --runs pairs.
            pairs = a.runs if tmo else max(a.runs, a.pairs)
            for i in range(pairs):
                t_pair = mono()
                ready()
                self.time_floor(r, uri, names, tmo)
                dt, _ = floor_run(self.lvwatch, uri, names, "started", "create")
                r["floor_resume"].append(dt)
                ready()
                self.record_cycle(r, self.tdsleepd_cycle(uri, names, timeout="%ds" % (tmo or 60)))
                t_pair = mono() - t_pair
                if i < a.runs and len(names) <= a.lg_par_max:
                    ready()
                    dt, _ = libvirt_guests(self.base, uri, len(names), tmo or 300)
                    r["lg_par"].append(dt)
                    r["left_lg_par"].append(self.count_running(uri, names))
                if i < a.runs and len(names) <= a.lg_seq_max:
                    ready()
                    dt, _ = libvirt_guests(self.base, uri, 0, tmo or 300)
                    r["lg_seq"].append(dt)
                    r["left_lg_seq"].append(self.count_running(uri, names))
                say("real [%s] pair %d: floor %s, tdsleepd %s (%+.1f ms; own share %s; left running %d; "
                    "pair took %.1f s)%s" % (
                        label, i + 1, fmt_s(r["floor"][-1]), fmt_s(r["tdsleepd"][-1]),
                        (r["tdsleepd"][-1] - r["floor"][-1]) * 1e3, fmt_s(r["own"][-1]), r["left_td"][-1], t_pair,
                        "; libvirt-guests parallel %s (left %d), sequential %s (left %d)" % (
                            fmt_s(r["lg_par"][-1]) if r["lg_par"] else "-", r["left_lg_par"][-1] if r["lg_par"] else 0,
                            fmt_s(r["lg_seq"][-1]) if r["lg_seq"] else "-",
                            r["left_lg_seq"][-1] if r["lg_seq"] else 0) if i < a.runs else ""))
            self.res["real"][label] = r
        pool.stop_all()

    def count_running(self, uri, names):
        conn = self.conn_for(uri)
        return sum(1 for n in names if T.domain_state(conn, n) == "running")
