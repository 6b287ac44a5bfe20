/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "hold.h"
#include "log.h"
#include "logind.h"

typedef struct HoldRequest {
        Varlink *link;          /* the caller to answer; NULL for a oneway call */
        char *previous;         /* the hold to go back to if logind refuses */
} HoldRequest;

static int reply_lock_refused(Varlink *link, int error) {
        _cleanup_(json_object_putp) json_object *params = json_object_new_object();

        json_object_object_add(params, "message", json_object_new_string(
                                       error == -ENOTCONN ? "logind is not running" : STRERROR(error)));
        return varlink_error(link, "io.tdsleep.Manager.LockRefused", params);
}

static void hold_finish(Manager *m, int error) {
        HoldRequest *h = TAKE_PTR(m->hold_request);
        _cleanup_(varlink_unrefp) Varlink *link = h->link;
        _cleanup_(freep) char *previous = h->previous;

        free(h);
        if (error >= 0) {
                (void) varlink_reply(link, NULL);
                return;
        }
        log_warning("logind refused the block lock of Hold(): %s; the hold is withdrawn", STRERROR(error));
        free(m->hold_reason);
        m->hold_reason = TAKE_PTR(previous);
        manager_refresh_block_lock(m);
        (void) reply_lock_refused(link, error);
}

void manager_on_block_lock(Manager *m, int error) {
        if (m->hold_request)
                hold_finish(m, error);
}

int hold_request_start(Manager *m, Varlink *link, char *reason) {
        const char *why;

        if (m->hold_request) {
                free(reason);
                return -EBUSY;
        }
        m->hold_request = calloc(1, sizeof(HoldRequest));
        if (!m->hold_request) {
                free(reason);
                return -ENOMEM;
        }
        m->hold_request->previous = m->hold_reason;
        m->hold_request->link = varlink_ref(link);
        m->hold_reason = reason;
        manager_refresh_block_lock(m);
        /* Nothing went to logind (the same lock is held already, logind is away, or the
         * request could not be sent): answer now. */
        if (m->hold_request && !logind_block_pending(m->logind)) {
                why = logind_block_why(m->logind);
                hold_finish(m, !logind_is_present(m->logind) ? -ENOTCONN : why && strstr(why, reason) ? 0 : -EIO);
        }
        return 0;
}

void hold_release(Manager *m) {
        if (m->hold_request) {
                if (m->hold_request->link)
                        (void) varlink_error_errno(m->hold_request->link, -ECANCELED);
                hold_request_free(m);
        }
        m->hold_reason = mfree(m->hold_reason);
        manager_refresh_block_lock(m);
}

void hold_request_free(Manager *m) {
        if (!m->hold_request)
                return;
        varlink_unref(m->hold_request->link);
        free(m->hold_request->previous);
        m->hold_request = mfree(m->hold_request);
}
