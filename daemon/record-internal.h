/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The Record's fields, shared by record.c (the cycle's record) and record-failed.c (the
 * XML kept of TDs that could not be re-created). */

#include <stdint.h>

#include "fdstore.h"
#include "record.h"

/* The marker names the cycle whose file is stuck on disk, the one just finished, and a few
 * older ones in case a file could not be read to learn its id. */
#define FINISHED_MAX 8

struct Record {
        char *dir;
        FdStoreSlot copy;               /* the record, when the disk refused it */
        FdStoreSlot marker;             /* the cycles that are finished though a file may remain */
        char finished[FINISHED_MAX][ID128_STRING_MAX];
        size_t n_finished;
        char disk_cycle_id[ID128_STRING_MAX];   /* whose file is on disk; "" if none or not known */
        uint64_t generation;            /* the highest seen: every copy written goes above it */
        bool degraded;
        /* The failed/<uuid>.xml files (names, lowercase) this process knows of: read
         * from the directory once, then kept up to date by keep and forget. */
        char **failed_names;
        size_t n_failed_names;
        bool failed_names_known;
};

/* Free what record-failed.c keeps in r (record_free). */
void record_failed_names_done(Record *r);
