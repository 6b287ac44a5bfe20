/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* tdsleepctl log-level [LEVEL]: like systemd-analyze log-level, through tdsleepd's
 * io.systemd.service.SetLogLevel; without LEVEL, GetStatus's logLevel. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "client.h"
#include "json-util.h"
#include "output.h"
#include "tdsleepctl.h"
#include "varlink.h"

static const char *const level_names[] = {
        [LOG_EMERG] = "emerg", [LOG_ALERT] = "alert", [LOG_CRIT] = "crit", [LOG_ERR] = "err",
        [LOG_WARNING] = "warning", [LOG_NOTICE] = "notice", [LOG_INFO] = "info", [LOG_DEBUG] = "debug",
};

/* A syslog level name (as systemd spells them, "error" too) or number 0..7; -EINVAL otherwise. */
static int parse_level(const char *s, int *ret) {
        char *end = NULL;
        long l;

        for (int i = 0; i < (int) ELEMENTSOF(level_names); i++)
                if (streq(s, level_names[i])) {
                        *ret = i;
                        return 0;
                }
        if (streq(s, "error")) {
                *ret = LOG_ERR;
                return 0;
        }
        errno = 0;
        l = strtol(s, &end, 10);
        if (errno != 0 || end == s || *end != '\0' || l < LOG_EMERG || l > LOG_DEBUG)
                return -EINVAL;
        *ret = (int) l;
        return 0;
}

static int show_level(void) {
        _cleanup_(json_object_putp) json_object *reply = NULL;
        int64_t level;
        int r;

        r = client_call(arg_socket, verb_timeout(0), IFACE ".GetStatus", NULL, &reply);
        if (r < 0)
                return r;
        level = json_get_int(json_get_object(reply, "status"), "logLevel", -1);
        if (level < LOG_EMERG || level > LOG_DEBUG)
                return cli_error(-EPROTO, "tdsleepd did not say its log level.");
        if (arg_json) {
                _cleanup_(json_object_putp) json_object *o = json_object_new_object();

                json_object_object_add(o, "level", json_object_new_int((int) level));
                output_json(o);
        } else
                printf("%s\n", level_names[level]);
        return CTL_EXIT_DONE;
}

int verb_log_level(int argc, char *argv[]) {
        _cleanup_(json_object_putp) json_object *params = json_object_new_object(), *reply = NULL;
        int level, r;

        if (argc < 2)
                return show_level();
        if (parse_level(argv[1], &level) < 0)
                return cli_error(-EINVAL, "'%s' is not a log level: emerg, alert, crit, err, warning, notice, "
                                 "info, debug, or 0..7.", argv[1]);
        if (!params || json_object_object_add(params, "level", json_object_new_int(level)) < 0)
                return cli_error(-EPROTO, "Out of memory.");
        r = client_call(arg_socket, verb_timeout(0), "io.systemd.service.SetLogLevel", params, &reply);
        return r < 0 ? r : CTL_EXIT_DONE;
}
