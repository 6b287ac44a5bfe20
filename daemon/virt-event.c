/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <libvirt/libvirt.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "log.h"
#include "virt-event.h"

/* libvirt's hook API has no context pointer, so the loop and the tables are file-global.
 * libvirt identifies watches and timers by int ids; we keep them in one list.
 *
 * Threads: libvirt calls the hooks from any thread (a worker of the executor that holds
 * a connection's socket disables and re-enables its watch around its own I/O, and the
 * last reference to a connection dropped on a worker removes its watches). sd-event is
 * not thread-safe, so only the loop thread touches it: a hook records what libvirt wants
 * in the Hook under the lock and marks it dirty; the loop thread applies dirty hooks,
 * at once when the hook ran on it, else after a write to the wake-up eventfd, as
 * libvirt's own poll loop does with its wake-up pipe (vireventpoll.c); one write until
 * the loop drains it, since the loop applies every dirty hook then (a resume of a
 * thousand TDs has libvirt's workers change the socket's watch several times per
 * start, and each write was a wake-up of the loop). Callbacks run on
 * the loop thread without the lock (they call the hooks again); a Hook is freed only on
 * the loop thread, on the iteration after its removal, so a callback's Hook stays. */

typedef struct Hook {
        int id;
        bool is_timer;
        int fd;                         /* watches */
        int events;                     /* watches: VIR_EVENT_HANDLE_* wanted */
        int frequency_ms;               /* timers: -1 off, 0 every iteration, >0 period */
        sd_event_source *source;        /* loop thread only */
        sd_event_source *now_source;    /* timers due every iteration: a defer source */
        virEventHandleCallback handle_cb;
        virEventTimeoutCallback timeout_cb;
        void *opaque;
        virFreeCallback ff;
        bool dirty;                     /* to apply on the loop thread */
        bool dying;                     /* removed by libvirt, freed on the next iteration */
        struct Hook *next;
} Hook;

static pthread_mutex_t hook_lock = PTHREAD_MUTEX_INITIALIZER;
static sd_event *hook_loop;
static pthread_t loop_thread;
static int wake_fd = -1;
static bool wake_pending;               /* written, not drained yet: the loop will apply */
static sd_event_source *wake_source;
static Hook *hooks;
static int next_id = 1;
/* This thread is opening a connection that must do without the loop (virt-pool.c). */
static __thread bool refuse_watches;

static Hook *hook_find(int id) {
        for (Hook *h = hooks; h; h = h->next)
                if (h->id == id && !h->dying)
                        return h;
        return NULL;
}

static uint32_t events_to_epoll(int events) {
        uint32_t e = 0;

        if (events & VIR_EVENT_HANDLE_READABLE)
                e |= EPOLLIN;
        if (events & VIR_EVENT_HANDLE_WRITABLE)
                e |= EPOLLOUT;
        return e;
}

static int epoll_to_events(uint32_t revents) {
        int e = 0;

        if (revents & EPOLLIN)
                e |= VIR_EVENT_HANDLE_READABLE;
        if (revents & EPOLLOUT)
                e |= VIR_EVENT_HANDLE_WRITABLE;
        if (revents & EPOLLERR)
                e |= VIR_EVENT_HANDLE_ERROR;
        if (revents & EPOLLHUP)
                e |= VIR_EVENT_HANDLE_HANGUP;
        return e;
}

/* ---- dispatch (loop thread, without the lock) ---- */

static int on_handle_io(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        Hook *h = userdata;
        virEventHandleCallback cb;
        void *opaque;
        int id, events;

        /* What libvirt wants now, not what the source was last set to: a worker may
         * have taken the socket over since (the change is on its way to the loop). */
        pthread_mutex_lock(&hook_lock);
        events = epoll_to_events(revents) & (h->events | VIR_EVENT_HANDLE_ERROR | VIR_EVENT_HANDLE_HANGUP);
        cb = h->dying || h->events == 0 ? NULL : h->handle_cb;
        opaque = h->opaque;
        id = h->id;
        pthread_mutex_unlock(&hook_lock);
        if (cb && events != 0)
                cb(id, fd, events, opaque);
        return 0;
}

static int on_timer_now(sd_event_source *s, void *userdata);

/* Frequency 0 means "on the next iteration": libvirt delivers each queued domain event
 * through one, so a resume of a thousand TDs sets it a thousand times. A defer source
 * does that without re-arming the loop's timerfd and reading it back. */
static int timer_arm_now(Hook *h) {
        (void) sd_event_source_set_enabled(h->source, SD_EVENT_OFF);
        if (!h->now_source)
                return sd_event_add_defer(hook_loop, &h->now_source, on_timer_now, h);
        return sd_event_source_set_enabled(h->now_source, SD_EVENT_ONESHOT);
}

/* Arm a timer for its next expiry. */
static int timer_arm(Hook *h) {
        uint64_t now = 0;
        int r;

        if (h->frequency_ms == 0)
                return timer_arm_now(h);
        if (h->now_source)
                (void) sd_event_source_set_enabled(h->now_source, SD_EVENT_OFF);
        if (h->frequency_ms < 0)
                return sd_event_source_set_enabled(h->source, SD_EVENT_OFF);
        r = sd_event_now(hook_loop, CLOCK_MONOTONIC, &now);
        if (r < 0)
                return r;
        r = sd_event_source_set_time(h->source, now + (uint64_t) h->frequency_ms * 1000);
        if (r < 0)
                return r;
        return sd_event_source_set_enabled(h->source, SD_EVENT_ONESHOT);
}

static void timer_fire(Hook *h) {
        virEventTimeoutCallback cb;
        void *opaque;
        int id;

        pthread_mutex_lock(&hook_lock);
        /* Re-arm first: the callback may update or remove this very timer. */
        if (!h->dying)
                (void) timer_arm(h);
        cb = h->dying || h->frequency_ms < 0 ? NULL : h->timeout_cb;
        opaque = h->opaque;
        id = h->id;
        pthread_mutex_unlock(&hook_lock);
        if (cb)
                cb(id, opaque);
}

static int on_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        timer_fire(userdata);
        return 0;
}

static int on_timer_now(sd_event_source *s, void *userdata) {
        timer_fire(userdata);
        return 0;
}

/* ---- applying what libvirt asked for (loop thread, under the lock) ---- */

static void hook_unlink(Hook *h) {
        for (Hook **p = &hooks; *p; p = &(*p)->next)
                if (*p == h) {
                        *p = h->next;
                        return;
                }
}

/* The opaque's free function runs without the lock and never re-entrantly (libvirt may
 * remove a watch from inside its own callback): on the next iteration. */
static int on_deferred_free(sd_event_source *s, void *userdata) {
        Hook *h = userdata;

        pthread_mutex_lock(&hook_lock);
        hook_unlink(h);
        pthread_mutex_unlock(&hook_lock);
        sd_event_source_disable_unref(h->source);
        sd_event_source_disable_unref(h->now_source);
        if (h->ff)
                h->ff(h->opaque);
        free(h);
        return 0;
}

static int hook_apply_source(Hook *h) {
        if (h->source)
                return 0;
        if (h->is_timer)
                /* Accuracy 1 µs, not sd-event's default 250 ms: libvirt delivers queued
                 * domain events through a 0 ms timeout, and a STOPPED event must not wait. */
                return sd_event_add_time(hook_loop, &h->source, CLOCK_MONOTONIC, UINT64_MAX, 1, on_timer, h);
        return sd_event_add_io(hook_loop, &h->source, h->fd, EPOLLIN, on_handle_io, h);
}

static void hook_apply(Hook *h) {
        int r;

        h->dirty = false;
        if (h->dying) {
                /* The defer source takes the place of the watch; freeing h frees it too.
                 * If it cannot be created, h stays on the list and is freed at exit. */
                h->source = sd_event_source_disable_unref(h->source);
                h->now_source = sd_event_source_disable_unref(h->now_source);
                if (sd_event_add_defer(hook_loop, &h->source, on_deferred_free, h) < 0 &&
                    sd_event_get_state(hook_loop) != SD_EVENT_FINISHED)
                        log_debug("Failed to defer freeing libvirt hook %d", h->id);
                return;
        }
        r = hook_apply_source(h);
        if (r >= 0 && h->is_timer)
                r = timer_arm(h);
        else if (r >= 0 && h->events == 0)
                r = sd_event_source_set_enabled(h->source, SD_EVENT_OFF);
        else if (r >= 0) {
                r = sd_event_source_set_io_events(h->source, events_to_epoll(h->events));
                if (r >= 0)
                        r = sd_event_source_set_enabled(h->source, SD_EVENT_ON);
        }
        /* After the loop finished (tdsleepd exiting), libvirt still tidies its watches
         * while its calls end: sd-event refuses with ESTALE, and nothing needs them. */
        if (r < 0 && sd_event_get_state(hook_loop) != SD_EVENT_FINISHED)
                log_error_errno(r, "Failed to set up libvirt %s %d: %s", h->is_timer ? "timer" : "watch", h->id,
                                STRERROR(r));
}

static void hooks_apply_locked(void) {
        Hook *next;

        for (Hook *h = hooks; h; h = next) {
                next = h->next;
                if (h->dirty)
                        hook_apply(h);
        }
}

static int on_wake(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        uint64_t n;

        (void) !read(fd, &n, sizeof n);
        pthread_mutex_lock(&hook_lock);
        wake_pending = false;   /* a change after this needs a write of its own */
        hooks_apply_locked();
        pthread_mutex_unlock(&hook_lock);
        return 0;
}

/* h changed: apply now on the loop thread, else wake it (lock held). */
static void hook_changed_locked(Hook *h) {
        static const uint64_t one = 1;

        h->dirty = true;
        if (pthread_equal(pthread_self(), loop_thread))
                hook_apply(h);
        else if (!wake_pending)
                wake_pending = write(wake_fd, &one, sizeof one) == sizeof one;
}

/* ---- the hooks (any thread) ---- */

static int hook_add(Hook *template) {
        Hook *h = malloc(sizeof(Hook));
        int id;

        if (!h)
                return -1;
        *h = *template;
        pthread_mutex_lock(&hook_lock);
        id = h->id = next_id++;
        h->next = hooks;
        hooks = h;
        hook_changed_locked(h);
        pthread_mutex_unlock(&hook_lock);
        return id;
}

static int add_handle(int fd, int events, virEventHandleCallback cb, void *opaque, virFreeCallback ff) {
        if (refuse_watches)
                return -1;      /* libvirt's remote driver then does its I/O itself, unwatched */
        return hook_add(&(Hook) {
                .fd = fd,
                .events = events,
                .handle_cb = cb,
                .opaque = opaque,
                .ff = ff,
        });
}

static void update_handle(int id, int events) {
        Hook *h;

        pthread_mutex_lock(&hook_lock);
        h = hook_find(id);
        if (h && !h->is_timer) {
                h->events = events;
                hook_changed_locked(h);
        }
        pthread_mutex_unlock(&hook_lock);
}

static int hook_remove(int id, bool timer) {
        Hook *h;
        int r = -1;

        pthread_mutex_lock(&hook_lock);
        h = hook_find(id);
        if (h && h->is_timer == timer) {
                h->dying = true;
                hook_changed_locked(h);
                r = 0;
        }
        pthread_mutex_unlock(&hook_lock);
        return r;
}

static int remove_handle(int id) {
        return hook_remove(id, false);
}

static int add_timeout(int frequency, virEventTimeoutCallback cb, void *opaque, virFreeCallback ff) {
        return hook_add(&(Hook) {
                .is_timer = true,
                .fd = -1,
                .frequency_ms = frequency,
                .timeout_cb = cb,
                .opaque = opaque,
                .ff = ff,
        });
}

static void update_timeout(int id, int frequency) {
        Hook *h;

        pthread_mutex_lock(&hook_lock);
        h = hook_find(id);
        if (h && h->is_timer) {
                h->frequency_ms = frequency;
                hook_changed_locked(h);
        }
        pthread_mutex_unlock(&hook_lock);
}

static int remove_timeout(int id) {
        return hook_remove(id, true);
}

int virt_event_register(sd_event *e) {
        int r;

        hook_loop = e;
        loop_thread = pthread_self();
        wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (wake_fd < 0)
                return -errno;
        r = sd_event_add_io(e, &wake_source, wake_fd, EPOLLIN, on_wake, NULL);
        if (r < 0)
                return r;
        virEventRegisterImpl(add_handle, update_handle, remove_handle,
                             add_timeout, update_timeout, remove_timeout);
        return 0;
}

void virt_event_refuse_watches(bool refuse) {
        refuse_watches = refuse;
}

void virt_event_unregister(void) {
        Hook *list;

        /* At exit, after the executor's workers are gone: the free functions run
         * without the lock (they may call the hooks). */
        pthread_mutex_lock(&hook_lock);
        list = hooks;
        hooks = NULL;
        pthread_mutex_unlock(&hook_lock);
        while (list) {
                Hook *h = list;

                list = h->next;
                sd_event_source_disable_unref(h->source);
                sd_event_source_disable_unref(h->now_source);
                if (h->ff)
                        h->ff(h->opaque);
                free(h);
        }
        wake_source = sd_event_source_disable_unref(wake_source);
        if (wake_fd >= 0)
                close(wake_fd);
        wake_fd = -1;
        wake_pending = false;
}
