/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <ctype.h>
#include <stdbool.h>
#include <string.h>
#include <time.h>

#include "macros.h"
#include "time-util.h"

/* systemd.time(7)'s units, longest names first so that "min" is not read as "m". */
static const struct {
        const char *suffix;
        uint64_t usec;
} time_units[] = {
        { "seconds", USEC_PER_SEC },
        { "second",  USEC_PER_SEC },
        { "minutes", 60 * USEC_PER_SEC },
        { "minute",  60 * USEC_PER_SEC },
        { "hours",   3600 * USEC_PER_SEC },
        { "hour",    3600 * USEC_PER_SEC },
        { "weeks",   7 * 86400 * USEC_PER_SEC },
        { "week",    7 * 86400 * USEC_PER_SEC },
        { "days",    86400 * USEC_PER_SEC },
        { "day",     86400 * USEC_PER_SEC },
        { "msec",    USEC_PER_MSEC },
        { "usec",    1 },
        { "sec",     USEC_PER_SEC },
        { "min",     60 * USEC_PER_SEC },
        { "hr",      3600 * USEC_PER_SEC },
        { "ms",      USEC_PER_MSEC },
        { "us",      1 },
        { "s",       USEC_PER_SEC },
        { "m",       60 * USEC_PER_SEC },
        { "h",       3600 * USEC_PER_SEC },
        { "d",       86400 * USEC_PER_SEC },
        { "w",       7 * 86400 * USEC_PER_SEC },
};

/* The unit at *p (its whole word: letters up to a digit, a space or the end). */
static int time_unit_lookup(const char **p, uint64_t *ret_usec) {
        size_t n = strspn(*p, "abcdefghijklmnopqrstuvwxyz");

        for (size_t i = 0; i < ELEMENTSOF(time_units); i++)
                if (n == strlen(time_units[i].suffix) && strncmp(*p, time_units[i].suffix, n) == 0) {
                        *p += n;
                        *ret_usec = time_units[i].usec;
                        return 0;
                }
        return -EINVAL;
}

int parse_digits(const char **p, uint64_t *ret) {
        const char *s = *p;
        uint64_t v = 0;

        if (!isdigit((unsigned char) *s))
                return -EINVAL;
        for (; isdigit((unsigned char) *s); s++) {
                if (v > (UINT64_MAX - 9) / 10)
                        return -ERANGE;
                v = v * 10 + (uint64_t) (*s - '0');
        }
        *p = s;
        *ret = v;
        return 0;
}

/* The fraction as a multiple of unit/10^digits; digits past microsecond precision
 * are dropped rather than rounded. */
static uint64_t fraction_usec(const char *digits, size_t n, uint64_t unit) {
        uint64_t v = 0, scale = 1;

        for (size_t i = 0; i < n && i < 9; i++) {
                v = v * 10 + (uint64_t) (digits[i] - '0');
                scale *= 10;
        }
        return v * unit / scale;
}

/* One part, "1.5min"; a part without a unit is seconds, allowed only as the whole span. */
static int parse_part(const char **p, bool alone_allowed, uint64_t *ret_usec) {
        const char *s = *p, *frac = NULL;
        size_t n_frac = 0;
        uint64_t whole, unit = USEC_PER_SEC;
        int r;

        r = parse_digits(&s, &whole);
        if (r < 0)
                return r;
        if (*s == '.') {
                frac = ++s;
                n_frac = strspn(s, "0123456789");
                if (n_frac == 0)
                        return -EINVAL;
                s += n_frac;
        }
        s += strspn(s, " \t");
        if (*s == '\0' && !alone_allowed)
                return -EINVAL;
        if (*s != '\0' && time_unit_lookup(&s, &unit) < 0)
                return -EINVAL;
        if (whole > UINT64_MAX / unit / 2)
                return -ERANGE;
        *ret_usec = whole * unit + (frac ? fraction_usec(frac, n_frac, unit) : 0);
        *p = s + strspn(s, " \t");
        return 0;
}

int parse_time_span(const char *s, uint64_t *ret_usec) {
        uint64_t total = 0, part;
        bool first = true;
        int r;

        if (!s || *s == '\0')
                return -EINVAL;
        while (*s != '\0') {
                /* A bare number is seconds only as the whole span: "2s5" is a typo. */
                r = parse_part(&s, first, &part);
                if (r < 0)
                        return r;
                if (total > UINT64_MAX / 2 - part)
                        return -ERANGE;
                total += part;
                first = false;
        }
        *ret_usec = total;
        return 0;
}

uint64_t now_realtime_usec(void) {
        struct timespec ts;

        clock_gettime(CLOCK_REALTIME, &ts);
        return (uint64_t) ts.tv_sec * USEC_PER_SEC + (uint64_t) ts.tv_nsec / NSEC_PER_USEC;
}
