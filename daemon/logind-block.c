/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The sleep block lock: taken with a why, and replaced when the why changes (the old lock
 * covers us until the new one is granted). */

#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "logind-internal.h"

bool logind_block_pending(const Logind *l) {
        return l->block_call != NULL;
}

const char *logind_block_why(const Logind *l) {
        return l->block_fd >= 0 ? l->block_why : NULL;
}

static int on_block_reply(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
        Logind *l = userdata;
        int fd = -1, r;

        l->block_call = sd_bus_slot_unref(l->block_call);
        r = logind_read_inhibit_fd(reply, &fd);
        if (r < 0) {
                log_error_errno(r, "Failed to take the sleep block lock: %s", STRERROR(r));
                l->block_call_why = mfree(l->block_call_why);
                if (l->cb->on_block_result)
                        l->cb->on_block_result(l->userdata, r);
                return 0;
        }
        /* Swap: the old lock covers us until the new one exists. */
        safe_close(l->block_fd);
        l->block_fd = fd;
        free(l->block_why);
        l->block_why = TAKE_PTR(l->block_call_why);
        log_info("Holding a sleep block lock: %s", l->block_why);
        l->cb->on_locks(l->userdata);
        if (l->cb->on_block_result)
                l->cb->on_block_result(l->userdata, 0);
        return 0;
}

int logind_set_block(Logind *l, const char *why) {
        int r;

        l->block_call = sd_bus_slot_unref(l->block_call);
        l->block_call_why = mfree(l->block_call_why);
        if (!why) {
                if (l->block_fd >= 0)
                        log_info("Released the sleep block lock");
                l->block_fd = safe_close(l->block_fd);
                l->block_why = mfree(l->block_why);
                return 0;
        }
        if (l->block_fd >= 0 && l->block_why && streq(l->block_why, why))
                return 0;
        if (!l->present)
                return 0;       /* taken when logind appears */
        l->block_call_why = strdup(why);
        if (!l->block_call_why)
                return -ENOMEM;
        r = logind_call_inhibit(l, why, "block", on_block_reply, &l->block_call);
        if (r < 0)
                return log_error_errno(r, "Failed to ask logind for a sleep block lock: %s", STRERROR(r));
        return 0;
}
