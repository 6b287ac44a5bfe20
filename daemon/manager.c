/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-daemon.h>

#include "config.h"
#include "config-files.h"
#include "hold.h"
#include "log.h"
#include "manager.h"
#include "messages.h"
#include "policy.h"
#include "power-watch.h"
#include "time-util.h"
#include "virt-event.h"
#include "build-config.h"

int manager_new(Manager **ret) {
        Manager *m = calloc(1, sizeof(Manager));

        if (!m)
                return -ENOMEM;
        config_init(&m->config);
        m->kernel_policy = _KERNEL_POLICY_INVALID;
        m->listen_fd = -1;
        m->started_realtime_usec = now_realtime_usec();
        *ret = m;
        return 0;
}

/* How long the exit waits for the calls libvirtd is still answering (and the dropping of
 * the connection): well within the unit's TimeoutStopSec= (30 s), so that a stopped
 * libvirtd cannot keep tdsleepd from exiting. Whatever has not come back by then is
 * abandoned: the record was saved before every request went, and the next start reads
 * libvirt's table afresh. */
#define EXIT_LIBVIRT_WAIT_USEC (5 * USEC_PER_SEC)

/* What an exit had to leave to a worker still inside libvirt: kept reachable, so that
 * the leak checkers of the sanitizer builds see it as left on purpose, not lost. */
static Executor *abandoned_executor;
static Virt *abandoned_virt;

/* Drop the connection and let the workers finish. false: a worker is still in a call,
 * and the executor and the connection are left as they are (the process exits). */
static bool manager_stop_libvirt(Manager *m) {
        if (m->virt)
                virt_close(m->virt);
        if (!m->executor)
                return true;
        if (!executor_drain(m->executor, EXIT_LIBVIRT_WAIT_USEC)) {
                log_warning("libvirtd has not answered %u call(s) within %.0fs: exiting without them",
                            executor_pending(m->executor), (double) EXIT_LIBVIRT_WAIT_USEC / USEC_PER_SEC);
                abandoned_executor = TAKE_PTR(m->executor);
                abandoned_virt = TAKE_PTR(m->virt);
                return false;
        }
        m->executor = executor_free(m->executor);
        return true;
}

Manager *manager_free(Manager *m) {
        bool abandon;

        if (!m)
                return NULL;
        manager_varlink_free(m);
        m->exiting = true;
        abandon = !manager_stop_libvirt(m);
        cycle_free(m->cycle);
        record_free(m->record);
        sd_event_source_disable_unref(m->cycle_timer);
        free(m->plan_domains);
        cpus_free(m->cpus);
        power_watch_free(m->power_watch);
        logind_free(m->logind);
        if (!abandon) {
                virt_free(m->virt);
                virt_event_unregister();
        }
        sd_event_source_disable_unref(m->sigterm_source);
        sd_event_source_disable_unref(m->sigint_source);
        sd_event_source_disable_unref(m->sighup_source);
        sd_event_source_disable_unref(m->status_timer);
        sd_event_source_disable_unref(m->budget_defer);
        sd_event_source_disable_unref(m->metrics_defer);
        sd_bus_flush_close_unref(m->bus);
        sd_event_unref(m->event);
        config_done(&m->config);
        free(m->config_path);
        free(m->config_root);
        free(m->state_dir);
        free(m->sysfs_root);
        free(m->libvirt_uri);
        free(m->socket_path);
        free(m->last_status);
        free(m->last_status_details);
        free(m->budget_key);
        free(m->budget_block_why);
        sd_event_source_disable_unref(m->hold_timer);
        hold_free(m->hold);
        free(m);
        return NULL;
}

const char *manager_libvirt_uri(const Manager *m) {
        return m->libvirt_uri ? m->libvirt_uri : m->config.libvirt_uri;
}

int manager_read_config(const Manager *m, Config *ret, ConfigOrigin **ret_origins, char **ret_error) {
        char **files = NULL;
        int r = m->config_path ? config_files_explicit(m->config_path, &files, ret_error) :
                config_files_search(m->config_root, &files, ret_error);

        if (r >= 0)
                r = config_load_files(files, ret, ret_origins, ret_error);
        strv_free(files);
        return r;
}

/* Where the config comes from, for the log. */
static const char *manager_config_source(const Manager *m) {
        return m->config_path ? m->config_path : "the search path (tdsleepd --cat-config shows it)";
}

int manager_load_config(Manager *m) {
        _cleanup_(freep) char *error = NULL;
        Config c;
        int r = manager_read_config(m, &c, NULL, &error);

        if (r < 0)
                return log_error_errno(r, "%s", error ? error : "Failed to load the configuration");
        config_done(&m->config);
        m->config = c;
        return 0;
}

int manager_reload(Manager *m, char **ret_error) {
        _cleanup_(freep) char *error = NULL;
        Config c;
        int r = manager_read_config(m, &c, NULL, &error);

        if (r < 0) {
                log_error("Rejected the new configuration, keeping the old one: %s", strna(error));
                if (ret_error)
                        *ret_error = TAKE_PTR(error);
                return r;
        }
        CycleSettings settings;

        config_done(&m->config);
        m->config = c;
        m->metrics_textfile_failed = false;     /* after a reload, a failing write is logged once more */
        log_info("Reloaded the configuration from %s", manager_config_source(m));
        cycle_settings_from_config(&m->config, &settings);
        cycle_set_settings(m->cycle, &settings);
        virt_set_uri(m->virt, manager_libvirt_uri(m));
        manager_refresh_block_lock(m);
        manager_apply_kernel_policy(m, NULL);
        manager_check_budget(m);
        return 0;
}

static void manager_on_prepare_for_sleep(void *userdata, bool start) {
        Manager *m = userdata;

        manager_kernel_picture_stale(m);        /* a new step */
        if (start) {
                log_info("logind: PrepareForSleep(true)");
                cycle_prepare_for_sleep(m->cycle);
                return;
        }
        log_info("logind: PrepareForSleep(false)");
        cycle_sleep_over(m->cycle);
}

static void manager_on_logind_changed(void *userdata, bool present, bool preparing_for_sleep) {
        Manager *m = userdata;

        manager_kernel_picture_stale(m);        /* a cycle may be taken over */
        if (present) {
                manager_check_budget_soon(m);
                manager_refresh_block_lock(m);
                cycle_on_logind(m->cycle, preparing_for_sleep);
        }
        manager_update_status(m);
}

static void manager_on_logind_locks(void *userdata) {
        manager_update_status(userdata);
}

static void manager_on_logind_block_result(void *userdata, int error) {
        manager_on_block_lock(userdata, error);
}

static const LogindCallbacks logind_callbacks = {
        .on_prepare_for_sleep = manager_on_prepare_for_sleep,
        .on_presence = manager_on_logind_changed,
        .on_locks = manager_on_logind_locks,
        .on_block_result = manager_on_logind_block_result,
};

int manager_start_logind(Manager *m) {
        int r = logind_new(m->bus, &logind_callbacks, m, &m->logind);

        if (r < 0)
                return log_error_errno(r, "Failed to set up logind: %s", STRERROR(r));
        return 0;
}

static void manager_on_domain_event(void *userdata, Domain *d, int event, int detail) {
        Manager *m = userdata;
        PlanDomain pd;

        if (m->exiting)
                return;         /* a connection made as the executor stopped: nobody listens */
        if (IN_SET(event, VIR_DOMAIN_EVENT_STARTED, VIR_DOMAIN_EVENT_STOPPED)) {
                manager_plan_domain(m, d, &pd);
                if (event == VIR_DOMAIN_EVENT_STARTED)
                        record_forget_failed_xml(m->record, d->uuid);   /* it runs again */
                cycle_on_domain(m->cycle, &pd, event == VIR_DOMAIN_EVENT_STARTED);
        }
        /* Rebuild the block lock only when a refusing TD may have come or gone. */
        if (m->refusing > 0 || (d->active && manager_domain_refuses(m, d)))
                manager_refresh_block_lock(m);
        manager_check_budget_soon(m);
        manager_update_status_soon(m);
}

static void manager_on_libvirt_changed(void *userdata) {
        Manager *m = userdata;

        if (m->exiting)
                return;

        manager_kernel_picture_stale(m);        /* the engine may plan again */
        cycle_on_libvirt(m->cycle, virt_is_connected(m->virt));
        if (virt_is_connected(m->virt)) {
                manager_refresh_block_lock(m);
                manager_check_budget_soon(m);
        } else if (!virt_is_connecting(m->virt))
                manager_block_lock_libvirt_away(m);
        manager_update_status(m);
}

static const VirtCallbacks virt_callbacks = {
        .on_domain = manager_on_domain_event,
        .on_connection = manager_on_libvirt_changed,
};

bool manager_record_degraded(const Manager *m) {
        /* The engine knows a save that failed; the record also knows a finished cycle it
         * could only mark in the fd store, and a load that went on from there. */
        return cycle_record_degraded(m->cycle) || record_degraded(m->record);
}

int manager_start_virt(Manager *m) {
        int r = virt_new(m->event, m->executor, manager_libvirt_uri(m), &virt_callbacks, m, &m->virt);

        if (r < 0)
                return log_error_errno(r, "Failed to set up libvirt: %s", STRERROR(r));
        return 0;
}

unsigned manager_count_running_tds(Manager *m) {
        Domain **domains;
        size_t n;
        unsigned count = 0;

        if (!m->virt)
                return 0;
        n = virt_domains(m->virt, &domains);
        for (size_t i = 0; i < n; i++)
                if (domains[i]->active && domain_policy_is_protected(&domains[i]->policy, m->config.protected_kinds))
                        count++;
        return count;
}

/* ---- start and run ---- */

static int on_sigterm(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        Manager *m = userdata;

        log_info("Received %s: exiting", strsignal((int) si->ssi_signo));
        return sd_event_exit(m->event, 0);
}

static int on_sighup(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        Manager *m = userdata;

        (void) sd_notify(false, "RELOADING=1");
        (void) manager_reload(m, NULL);
        (void) sd_notify(false, "READY=1");
        return 0;
}

static int manager_setup_signals(Manager *m) {
        sigset_t mask;
        int r;

        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        sigaddset(&mask, SIGHUP);
        if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
                return negative_errno();
        /* A libvirtd that dies under a call closes the socket we write to: that is an
         * EPIPE for libvirt to report, not a signal that ends us mid-cycle (systemd's
         * IgnoreSIGPIPE= hides this under the unit; by hand it does not). */
        if (signal(SIGPIPE, SIG_IGN) == SIG_ERR)
                return negative_errno();
        r = sd_event_add_signal(m->event, &m->sigterm_source, SIGTERM, on_sigterm, m);
        if (r >= 0)
                r = sd_event_add_signal(m->event, &m->sigint_source, SIGINT, on_sigterm, m);
        if (r >= 0)
                r = sd_event_add_signal(m->event, &m->sighup_source, SIGHUP, on_sighup, m);
        return r;
}

/* The locks kept in systemd's fd store by our previous run are still ours: the delay
 * lock, and the block lock, which stays until this run has decided (manager-block.c). */
static void manager_adopt_stored_fds(Manager *m) {
        char **names = NULL;
        int n = sd_listen_fds_with_names(true, &names);

        for (int i = 0; i < n; i++) {
                int fd = SD_LISTEN_FDS_START + i;

                if (names && names[i] && streq(names[i], "delay-inhibitor"))
                        logind_adopt_delay_fd(m->logind, fd);
                else if (names && names[i] && logind_adopt_block_fd(m->logind, names[i], fd) > 0)
                        m->block_lock_undecided = logind_block_adopted(m->logind);
                else if (names && names[i] && record_adopt_fd(m->record, names[i], fd) > 0)
                        ;       /* a copy of the record, or a finished cycle's marker */
                else if (m->listen_fd < 0 && sd_is_socket_unix(fd, SOCK_STREAM, 1, NULL, 0) > 0)
                        m->listen_fd = fd;      /* tdsleepd.socket: the control socket */
                else {
                        log_warning("Ignoring passed fd %d (%s)", fd, names && names[i] ? names[i] : "unnamed");
                        safe_close(fd);
                }
                free(names ? names[i] : NULL);
        }
        free(names);
}

static int manager_connect_bus(Manager *m) {
        int r = sd_bus_default_system(&m->bus);

        if (r < 0)
                return log_error_errno(r, "Failed to connect to the system bus: %s", STRERROR(r));
        /* If the bus goes, exit with failure: systemd restarts us and the state file carries on. */
        r = sd_bus_set_exit_on_disconnect(m->bus, true);
        if (r >= 0)
                r = sd_bus_attach_event(m->bus, m->event, SD_EVENT_PRIORITY_NORMAL);
        if (r < 0)
                return log_error_errno(r, "Failed to attach the bus to the event loop: %s", STRERROR(r));
        return 0;
}

int manager_start(Manager *m) {
        int r;

        r = sd_event_default(&m->event);
        if (r < 0)
                return log_error_errno(r, "Failed to create the event loop: %s", STRERROR(r));
        r = manager_setup_signals(m);
        if (r < 0)
                return log_error_errno(r, "Failed to set up signal handling: %s", STRERROR(r));
        /* Pings the watchdog at half of WATCHDOG_USEC when systemd asks for it. */
        r = sd_event_set_watchdog(m->event, true);
        if (r < 0)
                log_warning_errno(r, "Failed to enable the watchdog, ignoring: %s", STRERROR(r));
        r = manager_connect_bus(m);
        if (r < 0)
                return r;
        r = virt_event_register(m->event);
        if (r < 0)
                return log_error_errno(r, "Failed to hook libvirt into the event loop: %s", STRERROR(r));
        r = manager_start_cycle(m);
        if (r < 0)
                return r;
        r = manager_start_logind(m);
        if (r < 0)
                return r;
        manager_adopt_stored_fds(m);
        r = manager_load_record(m);
        if (r < 0)
                return r;
        hold_restore(m);
        r = manager_start_virt(m);
        if (r < 0)
                return r;
        manager_apply_kernel_policy(m, NULL);
        r = manager_start_power_watch(m);
        if (r < 0)
                return r;
        r = manager_start_cpus(m);
        if (r < 0)
                return r;
        r = manager_varlink_start(m);
        if (r < 0)
                return r;
        virt_connect(m->virt);
        return logind_start(m->logind);
}

/* How long READY waits for the first connection to libvirt. */
#define READY_CONNECT_WAIT_USEC (5 * USEC_PER_SEC)

/* READY once the first connection is made or has failed, so that whoever starts after
 * tdsleepd sees libvirt's table; but not later than READY_CONNECT_WAIT_USEC, so that a
 * stalled libvirtd does not hold up the start (the connection goes on meanwhile). The
 * loop serves everything while it waits. */
static void manager_wait_first_connection(Manager *m) {
        uint64_t now, end;

        if (sd_event_now(m->event, CLOCK_MONOTONIC, &now) < 0)
                return;
        end = now + READY_CONNECT_WAIT_USEC;
        while (virt_is_connecting(m->virt) && now < end && sd_event_get_state(m->event) != SD_EVENT_FINISHED) {
                if (sd_event_run(m->event, end - now) < 0 || sd_event_now(m->event, CLOCK_MONOTONIC, &now) < 0)
                        return;
        }
}

int manager_run(Manager *m) {
        int r = 0;

        manager_wait_first_connection(m);
        manager_update_status(m);
        (void) sd_notify(false, "READY=1");
        log_info("tdsleepd " PACKAGE_VERSION " running: libvirt %s, state in %s, sysfs below %s",
                 manager_libvirt_uri(m), m->state_dir, m->sysfs_root);
        if (sd_event_get_state(m->event) == SD_EVENT_FINISHED)
                (void) sd_event_get_exit_code(m->event, &r);    /* asked to stop while waiting */
        else
                r = sd_event_loop(m->event);
        (void) sd_notify(false, "STOPPING=1");
        return r;
}
