/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The CLI's side of the control socket: failures reported once, mapped to four codes. */
#include <errno.h>
#include <string.h>

#include "client.h"
#include "json-util.h"
#include "output.h"
#include "varlink.h"

#define HINT_JOURNAL "See journalctl -u tdsleepd"

static int client_connect(const char *socket_path, uint64_t timeout_usec, Varlink **ret) {
        int r;

        r = varlink_connect_address(ret, socket_path);
        if (IN_SET(r, -EACCES, -EPERM))
                return cli_error(-EACCES, "Permission denied connecting to tdsleepd at %s. Run as root or join group "
                                 "tdsleep", socket_path);
        /* Whatever stops the connect (no socket, nobody listening, a full backlog, a bad
         * path) means the same to the operator and the sleep hook: tdsleepd is not there. */
        if (IN_SET(r, -ENOENT, -ECONNREFUSED))
                return cli_error(-EHOSTDOWN, "Cannot reach tdsleepd at %s: %s. Start it: systemctl start "
                                 "tdsleepd.socket", socket_path, STRERROR(r));
        if (r < 0)
                return cli_error(-EHOSTDOWN, "Cannot reach tdsleepd at %s: %s. Is --socket or $TDSLEEP_SOCKET right? "
                                 "Else: systemctl start tdsleepd.socket", socket_path, STRERROR(r));
        r = varlink_set_relative_timeout(*ret, timeout_usec);
        if (r < 0)
                return cli_error(-EPROTO, "Failed to set the timeout: %s", STRERROR(r));
        return 0;
}

/* A failed call or read (not an error reply). */
static int report_failure(const char *method, uint64_t timeout_usec, int r) {
        if (r == -ETIMEDOUT) {
                uint64_t t = timeout_usec > 0 ? timeout_usec : VARLINK_DEFAULT_TIMEOUT_USEC;

                return cli_error(-EHOSTDOWN, "tdsleepd did not answer %s within %g s. It may be busy or hung: "
                                 "see journalctl -u tdsleepd, or raise $TDSLEEP_TIMEOUT", method,
                                 (double) t / (double) USEC_PER_SEC);
        }
        if (IN_SET(r, -ECONNRESET, -EPIPE, -ENOTCONN))
                return cli_error(-EPROTO, "tdsleepd closed the connection during %s. It may have been restarted: "
                                 HINT_JOURNAL, method);
        return cli_error(-EPROTO, "Call to %s failed: %s. " HINT_JOURNAL, method, STRERROR(r));
}

/* Busy: what the phase means for the operator, and what to run. */
static const char *busy_hint(json_object *parameters) {
        const char *phase = json_get_string(parameters, "phase");

        if (phase && streq(phase, "ready"))
                return "Already drained or prepared for a sleep: run tdsleepctl restore (tdsleepctl resume after a "
                       "sleep)";
        return "A cycle is in progress: wait for it to end (tdsleepctl monitor shows it), then try again";
}

/* An errno from tdsleepd (io.systemd.System): the ones a caller can do something about. */
static const char *errno_hint(json_object *parameters) {
        const char *name = json_get_string(parameters, "errnoName");

        if (name && streq(name, "EBUSY"))
                return "Another hold is waiting for logind's answer: try again in a moment";
        if (name && streq(name, "ECANCELED"))
                return "A release withdrew this hold before logind granted it";
        return HINT_JOURNAL;
}

/* What to do about an error reply: the sentence that follows it. */
static const char *error_hint(const char *error_id, json_object *parameters) {
        static const struct {
                const char *id;
                const char *hint;
        } hints[] = {
                { IFACE ".LibvirtUnavailable",        "Is libvirtd running? systemctl start libvirtd; "
                                                      "tdsleepd connects again by itself" },
                { IFACE ".InvalidConfiguration",      "The old configuration stays in force: fix the file, then "
                                                      "tdsleepctl reload" },
                { IFACE ".Aborted",                   "The sleep was over before the host was ready: " HINT_JOURNAL },
                { IFACE ".LockRefused",               "Is systemd-logind running? Nothing changed: " HINT_JOURNAL },
                { VARLINK_ERROR_INVALID_PARAMETER,    "tdsleepd refused this value: see tdsleepctl --help" },
                { VARLINK_ERROR_METHOD_NOT_FOUND,     "This tdsleepd is older than tdsleepctl: restart it "
                                                      "(systemctl restart tdsleepd) once no cycle runs" },
                { VARLINK_ERROR_INTERFACE_NOT_FOUND,  "Is --socket tdsleepd's control socket?" },
        };

        if (streq(error_id, IFACE ".Busy"))
                return busy_hint(parameters);
        if (streq(error_id, VARLINK_ERROR_SYSTEM))
                return errno_hint(parameters);
        for (size_t i = 0; i < ELEMENTSOF(hints); i++)
                if (streq(error_id, hints[i].id))
                        return hints[i].hint;
        return HINT_JOURNAL;
}

/* "tdsleepctl: ERROR: key=value ... Hint" */
static int report_error_reply(const char *error_id, json_object *parameters) {
        _cleanup_(freep) char *text = json_short_text(parameters);

        if (streq(error_id, VARLINK_ERROR_PERMISSION_DENIED))
                return cli_error(-EACCES, "%s: this needs root; status, list, plan and monitor also work for "
                                 "members of the control socket's group (SocketGroup=, tdsleep by default).",
                                 error_id);
        cli_error(0, "%s%s%s. %s", strna(error_id), isempty(text) ? "" : ": ", strempty(text),
                  error_hint(strna(error_id), parameters));
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
