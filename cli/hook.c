/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* tdsleepctl hook pre|post OPERATION: what the systemd-sleep hook runs.
 *
 * systemd-sleep runs its hooks with a 90 s limit and ignores their exit status, so this
 * must be quick to give up, never hang, quiet on success (the journal shows stderr), and
 * never fail open: without an answer from tdsleepd it falls back (hook-fallback.c). */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "client.h"
#include "hook-fallback.h"
#include "json-util.h"
#include "output.h"
#include "tdsleepctl.h"
#include "varlink.h"

/* The reply timeout bounds each wait, but not a connect() stuck on a full listen
 * backlog: the call runs in a child that is given up on after this long. */
#define HOOK_DEADLINE_SEC (HOOK_TIMEOUT_SEC + 2)
/* The child's exit status for "no answer from tdsleepd": the parent falls back. */
#define HOOK_UNREACHED 100

static uint64_t hook_timeout(void) {
        uint64_t t = verb_timeout(HOOK_TIMEOUT_SEC * USEC_PER_SEC);

        return t < HOOK_TIMEOUT_SEC * USEC_PER_SEC ? t : HOOK_TIMEOUT_SEC * USEC_PER_SEC;
}

/* Prepare(operation, step) without more: the hook has no one to show progress to.
 * Returns the exit status. */
static int hook_call(const char *operation, const char *step) {
        _cleanup_(json_object_putp) json_object *params = json_object_new_object(), *reply = NULL;
        int64_t failed;
        int r;

        if (!params || json_object_object_add(params, "operation", json_object_new_string(operation)) < 0 ||
            json_object_object_add(params, "step", json_object_new_string(step)) < 0)
                return cli_error(CTL_EXIT_FAILED, "Out of memory.");
        r = client_call(arg_socket, hook_timeout(), IFACE ".Prepare", params, &reply);
        if (IN_SET(r, -EHOSTDOWN, -EPROTO))     /* not there, no answer, or hung up */
                return HOOK_UNREACHED;
        if (r < 0)
                return r == -EACCES ? CTL_EXIT_DENIED : CTL_EXIT_FAILED;
        if (arg_json)
                output_json(reply);
        failed = json_get_int(reply, "failed", 0);
        if (failed > 0)
                return cli_error(CTL_EXIT_FAILED, "%" PRIi64 " TD%s could not be made safe for %s.", failed,
                                 failed == 1 ? "" : "s", step);
        return CTL_EXIT_DONE;
}

/* The child's exit status, or -ETIMEDOUT (then it is killed) after HOOK_DEADLINE_SEC. */
static int wait_child(pid_t pid) {
        int fd = (int) syscall(SYS_pidfd_open, pid, 0), status = 0;
        struct pollfd p = { .fd = fd, .events = POLLIN };
        bool done = fd >= 0 && poll(&p, 1, HOOK_DEADLINE_SEC * 1000) > 0;

        if (!done)
                (void) kill(pid, SIGKILL);
        safe_close(fd);
        if (waitpid(pid, &status, 0) < 0 || !done)
                return -ETIMEDOUT;
        return WIFEXITED(status) ? WEXITSTATUS(status) : HOOK_UNREACHED;
}

static int hook_pre(const char *operation) {
        const char *step = getenv("SYSTEMD_SLEEP_ACTION");
        pid_t pid;
        int r;

        /* Older systemd sets no SYSTEMD_SLEEP_ACTION: then the step is the operation. */
        if (isempty(step))
                step = operation;
        fflush(NULL);
        pid = fork();
        if (pid == 0) {
                r = hook_call(operation, step);
                fflush(NULL);
                _exit(r);
        }
        r = pid < 0 ? HOOK_UNREACHED : wait_child(pid);
        /* systemd-sleep goes on whatever we return: when tdsleepd cannot say the host is
         * safe, do what keeps TDs safe ourselves. */
        if (r == HOOK_UNREACHED || r == -ETIMEDOUT)
                return hook_fallback(step);
        return r;
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
