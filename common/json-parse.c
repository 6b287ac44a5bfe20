/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "json-parse.h"
#include "macros.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(json_tokener *, json_tokener_free)
DEFINE_TRIVIAL_CLEANUP_FUNC(json_object *, json_object_put)

/* json-c 0.18 takes every byte >= 0x80 inside a string for a control character in
 * strict mode: valid UTF-8 such as "é" fails with "invalid string sequence" (or
 * "invalid utf-8 string" with JSON_TOKENER_VALIDATE_UTF8); json-c issues #875, #892.
 * 0.16 (Debian 12) and 0.17 accept it. */
static bool strict_rejects_utf8(void) {
        return (json_c_version_num() >> 8) == 0x0012;
}

static int parse(const char *text, size_t len, int depth, int flags, json_object **ret, size_t *ret_end) {
        _cleanup_(json_tokener_freep) json_tokener *tok = NULL;
        json_object *o;

        tok = json_tokener_new_ex(depth);
        if (!tok)
                return -ENOMEM;
        json_tokener_set_flags(tok, flags);
        o = json_tokener_parse_ex(tok, text, (int) len);
        if (!o || json_tokener_get_error(tok) != json_tokener_success) {
                json_object_put(o);
                return -EBADMSG;
        }
        *ret = o;
        *ret_end = json_tokener_get_parse_end(tok);
        return 0;
}

int json_parse_strict(const char *text, size_t len, int depth, bool validate_utf8,
                      json_object **ret, size_t *ret_end) {
        _cleanup_(freep) char *masked = NULL;
        _cleanup_(json_object_putp) json_object *o = NULL;
        int utf8 = validate_utf8 ? JSON_TOKENER_VALIDATE_UTF8 : 0;
        size_t end, masked_end;
        bool high = false;
        int r;

        if (len > INT32_MAX)
                return -EMSGSIZE;
        for (size_t i = 0; i < len && !high; i++)
                high = (unsigned char) text[i] >= 0x80;
        if (!high || !strict_rejects_utf8())
                return parse(text, len, depth, JSON_TOKENER_STRICT | utf8, ret, ret_end);

        /* The grammar strictly, on a copy with those bytes masked as 'x': only a string
         * may hold them, and outside one a letter is as wrong as they are. The content
         * (and its UTF-8) from the text itself, parsed without JSON_TOKENER_STRICT. */
        masked = malloc(len);
        if (!masked)
                return -ENOMEM;
        for (size_t i = 0; i < len; i++)
                masked[i] = (unsigned char) text[i] >= 0x80 ? 'x' : text[i];
        r = parse(masked, len, depth, JSON_TOKENER_STRICT, &o, &masked_end);
        if (r < 0)
                return r;
        json_object_put(TAKE_PTR(o));
        r = parse(text, len, depth, utf8, &o, &end);
        if (r < 0)
                return r;
        if (end != masked_end)
                return -EBADMSG;
        *ret = TAKE_PTR(o);
        *ret_end = end;
        return 0;
}
