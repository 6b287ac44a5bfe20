/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "test-util.h"

static void test_boolean(void **state) {
        static const char *const yes[] = { "yes", "YES", "true", "on", "1", "True" };
        static const char *const no[] = { "no", "false", "off", "0", "No" };
        static const char *const bad[] = { "", "y", "2", "yess", " yes", "maybe", "-1" };

        for (size_t i = 0; i < ELEMENTSOF(yes); i++)
                assert_int_equal(parse_boolean(yes[i]), 1);
        for (size_t i = 0; i < ELEMENTSOF(no); i++)
                assert_int_equal(parse_boolean(no[i]), 0);
        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                assert_int_equal(parse_boolean(bad[i]), -EINVAL);
        assert_int_equal(parse_boolean(NULL), -EINVAL);
}

static void test_unsigned(void **state) {
        unsigned v = 12345;

        assert_int_equal(parse_unsigned("0", 4096, &v), 0);
        assert_int_equal(v, 0);
        assert_int_equal(parse_unsigned("4096", 4096, &v), 0);
        assert_int_equal(v, 4096);
        assert_int_equal(parse_unsigned("007", 4096, &v), 0);
        assert_int_equal(v, 7);
        assert_int_equal(parse_unsigned("4097", 4096, &v), -ERANGE);
        assert_int_equal(parse_unsigned("99999999999999999999999", 4096, &v), -ERANGE);
        assert_int_equal(parse_unsigned("-1", 4096, &v), -EINVAL);
        assert_int_equal(parse_unsigned("+1", 4096, &v), -EINVAL);
        assert_int_equal(parse_unsigned(" 1", 4096, &v), -EINVAL);
        assert_int_equal(parse_unsigned("1 ", 4096, &v), -EINVAL);
        assert_int_equal(parse_unsigned("12x", 4096, &v), -EINVAL);
        assert_int_equal(parse_unsigned("", 4096, &v), -EINVAL);
        assert_int_equal(v, 7);
}

static void test_time_span(void **state) {
        static const struct {
                const char *text;
                int r;
                uint64_t usec;
        } cases[] = {
                { "90",      0, 90 * USEC_PER_SEC },
                { "1.5",     0, 1500 * USEC_PER_MSEC },
                { "0.000001", 0, 1 },
                { "500ms",   0, 500 * USEC_PER_MSEC },
                { "500msec", 0, 500 * USEC_PER_MSEC },
                { "2s",      0, 2 * USEC_PER_SEC },
                { "2 sec",   0, 2 * USEC_PER_SEC },
                { "1min",    0, 60 * USEC_PER_SEC },
                { "1.5min",  0, 90 * USEC_PER_SEC },
                { "1h",      0, 3600 * USEC_PER_SEC },
                { "2 hours", 0, 7200 * USEC_PER_SEC },
                { "1d",      0, 86400 * USEC_PER_SEC },
                { "1w",      0, 7 * 86400 * USEC_PER_SEC },
                { "90s",     0, 90 * USEC_PER_SEC },
                { "5m",      0, 300 * USEC_PER_SEC },
                { "1h 30min", 0, 5400 * USEC_PER_SEC },
                { "1h30min", 0, 5400 * USEC_PER_SEC },
                { "1d 1s",   0, 86401 * USEC_PER_SEC },
                { "250us",   0, 250 },
                { "1h 30",   -EINVAL, 0 },
                { "30 1h",   -EINVAL, 0 },
                { "1H",      -EINVAL, 0 },
                { "1h ",     0, 3600 * USEC_PER_SEC },
                { "0",       0, 0 },
                { "",        -EINVAL, 0 },
                { "s",       -EINVAL, 0 },
                { "1.",      -EINVAL, 0 },
                { ".5",      -EINVAL, 0 },
                { "-1",      -EINVAL, 0 },
                { "5 m s",   -EINVAL, 0 },
                { "5years",  -EINVAL, 0 },
                { "2s5",     -EINVAL, 0 },
                { "99999999999999999999", -ERANGE, 0 },
                { "9999999999999999h", -ERANGE, 0 },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                uint64_t v = 0;

                print_message("time span '%s'\n", cases[i].text);
                assert_int_equal(parse_time_span(cases[i].text, &v), cases[i].r);
                if (cases[i].r == 0)
                        assert_int_equal(v, cases[i].usec);
        }
}

static void test_timeout(void **state) {
        uint64_t v = 0;

        assert_int_equal(parse_timeout("3600", &v), 0);
        assert_int_equal(v, TIMEOUT_MAX_USEC);
        assert_int_equal(parse_timeout("1ms", &v), 0);
        assert_int_equal(v, USEC_PER_MSEC);
        assert_int_equal(parse_timeout("0", &v), -ERANGE);
        assert_int_equal(parse_timeout("0.0000001", &v), -ERANGE);   /* below 1 µs: zero */
        assert_int_equal(parse_timeout("3601", &v), -ERANGE);
        assert_int_equal(parse_timeout("61min", &v), -ERANGE);
        assert_int_equal(parse_timeout("x", &v), -EINVAL);
}

static void test_read_full_file(void **state) {
        _cleanup_(freep) char *dir = make_scratch_dir(), *path = NULL, *text = NULL;
        size_t size = 0;

        assert_non_null(dir);
        assert_int_equal(write_file(dir, "f", "hello\n"), 0);
        assert_true(asprintf(&path, "%s/f", dir) > 0);
        assert_int_equal(read_full_file(path, 6, &text, &size), 0);
        assert_string_equal(text, "hello\n");
        assert_int_equal(size, 6);
        assert_int_equal(read_full_file(path, 5, &text, &size), -EFBIG);
        assert_int_equal(read_full_file(dir, 100, &text, &size), -EISDIR);
        rm_rf(dir);
        assert_int_equal(read_full_file(path, 100, &text, &size), -ENOENT);
        assert_string_equal(text, "hello\n");   /* untouched on failure */
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_boolean),
                cmocka_unit_test(test_unsigned),
                cmocka_unit_test(test_time_span),
                cmocka_unit_test(test_timeout),
                cmocka_unit_test(test_read_full_file),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
