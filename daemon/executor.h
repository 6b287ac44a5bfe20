/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "macros.h"

/* A small pool of worker threads for blocking calls (libvirt's RPCs). The loop thread
 * submits jobs; a worker runs job->run; the loop thread gets the job back through an
 * eventfd and calls job->done. Nothing else crosses threads: a job is owned by the
 * worker between run's start and its end, by the loop thread before and after. */

#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-event.h>

typedef struct ExecutorJob ExecutorJob;
struct ExecutorJob {
        void (*run)(ExecutorJob *j);            /* on a worker: must not touch loop state */
        void (*done)(ExecutorJob *j);           /* on the loop thread: consumes j */
        ExecutorJob *next;                      /* the executor's queues */
};

typedef struct Executor Executor;

/* n_workers threads, completions delivered on e. */
int executor_new(sd_event *e, unsigned n_workers, Executor **ret);
/* On the loop thread, before executor_free(): call done() for what finishes (which may
 * submit more), until nothing is queued or running (true), or timeout_usec has passed
 * (false: a worker is still in a call, and x must then not be freed). */
bool executor_drain(Executor *x, uint64_t timeout_usec);
/* Waits for the running jobs (drain first: a stalled libvirtd would stall this); queued
 * jobs are completed with done on the calling thread without running. */
Executor *executor_free(Executor *x);
DEFINE_TRIVIAL_CLEANUP_FUNC(Executor *, executor_free)

/* Queue j (taken). Runs in submission order, up to n_workers at a time. */
void executor_submit(Executor *x, ExecutorJob *j);
/* Jobs submitted and not yet done. */
unsigned executor_pending(const Executor *x);
