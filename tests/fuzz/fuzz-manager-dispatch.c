/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* libFuzzer target for the daemon's own method dispatch: arbitrary bytes, as Varlink
 * messages over a socketpair, to the REAL io.tdsleep.Manager methods (manager-varlink.c)
 * of a Manager set up once per process:
 *   - the built-in config (config_init), Reload re-reads an empty config file;
 *   - state dir, socket and a fake sysfs/procfs tree in a temporary directory (tmpfs
 *     below /dev/shm when there is one: every cycle writes the state file with fsync);
 *     sys/power/state "freeze mem disk", mem_sleep "s2idle [deep]", proc/swaps header
 *     only, two CPU packages of two CPUs each;
 *   - libvirt: the in-process test driver test:///default (no libvirtd), with three
 *     TDs added to its domain "test": a persistent one, a transient one (re-created from
 *     its saved XML) and one that refuses sleep (the block lock), so that Prepare, Drain,
 *     Restore and Resume really stop and start domains;
 *   - no bus: Logind gets a NULL bus and is never started, so logind is "not present"
 *     and logind.c never touches the bus (the locks are only computed).
 * The caller is this process (SO_PEERCRED): as root, every method passes the checks,
 * io.systemd.service's too.
 *
 * Per input: one connection, the input written and the write side shut, the loop run
 * until it idles, replies drained; then the connection is closed and the daemon brought
 * back to a known state (Release, Resume/Restore, TDs running, mem_sleep rewritten). If
 * that fails, and every REMAKE_EVERY inputs anyway (so manager_free() is checked for
 * leaks too), the Manager is freed and made again.
 *
 * TDSLEEP_FUZZ_LOG=1 (or =debug) shows the daemon's log; silent otherwise: it costs exec/s. */

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hold.h"
#include "log.h"
#include "manager.h"
#include "varlink.h"
#include "virt-event.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_URI "test:///default"
#define INPUT_MAX (256U * 1024U)
#define PUMP_MAX 256            /* loop iterations per phase; the test driver answers at once */
#define RESET_ROUNDS 8
#define REMAKE_EVERY 4096       /* inputs; TDSLEEP_FUZZ_REMAKE=N overrides (1: every input) */

static char *workdir;
static Manager *manager;
static sd_event *loop;
static virConnectPtr own_conn;
static int fuzz_log_level;     /* io.systemd.service.SetLogLevel changes it: reset per input */
static unsigned long remake_every = REMAKE_EVERY, n_inputs;  /* keeps test:///default's shared state alive, defines the TDs */

#define TD_META(attrs) "<metadata><tdsleep:domain xmlns:tdsleep='urn:tdsleep:domain:1' " attrs "/></metadata>"
#define TD_XML(name, attrs)                                                       \
        "<domain type='test'><name>" name "</name><memory unit='MiB'>128</memory>" \
        "<vcpu>1</vcpu>" TD_META(attrs) "<os><type arch='x86_64'>hvm</type></os></domain>"

static const struct {
        const char *name;
        const char *xml;
        bool persistent;
} tds[] = {
        { "td-persistent", TD_XML("td-persistent", "trust-domain='yes'"), true },
        { "td-transient", TD_XML("td-transient", "trust-domain='yes' shutdown-timeout='5'"), false },
        { "td-refuse", TD_XML("td-refuse", "trust-domain='yes' on-deep-sleep='refuse'"), true },
};

/* ---- the fake tree ---- */

static void write_file(const char *rel, const char *text) {
        char path[4096];
        FILE *f;

        snprintf(path, sizeof path, "%s/%s", workdir, rel);
        for (char *s = strchr(path + strlen(workdir) + 1, '/'); s; s = strchr(s + 1, '/')) {
                *s = '\0';
                (void) mkdir(path, 0755);
                *s = '/';
        }
        f = fopen(path, "we");
        if (!f || fputs(text, f) < 0 || fclose(f) != 0) {
                fprintf(stderr, "fuzz-manager-dispatch: cannot write %s: %m\n", path);
                abort();
        }
}

static void write_tree(void) {
        write_file("root/sys/power/state", "freeze mem disk\n");
        write_file("root/sys/power/mem_sleep", "s2idle [deep]\n");
        write_file("root/proc/swaps", "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n");
        write_file("root/sys/devices/system/cpu/present", "0-3\n");
        write_file("root/sys/devices/system/cpu/online", "0-3\n");
        for (int n = 0; n < 4; n++) {
                char rel[128];

                snprintf(rel, sizeof rel, "root/sys/devices/system/cpu/cpu%d/topology/physical_package_id", n);
                write_file(rel, n < 2 ? "0\n" : "1\n");
                if (n == 0)
                        continue;       /* cpu0 has no online file, like the real one */
                snprintf(rel, sizeof rel, "root/sys/devices/system/cpu/cpu%d/online", n);
                write_file(rel, "1\n");
        }
        write_file("tdsleepd.conf", "# the built-in defaults: Reload changes nothing\n[Manager]\n");
}

/* cycles select s2idle and restore the old choice by writing the file: start over */
static void reset_tree(void) {
        write_file("root/sys/power/mem_sleep", "s2idle [deep]\n");
}

/* ---- the loop ---- */

static void drain_fd(int fd) {
        char buf[65536];

        while (fd >= 0 && recv(fd, buf, sizeof buf, MSG_DONTWAIT) > 0)
                ;
}

/* Run the loop until nothing is dispatched any more (or the bound), draining fd. */
static void pump(int fd) {
        for (int i = 0; i < PUMP_MAX; i++) {
                int r = sd_event_run(manager->event, 0);

                drain_fd(fd);
                if (r <= 0)
                        return;
        }
}

/* ---- the Manager ---- */

static char *xstrdup(const char *s) {
        char *p = strdup(s);

        if (!p)
                abort();
        return p;
}

static char *xpath(const char *rel) {
        char *p;

        if (asprintf(&p, "%s/%s", workdir, rel) < 0)
                abort();
        return p;
}

static void unlink_below(const char *dir, const char *name) {
        char path[4096];

        snprintf(path, sizeof path, "%s/%s", dir, name);
        (void) unlink(path);
}

static void on_cpus_changed(void *userdata, const CpuPicture *old, const CpuPicture *now) {
        manager_on_cpus_event(userdata);
        manager_update_status(userdata);
}

/* libvirt's test driver: the TDs exist and run (a cycle may have left them off). */
static bool ensure_tds(void) {
        bool ok = true;

        for (size_t i = 0; i < ELEMENTSOF(tds); i++) {
                virDomainPtr d = virDomainLookupByName(own_conn, tds[i].name);

                if (!d)
                        d = tds[i].persistent ? virDomainDefineXML(own_conn, tds[i].xml)
                                              : virDomainCreateXML(own_conn, tds[i].xml, 0);
                if (d && virDomainIsActive(d) == 0 && virDomainCreate(d) < 0)
                        ok = false;
                if (!d)
                        ok = false;
                else
                        virDomainFree(d);
        }
        return ok;
}

/* manager_start() without the bus, signals, watchdog and systemd's fd store. */
static void manager_setup(void) {
        Manager *m;
        int r;

        r = manager_new(&m);
        assert(r >= 0);
        m->config_path = xpath("tdsleepd.conf");
        m->state_dir = xpath("state");
        m->sysfs_root = xpath("root");
        m->socket_path = xpath("io.tdsleep.Manager");
        m->libvirt_uri = xstrdup(FUZZ_URI);
        (void) mkdir(m->state_dir, 0700);
        /* a fresh start: a left-over cycle.json would be "restored" */
        unlink_below(m->state_dir, "cycle.json");
        unlink_below(m->state_dir, "cycle.json.tmp");
        unlink_below(m->state_dir, "hold.json");

        /* One loop for the process: libvirt takes its event hooks only once (a second
         * virEventRegisterImpl() is ignored with a warning), and they run on this loop. */
        if (!loop) {
                r = sd_event_new(&loop);
                assert(r >= 0);
                r = virt_event_register(loop);
                assert(r >= 0);
        }
        m->event = sd_event_ref(loop);
        r = manager_start_cycle(m);
        assert(r >= 0);
        r = manager_load_record(m);
        assert(r >= 0);
        r = manager_start_logind(m);            /* never started: logind "not present" */
        assert(r >= 0);
        r = manager_start_virt(m);
        assert(r >= 0);
        manager_apply_kernel_policy(m, NULL);
        r = cpus_new(m->event, m->sysfs_root, on_cpus_changed, m, &m->cpus);
        assert(r >= 0);
        r = cpus_start(m->cpus, NULL);
        if (r < 0) {
                fprintf(stderr, "fuzz-manager-dispatch: cannot read the fake CPU tree\n");
                abort();
        }
        r = manager_varlink_start(m);
        if (r < 0) {
                fprintf(stderr, "fuzz-manager-dispatch: manager_varlink_start() failed\n");
                abort();
        }
        virt_connect(m->virt);          /* on a worker: the loop hears when it is made */
        for (int i = 0; i < 100 && !virt_is_connected(m->virt); i++)
                (void) sd_event_run(m->event, 100 * USEC_PER_MSEC);
        if (!virt_is_connected(m->virt)) {
                fprintf(stderr, "fuzz-manager-dispatch: cannot open %s\n", FUZZ_URI);
                abort();
        }
        manager = m;
        pump(-1);
        manager_update_status(m);
}

static VarlinkServer *manager_server(void) {
        VarlinkServer *s = manager_varlink_server(manager);

        if (!s)
                abort();        /* manager_varlink_start() failed: nothing to fuzz */
        return s;
}

/* Back to idle, no hold, every TD running, the log level ours. False if the daemon
 * would not get there. */
static bool manager_reset(void) {
        log_set_max_level(fuzz_log_level);
        if (manager->hold)
                hold_release(manager);  /* and its hold.json, were one ever written */
        for (int round = 0; round < RESET_ROUNDS && cycle_phase(manager->cycle) != CYCLE_PHASE_IDLE; round++) {
                cycle_sleep_over(manager->cycle);       /* a sleep: start the TDs again */
                if (cycle_phase(manager->cycle) != CYCLE_PHASE_IDLE)
                        (void) cycle_restore(manager->cycle);   /* a drain */
                pump(-1);
        }
        if (cycle_phase(manager->cycle) != CYCLE_PHASE_IDLE || cycle_awaiting_hook(manager->cycle))
                return false;
        reset_tree();
        if (!ensure_tds())
                return false;
        pump(-1);
        manager_apply_kernel_policy(manager, NULL);
        return virt_is_connected(manager->virt) && varlink_server_current_connections(manager_server()) == 0;
}

static void manager_teardown(void) {
        manager = manager_free(manager);
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
        const char *log = getenv("TDSLEEP_FUZZ_LOG");
        const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
        char template[256];

        fuzz_log_level = !log ? -1 : streq(log, "debug") ? LOG_DEBUG : LOG_INFO;
        log_set_max_level(fuzz_log_level);
        unsetenv("NOTIFY_SOCKET");      /* no sd_notify(), no fd store */
        snprintf(template, sizeof template, "%s/fuzz-manager-dispatch.XXXXXX", base);
        workdir = mkdtemp(template) ? xstrdup(template) : NULL;
        if (!workdir) {
                fprintf(stderr, "fuzz-manager-dispatch: mkdtemp(%s): %m\n", template);
                abort();
        }
        setenv("TDSLEEP_FUZZ_DIR", workdir, 1);
        if (getenv("TDSLEEP_FUZZ_REMAKE") && strtoul(getenv("TDSLEEP_FUZZ_REMAKE"), NULL, 10) > 0)
                remake_every = strtoul(getenv("TDSLEEP_FUZZ_REMAKE"), NULL, 10);
        write_tree();
        /* The daemon's connection first: manager_setup() registers libvirt's event hooks
         * before it, as manager_start() does. Ours then keeps the shared test:///default
         * alive across a re-made Manager. */
        manager_setup();
        own_conn = virConnectOpen(FUZZ_URI);
        if (!own_conn) {
                fprintf(stderr, "fuzz-manager-dispatch: cannot open %s\n", FUZZ_URI);
                abort();
        }
        if (!ensure_tds() || !manager_reset()) {
                fprintf(stderr, "fuzz-manager-dispatch: cannot set up the test driver's TDs\n");
                abort();
        }
        return 0;
}

static void cleanup_workdir(void) __attribute__((destructor));
static void cleanup_workdir(void) {
        if (workdir && getenv("TDSLEEP_FUZZ_DIR"))
                (void) system("rm -rf -- \"$TDSLEEP_FUZZ_DIR\"");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        int sv[2] = { -1, -1 };
        Varlink *link = NULL;
        size_t done = 0;

        if (size > INPUT_MAX)
                return 0;
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv) < 0)
                abort();
        if (varlink_server_add_connection(manager_server(), sv[1], &link) < 0)
                abort();
        sv[1] = -1;
        varlink_ref(link);      /* ours until the end, connected or not */

        /* write it all, letting the server read whenever the socket is full */
        for (int i = 0; done < size && i < 1024; i++) {
                ssize_t k = send(sv[0], data + done, size - done, MSG_NOSIGNAL | MSG_DONTWAIT);

                if (k > 0)
                        done += (size_t) k;
                else if (k < 0 && errno != EAGAIN && errno != EINTR)
                        break;  /* the server closed (a protocol error): the rest is moot */
                pump(sv[0]);
        }
        (void) shutdown(sv[0], SHUT_WR);
        pump(sv[0]);

        /* Gone in the middle of a call (a waiting Prepare/Drain, a subscription): close. */
        if (varlink_is_connected(link))
                (void) varlink_close(link);
        varlink_unref(link);
        safe_close(sv[0]);
        pump(-1);

        if (!manager_reset() || ++n_inputs % remake_every == 0) {
                manager_teardown();
                manager_setup();
                if (!manager_reset()) {
                        fprintf(stderr, "fuzz-manager-dispatch: a new Manager does not reach idle either\n");
                        abort();
                }
        }
        return 0;
}
