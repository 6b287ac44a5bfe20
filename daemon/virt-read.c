/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Events that need a domain read first: a domain seen for the first time (its state,
 * persistence and XML), a redefinition or a metadata change (its XML again). The read
 * runs on a worker, never on the loop thread (a stopped libvirtd would stop the loop).
 * Events are applied to the table in the order libvirt sent them: while a read is
 * outstanding, every later event waits behind it in one queue; the reads themselves run
 * in parallel. The queue belongs to one connection: dropping it drops the queue. */

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "virt-internal.h"

struct DomainRead {
        ExecutorJob job;                /* first: the executor hands back &job */
        Virt *v;                        /* NULL: orphaned (its connection was dropped) */
        virConnectPtr conn;             /* a reference, dropped on the worker */
        virDomainPtr dom;               /* a reference */
        int event, detail;              /* event < 0: a metadata change */
        bool needs_read;
        bool done;                      /* needs no read, or its read is back */
        bool ran;
        DomainFacts facts;
        char error[512];
        DomainRead *next;
};

static DomainRead *read_free(DomainRead *r) {
        if (r) {
                if (r->conn)
                        virConnectClose(r->conn);
                if (r->dom)
                        virDomainFree(r->dom);
                free(r->facts.xml);
                free(r);
        }
        return NULL;
}

/* ---- on a worker ---- */

static void read_run(ExecutorJob *j) {
        DomainRead *r = (DomainRead *) j;

        r->ran = true;
        r->facts.active = virDomainIsActive(r->dom) == 1;
        r->facts.persistent = virDomainIsPersistent(r->dom) == 1;
        r->facts.xml = virDomainGetXMLDesc(r->dom, 0);
        if (!r->facts.xml) {
                (void) errno_from_libvirt(r->conn);
                snprintf(r->error, sizeof r->error, "%s", virt_last_error());
        }
        /* The last reference of a dropped connection may take a while to go. */
        virConnectClose(r->conn);
        r->conn = NULL;
}

/* ---- on the loop thread ---- */

/* Apply what is ready at the head of the queue, in order. */
static void reads_drain(Virt *v) {
        while (v->reads && v->reads->done) {
                DomainRead *r = v->reads;

                v->reads = r->next;
                if (!v->reads)
                        v->reads_tail = &v->reads;
                if (r->needs_read && !r->ran)
                        snprintf(r->error, sizeof r->error, "tdsleepd is exiting");
                r->facts.error = r->error;
                virt_apply_event(v, r->dom, r->event, r->detail, r->needs_read ? &r->facts : NULL);
                read_free(r);
        }
}

static void read_done(ExecutorJob *j) {
        DomainRead *r = (DomainRead *) j;

        if (!r->v) {
                read_free(r);
                return;
        }
        r->done = true;
        reads_drain(r->v);
}

/* Will the table know the domain when this event's turn comes? Not if an event queued
 * before it may remove it (a transient one that stopped, an undefined one): then it is
 * read like a new one. */
static bool known_when_applied(Virt *v, virDomainPtr dom) {
        char uuid[VIR_UUID_STRING_BUFLEN], other[VIR_UUID_STRING_BUFLEN];

        if (virDomainGetUUIDString(dom, uuid) < 0 || !virt_find_domain(v, uuid))
                return false;
        for (DomainRead *r = v->reads; r; r = r->next)
                if (IN_SET(r->event, VIR_DOMAIN_EVENT_STOPPED, VIR_DOMAIN_EVENT_UNDEFINED) &&
                    virDomainGetUUIDString(r->dom, other) >= 0 && streq(uuid, other))
                        return false;
        return true;
}

void virt_event_arrived(Virt *v, virDomainPtr dom, int event, int detail) {
        bool needs_read = event < 0 || event == VIR_DOMAIN_EVENT_DEFINED || !known_when_applied(v, dom);
        DomainRead *r;

        if (!v->reads && !needs_read) {
                virt_apply_event(v, dom, event, detail, NULL);
                return;
        }
        r = calloc(1, sizeof(DomainRead));
        if (!r) {
                log_error("Out of memory keeping a libvirt event: reading the table again");
                virt_reconnect(v);
                return;
        }
        (void) virDomainRef(dom);
        if (needs_read)
                (void) virConnectRef(v->conn);
        *r = (DomainRead) {
                .job = { .run = read_run, .done = read_done },
                .v = v,
                .conn = needs_read ? v->conn : NULL,
                .dom = dom,
                .event = event,
                .detail = detail,
                .needs_read = needs_read,
                .done = !needs_read,
        };
        *v->reads_tail = r;
        v->reads_tail = &r->next;
        if (needs_read)
                executor_submit(v->executor, &r->job);
}

/* The connection is dropped: its events are gone with it (the next one lists afresh).
 * A read still on a worker frees itself when it comes back. */
void virt_drop_reads(Virt *v) {
        DomainRead *r = v->reads;

        v->reads = NULL;
        v->reads_tail = &v->reads;
        while (r) {
                DomainRead *next = r->next;

                if (r->done)
                        read_free(r);
                else
                        r->v = NULL;
                r = next;
        }
}
