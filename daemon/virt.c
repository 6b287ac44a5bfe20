/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <assert.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#include "log.h"
#include "virt-internal.h"

#include <sys/eventfd.h>
#include <unistd.h>


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

void domains_clear(Virt *v) {
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

/* Classify the domain from its XML. A broken document is reported once per change. */
void domain_classify_xml(Domain *d, const char *xml) {
        _cleanup_(freep) char *error = NULL;

        d->policy_broken = classify_domain_xml(xml, &d->policy, &error) < 0;
        if (d->policy_broken)
                log_warning("Domain %s: %s; judging it by its launchSecurity alone", d->name, strna(error));
}

/* The XML a worker read, or why it could not. */
static void domain_classify_facts(Domain *d, const DomainFacts *f) {
        if (!f->xml) {
                log_warning("Failed to read the XML of domain %s: %s", d->name, strna(f->error));
                d->policy_broken = true;
                return;
        }
        domain_classify_xml(d, f->xml);
}

/* A domain first seen in an event, from what a worker read of it. */
static Domain *domain_add(Virt *v, virDomainPtr dom, const char *uuid, const DomainFacts *f) {
        Domain **a, *d;

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
        d->active = f->active;
        d->persistent = f->persistent;
        v->domains[v->n_domains++] = d;
        domain_classify_facts(d, f);
        return d;
}

/* ---- events ---- */

/* Events of a connection that is not installed yet (a worker is still listing its
 * domains): kept in order, and replayed on the new table. */
static bool event_queued(Virt *v, virConnectPtr conn, virDomainPtr dom, int event, int detail) {
        PendingEvent *a;

        if (conn == v->conn)
                return false;
        if (!v->connecting || virt_is_dropping(v, conn))
                return true;    /* a connection being dropped: its table is gone */
        a = reallocarray(v->pending, v->n_pending + 1, sizeof(PendingEvent));
        if (!a || virDomainRef(dom) < 0) {
                log_error("Out of memory keeping a libvirt event: reading the table again");
                v->pending_lost = true;
                if (a)
                        v->pending = a;
                return true;
        }
        v->pending = a;
        v->pending[v->n_pending++] = (PendingEvent) { .dom = dom, .event = event, .detail = detail };
        return true;
}

int on_lifecycle(virConnectPtr conn, virDomainPtr dom, int event, int detail, void *opaque) {
        Virt *v = opaque;

        if (!event_queued(v, conn, dom, event, detail))
                virt_event_arrived(v, dom, event, detail);
        return 0;
}

void on_metadata_change(virConnectPtr conn, virDomainPtr dom, int type, const char *nsuri, void *opaque) {
        Virt *v = opaque;

        if (!event_queued(v, conn, dom, -1, 0))
                virt_event_arrived(v, dom, -1, 0);
}

/* Find or add the domain. A new one comes with what a worker read of it (its state,
 * persistence, XML); a known one is kept current by the events alone. */
static Domain *domain_update(Virt *v, virDomainPtr dom, const DomainFacts *facts) {
        char uuid[VIR_UUID_STRING_BUFLEN];
        Domain *d;

        if (virDomainGetUUIDString(dom, uuid) < 0)
                return NULL;
        d = virt_find_domain(v, uuid);
        if (d) {
                if (facts)
                        domain_classify_facts(d, facts);  /* a redefinition may change the metadata */
                return d;
        }
        return facts ? domain_add(v, dom, uuid, facts) : NULL;
}

void virt_apply_event(Virt *v, virDomainPtr dom, int event, int detail, const DomainFacts *facts) {
        Domain *d = domain_update(v, dom, facts);

        if (!d)
                return;
        if (event < 0) {
                /* Reported like a redefinition: the policy (refuse, protected) may have changed. */
                v->cb->on_domain(v->userdata, d, VIR_DOMAIN_EVENT_DEFINED, 0);
                return;
        }
        switch (event) {
        case VIR_DOMAIN_EVENT_DEFINED:
                d->persistent = true;
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
}

/* Replay what came while the connection was being made, now that its table is in. */
void virt_replay_pending(Virt *v) {
        for (size_t i = 0; i < v->n_pending; i++) {
                PendingEvent *e = &v->pending[i];

                if (e->event < 0)
                        on_metadata_change(v->conn, e->dom, 0, NULL, v);
                else
                        (void) on_lifecycle(v->conn, e->dom, e->event, e->detail, v);
        }
        virt_clear_pending(v);
}

void virt_clear_pending(Virt *v) {
        for (size_t i = 0; i < v->n_pending; i++)
                virDomainFree(v->pending[i].dom);
        v->pending = mfree(v->pending);
        v->n_pending = 0;
}

void virt_drop_connection(Virt *v) {
        if (!v->conn)
                return;
        virt_drop_reads(v);
        virt_pool_retire(v->pool, v->executor);
        virt_submit_drop(v, TAKE_PTR(v->conn), v->lifecycle_id, v->metadata_id);
        v->lifecycle_id = v->metadata_id = -1;
}

void virt_starts_over(Virt *v) {
        virt_pool_forget_listings(v->pool, v->executor);
}

void virt_reconnect(Virt *v) {
        virt_drop_connection(v);
        v->cb->on_connection(v->userdata);
        virt_schedule_reconnect(v);
}

/* On the loop thread: the connection closed (on_close said so through close_fd). */
static int on_closed(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        Virt *v = userdata;
        uint64_t n;

        (void) !read(fd, &n, sizeof n);
        /* Dropped meanwhile (a new URI), or the close of a connection being dropped on a
         * worker: whether the one in use is gone is its own to say (local, no RPC). */
        if (!v->conn || virConnectIsAlive(v->conn) == 1)
                return 0;
        log_warning("Lost the connection to libvirt (%s, reason %d); reconnecting", v->uri,
                    __atomic_load_n(&v->close_reason, __ATOMIC_RELAXED));
        virt_reconnect(v);
        return 0;
}

/* libvirt calls this from whichever thread saw the connection close (a worker in an
 * RPC, or the loop). Closing the connection from inside it is not allowed, and only
 * the loop thread may touch sd-event or the table: tell the loop. */
void on_close(virConnectPtr conn, int reason, void *opaque) {
        Virt *v = opaque;
        static const uint64_t one = 1;

        __atomic_store_n(&v->close_reason, reason, __ATOMIC_RELAXED);
        (void) !write(v->close_fd, &one, sizeof one);
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

bool virt_is_connecting(const Virt *v) {
        return v->connecting;
}

bool virt_is_first_attempt(const Virt *v) {
        return v->connecting && v->backoff_usec == 0;
}

int virt_new(sd_event *e, Executor *x, const char *uri, const VirtCallbacks *cb, void *userdata, Virt **ret) {
        _cleanup_(virt_freep) Virt *v = calloc(1, sizeof(Virt));
        int r;

        if (!v)
                return -ENOMEM;
        v->executor = x;
        v->pool = virt_pool_new();
        if (!v->pool)
                return -ENOMEM;
        v->close_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (v->close_fd < 0)
                return -errno;
        r = sd_event_add_io(e, &v->close_source, v->close_fd, EPOLLIN, on_closed, v);
        if (r < 0)
                return r;
        v->cb = cb;
        v->userdata = userdata;
        v->event = sd_event_ref(e);
        v->lifecycle_id = v->metadata_id = -1;
        v->reads_tail = &v->reads;
        v->uri = strdup(uri);
        if (!v->uri)
                return -ENOMEM;
        virSetErrorFunc(NULL, on_libvirt_error);
        *ret = TAKE_PTR(v);
        return 0;
}

void virt_close(Virt *v) {
        v->closing = true;
        v->reconnect_timer = sd_event_source_disable_unref(v->reconnect_timer);
        virt_drop_connection(v);
}

Virt *virt_free(Virt *v) {
        if (!v)
                return NULL;
        assert(!v->conn && v->n_dropping == 0);        /* virt_close(), and the executor drained */
        virt_drop_reads(v);
        free(v->dropping);
        virt_clear_pending(v);
        sd_event_source_disable_unref(v->reconnect_timer);
        sd_event_source_disable_unref(v->close_source);
        if (v->close_fd >= 0)
                close(v->close_fd);
        domains_clear(v);
        sd_event_unref(v->event);
        virt_pool_free(v->pool);
        free(v->uri);
        free(v);
        return NULL;
}

virConnectPtr virt_connection(Virt *v) {
        return v->conn;
}
