/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Pure: a libvirt domain XML document -> what kind of guest it is and its per-domain policy. */

#include <stdbool.h>
#include <stdint.h>

#include "config.h"

#define TDSLEEP_METADATA_NS "urn:tdsleep:domain:1"

typedef struct DomainPolicy {
        DomainKind kind;                /* from <launchSecurity type=...> */
        int trust_domain;               /* metadata trust-domain=: -1 unset, 0 no, 1 yes */
        SleepAction on_deep_sleep;      /* metadata on-deep-sleep=, _SLEEP_ACTION_INVALID if unset */
        uint64_t shutdown_timeout_usec; /* metadata shutdown-timeout=, 0 if unset */
} DomainPolicy;

/* Parse xml (NUL-terminated). Returns 0, or -EINVAL for malformed XML or metadata
 * with a bad value (then *ret describes the launchSecurity part only, and
 * *ret_error, if given, says what is wrong; caller frees). */
int classify_domain_xml(const char *xml, DomainPolicy *ret, char **ret_error);

/* Is this a domain that does not survive S3/S4 and that tdsleepd must act for? */
bool domain_policy_is_protected(const DomainPolicy *p, unsigned protected_kinds);

/* The action for this domain: its metadata if set, else the config default. */
SleepAction domain_policy_action(const DomainPolicy *p, const Config *c);

/* The graceful-stop timeout for this domain: its metadata if set, else the config's. */
uint64_t domain_policy_timeout_usec(const DomainPolicy *p, const Config *c);
