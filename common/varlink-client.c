/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The synchronous Varlink client: calls, streams and oneway calls with a timeout. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>

#include "varlink-internal.h"

static uint64_t now_usec(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * USEC_PER_SEC + (uint64_t) ts.tv_nsec / NSEC_PER_USEC;
}

static uint64_t deadline_of(Varlink *v) {
        uint64_t now = now_usec();

        if (v->timeout_usec == VARLINK_TIMEOUT_INFINITY || v->timeout_usec > UINT64_MAX - now)
                return UINT64_MAX;
        return now + v->timeout_usec;
}

/* Wait until fd is ready for events or the deadline passes (-ETIMEDOUT). */
static int wait_fd(Varlink *v, short events, uint64_t deadline) {
        struct pollfd p = { .fd = v->fd, .events = events };
        int timeout_ms = -1, r;

        if (deadline != UINT64_MAX) {
                uint64_t now = now_usec();

                if (now >= deadline)
                        return -ETIMEDOUT;
                timeout_ms = (deadline - now + USEC_PER_MSEC - 1) / USEC_PER_MSEC > INT32_MAX ?
                             INT32_MAX : (int) ((deadline - now + USEC_PER_MSEC - 1) / USEC_PER_MSEC);
        }
        r = poll(&p, 1, timeout_ms);
        if (r < 0)
                return errno == EINTR ? 0 : -errno;
        return r == 0 ? -ETIMEDOUT : 0;
}

/* Fail the connection: a late reply could be taken for the answer to a later call. */
static int client_fail(Varlink *v, int r) {
        (void) varlink_close(v);
        return r;
}

static int client_flush(Varlink *v, uint64_t deadline) {
        int r;

        for (;;) {
                r = varlink_write(v);
                if (r < 0)
                        return r;
                if (varlink_buffer_pending(&v->output) == 0)
                        return 0;
                r = wait_fd(v, POLLOUT, deadline);
                if (r < 0)
                        return r;
        }
}

/* Read the next reply into v->reply. */
static int client_read_reply(Varlink *v, uint64_t deadline, VarlinkReplyInfo *ret) {
        const char *text;
        size_t len;
        int r;

        for (;;) {
                r = varlink_buffer_next(&v->input, v->input_max, &text, &len);
                if (r < 0)
                        return -EBADMSG;
                if (r > 0)
                        break;
                if (v->read_eof)
                        return -ECONNRESET;
                r = wait_fd(v, POLLIN, deadline);
                if (r < 0)
                        return r;
                r = varlink_read(v);
                if (r < 0)
                        return r;
        }
        json_object_put(v->reply);
        v->reply = NULL;
        r = varlink_message_parse(text, len, &v->reply);
        varlink_buffer_consume(&v->input, len + 1);
        if (r < 0)
                return r;
        return varlink_reply_parse(v->reply, ret);
}

/* Queue and flush a call message. */
static int client_send(Varlink *v, const char *method, json_object *parameters, VarlinkMethodFlags flags) {
        _cleanup_(json_object_putp) json_object *msg = NULL;
        int r;

        if (!v || !method)
                return -EINVAL;
        if (v->state == VARLINK_DISCONNECTED)
                return -ENOTCONN;
        if (v->state != VARLINK_IDLE || v->server)
                return -EBUSY;
        msg = varlink_call_build(method, parameters, flags);
        r = varlink_enqueue(v, msg);
        if (r < 0)
                return r;
        r = client_flush(v, deadline_of(v));
        return r < 0 ? client_fail(v, r) : 0;
}

int varlink_call(Varlink *v, const char *method, json_object *parameters,
                 json_object **ret_parameters, const char **ret_error_id) {
        VarlinkReplyInfo reply;
        int r;

        r = client_send(v, method, parameters, 0);
        if (r < 0)
                return r;
        r = client_read_reply(v, deadline_of(v), &reply);
        if (r >= 0 && reply.continues)
                r = -EPROTO;
        if (r < 0)
                return client_fail(v, r);
        if (ret_parameters)
                *ret_parameters = reply.parameters;
        if (ret_error_id)
                *ret_error_id = reply.error;
        else if (reply.error)
                return -EBADR;
        return 0;
}

int varlink_observe(Varlink *v, const char *method, json_object *parameters) {
        int r = client_send(v, method, parameters, VARLINK_METHOD_MORE);

        if (r < 0)
                return r;
        v->state = VARLINK_AWAITING_MORE;
        return 0;
}

int varlink_next(Varlink *v, json_object **ret_parameters, const char **ret_error_id, bool *ret_continues) {
        VarlinkReplyInfo reply;
        int r;

        if (!v)
                return -EINVAL;
        if (v->state == VARLINK_DISCONNECTED)
                return -ENOTCONN;
        if (v->state != VARLINK_AWAITING_MORE)
                return -EBUSY;
        r = client_read_reply(v, deadline_of(v), &reply);
        if (r < 0)
                return client_fail(v, r);
        if (!reply.continues)
                v->state = VARLINK_IDLE;
        if (ret_parameters)
                *ret_parameters = reply.parameters;
        if (ret_error_id)
                *ret_error_id = reply.error;
        if (ret_continues)
                *ret_continues = reply.continues;
        return 0;
}

int varlink_send(Varlink *v, const char *method, json_object *parameters) {
        return client_send(v, method, parameters, VARLINK_METHOD_ONEWAY);
}

int varlink_set_relative_timeout(Varlink *v, uint64_t usec) {
        if (!v)
                return -EINVAL;
        v->timeout_usec = usec > 0 ? usec : VARLINK_DEFAULT_TIMEOUT_USEC;
        return 0;
}

int varlink_set_input_max(Varlink *v, size_t m) {
        if (!v)
                return -EINVAL;
        v->input_max = m > 0 ? m : VARLINK_DEFAULT_CLIENT_MESSAGE_MAX;
        return 0;
}

int varlink_connect_fd(Varlink **ret, int fd) {
        int flags;

        if (!ret || fd < 0)
                return -EINVAL;
        flags = fcntl(fd, F_GETFL);
        if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0)
                return -errno;
        return varlink_new(ret, fd);
}

int varlink_connect_address(Varlink **ret, const char *address) {
        _cleanup_(closep) int fd = -1;
        struct sockaddr_un sa;
        socklen_t len;
        int r;

        if (!ret || !address)
                return -EINVAL;
        r = varlink_sockaddr_from_address(address, &sa, &len);
        if (r < 0)
                return r;
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        if (connect(fd, (struct sockaddr *) &sa, len) < 0)
                return -errno;
        r = varlink_connect_fd(ret, fd);
        if (r < 0)
                return r;
        TAKE_FD(fd);
        return 0;
}

Varlink *varlink_flush_close_unref(Varlink *v) {
        if (!v)
                return NULL;
        if (!v->server && v->state != VARLINK_DISCONNECTED)
                (void) client_flush(v, deadline_of(v));
        (void) varlink_close(v);
        return varlink_unref(v);
}
