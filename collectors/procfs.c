#include "collectors/procfs.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/log.h"

/* ---- small hand parsers (sscanf costs 10x here, see ENVIRONMENT.md) ---- */

static bool is_digit(char c)
{
        return c >= '0' && c <= '9';
}

/* Parses decimal digits at *p up to a space, newline or NUL; advances *p past them. */
static int take_u64(const char **p, uint64_t *ret)
{
        const char *end;
        uint64_t v;
        int r = parse_u64_prefix(*p, &end, &v);
        if (r < 0)
                return r;
        if (*end != ' ' && *end != '\n' && *end != '\0')
                return -EINVAL;
        *p = end;
        *ret = v;
        return 0;
}

/* Skips one space-separated token (which may be signed) and the single space after it. The
 * tokens are short numbers: a byte loop beats strcspn's set-up. */
static int skip_token(const char **p)
{
        const char *s = *p;
        while (*s && *s != ' ' && *s != '\n')
                s++;
        if (s == *p)
                return -EINVAL;
        *p = s;
        return 0;
}

static int take_space(const char **p)
{
        if (**p != ' ')
                return -EINVAL;
        (*p)++;
        return 0;
}

int procfs_stat_parse(const char *text, ProcStat *ret)
{
        ProcStat st = {};
        uint64_t v;
        int r;

        assert(text);
        assert(ret);

        /* "pid (comm) state ppid ...": comm may hold spaces, ')' and newlines itself (it is printed
         * raw, proc_task_name(m, task, false) in fs/proc/array.c; "echo x > /proc/PID/comm" ends
         * it with "\n"), so it ends at the LAST ')' of the text; nothing after it can contain one.
         */
        const char *open_paren = strchr(text, '(');
        if (!open_paren || open_paren == text || open_paren[-1] != ' ')
                return -EINVAL;
        /* memrchr rather than a byte loop: this runs for every process read. */
        const char *close_paren = memrchr(open_paren, ')', strlen(open_paren));
        if (!close_paren)
                return -EINVAL;

        const char *p = text;
        r = take_u64(&p, &v);
        if (r < 0 || p != open_paren - 1 || v == 0 || v > INT32_MAX)
                return -EINVAL;
        st.pid = (pid_t)v;

        size_t len = (size_t)(close_paren - open_paren - 1);
        if (len >= sizeof(st.comm))
                len = sizeof(st.comm) - 1;
        memcpy(st.comm, open_paren + 1, len);
        st.comm[len] = '\0';

        p = close_paren + 1;
        if (take_space(&p) < 0 || *p == '\0' || *p == ' ' || *p == '\n')
                return -EINVAL;
        st.state = *p++;

        /* Fields 4..22 (1-based, as in proc(5)). */
        for (unsigned field = 4; field <= 22; field++) {
                if (take_space(&p) < 0)
                        return -EINVAL;
                switch (field) {
                case 4:  /* ppid */
                case 9:  /* flags */
                case 14: /* utime */
                case 15: /* stime */
                case 20: /* num_threads */
                case 22: /* starttime */
                        r = take_u64(&p, &v);
                        if (r < 0)
                                return -EINVAL;
                        break;
                default:
                        if (skip_token(&p) < 0)
                                return -EINVAL;
                        continue;
                }
                switch (field) {
                case 4:
                        if (v > INT32_MAX)
                                return -EINVAL;
                        st.ppid = (pid_t)v;
                        break;
                case 9:
                        if (v > UINT32_MAX)
                                return -EINVAL;
                        st.flags = (unsigned)v;
                        break;
                case 14:
                        st.utime = v;
                        break;
                case 15:
                        st.stime = v;
                        break;
                case 20:
                        st.num_threads = v;
                        break;
                case 22:
                        st.starttime = v;
                        break;
                }
        }

        *ret = st;
        return 0;
}

bool procfs_stat_is_kthread(const ProcStat *st)
{
        assert(st);
        return st->flags & PROCFS_PF_KTHREAD;
}

int procfs_schedstat_parse(const char *text, ProcSchedstat *ret)
{
        uint64_t v[3];
        const char *p = text;

        assert(text);
        assert(ret);

        for (size_t i = 0; i < ELEMENTSOF(v); i++) {
                if (i > 0 && take_space(&p) < 0)
                        return -EINVAL;
                if (take_u64(&p, &v[i]) < 0)
                        return -EINVAL;
        }
        if (*p == '\n')
                p++;
        if (*p != '\0')
                return -EINVAL;

        *ret = (ProcSchedstat){.run_ns = v[0], .wait_ns = v[1], .timeslices = v[2]};
        return 0;
}

int procfs_cgroup_parse(const char *text, const char *controller, char *buf, size_t size)
{
        bool v2 = !controller || controller[0] == '\0';
        static const char deleted[] = " (deleted)";

        assert(text);
        assert(buf);

        for (const char *line = text; *line;) {
                const char *eol = strchrnul(line, '\n');
                const char *c1 = memchr(line, ':', (size_t)(eol - line));
                const char *c2 = c1 ? memchr(c1 + 1, ':', (size_t)(eol - c1 - 1)) : NULL;
                if (line == eol) {
                        line = *eol ? eol + 1 : eol;
                        continue;
                }
                if (!c1 || !c2 || c1 == line)
                        return -EINVAL;
                for (const char *d = line; d < c1; d++)
                        if (!is_digit(*d))
                                return -EINVAL;

                bool match;
                if (v2)
                        match = c1 - line == 1 && line[0] == '0' && c2 == c1 + 1;
                else
                        match = comma_list_has(c1 + 1, (size_t)(c2 - c1 - 1), controller);
                if (match) {
                        const char *path = c2 + 1;
                        size_t n = (size_t)(eol - path);
                        if (n >= sizeof(deleted) - 1 &&
                            memcmp(eol - (sizeof(deleted) - 1), deleted, sizeof(deleted) - 1) == 0)
                                n -= sizeof(deleted) - 1;
                        if (n == 0 || path[0] != '/')
                                return -EINVAL;
                        if (n >= size)
                                return -ENAMETOOLONG;
                        memcpy(buf, path, n);
                        buf[n] = '\0';
                        return 0;
                }
                line = *eol ? eol + 1 : eol;
        }
        return -ENODATA;
}

int procfs_cgroup_unit_path(const char *text, char *buf, size_t size)
{
        char v2[4096], sd[4096];
        int r2 = procfs_cgroup_parse(text, NULL, v2, sizeof(v2));
        int rs = procfs_cgroup_parse(text, "name=systemd", sd, sizeof(sd));
        const char *pick;

        if (r2 < 0 && r2 != -ENODATA)
                return r2;
        if (rs < 0 && rs != -ENODATA)
                return rs;
        if (r2 >= 0 && (strcmp(v2, "/") != 0 || rs < 0))
                pick = v2;
        else if (rs >= 0)
                pick = sd;
        else
                return -ENODATA;

        size_t n = strlen(pick);
        if (n >= size)
                return -ENAMETOOLONG;
        memcpy(buf, pick, n + 1);
        return 0;
}

int procfs_read_stat(const JoulesRoots *roots, pid_t pid, ProcStat *ret)
{
        char path[4096], buf[1024];
        const char *procfs = roots && roots->procfs ? roots->procfs : "/proc";
        int r = path_fmt(path, sizeof(path), "%s/%d/stat", procfs, (int)pid);
        if (r < 0)
                return r;
        ssize_t n = read_text(path, buf, sizeof(buf));
        if (n < 0)
                return (int)n;
        return procfs_stat_parse(buf, ret);
}

int procfs_parse_pid_list(const char *text, pid_t *pids, size_t max)
{
        size_t n = 0;
        const char *p = text;

        assert(text);

        while (*p) {
                uint64_t v;
                if (*p == '\n') {
                        p++;
                        continue;
                }
                if (take_u64(&p, &v) < 0 || v > INT32_MAX || *p == ' ')
                        return -EINVAL;
                /* 0: a task that lost its PID while exiting, or one outside the reader's PID
                 * namespace (task_pid_vnr() in cgroup_procs_show, kernel/cgroup/cgroup.c, until
                 * "cgroup: Skip showing PID 0 in cgroup.procs and cgroup.threads"). */
                if (v == 0)
                        continue;
                if (n >= max)
                        return -ENOBUFS;
                pids[n++] = (pid_t)v;
        }
        return (int)n;
}

/* ---- the tracker ---- */

/* A single-threaded process is read from schedstat, and from stat once every this many samples. */
#define PROCFS_STAT_REFRESH 16

typedef struct TrackEntry {
        pid_t pid;
        int fd;              /* cached /proc/PID/stat, -1 when none */
        int sched_fd;        /* cached /proc/PID/schedstat while single-threaded, -1 when none */
        bool kthread;        /* known kernel thread (only kept with PROCFS_TRACK_SKIP_KTHREADS) */
        bool have;           /* the fields below hold a baseline from stat */
        bool idle;           /* its last reading showed no CPU time since the one before */
        bool skipped;        /* left unread by the last procfs_tracker_sample_lazy */
        bool have_sched;     /* sched_ns holds a baseline */
        unsigned since_stat; /* samples taken from schedstat since stat was last read */
        uint64_t starttime;
        uint64_t stat_ns;  /* utime+stime at the last stat read */
        uint64_t sched_ns; /* schedstat run time at the last schedstat read */
        uint64_t cpu_ns;   /* cumulative CPU time reported: stat's, plus schedstat's deltas since */
        ProcSample last;   /* identity fields from the last stat read */
} TrackEntry;

struct ProcTracker {
        char *procfs;
        unsigned flags;
        bool nocache; /* the fd limit was hit once: open/read/close each time from then on */
        uint64_t ns_per_tick;
        bool have_list;
        uint64_t list_ticks; /* CLOCK_BOOTTIME at the latest PROCFS_SAMPLE_NEW_LIST, clock ticks */
        bool round_have_list;
        uint64_t round_list_ticks;    /* ... and at the one before, for the current round */
        size_t gone, skipped, coarse; /* the current round's, see ProcTrackerCounts */

        TrackEntry *entries;
        size_t n_entries;
        TrackEntry *next; /* scratch, same capacity */
        size_t cap_entries;

        pid_t *pids;
        size_t cap_pids;

        ProcSample *samples;
        size_t n_samples;
        size_t cap_samples;
};

int procfs_tracker_new(const JoulesRoots *roots, unsigned flags, ProcTracker **ret)
{
        assert(ret);
        const char *procfs = roots && roots->procfs ? roots->procfs : "/proc";

        ProcTracker *t = calloc(1, sizeof(*t));
        if (!t)
                return -ENOMEM;
        t->procfs = strdup(procfs);
        if (!t->procfs) {
                free(t);
                return -ENOMEM;
        }
        t->flags = flags;
        long hz = sysconf(_SC_CLK_TCK);
        t->ns_per_tick = NSEC_PER_SEC / (uint64_t)(hz > 0 ? hz : 100);
        *ret = t;
        return 0;
}

static void entry_close(TrackEntry *e)
{
        if (e->fd >= 0)
                (void)close(e->fd);
        if (e->sched_fd >= 0)
                (void)close(e->sched_fd);
        e->fd = e->sched_fd = -1;
        e->have_sched = false;
}

/* Reads /proc/PID/schedstat of a single-threaded process through a cached fd: the kernel formats
 * three numbers instead of stat's 52 fields, several times cheaper, and in nanoseconds. */
static int entry_read_sched(ProcTracker *t, TrackEntry *e, uint64_t *ret_ns)
{
        char buf[128];
        if (e->sched_fd < 0 && !t->nocache) {
                char path[4096];
                int r = path_fmt(path, sizeof(path), "%s/%d/schedstat", t->procfs, (int)e->pid);
                if (r < 0)
                        return r;
                e->sched_fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
                if (e->sched_fd < 0)
                        return -errno;
        }
        if (e->sched_fd < 0)
                return -EBADF;
        ssize_t n = procfs_pread_once(e->sched_fd, buf, sizeof(buf));
        if (n < 0) {
                (void)close(e->sched_fd);
                e->sched_fd = -1;
                return (int)n;
        }
        ProcSchedstat ss;
        int r = procfs_schedstat_parse(buf, &ss);
        if (r < 0)
                return r;
        *ret_ns = ss.run_ns;
        return 0;
}

ProcTracker *procfs_tracker_free(ProcTracker *t)
{
        if (!t)
                return NULL;
        for (size_t i = 0; i < t->n_entries; i++)
                entry_close(&t->entries[i]);
        free(t->entries);
        free(t->next);
        free(t->pids);
        free(t->samples);
        free(t->procfs);
        free(t);
        return NULL;
}

static int cmp_pid(const void *a, const void *b)
{
        pid_t x = *(const pid_t *)a, y = *(const pid_t *)b;
        return (x > y) - (x < y);
}

/* Drops every cached fd of the tracker after the fd limit was hit. */
static void tracker_stop_caching(ProcTracker *t)
{
        t->nocache = true;
        for (size_t i = 0; i < t->n_entries; i++)
                entry_close(&t->entries[i]);
        log_debug("procfs: fd limit reached, reading /proc/PID/stat without cached fds");
}

/* Reads e's /proc/PID/stat. On return e->fd is the cached fd (or -1). -ESRCH/-ENOENT: the process
 * is gone. When the cached fd had to be replaced, e->have is cleared (a new process). */
static int entry_read(ProcTracker *t, TrackEntry *e, ProcStat *st)
{
        char buf[1024];
        ssize_t n;
        int r;

        if (e->fd >= 0) {
                n = procfs_pread_once(e->fd, buf, sizeof(buf));
                if (n >= 0)
                        goto parse;
                entry_close(e);
                if (n != -ESRCH && n != -ENOENT)
                        return (int)n;
                /* The process this fd was opened for has been reaped; the number may now belong
                 * to another process. */
                e->have = false;
        }

        char path[4096];
        r = path_fmt(path, sizeof(path), "%s/%d/stat", t->procfs, (int)e->pid);
        if (r < 0)
                return r;
        int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0 && (errno == EMFILE || errno == ENFILE) && !t->nocache) {
                tracker_stop_caching(t);
                fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        }
        if (fd < 0)
                return -errno;
        n = procfs_pread_once(fd, buf, sizeof(buf));
        if (n < 0) {
                (void)close(fd);
                return (int)n;
        }
        if (t->nocache)
                (void)close(fd);
        else
                e->fd = fd;

parse:
        r = procfs_stat_parse(buf, st);
        if (r < 0)
                return r;
        if (st->pid != e->pid)
                return -EINVAL;
        return 0;
}

static uint64_t boottime_ticks(const ProcTracker *t)
{
        struct timespec ts;
        if (clock_gettime(CLOCK_BOOTTIME, &ts) < 0)
                return 0;
        uint64_t ns = (uint64_t)ts.tv_sec * NSEC_PER_SEC + (uint64_t)ts.tv_nsec;
        return ns / t->ns_per_tick;
}

/* Reads one entry into *s. Returns 1 when *s holds a sample, 0 when the entry is kept without one
 * (a known kernel thread), -1 when it is to be forgotten (the process is gone or unreadable). */
static int entry_sample(ProcTracker *t, TrackEntry *e, ProcSample *s)
{
        ProcStat st;
        uint64_t ns;
        int r;

        e->skipped = false;
        if (e->kthread && (t->flags & PROCFS_TRACK_SKIP_KTHREADS))
                return 0;
        /* A single-threaded process known from stat: schedstat gives its CPU time (refreshing
         * stat every PROCFS_STAT_REFRESH samples, which catches new threads and a changed name). */
        if (e->have_sched && e->since_stat < PROCFS_STAT_REFRESH) {
                r = entry_read_sched(t, e, &ns);
                if (r == 0) {
                        uint64_t d = ns >= e->sched_ns ? ns - e->sched_ns : 0;
                        e->sched_ns = ns;
                        e->since_stat++;
                        e->cpu_ns += d;
                        e->idle = d == 0;
                        *s = e->last;
                        s->fresh = false;
                        s->cpu_ns = e->cpu_ns;
                        s->delta_ns = d;
                        return 1;
                }
                if (r == -ESRCH || r == -ENOENT) {
                        entry_close(e);
                        t->gone++;
                        return -1;
                }
                e->have_sched = false; /* fall back to stat */
        }

        r = entry_read(t, e, &st);
        if (r < 0) {
                if (r != -ESRCH && r != -ENOENT)
                        log_debug("procfs: reading %s/%d/stat: %s", t->procfs, (int)e->pid,
                                  strerror(-r));
                entry_close(e); /* gone (or unreadable): forget it */
                t->gone++;
                return -1;
        }
        bool kthread = procfs_stat_is_kthread(&st);
        if (kthread && (t->flags & PROCFS_TRACK_SKIP_KTHREADS)) {
                entry_close(e);
                e->kthread = true;
                return 0;
        }

        uint64_t stat_ns = (st.utime + st.stime) * t->ns_per_tick;
        bool same = e->have && e->starttime == st.starttime;
        uint64_t d;
        if (same && e->have_sched && entry_read_sched(t, e, &ns) == 0) {
                /* Coming from schedstat: keep its clock for this interval. */
                d = ns >= e->sched_ns ? ns - e->sched_ns : 0;
                e->sched_ns = ns;
                /* But schedstat is the main thread's alone, and stat the whole thread group's: the
                 * time of threads that ran since the last stat read (exited ones included) shows
                 * in stat only. More there than was reported, beyond stat's truncation (utime and
                 * stime to a tick each), is theirs. */
                if (stat_ns > e->cpu_ns + d + 2 * t->ns_per_tick) {
                        d = stat_ns - e->cpu_ns;
                        t->coarse++;
                }
        } else if (same) {
                /* e->cpu_ns, not e->stat_ns: schedstat's deltas since the last stat read (when its
                 * read failed just now) were reported already. */
                d = stat_ns >= e->cpu_ns ? stat_ns - e->cpu_ns : 0;
                t->coarse++;
        } else {
                /* Started after the previous list: all of its CPU time is new. */
                d = t->round_have_list && st.starttime >= t->round_list_ticks ? stat_ns : 0;
                if (e->sched_fd >= 0)
                        (void)close(e->sched_fd);
                e->sched_fd = -1;
                e->have_sched = false;
        }
        e->cpu_ns = stat_ns;
        *s = (ProcSample){
                .pid = st.pid,
                .ppid = st.ppid,
                .state = st.state,
                .kthread = kthread,
                .fresh = !same,
                .starttime = st.starttime,
                .cpu_ns = e->cpu_ns,
                .delta_ns = d,
                .n_threads = st.num_threads,
        };
        memcpy(s->comm, st.comm, sizeof(s->comm));
        e->last = *s;
        e->have = true;
        e->idle = same && d == 0;
        e->starttime = st.starttime;
        e->stat_ns = stat_ns;
        e->since_stat = 0;
        if (st.num_threads == 1 && !kthread) {
                /* Next time from schedstat: take its baseline now if there is none. A process
                 * read here has run, so a run time of 0 is a kernel that does not count it
                 * ("0 0 0" without sched_info, proc_pid_schedstat in fs/proc/base.c before 5.14;
                 * or a child not yet scheduled): stat stays the clock. */
                if (!e->have_sched && entry_read_sched(t, e, &ns) == 0 && ns > 0) {
                        e->sched_ns = ns;
                        e->have_sched = true;
                }
        } else if (e->sched_fd >= 0 || e->have_sched) {
                (void)close(e->sched_fd);
                e->sched_fd = -1;
                e->have_sched = false;
        }
        return 1;
}

/* Reads the entries (all, or those marked skipped), dropping the ones that are gone. */
static void tracker_read(ProcTracker *t, bool skip_idle, bool only_skipped)
{
        size_t kept = 0;
        for (size_t i = 0; i < t->n_entries; i++) {
                TrackEntry *e = &t->entries[i];
                int r;
                if (only_skipped && !e->skipped)
                        r = 0;
                else if (skip_idle && e->idle) {
                        e->skipped = true;
                        t->skipped++;
                        r = 0;
                } else
                        r = entry_sample(t, e, &t->samples[t->n_samples]);
                if (r > 0)
                        t->n_samples++;
                if (r >= 0 && kept++ != i)
                        t->entries[kept - 1] = *e;
        }
        t->n_entries = kept;
}

static int cmp_sample_pid(const void *a, const void *b)
{
        pid_t x = ((const ProcSample *)a)->pid, y = ((const ProcSample *)b)->pid;
        return (x > y) - (x < y);
}

int procfs_tracker_sample_lazy(ProcTracker *t, const pid_t *pids, size_t n, unsigned flags,
                               const ProcSample **ret, size_t *ret_n)
{
        int r;

        assert(t);
        assert(pids || n == 0);

        uint64_t now_ticks = boottime_ticks(t);

        r = array_grow((void **)&t->pids, &t->cap_pids, n, sizeof(pid_t));
        if (r < 0)
                return r;
        /* Callers that keep a list between samples keep it sorted (cgroup-procs.c): a check is
         * then all it costs, where qsort would sort the same list again every interval. */
        size_t m = 0;
        bool sorted = true;
        for (size_t i = 0; i < n; i++)
                if (pids[i] > 0) {
                        sorted &= m == 0 || t->pids[m - 1] <= pids[i];
                        t->pids[m++] = pids[i];
                }
        if (m > 1 && !sorted)
                qsort(t->pids, m, sizeof(pid_t), cmp_pid);

        if (m > t->cap_entries) {
                /* entries and next always have the same capacity: they are swapped below. */
                size_t c = t->cap_entries ? t->cap_entries : 16;
                while (c < m)
                        c *= 2;
                TrackEntry *a = realloc(t->entries, c * sizeof(TrackEntry));
                if (!a)
                        return -ENOMEM;
                t->entries = a;
                TrackEntry *b = realloc(t->next, c * sizeof(TrackEntry));
                if (!b)
                        return -ENOMEM;
                t->next = b;
                t->cap_entries = c;
        }
        r = array_grow((void **)&t->samples, &t->cap_samples, m, sizeof(ProcSample));
        if (r < 0)
                return r;

        /* Merge the sorted PID list with the sorted entries: entries not listed are forgotten.
         * The common case is the same list as last time with every process still there: the
         * entries are then kept as they are, not copied over. */
        bool same = m == t->n_entries;
        for (size_t i = 0; same && i < m; i++)
                same = t->pids[i] == t->entries[i].pid;
        size_t o = 0, k = 0;
        for (size_t i = 0; !same && i < m; i++) {
                pid_t pid = t->pids[i];
                if (o > 0 && t->next[o - 1].pid == pid)
                        continue; /* duplicate */
                while (k < t->n_entries && t->entries[k].pid < pid)
                        entry_close(&t->entries[k++]);
                if (k < t->n_entries && t->entries[k].pid == pid)
                        t->next[o++] = t->entries[k++];
                else
                        t->next[o++] = (TrackEntry){.pid = pid, .fd = -1, .sched_fd = -1};
        }
        if (!same) {
                while (k < t->n_entries)
                        entry_close(&t->entries[k++]);
                TrackEntry *swap = t->entries;
                t->entries = t->next;
                t->next = swap;
                t->n_entries = o;
        }

        /* "Started after the previous list" (see First sighting), also for what
         * procfs_tracker_sample_rest reads later in the same round. */
        t->round_have_list = t->have_list;
        t->round_list_ticks = t->list_ticks;
        if (flags & PROCFS_SAMPLE_NEW_LIST) {
                t->have_list = true;
                t->list_ticks = now_ticks;
        }
        t->n_samples = 0;
        t->gone = t->skipped = t->coarse = 0;
        tracker_read(t, flags & PROCFS_SAMPLE_SKIP_IDLE, false);

        if (ret)
                *ret = t->samples;
        if (ret_n)
                *ret_n = t->n_samples;
        return 0;
}

int procfs_tracker_sample(ProcTracker *t, const pid_t *pids, size_t n, const ProcSample **ret,
                          size_t *ret_n)
{
        return procfs_tracker_sample_lazy(t, pids, n, PROCFS_SAMPLE_NEW_LIST, ret, ret_n);
}

int procfs_tracker_sample_rest(ProcTracker *t, const ProcSample **ret, size_t *ret_n)
{
        assert(t);
        if (t->skipped > 0) {
                size_t before = t->n_samples;
                t->skipped = 0;
                tracker_read(t, false, true);
                if (t->n_samples > before)
                        qsort(t->samples, t->n_samples, sizeof(ProcSample), cmp_sample_pid);
        }
        if (ret)
                *ret = t->samples;
        if (ret_n)
                *ret_n = t->n_samples;
        return 0;
}

void procfs_tracker_counts(const ProcTracker *t, ProcTrackerCounts *ret)
{
        assert(t);
        assert(ret);
        *ret = (ProcTrackerCounts){.skipped = t->skipped, .gone = t->gone, .coarse = t->coarse};
}

const ProcSample *procfs_tracker_last(const ProcTracker *t, size_t *ret_n)
{
        assert(t);
        if (ret_n)
                *ret_n = t->n_samples;
        return t->samples;
}

size_t procfs_tracker_open_fds(const ProcTracker *t)
{
        size_t n = 0;
        assert(t);
        for (size_t i = 0; i < t->n_entries; i++)
                if (t->entries[i].fd >= 0)
                        n++;
        return n;
}

ssize_t procfs_pread_once(int fd, char *buf, size_t size)
{
        assert(size > 0);
        for (;;) {
                ssize_t n = pread(fd, buf, size - 1, 0);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if ((size_t)n == size - 1)
                        return -ENOBUFS; /* may be cut short: the caller needs a larger buffer */
                buf[n] = '\0';
                return n;
        }
}
