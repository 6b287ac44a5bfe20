/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The operator's hold in the state directory: round trip, a corrupt file moved aside,
 * every field checked as Hold() checks it, removal. */

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <glob.h>

#include "hold-file.h"
#include "test-util.h"

static int setup(void **state) {
        *state = make_scratch_dir();
        return *state ? 0 : -1;
}

static int teardown(void **state) {
        rm_rf(*state);
        free(*state);
        return 0;
}

static Hold *sample(bool with_end) {
        Hold *h = calloc(1, sizeof(Hold));

        assert_non_null(h);
        h->reason = strdup("firmware update, ask \"ops\" \\ é");
        h->comm = strdup("tdsleepctl");
        h->uid = 0;
        h->pid = 4242;
        h->since_usec = 1764554000000000ULL;
        h->until_usec = with_end ? h->since_usec + 7200 * USEC_PER_SEC : 0;
        return h;
}

static void test_round_trip(void **state) {
        const char *dir = *state;

        for (int end = 0; end < 2; end++) {
                _cleanup_(hold_freep) Hold *h = sample(end), *back = NULL;

                assert_int_equal(hold_file_save(dir, h), 0);
                assert_int_equal(hold_file_load(dir, &back, NULL), 0);
                assert_string_equal(back->reason, h->reason);
                assert_string_equal(back->comm, "tdsleepctl");
                assert_int_equal(back->uid, 0);
                assert_int_equal(back->pid, 4242);
                assert_int_equal(back->since_usec, h->since_usec);
                assert_int_equal(back->until_usec, h->until_usec);
                assert_true(back->stored);
        }
}

static void test_remove(void **state) {
        const char *dir = *state;
        _cleanup_(hold_freep) Hold *h = sample(false), *back = NULL;

        assert_int_equal(hold_file_remove(dir), 0);     /* nothing there: fine */
        assert_int_equal(hold_file_save(dir, h), 0);
        assert_int_equal(hold_file_remove(dir), 0);
        assert_int_equal(hold_file_load(dir, &back, NULL), -ENOENT);
        assert_int_equal(hold_file_save("/nonexistent/tdsleep", h), -ENOENT);
}

static void test_corrupt_moved_aside(void **state) {
        static const char *const bad[] = {
                "",
                "{",
                "[]",
                "{\"version\":1}",
                /* a field too many, a version from the future */
                "{\"version\":1,\"reason\":\"r\",\"uid\":0,\"pid\":1,\"sinceUSec\":1,\"extra\":1}",
                "{\"version\":2,\"reason\":\"r\",\"uid\":0,\"pid\":1,\"sinceUSec\":1}",
                /* what Hold() refuses: a control character, an empty reason, 257 bytes */
                "{\"version\":1,\"reason\":\"a\\u001b[31m\",\"uid\":0,\"pid\":1,\"sinceUSec\":1}",
                "{\"version\":1,\"reason\":\"\",\"uid\":0,\"pid\":1,\"sinceUSec\":1}",
                "{\"version\":1,\"reason\":\"r\",\"uid\":-1,\"pid\":1,\"sinceUSec\":1}",
                "{\"version\":1,\"reason\":\"r\",\"uid\":0,\"pid\":-5,\"sinceUSec\":1}",
                "{\"version\":1,\"reason\":\"r\",\"uid\":0,\"pid\":1,\"sinceUSec\":0}",
                "{\"version\":1,\"reason\":\"r\",\"uid\":0,\"pid\":1,\"sinceUSec\":1.5}",
                "{\"version\":1,\"reason\":\"r\",\"uid\":0,\"pid\":1,\"sinceUSec\":1} x",
        };
        const char *dir = *state;

        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                _cleanup_(hold_freep) Hold *h = NULL;
                _cleanup_(freep) char *moved = NULL;

                print_message("hold.json: %s\n", bad[i]);
                assert_int_equal(write_file(dir, HOLD_FILE_NAME, bad[i]), 0);
                assert_int_equal(hold_file_load(dir, &h, &moved), -EBADMSG);
                assert_null(h);
                assert_non_null(moved);
                assert_int_equal(access(moved, F_OK), 0);
                assert_int_equal(hold_file_load(dir, &h, NULL), -ENOENT);       /* moved, not copied */
                assert_int_equal(unlink(moved), 0);
        }
}

static void test_minimal_file(void **state) {
        const char *dir = *state;
        _cleanup_(hold_freep) Hold *h = NULL;

        /* comm and untilUSec may be null or absent */
        assert_int_equal(write_file(dir, HOLD_FILE_NAME,
                                    "{\"version\":1,\"reason\":\"r\",\"uid\":1000,\"pid\":7,\"comm\":null,"
                                    "\"sinceUSec\":5}\n"), 0);
        assert_int_equal(hold_file_load(dir, &h, NULL), 0);
        assert_null(h->comm);
        assert_int_equal(h->until_usec, 0);
        assert_int_equal(h->uid, 1000);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
                cmocka_unit_test_setup_teardown(test_remove, setup, teardown),
                cmocka_unit_test_setup_teardown(test_corrupt_moved_aside, setup, teardown),
                cmocka_unit_test_setup_teardown(test_minimal_file, setup, teardown),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
