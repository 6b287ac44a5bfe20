/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <grp.h>
#include <malloc.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "build-config.h"
#include "classify.h"
#include "log.h"
#include "manager.h"
#include "varlink.h"

/* The IDL, embedded at build time from io.tdsleep.Manager.varlink. */
extern const char manager_varlink_idl[];

#define IFACE "io.tdsleep.Manager"

typedef enum WaiterKind {
        WAITER_PREPARE,
        WAITER_DRAIN,
} WaiterKind;

/* A Prepare or Drain call waiting for the cycle to be ready; or a subscriber. */
typedef struct Caller {
        Varlink *link;
        WaiterKind kind;
        bool more;
        struct Caller *next;
} Caller;

typedef struct ManagerVarlink {
        VarlinkServer *server;
        Caller *waiters;
        Caller *subscribers;
        gid_t group;
        bool have_group;
} ManagerVarlink;

bool manager_has_control_socket(const Manager *m) {
        return m->varlink != NULL;
}

VarlinkServer *manager_varlink_server(Manager *m) {
        return m->varlink ? m->varlink->server : NULL;
}

/* ---- callers ---- */

static void callers_remove(Caller **list, Varlink *link) {
        for (Caller **p = list; *p;) {
                Caller *c = *p;

                if (c->link == link) {
                        *p = c->next;
                        varlink_unref(c->link);
                        free(c);
                } else
                        p = &c->next;
        }
}

static int callers_add(Caller **list, Varlink *link, WaiterKind kind, bool more) {
        Caller *c = calloc(1, sizeof(Caller));

        if (!c)
                return -ENOMEM;
        c->link = varlink_ref(link);
        c->kind = kind;
        c->more = more;
        c->next = *list;
        *list = c;
        return 0;
}

static void callers_free(Caller **list) {
        while (*list) {
                Caller *c = *list;

                *list = c->next;
                varlink_unref(c->link);
                free(c);
        }
}

static void on_disconnect(VarlinkServer *s, Varlink *link, void *userdata) {
        Manager *m = userdata;

        if (!m->varlink)
                return;
        callers_remove(&m->varlink->waiters, link);
        callers_remove(&m->varlink->subscribers, link);
        /* A dropped slow reader may leave megabytes of freed output buffer in the heap:
         * give them back, so memory returns to where it was. */
        (void) malloc_trim(0);
}

/* ---- who may call what ---- */

/* Is the peer in group g, as primary or supplementary group? SO_PEERCRED only has
 * the primary one; /proc/PID/status lists the rest. */
static bool peer_in_group(Varlink *link, gid_t g) {
        _cleanup_(fclosep) FILE *f = NULL;
        char path[64], line[4096];
        gid_t gid;
        pid_t pid;

        if (varlink_get_peer_gid(link, &gid) >= 0 && gid == g)
                return true;
        if (varlink_get_peer_pid(link, &pid) < 0)
                return false;
        snprintf(path, sizeof path, "/proc/%d/status", (int) pid);
        f = fopen(path, "re");
        while (f && fgets(line, sizeof line, f))
                if (strncmp(line, "Groups:", 7) == 0)
                        for (char *t = strtok(line + 7, " \t\n"); t; t = strtok(NULL, " \t\n"))
                                if ((gid_t) strtoul(t, NULL, 10) == g)
                                        return true;
        return false;
}

/* Reads: root and SocketGroup=. Changes: root only. Replies PermissionDenied otherwise. */
static int verify_caller(Varlink *link, Manager *m, bool change) {
        uid_t uid;

        if (varlink_get_peer_uid(link, &uid) >= 0 && uid == 0)
                return 0;
        if (!change && m->varlink->have_group && peer_in_group(link, m->varlink->group))
                return 0;
        (void) varlink_error(link, IFACE ".PermissionDenied", NULL);
        return -EPERM;
}

/* Every method starts here: check the caller, then the parameters (each replies on failure). */
static int method_begin(Varlink *link, Manager *m, bool change, json_object *params,
                        const VarlinkDispatchField table[], void *userdata) {
        int r = verify_caller(link, m, change);

        return r < 0 ? r : varlink_dispatch(link, params, table, userdata);
}

static json_object *event_new(const char *type) {
        json_object *o = json_object_new_object();

        json_object_object_add(o, "type", json_object_new_string(type));
        return o;
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
static void emit(Manager *m, json_object *event) {
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
static void complete_waiters(Manager *m) {
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

        manager_update_status(m);
        if (!m->varlink)
                return;
        e = event_new("phase");
        json_object_object_add(e, "phase", json_object_new_string(cycle_phase_to_string(cycle_phase(m->cycle))));
        emit(m, e);
        complete_waiters(m);
}

void manager_on_cycle_domain(Manager *m, const char *name, const char *uuid, const char *state) {
        json_object *e;

        if (!m->varlink)
                return;
        e = event_new("domain");
        json_object_object_add(e, "domain", manager_cycle_domain_json(name, uuid, state));
        emit(m, e);
}

void manager_on_status_event(Manager *m, const char *status) {
        json_object *e;

        if (!m->varlink)
                return;
        e = event_new("status");
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
        e = event_new("cpus");
        json_object_object_add(e, "message", manager_json_string_or_null(message));
        emit(m, e);
}

/* ---- methods ---- */

static const VarlinkDispatchField no_parameters[] = { { NULL, json_type_null, NULL, 0, 0 } };

static int vl_get_status(Varlink *link, json_object *params, VarlinkMethodFlags flags, void *userdata) {
        _cleanup_(json_object_putp) json_object *reply = json_object_new_object();
        Manager *m = userdata;
        int r;

        r = method_begin(link, m, false, params, no_parameters, NULL);
        if (r < 0)
                return r;
        json_object_object_add(reply, "status", manager_status_json(m));
        return varlink_reply(link, reply);
}

static int vl_list_domains(Varlink *link, json_object *params, VarlinkMethodFlags flags, void *userdata) {
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

static int vl_plan(Varlink *link, json_object *params, VarlinkMethodFlags flags, void *userdata) {
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
        int r = callers_add(&m->varlink->waiters, link, kind, flags & VARLINK_METHOD_MORE);

        return r < 0 ? varlink_error_errno(link, r) : 0;
}

typedef struct PrepareParameters {
        const char *operation;
        const char *step;
} PrepareParameters;

static int vl_prepare(Varlink *link, json_object *params, VarlinkMethodFlags flags, void *userdata) {
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

static int vl_resume(Varlink *link, json_object *params, VarlinkMethodFlags flags, void *userdata) {
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

static int vl_drain(Varlink *link, json_object *params, VarlinkMethodFlags flags, void *userdata) {
        static const VarlinkDispatchField table[] = {
                { "timeout", json_type_double, varlink_dispatch_double, 0, VARLINK_DISPATCH_NULLABLE },
                { NULL, json_type_null, NULL, 0, 0 },
        };
        Manager *m = userdata;
        double timeout = 0;
        int r;

        r = method_begin(link, m, true, params, table, &timeout);
        if (r < 0)
                return r;
        if (timeout < 0 || timeout > 3600)
                return varlink_error_invalid_parameter(link, "timeout");
        if (cycle_phase(m->cycle) != CYCLE_PHASE_IDLE)
                return reply_busy(link, m);
        if (!virt_is_connected(m->virt))
                return reply_libvirt_unavailable(link, m);
        log_info("Drain() from the control socket");
        r = add_waiter(link, m, WAITER_DRAIN, flags);
        if (r < 0)
                return r;
        r = cycle_drain(m->cycle, (uint64_t) (timeout * USEC_PER_SEC));
        if (r < 0) {
                callers_remove(&m->varlink->waiters, link);
                return r == -ENOTCONN ? reply_libvirt_unavailable(link, m) : reply_busy(link, m);
        }
        complete_waiters(m);
        return 0;
}

static int vl_restore(Varlink *link, json_object *params, VarlinkMethodFlags flags, void *userdata) {
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

static int vl_hold(Varlink *link, json_object *params, VarlinkMethodFlags flags, void *userdata) {
        static const VarlinkDispatchField table[] = {
                { "reason", json_type_string, varlink_dispatch_string, 0, VARLINK_DISPATCH_MANDATORY },
                { NULL, json_type_null, NULL, 0, 0 },
        };
        _cleanup_(freep) char *reason = NULL;
        Manager *m = userdata;
        int r;

        r = method_begin(link, m, true, params, table, &reason);
        if (r < 0)
                return r;
        if (isempty(reason) || strlen(reason) > 512)
                return varlink_error_invalid_parameter(link, "reason");
        log_notice("Hold(\"%s\") from the control socket: refusing sleep until Release", reason);
        free(m->hold_reason);
        m->hold_reason = TAKE_PTR(reason);
        manager_refresh_block_lock(m);
        return varlink_reply(link, NULL);
}

static int vl_release(Varlink *link, json_object *params, VarlinkMethodFlags flags, void *userdata) {
        Manager *m = userdata;
        int r;

        r = method_begin(link, m, true, params, no_parameters, NULL);
        if (r < 0)
                return r;
        if (m->hold_reason)
                log_notice("Release() from the control socket: the operator's hold is gone");
        m->hold_reason = mfree(m->hold_reason);
        manager_refresh_block_lock(m);
        return varlink_reply(link, NULL);
}

static int vl_reload(Varlink *link, json_object *params, VarlinkMethodFlags flags, void *userdata) {
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

static int vl_subscribe(Varlink *link, json_object *params, VarlinkMethodFlags flags, void *userdata) {
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
        /* Start this stream (only this one) with where we stand. */
        e = event_new("phase");
        json_object_object_add(e, "phase", json_object_new_string(cycle_phase_to_string(cycle_phase(m->cycle))));
        json_object_object_add(e, "message", manager_json_string_or_null(m->last_status ? m->last_status + strlen("STATUS=") : NULL));
        first = json_object_new_object();
        json_object_object_add(first, "event", e);
        (void) varlink_notify(link, first);
        return 0;
}

/* ---- the server ---- */

static const struct {
        const char *name;
        varlink_method_t callback;
} methods[] = {
        { IFACE ".GetStatus",   vl_get_status   },
        { IFACE ".ListDomains", vl_list_domains },
        { IFACE ".Plan",        vl_plan         },
        { IFACE ".Prepare",     vl_prepare      },
        { IFACE ".Resume",      vl_resume       },
        { IFACE ".Drain",       vl_drain        },
        { IFACE ".Restore",     vl_restore      },
        { IFACE ".Hold",        vl_hold         },
        { IFACE ".Release",     vl_release      },
        { IFACE ".Reload",      vl_reload       },
        { IFACE ".Subscribe",   vl_subscribe    },
};

static int server_setup(Manager *m, VarlinkServer *s) {
        int r;

        r = varlink_server_set_info(s, "tdsleep", "tdsleepd", PACKAGE_VERSION, "https://tdsleep.invalid");
        if (r >= 0)
                r = varlink_server_add_interface(s, IFACE, manager_varlink_idl);
        for (size_t i = 0; r >= 0 && i < ELEMENTSOF(methods); i++)
                r = varlink_server_bind_method(s, methods[i].name, methods[i].callback);
        if (r >= 0)
                r = varlink_server_bind_disconnect(s, on_disconnect);
        if (r >= 0)
                r = varlink_server_attach_event(s, m->event, SD_EVENT_PRIORITY_NORMAL);
        varlink_server_set_userdata(s, m);
        return r;
}

/* Bind the socket ourselves (no socket unit): mode 0660, group SocketGroup=. */
static int server_bind(Manager *m, VarlinkServer *s) {
        _cleanup_(freep) char *dir = strdup(m->socket_path);
        char *slash = dir ? strrchr(dir, '/') : NULL;
        int r;

        if (!dir)
                return -ENOMEM;
        if (slash && slash != dir) {
                *slash = '\0';
                (void) mkdir(dir, 0755);
        }
        r = varlink_server_listen_address(s, m->socket_path, 0660);
        if (r < 0)
                return r;
        if (m->varlink->have_group && chown(m->socket_path, 0, m->varlink->group) < 0)
                log_warning("Failed to give %s to group %s: %s", m->socket_path, m->config.socket_group, strerror(errno));
        return 0;
}

int manager_varlink_start(Manager *m) {
        _cleanup_(varlink_server_unrefp) VarlinkServer *s = NULL;
        struct group *g = getgrnam(m->config.socket_group);
        int r;

        m->varlink = calloc(1, sizeof(ManagerVarlink));
        if (!m->varlink)
                return log_error_errno(-ENOMEM, "Out of memory");
        if (g) {
                m->varlink->group = g->gr_gid;
                m->varlink->have_group = true;
        } else
                log_warning("Group %s (SocketGroup=) does not exist: only root may use the control socket",
                            m->config.socket_group);
        r = varlink_server_new(&s, VARLINK_SERVER_INHERIT_USERDATA);
        if (r >= 0)
                r = server_setup(m, s);
        if (r >= 0)
                r = m->listen_fd >= 0 ? varlink_server_listen_fd(s, TAKE_FD(m->listen_fd)) : server_bind(m, s);
        if (r < 0) {
                m->varlink = mfree(m->varlink);
                return log_error_errno(r, "Failed to set up the control socket %s: %s", m->socket_path, STRERROR(r));
        }
        m->varlink->server = TAKE_PTR(s);
        log_info("Control socket: %s", m->socket_path);
        return 0;
}

void manager_varlink_free(Manager *m) {
        if (!m->varlink)
                return;
        callers_free(&m->varlink->waiters);
        callers_free(&m->varlink->subscribers);
        varlink_server_unref(m->varlink->server);
        m->varlink = mfree(m->varlink);
}
