/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Aligned text tables for the human output: a bold header row, columns padded to
 * their widest cell (in characters, not bytes), an optional colour per cell. */

#include <stdbool.h>
#include <stdio.h>

#include "macros.h"

typedef struct Table Table;

/* A table with the given column headers (NULL-terminated); NULL on OOM. */
Table *table_new(const char *header, ...) _sentinel_;
Table *table_free(Table *t);
DEFINE_TRIVIAL_CLEANUP_FUNC(Table *, table_free)
/* Append a cell (text NULL or "" shows as "-"); rows fill left to right. color is an
 * ANSI_* code or NULL and is used only when colour is on. */
int table_add_cell(Table *t, const char *text, const char *color);
/* The same with printf formatting, no colour. */
int table_add_cellf(Table *t, const char *fmt, ...) _printf_(2, 3);
/* Number of complete or partial data rows. */
size_t table_rows(const Table *t);
/* Print the header row (the default), or not (--no-legend). */
void table_set_legend(bool b);
/* Write header and rows to f; the last column is not padded. */
int table_print(const Table *t, FILE *f);
