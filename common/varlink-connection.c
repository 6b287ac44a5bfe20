/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Server-side connections on sd-event: reading, framing, running calls in order, writing,
 * and dropping connections that break the bounds. */
#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>

#include "log.h"
#include "varlink-internal.h"

static void link_process(Varlink *v);

void varlink_server_drop_link(Varlink *v) {
        VarlinkServer *s = v->server;
        _cleanup_(varlink_unrefp) _unused_ Varlink *ref = varlink_ref(v);

        if (!s)
                return;
        if (v->prev)
                v->prev->next = v->next;
        else
                s->links = v->next;
        if (v->next)
                v->next->prev = v->prev;
        v->prev = v->next = NULL;
        s->n_links--;

        v->io_source = sd_event_source_disable_unref(v->io_source);
        v->time_source = sd_event_source_disable_unref(v->time_source);
        v->defer_source = sd_event_source_disable_unref(v->defer_source);
        v->fd = safe_close(v->fd);
        v->state = VARLINK_DISCONNECTED;
        json_object_put(v->current);
        v->current = NULL;
        v->current_method = NULL;
        varlink_buffer_done(&v->input);
        varlink_buffer_done(&v->output);
        v->server = NULL;

        if (s->disconnect)
                s->disconnect(s, v, s->userdata);
        varlink_unref(v);       /* the server's reference */
}

/* Answer a broken message and close once the answer is out; mid-call, just drop. */
static void link_protocol_error(Varlink *v, const char *field) {
        _cleanup_(json_object_putp) json_object *p = json_object_new_object(), *msg = NULL;

        log_debug("varlink: protocol error in field '%s', closing connection", field);
        if (v->state != VARLINK_IDLE || !p ||
            json_object_object_add(p, "parameter", json_object_new_string(field)) < 0 ||
            !(msg = varlink_reply_build(VARLINK_ERROR_INVALID_PARAMETER, p, false))) {
                varlink_server_drop_link(v);
                return;
        }
        varlink_buffer_done(&v->input);
        v->close_after_flush = true;
        if (varlink_enqueue(v, msg) < 0)
                varlink_server_drop_link(v);
}

/* Parse and run one complete message (text is inside v->input, consumed here). */
static void link_handle_message(Varlink *v, const char *text, size_t len) {
        _cleanup_(json_object_putp) json_object *msg = NULL;
        const char *bad = "message";
        VarlinkCallInfo call;
        int r;

        r = varlink_message_parse(text, len, &msg);
        varlink_buffer_consume(&v->input, len + 1);
        if (r >= 0)
                r = varlink_call_parse(msg, &call, &bad);
        if (r == -EBADMSG || r == -EMSGSIZE) {
                link_protocol_error(v, bad);
                return;
        }
        if (r < 0) {
                varlink_server_drop_link(v);
                return;
        }

        v->current = TAKE_PTR(msg);
        v->current_method = call.method;
        v->state = (call.flags & VARLINK_METHOD_ONEWAY) ? VARLINK_PROCESSING_ONEWAY :
                   (call.flags & VARLINK_METHOD_MORE) ? VARLINK_PROCESSING_MORE : VARLINK_PROCESSING;

        r = varlink_server_dispatch_call(v->server, v, &call);
        if (v->state == VARLINK_PROCESSING_ONEWAY)
                varlink_end_call(v);
        else if (r < 0 && (v->state == VARLINK_PROCESSING || v->state == VARLINK_PROCESSING_MORE))
                (void) varlink_error_errno(v, r);
}

static bool link_has_message(Varlink *v) {
        const char *text;
        size_t len;

        return varlink_buffer_next(&v->input, SIZE_MAX, &text, &len) > 0;
}

static uint64_t now_usec(Varlink *v) {
        uint64_t t = 0;

        (void) sd_event_now(sd_event_source_get_event(v->io_source), CLOCK_MONOTONIC, &t);
        return t;
}

/* Read only while no complete message waits. Idle (no call running, none complete in
 * the buffer, a half-sent one included) for longer than the idle timeout: closed, so a
 * connection that never calls cannot keep its place. */
static void link_update_sources(Varlink *v) {
        bool has_message = link_has_message(v);
        bool want_read = !v->read_eof && !v->close_after_flush && !has_message;
        uint32_t events = want_read ? EPOLLIN | EPOLLRDHUP : 0;

        if (varlink_buffer_pending(&v->output) > 0)
                events |= EPOLLOUT;
        (void) sd_event_source_set_io_events(v->io_source, events);

        if (!want_read || v->state != VARLINK_IDLE) {
                v->idle_since = 0;
                (void) sd_event_source_set_enabled(v->time_source, SD_EVENT_OFF);
                return;
        }
        if (v->idle_since == 0)
                v->idle_since = now_usec(v);
        /* Set each time, so that a changed timeout applies to open connections too. */
        (void) sd_event_source_set_time(v->time_source, v->idle_since + v->server->idle_timeout_usec);
        (void) sd_event_source_set_enabled(v->time_source, SD_EVENT_ONESHOT);
}

static void link_process(Varlink *v) {
        _cleanup_(varlink_unrefp) _unused_ Varlink *ref = varlink_ref(v);
        const char *text;
        size_t len;
        int r;

        while (v->state == VARLINK_IDLE && !v->close_after_flush) {
                r = varlink_buffer_next(&v->input, v->input_max, &text, &len);
                if (r == 0)
                        break;
                v->idle_since = 0;
                if (r < 0)
                        link_protocol_error(v, "message");
                else
                        link_handle_message(v, text, len);
        }
        if (v->state == VARLINK_DISCONNECTED)
                return;
        if (varlink_write(v) < 0 ||
            (varlink_buffer_pending(&v->output) == 0 &&
             (v->close_after_flush || (v->read_eof && v->state == VARLINK_IDLE && !link_has_message(v))))) {
                varlink_server_drop_link(v);
                return;
        }
        link_update_sources(v);
}

static int on_link_io(sd_event_source *source, int fd, uint32_t revents, void *userdata) {
        _cleanup_(varlink_unrefp) Varlink *v = varlink_ref(userdata);
        const char *text;
        size_t len;

        if ((revents & (EPOLLIN | EPOLLRDHUP)) && !v->read_eof) {
                if (varlink_read(v) < 0) {
                        varlink_server_drop_link(v);
                        return 0;
                }
                /* Mid-call the size check in link_process() does not run: do it here. */
                if (v->state != VARLINK_IDLE &&
                    varlink_buffer_next(&v->input, v->input_max, &text, &len) == -EMSGSIZE) {
                        varlink_server_drop_link(v);
                        return 0;
                }
        }
        link_process(v);
        if (v->state != VARLINK_DISCONNECTED && (revents & (EPOLLHUP | EPOLLERR)))
                varlink_server_drop_link(v);
        return 0;
}

static int on_link_defer(sd_event_source *source, void *userdata) {
        link_process(userdata);
        return 0;
}

static int on_link_timeout(sd_event_source *source, uint64_t usec, void *userdata) {
        log_debug("varlink: no call within the idle timeout, dropping connection");
        varlink_server_drop_link(userdata);
        return 0;
}

int varlink_link_attach_sources(VarlinkServer *s, Varlink *v) {
        int64_t priority = s->priority + !(v->ucred_valid && v->ucred.uid == 0);
        int r;

        r = sd_event_add_io(s->event, &v->io_source, v->fd, EPOLLIN | EPOLLRDHUP, on_link_io, v);
        if (r >= 0)
                r = sd_event_add_time(s->event, &v->time_source, CLOCK_MONOTONIC, 0, 0, on_link_timeout, v);
        if (r >= 0)
                r = sd_event_add_defer(s->event, &v->defer_source, on_link_defer, v);
        if (r < 0)
                return r;
        (void) sd_event_source_set_enabled(v->time_source, SD_EVENT_OFF);
        /* sd-event runs one ready source per iteration, the highest priority first: root's
         * connections (and the listener) go before every unprivileged one. */
        (void) sd_event_source_set_priority(v->io_source, priority);
        (void) sd_event_source_set_priority(v->time_source, priority);
        (void) sd_event_source_set_priority(v->defer_source, priority);
        varlink_kick(v);        /* process what may already be buffered */
        link_update_sources(v); /* the idle timer runs from connect() */
        return 0;
}

int varlink_server_add_connection(VarlinkServer *s, int fd, Varlink **ret) {
        Varlink *v;
        int r;

        if (!s || fd < 0)
                return -EINVAL;
        r = varlink_new(&v, fd);
        if (r < 0)
                return r;
        v->server = s;
        v->input_max = s->message_max;
        v->output_max = s->output_max;
        v->userdata = s->userdata;
        if (s->event) {
                r = varlink_link_attach_sources(s, v);
                if (r < 0) {
                        v->fd = -1;     /* the caller keeps fd on failure */
                        varlink_unref(v);
                        return r;
                }
        }
        v->next = s->links;
        if (s->links)
                s->links->prev = v;
        s->links = v;
        s->n_links++;
        if (ret)
                *ret = v;
        return 0;
}
