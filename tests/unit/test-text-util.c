/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "macros.h"
#include "text-util.h"

static void test_printable(void **state) {
        static const char *const good[] = { "firmware update #4711", "é € 😀", "\"quoted\" \\ back", "x" };
        static const char *const bad[] = { "", "a\nb", "tab\there", "\x1b[31m", "del\x7f", "csi\xc2\x9b\x32J",
                                           "nel\xc2\x85" };
        char longest[257];

        for (size_t i = 0; i < ELEMENTSOF(good); i++)
                assert_true(text_is_printable(good[i], 256));
        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                assert_false(text_is_printable(bad[i], 256));
        assert_false(text_is_printable(NULL, 256));
        memset(longest, 'y', 256);
        longest[256] = '\0';
        assert_true(text_is_printable(longest, 256));
        assert_false(text_is_printable(longest, 255));
        assert_true(text_is_printable("\xc2\xa0nbsp", 256));      /* U+00A0 is no C1 control */
}

static void test_escape(void **state) {
        static const struct { const char *in, *out; } cases[] = {
                { "plain", "plain" },
                { "say \"hi\" \\ ok", "say \\\"hi\\\" \\\\ ok" },
                { "a\nb", "a\\nb" },
                { "\x1b[31mred", "\\x1b[31mred" },
                { "csi\xc2\x9b", "csi\\xc2\\x9b" },
                { "é", "é" },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                char *e = text_escape(cases[i].in);

                assert_non_null(e);
                assert_string_equal(e, cases[i].out);
                free(e);
        }
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_printable),
                cmocka_unit_test(test_escape),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
