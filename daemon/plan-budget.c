/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The stop budget: how long stopping a step's TDs may take in the worst case (every TD
 * ignores its shutdown and needs forcing), against the deadline the step has, and what a
 * prepare does when it does not fit. Pure, like the rest of the planner. */

#include <stdlib.h>

#include "plan.h"

static const char *const plan_limit_table[_PLAN_LIMIT_MAX] = {
        [PLAN_LIMIT_NONE] = "none",
        [PLAN_LIMIT_LOGIND] = "logind",
        [PLAN_LIMIT_HOOK] = "hook",
};
DEFINE_STRING_TABLE(plan_limit, PlanLimit, _PLAN_LIMIT_MAX)

static const char *const plan_over_budget_table[_PLAN_OVER_BUDGET_MAX] = {
        [PLAN_OVER_BUDGET_NONE] = "none",
        [PLAN_OVER_BUDGET_S2IDLE] = "s2idle",
        [PLAN_OVER_BUDGET_SHORTEN] = "shorten",
        [PLAN_OVER_BUDGET_BLOCK] = "block",
};
DEFINE_STRING_TABLE(plan_over_budget, PlanOverBudget, _PLAN_OVER_BUDGET_MAX)

/* A cut window is a whole number of these: easier to read in the journal. */
#define CUT_STEP_USEC (100 * USEC_PER_MSEC)
/* No window is cut below this: shorter is a force-off in all but name (no guest shuts
 * down in less), and the engine takes a window of 0 for "not known yet". */
#define CUT_MIN_USEC USEC_PER_SEC

static int cmp_desc(const void *a, const void *b) {
        uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;

        return x < y ? 1 : x > y ? -1 : 0;
}

uint64_t plan_stop_budget_usec(const uint64_t *timeouts, size_t n, unsigned parallel, bool force_off) {
        uint64_t extra = force_off ? PLAN_FORCE_OFF_USEC : 0, worst = 0, *sorted, *lanes;
        size_t width = parallel == 0 || parallel > n ? n : parallel;

        if (n == 0)
                return 0;
        sorted = memdup(timeouts, n * sizeof(uint64_t));
        lanes = calloc(width, sizeof(uint64_t));
        if (!sorted || !lanes) {
                /* No memory for the schedule: one after another is an upper bound. */
                for (size_t i = 0; i < n; i++)
                        worst += timeouts[i] + extra;
                free(sorted);
                free(lanes);
                return worst;
        }
        /* Longest first, each onto the lane that frees up first: what the engine does
         * when every TD ignores its shutdown and then needs forcing (it sends the stops
         * in plan_stop_order()). */
        qsort(sorted, n, sizeof(uint64_t), cmp_desc);
        for (size_t i = 0; i < n; i++) {
                size_t best = 0;

                for (size_t k = 1; k < width; k++)
                        if (lanes[k] < lanes[best])
                                best = k;
                lanes[best] += sorted[i] + extra;
        }
        for (size_t k = 0; k < width; k++)
                worst = MAX(worst, lanes[k]);
        free(sorted);
        free(lanes);
        return worst;
}

uint64_t plan_stop_window_usec(const PlanInput *in, const Plan *plan, const PlanDomain *d) {
        return MIN(plan_stop_timeout_usec(in, d), plan->window_max_usec);
}

typedef struct OrderEntry {
        uint64_t window;
        size_t index;
} OrderEntry;

static int order_compare(const void *a, const void *b) {
        const OrderEntry *x = a, *y = b;

        if (x->window != y->window)
                return x->window < y->window ? 1 : -1;
        return x->index < y->index ? -1 : x->index > y->index;
}

void plan_stop_order(const PlanInput *in, const Plan *plan, const DomainVerdict *verdicts, size_t *order) {
        OrderEntry *e = calloc(in->n_domains ? in->n_domains : 1, sizeof(OrderEntry));
        size_t n = 0, k = 0;

        if (!e) {
                /* No memory to sort: table order (the budget may then be exceeded). */
                for (size_t i = 0; i < in->n_domains; i++)
                        order[i] = i;
                return;
        }
        for (size_t i = 0; i < in->n_domains; i++)
                if (verdicts[i] == VERDICT_STOP)
                        e[n++] = (OrderEntry) { plan_stop_window_usec(in, plan, &in->domains[i]), i };
        qsort(e, n, sizeof(OrderEntry), order_compare);
        for (; k < n; k++)
                order[k] = e[k].index;
        for (size_t i = 0; i < in->n_domains; i++)
                if (verdicts[i] != VERDICT_STOP)
                        order[k++] = i;
        free(e);
}

/* Does a worst case of budget, plus the margin, end before limit (0: no limit)? Nothing
 * to stop always does, whatever logind's delay. */
static bool within(uint64_t budget, uint64_t limit) {
        return limit == 0 || budget == 0 ||
                (limit > PLAN_BUDGET_MARGIN_USEC && budget <= limit - PLAN_BUDGET_MARGIN_USEC);
}

static PlanLimit step_limit(const PlanInput *in, uint64_t *ret_usec) {
        *ret_usec = 0;
        if (in->mode == PLAN_MODE_DRAIN)
                return PLAN_LIMIT_NONE;         /* the operator's drain: no sleep waits */
        /* The host may either keep or lose TDs: logind goes on at once, and the stops
         * happen while the sleep hook waits for Prepare. */
        if (in->power && in->hook_reachable && plan_host_when(in) == PLAN_WHEN_WAIT_FOR_HOOK) {
                *ret_usec = PLAN_HOOK_LIMIT_USEC;
                return PLAN_LIMIT_HOOK;
        }
        if (in->inhibit_delay_max_usec == 0)
                return PLAN_LIMIT_NONE;
        *ret_usec = in->inhibit_delay_max_usec;
        return PLAN_LIMIT_LOGIND;
}

/* The configured windows of the TDs to stop (*ret_n of them); NULL without memory. */
static uint64_t *stop_windows(const PlanInput *in, const DomainVerdict *verdicts, size_t *ret_n) {
        uint64_t *t = calloc(in->n_domains ? in->n_domains : 1, sizeof(uint64_t));
        size_t n = 0;

        for (size_t i = 0; t && i < in->n_domains; i++)
                if (verdicts[i] == VERDICT_STOP)
                        t[n++] = plan_stop_timeout_usec(in, &in->domains[i]);
        *ret_n = n;
        return t;
}

static uint64_t budget_cut(const PlanInput *in, const uint64_t *t, size_t n, uint64_t cap, uint64_t *scratch) {
        for (size_t i = 0; i < n; i++)
                scratch[i] = MIN(t[i], cap);
        return plan_stop_budget_usec(scratch, n, in->parallel_shutdown, in->force_off);
}

/* The longest window every TD may keep so that the stops and their force-offs fit the
 * limit (the configured windows do not). false when not even a window of CUT_MIN_USEC
 * each fits (too many TDs for ParallelShutdown=): then no cut helps. */
static bool find_cut(const PlanInput *in, const uint64_t *t, size_t n, uint64_t limit, uint64_t *ret_cap) {
        _cleanup_(freep) uint64_t *scratch = calloc(n ? n : 1, sizeof(uint64_t));
        uint64_t lo = CUT_MIN_USEC, hi = 0, cap;

        if (!scratch || !within(budget_cut(in, t, n, lo, scratch), limit))
                return false;
        for (size_t i = 0; i < n; i++)
                hi = MAX(hi, t[i]);
        if (hi <= lo)
                return false;           /* the windows are this short already */
        /* within(lo) holds, within(hi) does not. The worst case grows with the cap in
         * practice, but list scheduling has anomalies: the result is checked again. */
        while (hi - lo > 1) {
                uint64_t mid = lo + (hi - lo) / 2;

                if (within(budget_cut(in, t, n, mid, scratch), limit))
                        lo = mid;
                else
                        hi = mid;
        }
        cap = MAX(lo - lo % CUT_STEP_USEC, CUT_MIN_USEC);
        *ret_cap = within(budget_cut(in, t, n, cap, scratch), limit) ? cap : lo;
        return true;
}

void plan_budget(const PlanInput *in, const DomainVerdict *verdicts, Plan *plan) {
        _cleanup_(freep) uint64_t *t = NULL, *scratch = NULL;
        size_t n = 0;
        uint64_t cap;

        plan->window_max_usec = USEC_INFINITY;
        plan->planned_usec = plan->budget_usec;
        plan->over_budget = PLAN_OVER_BUDGET_NONE;
        plan->limit = step_limit(in, &plan->limit_usec);
        plan->fits = within(plan->budget_usec, plan->limit_usec);
        if (plan->fits)
                return;
        /* Without force-off, a window cut short only leaves TDs running: nothing can be
         * promised for this sleep, and the next one is refused (plan_check_host). */
        plan->over_budget = PLAN_OVER_BUDGET_BLOCK;
        if (!in->force_off)
                return;
        t = stop_windows(in, verdicts, &n);
        scratch = calloc(n ? n : 1, sizeof(uint64_t));
        if (!t || !scratch || !find_cut(in, t, n, plan->limit_usec, &cap))
                return;
        plan->over_budget = PLAN_OVER_BUDGET_SHORTEN;
        plan->window_max_usec = cap;
        plan->planned_usec = budget_cut(in, t, n, cap, scratch);
}

static int over_budget_rank(const Plan *p) {
        static const int rank[_PLAN_OVER_BUDGET_MAX] = {
                [PLAN_OVER_BUDGET_NONE] = 0, [PLAN_OVER_BUDGET_S2IDLE] = 1,
                [PLAN_OVER_BUDGET_SHORTEN] = 2, [PLAN_OVER_BUDGET_BLOCK] = 3,
        };
        return rank[p->over_budget];
}

void plan_check_host(const PlanInput *in, DomainVerdict *verdicts, Plan *ret, SleepStep *ret_step) {
        static const SleepStep steps[] = { SLEEP_STEP_SUSPEND, SLEEP_STEP_HIBERNATE };
        bool any = false;

        *ret = (Plan) {
                .power.mem_sleep_selected = _MEM_SLEEP_INVALID,
                .fits = true,
                .window_max_usec = USEC_INFINITY,
        };
        *ret_step = _SLEEP_STEP_INVALID;
        for (size_t k = 0; k < ELEMENTSOF(steps); k++) {
                PlanInput step_in = *in;
                Plan p;

                /* Without a picture of /sys/power, PrepareForSleep's unknown step is all there is. */
                step_in.step = in->power ? steps[k] : SLEEP_STEP_UNKNOWN;
                if (in->power && !plan_step_possible(in->power, steps[k]))
                        continue;
                plan_make(&step_in, verdicts, &p);
                if (!any || over_budget_rank(&p) > over_budget_rank(ret) ||
                    (over_budget_rank(&p) == over_budget_rank(ret) && p.budget_usec > ret->budget_usec)) {
                        *ret = p;
                        *ret_step = step_in.step;
                        any = true;
                }
                if (!in->power)
                        break;
        }
}
