/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What the engine tells the journal: every entry about a cycle carries its id, and the
 * start, the end of the prepare, each TD's outcome and the end carry the step, counts and
 * durations as fields, so that `tdsleepctl history` rebuilds past cycles from the journal
 * alone (tdsleep.journal-fields(7) lists the fields). */
#include <assert.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "cycle-internal.h"
#include "log.h"
#include "messages.h"

#define EXTRA_MAX 16

/* Extra "KEY=value" fields for one entry, on the heap (a TD's error can be long). */
typedef struct Fields {
        char *field[EXTRA_MAX + 1];
        size_t n;
} Fields;

_printf_(2, 3)
static void fields_add(Fields *f, const char *fmt, ...) {
        va_list ap;
        char *s = NULL;
        int r;

        assert(f->n < EXTRA_MAX);
        va_start(ap, fmt);
        r = vasprintf(&s, fmt, ap);
        va_end(ap);
        if (r >= 0)
                f->field[f->n++] = s;   /* out of memory: the entry goes without this field */
}

static void fields_done(Fields *f) {
        for (size_t i = 0; i < f->n; i++)
                free(f->field[i]);
        f->n = 0;
}

_printf_(6, 0)
static void log_fields(Cycle *c, const Job *j, int level, const char *message_id, const Fields *extra,
                       const char *fmt, va_list ap) {
        char name[256] = "", uuid[64] = "", id[64] = "";
        const char *fields[5 + EXTRA_MAX] = { 0 };
        size_t n = 0;

        if (j) {
                snprintf(name, sizeof name, "TDSLEEP_DOMAIN=%s", job_domain(c, j)->name);
                snprintf(uuid, sizeof uuid, "TDSLEEP_UUID=%s", job_domain(c, j)->uuid);
                fields[n++] = name;
                fields[n++] = uuid;
        }
        if (!isempty(c->record.cycle_id)) {
                snprintf(id, sizeof id, "TDSLEEP_CYCLE_ID=%s", c->record.cycle_id);
                fields[n++] = id;
        }
        if (message_id)
                fields[n++] = message_id;
        for (size_t i = 0; extra && i < extra->n; i++)
                fields[n++] = extra->field[i];
        log_internalv(level, 0, fields, fmt, ap);
}

void log_job(Cycle *c, const Job *j, int level, const char *message_id, const char *fmt, ...) {
        va_list ap;

        va_start(ap, fmt);
        log_fields(c, j, level, message_id, NULL, fmt, ap);
        va_end(ap);
}

void log_cycle(Cycle *c, int level, const char *message_id, const char *fmt, ...) {
        va_list ap;

        va_start(ap, fmt);
        log_fields(c, NULL, level, message_id, NULL, fmt, ap);
        va_end(ap);
}

_printf_(5, 6)
static void log_cycle_fields(Cycle *c, int level, const char *message_id, Fields *extra, const char *fmt, ...) {
        va_list ap;

        va_start(ap, fmt);
        log_fields(c, NULL, level, message_id, extra, fmt, ap);
        va_end(ap);
        fields_done(extra);
}

static double seconds(uint64_t usec) {
        return (double) usec / USEC_PER_SEC;
}

static const char *step_name(const Cycle *c, bool drain) {
        return drain ? "drain" : strna(sleep_step_to_string(c->record.step));
}

/* TDs that tdsleepd stopped (forced off included), and those it forced off. */
static unsigned count_stopped(const Cycle *c, bool forced) {
        unsigned n = 0;

        for (size_t i = 0; i < c->record.n_domains; i++)
                n += forced ? c->jobs[i].forced : c->jobs[i].stopped;
        return n;
}

/* The prepare's duration and counts. */
static void fields_add_prepare(Fields *f, const Cycle *c) {
        fields_add(f, "TDSLEEP_PREPARE_USEC=%" PRIu64, c->prepare_usec);
        fields_add(f, "TDSLEEP_STOPPED=%u", count_stopped(c, false));
        fields_add(f, "TDSLEEP_FORCED_OFF=%u", count_stopped(c, true));
        fields_add(f, "TDSLEEP_LEFT_RUNNING=%u", cycle_count(c, JOB_LEFT_RUNNING));
        fields_add(f, "TDSLEEP_STOP_FAILED=%u", cycle_count(c, JOB_STOP_FAILED));
}

void cycle_log_start(Cycle *c, bool drain, const char *mem_sleep, bool keeps, unsigned n_stop) {
        Fields f = { 0 };

        fields_add(&f, "TDSLEEP_STEP=%s", step_name(c, drain));
        fields_add(&f, "TDSLEEP_TO_STOP=%u", n_stop);
        fields_add(&f, "TDSLEEP_STARTED_REALTIME_USEC=%" PRIu64, c->record.started_realtime_usec);
        if (drain) {
                log_cycle_fields(c, LOG_INFO, MESSAGE_CYCLE_STARTED, &f,
                                 "Draining: stopping every TD for maintenance");
                return;
        }
        fields_add(&f, "TDSLEEP_MEM_SLEEP=%s", strna(mem_sleep));
        log_cycle_fields(c, LOG_INFO, MESSAGE_CYCLE_STARTED, &f, "Preparing for %s (mem_sleep %s): TDs %s it",
                         c->record.step == SLEEP_STEP_UNKNOWN ? "a sleep logind did not name" :
                                                                strna(sleep_step_to_string(c->record.step)),
                         strna(mem_sleep), keeps ? "survive" : "do not survive");
}

void cycle_log_prepared(Cycle *c) {
        bool drain = !c->sleeping;
        Fields f = { 0 };

        fields_add(&f, "TDSLEEP_STEP=%s", step_name(c, drain));
        fields_add_prepare(&f, c);
        if (drain) {
                log_cycle_fields(c, LOG_INFO, MESSAGE_DRAINED, &f,
                                 "Drained in %.2fs: %u TDs stopped, %u left running, %u failed to stop",
                                 seconds(c->prepare_usec), cycle_count(c, JOB_STOPPED),
                                 cycle_count(c, JOB_LEFT_RUNNING), cycle_count(c, JOB_STOP_FAILED));
                return;
        }
        /* (a cycle taken over from a record after a restart: since this run's prepare began) */
        c->lock_held_usec = cycle_now(c) - (c->sleep_began_usec > 0 ? c->sleep_began_usec : c->began_usec);
        fields_add(&f, "TDSLEEP_LOCK_HELD_USEC=%" PRIu64, c->lock_held_usec);
        log_cycle_fields(c, LOG_INFO, MESSAGE_LOCK_RELEASED, &f,
                         "Prepared for sleep in %.2fs: %u TDs stopped, %u left running, %u failed to stop; "
                         "releasing the delay lock", seconds(c->prepare_usec), cycle_count(c, JOB_STOPPED),
                         cycle_count(c, JOB_LEFT_RUNNING), cycle_count(c, JOB_STOP_FAILED));
}

_printf_(4, 5)
static void log_job_fields(Cycle *c, const Job *j, Fields *extra, const char *fmt, ...) {
        va_list ap;

        va_start(ap, fmt);
        log_fields(c, j, LOG_INFO, MESSAGE_TD_OUTCOME, extra, fmt, ap);
        va_end(ap);
        fields_done(extra);
}

/* One entry per TD of the finished part of the cycle (keep(job) says which), at info: the
 * failures were logged at their level when they happened. */
void cycle_log_outcomes(Cycle *c, bool drain, bool (*keep)(const Cycle *, const Job *)) {
        for (size_t i = 0; i < c->record.n_domains; i++) {
                const Job *j = &c->jobs[i];
                const char *outcome = job_state_to_string(j->state);
                Fields f = { 0 };

                if (!keep(c, j))
                        continue;
                fields_add(&f, "TDSLEEP_STEP=%s", step_name(c, drain));
                fields_add(&f, "TDSLEEP_OUTCOME=%s", outcome);
                fields_add(&f, "TDSLEEP_WAS_STOPPED=%d", j->stopped);
                fields_add(&f, "TDSLEEP_WAS_FORCED_OFF=%d", j->forced);
                if (j->error)
                        fields_add(&f, "TDSLEEP_ERROR=%s", j->error);
                log_job_fields(c, j, &f, "TD %s: %s%s%s%s", job_domain(c, j)->name, outcome,
                               j->forced ? " (forced off)" : j->stopped ? " (stopped)" : "",
                               j->error ? ": " : "", strempty(j->error));
        }
}

/* The end of the cycle (or of its sleep part, while a drain stays): the whole cycle's
 * counts and durations again, so that this one entry tells the story if the others are
 * gone (rotated, or filtered out). */
void cycle_log_done(Cycle *c, bool drain) {
        unsigned started = cycle_count(c, JOB_STARTED), failed = cycle_count(c, JOB_START_FAILED);
        uint64_t resume_usec = cycle_now(c) - c->began_usec, now = c->ops->realtime(c->userdata);
        Fields f = { 0 };

        fields_add(&f, "TDSLEEP_STEP=%s", step_name(c, drain));
        fields_add_prepare(&f, c);
        fields_add(&f, "TDSLEEP_RESUME_USEC=%" PRIu64, resume_usec);
        fields_add(&f, "TDSLEEP_STARTED=%u", started);
        fields_add(&f, "TDSLEEP_START_FAILED=%u", failed);
        fields_add(&f, "TDSLEEP_STARTED_REALTIME_USEC=%" PRIu64, c->record.started_realtime_usec);
        if (c->record.started_realtime_usec > 0 && now >= c->record.started_realtime_usec)
                fields_add(&f, "TDSLEEP_DURATION_USEC=%" PRIu64, now - c->record.started_realtime_usec);
        if (!drain && c->lock_held_usec > 0)
                fields_add(&f, "TDSLEEP_LOCK_HELD_USEC=%" PRIu64, c->lock_held_usec);
        log_cycle_fields(c, failed ? LOG_ERR : LOG_INFO, MESSAGE_CYCLE_DONE, &f,
                         "%s in %.2fs: %u TDs started again, %u failed to start",
                         drain ? "Restored" : "Resumed", seconds(resume_usec), started, failed);
}
