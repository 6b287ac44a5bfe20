/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "manager-socket.h"

int manager_bind_socket(Manager *m, VarlinkServer *s, int gid) {
        _cleanup_(freep) char *dir = strdup(m->socket_path);
        char *slash = dir ? strrchr(dir, '/') : NULL;
        int r;

        if (!dir)
                return -ENOMEM;
        if (slash && slash != dir) {
                *slash = '\0';
                (void) mkdir(dir, 0755);
        }
        r = varlink_server_listen_address(s, m->socket_path, 0660);
        if (r < 0)
                return r;
        if (gid >= 0 && chown(m->socket_path, 0, (gid_t) gid) < 0) {
                /* Under tdsleepd.service chown is filtered (~@privileged) and CAP_CHOWN is
                 * gone: the group cannot be given. A 0660 root:root socket would look shared
                 * and let group root in; say what it means and what works instead. */
                log_warning("Cannot give %s to group %s (%s): only root can use it. To let %s read, use "
                            "tdsleepd.socket (socket activation) instead of binding the socket here.",
                            m->socket_path, m->config.socket_group, strerror(errno), m->config.socket_group);
                if (chmod(m->socket_path, 0600) < 0)
                        return -errno;
        }
        return 0;
}
