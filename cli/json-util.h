/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Lenient field access on reply objects: a missing field, JSON null and a field of the
 * wrong type all read as "absent", so a daemon that adds or drops a nullable field never
 * crashes the CLI; the human output shows absent values as "-". */

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Room for any enum value of the interface. */
#define ENUM_TEXT_MAX 64

/* The string field key, or NULL. */
const char *json_get_string(json_object *o, const char *key);
/* The enum field key as the journal, the configuration and systemd spell it: "_" in the
 * IDL's values read "-" ("hybrid_sleep" -> "hybrid-sleep"), in buf. NULL when absent. */
const char *json_get_enum(json_object *o, const char *key, char *buf, size_t size);
/* The same for an enum value v (NULL stays NULL). */
const char *enum_text(const char *v, char *buf, size_t size);
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
