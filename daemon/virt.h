/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "macros.h"

/* The libvirt connection: connect and reconnect with backoff, the table of known domains
 * kept current from lifecycle events (never polled), and the actions on one domain. */

#include <libvirt/libvirt.h>
#include <stdbool.h>
#include <systemd/sd-event.h>

#include "classify.h"
#include "executor.h"
#include "state.h"

typedef struct Domain {
        char uuid[UUID_STRING_MAX];
        char *name;
        bool active;            /* running (or paused): not STOPPED */
        bool persistent;
        DomainPolicy policy;
        bool policy_broken;     /* its XML or tdsleep metadata could not be read */
        virDomainPtr handle;    /* kept, so an action costs one RPC, not a lookup too */
} Domain;

typedef struct Virt Virt;

/* How the connection reports: a lifecycle event of d (libvirt's event and detail; a
 * metadata change comes as DEFINED), and a connection made or lost. */
typedef struct VirtCallbacks {
        void (*on_domain)(void *userdata, Domain *d, int event, int detail);
        void (*on_connection)(void *userdata);
} VirtCallbacks;

/* Blocking calls (connecting, the actions) run on x's workers; x must outlive v. */
int virt_new(sd_event *e, Executor *x, const char *uri, const VirtCallbacks *cb, void *userdata, Virt **ret);
/* The daemon exits: drop the connection (on a worker) and make no other. Then drain
 * the executor before virt_free(). */
void virt_close(Virt *v);
Virt *virt_free(Virt *v);
DEFINE_TRIVIAL_CLEANUP_FUNC(Virt *, virt_free)

/* Connect on a worker; on_connection() says when it is made. On failure retry with
 * backoff (0.1 s doubling up to 5 s). */
void virt_connect(Virt *v);
/* Use another URI from now on (config reload): reconnects if it changed. */
void virt_set_uri(Virt *v, const char *uri);
bool virt_is_connected(const Virt *v);
/* A worker is making the connection. */
bool virt_is_connecting(const Virt *v);
/* Connecting, and no attempt since start (or since the connection was lost) failed yet. */
bool virt_is_first_attempt(const Virt *v);

/* The known domains (valid until the next return to the event loop). */
size_t virt_domains(Virt *v, Domain ***ret);
Domain *virt_find_domain(Virt *v, const char *uuid);

/* The actions that may take long (shutdown, destroy, start) run on x's workers. Submit
 * returns 0 (done is called on the loop thread later, with the result), -ENOTCONN while
 * libvirt is away (nothing submitted), -EINVAL (a transient start without xml) or -ENOMEM.
 * The results: 0, -ENOTCONN the connection was lost, -ENOENT unknown domain, -ESRCH not
 * running (shutdown/destroy), -EALREADY already running (start), -EIO otherwise; error
 * is what libvirt said (NULL on success). */
typedef enum VirtAction {
        VIRT_ACTION_SHUTDOWN,
        VIRT_ACTION_DESTROY,
        VIRT_ACTION_START,      /* a persistent domain by uuid, or a transient one from xml */
        VIRT_ACTION_GET_XML,    /* the XML to re-create it later (secure, migratable form) */
} VirtAction;

/* xml: what GET_XML read (NULL otherwise, or on failure), valid during the call. */
typedef void (*VirtActionDone)(void *userdata, uint64_t id, int result, const char *error, const char *xml);

int virt_submit_action(Virt *v, Executor *x, VirtAction action, const char *uuid, const char *xml,
                       bool persistent, VirtActionDone done, void *userdata, uint64_t id);
const char *virt_last_error(void);
/* A burst of starts (a resume, a Restore) is over: what the workers listed to start the
 * domains without a lookup each is freed (virt-pool.h). */
void virt_starts_over(Virt *v);
