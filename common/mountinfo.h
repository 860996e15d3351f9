#pragma once

#include <stddef.h>

#include "common/util.h"

/* Where the cgroup trees are mounted, from /proc/self/mountinfo: one parser for the daemon's
 * collectors and for the CLI (joules run makes its own cgroup). */

/* From a mountinfo text: the first cgroup2 mount whose root is "/", and the v1 hierarchy holding
 * the cpuacct controller. Either output may be NULL; a missing mount leaves "" there. Returns 0
 * when at least one of those asked for was found, -ENOENT otherwise. */
int mountinfo_cgroups(const char *text, char *ret_v2, size_t v2size, char *ret_cpuacct,
                      size_t cpuacct_size) WARN_UNUSED;

/* mountinfo_cgroups over <procfs>/self/mountinfo, read whole however many mounts there
 * are. -ENOENT when neither asked-for mount is there. */
int mountinfo_read_cgroups(const char *procfs, char *ret_v2, size_t v2size, char *ret_cpuacct,
                           size_t cpuacct_size) WARN_UNUSED;
