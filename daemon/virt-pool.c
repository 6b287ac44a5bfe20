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
#include "virt-pool.h"

/* More than the executor's workers ever hold at once; the rest are closed. */
#define POOL_IDLE_MAX 32

struct VirtPool {
        pthread_mutex_t lock;
        char *uri;                      /* NULL: the main connection serves every request */
        uint64_t generation;            /* bumped at each install and retire (loop thread) */
        bool open_failed;               /* in this generation: the main connection serves */
        virConnectPtr idle[POOL_IDLE_MAX];
        size_t n_idle;
};

typedef struct CloseJob {
        ExecutorJob job;                /* first: the executor hands back &job */
        virConnectPtr conns[POOL_IDLE_MAX];
        size_t n_conns;
} CloseJob;

VirtPool *virt_pool_new(void) {
        VirtPool *p = calloc(1, sizeof(VirtPool));

        if (p)
                pthread_mutex_init(&p->lock, NULL);
        return p;
}

static void close_all(virConnectPtr *conns, size_t n) {
        for (size_t i = 0; i < n; i++)
                virConnectClose(conns[i]);
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

static void close_run(ExecutorJob *j) {
        CloseJob *q = (CloseJob *) j;

        close_all(q->conns, q->n_conns);
        q->n_conns = 0;
}

static void close_done(ExecutorJob *j) {
        CloseJob *q = (CloseJob *) j;

        close_all(q->conns, q->n_conns);        /* never ran: the executor is going away */
        free(q);
}

void virt_pool_retire(VirtPool *p, Executor *x) {
        CloseJob *q = calloc(1, sizeof(CloseJob));

        pthread_mutex_lock(&p->lock);
        p->uri = mfree(p->uri);
        p->generation++;
        p->open_failed = false;
        if (q) {
                memcpy(q->conns, p->idle, p->n_idle * sizeof(virConnectPtr));
                q->n_conns = p->n_idle;
                p->n_idle = 0;
        }
        pthread_mutex_unlock(&p->lock);
        if (!q) {
                log_error("Out of memory closing the workers' libvirt connections: closed with the daemon");
                return;
        }
        if (q->n_conns == 0) {
                free(q);
                return;
        }
        q->job = (ExecutorJob) { .run = close_run, .done = close_done };
        executor_submit(x, &q->job);
}

uint64_t virt_pool_generation(const VirtPool *p) {
        return p->generation;           /* written by this (the loop) thread only */
}

static virConnectPtr pool_open(VirtPool *p, const char *uri, uint64_t generation, char *ret_error,
                               size_t error_size) {
        virConnectPtr c;

        virt_event_refuse_watches(true);
        c = virConnectOpen(uri);
        virt_event_refuse_watches(false);
        if (c)
                return c;
        pthread_mutex_lock(&p->lock);
        if (p->generation == generation && !p->open_failed) {
                p->open_failed = true;  /* said once; no more attempts until the next install */
                snprintf(ret_error, error_size, "%s", virGetLastErrorMessage());
        }
        pthread_mutex_unlock(&p->lock);
        virResetLastError();
        return NULL;
}

virConnectPtr virt_pool_take(VirtPool *p, uint64_t generation, char *ret_error, size_t error_size) {
        virConnectPtr c = NULL;
        char *uri = NULL;

        pthread_mutex_lock(&p->lock);
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
        return c;
}

void virt_pool_give(VirtPool *p, virConnectPtr c, uint64_t generation) {
        bool alive = virConnectIsAlive(c) == 1, kept = false;

        pthread_mutex_lock(&p->lock);
        if (alive && p->generation == generation && p->uri && p->n_idle < POOL_IDLE_MAX) {
                p->idle[p->n_idle++] = c;
                kept = true;
        }
        pthread_mutex_unlock(&p->lock);
        if (!kept)
                virConnectClose(c);
}
