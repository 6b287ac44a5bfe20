/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <grp.h>
#include <malloc.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "build-config.h"
#include "classify.h"
#include "hold.h"
#include "log.h"
#include "manager-socket.h"
#include "manager-varlink-internal.h"
#include "manager.h"
#include "text-util.h"
#include "varlink.h"

/* The IDLs, embedded at build time from io.tdsleep.Manager.varlink and
 * io.systemd.service.varlink. */
extern const char manager_varlink_idl[];
extern const char service_varlink_idl[];


bool manager_has_control_socket(const Manager *m) {
        return m->varlink != NULL;
}

VarlinkServer *manager_varlink_server(Manager *m) {
        return m->varlink ? m->varlink->server : NULL;
}

/* ---- callers ---- */

void callers_remove(Caller **list, Varlink *link) {
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

int callers_add(Caller **list, Varlink *link, WaiterKind kind, bool more) {
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
        /* A Hold whose caller left still gets its lock; there is just no one to tell. */
        /* A dropped slow reader may leave megabytes of freed output buffer in the heap:
         * give them back, so memory returns to where it was. */
        (void) malloc_trim(0);
}

/* ---- who may call what ---- */

/* Reads: root and SocketGroup=. Changes: root only. Replies PermissionDenied otherwise. */
static int verify_caller(Varlink *link, Manager *m, bool change) {
        uid_t uid;

        if (varlink_get_peer_uid(link, &uid) >= 0 && uid == 0)
                return 0;
        if (!change && m->varlink->have_group && varlink_peer_in_group(link, m->varlink->group))
                return 0;
        (void) varlink_error(link, VARLINK_ERROR_PERMISSION_DENIED, NULL);
        return -EPERM;
}

int method_begin(Varlink *link, Manager *m, bool change, json_object *params,
                        const VarlinkDispatchField table[], void *userdata) {
        int r = verify_caller(link, m, change);

        if (r < 0)
                return r;
        if (change)     /* Prepare, Resume, Drain, Restore, Reload, Hold: maybe a new step */
                manager_kernel_picture_stale(m);
        return varlink_dispatch(link, params, table, userdata);
}

const VarlinkDispatchField no_parameters[] = { { NULL, json_type_null, NULL, 0, 0 } };

/* ---- the server ---- */

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
        { IFACE ".Release",     vl_release      },
        { IFACE ".Reload",      vl_reload       },
        { IFACE ".Subscribe",   vl_subscribe    },
        { SERVICE_IFACE ".Ping",        vl_service_ping          },
        { SERVICE_IFACE ".Reload",      vl_reload                },
        { SERVICE_IFACE ".SetLogLevel", vl_service_set_log_level },
};

static int server_setup(Manager *m, VarlinkServer *s) {
        int r;

        r = varlink_server_set_info(s, "tdsleep", "tdsleepd", PACKAGE_VERSION, PACKAGE_URL);
        if (r >= 0)
                r = varlink_server_add_interface(s, IFACE, manager_varlink_idl);
        if (r >= 0)
                r = varlink_server_add_interface(s, SERVICE_IFACE, service_varlink_idl);
        for (size_t i = 0; r >= 0 && i < ELEMENTSOF(methods); i++)
                r = varlink_server_bind_method(s, methods[i].name, methods[i].callback);
        if (r >= 0)
                r = varlink_server_bind_disconnect(s, on_disconnect);
        if (r >= 0)
                r = varlink_server_attach_event(s, m->event, SD_EVENT_PRIORITY_NORMAL);
        varlink_server_set_userdata(s, m);
        return r;
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
        if (r >= 0) {
                unsigned max = varlink_server_fit_rlimit(s);

                if (max > 0)
                        log_warning("RLIMIT_NOFILE is too low: serving at most %u control connections "
                                    "instead of %u (LimitNOFILE=)", max, VARLINK_DEFAULT_CONNECTIONS_MAX);
                r = server_setup(m, s);
        }
        if (r >= 0)
                r = m->listen_fd >= 0 ? varlink_server_listen_fd(s, TAKE_FD(m->listen_fd)) :
                        manager_bind_socket(m, s, m->varlink->have_group ? (int) m->varlink->group : -1);
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
        hold_request_free(m);
        varlink_server_unref(m->varlink->server);
        m->varlink = mfree(m->varlink);
}
