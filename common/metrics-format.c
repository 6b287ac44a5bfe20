/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "macros.h"
#include "metrics-format.h"

#define PREFIX "tdsleep_"

/* The closed sets whose every member gets a sample (0 or 1), so that a query for one
 * that is not in force finds 0 rather than nothing. */
static const char *const phases[] = { "idle", "preparing", "ready", "resuming" };

typedef struct Writer {
        FILE *f;
        json_object *root;
        int error;              /* the first problem: -EBADMSG for a bad field */
} Writer;

static json_object *field(Writer *w, json_object *o, const char *key, json_type type) {
        json_object *v;

        if (!o || !json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, type)) {
                w->error = -EBADMSG;
                return NULL;
        }
        return v;
}

/* An unsigned count or µs field; 0 (and w->error set) when it is missing or negative. */
static uint64_t field_u64(Writer *w, json_object *o, const char *key) {
        json_object *v = field(w, o, key, json_type_int);
        int64_t n = v ? json_object_get_int64(v) : 0;

        if (n < 0) {
                w->error = -EBADMSG;
                return 0;
        }
        return (uint64_t) n;
}

static const char *field_string(Writer *w, json_object *o, const char *key) {
        json_object *v = field(w, o, key, json_type_string);

        return v ? json_object_get_string(v) : "";
}

/* A nullable string field: def when null or absent. */
static const char *optional_string(Writer *w, json_object *o, const char *key, const char *def) {
        json_object *v;

        if (!json_object_object_get_ex(o, key, &v) || !v)
                return def;
        if (!json_object_is_type(v, json_type_string)) {
                w->error = -EBADMSG;
                return def;
        }
        return json_object_get_string(v);
}

static int field_bool(Writer *w, json_object *o, const char *key) {
        json_object *v = field(w, o, key, json_type_boolean);

        return v ? json_object_get_boolean(v) : 0;
}

/* µs as exact decimal seconds, without trailing zeros: 2500000 -> "2.5", 60000000 -> "60". */
static void put_seconds(FILE *f, uint64_t usec) {
        char frac[8];
        size_t n;

        snprintf(frac, sizeof frac, "%06" PRIu64, usec % USEC_PER_SEC);
        for (n = strlen(frac); n > 0 && frac[n - 1] == '0'; n--)
                frac[n - 1] = '\0';
        fprintf(f, "%" PRIu64 "%s%s", usec / USEC_PER_SEC, n > 0 ? "." : "", frac);
}

/* A label value: backslash, double quote and line feed escaped, as the format requires. */
static void put_label_value(FILE *f, const char *s) {
        for (; *s; s++) {
                if (*s == '\\' || *s == '"')
                        fputc('\\', f);
                if (*s == '\n') {
                        fputs("\\n", f);
                        continue;
                }
                fputc(*s, f);
        }
}

static void header(Writer *w, const char *name, const char *type, const char *help) {
        fprintf(w->f, "# HELP " PREFIX "%s %s\n# TYPE " PREFIX "%s %s\n", name, help, name, type);
}

static void sample_u64(Writer *w, const char *name, uint64_t v) {
        fprintf(w->f, PREFIX "%s %" PRIu64 "\n", name, v);
}

static void counter(Writer *w, const char *name, const char *key, const char *help) {
        header(w, name, "counter", help);
        sample_u64(w, name, field_u64(w, w->root, key));
}

static void gauge(Writer *w, const char *name, uint64_t v, const char *help) {
        header(w, name, "gauge", help);
        sample_u64(w, name, v);
}

static void write_info(Writer *w) {
        header(w, "info", "gauge", "Always 1: tdsleepd's version and the kernel policy in force.");
        fputs(PREFIX "info{version=\"", w->f);
        put_label_value(w->f, field_string(w, w->root, "version"));
        fputs("\",kernel_policy=\"", w->f);
        put_label_value(w->f, optional_string(w, w->root, "kernelPolicy", "unknown"));
        fputs("\"} 1\n", w->f);
        header(w, "start_time_seconds", "gauge", "When tdsleepd started (Unix time); counters count from here.");
        fputs(PREFIX "start_time_seconds ", w->f);
        put_seconds(w->f, field_u64(w, w->root, "startedUSec"));
        fputc('\n', w->f);
}

static void write_cycles(Writer *w) {
        json_object *a = field(w, w->root, "cycles", json_type_array);

        header(w, "cycles_total", "counter", "Finished cycles by step (a sleep step, or drain) and outcome.");
        for (size_t i = 0; a && i < json_object_array_length(a); i++) {
                json_object *c = json_object_array_get_idx(a, i);

                fputs(PREFIX "cycles_total{step=\"", w->f);
                put_label_value(w->f, field_string(w, c, "step"));
                fputs("\",outcome=\"", w->f);
                put_label_value(w->f, field_string(w, c, "outcome"));
                fprintf(w->f, "\"} %" PRIu64 "\n", field_u64(w, c, "count"));
        }
}

static void write_histogram(Writer *w, const char *name, const char *key, const char *help) {
        json_object *h = field(w, w->root, key, json_type_object);
        json_object *a = field(w, h, "buckets", json_type_array);

        header(w, name, "histogram", help);
        for (size_t i = 0; a && i < json_object_array_length(a); i++) {
                json_object *b = json_object_array_get_idx(a, i);

                fprintf(w->f, PREFIX "%s_bucket{le=\"", name);
                put_seconds(w->f, field_u64(w, b, "leUSec"));
                fprintf(w->f, "\"} %" PRIu64 "\n", field_u64(w, b, "count"));
        }
        fprintf(w->f, PREFIX "%s_bucket{le=\"+Inf\"} %" PRIu64 "\n", name, field_u64(w, h, "count"));
        fprintf(w->f, PREFIX "%s_sum ", name);
        put_seconds(w->f, field_u64(w, h, "sumUSec"));
        fprintf(w->f, "\n" PREFIX "%s_count %" PRIu64 "\n", name, field_u64(w, h, "count"));
}

static void write_state(Writer *w) {
        const char *phase = field_string(w, w->root, "phase");

        header(w, "phase", "gauge", "1 for the phase of the sleep cycle tdsleepd is in, 0 for the others.");
        for (size_t i = 0; i < ELEMENTSOF(phases); i++)
                fprintf(w->f, PREFIX "phase{phase=\"%s\"} %d\n", phases[i], streq(phase, phases[i]));
        gauge(w, "tds_running", field_u64(w, w->root, "tdsRunning"), "Protected TDs running now.");
        header(w, "lock_held", "gauge", "1 while tdsleepd holds logind's inhibitor lock of this mode.");
        fprintf(w->f, PREFIX "lock_held{mode=\"delay\"} %d\n", field_bool(w, w->root, "delayLock"));
        fprintf(w->f, PREFIX "lock_held{mode=\"block\"} %d\n", field_bool(w, w->root, "blockLock"));
        gauge(w, "hold_active", field_bool(w, w->root, "hold"), "1 while an operator's hold refuses sleep.");
        gauge(w, "libvirt_connected", field_bool(w, w->root, "libvirtConnected"),
              "1 while tdsleepd is connected to libvirtd.");
}

/* Only once a cycle has ended: a missing sample says "never", where 0 would say 1970. */
static void write_last_cycle(Writer *w) {
        json_object *ended, *failed;

        if (!json_object_object_get_ex(w->root, "lastCycleEndedUSec", &ended) || !ended)
                return;
        header(w, "last_cycle_end_time_seconds", "gauge", "When the last cycle ended (Unix time).");
        fputs(PREFIX "last_cycle_end_time_seconds ", w->f);
        put_seconds(w->f, field_u64(w, w->root, "lastCycleEndedUSec"));
        fputc('\n', w->f);
        if (json_object_object_get_ex(w->root, "lastCycleFailed", &failed) && failed)
                gauge(w, "last_cycle_failed", field_bool(w, w->root, "lastCycleFailed"),
                      "1 when a TD failed to stop or to start in the last cycle, or was left running.");
}

static void write_all(Writer *w) {
        write_info(w);
        write_cycles(w);
        counter(w, "tds_stopped_total", "tdsStopped", "TDs tdsleepd stopped, gracefully or by force.");
        counter(w, "tds_forced_off_total", "tdsForcedOff", "TDs that did not shut down in time and were forced off.");
        counter(w, "tds_started_total", "tdsStarted", "TDs started again after a sleep or a drain.");
        counter(w, "tds_start_failed_total", "tdsStartFailed", "TDs that could not be started again.");
        counter(w, "tds_stop_failed_total", "tdsStopFailed", "TDs that could not be stopped.");
        write_histogram(w, "prepare_duration_seconds", "prepareDuration",
                        "How long preparing a cycle took: until the host could sleep, or the drain was done.");
        write_histogram(w, "resume_duration_seconds", "resumeDuration",
                        "How long resuming a cycle took: until every TD was started again.");
        write_state(w);
        write_last_cycle(w);
}

int metrics_format(json_object *metrics, char **ret) {
        Writer w = { .root = metrics };
        char *text = NULL;
        size_t size = 0;

        if (!json_object_is_type(metrics, json_type_object))
                return -EBADMSG;
        w.f = open_memstream(&text, &size);
        if (!w.f)
                return -ENOMEM;
        write_all(&w);
        if (fclose(w.f) != 0 || !text) {
                free(text);
                return -ENOMEM;
        }
        if (w.error < 0) {
                free(text);
                return w.error;
        }
        *ret = text;
        return 0;
}
