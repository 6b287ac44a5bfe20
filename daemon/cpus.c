/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <assert.h>
#include <ctype.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <string.h>
#include <sys/epoll.h>
#include <libudev.h>

#include "cpus.h"
#include "log.h"
#include "macros.h"
#include "parse-util.h"

#define CPUS_FILE_MAX 4096
/* Events handled per wake-up before re-reading; the rest wait for the next one. */
#define CPUS_EVENTS_PER_WAKEUP 256
#define CPU_SYSFS "/sys/devices/system/cpu"

/* ---- reading sysfs ---- */

/* root + rel with the root's trailing slashes dropped; "/" is the real system. */
static int cpus_path(const char *root, const char *rel, char **ret) {
        size_t n = strlen(root);

        while (n > 0 && root[n - 1] == '/')
                n--;
        if (asprintf(ret, "%.*s%s", (int) n, root, rel) < 0)
                return -ENOMEM;
        return 0;
}

/* Read root + rel into *ret_text; *ret_path always gets the full path (for messages).
 * -ENOENT is returned without a message, so callers can treat the file as optional. */
static int cpus_read_file(const char *root, const char *rel, char **ret_path, char **ret_text,
                          char **ret_error) {
        int r;

        r = cpus_path(root, rel, ret_path);
        if (r < 0)
                return r;
        r = read_full_file(*ret_path, CPUS_FILE_MAX, ret_text, NULL);
        if (r == -ENOENT)
                return r;
        if (r == -EFBIG)
                return error_message(ret_error, -EINVAL, "%s: file too large", *ret_path);
        if (r < 0)
                return error_message(ret_error, r, "%s: %s", *ret_path, STRERROR(r));
        return 0;
}

static int read_present(const char *root, unsigned **ret_cpus, size_t *ret_n, char **ret_error) {
        _cleanup_(freep) char *path = NULL, *text = NULL;
        int r;

        r = cpus_read_file(root, CPU_SYSFS "/present", &path, &text, ret_error);
        if (r == -ENOENT)
                return error_message(ret_error, r, "%s: %s", path, STRERROR(r));
        if (r < 0)
                return r;
        r = cpus_parse_range_list(text, ret_cpus, ret_n);
        if (r == -ERANGE)
                return error_message(ret_error, r, "%s: CPU number not below %d", path, CPUS_MAX);
        if (r == -EINVAL)
                return error_message(ret_error, r, "%s: not a CPU range list", path);
        return r;
}

static int read_online(const char *root, Cpu *cpu, char **ret_error) {
        _cleanup_(freep) char *rel = NULL, *path = NULL, *text = NULL;
        int r;

        if (asprintf(&rel, CPU_SYSFS "/cpu%u/online", cpu->id) < 0)
                return -ENOMEM;
        r = cpus_read_file(root, rel, &path, &text, ret_error);
        if (r == -ENOENT) {
                /* Not hotpluggable (cpu0 on most systems): always online. */
                cpu->online = true;
                cpu->hotpluggable = false;
                return 0;
        }
        if (r < 0)
                return r;
        cpu->hotpluggable = true;
        if (cpus_parse_online(text, &cpu->online) < 0)
                return error_message(ret_error, -EINVAL, "%s: expected 0 or 1", path);
        return 0;
}

static const Cpu *picture_find_cpu(const CpuPicture *p, unsigned id) {
        size_t lo = 0, hi = p ? p->n_cpus : 0;

        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;

                if (p->cpus[mid].id == id)
                        return &p->cpus[mid];
                if (p->cpus[mid].id < id)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return NULL;
}

/* Call after read_online(): a missing topology is normal for an offline CPU. */
static int read_package(const char *root, const CpuPicture *previous, Cpu *cpu, char **ret_error) {
        _cleanup_(freep) char *rel = NULL, *path = NULL, *text = NULL;
        const Cpu *before;
        int r;

        if (asprintf(&rel, CPU_SYSFS "/cpu%u/topology/physical_package_id", cpu->id) < 0)
                return -ENOMEM;
        r = cpus_read_file(root, rel, &path, &text, ret_error);
        if (r == -ENOENT) {
                before = picture_find_cpu(previous, cpu->id);
                cpu->package_known = before && before->package_known;
                cpu->package = cpu->package_known ? before->package : -1;
                if (!cpu->package_known && cpu->online)
                        return error_message(ret_error, r, "%s: %s", path, STRERROR(r));
                return 0;
        }
        if (r < 0)
                return r;
        r = cpus_parse_package_id(text, &cpu->package);
        if (r < 0)
                return error_message(ret_error, r, "%s: not a package id", path);
        cpu->package_known = true;
        return 0;
}

static int cmp_cpu_by_package(const void *a, const void *b) {
        const Cpu *x = a, *y = b;

        if (x->package != y->package)
                return x->package < y->package ? -1 : 1;
        return x->id < y->id ? -1 : x->id > y->id;
}

/* Group the known CPUs into packages. */
static int picture_add_packages(CpuPicture *p) {
        _cleanup_(freep) Cpu *sorted = NULL;
        size_t n = 0;

        p->packages = calloc(p->n_cpus > 0 ? p->n_cpus : 1, sizeof(CpuPackage));
        sorted = calloc(p->n_cpus > 0 ? p->n_cpus : 1, sizeof(Cpu));
        if (!p->packages || !sorted)
                return -ENOMEM;
        for (size_t i = 0; i < p->n_cpus; i++)
                if (p->cpus[i].package_known)
                        sorted[n++] = p->cpus[i];
        p->n_unknown = (unsigned) (p->n_cpus - n);
        qsort(sorted, n, sizeof(Cpu), cmp_cpu_by_package);
        for (size_t i = 0; i < n; i++) {
                CpuPackage *k;

                /* Sorted by package, then CPU: the first CPU of a package is its lowest. */
                if (p->n_packages == 0 || p->packages[p->n_packages - 1].id != sorted[i].package)
                        p->packages[p->n_packages++] = (CpuPackage) {
                                .id = sorted[i].package,
                                .lowest_cpu = sorted[i].id,
                        };
                k = &p->packages[p->n_packages - 1];
                k->n_cpus++;
                k->n_online += sorted[i].online;
        }
        return 0;
}

int cpus_reread(const char *root, const CpuPicture *previous, CpuPicture *ret, char **ret_error) {
        _cleanup_(cpu_picture_done) CpuPicture p = { .cpus = NULL };
        _cleanup_(freep) unsigned *present = NULL;
        size_t n = 0;
        int r;

        r = read_present(root, &present, &n, ret_error);
        if (r < 0)
                return r;
        p.cpus = calloc(n > 0 ? n : 1, sizeof(Cpu));
        if (!p.cpus)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                Cpu *cpu = &p.cpus[p.n_cpus++];

                cpu->id = present[i];
                r = read_online(root, cpu, ret_error);
                if (r >= 0)
                        r = read_package(root, previous, cpu, ret_error);
                if (r < 0)
                        return r;
        }
        r = picture_add_packages(&p);
        if (r < 0)
                return r;
        *ret = p;
        p = (CpuPicture) { .cpus = NULL };
        return 0;
}

int cpus_read(const char *root, CpuPicture *ret, char **ret_error) {
        return cpus_reread(root, NULL, ret, ret_error);
}

/* ---- the monitor ---- */

struct Cpus {
        sd_event *event;
        char *root;
        CpusChangedHandler handler;
        void *userdata;

        struct udev *udev;
        struct udev_monitor *monitor;
        sd_event_source *io_source;

        CpuPicture picture;
        bool started;
        char *last_error;
};

int cpus_new(sd_event *e, const char *root, CpusChangedHandler handler, void *userdata, Cpus **ret) {
        _cleanup_(cpus_freep) Cpus *c = NULL;

        assert(e);
        assert(root);
        c = calloc(1, sizeof(Cpus));
        if (!c)
                return -ENOMEM;
        c->event = sd_event_ref(e);
        c->handler = handler;
        c->userdata = userdata;
        c->root = strdup(root);
        if (!c->root)
                return -ENOMEM;
        *ret = TAKE_PTR(c);
        return 0;
}

static void cpus_unwatch(Cpus *c) {
        c->io_source = sd_event_source_disable_unref(c->io_source);
        c->monitor = udev_monitor_unref(c->monitor);
        c->udev = udev_unref(c->udev);
}

Cpus *cpus_free(Cpus *c) {
        if (!c)
                return NULL;
        cpus_unwatch(c);
        cpu_picture_done(&c->picture);
        sd_event_unref(c->event);
        free(c->root);
        free(c->last_error);
        return mfree(c);
}

/* Re-read; run the handler on a change if notify. Keeps the old picture on error. */
static int cpus_reload(Cpus *c, bool notify, char **ret_error) {
        _cleanup_(cpu_picture_done) CpuPicture now = { .cpus = NULL }, old = { .cpus = NULL };
        _cleanup_(freep) char *error = NULL;
        int r;

        r = cpus_reread(c->root, &c->picture, &now, &error);
        free(c->last_error);
        c->last_error = r < 0 ? strdup(error ? error : STRERROR(r)) : NULL;
        if (r < 0) {
                if (ret_error)
                        *ret_error = TAKE_PTR(error);
                return r;
        }
        old = c->picture;
        c->picture = now;
        now = (CpuPicture) { .cpus = NULL };
        if (notify && c->handler && !cpu_picture_equal(&old, &c->picture))
                c->handler(c->userdata, &old, &c->picture);
        return 0;
}

static int on_udev_event(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        Cpus *c = userdata;
        _cleanup_(freep) char *error = NULL;
        int r;

        /* Drain the queue; the contents do not matter, sysfs is the truth. */
        for (unsigned i = 0; i < CPUS_EVENTS_PER_WAKEUP; i++) {
                struct udev_device *d = udev_monitor_receive_device(c->monitor);

                if (!d)
                        break;
                log_debug("cpus: uevent %s %s", strna(udev_device_get_action(d)),
                          strna(udev_device_get_syspath(d)));
                udev_device_unref(d);
        }
        r = cpus_reload(c, true, &error);
        if (r < 0)
                log_debug("cpus: re-reading after a uevent failed, keeping the old picture: %s",
                          error ? error : STRERROR(r));
        return 0;
}

static int cpus_watch(Cpus *c) {
        int r;

        c->udev = udev_new();
        if (!c->udev)
                return negative_errno();
        c->monitor = udev_monitor_new_from_netlink(c->udev, "udev");
        if (!c->monitor)
                return negative_errno();
        r = udev_monitor_filter_add_match_subsystem_devtype(c->monitor, "cpu", NULL);
        if (r < 0)
                return r;
        r = udev_monitor_enable_receiving(c->monitor);
        if (r < 0)
                return r;
        r = sd_event_add_io(c->event, &c->io_source, udev_monitor_get_fd(c->monitor), EPOLLIN,
                            on_udev_event, c);
        if (r < 0)
                return r;
        (void) sd_event_source_set_description(c->io_source, "cpus-udev");
        return 0;
}

static bool root_is_real(const char *root) {
        return strspn(root, "/") == strlen(root);
}

int cpus_start(Cpus *c, char **ret_error) {
        int r;

        assert(c);
        assert(!c->started);
        /* Watch first, then read: a change in between is then seen twice, not never. */
        r = cpus_watch(c);
        if (r < 0) {
                cpus_unwatch(c);
                if (root_is_real(c->root))
                        return error_message(ret_error, r, "udev monitor for the cpu subsystem: %s",
                                         STRERROR(r));
                log_debug("cpus: no udev monitor (%s), reading %s only on request", STRERROR(r), c->root);
        }
        r = cpus_reload(c, false, ret_error);
        if (r < 0)
                return r;
        c->started = true;
        return 0;
}

int cpus_refresh(Cpus *c, char **ret_error) {
        return cpus_reload(c, true, ret_error);
}

const CpuPicture *cpus_picture(const Cpus *c) {
        return &c->picture;
}

bool cpus_monitoring(const Cpus *c) {
        return c->io_source != NULL;
}

const char *cpus_last_error(const Cpus *c) {
        return c->last_error;
}

static int write_online(const char *root, unsigned cpu, char **ret_error) {
        _cleanup_(freep) char *rel = NULL, *path = NULL;
        _cleanup_(closep) int fd = -1;
        ssize_t k;
        int r;

        if (asprintf(&rel, CPU_SYSFS "/cpu%u/online", cpu) < 0)
                return -ENOMEM;
        r = cpus_path(root, rel, &path);
        if (r < 0)
                return r;
        /* No O_CREAT: the kernel provides the file. */
        fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC | O_NOCTTY);
        if (fd < 0) {
                r = -errno;
                return error_message(ret_error, r, "%s: %s", path, STRERROR(r));
        }
        k = write(fd, "1", 1);
        if (k < 0) {
                r = -errno;
                return error_message(ret_error, r, "%s: %s", path, STRERROR(r));
        }
        if (k != 1)
                return error_message(ret_error, -EIO, "%s: short write", path);
        return 0;
}

int cpus_online_empty_packages(Cpus *c, unsigned *ret_onlined, char **ret_error) {
        _cleanup_(freep) char *error = NULL;
        unsigned onlined = 0;
        int r = 0;

        for (size_t i = 0; i < c->picture.n_packages; i++) {
                const CpuPackage *k = &c->picture.packages[i];
                char *e = NULL;
                int q;

                if (k->n_online > 0)
                        continue;
                q = write_online(c->root, k->lowest_cpu, &e);
                if (q >= 0)
                        onlined++;
                else if (r >= 0) {
                        r = q;
                        error = e;
                } else
                        free(e);
        }
        if (ret_onlined)
                *ret_onlined = onlined;
        if (r < 0) {
                (void) cpus_reload(c, true, NULL);
                if (ret_error)
                        *ret_error = TAKE_PTR(error);
                return r;
        }
        return cpus_reload(c, true, ret_error);
}
