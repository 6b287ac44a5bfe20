# SPDX-License-Identifier: LGPL-2.1-or-later
"""Shared by the tdsleepctl tests: the environment, fake-tdsleepd as a server, the base case."""
import json
import os
import re
import signal
import socket
import subprocess
import tempfile
import time
import unittest

CTL = os.environ.get('TDSLEEPCTL', '')
FAKE = os.environ.get('FAKE_TDSLEEPD', '')
ESC = '\x1b['
# The canned status has failures in its last cycle and a package without a CPU online:
# the lowest health code that applies is 7 (tdsleepctl(1)).
STATUS_CODE = 7
CHANGING_VERBS = [['prepare', 'suspend'], ['resume'], ['drain'], ['restore'], ['hold', 'why'],
                  ['release'], ['reload'], ['hook', 'pre', 'suspend'], ['log-level', 'debug']]


# The sleep hook falls back to writing sys/power/mem_sleep below this root when it
# cannot reach tdsleepd: never let a test touch the real one.
os.environ['TDSLEEP_SYSFS_ROOT'] = tempfile.mkdtemp(prefix='tdsleepctl-sysfs.')


def clean_env(**extra):
    """The environment without anything that steers tdsleepctl, plus extra."""
    env = {k: v for k, v in os.environ.items()
           if k not in ('NO_COLOR', 'TDSLEEP_SOCKET', 'TDSLEEP_TIMEOUT', 'SYSTEMD_SLEEP_ACTION', 'TDSLEEP_PAGER',
                        'SYSTEMD_PAGER', 'PAGER', 'SYSTEMD_LESS', 'SYSTEMD_PAGERSECURE', 'SUDO_UID', 'PKEXEC_UID')}
    env['TERM'] = 'xterm-256color'
    env.update(extra)
    return env


class FakeServer:
    """fake-tdsleepd on a private socket; calls() is what it received."""

    def __init__(self, deny=False):
        self.dir = tempfile.TemporaryDirectory(prefix='tdsleepctl-test.')
        self.socket = os.path.join(self.dir.name, 'io.tdsleep.Manager')
        self.record = os.path.join(self.dir.name, 'calls.jsonl')
        argv = [FAKE] + (['--deny'] if deny else []) + [self.socket, self.record]
        self.proc = subprocess.Popen(argv, stderr=subprocess.PIPE, text=True)
        # Ready when it accepts: the path exists between bind() and listen() already.
        deadline = time.monotonic() + 10
        while not self.accepts():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError('fake-tdsleepd did not start: ' + self.proc.stderr.read())
            time.sleep(0.02)

    def accepts(self):
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            try:
                s.connect(self.socket)
                return True
            except OSError:
                return False

    def patch_status(self, fields):
        """GetStatus answers the canned status with fields put over it (None: as canned)."""
        path = self.record + '.status.json'
        if fields is None:
            if os.path.exists(path):
                os.unlink(path)
            return
        with open(path, 'w') as f:
            json.dump(fields, f)

    def calls(self):
        if not os.path.exists(self.record):
            return []
        with open(self.record) as f:
            return [json.loads(line) for line in f]

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        _, err = self.proc.communicate(timeout=10)
        self.dir.cleanup()
        # Under ASan a leak makes the fake exit non-zero: that is a finding too.
        if self.proc.returncode != 0:
            raise RuntimeError(f'fake-tdsleepd exited {self.proc.returncode}: {err}')


class CtlTestCase(unittest.TestCase):
    deny = False

    @classmethod
    def setUpClass(cls):
        if not CTL or not FAKE:
            raise unittest.SkipTest('TDSLEEPCTL and FAKE_TDSLEEPD must be set (run through meson)')
        cls.server = FakeServer(deny=cls.deny)

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def ctl(self, *args, env=None, socket_path=None, timeout=20):
        """Run tdsleepctl --socket=<the fake> ARGS; returns the CompletedProcess."""
        path = socket_path if socket_path is not None else self.server.socket
        argv = [CTL] + (['--socket=' + path] if path else []) + list(args)
        return subprocess.run(argv, env=env or clean_env(), stdin=subprocess.DEVNULL,
                              capture_output=True, text=True, timeout=timeout)

    def ok(self, *args, code=0, **kwargs):
        """Run, expecting exit status code (status: its health code) and nothing on stderr."""
        p = self.ctl(*args, **kwargs)
        self.assertEqual(p.returncode, code, f'{args}: stderr: {p.stderr}')
        self.assertEqual(p.stderr, '')
        return p

    def last_call(self):
        calls = self.server.calls()
        self.assertTrue(calls, 'the fake server got no call')
        return calls[-1]

    def assert_table(self, text, header):
        """header is the first line of a table; every row has a cell at each column start."""
        lines = text.splitlines()
        start = next(i for i, line in enumerate(lines) if line.split() == header)
        cols = [m.start() for m in re.finditer(r'\S+', lines[start])]
        rows = []
        for line in lines[start + 1:]:
            if not line.strip() or line.startswith(('Policy error', 'CPU packages', 'Cycle')):
                break
            for c in cols:
                self.assertGreater(len(line), c, f'short row {line!r}')
                self.assertNotEqual(line[c], ' ', f'{line!r} not aligned with {lines[start]!r}')
                self.assertTrue(c == 0 or line[c - 1] == ' ', f'{line!r} not aligned at {c}')
            rows.append(line.split())
        self.assertTrue(rows, 'table without rows')
        return rows


def shlex_quote(s):
    import shlex
    return shlex.quote(s)
