/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "macros.h"

/* The sleep state machine: idle -> preparing -> ready -> resuming -> idle.
 * Preparing stops the TDs that do not survive the step (in parallel, bounded, with
 * timeouts and force-off); resuming starts them again. Every destructive step is
 * preceded by a durable write of the state, so a restarted daemon finishes the cycle. */

#include <stdbool.h>

#include "plan.h"
#include "state.h"
#include "virt.h"

typedef struct Manager Manager;
typedef struct Cycle Cycle;

int cycle_new(Manager *m, Cycle **ret);
Cycle *cycle_free(Cycle *c);
DEFINE_TRIVIAL_CLEANUP_FUNC(Cycle *, cycle_free)

/* Load the state file left by a previous run (a corrupt one is moved aside loudly). */
int cycle_load(Cycle *c);

/* PrepareForSleep(true): act now, or wait for the sleep hook when only it knows the step. */
void cycle_prepare_for_sleep(Cycle *c);
/* Prepare for a sleep step (SLEEP_STEP_UNKNOWN: assume the worst). Idempotent for the
 * same step; a new step plans again, keeping what is stopped. */
void cycle_prepare(Cycle *c, SleepStep step);
/* The sleep is over (or failed): start again what was stopped (not a drain). */
void cycle_resume(Cycle *c);
/* Stop every TD for maintenance; timeout_usec > 0 overrides the stop timeouts.
 * -EBUSY unless idle. */
int cycle_drain(Cycle *c, uint64_t timeout_usec);
/* Start again what a drain stopped. -ENOENT without a drain, -EBUSY while sleeping. */
int cycle_restore(Cycle *c);
/* logind appeared (again): a cycle restored from the state file decides how to go on. */
void cycle_on_logind(Cycle *c, bool preparing_for_sleep);

void cycle_on_domain_event(Cycle *c, Domain *d, int event);
/* libvirt connected or went away: re-check every job against the fresh domain table. */
void cycle_on_libvirt_changed(Cycle *c);

CyclePhase cycle_phase(const Cycle *c);
/* The step of the cycle in progress; _SLEEP_STEP_INVALID when idle. */
SleepStep cycle_step(const Cycle *c);
bool cycle_awaiting_hook(const Cycle *c);
/* Call visit for each TD of the cycle with its state ("stopping", "started", ...). */
typedef void (*CycleDomainVisitor)(void *userdata, const StateDomain *d, const char *state);
void cycle_foreach_domain(const Cycle *c, CycleDomainVisitor visit, void *userdata);
/* How many TDs of the cycle stopped, were left running, failed to stop. */
void cycle_counts(const Cycle *c, unsigned *ret_stopped, unsigned *ret_left_running, unsigned *ret_failed);
