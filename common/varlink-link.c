/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* One Varlink connection: lifetime, buffered I/O, replies, peer credentials. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "log.h"
#include "varlink-internal.h"

#define READ_CHUNK (16U * 1024U)

/* The peer's supplementary groups as the kernel recorded them at connect() time: no
 * /proc lookup (which ProtectProc=invisible hides and which races with PID reuse). */
static int read_peer_groups(Varlink *v) {
        socklen_t len = 16 * sizeof(gid_t);

        for (;;) {
                gid_t *a = realloc(v->groups, len > 0 ? len : sizeof(gid_t));

                if (!a)
                        return -ENOMEM;
                v->groups = a;
                if (getsockopt(v->fd, SOL_SOCKET, SO_PEERGROUPS, v->groups, &len) >= 0)
                        break;
                if (errno != ERANGE)
                        return -errno;
                /* len now says how much is needed. */
        }
        v->n_groups = len / sizeof(gid_t);
        v->groups_valid = true;
        return 0;
}

int varlink_new(Varlink **ret, int fd) {
        Varlink *v;
        socklen_t len = sizeof(struct ucred);

        v = calloc(1, sizeof(*v));
        if (!v)
                return -ENOMEM;
        *v = (Varlink) {
                .n_ref = 1,
                .fd = fd,
                .state = VARLINK_IDLE,
                .input_max = VARLINK_DEFAULT_CLIENT_MESSAGE_MAX,
                .output_max = VARLINK_DEFAULT_OUTPUT_MAX,
                .timeout_usec = VARLINK_DEFAULT_TIMEOUT_USEC,
        };
        v->ucred_valid = getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &v->ucred, &len) >= 0 &&
                         len == sizeof(struct ucred) && v->ucred.pid > 0;
        if (v->ucred_valid)
                (void) read_peer_groups(v);
        *ret = v;
        return 0;
}

static void varlink_drop_sources(Varlink *v) {
        v->io_source = sd_event_source_disable_unref(v->io_source);
        v->time_source = sd_event_source_disable_unref(v->time_source);
        v->defer_source = sd_event_source_disable_unref(v->defer_source);
}

static Varlink *varlink_free(Varlink *v) {
        varlink_drop_sources(v);
        v->fd = safe_close(v->fd);
        varlink_buffer_done(&v->input);
        varlink_buffer_done(&v->output);
        json_object_put(v->current);
        json_object_put(v->reply);
        free(v->groups);
        free(v);
        return NULL;
}

Varlink *varlink_ref(Varlink *v) {
        if (v)
                v->n_ref++;
        return v;
}

Varlink *varlink_unref(Varlink *v) {
        if (!v || --v->n_ref > 0)
                return NULL;
        return varlink_free(v);
}

int varlink_close(Varlink *v) {
        if (!v)
                return -EINVAL;
        if (v->state == VARLINK_DISCONNECTED)
                return 0;
        if (v->server) {
                varlink_server_drop_link(v);
                return 1;
        }
        varlink_drop_sources(v);
        v->fd = safe_close(v->fd);
        v->state = VARLINK_DISCONNECTED;
        return 1;
}

bool varlink_is_connected(Varlink *v) {
        return v && v->state != VARLINK_DISCONNECTED;
}

void *varlink_set_userdata(Varlink *v, void *userdata) {
        void *old = v->userdata;

        v->userdata = userdata;
        return old;
}

void *varlink_get_userdata(Varlink *v) {
        return v ? v->userdata : NULL;
}

VarlinkServer *varlink_get_server(Varlink *v) {
        return v ? v->server : NULL;
}

int varlink_get_peer_uid(Varlink *v, uid_t *ret) {
        if (!v || !v->ucred_valid)
                return -ENODATA;
        *ret = v->ucred.uid;
        return 0;
}

int varlink_get_peer_gid(Varlink *v, gid_t *ret) {
        if (!v || !v->ucred_valid)
                return -ENODATA;
        *ret = v->ucred.gid;
        return 0;
}

int varlink_get_peer_pid(Varlink *v, pid_t *ret) {
        if (!v || !v->ucred_valid)
                return -ENODATA;
        *ret = v->ucred.pid;
        return 0;
}

bool varlink_peer_in_group(Varlink *v, gid_t g) {
        if (!v || !v->ucred_valid)
                return false;
        if (v->ucred.gid == g)
                return true;
        for (size_t i = 0; v->groups_valid && i < v->n_groups; i++)
                if (v->groups[i] == g)
                        return true;
        return false;
}

const char *varlink_get_current_method(Varlink *v) {
        return v ? v->current_method : NULL;
}

/* Ask the event loop to run the connection's processing once more. */
void varlink_kick(Varlink *v) {
        if (v->defer_source)
                (void) sd_event_source_set_enabled(v->defer_source, SD_EVENT_ONESHOT);
}

/* Write as much queued output as the socket takes: 0, or < 0 on a dead connection. */
int varlink_write(Varlink *v) {
        while (varlink_buffer_pending(&v->output) > 0) {
                ssize_t n = send(v->fd, v->output.data + v->output.start,
                                 varlink_buffer_pending(&v->output), MSG_DONTWAIT | MSG_NOSIGNAL);
                if (n < 0) {
                        if (errno == EAGAIN || errno == EINTR)
                                return 0;
                        return -errno;
                }
                varlink_buffer_consume(&v->output, (size_t) n);
        }
        return 0;
}

/* One read: 1 if bytes arrived, 0 on EAGAIN or end of file (read_eof set), < 0 on error. */
int varlink_read(Varlink *v) {
        char *p = varlink_buffer_reserve(&v->input, READ_CHUNK);
        ssize_t n;

        if (!p)
                return -ENOMEM;
        n = recv(v->fd, p, READ_CHUNK, MSG_DONTWAIT);
        if (n < 0)
                return errno == EAGAIN || errno == EINTR ? 0 : -errno;
        if (n == 0) {
                v->read_eof = true;
                return 0;
        }
        v->input.size += (size_t) n;
        return 1;
}

/* Queue msg; a peer that lets more than output_max pile up is dropped (-ENOBUFS). */
int varlink_enqueue(Varlink *v, json_object *msg) {
        int r;

        if (v->state == VARLINK_DISCONNECTED)
                return -ENOTCONN;
        if (!msg)
                return -ENOMEM;
        r = varlink_buffer_append_message(&v->output, msg);
        if (r < 0)
                return r;
        if (varlink_buffer_pending(&v->output) > v->output_max) {
                log_debug("varlink: peer does not read, %zu bytes queued; dropping it",
                          varlink_buffer_pending(&v->output));
                (void) varlink_close(v);
                return -ENOBUFS;
        }
        varlink_kick(v);
        return 0;
}

/* The current call is answered: back to idle, let queued calls run. */
void varlink_end_call(Varlink *v) {
        json_object_put(v->current);
        v->current = NULL;
        v->current_method = NULL;
        if (v->state != VARLINK_DISCONNECTED)
                v->state = VARLINK_IDLE;
        varlink_kick(v);
}

static int varlink_reply_full(Varlink *v, const char *error_id, json_object *parameters, bool continues) {
        _cleanup_(json_object_putp) json_object *msg = NULL;
        int r;

        if (!v)
                return -EINVAL;
        if (v->state == VARLINK_DISCONNECTED)
                return -ENOTCONN;
        if (v->state == VARLINK_PROCESSING_ONEWAY)
                return 0;       /* nobody listens */
        if (v->state != VARLINK_PROCESSING && v->state != VARLINK_PROCESSING_MORE)
                return -EBUSY;
        if (continues && v->state != VARLINK_PROCESSING_MORE)
                return -EBUSY;

        msg = varlink_reply_build(error_id, parameters, continues);
        r = varlink_enqueue(v, msg);
        if (!continues || r < 0)
                varlink_end_call(v);
        return r;
}

int varlink_reply(Varlink *v, json_object *parameters) {
        return varlink_reply_full(v, NULL, parameters, false);
}

int varlink_notify(Varlink *v, json_object *parameters) {
        return varlink_reply_full(v, NULL, parameters, true);
}

int varlink_error(Varlink *v, const char *error_id, json_object *parameters) {
        if (!error_id)
                return -EINVAL;
        return varlink_reply_full(v, error_id, parameters, false);
}

int varlink_error_invalid_parameter(Varlink *v, const char *name) {
        _cleanup_(json_object_putp) json_object *p = json_object_new_object();
        int r;

        if (!p || json_object_object_add(p, "parameter", json_object_new_string(strempty(name))) < 0)
                return -ENOMEM;
        r = varlink_error(v, VARLINK_ERROR_INVALID_PARAMETER, p);
        return r < 0 ? r : -EINVAL;
}

int varlink_error_errno(Varlink *v, int error) {
        _cleanup_(json_object_putp) json_object *p = json_object_new_object();
        const char *name = strerrorname_np(abs(error));
        int r;

        if (!p || json_object_object_add(p, "errno", json_object_new_int(abs(error))) < 0)
                return -ENOMEM;
        if (name && json_object_object_add(p, "errnoName", json_object_new_string(name)) < 0)
                return -ENOMEM;
        r = varlink_error(v, VARLINK_ERROR_SYSTEM, p);
        return r < 0 ? r : -abs(error);
}
