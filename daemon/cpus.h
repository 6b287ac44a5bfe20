/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* CPU packages and their online CPUs, every path below a root directory, kept current by
 * a libudev monitor on the "cpu" subsystem. KVM TDX refuses to offline the last online
 * CPU of a package while a TD exists, and creating or tearing down a TD needs an online
 * CPU in every package. Parsers are pure; cpus_read() does the I/O; a Cpus object
 * re-reads sysfs on every uevent (the event's own contents are not trusted).
 *
 * The kernel removes cpuN/topology/ when a CPU goes offline, so the package of an offline
 * CPU is only known if the file is still there or the CPU was seen online before (a Cpus
 * object remembers). A package whose CPUs were all offline before the first read is
 * invisible: its CPUs are counted in CpuPicture.n_unknown. */

#include <stdbool.h>
#include <stddef.h>
#include <systemd/sd-event.h>

#include "macros.h"

/* CPU numbers at or above this are refused (the kernel's NR_CPUS maximum). */
#define CPUS_MAX 8192

typedef struct Cpu {
        unsigned id;
        int package;            /* physical_package_id; -1 is the kernel's "unknown" and
                                 * is kept as a package of its own */
        bool package_known;     /* false: offline, topology gone, never seen online */
        bool online;
        bool hotpluggable;      /* has an online file (cpu0 usually has none) */
} Cpu;

typedef struct CpuPackage {
        int id;
        unsigned n_cpus;
        unsigned n_online;
        unsigned lowest_cpu;
} CpuPackage;

typedef struct CpuPicture {
        Cpu *cpus;              /* the present CPUs, ascending */
        size_t n_cpus;
        CpuPackage *packages;   /* packages with at least one known CPU, ascending by id */
        size_t n_packages;
        unsigned n_unknown;     /* offline CPUs whose package is unknown */
} CpuPicture;

/* A range list as in /sys/devices/system/cpu/{online,present} ("0-3,8-11\n") -> sorted,
 * de-duplicated array. Empty text or "\n" gives n = 0 and *ret_cpus = NULL. -EINVAL on
 * syntax or a reversed range, -ERANGE for a CPU number >= CPUS_MAX. */
int cpus_parse_range_list(const char *text, unsigned **ret_cpus, size_t *ret_n);
/* Format a sorted array as a range list without newline ("0-3,8"); "" when n = 0. */
int cpus_format_range_list(const unsigned *cpus, size_t n, char **ret);
/* physical_package_id text ("1\n", "-1\n") -> id. -EINVAL on syntax, -ERANGE below -1
 * or above INT_MAX. */
int cpus_parse_package_id(const char *text, int *ret);
/* cpuN/online text ("0\n" or "1\n") -> bool. -EINVAL otherwise. */
int cpus_parse_online(const char *text, bool *ret);

/* Read the picture below root ("/" for the real system): /sys/devices/system/cpu/present,
 * then cpuN/online (missing = always online) and cpuN/topology/physical_package_id of each
 * present CPU (missing is an error only for an online CPU). On error *ret_error (if given)
 * = "PATH: what is wrong"; *ret is untouched. */
int cpus_read(const char *root, CpuPicture *ret, char **ret_error);
/* cpus_read(), but an offline CPU without topology keeps its package from previous. */
int cpus_reread(const char *root, const CpuPicture *previous, CpuPicture *ret, char **ret_error);

/* Free what a picture holds and zero it. */
void cpu_picture_done(CpuPicture *p);
/* Same CPUs, packages and online states. */
bool cpu_picture_equal(const CpuPicture *a, const CpuPicture *b);
/* Every known package has an online CPU: creating (and tearing down) a TD can work. */
bool cpu_picture_can_create_td(const CpuPicture *p);
/* The package with this id, or NULL. */
const CpuPackage *cpu_picture_find_package(const CpuPicture *p, int id);
/* How many known packages have no online CPU. */
size_t cpu_picture_n_empty(const CpuPicture *p);
/* Ids of the packages without an online CPU in p that are not empty in except (NULL: all
 * empty ones), as "1,3"; "" when there are none. For log messages and the status. */
int cpu_picture_format_empty(const CpuPicture *p, const CpuPicture *except, char **ret);

typedef struct Cpus Cpus;

/* Called after a re-read when the picture changed; old is the previous picture. */
typedef void (*CpusChangedHandler)(void *userdata, const CpuPicture *old, const CpuPicture *now);

/* A monitor below root; no I/O until cpus_start(). handler may be NULL. */
int cpus_new(sd_event *e, const char *root, CpusChangedHandler handler, void *userdata, Cpus **ret);
Cpus *cpus_free(Cpus *c);
DEFINE_TRIVIAL_CLEANUP_FUNC(Cpus *, cpus_free)

/* Read the picture and watch udev "cpu" events. Without a udev monitor (none can be made,
 * e.g. no netlink) this fails only when root is "/": a fake tree sends no events anyway. */
int cpus_start(Cpus *c, char **ret_error);
/* Re-read now; the handler runs if the picture changed. On error the old one is kept. */
int cpus_refresh(Cpus *c, char **ret_error);
/* The current picture (empty before cpus_start()). */
const CpuPicture *cpus_picture(const Cpus *c);
/* Whether a udev monitor is watching. */
bool cpus_monitoring(const Cpus *c);
/* The error of the last failed re-read after an event, NULL if the last one worked. */
const char *cpus_last_error(const Cpus *c);
/* Write "1" to the online file of the lowest CPU of every package without an online
 * CPU, then re-read (cpus_refresh()). Tries every package; returns the first error with
 * *ret_error = "PATH: what is wrong"; *ret_onlined (if given) counts the writes that
 * worked. */
int cpus_online_empty_packages(Cpus *c, unsigned *ret_onlined, char **ret_error);
