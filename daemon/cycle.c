/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <libvirt/libvirt.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "classify.h"
#include "cycle.h"
#include "log.h"
#include "manager.h"
#include "messages.h"

/* How long a destroy may take before the TD counts as failed to stop. */
#define FORCE_OFF_TIMEOUT_USEC (10 * USEC_PER_SEC)

typedef enum JobState {
        JOB_STOP_PENDING,       /* to be shut down */
        JOB_STOPPING,           /* graceful shutdown sent, waiting for STOPPED */
        JOB_FORCING,            /* timed out: destroy sent (or to be sent when libvirt is back) */
        JOB_STOPPED,
        JOB_LEFT_RUNNING,       /* timed out with ForceOff=no */
        JOB_STOP_FAILED,
        JOB_START_PENDING,
        JOB_STARTED,
        JOB_START_FAILED,
        JOB_DROPPED,            /* never stopped by us, or running again: nothing to do */
} JobState;

static const char *const job_state_table[] = {
        [JOB_STOP_PENDING] = "stop-pending",
        [JOB_STOPPING] = "stopping",
        [JOB_FORCING] = "forcing",
        [JOB_STOPPED] = "stopped",
        [JOB_LEFT_RUNNING] = "left-running",
        [JOB_STOP_FAILED] = "stop-failed",
        [JOB_START_PENDING] = "start-pending",
        [JOB_STARTED] = "started",
        [JOB_START_FAILED] = "start-failed",
        [JOB_DROPPED] = "dropped",
};

typedef struct Job {
        Cycle *cycle;
        size_t index;           /* its entry in cycle->state.domains */
        JobState state;
        uint64_t timeout_usec;
        uint64_t began_usec;
        sd_event_source *timer;
} Job;

struct Cycle {
        Manager *m;
        State state;
        Job **jobs;             /* jobs[i] belongs to state.domains[i] */
        unsigned in_flight;     /* stops sent and not finished */
        uint64_t began_usec;
        bool restored;          /* loaded from a state file, waiting for logind to decide */
        bool sleeping;          /* a sleep is under way: PrepareForSleep(true) or the hook */
        bool awaiting_hook;     /* the host may keep or lose TDs: the hook will name the step */
        uint64_t drain_timeout_usec;    /* Drain(timeout): overrides the stop timeouts */
        uint64_t saved_usec;            /* when the state file was last written */
        sd_event_source *start_defer;
};

static uint64_t now_usec(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * USEC_PER_SEC + (uint64_t) ts.tv_nsec / NSEC_PER_USEC;
}

static double seconds_since(uint64_t t) {
        return (double) (now_usec() - t) / (double) USEC_PER_SEC;
}

static StateDomain *job_domain(const Job *j) {
        return &j->cycle->state.domains[j->index];
}

/* Log about one TD with its name and uuid as journal fields. */
_printf_(4, 5)
static void log_td(int level, const char *message_id, const Job *j, const char *fmt, ...) {
        const StateDomain *sd = job_domain(j);
        char name[256], uuid[64];
        const char *fields[] = { name, uuid, message_id, NULL };
        va_list ap;

        snprintf(name, sizeof name, "TDSLEEP_DOMAIN=%s", sd->name);
        snprintf(uuid, sizeof uuid, "TDSLEEP_UUID=%s", sd->uuid);
        va_start(ap, fmt);
        log_internalv(level, 0, fields, fmt, ap);
        va_end(ap);
}

static void job_set_timer(Job *j, uint64_t usec, sd_event_time_handler_t cb);

static Job *job_new(Cycle *c, size_t index, JobState state) {
        Job *j = calloc(1, sizeof(Job));

        if (!j)
                return NULL;
        j->cycle = c;
        j->index = index;
        j->state = state;
        return j;
}

static Job *job_free(Job *j) {
        if (j) {
                sd_event_source_disable_unref(j->timer);
                free(j);
        }
        return NULL;
}

static void jobs_clear(Cycle *c) {
        for (size_t i = 0; i < c->state.n_domains; i++)
                job_free(c->jobs[i]);
        free(c->jobs);
        c->jobs = NULL;
        c->in_flight = 0;
}

static Job *cycle_find_job(Cycle *c, const char *uuid) {
        for (size_t i = 0; i < c->state.n_domains; i++)
                if (streq(c->state.domains[i].uuid, uuid))
                        return c->jobs[i];
        return NULL;
}

static void cycle_save(Cycle *c) {
        int r = state_save(c->m->state_dir, &c->state);

        c->saved_usec = now_usec();
        if (r < 0)
                log_error_errno(r, "Failed to write the state file in %s: %s. "
                                "A restart now would not know which TDs to start again", c->m->state_dir, STRERROR(r));
}

static void cycle_begin_resume(Cycle *c);

static void cycle_set_phase(Cycle *c, CyclePhase phase) {
        c->state.phase = phase;
        manager_on_cycle_phase(c->m);
}

/* Every job state change goes through here, so subscribers see it. */
static void job_set_state(Job *j, JobState state) {
        const StateDomain *sd = &j->cycle->state.domains[j->index];

        if (j->state == state)
                return;
        j->state = state;
        manager_on_cycle_domain(j->cycle->m, sd->name, sd->uuid, job_state_table[state]);
}

/* ---- stopping ---- */

static void cycle_check_prepared(Cycle *c);
static void cycle_kick_stops(Cycle *c);

static bool job_stop_in_progress(const Job *j) {
        return IN_SET(j->state, JOB_STOP_PENDING, JOB_STOPPING, JOB_FORCING);
}

/* Leave the stopping states; the in-flight count follows the shutdowns actually sent. */
static void job_stop_done(Job *j, JobState state) {
        if (IN_SET(j->state, JOB_STOPPING, JOB_FORCING))
                j->cycle->in_flight--;
        job_set_state(j, state);
        j->timer = sd_event_source_disable_unref(j->timer);
}

static int on_force_timeout(sd_event_source *s, uint64_t usec, void *userdata) {
        Job *j = userdata;

        log_td(LOG_ERR, MESSAGE_TD_FORCED_OFF, j, "TD %s is still running %.0fs after it was forced off",
               job_domain(j)->name, (double) FORCE_OFF_TIMEOUT_USEC / USEC_PER_SEC);
        job_stop_done(j, JOB_STOP_FAILED);
        cycle_kick_stops(j->cycle);
        cycle_check_prepared(j->cycle);
        return 0;
}

static void job_send_destroy(Job *j) {
        Manager *m = j->cycle->m;
        int r = virt_destroy(m->virt, job_domain(j)->uuid);

        if (r == -ENOTCONN)
                return;         /* stays JOB_FORCING: sent again when libvirt is back */
        if (IN_SET(r, -ESRCH, -ENOENT)) {
                job_stop_done(j, JOB_STOPPED);
                return;
        }
        if (r < 0) {
                log_td(LOG_ERR, MESSAGE_TD_FORCED_OFF, j, "Failed to force off TD %s: %s",
                       job_domain(j)->name, virt_last_error());
                job_stop_done(j, JOB_STOP_FAILED);
                return;
        }
        job_set_timer(j, FORCE_OFF_TIMEOUT_USEC, on_force_timeout);
}

/* The graceful stop did not work in time: force off, or leave it with ForceOff=no. */
static void job_force(Job *j) {
        const StateDomain *sd = job_domain(j);

        if (!j->cycle->m->config.force_off) {
                log_td(LOG_WARNING, MESSAGE_TD_LEFT_RUNNING, j,
                       "TD %s did not stop within %.1fs and ForceOff=no: leaving it running; "
                       "it will not survive this sleep", sd->name, (double) j->timeout_usec / USEC_PER_SEC);
                job_stop_done(j, JOB_LEFT_RUNNING);
                return;
        }
        log_td(LOG_WARNING, MESSAGE_TD_FORCED_OFF, j, "TD %s did not stop within %.1fs, forcing it off",
               sd->name, (double) j->timeout_usec / USEC_PER_SEC);
        job_set_state(j, JOB_FORCING);
        job_send_destroy(j);
}

static int on_stop_timeout(sd_event_source *s, uint64_t usec, void *userdata) {
        Job *j = userdata;
        Cycle *c = j->cycle;

        j->timer = sd_event_source_disable_unref(j->timer);
        if (c->state.phase == CYCLE_PHASE_RESUMING) {
                /* The host is awake again and the TD still runs: nothing to start. */
                job_stop_done(j, JOB_DROPPED);
                return 0;
        }
        job_force(j);
        cycle_kick_stops(c);
        cycle_check_prepared(c);
        return 0;
}

static void job_send_shutdown(Job *j) {
        Cycle *c = j->cycle;
        const StateDomain *sd = job_domain(j);
        int r = virt_shutdown(c->m->virt, sd->uuid);

        if (r == -ENOTCONN)
                return;         /* stays pending: kicked again when libvirt is back */
        if (IN_SET(r, -ESRCH, -ENOENT)) {
                log_td(LOG_INFO, MESSAGE_TD_STOPPED, j, "TD %s was not running any more", sd->name);
                job_stop_done(j, JOB_STOPPED);
                return;
        }
        job_set_state(j, JOB_STOPPING);
        j->began_usec = now_usec();
        c->in_flight++;
        if (r < 0) {
                log_td(LOG_WARNING, NULL, j, "Failed to ask TD %s to shut down: %s", sd->name, virt_last_error());
                job_force(j);
                return;
        }
        /* Debug only: "Stopped TD ... in Ns" follows at info, with the time it took. */
        log_td(LOG_DEBUG, NULL, j, "Shutting down TD %s (timeout %.1fs)", sd->name,
               (double) j->timeout_usec / USEC_PER_SEC);
        job_set_timer(j, j->timeout_usec, on_stop_timeout);
}

static void cycle_kick_stops(Cycle *c) {
        unsigned max = c->m->config.parallel_shutdown;

        if (c->state.phase != CYCLE_PHASE_PREPARING && c->state.phase != CYCLE_PHASE_READY)
                return;
        for (size_t i = 0; i < c->state.n_domains; i++) {
                if (max > 0 && c->in_flight >= max)
                        break;
                if (c->jobs[i]->state == JOB_STOP_PENDING)
                        job_send_shutdown(c->jobs[i]);
        }
}

static void job_set_timer(Job *j, uint64_t usec, sd_event_time_handler_t cb) {
        int r;

        j->timer = sd_event_source_disable_unref(j->timer);
        r = sd_event_add_time_relative(j->cycle->m->event, &j->timer, CLOCK_MONOTONIC, usec,
                                       10 * USEC_PER_MSEC, cb, j);
        if (r < 0)
                log_error_errno(r, "Failed to arm a timer for TD %s: %s", job_domain(j)->name, STRERROR(r));
}

/* ---- preparing ---- */

static uint64_t cycle_stop_timeout(const Cycle *c, const Domain *d) {
        if (c->state.step == SLEEP_STEP_DRAIN && c->drain_timeout_usec > 0)
                return c->drain_timeout_usec;
        return domain_policy_timeout_usec(&d->policy, &c->m->config);
}

/* Record a TD to stop, with the XML that brings it back, before anything is done to it. */
static Job *cycle_add_job(Cycle *c, const Domain *d) {
        _cleanup_(freep) char *xml = NULL;
        Job **a, *j;
        int r;

        /* A transient TD vanishes when it stops: its XML is the only way back. A persistent
         * one is started by its definition (one RPC less per TD before the first stop). */
        r = d->persistent ? 0 : virt_get_xml(c->m->virt, d->uuid, &xml);
        if (r < 0)
                log_warning("Failed to save the XML of transient TD %s: %s; it cannot be re-created",
                            d->name, virt_last_error());
        a = reallocarray(c->jobs, c->state.n_domains + 1, sizeof(Job *));
        if (!a)
                return NULL;
        c->jobs = a;
        j = job_new(c, c->state.n_domains, JOB_STOP_PENDING);
        if (!j)
                return NULL;
        r = state_add_domain(&c->state, d->uuid, d->name, strempty(xml), d->persistent);
        if (r < 0) {
                job_free(j);
                return NULL;
        }
        c->jobs[j->index] = j;
        j->timeout_usec = cycle_stop_timeout(c, d);
        return j;
}

/* Mark a running TD for stopping, adding it to the cycle if it is new. */
static Job *cycle_want_stopped(Cycle *c, const Domain *d) {
        Job *j = cycle_find_job(c, d->uuid);

        if (!j)
                return cycle_add_job(c, d);
        job_stop_done(j, JOB_STOP_PENDING);
        job_domain(j)->started = false;
        j->timeout_usec = cycle_stop_timeout(c, d);
        return j;
}

static bool can_hibernate(const PowerPicture *p) {
        return (p->states & POWER_MASK(POWER_STATE_DISK)) && p->has_swap;
}

/* Does a running TD ask for s2idle steering, and can mem_sleep offer it? */
static bool cycle_wants_s2idle(Cycle *c, const PowerPicture *p) {
        Domain **domains;
        size_t n = virt_domains(c->m->virt, &domains);

        if (!(p->mem_sleep_available & POWER_MASK(MEM_SLEEP_S2IDLE)) || p->mem_sleep_selected == MEM_SLEEP_S2IDLE)
                return false;
        for (size_t i = 0; i < n; i++)
                if (domains[i]->active && domain_policy_is_protected(&domains[i]->policy, c->m->config.protected_kinds) &&
                    domain_policy_action(&domains[i]->policy, &c->m->config) == SLEEP_ACTION_S2IDLE)
                        return true;
        return false;
}

/* The picture as it will be once a wanted s2idle steering is done (for decisions only). */
static PowerPicture cycle_steered(Cycle *c, const PowerPicture *p) {
        PowerPicture steered = *p;

        if (cycle_wants_s2idle(c, p))
                steered.mem_sleep_selected = MEM_SLEEP_S2IDLE;
        return steered;
}

/* Select s2idle for this cycle, remembering the old choice; *p follows. */
static void cycle_select_s2idle(Cycle *c, PowerPicture *p) {
        int r = power_write_mem_sleep(c->m->sysfs_root, MEM_SLEEP_S2IDLE);

        if (r < 0) {
                log_error_errno(r, "Failed to select s2idle in /sys/power/mem_sleep: %s", STRERROR(r));
                return;
        }
        if (c->state.mem_sleep_restore < 0)
                c->state.mem_sleep_restore = p->mem_sleep_selected;
        log_info("Selected s2idle in /sys/power/mem_sleep for this sleep (was %s): TDs keep running",
                 strna(mem_sleep_to_string(p->mem_sleep_selected)));
        p->mem_sleep_selected = MEM_SLEEP_S2IDLE;
}

/* Decide per running TD. keeps already reflects any s2idle steering: a TD that still
 * gets the s2idle verdict is in a step steering cannot save (hibernation). */
static void cycle_plan_domains(Cycle *c, SleepStep step, bool keeps) {
        Domain **domains;
        size_t n = virt_domains(c->m->virt, &domains);

        for (size_t i = 0; i < n; i++) {
                Domain *d = domains[i];
                DomainVerdict v;

                if (!d->active || !domain_policy_is_protected(&d->policy, c->m->config.protected_kinds))
                        continue;
                v = plan_domain(step, keeps, domain_policy_action(&d->policy, &c->m->config));
                if (v == VERDICT_S2IDLE) {
                        log_warning("TD %s asks for s2idle, but this sleep cannot be steered to it: stopping it", d->name);
                        v = VERDICT_STOP;
                }
                if (v == VERDICT_REFUSE)
                        log_struct(LOG_CRIT, ((const char *[]) { MESSAGE_SLEEP_REFUSED, NULL }),
                                   "TD %s refuses sleep, but a sleep is being prepared anyway: "
                                   "leaving it running; it does not survive S3/S4", d->name);
                if (v == VERDICT_STOP && !cycle_want_stopped(c, d))
                        log_error("Out of memory recording TD %s", d->name);
        }
}

/* The kernel's picture with the kernel policy applied. Without a picture (unreadable
 * files) mem_sleep is unknown and every step counts as losing TDs. */
static void cycle_read_power(Cycle *c, PowerPicture *ret) {
        manager_apply_kernel_policy(c->m, ret);
}

/* Does this step keep TDs? For an unknown step, only if every possible step does. */
static bool cycle_step_keeps(SleepStep step, const PowerPicture *p) {
        if (step != SLEEP_STEP_UNKNOWN)
                return plan_step_keeps_tds(step, p);
        switch (plan_when_to_act(p)) {
        case PLAN_WHEN_NOTHING:
                return true;
        case PLAN_WHEN_WAIT_FOR_HOOK:
                log_notice("The host may suspend to idle or hibernate and logind does not say which: "
                           "stopping TDs to be safe");
                return false;
        default:
                return false;
        }
}

/* PrepareForSleep(true) with no step known. If the host may either keep or lose TDs,
 * only the sleep hook knows the step: let logind go on to run it, and act when its
 * Prepare arrives (without a control socket nothing can tell us: act now). */
void cycle_prepare_for_sleep(Cycle *c) {
        PowerPicture p;

        if (c->state.phase == CYCLE_PHASE_IDLE && manager_has_control_socket(c->m)) {
                PowerPicture steered;

                cycle_read_power(c, &p);
                steered = cycle_steered(c, &p);
                if (plan_when_to_act(&steered) == PLAN_WHEN_WAIT_FOR_HOOK) {
                        c->sleeping = c->awaiting_hook = true;
                        log_notice("This host may suspend to idle (TDs survive) or hibernate (they do not), "
                                   "and logind does not say which: waiting for the sleep hook to name the step");
                        logind_release_delay(c->m->logind);
                        manager_on_cycle_phase(c->m);
                        return;
                }
        }
        cycle_prepare(c, SLEEP_STEP_UNKNOWN);
}

/* Plan and act for step: record the TDs to stop, save, send the shutdowns. */
static void cycle_act(Cycle *c, SleepStep step) {
        PowerPicture p;
        bool keeps;

        cycle_read_power(c, &p);
        /* Steer a suspend to s2idle first when a TD asks for it: then every TD survives.
         * For an unknown step only if hibernation is impossible (else the hook decides). */
        if ((step == SLEEP_STEP_SUSPEND || (step == SLEEP_STEP_UNKNOWN && !can_hibernate(&p))) &&
            cycle_wants_s2idle(c, &p))
                cycle_select_s2idle(c, &p);
        keeps = cycle_step_keeps(step, &p);
        c->began_usec = now_usec();
        /* A drain stays a drain when a sleep comes on top: Restore, not resume, ends it. */
        if (c->state.step != SLEEP_STEP_DRAIN || c->state.phase == CYCLE_PHASE_IDLE)
                c->state.step = step;
        if (c->state.started_realtime_usec == 0)
                c->state.started_realtime_usec = (uint64_t) time(NULL) * USEC_PER_SEC;
        cycle_set_phase(c, CYCLE_PHASE_PREPARING);
        log_struct(LOG_INFO, ((const char *[]) { MESSAGE_CYCLE_STARTED, NULL }),
                   "Preparing for %s (mem_sleep %s): TDs %s it",
                   step == SLEEP_STEP_UNKNOWN ? "a sleep logind did not name" : sleep_step_to_string(step),
                   strna(mem_sleep_to_string(p.mem_sleep_selected)), keeps ? "survive" : "do not survive");
        cycle_plan_domains(c, step, keeps);
        cycle_save(c);
        if (c->state.n_domains > 0)
                manager_ensure_cpus_online(c->m);       /* tearing a TD down needs every package */
        cycle_kick_stops(c);
        cycle_check_prepared(c);
}

void cycle_prepare(Cycle *c, SleepStep step) {
        bool same = step == c->state.step || step == SLEEP_STEP_UNKNOWN;

        c->sleeping = true;
        c->awaiting_hook = false;
        if (c->state.phase == CYCLE_PHASE_PREPARING && same)
                return;         /* in progress: the lock goes when it is done */
        if (c->state.phase == CYCLE_PHASE_READY && same) {
                logind_release_delay(c->m->logind);
                return;
        }
        /* Idle, resuming, or a new step named (the hook after PrepareForSleep, or the
         * hibernate step of suspend-then-hibernate): plan again; what is stopped stays. */
        cycle_act(c, step);
}

int cycle_drain(Cycle *c, uint64_t timeout_usec) {
        if (c->state.phase != CYCLE_PHASE_IDLE)
                return -EBUSY;
        c->drain_timeout_usec = timeout_usec;
        c->state.step = SLEEP_STEP_DRAIN;
        log_info("Draining: stopping every TD for maintenance");
        cycle_act(c, SLEEP_STEP_DRAIN);
        return 0;
}

int cycle_restore(Cycle *c) {
        if (c->state.step != SLEEP_STEP_DRAIN || c->state.phase == CYCLE_PHASE_IDLE)
                return -ENOENT;
        if (c->sleeping)
                return -EBUSY;
        cycle_begin_resume(c);
        return 0;
}

static void cycle_count(const Cycle *c, unsigned counts[static JOB_DROPPED + 1]) {
        for (size_t i = 0; i < c->state.n_domains; i++)
                counts[c->jobs[i]->state]++;
}

static void cycle_check_prepared(Cycle *c) {
        unsigned n[JOB_DROPPED + 1] = { 0 };

        if (c->state.phase != CYCLE_PHASE_PREPARING)
                return;
        for (size_t i = 0; i < c->state.n_domains; i++)
                if (job_stop_in_progress(c->jobs[i]))
                        return;
        cycle_count(c, n);
        cycle_set_phase(c, CYCLE_PHASE_READY);
        cycle_save(c);
        if (c->state.step == SLEEP_STEP_DRAIN && !c->sleeping) {
                log_info("Drained in %.2fs: %u TDs stopped, %u left running, %u failed to stop",
                         seconds_since(c->began_usec), n[JOB_STOPPED], n[JOB_LEFT_RUNNING], n[JOB_STOP_FAILED]);
                return;
        }
        log_struct(LOG_INFO, ((const char *[]) { MESSAGE_LOCK_RELEASED, NULL }),
                   "Prepared for sleep in %.2fs: %u TDs stopped, %u left running, %u failed to stop; "
                   "releasing the delay lock", seconds_since(c->began_usec), n[JOB_STOPPED],
                   n[JOB_LEFT_RUNNING], n[JOB_STOP_FAILED]);
        logind_release_delay(c->m->logind);
}

/* ---- resuming ---- */

static void cycle_check_resumed(Cycle *c);
static void cycle_begin_resume(Cycle *c);

static void job_start(Job *j) {
        Manager *m = j->cycle->m;
        StateDomain *sd = job_domain(j);
        uint64_t t = now_usec();
        int r = virt_start(m->virt, sd->uuid, sd->xml, sd->persistent);

        if (r == -ENOENT && sd->persistent)
                log_td(LOG_WARNING, NULL, j, "TD %s was undefined while it was stopped: not re-creating it",
                       sd->name);
        if (r == -ENOTCONN)
                return;         /* stays pending until libvirt is back */
        if (r == -EALREADY) {
                log_td(LOG_INFO, MESSAGE_TD_STARTED, j, "TD %s is already running", sd->name);
                job_set_state(j, JOB_DROPPED);
        } else if (r < 0) {
                log_td(LOG_ERR, MESSAGE_TD_START_FAILED, j, "Failed to start TD %s again: %s", sd->name,
                       virt_last_error());
                job_set_state(j, JOB_START_FAILED);
        } else {
                log_td(LOG_INFO, MESSAGE_TD_STARTED, j, "Started TD %s again (%.2fs)", sd->name, seconds_since(t));
                job_set_state(j, JOB_STARTED);
        }
        sd->started = true;
}

static int on_start_defer(sd_event_source *s, void *userdata);

/* Start up to ParallelStart TDs, then let the loop breathe before the next batch:
 * libvirt's start call returns once the guest runs, so a batch is a burst of calls. */
static void cycle_kick_starts(Cycle *c) {
        unsigned max = c->m->config.parallel_start, n = 0;
        uint64_t t0 = now_usec();

        if (c->state.phase != CYCLE_PHASE_RESUMING)
                return;
        for (size_t i = 0; i < c->state.n_domains; i++) {
                if (c->jobs[i]->state != JOB_START_PENDING)
                        continue;
                /* Back to the loop after ParallelStart= starts, and after a second at most
                 * whatever it says: bus replies, the watchdog and the socket wait meanwhile. */
                if ((max > 0 && n >= max) || (n > 0 && now_usec() - t0 > USEC_PER_SEC)) {
                        if (!c->start_defer && sd_event_add_defer(c->m->event, &c->start_defer, on_start_defer, c) < 0)
                                log_error("Failed to schedule the next TD starts");
                        break;
                }
                job_start(c->jobs[i]);
                n++;
        }
        /* The started flags, at most once a second (a save of a thousand TDs' XML costs
         * tens of ms). A crash between two saves cannot start a TD twice: libvirt refuses
         * to start a running domain, and the restarted daemon drops those. */
        if (n > 0 && now_usec() - c->saved_usec > USEC_PER_SEC)
                cycle_save(c);
        cycle_check_resumed(c);
}

static int on_start_defer(sd_event_source *s, void *userdata) {
        Cycle *c = userdata;

        c->start_defer = sd_event_source_disable_unref(c->start_defer);
        cycle_kick_starts(c);
        return 0;
}

/* After the sleep: what does this job need? */
static void job_plan_start(Job *j) {
        Manager *m = j->cycle->m;
        const Domain *d = virt_find_domain(m->virt, job_domain(j)->uuid);

        switch (j->state) {
        case JOB_STOP_PENDING:
                job_set_state(j, JOB_DROPPED);         /* never touched */
                break;
        case JOB_STOPPING:
        case JOB_FORCING:
        case JOB_STARTED:
        case JOB_DROPPED:
                break;                          /* started when its STOPPED arrives */
        default:
                if (d && d->active)
                        job_set_state(j, JOB_DROPPED);
                else if (!m->config.restart_after_resume) {
                        log_td(LOG_NOTICE, NULL, j, "Not starting TD %s again: RestartAfterResume=no",
                               job_domain(j)->name);
                        job_set_state(j, JOB_DROPPED);
                } else
                        job_set_state(j, JOB_START_PENDING);
        }
}

static void cycle_begin_resume(Cycle *c) {
        c->began_usec = now_usec();
        c->start_defer = sd_event_source_disable_unref(c->start_defer);
        cycle_set_phase(c, CYCLE_PHASE_RESUMING);
        for (size_t i = 0; i < c->state.n_domains; i++)
                job_plan_start(c->jobs[i]);
        log_info("Resuming: starting again the TDs stopped for the sleep");
        cycle_save(c);
        if (c->state.n_domains > 0)
                manager_ensure_cpus_online(c->m);       /* creating a TD needs every package */
        cycle_kick_starts(c);
}

void cycle_resume(Cycle *c) {
        if (c->awaiting_hook)
                log_warning("The sleep is over, but the sleep hook never said which step it was: is tdsleepctl's "
                            "hook installed in systemd's system-sleep directory? If the host hibernated, "
                            "the TDs did not survive");
        c->sleeping = c->awaiting_hook = false;
        if (IN_SET(c->state.phase, CYCLE_PHASE_IDLE, CYCLE_PHASE_RESUMING))
                return;
        if (c->state.step == SLEEP_STEP_DRAIN) {
                log_info("Awake again; the TDs stay drained until Restore");
                return;
        }
        cycle_begin_resume(c);
}

static void cycle_restore_mem_sleep(Cycle *c) {
        int r;

        if (c->state.mem_sleep_restore < 0)
                return;
        r = power_write_mem_sleep(c->m->sysfs_root, c->state.mem_sleep_restore);
        if (r < 0)
                log_error_errno(r, "Failed to restore %s in /sys/power/mem_sleep: %s",
                                mem_sleep_to_string(c->state.mem_sleep_restore), STRERROR(r));
        else
                log_info("Restored %s in /sys/power/mem_sleep", mem_sleep_to_string(c->state.mem_sleep_restore));
}

static void cycle_check_resumed(Cycle *c) {
        unsigned n[JOB_DROPPED + 1] = { 0 };
        int r;

        if (c->state.phase != CYCLE_PHASE_RESUMING)
                return;
        for (size_t i = 0; i < c->state.n_domains; i++)
                if (IN_SET(c->jobs[i]->state, JOB_START_PENDING, JOB_STOPPING, JOB_FORCING))
                        return;
        cycle_count(c, n);
        cycle_restore_mem_sleep(c);
        log_struct(n[JOB_START_FAILED] ? LOG_ERR : LOG_INFO, ((const char *[]) { MESSAGE_CYCLE_DONE, NULL }),
                   "Resumed in %.2fs: %u TDs started again, %u failed to start",
                   seconds_since(c->began_usec), n[JOB_STARTED], n[JOB_START_FAILED]);
        r = state_clear(c->m->state_dir);
        if (r < 0)
                log_error_errno(r, "Failed to remove the state file: %s", STRERROR(r));
        jobs_clear(c);
        state_done(&c->state);
        state_init(&c->state);
        c->drain_timeout_usec = 0;
        cycle_set_phase(c, CYCLE_PHASE_IDLE);
}

/* ---- events ---- */

static void job_on_stopped(Job *j) {
        Cycle *c = j->cycle;
        const StateDomain *sd = job_domain(j);
        bool forced = j->state == JOB_FORCING;

        if (!IN_SET(j->state, JOB_STOP_PENDING, JOB_STOPPING, JOB_FORCING, JOB_LEFT_RUNNING, JOB_STOP_FAILED))
                return;
        if (j->state != JOB_STOP_PENDING)
                log_td(LOG_INFO, forced ? MESSAGE_TD_FORCED_OFF : MESSAGE_TD_STOPPED, j, "%s TD %s in %.2fs",
                       forced ? "Forced off" : "Stopped", sd->name, seconds_since(j->began_usec));
        job_stop_done(j, JOB_STOPPED);
        if (c->state.phase == CYCLE_PHASE_RESUMING) {
                job_plan_start(j);
                cycle_kick_starts(c);
                return;
        }
        cycle_kick_stops(c);
        cycle_check_prepared(c);
}

/* A TD started while we prepare (or after we finished): it must be stopped too. */
static void cycle_on_started(Cycle *c, const Domain *d) {
        PowerPicture p;
        Job *j;

        if (!IN_SET(c->state.phase, CYCLE_PHASE_PREPARING, CYCLE_PHASE_READY) ||
            !domain_policy_is_protected(&d->policy, c->m->config.protected_kinds))
                return;
        cycle_read_power(c, &p);
        if (plan_domain(c->state.step, cycle_step_keeps(c->state.step, &p),
                        domain_policy_action(&d->policy, &c->m->config)) != VERDICT_STOP)
                return;
        j = cycle_find_job(c, d->uuid);
        if (j && job_stop_in_progress(j))
                return;
        log_warning("TD %s started while preparing for sleep: stopping it too", d->name);
        if (!cycle_want_stopped(c, d)) {
                log_error("Out of memory recording TD %s", d->name);
                return;
        }
        cycle_save(c);
        if (c->state.phase == CYCLE_PHASE_READY) {
                /* logind waits for delay locks taken while it prepares: cover this stop too. */
                (void) logind_take_delay(c->m->logind);
                cycle_set_phase(c, CYCLE_PHASE_PREPARING);
        }
        cycle_kick_stops(c);
        cycle_check_prepared(c);
}

void cycle_on_domain_event(Cycle *c, Domain *d, int event) {
        Job *j = cycle_find_job(c, d->uuid);

        if (event == VIR_DOMAIN_EVENT_STOPPED && j)
                job_on_stopped(j);
        else if (event == VIR_DOMAIN_EVENT_STARTED)
                cycle_on_started(c, d);
}

/* After a reconnect, events may have been missed: compare every job with the table. */
static void job_reconcile(Job *j) {
        Cycle *c = j->cycle;
        const Domain *d = virt_find_domain(c->m->virt, job_domain(j)->uuid);
        bool running = d && d->active;

        if (IN_SET(j->state, JOB_STOPPING, JOB_FORCING) && !running)
                job_on_stopped(j);
        else if (j->state == JOB_FORCING && c->state.phase != CYCLE_PHASE_RESUMING)
                job_send_destroy(j);
        else if (j->state == JOB_STOPPING)
                (void) virt_shutdown(c->m->virt, job_domain(j)->uuid);  /* libvirtd may have lost it */
        else if (j->state == JOB_STOPPED && running && c->state.phase == CYCLE_PHASE_PREPARING)
                job_set_state(j, JOB_STOP_PENDING);
}

void cycle_on_libvirt_changed(Cycle *c) {
        if (!virt_is_connected(c->m->virt) || c->restored)
                return;
        for (size_t i = 0; i < c->state.n_domains; i++)
                job_reconcile(c->jobs[i]);
        cycle_kick_stops(c);
        cycle_check_prepared(c);
        cycle_kick_starts(c);
}

/* Go on with a cycle loaded from the state file, now that logind says where we are. */
static void cycle_continue_restored(Cycle *c, bool preparing_for_sleep) {
        c->restored = false;
        if (!preparing_for_sleep) {
                log_info("The interrupted sleep is over: starting again the TDs stopped for it");
                cycle_begin_resume(c);
                return;
        }
        if (c->state.phase == CYCLE_PHASE_READY) {
                log_info("Still prepared for the sleep in progress");
                logind_release_delay(c->m->logind);
                return;
        }
        log_info("A sleep is still being prepared: finishing the interrupted preparation");
        cycle_set_phase(c, CYCLE_PHASE_PREPARING);
        c->began_usec = now_usec();
        cycle_on_libvirt_changed(c);
}

void cycle_on_logind(Cycle *c, bool preparing_for_sleep) {
        if (c->restored) {
                cycle_continue_restored(c, preparing_for_sleep);
                return;
        }
        if (preparing_for_sleep && c->state.phase == CYCLE_PHASE_IDLE) {
                log_notice("logind is already preparing for sleep: preparing now");
                cycle_prepare(c, SLEEP_STEP_UNKNOWN);
        } else if (!preparing_for_sleep && IN_SET(c->state.phase, CYCLE_PHASE_PREPARING, CYCLE_PHASE_READY)) {
                /* A new logind instance knows of no sleep: PrepareForSleep(false) will not come. */
                log_warning("logind restarted and prepares no sleep: resuming");
                cycle_begin_resume(c);
        }
}

/* ---- lifetime ---- */

static int cycle_adopt_state(Cycle *c) {
        c->jobs = calloc(c->state.n_domains ? c->state.n_domains : 1, sizeof(Job *));
        if (!c->jobs)
                return -ENOMEM;
        for (size_t i = 0; i < c->state.n_domains; i++) {
                c->jobs[i] = job_new(c, i, c->state.domains[i].started ? JOB_DROPPED : JOB_STOPPED);
                if (!c->jobs[i])
                        return -ENOMEM;
                c->jobs[i]->timeout_usec = c->m->config.shutdown_timeout_usec;
        }
        return 0;
}

int cycle_load(Cycle *c) {
        _cleanup_(freep) char *moved_to = NULL;
        int r = state_load(c->m->state_dir, &c->state, &moved_to);

        if (r == -ENOENT)
                return 0;
        if (r == -EBADMSG) {
                log_struct(LOG_CRIT, ((const char *[]) { MESSAGE_TD_START_FAILED, NULL }),
                           "The state file in %s was corrupt and has been moved to %s. TDs stopped by an "
                           "interrupted cycle may need to be started by hand; see that file",
                           c->m->state_dir, strna(moved_to));
                state_init(&c->state);
                return 0;
        }
        if (r < 0)
                return log_error_errno(r, "Failed to read the state file in %s: %s", c->m->state_dir, STRERROR(r));
        r = cycle_adopt_state(c);
        if (r < 0)
                return log_error_errno(r, "Failed to restore the interrupted cycle: %s", STRERROR(r));
        c->restored = c->state.phase != CYCLE_PHASE_IDLE;
        if (c->restored)
                log_notice("Found an interrupted cycle (phase %s, %zu TDs): finishing it when logind answers",
                           cycle_phase_to_string(c->state.phase), c->state.n_domains);
        return 0;
}

int cycle_new(Manager *m, Cycle **ret) {
        Cycle *c = calloc(1, sizeof(Cycle));

        if (!c)
                return -ENOMEM;
        c->m = m;
        state_init(&c->state);
        *ret = c;
        return 0;
}

Cycle *cycle_free(Cycle *c) {
        if (!c)
                return NULL;
        jobs_clear(c);
        sd_event_source_disable_unref(c->start_defer);
        state_done(&c->state);
        free(c);
        return NULL;
}

CyclePhase cycle_phase(const Cycle *c) {
        return c->state.phase;
}

SleepStep cycle_step(const Cycle *c) {
        return c->state.phase == CYCLE_PHASE_IDLE ? _SLEEP_STEP_INVALID : c->state.step;
}

bool cycle_awaiting_hook(const Cycle *c) {
        return c->awaiting_hook;
}

void cycle_foreach_domain(const Cycle *c, CycleDomainVisitor visit, void *userdata) {
        for (size_t i = 0; i < c->state.n_domains; i++)
                visit(userdata, &c->state.domains[i], job_state_table[c->jobs[i]->state]);
}

void cycle_counts(const Cycle *c, unsigned *ret_stopped, unsigned *ret_left_running, unsigned *ret_failed) {
        unsigned n[JOB_DROPPED + 1] = { 0 };

        cycle_count(c, n);
        *ret_stopped = n[JOB_STOPPED];
        *ret_left_running = n[JOB_LEFT_RUNNING];
        *ret_failed = n[JOB_STOP_FAILED];
}
