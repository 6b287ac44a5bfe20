/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <ctype.h>
#include <fcntl.h>
#include <json.h>
#include <inttypes.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>

#include "json-parse.h"
#include "macros.h"
#include "parse-util.h"
#include "io-util.h"
#include "state.h"

/* Version 2 added the cycle and boot ids, the generation and the drain flags. A State
 * without a cycle id (written by code that predates the record) is still saved as
 * version 1, which is exactly what it is; both are read. */
#define STATE_VERSION 2
/* Saved XML of many TDs fits easily; anything bigger is not ours. */
#define STATE_FILE_MAX (64 * 1024 * 1024)
#define STATE_TMP_NAME STATE_FILE_NAME ".tmp"

DEFINE_TRIVIAL_CLEANUP_FUNC(json_object *, json_object_put)

static const char *const cycle_phase_table[_CYCLE_PHASE_MAX] = {
        [CYCLE_PHASE_IDLE] = "idle",
        [CYCLE_PHASE_PREPARING] = "preparing",
        [CYCLE_PHASE_READY] = "ready",
        [CYCLE_PHASE_RESUMING] = "resuming",
};
DEFINE_STRING_TABLE(cycle_phase, CyclePhase, _CYCLE_PHASE_MAX)

static const char *const state_stop_table[_STATE_STOP_MAX] = {
        [STATE_STOP_SEEN] = "seen",
        [STATE_STOP_PENDING] = "pending",
        [STATE_STOP_SENT] = "sent",
};
DEFINE_STRING_TABLE(state_stop, StateStop, _STATE_STOP_MAX)

void state_init(State *s) {
        *s = (State) {
                .phase = CYCLE_PHASE_IDLE,
                .step = SLEEP_STEP_UNKNOWN,
                .mem_sleep_restore = _MEM_SLEEP_INVALID,
        };
}

void state_done(State *s) {
        if (!s)
                return;
        for (size_t i = 0; i < s->n_domains; i++) {
                free(s->domains[i].name);
                free(s->domains[i].xml);
        }
        free(s->domains);
        state_init(s);
}

/* 8-4-4-4-12 hex digits, as virDomainGetUUIDString() prints them. */
bool uuid_string_valid(const char *uuid) {
        if (strlen(uuid) != UUID_STRING_MAX - 1)
                return false;
        for (size_t i = 0; i < UUID_STRING_MAX - 1; i++) {
                bool dash = i == 8 || i == 13 || i == 18 || i == 23;

                if (dash ? uuid[i] != '-' : !isxdigit((unsigned char) uuid[i]))
                        return false;
        }
        return true;
}

StateDomain *state_find_domain(State *s, const char *uuid) {
        for (size_t i = 0; i < s->n_domains; i++)
                if (strcasecmp(s->domains[i].uuid, uuid) == 0)
                        return &s->domains[i];
        return NULL;
}

int state_add_domain(State *s, const char *uuid, const char *name, const char *xml, bool persistent) {
        _cleanup_(freep) char *name_copy = NULL, *xml_copy = NULL;
        StateDomain *grown;

        if (!uuid_string_valid(uuid) || !name)
                return -EINVAL;
        if (state_find_domain(s, uuid))
                return -EEXIST;
        name_copy = strdup(name);
        xml_copy = xml ? strdup(xml) : NULL;
        if (!name_copy || (xml && !xml_copy))
                return -ENOMEM;
        grown = reallocarray(s->domains, s->n_domains + 1, sizeof(StateDomain));
        if (!grown)
                return -ENOMEM;
        s->domains = grown;
        grown = &s->domains[s->n_domains++];
        *grown = (StateDomain) {
                .name = TAKE_PTR(name_copy),
                .xml = TAKE_PTR(xml_copy),
                .persistent = persistent,
        };
        memcpy(grown->uuid, uuid, UUID_STRING_MAX);
        return 0;
}

/* 32 lowercase hex digits, as sd_id128_to_string() prints them. */
bool id128_string_valid(const char *id) {
        return strlen(id) == ID128_STRING_MAX - 1 && strspn(id, "0123456789abcdef") == ID128_STRING_MAX - 1;
}

/* The version s is written as: 1 without a cycle id (and then none of what only version 2
 * can say: refusing beats silently dropping it), 2 with both ids well-formed. */
static int state_version(const State *s) {
        if (!isempty(s->cycle_id))
                return id128_string_valid(s->cycle_id) && id128_string_valid(s->boot_id) ? STATE_VERSION : -EINVAL;
        if (!isempty(s->boot_id) || s->drained || s->generation > 0)
                return -EINVAL;
        for (size_t i = 0; i < s->n_domains; i++)
                if (s->domains[i].drained || s->domains[i].stop != STATE_STOP_SEEN)
                        return -EINVAL;
        return 1;
}

/* ---- serialising */

static int json_add(json_object *o, const char *key, json_object *v) {
        if (!v)
                return -ENOMEM;
        if (json_object_object_add(o, key, v) < 0) {
                json_object_put(v);
                return -ENOMEM;
        }
        return 0;
}

/* json-c spells null as a NULL object, so it cannot go through json_add(). */
static int json_add_string_or_null(json_object *o, const char *key, const char *s) {
        if (s)
                return json_add(o, key, json_object_new_string(s));
        return json_object_object_add(o, key, NULL) < 0 ? -ENOMEM : 0;
}

static int domain_to_json(const StateDomain *d, bool v2, json_object **ret) {
        _cleanup_(json_object_putp) json_object *o = json_object_new_object();
        int r;

        if (!o)
                return -ENOMEM;
        r = json_add(o, "uuid", json_object_new_string(d->uuid));
        if (r >= 0)
                r = json_add(o, "name", json_object_new_string(d->name));
        if (r >= 0)
                r = json_add(o, "persistent", json_object_new_boolean(d->persistent));
        if (r >= 0)
                r = json_add(o, "started", json_object_new_boolean(d->started));
        if (r >= 0 && v2)
                r = json_add(o, "drained", json_object_new_boolean(d->drained));
        if (r >= 0 && v2)
                r = json_add(o, "stop", json_object_new_string(state_stop_to_string(d->stop)));
        if (r >= 0)
                r = json_add_string_or_null(o, "xml", d->xml);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(o);
        return 0;
}

static int domains_to_json(const State *s, bool v2, json_object **ret) {
        _cleanup_(json_object_putp) json_object *a = json_object_new_array();

        if (!a)
                return -ENOMEM;
        for (size_t i = 0; i < s->n_domains; i++) {
                json_object *d;
                int r;

                r = domain_to_json(&s->domains[i], v2, &d);
                if (r < 0)
                        return r;
                if (json_object_array_add(a, d) < 0) {
                        json_object_put(d);
                        return -ENOMEM;
                }
        }
        *ret = TAKE_PTR(a);
        return 0;
}

static int state_ids_to_json(json_object *o, const State *s) {
        int r = json_add(o, "cycle_id", json_object_new_string(s->cycle_id));

        if (r >= 0)
                r = json_add(o, "boot_id", json_object_new_string(s->boot_id));
        if (r >= 0)
                r = json_add(o, "generation", json_object_new_uint64(s->generation));
        if (r >= 0)
                r = json_add(o, "drained", json_object_new_boolean(s->drained));
        return r;
}

static int state_to_json(const State *s, json_object **ret) {
        _cleanup_(json_object_putp) json_object *o = json_object_new_object();
        const char *phase = cycle_phase_to_string(s->phase), *step = sleep_step_to_string(s->step);
        int version = state_version(s);
        json_object *domains = NULL;
        int r;

        if (!o)
                return -ENOMEM;
        if (!phase || !step || version < 0)
                return -EINVAL;
        r = json_add(o, "version", json_object_new_int(version));
        if (r >= 0 && version >= 2)
                r = state_ids_to_json(o, s);
        if (r >= 0)
                r = json_add(o, "phase", json_object_new_string(phase));
        if (r >= 0)
                r = json_add(o, "step", json_object_new_string(step));
        if (r >= 0)
                r = json_add_string_or_null(o, "mem_sleep_restore", mem_sleep_to_string(s->mem_sleep_restore));
        if (r >= 0)
                r = json_add(o, "started_realtime_usec", json_object_new_uint64(s->started_realtime_usec));
        if (r >= 0)
                r = domains_to_json(s, version >= 2, &domains);
        if (r >= 0)
                r = json_add(o, "domains", domains);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(o);
        return 0;
}

int state_to_json_string(const State *s, char **ret) {
        _cleanup_(json_object_putp) json_object *o = NULL;
        const char *text;
        int r;

        r = state_to_json(s, &o);
        if (r < 0)
                return r;
        /* Pretty: an operator reads this file when a cycle went wrong. */
        text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
                                                 JSON_C_TO_STRING_NOSLASHESCAPE);
        if (!text || asprintf(ret, "%s\n", text) < 0)
                return -ENOMEM;
        return 0;
}

/* ---- parsing: anything unexpected is -EBADMSG; unknown keys are ignored so that a
 * newer tdsleepd's extra fields do not make an older one drop a cycle in progress. */

static json_object *json_get(json_object *o, const char *key, json_type type) {
        json_object *v;

        if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, type))
                return NULL;
        return v;
}

/* A key that must be present and hold a string or null; *ret = NULL for null. */
static int json_get_nullable_string(json_object *o, const char *key, const char **ret) {
        json_object *v;

        if (!json_object_object_get_ex(o, key, &v))
                return -EBADMSG;
        if (!v) {
                *ret = NULL;
                return 0;
        }
        if (!json_object_is_type(v, json_type_string))
                return -EBADMSG;
        *ret = json_object_get_string(v);
        return 0;
}

static int domain_from_json(State *s, json_object *d, bool v2) {
        json_object *uuid, *name, *persistent, *started, *drained = NULL, *stop = NULL;
        StateStop how = STATE_STOP_SEEN;
        const char *xml;
        int r;

        if (!json_object_is_type(d, json_type_object))
                return -EBADMSG;
        uuid = json_get(d, "uuid", json_type_string);
        name = json_get(d, "name", json_type_string);
        persistent = json_get(d, "persistent", json_type_boolean);
        started = json_get(d, "started", json_type_boolean);
        if (v2 && !(drained = json_get(d, "drained", json_type_boolean)))
                return -EBADMSG;
        /* "stop" came after the first version-2 files: absent means seen, as before. */
        if (v2 && json_object_object_get_ex(d, "stop", NULL)) {
                stop = json_get(d, "stop", json_type_string);
                how = stop ? state_stop_from_string(json_object_get_string(stop)) : _STATE_STOP_INVALID;
                if (how < 0)
                        return -EBADMSG;
        }
        if (!uuid || !name || !persistent || !started || json_get_nullable_string(d, "xml", &xml) < 0)
                return -EBADMSG;
        r = state_add_domain(s, json_object_get_string(uuid), json_object_get_string(name), xml,
                             json_object_get_boolean(persistent));
        if (r == -EINVAL || r == -EEXIST)       /* bad uuid, duplicate uuid */
                return -EBADMSG;
        if (r < 0)
                return r;
        s->domains[s->n_domains - 1].started = json_object_get_boolean(started);
        s->domains[s->n_domains - 1].drained = drained && json_object_get_boolean(drained);
        s->domains[s->n_domains - 1].stop = how;
        return 0;
}

/* A string key holding an id128 (32 lowercase hex digits), copied to ret. */
static int json_get_id128(json_object *o, const char *key, char ret[static ID128_STRING_MAX]) {
        json_object *v = json_get(o, key, json_type_string);

        if (!v || !id128_string_valid(json_object_get_string(v)))
                return -EBADMSG;
        memcpy(ret, json_object_get_string(v), ID128_STRING_MAX);
        return 0;
}

/* The keys version 2 added; a version-1 file has none: no ids, generation 0, not drained. */
static int state_v2_from_json(State *s, json_object *o) {
        json_object *generation = json_get(o, "generation", json_type_int);
        json_object *drained = json_get(o, "drained", json_type_boolean);

        if (json_get_id128(o, "cycle_id", s->cycle_id) < 0 || json_get_id128(o, "boot_id", s->boot_id) < 0)
                return -EBADMSG;
        if (!generation || !drained || json_object_get_int64(generation) < 0)
                return -EBADMSG;
        s->generation = json_object_get_uint64(generation);
        s->drained = json_object_get_boolean(drained);
        return 0;
}

static int state_header_from_json(State *s, json_object *o, int64_t *ret_version) {
        json_object *version = json_get(o, "version", json_type_int);
        json_object *phase = json_get(o, "phase", json_type_string);
        json_object *step = json_get(o, "step", json_type_string);
        json_object *realtime = json_get(o, "started_realtime_usec", json_type_int);
        const char *restore;

        if (!version || !phase || !step || !realtime)
                return -EBADMSG;
        *ret_version = json_object_get_int64(version);
        if (*ret_version != 1 && *ret_version != STATE_VERSION)
                return -EBADMSG;
        if (*ret_version >= 2 && state_v2_from_json(s, o) < 0)
                return -EBADMSG;
        if (json_object_get_int64(realtime) < 0 || json_get_nullable_string(o, "mem_sleep_restore", &restore) < 0)
                return -EBADMSG;
        s->phase = cycle_phase_from_string(json_object_get_string(phase));
        s->step = sleep_step_from_string(json_object_get_string(step));
        s->mem_sleep_restore = restore ? mem_sleep_from_string(restore) : _MEM_SLEEP_INVALID;
        s->started_realtime_usec = (uint64_t) json_object_get_int64(realtime);
        if (s->phase < 0 || s->step < 0 || (restore && s->mem_sleep_restore < 0))
                return -EBADMSG;
        return 0;
}

static int state_from_json(json_object *o, State *ret) {
        _cleanup_(state_done) State s;
        json_object *domains;
        int64_t version;
        int r;

        state_init(&s);
        if (!json_object_is_type(o, json_type_object))
                return -EBADMSG;
        r = state_header_from_json(&s, o, &version);
        if (r < 0)
                return r;
        domains = json_get(o, "domains", json_type_array);
        if (!domains)
                return -EBADMSG;
        for (size_t i = 0; i < json_object_array_length(domains); i++) {
                r = domain_from_json(&s, json_object_array_get_idx(domains, i), version >= 2);
                if (r < 0)
                        return r;
        }
        *ret = s;
        state_init(&s);
        return 0;
}

/* One JSON value filling all of text[0..size) but trailing white space. */
static int json_parse_whole(const char *text, size_t size, json_object **ret) {
        _cleanup_(json_object_putp) json_object *o = NULL;
        size_t end;
        int r;

        if (size == 0 || size > INT32_MAX || strlen(text) != size)
                return -EBADMSG;
        r = json_parse_strict(text, size, JSON_TOKENER_DEFAULT_DEPTH, false, &o, &end);
        if (r < 0)
                return r;
        if (text[end + strspn(text + end, " \t\r\n")] != '\0')
                return -EBADMSG;
        *ret = TAKE_PTR(o);
        return 0;
}

int state_from_json_string(const char *text, State *ret) {
        _cleanup_(json_object_putp) json_object *o = NULL;
        int r;

        r = json_parse_whole(text, strlen(text), &o);
        if (r < 0)
                return r;
        return state_from_json(o, ret);
}

/* ---- the file */

static int write_tmp(int dfd, const char *text) {
        _cleanup_(closep) int fd = -1;
        int r;

        fd = openat(dfd, STATE_TMP_NAME, O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0)
                return -errno;
        /* O_TRUNC keeps the mode of a stale temp file: make sure nobody else reads the XML. */
        if (fchmod(fd, 0600) < 0)
                return -errno;
        r = write_all(fd, text, strlen(text));
        if (r < 0)
                return r;
        if (fsync(fd) < 0)
                return -errno;
        if (close(TAKE_FD(fd)) < 0)
                return -errno;
        return 0;
}

int state_save(const char *dir, const State *s) {
        _cleanup_(freep) char *text = NULL;
        _cleanup_(closep) int dfd = -1;
        int r;

        r = state_to_json_string(s, &text);
        if (r < 0)
                return r;
        dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0)
                return -errno;
        r = write_tmp(dfd, text);
        if (r >= 0 && renameat(dfd, STATE_TMP_NAME, dfd, STATE_FILE_NAME) < 0)
                r = -errno;
        if (r < 0) {
                (void) unlinkat(dfd, STATE_TMP_NAME, 0);
                return r;
        }
        /* Make the rename itself durable. */
        if (fsync(dfd) < 0)
                return -errno;
        return 0;
}

int state_move_aside(const char *dir, const char *why, char **ret_moved_to) {
        _cleanup_(freep) char *from = NULL, *to = NULL;
        _cleanup_(closep) int dfd = -1;

        if (asprintf(&from, "%s/" STATE_FILE_NAME, dir) < 0 ||
            asprintf(&to, "%s/" STATE_FILE_NAME ".%s-%" PRIu64, dir, why, now_realtime_usec()) < 0)
                return -ENOMEM;
        if (rename(from, to) < 0)
                return -errno;
        dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd >= 0)
                (void) fsync(dfd);
        if (ret_moved_to)
                *ret_moved_to = TAKE_PTR(to);
        return 0;
}

/* Keep a corrupt file for the operator instead of dropping what it said. */
static int state_move_aside_corrupt(const char *dir, char **ret_moved_to) {
        int r = state_move_aside(dir, "corrupt", ret_moved_to);

        return r < 0 ? r : -EBADMSG;
}

int state_load(const char *dir, State *ret, char **ret_moved_to) {
        _cleanup_(json_object_putp) json_object *o = NULL;
        _cleanup_(freep) char *path = NULL, *text = NULL;
        size_t size = 0;
        int r;

        if (asprintf(&path, "%s/" STATE_FILE_NAME, dir) < 0)
                return -ENOMEM;
        r = read_full_file(path, STATE_FILE_MAX, &text, &size);
        if (r == -EFBIG)
                return state_move_aside_corrupt(dir, ret_moved_to);
        if (r < 0)
                return r;
        r = json_parse_whole(text, size, &o);
        if (r >= 0)
                r = state_from_json(o, ret);
        if (r == -EBADMSG)
                return state_move_aside_corrupt(dir, ret_moved_to);
        return r;
}

int state_clear(const char *dir) {
        _cleanup_(closep) int dfd = -1;

        dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0)
                return -errno;
        if (unlinkat(dfd, STATE_FILE_NAME, 0) < 0 && errno != ENOENT)
                return -errno;
        /* A temp file left by a crash mid-save holds nothing anyone will read. */
        (void) unlinkat(dfd, STATE_TMP_NAME, 0);
        if (fsync(dfd) < 0)
                return -errno;
        return 0;
}
