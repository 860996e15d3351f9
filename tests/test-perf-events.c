/* perf event counters per service and per process: libpfm4 encoding, the scaling math from a
 * table, the open/read paths with perf_event_open and read injected (errors, multiplexed fake
 * groups, many CPUs), and, as root on a cgroup v2 mount, real software counters
 * (perf::TASK-CLOCK, perf::CONTEXT-SWITCHES) on real cgroups running CPU burners, checked against
 * each cgroup's own cpu.stat. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <linux/perf_event.h>
#include <perfmon/pfmlib.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "collectors/perf-events.h"
#include "common/util.h"

#define TOLERANCE_PCT 5.0

/* ---- helpers ---- */

static size_t count_fds(void)
{
        DIR *d = opendir("/proc/self/fd");
        assert_non_null(d);
        size_t n = 0;
        while (readdir(d))
                n++;
        (void)closedir(d);
        return n;
}

static void write_file(const char *path, const char *text)
{
        FILE *f = fopen(path, "we");
        assert_non_null(f);
        assert_true(fputs(text, f) >= 0);
        assert_int_equal(fclose(f), 0);
}

/* Children and cgroups made by the tests, undone by cleanup_all() whatever happens. */
static pid_t children[32];
static size_t n_children;
static char cgroups[16][PATH_MAX];
static size_t n_cgroups;

static void kill_child(pid_t pid)
{
        for (size_t i = 0; i < n_children; i++)
                if (children[i] == pid) {
                        (void)kill(pid, SIGKILL);
                        (void)waitpid(pid, NULL, 0);
                        children[i] = children[--n_children];
                        return;
                }
}

static int rmdir_retry(const char *path)
{
        for (int i = 0; i < 100; i++) {
                if (rmdir(path) == 0 || errno == ENOENT)
                        return 0;
                if (errno != EBUSY)
                        return -errno;
                sleep_us(10000);
        }
        return -EBUSY;
}

static void cleanup_all(void)
{
        while (n_children > 0)
                kill_child(children[n_children - 1]);
        while (n_cgroups > 0)
                (void)rmdir_retry(cgroups[--n_cgroups]);
}

static int teardown(void **state)
{
        cleanup_all();
        perf_events_set_syscalls(NULL);
        return 0;
}

/* The cgroup v2 mount, "" when there is none. */
static char v2root[PATH_MAX];

static void find_v2root(void)
{
        FILE *f = fopen("/proc/self/mountinfo", "re");
        if (!f)
                return;
        char line[4096];
        while (fgets(line, sizeof(line), f)) {
                char root[PATH_MAX], mnt[PATH_MAX], *sep = strstr(line, " - cgroup2 ");
                if (sep && sscanf(line, "%*s %*s %*s %4095s %4095s", root, mnt) == 2 &&
                    strcmp(root, "/") == 0) {
                        (void)snprintf(v2root, sizeof(v2root), "%s", mnt);
                        break;
                }
        }
        (void)fclose(f);
}

/* <v2>/system.slice/t-perf-<pid>-<tag>.service; *rel gets the path relative to the v2 root. */
static const char *make_cgroup(const char *tag, char *rel, size_t rel_size)
{
        char slice[PATH_MAX];
        assert_int_equal(path_fmt(slice, sizeof(slice), "%s/system.slice", v2root), 0);
        assert_true(mkdir(slice, 0755) == 0 || errno == EEXIST);
        assert_true(n_cgroups < ELEMENTSOF(cgroups));
        char *path = cgroups[n_cgroups];
        assert_int_equal(
                path_fmt(rel, rel_size, "/system.slice/t-perf-%d-%s.service", (int)getpid(), tag),
                0);
        assert_int_equal(path_fmt(path, PATH_MAX, "%s%s", v2root, rel), 0);
        assert_int_equal(mkdir(path, 0755), 0);
        n_cgroups++;
        return path;
}

static void forget_cgroup(const char *path)
{
        for (size_t i = 0; i < n_cgroups; i++)
                if (strcmp(cgroups[i], path) == 0) {
                        memmove(cgroups[i], cgroups[n_cgroups - 1], PATH_MAX);
                        n_cgroups--;
                        return;
                }
}

static void burn_forever(void)
{
        for (;;)
                __asm__ volatile("" ::: "memory");
}

/* A child that moves itself into cgroup cg (NULL: stays here) and burns a CPU. Returns once it is
 * in the cgroup. */
static pid_t spawn_burner(const char *cg)
{
        int p[2];
        assert_int_equal(pipe2(p, O_CLOEXEC), 0);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                (void)prctl(PR_SET_PDEATHSIG, SIGKILL);
                if (cg) {
                        char procs[PATH_MAX];
                        if (path_fmt(procs, sizeof(procs), "%s/cgroup.procs", cg) < 0)
                                _exit(1);
                        int fd = open(procs, O_WRONLY | O_CLOEXEC);
                        if (fd < 0 || write(fd, "0\n", 2) != 2)
                                _exit(1);
                        (void)close(fd);
                }
                if (write(p[1], "x", 1) != 1)
                        _exit(1);
                burn_forever();
        }
        (void)close(p[1]);
        char c;
        assert_int_equal(read(p[0], &c, 1), 1);
        (void)close(p[0]);
        assert_true(n_children < ELEMENTSOF(children));
        children[n_children++] = pid;
        return pid;
}

static void *burn_thread(void *arg)
{
        (void)arg;
        burn_forever();
        return NULL;
}

/* A child that waits for a byte on its stdin pipe, then starts a burning thread, forks a second
 * burner, tells us its PID and burns too: a process's counters, opened before, must count the
 * thread it started and not the process it forked. */
static pid_t spawn_forker(int *ret_go, int *ret_report)
{
        int go[2], report[2];
        assert_int_equal(pipe2(go, O_CLOEXEC), 0);
        assert_int_equal(pipe2(report, O_CLOEXEC), 0);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                (void)prctl(PR_SET_PDEATHSIG, SIGKILL);
                char c;
                if (read(go[0], &c, 1) != 1)
                        _exit(1);
                pthread_t th;
                if (pthread_create(&th, NULL, burn_thread, NULL) != 0)
                        _exit(1);
                pid_t kid = fork();
                if (kid == 0) {
                        (void)prctl(PR_SET_PDEATHSIG, SIGKILL);
                        burn_forever();
                }
                if (write(report[1], &kid, sizeof(kid)) != sizeof(kid))
                        _exit(1);
                burn_forever();
        }
        (void)close(go[0]);
        (void)close(report[1]);
        assert_true(n_children < ELEMENTSOF(children));
        children[n_children++] = pid;
        *ret_go = go[1];
        *ret_report = report[0];
        return pid;
}

static uint64_t cgroup_usage_usec(const char *cg)
{
        char path[PATH_MAX], text[4096];
        assert_int_equal(path_fmt(path, sizeof(path), "%s/cpu.stat", cg), 0);
        assert_true(read_text(path, text, sizeof(text)) > 0);
        const char *p = strstr(text, "usage_usec ");
        assert_non_null(p);
        return strtoull(p + strlen("usage_usec "), NULL, 10);
}

static uint64_t schedstat_ns(pid_t pid)
{
        char path[PATH_MAX], text[256];
        assert_int_equal(path_fmt(path, sizeof(path), "/proc/%d/schedstat", (int)pid), 0);
        assert_true(read_text(path, text, sizeof(text)) > 0);
        return strtoull(text, NULL, 10);
}

/* The CPU time of all of a process's threads (its own, not its children's). */
static uint64_t process_ns(pid_t pid)
{
        char path[PATH_MAX];
        assert_int_equal(path_fmt(path, sizeof(path), "/proc/%d/task", (int)pid), 0);
        DIR *d = opendir(path);
        assert_non_null(d);
        uint64_t sum = 0;
        for (struct dirent *e; (e = readdir(d));)
                if (e->d_name[0] != '.')
                        sum += schedstat_ns((pid_t)atoi(e->d_name));
        closedir(d);
        return sum;
}

static void assert_agrees(const char *what, uint64_t perf_ns, uint64_t ref_ns)
{
        double diff = 100.0 * ((double)perf_ns - (double)ref_ns) / (double)ref_ns;
        printf("# %s: TASK-CLOCK %.1f ms, reference %.1f ms, %+.2f%%\n", what, perf_ns / 1e6,
               ref_ns / 1e6, diff);
        assert_true(ref_ns > 100 * 1000 * 1000); /* the window really burned CPU */
        assert_true(diff <= TOLERANCE_PCT && diff >= -TOLERANCE_PCT);
}

/* ---- pure functions ---- */

static void test_scale(void **state)
{
        static const struct {
                uint64_t value, enabled, running, want;
        } rows[] = {
                {0, 0, 0, 0},
                {100, 0, 0, 0},
                {100, 1000, 0, 0}, /* never ran: nothing to estimate, no division by zero */
                {100, 1000, 1000, 100},
                {100, 1000, 250, 400},
                {7, 1, 3, 2}, /* floors */
                {1000000000000ULL, 3000000000ULL, 1000000000ULL, 3000000000000ULL},
                {UINT64_MAX, UINT64_MAX, UINT64_MAX, UINT64_MAX}, /* product needs 128 bits */
                {UINT64_MAX, 2, 1, UINT64_MAX},                   /* saturates */
                {UINT64_MAX, 1, 2, UINT64_MAX / 2},
                {1ULL << 63, 3, 4, 3ULL << 61},
                {UINT64_MAX - 1, UINT64_MAX, UINT64_MAX - 1, UINT64_MAX},
                {12345, UINT64_MAX, UINT64_MAX / 2, 24690},
        };
        for (size_t i = 0; i < ELEMENTSOF(rows); i++) {
                uint64_t got = perf_events_scale(rows[i].value, rows[i].enabled, rows[i].running);
                if (got != rows[i].want)
                        fail_msg("row %zu: got %" PRIu64 ", want %" PRIu64, i, got, rows[i].want);
        }
}

/* The growth from one read to the next, counted from the highest read so far. */
static void test_advance(void **state)
{
        (void)state;
        static const struct {
                uint64_t count, delta, high;
        } reads[] = {
                {100, 0, 100}, /* from 100, the first read */
                {95, 0, 100},  /* a multiplexed estimate stepped back: nothing yet */
                {105, 5, 105}, /* 5 since 100: not 10 since 95 */
                {105, 0, 105}, {UINT64_MAX, UINT64_MAX - 105, UINT64_MAX}, {0, 0, UINT64_MAX},
        };
        uint64_t high = 100;
        for (size_t i = 0; i < ELEMENTSOF(reads); i++) {
                uint64_t d = perf_events_advance(&high, reads[i].count);
                if (d != reads[i].delta || high != reads[i].high)
                        fail_msg("read %zu (%" PRIu64 "): %" PRIu64 " and %" PRIu64
                                 ", want %" PRIu64 " and %" PRIu64,
                                 i, reads[i].count, d, high, reads[i].delta, reads[i].high);
        }
}

static void test_encode(void **state)
{
        static const struct {
                const char *name;
                uint32_t type;
                uint64_t config;
        } sw[] = {
                {"perf::TASK-CLOCK", PERF_TYPE_SOFTWARE, PERF_COUNT_SW_TASK_CLOCK},
                {"task-clock", PERF_TYPE_SOFTWARE, PERF_COUNT_SW_TASK_CLOCK},
                {"perf::CONTEXT-SWITCHES", PERF_TYPE_SOFTWARE, PERF_COUNT_SW_CONTEXT_SWITCHES},
                {"perf::CPU-CLOCK", PERF_TYPE_SOFTWARE, PERF_COUNT_SW_CPU_CLOCK},
                {"perf::PAGE-FAULTS", PERF_TYPE_SOFTWARE, PERF_COUNT_SW_PAGE_FAULTS},
        };
        char reason[PERF_EVENTS_REASON_MAX];
        for (size_t i = 0; i < ELEMENTSOF(sw); i++) {
                struct perf_event_attr a;
                assert_int_equal(perf_events_encode(sw[i].name, &a, reason, sizeof(reason)), 0);
                assert_int_equal(a.type, sw[i].type);
                assert_int_equal(a.config, sw[i].config);
                assert_true(a.size >= PERF_ATTR_SIZE_VER0);
                assert_int_equal(a.sample_period, 0);
                assert_false(a.exclude_user);
                assert_false(a.exclude_kernel);
        }

        /* Hardware events encode whether or not a PMU is there; libpfm4 may pick the generic
         * perf encoding or a raw one of the CPU's PMU. */
        static const struct {
                const char *name;
                uint64_t generic;
        } hw[] = {{"cycles", PERF_COUNT_HW_CPU_CYCLES},
                  {"instructions", PERF_COUNT_HW_INSTRUCTIONS}};
        for (size_t i = 0; i < ELEMENTSOF(hw); i++) {
                struct perf_event_attr a;
                assert_int_equal(perf_events_encode(hw[i].name, &a, reason, sizeof(reason)), 0);
                if (a.type == PERF_TYPE_HARDWARE)
                        assert_int_equal(a.config, hw[i].generic);
                else
                        assert_true(a.type == PERF_TYPE_RAW || a.type >= PERF_TYPE_MAX);
        }

        /* A name libpfm4 does not know: the name and libpfm4's reason, nothing written. */
        struct perf_event_attr a = {.type = 77};
        assert_int_equal(perf_events_encode("no-such-event-zz", &a, reason, sizeof(reason)),
                         -EINVAL);
        assert_int_equal(a.type, 77);
        printf("# %s\n", reason);
        assert_non_null(strstr(reason, "no-such-event-zz"));
        assert_non_null(strstr(reason, pfm_strerror(PFM_ERR_NOTFOUND)));
        assert_int_equal(perf_events_encode("perf::TASK-CLOCK:bogus=1", &a, NULL, 0), -EINVAL);
}

static void test_event_list(void **state)
{
        char reason[PERF_EVENTS_REASON_MAX];
        PerfEvents *pe = NULL;

        assert_int_equal(perf_events_new(NULL, NULL, &pe, reason, sizeof(reason)), 0);
        assert_int_equal(perf_events_n(pe), 2);
        assert_string_equal(perf_events_name(pe, 0), "cycles");
        assert_string_equal(perf_events_name(pe, 1), "instructions");
        assert_true(perf_events_is_hardware(pe, 0));
        pe = perf_events_free(pe);
        assert_null(pe);

        assert_int_equal(
                perf_events_new(" perf::TASK-CLOCK ,\tperf::CONTEXT-SWITCHES", NULL, &pe, NULL, 0),
                0);
        assert_int_equal(perf_events_n(pe), 2);
        assert_string_equal(perf_events_name(pe, 0), "perf::TASK-CLOCK");
        assert_string_equal(perf_events_name(pe, 1), "perf::CONTEXT-SWITCHES");
        assert_false(perf_events_is_hardware(pe, 0));
        assert_string_equal(perf_events_reason(pe), "");
        pe = perf_events_free(pe);

        static const struct {
                const char *list;
                int r;
                const char *in_reason;
        } bad[] = {
                {"cycles,,instructions", -EINVAL, "empty event name"},
                {"cycles,", -EINVAL, "empty event name"},
                {" ", -EINVAL, "empty event name"},
                {"cycles,bogus-event-qq", -EINVAL, "bogus-event-qq"},
                {"task-clock,task-clock,task-clock,task-clock,task-clock,task-clock,task-clock,"
                 "task-clock,task-clock",
                 -E2BIG, "more than"},
                {"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
                 "xx"
                 "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
                 -ENAMETOOLONG, "too long"},
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                pe = NULL;
                assert_int_equal(perf_events_new(bad[i].list, NULL, &pe, reason, sizeof(reason)),
                                 bad[i].r);
                assert_null(pe);
                if (!strstr(reason, bad[i].in_reason))
                        fail_msg("row %zu: reason \"%s\" lacks \"%s\"", i, reason,
                                 bad[i].in_reason);
        }
        assert_null(perf_events_free(NULL));
}

/* ---- injected system calls ---- */

static struct {
        int open_errno;          /* fail every open with this */
        bool fail_hardware_only; /* ... only for hardware events */
        bool fail_cgroup_only;   /* ... only with PERF_FLAG_PID_CGROUP, else the real call */
        bool fail_inherit_group; /* EINVAL for inherit with PERF_FORMAT_GROUP */
        bool fake;               /* succeed with /dev/null fds; reads are scripted */
        unsigned opens, cgroup_opens, last_cpu_max;
        int last_group_fd_ok; /* members named the leader */
        uint64_t read_format;
        bool inherit;
        uint64_t en, run, value; /* what every fake group reads back */
        uint64_t nr_override;
        int offline_cpu;  /* 1 + a CPU whose cgroup opens fail with ENODEV (offline) */
        int detached_cpu; /* 1 + a CPU whose groups the kernel broke up (it went offline) */
        int fd_cpu[1024], fd_member[1024]; /* per fake fd: its CPU, its index in its group */
        int members;
} inj;

static int leader_fd = -1;

static int inj_open(struct perf_event_attr *attr, pid_t pid, int cpu, int group_fd,
                    unsigned long flags)
{
        bool hw = attr->type != PERF_TYPE_SOFTWARE && attr->type != PERF_TYPE_TRACEPOINT;
        if (inj.fail_inherit_group && attr->inherit && (attr->read_format & PERF_FORMAT_GROUP)) {
                errno = EINVAL;
                return -1;
        }
        if (inj.open_errno && (!inj.fail_hardware_only || hw) &&
            (!inj.fail_cgroup_only || (flags & PERF_FLAG_PID_CGROUP))) {
                errno = inj.open_errno;
                return -1;
        }
        if (inj.offline_cpu && cpu == inj.offline_cpu - 1) {
                errno = ENODEV; /* perf_event_open(): !cpuctx->online */
                return -1;
        }
        if (!inj.fake)
                return (int)syscall(SYS_perf_event_open, attr, pid, cpu, group_fd, flags);
        assert_true(flags & PERF_FLAG_FD_CLOEXEC);
        inj.opens++;
        if (flags & PERF_FLAG_PID_CGROUP) {
                inj.cgroup_opens++;
                if ((unsigned)cpu + 1 > inj.last_cpu_max)
                        inj.last_cpu_max = (unsigned)cpu + 1;
        }
        inj.read_format = attr->read_format;
        inj.inherit = attr->inherit;
        int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        assert_in_range(fd, 0, ELEMENTSOF(inj.fd_cpu) - 1);
        inj.fd_cpu[fd] = cpu;
        inj.fd_member[fd] = group_fd == -1 ? 0 : ++inj.members;
        if (group_fd == -1) {
                leader_fd = fd;
                inj.members = 0;
        } else if (group_fd != leader_fd)
                inj.last_group_fd_ok = -1;
        return fd;
}

static ssize_t inj_read(int fd, void *buf, size_t count)
{
        if (!inj.fake)
                return read(fd, buf, count);
        uint64_t *v = buf;
        if ((inj.read_format & PERF_FORMAT_GROUP) && inj.detached_cpu &&
            inj.fd_cpu[fd] == inj.detached_cpu - 1) {
                /* A former member read alone: a group of one (read_size shrank with nr_siblings).
                 */
                if (count < 4 * sizeof(uint64_t)) {
                        errno = ENOSPC;
                        return -1;
                }
                v[0] = 1;
                v[1] = inj.en;
                v[2] = inj.run;
                v[3] = inj.value * (uint64_t)(inj.fd_member[fd] + 1);
                return 4 * sizeof(uint64_t);
        }
        if (inj.read_format & PERF_FORMAT_GROUP) {
                size_t nr = count / sizeof(uint64_t) - 3;
                v[0] = inj.nr_override ? inj.nr_override : nr;
                v[1] = inj.en;
                v[2] = inj.run;
                for (size_t e = 0; e < nr; e++)
                        v[3 + e] = inj.value * (e + 1);
                return (ssize_t)count;
        }
        v[0] = inj.value;
        v[1] = inj.en;
        v[2] = inj.run;
        return 3 * sizeof(uint64_t);
}

static const PerfEventsSyscalls inj_syscalls = {.perf_event_open = inj_open, .read = inj_read};

static void inj_reset(void)
{
        memset(&inj, 0, sizeof(inj));
        leader_fd = -1;
        perf_events_set_syscalls(&inj_syscalls);
}

static void test_refused(void **state)
{
        size_t fds0 = count_fds();
        PerfEvents *pe;
        PerfTarget *t = NULL;
        inj_reset();

        /* No PMU (this machine, most VMs): a distinct error and a reason naming the event. The
         * events not refused open as fakes, so this runs without privilege too. */
        inj.fake = true;
        inj.open_errno = ENOENT;
        inj.fail_hardware_only = true;
        assert_int_equal(perf_events_new("cycles,instructions", NULL, &pe, NULL, 0), 0);
        assert_int_equal(perf_events_probe(pe), -EOPNOTSUPP);
        assert_string_equal(perf_events_reason(pe),
                            "cycles: perf_event_open: No such file or directory (no hardware PMU "
                            "visible; running in a VM?)");
        assert_int_equal(perf_events_add_pid(pe, getpid(), &t), -EOPNOTSUPP);
        assert_null(t);
        assert_non_null(strstr(perf_events_reason(pe), "running in a VM?"));
        pe = perf_events_free(pe);

        inj.open_errno = EOPNOTSUPP;
        assert_int_equal(perf_events_new("task-clock,cycles", NULL, &pe, NULL, 0), 0);
        assert_int_equal(perf_events_probe(pe), -EOPNOTSUPP);
        assert_true(startswith(perf_events_reason(pe), "cycles: "));
        pe = perf_events_free(pe);

        /* No privilege: the reason says what grants it. */
        inj.open_errno = EACCES;
        inj.fail_hardware_only = false;
        assert_int_equal(perf_events_new("task-clock", NULL, &pe, NULL, 0), 0);
        assert_int_equal(perf_events_probe(pe), -EACCES);
        printf("# %s\n", perf_events_reason(pe));
        assert_non_null(strstr(perf_events_reason(pe), "CAP_PERFMON"));
        assert_non_null(strstr(perf_events_reason(pe), "perf_event_paranoid"));
        inj.open_errno = EPERM;
        assert_int_equal(perf_events_add_pid(pe, getpid(), &t), -EACCES);

        /* Out of descriptors, and a process that is not there. */
        inj.open_errno = EMFILE;
        assert_int_equal(perf_events_add_pid(pe, getpid(), &t), -EMFILE);
        assert_non_null(strstr(perf_events_reason(pe), "RLIMIT_NOFILE"));
        inj.open_errno = 0;
        assert_int_equal(perf_events_add_pid(pe, INT_MAX, &t), -ESRCH);
        assert_int_equal(perf_events_add_pid(pe, 0, &t), -EINVAL);
        assert_null(t);
        pe = perf_events_free(pe);

        assert_int_equal(count_fds(), fds0);
}

static void test_fake_process(void **state)
{
        size_t fds0 = count_fds();
        PerfEvents *pe;
        PerfTarget *t = NULL;
        uint64_t c[PERF_EVENTS_MAX];
        inj_reset();
        inj.fake = true;

        assert_int_equal(perf_events_new("task-clock,perf::CONTEXT-SWITCHES", NULL, &pe, NULL, 0),
                         0);
        assert_int_equal(perf_events_add_pid(pe, getpid(), &t), 0);
        assert_int_equal(perf_target_mode(t), PERF_TARGET_PROCESS);
        assert_string_equal(perf_target_mode_to_string(perf_target_mode(t)), "process");
        assert_int_equal(perf_target_n_groups(t), 1); /* cmocka runs us on one thread */
        assert_int_equal(inj.opens, 2);
        assert_int_equal(inj.last_group_fd_ok, 0);
        assert_int_equal(inj.read_format, PERF_FORMAT_GROUP | PERF_FORMAT_TOTAL_TIME_ENABLED |
                                                  PERF_FORMAT_TOTAL_TIME_RUNNING);
        assert_true(inj.inherit);

        /* Multiplexed a quarter of the time: counts scaled by 4. */
        inj.en = 1000;
        inj.run = 250;
        inj.value = 10;
        assert_int_equal(perf_events_read(pe, t, c, ELEMENTSOF(c)), 0);
        assert_int_equal(c[0], 40);
        assert_int_equal(c[1], 80);
        /* Never scheduled: 0, not a division by zero. */
        inj.run = 0;
        assert_int_equal(perf_events_read(pe, t, c, ELEMENTSOF(c)), 0);
        assert_int_equal(c[0], 0);
        assert_int_equal(c[1], 0);
        /* Malformed group read, too small an output. */
        inj.nr_override = 5;
        c[0] = 123;
        assert_int_equal(perf_events_read(pe, t, c, ELEMENTSOF(c)), -EIO);
        assert_int_equal(c[0], 123);
        inj.nr_override = 0;
        assert_int_equal(perf_events_read(pe, t, c, 1), -EINVAL);

        t = perf_events_remove(pe, t);
        assert_null(t);
        assert_null(perf_events_remove(pe, NULL));

        /* A kernel that refuses inherit with PERF_FORMAT_GROUP: one read per event. */
        inj.fail_inherit_group = true;
        assert_int_equal(perf_events_add_pid(pe, getpid(), &t), 0);
        assert_int_equal(inj.read_format,
                         PERF_FORMAT_TOTAL_TIME_ENABLED | PERF_FORMAT_TOTAL_TIME_RUNNING);
        inj.en = 300;
        inj.run = 100;
        inj.value = 7;
        assert_int_equal(perf_events_read(pe, t, c, ELEMENTSOF(c)), 0);
        assert_int_equal(c[0], 21);
        assert_int_equal(c[1], 21);
        pe = perf_events_free(pe); /* frees the target too */

        assert_int_equal(count_fds(), fds0);
}

/* A fake cgroup tree and sysfs with 4 online CPUs: one group per CPU, summed. */
static void test_fake_cgroup(void **state)
{
        size_t fds0 = count_fds();
        char tmp[] = "/tmp/test-perf-events-XXXXXX", path[PATH_MAX];
        assert_non_null(mkdtemp(tmp));
        const char *dirs[] = {
                "sys", "sys/devices",     "sys/devices/system",       "sys/devices/system/cpu",
                "cg",  "cg/system.slice", "cg/system.slice/x.service"};
        for (size_t i = 0; i < ELEMENTSOF(dirs); i++) {
                assert_int_equal(path_fmt(path, sizeof(path), "%s/%s", tmp, dirs[i]), 0);
                assert_int_equal(mkdir(path, 0755), 0);
        }
        assert_int_equal(path_fmt(path, sizeof(path), "%s/sys/devices/system/cpu/online", tmp), 0);
        write_file(path, "0-2,5\n");
        char sysfs[PATH_MAX], cgfs[PATH_MAX];
        assert_int_equal(path_fmt(sysfs, sizeof(sysfs), "%s/sys", tmp), 0);
        assert_int_equal(path_fmt(cgfs, sizeof(cgfs), "%s/cg", tmp), 0);
        JoulesRoots roots = {.sysfs = sysfs, .procfs = "/proc", .cgroupfs = cgfs};

        PerfEvents *pe;
        PerfTarget *t = NULL;
        uint64_t c[PERF_EVENTS_MAX];
        inj_reset();
        inj.fake = true;
        assert_int_equal(perf_events_new("task-clock,perf::CONTEXT-SWITCHES", &roots, &pe, NULL, 0),
                         0);
        assert_int_equal(perf_events_add_cgroup(pe, "/system.slice/x.service", &t), 0);
        assert_int_equal(perf_target_mode(t), PERF_TARGET_CGROUP);
        assert_int_equal(perf_target_n_groups(t), 4);
        assert_int_equal(inj.cgroup_opens, 8);
        assert_int_equal(inj.last_cpu_max, 6); /* CPU 5 was asked for */
        assert_false(inj.inherit);
        inj.en = 2000;
        inj.run = 1000;
        inj.value = 5;
        assert_int_equal(perf_events_read(pe, t, c, ELEMENTSOF(c)), 0);
        assert_int_equal(c[0], 4 * 10);
        assert_int_equal(c[1], 4 * 20);
        /* CPU 5 goes offline (hot-unplug, or suspend taking the non-boot CPUs down): the kernel
         * breaks every group on it into single events (perf_event_exit_cpu_context(),
         * DETACH_GROUP), and its leader then reads back one value. What that CPU counted before
         * still counts, and the other CPUs are still read. */
        inj.detached_cpu = 5 + 1;
        assert_int_equal(perf_events_read(pe, t, c, ELEMENTSOF(c)), 0);
        assert_int_equal(c[0], 4 * 10);
        assert_int_equal(c[1], 4 * 20);
        /* Still offline when the next cgroup is added: perf_event_open() refuses that CPU with
         * ENODEV, so it is not asked for; the cgroup is counted on the CPUs online now. */
        assert_int_equal(path_fmt(path, sizeof(path), "%s/sys/devices/system/cpu/online", tmp), 0);
        write_file(path, "0-2\n");
        inj.offline_cpu = 5 + 1;
        PerfTarget *t2 = NULL;
        assert_int_equal(perf_events_add_cgroup(pe, "/system.slice/x.service", &t2), 0);
        assert_int_equal(perf_target_n_groups(t2), 3);
        assert_int_equal(perf_events_read(pe, t2, c, ELEMENTSOF(c)), 0);
        assert_int_equal(c[0], 3 * 10);
        t2 = perf_events_remove(pe, t2);
        inj.offline_cpu = inj.detached_cpu = 0;
        /* Without the leading '/', and a cgroup that is not there. */
        assert_int_equal(perf_events_add_cgroup(pe, "system.slice/x.service", &t2), 0);
        t2 = perf_events_remove(pe, t2);
        assert_int_equal(perf_events_add_cgroup(pe, "/system.slice/gone.service", &t2), -ENOENT);
        assert_non_null(strstr(perf_events_reason(pe), "gone.service"));
        assert_null(t2);

        /* Once counting by cgroup has worked, a later refusal is an error, not a fallback. */
        inj.open_errno = EBADF;
        inj.fail_cgroup_only = true;
        assert_int_equal(perf_events_add_cgroup(pe, "/system.slice/x.service", &t2), -EBADF);
        pe = perf_events_free(pe);

        /* Kernel refuses the cgroup, accepts the events: per-process fallback. This fake
         * cgroup has no cgroup.threads file: the error comes back. */
        assert_int_equal(perf_events_new("task-clock,perf::CONTEXT-SWITCHES", &roots, &pe, NULL, 0),
                         0);
        assert_int_equal(perf_events_add_cgroup(pe, "/system.slice/x.service", &t2), -ENOENT);
        assert_non_null(strstr(perf_events_reason(pe), "cgroup.threads"));
        /* With one, empty: a target with no groups yet, that reads zeros. */
        char threads[PATH_MAX];
        assert_int_equal(path_fmt(threads, sizeof(threads),
                                  "%s/cg/system.slice/x.service/cgroup.threads", tmp),
                         0);
        write_file(threads, "");
        assert_int_equal(perf_events_add_cgroup(pe, "/system.slice/x.service", &t2), 0);
        assert_int_equal(perf_target_mode(t2), PERF_TARGET_CGROUP_PROCESSES);
        assert_int_equal(perf_target_n_groups(t2), 0);
        assert_int_equal(perf_events_read(pe, t2, c, ELEMENTSOF(c)), 0);
        assert_int_equal(c[0], 0);
        /* Our own thread joins it: counted from the next read on. */
        char self[32];
        (void)snprintf(self, sizeof(self), "%d\n", (int)gettid());
        write_file(threads, self);
        assert_int_equal(perf_events_read(pe, t2, c, ELEMENTSOF(c)), 0);
        assert_int_equal(perf_target_n_groups(t2), 1);
        assert_true(inj.inherit);
        assert_int_equal(c[0], 10);
        /* Garbage in cgroup.threads. */
        PerfTarget *t3 = NULL;
        write_file(threads, "12x\n");
        assert_int_equal(perf_events_add_cgroup(pe, "/system.slice/x.service", &t3), -EINVAL);
        assert_null(t3);
        pe = perf_events_free(pe);

        assert_int_equal(unlink(threads), 0);
        assert_int_equal(path_fmt(path, sizeof(path), "%s/sys/devices/system/cpu/online", tmp), 0);
        assert_int_equal(unlink(path), 0);
        for (size_t i = ELEMENTSOF(dirs); i > 0; i--) {
                assert_int_equal(path_fmt(path, sizeof(path), "%s/%s", tmp, dirs[i - 1]), 0);
                assert_int_equal(rmdir(path), 0);
        }
        assert_int_equal(rmdir(tmp), 0);
        assert_int_equal(count_fds(), fds0);
}

/* ---- CPU hotplug, against a fake kernel ---- */

/* A model of what kernel/events/core.c does with per-CPU groups on hotplug, behind the syscall
 * table: an offline CPU refuses perf_event_open with ENODEV (!cpuctx->online); taking a CPU down
 * breaks up every group on it (perf_event_exit_cpu_context(), DETACH_GROUP: each member a group of
 * one, the leader's read_size shrinking with nr_siblings) and its events stop for good, even once
 * the CPU is back. perf_read() answers ENOSPC to a buffer shorter than read_size. Every event on a
 * CPU counts what the cgroup runs there since it was opened, times its index in its group + 1;
 * time_enabled is twice time_running, so scaled counts are twice the raw ones. */
#define HK_CPUS 8
static struct {
        bool online[HK_CPUS];
        uint64_t ran[HK_CPUS]; /* what the cgroup ran on each CPU so far */
        bool deny_cpu_wide;    /* no privilege for events that are not a cgroup's */
        unsigned watch_opens;
        struct {
                bool used, dead;
                int cpu, leader, member, nsib;
                uint64_t start, frozen, frozen_time, read_format;
        } fd[1024];
} hk;

/* How long the event has run: what its cgroup ran on its CPU while it counted. */
static uint64_t hk_time(int fd)
{
        return hk.fd[fd].dead ? hk.fd[fd].frozen_time : hk.ran[hk.fd[fd].cpu] - hk.fd[fd].start;
}

static uint64_t hk_value(int fd)
{
        return hk.fd[fd].dead ? hk.fd[fd].frozen : hk_time(fd) * (uint64_t)(hk.fd[fd].member + 1);
}

/* Forgets the fds the code under test has closed since (their numbers are reused by the next
 * opens, and a closed leader must not keep its members). */
static void hk_sweep(void)
{
        for (int f = 0; f < (int)ELEMENTSOF(hk.fd); f++)
                if (hk.fd[f].used && fcntl(f, F_GETFD) < 0)
                        hk.fd[f].used = false;
}

static int hk_open(struct perf_event_attr *attr, pid_t pid, int cpu, int group_fd,
                   unsigned long flags)
{
        assert_true(flags & PERF_FLAG_FD_CLOEXEC);
        assert_in_range(cpu, 0, HK_CPUS - 1);
        hk_sweep();
        if (!(flags & PERF_FLAG_PID_CGROUP)) {
                /* only the watches: two dummy events on one CPU, no task */
                assert_int_equal(pid, -1);
                assert_int_equal(attr->type, PERF_TYPE_SOFTWARE);
                assert_int_equal(attr->config, PERF_COUNT_SW_DUMMY);
                hk.watch_opens++;
                if (hk.deny_cpu_wide) {
                        errno = EACCES;
                        return -1;
                }
        }
        if (!hk.online[cpu]) {
                errno = ENODEV;
                return -1;
        }
        int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        assert_in_range(fd, 0, ELEMENTSOF(hk.fd) - 1);
        hk.fd[fd] = (typeof(hk.fd[0])){.used = true,
                                       .cpu = cpu,
                                       .leader = group_fd < 0 ? fd : group_fd,
                                       .start = hk.ran[cpu],
                                       .read_format = attr->read_format};
        if (group_fd >= 0) {
                assert_true(hk.fd[group_fd].used && hk.fd[group_fd].leader == group_fd);
                hk.fd[fd].member = ++hk.fd[group_fd].nsib;
        }
        return fd;
}

static ssize_t hk_read(int fd, void *buf, size_t count)
{
        assert_true(hk.fd[fd].used);
        assert_int_equal(hk.fd[fd].leader, fd); /* only leaders are read */
        uint64_t rf = hk.fd[fd].read_format, v[3 + PERF_EVENTS_MAX];
        assert_true(rf & PERF_FORMAT_GROUP);
        size_t n = 0;
        v[n++] = 1 + (uint64_t)hk.fd[fd].nsib;
        hk_sweep();
        if (rf & PERF_FORMAT_TOTAL_TIME_ENABLED)
                v[n++] = 2 * hk_time(fd);
        if (rf & PERF_FORMAT_TOTAL_TIME_RUNNING)
                v[n++] = hk_time(fd);
        size_t first = n;
        for (int m = 0; m <= hk.fd[fd].nsib; m++)
                for (int f = 0; f < (int)ELEMENTSOF(hk.fd); f++)
                        if (hk.fd[f].used && hk.fd[f].leader == fd && hk.fd[f].member == m)
                                v[n++] = hk_value(f);
        assert_int_equal(n - first, 1 + hk.fd[fd].nsib);
        if (count < n * sizeof(uint64_t)) {
                errno = ENOSPC;
                return -1;
        }
        memcpy(buf, v, n * sizeof(uint64_t));
        return (ssize_t)(n * sizeof(uint64_t));
}

static const PerfEventsSyscalls hk_syscalls = {.perf_event_open = hk_open, .read = hk_read};

static void hk_set_online(const char *sysfs_online, unsigned cpu, bool on)
{
        hk_sweep();
        hk.online[cpu] = on;
        if (!on)
                for (int f = 0; f < (int)ELEMENTSOF(hk.fd); f++)
                        if (hk.fd[f].used && !hk.fd[f].dead && hk.fd[f].cpu == (int)cpu) {
                                hk.fd[f].frozen = hk_value(f);
                                hk.fd[f].frozen_time = hk_time(f);
                                hk.fd[f].dead = true;
                                hk.fd[f].leader = f; /* a group of one */
                                hk.fd[f].member = 0;
                                hk.fd[f].nsib = 0;
                        }
        if (sysfs_online) { /* the kernel's cpulist, as in /sys/devices/system/cpu/online */
                char text[64] = "", *p = text;
                for (unsigned c = 0; c < HK_CPUS; c++) {
                        if (!hk.online[c] || (c > 0 && hk.online[c - 1]))
                                continue;
                        unsigned e = c;
                        while (e + 1 < HK_CPUS && hk.online[e + 1])
                                e++;
                        p += sprintf(p, "%s%u", p == text ? "" : ",", c);
                        if (e > c)
                                p += sprintf(p, "-%u", e);
                }
                strcat(text, "\n");
                write_file(sysfs_online, text);
        }
}

static void hk_run(uint64_t per_cpu)
{
        for (unsigned c = 0; c < HK_CPUS; c++)
                if (hk.online[c])
                        hk.ran[c] += per_cpu;
}

/* Reads a target, checks its first event's scaled count is want and never went back. */
static void hk_expect(PerfEvents *pe, PerfTarget *t, uint64_t want, uint64_t *last)
{
        uint64_t c[PERF_EVENTS_MAX];
        hk_sweep();
        assert_int_equal(perf_events_read(pe, t, c, ELEMENTSOF(c)), 0);
        printf("#   count %" PRIu64 ", want %" PRIu64 "\n", c[0], want);
        assert_int_equal(c[0], want);
        if (perf_events_n(pe) > 1)
                assert_int_equal(c[1], 2 * want);
        assert_true(c[0] >= *last);
        *last = c[0];
}

static int hk_update(PerfEvents *pe)
{
        hk_sweep();
        int r = perf_events_update_cpus(pe);
        hk_sweep();
        return r;
}

/* Cgroups counted on CPUs that go offline and come back: each cgroup added before is counted on
 * the returning CPU again after an update, never counting twice or going back, whether the CPU
 * stayed away across updates or went down and up between two (suspend), with one event or two,
 * with the watches or without them. */
static void test_fake_hotplug(void **state)
{
        static const struct {
                const char *events;
                bool deny_cpu_wide;
        } runs[] = {
                {"task-clock,perf::CONTEXT-SWITCHES", false},
                {"task-clock", false},
                {"task-clock,perf::CONTEXT-SWITCHES", true}, /* only the reads tell */
        };
        size_t fds0 = count_fds();
        char tmp[] = "/tmp/test-perf-events-XXXXXX", path[PATH_MAX], online[PATH_MAX];
        assert_non_null(mkdtemp(tmp));
        const char *dirs[] = {"sys", "sys/devices", "sys/devices/system", "sys/devices/system/cpu",
                              "cg"};
        for (size_t i = 0; i < ELEMENTSOF(dirs); i++) {
                assert_int_equal(path_fmt(path, sizeof(path), "%s/%s", tmp, dirs[i]), 0);
                assert_int_equal(mkdir(path, 0755), 0);
        }
        assert_int_equal(path_fmt(online, sizeof(online), "%s/sys/devices/system/cpu/online", tmp),
                         0);
        char sysfs[PATH_MAX], cgfs[PATH_MAX];
        assert_int_equal(path_fmt(sysfs, sizeof(sysfs), "%s/sys", tmp), 0);
        assert_int_equal(path_fmt(cgfs, sizeof(cgfs), "%s/cg", tmp), 0);
        JoulesRoots roots = {.sysfs = sysfs, .procfs = "/proc", .cgroupfs = cgfs};

        for (size_t k = 0; k < ELEMENTSOF(runs); k++) {
                printf("# %s%s\n", runs[k].events, runs[k].deny_cpu_wide ? ", no watches" : "");
                memset(&hk, 0, sizeof(hk));
                hk.deny_cpu_wide = runs[k].deny_cpu_wide;
                perf_events_set_syscalls(&hk_syscalls);
                for (unsigned c = 0; c < 4; c++)
                        hk_set_online(c == 3 ? online : NULL, c, true); /* "0-3" */

                PerfEvents *pe;
                PerfTarget *a, *b;
                uint64_t la = 0, lb = 0;
                assert_int_equal(perf_events_new(runs[k].events, &roots, &pe, NULL, 0), 0);
                assert_int_equal(perf_events_add_cgroup(pe, "/", &a), 0);
                assert_int_equal(perf_target_n_groups(a), 4);
                assert_int_equal(hk.watch_opens, runs[k].deny_cpu_wide ? 4 : 8);
                hk_run(100);
                hk_expect(pe, a, 2 * 4 * 100, &la);
                assert_int_equal(hk_update(pe), 0); /* nothing changed: nothing done */
                assert_int_equal(perf_target_n_groups(a), 4);

                /* CPU 3 goes offline: what it counted stays, the others go on. */
                hk_set_online(online, 3, false);
                hk_run(10);
                hk_expect(pe, a, 2 * (4 * 100 + 3 * 10), &la);
                assert_int_equal(hk_update(pe), 1); /* its group is closed */
                assert_int_equal(perf_target_n_groups(a), 3);
                hk_expect(pe, a, 2 * (4 * 100 + 3 * 10), &la);
                assert_false(perf_events_cpus_changed(pe));

                /* It comes back; a cgroup added now counts on it at once, the one added before
                 * from the next update on. */
                hk_set_online(online, 3, true);
                assert_int_equal(perf_events_add_cgroup(pe, "/", &b), 0);
                assert_int_equal(perf_target_n_groups(b), 4);
                assert_true(perf_events_cpus_changed(pe)); /* b saw another list */
                hk_run(5);
                hk_expect(pe, a, 2 * (4 * 100 + 3 * 15), &la);
                hk_expect(pe, b, 2 * 4 * 5, &lb);
                assert_int_equal(hk_update(pe), 1);
                assert_int_equal(perf_target_n_groups(a), 4);
                assert_int_equal(perf_target_n_groups(b), 4);
                hk_run(50);
                hk_expect(pe, a, 2 * (4 * 100 + 3 * 15 + 4 * 50), &la);
                hk_expect(pe, b, 2 * 4 * 55, &lb);

                /* CPU 1 goes down and up between two looks (suspend): the online list is the
                 * same, yet every group on CPU 1 counts no more. */
                hk_set_online(NULL, 1, false);
                hk_run(7);
                hk_set_online(NULL, 1, true);
                hk_run(20);
                uint64_t a_now = 2 * (4 * 100 + 3 * 15 + 4 * 50 + 3 * 7 + 3 * 20);
                hk_expect(pe, a, a_now, &la);
                hk_expect(pe, b, 2 * (4 * 55 + 3 * 7 + 3 * 20), &lb);
                /* groups of two events show it when read; a group of one does not */
                assert_int_equal(perf_events_cpus_changed(pe), perf_events_n(pe) > 1);
                assert_int_equal(hk_update(pe), 4); /* closed and opened again, a and b */
                assert_int_equal(perf_target_n_groups(a), 4);
                hk_run(30);
                hk_expect(pe, a, a_now + 2 * 4 * 30, &la);
                hk_expect(pe, b, 2 * (4 * 55 + 3 * 7 + 3 * 20 + 4 * 30), &lb);
                assert_int_equal(hk_update(pe), 0);

                /* A CPU that was never online before (hot-added) is counted too, and one the
                 * kernel refuses while the list says online is tried again by the next update. */
                hk.online[6] = true;
                hk_set_online(online, 5, true);
                hk.online[6] = false;
                write_file(online, "0-3,5-6\n");
                assert_int_equal(hk_update(pe), 2); /* CPU 5 for a and b; CPU 6 refused */
                assert_int_equal(perf_target_n_groups(a), 5);
                hk_set_online(online, 6, true);
                assert_int_equal(hk_update(pe), 2);
                assert_int_equal(perf_target_n_groups(a), 6);
                hk_run(1);
                hk_expect(pe, a, a_now + 2 * (4 * 30 + 6), &la);

                b = perf_events_remove(pe, b);
                pe = perf_events_free(pe);
                perf_events_set_syscalls(NULL);
                assert_int_equal(count_fds(), fds0);
        }

        assert_int_equal(unlink(online), 0);
        for (size_t i = ELEMENTSOF(dirs); i > 0; i--) {
                assert_int_equal(path_fmt(path, sizeof(path), "%s/%s", tmp, dirs[i - 1]), 0);
                assert_int_equal(rmdir(path), 0);
        }
        assert_int_equal(rmdir(tmp), 0);
}

/* ---- real counters ---- */

#define SW_EVENTS "perf::TASK-CLOCK,perf::CONTEXT-SWITCHES"

static void test_hardware(void **state)
{
        PerfEvents *pe;
        PerfTarget *t = NULL;
        assert_int_equal(perf_events_new(NULL, NULL, &pe, NULL, 0), 0);
        int r = perf_events_probe(pe);
        printf("# hardware events: %s\n", r == 0 ? "counting" : perf_events_reason(pe));
        if (r == -EOPNOTSUPP) {
                /* This machine: no PMU in the guest. */
                assert_true(startswith(perf_events_reason(pe), "cycles: perf_event_open: "));
                assert_non_null(strstr(perf_events_reason(pe), "running in a VM?"));
                assert_int_equal(perf_events_add_pid(pe, getpid(), &t), -EOPNOTSUPP);
                char rel[PATH_MAX];
                (void)make_cgroup("hw", rel, sizeof(rel));
                assert_int_equal(perf_events_add_cgroup(pe, rel, &t), -EOPNOTSUPP);
        } else if (r == -EACCES) {
                assert_non_null(strstr(perf_events_reason(pe), "CAP_PERFMON"));
        } else {
                assert_int_equal(r, 0);
                uint64_t c[PERF_EVENTS_MAX];
                assert_int_equal(perf_events_add_pid(pe, getpid(), &t), 0);
                volatile uint64_t x = 0;
                for (uint64_t i = 0; i < 50000000; i++)
                        x += i;
                (void)x;
                assert_int_equal(perf_events_read(pe, t, c, ELEMENTSOF(c)), 0);
                printf("# cycles %" PRIu64 ", instructions %" PRIu64 "\n", c[0], c[1]);
                assert_true(c[0] > 0);
                assert_true(c[1] > 0);
        }
        pe = perf_events_free(pe);
}

typedef struct Window {
        uint64_t perf0[PERF_EVENTS_MAX], perf1[PERF_EVENTS_MAX];
        uint64_t usage0, usage1;
} Window;

/* Freezes (1) or thaws (0) a cgroup v2 and waits until the kernel says it is so. The two
 * counters compared are read while their cgroup is frozen, so both windows hold exactly the same
 * CPU time however long this test is preempted between the two reads (a loaded machine). */
static void cgroup_freeze(const char *cg, int on)
{
        char path[PATH_MAX], text[512], want[16];
        assert_int_equal(path_fmt(path, sizeof(path), "%s/cgroup.freeze", cg), 0);
        int fd = open(path, O_WRONLY | O_CLOEXEC);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, on ? "1" : "0", 1), 1);
        (void)close(fd);
        assert_int_equal(path_fmt(path, sizeof(path), "%s/cgroup.events", cg), 0);
        snprintf(want, sizeof(want), "frozen %d", on);
        for (int i = 0; i < 2000; i++) { /* up to 20 s */
                assert_true(read_text(path, text, sizeof(text)) > 0);
                if (strstr(text, want))
                        return;
                sleep_us(10000);
        }
        fail_msg("%s: not %s after 20 s", cg, want);
}

static void window_start(PerfEvents *pe, PerfTarget *t, const char *cg, Window *w)
{
        cgroup_freeze(cg, 1);
        w->usage0 = cgroup_usage_usec(cg);
        assert_int_equal(perf_events_read(pe, t, w->perf0, PERF_EVENTS_MAX), 0);
        cgroup_freeze(cg, 0);
}

static void window_end(PerfEvents *pe, PerfTarget *t, const char *cg, Window *w)
{
        cgroup_freeze(cg, 1);
        w->usage1 = cgroup_usage_usec(cg);
        assert_int_equal(perf_events_read(pe, t, w->perf1, PERF_EVENTS_MAX), 0);
        cgroup_freeze(cg, 0);
        assert_true(w->perf1[0] >= w->perf0[0]);
        assert_true(w->usage1 >= w->usage0);
}

/* Waits until each cgroup's window has burned at least min_ms of CPU (up to 60 s): a loaded
 * machine gives the burners less of a CPU, so the test waits for CPU time, not wall time. */
static void window_wait(const char *const *cgs, const Window *const *ws, size_t n, unsigned min_ms)
{
        for (int i = 0; i < 300; i++) {
                sleep_us(200000);
                size_t ok = 0;
                for (size_t k = 0; k < n; k++)
                        ok += cgroup_usage_usec(cgs[k]) - ws[k]->usage0 >= min_ms * 1000ULL;
                if (ok == n)
                        return;
        }
}

static uint64_t window_task_clock(const Window *w)
{
        return w->perf1[0] - w->perf0[0];
}

static uint64_t window_usage_ns(const Window *w)
{
        return (w->usage1 - w->usage0) * NSEC_PER_USEC;
}

/* Two services at 2:1 (two burners and one, on this machine's 2 vCPUs), counted per cgroup per
 * CPU, against their cpu.stat; then a service that appears later and one that goes away. */
static void test_real_cgroups(void **state)
{
        size_t fds0 = count_fds();
        char rel_a[PATH_MAX], rel_b[PATH_MAX], rel_c[PATH_MAX];
        const char *a = make_cgroup("a", rel_a, sizeof(rel_a));
        const char *b = make_cgroup("b", rel_b, sizeof(rel_b));
        (void)spawn_burner(a);
        (void)spawn_burner(a);
        pid_t b1 = spawn_burner(b);

        PerfEvents *pe;
        PerfTarget *ta, *tb, *tc;
        uint64_t c[PERF_EVENTS_MAX];
        assert_int_equal(perf_events_new(SW_EVENTS, NULL, &pe, NULL, 0), 0);
        assert_int_equal(perf_events_probe(pe), 0);
        assert_int_equal(perf_events_add_cgroup(pe, rel_a, &ta), 0);
        assert_int_equal(perf_events_add_cgroup(pe, rel_b, &tb), 0);
        printf("# PERF_FLAG_PID_CGROUP on %s: %s, %zu groups\n", v2root,
               perf_target_mode_to_string(perf_target_mode(ta)), perf_target_n_groups(ta));
        /* Where perf_event is not a v1 controller (this machine) the v2 directory is accepted. */
        if (access("/sys/fs/cgroup/perf_event", F_OK) < 0)
                assert_int_equal(perf_target_mode(ta), PERF_TARGET_CGROUP);

        Window wa, wb;
        sleep_us(100000);
        window_start(pe, ta, a, &wa);
        window_start(pe, tb, b, &wb);
        window_wait((const char *const[]){a, b}, (const Window *const[]){&wa, &wb}, 2, 400);
        window_end(pe, ta, a, &wa);
        window_end(pe, tb, b, &wb);
        assert_agrees("a.service (2 burners), per cgroup", window_task_clock(&wa),
                      window_usage_ns(&wa));
        assert_agrees("b.service (1 burner), per cgroup", window_task_clock(&wb),
                      window_usage_ns(&wb));
        double ratio = (double)window_task_clock(&wa) / (double)window_task_clock(&wb);
        double ref_ratio = (double)window_usage_ns(&wa) / (double)window_usage_ns(&wb);
        printf("# a:b = %.2f (cpu.stat %.2f); context switches a %" PRIu64 ", b %" PRIu64 "\n",
               ratio, ref_ratio, wa.perf1[1] - wa.perf0[1], wb.perf1[1] - wb.perf0[1]);
        /* The split between the services is the kernel's: whatever the scheduler gave each (2:1
         * on a quiet machine, less apart when other work competes), the counters see it. */
        assert_true(fabs(ratio / ref_ratio - 1) * 100 <= TOLERANCE_PCT);

        /* The cost the daemon pays per service per tick: one read(2) per CPU. */
        uint64_t t0 = now_monotonic_ns();
        for (int i = 0; i < 1000; i++)
                assert_int_equal(perf_events_read(pe, ta, c, ELEMENTSOF(c)), 0);
        printf("# perf_events_read of one cgroup (%zu groups): %.2f us\n", perf_target_n_groups(ta),
               (double)(now_monotonic_ns() - t0) / 1000.0 / 1000.0);
        assert_true(wa.perf1[1] > wa.perf0[1]); /* three burners on two CPUs do switch */

        /* A service that appears after start. */
        const char *cc = make_cgroup("c", rel_c, sizeof(rel_c));
        (void)spawn_burner(cc);
        assert_int_equal(perf_events_add_cgroup(pe, rel_c, &tc), 0);
        Window wc;
        window_start(pe, tc, cc, &wc);
        window_wait((const char *const[]){cc}, (const Window *const[]){&wc}, 1, 300);
        window_end(pe, tc, cc, &wc);
        assert_agrees("c.service (added later)", window_task_clock(&wc), window_usage_ns(&wc));

        /* A service that goes away: its counters keep their final value after rmdir (they pin
         * the cgroup's css, not its directory), until the target is removed. */
        kill_child(b1);
        assert_int_equal(perf_events_read(pe, tb, wb.perf0, PERF_EVENTS_MAX), 0);
        assert_int_equal(rmdir_retry(b), 0);
        forget_cgroup(b);
        assert_int_equal(perf_events_read(pe, tb, c, ELEMENTSOF(c)), 0);
        assert_int_equal(c[0], wb.perf0[0]);
        tb = perf_events_remove(pe, tb);
        assert_null(tb);
        assert_int_equal(perf_events_add_cgroup(pe, rel_b, &tb), -ENOENT);

        ta = perf_events_remove(pe, ta);
        pe = perf_events_free(pe);
        cleanup_all();
        assert_int_equal(count_fds(), fds0);
}

/* Real counters on a real cgroup whose burner is pinned to CPU 1, with the online list read from a
 * fake sysfs (CPUs are not taken offline on a shared machine): when the list loses CPU 1, the
 * group there is closed and what it counted stays, exactly; when CPU 1 is listed again, the
 * cgroup, added before, is counted there again and agrees with its cpu.stat. */
static void test_real_hotplug(void **state)
{
        char text[256];
        cpu_set_t set;
        CPU_ZERO(&set);
        CPU_SET(1, &set);
        if (read_text("/sys/devices/system/cpu/online", text, sizeof(text)) <= 0 ||
            strncmp(text, "0-", 2) != 0) {
                printf("# CPUs 0 and 1 are not both online here, skipped\n");
                skip();
        }
        size_t fds0 = count_fds();
        char tmp[] = "/tmp/test-perf-events-XXXXXX", path[PATH_MAX], online[PATH_MAX];
        assert_non_null(mkdtemp(tmp));
        const char *dirs[] = {"sys", "sys/devices", "sys/devices/system", "sys/devices/system/cpu"};
        for (size_t i = 0; i < ELEMENTSOF(dirs); i++) {
                assert_int_equal(path_fmt(path, sizeof(path), "%s/%s", tmp, dirs[i]), 0);
                assert_int_equal(mkdir(path, 0755), 0);
        }
        assert_int_equal(path_fmt(online, sizeof(online), "%s/sys/devices/system/cpu/online", tmp),
                         0);
        write_file(online, "0-1\n");
        char sysfs[PATH_MAX];
        assert_int_equal(path_fmt(sysfs, sizeof(sysfs), "%s/sys", tmp), 0);
        JoulesRoots roots = {.sysfs = sysfs, .procfs = "/proc", .cgroupfs = v2root};

        char rel[PATH_MAX];
        const char *cg = make_cgroup("hotplug", rel, sizeof(rel));
        pid_t p = spawn_burner(cg);
        assert_int_equal(sched_setaffinity(p, sizeof(set), &set), 0);

        PerfEvents *pe;
        PerfTarget *t;
        uint64_t c0[PERF_EVENTS_MAX], c1[PERF_EVENTS_MAX];
        assert_int_equal(perf_events_new(SW_EVENTS, &roots, &pe, NULL, 0), 0);
        assert_int_equal(perf_events_add_cgroup(pe, rel, &t), 0);
        if (perf_target_mode(t) != PERF_TARGET_CGROUP) {
                printf("# no counting by cgroup here, skipped\n");
                goto out;
        }
        assert_int_equal(perf_target_n_groups(t), 2);
        Window w;
        window_start(pe, t, cg, &w);
        window_wait((const char *const[]){cg}, (const Window *const[]){&w}, 1, 200);
        window_end(pe, t, cg, &w);
        assert_agrees("pinned to CPU 1", window_task_clock(&w), window_usage_ns(&w));

        /* CPU 1 leaves the list: its group is closed, its count kept, nothing more counted. */
        write_file(online, "0\n");
        assert_int_equal(perf_events_update_cpus(pe), 1);
        assert_int_equal(perf_target_n_groups(t), 1);
        assert_int_equal(perf_events_read(pe, t, c0, ELEMENTSOF(c0)), 0);
        assert_true(c0[0] >= w.perf1[0]);
        uint64_t u0 = cgroup_usage_usec(cg);
        while (cgroup_usage_usec(cg) - u0 < 100000)
                sleep_us(50000);
        assert_int_equal(perf_events_read(pe, t, c1, ELEMENTSOF(c1)), 0);
        printf("# CPU 1 not listed: %" PRIu64 " then %" PRIu64 " ns\n", c0[0], c1[0]);
        assert_int_equal(c1[0], c0[0]);

        /* Back in the list: counted on CPU 1 again, from the kept count on. */
        write_file(online, "0-1\n");
        assert_int_equal(perf_events_update_cpus(pe), 1);
        assert_int_equal(perf_target_n_groups(t), 2);
        window_start(pe, t, cg, &w);
        assert_true(w.perf0[0] >= c1[0]);
        window_wait((const char *const[]){cg}, (const Window *const[]){&w}, 1, 200);
        window_end(pe, t, cg, &w);
        assert_agrees("CPU 1 listed again", window_task_clock(&w), window_usage_ns(&w));
        /* What the daemon pays every few seconds when nothing changed: the sysfs list and a
         * short read of each CPU's watch (which the real kernel answers with ENOSPC). */
        uint64_t t0 = now_monotonic_ns();
        for (int i = 0; i < 100; i++)
                assert_int_equal(perf_events_update_cpus(pe), 0);
        printf("# perf_events_update_cpus, nothing changed (2 CPUs): %.2f us\n",
               (double)(now_monotonic_ns() - t0) / 100.0 / 1000.0);
out:
        pe = perf_events_free(pe);
        cleanup_all();
        assert_int_equal(unlink(online), 0);
        for (size_t i = ELEMENTSOF(dirs); i > 0; i--) {
                assert_int_equal(path_fmt(path, sizeof(path), "%s/%s", tmp, dirs[i - 1]), 0);
                assert_int_equal(rmdir(path), 0);
        }
        assert_int_equal(rmdir(tmp), 0);
        assert_int_equal(count_fds(), fds0);
}

/* The fallback, for real: the kernel's refusal of the cgroup is injected, the counters per
 * thread are real and must still agree with cpu.stat, including a cgroup empty when added. */
static void test_real_fallback(void **state)
{
        size_t fds0 = count_fds();
        char rel_d[PATH_MAX], rel_e[PATH_MAX];
        const char *d = make_cgroup("d", rel_d, sizeof(rel_d));
        const char *e = make_cgroup("e", rel_e, sizeof(rel_e));
        (void)spawn_burner(d);

        inj_reset();
        inj.open_errno = EBADF;
        inj.fail_cgroup_only = true;
        PerfEvents *pe;
        PerfTarget *td, *te;
        assert_int_equal(perf_events_new(SW_EVENTS, NULL, &pe, NULL, 0), 0);
        assert_int_equal(perf_events_add_cgroup(pe, rel_d, &td), 0);
        assert_int_equal(perf_target_mode(td), PERF_TARGET_CGROUP_PROCESSES);
        assert_int_equal(perf_target_n_groups(td), 1);
        assert_int_equal(perf_events_add_cgroup(pe, rel_e, &te), 0);
        assert_int_equal(perf_target_n_groups(te), 0);
        (void)spawn_burner(e);

        Window wd, we;
        window_start(pe, td, d, &wd);
        window_start(pe, te, e, &we); /* opens e's burner now */
        assert_int_equal(perf_target_n_groups(te), 1);
        window_wait((const char *const[]){d, e}, (const Window *const[]){&wd, &we}, 2, 300);
        window_end(pe, td, d, &wd);
        window_end(pe, te, e, &we);
        assert_agrees("d.service, per-process fallback", window_task_clock(&wd),
                      window_usage_ns(&wd));
        assert_agrees("e.service, fallback, empty when added", window_task_clock(&we),
                      window_usage_ns(&we));

        pe = perf_events_free(pe);
        perf_events_set_syscalls(NULL);
        cleanup_all();
        assert_int_equal(count_fds(), fds0);
}

/* SIGSTOP (and waits until both are stopped) or SIGCONT. */
/* Whether every thread of pid is stopped. */
static bool all_stopped(pid_t pid)
{
        char path[PATH_MAX], text[512];
        assert_int_equal(path_fmt(path, sizeof(path), "/proc/%d/task", (int)pid), 0);
        DIR *d = opendir(path);
        assert_non_null(d);
        bool all = true;
        for (struct dirent *e; all && (e = readdir(d));) {
                if (e->d_name[0] == '.')
                        continue;
                char stat[PATH_MAX + 300];
                snprintf(stat, sizeof(stat), "%s/%s/stat", path, e->d_name);
                assert_true(read_text(stat, text, sizeof(text)) > 0);
                const char *st = strrchr(text, ')');
                all = st && st[1] == ' ' && st[2] == 'T';
        }
        closedir(d);
        return all;
}

static void stop_both(pid_t a, pid_t b, bool stop)
{
        pid_t ps[] = {a, b};
        for (size_t i = 0; i < ELEMENTSOF(ps); i++) {
                assert_int_equal(kill(ps[i], stop ? SIGSTOP : SIGCONT), 0);
                for (int k = 0; stop && k < 2000 && !all_stopped(ps[i]); k++)
                        sleep_us(10000);
        }
}

/* One process, the thread it starts and the process it forks after the counters were opened: the
 * thread is counted (inherit), the child is not (inherit_thread). */
static void test_real_process(void **state)
{
        size_t fds0 = count_fds();
        int go, report;
        pid_t p = spawn_forker(&go, &report);

        PerfEvents *pe;
        PerfTarget *t;
        assert_int_equal(perf_events_new(SW_EVENTS, NULL, &pe, NULL, 0), 0);
        assert_int_equal(perf_events_add_pid(pe, p, &t), 0);
        assert_int_equal(perf_target_mode(t), PERF_TARGET_PROCESS);
        assert_int_equal(write(go, "x", 1), 1);
        pid_t kid;
        assert_int_equal(read(report, &kid, sizeof(kid)), sizeof(kid));
        (void)close(go);
        (void)close(report);
        assert_true(n_children < ELEMENTSOF(children));
        children[n_children++] = kid;

        /* Both stopped while the two counters are read, so they cover the same CPU time. */
        uint64_t c0[PERF_EVENTS_MAX], c1[PERF_EVENTS_MAX];
        stop_both(p, kid, true);
        uint64_t s0 = process_ns(p), k0 = schedstat_ns(kid);
        assert_int_equal(perf_events_read(pe, t, c0, ELEMENTSOF(c0)), 0);
        stop_both(p, kid, false);
        for (int i = 0; i < 300 && process_ns(p) - s0 < 300 * NSEC_PER_MSEC; i++)
                sleep_us(200000);
        stop_both(p, kid, true);
        uint64_t s1 = process_ns(p), k1 = schedstat_ns(kid);
        assert_int_equal(perf_events_read(pe, t, c1, ELEMENTSOF(c1)), 0);
        stop_both(p, kid, false);
        printf("# the child forked later ran %.1f ms, not counted\n", (double)(k1 - k0) / 1e6);
        assert_true(k1 - k0 > 100 * NSEC_PER_MSEC); /* it ran, and would show if counted */
        assert_agrees("process + the thread it started later", c1[0] - c0[0], s1 - s0);

        /* The process exits: its counts stay readable until removed. */
        kill_child(kid);
        kill_child(p);
        assert_int_equal(perf_events_read(pe, t, c0, ELEMENTSOF(c0)), 0);
        assert_true(c0[0] >= c1[0]);
        t = perf_events_remove(pe, t);
        assert_int_equal(perf_events_add_pid(pe, p, &t), -ESRCH);
        pe = perf_events_free(pe);
        assert_int_equal(count_fds(), fds0);
}

static void on_signal(int sig)
{
        cleanup_all();
        signal(sig, SIG_DFL);
        raise(sig);
}

int main(void)
{
        const struct CMUnitTest pure[] = {
                cmocka_unit_test(test_scale),
                cmocka_unit_test(test_advance),
                cmocka_unit_test(test_encode),
                cmocka_unit_test(test_event_list),
                cmocka_unit_test_teardown(test_refused, teardown),
                cmocka_unit_test_teardown(test_fake_process, teardown),
                cmocka_unit_test_teardown(test_fake_cgroup, teardown),
                cmocka_unit_test_teardown(test_fake_hotplug, teardown),
        };
        const struct CMUnitTest real[] = {
                cmocka_unit_test_teardown(test_hardware, teardown),
                cmocka_unit_test_teardown(test_real_cgroups, teardown),
                cmocka_unit_test_teardown(test_real_hotplug, teardown),
                cmocka_unit_test_teardown(test_real_fallback, teardown),
                cmocka_unit_test_teardown(test_real_process, teardown),
        };
        atexit(cleanup_all);
        signal(SIGINT, on_signal);
        signal(SIGTERM, on_signal);

        int failed = cmocka_run_group_tests_name("perf-events (pure, injected)", pure, NULL, NULL);
        if (failed)
                return failed;
        if (geteuid() != 0) {
                printf("# real counters: not root, skipped\n");
                return 77;
        }
        find_v2root();
        if (!*v2root) {
                printf("# real counters: no cgroup v2 mount, skipped\n");
                return 77;
        }
        return cmocka_run_group_tests_name("perf-events (real, software events)", real, NULL, NULL);
}
