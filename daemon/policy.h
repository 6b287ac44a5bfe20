/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Pure: which kernel policy for TDX and sleep the running kernel follows. */

#include "config.h"
#include "power.h"

/* KernelPolicy=auto resolved from the picture:
 *  none      TDX is off (no tdx_host_platform flag, kvm_intel tdx not Y);
 *  exclusive TDX is on and hibernation is gone from /sys/power/state: the upstream
 *            kernel that disables S3 and S4 at boot once the BIOS enabled TDX;
 *  runtime   TDX is on and the kernel still offers S4: it refuses S3/S4 only while
 *            TDs exist. */
KernelPolicy policy_detect(const PowerPicture *p);

/* The configured policy, or the detected one for auto. */
KernelPolicy policy_effective(KernelPolicy configured, const PowerPicture *p);
