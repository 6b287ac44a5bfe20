/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Which files make up tdsleepd's configuration, in the order they apply: systemd's rules
 * for a configuration file with drop-ins, so that `systemd-analyze cat-config
 * tdsleep/tdsleepd.conf` lists exactly these. */

/* The search path, the most important first. */
#define CONFIG_SEARCH_DIRS_MAX 4
extern const char *const config_search_dirs[CONFIG_SEARCH_DIRS_MAX];

/* The files below root (NULL or "/": the host's own): the main file tdsleepd.conf found
 * first along the search path, then the tdsleepd.conf.d/ *.conf drop-ins of every
 * directory, by file name; of a name in several directories only the earliest
 * directory's (a link to /dev/null masks a drop-in). *ret: a NULL-terminated list
 * (strv_free() it). An unreadable directory: the error as "DIR: what is wrong". */
int config_files_search(const char *root, char ***ret, char **ret_error);

/* An explicit main file (tdsleepd --config=PATH): PATH, then PATH.d/ *.conf by name. PATH
 * is listed even when it does not exist (the loader skips a missing file). */
int config_files_explicit(const char *path, char ***ret, char **ret_error);

void strv_free(char **v);
