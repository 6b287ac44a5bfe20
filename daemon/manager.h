/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "macros.h"

/* The one Manager: owns the loop, the config and every module; routes their events. */

#include <json.h>
#include <stdbool.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include "config.h"
#include "cpus.h"
#include "cycle.h"
#include "hold-file.h"
#include "logind.h"
#include "metrics.h"
#include "power.h"
#include "record.h"
#include "virt.h"

typedef struct Manager {
        sd_event *event;
        sd_bus *bus;
        Config config;

        /* from the command line */
        char *config_path;      /* --config: this file and its .d/, instead of the search path */
        char *config_root;      /* --config-root: the search path below this directory */
        char *state_dir;
        char *sysfs_root;
        char *libvirt_uri;      /* overrides LibvirtURI= when set */
        char *socket_path;

        Virt *virt;
        Executor *executor;                     /* libvirt's long calls, on worker threads */
        bool exiting;                           /* manager_free(): results go nowhere */
        Logind *logind;
        Cycle *cycle;                           /* the engine (cycle.h); its effects in manager-cycle.c */
        Record *record;                         /* the cycle's durable record */
        sd_event_source *cycle_timer;           /* the engine's one timer */
        PlanDomain *plan_domains;               /* the domain table as the planner sees it */
        size_t n_plan_domains_max;
        Cpus *cpus;
        struct ManagerVarlink *varlink;        /* the control socket (manager-varlink.c) */
        int listen_fd;                          /* the control socket passed by systemd */
        Hold *hold;                             /* Hold(): a block lock for the operator (hold.c) */
        sd_event_source *hold_timer;            /* its end, with hold --for */
        struct HoldRequest *hold_request;       /* a Hold() waiting for logind (hold.c) */

        sd_event_source *sigterm_source;
        sd_event_source *sigint_source;
        sd_event_source *sighup_source;
        char *last_status;                      /* the last STATUS= sent */
        char *last_status_details;              /* what no phase or cpus event tells of it */
        sd_event_source *status_timer;          /* a STATUS update is due (manager-status.c) */
        uint64_t status_sent_usec;              /* CLOCK_MONOTONIC of the last update sent */
        unsigned refusing;                      /* running TDs whose action is refuse */
        bool block_lock_undecided;              /* a block lock kept across a crash, not decided on yet (manager-block.c) */
        bool block_lock_libvirt_away_told;      /* ... and libvirt is away: said once */
        KernelPolicy kernel_policy;     /* in force: KernelPolicy= or what auto detected */
        /* The kernel's picture the engine sees, read again only when it may have changed
         * (manager-power.c; docs/THREADS.md, "The kernel's picture"). */
        struct PowerWatch *power_watch;
        PowerPicture power;
        int power_result;                       /* of the read: 0, or negative errno */
        bool power_fresh;                       /* nothing said it changed since the read */
        sd_event_source *budget_defer;          /* a budget check is due this iteration */
        char *budget_key;                       /* the last check's outcome: warned once per change */
        char *budget_block_why;                 /* the budget cannot fit: sleep is refused (manager-budget.c) */
        bool exclusive_logged;

        Metrics metrics;                        /* counted from cycle results (metrics.c) */
        uint64_t started_realtime_usec;         /* the counters count from here */
        sd_event_source *metrics_defer;         /* MetricsTextfile= is due this iteration */
        bool metrics_textfile_failed;           /* the last write failed (logged once) */
} Manager;

int manager_new(Manager **ret);
Manager *manager_free(Manager *m);
DEFINE_TRIVIAL_CLEANUP_FUNC(Manager *, manager_free)

/* Read the config from --config, or from the search path (below --config-root):
 * Config and, when asked, where each setting came from. Errors as file:line: message. */
int manager_read_config(const Manager *m, Config *ret, ConfigOrigin **ret_origins, char **ret_error);
/* Read the config for the first time; errors are logged as file:line: message. */
int manager_load_config(Manager *m);
/* Create the loop and every module; connect to the bus, logind and libvirt. */
int manager_start(Manager *m);
/* READY=1, run the loop, STOPPING=1. Returns the loop's exit code. */
int manager_run(Manager *m);

/* Re-read the config (SIGHUP, Reload). A broken new config is rejected, the old kept. */
int manager_reload(Manager *m, char **ret_error);

/* The libvirt URI in force: --libvirt-uri, else LibvirtURI=. */
const char *manager_libvirt_uri(const Manager *m);

/* The engine and its timer (manager-cycle.c); then the record of an interrupted cycle,
 * once the fd store was read. */
int manager_start_cycle(Manager *m);
/* The libvirt connection's object and logind's, reporting to the manager (neither
 * connected yet). */
int manager_start_virt(Manager *m);
int manager_start_logind(Manager *m);
/* The CPU monitor (manager-power.c); a package that cannot be read is logged, not fatal. */
int manager_start_cpus(Manager *m);
int manager_load_record(Manager *m);
/* What the engine and Plan() see: the domain table, the kernel's picture, the policy.
 * With apply_policy, the kernel policy is applied too (s2idle kept under exclusive). */
int manager_observe(Manager *m, bool apply_policy, CycleWorld *ret);
void manager_plan_domain(Manager *m, const Domain *d, PlanDomain *ret);


/* Re-read the kernel's picture and apply the kernel policy: under exclusive, keep s2idle
 * selected in mem_sleep (S3 would fail late). Fills *ret if given; negative errno when
 * the picture could not be read. The picture is kept for manager_kernel_picture(). */
int manager_apply_kernel_policy(Manager *m, PowerPicture *ret);
/* The same, but the kept picture while nothing said it may have changed: the engine
 * observes before every kick of a resume, and sysfs does not change with each start. */
int manager_kernel_picture(Manager *m, PowerPicture *ret);
/* The picture may have changed (a new step, a reload, a watched file): read it again
 * at the next manager_kernel_picture(). */
void manager_kernel_picture_stale(Manager *m);
/* Watch what the picture is made of (power-watch.h); a watch that cannot be set up is
 * no error: every new step reads the picture again anyway. */
int manager_start_power_watch(Manager *m);

/* The cycle's phase changed / one of its TDs changed state: tell subscribers and
 * waiting Prepare calls (manager-varlink.c). */
void manager_on_cycle_phase(Manager *m);
void manager_on_cycle_domain(Manager *m, const char *name, const char *uuid, const char *state);
/* With OnlineCPUs=yes, bring one CPU online in every package that has none. */
void manager_ensure_cpus_online(Manager *m);
/* Rebuild the block lock from TDs that refuse sleep, the operator's hold and the stop
 * budget (manager-block.c). A lock kept across a crash is not released before
 * manager_decide_block_lock(). */
void manager_refresh_block_lock(Manager *m);
/* A running d whose action is refuse keeps sleep blocked. */
bool manager_domain_refuses(Manager *m, const Domain *d);
/* Everything the block lock depends on is known (the hold restored, libvirt's table read,
 * the stop budget checked): a lock kept across a crash is kept, replaced or released. */
void manager_decide_block_lock(Manager *m);
/* libvirt's first connection failed: say once that a lock kept across a crash stays. */
void manager_block_lock_libvirt_away(Manager *m);

/* The control socket (manager-varlink.c): bind or adopt it, serve it, free it. */
int manager_varlink_start(Manager *m);
void manager_varlink_free(Manager *m);
/* The control socket's server (tests feed it connections); NULL when there is none. */
struct VarlinkServer *manager_varlink_server(Manager *m);
/* Is the control socket up (so the sleep hook can reach us)? */
bool manager_has_control_socket(const Manager *m);
/* logind answered a block lock request (0: held, or the error): a pending Hold() is
 * answered with the truth, and undone if the lock was refused (hold.c). */
void manager_on_block_lock(Manager *m, int error);
/* Tell subscribers: STATUS changed / the CPU picture changed. */
void manager_on_status_event(Manager *m, const char *status);
void manager_on_cpus_event(Manager *m);

/* The control socket's JSON (manager-json.c). */
json_object *manager_json_string_or_null(const char *s);
/* An IDL enum value from the daemon's name for it: "-" becomes "_" ("hybrid-sleep" ->
 * "hybrid_sleep"); NULL for NULL. */
json_object *manager_json_enum(const char *name);
/* Is wire the daemon's name, or its enum spelling ("hybrid_sleep" for "hybrid-sleep")? */
bool manager_enum_name_equal(const char *wire, const char *name);
json_object *manager_domain_json(Manager *m, const Domain *d);
json_object *manager_cycle_domain_json(const char *name, const char *uuid, const char *state);
json_object *manager_status_json(Manager *m);
/* Plan(operation): -EINVAL for an unknown operation. */
int manager_plan_json(Manager *m, const char *operation, json_object **ret);
/* A Step enum value (not drain or unknown), or a SYSTEMD_SLEEP_ACTION value -> step;
 * -EINVAL otherwise. */
int manager_parse_step(const char *s, SleepStep *ret);

/* The metrics (manager-metrics.c): GetMetrics' object; something they show changed (count
 * a finished cycle, rewrite MetricsTextfile= at the end of this loop iteration). */
json_object *manager_metrics_json(Manager *m);
void manager_metrics_changed(Manager *m);

/* The record has no copy on disk (only in systemd's fd store), or none at all. */
bool manager_record_degraded(const Manager *m);

/* Check the stop budget of every step the host can take against logind's delay: warn
 * once per change of the outcome, block sleep while nothing fits (manager-budget.c).
 * _soon: once per loop iteration, for domain events. */
void manager_check_budget(Manager *m);
void manager_check_budget_soon(Manager *m);

/* Number of running domains that are protected (TDs by config and metadata). */
unsigned manager_count_running_tds(Manager *m);
/* Send STATUS= if it changed, and a status event if the change is not one a phase or
 * cpus event reports (manager-status.c). */
void manager_update_status(Manager *m);
/* The same when the phase changed: the phase event that follows carries the line. */
void manager_update_status_for_phase(Manager *m);
/* The same after domain events: at the end of this loop iteration, and at most every
 * 100 ms while changes keep coming (a resume of a thousand TDs). */
void manager_update_status_soon(Manager *m);
/* The status line last sent (without "STATUS="), NULL before the first. */
const char *manager_status_line(const Manager *m);
