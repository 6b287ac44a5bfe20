/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The block lock kept in systemd's fd store (logind-block.c), without a bus: adopting a
 * stored lock, learning its why from logind's list, and releasing it so that no copy is
 * left anywhere (the lock's reader sees EOF), against the fake fd store. */

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fake-fdstore.h"
#include "logind.h"
#include "logind-internal.h"

static void on_prepare_for_sleep(void *userdata, bool start) {
}

static void on_presence(void *userdata, bool present, bool preparing_for_sleep) {
}

static void on_locks(void *userdata) {
}

static const LogindCallbacks callbacks = {
        .on_prepare_for_sleep = on_prepare_for_sleep,
        .on_presence = on_presence,
        .on_locks = on_locks,
};

/* A lock as logind hands it out: the write end of a pipe whose read end (logind's) sees
 * EOF once every copy is closed. The crashed run stored it: only the store holds it now. */
static int lock_stored_by_crashed_run(Fixture *f, const char *name) {
        int p[2];

        assert_int_equal(pipe2(p, O_CLOEXEC | O_NONBLOCK), 0);
        assert_int_equal(fdstore_put(name, p[1]), 0);
        close(p[1]);
        store_pump(f);
        return p[0];
}

/* The restarted run gets the stored fds back (LISTEN_FDS): a copy of each. */
static Logind *restart_logind(Fixture *f) {
        Logind *l = NULL;

        store_pump(f);
        assert_int_equal(logind_new(NULL, &callbacks, NULL, &l), 0);
        for (size_t i = 0; i < f->n_stored; i++)
                if (strncmp(f->stored[i].name, "block-", 6) == 0)
                        assert_int_equal(logind_adopt_block_fd(l, f->stored[i].name, dup(f->stored[i].fd)), 1);
        return l;
}

static bool lock_gone(int reader) {
        char c;

        return read(reader, &c, 1) == 0;        /* EOF; EAGAIN while any copy is open */
}

static void test_adopt_keep_release(void **state) {
        Fixture *f = *state;
        int reader = lock_stored_by_crashed_run(f, "block-inhibitor");
        Logind *l = restart_logind(f);
        size_t n;

        assert_true(logind_block_adopted(l));
        assert_string_equal(logind_block_why(l), "kept across a restart of tdsleepd");
        /* logind lists it: its why is the one the crashed run asked for */
        logind_block_listed(l, 1, "Held by the operator: test");
        assert_string_equal(logind_block_why(l), "Held by the operator: test");
        assert_false(lock_gone(reader));
        /* the same why again: kept, nothing sent */
        assert_int_equal(logind_set_block(l, "Held by the operator: test"), 0);
        assert_true(store_find(f, "block-inhibitor", &n) >= 0);
        assert_int_equal(n, 1);
        /* released: dropped from the store and closed here, so logind sees it go */
        assert_int_equal(logind_set_block(l, NULL), 0);
        assert_null(logind_block_why(l));
        assert_int_equal(store_find(f, "block-", &n), -1);
        assert_true(lock_gone(reader));
        logind_free(l);
        close(reader);
}

static void test_two_stored_after_a_cut_replace(void **state) {
        Fixture *f = *state;
        int old = lock_stored_by_crashed_run(f, "block-inhibitor");
        int new = lock_stored_by_crashed_run(f, "block-inhibitor-2");
        Logind *l = restart_logind(f);

        assert_true(logind_block_adopted(l));
        /* two listed: which is which logind does not say, so the why stays unknown */
        logind_block_listed(l, 2, "Held by the operator: one of them");
        assert_string_equal(logind_block_why(l), "kept across a restart of tdsleepd");
        assert_false(lock_gone(old));
        assert_false(lock_gone(new));
        /* logind forgot them (it restarted meanwhile): both go, from the store too */
        logind_block_forget(l);
        assert_null(logind_block_why(l));
        assert_int_equal(store_find(f, "block-", NULL), -1);
        assert_true(lock_gone(old));
        assert_true(lock_gone(new));
        logind_free(l);
        close(old);
        close(new);
}

static void test_not_a_lock_is_dropped(void **state) {
        Fixture *f = *state;
        Logind *l = NULL;
        int memfd = memfd_create("not-a-lock", MFD_CLOEXEC);

        assert_true(memfd >= 0);
        assert_int_equal(fdstore_put("block-inhibitor", memfd), 0);
        store_pump(f);
        assert_int_equal(logind_new(NULL, &callbacks, NULL, &l), 0);
        assert_int_equal(logind_adopt_block_fd(l, "block-inhibitor", memfd), 1);      /* taken and closed */
        assert_false(logind_block_adopted(l));
        assert_null(logind_block_why(l));
        assert_int_equal(store_find(f, "block-", NULL), -1);
        /* a name that is not the block lock's is left to the caller */
        memfd = memfd_create("other", MFD_CLOEXEC);
        assert_int_equal(logind_adopt_block_fd(l, "cycle-record", memfd), 0);
        assert_true(fcntl(memfd, F_GETFD) >= 0);
        close(memfd);
        logind_free(l);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_adopt_keep_release, fixture_setup, fixture_teardown),
                cmocka_unit_test_setup_teardown(test_two_stored_after_a_cut_replace, fixture_setup, fixture_teardown),
                cmocka_unit_test_setup_teardown(test_not_a_lock_is_dropped, fixture_setup, fixture_teardown),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
