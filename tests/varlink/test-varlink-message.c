/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Varlink framing, message parsing and parameter dispatch: pure functions. */
#include "varlink-test.h"

static void test_framing_split(void **state) {
        const char msg[] = "{\"method\":\"a.B\"}";
        VarlinkBuffer b = { .data = NULL };
        const char *text;
        size_t len;

        /* byte by byte: nothing until the NUL arrives */
        for (size_t i = 0; i < sizeof msg - 1; i++) {
                assert_int_equal(varlink_buffer_append(&b, msg + i, 1), 0);
                assert_int_equal(varlink_buffer_next(&b, 1024, &text, &len), 0);
        }
        assert_int_equal(varlink_buffer_append(&b, "", 1), 0);
        assert_int_equal(varlink_buffer_next(&b, 1024, &text, &len), 1);
        assert_int_equal(len, sizeof msg - 1);
        assert_memory_equal(text, msg, len);
        varlink_buffer_consume(&b, len + 1);
        assert_int_equal(varlink_buffer_pending(&b), 0);
        varlink_buffer_done(&b);
}

static void test_framing_several(void **state) {
        const char data[] = "{\"a\":1}\0{\"b\":2}\0{\"c\":";
        VarlinkBuffer b = { .data = NULL };
        const char *text;
        size_t len;

        assert_int_equal(varlink_buffer_append(&b, data, sizeof data - 1), 0);
        assert_int_equal(varlink_buffer_next(&b, 1024, &text, &len), 1);
        assert_string_equal(text, "{\"a\":1}");
        varlink_buffer_consume(&b, len + 1);
        assert_int_equal(varlink_buffer_next(&b, 1024, &text, &len), 1);
        assert_string_equal(text, "{\"b\":2}");
        varlink_buffer_consume(&b, len + 1);
        assert_int_equal(varlink_buffer_next(&b, 1024, &text, &len), 0);
        assert_int_equal(varlink_buffer_append(&b, "3}", 3), 0);
        assert_int_equal(varlink_buffer_next(&b, 1024, &text, &len), 1);
        assert_string_equal(text, "{\"c\":3}");
        varlink_buffer_done(&b);
}

static void test_framing_oversized(void **state) {
        VarlinkBuffer b = { .data = NULL };
        char big[100];
        const char *text;
        size_t len;

        memset(big, 'x', sizeof big);
        assert_int_equal(varlink_buffer_append(&b, big, 64), 0);
        assert_int_equal(varlink_buffer_next(&b, 64, &text, &len), 0);          /* exactly max: wait */
        assert_int_equal(varlink_buffer_append(&b, big, 1), 0);
        assert_int_equal(varlink_buffer_next(&b, 64, &text, &len), -EMSGSIZE);
        varlink_buffer_done(&b);

        /* complete but too long */
        assert_int_equal(varlink_buffer_append(&b, big, 80), 0);
        assert_int_equal(varlink_buffer_append(&b, "", 1), 0);
        assert_int_equal(varlink_buffer_next(&b, 64, &text, &len), -EMSGSIZE);
        varlink_buffer_done(&b);
}

static void test_parse_bad(void **state) {
        static const char *const bad[] = {
                "", "{", "[]", "1", "\"s\"", "null", "{\"a\":1} x", "{\"a\":1}{}", "{\"a\":\"\xff\"}",
                "{\"a\":nan}", "{\"a\":\"\xc3\xa9\",}", "{\"a\":\xc3\xa9}", "{\"a\":\"\xc3\"}", "{\"a\":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}",
        };
        json_object *o = NULL;

        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                assert_int_equal(varlink_message_parse(bad[i], strlen(bad[i]), &o), -EBADMSG);
        assert_int_equal(varlink_message_parse("{\"a\":1} \n", 9, &o), 0);
        json_object_put(o);
        /* UTF-8 is fine (json-c 0.18 rejected it in strict mode: common/json-parse.c) */
        assert_int_equal(varlink_message_parse("{\"a\":\"\xc3\xa9\"} ", 10, &o), 0);
        assert_string_equal(json_object_get_string(json_object_object_get(o, "a")), "\xc3\xa9");
        json_object_put(o);
}

/* What json-c lets through and varlink_json_check() must not (issue 10). */
static void test_parse_strict(void **state) {
        static const char *const bad[] = {
                "{\"a\":NaN}", "{\"a\":-Infinity}", "{\"a\":Infinity}", "{\"a\":1e999}", "{\"a\":-1e400}",
                "{\"a\":01}", "{\"a\":+1}", "{\"a\":1.}", "{\"a\":.5}", "{\"a\":0x10}",
                "{\"a\":\"\xc0\xaf\"}",                 /* overlong '/' */
                "{\"a\":\"\xe0\x80\xaf\"}",            /* overlong, 3 bytes */
                "{\"a\":\"\xf0\x80\x80\xaf\"}",        /* overlong, 4 bytes */
                "{\"a\":\"\xed\xa0\x80\"}",            /* UTF-8 encoded surrogate */
                "{\"a\":\"\xf4\x90\x80\x80\"}",        /* above U+10FFFF */
                "{\"a\":\"\xef\xbf\xbe\"}",            /* U+FFFE */
                "{\"a\":\"\xef\xb7\x90\"}",            /* U+FDD0 */
                "{\"a\":\"\xf0\x9f\xbf\xbf\"}",        /* U+1FFFF */
                "{\"a\":\"\\ufffe\\uffff\"}", "{\"a\":\"\\ufdef\"}",
                "{\"a\":\"\\ud800\"}", "{\"a\":\"\\udc00\"}", "{\"a\":\"\\ud800\\u0041\"}",
                "{\"a\":\"x\\u0000y\"}", "{\"a\\u0000\":1}",
                "{\"a\":\"\t\"}", "{\"a\":\"\\x\"}", "{\"a\":\"\\u12\"}",
                "{\"\":1,\"\":2}", "{\"a\":1,\"a\":2}", "{\"a\":1,\"\\u0061\":2}", "{\"o\":{\"k\":1,\"j\":2,\"k\":3}}",
                "{\"a\":[1,]}", "{\"a\":1,}", "{\"a\" 1}", "{\"a\":tru}",
                /* integers beyond 64 bits signed: json-c 0.16 would clamp, 0.18 refuses */
                "{\"b\":99999999999999999999}", "{\"b\":9223372036854775808}", "{\"b\":-9223372036854775809}",
        };
        static const char *const good[] = {
                "{\"a\":\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"}",       /* é € 😀 */
                "{\"a\":\"\\ud83d\\ude00\\u00e9\\n\\/\"}",
                "{\"a\":-0.5e-3,\"b\":[1,{\"a\":1}],\"c\":{\"a\":null},\"ab\":true}",
                "{\"a\":1.7976931348623157e308,\"b\":9223372036854775807,\"c\":-9223372036854775808}",
                " {} ", "{\"\":1,\"a\":{\"\":2}}",
        };
        json_object *o = NULL;

        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                assert_int_equal(varlink_json_check(bad[i], strlen(bad[i])), -EBADMSG);
                assert_int_equal(varlink_message_parse(bad[i], strlen(bad[i]), &o), -EBADMSG);
        }
        for (size_t i = 0; i < ELEMENTSOF(good); i++) {
                assert_int_equal(varlink_message_parse(good[i], strlen(good[i]), &o), 0);
                json_object_put(o);
        }
}

static void test_method_names(void **state) {
        static const char *const good[] = { "a.b.C", "io.tdsleep.Manager.GetStatus", "org.varlink.service.GetInfo",
                                            "a-b.c--d.M0", "A.9.X" };
        static const char *const bad[] = { "", "B", "a.B", ".B", "a.", "a.b", "a..B", "a-.B", "-a.B", "9a.B", "a.B-c",
                                           "a.B.", "a b.C", "a.B\n", "io.tdsleep.Manager.Get_Status" };

        for (size_t i = 0; i < ELEMENTSOF(good); i++)
                assert_true(varlink_method_name_is_valid(good[i]));
        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                assert_false(varlink_method_name_is_valid(bad[i]));
}

static int parse_call(const char *text, VarlinkCallInfo *call, const char **bad, json_object **ret) {
        assert_int_equal(varlink_message_parse(text, strlen(text), ret), 0);
        return varlink_call_parse(*ret, call, bad);
}

static void test_call_parse(void **state) {
        static const struct { const char *text, *bad; } cases[] = {
                { "{}", "method" },
                { "{\"method\":1}", "method" },
                { "{\"method\":\"a.b.C\",\"parameters\":[]}", "parameters" },
                { "{\"method\":\"a.b.C\",\"parameters\":\"x\"}", "parameters" },
                { "{\"method\":\"a.b.C\",\"more\":1}", "more" },
                { "{\"method\":\"a.b.C\",\"oneway\":\"yes\"}", "oneway" },
                { "{\"method\":\"a.b.C\",\"more\":true,\"oneway\":true}", "oneway" },
                { "{\"method\":\"a.b.C\",\"x\":1}", "x" },
                { "{\"method\":\"a.b.C\",\"upgrade\":true}", "upgrade" },
                { "{\"method\":\"a.b.C\",\"upgrade\":1}", "upgrade" },
                { "{\"method\":\"nodot\"}", "method" },
                { "{\"method\":\"a.b.c\"}", "method" },
                { "{\"method\":\"a.b.C\\u0001\"}", "method" },
        };
        VarlinkCallInfo call;
        const char *bad;
        json_object *o;

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                assert_int_equal(parse_call(cases[i].text, &call, &bad, &o), -EBADMSG);
                assert_string_equal(bad, cases[i].bad);
                json_object_put(o);
        }
        assert_int_equal(parse_call("{\"method\":\"a.b.C\",\"more\":true,\"upgrade\":false}", &call, &bad, &o), 0);
        assert_string_equal(call.method, "a.b.C");
        assert_int_equal(call.flags, VARLINK_METHOD_MORE);
        assert_true(json_object_is_type(call.parameters, json_type_object));      /* {} when absent */
        json_object_put(o);
        assert_int_equal(parse_call("{\"method\":\"a.b.C\",\"oneway\":true,\"parameters\":{\"k\":1}}", &call, &bad, &o), 0);
        assert_int_equal(call.flags, VARLINK_METHOD_ONEWAY);
        assert_int_equal(json_object_object_length(call.parameters), 1);
        json_object_put(o);
}

static void test_reply_roundtrip(void **state) {
        _cleanup_(json_object_putp) json_object *p = json_tokener_parse("{\"x\":\"\\u00e9/\"}");
        VarlinkBuffer b = { .data = NULL };
        json_object *msg, *back = NULL;
        VarlinkReplyInfo info;
        const char *text;
        size_t len;

        msg = varlink_reply_build("a.Err", p, false);
        assert_int_equal(varlink_buffer_append_message(&b, msg), 0);
        json_object_put(msg);
        msg = varlink_reply_build(NULL, NULL, true);
        assert_int_equal(varlink_buffer_append_message(&b, msg), 0);
        json_object_put(msg);

        assert_int_equal(varlink_buffer_next(&b, 1024, &text, &len), 1);
        assert_int_equal(varlink_message_parse(text, len, &back), 0);
        varlink_buffer_consume(&b, len + 1);
        assert_int_equal(varlink_reply_parse(back, &info), 0);
        assert_string_equal(info.error, "a.Err");
        assert_false(info.continues);
        assert_true(json_object_equal(info.parameters, p));
        json_object_put(back);

        assert_int_equal(varlink_buffer_next(&b, 1024, &text, &len), 1);
        assert_string_equal(text, "{\"parameters\":{},\"continues\":true}");
        varlink_buffer_done(&b);

        back = json_tokener_parse("{\"error\":\"a.B\",\"continues\":true}");
        assert_int_equal(varlink_reply_parse(back, &info), -EBADMSG);
        json_object_put(back);
}

typedef struct Params {
        const char *name;
        char *owned;
        int64_t i64;
        uint32_t u32;
        int i;
        bool b;
        double d;
        json_object *obj;
} Params;

static const VarlinkDispatchField table[] = {
        { "name",  json_type_string,  varlink_dispatch_const_string, offsetof(Params, name), VARLINK_DISPATCH_MANDATORY },
        { "owned", json_type_string,  varlink_dispatch_string,       offsetof(Params, owned), VARLINK_DISPATCH_NULLABLE },
        { "i64",   json_type_int,     varlink_dispatch_int64,        offsetof(Params, i64), 0 },
        { "u32",   json_type_int,     varlink_dispatch_uint32,       offsetof(Params, u32), 0 },
        { "i",     json_type_int,     varlink_dispatch_int,          offsetof(Params, i), 0 },
        { "b",     json_type_boolean, varlink_dispatch_bool,         offsetof(Params, b), 0 },
        { "d",     json_type_double,  varlink_dispatch_double,       offsetof(Params, d), 0 },
        { "obj",   json_type_null,    varlink_dispatch_object,       offsetof(Params, obj), 0 },
        { .name = NULL }
};

/* Dispatch text into p; *bad is copied to a static buffer (it points into the object). */
static int dispatch(const char *text, Params *p, const char **bad) {
        _cleanup_(json_object_putp) json_object *o = json_tokener_parse(text);
        static char bad_copy[64];
        int r;

        assert_non_null(o);
        free(p->owned);
        *p = (Params) { .name = NULL };
        r = varlink_json_dispatch(o, table, p, bad);
        if (*bad) {
                snprintf(bad_copy, sizeof bad_copy, "%s", *bad);
                *bad = bad_copy;
        }
        p->name = NULL;         /* borrowed from o */
        p->obj = NULL;
        return r;
}

static void test_dispatch(void **state) {
        static const struct { const char *text, *bad; } cases[] = {
                { "{}", "name" },
                { "{\"name\":1}", "name" },
                { "{\"name\":null}", "name" },
                { "{\"name\":\"n\",\"extra\":1}", "extra" },
                { "{\"name\":\"n\",\"i64\":\"1\"}", "i64" },
                { "{\"name\":\"n\",\"i64\":1.5}", "i64" },
                { "{\"name\":\"n\",\"u32\":-1}", "u32" },
                { "{\"name\":\"n\",\"u32\":4294967296}", "u32" },
                { "{\"name\":\"n\",\"i\":2147483648}", "i" },
                { "{\"name\":\"n\",\"i64\":9223372036854775808}", "i64" },
                { "{\"name\":\"n\",\"b\":0}", "b" },
                { "{\"name\":\"n\",\"d\":\"1\"}", "d" },
        };
        Params p = { .name = NULL };
        const char *bad;

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                assert_true(dispatch(cases[i].text, &p, &bad) < 0);
                assert_string_equal(bad, cases[i].bad);
        }
        assert_int_equal(dispatch("{\"name\":\"n\",\"owned\":\"o\",\"i64\":-5,\"u32\":7,\"i\":-3,"
                                  "\"b\":true,\"d\":2,\"obj\":[1]}", &p, &bad), 0);
        assert_null(bad);
        assert_string_equal(p.owned, "o");
        assert_int_equal(p.i64, -5);
        assert_int_equal(p.u32, 7);
        assert_int_equal(p.i, -3);
        assert_true(p.b);
        assert_true(p.d == 2.0);
        assert_int_equal(dispatch("{\"name\":\"n\",\"owned\":null}", &p, &bad), 0);
        assert_null(p.owned);
        assert_int_equal(varlink_json_dispatch(NULL, table + 1, &p, &bad), 0);      /* NULL = {} */
        free(p.owned);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_framing_split),
                cmocka_unit_test(test_framing_several),
                cmocka_unit_test(test_framing_oversized),
                cmocka_unit_test(test_parse_bad),
                cmocka_unit_test(test_parse_strict),
                cmocka_unit_test(test_method_names),
                cmocka_unit_test(test_call_parse),
                cmocka_unit_test(test_reply_roundtrip),
                cmocka_unit_test(test_dispatch),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
