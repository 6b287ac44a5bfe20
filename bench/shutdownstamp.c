/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libshutdownstamp.so: an LD_PRELOAD library with which bench/run times tdsleepd's
 * own share of a prepare. It wraps virDomainShutdown() and virDomainShutdownFlags()
 * of the process it is loaded into and records, on CLOCK_MONOTONIC (the clock of
 * Python's time.monotonic() and of bench/lvwatch), how many calls were made, when
 * the first began and when the last began and returned.
 *
 * The record is 4 little-endian uint64 (calls, first call began, last call began,
 * last call returned; nanoseconds) in the file named by $BENCH_SHUTDOWN_STAMPS,
 * which bench/run creates (32 zero bytes) before the daemon starts and reads after
 * the delay lock is released. The file is mapped shared, so a call costs two
 * clock_gettime() (vDSO) and a few atomic operations, and no system call: the
 * figure it measures is not moved by measuring it. Without the variable, or when the
 * file cannot be mapped, the calls pass through unrecorded.
 *
 * The calls come from tdsleepd's executor workers, several threads at once: every
 * field is updated atomically, the "last" fields keep the latest time any thread
 * saw.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <libvirt/libvirt.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

typedef struct {
        _Atomic uint64_t calls;
        _Atomic uint64_t first_began_ns;
        _Atomic uint64_t last_began_ns;
        _Atomic uint64_t last_returned_ns;
} Stamps;

static Stamps *stamps;
static int (*real_shutdown)(virDomainPtr);
static int (*real_shutdown_flags)(virDomainPtr, unsigned int);

static uint64_t now_ns(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000000u + (uint64_t) ts.tv_nsec;
}

/* libvirt's own functions are looked up here, once, before any thread runs: every
 * library is loaded before the first constructor runs. */
__attribute__((constructor)) static void stamps_init(void) {
        const char *path = getenv("BENCH_SHUTDOWN_STAMPS");
        void *p;
        int fd;

        /* POSIX's way to store dlsym()'s object pointer in a function pointer */
        *(void **) &real_shutdown = dlsym(RTLD_NEXT, "virDomainShutdown");
        *(void **) &real_shutdown_flags = dlsym(RTLD_NEXT, "virDomainShutdownFlags");
        if (!path)
                return;
        fd = open(path, O_RDWR | O_CLOEXEC);
        if (fd < 0)
                return;
        p = mmap(NULL, sizeof(Stamps), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        close(fd);
        if (p != MAP_FAILED)
                stamps = p;
}

static void keep_latest(_Atomic uint64_t *field, uint64_t t) {
        uint64_t seen = atomic_load(field);

        while (seen < t && !atomic_compare_exchange_weak(field, &seen, t))
                ;
}

static void stamp_began(uint64_t t) {
        uint64_t zero = 0;

        if (!stamps)
                return;
        atomic_fetch_add(&stamps->calls, 1);
        atomic_compare_exchange_strong(&stamps->first_began_ns, &zero, t);
        keep_latest(&stamps->last_began_ns, t);
}

static void stamp_returned(uint64_t t) {
        if (stamps)
                keep_latest(&stamps->last_returned_ns, t);
}

/* A process that calls these has libvirt loaded, so the constructor found them;
 * abort rather than return an error, which would make tdsleepd force the guest off. */
int virDomainShutdown(virDomainPtr dom) {
        int r;

        if (!real_shutdown)
                abort();
        stamp_began(now_ns());
        r = real_shutdown(dom);
        stamp_returned(now_ns());
        return r;
}

int virDomainShutdownFlags(virDomainPtr dom, unsigned int flags) {
        int r;

        if (!real_shutdown_flags)
                abort();
        stamp_began(now_ns());
        r = real_shutdown_flags(dom, flags);
        stamp_returned(now_ns());
        return r;
}
