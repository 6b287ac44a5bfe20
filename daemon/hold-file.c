/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "hold-file.h"
#include "io-util.h"
#include "json-parse.h"
#include "parse-util.h"
#include "text-util.h"
#include "varlink.h"

#define HOLD_FILE_VERSION 1
#define HOLD_FILE_MAX (16 * 1024)

Hold *hold_free(Hold *h) {
        if (!h)
                return NULL;
        free(h->reason);
        free(h->comm);
        free(h);
        return NULL;
}

int hold_to_json_string(const Hold *h, char **ret) {
        _cleanup_(json_object_putp) json_object *o = json_object_new_object();
        const char *text;

        if (!o)
                return -ENOMEM;
        json_object_object_add(o, "version", json_object_new_int(HOLD_FILE_VERSION));
        json_object_object_add(o, "reason", json_object_new_string(h->reason));
        json_object_object_add(o, "uid", json_object_new_int64((int64_t) h->uid));
        json_object_object_add(o, "pid", json_object_new_int64((int64_t) h->pid));
        json_object_object_add(o, "comm", h->comm ? json_object_new_string(h->comm) : NULL);
        json_object_object_add(o, "sinceUSec", json_object_new_uint64(h->since_usec));
        json_object_object_add(o, "untilUSec", h->until_usec > 0 ? json_object_new_uint64(h->until_usec) : NULL);
        text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE);
        if (!text || asprintf(ret, "%s\n", text) < 0)
                return -ENOMEM;
        return 0;
}

typedef struct HoldFields {
        int version;
        char *reason, *comm;
        uint32_t uid;
        int64_t pid;
        uint64_t since_usec, until_usec;
} HoldFields;

static int hold_from_fields(HoldFields *f, Hold **ret) {
        Hold *h;

        if (f->version != HOLD_FILE_VERSION || !text_is_printable(f->reason, HOLD_REASON_MAX) ||
            (f->comm && !text_is_printable(f->comm, 64)) || f->pid < 0 || f->pid > INT32_MAX ||
            f->uid == UINT32_MAX || f->since_usec == 0)
                return -EBADMSG;
        h = calloc(1, sizeof(Hold));
        if (!h)
                return -ENOMEM;
        *h = (Hold) {
                .reason = TAKE_PTR(f->reason), .comm = TAKE_PTR(f->comm), .uid = (uid_t) f->uid,
                .pid = (pid_t) f->pid, .since_usec = f->since_usec, .until_usec = f->until_usec, .stored = true,
        };
        *ret = h;
        return 0;
}

int hold_from_json_string(const char *text, Hold **ret) {
        static const VarlinkDispatchField table[] = {
                { "version",   json_type_int,    varlink_dispatch_int,    offsetof(HoldFields, version),
                  VARLINK_DISPATCH_MANDATORY },
                { "reason",    json_type_string, varlink_dispatch_string, offsetof(HoldFields, reason),
                  VARLINK_DISPATCH_MANDATORY },
                { "uid",       json_type_int,    varlink_dispatch_uint32, offsetof(HoldFields, uid),
                  VARLINK_DISPATCH_MANDATORY },
                { "pid",       json_type_int,    varlink_dispatch_int64,  offsetof(HoldFields, pid),
                  VARLINK_DISPATCH_MANDATORY },
                { "comm",      json_type_string, varlink_dispatch_string, offsetof(HoldFields, comm),
                  VARLINK_DISPATCH_NULLABLE },
                { "sinceUSec", json_type_int,    varlink_dispatch_uint64, offsetof(HoldFields, since_usec),
                  VARLINK_DISPATCH_MANDATORY },
                { "untilUSec", json_type_int,    varlink_dispatch_uint64, offsetof(HoldFields, until_usec),
                  VARLINK_DISPATCH_NULLABLE },
                { NULL, json_type_null, NULL, 0, 0 },
        };
        _cleanup_(json_object_putp) json_object *o = NULL;
        HoldFields f = { 0 };
        const char *bad = NULL;
        size_t len = strlen(text), end;
        int r;

        r = json_parse_strict(text, len, 8, true, &o, &end);
        if (r < 0)
                return r == -ENOMEM ? r : -EBADMSG;
        if (text[end + strspn(text + end, " \t\r\n")] != '\0' || !json_object_is_type(o, json_type_object))
                return -EBADMSG;
        r = varlink_json_dispatch(o, table, &f, &bad);
        if (r >= 0)
                r = hold_from_fields(&f, ret);
        free(f.reason);
        free(f.comm);
        return r < 0 && r != -ENOMEM ? -EBADMSG : r;
}

int hold_file_save(const char *dir, const Hold *h) {
        _cleanup_(freep) char *text = NULL;
        _cleanup_(closep) int dfd = -1;
        int r;

        r = hold_to_json_string(h, &text);
        if (r < 0)
                return r;
        dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0)
                return -errno;
        return write_file_atomic_at(dfd, HOLD_FILE_NAME, text, 0644);
}

/* Keep a corrupt file for the operator instead of dropping what it said. */
static int hold_file_move_aside(const char *dir, char **ret_moved_to) {
        _cleanup_(freep) char *from = NULL, *to = NULL;

        if (asprintf(&from, "%s/" HOLD_FILE_NAME, dir) < 0 ||
            asprintf(&to, "%s/" HOLD_FILE_NAME ".corrupt-%" PRIu64, dir, now_realtime_usec()) < 0)
                return -ENOMEM;
        if (rename(from, to) < 0)
                return -errno;
        (void) fsync_directory(dir);
        if (ret_moved_to)
                *ret_moved_to = TAKE_PTR(to);
        return -EBADMSG;
}

int hold_file_load(const char *dir, Hold **ret, char **ret_moved_to) {
        _cleanup_(freep) char *path = NULL, *text = NULL;
        size_t size = 0;
        int r;

        if (asprintf(&path, "%s/" HOLD_FILE_NAME, dir) < 0)
                return -ENOMEM;
        r = read_full_file(path, HOLD_FILE_MAX, &text, &size);
        if (r == -EFBIG)
                return hold_file_move_aside(dir, ret_moved_to);
        if (r < 0)
                return r;
        r = size == strlen(text) ? hold_from_json_string(text, ret) : -EBADMSG;
        return r == -EBADMSG ? hold_file_move_aside(dir, ret_moved_to) : r;
}

int hold_file_remove(const char *dir) {
        _cleanup_(freep) char *path = NULL;

        if (asprintf(&path, "%s/" HOLD_FILE_NAME, dir) < 0)
                return -ENOMEM;
        if (unlink(path) < 0)
                return errno == ENOENT ? 0 : -errno;
        return fsync_directory(dir);
}
