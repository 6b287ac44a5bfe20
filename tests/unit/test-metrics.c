/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The counters (daemon/metrics.c) and the Prometheus text (common/metrics-format.c). */

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "macros.h"
#include "metrics-format.h"
#include "metrics.h"

static CycleResult result(const char *id, uint64_t ended, bool drain, CycleResultDomain *d, size_t n) {
        CycleResult r = {
                .valid = true, .drain = drain, .step = drain ? _SLEEP_STEP_INVALID : SLEEP_STEP_HIBERNATE,
                .ended_realtime_usec = ended, .prepare_usec = 100 * USEC_PER_MSEC,
                .resume_usec = 601 * USEC_PER_SEC, .domains = d, .n_domains = n,
        };

        strcpy(r.cycle_id, id);
        return r;
}

static void test_count_once(void **state) {
        CycleResultDomain d[] = {
                { .stopped = true, .outcome = JOB_STARTED },
                { .stopped = true, .forced = true, .outcome = JOB_START_FAILED },
                { .outcome = JOB_LEFT_RUNNING },
        };
        CycleResult r = result("0123456789abcdef0123456789abcdef", 1000, false, d, ELEMENTSOF(d));
        CycleResult invalid = { .valid = false };
        Metrics m = { .seen = false };

        assert_false(metrics_count_result(&m, &invalid));
        assert_false(metrics_count_result(&m, NULL));
        assert_true(metrics_count_result(&m, &r));
        assert_false(metrics_count_result(&m, &r));     /* offered again by the next hook */
        assert_int_equal(m.cycles[SLEEP_STEP_HIBERNATE][true], 1);
        assert_int_equal(m.cycles[SLEEP_STEP_HIBERNATE][false], 0);
        assert_int_equal(m.tds_stopped, 2);
        assert_int_equal(m.tds_forced_off, 1);
        assert_int_equal(m.tds_started, 1);
        assert_int_equal(m.tds_start_failed, 1);
        assert_int_equal(m.tds_stop_failed, 0);
        /* 0.1 s is inside its bound; 601 s is above the last one: only in count and sum. */
        assert_int_equal(m.prepare.buckets[0], 1);
        assert_int_equal(m.prepare.count, 1);
        for (size_t i = 0; i < METRICS_BUCKETS; i++)
                assert_int_equal(m.resume.buckets[i], 0);
        assert_int_equal(m.resume.count, 1);
        assert_int_equal(m.resume.sum_usec, 601 * USEC_PER_SEC);

        /* The same id ending later (the sleep half, then the drain's Restore) is new. */
        r = result("0123456789abcdef0123456789abcdef", 2000, true, NULL, 0);
        assert_true(metrics_count_result(&m, &r));
        assert_int_equal(m.cycles[METRICS_KIND_DRAIN][false], 1);
        assert_string_equal(metrics_kind_to_string(METRICS_KIND_DRAIN), "drain");
        assert_string_equal(metrics_kind_to_string(SLEEP_STEP_SUSPEND_THEN_HIBERNATE), "suspend_then_hibernate");
        assert_null(metrics_kind_to_string(_METRICS_KIND_MAX));
}

static void test_bucket_bounds(void **state) {
        DurationHistogram h = { .count = 0 };

        for (size_t i = 1; i < METRICS_BUCKETS; i++)
                assert_true(metrics_bucket_usec[i] > metrics_bucket_usec[i - 1]);
        duration_histogram_observe(&h, 0);
        duration_histogram_observe(&h, 100 * USEC_PER_MSEC + 1);
        duration_histogram_observe(&h, 600 * USEC_PER_SEC);
        assert_int_equal(h.buckets[0], 1);
        assert_int_equal(h.buckets[1], 1);
        assert_int_equal(h.buckets[METRICS_BUCKETS - 1], 1);
        assert_int_equal(h.count, 3);
}

static const char metrics_json[] =
        "{\"version\":\"1.2\",\"kernelPolicy\":\"exclusive\",\"startedUSec\":1700000000250000,"
        "\"cycles\":[{\"step\":\"suspend\",\"outcome\":\"success\",\"count\":3}],"
        "\"tdsStopped\":4,\"tdsForcedOff\":1,\"tdsStarted\":3,\"tdsStartFailed\":1,\"tdsStopFailed\":0,"
        "\"prepareDuration\":{\"buckets\":[{\"leUSec\":100000,\"count\":1},{\"leUSec\":2500000,\"count\":2}],"
        "\"count\":3,\"sumUSec\":62500000},"
        "\"resumeDuration\":{\"buckets\":[],\"count\":0,\"sumUSec\":0},"
        "\"phase\":\"ready\",\"tdsRunning\":2,\"delayLock\":true,\"blockLock\":false,\"hold\":false,"
        "\"libvirtConnected\":true,\"lastCycleEndedUSec\":1700000100000001,\"lastCycleFailed\":true}";

static const char metrics_text[] =
        "# HELP tdsleep_info Always 1: tdsleepd's version and the kernel policy in force.\n"
        "# TYPE tdsleep_info gauge\n"
        "tdsleep_info{version=\"1.2\",kernel_policy=\"exclusive\"} 1\n"
        "# HELP tdsleep_start_time_seconds When tdsleepd started (Unix time); counters count from here.\n"
        "# TYPE tdsleep_start_time_seconds gauge\n"
        "tdsleep_start_time_seconds 1700000000.25\n"
        "# HELP tdsleep_cycles_total Finished cycles by step (a sleep step, or drain) and outcome.\n"
        "# TYPE tdsleep_cycles_total counter\n"
        "tdsleep_cycles_total{step=\"suspend\",outcome=\"success\"} 3\n"
        "# HELP tdsleep_tds_stopped_total TDs tdsleepd stopped, gracefully or by force.\n"
        "# TYPE tdsleep_tds_stopped_total counter\n"
        "tdsleep_tds_stopped_total 4\n"
        "# HELP tdsleep_tds_forced_off_total TDs that did not shut down in time and were forced off.\n"
        "# TYPE tdsleep_tds_forced_off_total counter\n"
        "tdsleep_tds_forced_off_total 1\n"
        "# HELP tdsleep_tds_started_total TDs started again after a sleep or a drain.\n"
        "# TYPE tdsleep_tds_started_total counter\n"
        "tdsleep_tds_started_total 3\n"
        "# HELP tdsleep_tds_start_failed_total TDs that could not be started again.\n"
        "# TYPE tdsleep_tds_start_failed_total counter\n"
        "tdsleep_tds_start_failed_total 1\n"
        "# HELP tdsleep_tds_stop_failed_total TDs that could not be stopped.\n"
        "# TYPE tdsleep_tds_stop_failed_total counter\n"
        "tdsleep_tds_stop_failed_total 0\n"
        "# HELP tdsleep_prepare_duration_seconds How long preparing a cycle took: until the host could sleep, "
        "or the drain was done.\n"
        "# TYPE tdsleep_prepare_duration_seconds histogram\n"
        "tdsleep_prepare_duration_seconds_bucket{le=\"0.1\"} 1\n"
        "tdsleep_prepare_duration_seconds_bucket{le=\"2.5\"} 2\n"
        "tdsleep_prepare_duration_seconds_bucket{le=\"+Inf\"} 3\n"
        "tdsleep_prepare_duration_seconds_sum 62.5\n"
        "tdsleep_prepare_duration_seconds_count 3\n"
        "# HELP tdsleep_resume_duration_seconds How long resuming a cycle took: until every TD was started again.\n"
        "# TYPE tdsleep_resume_duration_seconds histogram\n"
        "tdsleep_resume_duration_seconds_bucket{le=\"+Inf\"} 0\n"
        "tdsleep_resume_duration_seconds_sum 0\n"
        "tdsleep_resume_duration_seconds_count 0\n"
        "# HELP tdsleep_phase 1 for the phase of the sleep cycle tdsleepd is in, 0 for the others.\n"
        "# TYPE tdsleep_phase gauge\n"
        "tdsleep_phase{phase=\"idle\"} 0\n"
        "tdsleep_phase{phase=\"preparing\"} 0\n"
        "tdsleep_phase{phase=\"ready\"} 1\n"
        "tdsleep_phase{phase=\"resuming\"} 0\n"
        "# HELP tdsleep_tds_running Protected TDs running now.\n"
        "# TYPE tdsleep_tds_running gauge\n"
        "tdsleep_tds_running 2\n"
        "# HELP tdsleep_lock_held 1 while tdsleepd holds logind's inhibitor lock of this mode.\n"
        "# TYPE tdsleep_lock_held gauge\n"
        "tdsleep_lock_held{mode=\"delay\"} 1\n"
        "tdsleep_lock_held{mode=\"block\"} 0\n"
        "# HELP tdsleep_hold_active 1 while an operator's hold refuses sleep.\n"
        "# TYPE tdsleep_hold_active gauge\n"
        "tdsleep_hold_active 0\n"
        "# HELP tdsleep_libvirt_connected 1 while tdsleepd is connected to libvirtd.\n"
        "# TYPE tdsleep_libvirt_connected gauge\n"
        "tdsleep_libvirt_connected 1\n"
        "# HELP tdsleep_last_cycle_end_time_seconds When the last cycle ended (Unix time).\n"
        "# TYPE tdsleep_last_cycle_end_time_seconds gauge\n"
        "tdsleep_last_cycle_end_time_seconds 1700000100.000001\n"
        "# HELP tdsleep_last_cycle_failed 1 when a TD failed to stop or to start in the last cycle, or was left "
        "running.\n"
        "# TYPE tdsleep_last_cycle_failed gauge\n"
        "tdsleep_last_cycle_failed 1\n";

static json_object *parse(const char *text) {
        json_object *o = json_tokener_parse(text);

        assert_non_null(o);
        return o;
}

static void test_format_exact(void **state) {
        json_object *o = parse(metrics_json);
        char *text = NULL;

        assert_int_equal(metrics_format(o, &text), 0);
        assert_string_equal(text, metrics_text);
        free(text);
        json_object_put(o);
}

/* A version with the three characters the format escapes; no kernel policy; no cycle yet. */
static void test_format_escapes_and_absent(void **state) {
        json_object *o = parse(metrics_json);
        char *text = NULL;

        json_object_object_add(o, "version", json_object_new_string("a\"b\\c\nd"));
        json_object_object_add(o, "kernelPolicy", NULL);
        json_object_object_del(o, "lastCycleEndedUSec");
        json_object_object_del(o, "lastCycleFailed");
        assert_int_equal(metrics_format(o, &text), 0);
        assert_non_null(strstr(text, "tdsleep_info{version=\"a\\\"b\\\\c\\nd\",kernel_policy=\"unknown\"} 1\n"));
        assert_null(strstr(text, "last_cycle"));
        free(text);
        json_object_put(o);
}

static void test_format_rejects_bad_input(void **state) {
        static const char *const fields[] = { "cycles", "tdsStopped", "prepareDuration", "phase", "hold" };
        char *text = NULL;
        json_object *o;

        for (size_t i = 0; i < ELEMENTSOF(fields); i++) {
                o = parse(metrics_json);
                json_object_object_del(o, fields[i]);
                assert_int_equal(metrics_format(o, &text), -EBADMSG);
                assert_null(text);
                json_object_put(o);
        }
        o = parse(metrics_json);
        json_object_object_add(o, "tdsStarted", json_object_new_int(-1));
        assert_int_equal(metrics_format(o, &text), -EBADMSG);
        json_object_object_add(o, "tdsStarted", json_object_new_string("3"));
        assert_int_equal(metrics_format(o, &text), -EBADMSG);
        json_object_put(o);
        o = json_object_new_array();
        assert_int_equal(metrics_format(o, &text), -EBADMSG);
        assert_int_equal(metrics_format(NULL, &text), -EBADMSG);
        json_object_put(o);
        assert_null(text);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_count_once),
                cmocka_unit_test(test_bucket_bounds),
                cmocka_unit_test(test_format_exact),
                cmocka_unit_test(test_format_escapes_and_absent),
                cmocka_unit_test(test_format_rejects_bad_input),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
