/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The actions on one domain. shutdown, destroy, start and reading the XML run on the executor's workers:
 * the loop thread takes references to the connection and the domain, a worker makes the
 * RPCs (on a connection of its own when it has one: virt-pool.h; else on those), and
 * the loop thread gets the result. Only libvirt objects (whose reference counts and
 * calls libvirt makes thread-safe), the pool and the request itself cross threads. */

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "virt-internal.h"
#include "virt-pool.h"

typedef struct VirtRequest {
        ExecutorJob job;                /* first: the executor hands back &job */
        VirtAction action;
        VirtPool *pool;                 /* outlives the executor's jobs (virt_free) */
        uint64_t generation;            /* the main connection's, at submission */
        char pool_error[256];           /* a worker connection failed to open: why */
        virConnectPtr conn;             /* a reference of the request's own */
        virDomainPtr dom;               /* a reference, or NULL: looked up by uuid */
        char uuid[UUID_STRING_MAX];
        char *xml;                      /* start of a transient domain; what GET_XML read */
        bool persistent;
        int result;                     /* preset (< 0) by the loop thread: not run */
        char error[512];
        VirtActionDone done;
        void *userdata;
        uint64_t id;
} VirtRequest;

/* ---- on a worker ---- */

/* An action that failed as "operation invalid": libvirt says whether the domain runs. */
static int stop_failed(VirtRequest *q) {
        int r = errno_from_libvirt(q->conn);

        if (r == -EINVAL)
                r = virDomainIsActive(q->dom) == 0 ? -ESRCH : -EIO;
        return r;
}

static int start_transient(VirtRequest *q) {
        virDomainPtr dom = virDomainCreateXML(q->conn, q->xml, 0);
        int r;

        if (dom) {
                virDomainFree(dom);
                return 0;
        }
        r = errno_from_libvirt(q->conn);
        if (r == -ENOTCONN)
                return r;
        /* "already exists with uuid ...": only libvirt knows whether that one runs. */
        dom = virDomainLookupByUUIDString(q->conn, q->uuid);
        if (dom) {
                if (virDomainIsActive(dom) == 1)
                        r = -EALREADY;
                virDomainFree(dom);
        }
        return r == -EINVAL ? -EIO : r;
}

static int start_persistent(VirtRequest *q) {
        int r;

        if (virDomainCreate(q->dom) >= 0)
                return 0;
        r = errno_from_libvirt(q->conn);
        if (r == -EINVAL)       /* "domain is already running"? libvirt says */
                r = virDomainIsActive(q->dom) == 1 ? -EALREADY : -EIO;
        return r;
}

static int read_xml(VirtRequest *q) {
        int r;

        q->xml = virDomainGetXMLDesc(q->dom, VIR_DOMAIN_XML_SECURE | VIR_DOMAIN_XML_MIGRATABLE);
        if (!q->xml)    /* not every driver knows MIGRATABLE */
                q->xml = virDomainGetXMLDesc(q->dom, VIR_DOMAIN_XML_SECURE);
        if (q->xml)
                return 0;
        r = errno_from_libvirt(q->conn);
        return r == -EINVAL ? -EIO : r;
}

static int request_run_action(VirtRequest *q) {
        if (q->action == VIRT_ACTION_START && !q->persistent)
                return start_transient(q);
        if (!q->dom) {
                q->dom = virDomainLookupByUUIDString(q->conn, q->uuid);
                if (!q->dom)
                        return errno_from_libvirt(q->conn);
        }
        switch (q->action) {
        case VIRT_ACTION_SHUTDOWN:
                return virDomainShutdown(q->dom) < 0 ? stop_failed(q) : 0;
        case VIRT_ACTION_DESTROY:
                return virDomainDestroy(q->dom) < 0 ? stop_failed(q) : 0;
        case VIRT_ACTION_GET_XML:
                return read_xml(q);
        default:
                return start_persistent(q);
        }
}

/* The action on the worker's own connection c. A handle belongs to its connection: the
 * domain's is found in c's listing, else looked up there (one more RPC). */
static int request_run_on(VirtRequest *q, VirtPoolConn *c) {
        virConnectPtr main_conn = q->conn;
        virDomainPtr main_dom = q->dom;
        int r;

        q->conn = virt_pool_connection(c);
        q->dom = q->action == VIRT_ACTION_START && q->persistent ? virt_pool_find_domain(c, q->uuid) : NULL;
        r = request_run_action(q);
        if (q->dom)
                virDomainFree(q->dom);
        q->conn = main_conn;
        q->dom = main_dom;
        return r;
}

static void request_run(ExecutorJob *j) {
        VirtRequest *q = (VirtRequest *) j;
        VirtPoolConn *own;

        if (q->result < 0)
                return;
        /* Starts only: they are the calls that take long (seconds for a real guest) and
         * come many at once. A shutdown returns once the ACPI request is sent, a destroy
         * and an XML read soon too: on the main connection they cost one RPC each, where
         * an own connection would add a lookup (measured: 1,000 TDs prepared 86 ms over
         * the floor with every action on own connections, 8 ms on the main one). */
        own = q->action == VIRT_ACTION_START ?
                virt_pool_take(q->pool, q->generation, q->pool_error, sizeof q->pool_error) : NULL;
        if (own) {
                q->result = request_run_on(q, own);
                virt_pool_give(q->pool, own, q->generation);
        } else
                q->result = request_run_action(q);
        if (q->result < 0)
                snprintf(q->error, sizeof q->error, "%s", virt_last_error());
        /* Dropped here, not on the loop: the last reference of a closed connection may
         * take a while to go, and the loop thread must not wait for it. */
        if (q->dom)
                virDomainFree(q->dom);
        q->dom = NULL;
        virConnectClose(q->conn);
        q->conn = NULL;
}

/* ---- on the loop thread ---- */

static void request_done(ExecutorJob *j) {
        VirtRequest *q = (VirtRequest *) j;

        if (q->conn) {                  /* never run (the executor is going away) */
                q->result = -ENOTCONN;
                if (q->dom)
                        virDomainFree(q->dom);
                virConnectClose(q->conn);
        }
        if (q->pool_error[0])
                log_notice("Failed to open a worker's own connection to libvirt, using the main one: %s",
                           q->pool_error);
        q->done(q->userdata, q->id, q->result, q->result < 0 ? q->error : NULL,
                q->action == VIRT_ACTION_GET_XML && q->result >= 0 ? q->xml : NULL);
        free(q->xml);
        free(q);
}

int virt_submit_action(Virt *v, Executor *x, VirtAction action, const char *uuid, const char *xml,
                       bool persistent, VirtActionDone done, void *userdata, uint64_t id) {
        virConnectPtr conn = virt_connection(v);
        Domain *d = virt_find_domain(v, uuid);
        VirtRequest *q;

        if (!conn)
                return -ENOTCONN;
        if (action == VIRT_ACTION_START && !persistent && !xml)
                return -EINVAL;
        q = calloc(1, sizeof(VirtRequest));
        if (!q)
                return -ENOMEM;
        *q = (VirtRequest) {
                .job = { .run = request_run, .done = request_done },
                .action = action,
                .pool = v->pool,
                .generation = virt_pool_generation(v->pool),
                .persistent = persistent,
                .done = done,
                .userdata = userdata,
                .id = id,
        };
        snprintf(q->uuid, sizeof q->uuid, "%s", uuid);
        if (xml && !(q->xml = strdup(xml))) {
                free(q);
                return -ENOMEM;
        }
        if (virConnectRef(conn) == 0)
                q->conn = conn;
        if (d && d->handle && virDomainRef(d->handle) == 0)
                q->dom = d->handle;
        /* The table knows (from the events) whether it runs: no RPC to ask. */
        if (action == VIRT_ACTION_START && persistent && d && d->active) {
                q->result = -EALREADY;
                snprintf(q->error, sizeof q->error, "domain is already running");
        }
        if (!q->conn) {
                q->result = -ENOTCONN;
                snprintf(q->error, sizeof q->error, "no connection to libvirt");
        }
        executor_submit(x, &q->job);
        return 0;
}
