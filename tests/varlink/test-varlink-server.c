/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The Varlink server over socketpair(): framing, errors, streams, oneway, bounds. */
#include <sys/un.h>

#include "varlink-internal.h"
#include "varlink-test.h"

#define IDL "interface io.test\nmethod Echo(text: string) -> (text: string)\nmethod Unbound() -> ()\n"

typedef struct Fixture {
        sd_event *event;
        VarlinkServer *server;
        Varlink *link;          /* server side of the raw peer */
        RawPeer peer;
        Varlink *pending;       /* a call answered later */
        unsigned oneways, disconnects;
} Fixture;

static int vl_echo(Varlink *link, json_object *params, VarlinkMethodFlags flags, void *userdata) {
        static const VarlinkDispatchField table[] = {
                { "text", json_type_string, varlink_dispatch_const_string, 0, VARLINK_DISPATCH_MANDATORY },
                { .name = NULL }
        };
        _cleanup_(json_object_putp) json_object *reply = json_object_new_object();
        const char *text = NULL;
        int r;

        r = varlink_dispatch(link, params, table, &text);
        if (r != 0)
                return r;
        json_object_object_add(reply, "text", json_object_new_string(text));
        return varlink_reply(link, reply);
}

static int vl_count(Varlink *link, json_object *params, VarlinkMethodFlags flags, void *userdata) {
        if (!(flags & VARLINK_METHOD_MORE))
                return varlink_error(link, VARLINK_ERROR_EXPECTED_MORE, NULL);
        for (int i = 0; i < 3; i++) {
                _cleanup_(json_object_putp) json_object *p = json_object_new_object();

                json_object_object_add(p, "n", json_object_new_int(i));
                assert_int_equal(i < 2 ? varlink_notify(link, p) : varlink_reply(link, p), 0);
        }
        return 0;
}

static int vl_flood(Varlink *link, json_object *params, VarlinkMethodFlags flags, void *userdata) {
        _cleanup_(json_object_putp) json_object *p = json_object_new_object();
        char big[1024];
        int r = 0;

        memset(big, 'x', sizeof big - 1);
        big[sizeof big - 1] = '\0';
        json_object_object_add(p, "data", json_object_new_string(big));
        for (int i = 0; i < 10000 && r >= 0; i++)
                r = varlink_notify(link, p);
        assert_int_equal(r, -ENOBUFS);
        assert_false(varlink_is_connected(link));
        return 0;
}

static int vl_note(Varlink *link, json_object *params, VarlinkMethodFlags flags, void *userdata) {
        Fixture *f = userdata;

        assert_true(flags & VARLINK_METHOD_ONEWAY);
        f->oneways++;
        return varlink_reply(link, NULL);       /* dropped */
}

static int vl_later(Varlink *link, json_object *params, VarlinkMethodFlags flags, void *userdata) {
        Fixture *f = userdata;

        f->pending = varlink_ref(link);
        return 0;
}

static int vl_fail(Varlink *link, json_object *params, VarlinkMethodFlags flags, void *userdata) {
        return -ENOENT;
}

static void on_disconnect(VarlinkServer *s, Varlink *link, void *userdata) {
        Fixture *f = userdata;

        f->disconnects++;
}

static int setup(void **state) {
        Fixture *f = calloc(1, sizeof(*f));

        assert_int_equal(sd_event_new(&f->event), 0);
        assert_int_equal(varlink_server_new(&f->server, VARLINK_SERVER_INHERIT_USERDATA), 0);
        varlink_server_set_userdata(f->server, f);
        assert_int_equal(varlink_server_set_info(f->server, "v", "p", "1", "u"), 0);
        assert_int_equal(varlink_server_add_interface(f->server, "io.test", IDL), 0);
        assert_int_equal(varlink_server_bind_method(f->server, "io.test.Echo", vl_echo), 0);
        assert_int_equal(varlink_server_bind_method(f->server, "io.test.Count", vl_count), 0);
        assert_int_equal(varlink_server_bind_method(f->server, "io.test.Flood", vl_flood), 0);
        assert_int_equal(varlink_server_bind_method(f->server, "io.test.Note", vl_note), 0);
        assert_int_equal(varlink_server_bind_method(f->server, "io.test.Later", vl_later), 0);
        assert_int_equal(varlink_server_bind_method(f->server, "io.test.Fail", vl_fail), 0);
        assert_int_equal(varlink_server_bind_method(f->server, "io.test.Echo", vl_echo), -EEXIST);
        assert_int_equal(varlink_server_bind_disconnect(f->server, on_disconnect), 0);
        assert_int_equal(varlink_server_attach_event(f->server, f->event, 0), 0);
        raw_peer_connect(&f->peer, f->server, f->event, &f->link);
        *state = f;
        return 0;
}

static int teardown(void **state) {
        Fixture *f = *state;

        varlink_unref(f->pending);
        raw_peer_done(&f->peer);
        varlink_server_unref(f->server);
        sd_event_unref(f->event);
        free(f);
        return 0;
}

/* Send text, expect one reply; returns it (caller puts). */
static json_object *call(Fixture *f, const char *text) {
        json_object *m = NULL;

        raw_peer_send(&f->peer, text);
        assert_int_equal(raw_peer_recv(&f->peer, &m), 0);
        return m;
}

static void expect_error(Fixture *f, const char *text, const char *error, const char *key, const char *value) {
        _cleanup_(json_object_putp) json_object *m = call(f, text);

        assert_string_equal(strempty(msg_error(m)), error);
        if (key)
                assert_string_equal(strempty(msg_param(m, key)), value);
}

static void expect_closed(Fixture *f) {
        json_object *m = NULL;

        assert_int_equal(raw_peer_recv(&f->peer, &m), -ECONNRESET);
        assert_int_equal(f->disconnects, 1);
        assert_int_equal(varlink_server_current_connections(f->server), 0);
}

static void test_echo_split(void **state) {
        Fixture *f = *state;
        const char msg[] = "{\"method\":\"io.test.Echo\",\"parameters\":{\"text\":\"hi\"}}";
        json_object *m = NULL;

        for (size_t i = 0; i < sizeof msg; i += 7) {
                raw_peer_write(&f->peer, msg + i, i + 7 <= sizeof msg ? 7 : sizeof msg - i);
                run_for(f->event, 2000);
        }
        assert_int_equal(raw_peer_recv(&f->peer, &m), 0);
        assert_null(msg_error(m));
        assert_string_equal(msg_param(m, "text"), "hi");
        json_object_put(m);
}

static void test_pipelined(void **state) {
        Fixture *f = *state;
        const char data[] = "{\"method\":\"io.test.Echo\",\"parameters\":{\"text\":\"1\"}}\0"
                            "{\"method\":\"io.test.Note\",\"oneway\":true}\0"
                            "{\"method\":\"io.test.Echo\",\"parameters\":{\"text\":\"2\"}}";
        json_object *m = NULL;

        raw_peer_write(&f->peer, data, sizeof data);
        for (int i = 1; i <= 2; i++) {
                char want[2] = { (char) ('0' + i), 0 };

                assert_int_equal(raw_peer_recv(&f->peer, &m), 0);
                assert_string_equal(msg_param(m, "text"), want);
                json_object_put(m);
        }
        assert_int_equal(f->oneways, 1);
        assert_int_equal(raw_peer_recv(&f->peer, &m), -ETIMEDOUT);      /* nothing for the oneway */
}

static void test_service(void **state) {
        Fixture *f = *state;
        _cleanup_(json_object_putp) json_object *info = call(f, "{\"method\":\"org.varlink.service.GetInfo\"}");
        _cleanup_(json_object_putp) json_object *desc =
                call(f, "{\"method\":\"org.varlink.service.GetInterfaceDescription\",\"parameters\":{\"interface\":\"io.test\"}}");
        _cleanup_(json_object_putp) json_object *self =
                call(f, "{\"method\":\"org.varlink.service.GetInterfaceDescription\",\"parameters\":{\"interface\":\"org.varlink.service\"}}");

        assert_string_equal(msg_param(info, "vendor"), "v");
        assert_string_equal(msg_param(info, "interfaces"), "[ \"org.varlink.service\", \"io.test\" ]");
        assert_string_equal(msg_param(desc, "description"), IDL);
        assert_non_null(strstr(msg_param(self, "description"), "method GetInfo()"));
        expect_error(f, "{\"method\":\"org.varlink.service.GetInterfaceDescription\",\"parameters\":{\"interface\":\"no.such\"}}",
                     VARLINK_ERROR_INTERFACE_NOT_FOUND, "interface", "no.such");
        expect_error(f, "{\"method\":\"org.varlink.service.GetInfo\",\"parameters\":{\"x\":1}}",
                     VARLINK_ERROR_INVALID_PARAMETER, "parameter", "x");
}

static void test_errors(void **state) {
        Fixture *f = *state;
        _cleanup_(json_object_putp) json_object *m = NULL;

        expect_error(f, "{\"method\":\"io.test.Nope\"}", VARLINK_ERROR_METHOD_NOT_FOUND, "method", "io.test.Nope");
        expect_error(f, "{\"method\":\"io.test.Unbound\"}", VARLINK_ERROR_METHOD_NOT_IMPLEMENTED, "method", "io.test.Unbound");
        expect_error(f, "{\"method\":\"io.other.Nope\"}", VARLINK_ERROR_INTERFACE_NOT_FOUND, "interface", "io.other");
        expect_error(f, "{\"method\":\"io.test.Echo\",\"parameters\":{}}", VARLINK_ERROR_INVALID_PARAMETER, "parameter", "text");
        expect_error(f, "{\"method\":\"io.test.Echo\",\"parameters\":{\"text\":1}}", VARLINK_ERROR_INVALID_PARAMETER, "parameter", "text");
        expect_error(f, "{\"method\":\"io.test.Echo\",\"parameters\":{\"text\":\"a\",\"b\":1}}", VARLINK_ERROR_INVALID_PARAMETER, "parameter", "b");
        expect_error(f, "{\"method\":\"io.test.Fail\"}", VARLINK_ERROR_SYSTEM, "errnoName", "ENOENT");
        expect_error(f, "{\"method\":\"io.test.Count\"}", VARLINK_ERROR_EXPECTED_MORE, NULL, NULL);
        /* still open after all that */
        m = call(f, "{\"method\":\"io.test.Echo\",\"parameters\":{\"text\":\"ok\"}}");
        assert_string_equal(msg_param(m, "text"), "ok");
        assert_int_equal(f->disconnects, 0);
}

static void test_more(void **state) {
        Fixture *f = *state;
        json_object *m = NULL;

        raw_peer_send(&f->peer, "{\"method\":\"io.test.Count\",\"more\":true}");
        for (int i = 0; i < 3; i++) {
                assert_int_equal(raw_peer_recv(&f->peer, &m), 0);
                assert_int_equal(json_object_get_int(json_object_object_get(json_object_object_get(m, "parameters"), "n")), i);
                assert_int_equal(msg_continues(m), i < 2);
                json_object_put(m);
        }
        /* a method that cannot stream answers once */
        raw_peer_send(&f->peer, "{\"method\":\"io.test.Echo\",\"more\":true,\"parameters\":{\"text\":\"x\"}}");
        assert_int_equal(raw_peer_recv(&f->peer, &m), 0);
        assert_false(msg_continues(m));
        json_object_put(m);
}

static void protocol_error(void **state, const char *text, const char *field) {
        Fixture *f = *state;

        expect_error(f, text, VARLINK_ERROR_INVALID_PARAMETER, "parameter", field);
        expect_closed(f);
}

static void test_malformed_json(void **state) { protocol_error(state, "{\"method\":", "message"); }
static void test_not_object(void **state) { protocol_error(state, "[1,2]", "message"); }
static void test_no_method(void **state) { protocol_error(state, "{\"parameters\":{}}", "method"); }
static void test_method_not_string(void **state) { protocol_error(state, "{\"method\":7}", "method"); }
static void test_params_not_object(void **state) { protocol_error(state, "{\"method\":\"io.test.Echo\",\"parameters\":[]}", "parameters"); }
static void test_more_and_oneway(void **state) { protocol_error(state, "{\"method\":\"io.test.Echo\",\"more\":true,\"oneway\":true}", "oneway"); }

static void test_method_name_invalid(void **state) { protocol_error(state, "{\"method\":\"nodot\"}", "method"); }
static void test_method_name_nul(void **state) { protocol_error(state, "{\"method\":\"io.test.Echo\\u0000x\",\"parameters\":{\"text\":\"a\"}}", "message"); }
static void test_duplicate_method(void **state) { protocol_error(state, "{\"method\":\"io.test.Nope\",\"method\":\"io.test.Echo\",\"parameters\":{\"text\":\"a\"}}", "message"); }
static void test_unknown_call_key(void **state) { protocol_error(state, "{\"method\":\"io.test.Echo\",\"parameters\":{\"text\":\"a\"},\"extra\":1}", "extra"); }
static void test_upgrade(void **state) { protocol_error(state, "{\"method\":\"io.test.Echo\",\"parameters\":{\"text\":\"a\"},\"upgrade\":true}", "upgrade"); }
static void test_nan(void **state) { protocol_error(state, "{\"method\":\"io.test.Echo\",\"parameters\":{\"text\":NaN}}", "message"); }

static void test_oversized(void **state) {
        Fixture *f = *state;
        char big[1000];

        assert_int_equal(varlink_server_set_message_max(f->server, 512), 0);
        f->link->input_max = 512;       /* the limit applies to new connections; this one was made earlier */
        memset(big, ' ', sizeof big);
        big[0] = '{';
        raw_peer_write(&f->peer, big, sizeof big);
        expect_error(f, "", VARLINK_ERROR_INVALID_PARAMETER, "parameter", "message");
        expect_closed(f);
}

static void test_peer_credentials(void **state) {
        Fixture *f = *state;
        uid_t uid;
        gid_t gid;
        pid_t pid;

        assert_int_equal(varlink_get_peer_uid(f->link, &uid), 0);
        assert_int_equal(varlink_get_peer_gid(f->link, &gid), 0);
        assert_int_equal(varlink_get_peer_pid(f->link, &pid), 0);
        assert_int_equal(uid, getuid());
        assert_int_equal(gid, getgid());
        assert_int_equal(pid, getpid());
        /* SO_PEERGROUPS: every group of ours, primary and supplementary, and no other. */
        {
                gid_t groups[256];
                int n = getgroups(256, groups);

                assert_true(n >= 0);
                assert_true(varlink_peer_in_group(f->link, getgid()));
                for (int i = 0; i < n; i++)
                        assert_true(varlink_peer_in_group(f->link, groups[i]));
                assert_false(varlink_peer_in_group(f->link, (gid_t) 54321));
        }
        assert_ptr_equal(varlink_get_userdata(f->link), f);
        assert_ptr_equal(varlink_get_server(f->link), f->server);
}

static void test_slow_reader(void **state) {
        Fixture *f = *state;

        assert_int_equal(varlink_server_set_output_max(f->server, 64 * 1024), 0);
        f->link->output_max = 64 * 1024;
        raw_peer_send(&f->peer, "{\"method\":\"io.test.Flood\",\"more\":true}");
        run_for(f->event, 20000);
        assert_int_equal(f->disconnects, 1);
        assert_int_equal(varlink_server_current_connections(f->server), 0);
}

static void test_idle_timeout(void **state) {
        Fixture *f = *state;

        assert_int_equal(varlink_server_set_idle_timeout(f->server, 100 * USEC_PER_MSEC), 0);
        raw_peer_write(&f->peer, "{\"method\"", 9);
        run_for(f->event, 50000);
        assert_int_equal(f->disconnects, 0);
        run_for(f->event, 150000);
        assert_int_equal(f->disconnects, 1);
}

/* Silent from the start, then a stream: only the first is idle. */
static void test_idle_timeout_spares_streams(void **state) {
        Fixture *f = *state;
        json_object *m = NULL;
        Varlink *silent = NULL;
        RawPeer quiet;

        assert_int_equal(varlink_server_set_idle_timeout(f->server, 100 * USEC_PER_MSEC), 0);
        raw_peer_connect(&quiet, f->server, f->event, &silent);
        varlink_ref(silent);
        raw_peer_send(&f->peer, "{\"method\":\"io.test.Later\",\"more\":true}");
        run_for(f->event, 250000);
        assert_int_equal(f->disconnects, 1);            /* the silent one */
        assert_false(varlink_is_connected(silent));
        assert_true(varlink_is_connected(f->link));     /* a call in progress is not idle */
        assert_int_equal(varlink_reply(f->pending, NULL), 0);
        assert_int_equal(raw_peer_recv(&f->peer, &m), 0);
        json_object_put(m);
        run_for(f->event, 250000);                      /* idle again after its reply */
        assert_int_equal(f->disconnects, 2);
        raw_peer_done(&quiet);
        varlink_unref(silent);
}

static void test_async_reply_and_pipelining(void **state) {
        Fixture *f = *state;
        json_object *m = NULL;

        raw_peer_send(&f->peer, "{\"method\":\"io.test.Later\"}");
        raw_peer_send(&f->peer, "{\"method\":\"io.test.Echo\",\"parameters\":{\"text\":\"after\"}}");
        assert_int_equal(raw_peer_recv(&f->peer, &m), -ETIMEDOUT);      /* Echo waits for Later */
        assert_non_null(f->pending);
        assert_string_equal(varlink_get_current_method(f->pending), "io.test.Later");
        assert_int_equal(varlink_reply(f->pending, NULL), 0);
        assert_int_equal(varlink_reply(f->pending, NULL), -EBUSY);        /* answered already */
        assert_int_equal(raw_peer_recv(&f->peer, &m), 0);
        assert_null(msg_error(m));
        json_object_put(m);
        assert_int_equal(raw_peer_recv(&f->peer, &m), 0);
        assert_string_equal(msg_param(m, "text"), "after");
        json_object_put(m);
}

static void test_gone_mid_call(void **state) {
        Fixture *f = *state;

        raw_peer_send(&f->peer, "{\"method\":\"io.test.Later\"}");
        run_for(f->event, 10000);
        assert_non_null(f->pending);
        f->peer.fd = safe_close(f->peer.fd);
        run_for(f->event, 10000);
        assert_int_equal(f->disconnects, 1);
        assert_false(varlink_is_connected(f->pending));
        assert_int_equal(varlink_reply(f->pending, NULL), -ENOTCONN);
}

static void test_half_close(void **state) {
        Fixture *f = *state;
        json_object *m = NULL;

        raw_peer_send(&f->peer, "{\"method\":\"io.test.Echo\",\"parameters\":{\"text\":\"bye\"}}");
        assert_int_equal(shutdown(f->peer.fd, SHUT_WR), 0);
        assert_int_equal(raw_peer_recv(&f->peer, &m), 0);
        assert_string_equal(msg_param(m, "text"), "bye");
        json_object_put(m);
        expect_closed(f);
}

static void test_truncated_then_close(void **state) {
        Fixture *f = *state;

        raw_peer_write(&f->peer, "{\"method\":\"io.test.Echo\"", 24);
        assert_int_equal(shutdown(f->peer.fd, SHUT_WR), 0);
        expect_closed(f);
}

static void test_connections_max(void **state) {
        Fixture *f = *state;
        char path[] = "/tmp/tdsleep-varlink-XXXXXX", sock[64];
        int fds[3];
        char c;

        assert_non_null(mkdtemp(path));
        snprintf(sock, sizeof sock, "%s/sock", path);
        assert_int_equal(varlink_server_set_connections_max(f->server, 2), 0);   /* the raw peer + 1 */
        assert_int_equal(varlink_server_listen_address(f->server, sock, 0600), 0);
        for (int i = 0; i < 2; i++) {
                struct sockaddr_un sa = { .sun_family = AF_UNIX };

                snprintf(sa.sun_path, sizeof sa.sun_path, "%s", sock);
                fds[i] = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
                assert_int_equal(connect(fds[i], (struct sockaddr *) &sa, sizeof sa), 0);
                run_for(f->event, 10000);
        }
        assert_int_equal(varlink_server_current_connections(f->server), 2);
        assert_int_equal(recv(fds[1], &c, 1, MSG_DONTWAIT), 0);          /* refused: closed at once */
        assert_int_equal(recv(fds[0], &c, 1, MSG_DONTWAIT), -1);         /* served: open */
        fds[2] = -1;
        for (int i = 0; i < 3; i++)
                safe_close(fds[i]);
        unlink(sock);
        rmdir(path);
}

int main(void) {
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
        const struct CMUnitTest tests[] = {
                T(test_echo_split), T(test_pipelined), T(test_service), T(test_errors), T(test_more),
                T(test_malformed_json), T(test_not_object), T(test_no_method), T(test_method_not_string),
                T(test_params_not_object), T(test_more_and_oneway),
                T(test_method_name_invalid), T(test_method_name_nul), T(test_duplicate_method),
                T(test_unknown_call_key), T(test_upgrade), T(test_nan), T(test_oversized),
                T(test_peer_credentials), T(test_slow_reader), T(test_idle_timeout), T(test_idle_timeout_spares_streams),
                T(test_async_reply_and_pipelining), T(test_gone_mid_call), T(test_half_close),
                T(test_truncated_then_close), T(test_connections_max),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
