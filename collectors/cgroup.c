/* The live set's lifecycle: finding the tree to walk (the cgroup2 mount, the v1 cpuacct one, or
 * the cpuacct hierarchy alone on a legacy host), opening and freeing the set, and what it tells
 * about itself. Walking the tree is cgroup-scan.c, reading and splitting CPU time
 * cgroup-sample.c, the processes and the pseudo-units cgroup-procs.c. */

#include "collectors/cgroup.h"
#include "collectors/cgroup-internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/mountinfo.h"

void cgroup_options_default(CgroupOptions *o)
{
        assert(o);
        *o = (CgroupOptions){.rescan_every = CGROUP_RESCAN_EVERY_DEFAULT,
                             .baseline_processes = true,
                             .lazy = true,
                             .root_tolerance_ns = 20 * NSEC_PER_MSEC};
}

static void node_clear(Node *n)
{
        if (!n)
                return;
        free(n->path);
        for (size_t i = 0; i < n->n_procs; i++) {
                free(n->procs_paths[i]);
                if (n->procs_fds[i] >= 0)
                        (void)close(n->procs_fds[i]);
        }
        free(n->procs_paths);
        free(n->procs_fds);
        if (n->kept_procs_fd1 > 0)
                (void)close(n->kept_procs_fd1 - 1);
        procfs_tracker_free(n->tracker);
        free(n->pids);
        if (n->fd >= 0)
                (void)close(n->fd);
        *n = (Node){.fd = -1};
}

void cgroup_nodes_free(Node *nodes, size_t n)
{
        for (size_t i = 0; i < n; i++)
                node_clear(&nodes[i]);
        free(nodes);
}

CgroupSet *cgroup_set_free(CgroupSet *s)
{
        if (!s)
                return NULL;
        cgroup_nodes_free(s->nodes, s->n_nodes);
        free(s->units);
        free(s->unit_node);
        if (s->stat_fd >= 0)
                (void)close(s->stat_fd);
        if (s->root_procs_fd >= 0)
                (void)close(s->root_procs_fd);
        procfs_tracker_free(s->root_tracker);
        free(s->root_pids);
        free(s->root);
        free(s->cpuacct);
        free(s->procfs);
        free(s->buf);
        free(s->pids);
        free(s);
        return NULL;
}

CgroupMode cgroup_set_mode(const CgroupSet *s)
{
        assert(s);
        return s->mode;
}

const char *cgroup_set_root(const CgroupSet *s)
{
        assert(s);
        return s->root;
}

uint64_t cgroup_set_scans(const CgroupSet *s)
{
        assert(s);
        return s->scans;
}

size_t cgroup_set_reads(const CgroupSet *s)
{
        size_t n = 0;
        assert(s);
        for (size_t i = 0; i < s->n_nodes; i++)
                n += s->nodes[i].read_ok;
        return n;
}

int cgroup_set_open(const JoulesRoots *roots, const CgroupOptions *opts, CgroupSet **ret)
{
        char v2[4096] = "", acct[4096] = "";
        const char *procfs = roots && roots->procfs ? roots->procfs : "/proc";
        int r;

        assert(ret);

        CgroupSet *s = calloc(1, sizeof(*s));
        if (!s)
                return -ENOMEM;
        s->stat_fd = -1;
        s->root_procs_fd = -1;
        if (opts)
                s->opts = *opts;
        else
                cgroup_options_default(&s->opts);

        r = mountinfo_read_cgroups(procfs, v2, sizeof(v2), acct, sizeof(acct));
        if (r < 0 && r != -ENOENT)
                log_debug("cgroup: reading %s/self/mountinfo: %s", procfs, strerror(-r));

        const char *tree;
        if (roots && roots->cgroupfs) {
                tree = roots->cgroupfs;
                /* A given root is a v2 tree, unless it is a v1 cpuacct hierarchy. */
                if (file_exists_in(tree, "cpu.stat") || file_exists_in(tree, "cgroup.controllers"))
                        s->mode = CGROUP_MODE_V2;
                else if (file_exists_in(tree, "cpuacct.usage"))
                        s->mode = CGROUP_MODE_V1;
                else {
                        cgroup_set_free(s);
                        return -ENOENT;
                }
        } else if (v2[0]) {
                tree = v2;
                s->mode = CGROUP_MODE_V2;
        } else if (acct[0]) {
                tree = acct;
                s->mode = CGROUP_MODE_V1;
        } else {
                cgroup_set_free(s);
                return -ENOENT;
        }

        /* Trailing slashes off, so paths are root + "/a/b". */
        s->root = strdup(tree);
        s->procfs = strdup(procfs);
        if (s->mode == CGROUP_MODE_V2 && acct[0] && !(roots && roots->cgroupfs))
                s->cpuacct = strdup(acct);
        if (!s->root || !s->procfs ||
            (s->mode == CGROUP_MODE_V2 && acct[0] && !(roots && roots->cgroupfs) && !s->cpuacct)) {
                cgroup_set_free(s);
                return -ENOMEM;
        }
        for (size_t l = strlen(s->root); l > 1 && s->root[l - 1] == '/'; l--)
                s->root[l - 1] = '\0';

        if (s->mode == CGROUP_MODE_V2) {
                char path[4096];
                r = path_fmt(path, sizeof(path), "%s/cgroup.stat", s->root);
                if (r >= 0)
                        s->stat_fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        }

        JoulesRoots pr = {.procfs = s->procfs};
        r = procfs_tracker_new(&pr, PROCFS_TRACK_SKIP_KTHREADS, &s->root_tracker);
        if (r < 0) {
                cgroup_set_free(s);
                return r;
        }

        uint64_t desc;
        if (cgroup_read_descendants(s, &desc) >= 0) {
                s->descendants = desc;
                s->have_descendants = true;
        }
        r = cgroup_set_scan(s);
        if (r < 0) {
                cgroup_set_free(s);
                return r;
        }
        log_debug("cgroup: %s tree at %s%s%s", s->mode == CGROUP_MODE_V2 ? "v2" : "v1 cpuacct",
                  s->root, s->cpuacct ? ", cpuacct fallback at " : "", s->cpuacct ?: "");
        *ret = s;
        return 0;
}
