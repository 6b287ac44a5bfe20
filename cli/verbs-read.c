/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The verbs that only look: status, list, plan, metrics, monitor. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <unistd.h>

#include "client.h"
#include "json-util.h"
#include "metrics-format.h"
#include "output.h"
#include "show.h"
#include "tdsleepctl.h"
#include "varlink.h"

/* Call method and print its reply with show (or as JSON); *ret_reply (if given) keeps it. */
static int call_and_show(const char *method, json_object *params, int (*show)(json_object *reply),
                         json_object **ret_reply) {
        _cleanup_(json_object_putp) json_object *reply = NULL;
        int r;

        r = client_call(arg_socket, verb_timeout(0), method, params, &reply);
        if (r < 0)
                return r;
        if (arg_json)
                output_json(reply);
        else {
                r = show(reply);
                if (r < 0)
                        return cli_error(-EPROTO, "Failed to show the reply: %s", STRERROR(r));
        }
        if (ret_reply)
                *ret_reply = TAKE_PTR(reply);
        return CTL_EXIT_DONE;
}

/* Is the host safe and healthy? The lowest code that applies (tdsleepctl.h, tdsleepctl(1)):
 * first what endangers TDs at the next sleep, then what already went wrong. A field an
 * older tdsleepd does not send counts as healthy. */
static int status_health(json_object *status) {
        if (!json_get_bool(status, "libvirtConnected", true))
                return CTL_EXIT_LIBVIRT_DISCONNECTED;
        if (json_get_bool(status, "recordDegraded", false))
                return CTL_EXIT_RECORD_DEGRADED;
        if (json_get_bool(json_get_object(status, "lastCycle"), "failed", false))
                return CTL_EXIT_LAST_CYCLE_FAILED;
        if (!json_get_bool(status, "canCreateTDs", true))
                return CTL_EXIT_CANNOT_CREATE_TDS;
        return CTL_EXIT_DONE;
}

static int show_status_reply(json_object *reply) {
        return show_status(json_get_object(reply, "status"));
}

static int show_list_reply(json_object *reply) {
        return show_domains(json_get_array(reply, "domains"));
}

int verb_status(int argc, char *argv[]) {
        _cleanup_(json_object_putp) json_object *reply = NULL;
        int r = call_and_show(IFACE ".GetStatus", NULL, show_status_reply, &reply);

        return r < 0 ? r : status_health(json_get_object(reply, "status"));
}

int verb_list(int argc, char *argv[]) {
        return call_and_show(IFACE ".ListDomains", NULL, show_list_reply, NULL);
}

int verb_plan(int argc, char *argv[]) {
        _cleanup_(json_object_putp) json_object *params = json_object_new_object();

        if (!params || json_object_object_add(params, "operation", json_object_new_string(argv[1])) < 0)
                return cli_error(-EPROTO, "Out of memory.");
        return call_and_show(IFACE ".Plan", params, show_plan, NULL);
}

/* The Prometheus text, made by the same code tdsleepd uses for MetricsTextfile=. */
static int show_metrics_reply(json_object *reply) {
        _cleanup_(freep) char *text = NULL;
        int r = metrics_format(json_get_object(reply, "metrics"), &text);

        if (r < 0)
                return r;
        fputs(text, stdout);
        return 0;
}

int verb_metrics(int argc, char *argv[]) {
        return call_and_show(IFACE ".GetMetrics", NULL, show_metrics_reply, NULL);
}

static int on_event(json_object *reply, bool continues, void *userdata) {
        if (arg_json)
                output_json(reply);
        else
                show_event(json_get_object(reply, "event"), true);
        return 0;
}

/* monitor runs until interrupted, and being interrupted is how it is meant to end.
 * Every line is already flushed, so leaving at once loses nothing. */
static void on_interrupt(int sig) {
        _exit(CTL_EXIT_DONE);
}

int verb_monitor(int argc, char *argv[]) {
        struct sigaction sa = { .sa_handler = on_interrupt };
        int r;

        sigemptyset(&sa.sa_mask);
        (void) sigaction(SIGINT, &sa, NULL);
        (void) sigaction(SIGTERM, &sa, NULL);
        r = client_stream(arg_socket, VARLINK_TIMEOUT_INFINITY, IFACE ".Subscribe", NULL, on_event, NULL);
        return r < 0 ? r : CTL_EXIT_DONE;
}
