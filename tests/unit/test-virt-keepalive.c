/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "macros.h"
#include "virt-keepalive.h"

/* Local unix sockets (and in-process drivers) see a dead peer as EOF: no pings. */
static void test_local_has_none(void **state) {
        static const char *const local[] = {
                "qemu:///system",
                "qemu:///session",
                "test:///default",
                "test:///tmp/node.xml",
                "qemu+unix:///system",
                "qemu+unix:///system?socket=/run/private/libvirt-sock",
                "test+unix:///default?socket=/tmp/x/libvirt-sock",
                "QEMU+UNIX:///system",
                "qemu:///system#fragment",
                "qemu://?socket=/run/libvirt/libvirt-sock",
        };

        for (size_t i = 0; i < ELEMENTSOF(local); i++) {
                print_message("%s\n", local[i]);
                assert_false(virt_uri_wants_keepalive(local[i]));
        }
}

/* Network transports, a named host (libvirt's default there is TLS), an external
 * command, and whatever cannot be read keep them. */
static void test_remote_keeps_it(void **state) {
        static const char *const remote[] = {
                "qemu+ssh://root@host/system",
                "qemu+ssh://host:2222/system?keyfile=/root/.ssh/id",
                "qemu+libssh2://user@host/system?known_hosts=/k",
                "qemu+libssh://host/system",
                "qemu+tls://host.example/system",
                "qemu+tcp://10.0.0.1:16509/system",
                "qemu+ext:///system?command=/usr/bin/tunnel",
                "qemu://host/system",
                "qemu://localhost/system",
                "qemu://user@host:16514/system",
                "qemu+unixx:///system",
                "qemu+uni:///system",
                "qemu+:///system",
                "hail",
                "",
                "://host",
                NULL,
        };

        for (size_t i = 0; i < ELEMENTSOF(remote); i++) {
                print_message("%s\n", remote[i] ? remote[i] : "(null)");
                assert_true(virt_uri_wants_keepalive(remote[i]));
        }
}

/* The workers open their own connections only to a libvirtd on this host. */
static void test_local_daemon(void **state) {
        static const char *const local_daemon[] = {
                "qemu:///system",
                "qemu:///session",
                "qemu+unix:///system?socket=/run/private/libvirt-sock",
                "test+unix:///default?socket=/tmp/x/libvirt-sock",
                "qemu://?socket=/run/libvirt/libvirt-sock",
        };
        static const char *const other[] = {
                "test:///default",              /* inside this process */
                "TEST:///tmp/node.xml",
                "qemu:///embed?root=/tmp/q",
                "qemu+ssh://root@host/system",  /* remote */
                "qemu://host/system",
                "qemu+ext:///system?command=/usr/bin/tunnel",
                "hail",
                "",
                NULL,
        };

        for (size_t i = 0; i < ELEMENTSOF(local_daemon); i++) {
                print_message("%s\n", local_daemon[i]);
                assert_true(virt_uri_is_local_daemon(local_daemon[i]));
        }
        for (size_t i = 0; i < ELEMENTSOF(other); i++) {
                print_message("%s\n", other[i] ? other[i] : "(null)");
                assert_false(virt_uri_is_local_daemon(other[i]));
        }
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_local_has_none),
                cmocka_unit_test(test_remote_keeps_it),
                cmocka_unit_test(test_local_daemon),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
