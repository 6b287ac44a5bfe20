/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* Scenarios of issue 13, scripted as in test-sim-scenarios.c: the stop budget against
 * logind's delay, and the prepare time the cycle's metrics count. Every invariant
 * (I1..I7) is checked after every step, and every run ends with the simulator's settling. */

#include "sim-scenario.h"

/* The choices the scripts leave to the simulator, seeded as when these scenarios were
 * one file: the seed is part of each script. */
#define SEED 9

/* ---- the stop budget (issue 13) ---- */

/* Two TDs that ignore their shutdown, 60 s each, one at a time, and logind waits 40 s, with
 * no s2idle to steer to: the planner cuts each window to 7.5 s, so both are forced off and
 * the host sleeps before logind would go on without tdsleepd; both run again after. */
static void test_budget_cut_windows_fit_logind(void **state) {
        Sim *s = scenario_new(state, 2, SEED);
        uint64_t t0;

        s->cfg.inhibit_delay_max_usec = 40 * SEC;
        s->cfg.settings.parallel_shutdown = 1;
        s->power.mem_sleep_available = POWER_MASK(MEM_SLEEP_DEEP);
        for (unsigned i = 0; i < 2; i++) {
                s->domains[i].guest = SIM_GUEST_IGNORES;
                s->domains[i].timeout_usec = 60 * SEC;
        }
        sim_boot(s);
        t0 = s->now;
        sim_request_sleep(s, SLEEP_STEP_SUSPEND);
        scenario_run_into_sleep(s, 120 * SEC);                   /* I1 is checked as it enters */
        assert_true(s->host_since - t0 < 40 * SEC);
        for (unsigned i = 0; i < 2; i++) {
                assert_false(s->domains[i].active);
                assert_int_equal(s->domains[i].destroys, 1);
        }
        sim_wake(s);
        scenario_finish(s);
}

/* ---- metrics: how long a prepare took (issue 13) ---- */

/* logind's PrepareForSleep(true) stops the TD (5 s of ACPI shutdown); then the sleep
 * hook's Prepare(suspend) plans again, with nothing left to stop. The cycle's prepare
 * time is both stretches, not the hook's last few microseconds. */
static void test_metrics_prepare_time_counts_every_stretch(void **state) {
        Sim *s = scenario_new(state, 1, SEED);
        const CycleResult *r;

        s->domains[0].guest = SIM_GUEST_SLOW;
        s->domains[0].honour_usec = 5 * SEC;
        sim_boot(s);
        sim_request_sleep(s, SLEEP_STEP_SUSPEND);
        scenario_run_into_sleep(s, 120 * SEC);
        assert_true(s->hook_called);
        sim_wake(s);
        sim_run(s, 120 * SEC);
        assert_int_equal(scenario_phase(s), CYCLE_PHASE_IDLE);
        r = cycle_last_result(s->cycle);
        assert_true(r->valid);
        assert_true(r->prepare_usec >= 5 * SEC);
        assert_true(r->prepare_usec < 20 * SEC);
        scenario_finish(s);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_teardown(test_budget_cut_windows_fit_logind, scenario_teardown),
                cmocka_unit_test_teardown(test_metrics_prepare_time_counts_every_stretch, scenario_teardown),
        };

        scenario_log_setup();
        return cmocka_run_group_tests(tests, NULL, NULL);
}
