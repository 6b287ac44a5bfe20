/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <systemd/sd-journal.h>

#include "log.h"

static const char *log_ident = "tdsleep";
/* Read by any thread (libvirt reports errors on the thread that hit them, the daemon's
 * workers too), changed by the loop thread (SetLogLevel): atomic, relaxed. */
static int log_max_level = LOG_INFO;
static bool log_to_journal = false;

void log_open(const char *ident) {
        const char *level = getenv("TDSLEEP_LOG_LEVEL");

        log_ident = ident;
        /* JOURNAL_STREAM tells us stderr is connected to the journal (systemd.exec(5)). */
        log_to_journal = getenv("JOURNAL_STREAM") != NULL;
        if (level && streq(level, "debug"))
                __atomic_store_n(&log_max_level, LOG_DEBUG, __ATOMIC_RELAXED);
}

void log_set_max_level(int level) {
        __atomic_store_n(&log_max_level, level, __ATOMIC_RELAXED);
}

int log_get_max_level(void) {
        return __atomic_load_n(&log_max_level, __ATOMIC_RELAXED);
}

static const char *level_name(int level) {
        static const char *const names[] = {
                [LOG_EMERG] = "emerg",   [LOG_ALERT] = "alert", [LOG_CRIT] = "crit",
                [LOG_ERR] = "error",     [LOG_WARNING] = "warning", [LOG_NOTICE] = "notice",
                [LOG_INFO] = "info",     [LOG_DEBUG] = "debug",
        };
        return level >= 0 && level <= LOG_DEBUG ? names[level] : "?";
}

static void log_write_journal(int level, int error, const char *const *extra, const char *message) {
        struct iovec iov[64];
        char prio[32], errno_field[32], *msg = NULL;
        size_t n = 0;

        if (asprintf(&msg, "MESSAGE=%s", message) < 0)
                return;
        snprintf(prio, sizeof prio, "PRIORITY=%d", level);
        iov[n++] = (struct iovec) { msg, strlen(msg) };
        iov[n++] = (struct iovec) { prio, strlen(prio) };
        if (error != 0) {
                snprintf(errno_field, sizeof errno_field, "ERRNO=%d", abs(error));
                iov[n++] = (struct iovec) { errno_field, strlen(errno_field) };
        }
        for (size_t i = 0; extra && extra[i] && n < ELEMENTSOF(iov); i++)
                iov[n++] = (struct iovec) { (void *) extra[i], strlen(extra[i]) };

        if (sd_journal_sendv(iov, (int) n) < 0)
                fprintf(stderr, "%s: %s\n", log_ident, message);
        free(msg);
}

int log_internal(int level, int error, const char *const *extra, const char *fmt, ...) {
        va_list ap;
        int r;

        va_start(ap, fmt);
        r = log_internalv(level, error, extra, fmt, ap);
        va_end(ap);
        return r;
}

int log_internalv(int level, int error, const char *const *extra, const char *fmt, va_list ap) {
        char buf[2048];
        int saved_errno = errno;

        if (level > __atomic_load_n(&log_max_level, __ATOMIC_RELAXED))
                return error == 0 ? 0 : -abs(error);

        /* Let "%m" print the error we were given, like systemd's log_*_errno(). */
        errno = abs(error);
        vsnprintf(buf, sizeof buf, fmt, ap);

        if (log_to_journal)
                log_write_journal(level, error, extra, buf);
        else
                fprintf(stderr, "%s[%s]: %s\n", log_ident, level_name(level), buf);

        errno = saved_errno;
        return error == 0 ? 0 : -abs(error);
}
