/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* common/history.c: cycles rebuilt from synthetic journal entries, as tdsleepd writes them
 * (daemon/cycle-journal.c), and --since's times. */

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "history.h"
#include "journal-ids.h"
#include "macros.h"

#define CYCLE_A "0123456789abcdef0123456789abcdef"
#define CYCLE_B "fedcba9876543210fedcba9876543210"
#define T0 ((uint64_t) 1764555600 * USEC_PER_SEC)       /* 2025-12-01 02:20:00 UTC */

#define ENTRY(h, t, ...) add_entry((h), (t), (const char *const[]) { __VA_ARGS__, NULL })

static int add_entry(History *h, uint64_t t, const char *const *fields) {
        size_t n = 0;

        while (fields[n])
                n++;
        return history_add_entry(h, t, fields, n);
}

static void outcome(History *h, uint64_t t, const char *cycle, const char *name, const char *uuid,
                    const char *what, bool stopped, bool forced) {
        char id[64], dom[64], uu[64], out[64], st[32], fo[32];

        snprintf(id, sizeof id, "TDSLEEP_CYCLE_ID=%s", cycle);
        snprintf(dom, sizeof dom, "TDSLEEP_DOMAIN=%s", name);
        snprintf(uu, sizeof uu, "TDSLEEP_UUID=%s", uuid);
        snprintf(out, sizeof out, "TDSLEEP_OUTCOME=%s", what);
        snprintf(st, sizeof st, "TDSLEEP_WAS_STOPPED=%d", stopped);
        snprintf(fo, sizeof fo, "TDSLEEP_WAS_FORCED_OFF=%d", forced);
        assert_int_equal(ENTRY(h, t, "MESSAGE_ID=" ID_TD_OUTCOME, id, dom, uu, out, st, fo), 0);
}

/* A suspend as tdsleepd logs it: two TDs stop, one is forced off, all three start again. */
static void add_suspend(History *h, const char *cycle, uint64_t t) {
        char id[64];

        snprintf(id, sizeof id, "TDSLEEP_CYCLE_ID=%s", cycle);
        assert_int_equal(ENTRY(h, t, "MESSAGE_ID=" ID_CYCLE_STARTED, id, "TDSLEEP_STEP=suspend",
                               "TDSLEEP_TO_STOP=3"), 0);
        assert_int_equal(ENTRY(h, t + 3500000, "MESSAGE_ID=" ID_LOCK_RELEASED, id, "TDSLEEP_STEP=suspend",
                               "TDSLEEP_PREPARE_USEC=3500000", "TDSLEEP_STOPPED=3", "TDSLEEP_FORCED_OFF=1",
                               "TDSLEEP_LEFT_RUNNING=0", "TDSLEEP_STOP_FAILED=0",
                               "TDSLEEP_LOCK_HELD_USEC=3600000"), 0);
        outcome(h, t + 9000000, cycle, "td-acpi-1", "11111111-1111-1111-1111-111111111111", "started", true, false);
        outcome(h, t + 9000000, cycle, "td-acpi-2", "22222222-2222-2222-2222-222222222222", "started", true, false);
        outcome(h, t + 9000000, cycle, "td-ignore", "33333333-3333-3333-3333-333333333333", "started", true, true);
        assert_int_equal(ENTRY(h, t + 9000000, "MESSAGE_ID=" ID_CYCLE_DONE, id, "TDSLEEP_STEP=suspend",
                               "TDSLEEP_PREPARE_USEC=3500000", "TDSLEEP_RESUME_USEC=1200000",
                               "TDSLEEP_STARTED=3", "TDSLEEP_START_FAILED=0", "TDSLEEP_STOPPED=3",
                               "TDSLEEP_FORCED_OFF=1", "TDSLEEP_DURATION_USEC=9000000",
                               "TDSLEEP_LOCK_HELD_USEC=3600000"), 0);
}

static void test_suspend_cycle(void **state) {
        _cleanup_(history_done) History h = { 0 };
        const HistoryCycle *c;

        add_suspend(&h, CYCLE_A, T0);
        assert_int_equal(h.n_cycles, 1);
        c = &h.cycles[0];
        assert_string_equal(c->id, CYCLE_A);
        assert_string_equal(c->step, "suspend");
        assert_true(c->prepared && c->done);
        assert_int_equal(c->started_usec, T0);
        assert_int_equal(c->ended_usec, T0 + 9000000);
        assert_int_equal(c->duration_usec, 9000000);
        assert_int_equal(c->prepare_usec, 3500000);
        assert_int_equal(c->resume_usec, 1200000);
        assert_int_equal(c->lock_held_usec, 3600000);
        assert_int_equal(c->stopped, 3);
        assert_int_equal(c->forced_off, 1);
        assert_int_equal(c->started, 3);
        assert_int_equal(history_cycle_failures(c), 0);
        assert_int_equal(c->n_domains, 3);
        assert_string_equal(c->domains[2].name, "td-ignore");
        assert_true(c->domains[2].forced_off);
        assert_false(c->domains[0].forced_off);
}

/* Not ours, or not about a cycle: nothing is made up from them. */
static void test_ignores_other_entries(void **state) {
        _cleanup_(history_done) History h = { 0 };

        assert_int_equal(ENTRY(&h, T0, "MESSAGE_ID=" ID_TD_STOPPED, "TDSLEEP_CYCLE_ID=" CYCLE_A), 0);
        assert_int_equal(ENTRY(&h, T0, "MESSAGE_ID=" ID_CYCLE_STARTED, "TDSLEEP_STEP=suspend"), 0);
        assert_int_equal(ENTRY(&h, T0, "MESSAGE_ID=" ID_CYCLE_STARTED, "TDSLEEP_CYCLE_ID="), 0);
        assert_int_equal(ENTRY(&h, T0, "TDSLEEP_CYCLE_ID=" CYCLE_A, "TDSLEEP_STEP=suspend"), 0);
        assert_int_equal(ENTRY(&h, T0, "MESSAGE_ID=" ID_HOLD, "TDSLEEP_CYCLE_ID=" CYCLE_A), 0);
        assert_int_equal(h.n_cycles, 0);
}

/* A cycle still under way (or whose end the journal lost) says so; a damaged number
 * counts as unknown, not as a value. */
static void test_unfinished_and_damaged(void **state) {
        _cleanup_(history_done) History h = { 0 };
        const HistoryCycle *c;

        assert_int_equal(ENTRY(&h, T0, "MESSAGE_ID=" ID_CYCLE_STARTED, "TDSLEEP_CYCLE_ID=" CYCLE_A,
                               "TDSLEEP_STEP=hibernate"), 0);
        assert_int_equal(ENTRY(&h, T0 + 5, "MESSAGE_ID=" ID_LOCK_RELEASED, "TDSLEEP_CYCLE_ID=" CYCLE_A,
                               "TDSLEEP_PREPARE_USEC=12x", "TDSLEEP_STOPPED=-1", "TDSLEEP_STOP_FAILED=2"), 0);
        c = &h.cycles[0];
        assert_string_equal(c->step, "hibernate");
        assert_true(c->prepared);
        assert_false(c->done);
        assert_int_equal(c->ended_usec, HISTORY_USEC_UNKNOWN);
        assert_int_equal(c->duration_usec, HISTORY_USEC_UNKNOWN);
        assert_int_equal(c->prepare_usec, HISTORY_USEC_UNKNOWN);
        assert_int_equal(c->stopped, 0);
        assert_int_equal(c->stop_failed, 2);
        assert_int_equal(history_cycle_failures(c), 2);
}

/* Only the end is left (the start was rotated away, or --since cut it off): it alone
 * tells the story. */
static void test_end_alone(void **state) {
        _cleanup_(history_done) History h = { 0 };
        const HistoryCycle *c;

        assert_int_equal(ENTRY(&h, T0 + 60 * USEC_PER_SEC, "MESSAGE_ID=" ID_CYCLE_DONE,
                               "TDSLEEP_CYCLE_ID=" CYCLE_B, "TDSLEEP_STEP=suspend", "TDSLEEP_STARTED=1",
                               "TDSLEEP_START_FAILED=1", "TDSLEEP_STOPPED=2", "TDSLEEP_FORCED_OFF=0",
                               "TDSLEEP_STARTED_REALTIME_USEC=1764555600000000"), 0);
        c = &h.cycles[0];
        assert_true(c->done);
        assert_false(c->prepared);
        assert_int_equal(c->started_usec, T0);
        assert_int_equal(c->duration_usec, 60 * USEC_PER_SEC);      /* from the two times */
        assert_int_equal(c->started, 1);
        assert_int_equal(c->start_failed, 1);
        assert_int_equal(c->stopped, 2);
        assert_int_equal(history_cycle_failures(c), 1);
}

/* A suspend while drained: one cycle, both steps; its sleep part ends first, the drain's
 * Restore later; each TD counts once, with its last outcome. */
static void test_sleep_while_drained(void **state) {
        _cleanup_(history_done) History h = { 0 };
        const HistoryCycle *c;
        const char *id = "TDSLEEP_CYCLE_ID=" CYCLE_A;

        assert_int_equal(ENTRY(&h, T0, "MESSAGE_ID=" ID_CYCLE_STARTED, id, "TDSLEEP_STEP=drain"), 0);
        assert_int_equal(ENTRY(&h, T0 + 1, "MESSAGE_ID=" ID_DRAINED, id, "TDSLEEP_STEP=drain",
                               "TDSLEEP_STOPPED=1"), 0);
        assert_int_equal(ENTRY(&h, T0 + 2, "MESSAGE_ID=" ID_CYCLE_STARTED, id, "TDSLEEP_STEP=unknown"), 0);
        assert_int_equal(ENTRY(&h, T0 + 3, "MESSAGE_ID=" ID_CYCLE_STARTED, id, "TDSLEEP_STEP=suspend"), 0);
        outcome(&h, T0 + 4, CYCLE_A, "td-late", "44444444-4444-4444-4444-444444444444", "start-failed", true, false);
        assert_int_equal(ENTRY(&h, T0 + 4, "MESSAGE_ID=" ID_CYCLE_DONE, id, "TDSLEEP_STEP=suspend",
                               "TDSLEEP_STARTED=0", "TDSLEEP_START_FAILED=1"), 0);
        outcome(&h, T0 + 9, CYCLE_A, "td-drained", "55555555-5555-5555-5555-555555555555", "started", true, false);
        outcome(&h, T0 + 9, CYCLE_A, "td-late", "44444444-4444-4444-4444-444444444444", "started", false, false);
        assert_int_equal(ENTRY(&h, T0 + 9, "MESSAGE_ID=" ID_CYCLE_DONE, id, "TDSLEEP_STEP=drain",
                               "TDSLEEP_STARTED=1", "TDSLEEP_START_FAILED=0"), 0);
        assert_int_equal(h.n_cycles, 1);
        c = &h.cycles[0];
        assert_string_equal(c->step, "drain+suspend");
        assert_int_equal(c->n_domains, 2);
        assert_int_equal(c->started, 2);
        assert_int_equal(c->start_failed, 0);
        assert_int_equal(c->stopped, 1);
        assert_int_equal(c->ended_usec, T0 + 9);
}

/* Cycles keep the order of their first entry; entries of two cycles may interleave. */
static void test_two_cycles(void **state) {
        _cleanup_(history_done) History h = { 0 };

        add_suspend(&h, CYCLE_A, T0);
        add_suspend(&h, CYCLE_B, T0 + 3600 * USEC_PER_SEC);
        assert_int_equal(ENTRY(&h, T0 + 7200 * USEC_PER_SEC, "MESSAGE_ID=" ID_CYCLE_DONE,
                               "TDSLEEP_CYCLE_ID=" CYCLE_A, "TDSLEEP_STEP=suspend"), 0);
        assert_int_equal(h.n_cycles, 2);
        assert_string_equal(h.cycles[0].id, CYCLE_A);
        assert_string_equal(h.cycles[1].id, CYCLE_B);
        assert_int_equal(h.cycles[1].started_usec, T0 + 3600 * USEC_PER_SEC);
        assert_int_equal(h.cycles[0].n_domains, 3);
}

static void test_parse_time(void **state) {
        uint64_t now = T0 + 5 * 3600 * USEC_PER_SEC, t = 0;   /* 07:20 UTC */
        static const char *const bad[] = { "", "bogus", "-", "-2", "-2y", "@", "@x", "@-1", "2025-13-01",
                                           "2025-12-01 25:00", "2025-12-01T02:20", "-99999999w" };

        setenv("TZ", "UTC", 1);
        tzset();
        assert_int_equal(history_parse_time("now", now, &t), 0);
        assert_int_equal(t, now);
        assert_int_equal(history_parse_time("@1764555600", now, &t), 0);
        assert_int_equal(t, T0);
        assert_int_equal(history_parse_time("-2h", now, &t), 0);
        assert_int_equal(t, now - 2 * 3600 * USEC_PER_SEC);
        assert_int_equal(history_parse_time("-30min", now, &t), 0);
        assert_int_equal(t, now - 30 * 60 * USEC_PER_SEC);
        assert_int_equal(history_parse_time("2025-12-01 02:20", now, &t), 0);
        assert_int_equal(t, T0);
        assert_int_equal(history_parse_time("2025-12-01 02:20:07", now, &t), 0);
        assert_int_equal(t, T0 + 7 * USEC_PER_SEC);
        assert_int_equal(history_parse_time("2025-12-01", now, &t), 0);
        assert_int_equal(t, T0 - (2 * 3600 + 20 * 60) * USEC_PER_SEC);
        assert_int_equal(history_parse_time("today", now, &t), 0);
        assert_int_equal(t, T0 - (2 * 3600 + 20 * 60) * USEC_PER_SEC);
        assert_int_equal(history_parse_time("yesterday", now, &t), 0);
        assert_int_equal(t, T0 - (26 * 3600 + 20 * 60) * USEC_PER_SEC);
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                t = 42;
                assert_int_equal(history_parse_time(bad[i], now, &t), -EINVAL);
                assert_int_equal(t, 42);        /* bad input changes nothing */
        }
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_suspend_cycle),
                cmocka_unit_test(test_ignores_other_entries),
                cmocka_unit_test(test_unfinished_and_damaged),
                cmocka_unit_test(test_end_alone),
                cmocka_unit_test(test_sleep_while_drained),
                cmocka_unit_test(test_two_cycles),
                cmocka_unit_test(test_parse_time),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
