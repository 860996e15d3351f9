#pragma once

#include <linux/perf_event.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "collectors/energy.h"
#include "common/util.h"

/* The energy source `perf`: the kernel's RAPL counters through the perf `power` PMU
 * (<sysfs>/bus/event_source/devices/power/). One system-wide counter per event and package CPU
 * (cpumask; on AMD/Hygon one CPU per package even where a kernel lists one per CCD); the kernel
 * keeps 64-bit totals, so nothing wraps. The parsers of the PMU's sysfs files are pure
 * functions, exposed for table tests. */

/* A kernel cpulist ("0", "0,36", "0-3,8-11", trailing newline allowed) into at most max CPU
 * numbers, in the order written (cpus NULL: only counted). -EINVAL on malformed text, -E2BIG
 * when more than max. */
int perfpmu_parse_cpulist(const char *s, unsigned *cpus, size_t max, size_t *ret_n) WARN_UNUSED;

/* format/event: "config:LO-HI" or "config:BIT", one contiguous field of attr.config.
 * -EOPNOTSUPP for config1/config2 or split fields ("config:0-7,32-35"), -EINVAL for garbage. */
typedef struct PerfPmuFormat {
        unsigned lo, hi; /* bit range in attr.config, inclusive */
} PerfPmuFormat;
int perfpmu_parse_format(const char *s, PerfPmuFormat *ret) WARN_UNUSED;

/* events/<name>: "event=0x02" (hex or decimal) into attr.config under the given format.
 * -EOPNOTSUPP for any other term ("umask=..."), -ERANGE when the value does not fit the field,
 * -EINVAL for garbage. */
int perfpmu_parse_event(const char *s, const PerfPmuFormat *fmt, uint64_t *ret_config) WARN_UNUSED;

/* events/<name>.scale: joules per count. A power of two (the RAPL unit the kernel exposes is
 * 2^-32 J) converts exactly in integers; any other scale through long double. */
typedef struct PerfPmuScale {
        bool pow2;          /* scale == 2^exp2 exactly */
        int exp2;           /* valid when pow2: -32 for 2.3283064365386962890625e-10 */
        long double joules; /* the scale itself */
} PerfPmuScale;
/* -EINVAL unless a finite number > 0. */
int perfpmu_parse_scale(const char *s, PerfPmuScale *ret) WARN_UNUSED;

/* Raw 64-bit count -> cumulative microjoules. Exact (floor) for a power-of-two scale, rounded to
 * nearest otherwise; saturates at UINT64_MAX. Monotonic in count. */
uint64_t perfpmu_count_to_uj(const PerfPmuScale *scale, uint64_t count);

/* The system calls the source makes, behind a table so tests can inject faults or fake counters
 * (SQLite's aSyscall[]). Same contract as the syscall: an fd, or -1 with errno set. The fd is
 * read with read(2) for 8 bytes (read_format 0), so a pipe holding 8 bytes is a fake counter. */
typedef struct PerfPmuSyscalls {
        int (*perf_event_open)(struct perf_event_attr *attr, pid_t pid, int cpu, int group_fd,
                               unsigned long flags);
} PerfPmuSyscalls;

/* Test hook: replaces the system calls; NULL restores the real ones. Not thread-safe. */
void perfpmu_set_syscalls(const PerfPmuSyscalls *sc);
