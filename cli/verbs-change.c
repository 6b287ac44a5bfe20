/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The verbs that steer: prepare, resume, drain, restore, hold, release, reload, hook. */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client.h"
#include "json-util.h"
#include "output.h"
#include "show.h"
#include "tdsleepctl.h"
#include "varlink.h"

typedef struct Outcome {
        const char *label;      /* "suspend" for prepare, NULL for drain */
        int64_t failed;
} Outcome;

static void show_outcome(const Outcome *o, json_object *reply) {
        const char *phase = json_get_string(reply, "phase");
        int64_t failed = json_get_int(reply, "failed", 0);

        if (!o->label)
                printf("Drain done: ");
        else if (phase && streq(phase, "ready"))
                printf("%sReady%s for %s: ", ansi(ANSI_GREEN), ansi_normal(), o->label);
        else
                printf("Phase %s for %s: ", strdash(phase), o->label);
        printf("%" PRIi64 " stopped, %" PRIi64 " left running, %s%" PRIi64 " failed%s.\n",
               json_get_int(reply, "stopped", 0), json_get_int(reply, "leftRunning", 0),
               ansi(failed > 0 ? ANSI_RED : NULL), failed, failed > 0 ? ansi_normal() : "");
}

/* Each reply of Prepare/Drain with more: progress events, then the counts. */
static int on_progress(json_object *reply, bool continues, void *userdata) {
        Outcome *o = userdata;
        json_object *event = json_get_object(reply, "event");

        if (arg_json)
                output_json(reply);
        else if (event)
                show_event(event, false);
        if (continues)
                return 0;
        o->failed = json_get_int(reply, "failed", 0);
        if (!arg_json)
                show_outcome(o, reply);
        fflush(stdout);
        return 0;
}

static int outcome_exit(const Outcome *o, const char *what) {
        if (o->failed > 0)
                return cli_error(CTL_EXIT_FAILED, "%" PRIi64 " TD%s failed during %s.", o->failed,
                                 o->failed == 1 ? "" : "s", what);
        return CTL_EXIT_DONE;
}

/* Add key: string to params; false on OOM. */
static bool add_string(json_object *params, const char *key, const char *value) {
        return params && json_object_object_add(params, key, json_object_new_string(value)) >= 0;
}

int verb_prepare(int argc, char *argv[]) {
        _cleanup_(json_object_putp) json_object *params = json_object_new_object();
        Outcome o = { .label = arg_step ? arg_step : argv[1] };
        int r;

        if (!add_string(params, "operation", argv[1]) || (arg_step && !add_string(params, "step", arg_step)))
                return cli_error(-EPROTO, "Out of memory.");
        /* Preparing lasts as long as the TDs take to stop; tdsleepd bounds that itself. */
        r = client_stream(arg_socket, verb_timeout(VARLINK_TIMEOUT_INFINITY), IFACE ".Prepare", params,
                          on_progress, &o);
        return r < 0 ? r : outcome_exit(&o, "prepare");
}

int verb_drain(int argc, char *argv[]) {
        _cleanup_(json_object_putp) json_object *params = json_object_new_object();
        Outcome o = { .label = NULL };
        int r;

        if (!params || (arg_drain_timeout >= 0 &&
                        json_object_object_add(params, "timeoutUSec", json_object_new_int64(
                                                       (int64_t) (arg_drain_timeout * (double) USEC_PER_SEC))) < 0))
                return cli_error(-EPROTO, "Out of memory.");
        r = client_stream(arg_socket, verb_timeout(VARLINK_TIMEOUT_INFINITY), IFACE ".Drain", params,
                          on_progress, &o);
        return r < 0 ? r : outcome_exit(&o, "drain");
}

/* A call whose reply is at most a phase: print "Phase: X" (or nothing), or the JSON. */
static int simple_call(const char *method, json_object *params) {
        _cleanup_(json_object_putp) json_object *reply = NULL;
        const char *phase;
        int r;

        r = client_call(arg_socket, verb_timeout(0), method, params, &reply);
        if (r < 0)
                return r;
        phase = json_get_string(reply, "phase");
        if (arg_json)
                output_json(reply);
        else if (phase)
                printf("Phase: %s%s%s\n", ansi(state_color(phase)), phase, state_color(phase) ? ansi_normal() : "");
        return CTL_EXIT_DONE;
}

int verb_resume(int argc, char *argv[]) {
        return simple_call(IFACE ".Resume", NULL);
}

int verb_restore(int argc, char *argv[]) {
        return simple_call(IFACE ".Restore", NULL);
}

int verb_hold(int argc, char *argv[]) {
        _cleanup_(json_object_putp) json_object *params = json_object_new_object(), *reply = NULL;
        int r;

        if (isempty(argv[1]))
                return cli_error(-EINVAL, "hold needs a non-empty REASON.");
        if (!add_string(params, "reason", argv[1]) ||
            (arg_hold_usec > 0 && json_object_object_add(params, "forUSec", json_object_new_uint64(arg_hold_usec)) < 0))
                return cli_error(-EPROTO, "Out of memory.");
        r = client_call(arg_socket, verb_timeout(0), IFACE ".Hold", params, &reply);
        if (r < 0)
                return r;
        if (arg_json)
                output_json(reply);
        /* Held all the same, but the operator must know it will not outlive tdsleepd. */
        if (!json_get_bool(reply, "stored", true))
                cli_error(0, "Warning: the hold is taken, but tdsleepd could not store it in its state directory: "
                          "a restart of tdsleepd drops it. See journalctl -u tdsleepd");
        return CTL_EXIT_DONE;
}

int verb_release(int argc, char *argv[]) {
        return simple_call(IFACE ".Release", NULL);
}

int verb_reload(int argc, char *argv[]) {
        return simple_call(IFACE ".Reload", NULL);
}
