/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The cpus monitor under umockdev: umockdev's preload library points /sys at a testbed
 * and replaces the uevent netlink socket with its own, so umockdev_testbed_uevent()
 * reaches a real libudev monitor. This program re-executes itself with the preload
 * library when it is not loaded yet, and exits 77 (skipped) when that cannot work. */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <umockdev.h>

#include "cpus.h"
#include "macros.h"

#define EXIT_TEST_SKIP 77
#define PRELOAD "libumockdev-preload.so.0"
#define REEXEC_ENV "TDSLEEP_UMOCKDEV_REEXEC"
#define CPU_DIR "/sys/devices/system/cpu"
#define WAIT_USEC (5 * USEC_PER_SEC)
/* How long an event that must not call the handler gets. */
#define QUIET_USEC (300 * USEC_PER_MSEC)

static unsigned failures;

#define CHECK(expr)                                                                     \
        do {                                                                            \
                if (!(expr)) {                                                          \
                        fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #expr); \
                        failures++;                                                     \
                }                                                                       \
        } while (0)

/* Is the preload library mapped into this process? */
static bool preload_loaded(void) {
        _cleanup_(fclosep) FILE *f = fopen("/proc/self/maps", "re");
        char line[4096];

        while (f && fgets(line, sizeof line, f))
                if (strstr(line, "libumockdev-preload"))
                        return true;
        return false;
}

/* Put the preload library in front and start again; ASan must then be told that it is
 * not first in the library list. Returns only on failure. */
static void reexec_with_preload(char **argv) {
        const char *old = getenv("LD_PRELOAD"), *asan = getenv("ASAN_OPTIONS");
        _cleanup_(freep) char *preload = NULL, *asan_options = NULL;

        if (asprintf(&preload, "%s%s%s", PRELOAD, old ? ":" : "", strempty(old)) < 0 ||
            asprintf(&asan_options, "%s%sverify_asan_link_order=0", strempty(asan), asan ? ":" : "") < 0)
                return;
        if (setenv("LD_PRELOAD", preload, 1) < 0 || setenv("ASAN_OPTIONS", asan_options, 1) < 0 ||
            setenv(REEXEC_ENV, "1", 1) < 0)
                return;
        execv("/proc/self/exe", argv);
        fprintf(stderr, "execv /proc/self/exe: %s\n", STRERROR(errno));
}

typedef struct Seen {
        unsigned calls;
        bool could_create;      /* in the picture of the last call */
} Seen;

static void on_changed(void *userdata, const CpuPicture *old, const CpuPicture *now) {
        Seen *s = userdata;

        s->calls++;
        s->could_create = cpu_picture_can_create_td(now);
        printf("changed: %zu -> %zu empty package(s)\n", cpu_picture_n_empty(old), cpu_picture_n_empty(now));
}

/* Run the loop until the handler ran more than `calls` times or usec passed. */
static void wait_for_call(sd_event *e, const Seen *s, unsigned calls, uint64_t usec) {
        struct timespec t0, t;

        clock_gettime(CLOCK_MONOTONIC, &t0);
        for (;;) {
                clock_gettime(CLOCK_MONOTONIC, &t);
                if (s->calls > calls ||
                    (uint64_t) ((t.tv_sec - t0.tv_sec) * 1000000LL + (t.tv_nsec - t0.tv_nsec) / 1000) > usec)
                        return;
                (void) sd_event_run(e, 50 * USEC_PER_MSEC);
        }
}

/* Package 0: cpu0 (no online file), cpu1; package 1: cpu2, cpu3. */
static bool add_cpus(UMockdevTestbed *tb) {
        static const char *const devices =
                "P: /devices/system/cpu/cpu0\nE: SUBSYSTEM=cpu\n"
                "A: topology/physical_package_id=0\\n\n\n"
                "P: /devices/system/cpu/cpu1\nE: SUBSYSTEM=cpu\n"
                "A: online=1\\n\nA: topology/physical_package_id=0\\n\n\n"
                "P: /devices/system/cpu/cpu2\nE: SUBSYSTEM=cpu\n"
                "A: online=1\\n\nA: topology/physical_package_id=1\\n\n\n"
                "P: /devices/system/cpu/cpu3\nE: SUBSYSTEM=cpu\n"
                "A: online=1\\n\nA: topology/physical_package_id=1\\n\n";
        _cleanup_(freep) char *present = NULL;
        gchar *sys = umockdev_testbed_get_sys_dir(tb);
        GError *error = NULL;
        bool ok;

        if (!umockdev_testbed_add_from_string(tb, devices, &error)) {
                fprintf(stderr, "umockdev_testbed_add_from_string: %s\n", error->message);
                g_error_free(error);
                g_free(sys);
                return false;
        }
        /* Not a device: a plain file in the testbed's /sys. */
        ok = asprintf(&present, "%s/devices/system/cpu/present", sys) > 0 &&
             g_file_set_contents(present, "0-3\n", -1, NULL);
        g_free(sys);
        return ok;
}

/* What the kernel does on offline: online=0 and topology/ gone. */
static void offline_cpu(UMockdevTestbed *tb, unsigned cpu) {
        _cleanup_(freep) char *dev = NULL, *topology = NULL;
        gchar *sys = umockdev_testbed_get_sys_dir(tb);

        CHECK(asprintf(&dev, CPU_DIR "/cpu%u", cpu) > 0);
        CHECK(asprintf(&topology, "%s/devices/system/cpu/cpu%u/topology/physical_package_id", sys, cpu) > 0);
        umockdev_testbed_set_attribute(tb, dev, "online", "0\n");
        CHECK(unlink(topology) == 0);
        g_free(sys);
}

static void check_monitor(UMockdevTestbed *tb, sd_event *e) {
        _cleanup_(cpus_freep) Cpus *c = NULL;
        _cleanup_(freep) char *error = NULL;
        Seen seen = { 0 };
        unsigned onlined = 0;
        gchar *online = NULL, *sys = umockdev_testbed_get_sys_dir(tb);
        _cleanup_(freep) char *path = NULL;

        /* The testbed's own path: the check must not go through the preload library. */
        CHECK(asprintf(&path, "%s/devices/system/cpu/cpu2/online", sys) > 0);
        g_free(sys);

        /* Root "/": the preload library answers from the testbed. */
        CHECK(cpus_new(e, "/", on_changed, &seen, &c) == 0);
        CHECK(c && cpus_start(c, &error) == 0);
        if (!c || error) {
                fprintf(stderr, "cpus_start: %s\n", strna(error));
                failures++;
                return;
        }
        CHECK(cpus_monitoring(c));
        CHECK(cpus_picture(c)->n_cpus == 4);
        CHECK(cpus_picture(c)->n_packages == 2);
        CHECK(cpu_picture_can_create_td(cpus_picture(c)));

        /* Package 1 loses its CPUs; the first uevent tells the monitor. */
        offline_cpu(tb, 2);
        offline_cpu(tb, 3);
        umockdev_testbed_uevent(tb, CPU_DIR "/cpu3", "offline");
        wait_for_call(e, &seen, 0, WAIT_USEC);
        CHECK(seen.calls == 1);
        CHECK(!seen.could_create);
        CHECK(cpus_picture(c)->n_unknown == 0);   /* remembered, though topology/ is gone */
        CHECK(cpu_picture_n_empty(cpus_picture(c)) == 1);

        /* An event that changes nothing: re-read, no call. */
        umockdev_testbed_uevent(tb, CPU_DIR "/cpu1", "change");
        wait_for_call(e, &seen, 1, QUIET_USEC);
        CHECK(seen.calls == 1);

        /* Onlining writes through the preload library into the testbed. */
        CHECK(cpus_online_empty_packages(c, &onlined, &error) == 0);
        CHECK(onlined == 1);
        CHECK(seen.calls == 2 && seen.could_create);
        CHECK(cpu_picture_can_create_td(cpus_picture(c)));
        CHECK(g_file_get_contents(path, &online, NULL, NULL) && streq(online, "1"));
        g_free(online);
}

/* cpus_read() below "/" sees the testbed, not the host. */
static void check_read(void) {
        _cleanup_(cpu_picture_done) CpuPicture p = { .cpus = NULL };
        _cleanup_(freep) char *error = NULL;

        CHECK(cpus_read("/", &p, &error) == 0);
        if (error)
                fprintf(stderr, "cpus_read: %s\n", error);
        CHECK(p.n_cpus == 4 && p.n_packages == 2);
        CHECK(p.n_cpus == 4 && !p.cpus[0].hotpluggable && p.cpus[1].hotpluggable);
}

int main(int argc, char **argv) {
        UMockdevTestbed *tb;
        sd_event *e = NULL;

        if (!preload_loaded()) {
                if (!getenv(REEXEC_ENV))
                        reexec_with_preload(argv);
                printf("umockdev's preload library (%s) cannot be loaded, skipping\n", PRELOAD);
                return EXIT_TEST_SKIP;
        }
        tb = umockdev_testbed_new();
        if (!tb || !add_cpus(tb)) {
                printf("no umockdev testbed, skipping\n");
                return EXIT_TEST_SKIP;
        }
        check_read();
        if (sd_event_new(&e) < 0)
                return EXIT_FAILURE;
        check_monitor(tb, e);
        sd_event_unref(e);
        g_object_unref(tb);
        printf("%s\n", failures ? "FAILED" : "ok");
        return failures ? EXIT_FAILURE : EXIT_SUCCESS;
}
