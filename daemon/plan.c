/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include "plan.h"

static const char *const sleep_step_table[_SLEEP_STEP_MAX] = {
        [SLEEP_STEP_SUSPEND] = "suspend",
        [SLEEP_STEP_HIBERNATE] = "hibernate",
        [SLEEP_STEP_HYBRID_SLEEP] = "hybrid-sleep",
        [SLEEP_STEP_SUSPEND_THEN_HIBERNATE] = "suspend-then-hibernate",
        [SLEEP_STEP_UNKNOWN] = "unknown",
        [SLEEP_STEP_DRAIN] = "drain",
};
DEFINE_STRING_TABLE(sleep_step, SleepStep, _SLEEP_STEP_MAX)

static const char *const domain_verdict_table[_VERDICT_MAX] = {
        [VERDICT_IGNORE] = "ignore",
        [VERDICT_KEEP] = "keep",
        [VERDICT_STOP] = "stop",
        [VERDICT_S2IDLE] = "s2idle",
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

PlanWhen plan_when_to_act(const PowerPicture *p) {
        bool can_suspend = p->states & SUSPEND_STATES;
        bool can_hibernate = (p->states & POWER_MASK(POWER_STATE_DISK)) && p->has_swap;
        bool suspend_keeps = can_suspend && suspend_keeps_tds(p);

        if (!can_hibernate)
                /* Only suspend (or nothing at all) is possible. */
                return can_suspend && !suspend_keeps ? PLAN_WHEN_ACT : PLAN_WHEN_NOTHING;
        /* Hibernation loses TDs; a suspend that keeps them makes the two disagree. */
        return suspend_keeps ? PLAN_WHEN_WAIT_FOR_HOOK : PLAN_WHEN_ACT;
}

DomainVerdict plan_domain(SleepStep step, bool keeps, SleepAction action) {
        if (step == SLEEP_STEP_DRAIN)
                return VERDICT_STOP;
        if (keeps)
                return VERDICT_KEEP;
        switch (action) {
        case SLEEP_ACTION_STOP:
                return VERDICT_STOP;
        case SLEEP_ACTION_REFUSE:
                return VERDICT_REFUSE;
        case SLEEP_ACTION_S2IDLE:
                /* Steering mem_sleep only changes a suspend; UNKNOWN is a suspend or the
                 * hook will tell, and the s2idle choice is revisited then. */
                return step == SLEEP_STEP_SUSPEND || step == SLEEP_STEP_UNKNOWN ? VERDICT_S2IDLE : VERDICT_STOP;
        default:
                return _VERDICT_INVALID;
        }
}
