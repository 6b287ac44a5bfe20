/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* tdsleepctl history: past cycles from the journal, as a table or as JSON. */
#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "history-journal.h"
#include "output.h"
#include "table.h"
#include "tdsleepctl.h"
#include "varlink.h"

/* "850ms", "12.3s", "4min 5s", "2h 3min": as systemd shows a timespan, shortened. */
static void format_timespan(char *buf, size_t size, uint64_t usec) {
        uint64_t s = usec / USEC_PER_SEC;

        if (usec == HISTORY_USEC_UNKNOWN)
                snprintf(buf, size, "-");
        else if (usec < USEC_PER_SEC)
                snprintf(buf, size, "%" PRIu64 "ms", usec / USEC_PER_MSEC);
        else if (s < 60)
                snprintf(buf, size, "%.1fs", (double) usec / USEC_PER_SEC);
        else if (s < 3600)
                snprintf(buf, size, "%" PRIu64 "min %" PRIu64 "s", s / 60, s % 60);
        else
                snprintf(buf, size, "%" PRIu64 "h %" PRIu64 "min", s / 3600, s % 3600 / 60);
}

/* "Tue 2026-12-01 02:13:05 UTC", as coredumpctl shows a time. */
static void format_timestamp(char *buf, size_t size, uint64_t usec) {
        time_t t = (time_t) (usec / USEC_PER_SEC);
        struct tm tm;

        if (usec == HISTORY_USEC_UNKNOWN || !localtime_r(&t, &tm) ||
            strftime(buf, size, "%a %Y-%m-%d %H:%M:%S %Z", &tm) == 0)
                snprintf(buf, size, "-");
}

static int show_history_table(const HistoryCycle *cycles, size_t n) {
        _cleanup_(table_freep) Table *t = table_new("START", "STEP", "DURATION", "STOPPED", "FORCED-OFF", "STARTED",
                                                    "FAILED", "LOCK-HELD", "CYCLE", NULL);
        char start[64], duration[32], lock[32], failed[16];
        int r = 0;

        if (!t)
                return -ENOMEM;
        for (size_t i = 0; i < n && r >= 0; i++) {
                const HistoryCycle *c = &cycles[i];

                snprintf(failed, sizeof failed, "%u", history_cycle_failures(c));
                format_timestamp(start, sizeof start, c->started_usec);
                format_timespan(duration, sizeof duration, c->duration_usec);
                format_timespan(lock, sizeof lock, c->lock_held_usec);
                r = table_add_cell(t, start, NULL);
                r = r < 0 ? r : table_add_cell(t, c->step, NULL);
                r = r < 0 ? r : table_add_cell(t, c->done ? duration : "not over", c->done ? NULL : ANSI_YELLOW);
                r = r < 0 ? r : table_add_cellf(t, "%u", c->stopped);
                r = r < 0 ? r : table_add_cellf(t, "%u", c->forced_off);
                r = r < 0 ? r : table_add_cellf(t, "%u", c->started);
                r = r < 0 ? r : table_add_cell(t, failed, history_cycle_failures(c) > 0 ? ANSI_RED : NULL);
                r = r < 0 ? r : table_add_cell(t, lock, NULL);
                r = r < 0 ? r : table_add_cell(t, c->id, NULL);
        }
        return r < 0 ? r : table_print(t, stdout);
}

/* ---- JSON: the session's conventions (camelCase, times as integer µs named ...USec) ---- */

static int json_add_usec(json_object *o, const char *key, uint64_t usec) {
        return json_object_object_add(o, key, usec == HISTORY_USEC_UNKNOWN ? NULL :
                                                  json_object_new_uint64(usec));
}

static json_object *history_domain_json(const HistoryDomain *d) {
        json_object *o = json_object_new_object();

        if (!o || json_object_object_add(o, "name", json_object_new_string(d->name)) < 0 ||
            json_object_object_add(o, "uuid", json_object_new_string(d->uuid)) < 0 ||
            json_object_object_add(o, "outcome", json_object_new_string(d->outcome)) < 0 ||
            json_object_object_add(o, "stopped", json_object_new_boolean(d->stopped)) < 0 ||
            json_object_object_add(o, "forcedOff", json_object_new_boolean(d->forced_off)) < 0 ||
            json_object_object_add(o, "error", d->error ? json_object_new_string(d->error) : NULL) < 0) {
                json_object_put(o);
                return NULL;
        }
        return o;
}

static json_object *history_cycle_json(const HistoryCycle *c) {
        json_object *o = json_object_new_object(), *domains = json_object_new_array();
        bool ok = o && domains;

        ok = ok && json_object_object_add(o, "id", json_object_new_string(c->id)) >= 0;
        ok = ok && json_object_object_add(o, "step", c->step ? json_object_new_string(c->step) : NULL) >= 0;
        ok = ok && json_object_object_add(o, "finished", json_object_new_boolean(c->done)) >= 0;
        ok = ok && json_add_usec(o, "startedUSec", c->started_usec) >= 0;
        ok = ok && json_add_usec(o, "endedUSec", c->ended_usec) >= 0;
        ok = ok && json_add_usec(o, "durationUSec", c->duration_usec) >= 0;
        ok = ok && json_add_usec(o, "prepareUSec", c->prepare_usec) >= 0;
        ok = ok && json_add_usec(o, "resumeUSec", c->resume_usec) >= 0;
        ok = ok && json_add_usec(o, "lockHeldUSec", c->lock_held_usec) >= 0;
        ok = ok && json_object_object_add(o, "stopped", json_object_new_int64(c->stopped)) >= 0;
        ok = ok && json_object_object_add(o, "forcedOff", json_object_new_int64(c->forced_off)) >= 0;
        ok = ok && json_object_object_add(o, "leftRunning", json_object_new_int64(c->left_running)) >= 0;
        ok = ok && json_object_object_add(o, "stopFailed", json_object_new_int64(c->stop_failed)) >= 0;
        ok = ok && json_object_object_add(o, "started", json_object_new_int64(c->started)) >= 0;
        ok = ok && json_object_object_add(o, "startFailed", json_object_new_int64(c->start_failed)) >= 0;
        ok = ok && json_object_object_add(o, "failures", json_object_new_int64(history_cycle_failures(c))) >= 0;
        for (size_t i = 0; ok && i < c->n_domains; i++) {
                json_object *d = history_domain_json(&c->domains[i]);

                ok = d && json_object_array_add(domains, d) >= 0;
                if (!ok)
                        json_object_put(d);
        }
        ok = ok && json_object_object_add(o, "domains", domains) >= 0;
        if (!ok) {
                json_object_put(domains);
                json_object_put(o);
                return NULL;
        }
        return o;
}

static int show_history_json(const HistoryCycle *cycles, size_t n) {
        _cleanup_(json_object_putp) json_object *o = json_object_new_object();
        json_object *array = json_object_new_array();

        if (!o || !array || json_object_object_add(o, "cycles", array) < 0) {
                json_object_put(array);
                return -ENOMEM;
        }
        for (size_t i = 0; i < n; i++) {
                json_object *c = history_cycle_json(&cycles[i]);

                if (!c || json_object_array_add(array, c) < 0) {
                        json_object_put(c);
                        return -ENOMEM;
                }
        }
        output_json(o);
        return 0;
}

int verb_history(int argc, char *argv[]) {
        HistorySource src = {
                .directory = arg_journal_directory,
                .files = arg_journal_files,
                .since_usec = arg_since_usec,
        };
        _cleanup_(history_done) History h = { 0 };
        const HistoryCycle *shown;
        size_t first;
        int r;

        r = history_read_journal(&src, &h);
        if (r < 0)
                return r;
        /* -n N: the N most recent cycles (the order of their first entry) */
        first = arg_lines > 0 && h.n_cycles > arg_lines ? h.n_cycles - arg_lines : 0;
        shown = h.n_cycles > 0 ? h.cycles + first : NULL;
        r = arg_json ? show_history_json(shown, h.n_cycles - first) :
                       h.n_cycles == 0 ? 0 : show_history_table(shown, h.n_cycles - first);
        if (r < 0)
                return cli_error(-ENOMEM, "Out of memory.");
        if (!arg_json && h.n_cycles == 0)
                fprintf(stderr, "No cycles in the journal.%s\n", geteuid() != 0 && !src.directory && !src.files ?
                        " (Users outside the groups systemd-journal and adm do not see the system journal.)" : "");
        return CTL_EXIT_DONE;
}
