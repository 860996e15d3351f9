#include "collectors/perf-events.h"

/* The kernel's header first: libpfm4's copy of the perf ABI steps aside when it sees it. */
#include <linux/perf_event.h>
#include <perfmon/pfmlib_perf_event.h>

#include <ctype.h>
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "collectors/procfs.h"
#include "common/log.h"
#include "common/mountinfo.h"

/* read_format of every group: one read(2) of the leader returns all of the group's counts. */
#define PE_GROUP_FORMAT                                                                            \
        (PERF_FORMAT_GROUP | PERF_FORMAT_TOTAL_TIME_ENABLED | PERF_FORMAT_TOTAL_TIME_RUNNING)
/* Fallback for kernels that refuse PERF_FORMAT_GROUP together with inherit: one read per event. */
#define PE_SINGLE_FORMAT (PERF_FORMAT_TOTAL_TIME_ENABLED | PERF_FORMAT_TOTAL_TIME_RUNNING)

struct PerfTarget {
        PerfTargetMode mode;
        pid_t pid;           /* PERF_TARGET_PROCESS */
        uint64_t start_time; /* perf_events_add_process: with pid, the process's identity */
        char *path;          /* cgroup modes: relative to the cgroup root, no leading '/' */
        bool grouped;        /* read_format PE_GROUP_FORMAT (else PE_SINGLE_FORMAT) */
        int *fds;            /* n_groups * n_events; fds[g * n_events] leads group g */
        pid_t *at;           /* per group: its thread (process modes) or its CPU (cgroup mode) */
        size_t n_groups, cap_groups;
        /* cgroup mode: the final counts of the groups closed because their CPU went offline */
        uint64_t retired[PERF_EVENTS_MAX];
        PerfTarget *prev, *next;
};

/* A CPU's hot-unplug breaks up every group opened on it for good: perf_event_exit_cpu_context()
 * removes its events with DETACH_GROUP (they stay off, even once the CPU is back), and
 * perf_event_open() refuses an offline CPU with ENODEV (!cpuctx->online), kernel/events/core.c. A
 * watch is a group of two dummy software events on one CPU (pid -1, no cgroup): it costs nothing
 * while it runs and it remembers the break, so a CPU that went down and came back between two
 * looks (suspend takes every non-boot CPU down and up) is noticed whatever the events and however
 * idle the cgroups. Its leader's read_size shrinks from 3 to 2 u64 when the sibling is detached
 * (perf_event__header_size()), and perf_read() answers ENOSPC to a shorter buffer before it reads
 * anything: one syscall that touches no counter and sends no IPI. */
typedef struct PeWatch {
        unsigned cpu;
        int fd[2];
} PeWatch;

enum {
        PE_CPU_ONLINE = 1 << 0, /* in the last online list read */
        PE_CPU_RESET = 1 << 1,  /* went offline since the groups on it were opened */
};

struct PerfEvents {
        JoulesRoots roots;
        size_t n;
        char names[PERF_EVENTS_MAX][PERF_EVENTS_NAME_MAX];
        struct perf_event_attr attrs[PERF_EVENTS_MAX];

        bool cgroup_mode_works; /* a PERF_FLAG_PID_CGROUP open has succeeded */
        bool no_inherit_thread; /* the kernel refused attr.inherit_thread (before Linux 5.13) */
        char *cgroup_root;      /* found on first use */
        unsigned *cpus;         /* online CPUs, read at each cgroup added and each update */
        size_t n_cpus;
        uint8_t *cpu_state; /* indexed by CPU: PE_CPU_* bits */
        size_t n_cpu_state;
        /* The cgroup targets may not have a group on each CPU of cpus[], or have broken ones: the
         * list changed since the last perf_events_update_cpus(), or a read found a group that
         * the kernel broke up. */
        bool cpus_changed;
        bool cpus_incomplete; /* the last update could not do everything: the next tries again */
        PeWatch *watch;       /* one per online CPU, when the kernel lets us */
        size_t n_watch, cap_watch;

        PerfTarget *targets;
        char reason[PERF_EVENTS_REASON_MAX];
};

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
static const PerfEventsSyscalls *pe_sc = &pe_real_syscalls;

void perf_events_set_syscalls(const PerfEventsSyscalls *sc)
{
        pe_sc = sc ? sc : &pe_real_syscalls;
}

/* ---- error reasons ---- */

/* snprintf into a reason buffer (NULL: none wanted); long paths are cut, never overflow. */
static void PRINTF(3, 4) pe_reason(char *buf, size_t size, const char *fmt, ...)
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

static uint64_t pe_add_sat(uint64_t a, uint64_t b)
{
        return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

/* libpfm4 is opened on the first event to encode, not linked: its event tables, relocated when
 * it loads, are 2 MiB resident, which a daemon with --events none would carry for nothing. */
static struct {
        void *handle;
        bool done;
        int r;
        int (*initialize)(void);
        void (*terminate)(void);
        const char *(*strerror)(int code);
        int (*encode)(const char *name, int dfl_plm, pfm_os_t os, void *arg);
} pfm_api;

/* Closes libpfm4 again once the events are encoded (perf_events_new): the counters need only
 * their perf_event_attr, and the library's 2 MiB of tables would otherwise stay resident. */
static void pe_pfm_release(void)
{
        if (pfm_api.handle) {
                if (pfm_api.r == PFM_SUCCESS)
                        pfm_api.terminate();
                dlclose(pfm_api.handle);
        }
        pfm_api = (typeof(pfm_api)){0};
}

static int pe_pfm_init(char *reason, size_t reason_size)
{
        /* pfm_initialize() once while loaded; the daemon is single-threaded. */
        int r = pfm_api.r;
        if (pfm_api.done)
                goto out;
        pfm_api.done = true;
        void *h = dlopen("libpfm.so.4", RTLD_NOW | RTLD_LOCAL);
        void *sym[4] = {NULL, NULL, NULL, NULL};
        pfm_api.handle = h;
        if (h) {
                sym[0] = dlsym(h, "pfm_initialize");
                sym[1] = dlsym(h, "pfm_terminate");
                sym[2] = dlsym(h, "pfm_strerror");
                sym[3] = dlsym(h, "pfm_get_os_event_encoding");
        }
        if (!sym[0] || !sym[1] || !sym[2] || !sym[3]) {
                r = pfm_api.r = -ENOENT;
                goto out;
        }
        /* POSIX: a void * from dlsym converts to a function pointer */
        memcpy(&pfm_api.initialize, &sym[0], sizeof(void *));
        memcpy(&pfm_api.terminate, &sym[1], sizeof(void *));
        memcpy(&pfm_api.strerror, &sym[2], sizeof(void *));
        memcpy(&pfm_api.encode, &sym[3], sizeof(void *));
        r = pfm_api.r = pfm_api.initialize();
out:
        if (r == -ENOENT)
                pe_reason(reason, reason_size, "libpfm4 (libpfm.so.4) cannot be loaded");
        else if (r != PFM_SUCCESS)
                pe_reason(reason, reason_size, "libpfm4: pfm_initialize: %s", pfm_api.strerror(r));
        return r;
}

int perf_events_encode(const char *name, struct perf_event_attr *ret, char *reason,
                       size_t reason_size)
{
        assert(name);
        assert(ret);

        int r = pe_pfm_init(reason, reason_size);
        if (r != PFM_SUCCESS)
                return -EOPNOTSUPP;

        struct perf_event_attr attr = {.size = sizeof(attr)};
        pfm_perf_encode_arg_t arg = {.attr = &attr, .size = sizeof(arg)};
        r = pfm_api.encode(name, PFM_PLM0 | PFM_PLM3, PFM_OS_PERF_EVENT_EXT, &arg);
        if (r != PFM_SUCCESS) {
                pe_reason(reason, reason_size, "%s: libpfm4 cannot encode it: %s", name,
                          pfm_api.strerror(r));
                return r == PFM_ERR_NOMEM ? -ENOMEM : -EINVAL;
        }
        /* Counting only, whatever modifiers the name carried. */
        attr.sample_period = 0;
        attr.sample_type = 0;
        attr.freq = 0;
        *ret = attr;
        return 0;
}

/* A kernel cpulist ("0-3,8,10-11\n") into a new array. */
static int pe_parse_cpulist(const char *s, unsigned **ret, size_t *ret_n)
{
        unsigned *cpus = NULL;
        size_t n = 0, cap = 0;
        const char *p = s;

        while (*p && !isspace((unsigned char)*p)) {
                char *end;
                errno = 0;
                unsigned long lo = strtoul(p, &end, 10), hi;
                if (end == p || errno != 0 || lo > INT_MAX)
                        goto fail;
                hi = lo;
                p = end;
                if (*p == '-') {
                        p++;
                        hi = strtoul(p, &end, 10);
                        if (end == p || errno != 0 || hi > INT_MAX || hi < lo)
                                goto fail;
                        p = end;
                }
                for (unsigned long c = lo; c <= hi; c++) {
                        if (n == cap) {
                                cap = cap ? cap * 2 : 16;
                                unsigned *m = realloc(cpus, cap * sizeof(*cpus));
                                if (!m) {
                                        free(cpus);
                                        return -ENOMEM;
                                }
                                cpus = m;
                        }
                        cpus[n++] = (unsigned)c;
                }
                if (*p == ',')
                        p++;
                else if (*p && !isspace((unsigned char)*p))
                        goto fail;
        }
        if (n == 0)
                goto fail;
        *ret = cpus;
        *ret_n = n;
        return 0;
fail:
        free(cpus);
        return -EINVAL;
}

/* ---- small I/O helpers ---- */

/* A whole (procfs, cgroupfs) file, NUL-terminated, read relative to dirfd. */
static int pe_read_all(int dirfd, const char *path, char **ret)
{
        _cleanup_close_ int fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;

        _cleanup_free_ char *buf = NULL;
        size_t len = 0, cap = 0;
        for (;;) {
                if (cap - len < 4096) {
                        cap = cap ? cap * 2 : 8192;
                        char *m = realloc(buf, cap);
                        if (!m)
                                return -ENOMEM;
                        buf = m;
                }
                ssize_t k = read(fd, buf + len, cap - len - 1);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (k == 0)
                        break;
                len += (size_t)k;
        }
        if (!buf && !(buf = malloc(1)))
                return -ENOMEM;
        buf[len] = '\0';
        *ret = TAKE_PTR(buf);
        return 0;
}

static bool pe_attr_is_hardware(const struct perf_event_attr *a)
{
        return a->type != PERF_TYPE_SOFTWARE && a->type != PERF_TYPE_TRACEPOINT;
}

/* Turns a failed perf_event_open of event e into the error the caller sees, with its reason. */
static int pe_open_failed(PerfEvents *pe, size_t e, int err)
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

/* ---- the event set ---- */

static int pe_new(const char *list, const JoulesRoots *roots, PerfEvents **ret, char *reason,
                  size_t reason_size)
{
        assert(ret);
        if (reason && reason_size > 0)
                reason[0] = '\0';
        if (!list || !*list)
                list = PERF_EVENTS_DEFAULT_LIST;

        _cleanup_free_ PerfEvents *pe = calloc(1, sizeof(*pe));
        if (!pe)
                return -ENOMEM;
        pe->roots = roots ? *roots : JOULES_ROOTS_DEFAULT;

        for (const char *p = list;;) {
                size_t len = strcspn(p, ",");
                const char *s = p, *end = p + len;
                while (s < end && isspace((unsigned char)*s))
                        s++;
                while (end > s && isspace((unsigned char)end[-1]))
                        end--;
                size_t nlen = (size_t)(end - s);
                if (nlen == 0) {
                        pe_reason(reason, reason_size, "event list \"%s\": empty event name", list);
                        return -EINVAL;
                }
                if (nlen >= PERF_EVENTS_NAME_MAX) {
                        pe_reason(reason, reason_size, "%.*s...: event name too long", 40, s);
                        return -ENAMETOOLONG;
                }
                if (pe->n == PERF_EVENTS_MAX) {
                        pe_reason(reason, reason_size, "event list \"%s\": more than %d events",
                                  list, PERF_EVENTS_MAX);
                        return -E2BIG;
                }
                memcpy(pe->names[pe->n], s, nlen);
                pe->names[pe->n][nlen] = '\0';
                int r = perf_events_encode(pe->names[pe->n], &pe->attrs[pe->n], reason,
                                           reason_size);
                if (r < 0)
                        return r;
                log_debug("perf-events: %s: type %u config %#llx", pe->names[pe->n],
                          pe->attrs[pe->n].type, (unsigned long long)pe->attrs[pe->n].config);
                pe->n++;
                if (!p[len])
                        break;
                p += len + 1;
        }

        *ret = TAKE_PTR(pe);
        return 0;
}

int perf_events_new(const char *list, const JoulesRoots *roots, PerfEvents **ret, char *reason,
                    size_t reason_size)
{
        int r = pe_new(list, roots, ret, reason, reason_size);
        pe_pfm_release(); /* whatever happened: the encodings are made */
        return r;
}

static void pe_close_fds(int *fds, size_t n)
{
        for (size_t e = 0; e < n; e++)
                if (fds[e] >= 0) {
                        (void)close(fds[e]);
                        fds[e] = -1;
                }
}

static void pe_target_free(PerfEvents *pe, PerfTarget *t)
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

static int pe_target_new(PerfEvents *pe, PerfTargetMode mode, PerfTarget **ret)
{
        PerfTarget *t = calloc(1, sizeof(*t));
        if (!t)
                return -ENOMEM;
        t->mode = mode;
        t->grouped = true;
        *ret = t;
        return 0;
}

static void pe_target_link(PerfEvents *pe, PerfTarget *t)
{
        t->prev = NULL;
        t->next = pe->targets;
        if (pe->targets)
                pe->targets->prev = t;
        pe->targets = t;
}

/* Room for one more group; returns its fds, all -1. */
static int *pe_target_grow(PerfEvents *pe, PerfTarget *t)
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

/* What a counter follows from the task it was opened on. */
typedef enum PeInherit {
        PE_INHERIT_NONE,
        PE_INHERIT_ALL,     /* the threads and the processes it creates afterwards */
        PE_INHERIT_THREADS, /* the threads only (attr.inherit_thread, Linux 5.13) */
} PeInherit;

/* Opens one group (every event, the first leading) into fds. On failure -errno of the syscall
 * (nothing left open) and *ret_event is the event that failed. */
static int pe_open_group(PerfEvents *pe, pid_t pid, int cpu, unsigned long flags, PeInherit inherit,
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

/* One group counting thread tid and what it creates from now on: for a cgroup's threads every
 * thread and process (they stay in the cgroup); for a process the threads it starts, not the
 * processes it forks, whose work is theirs (a busy child gets counters of its own, and the row's
 * CPU time is the process's own: perf_event_init_task() skips a non-CLONE_THREAD child for an
 * inherit_thread event, kernel/events/core.c). 0 when opened, -ESRCH when the thread is gone,
 * another error (reason set) otherwise. */
static int pe_open_thread(PerfEvents *pe, PerfTarget *t, pid_t tid)
{
        int *fds = pe_target_grow(pe, t);
        if (!fds)
                return -ENOMEM;
        size_t e;
        PeInherit inherit = t->mode == PERF_TARGET_PROCESS && !pe->no_inherit_thread
                                    ? PE_INHERIT_THREADS
                                    : PE_INHERIT_ALL;
        int r = pe_open_group(pe, tid, -1, 0, inherit, t->grouped, fds, &e);
        if (r == -EINVAL && inherit == PE_INHERIT_THREADS && t->n_groups == 0) {
                /* Before Linux 5.13 the bit was reserved: the process's forks are counted too. */
                log_info("perf-events: this kernel refuses inherit_thread (Linux 5.13): a "
                         "process's counters also count the processes it forks after they opened");
                pe->no_inherit_thread = true;
                inherit = PE_INHERIT_ALL;
                r = pe_open_group(pe, tid, -1, 0, inherit, t->grouped, fds, &e);
        }
        if (r == -EINVAL && t->grouped && t->n_groups == 0) {
                /* Older kernels refuse inherit with PERF_FORMAT_GROUP: read events one by one. */
                log_debug("perf-events: inherit with PERF_FORMAT_GROUP refused, reading per event");
                t->grouped = false;
                r = pe_open_group(pe, tid, -1, 0, inherit, false, fds, &e);
        }
        if (r == -ESRCH)
                return r;
        if (r < 0)
                return pe_open_failed(pe, e, -r);
        t->at[t->n_groups++] = tid;
        return 0;
}

/* Opens a group for each tid in a text of one decimal tid per line (cgroup.threads). Threads that
 * are gone by then are skipped. Returns how many were opened. */
static int pe_open_tid_list(PerfEvents *pe, PerfTarget *t, const char *text)
{
        int opened = 0;
        for (const char *p = text; *p;) {
                char *end;
                errno = 0;
                long tid = strtol(p, &end, 10);
                if (end == p || errno != 0 || tid <= 0 || tid > INT_MAX || (*end && *end != '\n'))
                        return -EINVAL;
                p = *end ? end + 1 : end;
                int r = pe_open_thread(pe, t, (pid_t)tid);
                if (r == -ESRCH)
                        continue;
                if (r < 0)
                        return r;
                opened++;
        }
        return opened;
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

/* The online CPUs, read again for every cgroup added and by perf_events_update_cpus():
 * perf_event_open() refuses a CPU that went offline since with ENODEV (perf_event_open():
 * !cpuctx->online, kernel/events/core.c), which would fail every later cgroup, and one that came
 * back or was added is counted for every cgroup (perf_events_update_cpus()). A list that differs
 * from the one read before marks the cgroup targets for the next update. */
static int pe_ensure_cpus(PerfEvents *pe)
{
        char path[PATH_MAX], text[4096];
        int r = path_fmt(path, sizeof(path), "%s/devices/system/cpu/online", pe->roots.sysfs);
        if (r < 0)
                return r;
        ssize_t k = read_text(path, text, sizeof(text));
        if (k < 0) {
                pe_reason(pe->reason, sizeof(pe->reason), "%s: %s", path, strerror((int)-k));
                return (int)k;
        }
        unsigned *cpus;
        size_t n;
        r = pe_parse_cpulist(text, &cpus, &n);
        if (r < 0) {
                pe_reason(pe->reason, sizeof(pe->reason), "%s: malformed cpulist", path);
                return r;
        }
        size_t need = 0;
        for (size_t i = 0; i < n; i++)
                if (cpus[i] + (size_t)1 > need)
                        need = cpus[i] + (size_t)1;
        if (need > pe->n_cpu_state) {
                uint8_t *m = realloc(pe->cpu_state, need);
                if (!m) {
                        free(cpus);
                        return -ENOMEM;
                }
                memset(m + pe->n_cpu_state, 0, need - pe->n_cpu_state);
                pe->cpu_state = m;
                pe->n_cpu_state = need;
        }
        bool same = pe->cpus && n == pe->n_cpus && memcmp(cpus, pe->cpus, n * sizeof(*cpus)) == 0;
        if (pe->cpus && !same)
                pe->cpus_changed = true;
        for (size_t c = 0; c < pe->n_cpu_state; c++)
                pe->cpu_state[c] &= (uint8_t)~PE_CPU_ONLINE;
        for (size_t i = 0; i < n; i++)
                pe->cpu_state[cpus[i]] |= PE_CPU_ONLINE;
        free(pe->cpus);
        pe->cpus = cpus;
        pe->n_cpus = n;
        return 0;
}

static bool pe_cpu_is(const PerfEvents *pe, unsigned cpu, uint8_t bit)
{
        return cpu < pe->n_cpu_state && (pe->cpu_state[cpu] & bit);
}

/* Opens a watch (see PeWatch) on each online CPU that has none. One the kernel refuses (no
 * CAP_PERFMON for a CPU-wide event, no dummy event before Linux 3.12) is not kept: the online list
 * and the groups' own reads are then all there is to go by. */
static void pe_watch_open_missing(PerfEvents *pe)
{
        for (size_t i = 0; i < pe->n_cpus; i++) {
                unsigned cpu = pe->cpus[i];
                bool have = false;
                for (size_t w = 0; w < pe->n_watch && !have; w++)
                        have = pe->watch[w].cpu == cpu;
                if (have)
                        continue;
                if (pe->n_watch == pe->cap_watch) {
                        size_t cap = pe->cap_watch ? pe->cap_watch * 2 : 8;
                        PeWatch *m = realloc(pe->watch, cap * sizeof(*m));
                        if (!m)
                                return;
                        pe->watch = m;
                        pe->cap_watch = cap;
                }
                PeWatch w = {.cpu = cpu, .fd = {-1, -1}};
                struct perf_event_attr attr = {
                        .size = sizeof(attr),
                        .type = PERF_TYPE_SOFTWARE,
                        .config = PERF_COUNT_SW_DUMMY,
                        .read_format = PERF_FORMAT_GROUP,
                };
                w.fd[0] = pe_sc->perf_event_open(&attr, -1, (int)cpu, -1, PERF_FLAG_FD_CLOEXEC);
                if (w.fd[0] >= 0)
                        w.fd[1] = pe_sc->perf_event_open(&attr, -1, (int)cpu, w.fd[0],
                                                         PERF_FLAG_FD_CLOEXEC);
                if (w.fd[1] < 0) {
                        log_debug("perf-events: no watch on CPU %u: %s", cpu, strerror(errno));
                        pe_close_fds(w.fd, 2);
                        continue;
                }
                pe->watch[pe->n_watch++] = w;
        }
}

/* Whether the watch's group was broken up, that is its CPU went offline since it was opened. */
static bool pe_watch_broken(const PeWatch *w)
{
        uint64_t buf[2];
        return pe_sc->read(w->fd[0], buf, sizeof(buf)) == (ssize_t)sizeof(buf) && buf[0] == 1;
}

/* Whether a cgroup group of more than one event was broken up, by the same test (its leader's
 * read_size shrank from 3 + n to 4 u64). With one event a group reads the same either way. */
static bool pe_group_broken(const PerfEvents *pe, const int *fds)
{
        uint64_t buf[4];
        return pe->n > 1 && pe_sc->read(fds[0], buf, sizeof(buf)) == (ssize_t)sizeof(buf) &&
               buf[0] == 1;
}

static int pe_open_cgroup_dir(PerfEvents *pe, const char *rel)
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

/* Per-process counting of the threads in the cgroup now (PERF_TARGET_CGROUP_PROCESSES). */
static int pe_open_cgroup_threads(PerfEvents *pe, PerfTarget *t, int cgfd)
{
        _cleanup_free_ char *text = NULL;
        int r = pe_read_all(cgfd, "cgroup.threads", &text);
        if (r < 0) {
                pe_reason(pe->reason, sizeof(pe->reason), "cgroup %s: cgroup.threads: %s", t->path,
                          strerror(-r));
                return r;
        }
        return pe_open_tid_list(pe, t, text);
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

static bool pe_target_has_tid(const PerfTarget *t, pid_t tid)
{
        for (size_t g = 0; g < t->n_groups; g++)
                if (t->at[g] == tid)
                        return true;
        return false;
}

/* One pass over <procfs>/PID/task: a group for each thread not counted yet. *ret_opened says how
 * many were opened. -ENOENT when the directory cannot be listed. */
static int pe_open_task_dir(PerfEvents *pe, PerfTarget *t, const char *dir, size_t *ret_opened)
{
        DIR *d = opendir(dir);
        if (!d)
                return -errno;
        size_t opened = 0;
        int r = 0;
        struct dirent *de;
        while ((de = readdir(d))) {
                char *end;
                long tid = strtol(de->d_name, &end, 10);
                if (end == de->d_name || *end || tid <= 0 || tid > INT_MAX)
                        continue;
                if (pe_target_has_tid(t, (pid_t)tid))
                        continue;
                r = pe_open_thread(pe, t, (pid_t)tid);
                if (r == -ESRCH) {
                        r = 0;
                        continue;
                }
                if (r < 0)
                        break;
                opened++;
        }
        (void)closedir(d);
        *ret_opened = opened;
        return r;
}

/* Passes over the task directory: a thread cloned by a thread not yet opened while the first pass
 * ran is not inherited by any counter, so the directory is listed again until a pass finds no new
 * thread (a few passes at most, even for a process spawning threads all the time). */
#define PE_TASK_PASSES 4

int perf_events_add_pid(PerfEvents *pe, pid_t pid, PerfTarget **ret)
{
        assert(ret);
        pe->reason[0] = '\0';
        if (pid <= 0)
                return -EINVAL;

        PerfTarget *t;
        int r = pe_target_new(pe, PERF_TARGET_PROCESS, &t);
        if (r < 0)
                return r;
        t->pid = pid;

        char path[PATH_MAX];
        r = path_fmt(path, sizeof(path), "%s/%d/task", pe->roots.procfs, (int)pid);
        if (r < 0)
                goto fail;
        size_t opened = 0;
        r = pe_open_task_dir(pe, t, path, &opened);
        if (r == -ENOENT || r == -ESRCH) {
                r = -ESRCH;
                goto fail;
        }
        if (r < 0 && t->n_groups == 0 && r != -ENOMEM && r != -EMFILE && r != -ENFILE &&
            r != -EOPNOTSUPP && r != -EACCES) {
                /* No procfs to list threads in: the process itself (its main thread). */
                r = pe_open_thread(pe, t, pid);
                opened = 0;
        }
        for (int pass = 1; r >= 0 && opened > 0 && pass < PE_TASK_PASSES; pass++)
                r = pe_open_task_dir(pe, t, path, &opened);
        if (r == -ENOENT)
                r = 0; /* exited meanwhile: what was opened still counts what it did */
        if (r < 0)
                goto fail;
        if (t->n_groups == 0) {
                r = -ESRCH;
                goto fail;
        }

        pe_target_link(pe, t);
        *ret = t;
        return 0;
fail:
        if (r == -ESRCH)
                pe_reason(pe->reason, sizeof(pe->reason), "process %d: %s", (int)pid,
                          strerror(ESRCH));
        pe_target_free(pe, t);
        return r;
}

int perf_events_add_process(PerfEvents *pe, pid_t pid, uint64_t start_time, PerfTarget **ret)
{
        assert(ret);
        PerfTarget *t;
        int r = perf_events_add_pid(pe, pid, &t);
        if (r < 0)
                return r;
        /* Read after the counters were opened: when the start time still matches, the PID could
         * not have been reused before the opens (the process it named was alive after them). */
        ProcStat st;
        r = procfs_read_stat(&pe->roots, pid, &st);
        if (r < 0 || st.starttime != start_time) {
                pe_reason(pe->reason, sizeof(pe->reason), "process %d: %s", (int)pid,
                          r < 0 ? strerror(-r) : "PID reused by another process");
                (void)perf_events_remove(pe, t);
                return -ESRCH;
        }
        t->start_time = start_time;
        *ret = t;
        return 0;
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
static int pe_read_group(PerfEvents *pe, const PerfTarget *t, const int *fds, uint64_t *sums)
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

bool perf_events_cpus_changed(const PerfEvents *pe)
{
        return pe->cpus_changed;
}

/* Closes group g of a cgroup target after adding its final counts to the target's retired ones,
 * so that the target's sum neither steps back nor counts them twice. The last group takes its
 * place. Nothing is closed when the group cannot be read. */
static int pe_retire_group(PerfEvents *pe, PerfTarget *t, size_t g)
{
        uint64_t sums[PERF_EVENTS_MAX] = {0};
        int *fds = t->fds + g * pe->n;
        int r = pe_read_group(pe, t, fds, sums);
        if (r < 0)
                return r;
        for (size_t e = 0; e < pe->n; e++)
                t->retired[e] = pe_add_sat(t->retired[e], sums[e]);
        pe_close_fds(fds, pe->n);
        size_t last = t->n_groups - 1;
        if (g != last) {
                memcpy(fds, t->fds + last * pe->n, pe->n * sizeof(int));
                t->at[g] = t->at[last];
        }
        t->n_groups--;
        return 0;
}

/* Brings one cgroup target to a group per online CPU: closes the groups on CPUs gone or reset (and
 * the broken ones when check_broken), opens the missing ones. Returns how many groups it opened or
 * closed, or the first error (what it could do is done). */
static int pe_target_update_cpus(PerfEvents *pe, PerfTarget *t, bool check_broken)
{
        int changes = 0, err = 0;
        for (size_t g = t->n_groups; g > 0; g--) {
                unsigned cpu = (unsigned)t->at[g - 1];
                if (pe_cpu_is(pe, cpu, PE_CPU_ONLINE) && !pe_cpu_is(pe, cpu, PE_CPU_RESET) &&
                    !(check_broken && pe_group_broken(pe, t->fds + (g - 1) * pe->n)))
                        continue;
                int r = pe_retire_group(pe, t, g - 1);
                if (r < 0) {
                        pe_reason(pe->reason, sizeof(pe->reason),
                                  "cgroup %s: reading the counters on CPU %u: %s", t->path, cpu,
                                  strerror(-r));
                        err = err ?: r;
                        continue;
                }
                changes++;
        }

        _cleanup_close_ int cgfd = -1;
        for (size_t c = 0; c < pe->n_cpus; c++) {
                bool have = false;
                for (size_t g = 0; g < t->n_groups && !have; g++)
                        have = (unsigned)t->at[g] == pe->cpus[c];
                if (have)
                        continue;
                if (cgfd < 0) {
                        cgfd = pe_open_cgroup_dir(pe, t->path);
                        if (cgfd == -ENOENT)
                                return changes; /* removed: its units go with the next scan */
                        if (cgfd < 0)
                                return err ?: cgfd;
                }
                int *fds = pe_target_grow(pe, t);
                if (!fds)
                        return err ?: -ENOMEM;
                size_t e;
                int r = pe_open_group(pe, cgfd, (int)pe->cpus[c], PERF_FLAG_PID_CGROUP,
                                      PE_INHERIT_NONE, true, fds, &e);
                if (r == -ENODEV) {
                        pe->cpus_incomplete = true; /* gone again meanwhile */
                        continue;
                }
                if (r < 0) {
                        err = err ?: pe_open_failed(pe, e, -r);
                        continue;
                }
                t->at[t->n_groups++] = (pid_t)pe->cpus[c];
                changes++;
        }
        return err ? err : changes;
}

int perf_events_update_cpus(PerfEvents *pe)
{
        pe->reason[0] = '\0';
        if (!pe->cgroup_mode_works) /* no cgroup counted per CPU yet */
                return 0;
        bool check_broken = pe->cpus_changed; /* a read found a broken group: which ones? */
        pe->cpus_changed = false;
        int r = pe_ensure_cpus(pe);
        if (r < 0) {
                pe->cpus_changed = check_broken;
                return r;
        }
        bool stale = check_broken || pe->cpus_changed || pe->cpus_incomplete;
        pe->cpus_incomplete = false;

        /* The watches of CPUs that went offline, and came back or not: every group on those CPUs
         * is broken. Their new watches are opened before the groups. */
        for (size_t c = 0; c < pe->n_cpu_state; c++)
                pe->cpu_state[c] &= (uint8_t)~PE_CPU_RESET;
        for (size_t w = pe->n_watch; w > 0; w--) {
                PeWatch *wt = &pe->watch[w - 1];
                bool online = pe_cpu_is(pe, wt->cpu, PE_CPU_ONLINE);
                if (online && !pe_watch_broken(wt))
                        continue;
                if (online) {
                        log_debug("perf-events: CPU %u went offline and came back", wt->cpu);
                        pe->cpu_state[wt->cpu] |= PE_CPU_RESET;
                }
                stale = true;
                pe_close_fds(wt->fd, 2);
                *wt = pe->watch[--pe->n_watch];
        }
        pe_watch_open_missing(pe);
        if (!stale)
                return 0;

        int changes = 0, err = 0;
        for (PerfTarget *t = pe->targets; t; t = t->next) {
                if (t->mode != PERF_TARGET_CGROUP)
                        continue;
                r = pe_target_update_cpus(pe, t, check_broken);
                if (r < 0)
                        err = err ?: r;
                else
                        changes += r;
        }
        /* what the reads above found is handled, and an error waits for the next update rather
         * than making each tick try again */
        pe->cpus_changed = false;
        if (err < 0) {
                pe->cpus_incomplete = true;
                return err;
        }
        return changes;
}
