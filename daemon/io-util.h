/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stddef.h>

/* Write all n bytes of p to fd, again after EINTR. 0, or a negative errno. */
int write_all(int fd, const char *p, size_t n);
