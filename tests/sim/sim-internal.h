/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Shared between the simulator's files (sim.c: the ops and tdsleepd; sim-world.c: the
 * events; sim-check.c: the invariants; sim-driver.c: random worlds and steps). */

#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

#include "log.h"
#include "sim.h"

#define SIM_BOOT_ID "b007b007b007b007b007b007b007b007"
/* Random crashes per run at most (a run must end). */
#define SIM_CRASHES_MAX 200
/* Internal events at one instant before the simulator calls it a busy loop. */
#define SIM_SAME_INSTANT_MAX 10000

#ifndef MAX
#define MAX(a, b) ((a) > (b) ? (a) : (b))
#endif
#ifndef MIN
#define MIN(a, b) ((a) < (b) ? (a) : (b))
#endif

/* Like assert(), also in release builds: the simulator's own consistency. */
#define assert_se(expr)                                                                 \
        do {                                                                            \
                if (!(expr)) {                                                          \
                        fprintf(stderr, "%s:%d: simulator assertion failed: %s\n",      \
                                __FILE__, __LINE__, #expr);                             \
                        abort();                                                        \
                }                                                                       \
        } while (0)

typedef enum SimStopReason {
        SIM_STOP_DESTROYED,     /* tdsleepd's destroy */
        SIM_STOP_BY_ITSELF,     /* the guest: ACPI honoured, or a crash */
        SIM_STOP_LOST_IN_SLEEP, /* TDX state lost in S3/S4 */
        SIM_STOP_OPERATOR,      /* virsh shutdown by an operator */
} SimStopReason;

/* sim-ops.c */
extern const CycleOps sim_ops;
int sim_state_copy(const State *from, State *ret);
void sim_copy_clear(SimCopy *c);

bool sim_op_enter(Sim *s, SimOp op);
void sim_op_leave(Sim *s);
int sim_op_fault(Sim *s, SimOp op, const char *words);

/* sim-effects.c */
int sim_submit_shutdown(void *userdata, uint64_t request, const char *uuid);
int sim_submit_get_xml(void *userdata, uint64_t request, const char *uuid);
int sim_submit_destroy(void *userdata, uint64_t request, const char *uuid);
int sim_submit_start(void *userdata, uint64_t request, const StateDomain *sd);
/* The next request to land or be done, and when; SIM_USEC_INFINITY: none. */
uint64_t sim_effect_next(const Sim *s, unsigned *ret_index);
void sim_effect_run(Sim *s, unsigned i);
void sim_effects_libvirt_lost(Sim *s);
void sim_effects_crash(Sim *s);
/* A request for d that has not landed yet. */
bool sim_request_in_flight(const Sim *s, const SimDomain *d);

/* sim.c */
void sim_domain_started(Sim *s, SimDomain *d);
bool sim_chance(Sim *s, unsigned permille);
void sim_violation(Sim *s, const char *invariant, const char *fmt, ...) _printf_(3, 4);
SimDomain *sim_find(Sim *s, const char *uuid);
void sim_domain_xml(const SimDomain *d, char *buf, size_t size);
PlanDomain sim_plan_domain(const SimDomain *d);
void sim_queue_event(Sim *s, SimDomain *d, bool started);
void sim_domain_stopped(Sim *s, SimDomain *d, SimStopReason why);
void sim_guests_due(Sim *s);
void sim_engine_returned(Sim *s);
uint64_t sim_crash_down_usec(Sim *s);
void sim_start_daemon(Sim *s);
bool sim_logind_preparing(const Sim *s);

/* sim-check.c */
uint64_t sim_bound_usec(const Sim *s);
bool sim_truth_keeps(const Sim *s);
void sim_follow_cycle(Sim *s);
void sim_check(Sim *s);
void sim_check_start(Sim *s, SimDomain *d);
void sim_check_saved(Sim *s, const State *st);
void sim_check_destructive(Sim *s, const SimDomain *d, const char *what);
void sim_check_entry(Sim *s);
void sim_check_end(Sim *s);
