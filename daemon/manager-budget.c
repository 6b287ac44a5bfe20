/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The stop budget against logind's delay (and the sleep hook's), checked at start-up and
 * on every change of the domain set or the config: a warning once per change of the
 * outcome, and a block lock while not even the planner's way out makes a sleep safe.
 * The decisions are the planner's (plan_check_host); this file reports and applies them. */

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "manager.h"
#include "messages.h"

static bool same_text(const char *a, const char *b) {
        return a == b || (a && b && streq(a, b));
}

static double seconds(uint64_t usec) {
        return (double) usec / USEC_PER_SEC;
}

/* What the outcome means for a sleep, for the warning. */
static const char *outcome_text(const Plan *p, bool hypothetical, char *buf, size_t n) {
        switch (p->over_budget) {
        case PLAN_OVER_BUDGET_S2IDLE:
                return "a suspend is steered to s2idle instead, so the TDs keep running";
        case PLAN_OVER_BUDGET_SHORTEN:
                snprintf(buf, n, "a prepare cuts every graceful shutdown window to %.1fs and then forces the TD off",
                         seconds(p->window_max_usec));
                return buf;
        default:
                snprintf(buf, n, "%s; %s", p->n_stop > 0 && !hypothetical ? "no prepare can fit" : "it could not fit",
                         hypothetical ? "tdsleepd refuses sleep once such TDs run" :
                         "tdsleepd holds a block lock, so that sleep is refused");
                return buf;
        }
}

/* How the worst case is made, and what the operator can change. */
static void budget_how(const Manager *m, const Plan *p, char *how, size_t n_how, char *fix, size_t n_fix) {
        if (m->config.force_off)
                snprintf(how, n_how, "their timeouts, ParallelShutdown=%u, %.0fs of force-off each",
                         m->config.parallel_shutdown, seconds(PLAN_FORCE_OFF_USEC));
        else
                snprintf(how, n_how, "their timeouts, ParallelShutdown=%u, ForceOff=no", m->config.parallel_shutdown);
        snprintf(fix, n_fix, "%sower ShutdownTimeoutSec= or the TDs' shutdown-timeout, or raise ParallelShutdown=%s",
                 p->limit == PLAN_LIMIT_HOOK ? "L" : "Raise InhibitDelayMaxSec= in /etc/systemd/logind.conf.d/ "
                 "(logind reads its drop-ins only when it starts: if tdsleep's came after that, reboot or run "
                 "'systemctl restart systemd-logind' while nobody is logged in), or l",
                 m->config.force_off ? "" : ", or set ForceOff=yes");
}

static void budget_warn(Manager *m, const Plan *p, SleepStep step, bool hypothetical) {
        char what[128], how[128], fix[512], outcome[192], budget[64], limit[64], over[64], step_field[64];
        const char *fields[] = { MESSAGE_BUDGET_EXCEEDED, budget, limit, over, step_field, NULL };

        if (hypothetical)
                snprintf(what, sizeof what, "a TD with ShutdownTimeoutSec=%.0fs",
                         seconds(m->config.shutdown_timeout_usec));
        else
                snprintf(what, sizeof what, "%u TD%s", p->n_stop, p->n_stop == 1 ? "" : "s");
        budget_how(m, p, how, sizeof how, fix, sizeof fix);
        snprintf(budget, sizeof budget, "TDSLEEP_BUDGET_USEC=%" PRIu64, p->budget_usec);
        snprintf(limit, sizeof limit, "TDSLEEP_LIMIT_USEC=%" PRIu64, p->limit_usec);
        snprintf(over, sizeof over, "TDSLEEP_OVER_BUDGET=%s", plan_over_budget_to_string(p->over_budget));
        snprintf(step_field, sizeof step_field, "TDSLEEP_STEP=%s", sleep_step_to_string(step));
        log_struct(LOG_WARNING, fields, "%s %.0fs, but stopping %s for %s may take up to %.0fs (%s), plus %.0fs of "
                   "margin: %s. %s",
                   p->limit == PLAN_LIMIT_HOOK ? "The sleep hook waits for tdsleepd for" :
                   "logind's InhibitDelayMaxSec is", seconds(p->limit_usec), what, sleep_step_to_string(step),
                   seconds(p->budget_usec), how, seconds(PLAN_BUDGET_MARGIN_USEC),
                   outcome_text(p, hypothetical, outcome, sizeof outcome), fix);
}

/* With no TD running, the check is made for one TD with the configured timeout: the
 * operator hears of a short logind delay before the first TD starts. */
static PlanDomain hypothetical_td(const Manager *m) {
        return (PlanDomain) {
                .uuid = "00000000-0000-0000-0000-000000000000",
                .name = "(a TD with the configured timeout)",
                .active = true,
                .persistent = true,
                .protected = true,
                .action = m->config.on_deep_sleep,
                .timeout_usec = m->config.shutdown_timeout_usec,
        };
}

static void budget_set_block(Manager *m, const Plan *p, SleepStep step, bool block) {
        _cleanup_(freep) char *why = NULL;

        if (block && asprintf(&why, "stopping %u TDs for %s may take %.0fs, past %s's %.0fs", p->n_stop,
                              sleep_step_to_string(step), seconds(p->budget_usec),
                              p->limit == PLAN_LIMIT_HOOK ? "the sleep hook" : "logind", seconds(p->limit_usec)) < 0)
                return;
        if (same_text(why, m->budget_block_why))
                return;
        free(m->budget_block_why);
        m->budget_block_why = TAKE_PTR(why);
        manager_refresh_block_lock(m);
}

void manager_check_budget(Manager *m) {
        _cleanup_(freep) DomainVerdict *v = NULL;
        _cleanup_(freep) char *key = NULL;
        PlanDomain one;
        CycleWorld w;
        PlanInput in;
        SleepStep step;
        Plan p;
        bool hypothetical;

        if (!m->cycle || !m->logind || !m->virt || !virt_is_connected(m->virt) || !logind_is_present(m->logind))
                return;
        /* In a cycle TDs stop and start by our own hand: the check waits for idle. */
        if (cycle_phase(m->cycle) != CYCLE_PHASE_IDLE || cycle_is_sleeping(m->cycle))
                return;
        if (manager_observe(m, false, &w) < 0)
                return;
        cycle_plan_input(m->cycle, &w, PLAN_MODE_SLEEP, SLEEP_STEP_UNKNOWN, &in);
        hypothetical = manager_count_running_tds(m) == 0;
        if (hypothetical) {
                one = hypothetical_td(m);
                in.domains = &one;
                in.n_domains = 1;
        }
        v = calloc(in.n_domains ? in.n_domains : 1, sizeof(DomainVerdict));
        if (!v)
                return;
        plan_check_host(&in, v, &p, &step);
        budget_set_block(m, &p, step, p.over_budget == PLAN_OVER_BUDGET_BLOCK && !hypothetical);
        manager_decide_block_lock(m);   /* the last of what the block lock depends on */
        /* Once per change of the outcome, not of every number: a host whose TDs start one
         * by one does not repeat the same warning for each. */
        if (asprintf(&key, "%s %s %s %" PRIu64 " %d", plan_over_budget_to_string(p.over_budget),
                     strna(sleep_step_to_string(step)), plan_limit_to_string(p.limit), p.limit_usec, hypothetical) < 0)
                return;
        if (same_text(key, m->budget_key))
                return;
        if (p.over_budget != PLAN_OVER_BUDGET_NONE)
                budget_warn(m, &p, step, hypothetical);
        else if (m->budget_key && strncmp(m->budget_key, "none ", 5) != 0)
                log_struct(LOG_NOTICE, ((const char *[]) { MESSAGE_BUDGET_EXCEEDED, "TDSLEEP_OVER_BUDGET=none", NULL }),
                           "Stopping the TDs fits the sleep's limit again (up to %.0fs of %.0fs)",
                           seconds(p.budget_usec), seconds(p.limit_usec));
        free(m->budget_key);
        m->budget_key = TAKE_PTR(key);
}

static int on_budget_defer(sd_event_source *s, void *userdata) {
        Manager *m = userdata;

        m->budget_defer = sd_event_source_disable_unref(m->budget_defer);
        manager_check_budget(m);
        return 0;
}

void manager_check_budget_soon(Manager *m) {
        if (!m->event || m->budget_defer)
                return;
        /* The check waits for idle, and the phase's return to idle asks for it: no loop
         * iteration per domain event of a cycle (a thousand in a resume). */
        if (m->cycle && cycle_phase(m->cycle) != CYCLE_PHASE_IDLE)
                return;
        if (sd_event_add_defer(m->event, &m->budget_defer, on_budget_defer, m) < 0)
                manager_check_budget(m);
}
