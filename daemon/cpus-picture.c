/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The pure half of cpus.h: range lists and sysfs values parsed, and the picture of
 * packages and online CPUs queried. No I/O. */

#include <ctype.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "cpus.h"
#include "macros.h"
#include "parse-util.h"

/* ---- pure parsers ---- */

/* Decimal digits; saturates at CPUS_MAX so the caller can say -ERANGE after the syntax
 * of the whole token is known. */
static int parse_cpu_number(const char **p, unsigned *ret) {
        const char *s = *p;
        unsigned v = 0;

        if (!isdigit((unsigned char) *s))
                return -EINVAL;
        for (; isdigit((unsigned char) *s); s++)
                v = v >= CPUS_MAX ? CPUS_MAX : v * 10 + (unsigned) (*s - '0');
        *p = s;
        *ret = v;
        return 0;
}

/* One "N" or "N-M" at *p; leaves *p on the character after it. */
static int parse_range(const char **p, unsigned *ret_first, unsigned *ret_last) {
        unsigned first, last;
        int r;

        r = parse_cpu_number(p, &first);
        if (r < 0)
                return r;
        last = first;
        if (**p == '-') {
                (*p)++;
                r = parse_cpu_number(p, &last);
                if (r < 0)
                        return r;
        }
        if (!IN_SET(**p, ',', '\n', '\0'))
                return -EINVAL;
        if (first >= CPUS_MAX || last >= CPUS_MAX)
                return -ERANGE;
        if (first > last)
                return -EINVAL;
        *ret_first = first;
        *ret_last = last;
        return 0;
}

static int parse_range_bits(const char *text, uint64_t bits[static CPUS_MAX / 64], size_t *ret_n) {
        const char *p = text;
        size_t n = 0;

        if (streq(text, "") || streq(text, "\n")) {
                *ret_n = 0;
                return 0;
        }
        for (;;) {
                unsigned first, last;
                int r = parse_range(&p, &first, &last);

                if (r < 0)
                        return r;
                for (unsigned i = first; i <= last; i++) {
                        n += !(bits[i / 64] & (UINT64_C(1) << (i % 64)));
                        bits[i / 64] |= UINT64_C(1) << (i % 64);
                }
                if (*p != ',')
                        break;
                p++;
        }
        if (*p == '\n')
                p++;
        if (*p != '\0')
                return -EINVAL;
        *ret_n = n;
        return 0;
}

int cpus_parse_range_list(const char *text, unsigned **ret_cpus, size_t *ret_n) {
        uint64_t bits[CPUS_MAX / 64] = { 0 };
        unsigned *cpus = NULL;
        size_t n = 0, k = 0;
        int r;

        r = parse_range_bits(text, bits, &n);
        if (r < 0)
                return r;
        if (n > 0) {
                cpus = malloc(n * sizeof(unsigned));
                if (!cpus)
                        return -ENOMEM;
                for (unsigned i = 0; i < CPUS_MAX; i++)
                        if (bits[i / 64] & (UINT64_C(1) << (i % 64)))
                                cpus[k++] = i;
        }
        *ret_cpus = cpus;
        *ret_n = n;
        return 0;
}

int cpus_format_range_list(const unsigned *cpus, size_t n, char **ret) {
        _cleanup_(freep) char *s = strdup("");

        if (!s)
                return -ENOMEM;
        for (size_t i = 0; i < n; ) {
                size_t j = i;
                char *t = NULL;
                int k;

                while (j + 1 < n && cpus[j + 1] == cpus[j] + 1)
                        j++;
                if (j == i)
                        k = asprintf(&t, "%s%s%u", s, i > 0 ? "," : "", cpus[i]);
                else
                        k = asprintf(&t, "%s%s%u-%u", s, i > 0 ? "," : "", cpus[i], cpus[j]);
                if (k < 0)
                        return -ENOMEM;
                free(s);
                s = t;
                i = j + 1;
        }
        *ret = TAKE_PTR(s);
        return 0;
}

/* The text without one trailing newline must be exactly digits, optionally after '-'. */
static bool is_integer_line(const char *text) {
        const char *p = text + (text[0] == '-');
        size_t n = strspn(p, "0123456789");

        return n > 0 && (streq(p + n, "") || streq(p + n, "\n"));
}

int cpus_parse_package_id(const char *text, int *ret) {
        long long v;

        if (!is_integer_line(text))
                return -EINVAL;
        errno = 0;
        v = strtoll(text, NULL, 10);
        if (errno == ERANGE || v < -1 || v > INT_MAX)
                return -ERANGE;
        *ret = (int) v;
        return 0;
}

int cpus_parse_online(const char *text, bool *ret) {
        if (streq(text, "1") || streq(text, "1\n"))
                *ret = true;
        else if (streq(text, "0") || streq(text, "0\n"))
                *ret = false;
        else
                return -EINVAL;
        return 0;
}

/* ---- the picture ---- */

void cpu_picture_done(CpuPicture *p) {
        free(p->cpus);
        free(p->packages);
        *p = (CpuPicture) { .cpus = NULL };
}

bool cpu_picture_equal(const CpuPicture *a, const CpuPicture *b) {
        if (a->n_cpus != b->n_cpus)
                return false;
        for (size_t i = 0; i < a->n_cpus; i++) {
                const Cpu *x = &a->cpus[i], *y = &b->cpus[i];

                if (x->id != y->id || x->online != y->online || x->hotpluggable != y->hotpluggable ||
                    x->package_known != y->package_known || (x->package_known && x->package != y->package))
                        return false;
        }
        return true;
}

const CpuPackage *cpu_picture_find_package(const CpuPicture *p, int id) {
        for (size_t i = 0; i < p->n_packages; i++)
                if (p->packages[i].id == id)
                        return &p->packages[i];
        return NULL;
}

size_t cpu_picture_n_empty(const CpuPicture *p) {
        size_t n = 0;

        for (size_t i = 0; i < p->n_packages; i++)
                n += p->packages[i].n_online == 0;
        return n;
}

bool cpu_picture_can_create_td(const CpuPicture *p) {
        return cpu_picture_n_empty(p) == 0;
}

int cpu_picture_format_empty(const CpuPicture *p, const CpuPicture *except, char **ret) {
        _cleanup_(freep) char *s = strdup("");

        if (!s)
                return -ENOMEM;
        for (size_t i = 0; i < p->n_packages; i++) {
                const CpuPackage *k = &p->packages[i], *before;
                char *t = NULL;

                before = except ? cpu_picture_find_package(except, k->id) : NULL;
                if (k->n_online > 0 || (before && before->n_online == 0))
                        continue;
                if (asprintf(&t, "%s%s%d", s, *s ? "," : "", k->id) < 0)
                        return -ENOMEM;
                free(s);
                s = t;
        }
        *ret = TAKE_PTR(s);
        return 0;
}
