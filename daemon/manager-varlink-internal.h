/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Shared by the control socket's files: manager-varlink.c (the server, callers and who
 * may call what), manager-events.c (events and waiting Prepare/Drain calls) and
 * manager-methods.c (the methods). A new method: a vl_ function, its prototype here and
 * a row in manager-varlink.c's table. */

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "manager.h"
#include "varlink.h"

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
        uint64_t sequence;                      /* the last event's number */
        char event_cycle_id[ID128_STRING_MAX];  /* the cycle of the last event that had one */
        char ended_cycle_id[ID128_STRING_MAX];  /* the cycle a phase event to idle ended */
} ManagerVarlink;

extern const VarlinkDispatchField no_parameters[];

void callers_remove(Caller **list, Varlink *link);
int callers_add(Caller **list, Varlink *link, WaiterKind kind, bool more);

/* Every method starts here: check the caller, then the parameters (each replies on failure). */
int method_begin(Varlink *link, Manager *m, bool change, json_object *params,
                 const VarlinkDispatchField table[], void *userdata);

/* Events (manager-events.c). A new event of type, numbered (Event.sequence), timed and
 * with the cycle in progress; emit() sends it. */
json_object *event_new(Manager *m, const char *type);
void emit(Manager *m, json_object *event);
void complete_waiters(Manager *m);

/* Methods. */
int vl_get_metrics(Varlink *link, json_object *params, VarlinkMethodFlags flags, void *userdata);
int vl_get_status(Varlink *link, json_object *params, VarlinkMethodFlags flags, void *userdata);
int vl_list_domains(Varlink *link, json_object *params, VarlinkMethodFlags flags, void *userdata);
int vl_plan(Varlink *link, json_object *params, VarlinkMethodFlags flags, void *userdata);
int vl_prepare(Varlink *link, json_object *params, VarlinkMethodFlags flags, void *userdata);
int vl_resume(Varlink *link, json_object *params, VarlinkMethodFlags flags, void *userdata);
int vl_drain(Varlink *link, json_object *params, VarlinkMethodFlags flags, void *userdata);
int vl_restore(Varlink *link, json_object *params, VarlinkMethodFlags flags, void *userdata);
int vl_hold(Varlink *link, json_object *params, VarlinkMethodFlags flags, void *userdata);
int vl_release(Varlink *link, json_object *params, VarlinkMethodFlags flags, void *userdata);
int vl_reload(Varlink *link, json_object *params, VarlinkMethodFlags flags, void *userdata);
int vl_subscribe(Varlink *link, json_object *params, VarlinkMethodFlags flags, void *userdata);

/* io.systemd.service (manager-service.c); its Reload is vl_reload. */
#define SERVICE_IFACE "io.systemd.service"
int vl_service_ping(Varlink *link, json_object *params, VarlinkMethodFlags flags, void *userdata);
int vl_service_set_log_level(Varlink *link, json_object *params, VarlinkMethodFlags flags, void *userdata);
