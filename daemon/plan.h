/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Pure decisions: which sleep step keeps TDs, when to act, what each domain gets. */

#include <stdbool.h>

#include "config.h"
#include "power.h"

/* A step is one platform transition; logind's operations map onto one or two steps. */
typedef enum SleepStep {
        SLEEP_STEP_SUSPEND,
        SLEEP_STEP_HIBERNATE,
        SLEEP_STEP_HYBRID_SLEEP,
        SLEEP_STEP_SUSPEND_THEN_HIBERNATE,
        SLEEP_STEP_UNKNOWN,     /* PrepareForSleep(true) names no operation */
        SLEEP_STEP_DRAIN,       /* no sleep: the operator stops every TD for maintenance */
        _SLEEP_STEP_MAX,
        _SLEEP_STEP_INVALID = -EINVAL,
} SleepStep;

DECLARE_STRING_TABLE(sleep_step, SleepStep);

/* Do running TDs survive this (known) step with this kernel picture?
 * suspend: yes for mem_sleep s2idle/shallow, no for deep; the others: no. */
bool plan_step_keeps_tds(SleepStep step, const PowerPicture *p);

typedef enum PlanWhen {
        PLAN_WHEN_NOTHING,      /* every step the host can take keeps TDs */
        PLAN_WHEN_ACT,          /* every step loses TDs: act now, inside the delay window */
        PLAN_WHEN_WAIT_FOR_HOOK,/* they disagree: only the sleep hook knows the step */
} PlanWhen;

/* For PrepareForSleep(true), where the step is unknown: look at every operation the
 * host can perform now (state, mem_sleep, swap) and say whether they agree. */
PlanWhen plan_when_to_act(const PowerPicture *p);

typedef enum DomainVerdict {
        VERDICT_IGNORE,         /* not protected, or not running */
        VERDICT_KEEP,           /* protected but the step keeps it */
        VERDICT_STOP,
        VERDICT_S2IDLE,
        VERDICT_REFUSE,
        _VERDICT_MAX,
        _VERDICT_INVALID = -EINVAL,
} DomainVerdict;

DECLARE_STRING_TABLE(domain_verdict, DomainVerdict);

/* The verdict for one running protected domain whose action is action, when the step
 * keeps (keeps=true) or loses TDs. s2idle only helps a suspend step: for hibernate
 * it falls back to stop. A drain stops every TD, whatever its action. */
DomainVerdict plan_domain(SleepStep step, bool keeps, SleepAction action);
