/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hold.h"
#include "log.h"
#include "logind.h"
#include "parse-util.h"
#include "text-util.h"

typedef struct HoldRequest {
        Varlink *link;          /* the caller to answer; NULL for a oneway call */
        Hold *previous;         /* the hold to go back to if logind refuses */
} HoldRequest;

/* "2026-12-01 05:09:20 UTC" for the journal: one zone whatever the host's TZ. */
static const char *format_timestamp(uint64_t usec, char buf[static 32]) {
        time_t t = (time_t) (usec / USEC_PER_SEC);
        struct tm tm;

        if (!gmtime_r(&t, &tm) || strftime(buf, 32, "%Y-%m-%d %H:%M:%S UTC", &tm) == 0)
                snprintf(buf, 32, "@%" PRIu64, usec / USEC_PER_SEC);
        return buf;
}

/* The caller's command name, as ps shows it; bytes a log line or JSON should not carry
 * (a process names itself) become '?'. NULL when /proc does not say. */
static char *read_comm(pid_t pid) {
        _cleanup_(freep) char *path = NULL, *text = NULL;

        if (pid <= 0 || asprintf(&path, "/proc/%d/comm", (int) pid) < 0 ||
            read_full_file(path, 64, &text, NULL) < 0)
                return NULL;
        text[strcspn(text, "\n")] = '\0';
        for (char *p = text; *p; p++)
                if (*p < 0x20 || *p >= 0x7F)
                        *p = '?';
        return isempty(text) ? NULL : TAKE_PTR(text);
}

int hold_new(Varlink *link, const char *reason, uint64_t for_usec, Hold **ret) {
        _cleanup_(hold_freep) Hold *h = calloc(1, sizeof(Hold));
        uid_t uid = (uid_t) -1;
        pid_t pid = 0;

        if (!h || !(h->reason = strdup(reason)))
                return -ENOMEM;
        (void) varlink_get_peer_uid(link, &uid);
        (void) varlink_get_peer_pid(link, &pid);
        h->uid = uid;
        h->pid = pid;
        h->comm = read_comm(pid);
        h->since_usec = now_realtime_usec();
        h->until_usec = for_usec > 0 ? h->since_usec + for_usec : 0;
        *ret = TAKE_PTR(h);
        return 0;
}

static int on_hold_expired(sd_event_source *s, uint64_t usec, void *userdata);

/* The timer follows m->hold: armed at its end, or gone. */
static void hold_arm_timer(Manager *m) {
        int r;

        m->hold_timer = sd_event_source_disable_unref(m->hold_timer);
        if (!m->hold || m->hold->until_usec == 0)
                return;
        r = sd_event_add_time(m->event, &m->hold_timer, CLOCK_REALTIME, m->hold->until_usec, USEC_PER_SEC,
                              on_hold_expired, m);
        if (r < 0)
                log_error_errno(r, "Failed to arm the end of the operator's hold, it lasts until Release: %s",
                                STRERROR(r));
}

/* Keep m->hold in the state directory. A disk that refuses (read-only, full) does not
 * stop the hold: it is held, and the journal and the reply say it will not survive a
 * restart of tdsleepd. */
static void hold_store(Manager *m) {
        int r = hold_file_save(m->state_dir, m->hold);

        m->hold->stored = r >= 0;
        if (r >= 0)
                return;
        log_warning("Failed to store the operator's hold in %s/" HOLD_FILE_NAME ": %s. It is held, but a restart "
                    "of tdsleepd will not bring it back", m->state_dir, STRERROR(r));
        /* Better no file than one that brings back the hold this one replaced. */
        r = hold_file_remove(m->state_dir);
        if (r < 0)
                log_error("Failed to remove %s/" HOLD_FILE_NAME ": %s. A restart of tdsleepd would take the "
                          "earlier hold again; remove the file by hand", m->state_dir, STRERROR(r));
}

static int reply_lock_refused(Varlink *link, int error) {
        _cleanup_(json_object_putp) json_object *params = json_object_new_object();

        json_object_object_add(params, "message", json_object_new_string(
                                       error == -ENOTCONN ? "logind is not running" : STRERROR(error)));
        return varlink_error(link, "io.tdsleep.Manager.LockRefused", params);
}

static int reply_held(Varlink *link, const Hold *h) {
        _cleanup_(json_object_putp) json_object *params = json_object_new_object();

        json_object_object_add(params, "untilUSec", h->until_usec > 0 ? json_object_new_uint64(h->until_usec) : NULL);
        json_object_object_add(params, "stored", json_object_new_boolean(h->stored));
        return varlink_reply(link, params);
}

static void hold_finish(Manager *m, int error) {
        HoldRequest *h = TAKE_PTR(m->hold_request);
        _cleanup_(varlink_unrefp) Varlink *link = h->link;
        _cleanup_(hold_freep) Hold *previous = h->previous;

        free(h);
        if (error >= 0) {
                hold_store(m);
                hold_arm_timer(m);
                (void) reply_held(link, m->hold);
                return;
        }
        log_warning("logind refused the block lock of Hold(): %s; the hold is withdrawn", STRERROR(error));
        hold_free(m->hold);
        m->hold = TAKE_PTR(previous);
        hold_arm_timer(m);
        manager_refresh_block_lock(m);
        (void) reply_lock_refused(link, error);
}

void manager_on_block_lock(Manager *m, int error) {
        if (m->hold_request)
                hold_finish(m, error);
}

int hold_request_start(Manager *m, Varlink *link, Hold *hold) {
        const char *why;

        if (m->hold_request) {
                hold_free(hold);
                return -EBUSY;
        }
        m->hold_request = calloc(1, sizeof(HoldRequest));
        if (!m->hold_request) {
                hold_free(hold);
                return -ENOMEM;
        }
        m->hold_request->previous = m->hold;
        m->hold_request->link = varlink_ref(link);
        m->hold = hold;
        /* The previous hold's end must not fire while logind decides on this one. */
        m->hold_timer = sd_event_source_disable_unref(m->hold_timer);
        manager_refresh_block_lock(m);
        /* Nothing went to logind (the same lock is held already, logind is away, or the
         * request could not be sent): answer now. */
        if (m->hold_request && !logind_block_pending(m->logind)) {
                why = logind_block_why(m->logind);
                hold_finish(m, !logind_is_present(m->logind) ? -ENOTCONN :
                               why && strstr(why, hold->reason) ? 0 : -EIO);
        }
        return 0;
}

void hold_request_free(Manager *m) {
        if (!m->hold_request)
                return;
        varlink_unref(m->hold_request->link);
        hold_free(m->hold_request->previous);
        m->hold_request = mfree(m->hold_request);
}

void hold_release(Manager *m) {
        int r;

        if (m->hold_request) {
                if (m->hold_request->link)
                        (void) varlink_error_errno(m->hold_request->link, -ECANCELED);
                hold_request_free(m);
        }
        r = hold_file_remove(m->state_dir);
        if (r < 0)
                log_error("Failed to remove %s/" HOLD_FILE_NAME ": %s. The hold is released now, but a restart of "
                          "tdsleepd would take it again; remove the file by hand", m->state_dir, STRERROR(r));
        m->hold = hold_free(m->hold);
        hold_arm_timer(m);
        manager_refresh_block_lock(m);
}

static int on_hold_expired(sd_event_source *s, uint64_t usec, void *userdata) {
        _cleanup_(freep) char *reason = NULL;
        Manager *m = userdata;
        char until[32];

        if (!m->hold)
                return 0;
        reason = text_escape(m->hold->reason);
        log_notice("The operator's hold \"%s\" ended at %s (hold --for): released, sleep is allowed again",
                   strna(reason), format_timestamp(m->hold->until_usec, until));
        hold_release(m);
        return 0;
}

void hold_restore(Manager *m) {
        _cleanup_(freep) char *moved = NULL, *reason = NULL;
        _cleanup_(hold_freep) Hold *h = NULL;
        char since[32], until[32];
        int r = hold_file_load(m->state_dir, &h, &moved);

        if (r == -ENOENT)
                return;
        if (r == -EBADMSG) {
                log_error("%s/" HOLD_FILE_NAME " is corrupt: moved to %s. The operator's hold is not taken again; "
                          "run tdsleepctl hold if it is still needed", m->state_dir, strna(moved));
                return;
        }
        if (r < 0) {
                log_error("Failed to read %s/" HOLD_FILE_NAME ": %s. The operator's hold is not taken again",
                          m->state_dir, STRERROR(r));
                return;
        }
        reason = text_escape(h->reason);
        format_timestamp(h->since_usec, since);
        if (h->until_usec > 0 && h->until_usec <= now_realtime_usec()) {
                log_notice("The operator's hold \"%s\" (uid %u, %s, since %s) ended at %s while tdsleepd was not "
                           "running: released", strna(reason), (unsigned) h->uid, strna(h->comm), since,
                           format_timestamp(h->until_usec, until));
                r = hold_file_remove(m->state_dir);
                if (r < 0)
                        log_error("Failed to remove %s/" HOLD_FILE_NAME ": %s", m->state_dir, STRERROR(r));
                return;
        }
        log_notice("Restored the operator's hold \"%s\" (uid %u, %s, pid %d, since %s%s%s) from %s/" HOLD_FILE_NAME
                   ": refusing sleep until %s", strna(reason), (unsigned) h->uid, strna(h->comm), (int) h->pid,
                   since, h->until_usec > 0 ? ", until " : "",
                   h->until_usec > 0 ? format_timestamp(h->until_usec, until) : "", m->state_dir,
                   h->until_usec > 0 ? "then or Release" : "Release");
        m->hold = TAKE_PTR(h);
        hold_arm_timer(m);      /* the block lock follows when logind is there */
}

json_object *hold_to_json(const Hold *h) {
        json_object *o;

        if (!h)
                return NULL;
        o = json_object_new_object();
        json_object_object_add(o, "reason", json_object_new_string(h->reason));
        json_object_object_add(o, "uid", json_object_new_int64((int64_t) h->uid));
        json_object_object_add(o, "pid", json_object_new_int64((int64_t) h->pid));
        json_object_object_add(o, "comm", h->comm ? json_object_new_string(h->comm) : NULL);
        json_object_object_add(o, "sinceUSec", json_object_new_uint64(h->since_usec));
        json_object_object_add(o, "untilUSec", h->until_usec > 0 ? json_object_new_uint64(h->until_usec) : NULL);
        json_object_object_add(o, "stored", json_object_new_boolean(h->stored));
        return o;
}
