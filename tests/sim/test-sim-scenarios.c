/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* Named regression scenarios, one per defect of issue 9: scripted (not random) runs of
 * the real cycle engine in the simulator. Each asserts its outcome, and every invariant
 * (I1..I7) is checked after every step as in the random sweep; every run ends with the
 * simulator's settling (faults healed, host awake), after which every cycle must be over
 * and every TD tdsleepd stopped must run again. The defects the simulator found later
 * are in test-sim-found.c, the stop budget's in test-sim-budget.c. */

#include "sim-scenario.h"

/* The choices the scripts leave to the simulator, seeded as when these scenarios were
 * one file: the seed is part of each script. */
#define SEED 9

/* ---- defect 1: a sleep aborted while a stop is in flight ---- */

/* PrepareForSleep(false) while the graceful shutdown is pending; the stop timer fires
 * during resuming; the guest finishes its ACPI shutdown after the resume. */
static void test_defect1_sleep_aborted_while_stop_in_flight(void **state) {
        Sim *s = scenario_new(state, 1, SEED);

        s->domains[0].honour_usec = 10 * SEC;          /* slower than its 8 s timeout */
        s->domains[0].guest = SIM_GUEST_SLOW;
        sim_boot(s);
        sim_request_sleep(s, SLEEP_STEP_SUSPEND);
        sim_advance(s, 1 * SEC);
        assert_int_equal(sim_job_state(s, 0), JOB_STOPPING);
        sim_abort_sleep(s);
        sim_advance(s, 30 * SEC);                      /* the timer fires while resuming */
        sim_run(s, 120 * SEC);
        assert_int_equal(scenario_phase(s), CYCLE_PHASE_IDLE);
        assert_true(s->domains[0].active);
        assert_int_equal(s->power.mem_sleep_selected, MEM_SLEEP_DEEP);
        scenario_finish(s);
}

static void test_defect1_restore_during_long_drain(void **state) {
        Sim *s = scenario_new(state, 2, SEED);

        s->domains[0].guest = SIM_GUEST_IGNORES;       /* drained only by force-off */
        sim_boot(s);
        assert_int_equal(sim_drain(s, 0), 0);
        sim_advance(s, 2 * SEC);
        assert_int_equal(sim_job_state(s, 0), JOB_STOPPING);
        sim_restore(s);                                 /* -EBUSY or accepted: either way */
        sim_run(s, 300 * SEC);
        if (cycle_is_drained(s->cycle))
                assert_int_equal(sim_restore(s), 0);
        sim_run(s, 300 * SEC);
        assert_int_equal(scenario_phase(s), CYCLE_PHASE_IDLE);
        assert_false(cycle_is_drained(s->cycle));
        assert_true(s->domains[0].active);
        assert_true(s->domains[1].active);
        scenario_finish(s);
}

static void test_defect1_resume_call_mid_stop(void **state) {
        Sim *s = scenario_new(state, 1, SEED);

        s->domains[0].guest = SIM_GUEST_SLOW;
        s->domains[0].honour_usec = 10 * SEC;
        sim_boot(s);
        sim_request_sleep(s, SLEEP_STEP_SUSPEND);
        sim_advance(s, 1 * SEC);
        sim_resume_call(s);
        sim_run(s, 120 * SEC);
        /* Either the sleep went on once logind saw no lock, or it was called off. */
        if (s->host == SIM_HOST_ASLEEP)
                sim_wake(s);
        sim_run(s, 120 * SEC);
        assert_int_equal(scenario_phase(s), CYCLE_PHASE_IDLE);
        assert_true(s->domains[0].active);
        scenario_finish(s);
}

static void test_defect1_logind_restart_mid_stop(void **state) {
        Sim *s = scenario_new(state, 1, SEED);

        s->domains[0].guest = SIM_GUEST_SLOW;
        s->domains[0].honour_usec = 10 * SEC;
        sim_boot(s);
        sim_request_sleep(s, SLEEP_STEP_SUSPEND);
        sim_advance(s, 1 * SEC);
        sim_logind_restart(s, 1 * SEC, false);         /* the sleep is gone with it */
        sim_run(s, 120 * SEC);
        assert_int_equal(s->host, SIM_HOST_AWAKE);
        assert_int_equal(scenario_phase(s), CYCLE_PHASE_IDLE);
        assert_true(s->domains[0].active);
        assert_true(s->delay_held);
        scenario_finish(s);
}

/* ---- defect 2: a drain undone by a restart ---- */

static void test_defect2_drain_survives_tdsleepd_restart(void **state) {
        Sim *s = scenario_new(state, 2, SEED);

        sim_boot(s);
        assert_int_equal(sim_drain(s, 0), 0);
        sim_run(s, 60 * SEC);
        assert_true(cycle_is_drained(s->cycle));
        assert_false(s->domains[0].active);
        sim_crash(s, 0);
        sim_run(s, 60 * SEC);
        assert_non_null(s->cycle);
        assert_true(cycle_is_drained(s->cycle));
        assert_false(s->domains[0].active);
        assert_false(s->domains[1].active);
        assert_int_equal(sim_restore(s), 0);
        sim_run(s, 60 * SEC);
        assert_true(s->domains[0].active);
        assert_true(s->domains[1].active);
        assert_int_equal(s->domains[0].starts, 1);
        scenario_finish(s);
}

static void test_defect2_drain_survives_logind_restart(void **state) {
        Sim *s = scenario_new(state, 2, SEED);

        sim_boot(s);
        assert_int_equal(sim_drain(s, 0), 0);
        sim_run(s, 60 * SEC);
        assert_true(cycle_is_drained(s->cycle));
        sim_logind_restart(s, 1 * SEC, false);
        sim_run(s, 60 * SEC);
        assert_true(cycle_is_drained(s->cycle));
        assert_false(s->domains[0].active);
        assert_false(s->domains[1].active);
        /* A sleep while drained keeps the drain too. */
        sim_request_sleep(s, SLEEP_STEP_SUSPEND);
        scenario_run_into_sleep(s, 60 * SEC);
        sim_wake(s);
        sim_run(s, 60 * SEC);
        assert_true(cycle_is_drained(s->cycle));
        assert_false(s->domains[0].active);
        assert_int_equal(sim_restore(s), 0);
        sim_run(s, 60 * SEC);
        assert_true(s->domains[0].active);
        scenario_finish(s);
}

/* ---- defect 3: start failures after resume ---- */

static void test_defect3_start_retried_with_backoff(void **state) {
        Sim *s = scenario_new(state, 1, SEED);

        s->domains[0].start_failures = 2;              /* storage not mounted yet */
        sim_boot(s);
        scenario_sleep_and_wake(s, SLEEP_STEP_SUSPEND);
        sim_run(s, 1 * SEC);
        assert_false(s->domains[0].active);
        assert_int_equal(s->domains[0].start_calls, 1);
        sim_run(s, 120 * SEC);
        assert_true(s->domains[0].active);
        assert_int_equal(s->domains[0].start_calls, 3);
        assert_int_equal(s->domains[0].starts, 1);
        assert_int_equal(scenario_phase(s), CYCLE_PHASE_IDLE);
        scenario_finish(s);
}

static void test_defect3_more_failures_than_parallel_start(void **state) {
        Sim *s = scenario_new(state, 4, SEED);
        const CycleResult *r;

        s->cfg.settings.parallel_start = 1;
        s->domains[0].start_failures = UINT32_MAX;
        s->domains[1].start_failures = UINT32_MAX;
        sim_boot(s);
        scenario_sleep_and_wake(s, SLEEP_STEP_SUSPEND);
        sim_run(s, 600 * SEC);
        assert_int_equal(scenario_phase(s), CYCLE_PHASE_IDLE);
        assert_true(s->domains[2].active);
        assert_true(s->domains[3].active);
        assert_false(s->domains[0].active);
        assert_int_equal(s->domains[0].start_calls, s->cfg.settings.start_attempts);
        assert_int_equal(s->domains[1].start_calls, s->cfg.settings.start_attempts);
        r = cycle_last_result(s->cycle);
        assert_true(r->valid);
        assert_true(cycle_result_failed(r));
        for (size_t i = 0; i < r->n_domains; i++)
                if (streq(r->domains[i].uuid, s->domains[0].uuid)) {
                        assert_int_equal(r->domains[i].outcome, JOB_START_FAILED);
                        assert_non_null(r->domains[i].error);
                }
        scenario_finish(s);
}

static void test_defect3_transient_recreate_failure_kept(void **state) {
        Sim *s = scenario_new(state, 2, SEED);

        s->domains[0].persistent = false;
        s->domains[0].start_failures = UINT32_MAX;
        sim_boot(s);
        scenario_sleep_and_wake(s, SLEEP_STEP_HIBERNATE);
        sim_run(s, 600 * SEC);
        assert_int_equal(scenario_phase(s), CYCLE_PHASE_IDLE);
        assert_true(s->domains[0].keep_failed);
        assert_true(s->domains[1].active);
        assert_true(cycle_result_failed(cycle_last_result(s->cycle)));
        scenario_finish(s);
}

/* ---- defect 4: no durable record, yet destructive steps ---- */

static void test_defect4_enospc_fdstore_crash_while_asleep(void **state) {
        Sim *s = scenario_new(state, 2, SEED);

        s->domains[1].persistent = false;
        sim_boot(s);
        sim_set_disk_fault(s, -ENOSPC);
        sim_request_sleep(s, SLEEP_STEP_SUSPEND);
        sim_run(s, 1 * SEC);
        assert_true(cycle_record_degraded(s->cycle));
        assert_true(s->fdstore.present);
        scenario_run_into_sleep(s, 120 * SEC);
        assert_false(s->domains[0].active);
        assert_false(s->domains[1].active);
        /* tdsleepd dies just before the host sleeps; it comes back after the resume. */
        sim_crash(s, 3600 * SEC);
        sim_wake(s);
        s->restart_at = s->now;
        sim_run(s, 120 * SEC);
        assert_non_null(s->cycle);
        assert_true(s->domains[0].active);
        assert_true(s->domains[1].active);
        scenario_finish(s);
}

static void test_defect4_erofs_at_end_no_replay(void **state) {
        Sim *s = scenario_new(state, 2, SEED);

        sim_boot(s);
        sim_request_sleep(s, SLEEP_STEP_SUSPEND);
        scenario_run_into_sleep(s, 120 * SEC);
        sim_set_disk_fault(s, -EROFS);
        sim_wake(s);
        sim_run(s, 120 * SEC);
        assert_int_equal(scenario_phase(s), CYCLE_PHASE_IDLE);
        assert_true(s->domains[0].active);
        assert_true(s->disk.present);                   /* could not be removed */
        assert_null(sim_durable_record(s));            /* but the fd store says finished */
        sim_operator_stop(s, 0);                        /* on purpose */
        sim_crash(s, 0);
        sim_run(s, 120 * SEC);
        assert_false(s->domains[0].active);
        assert_int_equal(s->domains[0].starts, 1);
        scenario_finish(s);
}

/* Neither the disk nor the fd store: nothing may be stopped, and it says why. */
static void test_defect4_no_durable_copy_no_stop(void **state) {
        Sim *s = scenario_new(state, 1, SEED);

        sim_boot(s);
        sim_set_disk_fault(s, -EIO);
        sim_set_fdstore_fault(s, -ENOMEM);
        sim_request_sleep(s, SLEEP_STEP_SUSPEND);
        sim_run(s, 120 * SEC);
        assert_int_equal(s->domains[0].shutdowns, 0);
        assert_true(cycle_record_degraded(s->cycle) || s->host == SIM_HOST_ASLEEP);
        scenario_finish(s);
}

/* ---- defect 5: prepare with no view of libvirt ---- */

static void test_defect5_prepare_libvirt_down_since_start(void **state) {
        Sim *s = scenario_new(state, 2, SEED);

        sim_libvirt_die(s, 20 * SEC);                  /* down before tdsleepd starts */
        sim_boot(s);
        sim_request_sleep(s, SLEEP_STEP_SUSPEND);
        sim_run(s, 5 * SEC);
        assert_int_not_equal(s->host, SIM_HOST_ASLEEP);        /* it waits for libvirt */
        assert_true(cycle_awaiting_libvirt(s->cycle));
        sim_run(s, 120 * SEC);                          /* libvirt is back at 20 s */
        if (s->host == SIM_HOST_ASLEEP) {
                assert_false(s->domains[0].active);
                assert_false(s->domains[1].active);
        }
        scenario_finish(s);
}

/* ---- defect 6: an unreadable /sys/power ---- */

static void test_defect6_unreadable_power_stops_tds(void **state) {
        Sim *s = scenario_new(state, 2, SEED);

        sim_set_power_known(s, false);
        sim_boot(s);
        sim_request_sleep(s, SLEEP_STEP_SUSPEND);
        scenario_run_into_sleep(s, 120 * SEC);
        assert_int_equal(s->domains[0].shutdowns, 1);
        assert_false(s->domains[0].active);
        assert_false(s->domains[1].active);
        sim_wake(s);
        scenario_finish(s);
}

/* ---- defect 7: smaller divergences ---- */

static void test_defect7_s2idle_td_started_while_preparing(void **state) {
        Sim *s = scenario_new(state, 2, SEED);

        s->power.states |= POWER_MASK(POWER_STATE_DISK);
        s->power.has_swap = true;
        s->domains[0].guest = SIM_GUEST_SLOW;
        s->domains[0].honour_usec = 6 * SEC;
        s->domains[1].action = SLEEP_ACTION_S2IDLE;
        s->domains[1].active = false;
        sim_boot(s);
        sim_request_sleep(s, SLEEP_STEP_HIBERNATE);
        sim_advance(s, 1 * SEC);
        sim_operator_start(s, 1);
        scenario_run_into_sleep(s, 120 * SEC);                   /* I1 is checked on the way */
        assert_true(s->domains[1].shutdowns >= 1);
        assert_false(s->domains[1].active);
        sim_wake(s);
        scenario_finish(s);
}

static void test_defect7_replan_keeps_forcing(void **state) {
        Sim *s = scenario_new(state, 1, SEED);

        s->domains[0].guest = SIM_GUEST_IGNORES;
        s->domains[0].timeout_usec = 2 * SEC;
        sim_boot(s);
        sim_request_sleep(s, SLEEP_STEP_SUSPEND);
        sim_advance(s, 1 * SEC);
        sim_libvirt_die(s, 20 * SEC);
        sim_advance(s, 3 * SEC);
        /* The window ended while libvirt was away: nothing is decided without it (the
         * force-off waits for the reconnect), and a re-plan does not ask again. */
        assert_int_equal(sim_job_state(s, 0), JOB_STOPPING);
        sim_duplicate_prepare(s);                       /* a re-plan */
        assert_int_equal(sim_job_state(s, 0), JOB_STOPPING);
        sim_run(s, 60 * SEC);
        assert_int_equal(s->domains[0].shutdowns, 1);
        assert_int_equal(s->domains[0].destroys, 1);
        if (s->host == SIM_HOST_ASLEEP)
                sim_wake(s);
        scenario_finish(s);
}

static void test_defect7_failed_shutdown_keeps_graceful_window(void **state) {
        Sim *s = scenario_new(state, 1, SEED);

        s->domains[0].honour_usec = 2 * SEC;
        s->fail_next_op = SIM_OP_SHUTDOWN;
        s->fail_next_errno = -EIO;                      /* cannot acquire state change lock */
        sim_boot(s);
        sim_request_sleep(s, SLEEP_STEP_SUSPEND);
        scenario_run_into_sleep(s, 120 * SEC);
        assert_int_equal(s->domains[0].destroys, 0);
        assert_true(s->domains[0].shutdowns >= 1);
        sim_wake(s);
        scenario_finish(s);
}

static void test_defect7_logind_restart_keeps_delay_lock(void **state) {
        Sim *s = scenario_new(state, 1, SEED);

        sim_boot(s);
        assert_true(s->delay_held);
        sim_logind_restart(s, 2 * SEC, false);
        sim_run(s, 10 * SEC);
        assert_true(s->delay_held);
        sim_request_sleep(s, SLEEP_STEP_SUSPEND);
        scenario_run_into_sleep(s, 120 * SEC);
        sim_wake(s);
        scenario_finish(s);
}

/* ---- defect 8: a stalled libvirtd eats the graceful window ---- */

static void test_defect8_stall_keeps_graceful_window(void **state) {
        Sim *s = scenario_new(state, 1, SEED);

        s->domains[0].honour_usec = 1 * SEC;
        s->stall_next_op = SIM_OP_SHUTDOWN;
        s->stall_next_usec = 12 * SEC;
        sim_boot(s);
        sim_request_sleep(s, SLEEP_STEP_SUSPEND);
        scenario_run_into_sleep(s, 120 * SEC);
        assert_int_equal(s->domains[0].destroys, 0);
        assert_false(s->domains[0].active);
        sim_wake(s);
        scenario_finish(s);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_teardown(test_defect1_sleep_aborted_while_stop_in_flight, scenario_teardown),
                cmocka_unit_test_teardown(test_defect1_restore_during_long_drain, scenario_teardown),
                cmocka_unit_test_teardown(test_defect1_resume_call_mid_stop, scenario_teardown),
                cmocka_unit_test_teardown(test_defect1_logind_restart_mid_stop, scenario_teardown),
                cmocka_unit_test_teardown(test_defect2_drain_survives_tdsleepd_restart, scenario_teardown),
                cmocka_unit_test_teardown(test_defect2_drain_survives_logind_restart, scenario_teardown),
                cmocka_unit_test_teardown(test_defect3_start_retried_with_backoff, scenario_teardown),
                cmocka_unit_test_teardown(test_defect3_more_failures_than_parallel_start, scenario_teardown),
                cmocka_unit_test_teardown(test_defect3_transient_recreate_failure_kept, scenario_teardown),
                cmocka_unit_test_teardown(test_defect4_enospc_fdstore_crash_while_asleep, scenario_teardown),
                cmocka_unit_test_teardown(test_defect4_erofs_at_end_no_replay, scenario_teardown),
                cmocka_unit_test_teardown(test_defect4_no_durable_copy_no_stop, scenario_teardown),
                cmocka_unit_test_teardown(test_defect5_prepare_libvirt_down_since_start, scenario_teardown),
                cmocka_unit_test_teardown(test_defect6_unreadable_power_stops_tds, scenario_teardown),
                cmocka_unit_test_teardown(test_defect7_s2idle_td_started_while_preparing, scenario_teardown),
                cmocka_unit_test_teardown(test_defect7_replan_keeps_forcing, scenario_teardown),
                cmocka_unit_test_teardown(test_defect7_failed_shutdown_keeps_graceful_window, scenario_teardown),
                cmocka_unit_test_teardown(test_defect7_logind_restart_keeps_delay_lock, scenario_teardown),
                cmocka_unit_test_teardown(test_defect8_stall_keeps_graceful_window, scenario_teardown),
        };

        scenario_log_setup();
        return cmocka_run_group_tests(tests, NULL, NULL);
}
