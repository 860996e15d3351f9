#include "collectors/cgroup.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/log.h"

#define CGROUP_MAX_DEPTH 64 /* deeper directories are not walked */
#define NONE             SIZE_MAX

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
        ProcTracker *tracker;
        /* The unit's PIDs as last read from its cgroup.procs files, and how many intervals ago:
         * reading cgroup.procs costs more than the processes' own counters, so it is read again
         * only when the processes seen do not explain the unit's CPU time, when one of them
         * is gone, or every CGROUP_PROCS_REFRESH intervals. */
        pid_t *pids;
        size_t n_pids;
        unsigned pids_age;
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
        procfs_tracker_free(n->tracker);
        free(n->pids);
        if (n->fd >= 0)
                (void)close(n->fd);
        *n = (Node){.fd = -1};
}

static void nodes_free(Node *nodes, size_t n)
{
        for (size_t i = 0; i < n; i++)
                node_clear(&nodes[i]);
        free(nodes);
}

CgroupSet *cgroup_set_free(CgroupSet *s)
{
        if (!s)
                return NULL;
        nodes_free(s->nodes, s->n_nodes);
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

/* -- walking -- */

typedef struct Scan {
        CgroupSet *s;
        Node *nodes;
        size_t n, cap;
        Node *old; /* the previous nodes, sorted by path via order */
        size_t n_old;
        size_t *order;
        bool *taken;
} Scan;

static int scan_add(Scan *sc, char *path, uint64_t ino, NodeType type, size_t parent, size_t *ret)
{
        if (sc->n == sc->cap) {
                size_t c = sc->cap ? sc->cap * 2 : 64;
                Node *q = realloc(sc->nodes, c * sizeof(Node));
                if (!q)
                        return -ENOMEM;
                sc->nodes = q;
                sc->cap = c;
        }
        Node *n = &sc->nodes[sc->n];
        *n = (Node){.path = path,
                    .ino = ino,
                    .type = type,
                    .parent = parent,
                    .fold = NONE,
                    .unit = NONE,
                    .fd = -1};

        /* Keep the state of a cgroup already known: same path and same directory inode. */
        size_t lo = 0, hi = sc->n_old;
        while (lo < hi) {
                size_t mid = (lo + hi) / 2;
                int c = strcmp(sc->old[sc->order[mid]].path, path);
                if (c == 0) {
                        size_t k = sc->order[mid];
                        Node *o = &sc->old[k];
                        if (!sc->taken[k] && o->ino == ino) {
                                sc->taken[k] = true;
                                n->fd = o->fd;
                                n->cpuacct = o->cpuacct;
                                n->have = o->have;
                                n->read_ok = o->read_ok;
                                n->fresh = o->fresh;
                                n->usage_ns = o->usage_ns;
                                n->delta_ns = o->delta_ns;
                                n->carry_ns = o->carry_ns;
                                n->tracker = o->tracker;
                                n->pids = o->pids;
                                n->n_pids = o->n_pids;
                                n->pids_age = o->pids_age;
                                n->pids_stale = o->pids_stale;
                                n->full_age = o->full_age;
                                n->debt_ns = o->debt_ns;
                                n->quiet = o->quiet;
                                n->lazy_age = o->lazy_age;
                                n->lazy_debt_ns = o->lazy_debt_ns;
                                o->fd = -1;
                                o->tracker = NULL;
                                o->pids = NULL;
                        }
                        break;
                }
                if (c < 0)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        *ret = sc->n++;
        return 0;
}

static int add_procs_path(Node *unit, const char *path)
{
        char *p = strdup(path);
        if (!p)
                return -ENOMEM;
        char **pp = realloc(unit->procs_paths, (unit->n_procs + 1) * sizeof(char *));
        if (!pp) {
                free(p);
                return -ENOMEM;
        }
        unit->procs_paths = pp;
        int *fds = realloc(unit->procs_fds, (unit->n_procs + 1) * sizeof(int));
        if (!fds) {
                free(p);
                return -ENOMEM;
        }
        unit->procs_fds = fds;
        unit->procs_paths[unit->n_procs] = p;
        unit->procs_fds[unit->n_procs++] = -1;
        return 0;
}

static int cmp_str(const void *a, const void *b)
{
        return strcmp(*(char *const *)a, *(char *const *)b);
}

typedef enum WalkMode {
        WALK_CONTAINER, /* the root, a slice, or a user manager: children are classified */
        WALK_INSIDE,    /* inside a unit or a non-unit cgroup: children belong to `holder` */
} WalkMode;

/* Lists the subdirectories of root+rel, sorted. */
static int list_subdirs(const CgroupSet *s, const char *rel, char ***ret, uint64_t **ret_ino,
                        size_t *ret_n)
{
        char path[4096];
        int r = path_fmt(path, sizeof(path), "%s%s", s->root, rel);
        if (r < 0)
                return r;
        DIR *d = opendir(path);
        if (!d)
                return -errno;

        char **names = NULL;
        size_t n = 0, cap = 0;
        struct dirent *de;
        r = 0;
        while ((errno = 0, de = readdir(d))) {
                if (de->d_name[0] == '.' &&
                    (de->d_name[1] == '\0' || (de->d_name[1] == '.' && de->d_name[2] == '\0')))
                        continue;
                if (de->d_type != DT_DIR && de->d_type != DT_UNKNOWN)
                        continue;
                if (n == cap) {
                        cap = cap ? cap * 2 : 16;
                        char **q = realloc(names, cap * sizeof(char *));
                        if (!q) {
                                r = -ENOMEM;
                                break;
                        }
                        names = q;
                }
                names[n] = strdup(de->d_name);
                if (!names[n]) {
                        r = -ENOMEM;
                        break;
                }
                n++;
        }
        if (r == 0 && errno != 0)
                r = -errno;
        uint64_t *inos = NULL;
        if (r == 0 && n > 0) {
                qsort(names, n, sizeof(char *), cmp_str);
                inos = calloc(n, sizeof(uint64_t));
                if (!inos)
                        r = -ENOMEM;
        }
        /* The inode (the cgroup id on cgroupfs) tells a recreated cgroup from the old one; a
         * directory that vanished meanwhile is dropped, and a DT_UNKNOWN that is no directory. */
        size_t k = 0;
        for (size_t i = 0; r == 0 && i < n; i++) {
                struct stat st;
                if (fstatat(dirfd(d), names[i], &st, AT_SYMLINK_NOFOLLOW) < 0 ||
                    !S_ISDIR(st.st_mode)) {
                        free(names[i]);
                        continue;
                }
                inos[k] = (uint64_t)st.st_ino;
                names[k++] = names[i];
        }
        closedir(d);
        if (r < 0) {
                for (size_t i = 0; i < n; i++)
                        free(names[i]);
                free(names);
                free(inos);
                return r;
        }
        *ret = names;
        *ret_ino = inos;
        *ret_n = k;
        return 0;
}

static int walk(Scan *sc, const char *rel, unsigned depth, WalkMode mode, size_t parent,
                size_t fold, int64_t uid)
{
        char **names = NULL;
        uint64_t *inos = NULL;
        size_t n = 0;
        int r;

        if (depth >= CGROUP_MAX_DEPTH)
                return 0;
        r = list_subdirs(sc->s, rel, &names, &inos, &n);
        if (r < 0) {
                /* A directory that vanished while walking is simply not there any more. */
                if (depth > 0 && (r == -ENOENT || r == -ENODEV))
                        return 0;
                return r;
        }

        for (size_t i = 0; i < n; i++) {
                char *path = NULL;
                if (asprintf(&path, "%s/%s", rel, names[i]) < 0) {
                        r = -ENOMEM;
                        break;
                }
                if (mode == WALK_INSIDE) {
                        /* parent is the holder: a unit or a non-unit cgroup. */
                        Node *holder = &sc->nodes[parent];
                        size_t target = holder->type == NODE_UNIT ? parent : holder->fold;
                        if (target != NONE)
                                r = add_procs_path(&sc->nodes[target], path);
                        if (r >= 0)
                                r = walk(sc, path, depth + 1, WALK_INSIDE, parent, fold, uid);
                        free(path);
                        if (r < 0)
                                break;
                        continue;
                }

                char unit[CGROUP_UNIT_NAME_MAX];
                CgroupUnitKind kind;
                size_t idx;
                size_t len = strlen(names[i]);
                bool is_unit = cgroup_name_classify(names[i], len, unit, sizeof(unit), &kind) >= 0;
                if (is_unit && kind == CGROUP_UNIT_SLICE) {
                        r = scan_add(sc, path, inos[i], NODE_SLICE, parent, &idx);
                        if (r < 0) {
                                free(path);
                                break;
                        }
                        sc->nodes[idx].fold = fold;
                        if (fold != NONE)
                                r = add_procs_path(&sc->nodes[fold], path);
                        if (r >= 0)
                                r = walk(sc, sc->nodes[idx].path, depth + 1, WALK_CONTAINER, idx,
                                         fold, uid);
                } else if (is_unit) {
                        r = scan_add(sc, path, inos[i], NODE_UNIT, parent, &idx);
                        if (r < 0) {
                                free(path);
                                break;
                        }
                        int64_t manager = uid < 0 ? cgroup_user_manager_uid(names[i], len) : -1;
                        cgroup_unit_id_fill(&sc->nodes[idx].id, unit, kind, uid);
                        r = add_procs_path(&sc->nodes[idx], path);
                        if (r >= 0 && manager >= 0)
                                r = walk(sc, sc->nodes[idx].path, depth + 1, WALK_CONTAINER, idx,
                                         idx, manager);
                        else if (r >= 0)
                                r = walk(sc, sc->nodes[idx].path, depth + 1, WALK_INSIDE, idx, idx,
                                         uid);
                } else {
                        r = scan_add(sc, path, inos[i], NODE_OTHER, parent, &idx);
                        if (r < 0) {
                                free(path);
                                break;
                        }
                        sc->nodes[idx].fold = fold;
                        if (fold != NONE)
                                r = add_procs_path(&sc->nodes[fold], path);
                        if (r >= 0)
                                r = walk(sc, sc->nodes[idx].path, depth + 1, WALK_INSIDE, idx, fold,
                                         uid);
                }
                if (r < 0)
                        break;
        }

        for (size_t i = 0; i < n; i++)
                free(names[i]);
        free(names);
        free(inos);
        return r < 0 ? r : 0;
}

static int cmp_node_path(const void *a, const void *b, void *userdata)
{
        const Node *nodes = userdata;
        return strcmp(nodes[*(const size_t *)a].path, nodes[*(const size_t *)b].path);
}

/* Walks the tree again. Cgroups already known keep their fds and readings; vanished ones are
 * freed; new ones start fresh. The unit list is rebuilt. */
static int cgroup_set_scan(CgroupSet *s)
{
        Scan sc = {.s = s, .old = s->nodes, .n_old = s->n_nodes};
        struct stat st;
        int r;

        if (stat(s->root, &st) < 0)
                return -errno;

        if (sc.n_old > 0) {
                sc.order = malloc(sc.n_old * sizeof(size_t));
                sc.taken = calloc(sc.n_old, sizeof(bool));
                if (!sc.order || !sc.taken) {
                        free(sc.order);
                        free(sc.taken);
                        return -ENOMEM;
                }
                for (size_t i = 0; i < sc.n_old; i++)
                        sc.order[i] = i;
                qsort_r(sc.order, sc.n_old, sizeof(size_t), cmp_node_path, sc.old);
        }

        char *rootpath = strdup("");
        size_t idx;
        r = rootpath ? scan_add(&sc, rootpath, (uint64_t)st.st_ino, NODE_ROOT, NONE, &idx)
                     : -ENOMEM;
        if (r < 0)
                free(rootpath);
        if (r >= 0)
                r = walk(&sc, "", 0, WALK_CONTAINER, 0, NONE, -1);

        size_t n_units = 0;
        CgroupUnit *units = NULL;
        size_t *unit_node = NULL;
        if (r >= 0) {
                for (size_t i = 0; i < sc.n; i++)
                        if (sc.nodes[i].type == NODE_UNIT)
                                n_units++;
                units = calloc(n_units ? n_units : 1, sizeof(CgroupUnit));
                unit_node = calloc(n_units ? n_units : 1, sizeof(size_t));
                if (!units || !unit_node)
                        r = -ENOMEM;
        }
        if (r < 0) {
                /* Keep the old nodes. Those whose fd or tracker moved to a new node lose it: the
                 * fd is reopened at the next read (the counter is cumulative, so their baseline
                 * stays right); a tracker starts again. */
                nodes_free(sc.nodes, sc.n);
                free(units);
                free(unit_node);
                free(sc.order);
                free(sc.taken);
                return r;
        }

        size_t u = 0;
        for (size_t i = 0; i < sc.n; i++) {
                Node *n = &sc.nodes[i];
                if (n->type != NODE_UNIT)
                        continue;
                n->unit = u;
                unit_node[u] = i;
                units[u++] = (CgroupUnit){.unit = n->id, .path = n->path, .cgroup_id = n->ino};
        }

        /* Time a vanished slice held back (see Lazy reading) is released as a residual. */
        for (size_t i = 0; i < sc.n_old; i++)
                if (!sc.taken || !sc.taken[i])
                        s->orphan_debt_ns += sc.old[i].lazy_debt_ns;
        nodes_free(sc.old, sc.n_old);
        free(sc.order);
        free(sc.taken);
        free(s->units);
        free(s->unit_node);
        s->nodes = sc.nodes;
        s->n_nodes = sc.n;
        s->units = units;
        s->unit_node = unit_node;
        s->n_units = n_units;
        s->scans++;
        s->since_scan = 0;
        log_debug("cgroup: walked %s: %zu cgroups, %zu units", s->root, s->n_nodes, s->n_units);
        return 0;
}

/* -- reading -- */

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
        r = cgroup_cpu_stat_parse(buf, &usec, NULL, NULL);
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
        for (size_t i = 0; i < s->n_nodes; i++) {
                s->nodes[i].child_ns = 0;
                s->nodes[i].self_ns = 0;
        }
        /* Parents come before their children (pre-order). */
        for (size_t i = s->n_nodes; i-- > 1;) {
                Node *n = &s->nodes[i];
                if (n->read_ok && !n->fresh && n->parent != NONE)
                        s->nodes[n->parent].child_ns += n->delta_ns;
        }
        for (size_t i = 0; i < s->n_nodes; i++) {
                Node *n = &s->nodes[i];
                if (n->skipped)
                        continue; /* its baseline, carry and debt wait for its next reading */
                if (!n->read_ok || n->fresh) {
                        n->carry_ns = 0;
                        s->orphan_debt_ns += n->lazy_debt_ns;
                        n->lazy_debt_ns = 0;
                        n->lazy_age = 0;
                        continue;
                }
                int64_t raw = (int64_t)n->delta_ns - (int64_t)n->child_ns + n->carry_ns;
                if (n->withheld) {
                        /* Some children unread: what the ones read do not explain may be theirs,
                         * so it is held back until they are read (or released as the slice's
                         * own then), never counted twice. */
                        n->lazy_debt_ns += raw;
                        n->carry_ns = 0;
                        n->lazy_age++;
                        continue;
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
        for (size_t i = 1; i < s->n_nodes; i++) {
                Node *n = &s->nodes[i];
                if (n->type != NODE_SLICE && n->type != NODE_OTHER)
                        continue;
                if (n->fold == NONE)
                        s->host.residual_ns += n->self_ns;
                else
                        s->nodes[n->fold].self_ns += n->self_ns;
        }
        for (size_t i = 1; i < s->n_nodes; i++) {
                Node *n = &s->nodes[i];
                if (n->type != NODE_UNIT)
                        continue;
                CgroupUnit *u = &s->units[n->unit];
                u->usage_ns = n->usage_ns;
                u->delta_ns = n->read_ok ? n->delta_ns : 0;
                u->self_ns = n->self_ns;
                u->fresh = n->read_ok && n->fresh;
        }
}

static int read_descendants(CgroupSet *s, uint64_t *ret)
{
        char buf[512];
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
                /* A slice due for a full read reads everything below it, nested slices too. */
                n->full = (p && p->full) ||
                          (n->type == NODE_SLICE && n->lazy_age + 1 >= CGROUP_FULL_REFRESH);
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
        for (size_t i = 0; i < s->n_nodes; i++)
                s->nodes[i].child_ns = 0;
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

        if (s->opts.rescan_every > 0 && ++s->since_scan >= s->opts.rescan_every)
                rescan = true;
        if (read_descendants(s, &desc) >= 0) {
                if (s->have_descendants && desc != s->descendants)
                        rescan = true;
                s->descendants = desc;
                s->have_descendants = true;
        }
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
        for (;;) {
                if (!s->buf) {
                        s->bufsize = 4096;
                        s->buf = malloc(s->bufsize);
                        if (!s->buf)
                                return -ENOMEM;
                }
                ssize_t len = procfs_pread_once(*fdp, s->buf, s->bufsize);
                if (len == -ENOBUFS) {
                        char *b = realloc(s->buf, s->bufsize * 2);
                        if (!b)
                                return -ENOMEM;
                        s->buf = b;
                        s->bufsize *= 2;
                        continue;
                }
                if (len < 0) {
                        (void)close(*fdp);
                        *fdp = -1;
                        return (int)len;
                }
                break;
        }
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
                /* A sub-cgroup that vanished has no processes left. */
                if (r < 0 && r != -ENOENT && r != -ENODEV)
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

/* Keeps the first n PIDs just read into s->pids as a cached list. */
static int keep_pids(const CgroupSet *s, size_t n, pid_t **list, size_t *ret_n)
{
        pid_t *copy = realloc(*list, (n ? n : 1) * sizeof(pid_t));
        if (!copy)
                return -ENOMEM;
        if (n > 0)
                memcpy(copy, s->pids, n * sizeof(pid_t));
        *list = copy;
        *ret_n = n;
        return 0;
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
        if (!node->pids || node->pids_stale || node->pids_age >= CGROUP_PROCS_REFRESH) {
                r = unit_pids(s, i, &n);
                if (r < 0)
                        return r;
                r = keep_pids(s, n, &node->pids, &node->n_pids);
                if (r < 0)
                        return r;
                node->pids_age = 0;
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
         * is suspect, and every CGROUP_FULL_REFRESH active intervals of the unit. */
        if (!node->pids_stale && node->full_age + 1 < CGROUP_FULL_REFRESH)
                flags |= PROCFS_SAMPLE_SKIP_IDLE;
        r = procfs_tracker_sample_lazy(node->tracker, node->pids, node->n_pids, flags, &ps, &np);
        if (r < 0)
                return r;
        uint64_t self = s->units[i].self_ns, seen = 0;
        for (size_t k = 0; k < np; k++)
                seen += ps[k].delta_ns;
        ProcTrackerCounts c;
        procfs_tracker_counts(node->tracker, &c);
        if (c.skipped > 0 && !cgroup_explained(&node->debt_ns, self, seen, c.coarse)) {
                r = procfs_tracker_sample_rest(node->tracker, &ps, &np);
                if (r < 0)
                        return r;
                procfs_tracker_counts(node->tracker, &c);
                seen = 0;
                for (size_t k = 0; k < np; k++)
                        seen += ps[k].delta_ns;
        }
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

/* -- opening -- */

static int read_mountinfo(const char *procfs, char *v2, size_t v2size, char *acct, size_t acctsize)
{
        char path[4096];
        int r = path_fmt(path, sizeof(path), "%s/self/mountinfo", procfs);
        if (r < 0)
                return r;
        size_t size = 64 * 1024;
        for (;;) {
                _cleanup_free_ char *buf = malloc(size);
                if (!buf)
                        return -ENOMEM;
                ssize_t n = read_text(path, buf, size);
                if (n < 0)
                        return (int)n;
                if ((size_t)n == size - 1 && size < 16 * 1024 * 1024) {
                        size *= 4;
                        continue;
                }
                return procfs_mountinfo_cgroups(buf, v2, v2size, acct, acctsize);
        }
}

static bool file_exists(const char *dir, const char *name)
{
        char path[4096];
        if (path_fmt(path, sizeof(path), "%s/%s", dir, name) < 0)
                return false;
        return access(path, F_OK) == 0;
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

        r = read_mountinfo(procfs, v2, sizeof(v2), acct, sizeof(acct));
        if (r < 0 && r != -ENOENT)
                log_debug("cgroup: reading %s/self/mountinfo: %s", procfs, strerror(-r));

        const char *tree;
        if (roots && roots->cgroupfs) {
                tree = roots->cgroupfs;
                /* A given root is a v2 tree, unless it is a v1 cpuacct hierarchy. */
                if (file_exists(tree, "cpu.stat") || file_exists(tree, "cgroup.controllers"))
                        s->mode = CGROUP_MODE_V2;
                else if (file_exists(tree, "cpuacct.usage"))
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
        if (read_descendants(s, &desc) >= 0) {
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
