/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The seeded sweep: K seeds x M steps of random worlds against the real cycle engine.
 *
 *   sim-sweep [--seed N] [--seeds K] [--steps M] [-v]   seeds N..N+K-1 (default 1, 2000, 400)
 *   sim-sweep --input FILE [-v]                         replay a fuzz-cycle input
 *   --keep-going                                        every seed; one line per failing seed
 *   --mask-late-stops                                   triage: hide FOUND.md #1 to see past it
 *
 * Exit 0 when every invariant held; 1 with the replay line of the first failing seed. */

#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "log.h"
#include "parse-util.h"
#include "sim.h"

static int replay_input(const char *path, bool verbose) {
        _cleanup_(freep) char *data = NULL;
        size_t size = 0;
        int r;

        r = read_full_file(path, 1024 * 1024, &data, &size);
        if (r < 0) {
                fprintf(stderr, "%s: %s\n", path, STRERROR(r));
                return 2;
        }
        if (sim_run_bytes((const uint8_t *) data, size, path, verbose, false)) {
                printf("%s: every invariant held\n", path);
                return 0;
        }
        return 1;
}

int main(int argc, char *argv[]) {
        static const struct option options[] = {
                { "seed", required_argument, NULL, 's' },
                { "seeds", required_argument, NULL, 'k' },
                { "steps", required_argument, NULL, 'm' },
                { "input", required_argument, NULL, 'i' },
                { "verbose", no_argument, NULL, 'v' },
                { "mask-late-stops", no_argument, NULL, 'L' },
                { "keep-going", no_argument, NULL, 'K' },
                { NULL, 0, NULL, 0 },
        };
        uint64_t seed = 1, seeds = 2000, steps = 400, ran;
        const char *input = NULL;
        bool verbose = false, seed_given = false, seeds_given = false, mask = false, keep_going = false;
        char violation[768];
        unsigned failed = 0;
        struct timespec t0, t1;
        int c;

        while ((c = getopt_long(argc, argv, "v", options, NULL)) >= 0)
                switch (c) {
                case 's':
                        seed = strtoull(optarg, NULL, 0);
                        seed_given = true;
                        break;
                case 'k':
                        seeds = strtoull(optarg, NULL, 0);
                        seeds_given = true;
                        break;
                case 'm':
                        steps = strtoull(optarg, NULL, 0);
                        break;
                case 'i':
                        input = optarg;
                        break;
                case 'v':
                        verbose = true;
                        break;
                case 'L':
                        mask = true;
                        break;
                case 'K':
                        keep_going = true;
                        break;
                default:
                        return 2;
                }
        if (seed_given && !seeds_given)
                seeds = 1;      /* --seed N alone replays one seed */
        log_set_max_level(verbose ? LOG_DEBUG : -1);
        if (input)
                return replay_input(input, verbose);

        clock_gettime(CLOCK_MONOTONIC, &t0);
        for (ran = 0; ran < seeds; ran++) {
                unsigned flags = (verbose ? SIM_RUN_VERBOSE : 0) | (mask ? SIM_RUN_MASK_LATE_STOPS : 0) |
                        (keep_going ? SIM_RUN_QUIET : 0);

                if (sim_run_seed(seed + ran, (unsigned) steps, flags, violation, sizeof(violation)))
                        continue;
                failed++;
                if (keep_going) {
                        printf("seed %" PRIu64 ": %s\n", seed + ran, violation);
                        continue;
                }
                ran++;
                break;  /* the first failure, with its trace and replay line, is what matters */
        }
        clock_gettime(CLOCK_MONOTONIC, &t1);
        printf("%s: %" PRIu64 " seed(s) from %" PRIu64 " x %" PRIu64 " steps in %.2f s, %u failed\n",
               failed ? "FAILED" : "ok", ran, seed, steps,
               (double) (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9, failed);
        return failed ? 1 : 0;
}
