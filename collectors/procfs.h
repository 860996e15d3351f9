#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "collectors/roots.h"
#include "common/util.h"

/* Per-process readings from procfs: pure parsers for /proc/PID/{stat,schedstat,cgroup} and
 * self/mountinfo, and a tracker that follows a given set of processes with cached file
 * descriptors. Every path is built from roots->procfs.
 *
 * Which counter a process's CPU time comes from. /proc/PID/schedstat is per task: for a process
 * it is the main thread only, so a 4-thread worker would show a quarter of its CPU time. Summing
 * /proc/PID/task/N/schedstat needs a directory read per process plus one read per thread, and
 * still loses the time of threads that already exited. /proc/PID/stat utime+stime is the whole
 * thread group, exited threads included (signal->utime/stime), and the same read gives the start
 * time (PID reuse), flags (kernel threads), ppid and comm. Its unit is the clock tick (USER_HZ,
 * 100 per second), so a single interval is quantised to 10 ms per process; the counter is
 * cumulative, so nothing is lost over longer windows, and the per-process figures only split a
 * service's cgroup CPU time (which is exact) between its processes. Measured on the build
 * machine: stat 0.8 us with a cached fd (1.8 us open+read+close), schedstat 0.3 us; the
 * ENVIRONMENT figures were 6 us and 1.3-2 us. Correctness for threaded processes wins. */

#define PROCFS_PF_KTHREAD 0x00200000u /* include/linux/sched.h */
#define PROCFS_COMM_MAX   64 /* comm is 16 bytes, but workqueue workers show "kworker/0:1-events" */

typedef struct ProcStat {
        pid_t pid;
        char comm[PROCFS_COMM_MAX]; /* between the first '(' and the LAST ')', truncated */
        char state;                 /* R S D Z T t X I ... */
        pid_t ppid;
        unsigned flags; /* PF_* */
        uint64_t utime; /* clock ticks, whole thread group */
        uint64_t stime;
        uint64_t num_threads;
        uint64_t starttime; /* clock ticks after boot (field 22) */
} ProcStat;

/* Parses one /proc/PID/stat line. -EINVAL on anything malformed. */
int procfs_stat_parse(const char *text, ProcStat *ret) WARN_UNUSED;
/* A kernel thread: PF_KTHREAD. Equivalent to "PID 2 or a child of kthreadd" on the host, but
 * also right inside a PID namespace, where PID 2 can be an ordinary process. */
bool procfs_stat_is_kthread(const ProcStat *st);

typedef struct ProcSchedstat {
        uint64_t run_ns;  /* time on CPU */
        uint64_t wait_ns; /* time runnable, waiting for a CPU */
        uint64_t timeslices;
} ProcSchedstat;

int procfs_schedstat_parse(const char *text, ProcSchedstat *ret) WARN_UNUSED;

/* From a /proc/PID/cgroup text, the path of one hierarchy, copied into buf:
 * controller NULL or "": the cgroup v2 line "0::/path";
 * otherwise a v1 line whose controller list holds that controller ("cpuacct" matches
 * "3:cpu,cpuacct:/x"; "name=systemd" matches the named hierarchy).
 * A " (deleted)" suffix (a process in a removed v2 cgroup) is dropped.
 * -ENODATA: no such line; -ENAMETOOLONG: buf too small; -EINVAL: malformed. */
int procfs_cgroup_parse(const char *text, const char *controller, char *buf,
                        size_t size) WARN_UNUSED;
/* The path systemd names units by: the v2 line, unless it says "/" while a v1 name=systemd line
 * says more (a legacy host where cgroup2 is mounted but systemd does not use it). */
int procfs_cgroup_unit_path(const char *text, char *buf, size_t size) WARN_UNUSED;

/* One pread at offset 0 of a procfs/cgroupfs/sysfs file, NUL-terminated: these files produce
 * their whole text in one read, so this costs one syscall where a read-until-EOF loop costs two.
 * -ENOBUFS when the text fills the buffer (it may be cut short: retry with a larger one). */
ssize_t procfs_pread_once(int fd, char *buf, size_t size) WARN_UNUSED;

/* Reads and parses <procfs>/PID/stat once (no caching). */
int procfs_read_stat(const JoulesRoots *roots, pid_t pid, ProcStat *ret) WARN_UNUSED;

/* Parses a cgroup.procs text (one decimal PID per line) into pids (at most max); 0 lines (tasks
 * without a PID the reader can see) are left out. Returns how many were stored; -EINVAL on a
 * malformed line; -ENOBUFS when there are more than max. */
int procfs_parse_pid_list(const char *text, pid_t *pids, size_t max) WARN_UNUSED;

/* ---- The tracker ----
 *
 * Follows exactly the processes it is handed each time (for example a service's cgroup.procs),
 * keeping one open fd to /proc/PID/stat for each. Processes not handed in are forgotten and their
 * fd closed, so the cost is per sampled process, never per process on the host.
 *
 * Identity. A cached fd stays bound to the process it was opened for: once that process is
 * reaped, reads fail with ESRCH even if the PID number has been reused. The tracker then reopens
 * by number and compares the start time; a different start time (or the ESRCH) means a new
 * process with a new baseline, never a delta across two processes.
 *
 * First sighting. A process seen for the first time has delta 0 (its counter is a baseline),
 * unless it started after the previous PID list was taken (its start time, on CLOCK_BOOTTIME, is
 * later; with procfs_tracker_sample every call hands a new list): then it was not in that list,
 * all of its CPU time was used since, and it counts as the delta.
 *
 * If the fd limit is reached (EMFILE/ENFILE), processes are read without caching their fd: still
 * right, just slower. The daemon should raise RLIMIT_NOFILE's soft limit to the hard limit. */

typedef struct ProcSample {
        pid_t pid;
        pid_t ppid;
        char comm[PROCFS_COMM_MAX];
        char state;
        bool kthread;
        bool fresh;         /* first sample of this process */
        uint64_t starttime; /* clock ticks after boot: with pid, the process's identity */
        uint64_t cpu_ns;    /* utime+stime of the whole process, cumulative */
        uint64_t delta_ns;  /* since this process's previous sample (see "First sighting") */
        uint64_t n_threads;
} ProcSample;

typedef struct ProcTracker ProcTracker;

enum {
        /* Kernel threads are recognised once (one stat read), then never read again and left out
         * of the results: for the root cgroup, where the daemon wants only user processes. */
        PROCFS_TRACK_SKIP_KTHREADS = 1 << 0,
};

int procfs_tracker_new(const JoulesRoots *roots, unsigned flags, ProcTracker **ret) WARN_UNUSED;
/* Accepts NULL; returns NULL. Closes every cached fd. */
ProcTracker *procfs_tracker_free(ProcTracker *t);

/* Samples the processes in pids (any order; duplicates and PIDs <= 0 ignored). Processes that are
 * gone by the time they are read are left out. *ret points into the tracker and stays valid until
 * the next call or procfs_tracker_free; samples are sorted by PID. Returns 0 or -errno (-ENOMEM).
 */
int procfs_tracker_sample(ProcTracker *t, const pid_t *pids, size_t n, const ProcSample **ret,
                          size_t *ret_n) WARN_UNUSED;
enum {
        /* Leave unread the processes whose last reading showed no CPU time since the one before
         * (a sleeping process's counters do not move: reading them is most of the cost of a busy
         * service with many idle workers). They keep their baselines, so what they use meanwhile
         * shows in their delta when they are next read; it comes late, and what a process uses
         * between its last reading and its exit (or its leaving the list) is not seen at all. The
         * caller decides whether that is good enough (cgroup.c compares the processes read with
         * the cgroup's own CPU time) and otherwise calls procfs_tracker_sample_rest. */
        PROCFS_SAMPLE_SKIP_IDLE = 1 << 0,
        /* pids was just read from its source (see First sighting); without it, the list is the
         * caller's cached copy. */
        PROCFS_SAMPLE_NEW_LIST = 1 << 1,
};

/* procfs_tracker_sample with PROCFS_SAMPLE_* flags (procfs_tracker_sample is NEW_LIST alone). */
int procfs_tracker_sample_lazy(ProcTracker *t, const pid_t *pids, size_t n, unsigned flags,
                               const ProcSample **ret, size_t *ret_n) WARN_UNUSED;
/* Reads the processes the last procfs_tracker_sample_lazy skipped and adds them to its results
 * (sorted by PID again). Nothing to do when none was skipped. */
int procfs_tracker_sample_rest(ProcTracker *t, const ProcSample **ret, size_t *ret_n) WARN_UNUSED;

/* What the current round (a sample call and its rest) did. */
typedef struct ProcTrackerCounts {
        size_t skipped; /* left unread (idle) and not read by a rest call since */
        size_t gone;    /* found gone (or unreadable) and forgotten */
        size_t coarse;  /* deltas in clock ticks (stat), each up to 2 ticks short of the truth */
} ProcTrackerCounts;
void procfs_tracker_counts(const ProcTracker *t, ProcTrackerCounts *ret);

/* The results of the last procfs_tracker_sample (empty before the first). */
const ProcSample *procfs_tracker_last(const ProcTracker *t, size_t *ret_n);
/* Number of cached fds (for tests and the daemon's own statistics). */
size_t procfs_tracker_open_fds(const ProcTracker *t);
