/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* Named regression scenarios for the engine bugs the simulator found (tests/sim/FOUND.md),
 * one per bug, scripted as in test-sim-scenarios.c: every invariant (I1..I7) is checked
 * after every step, and every run ends with the simulator's settling. */

#include "sim-scenario.h"

/* The choices the scripts leave to the simulator, seeded as when these scenarios were
 * one file: the seed is part of each script. */
#define SEED 9

/* #2: without its XML a transient TD cannot come back: it must not be stopped. */
static void test_found2_transient_without_xml_not_stopped(void **state) {
        Sim *s = scenario_new(state, 1, SEED);

        s->domains[0].persistent = false;
        s->fail_next_op = SIM_OP_GET_XML;
        s->fail_next_errno = -EIO;
        sim_boot(s);
        sim_request_sleep(s, SLEEP_STEP_SUSPEND);
        sim_advance(s, 1 * SEC);
        assert_int_equal(s->domains[0].shutdowns, 0);
        assert_int_equal(sim_job_state(s, 0), JOB_LEFT_RUNNING);
        sim_run(s, 60 * SEC);
        if (s->host == SIM_HOST_ASLEEP)
                sim_wake(s);
        scenario_finish(s);
}

/* #3: the guest honours the shutdown while libvirtd is away (its STOPPED is lost): after
 * the reconnect the engine must see it stopped, and start it after the resume. */
static void test_found3_stop_while_libvirt_away(void **state) {
        Sim *s = scenario_new(state, 1, SEED);

        s->cfg.settings.force_off = false;            /* no destroy to find it stopped */
        s->domains[0].honour_usec = 3 * SEC;
        sim_boot(s);
        sim_request_sleep(s, SLEEP_STEP_SUSPEND);
        sim_advance(s, 1 * SEC);
        sim_libvirt_die(s, 20 * SEC);
        scenario_run_into_sleep(s, 120 * SEC);
        sim_wake(s);
        sim_run(s, 120 * SEC);
        assert_true(s->domains[0].active);
        scenario_finish(s);
}

/* #7: after a restart, a TD of the adopted record waiting under ParallelShutdown= that
 * stops by itself (its STOPPED lost with libvirtd's connection) answers the shutdown with
 * -ESRCH when its turn comes: not tdsleepd's stop, not tdsleepd's to start again. (A
 * live engine drops it: "was not running any more"; the adopted job counts it stopped.) */
static void test_found7_stopped_by_itself_while_queued_not_started(void **state) {
        Sim *s = scenario_new(state, 2, SEED);

        s->cfg.settings.parallel_shutdown = 1;
        s->domains[0].honour_usec = 5 * SEC;
        sim_boot(s);
        sim_request_sleep(s, SLEEP_STEP_SUSPEND);
        sim_advance(s, 500 * USEC_PER_MSEC);
        sim_crash(s, 0);
        sim_advance(s, 1);                             /* tdsleepd is back, adopts the record */
        assert_int_equal(sim_job_state(s, 1), JOB_STOP_PENDING);
        sim_libvirt_die(s, 1 * SEC);
        sim_advance(s, 300 * USEC_PER_MSEC);
        sim_guest_crash(s, 1);
        scenario_run_into_sleep(s, 120 * SEC);
        sim_wake(s);
        sim_run(s, 120 * SEC);
        assert_true(s->domains[0].active);
        assert_false(s->domains[1].active);
        assert_int_equal(s->domains[1].starts, 0);
        scenario_finish(s);
}

/* #9: a resume cut short by a new sleep; the TD waiting for its start retry is started
 * by an operator while the engine prepares: it must be stopped for the sleep. */
static void test_found9_started_while_preparing_after_cut_resume(void **state) {
        Sim *s = scenario_new(state, 2, SEED);

        s->cfg.hook_reachable = false;                 /* no Prepare(step) to re-plan */
        s->domains[0].start_failures = 1;
        s->domains[1].honour_usec = 5 * SEC;
        sim_boot(s);
        scenario_sleep_and_wake(s, SLEEP_STEP_SUSPEND);
        sim_advance(s, 100 * USEC_PER_MSEC);            /* td0's start failed, retry pending */
        assert_false(s->domains[0].active);
        sim_request_sleep(s, SLEEP_STEP_SUSPEND);
        sim_advance(s, 100 * USEC_PER_MSEC);
        sim_operator_start(s, 0);
        scenario_run_into_sleep(s, 120 * SEC);                   /* I1 is checked as it enters */
        assert_false(s->domains[0].active);
        sim_wake(s);
        scenario_finish(s);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_teardown(test_found2_transient_without_xml_not_stopped, scenario_teardown),
                cmocka_unit_test_teardown(test_found3_stop_while_libvirt_away, scenario_teardown),
                cmocka_unit_test_teardown(test_found7_stopped_by_itself_while_queued_not_started, scenario_teardown),
                cmocka_unit_test_teardown(test_found9_started_while_preparing_after_cut_resume, scenario_teardown),
        };

        scenario_log_setup();
        return cmocka_run_group_tests(tests, NULL, NULL);
}
