/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Varlink (https://varlink.org) on json-c: a server on sd-event and a synchronous client.
 *
 * Named like systemd's sd-varlink (libsystemd >= 257) with the prefix varlink_ instead of
 * sd_varlink_, so a port is mechanical: Varlink = sd_varlink, VarlinkServer =
 * sd_varlink_server, json_object = sd_json_variant, VarlinkDispatchField =
 * sd_json_dispatch_field. Differences are noted at the function.
 *
 * Conventions: functions return negative errno on failure. JSON parameters passed in are
 * borrowed (the caller keeps its reference); JSON handed out (method parameters, client
 * replies) is owned by the link and valid until the callback returns / the next call.
 *
 * Server semantics:
 *  - Calls on one connection are handled strictly in order. While a call is pending (an
 *    asynchronous reply, or a "more" stream), later pipelined calls stay unread in the
 *    socket (the input buffer holds at most one complete message), so a subscriber's
 *    connection serves only its stream, like sd-varlink.
 *  - Method callbacks get the link's userdata, which is the server's userdata (as with
 *    SD_VARLINK_SERVER_INHERIT_USERDATA) unless varlink_set_userdata() changed it.
 *  - A callback either replies (varlink_reply/varlink_error) before returning, or returns
 *    >= 0 without replying and replies later (keep a varlink_ref()). If it returns < 0
 *    without having replied, the error is sent as varlink_error_errno().
 *  - A method that cannot stream, called with more=true, simply replies once (valid per
 *    the spec). A method that needs more checks VARLINK_METHOD_MORE itself and answers
 *    VARLINK_ERROR_EXPECTED_MORE, as systemd's methods do.
 *  - Oneway calls run the callback; whatever it replies is dropped. A callback must not
 *    keep the link of a oneway call to reply later: once it returns, a later reply
 *    would answer whatever the connection calls next.
 *  - Protocol violations (not strict JSON as varlink_json_check() defines it, not an
 *    object, "method" missing, not a string or not a valid interface.Method name,
 *    "parameters" not an object, "more"/"oneway" not booleans or both set, "upgrade"
 *    true, a key the spec does not define, a message over the size limit) get
 *    org.varlink.service.InvalidParameter naming the field ("message" for the whole
 *    message), then the connection is closed.
 *  - Bounds (setters below): message size, bytes queued for output per connection
 *    (exceeded: the connection is dropped), and admission:
 *      - connections_max in all; the last connections_reserved of them only for uid 0, so
 *        that root (the sleep hook, root's tdsleepctl) always gets in;
 *      - at most connections_per_uid_max for each other uid;
 *      - a connection that sends no complete call within the idle timeout (counted from
 *        connect() or from the end of its last call) is closed; a call in progress, such
 *        as a "more" stream, is not idle.
 *    A connection over a limit is accepted and closed at once. Connections of uid 0 are
 *    served at a higher sd-event priority than the others, so a busy unprivileged
 *    connection never delays root's calls by more than the call being run. */

#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <systemd/sd-event.h>

#include "macros.h"

typedef struct Varlink Varlink;
typedef struct VarlinkServer VarlinkServer;

#define VARLINK_ERROR_INTERFACE_NOT_FOUND      "org.varlink.service.InterfaceNotFound"
#define VARLINK_ERROR_METHOD_NOT_FOUND         "org.varlink.service.MethodNotFound"
#define VARLINK_ERROR_METHOD_NOT_IMPLEMENTED   "org.varlink.service.MethodNotImplemented"
#define VARLINK_ERROR_INVALID_PARAMETER        "org.varlink.service.InvalidParameter"
#define VARLINK_ERROR_PERMISSION_DENIED        "org.varlink.service.PermissionDenied"
#define VARLINK_ERROR_EXPECTED_MORE            "org.varlink.service.ExpectedMore"
/* Same name as sd-varlink's errno errors, so the wire does not change in a port. */
#define VARLINK_ERROR_SYSTEM                   "io.systemd.System"

#define VARLINK_DEFAULT_MESSAGE_MAX        (64U * 1024U)            /* server input */
#define VARLINK_DEFAULT_CLIENT_MESSAGE_MAX (16U * 1024U * 1024U)    /* client input */
#define VARLINK_DEFAULT_OUTPUT_MAX         (2U * 1024U * 1024U)
#define VARLINK_DEFAULT_CONNECTIONS_MAX    1280U
#define VARLINK_DEFAULT_CONNECTIONS_RESERVED 256U                   /* of those, for root only */
#define VARLINK_DEFAULT_CONNECTIONS_PER_UID_MAX 16U                 /* each uid but root */
#define VARLINK_DEFAULT_IDLE_TIMEOUT_USEC  (5 * USEC_PER_SEC)
#define VARLINK_DEFAULT_TIMEOUT_USEC       (45 * USEC_PER_SEC)
#define VARLINK_TIMEOUT_INFINITY           UINT64_MAX

typedef enum VarlinkMethodFlags {
        VARLINK_METHOD_ONEWAY = 1 << 0,
        VARLINK_METHOD_MORE   = 1 << 1,
} VarlinkMethodFlags;

typedef enum VarlinkServerFlags {
        VARLINK_SERVER_INHERIT_USERDATA = 1 << 0,   /* always on here; accepted for the port */
} VarlinkServerFlags;

typedef int (*varlink_method_t)(Varlink *link, json_object *parameters, VarlinkMethodFlags flags, void *userdata);
typedef void (*varlink_disconnect_t)(VarlinkServer *server, Varlink *link, void *userdata);

/* ---- server ---- */

/* Create a server; flags is a VarlinkServerFlags mask. */
int varlink_server_new(VarlinkServer **ret, VarlinkServerFlags flags);
/* Take / drop a reference; the last unref closes every connection (disconnect callbacks run). */
VarlinkServer *varlink_server_ref(VarlinkServer *s);
VarlinkServer *varlink_server_unref(VarlinkServer *s);
DEFINE_TRIVIAL_CLEANUP_FUNC(VarlinkServer *, varlink_server_unref)
/* Vendor, product, version and url reported by org.varlink.service.GetInfo. */
int varlink_server_set_info(VarlinkServer *s, const char *vendor, const char *product, const char *version, const char *url);
/* Serve IDL text for interface name through GetInterfaceDescription (differs from
 * sd-varlink, which takes a compiled sd_varlink_interface). */
int varlink_server_add_interface(VarlinkServer *s, const char *name, const char *idl);
/* Route calls of the fully qualified method ("io.tdsleep.Manager.GetStatus") to callback. */
int varlink_server_bind_method(VarlinkServer *s, const char *method, varlink_method_t callback);
/* Called once per connection when it goes away (peer closed, dropped, or server freed). */
int varlink_server_bind_disconnect(VarlinkServer *s, varlink_disconnect_t callback);
/* The server's userdata, inherited by each new connection. */
void *varlink_server_set_userdata(VarlinkServer *s, void *userdata);
void *varlink_server_get_userdata(VarlinkServer *s);
/* Run the server on event (NULL: the default loop) at the given source priority. */
int varlink_server_attach_event(VarlinkServer *s, sd_event *event, int64_t priority);
int varlink_server_detach_event(VarlinkServer *s);
/* Accept connections on a listening socket (e.g. from sd_listen_fds); takes the fd. */
int varlink_server_listen_fd(VarlinkServer *s, int fd);
/* Bind and listen on an AF_UNIX path ("@name" = abstract), replacing a stale socket;
 * the socket gets mode (e.g. 0660). */
int varlink_server_listen_address(VarlinkServer *s, const char *address, mode_t mode);
/* Serve an already connected socket (takes the fd); ret may be NULL. */
int varlink_server_add_connection(VarlinkServer *s, int fd, Varlink **ret);
/* Bounds; 0 restores the default. */
int varlink_server_set_connections_max(VarlinkServer *s, unsigned m);
/* Slots of connections_max only uid 0 may use (sd-varlink has none; it may be 0 here). */
int varlink_server_set_connections_reserved(VarlinkServer *s, unsigned m);
int varlink_server_set_connections_per_uid_max(VarlinkServer *s, unsigned m);
int varlink_server_set_message_max(VarlinkServer *s, size_t m);
int varlink_server_set_output_max(VarlinkServer *s, size_t m);
int varlink_server_set_idle_timeout(VarlinkServer *s, uint64_t usec);
/* Every connection is a file descriptor: if RLIMIT_NOFILE cannot hold connections_max of
 * them (plus 128 for the rest of the process), accept() would fail for root too. Raise
 * the soft limit, or else shrink connections_max to fit, a fifth of it reserved for root.
 * Returns 0, or the new connections_max (for the caller to say so). */
unsigned varlink_server_fit_rlimit(VarlinkServer *s);
/* Number of open connections. */
unsigned varlink_server_current_connections(VarlinkServer *s);

/* ---- a connection, server or client side ---- */

Varlink *varlink_ref(Varlink *v);
Varlink *varlink_unref(Varlink *v);
DEFINE_TRIVIAL_CLEANUP_FUNC(Varlink *, varlink_unref)
/* Close the connection now (server side: disconnect callback runs). */
int varlink_close(Varlink *v);
/* Flush pending output (client side, blocking up to the timeout), close, unref; NULL. */
Varlink *varlink_flush_close_unref(Varlink *v);
DEFINE_TRIVIAL_CLEANUP_FUNC(Varlink *, varlink_flush_close_unref)
/* Per-connection userdata. */
void *varlink_set_userdata(Varlink *v, void *userdata);
void *varlink_get_userdata(Varlink *v);
/* The server a connection belongs to, NULL for clients and once disconnected. */
VarlinkServer *varlink_get_server(Varlink *v);
/* The peer's credentials from SO_PEERCRED, taken when the connection was made. */
int varlink_get_peer_uid(Varlink *v, uid_t *ret);
int varlink_get_peer_gid(Varlink *v, gid_t *ret);
int varlink_get_peer_pid(Varlink *v, pid_t *ret);
/* Is the peer in group g, as its primary group (SO_PEERCRED) or a supplementary one
 * (SO_PEERGROUPS), as the kernel recorded them when it connected? (sd-varlink has no
 * equivalent; it offers sd_varlink_get_peer_gid() only.) */
bool varlink_peer_in_group(Varlink *v, gid_t g);
/* True while the connection is open. */
bool varlink_is_connected(Varlink *v);

/* ---- replying (server side) ---- */

/* Final reply to the current call; parameters may be NULL ({}). */
int varlink_reply(Varlink *v, json_object *parameters);
/* An intermediate reply ("continues": true) to a call made with more. -EBUSY otherwise. */
int varlink_notify(Varlink *v, json_object *parameters);
/* Final error reply error_id with parameters (NULL: {}). */
int varlink_error(Varlink *v, const char *error_id, json_object *parameters);
/* org.varlink.service.InvalidParameter {"parameter": name} (sd-varlink:
 * sd_varlink_error_invalid_parameter_name). Returns -EINVAL after sending. */
int varlink_error_invalid_parameter(Varlink *v, const char *name);
/* VARLINK_ERROR_SYSTEM {"errno": N, "errnoName": "E..."}; returns error (negative). */
int varlink_error_errno(Varlink *v, int error);
/* The method the current call asked for, NULL when idle. */
const char *varlink_get_current_method(Varlink *v);

/* ---- client ---- */

/* Connect to an AF_UNIX path ("unix:" prefix and "@abstract" accepted). */
int varlink_connect_address(Varlink **ret, const char *address);
/* Use an already connected socket (takes the fd). */
int varlink_connect_fd(Varlink **ret, int fd);
/* Timeout for each reply (and for connecting/writing); 0 = default, VARLINK_TIMEOUT_INFINITY. */
int varlink_set_relative_timeout(Varlink *v, uint64_t usec);
/* Limit on one incoming message (client default 16 MiB). */
int varlink_set_input_max(Varlink *v, size_t m);
/* Call method and wait for the reply. On an error reply *ret_error_id is set (returns 0),
 * or, when ret_error_id is NULL, -EBADR. *ret_parameters (error parameters on error) and
 * *ret_error_id stay valid until the next call on v. -ETIMEDOUT closes the connection. */
int varlink_call(Varlink *v, const char *method, json_object *parameters,
                 json_object **ret_parameters, const char **ret_error_id);
/* Start a streaming call ("more": true); read its replies with varlink_next(). */
int varlink_observe(Varlink *v, const char *method, json_object *parameters);
/* The next reply of an observed call; *ret_continues false (or an error) ends the stream.
 * Returned objects are valid until the next call on v. */
int varlink_next(Varlink *v, json_object **ret_parameters, const char **ret_error_id, bool *ret_continues);
/* A oneway call: sent (and flushed), no reply. */
int varlink_send(Varlink *v, const char *method, json_object *parameters);

/* ---- parameter dispatch (like sd_json_dispatch) ---- */

typedef enum VarlinkDispatchFlags {
        VARLINK_DISPATCH_MANDATORY = 1 << 0,   /* missing -> InvalidParameter */
        VARLINK_DISPATCH_NULLABLE  = 1 << 1,   /* JSON null allowed; it leaves dest untouched */
} VarlinkDispatchFlags;

/* Store v (already type-checked) at dest; return < 0 to reject the value. */
typedef int (*varlink_dispatch_t)(const char *name, json_object *v, void *dest);

typedef struct VarlinkDispatchField {
        const char *name;
        json_type type;                 /* json_type_null = any type; double also takes int */
        varlink_dispatch_t callback;    /* NULL: check the type only */
        size_t offset;                  /* added to userdata to get dest */
        VarlinkDispatchFlags flags;
} VarlinkDispatchField;

/* Check params (NULL = {}) against table (ended by a NULL name) and store the fields.
 * Unknown fields, wrong types, missing mandatory fields -> -EINVAL and *ret_bad_field. */
int varlink_json_dispatch(json_object *params, const VarlinkDispatchField table[], void *userdata,
                          const char **ret_bad_field);
/* The same, replying InvalidParameter on v on failure (then returns < 0: return it). */
int varlink_dispatch(Varlink *v, json_object *params, const VarlinkDispatchField table[], void *userdata);

int varlink_dispatch_bool(const char *name, json_object *v, void *dest);          /* bool */
int varlink_dispatch_int(const char *name, json_object *v, void *dest);           /* int */
int varlink_dispatch_int64(const char *name, json_object *v, void *dest);         /* int64_t */
int varlink_dispatch_uint32(const char *name, json_object *v, void *dest);        /* uint32_t */
int varlink_dispatch_uint64(const char *name, json_object *v, void *dest);        /* uint64_t */
int varlink_dispatch_double(const char *name, json_object *v, void *dest);        /* double */
int varlink_dispatch_string(const char *name, json_object *v, void *dest);        /* char *, strdup'd */
int varlink_dispatch_const_string(const char *name, json_object *v, void *dest);  /* const char *, borrowed */
int varlink_dispatch_object(const char *name, json_object *v, void *dest);        /* json_object *, borrowed */

/* json-c cleanup helper (defined here once; do not redefine it where varlink.h is included). */
#ifndef JSON_OBJECT_PUTP_DEFINED
#define JSON_OBJECT_PUTP_DEFINED
DEFINE_TRIVIAL_CLEANUP_FUNC(json_object *, json_object_put)
#endif
