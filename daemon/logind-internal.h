/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* What logind.c (the delay lock, logind's signals and presence) and logind-block.c (the
 * block lock) share. Not for other modules: they see logind.h. */

#include "fdstore.h"
#include "logind.h"

#define LOGIND_SERVICE "org.freedesktop.login1"
#define LOGIND_PATH "/org/freedesktop/login1"
#define LOGIND_MANAGER "org.freedesktop.login1.Manager"
#define DELAY_FDNAME "delay-inhibitor"
/* The block lock's two names in systemd's fd store (FdStoreSlot): a replaced lock is
 * stored under the other name before the old one is dropped. */
#define BLOCK_FDNAME "block-inhibitor"
#define BLOCK_FDNAME_2 "block-inhibitor-2"

struct Logind {
        const LogindCallbacks *cb;
        void *userdata;
        sd_bus *bus;
        bool present;
        bool locks_checked;             /* since logind appeared, ListInhibitors told which locks it holds */
        bool preparing_for_sleep;
        uint64_t inhibit_delay_max_usec;
        int delay_fd;
        sd_bus_slot *delay_call;        /* Inhibit(delay) in flight */
        int block_fd;
        char *block_why;
        bool block_adopted;             /* block_fd came from the fd store; block_why is logind's to tell */
        FdStoreSlot block_store;        /* our copies of the block lock(s) systemd keeps for us */
        uint64_t block_generation;      /* of the last copy stored */
        sd_bus_slot *block_call;
        char *block_call_why;
        sd_bus_slot *prepare_match;
        sd_bus_slot *owner_match;
        sd_bus_slot *owner_call;
        sd_bus_slot *props_call;
        sd_bus_slot *list_call;
};

/* Inhibit("sleep", "tdsleepd", why, mode), answered to cb. */
int logind_call_inhibit(Logind *l, const char *why, const char *mode, sd_bus_message_handler_t cb,
                        sd_bus_slot **ret_slot);
/* The lock fd of Inhibit()'s reply (our own copy), or the error logind answered. */
int logind_read_inhibit_fd(sd_bus_message *reply, int *ret_fd);

/* logind does not list our block lock (it restarted and forgot it): close it and drop it
 * from the fd store, so that it is taken again. */
void logind_block_forget(Logind *l);
/* logind listed n_listed block locks of ours, the last with this why: the reason of a
 * lock adopted from the fd store, when exactly one is listed. */
void logind_block_listed(Logind *l, unsigned n_listed, const char *why);
