/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "build-config.h"
#include "config-files.h"
#include "log.h"
#include "manager.h"

static void help(void) {
        printf("Usage: tdsleepd [OPTIONS...]\n\n"
               "Keep Intel TDX trust domains safe across host sleep.\n\n"
               "  -h --help              Show this help\n"
               "     --version           Show the version\n"
               "     --config=PATH       Read only PATH and PATH.d/*.conf, not the search path\n"
               "     --config-root=DIR   Search the config below DIR (for tests and images)\n"
               "     --cat-config        Print the settings in force and where each came from\n"
               "     --state-dir=DIR     Durable state (default %s)\n"
               "                         ($STATE_DIRECTORY, set by systemd, wins over the default)\n"
               "     --sysfs-root=DIR    Read sysfs and procfs below DIR (default /)\n"
               "     --libvirt-uri=URI   libvirt connection (overrides LibvirtURI=)\n"
               "     --socket=PATH       Control socket (default %s)\n"
               "\nThe config: %s, /run/tdsleep, /usr/local/lib/tdsleep, /usr/lib/tdsleep: the first\n"
               "tdsleepd.conf found, then tdsleepd.conf.d/*.conf of all four by name (the first\n"
               "directory's for a name in several).\n"
               "\nSee tdsleepd(8) and tdsleepd.conf(5).\n",
               TDSLEEP_STATE_DIR, TDSLEEP_SOCKET_PATH, TDSLEEP_CONFIG_DIR);
}

enum {
        ARG_VERSION = 0x100,
        ARG_CONFIG,
        ARG_CONFIG_ROOT,
        ARG_CAT_CONFIG,
        ARG_STATE_DIR,
        ARG_SYSFS_ROOT,
        ARG_LIBVIRT_URI,
        ARG_SOCKET,
};

static bool arg_cat_config = false;

static int set_string(char **field, const char *value) {
        char *copy = strdup(value);

        if (!copy)
                return -ENOMEM;
        free(*field);
        *field = copy;
        return 0;
}

/* Returns 1 to go on, 0 to exit successfully (--help), negative on a usage error. */
static int parse_argv(Manager *m, int argc, char *argv[]) {
        static const struct option options[] = {
                { "help",        no_argument,       NULL, 'h'             },
                { "version",     no_argument,       NULL, ARG_VERSION     },
                { "config",      required_argument, NULL, ARG_CONFIG      },
                { "config-root", required_argument, NULL, ARG_CONFIG_ROOT },
                { "cat-config",  no_argument,       NULL, ARG_CAT_CONFIG  },
                { "state-dir",   required_argument, NULL, ARG_STATE_DIR   },
                { "sysfs-root",  required_argument, NULL, ARG_SYSFS_ROOT  },
                { "libvirt-uri", required_argument, NULL, ARG_LIBVIRT_URI },
                { "socket",      required_argument, NULL, ARG_SOCKET      },
                { NULL, 0, NULL, 0 }
        };
        int c, r = 0;

        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0) {
                switch (c) {
                case 'h':
                        help();
                        return 0;
                case ARG_VERSION:
                        printf("tdsleepd %s\n", PACKAGE_VERSION);
                        return 0;
                case ARG_CONFIG:
                        r = set_string(&m->config_path, optarg);
                        break;
                case ARG_CONFIG_ROOT:
                        r = set_string(&m->config_root, optarg);
                        break;
                case ARG_CAT_CONFIG:
                        arg_cat_config = true;
                        break;
                case ARG_STATE_DIR:
                        r = set_string(&m->state_dir, optarg);
                        break;
                case ARG_SYSFS_ROOT:
                        r = set_string(&m->sysfs_root, optarg);
                        break;
                case ARG_LIBVIRT_URI:
                        r = set_string(&m->libvirt_uri, optarg);
                        break;
                case ARG_SOCKET:
                        r = set_string(&m->socket_path, optarg);
                        break;
                default:
                        return -EINVAL;
                }
                if (r < 0)
                        return r;
        }
        if (optind < argc) {
                fprintf(stderr, "tdsleepd takes no positional arguments.\n");
                return -EINVAL;
        }
        if (m->config_path && m->config_root) {
                fprintf(stderr, "--config and --config-root exclude each other.\n");
                return -EINVAL;
        }
        return 1;
}

/* systemd's StateDirectory= says where our state lives ($STATE_DIRECTORY, the first
 * entry if several); without it, the built-in default. */
static int default_state_dir(Manager *m) {
        const char *env = getenv("STATE_DIRECTORY");
        _cleanup_(freep) char *first = env ? strndup(env, strcspn(env, ":")) : NULL;

        if (!isempty(first))
                return set_string(&m->state_dir, first);
        return set_string(&m->state_dir, TDSLEEP_STATE_DIR);
}

static int set_defaults(Manager *m) {
        if (!m->state_dir && default_state_dir(m) < 0)
                return -ENOMEM;
        if (!m->sysfs_root && set_string(&m->sysfs_root, "/") < 0)
                return -ENOMEM;
        if (!m->socket_path && set_string(&m->socket_path, TDSLEEP_SOCKET_PATH) < 0)
                return -ENOMEM;
        return 0;
}

/* --cat-config: the files read, then every setting in force with where it came from. */
static int cat_config(const Manager *m) {
        _cleanup_(freep) char *error = NULL;
        ConfigOrigin *origins = NULL;
        char **files = NULL;
        Config c;
        int r;

        r = m->config_path ? config_files_explicit(m->config_path, &files, &error) :
                config_files_search(m->config_root, &files, &error);
        if (r >= 0)
                r = manager_read_config(m, &c, &origins, &error);
        if (r < 0) {
                strv_free(files);
                return log_error_errno(r, "%s", error ? error : "Failed to load the configuration");
        }
        bool any = false;
        for (char **f = files; *f; f++)
                if (access(*f, F_OK) >= 0) {
                        printf("# %s\n", *f);
                        any = true;
                }
        printf("%s\n", any ? "" : "# no configuration file: every setting is the built-in default");
        r = config_dump(&c, origins, stdout);
        config_origins_free(origins);
        config_done(&c);
        strv_free(files);
        return r < 0 ? log_error_errno(r, "Failed to print the configuration: %s", STRERROR(r)) : 0;
}

int main(int argc, char *argv[]) {
        _cleanup_(manager_freep) Manager *m = NULL;
        int r;

        log_open("tdsleepd");
        r = manager_new(&m);
        if (r < 0) {
                log_error("Out of memory");
                return EXIT_FAILURE;
        }
        /* A bad option is a failed start, exit status 1, as for every systemd daemon (and
         * tdsleepd(8)); tdsleepctl's 2 for usage errors is a client's convention. */
        r = parse_argv(m, argc, argv);
        if (r <= 0)
                return r == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
        if (set_defaults(m) < 0) {
                log_error("Out of memory");
                return EXIT_FAILURE;
        }
        if (arg_cat_config)
                return cat_config(m) < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
        if (manager_load_config(m) < 0)
                return EXIT_FAILURE;
        if (manager_start(m) < 0)
                return EXIT_FAILURE;
        r = manager_run(m);
        return r < 0 ? EXIT_FAILURE : r;
}
