/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "macros.h"

/* The workers' own connections to libvirtd, for the starts (the calls that take long
 * and come many at once; the other actions stay on the main connection, where they
 * need no lookup). On one shared connection libvirtd serves 5 calls at once
 * (max_client_requests), and the threads waiting on it hand its socket from one to the
 * next at every reply (libvirt's "buck"), each hand-over a watch update for the loop.
 * A worker with a connection of its own makes its calls alone on it. They are opened
 * without a watch on the loop (virt_event_refuse_watches): no keepalive pings from
 * libvirtd, so an idle one costs no system call, and they are kept until the main
 * connection goes. Only for a libvirtd on this host (a unix socket): a remote one keeps
 * everything on the main connection, which has keepalive. Lifecycle events stay on the
 * main connection. */

#include <libvirt/libvirt.h>
#include <stdbool.h>
#include <stdint.h>

#include "executor.h"

typedef struct VirtPool VirtPool;
typedef struct VirtPoolConn VirtPoolConn;      /* a worker's connection, while it holds it */

VirtPool *virt_pool_new(void);
/* After virt_pool_retire() and the executor's drain. */
VirtPool *virt_pool_free(VirtPool *p);
DEFINE_TRIVIAL_CLEANUP_FUNC(VirtPool *, virt_pool_free)

/* Loop thread. The main connection to uri (as libvirt names it) is made: workers may
 * open their own to it, unless uri is not a libvirtd on this host. */
void virt_pool_install(VirtPool *p, const char *uri);
/* Loop thread. The main connection is gone: idle connections are closed on a worker of
 * x, busy ones when their request is done; requests submitted before use the main one. */
void virt_pool_retire(VirtPool *p, Executor *x);
/* Loop thread. A burst of starts (a resume, a Restore) is over: the listings the workers
 * made for it (virt_pool_find_domain) are freed, on a worker of x; the next burst lists
 * afresh. */
void virt_pool_forget_listings(VirtPool *p, Executor *x);
/* Loop thread: what a request submitted now carries to virt_pool_take. */
uint64_t virt_pool_generation(const VirtPool *p);

/* Worker. A connection for a request submitted in generation: an idle one, or one opened
 * now. NULL: use the main connection (no pool for this URI, a request of an older
 * connection, or opening failed: then *ret_error says why, once per main connection). */
VirtPoolConn *virt_pool_take(VirtPool *p, uint64_t generation, char *ret_error, size_t error_size);
virConnectPtr virt_pool_connection(const VirtPoolConn *c);
/* Worker. A new reference to a handle on c's connection for the shut-off persistent domain
 * uuid, from the one listing c makes per burst of starts (virt-listing.h); NULL: not in
 * it (the caller looks it up). */
virDomainPtr virt_pool_find_domain(VirtPoolConn *c, const char *uuid);
/* Worker. The request is done with c: kept for the next, or closed (broken, or of an
 * older main connection). */
void virt_pool_give(VirtPool *p, VirtPoolConn *c, uint64_t generation);
