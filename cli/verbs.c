/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The verb table: names, argument counts, which verb takes which option. */
#include <errno.h>

#include "output.h"
#include "tdsleepctl.h"

typedef enum VerbOption {
        VERB_OPTION_STEP    = 1 << 0,
        VERB_OPTION_TIMEOUT = 1 << 1,
} VerbOption;

typedef struct Verb {
        const char *name;
        unsigned min_args, max_args;    /* not counting the verb itself */
        VerbOption options;
        int (*run)(int argc, char *argv[]);
} Verb;

static const Verb verbs[] = {
        { "status",  0, 0, 0,                   verb_status  },
        { "list",    0, 0, 0,                   verb_list    },
        { "plan",    1, 1, 0,                   verb_plan    },
        { "prepare", 1, 1, VERB_OPTION_STEP,    verb_prepare },
        { "resume",  0, 0, 0,                   verb_resume  },
        { "drain",   0, 0, VERB_OPTION_TIMEOUT, verb_drain   },
        { "restore", 0, 0, 0,                   verb_restore },
        { "hold",    1, 1, 0,                   verb_hold    },
        { "release", 0, 0, 0,                   verb_release },
        { "monitor", 0, 0, 0,                   verb_monitor },
        { "reload",  0, 0, 0,                   verb_reload  },
        { "log-level", 0, 1, 0,                 verb_log_level },
        { "hook",    2, 2, 0,                   verb_hook    },
};

static const Verb *verb_find(const char *name) {
        for (size_t i = 0; i < ELEMENTSOF(verbs); i++)
                if (streq(verbs[i].name, name))
                        return &verbs[i];
        return NULL;
}

uint64_t verb_timeout(uint64_t def) {
        return arg_timeout_usec > 0 ? arg_timeout_usec : def;
}

int verb_dispatch(int argc, char *argv[]) {
        const Verb *v;

        if (argc < 1)
                return cli_error(-EINVAL, "A verb is needed. See tdsleepctl --help.");
        v = verb_find(argv[0]);
        if (!v)
                return cli_error(-EINVAL, "Unknown verb '%s'. See tdsleepctl --help.", argv[0]);
        if ((unsigned) argc - 1 < v->min_args)
                return cli_error(-EINVAL, "Too few arguments for '%s'.", v->name);
        if ((unsigned) argc - 1 > v->max_args)
                return cli_error(-EINVAL, "Too many arguments for '%s'.", v->name);
        if (arg_step && !(v->options & VERB_OPTION_STEP))
                return cli_error(-EINVAL, "--step is only for 'prepare'.");
        if (arg_drain_timeout >= 0 && !(v->options & VERB_OPTION_TIMEOUT))
                return cli_error(-EINVAL, "--timeout is only for 'drain'.");
        return v->run(argc, argv);
}
