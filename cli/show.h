/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The human renderings of replies: pure formatting, no I/O on the socket. */

#include <json-c/json.h>
#include <stdbool.h>

/* GetStatus's status: a key/value block, the cycle's TDs, the CPU packages. */
int show_status(json_object *status);
/* ListDomains's domains: NAME UUID STATE KIND PROTECTED ACTION TIMEOUT, then any
 * policy errors. */
int show_domains(json_object *domains);
/* Plan's reply: operation, steps, whether TDs survive, each domain's verdict. */
int show_plan(json_object *reply);
/* Plan's budgets: per step, the worst case against logind's or the hook's limit, and
 * what a prepare does when it does not fit (show-budget.c). */
void show_plan_budgets(json_object *reply, int key_width);
/* One Event on one line ("phase: ready", "domain: vm1 stopping", ...); with_time
 * prefixes the local time (for monitor). */
void show_event(json_object *event, bool with_time);
/* The colour for a phase, cycle-domain state or verdict (NULL: none). */
const char *state_color(const char *state);
