/* Walking the tree into the live set: which directories are slices, units (and user units under
 * a user manager) or neither, where a unit's processes are listed, and how a walk again keeps what
 * it already knew (fds, readings) for the cgroups that are still there. */

#include "collectors/cgroup.h"
#include "collectors/cgroup-internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/log.h"

#define CGROUP_MAX_DEPTH 64 /* deeper directories are not walked */

typedef struct Scan {
        CgroupSet *s;
        Node *nodes;
        size_t n, cap;
        Node *old; /* the previous nodes, sorted by path via order */
        size_t n_old;
        size_t *order;
        bool *taken;
        size_t unread; /* cgroups below a unit or a non-unit cgroup: no node, so never read */
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
                                n->list_debt_ns = o->list_debt_ns;
                                n->pids_stale = o->pids_stale;
                                n->full_age = o->full_age;
                                n->debt_ns = o->debt_ns;
                                n->quiet = o->quiet;
                                n->lazy_age = o->lazy_age;
                                n->lazy_debt_ns = o->lazy_debt_ns;
                                /* procs_paths[0] is a unit's own directory, the one whose inode
                                 * matched: its cgroup.procs stays open. (Its sub-cgroups' could
                                 * be new ones of the same name, so theirs are opened again.) */
                                if (o->n_procs > 0 && o->procs_fds[0] >= 0) {
                                        n->kept_procs_fd1 = o->procs_fds[0] + 1;
                                        o->procs_fds[0] = -1;
                                }
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
        unit->procs_fds[unit->n_procs] = -1;
        if (unit->n_procs == 0 && unit->kept_procs_fd1 > 0 && strcmp(path, unit->path) == 0) {
                unit->procs_fds[0] = unit->kept_procs_fd1 - 1;
                unit->kept_procs_fd1 = 0;
        }
        unit->n_procs++;
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

/* a followed by sep (when not 0) and b, into buf; -ENAMETOOLONG when it does not fit. A walk joins
 * one path per cgroup: memcpy rather than the printf machinery. */
static int join_path(char *buf, size_t size, const char *a, char sep, const char *b)
{
        size_t na = strlen(a), nb = strlen(b), ns = sep ? 1 : 0;
        if (na + ns + nb >= size)
                return -ENAMETOOLONG;
        memcpy(buf, a, na);
        if (sep)
                buf[na] = sep;
        memcpy(buf + na + ns, b, nb + 1);
        return 0;
}

/* rel + "/" + name, allocated. */
static char *join_path_dup(const char *rel, const char *name)
{
        size_t n = strlen(rel) + 1 + strlen(name) + 1;
        char *p = malloc(n);
        if (p)
                (void)join_path(p, n, rel, '/', name);
        return p;
}

/* Lists the subdirectories of root+rel, sorted. */
static int list_subdirs(const CgroupSet *s, const char *rel, char ***ret, uint64_t **ret_ino,
                        size_t *ret_n)
{
        char path[4096];
        int r = join_path(path, sizeof(path), s->root, 0, rel);
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
                char *path = join_path_dup(rel, names[i]);
                if (!path) {
                        r = -ENOMEM;
                        break;
                }
                if (mode == WALK_INSIDE) {
                        /* parent is the holder: a unit or a non-unit cgroup. */
                        Node *holder = &sc->nodes[parent];
                        size_t target = holder->type == NODE_UNIT ? parent : holder->fold;
                        if (target != NONE)
                                r = add_procs_path(&sc->nodes[target], path);
                        sc->unread++;
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
int cgroup_set_scan(CgroupSet *s)
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
                cgroup_nodes_free(sc.nodes, sc.n);
                free(units);
                free(unit_node);
                free(sc.order);
                free(sc.taken);
                return r;
        }

        size_t u = 0;
        for (size_t i = 0; i < sc.n; i++) {
                Node *n = &sc.nodes[i];
                if (n->kept_procs_fd1 > 0) /* not handed on: no unit any more */
                        (void)close(n->kept_procs_fd1 - 1);
                n->kept_procs_fd1 = 0;
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
        cgroup_nodes_free(sc.old, sc.n_old);
        free(sc.order);
        free(sc.taken);
        free(s->units);
        free(s->unit_node);
        s->nodes = sc.nodes;
        s->n_nodes = sc.n;
        s->units = units;
        s->unit_node = unit_node;
        s->n_units = n_units;
        s->unread_cgroups = sc.unread;
        s->scans++;
        s->since_scan = 0;
        log_debug("cgroup: walked %s: %zu cgroups, %zu units", s->root, s->n_nodes, s->n_units);
        return 0;
}
