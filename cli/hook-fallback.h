/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* What the sleep hook does when tdsleepd cannot be reached: whatever keeps TDs safe. */

/* For a suspend with s2idle available, select s2idle in /sys/power/mem_sleep (below
 * $TDSLEEP_SYSFS_ROOT, for tests) so that running TDs survive it; otherwise say loudly
 * that TDs may be lost. Logs at crit to the journal with a MESSAGE_ID, and to stderr.
 * Returns -EHOSTDOWN either way (the exit status says tdsleepd was unreachable). */
int hook_fallback(const char *step);
