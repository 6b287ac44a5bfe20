/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "macros.h"
#include "pager.h"

static pid_t pager_pid;
static int saved_stdout = -1;

/* $SYSTEMD_PAGERSECURE as systemd reads it; unset: on when root got here through sudo
 * or pkexec, so that the pager cannot open a root shell for the user who asked. */
static bool pager_secure(void) {
        const char *e = getenv("SYSTEMD_PAGERSECURE");

        if (e)
                return streq(e, "1") || streq(e, "yes") || streq(e, "true") || streq(e, "on");
        return geteuid() == 0 && (getenv("SUDO_UID") || getenv("PKEXEC_UID"));
}

/* The pager the environment asks for; NULL: none named (try less, then more). */
static const char *pager_from_env(void) {
        static const char *const names[] = { "TDSLEEP_PAGER", "SYSTEMD_PAGER", "PAGER" };

        for (size_t i = 0; i < ELEMENTSOF(names); i++) {
                const char *e = getenv(names[i]);

                if (e)
                        return e;
        }
        return NULL;
}

static bool pager_wanted(const char *command) {
        const char *term = getenv("TERM");

        if (isatty(STDOUT_FILENO) <= 0 || (term && streq(term, "dumb")))
                return false;
        return !command || !(command[strspn(command, " \t")] == '\0' || streq(command, "cat"));
}

/* The child: stdin is the pipe. Never returns. */
__attribute__((noreturn)) static void pager_run(const char *command, bool secure) {
        const char *less = getenv("SYSTEMD_LESS"), *charset = getenv("SYSTEMD_LESSCHARSET");
        char buf[4096];
        ssize_t n;

        (void) setenv("LESS", less ? less : "FRSXMK", 1);
        if (charset)
                (void) setenv("LESSCHARSET", charset, 1);
        if (secure) {
                (void) setenv("LESSSECURE", "1", 1);
                execlp("less", "less", NULL);
        } else if (command)
                execl("/bin/sh", "sh", "-c", command, NULL);
        else {
                execlp("less", "less", NULL);
                execlp("more", "more", NULL);
        }
        /* No pager could run: pass the text through rather than lose it. */
        while ((n = read(STDIN_FILENO, buf, sizeof buf)) > 0)
                if (write(STDOUT_FILENO, buf, (size_t) n) != n)
                        break;
        _exit(EXIT_SUCCESS);
}

int pager_open(void) {
        const char *command = pager_from_env();
        bool secure = pager_secure();
        int fd[2];

        if (pager_pid > 0 || !pager_wanted(command))
                return 0;
        if (pipe2(fd, O_CLOEXEC) < 0)
                return 0;
        fflush(stdout);
        pager_pid = fork();
        if (pager_pid < 0) {
                pager_pid = 0;
                safe_close(fd[0]);
                safe_close(fd[1]);
                return 0;
        }
        if (pager_pid == 0) {
                if (dup2(fd[0], STDIN_FILENO) < 0)
                        _exit(EXIT_FAILURE);
                safe_close(fd[0]);
                safe_close(fd[1]);      /* else the fallback copy never sees the end */
                pager_run(command, secure);
        }
        saved_stdout = fcntl(STDOUT_FILENO, F_DUPFD_CLOEXEC, 3);
        (void) dup2(fd[1], STDOUT_FILENO);
        safe_close(fd[0]);
        safe_close(fd[1]);
        return 1;
}

void pager_close(void) {
        if (pager_pid <= 0)
                return;
        fflush(stdout);
        /* Our end of the pipe goes away: the pager sees the end of its input. */
        if (saved_stdout >= 0)
                (void) dup2(saved_stdout, STDOUT_FILENO);
        saved_stdout = safe_close(saved_stdout);
        (void) kill(pager_pid, SIGCONT);
        while (waitpid(pager_pid, NULL, 0) < 0 && errno == EINTR)
                ;
        pager_pid = 0;
}
