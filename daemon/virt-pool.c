/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The workers' own connections (see virt-pool.h). The pool's state is shared between
 * the loop thread (install, retire) and the workers (take, give), under one lock; no
 * libvirt call is made under it. */

#include <libvirt/virterror.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "virt-event.h"
#include "virt-keepalive.h"
#include "virt-listing.h"
#include "virt-pool.h"

/* More than the executor's workers ever hold at once; the rest are closed. */
#define POOL_IDLE_MAX 32

struct VirtPoolConn {
        virConnectPtr conn;
        DomainListing *listing;         /* of listing_epoch; NULL: not listed (yet) */
        uint64_t listing_epoch;
        bool listing_failed;            /* in listing_epoch: each start looks up */
        uint64_t epoch_now;             /* the pool's when taken */
};

struct VirtPool {
        pthread_mutex_t lock;
        char *uri;                      /* NULL: the main connection serves every request */
        uint64_t generation;            /* bumped at each install and retire (loop thread) */
        bool open_failed;               /* in this generation: the main connection serves */
        uint64_t listing_epoch;         /* bumped when a burst of starts is over */
        VirtPoolConn *idle[POOL_IDLE_MAX];
        size_t n_idle;
};

/* What the loop hands to a worker to drop: listings, and connections to close. */
typedef struct ReleaseJob {
        ExecutorJob job;                /* first: the executor hands back &job */
        VirtPoolConn *conns[POOL_IDLE_MAX];     /* closed */
        DomainListing *listings[POOL_IDLE_MAX]; /* freed */
        size_t n_conns, n_listings;
} ReleaseJob;

VirtPool *virt_pool_new(void) {
        VirtPool *p = calloc(1, sizeof(VirtPool));

        if (p)
                pthread_mutex_init(&p->lock, NULL);
        return p;
}

/* Its listing's handles hold references to the connection: freed first. */
static void conn_close(VirtPoolConn *c) {
        domain_listing_free(c->listing);
        virConnectClose(c->conn);
        free(c);
}

static void close_all(VirtPoolConn **conns, size_t n) {
        for (size_t i = 0; i < n; i++)
                conn_close(conns[i]);
}

VirtPool *virt_pool_free(VirtPool *p) {
        if (!p)
                return NULL;
        close_all(p->idle, p->n_idle);  /* none after virt_pool_retire and a drain */
        pthread_mutex_destroy(&p->lock);
        free(p->uri);
        free(p);
        return NULL;
}

void virt_pool_install(VirtPool *p, const char *uri) {
        char *copy = virt_uri_is_local_daemon(uri) ? strdup(uri) : NULL;

        pthread_mutex_lock(&p->lock);
        free(p->uri);
        p->uri = copy;
        p->generation++;
        p->open_failed = false;
        pthread_mutex_unlock(&p->lock);
        if (copy)
                log_debug("Workers open their own connections to %s", uri);
}

static void release_listings(ReleaseJob *q) {
        for (size_t i = 0; i < q->n_listings; i++)
                domain_listing_free(q->listings[i]);
        q->n_listings = 0;
}

static void release_run(ExecutorJob *j) {
        ReleaseJob *q = (ReleaseJob *) j;

        release_listings(q);
        close_all(q->conns, q->n_conns);
        q->n_conns = 0;
}

static void release_done(ExecutorJob *j) {
        release_run(j);         /* (nothing left when it ran; else the executor is going away) */
        free(j);
}

/* On a worker of x, or here when there is nothing to hand over or no memory. */
static void release_submit(ReleaseJob *q, Executor *x) {
        if (q->n_conns == 0 && q->n_listings == 0) {
                free(q);
                return;
        }
        q->job = (ExecutorJob) { .run = release_run, .done = release_done };
        executor_submit(x, &q->job);
}

void virt_pool_retire(VirtPool *p, Executor *x) {
        ReleaseJob *q = calloc(1, sizeof(ReleaseJob));

        pthread_mutex_lock(&p->lock);
        p->uri = mfree(p->uri);
        p->generation++;
        p->open_failed = false;
        if (q) {
                memcpy(q->conns, p->idle, p->n_idle * sizeof(VirtPoolConn *));
                q->n_conns = p->n_idle;
                p->n_idle = 0;
        }
        pthread_mutex_unlock(&p->lock);
        if (!q) {
                log_error("Out of memory closing the workers' libvirt connections: closed with the daemon");
                return;
        }
        release_submit(q, x);
}

void virt_pool_forget_listings(VirtPool *p, Executor *x) {
        ReleaseJob *q = calloc(1, sizeof(ReleaseJob));

        pthread_mutex_lock(&p->lock);
        p->listing_epoch++;
        for (size_t i = 0; q && i < p->n_idle; i++)
                if (p->idle[i]->listing)
                        q->listings[q->n_listings++] = TAKE_PTR(p->idle[i]->listing);
        pthread_mutex_unlock(&p->lock);
        if (!q)
                return;         /* (each is freed when its connection is next taken) */
        if (q->n_listings > 0)
                log_debug("Freeing the domain listings of %zu worker connections", q->n_listings);
        release_submit(q, x);
}

uint64_t virt_pool_generation(const VirtPool *p) {
        return p->generation;           /* written by this (the loop) thread only */
}

static VirtPoolConn *pool_open(VirtPool *p, const char *uri, uint64_t generation, char *ret_error,
                               size_t error_size) {
        VirtPoolConn *c = calloc(1, sizeof(VirtPoolConn));

        if (c) {
                virt_event_refuse_watches(true);
                c->conn = virConnectOpen(uri);
                virt_event_refuse_watches(false);
                if (c->conn)
                        return c;
        }
        free(c);
        pthread_mutex_lock(&p->lock);
        if (p->generation == generation && !p->open_failed) {
                p->open_failed = true;  /* said once; no more attempts until the next install */
                snprintf(ret_error, error_size, "%s", c ? virGetLastErrorMessage() : "out of memory");
        }
        pthread_mutex_unlock(&p->lock);
        virResetLastError();
        return NULL;
}

VirtPoolConn *virt_pool_take(VirtPool *p, uint64_t generation, char *ret_error, size_t error_size) {
        VirtPoolConn *c = NULL;
        uint64_t epoch;
        char *uri = NULL;

        pthread_mutex_lock(&p->lock);
        epoch = p->listing_epoch;
        if (p->generation == generation && p->uri && !p->open_failed) {
                if (p->n_idle > 0)
                        c = p->idle[--p->n_idle];
                else
                        uri = strdup(p->uri);
        }
        pthread_mutex_unlock(&p->lock);
        if (uri)
                c = pool_open(p, uri, generation, ret_error, error_size);
        free(uri);
        if (c)
                c->epoch_now = epoch;
        return c;
}

virConnectPtr virt_pool_connection(const VirtPoolConn *c) {
        return c->conn;
}

virDomainPtr virt_pool_find_domain(VirtPoolConn *c, const char *uuid) {
        if (c->listing_epoch != c->epoch_now) {         /* listed for an earlier burst */
                c->listing = domain_listing_free(c->listing);
                c->listing_failed = false;
                c->listing_epoch = c->epoch_now;
        }
        if (!c->listing && !c->listing_failed) {
                c->listing = domain_listing_new(c->conn);
                c->listing_failed = !c->listing;
                virResetLastError();    /* (a failed listing only costs the lookups) */
        }
        return domain_listing_find(c->listing, uuid);
}

void virt_pool_give(VirtPool *p, VirtPoolConn *c, uint64_t generation) {
        bool alive = virConnectIsAlive(c->conn) == 1, kept = false;
        DomainListing *stale = NULL;

        pthread_mutex_lock(&p->lock);
        if (c->listing_epoch != p->listing_epoch)       /* the burst ended while it was busy */
                stale = TAKE_PTR(c->listing);
        if (alive && p->generation == generation && p->uri && p->n_idle < POOL_IDLE_MAX) {
                p->idle[p->n_idle++] = c;
                kept = true;
        }
        pthread_mutex_unlock(&p->lock);
        domain_listing_free(stale);
        if (!kept)
                conn_close(c);
}
