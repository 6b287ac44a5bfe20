/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <string.h>

#include "metrics.h"

const uint64_t metrics_bucket_usec[METRICS_BUCKETS] = {
        100 * USEC_PER_MSEC, 500 * USEC_PER_MSEC,
        1 * USEC_PER_SEC, 2500 * USEC_PER_MSEC, 5 * USEC_PER_SEC, 10 * USEC_PER_SEC,
        20 * USEC_PER_SEC, 30 * USEC_PER_SEC, 60 * USEC_PER_SEC, 90 * USEC_PER_SEC,
        120 * USEC_PER_SEC, 180 * USEC_PER_SEC, 300 * USEC_PER_SEC, 600 * USEC_PER_SEC,
};

/* Varlink enum values are identifiers: the step's dashes become underscores, as in
 * systemd's interfaces. */
static const char *const metrics_kind_table[_METRICS_KIND_MAX] = {
        [SLEEP_STEP_SUSPEND] = "suspend",
        [SLEEP_STEP_HIBERNATE] = "hibernate",
        [SLEEP_STEP_HYBRID_SLEEP] = "hybrid_sleep",
        [SLEEP_STEP_SUSPEND_THEN_HIBERNATE] = "suspend_then_hibernate",
        [SLEEP_STEP_UNKNOWN] = "unknown",
        [METRICS_KIND_DRAIN] = "drain",
};

const char *metrics_kind_to_string(unsigned kind) {
        return kind < _METRICS_KIND_MAX ? metrics_kind_table[kind] : NULL;
}

unsigned metrics_result_kind(const CycleResult *r) {
        if (r->drain)
                return METRICS_KIND_DRAIN;
        if (r->step < 0 || r->step >= _SLEEP_STEP_MAX)
                return SLEEP_STEP_UNKNOWN;
        return (unsigned) r->step;
}

void duration_histogram_observe(DurationHistogram *h, uint64_t usec) {
        for (size_t i = 0; i < METRICS_BUCKETS; i++)
                if (usec <= metrics_bucket_usec[i]) {
                        h->buckets[i]++;
                        break;
                }
        h->count++;
        h->sum_usec += usec;
}

static bool result_seen(const Metrics *m, const CycleResult *r) {
        return m->seen && m->seen_ended_usec == r->ended_realtime_usec && m->seen_drain == r->drain &&
                streq(m->seen_id, r->cycle_id);
}

static void count_domain(Metrics *m, const CycleResultDomain *d) {
        m->tds_stopped += d->stopped;
        m->tds_forced_off += d->forced;
        m->tds_started += d->outcome == JOB_STARTED;
        m->tds_start_failed += d->outcome == JOB_START_FAILED;
        m->tds_stop_failed += d->outcome == JOB_STOP_FAILED;
}

bool metrics_count_result(Metrics *m, const CycleResult *r) {
        if (!r || !r->valid || result_seen(m, r))
                return false;
        m->seen = true;
        m->seen_ended_usec = r->ended_realtime_usec;
        m->seen_drain = r->drain;
        memcpy(m->seen_id, r->cycle_id, sizeof m->seen_id);
        m->cycles[metrics_result_kind(r)][cycle_result_failed(r)]++;
        for (size_t i = 0; i < r->n_domains; i++)
                count_domain(m, &r->domains[i]);
        duration_histogram_observe(&m->prepare, r->prepare_usec);
        duration_histogram_observe(&m->resume, r->resume_usec);
        return true;
}
