# SPDX-License-Identifier: LGPL-2.1-or-later
"""bench/report_format.py: the figures and tables of docs/PERFORMANCE.md (medians,
human times, "median (min – max)" cells, markdown tables)."""
import statistics


def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def fs(s):
    if s is None:
        return "—"
    a = abs(s)
    if a < 0.001:
        return "%.0f µs" % (s * 1e6)
    if a < 1:
        return "%.1f ms" % (s * 1e3)
    return "%.2f s" % s


def cell(xs, f=fs):
    """median (min – max) of a list of runs."""
    xs = [x for x in xs if x is not None]
    if not xs:
        return "not run"
    if len(xs) == 1:
        return f(xs[0])
    return "%s (%s – %s)" % (f(statistics.median(xs)), f(min(xs)), f(max(xs)))


def ratio(a, b):
    if a is None or b is None or b <= 0:
        return None
    return a / b


def fr(x):
    return "—" if x is None else "%.0f×" % x if x >= 10 else "%.1f×" % x


def table(head, rows):
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    lines += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(lines)
