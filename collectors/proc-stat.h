#pragma once

#include <stdint.h>

#include "common/util.h"

/* /proc/stat, the part the energy model needs: the aggregate `cpu` line and the number of
 * `cpuN` lines (online CPUs). Parsing is a pure function over the file's text. */

typedef struct ProcStat {
        /* Jiffies (USER_HZ) of the aggregate line, in the kernel's order. Fields an old kernel
         * does not print are 0: iowait/irq/softirq came in 2.6, steal in 2.6.11, guest in
         * 2.6.24, guest_nice in 2.6.33. */
        uint64_t user, nice, system, idle, iowait, irq, softirq, steal, guest, guest_nice;
        unsigned n_fields; /* how many of the fields above the line had (4..10) */
        unsigned n_cpus;   /* `cpuN` lines */
} ProcStat;

/* Parses the text of /proc/stat. -EINVAL when there is no aggregate `cpu` line, it has fewer than
 * 4 fields or a field is not a number, or a `cpuN` line is malformed; -ERANGE on overflow. Fields
 * beyond the tenth (a future kernel) are ignored. */
int proc_stat_parse(const char *text, ProcStat *ret) WARN_UNUSED;

/* Busy jiffies, the time the CPUs ran: user + nice + system + irq + softirq. guest and
 * guest_nice are already counted in user and nice, so they are not added again. Stolen time (a
 * VM's CPU waiting while the hypervisor runs something else) is not busy: the CPU did not run for
 * this host, so it drew no power for it, and the units' CPU time (the root cgroup's user_usec +
 * system_usec, cgroup.h) leaves it out too; counting it made the model's utilisation higher
 * than the attribution's on a VM under contention. */
uint64_t proc_stat_busy(const ProcStat *s);
/* All the time of all the CPUs: busy + idle + iowait + steal. */
uint64_t proc_stat_total(const ProcStat *s);
