# SPDX-License-Identifier: LGPL-2.1-or-later
"""tdsleepctl on a terminal: colour, health, pager."""
import os
import pty
import re
import subprocess

from ctl_harness import CtlTestCase, clean_env, CTL, ESC, STATUS_CODE


def run_on_pty(argv, env):
    """Run argv with stdout on a pseudo-terminal; returns (exit status, output)."""
    master, slave = pty.openpty()
    p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=slave, stderr=subprocess.DEVNULL, env=env)
    os.close(slave)
    out = b''
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:         # EIO: the child closed the terminal
            break
        if not data:
            break
        out += data
    os.close(master)
    return p.wait(timeout=20), out.decode()


class TestColor(CtlTestCase):
    def on_tty(self, *args, **env):
        # "cat" is no pager (TestPager has the pager)
        status, out = run_on_pty([CTL, '--socket=' + self.server.socket, *args],
                                 clean_env(**dict(dict(TDSLEEP_PAGER='cat'), **env)))
        self.assertEqual(status, STATUS_CODE if 'status' in args else 0, out)
        return out

    def test_terminal_gets_colour(self):
        for args in (('status',), ('list',), ('plan', 'suspend'), ('prepare', 'suspend')):
            out = self.on_tty(*args)
            self.assertIn(ESC, out, args)
            # colour never changes the text
            self.assertEqual(re.sub(r'\x1b\[[0-9;]*m', '', out).replace('\r\n', '\n'),
                             self.ok(*args, code=STATUS_CODE if args[0] == 'status' else 0).stdout)

    def test_no_color(self):
        for value in ('1', 'yes'):
            self.assertNotIn(ESC, self.on_tty('status', NO_COLOR=value))
        # no-color.org: an empty NO_COLOR does not count
        self.assertIn(ESC, self.on_tty('status', NO_COLOR=''))

    def test_dumb_terminal(self):
        self.assertNotIn(ESC, self.on_tty('list', TERM='dumb'))

    def test_not_a_terminal(self):
        for args in (('status',), ('list',), ('plan', 'suspend'), ('prepare', 'suspend'), ('drain',)):
            self.assertNotIn(ESC, self.ok(*args, code=STATUS_CODE if args[0] == 'status' else 0).stdout)

    def test_json_never_coloured(self):
        self.assertNotIn(ESC, self.on_tty('--json', 'status'))


class TestHealth(CtlTestCase):
    """status exits non-zero when the host is not safe or not healthy; the lowest code wins."""
    HEALTHY = {'libvirtConnected': True, 'recordDegraded': False, 'canCreateTDs': True,
               'lastCycle': {'id': '0123456789abcdef0123456789abcdef', 'step': 'suspend', 'prepareUSec': 1,
                             'resumeUSec': 1, 'failed': False, 'domains': []}}

    def tearDown(self):
        self.server.patch_status(None)

    def code(self, **fields):
        self.server.patch_status(dict(self.HEALTHY, **fields))
        p = self.ctl('status')
        self.assertEqual(p.stderr, '')
        self.assertIn('Phase: preparing', p.stdout, 'the status is printed whatever the code')
        for args in (('-q', 'status'), ('-q',), ('--json', '-q', 'status')):
            q = self.ctl(*args)
            self.assertEqual((q.returncode, q.stdout, q.stderr), (p.returncode, '', ''), args)
        j = self.ctl('--json', 'status')
        self.assertEqual(j.returncode, p.returncode, '--json status exits with the same code')
        return p.returncode

    def test_each_condition(self):
        self.assertEqual(self.code(), 0)
        self.assertEqual(self.code(lastCycle=None), 0, 'no cycle yet is healthy')
        self.assertEqual(self.code(libvirtConnected=False), 5)
        self.assertEqual(self.code(recordDegraded=True), 6)
        self.assertEqual(self.code(lastCycle=dict(self.HEALTHY['lastCycle'], failed=True)), 7)
        self.assertEqual(self.code(canCreateTDs=False), 8)

    def test_lowest_wins(self):
        failed = dict(self.HEALTHY['lastCycle'], failed=True)
        self.assertEqual(self.code(libvirtConnected=False, recordDegraded=True, lastCycle=failed,
                                   canCreateTDs=False), 5)
        self.assertEqual(self.code(recordDegraded=True, lastCycle=failed, canCreateTDs=False), 6)
        self.assertEqual(self.code(lastCycle=failed, canCreateTDs=False), 7)

    def test_only_status_is_a_health_check(self):
        self.server.patch_status({'libvirtConnected': False})
        self.ok('list')
        self.ok('plan', 'suspend')


class TestPager(CtlTestCase):
    """A pager only where systemctl uses one (status, list, plan), only on a terminal."""
    MARK = "sed 's/^/P:/'"

    def on_tty(self, *args, code=0, **env):
        status, out = run_on_pty([CTL, '--socket=' + self.server.socket, *args], clean_env(**env))
        self.assertEqual(status, code, out)
        return out.replace('\r\n', '\n')

    def paged(self, out):
        lines = [line for line in out.splitlines() if line.strip()]
        return bool(lines) and all(line.startswith('P:') for line in lines)

    def test_paged_verbs(self):
        for args, code in ((('status',), STATUS_CODE), ((), STATUS_CODE), (('list',), 0), (('plan', 'drain'), 0),
                           (('--json', 'status'), STATUS_CODE)):
            self.assertTrue(self.paged(self.on_tty(*args, code=code, TDSLEEP_PAGER=self.MARK)), args)

    def test_not_paged(self):
        for args in (('prepare', 'suspend'), ('drain',), ('resume',), ('hold', 'x'), ('--help',)):
            self.assertFalse(self.paged(self.on_tty(*args, TDSLEEP_PAGER=self.MARK)), args)
        self.assertFalse(self.paged(self.on_tty('--no-pager', 'list', TDSLEEP_PAGER=self.MARK)))
        self.assertFalse(self.paged(self.on_tty('list', TDSLEEP_PAGER=self.MARK, TERM='dumb')))
        for none in ('', 'cat', '  '):
            self.assertIn('td-web', self.on_tty('list', TDSLEEP_PAGER=none))
        # not a terminal: never
        p = self.ctl('list', env=clean_env(TDSLEEP_PAGER=self.MARK))
        self.assertFalse(self.paged(p.stdout))

    def test_which_pager(self):
        self.assertTrue(self.paged(self.on_tty('list', SYSTEMD_PAGER=self.MARK)))
        self.assertTrue(self.paged(self.on_tty('list', PAGER=self.MARK)))
        self.assertTrue(self.paged(self.on_tty('list', TDSLEEP_PAGER=self.MARK, SYSTEMD_PAGER='false')))
        self.assertFalse(self.paged(self.on_tty('list', TDSLEEP_PAGER='', PAGER=self.MARK)), 'empty: no pager')

    def test_less_environment(self):
        show = 'echo "LESS=$LESS"; cat >/dev/null'
        self.assertIn('LESS=FRSXMK', self.on_tty('list', TDSLEEP_PAGER=show))
        self.assertIn('LESS=R', self.on_tty('list', TDSLEEP_PAGER=show, SYSTEMD_LESS='R'))

    def test_colour_reaches_the_pager(self):
        out = self.on_tty('plan', 'suspend', TDSLEEP_PAGER='cat -v')
        self.assertIn('^[[', out, 'the colour decided for the terminal goes through the pager')
