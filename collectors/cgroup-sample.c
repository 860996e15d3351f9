/* Reading the CPU time of the live set and counting each nanosecond once: every cgroup's delta
 * split into its reported children's and its own self, residuals folded into the nearest unit,
 * negative selfs carried, and the lazy reading that leaves quiet children of a slice unread
 * (the rules are in cgroup.h). */

#include "collectors/cgroup.h"
#include "collectors/cgroup-internal.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

#include "common/log.h"

static int node_open(const CgroupSet *s, Node *n)
{
        char path[4096];
        int r, fd;

        if (s->mode == CGROUP_MODE_V2) {
                r = path_fmt(path, sizeof(path), "%s%s/cpu.stat", s->root, n->path);
                if (r < 0)
                        return r;
                fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
                if (fd >= 0) {
                        n->fd = fd;
                        n->cpuacct = false;
                        return 0;
                }
                if (errno != ENOENT || !s->cpuacct)
                        return -errno;
                /* No cpu.stat (before Linux 4.15): the same group in the v1 cpuacct tree. */
                r = path_fmt(path, sizeof(path), "%s%s/cpuacct.usage", s->cpuacct, n->path);
        } else
                r = path_fmt(path, sizeof(path), "%s%s/cpuacct.usage", s->root, n->path);
        if (r < 0)
                return r;
        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return -errno;
        n->fd = fd;
        n->cpuacct = true;
        return 0;
}

static int node_read_usage(const CgroupSet *s, Node *n, uint64_t *ret_ns)
{
        char buf[1024];
        int r;

        if (n->fd < 0) {
                r = node_open(s, n);
                if (r < 0)
                        return r;
        }
        ssize_t len = procfs_pread_once(n->fd, buf, sizeof(buf));
        if (len < 0)
                return (int)len;
        if (n->cpuacct) {
                uint64_t ns;
                r = parse_u64(buf, &ns);
                if (r < 0)
                        return r;
                *ret_ns = ns;
                return 0;
        }
        uint64_t usec;
        /* The root's usage_usec counts stolen time on some kernels (see
         * cgroup_root_cpu_stat_parse); a cgroup's is its tasks' own CPU time. */
        r = n->type == NODE_ROOT ? cgroup_root_cpu_stat_parse(buf, &usec)
                                 : cgroup_cpu_stat_parse(buf, &usec, NULL, NULL);
        if (r == -ENODATA && n->type == NODE_ROOT && s->cpuacct) {
                /* The root's cpu.stat has usage_usec only since Linux 5.8 or so. */
                (void)close(n->fd);
                n->fd = -1;
                char path[4096];
                r = path_fmt(path, sizeof(path), "%s/cpuacct.usage", s->cpuacct);
                if (r < 0)
                        return r;
                n->fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
                if (n->fd < 0)
                        return -errno;
                n->cpuacct = true;
                return node_read_usage(s, n, ret_ns);
        }
        if (r < 0)
                return r;
        if (usec > UINT64_MAX / NSEC_PER_USEC)
                return -ERANGE;
        *ret_ns = usec * NSEC_PER_USEC;
        return 0;
}

/* Whether the cgroup directory of n is still the one it was. */
static bool node_dir_exists(const CgroupSet *s, const Node *n)
{
        char path[4096];
        struct stat st;
        if (path_fmt(path, sizeof(path), "%s%s", s->root, n->path) < 0)
                return false;
        return stat(path, &st) >= 0 && (uint64_t)st.st_ino == n->ino;
}

/* Reads the nodes not read yet in this interval. Returns whether one vanished. */
static bool read_nodes(CgroupSet *s)
{
        bool vanished = false;
        for (size_t i = 0; i < s->n_nodes; i++) {
                Node *n = &s->nodes[i];
                uint64_t ns;

                if (n->read_ok || n->skipped)
                        continue;
                int r = node_read_usage(s, n, &ns);
                if (r < 0) {
                        /* ENODEV: the cgroup was removed under an open fd; ENOENT: the file
                         * could not be opened, which is a vanished cgroup unless the directory is
                         * still there (a cgroup without cpu.stat: unreadable, not gone). */
                        if (r == -ENODEV || (r == -ENOENT && !node_dir_exists(s, n))) {
                                vanished = true;
                                log_debug("cgroup: %s%s vanished", s->root, n->path);
                        } else
                                log_debug("cgroup: reading %s%s: %s", s->root, n->path,
                                          strerror(-r));
                        if (n->fd >= 0)
                                (void)close(n->fd);
                        n->fd = -1;
                        /* Its next reading is a new baseline: the CPU time of this interval
                         * stays with its parent, so counting it later would count it twice. */
                        n->have = false;
                        n->fresh = false;
                        n->delta_ns = 0;
                        continue;
                }
                n->read_ok = true;
                if (n->have) {
                        n->fresh = false;
                        n->delta_ns = ns >= n->usage_ns ? ns - n->usage_ns : 0;
                } else {
                        n->fresh = true;
                        n->delta_ns = 0;
                }
                n->quiet = !n->fresh && n->delta_ns == 0;
                n->usage_ns = ns;
                n->have = true;
        }
        return vanished;
}

static void compute(CgroupSet *s)
{
        /* Parents come before their children (pre-order): a parent's sums are cleared before its
         * children add to them. */
        for (size_t i = 0; i < s->n_nodes; i++) {
                Node *n = &s->nodes[i];
                n->child_ns = 0;
                n->self_ns = 0;
                if (n->read_ok && !n->fresh && n->parent != NONE)
                        s->nodes[n->parent].child_ns += n->delta_ns;
        }
        /* Each self, and the selfs of slices and other cgroups folded into the nearest unit above
         * them (its own self is computed first: it comes first) or into the residual. */
        uint64_t residual_ns = 0;
        for (size_t i = 0; i < s->n_nodes; i++) {
                Node *n = &s->nodes[i];
                if (n->skipped)
                        goto fold; /* its baseline, carry and debt wait for its next reading */
                if (!n->read_ok || n->fresh) {
                        n->carry_ns = 0;
                        s->orphan_debt_ns += n->lazy_debt_ns;
                        n->lazy_debt_ns = 0;
                        n->lazy_age = 0;
                        goto fold;
                }
                int64_t raw = (int64_t)n->delta_ns - (int64_t)n->child_ns + n->carry_ns;
                if (n->withheld) {
                        /* Some children unread: what the ones read do not explain may be theirs,
                         * so it is held back until they are read (or released as the slice's
                         * own then), never counted twice. */
                        n->lazy_debt_ns += raw;
                        n->carry_ns = 0;
                        n->lazy_age++;
                        goto fold;
                }
                raw += n->lazy_debt_ns;
                n->lazy_debt_ns = 0;
                n->lazy_age = 0;
                if (raw >= 0) {
                        n->self_ns = (uint64_t)raw;
                        n->carry_ns = 0;
                } else {
                        /* Read skew: a child grew between its read and its parent's. Repay it
                         * from the next interval, but never more than one interval's worth. */
                        n->carry_ns = raw < -(int64_t)n->delta_ns ? -(int64_t)n->delta_ns : raw;
                }
        fold:
                if (i == 0 || (n->type != NODE_SLICE && n->type != NODE_OTHER))
                        continue;
                if (n->fold == NONE)
                        residual_ns += n->self_ns;
                else
                        s->nodes[n->fold].self_ns += n->self_ns;
        }

        Node *root = &s->nodes[0];
        s->host = (CgroupHost){
                .valid = root->read_ok,
                .usage_ns = root->usage_ns,
                .delta_ns = root->read_ok ? root->delta_ns : 0,
                .outside_ns = root->self_ns,
        };
        if (s->orphan_debt_ns > 0)
                s->host.residual_ns += (uint64_t)s->orphan_debt_ns;
        s->orphan_debt_ns = 0;
        s->host.residual_ns += residual_ns;
        for (size_t k = 0; k < s->n_units; k++) {
                Node *n = &s->nodes[s->unit_node[k]];
                CgroupUnit *u = &s->units[k];
                u->usage_ns = n->usage_ns;
                u->delta_ns = n->read_ok ? n->delta_ns : 0;
                u->self_ns = n->self_ns;
                u->fresh = n->read_ok && n->fresh;
        }
}

int cgroup_read_descendants(CgroupSet *s, uint64_t *ret)
{
        /* Room for every line to come: since 6.11 cgroup.stat has a nr_subsys_<name> line per
         * controller (about 490 bytes with every one of today's), and a read that fills the
         * buffer is refused (ENOBUFS), which would stop new cgroups from being seen. */
        char buf[4096];
        if (s->stat_fd < 0)
                return -ENOENT;
        ssize_t n = procfs_pread_once(s->stat_fd, buf, sizeof(buf));
        if (n < 0)
                return (int)n;
        const char *p = strstr(buf, "nr_descendants ");
        if (!p || (p != buf && p[-1] != '\n'))
                return -ENODATA;
        const char *end;
        return cgroup_parse_line_u64(p + strlen("nr_descendants "), &end, ret);
}

/* Marks what is left unread in this interval: the quiet children of a lazy slice, and everything
 * below a node left unread (pre-order: parents come first). */
static void lazy_plan(CgroupSet *s)
{
        for (size_t i = 0; i < s->n_nodes; i++) {
                Node *n = &s->nodes[i];
                const Node *p = i > 0 ? &s->nodes[n->parent] : NULL;
                n->read_ok = n->skipped = n->withheld = false;
                n->child_ns = 0; /* for lazy_check */
                /* A slice due for a full read reads everything below it, nested slices too. */
                n->full = (p && p->full) ||
                          (n->type == NODE_SLICE &&
                           cgroup_refresh_due(n->lazy_age, CGROUP_FULL_REFRESH, n->lazy_debt_ns));
                n->lazy = s->opts.lazy && n->type == NODE_SLICE && n->have && !n->full;
                if (p)
                        n->skipped = p->skipped || (p->lazy && n->quiet && n->have);
        }
}

static bool descends_from(const CgroupSet *s, size_t i, size_t ancestor)
{
        for (size_t k = s->nodes[i].parent; k != NONE; k = s->nodes[k].parent)
                if (k == ancestor)
                        return true;
        return false;
}

/* After the first reads: for each lazy slice that left children unread, whether the children read
 * explain its delta (with what it already holds back, see compute), within
 * 2 ms + 5% of its delta. If not, its unread children are read now. Returns whether any was. */
static bool lazy_check(CgroupSet *s)
{
        bool more = false;
        /* child_ns was cleared by lazy_plan. */
        for (size_t i = 1; i < s->n_nodes; i++) {
                Node *n = &s->nodes[i];
                Node *p = &s->nodes[n->parent];
                if (!p->lazy || p->skipped)
                        continue;
                if (n->skipped)
                        p->withheld = true;
                else if (n->read_ok && !n->fresh)
                        p->child_ns += n->delta_ns;
        }
        for (size_t i = 0; i < s->n_nodes; i++) {
                Node *p = &s->nodes[i];
                if (!p->withheld)
                        continue;
                bool explained = false;
                if (p->read_ok && !p->fresh) {
                        int64_t debt = p->lazy_debt_ns + (int64_t)p->delta_ns -
                                       (int64_t)p->child_ns + p->carry_ns;
                        int64_t tol = (int64_t)(2 * NSEC_PER_MSEC + p->delta_ns / 20);
                        explained = debt <= tol && debt >= -tol;
                }
                if (explained)
                        continue;
                p->withheld = false;
                for (size_t k = i + 1; k < s->n_nodes; k++) {
                        Node *d = &s->nodes[k];
                        if (!(d->skipped || d->withheld) || !descends_from(s, k, i))
                                continue;
                        more |= d->skipped;
                        d->skipped = d->withheld = false; /* all of it is read now */
                }
        }
        return more;
}

int cgroup_set_sample(CgroupSet *s)
{
        bool rescan = false;
        uint64_t desc;
        int r;

        assert(s);

        bool counted = cgroup_read_descendants(s, &desc) >= 0;
        if (counted) {
                if (s->have_descendants && desc != s->descendants)
                        rescan = true;
                s->descendants = desc;
                s->have_descendants = true;
        }
        /* Without the count (cgroup v1) the safety net is all there is for a new cgroup, and
         * where the walk found cgroups below units, which no node reads, the removal of one of
         * them answers no ENODEV: a new cgroup made in the same interval leaves the count as it
         * was, and only the safety net finds it. */
        unsigned every = s->opts.rescan_every;
        if ((!counted || s->unread_cgroups > 0) && every > CGROUP_RESCAN_EVERY_UNCOUNTED)
                every = CGROUP_RESCAN_EVERY_UNCOUNTED;
        if (every > 0 && ++s->since_scan >= every)
                rescan = true;
        if (rescan) {
                r = cgroup_set_scan(s);
                if (r < 0)
                        return r;
        }

        lazy_plan(s);
        bool vanished = read_nodes(s);
        if (lazy_check(s))
                vanished |= read_nodes(s);
        if (vanished) {
                /* Drop what vanished and pick up what replaced it (a restarted service). The
                 * nodes kept are not read again; the rest, those left unread included, are. */
                r = cgroup_set_scan(s);
                if (r < 0)
                        return r;
                (void)read_nodes(s);
        }
        compute(s);

        if (s->opts.baseline_processes)
                for (size_t i = 0; i < s->n_units; i++)
                        if (s->units[i].fresh) {
                                const ProcSample *ps;
                                size_t np;
                                r = cgroup_set_unit_processes(s, i, &ps, &np);
                                if (r < 0)
                                        log_debug("cgroup: processes of %s: %s",
                                                  s->units[i].unit.display, strerror(-r));
                        }
        return 0;
}

const CgroupUnit *cgroup_set_units(const CgroupSet *s, size_t *ret_n)
{
        assert(s);
        if (ret_n)
                *ret_n = s->n_units;
        return s->units;
}

void cgroup_set_host(const CgroupSet *s, CgroupHost *ret)
{
        assert(s);
        assert(ret);
        *ret = s->host;
}
