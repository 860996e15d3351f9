#pragma once

#include <sys/types.h>

#include "collectors/cgroup.h"
#include "collectors/roots.h"
#include "common/util.h"

/* PID -> systemd unit.
 *
 * With the real /proc (roots->procfs NULL or "/proc"), libsystemd answers first:
 * sd_pid_get_user_unit (a user unit, its uid taken from the user@UID.service that
 * sd_pid_get_unit names), else sd_pid_get_unit (a system unit). libsystemd always reads the real
 * /proc/PID/cgroup (its 0:: line on unified and hybrid hosts), so with any other procfs root, and
 * whenever libsystemd answers nothing, <procfs>/PID/cgroup is parsed (procfs_cgroup_unit_path)
 * and mapped with cgroup_path_to_unit, which follows systemd's own rules. Unlike libsystemd, the
 * fallback does not strip PID 1's cgroup prefix (relevant only inside a container whose PID 1 is
 * systemd, where libsystemd answers anyway).
 *
 * Both read /proc by PID number: a PID that exits and is reused between the caller learning it
 * and this call names the new process. Callers that hold a PID from SCM_CREDENTIALS should look
 * it up at once. */

typedef enum UnitsSource {
        UNITS_SOURCE_LIBSYSTEMD,
        UNITS_SOURCE_PROCFS,
} UnitsSource;

/* -ENXIO: the process is in no unit (the root cgroup, a slice, a non-unit cgroup);
 * -ESRCH: no such process; -EINVAL: pid <= 0. ret_source may be NULL. */
int units_pid_get_unit(const JoulesRoots *roots, pid_t pid, CgroupUnitId *ret,
                       UnitsSource *ret_source) WARN_UNUSED;

/* The fallback alone: parses a /proc/PID/cgroup text. */
int units_from_cgroup_text(const char *text, CgroupUnitId *ret) WARN_UNUSED;
