/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A stand-in for tdsleepd's control socket, for tdsleepctl's tests: canned replies for
 * every io.tdsleep.Manager method, an error reply and "more" streams; every call is
 * appended to RECORD as one JSON line {"method", "parameters", "more"}.
 *
 * Usage: fake-tdsleepd [--deny] ADDRESS RECORD
 *   --deny   every method that changes state answers PermissionDenied
 * Canned quirks: Plan rejects unknown operations (InvalidParameter) and, like tdsleepd,
 * takes the enum or systemd's dashed spelling; Prepare with operation hibernate reports
 * failed: 1; Prepare with step "hang" never answers; Restore answers Busy; Hold answers
 * stored: false for the reason "unstored" and LockRefused for "refused"; Subscribe
 * sends three events and then stays open. io.systemd.service.SetLogLevel is recorded.
 * GetStatus: the canned status, with the fields of RECORD.status.json (when that file
 * exists) put over it, so a test can make the host unhealthy. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <systemd/sd-event.h>

#include "varlink.h"

#define IFACE "io.tdsleep.Manager"

static FILE *record;
static const char *record_path;
static bool deny;
static Varlink *hung;   /* the Prepare that never gets an answer */

static json_object *parse(const char *text) {
        json_object *o = json_tokener_parse(text);

        if (!o)
                abort();        /* a typo in a canned reply: fail loudly */
        return o;
}

static void record_call(Varlink *link, json_object *params, VarlinkMethodFlags flags) {
        _cleanup_(json_object_putp) json_object *o = json_object_new_object();

        json_object_object_add(o, "method", json_object_new_string(varlink_get_current_method(link)));
        json_object_object_add(o, "parameters", params ? json_object_get(params) : json_object_new_object());
        json_object_object_add(o, "more", json_object_new_boolean(flags & VARLINK_METHOD_MORE));
        fprintf(record, "%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
        fflush(record);
}

static int reply_text(Varlink *link, const char *text) {
        _cleanup_(json_object_putp) json_object *o = parse(text);

        return varlink_reply(link, o);
}

static int notify_text(Varlink *link, const char *text) {
        _cleanup_(json_object_putp) json_object *o = parse(text);

        return varlink_notify(link, o);
}

static int error_text(Varlink *link, const char *error, const char *text) {
        _cleanup_(json_object_putp) json_object *o = parse(text);

        return varlink_error(link, error, o);
}

/* Record the call; answer PermissionDenied (returns 1) for a change under --deny. */
static int enter(Varlink *link, json_object *params, VarlinkMethodFlags flags, bool changes) {
        record_call(link, params, flags);
        if (!changes || !deny)
                return 0;
        (void) varlink_error(link, VARLINK_ERROR_PERMISSION_DENIED, NULL);
        return 1;
}

#define UUID_WEB "6f1e2c3a-0000-4000-8000-000000000001"
#define UUID_DB  "6f1e2c3a-0000-4000-8000-000000000002"
#define UUID_VM  "6f1e2c3a-0000-4000-8000-000000000003"
#define UUID_BAD "6f1e2c3a-0000-4000-8000-000000000004"

/* With the verdicts Plan adds: VERDICT(v) is empty for ListDomains. */
#define DOMAINS_WITH(v_web, v_db, v_vm, v_bad)                                                          \
        "[{\"name\":\"td-web\",\"uuid\":\"" UUID_WEB "\",\"active\":true,\"persistent\":true,"          \
        "\"kind\":\"tdx\",\"protected\":true,\"action\":\"stop\",\"shutdownTimeoutUSec\":60000000,"     \
        "\"policyError\":null" v_web "},"                                                               \
        "{\"name\":\"td-db\",\"uuid\":\"" UUID_DB "\",\"active\":true,\"persistent\":false,"            \
        "\"kind\":\"tdx\",\"protected\":true,\"action\":\"refuse\",\"shutdownTimeoutUSec\":120500000"   \
        v_db "},"                                                                                       \
        "{\"name\":\"plain-vm\",\"uuid\":\"" UUID_VM "\",\"active\":false,\"persistent\":true,"         \
        "\"kind\":\"none\",\"protected\":false,\"action\":\"stop\",\"shutdownTimeoutUSec\":60000000"    \
        v_vm "},"                                                                                       \
        "{\"name\":\"broken-vm\",\"uuid\":\"" UUID_BAD "\",\"active\":true,\"persistent\":true,"        \
        "\"kind\":\"sev_snp\",\"protected\":false,\"action\":\"stop\",\"shutdownTimeoutUSec\":60000000,"  \
        "\"policyError\":\"metadata: bad action 'nap'\"" v_bad "}]"
#define DOMAINS DOMAINS_WITH("", "", "", "")
#define VERDICT(v) ",\"verdict\":\"" v "\""

/* Every event carries these, as tdsleepd's do. */
#define STAMP(seq) "\"sequence\":" #seq ",\"realtimeUSec\":1764554000123456,\"monotonicUSec\":5000000" #seq ","

/* The fields of RECORD.status.json over the canned status. */
static void patch_status(json_object *reply) {
        _cleanup_(freep) char *path = NULL;
        _cleanup_(json_object_putp) json_object *patch = NULL;
        json_object *status = json_object_object_get(reply, "status");
        struct json_object_iterator it, end;

        if (asprintf(&path, "%s.status.json", record_path) < 0 || access(path, F_OK) < 0)
                return;
        patch = json_object_from_file(path);
        if (!patch)
                abort();
        it = json_object_iter_begin(patch);
        end = json_object_iter_end(patch);
        for (; !json_object_iter_equal(&it, &end); json_object_iter_next(&it))
                json_object_object_add(status, json_object_iter_peek_name(&it),
                                       json_object_get(json_object_iter_peek_value(&it)));
}

static int vl_get_status(Varlink *link, json_object *params, VarlinkMethodFlags flags, void *userdata) {
        _cleanup_(json_object_putp) json_object *reply = NULL;

        enter(link, params, flags, false);
        reply = parse(
                "{\"status\":{\"phase\":\"preparing\",\"step\":\"hybrid_sleep\",\"awaitingHook\":false,"
                "\"cycleId\":\"fedcba9876543210fedcba9876543210\",\"logLevel\":6,"
                "\"kernelPolicy\":\"runtime\",\"memSleep\":\"s2idle\",\"tdsRunning\":2,\"delayLock\":true,"
                "\"blockLock\":null,\"hold\":\"maintenance window\",\"holdInfo\":{\"reason\":\"maintenance window\","
                "\"uid\":0,\"pid\":4242,\"comm\":\"tdsleepctl\",\"sinceUSec\":1764554000000000,"
                "\"untilUSec\":1764561200000000,\"stored\":true},\"libvirtUri\":\"qemu:///system\","
                "\"libvirtConnected\":true,\"logindPresent\":true,\"inhibitDelayMaxUSec\":90000000,"
                "\"canCreateTDs\":false,"
                "\"packages\":[{\"id\":0,\"cpus\":[0,1,2,3,8,9],\"online\":[0,1,2,3,8,9]},"
                "{\"id\":1,\"cpus\":[4,5,6,7],\"online\":[]}],"
                "\"cycle\":[{\"name\":\"td-web\",\"uuid\":\"" UUID_WEB "\",\"state\":\"stopping\"},"
                "{\"name\":\"td-db\",\"uuid\":\"" UUID_DB "\",\"state\":\"left_running\","
                "\"error\":\"did not stop in time, and ForceOff=no\"}],"
                "\"lastCycle\":{\"id\":\"0123456789abcdef0123456789abcdef\",\"step\":\"hibernate\","
                "\"startedUSec\":1764554000000000,\"endedUSec\":1764554100000000,\"prepareUSec\":2500000,"
                "\"resumeUSec\":1250000,\"failed\":true,\"domains\":["
                "{\"name\":\"td-web\",\"uuid\":\"" UUID_WEB "\",\"state\":\"started\",\"stopped\":true,"
                "\"forcedOff\":false},"
                "{\"name\":\"td-db\",\"uuid\":\"" UUID_DB "\",\"state\":\"start_failed\",\"stopped\":true,"
                "\"forcedOff\":true,\"error\":\"Cannot access storage file\"}]}}}");
        patch_status(reply);
        return varlink_reply(link, reply);
}

static int vl_get_metrics(Varlink *link, json_object *params, VarlinkMethodFlags flags, void *userdata) {
        enter(link, params, flags, false);
        return reply_text(link,
                "{\"metrics\":{\"version\":\"9.9.9\",\"kernelPolicy\":\"runtime\",\"startedUSec\":1764550000000000,"
                "\"cycles\":[{\"step\":\"hibernate\",\"outcome\":\"failure\",\"count\":1}],"
                "\"tdsStopped\":2,\"tdsForcedOff\":1,\"tdsStarted\":1,\"tdsStartFailed\":1,\"tdsStopFailed\":0,"
                "\"prepareDuration\":{\"buckets\":[{\"leUSec\":2500000,\"count\":1}],\"count\":1,\"sumUSec\":2500000},"
                "\"resumeDuration\":{\"buckets\":[{\"leUSec\":2500000,\"count\":1}],\"count\":1,\"sumUSec\":1250000},"
                "\"phase\":\"preparing\",\"tdsRunning\":2,\"delayLock\":true,\"blockLock\":false,\"hold\":true,"
                "\"libvirtConnected\":true,\"lastCycleEndedUSec\":1764554100000000,\"lastCycleFailed\":true}}");
}

static int vl_list_domains(Varlink *link, json_object *params, VarlinkMethodFlags flags, void *userdata) {
        enter(link, params, flags, false);
        return reply_text(link, "{\"domains\":" DOMAINS "}");
}

/* The man page's example: three TDs of 2 min, ParallelShutdown=2, logind waits 150 s. */
#define BUDGETS "\"inhibitDelayMaxUSec\":150000000,\"budgetMarginUSec\":5000000,\"fits\":false," \
        "\"budgets\":[{\"step\":\"hibernate\",\"stops\":3,\"stopBudgetUSec\":260000000,\"limit\":\"logind\"," \
        "\"limitUSec\":150000000,\"fits\":false,\"overBudget\":\"shorten\",\"stopWindowMaxUSec\":62500000," \
        "\"plannedUSec\":145000000},{\"step\":\"suspend\",\"stops\":3,\"stopBudgetUSec\":260000000," \
        "\"limit\":\"logind\",\"limitUSec\":150000000,\"fits\":false,\"overBudget\":\"s2idle\"," \
        "\"stopWindowMaxUSec\":null,\"plannedUSec\":0}]"

static int vl_plan(Varlink *link, json_object *params, VarlinkMethodFlags flags, void *userdata) {
        static const char *const known[] = { "suspend", "hibernate", "hybrid_sleep", "suspend_then_hibernate", "drain" };
        static const char *const dashed[] = { "suspend", "hibernate", "hybrid-sleep", "suspend-then-hibernate", "drain" };
        _cleanup_(json_object_putp) json_object *reply = NULL;
        json_object *op = NULL;

        enter(link, params, flags, false);
        if (!json_object_object_get_ex(params, "operation", &op) || !json_object_is_type(op, json_type_string))
                return varlink_error_invalid_parameter(link, "operation");
        for (size_t i = 0; i < ELEMENTSOF(known); i++)
                if (streq(json_object_get_string(op), known[i]) || streq(json_object_get_string(op), dashed[i])) {
                        reply = parse("{\"steps\":[],\"keepsTDs\":false,\"domains\":"
                                      DOMAINS_WITH(VERDICT("stop"), VERDICT("refuse"), VERDICT("ignore"), VERDICT("ignore")) "," BUDGETS "}");
                        json_object_object_add(reply, "operation", json_object_new_string(known[i]));
                        json_object_array_add(json_object_object_get(reply, "steps"),
                                              json_object_new_string(i == 3 ? "suspend" : known[i]));
                        if (i == 3)
                                json_object_array_add(json_object_object_get(reply, "steps"),
                                                      json_object_new_string("hibernate"));
                        return varlink_reply(link, reply);
                }
        return varlink_error_invalid_parameter(link, "operation");
}

/* Prepare and Drain: with more, two progress events before the counts. */
static int progress(Varlink *link, VarlinkMethodFlags flags, const char *final) {
        int r = 0;

        if (flags & VARLINK_METHOD_MORE) {
                r = notify_text(link, "{\"phase\":\"preparing\",\"stopped\":0,\"leftRunning\":0,\"failed\":0,"
                                      "\"event\":{\"type\":\"phase\"," STAMP(7) "\"phase\":\"preparing\","
                                      "\"message\":\"preparing; 1 TDs running\"}}");
                if (r >= 0)
                        r = notify_text(link, "{\"phase\":\"preparing\",\"stopped\":0,\"leftRunning\":0,\"failed\":0,"
                                              "\"event\":{\"type\":\"domain\"," STAMP(8) "\"domain\":{\"name\":\"td-web\","
                                              "\"uuid\":\"" UUID_WEB "\",\"state\":\"stopping\"}}}");
        }
        return r < 0 ? r : reply_text(link, final);
}

static int vl_prepare(Varlink *link, json_object *params, VarlinkMethodFlags flags, void *userdata) {
        json_object *op = NULL, *step = NULL;

        if (enter(link, params, flags, true))
                return 0;
        json_object_object_get_ex(params, "operation", &op);
        json_object_object_get_ex(params, "step", &step);
        if (step && streq(json_object_get_string(step), "hang")) {
                hung = varlink_ref(link);
                return 0;
        }
        if (op && streq(json_object_get_string(op), "hibernate"))
                return progress(link, flags,
                                "{\"phase\":\"ready\",\"stopped\":0,\"leftRunning\":0,\"failed\":1}");
        return progress(link, flags, "{\"phase\":\"ready\",\"stopped\":1,\"leftRunning\":1,\"failed\":0}");
}

static int vl_drain(Varlink *link, json_object *params, VarlinkMethodFlags flags, void *userdata) {
        if (enter(link, params, flags, true))
                return 0;
        return progress(link, flags, "{\"stopped\":2,\"leftRunning\":0,\"failed\":0}");
}

static int vl_resume(Varlink *link, json_object *params, VarlinkMethodFlags flags, void *userdata) {
        if (enter(link, params, flags, true))
                return 0;
        return reply_text(link, "{\"phase\":\"resuming\"}");
}

static int vl_restore(Varlink *link, json_object *params, VarlinkMethodFlags flags, void *userdata) {
        if (enter(link, params, flags, true))
                return 0;
        return error_text(link, IFACE ".Busy", "{\"phase\":\"preparing\"}");
}

static int vl_hold(Varlink *link, json_object *params, VarlinkMethodFlags flags, void *userdata) {
        json_object *reason = json_object_object_get(params, "reason"), *duration = NULL;
        _cleanup_(freep) char *text = NULL;

        if (enter(link, params, flags, true))
                return 0;
        if (reason && streq(json_object_get_string(reason), "refused"))
                return error_text(link, IFACE ".LockRefused", "{\"message\":\"logind is not running\"}");
        json_object_object_get_ex(params, "forUSec", &duration);
        if (asprintf(&text, "{\"untilUSec\":%s,\"stored\":%s}",
                     duration ? "1764561200000000" : "null",
                     reason && streq(json_object_get_string(reason), "unstored") ? "false" : "true") < 0)
                return -ENOMEM;
        return reply_text(link, text);
}

/* Release, Reload: empty replies. */
static int vl_empty(Varlink *link, json_object *params, VarlinkMethodFlags flags, void *userdata) {
        if (enter(link, params, flags, true))
                return 0;
        return varlink_reply(link, NULL);
}

static int vl_empty_read(Varlink *link, json_object *params, VarlinkMethodFlags flags, void *userdata) {
        enter(link, params, flags, false);
        return varlink_reply(link, NULL);
}

static int vl_subscribe(Varlink *link, json_object *params, VarlinkMethodFlags flags, void *userdata) {
        int r;

        enter(link, params, flags, false);
        if (!(flags & VARLINK_METHOD_MORE))
                return varlink_error(link, VARLINK_ERROR_EXPECTED_MORE, NULL);
        r = notify_text(link, "{\"event\":{\"type\":\"phase\"," STAMP(4) "\"phase\":\"preparing\","
                              "\"cycleId\":\"fedcba9876543210fedcba9876543210\","
                              "\"message\":\"preparing; 2 TDs running; delay lock held\"}}");
        if (r >= 0)
                r = notify_text(link, "{\"event\":{\"type\":\"domain\"," STAMP(5)
                                      "\"cycleId\":\"fedcba9876543210fedcba9876543210\",\"domain\":{\"name\":\"td-web\","
                                      "\"uuid\":\"" UUID_WEB "\",\"state\":\"stop_pending\"}}}");
        if (r >= 0)
                r = notify_text(link, "{\"event\":{\"type\":\"cpus\"," STAMP(6)
                                      "\"message\":\"package 1 has no online CPU\"}}");
        return r;       /* no final reply: the stream stays open */
}

static void on_disconnect(VarlinkServer *server, Varlink *link, void *userdata) {
        if (link == hung)
                hung = varlink_unref(hung);
}

static int on_signal(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        return sd_event_exit(sd_event_source_get_event(s), 0);
}

static const struct {
        const char *name;
        varlink_method_t callback;
} methods[] = {
        { IFACE ".GetStatus",   vl_get_status   },
        { IFACE ".GetMetrics",  vl_get_metrics  },
        { IFACE ".ListDomains", vl_list_domains },
        { IFACE ".Plan",        vl_plan         },
        { IFACE ".Prepare",     vl_prepare      },
        { IFACE ".Resume",      vl_resume       },
        { IFACE ".Drain",       vl_drain        },
        { IFACE ".Restore",     vl_restore      },
        { IFACE ".Hold",        vl_hold         },
        { IFACE ".Release",     vl_empty        },
        { IFACE ".Reload",      vl_empty        },
        { IFACE ".Subscribe",   vl_subscribe    },
        { "io.systemd.service.Ping",        vl_empty_read },
        { "io.systemd.service.Reload",      vl_empty      },
        { "io.systemd.service.SetLogLevel", vl_empty      },
};

static int setup(sd_event *event, VarlinkServer **ret, const char *address) {
        _cleanup_(varlink_server_unrefp) VarlinkServer *server = NULL;
        int r;

        r = varlink_server_new(&server, VARLINK_SERVER_INHERIT_USERDATA);
        for (size_t i = 0; r >= 0 && i < ELEMENTSOF(methods); i++)
                r = varlink_server_bind_method(server, methods[i].name, methods[i].callback);
        if (r >= 0)
                r = varlink_server_bind_disconnect(server, on_disconnect);
        if (r >= 0)
                r = varlink_server_attach_event(server, event, 0);
        if (r >= 0)
                r = varlink_server_listen_address(server, address, 0666);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(server);
        return 0;
}

int main(int argc, char *argv[]) {
        _cleanup_(varlink_server_unrefp) VarlinkServer *server = NULL;
        sd_event *event = NULL;
        sigset_t mask;
        int r;

        deny = argc > 1 && streq(argv[1], "--deny");
        if (argc != 3 + deny) {
                fprintf(stderr, "Usage: %s [--deny] ADDRESS RECORD\n", argv[0]);
                return 2;
        }
        record_path = argv[2 + deny];
        record = fopen(record_path, "ae");
        if (!record) {
                fprintf(stderr, "fake-tdsleepd: %s: %s\n", argv[2 + deny], strerror(errno));
                return 1;
        }
        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        sigprocmask(SIG_BLOCK, &mask, NULL);

        r = sd_event_new(&event);
        if (r >= 0)
                r = sd_event_add_signal(event, NULL, SIGTERM, on_signal, NULL);
        if (r >= 0)
                r = sd_event_add_signal(event, NULL, SIGINT, on_signal, NULL);
        if (r >= 0)
                r = setup(event, &server, argv[1 + deny]);
        if (r >= 0)
                r = sd_event_loop(event);
        if (r < 0)
                fprintf(stderr, "fake-tdsleepd: %s\n", strerror(-r));
        hung = varlink_unref(hung);
        server = varlink_server_unref(server);
        sd_event_unref(event);
        fclose(record);
        return r < 0 ? 1 : 0;
}
