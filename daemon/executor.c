/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "executor.h"
#include "log.h"

struct Executor {
        pthread_mutex_t lock;
        pthread_cond_t wake;            /* work queued, or stopping */
        pthread_cond_t finished_cond;   /* a job finished (executor_drain waits, CLOCK_MONOTONIC) */
        unsigned running;               /* jobs a worker took and has not finished */
        ExecutorJob *queue, **queue_tail;       /* to run */
        ExecutorJob *finished, **finished_tail; /* run, done() not called yet */
        bool stopping;
        pthread_t *workers;
        unsigned n_workers;
        unsigned pending;               /* loop thread only */
        int event_fd;                   /* a worker says: something finished */
        sd_event_source *event_source;
};

static void push(ExecutorJob ***tail, ExecutorJob *j) {
        j->next = NULL;
        **tail = j;
        *tail = &j->next;
}

static void *worker_main(void *userdata) {
        Executor *x = userdata;
        static const uint64_t one = 1;

        pthread_mutex_lock(&x->lock);
        for (;;) {
                ExecutorJob *j;

                while (!x->queue && !x->stopping)
                        pthread_cond_wait(&x->wake, &x->lock);
                if (!x->queue)
                        break;          /* stopping, and nothing left to run */
                j = x->queue;
                x->queue = j->next;
                if (!x->queue)
                        x->queue_tail = &x->queue;
                x->running++;
                pthread_mutex_unlock(&x->lock);
                j->run(j);
                pthread_mutex_lock(&x->lock);
                x->running--;
                push(&x->finished_tail, j);
                pthread_cond_broadcast(&x->finished_cond);
                /* A counter: cannot fail or block short of 2^64-1 unread completions (and
                 * nothing is logged from a worker: the log is the loop thread's). */
                (void) !write(x->event_fd, &one, sizeof one);
        }
        pthread_mutex_unlock(&x->lock);
        return NULL;
}

/* Take the finished jobs and call done() outside the lock: done may submit more. */
static void executor_dispatch(Executor *x) {
        ExecutorJob *j;

        pthread_mutex_lock(&x->lock);
        j = x->finished;
        x->finished = NULL;
        x->finished_tail = &x->finished;
        pthread_mutex_unlock(&x->lock);
        while (j) {
                ExecutorJob *next = j->next;

                x->pending--;
                j->done(j);
                j = next;
        }
}

static int on_event_fd(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        Executor *x = userdata;
        uint64_t n;

        if (read(fd, &n, sizeof n) < 0 && errno != EAGAIN)
                log_debug("Failed to read the executor's eventfd: %s", STRERROR(-errno));
        executor_dispatch(x);
        return 0;
}

int executor_new(sd_event *e, unsigned n_workers, Executor **ret) {
        _cleanup_(executor_freep) Executor *x = calloc(1, sizeof(Executor));
        pthread_condattr_t attr;
        int r;

        if (!x)
                return -ENOMEM;

        pthread_mutex_init(&x->lock, NULL);
        pthread_cond_init(&x->wake, NULL);
        pthread_condattr_init(&attr);
        pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
        pthread_cond_init(&x->finished_cond, &attr);
        pthread_condattr_destroy(&attr);
        x->queue_tail = &x->queue;
        x->finished_tail = &x->finished;
        x->event_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (x->event_fd < 0)
                return -errno;
        r = sd_event_add_io(e, &x->event_source, x->event_fd, EPOLLIN, on_event_fd, x);
        if (r < 0)
                return r;
        x->workers = calloc(n_workers, sizeof(pthread_t));
        if (!x->workers)
                return -ENOMEM;
        for (; x->n_workers < n_workers; x->n_workers++) {
                r = -pthread_create(&x->workers[x->n_workers], NULL, worker_main, x);
                if (r < 0)
                        return r;
        }
        *ret = TAKE_PTR(x);
        return 0;
}

Executor *executor_free(Executor *x) {
        ExecutorJob *j;

        if (!x)
                return NULL;
        pthread_mutex_lock(&x->lock);
        x->stopping = true;
        j = x->queue;                   /* never run: completed below */
        x->queue = NULL;
        x->queue_tail = &x->queue;
        pthread_cond_broadcast(&x->wake);
        pthread_mutex_unlock(&x->lock);
        for (unsigned i = 0; i < x->n_workers; i++)
                pthread_join(x->workers[i], NULL);
        executor_dispatch(x);
        while (j) {
                ExecutorJob *next = j->next;

                j->done(j);
                j = next;
        }
        sd_event_source_disable_unref(x->event_source);
        if (x->event_fd >= 0)
                close(x->event_fd);
        pthread_cond_destroy(&x->wake);
        pthread_cond_destroy(&x->finished_cond);
        pthread_mutex_destroy(&x->lock);
        free(x->workers);
        free(x);
        return NULL;
}

static bool timespec_after(const struct timespec *now, const struct timespec *deadline) {
        return now->tv_sec > deadline->tv_sec ||
               (now->tv_sec == deadline->tv_sec && now->tv_nsec >= deadline->tv_nsec);
}

/* Run the loop's side of the executor (done(), which may submit more) until no job is
 * queued, running or finished, or until the deadline. */
bool executor_drain(Executor *x, uint64_t timeout_usec) {
        struct timespec deadline, now;
        bool idle = false, late = false;

        clock_gettime(CLOCK_MONOTONIC, &deadline);
        deadline.tv_sec += (time_t) (timeout_usec / USEC_PER_SEC);
        deadline.tv_nsec += (long) (timeout_usec % USEC_PER_SEC) * NSEC_PER_USEC;
        if (deadline.tv_nsec >= 1000000000L) {
                deadline.tv_sec++;
                deadline.tv_nsec -= 1000000000L;
        }
        while (!idle && !late) {
                executor_dispatch(x);
                pthread_mutex_lock(&x->lock);
                while (!x->finished && (x->queue || x->running > 0) && !late)
                        late = pthread_cond_timedwait(&x->finished_cond, &x->lock, &deadline) == ETIMEDOUT;
                idle = !x->finished && !x->queue && x->running == 0;
                pthread_mutex_unlock(&x->lock);
                clock_gettime(CLOCK_MONOTONIC, &now);
                late = late || (!idle && timespec_after(&now, &deadline));
        }
        return idle;
}

void executor_submit(Executor *x, ExecutorJob *j) {
        x->pending++;
        pthread_mutex_lock(&x->lock);
        push(&x->queue_tail, j);
        pthread_cond_signal(&x->wake);
        pthread_mutex_unlock(&x->lock);
}

unsigned executor_pending(const Executor *x) {
        return x->pending;
}
