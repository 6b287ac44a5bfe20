/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Checking and escaping text that comes from callers before it is kept or logged. */

#include <stdbool.h>
#include <stddef.h>

/* Is s (valid UTF-8, as varlink_json_check() guarantees) 1..max bytes of printable text:
 * no C0 or C1 control characters, no DEL? */
bool text_is_printable(const char *s, size_t max);
/* s (valid UTF-8) with '\\', '"' and control characters escaped C-style (\n, \x1b,
 * \xc2\x9b): safe for one log line and unambiguous; other UTF-8 is kept. NULL on OOM. */
char *text_escape(const char *s);
