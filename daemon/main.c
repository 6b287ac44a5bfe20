/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "build-config.h"
#include "log.h"
#include "manager.h"

static void help(void) {
        printf("Usage: tdsleepd [OPTIONS...]\n\n"
               "Keep Intel TDX trust domains safe across host sleep.\n\n"
               "  -h --help              Show this help\n"
               "     --version           Show the version\n"
               "     --config=PATH       Config file (default %s, plus PATH.d/*.conf)\n"
               "     --state-dir=DIR     Durable state (default %s)\n"
               "                         ($STATE_DIRECTORY, set by systemd, wins over the default)\n"
               "     --sysfs-root=DIR    Read sysfs and procfs below DIR (default /)\n"
               "     --libvirt-uri=URI   libvirt connection (overrides LibvirtURI=)\n"
               "     --socket=PATH       Control socket (default %s)\n"
               "\nSee tdsleepd(8) and tdsleepd.conf(5).\n",
               TDSLEEP_CONFIG_FILE, TDSLEEP_STATE_DIR, TDSLEEP_SOCKET_PATH);
}

enum {
        ARG_VERSION = 0x100,
        ARG_CONFIG,
        ARG_STATE_DIR,
        ARG_SYSFS_ROOT,
        ARG_LIBVIRT_URI,
        ARG_SOCKET,
};

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
        if (!m->config_path && set_string(&m->config_path, TDSLEEP_CONFIG_FILE) < 0)
                return -ENOMEM;
        if (!m->state_dir && default_state_dir(m) < 0)
                return -ENOMEM;
        if (!m->sysfs_root && set_string(&m->sysfs_root, "/") < 0)
                return -ENOMEM;
        if (!m->socket_path && set_string(&m->socket_path, TDSLEEP_SOCKET_PATH) < 0)
                return -ENOMEM;
        return 0;
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
        r = parse_argv(m, argc, argv);
        if (r <= 0)
                return r == 0 ? EXIT_SUCCESS : 2;
        if (set_defaults(m) < 0) {
                log_error("Out of memory");
                return EXIT_FAILURE;
        }
        if (manager_load_config(m) < 0)
                return EXIT_FAILURE;
        if (manager_start(m) < 0)
                return EXIT_FAILURE;
        r = manager_run(m);
        return r < 0 ? EXIT_FAILURE : r;
}
