/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Typed, lenient reads of reply fields. */
#include <stdio.h>

#include "json-util.h"

static json_object *get_typed(json_object *o, const char *key, json_type type) {
        json_object *v = NULL;

        if (!o || !json_object_is_type(o, json_type_object))
                return NULL;
        if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, type))
                return NULL;
        return v;
}

const char *json_get_string(json_object *o, const char *key) {
        json_object *v = get_typed(o, key, json_type_string);

        return v ? json_object_get_string(v) : NULL;
}

bool json_get_bool(json_object *o, const char *key, bool def) {
        json_object *v = get_typed(o, key, json_type_boolean);

        return v ? json_object_get_boolean(v) : def;
}

int64_t json_get_int(json_object *o, const char *key, int64_t def) {
        json_object *v = get_typed(o, key, json_type_int);

        return v ? json_object_get_int64(v) : def;
}

bool json_get_number(json_object *o, const char *key, double *ret) {
        json_object *v = get_typed(o, key, json_type_double);

        if (!v)
                v = get_typed(o, key, json_type_int);
        if (!v)
                return false;
        *ret = json_object_get_double(v);
        return true;
}

json_object *json_get_array(json_object *o, const char *key) {
        return get_typed(o, key, json_type_array);
}

json_object *json_get_object(json_object *o, const char *key) {
        return get_typed(o, key, json_type_object);
}

const char *json_get_enum(json_object *o, const char *key, char *buf, size_t size) {
        return enum_text(json_get_string(o, key), buf, size);
}

const char *enum_text(const char *v, char *buf, size_t size) {
        if (!v || size == 0)
                return v;
        snprintf(buf, size, "%s", v);
        for (char *p = buf; *p; p++)
                if (*p == '_')
                        *p = '-';
        return buf;
}
