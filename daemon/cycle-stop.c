/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdlib.h>
#include <strings.h>

#include "cycle-internal.h"
#include "log.h"
#include "messages.h"

/* The planner's input from the world as the engine sees it now. */
void cycle_plan_input(const Cycle *c, const CycleWorld *w, PlanMode mode, SleepStep step, PlanInput *ret) {
        *ret = (PlanInput) {
                .mode = mode,
                .step = step,
                .power = w->power_known ? &w->power : NULL,
                .kernel_policy = w->kernel_policy,
                .hook_reachable = w->hook_reachable,
                .force_off = c->settings.force_off,
                .parallel_shutdown = c->settings.parallel_shutdown,
                .drain_timeout_usec = c->drain_timeout_usec,
                .inhibit_delay_max_usec = w->inhibit_delay_max_usec,
                .domains = w->domains,
                .n_domains = w->n_domains,
        };
}

static double seconds(uint64_t usec) {
        return (double) usec / USEC_PER_SEC;
}

/* ---- one TD ---- */

/* Mark a running TD for stopping, adding it to the cycle if it is new. A TD already on
 * its way down keeps its state: a re-plan never turns a force-off back into a request. */
static Job *cycle_want_stopped(Cycle *c, const PlanDomain *d, uint64_t timeout_usec, bool drained) {
        Job *j = cycle_find_job(c, d->uuid);

        if (!j) {
                j = cycle_add_job(c, d, drained);
                if (!j)
                        return NULL;
        } else if (j->in_flight == EFFECT_START) {
                /* Its start is on its way: it is stopped again once libvirt has said. */
                j->stop_after_start = true;
                j->stop_after_start_drained = drained;
                j->timeout_usec = timeout_usec;
                return j;
        } else if (job_stop_in_progress(j) || IN_SET(j->state, JOB_LEFT_RUNNING, JOB_STOP_FAILED)) {
                if (j->timeout_usec == 0)
                        j->timeout_usec = timeout_usec; /* taken over from a record */
                return j;
        }
        job_stop_again(c, j, timeout_usec, drained);
        return j;
}

void job_stop_again(Cycle *c, Job *j, uint64_t timeout_usec, bool drained) {
        if (!IN_SET(j->state, JOB_STOP_PENDING, JOB_STOPPING, JOB_FORCING)) {
                /* Stopped before and running again (started by someone, or by us). */
                job_set_state(c, j, JOB_STOP_PENDING);
                job_domain(c, j)->started = false;
                job_set_error(j, NULL);
                job_domain(c, j)->stop = STATE_STOP_PENDING;
                j->delivered = j->forced = false;       /* a stop by itself now is not ours */
                j->attempts = 0;
        }
        job_domain(c, j)->drained = drained;
        j->timeout_usec = timeout_usec;
}

static void cycle_refuse_unrecorded(Cycle *c);

/* A transient TD vanishes when it stops: without its XML there is no way back. */
void job_refuse_without_xml(Cycle *c, Job *j) {
        log_job(c, j, LOG_CRIT, MESSAGE_TD_LEFT_RUNNING, "Not stopping transient TD %s: its XML could not be "
                "saved, so it could not be re-created; it does not survive S3/S4", job_domain(c, j)->name);
        job_set_error(j, "transient, and its XML could not be saved");
        job_set_state(c, j, JOB_LEFT_RUNNING);
}

static unsigned cycle_in_flight(const Cycle *c) {
        unsigned n = 0;

        for (size_t i = 0; i < c->record.n_domains; i++)
                n += IN_SET(c->jobs[i].state, JOB_STOPPING, JOB_FORCING) ||
                     IN_SET(c->jobs[i].in_flight, EFFECT_SHUTDOWN, EFFECT_DESTROY);
        return n;
}

/* Mark up to room pending stops as sent in the record: after a crash, a stop of one of
 * these may be ours; a stop of one never marked is not. Returns how many were marked. */
static unsigned cycle_mark_batch(Cycle *c, unsigned room) {
        unsigned n = 0;

        for (size_t i = 0; i < c->record.n_domains && n < room; i++) {
                if (c->jobs[i].state != JOB_STOP_PENDING || c->jobs[i].in_flight != EFFECT_NONE ||
                    c->jobs[i].held)
                        continue;
                if (!c->record.domains[i].persistent && isempty(c->record.domains[i].xml)) {
                        if (c->jobs[i].xml_failed)
                                job_refuse_without_xml(c, &c->jobs[i]);
                        continue;       /* (else its XML is on its way: cycle_read_xmls()) */
                }
                if (c->record.domains[i].stop == STATE_STOP_PENDING) {
                        c->record.domains[i].stop = STATE_STOP_SENT;
                        n++;
                } else
                        room--;         /* marked before (libvirt was away): sent as it is */
        }
        return n;
}

/* A job taken over from a record has no window yet: libvirt's table gives it. */
static void cycle_fill_timeouts(Cycle *c) {
        CycleWorld w;
        bool observed = false;

        for (size_t i = 0; i < c->record.n_domains; i++) {
                Job *j = &c->jobs[i];

                if (j->state != JOB_STOP_PENDING || j->timeout_usec > 0)
                        continue;
                if (!observed)
                        c->ops->observe(c->userdata, &w);
                observed = true;
                for (size_t k = 0; k < w.n_domains; k++)
                        if (strcasecmp(w.domains[k].uuid, c->record.domains[i].uuid) == 0)
                                j->timeout_usec = c->record.domains[i].drained && c->drain_timeout_usec > 0 ?
                                                  c->drain_timeout_usec : w.domains[k].timeout_usec;
        }
}

/* One batch: mark, save, send. Returns 1 if libvirt took requests and more could go
 * (some settled at once: not running any more), 0 when done, -1 when nothing may go. */
static int cycle_kick_batch(Cycle *c, bool *saved) {
        unsigned max = c->settings.parallel_shutdown, in_flight = cycle_in_flight(c), room, settled = 0;

        room = max == 0 ? UINT32_MAX : max > in_flight ? max - in_flight : 0;
        if (room == 0)
                return 0;
        if (cycle_mark_batch(c, room) > 0) {
                *saved = true;
                if (!cycle_save(c)) {
                        cycle_refuse_unrecorded(c);
                        return -1;
                }
        }
        for (size_t i = 0; i < c->record.n_domains && room > 0; i++) {
                Job *j = &c->jobs[i];

                if (j->state != JOB_STOP_PENDING || c->record.domains[i].stop != STATE_STOP_SENT ||
                    j->in_flight != EFFECT_NONE || j->held)
                        continue;
                job_send_shutdown(c, j);
                if (j->in_flight == EFFECT_NONE && j->state == JOB_STOP_PENDING)
                        return -1;      /* libvirt is away: the rest waits too */
                if (j->in_flight != EFFECT_NONE || IN_SET(j->state, JOB_STOPPING, JOB_FORCING))
                        room--;
                else
                        settled++;
        }
        return settled > 0 && cycle_count(c, JOB_STOP_PENDING) > 0;
}

/* Send the next shutdowns, ParallelShutdown= at a time, each recorded before it goes.
 * Returns whether the record was saved for them. */
bool cycle_kick_stops(Cycle *c) {
        bool saved = false;

        if (!IN_SET(c->record.phase, CYCLE_PHASE_PREPARING, CYCLE_PHASE_RESUMING))
                return false;
        cycle_fill_timeouts(c);
        cycle_read_xmls(c);
        /* Requests that settle at once (the TD was not running any more) free their place
         * for the next ones now: no event would come to kick them. */
        for (size_t round = 0; round <= c->record.n_domains; round++)
                if (cycle_kick_batch(c, &saved) <= 0)
                        break;
        return saved;
}

/* The TD is stopped (its STOPPED event, or libvirt says it is not running). */
void job_on_stopped(Cycle *c, Job *j) {
        const StateDomain *sd = job_domain(c, j);
        bool ours = j->delivered || j->forced;     /* a request or a destroy libvirt took */

        if (IN_SET(j->in_flight, EFFECT_SHUTDOWN, EFFECT_DESTROY)) {
                /* Was it our request, or did it stop before libvirt got it? Its result
                 * says (0: ours); until then the job waits (check_prepared too). */
                j->stop_seen = true;
                return;
        }

        if (!IN_SET(j->state, JOB_STOP_PENDING, JOB_STOPPING, JOB_FORCING, JOB_LEFT_RUNNING, JOB_STOP_FAILED))
                return;
        if (!ours) {
                /* It went down by itself before we asked: not ours to start again. */
                log_job(c, j, LOG_INFO, NULL, "TD %s stopped by itself before tdsleepd asked it to", sd->name);
                job_set_state(c, j, JOB_DROPPED);
                return;
        }
        log_job(c, j, LOG_INFO, j->state == JOB_FORCING ? MESSAGE_TD_FORCED_OFF : MESSAGE_TD_STOPPED,
                "%s TD %s in %.2fs", j->state == JOB_FORCING ? "Forced off" : "Stopped", sd->name,
                seconds(cycle_now(c) - j->began_usec));
        j->stopped = true;
        job_domain(c, j)->stop = STATE_STOP_SEEN;
        job_set_error(j, NULL);
        job_set_state(c, j, JOB_STOPPED);
        if (c->record.phase == CYCLE_PHASE_RESUMING && job_in_resume(c, j))
                job_plan_start(c, j);
}

/* The sleep is over and a TD that got our shutdown still runs. The request cannot be
 * withdrawn: the guest may power off at any time. Force it off, so that it is started
 * again like the rest; with ForceOff=no it is left running, and says so. */
static void job_stop_after_sleep(Cycle *c, Job *j) {
        const StateDomain *sd = job_domain(c, j);

        if (!j->delivered) {
                job_set_state(c, j, JOB_DROPPED);       /* never asked: nothing to undo */
                return;
        }
        if (!c->settings.force_off) {
                log_job(c, j, LOG_WARNING, MESSAGE_TD_LEFT_RUNNING, "TD %s got a shutdown request for a sleep that "
                        "is over and has not stopped; ForceOff=no: leaving it running, it may still power off",
                        sd->name);
                job_set_error(j, "asked to shut down for a sleep that is over; ForceOff=no");
                job_set_state(c, j, JOB_LEFT_RUNNING);
                return;
        }
        log_job(c, j, LOG_WARNING, MESSAGE_TD_FORCED_OFF, "TD %s got a shutdown request for a sleep that is over "
                "and has not stopped within %.1fs; a request cannot be withdrawn: forcing it off to start it "
                "again", sd->name, seconds(j->timeout_usec));
        job_force(c, j);
}

/* A stop job's timer. Decided on libvirt's table, never on the timer alone: a stop
 * whose event was missed is a stop, and without libvirt nothing is decided. */
void job_stop_timer(Cycle *c, Job *j, const CycleWorld *w) {
        if (j->in_flight != EFFECT_NONE) {
                j->timer_due = true;    /* decided once its result is in */
                return;
        }
        if (!w->libvirt_connected) {
                log_job(c, j, LOG_NOTICE, NULL, "The window of TD %s ended while libvirt is away: deciding when "
                        "it is back", job_domain(c, j)->name);
                j->deadline_usec = USEC_INFINITY;       /* the reconnect looks again */
                return;
        }
        if (!cycle_world_running(w, job_domain(c, j)->uuid)) {
                job_on_stopped(c, j);
                return;
        }
        if (j->state == JOB_FORCING && !j->forced) {
                job_force(c, j);                /* libvirt refused the destroy: again */
                return;
        }
        if (j->state == JOB_FORCING) {
                log_job(c, j, LOG_ERR, MESSAGE_TD_FORCED_OFF, "TD %s is still running %.0fs after it was forced off",
                        job_domain(c, j)->name, seconds(PLAN_FORCE_OFF_USEC));
                job_set_error(j, "still running after it was forced off");
                job_set_state(c, j, JOB_STOP_FAILED);
                return;
        }
        if (c->record.phase == CYCLE_PHASE_RESUMING && job_in_resume(c, j)) {
                job_stop_after_sleep(c, j);
                return;
        }
        if (!j->delivered && cycle_now(c) < j->began_usec + j->timeout_usec) {
                job_send_shutdown(c, j);        /* refused before: ask again within the window */
                return;
        }
        job_force(c, j);
}

/* libvirt is back: a request in flight may have been lost with the connection. */
void job_resend(Cycle *c, Job *j, bool running) {
        if (IN_SET(j->state, JOB_STOPPING, JOB_FORCING, JOB_LEFT_RUNNING, JOB_STOP_FAILED) && !running)
                job_on_stopped(c, j);   /* its STOPPED was lost with the connection */
        else if (j->in_flight != EFFECT_NONE)
                return;                 /* its result comes (an error, if it was lost) */
        else if (j->state == JOB_FORCING)
                job_force(c, j);
        else if (j->state == JOB_STOPPING && !j->delivered)
                job_send_shutdown(c, j);
        else if (j->state == JOB_STOPPING)
                (void) job_submit(c, j, EFFECT_SHUTDOWN);
}

/* ---- the plan ---- */

/* Select s2idle for this sleep, remembering the old choice in the record first. */
static bool cycle_steer(Cycle *c, const CycleWorld *w) {
        MemSleep old = w->power.mem_sleep_selected;

        if (c->record.mem_sleep_restore < 0)
                c->record.mem_sleep_restore = old;
        /* What to restore must survive a crash before mem_sleep changes. */
        if (!cycle_save(c)) {
                log_error("Not selecting s2idle in /sys/power/mem_sleep without a durable record of %s",
                          strna(mem_sleep_to_string(old)));
                return false;
        }
        if (c->ops->write_mem_sleep(c->userdata, MEM_SLEEP_S2IDLE) < 0) {
                log_error("Failed to select s2idle in /sys/power/mem_sleep: TDs that asked for it are stopped");
                return false;
        }
        log_info("Selected s2idle in /sys/power/mem_sleep for this sleep (was %s): TDs keep running",
                 strna(mem_sleep_to_string(old)));
        return true;
}

/* Make the plan; steer first when it says so (and plan again without s2idle if that fails). */
static void cycle_plan(Cycle *c, CycleWorld *w, PlanMode mode, SleepStep step, DomainVerdict *v, Plan *ret) {
        PlanInput in;

        cycle_plan_input(c, w, mode, step, &in);
        plan_make(&in, v, ret);
        if (!ret->steer_s2idle || cycle_steer(c, w))
                return;
        w->power.mem_sleep_available &= ~POWER_MASK(MEM_SLEEP_S2IDLE);
        plan_make(&in, v, ret);
}

/* Without a durable record nothing is stopped: the jobs not yet sent say why. */
static void cycle_refuse_unrecorded(Cycle *c) {
        for (size_t i = 0; i < c->record.n_domains; i++) {
                Job *j = &c->jobs[i];

                if (j->state != JOB_STOP_PENDING || j->in_flight != EFFECT_NONE)
                        continue;       /* (a request in flight was recorded before it went) */
                c->record.domains[i].stop = STATE_STOP_PENDING;
                log_job(c, j, LOG_CRIT, MESSAGE_TD_LEFT_RUNNING, "Not stopping TD %s: no durable record of the "
                        "cycle could be written, so it could not be started again after a crash",
                        job_domain(c, j)->name);
                job_set_error(j, "no durable record could be written");
                job_set_state(c, j, JOB_LEFT_RUNNING);
        }
}

/* The jobs go into the record, and their stops out, in the planner's order (longest
 * window first): the order its budget assumes. */
static void cycle_apply_verdicts(Cycle *c, const CycleWorld *w, const DomainVerdict *v, PlanMode mode,
                                 const Plan *plan) {
        _cleanup_(freep) size_t *order = calloc(w->n_domains ? w->n_domains : 1, sizeof(size_t));
        PlanInput in;

        if (!order) {
                log_error("Out of memory planning the cycle");
                return;
        }
        cycle_plan_input(c, w, mode, c->record.step, &in);
        plan_stop_order(&in, plan, v, order);
        for (size_t k = 0; k < w->n_domains; k++) {
                size_t i = order[k];
                const PlanDomain *d = &w->domains[i];

                if (v[i] == VERDICT_REFUSE)
                        log_cycle(c, LOG_CRIT, MESSAGE_SLEEP_REFUSED, "TD %s refuses sleep, but a sleep is being "
                                  "prepared anyway: leaving it running; it does not survive S3/S4", d->name);
                if (v[i] == VERDICT_STOP && !cycle_want_stopped(c, d, plan_stop_window_usec(&in, plan, d),
                                                                 mode == PLAN_MODE_DRAIN || c->record.drained))
                        log_error("Out of memory recording TD %s", d->name);
        }
}

/* Once per wait: a prepare cannot see which TDs run. */
void cycle_tell_libvirt_away(Cycle *c) {
        if (c->awaiting_libvirt_told)
                return;
        c->awaiting_libvirt_told = true;
        log_cycle(c, LOG_CRIT, NULL, "Preparing for sleep, but libvirt is not connected: tdsleepd cannot "
                  "see which TDs run. Holding the delay lock until libvirt answers (logind goes on "
                  "after InhibitDelayMaxSec)");
}

/* Plan and act: record the TDs to stop, save, send the shutdowns. Planning again keeps
 * what is stopped and what is on its way down. */
void cycle_act(Cycle *c, PlanMode mode, SleepStep step) {
        _cleanup_(freep) DomainVerdict *v = NULL;
        CycleWorld w;
        Plan plan;

        c->ops->observe(c->userdata, &w);
        if (!w.libvirt_connected) {
                c->awaiting_libvirt = true;
                c->awaited_step = step;
                cycle_set_phase(c, CYCLE_PHASE_PREPARING);
                if (w.libvirt_connecting)
                        log_cycle(c, LOG_NOTICE, NULL, "Preparing for sleep while tdsleepd connects to libvirt: "
                                  "holding the delay lock until it has the domain table");
                else
                        cycle_tell_libvirt_away(c);
                return;
        }
        c->awaiting_libvirt = c->awaiting_libvirt_told = false;
        v = calloc(w.n_domains ? w.n_domains : 1, sizeof(DomainVerdict));
        if (!v) {
                log_error("Out of memory planning the cycle");
                return;
        }
        if (c->record.phase == CYCLE_PHASE_IDLE || c->record.started_realtime_usec == 0)
                cycle_begin_new(c);     /* (also a prepare that had to wait for libvirt) */
        if (mode == PLAN_MODE_SLEEP)
                c->record.step = step;
        /* Preparing before the plan: a steering saves the record first, and a record that
         * says idle would not be taken up again after a crash (nor mem_sleep restored). */
        cycle_set_phase(c, CYCLE_PHASE_PREPARING);
        cycle_plan(c, &w, mode, step, v, &plan);
        /* The hook naming the step logind did not name goes on with the same prepare:
         * its duration counts from the first plan. */
        if (!(c->planned_unknown_step && mode == PLAN_MODE_SLEEP && c->sleeping))
                c->began_usec = cycle_now(c);
        c->planned_unknown_step = mode == PLAN_MODE_SLEEP && step == SLEEP_STEP_UNKNOWN;
        cycle_log_start(c, mode == PLAN_MODE_DRAIN, mem_sleep_to_string(plan.power.mem_sleep_selected),
                        plan.keeps, plan.n_stop);
        cycle_log_budget(c, &plan);
        cycle_apply_verdicts(c, &w, v, mode, &plan);
        if (plan.n_stop > 0)
                c->ops->ensure_cpus_online(c->userdata);        /* tearing a TD down needs every package */
        /* The record before any shutdown: kick_stops saves it with the first batch. */
        if (!cycle_kick_stops(c) && !cycle_save(c))
                cycle_refuse_unrecorded(c);
        cycle_check_prepared(c);
}

/* A TD started while a cycle prepares or holds: the planner decides, as for the rest. */
void cycle_replan_domain(Cycle *c, const PlanDomain *d) {
        _cleanup_(freep) DomainVerdict *v = NULL;
        /* While drained every TD stays stopped, a sleep or not. */
        PlanMode mode = c->record.drained ? PLAN_MODE_DRAIN : PLAN_MODE_SLEEP;
        CycleWorld w;
        Plan plan;
        PlanInput in;
        Job *j;

        c->ops->observe(c->userdata, &w);
        w.domains = d;
        w.n_domains = 1;
        /* The cycle's steering was decided when it was planned; a newcomer does not change it. */
        if (w.power.mem_sleep_selected != MEM_SLEEP_S2IDLE)
                w.power.mem_sleep_available &= ~POWER_MASK(MEM_SLEEP_S2IDLE);
        v = calloc(1, sizeof(DomainVerdict));
        if (!v)
                return;
        cycle_plan_input(c, &w, mode, c->record.step, &in);
        plan_make(&in, v, &plan);
        if (v[0] != VERDICT_STOP)
                return;
        j = cycle_find_job(c, d->uuid);
        if (j && job_stop_in_progress(j))
                return;
        log_job(c, NULL, LOG_WARNING, NULL, "TD %s started while %s: stopping it too", d->name,
                mode == PLAN_MODE_DRAIN ? "drained" : "preparing for sleep");
        if (!cycle_want_stopped(c, d, plan_stop_window_usec(&in, &plan, d), mode == PLAN_MODE_DRAIN))
                return;
        if (c->record.phase == CYCLE_PHASE_READY) {
                /* logind waits for delay locks taken while it prepares: cover this stop too. */
                if (c->sleeping)
                        c->ops->take_delay(c->userdata);
                cycle_set_phase(c, CYCLE_PHASE_PREPARING);
        }
        if (!cycle_kick_stops(c) && !cycle_save(c))
                cycle_refuse_unrecorded(c);
}

void cycle_check_prepared(Cycle *c) {
        /* Not prepared while a request is in flight: a start landing after the host went
         * down would lose the TD, a destroy's result may say it failed. */
        if (c->record.phase != CYCLE_PHASE_PREPARING || c->awaiting_libvirt || cycle_any_in_flight(c))
                return;
        for (size_t i = 0; i < c->record.n_domains; i++)
                if (job_stop_in_progress(&c->jobs[i]))
                        return;
        cycle_set_phase(c, CYCLE_PHASE_READY);         /* adds this stretch to prepare_usec */
        (void) cycle_save(c);
        cycle_log_prepared(c);
        if (c->sleeping)
                c->ops->release_delay(c->userdata);
}
