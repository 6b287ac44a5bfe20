/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <fcntl.h>
#include <libudev.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "log.h"
#include "power-watch.h"

/* Directories whose files make up the picture; ROOT/proc only below a fake root (the
 * real procfs sends no inotify events: /proc/swaps is polled instead). */
static const char *const watched_dirs[] = { "/sys/power", "/sys/module/kvm_intel/parameters", "/proc" };
#define N_WATCHED_DIRS (sizeof(watched_dirs) / sizeof(watched_dirs[0]))
#define MODULE_EVENTS_PER_WAKEUP 64

struct PowerWatch {
        sd_event_source *dirs[N_WATCHED_DIRS];
        int swaps_fd;
        sd_event_source *swaps;
        struct udev *udev;
        struct udev_monitor *monitor;
        sd_event_source *modules;
        PowerWatchHandler handler;
        void *userdata;
};

PowerWatch *power_watch_free(PowerWatch *w) {
        if (!w)
                return NULL;
        for (size_t i = 0; i < N_WATCHED_DIRS; i++)
                sd_event_source_disable_unref(w->dirs[i]);
        sd_event_source_disable_unref(w->swaps);
        if (w->swaps_fd >= 0)
                close(w->swaps_fd);
        sd_event_source_disable_unref(w->modules);
        udev_monitor_unref(w->monitor);
        udev_unref(w->udev);
        return mfree(w);
}

static int on_dir_changed(sd_event_source *s, const struct inotify_event *ev, void *userdata) {
        PowerWatch *w = userdata;

        w->handler(w->userdata);
        return 0;
}

static int on_swaps_changed(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        PowerWatch *w = userdata;

        /* The kernel clears the condition for this open file as poll reports it. */
        w->handler(w->userdata);
        return 0;
}

static int on_module_event(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        PowerWatch *w = userdata;
        bool kvm_intel = false;

        for (unsigned i = 0; i < MODULE_EVENTS_PER_WAKEUP; i++) {
                struct udev_device *d = udev_monitor_receive_device(w->monitor);

                if (!d)
                        break;
                kvm_intel = kvm_intel || streq(strempty(udev_device_get_sysname(d)), "kvm_intel");
                udev_device_unref(d);
        }
        if (kvm_intel)
                w->handler(w->userdata);
        return 0;
}

static bool root_is_real(const char *root) {
        return strspn(root, "/") == strlen(root);
}

static void watch_dirs(PowerWatch *w, sd_event *e, const char *root) {
        const uint32_t mask = IN_MODIFY | IN_CLOSE_WRITE | IN_CREATE | IN_DELETE | IN_MOVED_TO | IN_MOVED_FROM;

        for (size_t i = 0; i < N_WATCHED_DIRS; i++) {
                _cleanup_(freep) char *path = NULL;
                int r;

                if (streq(watched_dirs[i], "/proc") && root_is_real(root))
                        continue;
                if (asprintf(&path, "%s%s", root_is_real(root) ? "" : root, watched_dirs[i]) < 0)
                        continue;
                r = sd_event_add_inotify(e, &w->dirs[i], path, mask, on_dir_changed, w);
                if (r < 0)      /* kvm_intel not loaded: udev says when it is */
                        log_debug("power: not watching %s: %s", path, STRERROR(r));
        }
}

/* Only the real procfs: below a fake root, /proc/swaps is a plain file (epoll refuses it)
 * and the directory's inotify watch covers it. */
static void watch_swaps(PowerWatch *w, sd_event *e, const char *root) {
        int r;

        if (!root_is_real(root))
                return;
        w->swaps_fd = open("/proc/swaps", O_RDONLY | O_CLOEXEC);
        if (w->swaps_fd < 0) {
                log_debug("power: not watching /proc/swaps: %s", STRERROR(errno));
                return;
        }
        r = sd_event_add_io(e, &w->swaps, w->swaps_fd, EPOLLPRI, on_swaps_changed, w);
        if (r < 0)
                log_debug("power: not watching /proc/swaps: %s", STRERROR(r));
}

static int watch_modules(PowerWatch *w, sd_event *e) {
        int r;

        w->udev = udev_new();
        if (!w->udev)
                return negative_errno();
        w->monitor = udev_monitor_new_from_netlink(w->udev, "udev");
        if (!w->monitor)
                return negative_errno();
        r = udev_monitor_filter_add_match_subsystem_devtype(w->monitor, "module", NULL);
        if (r < 0)
                return r;
        r = udev_monitor_enable_receiving(w->monitor);
        if (r < 0)
                return r;
        return sd_event_add_io(e, &w->modules, udev_monitor_get_fd(w->monitor), EPOLLIN, on_module_event, w);
}

int power_watch_new(sd_event *e, const char *root, PowerWatchHandler handler, void *userdata, PowerWatch **ret) {
        _cleanup_(power_watch_freep) PowerWatch *w = calloc(1, sizeof(PowerWatch));
        int r;

        if (!w)
                return -ENOMEM;
        w->swaps_fd = -1;
        w->handler = handler;
        w->userdata = userdata;
        watch_dirs(w, e, root);
        watch_swaps(w, e, root);
        r = watch_modules(w, e);
        if (r < 0)
                log_debug("power: not watching kernel modules: %s", STRERROR(r));
        *ret = TAKE_PTR(w);
        return 0;
}
