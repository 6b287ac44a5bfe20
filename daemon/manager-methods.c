/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The methods of io.tdsleep.Manager (IDL: io.tdsleep.Manager.varlink), except Subscribe
 * (manager-events.c). */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "classify.h"
#include "hold.h"
#include "log.h"
#include "manager-varlink-internal.h"
#include "manager.h"
#include "messages.h"
#include "text-util.h"

/* Drain's timeoutUSec: an hour is far beyond any shutdown; more is a mistake. */
#define DRAIN_TIMEOUT_MAX_USEC (3600 * USEC_PER_SEC)


int vl_get_status(Varlink *link, json_object *params, VarlinkMethodFlags flags, void *userdata) {
        _cleanup_(json_object_putp) json_object *reply = json_object_new_object();
        Manager *m = userdata;
        int r;

        r = method_begin(link, m, false, params, no_parameters, NULL);
        if (r < 0)
                return r;
        json_object_object_add(reply, "status", manager_status_json(m));
        return varlink_reply(link, reply);
}

int vl_list_domains(Varlink *link, json_object *params, VarlinkMethodFlags flags, void *userdata) {
        _cleanup_(json_object_putp) json_object *reply = json_object_new_object();
        json_object *a = json_object_new_array();
        Manager *m = userdata;
        Domain **domains;
        size_t n;
        int r;

        json_object_object_add(reply, "domains", a);
        r = method_begin(link, m, false, params, no_parameters, NULL);
        if (r < 0)
                return r;
        n = virt_domains(m->virt, &domains);
        for (size_t i = 0; i < n; i++)
                json_object_array_add(a, manager_domain_json(m, domains[i]));
        return varlink_reply(link, reply);
}

int vl_plan(Varlink *link, json_object *params, VarlinkMethodFlags flags, void *userdata) {
        static const VarlinkDispatchField table[] = {
                { "operation", json_type_string, varlink_dispatch_const_string, 0, VARLINK_DISPATCH_MANDATORY },
                { NULL, json_type_null, NULL, 0, 0 },
        };
        _cleanup_(json_object_putp) json_object *reply = NULL;
        Manager *m = userdata;
        const char *operation = NULL;
        int r;

        r = method_begin(link, m, false, params, table, &operation);
        if (r < 0)
                return r;
        r = manager_plan_json(m, operation, &reply);
        if (r == -EINVAL)
                return varlink_error_invalid_parameter(link, "operation");
        if (r < 0)
                return varlink_error_errno(link, r);
        return varlink_reply(link, reply);
}

/* Wait for the cycle to be ready: complete_waiters() answers, now or later. Registered
 * before the cycle moves, so a caller with more sees every progress event. */
static int add_waiter(Varlink *link, Manager *m, WaiterKind kind, VarlinkMethodFlags flags) {
        int r;

        /* A oneway caller wants no answer: registering it would send one later, as the
         * final reply of whatever call that connection makes next. */
        if (flags & VARLINK_METHOD_ONEWAY)
                return 0;
        r = callers_add(&m->varlink->waiters, link, kind, flags & VARLINK_METHOD_MORE);
        return r < 0 ? varlink_error_errno(link, r) : 0;
}

typedef struct PrepareParameters {
        const char *operation;
        const char *step;
} PrepareParameters;

int vl_prepare(Varlink *link, json_object *params, VarlinkMethodFlags flags, void *userdata) {
        static const VarlinkDispatchField table[] = {
                { "operation", json_type_string, varlink_dispatch_const_string, offsetof(PrepareParameters, operation),
                  VARLINK_DISPATCH_MANDATORY },
                { "step", json_type_string, varlink_dispatch_const_string, offsetof(PrepareParameters, step),
                  VARLINK_DISPATCH_NULLABLE },
                { NULL, json_type_null, NULL, 0, 0 },
        };
        PrepareParameters p = { NULL, NULL };
        Manager *m = userdata;
        SleepStep op, step;
        int r;

        r = method_begin(link, m, true, params, table, &p);
        if (r < 0)
                return r;
        if (manager_parse_step(p.operation, &op) < 0)
                return varlink_error_invalid_parameter(link, "operation");
        if (manager_parse_step(p.step ? p.step : p.operation, &step) < 0)
                return varlink_error_invalid_parameter(link, "step");
        log_info("Prepare(%s, %s) from the control socket", p.operation, sleep_step_to_string(step));
        r = add_waiter(link, m, WAITER_PREPARE, flags);
        if (r < 0)
                return r;
        cycle_prepare(m->cycle, step);
        complete_waiters(m);    /* already ready: answer now */
        return 0;
}

static int reply_phase(Varlink *link, Manager *m) {
        _cleanup_(json_object_putp) json_object *reply = json_object_new_object();

        json_object_object_add(reply, "phase", json_object_new_string(cycle_phase_to_string(cycle_phase(m->cycle))));
        return varlink_reply(link, reply);
}

static int reply_busy(Varlink *link, Manager *m) {
        _cleanup_(json_object_putp) json_object *params = json_object_new_object();

        json_object_object_add(params, "phase", json_object_new_string(cycle_phase_to_string(cycle_phase(m->cycle))));
        return varlink_error(link, IFACE ".Busy", params);
}

int vl_resume(Varlink *link, json_object *params, VarlinkMethodFlags flags, void *userdata) {
        Manager *m = userdata;
        int r;

        r = method_begin(link, m, true, params, no_parameters, NULL);
        if (r < 0)
                return r;
        log_info("Resume() from the control socket");
        cycle_sleep_over(m->cycle);
        return reply_phase(link, m);
}

static int reply_libvirt_unavailable(Varlink *link, Manager *m) {
        _cleanup_(json_object_putp) json_object *params = json_object_new_object();

        json_object_object_add(params, "uri", json_object_new_string(manager_libvirt_uri(m)));
        return varlink_error(link, IFACE ".LibvirtUnavailable", params);
}

int vl_drain(Varlink *link, json_object *params, VarlinkMethodFlags flags, void *userdata) {
        static const VarlinkDispatchField table[] = {
                { "timeoutUSec", json_type_int, varlink_dispatch_uint64, 0, VARLINK_DISPATCH_NULLABLE },
                { NULL, json_type_null, NULL, 0, 0 },
        };
        Manager *m = userdata;
        uint64_t timeout = 0;
        int r;

        r = method_begin(link, m, true, params, table, &timeout);
        if (r < 0)
                return r;
        if (timeout > DRAIN_TIMEOUT_MAX_USEC)
                return varlink_error_invalid_parameter(link, "timeoutUSec");
        if (cycle_phase(m->cycle) != CYCLE_PHASE_IDLE)
                return reply_busy(link, m);
        if (!virt_is_connected(m->virt))
                return reply_libvirt_unavailable(link, m);
        log_info("Drain() from the control socket");
        r = add_waiter(link, m, WAITER_DRAIN, flags);
        if (r < 0)
                return r;
        r = cycle_drain(m->cycle, timeout);
        if (r < 0) {
                callers_remove(&m->varlink->waiters, link);
                return r == -ENOTCONN ? reply_libvirt_unavailable(link, m) : reply_busy(link, m);
        }
        complete_waiters(m);
        return 0;
}

int vl_restore(Varlink *link, json_object *params, VarlinkMethodFlags flags, void *userdata) {
        Manager *m = userdata;
        int r;

        r = method_begin(link, m, true, params, no_parameters, NULL);
        if (r < 0)
                return r;
        if (!virt_is_connected(m->virt))
                return reply_libvirt_unavailable(link, m);
        log_info("Restore() from the control socket");
        r = cycle_restore(m->cycle);
        if (r == -EBUSY)
                return reply_busy(link, m);
        if (r == -ENOTCONN)
                return reply_libvirt_unavailable(link, m);
        return reply_phase(link, m);    /* nothing drained (-ENOENT): nothing to do */
}

typedef struct HoldParameters {
        char *reason;
        uint64_t for_usec;
} HoldParameters;

int vl_hold(Varlink *link, json_object *params, VarlinkMethodFlags flags, void *userdata) {
        static const VarlinkDispatchField table[] = {
                { "reason", json_type_string, varlink_dispatch_string, offsetof(HoldParameters, reason),
                  VARLINK_DISPATCH_MANDATORY },
                { "forUSec", json_type_int, varlink_dispatch_uint64, offsetof(HoldParameters, for_usec),
                  VARLINK_DISPATCH_NULLABLE },
                { NULL, json_type_null, NULL, 0, 0 },
        };
        _cleanup_(freep) char *escaped = NULL, *reason_field = NULL;
        _cleanup_(hold_freep) Hold *hold = NULL;
        HoldParameters p = { NULL, 0 };
        json_object *duration = NULL;
        Manager *m = userdata;
        int r;

        r = method_begin(link, m, true, params, table, &p);
        _cleanup_(freep) char *reason = p.reason;
        if (r < 0)
                return r;
        if (!text_is_printable(reason, HOLD_REASON_MAX))
                return varlink_error_invalid_parameter(link, "reason");
        /* Given and 0 is no duration at all: refused, as is one beyond a year. */
        if (json_object_object_get_ex(params, "forUSec", &duration) && duration &&
            (p.for_usec == 0 || p.for_usec > HOLD_DURATION_MAX_USEC))
                return varlink_error_invalid_parameter(link, "forUSec");
        r = hold_new(link, reason, p.for_usec, &hold);
        if (r < 0)
                return varlink_error_errno(link, r);
        escaped = text_escape(reason);
        if (!escaped)
                return varlink_error_errno(link, -ENOMEM);
        if (asprintf(&reason_field, "TDSLEEP_HOLD_REASON=%s", escaped) < 0)
                reason_field = NULL;    /* the entry goes without it */
        log_struct(LOG_NOTICE, ((const char *[]) { MESSAGE_HOLD, reason_field, NULL }),
                   "Hold(\"%s\") from the control socket: refusing sleep until Release", escaped);
        /* A oneway caller gets no answer: keeping its link would send one later, as the
         * final reply of whatever it calls next. */
        r = hold_request_start(m, (flags & VARLINK_METHOD_ONEWAY) ? NULL : link, TAKE_PTR(hold));
        return r < 0 ? varlink_error_errno(link, r) : 0;
}

int vl_release(Varlink *link, json_object *params, VarlinkMethodFlags flags, void *userdata) {
        Manager *m = userdata;
        int r;

        r = method_begin(link, m, true, params, no_parameters, NULL);
        if (r < 0)
                return r;
        if (m->hold)
                log_struct(LOG_NOTICE, ((const char *[]) { MESSAGE_RELEASE, NULL }),
                           "Release() from the control socket: the operator's hold is gone");
        hold_release(m);
        return varlink_reply(link, NULL);
}

int vl_reload(Varlink *link, json_object *params, VarlinkMethodFlags flags, void *userdata) {
        _cleanup_(json_object_putp) json_object *error_params = json_object_new_object();
        _cleanup_(freep) char *error = NULL;
        Manager *m = userdata;
        int r;

        r = method_begin(link, m, true, params, no_parameters, NULL);
        if (r < 0)
                return r;
        if (manager_reload(m, &error) < 0) {
                json_object_object_add(error_params, "message", manager_json_string_or_null(error));
                return varlink_error(link, IFACE ".InvalidConfiguration", error_params);
        }
        return varlink_reply(link, NULL);
}
