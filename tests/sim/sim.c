/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The simulator's core: the source of choices, the trace, the domains, tdsleepd's
 * crashes and restarts, and setting a world up. CycleOps are in sim-ops.c, the events in
 * sim-world.c, the invariants in sim-check.c, random worlds and steps in sim-driver.c. */

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim-internal.h"

/* ---- the source of every choice ---- */

void sim_source_seed(SimSource *src, uint64_t seed) {
        *src = (SimSource) { .state = seed };
}

void sim_source_bytes(SimSource *src, const uint8_t *data, size_t size) {
        *src = (SimSource) { .data = data, .size = size };
}

static uint64_t splitmix64(uint64_t *state) {
        uint64_t z = (*state += UINT64_C(0x9e3779b97f4a7c15));

        z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
        z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
        return z ^ (z >> 31);
}

/* Bytes mode: as few bytes as n needs, so that a short input is a short script and a
 * mutated byte changes one choice. */
uint64_t sim_rand(SimSource *src, uint64_t n) {
        uint64_t v = 0;

        if (n <= 1)
                return 0;
        if (!src->data)
                return splitmix64(&src->state) % n;
        for (uint64_t range = 1; range < n; range <<= 8) {
                if (src->pos >= src->size) {
                        src->exhausted = true;
                        return 0;
                }
                v = (v << 8) | src->data[src->pos++];
        }
        return v % n;
}

/* Faults only while choices last: once the fuzzer's bytes ran out every choice is 0,
 * and "0 < permille" would make every chance certain (a crash at every restart). */
bool sim_chance(Sim *s, unsigned permille) {
        if (permille == 0 || s->settling || s->src.exhausted)
                return false;
        return sim_rand(&s->src, 1000) < permille;
}

/* ---- the trace ---- */

void sim_log(Sim *s, const char *fmt, ...) {
        char *line = s->trace[s->trace_next];
        va_list ap;
        int n;

        n = snprintf(line, SIM_TRACE_LINE_MAX, "[%4" PRIu64 ".%06" PRIu64 "] ",
                     s->now / USEC_PER_SEC, s->now % USEC_PER_SEC);
        va_start(ap, fmt);
        vsnprintf(line + n, SIM_TRACE_LINE_MAX - n, fmt, ap);
        va_end(ap);
        if (s->verbose)
                fprintf(stderr, "%s\n", line);
        s->trace_next = (s->trace_next + 1) % SIM_TRACE_LINES;
        if (s->trace_count < SIM_TRACE_LINES)
                s->trace_count++;
}

void sim_print_trace(const Sim *s, FILE *f) {
        unsigned first = (s->trace_next + SIM_TRACE_LINES - s->trace_count) % SIM_TRACE_LINES;

        for (unsigned i = 0; i < s->trace_count; i++)
                fprintf(f, "  %s\n", s->trace[(first + i) % SIM_TRACE_LINES]);
}

void sim_replay_line(const Sim *s, char *buf, size_t size) {
        if (s->replay_input)
                snprintf(buf, size, "build/tests/sim/sim-sweep --input %s -v", s->replay_input);
        else
                snprintf(buf, size, "build/tests/sim/sim-sweep --seed %" PRIu64 " --steps %u%s -v",
                         s->seed, s->steps, s->mask_late_stops ? " --mask-late-stops" : "");
}

void sim_violation(Sim *s, const char *invariant, const char *fmt, ...) {
        char what[400], replay[256];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(what, sizeof(what), fmt, ap);
        va_end(ap);
        s->violations++;
        sim_log(s, "VIOLATION %s: %s", invariant, what);
        if (s->violations > 1)
                return;
        snprintf(s->violation, sizeof(s->violation), "%s: %s", invariant, what);
        if (s->quiet)
                return;
        sim_replay_line(s, replay, sizeof(replay));
        fprintf(stderr, "VIOLATION %s at t=%.6fs: %s\ntrace (last %u lines):\n", invariant,
                (double) s->now / USEC_PER_SEC, what, s->trace_count);
        sim_print_trace(s, stderr);
        fprintf(stderr, "replay: %s\n", replay);
}

bool sim_ok(const Sim *s) {
        return s->violations == 0;
}

/* ---- domains ---- */

SimDomain *sim_find(Sim *s, const char *uuid) {
        for (unsigned i = 0; i < s->n_domains; i++)
                if (strcasecmp(s->domains[i].uuid, uuid) == 0)
                        return &s->domains[i];
        return NULL;
}

void sim_domain_xml(const SimDomain *d, char *buf, size_t size) {
        snprintf(buf, size, "<domain type='kvm'><name>%s</name><uuid>%s</uuid>"
                 "<launchSecurity type='%s'/></domain>", d->name, d->uuid, d->protected ? "tdx" : "none");
}

PlanDomain sim_plan_domain(const SimDomain *d) {
        return (PlanDomain) {
                .uuid = d->uuid,
                .name = d->name,
                .active = d->active,
                .persistent = d->persistent,
                .protected = d->protected,
                .action = d->action,
                .timeout_usec = d->timeout_usec,
        };
}

/* libvirt tells its subscribers (if the daemon is connected). */
void sim_queue_event(Sim *s, SimDomain *d, bool started) {
        uint64_t at;

        if (!s->cycle || s->zombie || !s->libvirt_up || !s->libvirt_seen)
                return;
        for (unsigned copies = sim_chance(s, s->cfg.event_dup_permille) ? 2 : 1; copies > 0; copies--) {
                if (s->n_events >= SIM_EVENTS_MAX) {
                        sim_log(s, "event queue full: %s %s lost", d->name, started ? "started" : "stopped");
                        return;
                }
                at = s->now + (s->settling ? 0 : sim_rand(&s->src, 300) * USEC_PER_MSEC);
                if (s->n_events > 0 && at < s->events[s->n_events - 1].at)
                        at = s->events[s->n_events - 1].at;     /* one connection: in order */
                s->events[s->n_events++] = (SimEvent) {
                        .domain = (unsigned) (d - s->domains),
                        .started = started,
                        .at = at,
                };
        }
}

/* The guest is gone: why decides whether tdsleepd stopped it (the invariants' "owed"). */
void sim_domain_stopped(Sim *s, SimDomain *d, SimStopReason why) {
        assert_se(d->active);
        d->active = false;
        d->stop_at = SIM_USEC_INFINITY;
        if (!d->persistent)
                d->defined = false;
        switch (why) {
        case SIM_STOP_DESTROYED:
        case SIM_STOP_BY_ITSELF:
        case SIM_STOP_OPERATOR:         /* with tdsleepd's shutdown pending: whose stop is it? */
                /* (A pending request reported as a risk does not settle it either.) */
                if (why != SIM_STOP_DESTROYED && (!d->shutdown_pending || d->reported_running) && d->maybe_sent) {
                        d->ambiguous = true;    /* the record cannot tell: either way is right */
                        d->starts_in_cycle = 0;
                } else if (why == SIM_STOP_DESTROYED || (d->shutdown_pending && !d->reported_running)) {
                        d->owed = true;
                        d->starts_in_cycle = 0;         /* a new stop: one start is due */
                        d->owed_by_drain = s->draining || (s->drain_in_force && !s->restore_requested) ||
                                (s->cycle && !s->zombie && cycle_is_drained(s->cycle));
                        d->drain_sleep = d->owed_by_drain && (d->shutdown_for_sleep || s->host != SIM_HOST_AWAKE);
                        d->given_up = false;
                }
                break;
        case SIM_STOP_LOST_IN_SLEEP:
                /* Not stopped by tdsleepd (I1 says whether it should have been); starting
                 * it again after the resume is neither required nor wrong. */
                d->ambiguous = true;
                d->starts_in_cycle = 0;
                break;
        }
        d->shutdown_pending = d->shutdown_for_sleep = d->reported_running = d->maybe_sent = false;
        if (d->raced && d->starts_in_cycle > 0)
                d->raced = false;       /* the run tdsleepd's own start began is over */
        sim_log(s, "%s stopped (%s)%s", d->name,
                why == SIM_STOP_DESTROYED ? "destroyed" : why == SIM_STOP_BY_ITSELF ? "guest" :
                why == SIM_STOP_LOST_IN_SLEEP ? "lost in the sleep" : "operator",
                d->owed ? ", owed a start" : "");
        sim_queue_event(s, d, false);
}

void sim_domain_started(Sim *s, SimDomain *d) {
        d->started_at = s->now;
        d->defined = true;
        d->active = true;
        d->owed = d->owed_by_drain = d->ambiguous = d->reported_running = d->maybe_sent = false;
        d->shutdown_pending = false;
        d->stop_at = SIM_USEC_INFINITY;
        if (d->guest == SIM_GUEST_CRASHES && !s->settling && sim_rand(&s->src, 2))
                d->stop_at = s->now + (1 + sim_rand(&s->src, 120)) * USEC_PER_SEC;
        sim_queue_event(s, d, true);
}

/* Guests whose stop is due: only the world changes (used while an op stalls, too). */
void sim_guests_due(Sim *s) {
        for (unsigned i = 0; i < s->n_domains; i++) {
                SimDomain *d = &s->domains[i];

                if (d->active && d->stop_at <= s->now)
                        sim_domain_stopped(s, d, SIM_STOP_BY_ITSELF);
        }
}

/* ---- tdsleepd: calls into the engine, crashes, restarts ---- */

/* After every call into the engine: drop observe() tables, die if an op crashed, follow
 * the cycle as the simulator sees it, check the invariants. */
void sim_engine_returned(Sim *s) {
        for (unsigned i = 0; i < s->n_observed; i++)
                free(s->observed[i]);
        s->n_observed = 0;
        if (s->zombie) {
                s->zombie = false;
                sim_crash(s, sim_crash_down_usec(s));
                return;
        }
        sim_follow_cycle(s);
        sim_check(s);
}

uint64_t sim_crash_down_usec(Sim *s) {
        switch (sim_rand(&s->src, 8)) {
        case 0: case 1: case 2: case 3:
                return 0;
        case 7:
                return (30 + sim_rand(&s->src, 300)) * USEC_PER_SEC;
        default:
                return sim_rand(&s->src, 5000) * USEC_PER_MSEC;
        }
}

/* Reported left running with a shutdown pending, and the cycle closed: the report stands,
 * whatever a crash does to the engine's memory (as at a cycle's end). */
static void sim_keep_reports(Sim *s) {
        const State *durable = sim_durable_record(s);

        for (unsigned i = 0; i < s->n_domains; i++) {
                SimDomain *d = &s->domains[i];

                if (d->active && d->shutdown_pending && IN_SET(d->last_report, JOB_LEFT_RUNNING, JOB_STOP_FAILED) &&
                    (!durable || !state_find_domain((State *) durable, d->uuid)))
                        d->reported_running = true;
        }
}

void sim_crash(Sim *s, uint64_t down_usec) {
        if (!s->cycle)
                return;
        s->crashes++;
        s->cycle = cycle_free(s->cycle);
        sim_keep_reports(s);
        if (s->drain_in_force && !s->drain_durable) {
                /* Neither the disk nor the fd store ever held it: it dies with the process. */
                s->drain_in_force = false;
                sim_log(s, "the drain was never durable: it is gone");
        }
        s->timer_at = SIM_USEC_INFINITY;
        s->n_events = 0;
        sim_effects_crash(s);
        s->libvirt_seen = false;
        if (s->delay_held && s->fdstore_fault != 0) {
                /* The lock's fd was not in the fd store: it closed with the process. */
                s->delay_held = false;
                if (s->host == SIM_HOST_PREPARING)
                        s->forced = true;
        }
        if (s->host == SIM_HOST_HOOK && s->hook_called)
                s->forced = true;       /* the hook's call failed: systemd-sleep goes on */
        s->restart_at = s->now + down_usec;
        sim_log(s, "tdsleepd is down for %.3fs%s", (double) down_usec / USEC_PER_SEC,
                s->delay_held ? " (delay lock kept in the fd store)" : "");
}

/* tdsleepd (re)starts: a new engine, the newest durable record, logind, libvirt. */
void sim_start_daemon(Sim *s) {
        const State *durable = sim_durable_record(s);
        bool was_drained_durably = durable && durable->drained;
        int r;

        s->restart_at = SIM_USEC_INFINITY;
        if (s->host == SIM_HOST_HOOK && !s->forced) {
                /* logind already went ahead: a tdsleepd starting now cannot hold it back. */
                s->forced = true;
                sim_log(s, "tdsleepd starts after logind went ahead: this sleep is not its to judge");
        }
        r = cycle_new(&sim_ops, s, &s->cfg.settings, &s->cycle);
        if (r < 0) {
                sim_violation(s, "setup", "cycle_new() failed: %s", STRERROR(r));
                return;
        }
        s->libvirt_seen = s->libvirt_up;
        sim_log(s, "tdsleepd starts%s", durable ? ", adopting the record" : "");
        /* A TD of the record that stopped before tdsleepd's shutdown reached it (a crash,
         * an operator): the record cannot tell, so starting it again is not wrong. */
        for (unsigned i = 0; durable && i < s->n_domains; i++) {
                SimDomain *d = &s->domains[i];
                const StateDomain *sd = state_find_domain((State *) durable, d->uuid);

                /* A finished cycle that could not be closed anywhere is replayed: the
                 * TDs it lists get the engine's best guess, neither required nor wrong. */
                if (sd && streq(durable->cycle_id, s->unclosed_cycle)) {
                        d->ambiguous = true;
                        d->reported_running = false;
                        d->starts_in_cycle = 0;
                }

                if (sd && !sd->started && !d->active && !d->owed) {
                        d->ambiguous = true;
                        d->starts_in_cycle = 0;
                }
                /* A stop is recorded as sent before it goes: a crash in between leaves a
                 * record that cannot tell whether this TD's own stop was asked for. */
                if (sd && !sd->started && d->active && !d->shutdown_pending && sd->stop == STATE_STOP_SENT)
                        d->maybe_sent = true;
                /* The started flags are saved at most once a second while starting (DESIGN.md,
                 * section 5, the accepted window): a start the record does not know yet may
                 * be repeated if the TD stopped meanwhile. */
                /* Saves failed meanwhile (disk and fd store): the record is older than a start
                 * (an operator's, say), so it cannot tell that this TD ran again. The journal
                 * said at crit that no durable record could be written. */
                /* (At the same instant as the last save: the start may have come after it.) */
                if (sd && !sd->started && d->started_at >= s->disk.saved_at && d->started_at >= s->fdstore.saved_at &&
                    !d->owed) {
                        d->ambiguous = true;
                        d->starts_in_cycle = 0;
                }
                if (sd && !sd->started && d->starts_in_cycle > 0) {
                        d->ambiguous = true;
                        d->starts_in_cycle = 0;
                        d->record_stale = true;
                }
        }
        if (durable) {
                State copy;

                if (sim_state_copy(durable, &copy) < 0)
                        abort();
                r = cycle_adopt_record(s->cycle, &copy);
                state_done(&copy);
                if (r < 0)
                        sim_log(s, "cycle_adopt_record() -> %s", STRERROR(r));
                sim_engine_returned(s);
        }
        if (s->cycle && s->logind_up) {
                cycle_on_logind(s->cycle, sim_logind_preparing(s));
                sim_engine_returned(s);
        }
        if (s->cycle) {
                cycle_on_libvirt(s->cycle, s->libvirt_seen);
                sim_engine_returned(s);
        }
        if (!s->cycle)
                return;
        if (s->drain_in_force && !s->restore_requested && was_drained_durably &&
            cycle_phase(s->cycle) == CYCLE_PHASE_IDLE)
                sim_violation(s, "I6", "tdsleepd restarted with a drained record and is idle");
        if (cycle_is_drained(s->cycle))
                s->restore_requested = false;
}

bool sim_logind_preparing(const Sim *s) {
        return IN_SET(s->host, SIM_HOST_PREPARING, SIM_HOST_HOOK);
}

/* ---- setting up ---- */

static const SimConfig sim_quiet = {
        .settings = {
                .force_off = true,
                .parallel_shutdown = 0,
                .parallel_start = 4,
                .restart_after_resume = true,
                .start_attempts = 3,
                .start_retry_usec = 2 * USEC_PER_SEC,
                .start_retry_max_usec = 8 * USEC_PER_SEC,
        },
        .power = {
                .states = POWER_MASK(POWER_STATE_FREEZE) | POWER_MASK(POWER_STATE_MEM),
                .mem_sleep_available = POWER_MASK(MEM_SLEEP_S2IDLE) | POWER_MASK(MEM_SLEEP_DEEP),
                .mem_sleep_selected = MEM_SLEEP_DEEP,
                .tdx_host_platform = true,
                .kvm_tdx = true,
        },
        .kernel_policy = KERNEL_POLICY_RUNTIME,
        .hook_reachable = true,
        .inhibit_delay_max_usec = 30 * 60 * USEC_PER_SEC,
};

void sim_config_default(SimConfig *ret, unsigned n) {
        *ret = sim_quiet;
        ret->n_domains = MIN(n, (unsigned) SIM_DOMAINS_MAX);
}

static void domain_init(SimDomain *d, unsigned i) {
        *d = (SimDomain) {
                .defined = true,
                .active = true,
                .persistent = true,
                .protected = true,
                .action = SLEEP_ACTION_STOP,
                .timeout_usec = 8 * USEC_PER_SEC,
                .guest = SIM_GUEST_HONOURS,
                .honour_usec = 1 * USEC_PER_SEC,
                .stop_at = SIM_USEC_INFINITY,
        };
        snprintf(d->uuid, sizeof(d->uuid), "5e000000-0000-4000-8000-0000000000%02x", i & 0xffu);
        snprintf(d->name, sizeof(d->name), "td%u", i);
}

void sim_init(Sim *s, const SimConfig *cfg) {
        SimSource src = s->src;
        uint64_t seed = s->seed;
        const char *input = s->replay_input;
        bool verbose = s->verbose, quiet = s->quiet, mask = s->mask_late_stops;

        *s = (Sim) {
                .src = src,
                .seed = seed,
                .replay_input = input,
                .verbose = verbose,
                .quiet = quiet,
                .mask_late_stops = mask,
                .cfg = *cfg,
                .crash_on_op = _SIM_OP_NONE,
                .fail_next_op = _SIM_OP_NONE,
                .stall_next_op = _SIM_OP_NONE,
                .restart_at = SIM_USEC_INFINITY,
                .timer_at = SIM_USEC_INFINITY,
                .libvirt_up = true,
                .libvirt_back_at = SIM_USEC_INFINITY,
                .libvirt_notify_at = SIM_USEC_INFINITY,
                .logind_up = true,
                .logind_back_at = SIM_USEC_INFINITY,
                .host = SIM_HOST_AWAKE,
                .operation = _SLEEP_STEP_INVALID,
                .power = cfg->power,
                .power_known = true,
                .last_phase = CYCLE_PHASE_IDLE,
                .now = 1000 * USEC_PER_SEC,
        };
        s->last_external = s->now;
        s->mem_sleep_original = cfg->power.mem_sleep_selected;
        s->n_domains = cfg->n_domains;
        for (unsigned i = 0; i < s->n_domains; i++)
                domain_init(&s->domains[i], i);
}

void sim_boot(Sim *s) {
        s->bound_usec = sim_bound_usec(s);
        sim_log(s, "boot: %u domains, bound %" PRIu64 " s", s->n_domains, s->bound_usec / USEC_PER_SEC);
        for (unsigned i = 0; i < s->n_domains; i++) {
                SimDomain *d = &s->domains[i];

                sim_log(s, "  %s: %s%s%s %s, guest %s, timeout %" PRIu64 " s%s", d->name,
                        d->protected ? "TD " : "VM ", d->persistent ? "persistent" : "transient",
                        d->active ? " running" : "", sleep_action_to_string(d->action),
                        (const char *[]) { "honours", "slow", "ignores", "crashes" }[d->guest],
                        d->timeout_usec / USEC_PER_SEC, d->start_failures ? ", start fails" : "");
        }
        sim_start_daemon(s);
}

void sim_done(Sim *s) {
        if (s->cycle) {
                s->zombie = true;       /* cycle_free() must not call ops; if it does, nothing lands */
                s->cycle = cycle_free(s->cycle);
                s->zombie = false;
        }
        sim_copy_clear(&s->disk);
        sim_copy_clear(&s->fdstore);
        for (unsigned i = 0; i < s->n_observed; i++)
                free(s->observed[i]);
        s->n_observed = 0;
}

/* ---- queries ---- */

typedef struct JobLookup {
        const char *uuid;
        JobState state;
} JobLookup;

static void job_visit(void *userdata, const StateDomain *d, JobState state, const char *error) {
        JobLookup *l = userdata;

        if (strcasecmp(d->uuid, l->uuid) == 0)
                l->state = state;
}

JobState sim_job_state(const Sim *s, unsigned i) {
        JobLookup l = { .uuid = s->domains[i].uuid, .state = _JOB_STATE_INVALID };

        if (s->cycle)
                cycle_foreach_job(s->cycle, job_visit, &l);
        return l.state;
}

bool sim_at_rest(const Sim *s) {
        CyclePhase p;

        if (!s->cycle)
                return false;
        p = cycle_phase(s->cycle);
        return p == CYCLE_PHASE_IDLE ||
                (p == CYCLE_PHASE_READY && cycle_is_drained(s->cycle) && !cycle_is_sleeping(s->cycle));
}
