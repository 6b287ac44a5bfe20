/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * vlload: GetStatus round trips against tdsleepd's control socket.
 *
 *   vlload SOCKET CLIENTS SECONDS [RATE [scheduled]]
 *
 * Starts CLIENTS threads; each opens its own connection and sends
 * io.tdsleep.Manager.GetStatus, waits for the whole reply (up to the NUL that ends a
 * Varlink message), and repeats, for SECONDS: back to back (closed loop, the
 * default: with C clients, C requests are always in flight, so by Little's law the
 * latency is C / throughput), or RATE requests per second per client (paced, phases
 * spread over the first period: the latency of a request among C clients that are
 * active but do not saturate the server). With "scheduled" (paced only), a request's
 * latency counts from the moment it was due, not from when it was sent: a client that
 * waits 20 s for one reply is late with every request due meanwhile, and each of them
 * counts so (no coordinated omission; bench/run's libvirtd stall). Prints one line:
 *   clients N requests R seconds S rps X p50_us A p90_us B p99_us C max_us D bytes E
 * The client speaks the wire format directly (plain sockets, no JSON parsing beyond
 * checking that the first reply has "parameters" and no "error"): it costs a few
 * microseconds per request, so the figures are the server's.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static const char REQUEST[] = "{\"method\":\"io.tdsleep.Manager.GetStatus\",\"parameters\":{}}";

static const char *sock_path;
static double seconds, rate;
static bool from_schedule;     /* latency from the moment a request was due */
static pthread_barrier_t barrier;

typedef struct {
        double *lat;
        size_t n, cap;
        size_t reply_bytes;
        int error;
        int index, clients;
} Worker;

static double now(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b) {
        double x = *(const double *) a, y = *(const double *) b;
        return x < y ? -1 : x > y;
}

static void *worker(void *arg) {
        Worker *w = arg;
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        char buf[65536];
        int fd;
        double end;

        strncpy(sa.sun_path, sock_path, sizeof sa.sun_path - 1);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0 || connect(fd, (struct sockaddr *) &sa, sizeof sa) < 0) {
                w->error = errno;
                pthread_barrier_wait(&barrier);
                return NULL;
        }
        pthread_barrier_wait(&barrier);
        double start = now(), next = start + (rate > 0 ? (double) w->index / w->clients / rate : 0);
        end = start + seconds;
        /* Scheduled: every request due before the end is sent, late ones at once. */
        while (from_schedule ? next < end : now() < end) {
                if (rate > 0) {
                        double d = next - now();
                        if (d > 0) {
                                struct timespec ts = { (time_t) d, (long) ((d - (time_t) d) * 1e9) };
                                nanosleep(&ts, NULL);
                        }
                        next += 1 / rate;
                        if (!from_schedule && now() >= end)
                                break;
                }
                double t0 = from_schedule ? next - 1 / rate : now();
                size_t got = 0;
                bool done = false;

                if (send(fd, REQUEST, sizeof REQUEST, MSG_NOSIGNAL) != (ssize_t) sizeof REQUEST) {
                        w->error = errno ? errno : EIO;
                        break;
                }
                while (!done) {
                        ssize_t k = recv(fd, buf, sizeof buf, 0);
                        if (k <= 0) {
                                w->error = k == 0 ? ECONNRESET : errno;
                                goto out;
                        }
                        if (w->n == 0 && got == 0 &&
                            (!memmem(buf, k, "\"parameters\"", 12) || memmem(buf, k, "\"error\"", 7))) {
                                fprintf(stderr, "vlload: unexpected reply: %.*s\n", (int) (k > 300 ? 300 : k), buf);
                                w->error = EPROTO;
                                goto out;
                        }
                        got += k;
                        done = buf[k - 1] == '\0';   /* one request in flight: NUL ends it */
                }
                if (w->n == w->cap) {
                        w->cap = w->cap ? w->cap * 2 : 4096;
                        w->lat = realloc(w->lat, w->cap * sizeof(double));
                        if (!w->lat) {
                                w->error = ENOMEM;
                                break;
                        }
                }
                w->lat[w->n++] = now() - t0;
                w->reply_bytes = got;
        }
out:
        close(fd);
        return NULL;
}

int main(int argc, char **argv) {
        int clients;
        pthread_t *th;
        Worker *ws;
        double *all, t0, elapsed;
        size_t total = 0, k = 0, bytes = 0;

        if (argc < 4 || argc > 6) {
                fprintf(stderr, "usage: vlload SOCKET CLIENTS SECONDS [RATE [scheduled]]\n");
                return 2;
        }
        sock_path = argv[1];
        clients = atoi(argv[2]);
        seconds = atof(argv[3]);
        rate = argc > 4 ? atof(argv[4]) : 0;
        from_schedule = argc > 5 && strcmp(argv[5], "scheduled") == 0;
        if (argc > 5 && (!from_schedule || rate <= 0))
                return 2;
        if (clients < 1 || seconds <= 0)
                return 2;
        th = calloc(clients, sizeof *th);
        ws = calloc(clients, sizeof *ws);
        if (!th || !ws)
                return 1;
        pthread_barrier_init(&barrier, NULL, clients + 1);
        for (int i = 0; i < clients; i++) {
                ws[i].index = i;
                ws[i].clients = clients;
        }
        for (int i = 0; i < clients; i++)
                if (pthread_create(&th[i], NULL, worker, &ws[i]) != 0)
                        return 1;
        pthread_barrier_wait(&barrier);
        t0 = now();
        for (int i = 0; i < clients; i++)
                pthread_join(th[i], NULL);
        elapsed = now() - t0;
        for (int i = 0; i < clients; i++) {
                if (ws[i].error) {
                        fprintf(stderr, "vlload: client %d: %s\n", i, strerror(ws[i].error));
                        return 1;
                }
                total += ws[i].n;
                bytes = ws[i].reply_bytes;
        }
        if (total == 0)
                return 1;
        all = malloc(total * sizeof(double));
        if (!all)
                return 1;
        for (int i = 0; i < clients; i++) {
                memcpy(all + k, ws[i].lat, ws[i].n * sizeof(double));
                k += ws[i].n;
        }
        qsort(all, total, sizeof(double), cmp_double);
#define PCT(p) (all[(size_t) ((p) * (total - 1) + 0.5)] * 1e6)
        printf("rate %.0f clients %d requests %zu seconds %.3f rps %.0f p50_us %.1f p90_us %.1f p99_us %.1f max_us %.1f bytes %zu\n",
               rate, clients, total, elapsed, total / elapsed, PCT(0.50), PCT(0.90), PCT(0.99),
               all[total - 1] * 1e6, bytes);
        return 0;
}
