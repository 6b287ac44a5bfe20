/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* What the command line set, the exit statuses, and the verbs. */

#include <stdbool.h>
#include <stdint.h>

#include "build-config.h"

/* Documented in --help and tdsleepctl(1); scripts and the sleep hook rely on them. */
typedef enum CtlExit {
        CTL_EXIT_DONE        = 0,
        CTL_EXIT_FAILED      = 1,
        CTL_EXIT_USAGE       = 2,
        CTL_EXIT_UNREACHABLE = 3,
        CTL_EXIT_DENIED      = 4,
} CtlExit;

/* The sleep hook runs under systemd-sleep's 90 s limit: stay well below it (meson.build
 * sets it, and tdsleepd's stop budget counts on the same number). */
#define HOOK_TIMEOUT_SEC TDSLEEP_HOOK_TIMEOUT_SEC

extern const char *arg_socket;
extern bool arg_json;
extern const char *arg_step;          /* prepare --step, NULL: not given */
extern double arg_drain_timeout;      /* drain --timeout, < 0: not given */
extern uint64_t arg_timeout_usec;     /* $TDSLEEP_TIMEOUT, 0: not set */

/* Run the verb named by argv[0] (argc counts it); returns a CtlExit or a negative
 * code from client.h. Usage errors are reported here and return -EINVAL. */
int verb_dispatch(int argc, char *argv[]);
/* The reply timeout: $TDSLEEP_TIMEOUT when set, else def (VARLINK_TIMEOUT_INFINITY ok). */
uint64_t verb_timeout(uint64_t def);

int verb_status(int argc, char *argv[]);
int verb_list(int argc, char *argv[]);
int verb_plan(int argc, char *argv[]);
int verb_monitor(int argc, char *argv[]);
int verb_prepare(int argc, char *argv[]);
int verb_resume(int argc, char *argv[]);
int verb_drain(int argc, char *argv[]);
int verb_restore(int argc, char *argv[]);
int verb_hold(int argc, char *argv[]);
int verb_release(int argc, char *argv[]);
int verb_reload(int argc, char *argv[]);
int verb_hook(int argc, char *argv[]);
int verb_log_level(int argc, char *argv[]);
