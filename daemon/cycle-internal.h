/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Shared between the engine's files (cycle.c, cycle-stop.c, cycle-start.c,
 * cycle-events.c); nothing outside the engine includes this. */

#include "cycle.h"

/* The request a job has with libvirt, at most one at a time. */
typedef enum Effect {
        EFFECT_NONE,
        EFFECT_SHUTDOWN,
        EFFECT_DESTROY,
        EFFECT_START,
        EFFECT_GET_XML,                 /* a transient TD's XML, read before it is stopped */
} Effect;

typedef struct Job {
        JobState state;
        Effect in_flight;               /* submitted, its result not seen yet */
        uint64_t request;               /* the id of the request in flight */
        uint64_t submitted_usec;
        bool held;                      /* libvirt went away under a request: not submitted
                                         * again before the job's timer (a reconnect may be
                                         * on its way; a retry at once could spin) */
        bool stale;                     /* the request in flight no longer matters: its
                                         * result only ends it */
        bool timer_due;                 /* its timer fired while a request was in flight */
        bool stop_seen;                 /* it stopped while its stop request was in flight */
        bool start_seen;                /* its STARTED came while its start was in flight */
        bool stop_after_start;          /* planned for a stop while its start was in flight */
        bool stop_after_start_drained;
        uint64_t timeout_usec;          /* the graceful stop's window */
        uint64_t deadline_usec;         /* the job's timer; USEC_INFINITY: none */
        uint64_t began_usec;            /* when libvirt took its current request (its result came) */
        bool delivered;                 /* a shutdown reached libvirt in this cycle */
        bool stopped;                   /* it reached STOPPED through us */
        bool forced;
        bool ran_again;                 /* started by someone while logind's answer was awaited */
        unsigned attempts;              /* start attempts made */
        unsigned destroys;              /* destroy attempts libvirt refused */
        bool xml_failed;                /* its XML could not be read: it is not stopped */
        char *error;                    /* why it failed or was left running */
} Job;

struct Cycle {
        const CycleOps *ops;
        void *userdata;
        CycleSettings settings;

        State record;                   /* saved before every destructive step */
        Job *jobs;                      /* jobs[i] belongs to record.domains[i] */

        bool sleeping;                  /* PrepareForSleep(true) or the hook, until it is over */
        bool sleep_planned;             /* the cycle has a sleep part (until its resume is done) */
        bool step_planned;              /* the sleep under way was planned and acted on */
        bool awaiting_hook;             /* the host may keep or lose TDs: the hook names the step */
        bool awaiting_libvirt;          /* a prepare waits for libvirt's domain table */
        bool awaiting_libvirt_told;     /* ... and the journal has said libvirt is away */
        SleepStep awaited_step;
        bool restoring;                 /* Restore(): drained TDs are started too */
        bool restored;                  /* adopted from a record: logind decides how to go on */
        bool degraded;                  /* the last save did not reach the disk */
        uint64_t drain_timeout_usec;
        uint64_t began_usec;            /* this half (prepare or resume) began */
        uint64_t prepare_usec;          /* time spent preparing in this cycle, every stretch */
        uint64_t preparing_since;       /* the current stretch of preparing began ... */
        bool preparing_timed;           /* ... and is being timed */
        bool planned_unknown_step;      /* this sleep was planned before its step was named */
        uint64_t sleep_began_usec;      /* PrepareForSleep(true) or the hook's Prepare came */
        uint64_t lock_held_usec;        /* from then until the delay lock was released */
        uint64_t saved_usec;            /* last save while starting */
        uint64_t requests;              /* the last request id handed out */
        uint64_t armed_usec;            /* what the timer is armed for */
        /* TDs tdsleepd started whose STARTED event has not come yet: a STOPPED event for
         * one of them was sent before the start (libvirt keeps events in order), and
         * must not complete a later stop. Outlives the cycle; not kept across restarts
         * (a new connection has no stale events). */
        char (*unseen_starts)[UUID_STRING_MAX];
        size_t n_unseen_starts;
        CycleResult last;
};

static inline uint64_t cycle_now(const Cycle *c) {
        return c->ops->now(c->userdata);
}

static inline StateDomain *job_domain(Cycle *c, const Job *j) {
        return &c->record.domains[j - c->jobs];
}

/* cycle.c */
/* Does libvirt's table say uuid runs? (Unknown domains do not.) */
bool cycle_world_running(const CycleWorld *w, const char *uuid);
void cycle_unseen_start_add(Cycle *c, const char *uuid);
/* Remove uuid; true if it was there. */
bool cycle_unseen_start_remove(Cycle *c, const char *uuid);
bool cycle_unseen_start_has(const Cycle *c, const char *uuid);
void cycle_set_phase(Cycle *c, CyclePhase phase);
void job_set_state(Cycle *c, Job *j, JobState state);
void job_set_error(Job *j, const char *error);
Job *cycle_find_job(Cycle *c, const char *uuid);
Job *cycle_add_job(Cycle *c, const PlanDomain *d, bool drained);
/* Save the record. false when no durable copy exists (then nothing destructive may follow). */
bool cycle_save(Cycle *c);
void cycle_settle(Cycle *c);
bool job_stop_in_progress(const Job *j);
void cycle_begin_new(Cycle *c);
void cycle_end(Cycle *c);
void cycle_drop_finished_sleep_jobs(Cycle *c);

/* cycle-journal.c */
/* Log about one TD with its name, uuid and the cycle id as journal fields. */
void log_job(Cycle *c, const Job *j, int level, const char *message_id, const char *fmt, ...) _printf_(5, 6);
/* Say in the journal what a prepare does because its stops may not fit the limit. */
void cycle_log_budget(Cycle *c, const Plan *plan);
/* Log about the cycle, with its id (and message_id when not NULL). */
void log_cycle(Cycle *c, int level, const char *message_id, const char *fmt, ...) _printf_(4, 5);
/* The history's entries: the start (n_stop TDs to stop), the end of the prepare (sets
 * lock_held_usec for a sleep), one per TD of the finished part, and the end. */
void cycle_log_start(Cycle *c, bool drain, const char *mem_sleep, bool keeps, unsigned n_stop);
void cycle_log_prepared(Cycle *c);
void cycle_log_outcomes(Cycle *c, bool drain, bool (*keep)(const Cycle *, const Job *));
void cycle_log_done(Cycle *c, bool drain);

/* libvirt went away under a request: the job looks again this much later (libvirt may be
 * back by then; the reconnect looks again anyway), not at once, which could spin. */
#define RESEND_USEC (100 * USEC_PER_MSEC)

/* Submit effect for j (CycleOps); 0, or -ENOTCONN when nothing was submitted. */
int job_submit(Cycle *c, Job *j, Effect effect);
/* libvirt went away under j's request: look again at its timer, after delay. */
void job_hold(Cycle *c, Job *j, uint64_t at_usec);
/* Does any job have a request in flight? */
bool cycle_any_in_flight(const Cycle *c);

/* cycle-stop-requests.c */
/* Submit the graceful shutdown (recorded as sent first when it is a retry). */
void job_send_shutdown(Cycle *c, Job *j);
/* Force it off (ForceOff=no: leave it running, and say so). */
void job_force(Cycle *c, Job *j);
void job_shutdown_done(Cycle *c, Job *j, int r, const char *error);
void job_destroy_done(Cycle *c, Job *j, int r, const char *error);

/* cycle-stop.c */
/* Turn a job that was started (or is to be) into a stop job again. */
void job_stop_again(Cycle *c, Job *j, uint64_t timeout_usec, bool drained);
void cycle_act(Cycle *c, PlanMode mode, SleepStep step);
void cycle_tell_libvirt_away(Cycle *c);
void cycle_replan_domain(Cycle *c, const PlanDomain *d);
bool cycle_kick_stops(Cycle *c);
void job_refuse_without_xml(Cycle *c, Job *j);
/* Ask libvirt for the XML of every transient TD to stop that has none yet. */
void cycle_read_xmls(Cycle *c);
void job_xml_done(Cycle *c, Job *j, int r, const char *xml);
void cycle_check_prepared(Cycle *c);
void job_on_stopped(Cycle *c, Job *j);
/* w: libvirt's table, read once by the caller for every job it looks at. */
void job_stop_timer(Cycle *c, Job *j, const CycleWorld *w);
void job_resend(Cycle *c, Job *j, bool running);

/* cycle-start.c */
void cycle_begin_resume(Cycle *c);
void cycle_kick_starts(Cycle *c);
void cycle_check_resumed(Cycle *c);
void job_plan_start(Cycle *c, Job *j);
void job_start_timer(Cycle *c, Job *j);
void job_start_done(Cycle *c, Job *j, int r, const char *error);
bool job_in_resume(const Cycle *c, const Job *j);
