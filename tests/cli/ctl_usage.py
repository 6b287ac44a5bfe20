# SPDX-License-Identifier: LGPL-2.1-or-later
"""tdsleepctl usage, help and shell completion."""
import json
import os
import re
import shutil
import subprocess
import tempfile

from ctl_harness import CtlTestCase, clean_env, STATUS_CODE, shlex_quote


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
