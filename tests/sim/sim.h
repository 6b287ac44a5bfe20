/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The deterministic simulator of the cycle engine (issue 9, point 5).
 *
 * One process runs the real engine (daemon/cycle*.c) against a simulated world that
 * implements every CycleOps member: a clock only the simulator advances, libvirt with
 * guests that honour, slow-stop, ignore or crash, logind with its delay lock and its
 * signals, the sleep hook, the host that enters S3/S4 (and kills the TDs still running),
 * a disk and systemd's fd store for the record, and tdsleepd itself, which may crash at
 * any effect boundary and restart from the last durable record.
 *
 * Every choice comes from one source: a seeded PRNG (sim-sweep) or the fuzzer's bytes
 * (fuzz-cycle), so a run replays exactly. The invariants I1..I7 of the issue are checked
 * after every step; a violation prints the invariant, the trace tail and the command that
 * replays it. The scripted scenarios (test-sim-*.c, on sim-scenario.h) drive the same
 * primitives by hand. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "cycle.h"

#define SIM_DOMAINS_MAX 8
#define SIM_EVENTS_MAX 64
#define SIM_EFFECTS_MAX 32
#define SIM_TRACE_LINES 48
#define SIM_TRACE_LINE_MAX 200
#define SIM_USEC_INFINITY UINT64_MAX
#define SIM_REALTIME_BASE (UINT64_C(1764547200) * USEC_PER_SEC)     /* 2025-12-01 */
#define SIM_LOGIND_HOOK_TIMEOUT_USEC (90 * USEC_PER_SEC)            /* systemd-sleep's limit */

/* Where the choices come from. */
typedef struct SimSource {
        uint64_t state;                 /* splitmix64 */
        const uint8_t *data;            /* fuzzer bytes, or NULL */
        size_t size, pos;
        bool exhausted;                 /* the bytes ran out: the driver settles */
} SimSource;

void sim_source_seed(SimSource *src, uint64_t seed);
void sim_source_bytes(SimSource *src, const uint8_t *data, size_t size);
/* A value in [0, n) (0 when n == 0, or when the bytes ran out). */
uint64_t sim_rand(SimSource *src, uint64_t n);

typedef enum SimGuest {
        SIM_GUEST_HONOURS,      /* stops after a short delay when asked */
        SIM_GUEST_SLOW,         /* stops when asked, after up to twice its timeout */
        SIM_GUEST_IGNORES,      /* never stops when asked: only destroy stops it */
        SIM_GUEST_CRASHES,      /* honours, and also stops by itself at random */
        _SIM_GUEST_MAX,
} SimGuest;

/* The effects the engine asks for, for fault injection and crash points. */
typedef enum SimOp {
        SIM_OP_SHUTDOWN,
        SIM_OP_DESTROY,
        SIM_OP_START,
        SIM_OP_GET_XML,
        SIM_OP_SAVE,
        SIM_OP_FINISH,
        SIM_OP_KEEP_FAILED,
        SIM_OP_TAKE_DELAY,
        SIM_OP_RELEASE_DELAY,
        SIM_OP_WRITE_MEM_SLEEP,
        _SIM_OP_MAX,
        _SIM_OP_NONE = -1,
} SimOp;

const char *sim_op_to_string(SimOp op);

typedef struct SimDomain {
        char uuid[UUID_STRING_MAX];
        char name[16];
        bool defined;           /* exists in libvirt (a transient one only while it runs) */
        bool active;
        bool persistent;
        bool protected;
        SleepAction action;
        uint64_t timeout_usec;
        SimGuest guest;
        uint64_t honour_usec;   /* how long an ACPI shutdown takes when honoured */
        uint64_t stop_at;       /* a pending stop (asked or a crash); SIM_USEC_INFINITY */
        bool shutdown_pending;  /* tdsleepd's shutdown was delivered since it last started */
        bool shutdown_for_sleep;/* ... while logind prepared a sleep */
        unsigned start_failures;/* the next starts fail (-EIO); UINT32_MAX: always */
        /* Bookkeeping for the invariants. */
        bool owed;              /* tdsleepd stopped it and it has not run since */
        bool owed_by_drain;     /* ... and it was for the operator's drain (or while drained) */
        bool drain_sleep;       /* ... stopped by a sleep while drained: may start after it */
        bool given_up;          /* the engine reported its start failed: the operator's now */
        uint64_t started_at;    /* when it last started, by anyone */
        int last_report;        /* the JobState the engine last reported for it */
        bool record_stale;      /* a restart adopted a record that missed a start of it: the
                                 * engine may start it once more, whoever stopped it since */
        bool maybe_sent;        /* a restart adopted a record saying its shutdown may have been
                                 * sent (recorded before sending), while none reached it */
        bool reported_running;  /* a cycle ended reporting it left running or failed to stop
                                 * with a shutdown pending: a later stop is that reported risk */
        bool ambiguous;         /* lost in a forced sleep with a shutdown pending */
        bool keep_failed;       /* ops->keep_failed was called for it */
        bool raced;             /* someone started it while a request of tdsleepd was on its
                                 * way: the events of this run and the next are ambiguous */
        unsigned starts_in_cycle;       /* in this cycle, since tdsleepd last stopped it */
        unsigned starts, start_calls, shutdowns, destroys;
        uint64_t shutdown_delivered_at;
} SimDomain;

/* A request of the engine on its way (sim-effects.c). */
typedef struct SimEffect {
        SimOp op;
        uint64_t request;
        char uuid[UUID_STRING_MAX];
        bool persistent;        /* start */
        char *xml;              /* start; get_xml: what it read */
        uint64_t land_at;       /* libvirtd carries it out */
        uint64_t done_at;       /* its result reaches the engine (after it landed) */
        bool landed;
        bool lost;              /* libvirtd died before it landed: -ENOTCONN */
        int result;
        char error[128];
} SimEffect;

typedef struct SimEvent {
        unsigned domain;
        bool started;
        uint64_t at;
} SimEvent;

typedef enum SimHost {
        SIM_HOST_AWAKE,
        SIM_HOST_PREPARING,     /* logind sent PrepareForSleep(true), waits for delay locks */
        SIM_HOST_HOOK,          /* systemd-sleep runs the hook (Prepare(step)) */
        SIM_HOST_ASLEEP,
        _SIM_HOST_MAX,
} SimHost;

/* A saved record as the disk or the fd store holds it. */
typedef struct SimCopy {
        bool present;
        bool finished_marker;   /* fd store only: "cycle_id is over" */
        uint64_t saved_at;      /* simulated time of the save */
        State state;
} SimCopy;

typedef struct SimConfig {
        CycleSettings settings;
        unsigned n_domains;
        PowerPicture power;
        KernelPolicy kernel_policy;
        bool hook_reachable;
        uint64_t inhibit_delay_max_usec;
        /* Fault rates, each in 1/1000 per chance (0 disables). */
        unsigned crash_permille;        /* at an effect boundary */
        unsigned rpc_error_permille;
        unsigned stall_permille;
        unsigned event_dup_permille;
} SimConfig;

typedef struct Sim {
        SimSource src;
        SimConfig cfg;
        uint64_t seed;                  /* for the replay line (sweep) */
        const char *replay_input;       /* for the replay line (fuzz input) */
        unsigned steps;
        bool verbose;
        bool quiet;                     /* print nothing on a violation (fuzzer minimising) */
        bool settling;                  /* no new faults */
        bool mask_late_stops;           /* triage (FOUND.md #1): a guest whose job the engine
                                         * gives up (dropped, left running, stop failed) cancels its ACPI
                                         * shutdown, so that other bugs show */
        uint64_t bound_usec;            /* I5: a cycle ends within this after the last event */

        /* The engine, or NULL while tdsleepd is down. */
        Cycle *cycle;
        bool zombie;                    /* crashed inside an op: effects no longer land */
        bool zombie_after;              /* crashing right after this op's effect */
        uint64_t restart_at;            /* tdsleepd comes back; SIM_USEC_INFINITY */
        unsigned crashes;
        SimOp crash_on_op;              /* scripted: crash at the next call of this op */
        bool crash_after_effect;

        /* Clock and the engine's timer. */
        uint64_t now;
        uint64_t timer_at;
        uint64_t last_external;
        unsigned same_instant;          /* internal events run without the clock moving */

        /* libvirt. */
        SimDomain domains[SIM_DOMAINS_MAX];
        unsigned n_domains;
        bool libvirt_up;                /* libvirtd runs */
        bool libvirt_seen;              /* the daemon's connection is up (observe) */
        uint64_t libvirt_back_at;
        uint64_t libvirt_notify_at;     /* the daemon notices libvirtd went away */
        SimEvent events[SIM_EVENTS_MAX];
        unsigned n_events;
        SimEffect effects[SIM_EFFECTS_MAX];     /* the engine's requests in flight */
        unsigned n_effects;
        char error_text[128];
        SimOp fail_next_op;             /* scripted: the next call of this op fails */
        int fail_next_errno;
        SimOp stall_next_op;            /* scripted: the next call of this op stalls */
        uint64_t stall_next_usec;
        PlanDomain *observed[64];       /* observe() tables, freed when the engine returns (a
                                         * reconnect re-plans each TD: two per TD) */
        unsigned n_observed;

        /* logind and the host. */
        bool logind_up;
        uint64_t logind_back_at;
        bool logind_prepare_again;      /* the restarted logind prepares a sleep at once */
        bool delay_held;
        SimHost host;
        SleepStep operation;            /* what logind is doing */
        uint64_t host_since;            /* when host entered its state */
        uint64_t slept_usec;            /* CLOCK_REALTIME moves on in a sleep, MONOTONIC does not */
        bool forced;                    /* this sleep goes ahead without tdsleepd's say (timeouts,
                                         * a crash): I1 is not checked */
        bool hook_called;
        unsigned sleeps, aborted_sleeps, forced_sleeps;

        /* sysfs. */
        PowerPicture power;
        bool power_known;
        MemSleep mem_sleep_original;

        /* The record. */
        int disk_fault;                 /* 0, -ENOSPC, -EROFS, -EIO */
        int fdstore_fault;              /* 0 or a negative errno */
        SimCopy disk, fdstore;
        char unclosed_cycle[ID128_STRING_MAX];  /* finished, but neither copy could be closed */
        uint64_t generation;
        unsigned cycle_ids;
        unsigned saves, saves_degraded, saves_failed;

        /* The operator. */
        bool drain_in_force;            /* Drain accepted (or durably recorded), Restore not yet */
        bool drain_durable;             /* ... and a durable record says so */
        bool draining;                  /* the drain's cycle is on: what stops now is drained */
        bool restore_requested;         /* Restore called (maybe crashed): the drain may end */
        bool drain_restored;            /* a Restore ended the last drain: no drain until the next */

        /* Cycles as the simulator sees them (they survive tdsleepd's crashes). */
        bool in_cycle;
        unsigned cycle_no;
        unsigned cycles_ended;
        CyclePhase last_phase;

        /* Violations: the first one is kept. */
        unsigned violations;
        char violation[512];

        char trace[SIM_TRACE_LINES][SIM_TRACE_LINE_MAX];
        unsigned trace_next, trace_count;
} Sim;

/* ---- setting up ---- */

/* A random world from the source (domains, settings, power picture, fault rates). */
void sim_config_random(SimSource *src, SimConfig *ret);
/* A quiet default world for scripted tests: n protected persistent TDs that honour ACPI
 * in 1 s, timeout 8 s, suspend to deep, no random faults. */
void sim_config_default(SimConfig *ret, unsigned n);
/* Set up the world and start tdsleepd (libvirt and logind up). For random worlds, the
 * domains are drawn from s->src; for scripted ones, edit s->domains before sim_boot(). */
void sim_init(Sim *s, const SimConfig *cfg);
void sim_random_domains(Sim *s);
void sim_boot(Sim *s);
void sim_done(Sim *s);

/* ---- the driver ---- */

/* One random step: an external event or time moving to the next internal one. */
void sim_step(Sim *s);
/* Heal every fault, wake the host, reconnect, restore a drain, and let the engine settle;
 * then check that every cycle ended (I2, I5). */
void sim_settle(Sim *s);
/* Run internal events (timers, guests, delivery, logind, restarts) up to now + usec. */
void sim_advance(Sim *s, uint64_t usec);
/* Run internal events until none is left before now + limit (or the host sleeps). */
void sim_run(Sim *s, uint64_t limit_usec);
/* Run the next internal event, however far; false if there is none. */
bool sim_run_next(Sim *s);
/* Deliver the queued libvirt lifecycle events now. */
void sim_deliver_events_now(Sim *s);

/* A whole run of a random world: seeded (sim-sweep) or from bytes (fuzz-cycle, and
 * sim-sweep --input). True if no invariant broke. */
#define SIM_BYTES_STEPS_MAX 2000
enum {
        SIM_RUN_VERBOSE = 1 << 0,               /* the whole trace and the engine's log */
        SIM_RUN_QUIET = 1 << 1,                 /* no trace on a violation */
        SIM_RUN_MASK_LATE_STOPS = 1 << 2,       /* Sim.mask_late_stops */
};
/* ret_violation (may be NULL) gets "I<n>: what" and the replay line on a violation. */
bool sim_run_seed(uint64_t seed, unsigned steps, unsigned flags, char *ret_violation, size_t size);
bool sim_run_bytes(const uint8_t *data, size_t size, const char *name, bool verbose, bool quiet);

/* ---- external events ---- */

void sim_request_sleep(Sim *s, SleepStep operation);
void sim_abort_sleep(Sim *s);           /* the sleep failed before entering */
void sim_wake(Sim *s);                  /* the host resumes */
void sim_resume_call(Sim *s);           /* an operator's Resume() */
void sim_duplicate_prepare(Sim *s);     /* PrepareForSleep(true) again */
int sim_drain(Sim *s, uint64_t timeout_usec);
int sim_restore(Sim *s);
void sim_operator_start(Sim *s, unsigned i);
void sim_operator_stop(Sim *s, unsigned i);
void sim_guest_crash(Sim *s, unsigned i);
void sim_libvirt_die(Sim *s, uint64_t down_usec);
void sim_logind_restart(Sim *s, uint64_t down_usec, bool prepare_again);
void sim_crash(Sim *s, uint64_t down_usec);  /* tdsleepd dies (outside an effect) */
void sim_set_disk_fault(Sim *s, int error);
void sim_set_fdstore_fault(Sim *s, int error);
void sim_set_power_known(Sim *s, bool known);

/* ---- queries ---- */

bool sim_ok(const Sim *s);
JobState sim_job_state(const Sim *s, unsigned i);
/* The newest durable record (NULL if none or finished). */
const State *sim_durable_record(const Sim *s);
bool sim_at_rest(const Sim *s);
void sim_log(Sim *s, const char *fmt, ...) _printf_(2, 3);
void sim_print_trace(const Sim *s, FILE *f);
/* The command that replays this run. */
void sim_replay_line(const Sim *s, char *buf, size_t size);
