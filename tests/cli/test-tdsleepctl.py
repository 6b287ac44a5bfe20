#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""tdsleepctl against fake-tdsleepd: every verb, human and --json, exit codes, the
sleep hook's Prepare, colour rules.

Run by meson with TDSLEEPCTL and FAKE_TDSLEEPD set; one meson test per class:
    test-tdsleepctl.py -v TestHook
The classes live in ctl_*.py by area (usage, output, errors, terminal), the shared
fake server and base case in ctl_harness.py.
"""
import unittest

from ctl_usage import TestUsage, TestCompletion  # noqa: F401
from ctl_output import TestHuman, TestJson  # noqa: F401
from ctl_errors import TestErrors, TestDenied, TestHook  # noqa: F401
from ctl_terminal import TestColor, TestHealth, TestPager  # noqa: F401


if __name__ == '__main__':
    unittest.main()
