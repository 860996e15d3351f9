#pragma once

/* How many file descriptors this process has open: the tests of what opens counters
 * (perf-events, proc-events, the power PMU) check that nothing is left open. Include after
 * cmocka.h. */

#include <dirent.h>
#include <stddef.h>

static inline size_t count_fds(void)
{
        DIR *d = opendir("/proc/self/fd");
        assert_non_null(d);
        size_t n = 0;
        while (readdir(d))
                n++;
        (void)closedir(d);
        return n;
}
