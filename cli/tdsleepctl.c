/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* tdsleepctl: the operator's and the sleep hook's client of tdsleepd's control socket. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "build-config.h"
#include "history.h"
#include "output.h"
#include "table.h"
#include "tdsleepctl.h"
#include "time-util.h"

/* What tdsleepd accepts for Hold's forUSec: up to 366 days. */
#define HOLD_FOR_MAX_USEC ((uint64_t) 366 * 86400 * USEC_PER_SEC)

enum {
        ARG_VERSION = 0x100,
        ARG_JSON,
        ARG_NO_PAGER,
        ARG_NO_LEGEND,
        ARG_SOCKET,
        ARG_STEP,
        ARG_TIMEOUT,
        ARG_FOR,
        ARG_SINCE,
        ARG_FILE,
};

const char *arg_socket = TDSLEEP_SOCKET_PATH;
JsonFormat arg_json = JSON_OFF;
bool arg_no_pager = false;
bool arg_legend = true;
bool arg_quiet = false;
unsigned arg_verb_options = 0;
const char *arg_step = NULL;
double arg_drain_timeout = -1;
uint64_t arg_hold_usec = 0;
uint64_t arg_timeout_usec = 0;
size_t arg_lines = 0;
uint64_t arg_since_usec = 0;
const char *arg_journal_directory = NULL;
char **arg_journal_files = NULL;
static size_t n_journal_files = 0;

static void help(void) {
        printf("tdsleepctl [OPTIONS...] [VERB] [ARGS...]\n\n"
               "See and steer tdsleepd, which keeps TDX trust domains safe across host sleep.\n\n"
               "Verbs:\n"
               "  status                  Phase, locks, hold, libvirt, logind, the cycle's TDs, CPU\n"
               "                          packages (the default verb); exits 5-8 when not healthy\n"
               "  list                    Domains and how tdsleepd classifies them\n"
               "  plan OPERATION          What tdsleepd would do for OPERATION now (no changes)\n"
               "  metrics                 Counters and gauges in the Prometheus text format\n"
               "  prepare OPERATION       Prepare for a sleep step, showing progress\n"
               "  resume                  The sleep is over: start again what was stopped\n"
               "  drain                   Stop every TD now, for maintenance\n"
               "  restore                 Start again what drain stopped\n"
               "  hold REASON             Block sleep on the operator's behalf until release\n"
               "  release                 Drop the hold\n"
               "  monitor                 Print events as they happen, until interrupted\n"
               "  reload                  Re-read the configuration\n"
               "  log-level [LEVEL]       Show or set tdsleepd's log level (emerg..debug, 0..7)\n"
               "  hook pre|post OPERATION What the systemd-sleep hook runs\n"
               "  history                 Past cycles, from the journal\n\n"
               "OPERATION: suspend, hibernate, hybrid-sleep, suspend-then-hibernate (plan: also drain).\n\n"
               "Options:\n"
               "  -h --help               Show this help\n"
               "     --version            Show the version\n"
               "     --json[=FORMAT]      Print replies as JSON: short (one object per line, the\n"
               "                          default), pretty, or off\n"
               "     --no-pager           Do not pipe status, list and plan into a pager\n"
               "     --no-legend          Do not print table headers\n"
               "  -q --quiet              Print nothing on standard output (status: only the code)\n"
               "     --socket=PATH        Control socket (default: $TDSLEEP_SOCKET, else %s)\n"
               "     --step=STEP          prepare: the exact step (default: OPERATION)\n"
               "     --timeout=SEC        drain: seconds each TD gets to shut down\n"
               "     --for=DURATION       hold: release by itself after DURATION (90s, 5min, 2h, 1d)\n"
               "  -n --lines=N            history: the N most recent cycles\n"
               "     --since=TIME         history: cycles with entries since TIME\n"
               "  -D --directory=DIR      history: read the journal in DIR\n"
               "     --file=PATH          history: read this journal file (repeatable)\n\n"
               "Exit status: 0 done, 1 failed, 2 usage, 3 tdsleepd unreachable, 4 permission denied;\n"
               "status: 5 libvirt disconnected, 6 record degraded, 7 last cycle failed, 8 TDs cannot\n"
               "be created (the lowest applies).\n"
               "See tdsleepctl(1).\n", TDSLEEP_SOCKET_PATH);
}

/* Positive, finite seconds from text; -EINVAL otherwise. */
static int parse_seconds(const char *s, double *ret) {
        char *end = NULL;
        double d;

        errno = 0;
        d = strtod(s, &end);
        if (errno != 0 || end == s || *end != '\0' || !isfinite(d) || d <= 0 || d > 1e9)
                return -EINVAL;
        *ret = d;
        return 0;
}

static int parse_env(void) {
        const char *s = getenv("TDSLEEP_SOCKET"), *t = getenv("TDSLEEP_TIMEOUT");
        double d;

        if (!isempty(s))
                arg_socket = s;
        if (isempty(t))
                return 0;
        if (parse_seconds(t, &d) < 0)
                return cli_error(-EINVAL, "TDSLEEP_TIMEOUT='%s' is not a positive number of seconds.", t);
        arg_timeout_usec = (uint64_t) (d * (double) USEC_PER_SEC);
        return 0;
}

static int parse_json(const char *s) {
        if (!s || streq(s, "short"))
                arg_json = JSON_SHORT;
        else if (streq(s, "pretty"))
                arg_json = JSON_PRETTY;
        else if (streq(s, "off"))
                arg_json = JSON_OFF;
        else
                return cli_error(-EINVAL, "--json='%s': expected short, pretty or off.", s);
        return 0;
}

/* hold --for: a systemd time span, more than nothing and at most a year (tdsleepd's limit). */
static int parse_hold_duration(const char *s) {
        uint64_t usec;

        if (parse_time_span(s, &usec) < 0 || usec == 0 || usec > HOLD_FOR_MAX_USEC)
                return cli_error(-EINVAL, "--for='%s' is not a duration from 1us to 366d, such as 90s, 5min, 2h or "
                                 "1d.", s);
        arg_hold_usec = usec;
        return 0;
}

static int add_journal_file(const char *path) {
        char **files = realloc(arg_journal_files, (n_journal_files + 2) * sizeof(char *));

        if (!files)
                return cli_error(-ENOMEM, "Out of memory.");
        arg_journal_files = files;
        files[n_journal_files++] = (char *) path;
        files[n_journal_files] = NULL;
        return 0;
}

/* history's -n, --since, --directory and --file. */
static int parse_history_option(int c, const char *value) {
        unsigned long long n;
        char *end = NULL;

        switch (c) {
        case 'n':
                arg_verb_options |= VERB_OPTION_LINES;
                errno = 0;
                n = strtoull(value, &end, 10);
                if (errno != 0 || end == value || *end != '\0' || value[0] == '-' || n == 0 || n > SIZE_MAX)
                        return cli_error(-EINVAL, "-n '%s' is not a positive number of cycles.", value);
                arg_lines = (size_t) n;
                return 0;
        case ARG_SINCE:
                arg_verb_options |= VERB_OPTION_SINCE;
                if (history_parse_time(value, now_realtime_usec(), &arg_since_usec) < 0 || arg_since_usec == 0)
                        return cli_error(-EINVAL, "--since '%s' is not a time: use YYYY-MM-DD [HH:MM[:SS]], "
                                         "today, yesterday, -2h (s, min, h, d, w) or @SECONDS.", value);
                return 0;
        case 'D':
                arg_verb_options |= VERB_OPTION_DIRECTORY;
                if (isempty(value) || arg_journal_files)
                        return cli_error(-EINVAL, "--directory needs a directory, and goes without --file.");
                arg_journal_directory = value;
                return 0;
        default:
                arg_verb_options |= VERB_OPTION_FILE;
                if (isempty(value) || arg_journal_directory)
                        return cli_error(-EINVAL, "--file needs a path, and goes without --directory.");
                return add_journal_file(value);
        }
}

static int parse_option(int c, const char *arg, const char *word) {
        switch (c) {
        case ARG_JSON:
                return parse_json(arg);
        case ARG_NO_PAGER:
                arg_no_pager = true;
                return 0;
        case ARG_NO_LEGEND:
                arg_legend = false;
                return 0;
        case 'q':
                arg_quiet = true;
                return 0;
        case ARG_SOCKET:
                if (isempty(arg))
                        return cli_error(-EINVAL, "--socket needs a path.");
                arg_socket = arg;
                return 0;
        case ARG_STEP:
                if (isempty(arg))
                        return cli_error(-EINVAL, "--step needs a step.");
                arg_step = arg;
                arg_verb_options |= VERB_OPTION_STEP;
                return 0;
        case ARG_TIMEOUT:
                if (parse_seconds(arg, &arg_drain_timeout) < 0)
                        return cli_error(-EINVAL, "--timeout='%s' is not a positive number of seconds.", arg);
                arg_verb_options |= VERB_OPTION_TIMEOUT;
                return 0;
        case ARG_FOR:
                arg_verb_options |= VERB_OPTION_FOR;
                return parse_hold_duration(arg);
        case 'n':
        case ARG_SINCE:
        case 'D':
        case ARG_FILE:
                return parse_history_option(c, arg);
        case '?':
                return cli_error(-EINVAL, "Unknown option or missing argument: %s. See tdsleepctl --help.", word);
        default:
                abort();
        }
}

/* Returns 1 to go on, 0 to exit successfully (--help, --version), -EINVAL on bad usage. */
static int parse_argv(int argc, char *argv[]) {
        static const struct option options[] = {
                { "help",      no_argument,       NULL, 'h'           },
                { "version",   no_argument,       NULL, ARG_VERSION   },
                { "json",      optional_argument, NULL, ARG_JSON      },
                { "no-pager",  no_argument,       NULL, ARG_NO_PAGER  },
                { "no-legend", no_argument,       NULL, ARG_NO_LEGEND },
                { "quiet",     no_argument,       NULL, 'q'           },
                { "socket",    required_argument, NULL, ARG_SOCKET    },
                { "step",      required_argument, NULL, ARG_STEP      },
                { "timeout",   required_argument, NULL, ARG_TIMEOUT   },
                { "for",       required_argument, NULL, ARG_FOR       },
                { "lines",     required_argument, NULL, 'n'           },
                { "since",     required_argument, NULL, ARG_SINCE     },
                { "directory", required_argument, NULL, 'D'           },
                { "file",      required_argument, NULL, ARG_FILE      },
                { NULL,        0,                 NULL, 0             },
        };
        int c, r;

        opterr = 0;     /* our own messages, with our prefix */
        while ((c = getopt_long(argc, argv, "hqn:D:", options, NULL)) >= 0) {
                if (c == 'h') {
                        help();
                        return 0;
                }
                if (c == ARG_VERSION) {
                        printf("tdsleepctl %s\n", PACKAGE_VERSION);
                        return 0;
                }
                r = parse_option(c, optarg, argv[optind - 1]);
                if (r < 0)
                        return r;
        }
        table_set_legend(arg_legend);
        output_set_json_pretty(arg_json == JSON_PRETTY);
        return 1;
}

/* client.h's codes and verb_dispatch()'s -EINVAL to the documented exit status. */
static int exit_status(int r) {
        if (r >= 0)
                return r;
        switch (r) {
        case -EINVAL:
                return CTL_EXIT_USAGE;
        case -EHOSTDOWN:
                return CTL_EXIT_UNREACHABLE;
        case -EACCES:
                return CTL_EXIT_DENIED;
        default:
                return CTL_EXIT_FAILED;
        }
}

int main(int argc, char *argv[]) {
        int r;

        output_init();
        r = parse_env();
        if (r >= 0)
                r = parse_argv(argc, argv);
        if (r <= 0)
                return exit_status(r);
        /* -q: the exit status says it all; errors still go to standard error. */
        if (arg_quiet && !freopen("/dev/null", "w", stdout))
                return exit_status(cli_error(-EPROTO, "Failed to silence standard output: %s", STRERROR(errno)));
        return exit_status(verb_dispatch(argc - optind, argv + optind));
}
