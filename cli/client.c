/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The CLI's side of the control socket: failures reported once, mapped to four codes. */
#include <errno.h>
#include <string.h>

#include "client.h"
#include "output.h"
#include "varlink.h"

static int client_connect(const char *socket_path, uint64_t timeout_usec, Varlink **ret) {
        int r;

        r = varlink_connect_address(ret, socket_path);
        if (IN_SET(r, -EACCES, -EPERM))
                return cli_error(-EACCES, "Permission denied connecting to tdsleepd at %s.", socket_path);
        /* Whatever stops the connect (no socket, nobody listening, a full backlog, a bad
         * path) means the same to the operator and the sleep hook: tdsleepd is not there. */
        if (r < 0)
                return cli_error(-EHOSTDOWN, "Cannot reach tdsleepd at %s: %s", socket_path, STRERROR(r));
        r = varlink_set_relative_timeout(*ret, timeout_usec);
        if (r < 0)
                return cli_error(-EPROTO, "Failed to set the timeout: %s", STRERROR(r));
        return 0;
}

/* A failed call or read (not an error reply). */
static int report_failure(const char *method, uint64_t timeout_usec, int r) {
        if (r == -ETIMEDOUT) {
                uint64_t t = timeout_usec > 0 ? timeout_usec : VARLINK_DEFAULT_TIMEOUT_USEC;

                return cli_error(-EHOSTDOWN, "tdsleepd did not answer %s within %g s.", method,
                                 (double) t / (double) USEC_PER_SEC);
        }
        if (IN_SET(r, -ECONNRESET, -EPIPE, -ENOTCONN))
                return cli_error(-EPROTO, "tdsleepd closed the connection during %s.", method);
        return cli_error(-EPROTO, "Call to %s failed: %s", method, STRERROR(r));
}

/* "tdsleepctl: ERROR: key=value ..." */
static int report_error_reply(const char *error_id, json_object *parameters) {
        _cleanup_(freep) char *text = json_short_text(parameters);

        if (streq(error_id, VARLINK_ERROR_PERMISSION_DENIED))
                return cli_error(-EACCES, "%s: this needs root; status, list, plan and monitor also work for "
                                 "members of the control socket's group (SocketGroup=, tdsleep by default).",
                                 error_id);
        cli_error(0, "%s%s%s", strna(error_id), isempty(text) ? "" : ": ", strempty(text));
        return -EBADR;
}

int client_call(const char *socket_path, uint64_t timeout_usec, const char *method,
                json_object *parameters, json_object **ret) {
        _cleanup_(varlink_unrefp) Varlink *link = NULL;
        json_object *reply = NULL;
        const char *error_id = NULL;
        int r;

        r = client_connect(socket_path, timeout_usec, &link);
        if (r < 0)
                return r;
        r = varlink_call(link, method, parameters, &reply, &error_id);
        if (r < 0)
                return report_failure(method, timeout_usec, r);
        if (error_id)
                return report_error_reply(error_id, reply);
        /* The reply belongs to the link: take a reference that outlives it. */
        *ret = reply ? json_object_get(reply) : json_object_new_object();
        return *ret ? 0 : cli_error(-EPROTO, "Out of memory.");
}

int client_stream(const char *socket_path, uint64_t timeout_usec, const char *method,
                  json_object *parameters, client_reply_t callback, void *userdata) {
        _cleanup_(varlink_unrefp) Varlink *link = NULL;
        bool continues = true;
        int r;

        r = client_connect(socket_path, timeout_usec, &link);
        if (r < 0)
                return r;
        r = varlink_observe(link, method, parameters);
        if (r < 0)
                return report_failure(method, timeout_usec, r);
        while (continues) {
                json_object *reply = NULL;
                const char *error_id = NULL;

                r = varlink_next(link, &reply, &error_id, &continues);
                if (r < 0)
                        return report_failure(method, timeout_usec, r);
                if (error_id)
                        return report_error_reply(error_id, reply);
                r = callback(reply, continues, userdata);
                if (r < 0)
                        return r;
        }
        return 0;
}
