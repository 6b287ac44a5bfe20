/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* org.varlink.certification client on common/varlink, for varlink-go-certification's server.
 * Usage: varlink-certify-client ADDRESS. Exits 0 when the server says all_ok. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "certification.h"
#include "varlink.h"

/* params (JSON text or object) plus client_id. */
static json_object *with_client(json_object *params, const char *id) {
        json_object_object_add(params, "client_id", json_object_new_string(id));
        return params;
}

static int check(const char *what, json_object *wants, json_object *got, const char *error) {
        if (error) {
                fprintf(stderr, "certify-client: %s: error %s %s\n", what, error,
                        json_object_to_json_string(got));
                return -EBADE;
        }
        if (!cert_json_equal(wants, got)) {
                fprintf(stderr, "certify-client: %s: wanted %s, got %s\n", what,
                        json_object_to_json_string(wants), json_object_to_json_string(got));
                return -EBADE;
        }
        printf("%s: %s\n", what, json_object_to_json_string(got));
        return 0;
}

static int run_step(Varlink *link, const CertStep *step, const char *id) {
        _cleanup_(json_object_putp) json_object *params = with_client(json_tokener_parse(step->params), id);
        _cleanup_(json_object_putp) json_object *wants = json_tokener_parse(step->reply);
        json_object *reply = NULL;
        const char *error = NULL;
        char method[64];
        int r;

        snprintf(method, sizeof method, CERT_INTERFACE ".%s", step->method);
        r = varlink_call(link, method, params, &reply, &error);
        if (r < 0)
                return r;
        return check(step->method, wants, reply, error);
}

static int run_stream(Varlink *link, const CertStep *step, const char *id) {
        _cleanup_(json_object_putp) json_object *params = with_client(json_tokener_parse(step->params), id);
        bool continues = true;
        int r, n = 0;

        r = varlink_observe(link, CERT_INTERFACE ".Test10", params);
        while (r >= 0 && continues) {
                _cleanup_(json_object_putp) json_object *wants = json_object_new_object();
                json_object *reply = NULL;
                const char *error = NULL;
                char buf[32];

                r = varlink_next(link, &reply, &error, &continues);
                if (r < 0)
                        break;
                snprintf(buf, sizeof buf, "Reply number %d", ++n);
                json_object_object_add(wants, "string", json_object_new_string(buf));
                r = check("Test10", wants, reply, error);
        }
        if (r >= 0 && n != CERT_STREAM_REPLIES) {
                fprintf(stderr, "certify-client: Test10: %d replies\n", n);
                return -EBADE;
        }
        return r;
}

static int run(Varlink *link) {
        _cleanup_(json_object_putp) json_object *start = NULL, *end = NULL, *t11 = cert_test11_params();
        _cleanup_(json_object_putp) json_object *wants_end = json_tokener_parse("{\"all_ok\": true}");
        json_object *reply = NULL, *id = NULL;
        const char *error = NULL, *client_id;
        int r;

        r = varlink_call(link, CERT_INTERFACE ".Start", NULL, &reply, &error);
        if (r < 0 || error || !json_object_object_get_ex(reply, "client_id", &id))
                return r < 0 ? r : -EBADE;
        /* reply is only valid until the next call: keep our own copy. */
        start = json_object_get(id);
        client_id = json_object_get_string(start);
        printf("Start: %s\n", client_id);

        for (size_t i = 0; i < ELEMENTSOF(cert_steps) && r >= 0; i++) {
                if (streq(cert_steps[i].method, "Test10"))
                        r = run_stream(link, &cert_steps[i], client_id);
                else if (streq(cert_steps[i].method, "Test11"))
                        r = varlink_send(link, CERT_INTERFACE ".Test11", with_client(t11, client_id));
                else
                        r = run_step(link, &cert_steps[i], client_id);
        }
        if (r < 0)
                return r;
        end = with_client(json_object_new_object(), client_id);
        r = varlink_call(link, CERT_INTERFACE ".End", end, &reply, &error);
        if (r < 0)
                return r;
        return check("End", wants_end, reply, error);
}

int main(int argc, char *argv[]) {
        _cleanup_(varlink_flush_close_unrefp) Varlink *link = NULL;
        int r;

        if (argc != 2) {
                fprintf(stderr, "Usage: %s ADDRESS\n", argv[0]);
                return 2;
        }
        r = varlink_connect_address(&link, argv[1]);
        if (r >= 0)
                r = varlink_set_relative_timeout(link, 10 * USEC_PER_SEC);
        if (r >= 0)
                r = run(link);
        if (r < 0) {
                fprintf(stderr, "certify-client: failed: %s\n", strerror(-r));
                return 1;
        }
        printf("certify-client: all tests passed\n");
        return 0;
}
