/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The saved XML of transient TDs that could not be re-created: the only copy of their
 * definition, kept where the operator finds it until the TD runs again. */

#include <ctype.h>
#include <dirent.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

#include "io-util.h"
#include "log.h"
#include "record-internal.h"

/* <uuid>.xml, lowercase: the same TD gives the same name whatever case libvirt used. */
static int failed_file_name(const char *uuid, char **ret) {
        char *name;

        if (!uuid_string_valid(uuid))
                return -EINVAL;
        if (asprintf(&name, "%s.xml", uuid) < 0)
                return -ENOMEM;
        for (char *p = name; *p; p++)
                *p = (char) tolower((unsigned char) *p);
        *ret = name;
        return 0;
}

/* ---- which files there are: read once, then followed ----
 * A resume starts a thousand TDs, and each start forgets the TD's file: an unlink that
 * nearly always finds nothing. Only tdsleepd writes into failed/, so the names read once
 * and followed by keep and forget say whether there is a file to remove. */

void record_failed_names_done(Record *r) {
        for (size_t i = 0; i < r->n_failed_names; i++)
                free(r->failed_names[i]);
        r->failed_names = mfree(r->failed_names);
        r->n_failed_names = 0;
        r->failed_names_known = false;
}

static ssize_t failed_name_index(const Record *r, const char *name) {
        for (size_t i = 0; i < r->n_failed_names; i++)
                if (streq(r->failed_names[i], name))
                        return (ssize_t) i;
        return -1;
}

static int failed_name_add(Record *r, const char *name) {
        char **a;

        if (failed_name_index(r, name) >= 0)
                return 0;
        a = reallocarray(r->failed_names, r->n_failed_names + 1, sizeof(char *));
        if (!a)
                return -ENOMEM;
        r->failed_names = a;
        a[r->n_failed_names] = strdup(name);
        if (!a[r->n_failed_names])
                return -ENOMEM;
        r->n_failed_names++;
        return 0;
}

static void failed_name_remove(Record *r, const char *name) {
        ssize_t i = failed_name_index(r, name);

        if (i < 0)
                return;
        free(r->failed_names[i]);
        r->failed_names[i] = r->failed_names[--r->n_failed_names];
}

/* The names in failed/ (none if it does not exist). On any error the names stay unknown,
 * and forget unlinks whatever it is asked to, as if nothing were followed. */
static void failed_names_read(Record *r) {
        _cleanup_(freep) char *dir = NULL;
        DIR *d;
        struct dirent *de;
        int k = 0;

        if (r->failed_names_known || asprintf(&dir, "%s/" RECORD_FAILED_DIR, record_dir(r)) < 0)
                return;
        d = opendir(dir);
        if (!d) {
                r->failed_names_known = errno == ENOENT;
                return;
        }
        while (k >= 0 && (errno = 0, de = readdir(d)))
                if (de->d_name[0] != '.')
                        k = failed_name_add(r, de->d_name);
        if (k >= 0 && errno == 0)
                r->failed_names_known = true;
        else
                record_failed_names_done(r);
        closedir(d);
}

int record_keep_failed_xml(Record *r, const StateDomain *d, char **ret_path) {
        _cleanup_(freep) char *name = NULL, *dir = NULL, *path = NULL;
        _cleanup_(closep) int dfd = -1;
        int k;

        if (!d->xml)
                return -ENODATA;
        k = failed_file_name(d->uuid, &name);
        if (k < 0)
                return k;
        if (asprintf(&dir, "%s/" RECORD_FAILED_DIR, record_dir(r)) < 0 ||
            asprintf(&path, "%s/%s", dir, name) < 0)
                return -ENOMEM;
        k = mkdir(dir, 0700) < 0 ? -errno : 0;
        if (k < 0 && k != -EEXIST)
                return k;
        if (k >= 0)     /* a new directory: its entry must be durable too */
                (void) fsync_directory(record_dir(r));
        dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0)
                return -errno;
        k = write_file_atomic_at(dfd, name, d->xml, 0600);     /* a TD's XML may hold secrets */
        if (k < 0)
                return k;
        if (failed_name_add(r, name) < 0)
                record_failed_names_done(r);    /* not followed any more: forget unlinks */
        if (ret_path)
                *ret_path = TAKE_PTR(path);
        return 0;
}

void record_forget_failed_xml(Record *r, const char *uuid) {
        _cleanup_(freep) char *name = NULL, *path = NULL;

        if (failed_file_name(uuid, &name) < 0)
                return;
        failed_names_read(r);
        if (r->failed_names_known && failed_name_index(r, name) < 0)
                return;         /* no file: the common case, a start after a sleep */
        failed_name_remove(r, name);
        if (asprintf(&path, "%s/" RECORD_FAILED_DIR "/%s", record_dir(r), name) < 0)
                return;
        if (unlink(path) < 0 && errno != ENOENT)
                log_warning("Failed to remove %s, ignoring: %s", path, STRERROR(errno));
}
