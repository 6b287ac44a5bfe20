/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>
#include <systemd/sd-journal.h>

#include "hook-fallback.h"
#include "macros.h"

/* Keep in sync with units/tdsleep.catalog. */
#define MESSAGE_HOOK_S2IDLE      "MESSAGE_ID=3c1e0f9b6a2d4e07b8f5d2c4a9e17b36"
#define MESSAGE_HOOK_UNPROTECTED "MESSAGE_ID=e5b2a7d04f6c4c1a9d3e8b7f6a5c2d19"

static const char *mem_sleep_path(char *buf, size_t n) {
        const char *root = getenv("TDSLEEP_SYSFS_ROOT");

        snprintf(buf, n, "%s/sys/power/mem_sleep", isempty(root) ? "" : root);
        return buf;
}

/* Does mem_sleep offer s2idle ("s2idle [deep]" or "[s2idle] deep")? */
static bool s2idle_available(const char *path) {
        char text[256] = "";
        FILE *f = fopen(path, "re");
        bool found = false;

        if (f && fgets(text, sizeof text, f))
                for (char *t = strtok(text, " \n"); t && !found; t = strtok(NULL, " \n"))
                        found = streq(t, "s2idle") || streq(t, "[s2idle]");
        if (f)
                fclose(f);
        return found;
}

static int write_s2idle(const char *path) {
        int fd = open(path, O_WRONLY | O_CLOEXEC | O_TRUNC);
        ssize_t n;

        if (fd < 0)
                return -errno;
        n = write(fd, "s2idle", 6);
        n = n < 0 ? -errno : n;
        close(fd);
        return n < 0 ? (int) n : n == 6 ? 0 : -EIO;
}

static void say(const char *message_id, const char *text) {
        fprintf(stderr, "tdsleepctl: %s\n", text);
        (void) sd_journal_send("MESSAGE=tdsleepctl hook: %s", text, message_id,
                               "PRIORITY=%i", LOG_CRIT, "SYSLOG_IDENTIFIER=tdsleepctl", NULL);
}

int hook_fallback(const char *step) {
        char path[1024], text[2048];
        bool suspend = streq(step, "suspend") || streq(step, "suspend-after-failed-hibernate");
        int r = -ENOENT;

        mem_sleep_path(path, sizeof path);
        if (suspend && s2idle_available(path)) {
                r = write_s2idle(path);
                if (r >= 0) {
                        snprintf(text, sizeof text, "tdsleepd did not answer the sleep hook: selected s2idle "
                                 "in %s, so running TDs survive this suspend.", path);
                        say(MESSAGE_HOOK_S2IDLE, text);
                        return -EHOSTDOWN;
                }
        }
        snprintf(text, sizeof text, "tdsleepd did not answer the sleep hook and %s: the host goes on with %s, "
                 "and running TDs may be lost.",
                 !suspend ? "only s2idle (a suspend) keeps TDs" :
                 r == -ENOENT ? "s2idle is not available" : "s2idle could not be selected", step);
        say(MESSAGE_HOOK_UNPROTECTED, text);
        return -EHOSTDOWN;
}
