/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Time spans as systemd writes them (systemd.time(7)): the config's timeouts and
 * tdsleepctl hold --for. */

#include <stdint.h>

/* A systemd-style time span: "90", "1.5", "500ms", "2s", "2 sec", "5min", "2h", "1d",
 * "1w", or several such parts, "1h 30min"; a bare number (alone) is seconds. -EINVAL on
 * syntax, -ERANGE on overflow. */
int parse_time_span(const char *s, uint64_t *ret_usec);

/* CLOCK_REALTIME in microseconds: the timestamps tdsleepd keeps (...USec). */
uint64_t now_realtime_usec(void);
