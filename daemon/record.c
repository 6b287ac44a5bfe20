/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-id128.h>

#include "log.h"
#include "record.h"

struct Record {
        char *dir;
        bool degraded;
};

int record_new(const char *dir, Record **ret) {
        Record *r = calloc(1, sizeof(Record));

        if (!r || !(r->dir = strdup(dir))) {
                free(r);
                return -ENOMEM;
        }
        *ret = r;
        return 0;
}

Record *record_free(Record *r) {
        if (r) {
                free(r->dir);
                free(r);
        }
        return NULL;
}

int record_adopt_fd(Record *r, const char *name, int fd) {
        return 0;
}

int record_load(Record *r, State *ret) {
        _cleanup_(freep) char *moved_to = NULL;
        int k = state_load(r->dir, ret, &moved_to);

        if (k == -EBADMSG) {
                log_internal(LOG_CRIT, 0, NULL, "The state file in %s was corrupt and has been moved to %s. TDs stopped by an "
                         "interrupted cycle may need to be started by hand; see that file", r->dir, strna(moved_to));
                return -ENOENT;
        }
        if (k >= 0 && ret->phase == CYCLE_PHASE_IDLE && !ret->drained) {
                state_done(ret);
                return -ENOENT;
        }
        return k;
}

int record_save(Record *r, State *s) {
        sd_id128_t id;
        int k;

        if (s->cycle_id[0] == '\0' && sd_id128_randomize(&id) >= 0)
                sd_id128_to_string(id, s->cycle_id);
        if (s->boot_id[0] == '\0' && sd_id128_get_boot(&id) >= 0)
                sd_id128_to_string(id, s->boot_id);
        s->generation++;
        k = state_save(r->dir, s);
        r->degraded = k < 0;
        return k < 0 ? k : RECORD_ON_DISK;
}

int record_finish(Record *r, const State *s) {
        int k = state_clear(r->dir);

        r->degraded = k < 0;
        return k;
}

bool record_degraded(const Record *r) {
        return r->degraded;
}

int record_keep_failed_xml(Record *r, const StateDomain *d, char **ret_path) {
        return -EOPNOTSUPP;
}

void record_forget_failed_xml(Record *r, const char *uuid) {
}
