/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* What logind.c (the delay lock, logind's signals and presence) and logind-block.c (the
 * block lock) share. Not for other modules: they see logind.h. */

#include "logind.h"

#define LOGIND_SERVICE "org.freedesktop.login1"
#define LOGIND_PATH "/org/freedesktop/login1"
#define LOGIND_MANAGER "org.freedesktop.login1.Manager"
#define DELAY_FDNAME "delay-inhibitor"

struct Logind {
        const LogindCallbacks *cb;
        void *userdata;
        sd_bus *bus;
        bool present;
        bool preparing_for_sleep;
        uint64_t inhibit_delay_max_usec;
        int delay_fd;
        sd_bus_slot *delay_call;        /* Inhibit(delay) in flight */
        int block_fd;
        char *block_why;
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
