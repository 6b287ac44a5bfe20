/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* org.varlink.certification server on common/varlink, for varlink-go-certification -client.
 * Usage: varlink-certify-server ADDRESS. Exits 0 on SIGTERM/SIGINT. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <systemd/sd-event.h>

#include "certification.h"
#include "varlink.h"

#define CLIENTS_MAX 100

typedef struct CertClient {
        char id[37];
        unsigned passed;        /* bit n: TestNN passed */
} CertClient;

static CertClient clients[CLIENTS_MAX];

static const char cert_idl[] =
        "# Interface to test varlink implementations against.\n"
        "interface org.varlink.certification\n"
        "\n"
        "type Interface (\n  foo: ?[]?[string](foo, bar, baz),\n  anon: (foo: bool, bar: bool)\n)\n\n"
        "type MyType (\n  object: object,\n  enum: (one, two, three),\n"
        "  struct: (first: int, second: string),\n  array: []string,\n  dictionary: [string]string,\n"
        "  stringset: [string](),\n  nullable: ?string,\n"
        "  nullable_array_struct: ?[](first: int, second: string),\n  interface: Interface\n)\n\n"
        "method Start() -> (client_id: string)\n"
        "method Test01(client_id: string) -> (bool: bool)\n"
        "method Test02(client_id: string, bool: bool) -> (int: int)\n"
        "method Test03(client_id: string, int: int) -> (float: float)\n"
        "method Test04(client_id: string, float: float) -> (string: string)\n"
        "method Test05(client_id: string, string: string) -> (\n"
        "  bool: bool, int: int, float: float, string: string)\n"
        "method Test06(client_id: string, bool: bool, int: int, float: float, string: string) -> (\n"
        "  struct: (bool: bool, int: int, float: float, string: string))\n"
        "method Test07(client_id: string, struct: (bool: bool, int: int, float: float, string: string))"
        " -> (map: [string]string)\n"
        "method Test08(client_id: string, map: [string]string) -> (set: [string]())\n"
        "method Test09(client_id: string, set: [string]()) -> (mytype: MyType)\n"
        "method Test10(client_id: string, mytype: MyType) -> (string: string)\n"
        "method Test11(client_id: string, last_more_replies: []string) -> ()\n"
        "method End(client_id: string) -> (all_ok: bool)\n"
        "error ClientIdError ()\n"
        "error CertificationError (wants: object, got: object)\n";

static CertClient *client_find(const char *id) {
        for (size_t i = 0; id && i < CLIENTS_MAX; i++)
                if (clients[i].id[0] && streq(clients[i].id, id))
                        return &clients[i];
        return NULL;
}

static int vl_start(Varlink *link, json_object *params, VarlinkMethodFlags flags, void *userdata) {
        _cleanup_(json_object_putp) json_object *reply = json_object_new_object();
        uint8_t b[16];

        for (size_t i = 0; i < CLIENTS_MAX; i++) {
                if (clients[i].id[0])
                        continue;
                if (getrandom(b, sizeof b, 0) != sizeof b)
                        return -EIO;
                b[6] = (b[6] & 0x0f) | 0x40;
                b[8] = (b[8] & 0x3f) | 0x80;
                snprintf(clients[i].id, sizeof clients[i].id,
                         "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
                         b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11],
                         b[12], b[13], b[14], b[15]);
                clients[i].passed = 0;
                json_object_object_add(reply, "client_id", json_object_new_string(clients[i].id));
                return varlink_reply(link, reply);
        }
        return -EBUSY;
}

/* Split params into the client and the rest; replies ClientIdError when unknown. */
static int take_client(Varlink *link, json_object *params, CertClient **ret, json_object **ret_rest) {
        json_object *id = NULL;

        if (!json_object_object_get_ex(params, "client_id", &id) || !json_object_is_type(id, json_type_string))
                return varlink_error_invalid_parameter(link, "client_id");
        *ret = client_find(json_object_get_string(id));
        if (!*ret)
                return varlink_error(link, CERT_INTERFACE ".ClientIdError", NULL);
        if (json_object_deep_copy(params, ret_rest, NULL) < 0)
                return -ENOMEM;
        json_object_object_del(*ret_rest, "client_id");
        return 1;
}

static int cert_error(Varlink *link, json_object *wants, json_object *got) {
        _cleanup_(json_object_putp) json_object *p = json_object_new_object();

        json_object_object_add(p, "wants", json_object_get(wants));
        json_object_object_add(p, "got", json_object_get(got));
        return varlink_error(link, CERT_INTERFACE ".CertificationError", p);
}

static int vl_test(Varlink *link, json_object *params, VarlinkMethodFlags flags, void *userdata) {
        const char *method = strrchr(varlink_get_current_method(link), '.') + 1;
        _cleanup_(json_object_putp) json_object *rest = NULL, *wants = NULL, *reply = NULL;
        const CertStep *step = NULL;
        CertClient *c;
        unsigned n;
        int r;

        r = take_client(link, params, &c, &rest);
        if (r <= 0)
                return r;
        for (n = 0; n < ELEMENTSOF(cert_steps) && !step; n++)
                if (streq(cert_steps[n].method, method))
                        step = &cert_steps[n];
        wants = step->params ? json_tokener_parse(step->params) : cert_test11_params();
        if (!cert_json_equal(wants, rest))
                return cert_error(link, wants, rest);

        if (streq(method, "Test11")) {
                if (flags & VARLINK_METHOD_ONEWAY)
                        c->passed |= 1U << n;
                return varlink_reply(link, NULL);
        }
        if (streq(method, "Test10")) {
                if (!(flags & VARLINK_METHOD_MORE))
                        return varlink_error(link, VARLINK_ERROR_EXPECTED_MORE, NULL);
                for (int i = 1; i <= CERT_STREAM_REPLIES; i++) {
                        _cleanup_(json_object_putp) json_object *p = json_object_new_object();
                        char buf[32];

                        snprintf(buf, sizeof buf, "Reply number %d", i);
                        json_object_object_add(p, "string", json_object_new_string(buf));
                        r = i < CERT_STREAM_REPLIES ? varlink_notify(link, p) : varlink_reply(link, p);
                        if (r < 0)
                                return r;
                }
                c->passed |= 1U << n;
                return 0;
        }
        reply = json_tokener_parse(step->reply);
        c->passed |= 1U << n;
        return varlink_reply(link, reply);
}

static int vl_end(Varlink *link, json_object *params, VarlinkMethodFlags flags, void *userdata) {
        _cleanup_(json_object_putp) json_object *rest = NULL, *reply = json_object_new_object();
        unsigned all = (1U << (ELEMENTSOF(cert_steps) + 1)) - 2;
        CertClient *c;
        int r;

        r = take_client(link, params, &c, &rest);
        if (r <= 0)
                return r;
        json_object_object_add(reply, "all_ok", json_object_new_boolean(c->passed == all &&
                                                                        json_object_object_length(rest) == 0));
        fprintf(stderr, "certify-server: End: passed mask 0x%x of 0x%x\n", c->passed, all);
        c->id[0] = '\0';
        return varlink_reply(link, reply);
}

static int on_signal(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        return sd_event_exit(sd_event_source_get_event(s), 0);
}

int main(int argc, char *argv[]) {
        _cleanup_(varlink_server_unrefp) VarlinkServer *server = NULL;
        sd_event *event = NULL;
        sigset_t mask;
        int r;

        if (argc != 2) {
                fprintf(stderr, "Usage: %s ADDRESS\n", argv[0]);
                return 2;
        }
        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        sigprocmask(SIG_BLOCK, &mask, NULL);

        r = sd_event_new(&event);
        if (r >= 0)
                r = sd_event_add_signal(event, NULL, SIGTERM, on_signal, NULL);
        if (r >= 0)
                r = sd_event_add_signal(event, NULL, SIGINT, on_signal, NULL);
        if (r >= 0)
                r = varlink_server_new(&server, VARLINK_SERVER_INHERIT_USERDATA);
        if (r >= 0)
                r = varlink_server_set_info(server, "tdsleep", "varlink certification", "1", "https://varlink.org");
        if (r >= 0)
                r = varlink_server_add_interface(server, CERT_INTERFACE, cert_idl);
        if (r >= 0)
                r = varlink_server_bind_method(server, CERT_INTERFACE ".Start", vl_start);
        for (size_t i = 0; r >= 0 && i < ELEMENTSOF(cert_steps); i++) {
                char name[64];

                snprintf(name, sizeof name, CERT_INTERFACE ".%s", cert_steps[i].method);
                r = varlink_server_bind_method(server, name, vl_test);
        }
        if (r >= 0)
                r = varlink_server_bind_method(server, CERT_INTERFACE ".End", vl_end);
        if (r >= 0)
                r = varlink_server_listen_address(server, argv[1], 0600);
        if (r >= 0)
                r = varlink_server_attach_event(server, event, 0);
        if (r >= 0)
                r = sd_event_loop(event);
        if (r < 0)
                fprintf(stderr, "certify-server: %s\n", strerror(-r));
        server = varlink_server_unref(server);
        sd_event_unref(event);
        return r < 0 ? 1 : 0;
}
