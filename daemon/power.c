/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <fcntl.h>
#include <stdarg.h>
#include <string.h>

#include "macros.h"
#include "parse-util.h"
#include "power.h"

#define POWER_FILE_MAX (64 * 1024)
/* /proc/cpuinfo grows with the CPU count: a few KiB per CPU on big hosts. */
#define CPUINFO_FILE_MAX (64 * 1024 * 1024)
#define WORD_DELIMITERS " \t\n"

static const char *const mem_sleep_table[_MEM_SLEEP_MAX] = {
        [MEM_SLEEP_S2IDLE] = "s2idle",
        [MEM_SLEEP_SHALLOW] = "shallow",
        [MEM_SLEEP_DEEP] = "deep",
};
DEFINE_STRING_TABLE(mem_sleep, MemSleep, _MEM_SLEEP_MAX)

static const char *const power_state_table[_POWER_STATE_MAX] = {
        [POWER_STATE_FREEZE] = "freeze",
        [POWER_STATE_STANDBY] = "standby",
        [POWER_STATE_MEM] = "mem",
        [POWER_STATE_DISK] = "disk",
};
DEFINE_STRING_TABLE(power_state, PowerState, _POWER_STATE_MAX)

/* On failure *ret_bad (if given) gets the offending word; caller frees. */
static int parse_state_words(const char *text, unsigned *ret_states, char **ret_bad) {
        _cleanup_(freep) char *copy = strdup(text);
        unsigned states = 0;
        char *save = NULL;

        if (!copy)
                return -ENOMEM;
        for (char *w = strtok_r(copy, WORD_DELIMITERS, &save); w; w = strtok_r(NULL, WORD_DELIMITERS, &save)) {
                PowerState s = power_state_from_string(w);

                if (s < 0) {
                        if (ret_bad)
                                *ret_bad = strdup(w);
                        return -EINVAL;
                }
                states |= POWER_MASK(s);
        }
        *ret_states = states;
        return 0;
}

int power_parse_state(const char *text, unsigned *ret_states) {
        return parse_state_words(text, ret_states, NULL);
}

/* One word of mem_sleep: "deep" or "[deep]". Strips the brackets from *w and sets
 * *bracketed; -EINVAL when unbalanced or not a known label. */
static MemSleep mem_sleep_word(char **w, bool *bracketed) {
        char *s = *w;
        size_t n = strlen(s);
        bool open = s[0] == '[', close = n > 0 && s[n - 1] == ']';

        if (open != close || (open && n < 3))
                return _MEM_SLEEP_INVALID;
        if (strpbrk(s + open, "[]") != (open ? s + n - 1 : NULL))
                return _MEM_SLEEP_INVALID;
        if (open) {
                s[n - 1] = '\0';
                *w = s + 1;
        }
        *bracketed = open;
        return mem_sleep_from_string(*w);
}

static int parse_mem_sleep_words(const char *text, unsigned *ret_available, MemSleep *ret_selected,
                                 char **ret_bad) {
        _cleanup_(freep) char *copy = strdup(text);
        MemSleep selected = _MEM_SLEEP_INVALID;
        unsigned available = 0;
        char *save = NULL;

        if (!copy)
                return -ENOMEM;
        for (char *w = strtok_r(copy, WORD_DELIMITERS, &save); w; w = strtok_r(NULL, WORD_DELIMITERS, &save)) {
                bool bracketed = false;
                MemSleep m = mem_sleep_word(&w, &bracketed);

                if (m < 0 || (bracketed && selected >= 0)) {
                        if (ret_bad)
                                *ret_bad = strdup(w);
                        return m < 0 ? -EINVAL : -ENOTUNIQ;
                }
                available |= POWER_MASK(m);
                if (bracketed)
                        selected = m;
        }
        *ret_available = available;
        *ret_selected = selected;
        return 0;
}

int power_parse_mem_sleep(const char *text, unsigned *ret_available, MemSleep *ret_selected) {
        int r = parse_mem_sleep_words(text, ret_available, ret_selected, NULL);

        return r == -ENOTUNIQ ? -EINVAL : r;
}

int power_parse_swaps(const char *text, bool *ret_has_swap) {
        const char *nl;

        /* "Filename\tType\tSize\tUsed\tPriority", then one line per area. */
        if (strncmp(text, "Filename", 8) != 0 || !strchr(" \t", text[8]) || text[8] == '\0')
                return -EINVAL;
        nl = strchr(text, '\n');
        *ret_has_swap = nl && nl[1 + strspn(nl + 1, WORD_DELIMITERS)] != '\0';
        return 0;
}

static bool line_has_word(const char *line, size_t len, const char *word) {
        size_t n = strlen(word);

        for (const char *p = line; p + n <= line + len; p++) {
                bool starts = p == line || strchr(" \t", p[-1]);
                bool ends = p + n == line + len || strchr(" \t", p[n]);

                if (starts && ends && strncmp(p, word, n) == 0)
                        return true;
        }
        return false;
}

bool power_cpuinfo_has_flag(const char *text, const char *flag) {
        for (const char *line = text; line && *line; ) {
                const char *nl = strchr(line, '\n');
                size_t len = nl ? (size_t) (nl - line) : strlen(line);
                size_t key = strcspn(line, ":\n");

                /* "flags\t\t: fpu vme ..."; the key must be exactly "flags". */
                if (key < len && strncmp(line, "flags", 5) == 0 &&
                    strspn(line + 5, " \t") == key - 5 &&
                    line_has_word(line + key + 1, len - key - 1, flag))
                        return true;
                line = nl ? nl + 1 : NULL;
        }
        return false;
}

/* root + path with the root's trailing slashes dropped; "/" is the real system. */
static int power_path(const char *root, const char *path, char **ret) {
        size_t n = strlen(root);

        while (n > 0 && root[n - 1] == '/')
                n--;
        if (asprintf(ret, "%.*s%s", (int) n, root, path) < 0)
                return -ENOMEM;
        return 0;
}

static int read_below_root(const char *root, const char *path, size_t max, char **ret) {
        _cleanup_(freep) char *full = NULL;
        int r;

        r = power_path(root, path, &full);
        if (r < 0)
                return r;
        return read_full_file(full, max, ret, NULL);
}

int power_read_file(const char *root, const char *path, char **ret) {
        return read_below_root(root, path, POWER_FILE_MAX, ret);
}

int power_write_mem_sleep(const char *root, MemSleep m) {
        _cleanup_(freep) char *full = NULL, *line = NULL;
        _cleanup_(closep) int fd = -1;
        const char *label = mem_sleep_to_string(m);
        ssize_t k;
        int r;

        if (!label)
                return -EINVAL;
        r = power_path(root, "/sys/power/mem_sleep", &full);
        if (r < 0)
                return r;
        if (asprintf(&line, "%s\n", label) < 0)
                return -ENOMEM;
        /* No O_CREAT: the kernel provides the file; O_TRUNC is what "echo >" does too. */
        fd = open(full, O_WRONLY | O_TRUNC | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return -errno;
        k = write(fd, line, strlen(line));
        if (k < 0)
                return -errno;
        if ((size_t) k != strlen(line))
                return -EIO;
        return 0;
}

/* One file of the picture: its full path (for messages) and its text, NULL if an
 * optional file is absent. */
typedef struct PowerFile {
        char *path;
        char *text;
} PowerFile;

static void power_file_done(PowerFile *f) {
        free(f->path);
        free(f->text);
}

static int power_file_read(const char *root, const char *path, size_t max, bool optional,
                           PowerFile *f, char **ret_error) {
        int r;

        r = power_path(root, path, &f->path);
        if (r < 0)
                return r;
        r = read_full_file(f->path, max, &f->text, NULL);
        if (r == -ENOENT && optional)
                return 0;
        if (r == -EFBIG)
                return error_message(ret_error, -EINVAL, "%s: file too large", f->path);
        if (r < 0)
                return error_message(ret_error, r, "%s: %s", f->path, strerror(-r));
        return 0;
}

static int power_read_states(const char *root, PowerPicture *p, char **ret_error) {
        _cleanup_(power_file_done) PowerFile f = { .path = NULL };
        _cleanup_(freep) char *bad = NULL;
        int r;

        r = power_file_read(root, "/sys/power/state", POWER_FILE_MAX, false, &f, ret_error);
        if (r < 0)
                return r;
        r = parse_state_words(f.text, &p->states, &bad);
        if (r == -EINVAL)
                return error_message(ret_error, r, "%s: unknown state '%s'", f.path, strempty(bad));
        return r;
}

static int power_read_mem_sleep(const char *root, PowerPicture *p, char **ret_error) {
        _cleanup_(power_file_done) PowerFile f = { .path = NULL };
        _cleanup_(freep) char *bad = NULL;
        int r;

        p->mem_sleep_available = 0;
        p->mem_sleep_selected = _MEM_SLEEP_INVALID;
        r = power_file_read(root, "/sys/power/mem_sleep", POWER_FILE_MAX, true, &f, ret_error);
        if (r < 0 || !f.text)
                return r;
        r = parse_mem_sleep_words(f.text, &p->mem_sleep_available, &p->mem_sleep_selected, &bad);
        if (r == -EINVAL)
                return error_message(ret_error, r, "%s: unknown label '%s'", f.path, strempty(bad));
        if (r == -ENOTUNIQ)
                return error_message(ret_error, -EINVAL, "%s: more than one selected label ('%s')",
                                  f.path, strempty(bad));
        return r;
}

static int power_read_swaps(const char *root, PowerPicture *p, char **ret_error) {
        _cleanup_(power_file_done) PowerFile f = { .path = NULL };
        int r;

        p->has_swap = false;
        r = power_file_read(root, "/proc/swaps", POWER_FILE_MAX, true, &f, ret_error);
        if (r < 0 || !f.text)
                return r;
        r = power_parse_swaps(f.text, &p->has_swap);
        if (r < 0)
                return error_message(ret_error, r, "%s: no 'Filename' header line", f.path);
        return 0;
}

static int power_read_cpuinfo(const char *root, PowerPicture *p, char **ret_error) {
        _cleanup_(power_file_done) PowerFile f = { .path = NULL };
        int r;

        r = power_file_read(root, "/proc/cpuinfo", CPUINFO_FILE_MAX, true, &f, ret_error);
        if (r < 0)
                return r;
        p->tdx_host_platform = f.text && power_cpuinfo_has_flag(f.text, "tdx_host_platform");
        return 0;
}

static int power_read_kvm_tdx(const char *root, PowerPicture *p, char **ret_error) {
        _cleanup_(power_file_done) PowerFile f = { .path = NULL };
        int r;

        r = power_file_read(root, "/sys/module/kvm_intel/parameters/tdx", POWER_FILE_MAX, true, &f, ret_error);
        if (r < 0)
                return r;
        if (!f.text || streq(f.text, "N\n") || streq(f.text, "N"))
                p->kvm_tdx = false;
        else if (streq(f.text, "Y\n") || streq(f.text, "Y"))
                p->kvm_tdx = true;
        else
                return error_message(ret_error, -EINVAL, "%s: expected Y or N", f.path);
        return 0;
}

int power_read(const char *root, PowerPicture *ret, char **ret_error) {
        PowerPicture p = { .mem_sleep_selected = _MEM_SLEEP_INVALID };
        int r;

        r = power_read_states(root, &p, ret_error);
        if (r >= 0)
                r = power_read_mem_sleep(root, &p, ret_error);
        if (r >= 0)
                r = power_read_swaps(root, &p, ret_error);
        if (r >= 0)
                r = power_read_cpuinfo(root, &p, ret_error);
        if (r >= 0)
                r = power_read_kvm_tdx(root, &p, ret_error);
        if (r < 0)
                return r;
        *ret = p;
        return 0;
}
