/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "classify.h"
#include "test-util.h"

#define NOACT _SLEEP_ACTION_INVALID
#define TDX_ONLY DOMAIN_KIND_MASK(DOMAIN_KIND_TDX)

static const struct {
        const char *fixture;
        DomainKind kind;
        int trust_domain;
        SleepAction action;
        uint64_t timeout_usec;
        bool protected_tdx_only;        /* domain_policy_is_protected() with the default kinds */
} good_cases[] = {
        { "tdx",                   DOMAIN_KIND_TDX,     -1, NOACT, 0, true },
        { "sev-snp",               DOMAIN_KIND_SEV_SNP, -1, NOACT, 0, false },
        { "sev",                   DOMAIN_KIND_SEV,     -1, NOACT, 0, false },
        { "ordinary",              DOMAIN_KIND_NONE,    -1, NOACT, 0, false },
        { "s390-pv",               DOMAIN_KIND_NONE,    -1, NOACT, 0, false },
        { "meta-trust-yes",        DOMAIN_KIND_NONE,     1, NOACT, 0, true },
        { "meta-trust-no",         DOMAIN_KIND_TDX,      0, NOACT, 0, false },
        { "meta-on-deep-sleep",    DOMAIN_KIND_TDX,     -1, SLEEP_ACTION_S2IDLE, 0, true },
        { "meta-shutdown-timeout", DOMAIN_KIND_TDX,     -1, NOACT, 120 * USEC_PER_SEC, true },
        { "meta-timeout-span",     DOMAIN_KIND_TDX,     -1, NOACT, 1500 * USEC_PER_MSEC, true },
        { "meta-other-prefix",     DOMAIN_KIND_TDX,      1, SLEEP_ACTION_REFUSE, 120 * USEC_PER_SEC, true },
        { "meta-default-ns",       DOMAIN_KIND_NONE,     1, SLEEP_ACTION_STOP, 0, true },
        { "meta-nested",           DOMAIN_KIND_NONE,     1, NOACT, 0, true },
        /* Another namespace version is not ours: its bogus value is not even looked at. */
        { "meta-wrong-ns",         DOMAIN_KIND_TDX,     -1, NOACT, 0, true },
};

static const struct {
        const char *fixture;
        DomainKind kind;        /* what *ret still says */
        const char *error;      /* exact, or a prefix when it ends in '*' */
} bad_cases[] = {
        { "bad-trust",        DOMAIN_KIND_TDX,  "tdsleep metadata: trust-domain='maybe': expected yes or no" },
        { "bad-action",       DOMAIN_KIND_TDX,
          "tdsleep metadata: on-deep-sleep='sleep': expected stop, s2idle or refuse" },
        { "bad-timeout",      DOMAIN_KIND_TDX,
          "tdsleep metadata: shutdown-timeout='0': expected seconds > 0 and <= 3600, "
          "or a time span such as 500ms, 2s or 1min" },
        { "bad-timeout-unit", DOMAIN_KIND_TDX,
          "tdsleep metadata: shutdown-timeout='10 fortnights': expected seconds > 0 and <= 3600, "
          "or a time span such as 500ms, 2s or 1min" },
        { "bad-attribute",    DOMAIN_KIND_TDX,  "tdsleep metadata: unknown attribute 'on-deepsleep'" },
        { "malformed",        DOMAIN_KIND_NONE, "malformed domain XML, line *" },
        { "doctype",          DOMAIN_KIND_NONE, "domain XML must not have a DOCTYPE" },
        { "wrong-root",       DOMAIN_KIND_NONE, "domain XML: root element is not <domain>" },
};

static char *fixture(const char *name) {
        _cleanup_(freep) char *rel = NULL;
        char *text;

        assert_true(asprintf(&rel, "domains/%s.xml", name) > 0);
        text = read_test_data(rel);
        if (!text) {
                print_message("fixture %s not found (TDSLEEP_TEST_DATA unset?)\n", rel);
                exit(EXIT_TEST_SKIP);
        }
        return text;
}

static void test_good_fixtures(void **state) {
        for (size_t i = 0; i < ELEMENTSOF(good_cases); i++) {
                _cleanup_(freep) char *xml = fixture(good_cases[i].fixture), *error = NULL;
                DomainPolicy p;

                print_message("fixture %s\n", good_cases[i].fixture);
                assert_int_equal(classify_domain_xml(xml, &p, &error), 0);
                assert_null(error);
                assert_int_equal(p.kind, good_cases[i].kind);
                assert_int_equal(p.trust_domain, good_cases[i].trust_domain);
                assert_int_equal(p.on_deep_sleep, good_cases[i].action);
                assert_int_equal(p.shutdown_timeout_usec, good_cases[i].timeout_usec);
                assert_int_equal(domain_policy_is_protected(&p, TDX_ONLY), good_cases[i].protected_tdx_only);
        }
}

static void test_bad_fixtures(void **state) {
        for (size_t i = 0; i < ELEMENTSOF(bad_cases); i++) {
                _cleanup_(freep) char *xml = fixture(bad_cases[i].fixture), *error = NULL;
                const char *want = bad_cases[i].error;
                size_t n = strlen(want);
                DomainPolicy p;

                print_message("fixture %s\n", bad_cases[i].fixture);
                assert_int_equal(classify_domain_xml(xml, &p, &error), -EINVAL);
                assert_non_null(error);
                print_message("  error: %s\n", error);
                if (want[n - 1] == '*')
                        assert_int_equal(strncmp(error, want, n - 1), 0);
                else
                        assert_string_equal(error, want);
                assert_int_equal(p.kind, bad_cases[i].kind);
                /* Only the launchSecurity part is described: metadata stays unset. */
                assert_int_equal(p.trust_domain, -1);
                assert_int_equal(p.on_deep_sleep, NOACT);
                assert_int_equal(p.shutdown_timeout_usec, 0);
        }
}

static void test_inline_documents(void **state) {
        DomainPolicy p;

        assert_int_equal(classify_domain_xml("", &p, NULL), -EINVAL);
        assert_int_equal(classify_domain_xml("<domain/>", &p, NULL), 0);
        assert_int_equal(p.kind, DOMAIN_KIND_NONE);
        assert_int_equal(classify_domain_xml("<domain><launchSecurity/></domain>", &p, NULL), 0);
        assert_int_equal(p.kind, DOMAIN_KIND_NONE);
        assert_int_equal(classify_domain_xml("<domain><launchSecurity type='TDX'/></domain>", &p, NULL), 0);
        assert_int_equal(p.kind, DOMAIN_KIND_NONE);
        /* launchSecurity counts only directly below <domain>. */
        assert_int_equal(classify_domain_xml("<domain><devices><launchSecurity type='tdx'/></devices></domain>",
                                             &p, NULL), 0);
        assert_int_equal(p.kind, DOMAIN_KIND_NONE);
        /* A namespaced root is not libvirt's <domain>. */
        assert_int_equal(classify_domain_xml("<domain xmlns='urn:x'><launchSecurity type='tdx'/></domain>",
                                             &p, NULL), -EINVAL);
        /* Metadata outside <metadata> is not metadata. */
        assert_int_equal(classify_domain_xml("<domain><launchSecurity type='tdx'/>"
                                             "<t:domain xmlns:t='urn:tdsleep:domain:1' trust-domain='no'/></domain>",
                                             &p, NULL), 0);
        assert_int_equal(p.trust_domain, -1);
        /* An empty attribute is a bad value, not "unset". */
        assert_int_equal(classify_domain_xml("<domain><metadata><t:domain xmlns:t='urn:tdsleep:domain:1' "
                                             "on-deep-sleep=''/></metadata></domain>", &p, NULL), -EINVAL);
}

static void test_policy_accessors(void **state) {
        _cleanup_(config_done) Config c = { .libvirt_uri = NULL };
        DomainPolicy p = { .kind = DOMAIN_KIND_SEV, .trust_domain = -1, .on_deep_sleep = NOACT };

        assert_int_equal(config_init(&c), 0);
        assert_false(domain_policy_is_protected(&p, TDX_ONLY));
        assert_true(domain_policy_is_protected(&p, TDX_ONLY | DOMAIN_KIND_MASK(DOMAIN_KIND_SEV)));
        assert_false(domain_policy_is_protected(&p, 0));
        p.trust_domain = 1;
        assert_true(domain_policy_is_protected(&p, 0));
        p.kind = DOMAIN_KIND_NONE;
        assert_true(domain_policy_is_protected(&p, 0));
        p.trust_domain = 0;
        p.kind = DOMAIN_KIND_TDX;
        assert_false(domain_policy_is_protected(&p, TDX_ONLY));
        p.kind = DOMAIN_KIND_NONE;
        p.trust_domain = -1;
        assert_false(domain_policy_is_protected(&p, ~0u));

        assert_int_equal(domain_policy_action(&p, &c), SLEEP_ACTION_STOP);
        c.on_deep_sleep = SLEEP_ACTION_REFUSE;
        assert_int_equal(domain_policy_action(&p, &c), SLEEP_ACTION_REFUSE);
        p.on_deep_sleep = SLEEP_ACTION_S2IDLE;
        assert_int_equal(domain_policy_action(&p, &c), SLEEP_ACTION_S2IDLE);

        assert_int_equal(domain_policy_timeout_usec(&p, &c), 60 * USEC_PER_SEC);
        p.shutdown_timeout_usec = 5 * USEC_PER_SEC;
        assert_int_equal(domain_policy_timeout_usec(&p, &c), 5 * USEC_PER_SEC);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_good_fixtures),
                cmocka_unit_test(test_bad_fixtures),
                cmocka_unit_test(test_inline_documents),
                cmocka_unit_test(test_policy_accessors),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
