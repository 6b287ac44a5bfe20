/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* tdsleepctl history --since: the subset of journalctl's time syntax operators use. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "history.h"

static const struct {
        const char *suffix;
        uint64_t usec;
} time_units[] = {
        { "s", USEC_PER_SEC },
        { "sec", USEC_PER_SEC },
        { "min", 60 * USEC_PER_SEC },
        { "m", 60 * USEC_PER_SEC },
        { "h", 3600 * USEC_PER_SEC },
        { "d", 86400 * USEC_PER_SEC },
        { "w", 7 * 86400 * USEC_PER_SEC },
};

/* "-N<unit>" before now. */
static int parse_relative(const char *s, uint64_t now_usec, uint64_t *ret) {
        char *end = NULL;
        unsigned long long n;

        if (s[0] < '0' || s[0] > '9')
                return -EINVAL;
        errno = 0;
        n = strtoull(s, &end, 10);
        if (errno != 0)
                return -EINVAL;
        for (size_t i = 0; i < ELEMENTSOF(time_units); i++) {
                if (!streq(end, time_units[i].suffix))
                        continue;
                if (n > UINT64_MAX / time_units[i].usec || n * time_units[i].usec > now_usec)
                        return -EINVAL;
                *ret = now_usec - n * time_units[i].usec;
                return 0;
        }
        return -EINVAL;
}

/* Local midnight, days_back days before now. */
static int parse_day(uint64_t now_usec, int days_back, uint64_t *ret) {
        time_t t = (time_t) (now_usec / USEC_PER_SEC);
        struct tm tm;

        if (!localtime_r(&t, &tm))
                return -EINVAL;
        tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
        tm.tm_mday -= days_back;
        tm.tm_isdst = -1;
        t = mktime(&tm);
        if (t == (time_t) -1 || t < 0)
                return -EINVAL;
        *ret = (uint64_t) t * USEC_PER_SEC;
        return 0;
}

/* "YYYY-MM-DD[ HH:MM[:SS]]" in local time; the whole text must match. */
static int parse_date(const char *s, uint64_t *ret) {
        static const char *const formats[] = { "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d" };

        for (size_t i = 0; i < ELEMENTSOF(formats); i++) {
                struct tm tm = { .tm_isdst = -1 };
                const char *end = strptime(s, formats[i], &tm);
                time_t t;

                if (!end || *end != '\0')
                        continue;
                tm.tm_isdst = -1;
                t = mktime(&tm);
                if (t == (time_t) -1 || t < 0)
                        return -EINVAL;
                *ret = (uint64_t) t * USEC_PER_SEC;
                return 0;
        }
        return -EINVAL;
}

int history_parse_time(const char *s, uint64_t now_usec, uint64_t *ret) {
        char *end = NULL;
        unsigned long long sec;

        if (isempty(s))
                return -EINVAL;
        if (streq(s, "now")) {
                *ret = now_usec;
                return 0;
        }
        if (streq(s, "today") || streq(s, "yesterday"))
                return parse_day(now_usec, streq(s, "today") ? 0 : 1, ret);
        if (s[0] == '-')
                return parse_relative(s + 1, now_usec, ret);
        if (s[0] == '@') {
                if (s[1] < '0' || s[1] > '9')
                        return -EINVAL;
                errno = 0;
                sec = strtoull(s + 1, &end, 10);
                if (errno != 0 || *end != '\0' || sec > UINT64_MAX / USEC_PER_SEC)
                        return -EINVAL;
                *ret = sec * USEC_PER_SEC;
                return 0;
        }
        return parse_date(s, ret);
}
