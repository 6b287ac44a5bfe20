# SPDX-License-Identifier: LGPL-2.1-or-later
"""test_edges's guests (names and behaviour) and constants, shared by its edges_*.py parts."""
import os

from tdsleeptest import BUILD_DIR

ACPI = "edge-acpi"          # honours the power button
SLOW = "edge-slow"          # honours it, powers off SLOW_DELAY s later
IGN = "edge-ign"            # ignores it
S2 = "edge-s2idle"          # on-deep-sleep="s2idle"; ignores ACPI (never needs to boot)
F1, F2 = "edge-f1", "edge-f2"   # persistent, each with its own initrd (moved away by tests)
TR = "edge-tr"              # transient, its own initrd
SLOW_DELAY = 5

MEM_SLEEP = "s2idle [deep]\n"   # FakeSysfs's default
CTL = os.environ.get("TDSLEEPCTL") or os.path.join(BUILD_DIR, "cli", "tdsleepctl")
