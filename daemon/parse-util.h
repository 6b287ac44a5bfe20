/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Small parsers, a bounded file reader and the error-message helper shared by config,
 * classify, state, power and cpus. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "macros.h"
#include "time-util.h"      /* parse_time_span() */

/* The upper bound for every configurable timeout. */
#define TIMEOUT_MAX_USEC ((uint64_t) 3600 * 1000000ULL)

/* "yes"/"no"/"true"/"false"/"on"/"off"/"1"/"0" (any case) -> 1 or 0; -EINVAL otherwise. */
int parse_boolean(const char *s);

/* Decimal integer without sign, spaces or trailing text, at most max. -EINVAL on
 * syntax, -ERANGE above max. */
int parse_unsigned(const char *s, unsigned max, unsigned *ret);


/* parse_time_span() limited to 0 < value <= TIMEOUT_MAX_USEC (else -ERANGE). */
int parse_timeout(const char *s, uint64_t *ret_usec);

/* Read all of path into a NUL-terminated buffer. -EFBIG if it holds more than max bytes.
 * ret_size (optional) gets the byte count, which may exceed strlen() if it holds NULs. */
int read_full_file(const char *path, size_t max, char **ret, size_t *ret_size);

/* Set *ret_error (when given) to the formatted message, such as "PATH: what is wrong",
 * and return r: "return error_message(ret_error, -EINVAL, ...)". */
int error_message(char **ret_error, int r, const char *fmt, ...) _printf_(3, 4);
