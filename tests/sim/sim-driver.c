/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* Random worlds and random steps, from the seed or the fuzzer's bytes; and the settling
 * at the end of a run, which heals every fault and checks that every cycle ended. */

#include <inttypes.h>
#include <string.h>

#include "sim-internal.h"

#define R(n) sim_rand(&s->src, (n))

static unsigned pick(SimSource *src, const unsigned *values, size_t n) {
        return values[sim_rand(src, n)];
}

void sim_config_random(SimSource *src, SimConfig *ret) {
        static const unsigned crash[] = { 0, 0, 5, 20, 60 };
        static const unsigned rpc[] = { 0, 0, 20, 100 };
        static const unsigned stall[] = { 0, 0, 10, 50 };
        static const unsigned dup[] = { 0, 50, 200 };
        CycleSettings *set = &ret->settings;
        PowerPicture *p = &ret->power;
        uint64_t retry;

        sim_config_default(ret, 1 + sim_rand(src, SIM_DOMAINS_MAX - 2));
        set->force_off = sim_rand(src, 8) != 0;
        set->parallel_shutdown = sim_rand(src, 4);
        set->parallel_start = sim_rand(src, 4);
        set->restart_after_resume = sim_rand(src, 10) != 0;
        set->start_attempts = 1 + sim_rand(src, 4);
        retry = (1 + sim_rand(src, 5)) * USEC_PER_SEC;
        set->start_retry_usec = retry;
        set->start_retry_max_usec = retry * (1 + sim_rand(src, 8));

        p->states = POWER_MASK(POWER_STATE_FREEZE) | POWER_MASK(POWER_STATE_MEM);
        if (sim_rand(src, 2))
                p->states |= POWER_MASK(POWER_STATE_DISK);
        p->has_swap = sim_rand(src, 2);
        p->mem_sleep_available = POWER_MASK(MEM_SLEEP_S2IDLE) | POWER_MASK(MEM_SLEEP_DEEP);
        if (sim_rand(src, 4) == 0)
                p->mem_sleep_available |= POWER_MASK(MEM_SLEEP_SHALLOW);
        switch (sim_rand(src, 10)) {
        case 0: case 1: case 2:
                p->mem_sleep_selected = MEM_SLEEP_S2IDLE;
                break;
        case 3:
                p->mem_sleep_selected = p->mem_sleep_available & POWER_MASK(MEM_SLEEP_SHALLOW) ?
                        MEM_SLEEP_SHALLOW : MEM_SLEEP_DEEP;
                break;
        default:
                p->mem_sleep_selected = MEM_SLEEP_DEEP;
        }
        ret->kernel_policy = sim_rand(src, 3) ? KERNEL_POLICY_RUNTIME : KERNEL_POLICY_NONE;
        ret->hook_reachable = sim_rand(src, 10) != 0;
        /* Mostly long enough for any cycle (the drop-in we ship); sometimes logind's 5 s. */
        ret->inhibit_delay_max_usec = sim_rand(src, 10) ? 3600 * USEC_PER_SEC : 5 * USEC_PER_SEC;
        ret->crash_permille = pick(src, crash, ELEMENTSOF(crash));
        ret->rpc_error_permille = pick(src, rpc, ELEMENTSOF(rpc));
        ret->stall_permille = pick(src, stall, ELEMENTSOF(stall));
        ret->event_dup_permille = pick(src, dup, ELEMENTSOF(dup));
}

void sim_random_domains(Sim *s) {
        static const unsigned timeouts[] = { 2, 5, 8, 30, 60 };

        for (unsigned i = 0; i < s->n_domains; i++) {
                SimDomain *d = &s->domains[i];
                unsigned k = R(20);

                d->protected = R(5) != 0;
                if (!d->protected)
                        snprintf(d->name, sizeof(d->name), "vm%u", i);
                d->action = k < 14 ? SLEEP_ACTION_STOP : k < 17 ? SLEEP_ACTION_S2IDLE : SLEEP_ACTION_REFUSE;
                d->persistent = R(10) < 7;
                d->active = !d->persistent || R(8) != 0;
                d->defined = true;
                d->timeout_usec = timeouts[R(ELEMENTSOF(timeouts))] * USEC_PER_SEC;
                k = R(20);
                d->guest = k < 10 ? SIM_GUEST_HONOURS : k < 13 ? SIM_GUEST_SLOW :
                        k < 16 ? SIM_GUEST_IGNORES : SIM_GUEST_CRASHES;
                d->honour_usec = d->guest == SIM_GUEST_SLOW ?
                        d->timeout_usec / 2 + R(2 * d->timeout_usec) :
                        (200 + R(4800)) * USEC_PER_MSEC;
                k = R(10);
                d->start_failures = k < 7 ? 0 : k < 9 ? 1 + R(3) : UINT32_MAX;
        }
}

static SleepStep random_operation(Sim *s) {
        bool can_hibernate = (s->power.states & POWER_MASK(POWER_STATE_DISK)) && s->power.has_swap;

        if (!can_hibernate || R(2))
                return SLEEP_STEP_SUSPEND;
        return R(3) ? SLEEP_STEP_HIBERNATE : SLEEP_STEP_HYBRID_SLEEP;
}

static int random_fault(Sim *s) {
        static const int faults[] = { 0, 0, -ENOSPC, -EROFS, -EIO };

        return faults[R(ELEMENTSOF(faults))];
}

static void advance_to_next(Sim *s) {
        if (s->host == SIM_HOST_ASLEEP) {
                sim_wake(s);
                return;
        }
        if (!sim_run_next(s))
                sim_advance(s, (1 + R(60)) * USEC_PER_SEC);
}

void sim_step(Sim *s) {
        unsigned k = R(100);
        unsigned i = s->n_domains > 0 ? R(s->n_domains) : 0;

        s->steps++;
        if (k < 45)
                advance_to_next(s);
        else if (k < 50)
                sim_advance(s, R(10 * USEC_PER_SEC));
        else if (k < 56)
                sim_request_sleep(s, random_operation(s));
        else if (k < 59) {
                if (s->host == SIM_HOST_ASLEEP)
                        sim_wake(s);
                else
                        sim_abort_sleep(s);
        } else if (k < 61)
                sim_abort_sleep(s);
        else if (k < 64)
                sim_drain(s, R(2) ? 0 : (1 + R(30)) * USEC_PER_SEC);
        else if (k < 67)
                sim_restore(s);
        else if (k < 70)
                sim_operator_start(s, i);
        else if (k < 72)
                sim_operator_stop(s, i);
        else if (k < 74)
                sim_guest_crash(s, i);
        else if (k < 76)
                sim_libvirt_die(s, R(4) ? (100 + R(20000)) * USEC_PER_MSEC : 120 * USEC_PER_SEC);
        else if (k < 78) {
                uint64_t down = R(3000) * USEC_PER_MSEC;     /* one choice per statement: */

                sim_logind_restart(s, down, R(4) == 0);      /* argument order is unspecified */
        }
        else if (k < 81)
                sim_crash(s, sim_crash_down_usec(s));
        else if (k < 84)
                sim_set_disk_fault(s, random_fault(s));
        else if (k < 86)
                sim_set_fdstore_fault(s, R(3) ? 0 : -ENOMEM);
        else if (k < 88)
                sim_resume_call(s);
        else if (k < 90)
                sim_duplicate_prepare(s);
        else if (k < 91)
                sim_set_power_known(s, R(4) != 0);
        else if (k < 96) {
                if (s->n_events > 0 && s->host != SIM_HOST_ASLEEP) {
                        if (s->events[0].at > s->now)
                                s->now = s->events[0].at;
                        sim_run_next(s);
                } else
                        advance_to_next(s);
        } else
                advance_to_next(s);
        if (s->cycle && !s->zombie)
                sim_check(s);
}

/* Heal, wake, reconnect, restore, and let everything run out: then every cycle must be
 * over (I5) with every TD back (I2). */
void sim_settle(Sim *s) {
        uint64_t deadline;

        if (!sim_ok(s))
                return;
        s->settling = true;
        sim_log(s, "settling: faults healed");
        sim_set_disk_fault(s, 0);
        sim_set_fdstore_fault(s, 0);
        s->fail_next_op = s->stall_next_op = s->crash_on_op = _SIM_OP_NONE;
        for (unsigned round = 0; round < 40 && sim_ok(s); round++) {
                if (!s->cycle && s->restart_at > s->now)
                        s->restart_at = s->now;
                if (!s->logind_up && s->logind_back_at > s->now)
                        s->logind_back_at = s->now;
                if (!s->libvirt_up && s->libvirt_back_at > s->now)
                        s->libvirt_back_at = s->now;
                if (s->host == SIM_HOST_ASLEEP)
                        sim_wake(s);
                sim_run(s, s->bound_usec);
                if (s->host == SIM_HOST_ASLEEP)
                        continue;
                if (s->cycle && sim_at_rest(s) && cycle_is_drained(s->cycle)) {
                        if (sim_restore(s) < 0)
                                sim_advance(s, 10 * USEC_PER_SEC);
                        continue;
                }
                if (s->cycle && sim_at_rest(s) && s->host == SIM_HOST_AWAKE && s->n_events == 0)
                        break;
                if (!sim_run_next(s))
                        sim_advance(s, 10 * USEC_PER_SEC);
        }
        if (!sim_ok(s))
                return;
        /* Nothing left to happen: let the bound pass and look. */
        deadline = s->last_external + s->bound_usec + 1;
        if (s->now < deadline)
                sim_advance(s, deadline - s->now);
        if (!s->cycle)
                sim_violation(s, "I5", "tdsleepd is still down after settling");
        else if (!sim_at_rest(s))
                sim_violation(s, "I5", "the cycle never ended (phase %s%s, host %d)",
                              cycle_phase_to_string(cycle_phase(s->cycle)),
                              cycle_is_drained(s->cycle) ? ", drained" : "", s->host);
        else if (cycle_is_drained(s->cycle))
                sim_violation(s, "I6", "still drained after Restore");
        if (!sim_ok(s))
                return;
        for (unsigned i = 0; i < s->n_domains; i++) {
                const SimDomain *d = &s->domains[i];

                if (d->owed && !d->given_up && !d->ambiguous && !d->active)
                        sim_violation(s, "I2", "%s, stopped by tdsleepd, never ran again", d->name);
        }
}

/* ---- whole runs, for the drivers ---- */

static bool run(Sim *s, unsigned max_steps, char *ret_violation, size_t size) {
        SimConfig cfg;
        bool ok;

        sim_config_random(&s->src, &cfg);
        sim_init(s, &cfg);
        sim_random_domains(s);
        sim_boot(s);
        while (sim_ok(s) && s->steps < max_steps && !s->src.exhausted)
                sim_step(s);
        sim_settle(s);
        ok = sim_ok(s);
        if (!ok && ret_violation) {
                char replay[256];

                sim_replay_line(s, replay, sizeof(replay));
                snprintf(ret_violation, size, "%s; replay: %s", s->violation, replay);
        }
        sim_done(s);
        return ok;
}

bool sim_run_seed(uint64_t seed, unsigned steps, unsigned flags, char *ret_violation, size_t size) {
        Sim *s = calloc(1, sizeof(Sim));
        bool ok;

        if (!s)
                abort();
        s->seed = seed;
        s->verbose = flags & SIM_RUN_VERBOSE;
        s->quiet = flags & SIM_RUN_QUIET;
        s->mask_late_stops = flags & SIM_RUN_MASK_LATE_STOPS;
        sim_source_seed(&s->src, seed);
        ok = run(s, steps, ret_violation, size);
        free(s);
        return ok;
}

bool sim_run_bytes(const uint8_t *data, size_t size, const char *name, bool verbose, bool quiet) {
        Sim *s = calloc(1, sizeof(Sim));
        bool ok;

        if (!s)
                abort();
        s->replay_input = name ? name : "FILE";
        s->verbose = verbose;
        s->quiet = quiet;
        sim_source_bytes(&s->src, data, size);
        ok = run(s, SIM_BYTES_STEPS_MAX, NULL, 0);
        free(s);
        return ok;
}
