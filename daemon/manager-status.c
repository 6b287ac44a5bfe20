/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The status line: sd_notify STATUS=, and the status event on the control socket for a
 * change no other event reports. Phase, lock and libvirt changes go out at once; those
 * that follow domain events at most every STATUS_INTERVAL_USEC, so that a resume of a
 * thousand TDs does not send a thousand notifications (each a new socket and eleven
 * system calls) while it competes with libvirtd for the CPU. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-daemon.h>

#include "manager.h"

#define STATUS_INTERVAL_USEC (100 * USEC_PER_MSEC)

/* Everything in the line after the phase. The CPU part only with_cpus: a cpus event
 * reports its changes. */
static char *status_details(Manager *m, bool with_cpus) {
        char *details = NULL;

        if (asprintf(&details, "%s%s%s; %u TDs running; delay lock %s; libvirt %s%s%s",
                     cycle_is_drained(m->cycle) ? " (drained)" : "",
                     cycle_awaiting_hook(m->cycle) ? " (waiting for the sleep hook)" : "",
                     cycle_awaiting_libvirt(m->cycle) ? " (waiting for libvirt)" : "",
                     manager_count_running_tds(m), logind_has_delay(m->logind) ? "held" : "released",
                     virt_is_connected(m->virt) ? "connected" : "disconnected",
                     with_cpus && m->cpus && !cpu_picture_can_create_td(cpus_picture(m->cpus)) ?
                     "; TDs cannot be created: a CPU package has no online CPU" : "",
                     manager_record_degraded(m) ? "; record degraded: the disk refused it" : "") < 0)
                return NULL;
        return details;
}

/* A status event for a change of the line's details, unless a phase event follows: that
 * one carries the new line. A change of the CPU part is the cpus event's. So each change
 * is told once. */
static void status_event_if_new(Manager *m, bool phase_event_follows) {
        _cleanup_(freep) char *details = status_details(m, false);

        if (!details || (m->last_status_details && streq(m->last_status_details, details)))
                return;
        if (m->last_status_details && !phase_event_follows)     /* the first line is no change */
                manager_on_status_event(m, manager_status_line(m));
        free(m->last_status_details);
        m->last_status_details = TAKE_PTR(details);
}

static void update_status(Manager *m, bool phase_event_follows) {
        _cleanup_(freep) char *details = NULL;
        char *status = NULL;

        if (!m->cycle || !m->virt || !m->logind)
                return;
        if (m->status_timer)    /* a pending update: this one is as new */
                (void) sd_event_source_set_enabled(m->status_timer, SD_EVENT_OFF);
        manager_metrics_changed(m);
        details = status_details(m, true);
        if (!details || asprintf(&status, "STATUS=%s%s", cycle_phase_to_string(cycle_phase(m->cycle)), details) < 0)
                return;
        if (m->last_status && streq(m->last_status, status)) {
                free(status);
                return;
        }
        (void) sd_notify(false, status);
        (void) sd_event_now(m->event, CLOCK_MONOTONIC, &m->status_sent_usec);
        free(m->last_status);
        m->last_status = status;
        status_event_if_new(m, phase_event_follows);
}

void manager_update_status(Manager *m) {
        update_status(m, false);
}

void manager_update_status_for_phase(Manager *m) {
        update_status(m, true);
}

static int on_status_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        manager_update_status(userdata);
        return 0;
}

void manager_update_status_soon(Manager *m) {
        uint64_t now = 0, due = m->status_sent_usec + STATUS_INTERVAL_USEC;
        int enabled = SD_EVENT_OFF, r;

        if (m->status_timer && sd_event_source_get_enabled(m->status_timer, &enabled) >= 0 &&
            enabled != SD_EVENT_OFF)
                return;         /* due already: it will tell this change too */
        (void) sd_event_now(m->event, CLOCK_MONOTONIC, &now);
        due = MAX(due, now);    /* quiet for a while: at the end of this iteration */
        if (!m->status_timer)
                r = sd_event_add_time(m->event, &m->status_timer, CLOCK_MONOTONIC, due, USEC_PER_MSEC,
                                      on_status_timer, m);
        else {
                r = sd_event_source_set_time(m->status_timer, due);
                if (r >= 0)
                        r = sd_event_source_set_enabled(m->status_timer, SD_EVENT_ONESHOT);
        }
        if (r < 0)
                manager_update_status(m);       /* no timer: at once, as before */
}

const char *manager_status_line(const Manager *m) {
        return m->last_status ? m->last_status + strlen("STATUS=") : NULL;
}
