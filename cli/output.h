/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* What tdsleepctl writes: colour (only on a terminal, never with NO_COLOR or
 * TERM=dumb), replies as JSON lines, error replies as one line on stderr. */

#include <json-c/json.h>
#include <stdbool.h>
#include <stdio.h>

#include "macros.h"

#define ANSI_NORMAL    "\x1B[0m"
#define ANSI_BOLD      "\x1B[1m"
#define ANSI_GREY      "\x1B[0;38;5;245m"
#define ANSI_RED       "\x1B[0;1;31m"
#define ANSI_GREEN     "\x1B[0;1;32m"
#define ANSI_YELLOW    "\x1B[0;1;33m"

/* Decide once whether stdout gets colour, from isatty(), NO_COLOR and TERM. */
void output_init(void);
/* Whether colour is on. */
bool colors_enabled(void);
/* The escape sequence code when colour is on, "" otherwise (code may be NULL). */
const char *ansi(const char *code);
/* The escape sequence that ends a coloured stretch, or "". */
const char *ansi_normal(void);

/* Print o on stdout as one line of JSON and flush (one reply per line, also in streams);
 * indented over several lines once output_set_json_pretty(true) was called. */
void output_json(json_object *o);
void output_set_json_pretty(bool b);
/* "key=value key=value" for an error's parameters (strings bare, the rest as JSON);
 * "" for NULL or {}. Returns a new string or NULL on OOM. */
char *json_short_text(json_object *o);
/* "tdsleepctl: MESSAGE" on stderr. Returns r, so callers can return it. */
int cli_error(int r, const char *fmt, ...) _printf_(2, 3);

/* "yes"/"no". */
const char *yes_no(bool b);
/* The string, or "-" for NULL/empty: the human output's placeholder. */
const char *strdash(const char *s);
