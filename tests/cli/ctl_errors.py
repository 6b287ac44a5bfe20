# SPDX-License-Identifier: LGPL-2.1-or-later
"""tdsleepctl error replies, denied callers and the sleep hook."""
import os
import socket
import subprocess
import tempfile
import time

from ctl_harness import CtlTestCase, clean_env, CTL, ESC, STATUS_CODE, CHANGING_VERBS


class TestErrors(CtlTestCase):
    def fails(self, code, *args, stderr=None, **kwargs):
        p = self.ctl(*args, **kwargs)
        self.assertEqual(p.returncode, code, f'{args}: {p.stdout!r} {p.stderr!r}')
        if stderr is not None:
            self.assertEqual(p.stderr, stderr)
        self.assertNotIn(ESC, p.stderr)
        return p

    def test_no_socket(self):
        p = self.fails(3, 'status', socket_path=os.path.join(self.server.dir.name, 'absent'))
        self.assertRegex(p.stderr, r'^tdsleepctl: Cannot reach tdsleepd at .*absent: No such file or directory\. '
                                   r'Start it: systemctl start tdsleepd\.socket\n$')
        self.assertEqual(p.stdout, '')

    def test_nobody_listening(self):
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, 'sock')
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.bind(path)        # bound, never listening: ECONNREFUSED
            try:
                p = self.fails(3, 'list', socket_path=path)
                self.assertIn('Connection refused', p.stderr)
            finally:
                s.close()
            with open(os.path.join(d, 'file'), 'w'):
                pass
            self.fails(3, 'status', socket_path=os.path.join(d, 'file'))

    def test_error_reply(self):
        self.fails(1, 'restore', stderr='tdsleepctl: io.tdsleep.Manager.Busy: phase=preparing. A cycle is in '
                   'progress: wait for it to end (tdsleepctl monitor shows it), then try again\n')
        self.fails(1, 'hold', 'refused', stderr='tdsleepctl: io.tdsleep.Manager.LockRefused: message=logind is not '
                   'running. Is systemd-logind running? Nothing changed: See journalctl -u tdsleepd\n')

    def test_hold_not_stored_is_a_warning(self):
        p = self.ctl('hold', 'unstored')
        self.assertEqual((p.returncode, p.stdout), (0, ''))
        self.assertIn('the hold is taken, but tdsleepd could not store it', p.stderr)
        self.assertIn('a restart of tdsleepd drops it', p.stderr)

    def test_failed_operation(self):
        p = self.fails(1, 'prepare', 'hibernate')
        self.assertIn('0 stopped, 0 left running, 1 failed.', p.stdout)
        self.assertEqual(p.stderr, 'tdsleepctl: 1 TD failed during prepare.\n')
        self.fails(1, '--json', 'prepare', 'hibernate')

    def test_no_answer(self):
        start = time.monotonic()
        p = self.fails(3, 'prepare', 'suspend', '--step=hang', env=clean_env(TDSLEEP_TIMEOUT='0.5'))
        self.assertLess(time.monotonic() - start, 10)
        self.assertIn('did not answer io.tdsleep.Manager.Prepare within 0.5 s', p.stderr)

    def test_permission_denied_on_connect(self):
        if os.geteuid() != 0:
            self.skipTest('needs root to run tdsleepctl as nobody')
        with tempfile.TemporaryDirectory() as d:
            os.chmod(d, 0o755)
            private = os.path.join(d, 'private')
            os.mkdir(private, 0o700)
            path = os.path.join(private, 'sock')
            os.symlink(self.server.socket, path)
            p = subprocess.run([CTL, '--socket=' + path, 'status'], env=clean_env(), capture_output=True,
                               text=True, timeout=20, user=65534, group=65534, extra_groups=[])
            if p.returncode == 126 or 'Permission denied' in p.stderr and 'tdsleepctl:' not in p.stderr:
                self.skipTest('nobody cannot execute the build tree here')
            self.assertEqual(p.returncode, 4, p.stderr)
            self.assertIn('Permission denied', p.stderr)
            self.assertIn('Run as root or join group tdsleep', p.stderr)


class TestDenied(CtlTestCase):
    """A fake that refuses every change, as tdsleepd does for callers other than root."""
    deny = True

    def test_every_changing_verb(self):
        for args in CHANGING_VERBS:
            for json_flag in ([], ['--json']):
                p = self.ctl(*json_flag, *args)
                self.assertEqual(p.returncode, 4, f'{args}: {p.stderr}')
                self.assertEqual(p.stderr, 'tdsleepctl: org.varlink.service.PermissionDenied: this needs root; '
                                           'status, list, plan and monitor also work for members of the control '
                                           "socket's group (SocketGroup=, tdsleep by default).\n")
                self.assertEqual(p.stdout, '')

    def test_reads_still_work(self):
        self.ok('status', code=STATUS_CODE)
        self.ok('list')
        self.ok('plan', 'suspend')


class TestHook(CtlTestCase):
    def test_pre_sends_the_step(self):
        p = self.ctl('hook', 'pre', 'suspend', env=clean_env(SYSTEMD_SLEEP_ACTION='suspend'))
        self.assertEqual((p.returncode, p.stdout, p.stderr), (0, '', ''))
        self.assertEqual(self.last_call(), {'method': 'io.tdsleep.Manager.Prepare',
                                            'parameters': {'operation': 'suspend', 'step': 'suspend'},
                                            'more': False})

    def test_pre_step_of_suspend_then_hibernate(self):
        for step in ('suspend', 'hibernate'):
            self.ok('hook', 'pre', 'suspend-then-hibernate', env=clean_env(SYSTEMD_SLEEP_ACTION=step))
            self.assertEqual(self.last_call()['parameters'],
                             {'operation': 'suspend-then-hibernate', 'step': step})

    def test_pre_without_action_uses_operation(self):
        for env in (clean_env(), clean_env(SYSTEMD_SLEEP_ACTION='')):
            self.ok('hook', 'pre', 'hybrid-sleep', env=env)
            self.assertEqual(self.last_call()['parameters'], {'operation': 'hybrid-sleep', 'step': 'hybrid-sleep'})

    def test_post_does_nothing(self):
        before = len(self.server.calls())
        p = self.ok('hook', 'post', 'suspend', env=clean_env(SYSTEMD_SLEEP_ACTION='suspend'))
        self.assertEqual(p.stdout, '')
        self.assertEqual(len(self.server.calls()), before)
        # post must not care whether tdsleepd is there at all
        self.ok('hook', 'post', 'suspend', socket_path='/nonexistent/socket')

    def test_pre_unreachable(self):
        p = self.ctl('hook', 'pre', 'suspend', socket_path='/nonexistent/socket')
        self.assertEqual((p.returncode, p.stdout), (3, ''))
        self.assertIn('Cannot reach tdsleepd', p.stderr)

    def fallback(self, mem_sleep, step, socket_path='/nonexistent/socket'):
        root = tempfile.mkdtemp(prefix='tdsleepctl-sysfs.')
        os.makedirs(os.path.join(root, 'sys', 'power'))
        path = os.path.join(root, 'sys', 'power', 'mem_sleep')
        if mem_sleep is not None:
            with open(path, 'w') as f:
                f.write(mem_sleep)
        p = self.ctl('hook', 'pre', step, socket_path=socket_path,
                     env=clean_env(SYSTEMD_SLEEP_ACTION=step, TDSLEEP_SYSFS_ROOT=root, TDSLEEP_TIMEOUT='0.5'))
        content = None
        if mem_sleep is not None:
            with open(path) as f:
                content = f.read()
        return p, content

    def test_pre_unreachable_selects_s2idle_for_a_suspend(self):
        p, mem_sleep = self.fallback('s2idle [deep]\n', 'suspend')
        self.assertEqual(p.returncode, 3, p.stderr)
        self.assertEqual(mem_sleep, 's2idle', 'the hook must select s2idle itself')
        self.assertIn('selected s2idle', p.stderr)

    def test_pre_unreachable_fails_loudly_without_s2idle(self):
        for mem_sleep, step in (('deep\n', 'suspend'), ('s2idle [deep]\n', 'hibernate'), (None, 'suspend')):
            with self.subTest(mem_sleep=mem_sleep, step=step):
                p, after = self.fallback(mem_sleep, step)
                self.assertEqual(p.returncode, 3, p.stderr)
                self.assertEqual(after, mem_sleep, 'nothing written when s2idle cannot help')
                self.assertIn('running TDs may be lost', p.stderr)

    def test_pre_hung_up_on_falls_back(self):
        """A tdsleepd that accepts and closes (as under a flood) is no answer either."""
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as srv:
            path = os.path.join(tempfile.mkdtemp(prefix='tdsleepctl-sock.'), 'sock')
            srv.bind(path)
            srv.listen(4)
            import threading

            def hang_up():
                c, _ = srv.accept()
                c.close()
            t = threading.Thread(target=hang_up)
            t.start()
            p, mem_sleep = self.fallback('[s2idle] deep\n', 'suspend', socket_path=path)
            t.join()
        self.assertEqual(p.returncode, 3, p.stderr)
        self.assertEqual(mem_sleep, 's2idle')

    def test_pre_does_not_hang(self):
        start = time.monotonic()
        p = self.ctl('hook', 'pre', 'suspend', env=clean_env(SYSTEMD_SLEEP_ACTION='hang', TDSLEEP_TIMEOUT='0.5'))
        self.assertEqual(p.returncode, 3, p.stderr)
        self.assertLess(time.monotonic() - start, 10)
        self.assertIn('did not answer', p.stderr)

    def test_pre_failed(self):
        p = self.ctl('hook', 'pre', 'hibernate', env=clean_env(SYSTEMD_SLEEP_ACTION='hibernate'))
        self.assertEqual((p.returncode, p.stdout), (1, ''))
        self.assertEqual(p.stderr, 'tdsleepctl: 1 TD could not be made safe for hibernate.\n')
