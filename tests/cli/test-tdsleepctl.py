#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""tdsleepctl against fake-tdsleepd: every verb, human and --json, exit codes, the
sleep hook's Prepare, colour rules.

Run by meson with TDSLEEPCTL and FAKE_TDSLEEPD set; one meson test per class:
    test-tdsleepctl.py -v TestHook
"""
import json
import os
import pty
import re
import shutil
import signal
import socket
import subprocess
import sys
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


class TestUsage(CtlTestCase):
    def usage(self, *args, env=None, message=None):
        before = len(self.server.calls())
        p = self.ctl(*args, env=env)
        self.assertEqual(p.returncode, 2, f'{args}: {p.stdout} {p.stderr}')
        self.assertTrue(p.stderr.startswith('tdsleepctl: '), p.stderr)
        if message:
            self.assertIn(message, p.stderr)
        self.assertEqual(len(self.server.calls()), before, 'a usage error reached the server')

    def test_no_verb_is_status(self):
        p = self.ok(code=STATUS_CODE)
        self.assertEqual(self.last_call()['method'], 'io.tdsleep.Manager.GetStatus')
        self.assertEqual(p.stdout, self.ok('status', code=STATUS_CODE).stdout)
        self.assertEqual(self.ok('--no-pager', '--json', code=STATUS_CODE).stdout.count('\n'), 1)

    def test_unknown_operation_is_checked_here(self):
        for args in (('plan', 'nap'), ('prepare', 'drain'), ('prepare', 'Suspend'), ('plan', '')):
            self.usage(*args, message='Valid operations: suspend, hibernate, hybrid-sleep, suspend-then-hibernate')
        p = self.ctl('plan', 'nap')
        self.assertIn(', drain.', p.stderr, 'plan also takes drain, and says so')
        p = self.ctl('prepare', 'nap')
        self.assertNotIn('drain', p.stderr)

    def test_unknown_verb(self):
        self.usage('nap', message="'nap'")

    def test_argument_counts(self):
        self.usage('plan')
        self.usage('prepare')
        self.usage('status', 'extra')
        self.usage('hold')
        self.usage('hold', 'a', 'b')
        self.usage('hook', 'pre')
        self.usage('hook', 'pre', 'suspend', 'more')

    def test_bad_log_levels(self):
        for bad in ('8', 'verbose', '', '7x', '1.5'):
            self.usage('log-level', bad, message='log level')
        self.usage('log-level', '-1')      # an option, as for systemd-analyze
        self.usage('log-level', 'debug', 'extra')

    def test_options_of_other_verbs(self):
        self.usage('status', '--step=suspend', message="--step is only for 'prepare', not for 'status'")
        self.usage('list', '--timeout=5', message="--timeout is only for 'drain'")
        self.usage('release', '--for=1h', message="--for is only for 'hold'")
        self.usage('--for=1h', message="not for 'status'")
        self.usage('status', '-n', '3', message='only for \'history\'')
        self.usage('drain', '--since=today', message='only for \'history\'')
        self.usage('list', '--directory=/tmp', message='only for \'history\'')

    def test_bad_json_and_durations(self):
        for bad in ('yes', 'PRETTY', '', 'sse'):
            self.usage('--json=' + bad, 'status', message='short, pretty or off')
        for bad in ('0', '0s', 'soon', '-1h', '367d', '2 fortnights', '1h 30', ''):
            self.usage('hold', '--for=' + bad, 'why', message='--for=')

    def test_history_bad_values(self):
        for bad in ('0', '-1', 'x', '3x', ''):
            self.usage('history', '-n', bad, message='-n')
        for bad in ('bogus', '', '-2', '2025-13-01', '@x', 'tomorrow'):
            self.usage('history', '--since=' + bad, message='--since')
        self.usage('history', '--directory=/tmp', '--file=/tmp/x.journal', message='--file')
        self.usage('history', '--file=/tmp/x.journal', '-D', '/tmp', message='--directory')
        self.usage('history', 'extra')

    def test_history_empty_journal(self):
        """A journal directory with no cycle: an empty list, exit 0; and a missing one: exit 1."""
        with tempfile.TemporaryDirectory() as d:
            p = self.ok('history', '--json', '--directory=' + d)
            self.assertEqual(json.loads(p.stdout), {'cycles': []})
            p = self.ctl('history', '-D', d, '-n', '5', '--since=-1d')
            self.assertEqual((p.returncode, p.stdout), (0, ''))
            self.assertIn('No cycles in the journal', p.stderr)
        p = self.ctl('history', '--directory=/nonexistent-tdsleep-test')
        self.assertEqual(p.returncode, 1)
        self.assertIn('/nonexistent-tdsleep-test', p.stderr)

    def test_bad_values(self):
        for bad in ('abc', '0', '-1', '5s', 'inf', 'nan', ''):
            self.usage('drain', '--timeout=' + bad)
        self.usage('hold', '')
        self.usage('hook', 'during', 'suspend', message='during')
        self.usage('hook', 'pre', '')
        self.usage('--bogus', 'status')
        self.usage('status', env=clean_env(TDSLEEP_TIMEOUT='soon'), message='TDSLEEP_TIMEOUT')

    def test_help(self):
        p = self.ok('--help')
        for verb in ('status', 'list', 'plan', 'metrics', 'prepare', 'resume', 'drain', 'restore', 'hold',
                     'release', 'monitor', 'reload', 'log-level [LEVEL]', 'hook pre|post'):
            self.assertIn(verb, p.stdout)
        self.assertIn('0 done, 1 failed, 2 usage, 3 tdsleepd unreachable, 4 permission denied', p.stdout)
        self.assertIn('status: 5 libvirt disconnected, 6 record degraded, 7 last cycle failed, 8 TDs cannot\nbe '
                      'created (the lowest applies)', p.stdout)
        self.assertEqual(self.ok('-h').stdout, p.stdout)

    def test_version(self):
        self.assertRegex(self.ok('--version').stdout, r'^tdsleepctl \d+\.\d+\.\d+\n$')


    def test_docs_agree(self):
        """Every verb and option of --help is in tdsleepctl(1), with every exit code and variable."""
        source = os.environ.get('TDSLEEP_SOURCE_ROOT')
        if not source:
            self.skipTest('TDSLEEP_SOURCE_ROOT not set')
        with open(os.path.join(source, 'man', 'tdsleepctl.1.scd')) as f:
            man = f.read()
        verbs, options = help_verbs_and_options(self.ok('--help').stdout)
        self.assertGreaterEqual(len(verbs), 13)
        for verb in verbs:
            self.assertRegex(man, rf'(?m)^\*{verb}\*', verb)
        for option in options:
            self.assertIn(f'*{option}', man)
        for code in range(9):
            self.assertRegex(man, rf'(?m)^\*{code}\*$')
        for var in ('TDSLEEP_SOCKET', 'TDSLEEP_TIMEOUT', 'SYSTEMD_SLEEP_ACTION', 'NO_COLOR', 'TDSLEEP_PAGER',
                    'SYSTEMD_PAGER', 'PAGER', 'SYSTEMD_LESS', 'SYSTEMD_PAGERSECURE'):
            self.assertRegex(man, rf'(?m)^\*{var}\*$')


def help_verbs_and_options(text):
    """The verbs (first word of each line under "Verbs:") and long options of --help."""
    verbs = re.findall(r'(?m)^  ([a-z][a-z-]*)\b', text.split('Verbs:')[1].split('Options:')[0])
    options = re.findall(r'(?m)^  (?:-\w )?\s*(--[a-z-]+)', text.split('Options:')[1])
    return verbs, options


class TestCompletion(CtlTestCase):
    """The bash, zsh and fish completions are generated from one list (cli/completion/
    tdsleepctl.json) and know every verb and option of --help."""

    def setUp(self):
        self.dir = os.environ.get('TDSLEEP_COMPLETIONS')
        if not self.dir:
            self.skipTest('TDSLEEP_COMPLETIONS not set (run through meson)')
        self.files = {'bash': 'tdsleepctl', 'zsh': '_tdsleepctl', 'fish': 'tdsleepctl.fish'}
        self.text = {}
        for shell, name in self.files.items():
            with open(os.path.join(self.dir, name)) as f:
                self.text[shell] = f.read()
        self.verbs, self.options = help_verbs_and_options(self.ok('--help').stdout)

    def test_the_list_is_the_help(self):
        with open(os.path.join(os.environ['TDSLEEP_SOURCE_ROOT'], 'cli', 'completion', 'tdsleepctl.json')) as f:
            spec = json.load(f)
        self.assertEqual([v['name'] for v in spec['verbs']], self.verbs)
        self.assertEqual(sorted('--' + o['long'] for o in spec['options']), sorted(self.options))

    def test_every_verb_and_option_in_every_shell(self):
        for shell, text in self.text.items():
            for verb in self.verbs:
                self.assertRegex(text, rf'\b{verb}\b', f'{shell}: {verb}')
            for option in self.options:
                self.assertIn(option if shell != 'fish' else '-l ' + option[2:], text, f'{shell}: {option}')
            self.assertIn('Generated by cli/completion/generate.py', text)

    def test_syntax(self):
        checks = {'bash': ['bash', '-n'], 'zsh': ['zsh', '-n'], 'fish': ['fish', '--no-execute']}
        ran = 0
        for shell, argv in checks.items():
            if not shutil.which(argv[0]):
                continue
            p = subprocess.run(argv + [os.path.join(self.dir, self.files[shell])], capture_output=True, text=True)
            self.assertEqual(p.returncode, 0, f'{shell}: {p.stderr}')
            ran += 1
        if ran == 0:
            self.skipTest('no shell to check with')

    def bash_complete(self, line):
        lib = '/usr/share/bash-completion/bash_completion'
        if not os.path.exists(lib):
            self.skipTest('bash-completion is not installed')
        script = ('source %s; source %s; COMP_LINE=%s; COMP_POINT=${#COMP_LINE}; '
                  'read -ra COMP_WORDS <<< "$COMP_LINE"; [[ $COMP_LINE == *" " ]] && COMP_WORDS+=(""); '
                  'COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); _tdsleepctl; printf "%%s\\n" "${COMPREPLY[@]}"'
                  % (lib, os.path.join(self.dir, 'tdsleepctl'), shlex_quote(line)))
        p = subprocess.run(['bash', '-c', script], capture_output=True, text=True)
        self.assertEqual(p.returncode, 0, p.stderr)
        return sorted(w for w in p.stdout.splitlines() if w)

    def test_bash_completes(self):
        self.assertEqual(self.bash_complete('tdsleepctl '), sorted(self.verbs))
        self.assertEqual(self.bash_complete('tdsleepctl pl'), ['plan'])
        self.assertEqual(self.bash_complete('tdsleepctl plan '),
                         sorted(['suspend', 'hibernate', 'hybrid-sleep', 'suspend-then-hibernate', 'drain']))
        self.assertEqual(self.bash_complete('tdsleepctl --json st'), ['status'], '--json takes no next word')
        self.assertEqual(self.bash_complete('tdsleepctl --socket /x --no-pager hook pre hy'), ['hybrid-sleep'])
        self.assertEqual(self.bash_complete('tdsleepctl --no-l'), ['--no-legend'])
        self.assertEqual(self.bash_complete('tdsleepctl hold --for '), ['1d', '2h', '5min', '90s'])

    def test_fish_completes(self):
        if not shutil.which('fish'):
            self.skipTest('fish is not installed')

        def complete(line):
            p = subprocess.run(['fish', '--no-config', '-c', 'source %s; complete -C %s' % (
                shlex_quote(os.path.join(self.dir, 'tdsleepctl.fish')), shlex_quote(line))],
                capture_output=True, text=True)
            self.assertEqual(p.returncode, 0, p.stderr)
            return sorted(line.split('\t')[0] for line in p.stdout.splitlines())
        self.assertEqual(complete('tdsleepctl '), sorted(self.verbs))
        self.assertIn('suspend-then-hibernate', complete('tdsleepctl plan '))
        self.assertEqual(complete('tdsleepctl --no-'), ['--no-legend', '--no-pager'])


def shlex_quote(s):
    import shlex
    return shlex.quote(s)


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


if __name__ == '__main__':
    unittest.main()
