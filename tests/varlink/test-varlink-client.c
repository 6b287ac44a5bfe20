/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The synchronous client against our server, which runs in a child process. */
#include <sys/wait.h>

#include "varlink-test.h"

typedef struct Fixture {
        Varlink *link;
        pid_t child;
} Fixture;

static int vl_echo(Varlink *link, json_object *params, VarlinkMethodFlags flags, void *userdata) {
        return varlink_reply(link, params);
}

static int vl_count(Varlink *link, json_object *params, VarlinkMethodFlags flags, void *userdata) {
        for (int i = 0; i < 3; i++) {
                _cleanup_(json_object_putp) json_object *p = json_object_new_object();

                json_object_object_add(p, "n", json_object_new_int(i));
                if (i < 2)
                        (void) varlink_notify(link, p);
                else
                        (void) varlink_reply(link, p);
        }
        return 0;
}

static int vl_slow(Varlink *link, json_object *params, VarlinkMethodFlags flags, void *userdata) {
        return 0;       /* never answers */
}

static int vl_quit(Varlink *link, json_object *params, VarlinkMethodFlags flags, void *userdata) {
        return varlink_close(link);
}

static int vl_big(Varlink *link, json_object *params, VarlinkMethodFlags flags, void *userdata) {
        _cleanup_(json_object_putp) json_object *p = json_object_new_object();
        char big[4096];

        memset(big, 'y', sizeof big - 1);
        big[sizeof big - 1] = '\0';
        json_object_object_add(p, "data", json_object_new_string(big));
        return varlink_reply(link, p);
}

static int vl_fail(Varlink *link, json_object *params, VarlinkMethodFlags flags, void *userdata) {
        return varlink_error(link, "io.test.Failed", params);
}

static void on_disconnect(VarlinkServer *s, Varlink *link, void *userdata) {
        sd_event_exit(userdata, 0);
}

static void run_server(int fd) {
        static const struct { const char *name; varlink_method_t cb; } methods[] = {
                { "io.test.Echo", vl_echo }, { "io.test.Count", vl_count }, { "io.test.Slow", vl_slow },
                { "io.test.Quit", vl_quit }, { "io.test.Big", vl_big }, { "io.test.Fail", vl_fail },
        };
        VarlinkServer *s = NULL;
        sd_event *e = NULL;
        int r;

        r = sd_event_new(&e);
        if (r >= 0)
                r = varlink_server_new(&s, 0);
        for (size_t i = 0; r >= 0 && i < ELEMENTSOF(methods); i++)
                r = varlink_server_bind_method(s, methods[i].name, methods[i].cb);
        varlink_server_set_userdata(s, e);
        if (r >= 0)
                r = varlink_server_bind_disconnect(s, on_disconnect);
        if (r >= 0)
                r = varlink_server_attach_event(s, e, 0);
        if (r >= 0)
                r = varlink_server_add_connection(s, fd, NULL);
        if (r >= 0)
                r = sd_event_loop(e);
        varlink_server_unref(s);
        sd_event_unref(e);
        _exit(r < 0 ? 1 : 0);
}

static int setup(void **state) {
        Fixture *f = calloc(1, sizeof(*f));
        int sv[2];

        assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
        f->child = fork();
        assert_true(f->child >= 0);
        if (f->child == 0) {
                close(sv[0]);
                run_server(sv[1]);
        }
        close(sv[1]);
        assert_int_equal(varlink_connect_fd(&f->link, sv[0]), 0);
        assert_int_equal(varlink_set_relative_timeout(f->link, 2 * USEC_PER_SEC), 0);
        *state = f;
        return 0;
}

static int teardown(void **state) {
        Fixture *f = *state;
        int status;

        f->link = varlink_flush_close_unref(f->link);
        assert_int_equal(waitpid(f->child, &status, 0), f->child);
        assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        free(f);
        return 0;
}

static void test_call(void **state) {
        Fixture *f = *state;
        _cleanup_(json_object_putp) json_object *p = json_tokener_parse("{\"a\":[1,\"b\"]}");
        json_object *reply = NULL;
        const char *error = "unset";

        assert_int_equal(varlink_call(f->link, "io.test.Echo", p, &reply, &error), 0);
        assert_null(error);
        assert_true(json_object_equal(reply, p));
        assert_int_equal(varlink_call(f->link, "io.test.Fail", p, &reply, &error), 0);
        assert_string_equal(error, "io.test.Failed");
        assert_true(json_object_equal(reply, p));
        assert_int_equal(varlink_call(f->link, "io.test.Fail", NULL, &reply, NULL), -EBADR);
        assert_int_equal(varlink_call(f->link, "io.test.Nope", NULL, &reply, &error), 0);
        assert_string_equal(error, VARLINK_ERROR_METHOD_NOT_FOUND);
}

static void test_stream(void **state) {
        Fixture *f = *state;
        json_object *reply = NULL;
        const char *error = NULL;
        bool continues = true;
        int n = 0;

        assert_int_equal(varlink_observe(f->link, "io.test.Count", NULL), 0);
        assert_int_equal(varlink_call(f->link, "io.test.Echo", NULL, &reply, &error), -EBUSY);
        while (continues) {
                assert_int_equal(varlink_next(f->link, &reply, &error, &continues), 0);
                assert_null(error);
                assert_int_equal(json_object_get_int(json_object_object_get(reply, "n")), n++);
        }
        assert_int_equal(n, 3);
        assert_int_equal(varlink_next(f->link, &reply, &error, &continues), -EBUSY);
        assert_int_equal(varlink_call(f->link, "io.test.Echo", NULL, &reply, &error), 0);
}

static void test_oneway(void **state) {
        Fixture *f = *state;
        json_object *reply = NULL;
        const char *error = NULL;

        assert_int_equal(varlink_send(f->link, "io.test.Echo", NULL), 0);
        assert_int_equal(varlink_send(f->link, "io.test.Count", NULL), 0);
        /* the next reply is the call's, not one for the oneway calls */
        assert_int_equal(varlink_call(f->link, "io.test.Fail", NULL, &reply, &error), 0);
        assert_string_equal(error, "io.test.Failed");
}

static void test_timeout(void **state) {
        Fixture *f = *state;
        json_object *reply = NULL;
        const char *error = NULL;
        uint64_t t0 = test_now_usec();

        assert_int_equal(varlink_set_relative_timeout(f->link, 200 * USEC_PER_MSEC), 0);
        assert_int_equal(varlink_call(f->link, "io.test.Slow", NULL, &reply, &error), -ETIMEDOUT);
        assert_true(test_now_usec() - t0 >= 200 * USEC_PER_MSEC);
        assert_true(test_now_usec() - t0 < 2 * USEC_PER_SEC);
        assert_false(varlink_is_connected(f->link));
        assert_int_equal(varlink_call(f->link, "io.test.Echo", NULL, &reply, &error), -ENOTCONN);
}

static void test_server_closes(void **state) {
        Fixture *f = *state;
        json_object *reply = NULL;
        const char *error = NULL;

        assert_int_equal(varlink_call(f->link, "io.test.Quit", NULL, &reply, &error), -ECONNRESET);
}

static void test_reply_too_big(void **state) {
        Fixture *f = *state;
        json_object *reply = NULL;
        const char *error = NULL;

        assert_int_equal(varlink_set_input_max(f->link, 1024), 0);
        assert_int_equal(varlink_call(f->link, "io.test.Big", NULL, &reply, &error), -EBADMSG);
}

static void test_connect_errors(void **state) {
        Varlink *v = NULL;

        assert_int_equal(varlink_connect_address(&v, "/nonexistent/socket"), -ENOENT);
        assert_int_equal(varlink_connect_address(&v, "relative"), -EINVAL);
        assert_int_equal(varlink_connect_address(&v, ""), -EINVAL);
        assert_null(v);
}

int main(void) {
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
        const struct CMUnitTest tests[] = {
                T(test_call), T(test_stream), T(test_oneway), T(test_timeout), T(test_server_closes),
                T(test_reply_too_big), cmocka_unit_test(test_connect_errors),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
