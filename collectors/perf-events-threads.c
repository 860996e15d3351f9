/* Counting by thread: a group per thread with inherit, for one process (its threads listed again
 * until no new one shows, the PID's reuse refused by its start time) and for a cgroup the kernel
 * will not count per CPU (the threads in its cgroup.threads). The rules are in
 * collectors/perf-events.h. */

#include "collectors/perf-events.h"
#include "collectors/perf-events-internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "collectors/procfs.h"
#include "common/log.h"

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

/* Per-process counting of the threads in the cgroup now (PERF_TARGET_CGROUP_PROCESSES). */
int pe_open_cgroup_threads(PerfEvents *pe, PerfTarget *t, int cgfd)
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
