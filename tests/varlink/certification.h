/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* org.varlink.certification (github.com/varlink/go, cmd/varlink-go-certification): the
 * calls a client makes and the replies a server gives, as one table both sides use. */

#include <json-c/json.h>
#include <math.h>
#include <stdbool.h>
#include <string.h>

#include "macros.h"

#define CERT_INTERFACE "org.varlink.certification"

typedef struct CertStep {
        const char *method;     /* without the interface */
        const char *params;     /* JSON, without client_id */
        const char *reply;      /* JSON; for Test10 each of the ten replies is {"string": "Reply number N"} */
} CertStep;

#define CERT_MYTYPE                                                                              \
        "{\"object\": {\"method\": \"org.varlink.certification.Test09\","                      \
        "              \"parameters\": {\"map\": {\"foo\": \"Foo\", \"bar\": \"Bar\"}}},"      \
        " \"enum\": \"two\", \"struct\": {\"first\": 1, \"second\": \"2\"},"                   \
        " \"array\": [\"one\", \"two\", \"three\"],"                                           \
        " \"dictionary\": {\"foo\": \"Foo\", \"bar\": \"Bar\"},"                               \
        " \"stringset\": {\"one\": {}, \"two\": {}, \"three\": {}},"                           \
        " \"interface\": {\"foo\": [null, {\"Foo\": \"foo\", \"Bar\": \"bar\"}, null,"         \
        "                          {\"one\": \"foo\", \"two\": \"bar\"}],"                     \
        "                 \"anon\": {\"foo\": true, \"bar\": false}}}"

#define CERT_PI "3.141592653589793"
#define CERT_STRUCT "{\"bool\": false, \"int\": 2, \"float\": " CERT_PI ", \"string\": \"a lot of string\"}"

static const CertStep cert_steps[] = {
        { "Test01", "{}",                              "{\"bool\": true}" },
        { "Test02", "{\"bool\": true}",                "{\"int\": 1}" },
        { "Test03", "{\"int\": 1}",                    "{\"float\": 1.0}" },
        { "Test04", "{\"float\": 1.0}",                "{\"string\": \"ping\"}" },
        { "Test05", "{\"string\": \"ping\"}",          CERT_STRUCT },
        { "Test06", CERT_STRUCT,                       "{\"struct\": " CERT_STRUCT "}" },
        { "Test07", "{\"struct\": " CERT_STRUCT "}",   "{\"map\": {\"bar\": \"Bar\", \"foo\": \"Foo\"}}" },
        { "Test08", "{\"map\": {\"bar\": \"Bar\", \"foo\": \"Foo\"}}",
                    "{\"set\": {\"one\": {}, \"two\": {}, \"three\": {}}}" },
        { "Test09", "{\"set\": {\"one\": {}, \"two\": {}, \"three\": {}}}", "{\"mytype\": " CERT_MYTYPE "}" },
        { "Test10", "{\"mytype\": " CERT_MYTYPE "}",   NULL },
        { "Test11", NULL /* built: last_more_replies */, NULL },
};

#define CERT_STREAM_REPLIES 10

/* Equal as the certification means it: numbers by value (1 == 1.0), and a member that is
 * null equals one that is absent. */
static inline bool cert_json_equal(json_object *a, json_object *b);

static inline bool cert_object_covers(json_object *a, json_object *b) {
        struct json_object_iterator it = json_object_iter_begin(a), end = json_object_iter_end(a);

        for (; !json_object_iter_equal(&it, &end); json_object_iter_next(&it)) {
                json_object *other = NULL;

                (void) json_object_object_get_ex(b, json_object_iter_peek_name(&it), &other);
                if (!cert_json_equal(json_object_iter_peek_value(&it), other))
                        return false;
        }
        return true;
}

static inline bool cert_json_equal(json_object *a, json_object *b) {
        json_type ta = json_object_get_type(a), tb = json_object_get_type(b);

        if ((ta == json_type_int || ta == json_type_double) && (tb == json_type_int || tb == json_type_double))
                return json_object_get_double(a) == json_object_get_double(b);
        if (ta != tb)
                return false;
        switch (ta) {
        case json_type_null:
                return true;
        case json_type_boolean:
                return json_object_get_boolean(a) == json_object_get_boolean(b);
        case json_type_string:
                return streq(json_object_get_string(a), json_object_get_string(b));
        case json_type_array:
                if (json_object_array_length(a) != json_object_array_length(b))
                        return false;
                for (size_t i = 0; i < json_object_array_length(a); i++)
                        if (!cert_json_equal(json_object_array_get_idx(a, i), json_object_array_get_idx(b, i)))
                                return false;
                return true;
        case json_type_object:
                return cert_object_covers(a, b) && cert_object_covers(b, a);
        default:
                return false;
        }
}

/* "Reply number N" replies as a JSON array, the parameters of Test11. */
static inline json_object *cert_test11_params(void) {
        json_object *p = json_object_new_object(), *a = json_object_new_array();
        char buf[32];

        for (int i = 1; i <= CERT_STREAM_REPLIES; i++) {
                snprintf(buf, sizeof buf, "Reply number %d", i);
                json_object_array_add(a, json_object_new_string(buf));
        }
        json_object_object_add(p, "last_more_replies", a);
        return p;
}
