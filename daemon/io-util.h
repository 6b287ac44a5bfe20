/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stddef.h>
#include <sys/types.h>

/* Write all n bytes of p to fd, again after EINTR. 0, or a negative errno. */
int write_all(int fd, const char *p, size_t n);

/* dfd/name holds text whole or not at all: .name.tmp written with mode, fsync, rename,
 * fsync dfd. 0, or a negative errno (ENOSPC, EROFS, EIO, ...) with name untouched. */
int write_file_atomic_at(int dfd, const char *name, const char *text, mode_t mode);

/* fsync the directory at path, so that an entry made or removed in it is durable. */
int fsync_directory(const char *path);
