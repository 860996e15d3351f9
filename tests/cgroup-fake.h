#pragma once

/* The fake cgroup tree of test-cgroup.c and test-cgroup-lazy.c: cgroupfs and procfs files in a
 * temporary directory (setup_tree), written in place between samples as the kernel would show
 * them. Include after cmocka.h. */

#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "collectors/cgroup.h"
#include "collectors/units.h"

static char tmp[4096];

static inline void put(const char *rel, const char *text)
{
        char path[8192];
        snprintf(path, sizeof(path), "%s/%s", tmp, rel);
        /* in place, so cached fds see the new text, as on cgroupfs */
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0)
                fail_msg("open %s: %m", path);
        assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
        close(fd);
}

static inline void mkdirs(const char *rel)
{
        char cmd[8400];
        snprintf(cmd, sizeof(cmd), "mkdir -p '%s/%s'", tmp, rel);
        assert_int_equal(system(cmd), 0);
}

static inline void rmtree(const char *rel)
{
        char cmd[8400];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s/%s'", tmp, rel);
        assert_int_equal(system(cmd), 0);
}

/* A cgroup in the fake tree: cpu.stat with usage_usec, and cgroup.procs. */
static inline void cg(const char *path, uint64_t usage_usec, const char *procs)
{
        char rel[4096], text[256];
        snprintf(rel, sizeof(rel), "cg%s", path);
        mkdirs(rel);
        snprintf(rel, sizeof(rel), "cg%s/cpu.stat", path);
        snprintf(text, sizeof(text),
                 "usage_usec %" PRIu64 "\nuser_usec %" PRIu64 "\nsystem_usec %" PRIu64
                 "\nnice_usec 0\n",
                 usage_usec, usage_usec / 2, usage_usec - usage_usec / 2);
        put(rel, text);
        snprintf(rel, sizeof(rel), "cg%s/cgroup.procs", path);
        put(rel, procs ? procs : "");
}

static inline void descendants(unsigned n)
{
        char text[128];
        snprintf(text, sizeof(text), "nr_descendants %u\nnr_dying_descendants 0\n", n);
        put("cg/cgroup.stat", text);
}

static inline void proc(pid_t pid, const char *comm, unsigned flags, uint64_t ticks)
{
        char rel[64], text[512];
        snprintf(rel, sizeof(rel), "proc/%d", (int)pid);
        mkdirs(rel);
        snprintf(rel, sizeof(rel), "proc/%d/stat", (int)pid);
        snprintf(text, sizeof(text),
                 "%d (%s) S 1 %d %d 0 -1 %u 0 0 0 0 %" PRIu64 " 0 0 0 20 0 1 0 100 0 0\n", (int)pid,
                 comm, (int)pid, (int)pid, flags, ticks);
        put(rel, text);
}

static inline int setup_tree(void **state)
{
        (void)state;
        const char *base = getenv("JOULES_TEST_TMP");
        if (base)
                (void)mkdir(base, 0755);
        snprintf(tmp, sizeof(tmp), "%s/cgroup-XXXXXX", base ? base : "/tmp");
        return mkdtemp(tmp) ? 0 : -1;
}

static inline int teardown_tree(void **state)
{
        char cmd[8300];
        (void)state;
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp);
        return system(cmd) == 0 ? 0 : -1;
}

static inline CgroupSet *open_fake_lazy(unsigned rescan_every, bool lazy)
{
        char cgroot[8192], procroot[8192];
        snprintf(cgroot, sizeof(cgroot), "%s/cg", tmp);
        snprintf(procroot, sizeof(procroot), "%s/proc", tmp);
        JoulesRoots roots = {.sysfs = "/sys", .procfs = procroot, .cgroupfs = cgroot};
        CgroupOptions o;
        cgroup_options_default(&o);
        o.rescan_every = rescan_every;
        o.lazy = lazy;
        CgroupSet *s;
        assert_int_equal(cgroup_set_open(&roots, &o, &s), 0);
        assert_int_equal(cgroup_set_mode(s), CGROUP_MODE_V2);
        return s;
}

static inline CgroupSet *open_fake(unsigned rescan_every)
{
        return open_fake_lazy(rescan_every, true);
}
