/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Past cycles rebuilt from tdsleepd's journal entries (tdsleepctl history). Pure: the
 * caller reads the journal and hands over each entry's fields; this groups them by
 * TDSLEEP_CYCLE_ID and says what each cycle did. tdsleep.journal-fields(7) documents
 * the fields. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "macros.h"

#define HISTORY_USEC_UNKNOWN UINT64_MAX

typedef struct HistoryDomain {
        char *name;
        char *uuid;
        char *outcome;          /* started, start-failed, left-running, stop-failed, dropped, stopped */
        bool stopped;           /* tdsleepd stopped it (forced off included) */
        bool forced_off;
        char *error;            /* NULL: none */
} HistoryDomain;

typedef struct HistoryCycle {
        char *id;               /* 32 hex digits */
        char *step;             /* suspend, hibernate, ..., drain; "drain+suspend" for a sleep while drained */
        uint64_t started_usec;  /* CLOCK_REALTIME; HISTORY_USEC_UNKNOWN when no entry says */
        uint64_t ended_usec;    /* the end entry's time; HISTORY_USEC_UNKNOWN: not over (or not seen) */
        uint64_t duration_usec, prepare_usec, resume_usec, lock_held_usec;     /* or HISTORY_USEC_UNKNOWN */
        unsigned stopped, forced_off, left_running, stop_failed, started, start_failed;
        bool prepared;          /* the end of the prepare was seen */
        bool done;              /* the end of the cycle was seen */
        HistoryDomain *domains; /* from the per-TD outcome entries, in their order */
        size_t n_domains;
} HistoryCycle;

typedef struct History {
        HistoryCycle *cycles;   /* in the order their first entry came */
        size_t n_cycles;
} History;

/* The MESSAGE_IDs history_add_entry() reads: match on these to read no other entry. */
extern const char *const history_message_ids[];

/* Take one journal entry: realtime_usec is its __REALTIME_TIMESTAMP, fields its n
 * "KEY=value" strings. Entries with no TDSLEEP_CYCLE_ID or another MESSAGE_ID are
 * ignored (0); -ENOMEM leaves h as it was before the entry or with the entry in part. */
int history_add_entry(History *h, uint64_t realtime_usec, const char *const *fields, size_t n);
void history_done(History *h);

/* TDs that did not come through: stop failed, left running, start failed. */
unsigned history_cycle_failures(const HistoryCycle *c);

/* --since TIME: "@SECONDS" (the epoch), "now", "today", "yesterday", "YYYY-MM-DD",
 * "YYYY-MM-DD HH:MM[:SS]" (local time), or "-N" with a unit s, min, h, d, w (before now).
 * 0 with *ret in CLOCK_REALTIME µs, or -EINVAL. */
int history_parse_time(const char *s, uint64_t now_usec, uint64_t *ret);
