# SPDX-License-Identifier: LGPL-2.1-or-later
"""tdsleepctl human and --json output."""
import json
import re
import signal
import subprocess
import time

from ctl_harness import CtlTestCase, clean_env, CTL, ESC, STATUS_CODE


class TestHuman(CtlTestCase):
    def test_status(self):
        out = self.ok('status', code=STATUS_CODE).stdout
        self.assertNotIn(ESC, out)
        # enums as systemd and the journal spell them: hybrid_sleep on the wire is hybrid-sleep
        for key, value in (('Phase', 'preparing'), ('Step', 'hybrid-sleep'), ('Kernel policy', 'runtime'),
                           ('mem_sleep', 's2idle'), ('TDs running', '2'), ('Can create TDs', 'no'),
                           ('Delay lock', 'held'), ('Block lock', '-'), ('Hold', 'maintenance window'),
                           ('libvirt', 'qemu:///system (connected)'),
                           ('logind', 'present, InhibitDelayMaxSec=90s')):
            self.assertRegex(out, rf'(?m)^ *{re.escape(key)}: {re.escape(value)}$')
        self.assertNotIn('Awaiting', out)
        self.assertIn('Cycle: 2 TDs', out)
        cycle = self.assert_table(out, ['NAME', 'UUID', 'STATE', 'ERROR'])
        self.assertEqual([r[0] + ' ' + r[2] for r in cycle], ['td-web stopping', 'td-db left-running'])
        self.assertIn('did not stop in time, and ForceOff=no', out)
        # the last finished cycle: step, result, and each TD's outcome with why
        self.assertRegex(out, r'(?m)^Last cycle: hibernate, ended \S+ \S+, prepared in 2\.50s, '
                              r'resumed in 1\.25s: with failures$')
        self.assertRegex(out, r'(?m)^ *Cycle id: 0123456789abcdef0123456789abcdef$')
        last = self.assert_table(out, ['NAME', 'UUID', 'OUTCOME', 'STOPPED', 'ERROR'])
        self.assertEqual([r[0] + ' ' + r[2] for r in last], ['td-web started', 'td-db start-failed'])
        self.assertIn('forced off', out)
        self.assertIn('Cannot access storage file', out)
        packages = self.assert_table(out, ['PACKAGE', 'CPUS', 'ONLINE'])
        self.assertEqual(packages, [['0', '0-3,8-9', '0-3,8-9'], ['1', '4-7', '-']])
        self.assertEqual(self.last_call()['method'], 'io.tdsleep.Manager.GetStatus')

    def test_status_shows_who_holds_since_when(self):
        out = self.ok('status', code=STATUS_CODE, env=clean_env(TZ='UTC')).stdout
        self.assertRegex(out, r'(?m)^ *Held by: uid 0 \(root\), tdsleepctl\[4242\]$')
        self.assertRegex(out, r'(?m)^ *Held since: Mon 2025-12-01 01:53:20 UTC$')
        self.assertRegex(out, r'(?m)^ *Held until: Mon 2025-12-01 03:53:20 UTC$')
        self.assertNotIn('Hold stored', out)
        try:
            self.server.patch_status({'holdInfo': {'reason': 'r', 'uid': 4711, 'pid': 9, 'comm': None,
                                                   'sinceUSec': 1764554000000000, 'untilUSec': None,
                                                   'stored': False}})
            out = self.ok('status', code=STATUS_CODE).stdout
            self.assertRegex(out, r'(?m)^ *Held by: uid 4711, pid\[9\]$')
            self.assertRegex(out, r'(?m)^ *Held until: tdsleepctl release$')
            self.assertRegex(out, r'(?m)^ *Hold stored: no: the state directory refused it')
            self.server.patch_status({'hold': None, 'holdInfo': None})
            out = self.ok('status', code=STATUS_CODE).stdout
            self.assertRegex(out, r'(?m)^ *Hold: -$')
            self.assertNotIn('Held', out)
        finally:
            self.server.patch_status(None)

    def test_no_legend(self):
        out = self.ok('--no-legend', 'list').stdout
        self.assertNotIn('NAME', out)
        self.assertEqual(out.splitlines()[0].split()[:2], ['td-web', '6f1e2c3a-0000-4000-8000-000000000001'])
        out = self.ok('status', '--no-legend', code=STATUS_CODE).stdout
        for header in ('NAME', 'PACKAGE', 'OUTCOME'):
            self.assertNotIn(header, out)
        self.assertRegex(out, r'(?m)^1 4-7     -$', 'columns still aligned, by the data alone')
        self.assertNotIn('VERDICT', self.ok('plan', 'suspend', '--no-legend').stdout)

    def test_quiet(self):
        for args, code in ((('status',), STATUS_CODE), (('-q',), STATUS_CODE), (('list',), 0),
                           (('prepare', 'suspend'), 0), (('--json', 'plan', 'drain'), 0), (('hold', 'x'), 0)):
            p = self.ctl('--quiet' if args != ('-q',) else '-q', *[a for a in args if a != '-q'])
            self.assertEqual((p.returncode, p.stdout, p.stderr), (code, '', ''), args)
        # errors still say what went wrong
        p = self.ctl('-q', 'restore')
        self.assertEqual((p.returncode, p.stdout), (1, ''))
        self.assertIn('Busy', p.stderr)

    def test_status_keys_aligned(self):
        lines = self.ok('status', code=STATUS_CODE).stdout.split('\n\n')[0].splitlines()
        self.assertEqual(len({line.index(': ') for line in lines}), 1, lines)

    def test_list(self):
        out = self.ok('list').stdout
        rows = self.assert_table(out, ['NAME', 'UUID', 'STATE', 'KIND', 'PROTECTED', 'ACTION', 'TIMEOUT'])
        self.assertEqual(rows[0], ['td-web', '6f1e2c3a-0000-4000-8000-000000000001', 'running', 'tdx',
                                   'yes', 'stop', '60s'])
        self.assertEqual(rows[1][-3:], ['yes', 'refuse', '120.5s'])
        # not protected: no action shown
        self.assertEqual(rows[2][0:1] + rows[2][2:], ['plain-vm', 'shut', 'off', 'none', 'no', '-', '60s'])
        self.assertEqual(rows[3][0:1] + rows[3][3:5], ['broken-vm', 'sev-snp', 'no'])
        self.assertIn("Policy error for broken-vm: metadata: bad action 'nap'", out)

    def test_plan(self):
        out = self.ok('plan', 'suspend-then-hibernate').stdout
        self.assertRegex(out, r'(?m)^ *Operation: suspend-then-hibernate$')
        self.assertRegex(out, r'(?m)^ *Steps: suspend, hibernate$')
        self.assertRegex(out, r'(?m)^ *Keeps TDs: no$')
        # the budget against logind's limit, and what a prepare would do about it
        self.assertRegex(out, r'(?m)^ *Stop budget: hibernate: 3 TDs, up to 260s; logind waits 150s: does not fit$')
        self.assertRegex(out, r'(?m)^ +-> every graceful window is cut to 62.5s: every TD is down within 145s$')
        self.assertRegex(out, r'(?m)^ +suspend: 3 TDs, up to 260s; logind waits 150s: does not fit$')
        self.assertRegex(out, r'(?m)^ +-> the suspend is steered to s2idle instead: no TD is stopped$')
        rows = self.assert_table(out, ['NAME', 'UUID', 'KIND', 'PROTECTED', 'ACTION', 'VERDICT'])
        self.assertEqual([(r[0], r[-1]) for r in rows],
                         [('td-web', 'stop'), ('td-db', 'refuse'), ('plain-vm', 'ignore'), ('broken-vm', 'ignore')])
        self.assertEqual(self.last_call()['parameters'], {'operation': 'suspend-then-hibernate'})

    def test_metrics(self):
        out = self.ok('metrics').stdout
        self.assertEqual(self.last_call()['method'], 'io.tdsleep.Manager.GetMetrics')
        self.assertIn('# TYPE tdsleep_cycles_total counter\n'
                      'tdsleep_cycles_total{step="hibernate",outcome="failure"} 1\n', out)
        self.assertIn('tdsleep_info{version="9.9.9",kernel_policy="runtime"} 1\n', out)
        self.assertIn('tdsleep_resume_duration_seconds_sum 1.25\n', out)
        self.assertIn('tdsleep_last_cycle_end_time_seconds 1764554100\n', out)
        self.assertIn('tdsleep_hold_active 1\n', out)
        self.assertTrue(out.endswith('tdsleep_last_cycle_failed 1\n'), out[-200:])

    def test_prepare(self):
        out = self.ok('prepare', 'suspend').stdout
        # a phase event's message is the status line, which starts with the phase
        self.assertEqual(out.splitlines(), ['phase: preparing; 1 TDs running',
                                            'domain: td-web stopping',
                                            'Ready for suspend: 1 stopped, 1 left running, 0 failed.'])
        call = self.last_call()
        self.assertEqual(call, {'method': 'io.tdsleep.Manager.Prepare', 'parameters': {'operation': 'suspend'},
                                'more': True})

    def test_prepare_step(self):
        out = self.ok('prepare', 'suspend-then-hibernate', '--step', 'hibernate').stdout
        self.assertIn('Ready for hibernate:', out)
        self.assertEqual(self.last_call()['parameters'],
                         {'operation': 'suspend-then-hibernate', 'step': 'hibernate'})
        # options may come first, and as --opt=value
        self.ok('--step=suspend', 'prepare', 'suspend-then-hibernate')
        self.assertEqual(self.last_call()['parameters']['step'], 'suspend')

    def test_drain(self):
        out = self.ok('drain', '--timeout', '30').stdout
        self.assertEqual(out.splitlines()[-1], 'Drain done: 2 stopped, 0 left running, 0 failed.')
        self.assertEqual(len(out.splitlines()), 3)
        call = self.last_call()
        self.assertEqual((call['method'], call['parameters'], call['more']),
                         ('io.tdsleep.Manager.Drain', {'timeoutUSec': 30000000}, True))
        self.ok('drain')
        self.assertEqual(self.last_call()['parameters'], {})
        self.ok('drain', '--timeout=2.5')
        self.assertEqual(self.last_call()['parameters'], {'timeoutUSec': 2500000})

    def test_resume(self):
        self.assertEqual(self.ok('resume').stdout, 'Phase: resuming\n')
        self.assertEqual(self.last_call()['method'], 'io.tdsleep.Manager.Resume')

    def test_hold_release_reload_are_quiet(self):
        self.assertEqual(self.ok('hold', 'kernel update at 14:00').stdout, '')
        self.assertEqual(self.last_call()['parameters'], {'reason': 'kernel update at 14:00'})
        for span, usec in (('90s', 90_000_000), ('5min', 300_000_000), ('2h', 7_200_000_000),
                           ('1d', 86_400_000_000), ('1h 30min', 5_400_000_000), ('366d', 366 * 86_400_000_000)):
            self.assertEqual(self.ok('hold', '--for', span, 'window').stdout, '')
            self.assertEqual(self.last_call()['parameters'], {'reason': 'window', 'forUSec': usec})
        self.assertEqual(self.ok('hold', '--', '-odd reason').stdout, '')
        self.assertEqual(self.last_call()['parameters'], {'reason': '-odd reason'})
        for verb, method in (('release', 'Release'), ('reload', 'Reload')):
            self.assertEqual(self.ok(verb).stdout, '')
            self.assertEqual(self.last_call(), {'method': 'io.tdsleep.Manager.' + method, 'parameters': {},
                                                'more': False})

    def monitor(self, *extra):
        p = subprocess.Popen([CTL, '--socket=' + self.server.socket, 'monitor', *extra], env=clean_env(),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        lines = [p.stdout.readline() for _ in range(3)]
        p.send_signal(signal.SIGINT)
        rest, err = p.communicate(timeout=10)
        self.assertEqual(p.returncode, 0, err)
        self.assertEqual((rest, err), ('', ''))
        self.assertEqual(self.last_call(), {'method': 'io.tdsleep.Manager.Subscribe', 'parameters': {},
                                            'more': True})
        return lines

    def test_monitor(self):
        lines = self.monitor()
        # the time is the event's own (realtimeUSec ...123456: .123), not when it arrived
        when = time.strftime('%H:%M:%S', time.localtime(1764554000)) + r'\.123'
        self.assertRegex(lines[0], rf'^{when} phase: preparing; 2 TDs running; delay lock held\n$')
        self.assertRegex(lines[1], rf'^{when} domain: td-web stop-pending\n$')
        self.assertRegex(lines[2], rf'^{when} cpus: package 1 has no online CPU\n$')

    def test_log_level(self):
        self.assertEqual(self.ok('log-level').stdout, 'info\n')
        self.assertEqual(self.last_call()['method'], 'io.tdsleep.Manager.GetStatus')
        for arg, level in (('debug', 7), ('err', 3), ('error', 3), ('0', 0), ('warning', 4)):
            self.assertEqual(self.ok('log-level', arg).stdout, '')
            self.assertEqual(self.last_call(), {'method': 'io.systemd.service.SetLogLevel',
                                                'parameters': {'level': level}, 'more': False})

    def test_socket_from_environment(self):
        p = self.ok('status', code=STATUS_CODE, socket_path='', env=clean_env(TDSLEEP_SOCKET=self.server.socket))
        self.assertIn('Phase: preparing', p.stdout)
        # --socket wins over the environment
        self.ok('status', code=STATUS_CODE, env=clean_env(TDSLEEP_SOCKET='/nonexistent/socket'))


class TestJson(CtlTestCase):
    def json_lines(self, *args, count=1):
        out = self.ok('--json', *args, code=STATUS_CODE if args[0] == 'status' else 0).stdout
        lines = out.splitlines()
        self.assertEqual(len(lines), count, out)
        objs = [json.loads(line) for line in lines]
        for o in objs:
            self.assertIsInstance(o, dict)
        return objs

    def test_status(self):
        s = self.json_lines('status')[0]['status']
        self.assertEqual((s['phase'], s['tdsRunning'], len(s['packages']), len(s['cycle'])), ('preparing', 2, 2, 2))

    def test_metrics(self):
        m = self.json_lines('metrics')[0]['metrics']
        self.assertEqual((m['tdsForcedOff'], m['prepareDuration']['sumUSec']), (1, 2500000))

    def test_list(self):
        domains = self.json_lines('list')[0]['domains']
        self.assertEqual([d['name'] for d in domains], ['td-web', 'td-db', 'plain-vm', 'broken-vm'])

    def test_plan(self):
        reply = self.json_lines('plan', 'hibernate')[0]
        self.assertEqual((reply['operation'], reply['steps']), ('hibernate', ['hibernate']))
        self.assertEqual([d['verdict'] for d in reply['domains']], ['stop', 'refuse', 'ignore', 'ignore'])
        self.assertNotIn('verdicts', reply)
        # the enum spelling on the wire, whichever spelling was asked for
        self.assertEqual(self.json_lines('plan', 'hybrid-sleep')[0]['operation'], 'hybrid_sleep')

    def test_streams_one_reply_per_line(self):
        for args, last in ((('prepare', 'suspend'), {'phase': 'ready', 'stopped': 1, 'leftRunning': 1, 'failed': 0}),
                           (('drain',), {'stopped': 2, 'leftRunning': 0, 'failed': 0})):
            replies = self.json_lines(*args, count=3)
            self.assertEqual(replies[0]['event']['type'], 'phase')
            self.assertEqual(replies[1]['event']['domain']['name'], 'td-web')
            self.assertEqual(replies[2], last)

    def test_simple_replies(self):
        self.assertEqual(self.json_lines('resume'), [{'phase': 'resuming'}])
        for args in (('release',), ('reload',)):
            self.assertEqual(self.json_lines(*args), [{}])
        self.assertEqual(self.json_lines('hold', 'x'), [{'untilUSec': None, 'stored': True}])
        self.assertEqual(self.json_lines('hold', '--for=2h', 'x'), [{'untilUSec': 1764561200000000, 'stored': True}])

    def test_json_formats(self):
        short = self.ok('--json', 'resume').stdout
        self.assertEqual(short, '{"phase":"resuming"}\n')
        self.assertEqual(self.ok('--json=short', 'resume').stdout, short)
        self.assertEqual(self.ok('--json=pretty', 'resume').stdout, '{\n  "phase": "resuming"\n}\n')
        self.assertEqual(self.ok('--json=off', 'resume').stdout, 'Phase: resuming\n')
        # the last one given counts
        self.assertEqual(self.ok('--json=pretty', '--json=off', 'resume').stdout, 'Phase: resuming\n')
        pretty = self.ok('--json=pretty', 'status', code=STATUS_CODE).stdout
        self.assertGreater(pretty.count('\n'), 20)
        self.assertEqual(json.loads(pretty), json.loads(self.ok('--json', 'status', code=STATUS_CODE).stdout))

    def test_monitor(self):
        p = subprocess.Popen([CTL, '--json', '--socket=' + self.server.socket, 'monitor'], env=clean_env(),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        events = [json.loads(p.stdout.readline())['event'] for _ in range(3)]
        p.send_signal(signal.SIGTERM)
        p.communicate(timeout=10)
        self.assertEqual(p.returncode, 0)
        self.assertEqual([e['type'] for e in events], ['phase', 'domain', 'cpus'])
        self.assertEqual([e['sequence'] for e in events], [4, 5, 6])
        self.assertEqual(events[1]['domain']['state'], 'stop_pending')      # as sent: the enum

    def test_hook_json(self):
        reply = self.json_lines('hook', 'pre', 'suspend')[0]
        self.assertEqual(reply['phase'], 'ready')
