/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Logging: to the journal with structured fields under systemd, to stderr otherwise.
 * common/ code logs at debug level at most; decisions are logged by the daemon. */

#include <stdarg.h>
#include <syslog.h>

#include "macros.h"

/* Choose the target: journal if JOURNAL_STREAM/INVOCATION_ID say we run under systemd. */
void log_open(const char *ident);
/* Only messages at or above this syslog level (LOG_ERR..LOG_DEBUG) are written. */
void log_set_max_level(int level);
int log_get_max_level(void);

/* Log MESSAGE built from fmt; extra is NULL or a NULL-terminated list of "KEY=value"
 * journal fields. Returns -abs(error) if error != 0, else 0, so callers can return it. */
int log_internal(int level, int error, const char *const *extra, const char *fmt, ...) _printf_(4, 5);
int log_internalv(int level, int error, const char *const *extra, const char *fmt, va_list ap) _printf_(4, 0);

#define log_full_errno(level, error, ...) log_internal((level), (error), NULL, __VA_ARGS__)
#define log_debug(...)   log_internal(LOG_DEBUG, 0, NULL, __VA_ARGS__)
#define log_info(...)    log_internal(LOG_INFO, 0, NULL, __VA_ARGS__)
#define log_notice(...)  log_internal(LOG_NOTICE, 0, NULL, __VA_ARGS__)
#define log_warning(...) log_internal(LOG_WARNING, 0, NULL, __VA_ARGS__)
#define log_error(...)   log_internal(LOG_ERR, 0, NULL, __VA_ARGS__)
#define log_debug_errno(e, ...)   log_internal(LOG_DEBUG, (e), NULL, __VA_ARGS__)
#define log_warning_errno(e, ...) log_internal(LOG_WARNING, (e), NULL, __VA_ARGS__)
#define log_error_errno(e, ...)   log_internal(LOG_ERR, (e), NULL, __VA_ARGS__)

/* Structured: fields is a NULL-terminated array of "KEY=value" strings. */
#define log_struct(level, fields, ...) log_internal((level), 0, (fields), __VA_ARGS__)
