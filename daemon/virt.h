/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "macros.h"

/* The libvirt connection: connect and reconnect with backoff, the table of known domains
 * kept current from lifecycle events (never polled), and the actions on one domain. */

#include <libvirt/libvirt.h>
#include <stdbool.h>
#include <systemd/sd-event.h>

#include "classify.h"
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

int virt_new(sd_event *e, const char *uri, const VirtCallbacks *cb, void *userdata, Virt **ret);
Virt *virt_free(Virt *v);
DEFINE_TRIVIAL_CLEANUP_FUNC(Virt *, virt_free)

/* Try to connect now; on failure retry with backoff (0.1 s doubling up to 5 s). */
void virt_connect(Virt *v);
/* Use another URI from now on (config reload): reconnects if it changed. */
void virt_set_uri(Virt *v, const char *uri);
bool virt_is_connected(const Virt *v);

/* The known domains (valid until the next return to the event loop). */
size_t virt_domains(Virt *v, Domain ***ret);
Domain *virt_find_domain(Virt *v, const char *uuid);

/* Actions. They return 0 on success, -ENOTCONN while libvirt is away, -ENOENT for an
 * unknown domain, -ESRCH when it is not running (shutdown/destroy), -EALREADY when it
 * already runs (start), -EIO otherwise; virt_last_error() says what libvirt said. */
int virt_shutdown(Virt *v, const char *uuid);
int virt_destroy(Virt *v, const char *uuid);
/* Start a persistent domain by uuid, or create a transient one from xml. */
int virt_start(Virt *v, const char *uuid, const char *xml, bool persistent);
/* The XML to re-create the domain later (secure, migratable form). */
int virt_get_xml(Virt *v, const char *uuid, char **ret);
const char *virt_last_error(void);
