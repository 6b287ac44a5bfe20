/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Strict JSON parsing that works around json-c 0.18 (Debian 13) rejecting UTF-8. */

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>

/* Parse one JSON value at the start of text[0..len) with JSON_TOKENER_STRICT (and, if
 * validate_utf8, JSON_TOKENER_VALIDATE_UTF8), nesting at most depth. On success returns
 * 0, the value in *ret and the offset just after it in *ret_end. -EBADMSG: not JSON,
 * -EMSGSIZE: len beyond INT32_MAX, -ENOMEM. */
int json_parse_strict(const char *text, size_t len, int depth, bool validate_utf8,
                      json_object **ret, size_t *ret_end);
