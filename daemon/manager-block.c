/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The sleep block lock and why it is held: the operator's hold, a stop budget that cannot
 * fit, running TDs whose action is refuse. The lock itself is logind-block.c's. */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "manager.h"
#include "policy.h"

bool manager_domain_refuses(Manager *m, const Domain *d) {
        return domain_policy_is_protected(&d->policy, m->config.protected_kinds) &&
                domain_policy_action(&d->policy, &m->config) == SLEEP_ACTION_REFUSE;
}

/* Why sleep is refused now: the hold, the budget, every running TD that refuses sleep,
 * in one why. NULL in *ret when nothing refuses it. Counts m->refusing. */
static int block_why_build(Manager *m, char **ret) {
        _cleanup_(freep) char *why = NULL;
        Domain **domains;
        size_t n = virt_domains(m->virt, &domains), len = 0;
        FILE *f = open_memstream(&why, &len);
        bool first = true;

        if (!f)
                return -ENOMEM;
        if (m->hold)
                fprintf(f, "Held by the operator: %s", m->hold->reason);
        if (m->budget_block_why)
                fprintf(f, "%sTDs cannot be stopped in time: %s", m->hold ? "; " : "", m->budget_block_why);
        m->refusing = 0;
        for (size_t i = 0; i < n; i++) {
                const Domain *d = domains[i];

                if (!d->active || !manager_domain_refuses(m, d))
                        continue;
                fprintf(f, "%s%s", !first ? ", " : m->hold || m->budget_block_why ?
                        "; trust domains that refuse sleep: " :
                        "Trust domains that do not survive S3/S4 and refuse sleep: ", d->name);
                first = false;
                m->refusing++;
        }
        if (fclose(f) != 0)
                return -ENOMEM;
        *ret = len > 0 ? TAKE_PTR(why) : NULL;
        return 0;
}

void manager_refresh_block_lock(Manager *m) {
        _cleanup_(freep) char *why = NULL;

        if (block_why_build(m, &why) < 0) {
                log_error("Out of memory building the block lock's reason");
                return;
        }
        (void) logind_set_block(m->logind, why);
        manager_metrics_changed(m);     /* the hold, and the lock when it goes */
}
