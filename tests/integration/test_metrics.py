# SPDX-License-Identifier: LGPL-2.1-or-later
"""Metrics: GetMetrics counts a real cycle (test-driver TDs, logind mock), tdsleepctl
metrics prints the same text tdsleepd writes to MetricsTextfile=, promtool accepts it,
and the real prometheus-node-exporter (Debian 12: 1.5.0) scrapes it without error.

promtool (package prometheus) and prometheus-node-exporter are needed for the last two;
outside CI their tests skip when they are absent (in CI, $CI set, they fail)."""
import os
import re
import shutil
import socket
import stat
import subprocess
import unittest
import urllib.request

from tdsleeptest import BUILD_DIR, TDSleepTestCase, config_text, log, now, wait_until

CTL = os.environ.get("TDSLEEPCTL") or os.path.join(BUILD_DIR, "cli", "tdsleepctl")
NODE_EXPORTER = shutil.which("prometheus-node-exporter") or shutil.which("node_exporter")
PROMTOOL = shutil.which("promtool")
STEPS = ["suspend", "hibernate", "hybrid_sleep", "suspend_then_hibernate", "unknown", "drain"]


def need(tool, name, package):
    if tool:
        return
    if os.environ.get("CI"):
        raise AssertionError("%s is missing: install the Debian package %s (tools/test does)" % (name, package))
    raise unittest.SkipTest("%s is not installed (package %s)" % (name, package))


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def samples(text):
    """{'name{labels}': value} of the exposition text (comments skipped)."""
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            key, value = line.rsplit(" ", 1)
            out[key] = float(value)
    return out


def cycles(metrics):
    return {(c["step"], c["outcome"]): c["count"] for c in metrics["cycles"]}


class MetricsTestDriver(TDSleepTestCase):

    def setUp(self):
        super().setUp()
        self.textdir = os.path.join(self.dir, "textfile")
        os.makedirs(self.textdir)
        self.textfile = os.path.join(self.textdir, "tdsleep.prom")

    def start(self, textfile=None):
        config = config_text({"MetricsTextfile": textfile or self.textfile}, ShutdownTimeoutSec="10s")
        self.d = self.daemon(config=config).start()
        self.wait_lock()
        return self.d

    def metrics(self):
        return self.d.call("GetMetrics")["metrics"]

    def read_textfile(self):
        try:
            with open(self.textfile) as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def wait_textfile(self, key, value, timeout=10):
        """The textfile changes with no event to wait for: poll its samples."""
        return wait_until(lambda: samples(self.read_textfile()).get(key) == value and self.read_textfile(),
                          timeout, "%s = %s in %s" % (key, value, self.textfile))

    def ctl_metrics(self):
        if not os.access(CTL, os.X_OK):
            self.skipTest("tdsleepctl is not built (%s)" % CTL)
        r = subprocess.run([CTL, "--socket", self.d.ctl_socket, "metrics"], capture_output=True, text=True,
                           timeout=20)
        self.assertEqual(r.returncode, 0, r.stderr)
        return r.stdout

    def suspend_cycle(self, tds):
        t0 = now()
        self.mock.prepare_for_sleep(True)
        self.wait_lock_gone(20)
        self.mock.prepare_for_sleep(False)
        for n in tds:
            self.events.wait(n, "STARTED", 10, since=t0)
        return wait_until(lambda: self.d.status().get("lastCycle"), 10, "the cycle to end")

    def test_a_cycle_is_counted(self):
        tds = [self.uniq("td%d" % i) for i in range(2)]
        for n in tds:
            self.define_test_domain(n)
        self.define_test_domain(self.uniq("vm"), td=False)
        self.start()
        before = self.metrics()
        self.assertEqual(set(cycles(before)), {(s, o) for s in STEPS for o in ("success", "failure")})
        self.assertEqual(sum(cycles(before).values()), 0)
        self.assertEqual(before["tdsRunning"], 2)
        self.assertEqual(before["phase"], "idle")
        self.assertNotIn("lastCycleEndedUSec", before)

        last = self.suspend_cycle(tds)
        step = last["step"].replace("-", "_")
        m = self.metrics()
        self.assertEqual(cycles(m)[(step, "success")], 1, m["cycles"])
        self.assertEqual(sum(cycles(m).values()), 1)
        self.assertEqual((m["tdsStopped"], m["tdsStarted"], m["tdsForcedOff"], m["tdsStartFailed"],
                          m["tdsStopFailed"]), (2, 2, 0, 0, 0))
        self.assertEqual(m["lastCycleEndedUSec"], last["endedUSec"])
        self.assertFalse(m["lastCycleFailed"])
        for name in ("prepareDuration", "resumeDuration"):
            h = m[name]
            self.assertEqual(h["count"], 1, name)
            bounds = [b["leUSec"] for b in h["buckets"]]
            self.assertEqual(bounds, sorted(bounds))
            self.assertEqual(bounds[0], 100_000)
            self.assertEqual(bounds[-1], 600_000_000)
            # cumulative: once the one observation is in a bucket, it is in every later one
            counts = [b["count"] for b in h["buckets"]]
            self.assertEqual(counts, sorted(counts))
            self.assertEqual(counts[-1], 1)
        self.assertEqual(m["prepareDuration"]["sumUSec"], last["prepareUSec"])

        # The textfile says the same, and so does tdsleepctl, to the byte.
        key = 'tdsleep_cycles_total{step="%s",outcome="success"}' % step
        # The cycle is counted when it turns idle; tdsleepd sees the TDs running again
        # from their own STARTED events, which may come later (the file changes once more)
        self.wait_textfile("tdsleep_tds_running", 2)
        text = self.wait_textfile(key, 1)
        self.assertEqual(self.ctl_metrics(), text)
        st = os.stat(self.textfile)
        self.assertEqual(stat.S_IMODE(st.st_mode), 0o644)
        self.assertEqual(os.listdir(self.textdir), ["tdsleep.prom"], "a temp file was left behind")
        s = samples(text)
        self.assertEqual(s["tdsleep_tds_stopped_total"], 2)
        self.assertEqual(s["tdsleep_prepare_duration_seconds_count"], 1)
        self.assertEqual(s['tdsleep_phase{phase="idle"}'], 1)
        self.assertEqual(s["tdsleep_last_cycle_end_time_seconds"], last["endedUSec"] / 1e6)

    def test_drain_hold_and_locks_are_written(self):
        td = self.uniq("td")
        self.define_test_domain(td)
        self.start()
        self.wait_textfile('tdsleep_lock_held{mode="delay"}', 1)
        self.d.call("Hold", {"reason": "metrics test"})
        self.wait_textfile("tdsleep_hold_active", 1)
        self.wait_textfile('tdsleep_lock_held{mode="block"}', 1)
        self.d.call("Release")
        self.wait_textfile("tdsleep_hold_active", 0)

        self.d.call("Drain")
        self.wait_textfile('tdsleep_phase{phase="ready"}', 1)
        self.wait_textfile("tdsleep_tds_running", 0)
        self.d.call("Restore")
        self.wait_textfile('tdsleep_cycles_total{step="drain",outcome="success"}', 1)
        m = self.metrics()
        self.assertEqual((m["tdsStopped"], m["tdsStarted"]), (1, 1))
        self.assertEqual(m["prepareDuration"]["count"], 1)

    def test_write_errors_are_logged_once(self):
        missing = os.path.join(self.dir, "missing")
        self.textfile = os.path.join(missing, "tdsleep.prom")
        self.start(self.textfile)
        pattern = "Failed to write the metrics to %s" % re.escape(self.textfile)
        self.d.wait_log(pattern, 10)
        for _ in range(3):
            self.d.call("Hold", {"reason": "again"})
            self.d.call("Release")
        self.assertEqual(len(re.findall(pattern, self.d.stderr())), 1, self.d.stderr())
        os.makedirs(missing)
        self.d.call("Hold", {"reason": "now it works"})
        self.wait_textfile("tdsleep_hold_active", 1)
        self.d.wait_log("Wrote the metrics to %s again" % re.escape(self.textfile), 10)
        self.assertTrue(self.d.alive())

    def test_promtool_and_node_exporter(self):
        need(PROMTOOL, "promtool", "prometheus")
        need(NODE_EXPORTER, "prometheus-node-exporter", "prometheus-node-exporter")
        td = self.uniq("td")
        self.define_test_domain(td)
        self.start()
        self.suspend_cycle([td])
        text = self.wait_textfile("tdsleep_tds_started_total", 1)

        r = subprocess.run([PROMTOOL, "check", "metrics"], input=text, capture_output=True, text=True,
                           timeout=30)
        self.assertEqual(r.returncode, 0, "promtool: %s%s" % (r.stdout, r.stderr))
        self.assertEqual(r.stdout + r.stderr, "", "promtool has remarks")

        scraped = self.scrape()
        s = samples(scraped)
        self.assertEqual(s.get("node_textfile_scrape_error"), 0, scraped[-2000:])
        self.assertEqual(s.get("tdsleep_tds_started_total"), 1)
        self.assertEqual(sum(v for k, v in s.items() if k.startswith("tdsleep_cycles_total{")), 1)
        self.assertIn('tdsleep_prepare_duration_seconds_bucket{le="600"}', scraped)
        self.assertRegex(scraped, r'tdsleep_info\{kernel_policy="\w+",version="[^"]+"\} 1')
        self.assertIn("# TYPE tdsleep_prepare_duration_seconds histogram", scraped)

    def scrape(self):
        port = free_port()
        out = open(os.path.join(self.dir, "node-exporter.log"), "w")
        p = subprocess.Popen([NODE_EXPORTER, "--collector.disable-defaults", "--collector.textfile",
                              "--collector.textfile.directory=" + self.textdir,
                              "--web.listen-address=127.0.0.1:%d" % port],
                             stdout=out, stderr=subprocess.STDOUT)
        self.addCleanup(p.wait, 10)
        self.addCleanup(p.terminate)
        url = "http://127.0.0.1:%d/metrics" % port

        def ready():
            if p.poll() is not None:
                raise AssertionError("node_exporter exited: " + open(out.name).read())
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    return True
            except OSError:
                return False
        wait_until(ready, 20, "node_exporter to listen on port %d" % port, interval=0.05)
        with urllib.request.urlopen(url, timeout=10) as resp:
            text = resp.read().decode()
        log("node_exporter: %d tdsleep_ lines" % sum(line.startswith("tdsleep_") for line in text.splitlines()))
        return text


if __name__ == "__main__":
    unittest.main()
