/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Colour decisions and the machine and error output formats. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "output.h"

static bool use_colors;

void output_init(void) {
        const char *term = getenv("TERM");

        /* https://no-color.org: NO_COLOR set to anything but "" turns colour off. */
        use_colors = isatty(STDOUT_FILENO) > 0 && isempty(getenv("NO_COLOR")) &&
                     !(term && streq(term, "dumb"));
}

bool colors_enabled(void) {
        return use_colors;
}

const char *ansi(const char *code) {
        return use_colors && code ? code : "";
}

const char *ansi_normal(void) {
        return use_colors ? ANSI_NORMAL : "";
}

static bool json_pretty;

void output_set_json_pretty(bool b) {
        json_pretty = b;
}

void output_json(json_object *o) {
        /* NOSLASHESCAPE: paths and the "a/b" in messages stay readable. */
        int flags = (json_pretty ? JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED : JSON_C_TO_STRING_PLAIN) |
                    JSON_C_TO_STRING_NOSLASHESCAPE;

        fputs(o ? json_object_to_json_string_ext(o, flags) : "{}", stdout);
        fputc('\n', stdout);
        fflush(stdout);
}

static int append(char **buf, size_t *len, const char *key, const char *value) {
        size_t add = strlen(key) + 1 + strlen(value) + (*len > 0 ? 1 : 0);
        char *n = realloc(*buf, *len + add + 1);

        if (!n)
                return -ENOMEM;
        sprintf(n + *len, "%s%s=%s", *len > 0 ? " " : "", key, value);
        *buf = n;
        *len += add;
        return 0;
}

char *json_short_text(json_object *o) {
        _cleanup_(freep) char *buf = NULL;
        struct json_object_iterator it, end;
        size_t len = 0;

        if (!o || !json_object_is_type(o, json_type_object))
                return strdup("");
        /* The iterator API, not json_object_object_foreach(): that one is a GNU statement
         * expression, which -Wpedantic rejects under clang. */
        it = json_object_iter_begin(o);
        end = json_object_iter_end(o);
        for (; !json_object_iter_equal(&it, &end); json_object_iter_next(&it)) {
                json_object *value = json_object_iter_peek_value(&it);
                const char *text = json_object_is_type(value, json_type_string) ?
                        json_object_get_string(value) :
                        json_object_to_json_string_ext(value, JSON_C_TO_STRING_PLAIN);

                if (append(&buf, &len, json_object_iter_peek_name(&it), text) < 0)
                        return NULL;
        }
        return buf ? TAKE_PTR(buf) : strdup("");
}

int cli_error(int r, const char *fmt, ...) {
        va_list ap;

        fputs("tdsleepctl: ", stderr);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputc('\n', stderr);
        return r;
}

const char *yes_no(bool b) {
        return b ? "yes" : "no";
}

const char *strdash(const char *s) {
        return isempty(s) ? "-" : s;
}
