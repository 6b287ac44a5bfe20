/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <strings.h>

#include "cycle-internal.h"
#include "log.h"
#include "messages.h"

/* Does this resume start j? A sleep's resume starts what the sleep stopped; Restore
 * starts the drained TDs too. */
bool job_in_resume(const Cycle *c, const Job *j) {
        return c->restoring || !c->record.domains[j - c->jobs].drained;
}

/* After the sleep (or on Restore): what does this job need? */
void job_plan_start(Cycle *c, Job *j) {
        if (!job_in_resume(c, j))
                return;
        switch (j->state) {
        case JOB_STOP_PENDING:
                /* Its shutdown on the way cannot be withdrawn: its result decides (a
                 * request that went out is watched like any the sleep outlived). */
                if (j->in_flight == EFFECT_GET_XML)
                        j->stale = true;        /* its XML is not needed any more */
                if (IN_SET(j->in_flight, EFFECT_NONE, EFFECT_GET_XML))
                        job_set_state(c, j, JOB_DROPPED);       /* never touched */
                break;
        case JOB_STOPPED:
                if (j->ran_again) {
                        /* Someone started it (and stopped it) while a taken-over cycle
                         * waited for logind: not ours to start. */
                        job_set_state(c, j, JOB_DROPPED);
                        break;
                }
                if (!c->settings.restart_after_resume && !c->restoring) {
                        log_job(c, j, LOG_NOTICE, NULL, "Not starting TD %s again: RestartAfterResume=no",
                                job_domain(c, j)->name);
                        job_set_error(j, "RestartAfterResume=no");
                        job_set_state(c, j, JOB_DROPPED);
                        break;
                }
                j->attempts = 0;
                job_set_state(c, j, JOB_START_PENDING);
                break;
        case JOB_LEFT_RUNNING:
        case JOB_STOP_FAILED:
                /* It got our shutdown and was left running: the request may still be acted
                 * on. Watch it one more window; it is started if it stops (its STOPPED may
                 * be on its way), or handled like any stop the sleep outlived. */
                if (!j->delivered)
                        break;
                job_set_state(c, j, JOB_STOPPING);
                j->deadline_usec = cycle_now(c) + j->timeout_usec;
                break;
        default:
                break;          /* on its way down (started when STOPPED comes), or done */
        }
}

void cycle_begin_resume(Cycle *c) {
        c->began_usec = cycle_now(c);
        cycle_set_phase(c, CYCLE_PHASE_RESUMING);
        for (size_t i = 0; i < c->record.n_domains; i++)
                job_plan_start(c, &c->jobs[i]);
        log_cycle(c, LOG_INFO, NULL, "%s: starting again the TDs stopped for %s",
                  c->sleep_planned ? "Resuming" : "Restoring", c->sleep_planned ? "the sleep" : "the drain");
        (void) cycle_save(c);
        if (cycle_count(c, JOB_START_PENDING) > 0)
                c->ops->ensure_cpus_online(c->userdata);        /* creating a TD needs every package */
        cycle_kick_starts(c);
        cycle_check_resumed(c);
}

static uint64_t retry_delay(const Cycle *c, unsigned attempts) {
        uint64_t d = c->settings.start_retry_usec;

        for (unsigned i = 1; i < attempts && d < c->settings.start_retry_max_usec; i++)
                d *= 2;
        return MIN(d, c->settings.start_retry_max_usec);
}

/* A start failed for a reason libvirt gave: try again later, up to StartRetries=. */
static void job_start_failed(Cycle *c, Job *j, const char *error) {
        StateDomain *sd = job_domain(c, j);

        job_set_error(j, error);
        if (j->attempts < c->settings.start_attempts) {
                uint64_t delay = retry_delay(c, j->attempts);

                log_job(c, j, LOG_WARNING, MESSAGE_TD_START_FAILED, "Failed to start TD %s again (attempt %u of %u): "
                        "%s; trying again in %.0fs", sd->name, j->attempts, c->settings.start_attempts,
                        strna(error), (double) delay / USEC_PER_SEC);
                job_set_state(c, j, JOB_START_RETRY);
                j->deadline_usec = cycle_now(c) + delay;
                return;
        }
        log_job(c, j, LOG_ERR, MESSAGE_TD_START_FAILED, "Failed to start TD %s again after %u attempts: %s%s",
                sd->name, j->attempts, strna(error),
                sd->persistent || isempty(sd->xml) ? "" : "; its XML is kept in the state directory");
        job_set_state(c, j, JOB_START_FAILED);
}

/* Submit the start. Its STARTED event may come before its result: the event of a
 * start of ours is expected from the submission on (a STOPPED before it is stale). */
static void job_start(Cycle *c, Job *j, const CycleWorld *w) {
        /* Runs already (someone started it): a start on its way could land after it
         * stopped again, and start what is not ours. */
        if (w->libvirt_connected && cycle_world_running(w, job_domain(c, j)->uuid)) {
                j->attempts++;
                log_job(c, j, LOG_INFO, MESSAGE_TD_STARTED, "TD %s is already running", job_domain(c, j)->name);
                job_domain(c, j)->started = true;
                job_set_state(c, j, JOB_DROPPED);
                return;
        }
        if (job_submit(c, j, EFFECT_START) < 0)
                return;                 /* libvirt is away: stays pending until it is back */
        cycle_unseen_start_add(c, job_domain(c, j)->uuid);
}

/* Planned for a stop while its start was on its way: stop it now if it runs. */
static void job_start_then_stop(Cycle *c, Job *j, int r) {
        CycleWorld w;

        j->stop_after_start = false;
        if (r != 0 && r != -EALREADY)
                c->ops->observe(c->userdata, &w);       /* it may run anyway: someone started it */
        if (r == 0 || r == -EALREADY || (w.libvirt_connected && cycle_world_running(&w, job_domain(c, j)->uuid))) {
                job_domain(c, j)->started = true;
                job_stop_again(c, j, j->timeout_usec, j->stop_after_start_drained);
        }
}

/* A start of ours landed while a sleep is prepared (or drained): the TD runs now, and
 * libvirt's table may not say so yet (its STARTED is on the way). The planner decides. */
static void job_started_while_preparing(Cycle *c, Job *j) {
        const char *uuid = job_domain(c, j)->uuid;
        CycleWorld w;

        if (!IN_SET(c->record.phase, CYCLE_PHASE_PREPARING, CYCLE_PHASE_READY) ||
            !(c->sleep_planned || c->record.drained))
                return;
        c->ops->observe(c->userdata, &w);
        if (!w.libvirt_connected && c->sleep_planned) {
                /* It runs, and nobody can stop it now: the prepare waits for libvirt, as
                 * one that began without it does (the reconnect plans again). */
                log_job(c, j, LOG_WARNING, NULL, "TD %s started while a sleep is prepared, and libvirt went "
                        "away: waiting for libvirt to stop it", job_domain(c, j)->name);
                if (!c->awaiting_libvirt)       /* (else the step awaited is known) */
                        c->awaited_step = c->record.step;
                c->awaiting_libvirt = true;
                return;
        }
        for (size_t i = 0; i < w.n_domains; i++)
                if (strcasecmp(w.domains[i].uuid, uuid) == 0) {
                        PlanDomain d = w.domains[i];

                        d.active = true;
                        cycle_replan_domain(c, &d);
                        return;
                }
}

/* The start's result. */
void job_start_done(Cycle *c, Job *j, int r, const char *error) {
        StateDomain *sd = job_domain(c, j);

        if (r != 0 && j->start_seen)
                r = -EALREADY;          /* it runs: someone else's start, or ours whose answer was lost */
        if (r != 0 && r != -EALREADY)
                (void) cycle_unseen_start_remove(c, sd->uuid);
        if (j->state != JOB_START_PENDING) {    /* settled meanwhile (a reconnect saw it run) */
                if (j->stop_after_start)
                        job_start_then_stop(c, j, r);
                return;
        }
        if (r == -ENOTCONN) {
                job_hold(c, j, cycle_now(c) + RESEND_USEC);
                return;                 /* pending: submitted again once its timer fires */
        }
        j->attempts++;
        if (r == -EALREADY) {
                log_job(c, j, LOG_INFO, MESSAGE_TD_STARTED, "TD %s is already running", sd->name);
                sd->started = true;
                job_set_state(c, j, JOB_DROPPED);
        } else if (r == -ENOENT && sd->persistent) {
                log_job(c, j, LOG_ERR, MESSAGE_TD_START_FAILED, "TD %s was undefined while it was stopped: "
                        "not re-creating it", sd->name);
                job_set_error(j, "undefined while it was stopped");
                job_set_state(c, j, JOB_START_FAILED);
        } else if (r < 0)
                job_start_failed(c, j, error);
        else {
                /* At debug: the TD's outcome entry at the end of the cycle (the one
                 * `tdsleepctl history` reads) says it at info, and a resume of a thousand
                 * TDs would write two lines per TD while it competes for the CPU. */
                log_job(c, j, LOG_DEBUG, MESSAGE_TD_STARTED, "Started TD %s again (%.2fs)", sd->name,
                        (double) (cycle_now(c) - j->submitted_usec) / USEC_PER_SEC);
                sd->started = true;
                /* A STARTED that came while it was in flight is taken as ours (it nearly
                 * always is: libvirt sends it before the call returns). Only someone
                 * else's start and a stop, both inside the flight, would make it theirs;
                 * then a STOPPED still to come is taken for a stop of this run. */
                job_set_error(j, NULL);
                job_set_state(c, j, JOB_STARTED);
        }
        if (j->stop_after_start)
                job_start_then_stop(c, j, r);
        else if (r == 0)
                job_started_while_preparing(c, j);
        /* The started flags, at most once a second (a save of a thousand TDs' XML costs
         * tens of ms). A crash between two saves cannot start a TD twice by itself: libvirt
         * refuses to start a running domain, and the restarted daemon drops those. */
        if (sd->started && cycle_now(c) - c->saved_usec > USEC_PER_SEC)
                (void) cycle_save(c);
}

static unsigned cycle_starts_in_flight(const Cycle *c) {
        unsigned n = 0;

        for (size_t i = 0; i < c->record.n_domains; i++)
                n += c->jobs[i].in_flight == EFFECT_START;
        return n;
}

/* Submit starts until ParallelStart= are in flight (0: no limit). Each result makes room
 * for the next (cycle_on_effect_done kicks again). */
void cycle_kick_starts(Cycle *c) {
        unsigned max = c->settings.parallel_start, n = cycle_starts_in_flight(c);
        bool observed = false;
        CycleWorld w;

        if (c->record.phase != CYCLE_PHASE_RESUMING)
                return;
        for (size_t i = 0; i < c->record.n_domains && (max == 0 || n < max); i++) {
                Job *j = &c->jobs[i];

                if (j->state != JOB_START_PENDING || j->in_flight != EFFECT_NONE || j->held)
                        continue;
                if (!observed)
                        c->ops->observe(c->userdata, &w);
                observed = true;
                job_start(c, j, &w);
                if (j->state == JOB_DROPPED)
                        continue;
                if (j->in_flight == EFFECT_NONE)
                        break;          /* libvirt is away: the rest waits for it */
                n++;
        }
}

/* A start retry's backoff is over. */
void job_start_timer(Cycle *c, Job *j) {
        job_set_state(c, j, JOB_START_PENDING);
}

static bool job_resume_busy(const Cycle *c, const Job *j) {
        if (IN_SET(j->state, JOB_START_PENDING, JOB_START_RETRY) || j->in_flight != EFFECT_NONE)
                return true;
        return job_in_resume(c, j) && IN_SET(j->state, JOB_STOPPING, JOB_FORCING);
}

/* Before the cycle ends: a TD given up on (left running, failed to stop) that got our
 * shutdown may have stopped just now, its event still on the way. Ask libvirt. */
static void cycle_recheck_given_up(Cycle *c) {
        CycleWorld w;
        bool observed = false;

        for (size_t i = 0; i < c->record.n_domains; i++) {
                Job *j = &c->jobs[i];

                if (!IN_SET(j->state, JOB_LEFT_RUNNING, JOB_STOP_FAILED) || !j->delivered || !job_in_resume(c, j))
                        continue;
                if (!observed)
                        c->ops->observe(c->userdata, &w);
                observed = true;
                if (w.libvirt_connected && !cycle_world_running(&w, c->record.domains[i].uuid))
                        job_on_stopped(c, j);
        }
        if (cycle_count(c, JOB_START_PENDING) > 0)
                cycle_kick_starts(c);
}

void cycle_check_resumed(Cycle *c) {
        if (c->record.phase != CYCLE_PHASE_RESUMING)
                return;
        for (size_t i = 0; i < c->record.n_domains; i++)
                if (job_resume_busy(c, &c->jobs[i]))
                        return;
        cycle_recheck_given_up(c);
        for (size_t i = 0; i < c->record.n_domains; i++)
                if (job_resume_busy(c, &c->jobs[i]))
                        return;
        if (c->restoring || !c->record.drained) {
                cycle_end(c);
                return;
        }
        /* The sleep is over; the drain goes on until Restore (still stopping, or done). */
        cycle_drop_finished_sleep_jobs(c);
        log_cycle(c, LOG_INFO, NULL, "Awake again; the TDs stay drained until Restore");
        for (size_t i = 0; i < c->record.n_domains; i++)
                if (job_stop_in_progress(&c->jobs[i])) {
                        cycle_set_phase(c, CYCLE_PHASE_PREPARING);
                        cycle_kick_stops(c);
                        cycle_check_prepared(c);        /* the kick may have settled them all */
                        return;
                }
        cycle_set_phase(c, CYCLE_PHASE_READY);
        (void) cycle_save(c);
}
