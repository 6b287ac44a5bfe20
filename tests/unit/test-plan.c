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

static void test_domain_verdicts(void **state) {
        static const struct {
                SleepStep step;
                bool keeps;
                SleepAction action;
                DomainVerdict verdict;
        } cases[] = {
                { SLEEP_STEP_SUSPEND, true, SLEEP_ACTION_STOP, VERDICT_KEEP },
                { SLEEP_STEP_SUSPEND, true, SLEEP_ACTION_REFUSE, VERDICT_KEEP },
                { SLEEP_STEP_HIBERNATE, true, SLEEP_ACTION_S2IDLE, VERDICT_KEEP },
                { SLEEP_STEP_SUSPEND, false, SLEEP_ACTION_STOP, VERDICT_STOP },
                { SLEEP_STEP_SUSPEND, false, SLEEP_ACTION_S2IDLE, VERDICT_S2IDLE },
                { SLEEP_STEP_SUSPEND, false, SLEEP_ACTION_REFUSE, VERDICT_REFUSE },
                { SLEEP_STEP_UNKNOWN, false, SLEEP_ACTION_S2IDLE, VERDICT_S2IDLE },
                { SLEEP_STEP_UNKNOWN, false, SLEEP_ACTION_STOP, VERDICT_STOP },
                { SLEEP_STEP_HIBERNATE, false, SLEEP_ACTION_STOP, VERDICT_STOP },
                { SLEEP_STEP_HIBERNATE, false, SLEEP_ACTION_S2IDLE, VERDICT_STOP },
                { SLEEP_STEP_HIBERNATE, false, SLEEP_ACTION_REFUSE, VERDICT_REFUSE },
                { SLEEP_STEP_HYBRID_SLEEP, false, SLEEP_ACTION_S2IDLE, VERDICT_STOP },
                { SLEEP_STEP_HYBRID_SLEEP, false, SLEEP_ACTION_REFUSE, VERDICT_REFUSE },
                { SLEEP_STEP_SUSPEND_THEN_HIBERNATE, false, SLEEP_ACTION_S2IDLE, VERDICT_STOP },
                { SLEEP_STEP_SUSPEND_THEN_HIBERNATE, false, SLEEP_ACTION_STOP, VERDICT_STOP },
                { SLEEP_STEP_SUSPEND, false, _SLEEP_ACTION_INVALID, _VERDICT_INVALID },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                print_message("case %zu\n", i);
                assert_int_equal(plan_domain(cases[i].step, cases[i].keeps, cases[i].action), cases[i].verdict);
        }
}

/* The three pieces together, over step x mem_sleep x action, as the cycle uses them. */
static void test_step_x_mem_sleep_x_action(void **state) {
        for (SleepStep step = 0; step < _SLEEP_STEP_MAX; step++)
                for (MemSleep m = 0; m < _MEM_SLEEP_MAX; m++)
                        for (SleepAction a = 0; a < _SLEEP_ACTION_MAX; a++) {
                                PowerPicture p = picture(FREEZE | MEM | DISK, m, true);
                                bool keeps = plan_step_keeps_tds(step, &p);
                                DomainVerdict v = plan_domain(step, keeps, a);

                                if (step == SLEEP_STEP_DRAIN)
                                        assert_int_equal(v, VERDICT_STOP);     /* whatever the action */
                                else if (step == SLEEP_STEP_SUSPEND && m != MEM_SLEEP_DEEP)
                                        assert_int_equal(v, VERDICT_KEEP);
                                else if (a == SLEEP_ACTION_S2IDLE && step != SLEEP_STEP_SUSPEND &&
                                         step != SLEEP_STEP_UNKNOWN)
                                        assert_int_equal(v, VERDICT_STOP);
                                else
                                        assert_string_equal(domain_verdict_to_string(v), sleep_action_to_string(a));
                        }
}

static void test_string_tables(void **state) {
        static const char *const steps[] = { "suspend", "hibernate", "hybrid-sleep", "suspend-then-hibernate",
                                             "unknown", "drain" };

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
                cmocka_unit_test(test_domain_verdicts),
                cmocka_unit_test(test_step_x_mem_sleep_x_action),
                cmocka_unit_test(test_string_tables),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
