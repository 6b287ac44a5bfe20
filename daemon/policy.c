/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "policy.h"

KernelPolicy policy_detect(const PowerPicture *p) {
        if (!p->tdx_host_platform && !p->kvm_tdx)
                return KERNEL_POLICY_NONE;
        if (!(p->states & POWER_MASK(POWER_STATE_DISK)))
                return KERNEL_POLICY_EXCLUSIVE;
        return KERNEL_POLICY_RUNTIME;
}

KernelPolicy policy_effective(KernelPolicy configured, const PowerPicture *p) {
        return configured == KERNEL_POLICY_AUTO ? policy_detect(p) : configured;
}
