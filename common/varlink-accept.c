/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Accepting connections, and deciding who gets one: no caller may take the places that
 * root (the sleep hook, root's tdsleepctl) needs. */
#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include "log.h"
#include "varlink-internal.h"

/* Connections handled per wakeup: enough to drain a connect() flood quickly, few enough
 * that calls already queued are not held up for long. */
#define ACCEPT_BURST 64
/* After EMFILE/ENFILE the listening socket stays readable: pause instead of spinning. */
#define ACCEPT_RETRY_USEC (50 * USEC_PER_MSEC)

static unsigned count_uid(VarlinkServer *s, uid_t uid) {
        unsigned n = 0;

        for (Varlink *v = s->links; v; v = v->next)
                n += v->ucred_valid && v->ucred.uid == uid;
        return n;
}

/* Root may use every place; everyone else shares all but the reserved ones, each uid
 * up to its own limit. A peer without credentials counts as unprivileged. */
static bool server_admits(VarlinkServer *s, int fd) {
        struct ucred u = { .pid = 0 };
        socklen_t len = sizeof u;
        bool known = getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &u, &len) >= 0 && len == sizeof u;
        unsigned shared = s->connections_max > s->connections_reserved ?
                          s->connections_max - s->connections_reserved : 0;

        if (s->n_links >= s->connections_max)
                return false;
        if (known && u.uid == 0)
                return true;
        if (s->n_links >= shared)
                return false;
        return known && count_uid(s, u.uid) < s->connections_per_uid_max;
}

static int on_accept_retry(sd_event_source *source, uint64_t usec, void *userdata) {
        VarlinkServer *s = userdata;

        s->accept_retry = sd_event_source_disable_unref(s->accept_retry);
        for (size_t i = 0; i < s->n_listeners; i++)
                (void) sd_event_source_set_enabled(s->listeners[i].source, SD_EVENT_ON);
        return 0;
}

static void pause_accepting(VarlinkServer *s) {
        log_debug("varlink: out of file descriptors, not accepting for a moment");
        if (s->accept_retry)
                return;
        if (sd_event_add_time_relative(s->event, &s->accept_retry, CLOCK_MONOTONIC, ACCEPT_RETRY_USEC, 0,
                                       on_accept_retry, s) < 0)
                return;         /* keep accepting: spinning beats a dead socket */
        for (size_t i = 0; i < s->n_listeners; i++)
                (void) sd_event_source_set_enabled(s->listeners[i].source, SD_EVENT_OFF);
}

static int on_listen_io(sd_event_source *source, int fd, uint32_t revents, void *userdata) {
        VarlinkServer *s = userdata;
        int cfd, r;

        for (unsigned i = 0; i < ACCEPT_BURST; i++) {
                cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
                if (cfd < 0) {
                        if (errno == EMFILE || errno == ENFILE)
                                pause_accepting(s);
                        else if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
                                log_debug("varlink: accept failed: %s", strerror(errno));
                        return 0;
                }
                if (!server_admits(s, cfd)) {
                        log_debug("varlink: %u connections open, refusing another", s->n_links);
                        safe_close(cfd);
                        continue;
                }
                r = varlink_server_add_connection(s, cfd, NULL);
                if (r < 0) {
                        log_debug("varlink: cannot serve new connection: %s", strerror(-r));
                        safe_close(cfd);
                }
        }
        return 0;
}

int varlink_listener_attach(VarlinkServer *s, VarlinkListener *l) {
        int r;

        if (!s->event || l->source)
                return 0;
        r = sd_event_add_io(s->event, &l->source, l->fd, EPOLLIN, on_listen_io, s);
        if (r < 0)
                return r;
        /* Before the connections of unprivileged callers (see varlink_link_attach_sources). */
        return sd_event_source_set_priority(l->source, s->priority);
}

unsigned varlink_server_fit_rlimit(VarlinkServer *s) {
        const rlim_t own = 128, want = (rlim_t) s->connections_max + own;
        struct rlimit rl;
        unsigned max;

        if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur >= want)
                return 0;
        if (rl.rlim_max >= want) {
                rl.rlim_cur = want;
                if (setrlimit(RLIMIT_NOFILE, &rl) >= 0)
                        return 0;
        }
        max = rl.rlim_cur > own + 64 ? (unsigned) (rl.rlim_cur - own) : 64;
        s->connections_max = max;
        s->connections_reserved = max / 5;
        return max;
}
