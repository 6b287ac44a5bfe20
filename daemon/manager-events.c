/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Events on the control socket: Subscribe streams, progress for Prepare/Drain calls made
 * with more, and the answer to waiting Prepare/Drain calls once the cycle is ready. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "manager-varlink-internal.h"
#include "manager.h"
#include "text-util.h"

static uint64_t clock_now_usec(clockid_t clock) {
        struct timespec ts;

        clock_gettime(clock, &ts);
        return (uint64_t) ts.tv_sec * USEC_PER_SEC + (uint64_t) ts.tv_nsec / NSEC_PER_USEC;
}

/* The cycle an event belongs to: the one in progress, or for the phase event that ends
 * a cycle (back to idle), the one that just ended. */
static const char *event_cycle_id(Manager *m, const char *type) {
        ManagerVarlink *v = m->varlink;
        const char *id = cycle_id(m->cycle);

        if (id) {
                snprintf(v->event_cycle_id, sizeof v->event_cycle_id, "%s", id);
                return id;
        }
        if (streq(type, "phase") && cycle_phase(m->cycle) == CYCLE_PHASE_IDLE && !isempty(v->event_cycle_id)) {
                snprintf(v->ended_cycle_id, sizeof v->ended_cycle_id, "%s", v->event_cycle_id);
                v->event_cycle_id[0] = '\0';
                return v->ended_cycle_id;
        }
        return NULL;
}

static json_object *event_stamped(Manager *m, const char *type, uint64_t sequence) {
        json_object *o = json_object_new_object();

        json_object_object_add(o, "type", json_object_new_string(type));
        json_object_object_add(o, "sequence", json_object_new_int64((int64_t) sequence));
        json_object_object_add(o, "realtimeUSec", json_object_new_int64((int64_t) clock_now_usec(CLOCK_REALTIME)));
        json_object_object_add(o, "monotonicUSec", json_object_new_int64((int64_t) clock_now_usec(CLOCK_MONOTONIC)));
        json_object_object_add(o, "cycleId", manager_json_string_or_null(event_cycle_id(m, type)));
        return o;
}

json_object *event_new(Manager *m, const char *type) {
        return event_stamped(m, type, ++m->varlink->sequence);
}

/* The links to notify, referenced: a notify may drop a slow reader, which edits the lists. */
static size_t listeners(Manager *m, Varlink ***ret) {
        size_t n = 0, k = 0;
        Varlink **a;

        for (Caller *c = m->varlink->subscribers; c; c = c->next)
                n++;
        for (Caller *c = m->varlink->waiters; c; c = c->next)
                n += c->more;
        a = calloc(n ? n : 1, sizeof(Varlink *));
        if (!a)
                return 0;
        for (Caller *c = m->varlink->subscribers; c; c = c->next)
                a[k++] = varlink_ref(c->link);
        for (Caller *c = m->varlink->waiters; c; c = c->next)
                if (c->more)
                        a[k++] = varlink_ref(c->link);
        *ret = a;
        return k;
}

/* Send event (consumed) to every subscriber and to Prepare/Drain calls made with more. */
void emit(Manager *m, json_object *event) {
        _cleanup_(json_object_putp) json_object *params = json_object_new_object();
        Varlink **links = NULL;
        size_t n;

        if (!m->varlink || !params) {
                json_object_put(event);
                return;
        }
        json_object_object_add(params, "event", event);
        n = listeners(m, &links);
        for (size_t i = 0; i < n; i++) {
                (void) varlink_notify(links[i], params);
                varlink_unref(links[i]);
        }
        free(links);
}

/* ---- events from the manager ---- */

static json_object *result_to_json(Manager *m, WaiterKind kind) {
        json_object *o = json_object_new_object();

        if (kind == WAITER_PREPARE)
                json_object_object_add(o, "phase", json_object_new_string(cycle_phase_to_string(cycle_phase(m->cycle))));
        json_object_object_add(o, "stopped", json_object_new_int((int) cycle_count(m->cycle, JOB_STOPPED)));
        json_object_object_add(o, "leftRunning", json_object_new_int((int) cycle_count(m->cycle, JOB_LEFT_RUNNING)));
        json_object_object_add(o, "failed", json_object_new_int((int) cycle_count(m->cycle, JOB_STOP_FAILED)));
        return o;
}

/* Ready: answer every waiting Prepare/Drain. Back to idle or resuming first: Aborted. */
void complete_waiters(Manager *m) {
        CyclePhase phase = cycle_phase(m->cycle);
        Caller *list;

        if (phase == CYCLE_PHASE_PREPARING)
                return;
        list = TAKE_PTR(m->varlink->waiters);
        while (list) {
                Caller *c = list;
                _cleanup_(json_object_putp) json_object *result = result_to_json(m, c->kind);

                list = c->next;
                if (phase == CYCLE_PHASE_READY)
                        (void) varlink_reply(c->link, result);
                else
                        (void) varlink_error(c->link, IFACE ".Aborted", NULL);
                varlink_unref(c->link);
                free(c);
        }
}

void manager_on_cycle_phase(Manager *m) {
        json_object *e;

        manager_metrics_changed(m);
        manager_kernel_picture_stale(m);        /* a new step */
        /* The phase event carries the new status line: no status event for this change. */
        manager_update_status_for_phase(m);
        if (cycle_phase(m->cycle) == CYCLE_PHASE_IDLE)
                manager_check_budget_soon(m);   /* the cycle's own stops and starts are over */
        if (m->virt && cycle_phase(m->cycle) != CYCLE_PHASE_RESUMING)
                virt_starts_over(m->virt);      /* (frees the workers' listings, if any) */
        if (!m->varlink)
                return;
        e = event_new(m, "phase");
        json_object_object_add(e, "phase", json_object_new_string(cycle_phase_to_string(cycle_phase(m->cycle))));
        json_object_object_add(e, "message", manager_json_string_or_null(manager_status_line(m)));
        emit(m, e);
        complete_waiters(m);
}

void manager_on_cycle_domain(Manager *m, const char *name, const char *uuid, const char *state) {
        json_object *e;

        manager_metrics_changed(m);
        if (!m->varlink)
                return;
        e = event_new(m, "domain");
        json_object_object_add(e, "domain", manager_cycle_domain_json(name, uuid, state));
        emit(m, e);
}

void manager_on_status_event(Manager *m, const char *status) {
        json_object *e;

        if (!m->varlink)
                return;
        e = event_new(m, "status");
        json_object_object_add(e, "message", json_object_new_string(status));
        emit(m, e);
}

void manager_on_cpus_event(Manager *m) {
        _cleanup_(freep) char *empty = NULL, *message = NULL;
        json_object *e;

        if (!m->varlink || !m->cpus)
                return;
        (void) cpu_picture_format_empty(cpus_picture(m->cpus), NULL, &empty);
        if (isempty(empty))
                message = strdup("every CPU package has an online CPU");
        else if (asprintf(&message, "CPU packages without an online CPU: %s", empty) < 0)
                message = NULL;
        e = event_new(m, "cpus");
        json_object_object_add(e, "message", manager_json_string_or_null(message));
        emit(m, e);
}

int vl_subscribe(Varlink *link, json_object *params, VarlinkMethodFlags flags, void *userdata) {
        _cleanup_(json_object_putp) json_object *first = NULL;
        Manager *m = userdata;
        json_object *e;
        int r;

        r = method_begin(link, m, false, params, no_parameters, NULL);
        if (r < 0)
                return r;
        if (!(flags & VARLINK_METHOD_MORE))
                return varlink_error(link, VARLINK_ERROR_EXPECTED_MORE, NULL);
        r = callers_add(&m->varlink->subscribers, link, WAITER_PREPARE, true);
        if (r < 0)
                return varlink_error_errno(link, r);
        /* Start this stream (only this one) with where we stand, numbered as the last
         * event sent: the next one follows on from it. */
        e = event_stamped(m, "phase", m->varlink->sequence);
        json_object_object_add(e, "phase", json_object_new_string(cycle_phase_to_string(cycle_phase(m->cycle))));
        json_object_object_add(e, "message", manager_json_string_or_null(manager_status_line(m)));
        first = json_object_new_object();
        json_object_object_add(first, "event", e);
        (void) varlink_notify(link, first);
        return 0;
}
