/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The simulated world's side of CycleOps: libvirt (with RPC errors, stalls and a crash
 * of tdsleepd at any effect boundary), the record on the disk and in the fd store,
 * logind's delay lock, mem_sleep, the timer. */

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "sim-internal.h"

/* ---- records ---- */

int sim_state_copy(const State *from, State *ret) {
        State s = *from;

        s.domains = NULL;
        s.n_domains = 0;
        for (size_t i = 0; i < from->n_domains; i++) {
                const StateDomain *d = &from->domains[i];
                int r = state_add_domain(&s, d->uuid, d->name, d->xml, d->persistent);

                if (r < 0) {
                        state_done(&s);
                        return r;
                }
                s.domains[i].started = d->started;
                s.domains[i].drained = d->drained;
                s.domains[i].stop = d->stop;
        }
        *ret = s;
        return 0;
}

void sim_copy_clear(SimCopy *c) {
        if (c->present)
                state_done(&c->state);
        *c = (SimCopy) { .present = false };
}

static void copy_set(SimCopy *c, const State *s, bool finished, uint64_t now) {
        sim_copy_clear(c);
        if (sim_state_copy(s, &c->state) < 0)
                abort();
        c->present = true;
        c->finished_marker = finished;
        c->saved_at = now;
}

const State *sim_durable_record(const Sim *s) {
        const SimCopy *newest = NULL;

        if (s->disk.present)
                newest = &s->disk;
        if (s->fdstore.present && (!newest || s->fdstore.state.generation > newest->state.generation))
                newest = &s->fdstore;
        if (!newest || newest->finished_marker)
                return NULL;
        /* A finished marker in the fd store for the disk's cycle: never replayed. */
        if (newest == &s->disk && s->fdstore.present && s->fdstore.finished_marker &&
            streq(s->fdstore.state.cycle_id, s->disk.state.cycle_id))
                return NULL;
        return &newest->state;
}

/* ---- CycleOps ---- */

static Sim *SIM(void *userdata) {
        return userdata;
}

/* Every effect starts here (a request: when it is submitted): crash before it (skip the effect) or after it (the effect
 * lands, nothing after it does), inject a stall. Returns true if the effect must not land. */
bool sim_op_enter(Sim *s, SimOp op) {
        bool crash;

        if (s->zombie)
                return true;
        crash = s->crash_on_op == op ||
                (s->crashes < SIM_CRASHES_MAX && sim_chance(s, s->cfg.crash_permille));
        if (crash) {
                bool after = s->crash_on_op == op ? s->crash_after_effect : sim_rand(&s->src, 2);

                s->crash_on_op = _SIM_OP_NONE;
                sim_log(s, "CRASH of tdsleepd %s %s", after ? "after" : "before", sim_op_to_string(op));
                if (!after) {
                        s->zombie = true;
                        return true;
                }
                s->zombie_after = true;
        }
        return false;   /* libvirt's requests stall in flight (sim-effects.c) */
}

void sim_op_leave(Sim *s) {
        if (s->zombie_after) {
                s->zombie_after = false;
                s->zombie = true;
        }
}

/* An RPC error libvirt may answer anything with (scripted or random). */
int sim_op_fault(Sim *s, SimOp op, const char *words) {
        int r;

        if (s->fail_next_op == op) {
                r = s->fail_next_errno;
                s->fail_next_op = _SIM_OP_NONE;
        } else if (sim_chance(s, s->cfg.rpc_error_permille))
                r = -EIO;
        else
                return 0;
        snprintf(s->error_text, sizeof(s->error_text), "%s", r == -ENOTCONN ?
                 "internal error: client socket is closed" : words);
        return r;
}

static uint64_t op_now(void *userdata) {
        return SIM(userdata)->now;
}

static uint64_t op_realtime(void *userdata) {
        return SIM_REALTIME_BASE + SIM(userdata)->now + SIM(userdata)->slept_usec;
}

static void op_observe(void *userdata, CycleWorld *ret) {
        Sim *s = SIM(userdata);
        PlanDomain *table;
        size_t n = 0;

        assert_se(s->n_observed < ELEMENTSOF(s->observed));
        table = calloc(SIM_DOMAINS_MAX, sizeof(PlanDomain));
        if (!table)
                abort();
        s->observed[s->n_observed++] = table;
        if (s->libvirt_seen && s->libvirt_up)
                for (unsigned i = 0; i < s->n_domains; i++)
                        if (s->domains[i].defined)
                                table[n++] = sim_plan_domain(&s->domains[i]);
        *ret = (CycleWorld) {
                .libvirt_connected = s->libvirt_seen && s->libvirt_up,
                .domains = table,
                .n_domains = n,
                .power_known = s->power_known,
                .power = s->power_known ? s->power : (PowerPicture) { .mem_sleep_selected = _MEM_SLEEP_INVALID },
                .kernel_policy = s->cfg.kernel_policy,
                .hook_reachable = s->cfg.hook_reachable,
                /* The planner cuts windows (or steers) to fit it: the engine must keep
                 * its invariants with the planned windows too. */
                .inhibit_delay_max_usec = s->cfg.inhibit_delay_max_usec,
        };
}

static int op_save(void *userdata, State *st) {
        Sim *s = SIM(userdata);
        bool skip = sim_op_enter(s, SIM_OP_SAVE);
        int r;

        /* What the daemon's record module does before writing: ids and the generation. */
        if (st->cycle_id[0] == '\0')
                snprintf(st->cycle_id, sizeof(st->cycle_id), "5e%030x", ++s->cycle_ids);
        if (st->boot_id[0] == '\0')
                snprintf(st->boot_id, sizeof(st->boot_id), "%s", SIM_BOOT_ID);
        st->generation = MAX(st->generation, s->generation) + 1;
        s->generation = st->generation;
        if (skip)
                return RECORD_ON_DISK;
        s->saves++;
        if (s->disk_fault == 0) {
                copy_set(&s->disk, st, false, s->now);
                sim_copy_clear(&s->fdstore);
                r = RECORD_ON_DISK;
        } else if (s->fdstore_fault == 0) {
                copy_set(&s->fdstore, st, false, s->now);
                s->saves_degraded++;
                r = RECORD_IN_FD_STORE;
        } else {
                s->saves_failed++;
                r = s->disk_fault;
        }
        sim_log(s, "save gen %" PRIu64 " %s %s%s, %zu TDs -> %s", st->generation, cycle_phase_to_string(st->phase),
                st->cycle_id + 26, st->drained ? " drained" : "", st->n_domains,
                r == RECORD_ON_DISK ? "disk" : r == RECORD_IN_FD_STORE ? "fd store" : STRERROR(r));
        if (r >= 0)
                sim_check_saved(s, st);
        sim_op_leave(s);
        return r;
}

static int op_finish(void *userdata, const State *st) {
        Sim *s = SIM(userdata);
        int r;

        if (sim_op_enter(s, SIM_OP_FINISH))
                return 0;
        if (IN_SET(s->disk_fault, 0, -ENOSPC)) {
                sim_copy_clear(&s->disk);           /* unlink works on a full disk */
                sim_copy_clear(&s->fdstore);
                r = 0;
        } else if (s->fdstore_fault == 0) {
                State marker;

                state_init(&marker);
                memcpy(marker.cycle_id, st->cycle_id, sizeof(marker.cycle_id));
                marker.generation = ++s->generation;
                copy_set(&s->fdstore, &marker, true, s->now);
                r = 0;
        } else {
                r = s->disk_fault;
                /* Neither copy can be closed: a restart replays the finished cycle (logged
                 * at crit). What it then does to the TDs it lists is its best guess. */
                memcpy(s->unclosed_cycle, st->cycle_id, sizeof(s->unclosed_cycle));
        }
        sim_log(s, "finish %s -> %s", st->cycle_id + 26, r < 0 ? STRERROR(r) :
                s->fdstore.finished_marker ? "fd store marker" : "removed");
        sim_op_leave(s);
        return r;
}

static void op_keep_failed(void *userdata, const StateDomain *sd) {
        Sim *s = SIM(userdata);
        SimDomain *d;

        if (sim_op_enter(s, SIM_OP_KEEP_FAILED))
                return;
        d = sim_find(s, sd->uuid);
        sim_log(s, "keep_failed %s (xml %s)", sd->name, sd->xml ? "kept" : "MISSING");
        if (d && sd->xml) {
                d->keep_failed = true;
                if (d->owed && !d->active)
                        d->given_up = true;     /* reported, its XML with the operator */
        }
        sim_op_leave(s);
}

static void op_take_delay(void *userdata) {
        Sim *s = SIM(userdata);

        if (sim_op_enter(s, SIM_OP_TAKE_DELAY))
                return;
        if (!s->delay_held)
                sim_log(s, "delay lock taken");
        s->delay_held = true;
        sim_op_leave(s);
}

static void op_release_delay(void *userdata) {
        Sim *s = SIM(userdata);

        if (sim_op_enter(s, SIM_OP_RELEASE_DELAY))
                return;
        if (s->delay_held)
                sim_log(s, "delay lock released");
        s->delay_held = false;
        sim_op_leave(s);
}

static int op_write_mem_sleep(void *userdata, MemSleep m) {
        Sim *s = SIM(userdata);
        int r;

        if (sim_op_enter(s, SIM_OP_WRITE_MEM_SLEEP))
                return 0;
        if (m < 0 || m >= _MEM_SLEEP_MAX || !(s->power.mem_sleep_available & POWER_MASK(m)))
                r = -EINVAL;
        else {
                s->power.mem_sleep_selected = m;
                r = 0;
        }
        sim_log(s, "mem_sleep <- %s -> %s", strna(mem_sleep_to_string(m)), r < 0 ? STRERROR(r) : "ok");
        sim_op_leave(s);
        return r;
}

static void op_ensure_cpus_online(void *userdata) {
}

static void op_arm_timer(void *userdata, uint64_t usec) {
        Sim *s = SIM(userdata);

        if (!s->zombie)
                s->timer_at = usec;
}

static void op_on_phase(void *userdata) {
        Sim *s = SIM(userdata);

        if (s->zombie || !s->cycle)
                return;
        sim_log(s, "phase %s%s", cycle_phase_to_string(cycle_phase(s->cycle)),
                cycle_is_drained(s->cycle) ? " (drained)" : "");
        /* A cycle may begin and end (or end and begin) within one call: follow it here. */
        sim_follow_cycle(s);
}

static void op_on_job(void *userdata, const StateDomain *d, JobState state) {
        Sim *s = SIM(userdata);

        SimDomain *sd;

        if (s->zombie)
                return;
        sim_log(s, "job %s %s", d->name, strna(job_state_to_string(state)));
        sd = sim_find(s, d->uuid);
        if (sd)
                sd->last_report = state;
        /* Reported failed after its retries (the journal says so, whatever a crash does
         * to the last result later): the operator's now. A transient one is checked at
         * the cycle's end, where its XML must have been kept. */
        if (sd && state == JOB_START_FAILED && sd->owed && !sd->active && sd->persistent)
                sd->given_up = true;
        if (s->mask_late_stops && sd && sd->active && sd->shutdown_pending &&
            IN_SET(state, JOB_DROPPED, JOB_LEFT_RUNNING, JOB_STOP_FAILED)) {
                sd->shutdown_pending = false;
                sd->stop_at = SIM_USEC_INFINITY;
                sim_log(s, "%s cancels its ACPI shutdown (--mask-late-stops)", sd->name);
        }
}

const CycleOps sim_ops = {
        .now = op_now,
        .realtime = op_realtime,
        .observe = op_observe,
        .shutdown = sim_submit_shutdown,
        .destroy = sim_submit_destroy,
        .start = sim_submit_start,
        .get_xml = sim_submit_get_xml,
        .save = op_save,
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

const char *sim_op_to_string(SimOp op) {
        static const char *const table[_SIM_OP_MAX] = {
                [SIM_OP_SHUTDOWN] = "shutdown",
                [SIM_OP_DESTROY] = "destroy",
                [SIM_OP_START] = "start",
                [SIM_OP_GET_XML] = "get_xml",
                [SIM_OP_SAVE] = "save",
                [SIM_OP_FINISH] = "finish",
                [SIM_OP_KEEP_FAILED] = "keep_failed",
                [SIM_OP_TAKE_DELAY] = "take_delay",
                [SIM_OP_RELEASE_DELAY] = "release_delay",
                [SIM_OP_WRITE_MEM_SLEEP] = "write_mem_sleep",
        };

        return op >= 0 && op < _SIM_OP_MAX ? table[op] : "none";
}
