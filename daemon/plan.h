/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The planner: every sleep decision, in one pure function (no I/O, no loop, no clock).
 * Prepare, the reaction to a TD that starts mid-cycle, and the Plan() method all call
 * plan_make(), so they cannot disagree. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "build-config.h"
#include "config.h"
#include "macros.h"
#include "power.h"

/* How long a destroy may take before the TD counts as failed to stop. */
#define PLAN_FORCE_OFF_USEC (10 * USEC_PER_SEC)
/* A step only the sleep hook names is prepared while the hook waits this long. */
#define PLAN_HOOK_LIMIT_USEC ((uint64_t) TDSLEEP_HOOK_TIMEOUT_SEC * USEC_PER_SEC)
/* Kept free below the limit for what the budget does not count: planning, saving the
 * record, libvirt's answers, logind's own scheduling. */
#define PLAN_BUDGET_MARGIN_USEC (5 * USEC_PER_SEC)

/* A step is one platform transition; logind's operations map onto one or two steps. */
typedef enum SleepStep {
        SLEEP_STEP_SUSPEND,
        SLEEP_STEP_HIBERNATE,
        SLEEP_STEP_HYBRID_SLEEP,
        SLEEP_STEP_SUSPEND_THEN_HIBERNATE,
        SLEEP_STEP_UNKNOWN,     /* PrepareForSleep(true) names no operation */
        _SLEEP_STEP_MAX,
        _SLEEP_STEP_INVALID = -EINVAL,
} SleepStep;

DECLARE_STRING_TABLE(sleep_step, SleepStep);

/* What a cycle is for: a sleep, or the operator's maintenance drain (no sleep). */
typedef enum PlanMode {
        PLAN_MODE_SLEEP,
        PLAN_MODE_DRAIN,
        _PLAN_MODE_MAX,
        _PLAN_MODE_INVALID = -EINVAL,
} PlanMode;

/* Do running TDs survive this (known) step with this kernel picture?
 * suspend: yes for mem_sleep s2idle/shallow, no for deep; the others: no. */
bool plan_step_keeps_tds(SleepStep step, const PowerPicture *p);

typedef enum PlanWhen {
        PLAN_WHEN_NOTHING,      /* every step the host can take keeps TDs */
        PLAN_WHEN_ACT,          /* the step loses TDs: act now, inside the delay window */
        PLAN_WHEN_WAIT_FOR_HOOK,/* they disagree: only the sleep hook knows the step */
        _PLAN_WHEN_MAX,
        _PLAN_WHEN_INVALID = -EINVAL,
} PlanWhen;

DECLARE_STRING_TABLE(plan_when, PlanWhen);

/* For PrepareForSleep(true), where the step is unknown: look at every operation the
 * host can perform now (state, mem_sleep, swap) and say whether they agree. */
PlanWhen plan_when_to_act(const PowerPicture *p);

typedef enum DomainVerdict {
        VERDICT_IGNORE,         /* not protected, or not running */
        VERDICT_KEEP,           /* protected, and the step (maybe steered) keeps it */
        VERDICT_STOP,
        VERDICT_REFUSE,
        _VERDICT_MAX,
        _VERDICT_INVALID = -EINVAL,
} DomainVerdict;

DECLARE_STRING_TABLE(domain_verdict, DomainVerdict);

/* One domain as the planner sees it. */
typedef struct PlanDomain {
        const char *uuid;
        const char *name;
        bool active;            /* running or paused */
        bool persistent;
        bool protected;         /* a TD by ProtectedKinds= and its metadata */
        SleepAction action;     /* OnDeepSleep= or its metadata */
        uint64_t timeout_usec;  /* ShutdownTimeoutSec= or its metadata */
} PlanDomain;

/* Which deadline a step's stops must meet. */
typedef enum PlanLimit {
        PLAN_LIMIT_NONE,        /* a drain, or logind's delay is not known */
        PLAN_LIMIT_LOGIND,      /* acted on at PrepareForSleep: logind's InhibitDelayMaxUSec */
        PLAN_LIMIT_HOOK,        /* only the sleep hook names the step: its own timeout */
        _PLAN_LIMIT_MAX,
        _PLAN_LIMIT_INVALID = -EINVAL,
} PlanLimit;

DECLARE_STRING_TABLE(plan_limit, PlanLimit);

/* What a prepare does when stopping its TDs may take longer than the limit. */
typedef enum PlanOverBudget {
        PLAN_OVER_BUDGET_NONE,          /* it fits (or there is no limit) */
        PLAN_OVER_BUDGET_S2IDLE,        /* a suspend is steered to s2idle: nothing is stopped */
        PLAN_OVER_BUDGET_SHORTEN,       /* graceful windows are cut so that stops and force-off fit */
        PLAN_OVER_BUDGET_BLOCK,         /* nothing fits: stop as configured, refuse further sleeps */
        _PLAN_OVER_BUDGET_MAX,
        _PLAN_OVER_BUDGET_INVALID = -EINVAL,
} PlanOverBudget;

DECLARE_STRING_TABLE(plan_over_budget, PlanOverBudget);

typedef struct PlanInput {
        PlanMode mode;
        SleepStep step;                 /* SLEEP: the step; UNKNOWN when nobody named it */
        const PowerPicture *power;      /* NULL: unreadable. Then TDs are taken to be lost */
        KernelPolicy kernel_policy;     /* in force; under exclusive s2idle is kept selected */
        bool hook_reachable;            /* the sleep hook can name the step (control socket) */
        bool force_off;                 /* ForceOff= */
        unsigned parallel_shutdown;     /* ParallelShutdown=, 0 = all at once */
        uint64_t drain_timeout_usec;    /* DRAIN: > 0 replaces every stop timeout */
        uint64_t inhibit_delay_max_usec;/* logind's InhibitDelayMaxUSec, 0: not known */
        const PlanDomain *domains;
        size_t n_domains;
} PlanInput;

typedef struct Plan {
        PlanWhen when;
        bool steer_s2idle;      /* select s2idle in mem_sleep first; then the suspend keeps TDs */
        bool keeps;             /* TDs survive the step as planned (after any steering) */
        PowerPicture power;     /* the picture as it will be after the steering */
        unsigned n_stop, n_refuse, n_keep;
        uint64_t budget_usec;   /* worst case to stop every TD with the verdict stop, as configured */
        /* The budget against the step's limit (plan-budget.c). */
        PlanLimit limit;
        uint64_t limit_usec;            /* 0 with PLAN_LIMIT_NONE */
        bool fits;                      /* budget_usec plus the margin is within the limit */
        PlanOverBudget over_budget;     /* what this prepare does because it does not fit */
        uint64_t window_max_usec;       /* SHORTEN: every graceful window is cut to this; else infinity */
        uint64_t planned_usec;          /* worst case as planned (after steering or shortening) */
} Plan;

/* What PrepareForSleep(true) decides on this host (the step unknown, s2idle steered for
 * TDs that ask for it). */
PlanWhen plan_host_when(const PlanInput *in);
/* Can the host take this step now (suspend: a suspend state; hibernate: disk and swap)? */
bool plan_step_possible(const PowerPicture *p, SleepStep step);

/* The whole plan. verdicts[i] (the caller's array of in->n_domains) gets domain i's
 * verdict. With when = WAIT_FOR_HOOK nothing is done yet: verdicts are keep. */
void plan_make(const PlanInput *in, DomainVerdict *verdicts, Plan *ret);

/* The stop timeout for d as configured (a drain's timeout replaces the domain's). */
uint64_t plan_stop_timeout_usec(const PlanInput *in, const PlanDomain *d);
/* The graceful window d gets in this plan: its timeout, cut when the plan shortens. */
uint64_t plan_stop_window_usec(const PlanInput *in, const Plan *plan, const PlanDomain *d);
/* The order to send the stops in (the worst case assumes it): order[] gets every index
 * of in->domains, those with the verdict stop first, longest window first (ties in table
 * order), then the rest in table order. */
void plan_stop_order(const PlanInput *in, const Plan *plan, const DomainVerdict *verdicts, size_t *order);

/* The budget of every step the host can take now (suspend, hibernate; the other
 * operations are made of these), for the warning at start-up and on every change of the
 * domain set. *ret (and *ret_step) get the plan whose outcome is worst: block, shorten,
 * s2idle, then the largest budget. verdicts: scratch of in->n_domains. in->step is
 * ignored. */
void plan_check_host(const PlanInput *in, DomainVerdict *verdicts, Plan *ret, SleepStep *ret_step);

/* plan-budget.c, for plan_make(): the limit of the step, whether the budget fits, and
 * the cut of the windows or a block when it does not (steering is plan_make()'s). */
void plan_budget(const PlanInput *in, const DomainVerdict *verdicts, Plan *plan);

/* Worst-case time to stop TDs with these timeouts, each plus force-off when force_off,
 * at most parallel (0 = all) at once, longest first. */
uint64_t plan_stop_budget_usec(const uint64_t *timeouts, size_t n, unsigned parallel, bool force_off);
