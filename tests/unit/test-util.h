/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Helpers shared by the unit tests: scratch directories and fixture files. */

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "macros.h"
#include "parse-util.h"

#define EXIT_TEST_SKIP 77

/* A fresh directory below $TMPDIR; caller removes it with rm_rf() and frees it. */
static inline char *make_scratch_dir(void) {
        const char *tmp = getenv("TMPDIR");
        char *d = NULL;

        if (asprintf(&d, "%s/tdsleep-unit-XXXXXX", tmp ? tmp : "/tmp") < 0)
                return NULL;
        if (!mkdtemp(d)) {
                free(d);
                return NULL;
        }
        return d;
}

static inline int rm_rf_one(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
        (void) st, (void) flag, (void) ftw;
        return remove(path) < 0 ? -1 : 0;
}

static inline void rm_rf(const char *path) {
        if (path)
                (void) nftw(path, rm_rf_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* mkdir -p for the parent directories of dir/rel, then write text there. */
static inline int write_file(const char *dir, const char *rel, const char *text) {
        _cleanup_(freep) char *path = NULL;
        _cleanup_(fclosep) FILE *f = NULL;

        if (asprintf(&path, "%s/%s", dir, rel) < 0)
                return -ENOMEM;
        for (char *p = path + strlen(dir) + 1; (p = strchr(p, '/')); p++) {
                *p = '\0';
                if (mkdir(path, 0755) < 0 && errno != EEXIST)
                        return -errno;
                *p = '/';
        }
        f = fopen(path, "we");
        if (!f)
                return -errno;
        if (fputs(text, f) < 0 || fflush(f) != 0)
                return -EIO;
        return 0;
}

/* The text of tests/data/REL, or NULL (then the test should skip). */
static inline char *read_test_data(const char *rel) {
        const char *base = getenv("TDSLEEP_TEST_DATA");
        _cleanup_(freep) char *path = NULL;
        char *text = NULL;

        if (!base || asprintf(&path, "%s/%s", base, rel) < 0)
                return NULL;
        if (read_full_file(path, 1024 * 1024, &text, NULL) < 0)
                return NULL;
        return text;
}

/* A scratch directory per test (cmocka setup/teardown) holding a fake sysfs tree. */
typedef struct Tree {
        char *root;
} Tree;

static inline int tree_setup(void **state) {
        Tree *t = calloc(1, sizeof(Tree));

        if (!t)
                return -1;
        t->root = make_scratch_dir();
        *state = t;
        return t->root ? 0 : -1;
}

static inline int tree_teardown(void **state) {
        Tree *t = *state;

        rm_rf(t->root);
        free(t->root);
        free(t);
        return 0;
}

/* Write text to root/rel (creating directories); fails the test on error. Needs cmocka.h. */
#define put(t, rel, text) assert_int_equal(write_file((t)->root, (rel), (text)), 0)
