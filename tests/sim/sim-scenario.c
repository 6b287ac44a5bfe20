/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <stdlib.h>

#include "log.h"
#include "sim-scenario.h"

Sim *scenario_new(void **state, unsigned n, uint64_t seed) {
        Sim *s = calloc(1, sizeof(Sim));
        SimConfig cfg;

        assert_non_null(s);
        *state = s;
        s->verbose = getenv("SIM_VERBOSE") != NULL;
        sim_source_seed(&s->src, seed);
        sim_config_default(&cfg, n);
        sim_init(s, &cfg);
        return s;
}

void scenario_finish(Sim *s) {
        sim_settle(s);
        assert_true(sim_ok(s));
}

int scenario_teardown(void **state) {
        Sim *s = *state;

        if (s) {
                sim_done(s);
                free(s);
        }
        return 0;
}

CyclePhase scenario_phase(const Sim *s) {
        assert_non_null(s->cycle);
        return cycle_phase(s->cycle);
}

void scenario_run_into_sleep(Sim *s, uint64_t limit) {
        sim_run(s, limit);
        assert_int_equal(s->host, SIM_HOST_ASLEEP);
}

void scenario_sleep_and_wake(Sim *s, SleepStep step) {
        sim_request_sleep(s, step);
        scenario_run_into_sleep(s, 120 * SEC);
        sim_wake(s);
}

unsigned scenario_in_flight(const Sim *s, SimOp op) {
        unsigned n = 0;

        for (unsigned i = 0; i < s->n_effects; i++)
                n += s->effects[i].op == op && !s->effects[i].landed;
        return n;
}

void scenario_log_setup(void) {
        log_set_max_level(getenv("SIM_VERBOSE") ? LOG_DEBUG : -1);
}
