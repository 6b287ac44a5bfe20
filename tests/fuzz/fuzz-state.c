/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* libFuzzer target for the record's parser: any input either is rejected, or parses to a
 * State that serialises and parses back to exactly the same text. A record that reads
 * differently after a save would start the wrong TDs. */

#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "macros.h"
#include "state.h"

#define FUZZ_INPUT_MAX (256 * 1024)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_(freep) char *text = NULL, *once = NULL, *twice = NULL;
        _cleanup_(state_done) State s, back;
        int r;

        if (size > FUZZ_INPUT_MAX)
                return 0;
        state_init(&s);
        state_init(&back);
        text = malloc(size + 1);
        assert(text);
        memcpy(text, data, size);
        text[size] = '\0';

        r = state_from_json_string(text, &s);
        if (r < 0) {
                assert(r == -EBADMSG || r == -ENOMEM);
                return 0;
        }
        assert(s.cycle_id[0] == '\0' || id128_string_valid(s.cycle_id));
        assert(state_to_json_string(&s, &once) == 0);
        assert(state_from_json_string(once, &back) == 0);
        assert(state_to_json_string(&back, &twice) == 0);
        assert(streq(once, twice));
        assert(back.generation == s.generation && back.n_domains == s.n_domains);
        return 0;
}
