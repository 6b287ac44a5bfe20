/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* What the command line set, the exit statuses, and the verbs. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "build-config.h"

/* Documented in --help and tdsleepctl(1); scripts and the sleep hook rely on them. */
typedef enum CtlExit {
        CTL_EXIT_DONE        = 0,
        CTL_EXIT_FAILED      = 1,
        CTL_EXIT_USAGE       = 2,
        CTL_EXIT_UNREACHABLE = 3,
        CTL_EXIT_DENIED      = 4,
        /* status only: the host is not safe or not healthy. When several apply, the
         * lowest code wins: what endangers TDs at the next sleep comes first. */
        CTL_EXIT_LIBVIRT_DISCONNECTED = 5,
        CTL_EXIT_RECORD_DEGRADED      = 6,
        CTL_EXIT_LAST_CYCLE_FAILED    = 7,
        CTL_EXIT_CANNOT_CREATE_TDS    = 8,
} CtlExit;

/* The sleep hook runs under systemd-sleep's 90 s limit: stay well below it (meson.build
 * sets it, and tdsleepd's stop budget counts on the same number). */
#define HOOK_TIMEOUT_SEC TDSLEEP_HOOK_TIMEOUT_SEC

/* --json=off|short|pretty; a plain --json is short (one object per line). */
typedef enum JsonFormat {
        JSON_OFF,
        JSON_SHORT,
        JSON_PRETTY,
} JsonFormat;

/* Options that only some verbs take; the verb table (verbs.c) says which. */
typedef enum VerbOption {
        VERB_OPTION_STEP    = 1 << 0,
        VERB_OPTION_TIMEOUT = 1 << 1,
        VERB_OPTION_FOR     = 1 << 2,
        VERB_OPTION_LINES     = 1 << 3,         /* history -n */
        VERB_OPTION_SINCE     = 1 << 4,
        VERB_OPTION_DIRECTORY = 1 << 5,
        VERB_OPTION_FILE      = 1 << 6,
} VerbOption;

extern const char *arg_socket;
extern JsonFormat arg_json;
extern bool arg_no_pager;
extern bool arg_legend;
extern bool arg_quiet;
extern unsigned arg_verb_options;     /* the VerbOptions given */
extern const char *arg_step;          /* prepare --step */
extern double arg_drain_timeout;      /* drain --timeout */
extern uint64_t arg_hold_usec;        /* hold --for */
extern uint64_t arg_timeout_usec;     /* $TDSLEEP_TIMEOUT, 0: not set */
extern size_t arg_lines;              /* history -n, 0: all */
extern uint64_t arg_since_usec;       /* history --since, 0: not given */
extern const char *arg_journal_directory;     /* history --directory, NULL: the system's */
extern char **arg_journal_files;      /* history --file (NULL-terminated), NULL: none */

/* Run the verb named by argv[0] (argc counts it; none: status); returns a CtlExit or a
 * negative code from client.h. Usage errors are reported here and return -EINVAL. */
int verb_dispatch(int argc, char *argv[]);
/* The reply timeout: $TDSLEEP_TIMEOUT when set, else def (VARLINK_TIMEOUT_INFINITY ok). */
uint64_t verb_timeout(uint64_t def);

int verb_status(int argc, char *argv[]);
int verb_list(int argc, char *argv[]);
int verb_plan(int argc, char *argv[]);
int verb_metrics(int argc, char *argv[]);
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
int verb_history(int argc, char *argv[]);
