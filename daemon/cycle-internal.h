/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Shared between the engine's files (cycle.c, cycle-stop.c, cycle-start.c,
 * cycle-events.c); nothing outside the engine includes this. */

#include "cycle.h"

typedef struct Job {
        JobState state;
        uint64_t timeout_usec;          /* the graceful stop's window */
        uint64_t deadline_usec;         /* the job's timer; USEC_INFINITY: none */
        uint64_t began_usec;            /* when its current request reached libvirt */
        bool delivered;                 /* a shutdown reached libvirt in this cycle */
        bool stopped;                   /* it reached STOPPED through us */
        bool forced;
        bool ran_again;                 /* started by someone while logind's answer was awaited */
        unsigned attempts;              /* start attempts made */
        unsigned destroys;              /* destroy attempts libvirt refused */
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
        SleepStep awaited_step;
        bool restoring;                 /* Restore(): drained TDs are started too */
        bool restored;                  /* adopted from a record: logind decides how to go on */
        bool degraded;                  /* the last save did not reach the disk */
        uint64_t drain_timeout_usec;
        uint64_t began_usec;            /* this half (prepare or resume) began */
        uint64_t prepare_usec;          /* how long the prepare took */
        uint64_t saved_usec;            /* last save while starting */
        uint64_t next_batch_usec;       /* the next batch of starts; USEC_INFINITY: none */
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
/* Log about one TD with its name, uuid and the cycle id as journal fields. */
void log_job(Cycle *c, const Job *j, int level, const char *message_id, const char *fmt, ...) _printf_(5, 6);
/* Say in the journal what a prepare does because its stops may not fit the limit. */
void cycle_log_budget(Cycle *c, const Plan *plan);
/* Log about the cycle, with its id (and message_id when not NULL). */
void log_cycle(Cycle *c, int level, const char *message_id, const char *fmt, ...) _printf_(4, 5);

/* cycle-stop.c */
void cycle_act(Cycle *c, PlanMode mode, SleepStep step);
void cycle_replan_domain(Cycle *c, const PlanDomain *d);
bool cycle_kick_stops(Cycle *c);
void job_refuse_without_xml(Cycle *c, Job *j);
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
bool job_in_resume(const Cycle *c, const Job *j);
