/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libFuzzer: a Varlink server with a few methods (plain, streaming, deferred, table-
 * dispatched) fed arbitrary bytes over a socketpair; replies are read and discarded. */
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "varlink.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct Args {
        const char *name;
        int64_t n;
        bool flag;
        double d;
        json_object *any;
} Args;

static int vl_echo(Varlink *link, json_object *params, VarlinkMethodFlags flags, void *userdata) {
        static const VarlinkDispatchField table[] = {
                { "name", json_type_string,  varlink_dispatch_const_string, offsetof(Args, name), VARLINK_DISPATCH_MANDATORY },
                { "n",    json_type_int,     varlink_dispatch_int64,        offsetof(Args, n), 0 },
                { "flag", json_type_boolean, varlink_dispatch_bool,         offsetof(Args, flag), 0 },
                { "d",    json_type_double,  varlink_dispatch_double,       offsetof(Args, d), 0 },
                { "any",  json_type_null,    varlink_dispatch_object,       offsetof(Args, any), VARLINK_DISPATCH_NULLABLE },
                { .name = NULL }
        };
        Args a = { .name = NULL };
        int r;

        r = varlink_dispatch(link, params, table, &a);
        if (r != 0)
                return r;
        return varlink_reply(link, params);
}

static int vl_stream(Varlink *link, json_object *params, VarlinkMethodFlags flags, void *userdata) {
        if (!(flags & VARLINK_METHOD_MORE))
                return varlink_error(link, VARLINK_ERROR_EXPECTED_MORE, NULL);
        (void) varlink_notify(link, params);
        (void) varlink_notify(link, NULL);
        return varlink_reply(link, NULL);
}

static int vl_later(Varlink *link, json_object *params, VarlinkMethodFlags flags, void *userdata) {
        Varlink **pending = userdata;

        if (*pending)
                return -EBUSY;
        *pending = varlink_ref(link);
        return 0;
}

static int vl_fail(Varlink *link, json_object *params, VarlinkMethodFlags flags, void *userdata) {
        return -EPERM;
}

static int setup(VarlinkServer **ret, sd_event *e, Varlink **pending) {
        VarlinkServer *s = NULL;
        int r;

        r = varlink_server_new(&s, VARLINK_SERVER_INHERIT_USERDATA);
        if (r < 0)
                return r;
        *ret = s;
        varlink_server_set_userdata(s, pending);
        (void) varlink_server_set_message_max(s, 4096);
        (void) varlink_server_set_output_max(s, 16384);
        r = varlink_server_add_interface(s, "io.fuzz", "interface io.fuzz\nmethod Echo() -> ()\nmethod Gone() -> ()\n");
        if (r >= 0)
                r = varlink_server_bind_method(s, "io.fuzz.Echo", vl_echo);
        if (r >= 0)
                r = varlink_server_bind_method(s, "io.fuzz.Stream", vl_stream);
        if (r >= 0)
                r = varlink_server_bind_method(s, "io.fuzz.Later", vl_later);
        if (r >= 0)
                r = varlink_server_bind_method(s, "io.fuzz.Fail", vl_fail);
        if (r >= 0)
                r = varlink_server_attach_event(s, e, 0);
        return r;
}

/* Run the loop until it idles, draining what the server wrote. */
static void pump(sd_event *e, int fd) {
        char buf[65536];

        for (int i = 0; i < 256; i++) {
                int r = sd_event_run(e, 0);

                while (recv(fd, buf, sizeof buf, MSG_DONTWAIT) > 0)
                        ;
                if (r <= 0)
                        break;
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        VarlinkServer *s = NULL;
        Varlink *pending = NULL;
        sd_event *e = NULL;
        int sv[2] = { -1, -1 };
        size_t half = size / 2;

        if (sd_event_new(&e) < 0)
                return 0;
        if (setup(&s, e, &pending) < 0 ||
            socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv) < 0 ||
            varlink_server_add_connection(s, sv[1], NULL) < 0)
                goto finish;
        sv[1] = -1;

        /* in two halves, answering a deferred call in between */
        (void) send(sv[0], data, half, MSG_NOSIGNAL);
        pump(e, sv[0]);
        if (pending)
                (void) varlink_reply(pending, NULL);
        (void) send(sv[0], data + half, size - half, MSG_NOSIGNAL);
        (void) shutdown(sv[0], SHUT_WR);
        pump(e, sv[0]);
finish:
        varlink_unref(pending);
        varlink_server_unref(s);
        safe_close(sv[0]);
        safe_close(sv[1]);
        sd_event_unref(e);
        return 0;
}
