#pragma once

/* Where the collectors read the kernel's files. Every hardware or kernel path is built from one of
 * these roots, so tests point them at fake trees laid out exactly like the kernel's. */
typedef struct JoulesRoots {
        const char *sysfs;    /* "/sys" */
        const char *procfs;   /* "/proc" */
        const char *cgroupfs; /* cgroup v2 mount point; NULL: found from procfs/self/mountinfo */
} JoulesRoots;

#define JOULES_ROOTS_DEFAULT ((JoulesRoots){.sysfs = "/sys", .procfs = "/proc", .cgroupfs = NULL})
