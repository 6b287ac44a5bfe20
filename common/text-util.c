/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "text-util.h"

bool text_is_printable(const char *s, size_t max) {
        size_t n = s ? strlen(s) : 0;

        if (n == 0 || n > max)
                return false;
        for (const unsigned char *u = (const unsigned char *) s; *u; u++) {
                if (*u < 0x20 || *u == 0x7F)
                        return false;
                /* U+0080..U+009F (C1 controls, e.g. CSI) are C2 80..C2 9F in UTF-8. */
                if (*u == 0xC2 && u[1] >= 0x80 && u[1] <= 0x9F)
                        return false;
        }
        return true;
}

char *text_escape(const char *s) {
        size_t n = strlen(s);
        char *out = malloc(n * 4 + 1), *p = out;

        if (!out)
                return NULL;
        for (const unsigned char *u = (const unsigned char *) s; *u; u++) {
                if (*u == '\\' || *u == '"') {
                        *p++ = '\\';
                        *p++ = (char) *u;
                } else if (*u == '\n') {
                        *p++ = '\\';
                        *p++ = 'n';
                } else if (*u < 0x20 || *u == 0x7F || (*u == 0xC2 && u[1] >= 0x80 && u[1] <= 0x9F)) {
                        p += sprintf(p, "\\x%02x", *u);
                        if (*u == 0xC2)
                                p += sprintf(p, "\\x%02x", *++u);
                } else
                        *p++ = (char) *u;
        }
        *p = '\0';
        return out;
}
