/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* systemd's fd store as a place to keep a small text: a sealed memfd that systemd holds
 * for us across a crash or restart of tdsleepd, and hands back in LISTEN_FDS. */

#include <stddef.h>
#include <stdint.h>

/* A memfd holding text, sealed against any change (F_SEAL_SHRINK|GROW|WRITE|SEAL). */
int sealed_memfd_new(const char *name, const char *text, int *ret_fd);
/* The text of a sealed memfd (NUL-terminated, at most max bytes). -EBADMSG if fd is not a
 * fully sealed memfd or holds a NUL byte: nobody but us could have written such a text. */
int sealed_memfd_read(int fd, size_t max, char **ret);

/* Hand fd to systemd's fd store under name (FDSTORE=1, FDPOLL=0). -ENOTCONN when there is
 * no NOTIFY_SOCKET; other negative errno if the message could not be sent. */
int fdstore_put(const char *name, int fd);
/* Drop every fd stored under name (FDSTOREREMOVE=1). Errors as fdstore_put(). */
int fdstore_remove(const char *name);

/* One copy kept in the fd store under two alternating names: the new copy goes under the
 * name not in use, then the old name is removed. A crash between the two steps leaves both
 * (the newer wins), never neither, which a single name would (FDSTOREREMOVE drops every fd
 * of a name, so it must come before the FDSTORE of the same name). */
typedef struct FdStoreSlot {
        const char *names[2];
        int fd[2];                      /* our copy of what systemd holds under names[i], or -1 */
        uint64_t generation[2];         /* of that copy: the higher is the newer */
} FdStoreSlot;

#define FDSTORE_SLOT_INIT(a, b) { .names = { (a), (b) }, .fd = { -1, -1 } }

/* 0 or 1 if name is one of the slot's names, -1 if not. */
int fdstore_slot_index(const FdStoreSlot *s, const char *name);
/* Take fd, handed back under names[index]; of two under the same name the newer stays. */
void fdstore_slot_adopt(FdStoreSlot *s, int index, int fd, uint64_t generation);
/* Index of the newest copy, -1 if there is none. */
int fdstore_slot_newest(const FdStoreSlot *s);
/* Keep only the newest copy: drop the other from the store (best effort). */
void fdstore_slot_prune(FdStoreSlot *s);
/* Store fd (taken in all cases) as the new copy, then drop the old one. 0 once the new copy
 * is stored (even if the old could not be dropped: the newer wins), else negative errno. */
int fdstore_slot_replace(FdStoreSlot *s, int fd, uint64_t generation);
/* Drop every copy from the store. 0, or the first error (the copies not dropped stay). */
int fdstore_slot_drop(FdStoreSlot *s);
/* Close our copies (systemd keeps its own). */
void fdstore_slot_done(FdStoreSlot *s);
