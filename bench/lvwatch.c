/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * lvwatch: time libvirt lifecycle events for a set of domains, with microsecond
 * timestamps on CLOCK_MONOTONIC (the clock Python's time.monotonic() reads).
 *
 *   lvwatch URI stopped|started none|shutdown|create [DESTROY_AFTER_SEC]
 *
 * Reads domain names from stdin, one per line, up to a line "END". Prints "READY"
 * once every domain is looked up and the lifecycle callback is registered, then
 * waits for "GO". On GO it performs the action on every domain at once (shutdown:
 * virDomainShutdown; create: virDomainCreate; none: nothing, someone else acts)
 * and waits until each named domain has had the event (STOPPED or STARTED). With
 * DESTROY_AFTER_SEC, domains not stopped that long after GO are destroyed (the
 * floor for guests that ignore ACPI). Prints
 *   DONE t_go t_issued t_last n_events destroyed t_first
 * (seconds on CLOCK_MONOTONIC) and exits 0; exits 1 on errors or after 900 s.
 *
 * bench/run uses it for the floor (action shutdown/create) and to see when every
 * TD stopped or started under tdsleepd (action none). It is C so that the floor is
 * not inflated by Python's per-call overhead with 1000 domains.
 */
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct {
        char *name;
        virDomainPtr dom;
        bool seen;
} Entry;

static Entry *entries;
static size_t n_entries, n_seen;
static int want_event;
static bool armed;
static double t_first, t_last;

static double now(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int cmp_entry(const void *a, const void *b) {
        return strcmp(((const Entry *) a)->name, ((const Entry *) b)->name);
}

static int on_lifecycle(virConnectPtr conn, virDomainPtr dom, int event, int detail, void *opaque) {
        Entry key = { .name = (char *) virDomainGetName(dom) }, *e;

        if (!armed || event != want_event || !key.name)
                return 0;
        e = bsearch(&key, entries, n_entries, sizeof(Entry), cmp_entry);
        if (e && !e->seen) {
                e->seen = true;
                t_last = now();
                if (n_seen++ == 0)
                        t_first = t_last;
        }
        return 0;
}

static void on_tick(int timer, void *opaque) {
}

static void quiet_error(void *opaque, virErrorPtr err) {
}

int main(int argc, char **argv) {
        char line[1024];
        size_t cap = 0;
        double t_go, t_issued, destroy_after = 0;
        int destroyed = 0;
        bool did_destroy = false;
        virConnectPtr conn;

        if (argc < 4) {
                fprintf(stderr, "usage: lvwatch URI stopped|started none|shutdown|create [DESTROY_AFTER_SEC]\n");
                return 2;
        }
        want_event = strcmp(argv[2], "started") == 0 ? VIR_DOMAIN_EVENT_STARTED : VIR_DOMAIN_EVENT_STOPPED;
        if (argc > 4)
                destroy_after = atof(argv[4]);

        virSetErrorFunc(NULL, quiet_error);
        if (virEventRegisterDefaultImpl() < 0)
                return 1;
        conn = virConnectOpen(argv[1]);
        if (!conn) {
                fprintf(stderr, "lvwatch: cannot open %s\n", argv[1]);
                return 1;
        }
        while (fgets(line, sizeof line, stdin)) {
                line[strcspn(line, "\n")] = 0;
                if (strcmp(line, "END") == 0)
                        break;
                if (!*line)
                        continue;
                if (n_entries == cap) {
                        cap = cap ? cap * 2 : 64;
                        entries = realloc(entries, cap * sizeof(Entry));
                        if (!entries)
                                return 1;
                }
                entries[n_entries].name = strdup(line);
                entries[n_entries].seen = false;
                entries[n_entries].dom = virDomainLookupByName(conn, line);
                if (!entries[n_entries].dom) {
                        fprintf(stderr, "lvwatch: no domain %s\n", line);
                        return 1;
                }
                n_entries++;
        }
        qsort(entries, n_entries, sizeof(Entry), cmp_entry);
        if (virConnectDomainEventRegisterAny(conn, NULL, VIR_DOMAIN_EVENT_ID_LIFECYCLE,
                                             VIR_DOMAIN_EVENT_CALLBACK(on_lifecycle), NULL, NULL) < 0)
                return 1;
        virEventAddTimeout(10, on_tick, NULL, NULL);   /* wake the loop for the checks */
        printf("READY\n");
        fflush(stdout);
        if (!fgets(line, sizeof line, stdin) || strncmp(line, "GO", 2) != 0)
                return 1;
        t_go = now();
        armed = true;
        for (size_t i = 0; i < n_entries; i++) {
                int r = 0;
                if (strcmp(argv[3], "shutdown") == 0)
                        r = virDomainShutdown(entries[i].dom);
                else if (strcmp(argv[3], "create") == 0)
                        r = virDomainCreate(entries[i].dom);
                if (r < 0) {
                        fprintf(stderr, "lvwatch: %s %s: %s\n", argv[3], entries[i].name,
                                virGetLastErrorMessage());
                        return 1;
                }
        }
        t_issued = now();
        while (n_seen < n_entries) {
                if (virEventRunDefaultImpl() < 0)
                        return 1;
                if (destroy_after > 0 && !did_destroy && now() - t_go >= destroy_after) {
                        did_destroy = true;
                        for (size_t i = 0; i < n_entries; i++)
                                if (!entries[i].seen && virDomainDestroy(entries[i].dom) == 0)
                                        destroyed++;
                }
                if (now() - t_go > 900) {
                        fprintf(stderr, "lvwatch: %zu of %zu events after 900 s\n", n_seen, n_entries);
                        return 1;
                }
        }
        printf("DONE %.6f %.6f %.6f %zu %d %.6f\n", t_go, t_issued, t_last, n_seen, destroyed, t_first);
        fflush(stdout);
        for (size_t i = 0; i < n_entries; i++) {
                virDomainFree(entries[i].dom);
                free(entries[i].name);
        }
        free(entries);
        virConnectClose(conn);
        return 0;
}
