/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* io.systemd.service (IDL: io.systemd.service.varlink): Ping, Reload and SetLogLevel, as
 * systemd's services serve them, on tdsleepd's control socket. */
#include <syslog.h>

#include "log.h"
#include "manager-varlink-internal.h"
#include "manager.h"

int vl_service_ping(Varlink *link, json_object *params, VarlinkMethodFlags flags, void *userdata) {
        int r;

        r = method_begin(link, userdata, false, params, no_parameters, NULL);
        if (r < 0)
                return r;
        return varlink_reply(link, NULL);
}

int vl_service_set_log_level(Varlink *link, json_object *params, VarlinkMethodFlags flags, void *userdata) {
        static const VarlinkDispatchField table[] = {
                { "level", json_type_int, varlink_dispatch_int, 0, VARLINK_DISPATCH_MANDATORY },
                { NULL, json_type_null, NULL, 0, 0 },
        };
        int level = -1, old, r;

        r = method_begin(link, userdata, true, params, table, &level);
        if (r < 0)
                return r;
        /* LOG_PRI(): syslog's levels are 0..7; systemd refuses the rest the same way. */
        if (LOG_PRI(level) != level)
                return varlink_error_invalid_parameter(link, "level");
        old = log_get_max_level();
        /* Said at the more verbose of the two levels, so the journal keeps it when either
         * lets a notice through. */
        if (level > old)
                log_set_max_level(level);
        if (level != old)
                log_notice("SetLogLevel(%d) from the control socket: log level %d -> %d", level, old, level);
        log_set_max_level(level);
        return varlink_reply(link, NULL);
}
