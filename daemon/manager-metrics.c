/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The metrics as tdsleepd serves them: GetMetrics over Varlink, and the Prometheus text
 * in MetricsTextfile= for node_exporter's textfile collector. The counters are counted in
 * metrics.c, the text made by common/metrics-format.c (the same code as tdsleepctl's). */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "build-config.h"
#include "log.h"
#include "manager-varlink-internal.h"
#include "manager.h"
#include "metrics-format.h"

static json_object *histogram_json(const DurationHistogram *h) {
        json_object *o = json_object_new_object(), *a = json_object_new_array();
        uint64_t cumulative = 0;

        for (size_t i = 0; i < METRICS_BUCKETS; i++) {
                json_object *b = json_object_new_object();

                cumulative += h->buckets[i];
                json_object_object_add(b, "leUSec", json_object_new_int64((int64_t) metrics_bucket_usec[i]));
                json_object_object_add(b, "count", json_object_new_int64((int64_t) cumulative));
                json_object_array_add(a, b);
        }
        json_object_object_add(o, "buckets", a);
        json_object_object_add(o, "count", json_object_new_int64((int64_t) h->count));
        json_object_object_add(o, "sumUSec", json_object_new_int64((int64_t) h->sum_usec));
        return o;
}

/* Every step and outcome, zeros included: a series that exists from the start lets
 * increase() see its first cycle. */
static json_object *cycles_json(const Metrics *mt) {
        json_object *a = json_object_new_array();

        for (unsigned kind = 0; kind < _METRICS_KIND_MAX; kind++)
                for (unsigned failed = 0; failed < 2; failed++) {
                        json_object *c = json_object_new_object();

                        json_object_object_add(c, "step", json_object_new_string(metrics_kind_to_string(kind)));
                        json_object_object_add(c, "outcome", json_object_new_string(failed ? "failure" : "success"));
                        json_object_object_add(c, "count", json_object_new_int64((int64_t) mt->cycles[kind][failed]));
                        json_object_array_add(a, c);
                }
        return a;
}

static void add_u64(json_object *o, const char *key, uint64_t v) {
        json_object_object_add(o, key, json_object_new_int64((int64_t) v));
}

static void add_gauges(Manager *m, json_object *o) {
        const CycleResult *last = cycle_last_result(m->cycle);
        const char *policy = kernel_policy_to_string(m->kernel_policy);

        json_object_object_add(o, "kernelPolicy", manager_json_enum(policy));
        json_object_object_add(o, "phase", manager_json_enum(cycle_phase_to_string(cycle_phase(m->cycle))));
        add_u64(o, "tdsRunning", manager_count_running_tds(m));
        json_object_object_add(o, "delayLock", json_object_new_boolean(logind_has_delay(m->logind)));
        json_object_object_add(o, "blockLock", json_object_new_boolean(logind_block_why(m->logind) != NULL));
        json_object_object_add(o, "hold", json_object_new_boolean(m->hold != NULL));
        json_object_object_add(o, "libvirtConnected", json_object_new_boolean(virt_is_connected(m->virt)));
        if (last->valid && last->ended_realtime_usec > 0) {
                add_u64(o, "lastCycleEndedUSec", last->ended_realtime_usec);
                json_object_object_add(o, "lastCycleFailed", json_object_new_boolean(cycle_result_failed(last)));
        }
}

json_object *manager_metrics_json(Manager *m) {
        json_object *o = json_object_new_object();
        const Metrics *mt = &m->metrics;

        /* A result the hooks have not offered yet (GetMetrics within the same iteration). */
        (void) metrics_count_result(&m->metrics, cycle_last_result(m->cycle));
        json_object_object_add(o, "version", json_object_new_string(PACKAGE_VERSION));
        add_u64(o, "startedUSec", m->started_realtime_usec);
        json_object_object_add(o, "cycles", cycles_json(mt));
        add_u64(o, "tdsStopped", mt->tds_stopped);
        add_u64(o, "tdsForcedOff", mt->tds_forced_off);
        add_u64(o, "tdsStarted", mt->tds_started);
        add_u64(o, "tdsStartFailed", mt->tds_start_failed);
        add_u64(o, "tdsStopFailed", mt->tds_stop_failed);
        json_object_object_add(o, "prepareDuration", histogram_json(&mt->prepare));
        json_object_object_add(o, "resumeDuration", histogram_json(&mt->resume));
        add_gauges(m, o);
        return o;
}

int vl_get_metrics(Varlink *link, json_object *params, VarlinkMethodFlags flags, void *userdata) {
        _cleanup_(json_object_putp) json_object *reply = json_object_new_object();
        Manager *m = userdata;
        int r;

        r = method_begin(link, m, false, params, no_parameters, NULL);
        if (r < 0)
                return r;
        json_object_object_add(reply, "metrics", manager_metrics_json(m));
        return varlink_reply(link, reply);
}

/* ---- MetricsTextfile= ---- */

/* Replace path with text at once: a temp file in the same directory, renamed over it, so
 * node_exporter never reads half a file. Its name does not end in .prom, so the
 * collector skips it if we die before the rename. No fsync: metrics need no durability,
 * and the loop must not wait for the disk. */
static int textfile_replace(const char *path, const char *text) {
        /* MetricsTextfile= is absolute and does not end in '/' (config.c). */
        const char *base = strrchr(path, '/') + 1;
        _cleanup_(freep) char *tmp = NULL;
        size_t len = strlen(text);
        int fd, r = 0;

        if (asprintf(&tmp, "%.*s.%s.XXXXXX", (int) (base - path), path, base) < 0)
                return -ENOMEM;
        fd = mkostemp(tmp, O_CLOEXEC);
        if (fd < 0)
                return -errno;
        errno = 0;      /* a short write sets none: then it is -EIO */
        if (fchmod(fd, 0644) < 0 || write(fd, text, len) != (ssize_t) len)
                r = errno > 0 ? -errno : -EIO;
        if (close(fd) < 0 && r == 0)
                r = -errno;
        if (r == 0 && rename(tmp, path) < 0)
                r = -errno;
        if (r < 0)
                (void) unlink(tmp);
        return r;
}

static void textfile_write(Manager *m) {
        _cleanup_(json_object_putp) json_object *metrics = manager_metrics_json(m);
        _cleanup_(freep) char *text = NULL;
        int r = metrics_format(metrics, &text);

        if (r >= 0)
                r = textfile_replace(m->config.metrics_textfile, text);
        if (r < 0 && !m->metrics_textfile_failed)
                log_error_errno(r, "Failed to write the metrics to %s (MetricsTextfile=): %s; not logged again "
                                "until a write succeeds", m->config.metrics_textfile, STRERROR(r));
        else if (r >= 0 && m->metrics_textfile_failed)
                log_info("Wrote the metrics to %s again", m->config.metrics_textfile);
        m->metrics_textfile_failed = r < 0;
}

static int on_metrics_defer(sd_event_source *s, void *userdata) {
        Manager *m = userdata;

        m->metrics_defer = sd_event_source_disable_unref(m->metrics_defer);
        if (m->config.metrics_textfile)
                textfile_write(m);
        return 0;
}

void manager_metrics_changed(Manager *m) {
        if (m->cycle)
                (void) metrics_count_result(&m->metrics, cycle_last_result(m->cycle));
        if (!m->config.metrics_textfile || !m->event || !m->cycle || !m->virt || !m->logind)
                return;
        /* Once per loop iteration however many changes it brought, after they settled. */
        if (!m->metrics_defer &&
            sd_event_add_defer(m->event, &m->metrics_defer, on_metrics_defer, m) < 0)
                textfile_write(m);
}
