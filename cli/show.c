/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Human output for status, list, plan and events. */
#include <inttypes.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "json-util.h"
#include "output.h"
#include "show.h"
#include "table.h"

/* Keys of the key/value blocks are right-aligned to the longest, "Can create TDs". */
#define KEY_WIDTH 14

const char *state_color(const char *state) {
        static const char *const good[] = { "idle", "ready", "stopped", "started", "keep", "s2idle" };
        static const char *const busy[] = { "preparing", "resuming", "stop-pending", "stopping",
                                            "forcing", "start-pending", "start-retry", "stop" };
        static const char *const bad[] = { "left-running", "stop-failed", "start-failed", "dropped",
                                           "refuse" };

        for (size_t i = 0; state && i < ELEMENTSOF(good); i++)
                if (streq(state, good[i]))
                        return ANSI_GREEN;
        for (size_t i = 0; state && i < ELEMENTSOF(busy); i++)
                if (streq(state, busy[i]))
                        return ANSI_YELLOW;
        for (size_t i = 0; state && i < ELEMENTSOF(bad); i++)
                if (streq(state, bad[i]))
                        return ANSI_RED;
        return state && streq(state, "ignore") ? ANSI_GREY : NULL;
}

/* "0-3,8,10-11" from a JSON array of ascending CPU numbers; "-" when empty. */
static void format_cpus(json_object *cpus, char *buf, size_t size) {
        size_t n = cpus ? json_object_array_length(cpus) : 0, len = 0;

        buf[0] = '\0';
        for (size_t i = 0; i < n && len < size; ) {
                int first = json_object_get_int(json_object_array_get_idx(cpus, i)), last = first;

                for (i++; i < n && json_object_get_int(json_object_array_get_idx(cpus, i)) == last + 1; i++)
                        last++;
                len += (size_t) snprintf(buf + len, size - len, len > 0 ? ",%d" : "%d", first);
                if (last > first && len < size)
                        len += (size_t) snprintf(buf + len, size - len, "-%d", last);
        }
        if (buf[0] == '\0')
                snprintf(buf, size, "-");
}

static void show_field(const char *key, const char *color, const char *fmt, ...) _printf_(3, 4);
static void show_field(const char *key, const char *color, const char *fmt, ...) {
        va_list ap;

        printf("%*s: %s", KEY_WIDTH, key, ansi(color));
        va_start(ap, fmt);
        vprintf(fmt, ap);
        va_end(ap);
        printf("%s\n", color ? ansi_normal() : "");
}

/* "Tue 2026-12-01 05:09:20 UTC", in local time, as systemctl status writes it. */
static const char *format_timestamp(int64_t usec, char *buf, size_t size) {
        time_t t = (time_t) (usec / 1000000);
        struct tm tm;

        if (usec <= 0 || !localtime_r(&t, &tm) || strftime(buf, size, "%a %Y-%m-%d %H:%M:%S %Z", &tm) == 0)
                snprintf(buf, size, "-");
        return buf;
}

/* Who holds the operator's hold, since when, until when; and whether it lasts. */
static void show_hold(json_object *s) {
        json_object *info = json_get_object(s, "holdInfo");
        const char *comm = json_get_string(info, "comm");
        int64_t uid = json_get_int(info, "uid", -1);
        struct passwd *pw = uid >= 0 ? getpwuid((uid_t) uid) : NULL;
        char when[64];

        show_field("Hold", NULL, "%s", strdash(json_get_string(s, "hold")));
        if (!info)
                return;
        show_field("Held by", NULL, "uid %" PRIi64 "%s%s%s, %s[%" PRIi64 "]", uid, pw ? " (" : "",
                   pw ? pw->pw_name : "", pw ? ")" : "", comm ? comm : "pid", json_get_int(info, "pid", 0));
        show_field("Held since", NULL, "%s", format_timestamp(json_get_int(info, "sinceUSec", 0), when, sizeof when));
        if (json_get_int(info, "untilUSec", 0) > 0)
                show_field("Held until", NULL, "%s",
                           format_timestamp(json_get_int(info, "untilUSec", 0), when, sizeof when));
        else
                show_field("Held until", NULL, "tdsleepctl release");
        if (!json_get_bool(info, "stored", true))
                show_field("Hold stored", ANSI_RED, "no: the state directory refused it, a restart of tdsleepd "
                           "drops it");
}

static void show_status_fields(json_object *s) {
        const char *phase = json_get_string(s, "phase"), *uri = json_get_string(s, "libvirtUri");
        bool connected = json_get_bool(s, "libvirtConnected", false), logind = json_get_bool(s, "logindPresent", false);
        bool create = json_get_bool(s, "canCreateTDs", false);
        char buf[ENUM_TEXT_MAX];
        int64_t delay = json_get_int(s, "inhibitDelayMaxUSec", -1);

        show_field("Phase", state_color(phase), "%s", strdash(phase));
        show_field("Step", NULL, "%s", strdash(json_get_enum(s, "step", buf, sizeof buf)));
        if (json_get_bool(s, "drained", false))
                show_field("Drained", ANSI_YELLOW, "yes, until tdsleepctl restore");
        if (json_get_bool(s, "awaitingHook", false))
                show_field("Awaiting", ANSI_YELLOW, "the sleep hook, to learn the step");
        if (json_get_bool(s, "awaitingLibvirt", false))
                show_field("Awaiting", ANSI_RED, "libvirtd, to see which TDs run (the delay lock is held)");
        if (json_get_bool(s, "recordDegraded", false))
                show_field("Record", ANSI_RED, "degraded: the state directory refused it");
        show_field("Kernel policy", NULL, "%s", strdash(json_get_enum(s, "kernelPolicy", buf, sizeof buf)));
        show_field("mem_sleep", NULL, "%s", strdash(json_get_enum(s, "memSleep", buf, sizeof buf)));
        show_field("TDs running", NULL, "%" PRIi64, json_get_int(s, "tdsRunning", 0));
        show_field("Can create TDs", create ? NULL : ANSI_RED, "%s", yes_no(create));
        show_field("Delay lock", NULL, "%s", json_get_bool(s, "delayLock", false) ? "held" : "not held");
        show_field("Block lock", NULL, "%s", strdash(json_get_string(s, "blockLock")));
        show_hold(s);
        show_field("libvirt", connected ? NULL : ANSI_RED, "%s (%s)", strdash(uri),
                   connected ? "connected" : "not connected");
        if (delay >= 0)
                show_field("logind", logind ? NULL : ANSI_RED, "%s, InhibitDelayMaxSec=%gs",
                           logind ? "present" : "absent", (double) delay / 1e6);
        else
                show_field("logind", logind ? NULL : ANSI_RED, "%s", logind ? "present" : "absent");
}

/* A table of cycle TDs: name, uuid, state and why (the last cycle adds how it stopped). */
static int cycle_table(json_object *domains, bool last, Table **ret) {
        _cleanup_(table_freep) Table *t = last ? table_new("NAME", "UUID", "OUTCOME", "STOPPED", "ERROR", NULL) :
                                                 table_new("NAME", "UUID", "STATE", "ERROR", NULL);
        size_t n = domains ? json_object_array_length(domains) : 0;
        int r = 0;

        if (!t)
                return -ENOMEM;
        for (size_t i = 0; i < n && r >= 0; i++) {
                json_object *d = json_object_array_get_idx(domains, i);
                char buf[ENUM_TEXT_MAX];
                const char *state = json_get_enum(d, "state", buf, sizeof buf);

                r = table_add_cell(t, json_get_string(d, "name"), NULL);
                if (r >= 0)
                        r = table_add_cell(t, json_get_string(d, "uuid"), NULL);
                if (r >= 0)
                        r = table_add_cell(t, state, state_color(state));
                if (r >= 0 && last)
                        r = table_add_cell(t, !json_get_bool(d, "stopped", false) ? "no" :
                                           json_get_bool(d, "forcedOff", false) ? "forced off" : "yes", NULL);
                if (r >= 0)
                        r = table_add_cell(t, json_get_string(d, "error"), ANSI_RED);
        }
        if (r < 0)
                return r;
        *ret = TAKE_PTR(t);
        return 0;
}

static int show_cycle(json_object *cycle) {
        _cleanup_(table_freep) Table *t = NULL;
        size_t n = cycle ? json_object_array_length(cycle) : 0;
        int r = cycle_table(cycle, false, &t);

        if (r < 0)
                return r;
        printf("\nCycle: %zu TD%s\n", n, n == 1 ? "" : "s");
        return n > 0 ? table_print(t, stdout) : 0;
}

/* The last finished cycle stays until the next one ends: what happened at 02:13? */
static int show_last_cycle(json_object *last) {
        _cleanup_(table_freep) Table *t = NULL;
        json_object *domains = json_get_array(last, "domains");
        size_t n = domains ? json_object_array_length(domains) : 0;
        bool failed = json_get_bool(last, "failed", false);
        time_t ended = (time_t) (json_get_int(last, "endedUSec", 0) / 1000000);
        char when[64] = "-", step[ENUM_TEXT_MAX];
        struct tm tm;
        int r;

        if (!last)
                return 0;
        r = cycle_table(domains, true, &t);
        if (r < 0)
                return r;
        if (ended > 0)
                strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", localtime_r(&ended, &tm));
        printf("\nLast cycle: %s, ended %s, prepared in %.2fs, resumed in %.2fs: %s%s%s\n",
               strdash(json_get_enum(last, "step", step, sizeof step)), when,
               (double) json_get_int(last, "prepareUSec", 0) / 1e6, (double) json_get_int(last, "resumeUSec", 0) / 1e6,
               ansi(failed ? ANSI_RED : ANSI_GREEN), failed ? "with failures" : "every TD back", ansi_normal());
        printf("%*s: %s\n", KEY_WIDTH, "Cycle id", strdash(json_get_string(last, "id")));
        return n > 0 ? table_print(t, stdout) : 0;
}

static int show_packages(json_object *packages) {
        _cleanup_(table_freep) Table *t = table_new("PACKAGE", "CPUS", "ONLINE", NULL);
        size_t n = packages ? json_object_array_length(packages) : 0;
        int r = 0;

        if (!t)
                return -ENOMEM;
        for (size_t i = 0; i < n && r >= 0; i++) {
                json_object *p = json_object_array_get_idx(packages, i);
                char cpus[1024], online[1024];

                format_cpus(json_get_array(p, "cpus"), cpus, sizeof cpus);
                format_cpus(json_get_array(p, "online"), online, sizeof online);
                r = table_add_cellf(t, "%" PRIi64, json_get_int(p, "id", -1));
                if (r >= 0)
                        r = table_add_cell(t, cpus, NULL);
                if (r >= 0)
                        /* A package without an online CPU blocks creating and tearing down TDs. */
                        r = table_add_cell(t, online, streq(online, "-") ? ANSI_RED : NULL);
        }
        if (r < 0)
                return r;
        printf("\nCPU packages: %zu\n", n);
        return n > 0 ? table_print(t, stdout) : 0;
}

int show_status(json_object *status) {
        int r;

        show_status_fields(status);
        r = show_cycle(json_get_array(status, "cycle"));
        if (r >= 0)
                r = show_last_cycle(json_get_object(status, "lastCycle"));
        if (r < 0)
                return r;
        return show_packages(json_get_array(status, "packages"));
}

/* The cells of one Domain, without the verdict. */
static int add_domain_cells(Table *t, json_object *d, bool with_state_and_timeout) {
        bool protected = json_get_bool(d, "protected", false);
        const char *action = json_get_string(d, "action");
        int64_t timeout = json_get_int(d, "shutdownTimeoutUSec", -1);
        char kind[ENUM_TEXT_MAX];
        int r;

        r = table_add_cell(t, json_get_string(d, "name"), NULL);
        if (r >= 0)
                r = table_add_cell(t, json_get_string(d, "uuid"), NULL);
        if (r >= 0 && with_state_and_timeout)
                r = table_add_cell(t, json_get_bool(d, "active", false) ? "running" : "shut off", NULL);
        if (r >= 0)
                r = table_add_cell(t, json_get_enum(d, "kind", kind, sizeof kind), NULL);
        if (r >= 0)
                r = table_add_cell(t, yes_no(protected), protected ? ANSI_BOLD : NULL);
        if (r >= 0)
                /* The action only matters for a domain tdsleepd protects. */
                r = table_add_cell(t, protected ? action : NULL, NULL);
        if (r >= 0 && with_state_and_timeout) {
                if (timeout >= 0)
                        r = table_add_cellf(t, "%gs", (double) timeout / 1e6);
                else
                        r = table_add_cell(t, NULL, NULL);
        }
        return r;
}

static void show_policy_errors(json_object *domains) {
        size_t n = domains ? json_object_array_length(domains) : 0;

        for (size_t i = 0; i < n; i++) {
                json_object *d = json_object_array_get_idx(domains, i);
                const char *error = json_get_string(d, "policyError");

                if (error)
                        printf("%sPolicy error%s for %s: %s\n", ansi(ANSI_RED), ansi_normal(),
                               strdash(json_get_string(d, "name")), error);
        }
}

int show_domains(json_object *domains) {
        _cleanup_(table_freep) Table *t = table_new("NAME", "UUID", "STATE", "KIND", "PROTECTED", "ACTION",
                                                    "TIMEOUT", NULL);
        size_t n = domains ? json_object_array_length(domains) : 0;
        int r = 0;

        if (!t)
                return -ENOMEM;
        for (size_t i = 0; i < n && r >= 0; i++)
                r = add_domain_cells(t, json_object_array_get_idx(domains, i), true);
        if (r < 0)
                return r;
        if (n == 0) {
                printf("No domains.\n");
                return 0;
        }
        r = table_print(t, stdout);
        show_policy_errors(domains);
        return r;
}

static void show_steps(json_object *steps) {
        size_t n = steps ? json_object_array_length(steps) : 0;

        printf("%*s: ", KEY_WIDTH, "Steps");
        for (size_t i = 0; i < n; i++) {
                json_object *v = json_object_array_get_idx(steps, i);
                const char *wire = json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
                char step[ENUM_TEXT_MAX];

                printf("%s%s", i > 0 ? ", " : "", strdash(enum_text(wire, step, sizeof step)));
        }
        printf("%s\n", n == 0 ? "-" : "");
}

int show_plan(json_object *reply) {
        _cleanup_(table_freep) Table *t = table_new("NAME", "UUID", "KIND", "PROTECTED", "ACTION", "VERDICT", NULL);
        json_object *domains = json_get_array(reply, "domains");
        size_t n = domains ? json_object_array_length(domains) : 0;
        bool keeps = json_get_bool(reply, "keepsTDs", false);
        char operation[ENUM_TEXT_MAX];
        int r = 0;

        if (!t)
                return -ENOMEM;
        for (size_t i = 0; i < n && r >= 0; i++) {
                json_object *d = json_object_array_get_idx(domains, i);
                const char *verdict = json_get_string(d, "verdict");

                r = add_domain_cells(t, d, false);
                if (r >= 0)
                        r = table_add_cell(t, verdict, state_color(verdict));
        }
        if (r < 0)
                return r;
        printf("%*s: %s\n", KEY_WIDTH, "Operation", strdash(json_get_enum(reply, "operation", operation, sizeof operation)));
        show_steps(json_get_array(reply, "steps"));
        printf("%*s: %s%s%s%s\n", KEY_WIDTH, "Keeps TDs", ansi(keeps ? ANSI_GREEN : ANSI_YELLOW), yes_no(keeps),
               ansi_normal(), json_get_bool(reply, "steerS2idle", false) ? " (the suspend is steered to s2idle)" : "");
        show_plan_budgets(reply, KEY_WIDTH);
        if (n == 0)
                return 0;
        putchar('\n');
        r = table_print(t, stdout);
        show_policy_errors(domains);
        return r;
}

void show_event(json_object *event, bool with_time) {
        const char *type = json_get_string(event, "type"), *phase = json_get_string(event, "phase");
        const char *message = json_get_string(event, "message");
        json_object *domain = json_get_object(event, "domain");

        if (with_time) {
                int64_t usec = json_get_int(event, "realtimeUSec", -1);
                time_t when = usec >= 0 ? (time_t) (usec / 1000000) : time(NULL);
                char buf[32];
                struct tm tm;

                /* When it happened, not when it arrived: to the millisecond, as events
                 * of one change come close together. */
                strftime(buf, sizeof buf, "%H:%M:%S", localtime_r(&when, &tm));
                printf("%s%s.%03d%s ", ansi(ANSI_GREY), buf, usec >= 0 ? (int) (usec / 1000 % 1000) : 0, ansi_normal());
        }
        printf("%s%s:%s", ansi(ANSI_BOLD), strdash(type), ansi_normal());
        if (phase)
                printf(" %s%s%s", ansi(state_color(phase)), phase, state_color(phase) ? ansi_normal() : "");
        if (domain) {
                char buf[ENUM_TEXT_MAX];
                const char *state = json_get_enum(domain, "state", buf, sizeof buf);

                printf(" %s %s%s%s", strdash(json_get_string(domain, "name")), ansi(state_color(state)),
                       strdash(state), state_color(state) ? ansi_normal() : "");
        }
        /* A phase event's message is the status line, which starts with the phase:
         * "phase: ready (drained); 0 TDs running; ..." */
        if (message && phase && strncmp(message, phase, strlen(phase)) == 0)
                printf("%s", message + strlen(phase));
        else if (message)
                printf(" %s", message);
        putchar('\n');
        fflush(stdout);
}
