/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The record: disk copy, fd-store copy, finished marker, other boots, failed XML. systemd's
 * fd store is played by a datagram socket in NOTIFY_SOCKET that keeps what it is sent. */

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <glob.h>

#include "fake-fdstore.h"
#include "fdstore.h"
#include "record.h"

#define UUID_A "6a1b2c3d-0000-4000-8000-000000000001"
#define UUID_B "6A1B2C3D-0000-4000-8000-0000000000BB"
#define OTHER_BOOT "00000000000000000000000000000001"

static bool state_file_exists(Fixture *f) {
        _cleanup_(freep) char *path = NULL;

        assert_true(asprintf(&path, "%s/" STATE_FILE_NAME, f->state_dir) > 0);
        return access(path, F_OK) == 0;
}

static void fill(State *s, CyclePhase phase) {
        state_init(s);
        s->phase = phase;
        s->step = SLEEP_STEP_SUSPEND;
        assert_int_equal(state_add_domain(s, UUID_A, "td-one", "<domain type='kvm'><name>td-one</name></domain>",
                                          false), 0);
        assert_int_equal(state_add_domain(s, UUID_B, "td-two", NULL, true), 0);
}

static void test_round_trip(void **state) {
        Fixture *f = *state;
        _cleanup_(record_freep) Record *r = NULL, *again = NULL;
        _cleanup_(state_done) State s, back;
        char cycle_id[ID128_STRING_MAX];

        state_init(&back);
        fill(&s, CYCLE_PHASE_READY);
        assert_int_equal(record_new(f->state_dir, &r), 0);
        assert_int_equal(record_save(r, &s), RECORD_ON_DISK);
        assert_false(record_degraded(r));
        assert_true(id128_string_valid(s.cycle_id));
        assert_true(id128_string_valid(s.boot_id));
        assert_true(s.generation == 1);
        memcpy(cycle_id, s.cycle_id, sizeof cycle_id);
        assert_int_equal(record_save(r, &s), RECORD_ON_DISK);
        assert_true(s.generation == 2);
        assert_string_equal(s.cycle_id, cycle_id);      /* one cycle, one id */
        assert_int_equal(store_find(f, "cycle-", NULL), -1);

        again = restart(f);
        assert_int_equal(record_load(again, &back), 0);
        assert_false(record_degraded(again));
        assert_string_equal(back.cycle_id, cycle_id);
        assert_string_equal(back.boot_id, s.boot_id);
        assert_true(back.generation == 2);
        assert_int_equal(back.phase, CYCLE_PHASE_READY);
        assert_int_equal(back.n_domains, 2);
        assert_string_equal(back.domains[0].xml, s.domains[0].xml);
        /* The next save goes on above what was found. */
        assert_int_equal(record_save(again, &back), RECORD_ON_DISK);
        assert_true(back.generation == 3);
}

static void test_idle_and_drained(void **state) {
        Fixture *f = *state;
        _cleanup_(record_freep) Record *r = NULL;
        _cleanup_(state_done) State s, back;

        state_init(&back);
        assert_int_equal(record_new(f->state_dir, &r), 0);
        assert_int_equal(record_load(r, &back), -ENOENT);      /* nothing at all */
        fill(&s, CYCLE_PHASE_IDLE);
        assert_int_equal(record_save(r, &s), RECORD_ON_DISK);
        assert_int_equal(record_load(r, &back), -ENOENT);
        /* Idle but drained: the operator's Drain holds until Restore, across restarts. */
        s.drained = true;
        assert_int_equal(record_save(r, &s), RECORD_ON_DISK);
        assert_int_equal(record_load(r, &back), 0);
        assert_true(back.drained);
}

/* The disk refuses: the record goes to the fd store, sealed, and a restart finds it there. */
static void test_disk_refuses(void **state) {
        Fixture *f = *state;
        _cleanup_(record_freep) Record *r = NULL, *again = NULL;
        _cleanup_(state_done) State s, back;
        _cleanup_(freep) char *text = NULL;
        size_t count;
        int fd;

        state_init(&back);
        fill(&s, CYCLE_PHASE_PREPARING);
        disk_refuse(f);
        assert_int_equal(record_new(f->state_dir, &r), 0);
        assert_int_equal(record_save(r, &s), RECORD_IN_FD_STORE);
        assert_true(record_degraded(r));
        fd = store_find(f, "cycle-record", &count);
        assert_true(fd >= 0);
        assert_int_equal(count, 1);
        assert_int_equal(fcntl(fd, F_GET_SEALS), F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL);
        assert_int_equal(write(fd, "x", 1), -1);
        assert_int_equal(sealed_memfd_read(fd, 1 << 20, &text), 0);
        assert_non_null(strstr(text, s.cycle_id));

        /* A second save replaces the copy: still one, the newer. */
        s.phase = CYCLE_PHASE_READY;
        assert_int_equal(record_save(r, &s), RECORD_IN_FD_STORE);
        assert_true(store_find(f, "cycle-record", &count) >= 0);
        assert_int_equal(count, 1);

        again = restart(f);
        assert_int_equal(record_load(again, &back), 0);
        assert_true(record_degraded(again));
        assert_int_equal(back.phase, CYCLE_PHASE_READY);
        assert_true(back.generation == 2);
        assert_string_equal(back.cycle_id, s.cycle_id);
}

/* A crash between storing the new copy and dropping the old leaves both: the newer wins,
 * and the older is dropped from the store. */
static void test_crash_mid_swap(void **state) {
        Fixture *f = *state;
        _cleanup_(record_freep) Record *r = NULL, *again = NULL;
        _cleanup_(state_done) State s, back;
        char old_name[64];
        size_t count;
        int old;

        state_init(&back);
        fill(&s, CYCLE_PHASE_PREPARING);
        disk_refuse(f);
        assert_int_equal(record_new(f->state_dir, &r), 0);
        assert_int_equal(record_save(r, &s), RECORD_IN_FD_STORE);
        store_pump(f);
        assert_int_equal(f->n_stored, 1);
        old = dup(f->stored[0].fd);
        snprintf(old_name, sizeof old_name, "%s", f->stored[0].name);
        s.phase = CYCLE_PHASE_READY;
        assert_int_equal(record_save(r, &s), RECORD_IN_FD_STORE);
        store_pump(f);
        assert_string_not_equal(f->stored[0].name, old_name);  /* the other name */
        f->stored[f->n_stored].fd = old;                        /* as if the removal never came */
        snprintf(f->stored[f->n_stored++].name, sizeof f->stored[0].name, "%s", old_name);

        again = restart(f);
        assert_int_equal(record_load(again, &back), 0);
        assert_int_equal(back.phase, CYCLE_PHASE_READY);
        assert_true(store_find(f, "cycle-record", &count) >= 0);
        assert_int_equal(count, 1);
}

/* With no fd store to fall back on, a refused save is an error the caller must act on. */
static void test_nowhere_to_keep(void **state) {
        Fixture *f = *state;
        _cleanup_(record_freep) Record *r = NULL;
        _cleanup_(state_done) State s;
        _cleanup_(freep) char *gone = NULL;

        fill(&s, CYCLE_PHASE_PREPARING);
        disk_refuse(f);
        assert_int_equal(record_new(f->state_dir, &r), 0);
        unsetenv("NOTIFY_SOCKET");
        assert_int_equal(record_save(r, &s), -ENOTCONN);
        assert_true(record_degraded(r));
        assert_true(asprintf(&gone, "%s/nobody-listens", f->dir) > 0);
        setenv("NOTIFY_SOCKET", gone, 1);
        assert_true(record_save(r, &s) < 0);
        assert_int_equal(store_find(f, "cycle-", NULL), -1);
        /* Nor can a finish that cannot remove the file say it is finished. */
        unsetenv("NOTIFY_SOCKET");
        assert_int_equal(record_finish(r, &s), -ENOTCONN);
        /* An unreadable disk with no copy in the store: an I/O error, not "nothing". */
        state_done(&s);
        assert_int_equal(record_load(r, &s), -ENOTDIR);
}

/* The newest of the disk copy and the fd-store copy wins, whichever it is. */
static void test_newest_wins(void **state) {
        Fixture *f = *state;
        _cleanup_(record_freep) Record *r = NULL, *second = NULL, *third = NULL;
        _cleanup_(state_done) State s, back, last;
        _cleanup_(closep) int stale = -1;

        state_init(&back);
        state_init(&last);
        fill(&s, CYCLE_PHASE_PREPARING);
        assert_int_equal(record_new(f->state_dir, &r), 0);
        assert_int_equal(record_save(r, &s), RECORD_ON_DISK);          /* generation 1 on disk */
        disk_refuse(f);
        s.phase = CYCLE_PHASE_READY;
        assert_int_equal(record_save(r, &s), RECORD_IN_FD_STORE);      /* generation 2 in the store */
        disk_accept(f);
        stale = dup(store_find(f, "cycle-record", NULL));

        second = restart(f);
        assert_int_equal(record_load(second, &back), 0);
        assert_true(back.generation == 2);
        assert_int_equal(back.phase, CYCLE_PHASE_READY);
        assert_true(record_degraded(second));

        /* The disk takes the next save: the store's copy is dropped, degraded is over. */
        back.phase = CYCLE_PHASE_RESUMING;
        assert_int_equal(record_save(second, &back), RECORD_ON_DISK);
        assert_true(back.generation == 3);
        assert_false(record_degraded(second));
        assert_int_equal(store_find(f, "cycle-record", NULL), -1);

        /* An older copy that still came back (say, its removal was lost) loses to the disk. */
        assert_int_equal(record_new(f->state_dir, &third), 0);
        assert_int_equal(record_adopt_fd(third, RECORD_FDNAME, TAKE_FD(stale)), 1);
        assert_int_equal(record_load(third, &last), 0);
        assert_true(last.generation == 3);
        assert_int_equal(last.phase, CYCLE_PHASE_RESUMING);
        assert_false(record_degraded(third));
}

/* A cycle whose file could not be removed is never replayed after a restart. */
static void test_finished_not_replayed(void **state) {
        Fixture *f = *state;
        _cleanup_(record_freep) Record *r = NULL, *unmarked = NULL, *again = NULL, *clean = NULL;
        _cleanup_(state_done) State s, back;
        _cleanup_(freep) char *text = NULL;
        int marker;

        state_init(&back);
        fill(&s, CYCLE_PHASE_RESUMING);
        assert_int_equal(record_new(f->state_dir, &r), 0);
        assert_int_equal(record_save(r, &s), RECORD_ON_DISK);
        disk_refuse(f);
        assert_int_equal(record_finish(r, &s), 0);
        assert_true(record_degraded(r));
        disk_accept(f);                 /* the file of the finished cycle is back in view */
        assert_true(state_file_exists(f));
        marker = store_find(f, "cycle-finished", NULL);
        assert_true(marker >= 0);
        assert_int_equal(sealed_memfd_read(marker, 4096, &text), 0);
        assert_non_null(strstr(text, s.cycle_id));

        /* Without the marker the stale file would look like a cycle to finish... */
        assert_int_equal(record_new(f->state_dir, &unmarked), 0);
        assert_int_equal(record_load(unmarked, &back), 0);
        state_done(&back);
        /* ... with it, there is nothing to go on with, and the stale file goes. */
        again = restart(f);
        assert_int_equal(record_load(again, &back), -ENOENT);
        assert_false(state_file_exists(f));
        assert_int_equal(store_find(f, "cycle-", NULL), -1);

        /* A finish that reaches the disk leaves nothing behind anywhere. */
        fill(&back, CYCLE_PHASE_RESUMING);
        assert_int_equal(record_new(f->state_dir, &clean), 0);
        assert_int_equal(record_save(clean, &back), RECORD_ON_DISK);
        assert_int_equal(record_finish(clean, &back), 0);
        assert_false(record_degraded(clean));
        assert_false(state_file_exists(f));
        assert_int_equal(store_find(f, "cycle-", NULL), -1);
}

/* Many cycles finish while the disk stays read-only: the marker stays small, and still
 * names the one cycle whose file is stuck on disk. */
static void test_marker_bounded(void **state) {
        Fixture *f = *state;
        _cleanup_(record_freep) Record *r = NULL, *again = NULL;
        _cleanup_(state_done) State first, back;
        _cleanup_(freep) char *text = NULL;
        size_t count, lines = 0;

        state_init(&back);
        fill(&first, CYCLE_PHASE_RESUMING);
        first.generation = UINT64_MAX - 100;    /* 20 digits in the marker */
        assert_int_equal(record_new(f->state_dir, &r), 0);
        assert_int_equal(record_save(r, &first), RECORD_ON_DISK);
        disk_refuse(f);
        assert_int_equal(record_finish(r, &first), 0);
        for (int i = 0; i < 12; i++) {
                _cleanup_(state_done) State s;

                fill(&s, CYCLE_PHASE_RESUMING);
                assert_int_equal(record_save(r, &s), RECORD_IN_FD_STORE);
                assert_int_equal(record_finish(r, &s), 0);
                store_pump(f);          /* as systemd reads them: the socket's queue is short */
        }
        assert_int_equal(sealed_memfd_read(store_find(f, "cycle-finished", &count), 4096, &text), 0);
        assert_int_equal(count, 1);
        assert_int_equal(store_find(f, "cycle-record", NULL), -1);
        for (const char *p = text; (p = strchr(p, '\n')); p++)
                lines++;
        assert_true(lines <= 9);
        assert_non_null(strstr(text, first.cycle_id));

        disk_accept(f);
        again = restart(f);
        assert_int_equal(record_load(again, &back), -ENOENT);
        assert_false(state_file_exists(f));
}

/* A cycle kept only in the fd store is dropped from it when it finishes. */
static void test_finish_drops_store_copy(void **state) {
        Fixture *f = *state;
        _cleanup_(record_freep) Record *r = NULL, *again = NULL;
        _cleanup_(state_done) State s, back;

        state_init(&back);
        fill(&s, CYCLE_PHASE_READY);
        disk_refuse(f);
        assert_int_equal(record_new(f->state_dir, &r), 0);
        assert_int_equal(record_save(r, &s), RECORD_IN_FD_STORE);
        disk_accept(f);
        assert_int_equal(record_finish(r, &s), 0);
        assert_false(record_degraded(r));
        assert_int_equal(store_find(f, "cycle-", NULL), -1);
        again = restart(f);
        assert_int_equal(record_load(again, &back), -ENOENT);
}

static size_t count_files(const char *dir, const char *pattern) {
        _cleanup_(freep) char *p = NULL;
        glob_t g;
        size_t n;

        assert_true(asprintf(&p, "%s/%s", dir, pattern) > 0);
        if (glob(p, 0, NULL, &g) != 0)
                return 0;
        n = g.gl_pathc;
        globfree(&g);
        return n;
}

/* The TDs of an earlier boot are not started: the file is kept aside for the operator. */
static void test_earlier_boot(void **state) {
        Fixture *f = *state;
        _cleanup_(record_freep) Record *r = NULL;
        _cleanup_(state_done) State s, back;

        state_init(&back);
        fill(&s, CYCLE_PHASE_READY);
        memcpy(s.cycle_id, "0123456789abcdef0123456789abcdef", ID128_STRING_MAX);
        memcpy(s.boot_id, OTHER_BOOT, ID128_STRING_MAX);
        s.generation = 4;
        assert_int_equal(state_save(f->state_dir, &s), 0);
        assert_int_equal(record_new(f->state_dir, &r), 0);
        assert_int_equal(record_load(r, &back), -ENOENT);
        assert_false(state_file_exists(f));
        assert_int_equal(count_files(f->state_dir, STATE_FILE_NAME ".earlier-boot-*"), 1);
        /* What it said stays above every later generation, all the same. */
        state_done(&s);
        fill(&s, CYCLE_PHASE_PREPARING);
        assert_int_equal(record_save(r, &s), RECORD_ON_DISK);
        assert_true(s.generation == 5);
}

/* A version-1 file (tdsleepd before the record) is this boot's and is carried on. */
static void test_v1_file(void **state) {
        Fixture *f = *state;
        _cleanup_(record_freep) Record *r = NULL;
        _cleanup_(state_done) State s, back;
        _cleanup_(freep) char *path = NULL, *text = NULL;

        state_init(&back);
        fill(&s, CYCLE_PHASE_READY);
        assert_int_equal(state_save(f->state_dir, &s), 0);
        assert_int_equal(record_new(f->state_dir, &r), 0);
        assert_int_equal(record_load(r, &back), 0);
        assert_string_equal(back.boot_id, "");
        assert_int_equal(back.n_domains, 2);
        assert_int_equal(record_save(r, &back), RECORD_ON_DISK);
        assert_true(id128_string_valid(back.cycle_id) && id128_string_valid(back.boot_id));
        assert_true(asprintf(&path, "%s/" STATE_FILE_NAME, f->state_dir) > 0);
        assert_int_equal(read_full_file(path, 1 << 20, &text, NULL), 0);
        assert_non_null(strstr(text, "\"version\": 2"));
}

/* A corrupt file is moved aside; a valid copy in the fd store carries the cycle on. */
static void test_corrupt_file_store_copy(void **state) {
        Fixture *f = *state;
        _cleanup_(record_freep) Record *r = NULL, *again = NULL;
        _cleanup_(state_done) State s, back;

        state_init(&back);
        fill(&s, CYCLE_PHASE_READY);
        disk_refuse(f);
        assert_int_equal(record_new(f->state_dir, &r), 0);
        assert_int_equal(record_save(r, &s), RECORD_IN_FD_STORE);
        disk_accept(f);
        assert_int_equal(write_file(f->state_dir, STATE_FILE_NAME, "{\"version\": 2, \"phase\""), 0);
        again = restart(f);
        assert_int_equal(record_load(again, &back), 0);
        assert_string_equal(back.cycle_id, s.cycle_id);
        assert_int_equal(count_files(f->state_dir, STATE_FILE_NAME ".corrupt-*"), 1);
        assert_false(state_file_exists(f));
}

static void test_adopt_other_fds(void **state) {
        Fixture *f = *state;
        _cleanup_(record_freep) Record *r = NULL;
        _cleanup_(state_done) State back;
        _cleanup_(closep) int fd = -1;
        int junk;

        state_init(&back);
        assert_int_equal(record_new(f->state_dir, &r), 0);
        fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        assert_int_equal(record_adopt_fd(r, "delay-inhibitor", fd), 0);        /* the caller keeps it */
        assert_true(fcntl(fd, F_GETFD) >= 0);
        /* Something that is not a sealed memfd under our name: taken, and ignored. */
        junk = open("/dev/null", O_RDONLY | O_CLOEXEC);
        assert_int_equal(record_adopt_fd(r, RECORD_FDNAME, junk), 1);
        assert_int_equal(record_load(r, &back), -ENOENT);
}

static void test_failed_xml(void **state) {
        Fixture *f = *state;
        _cleanup_(record_freep) Record *r = NULL;
        _cleanup_(state_done) State s;
        _cleanup_(freep) char *path = NULL, *text = NULL;
        struct stat st;

        fill(&s, CYCLE_PHASE_RESUMING);
        assert_int_equal(record_new(f->state_dir, &r), 0);
        assert_int_equal(record_keep_failed_xml(r, &s.domains[0], &path), 0);
        assert_non_null(strstr(path, "/" RECORD_FAILED_DIR "/" UUID_A ".xml"));
        assert_int_equal(read_full_file(path, 1 << 20, &text, NULL), 0);
        assert_string_equal(text, s.domains[0].xml);
        assert_int_equal(stat(path, &st), 0);
        assert_int_equal(st.st_mode & 07777, 0600);
        assert_int_equal(count_files(f->state_dir, RECORD_FAILED_DIR "/.*"), 2);     /* . and .. only */
        assert_int_equal(record_keep_failed_xml(r, &s.domains[0], NULL), 0);       /* again: replaced */
        assert_int_equal(record_keep_failed_xml(r, &s.domains[1], NULL), -ENODATA); /* persistent: no XML */

        record_forget_failed_xml(r, "6A1B2C3D-0000-4000-8000-000000000001");  /* any case */
        assert_int_equal(access(path, F_OK), -1);
        record_forget_failed_xml(r, UUID_A);                                  /* already gone: fine */
        record_forget_failed_xml(r, "../../etc/passwd");                       /* not a uuid: ignored */

        /* A file kept by an earlier process is found (the directory is read once) ... */
        assert_int_equal(record_keep_failed_xml(r, &s.domains[0], NULL), 0);
        r = record_free(r);
        assert_int_equal(record_new(f->state_dir, &r), 0);
        record_forget_failed_xml(r, UUID_A);
        assert_int_equal(access(path, F_OK), -1);
        /* ... and after that only what tdsleepd itself keeps is removed: a start does
         * not look for a file it knows is not there. */
        assert_int_equal(write_file(f->state_dir, RECORD_FAILED_DIR "/" UUID_A ".xml", "by hand"), 0);
        record_forget_failed_xml(r, UUID_A);
        assert_int_equal(access(path, F_OK), 0);
}

int main(void) {
#define T(name) cmocka_unit_test_setup_teardown(name, fixture_setup, fixture_teardown)
        const struct CMUnitTest tests[] = {
                T(test_round_trip),
                T(test_idle_and_drained),
                T(test_disk_refuses),
                T(test_crash_mid_swap),
                T(test_nowhere_to_keep),
                T(test_newest_wins),
                T(test_finished_not_replayed),
                T(test_marker_bounded),
                T(test_finish_drops_store_copy),
                T(test_earlier_boot),
                T(test_v1_file),
                T(test_corrupt_file_store_copy),
                T(test_adopt_other_fds),
                T(test_failed_xml),
        };
#undef T

        return cmocka_run_group_tests(tests, NULL, NULL);
}
