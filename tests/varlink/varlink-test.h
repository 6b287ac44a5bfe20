/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Test helpers: a server on one end of a socketpair() and a raw peer on the other,
 * which writes bytes and reads NUL-terminated replies while running the event loop. */

#include <errno.h>
#include <stdarg.h>
#include <setjmp.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <sys/socket.h>
#include <time.h>

#include "varlink-message.h"
#include "varlink.h"

typedef struct RawPeer {
        int fd;
        VarlinkBuffer in;
        sd_event *event;
} RawPeer;

static inline uint64_t test_now_usec(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * USEC_PER_SEC + (uint64_t) ts.tv_nsec / NSEC_PER_USEC;
}

/* Connect a raw peer to server through a socketpair; *ret_link is the server's side. */
static inline void raw_peer_connect(RawPeer *p, VarlinkServer *server, sd_event *event, Varlink **ret_link) {
        int sv[2];

        assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv), 0);
        *p = (RawPeer) { .fd = sv[0], .event = event };
        assert_int_equal(varlink_server_add_connection(server, sv[1], ret_link), 0);
}

static inline void raw_peer_done(RawPeer *p) {
        p->fd = safe_close(p->fd);
        varlink_buffer_done(&p->in);
}

static inline void raw_peer_write(RawPeer *p, const void *data, size_t n) {
        assert_int_equal(send(p->fd, data, n, MSG_NOSIGNAL), (ssize_t) n);
}

/* Write a string including its terminating NUL. */
static inline void raw_peer_send(RawPeer *p, const char *text) {
        raw_peer_write(p, text, strlen(text) + 1);
}

/* Run the event loop for about usec. */
static inline void run_for(sd_event *event, uint64_t usec) {
        uint64_t end = test_now_usec() + usec;

        while (test_now_usec() < end)
                assert_true(sd_event_run(event, 1000) >= 0);
}

/* Next message from the server: 0 and *ret, -ECONNRESET at EOF, -ETIMEDOUT after 2 s. */
static inline int raw_peer_recv(RawPeer *p, json_object **ret) {
        uint64_t end = test_now_usec() + 2 * USEC_PER_SEC;
        const char *text;
        size_t len;
        int r;

        for (;;) {
                r = varlink_buffer_next(&p->in, SIZE_MAX, &text, &len);
                if (r > 0) {
                        r = varlink_message_parse(text, len, ret);
                        varlink_buffer_consume(&p->in, len + 1);
                        return r;
                }
                if (test_now_usec() > end)
                        return -ETIMEDOUT;
                assert_true(sd_event_run(p->event, 1000) >= 0);
                char *b = varlink_buffer_reserve(&p->in, 65536);
                assert_non_null(b);
                ssize_t n = recv(p->fd, b, 65536, MSG_DONTWAIT);
                if (n == 0)
                        return -ECONNRESET;
                if (n > 0)
                        p->in.size += (size_t) n;
                else
                        assert_true(errno == EAGAIN);
        }
}

/* The error name of msg, or NULL. */
static inline const char *msg_error(json_object *msg) {
        json_object *e = NULL;

        return json_object_object_get_ex(msg, "error", &e) ? json_object_get_string(e) : NULL;
}

/* parameters.key of msg as a string, or NULL. */
static inline const char *msg_param(json_object *msg, const char *key) {
        json_object *params = NULL, *v = NULL;

        if (!json_object_object_get_ex(msg, "parameters", &params) ||
            !json_object_object_get_ex(params, key, &v))
                return NULL;
        return json_object_get_string(v);
}

static inline bool msg_continues(json_object *msg) {
        json_object *c = NULL;

        return json_object_object_get_ex(msg, "continues", &c) && json_object_get_boolean(c);
}
