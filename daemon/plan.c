/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdlib.h>

#include "plan.h"

static const char *const sleep_step_table[_SLEEP_STEP_MAX] = {
        [SLEEP_STEP_SUSPEND] = "suspend",
        [SLEEP_STEP_HIBERNATE] = "hibernate",
        [SLEEP_STEP_HYBRID_SLEEP] = "hybrid-sleep",
        [SLEEP_STEP_SUSPEND_THEN_HIBERNATE] = "suspend-then-hibernate",
        [SLEEP_STEP_UNKNOWN] = "unknown",
};
DEFINE_STRING_TABLE(sleep_step, SleepStep, _SLEEP_STEP_MAX)

static const char *const plan_when_table[_PLAN_WHEN_MAX] = {
        [PLAN_WHEN_NOTHING] = "nothing",
        [PLAN_WHEN_ACT] = "act",
        [PLAN_WHEN_WAIT_FOR_HOOK] = "wait-for-hook",
};
DEFINE_STRING_TABLE(plan_when, PlanWhen, _PLAN_WHEN_MAX)

static const char *const domain_verdict_table[_VERDICT_MAX] = {
        [VERDICT_IGNORE] = "ignore",
        [VERDICT_KEEP] = "keep",
        [VERDICT_STOP] = "stop",
        [VERDICT_REFUSE] = "refuse",
};
DEFINE_STRING_TABLE(domain_verdict, DomainVerdict, _VERDICT_MAX)

#define SUSPEND_STATES (POWER_MASK(POWER_STATE_MEM) | POWER_MASK(POWER_STATE_STANDBY) | \
                        POWER_MASK(POWER_STATE_FREEZE))

/* What a suspend does: with "mem" listed, systemd writes "mem" (SuspendState= starts with
 * it) and mem_sleep decides; without a mem_sleep selection "mem" is taken to be S3.
 * Without "mem", systemd falls back to standby or freeze, which both keep TDs. */
static bool suspend_keeps_tds(const PowerPicture *p) {
        if (p->states & POWER_MASK(POWER_STATE_MEM))
                return p->mem_sleep_selected == MEM_SLEEP_S2IDLE || p->mem_sleep_selected == MEM_SLEEP_SHALLOW;
        return p->states & (POWER_MASK(POWER_STATE_STANDBY) | POWER_MASK(POWER_STATE_FREEZE));
}

bool plan_step_keeps_tds(SleepStep step, const PowerPicture *p) {
        /* Hibernation writes memory to disk and goes through S4 (or S3 for hybrid):
         * TDX state is lost in every variant. UNKNOWN is not a step: assume the worst. */
        return step == SLEEP_STEP_SUSPEND && suspend_keeps_tds(p);
}

static bool can_hibernate(const PowerPicture *p) {
        return (p->states & POWER_MASK(POWER_STATE_DISK)) && p->has_swap;
}

PlanWhen plan_when_to_act(const PowerPicture *p) {
        bool can_suspend = p->states & SUSPEND_STATES;
        bool suspend_keeps = can_suspend && suspend_keeps_tds(p);

        if (!can_hibernate(p))
                /* Only suspend (or nothing at all) is possible. */
                return can_suspend && !suspend_keeps ? PLAN_WHEN_ACT : PLAN_WHEN_NOTHING;
        /* Hibernation loses TDs; a suspend that keeps them makes the two disagree. */
        return suspend_keeps ? PLAN_WHEN_WAIT_FOR_HOOK : PLAN_WHEN_ACT;
}

uint64_t plan_stop_timeout_usec(const PlanInput *in, const PlanDomain *d) {
        if (in->mode == PLAN_MODE_DRAIN && in->drain_timeout_usec > 0)
                return in->drain_timeout_usec;
        return d->timeout_usec;
}

bool plan_step_possible(const PowerPicture *p, SleepStep step) {
        if (step == SLEEP_STEP_SUSPEND)
                return p->states & SUSPEND_STATES;
        return can_hibernate(p);
}

/* A running TD asks to be kept by steering a suspend to s2idle, and mem_sleep offers it;
 * or the budget asks for it (for_budget: stopping would not fit the limit). */
static bool wants_s2idle(const PlanInput *in, const PowerPicture *p, bool for_budget) {
        if (!(p->mem_sleep_available & POWER_MASK(MEM_SLEEP_S2IDLE)) || p->mem_sleep_selected == MEM_SLEEP_S2IDLE)
                return false;
        if (for_budget)
                return true;
        for (size_t i = 0; i < in->n_domains; i++)
                if (in->domains[i].active && in->domains[i].protected &&
                    in->domains[i].action == SLEEP_ACTION_S2IDLE)
                        return true;
        return false;
}

/* The picture tdsleepd works with: under exclusive, s2idle is kept selected. */
static PowerPicture effective_picture(const PlanInput *in) {
        PowerPicture p = *in->power;

        if (in->kernel_policy == KERNEL_POLICY_EXCLUSIVE && (p.mem_sleep_available & POWER_MASK(MEM_SLEEP_S2IDLE)))
                p.mem_sleep_selected = MEM_SLEEP_S2IDLE;
        return p;
}

PlanWhen plan_host_when(const PlanInput *in) {
        PowerPicture p = effective_picture(in);

        if (wants_s2idle(in, &p, false))
                p.mem_sleep_selected = MEM_SLEEP_S2IDLE;
        return plan_when_to_act(&p);
}

/* Decide when and whether TDs survive, and whether to steer first. */
static void plan_step(const PlanInput *in, bool for_budget, Plan *plan) {
        PowerPicture p = effective_picture(in), steered = p;
        bool wants = wants_s2idle(in, &p, for_budget);

        if (wants)
                steered.mem_sleep_selected = MEM_SLEEP_S2IDLE;
        plan->power = p;
        if (in->step == SLEEP_STEP_UNKNOWN) {
                PlanWhen w = plan_when_to_act(&steered);

                if (w == PLAN_WHEN_WAIT_FOR_HOOK && in->hook_reachable) {
                        plan->when = PLAN_WHEN_WAIT_FOR_HOOK;
                        plan->keeps = true;     /* for now: the hook's step decides */
                        return;
                }
                /* Steering helps only when it alone makes every possible step keep TDs;
                 * with hibernation possible and no hook, assume the worst. */
                plan->keeps = w == PLAN_WHEN_NOTHING;
                plan->steer_s2idle = wants && plan->keeps && plan_when_to_act(&p) != PLAN_WHEN_NOTHING;
        } else if (in->step == SLEEP_STEP_SUSPEND) {
                plan->keeps = plan_step_keeps_tds(in->step, &steered);
                plan->steer_s2idle = wants && plan->keeps && !plan_step_keeps_tds(in->step, &p);
        } else
                plan->keeps = false;
        if (plan->steer_s2idle)
                plan->power = steered;
        plan->when = plan->keeps ? PLAN_WHEN_NOTHING : PLAN_WHEN_ACT;
}

static DomainVerdict verdict(const PlanInput *in, const Plan *plan, const PlanDomain *d) {
        if (!d->active || !d->protected)
                return VERDICT_IGNORE;
        if (in->mode == PLAN_MODE_DRAIN)
                return VERDICT_STOP;
        if (plan->keeps)
                return VERDICT_KEEP;
        /* s2idle could not be had for this step (hibernation, or no s2idle): stop. */
        return d->action == SLEEP_ACTION_REFUSE ? VERDICT_REFUSE : VERDICT_STOP;
}

/* Verdicts and the budget as configured, steering for the budget or not. */
static void plan_decide(const PlanInput *in, bool for_budget, DomainVerdict *verdicts, Plan *ret) {
        Plan plan = { .power.mem_sleep_selected = _MEM_SLEEP_INVALID };
        uint64_t *timeouts = calloc(in->n_domains ? in->n_domains : 1, sizeof(uint64_t));
        size_t n_timeouts = 0;

        if (in->mode == PLAN_MODE_DRAIN)
                plan.when = PLAN_WHEN_ACT;
        else if (!in->power) {
                /* No picture of the kernel's sleep states: when in doubt, TDs are lost. */
                plan.when = PLAN_WHEN_ACT;
        } else
                plan_step(in, for_budget, &plan);
        for (size_t i = 0; i < in->n_domains; i++) {
                DomainVerdict v = verdict(in, &plan, &in->domains[i]);

                verdicts[i] = v;
                plan.n_stop += v == VERDICT_STOP;
                plan.n_refuse += v == VERDICT_REFUSE;
                plan.n_keep += v == VERDICT_KEEP;
                if (v == VERDICT_STOP && timeouts)
                        timeouts[n_timeouts++] = plan_stop_timeout_usec(in, &in->domains[i]);
        }
        plan.budget_usec = timeouts ? plan_stop_budget_usec(timeouts, n_timeouts, in->parallel_shutdown, in->force_off)
                                    : UINT64_MAX;
        free(timeouts);
        *ret = plan;
}

/* Would steering a suspend to s2idle keep every TD of this step (sleep, picture known)? */
static bool plan_may_steer_for_budget(const PlanInput *in) {
        Plan p = { .power.mem_sleep_selected = _MEM_SLEEP_INVALID };

        if (in->mode != PLAN_MODE_SLEEP || !in->power)
                return false;
        plan_step(in, true, &p);
        return p.keeps && p.steer_s2idle;
}

void plan_make(const PlanInput *in, DomainVerdict *verdicts, Plan *ret) {
        Plan configured;

        plan_decide(in, false, verdicts, ret);
        plan_budget(in, verdicts, ret);
        if (ret->fits || !plan_may_steer_for_budget(in))
                return;
        /* The safest way out for a suspend: nothing is stopped, the host suspends to idle. */
        configured = *ret;
        plan_decide(in, true, verdicts, ret);
        ret->budget_usec = configured.budget_usec;
        ret->limit = configured.limit;
        ret->limit_usec = configured.limit_usec;
        ret->fits = false;
        ret->over_budget = PLAN_OVER_BUDGET_S2IDLE;
        ret->window_max_usec = USEC_INFINITY;
        ret->planned_usec = 0;
}
