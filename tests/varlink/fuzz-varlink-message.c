/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libFuzzer: Varlink framing and parsing of an arbitrary byte stream. The first byte picks
 * the chunk size the stream is fed in, so message boundaries fall everywhere. */
#include <stddef.h>
#include <stdint.h>

#include "varlink-message.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void handle(const char *text, size_t len) {
        _cleanup_(json_object_putp) json_object *msg = NULL, *copy = NULL;
        VarlinkBuffer out = { .data = NULL };
        VarlinkCallInfo call;
        VarlinkReplyInfo reply;
        const char *bad;

        if (varlink_message_parse(text, len, &msg) < 0)
                return;
        if (varlink_call_parse(msg, &call, &bad) >= 0)
                copy = varlink_call_build(call.method, call.parameters, call.flags);
        else if (varlink_reply_parse(msg, &reply) >= 0)
                copy = varlink_reply_build(reply.error, reply.parameters, reply.continues);
        if (copy)
                (void) varlink_buffer_append_message(&out, copy);
        varlink_buffer_done(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        VarlinkBuffer b = { .data = NULL };
        size_t chunk;

        if (size < 1)
                return 0;
        chunk = data[0] % 64 + 1;
        data++, size--;
        for (size_t i = 0; i < size; i += chunk) {
                const char *text;
                size_t len;
                int r;

                if (varlink_buffer_append(&b, data + i, size - i < chunk ? size - i : chunk) < 0)
                        break;
                while ((r = varlink_buffer_next(&b, 4096, &text, &len)) > 0) {
                        handle(text, len);
                        varlink_buffer_consume(&b, len + 1);
                }
                if (r < 0)
                        break;
        }
        varlink_buffer_done(&b);
        return 0;
}
