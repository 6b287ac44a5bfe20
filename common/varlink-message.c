/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "json-parse.h"
#include "varlink-message.h"

#define JSON_DEPTH_MAX 64

void varlink_buffer_done(VarlinkBuffer *b) {
        free(b->data);
        *b = (VarlinkBuffer) { .data = NULL };
}

size_t varlink_buffer_pending(const VarlinkBuffer *b) {
        return b->size - b->start;
}

char *varlink_buffer_reserve(VarlinkBuffer *b, size_t n) {
        /* Move unconsumed bytes to the front first, so the buffer does not creep. */
        if (b->start > 0) {
                memmove(b->data, b->data + b->start, b->size - b->start);
                b->size -= b->start;
                b->start = 0;
        }
        if (n > SIZE_MAX / 2 - b->size)
                return NULL;
        if (b->size + n > b->allocated || !b->data) {
                size_t a = (b->size + n) * 2 + 64;
                char *p = realloc(b->data, a);

                if (!p)
                        return NULL;
                b->data = p;
                b->allocated = a;
        }
        return b->data + b->size;
}

int varlink_buffer_append(VarlinkBuffer *b, const void *p, size_t n) {
        char *dest = varlink_buffer_reserve(b, n);

        if (!dest)
                return -ENOMEM;
        if (n > 0)
                memcpy(dest, p, n);
        b->size += n;
        return 0;
}

void varlink_buffer_consume(VarlinkBuffer *b, size_t n) {
        if (n > varlink_buffer_pending(b))
                n = varlink_buffer_pending(b);
        b->start += n;
        b->scanned = b->scanned > n ? b->scanned - n : 0;
        if (b->start == b->size)
                b->start = b->size = b->scanned = 0;
}

int varlink_buffer_next(VarlinkBuffer *b, size_t max, const char **ret, size_t *ret_len) {
        size_t pending = varlink_buffer_pending(b);
        const char *base, *nul;

        if (pending == 0)
                return 0;
        base = b->data + b->start;
        nul = pending > b->scanned ? memchr(base + b->scanned, 0, pending - b->scanned) : NULL;
        if (!nul) {
                b->scanned = pending;
                return pending > max ? -EMSGSIZE : 0;
        }
        if ((size_t) (nul - base) > max)
                return -EMSGSIZE;
        b->scanned = 0;
        *ret = base;
        *ret_len = (size_t) (nul - base);
        return 1;
}

int varlink_message_parse(const char *text, size_t len, json_object **ret) {
        _cleanup_(json_object_putp) json_object *o = NULL;
        size_t end;
        int r;

        if (len > INT32_MAX)
                return -EMSGSIZE;
        if (varlink_json_check(text, len) < 0)
                return -EBADMSG;
        r = json_parse_strict(text, len, JSON_DEPTH_MAX, true, &o, &end);
        if (r < 0)
                return r;
        /* Only whitespace may follow the object. */
        for (size_t i = end; i < len; i++)
                if (!strchr(" \t\r\n", text[i]))
                        return -EBADMSG;
        if (!json_object_is_type(o, json_type_object))
                return -EBADMSG;
        *ret = TAKE_PTR(o);
        return 0;
}

/* Look key up: 0 absent (or null), 1 present with type t, -EBADMSG present with another. */
static int get_field(json_object *msg, const char *key, json_type t, json_object **ret) {
        json_object *v = NULL;

        if (!json_object_object_get_ex(msg, key, &v) || !v)
                return 0;
        if (!json_object_is_type(v, t))
                return -EBADMSG;
        *ret = v;
        return 1;
}

static int get_bool_field(json_object *msg, const char *key, bool *ret) {
        json_object *v = NULL;
        int r = get_field(msg, key, json_type_boolean, &v);

        *ret = r > 0 && json_object_get_boolean(v);
        return r < 0 ? r : 0;
}

static bool is_alnum(char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* One dot-separated part of an interface name: [A-Za-z0-9]([-]*[A-Za-z0-9])*, the first
 * part starting with a letter. Returns its length, 0 if invalid. */
static size_t interface_part(const char *s, bool first) {
        size_t n = 0;

        if (!is_alnum(s[0]) || (first && s[0] >= '0' && s[0] <= '9'))
                return 0;
        while (is_alnum(s[n]) || s[n] == '-')
                n++;
        return s[n - 1] == '-' ? 0 : n;
}

bool varlink_method_name_is_valid(const char *name) {
        const char *dot = strrchr(name, '.');
        size_t parts = 0;

        if (!dot || !(dot[1] >= 'A' && dot[1] <= 'Z'))
                return false;
        for (const char *m = dot + 2; *m; m++)
                if (!is_alnum(*m))
                        return false;
        for (const char *p = name;; p++) {
                size_t n = interface_part(p, parts == 0);

                if (n == 0)
                        return false;
                parts++;
                p += n;
                if (p == dot)
                        return parts >= 2;
                if (*p != '.')
                        return false;
        }
}

/* Only the keys the spec defines for a call; "upgrade" is not supported. */
static int call_check_keys(json_object *msg, const char **ret_bad_field) {
        static const char *const known[] = { "method", "parameters", "more", "oneway", "upgrade" };
        struct json_object_iterator it = json_object_iter_begin(msg), end = json_object_iter_end(msg);
        json_object *upgrade = NULL;

        for (; !json_object_iter_equal(&it, &end); json_object_iter_next(&it)) {
                const char *key = json_object_iter_peek_name(&it);
                bool found = false;

                for (size_t i = 0; i < ELEMENTSOF(known); i++)
                        found = found || streq(key, known[i]);
                if (!found) {
                        *ret_bad_field = key;
                        return -EBADMSG;
                }
        }
        *ret_bad_field = "upgrade";
        if (json_object_object_get_ex(msg, "upgrade", &upgrade) && upgrade &&
            (!json_object_is_type(upgrade, json_type_boolean) || json_object_get_boolean(upgrade)))
                return -EBADMSG;
        return 0;
}

int varlink_call_parse(json_object *msg, VarlinkCallInfo *ret, const char **ret_bad_field) {
        json_object *method = NULL, *params = NULL;
        bool more, oneway;

        *ret_bad_field = "message";
        if (!json_object_is_type(msg, json_type_object))
                return -EBADMSG;
        if (call_check_keys(msg, ret_bad_field) < 0)
                return -EBADMSG;
        *ret_bad_field = "method";
        if (get_field(msg, "method", json_type_string, &method) <= 0 ||
            !varlink_method_name_is_valid(json_object_get_string(method)))
                return -EBADMSG;
        *ret_bad_field = "parameters";
        if (get_field(msg, "parameters", json_type_object, &params) < 0)
                return -EBADMSG;
        *ret_bad_field = "more";
        if (get_bool_field(msg, "more", &more) < 0)
                return -EBADMSG;
        *ret_bad_field = "oneway";
        if (get_bool_field(msg, "oneway", &oneway) < 0 || (more && oneway))
                return -EBADMSG;
        if (!params) {
                /* Absent parameters: hand out an empty object, added to msg so it lives as
                 * long as the message. */
                params = json_object_new_object();
                if (!params || json_object_object_add(msg, "parameters", params) < 0) {
                        json_object_put(params);
                        return -ENOMEM;
                }
        }
        *ret_bad_field = NULL;
        *ret = (VarlinkCallInfo) {
                .method = json_object_get_string(method),
                .parameters = params,
                .flags = (more ? VARLINK_METHOD_MORE : 0) | (oneway ? VARLINK_METHOD_ONEWAY : 0),
        };
        return 0;
}

int varlink_reply_parse(json_object *msg, VarlinkReplyInfo *ret) {
        json_object *error = NULL, *params = NULL;
        bool continues;

        if (!json_object_is_type(msg, json_type_object))
                return -EBADMSG;
        if (get_field(msg, "error", json_type_string, &error) < 0 ||
            get_field(msg, "parameters", json_type_object, &params) < 0 ||
            get_bool_field(msg, "continues", &continues) < 0)
                return -EBADMSG;
        if (error && continues)
                return -EBADMSG;
        *ret = (VarlinkReplyInfo) {
                .error = error ? json_object_get_string(error) : NULL,
                .parameters = params,
                .continues = continues,
        };
        return 0;
}

/* Add key -> parameters (a new reference), or {} for NULL. */
static int add_parameters(json_object *msg, json_object *parameters) {
        json_object *p = parameters ? json_object_get(parameters) : json_object_new_object();

        if (!p || json_object_object_add(msg, "parameters", p) < 0) {
                json_object_put(p);
                return -ENOMEM;
        }
        return 0;
}

json_object *varlink_call_build(const char *method, json_object *parameters, VarlinkMethodFlags flags) {
        _cleanup_(json_object_putp) json_object *m = json_object_new_object();

        if (!m ||
            json_object_object_add(m, "method", json_object_new_string(method)) < 0 ||
            add_parameters(m, parameters) < 0)
                return NULL;
        if ((flags & VARLINK_METHOD_MORE) &&
            json_object_object_add(m, "more", json_object_new_boolean(1)) < 0)
                return NULL;
        if ((flags & VARLINK_METHOD_ONEWAY) &&
            json_object_object_add(m, "oneway", json_object_new_boolean(1)) < 0)
                return NULL;
        return TAKE_PTR(m);
}

json_object *varlink_reply_build(const char *error_id, json_object *parameters, bool continues) {
        _cleanup_(json_object_putp) json_object *m = json_object_new_object();

        if (!m)
                return NULL;
        if (error_id && json_object_object_add(m, "error", json_object_new_string(error_id)) < 0)
                return NULL;
        if (add_parameters(m, parameters) < 0)
                return NULL;
        if (continues && json_object_object_add(m, "continues", json_object_new_boolean(1)) < 0)
                return NULL;
        return TAKE_PTR(m);
}

int varlink_buffer_append_message(VarlinkBuffer *b, json_object *msg) {
        const char *text;
        size_t len = 0;
        int r;

        text = json_object_to_json_string_length(msg, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);
        if (!text)
                return -ENOMEM;
        r = varlink_buffer_append(b, text, len);
        if (r < 0)
                return r;
        return varlink_buffer_append(b, "", 1);
}
