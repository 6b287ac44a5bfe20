/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <libvirt/libvirt.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/epoll.h>

#include "log.h"
#include "virt-event.h"

/* libvirt's hook API has no context pointer, so the loop and the tables are file-global.
 * libvirt identifies watches and timers by int ids; we keep them in one list. */

typedef struct Hook {
        int id;
        bool is_timer;
        int fd;                         /* watches */
        int frequency_ms;               /* timers: -1 off, 0 every iteration, >0 period */
        sd_event_source *source;
        virEventHandleCallback handle_cb;
        virEventTimeoutCallback timeout_cb;
        void *opaque;
        virFreeCallback ff;
        bool dying;                     /* removed by libvirt, freed on the next iteration */
        struct Hook *next;
} Hook;

static sd_event *hook_loop;
static Hook *hooks;
static int next_id = 1;

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

static int on_handle_io(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        Hook *h = userdata;

        h->handle_cb(h->id, fd, epoll_to_events(revents), h->opaque);
        return 0;
}

/* Arm a timer for its next expiry; frequency 0 means "on the next iteration". */
static int timer_arm(Hook *h) {
        uint64_t now = 0;
        int r;

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

static int on_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        Hook *h = userdata;
        int id = h->id;

        /* Re-arm first: the callback may update or remove this very timer. */
        (void) timer_arm(h);
        h->timeout_cb(id, h->opaque);
        return 0;
}

static Hook *hook_new(void) {
        Hook *h = calloc(1, sizeof(Hook));

        if (!h)
                return NULL;
        h->id = next_id++;
        h->fd = -1;
        h->next = hooks;
        hooks = h;
        return h;
}

static void hook_unlink(Hook *h) {
        for (Hook **p = &hooks; *p; p = &(*p)->next)
                if (*p == h) {
                        *p = h->next;
                        return;
                }
}

static int add_handle(int fd, int events, virEventHandleCallback cb, void *opaque, virFreeCallback ff) {
        Hook *h = hook_new();
        int r;

        if (!h)
                return -1;
        h->fd = fd;
        h->handle_cb = cb;
        h->opaque = opaque;
        h->ff = ff;
        r = sd_event_add_io(hook_loop, &h->source, fd, events_to_epoll(events), on_handle_io, h);
        if (r < 0) {
                hook_unlink(h);
                free(h);
                return -1;
        }
        if (events == 0)
                (void) sd_event_source_set_enabled(h->source, SD_EVENT_OFF);
        return h->id;
}

static void update_handle(int id, int events) {
        Hook *h = hook_find(id);

        if (!h || h->is_timer)
                return;
        if (events == 0) {
                (void) sd_event_source_set_enabled(h->source, SD_EVENT_OFF);
                return;
        }
        (void) sd_event_source_set_io_events(h->source, events_to_epoll(events));
        (void) sd_event_source_set_enabled(h->source, SD_EVENT_ON);
}

/* libvirt may remove a watch from inside its own callback, and the opaque's free
 * function must not run re-entrantly: free it from a defer source on the next iteration. */
static void hook_free(Hook *h) {
        sd_event_source_disable_unref(h->source);
        if (h->ff)
                h->ff(h->opaque);
        free(h);
}

static int on_deferred_free(sd_event_source *s, void *userdata) {
        Hook *h = userdata;

        hook_unlink(h);
        hook_free(h);
        return 0;
}

static int hook_remove(int id, bool timer) {
        Hook *h = hook_find(id);

        if (!h || h->is_timer != timer)
                return -1;
        h->dying = true;
        h->source = sd_event_source_disable_unref(h->source);
        /* The defer source takes the place of the watch; freeing h frees it too. If it
         * cannot be created, h stays on the list and is freed at exit. */
        if (sd_event_add_defer(hook_loop, &h->source, on_deferred_free, h) < 0 &&
            sd_event_get_state(hook_loop) != SD_EVENT_FINISHED)
                log_debug("Failed to defer freeing libvirt hook %d", id);
        return 0;
}

static int remove_handle(int id) {
        return hook_remove(id, false);
}

static int add_timeout(int frequency, virEventTimeoutCallback cb, void *opaque, virFreeCallback ff) {
        Hook *h = hook_new();
        int r;

        if (!h)
                return -1;
        h->is_timer = true;
        h->frequency_ms = frequency;
        h->timeout_cb = cb;
        h->opaque = opaque;
        h->ff = ff;
        /* Accuracy 1 µs, not sd-event's default 250 ms: libvirt delivers queued domain
         * events through a 0 ms timeout, and a STOPPED event must not wait. */
        r = sd_event_add_time(hook_loop, &h->source, CLOCK_MONOTONIC, UINT64_MAX, 1, on_timer, h);
        if (r >= 0)
                r = timer_arm(h);
        if (r < 0) {
                h->source = sd_event_source_disable_unref(h->source);
                hook_unlink(h);
                free(h);
                return -1;
        }
        return h->id;
}

static void update_timeout(int id, int frequency) {
        Hook *h = hook_find(id);

        if (!h || !h->is_timer)
                return;
        h->frequency_ms = frequency;
        (void) timer_arm(h);
}

static int remove_timeout(int id) {
        return hook_remove(id, true);
}

int virt_event_register(sd_event *e) {
        hook_loop = e;
        virEventRegisterImpl(add_handle, update_handle, remove_handle,
                             add_timeout, update_timeout, remove_timeout);
        return 0;
}

void virt_event_unregister(void) {
        while (hooks) {
                Hook *h = hooks;

                hooks = h->next;
                hook_free(h);
        }
}
