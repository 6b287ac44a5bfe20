/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Plan's stop budget, per step, against logind's (or the sleep hook's) limit. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "json-util.h"
#include "output.h"
#include "show.h"

static double seconds(json_object *o, const char *key) {
        return (double) json_get_int(o, key, 0) / 1e6;
}

static void show_limit(json_object *b) {
        const char *limit = json_get_string(b, "limit");
        bool fits = json_get_bool(b, "fits", true);

        if (!limit || streq(limit, "none"))
                return;
        printf("; %s waits %.0fs: %s%s%s", streq(limit, "hook") ? "the sleep hook" : "logind",
               seconds(b, "limitUSec"), ansi(fits ? ANSI_GREEN : ANSI_YELLOW), fits ? "fits" : "does not fit",
               ansi_normal());
}

/* What a prepare does about it, on its own line under the step. */
static void show_over_budget(json_object *b, int key_width) {
        const char *over = json_get_string(b, "overBudget");

        if (!over || streq(over, "none"))
                return;
        printf("%*s  ", key_width, "");
        if (streq(over, "s2idle"))
                printf("-> the suspend is steered to s2idle instead: no TD is stopped\n");
        else if (streq(over, "shorten"))
                printf("-> every graceful window is cut to %.1fs: every TD is down within %.0fs\n",
                       seconds(b, "stopWindowMaxUSec"), seconds(b, "plannedUSec"));
        else
                printf("%s-> cannot fit: the TDs are stopped as configured, and further sleeps are refused%s\n",
                       ansi(ANSI_RED), ansi_normal());
}

void show_plan_budgets(json_object *reply, int key_width) {
        json_object *budgets = json_get_array(reply, "budgets");
        size_t n = budgets ? json_object_array_length(budgets) : 0;
        bool first = true;

        for (size_t i = 0; i < n; i++) {
                json_object *b = json_object_array_get_idx(budgets, i);
                int64_t stops = json_get_int(b, "stops", 0);

                if (stops == 0 && json_get_bool(b, "fits", true))
                        continue;
                printf("%*s%s %s: %" PRIi64 " TD%s, up to %.0fs", key_width, first ? "Stop budget" : "",
                       first ? ":" : " ", strdash(json_get_string(b, "step")), stops, stops == 1 ? "" : "s",
                       seconds(b, "stopBudgetUSec"));
                show_limit(b);
                putchar('\n');
                show_over_budget(b, key_width);
                first = false;
        }
}
