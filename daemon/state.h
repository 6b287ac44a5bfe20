/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The durable cycle state: which TDs tdsleepd stopped, with the XML to bring them back.
 * Written atomically (temp file, fsync, rename, fsync dir) before any destructive step. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "plan.h"

#define STATE_FILE_NAME "cycle.json"
#define UUID_STRING_MAX 37

typedef enum CyclePhase {
        CYCLE_PHASE_IDLE,
        CYCLE_PHASE_PREPARING,
        CYCLE_PHASE_READY,      /* prepared; the host may sleep */
        CYCLE_PHASE_RESUMING,
        _CYCLE_PHASE_MAX,
        _CYCLE_PHASE_INVALID = -EINVAL,
} CyclePhase;

DECLARE_STRING_TABLE(cycle_phase, CyclePhase);

#define ID128_STRING_MAX 33

/* Where a saved record went. */
typedef enum RecordDurability {
        RECORD_ON_DISK,
        RECORD_IN_FD_STORE,     /* the disk refused; systemd's fd store holds it: degraded */
} RecordDurability;

typedef struct StateDomain {
        char uuid[UUID_STRING_MAX];
        char *name;
        char *xml;              /* saved before the stop; re-creates a transient TD */
        bool persistent;
        bool started;           /* started again after resume: never start twice */
        bool drained;           /* stopped for the operator's Drain: stays stopped until Restore */
} StateDomain;

typedef struct State {
        CyclePhase phase;
        SleepStep step;
        bool drained;                   /* the operator's Drain is in force until Restore */
        MemSleep mem_sleep_restore;     /* _MEM_SLEEP_INVALID: nothing to restore */
        uint64_t started_realtime_usec;
        char cycle_id[ID128_STRING_MAX];/* 32 hex digits; a finished cycle is never replayed */
        char boot_id[ID128_STRING_MAX]; /* the boot it ran in */
        uint64_t generation;            /* bumped by every save: the newest copy wins */
        StateDomain *domains;
        size_t n_domains;
} State;

/* 8-4-4-4-12 hex digits (either case), as libvirt prints a domain's UUID. */
bool uuid_string_valid(const char *uuid);
/* 32 lowercase hex digits, as sd_id128_to_string() prints a cycle or boot id. */
bool id128_string_valid(const char *id);

void state_init(State *s);
void state_done(State *s);

/* Append a domain (copies the strings). Returns -EEXIST if uuid is already there. */
int state_add_domain(State *s, const char *uuid, const char *name, const char *xml, bool persistent);
StateDomain *state_find_domain(State *s, const char *uuid);

/* Load dir/cycle.json (version 1 or 2; a version-1 file has empty ids, generation 0 and
 * nothing drained). 0 on success; -ENOENT if there is none; -EBADMSG if it is
 * corrupt: then it was renamed to dir/cycle.json.corrupt-<realtime usec> and
 * *ret_moved_to (if given) names that file. Other negative errno on I/O errors. */
int state_load(const char *dir, State *ret, char **ret_moved_to);
/* Rename dir/cycle.json to dir/cycle.json.<why>-<realtime usec> (the operator reads it
 * there), fsync dir; *ret_moved_to (if given) names the new file. 0 or negative errno. */
int state_move_aside(const char *dir, const char *why, char **ret_moved_to);
/* Write atomically: dir/cycle.json.tmp, fsync, rename, fsync dir. A State with an empty
 * cycle_id is written as version 1 (-EINVAL if it uses a field only version 2 has); with
 * a cycle id, both ids must be valid (-EINVAL otherwise). */
int state_save(const char *dir, const State *s);
/* Remove dir/cycle.json (fine if missing), fsync dir. */
int state_clear(const char *dir);

/* Serialise / parse (pure, for tests and for the control socket). */
int state_to_json_string(const State *s, char **ret);
int state_from_json_string(const char *text, State *ret);
