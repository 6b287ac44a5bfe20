/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Shared between virt.c (the table, the events, dropping a connection), virt-connect.c
 * (making one, on a worker) and virt-action.c (the actions). */

#include "virt.h"
#include "virt-pool.h"

/* A lifecycle (event >= 0) or metadata (event < 0) event of a connection still being made. */
typedef struct PendingEvent {
        virDomainPtr dom;       /* a reference */
        int event, detail;
} PendingEvent;

/* What a worker read of a domain for an event (virt-read.c). */
typedef struct DomainFacts {
        bool active, persistent;
        char *xml;                      /* NULL: could not be read (error says why) */
        const char *error;
} DomainFacts;

typedef struct DomainRead DomainRead;

struct Virt {
        const VirtCallbacks *cb;
        void *userdata;
        sd_event *event;
        Executor *executor;
        char *uri;
        virConnectPtr conn;             /* installed on the loop thread, with its table */
        VirtPool *pool;                 /* the workers' own connections to the same libvirtd */
        int lifecycle_id;
        int metadata_id;
        bool connecting;                /* a worker is connecting */
        PendingEvent *pending;          /* events that came meanwhile, in order */
        size_t n_pending;
        bool pending_lost;              /* one could not be kept: list again */
        sd_event_source *reconnect_timer;
        int close_fd;                   /* on_close (any thread) tells the loop */
        int close_reason;
        sd_event_source *close_source;
        uint64_t backoff_usec;
        Domain **domains;
        size_t n_domains;
        DomainRead *reads, **reads_tail;        /* events of v->conn waiting for a read */
        virConnectPtr *dropping;        /* handed to a worker to drop: their events are ignored */
        size_t n_dropping;
        bool closing;                   /* the daemon exits: no new connection */
};

/* Classify the failure libvirt just reported on this thread, and keep its message
 * (virt_last_error). -ENOTCONN when the connection is gone, -ENOENT no such domain,
 * -EINVAL operation invalid (the caller asks whether it runs), -EIO otherwise. */
int errno_from_libvirt(virConnectPtr conn);
/* The open connection, or NULL. */
virConnectPtr virt_connection(Virt *v);

/* virt.c */
void domain_classify_xml(Domain *d, const char *xml);
void domains_clear(Virt *v);
int on_lifecycle(virConnectPtr conn, virDomainPtr dom, int event, int detail, void *opaque);
void on_metadata_change(virConnectPtr conn, virDomainPtr dom, int type, const char *nsuri, void *opaque);
void on_close(virConnectPtr conn, int reason, void *opaque);
void virt_drop_connection(Virt *v);
void virt_replay_pending(Virt *v);
void virt_clear_pending(Virt *v);
/* Apply an event of the installed connection (event < 0: a metadata change), with what
 * a worker read of the domain (needed when the domain is new, redefined or its metadata
 * changed; NULL otherwise). */
void virt_apply_event(Virt *v, virDomainPtr dom, int event, int detail, const DomainFacts *facts);
/* Drop the connection, say so, and connect again after the backoff. */
void virt_reconnect(Virt *v);

/* virt-drop.c */
/* Drop conn (its reference is taken) on a worker: deregister its callbacks and close it. */
void virt_submit_drop(Virt *v, virConnectPtr conn, int lifecycle_id, int metadata_id);
bool virt_is_dropping(const Virt *v, virConnectPtr conn);

/* virt-read.c */
/* An event of the installed connection: applied now, or after the reads it needs and
 * the events before it. */
void virt_event_arrived(Virt *v, virDomainPtr dom, int event, int detail);
void virt_drop_reads(Virt *v);

/* virt-connect.c */
void virt_schedule_reconnect(Virt *v);
