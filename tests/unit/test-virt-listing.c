/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The listing a worker makes to start domains on its own connection (virt-listing.h),
 * against libvirt's test driver in this process (test:///default: a "test" domain that
 * runs, and the persistent ones defined here). */

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <libvirt/virterror.h>

#include "macros.h"
#include "virt-listing.h"

#define UUID_A "5b4d5c2e-1111-4a6e-9d3f-00000000000a"
#define UUID_B "5b4d5c2e-1111-4a6e-9d3f-00000000000b"
#define UUID_C "5b4d5c2e-1111-4a6e-9d3f-00000000000c"

static void quiet(void *opaque, virErrorPtr e) {
}

static virDomainPtr define(virConnectPtr c, const char *name, const char *uuid) {
        char xml[512];

        snprintf(xml, sizeof xml, "<domain type='test'><name>%s</name><uuid>%s</uuid>"
                 "<memory>8192</memory><os><type>hvm</type></os></domain>", name, uuid);
        return virDomainDefineXML(c, xml);
}

static int setup(void **state) {
        virConnectPtr c;

        virSetErrorFunc(NULL, quiet);
        c = virConnectOpen("test:///default");
        assert_non_null(c);
        *state = c;
        return 0;
}

static int teardown(void **state) {
        virConnectClose(*state);
        return 0;
}

static void undefine(virConnectPtr c, const char *uuid) {
        virDomainPtr d = virDomainLookupByUUIDString(c, uuid);

        if (!d)
                return;
        if (virDomainIsActive(d) == 1)
                virDomainDestroy(d);
        virDomainUndefine(d);
        virDomainFree(d);
}

/* Each shut-off persistent domain is found, by uuid in either case; the one that runs,
 * one defined after the listing and an unknown uuid are not (the caller looks up). */
static void test_finds_what_is_shut_off(void **state) {
        virConnectPtr c = *state;
        virDomainPtr a = define(c, "listing-a", UUID_A), b = define(c, "listing-b", UUID_B), x;
        DomainListing *l;
        char upper[] = UUID_B, running[VIR_UUID_STRING_BUFLEN];

        assert_non_null(a);
        assert_non_null(b);
        l = domain_listing_new(c);
        assert_non_null(l);
        x = domain_listing_find(l, UUID_A);
        assert_non_null(x);
        assert_string_equal(virDomainGetName(x), "listing-a");
        virDomainFree(x);
        for (char *p = upper; *p; p++)
                *p = toupper((unsigned char) *p);
        x = domain_listing_find(l, upper);
        assert_non_null(x);
        assert_string_equal(virDomainGetName(x), "listing-b");
        virDomainFree(x);

        x = virDomainLookupByName(c, "test");          /* the test driver's running domain */
        assert_non_null(x);
        assert_int_equal(virDomainGetUUIDString(x, running), 0);
        virDomainFree(x);
        assert_null(domain_listing_find(l, running));

        x = define(c, "listing-c", UUID_C);
        assert_non_null(x);
        virDomainFree(x);
        assert_null(domain_listing_find(l, UUID_C));
        assert_null(domain_listing_find(l, "00000000-0000-0000-0000-000000000000"));
        assert_null(domain_listing_find(NULL, UUID_A));
        domain_listing_free(l);
        virDomainFree(a);
        virDomainFree(b);
        undefine(c, UUID_A);
        undefine(c, UUID_B);
        undefine(c, UUID_C);
}

/* A found handle is the caller's: it outlives the listing and starts the domain; a
 * domain redefined under the same uuid since the listing is the one started (libvirt
 * finds a domain by its handle's uuid). */
static void test_handle_starts_the_domain(void **state) {
        virConnectPtr c = *state;
        virDomainPtr a = define(c, "listing-a", UUID_A), x, now;
        DomainListing *l;

        assert_non_null(a);
        virDomainFree(a);
        l = domain_listing_new(c);
        assert_non_null(l);
        x = domain_listing_find(l, UUID_A);
        assert_non_null(x);
        domain_listing_free(l);

        undefine(c, UUID_A);
        now = define(c, "listing-a-renamed", UUID_A);
        assert_non_null(now);
        assert_int_equal(virDomainCreate(x), 0);
        assert_int_equal(virDomainIsActive(now), 1);
        virDomainFree(x);
        virDomainFree(now);
        undefine(c, UUID_A);
}

/* An empty listing finds nothing; a listing libvirt refuses is NULL (the caller looks
 * each domain up instead). */
static void test_empty_and_failed(void **state) {
        DomainListing *l = domain_listing_new(*state);

        assert_non_null(l);
        assert_null(domain_listing_find(l, UUID_A));
        domain_listing_free(l);
        assert_null(domain_listing_new(NULL));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_finds_what_is_shut_off),
                cmocka_unit_test(test_handle_starts_the_domain),
                cmocka_unit_test(test_empty_and_failed),
        };

        return cmocka_run_group_tests(tests, setup, teardown);
}
