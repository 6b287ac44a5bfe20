/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The control socket when tdsleepd binds it itself (no tdsleepd.socket). */

#include "manager.h"
#include "varlink.h"

/* Bind m->socket_path for s: mode 0660 and group gid (< 0: none). When the group cannot
 * be given (chown is forbidden under the shipped unit), the socket is made root's alone
 * (0600) and a warning says to use tdsleepd.socket. */
int manager_bind_socket(Manager *m, VarlinkServer *s, int gid);
