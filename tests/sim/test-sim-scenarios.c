/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* Named regression scenarios, one per defect of issue 9: scripted (not random) runs of
 * the real cycle engine in the simulator. Each asserts its outcome, and every invariant
 * (I1..I7) is checked after every step as in the random sweep; every run ends with the
 * simulator's settling (faults healed, host awake), after which every cycle must be over
 * and every TD tdsleepd stopped must run again. */

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "log.h"
#include "sim.h"

#define SEC USEC_PER_SEC

/* A scripted world with n TDs; the teardown frees it, even after a failed assertion. */
static Sim *sim_new(void **state, unsigned n) {
        Sim *s = calloc(1, sizeof(Sim));
        SimConfig cfg;

        assert_non_null(s);
        *state = s;
        s->verbose = getenv("SIM_VERBOSE") != NULL;
        sim_source_seed(&s->src, 9);
        sim_config_default(&cfg, n);
        sim_init(s, &cfg);
        return s;
}

/* Settle and check that every invariant held. */
static void sim_finish(Sim *s) {
        sim_settle(s);
        assert_true(sim_ok(s));
}

static int teardown(void **state) {
        Sim *s = *state;

        if (s) {
                sim_done(s);
                free(s);
        }
        return 0;
}

static CyclePhase phase(const Sim *s) {
        assert_non_null(s->cycle);
        return cycle_phase(s->cycle);
}

/* Run until the host has entered the sleep (or limit passes). */
static void run_into_sleep(Sim *s, uint64_t limit) {
        sim_run(s, limit);
        assert_int_equal(s->host, SIM_HOST_ASLEEP);
}

/* ---- defect 1: a sleep aborted while a stop is in flight ---- */

/* PrepareForSleep(false) while the graceful shutdown is pending; the stop timer fires
 * during resuming; the guest finishes its ACPI shutdown after the resume. */
static void test_defect1_sleep_aborted_while_stop_in_flight(void **state) {
        Sim *s = sim_new(state, 1);

        s->domains[0].honour_usec = 10 * SEC;          /* slower than its 8 s timeout */
        s->domains[0].guest = SIM_GUEST_SLOW;
        sim_boot(s);
        sim_request_sleep(s, SLEEP_STEP_SUSPEND);
        sim_advance(s, 1 * SEC);
        assert_int_equal(sim_job_state(s, 0), JOB_STOPPING);
        sim_abort_sleep(s);
        sim_advance(s, 30 * SEC);                      /* the timer fires while resuming */
        sim_run(s, 120 * SEC);
        assert_int_equal(phase(s), CYCLE_PHASE_IDLE);
        assert_true(s->domains[0].active);
        assert_int_equal(s->power.mem_sleep_selected, MEM_SLEEP_DEEP);
        sim_finish(s);
}

static void test_defect1_restore_during_long_drain(void **state) {
        Sim *s = sim_new(state, 2);

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
        assert_int_equal(phase(s), CYCLE_PHASE_IDLE);
        assert_false(cycle_is_drained(s->cycle));
        assert_true(s->domains[0].active);
        assert_true(s->domains[1].active);
        sim_finish(s);
}

static void test_defect1_resume_call_mid_stop(void **state) {
        Sim *s = sim_new(state, 1);

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
        assert_int_equal(phase(s), CYCLE_PHASE_IDLE);
        assert_true(s->domains[0].active);
        sim_finish(s);
}

static void test_defect1_logind_restart_mid_stop(void **state) {
        Sim *s = sim_new(state, 1);

        s->domains[0].guest = SIM_GUEST_SLOW;
        s->domains[0].honour_usec = 10 * SEC;
        sim_boot(s);
        sim_request_sleep(s, SLEEP_STEP_SUSPEND);
        sim_advance(s, 1 * SEC);
        sim_logind_restart(s, 1 * SEC, false);         /* the sleep is gone with it */
        sim_run(s, 120 * SEC);
        assert_int_equal(s->host, SIM_HOST_AWAKE);
        assert_int_equal(phase(s), CYCLE_PHASE_IDLE);
        assert_true(s->domains[0].active);
        assert_true(s->delay_held);
        sim_finish(s);
}

/* ---- defect 2: a drain undone by a restart ---- */

static void test_defect2_drain_survives_tdsleepd_restart(void **state) {
        Sim *s = sim_new(state, 2);

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
        sim_finish(s);
}

static void test_defect2_drain_survives_logind_restart(void **state) {
        Sim *s = sim_new(state, 2);

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
        run_into_sleep(s, 60 * SEC);
        sim_wake(s);
        sim_run(s, 60 * SEC);
        assert_true(cycle_is_drained(s->cycle));
        assert_false(s->domains[0].active);
        assert_int_equal(sim_restore(s), 0);
        sim_run(s, 60 * SEC);
        assert_true(s->domains[0].active);
        sim_finish(s);
}

/* ---- defect 3: start failures after resume ---- */

static void sleep_and_wake(Sim *s, SleepStep step) {
        sim_request_sleep(s, step);
        run_into_sleep(s, 120 * SEC);
        sim_wake(s);
}

static void test_defect3_start_retried_with_backoff(void **state) {
        Sim *s = sim_new(state, 1);

        s->domains[0].start_failures = 2;              /* storage not mounted yet */
        sim_boot(s);
        sleep_and_wake(s, SLEEP_STEP_SUSPEND);
        sim_run(s, 1 * SEC);
        assert_false(s->domains[0].active);
        assert_int_equal(s->domains[0].start_calls, 1);
        sim_run(s, 120 * SEC);
        assert_true(s->domains[0].active);
        assert_int_equal(s->domains[0].start_calls, 3);
        assert_int_equal(s->domains[0].starts, 1);
        assert_int_equal(phase(s), CYCLE_PHASE_IDLE);
        sim_finish(s);
}

static void test_defect3_more_failures_than_parallel_start(void **state) {
        Sim *s = sim_new(state, 4);
        const CycleResult *r;

        s->cfg.settings.parallel_start = 1;
        s->domains[0].start_failures = UINT32_MAX;
        s->domains[1].start_failures = UINT32_MAX;
        sim_boot(s);
        sleep_and_wake(s, SLEEP_STEP_SUSPEND);
        sim_run(s, 600 * SEC);
        assert_int_equal(phase(s), CYCLE_PHASE_IDLE);
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
        sim_finish(s);
}

static void test_defect3_transient_recreate_failure_kept(void **state) {
        Sim *s = sim_new(state, 2);

        s->domains[0].persistent = false;
        s->domains[0].start_failures = UINT32_MAX;
        sim_boot(s);
        sleep_and_wake(s, SLEEP_STEP_HIBERNATE);
        sim_run(s, 600 * SEC);
        assert_int_equal(phase(s), CYCLE_PHASE_IDLE);
        assert_true(s->domains[0].keep_failed);
        assert_true(s->domains[1].active);
        assert_true(cycle_result_failed(cycle_last_result(s->cycle)));
        sim_finish(s);
}

/* ---- defect 4: no durable record, yet destructive steps ---- */

static void test_defect4_enospc_fdstore_crash_while_asleep(void **state) {
        Sim *s = sim_new(state, 2);

        s->domains[1].persistent = false;
        sim_boot(s);
        sim_set_disk_fault(s, -ENOSPC);
        sim_request_sleep(s, SLEEP_STEP_SUSPEND);
        sim_run(s, 1 * SEC);
        assert_true(cycle_record_degraded(s->cycle));
        assert_true(s->fdstore.present);
        run_into_sleep(s, 120 * SEC);
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
        sim_finish(s);
}

static void test_defect4_erofs_at_end_no_replay(void **state) {
        Sim *s = sim_new(state, 2);

        sim_boot(s);
        sim_request_sleep(s, SLEEP_STEP_SUSPEND);
        run_into_sleep(s, 120 * SEC);
        sim_set_disk_fault(s, -EROFS);
        sim_wake(s);
        sim_run(s, 120 * SEC);
        assert_int_equal(phase(s), CYCLE_PHASE_IDLE);
        assert_true(s->domains[0].active);
        assert_true(s->disk.present);                   /* could not be removed */
        assert_null(sim_durable_record(s));            /* but the fd store says finished */
        sim_operator_stop(s, 0);                        /* on purpose */
        sim_crash(s, 0);
        sim_run(s, 120 * SEC);
        assert_false(s->domains[0].active);
        assert_int_equal(s->domains[0].starts, 1);
        sim_finish(s);
}

/* Neither the disk nor the fd store: nothing may be stopped, and it says why. */
static void test_defect4_no_durable_copy_no_stop(void **state) {
        Sim *s = sim_new(state, 1);

        sim_boot(s);
        sim_set_disk_fault(s, -EIO);
        sim_set_fdstore_fault(s, -ENOMEM);
        sim_request_sleep(s, SLEEP_STEP_SUSPEND);
        sim_run(s, 120 * SEC);
        assert_int_equal(s->domains[0].shutdowns, 0);
        assert_true(cycle_record_degraded(s->cycle) || s->host == SIM_HOST_ASLEEP);
        sim_finish(s);
}

/* ---- defect 5: prepare with no view of libvirt ---- */

static void test_defect5_prepare_libvirt_down_since_start(void **state) {
        Sim *s = sim_new(state, 2);

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
        sim_finish(s);
}

/* ---- defect 6: an unreadable /sys/power ---- */

static void test_defect6_unreadable_power_stops_tds(void **state) {
        Sim *s = sim_new(state, 2);

        sim_set_power_known(s, false);
        sim_boot(s);
        sim_request_sleep(s, SLEEP_STEP_SUSPEND);
        run_into_sleep(s, 120 * SEC);
        assert_int_equal(s->domains[0].shutdowns, 1);
        assert_false(s->domains[0].active);
        assert_false(s->domains[1].active);
        sim_wake(s);
        sim_finish(s);
}

/* ---- defect 7: smaller divergences ---- */

static void test_defect7_s2idle_td_started_while_preparing(void **state) {
        Sim *s = sim_new(state, 2);

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
        run_into_sleep(s, 120 * SEC);                   /* I1 is checked on the way */
        assert_true(s->domains[1].shutdowns >= 1);
        assert_false(s->domains[1].active);
        sim_wake(s);
        sim_finish(s);
}

static void test_defect7_replan_keeps_forcing(void **state) {
        Sim *s = sim_new(state, 1);

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
        sim_finish(s);
}

static void test_defect7_failed_shutdown_keeps_graceful_window(void **state) {
        Sim *s = sim_new(state, 1);

        s->domains[0].honour_usec = 2 * SEC;
        s->fail_next_op = SIM_OP_SHUTDOWN;
        s->fail_next_errno = -EIO;                      /* cannot acquire state change lock */
        sim_boot(s);
        sim_request_sleep(s, SLEEP_STEP_SUSPEND);
        run_into_sleep(s, 120 * SEC);
        assert_int_equal(s->domains[0].destroys, 0);
        assert_true(s->domains[0].shutdowns >= 1);
        sim_wake(s);
        sim_finish(s);
}

static void test_defect7_logind_restart_keeps_delay_lock(void **state) {
        Sim *s = sim_new(state, 1);

        sim_boot(s);
        assert_true(s->delay_held);
        sim_logind_restart(s, 2 * SEC, false);
        sim_run(s, 10 * SEC);
        assert_true(s->delay_held);
        sim_request_sleep(s, SLEEP_STEP_SUSPEND);
        run_into_sleep(s, 120 * SEC);
        sim_wake(s);
        sim_finish(s);
}

/* ---- defect 8: a stalled libvirtd eats the graceful window ---- */

static void test_defect8_stall_keeps_graceful_window(void **state) {
        Sim *s = sim_new(state, 1);

        s->domains[0].honour_usec = 1 * SEC;
        s->stall_next_op = SIM_OP_SHUTDOWN;
        s->stall_next_usec = 12 * SEC;
        sim_boot(s);
        sim_request_sleep(s, SLEEP_STEP_SUSPEND);
        run_into_sleep(s, 120 * SEC);
        assert_int_equal(s->domains[0].destroys, 0);
        assert_false(s->domains[0].active);
        sim_wake(s);
        sim_finish(s);
}

/* ---- found by the simulator (tests/sim/FOUND.md) ---- */

/* #2: without its XML a transient TD cannot come back: it must not be stopped. */
static void test_found2_transient_without_xml_not_stopped(void **state) {
        Sim *s = sim_new(state, 1);

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
        sim_finish(s);
}

/* #3: the guest honours the shutdown while libvirtd is away (its STOPPED is lost): after
 * the reconnect the engine must see it stopped, and start it after the resume. */
static void test_found3_stop_while_libvirt_away(void **state) {
        Sim *s = sim_new(state, 1);

        s->cfg.settings.force_off = false;            /* no destroy to find it stopped */
        s->domains[0].honour_usec = 3 * SEC;
        sim_boot(s);
        sim_request_sleep(s, SLEEP_STEP_SUSPEND);
        sim_advance(s, 1 * SEC);
        sim_libvirt_die(s, 20 * SEC);
        run_into_sleep(s, 120 * SEC);
        sim_wake(s);
        sim_run(s, 120 * SEC);
        assert_true(s->domains[0].active);
        sim_finish(s);
}

/* #7: after a restart, a TD of the adopted record waiting under ParallelShutdown= that
 * stops by itself (its STOPPED lost with libvirtd's connection) answers the shutdown with
 * -ESRCH when its turn comes: not tdsleepd's stop, not tdsleepd's to start again. (A
 * live engine drops it: "was not running any more"; the adopted job counts it stopped.) */
static void test_found7_stopped_by_itself_while_queued_not_started(void **state) {
        Sim *s = sim_new(state, 2);

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
        run_into_sleep(s, 120 * SEC);
        sim_wake(s);
        sim_run(s, 120 * SEC);
        assert_true(s->domains[0].active);
        assert_false(s->domains[1].active);
        assert_int_equal(s->domains[1].starts, 0);
        sim_finish(s);
}

/* #9: a resume cut short by a new sleep; the TD waiting for its start retry is started
 * by an operator while the engine prepares: it must be stopped for the sleep. */
static void test_found9_started_while_preparing_after_cut_resume(void **state) {
        Sim *s = sim_new(state, 2);

        s->cfg.hook_reachable = false;                 /* no Prepare(step) to re-plan */
        s->domains[0].start_failures = 1;
        s->domains[1].honour_usec = 5 * SEC;
        sim_boot(s);
        sleep_and_wake(s, SLEEP_STEP_SUSPEND);
        sim_advance(s, 100 * USEC_PER_MSEC);            /* td0's start failed, retry pending */
        assert_false(s->domains[0].active);
        sim_request_sleep(s, SLEEP_STEP_SUSPEND);
        sim_advance(s, 100 * USEC_PER_MSEC);
        sim_operator_start(s, 0);
        run_into_sleep(s, 120 * SEC);                   /* I1 is checked as it enters */
        assert_false(s->domains[0].active);
        sim_wake(s);
        sim_finish(s);
}

/* ---- the stop budget (issue 13) ---- */

/* Two TDs that ignore their shutdown, 60 s each, one at a time, and logind waits 40 s, with
 * no s2idle to steer to: the planner cuts each window to 7.5 s, so both are forced off and
 * the host sleeps before logind would go on without tdsleepd; both run again after. */
static void test_budget_cut_windows_fit_logind(void **state) {
        Sim *s = sim_new(state, 2);
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
        run_into_sleep(s, 120 * SEC);                   /* I1 is checked as it enters */
        assert_true(s->host_since - t0 < 40 * SEC);
        for (unsigned i = 0; i < 2; i++) {
                assert_false(s->domains[i].active);
                assert_int_equal(s->domains[i].destroys, 1);
        }
        sim_wake(s);
        sim_finish(s);
}

/* ---- metrics: how long a prepare took (issue 13) ---- */

/* logind's PrepareForSleep(true) stops the TD (5 s of ACPI shutdown); then the sleep
 * hook's Prepare(suspend) plans again, with nothing left to stop. The cycle's prepare
 * time is both stretches, not the hook's last few microseconds. */
static void test_metrics_prepare_time_counts_every_stretch(void **state) {
        Sim *s = sim_new(state, 1);
        const CycleResult *r;

        s->domains[0].guest = SIM_GUEST_SLOW;
        s->domains[0].honour_usec = 5 * SEC;
        sim_boot(s);
        sim_request_sleep(s, SLEEP_STEP_SUSPEND);
        run_into_sleep(s, 120 * SEC);
        assert_true(s->hook_called);
        sim_wake(s);
        sim_run(s, 120 * SEC);
        assert_int_equal(phase(s), CYCLE_PHASE_IDLE);
        r = cycle_last_result(s->cycle);
        assert_true(r->valid);
        assert_true(r->prepare_usec >= 5 * SEC);
        assert_true(r->prepare_usec < 20 * SEC);
        sim_finish(s);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_teardown(test_defect1_sleep_aborted_while_stop_in_flight, teardown),
                cmocka_unit_test_teardown(test_defect1_restore_during_long_drain, teardown),
                cmocka_unit_test_teardown(test_defect1_resume_call_mid_stop, teardown),
                cmocka_unit_test_teardown(test_defect1_logind_restart_mid_stop, teardown),
                cmocka_unit_test_teardown(test_defect2_drain_survives_tdsleepd_restart, teardown),
                cmocka_unit_test_teardown(test_defect2_drain_survives_logind_restart, teardown),
                cmocka_unit_test_teardown(test_defect3_start_retried_with_backoff, teardown),
                cmocka_unit_test_teardown(test_defect3_more_failures_than_parallel_start, teardown),
                cmocka_unit_test_teardown(test_defect3_transient_recreate_failure_kept, teardown),
                cmocka_unit_test_teardown(test_defect4_enospc_fdstore_crash_while_asleep, teardown),
                cmocka_unit_test_teardown(test_defect4_erofs_at_end_no_replay, teardown),
                cmocka_unit_test_teardown(test_defect4_no_durable_copy_no_stop, teardown),
                cmocka_unit_test_teardown(test_defect5_prepare_libvirt_down_since_start, teardown),
                cmocka_unit_test_teardown(test_defect6_unreadable_power_stops_tds, teardown),
                cmocka_unit_test_teardown(test_defect7_s2idle_td_started_while_preparing, teardown),
                cmocka_unit_test_teardown(test_defect7_replan_keeps_forcing, teardown),
                cmocka_unit_test_teardown(test_defect7_failed_shutdown_keeps_graceful_window, teardown),
                cmocka_unit_test_teardown(test_defect7_logind_restart_keeps_delay_lock, teardown),
                cmocka_unit_test_teardown(test_defect8_stall_keeps_graceful_window, teardown),
                cmocka_unit_test_teardown(test_found2_transient_without_xml_not_stopped, teardown),
                cmocka_unit_test_teardown(test_found3_stop_while_libvirt_away, teardown),
                cmocka_unit_test_teardown(test_found7_stopped_by_itself_while_queued_not_started, teardown),
                cmocka_unit_test_teardown(test_found9_started_while_preparing_after_cut_resume, teardown),
                cmocka_unit_test_teardown(test_budget_cut_windows_fit_logind, teardown),
                cmocka_unit_test_teardown(test_metrics_prepare_time_counts_every_stretch, teardown),
        };

        log_set_max_level(getenv("SIM_VERBOSE") ? LOG_DEBUG : -1);
        return cmocka_run_group_tests(tests, NULL, NULL);
}
