/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <systemd/sd-id128.h>

#include "fdstore.h"
#include "log.h"
#include "messages.h"
#include "record-internal.h"

/* The state file's own limit: a copy in the fd store is the same text. */
#define RECORD_TEXT_MAX (64 * 1024 * 1024)
#define MARKER_TEXT_MAX 4096

/* At crit, with the MESSAGE_ID an operator looks for when the record is in danger. */
#define log_degraded_errno(e, ...) \
        log_internal(LOG_CRIT, (e), ((const char *[]) { MESSAGE_RECORD_DEGRADED, NULL }), __VA_ARGS__)


int record_new(const char *dir, Record **ret) {
        _cleanup_(record_freep) Record *r = calloc(1, sizeof(Record));

        if (!r)
                return -ENOMEM;
        *r = (Record) {
                .copy = FDSTORE_SLOT_INIT(RECORD_FDNAME, RECORD_FDNAME "-2"),
                .marker = FDSTORE_SLOT_INIT(RECORD_FINISHED_FDNAME, RECORD_FINISHED_FDNAME "-2"),
        };
        r->dir = strdup(dir);
        if (!r->dir)
                return -ENOMEM;
        *ret = TAKE_PTR(r);
        return 0;
}

Record *record_free(Record *r) {
        if (!r)
                return NULL;
        fdstore_slot_done(&r->copy);
        fdstore_slot_done(&r->marker);
        record_failed_names_done(r);
        free(r->dir);
        return mfree(r);
}

bool record_degraded(const Record *r) {
        return r->degraded;
}

const char *record_dir(const Record *r) {
        return r->dir;
}

/* ---- the finished marker: "generation=N" then one cycle id per line */

static bool finished_has(const Record *r, const char *id) {
        for (size_t i = 0; i < r->n_finished; i++)
                if (streq(r->finished[i], id))
                        return true;
        return false;
}

/* Newest last; when full, the oldest goes, but never the id of the file stuck on disk. */
static void finished_add(Record *r, const char *id) {
        if (isempty(id) || finished_has(r, id))
                return;
        if (r->n_finished == FINISHED_MAX) {
                size_t drop = streq(r->finished[0], r->disk_cycle_id) ? 1 : 0;

                memmove(r->finished[drop], r->finished[drop + 1], (FINISHED_MAX - drop - 1) * ID128_STRING_MAX);
                r->n_finished--;
        }
        memcpy(r->finished[r->n_finished++], id, ID128_STRING_MAX);
}

static int marker_parse(const char *text, uint64_t *ret_generation, Record *into) {
        _cleanup_(freep) char *copy = strdup(text);
        char *save = NULL, *line;
        uint64_t generation;
        int n = 0;

        if (!copy)
                return -ENOMEM;
        line = strtok_r(copy, "\n", &save);
        if (!line || sscanf(line, "generation=%" SCNu64 "%n", &generation, &n) != 1 || line[n] != '\0')
                return -EBADMSG;
        while ((line = strtok_r(NULL, "\n", &save))) {
                if (!id128_string_valid(line))
                        return -EBADMSG;
                if (into)
                        finished_add(into, line);
        }
        *ret_generation = generation;
        return 0;
}

/* The marker is kept in the runtime directory too ($RUNTIME_DIRECTORY, /run/tdsleep under
 * the unit, which keeps it with RuntimeDirectoryPreserve=yes until the next boot): systemd
 * empties the fd store when the service is stopped, and an operator's stop and start must
 * not replay a finished cycle whose file a read-only disk kept. */
static char *runtime_marker_path(void) {
        const char *dir = getenv("RUNTIME_DIRECTORY");
        char *path = NULL;

        if (isempty(dir))
                return NULL;
        if (asprintf(&path, "%.*s/finished-cycles", (int) strcspn(dir, ":"), dir) < 0)
                return NULL;
        return path;
}

static int runtime_marker_write(const char *text) {
        _cleanup_(freep) char *path = runtime_marker_path(), *tmp = NULL;
        _cleanup_(fclosep) FILE *f = NULL;

        if (!path)
                return -ENOENT;
        if (asprintf(&tmp, "%s.tmp", path) < 0)
                return -ENOMEM;
        f = fopen(tmp, "we");
        if (!f)
                return negative_errno();
        if (fputs(text, f) < 0 || fflush(f) != 0)
                return -EIO;
        return rename(tmp, path) < 0 ? negative_errno() : 0;
}

static void runtime_marker_read(Record *r) {
        _cleanup_(freep) char *path = runtime_marker_path(), *text = NULL;
        _cleanup_(fclosep) FILE *f = NULL;
        uint64_t generation = 0;
        size_t n = 0;

        f = path ? fopen(path, "re") : NULL;
        if (!f)
                return;
        text = calloc(1, MARKER_TEXT_MAX + 1);
        if (text)
                n = fread(text, 1, MARKER_TEXT_MAX, f);
        if (!text || n == 0 || marker_parse(text, &generation, r) < 0)
                log_warning("The finished marker %s is unreadable, ignoring", path);
        else if (generation > r->generation)
                r->generation = generation;
}

/* The finished cycles' files are gone: neither marker is needed any more. */
static int marker_drop(Record *r) {
        _cleanup_(freep) char *path = runtime_marker_path();

        if (path)
                (void) unlink(path);
        return fdstore_slot_drop(&r->marker);
}

static int marker_format(const Record *r, uint64_t generation, char **ret) {
        /* "generation=" and up to 20 digits and "\n", then 32 hex digits and "\n" each, NUL. */
        size_t size = 64 + r->n_finished * ID128_STRING_MAX;
        _cleanup_(freep) char *text = malloc(size);
        size_t n;

        if (!text)
                return -ENOMEM;
        n = (size_t) snprintf(text, size, "generation=%" PRIu64 "\n", generation);
        for (size_t i = 0; i < r->n_finished; i++)
                n += (size_t) snprintf(text + n, size - n, "%s\n", r->finished[i]);
        *ret = TAKE_PTR(text);
        return 0;
}

/* ---- adopting what systemd hands back */

static uint64_t copy_generation(int fd) {
        _cleanup_(freep) char *text = NULL;
        _cleanup_(state_done) State s;

        state_init(&s);
        if (sealed_memfd_read(fd, RECORD_TEXT_MAX, &text) < 0 || state_from_json_string(text, &s) < 0)
                return 0;       /* unreadable: loses against any readable copy; load says why */
        return s.generation;
}

int record_adopt_fd(Record *r, const char *name, int fd) {
        _cleanup_(freep) char *text = NULL;
        uint64_t generation = 0;
        int i;

        if ((i = fdstore_slot_index(&r->copy, name)) >= 0) {
                generation = copy_generation(fd);
                fdstore_slot_adopt(&r->copy, i, fd, generation);
        } else if ((i = fdstore_slot_index(&r->marker, name)) >= 0) {
                if (sealed_memfd_read(fd, MARKER_TEXT_MAX, &text) < 0 || marker_parse(text, &generation, r) < 0)
                        log_warning("The finished marker %s in systemd's fd store is unreadable, ignoring", name);
                fdstore_slot_adopt(&r->marker, i, fd, generation);
        } else
                return 0;
        if (generation > r->generation)
                r->generation = generation;
        return 1;
}

/* ---- loading */

static int boot_id_now(char ret[static ID128_STRING_MAX]) {
        sd_id128_t id;
        int r = sd_id128_get_boot(&id);

        if (r < 0)
                return r;
        sd_id128_to_string(id, ret);
        return 0;
}

/* The names of a record's TDs, "a, b, c", for the operator. */
static char *state_names(const State *s) {
        size_t size = 1;
        char *names;

        for (size_t i = 0; i < s->n_domains; i++)
                size += strlen(s->domains[i].name) + 2;
        names = calloc(1, size);
        if (!names)
                return NULL;
        for (size_t i = 0; i < s->n_domains; i++) {
                if (i > 0)
                        strcat(names, ", ");
                strcat(names, s->domains[i].name);
        }
        return names;
}

/* The disk copy: 1 with *ret filled, 0 if there is none (or it was corrupt and moved aside),
 * negative errno if it could not be read. */
static int load_disk(Record *r, State *ret) {
        _cleanup_(freep) char *moved = NULL;
        int k = state_load(r->dir, ret, &moved);

        if (k == -ENOENT)
                return 0;
        if (k == -EBADMSG) {
                log_struct(LOG_CRIT, ((const char *[]) { MESSAGE_TD_START_FAILED, NULL }),
                           "The state file in %s was corrupt and has been moved to %s. TDs stopped by an "
                           "interrupted cycle may need to be started by hand; see that file",
                           r->dir, strna(moved));
                return 0;
        }
        if (k < 0)
                return k;
        memcpy(r->disk_cycle_id, ret->cycle_id, ID128_STRING_MAX);
        if (ret->generation > r->generation)
                r->generation = ret->generation;
        return 1;
}

/* The newest fd-store copy: 1 with *ret filled, 0 if there is none or it is unreadable. */
static int load_fd_copy(Record *r, State *ret) {
        _cleanup_(freep) char *text = NULL;
        int i = fdstore_slot_newest(&r->copy), k;

        if (i < 0)
                return 0;
        k = sealed_memfd_read(r->copy.fd[i], RECORD_TEXT_MAX, &text);
        if (k >= 0)
                k = state_from_json_string(text, ret);
        if (k < 0) {
                log_degraded_errno(k, "The copy of the record in systemd's fd store is unreadable (%s); dropping it",
                                   STRERROR(k));
                (void) fdstore_slot_drop(&r->copy);
                return 0;
        }
        return 1;
}

/* A file of a finished cycle stayed because the disk refused: remove it now if it lets us. */
static void discard_finished_disk(Record *r, const State *s) {
        int k = state_clear(r->dir);

        if (k < 0) {
                log_warning("The record of finished cycle %s stays in %s (%s): the fd store's marker keeps it "
                            "from being replayed", s->cycle_id, r->dir, STRERROR(k));
                r->degraded = true;     /* the disk still refuses what the record needs of it */
                return;
        }
        log_notice("Removed the record of finished cycle %s from %s", s->cycle_id, r->dir);
        r->disk_cycle_id[0] = '\0';
        if (marker_drop(r) >= 0)
                r->n_finished = 0;
}

/* TDs that an earlier boot's tdsleepd stopped: their guests are long gone; starting them now
 * would surprise whoever runs the host since. Say so loudly, keep the file, go on. */
static void discard_earlier_boot(Record *r, const State *s, bool on_disk) {
        _cleanup_(freep) char *names = state_names(s), *moved = NULL;
        int k = on_disk ? state_move_aside(r->dir, "earlier-boot", &moved) : 0;

        log_struct(LOG_CRIT, ((const char *[]) { MESSAGE_RECORD_EARLIER_BOOT, NULL }),
                   "The record of cycle %s comes from an earlier boot (%s); its TDs are not started "
                   "automatically: %s. %s%s", s->cycle_id, s->boot_id, strna(names),
                   on_disk ? (k < 0 ? "It could not be moved aside: " : "It was moved to ") : "",
                   on_disk ? (k < 0 ? STRERROR(k) : moved) : "");
        if (on_disk)
                r->disk_cycle_id[0] = '\0';
        else
                (void) fdstore_slot_drop(&r->copy);
}

/* 1 if s is a cycle to go on with, 0 if it was finished or from another boot (and handled). */
static int record_check(Record *r, const State *s, const char *boot, bool on_disk) {
        if (!isempty(s->cycle_id) && finished_has(r, s->cycle_id)) {
                if (on_disk)
                        discard_finished_disk(r, s);
                else
                        (void) fdstore_slot_drop(&r->copy);
                return 0;
        }
        /* A version-1 file has no boot id: it is taken as this boot's, as it was before
         * version 2 existed. No boot id now (no /proc?): we cannot tell, so we go on. */
        if (!isempty(s->boot_id) && !isempty(boot) && !streq(s->boot_id, boot)) {
                discard_earlier_boot(r, s, on_disk);
                return 0;
        }
        return 1;
}

static bool state_idle(const State *s) {
        return s->phase == CYCLE_PHASE_IDLE && !s->drained;
}

int record_load(Record *r, State *ret) {
        _cleanup_(state_done) State disk, fd;
        char boot[ID128_STRING_MAX] = "";
        int on_disk, in_store, k;

        state_init(&disk);
        state_init(&fd);
        k = boot_id_now(boot);
        if (k < 0)
                log_warning("Cannot read the boot id (%s): taking every record as this boot's", STRERROR(k));
        /* A crash between storing a new copy and dropping the old left both: the newer wins. */
        fdstore_slot_prune(&r->copy);
        fdstore_slot_prune(&r->marker);
        runtime_marker_read(r);

        on_disk = load_disk(r, &disk);
        in_store = load_fd_copy(r, &fd);
        if (on_disk < 0 && in_store <= 0)
                return log_error_errno(on_disk, "Failed to read the record in %s: %s", r->dir, STRERROR(on_disk));
        if (on_disk < 0)
                log_degraded_errno(on_disk, "Failed to read the record in %s (%s): going on with the copy in "
                                   "systemd's fd store", r->dir, STRERROR(on_disk));
        if (on_disk > 0)
                on_disk = record_check(r, &disk, boot, true);
        if (in_store > 0)
                in_store = record_check(r, &fd, boot, false);

        /* Equal generations are the same save: the disk copy is then the one that counts. */
        if (in_store > 0 && (on_disk <= 0 || fd.generation > disk.generation)) {
                r->degraded = true;     /* the disk lags behind: the next save tries it again */
                log_notice("Going on with the record of cycle %s kept in systemd's fd store (generation %" PRIu64
                           "): the copy in %s is older or missing", fd.cycle_id, fd.generation, r->dir);
                if (state_idle(&fd))
                        return -ENOENT;
                *ret = fd;
                state_init(&fd);
                return 0;
        }
        if (on_disk <= 0 || state_idle(&disk))
                return -ENOENT;
        *ret = disk;
        state_init(&disk);
        return 0;
}

/* ---- saving */

static int record_fill_ids(State *s) {
        sd_id128_t id;
        int k;

        if (isempty(s->cycle_id)) {
                k = sd_id128_randomize(&id);
                if (k < 0)
                        return k;
                sd_id128_to_string(id, s->cycle_id);
        }
        if (isempty(s->boot_id))
                return boot_id_now(s->boot_id);
        return 0;
}

/* The disk holds the newest record again (or none is needed): the fd store's copies of
 * older states would only mislead a restart. */
static void record_back_on_disk(Record *r) {
        int k = fdstore_slot_drop(&r->copy);

        if (k < 0)      /* harmless while the disk copy is newer; record_finish() tries again */
                log_warning("Failed to drop the record's copy from systemd's fd store, ignoring: %s", STRERROR(k));
        if (r->degraded && k >= 0) {
                log_notice("The state directory %s takes the record again; the copy in systemd's fd store "
                           "was dropped", r->dir);
                r->degraded = false;
        }
}

static int record_save_fd_store(Record *r, const State *s, int disk_error) {
        _cleanup_(freep) char *text = NULL;
        int fd = -1, k;

        k = state_to_json_string(s, &text);
        if (k >= 0)
                k = sealed_memfd_new("tdsleep-" RECORD_FDNAME, text, &fd);
        if (k >= 0)
                k = fdstore_slot_replace(&r->copy, fd, s->generation);
        if (k < 0) {
                r->degraded = true;
                return log_degraded_errno(k, "Failed to write the record of cycle %s in %s (%s), and to keep a copy "
                                          "in systemd's fd store (%s): a restart now would not know which TDs to "
                                          "start again", s->cycle_id, r->dir, STRERROR(disk_error), STRERROR(k));
        }
        if (!r->degraded)
                log_degraded_errno(disk_error, "The state directory %s refuses the record of cycle %s (%s): keeping "
                                   "it in systemd's fd store instead, which a restart of tdsleepd finds but a "
                                   "reboot loses", r->dir, s->cycle_id, STRERROR(disk_error));
        r->degraded = true;
        return RECORD_IN_FD_STORE;
}

int record_save(Record *r, State *s) {
        int k = record_fill_ids(s);

        if (k < 0)
                return log_degraded_errno(k, "Failed to make a cycle or boot id (%s): the record was not written",
                                          STRERROR(k));
        s->generation = (s->generation > r->generation ? s->generation : r->generation) + 1;
        r->generation = s->generation;
        k = state_save(r->dir, s);
        if (k == -ENOMEM || k == -EINVAL)       /* not the disk's fault: the fd store would not help */
                return log_degraded_errno(k, "Failed to write the record of cycle %s: %s", s->cycle_id, STRERROR(k));
        if (k < 0)
                return record_save_fd_store(r, s, k);
        memcpy(r->disk_cycle_id, s->cycle_id, ID128_STRING_MAX);
        /* The file of a finished cycle that the marker stood for has just been replaced. */
        if (r->n_finished > 0 && marker_drop(r) >= 0)
                r->n_finished = 0;
        record_back_on_disk(r);
        return RECORD_ON_DISK;
}

/* ---- finishing */

/* The file of a finished cycle stays on disk: name it (and the cycle just finished) in the fd
 * store's marker, so that a restart never replays it. */
static int record_mark_finished(Record *r, const State *s, int disk_error) {
        _cleanup_(freep) char *text = NULL;
        bool runtime = false;
        int fd = -1, k;

        finished_add(r, r->disk_cycle_id);
        finished_add(r, s->cycle_id);
        k = marker_format(r, ++r->generation, &text);
        if (k >= 0 && runtime_marker_write(text) >= 0)
                runtime = true;
        if (k >= 0)
                k = sealed_memfd_new("tdsleep-" RECORD_FINISHED_FDNAME, text, &fd);
        if (k >= 0)
                k = fdstore_slot_replace(&r->marker, fd, r->generation);
        if (k < 0 && runtime)
                k = 0;          /* the runtime directory's copy is enough not to replay it */
        if (k < 0) {
                r->degraded = true;
                return log_degraded_errno(k, "The record of finished cycle %s could not be removed from %s (%s), nor "
                                          "marked finished in systemd's fd store (%s): a restart of tdsleepd would "
                                          "start its TDs again", s->cycle_id, r->dir, STRERROR(disk_error),
                                          STRERROR(k));
        }
        if (!r->degraded)
                log_degraded_errno(disk_error, "The record of finished cycle %s could not be removed from %s (%s): "
                                   "it is marked finished in systemd's fd store and is never replayed",
                                   s->cycle_id, r->dir, STRERROR(disk_error));
        r->degraded = true;
        return 0;
}

int record_finish(Record *r, const State *s) {
        int copy = fdstore_slot_drop(&r->copy);
        int disk = state_clear(r->dir);

        if (disk == -ENOENT)    /* no state directory: no file either */
                disk = 0;
        if (disk >= 0) {
                r->disk_cycle_id[0] = '\0';
                if (r->n_finished > 0 && marker_drop(r) >= 0)
                        r->n_finished = 0;
        }
        if (disk >= 0 && copy >= 0) {
                if (r->degraded)
                        log_notice("The record of cycle %s is removed from %s and from systemd's fd store",
                                   s->cycle_id, r->dir);
                r->degraded = false;
                return 0;
        }
        /* A copy that could not be dropped from the store would be replayed too. */
        return record_mark_finished(r, s, disk < 0 ? disk : copy);
}
