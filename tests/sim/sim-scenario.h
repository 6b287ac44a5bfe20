/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* What every scripted scenario (test-sim-*.c, cmocka) needs around the simulator: a
 * world it owns and frees even after a failed assertion, the closing check, and the
 * few steps the scripts share. Failures are cmocka assertions. */

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "sim.h"

#define SEC USEC_PER_SEC

/* A scripted world with n TDs, its choices seeded with seed; stored in *state so that
 * scenario_teardown() frees it. SIM_VERBOSE in the environment prints its trace. */
Sim *scenario_new(void **state, unsigned n, uint64_t seed);

/* Settle (faults healed, host awake) and check that every invariant held. */
void scenario_finish(Sim *s);

/* cmocka teardown: frees the world of scenario_new(). */
int scenario_teardown(void **state);

/* The engine's phase (the engine must exist). */
CyclePhase scenario_phase(const Sim *s);

/* Run until the host has entered the sleep (or limit passes: then fail). */
void scenario_run_into_sleep(Sim *s, uint64_t limit);

/* Ask for a sleep of this step, run into it, and wake the host. */
void scenario_sleep_and_wake(Sim *s, SleepStep step);

/* How many requests of this op are submitted and not landed yet. */
unsigned scenario_in_flight(const Sim *s, SimOp op);

/* The engine's log at debug with SIM_VERBOSE, else silent. */
void scenario_log_setup(void);
