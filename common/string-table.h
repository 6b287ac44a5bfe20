/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Enum <-> string tables in systemd's style: foo_to_string(), foo_from_string(). */

#include <errno.h>
#include <string.h>

#define DECLARE_STRING_TABLE(name, type)                        \
        const char *name##_to_string(type v);                   \
        type name##_from_string(const char *s)

#define DEFINE_STRING_TABLE(name, type, max)                            \
        const char *name##_to_string(type v) {                          \
                if ((int) v < 0 || (int) v >= (int) (max))              \
                        return NULL;                                    \
                return name##_table[v];                                 \
        }                                                               \
        type name##_from_string(const char *s) {                        \
                if (!s)                                                 \
                        return (type) -EINVAL;                          \
                for (int i = 0; i < (int) (max); i++)                   \
                        if (name##_table[i] && strcmp(name##_table[i], s) == 0) \
                                return (type) i;                        \
                return (type) -EINVAL;                                  \
        }
