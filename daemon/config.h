/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* tdsleepd.conf: INI with drop-ins, parsed by inih through a table of keys. */

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "string-table.h"

typedef enum SleepAction {
        SLEEP_ACTION_STOP,      /* shut the TD down, start it again after resume */
        SLEEP_ACTION_S2IDLE,    /* keep it running: steer a suspend to suspend-to-idle */
        SLEEP_ACTION_REFUSE,    /* keep it running: hold a block lock while it runs */
        _SLEEP_ACTION_MAX,
        _SLEEP_ACTION_INVALID = -EINVAL,
} SleepAction;

typedef enum KernelPolicy {
        KERNEL_POLICY_AUTO,
        KERNEL_POLICY_EXCLUSIVE,
        KERNEL_POLICY_RUNTIME,
        KERNEL_POLICY_NONE,
        _KERNEL_POLICY_MAX,
        _KERNEL_POLICY_INVALID = -EINVAL,
} KernelPolicy;

/* Kinds of confidential guest that classify recognises. */
typedef enum DomainKind {
        DOMAIN_KIND_NONE,
        DOMAIN_KIND_TDX,
        DOMAIN_KIND_SEV_SNP,
        DOMAIN_KIND_SEV,
        _DOMAIN_KIND_MAX,
        _DOMAIN_KIND_INVALID = -EINVAL,
} DomainKind;

DECLARE_STRING_TABLE(sleep_action, SleepAction);
DECLARE_STRING_TABLE(kernel_policy, KernelPolicy);
DECLARE_STRING_TABLE(domain_kind, DomainKind);

#define DOMAIN_KIND_MASK(k) (1u << (k))

typedef struct Config {
        /* [Manager] */
        char *libvirt_uri;              /* LibvirtURI=, default qemu:///system */
        KernelPolicy kernel_policy;     /* KernelPolicy=, default auto */
        char *socket_group;             /* SocketGroup=, default tdsleep */
        char *metrics_textfile;         /* MetricsTextfile=, NULL (the default): none */
        /* [Sleep] */
        SleepAction on_deep_sleep;      /* OnDeepSleep=, default stop */
        uint64_t shutdown_timeout_usec; /* ShutdownTimeoutSec=, default 60 s */
        bool force_off;                 /* ForceOff=, default yes */
        unsigned parallel_shutdown;     /* ParallelShutdown=, 0 = all at once */
        bool restart_after_resume;      /* RestartAfterResume=, default yes */
        unsigned parallel_start;        /* ParallelStart=, default 8, 0 = all at once */
        unsigned start_retries;         /* StartRetries=, default 5: tries after the first failed start */
        unsigned protected_kinds;       /* ProtectedKinds=, mask of DOMAIN_KIND_MASK(), default tdx */
        /* [CPU] */
        bool online_cpus;               /* OnlineCPUs=, default yes */
} Config;

/* Fill with the built-in defaults. */
int config_init(Config *c);
/* Free what a Config owns; leaves it zeroed. */
void config_done(Config *c);

/* Where a setting in force was set last: file and line; file NULL for the default. */
typedef struct ConfigOrigin {
        char *file;
        unsigned line;
} ConfigOrigin;

/* How many settings there are (one ConfigOrigin each). */
size_t config_n_settings(void);
void config_origins_free(ConfigOrigin *o);

/* Load these files, in order, on top of the defaults into *ret (a missing file is
 * skipped). ret_origins (optional) gets config_n_settings() origins. Errors as for
 * config_load(); nothing is returned on error. */
int config_load_files(char *const *files, Config *ret, ConfigOrigin **ret_origins, char **ret_error);

/* The settings in force as an INI text that loads again, each after a comment saying the
 * file and line it came from (or "built-in default"): what tdsleepd --cat-config prints. */
int config_dump(const Config *c, const ConfigOrigin *origins, FILE *f);

/* Load path and then path.d/ *.conf (sorted) on top of the defaults into *ret.
 * A missing main file is fine (defaults). On a broken line returns -EINVAL and sets
 * *ret_error to "file:line: message" (caller frees); *ret is untouched on error. */
int config_load(const char *path, Config *ret, char **ret_error);

/* Like config_load() for one in-memory text (no drop-ins); filename only names it in
 * errors. For tests and fuzzing. */
int config_load_string(const char *text, const char *filename, Config *ret, char **ret_error);

