/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* tdsleepctl: the operator's and the sleep hook's client of tdsleepd's control socket. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "build-config.h"
#include "output.h"
#include "tdsleepctl.h"

const char *arg_socket = TDSLEEP_SOCKET_PATH;
bool arg_json = false;
const char *arg_step = NULL;
double arg_drain_timeout = -1;
uint64_t arg_timeout_usec = 0;

static void help(void) {
        printf("tdsleepctl [OPTIONS...] VERB [ARGS...]\n\n"
               "See and steer tdsleepd, which keeps TDX trust domains safe across host sleep.\n\n"
               "Verbs:\n"
               "  status                  Phase, locks, libvirt, logind, the cycle's TDs, CPU packages\n"
               "  list                    Domains and how tdsleepd classifies them\n"
               "  plan OPERATION          What tdsleepd would do for OPERATION now (no changes)\n"
               "  prepare OPERATION       Prepare for a sleep step, showing progress\n"
               "  resume                  The sleep is over: start again what was stopped\n"
               "  drain                   Stop every TD now, for maintenance\n"
               "  restore                 Start again what drain stopped\n"
               "  hold REASON             Block sleep on the operator's behalf until release\n"
               "  release                 Drop the hold\n"
               "  monitor                 Print events as they happen, until interrupted\n"
               "  reload                  Re-read the configuration\n"
               "  log-level [LEVEL]       Show or set tdsleepd's log level (emerg..debug, 0..7)\n"
               "  hook pre|post OPERATION What the systemd-sleep hook runs\n\n"
               "OPERATION: suspend, hibernate, hybrid-sleep, suspend-then-hibernate (plan: also drain).\n\n"
               "Options:\n"
               "  -h --help               Show this help\n"
               "     --version            Show the version\n"
               "     --json               Print replies as JSON, one object per line\n"
               "     --socket=PATH        Control socket (default: $TDSLEEP_SOCKET, else %s)\n"
               "     --step=STEP          prepare: the exact step (default: OPERATION)\n"
               "     --timeout=SEC        drain: seconds each TD gets to shut down\n\n"
               "Exit status: 0 done, 1 failed, 2 usage, 3 tdsleepd unreachable, 4 permission denied.\n"
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

/* Returns 1 to go on, 0 to exit successfully (--help, --version), -EINVAL on bad usage. */
static int parse_argv(int argc, char *argv[]) {
        enum { ARG_VERSION = 0x100, ARG_JSON, ARG_SOCKET, ARG_STEP, ARG_TIMEOUT };
        static const struct option options[] = {
                { "help",    no_argument,       NULL, 'h'         },
                { "version", no_argument,       NULL, ARG_VERSION },
                { "json",    no_argument,       NULL, ARG_JSON    },
                { "socket",  required_argument, NULL, ARG_SOCKET  },
                { "step",    required_argument, NULL, ARG_STEP    },
                { "timeout", required_argument, NULL, ARG_TIMEOUT },
                { NULL,      0,                 NULL, 0           },
        };
        int c;

        opterr = 0;     /* our own messages, with our prefix */
        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0)
                switch (c) {
                case 'h':
                        help();
                        return 0;
                case ARG_VERSION:
                        printf("tdsleepctl %s\n", PACKAGE_VERSION);
                        return 0;
                case ARG_JSON:
                        arg_json = true;
                        break;
                case ARG_SOCKET:
                        if (isempty(optarg))
                                return cli_error(-EINVAL, "--socket needs a path.");
                        arg_socket = optarg;
                        break;
                case ARG_STEP:
                        if (isempty(optarg))
                                return cli_error(-EINVAL, "--step needs a step.");
                        arg_step = optarg;
                        break;
                case ARG_TIMEOUT:
                        if (parse_seconds(optarg, &arg_drain_timeout) < 0)
                                return cli_error(-EINVAL, "--timeout='%s' is not a positive number of seconds.",
                                                 optarg);
                        break;
                case '?':
                        return cli_error(-EINVAL, "Unknown option or missing argument: %s",
                                         argv[optind - 1]);
                default:
                        abort();
                }
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
        return exit_status(verb_dispatch(argc - optind, argv + optind));
}
