/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Small helpers in systemd's idiom: cleanup attributes, TAKE_PTR, array sizes. */

#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define _cleanup_(f) __attribute__((cleanup(f)))
#define _unused_ __attribute__((unused))
#define _printf_(a, b) __attribute__((format(printf, a, b)))
#define _sentinel_ __attribute__((sentinel))

#define ELEMENTSOF(x) (sizeof(x) / sizeof((x)[0]))

/* __extension__: statement expressions are GNU C; -Wpedantic must not flag them. */
#define TAKE_PTR(p)                             \
        __extension__ ({                        \
                __typeof__(p) _p_ = (p);        \
                (p) = NULL;                     \
                _p_;                            \
        })

#define TAKE_FD(fd)                             \
        __extension__ ({                        \
                int _fd_ = (fd);                \
                (fd) = -1;                      \
                _fd_;                           \
        })

#define USEC_PER_SEC  ((uint64_t) 1000000ULL)
#define USEC_PER_MSEC ((uint64_t) 1000ULL)
#define NSEC_PER_USEC ((uint64_t) 1000ULL)
#define USEC_INFINITY ((uint64_t) UINT64_MAX)

#ifndef MAX     /* glib has its own */
#define MAX(a, b) ((a) > (b) ? (a) : (b))
#endif
#ifndef MIN
#define MIN(a, b) ((a) < (b) ? (a) : (b))
#endif

static inline void freep(void *p) {
        free(*(void **) p);
}

static inline void closep(int *fd) {
        if (*fd >= 0) {
                int saved = errno;
                close(*fd);
                errno = saved;
        }
}

static inline void fclosep(FILE **f) {
        if (*f)
                fclose(*f);
}

/* Close an fd and return -1, for "fd = safe_close(fd)". */
static inline int safe_close(int fd) {
        if (fd >= 0)
                closep(&fd);
        return -1;
}

#define DEFINE_TRIVIAL_CLEANUP_FUNC(type, func)         \
        static inline void func##p(type *p) {           \
                if (*p)                                 \
                        func(*p);                       \
        }

static inline int negative_errno(void) {
        return errno > 0 ? -errno : -EIO;
}

static inline const char *strempty(const char *s) {
        return s ? s : "";
}

static inline const char *strna(const char *s) {
        return s ? s : "n/a";
}

/* -Wpedantic rejects printf's %m: name the error explicitly. */
#define STRERROR(e) strerror(abs(e))

#define streq(a, b) (strcmp((a), (b)) == 0)

DEFINE_TRIVIAL_CLEANUP_FUNC(DIR *, closedir)

static inline void *memdup(const void *p, size_t n) {
        void *q = malloc(n ? n : 1);

        return q ? memcpy(q, p, n) : NULL;
}

static inline void *mfree(void *p) {
        free(p);
        return NULL;
}

static inline int isempty(const char *s) {
        return !s || !*s;
}

/* IN_SET(x, a, b, ...): x equals one of the others (integers/enums). */
#define IN_SET(x, first, ...)                                                   \
        __extension__ ({                                                                      \
                const __typeof__(first) _set_[] = { first, __VA_ARGS__ };       \
                __typeof__(first) _x_ = (x);                                    \
                bool _found_ = false;                                           \
                for (size_t _i_ = 0; _i_ < ELEMENTSOF(_set_); _i_++)            \
                        if (_set_[_i_] == _x_) {                                \
                                _found_ = true;                                 \
                                break;                                          \
                        }                                                       \
                _found_;                                                        \
        })
