/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Varlink framing and message parsing: pure functions over bytes and json-c objects,
 * shared by the server and the client and fuzzed on their own. */

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>

#include "varlink.h"

/* A byte buffer: data[start..size) is unconsumed; scanned bytes of it hold no NUL. */
typedef struct VarlinkBuffer {
        char *data;
        size_t start, size, allocated, scanned;
} VarlinkBuffer;

typedef struct VarlinkCallInfo {
        const char *method;             /* borrowed from the message */
        json_object *parameters;        /* borrowed; never NULL (an empty object if absent) */
        VarlinkMethodFlags flags;
} VarlinkCallInfo;

typedef struct VarlinkReplyInfo {
        const char *error;              /* NULL unless an error reply */
        json_object *parameters;        /* borrowed; may be NULL */
        bool continues;
} VarlinkReplyInfo;

/* Free the buffer's memory. */
void varlink_buffer_done(VarlinkBuffer *b);
/* Bytes not yet consumed. */
size_t varlink_buffer_pending(const VarlinkBuffer *b);
/* Room for at least n more bytes at the end: returns where to write them, or NULL. */
char *varlink_buffer_reserve(VarlinkBuffer *b, size_t n);
/* Append n bytes. */
int varlink_buffer_append(VarlinkBuffer *b, const void *p, size_t n);
/* Drop n bytes from the front. */
void varlink_buffer_consume(VarlinkBuffer *b, size_t n);
/* Find the next NUL-terminated message: 1 with *ret (NUL-terminated, inside the buffer,
 * consume *ret_len + 1 when done), 0 if incomplete, -EMSGSIZE if it exceeds max bytes. */
int varlink_buffer_next(VarlinkBuffer *b, size_t max, const char **ret, size_t *ret_len);
/* Strict JSON (varlink-json-check.c): RFC 8259 grammar, finite numbers, no duplicate
 * keys, strings of valid UTF-8 without NUL, surrogates or noncharacters. 0 or -EBADMSG. */
int varlink_json_check(const char *text, size_t len);
/* Is name "interface.Method" as the Varlink spec defines both parts? */
bool varlink_method_name_is_valid(const char *name);
/* Parse one message's text (len bytes, no NUL inside) into a JSON object, after
 * varlink_json_check(). -EBADMSG. */
int varlink_message_parse(const char *text, size_t len, json_object **ret);
/* Validate a call: known keys only, a valid method name, "upgrade" (unsupported) false;
 * on -EBADMSG *ret_bad_field names the offending field ("message" if none). */
int varlink_call_parse(json_object *msg, VarlinkCallInfo *ret, const char **ret_bad_field);
/* Validate a reply. -EBADMSG. */
int varlink_reply_parse(json_object *msg, VarlinkReplyInfo *ret);
/* Build a call message. */
json_object *varlink_call_build(const char *method, json_object *parameters, VarlinkMethodFlags flags);
/* Build a reply (error_id NULL) or error message. */
json_object *varlink_reply_build(const char *error_id, json_object *parameters, bool continues);
/* Append msg's text and its terminating NUL to b. */
int varlink_buffer_append_message(VarlinkBuffer *b, json_object *msg);
