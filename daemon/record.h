/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "macros.h"

/* The durable record of a cycle (interim: disk only; the fd-store copy follows). */

#include "state.h"

typedef struct Record Record;

int record_new(const char *dir, Record **ret);
Record *record_free(Record *r);
DEFINE_TRIVIAL_CLEANUP_FUNC(Record *, record_free)
int record_adopt_fd(Record *r, const char *name, int fd);
int record_load(Record *r, State *ret);
int record_save(Record *r, State *s);
int record_finish(Record *r, const State *s);
bool record_degraded(const Record *r);
int record_keep_failed_xml(Record *r, const StateDomain *d, char **ret_path);
void record_forget_failed_xml(Record *r, const char *uuid);
