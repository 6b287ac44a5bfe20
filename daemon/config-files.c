/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The configuration's search path and drop-in directories, as systemd lays them out:
 * systemd's conf-files.c (conf_files_list_strv) and config_parse_standard_file_with_dropins
 * are the model; the parsing itself is config.c's. */

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "build-config.h"
#include "config-files.h"
#include "parse-util.h"

#define CONFIG_NAME "tdsleepd.conf"
#define DROPIN_DIR CONFIG_NAME ".d"

/* systemd's CONF_PATHS, so that systemd-analyze cat-config lists the same files; the
 * first is the build's sysconfdir (/etc for a /usr build, as the package's), where meson
 * installs tdsleepd.conf. */
const char *const config_search_dirs[CONFIG_SEARCH_DIRS_MAX] = {
        TDSLEEP_CONFIG_DIR,             /* the administrator's: /etc/tdsleep */
        "/run/tdsleep",                 /* generated at run time, gone at reboot */
        "/usr/local/lib/tdsleep",       /* installed locally */
        "/usr/lib/tdsleep",             /* the distribution's */
};

void strv_free(char **v) {
        for (char **p = v; p && *p; p++)
                free(*p);
        free(v);
}

/* A growing NULL-terminated list. */
typedef struct Strv {
        char **v;
        size_t n;
} Strv;

static int strv_push(Strv *s, char *item) {
        char **grown;

        if (!item)
                return -ENOMEM;
        grown = reallocarray(s->v, s->n + 2, sizeof(char *));
        if (!grown) {
                free(item);
                return -ENOMEM;
        }
        s->v = grown;
        s->v[s->n++] = item;
        s->v[s->n] = NULL;
        return 0;
}

static char *path_join3(const char *root, const char *dir, const char *name) {
        char *p;
        bool plain_root = !root || root[0] == '\0' || streq(root, "/");

        if (asprintf(&p, "%s%s%s%s", plain_root ? "" : root, dir, name ? "/" : "", name ? name : "") < 0)
                return NULL;
        return p;
}

static bool dropin_wanted(DIR *d, const struct dirent *de) {
        size_t n = strlen(de->d_name);
        struct stat st;

        if (de->d_name[0] == '.' || n <= 5 || !streq(de->d_name + n - 5, ".conf"))
                return false;
        /* Follows symlinks: a link to /dev/null masks a drop-in and simply reads empty. */
        if (fstatat(dirfd(d), de->d_name, &st, 0) < 0)
                return false;
        return S_ISREG(st.st_mode) || S_ISCHR(st.st_mode);
}

/* One drop-in: its name (what the directories compete for) and its path. */
typedef struct Dropin {
        char *name;
        char *path;
} Dropin;

typedef struct Dropins {
        Dropin *d;
        size_t n;
} Dropins;

static void dropins_done(Dropins *l) {
        for (size_t i = 0; i < l->n; i++) {
                free(l->d[i].name);
                free(l->d[i].path);
        }
        free(l->d);
}

static bool dropins_have(const Dropins *l, const char *name) {
        for (size_t i = 0; i < l->n; i++)
                if (streq(l->d[i].name, name))
                        return true;
        return false;
}

/* Add dir's *.conf whose names no earlier directory had. A missing dir has none. */
static int dropins_add_dir(Dropins *l, const char *dir, char **ret_error) {
        _cleanup_(closedirp) DIR *d = opendir(dir);
        struct dirent *de;

        if (!d)
                return errno == ENOENT || errno == ENOTDIR ? 0 :
                        error_message(ret_error, -errno, "%s: %s", dir, strerror(errno));
        while ((de = readdir(d))) {
                Dropin *grown;

                if (!dropin_wanted(d, de) || dropins_have(l, de->d_name))
                        continue;
                grown = reallocarray(l->d, l->n + 1, sizeof(Dropin));
                if (!grown)
                        return -ENOMEM;
                l->d = grown;
                l->d[l->n] = (Dropin) { strdup(de->d_name), path_join3(NULL, dir, de->d_name) };
                if (!l->d[l->n].name || !l->d[l->n].path) {
                        free(l->d[l->n].name);
                        free(l->d[l->n].path);
                        return -ENOMEM;
                }
                l->n++;
        }
        return 0;
}

static int dropin_compare(const void *a, const void *b) {
        return strcmp(((const Dropin *) a)->name, ((const Dropin *) b)->name);
}

/* The drop-ins of these directories (in precedence order), sorted bytewise by name as
 * systemd does, appended to files. */
static int add_dropins(Strv *files, char *const *dirs, size_t n_dirs, char **ret_error) {
        Dropins l = { 0 };
        int r = 0;

        for (size_t k = 0; k < n_dirs && r >= 0; k++)
                r = dropins_add_dir(&l, dirs[k], ret_error);
        if (r >= 0 && l.n > 0)
                qsort(l.d, l.n, sizeof(Dropin), dropin_compare);
        for (size_t i = 0; i < l.n && r >= 0; i++) {
                r = strv_push(files, l.d[i].path);
                l.d[i].path = NULL;
        }
        dropins_done(&l);
        return r;
}

int config_files_search(const char *root, char ***ret, char **ret_error) {
        char *dirs[CONFIG_SEARCH_DIRS_MAX] = { 0 };
        Strv files = { 0 };
        int r = 0;

        for (size_t k = 0; k < CONFIG_SEARCH_DIRS_MAX && r >= 0; k++) {
                _cleanup_(freep) char *main_file = path_join3(root, config_search_dirs[k], CONFIG_NAME);

                dirs[k] = path_join3(root, config_search_dirs[k], DROPIN_DIR);
                if (!main_file || !dirs[k])
                        r = -ENOMEM;
                /* The first main file found wins; one masked by /dev/null too (it reads empty). */
                else if (files.n == 0 && access(main_file, F_OK) >= 0)
                        r = strv_push(&files, TAKE_PTR(main_file));
        }
        if (r >= 0)
                r = add_dropins(&files, dirs, CONFIG_SEARCH_DIRS_MAX, ret_error);
        for (size_t k = 0; k < CONFIG_SEARCH_DIRS_MAX; k++)
                free(dirs[k]);
        if (r >= 0 && !files.v && !(files.v = calloc(1, sizeof(char *))))
                r = -ENOMEM;            /* nothing found: an empty list, the defaults */
        if (r < 0) {
                strv_free(files.v);
                return r;
        }
        *ret = files.v;
        return 0;
}

int config_files_explicit(const char *path, char ***ret, char **ret_error) {
        _cleanup_(freep) char *dir = NULL;
        Strv files = { 0 };
        int r;

        if (asprintf(&dir, "%s.d", path) < 0)
                return -ENOMEM;
        r = strv_push(&files, strdup(path));
        if (r >= 0)
                r = add_dropins(&files, &dir, 1, ret_error);
        if (r < 0) {
                strv_free(files.v);
                return r;
        }
        *ret = files.v;
        return 0;
}
