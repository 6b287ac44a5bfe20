/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Lenient field access on reply objects: a missing field, JSON null and a field of the
 * wrong type all read as "absent", so a daemon that adds or drops a nullable field never
 * crashes the CLI; the human output shows absent values as "-". */

#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>

/* The string field key, or NULL. */
const char *json_get_string(json_object *o, const char *key);
/* The boolean field key, or def. */
bool json_get_bool(json_object *o, const char *key, bool def);
/* The integer field key, or def. */
int64_t json_get_int(json_object *o, const char *key, int64_t def);
/* The number (int or double) field key into *ret; false when absent. */
bool json_get_number(json_object *o, const char *key, double *ret);
/* The array field key, or NULL. */
json_object *json_get_array(json_object *o, const char *key);
/* The object field key, or NULL. */
json_object *json_get_object(json_object *o, const char *key);
