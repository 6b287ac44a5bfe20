/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cycle-internal.h"
#include "log.h"
#include "messages.h"

static const char *const job_state_table[_JOB_STATE_MAX] = {
        [JOB_STOP_PENDING] = "stop-pending",
        [JOB_STOPPING] = "stopping",
        [JOB_FORCING] = "forcing",
        [JOB_STOPPED] = "stopped",
        [JOB_LEFT_RUNNING] = "left-running",
        [JOB_STOP_FAILED] = "stop-failed",
        [JOB_START_PENDING] = "start-pending",
        [JOB_START_RETRY] = "start-retry",
        [JOB_STARTED] = "started",
        [JOB_START_FAILED] = "start-failed",
        [JOB_DROPPED] = "dropped",
};
DEFINE_STRING_TABLE(job_state, JobState, _JOB_STATE_MAX)

/* A failed start is tried again after 2 s, 4 s, 8 s, ... at most a minute apart. */
#define START_RETRY_USEC (2 * USEC_PER_SEC)
#define START_RETRY_MAX_USEC (60 * USEC_PER_SEC)

void cycle_settings_from_config(const Config *c, CycleSettings *ret) {
        *ret = (CycleSettings) {
                .force_off = c->force_off,
                .parallel_shutdown = c->parallel_shutdown,
                .parallel_start = c->parallel_start,
                .restart_after_resume = c->restart_after_resume,
                .start_attempts = c->start_retries + 1,
                .start_retry_usec = START_RETRY_USEC,
                .start_retry_max_usec = START_RETRY_MAX_USEC,
        };
}

/* ---- the budget ---- */

void cycle_log_budget(Cycle *c, const Plan *plan) {
        double need = (double) plan->budget_usec / USEC_PER_SEC, limit = (double) plan->limit_usec / USEC_PER_SEC;
        const char *who = plan->limit == PLAN_LIMIT_HOOK ? "the sleep hook waits" : "logind waits";

        switch (plan->over_budget) {
        case PLAN_OVER_BUDGET_S2IDLE:
                log_cycle(c, LOG_WARNING, MESSAGE_BUDGET_PREPARE, "Stopping the TDs may take %.0fs, but %s only "
                          "%.0fs: suspending to idle instead, so that they keep running", need, who, limit);
                break;
        case PLAN_OVER_BUDGET_SHORTEN:
                log_cycle(c, LOG_WARNING, MESSAGE_BUDGET_PREPARE, "Stopping %u TDs may take %.0fs, but %s only "
                          "%.0fs: cutting every graceful shutdown window to %.1fs (then forcing off), so that "
                          "every TD is down in %.0fs", plan->n_stop, need, who, limit,
                          (double) plan->window_max_usec / USEC_PER_SEC, (double) plan->planned_usec / USEC_PER_SEC);
                break;
        case PLAN_OVER_BUDGET_BLOCK:
                log_cycle(c, LOG_CRIT, MESSAGE_BUDGET_PREPARE, "Stopping %u TDs may take %.0fs, but %s only %.0fs, "
                          "and %s: the host may sleep with TDs still running. Stopping them longest window first; "
                          "further sleeps are refused until this fits", plan->n_stop, need, who, limit,
                          !c->settings.force_off ? "ForceOff=no forbids cutting it short" :
                          "not even a graceful window of 1s each fits");
                break;
        default:
                break;
        }
}

/* ---- jobs ---- */

/* Preparing may come in stretches (logind's PrepareForSleep, then the hook's exact step;
 * a TD started while ready): prepare_usec adds them up, so it says how long the host
 * waited for tdsleepd, not only how long the last stretch took. */
void cycle_set_phase(Cycle *c, CyclePhase phase) {
        if (c->record.phase == phase)
                return;
        if (phase == CYCLE_PHASE_PREPARING) {
                c->preparing_since = cycle_now(c);
                c->preparing_timed = true;
        } else if (c->record.phase == CYCLE_PHASE_PREPARING && c->preparing_timed) {
                c->prepare_usec += cycle_now(c) - c->preparing_since;
                c->preparing_timed = false;
        }
        c->record.phase = phase;
        c->ops->on_phase(c->userdata);
}

/* Every job state change goes through here, so subscribers see it. */
void job_set_state(Cycle *c, Job *j, JobState state) {
        if (j->state == state)
                return;
        j->state = state;
        j->held = false;
        if (state != JOB_STOPPING && state != JOB_FORCING && state != JOB_START_RETRY)
                j->deadline_usec = USEC_INFINITY;
        c->ops->on_job(c->userdata, job_domain(c, j), state);
}

void job_set_error(Job *j, const char *error) {
        free(j->error);
        j->error = error ? strdup(error) : NULL;
}

bool job_stop_in_progress(const Job *j) {
        return IN_SET(j->state, JOB_STOP_PENDING, JOB_STOPPING, JOB_FORCING);
}

int job_submit(Cycle *c, Job *j, Effect effect) {
        StateDomain *sd = job_domain(c, j);
        uint64_t request = ++c->requests;
        int r;

        assert(j->in_flight == EFFECT_NONE);
        r = effect == EFFECT_SHUTDOWN ? c->ops->shutdown(c->userdata, request, sd->uuid) :
            effect == EFFECT_DESTROY ? c->ops->destroy(c->userdata, request, sd->uuid) :
            effect == EFFECT_GET_XML ? c->ops->get_xml(c->userdata, request, sd->uuid) :
            c->ops->start(c->userdata, request, sd);
        if (r < 0)
                return r;
        j->in_flight = effect;
        j->start_seen = j->stop_seen = j->stale = false;
        j->request = request;
        j->submitted_usec = cycle_now(c);
        return 0;
}

void job_hold(Cycle *c, Job *j, uint64_t at_usec) {
        j->held = true;
        j->deadline_usec = at_usec;
}

bool cycle_any_in_flight(const Cycle *c) {
        for (size_t i = 0; i < c->record.n_domains; i++)
                if (c->jobs[i].in_flight != EFFECT_NONE)
                        return true;
        return false;
}

Job *cycle_find_job(Cycle *c, const char *uuid) {
        StateDomain *sd = state_find_domain(&c->record, uuid);

        return sd ? &c->jobs[sd - c->record.domains] : NULL;
}

/* Record a TD to stop. A transient one gets its XML (that brings it back) before it is
 * marked for a stop (cycle_read_xmls()). */
Job *cycle_add_job(Cycle *c, const PlanDomain *d, bool drained) {
        Job *jobs, *j;
        int r;

        jobs = reallocarray(c->jobs, c->record.n_domains + 1, sizeof(Job));
        if (!jobs)
                return NULL;
        c->jobs = jobs;
        r = state_add_domain(&c->record, d->uuid, d->name, NULL, d->persistent);
        if (r < 0)
                return NULL;
        c->record.domains[c->record.n_domains - 1].drained = drained;
        c->record.domains[c->record.n_domains - 1].stop = STATE_STOP_PENDING;
        j = &jobs[c->record.n_domains - 1];
        *j = (Job) {
                .state = JOB_STOP_PENDING,
                .deadline_usec = USEC_INFINITY,
        };
        return j;
}

bool cycle_world_running(const CycleWorld *w, const char *uuid) {
        for (size_t i = 0; i < w->n_domains; i++)
                if (strcasecmp(w->domains[i].uuid, uuid) == 0)
                        return w->domains[i].active;
        return false;
}

/* ---- starts whose STARTED event is still to come ---- */

void cycle_unseen_start_add(Cycle *c, const char *uuid) {
        char (*a)[UUID_STRING_MAX];

        if (cycle_unseen_start_has(c, uuid))
                return;
        a = reallocarray(c->unseen_starts, c->n_unseen_starts + 1, sizeof(*a));
        if (!a)
                return;         /* only a stale STOPPED could then be mistaken */
        c->unseen_starts = a;
        memcpy(a[c->n_unseen_starts++], uuid, UUID_STRING_MAX);
}

bool cycle_unseen_start_remove(Cycle *c, const char *uuid) {
        for (size_t i = 0; i < c->n_unseen_starts; i++)
                if (strcasecmp(c->unseen_starts[i], uuid) == 0) {
                        memcpy(c->unseen_starts[i], c->unseen_starts[--c->n_unseen_starts], UUID_STRING_MAX);
                        return true;
                }
        return false;
}

bool cycle_unseen_start_has(const Cycle *c, const char *uuid) {
        for (size_t i = 0; i < c->n_unseen_starts; i++)
                if (strcasecmp(c->unseen_starts[i], uuid) == 0)
                        return true;
        return false;
}

/* ---- the record ---- */

bool cycle_save(Cycle *c) {
        int r = c->ops->save(c->userdata, &c->record);

        c->saved_usec = cycle_now(c);
        c->degraded = r != RECORD_ON_DISK;
        if (r < 0) {
                log_cycle(c, LOG_CRIT, MESSAGE_RECORD_DEGRADED,
                          "Failed to keep a durable record of the cycle: %s. Nothing more is stopped until "
                          "one can be written", STRERROR(r));
                return false;
        }
        return true;
}

/* A new cycle: a new id (drawn now, so that its first entry carries it; else the record
 * fills it in), a fresh start time. */
void cycle_begin_new(Cycle *c) {
        c->record.cycle_id[0] = '\0';
        if (c->ops->new_cycle_id)
                c->ops->new_cycle_id(c->userdata, c->record.cycle_id);
        c->record.started_realtime_usec = c->ops->realtime(c->userdata);
        c->prepare_usec = 0;
        c->lock_held_usec = 0;
}

/* Arm the one timer for the earliest deadline. */
void cycle_settle(Cycle *c) {
        uint64_t next = USEC_INFINITY;

        for (size_t i = 0; i < c->record.n_domains; i++)
                next = MIN(next, c->jobs[i].deadline_usec);
        if (next == c->armed_usec)
                return;
        c->armed_usec = next;
        c->ops->arm_timer(c->userdata, next);
}

/* ---- the result ---- */

static void result_done(CycleResult *r) {
        for (size_t i = 0; i < r->n_domains; i++) {
                free(r->domains[i].name);
                free(r->domains[i].error);
        }
        free(r->domains);
        *r = (CycleResult) { .step = _SLEEP_STEP_INVALID };
}

/* Keep what the finished part of the cycle did (keep(job) says which jobs belong). */
static void cycle_keep_result(Cycle *c, bool drain, bool (*keep)(const Cycle *, const Job *)) {
        CycleResult r = {
                .valid = true,
                .drain = drain,
                .step = drain ? _SLEEP_STEP_INVALID : c->record.step,
                .began_realtime_usec = c->record.started_realtime_usec,
                .ended_realtime_usec = c->ops->realtime(c->userdata),
                .prepare_usec = c->prepare_usec,
                .resume_usec = cycle_now(c) - c->began_usec,
        };

        memcpy(r.cycle_id, c->record.cycle_id, sizeof r.cycle_id);
        r.domains = calloc(c->record.n_domains ? c->record.n_domains : 1, sizeof(CycleResultDomain));
        for (size_t i = 0; r.domains && i < c->record.n_domains; i++) {
                const Job *j = &c->jobs[i];
                CycleResultDomain *d;

                if (!keep(c, j))
                        continue;
                d = &r.domains[r.n_domains++];
                memcpy(d->uuid, c->record.domains[i].uuid, sizeof d->uuid);
                d->name = strdup(c->record.domains[i].name);
                d->error = j->error ? strdup(j->error) : NULL;
                d->stopped = j->stopped;
                d->forced = j->forced;
                d->outcome = j->state;
        }
        result_done(&c->last);
        c->last = r;
}

bool cycle_result_failed(const CycleResult *r) {
        for (size_t i = 0; r->valid && i < r->n_domains; i++)
                if (IN_SET(r->domains[i].outcome, JOB_START_FAILED, JOB_STOP_FAILED, JOB_LEFT_RUNNING))
                        return true;
        return false;
}

static bool keep_all(const Cycle *c, const Job *j) {
        return true;
}

static bool keep_sleep_jobs(const Cycle *c, const Job *j) {
        return !c->record.domains[j - c->jobs].drained;
}

static void jobs_free(Cycle *c) {
        for (size_t i = 0; i < c->record.n_domains; i++)
                free(c->jobs[i].error);
        c->jobs = mfree(c->jobs);
}

static void cycle_restore_mem_sleep(Cycle *c) {
        MemSleep m = c->record.mem_sleep_restore;

        if (m < 0)
                return;
        c->record.mem_sleep_restore = _MEM_SLEEP_INVALID;
        if (c->ops->write_mem_sleep(c->userdata, m) < 0)
                log_error("Failed to restore %s in /sys/power/mem_sleep", mem_sleep_to_string(m));
        else
                log_info("Restored %s in /sys/power/mem_sleep", mem_sleep_to_string(m));
}

/* Transient TDs that could not be re-created: their XML goes where the operator finds it. */
static void cycle_keep_failed(Cycle *c) {
        for (size_t i = 0; i < c->record.n_domains; i++)
                if (c->jobs[i].state == JOB_START_FAILED && !c->record.domains[i].persistent &&
                    !isempty(c->record.domains[i].xml))
                        c->ops->keep_failed(c->userdata, &c->record.domains[i]);
}

/* Everything is done: keep the result, and make sure the record is never replayed. */
void cycle_end(Cycle *c) {
        bool drain = c->restoring && !c->sleep_planned;
        int r;

        cycle_restore_mem_sleep(c);
        cycle_keep_failed(c);
        cycle_log_outcomes(c, drain, keep_all);
        cycle_log_done(c, drain);
        cycle_keep_result(c, drain, keep_all);
        r = c->ops->finish(c->userdata, &c->record);
        c->degraded = r != 0;
        if (r < 0)
                log_cycle(c, LOG_CRIT, MESSAGE_RECORD_DEGRADED,
                          "Failed to close the record of the finished cycle: %s", STRERROR(r));
        jobs_free(c);
        state_done(&c->record);
        c->restoring = c->sleep_planned = c->preparing_timed = false;
        c->drain_timeout_usec = 0;
        c->ops->on_phase(c->userdata);          /* state_done() left the phase idle */
}

/* The sleep part of a cycle is over while the drain stays: keep only the drained TDs. */
void cycle_drop_finished_sleep_jobs(Cycle *c) {
        size_t k = 0;

        cycle_restore_mem_sleep(c);
        cycle_keep_failed(c);
        cycle_log_outcomes(c, false, keep_sleep_jobs);
        cycle_log_done(c, false);
        cycle_keep_result(c, false, keep_sleep_jobs);
        for (size_t i = 0; i < c->record.n_domains; i++) {
                if (!c->record.domains[i].drained) {
                        free(c->record.domains[i].name);
                        free(c->record.domains[i].xml);
                        free(c->jobs[i].error);
                        continue;
                }
                c->record.domains[k] = c->record.domains[i];
                c->jobs[k++] = c->jobs[i];
        }
        c->record.n_domains = k;
        c->sleep_planned = false;
        (void) cycle_save(c);
}

/* ---- lifetime ---- */

int cycle_new(const CycleOps *ops, void *userdata, const CycleSettings *settings, Cycle **ret) {
        Cycle *c = calloc(1, sizeof(Cycle));

        if (!c)
                return -ENOMEM;
        c->ops = ops;
        c->userdata = userdata;
        c->settings = *settings;
        c->armed_usec = USEC_INFINITY;
        c->last.step = _SLEEP_STEP_INVALID;
        state_init(&c->record);
        *ret = c;
        return 0;
}

Cycle *cycle_free(Cycle *c) {
        if (!c)
                return NULL;
        jobs_free(c);
        state_done(&c->record);
        result_done(&c->last);
        free(c->unseen_starts);
        free(c);
        return NULL;
}

void cycle_set_settings(Cycle *c, const CycleSettings *settings) {
        c->settings = *settings;
}

int cycle_adopt_record(Cycle *c, State *record) {
        Job *jobs = calloc(record->n_domains ? record->n_domains : 1, sizeof(Job));

        if (!jobs)
                return -ENOMEM;
        jobs_free(c);
        state_done(&c->record);
        c->record = *record;
        state_init(record);
        c->jobs = jobs;
        /* What the record says: started again, stopped by us, a shutdown sent (its window
         * starts again once libvirt's table says how long it is), or nothing sent yet.
         * libvirt's table corrects the rest once it is connected (cycle_reconcile). */
        for (size_t i = 0; i < c->record.n_domains; i++) {
                const StateDomain *sd = &c->record.domains[i];

                c->jobs[i] = (Job) {
                        .state = sd->started ? JOB_STARTED :
                                 sd->stop == STATE_STOP_SEEN ? JOB_STOPPED :
                                 sd->stop == STATE_STOP_SENT ? JOB_STOPPING : JOB_STOP_PENDING,
                        .stopped = sd->started || sd->stop == STATE_STOP_SEEN,
                        .delivered = sd->started || sd->stop != STATE_STOP_PENDING,
                        .deadline_usec = USEC_INFINITY,
                };
        }
        c->restored = true;
        /* The previous run's part is unknown: count what this one spends. */
        if (c->record.phase == CYCLE_PHASE_PREPARING) {
                c->preparing_since = cycle_now(c);
                c->preparing_timed = true;
        }
        log_cycle(c, LOG_NOTICE, NULL, "Found an interrupted cycle (phase %s%s, %zu TDs): finishing it when "
                  "logind answers", cycle_phase_to_string(c->record.phase),
                  c->record.drained ? ", drained" : "", c->record.n_domains);
        return 0;
}

/* ---- queries ---- */

CyclePhase cycle_phase(const Cycle *c) {
        return c->record.phase;
}

SleepStep cycle_step(const Cycle *c) {
        return c->sleeping || c->sleep_planned ? c->record.step : _SLEEP_STEP_INVALID;
}

const char *cycle_id(const Cycle *c) {
        return c->record.phase != CYCLE_PHASE_IDLE && !isempty(c->record.cycle_id) ? c->record.cycle_id : NULL;
}

bool cycle_is_sleeping(const Cycle *c) {
        return c->sleeping;
}

bool cycle_is_drained(const Cycle *c) {
        return c->record.drained;
}

bool cycle_awaiting_hook(const Cycle *c) {
        return c->awaiting_hook;
}

bool cycle_awaiting_libvirt(const Cycle *c) {
        return c->awaiting_libvirt;
}

bool cycle_record_degraded(const Cycle *c) {
        return c->degraded;
}

void cycle_foreach_job(const Cycle *c, CycleJobVisitor visit, void *userdata) {
        for (size_t i = 0; i < c->record.n_domains; i++)
                visit(userdata, &c->record.domains[i], c->jobs[i].state, c->jobs[i].error);
}

unsigned cycle_count(const Cycle *c, JobState state) {
        unsigned n = 0;

        for (size_t i = 0; i < c->record.n_domains; i++)
                n += c->jobs[i].state == state;
        return n;
}

const CycleResult *cycle_last_result(const Cycle *c) {
        return &c->last;
}
