/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* libFuzzer target for the cycle engine: the input bytes choose the world (domains,
 * settings, power picture, fault rates) and then every event, through the simulator in
 * tests/sim. Every input is a valid script; when the bytes run out the world settles.
 * Any invariant broken (I1..I7 of issue 9) aborts. Replay an input with
 *   build/tests/sim/sim-sweep --input FILE -v
 * FUZZ_CYCLE_NO_ABORT=1 keeps going past violations (quietly): to measure exec/s, or to
 * grow the corpus while known bugs (tests/sim/FOUND.md) are still open. */

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "sim.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* SHA-1, only to name the input the way libFuzzer names its artifact (crash-<sha1>), so
 * that the replay line printed on a violation is the exact command. */
static uint32_t rol(uint32_t x, unsigned n) {
        return (x << n) | (x >> (32 - n));
}

static void sha1_block(uint32_t h[5], const uint8_t *p) {
        uint32_t w[80], a = h[0], b = h[1], c = h[2], d = h[3], e = h[4];

        for (unsigned i = 0; i < 16; i++)
                w[i] = (uint32_t) p[4 * i] << 24 | (uint32_t) p[4 * i + 1] << 16 |
                        (uint32_t) p[4 * i + 2] << 8 | p[4 * i + 3];
        for (unsigned i = 16; i < 80; i++)
                w[i] = rol(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
        for (unsigned i = 0; i < 80; i++) {
                uint32_t f, k, tmp;

                if (i < 20)
                        f = (b & c) | (~b & d), k = 0x5a827999;
                else if (i < 40)
                        f = b ^ c ^ d, k = 0x6ed9eba1;
                else if (i < 60)
                        f = (b & c) | (b & d) | (c & d), k = 0x8f1bbcdc;
                else
                        f = b ^ c ^ d, k = 0xca62c1d6;
                tmp = rol(a, 5) + f + e + k + w[i];
                e = d, d = c, c = rol(b, 30), b = a, a = tmp;
        }
        h[0] += a, h[1] += b, h[2] += c, h[3] += d, h[4] += e;
}

static void sha1_hex(const uint8_t *data, size_t size, char ret[41]) {
        uint32_t h[5] = { 0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476, 0xc3d2e1f0 };
        uint8_t tail[128] = { 0 };
        size_t full = size / 64 * 64, rest = size - full, n;
        uint64_t bits = (uint64_t) size * 8;

        for (size_t i = 0; i < full; i += 64)
                sha1_block(h, data + i);
        if (rest > 0)
                memcpy(tail, data + full, rest);
        tail[rest] = 0x80;
        n = rest + 1 + 8 <= 64 ? 64 : 128;
        for (unsigned i = 0; i < 8; i++)
                tail[n - 1 - i] = (uint8_t) (bits >> (8 * i));
        for (size_t i = 0; i < n; i += 64)
                sha1_block(h, tail + i);
        for (unsigned i = 0; i < 5; i++)
                snprintf(ret + 8 * i, 9, "%08x", h[i]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static bool initialised = false, no_abort = false;
        char name[64] = "crash-";

        if (!initialised) {
                log_set_max_level(-1);
                no_abort = getenv("FUZZ_CYCLE_NO_ABORT");
                initialised = true;
        }
        if (size > 64 * 1024)
                return 0;
        sha1_hex(data, size, name + strlen(name));
        if (!sim_run_bytes(data, size, name, false, no_abort) && !no_abort)
                abort();
        return 0;
}
