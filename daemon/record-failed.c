/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The saved XML of transient TDs that could not be re-created: the only copy of their
 * definition, kept where the operator finds it until the TD runs again. */

#include <ctype.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

#include "io-util.h"
#include "log.h"
#include "record.h"

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
        if (ret_path)
                *ret_path = TAKE_PTR(path);
        return 0;
}

void record_forget_failed_xml(Record *r, const char *uuid) {
        _cleanup_(freep) char *name = NULL, *path = NULL;

        if (failed_file_name(uuid, &name) < 0 ||
            asprintf(&path, "%s/" RECORD_FAILED_DIR "/%s", record_dir(r), name) < 0)
                return;
        if (unlink(path) < 0 && errno != ENOENT)
                log_warning("Failed to remove %s, ignoring: %s", path, STRERROR(errno));
}
