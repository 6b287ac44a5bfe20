/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The host's side of sleep for the manager: the kernel's policy (mem_sleep kept at
 * s2idle when asked) and the CPU packages TDX needs online. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "manager.h"
#include "messages.h"
#include "policy.h"
#include "power-watch.h"

/* ---- the kernel's policy ---- */

static void manager_keep_s2idle(Manager *m, PowerPicture *p) {
        int r;

        if (p->mem_sleep_selected != MEM_SLEEP_DEEP || !(p->mem_sleep_available & POWER_MASK(MEM_SLEEP_S2IDLE)))
                return;
        r = power_write_mem_sleep(m->sysfs_root, MEM_SLEEP_S2IDLE);
        if (r < 0) {
                log_error_errno(r, "Failed to select s2idle in /sys/power/mem_sleep: %s", STRERROR(r));
                return;
        }
        p->mem_sleep_selected = MEM_SLEEP_S2IDLE;
        if (!m->exclusive_logged)
                log_struct(LOG_NOTICE, ((const char *[]) { MESSAGE_KERNEL_POLICY, "TDSLEEP_KERNEL_POLICY=exclusive",
                                                           "TDSLEEP_MEM_SLEEP=s2idle", NULL }),
                           "Kernel policy exclusive: TDX is on, so the kernel disabled S3 at boot and an S3 "
                           "attempt would fail late, after devices were suspended. Selected s2idle in "
                           "/sys/power/mem_sleep: a suspend keeps TDs running");
        m->exclusive_logged = true;
}

static void manager_log_kernel_policy(Manager *m, KernelPolicy policy) {
        char field[64];

        snprintf(field, sizeof field, "TDSLEEP_KERNEL_POLICY=%s", kernel_policy_to_string(policy));
        log_struct(LOG_INFO, ((const char *[]) { MESSAGE_KERNEL_POLICY, field, NULL }), "Kernel policy: %s%s",
                   kernel_policy_to_string(policy),
                   m->config.kernel_policy == KERNEL_POLICY_AUTO ? " (detected)" : "");
}

int manager_apply_kernel_policy(Manager *m, PowerPicture *ret) {
        _cleanup_(freep) char *error = NULL;
        PowerPicture p;
        KernelPolicy policy;
        int r = power_read(m->sysfs_root, &p, &error);

        if (r < 0) {
                log_error("Failed to read the kernel's sleep states: %s", strna(error));
                p = (PowerPicture) { .mem_sleep_selected = _MEM_SLEEP_INVALID };
        } else {
                policy = policy_effective(m->config.kernel_policy, &p);
                if (policy != m->kernel_policy)
                        manager_log_kernel_policy(m, policy);
                m->kernel_policy = policy;
                if (policy == KERNEL_POLICY_EXCLUSIVE)
                        manager_keep_s2idle(m, &p);
        }
        m->power = p;
        m->power_result = r;
        m->power_fresh = true;
        if (ret)
                *ret = p;
        return r;
}

int manager_kernel_picture(Manager *m, PowerPicture *ret) {
        if (!m->power_fresh)
                return manager_apply_kernel_policy(m, ret);
        *ret = m->power;
        return m->power_result;
}

void manager_kernel_picture_stale(Manager *m) {
        m->power_fresh = false;
}

static void on_power_changed(void *userdata) {
        manager_kernel_picture_stale(userdata);
}

int manager_start_power_watch(Manager *m) {
        int r = power_watch_new(m->event, m->sysfs_root, on_power_changed, m, &m->power_watch);

        if (r < 0)
                return log_error_errno(r, "Failed to watch the kernel's sleep picture: %s", STRERROR(r));
        return 0;
}

/* ---- CPU packages ---- */

void manager_ensure_cpus_online(Manager *m) {
        _cleanup_(freep) char *error = NULL;
        unsigned onlined = 0;
        int r;

        if (!m->cpus || !m->config.online_cpus || cpu_picture_n_empty(cpus_picture(m->cpus)) == 0)
                return;
        r = cpus_online_empty_packages(m->cpus, &onlined, &error);
        if (r < 0)
                log_error("Failed to bring a CPU online in every package (OnlineCPUs=yes): %s; "
                          "creating or tearing down TDs may fail with EIO", strna(error));
        if (onlined > 0)
                log_notice("Brought %u CPU%s online so that every CPU package has one (OnlineCPUs=yes)",
                           onlined, onlined == 1 ? "" : "s");
}

static void manager_log_package_emptied(const char *emptied, unsigned tds) {
        _cleanup_(freep) char *packages = NULL;
        char running[64];

        snprintf(running, sizeof running, "TDSLEEP_TDS_RUNNING=%u", tds);
        if (asprintf(&packages, "TDSLEEP_CPU_PACKAGES=%s", emptied) < 0)
                packages = NULL;
        log_struct(tds > 0 ? LOG_WARNING : LOG_NOTICE,
                   ((const char *[]) { MESSAGE_CPU_PACKAGE_EMPTIED, running, packages, NULL }),
                   "CPU package %s has no online CPU any more: %s", emptied,
                   tds > 0 ? "no TD can be created, and the running ones cannot be torn down, "
                             "until one is online again" :
                             "no TD can be created until one is online again");
}


static void on_cpus_changed(void *userdata, const CpuPicture *old, const CpuPicture *now) {
        Manager *m = userdata;
        _cleanup_(freep) char *emptied = NULL;
        unsigned tds;

        if (cpu_picture_format_empty(now, old, &emptied) >= 0 && !isempty(emptied)) {
                tds = manager_count_running_tds(m);
                manager_log_package_emptied(emptied, tds);
        }
        manager_on_cpus_event(m);
        manager_update_status(m);
}

/* ---- events from the modules ---- */

int manager_start_cpus(Manager *m) {
        _cleanup_(freep) char *error = NULL;
        int r = cpus_new(m->event, m->sysfs_root, on_cpus_changed, m, &m->cpus);

        if (r < 0)
                return log_error_errno(r, "Failed to set up the CPU monitor: %s", STRERROR(r));
        r = cpus_start(m->cpus, &error);
        if (r < 0) {
                /* TDs can still be stopped and started; only the package rules go unwatched. */
                log_error("Failed to read the CPU packages: %s; not watching them", strna(error));
                m->cpus = cpus_free(m->cpus);
                return 0;
        }
        on_cpus_changed(m, NULL, cpus_picture(m->cpus));        /* say now if a package is empty */
        return 0;
}
