/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A strict pass over a message's JSON text before json-c parses it.
 *
 * Hand-written because json-c cannot do these checks, and each gap reached logind or a
 * log line (issue 10):
 *  - json-c keeps the last of duplicate keys silently and offers no hook to notice them;
 *  - it accepts NaN and Infinity even with JSON_TOKENER_STRICT, and turns 1e999 into inf;
 *  - JSON_TOKENER_VALIDATE_UTF8 lets overlong forms (C0 AF) and noncharacters through,
 *    and a lone surrogate escape ("\ud800") is silently replaced by U+FFFD;
 *  - "\u0000" is decoded into the string, which every C consumer then cuts short.
 * sd-bus rejects what we reject here (bus_utf8.c), so such strings must never get as far
 * as a D-Bus call. The grammar is RFC 8259's; json-c still builds the objects. */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "varlink-message.h"

#define DEPTH_MAX 64

typedef struct Scan {
        const char *p, *end;
        unsigned depth;
} Scan;

typedef struct Key {
        char *s;
        size_t n;
} Key;

static void skip_ws(Scan *s) {
        while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
                s->p++;
}

/* U+FDD0..U+FDEF and the last two code points of every plane are noncharacters. */
static bool is_nonchar(uint32_t c) {
        return (c >= 0xFDD0 && c <= 0xFDEF) || (c & 0xFFFE) == 0xFFFE;
}

static bool is_cont(unsigned char c) {
        return (c & 0xC0) == 0x80;
}

/* One UTF-8 sequence at s->p (first byte >= 0x80), shortest form only (RFC 3629 table). */
static int scan_utf8(Scan *s, uint32_t *ret) {
        const unsigned char *u = (const unsigned char *) s->p;
        size_t avail = (size_t) (s->end - s->p), n;
        unsigned char lo = 0x80, hi = 0xBF;
        uint32_t c;

        if (u[0] >= 0xC2 && u[0] <= 0xDF)
                n = 2, c = u[0] & 0x1F;
        else if (u[0] >= 0xE0 && u[0] <= 0xEF) {
                n = 3, c = u[0] & 0x0F;
                if (u[0] == 0xE0)
                        lo = 0xA0;              /* overlong */
                else if (u[0] == 0xED)
                        hi = 0x9F;              /* surrogates */
        } else if (u[0] >= 0xF0 && u[0] <= 0xF4) {
                n = 4, c = u[0] & 0x07;
                if (u[0] == 0xF0)
                        lo = 0x90;              /* overlong */
                else if (u[0] == 0xF4)
                        hi = 0x8F;              /* above U+10FFFF */
        } else
                return -EBADMSG;                /* C0, C1, F5..FF, or a stray continuation */
        if (avail < n || u[1] < lo || u[1] > hi)
                return -EBADMSG;
        for (size_t i = 1; i < n; i++) {
                if (!is_cont(u[i]))
                        return -EBADMSG;
                c = (c << 6) | (u[i] & 0x3F);
        }
        s->p += n;
        *ret = c;
        return 0;
}

static int hex4(Scan *s, uint32_t *ret) {
        uint32_t c = 0;

        if (s->end - s->p < 4)
                return -EBADMSG;
        for (int i = 0; i < 4; i++) {
                char h = *s->p++;
                int d = h >= '0' && h <= '9' ? h - '0' : h >= 'a' && h <= 'f' ? h - 'a' + 10 :
                        h >= 'A' && h <= 'F' ? h - 'A' + 10 : -1;

                if (d < 0)
                        return -EBADMSG;
                c = (c << 4) | (uint32_t) d;
        }
        *ret = c;
        return 0;
}

/* After the backslash of "\u": a code point, with surrogate pairs joined; NUL refused. */
static int scan_u_escape(Scan *s, uint32_t *ret) {
        uint32_t c, lo;

        if (hex4(s, &c) < 0)
                return -EBADMSG;
        if (c >= 0xDC00 && c <= 0xDFFF)
                return -EBADMSG;                /* a low surrogate alone */
        if (c >= 0xD800 && c <= 0xDBFF) {
                if (s->end - s->p < 2 || s->p[0] != '\\' || s->p[1] != 'u')
                        return -EBADMSG;        /* a high surrogate alone */
                s->p += 2;
                if (hex4(s, &lo) < 0 || lo < 0xDC00 || lo > 0xDFFF)
                        return -EBADMSG;
                c = 0x10000 + ((c - 0xD800) << 10) + (lo - 0xDC00);
        }
        if (c == 0)
                return -EBADMSG;
        *ret = c;
        return 0;
}

static int put_utf8(VarlinkBuffer *b, uint32_t c) {
        char u[4];
        size_t n;

        if (!b)
                return 0;
        if (c < 0x80)
                u[0] = (char) c, n = 1;
        else if (c < 0x800)
                u[0] = (char) (0xC0 | (c >> 6)), u[1] = (char) (0x80 | (c & 0x3F)), n = 2;
        else if (c < 0x10000)
                u[0] = (char) (0xE0 | (c >> 12)), u[1] = (char) (0x80 | ((c >> 6) & 0x3F)),
                u[2] = (char) (0x80 | (c & 0x3F)), n = 3;
        else
                u[0] = (char) (0xF0 | (c >> 18)), u[1] = (char) (0x80 | ((c >> 12) & 0x3F)),
                u[2] = (char) (0x80 | ((c >> 6) & 0x3F)), u[3] = (char) (0x80 | (c & 0x3F)), n = 4;
        return varlink_buffer_append(b, u, n);
}

static int scan_escape(Scan *s, uint32_t *ret) {
        static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
        const char *e;

        if (s->p >= s->end)
                return -EBADMSG;
        if (*s->p == 'u') {
                s->p++;
                return scan_u_escape(s, ret);
        }
        e = strchr(from, *s->p);
        if (!e || *s->p == '\0')
                return -EBADMSG;
        s->p++;
        *ret = (unsigned char) to[e - from];
        return 0;
}

/* A string at s->p (the opening quote); its decoded text goes to out if not NULL. */
static int scan_string(Scan *s, VarlinkBuffer *out) {
        s->p++;
        for (;;) {
                uint32_t c;
                int r;

                if (s->p >= s->end)
                        return -EBADMSG;
                c = (unsigned char) *s->p;
                if (c == '"') {
                        s->p++;
                        return 0;
                }
                if (c < 0x20)
                        return -EBADMSG;        /* raw control characters, NUL among them */
                if (c == '\\') {
                        s->p++;
                        r = scan_escape(s, &c);
                } else if (c >= 0x80)
                        r = scan_utf8(s, &c);
                else {
                        s->p++;
                        r = 0;
                }
                if (r < 0 || is_nonchar(c))
                        return -EBADMSG;
                r = put_utf8(out, c);
                if (r < 0)
                        return r;
        }
}

static size_t span(Scan *s, const char *set) {
        size_t n = 0;

        while (s->p < s->end && strchr(set, *s->p) && *s->p)
                s->p++, n++;
        return n;
}

/* RFC 8259 numbers only (no NaN, Infinity, hex, leading '+'), and finite as a double.
 * An integer must fit in 64 bits signed (Varlink's int): json-c 0.16 would clamp a bigger
 * one silently and 0.18 refuses it, so it is refused here, the same on every json-c. */
static int scan_number(Scan *s) {
        static const char digits[] = "0123456789";
        const char *start = s->p;
        _cleanup_(freep) char *copy = NULL;
        bool integer = true;
        double d;

        if (s->p < s->end && *s->p == '-')
                s->p++;
        if (s->p < s->end && *s->p == '0')
                s->p++;
        else if (span(s, digits) == 0)
                return -EBADMSG;
        if (s->p < s->end && *s->p == '.' && (integer = false, s->p++, span(s, digits) == 0))
                return -EBADMSG;
        if (s->p < s->end && (*s->p == 'e' || *s->p == 'E')) {
                integer = false;
                s->p++;
                if (s->p < s->end && (*s->p == '+' || *s->p == '-'))
                        s->p++;
                if (span(s, digits) == 0)
                        return -EBADMSG;
        }
        copy = strndup(start, (size_t) (s->p - start));
        if (!copy)
                return -ENOMEM;
        if (integer) {
                errno = 0;
                (void) strtoll(copy, NULL, 10);
                return errno == ERANGE ? -EBADMSG : 0;
        }
        d = strtod(copy, NULL);
        return isfinite(d) ? 0 : -EBADMSG;
}

static int scan_value(Scan *s);

static int key_compare(const void *a, const void *b) {
        const Key *x = a, *y = b;
        size_t n = x->n < y->n ? x->n : y->n;
        int c = n > 0 ? memcmp(x->s, y->s, n) : 0;     /* "" has no buffer: s is NULL */

        return c != 0 ? c : (x->n > y->n) - (x->n < y->n);
}

/* Are two of the object's keys equal (after unescaping)? Sorted, so n log n. */
static bool keys_have_duplicates(Key *keys, size_t n) {
        qsort(keys, n, sizeof(Key), key_compare);
        for (size_t i = 1; i < n; i++)
                if (key_compare(&keys[i - 1], &keys[i]) == 0)
                        return true;
        return false;
}

static void keys_free(Key *keys, size_t n) {
        for (size_t i = 0; i < n; i++)
                free(keys[i].s);
        free(keys);
}

static int scan_member(Scan *s, Key **keys, size_t *n) {
        _cleanup_(varlink_buffer_done) VarlinkBuffer name = { .data = NULL };
        Key *a;
        int r;

        skip_ws(s);
        if (s->p >= s->end || *s->p != '"')
                return -EBADMSG;
        r = scan_string(s, &name);
        if (r < 0)
                return r;
        a = realloc(*keys, (*n + 1) * sizeof(Key));
        if (!a)
                return -ENOMEM;
        *keys = a;
        a[*n] = (Key) { .s = TAKE_PTR(name.data), .n = name.size };
        (*n)++;
        skip_ws(s);
        if (s->p >= s->end || *s->p != ':')
                return -EBADMSG;
        s->p++;
        return scan_value(s);
}

static int scan_object(Scan *s) {
        Key *keys = NULL;
        size_t n = 0;
        int r;

        s->p++;
        skip_ws(s);
        if (s->p < s->end && *s->p == '}') {
                s->p++;
                return 0;
        }
        for (;;) {
                r = scan_member(s, &keys, &n);
                if (r < 0)
                        break;
                skip_ws(s);
                r = -EBADMSG;
                if (s->p >= s->end)
                        break;
                if (*s->p++ == '}') {
                        r = keys_have_duplicates(keys, n) ? -EBADMSG : 0;
                        break;
                }
                if (s->p[-1] != ',')
                        break;
        }
        keys_free(keys, n);
        return r;
}

static int scan_array(Scan *s) {
        int r;

        s->p++;
        skip_ws(s);
        if (s->p < s->end && *s->p == ']') {
                s->p++;
                return 0;
        }
        for (;;) {
                r = scan_value(s);
                if (r < 0)
                        return r;
                skip_ws(s);
                if (s->p >= s->end)
                        return -EBADMSG;
                if (*s->p++ == ']')
                        return 0;
                if (s->p[-1] != ',')
                        return -EBADMSG;
        }
}

static int scan_literal(Scan *s, const char *word) {
        size_t n = strlen(word);

        if ((size_t) (s->end - s->p) < n || memcmp(s->p, word, n) != 0)
                return -EBADMSG;
        s->p += n;
        return 0;
}

static int scan_value(Scan *s) {
        int r;

        skip_ws(s);
        if (s->p >= s->end)
                return -EBADMSG;
        switch (*s->p) {
        case '{':
        case '[':
                if (++s->depth > DEPTH_MAX)
                        return -EBADMSG;
                r = *s->p == '{' ? scan_object(s) : scan_array(s);
                s->depth--;
                return r;
        case '"':
                return scan_string(s, NULL);
        case 't':
                return scan_literal(s, "true");
        case 'f':
                return scan_literal(s, "false");
        case 'n':
                return scan_literal(s, "null");
        default:
                return scan_number(s);
        }
}

int varlink_json_check(const char *text, size_t len) {
        Scan s = { .p = text, .end = text + len };
        int r;

        r = scan_value(&s);
        if (r < 0)
                return r;
        skip_ws(&s);
        return s.p == s.end ? 0 : -EBADMSG;
}
