/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <string.h>
#include <strings.h>
#include <libvirt/virterror.h>

#include "log.h"
#include "virt-keepalive.h"

/* The transport libvirt's remote driver uses for "driver+transport://host/path": the
 * explicit one, else TLS when a host is named and the local unix socket when not. */
static bool uri_transport_is_unix(const char *uri) {
        const char *sep = strstr(uri, "://"), *plus, *host, *host_end;

        if (!sep || sep == uri)
                return false;   /* an alias or garbage: assume the far end is remote */
        plus = memchr(uri, '+', sep - uri);
        if (plus)
                return (size_t) (sep - plus - 1) == strlen("unix") && strncasecmp(plus + 1, "unix", 4) == 0;
        host = sep + 3;
        host_end = host + strcspn(host, "/?#");
        return host_end == host;
}

bool virt_uri_wants_keepalive(const char *uri) {
        return !uri || !uri_transport_is_unix(uri);
}

void virt_keepalive_apply(virConnectPtr conn, const char *uri) {
        if (!virt_uri_wants_keepalive(uri))
                return;
        if (virConnectSetKeepAlive(conn, VIRT_KEEPALIVE_INTERVAL_SEC, VIRT_KEEPALIVE_COUNT) < 0)
                log_warning("Failed to enable libvirt keepalive on %s, ignoring: %s", uri,
                            virGetLastErrorMessage());
        else
                log_debug("libvirt keepalive on %s: a ping after %d s idle, dead after %d unanswered", uri,
                          VIRT_KEEPALIVE_INTERVAL_SEC, VIRT_KEEPALIVE_COUNT);
}

bool virt_uri_is_local_daemon(const char *uri) {
        const char *sep;

        if (!uri || !uri_transport_is_unix(uri))
                return false;
        sep = strstr(uri, "://");
        if (memchr(uri, '+', sep - uri))
                return true;    /* a transport named: always the remote driver */
        /* No transport: the remote driver, except for the drivers that run inside the
         * client (the test driver, QEMU's embedded mode). */
        return strncasecmp(uri, "test:", 5) != 0 && strncmp(sep + 3, "/embed", 6) != 0;
}
