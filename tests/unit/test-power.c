/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "power-watch.h"
#include "power.h"
#include "test-util.h"

#define SWAPS_HEADER "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n"

static void test_parse_state(void **state) {
        unsigned s = 0xff;

        assert_int_equal(power_parse_state("freeze mem disk\n", &s), 0);
        assert_int_equal(s, POWER_MASK(POWER_STATE_FREEZE) | POWER_MASK(POWER_STATE_MEM) |
                            POWER_MASK(POWER_STATE_DISK));
        assert_int_equal(power_parse_state("standby\n", &s), 0);
        assert_int_equal(s, POWER_MASK(POWER_STATE_STANDBY));
        assert_int_equal(power_parse_state("", &s), 0);
        assert_int_equal(s, 0);
        assert_int_equal(power_parse_state("\n", &s), 0);
        assert_int_equal(s, 0);
        s = 0xff;
        assert_int_equal(power_parse_state("freeze mem hibernate\n", &s), -EINVAL);
        assert_int_equal(power_parse_state("[mem]\n", &s), -EINVAL);
        assert_int_equal(s, 0xff);
}

static void test_parse_mem_sleep(void **state) {
        static const struct {
                const char *text;
                int r;
                unsigned available;
                MemSleep selected;
        } cases[] = {
                { "s2idle [deep]\n", 0, POWER_MASK(MEM_SLEEP_S2IDLE) | POWER_MASK(MEM_SLEEP_DEEP), MEM_SLEEP_DEEP },
                { "[s2idle] deep\n", 0, POWER_MASK(MEM_SLEEP_S2IDLE) | POWER_MASK(MEM_SLEEP_DEEP), MEM_SLEEP_S2IDLE },
                { "s2idle [shallow] deep\n", 0,
                  POWER_MASK(MEM_SLEEP_S2IDLE) | POWER_MASK(MEM_SLEEP_SHALLOW) | POWER_MASK(MEM_SLEEP_DEEP),
                  MEM_SLEEP_SHALLOW },
                { "[s2idle]\n", 0, POWER_MASK(MEM_SLEEP_S2IDLE), MEM_SLEEP_S2IDLE },
                { "s2idle deep\n", 0, POWER_MASK(MEM_SLEEP_S2IDLE) | POWER_MASK(MEM_SLEEP_DEEP), _MEM_SLEEP_INVALID },
                { "", 0, 0, _MEM_SLEEP_INVALID },
                { "[s2idle] [deep]\n", -EINVAL, 0, 0 },
                { "s2idle [deep\n", -EINVAL, 0, 0 },
                { "s2idle deep]\n", -EINVAL, 0, 0 },
                { "[]\n", -EINVAL, 0, 0 },
                { "[de]ep]\n", -EINVAL, 0, 0 },
                { "s2idle [foo]\n", -EINVAL, 0, 0 },
                { "s3\n", -EINVAL, 0, 0 },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                unsigned available = 0xff;
                MemSleep selected = 42;

                print_message("mem_sleep '%s'\n", cases[i].text);
                assert_int_equal(power_parse_mem_sleep(cases[i].text, &available, &selected), cases[i].r);
                if (cases[i].r < 0)
                        continue;
                assert_int_equal(available, cases[i].available);
                assert_int_equal(selected, cases[i].selected);
        }
}

static void test_parse_swaps(void **state) {
        bool has = true;

        assert_int_equal(power_parse_swaps(SWAPS_HEADER, &has), 0);
        assert_false(has);
        assert_int_equal(power_parse_swaps(SWAPS_HEADER "\n  \n", &has), 0);
        assert_false(has);
        assert_int_equal(power_parse_swaps(SWAPS_HEADER "/dev/vda3    partition\t4194300\t0\t-2\n", &has), 0);
        assert_true(has);
        has = true;
        assert_int_equal(power_parse_swaps("Filename Type Size Used Priority", &has), 0);
        assert_false(has);
        assert_int_equal(power_parse_swaps("/dev/vda3    partition\t4194300\t0\t-2\n", &has), -EINVAL);
        assert_int_equal(power_parse_swaps("", &has), -EINVAL);
        assert_int_equal(power_parse_swaps("Filenames\n/dev/sda2 x\n", &has), -EINVAL);
}

static void test_cpuinfo_flags(void **state) {
        const char *cpuinfo =
                "processor\t: 0\n"
                "model name\t: Intel(R) Xeon(R) Gold\n"
                "flags\t\t: fpu vme tdx_host_platform_x sse\n"
                "bugs\t\t: tdx_host_platform\n"
                "\n"
                "processor\t: 1\n"
                "flags\t\t: fpu vme sse tdx_host_platform\n";

        assert_true(power_cpuinfo_has_flag(cpuinfo, "tdx_host_platform"));
        assert_true(power_cpuinfo_has_flag(cpuinfo, "fpu"));
        assert_true(power_cpuinfo_has_flag(cpuinfo, "sse"));
        assert_false(power_cpuinfo_has_flag(cpuinfo, "vmx"));
        assert_false(power_cpuinfo_has_flag(cpuinfo, "Intel(R)"));
        /* Only whole words, only on "flags" lines. */
        assert_false(power_cpuinfo_has_flag("flags\t\t: fpu tdx_host_platform_x\nbugs\t: tdx_host_platform\n",
                                            "tdx_host_platform"));
        assert_false(power_cpuinfo_has_flag("vmx flags\t: tdx_host_platform\n", "tdx_host_platform"));
        assert_false(power_cpuinfo_has_flag("", "fpu"));
        assert_true(power_cpuinfo_has_flag("flags: fpu", "fpu"));
}

/* ---- power_read() on fake trees */


/* A typical TDX host: TDX on, s2idle selected, hibernation possible. */
static void put_full_tree(Tree *t) {
        put(t, "sys/power/state", "freeze mem disk\n");
        put(t, "sys/power/mem_sleep", "[s2idle] deep\n");
        put(t, "proc/swaps", SWAPS_HEADER "/swapfile  file  1048572  0  -2\n");
        put(t, "proc/cpuinfo", "processor\t: 0\nflags\t\t: fpu tdx_host_platform\n");
        put(t, "sys/module/kvm_intel/parameters/tdx", "Y\n");
}

static void expect_read_error(Tree *t, int r, const char *rel, const char *what) {
        _cleanup_(freep) char *error = NULL, *expected = NULL;
        PowerPicture p = { .states = 0x77 };

        assert_int_equal(power_read(t->root, &p, &error), r);
        assert_true(asprintf(&expected, "%s/%s: %s", t->root, rel, what) > 0);
        assert_string_equal(error, expected);
        assert_int_equal(p.states, 0x77);
}

static void test_read_full(void **state) {
        Tree *t = *state;
        _cleanup_(freep) char *error = NULL, *slash = NULL;
        PowerPicture p;

        put_full_tree(t);
        assert_int_equal(power_read(t->root, &p, &error), 0);
        assert_null(error);
        assert_int_equal(p.states, POWER_MASK(POWER_STATE_FREEZE) | POWER_MASK(POWER_STATE_MEM) |
                                   POWER_MASK(POWER_STATE_DISK));
        assert_int_equal(p.mem_sleep_available, POWER_MASK(MEM_SLEEP_S2IDLE) | POWER_MASK(MEM_SLEEP_DEEP));
        assert_int_equal(p.mem_sleep_selected, MEM_SLEEP_S2IDLE);
        assert_true(p.has_swap);
        assert_true(p.tdx_host_platform);
        assert_true(p.kvm_tdx);

        /* A trailing slash on the root changes nothing. */
        assert_true(asprintf(&slash, "%s//", t->root) > 0);
        p = (PowerPicture) { .states = 0 };
        assert_int_equal(power_read(slash, &p, &error), 0);
        assert_true(p.kvm_tdx);
}

static void test_read_minimal(void **state) {
        Tree *t = *state;
        _cleanup_(freep) char *error = NULL;
        PowerPicture p;

        /* Only the required file: everything optional counts as absent. */
        put(t, "sys/power/state", "freeze mem\n");
        assert_int_equal(power_read(t->root, &p, &error), 0);
        assert_int_equal(p.states, POWER_MASK(POWER_STATE_FREEZE) | POWER_MASK(POWER_STATE_MEM));
        assert_int_equal(p.mem_sleep_available, 0);
        assert_int_equal(p.mem_sleep_selected, _MEM_SLEEP_INVALID);
        assert_false(p.has_swap);
        assert_false(p.tdx_host_platform);
        assert_false(p.kvm_tdx);

        put(t, "sys/module/kvm_intel/parameters/tdx", "N\n");
        put(t, "proc/swaps", SWAPS_HEADER);
        assert_int_equal(power_read(t->root, &p, &error), 0);
        assert_false(p.kvm_tdx);
        assert_false(p.has_swap);
}

static void test_read_errors(void **state) {
        Tree *t = *state;

        expect_read_error(t, -ENOENT, "sys/power/state", "No such file or directory");
        put_full_tree(t);
        put(t, "sys/power/state", "freeze mem sleepy\n");
        expect_read_error(t, -EINVAL, "sys/power/state", "unknown state 'sleepy'");
        put(t, "sys/power/state", "freeze mem disk\n");
        put(t, "sys/power/mem_sleep", "s2idle [foo]\n");
        expect_read_error(t, -EINVAL, "sys/power/mem_sleep", "unknown label 'foo'");
        put(t, "sys/power/mem_sleep", "s2idle foo\n");
        expect_read_error(t, -EINVAL, "sys/power/mem_sleep", "unknown label 'foo'");
        put(t, "sys/power/mem_sleep", "s2idle [deep\n");
        expect_read_error(t, -EINVAL, "sys/power/mem_sleep", "unknown label '[deep'");
        put(t, "sys/power/mem_sleep", "[s2idle] [deep]\n");
        expect_read_error(t, -EINVAL, "sys/power/mem_sleep", "more than one selected label ('deep')");
        put(t, "sys/power/mem_sleep", "s2idle [deep]\n");
        put(t, "proc/swaps", "garbage\n");
        expect_read_error(t, -EINVAL, "proc/swaps", "no 'Filename' header line");
        put(t, "proc/swaps", SWAPS_HEADER);
        put(t, "sys/module/kvm_intel/parameters/tdx", "maybe\n");
        expect_read_error(t, -EINVAL, "sys/module/kvm_intel/parameters/tdx", "expected Y or N");
}

static void test_read_file(void **state) {
        Tree *t = *state;
        _cleanup_(freep) char *text = NULL, *big = NULL;

        put(t, "sys/power/disk", "[platform] shutdown reboot\n");
        assert_int_equal(power_read_file(t->root, "/sys/power/disk", &text), 0);
        assert_string_equal(text, "[platform] shutdown reboot\n");
        assert_int_equal(power_read_file(t->root, "/sys/power/nothing", &text), -ENOENT);

        big = malloc(70 * 1024);
        assert_non_null(big);
        memset(big, 'x', 70 * 1024 - 1);
        big[70 * 1024 - 1] = '\0';
        put(t, "sys/power/big", big);
        assert_int_equal(power_read_file(t->root, "/sys/power/big", &text), -EFBIG);
}

static void test_write_mem_sleep(void **state) {
        Tree *t = *state;
        _cleanup_(freep) char *text = NULL;

        assert_int_equal(power_write_mem_sleep(t->root, MEM_SLEEP_DEEP), -ENOENT);  /* never created */
        put(t, "sys/power/mem_sleep", "[s2idle] deep\n");
        assert_int_equal(power_write_mem_sleep(t->root, MEM_SLEEP_DEEP), 0);
        assert_int_equal(power_read_file(t->root, "/sys/power/mem_sleep", &text), 0);
        assert_string_equal(text, "deep\n");
        assert_int_equal(power_write_mem_sleep(t->root, _MEM_SLEEP_INVALID), -EINVAL);
}

static void count_change(void *userdata) {
        (*(unsigned *) userdata)++;
}

/* What the daemon reads the picture again for: a label written into mem_sleep, and below
 * a fake root a changed file in proc/ (swaps). Reading changes nothing. */
static void test_watch(void **state) {
        Tree *t = *state;
        _cleanup_(freep) char *text = NULL;
        sd_event *e = NULL;
        PowerWatch *w = NULL;
        unsigned changes = 0;

        put(t, "sys/power/mem_sleep", "[s2idle] deep\n");
        put(t, "proc/swaps", SWAPS_HEADER);
        assert_int_equal(sd_event_new(&e), 0);
        assert_int_equal(power_watch_new(e, t->root, count_change, &changes, &w), 0);
        assert_int_equal(power_read_file(t->root, "/sys/power/mem_sleep", &text), 0);
        while (sd_event_run(e, 0) > 0)
                ;
        assert_int_equal(changes, 0);
        assert_int_equal(power_write_mem_sleep(t->root, MEM_SLEEP_DEEP), 0);
        while (sd_event_run(e, 0) > 0)
                ;
        assert_true(changes > 0);
        changes = 0;
        put(t, "proc/swaps", SWAPS_HEADER "/dev/vda2 partition 4194300 0 -2\n");
        while (sd_event_run(e, 0) > 0)
                ;
        assert_true(changes > 0);
        power_watch_free(w);
        sd_event_unref(e);
}

static void test_string_tables(void **state) {
        assert_string_equal(mem_sleep_to_string(MEM_SLEEP_SHALLOW), "shallow");
        assert_int_equal(mem_sleep_from_string("deep"), MEM_SLEEP_DEEP);
        assert_int_equal(mem_sleep_from_string("[deep]"), _MEM_SLEEP_INVALID);
        assert_string_equal(power_state_to_string(POWER_STATE_DISK), "disk");
        assert_int_equal(power_state_from_string("freeze"), POWER_STATE_FREEZE);
        assert_null(power_state_to_string(_POWER_STATE_MAX));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_parse_state),
                cmocka_unit_test(test_parse_mem_sleep),
                cmocka_unit_test(test_parse_swaps),
                cmocka_unit_test(test_cpuinfo_flags),
                cmocka_unit_test_setup_teardown(test_read_full, tree_setup, tree_teardown),
                cmocka_unit_test_setup_teardown(test_read_minimal, tree_setup, tree_teardown),
                cmocka_unit_test_setup_teardown(test_read_errors, tree_setup, tree_teardown),
                cmocka_unit_test_setup_teardown(test_read_file, tree_setup, tree_teardown),
                cmocka_unit_test_setup_teardown(test_write_mem_sleep, tree_setup, tree_teardown),
                cmocka_unit_test_setup_teardown(test_watch, tree_setup, tree_teardown),
                cmocka_unit_test(test_string_tables),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
