/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The verb table: names, argument counts, which verb takes which option, which pages
 * its output, which takes an OPERATION (checked here, before tdsleepd is asked). */
#include <errno.h>

#include "output.h"
#include "pager.h"
#include "tdsleepctl.h"

typedef enum VerbFlags {
        VERB_PAGER     = 1 << 0,        /* long output: paged on a terminal, as systemctl status */
        VERB_OPERATION = 1 << 1,        /* argv[1] is an OPERATION */
        VERB_DRAIN     = 1 << 2,        /* ... or drain */
} VerbFlags;

typedef struct Verb {
        const char *name;
        unsigned min_args, max_args;    /* not counting the verb itself */
        VerbOption options;
        VerbFlags flags;
        int (*run)(int argc, char *argv[]);
} Verb;

static const Verb verbs[] = {
        { "status",  0, 0, 0,                   VERB_PAGER,                              verb_status  },
        { "list",    0, 0, 0,                   VERB_PAGER,                              verb_list    },
        { "plan",    1, 1, 0,                   VERB_PAGER | VERB_OPERATION | VERB_DRAIN, verb_plan   },
        { "metrics", 0, 0, 0,                   0,                                       verb_metrics },
        { "prepare", 1, 1, VERB_OPTION_STEP,    VERB_OPERATION,                          verb_prepare },
        { "resume",  0, 0, 0,                   0,                                       verb_resume  },
        { "drain",   0, 0, VERB_OPTION_TIMEOUT, 0,                                       verb_drain   },
        { "restore", 0, 0, 0,                   0,                                       verb_restore },
        { "hold",    1, 1, VERB_OPTION_FOR,     0,                                       verb_hold    },
        { "release", 0, 0, 0,                   0,                                       verb_release },
        { "monitor", 0, 0, 0,                   0,                                       verb_monitor },
        { "reload",  0, 0, 0,                   0,                                       verb_reload  },
        { "log-level", 0, 1, 0,                 0,                                       verb_log_level },
        { "hook",    2, 2, 0,                   0,                                       verb_hook    },
        { "history", 0, 0, VERB_OPTION_LINES | VERB_OPTION_SINCE | VERB_OPTION_DIRECTORY | VERB_OPTION_FILE,
          VERB_PAGER, verb_history },
};

static const struct {
        VerbOption option;
        const char *name;
} verb_options[] = {
        { VERB_OPTION_STEP,    "--step"    },
        { VERB_OPTION_TIMEOUT, "--timeout" },
        { VERB_OPTION_FOR,     "--for"     },
        { VERB_OPTION_LINES,   "-n/--lines" },
        { VERB_OPTION_SINCE,   "--since"   },
        { VERB_OPTION_DIRECTORY, "-D/--directory" },
        { VERB_OPTION_FILE,    "--file"    },
};

static const char *const operations[] = { "suspend", "hibernate", "hybrid-sleep", "suspend-then-hibernate" };

static const Verb *verb_find(const char *name) {
        for (size_t i = 0; i < ELEMENTSOF(verbs); i++)
                if (streq(verbs[i].name, name))
                        return &verbs[i];
        return NULL;
}

uint64_t verb_timeout(uint64_t def) {
        return arg_timeout_usec > 0 ? arg_timeout_usec : def;
}

/* A verb-only option given to another verb: name the verbs it is for. */
static int check_verb_options(const Verb *v) {
        for (size_t i = 0; i < ELEMENTSOF(verb_options); i++) {
                bool first = true;

                if (!(arg_verb_options & verb_options[i].option) || (v->options & verb_options[i].option))
                        continue;
                fprintf(stderr, "tdsleepctl: %s is only for", verb_options[i].name);
                for (size_t k = 0; k < ELEMENTSOF(verbs); k++)
                        if (verbs[k].options & verb_options[i].option) {
                                fprintf(stderr, "%s '%s'", first ? "" : " and", verbs[k].name);
                                first = false;
                        }
                fputs(", not for '", stderr);
                fputs(v->name, stderr);
                fputs("'. See tdsleepctl --help.\n", stderr);
                return -EINVAL;
        }
        return 0;
}

/* systemd's name ("hybrid-sleep") or the interface's enum spelling ("hybrid_sleep"):
 * tdsleepd takes both. */
static bool operation_is(const char *operation, const char *name) {
        for (; *operation && *name; operation++, name++)
                if (*operation != *name && !(*operation == '_' && *name == '-'))
                        return false;
        return *operation == *name;
}

static int check_operation(const Verb *v, const char *operation) {
        for (size_t i = 0; i < ELEMENTSOF(operations); i++)
                if (operation_is(operation, operations[i]))
                        return 0;
        if ((v->flags & VERB_DRAIN) && streq(operation, "drain"))
                return 0;
        return cli_error(-EINVAL, "Unknown operation '%s'. Valid operations: suspend, hibernate, hybrid-sleep, "
                         "suspend-then-hibernate%s.", operation, (v->flags & VERB_DRAIN) ? ", drain" : "");
}

int verb_dispatch(int argc, char *argv[]) {
        static char *status_argv[] = { (char *) "status", NULL };
        const Verb *v;
        int r;

        /* No verb: the status, as systemctl shows its list. */
        if (argc < 1) {
                argc = 1;
                argv = status_argv;
        }
        v = verb_find(argv[0]);
        if (!v)
                return cli_error(-EINVAL, "Unknown verb '%s'. See tdsleepctl --help.", argv[0]);
        if ((unsigned) argc - 1 < v->min_args)
                return cli_error(-EINVAL, "Too few arguments for '%s'. See tdsleepctl --help.", v->name);
        if ((unsigned) argc - 1 > v->max_args)
                return cli_error(-EINVAL, "Too many arguments for '%s'. See tdsleepctl --help.", v->name);
        r = check_verb_options(v);
        if (r >= 0 && (v->flags & VERB_OPERATION))
                r = check_operation(v, argv[1]);
        if (r < 0)
                return r;
        if ((v->flags & VERB_PAGER) && !arg_no_pager && !arg_quiet)
                (void) pager_open();
        r = v->run(argc, argv);
        pager_close();
        return r;
}
