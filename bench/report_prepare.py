# SPDX-License-Identifier: LGPL-2.1-or-later
"""bench/report_prepare.py: how docs/PERFORMANCE.md judges the prepare against the
floor. bench/run times the floor and tdsleepd in pairs, one right after the other on
the same guests; the figure judged is the median of the per-pair differences. Next
to it: the difference of the medians (what was judged before), how much two runs of
one method differ (the noise of the measurement itself) and tdsleepd's own share
of the prepare, which does not contain the guests' shutdown at all."""
import statistics

from report_format import cell, fs, med, fr, ratio, table


def pair_diffs(r):
    """tdsleepd − floor for each pair (run i of each)."""
    return [t - f for t, f in zip(r["tdsleepd"], r["floor"]) if t is not None and f is not None]


def run_to_run(r):
    """Median |difference| between consecutive runs of the same method (floor after
    floor, tdsleepd after tdsleepd): what two measurements of one thing differ by."""
    d = [abs(xs[i + 1] - xs[i]) for xs in (r["floor"], r["tdsleepd"]) for i in range(len(xs) - 1)]
    return statistics.median(d) if d else None


def own_beyond_calls(r):
    """Per pair: tdsleepd's own share less the time the floor's own calls took (GO
    until its last virDomainShutdown returned). The own share includes libvirtd
    serving tdsleepd's calls, and the floor's calls wait for the same service."""
    return [o - f for o, f in zip(r.get("own", []), r.get("floor_issued", [])) if o is not None and f is not None]


def overhead(r):
    """The prepare's figures over the floor for one case (a dict of lists)."""
    diffs = pair_diffs(r)
    return dict(paired=med(diffs), diffs=diffs, medians=med(r["tdsleepd"]) - med(r["floor"]),
                noise=run_to_run(r), own=med(r.get("own", [])), beyond=own_beyond_calls(r))


def judge(r, limit):
    """(value, ok, shown) of "prepare ≤ limit over the floor" for bench/report.py's
    target tables: judged on the paired figure; the shown text says when the
    measurement cannot resolve the limit."""
    if not r:
        return None, False, ""
    o = overhead(r)
    shown = "%s (median of %d per-pair differences, %s – %s; difference of medians %s; tdsleepd's own share %s, " \
        "%s beyond the floor's own calls)" % (
            fs(o["paired"]), len(o["diffs"]), fs(min(o["diffs"])), fs(max(o["diffs"])), fs(o["medians"]), fs(o["own"]),
            fs(med(o["beyond"])))
    if o["noise"] is not None and o["noise"] > limit:
        shown += ("; noise: two runs of one method differ by %s (median), more than the %s limit, so "
                  "the verdict is within the noise of the guests' shutdown; the own share is the part "
                  "the guests do not blur" % (fs(o["noise"]), fs(limit)))
    return o["paired"], o["paired"] <= limit, shown


def how_measured(w, meta):
    """The rule, for the "How it is measured" list."""
    w("- **Prepare against the floor, and the rule the targets use**: the floor and "
      "tdsleepd run in pairs, one right after the other on the same guests (floor, "
      "tdsleepd, floor, tdsleepd…; %d pairs with the real guests that honour ACPI, "
      "`--pairs`, %d elsewhere). \"Over the floor\" is the **median of the per-pair "
      "differences** (tdsleepd − floor of the same pair); a prepare target passes when "
      "that median is within its limit. The difference of the two medians is shown next to it. "
      "\"Run to run\" is the median difference between consecutive runs of one method "
      "(floor after floor, tdsleepd after tdsleepd): where it is larger than the limit, "
      "the guests' own shutdown varies more between two runs than the limit, and the "
      "paired figure says so in the targets table." % (meta.get("pairs", meta["runs"]), meta["runs"]))
    w("- **tdsleepd's own share** of a prepare: from asking the mock for "
      "`PrepareForSleep(true)` until tdsleepd's last `virDomainShutdown` returned, plus "
      "from the last `STOPPED` (seen by `bench/lvwatch`) until tdsleepd released the "
      "lock. The calls are timed inside tdsleepd by `bench/shutdownstamp.c`, preloaded "
      "(`LD_PRELOAD`) in the timed cycles only: it reads the clock before and after each "
      "call into a shared mapping, no system call. What is left out is the guests' "
      "shutdown, which is not tdsleepd's. What is left in is libvirtd serving the "
      "`virDomainShutdown` calls, which the floor waits for too: `floor: calls "
      "returned` is the floor's time from `GO` until its last call returned, and "
      "`own share beyond the floor's calls` the per-pair difference of the two (median).")


def real_section(real, w):
    """§1: the prepare with real guests against the floor and against libvirt-guests."""
    w("## 1. Real guests (QEMU TCG, prepare)")
    w("")
    rows = []
    for label, r in real.items():
        o = overhead(r)
        rows.append((label, len(o["diffs"]), cell(r["floor"]), cell(r["tdsleepd"]),
                     cell(o["diffs"]), fs(o["medians"]), fs(o["noise"]), cell(r.get("own", [])),
                     cell(r.get("to_last_shutdown", [])), cell(r["after_stop"]),
                     cell(r.get("floor_issued", [])), cell(o["beyond"]), cell(r["emit"])))
    w(table(["guests", "pairs", "floor", "tdsleepd", "over the floor: per-pair differences, median (min – max)",
             "difference of medians", "run to run (one method)",
             "tdsleepd's own share", "of it: to its last `virDomainShutdown`",
             "of it: release after last STOPPED", "floor: calls returned",
             "own share beyond the floor's calls (per pair)", "emit"], rows))
    w("")
    rows = []
    for label, r in real.items():
        td = med(r["tdsleepd"])
        rows.append((label, cell(r["lg_par"]) + " (%s)" % fr(ratio(med(r["lg_par"]), td)),
                     cell(r["lg_seq"]) + " (%s)" % fr(ratio(med(r["lg_seq"]), td)),
                     "%d / %s / %s" % (max(r["left_td"]), max(r["left_lg_par"], default="—"),
                                       max(r["left_lg_seq"], default="—"))))
    w("Against libvirt-guests (its runs: the first `--runs` pairs; ÷ tdsleepd's median prepare):")
    w("")
    w(table(["guests", "libvirt-guests parallel (÷ tdsleepd)", "libvirt-guests sequential (÷ tdsleepd)",
             "left running: tdsleepd / lg par / lg seq"], rows))
    w("")
    rows = [(label, cell(r["floor_resume"]), cell(r["tdsleepd_resume"]),
             fs(med(r["tdsleepd_resume"]) - med(r["floor_resume"]))) for label, r in real.items()]
    w("Resume with real guests (until every TD's `STARTED`, i.e. its QEMU runs; the "
      "guest's boot is not included):")
    w("")
    w(table(["guests", "floor (create all, last STARTED)", "tdsleepd resume", "over the floor (medians)"],
            rows))
    w("")
