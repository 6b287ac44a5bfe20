/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Talking to tdsleepd: connect, call, stream. Every failure is reported on stderr
 * here, once, and comes back as one of four codes that main() turns into the exit
 * status:
 *   -EHOSTDOWN  tdsleepd unreachable (no socket, refused, no answer in time)  -> 3
 *   -EACCES     permission denied (on connect, or a PermissionDenied reply)   -> 4
 *   -EBADR      any other error reply                                         -> 1
 *   -EPROTO     anything else (connection lost, bad reply, OOM)               -> 1 */

#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>

#define IFACE "io.tdsleep.Manager"

/* Called for each reply of a stream; continues is false for the last one. A negative
 * return ends the stream with that code (already reported by the callback). */
typedef int (*client_reply_t)(json_object *parameters, bool continues, void *userdata);

/* Call method on the socket (timeout_usec per reply; 0: the library default) and return
 * the reply's parameters in *ret (a new reference; {} when the reply had none). */
int client_call(const char *socket_path, uint64_t timeout_usec, const char *method,
                json_object *parameters, json_object **ret);
/* Call method with "more" and hand every reply to callback until the last one. */
int client_stream(const char *socket_path, uint64_t timeout_usec, const char *method,
                  json_object *parameters, client_reply_t callback, void *userdata);
