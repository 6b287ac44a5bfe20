/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* libFuzzer target for the config parser: every input either loads or fails with a
 * "file:line: message" (or "file: message") error, never anything else. */

#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "config.h"
#include "macros.h"

#define FUZZ_NAME "fuzz.conf"
#define FUZZ_INPUT_MAX (64 * 1024)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_result(int r, Config *c, char *error, const char *name) {
        if (r >= 0) {
                assert(!error);
                assert(c->libvirt_uri && c->libvirt_uri[0] != '\0');
                assert(c->shutdown_timeout_usec > 0);
                config_done(c);
                return;
        }
        assert(r == -EINVAL || r == -ENOMEM || error);
        if (error)
                assert(strncmp(error, name, strlen(name)) == 0 && error[strlen(name)] == ':');
        free(error);
}

/* The whole input as a file (NUL bytes included), through a memfd so that no
 * temporary files pile up. */
static void fuzz_file(const uint8_t *data, size_t size) {
        static int fd = -1;
        char path[64], *error = NULL;
        Config c;
        int r;

        if (fd < 0)
                fd = memfd_create("fuzz-config", MFD_CLOEXEC);
        if (fd < 0 || ftruncate(fd, 0) < 0 || pwrite(fd, data, size, 0) != (ssize_t) size)
                abort();
        snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
        r = config_load(path, &c, &error);
        check_result(r, &c, error, path);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_(freep) char *text = NULL;
        char *error = NULL;
        Config c;
        int r;

        if (size > FUZZ_INPUT_MAX)
                return 0;
        text = strndup((const char *) data, size);
        if (!text)
                abort();
        r = config_load_string(text, FUZZ_NAME, &c, &error);
        check_result(r, &c, error, FUZZ_NAME);
        fuzz_file(data, size);
        return 0;
}
