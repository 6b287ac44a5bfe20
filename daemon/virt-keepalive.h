/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* What a libvirt URI's transport says: which connections get client keepalive pings,
 * and which reach a libvirtd on this host.
 * On a local unix socket a dead libvirtd is seen as EOF at once, so pings would only
 * wake the daemon; over a network (ssh, tls, tcp, libssh, an external command) a dead
 * host or a silent link is seen only through them. */

#include <libvirt/libvirt.h>
#include <stdbool.h>

/* A ping after this many idle seconds; the peer is dead after this many unanswered
 * ones in a row: a dead remote host is noticed within 5 s x (3 + 1) = 20 s, also
 * while a call waits for its reply (libvirt checks keepalive while it waits). */
#define VIRT_KEEPALIVE_INTERVAL_SEC 5
#define VIRT_KEEPALIVE_COUNT 3

/* Whether a connection to uri should send keepalive pings: false for local unix
 * sockets (qemu:///system, qemu+unix://, test:///...), true for every other transport
 * and for what cannot be parsed (an alias from libvirt.conf may point anywhere). */
bool virt_uri_wants_keepalive(const char *uri);

/* Whether uri reaches a libvirtd on this host through its unix socket (qemu:///system,
 * test+unix:///default): not a remote host, not a driver inside this process
 * (test:///default, qemu:///embed), false for what cannot be parsed. */
bool virt_uri_is_local_daemon(const char *uri);

/* Turn libvirt's client keepalive on for conn when uri wants it (warns and carries on
 * when libvirt refuses: the connection works without pings). */
void virt_keepalive_apply(virConnectPtr conn, const char *uri);
