/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * lvwatch: time libvirt lifecycle events for a set of domains, with microsecond
 * timestamps on CLOCK_MONOTONIC (the clock Python's time.monotonic() reads).
 *
 *   lvwatch URI stopped|started none|shutdown|create|create-threads [DESTROY_AFTER_SEC]
 *
 * Reads domain names from stdin, one per line, up to a line "END". Prints "READY"
 * once every domain is looked up and the lifecycle callback is registered, then
 * waits for "GO". On GO it performs the action on every domain at once (shutdown:
 * virDomainShutdown; create: virDomainCreate, one after another; create-threads:
 * virDomainCreate from up to MAX_THREADS threads at once, each with a connection of
 * its own opened before READY and a fixed share of the domains (the parallel floor:
 * libvirt's remote driver runs one call per connection at a time); none: nothing,
 * someone else acts)
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
#include <pthread.h>
#include <stdatomic.h>
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

#define MAX_THREADS 64

static atomic_int n_create_failed;     /* a refused create never sends its STARTED */

/* One creating thread: its own connection, and the domains i with i % n_threads == index. */
typedef struct {
        pthread_t thread;
        virConnectPtr conn;
        virDomainPtr *doms;
        size_t n_doms;
        const char *failed;     /* the first domain libvirt refused to create */
} Creator;

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

static void *creator_run(void *arg) {
        Creator *c = arg;

        for (size_t i = 0; i < c->n_doms; i++)
                if (virDomainCreate(c->doms[i]) < 0 && !c->failed) {
                        c->failed = virDomainGetName(c->doms[i]);
                        atomic_fetch_add(&n_create_failed, 1);
                }
        return NULL;
}

/* Open the creators' connections and look their domains up (before READY: not timed). */
static Creator *creators_new(const char *uri, size_t *ret_n) {
        size_t n = n_entries < MAX_THREADS ? n_entries : MAX_THREADS;
        Creator *cs = calloc(n ? n : 1, sizeof(Creator));

        if (!cs)
                return NULL;
        for (size_t t = 0; t < n; t++) {
                cs[t].conn = virConnectOpen(uri);
                cs[t].doms = calloc(n_entries / n + 1, sizeof(virDomainPtr));
                if (!cs[t].conn || !cs[t].doms)
                        return NULL;
        }
        for (size_t i = 0; i < n_entries; i++) {
                Creator *c = &cs[i % n];
                c->doms[c->n_doms] = virDomainLookupByName(c->conn, entries[i].name);
                if (!c->doms[c->n_doms++])
                        return NULL;
        }
        *ret_n = n;
        return cs;
}

static int creators_start(Creator *cs, size_t n) {
        for (size_t t = 0; t < n; t++)
                if (pthread_create(&cs[t].thread, NULL, creator_run, &cs[t]) != 0)
                        return -1;
        return 0;
}

static int creators_join(Creator *cs, size_t n) {
        int r = 0;

        for (size_t t = 0; t < n; t++) {
                pthread_join(cs[t].thread, NULL);
                if (cs[t].failed) {
                        fprintf(stderr, "lvwatch: create %s failed\n", cs[t].failed);
                        r = -1;
                }
        }
        return r;
}

int main(int argc, char **argv) {
        char line[1024];
        size_t cap = 0;
        double t_go, t_issued, destroy_after = 0;
        int destroyed = 0;
        bool did_destroy = false;
        virConnectPtr conn;
        Creator *creators = NULL;
        size_t n_creators = 0;

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
        if (strcmp(argv[3], "create-threads") == 0 && !(creators = creators_new(argv[1], &n_creators))) {
                fprintf(stderr, "lvwatch: cannot prepare the creating threads: %s\n", virGetLastErrorMessage());
                return 1;
        }
        printf("READY\n");
        fflush(stdout);
        if (!fgets(line, sizeof line, stdin) || strncmp(line, "GO", 2) != 0)
                return 1;
        t_go = now();
        armed = true;
        /* The threads create; this one runs the event loop meanwhile, so each STARTED
         * is timed when it arrives. */
        if (creators && creators_start(creators, n_creators) < 0)
                return 1;
        for (size_t i = 0; creators == NULL && i < n_entries; i++) {
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
                if (creators && atomic_load(&n_create_failed) > 0) {
                        creators_join(creators, n_creators);
                        return 1;
                }
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
        if (creators && creators_join(creators, n_creators) < 0)
                return 1;
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
