#pragma once

/* Helpers for the tests that use real processes in real cgroups (test-cgroup-real, test-units,
 * test-procfs). Include after <cmocka.h>. */

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "collectors/procfs.h"
#include "common/mountinfo.h"
#include "common/util.h"

/* Whether this process can make cgroups: root, and a writable cgroup2 mount (its path in v2).
 * Otherwise *why says what is missing. */
static inline bool real_cgroup_possible(char *v2, size_t size, const char **why)
{
        char buf[64 * 1024];
        if (geteuid() != 0) {
                *why = "not root";
                return false;
        }
        ssize_t n = read_text("/proc/self/mountinfo", buf, sizeof(buf));
        if (n < 0 || mountinfo_cgroups(buf, v2, size, NULL, 0) < 0) {
                *why = "no cgroup2 mount";
                return false;
        }
        if (access(v2, W_OK) < 0) {
                *why = "cgroup2 mount not writable";
                return false;
        }
        return true;
}

/* Moves pid into the cgroup directory dir. */
static inline void real_cgroup_join(const char *dir, pid_t pid)
{
        char path[4200], text[32];
        snprintf(path, sizeof(path), "%s/cgroup.procs", dir);
        snprintf(text, sizeof(text), "%d\n", (int)pid);
        int fd = open(path, O_WRONLY | O_CLOEXEC);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
        close(fd);
}

/* rmdir, retried while the cgroup is busy (EBUSY until a killed child is fully gone). */
static inline void real_cgroup_remove(const char *path)
{
        for (int i = 0; i < 50; i++) {
                if (rmdir(path) == 0 || errno == ENOENT)
                        return;
                usleep(20000);
        }
        fprintf(stderr, "could not rmdir %s: %m\n", path);
}

/* Uses ms milliseconds of this process's CPU time. */
static inline void burn_ms(unsigned ms)
{
        struct timespec a, b;
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &a);
        do {
                for (volatile int i = 0; i < 100000; i++)
                        ;
                clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &b);
        } while ((uint64_t)(b.tv_sec - a.tv_sec) * 1000 +
                         (uint64_t)((b.tv_nsec - a.tv_nsec) / 1000000) <
                 ms);
}
