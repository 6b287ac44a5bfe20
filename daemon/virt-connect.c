/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Making the connection: on a worker of the executor (virConnectOpen, registering for
 * events, listing the domains with their state and XML are all RPCs that a stalled or
 * half-started libvirtd would make wait), then on the loop thread: the table built from
 * what the worker read, the events that came meanwhile replayed on it, the news told. */

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "virt-internal.h"
#include "virt-keepalive.h"

#define BACKOFF_MIN_USEC (100 * USEC_PER_MSEC)
#define BACKOFF_MAX_USEC (5 * USEC_PER_SEC)

typedef struct ConnectDomain {
        char uuid[VIR_UUID_STRING_BUFLEN];
        char *name;
        bool active, persistent;
        char *xml;                      /* NULL: could not be read */
        virDomainPtr handle;            /* a reference */
} ConnectDomain;

typedef struct ConnectJob {
        ExecutorJob job;                /* first: the executor hands back &job */
        Virt *v;                        /* only for the callbacks' opaque; read on the loop */
        char *uri;
        char *resolved_uri;             /* what libvirt made of uri (an alias resolved) */
        virConnectPtr conn;
        int lifecycle_id, metadata_id;
        ConnectDomain *domains;
        size_t n_domains;
        int result;                     /* -ECANCELED: never ran */
        char error[512];
} ConnectJob;

/* ---- on a worker ---- */

static int connect_register(ConnectJob *q) {
        q->lifecycle_id = virConnectDomainEventRegisterAny(q->conn, NULL, VIR_DOMAIN_EVENT_ID_LIFECYCLE,
                                                           VIR_DOMAIN_EVENT_CALLBACK(on_lifecycle), q->v, NULL);
        if (q->lifecycle_id < 0)
                return errno_from_libvirt(q->conn);
        /* Metadata events only refresh the per-domain policy: fine to lack them. */
        q->metadata_id = virConnectDomainEventRegisterAny(q->conn, NULL, VIR_DOMAIN_EVENT_ID_METADATA_CHANGE,
                                                          VIR_DOMAIN_EVENT_CALLBACK(on_metadata_change), q->v, NULL);
        if (virConnectRegisterCloseCallback(q->conn, on_close, q->v, NULL) < 0)
                return errno_from_libvirt(q->conn);
        return 0;
}

static int connect_list(ConnectJob *q) {
        virDomainPtr *doms = NULL;
        int n = virConnectListAllDomains(q->conn, &doms, 0);

        if (n < 0)
                return errno_from_libvirt(q->conn);
        q->domains = calloc(n > 0 ? n : 1, sizeof(ConnectDomain));
        for (int i = 0; i < n; i++) {
                ConnectDomain *d = q->domains ? &q->domains[q->n_domains] : NULL;

                if (!d || virDomainGetUUIDString(doms[i], d->uuid) < 0) {
                        virDomainFree(doms[i]);
                        continue;
                }
                d->handle = doms[i];    /* the list's reference */
                d->name = strdup(strempty(virDomainGetName(doms[i])));
                d->active = virDomainIsActive(doms[i]) == 1;
                d->persistent = virDomainIsPersistent(doms[i]) == 1;
                d->xml = virDomainGetXMLDesc(doms[i], 0);
                q->n_domains++;
        }
        free(doms);
        return q->domains ? 0 : -ENOMEM;
}

static void connect_run(ExecutorJob *j) {
        ConnectJob *q = (ConnectJob *) j;

        q->conn = virConnectOpen(q->uri);
        if (q->conn) {
                virt_keepalive_apply(q->conn, q->uri);
                q->resolved_uri = virConnectGetURI(q->conn);
        }
        q->result = q->conn ? connect_register(q) : errno_from_libvirt(NULL);
        if (q->result >= 0)
                q->result = connect_list(q);
        if (q->result < 0)
                snprintf(q->error, sizeof q->error, "%s", virt_last_error());
}

/* ---- on the loop thread ---- */

static void connect_job_free(ConnectJob *q) {
        for (size_t i = 0; i < q->n_domains; i++) {
                free(q->domains[i].name);
                free(q->domains[i].xml);
                if (q->domains[i].handle)
                        virDomainFree(q->domains[i].handle);
        }
        free(q->domains);
        free(q->resolved_uri);
        free(q->uri);
        free(q);
}

/* Take the connection and its table over from the job (the handles move to the table). */
static void virt_install(Virt *v, ConnectJob *q) {
        v->conn = TAKE_PTR(q->conn);
        virt_pool_install(v->pool, q->resolved_uri);
        v->lifecycle_id = q->lifecycle_id;
        v->metadata_id = q->metadata_id;
        domains_clear(v);
        v->domains = calloc(q->n_domains ? q->n_domains : 1, sizeof(Domain *));
        for (size_t i = 0; v->domains && i < q->n_domains; i++) {
                ConnectDomain *c = &q->domains[i];
                Domain *d = calloc(1, sizeof(Domain));

                if (!d) {
                        log_warning("Failed to record domain %s", strna(c->name));
                        continue;
                }
                memcpy(d->uuid, c->uuid, sizeof d->uuid);
                d->name = TAKE_PTR(c->name);
                d->active = c->active;
                d->persistent = c->persistent;
                d->handle = TAKE_PTR(c->handle);
                if (c->xml)
                        domain_classify_xml(d, c->xml);
                else {
                        log_warning("Failed to read the XML of domain %s", strna(d->name));
                        d->policy_broken = true;
                }
                v->domains[v->n_domains++] = d;
        }
}

/* A connection that failed halfway (or is no longer wanted): closed here. */
static void connect_abandon(Virt *v, ConnectJob *q) {
        if (q->conn)
                virt_submit_drop(v, TAKE_PTR(q->conn), q->lifecycle_id, q->metadata_id);
}

static void connect_done(ExecutorJob *j) {
        ConnectJob *q = (ConnectJob *) j;
        Virt *v = q->v;
        bool first = v->backoff_usec == 0;

        v->connecting = false;
        if (q->result == -ECANCELED || v->closing || !streq(q->uri, v->uri) || v->conn) {
                /* Never ran, or made while the daemon exits, or for a URI no longer
                 * wanted (a reload). */
                connect_abandon(v, q);
                virt_clear_pending(v);
                if (q->result != -ECANCELED && !v->closing && !v->conn)
                        virt_connect(v);
                connect_job_free(q);
                return;
        }
        if (q->result < 0) {
                connect_abandon(v, q);
                virt_clear_pending(v);
                /* Say it once per outage, not at every retry. */
                if (first)
                        log_warning("Failed to connect to libvirt at %s: %s; retrying", v->uri, q->error);
                virt_schedule_reconnect(v);
                connect_job_free(q);
                if (first)      /* no longer "connecting": whoever waited for it is told */
                        v->cb->on_connection(v->userdata);
                return;
        }
        virt_install(v, q);
        connect_job_free(q);
        virt_replay_pending(v);
        v->reconnect_timer = sd_event_source_disable_unref(v->reconnect_timer);
        v->backoff_usec = 0;
        log_info("Connected to libvirt at %s: %zu domains", v->uri, v->n_domains);
        if (v->pending_lost) {
                /* An event could not be kept: what the table says may be old. Again. */
                v->pending_lost = false;
                virt_drop_connection(v);
                virt_schedule_reconnect(v);
                return;
        }
        v->cb->on_connection(v->userdata);
}

static int on_reconnect_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        virt_connect(userdata);
        return 0;
}

void virt_schedule_reconnect(Virt *v) {
        int r;

        if (v->closing)
                return;
        v->backoff_usec = v->backoff_usec == 0 ? BACKOFF_MIN_USEC : v->backoff_usec * 2;
        if (v->backoff_usec > BACKOFF_MAX_USEC)
                v->backoff_usec = BACKOFF_MAX_USEC;
        v->reconnect_timer = sd_event_source_disable_unref(v->reconnect_timer);
        r = sd_event_add_time_relative(v->event, &v->reconnect_timer, CLOCK_MONOTONIC, v->backoff_usec, 0,
                                       on_reconnect_timer, v);
        if (r < 0)
                log_error_errno(r, "Failed to arm the libvirt reconnect timer: %s", STRERROR(r));
}

void virt_connect(Virt *v) {
        ConnectJob *q;

        if (v->conn || v->connecting || v->closing)
                return;
        q = calloc(1, sizeof(ConnectJob));
        if (!q || !(q->uri = strdup(v->uri))) {
                free(q);
                log_error("Out of memory connecting to libvirt; retrying");
                virt_schedule_reconnect(v);
                return;
        }
        q->job = (ExecutorJob) { .run = connect_run, .done = connect_done };
        q->v = v;
        q->lifecycle_id = q->metadata_id = -1;
        q->result = -ECANCELED;
        v->connecting = true;
        executor_submit(v->executor, &q->job);
}
