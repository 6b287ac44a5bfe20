/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The invariants of issue 9, as the simulator checks them:
 *
 * I1  when the host enters an S3/S4 step because the delay lock was released, every
 *     running TD was stopped, or is reported with a reason (left running, failed to stop,
 *     refuse); and logind never asks for a sleep while tdsleepd, at rest, holds no lock.
 * I2  when a cycle ends, every TD tdsleepd stopped runs again, or is reported failed
 *     after its retries (a transient one's XML handed to keep_failed); mem_sleep is back.
 * I3  no TD is started twice in a cycle for one stop (a cycle whose resume is cut short
 *     by a new sleep may stop a TD again, and then start it again).
 * I4  no TD is started that tdsleepd did not stop.
 * I5  a cycle ends (or a prepare reaches ready) within a bound after its last event.
 * I6  drained stays drained across restarts and sleeps until Restore.
 * I7  the newest durable record (disk or fd store) lists every TD tdsleepd stopped and
 *     has not started again, not started, with its XML when transient.
 *
 * "Stopped by tdsleepd" is the world's truth, not the engine's: the guest honoured (or
 * crashed under) a shutdown tdsleepd delivered, or tdsleepd destroyed it. A TD lost in a
 * forced sleep with a shutdown pending may or may not be started again (ambiguous). */

#include <inttypes.h>
#include <string.h>

#include "sim-internal.h"

#define SIM_STALL_MAX_USEC (15 * USEC_PER_SEC)
#define SIM_DRAIN_TIMEOUT_MAX_USEC (30 * USEC_PER_SEC)

/* Every stop at its longest timeout plus force-off and stalls, every start with every
 * retry at the cap, and a margin: a wedged engine never ends, so any bound finds it. */
uint64_t sim_bound_usec(const Sim *s) {
        const CycleSettings *set = &s->cfg.settings;
        uint64_t b = 120 * USEC_PER_SEC;

        for (unsigned i = 0; i < s->n_domains; i++)
                b += MAX(s->domains[i].timeout_usec, SIM_DRAIN_TIMEOUT_MAX_USEC) +
                        PLAN_FORCE_OFF_USEC + 4 * SIM_STALL_MAX_USEC;
        b += s->n_domains * MAX(set->start_attempts, 1u) * (set->start_retry_max_usec + SIM_STALL_MAX_USEC);
        return b;
}

/* Do TDs survive the step the host is really taking, with mem_sleep as it is now? */
bool sim_truth_keeps(const Sim *s) {
        switch (s->operation) {
        case SLEEP_STEP_SUSPEND:
                if (!(s->power.states & POWER_MASK(POWER_STATE_MEM)))
                        return true;    /* systemd falls back to standby or freeze */
                return IN_SET(s->power.mem_sleep_selected, MEM_SLEEP_S2IDLE, MEM_SLEEP_SHALLOW);
        default:
                return false;
        }
}

static const char *job_name(JobState j) {
        return j == _JOB_STATE_INVALID ? "no job" : strna(job_state_to_string(j));
}

/* I1, at the moment the host enters the sleep (not forced: tdsleepd said go). */
void sim_check_entry(Sim *s) {
        if (sim_truth_keeps(s))
                return;
        for (unsigned i = 0; i < s->n_domains; i++) {
                const SimDomain *d = &s->domains[i];
                JobState j;

                if (!d->active || !d->protected || d->action == SLEEP_ACTION_REFUSE)
                        continue;
                /* Someone started it while tdsleepd's own start of it was on its way, and
                 * it stopped again in between: a STOPPED of that run may be taken for the
                 * stop of this one (DESIGN.md section 5, accepted and documented). */
                if (d->raced)
                        continue;
                j = sim_job_state(s, i);
                if (IN_SET(j, JOB_LEFT_RUNNING, JOB_STOP_FAILED))
                        continue;
                sim_violation(s, "I1", "%s runs into %s (mem_sleep %s) and is not reported (%s)",
                              d->name, sleep_step_to_string(s->operation),
                              strna(mem_sleep_to_string(s->power.mem_sleep_selected)), job_name(j));
        }
}

/* I3, I4, I6: a start that succeeded. */
void sim_check_start(Sim *s, SimDomain *d) {
        if (d->record_stale) {
                /* The adopted record missed its start (saved at most once a second): this
                 * start is the engine's best guess, whatever happened to it since. */
                d->record_stale = false;
                return;
        }
        if (d->starts_in_cycle >= 1)
                sim_violation(s, "I3", "%s started a second time in cycle %u, with no stop between",
                              d->name, s->cycle_no);
        if (d->owed_by_drain && !d->drain_sleep && s->drain_in_force && !s->restore_requested)
                sim_violation(s, "I6", "%s started while drained, before any Restore", d->name);
        if (!d->owed && !d->ambiguous)
                sim_violation(s, "I4", "%s started, but tdsleepd did not stop it%s", d->name,
                              d->starts > 0 ? " (since it last started it)" : "");
}

/* I7 at the moment of a destructive step: the newest durable record already covers it. */
void sim_check_destructive(Sim *s, const SimDomain *d, const char *what) {
        const State *rec = sim_durable_record(s);
        const StateDomain *sd = rec ? state_find_domain((State *) rec, d->uuid) : NULL;

        if (!sd)
                sim_violation(s, "I7", "%s of %s, which %s", what, d->name,
                              rec ? "the durable record does not list" : "no durable record covers");
        else if (!d->persistent && !sd->xml)
                sim_violation(s, "I7", "%s of transient %s, whose XML the durable record lacks", what, d->name);
}

/* I6: a durable save while drained must say so. */
void sim_check_saved(Sim *s, const State *st) {
        if (st->drained)
                s->drain_in_force = s->drain_durable = true;
        else if (s->drain_in_force && !s->restore_requested)
                sim_violation(s, "I6", "a durable save (gen %" PRIu64 ", %s) forgets the drain",
                              st->generation, cycle_phase_to_string(st->phase));
}

static const CycleResultDomain *result_find(const CycleResult *r, const char *uuid) {
        if (!r || !r->valid)
                return NULL;
        for (size_t i = 0; i < r->n_domains; i++)
                if (strcasecmp(r->domains[i].uuid, uuid) == 0)
                        return &r->domains[i];
        return NULL;
}

static void job_listed(void *userdata, const StateDomain *d, JobState state, const char *error) {
        const char **uuid = userdata;

        if (*uuid && strcasecmp(d->uuid, *uuid) == 0)
                *uuid = NULL;
}

/* Does the engine still hold d as one of its cycle's TDs? */
static bool engine_holds(const Sim *s, const SimDomain *d) {
        const char *uuid = d->uuid;

        cycle_foreach_job(s->cycle, job_listed, &uuid);
        return !uuid;
}

/* I2, when a cycle ends. */
void sim_check_end(Sim *s) {
        const CycleResult *r = cycle_last_result(s->cycle);
        bool drained = cycle_is_drained(s->cycle);

        for (unsigned i = 0; i < s->n_domains; i++) {
                SimDomain *d = &s->domains[i];
                const CycleResultDomain *rd;

                /* Reported running with tdsleepd's shutdown still pending in the guest (a
                 * shutdown cannot be withdrawn): the result and the journal say so, and a
                 * later stop is that reported risk (DESIGN.md, section 5). */
                rd = result_find(r, d->uuid);
                if (d->active && d->shutdown_pending && rd && !engine_holds(s, d) &&
                    IN_SET(rd->outcome, JOB_LEFT_RUNNING, JOB_STOP_FAILED))
                        d->reported_running = true;
                if (!d->owed || d->given_up || d->ambiguous || d->active)
                        continue;
                rd = result_find(r, d->uuid);
                if (rd && rd->outcome == JOB_START_FAILED) {
                        d->given_up = true;
                        if (!d->persistent && !d->keep_failed)
                                sim_violation(s, "I2", "transient %s failed to start and its XML was not kept", d->name);
                        continue;
                }
                if (drained && (d->owed_by_drain || engine_holds(s, d)))
                        continue;       /* the drain keeps it until Restore */
                if (!s->cfg.settings.restart_after_resume && (!d->owed_by_drain || d->drain_sleep)) {
                        d->given_up = true;
                        continue;
                }
                sim_violation(s, "I2", "cycle %u ended and %s, stopped by tdsleepd, is not running (%s%s%s)",
                              s->cycle_no, d->name, rd ? job_name(rd->outcome) : "not in the result",
                              rd && rd->error ? ": " : "", rd && rd->error ? rd->error : "");
        }
        if (!drained && s->power.mem_sleep_selected != s->mem_sleep_original)
                sim_violation(s, "I2", "cycle %u ended with mem_sleep %s, it was %s", s->cycle_no,
                              strna(mem_sleep_to_string(s->power.mem_sleep_selected)),
                              strna(mem_sleep_to_string(s->mem_sleep_original)));
}

/* Follow the cycle as the world sees it: it begins when the engine leaves rest and ends
 * when it comes back (idle, or drained and ready), whatever restarts happen between. */
void sim_follow_cycle(Sim *s) {
        bool rest = sim_at_rest(s);

        if (!s->cycle)
                return;
        if (!s->in_cycle && !rest) {
                s->in_cycle = true;
                s->cycle_no++;
                for (unsigned i = 0; i < s->n_domains; i++)
                        s->domains[i].starts_in_cycle = 0;
                sim_log(s, "cycle %u begins (%s)", s->cycle_no, cycle_phase_to_string(cycle_phase(s->cycle)));
        } else if (s->in_cycle && rest) {
                sim_log(s, "cycle %u ends%s", s->cycle_no, cycle_is_drained(s->cycle) ? " drained" : "");
                s->in_cycle = false;
                s->cycles_ended++;
                sim_check_end(s);
                if (s->drain_in_force && !s->restore_requested && !cycle_is_drained(s->cycle))
                        sim_violation(s, "I6", "cycle %u ended undrained, and no Restore was asked", s->cycle_no);
                s->draining = false;
                if (!cycle_is_drained(s->cycle)) {
                        if (s->drain_in_force || s->restore_requested)
                                s->drain_restored = true;
                        s->drain_in_force = s->drain_durable = s->restore_requested = false;
                } else if (s->drain_restored)
                        sim_violation(s, "I6", "cycle %u ended drained, though Restore ended the drain and "
                                      "no Drain came since", s->cycle_no);
        }
}

/* RestartAfterResume=no: what a sleep stopped stays stopped, by the operator's choice. */
static bool stays_stopped(const Sim *s, const SimDomain *d) {
        return !s->cfg.settings.restart_after_resume && (!d->owed_by_drain || d->drain_sleep);
}

/* I7 and I5, after every step. */
void sim_check(Sim *s) {
        const State *rec = sim_durable_record(s);

        for (unsigned i = 0; i < s->n_domains; i++) {
                const SimDomain *d = &s->domains[i];
                const StateDomain *sd;

                if (!d->owed || d->given_up || d->ambiguous || d->active || stays_stopped(s, d))
                        continue;
                sd = rec ? state_find_domain((State *) rec, d->uuid) : NULL;
                if (!sd)
                        sim_violation(s, "I7", "%s is stopped by tdsleepd and %s", d->name,
                                      rec ? "missing from the durable record" : "no durable record exists");
                else if (sd->started)
                        sim_violation(s, "I7", "%s is stopped, the durable record says started", d->name);
                else if (!d->persistent && !sd->xml)
                        sim_violation(s, "I7", "transient %s is stopped, the durable record has no XML", d->name);
        }

        if (!s->cycle || s->zombie || s->now <= s->last_external + s->bound_usec)
                return;
        if (s->libvirt_up && s->libvirt_seen && s->logind_up && s->host == SIM_HOST_AWAKE && !sim_at_rest(s))
                sim_violation(s, "I5", "no cycle end %" PRIu64 " s after the last event (phase %s%s)",
                              (s->now - s->last_external) / USEC_PER_SEC,
                              cycle_phase_to_string(cycle_phase(s->cycle)),
                              cycle_is_drained(s->cycle) ? ", drained" : "");
        else if (s->host == SIM_HOST_PREPARING && s->delay_held && s->libvirt_up && s->libvirt_seen &&
                 cycle_phase(s->cycle) == CYCLE_PHASE_PREPARING)
                sim_violation(s, "I5", "still preparing, delay lock held, %" PRIu64 " s after the last event",
                              (s->now - s->last_external) / USEC_PER_SEC);
}
