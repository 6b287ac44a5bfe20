/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdlib.h>
#include <strings.h>

#include "cycle-internal.h"
#include "log.h"
#include "messages.h"

/* Every entry point ends here: re-arm the timer for whatever is due next. */
#define RETURN_SETTLED(c) do { cycle_settle(c); return; } while (0)

static void cycle_reconcile(Cycle *c);
static void job_running_again(Cycle *c, Job *j, const PlanDomain *d);

/* ---- sleeps ---- */

/* PrepareForSleep(true) names no step. If the host may either keep or lose TDs, only the
 * sleep hook knows the step: let logind go on to run it, and act when its Prepare comes. */
void cycle_prepare_for_sleep(Cycle *c) {
        CycleWorld w;
        PlanInput in;
        Plan plan;
        DomainVerdict *v;

        if (c->restored) {
                cycle_on_logind(c, true);
                return;
        }
        if (c->sleeping && (c->step_planned || c->awaiting_hook || c->awaiting_libvirt))
                RETURN_SETTLED(c);      /* a duplicate: the same sleep */
        if (!c->sleeping)
                c->sleep_began_usec = cycle_now(c);
        c->sleeping = true;
        c->ops->observe(c->userdata, &w);
        v = calloc(w.n_domains ? w.n_domains : 1, sizeof(DomainVerdict));
        if (v && w.libvirt_connected) {
                cycle_plan_input(c, &w, PLAN_MODE_SLEEP, SLEEP_STEP_UNKNOWN, &in);
                plan_make(&in, v, &plan);
                free(v);
                if (plan.when == PLAN_WHEN_WAIT_FOR_HOOK) {
                        c->awaiting_hook = true;
                        log_notice("This host may suspend to idle (TDs survive) or hibernate (they do not), and "
                                   "logind does not say which: waiting for the sleep hook to name the step");
                        c->ops->release_delay(c->userdata);
                        c->ops->on_phase(c->userdata);
                        RETURN_SETTLED(c);
                }
        } else
                free(v);
        cycle_prepare(c, SLEEP_STEP_UNKNOWN);
}

void cycle_prepare(Cycle *c, SleepStep step) {
        bool same = step == SLEEP_STEP_UNKNOWN || step == c->record.step;

        if (c->restored)
                cycle_on_logind(c, true);
        /* Awaiting the hook, logind had its lock back: from now on the hook waits for us. */
        if (!c->sleeping || c->awaiting_hook)
                c->sleep_began_usec = cycle_now(c);
        c->sleeping = true;
        c->awaiting_hook = false;
        if (c->step_planned && same) {
                /* In progress (the lock goes when it is done), or done: let logind go on. */
                if (c->record.phase == CYCLE_PHASE_READY)
                        c->ops->release_delay(c->userdata);
                RETURN_SETTLED(c);
        }
        if (c->awaiting_libvirt && same)
                RETURN_SETTLED(c);
        /* A new sleep, or a new step named (the hook after PrepareForSleep, or the
         * hibernate step of suspend-then-hibernate): plan again; what is stopped stays. */
        c->sleep_planned = c->step_planned = true;
        cycle_act(c, PLAN_MODE_SLEEP, step);
        RETURN_SETTLED(c);
}

void cycle_sleep_over(Cycle *c) {
        if (c->restored) {
                cycle_on_logind(c, false);
                return;
        }
        /* Take the lock first, so the next sleep cannot start before we see it. */
        c->ops->take_delay(c->userdata);
        if (c->awaiting_hook)
                log_warning("The sleep is over, but the sleep hook never said which step it was: is tdsleepctl's "
                            "hook installed in systemd's system-sleep directory? If the host hibernated, "
                            "the TDs did not survive");
        if (c->awaiting_libvirt)
                log_cycle(c, LOG_CRIT, NULL, "The sleep is over; libvirt never answered while it was prepared, "
                          "so no TD was stopped for it");
        c->sleeping = c->step_planned = c->awaiting_hook = c->awaiting_libvirt = false;
        c->awaiting_libvirt_told = false;
        c->sleep_began_usec = 0;
        c->planned_unknown_step = false;
        if (!c->sleep_planned)
                RETURN_SETTLED(c);      /* no sleep of ours: a drain stays as it is */
        cycle_begin_resume(c);
        RETURN_SETTLED(c);
}

/* ---- the operator's drain ---- */

int cycle_drain(Cycle *c, uint64_t timeout_usec) {
        CycleWorld w;

        if (c->record.phase != CYCLE_PHASE_IDLE || c->sleeping || c->restored)
                return -EBUSY;
        c->ops->observe(c->userdata, &w);
        if (!w.libvirt_connected)
                return -ENOTCONN;
        c->drain_timeout_usec = timeout_usec;
        c->record.drained = true;
        cycle_act(c, PLAN_MODE_DRAIN, SLEEP_STEP_UNKNOWN);
        cycle_settle(c);
        return 0;
}

int cycle_restore(Cycle *c) {
        CycleWorld w;

        if (!c->record.drained)
                return -ENOENT;
        if (c->sleeping || c->restored)
                return -EBUSY;
        c->ops->observe(c->userdata, &w);
        if (!w.libvirt_connected)
                return -ENOTCONN;
        /* The end of the drain must be durable first: a restart must not drain again. */
        c->record.drained = false;
        if (!cycle_save(c)) {
                c->record.drained = true;
                return -EIO;
        }
        log_cycle(c, LOG_INFO, MESSAGE_RESTORE, "Restore: the drain is over");
        c->restoring = true;
        cycle_begin_resume(c);
        cycle_settle(c);
        return 0;
}

/* ---- logind ---- */

/* Go on with a cycle from the record, now that logind says where the host stands. */
static void cycle_continue_restored(Cycle *c, bool preparing_for_sleep) {
        bool sleep_jobs = false;

        c->restored = false;
        for (size_t i = 0; i < c->record.n_domains; i++)
                sleep_jobs = sleep_jobs || !c->record.domains[i].drained;
        if (preparing_for_sleep) {
                log_cycle(c, LOG_INFO, NULL, c->record.phase == CYCLE_PHASE_READY ?
                          "Still prepared for the sleep in progress; checking that no TD started meanwhile" :
                          "A sleep is being prepared: finishing the interrupted preparation");
                c->sleeping = c->sleep_planned = c->step_planned = true;
                c->restoring = !c->record.drained;      /* its resume starts every TD of the record */
                cycle_act(c, PLAN_MODE_SLEEP, c->record.step);
                return;
        }
        if (!c->record.drained || sleep_jobs) {
                /* The sleep is over (or a Restore was under way): start what was stopped;
                 * with no drain in force, that is every TD of the record. */
                log_cycle(c, LOG_INFO, NULL, "The interrupted %s is over: starting again the TDs stopped for it",
                          sleep_jobs ? "sleep" : "cycle");
                c->sleep_planned = sleep_jobs;
                c->restoring = !c->record.drained;
                cycle_begin_resume(c);
                return;
        }
        log_cycle(c, LOG_NOTICE, NULL, "The TDs stay drained until Restore");
        cycle_set_phase(c, CYCLE_PHASE_READY);
}

void cycle_on_logind(Cycle *c, bool preparing_for_sleep) {
        /* Hold the delay lock, unless logind is already sleeping on our word. */
        if (!(preparing_for_sleep && c->record.phase == CYCLE_PHASE_READY && !c->restored))
                c->ops->take_delay(c->userdata);
        if (c->restored) {
                cycle_continue_restored(c, preparing_for_sleep);
                cycle_reconcile(c);
                RETURN_SETTLED(c);
        }
        if (preparing_for_sleep && !c->sleeping) {
                log_notice("logind is already preparing for sleep: preparing now");
                c->sleep_began_usec = cycle_now(c);
                c->sleeping = true;
                cycle_prepare(c, SLEEP_STEP_UNKNOWN);
        } else if (!preparing_for_sleep && c->sleeping) {
                /* A new logind instance knows of no sleep: PrepareForSleep(false) will not come. */
                log_warning("logind restarted and prepares no sleep: the sleep is over");
                cycle_sleep_over(c);
        }
        RETURN_SETTLED(c);
}

/* ---- libvirt ---- */

void cycle_on_domain(Cycle *c, const PlanDomain *d, bool started) {
        Job *j = cycle_find_job(c, d->uuid);
        bool stale = !started && cycle_unseen_start_has(c, d->uuid);

        if (started)
                (void) cycle_unseen_start_remove(c, d->uuid);
        if (started && j && j->in_flight != EFFECT_NONE)
                j->start_seen = true;   /* it runs, whatever the request's result says */
        if (started && j && j->stop_seen) {
                /* Stopped while our request was in flight, and started again (by someone):
                 * whoever stopped it, it runs now, like a stopped TD that runs again. */
                j->stop_seen = false;
                j->stale = true;
                job_domain(c, j)->started = true;
                job_set_state(c, j, JOB_DROPPED);
        }
        if (stale)
                log_debug("Ignoring a STOPPED event of %s sent before tdsleepd started it", d->name);
        else if (!started) {
                if (j)
                        job_on_stopped(c, j);
        } else if (j && IN_SET(j->state, JOB_START_PENDING, JOB_START_RETRY) && j->in_flight != EFFECT_START) {
                /* (Also while a new sleep is prepared before the resume could start it.) */
                log_job(c, j, LOG_INFO, MESSAGE_TD_STARTED, "TD %s was started by someone else", d->name);
                job_domain(c, j)->started = true;
                job_set_state(c, j, JOB_DROPPED);
        }
        if (c->restored) {
                /* Taken over, but logind has not said how to go on: only note that a TD
                 * the record has as stopped, or on its way down, ran again: it is someone
                 * else's from then on, and so is its next stop. */
                if (started && j && IN_SET(j->state, JOB_STOPPED, JOB_STOPPING)) {
                        j->ran_again = true;
                        j->delivered = false;
                        job_set_state(c, j, JOB_STOPPED);
                }
                RETURN_SETTLED(c);
        }
        if (started && j && j->state == JOB_STOPPED)
                job_running_again(c, j, d);     /* the planner says, or it simply runs */
        else if (started && IN_SET(c->record.phase, CYCLE_PHASE_PREPARING, CYCLE_PHASE_READY) &&
                 (c->sleep_planned || c->record.drained))
                cycle_replan_domain(c, d);
        cycle_kick_stops(c);
        cycle_check_prepared(c);
        cycle_kick_starts(c);
        cycle_check_resumed(c);
        RETURN_SETTLED(c);
}

static const PlanDomain *world_find(const CycleWorld *w, const char *uuid) {
        for (size_t i = 0; i < w->n_domains; i++)
                if (strcasecmp(w->domains[i].uuid, uuid) == 0)
                        return &w->domains[i];
        return NULL;
}

/* A TD the record has as stopped runs again. While a sleep is prepared, or drained, the
 * planner says whether it is stopped again; otherwise it simply runs. */
static void job_running_again(Cycle *c, Job *j, const PlanDomain *d) {
        if (IN_SET(c->record.phase, CYCLE_PHASE_PREPARING, CYCLE_PHASE_READY) &&
            (c->sleep_planned || (c->record.drained && job_domain(c, j)->drained)))
                cycle_replan_domain(c, d);
        if (j->state != JOB_STOPPED)
                return;
        job_domain(c, j)->started = true;       /* nothing to start */
        job_set_state(c, j, JOB_DROPPED);
}

/* After a reconnect or a restart, events may have been missed: compare every job with
 * libvirt's table. */
static void job_reconcile(Cycle *c, Job *j, const CycleWorld *w) {
        const PlanDomain *d = world_find(w, job_domain(c, j)->uuid);
        bool running = d && d->active;

        if (IN_SET(j->state, JOB_STOPPING, JOB_FORCING, JOB_LEFT_RUNNING, JOB_STOP_FAILED) && !running)
                job_on_stopped(c, j);   /* its STOPPED was lost with the connection */
        else if (j->state == JOB_STOPPING && j->began_usec == 0) {
                /* Taken over from the record: a shutdown was sent before the restart. Its
                 * window starts again now, and the request goes again (harmless). */
                j->timeout_usec = d->timeout_usec;
                j->began_usec = cycle_now(c);
                j->deadline_usec = j->began_usec + j->timeout_usec;
                job_resend(c, j, true);
        } else if (j->state == JOB_STOPPING && j->deadline_usec == USEC_INFINITY)
                job_stop_timer(c, j, w);        /* its window ended while libvirt was away */
        else if (IN_SET(j->state, JOB_STOPPING, JOB_FORCING))
                job_resend(c, j, true);
        else if (j->state == JOB_STOPPED && running)
                job_running_again(c, j, d);
        else if (j->state == JOB_STOPPED && j->ran_again) {
                /* Started and stopped again by someone while we waited for logind: that
                 * stop is not ours, and neither is a start of it. */
                log_job(c, j, LOG_INFO, NULL, "TD %s ran again and was stopped by someone else meanwhile: not "
                        "starting it", job_domain(c, j)->name);
                job_set_state(c, j, JOB_DROPPED);
        }
        else if (IN_SET(j->state, JOB_START_PENDING, JOB_START_RETRY) && running) {
                job_domain(c, j)->started = true;       /* running again: nothing to start */
                job_set_state(c, j, JOB_DROPPED);
        }
}

static void cycle_reconcile(Cycle *c) {
        CycleWorld w;

        c->ops->observe(c->userdata, &w);
        if (!w.libvirt_connected)
                return;
        for (size_t i = 0; i < c->record.n_domains; i++)
                job_reconcile(c, &c->jobs[i], &w);
        for (size_t i = 0; i < c->record.n_domains; i++)
                c->jobs[i].ran_again = false;   /* what happened while taken over is settled */
        /* A STARTED lost with the connection (a start of ours whose result came while
         * libvirt was away, someone's): while a sleep is prepared, the planner decides. */
        if (IN_SET(c->record.phase, CYCLE_PHASE_PREPARING, CYCLE_PHASE_READY) &&
            (c->sleep_planned || c->record.drained))
                for (size_t i = 0; i < w.n_domains; i++)
                        if (w.domains[i].active)
                                cycle_replan_domain(c, &w.domains[i]);
        cycle_kick_stops(c);
        cycle_check_prepared(c);
        cycle_kick_starts(c);
        cycle_check_resumed(c);
}

void cycle_on_libvirt(Cycle *c, bool connected) {
        if (!connected && c->awaiting_libvirt)
                cycle_tell_libvirt_away(c);     /* (the attempt it waited for failed) */
        if (!connected || c->restored)
                RETURN_SETTLED(c);
        c->n_unseen_starts = 0;         /* a new connection: no stale events */
        if (c->awaiting_libvirt) {
                log_cycle(c, LOG_NOTICE, NULL, "libvirt answers again: preparing now");
                cycle_act(c, PLAN_MODE_SLEEP, c->awaited_step);
        }
        cycle_reconcile(c);
        RETURN_SETTLED(c);
}

/* ---- results of requests ---- */

/* Its STARTED came while a stop request was in flight, and that request's result was
 * handled as if nothing ran: if it runs, it is handled as a TD that started now. */
static void job_ran_during_request(Cycle *c, Job *j) {
        const PlanDomain *d;
        CycleWorld w;

        c->ops->observe(c->userdata, &w);
        d = world_find(&w, job_domain(c, j)->uuid);
        if (!d || !d->active)
                return;
        if (j->state == JOB_STOPPED)
                job_running_again(c, j, d);
        else if (IN_SET(c->record.phase, CYCLE_PHASE_PREPARING, CYCLE_PHASE_READY) &&
                 (c->sleep_planned || c->record.drained))
                cycle_replan_domain(c, d);
}

static Job *cycle_find_request(Cycle *c, uint64_t request) {
        for (size_t i = 0; i < c->record.n_domains; i++)
                if (c->jobs[i].in_flight != EFFECT_NONE && c->jobs[i].request == request)
                        return &c->jobs[i];
        return NULL;
}

static void cycle_request_done(Cycle *c, uint64_t request, int result, const char *error, const char *xml) {
        Job *j = cycle_find_request(c, request);
        Effect effect;
        bool ran;

        if (!j)
                RETURN_SETTLED(c);      /* its job is gone (the cycle ended): nothing to decide */
        effect = j->in_flight;
        ran = j->start_seen && effect != EFFECT_START;
        j->in_flight = EFFECT_NONE;
        if (j->stale)
                j->stale = false;
        else if (effect == EFFECT_GET_XML)
                job_xml_done(c, j, result, xml);
        else if (effect == EFFECT_SHUTDOWN)
                job_shutdown_done(c, j, result, error);
        else if (effect == EFFECT_DESTROY)
                job_destroy_done(c, j, result, error);
        else
                job_start_done(c, j, result, error);
        if (ran)
                job_ran_during_request(c, j);
        if (j->timer_due && j->in_flight == EFFECT_NONE) {
                j->timer_due = false;
                if (IN_SET(j->state, JOB_STOPPING, JOB_FORCING) && j->deadline_usec == USEC_INFINITY)
                        j->deadline_usec = cycle_now(c);        /* the timer that fired meanwhile */
        }
        cycle_kick_stops(c);
        cycle_check_prepared(c);
        cycle_kick_starts(c);
        cycle_check_resumed(c);
        RETURN_SETTLED(c);
}

void cycle_on_effect_done(Cycle *c, uint64_t request, int result, const char *error) {
        cycle_request_done(c, request, result, error, NULL);
}

void cycle_on_xml_read(Cycle *c, uint64_t request, int result, const char *xml) {
        cycle_request_done(c, request, result, NULL, xml);
}

/* ---- time ---- */

void cycle_on_timer(Cycle *c) {
        uint64_t now = cycle_now(c);
        bool observed = false;
        CycleWorld w;

        c->armed_usec = USEC_INFINITY;
        for (size_t i = 0; i < c->record.n_domains; i++) {
                Job *j = &c->jobs[i];

                if (j->deadline_usec > now)
                        continue;
                j->deadline_usec = USEC_INFINITY;
                j->held = false;
                if (IN_SET(j->state, JOB_STOPPING, JOB_FORCING) && !observed) {
                        c->ops->observe(c->userdata, &w);       /* once, for every job due */
                        observed = true;
                }
                if (IN_SET(j->state, JOB_STOPPING, JOB_FORCING))
                        job_stop_timer(c, j, &w);
                else if (j->state == JOB_START_RETRY)
                        job_start_timer(c, j);
        }
        cycle_kick_stops(c);
        cycle_check_prepared(c);
        cycle_kick_starts(c);
        cycle_check_resumed(c);
        RETURN_SETTLED(c);
}
