/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Dropping a connection: unregistering its close callback and deregistering its event
 * callbacks are RPCs (libvirtd is told), and so may be closing it; all run on a worker.
 * The loop forgets the connection at once: events it still delivers until its callbacks
 * are gone are ignored (virt_is_dropping), and a close it still reports is checked
 * against the connection in use (on_closed asks whether that one is alive). */

#include <libvirt/libvirt.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "virt-internal.h"

typedef struct DropJob {
        ExecutorJob job;                /* first: the executor hands back &job */
        Virt *v;                        /* loop thread only */
        virConnectPtr conn;             /* the reference being dropped; compared, once run */
        int lifecycle_id, metadata_id;
} DropJob;

/* On a worker. */
static void drop_run(ExecutorJob *j) {
        DropJob *q = (DropJob *) j;

        (void) virConnectUnregisterCloseCallback(q->conn, on_close);
        if (q->lifecycle_id >= 0)
                (void) virConnectDomainEventDeregisterAny(q->conn, q->lifecycle_id);
        if (q->metadata_id >= 0)
                (void) virConnectDomainEventDeregisterAny(q->conn, q->metadata_id);
        virConnectClose(q->conn);
}

/* On the loop thread: its events cannot come any more. (The executor completes every
 * job it took before it goes: see manager_free.) */
static void drop_done(ExecutorJob *j) {
        DropJob *q = (DropJob *) j;
        Virt *v = q->v;

        for (size_t i = 0; i < v->n_dropping; i++)
                if (v->dropping[i] == q->conn) {
                        v->dropping[i] = v->dropping[--v->n_dropping];
                        break;
                }
        free(q);
}

bool virt_is_dropping(const Virt *v, virConnectPtr conn) {
        for (size_t i = 0; i < v->n_dropping; i++)
                if (v->dropping[i] == conn)
                        return true;
        return false;
}

void virt_submit_drop(Virt *v, virConnectPtr conn, int lifecycle_id, int metadata_id) {
        virConnectPtr *a = reallocarray(v->dropping, v->n_dropping + 1, sizeof(virConnectPtr));
        DropJob *q = calloc(1, sizeof(DropJob));

        if (a)
                v->dropping = a;
        if (!a || !q) {
                /* Out of memory: dropped here, on the loop thread, as it used to be. */
                DropJob now = { .conn = conn, .lifecycle_id = lifecycle_id, .metadata_id = metadata_id };

                log_error("Out of memory handing a libvirt connection to a worker: dropping it here");
                free(q);
                drop_run(&now.job);
                return;
        }
        *q = (DropJob) {
                .job = { .run = drop_run, .done = drop_done },
                .v = v,
                .conn = conn,
                .lifecycle_id = lifecycle_id,
                .metadata_id = metadata_id,
        };
        v->dropping[v->n_dropping++] = conn;
        executor_submit(v->executor, &q->job);
}
