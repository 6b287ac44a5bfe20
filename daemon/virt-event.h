/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* libvirt's event-loop hooks (virEventRegisterImpl) implemented on sd-event, so
 * libvirt's sockets and timers run on the daemon's one loop: no second loop. The hooks
 * may be called from any thread (the executor's workers make RPCs); what they ask is
 * carried out on the loop thread (see virt-event.c and docs/THREADS.md). */

#include <stdbool.h>
#include <systemd/sd-event.h>

/* Register the hooks for loop e. Must run once, before the first virConnectOpen. */
int virt_event_register(sd_event *e);

/* While true, watches added from the calling thread are refused: a connection opened
 * meanwhile has no watch on the loop, so libvirt's remote driver does its I/O only inside
 * the calls of the thread that makes them, and asks libvirtd for no keepalive (its
 * pings would wake the loop). For the workers' own connections (virt-pool.c). */
void virt_event_refuse_watches(bool refuse);

/* Drop every remaining libvirt watch and timer (at exit, after the connection is closed). */
void virt_event_unregister(void);
