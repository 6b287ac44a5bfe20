/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "state.h"
#include "test-util.h"

#define UUID_A "6a1b2c3d-0000-4000-8000-000000000001"
#define UUID_B "6A1B2C3D-0000-4000-8000-0000000000BB"

#define CYCLE_ID "0123456789abcdef0123456789abcdef"
#define BOOT_ID "fedcba9876543210fedcba9876543210"

#define GOOD_HEAD "{\"version\":1,\"phase\":\"preparing\",\"step\":\"suspend\",\"mem_sleep_restore\":null," \
                  "\"started_realtime_usec\":5,\"domains\":"

static int dir_setup(void **state) {
        *state = make_scratch_dir();
        return *state ? 0 : -1;
}

static int dir_teardown(void **state) {
        rm_rf(*state);
        free(*state);
        return 0;
}

/* UTF-8 in a title: json-c 0.18 (Debian 13) rejected it in strict mode (common/json-parse.c). */
#define TD_ONE_XML "<domain type='kvm'>\n  <name>\"td\"/one</name>\n  <title>B\xc3\xbcro \xe2\x80\x93 TD</title>\n</domain>"

static void fill(State *s) {
        state_init(s);
        s->phase = CYCLE_PHASE_READY;
        s->step = SLEEP_STEP_HYBRID_SLEEP;
        s->mem_sleep_restore = MEM_SLEEP_DEEP;
        s->started_realtime_usec = UINT64_C(1764100000123456);
        assert_int_equal(state_add_domain(s, UUID_A, "td-one", TD_ONE_XML,
                                          false), 0);
        assert_int_equal(state_add_domain(s, UUID_B, "td-two", NULL, true), 0);
        state_find_domain(s, UUID_B)->started = true;
}

static void assert_filled(const State *s) {
        assert_int_equal(s->phase, CYCLE_PHASE_READY);
        assert_int_equal(s->step, SLEEP_STEP_HYBRID_SLEEP);
        assert_int_equal(s->mem_sleep_restore, MEM_SLEEP_DEEP);
        assert_int_equal(s->started_realtime_usec, UINT64_C(1764100000123456));
        assert_int_equal(s->n_domains, 2);
        assert_string_equal(s->domains[0].uuid, UUID_A);
        assert_string_equal(s->domains[0].name, "td-one");
        assert_string_equal(s->domains[0].xml, TD_ONE_XML);
        assert_false(s->domains[0].persistent);
        assert_false(s->domains[0].started);
        assert_string_equal(s->domains[1].uuid, UUID_B);
        assert_null(s->domains[1].xml);
        assert_true(s->domains[1].persistent);
        assert_true(s->domains[1].started);
}

static void test_domains(void **state) {
        _cleanup_(state_done) State s;

        state_init(&s);
        assert_int_equal(s.mem_sleep_restore, _MEM_SLEEP_INVALID);
        assert_int_equal(state_add_domain(&s, UUID_A, "a", "<domain/>", true), 0);
        assert_int_equal(state_add_domain(&s, UUID_A, "again", "<domain/>", true), -EEXIST);
        assert_int_equal(state_add_domain(&s, "6a1b2c3d-0000-4000-8000-00000000000", "short", NULL, true), -EINVAL);
        assert_int_equal(state_add_domain(&s, "6a1b2c3d-0000-4000-8000-0000000000001", "long", NULL, true), -EINVAL);
        assert_int_equal(state_add_domain(&s, "6a1b2c3d+0000-4000-8000-000000000001", "dash", NULL, true), -EINVAL);
        assert_int_equal(state_add_domain(&s, "6a1b2c3d-0000-4000-8000-00000000000g", "hex", NULL, true), -EINVAL);
        assert_int_equal(s.n_domains, 1);
        assert_non_null(state_find_domain(&s, UUID_A));
        assert_null(state_find_domain(&s, UUID_B));
}

static void test_json_round_trip(void **state) {
        _cleanup_(state_done) State s, back;
        _cleanup_(freep) char *text = NULL;

        state_init(&back);
        fill(&s);
        assert_int_equal(state_to_json_string(&s, &text), 0);
        assert_non_null(strstr(text, "\"phase\": \"ready\""));
        assert_non_null(strstr(text, "\"mem_sleep_restore\": \"deep\""));
        assert_int_equal(state_from_json_string(text, &back), 0);
        assert_filled(&back);
}

static void test_file_round_trip(void **state) {
        const char *dir = *state;
        _cleanup_(state_done) State s, back, again;
        _cleanup_(freep) char *path = NULL, *tmp = NULL;
        struct stat st;

        state_init(&back);
        state_init(&again);
        fill(&s);
        assert_int_equal(state_save(dir, &s), 0);
        assert_true(asprintf(&path, "%s/" STATE_FILE_NAME, dir) > 0);
        assert_true(asprintf(&tmp, "%s/" STATE_FILE_NAME ".tmp", dir) > 0);
        assert_int_equal(stat(path, &st), 0);
        assert_int_equal(st.st_mode & 07777, 0600);
        assert_int_equal(access(tmp, F_OK), -1);
        assert_int_equal(state_load(dir, &back, NULL), 0);
        assert_filled(&back);

        /* Saving again replaces the file. */
        back.phase = CYCLE_PHASE_RESUMING;
        assert_int_equal(state_save(dir, &back), 0);
        assert_int_equal(state_load(dir, &again, NULL), 0);
        assert_int_equal(again.phase, CYCLE_PHASE_RESUMING);

        assert_int_equal(state_clear(dir), 0);
        assert_int_equal(access(path, F_OK), -1);
        assert_int_equal(state_clear(dir), 0);  /* missing is fine */
        assert_int_equal(state_load(dir, &again, NULL), -ENOENT);
}

static void test_missing(void **state) {
        const char *dir = *state;
        State s = { .n_domains = 42 };
        char *moved = NULL;

        assert_int_equal(state_load(dir, &s, &moved), -ENOENT);
        assert_null(moved);
        assert_int_equal(s.n_domains, 42);
}

static void test_unwritable(void **state) {
        const char *dir = *state;
        _cleanup_(state_done) State s, back;
        _cleanup_(freep) char *file = NULL, *below = NULL;

        fill(&s);
        /* Running as root, chmod stops nothing: use paths that cannot be directories. */
        assert_int_equal(write_file(dir, "plain", "x"), 0);
        assert_true(asprintf(&file, "%s/plain", dir) > 0);
        assert_true(asprintf(&below, "%s/plain/sub", dir) > 0);
        assert_int_equal(state_save(file, &s), -ENOTDIR);
        assert_int_equal(state_save(below, &s), -ENOTDIR);
        assert_int_equal(state_save("/nonexistent/tdsleep-state", &s), -ENOENT);
        assert_int_equal(state_clear(below), -ENOTDIR);

        /* A directory where the temp file goes: open fails, the real file is left alone. */
        assert_int_equal(state_save(dir, &s), 0);
        assert_int_equal(write_file(dir, STATE_FILE_NAME ".tmp/blocker", ""), 0);
        assert_int_equal(state_save(dir, &s), -EISDIR);
        state_init(&back);
        assert_int_equal(state_load(dir, &back, NULL), 0);
        assert_filled(&back);
}

/* Write text as the state file; loading it must fail as corrupt and move it aside. */
static void expect_corrupt(const char *dir, const char *text, size_t size) {
        _cleanup_(freep) char *path = NULL, *moved = NULL, *content = NULL;
        State s = { .n_domains = 42 };
        _cleanup_(fclosep) FILE *f = NULL;
        size_t n = 0;

        assert_true(asprintf(&path, "%s/" STATE_FILE_NAME, dir) > 0);
        f = fopen(path, "we");
        assert_non_null(f);
        assert_int_equal(fwrite(text, 1, size, f), size);
        assert_int_equal(fclose(TAKE_PTR(f)), 0);

        assert_int_equal(state_load(dir, &s, &moved), -EBADMSG);
        assert_int_equal(s.n_domains, 42);
        assert_non_null(moved);
        assert_int_equal(strncmp(moved, path, strlen(path)), 0);
        assert_int_equal(strncmp(moved + strlen(path), ".corrupt-", 9), 0);
        assert_true(strspn(moved + strlen(path) + 9, "0123456789") > 10);
        assert_int_equal(access(path, F_OK), -1);
        assert_int_equal(read_full_file(moved, 1 << 20, &content, &n), 0);
        assert_int_equal(n, size);
        assert_memory_equal(content, text, size);
        assert_int_equal(unlink(moved), 0);
}

static void test_corrupt(void **state) {
        static const char *const bad[] = {
                "",
                "   \n",
                "garbage",
                "{",
                GOOD_HEAD "[]",                                  /* truncated */
                GOOD_HEAD "[]} trailing",
                GOOD_HEAD "[]}{}",
                "[]",
                "null",
                GOOD_HEAD "{}}",                                 /* domains not an array */
                "{\"version\":3,\"phase\":\"ready\",\"step\":\"suspend\",\"mem_sleep_restore\":null,"
                "\"started_realtime_usec\":5,\"domains\":[]}",
                "{\"version\":\"1\",\"phase\":\"ready\",\"step\":\"suspend\",\"mem_sleep_restore\":null,"
                "\"started_realtime_usec\":5,\"domains\":[]}",
                "{\"version\":1,\"phase\":\"sleeping\",\"step\":\"suspend\",\"mem_sleep_restore\":null,"
                "\"started_realtime_usec\":5,\"domains\":[]}",
                "{\"version\":1,\"phase\":\"ready\",\"step\":\"nap\",\"mem_sleep_restore\":null,"
                "\"started_realtime_usec\":5,\"domains\":[]}",
                "{\"version\":1,\"phase\":\"ready\",\"step\":\"suspend\",\"mem_sleep_restore\":\"s3\","
                "\"started_realtime_usec\":5,\"domains\":[]}",
                "{\"version\":1,\"phase\":\"ready\",\"step\":\"suspend\","                 /* key missing */
                "\"started_realtime_usec\":5,\"domains\":[]}",
                "{\"version\":1,\"phase\":\"ready\",\"step\":\"suspend\",\"mem_sleep_restore\":null,"
                "\"started_realtime_usec\":-5,\"domains\":[]}",
                "{\"version\":1,\"phase\":\"ready\",\"step\":\"suspend\",\"mem_sleep_restore\":null,"
                "\"started_realtime_usec\":1.5,\"domains\":[]}",
                GOOD_HEAD "[{\"uuid\":\"" UUID_A "\",\"name\":\"a\",\"persistent\":true,\"started\":false}]}",
                GOOD_HEAD "[{\"uuid\":\"" UUID_A "\",\"name\":\"a\",\"persistent\":1,\"started\":false,"
                "\"xml\":null}]}",
                GOOD_HEAD "[{\"uuid\":\"short\",\"name\":\"a\",\"persistent\":true,\"started\":false,"
                "\"xml\":null}]}",
                GOOD_HEAD "[{\"uuid\":\"" UUID_A "\",\"name\":null,\"persistent\":true,\"started\":false,"
                "\"xml\":null}]}",
                GOOD_HEAD "[{\"uuid\":\"" UUID_A "\",\"name\":\"a\",\"persistent\":true,\"started\":false,"
                "\"xml\":5}]}",
                GOOD_HEAD "[{\"uuid\":\"" UUID_A "\",\"name\":\"a\",\"persistent\":true,\"started\":false,"
                "\"xml\":null},{\"uuid\":\"" UUID_A "\",\"name\":\"b\",\"persistent\":true,\"started\":false,"
                "\"xml\":null}]}",
                GOOD_HEAD "[5]}",
                GOOD_HEAD "[],}",                                /* not JSON, strict */
                GOOD_HEAD "[{\"name\":\"\xc3\xa9\",}]}",             /* the same, with UTF-8 */
                GOOD_HEAD "[\xc3\xa9]}",                           /* UTF-8 outside a string */
                "{'version':1}",
        };

        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                print_message("corrupt case %zu: %s\n", i, bad[i]);
                expect_corrupt(*state, bad[i], strlen(bad[i]));
        }
        /* An embedded NUL byte. */
        expect_corrupt(*state, GOOD_HEAD "[]}\0x", strlen(GOOD_HEAD) + 5);
}

static void test_accepted_variants(void **state) {
        _cleanup_(state_done) State s;

        state_init(&s);
        /* Unknown keys are ignored (a newer tdsleepd may add some); white space trails. */
        assert_int_equal(state_from_json_string(GOOD_HEAD "[{\"uuid\":\"" UUID_A "\",\"name\":\"a\","
                                                "\"persistent\":true,\"started\":false,\"xml\":\"<domain/>\","
                                                "\"future\":[1,2]}],\"later\":{}}\n\n", &s), 0);
        assert_int_equal(s.phase, CYCLE_PHASE_PREPARING);
        assert_int_equal(s.step, SLEEP_STEP_SUSPEND);
        assert_int_equal(s.mem_sleep_restore, _MEM_SLEEP_INVALID);
        assert_int_equal(s.n_domains, 1);
        assert_string_equal(s.domains[0].xml, "<domain/>");
        assert_int_equal(state_from_json_string("{}", &s), -EBADMSG);
}

static void test_too_large(void **state) {
        const char *dir = *state;
        _cleanup_(freep) char *path = NULL, *moved = NULL;
        State s = { .n_domains = 42 };
        int fd;

        /* A sparse file just over the limit: no need to write 64 MiB. */
        assert_true(asprintf(&path, "%s/" STATE_FILE_NAME, dir) > 0);
        fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
        assert_true(fd >= 0);
        assert_int_equal(ftruncate(fd, 64 * 1024 * 1024 + 1), 0);
        close(fd);
        assert_int_equal(state_load(dir, &s, &moved), -EBADMSG);
        assert_non_null(moved);
        assert_int_equal(access(moved, F_OK), 0);
        assert_int_equal(s.n_domains, 42);
}

static void fill_v2(State *s) {
        fill(s);
        memcpy(s->cycle_id, CYCLE_ID, sizeof(CYCLE_ID));
        memcpy(s->boot_id, BOOT_ID, sizeof(BOOT_ID));
        s->generation = UINT64_C(18446744073709551615);        /* the whole range survives */
        s->drained = true;
        s->domains[1].drained = true;
}

static void test_v2_round_trip(void **state) {
        _cleanup_(state_done) State s, back;
        _cleanup_(freep) char *text = NULL;

        state_init(&back);
        fill_v2(&s);
        assert_int_equal(state_to_json_string(&s, &text), 0);
        assert_non_null(strstr(text, "\"version\": 2"));
        assert_int_equal(state_from_json_string(text, &back), 0);
        assert_filled(&back);
        assert_string_equal(back.cycle_id, CYCLE_ID);
        assert_string_equal(back.boot_id, BOOT_ID);
        assert_true(back.generation == UINT64_C(18446744073709551615));
        assert_true(back.drained);
        assert_false(back.domains[0].drained);
        assert_true(back.domains[1].drained);
}

/* A State without a cycle id is what version 1 described; it is written as such, and a
 * version-1 file reads back with no ids, generation 0 and nothing drained. */
static void test_v1_compat(void **state) {
        _cleanup_(state_done) State s, back;
        _cleanup_(freep) char *text = NULL;

        state_init(&back);
        fill(&s);
        assert_int_equal(state_to_json_string(&s, &text), 0);
        assert_non_null(strstr(text, "\"version\": 1"));
        assert_null(strstr(text, "cycle_id"));
        assert_null(strstr(text, "drained"));
        assert_int_equal(state_from_json_string(text, &back), 0);
        assert_filled(&back);
        assert_string_equal(back.cycle_id, "");
        assert_string_equal(back.boot_id, "");
        assert_true(back.generation == 0);
        assert_false(back.drained);

        /* What version 1 cannot say is refused rather than silently dropped. */
        s.drained = true;
        assert_int_equal(state_to_json_string(&s, &text), -EINVAL);
        s.drained = false;
        s.domains[0].drained = true;
        assert_int_equal(state_to_json_string(&s, &text), -EINVAL);
        s.domains[0].drained = false;
        s.generation = 1;
        assert_int_equal(state_to_json_string(&s, &text), -EINVAL);
        s.generation = 0;
        memcpy(s.boot_id, BOOT_ID, sizeof(BOOT_ID));
        assert_int_equal(state_to_json_string(&s, &text), -EINVAL);
        /* ... and a version-2 State needs both ids well-formed. */
        memcpy(s.cycle_id, CYCLE_ID, sizeof(CYCLE_ID));
        s.boot_id[0] = 'F';
        assert_int_equal(state_to_json_string(&s, &text), -EINVAL);
}

#define V2_HEAD(cycle, boot, generation, drained)                                               \
        "{\"version\":2,\"phase\":\"ready\",\"step\":\"suspend\",\"mem_sleep_restore\":null,"              \
        "\"started_realtime_usec\":5," cycle boot generation drained "\"domains\":"
#define V2_GOOD_HEAD V2_HEAD("\"cycle_id\":\"" CYCLE_ID "\",", "\"boot_id\":\"" BOOT_ID "\",", \
                             "\"generation\":7,", "\"drained\":false,")
#define V2_DOMAIN(drained) "[{\"uuid\":\"" UUID_A "\",\"name\":\"a\",\"persistent\":true,\"started\":false," \
                           "\"xml\":null" drained "}]}"

static void test_v2_bad_fields(void **state) {
        static const char *const bad[] = {
                V2_HEAD("", "\"boot_id\":\"" BOOT_ID "\",", "\"generation\":7,", "\"drained\":false,") "[]}",
                V2_HEAD("\"cycle_id\":\"" CYCLE_ID "\",", "", "\"generation\":7,", "\"drained\":false,") "[]}",
                V2_HEAD("\"cycle_id\":\"\",", "\"boot_id\":\"" BOOT_ID "\",", "\"generation\":7,",
                        "\"drained\":false,") "[]}",
                V2_HEAD("\"cycle_id\":\"0123456789ABCDEF0123456789abcdef\",", "\"boot_id\":\"" BOOT_ID "\",",
                        "\"generation\":7,", "\"drained\":false,") "[]}",
                V2_HEAD("\"cycle_id\":\"0123456789abcdef0123456789abcde\",", "\"boot_id\":\"" BOOT_ID "\",",
                        "\"generation\":7,", "\"drained\":false,") "[]}",
                V2_HEAD("\"cycle_id\":\"0123456789abcdef0123456789abcdef0\",", "\"boot_id\":\"" BOOT_ID "\",",
                        "\"generation\":7,", "\"drained\":false,") "[]}",
                V2_HEAD("\"cycle_id\":\"01234567-89ab-cdef-0123-456789abcdef\",",
                        "\"boot_id\":\"" BOOT_ID "\",", "\"generation\":7,", "\"drained\":false,") "[]}",
                V2_HEAD("\"cycle_id\":\"" CYCLE_ID "\",", "\"boot_id\":\"fedcba9876543210fedcba987654321g\",",
                        "\"generation\":7,", "\"drained\":false,") "[]}",
                V2_HEAD("\"cycle_id\":\"" CYCLE_ID "\",", "\"boot_id\":null,", "\"generation\":7,",
                        "\"drained\":false,") "[]}",
                V2_HEAD("\"cycle_id\":\"" CYCLE_ID "\",", "\"boot_id\":\"" BOOT_ID "\",", "",
                        "\"drained\":false,") "[]}",
                V2_HEAD("\"cycle_id\":\"" CYCLE_ID "\",", "\"boot_id\":\"" BOOT_ID "\",", "\"generation\":-1,",
                        "\"drained\":false,") "[]}",
                V2_HEAD("\"cycle_id\":\"" CYCLE_ID "\",", "\"boot_id\":\"" BOOT_ID "\",", "\"generation\":1.5,",
                        "\"drained\":false,") "[]}",
                V2_HEAD("\"cycle_id\":\"" CYCLE_ID "\",", "\"boot_id\":\"" BOOT_ID "\",", "\"generation\":\"7\",",
                        "\"drained\":false,") "[]}",
                V2_HEAD("\"cycle_id\":\"" CYCLE_ID "\",", "\"boot_id\":\"" BOOT_ID "\",", "\"generation\":7,", "")
                "[]}",
                V2_HEAD("\"cycle_id\":\"" CYCLE_ID "\",", "\"boot_id\":\"" BOOT_ID "\",", "\"generation\":7,",
                        "\"drained\":0,") "[]}",
                V2_GOOD_HEAD V2_DOMAIN(""),                       /* a domain without drained */
                V2_GOOD_HEAD V2_DOMAIN(",\"drained\":\"no\""),
        };
        _cleanup_(state_done) State s;

        state_init(&s);
        assert_int_equal(state_from_json_string(V2_GOOD_HEAD V2_DOMAIN(",\"drained\":true"), &s), 0);
        assert_true(s.generation == 7);
        assert_true(s.domains[0].drained);
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                print_message("bad v2 case %zu: %s\n", i, bad[i]);
                expect_corrupt(*state, bad[i], strlen(bad[i]));
        }
}

static void test_move_aside(void **state) {
        const char *dir = *state;
        _cleanup_(freep) char *moved = NULL, *path = NULL;

        assert_int_equal(state_move_aside(dir, "earlier-boot", &moved), -ENOENT);
        assert_int_equal(write_file(dir, STATE_FILE_NAME, "{}"), 0);
        assert_int_equal(state_move_aside(dir, "earlier-boot", &moved), 0);
        assert_true(asprintf(&path, "%s/" STATE_FILE_NAME ".earlier-boot-", dir) > 0);
        assert_int_equal(strncmp(moved, path, strlen(path)), 0);
        assert_int_equal(access(moved, F_OK), 0);
}

static void test_phase_table(void **state) {
        static const char *const names[] = { "idle", "preparing", "ready", "resuming" };

        for (size_t i = 0; i < ELEMENTSOF(names); i++) {
                assert_string_equal(cycle_phase_to_string((CyclePhase) i), names[i]);
                assert_int_equal(cycle_phase_from_string(names[i]), (CyclePhase) i);
        }
        assert_int_equal(cycle_phase_from_string("READY"), _CYCLE_PHASE_INVALID);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_domains),
                cmocka_unit_test(test_json_round_trip),
                cmocka_unit_test_setup_teardown(test_file_round_trip, dir_setup, dir_teardown),
                cmocka_unit_test_setup_teardown(test_missing, dir_setup, dir_teardown),
                cmocka_unit_test_setup_teardown(test_unwritable, dir_setup, dir_teardown),
                cmocka_unit_test_setup_teardown(test_corrupt, dir_setup, dir_teardown),
                cmocka_unit_test(test_accepted_variants),
                cmocka_unit_test_setup_teardown(test_too_large, dir_setup, dir_teardown),
                cmocka_unit_test(test_v2_round_trip),
                cmocka_unit_test(test_v1_compat),
                cmocka_unit_test_setup_teardown(test_v2_bad_fields, dir_setup, dir_teardown),
                cmocka_unit_test_setup_teardown(test_move_aside, dir_setup, dir_teardown),
                cmocka_unit_test(test_phase_table),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
