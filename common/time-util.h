/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Time spans as systemd writes them (systemd.time(7)): the config's timeouts and
 * tdsleepctl hold --for. */

#include <stdint.h>

/* A systemd-style time span: "90", "1.5", "500ms", "2s", "2 sec", "5min", "2h", "1d",
 * "1w", or several such parts, "1h 30min"; a bare number (alone) is seconds. -EINVAL on
 * syntax, -ERANGE on overflow. */
int parse_time_span(const char *s, uint64_t *ret_usec);

/* Digits only, accumulated with an overflow check: strtoul() would accept "-1",
 * leading spaces and "+5", none of which belong in a time span or a config value.
 * Advances *p past them. -EINVAL without a digit, -ERANGE on overflow. */
int parse_digits(const char **p, uint64_t *ret);

/* CLOCK_REALTIME in microseconds: the timestamps tdsleepd keeps (...USec). */
uint64_t now_realtime_usec(void);
