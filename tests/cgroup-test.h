#pragma once

/* What the cgroup collector's tests share (test-cgroup.c: the fake tree; test-cgroup-real.c:
 * real cgroups). */

#include <stdint.h>
#include <string.h>

#include "collectors/cgroup.h"

#define MS(x) ((uint64_t)(x)*1000) /* in usec, for cpu.stat */
#define NS(x) ((uint64_t)(x)*1000000)

static inline const CgroupUnit *unit_by_display(const CgroupUnit *u, size_t n, const char *display,
                                                size_t *ret_i)
{
        for (size_t i = 0; i < n; i++)
                if (strcmp(u[i].unit.display, display) == 0) {
                        if (ret_i)
                                *ret_i = i;
                        return &u[i];
                }
        return NULL;
}
