/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* tdsleepctl history's reading side: tdsleepd's cycle entries from a journal, through
 * sd-journal, into common/history.h's History. */

#include <stdint.h>

#include "history.h"

typedef struct HistorySource {
        const char *directory;          /* --directory: a journal directory, or NULL */
        char **files;                   /* --file: journal files (NULL-terminated), or NULL */
        uint64_t since_usec;            /* --since, CLOCK_REALTIME; 0: from the start */
} HistorySource;

/* Read every cycle entry of the source into ret (empty first). 0, or a negative errno
 * after saying on stderr what failed. */
int history_read_journal(const HistorySource *src, History *ret);
