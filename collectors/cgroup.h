#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "collectors/procfs.h"
#include "collectors/roots.h"
#include "common/util.h"

/* CPU time per systemd unit, read from the cgroup tree.
 *
 * Tree. The cgroup v2 mount (roots->cgroupfs, or the first cgroup2 mount in
 * <procfs>/self/mountinfo: /sys/fs/cgroup on a unified host, /sys/fs/cgroup/unified on a hybrid
 * one). A cgroup's CPU time is cpu.stat usage_usec; where a cgroup has no cpu.stat (kernels before
 * 4.15) the same path under the v1 cpuacct hierarchy gives cpuacct.usage (ns). Without any cgroup2
 * mount the cpuacct hierarchy itself is walked (a legacy host; units appear there only with CPU
 * accounting on, and the others' CPU time stays with their slice as a residual, see below).
 *
 * Units. Directory names are mapped the way systemd does (cg_path_get_unit, cg_unescape): slices
 * (x.slice) are containers walked into; any other valid unit name (x.service, x.scope, and the
 * rarer x.socket, x.mount, x.swap that hold helper processes) is a unit, and its sub-cgroups
 * (delegated "payload"/"supervisor", a container's own tree) are never searched for more units:
 * usage_usec of a cgroup already includes its descendants. The one exception is the user manager,
 * user@UID.service, whose tree holds the user's own units (app.slice/x.service, init.scope, ...):
 * those are reported as user units of that uid. A directory that is neither (/docker/1f3e..., a
 * hand-made group) is not a unit either; its CPU is treated like a residual.
 *
 * Display names. A system unit is shown as its name. A user unit is shown as "user@UID/NAME"
 * ("user@1000/x.service"): a '/' can never appear in a unit name, so this can never collide with a
 * system unit (':' could: user@1000:x.service is a valid instance name of user@.service), it names
 * the manager the unit belongs to the way its cgroup does, and it needs no quoting in a shell.
 *
 * Counting each CPU nanosecond once. In every interval, each cgroup's delta is split into the
 * part owned by its reported children and its own rest ("self"):
 *     self(node) = delta(node) - sum of delta(child) over its direct child cgroups.
 * An ordinary unit has no reported children, so self = delta. The user manager's self is its own
 * processes (normally none: the manager itself runs in its init.scope user unit) plus its
 * residuals. A residual is the self of a slice or of a non-unit cgroup: CPU time of units that
 * vanished during the interval, of units seen for the first time (their first reading is only a
 * baseline), or of processes placed directly in a slice. A residual goes to the nearest enclosing
 * unit (a user slice's to its user@.service), or, with none, to `unattributed`.
 * Two cgroups cannot be read at the same instant, so a child may grow between its read and its
 * parent's: a negative self is carried into the next interval (at most one interval's delta) and
 * reported as 0 now, so the figures do not drift.
 *
 * The pseudo-units (see CgroupPseudo). The root cgroup's CPU time is the whole host's (on v2 its
 * user_usec + system_usec, which the kernel sums over every CPU as user+nice+system+irq+softirq;
 * not its usage_usec, which holds stolen time on some kernels: cgroup_root_cpu_stat_parse). Its
 * self, `outside`, is the CPU time of the tasks in the root cgroup itself plus interrupt time:
 *   - kernel threads live there (PF_KTHREAD: kthreadd, PID 2, and its children);
 *   - hard and soft interrupt time is in the root's figure but in no cgroup's;
 *   - user processes that are in no unit live there too (on a host where PID 1 is not systemd,
 *     nearly all of them; under systemd, almost none).
 * The rule:
 *     unattributed_root = min(outside, sum of the CPU deltas of the root cgroup's processes
 *                                      that are not kernel threads)
 *     kernel            = outside - unattributed_root       (kernel threads + interrupts)
 *     unattributed      = unattributed_root + residuals that have no enclosing unit
 * So, each interval:
 *     sum over units of self_ns + kernel_ns + unattributed_ns == host delta_ns
 * (exactly, except for the carried negative selfs above and the time a slice holds back while
 * children are left unread, below; both are settled in a later interval, so over any run of
 * intervals each nanosecond is counted once). The root's figure comes from the per-CPU
 * tick accounting (kcpustat); with CONFIG_TICK_CPU_ACCOUNTING it moves in whole ticks (4 ms at
 * HZ=250) while a cgroup's is exact, so over one short interval the root can lag its children by
 * a tick per CPU: that is the usual source of the carries. The rule measures the small set: under
 * systemd the root holds only kernel threads, so no process is read at all (its kernel threads are
 * classified once). The root's user processes are read lazily: those that ran at their last
 * reading every interval, all of them every CGROUP_FULL_REFRESH intervals, its cgroup.procs every
 * CGROUP_PROCS_REFRESH intervals (and after one of its processes is gone); and the list and all
 * of them in the interval after one whose kernel time exceeded opts.root_tolerance_ns (2% of a CPU
 * over the interval: more than kernel threads and interrupts use on a quiet host, so the likely
 * sign of a new or waking root process). What such a process used before it was read counted as
 * kernel then; its delta (all its CPU time since it started, for a process new in the list that
 * started after the list before) goes to unattributed when it is read, as far as that interval's
 * outside time allows (the min() above: carrying the rest into later intervals would show it as
 * unattributed long after the process stopped). So a busy process new in the root is counted as
 * kernel for about one interval. A process that starts and exits between two reads of the list
 * stays counted as kernel.
 *
 * Lazy reading. A host has many services and few of them run in a given 100 ms, and reading a
 * cpu.stat costs the same whether it moved or not (about 1-2 us of kernel time each). So the
 * children of a slice (not of the root) whose last reading showed no CPU time ("quiet") are left
 * unread, with everything below them, as long as the children that were read explain the slice's
 * delta: the slice keeps what they leave unexplained in a debt, and while that stays within
 * 2 ms + 5% of the slice's delta in the interval, the slice's own self is held back in it (not
 * reported). Past that, the quiet children are read in the same interval and the debt is settled:
 * their deltas cover every interval they were left unread, and what they do not explain is the
 * slice's own (released as its residual then). A child's usage is cumulative and hierarchical,
 * so nothing is lost and nothing counted twice; the only error is timing, at most the tolerance,
 * for as long as the children stay unread. All children are read every CGROUP_FULL_REFRESH
 * intervals while the slice holds more than CGROUP_QUIET_DEBT_NS back, and every
 * CGROUP_QUIET_REFRESH intervals in any case. The root's children are always read (the root has
 * time of its own every interval: kernel threads and interrupts). CgroupOptions.lazy = false reads
 * everything always.
 *
 * Cost per interval: one pread of the root's cgroup.stat, one pread of the cpu.stat of each
 * cgroup that ran recently (cached fds) and of every cgroup at a full read (above),
 * and the root's cgroup.procs every CGROUP_PROCS_REFRESH intervals for the pseudo-units. Measured
 * on the build machine with 100 unit cgroups: 51 us per cgroup_set_sample reading all of them
 * (about 0.5 us per cgroup, warm), 21 us per cgroup_set_sample_pseudo reading every process and
 * the list (10 us of it the root's cgroup.procs), 0.3 us for an idle unit's processes; one walk of
 * that tree costs about 440 us, which is why it is not done every interval. The tree is walked
 * again only when the root's cgroup.stat nr_descendants changes (a cgroup was created or removed
 * anywhere below; kernfs does not update directory mtimes, checked here), when a cgroup read fails
 * (it vanished: ENODEV, or ENOENT with its directory gone), or every `rescan_every` intervals as a
 * safety net (a create and a remove in the same interval leave the count unchanged; on cgroupfs the
 * remove is seen through ENODEV at the cgroup's next reading). */

#include "collectors/cgroup-names.h"

/* ---- The live set ---- */

typedef struct CgroupUnit {
        CgroupUnitId unit;
        const char *path;   /* "/system.slice/nginx.service", relative to the cgroup root */
        uint64_t cgroup_id; /* inode of its directory: a new value means a new cgroup (restart) */
        uint64_t usage_ns;  /* cumulative CPU time of the cgroup and its descendants */
        uint64_t delta_ns;  /* usage_ns growth in the last interval; 0 when fresh */
        uint64_t self_ns;   /* this unit's own share of the interval: the attribution weight */
        bool fresh;         /* first reading (a baseline) */
} CgroupUnit;

typedef struct CgroupHost {
        bool valid;           /* the root's usage could be read */
        uint64_t usage_ns;    /* the whole host's CPU time, cumulative */
        uint64_t delta_ns;    /* in the last interval; 0 at the first */
        uint64_t outside_ns;  /* the root cgroup's self (see the rule above) */
        uint64_t residual_ns; /* residuals with no enclosing unit */
} CgroupHost;

typedef struct CgroupPseudo {
        uint64_t kernel_ns;
        uint64_t unattributed_ns;
        uint64_t root_user_ns; /* sum over the root cgroup's user processes, before the min() */
} CgroupPseudo;

typedef enum CgroupMode {
        CGROUP_MODE_V2, /* cpu.stat in the cgroup2 tree (cpuacct.usage for cgroups without) */
        CGROUP_MODE_V1, /* the cpuacct hierarchy, cpuacct.usage */
} CgroupMode;

typedef struct CgroupOptions {
        unsigned rescan_every;   /* intervals between safety rescans; 0: only on triggers */
        bool baseline_processes; /* read a unit's processes once when it is discovered, so its
                                  * first active interval already has per-process deltas */
        bool lazy;               /* leave a slice's idle children unread (see Lazy reading) */
        /* Kernel time in an interval above which the root's process list and all its processes
         * are read in the next one (see the pseudo-units). The daemon sets 2% of one CPU over its
         * interval; the default is that for 1 s. */
        uint64_t root_tolerance_ns;
} CgroupOptions;

/* The safety rescans where the root's cgroup.stat counts the descendants: it sees every create
 * and remove but a pair in one interval, whose removed cgroup answers ENODEV when it is next read
 * (at its parent's next full read: within CGROUP_FULL_REFRESH intervals of the new cgroup's time
 * showing in the parent's debt, CGROUP_QUIET_REFRESH at most); so the walk (about 3 ms cold for 100
 * services, 5 to 6 system calls a cgroup) is a last resort, every 10 minutes at 1 s. */
#define CGROUP_RESCAN_EVERY_DEFAULT 600
/* Where nothing counts the descendants (cgroup v1), a new cgroup is found by these rescans only;
 * and where the last walk found cgroups below units (a delegated service's, a container's), which
 * no node reads, so that removing one answers no ENODEV, they are what finds a new cgroup made in
 * the interval one of those went. */
#define CGROUP_RESCAN_EVERY_UNCOUNTED 60
/* Intervals between re-reads of a cgroup.procs: an active unit's while its processes explain its
 * CPU time (see cgroup_set_unit_processes; CGROUP_QUIET_REFRESH while they explain it to within
 * CGROUP_QUIET_DEBT_NS since the list was read: no process it lacks ran), the root's (see the
 * pseudo-units above). */
#define CGROUP_PROCS_REFRESH 10
/* Lazy reading, of cgroups (see above) and of processes (see cgroup_set_unit_processes and
 * cgroup_set_sample_pseudo): whatever was left unread is read at least once every this many
 * intervals (30 s at the default 1 s). */
#define CGROUP_FULL_REFRESH 30
/* Unless what was left unread explains itself: when the debt (the CPU time the parts read do not
 * explain, summed since everything was last read) is within this, those parts used next to
 * nothing, and a full read would settle about this much at most. It then waits up to
 * CGROUP_QUIET_REFRESH intervals (5 minutes at 1 s; for a unit's processes, intervals in which
 * the unit ran): on a host of mostly idle services and sleeping processes the full reads were
 * most of what the idle ones cost. Read skew (a busy child running between its parent's read
 * and its own) moves the debt by the time it ran in between: tens of microseconds on a quiet
 * host; where it is more, the full reads come every CGROUP_FULL_REFRESH intervals as before.
 * The debt is net, so skew of one sign can hide as much unread time: the window is small. */
#define CGROUP_QUIET_DEBT_NS ((int64_t)500 * 1000)
#define CGROUP_QUIET_REFRESH 300

typedef struct CgroupSet CgroupSet;

void cgroup_options_default(CgroupOptions *o);

/* Finds the tree (see "Tree") and walks it once. Nothing is read yet. -ENOENT: no cgroup2 or
 * cpuacct mount (or roots->cgroupfs is not a cgroup tree); opts may be NULL. */
int cgroup_set_open(const JoulesRoots *roots, const CgroupOptions *opts,
                    CgroupSet **ret) WARN_UNUSED;
/* Accepts NULL; returns NULL. */
CgroupSet *cgroup_set_free(CgroupSet *s);

CgroupMode cgroup_set_mode(const CgroupSet *s);
const char *cgroup_set_root(const CgroupSet *s); /* the directory walked */

/* One interval: rescans when triggered, reads every cgroup, computes deltas and selfs. Units whose
 * cgroup vanished are dropped from the list in this same call; new ones appear fresh. Returns 0,
 * or -errno when the root itself cannot be walked. */
int cgroup_set_sample(CgroupSet *s) WARN_UNUSED;

/* The units after the last sample, in tree order. Valid until the next cgroup_set_sample. */
const CgroupUnit *cgroup_set_units(const CgroupSet *s, size_t *ret_n);
void cgroup_set_host(const CgroupSet *s, CgroupHost *ret);
/* Number of times the tree was walked (for tests and statistics). */
uint64_t cgroup_set_scans(const CgroupSet *s);
/* Number of cgroups whose usage was read in the last interval (the others were left unread). */
size_t cgroup_set_reads(const CgroupSet *s);

/* Splits the last interval's outside time into kernel and unattributed (see the rule): samples
 * the root cgroup's user processes with an internal tracker (lazily, see above). Call once after
 * each cgroup_set_sample. */
int cgroup_set_sample_pseudo(CgroupSet *s, CgroupPseudo *ret) WARN_UNUSED;
/* The root cgroup's user processes read by the last cgroup_set_sample_pseudo (for showing what
 * `unattributed` is made of). */
const ProcSample *cgroup_set_root_processes(const CgroupSet *s, size_t *ret_n);

/* The processes of unit i (index into cgroup_set_units) with their CPU deltas: its cgroup.procs
 * and those of the cgroups folded into it (its sub-cgroups; for a user manager, its residual
 * slices too). Each unit has its own tracker, kept until the unit vanishes. Meant for the units
 * that were active in the interval only. *ret valid until the next call for this unit or
 * the next cgroup_set_sample.
 * Processes that were idle at their last reading are left out while the others explain the
 * unit's own CPU time (cgroup_explained); they are read when they do not, and every
 * CGROUP_FULL_REFRESH intervals (CGROUP_QUIET_REFRESH while the debt is within
 * CGROUP_QUIET_DEBT_NS). A left-out process has used (nearly) no CPU time; what it did
 * use shows in its delta when it is next read. The PID list itself is re-read as described at
 * CGROUP_PROCS_REFRESH. */
int cgroup_set_unit_processes(CgroupSet *s, size_t i, const ProcSample **ret,
                              size_t *ret_n) WARN_UNUSED;
/* The PIDs alone (caller frees *ret). */
int cgroup_set_unit_pids(CgroupSet *s, size_t i, pid_t **ret, size_t *ret_n) WARN_UNUSED;
