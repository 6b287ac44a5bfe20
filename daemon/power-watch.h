/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* When may the kernel's sleep picture (power.h) have changed? Each signal of a change
 * calls the handler, so that the picture is read again only then (docs/THREADS.md,
 * "The kernel's picture"):
 *   - inotify on ROOT/sys/power and ROOT/sys/module/kvm_intel/parameters: a label written
 *     into mem_sleep (by anyone, tdsleepd included); below a root that is not "/", on
 *     ROOT/proc too (the tests' plain files);
 *   - POLLPRI on /proc/swaps, which the kernel signals on swapon and swapoff;
 *   - udev's events of the module subsystem: kvm_intel loaded or unloaded (its tdx
 *     parameter comes and goes with it).
 * A source that cannot be set up is skipped (logged at debug): the caller reads the
 * picture again at every new step anyway. */

#include <systemd/sd-event.h>

#include "macros.h"

typedef struct PowerWatch PowerWatch;
typedef void (*PowerWatchHandler)(void *userdata);

/* Watch below root; handler(userdata) on each signal of a change. */
int power_watch_new(sd_event *e, const char *root, PowerWatchHandler handler, void *userdata, PowerWatch **ret);
PowerWatch *power_watch_free(PowerWatch *w);
DEFINE_TRIVIAL_CLEANUP_FUNC(PowerWatch *, power_watch_free)
