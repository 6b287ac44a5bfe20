# SPDX-License-Identifier: LGPL-2.1-or-later
"""Issue 9's edges, one regression test per defect, against the real daemon.

Real QEMU (TCG) guests where the guest's behaviour matters (defects 1, 3, 4, 8):
one that honours the ACPI power button, one that honours it late (it powers off
SLOW_DELAY seconds after the button), one that ignores it; the test driver where
instant, cheap domains are enough. The guests are defined once for the module and
reused while they run. Waiting is done on libvirt lifecycle events, sd_notify STATUS
and daemon log lines; the few deliberate waits (a stalled libvirtd) are the scenario,
not synchronisation."""
import contextlib
import os
import shutil
import signal
import unittest

from tdsleeptest import TDSleepTestCase, config_text, wait_until
from edges_divergence import DivergenceEdges
from edges_start import StartEdges
from edges_stop import StopEdges
from edgestest import ACPI, SLOW, IGN, S2, F1, F2, TR, SLOW_DELAY


class Edges(StopEdges, StartEdges, DivergenceEdges, TDSleepTestCase):
    """The guests, defined once for the module, and the helpers; the tests are in
    edges_stop.py (1, 2), edges_start.py (3 to 6) and edges_divergence.py (7, 8)."""

    NEED_QEMU = True
    GUESTS = {
        ACPI: dict(acpid=True),
        IGN: dict(acpid=False),
        S2: dict(acpid=False, on_deep_sleep="s2idle"),
    }

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.pool.define(SLOW, acpid=True, initrd=cls.images.initrd_slow(SLOW_DELAY))
        cls.initrds = {}
        idir = os.path.join(cls.base, "initrd")
        os.makedirs(idir)
        for name in (F1, F2, TR):
            path = os.path.join(idir, name + ".cpio.gz")
            shutil.copy(cls.images.initrd(True), path)
            cls.initrds[name] = path
            cls.pool.define(name, acpid=True, initrd=path, transient=(name == TR))

    # ---- helpers

    def qdaemon(self, fdstore=False, **sleep):
        return self.daemon(uri=self.lv.qemu_uri, config=config_text(**sleep), fdstore=fdstore)

    def qstates(self, names):
        return self.states(names, conn=self.lv.qemu)

    def started(self, name, since):
        return len(self.events.select(name, "STARTED", since=since))

    def wait_phase(self, d, phase, since, timeout=40):
        return d.wait_status(lambda s: s.startswith(phase + ";") or s.startswith(phase + " "),
                             timeout, "STATUS %s" % phase, since=since)

    def wait_button(self, name, before, timeout=20):
        """The guest printed one more "ACPI power button" line than `before` (a serial
        file has no event: polled)."""
        wait_until(lambda: self.pool.serial(name).count("ACPI power button") > before, timeout,
                   "%s to see the ACPI power button" % name, interval=0.05)

    def buttons(self, name):
        return self.pool.serial(name).count("ACPI power button")

    def move_initrd(self, name):
        os.rename(self.initrds[name], self.initrds[name] + ".away")

        def back():
            if os.path.exists(self.initrds[name] + ".away"):
                os.rename(self.initrds[name] + ".away", self.initrds[name])
        self.addCleanup(back)
        return back

    def libvirtd_running_after(self):
        """Cleanup for tests that stop or kill the private libvirtd."""
        def ensure():
            pid = self.lv.pid
            if pid:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGCONT)
            if self.lv.qemu is None:
                self.lv.restart()
        self.addCleanup(ensure)

    def last_cycle(self, d):
        lc = d.status().get("lastCycle")
        self.assertIsNotNone(lc, "GetStatus has no lastCycle after a finished cycle")
        return {x["name"]: x for x in lc["domains"]}


if __name__ == "__main__":
    unittest.main(verbosity=2)
