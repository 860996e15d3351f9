#pragma once

/* What the collectors/cgroup*.c files share and nothing else sees: the live set's layout (one
 * Node per cgroup walked) and the few functions one file calls in another. The rules themselves
 * are in collectors/cgroup.h. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "collectors/cgroup.h"
#include "collectors/procfs.h"

#define NONE SIZE_MAX

/* ---- the live set ---- */

typedef enum NodeType {
        NODE_ROOT,
        NODE_SLICE,
        NODE_UNIT,  /* reported: a CgroupUnit */
        NODE_OTHER, /* a cgroup that is no unit; residual */
} NodeType;

typedef struct Node {
        char *path; /* relative to the root: "" for the root itself, else "/a/b" */
        uint64_t ino;
        NodeType type;
        CgroupUnitId id; /* NODE_UNIT */
        size_t parent;   /* NONE for the root */
        size_t fold;     /* NODE_SLICE/OTHER: the unit its self goes to, NONE: unattributed */
        size_t unit;     /* NODE_UNIT: index into units */

        /* Directories whose cgroup.procs hold this unit's processes (NODE_UNIT only). */
        char **procs_paths;
        int *procs_fds;
        size_t n_procs;
        /* During a walk: the open fd of its own cgroup.procs taken over from the node it replaces
         * (same path, same inode), plus one (0: none), until add_procs_path hands it on. */
        int kept_procs_fd1;
        ProcTracker *tracker;
        /* The unit's PIDs as last read from its cgroup.procs files, and how many intervals ago:
         * reading cgroup.procs costs more than the processes' own counters, so it is read again
         * only when the processes seen do not explain the unit's CPU time, when one of them
         * is gone, or every CGROUP_PROCS_REFRESH intervals (CGROUP_QUIET_REFRESH while
         * list_debt_ns, the unit's CPU time they did not show since, is within
         * CGROUP_QUIET_DEBT_NS). */
        pid_t *pids;
        size_t n_pids;
        unsigned pids_age;
        int64_t list_debt_ns;
        bool pids_stale;
        unsigned full_age; /* its active intervals (calls) since all its processes were read */
        int64_t debt_ns;   /* see cgroup_explained */

        int fd;       /* usage file, -1 until opened */
        bool cpuacct; /* fd is cpuacct.usage (ns), not cpu.stat */
        bool have;    /* usage_ns is a baseline from an earlier interval */
        bool read_ok; /* read in this interval */
        bool fresh;   /* first reading in this interval */
        uint64_t usage_ns;
        uint64_t delta_ns;
        uint64_t child_ns;
        int64_t carry_ns; /* negative self carried to the next interval */
        uint64_t self_ns;

        /* Lazy reading (see cgroup.h). */
        bool quiet;           /* its last reading showed no CPU time since the one before */
        bool skipped;         /* left unread in this interval */
        bool lazy;            /* NODE_SLICE: its quiet children may be left unread this interval */
        bool full;            /* everything below it is read this interval */
        bool withheld;        /* NODE_SLICE: some were, so its self went into lazy_debt_ns */
        unsigned lazy_age;    /* intervals since all of its children were read */
        int64_t lazy_debt_ns; /* its self withheld since then */
} Node;

struct CgroupSet {
        char *root;    /* the tree walked */
        char *cpuacct; /* the v1 cpuacct mount (V2: fallback for cgroups without cpu.stat) */
        char *procfs;
        CgroupMode mode;
        CgroupOptions opts;

        Node *nodes;
        size_t n_nodes;
        CgroupUnit *units;
        size_t *unit_node; /* units[i] is nodes[unit_node[i]] */
        size_t n_units;

        int stat_fd; /* the root's cgroup.stat (V2) */
        bool have_descendants;
        uint64_t descendants;
        unsigned since_scan;
        size_t unread_cgroups; /* cgroups the last walk found below units: read by no node */
        uint64_t scans;

        CgroupHost host;
        ProcTracker *root_tracker;
        int root_procs_fd;
        pid_t *root_pids; /* the root's cgroup.procs as last read, and how many intervals ago */
        size_t n_root_pids;
        unsigned root_pids_age;
        unsigned root_full_age; /* intervals since all of the root's processes were read */
        bool root_unexplained;  /* the last interval had more kernel time than root_tolerance_ns */
        int64_t orphan_debt_ns; /* held back by slices that vanished or could not be read */

        char *buf; /* for cgroup.procs */
        size_t bufsize;
        pid_t *pids;
        size_t cap_pids;
};

/* Frees the nodes' paths, fds and trackers, then the array (cgroup.c). */
void cgroup_nodes_free(Node *nodes, size_t n);
/* Walks the tree again. Cgroups already known keep their fds and readings; vanished ones are
 * freed; new ones start fresh. The unit list is rebuilt (cgroup-scan.c). */
int cgroup_set_scan(CgroupSet *s) __attribute__((warn_unused_result));
/* nr_descendants from the root's cgroup.stat; -ENOENT without one (cgroup-sample.c). */
int cgroup_read_descendants(CgroupSet *s, uint64_t *ret) __attribute__((warn_unused_result));
