/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Past cycles from journal entries: group by TDSLEEP_CYCLE_ID, read the fields of the
 * start, prepared, per-TD outcome and end entries (see cycle-journal.c, which writes them). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "history.h"
#include "journal-ids.h"

const char *const history_message_ids[] = {
        ID_CYCLE_STARTED, ID_LOCK_RELEASED, ID_DRAINED, ID_TD_OUTCOME, ID_CYCLE_DONE, NULL,
};

/* The value of KEY in fields, or NULL. */
static const char *field(const char *const *fields, size_t n, const char *key) {
        size_t len = strlen(key);

        for (size_t i = 0; i < n; i++)
                if (strncmp(fields[i], key, len) == 0 && fields[i][len] == '=')
                        return fields[i] + len + 1;
        return NULL;
}

/* A decimal number in KEY; def when missing or not a number (a damaged entry). */
static uint64_t field_u64(const char *const *fields, size_t n, const char *key, uint64_t def) {
        const char *v = field(fields, n, key);
        char *end = NULL;
        unsigned long long u;

        if (!v || *v < '0' || *v > '9')
                return def;
        errno = 0;
        u = strtoull(v, &end, 10);
        return errno != 0 || *end != '\0' ? def : (uint64_t) u;
}

static unsigned field_unsigned(const char *const *fields, size_t n, const char *key, unsigned def) {
        uint64_t u = field_u64(fields, n, key, def);

        return u > UINT32_MAX ? def : (unsigned) u;
}

static bool field_bool(const char *const *fields, size_t n, const char *key) {
        return field_u64(fields, n, key, 0) != 0;
}

static HistoryCycle *history_find_or_add(History *h, const char *id) {
        HistoryCycle *cycles, *c;

        for (size_t i = 0; i < h->n_cycles; i++)
                if (streq(h->cycles[i].id, id))
                        return &h->cycles[i];
        cycles = realloc(h->cycles, (h->n_cycles + 1) * sizeof(HistoryCycle));
        if (!cycles)
                return NULL;
        h->cycles = cycles;
        c = &cycles[h->n_cycles];
        *c = (HistoryCycle) {
                .id = strdup(id),
                .started_usec = HISTORY_USEC_UNKNOWN,
                .ended_usec = HISTORY_USEC_UNKNOWN,
                .duration_usec = HISTORY_USEC_UNKNOWN,
                .prepare_usec = HISTORY_USEC_UNKNOWN,
                .resume_usec = HISTORY_USEC_UNKNOWN,
                .lock_held_usec = HISTORY_USEC_UNKNOWN,
        };
        if (!c->id)
                return NULL;
        h->n_cycles++;
        return c;
}

/* A cycle's steps in the order they came: a sleep while drained is "drain+suspend"; a
 * sleep logind did not name ("unknown") takes the name the hook gives later. */
static int cycle_add_step(HistoryCycle *c, const char *step) {
        char *joined = NULL;
        size_t len;

        if (isempty(step) || (c->step && streq(step, "unknown")))
                return 0;
        if (c->step && !streq(c->step, "unknown")) {
                len = strlen(step);
                for (const char *p = c->step; (p = strstr(p, step)); p += len)
                        if ((p == c->step || p[-1] == '+') && (p[len] == '\0' || p[len] == '+'))
                                return 0;       /* already named */
                if (asprintf(&joined, "%s+%s", c->step, step) < 0)
                        return -ENOMEM;
        } else if (!(joined = strdup(step)))
                return -ENOMEM;
        free(c->step);
        c->step = joined;
        return 0;
}

/* The prepare's duration and counts, which the prepared and the end entries both carry. */
static void cycle_read_prepare(HistoryCycle *c, const char *const *f, size_t n) {
        c->prepare_usec = field_u64(f, n, "TDSLEEP_PREPARE_USEC", c->prepare_usec);
        c->stopped = field_unsigned(f, n, "TDSLEEP_STOPPED", c->stopped);
        c->forced_off = field_unsigned(f, n, "TDSLEEP_FORCED_OFF", c->forced_off);
        c->left_running = field_unsigned(f, n, "TDSLEEP_LEFT_RUNNING", c->left_running);
        c->stop_failed = field_unsigned(f, n, "TDSLEEP_STOP_FAILED", c->stop_failed);
        c->lock_held_usec = field_u64(f, n, "TDSLEEP_LOCK_HELD_USEC", c->lock_held_usec);
}

static void cycle_read_end(HistoryCycle *c, uint64_t realtime_usec, const char *const *f, size_t n) {
        c->done = true;
        c->ended_usec = realtime_usec;
        cycle_read_prepare(c, f, n);
        c->resume_usec = field_u64(f, n, "TDSLEEP_RESUME_USEC", c->resume_usec);
        c->started = field_unsigned(f, n, "TDSLEEP_STARTED", c->started);
        c->start_failed = field_unsigned(f, n, "TDSLEEP_START_FAILED", c->start_failed);
        if (c->started_usec == HISTORY_USEC_UNKNOWN)
                c->started_usec = field_u64(f, n, "TDSLEEP_STARTED_REALTIME_USEC", HISTORY_USEC_UNKNOWN);
        c->duration_usec = field_u64(f, n, "TDSLEEP_DURATION_USEC", HISTORY_USEC_UNKNOWN);
        if (c->duration_usec == HISTORY_USEC_UNKNOWN && c->started_usec <= realtime_usec)
                c->duration_usec = realtime_usec - c->started_usec;
}

static void domain_done(HistoryDomain *d) {
        free(d->name);
        free(d->uuid);
        free(d->outcome);
        free(d->error);
}

/* A TD's outcome entry; a later one for the same TD (the drain's end after a sleep's)
 * replaces the earlier. */
static int cycle_read_outcome(HistoryCycle *c, const char *const *f, size_t n) {
        const char *uuid = field(f, n, "TDSLEEP_UUID"), *error = field(f, n, "TDSLEEP_ERROR");
        HistoryDomain d = {
                .name = strdup(strempty(field(f, n, "TDSLEEP_DOMAIN"))),
                .uuid = strdup(strempty(uuid)),
                .outcome = strdup(strempty(field(f, n, "TDSLEEP_OUTCOME"))),
                .error = error ? strdup(error) : NULL,
                .stopped = field_bool(f, n, "TDSLEEP_WAS_STOPPED"),
                .forced_off = field_bool(f, n, "TDSLEEP_WAS_FORCED_OFF"),
        };
        HistoryDomain *domains;
        size_t i;

        if (!d.name || !d.uuid || !d.outcome || (error && !d.error)) {
                domain_done(&d);
                return -ENOMEM;
        }
        for (i = 0; i < c->n_domains && !streq(c->domains[i].uuid, d.uuid); i++)
                ;
        if (i == c->n_domains) {
                domains = realloc(c->domains, (c->n_domains + 1) * sizeof(HistoryDomain));
                if (!domains) {
                        domain_done(&d);
                        return -ENOMEM;
                }
                c->domains = domains;
                c->n_domains++;
        } else
                domain_done(&c->domains[i]);
        c->domains[i] = d;
        return 0;
}

/* With outcome entries, the counts come from them: they name each TD once, also when a
 * sleep while drained ended twice. */
static void cycle_recount(HistoryCycle *c) {
        if (c->n_domains == 0)
                return;
        c->stopped = c->forced_off = c->left_running = c->stop_failed = c->started = c->start_failed = 0;
        for (size_t i = 0; i < c->n_domains; i++) {
                const HistoryDomain *d = &c->domains[i];

                c->stopped += d->stopped;
                c->forced_off += d->forced_off;
                c->left_running += streq(d->outcome, "left-running");
                c->stop_failed += streq(d->outcome, "stop-failed");
                c->started += streq(d->outcome, "started");
                c->start_failed += streq(d->outcome, "start-failed");
        }
}

static bool history_wants(const char *message_id) {
        for (size_t i = 0; history_message_ids[i]; i++)
                if (streq(history_message_ids[i], message_id))
                        return true;
        return false;
}

int history_add_entry(History *h, uint64_t realtime_usec, const char *const *f, size_t n) {
        const char *mid = field(f, n, "MESSAGE_ID"), *id = field(f, n, "TDSLEEP_CYCLE_ID");
        HistoryCycle *c;
        int r = 0;

        if (!mid || isempty(id) || !history_wants(mid))
                return 0;
        c = history_find_or_add(h, id);
        if (!c)
                return -ENOMEM;
        if (!streq(mid, ID_TD_OUTCOME))
                r = cycle_add_step(c, field(f, n, "TDSLEEP_STEP"));
        if (streq(mid, ID_CYCLE_STARTED) && c->started_usec == HISTORY_USEC_UNKNOWN)
                c->started_usec = field_u64(f, n, "TDSLEEP_STARTED_REALTIME_USEC", realtime_usec);
        else if (streq(mid, ID_LOCK_RELEASED) || streq(mid, ID_DRAINED)) {
                c->prepared = true;
                cycle_read_prepare(c, f, n);
        } else if (streq(mid, ID_CYCLE_DONE))
                cycle_read_end(c, realtime_usec, f, n);
        else if (streq(mid, ID_TD_OUTCOME))
                r = cycle_read_outcome(c, f, n);
        cycle_recount(c);
        return r;
}

void history_done(History *h) {
        for (size_t i = 0; i < h->n_cycles; i++) {
                HistoryCycle *c = &h->cycles[i];

                for (size_t k = 0; k < c->n_domains; k++)
                        domain_done(&c->domains[k]);
                free(c->domains);
                free(c->id);
                free(c->step);
        }
        free(h->cycles);
        *h = (History) { 0 };
}

unsigned history_cycle_failures(const HistoryCycle *c) {
        return c->stop_failed + c->left_running + c->start_failed;
}
