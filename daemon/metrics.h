/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* tdsleepd's counters: what finished cycles did, counted from their results (CycleResult),
 * never from the log. Kept in memory only: they start at zero with the process, as
 * Prometheus counters may (rate() and increase() handle the reset; the process start
 * time is exported with them). Pure: no clock, no I/O. */

#include <stdbool.h>
#include <stdint.h>

#include "cycle.h"

/* The histograms' upper bounds: from a tenth of a second (nothing to stop) to ten
 * minutes (many TDs with long shutdown timeouts, started a few at a time). */
#define METRICS_BUCKETS 14
extern const uint64_t metrics_bucket_usec[METRICS_BUCKETS];

/* What a cycle is counted as: its sleep step, or a drain. */
#define METRICS_KIND_DRAIN _SLEEP_STEP_MAX
#define _METRICS_KIND_MAX (_SLEEP_STEP_MAX + 1)

typedef struct DurationHistogram {
        uint64_t buckets[METRICS_BUCKETS];      /* per bucket, not cumulative */
        uint64_t count;                         /* every observation, also those above the last bound */
        uint64_t sum_usec;
} DurationHistogram;

typedef struct Metrics {
        uint64_t cycles[_METRICS_KIND_MAX][2];  /* [kind][failed] */
        uint64_t tds_stopped, tds_forced_off, tds_started, tds_start_failed, tds_stop_failed;
        DurationHistogram prepare, resume;
        /* The result counted last: a result is counted once, however often it is offered. */
        bool seen;
        char seen_id[ID128_STRING_MAX];
        uint64_t seen_ended_usec;
        bool seen_drain;
} Metrics;

/* Count r if it is a result not counted yet. Returns true when it was new. */
bool metrics_count_result(Metrics *m, const CycleResult *r);
void duration_histogram_observe(DurationHistogram *h, uint64_t usec);
/* The kind a result is counted as; its name on the wire (CycleStep: "hybrid_sleep"...). */
unsigned metrics_result_kind(const CycleResult *r);
const char *metrics_kind_to_string(unsigned kind);
