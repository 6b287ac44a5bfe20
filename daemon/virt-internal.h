/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Shared between virt.c (the connection and the table) and virt-action.c (the actions). */

#include "virt.h"

/* Classify the failure libvirt just reported on this thread, and keep its message
 * (virt_last_error). -ENOTCONN when the connection is gone, -ENOENT no such domain,
 * -EINVAL operation invalid (the caller asks whether it runs), -EIO otherwise. */
int errno_from_libvirt(virConnectPtr conn);
/* The open connection, or NULL. */
virConnectPtr virt_connection(Virt *v);
