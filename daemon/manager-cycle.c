/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The cycle engine's effects, bound to the daemon: libvirt, logind, the record, sysfs and
 * one sd-event timer. The engine decides; this file only carries out and reports. */

#include <stdlib.h>
#include <time.h>
#include <systemd/sd-id128.h>

#include "log.h"
#include "manager.h"
#include "messages.h"
#include "policy.h"

static uint64_t clock_usec(clockid_t id) {
        struct timespec ts;

        clock_gettime(id, &ts);
        return (uint64_t) ts.tv_sec * USEC_PER_SEC + (uint64_t) ts.tv_nsec / NSEC_PER_USEC;
}

/* Read now, never sd-event's cached time: after a stalled libvirt call, the loop's
 * timestamp is seconds old, and a stop window measured from it would be cut short. */
static uint64_t op_now(void *userdata) {
        return clock_usec(CLOCK_MONOTONIC);
}

static uint64_t op_realtime(void *userdata) {
        return clock_usec(CLOCK_REALTIME);
}

void manager_plan_domain(Manager *m, const Domain *d, PlanDomain *ret) {
        *ret = (PlanDomain) {
                .uuid = d->uuid,
                .name = d->name,
                .active = d->active,
                .persistent = d->persistent,
                .protected = domain_policy_is_protected(&d->policy, m->config.protected_kinds),
                .action = domain_policy_action(&d->policy, &m->config),
                .timeout_usec = domain_policy_timeout_usec(&d->policy, &m->config),
        };
}

static int read_power(Manager *m, bool apply_policy, PowerPicture *ret, KernelPolicy *ret_policy) {
        int r;

        if (apply_policy) {
                r = manager_kernel_picture(m, ret);
                *ret_policy = m->kernel_policy;
                return r;
        }
        r = power_read(m->sysfs_root, ret, NULL);
        *ret_policy = r >= 0 ? policy_effective(m->config.kernel_policy, ret) : m->kernel_policy;
        return r;
}

int manager_observe(Manager *m, bool apply_policy, CycleWorld *ret) {
        Domain **domains;
        size_t n = virt_domains(m->virt, &domains);
        PlanDomain *a = m->plan_domains;
        int r;

        /* Grown, never moved for the same table: what an earlier observe returned stays
         * valid while the engine is still in the same call (the table only changes
         * between loop iterations, with libvirt's events). */
        if (n > m->n_plan_domains_max || !a) {
                a = reallocarray(m->plan_domains, n ? n : 1, sizeof(PlanDomain));
                if (!a)
                        return -ENOMEM;
                m->plan_domains = a;
                m->n_plan_domains_max = n ? n : 1;
        }
        for (size_t i = 0; i < n; i++)
                manager_plan_domain(m, domains[i], &a[i]);
        r = read_power(m, apply_policy, &ret->power, &ret->kernel_policy);
        ret->power_known = r >= 0;
        ret->libvirt_connected = virt_is_connected(m->virt);
        ret->libvirt_connecting = !ret->libvirt_connected && virt_is_first_attempt(m->virt);
        ret->domains = a;
        ret->n_domains = ret->libvirt_connected ? n : 0;
        ret->hook_reachable = manager_has_control_socket(m);
        ret->inhibit_delay_max_usec = m->logind ? logind_inhibit_delay_max_usec(m->logind) : 0;
        return 0;
}

static void op_observe(void *userdata, CycleWorld *ret) {
        Manager *m = userdata;

        if (manager_observe(m, true, ret) < 0) {
                log_error("Out of memory reading the domain table");
                *ret = (CycleWorld) { .libvirt_connected = false };
        }
}

static void on_action_done(void *userdata, uint64_t request, int result, const char *error, const char *xml) {
        Manager *m = userdata;

        if (m->exiting)
                return;         /* the engine is going away with the daemon */
        cycle_on_effect_done(m->cycle, request, result, error);
}

static void on_xml_read(void *userdata, uint64_t request, int result, const char *error, const char *xml) {
        Manager *m = userdata;

        if (m->exiting)
                return;
        if (result < 0)
                log_warning("Failed to read the XML of a transient TD: %s", strna(error));
        cycle_on_xml_read(m->cycle, request, result, xml);
}

/* The engine's requests go to the executor: the loop never waits for libvirtd. */
static int submit(Manager *m, VirtAction action, uint64_t request, const char *uuid, const char *xml,
                  bool persistent) {
        int r = virt_submit_action(m->virt, m->executor, action, uuid, xml, persistent,
                                   action == VIRT_ACTION_GET_XML ? on_xml_read : on_action_done, m, request);

        if (r == -ENOTCONN)
                return r;
        if (r < 0) {
                /* Nothing went out, and nothing else may wait for a result: report it like
                 * libvirt would, through the loop. Out of memory is the only way here. */
                log_error("Failed to submit a libvirt request for %s: %s", uuid, STRERROR(r));
                return -ENOTCONN;
        }
        return 0;
}

static int op_shutdown(void *userdata, uint64_t request, const char *uuid) {
        return submit(userdata, VIRT_ACTION_SHUTDOWN, request, uuid, NULL, true);
}

static int op_destroy(void *userdata, uint64_t request, const char *uuid) {
        return submit(userdata, VIRT_ACTION_DESTROY, request, uuid, NULL, true);
}

static int op_start(void *userdata, uint64_t request, const StateDomain *d) {
        return submit(userdata, VIRT_ACTION_START, request, d->uuid, d->xml, d->persistent);
}

static int op_get_xml(void *userdata, uint64_t request, const char *uuid) {
        return submit(userdata, VIRT_ACTION_GET_XML, request, uuid, NULL, false);
}

static int op_save(void *userdata, State *s) {
        Manager *m = userdata;

        return record_save(m->record, s);
}

static int op_finish(void *userdata, const State *s) {
        Manager *m = userdata;

        return record_finish(m->record, s);
}

static void op_keep_failed(void *userdata, const StateDomain *d) {
        Manager *m = userdata;
        _cleanup_(freep) char *path = NULL;
        int r = record_keep_failed_xml(m->record, d, &path);

        if (r < 0)
                log_error("Failed to keep the XML of transient TD %s: %s", d->name, STRERROR(r));
        else
                log_struct(LOG_ERR, ((const char *[]) { MESSAGE_TD_START_FAILED, NULL }),
                           "Transient TD %s could not be re-created; its XML is kept in %s: re-create it with "
                           "'virsh create %s', or delete the file to drop it", d->name, path, path);
}

static void op_take_delay(void *userdata) {
        Manager *m = userdata;

        (void) logind_take_delay(m->logind);
}

static void op_release_delay(void *userdata) {
        Manager *m = userdata;

        logind_release_delay(m->logind);
}

static int op_write_mem_sleep(void *userdata, MemSleep mem_sleep) {
        Manager *m = userdata;
        int r = power_write_mem_sleep(m->sysfs_root, mem_sleep);

        manager_kernel_picture_stale(m);        /* (inotify says so too, but later) */
        if (r < 0)
                log_error_errno(r, "Failed to write %s to /sys/power/mem_sleep: %s",
                                mem_sleep_to_string(mem_sleep), STRERROR(r));
        return r;
}

static void op_ensure_cpus_online(void *userdata) {
        manager_ensure_cpus_online(userdata);
}

static int on_cycle_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        Manager *m = userdata;

        cycle_on_timer(m->cycle);
        return 0;
}

static void op_arm_timer(void *userdata, uint64_t usec) {
        Manager *m = userdata;
        int r;

        if (usec == USEC_INFINITY) {
                (void) sd_event_source_set_enabled(m->cycle_timer, SD_EVENT_OFF);
                return;
        }
        r = sd_event_source_set_time(m->cycle_timer, usec);
        if (r >= 0)
                r = sd_event_source_set_enabled(m->cycle_timer, SD_EVENT_ONESHOT);
        if (r < 0)
                log_error_errno(r, "Failed to arm the cycle's timer: %s", STRERROR(r));
}

static void op_new_cycle_id(void *userdata, char *ret) {
        sd_id128_t id;

        if (sd_id128_randomize(&id) >= 0)
                sd_id128_to_string(id, ret);
}

static void op_on_phase(void *userdata) {
        manager_on_cycle_phase(userdata);
}

static void op_on_job(void *userdata, const StateDomain *d, JobState state) {
        manager_on_cycle_domain(userdata, d->name, d->uuid, job_state_to_string(state));
}

static const CycleOps cycle_ops = {
        .now = op_now,
        .realtime = op_realtime,
        .observe = op_observe,
        .shutdown = op_shutdown,
        .destroy = op_destroy,
        .start = op_start,
        .get_xml = op_get_xml,
        .save = op_save,
        .new_cycle_id = op_new_cycle_id,
        .finish = op_finish,
        .keep_failed = op_keep_failed,
        .take_delay = op_take_delay,
        .release_delay = op_release_delay,
        .write_mem_sleep = op_write_mem_sleep,
        .ensure_cpus_online = op_ensure_cpus_online,
        .arm_timer = op_arm_timer,
        .on_phase = op_on_phase,
        .on_job = op_on_job,
};

/* How many libvirt calls run at once. Each worker makes the actions on a connection of
 * its own (virt-pool.c), so libvirtd's 5 calls per connection no longer bound them; 8
 * start 8 real guests at once, as fast as a thread and a connection per guest (measured:
 * docs/THREADS.md, "Threads"). The engine bounds the requests in flight (ParallelStart=,
 * ParallelShutdown=), so a Reload needs no other pool; idle workers wait on a condition
 * variable and cost no wake-ups. */
#ifndef EXECUTOR_WORKERS        /* (a bench build may set another: -DEXECUTOR_WORKERS=N) */
#define EXECUTOR_WORKERS 8
#endif

/* The engine, its timer, and the record a previous run left. */
int manager_start_cycle(Manager *m) {
        CycleSettings settings;
        int r;

        r = record_new(m->state_dir, &m->record);
        if (r < 0)
                return log_error_errno(r, "Failed to set up the record in %s: %s", m->state_dir, STRERROR(r));
        /* 1 ms accuracy: a stop window is seconds long, but each STOPPED matters to prepare time. */
        r = sd_event_add_time(m->event, &m->cycle_timer, CLOCK_MONOTONIC, USEC_INFINITY, USEC_PER_MSEC,
                              on_cycle_timer, m);
        if (r >= 0)
                r = sd_event_source_set_enabled(m->cycle_timer, SD_EVENT_OFF);
        if (r < 0)
                return log_error_errno(r, "Failed to create the cycle's timer: %s", STRERROR(r));
        r = executor_new(m->event, EXECUTOR_WORKERS, &m->executor);
        if (r < 0)
                return log_error_errno(r, "Failed to start the libvirt workers: %s", STRERROR(r));
        cycle_settings_from_config(&m->config, &settings);
        r = cycle_new(&cycle_ops, m, &settings, &m->cycle);
        if (r < 0)
                return log_error_errno(r, "Failed to create the cycle: %s", STRERROR(r));
        return 0;
}

/* After the fd store was read: take over the record of an interrupted cycle. */
int manager_load_record(Manager *m) {
        State record;
        int r = record_load(m->record, &record);

        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return log_error_errno(r, "Failed to read the record in %s: %s", m->state_dir, STRERROR(r));
        r = cycle_adopt_record(m->cycle, &record);
        state_done(&record);
        if (r < 0)
                return log_error_errno(r, "Failed to restore the interrupted cycle: %s", STRERROR(r));
        return 0;
}
