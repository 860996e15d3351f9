/* A set of perf events and its targets: the system-call table, the reasons given for a refusal,
 * the scaling math, opening a group of every event, counting a cgroup with one group per online
 * CPU (PERF_FLAG_PID_CGROUP), and reading a target's groups into cumulative scaled counts. Encoding
 * the event names is perf-events-encode.c, counting by thread (processes and the cgroup fallback)
 * perf-events-threads.c, following the online CPUs across hotplug perf-events-cpus.c. The rules
 * are in collectors/perf-events.h. */

#include "collectors/perf-events.h"
#include "collectors/perf-events-internal.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/log.h"
#include "common/mountinfo.h"

/* ---- system calls, behind a table for tests ---- */

static int pe_sys_perf_event_open(struct perf_event_attr *attr, pid_t pid, int cpu, int group_fd,
                                  unsigned long flags)
{
        return (int)syscall(SYS_perf_event_open, attr, pid, cpu, group_fd, flags);
}

static const PerfEventsSyscalls pe_real_syscalls = {
        .perf_event_open = pe_sys_perf_event_open,
        .read = read,
};
const PerfEventsSyscalls *pe_sc = &pe_real_syscalls;

void perf_events_set_syscalls(const PerfEventsSyscalls *sc)
{
        pe_sc = sc ? sc : &pe_real_syscalls;
}

/* ---- error reasons ---- */

/* snprintf into a reason buffer (NULL: none wanted); long paths are cut, never overflow. */
void PRINTF(3, 4) pe_reason(char *buf, size_t size, const char *fmt, ...)
{
        if (!buf || size == 0)
                return;
        va_list ap;
        va_start(ap, fmt);
        (void)vsnprintf(buf, size, fmt, ap);
        va_end(ap);
}

/* ---- pure functions ---- */

uint64_t perf_events_scale(uint64_t value, uint64_t time_enabled, uint64_t time_running)
{
        if (time_running == 0)
                return 0;
        unsigned __int128 v = (unsigned __int128)value * time_enabled / time_running;
        return v > UINT64_MAX ? UINT64_MAX : (uint64_t)v;
}

uint64_t perf_events_advance(uint64_t *high, uint64_t count)
{
        if (count <= *high)
                return 0;
        uint64_t d = count - *high;
        *high = count;
        return d;
}

uint64_t pe_add_sat(uint64_t a, uint64_t b)
{
        return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

static bool pe_attr_is_hardware(const struct perf_event_attr *a)
{
        return a->type != PERF_TYPE_SOFTWARE && a->type != PERF_TYPE_TRACEPOINT;
}

/* Turns a failed perf_event_open of event e into the error the caller sees, with its reason. */
int pe_open_failed(PerfEvents *pe, size_t e, int err)
{
        const char *name = pe->names[e];
        switch (err) {
        case ENOENT:
        case EOPNOTSUPP:
        case ENODEV:
                pe_reason(pe->reason, sizeof(pe->reason), "%s: perf_event_open: %s (%s)", name,
                          strerror(err),
                          pe_attr_is_hardware(&pe->attrs[e])
                                  ? "no hardware PMU visible; running in a VM?"
                                  : "this kernel does not support the event");
                return -EOPNOTSUPP;
        case EACCES:
        case EPERM: {
                char path[PATH_MAX], level[32];
                int k = path_fmt(path, sizeof(path), "%s/sys/kernel/perf_event_paranoid",
                                 pe->roots.procfs);
                if (k >= 0)
                        k = read_line(path, level, sizeof(level));
                if (k < 0)
                        strcpy(level, "unknown");
                pe_reason(pe->reason, sizeof(pe->reason),
                          "%s: perf_event_open: %s (needs CAP_PERFMON or CAP_SYS_ADMIN, or "
                          "kernel.perf_event_paranoid <= 0 to count per service, <= 1 per "
                          "process; it is %s)",
                          name, strerror(err), level);
                return -EACCES;
        }
        case EMFILE:
        case ENFILE:
                pe_reason(pe->reason, sizeof(pe->reason),
                          "%s: perf_event_open: %s (one descriptor per event per CPU per "
                          "service: raise RLIMIT_NOFILE)",
                          name, strerror(err));
                return -err;
        default:
                pe_reason(pe->reason, sizeof(pe->reason), "%s: perf_event_open: %s", name,
                          strerror(err));
                return -err;
        }
}

void pe_close_fds(int *fds, size_t n)
{
        for (size_t e = 0; e < n; e++)
                if (fds[e] >= 0) {
                        (void)close(fds[e]);
                        fds[e] = -1;
                }
}

void pe_target_free(PerfEvents *pe, PerfTarget *t)
{
        if (!t)
                return;
        for (size_t i = 0; i < t->n_groups * pe->n; i++)
                if (t->fds[i] >= 0)
                        (void)close(t->fds[i]);
        free(t->fds);
        free(t->at);
        free(t->path);
        free(t);
}

PerfEvents *perf_events_free(PerfEvents *pe)
{
        if (!pe)
                return NULL;
        while (pe->targets)
                (void)perf_events_remove(pe, pe->targets);
        for (size_t i = 0; i < pe->n_watch; i++)
                pe_close_fds(pe->watch[i].fd, 2);
        free(pe->watch);
        free(pe->cgroup_root);
        free(pe->cpus);
        free(pe->cpu_state);
        free(pe);
        return NULL;
}

size_t perf_events_n(const PerfEvents *pe)
{
        return pe->n;
}

const char *perf_events_name(const PerfEvents *pe, size_t i)
{
        assert(i < pe->n);
        return pe->names[i];
}

bool perf_events_is_hardware(const PerfEvents *pe, size_t i)
{
        assert(i < pe->n);
        return pe_attr_is_hardware(&pe->attrs[i]);
}

const char *perf_events_reason(const PerfEvents *pe)
{
        return pe->reason;
}

const char *perf_target_mode_to_string(PerfTargetMode m)
{
        static const char *const names[_PERF_TARGET_MODE_MAX] = {
                [PERF_TARGET_CGROUP] = "cgroup",
                [PERF_TARGET_CGROUP_PROCESSES] = "cgroup-processes",
                [PERF_TARGET_PROCESS] = "process",
        };
        return (unsigned)m < _PERF_TARGET_MODE_MAX ? names[m] : NULL;
}

int perf_events_probe(PerfEvents *pe)
{
        pe->reason[0] = '\0';
        for (size_t e = 0; e < pe->n; e++) {
                struct perf_event_attr attr = pe->attrs[e];
                attr.disabled = 1;
                int fd = pe_sc->perf_event_open(&attr, 0, -1, -1, PERF_FLAG_FD_CLOEXEC);
                if (fd < 0) {
                        int err = errno;
                        int r = pe_open_failed(pe, e, err);
                        log_debug("perf-events: probe: %s", pe->reason);
                        return r;
                }
                (void)close(fd);
        }
        return 0;
}

/* ---- targets ---- */

int pe_target_new(PerfEvents *pe, PerfTargetMode mode, PerfTarget **ret)
{
        PerfTarget *t = calloc(1, sizeof(*t));
        if (!t)
                return -ENOMEM;
        t->mode = mode;
        t->grouped = true;
        *ret = t;
        return 0;
}

void pe_target_link(PerfEvents *pe, PerfTarget *t)
{
        t->prev = NULL;
        t->next = pe->targets;
        if (pe->targets)
                pe->targets->prev = t;
        pe->targets = t;
}

/* Room for one more group; returns its fds, all -1. */
int *pe_target_grow(PerfEvents *pe, PerfTarget *t)
{
        if (t->n_groups == t->cap_groups) {
                size_t cap = t->cap_groups ? t->cap_groups * 2 : 4;
                int *m = realloc(t->fds, cap * pe->n * sizeof(int));
                if (!m)
                        return NULL;
                t->fds = m;
                pid_t *at = realloc(t->at, cap * sizeof(pid_t));
                if (!at)
                        return NULL;
                t->at = at;
                t->cap_groups = cap;
        }
        int *fds = t->fds + t->n_groups * pe->n;
        for (size_t e = 0; e < pe->n; e++)
                fds[e] = -1;
        return fds;
}

/* Opens one group (every event, the first leading) into fds. On failure -errno of the syscall
 * (nothing left open) and *ret_event is the event that failed. */
int pe_open_group(PerfEvents *pe, pid_t pid, int cpu, unsigned long flags, PeInherit inherit,
                  bool grouped, int *fds, size_t *ret_event)
{
        for (size_t e = 0; e < pe->n; e++) {
                struct perf_event_attr attr = pe->attrs[e];
                attr.read_format = grouped ? PE_GROUP_FORMAT : PE_SINGLE_FORMAT;
                attr.inherit = inherit != PE_INHERIT_NONE;
                attr.inherit_thread = inherit == PE_INHERIT_THREADS;
                attr.disabled = 0;
                int fd = pe_sc->perf_event_open(&attr, pid, cpu, e == 0 ? -1 : fds[0],
                                                flags | PERF_FLAG_FD_CLOEXEC);
                if (fd < 0) {
                        int err = errno;
                        pe_close_fds(fds, e);
                        *ret_event = e;
                        return -err;
                }
                fds[e] = fd;
        }
        return 0;
}

static int pe_ensure_cgroup_root(PerfEvents *pe)
{
        if (pe->cgroup_root)
                return 0;
        if (pe->roots.cgroupfs) {
                pe->cgroup_root = strdup(pe->roots.cgroupfs);
                return pe->cgroup_root ? 0 : -ENOMEM;
        }
        char v2[PATH_MAX];
        int r = mountinfo_read_cgroups(pe->roots.procfs, v2, sizeof(v2), NULL, 0);
        if (r >= 0 && !(pe->cgroup_root = strdup(v2)))
                r = -ENOMEM;
        if (r < 0)
                pe_reason(pe->reason, sizeof(pe->reason),
                          "no cgroup2 mount found in %s/self/mountinfo: %s", pe->roots.procfs,
                          strerror(-r));
        return r;
}

int pe_open_cgroup_dir(PerfEvents *pe, const char *rel)
{
        char path[PATH_MAX];
        int r = path_fmt(path, sizeof(path), "%s/%s", pe->cgroup_root, rel);
        if (r < 0)
                return r;
        int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0) {
                r = -errno;
                pe_reason(pe->reason, sizeof(pe->reason), "cgroup %s: %s", path, strerror(errno));
                return r;
        }
        return fd;
}

int perf_events_add_cgroup(PerfEvents *pe, const char *path, PerfTarget **ret)
{
        assert(path);
        assert(ret);
        pe->reason[0] = '\0';

        int r = pe_ensure_cgroup_root(pe);
        if (r < 0)
                return r;
        r = pe_ensure_cpus(pe);
        if (r < 0)
                return r;
        /* before the groups: a CPU that goes down after them is then seen by its watch */
        bool watched = pe->cgroup_mode_works;
        if (watched)
                pe_watch_open_missing(pe);

        while (*path == '/')
                path++;
        PerfTarget *t;
        r = pe_target_new(pe, PERF_TARGET_CGROUP, &t);
        if (r < 0)
                return r;
        int cgfd = -1;
        t->path = strdup(path);
        if (!t->path) {
                r = -ENOMEM;
                goto fail;
        }
        cgfd = pe_open_cgroup_dir(pe, t->path);
        if (cgfd < 0) {
                r = cgfd;
                goto fail;
        }

        for (size_t c = 0; c < pe->n_cpus; c++) {
                int *fds = pe_target_grow(pe, t);
                if (!fds) {
                        r = -ENOMEM;
                        goto fail;
                }
                size_t e;
                r = pe_open_group(pe, cgfd, (int)pe->cpus[c], PERF_FLAG_PID_CGROUP, PE_INHERIT_NONE,
                                  true, fds, &e);
                if (r >= 0) {
                        t->at[t->n_groups++] = (pid_t)pe->cpus[c];
                        pe->cgroup_mode_works = true;
                        continue;
                }
                if (r == -ENODEV && (pe->cgroup_mode_works || c > 0)) {
                        /* offline since the list was read: perf_events_update_cpus() opens it
                         * when it is back */
                        pe->cpus_changed = true;
                        continue;
                }
                if (pe->cgroup_mode_works || c > 0 || r == -EMFILE || r == -ENFILE ||
                    r == -ENOMEM) {
                        r = pe_open_failed(pe, e, -r);
                        goto fail;
                }
                /* The first refusal: of the events themselves, or of counting by cgroup here? */
                int pr = perf_events_probe(pe);
                if (pr < 0) {
                        r = pr;
                        goto fail;
                }
                log_debug("perf-events: cgroup %s: PERF_FLAG_PID_CGROUP refused (%s: %s), "
                          "counting its processes instead",
                          t->path, pe->names[e], strerror(-r));
                t->mode = PERF_TARGET_CGROUP_PROCESSES;
                r = pe_open_cgroup_threads(pe, t, cgfd);
                if (r < 0)
                        goto fail;
                break;
        }

        (void)close(cgfd);
        if (t->mode == PERF_TARGET_CGROUP && !watched)
                pe_watch_open_missing(pe); /* the first cgroup counted per CPU */
        pe_target_link(pe, t);
        *ret = t;
        return 0;
fail:
        if (cgfd >= 0)
                (void)close(cgfd);
        pe_target_free(pe, t);
        return r;
}

PerfTarget *perf_events_remove(PerfEvents *pe, PerfTarget *t)
{
        if (!t)
                return NULL;
        if (t->prev)
                t->prev->next = t->next;
        else
                pe->targets = t->next;
        if (t->next)
                t->next->prev = t->prev;
        pe_target_free(pe, t);
        return NULL;
}

PerfTargetMode perf_target_mode(const PerfTarget *t)
{
        return t->mode;
}

size_t perf_target_n_groups(const PerfTarget *t)
{
        return t->n_groups;
}

/* A group the kernel broke up: when its CPU goes offline (hot-unplug, or suspend, which takes
 * the non-boot CPUs down) perf_event_exit_cpu_context() removes its events with DETACH_GROUP, and
 * perf_group_detach() makes each a group of one (nr_siblings--, read_size shrinks), kernel/events/
 * core.c. Each event is then read alone: one value, the count it had when the CPU went. */
static int pe_read_detached(PerfEvents *pe, const int *fds, uint64_t *sums)
{
        uint64_t buf[4];
        for (size_t e = 0; e < pe->n; e++) {
                ssize_t k = pe_sc->read(fds[e], buf, sizeof(buf));
                if (k < 0)
                        return -errno;
                if (k != sizeof(buf) || buf[0] != 1)
                        return -EIO;
                sums[e] = pe_add_sat(sums[e], perf_events_scale(buf[3], buf[1], buf[2]));
        }
        return 0;
}

/* Adds one group's scaled counts into sums. */
int pe_read_group(PerfEvents *pe, const PerfTarget *t, const int *fds, uint64_t *sums)
{
        uint64_t buf[3 + PERF_EVENTS_MAX];
        if (t->grouped) {
                size_t want = (3 + pe->n) * sizeof(uint64_t);
                ssize_t k = pe_sc->read(fds[0], buf, want);
                if (k < 0)
                        return -errno;
                if (pe->n > 1 && k == 4 * sizeof(uint64_t) && buf[0] == 1) {
                        pe->cpus_changed = true; /* for perf_events_update_cpus() */
                        return pe_read_detached(pe, fds, sums);
                }
                if ((size_t)k != want || buf[0] != pe->n)
                        return -EIO;
                for (size_t e = 0; e < pe->n; e++)
                        sums[e] =
                                pe_add_sat(sums[e], perf_events_scale(buf[3 + e], buf[1], buf[2]));
                return 0;
        }
        for (size_t e = 0; e < pe->n; e++) {
                ssize_t k = pe_sc->read(fds[e], buf, 3 * sizeof(uint64_t));
                if (k < 0)
                        return -errno;
                if (k != 3 * sizeof(uint64_t))
                        return -EIO;
                sums[e] = pe_add_sat(sums[e], perf_events_scale(buf[0], buf[1], buf[2]));
        }
        return 0;
}

int perf_events_read(PerfEvents *pe, PerfTarget *t, uint64_t *ret_counts, size_t n)
{
        assert(t);
        assert(ret_counts);
        if (n < pe->n)
                return -EINVAL;

        if (t->mode == PERF_TARGET_CGROUP_PROCESSES && t->n_groups == 0) {
                /* Empty when added: its first processes, if it has any by now. */
                _cleanup_close_ int cgfd = pe_open_cgroup_dir(pe, t->path);
                if (cgfd >= 0) {
                        int r = pe_open_cgroup_threads(pe, t, cgfd);
                        if (r < 0)
                                log_debug("perf-events: cgroup %s: %s", t->path, pe->reason);
                }
        }

        uint64_t sums[PERF_EVENTS_MAX];
        memcpy(sums, t->retired, sizeof(sums));
        for (size_t g = 0; g < t->n_groups; g++) {
                int r = pe_read_group(pe, t, t->fds + g * pe->n, sums);
                if (r < 0) {
                        pe_reason(pe->reason, sizeof(pe->reason), "reading counters: %s",
                                  strerror(-r));
                        return r;
                }
        }
        memcpy(ret_counts, sums, pe->n * sizeof(uint64_t));
        return 0;
}
