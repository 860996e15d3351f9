#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "collectors/roots.h"
#include "common/util.h"

/* Configurable perf event counters (cycles, instructions, ...) per service or per process.
 *
 * Events. A comma-separated list of libpfm4 event names ("cycles,instructions",
 * "perf::TASK-CLOCK", "inst_retired:any_p"), each encoded once with pfm_get_os_event_encoding
 * (PFM_PLM0|PFM_PLM3, PFM_OS_PERF_EVENT_EXT), user and kernel counted.
 *
 * Targets. A service is a cgroup v2 directory, counted with PERF_FLAG_PID_CGROUP: one group per
 * online CPU (the list's first event leads, the others follow, so all are scheduled together),
 * which counts every task of the cgroup and of its descendants while it runs on that CPU. The
 * kernel resolves that fd against the hierarchy the perf_event controller is bound to: the v2
 * tree when perf_event is not mounted as a v1 controller (as on the build machine's hybrid layout,
 * where it works), the v1 perf_event tree otherwise, where systemd creates no service cgroups. When
 * the kernel refuses the v2 directory while it accepts the events themselves, the target falls
 * back to per-process counting (PERF_TARGET_CGROUP_PROCESSES): one group per thread listed in
 * cgroup.threads at that moment, with inherit=1, so everything those threads fork or clone later
 * is counted too. Processes moved into the cgroup afterwards (not forked from a counted one) are
 * not counted in that mode, except that an empty cgroup is looked at again on each read until it
 * has threads. A single process (PERF_TARGET_PROCESS) is counted the same way: its threads at add
 * time, inherit=1.
 *
 * Counts. Cumulative from the moment a target was added (perf has no lifetime totals), summed
 * over CPUs or threads, each group scaled for multiplexing: count * time_enabled / time_running.
 * Under multiplexing a scaled count is an estimate and can step back a little between reads:
 * callers taking deltas clamp at 0. Counters of exited threads and of removed cgroups keep their
 * final values until the target is removed. Reading costs one read(2) per group (per CPU for a
 * cgroup, per thread for processes): about 0.7 us each on the build machine.
 *
 * File descriptors. One per event per group: a cgroup costs n_events * online CPUs, so the daemon
 * should raise RLIMIT_NOFILE with many services. Two more per online CPU watch for hot-unplug.
 *
 * CPU hotplug. The online CPUs (<sysfs>/devices/system/cpu/online) are read for each cgroup added
 * and by perf_events_update_cpus(), which the caller runs now and then. The kernel never counts
 * again on a group whose CPU went offline, even once the CPU is back (suspend takes every non-boot
 * CPU down and up), and refuses to open one on an offline CPU (ENODEV). So an update closes the
 * cgroup groups on CPUs gone, or gone and back, keeping their final counts in the target's sum,
 * and opens a group on each online CPU that lacks one, for every cgroup added before. A CPU that
 * went down and came back between two updates is known by its watch: two dummy software events
 * opened on it as a group, which the kernel breaks up as it does the cgroups' groups (without the
 * privilege for CPU-wide events there is no watch, and only groups of two or more events show it,
 * when read). Until the update, what a returning CPU runs is not counted; nothing is counted twice.
 *
 * Errors are -errno. Where the kernel refuses an event (ENOENT, EOPNOTSUPP, ENODEV from
 * perf_event_open: no hardware PMU, as in most VMs) the error is -EOPNOTSUPP; EACCES/EPERM give
 * -EACCES; in both cases perf_events_reason() says which event and why, for the caller to log
 * once and fall back to CPU-time weights. Logging here is debug level only. */

#define PERF_EVENTS_DEFAULT_LIST "cycles,instructions"
#define PERF_EVENTS_MAX          8   /* events per list */
#define PERF_EVENTS_NAME_MAX     128 /* NUL included */
#define PERF_EVENTS_REASON_MAX   512

struct perf_event_attr;

/* ---- Pure functions ---- */

/* value * time_enabled / time_running in 128-bit integer math, saturating at UINT64_MAX; 0 when
 * time_running is 0 (the group never ran, nothing can be estimated). */
uint64_t perf_events_scale(uint64_t value, uint64_t time_enabled, uint64_t time_running);
/* The growth of a scaled count since *high, the highest it has read so far, which it then
 * becomes. A multiplexed count is an estimate and can step back a little between reads; counted
 * from the highest, a run 100, 95, 105 grows by 5, not by 0 and then 10. */
uint64_t perf_events_advance(uint64_t *high, uint64_t count);

/* Encodes one libpfm4 event name into *ret (zeroed first; only type, config*, exclude_* and size
 * are set). Initialises libpfm4 on first use. On failure -EINVAL (or -ENOMEM, or -EOPNOTSUPP when
 * libpfm4 itself cannot be initialised) and reason (may be NULL) names the event and gives
 * pfm_strerror()'s text. */
int perf_events_encode(const char *name, struct perf_event_attr *ret, char *reason,
                       size_t reason_size) WARN_UNUSED;

/* ---- System calls, behind a table so tests can inject faults or fake counters ---- */

/* Same contracts as the system calls: an fd or a byte count, or -1 with errno set. A group leader
 * is read with PERF_FORMAT_GROUP|TOTAL_TIME_ENABLED|TOTAL_TIME_RUNNING:
 *   { u64 nr; u64 time_enabled; u64 time_running; u64 value[nr]; } */
typedef struct PerfEventsSyscalls {
        int (*perf_event_open)(struct perf_event_attr *attr, pid_t pid, int cpu, int group_fd,
                               unsigned long flags);
        ssize_t (*read)(int fd, void *buf, size_t count);
} PerfEventsSyscalls;

/* Test hook: replaces the system calls; NULL restores the real ones. Not thread-safe. */
void perf_events_set_syscalls(const PerfEventsSyscalls *sc);

/* ---- Event set and targets ---- */

typedef enum PerfTargetMode {
        PERF_TARGET_CGROUP,           /* PERF_FLAG_PID_CGROUP, one group per online CPU */
        PERF_TARGET_CGROUP_PROCESSES, /* fallback: the cgroup's threads, inherit=1 */
        PERF_TARGET_PROCESS,          /* one process: its threads, inherit=1 */
        _PERF_TARGET_MODE_MAX,
} PerfTargetMode;

typedef struct PerfEvents PerfEvents;
typedef struct PerfTarget PerfTarget;

const char *perf_target_mode_to_string(PerfTargetMode m);

/* Parses and encodes the event list (NULL or "": PERF_EVENTS_DEFAULT_LIST). Names are trimmed of
 * white space. Nothing is opened yet. roots may be NULL (JOULES_ROOTS_DEFAULT); its strings must
 * outlive the set. -EINVAL with reason for an empty name or one libpfm4 cannot encode, -E2BIG for
 * more than PERF_EVENTS_MAX events, -ENAMETOOLONG for a name of PERF_EVENTS_NAME_MAX or more. */
int perf_events_new(const char *list, const JoulesRoots *roots, PerfEvents **ret, char *reason,
                    size_t reason_size) WARN_UNUSED;
/* Closes every target's counters and frees the set. Accepts NULL; returns NULL. */
PerfEvents *perf_events_free(PerfEvents *pe);

size_t perf_events_n(const PerfEvents *pe);
/* The i-th event's name as configured. */
const char *perf_events_name(const PerfEvents *pe, size_t i);
/* Whether the i-th event needs a hardware PMU (anything but software and tracepoint events). */
bool perf_events_is_hardware(const PerfEvents *pe, size_t i);

/* Whether the kernel accepts every event: opens each once on the calling thread (disabled) and
 * closes it. 0; -EOPNOTSUPP when an event is refused for want of a PMU (hardware events in a VM);
 * -EACCES for want of privilege; another -errno otherwise. On failure perf_events_reason() says
 * which event and why. The add functions fail the same way. */
int perf_events_probe(PerfEvents *pe) WARN_UNUSED;
/* Why the last failing call of this set failed ("" when none has): for example
 * "cycles: perf_event_open: No such file or directory (no hardware PMU visible; running in a
 * VM?)". Valid until the next call on the set. */
const char *perf_events_reason(const PerfEvents *pe);

/* Starts counting a cgroup: path relative to the cgroup v2 root (roots->cgroupfs, or the first
 * cgroup2 mount in <procfs>/self/mountinfo), as in /proc/PID/cgroup ("/system.slice/x.service";
 * the leading '/' is optional). Falls back to per-process counting as described above.
 * -ENOENT: no such cgroup or no cgroup2 mount; -EOPNOTSUPP/-EACCES: see perf_events_probe.
 * *ret belongs to the set; release it with perf_events_remove. */
int perf_events_add_cgroup(PerfEvents *pe, const char *path, PerfTarget **ret) WARN_UNUSED;
/* Starts counting one process and everything it forks from now on: a group per thread listed in
 * <procfs>/PID/task (listed again until no new thread shows, so threads cloned while the groups
 * were being opened are not missed), each with inherit=1. The whole process is counted: threads
 * that existed at add time, and every thread or child created later. -ESRCH: no such process. */
int perf_events_add_pid(PerfEvents *pe, pid_t pid, PerfTarget **ret) WARN_UNUSED;
/* The same for the process identified by (pid, start_time) (<procfs>/PID/stat field 22): after the
 * opens, the start time is read again, and -ESRCH when it differs (the PID was reused) or the
 * process is gone, with nothing left open. Counts of one target therefore never mix two processes
 * that held the same PID. */
int perf_events_add_process(PerfEvents *pe, pid_t pid, uint64_t start_time,
                            PerfTarget **ret) WARN_UNUSED;
/* Stops counting (service gone, process exited): closes the target's counters. Accepts NULL;
 * returns NULL. */
PerfTarget *perf_events_remove(PerfEvents *pe, PerfTarget *t);

PerfTargetMode perf_target_mode(const PerfTarget *t);
/* Counter groups open for the target (CPUs, or threads): one read(2) each per read. */
size_t perf_target_n_groups(const PerfTarget *t);

/* Cumulative scaled counts since the target was added, one per event in list order, summed over
 * the target's groups (and the groups closed by perf_events_update_cpus()), into ret_counts
 * (n >= perf_events_n(pe), else -EINVAL). -EIO when a counter reads back malformed. */
int perf_events_read(PerfEvents *pe, PerfTarget *t, uint64_t *ret_counts, size_t n) WARN_UNUSED;

/* Follows the online CPUs (see "CPU hotplug" above): reads the online list and each watch (one
 * read(2) per CPU that returns before touching a counter), and when a CPU went or came, or a read
 * found a broken group since the last update, brings every cgroup target to one group per online
 * CPU. Costs a sysfs read and a syscall per CPU when nothing changed: run it every few seconds,
 * not every tick. Returns how many groups were opened or closed, or -errno (the online list cannot
 * be read, or a group cannot be opened: perf_events_reason() says why; the next update tries
 * again, and the counts stay right meanwhile). */
int perf_events_update_cpus(PerfEvents *pe) WARN_UNUSED;
/* Whether an update is due before its time: a read found a group that the kernel broke up, or a
 * cgroup added saw another online list. No system call. */
bool perf_events_cpus_changed(const PerfEvents *pe);
