/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The operator's hold (Hold/Release): a logind block lock, and a Hold() that answers
 * only once logind has granted it. On a refusal the previous hold comes back, so a
 * failed Hold changes nothing. A granted hold is kept in the state directory
 * (hold-file.h) and taken again when tdsleepd starts; one with an end releases itself
 * then (a CLOCK_REALTIME timer), also when that end passed while tdsleepd was down. */

#include <stdbool.h>
#include <stdint.h>

#include "hold-file.h"
#include "manager.h"
#include "varlink.h"

/* A new hold for reason, owned by the caller of link (uid and pid from SO_PEERCRED, comm
 * from /proc), starting now, ending after for_usec (0: until Release). */
int hold_new(Varlink *link, const char *reason, uint64_t for_usec, Hold **ret);

/* Hold (taken over): the block lock is asked for, and link answered when logind has
 * (NULL link: a oneway call, nobody to answer); the reply says until when and whether it
 * could be stored. -EBUSY while one waits. */
int hold_request_start(Manager *m, Varlink *link, Hold *hold);
/* Release: drop the hold and its file; a Hold still waiting is withdrawn (its caller
 * gets ECANCELED). */
void hold_release(Manager *m);
/* At start-up: take the stored hold back (the block lock follows when logind is there),
 * or release it if its end passed while tdsleepd was down. Logged either way. */
void hold_restore(Manager *m);
/* Forget a waiting Hold without answering it (the Manager is going away). */
void hold_request_free(Manager *m);

/* The hold as GetStatus shows it (holdInfo), NULL when there is none. */
json_object *hold_to_json(const Hold *h);
