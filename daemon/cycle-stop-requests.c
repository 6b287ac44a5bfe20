/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A stop job's requests to libvirt (the graceful shutdown, the destroy) and what their
 * results mean. A request is submitted (CycleOps) and its result comes later
 * (cycle_on_effect_done): meanwhile the job sends nothing else, and a STOPPED of the TD
 * waits for the result to say whose stop it was. */

#include <stdlib.h>
#include <string.h>

#include "cycle-internal.h"
#include "log.h"
#include "messages.h"

/* A destroy libvirt refuses is tried this often, this far apart, before the TD counts as
 * failed to stop. */
#define DESTROY_ATTEMPTS 3
#define DESTROY_RETRY_USEC USEC_PER_SEC

static double seconds(uint64_t usec) {
        return (double) usec / USEC_PER_SEC;
}

static void job_arm(Cycle *c, Job *j, uint64_t usec) {
        j->deadline_usec = usec == USEC_INFINITY ? USEC_INFINITY : cycle_now(c) + usec;
}

void job_force(Cycle *c, Job *j) {
        const StateDomain *sd = job_domain(c, j);

        if (j->in_flight != EFFECT_NONE)
                return;         /* one request at a time: its result decides */
        if (!c->settings.force_off) {
                log_job(c, j, LOG_WARNING, MESSAGE_TD_LEFT_RUNNING,
                        "TD %s did not stop within %.1fs and ForceOff=no: leaving it running; it will not "
                        "survive this sleep", sd->name, seconds(j->timeout_usec));
                job_set_error(j, "did not stop in time, and ForceOff=no");
                job_set_state(c, j, JOB_LEFT_RUNNING);
                return;
        }
        /* A destroy is a stop of ours whatever the shutdown did: recorded before it goes. */
        if (job_domain(c, j)->stop != STATE_STOP_SENT) {
                job_domain(c, j)->stop = STATE_STOP_SENT;
                if (!cycle_save(c)) {
                        job_domain(c, j)->stop = STATE_STOP_PENDING;
                        log_job(c, j, LOG_CRIT, MESSAGE_TD_LEFT_RUNNING, "Not forcing TD %s off: no durable record "
                                "of the cycle could be written", sd->name);
                        job_set_error(j, "no durable record could be written");
                        job_set_state(c, j, JOB_LEFT_RUNNING);
                        return;
                }
        }
        if (j->state != JOB_FORCING)
                log_job(c, j, LOG_WARNING, MESSAGE_TD_FORCED_OFF, "TD %s did not stop within %.1fs, forcing it off",
                        sd->name, seconds(j->timeout_usec));
        job_set_state(c, j, JOB_FORCING);
        j->deadline_usec = USEC_INFINITY;       /* the destroy's result arms it; or the reconnect */
        (void) job_submit(c, j, EFFECT_DESTROY);
}

/* The destroy's result. */
/* The TD stopped while our request was in flight: decide now whose stop it was. */
static bool job_decide_stop_seen(Cycle *c, Job *j, int r, bool *took) {
        if (!j->stop_seen)
                return false;
        j->stop_seen = false;
        if (r == 0) {
                *took = true;
                if (j->began_usec == 0 || j->state == JOB_STOP_PENDING)
                        j->began_usec = j->submitted_usec;      /* for the log: it went then */
        }
        job_on_stopped(c, j);
        return true;
}

void job_destroy_done(Cycle *c, Job *j, int r, const char *error) {
        const StateDomain *sd = job_domain(c, j);

        if (job_decide_stop_seen(c, j, r, &j->forced))
                return;
        if (r == 0)
                j->forced = true;       /* libvirt took it, whatever became of the job meanwhile */
        if (j->state != JOB_FORCING)
                return;                 /* stopped (its event came first) or given up meanwhile */
        if (r == -ENOTCONN) {
                job_hold(c, j, cycle_now(c) + RESEND_USEC);
                return;
        }
        if (IN_SET(r, -ESRCH, -ENOENT)) {
                job_on_stopped(c, j);
                return;
        }
        if (r < 0 && ++j->destroys < DESTROY_ATTEMPTS) {
                log_job(c, j, LOG_WARNING, NULL, "Failed to force off TD %s: %s; trying again", sd->name, strna(error));
                job_set_error(j, error);
                j->deadline_usec = cycle_now(c) + DESTROY_RETRY_USEC;
                return;
        }
        if (r < 0) {
                log_job(c, j, LOG_ERR, MESSAGE_TD_FORCED_OFF, "Failed to force off TD %s after %u attempts: %s",
                        sd->name, j->destroys, strna(error));
                job_set_error(j, error);
                job_set_state(c, j, JOB_STOP_FAILED);
                return;
        }
        job_arm(c, j, PLAN_FORCE_OFF_USEC);
}

/* A refused shutdown request is asked again this often within the graceful window. */
#define SHUTDOWN_RETRY_USEC USEC_PER_SEC

/* Submit the graceful shutdown. Its window counts from when libvirt took the request
 * (when its result comes, not when it was submitted: a stalled libvirtd does not eat
 * the guest's time). A request libvirt refuses ("cannot acquire state change lock") is
 * asked again within the window, which then counts from the first answer; the force-off
 * comes at its end. */
void job_send_shutdown(Cycle *c, Job *j) {
        StateDomain *sd = job_domain(c, j);
        bool retry = j->state == JOB_STOPPING;
        int r;

        if (j->in_flight != EFFECT_NONE)
                return;

        /* A retry goes out like the first request: recorded as sent before it is sent
         * (kick_stops did that for the first one). */
        if (retry && sd->stop != STATE_STOP_SENT) {
                sd->stop = STATE_STOP_SENT;
                if (!cycle_save(c)) {
                        sd->stop = STATE_STOP_PENDING;
                        j->deadline_usec = j->began_usec + j->timeout_usec;
                        return;
                }
        }
        r = job_submit(c, j, EFFECT_SHUTDOWN);
        if (r < 0) {                    /* libvirt is away */
                if (!j->delivered)
                        sd->stop = STATE_STOP_PENDING;  /* it did not go out: not ours if it stops */
                if (retry)              /* asked again on reconnect; forced at the window's end */
                        j->deadline_usec = j->began_usec + j->timeout_usec;
                return;                 /* else stays pending: sent when libvirt is back */
        }
        j->deadline_usec = USEC_INFINITY;       /* the result arms it */
        if (!retry)
                log_job(c, j, LOG_DEBUG, NULL, "Shutting down TD %s (timeout %.1fs)", sd->name,
                        seconds(j->timeout_usec));
}

/* The shutdown's result. */
void job_shutdown_done(Cycle *c, Job *j, int r, const char *error) {
        StateDomain *sd = job_domain(c, j);
        bool retry = j->state == JOB_STOPPING;
        uint64_t now = cycle_now(c);

        if (job_decide_stop_seen(c, j, r, &j->delivered)) {
                if (!j->delivered && r < 0 && !IN_SET(r, -ESRCH, -ENOENT))
                        sd->stop = STATE_STOP_PENDING;
                return;
        }
        if (!IN_SET(j->state, JOB_STOP_PENDING, JOB_STOPPING))
                return;                 /* stopped, forced or given up meanwhile */
        if (retry && j->delivered) {    /* a request sent again after a reconnect */
                if (IN_SET(r, -ESRCH, -ENOENT))
                        job_on_stopped(c, j);
                return;
        }
        if (r < 0 && !IN_SET(r, -ESRCH, -ENOENT))
                sd->stop = STATE_STOP_PENDING;  /* it did not go out: not ours if it stops */
        if (r < 0 && c->record.phase == CYCLE_PHASE_RESUMING && job_in_resume(c, j)) {
                job_set_state(c, j, JOB_DROPPED);       /* the sleep is over, and it did not go out */
                return;
        }
        if (r == -ENOTCONN) {           /* asked again when libvirt is back; forced at the window's end */
                job_hold(c, j, retry ? MIN(now + RESEND_USEC, j->began_usec + j->timeout_usec) :
                                       now + RESEND_USEC);
                return;
        }
        if (IN_SET(r, -ESRCH, -ENOENT)) {
                if (j->delivered) {     /* our earlier request did it */
                        job_on_stopped(c, j);
                        return;
                }
                log_job(c, j, LOG_INFO, NULL, "TD %s was not running any more: nothing to stop", sd->name);
                job_set_state(c, j, JOB_DROPPED);
                return;
        }
        if (!retry) {
                j->began_usec = now;
                job_set_state(c, j, JOB_STOPPING);
        }
        if (r < 0) {
                if (!retry)
                        log_job(c, j, LOG_WARNING, NULL, "Failed to ask TD %s to shut down: %s; asking again "
                                "for %.1fs, then forcing it off unless it stops", sd->name, strna(error),
                                seconds(j->timeout_usec));
                job_set_error(j, error);
                j->deadline_usec = MIN(now + SHUTDOWN_RETRY_USEC, j->began_usec + j->timeout_usec);
                return;
        }
        j->delivered = true;
        sd->stop = STATE_STOP_SENT;
        j->began_usec = now;
        job_set_error(j, NULL);
        job_arm(c, j, j->timeout_usec);
}


/* ---- a transient TD's XML ---- */

/* Read before the TD is marked for a stop (and the record saved with it): a transient TD
 * vanishes when it stops, and only its XML brings it back. All are asked for at once,
 * whatever ParallelShutdown= allows, so that each is there when its turn comes. */
void cycle_read_xmls(Cycle *c) {
        for (size_t i = 0; i < c->record.n_domains; i++) {
                Job *j = &c->jobs[i];
                const StateDomain *sd = &c->record.domains[i];

                if (j->state != JOB_STOP_PENDING || sd->persistent || !isempty(sd->xml) || j->xml_failed ||
                    j->in_flight != EFFECT_NONE || j->held)
                        continue;
                if (job_submit(c, j, EFFECT_GET_XML) < 0)
                        return;         /* libvirt is away: the reconnect asks again */
        }
}

void job_xml_done(Cycle *c, Job *j, int r, const char *xml) {
        StateDomain *sd = job_domain(c, j);
        char *copy;

        if (j->state != JOB_STOP_PENDING)
                return;         /* stopped by itself meanwhile, or left to run */
        if (r == -ENOTCONN) {
                /* Lost with the connection: asked again later (the reconnect kicks too). */
                job_hold(c, j, cycle_now(c) + RESEND_USEC);
                return;
        }
        if (r >= 0 && isempty(xml))
                r = -EIO;
        if (r >= 0) {
                copy = strdup(xml);
                if (copy) {
                        free(sd->xml);
                        sd->xml = copy;
                        return;
                }
                r = -ENOMEM;
        }
        j->xml_failed = true;
        job_refuse_without_xml(c, j);
}
