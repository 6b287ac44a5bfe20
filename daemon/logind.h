/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* logind over sd-bus: the delay and block sleep inhibitors, PrepareForSleep, and logind
 * coming and going (NameOwnerChanged). Follows NetworkManager's nm-sleep-monitor. */

#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-bus.h>

#include "macros.h"

typedef struct Logind Logind;

/* How logind reports: PrepareForSleep(start); logind there (with whether it prepares a
 * sleep) or gone; a lock taken or released. */
typedef struct LogindCallbacks {
        void (*on_prepare_for_sleep)(void *userdata, bool start);
        void (*on_presence)(void *userdata, bool present, bool preparing_for_sleep);
        void (*on_locks)(void *userdata);
        /* logind answered a block lock request: 0 granted, or why not (may be NULL). */
        void (*on_block_result)(void *userdata, int error);
} LogindCallbacks;

int logind_new(sd_bus *bus, const LogindCallbacks *cb, void *userdata, Logind **ret);
Logind *logind_free(Logind *l);
DEFINE_TRIVIAL_CLEANUP_FUNC(Logind *, logind_free)

/* Subscribe to PrepareForSleep and logind's name; when logind is there, take the delay lock. */
int logind_start(Logind *l);

/* Adopt a delay-inhibitor fd kept across a restart in systemd's fd store. */
void logind_adopt_delay_fd(Logind *l, int fd);
/* Adopt a block lock kept in systemd's fd store under name (taken in all cases): 1, or 0
 * when name is not one of the block lock's. Its why is logind's to tell (ListInhibitors,
 * once logind is there); until then "kept across a restart of tdsleepd". */
int logind_adopt_block_fd(Logind *l, const char *name, int fd);

/* Ask for the delay lock (asynchronously) unless it is held or being asked for. */
int logind_take_delay(Logind *l);
/* Close the delay lock: logind may go on with the sleep. */
void logind_release_delay(Logind *l);
bool logind_has_delay(const Logind *l);

/* Hold a block lock with this why (NULL: release it). Re-taken when why changes; every
 * lock granted is kept in systemd's fd store (logind-block.c). */
int logind_set_block(Logind *l, const char *why);

/* Is a block lock request on its way to logind (on_block_result follows)? */
bool logind_block_pending(const Logind *l);

bool logind_is_present(const Logind *l);
/* logind is there and has said which of our locks it holds (ListInhibitors answered, or
 * we held none): a kept block lock's why is known by then. */
bool logind_locks_known(const Logind *l);
/* The why of the block lock held now, NULL if none. */
const char *logind_block_why(const Logind *l);
/* Is the block lock held now the one adopted from the fd store? */
bool logind_block_adopted(const Logind *l);
/* logind's InhibitDelayMaxUSec as last read (0 if unknown). */
uint64_t logind_inhibit_delay_max_usec(const Logind *l);
