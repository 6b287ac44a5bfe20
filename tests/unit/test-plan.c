/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "plan.h"
#include "test-util.h"

#define FREEZE  POWER_MASK(POWER_STATE_FREEZE)
#define STANDBY POWER_MASK(POWER_STATE_STANDBY)
#define MEM     POWER_MASK(POWER_STATE_MEM)
#define DISK    POWER_MASK(POWER_STATE_DISK)
#define NO_SEL  _MEM_SLEEP_INVALID
#define S2IDLE  POWER_MASK(MEM_SLEEP_S2IDLE)
#define DEEP    POWER_MASK(MEM_SLEEP_DEEP)

static PowerPicture picture(unsigned states, MemSleep selected, bool swap) {
        return (PowerPicture) {
                .states = states,
                .mem_sleep_selected = selected,
                .mem_sleep_available = selected >= 0 ? POWER_MASK(selected) : 0,
                .has_swap = swap,
        };
}

static void test_step_keeps_tds(void **state) {
        static const struct {
                SleepStep step;
                unsigned states;
                MemSleep selected;
                bool keeps;
        } cases[] = {
                { SLEEP_STEP_SUSPEND, FREEZE | MEM | DISK, MEM_SLEEP_S2IDLE, true },
                { SLEEP_STEP_SUSPEND, FREEZE | MEM | DISK, MEM_SLEEP_SHALLOW, true },
                { SLEEP_STEP_SUSPEND, FREEZE | MEM | DISK, MEM_SLEEP_DEEP, false },
                /* No mem_sleep selection: "mem" is taken to be S3. */
                { SLEEP_STEP_SUSPEND, FREEZE | MEM, NO_SEL, false },
                /* No "mem": systemd falls back to standby or freeze, which keep. */
                { SLEEP_STEP_SUSPEND, FREEZE, NO_SEL, true },
                { SLEEP_STEP_SUSPEND, STANDBY | FREEZE, MEM_SLEEP_DEEP, true },
                { SLEEP_STEP_SUSPEND, 0, NO_SEL, false },
                { SLEEP_STEP_HIBERNATE, FREEZE | MEM | DISK, MEM_SLEEP_S2IDLE, false },
                { SLEEP_STEP_HYBRID_SLEEP, FREEZE | MEM | DISK, MEM_SLEEP_S2IDLE, false },
                { SLEEP_STEP_SUSPEND_THEN_HIBERNATE, FREEZE | MEM | DISK, MEM_SLEEP_S2IDLE, false },
                { SLEEP_STEP_UNKNOWN, FREEZE | MEM | DISK, MEM_SLEEP_S2IDLE, false },
                { SLEEP_STEP_UNKNOWN, FREEZE, NO_SEL, false },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                PowerPicture p = picture(cases[i].states, cases[i].selected, true);

                print_message("case %zu: %s\n", i, sleep_step_to_string(cases[i].step));
                assert_int_equal(plan_step_keeps_tds(cases[i].step, &p), cases[i].keeps);
        }
}

static void test_when_to_act(void **state) {
        static const struct {
                unsigned states;
                MemSleep selected;
                bool swap;
                PlanWhen when;
        } cases[] = {
                /* Suspend only (no disk, or no swap to hibernate to). */
                { FREEZE | MEM, MEM_SLEEP_S2IDLE, false, PLAN_WHEN_NOTHING },
                { FREEZE | MEM, MEM_SLEEP_SHALLOW, true, PLAN_WHEN_NOTHING },
                { FREEZE | MEM, MEM_SLEEP_DEEP, false, PLAN_WHEN_ACT },
                { FREEZE | MEM, NO_SEL, false, PLAN_WHEN_ACT },
                { FREEZE | MEM | DISK, MEM_SLEEP_DEEP, false, PLAN_WHEN_ACT },
                { FREEZE | MEM | DISK, MEM_SLEEP_S2IDLE, false, PLAN_WHEN_NOTHING },
                { FREEZE, NO_SEL, false, PLAN_WHEN_NOTHING },
                { STANDBY, NO_SEL, true, PLAN_WHEN_NOTHING },
                /* Hibernation possible too. */
                { FREEZE | MEM | DISK, MEM_SLEEP_DEEP, true, PLAN_WHEN_ACT },
                { FREEZE | MEM | DISK, MEM_SLEEP_S2IDLE, true, PLAN_WHEN_WAIT_FOR_HOOK },
                { FREEZE | MEM | DISK, MEM_SLEEP_SHALLOW, true, PLAN_WHEN_WAIT_FOR_HOOK },
                { FREEZE | DISK, NO_SEL, true, PLAN_WHEN_WAIT_FOR_HOOK },
                { DISK, NO_SEL, true, PLAN_WHEN_ACT },
                /* Nothing possible at all. */
                { DISK, NO_SEL, false, PLAN_WHEN_NOTHING },
                { 0, NO_SEL, true, PLAN_WHEN_NOTHING },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                PowerPicture p = picture(cases[i].states, cases[i].selected, cases[i].swap);

                print_message("case %zu\n", i);
                assert_int_equal(plan_when_to_act(&p), cases[i].when);
        }
}

#define TD(n, act) { .uuid = "00000000-0000-0000-0000-00000000000" #n, .name = "td" #n, .active = true, \
                         .persistent = true, .protected = true, .action = (act), .timeout_usec = 60 * USEC_PER_SEC }

static PlanInput input(SleepStep step, const PowerPicture *p, const PlanDomain *d, size_t n) {
        return (PlanInput) {
                .mode = PLAN_MODE_SLEEP,
                .step = step,
                .power = p,
                .kernel_policy = KERNEL_POLICY_NONE,
                .hook_reachable = true,
                .force_off = true,
                .domains = d,
                .n_domains = n,
        };
}

/* One TD of each action, plus a VM that is not protected and a TD that is not running. */
static const PlanDomain mix[] = {
        TD(1, SLEEP_ACTION_STOP),
        TD(2, SLEEP_ACTION_S2IDLE),
        TD(3, SLEEP_ACTION_REFUSE),
        { .uuid = "00000000-0000-0000-0000-000000000004", .name = "vm", .active = true, .protected = false },
        { .uuid = "00000000-0000-0000-0000-000000000005", .name = "off", .active = false, .protected = true },
};

/* The whole plan, over the cases that used to be decided in three places. */
static void test_plan_make(void **state) {
        static const struct {
                const char *name;
                SleepStep step;
                unsigned states;
                MemSleep selected;
                unsigned available;
                bool swap, hook;
                PlanWhen when;
                bool steer, keeps;
                DomainVerdict v[3];
        } cases[] = {
                { "deep suspend: steered to s2idle, every TD kept", SLEEP_STEP_SUSPEND, FREEZE | MEM | DISK,
                  MEM_SLEEP_DEEP, S2IDLE | DEEP, true, true, PLAN_WHEN_NOTHING, true, true,
                  { VERDICT_KEEP, VERDICT_KEEP, VERDICT_KEEP } },
                { "deep suspend without s2idle: stop, and s2idle falls back to stop", SLEEP_STEP_SUSPEND, MEM,
                  MEM_SLEEP_DEEP, DEEP, false, true, PLAN_WHEN_ACT, false, false,
                  { VERDICT_STOP, VERDICT_STOP, VERDICT_REFUSE } },
                { "s2idle selected: nothing to do", SLEEP_STEP_SUSPEND, FREEZE | MEM, MEM_SLEEP_S2IDLE,
                  S2IDLE | DEEP, true, true, PLAN_WHEN_NOTHING, false, true,
                  { VERDICT_KEEP, VERDICT_KEEP, VERDICT_KEEP } },
                { "hibernate: never steered", SLEEP_STEP_HIBERNATE, FREEZE | MEM | DISK, MEM_SLEEP_DEEP,
                  S2IDLE | DEEP, true, true, PLAN_WHEN_ACT, false, false,
                  { VERDICT_STOP, VERDICT_STOP, VERDICT_REFUSE } },
                { "unknown, hibernation possible, hook reachable: wait", SLEEP_STEP_UNKNOWN, FREEZE | MEM | DISK,
                  MEM_SLEEP_DEEP, S2IDLE | DEEP, true, true, PLAN_WHEN_WAIT_FOR_HOOK, false, true,
                  { VERDICT_KEEP, VERDICT_KEEP, VERDICT_KEEP } },
                { "unknown, hibernation possible, no hook: assume the worst", SLEEP_STEP_UNKNOWN,
                  FREEZE | MEM | DISK, MEM_SLEEP_DEEP, S2IDLE | DEEP, true, false, PLAN_WHEN_ACT, false, false,
                  { VERDICT_STOP, VERDICT_STOP, VERDICT_REFUSE } },
                { "unknown, suspend only: steered", SLEEP_STEP_UNKNOWN, FREEZE | MEM, MEM_SLEEP_DEEP,
                  S2IDLE | DEEP, false, true, PLAN_WHEN_NOTHING, true, true,
                  { VERDICT_KEEP, VERDICT_KEEP, VERDICT_KEEP } },
                { "hybrid-sleep", SLEEP_STEP_HYBRID_SLEEP, FREEZE | MEM | DISK, MEM_SLEEP_S2IDLE, S2IDLE,
                  true, true, PLAN_WHEN_ACT, false, false, { VERDICT_STOP, VERDICT_STOP, VERDICT_REFUSE } },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                PowerPicture p = picture(cases[i].states, cases[i].selected, cases[i].swap);
                PlanInput in = input(cases[i].step, &p, mix, ELEMENTSOF(mix));
                DomainVerdict v[ELEMENTSOF(mix)];
                Plan plan;

                p.mem_sleep_available = cases[i].available;
                in.hook_reachable = cases[i].hook;
                print_message("case %zu: %s\n", i, cases[i].name);
                plan_make(&in, v, &plan);
                assert_int_equal(plan.when, cases[i].when);
                assert_int_equal(plan.steer_s2idle, cases[i].steer);
                assert_int_equal(plan.keeps, cases[i].keeps);
                for (size_t k = 0; k < 3; k++)
                        assert_string_equal(domain_verdict_to_string(v[k]), domain_verdict_to_string(cases[i].v[k]));
                assert_int_equal(v[3], VERDICT_IGNORE);         /* not protected */
                assert_int_equal(v[4], VERDICT_IGNORE);         /* not running */
                if (cases[i].steer)
                        assert_int_equal(plan.power.mem_sleep_selected, MEM_SLEEP_S2IDLE);
        }
}

/* When in doubt, TDs are lost: no picture of /sys/power means stop. */
static void test_plan_unreadable_power(void **state) {
        PlanInput in = input(SLEEP_STEP_UNKNOWN, NULL, mix, ELEMENTSOF(mix));
        DomainVerdict v[ELEMENTSOF(mix)];
        Plan plan;

        plan_make(&in, v, &plan);
        assert_int_equal(plan.when, PLAN_WHEN_ACT);
        assert_false(plan.keeps);
        assert_false(plan.steer_s2idle);
        assert_int_equal(v[0], VERDICT_STOP);
        assert_int_equal(v[1], VERDICT_STOP);
        assert_int_equal(v[2], VERDICT_REFUSE);
        assert_int_equal(plan.n_stop, 2);
}

/* A drain stops every running TD whatever its action, with its own timeout. */
static void test_plan_drain(void **state) {
        PowerPicture p = picture(FREEZE | MEM, MEM_SLEEP_S2IDLE, false);
        PlanInput in = input(SLEEP_STEP_UNKNOWN, &p, mix, ELEMENTSOF(mix));
        DomainVerdict v[ELEMENTSOF(mix)];
        Plan plan;

        in.mode = PLAN_MODE_DRAIN;
        in.drain_timeout_usec = 5 * USEC_PER_SEC;
        plan_make(&in, v, &plan);
        assert_int_equal(plan.when, PLAN_WHEN_ACT);
        for (size_t k = 0; k < 3; k++)
                assert_int_equal(v[k], VERDICT_STOP);
        assert_int_equal(v[3], VERDICT_IGNORE);
        assert_int_equal(plan_stop_timeout_usec(&in, &mix[0]), 5 * USEC_PER_SEC);
        /* all at once, each 5 s plus 10 s of force-off */
        assert_int_equal(plan.budget_usec, 15 * USEC_PER_SEC);
}

/* Under exclusive, tdsleepd keeps s2idle selected: a suspend keeps TDs. */
static void test_plan_exclusive(void **state) {
        PowerPicture p = picture(FREEZE | MEM, MEM_SLEEP_DEEP, false);
        PlanInput in = input(SLEEP_STEP_SUSPEND, &p, mix, 1);
        DomainVerdict v[1];
        Plan plan;

        p.mem_sleep_available = S2IDLE | DEEP;
        in.kernel_policy = KERNEL_POLICY_EXCLUSIVE;
        plan_make(&in, v, &plan);
        assert_true(plan.keeps);
        assert_false(plan.steer_s2idle);
        assert_int_equal(v[0], VERDICT_KEEP);
}

/* The worst case: longest first onto the lane that frees up first. */
static void test_stop_budget(void **state) {
        static const uint64_t t[] = { 120 * USEC_PER_SEC, 120 * USEC_PER_SEC, 120 * USEC_PER_SEC };
        static const uint64_t u[] = { 10 * USEC_PER_SEC, 30 * USEC_PER_SEC, 20 * USEC_PER_SEC, 40 * USEC_PER_SEC };

        /* tdsleepd.conf(5)'s example: 2 min, ParallelShutdown=2, three TDs that ignore ACPI. */
        assert_int_equal(plan_stop_budget_usec(t, 3, 2, true), 260 * USEC_PER_SEC);
        assert_int_equal(plan_stop_budget_usec(t, 3, 0, true), 130 * USEC_PER_SEC);
        assert_int_equal(plan_stop_budget_usec(t, 3, 1, false), 360 * USEC_PER_SEC);
        assert_int_equal(plan_stop_budget_usec(u, 4, 2, false), 50 * USEC_PER_SEC);
        assert_int_equal(plan_stop_budget_usec(u, 0, 2, true), 0);
}

#define SEC(x) ((uint64_t) ((x) * USEC_PER_SEC))
#define SLOW(n, sec) { .uuid = "00000000-0000-0000-0000-0000000000" #n, .name = "slow" #n, .active = true, \
                       .persistent = true, .protected = true, .action = SLEEP_ACTION_STOP, .timeout_usec = SEC(sec) }

/* Three TDs of 2 min, as in tdsleepd.conf(5)'s example, and a fast one. */
static const PlanDomain slow[] = { SLOW(11, 120), SLOW(12, 120), SLOW(13, 120), SLOW(14, 5) };

/* The budget against the step's limit, and what a prepare does when it does not fit. */
static void test_plan_budget(void **state) {
        static const struct {
                const char *name;
                SleepStep step;
                unsigned states;
                MemSleep selected;
                unsigned available;
                bool swap, force_off;
                unsigned parallel, n;
                uint64_t delay;
                PlanLimit limit;
                bool fits;
                PlanOverBudget over;
                uint64_t budget, window, planned;
                unsigned n_stop;
        } cases[] = {
                { "the man page's example: 2 min, ParallelShutdown=2, InhibitDelayMaxSec=150: cut to 62.5 s",
                  SLEEP_STEP_HIBERNATE, MEM | DISK, MEM_SLEEP_DEEP, DEEP, true, true, 2, 3, SEC(150),
                  PLAN_LIMIT_LOGIND, false, PLAN_OVER_BUDGET_SHORTEN, SEC(260), SEC(62.5), SEC(145), 3 },
                { "the same for a deep suspend with s2idle offered: steered, nothing stopped",
                  SLEEP_STEP_SUSPEND, MEM | DISK, MEM_SLEEP_DEEP, DEEP | S2IDLE, true, true, 2, 3, SEC(150),
                  PLAN_LIMIT_LOGIND, false, PLAN_OVER_BUDGET_S2IDLE, SEC(260), USEC_INFINITY, 0, 0 },
                { "a deep suspend without s2idle: cut", SLEEP_STEP_SUSPEND, MEM, MEM_SLEEP_DEEP, DEEP, false,
                  true, 2, 3, SEC(150), PLAN_LIMIT_LOGIND, false, PLAN_OVER_BUDGET_SHORTEN, SEC(260), SEC(62.5),
                  SEC(145), 3 },
                { "ForceOff=no: nothing can be promised, block", SLEEP_STEP_HIBERNATE, MEM | DISK, MEM_SLEEP_DEEP,
                  DEEP, true, false, 2, 3, SEC(150), PLAN_LIMIT_LOGIND, false, PLAN_OVER_BUDGET_BLOCK, SEC(240),
                  USEC_INFINITY, SEC(240), 3 },
                { "too many for ParallelShutdown=1 and a 25 s delay: not even force-offs fit, block",
                  SLEEP_STEP_HIBERNATE, MEM | DISK, MEM_SLEEP_DEEP, DEEP, true, true, 1, 4, SEC(25),
                  PLAN_LIMIT_LOGIND, false, PLAN_OVER_BUDGET_BLOCK, SEC(405), USEC_INFINITY, SEC(405), 4 },
                { "two TDs one at a time, 27 s: cut to the 1 s floor", SLEEP_STEP_HIBERNATE, MEM | DISK,
                  MEM_SLEEP_DEEP, DEEP, true, true, 1, 2, SEC(27), PLAN_LIMIT_LOGIND, false,
                  PLAN_OVER_BUDGET_SHORTEN, SEC(260), SEC(1), SEC(22), 2 },
                { "26 s: not even 1 s each fits, block", SLEEP_STEP_HIBERNATE, MEM | DISK, MEM_SLEEP_DEEP, DEEP,
                  true, true, 1, 2, SEC(26), PLAN_LIMIT_LOGIND, false, PLAN_OVER_BUDGET_BLOCK, SEC(260),
                  USEC_INFINITY, SEC(260), 2 },
                { "all at once fits 150 s", SLEEP_STEP_HIBERNATE, MEM | DISK, MEM_SLEEP_DEEP, DEEP, true, true,
                  0, 4, SEC(150), PLAN_LIMIT_LOGIND, true, PLAN_OVER_BUDGET_NONE, SEC(130), USEC_INFINITY,
                  SEC(130), 4 },
                { "logind's delay not known: no limit", SLEEP_STEP_HIBERNATE, MEM | DISK, MEM_SLEEP_DEEP, DEEP,
                  true, true, 1, 4, 0, PLAN_LIMIT_NONE, true, PLAN_OVER_BUDGET_NONE, SEC(405), USEC_INFINITY,
                  SEC(405), 4 },
                { "s2idle selected and hibernation possible: the hook names the step, its 85 s count",
                  SLEEP_STEP_HIBERNATE, FREEZE | MEM | DISK, MEM_SLEEP_S2IDLE, DEEP | S2IDLE, true, true, 0, 1,
                  SEC(3600), PLAN_LIMIT_HOOK, false, PLAN_OVER_BUDGET_SHORTEN, SEC(130), SEC(70), SEC(80), 1 },
                { "s2idle selected: nothing to stop fits even logind's default 5 s", SLEEP_STEP_SUSPEND,
                  FREEZE | MEM, MEM_SLEEP_S2IDLE, DEEP | S2IDLE, false, true, 0, 3, SEC(5), PLAN_LIMIT_LOGIND, true,
                  PLAN_OVER_BUDGET_NONE, 0, USEC_INFINITY, 0, 0 },
                { "the fast TD alone fits the hook", SLEEP_STEP_HIBERNATE, FREEZE | MEM | DISK, MEM_SLEEP_S2IDLE,
                  DEEP | S2IDLE, true, true, 0, 0, SEC(3600), PLAN_LIMIT_HOOK, true, PLAN_OVER_BUDGET_NONE, SEC(15),
                  USEC_INFINITY, SEC(15), 1 },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                PowerPicture p = picture(cases[i].states, cases[i].selected, cases[i].swap);
                /* n: the first n slow TDs; 0: only the fast one */
                const PlanDomain *d = cases[i].n == 0 ? &slow[3] : slow;
                PlanInput in = input(cases[i].step, &p, d, cases[i].n == 0 ? 1 : cases[i].n);
                DomainVerdict v[ELEMENTSOF(slow)];
                Plan plan;

                p.mem_sleep_available = cases[i].available;
                in.force_off = cases[i].force_off;
                in.parallel_shutdown = cases[i].parallel;
                in.inhibit_delay_max_usec = cases[i].delay;
                print_message("case %zu: %s\n", i, cases[i].name);
                plan_make(&in, v, &plan);
                assert_string_equal(plan_limit_to_string(plan.limit), plan_limit_to_string(cases[i].limit));
                assert_int_equal(plan.fits, cases[i].fits);
                assert_string_equal(plan_over_budget_to_string(plan.over_budget),
                                    plan_over_budget_to_string(cases[i].over));
                assert_int_equal(plan.budget_usec, cases[i].budget);
                assert_int_equal(plan.window_max_usec, cases[i].window);
                assert_int_equal(plan.planned_usec, cases[i].planned);
                assert_int_equal(plan.n_stop, cases[i].n_stop);
                assert_int_equal(plan.steer_s2idle, cases[i].over == PLAN_OVER_BUDGET_S2IDLE);
                /* What the engine applies: each window cut to the plan's, never lengthened. */
                for (size_t k = 0; k < in.n_domains; k++)
                        assert_int_equal(plan_stop_window_usec(&in, &plan, &d[k]),
                                         MIN(d[k].timeout_usec, cases[i].window));
        }
}

/* A drain waits for no sleep: no limit, whatever logind says. */
static void test_plan_budget_drain(void **state) {
        PowerPicture p = picture(MEM | DISK, MEM_SLEEP_DEEP, true);
        PlanInput in = input(SLEEP_STEP_UNKNOWN, &p, slow, 3);
        DomainVerdict v[3];
        Plan plan;

        in.mode = PLAN_MODE_DRAIN;
        in.parallel_shutdown = 1;
        in.inhibit_delay_max_usec = SEC(5);
        plan_make(&in, v, &plan);
        assert_int_equal(plan.limit, PLAN_LIMIT_NONE);
        assert_true(plan.fits);
        assert_int_equal(plan.over_budget, PLAN_OVER_BUDGET_NONE);
}

/* Stops go out longest window first, ties in table order, then the rest. */
static void test_stop_order(void **state) {
        static const PlanDomain d[] = { SLOW(21, 10), SLOW(22, 100), SLOW(23, 50), SLOW(24, 100), SLOW(25, 70) };
        DomainVerdict v[] = { VERDICT_STOP, VERDICT_STOP, VERDICT_STOP, VERDICT_STOP, VERDICT_KEEP };
        PowerPicture p = picture(MEM, MEM_SLEEP_DEEP, false);
        PlanInput in = input(SLEEP_STEP_SUSPEND, &p, d, ELEMENTSOF(d));
        Plan plan = { .window_max_usec = USEC_INFINITY };
        size_t order[ELEMENTSOF(d)];
        static const size_t want[] = { 1, 3, 2, 0, 4 };

        plan_stop_order(&in, &plan, v, order);
        for (size_t k = 0; k < ELEMENTSOF(d); k++)
                assert_int_equal(order[k], want[k]);
}

/* The start-up check looks at every step the host can take and reports the worst. */
static void test_check_host(void **state) {
        PowerPicture p = picture(MEM | DISK, MEM_SLEEP_DEEP, true);
        PlanInput in = input(SLEEP_STEP_UNKNOWN, &p, slow, 3);
        DomainVerdict v[3];
        SleepStep step;
        Plan plan;

        p.mem_sleep_available = DEEP | S2IDLE;
        in.parallel_shutdown = 2;
        in.inhibit_delay_max_usec = SEC(150);
        /* suspend: steered to s2idle; hibernate: cut. The cut is worse. */
        plan_check_host(&in, v, &plan, &step);
        assert_int_equal(step, SLEEP_STEP_HIBERNATE);
        assert_int_equal(plan.over_budget, PLAN_OVER_BUDGET_SHORTEN);
        /* No swap: only the suspend, steered. */
        p.has_swap = false;
        plan_check_host(&in, v, &plan, &step);
        assert_int_equal(step, SLEEP_STEP_SUSPEND);
        assert_int_equal(plan.over_budget, PLAN_OVER_BUDGET_S2IDLE);
        /* ForceOff=no: blocked. */
        p.has_swap = true;
        in.force_off = false;
        plan_check_host(&in, v, &plan, &step);
        assert_int_equal(plan.over_budget, PLAN_OVER_BUDGET_BLOCK);
        /* Unreadable /sys/power: the unknown step, taken to lose TDs. */
        in.power = NULL;
        plan_check_host(&in, v, &plan, &step);
        assert_int_equal(step, SLEEP_STEP_UNKNOWN);
        assert_int_equal(plan.over_budget, PLAN_OVER_BUDGET_BLOCK);
        /* Nothing possible at all: nothing to check. */
        p = picture(0, NO_SEL, false);
        in.power = &p;
        plan_check_host(&in, v, &plan, &step);
        assert_int_equal(step, _SLEEP_STEP_INVALID);
        assert_true(plan.fits);
}

static void test_string_tables(void **state) {
        static const char *const steps[] = { "suspend", "hibernate", "hybrid-sleep", "suspend-then-hibernate",
                                             "unknown" };

        for (size_t i = 0; i < ELEMENTSOF(steps); i++) {
                assert_int_equal(sleep_step_from_string(steps[i]), (SleepStep) i);
                assert_string_equal(sleep_step_to_string((SleepStep) i), steps[i]);
        }
        assert_int_equal(sleep_step_from_string("sleep"), _SLEEP_STEP_INVALID);
        assert_string_equal(domain_verdict_to_string(VERDICT_IGNORE), "ignore");
        assert_int_equal(domain_verdict_from_string("keep"), VERDICT_KEEP);
        assert_null(domain_verdict_to_string(_VERDICT_MAX));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_step_keeps_tds),
                cmocka_unit_test(test_when_to_act),
                cmocka_unit_test(test_plan_make),
                cmocka_unit_test(test_plan_unreadable_power),
                cmocka_unit_test(test_plan_drain),
                cmocka_unit_test(test_plan_exclusive),
                cmocka_unit_test(test_stop_budget),
                cmocka_unit_test(test_plan_budget),
                cmocka_unit_test(test_plan_budget_drain),
                cmocka_unit_test(test_stop_order),
                cmocka_unit_test(test_check_host),
                cmocka_unit_test(test_string_tables),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
