/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The sleep block lock: taken with a why, replaced when the why changes (the old lock
 * covers us until the new one is granted), and kept in systemd's fd store, so that a
 * crash of tdsleepd does not let the host sleep before the restarted daemon has decided
 * again. A replaced lock goes under the other of two names (FdStoreSlot) before the old
 * one is dropped: a crash in between leaves both in the store, never neither. */

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "log.h"
#include "logind-internal.h"

/* The why shown for a lock from the fd store until logind's list names it. */
#define ADOPTED_WHY "kept across a restart of tdsleepd"

bool logind_block_pending(const Logind *l) {
        return l->block_call != NULL;
}

const char *logind_block_why(const Logind *l) {
        return l->block_fd >= 0 ? l->block_why : NULL;
}

bool logind_block_adopted(const Logind *l) {
        return l->block_fd >= 0 && l->block_adopted;
}

/* Drop our block lock(s) from the fd store. Our copies are closed whatever systemd says:
 * it empties the store when tdsleepd stops. */
static void block_store_drop(Logind *l) {
        int r = fdstore_slot_drop(&l->block_store);

        if (r < 0 && r != -ENOTCONN)
                log_error_errno(r, "Failed to drop the sleep block lock from systemd's fd store: %s; systemd holds "
                                "it until tdsleepd stops", STRERROR(r));
        fdstore_slot_done(&l->block_store);
}

/* Keep a copy of the lock fd in the fd store, as the slot's new copy. Without a fd store
 * (tdsleepd run by hand: no NOTIFY_SOCKET) there is nothing to keep. */
static void block_store_keep(Logind *l, int fd) {
        int copy = fcntl(fd, F_DUPFD_CLOEXEC, 3), r;

        if (copy < 0) {
                r = negative_errno();
        } else {
                r = fdstore_slot_replace(&l->block_store, copy, ++l->block_generation);
                if (r >= 0 || r == -ENOTCONN)
                        return;
        }
        /* The copy stored before, if any, stays: a block lock, until we release. */
        log_warning_errno(r, "Failed to keep the sleep block lock in systemd's fd store: %s; a crash of tdsleepd "
                          "would let the host sleep until it has restarted", STRERROR(r));
}

/* Close the lock and every copy we keep of it. */
static void block_close(Logind *l) {
        block_store_drop(l);
        l->block_fd = safe_close(l->block_fd);
        l->block_why = mfree(l->block_why);
        l->block_adopted = false;
}

int logind_adopt_block_fd(Logind *l, const char *name, int fd) {
        int i = fdstore_slot_index(&l->block_store, name);
        struct stat st;

        if (i < 0)
                return 0;
        /* logind's lock is the write end of a FIFO: anything else is not ours to keep. */
        if (fstat(fd, &st) < 0 || !S_ISFIFO(st.st_mode)) {
                log_warning("Ignoring a stored %s that is not a lock", name);
                safe_close(fd);
                (void) fdstore_remove(name);
                return 1;
        }
        fdstore_slot_adopt(&l->block_store, i, fd, 0);
        if (l->block_fd >= 0)
                return 1;       /* the second of a replace that a crash cut short: kept in the slot */
        l->block_fd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
        if (l->block_fd < 0) {
                log_error_errno(errno, "Failed to adopt the stored sleep block lock: %s", STRERROR(errno));
                return 1;       /* the slot's copy still holds it, until the first decision */
        }
        l->block_why = strdup(ADOPTED_WHY);
        l->block_adopted = true;
        log_info("Kept the sleep block lock across the restart: sleep stays blocked until tdsleepd has decided "
                 "again (hold restored, libvirt's domains listed, the stop budget checked)");
        return 1;
}

void logind_block_forget(Logind *l) {
        block_close(l);
}

void logind_block_listed(Logind *l, unsigned n_listed, const char *why) {
        char *copy;

        /* Two listed: a crash cut a replace short. Which fd is which, logind does not say;
         * the first decision takes the lock again with its own why. */
        if (!l->block_adopted || n_listed != 1 || !why || (l->block_why && !streq(l->block_why, ADOPTED_WHY)))
                return;
        copy = strdup(why);
        if (!copy)
                return;
        free(l->block_why);
        l->block_why = copy;
        log_info("The sleep block lock kept across the restart: %s", why);
}

static int on_block_reply(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
        Logind *l = userdata;
        int fd = -1, r;

        l->block_call = sd_bus_slot_unref(l->block_call);
        r = logind_read_inhibit_fd(reply, &fd);
        if (r < 0) {
                log_error_errno(r, "Failed to take the sleep block lock: %s", STRERROR(r));
                l->block_call_why = mfree(l->block_call_why);
                if (l->cb->on_block_result)
                        l->cb->on_block_result(l->userdata, r);
                return 0;
        }
        /* Swap: the old lock covers us (and stays in the fd store) until the new one is
         * stored; storing it drops the old copies. */
        block_store_keep(l, fd);
        safe_close(l->block_fd);
        l->block_fd = fd;
        l->block_adopted = false;
        free(l->block_why);
        l->block_why = TAKE_PTR(l->block_call_why);
        log_info("Holding a sleep block lock: %s", l->block_why);
        l->cb->on_locks(l->userdata);
        if (l->cb->on_block_result)
                l->cb->on_block_result(l->userdata, 0);
        return 0;
}

int logind_set_block(Logind *l, const char *why) {
        int r;

        /* The same lock is on its way: asking again would only replace it. */
        if (why && l->block_call && l->block_call_why && streq(l->block_call_why, why))
                return 0;
        l->block_call = sd_bus_slot_unref(l->block_call);
        l->block_call_why = mfree(l->block_call_why);
        if (!why) {
                if (l->block_fd >= 0)
                        log_info("Released the sleep block lock");
                block_close(l);
                return 0;
        }
        if (l->block_fd >= 0 && l->block_why && streq(l->block_why, why))
                return 0;
        if (!l->present)
                return 0;       /* taken when logind appears */
        l->block_call_why = strdup(why);
        if (!l->block_call_why)
                return -ENOMEM;
        r = logind_call_inhibit(l, why, "block", on_block_reply, &l->block_call);
        if (r < 0)
                return log_error_errno(r, "Failed to ask logind for a sleep block lock: %s", STRERROR(r));
        return 0;
}
