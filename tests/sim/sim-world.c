/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The world moving: internal events in time order (the engine's timer, guests stopping,
 * libvirt's lifecycle events, libvirtd/logind/tdsleepd coming back, logind and the sleep
 * hook taking the host into the sleep) and the external events a driver injects. */

#include <inttypes.h>
#include <string.h>

#include "sim-internal.h"

/* Call into the engine when tdsleepd runs, then account for it. */
#define ENGINE(s, call)                                 \
        do {                                            \
                if ((s)->cycle) {                       \
                        call;                           \
                        sim_engine_returned(s);         \
                }                                       \
        } while (0)

static void external(Sim *s) {
        s->last_external = s->now;
}

/* ---- the host's sleep ---- */

/* The host enters the sleep: I1, then every TD dies unless the step keeps TDs. */
static void host_enter(Sim *s) {
        bool keeps = sim_truth_keeps(s);

        s->host = SIM_HOST_ASLEEP;
        s->host_since = s->now;
        s->sleeps++;
        if (!s->cycle && !s->forced) {
                s->forced = true;       /* tdsleepd died after it let go: nobody to ask */
                sim_log(s, "tdsleepd is down as the host enters the sleep");
        }
        if (s->forced)
                s->forced_sleeps++;
        sim_log(s, "host enters %s (mem_sleep %s)%s: TDs %s", sleep_step_to_string(s->operation),
                strna(mem_sleep_to_string(s->power.mem_sleep_selected)),
                s->forced ? ", forced" : "", keeps ? "survive" : "are lost");
        if (!s->forced)
                sim_check_entry(s);
        if (keeps)
                return;
        for (unsigned i = 0; i < s->n_domains; i++) {
                SimDomain *d = &s->domains[i];

                if (d->active && d->protected)
                        sim_domain_stopped(s, d, SIM_STOP_LOST_IN_SLEEP);
        }
}

/* logind goes ahead: the delay locks are gone (or it stopped waiting). The sleep hook runs
 * first (systemd-sleep), and asks tdsleepd for the step. */
static void host_proceed(Sim *s, bool timed_out) {
        s->host = SIM_HOST_HOOK;
        s->host_since = s->now;
        s->hook_called = false;
        if (timed_out) {
                s->forced = true;
                sim_log(s, "logind: InhibitDelayMaxSec passed, going ahead");
        } else
                sim_log(s, "logind: no delay lock left, going ahead");
        if (!s->cycle) {
                s->forced = true;       /* tdsleepd is down: the hook cannot reach it */
                sim_log(s, "hook: tdsleepd is down");
        } else if (s->cfg.hook_reachable) {
                s->hook_called = true;
                sim_log(s, "hook: Prepare(%s)", sleep_step_to_string(s->operation));
                ENGINE(s, cycle_prepare(s->cycle, s->operation));
        }
}

static bool hook_done(const Sim *s) {
        return !s->hook_called || !s->cycle || cycle_phase(s->cycle) != CYCLE_PHASE_PREPARING;
}

/* PrepareForSleep(false) from logind and Resume() from the hook's post, in either order. */
static void deliver_sleep_over(Sim *s, bool via_hook) {
        bool hook_first = via_hook && sim_rand(&s->src, 2);

        if (hook_first) {
                sim_log(s, "hook: Resume()");
                ENGINE(s, cycle_sleep_over(s->cycle));
        }
        if (s->logind_up) {
                sim_log(s, "logind: PrepareForSleep(false)");
                ENGINE(s, cycle_sleep_over(s->cycle));
                if (sim_chance(s, 200)) {
                        sim_log(s, "logind: PrepareForSleep(false) again");
                        ENGINE(s, cycle_sleep_over(s->cycle));
                }
        }
        if (via_hook && !hook_first && s->cfg.hook_reachable) {
                sim_log(s, "hook: Resume()");
                ENGINE(s, cycle_sleep_over(s->cycle));
        }
}

void sim_wake(Sim *s) {
        uint64_t slept;

        if (s->host != SIM_HOST_ASLEEP)
                return;
        slept = (1 + sim_rand(&s->src, 3600)) * USEC_PER_SEC;
        s->slept_usec += slept;
        s->host = SIM_HOST_AWAKE;
        s->host_since = s->now;
        s->operation = _SLEEP_STEP_INVALID;
        s->forced = false;
        external(s);
        sim_log(s, "host wakes after %" PRIu64 " s", slept / USEC_PER_SEC);
        deliver_sleep_over(s, s->hook_called);
        s->hook_called = false;
}

void sim_request_sleep(Sim *s, SleepStep operation) {
        if (s->host != SIM_HOST_AWAKE || !s->logind_up)
                return;
        external(s);
        s->host = SIM_HOST_PREPARING;
        s->host_since = s->now;
        s->operation = operation;
        s->forced = false;
        s->hook_called = false;
        sim_log(s, "logind: PrepareForSleep(true) for %s%s", sleep_step_to_string(operation),
                s->delay_held ? "" : ", and no delay lock is held");
        if (!s->delay_held && s->cycle && !sim_at_rest(s))
                ;       /* mid-cycle (resuming): the engine may legitimately not hold it yet */
        else if (!s->delay_held && s->cycle)
                sim_violation(s, "I1", "logind prepares a sleep and tdsleepd holds no delay lock");
        ENGINE(s, cycle_prepare_for_sleep(s->cycle));
}

void sim_abort_sleep(Sim *s) {
        if (!sim_logind_preparing(s))
                return;
        external(s);
        s->aborted_sleeps++;
        sim_log(s, "the sleep fails before the host enters it");
        s->host = SIM_HOST_AWAKE;
        s->host_since = s->now;
        s->operation = _SLEEP_STEP_INVALID;
        s->forced = false;
        deliver_sleep_over(s, s->hook_called);
        s->hook_called = false;
}

/* Not while the host goes down: once logind went ahead, the host sleeps within
 * milliseconds, and nobody (tdsleepd included) can catch a TD started then. */
static bool operator_may_act(const Sim *s) {
        return s->host == SIM_HOST_AWAKE || (s->host == SIM_HOST_PREPARING && s->delay_held);
}

void sim_resume_call(Sim *s) {
        /* Not once logind went ahead: the host is going down within milliseconds. */
        if (!operator_may_act(s))
                return;
        external(s);
        sim_log(s, "operator: Resume()");
        ENGINE(s, cycle_sleep_over(s->cycle));
}

void sim_duplicate_prepare(Sim *s) {
        if (!sim_logind_preparing(s) || !s->logind_up)
                return;
        external(s);
        sim_log(s, "logind: PrepareForSleep(true) again");
        ENGINE(s, cycle_prepare_for_sleep(s->cycle));
        if (s->host == SIM_HOST_HOOK && s->hook_called && sim_rand(&s->src, 2)) {
                sim_log(s, "hook: Prepare(%s) again", sleep_step_to_string(s->operation));
                ENGINE(s, cycle_prepare(s->cycle, s->operation));
        }
}

/* ---- the operator ---- */

int sim_drain(Sim *s, uint64_t timeout_usec) {
        int r;

        external(s);
        if (!s->cycle) {
                sim_log(s, "operator: Drain -> tdsleepd is down");
                return -ECONNREFUSED;
        }
        s->draining = true;
        s->drain_restored = false;
        r = cycle_drain(s->cycle, timeout_usec);
        if (s->zombie)
                r = -ECONNRESET;
        sim_log(s, "operator: Drain(%" PRIu64 " s) -> %s", timeout_usec / USEC_PER_SEC,
                r < 0 ? STRERROR(r) : "ok");
        if (r == 0)
                s->drain_in_force = true;
        else if (r != -ECONNRESET)
                s->draining = false;
        sim_engine_returned(s);
        return r;
}

int sim_restore(Sim *s) {
        bool was;
        int r;

        external(s);
        if (!s->cycle) {
                sim_log(s, "operator: Restore -> tdsleepd is down");
                return -ECONNREFUSED;
        }
        /* The drain may end inside the call (its saves say so): requested from here on. */
        was = s->restore_requested;
        s->restore_requested = true;
        r = cycle_restore(s->cycle);
        if (s->zombie)
                r = -ECONNRESET;
        sim_log(s, "operator: Restore -> %s", r < 0 ? STRERROR(r) : "ok");
        if (r == 0)
                s->drain_in_force = s->drain_durable = false;
        else if (r != -ECONNRESET)
                s->restore_requested = was;
        sim_engine_returned(s);
        return r;
}

void sim_operator_start(Sim *s, unsigned i) {
        SimDomain *d = &s->domains[i];

        if (!s->libvirt_up || d->active || !d->defined)
                return;
        /* A person is slower than libvirt's event dispatch: tdsleepd saw what came before. */
        sim_deliver_events_now(s);
        if (d->active || !d->defined || !operator_may_act(s))
                return;
        external(s);
        sim_log(s, "operator: virsh start %s", d->name);
        d->active = true;
        d->started_at = s->now;
        d->owed = d->owed_by_drain = d->ambiguous = d->given_up = d->reported_running = d->maybe_sent = false;
        d->shutdown_pending = false;
        /* tdsleepd's request for it, already on its way, cannot be withdrawn and may land
         * on this run: a start (should it stop again first), a shutdown. And a start that
         * tdsleepd cannot see (down, or libvirt away from it: the event is lost) leaves
         * its record saying "stopped". Whatever follows is neither required nor wrong. */
        d->ambiguous = d->raced = sim_request_in_flight(s, d) || !s->cycle || !s->libvirt_seen;
        sim_queue_event(s, d, true);
        sim_deliver_events_now(s);      /* libvirt emits STARTED before virsh returns */
}

void sim_operator_stop(Sim *s, unsigned i) {
        SimDomain *d = &s->domains[i];

        if (!s->libvirt_up || !d->active)
                return;
        sim_deliver_events_now(s);
        if (!d->active || !operator_may_act(s))
                return;
        external(s);
        sim_log(s, "operator: virsh shutdown %s (done)", d->name);
        sim_domain_stopped(s, d, SIM_STOP_OPERATOR);
}

void sim_guest_crash(Sim *s, unsigned i) {
        SimDomain *d = &s->domains[i];

        if (!d->active)
                return;
        external(s);
        sim_log(s, "%s crashes", d->name);
        sim_domain_stopped(s, d, SIM_STOP_BY_ITSELF);
}

/* ---- libvirtd, logind, tdsleepd, storage ---- */

void sim_libvirt_die(Sim *s, uint64_t down_usec) {
        if (!s->libvirt_up)
                return;
        external(s);
        s->libvirt_up = false;
        s->n_events = 0;        /* what was not dispatched yet is lost with the connection */
        sim_effects_libvirt_lost(s);
        s->libvirt_back_at = s->now + down_usec;
        s->libvirt_notify_at = s->now + (s->settling ? 0 : sim_rand(&s->src, 500) * USEC_PER_MSEC);
        sim_log(s, "libvirtd dies for %.1fs", (double) down_usec / USEC_PER_SEC);
}

static void libvirt_notify(Sim *s) {
        s->libvirt_notify_at = SIM_USEC_INFINITY;
        if (!s->libvirt_seen)
                return;
        s->libvirt_seen = false;
        sim_log(s, "tdsleepd: libvirt connection lost");
        ENGINE(s, cycle_on_libvirt(s->cycle, false));
}

static void libvirt_back(Sim *s) {
        external(s);
        if (s->libvirt_notify_at != SIM_USEC_INFINITY)
                libvirt_notify(s);
        s->libvirt_back_at = SIM_USEC_INFINITY;
        s->libvirt_up = true;
        sim_log(s, "libvirtd is back");
        if (!s->cycle)
                return;
        s->libvirt_seen = true;
        ENGINE(s, cycle_on_libvirt(s->cycle, true));
}

void sim_logind_restart(Sim *s, uint64_t down_usec, bool prepare_again) {
        if (!s->logind_up || s->host == SIM_HOST_ASLEEP)
                return;
        external(s);
        s->logind_up = false;
        s->logind_back_at = s->now + down_usec;
        s->logind_prepare_again = prepare_again;
        sim_log(s, "logind restarts (%.1fs)", (double) down_usec / USEC_PER_SEC);
        if (s->host == SIM_HOST_PREPARING) {
                /* The pending sleep dies with logind; PrepareForSleep(false) never comes. */
                s->host = SIM_HOST_AWAKE;
                s->operation = _SLEEP_STEP_INVALID;
                s->aborted_sleeps++;
        }
}

static void logind_back(Sim *s) {
        external(s);
        s->logind_up = true;
        s->logind_back_at = SIM_USEC_INFINITY;
        if (s->logind_prepare_again && s->host == SIM_HOST_AWAKE) {
                s->host = SIM_HOST_PREPARING;
                s->host_since = s->now;
                s->operation = SLEEP_STEP_SUSPEND;
                s->forced = false;
                s->hook_called = false;
        }
        sim_log(s, "logind is back%s", sim_logind_preparing(s) ? ", preparing for a sleep" : "");
        ENGINE(s, cycle_on_logind(s->cycle, sim_logind_preparing(s)));
}

static void daemon_restart(Sim *s) {
        external(s);
        sim_start_daemon(s);
}

void sim_set_disk_fault(Sim *s, int error) {
        if (s->disk_fault == error)
                return;
        s->disk_fault = error;
        sim_log(s, "disk: %s", error ? STRERROR(error) : "fine again");
}

void sim_set_fdstore_fault(Sim *s, int error) {
        if (s->fdstore_fault == error)
                return;
        s->fdstore_fault = error;
        sim_log(s, "fd store: %s", error ? STRERROR(error) : "fine again");
}

void sim_set_power_known(Sim *s, bool known) {
        if (s->power_known == known)
                return;
        s->power_known = known;
        sim_log(s, "/sys/power is %s", known ? "readable" : "unreadable");
}

/* ---- internal events in time order ---- */

typedef enum Next {
        NEXT_NONE,
        NEXT_GUEST,
        NEXT_LIBVIRT_NOTIFY,
        NEXT_LIBVIRT_BACK,
        NEXT_LOGIND_BACK,
        NEXT_RESTART,
        NEXT_EVENT,
        NEXT_HOST,
        NEXT_TIMER,
        NEXT_EFFECT,
} Next;

static uint64_t host_next(const Sim *s) {
        switch (s->host) {
        case SIM_HOST_PREPARING:
                if (!s->logind_up)
                        return SIM_USEC_INFINITY;
                return s->delay_held ? s->host_since + s->cfg.inhibit_delay_max_usec : s->now;
        case SIM_HOST_HOOK:
                return hook_done(s) ? s->now : s->host_since + SIM_LOGIND_HOOK_TIMEOUT_USEC;
        default:
                return SIM_USEC_INFINITY;
        }
}

static Next next_internal(const Sim *s, uint64_t *ret_at, unsigned *ret_index) {
        uint64_t best = SIM_USEC_INFINITY;
        Next next = NEXT_NONE;

#define CONSIDER(at, what, index)                               \
        do {                                                    \
                if ((at) < best) {                              \
                        best = (at);                            \
                        next = (what);                          \
                        *ret_index = (index);                   \
                }                                               \
        } while (0)

        *ret_index = 0;
        if (s->host == SIM_HOST_ASLEEP)
                return NEXT_NONE;       /* the whole host is frozen until it wakes */
        for (unsigned i = 0; i < s->n_domains; i++)
                if (s->domains[i].active)
                        CONSIDER(s->domains[i].stop_at, NEXT_GUEST, i);
        CONSIDER(s->libvirt_notify_at, NEXT_LIBVIRT_NOTIFY, 0);
        CONSIDER(s->libvirt_back_at, NEXT_LIBVIRT_BACK, 0);
        CONSIDER(s->logind_back_at, NEXT_LOGIND_BACK, 0);
        CONSIDER(s->restart_at, NEXT_RESTART, 0);
        if (s->n_events > 0)
                CONSIDER(s->events[0].at, NEXT_EVENT, 0);
        CONSIDER(host_next(s), NEXT_HOST, 0);
        if (s->cycle)
                CONSIDER(s->timer_at, NEXT_TIMER, 0);
        if (s->n_effects > 0) {
                unsigned e = 0;
                uint64_t at = sim_effect_next(s, &e);

                CONSIDER(at, NEXT_EFFECT, e);
        }
#undef CONSIDER
        *ret_at = best;
        return next;
}

static void deliver_event(Sim *s) {
        SimEvent e = s->events[0];
        SimDomain *d = &s->domains[e.domain];
        PlanDomain pd = sim_plan_domain(d);

        memmove(s->events, s->events + 1, (s->n_events - 1) * sizeof(SimEvent));
        s->n_events--;
        external(s);
        pd.active = e.started;
        sim_log(s, "libvirt event: %s %s", d->name, e.started ? "STARTED" : "STOPPED");
        ENGINE(s, cycle_on_domain(s->cycle, &pd, e.started));
}

/* Run the next internal event if it is due by limit. */
static bool run_one(Sim *s, uint64_t limit) {
        unsigned index;
        uint64_t at;
        Next next = next_internal(s, &at, &index);

        if (next == NEXT_NONE || at > limit || !sim_ok(s))
                return false;
        if (at > s->now) {
                s->now = at;
                s->same_instant = 0;
        } else if (++s->same_instant > SIM_SAME_INSTANT_MAX) {
                /* sd-event would spin: a timer armed in the past, or events without end. */
                sim_violation(s, "I5", "%u internal events at one instant (the last: %s): a busy loop",
                              s->same_instant, next == NEXT_TIMER ? "the engine's timer" : "the world");
                return false;
        }
        switch (next) {
        case NEXT_GUEST:
                external(s);
                sim_guests_due(s);
                sim_check(s);
                break;
        case NEXT_LIBVIRT_NOTIFY:
                libvirt_notify(s);
                break;
        case NEXT_LIBVIRT_BACK:
                libvirt_back(s);
                break;
        case NEXT_LOGIND_BACK:
                logind_back(s);
                break;
        case NEXT_RESTART:
                daemon_restart(s);
                break;
        case NEXT_EVENT:
                deliver_event(s);
                break;
        case NEXT_HOST:
                if (s->host == SIM_HOST_PREPARING)
                        host_proceed(s, s->delay_held);
                else {
                        if (!hook_done(s)) {
                                s->forced = true;
                                sim_log(s, "hook: timed out after 90 s");
                        }
                        host_enter(s);
                }
                break;
        case NEXT_TIMER:
                s->timer_at = SIM_USEC_INFINITY;
                ENGINE(s, cycle_on_timer(s->cycle));
                break;
        case NEXT_EFFECT:
                external(s);
                sim_effect_run(s, index);
                break;
        case NEXT_NONE:
                break;
        }
        return true;
}

bool sim_run_next(Sim *s) {
        return run_one(s, SIM_USEC_INFINITY);
}

void sim_advance(Sim *s, uint64_t usec) {
        uint64_t end = s->now + usec;

        while (run_one(s, end))
                if (s->host == SIM_HOST_ASLEEP)
                        return;
        if (s->now < end && s->host != SIM_HOST_ASLEEP)
                s->now = end;
        sim_check(s);
}

void sim_run(Sim *s, uint64_t limit_usec) {
        uint64_t end = s->now + limit_usec;

        while (s->host != SIM_HOST_ASLEEP && run_one(s, end))
                ;
}

void sim_deliver_events_now(Sim *s) {
        while (s->n_events > 0 && s->host != SIM_HOST_ASLEEP) {
                if (s->events[0].at > s->now)
                        s->now = s->events[0].at;
                deliver_event(s);
        }
}
