/* The processes of the live set: each unit's PIDs from its cgroup.procs files (read again only
 * when the processes seen do not explain the unit's CPU time), and the root's own processes that
 * split its self into the kernel and unattributed pseudo-units (the rule is in cgroup.h). */

#include "collectors/cgroup.h"
#include "collectors/cgroup-internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Appends the PIDs of one cgroup.procs to *pids. */
static int read_procs(CgroupSet *s, int *fdp, const char *rel, pid_t **pids, size_t *n, size_t *cap)
{
        int r;

        if (*fdp < 0) {
                char path[4096];
                r = path_fmt(path, sizeof(path), "%s%s/cgroup.procs", s->root, rel);
                if (r < 0)
                        return r;
                *fdp = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
                if (*fdp < 0)
                        return -errno;
        }
        /* cgroup.procs is a seq_file with one record per PID, and one read returns at most one
         * page of it (seq_read_iter in fs/seq_file.c fills a PAGE_SIZE buffer): read on until
         * EOF, or a cgroup of more than about 680 processes loses the rest. */
        size_t len = 0;
        for (;;) {
                if (!s->buf || len + 1 >= s->bufsize) {
                        size_t size = s->buf ? s->bufsize * 2 : 4096;
                        char *b = realloc(s->buf, size);
                        if (!b)
                                return -ENOMEM;
                        s->buf = b;
                        s->bufsize = size;
                }
                size_t want = s->bufsize - 1 - len;
                ssize_t k = pread(*fdp, s->buf + len, want, (off_t)len);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0) {
                        r = -errno;
                        (void)close(*fdp);
                        *fdp = -1;
                        return r;
                }
                len += (size_t)k;
                /* A read stops short of a page (4 KiB or more) only at the end, or when the next
                 * PID (12 bytes at most) would not fit: one shorter than half of it, and than what
                 * was asked for, was the end, so the usual small list costs one read, not two. */
                if (k == 0 || ((size_t)k < want && k < 2048))
                        break;
        }
        s->buf[len] = '\0';
        /* At most one PID per two bytes ("1\n"). */
        size_t max = strlen(s->buf) / 2 + 1;
        if (*n + max > *cap) {
                size_t c = *cap ? *cap : 64;
                while (c < *n + max)
                        c *= 2;
                pid_t *q = realloc(*pids, c * sizeof(pid_t));
                if (!q)
                        return -ENOMEM;
                *pids = q;
                *cap = c;
        }
        r = procfs_parse_pid_list(s->buf, *pids + *n, *cap - *n);
        if (r < 0)
                return r;
        *n += (size_t)r;
        return 0;
}

static int unit_pids(CgroupSet *s, size_t i, size_t *ret_n)
{
        assert(i < s->n_units);
        Node *node = &s->nodes[s->unit_node[i]];
        size_t n = 0;
        for (size_t k = 0; k < node->n_procs; k++) {
                int r = read_procs(s, &node->procs_fds[k], node->procs_paths[k], &s->pids, &n,
                                   &s->cap_pids);
                /* A sub-cgroup that vanished has no processes left. A threaded one refuses
                 * reads of its cgroup.procs (EOPNOTSUPP, cgroup_procs_start in
                 * kernel/cgroup/cgroup.c): the threaded domain above it lists its processes. */
                if (r < 0 && r != -ENOENT && r != -ENODEV && r != -EOPNOTSUPP)
                        return r;
        }
        *ret_n = n;
        return 0;
}

int cgroup_set_unit_pids(CgroupSet *s, size_t i, pid_t **ret, size_t *ret_n)
{
        size_t n;
        assert(s);
        assert(ret);
        assert(ret_n);
        if (i >= s->n_units)
                return -EINVAL;
        int r = unit_pids(s, i, &n);
        if (r < 0)
                return r;
        pid_t *copy = malloc((n ? n : 1) * sizeof(pid_t));
        if (!copy)
                return -ENOMEM;
        if (n > 0)
                memcpy(copy, s->pids, n * sizeof(pid_t));
        *ret = copy;
        *ret_n = n;
        return 0;
}

static int cmp_pid(const void *a, const void *b)
{
        pid_t x = *(const pid_t *)a, y = *(const pid_t *)b;
        return (x > y) - (x < y);
}

/* Keeps the first n PIDs just read into s->pids as a cached list, sorted: the tracker wants them
 * in order and would otherwise sort the same list at every sample until the next refresh. */
static int keep_pids(const CgroupSet *s, size_t n, pid_t **list, size_t *ret_n)
{
        pid_t *copy = realloc(*list, (n ? n : 1) * sizeof(pid_t));
        if (!copy)
                return -ENOMEM;
        if (n > 0)
                memcpy(copy, s->pids, n * sizeof(pid_t));
        if (n > 1)
                qsort(copy, n, sizeof(pid_t), cmp_pid);
        *list = copy;
        *ret_n = n;
        return 0;
}

/* The processes' deltas, and those of the ones read before (not new in the list). */
static void sum_deltas(const ProcSample *ps, size_t n, uint64_t *ret_all, uint64_t *ret_known)
{
        *ret_all = *ret_known = 0;
        for (size_t k = 0; k < n; k++) {
                *ret_all += ps[k].delta_ns;
                if (!ps[k].fresh)
                        *ret_known += ps[k].delta_ns;
        }
}

int cgroup_set_unit_processes(CgroupSet *s, size_t i, const ProcSample **ret, size_t *ret_n)
{
        const ProcSample *ps;
        size_t n, np;
        int r;

        assert(s);
        if (i >= s->n_units)
                return -EINVAL;
        Node *node = &s->nodes[s->unit_node[i]];
        unsigned flags = 0;
        /* The list is quiet while neither its debt nor the processes' says anything ran unseen
         * (time of a listed process left unread, still to show, could cancel a newcomer's). */
        int64_t list_debt = node->list_debt_ns;
        if (llabs(node->debt_ns) > llabs(list_debt))
                list_debt = node->debt_ns;
        if (!node->pids || node->pids_stale ||
            cgroup_refresh_due(node->pids_age, CGROUP_PROCS_REFRESH, list_debt)) {
                r = unit_pids(s, i, &n);
                if (r < 0)
                        return r;
                r = keep_pids(s, n, &node->pids, &node->n_pids);
                if (r < 0)
                        return r;
                node->pids_age = 0;
                node->list_debt_ns = 0;
                flags |= PROCFS_SAMPLE_NEW_LIST;
        } else {
                node->pids_age++;
        }
        if (!node->tracker) {
                JoulesRoots roots = {.procfs = s->procfs};
                r = procfs_tracker_new(&roots, 0, &node->tracker);
                if (r < 0)
                        return r;
        }
        /* Only the processes that ran last time are read, while they explain the unit's own CPU
         * time (cgroup_explained); the idle ones are read too when they do not, when the PID list
         * is suspect, and every CGROUP_FULL_REFRESH active intervals of the unit (up to
         * CGROUP_QUIET_REFRESH while they explain it to within CGROUP_QUIET_DEBT_NS). */
        if (!node->pids_stale &&
            !cgroup_refresh_due(node->full_age, CGROUP_FULL_REFRESH, node->debt_ns))
                flags |= PROCFS_SAMPLE_SKIP_IDLE;
        r = procfs_tracker_sample_lazy(node->tracker, node->pids, node->n_pids, flags, &ps, &np);
        if (r < 0)
                return r;
        /* The debts take what the processes known before showed: a process new in the list
         * brings all its CPU time since it started, which was the debts' already (unexplained
         * then), and counting it would cancel as much of what is still unseen. */
        uint64_t self = s->units[i].self_ns, seen = 0, seen_known = 0;
        sum_deltas(ps, np, &seen, &seen_known);
        ProcTrackerCounts c;
        procfs_tracker_counts(node->tracker, &c);
        if (c.skipped > 0 && !cgroup_explained(&node->debt_ns, self, seen_known, c.coarse)) {
                r = procfs_tracker_sample_rest(node->tracker, &ps, &np);
                if (r < 0)
                        return r;
                procfs_tracker_counts(node->tracker, &c);
                sum_deltas(ps, np, &seen, &seen_known);
        }
        /* A process the list lacks shows here once it runs: a debt within CGROUP_QUIET_DEBT_NS
         * since the list was read says none ran (more than that), so the list can wait. */
        node->list_debt_ns = cgroup_debt_add(node->list_debt_ns, self, seen_known);
        if (c.skipped == 0) {
                /* Every listed process was read: what they leave unexplained is processes the
                 * list lacks (new ones, or exited ones whose time stays with the cgroup). Stat
                 * figures move in clock ticks (10 ms): leave that much slack. */
                node->debt_ns = 0;
                node->full_age = 0;
                node->pids_stale = c.gone > 0 || self > seen + self / 10 + 10 * NSEC_PER_MSEC;
        } else {
                node->full_age++;
                node->pids_stale = c.gone > 0;
        }
        *ret = ps;
        *ret_n = np;
        return 0;
}

int cgroup_set_sample_pseudo(CgroupSet *s, CgroupPseudo *ret)
{
        const ProcSample *ps;
        size_t n = 0, np;
        int r;

        assert(s);
        assert(ret);

        /* The root's processes, lazily as for a unit (cgroup_set_unit_processes): the ones that
         * ran last time each interval, all of them and a new list every CGROUP_FULL_REFRESH and
         * CGROUP_PROCS_REFRESH intervals, and both at once after an interval whose outside time
         * they left unexplained by more than opts.root_tolerance_ns (a new or waking process;
         * kernel threads and interrupts are the rest of that time, see cgroup.h). */
        bool all = s->root_unexplained;
        bool list = !s->root_pids || s->root_unexplained;
        if (++s->root_full_age >= CGROUP_FULL_REFRESH)
                all = true;
        if (++s->root_pids_age >= CGROUP_PROCS_REFRESH)
                list = true;
        unsigned flags = 0;
        if (list) {
                r = read_procs(s, &s->root_procs_fd, "", &s->pids, &n, &s->cap_pids);
                if (r < 0)
                        return r;
                r = keep_pids(s, n, &s->root_pids, &s->n_root_pids);
                if (r < 0)
                        return r;
                s->root_pids_age = 0;
                flags |= PROCFS_SAMPLE_NEW_LIST;
        }
        if (all)
                s->root_full_age = 0;
        else
                flags |= PROCFS_SAMPLE_SKIP_IDLE;
        r = procfs_tracker_sample_lazy(s->root_tracker, s->root_pids, s->n_root_pids, flags, &ps,
                                       &np);
        if (r < 0)
                return r;
        ProcTrackerCounts c;
        procfs_tracker_counts(s->root_tracker, &c);
        if (c.gone > 0)
                s->root_pids_age = CGROUP_PROCS_REFRESH; /* the list is out of date */
        uint64_t user = 0;
        for (size_t i = 0; i < np; i++)
                user += ps[i].delta_ns;

        CgroupPseudo p = {.root_user_ns = user};
        cgroup_split_outside(s->host.outside_ns, user, s->host.residual_ns, &p.kernel_ns,
                             &p.unattributed_ns);
        s->root_unexplained = p.kernel_ns > s->opts.root_tolerance_ns;
        *ret = p;
        return 0;
}

const ProcSample *cgroup_set_root_processes(const CgroupSet *s, size_t *ret_n)
{
        assert(s);
        return procfs_tracker_last(s->root_tracker, ret_n);
}
