/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "virt-internal.h"

#define BACKOFF_MIN_USEC (100 * USEC_PER_MSEC)
#define BACKOFF_MAX_USEC (5 * USEC_PER_SEC)

struct Virt {
        const VirtCallbacks *cb;
        void *userdata;
        sd_event *event;
        char *uri;
        virConnectPtr conn;
        int lifecycle_id;
        int metadata_id;
        sd_event_source *reconnect_timer;
        sd_event_source *drop_defer;    /* connection closed: tear down outside libvirt's callback */
        uint64_t backoff_usec;
        Domain **domains;
        size_t n_domains;
};

static void on_libvirt_error(void *userdata, virErrorPtr err) {
        /* libvirt prints every error to stderr by default; we report the ones that matter. */
        log_debug("libvirt: %s", err && err->message ? err->message : "unknown error");
}

/* libvirt's message for the last failed action on this thread, kept: the calls that
 * follow a failure (virDomainIsActive, virDomainFree) reset libvirt's own last error.
 * Per thread, as libvirt's own last error is: the executor's workers fail too. */
static _Thread_local char last_error[512] = "unknown libvirt error";

const char *virt_last_error(void) {
        return last_error;
}

/* Classify the failure libvirt just reported, and keep its message. Whether the
 * connection is gone is libvirt's to say (virConnectIsAlive), not guessed from error
 * codes: a system error on a live connection (storage not mounted, say) is a real
 * failure of that action, and nothing was lost. */
int errno_from_libvirt(virConnectPtr conn) {
        virErrorPtr e = virGetLastError();

        snprintf(last_error, sizeof last_error, "%s",
                 e && e->message ? e->message : "unknown libvirt error");
        if (!conn || virConnectIsAlive(conn) != 1)
                return -ENOTCONN;
        if (!e)
                return -EIO;
        if (e->code == VIR_ERR_NO_DOMAIN)
                return -ENOENT;
        if (e->code == VIR_ERR_OPERATION_INVALID)
                return -EINVAL; /* the caller asks libvirt whether it runs */
        return -EIO;
}


/* ---- the domain table ---- */

static Domain *domain_free(Domain *d) {
        if (d) {
                if (d->handle)
                        virDomainFree(d->handle);
                free(d->name);
                free(d);
        }
        return NULL;
}

static void domains_clear(Virt *v) {
        for (size_t i = 0; i < v->n_domains; i++)
                domain_free(v->domains[i]);
        free(v->domains);
        v->domains = NULL;
        v->n_domains = 0;
}

Domain *virt_find_domain(Virt *v, const char *uuid) {
        for (size_t i = 0; i < v->n_domains; i++)
                if (streq(v->domains[i]->uuid, uuid))
                        return v->domains[i];
        return NULL;
}

size_t virt_domains(Virt *v, Domain ***ret) {
        *ret = v->domains;
        return v->n_domains;
}

static void domain_remove(Virt *v, Domain *d) {
        for (size_t i = 0; i < v->n_domains; i++)
                if (v->domains[i] == d) {
                        v->domains[i] = v->domains[--v->n_domains];
                        domain_free(d);
                        return;
                }
}

/* Read the domain's XML and classify it. A broken document is reported once per change. */
static void domain_classify(Domain *d, virDomainPtr dom) {
        _cleanup_(freep) char *xml = virDomainGetXMLDesc(dom, 0), *error = NULL;

        if (!xml) {
                (void) errno_from_libvirt(virDomainGetConnect(dom));
                log_warning("Failed to read the XML of domain %s: %s", d->name, virt_last_error());
                d->policy_broken = true;
                return;
        }
        d->policy_broken = classify_domain_xml(xml, &d->policy, &error) < 0;
        if (d->policy_broken)
                log_warning("Domain %s: %s; judging it by its launchSecurity alone", d->name, strna(error));
}

/* Find or add the domain. A new one is read in full (state, persistence, XML); a known
 * one is kept current by the events alone, which saves RPCs on every event. */
static Domain *domain_update(Virt *v, virDomainPtr dom) {
        char uuid[VIR_UUID_STRING_BUFLEN];
        Domain **a, *d;

        if (virDomainGetUUIDString(dom, uuid) < 0)
                return NULL;
        d = virt_find_domain(v, uuid);
        if (d)
                return d;
        a = reallocarray(v->domains, v->n_domains + 1, sizeof(Domain *));
        if (!a)
                return NULL;
        v->domains = a;
        d = calloc(1, sizeof(Domain));
        if (!d)
                return NULL;
        memcpy(d->uuid, uuid, sizeof d->uuid);
        if (virDomainRef(dom) == 0)
                d->handle = dom;
        d->name = strdup(strempty(virDomainGetName(dom)));
        d->active = virDomainIsActive(dom) == 1;
        d->persistent = virDomainIsPersistent(dom) == 1;
        v->domains[v->n_domains++] = d;
        domain_classify(d, dom);
        return d;
}

static int domains_enumerate(Virt *v) {
        virDomainPtr *doms = NULL;
        int n = virConnectListAllDomains(v->conn, &doms, 0);

        if (n < 0)
                return errno_from_libvirt(v->conn);
        domains_clear(v);
        for (int i = 0; i < n; i++) {
                if (!domain_update(v, doms[i]))
                        log_warning("Failed to record domain %s", strna(virDomainGetName(doms[i])));
                virDomainFree(doms[i]);
        }
        free(doms);
        return 0;
}

/* ---- events ---- */

static int on_lifecycle(virConnectPtr conn, virDomainPtr dom, int event, int detail, void *opaque) {
        Virt *v = opaque;
        Domain *d = domain_update(v, dom);

        if (!d)
                return 0;
        switch (event) {
        case VIR_DOMAIN_EVENT_DEFINED:
                d->persistent = true;
                domain_classify(d, dom);        /* a redefinition may change the metadata */
                break;
        case VIR_DOMAIN_EVENT_UNDEFINED:
                d->persistent = false;
                break;
        case VIR_DOMAIN_EVENT_STARTED:
        case VIR_DOMAIN_EVENT_RESUMED:
                d->active = true;
                break;
        case VIR_DOMAIN_EVENT_STOPPED:
                /* Only STOPPED means stopped: SHUTDOWN is also emitted before a destroy. */
                d->active = false;
                break;
        default:
                break;
        }
        log_debug("Domain %s: event %d/%d, active=%d persistent=%d", d->name, event, detail,
                  d->active, d->persistent);
        v->cb->on_domain(v->userdata, d, event, detail);

        /* A transient domain that stopped, or an undefined one that is not running, is gone. */
        if ((event == VIR_DOMAIN_EVENT_STOPPED && !d->persistent) ||
            (event == VIR_DOMAIN_EVENT_UNDEFINED && !d->active))
                domain_remove(v, d);
        return 0;
}

static void on_metadata_change(virConnectPtr conn, virDomainPtr dom, int type, const char *nsuri,
                               void *opaque) {
        Virt *v = opaque;
        Domain *d = domain_update(v, dom);

        if (!d)
                return;
        domain_classify(d, dom);
        /* Reported like a redefinition: the policy (refuse, protected) may have changed. */
        v->cb->on_domain(v->userdata, d, VIR_DOMAIN_EVENT_DEFINED, 0);
}

static void virt_schedule_reconnect(Virt *v);
static void on_close(virConnectPtr conn, int reason, void *opaque);

static void virt_drop_connection(Virt *v) {
        if (!v->conn)
                return;
        if (v->lifecycle_id >= 0)
                (void) virConnectDomainEventDeregisterAny(v->conn, v->lifecycle_id);
        if (v->metadata_id >= 0)
                (void) virConnectDomainEventDeregisterAny(v->conn, v->metadata_id);
        v->lifecycle_id = v->metadata_id = -1;
        (void) virConnectUnregisterCloseCallback(v->conn, on_close);
        virConnectClose(v->conn);
        v->conn = NULL;
}

static int on_drop_defer(sd_event_source *s, void *userdata) {
        Virt *v = userdata;

        v->drop_defer = sd_event_source_disable_unref(v->drop_defer);
        virt_drop_connection(v);
        v->cb->on_connection(v->userdata);
        virt_schedule_reconnect(v);
        return 0;
}

static void on_close(virConnectPtr conn, int reason, void *opaque) {
        Virt *v = opaque;

        log_warning("Lost the connection to libvirt (%s, reason %d); reconnecting", v->uri, reason);
        /* Closing the connection from inside libvirt's own callback is not allowed. */
        if (!v->drop_defer && sd_event_add_defer(v->event, &v->drop_defer, on_drop_defer, v) < 0)
                log_error("Failed to schedule the libvirt reconnect");
}

/* ---- connecting ---- */

static int virt_register(Virt *v) {
        v->lifecycle_id = virConnectDomainEventRegisterAny(v->conn, NULL, VIR_DOMAIN_EVENT_ID_LIFECYCLE,
                                                           VIR_DOMAIN_EVENT_CALLBACK(on_lifecycle), v, NULL);
        if (v->lifecycle_id < 0)
                return errno_from_libvirt(v->conn);
        /* Metadata events only refresh the per-domain policy: fine to lack them. */
        v->metadata_id = virConnectDomainEventRegisterAny(v->conn, NULL, VIR_DOMAIN_EVENT_ID_METADATA_CHANGE,
                                                          VIR_DOMAIN_EVENT_CALLBACK(on_metadata_change), v, NULL);
        if (virConnectRegisterCloseCallback(v->conn, on_close, v, NULL) < 0)
                return errno_from_libvirt(v->conn);
        return 0;
}

static int virt_try_connect(Virt *v) {
        int r;

        v->conn = virConnectOpen(v->uri);
        if (!v->conn)
                return errno_from_libvirt(v->conn);
        r = virt_register(v);
        if (r >= 0)
                r = domains_enumerate(v);
        if (r < 0) {
                virt_drop_connection(v);
                return r;
        }
        return 0;
}

static int on_reconnect_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        virt_connect(userdata);
        return 0;
}

static void virt_schedule_reconnect(Virt *v) {
        int r;

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
        bool first = v->backoff_usec == 0;
        int r;

        if (v->conn)
                return;
        r = virt_try_connect(v);
        if (r < 0) {
                /* Say it once per outage, not at every retry. */
                if (first)
                        log_warning("Failed to connect to libvirt at %s: %s; retrying", v->uri, virt_last_error());
                virt_schedule_reconnect(v);
                return;
        }
        v->reconnect_timer = sd_event_source_disable_unref(v->reconnect_timer);
        v->backoff_usec = 0;
        log_info("Connected to libvirt at %s: %zu domains", v->uri, v->n_domains);
        v->cb->on_connection(v->userdata);
}

void virt_set_uri(Virt *v, const char *uri) {
        char *copy;

        if (streq(v->uri, uri))
                return;
        copy = strdup(uri);
        if (!copy) {
                log_error("Out of memory: keeping libvirt URI %s", v->uri);
                return;
        }
        free(v->uri);
        v->uri = copy;
        virt_drop_connection(v);
        v->backoff_usec = 0;
        virt_connect(v);
}

bool virt_is_connected(const Virt *v) {
        return v->conn != NULL;
}

int virt_new(sd_event *e, const char *uri, const VirtCallbacks *cb, void *userdata, Virt **ret) {
        _cleanup_(virt_freep) Virt *v = calloc(1, sizeof(Virt));

        if (!v)
                return -ENOMEM;
        v->cb = cb;
        v->userdata = userdata;
        v->event = sd_event_ref(e);
        v->lifecycle_id = v->metadata_id = -1;
        v->uri = strdup(uri);
        if (!v->uri)
                return -ENOMEM;
        virSetErrorFunc(NULL, on_libvirt_error);
        *ret = TAKE_PTR(v);
        return 0;
}

Virt *virt_free(Virt *v) {
        if (!v)
                return NULL;
        virt_drop_connection(v);
        sd_event_source_disable_unref(v->reconnect_timer);
        sd_event_source_disable_unref(v->drop_defer);
        domains_clear(v);
        sd_event_unref(v->event);
        free(v->uri);
        free(v);
        return NULL;
}

virConnectPtr virt_connection(Virt *v) {
        return v->conn;
}
