/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <systemd/sd-daemon.h>

#include "fdstore.h"
#include "macros.h"

#define SEALS_ALL (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL)

static int pwrite_all(int fd, const char *p, size_t n) {
        off_t off = 0;

        while (n > 0) {
                ssize_t k = pwrite(fd, p, n, off);

                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0)
                        return -errno;
                if (k == 0)
                        return -EIO;
                p += k;
                off += k;
                n -= (size_t) k;
        }
        return 0;
}

int sealed_memfd_new(const char *name, const char *text, int *ret_fd) {
        _cleanup_(closep) int fd = -1;
        int r;

        fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
        if (fd < 0)
                return -errno;
        r = pwrite_all(fd, text, strlen(text));
        if (r < 0)
                return r;
        /* Sealed, nobody (not even a confused us) can change the copy systemd keeps. */
        if (fcntl(fd, F_ADD_SEALS, SEALS_ALL) < 0)
                return -errno;
        *ret_fd = TAKE_FD(fd);
        return 0;
}

int sealed_memfd_read(int fd, size_t max, char **ret) {
        _cleanup_(freep) char *text = NULL;
        struct stat st;
        size_t done = 0;
        int seals;

        seals = fcntl(fd, F_GET_SEALS);
        if (seals < 0)
                return errno == EINVAL ? -EBADMSG : -errno;     /* not a memfd */
        if ((seals & SEALS_ALL) != SEALS_ALL)
                return -EBADMSG;
        if (fstat(fd, &st) < 0)
                return -errno;
        if (st.st_size < 0 || (uint64_t) st.st_size > max)
                return -EBADMSG;
        text = malloc((size_t) st.st_size + 1);
        if (!text)
                return -ENOMEM;
        /* pread: the file offset is shared with the copy systemd holds. */
        while (done < (size_t) st.st_size) {
                ssize_t k = pread(fd, text + done, (size_t) st.st_size - done, (off_t) done);

                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0)
                        return -errno;
                if (k == 0)
                        return -EBADMSG;
                done += (size_t) k;
        }
        text[done] = '\0';
        if (strlen(text) != done)
                return -EBADMSG;
        *ret = TAKE_PTR(text);
        return 0;
}

/* sd_pid_notify_with_fds() returns 0 when NOTIFY_SOCKET is unset: for us that is a failure,
 * since the copy we meant to keep is nowhere. */
static int notify(const char *message, int *fds, unsigned n_fds) {
        int r = sd_pid_notify_with_fds(0, false, message, fds, n_fds);

        if (r < 0)
                return r;
        return r == 0 ? -ENOTCONN : 0;
}

int fdstore_put(const char *name, int fd) {
        _cleanup_(freep) char *message = NULL;

        /* FDPOLL=0: a memfd never hangs up, and systemd need not watch it. */
        if (asprintf(&message, "FDSTORE=1\nFDNAME=%s\nFDPOLL=0", name) < 0)
                return -ENOMEM;
        return notify(message, &fd, 1);
}

int fdstore_remove(const char *name) {
        _cleanup_(freep) char *message = NULL;

        if (asprintf(&message, "FDSTOREREMOVE=1\nFDNAME=%s", name) < 0)
                return -ENOMEM;
        return notify(message, NULL, 0);
}

int fdstore_slot_index(const FdStoreSlot *s, const char *name) {
        for (int i = 0; i < 2; i++)
                if (streq(s->names[i], name))
                        return i;
        return -1;
}

void fdstore_slot_adopt(FdStoreSlot *s, int index, int fd, uint64_t generation) {
        if (s->fd[index] >= 0 && s->generation[index] >= generation) {
                safe_close(fd);
                return;
        }
        safe_close(s->fd[index]);
        s->fd[index] = fd;
        s->generation[index] = generation;
}

int fdstore_slot_newest(const FdStoreSlot *s) {
        if (s->fd[0] < 0)
                return s->fd[1] < 0 ? -1 : 1;
        if (s->fd[1] < 0)
                return 0;
        return s->generation[1] > s->generation[0] ? 1 : 0;
}

static int fdstore_slot_drop_one(FdStoreSlot *s, int i) {
        int r;

        if (s->fd[i] < 0)
                return 0;
        r = fdstore_remove(s->names[i]);
        if (r < 0)
                return r;
        s->fd[i] = safe_close(s->fd[i]);
        return 0;
}

void fdstore_slot_prune(FdStoreSlot *s) {
        int newest = fdstore_slot_newest(s);

        if (newest >= 0)
                (void) fdstore_slot_drop_one(s, 1 - newest);
}

int fdstore_slot_replace(FdStoreSlot *s, int fd, uint64_t generation) {
        int old = fdstore_slot_newest(s), next = old < 0 ? 0 : 1 - old;
        int r;

        /* A stale copy under the name we are about to use would linger next to the new one. */
        r = fdstore_slot_drop_one(s, next);
        if (r >= 0)
                r = fdstore_put(s->names[next], fd);
        if (r < 0) {
                safe_close(fd);
                return r;
        }
        s->fd[next] = fd;
        s->generation[next] = generation;
        if (old >= 0)
                (void) fdstore_slot_drop_one(s, old);
        return 0;
}

int fdstore_slot_drop(FdStoreSlot *s) {
        int r = fdstore_slot_drop_one(s, 0);
        int k = fdstore_slot_drop_one(s, 1);

        return r < 0 ? r : k;
}

void fdstore_slot_done(FdStoreSlot *s) {
        for (int i = 0; i < 2; i++)
                s->fd[i] = safe_close(s->fd[i]);
}
