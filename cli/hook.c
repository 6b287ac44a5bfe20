/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* tdsleepctl hook pre|post OPERATION: what the systemd-sleep hook runs.
 *
 * systemd-sleep runs its hooks with a 90 s limit and ignores their exit status, so this
 * must be quick to give up, never hang, and quiet on success: the journal shows stderr. */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client.h"
#include "json-util.h"
#include "output.h"
#include "tdsleepctl.h"
#include "varlink.h"

/* The reply timeout bounds each wait, but not a connect() stuck on a full listen
 * backlog: the alarm is the backstop that keeps us under systemd-sleep's limit. */
#define HOOK_ALARM_SEC (HOOK_TIMEOUT_SEC + 2)

static void on_alarm(int sig) {
        static const char msg[] = "tdsleepctl: tdsleepd did not answer the sleep hook in time.\n";

        (void) !write(STDERR_FILENO, msg, sizeof msg - 1);
        _exit(CTL_EXIT_UNREACHABLE);
}

static uint64_t hook_timeout(void) {
        uint64_t t = verb_timeout(HOOK_TIMEOUT_SEC * USEC_PER_SEC);

        return t < HOOK_TIMEOUT_SEC * USEC_PER_SEC ? t : HOOK_TIMEOUT_SEC * USEC_PER_SEC;
}

/* Prepare(operation, step) without more: the hook has no one to show progress to. */
static int hook_pre(const char *operation) {
        _cleanup_(json_object_putp) json_object *params = json_object_new_object(), *reply = NULL;
        const char *step = getenv("SYSTEMD_SLEEP_ACTION");
        struct sigaction sa = { .sa_handler = on_alarm };
        int64_t failed;
        int r;

        /* Older systemd sets no SYSTEMD_SLEEP_ACTION: then the step is the operation. */
        if (isempty(step))
                step = operation;
        if (!params || json_object_object_add(params, "operation", json_object_new_string(operation)) < 0 ||
            json_object_object_add(params, "step", json_object_new_string(step)) < 0)
                return cli_error(-EPROTO, "Out of memory.");

        sigemptyset(&sa.sa_mask);
        (void) sigaction(SIGALRM, &sa, NULL);
        alarm(HOOK_ALARM_SEC);
        r = client_call(arg_socket, hook_timeout(), IFACE ".Prepare", params, &reply);
        alarm(0);
        if (r < 0)
                return r;
        if (arg_json)
                output_json(reply);
        failed = json_get_int(reply, "failed", 0);
        if (failed > 0)
                return cli_error(CTL_EXIT_FAILED, "%" PRIi64 " TD%s could not be made safe for %s.", failed,
                                 failed == 1 ? "" : "s", step);
        return CTL_EXIT_DONE;
}

int verb_hook(int argc, char *argv[]) {
        if (isempty(argv[2]))
                return cli_error(-EINVAL, "hook needs an OPERATION.");
        if (streq(argv[1], "pre"))
                return hook_pre(argv[2]);
        /* Resuming is driven by logind's PrepareForSleep(false), which also comes after a
         * failed sleep; post has nothing to add. */
        if (streq(argv[1], "post"))
                return CTL_EXIT_DONE;
        return cli_error(-EINVAL, "hook expects 'pre' or 'post', not '%s'.", argv[1]);
}
