/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The durable record of a cycle: the state file in the state directory, with a second copy
 * in systemd's fd store when the disk refuses, and a marker there that keeps a finished
 * cycle from ever being replayed. No destructive step may go ahead without one of them. */

#include <stdbool.h>

#include "macros.h"
#include "state.h"

#define RECORD_FDNAME "cycle-record"
#define RECORD_FINISHED_FDNAME "cycle-finished"
#define RECORD_FAILED_DIR "failed"

typedef struct Record Record;

int record_new(const char *dir, Record **ret);
Record *record_free(Record *r);
DEFINE_TRIVIAL_CLEANUP_FUNC(Record *, record_free)

/* An fd handed back by systemd's fd store (sd_listen_fds_with_names): 1 if it is one of ours
 * ("cycle-record", "cycle-finished", or either with "-2": a copy is replaced by storing it
 * under the other name first) and the record took it, 0 if not (the caller keeps it). Call
 * for every passed fd before record_load(). */
int record_adopt_fd(Record *r, const char *name, int fd);

/* The record to go on with: the newest (generation) of the disk copy and the fd-store copy.
 * 0 with *ret filled; -ENOENT when there is nothing to go on with: no record, an idle one
 * (phase idle and no Drain in force), a finished one (named by the fd store's finished
 * marker: never replayed, its stale file removed when possible), or one from another boot
 * (logged at crit naming its TDs, moved to cycle.json.earlier-boot-<usec>). A corrupt file
 * is moved to cycle.json.corrupt-<usec> and logged at crit; a corrupt or unreadable disk
 * copy yields to a valid fd-store copy. Other negative errno on I/O errors with no usable
 * fd-store copy. */
int record_load(Record *r, State *ret);

/* Make s durable: fill s->cycle_id and s->boot_id when empty, bump s->generation above any
 * copy seen, write the disk copy; when the disk refuses, put a sealed copy in the fd store.
 * RECORD_ON_DISK, RECORD_IN_FD_STORE (degraded, logged at crit once), or negative errno when
 * neither copy could be made (logged at crit). */
int record_save(Record *r, State *s);

/* The cycle s is over: remove the disk copy and the fd-store copy. When the file cannot be
 * removed, put a finished marker naming s->cycle_id in the fd store, so that a restarted
 * tdsleepd never replays it (logged at crit). 0, or negative errno when neither worked. */
int record_finish(Record *r, const State *s);

/* The state directory the record lives in. */
const char *record_dir(const Record *r);

/* The last save or finish did not reach the disk, or what was loaded still depends on the
 * fd store (the newer copy is there, or a finished cycle's file could not be removed). */
bool record_degraded(const Record *r);

/* A transient TD that could not be re-created: write its XML to <dir>/failed/<uuid>.xml
 * (atomically, 0600) so the operator can `virsh create` it; *ret_path names the file.
 * -ENODATA if d has no XML. */
int record_keep_failed_xml(Record *r, const StateDomain *d, char **ret_path);
/* The TD runs again (or the operator dropped it): remove <dir>/failed/<uuid>.xml if present. */
void record_forget_failed_xml(Record *r, const char *uuid);
