/* Per-process perf counters (daemon/proc-events.c over collectors/perf-events.c) against a fake
 * kernel: perf_event_open and read injected, a fake procfs (task directories, stat start times).
 * Each fake counter belongs to one thread of one process generation, so a PID handed to a new
 * process gets new counters while the old ones keep their final values, as in the kernel. Checks
 * the sums over threads, the scaling, deltas per read, that a process exiting loses nothing
 * counted, that a reused PID never mixes two processes' counts, idle closing and descriptors. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <linux/perf_event.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "collectors/perf-events.h"
#include "common/util.h"
#include "daemon/proc-events.h"
#include "fd-count.h"

#define MAX_FD  1024
#define MAX_TID 8

/* ---- the fake kernel ---- */

static struct {
        unsigned gen[MAX_TID];      /* process generation of each tid (PID reuse) */
        uint64_t count[MAX_TID][4]; /* per tid, per generation: the first event's count */
        uint64_t en, run;           /* time_enabled, time_running of every group */
        struct {
                int tid;
                unsigned gen;
                bool used;
        } fd[MAX_FD];
        int open_errno;
        unsigned opens;
} k;

static int fake_open(struct perf_event_attr *attr, pid_t pid, int cpu, int group_fd,
                     unsigned long flags)
{
        (void)attr;
        (void)cpu;
        (void)group_fd;
        assert_true(flags & PERF_FLAG_FD_CLOEXEC);
        assert_true(attr->inherit);
        k.opens++;
        if (k.open_errno) {
                errno = k.open_errno;
                return -1;
        }
        assert_true(pid > 0 && pid < MAX_TID);
        int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        assert_true(fd >= 0 && fd < MAX_FD);
        k.fd[fd].tid = pid;
        k.fd[fd].gen = k.gen[pid];
        k.fd[fd].used = true;
        return fd;
}

static ssize_t fake_read(int fd, void *buf, size_t count)
{
        assert_true(fd >= 0 && fd < MAX_FD && k.fd[fd].used);
        uint64_t *v = buf;
        size_t nr = count / sizeof(uint64_t) - 3;
        v[0] = nr;
        v[1] = k.en;
        v[2] = k.run;
        for (size_t e = 0; e < nr; e++)
                v[3 + e] = k.count[k.fd[fd].tid][k.fd[fd].gen] * (e + 1);
        return (ssize_t)count;
}

static const PerfEventsSyscalls fake = {.perf_event_open = fake_open, .read = fake_read};

static char procfs[PATH_MAX];

static void mkdirs(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void mkdirs(const char *fmt, ...)
{
        char path[PATH_MAX];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(path, sizeof(path), fmt, ap);
        va_end(ap);
        char cmd[PATH_MAX + 32];
        snprintf(cmd, sizeof(cmd), "mkdir -p '%s'", path);
        assert_int_equal(system(cmd), 0);
}

/* A process: its stat (start time) and task/TID directories. */
static void fake_process(int pid, uint64_t start_time, const int *tids, size_t n)
{
        char path[PATH_MAX + 32];
        char cmd[PATH_MAX + 32];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s/%d'", procfs, pid);
        assert_int_equal(system(cmd), 0);
        for (size_t i = 0; i < n; i++)
                mkdirs("%s/%d/task/%d", procfs, pid, tids[i]);
        snprintf(path, sizeof(path), "%s/%d/stat", procfs, pid);
        FILE *f = fopen(path, "we");
        assert_non_null(f);
        fprintf(f,
                "%d (worker) S 1 1 1 0 -1 4194304 0 0 0 0 10 5 0 0 20 0 %zu 0 %llu 1000 100 "
                "0 0 0 0 0 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0\n",
                pid, n, (unsigned long long)start_time);
        assert_int_equal(fclose(f), 0);
}

static void fake_exit(int pid)
{
        char cmd[PATH_MAX + 32];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s/%d'", procfs, pid);
        assert_int_equal(system(cmd), 0);
}

static PerfEvents *pe;

static int setup(void **state)
{
        (void)state;
        memset(&k, 0, sizeof(k));
        k.en = k.run = 1000;
        snprintf(procfs, sizeof(procfs), "/tmp/test-proc-events-XXXXXX");
        assert_non_null(mkdtemp(procfs));
        perf_events_set_syscalls(&fake);
        static JoulesRoots roots;
        roots = (JoulesRoots){.sysfs = "/sys", .procfs = procfs, .cgroupfs = "/nonexistent"};
        assert_int_equal(
                perf_events_new("perf::TASK-CLOCK,perf::PAGE-FAULTS", &roots, &pe, NULL, 0), 0);
        return 0;
}

static int teardown(void **state)
{
        (void)state;
        pe = perf_events_free(pe);
        perf_events_set_syscalls(NULL);
        char cmd[PATH_MAX + 16];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", procfs);
        assert_int_equal(system(cmd), 0);
        return 0;
}

/* Reads once; returns the row of (pid, start_time) or NULL. */
static const ProcEventsRow *read_row(ProcEvents *p, int pid, uint64_t start_time, size_t *ret_n)
{
        const ProcEventsRow *rows;
        size_t n;
        assert_int_equal(proc_events_read(p, &rows, &n), 0);
        if (ret_n)
                *ret_n = n;
        for (size_t i = 0; i < n; i++)
                if (rows[i].pid == pid && rows[i].start_time == start_time)
                        return &rows[i];
        return NULL;
}

/* ---- tests ---- */

/* Every thread is counted, summed; deltas per read; scaled for multiplexing. */
static void test_threads_and_scaling(void **state)
{
        (void)state;
        size_t fds0 = count_fds();
        ProcEvents *p;
        assert_int_equal(proc_events_new(pe, 5, &p), 0);
        fake_process(3, 500, (const int[]){3, 4, 5}, 3);

        assert_null(read_row(p, 3, 500, NULL)); /* nothing open yet */
        assert_int_equal(proc_events_busy(p, 7, 3, 500), 0);
        assert_int_equal(proc_events_n_open(p), 1);
        assert_int_equal(proc_events_n_groups(p), 3);
        assert_int_equal(k.opens, 6); /* 3 threads x 2 events, the task directory listed twice */

        k.count[3][0] = 100;
        k.count[4][0] = 20;
        k.count[5][0] = 3;
        const ProcEventsRow *r = read_row(p, 3, 500, NULL);
        assert_non_null(r);
        assert_int_equal(r->unit_id, 7);
        assert_int_equal(r->delta[0], 123);
        assert_int_equal(r->delta[1], 246);

        /* A quarter of the time on the PMU: counts scaled by 4, deltas from the scaled values. */
        k.run = 250;
        r = read_row(p, 3, 500, NULL);
        assert_non_null(r);
        assert_int_equal(r->delta[0], 4 * 123 - 123);
        /* Back to full time: the scaled estimate steps back, which is no negative delta. */
        k.run = 1000;
        size_t n;
        assert_null(read_row(p, 3, 500, &n));
        assert_int_equal(n, 0);
        k.count[4][0] += 500 + 3 * 123; /* past the high-water mark of 492 */
        r = read_row(p, 3, 500, NULL);
        assert_non_null(r);
        assert_int_equal(r->delta[0], 500);

        /* Never on the PMU (time_running 0): nothing, never a division by zero. */
        k.run = 0;
        assert_null(read_row(p, 3, 500, NULL));
        k.run = 1000;

        p = proc_events_free(p);
        assert_int_equal(count_fds(), fds0);
}

/* A process that exits between two reads: what it counted until then comes with the next read. */
static void test_exit_keeps_counts(void **state)
{
        (void)state;
        ProcEvents *p;
        assert_int_equal(proc_events_new(pe, 5, &p), 0);
        fake_process(3, 500, (const int[]){3}, 1);
        assert_int_equal(proc_events_busy(p, 1, 3, 500), 0);
        k.count[3][0] = 40;
        assert_int_equal(read_row(p, 3, 500, NULL)->delta[0], 40);
        k.count[3][0] = 70; /* counted, then exits before the next read */
        fake_exit(3);
        assert_int_equal(read_row(p, 3, 500, NULL)->delta[0], 30);
        assert_null(read_row(p, 3, 500, NULL));
        /* Gone: marking it busy again opens nothing. */
        assert_int_equal(proc_events_busy(p, 1, 4, 501), -ESRCH);
        p = proc_events_free(p);
}

/* PID 3 is reused: the new process (another start time) gets its own counters; each row holds one
 * process's counts only. */
static void test_pid_reuse(void **state)
{
        (void)state;
        size_t fds0 = count_fds();
        ProcEvents *p;
        assert_int_equal(proc_events_new(pe, 5, &p), 0);
        fake_process(3, 500, (const int[]){3}, 1);
        assert_int_equal(proc_events_busy(p, 1, 3, 500), 0);
        k.count[3][0] = 1000;
        assert_int_equal(read_row(p, 3, 500, NULL)->delta[0], 1000);

        k.count[3][0] = 1100; /* the old process's last work */
        fake_exit(3);
        k.gen[3] = 1; /* the kernel hands PID 3 to a new process */
        fake_process(3, 900, (const int[]){3}, 1);
        /* The old identity marked busy again (a sample taken before the reuse): refused. */
        assert_int_equal(proc_events_busy(p, 1, 3, 500), 0); /* its entry is still there */
        assert_int_equal(proc_events_busy(p, 2, 3, 900), 0);
        assert_int_equal(proc_events_n_open(p), 2);
        k.count[3][1] = 7;
        const ProcEventsRow *rows;
        size_t n;
        assert_int_equal(proc_events_read(p, &rows, &n), 0);
        assert_int_equal(n, 2);
        for (size_t i = 0; i < n; i++) {
                if (rows[i].start_time == 500) {
                        assert_int_equal(rows[i].unit_id, 1);
                        assert_int_equal(rows[i].delta[0], 100);
                } else {
                        assert_int_equal(rows[i].start_time, 900);
                        assert_int_equal(rows[i].unit_id, 2);
                        assert_int_equal(rows[i].delta[0], 7);
                }
        }

        /* A sample names (3, 500) but PID 3 now belongs to start time 900: the start time read
         * after the opens differs, so nothing is opened for it, nothing left open. */
        ProcEvents *q;
        assert_int_equal(proc_events_new(pe, 5, &q), 0);
        size_t fds1 = count_fds();
        assert_int_equal(proc_events_busy(q, 1, 3, 500), -ESRCH);
        assert_int_equal(proc_events_n_open(q), 0);
        assert_int_equal(count_fds(), fds1);
        q = proc_events_free(q);

        p = proc_events_free(p);
        assert_int_equal(count_fds(), fds0);
}

/* Not marked busy for idle_ticks reads: read one last time, then closed. */
static void test_idle_close(void **state)
{
        (void)state;
        size_t fds0 = count_fds();
        ProcEvents *p;
        assert_int_equal(proc_events_new(pe, 2, &p), 0);
        fake_process(3, 500, (const int[]){3, 4}, 2);
        fake_process(5, 600, (const int[]){5}, 1);
        assert_int_equal(proc_events_busy(p, 1, 3, 500), 0);
        assert_int_equal(proc_events_busy(p, 1, 5, 600), 0);
        assert_int_equal(proc_events_n_groups(p), 3);
        for (int tick = 1; tick <= 2; tick++) {
                assert_null(read_row(p, 3, 500, NULL));
                assert_int_equal(proc_events_busy(p, 1, 5, 600), 0); /* 5 stays busy */
                assert_int_equal(proc_events_n_open(p), 2);
        }
        k.count[4][0] = 9; /* counted in its last idle tick */
        assert_int_equal(read_row(p, 3, 500, NULL)->delta[0], 9);
        assert_int_equal(proc_events_n_open(p), 1);
        assert_int_equal(proc_events_n_groups(p), 1);
        p = proc_events_free(p);
        assert_int_equal(count_fds(), fds0);
}

/* A kernel that refuses the events: one attempt per process, not one per tick. */
static void test_refused_once(void **state)
{
        (void)state;
        ProcEvents *p;
        assert_int_equal(proc_events_new(pe, 2, &p), 0);
        fake_process(3, 500, (const int[]){3}, 1);
        k.open_errno = EMFILE;
        assert_int_equal(proc_events_busy(p, 1, 3, 500), -EMFILE);
        unsigned opens = k.opens;
        for (int i = 0; i < 5; i++) {
                const ProcEventsRow *rows;
                size_t n;
                assert_int_equal(proc_events_read(p, &rows, &n), 0);
                assert_int_equal(proc_events_busy(p, 1, 3, 500), -EAGAIN);
        }
        assert_int_equal(k.opens, opens);
        assert_int_equal(proc_events_n_open(p), 0);
        p = proc_events_free(p);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_threads_and_scaling, setup, teardown),
                cmocka_unit_test_setup_teardown(test_exit_keeps_counts, setup, teardown),
                cmocka_unit_test_setup_teardown(test_pid_reuse, setup, teardown),
                cmocka_unit_test_setup_teardown(test_idle_close, setup, teardown),
                cmocka_unit_test_setup_teardown(test_refused_once, setup, teardown),
        };
        return cmocka_run_group_tests_name("proc-events (fake kernel)", tests, NULL, NULL);
}
