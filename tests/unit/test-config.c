/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "config.h"
#include "config-files.h"
#include "test-util.h"

#define CONF "/etc/tdsleep/tdsleepd.conf"

/* Load text; on success return the config through *ret. */
static int load(const char *text, Config *ret, char **ret_error) {
        *ret_error = NULL;
        return config_load_string(text, CONF, ret, ret_error);
}

/* text must fail with exactly this message. */
static void expect_error(const char *text, const char *message) {
        _cleanup_(freep) char *error = NULL;
        Config c = { .parallel_start = 777 };

        print_message("expecting: %s\n", message);
        assert_int_equal(config_load_string(text, CONF, &c, &error), -EINVAL);
        assert_non_null(error);
        assert_string_equal(error, message);
        assert_int_equal(c.parallel_start, 777);        /* untouched */
        assert_null(c.libvirt_uri);
}

static void assert_defaults(const Config *c) {
        assert_string_equal(c->libvirt_uri, "qemu:///system");
        assert_int_equal(c->kernel_policy, KERNEL_POLICY_AUTO);
        assert_string_equal(c->socket_group, "tdsleep");
        assert_null(c->metrics_textfile);
        assert_int_equal(c->on_deep_sleep, SLEEP_ACTION_STOP);
        assert_int_equal(c->shutdown_timeout_usec, 60 * USEC_PER_SEC);
        assert_true(c->force_off);
        assert_int_equal(c->parallel_shutdown, 0);
        assert_true(c->restart_after_resume);
        assert_int_equal(c->parallel_start, 8);
        assert_int_equal(c->start_retries, 5);
        assert_int_equal(c->protected_kinds, DOMAIN_KIND_MASK(DOMAIN_KIND_TDX));
        assert_true(c->online_cpus);
}

static void test_defaults(void **state) {
        _cleanup_(config_done) Config c = { .libvirt_uri = NULL };
        _cleanup_(freep) char *error = NULL;

        assert_int_equal(config_init(&c), 0);
        assert_defaults(&c);
        config_done(&c);
        assert_null(c.libvirt_uri);

        assert_int_equal(config_load("/nonexistent/tdsleep/tdsleepd.conf", &c, &error), 0);
        assert_null(error);
        assert_defaults(&c);
}

static void test_every_key(void **state) {
        _cleanup_(config_done) Config c = { .libvirt_uri = NULL };
        _cleanup_(freep) char *error = NULL;

        assert_int_equal(load("# tdsleepd.conf\n"
                              "[Manager]\n"
                              "LibvirtURI=qemu+unix:///system?socket=/run/x.sock\n"
                              "KernelPolicy=runtime\n"
                              "SocketGroup=kvm-admins\n"
                              "MetricsTextfile=/var/lib/prometheus/node-exporter/tdsleep.prom\n"
                              "; another comment\n"
                              "\n"
                              "[Sleep]\n"
                              "OnDeepSleep=refuse\n"
                              "ShutdownTimeoutSec=2min\n"
                              "ForceOff=off\n"
                              "ParallelShutdown=3\n"
                              "RestartAfterResume=false\n"
                              "ParallelStart=0\n"
                              "ProtectedKinds=sev,sev-snp\n"
                              "[CPU]\n"
                              "OnlineCPUs=0\n", &c, &error), 0);
        assert_null(error);
        assert_string_equal(c.libvirt_uri, "qemu+unix:///system?socket=/run/x.sock");
        assert_int_equal(c.kernel_policy, KERNEL_POLICY_RUNTIME);
        assert_string_equal(c.socket_group, "kvm-admins");
        assert_string_equal(c.metrics_textfile, "/var/lib/prometheus/node-exporter/tdsleep.prom");
        assert_int_equal(c.on_deep_sleep, SLEEP_ACTION_REFUSE);
        assert_int_equal(c.shutdown_timeout_usec, 120 * USEC_PER_SEC);
        assert_false(c.force_off);
        assert_int_equal(c.parallel_shutdown, 3);
        assert_false(c.restart_after_resume);
        assert_int_equal(c.parallel_start, 0);
        assert_int_equal(c.protected_kinds,
                         DOMAIN_KIND_MASK(DOMAIN_KIND_SEV) | DOMAIN_KIND_MASK(DOMAIN_KIND_SEV_SNP));
        assert_false(c.online_cpus);
}

static void test_syntax_tolerated(void **state) {
        _cleanup_(config_done) Config c = { .libvirt_uri = NULL };
        _cleanup_(freep) char *error = NULL;

        /* BOM, CRLF, blanks around '=', indented keys, ';' inline comments, a repeated key. */
        assert_int_equal(load("\xEF\xBB\xBF[Sleep]\r\n"
                              "  OnDeepSleep = s2idle   ; keep them running\r\n"
                              "\tParallelStart=8\n"
                              "ParallelStart=9\n"
                              "ProtectedKinds=\n"
                              "[Manager]\n"
                              "MetricsTextfile=/run/tdsleep.prom\n"
                              "MetricsTextfile=\n"           /* a later empty one turns it off */
                              "KernelPolicy=exclusive", &c, &error), 0);
        assert_null(error);
        assert_int_equal(c.on_deep_sleep, SLEEP_ACTION_S2IDLE);
        assert_int_equal(c.parallel_start, 9);
        assert_int_equal(c.protected_kinds, 0);
        assert_int_equal(c.kernel_policy, KERNEL_POLICY_EXCLUSIVE);
        assert_null(c.metrics_textfile);
}

static void test_structure_errors(void **state) {
        expect_error("[Sleep]\n[Foo]\nX=1\n", CONF ":2: unknown section [Foo]");
        expect_error("[Sleep]\nShutdownTimeout=5\n", CONF ":2: unknown key ShutdownTimeout= in section [Sleep]");
        expect_error("[Manager]\nOnDeepSleep=stop\n", CONF ":2: unknown key OnDeepSleep= in section [Manager]");
        expect_error("[sleep]\n", CONF ":1: unknown section [sleep]");
        expect_error("\n\n[Sleep]\nForceOff\n", CONF ":4: expected KEY=VALUE, [SECTION] or a comment");
        expect_error("[Sleep]\nForceOff: yes\n", CONF ":2: expected KEY=VALUE, [SECTION] or a comment");
        expect_error("[Sleep\nForceOff=yes\n", CONF ":1: unterminated section header, expected [SECTION]");
        expect_error("[Sleep] x\n", CONF ":1: unexpected text after section header");
        expect_error("ForceOff=yes\n", CONF ":1: ForceOff= outside of any section");
}

#define METRICS_EXPECTED "expected an absolute file name without spaces, such as " \
        "/var/lib/prometheus/node-exporter/tdsleep.prom, or nothing"

static void test_value_errors(void **state) {
        expect_error("[Sleep]\n\n\n\n\n\nOnDeepSleep=sleep\n",
                     CONF ":7: OnDeepSleep=sleep: expected stop, s2idle or refuse");
        expect_error("[Sleep]\nForceOff=maybe\n",
                     CONF ":2: ForceOff=maybe: expected yes, no, true, false, 1, 0, on or off");
        expect_error("[Sleep]\nRestartAfterResume=\n",
                     CONF ":2: RestartAfterResume=: expected yes, no, true, false, 1, 0, on or off");
        expect_error("[CPU]\nOnlineCPUs=2\n",
                     CONF ":2: OnlineCPUs=2: expected yes, no, true, false, 1, 0, on or off");
        expect_error("[Manager]\nKernelPolicy=strict\n",
                     CONF ":2: KernelPolicy=strict: expected auto, exclusive, runtime or none");
        expect_error("[Manager]\nLibvirtURI=\n",
                     CONF ":2: LibvirtURI=: expected a libvirt URI without spaces, such as qemu:///system");
        expect_error("[Manager]\nLibvirtURI=qemu:///system # local\n",
                     CONF ":2: LibvirtURI=qemu:///system # local: expected a libvirt URI without spaces, "
                     "such as qemu:///system");
        expect_error("[Manager]\nSocketGroup=-wheel\n", CONF ":2: SocketGroup=-wheel: expected a group name");
        expect_error("[Manager]\nMetricsTextfile=tdsleep.prom\n",
                     CONF ":2: MetricsTextfile=tdsleep.prom: " METRICS_EXPECTED);
        expect_error("[Manager]\nMetricsTextfile=/var/lib/prom/\n",
                     CONF ":2: MetricsTextfile=/var/lib/prom/: " METRICS_EXPECTED);
        expect_error("[Manager]\nMetricsTextfile=/x.prom # off\n",
                     CONF ":2: MetricsTextfile=/x.prom # off: " METRICS_EXPECTED);
        expect_error("[Sleep]\nProtectedKinds=tdx sgx\n",
                     CONF ":2: ProtectedKinds=tdx sgx: expected a list of tdx, sev-snp and sev "
                     "(separated by spaces or commas), or nothing");
        expect_error("[Sleep]\nProtectedKinds=none\n",
                     CONF ":2: ProtectedKinds=none: expected a list of tdx, sev-snp and sev "
                     "(separated by spaces or commas), or nothing");
}

static void test_integer_errors(void **state) {
        static const char *const bad[] = { "-1", "4097", "12x", "1.5", "0x10", "99999999999999999999", "" };

        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                _cleanup_(freep) char *text = NULL, *message = NULL;

                assert_true(asprintf(&text, "[Sleep]\nParallelShutdown=%s\n", bad[i]) > 0);
                assert_true(asprintf(&message, CONF ":2: ParallelShutdown=%s: expected an integer from 0 to 4096",
                                     bad[i]) > 0);
                expect_error(text, message);
        }
}

static void test_time_spans(void **state) {
        static const struct {
                const char *text;
                uint64_t usec;  /* 0: must be rejected */
        } cases[] = {
                { "30", 30 * USEC_PER_SEC },
                { "1.5", 1500 * USEC_PER_MSEC },
                { "500ms", 500 * USEC_PER_MSEC },
                { "2s", 2 * USEC_PER_SEC },
                { "10sec", 10 * USEC_PER_SEC },
                { "1min", 60 * USEC_PER_SEC },
                { "60min", 3600 * USEC_PER_SEC },
                { "0", 0 },
                { "0ms", 0 },
                { "3601", 0 },
                { "2h", 0 },
                { "-5", 0 },
                { "5 minutes", 300 * USEC_PER_SEC },    /* systemd.time(7) spells it so too */
                { "5 fortnights", 0 },
                { "", 0 },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_(config_done) Config c = { .libvirt_uri = NULL };
                _cleanup_(freep) char *text = NULL, *error = NULL, *message = NULL;

                assert_true(asprintf(&text, "[Sleep]\nShutdownTimeoutSec=%s\n", cases[i].text) > 0);
                if (cases[i].usec > 0) {
                        assert_int_equal(load(text, &c, &error), 0);
                        assert_int_equal(c.shutdown_timeout_usec, cases[i].usec);
                        continue;
                }
                assert_true(asprintf(&message, CONF ":2: ShutdownTimeoutSec=%s: expected a time span > 0 and <= 1h, "
                                     "such as 90, 1.5, 500ms, 2s or 1min", cases[i].text) > 0);
                expect_error(text, message);
        }
}

static void test_long_line(void **state) {
        _cleanup_(freep) char *text = NULL;

        assert_true(asprintf(&text, "[Manager]\nLibvirtURI=qemu:///%0300d\n", 0) > 0);
        expect_error(text, CONF ":2: line too long (at most 198 characters)");
}

static void test_error_output_optional(void **state) {
        Config c;

        assert_int_equal(config_load_string("[Sleep]\nX=1\n", CONF, &c, NULL), -EINVAL);
}

/* ---- files and drop-ins */

static char *path_join(const char *a, const char *b) {
        char *p = NULL;

        assert_true(asprintf(&p, "%s/%s", a, b) > 0);
        return p;
}

static void test_dropins(void **state) {
        _cleanup_(freep) char *dir = make_scratch_dir(), *conf = NULL, *error = NULL;
        _cleanup_(config_done) Config c = { .libvirt_uri = NULL };

        assert_non_null(dir);
        conf = path_join(dir, "tdsleepd.conf");
        assert_int_equal(write_file(dir, "tdsleepd.conf", "[Sleep]\nParallelStart=1\nParallelShutdown=1\n"), 0);
        /* Written out of order: the load order is by name, later wins. */
        assert_int_equal(write_file(dir, "tdsleepd.conf.d/20-b.conf", "[Sleep]\nParallelStart=3\n"), 0);
        assert_int_equal(write_file(dir, "tdsleepd.conf.d/10-a.conf",
                                    "[Sleep]\nParallelStart=2\nForceOff=no\n"), 0);
        assert_int_equal(write_file(dir, "tdsleepd.conf.d/30-c.conf.disabled", "[Sleep]\nParallelStart=99\n"), 0);
        assert_int_equal(write_file(dir, "tdsleepd.conf.d/.hidden.conf", "[Sleep]\nParallelStart=98\n"), 0);
        assert_int_equal(write_file(dir, "tdsleepd.conf.d/dir.conf/x", ""), 0);

        assert_int_equal(config_load(conf, &c, &error), 0);
        assert_null(error);
        assert_int_equal(c.parallel_start, 3);
        assert_int_equal(c.parallel_shutdown, 1);
        assert_false(c.force_off);
        config_done(&c);

        /* Drop-ins apply without a main file too. */
        assert_int_equal(unlink(conf), 0);
        assert_int_equal(config_load(conf, &c, &error), 0);
        assert_int_equal(c.parallel_start, 3);
        assert_int_equal(c.parallel_shutdown, 0);
        rm_rf(dir);
}

static void test_dropin_error(void **state) {
        _cleanup_(freep) char *dir = make_scratch_dir(), *conf = NULL, *error = NULL, *expected = NULL;
        Config c = { .parallel_start = 555 };

        assert_non_null(dir);
        conf = path_join(dir, "tdsleepd.conf");
        assert_int_equal(write_file(dir, "tdsleepd.conf", "[Sleep]\nParallelStart=1\n"), 0);
        assert_int_equal(write_file(dir, "tdsleepd.conf.d/50-x.conf", "# x\n[CPU]\nOnlineCPUs=sometimes\n"), 0);
        assert_int_equal(config_load(conf, &c, &error), -EINVAL);
        assert_true(asprintf(&expected, "%s/tdsleepd.conf.d/50-x.conf:3: OnlineCPUs=sometimes: "
                             "expected yes, no, true, false, 1, 0, on or off", dir) > 0);
        assert_string_equal(error, expected);
        assert_int_equal(c.parallel_start, 555);
        rm_rf(dir);
}

static void test_file_errors(void **state) {
        _cleanup_(freep) char *dir = make_scratch_dir(), *conf = NULL, *error = NULL, *expected = NULL;
        Config c = { .parallel_start = 555 };
        int fd;

        assert_non_null(dir);
        conf = path_join(dir, "tdsleepd.conf");

        /* A NUL byte cannot come through config_load_string(): write it. */
        fd = open(conf, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, "[Sleep]\nForce\0Off=yes\n", 22), 22);
        close(fd);
        assert_int_equal(config_load(conf, &c, &error), -EINVAL);
        assert_true(asprintf(&expected, "%s:2: NUL byte in line", conf) > 0);
        assert_string_equal(error, expected);
        free(error), free(expected);
        error = expected = NULL;

        /* Not a file. */
        assert_int_equal(unlink(conf), 0);
        assert_int_equal(mkdir(conf, 0755), 0);
        assert_int_equal(config_load(conf, &c, &error), -EISDIR);
        assert_true(asprintf(&expected, "%s: Is a directory", conf) > 0);
        assert_string_equal(error, expected);
        assert_int_equal(c.parallel_start, 555);
        rm_rf(dir);
}

/* ROOT + one of the search path's directories + rel. */
static int write_in(const char *root, size_t dir, const char *rel, const char *text) {
        _cleanup_(freep) char *sub = NULL;

        assert_true(asprintf(&sub, "%s/%s", config_search_dirs[dir] + 1, rel) > 0);
        return write_file(root, sub, text);
}

static char *in(const char *root, size_t dir, const char *rel) {
        char *p;

        assert_true(asprintf(&p, "%s%s/%s", root, config_search_dirs[dir], rel) > 0);
        return p;
}

#define ETC 0
#define RUN 1
#define LOCAL 2
#define USR 3

/* systemd's rules, as systemd-analyze cat-config lists them: the first main file found
 * along /etc, /run, /usr/local/lib, /usr/lib; drop-ins of all four by name, the earliest
 * directory's for a name; a link to /dev/null masks. */
static void test_search_path(void **state) {
        _cleanup_(freep) char *root = make_scratch_dir(), *error = NULL, *masked = NULL, *dump = NULL;
        _cleanup_(config_done) Config c = { .libvirt_uri = NULL };
        ConfigOrigin *origins = NULL;
        char **files = NULL;
        size_t dump_size = 0;
        FILE *f;

        assert_non_null(root);
        /* Nothing there: no file, the defaults. */
        assert_int_equal(config_files_search(root, &files, &error), 0);
        assert_null(files[0]);
        assert_int_equal(config_load_files(files, &c, NULL, &error), 0);
        assert_defaults(&c);
        config_done(&c);
        strv_free(files);

        assert_int_equal(write_in(root, USR, "tdsleepd.conf", "[Sleep]\nParallelStart=7\nStartRetries=8\n"), 0);
        assert_int_equal(write_in(root, RUN, "tdsleepd.conf", "[Sleep]\nParallelStart=6\n"), 0);
        assert_int_equal(write_in(root, USR, "tdsleepd.conf.d/10-a.conf", "[Sleep]\nParallelShutdown=9\n"), 0);
        assert_int_equal(write_in(root, ETC, "tdsleepd.conf.d/10-a.conf", "# mine\n[Sleep]\nParallelShutdown=2\n"), 0);
        assert_int_equal(write_in(root, LOCAL, "tdsleepd.conf.d/05-b.conf", "[Sleep]\nParallelShutdown=1\n"
                                  "OnDeepSleep=refuse\n"), 0);
        assert_int_equal(write_in(root, USR, "tdsleepd.conf.d/20-c.conf", "[Sleep]\nForceOff=no\n"), 0);
        assert_int_equal(write_in(root, ETC, "tdsleepd.conf.d/x", ""), 0);
        masked = in(root, ETC, "tdsleepd.conf.d/20-c.conf");
        assert_int_equal(symlink("/dev/null", masked), 0);

        assert_int_equal(config_files_search(root, &files, &error), 0);
        {
                _cleanup_(freep) char *m = in(root, RUN, "tdsleepd.conf"), *b = in(root, LOCAL, "tdsleepd.conf.d/05-b.conf"),
                                     *a = in(root, ETC, "tdsleepd.conf.d/10-a.conf");
                const char *want[] = { m, b, a, masked, NULL };

                for (size_t i = 0; i < ELEMENTSOF(want); i++) {
                        print_message("file %zu: %s\n", i, strna(files[i]));
                        assert_true(want[i] ? files[i] && streq(files[i], want[i]) : !files[i]);
                }
        }
        assert_int_equal(config_load_files(files, &c, &origins, &error), 0);
        assert_int_equal(c.parallel_start, 6);          /* /run's main file, not /usr/lib's */
        assert_int_equal(c.start_retries, 5);           /* the shadowed main file is not read at all */
        assert_int_equal(c.parallel_shutdown, 2);       /* /etc's 10-a, after 05-b, not /usr/lib's 10-a */
        assert_int_equal(c.on_deep_sleep, SLEEP_ACTION_REFUSE);
        assert_true(c.force_off);                       /* 20-c masked */

        /* --cat-config: each setting with where it came from. */
        f = open_memstream(&dump, &dump_size);
        assert_non_null(f);
        assert_int_equal(config_dump(&c, origins, f), 0);
        assert_int_equal(fclose(f), 0);
        print_message("%s", dump);
        {
                _cleanup_(freep) char *l1 = NULL, *l2 = NULL;

                assert_true(asprintf(&l1, "\n# %s:3\nParallelShutdown=2\n", files[2]) > 0);
                assert_true(asprintf(&l2, "\n# %s:2\nParallelStart=6\n", files[0]) > 0);
                assert_non_null(strstr(dump, l1));
                assert_non_null(strstr(dump, l2));
                assert_non_null(strstr(dump, "\n# built-in default\nForceOff=yes\n"));
                assert_non_null(strstr(dump, "[Manager]\n# built-in default\nLibvirtURI=qemu:///system\n"));
        }
        config_origins_free(origins);
        strv_free(files);

        /* /etc's main file shadows the rest; a drop-in error names its file and line. */
        assert_int_equal(write_in(root, ETC, "tdsleepd.conf", "[Sleep]\n"), 0);
        assert_int_equal(write_in(root, RUN, "tdsleepd.conf.d/05-b.conf", "[Sleep]\nForceOff=maybe\n"), 0);
        assert_int_equal(config_files_search(root, &files, &error), 0);
        {
                _cleanup_(freep) char *m = in(root, ETC, "tdsleepd.conf");

                assert_string_equal(files[0], m);
        }
        config_done(&c);
        assert_int_equal(config_load_files(files, &c, NULL, &error), -EINVAL);
        {
                _cleanup_(freep) char *b = in(root, RUN, "tdsleepd.conf.d/05-b.conf"), *want = NULL;

                assert_true(asprintf(&want, "%s:2: ForceOff=maybe: expected yes, no, true, false, 1, 0, on or off",
                                     b) > 0);
                assert_string_equal(error, want);
        }
        strv_free(files);
        rm_rf(root);
}

/* A timeout in force prints back as what parses to the same value. */
static void test_dump_round_trip(void **state) {
        _cleanup_(config_done) Config c = { .libvirt_uri = NULL }, again = { .libvirt_uri = NULL };
        _cleanup_(freep) char *dump = NULL, *error = NULL;
        size_t size = 0;
        FILE *f;

        assert_int_equal(load("[Sleep]\nShutdownTimeoutSec=1.5\nProtectedKinds=sev,tdx\nForceOff=off\n", &c, &error), 0);
        f = open_memstream(&dump, &size);
        assert_int_equal(config_dump(&c, NULL, f), 0);
        assert_int_equal(fclose(f), 0);
        assert_non_null(strstr(dump, "\nShutdownTimeoutSec=1.500s\n"));
        assert_non_null(strstr(dump, "\nProtectedKinds=tdx sev\n"));
        assert_int_equal(load(dump, &again, &error), 0);
        assert_int_equal(again.shutdown_timeout_usec, 1500 * USEC_PER_MSEC);
        assert_int_equal(again.protected_kinds, c.protected_kinds);
        assert_false(again.force_off);
}

/* conf/tdsleepd.conf lists every key at its default: loaded as shipped, and with
 * every "#Key=" line uncommented, it must give the built-in defaults. */
static void test_shipped_config(void **state) {
        _cleanup_(freep) char *text = read_test_data("../../conf/tdsleepd.conf"), *error = NULL;
        _cleanup_(config_done) Config c = { .libvirt_uri = NULL };
        unsigned uncommented = 0;

        if (!text)
                skip();
        assert_int_equal(load(text, &c, &error), 0);
        assert_defaults(&c);
        config_done(&c);

        for (char *line = text; line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL)
                if (line[0] == '#' && (line[1] >= 'A' && line[1] <= 'Z') && strchr(line, '=') &&
                    strchr(line, '=') < strchrnul(line, '\n')) {
                        line[0] = ' ';
                        uncommented++;
                }
        assert_int_equal(uncommented, 13);
        assert_int_equal(load(text, &c, &error), 0);
        assert_null(error);
        assert_defaults(&c);
}

static void test_string_tables(void **state) {
        assert_string_equal(sleep_action_to_string(SLEEP_ACTION_S2IDLE), "s2idle");
        assert_int_equal(sleep_action_from_string("refuse"), SLEEP_ACTION_REFUSE);
        assert_int_equal(sleep_action_from_string("Stop"), _SLEEP_ACTION_INVALID);
        assert_null(sleep_action_to_string(_SLEEP_ACTION_MAX));
        assert_string_equal(kernel_policy_to_string(KERNEL_POLICY_NONE), "none");
        assert_int_equal(kernel_policy_from_string("exclusive"), KERNEL_POLICY_EXCLUSIVE);
        assert_string_equal(domain_kind_to_string(DOMAIN_KIND_SEV_SNP), "sev-snp");
        assert_int_equal(domain_kind_from_string("tdx"), DOMAIN_KIND_TDX);
        assert_int_equal(domain_kind_from_string(NULL), _DOMAIN_KIND_INVALID);
        assert_null(domain_kind_to_string(_DOMAIN_KIND_INVALID));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_defaults),
                cmocka_unit_test(test_every_key),
                cmocka_unit_test(test_syntax_tolerated),
                cmocka_unit_test(test_structure_errors),
                cmocka_unit_test(test_value_errors),
                cmocka_unit_test(test_integer_errors),
                cmocka_unit_test(test_time_spans),
                cmocka_unit_test(test_long_line),
                cmocka_unit_test(test_error_output_optional),
                cmocka_unit_test(test_dropins),
                cmocka_unit_test(test_dropin_error),
                cmocka_unit_test(test_file_errors),
                cmocka_unit_test(test_search_path),
                cmocka_unit_test(test_dump_round_trip),
                cmocka_unit_test(test_shipped_config),
                cmocka_unit_test(test_string_tables),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
