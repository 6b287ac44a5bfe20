/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Table-driven checking of method parameters, like sd_json_dispatch(). */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "varlink-internal.h"

static const VarlinkDispatchField *find_field(const VarlinkDispatchField table[], const char *name) {
        for (const VarlinkDispatchField *f = table; f->name; f++)
                if (streq(f->name, name))
                        return f;
        return NULL;
}

static bool type_ok(const VarlinkDispatchField *f, json_object *v) {
        if (!v)
                return f->flags & VARLINK_DISPATCH_NULLABLE;
        if (f->type == json_type_null || json_object_is_type(v, f->type))
                return true;
        return f->type == json_type_double && json_object_is_type(v, json_type_int);
}

int varlink_json_dispatch(json_object *params, const VarlinkDispatchField table[], void *userdata,
                          const char **ret_bad_field) {
        struct json_object_iterator it, end;
        int r;

        if (params && !json_object_is_type(params, json_type_object)) {
                *ret_bad_field = "parameters";
                return -EINVAL;
        }
        if (params)
                for (it = json_object_iter_begin(params), end = json_object_iter_end(params);
                     !json_object_iter_equal(&it, &end); json_object_iter_next(&it)) {
                        const char *name = json_object_iter_peek_name(&it);
                        json_object *v = json_object_iter_peek_value(&it);
                        const VarlinkDispatchField *f = find_field(table, name);

                        *ret_bad_field = name;
                        if (!f || !type_ok(f, v))
                                return -EINVAL;
                        if (f->callback && v) {   /* null (if nullable) leaves dest alone */
                                r = f->callback(name, v, (uint8_t *) userdata + f->offset);
                                if (r < 0)
                                        return r;
                        }
                }
        for (const VarlinkDispatchField *f = table; f->name; f++)
                if ((f->flags & VARLINK_DISPATCH_MANDATORY) &&
                    !(params && json_object_object_get_ex(params, f->name, NULL))) {
                        *ret_bad_field = f->name;
                        return -EINVAL;
                }
        *ret_bad_field = NULL;
        return 0;
}

int varlink_dispatch(Varlink *v, json_object *params, const VarlinkDispatchField table[], void *userdata) {
        const char *bad = NULL;
        int r;

        r = varlink_json_dispatch(params, table, userdata, &bad);
        if (r >= 0)
                return 0;
        (void) varlink_error_invalid_parameter(v, bad ? bad : "parameters");
        return r;
}

int varlink_dispatch_bool(const char *name, json_object *v, void *dest) {
        if (!json_object_is_type(v, json_type_boolean))
                return -EINVAL;
        *(bool *) dest = json_object_get_boolean(v);
        return 0;
}

static int get_int64(json_object *v, int64_t *ret) {
        if (!json_object_is_type(v, json_type_int))
                return -EINVAL;
        *ret = json_object_get_int64(v);
        /* json-c saturates out-of-range numbers; anything above INT64_MAX is rejected. */
        if (*ret == INT64_MAX && json_object_get_uint64(v) != (uint64_t) INT64_MAX)
                return -ERANGE;
        return 0;
}

int varlink_dispatch_int64(const char *name, json_object *v, void *dest) {
        return get_int64(v, dest);
}

int varlink_dispatch_int(const char *name, json_object *v, void *dest) {
        int64_t i;
        int r = get_int64(v, &i);

        if (r < 0)
                return r;
        if (i < INT_MIN || i > INT_MAX)
                return -ERANGE;
        *(int *) dest = (int) i;
        return 0;
}

int varlink_dispatch_uint64(const char *name, json_object *v, void *dest) {
        if (!json_object_is_type(v, json_type_int))
                return -EINVAL;
        if (json_object_get_int64(v) < 0)
                return -ERANGE;
        *(uint64_t *) dest = json_object_get_uint64(v);
        return 0;
}

int varlink_dispatch_uint32(const char *name, json_object *v, void *dest) {
        uint64_t u;
        int r = varlink_dispatch_uint64(name, v, &u);

        if (r < 0)
                return r;
        if (u > UINT32_MAX)
                return -ERANGE;
        *(uint32_t *) dest = (uint32_t) u;
        return 0;
}

int varlink_dispatch_double(const char *name, json_object *v, void *dest) {
        double d;

        if (!json_object_is_type(v, json_type_double) && !json_object_is_type(v, json_type_int))
                return -EINVAL;
        /* varlink_json_check() refuses NaN and Inf on the wire; objects built in-process may
         * still hold them. */
        d = json_object_get_double(v);
        if (!isfinite(d))
                return -ERANGE;
        *(double *) dest = d;
        return 0;
}

int varlink_dispatch_string(const char *name, json_object *v, void *dest) {
        char **p = dest, *c = NULL;

        if (v && !json_object_is_type(v, json_type_string))
                return -EINVAL;
        if (v && !(c = strdup(json_object_get_string(v))))
                return -ENOMEM;
        free(*p);
        *p = c;
        return 0;
}

int varlink_dispatch_const_string(const char *name, json_object *v, void *dest) {
        if (v && !json_object_is_type(v, json_type_string))
                return -EINVAL;
        *(const char **) dest = v ? json_object_get_string(v) : NULL;
        return 0;
}

int varlink_dispatch_object(const char *name, json_object *v, void *dest) {
        *(json_object **) dest = v;
        return 0;
}
