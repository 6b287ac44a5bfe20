/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <ctype.h>
#include <inttypes.h>
#include <ini.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include "config.h"
#include "config-files.h"
#include "macros.h"
#include "parse-util.h"

/* Far more than any sane config; keeps a mistaken path (a disk image...) out of memory. */
#define CONFIG_FILE_MAX (1024 * 1024)

static const char *const sleep_action_table[_SLEEP_ACTION_MAX] = {
        [SLEEP_ACTION_STOP] = "stop",
        [SLEEP_ACTION_S2IDLE] = "s2idle",
        [SLEEP_ACTION_REFUSE] = "refuse",
};
DEFINE_STRING_TABLE(sleep_action, SleepAction, _SLEEP_ACTION_MAX)

static const char *const kernel_policy_table[_KERNEL_POLICY_MAX] = {
        [KERNEL_POLICY_AUTO] = "auto",
        [KERNEL_POLICY_EXCLUSIVE] = "exclusive",
        [KERNEL_POLICY_RUNTIME] = "runtime",
        [KERNEL_POLICY_NONE] = "none",
};
DEFINE_STRING_TABLE(kernel_policy, KernelPolicy, _KERNEL_POLICY_MAX)

static const char *const domain_kind_table[_DOMAIN_KIND_MAX] = {
        [DOMAIN_KIND_NONE] = "none",
        [DOMAIN_KIND_TDX] = "tdx",
        [DOMAIN_KIND_SEV_SNP] = "sev-snp",
        [DOMAIN_KIND_SEV] = "sev",
};
DEFINE_STRING_TABLE(domain_kind, DomainKind, _DOMAIN_KIND_MAX)

int config_init(Config *c) {
        *c = (Config) {
                .kernel_policy = KERNEL_POLICY_AUTO,
                .on_deep_sleep = SLEEP_ACTION_STOP,
                .shutdown_timeout_usec = 60 * USEC_PER_SEC,
                .force_off = true,
                .parallel_shutdown = 0,
                .restart_after_resume = true,
                .parallel_start = 8,
                .start_retries = 5,
                .protected_kinds = DOMAIN_KIND_MASK(DOMAIN_KIND_TDX),
                .online_cpus = true,
        };
        c->libvirt_uri = strdup("qemu:///system");
        c->socket_group = strdup("tdsleep");
        if (!c->libvirt_uri || !c->socket_group) {
                config_done(c);
                return -ENOMEM;
        }
        return 0;
}

void config_done(Config *c) {
        if (!c)
                return;
        free(c->libvirt_uri);
        free(c->socket_group);
        free(c->metrics_textfile);
        memset(c, 0, sizeof(*c));
}

/* ---- value parsers: each returns 0 or a negative errno; the table says what is accepted */

typedef int (*ConfigParseFunc)(const char *rvalue, void *data);
/* The value in force as a config line would say it; NULL without memory. */
typedef char *(*ConfigFormatFunc)(const void *data);

static int replace_string(char **s, const char *value) {
        char *copy = strdup(value);

        if (!copy)
                return -ENOMEM;
        free(*s);
        *s = copy;
        return 0;
}

static int config_parse_uri(const char *rvalue, void *data) {
        if (rvalue[0] == '\0')
                return -EINVAL;
        /* Spaces would mean an inline "#" comment that inih kept as part of the value. */
        for (const char *p = rvalue; *p; p++)
                if (isspace((unsigned char) *p) || iscntrl((unsigned char) *p))
                        return -EINVAL;
        return replace_string(data, rvalue);
}

static int config_parse_group(const char *rvalue, void *data) {
        size_t n = strlen(rvalue);

        if (n == 0 || n > 32)
                return -EINVAL;
        if (!isalpha((unsigned char) rvalue[0]) && rvalue[0] != '_')
                return -EINVAL;
        if (strspn(rvalue, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.") != n)
                return -EINVAL;
        return replace_string(data, rvalue);
}

/* An absolute path to a file, or empty for none. Spaces are refused like in LibvirtURI=:
 * they would hide an inline "#" comment that inih kept. */
static int config_parse_metrics_textfile(const char *rvalue, void *data) {
        char **s = data;
        size_t n = strlen(rvalue);

        if (n == 0) {
                *s = mfree(*s);
                return 0;
        }
        if (rvalue[0] != '/' || rvalue[n - 1] == '/' || n >= PATH_MAX)
                return -EINVAL;
        for (const char *p = rvalue; *p; p++)
                if (isspace((unsigned char) *p) || iscntrl((unsigned char) *p))
                        return -EINVAL;
        return replace_string(data, rvalue);
}

static int config_parse_kernel_policy(const char *rvalue, void *data) {
        KernelPolicy p = kernel_policy_from_string(rvalue);

        if (p < 0)
                return p;
        *(KernelPolicy *) data = p;
        return 0;
}

static int config_parse_sleep_action(const char *rvalue, void *data) {
        SleepAction a = sleep_action_from_string(rvalue);

        if (a < 0)
                return a;
        *(SleepAction *) data = a;
        return 0;
}

static int config_parse_bool(const char *rvalue, void *data) {
        int r = parse_boolean(rvalue);

        if (r < 0)
                return r;
        *(bool *) data = r;
        return 0;
}

static int config_parse_unsigned(const char *rvalue, void *data) {
        return parse_unsigned(rvalue, 4096, data);
}

static int config_parse_timeout(const char *rvalue, void *data) {
        return parse_timeout(rvalue, data);
}

/* Each assignment replaces the whole set; an empty value protects nothing. */
static int config_parse_kinds(const char *rvalue, void *data) {
        _cleanup_(freep) char *copy = strdup(rvalue);
        unsigned mask = 0;
        char *save = NULL;

        if (!copy)
                return -ENOMEM;
        /* Spaces or commas: "tdx sev-snp" and "tdx,sev-snp" mean the same. */
        for (char *w = strtok_r(copy, " \t,", &save); w; w = strtok_r(NULL, " \t,", &save)) {
                DomainKind k = domain_kind_from_string(w);

                if (k < 0 || k == DOMAIN_KIND_NONE)
                        return -EINVAL;
                mask |= DOMAIN_KIND_MASK(k);
        }
        *(unsigned *) data = mask;
        return 0;
}

/* ---- value formatters, for tdsleepd --cat-config: what a config line would say */

static char *config_format_string(const void *data) {
        return strdup(*(char *const *) data);
}

/* A setting that may be unset (NULL): empty, as the line that unsets it says. */
static char *config_format_optional_string(const void *data) {
        const char *s = *(char *const *) data;

        return strdup(s ? s : "");
}

static char *config_format_kernel_policy(const void *data) {
        return strdup(kernel_policy_to_string(*(const KernelPolicy *) data));
}

static char *config_format_sleep_action(const void *data) {
        return strdup(sleep_action_to_string(*(const SleepAction *) data));
}

static char *config_format_bool(const void *data) {
        return strdup(*(const bool *) data ? "yes" : "no");
}

static char *config_format_unsigned(const void *data) {
        char *s;

        return asprintf(&s, "%u", *(const unsigned *) data) < 0 ? NULL : s;
}

/* Whole seconds as "90s", anything finer in ms: both parse back to the same value. */
static char *config_format_timeout(const void *data) {
        uint64_t usec = *(const uint64_t *) data;
        char *s;

        if (usec % USEC_PER_SEC == 0)
                return asprintf(&s, "%" PRIu64 "s", usec / USEC_PER_SEC) < 0 ? NULL : s;
        return asprintf(&s, "%" PRIu64 ".%03" PRIu64 "s", usec / USEC_PER_SEC,
                        usec % USEC_PER_SEC / USEC_PER_MSEC) < 0 ? NULL : s;
}

static char *config_format_kinds(const void *data) {
        unsigned mask = *(const unsigned *) data;
        char buf[64] = "";

        for (DomainKind k = DOMAIN_KIND_NONE + 1; k < _DOMAIN_KIND_MAX; k++)
                if (mask & DOMAIN_KIND_MASK(k)) {
                        if (buf[0])
                                strcat(buf, " ");
                        strcat(buf, domain_kind_to_string(k));
                }
        return strdup(buf);
}

#define TIME_SPAN_EXPECTED "expected a time span > 0 and <= 1h, such as 90, 1.5, 500ms, 2s or 1min"
#define BOOL_EXPECTED "expected yes, no, true, false, 1, 0, on or off"
#define UNSIGNED_EXPECTED "expected an integer from 0 to 4096"

typedef struct ConfigItem {
        const char *section;
        const char *key;
        ConfigParseFunc parse;
        size_t offset;
        const char *expected;   /* the tail of the error message for a bad value */
        ConfigFormatFunc format;
} ConfigItem;

static const ConfigItem config_items[] = {
        { "Manager", "LibvirtURI",         config_parse_uri,           offsetof(Config, libvirt_uri),
          "expected a libvirt URI without spaces, such as qemu:///system", config_format_string },
        { "Manager", "KernelPolicy",       config_parse_kernel_policy, offsetof(Config, kernel_policy),
          "expected auto, exclusive, runtime or none", config_format_kernel_policy },
        { "Manager", "SocketGroup",        config_parse_group,         offsetof(Config, socket_group),
          "expected a group name", config_format_string },
        { "Manager", "MetricsTextfile",    config_parse_metrics_textfile, offsetof(Config, metrics_textfile),
          "expected an absolute file name without spaces, such as "
          "/var/lib/prometheus/node-exporter/tdsleep.prom, or nothing", config_format_optional_string },
        { "Sleep",   "OnDeepSleep",        config_parse_sleep_action,  offsetof(Config, on_deep_sleep),
          "expected stop, s2idle or refuse", config_format_sleep_action },
        { "Sleep",   "ShutdownTimeoutSec", config_parse_timeout,       offsetof(Config, shutdown_timeout_usec),
          TIME_SPAN_EXPECTED, config_format_timeout },
        { "Sleep",   "ForceOff",           config_parse_bool,          offsetof(Config, force_off),
          BOOL_EXPECTED, config_format_bool },
        { "Sleep",   "ParallelShutdown",   config_parse_unsigned,      offsetof(Config, parallel_shutdown),
          UNSIGNED_EXPECTED, config_format_unsigned },
        { "Sleep",   "RestartAfterResume", config_parse_bool,          offsetof(Config, restart_after_resume),
          BOOL_EXPECTED, config_format_bool },
        { "Sleep",   "ParallelStart",      config_parse_unsigned,      offsetof(Config, parallel_start),
          UNSIGNED_EXPECTED, config_format_unsigned },
        { "Sleep",   "StartRetries",       config_parse_unsigned,      offsetof(Config, start_retries),
          UNSIGNED_EXPECTED, config_format_unsigned },
        { "Sleep",   "ProtectedKinds",     config_parse_kinds,         offsetof(Config, protected_kinds),
          "expected a list of tdx, sev-snp and sev (separated by spaces or commas), or nothing",
          config_format_kinds },
        { "CPU",     "OnlineCPUs",         config_parse_bool,          offsetof(Config, online_cpus),
          BOOL_EXPECTED, config_format_bool },
};

static bool config_section_known(const char *section, size_t n) {
        for (size_t i = 0; i < ELEMENTSOF(config_items); i++)
                if (strlen(config_items[i].section) == n && strncmp(config_items[i].section, section, n) == 0)
                        return true;
        return false;
}

static const ConfigItem *config_item_lookup(const char *section, const char *key) {
        for (size_t i = 0; i < ELEMENTSOF(config_items); i++)
                if (streq(config_items[i].section, section) && streq(config_items[i].key, key))
                        return &config_items[i];
        return NULL;
}

/* ---- where each setting came from */

size_t config_n_settings(void) {
        return ELEMENTSOF(config_items);
}

void config_origins_free(ConfigOrigin *o) {
        for (size_t i = 0; o && i < ELEMENTSOF(config_items); i++)
                free(o[i].file);
        free(o);
}

static int origin_set(ConfigOrigin *o, const char *file, unsigned line) {
        char *copy = strdup(file);

        if (!copy)
                return -ENOMEM;
        free(o->file);
        o->file = copy;
        o->line = line;
        return 0;
}

int config_dump(const Config *c, const ConfigOrigin *origins, FILE *f) {
        const char *section = NULL;

        for (size_t i = 0; i < ELEMENTSOF(config_items); i++) {
                const ConfigItem *item = &config_items[i];
                _cleanup_(freep) char *value = item->format((const uint8_t *) c + item->offset);

                if (!value)
                        return -ENOMEM;
                if (!section || !streq(section, item->section))
                        fprintf(f, "%s[%s]\n", section ? "\n" : "", item->section);
                section = item->section;
                /* The origin on its own line: the output loads as a config again. */
                if (origins && origins[i].file)
                        fprintf(f, "# %s:%u\n", origins[i].file, origins[i].line);
                else
                        fprintf(f, "# built-in default\n");
                fprintf(f, "%s=%s\n", item->key, value);
        }
        return ferror(f) ? -EIO : 0;
}

/* ---- the inih glue */

/* One text being parsed. inih gives its handler no line number and reports syntax
 * errors only as a line number, so lines reach inih through our reader, which counts
 * them and rejects what inih would accept silently or report without a reason. */
typedef struct ParseContext {
        const char *filename;
        const char *text;
        size_t size;
        size_t pos;
        unsigned line;
        Config *config;
        ConfigOrigin *origins;  /* NULL, or one per item: where each was set last */
        char *error;
        int error_r;
} ParseContext;

_printf_(3, 4)
static void context_fail(ParseContext *ctx, int r, const char *fmt, ...) {
        _cleanup_(freep) char *msg = NULL;
        va_list ap;
        int k;

        if (ctx->error_r < 0)
                return;
        ctx->error_r = r;
        va_start(ap, fmt);
        k = vasprintf(&msg, fmt, ap);
        va_end(ap);
        if (k < 0 || asprintf(&ctx->error, "%s:%u: %s", ctx->filename, ctx->line, msg) < 0) {
                ctx->error = NULL;
                ctx->error_r = -ENOMEM;
        }
}

static void check_section_line(ParseContext *ctx, const char *s, size_t len) {
        const char *close = memchr(s, ']', len);
        size_t rest;

        if (!close) {
                context_fail(ctx, -EINVAL, "unterminated section header, expected [SECTION]");
                return;
        }
        rest = len - (size_t) (close + 1 - s);
        if (strspn(close + 1, " \t") < rest) {
                context_fail(ctx, -EINVAL, "unexpected text after section header");
                return;
        }
        if (!config_section_known(s + 1, (size_t) (close - s - 1)))
                context_fail(ctx, -EINVAL, "unknown section [%.*s]", (int) (close - s - 1), s + 1);
}

/* s is one line without its newline and leading blanks, len bytes long. */
static void check_line(ParseContext *ctx, const char *s, size_t len) {
        const char *eq;

        if (len == 0 || s[0] == '#' || s[0] == ';')
                return;
        if (s[0] == '[') {
                check_section_line(ctx, s, len);
                return;
        }
        /* inih also takes "KEY: VALUE"; a config file for us has one spelling. */
        eq = memchr(s, '=', len);
        if (!eq || memchr(s, ':', (size_t) (eq - s)))
                context_fail(ctx, -EINVAL, "expected KEY=VALUE, [SECTION] or a comment");
}

static char *config_reader(char *str, int num, void *stream) {
        ParseContext *ctx = stream;
        const char *s, *nl;
        size_t len;

        if (ctx->error_r < 0 || ctx->pos >= ctx->size)
                return NULL;
        s = ctx->text + ctx->pos;
        nl = memchr(s, '\n', ctx->size - ctx->pos);
        len = nl ? (size_t) (nl - s) : ctx->size - ctx->pos;
        ctx->pos += len + (nl ? 1 : 0);
        ctx->line++;

        if (ctx->line == 1 && len >= 3 && memcmp(s, "\xEF\xBB\xBF", 3) == 0)
                s += 3, len -= 3;
        if (len > 0 && s[len - 1] == '\r')
                len--;
        if (memchr(s, '\0', len)) {
                context_fail(ctx, -EINVAL, "NUL byte in line");
                return NULL;
        }
        /* Leading blanks would make inih glue this line onto the previous value. */
        while (len > 0 && (*s == ' ' || *s == '\t'))
                s++, len--;
        if (num < 3 || len > (size_t) num - 2) {
                context_fail(ctx, -EINVAL, "line too long (at most %d characters)", num - 2);
                return NULL;
        }
        check_line(ctx, s, len);
        if (ctx->error_r < 0)
                return NULL;
        memcpy(str, s, len);
        str[len] = '\n';
        str[len + 1] = '\0';
        return str;
}

static int config_handler(void *user, const char *section, const char *name, const char *value) {
        ParseContext *ctx = user;
        const ConfigItem *item;
        int r;

        if (ctx->error_r < 0)
                return 0;
        if (section[0] == '\0') {
                context_fail(ctx, -EINVAL, "%s= outside of any section", name);
                return 0;
        }
        item = config_item_lookup(section, name);
        if (!item) {
                context_fail(ctx, -EINVAL, "unknown key %s= in section [%s]", name, section);
                return 0;
        }
        r = item->parse(value, (uint8_t *) ctx->config + item->offset);
        if (r >= 0 && ctx->origins)
                r = origin_set(&ctx->origins[item - config_items], ctx->filename, ctx->line);
        if (r == -ENOMEM)
                context_fail(ctx, r, "out of memory");
        else if (r < 0)
                context_fail(ctx, -EINVAL, "%s=%s: %s", name, value, item->expected);
        return r >= 0;
}

static int config_parse_text(Config *c, ConfigOrigin *origins, const char *filename, const char *text,
                             size_t size, char **ret_error) {
        ParseContext ctx = {
                .filename = filename,
                .text = text,
                .size = size,
                .config = c,
                .origins = origins,
        };
        int r;

        r = ini_parse_stream(config_reader, &ctx, config_handler, &ctx);
        if (ctx.error_r < 0) {
                if (ret_error)
                        *ret_error = TAKE_PTR(ctx.error);
                free(ctx.error);
                return ctx.error_r;
        }
        if (r < 0)
                return -ENOMEM;
        if (r > 0) {
                /* A line our reader let through but inih refused, e.g. "Key ;x=y". */
                if (ret_error && asprintf(ret_error, "%s:%d: expected KEY=VALUE, [SECTION] or a comment",
                                          filename, r) < 0)
                        *ret_error = NULL;
                return -EINVAL;
        }
        return 0;
}

static int config_parse_file(Config *c, ConfigOrigin *origins, const char *path, char **ret_error) {
        _cleanup_(freep) char *text = NULL;
        size_t size;
        int r;

        r = read_full_file(path, CONFIG_FILE_MAX, &text, &size);
        if (r == -ENOENT)
                return 0;
        if (r == -EFBIG)
                return error_message(ret_error, -EINVAL, "%s: %s", path, "file too large (more than 1 MiB)");
        if (r < 0)
                return error_message(ret_error, r, "%s: %s", path, strerror(-r));
        return config_parse_text(c, origins, path, text, size, ret_error);
}

int config_load_files(char *const *files, Config *ret, ConfigOrigin **ret_origins, char **ret_error) {
        _cleanup_(config_done) Config c = { .libvirt_uri = NULL };
        ConfigOrigin *origins = NULL;
        int r;

        r = config_init(&c);
        if (r < 0)
                return r;
        if (ret_origins && !(origins = calloc(ELEMENTSOF(config_items), sizeof(ConfigOrigin))))
                return -ENOMEM;
        for (char *const *f = files; r >= 0 && f && *f; f++)
                r = config_parse_file(&c, origins, *f, ret_error);
        if (r < 0) {
                config_origins_free(origins);
                return r;
        }
        *ret = c;
        memset(&c, 0, sizeof(c));
        if (ret_origins)
                *ret_origins = origins;
        return 0;
}

int config_load(const char *path, Config *ret, char **ret_error) {
        char **files = NULL;
        int r = config_files_explicit(path, &files, ret_error);

        if (r >= 0)
                r = config_load_files(files, ret, NULL, ret_error);
        strv_free(files);
        return r;
}

int config_load_string(const char *text, const char *filename, Config *ret, char **ret_error) {
        _cleanup_(config_done) Config c = { .libvirt_uri = NULL };
        int r;

        r = config_init(&c);
        if (r < 0)
                return r;
        r = config_parse_text(&c, NULL, filename, text, strlen(text), ret_error);
        if (r < 0)
                return r;
        *ret = c;
        memset(&c, 0, sizeof(c));
        return 0;
}
