/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The kernel's sleep picture from sysfs and procfs, every path below a root directory.
 * Parsers are pure (text in, struct out); power_read() does the I/O. */

#include <stdbool.h>

#include "string-table.h"

/* /sys/power/mem_sleep labels. */
typedef enum MemSleep {
        MEM_SLEEP_S2IDLE,
        MEM_SLEEP_SHALLOW,
        MEM_SLEEP_DEEP,
        _MEM_SLEEP_MAX,
        _MEM_SLEEP_INVALID = -EINVAL,
} MemSleep;

/* /sys/power/state labels, as bits of PowerPicture.states. */
typedef enum PowerState {
        POWER_STATE_FREEZE,
        POWER_STATE_STANDBY,
        POWER_STATE_MEM,
        POWER_STATE_DISK,
        _POWER_STATE_MAX,
        _POWER_STATE_INVALID = -EINVAL,
} PowerState;

DECLARE_STRING_TABLE(mem_sleep, MemSleep);
DECLARE_STRING_TABLE(power_state, PowerState);

#define POWER_MASK(x) (1u << (x))

typedef struct PowerPicture {
        unsigned states;               /* POWER_MASK(PowerState) from /sys/power/state */
        unsigned mem_sleep_available;  /* POWER_MASK(MemSleep) from /sys/power/mem_sleep */
        MemSleep mem_sleep_selected;   /* the [bracketed] one; _MEM_SLEEP_INVALID if none */
        bool has_swap;                 /* /proc/swaps lists at least one area */
        bool tdx_host_platform;        /* cpuinfo flag */
        bool kvm_tdx;                  /* /sys/module/kvm_intel/parameters/tdx is Y */
} PowerPicture;

/* "freeze mem disk\n" -> mask. -EINVAL on an unknown word. Empty text gives 0. */
int power_parse_state(const char *text, unsigned *ret_states);
/* "s2idle [deep]\n" -> available mask and selected. -EINVAL on unknown words, more than
 * one bracketed label or unbalanced brackets. No brackets: selected = _MEM_SLEEP_INVALID. */
int power_parse_mem_sleep(const char *text, unsigned *ret_available, MemSleep *ret_selected);
/* /proc/swaps text -> whether any swap area is listed. -EINVAL if the header is missing. */
int power_parse_swaps(const char *text, bool *ret_has_swap);
/* /proc/cpuinfo text -> whether any "flags" line has the word flag. */
bool power_cpuinfo_has_flag(const char *text, const char *flag);

/* Read the picture below root ("/" for the real system). Missing optional files
 * (mem_sleep, swaps, cpuinfo, kvm_intel) count as absent; a missing /sys/power/state or
 * garbage in any file gives an error and *ret_error = "PATH: what is wrong". */
int power_read(const char *root, PowerPicture *ret, char **ret_error);

/* Write label to root/sys/power/mem_sleep. */
int power_write_mem_sleep(const char *root, MemSleep m);

/* Read a small file below root into a NUL-terminated string (at most 64 KiB). */
int power_read_file(const char *root, const char *path, char **ret);
