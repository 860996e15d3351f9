#pragma once

/* What the perf-events tests share (test-perf-events.c: pure functions and a fake kernel;
 * test-perf-events-real.c: real counters on real cgroups): writing a file (and fd-count.h), and
 * the injected system calls (errors, fake multiplexed groups), which the real per-process fallback
 * test uses too. Include after cmocka.h. */

#include <linux/perf_event.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "collectors/perf-events.h"
#include "common/util.h"
#include "fd-count.h"

static inline void write_file(const char *path, const char *text)
{
        FILE *f = fopen(path, "we");
        assert_non_null(f);
        assert_true(fputs(text, f) >= 0);
        assert_int_equal(fclose(f), 0);
}

/* ---- injected system calls ---- */

static struct {
        int open_errno;          /* fail every open with this */
        bool fail_hardware_only; /* ... only for hardware events */
        bool fail_cgroup_only;   /* ... only with PERF_FLAG_PID_CGROUP, else the real call */
        bool fail_inherit_group; /* EINVAL for inherit with PERF_FORMAT_GROUP */
        bool fake;               /* succeed with /dev/null fds; reads are scripted */
        unsigned opens, cgroup_opens, last_cpu_max;
        int last_group_fd_ok; /* members named the leader */
        uint64_t read_format;
        bool inherit;
        uint64_t en, run, value; /* what every fake group reads back */
        uint64_t nr_override;
        int offline_cpu;  /* 1 + a CPU whose cgroup opens fail with ENODEV (offline) */
        int detached_cpu; /* 1 + a CPU whose groups the kernel broke up (it went offline) */
        int fd_cpu[1024], fd_member[1024]; /* per fake fd: its CPU, its index in its group */
        int members;
} inj;

static int leader_fd = -1;

static inline int inj_open(struct perf_event_attr *attr, pid_t pid, int cpu, int group_fd,
                           unsigned long flags)
{
        bool hw = attr->type != PERF_TYPE_SOFTWARE && attr->type != PERF_TYPE_TRACEPOINT;
        if (inj.fail_inherit_group && attr->inherit && (attr->read_format & PERF_FORMAT_GROUP)) {
                errno = EINVAL;
                return -1;
        }
        if (inj.open_errno && (!inj.fail_hardware_only || hw) &&
            (!inj.fail_cgroup_only || (flags & PERF_FLAG_PID_CGROUP))) {
                errno = inj.open_errno;
                return -1;
        }
        if (inj.offline_cpu && cpu == inj.offline_cpu - 1) {
                errno = ENODEV; /* perf_event_open(): !cpuctx->online */
                return -1;
        }
        if (!inj.fake)
                return (int)syscall(SYS_perf_event_open, attr, pid, cpu, group_fd, flags);
        assert_true(flags & PERF_FLAG_FD_CLOEXEC);
        inj.opens++;
        if (flags & PERF_FLAG_PID_CGROUP) {
                inj.cgroup_opens++;
                if ((unsigned)cpu + 1 > inj.last_cpu_max)
                        inj.last_cpu_max = (unsigned)cpu + 1;
        }
        inj.read_format = attr->read_format;
        inj.inherit = attr->inherit;
        int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        assert_in_range(fd, 0, ELEMENTSOF(inj.fd_cpu) - 1);
        inj.fd_cpu[fd] = cpu;
        inj.fd_member[fd] = group_fd == -1 ? 0 : ++inj.members;
        if (group_fd == -1) {
                leader_fd = fd;
                inj.members = 0;
        } else if (group_fd != leader_fd)
                inj.last_group_fd_ok = -1;
        return fd;
}

static inline ssize_t inj_read(int fd, void *buf, size_t count)
{
        if (!inj.fake)
                return read(fd, buf, count);
        uint64_t *v = buf;
        if ((inj.read_format & PERF_FORMAT_GROUP) && inj.detached_cpu &&
            inj.fd_cpu[fd] == inj.detached_cpu - 1) {
                /* A former member read alone: a group of one (read_size shrank with nr_siblings).
                 */
                if (count < 4 * sizeof(uint64_t)) {
                        errno = ENOSPC;
                        return -1;
                }
                v[0] = 1;
                v[1] = inj.en;
                v[2] = inj.run;
                v[3] = inj.value * (uint64_t)(inj.fd_member[fd] + 1);
                return 4 * sizeof(uint64_t);
        }
        if (inj.read_format & PERF_FORMAT_GROUP) {
                size_t nr = count / sizeof(uint64_t) - 3;
                v[0] = inj.nr_override ? inj.nr_override : nr;
                v[1] = inj.en;
                v[2] = inj.run;
                for (size_t e = 0; e < nr; e++)
                        v[3 + e] = inj.value * (e + 1);
                return (ssize_t)count;
        }
        v[0] = inj.value;
        v[1] = inj.en;
        v[2] = inj.run;
        return 3 * sizeof(uint64_t);
}

static const PerfEventsSyscalls inj_syscalls = {.perf_event_open = inj_open, .read = inj_read};

static inline void inj_reset(void)
{
        memset(&inj, 0, sizeof(inj));
        leader_fd = -1;
        perf_events_set_syscalls(&inj_syscalls);
}
