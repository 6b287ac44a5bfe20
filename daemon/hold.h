/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The operator's hold (Hold/Release): a logind block lock, and a Hold() that answers
 * only once logind has granted it. On a refusal the previous hold comes back, so a
 * failed Hold changes nothing. */

#include <stdbool.h>

#include "manager.h"
#include "varlink.h"

/* Hold for reason (taken over): the block lock is asked for, and link answered when
 * logind has (NULL link: a oneway call, nobody to answer). -EBUSY while one waits. */
int hold_request_start(Manager *m, Varlink *link, char *reason);
/* Release: drop the hold; a Hold still waiting is withdrawn (its caller gets ECANCELED). */
void hold_release(Manager *m);
/* Forget a waiting Hold without answering it (the Manager is going away). */
void hold_request_free(Manager *m);
