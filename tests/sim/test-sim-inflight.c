/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* Scenarios of issue 14: the engine's requests (shutdown, destroy, start, get_xml) are in flight
 * between their submission and their result, and the world moves meanwhile. Each is a
 * scripted run of the real engine in the simulator, with every invariant (I1..I7)
 * checked after every step and the simulator's settling at the end. */

#include "sim-scenario.h"

/* The choices the scripts leave to the simulator, seeded as before the shared helper:
 * the seed is part of each script. */
#define SEED 14

/* The TD stops by itself while libvirtd stalls on our shutdown: the result says it was
 * not running when the request came, so the stop is not ours, and it is not started
 * again after the sleep. The prepare waits for the result meanwhile. */
static void test_stop_by_itself_while_shutdown_stalls(void **state) {
        Sim *s = scenario_new(state, 1, SEED);

        s->stall_next_op = SIM_OP_SHUTDOWN;
        s->stall_next_usec = 5 * SEC;
        sim_boot(s);
        sim_request_sleep(s, SLEEP_STEP_SUSPEND);
        sim_advance(s, 1 * SEC);
        assert_int_equal(scenario_in_flight(s, SIM_OP_SHUTDOWN), 1);
        sim_guest_crash(s, 0);
        sim_deliver_events_now(s);
        assert_int_equal(cycle_phase(s->cycle), CYCLE_PHASE_PREPARING);        /* waits for the result */
        sim_run(s, 60 * SEC);
        assert_int_equal(s->host, SIM_HOST_ASLEEP);
        sim_wake(s);
        sim_run(s, 60 * SEC);
        assert_false(s->domains[0].active);
        assert_int_equal(s->domains[0].start_calls, 0);
        scenario_finish(s);
}

/* The stop window counts from the result: a 12 s stall on a TD with an 8 s window does
 * not turn its graceful shutdown into a destroy. */
static void test_window_counts_from_result(void **state) {
        Sim *s = scenario_new(state, 1, SEED);

        s->domains[0].honour_usec = 6 * SEC;
        s->stall_next_op = SIM_OP_SHUTDOWN;
        s->stall_next_usec = 12 * SEC;
        sim_boot(s);
        sim_request_sleep(s, SLEEP_STEP_SUSPEND);
        sim_run(s, 120 * SEC);
        assert_int_equal(s->host, SIM_HOST_ASLEEP);
        assert_int_equal(s->domains[0].destroys, 0);
        sim_wake(s);
        scenario_finish(s);
}

/* ParallelStart=2 is concurrency: two starts in flight, never three, and each result
 * makes room for the next. */
static void test_parallel_start_is_concurrency(void **state) {
        Sim *s = scenario_new(state, 5, SEED);

        s->cfg.settings.parallel_start = 2;
        sim_boot(s);
        sim_request_sleep(s, SLEEP_STEP_SUSPEND);
        sim_run(s, 120 * SEC);
        assert_int_equal(s->host, SIM_HOST_ASLEEP);
        sim_wake(s);
        assert_int_equal(scenario_in_flight(s, SIM_OP_START), 2);
        for (unsigned k = 0; k < 200 && cycle_phase(s->cycle) != CYCLE_PHASE_IDLE; k++) {
                assert_true(scenario_in_flight(s, SIM_OP_START) <= 2);
                if (!sim_run_next(s))
                        break;
        }
        assert_int_equal(cycle_phase(s->cycle), CYCLE_PHASE_IDLE);
        for (unsigned i = 0; i < 5; i++)
                assert_true(s->domains[i].active);
        scenario_finish(s);
}

/* A sleep comes while a start stalls: the prepare waits for the start's result, then
 * stops the TD it started, before logind may go on. */
static void test_prepare_waits_for_start_in_flight(void **state) {
        Sim *s = scenario_new(state, 1, SEED);

        sim_boot(s);
        sim_request_sleep(s, SLEEP_STEP_SUSPEND);
        sim_run(s, 60 * SEC);
        s->stall_next_op = SIM_OP_START;
        s->stall_next_usec = 10 * SEC;
        sim_wake(s);
        assert_int_equal(scenario_in_flight(s, SIM_OP_START), 1);
        sim_advance(s, 1 * SEC);
        sim_request_sleep(s, SLEEP_STEP_SUSPEND);
        sim_advance(s, 5 * SEC);
        assert_true(s->delay_held);                     /* the start is still on its way */
        sim_run(s, 120 * SEC);                          /* I1 is checked as the host enters */
        assert_int_equal(s->host, SIM_HOST_ASLEEP);
        assert_false(s->domains[0].active);
        sim_wake(s);
        scenario_finish(s);
}

/* tdsleepd crashes with a shutdown in flight: the record has it as sent, so the
 * restarted daemon treats the TD's stop as its own and starts it after the sleep. */
static void test_crash_with_shutdown_in_flight(void **state) {
        Sim *s = scenario_new(state, 2, SEED);

        s->stall_next_op = SIM_OP_SHUTDOWN;
        s->stall_next_usec = 3 * SEC;
        sim_boot(s);
        sim_request_sleep(s, SLEEP_STEP_SUSPEND);
        sim_advance(s, 1 * SEC);
        assert_true(scenario_in_flight(s, SIM_OP_SHUTDOWN) >= 1);
        sim_crash(s, 0);
        sim_run(s, 120 * SEC);
        assert_int_equal(s->host, SIM_HOST_ASLEEP);
        sim_wake(s);
        sim_run(s, 60 * SEC);
        assert_true(s->domains[0].active);
        assert_true(s->domains[1].active);
        scenario_finish(s);
}

/* libvirtd dies under a destroy: the request fails with -ENOTCONN, the job waits for
 * libvirt, and the destroy goes again once it is back. */
static void test_libvirt_dies_under_destroy(void **state) {
        Sim *s = scenario_new(state, 1, SEED);

        s->domains[0].guest = SIM_GUEST_IGNORES;
        s->domains[0].timeout_usec = 2 * SEC;
        s->stall_next_op = SIM_OP_DESTROY;
        s->stall_next_usec = 2 * SEC;
        sim_boot(s);
        sim_request_sleep(s, SLEEP_STEP_SUSPEND);
        sim_advance(s, 3 * SEC);
        assert_int_equal(scenario_in_flight(s, SIM_OP_DESTROY), 1);
        sim_libvirt_die(s, 5 * SEC);
        sim_run(s, 120 * SEC);
        assert_int_equal(s->host, SIM_HOST_ASLEEP);
        assert_false(s->domains[0].active);
        assert_int_equal(s->domains[0].destroys, 1);
        sim_wake(s);
        scenario_finish(s);
}

/* ---- a transient TD's XML, read on a worker ---- */

/* One transient TD, a suspend asked for, and libvirtd stalling stall_usec on the read of
 * its XML: returns 1 s into the prepare, with the read in flight. */
static Sim *transient_xml_read_stalled(void **state, uint64_t stall_usec) {
        Sim *s = scenario_new(state, 1, SEED);

        s->domains[0].persistent = false;
        s->stall_next_op = SIM_OP_GET_XML;
        s->stall_next_usec = stall_usec;
        sim_boot(s);
        sim_request_sleep(s, SLEEP_STEP_SUSPEND);
        sim_advance(s, 1 * SEC);
        assert_int_equal(scenario_in_flight(s, SIM_OP_GET_XML), 1);
        return s;
}

/* Its XML is read before it is stopped, and only then is it marked and shut down: while
 * libvirtd stalls on the read, nothing is sent, and the prepare waits. The XML the
 * record keeps re-creates it after the resume. */
static void test_transient_stopped_after_xml_read(void **state) {
        Sim *s = transient_xml_read_stalled(state, 5 * SEC);

        assert_int_equal(s->domains[0].shutdowns, 0);
        assert_int_equal(cycle_phase(s->cycle), CYCLE_PHASE_PREPARING);
        sim_run(s, 60 * SEC);
        assert_int_equal(s->domains[0].shutdowns, 1);
        assert_int_equal(s->host, SIM_HOST_ASLEEP);
        sim_wake(s);
        sim_run(s, 60 * SEC);
        assert_true(s->domains[0].active);
        scenario_finish(s);
}

/* It stops by itself while its XML is read: not ours, nothing to re-create. */
static void test_transient_stops_while_xml_read(void **state) {
        Sim *s = transient_xml_read_stalled(state, 5 * SEC);

        sim_guest_crash(s, 0);
        sim_deliver_events_now(s);
        sim_run(s, 60 * SEC);
        assert_int_equal(s->domains[0].shutdowns, 0);
        assert_int_equal(s->host, SIM_HOST_ASLEEP);
        sim_wake(s);
        sim_run(s, 60 * SEC);
        assert_int_equal(s->domains[0].start_calls, 0);
        scenario_finish(s);
}

/* libvirtd dies under the read: asked again once it is back, then stopped. */
static void test_libvirt_dies_under_xml_read(void **state) {
        Sim *s = transient_xml_read_stalled(state, 2 * SEC);

        sim_libvirt_die(s, 5 * SEC);
        sim_run(s, 120 * SEC);
        assert_int_equal(s->domains[0].shutdowns, 1);
        assert_int_equal(s->host, SIM_HOST_ASLEEP);
        sim_wake(s);
        sim_run(s, 60 * SEC);
        assert_true(s->domains[0].active);
        scenario_finish(s);
}

/* The sleep is over before the read is: the TD was never touched, and stays running. */
static void test_sleep_over_while_xml_read(void **state) {
        Sim *s = transient_xml_read_stalled(state, 10 * SEC);

        sim_abort_sleep(s);
        sim_run(s, 60 * SEC);
        assert_int_equal(s->domains[0].shutdowns, 0);
        assert_true(s->domains[0].active);
        assert_int_equal(cycle_phase(s->cycle), CYCLE_PHASE_IDLE);
        scenario_finish(s);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_teardown(test_stop_by_itself_while_shutdown_stalls, scenario_teardown),
                cmocka_unit_test_teardown(test_window_counts_from_result, scenario_teardown),
                cmocka_unit_test_teardown(test_parallel_start_is_concurrency, scenario_teardown),
                cmocka_unit_test_teardown(test_prepare_waits_for_start_in_flight, scenario_teardown),
                cmocka_unit_test_teardown(test_crash_with_shutdown_in_flight, scenario_teardown),
                cmocka_unit_test_teardown(test_libvirt_dies_under_destroy, scenario_teardown),
                cmocka_unit_test_teardown(test_transient_stopped_after_xml_read, scenario_teardown),
                cmocka_unit_test_teardown(test_transient_stops_while_xml_read, scenario_teardown),
                cmocka_unit_test_teardown(test_libvirt_dies_under_xml_read, scenario_teardown),
                cmocka_unit_test_teardown(test_sleep_over_while_xml_read, scenario_teardown),
        };

        scenario_log_setup();
        return cmocka_run_group_tests(tests, NULL, NULL);
}
