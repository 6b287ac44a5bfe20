/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The sleep block lock and why it is held: the operator's hold, a stop budget that cannot
 * fit, running TDs whose action is refuse. The lock itself is logind-block.c's, kept in
 * systemd's fd store; a lock a crashed run left there is adopted at start, and this file
 * keeps it until the new run knows everything the lock depends on. The invariant: while
 * tdsleepd is restarting, a block lock taken before the crash stays until the new run
 * decides. */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "manager.h"
#include "policy.h"

/* The why of a block lock taken again before the decision, when logind forgot the kept
 * one (it restarted while tdsleepd was down). */
#define UNDECIDED_WHY "tdsleepd restarted with sleep blocked and keeps it blocked until it has decided again"

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
        /* Not decided yet: the kept lock stays as it is, whatever this partial view says
         * (libvirt's table may not be read yet). A lock that logind forgot meanwhile (it
         * restarted while tdsleepd was down) is taken again until the decision. Only a
         * Hold() waiting for logind's answer takes its lock at once. */
        if (m->block_lock_undecided && !m->hold_request) {
                if (!logind_block_why(m->logind) && !logind_block_pending(m->logind))
                        (void) logind_set_block(m->logind, why ? why : UNDECIDED_WHY);
        } else
                (void) logind_set_block(m->logind, why);
        manager_metrics_changed(m);     /* the hold, and the lock when it goes */
}

void manager_decide_block_lock(Manager *m) {
        _cleanup_(freep) char *why = NULL;
        const char *kept;

        /* The kept lock's why is logind's to tell: wait for its list (the presence
         * callback that follows checks the budget again). */
        if (!m->block_lock_undecided || !logind_locks_known(m->logind))
                return;
        m->block_lock_undecided = false;
        kept = logind_block_adopted(m->logind) ? logind_block_why(m->logind) : NULL;
        if (block_why_build(m, &why) < 0)
                why = NULL;     /* said by the refresh below */
        else if (!why)
                log_info("Decided after the restart, with the hold, libvirt's TDs and the stop budget at hand: "
                         "nothing refuses sleep now; releasing the sleep block lock kept across the restart");
        else if (kept && streq(kept, why))
                log_info("Decided after the restart: keeping the sleep block lock kept across the restart: %s", why);
        else
                log_info("Decided after the restart: sleep stays blocked, now because: %s", why);
        manager_refresh_block_lock(m);
}

void manager_block_lock_libvirt_away(Manager *m) {
        if (!m->block_lock_undecided || m->block_lock_libvirt_away_told)
                return;
        m->block_lock_libvirt_away_told = true;
        log_warning("libvirt is not there: the sleep block lock kept across the restart stays until tdsleepd has "
                    "seen libvirt's TDs (a TD runs on without libvirtd, and a running tdsleepd keeps sleep blocked "
                    "on its last view of them too). To drop the kept lock: 'systemctl stop tdsleepd' (a stop "
                    "empties systemd's fd store; a restart keeps it), then start it again");
}
