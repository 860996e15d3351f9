#pragma once

#include <stddef.h>
#include <stdint.h>

#include "common/util.h"

/* Pure functions over the cgroup tree's text: unit names as systemd spells and validates them, the
 * cgroup path of a process mapped to its unit, cpu.stat, and the pseudo-unit rule of cgroup.h.
 * No I/O: tested from tables. */

#define CGROUP_UNIT_NAME_MAX    256 /* systemd's UNIT_NAME_MAX, NUL included */
#define CGROUP_UNIT_DISPLAY_MAX (CGROUP_UNIT_NAME_MAX + 32)

typedef enum CgroupUnitKind {
        CGROUP_UNIT_SERVICE,
        CGROUP_UNIT_SCOPE,
        CGROUP_UNIT_SLICE, /* only in cgroup_name_classify(): slices are never reported as units */
        CGROUP_UNIT_OTHER, /* socket, mount, swap: units whose helper processes get a cgroup */
        _CGROUP_UNIT_KIND_MAX,
} CgroupUnitKind;

typedef struct CgroupUnitId {
        char name[CGROUP_UNIT_NAME_MAX];       /* "nginx.service", "getty@tty1.service" */
        char display[CGROUP_UNIT_DISPLAY_MAX]; /* "nginx.service", "user@1000/x.service" */
        CgroupUnitKind kind;
        int64_t uid; /* user units: the uid of their user manager; system units: -1 */
} CgroupUnitId;

const char *cgroup_unit_kind_to_string(CgroupUnitKind k);

/* cpu.stat: usage_usec (required), user_usec and system_usec (outputs may be NULL; 0 when
 * absent). -ENODATA without usage_usec, -EINVAL on a malformed number. When both are NULL the
 * lines after usage_usec (the kernel's first) are not looked at: this is read for every cgroup
 * every interval. */
int cgroup_cpu_stat_parse(const char *text, uint64_t *ret_usage_usec, uint64_t *ret_user_usec,
                          uint64_t *ret_system_usec) WARN_UNUSED;

/* The root cgroup's cpu.stat (Linux 5.8 and later): the host's CPU time in usec, taken as
 * user_usec + system_usec, which the kernel sums over every CPU as user+nice and
 * system+irq+softirq (/proc/stat's fields), the same on every version. Its usage_usec is not:
 * from 5.8 it also counted the time stolen by the hypervisor (at first guest time as well, which
 * user already holds), until 6.14 took steal out (db5fd3cf, backported to the stable series
 * in February 2025). Stolen time is time the host's CPUs did not run, so counting it would
 * make it the kernel pseudo-unit's on a VM with an older kernel. Falls back to usage_usec when
 * either key is missing. Errors as cgroup_cpu_stat_parse, and -ERANGE when the sum overflows. */
int cgroup_root_cpu_stat_parse(const char *text, uint64_t *ret_usec) WARN_UNUSED;
/* user_usec + system_usec only, -ENODATA when either is missing: the energy model's busy time,
 * which usage_usec is not everywhere (above). */
int cgroup_cpu_stat_busy_parse(const char *text, uint64_t *ret_usec) WARN_UNUSED;

/* Classifies one cgroup directory name as systemd does: after cg_unescape (a leading '_' dropped),
 * a valid unit name (unit_name_is_valid with plain names and instances). Writes the unescaped name
 * and its kind. -ENXIO when the name is no unit ("payload", "docker", "cgroup.procs"). */
int cgroup_name_classify(const char *name, size_t len, char *ret_unit, size_t size,
                         CgroupUnitKind *ret_kind) WARN_UNUSED;

/* Maps a cgroup path (as in /proc/PID/cgroup, relative to the cgroup root) to the unit that owns
 * it, like sd_pid_get_user_unit then sd_pid_get_unit:
 *   /system.slice/nginx.service[/payload]              -> nginx.service
 *   /system.slice/system-getty.slice/getty@tty1.service -> getty@tty1.service
 *   /user.slice/user-1000.slice/user@1000.service/app.slice/foo.service
 *                                                      -> foo.service, user unit of uid 1000
 *   /user.slice/user-1000.slice/user@1000.service[/app.slice] -> user@1000.service (system)
 *   /user.slice/user-1000.slice/session-3.scope        -> session-3.scope
 *   /init.scope -> init.scope;  "/", "/system.slice", "/docker/abc" -> -ENXIO
 * Names stay as systemd spells them (dev-disk-by\x2duuid-....swap), a cg_escape '_' removed.
 * ret_prefix_len (may be NULL) is the length of the prefix of path that is the unit's own cgroup.
 * -ENXIO: no unit; -EINVAL: not an absolute path. */
int cgroup_path_to_unit(const char *path, CgroupUnitId *ret, size_t *ret_prefix_len) WARN_UNUSED;

/* The pseudo-unit rule above as a pure function. */
void cgroup_split_outside(uint64_t outside_ns, uint64_t root_user_ns, uint64_t residual_ns,
                          uint64_t *ret_kernel_ns, uint64_t *ret_unattributed_ns);

/* Whether the processes read in an interval explain a unit's own CPU time well enough to leave
 * its idle processes unread (cgroup_set_unit_processes). *debt_ns carries, from one interval to
 * the next, the unit's CPU time minus what its processes showed: the unread processes' time adds
 * to it, while read skew (a process running between the cgroup's read and its own) and clock-tick
 * rounding cancel out over intervals. Explained while the debt stays within
 *     2 ms + self/20 + 20 ms per coarse (stat, clock-tick) reading;
 * the debt never goes below minus that, so a run of negative skew cannot hide later time. Returns
 * false when the rest must be read (the caller then starts a new debt). */
bool cgroup_explained(int64_t *debt_ns, uint64_t self_ns, uint64_t seen_ns, size_t coarse);

/* A debt carried over intervals: debt + self - seen, each clamped so that nothing wraps (within
 * +-2^61 ns). cgroup_explained's, and a unit's PID list's (cgroup_set_unit_processes). */
int64_t cgroup_debt_add(int64_t debt_ns, uint64_t self_ns, uint64_t seen_ns);

/* Whether what is re-read every `every` intervals (the parts of a slice or a unit left unread:
 * CGROUP_FULL_REFRESH; a unit's PID list: CGROUP_PROCS_REFRESH), last read `age` intervals ago
 * with `debt_ns` unexplained since, is due in the next interval: at `every`, or at
 * CGROUP_QUIET_REFRESH while the debt is within CGROUP_QUIET_DEBT_NS. */
bool cgroup_refresh_due(unsigned age, unsigned every, int64_t debt_ns);

/* Helpers the live set shares with the functions above. */
/* Decimal digits up to the end of the line ("nr_descendants 12\n"). */
int cgroup_parse_line_u64(const char *s, const char **ret_end, uint64_t *ret) WARN_UNUSED;
/* The uid of a cgroup directory name "user@UID.service" (n bytes), or -1. */
int64_t cgroup_user_manager_uid(const char *p, size_t n);
void cgroup_unit_id_fill(CgroupUnitId *id, const char *name, CgroupUnitKind kind, int64_t uid);
