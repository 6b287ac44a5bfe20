/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* systemd's fd store, played for the unit tests: a datagram socket in NOTIFY_SOCKET that
 * keeps what it is sent, by FDNAME=, and hands it back to a fresh Record as a restarted
 * tdsleepd would get it in LISTEN_FDS. Each test gets a scratch directory and a state
 * directory below it that can be made to refuse every write. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "record.h"
#include "test-util.h"

#define STORE_MAX 8

typedef struct Stored {
        char name[64];
        int fd;
} Stored;

/* What systemd would hold for the service, and the socket it listens on. */
typedef struct Fixture {
        char *dir;              /* the scratch directory */
        char *state_dir;        /* dir/state: the record's directory */
        int sock;
        Stored stored[STORE_MAX];
        size_t n_stored;
} Fixture;

static inline int fixture_setup(void **state) {
        Fixture *f = calloc(1, sizeof(Fixture));
        struct sockaddr_un sa = { .sun_family = AF_UNIX };

        if (!f || !(f->dir = make_scratch_dir()))
                return -1;
        if (asprintf(&f->state_dir, "%s/state", f->dir) < 0 || mkdir(f->state_dir, 0700) < 0)
                return -1;
        snprintf(sa.sun_path, sizeof sa.sun_path, "%s/notify", f->dir);
        f->sock = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (f->sock < 0 || bind(f->sock, (struct sockaddr *) &sa, sizeof sa) < 0)
                return -1;
        setenv("NOTIFY_SOCKET", sa.sun_path, 1);
        *state = f;
        return 0;
}

static inline int fixture_teardown(void **state) {
        Fixture *f = *state;

        for (size_t i = 0; i < f->n_stored; i++)
                close(f->stored[i].fd);
        close(f->sock);
        rm_rf(f->dir);
        free(f->state_dir);
        free(f->dir);
        free(f);
        unsetenv("NOTIFY_SOCKET");
        return 0;
}

static inline void store_remove(Fixture *f, const char *name) {
        size_t j = 0;

        for (size_t i = 0; i < f->n_stored; i++) {
                if (streq(f->stored[i].name, name))
                        close(f->stored[i].fd);
                else
                        f->stored[j++] = f->stored[i];
        }
        f->n_stored = j;
}

/* Take one datagram as systemd does: FDSTOREREMOVE=1 drops every fd of FDNAME, FDSTORE=1
 * keeps the fds passed along under FDNAME. 0 when nothing was waiting. */
static inline int store_take_one(Fixture *f) {
        char buf[4096], name[64] = "stored";
        union { struct cmsghdr h; char b[CMSG_SPACE(sizeof(int) * 4)]; } control;
        struct iovec iov = { buf, sizeof buf - 1 };
        struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = &control,
                             .msg_controllen = sizeof control };
        ssize_t n = recvmsg(f->sock, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
        int fds[4], n_fds = 0;
        char *p;

        if (n < 0 && errno == EAGAIN)
                return 0;
        assert_true(n >= 0);
        buf[n] = '\0';
        for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
                if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
                        n_fds = (int) ((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
                        memcpy(fds, CMSG_DATA(c), sizeof(int) * (size_t) n_fds);
                }
        if ((p = strstr(buf, "FDNAME=")))
                sscanf(p, "FDNAME=%63[^\n]", name);
        if (strstr(buf, "FDSTOREREMOVE=1"))
                store_remove(f, name);
        for (int i = 0; i < n_fds; i++) {
                assert_non_null(strstr(buf, "FDSTORE=1"));
                assert_true(f->n_stored < STORE_MAX);
                f->stored[f->n_stored].fd = fds[i];
                snprintf(f->stored[f->n_stored++].name, sizeof f->stored[0].name, "%s", name);
        }
        return 1;
}

static inline void store_pump(Fixture *f) {
        while (store_take_one(f) > 0)
                ;
}

/* The fd systemd holds under a name starting with prefix; -1 if none. */
static inline int store_find(Fixture *f, const char *prefix, size_t *ret_count) {
        size_t count = 0;
        int fd = -1;

        store_pump(f);
        for (size_t i = 0; i < f->n_stored; i++)
                if (strncmp(f->stored[i].name, prefix, strlen(prefix)) == 0) {
                        fd = f->stored[i].fd;
                        count++;
                }
        if (ret_count)
                *ret_count = count;
        return fd;
}

/* tdsleepd restarts: a fresh Record gets every stored fd back, as LISTEN_FDS would. */
static inline Record *restart(Fixture *f) {
        Record *r = NULL;

        store_pump(f);
        assert_int_equal(record_new(f->state_dir, &r), 0);
        for (size_t i = 0; i < f->n_stored; i++)
                assert_int_equal(record_adopt_fd(r, f->stored[i].name, dup(f->stored[i].fd)), 1);
        return r;
}

/* The state directory refuses every write: its path turns into a plain file. */
static inline void disk_refuse(Fixture *f) {
        _cleanup_(freep) char *away = NULL;

        assert_true(asprintf(&away, "%s.away", f->state_dir) > 0);
        assert_int_equal(rename(f->state_dir, away), 0);
        assert_int_equal(write_file(f->dir, "state", "not a directory"), 0);
}

static inline void disk_accept(Fixture *f) {
        _cleanup_(freep) char *away = NULL;

        assert_true(asprintf(&away, "%s.away", f->state_dir) > 0);
        assert_int_equal(unlink(f->state_dir), 0);
        assert_int_equal(rename(away, f->state_dir), 0);
}
