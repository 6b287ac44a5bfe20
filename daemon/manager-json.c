/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What the control socket reports, as JSON: domains, the status, the last cycle, and
 * Plan(): the planner's answer for an operation, without touching anything. */

#include <stdlib.h>
#include <string.h>

#include "classify.h"
#include "hold.h"
#include "log.h"
#include "manager.h"
#include "varlink.h"

json_object *manager_json_string_or_null(const char *s) {
        return s ? json_object_new_string(s) : NULL;
}

json_object *manager_json_enum(const char *name) {
        json_object *o;
        char *wire;

        if (!name)
                return NULL;
        wire = strdup(name);
        if (!wire)
                return NULL;
        for (char *p = wire; *p; p++)
                if (*p == '-')
                        *p = '_';
        o = json_object_new_string(wire);
        free(wire);
        return o;
}

bool manager_enum_name_equal(const char *wire, const char *name) {
        size_t n = strlen(name);

        if (streq(wire, name))
                return true;
        if (strlen(wire) != n)
                return false;
        for (size_t i = 0; i < n; i++)
                if (wire[i] != (name[i] == '-' ? '_' : name[i]))
                        return false;
        return true;
}

json_object *manager_domain_json(Manager *m, const Domain *d) {
        json_object *o = json_object_new_object();

        json_object_object_add(o, "name", json_object_new_string(d->name));
        json_object_object_add(o, "uuid", json_object_new_string(d->uuid));
        json_object_object_add(o, "active", json_object_new_boolean(d->active));
        json_object_object_add(o, "persistent", json_object_new_boolean(d->persistent));
        json_object_object_add(o, "kind", manager_json_enum(domain_kind_to_string(d->policy.kind)));
        json_object_object_add(o, "protected", json_object_new_boolean(
                                       domain_policy_is_protected(&d->policy, m->config.protected_kinds)));
        json_object_object_add(o, "action", json_object_new_string(
                                       sleep_action_to_string(domain_policy_action(&d->policy, &m->config))));
        json_object_object_add(o, "shutdownTimeoutUSec", json_object_new_int64(
                                       (int64_t) domain_policy_timeout_usec(&d->policy, &m->config)));
        if (d->policy_broken)
                json_object_object_add(o, "policyError",
                                       json_object_new_string("its XML or tdsleep metadata could not be read"));
        return o;
}

json_object *manager_cycle_domain_json(const char *name, const char *uuid, const char *state) {
        json_object *o = json_object_new_object();

        json_object_object_add(o, "name", json_object_new_string(name));
        json_object_object_add(o, "uuid", json_object_new_string(uuid));
        json_object_object_add(o, "state", manager_json_enum(state));
        return o;
}

static void add_cycle_domain(void *userdata, const StateDomain *d, JobState state, const char *error) {
        json_object *o = manager_cycle_domain_json(d->name, d->uuid, job_state_to_string(state));

        if (error)
                json_object_object_add(o, "error", json_object_new_string(error));
        json_object_array_add(userdata, o);
}

static json_object *usec_or_null(uint64_t usec) {
        return usec > 0 ? json_object_new_int64((int64_t) usec) : NULL;
}

/* The last finished cycle: what each TD went through, and why a failure failed. */
static json_object *last_cycle_to_json(const CycleResult *r) {
        const char *step = sleep_step_to_string(r->step);
        json_object *o, *a;

        if (!r->valid)
                return NULL;
        o = json_object_new_object();
        a = json_object_new_array();
        json_object_object_add(o, "id", json_object_new_string(r->cycle_id));
        json_object_object_add(o, "step", manager_json_enum(r->drain ? "drain" : step ? step : "unknown"));
        json_object_object_add(o, "startedUSec", usec_or_null(r->began_realtime_usec));
        json_object_object_add(o, "endedUSec", usec_or_null(r->ended_realtime_usec));
        json_object_object_add(o, "prepareUSec", json_object_new_int64((int64_t) r->prepare_usec));
        json_object_object_add(o, "resumeUSec", json_object_new_int64((int64_t) r->resume_usec));
        json_object_object_add(o, "failed", json_object_new_boolean(cycle_result_failed(r)));
        for (size_t i = 0; i < r->n_domains; i++) {
                const CycleResultDomain *d = &r->domains[i];
                json_object *e = manager_cycle_domain_json(d->name, d->uuid, job_state_to_string(d->outcome));

                json_object_object_add(e, "stopped", json_object_new_boolean(d->stopped));
                json_object_object_add(e, "forcedOff", json_object_new_boolean(d->forced));
                if (d->error)
                        json_object_object_add(e, "error", json_object_new_string(d->error));
                json_object_array_add(a, e);
        }
        json_object_object_add(o, "domains", a);
        return o;
}

/* The step of the sleep in progress, or drain while only the drain is. */
static const char *cycle_step_name(Manager *m) {
        SleepStep step = cycle_step(m->cycle);

        if (step >= 0)
                return sleep_step_to_string(step);
        return cycle_is_drained(m->cycle) ? "drain" : NULL;
}

static json_object *int_array(const unsigned *v, size_t n) {
        json_object *a = json_object_new_array();

        for (size_t i = 0; i < n; i++)
                json_object_array_add(a, json_object_new_int((int) v[i]));
        return a;
}

static json_object *packages_to_json(const CpuPicture *p) {
        json_object *a = json_object_new_array();

        for (size_t k = 0; p && k < p->n_packages; k++) {
                unsigned cpus[CPUS_MAX], online[CPUS_MAX];
                size_t n = 0, n_online = 0;
                json_object *o = json_object_new_object();

                for (size_t i = 0; i < p->n_cpus; i++) {
                        if (!p->cpus[i].package_known || p->cpus[i].package != p->packages[k].id)
                                continue;
                        cpus[n++] = p->cpus[i].id;
                        if (p->cpus[i].online)
                                online[n_online++] = p->cpus[i].id;
                }
                json_object_object_add(o, "id", json_object_new_int(p->packages[k].id));
                json_object_object_add(o, "cpus", int_array(cpus, n));
                json_object_object_add(o, "online", int_array(online, n_online));
                json_object_array_add(a, o);
        }
        return a;
}

json_object *manager_status_json(Manager *m) {
        json_object *o = json_object_new_object(), *cycle = json_object_new_array();
        PowerPicture p;
        uint64_t delay = logind_inhibit_delay_max_usec(m->logind);
        const CpuPicture *cpus = m->cpus ? cpus_picture(m->cpus) : NULL;

        if (power_read(m->sysfs_root, &p, NULL) < 0)
                p.mem_sleep_selected = _MEM_SLEEP_INVALID;
        cycle_foreach_job(m->cycle, add_cycle_domain, cycle);
        json_object_object_add(o, "phase", json_object_new_string(cycle_phase_to_string(cycle_phase(m->cycle))));
        json_object_object_add(o, "step", manager_json_enum(cycle_step_name(m)));
        json_object_object_add(o, "cycleId", manager_json_string_or_null(cycle_id(m->cycle)));
        json_object_object_add(o, "drained", json_object_new_boolean(cycle_is_drained(m->cycle)));
        json_object_object_add(o, "awaitingHook", json_object_new_boolean(cycle_awaiting_hook(m->cycle)));
        json_object_object_add(o, "awaitingLibvirt", json_object_new_boolean(cycle_awaiting_libvirt(m->cycle)));
        json_object_object_add(o, "recordDegraded", json_object_new_boolean(manager_record_degraded(m)));
        json_object_object_add(o, "kernelPolicy", manager_json_enum(kernel_policy_to_string(m->kernel_policy)));
        json_object_object_add(o, "memSleep", manager_json_enum(mem_sleep_to_string(p.mem_sleep_selected)));
        json_object_object_add(o, "tdsRunning", json_object_new_int((int) manager_count_running_tds(m)));
        json_object_object_add(o, "delayLock", json_object_new_boolean(logind_has_delay(m->logind)));
        json_object_object_add(o, "blockLock", manager_json_string_or_null(logind_block_why(m->logind)));
        json_object_object_add(o, "hold", manager_json_string_or_null(m->hold ? m->hold->reason : NULL));
        json_object_object_add(o, "holdInfo", hold_to_json(m->hold));
        json_object_object_add(o, "libvirtUri", json_object_new_string(manager_libvirt_uri(m)));
        json_object_object_add(o, "libvirtConnected", json_object_new_boolean(virt_is_connected(m->virt)));
        json_object_object_add(o, "logindPresent", json_object_new_boolean(logind_is_present(m->logind)));
        json_object_object_add(o, "inhibitDelayMaxUSec", delay > 0 ? json_object_new_int64((int64_t) delay) : NULL);
        json_object_object_add(o, "canCreateTDs", json_object_new_boolean(!cpus || cpu_picture_can_create_td(cpus)));
        json_object_object_add(o, "logLevel", json_object_new_int(log_get_max_level()));
        json_object_object_add(o, "packages", packages_to_json(cpus));
        json_object_object_add(o, "cycle", cycle);
        json_object_object_add(o, "lastCycle", last_cycle_to_json(cycle_last_result(m->cycle)));
        return o;
}


/* A Step enum value ("hybrid_sleep"), or systemd's dashed spelling as in
 * SYSTEMD_SLEEP_ACTION ("hybrid-sleep", "suspend-after-failed-hibernate") -> step. */
int manager_parse_step(const char *s, SleepStep *ret) {
        if (streq(s, "suspend-after-failed-hibernate"))
                s = "suspend";
        for (SleepStep step = 0; step < _SLEEP_STEP_MAX; step++)
                if (step != SLEEP_STEP_UNKNOWN && manager_enum_name_equal(s, sleep_step_to_string(step))) {
                        *ret = step;
                        return 0;
                }
        return -EINVAL;
}

/* The steps an operation consists of. */
static size_t operation_steps(SleepStep op, SleepStep ret[static 2]) {
        if (op == SLEEP_STEP_SUSPEND_THEN_HIBERNATE) {
                ret[0] = SLEEP_STEP_SUSPEND;
                ret[1] = SLEEP_STEP_HIBERNATE;
                return 2;
        }
        ret[0] = op;
        return 1;
}

/* Which verdict tells more about what happens: a stop beats keeping a TD running. */
static int verdict_severity(DomainVerdict v) {
        static const int severity[_VERDICT_MAX] = {
                [VERDICT_IGNORE] = 0, [VERDICT_KEEP] = 1, [VERDICT_REFUSE] = 2, [VERDICT_STOP] = 3,
        };
        return v >= 0 && v < _VERDICT_MAX ? severity[v] : 0;
}

typedef struct OperationPlan {
        size_t n_steps;
        SleepStep steps[2];
        Plan plans[2];
        DomainVerdict *verdicts[2];
} OperationPlan;

static void operation_plan_done(OperationPlan *p) {
        for (size_t k = 0; k < ELEMENTSOF(p->verdicts); k++)
                free(p->verdicts[k]);
}

/* The planner's answer for each step, from the same inputs the engine would use. */
static int operation_plan(Manager *m, const CycleWorld *w, bool drain, SleepStep op, OperationPlan *ret) {
        ret->n_steps = drain ? 1 : operation_steps(op, ret->steps);
        for (size_t k = 0; k < ret->n_steps; k++) {
                PlanInput in;

                ret->verdicts[k] = calloc(w->n_domains ? w->n_domains : 1, sizeof(DomainVerdict));
                if (!ret->verdicts[k])
                        return -ENOMEM;
                cycle_plan_input(m->cycle, w, drain ? PLAN_MODE_DRAIN : PLAN_MODE_SLEEP, ret->steps[k], &in);
                plan_make(&in, ret->verdicts[k], &ret->plans[k]);
        }
        return 0;
}

static void plan_add_domains(Manager *m, const CycleWorld *w, const OperationPlan *p, json_object *reply) {
        json_object *doms = json_object_new_array();
        Domain **domains;
        size_t n = virt_domains(m->virt, &domains);

        for (size_t i = 0; i < w->n_domains && i < n; i++) {
                DomainVerdict worst = VERDICT_IGNORE;
                json_object *d;

                for (size_t k = 0; k < p->n_steps; k++)
                        if (verdict_severity(p->verdicts[k][i]) > verdict_severity(worst))
                                worst = p->verdicts[k][i];
                if (worst == VERDICT_IGNORE)
                        continue;
                d = manager_domain_json(m, domains[i]);
                json_object_object_add(d, "verdict", json_object_new_string(domain_verdict_to_string(worst)));
                json_object_array_add(doms, d);
        }
        json_object_object_add(reply, "domains", doms);
}

static json_object *budget_json(SleepStep step, bool drain, const Plan *plan) {
        json_object *o = json_object_new_object();

        json_object_object_add(o, "step", manager_json_enum(drain ? "drain" : sleep_step_to_string(step)));
        json_object_object_add(o, "stops", json_object_new_int((int) plan->n_stop));
        json_object_object_add(o, "stopBudgetUSec", json_object_new_int64((int64_t) MIN(plan->budget_usec, INT64_MAX)));
        json_object_object_add(o, "limit", json_object_new_string(plan_limit_to_string(plan->limit)));
        json_object_object_add(o, "limitUSec", usec_or_null(plan->limit_usec));
        json_object_object_add(o, "fits", json_object_new_boolean(plan->fits));
        json_object_object_add(o, "overBudget", json_object_new_string(plan_over_budget_to_string(plan->over_budget)));
        json_object_object_add(o, "stopWindowMaxUSec", plan->over_budget == PLAN_OVER_BUDGET_SHORTEN ?
                               json_object_new_int64((int64_t) plan->window_max_usec) : NULL);
        json_object_object_add(o, "plannedUSec", json_object_new_int64((int64_t) MIN(plan->planned_usec, INT64_MAX)));
        return o;
}

/* The budget of each step against its limit, and what a prepare would do about it. */
static void plan_add_budgets(Manager *m, const OperationPlan *p, bool drain, json_object *reply) {
        json_object *budgets = json_object_new_array();
        bool fits = true;

        for (size_t k = 0; k < p->n_steps; k++) {
                json_object_array_add(budgets, budget_json(p->steps[k], drain, &p->plans[k]));
                fits = fits && p->plans[k].fits;
        }
        json_object_object_add(reply, "inhibitDelayMaxUSec",
                               usec_or_null(m->logind ? logind_inhibit_delay_max_usec(m->logind) : 0));
        json_object_object_add(reply, "budgetMarginUSec", json_object_new_int64(PLAN_BUDGET_MARGIN_USEC));
        json_object_object_add(reply, "fits", json_object_new_boolean(fits));
        json_object_object_add(reply, "budgets", budgets);
}

int manager_plan_json(Manager *m, const char *operation, json_object **ret) {
        _cleanup_(json_object_putp) json_object *reply = NULL;
        OperationPlan p = { .steps = { SLEEP_STEP_UNKNOWN } };
        bool drain = manager_enum_name_equal(operation, "drain"), keeps = !drain, steer = false;
        json_object *steps;
        uint64_t budget = 0;
        SleepStep op = SLEEP_STEP_UNKNOWN;
        CycleWorld w;
        int r;

        if (!drain && manager_parse_step(operation, &op) < 0)
                return -EINVAL;
        r = manager_observe(m, false, &w);
        if (r >= 0)
                r = operation_plan(m, &w, drain, op, &p);
        if (r < 0) {
                operation_plan_done(&p);
                return r;
        }
        reply = json_object_new_object();
        steps = json_object_new_array();
        for (size_t k = 0; k < p.n_steps; k++) {
                json_object_array_add(steps, manager_json_enum(drain ? "drain" : sleep_step_to_string(p.steps[k])));
                keeps = keeps && p.plans[k].keeps;
                steer = steer || p.plans[k].steer_s2idle;
                budget = MAX(budget, p.plans[k].budget_usec);
        }
        json_object_object_add(reply, "operation", manager_json_enum(drain ? "drain" : sleep_step_to_string(op)));
        json_object_object_add(reply, "steps", steps);
        json_object_object_add(reply, "keepsTDs", json_object_new_boolean(keeps));
        json_object_object_add(reply, "steerS2idle", json_object_new_boolean(steer));
        json_object_object_add(reply, "stopBudgetUSec", json_object_new_int64((int64_t) budget));
        json_object_object_add(reply, "libvirtConnected", json_object_new_boolean(w.libvirt_connected));
        plan_add_budgets(m, &p, drain, reply);
        plan_add_domains(m, &w, &p, reply);
        operation_plan_done(&p);
        *ret = TAKE_PTR(reply);
        return 0;
}
