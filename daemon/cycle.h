/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "macros.h"

/* The cycle engine: the sleep and drain state machine, deterministic and single-threaded.
 *
 * It reacts to events (the cycle_on_*() and request functions below) and acts only
 * through CycleOps: libvirt, logind, the record, mem_sleep, the clock and one timer. It
 * includes no libvirt, D-Bus, sd-event or file I/O, so the simulator (tests/sim) runs the
 * real engine against a simulated world. manager-cycle.c binds it to the daemon.
 *
 * Phases (CyclePhase): idle -> preparing -> ready -> resuming -> idle. A drain uses the
 * same phases (preparing: stopping every TD; ready: drained; resuming: Restore) and stays
 * ready until Restore, across sleeps and restarts. The jobs and their states are
 * documented in docs/DESIGN.md ("The cycle engine"), with the invariants I1..I7 that the
 * simulator checks after every step. */

#include <stdbool.h>
#include <stdint.h>

#include "plan.h"
#include "state.h"

typedef enum JobState {
        JOB_STOP_PENDING,       /* to be shut down (ParallelShutdown= or libvirt away) */
        JOB_STOPPING,           /* graceful shutdown delivered, waiting for STOPPED */
        JOB_FORCING,            /* timed out: destroy sent (again when libvirt is back) */
        JOB_STOPPED,
        JOB_LEFT_RUNNING,       /* not stopped, with a reason: ForceOff=no, no record, refused */
        JOB_STOP_FAILED,
        JOB_START_PENDING,
        JOB_START_RETRY,        /* a start failed: tried again after a backoff */
        JOB_STARTED,
        JOB_START_FAILED,       /* every attempt failed */
        JOB_DROPPED,            /* nothing to do: never stopped by us, or running again */
        _JOB_STATE_MAX,
        _JOB_STATE_INVALID = -EINVAL,
} JobState;

DECLARE_STRING_TABLE(job_state, JobState);

/* What the engine sees of the world, read when it plans. */
typedef struct CycleWorld {
        bool libvirt_connected;         /* the domain table is current */
        /* Not connected, but the first attempt (since start, or since the connection was
         * lost) is under way: a prepare waits without alarm until it ends. */
        bool libvirt_connecting;
        const PlanDomain *domains;      /* valid until the engine returns */
        size_t n_domains;
        bool power_known;               /* false: /sys/power could not be read */
        PowerPicture power;
        KernelPolicy kernel_policy;
        bool hook_reachable;            /* the sleep hook can reach us (control socket) */
        uint64_t inhibit_delay_max_usec;/* logind's InhibitDelayMaxUSec, 0: not known */
} CycleWorld;

typedef struct CycleOps {
        uint64_t (*now)(void *userdata);        /* CLOCK_MONOTONIC µs, read now */
        uint64_t (*realtime)(void *userdata);   /* CLOCK_REALTIME µs */
        void (*observe)(void *userdata, CycleWorld *ret);
        /* libvirt's actions are requests: submitting one returns 0 (the result comes later
         * through cycle_on_effect_done() with the same request id) or -ENOTCONN (libvirt is
         * away: nothing was submitted, and nothing will come). The results: 0, -ENOTCONN
         * (libvirt went away), -ESRCH not running, -ENOENT no such domain, -EALREADY already
         * running (start), -EIO anything else. */
        int (*shutdown)(void *userdata, uint64_t request, const char *uuid);
        int (*destroy)(void *userdata, uint64_t request, const char *uuid);
        int (*start)(void *userdata, uint64_t request, const StateDomain *d);
        /* Read a transient TD's XML (before it is stopped): a request like the others, its
         * result comes through cycle_on_xml_read() with the XML. */
        int (*get_xml)(void *userdata, uint64_t request, const char *uuid);
        /* The record. save: RecordDurability, or a negative errno when no durable copy
         * exists. finish: the cycle is over and must never be replayed (0 or errno). */
        int (*save)(void *userdata, State *s);
        /* Optional: a fresh cycle id (ID128_STRING_MAX), so that the cycle's first journal
         * entry already carries it; left empty, the record's save fills it in. */
        void (*new_cycle_id)(void *userdata, char *ret);
        int (*finish)(void *userdata, const State *s);
        /* A transient TD that could not be re-created: keep its XML for the operator. */
        void (*keep_failed)(void *userdata, const StateDomain *d);
        /* logind's delay lock. */
        void (*take_delay)(void *userdata);
        void (*release_delay)(void *userdata);
        int (*write_mem_sleep)(void *userdata, MemSleep m);
        void (*ensure_cpus_online)(void *userdata);
        /* Call cycle_on_timer() at usec (CLOCK_MONOTONIC); USEC_INFINITY: never. */
        void (*arm_timer)(void *userdata, uint64_t usec);
        /* Tell subscribers: the phase changed / a TD of the cycle changed state. */
        void (*on_phase)(void *userdata);
        void (*on_job)(void *userdata, const StateDomain *d, JobState state);
} CycleOps;

/* The knobs the engine reads from the config (copied; Reload updates them). */
typedef struct CycleSettings {
        bool force_off;
        unsigned parallel_shutdown;
        unsigned parallel_start;
        bool restart_after_resume;
        unsigned start_attempts;        /* StartRetries= + 1 */
        uint64_t start_retry_usec;      /* the first backoff; doubles, up to the cap */
        uint64_t start_retry_max_usec;
} CycleSettings;

void cycle_settings_from_config(const Config *c, CycleSettings *ret);

typedef struct Cycle Cycle;

int cycle_new(const CycleOps *ops, void *userdata, const CycleSettings *settings, Cycle **ret);
Cycle *cycle_free(Cycle *c);
DEFINE_TRIVIAL_CLEANUP_FUNC(Cycle *, cycle_free)
void cycle_set_settings(Cycle *c, const CycleSettings *settings);

/* Take over a record left by a previous run (consumed). The cycle goes on once logind
 * says where the host stands (cycle_on_logind). */
int cycle_adopt_record(Cycle *c, State *record);

/* ---- events ---- */

/* logind's PrepareForSleep(true): act now, or wait for the hook when only it knows the step. */
void cycle_prepare_for_sleep(Cycle *c);
/* The sleep hook (or an operator) names the step. Idempotent for the same step. */
void cycle_prepare(Cycle *c, SleepStep step);
/* PrepareForSleep(false), or Resume(): the sleep is over (or failed). */
void cycle_sleep_over(Cycle *c);
/* The operator's maintenance: stop every TD (timeout_usec > 0 replaces the timeouts).
 * -EBUSY unless idle, -ENOTCONN while libvirt is away. */
int cycle_drain(Cycle *c, uint64_t timeout_usec);
/* Start again what the drain stopped. -ENOENT without a drain, -EBUSY while sleeping,
 * -ENOTCONN while libvirt is away, -EIO when the end of the drain cannot be recorded
 * (then the drain stays). */
int cycle_restore(Cycle *c);
/* logind appeared (again), and whether it is preparing for a sleep. */
void cycle_on_logind(Cycle *c, bool preparing_for_sleep);
/* A lifecycle event for d: started (true) or stopped (false). */
void cycle_on_domain(Cycle *c, const PlanDomain *d, bool started);
/* libvirt connected (the table is fresh) or went away. */
void cycle_on_libvirt(Cycle *c, bool connected);
/* A request submitted through CycleOps (shutdown, destroy, start) is done: result is
 * what libvirt said (see CycleOps), error its words (may be NULL). Unknown and stale
 * requests (of a finished cycle) are ignored. */
void cycle_on_effect_done(Cycle *c, uint64_t request, int result, const char *error);
/* A get_xml request is done: result as for cycle_on_effect_done(), xml the TD's XML when
 * result is 0 (copied). */
void cycle_on_xml_read(Cycle *c, uint64_t request, int result, const char *xml);
/* The timer armed through CycleOps.arm_timer fired. */
void cycle_on_timer(Cycle *c);

/* ---- queries ---- */

/* The planner's input for w as the engine would make it (Plan() asks the same question). */
void cycle_plan_input(const Cycle *c, const CycleWorld *w, PlanMode mode, SleepStep step, PlanInput *ret);

CyclePhase cycle_phase(const Cycle *c);
/* The step of the sleep in progress; _SLEEP_STEP_INVALID when none. */
SleepStep cycle_step(const Cycle *c);
/* The id of the cycle in progress (32 hex digits, TDSLEEP_CYCLE_ID=); NULL when idle or
 * before the record named it. */
const char *cycle_id(const Cycle *c);
bool cycle_is_sleeping(const Cycle *c);
bool cycle_is_drained(const Cycle *c);
bool cycle_awaiting_hook(const Cycle *c);
bool cycle_awaiting_libvirt(const Cycle *c);
/* The record has no copy on disk (only in the fd store), or none at all. */
bool cycle_record_degraded(const Cycle *c);
/* Call visit for each TD of the cycle in progress. */
typedef void (*CycleJobVisitor)(void *userdata, const StateDomain *d, JobState state, const char *error);
void cycle_foreach_job(const Cycle *c, CycleJobVisitor visit, void *userdata);
/* How many TDs of the cycle in progress are in state. */
unsigned cycle_count(const Cycle *c, JobState state);

/* The last finished cycle: kept until the next one ends. */
typedef struct CycleResultDomain {
        char uuid[UUID_STRING_MAX];
        char *name;
        bool stopped;           /* tdsleepd stopped it (gracefully or forced) */
        bool forced;            /* it had to be forced off */
        JobState outcome;       /* started, start-failed, left-running, stop-failed, dropped */
        char *error;            /* why it failed, or why it was left running */
} CycleResultDomain;

typedef struct CycleResult {
        bool valid;
        char cycle_id[ID128_STRING_MAX];
        bool drain;             /* a drain and its Restore, not a sleep */
        SleepStep step;
        uint64_t began_realtime_usec, ended_realtime_usec;
        uint64_t prepare_usec, resume_usec;     /* how long each half took */
        CycleResultDomain *domains;
        size_t n_domains;
} CycleResult;

const CycleResult *cycle_last_result(const Cycle *c);
/* Did the last cycle leave a TD failed (to stop or to start)? */
bool cycle_result_failed(const CycleResult *r);
