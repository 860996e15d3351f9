#pragma once

/* What the collectors/perf-events*.c files share and nothing else sees: the layouts of a set and
 * its targets, and the few functions (prefixed pe_) one file calls in another. The rules
 * themselves are in collectors/perf-events.h. */

#include <linux/perf_event.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "collectors/perf-events.h"

/* read_format of every group: one read(2) of the leader returns all of the group's counts. */
#define PE_GROUP_FORMAT                                                                            \
        (PERF_FORMAT_GROUP | PERF_FORMAT_TOTAL_TIME_ENABLED | PERF_FORMAT_TOTAL_TIME_RUNNING)
/* Fallback for kernels that refuse PERF_FORMAT_GROUP together with inherit: one read per event. */
#define PE_SINGLE_FORMAT (PERF_FORMAT_TOTAL_TIME_ENABLED | PERF_FORMAT_TOTAL_TIME_RUNNING)

struct PerfTarget {
        PerfTargetMode mode;
        pid_t pid;           /* PERF_TARGET_PROCESS */
        uint64_t start_time; /* perf_events_add_process: with pid, the process's identity */
        char *path;          /* cgroup modes: relative to the cgroup root, no leading '/' */
        bool grouped;        /* read_format PE_GROUP_FORMAT (else PE_SINGLE_FORMAT) */
        int *fds;            /* n_groups * n_events; fds[g * n_events] leads group g */
        pid_t *at;           /* per group: its thread (process modes) or its CPU (cgroup mode) */
        size_t n_groups, cap_groups;
        /* cgroup mode: the final counts of the groups closed because their CPU went offline */
        uint64_t retired[PERF_EVENTS_MAX];
        PerfTarget *prev, *next;
};

/* A CPU's hot-unplug breaks up every group opened on it for good: perf_event_exit_cpu_context()
 * removes its events with DETACH_GROUP (they stay off, even once the CPU is back), and
 * perf_event_open() refuses an offline CPU with ENODEV (!cpuctx->online), kernel/events/core.c. A
 * watch is a group of two dummy software events on one CPU (pid -1, no cgroup): it costs nothing
 * while it runs and it remembers the break, so a CPU that went down and came back between two
 * looks (suspend takes every non-boot CPU down and up) is noticed whatever the events and however
 * idle the cgroups. Its leader's read_size shrinks from 3 to 2 u64 when the sibling is detached
 * (perf_event__header_size()), and perf_read() answers ENOSPC to a shorter buffer before it reads
 * anything: one syscall that touches no counter and sends no IPI. */
typedef struct PeWatch {
        unsigned cpu;
        int fd[2];
} PeWatch;

enum {
        PE_CPU_ONLINE = 1 << 0, /* in the last online list read */
        PE_CPU_RESET = 1 << 1,  /* went offline since the groups on it were opened */
};

struct PerfEvents {
        JoulesRoots roots;
        size_t n;
        char names[PERF_EVENTS_MAX][PERF_EVENTS_NAME_MAX];
        struct perf_event_attr attrs[PERF_EVENTS_MAX];

        bool cgroup_mode_works; /* a PERF_FLAG_PID_CGROUP open has succeeded */
        bool no_inherit_thread; /* the kernel refused attr.inherit_thread (before Linux 5.13) */
        char *cgroup_root;      /* found on first use */
        unsigned *cpus;         /* online CPUs, read at each cgroup added and each update */
        size_t n_cpus;
        uint8_t *cpu_state; /* indexed by CPU: PE_CPU_* bits */
        size_t n_cpu_state;
        /* The cgroup targets may not have a group on each CPU of cpus[], or have broken ones: the
         * list changed since the last perf_events_update_cpus(), or a read found a group that
         * the kernel broke up. */
        bool cpus_changed;
        bool cpus_incomplete; /* the last update could not do everything: the next tries again */
        PeWatch *watch;       /* one per online CPU, when the kernel lets us */
        size_t n_watch, cap_watch;

        PerfTarget *targets;
        char reason[PERF_EVENTS_REASON_MAX];
};

/* What a counter follows from the task it was opened on. */
typedef enum PeInherit {
        PE_INHERIT_NONE,
        PE_INHERIT_ALL,     /* the threads and the processes it creates afterwards */
        PE_INHERIT_THREADS, /* the threads only (attr.inherit_thread, Linux 5.13) */
} PeInherit;

/* ---- perf-events.c ---- */

/* The system calls in use: the real ones, or a test's (perf_events_set_syscalls). */
extern const PerfEventsSyscalls *pe_sc;
/* snprintf into a reason buffer (NULL: none wanted); long paths are cut, never overflow. */
void PRINTF(3, 4) pe_reason(char *buf, size_t size, const char *fmt, ...);
uint64_t pe_add_sat(uint64_t a, uint64_t b);
/* Turns a failed perf_event_open of event e into the error the caller sees, with its reason. */
int pe_open_failed(PerfEvents *pe, size_t e, int err);
/* Closes the fds that are open (>= 0) and sets them to -1. */
void pe_close_fds(int *fds, size_t n);
/* Closes a target's counters and frees it; it must not be linked. Accepts NULL. */
void pe_target_free(PerfEvents *pe, PerfTarget *t);
int pe_target_new(PerfEvents *pe, PerfTargetMode mode, PerfTarget **ret);
/* Puts a target on the set's list, once it counts. */
void pe_target_link(PerfEvents *pe, PerfTarget *t);
/* Room for one more group; returns its fds, all -1. */
int *pe_target_grow(PerfEvents *pe, PerfTarget *t);
/* Opens one group (every event, the first leading) into fds. On failure -errno of the syscall
 * (nothing left open) and *ret_event is the event that failed. */
int pe_open_group(PerfEvents *pe, pid_t pid, int cpu, unsigned long flags, PeInherit inherit,
                  bool grouped, int *fds, size_t *ret_event);
/* An fd of the cgroup directory rel (relative to the cgroup root), or -errno with the reason. */
int pe_open_cgroup_dir(PerfEvents *pe, const char *rel);
/* Adds one group's scaled counts into sums. */
int pe_read_group(PerfEvents *pe, const PerfTarget *t, const int *fds, uint64_t *sums);

/* ---- perf-events-threads.c ---- */

/* Per-process counting of the threads in the cgroup now (PERF_TARGET_CGROUP_PROCESSES). */
int pe_open_cgroup_threads(PerfEvents *pe, PerfTarget *t, int cgfd);

/* ---- perf-events-cpus.c ---- */

/* Reads the online CPUs again (for every cgroup added and by perf_events_update_cpus()). */
int pe_ensure_cpus(PerfEvents *pe);
/* Opens a watch (see PeWatch) on each online CPU that has none. */
void pe_watch_open_missing(PerfEvents *pe);
