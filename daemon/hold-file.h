/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The operator's hold as it is kept in the state directory (hold.json), so that it
 * survives a restart of tdsleepd: its reason, who took it (uid, pid, comm of the caller)
 * and when, and when it ends by itself. Written atomically like the cycle's record. */

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "macros.h"

#define HOLD_FILE_NAME "hold.json"
/* A Hold reason goes into logind's inhibitor list and the journal: one short line. */
#define HOLD_REASON_MAX 256
/* The longest hold --for accepts: a year. A hold meant to last longer needs no end. */
#define HOLD_DURATION_MAX_USEC ((uint64_t) 366 * 86400 * USEC_PER_SEC)

typedef struct Hold {
        char *reason;
        uid_t uid;              /* the caller, from SO_PEERCRED when it connected */
        pid_t pid;
        char *comm;             /* /proc/PID/comm then; NULL if it could not be read */
        uint64_t since_usec;    /* CLOCK_REALTIME */
        uint64_t until_usec;    /* CLOCK_REALTIME; 0: until Release */
        bool stored;            /* hold.json holds it: it survives a restart of tdsleepd */
} Hold;

Hold *hold_free(Hold *h);
DEFINE_TRIVIAL_CLEANUP_FUNC(Hold *, hold_free)

/* Serialise / parse (pure). Parsing checks what Hold() checks: a printable reason of at
 * most HOLD_REASON_MAX bytes, a known version; -EBADMSG otherwise. */
int hold_to_json_string(const Hold *h, char **ret);
int hold_from_json_string(const char *text, Hold **ret);

/* Write dir/hold.json atomically (0644: nothing secret in it). 0 or negative errno. */
int hold_file_save(const char *dir, const Hold *h);
/* Read dir/hold.json: 0 with *ret; -ENOENT if there is none; -EBADMSG if it is corrupt:
 * then it was renamed to dir/hold.json.corrupt-<realtime usec>, named in *ret_moved_to. */
int hold_file_load(const char *dir, Hold **ret, char **ret_moved_to);
/* Remove dir/hold.json (fine if missing), fsync dir. 0 or negative errno. */
int hold_file_remove(const char *dir);
