/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "cpus.h"
#include "test-util.h"

/* ---- pure parsers */

static void test_parse_range_list(void **state) {
        static const struct {
                const char *text;
                int r;
                const char *formatted;  /* the parsed list, formatted back */
                size_t n;
        } cases[] = {
                { "0-3,8-11\n", 0, "0-3,8-11", 8 },
                { "0-3,8-11", 0, "0-3,8-11", 8 },
                { "5\n", 0, "5", 1 },
                { "0\n", 0, "0", 1 },
                { "", 0, "", 0 },
                { "\n", 0, "", 0 },
                { "0,2,4-5\n", 0, "0,2,4-5", 4 },
                { "8-11,0-3\n", 0, "0-3,8-11", 8 },     /* unsorted input */
                { "0-3,2-5\n", 0, "0-5", 6 },           /* overlapping */
                { "3-3\n", 0, "3", 1 },
                { "8191\n", 0, "8191", 1 },
                { "0-8191\n", 0, "0-8191", 8192 },
                { "3-1\n", -EINVAL, NULL, 0 },          /* reversed */
                { "abc\n", -EINVAL, NULL, 0 },
                { "1,\n", -EINVAL, NULL, 0 },
                { ",1\n", -EINVAL, NULL, 0 },
                { "1,,2\n", -EINVAL, NULL, 0 },
                { "1-\n", -EINVAL, NULL, 0 },
                { "-1\n", -EINVAL, NULL, 0 },
                { "1-2-3\n", -EINVAL, NULL, 0 },
                { " 1\n", -EINVAL, NULL, 0 },
                { "1 \n", -EINVAL, NULL, 0 },
                { "1\n\n", -EINVAL, NULL, 0 },
                { "1\n2\n", -EINVAL, NULL, 0 },
                { "+1\n", -EINVAL, NULL, 0 },
                { "0x1\n", -EINVAL, NULL, 0 },
                { "8192\n", -ERANGE, NULL, 0 },
                { "0-8192\n", -ERANGE, NULL, 0 },
                { "99999999999999999999999\n", -ERANGE, NULL, 0 },
                { "0-99999999999999999999999\n", -ERANGE, NULL, 0 },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_(freep) unsigned *cpus = NULL;
                _cleanup_(freep) char *formatted = NULL;
                size_t n = 42;

                print_message("range list '%s'\n", cases[i].text);
                assert_int_equal(cpus_parse_range_list(cases[i].text, &cpus, &n), cases[i].r);
                if (cases[i].r < 0) {
                        assert_int_equal(n, 42);
                        continue;
                }
                assert_int_equal(n, cases[i].n);
                assert_true(n > 0 || !cpus);
                for (size_t j = 1; j < n; j++)
                        assert_true(cpus[j - 1] < cpus[j]);
                assert_int_equal(cpus_format_range_list(cpus, n, &formatted), 0);
                assert_string_equal(formatted, cases[i].formatted);
        }
}

static void test_parse_package_id(void **state) {
        int id = 42;

        assert_int_equal(cpus_parse_package_id("0\n", &id), 0);
        assert_int_equal(id, 0);
        assert_int_equal(cpus_parse_package_id("3", &id), 0);
        assert_int_equal(id, 3);
        assert_int_equal(cpus_parse_package_id("-1\n", &id), 0);
        assert_int_equal(id, -1);
        assert_int_equal(cpus_parse_package_id("2147483647\n", &id), 0);
        assert_int_equal(id, 2147483647);
        id = 42;
        assert_int_equal(cpus_parse_package_id("2147483648\n", &id), -ERANGE);
        assert_int_equal(cpus_parse_package_id("99999999999999999999999\n", &id), -ERANGE);
        assert_int_equal(cpus_parse_package_id("-2\n", &id), -ERANGE);
        assert_int_equal(cpus_parse_package_id("", &id), -EINVAL);
        assert_int_equal(cpus_parse_package_id("\n", &id), -EINVAL);
        assert_int_equal(cpus_parse_package_id("-\n", &id), -EINVAL);
        assert_int_equal(cpus_parse_package_id("one\n", &id), -EINVAL);
        assert_int_equal(cpus_parse_package_id(" 1\n", &id), -EINVAL);
        assert_int_equal(cpus_parse_package_id("+1\n", &id), -EINVAL);
        assert_int_equal(cpus_parse_package_id("1 \n", &id), -EINVAL);
        assert_int_equal(cpus_parse_package_id("1\n\n", &id), -EINVAL);
        assert_int_equal(id, 42);
}

static void test_parse_online(void **state) {
        bool b = false;

        assert_int_equal(cpus_parse_online("1\n", &b), 0);
        assert_true(b);
        assert_int_equal(cpus_parse_online("0\n", &b), 0);
        assert_false(b);
        assert_int_equal(cpus_parse_online("1", &b), 0);
        assert_true(b);
        assert_int_equal(cpus_parse_online("", &b), -EINVAL);
        assert_int_equal(cpus_parse_online("2\n", &b), -EINVAL);
        assert_int_equal(cpus_parse_online("yes\n", &b), -EINVAL);
        assert_int_equal(cpus_parse_online("1\n\n", &b), -EINVAL);
        assert_true(b);
}

/* ---- cpus_read() on fake trees */


static void rm(Tree *t, const char *rel) {
        _cleanup_(freep) char *path = NULL;

        assert_true(asprintf(&path, "%s/%s", t->root, rel) > 0);
        assert_int_equal(unlink(path), 0);
}

/* cpuN below the fake root; package < -1 leaves out topology/, online < 0 the online file. */
static void put_cpu(Tree *t, unsigned cpu, int package, int online) {
        char rel[128], text[32];

        if (package >= -1) {
                snprintf(rel, sizeof rel, "sys/devices/system/cpu/cpu%u/topology/physical_package_id", cpu);
                snprintf(text, sizeof text, "%d\n", package);
                put(t, rel, text);
        }
        if (online >= 0) {
                snprintf(rel, sizeof rel, "sys/devices/system/cpu/cpu%u/online", cpu);
                put(t, rel, online ? "1\n" : "0\n");
        }
}

/* Two packages of four CPUs; cpu0 has no online file. */
static void put_two_packages(Tree *t) {
        put(t, "sys/devices/system/cpu/present", "0-7\n");
        put_cpu(t, 0, 0, -1);
        for (unsigned i = 1; i < 8; i++)
                put_cpu(t, i, i / 4, 1);
}

static void expect_read_error(Tree *t, int r, const char *rel, const char *what) {
        _cleanup_(freep) char *error = NULL, *expected = NULL;
        CpuPicture p = { .n_cpus = 77 };

        assert_int_equal(cpus_read(t->root, &p, &error), r);
        assert_true(asprintf(&expected, "%s/%s: %s", t->root, rel, what) > 0);
        assert_string_equal(error, expected);
        assert_int_equal(p.n_cpus, 77);
}

static void test_read_two_packages(void **state) {
        Tree *t = *state;
        _cleanup_(cpu_picture_done) CpuPicture p = { .cpus = NULL };
        _cleanup_(freep) char *error = NULL, *empty = NULL;

        put_two_packages(t);
        assert_int_equal(cpus_read(t->root, &p, &error), 0);
        assert_null(error);
        assert_int_equal(p.n_cpus, 8);
        assert_true(p.cpus[0].online);
        assert_false(p.cpus[0].hotpluggable);
        assert_true(p.cpus[1].hotpluggable);
        assert_int_equal(p.n_packages, 2);
        assert_int_equal(p.n_unknown, 0);
        for (int i = 0; i < 2; i++) {
                assert_int_equal(p.packages[i].id, i);
                assert_int_equal(p.packages[i].n_cpus, 4);
                assert_int_equal(p.packages[i].n_online, 4);
                assert_int_equal(p.packages[i].lowest_cpu, 4 * i);
        }
        assert_true(cpu_picture_can_create_td(&p));
        assert_int_equal(cpu_picture_n_empty(&p), 0);
        assert_int_equal(cpu_picture_format_empty(&p, NULL, &empty), 0);
        assert_string_equal(empty, "");
        assert_non_null(cpu_picture_find_package(&p, 1));
        assert_null(cpu_picture_find_package(&p, 2));
}

static void test_read_empty_package(void **state) {
        Tree *t = *state;
        _cleanup_(cpu_picture_done) CpuPicture p = { .cpus = NULL }, q = { .cpus = NULL };
        _cleanup_(freep) char *empty = NULL, *newly = NULL, *slash = NULL;

        /* Package 1 (cpus 4-7) has nothing online; package 2 (8-9) one of two; the
         * packages are listed by id whatever the CPU order. */
        put(t, "sys/devices/system/cpu/present", "0-1,4-9\n");
        put_cpu(t, 0, 2, -1);
        put_cpu(t, 1, 2, 0);
        for (unsigned i = 4; i < 8; i++)
                put_cpu(t, i, 1, 0);
        put_cpu(t, 8, 0, 1);
        put_cpu(t, 9, 0, 1);
        assert_int_equal(cpus_read(t->root, &p, NULL), 0);
        assert_int_equal(p.n_packages, 3);
        assert_int_equal(p.packages[0].id, 0);
        assert_int_equal(p.packages[0].lowest_cpu, 8);
        assert_int_equal(p.packages[1].id, 1);
        assert_int_equal(p.packages[1].n_cpus, 4);
        assert_int_equal(p.packages[1].n_online, 0);
        assert_int_equal(p.packages[1].lowest_cpu, 4);
        assert_int_equal(p.packages[2].id, 2);
        assert_int_equal(p.packages[2].n_online, 1);
        assert_false(cpu_picture_can_create_td(&p));
        assert_int_equal(cpu_picture_n_empty(&p), 1);
        assert_int_equal(cpu_picture_format_empty(&p, NULL, &empty), 0);
        assert_string_equal(empty, "1");

        /* Package 0 empties too: only it is new compared to p. */
        put_cpu(t, 8, 0, 0);
        put_cpu(t, 9, 0, 0);
        assert_true(asprintf(&slash, "%s/", t->root) > 0);
        assert_int_equal(cpus_read(slash, &q, NULL), 0);
        assert_false(cpu_picture_equal(&p, &q));
        assert_int_equal(cpu_picture_n_empty(&q), 2);
        assert_int_equal(cpu_picture_format_empty(&q, &p, &newly), 0);
        assert_string_equal(newly, "0");
}

static void test_read_unknown_package(void **state) {
        Tree *t = *state;
        _cleanup_(cpu_picture_done) CpuPicture p = { .cpus = NULL }, q = { .cpus = NULL },
                                               r = { .cpus = NULL };

        /* -1 is the kernel's "unknown": those CPUs form a package of their own. */
        put(t, "sys/devices/system/cpu/present", "0-3\n");
        put_cpu(t, 0, 0, -1);
        put_cpu(t, 1, 0, 1);
        put_cpu(t, 2, -1, 1);
        put_cpu(t, 3, -1, 1);
        assert_int_equal(cpus_read(t->root, &p, NULL), 0);
        assert_int_equal(p.n_packages, 2);
        assert_int_equal(p.packages[0].id, -1);
        assert_int_equal(p.packages[0].lowest_cpu, 2);
        assert_int_equal(p.packages[1].id, 0);

        /* Package 1: cpu4 offline (its topology still there), cpu5 online. */
        put(t, "sys/devices/system/cpu/present", "0-5\n");
        put_cpu(t, 4, 1, 0);
        put_cpu(t, 5, 1, 1);
        assert_int_equal(cpus_read(t->root, &q, NULL), 0);
        assert_true(cpu_picture_can_create_td(&q));

        /* cpu5 goes offline and the kernel removes its topology/: without history its
         * package is unknown... */
        rm(t, "sys/devices/system/cpu/cpu5/topology/physical_package_id");
        put_cpu(t, 5, -2, 0);
        assert_int_equal(cpus_read(t->root, &r, NULL), 0);
        assert_int_equal(r.n_unknown, 1);
        assert_false(r.cpus[5].package_known);
        assert_int_equal(r.n_packages, 3);
        assert_int_equal(cpu_picture_find_package(&r, 1)->n_cpus, 1);
        assert_false(cpu_picture_can_create_td(&r));
        cpu_picture_done(&r);

        /* ...but a re-read remembers it from the earlier picture. */
        assert_int_equal(cpus_reread(t->root, &q, &r, NULL), 0);
        assert_int_equal(r.n_unknown, 0);
        assert_true(r.cpus[5].package_known);
        assert_int_equal(r.cpus[5].package, 1);
        assert_int_equal(cpu_picture_find_package(&r, 1)->n_cpus, 2);
        assert_int_equal(cpu_picture_find_package(&r, 1)->n_online, 0);
}

static void test_read_errors(void **state) {
        Tree *t = *state;

        expect_read_error(t, -ENOENT, "sys/devices/system/cpu/present", "No such file or directory");
        put(t, "sys/devices/system/cpu/present", "0-3 garbage\n");
        expect_read_error(t, -EINVAL, "sys/devices/system/cpu/present", "not a CPU range list");
        put(t, "sys/devices/system/cpu/present", "0-9000\n");
        expect_read_error(t, -ERANGE, "sys/devices/system/cpu/present", "CPU number not below 8192");

        put_two_packages(t);
        put(t, "sys/devices/system/cpu/cpu2/online", "yes\n");
        expect_read_error(t, -EINVAL, "sys/devices/system/cpu/cpu2/online", "expected 0 or 1");
        put_cpu(t, 2, 0, 1);
        put(t, "sys/devices/system/cpu/cpu5/topology/physical_package_id", "socket1\n");
        expect_read_error(t, -EINVAL, "sys/devices/system/cpu/cpu5/topology/physical_package_id",
                          "not a package id");
        put(t, "sys/devices/system/cpu/cpu5/topology/physical_package_id", "-7\n");
        expect_read_error(t, -ERANGE, "sys/devices/system/cpu/cpu5/topology/physical_package_id",
                          "not a package id");
        put_cpu(t, 5, 1, 1);

        /* An online CPU must say where it is; a present CPU without a directory is online
         * (no online file), so the same applies. */
        rm(t, "sys/devices/system/cpu/cpu6/topology/physical_package_id");
        expect_read_error(t, -ENOENT, "sys/devices/system/cpu/cpu6/topology/physical_package_id",
                          "No such file or directory");
        put_cpu(t, 6, 1, 1);
        put(t, "sys/devices/system/cpu/present", "0-8\n");
        expect_read_error(t, -ENOENT, "sys/devices/system/cpu/cpu8/topology/physical_package_id",
                          "No such file or directory");
}

/* ---- the monitor on a fake tree */

typedef struct Seen {
        unsigned calls;
        size_t old_empty, now_empty;
} Seen;

static void on_changed(void *userdata, const CpuPicture *old, const CpuPicture *now) {
        Seen *s = userdata;

        s->calls++;
        s->old_empty = cpu_picture_n_empty(old);
        s->now_empty = cpu_picture_n_empty(now);
}

static void new_started(Tree *t, sd_event **ret_e, Seen *seen, Cpus **ret) {
        _cleanup_(freep) char *error = NULL;

        assert_int_equal(sd_event_new(ret_e), 0);
        assert_int_equal(cpus_new(*ret_e, t->root, on_changed, seen, ret), 0);
        assert_int_equal(cpus_picture(*ret)->n_cpus, 0);
        assert_int_equal(cpus_start(*ret, &error), 0);
        assert_null(error);
}

static void test_monitor_refresh(void **state) {
        Tree *t = *state;
        _cleanup_(cpus_freep) Cpus *c = NULL;
        _cleanup_(freep) char *error = NULL;
        sd_event *e = NULL;
        Seen seen = { 0 };

        put_two_packages(t);
        new_started(t, &e, &seen, &c);
        assert_int_equal(seen.calls, 0);  /* the first read is no change */
        assert_int_equal(cpus_picture(c)->n_packages, 2);
        assert_null(cpus_last_error(c));

        assert_int_equal(cpus_refresh(c, NULL), 0);
        assert_int_equal(seen.calls, 0);  /* nothing changed */
        for (unsigned i = 4; i < 8; i++)
                put_cpu(t, i, 1, 0);
        assert_int_equal(cpus_refresh(c, NULL), 0);
        assert_int_equal(seen.calls, 1);
        assert_int_equal(seen.old_empty, 0);
        assert_int_equal(seen.now_empty, 1);
        assert_false(cpu_picture_can_create_td(cpus_picture(c)));

        /* A broken tree keeps the old picture and says why. */
        put(t, "sys/devices/system/cpu/cpu3/online", "?\n");
        assert_int_equal(cpus_refresh(c, &error), -EINVAL);
        assert_non_null(strstr(error, "cpu3/online: expected 0 or 1"));
        assert_string_equal(cpus_last_error(c), error);
        assert_int_equal(cpus_picture(c)->n_cpus, 8);
        assert_int_equal(seen.calls, 1);
        put_cpu(t, 3, 0, 1);
        assert_int_equal(cpus_refresh(c, NULL), 0);
        assert_null(cpus_last_error(c));

        c = cpus_free(c);
        sd_event_unref(e);
}

static void expect_file(Tree *t, const char *rel, const char *text) {
        _cleanup_(freep) char *path = NULL, *got = NULL;

        assert_true(asprintf(&path, "%s/%s", t->root, rel) > 0);
        assert_int_equal(read_full_file(path, 4096, &got, NULL), 0);
        assert_string_equal(got, text);
}

static void test_online_empty_packages(void **state) {
        Tree *t = *state;
        _cleanup_(cpus_freep) Cpus *c = NULL;
        _cleanup_(freep) char *error = NULL;
        sd_event *e = NULL;
        Seen seen = { 0 };
        unsigned onlined = 42;

        /* Packages 1 (cpus 4-7) and 2 (9-11, cpu 8 is absent) are empty. */
        put(t, "sys/devices/system/cpu/present", "0-7,9-11\n");
        put_cpu(t, 0, 0, -1);
        for (unsigned i = 1; i < 4; i++)
                put_cpu(t, i, 0, 0);
        for (unsigned i = 4; i < 8; i++)
                put_cpu(t, i, 1, 0);
        for (unsigned i = 9; i < 12; i++)
                put_cpu(t, i, 2, 0);
        new_started(t, &e, &seen, &c);
        assert_int_equal(cpu_picture_n_empty(cpus_picture(c)), 2);

        assert_int_equal(cpus_online_empty_packages(c, &onlined, &error), 0);
        assert_null(error);
        assert_int_equal(onlined, 2);
        expect_file(t, "sys/devices/system/cpu/cpu4/online", "1");
        expect_file(t, "sys/devices/system/cpu/cpu5/online", "0\n");
        expect_file(t, "sys/devices/system/cpu/cpu9/online", "1");
        expect_file(t, "sys/devices/system/cpu/cpu1/online", "0\n");
        assert_true(cpu_picture_can_create_td(cpus_picture(c)));
        assert_int_equal(seen.calls, 1);
        assert_int_equal(seen.old_empty, 2);
        assert_int_equal(seen.now_empty, 0);

        /* Nothing empty: nothing written. */
        assert_int_equal(cpus_online_empty_packages(c, &onlined, NULL), 0);
        assert_int_equal(onlined, 0);

        /* A failed write names the file; the other packages are still tried. */
        put_cpu(t, 4, 1, 0);
        put_cpu(t, 9, 2, 0);
        assert_int_equal(cpus_refresh(c, NULL), 0);
        rm(t, "sys/devices/system/cpu/cpu4/online");
        assert_int_equal(cpus_online_empty_packages(c, &onlined, &error), -ENOENT);
        assert_non_null(strstr(error, "/sys/devices/system/cpu/cpu4/online: No such file or directory"));
        assert_true(strncmp(error, t->root, strlen(t->root)) == 0);
        assert_int_equal(onlined, 1);
        expect_file(t, "sys/devices/system/cpu/cpu9/online", "1");

        c = cpus_free(c);
        sd_event_unref(e);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_parse_range_list),
                cmocka_unit_test(test_parse_package_id),
                cmocka_unit_test(test_parse_online),
                cmocka_unit_test_setup_teardown(test_read_two_packages, tree_setup, tree_teardown),
                cmocka_unit_test_setup_teardown(test_read_empty_package, tree_setup, tree_teardown),
                cmocka_unit_test_setup_teardown(test_read_unknown_package, tree_setup, tree_teardown),
                cmocka_unit_test_setup_teardown(test_read_errors, tree_setup, tree_teardown),
                cmocka_unit_test_setup_teardown(test_monitor_refresh, tree_setup, tree_teardown),
                cmocka_unit_test_setup_teardown(test_online_empty_packages, tree_setup, tree_teardown),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
