/* perf event counters on the real kernel, as root on a cgroup v2 mount (exit code 77 when not):
 * the default hardware events (refused without a PMU, as in most VMs), and real software counters
 * (perf::TASK-CLOCK, perf::CONTEXT-SWITCHES) on real cgroups and processes running CPU burners,
 * checked against each cgroup's own cpu.stat and each process's schedstat. The pure parts and the
 * fake kernel are in test-perf-events.c. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

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
#include <sys/wait.h>
#include <unistd.h>

#include "collectors/perf-events.h"
#include "common/util.h"

#include "perf-events-test.h"

#define TOLERANCE_PCT 5.0

/* ---- helpers ---- */

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

/* TASK-CLOCK is wall time on a CPU (perf_clock()). A VM's scheduler, with steal accounting
 * (CONFIG_PARAVIRT_TIME_ACCOUNTING), leaves out of schedstat and cpu.stat the time its host took
 * the vCPU away, and CONFIG_IRQ_TIME_ACCOUNTING leaves out the interrupts served while a task was
 * current. So TASK-CLOCK may read above them by what was taken from the task while it held a CPU:
 * never more than all the steal and interrupt time of all the CPUs over the window (steal comes
 * in bursts, so no share of it is a bound; the sum is; without CONFIG_IRQ_TIME_ACCOUNTING the
 * interrupt columns only widen the bound a little). tests/lib-cgroup.sh does the same for the
 * shell tests. */
typedef struct CpuTimes {
        uint64_t lost; /* irq + softirq + steal of all the CPUs, in clock ticks (USER_HZ) */
} CpuTimes;

/* From the aggregate line of /proc/stat: every possible CPU's time summed in ns, then turned into
 * clock ticks once, so a CPU going offline takes nothing away from it. */
static void cpu_times(CpuTimes *c)
{
        FILE *f = fopen("/proc/stat", "re");
        assert_non_null(f);
        char line[1024];
        assert_non_null(fgets(line, sizeof(line), f));
        (void)fclose(f);
        uint64_t v[8] = {0}; /* user nice system idle iowait irq softirq steal */
        assert_true(sscanf(line,
                           "cpu %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64
                           " %" SCNu64 " %" SCNu64 " %" SCNu64,
                           &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]) >= 7);
        c->lost = v[5] + v[6] + v[7];
}

/* What the CPUs lost to the host and to interrupts between a and b, in ns, and a clock tick for
 * each of the three columns for the rounding down of each end. */
static uint64_t clock_gap_ns(const CpuTimes *a, const CpuTimes *b)
{
        uint64_t ticks = (b->lost > a->lost ? b->lost - a->lost : 0) + 3;
        return ticks * (uint64_t)(NSEC_PER_SEC / sysconf(_SC_CLK_TCK));
}

/* perf_ns is no more than TOLERANCE_PCT below ref_ns, and no more than that above it once the
 * window's gap_ns is added. */
static void assert_agrees(const char *what, uint64_t perf_ns, uint64_t ref_ns, uint64_t gap_ns)
{
        double diff = 100.0 * ((double)perf_ns - (double)ref_ns) / (double)ref_ns;
        printf("# %s: TASK-CLOCK %.1f ms, reference %.1f ms, %+.2f%% (%.1f ms lost to the host)\n",
               what, perf_ns / 1e6, ref_ns / 1e6, diff, gap_ns / 1e6);
        assert_true(ref_ns > 100 * 1000 * 1000); /* the window really burned CPU */
        assert_true(diff >= -TOLERANCE_PCT);
        assert_true((double)perf_ns <= (double)ref_ns * (1 + TOLERANCE_PCT / 100) + (double)gap_ns);
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
        CpuTimes cpu0, cpu1;
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
        cpu_times(&w->cpu0);
        cgroup_freeze(cg, 0);
}

static void window_end(PerfEvents *pe, PerfTarget *t, const char *cg, Window *w)
{
        cgroup_freeze(cg, 1);
        w->usage1 = cgroup_usage_usec(cg);
        assert_int_equal(perf_events_read(pe, t, w->perf1, PERF_EVENTS_MAX), 0);
        cpu_times(&w->cpu1);
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

static void assert_window_agrees(const char *what, const Window *w)
{
        assert_agrees(what, window_task_clock(w), window_usage_ns(w),
                      clock_gap_ns(&w->cpu0, &w->cpu1));
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
        assert_window_agrees("a.service (2 burners), per cgroup", &wa);
        assert_window_agrees("b.service (1 burner), per cgroup", &wb);
        double ratio = (double)window_task_clock(&wa) / (double)window_task_clock(&wb);
        double ref_ratio = (double)window_usage_ns(&wa) / (double)window_usage_ns(&wb);
        printf("# a:b = %.2f (cpu.stat %.2f); context switches a %" PRIu64 ", b %" PRIu64 "\n",
               ratio, ref_ratio, wa.perf1[1] - wa.perf0[1], wb.perf1[1] - wb.perf0[1]);
        /* The split between the services is the kernel's: whatever the scheduler gave each (2:1
         * on a quiet machine, less apart when other work competes), the counters see it. Either
         * side may have lost up to its window's gap to the host, so the ratio may move by that. */
        double ua = (double)window_usage_ns(&wa), ub = (double)window_usage_ns(&wb);
        double ga = (double)clock_gap_ns(&wa.cpu0, &wa.cpu1);
        double gb = (double)clock_gap_ns(&wb.cpu0, &wb.cpu1);
        assert_true(ratio / ref_ratio >= (1 - TOLERANCE_PCT / 100) * ub / (ub + gb));
        assert_true(ratio / ref_ratio <= (1 + TOLERANCE_PCT / 100) * (ua + ga) / ua);

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
        assert_window_agrees("c.service (added later)", &wc);

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
        assert_window_agrees("pinned to CPU 1", &w);

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
        assert_window_agrees("CPU 1 listed again", &w);
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
        assert_window_agrees("d.service, per-process fallback", &wd);
        assert_window_agrees("e.service, fallback, empty when added", &we);

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

static void stop_one(pid_t pid, bool stop)
{
        assert_int_equal(kill(pid, stop ? SIGSTOP : SIGCONT), 0);
        for (int k = 0; stop && k < 2000 && !all_stopped(pid); k++)
                sleep_us(10000);
        assert_true(!stop || all_stopped(pid));
}

static void stop_both(pid_t a, pid_t b, bool stop)
{
        stop_one(a, stop);
        stop_one(b, stop);
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
        CpuTimes cpu0, cpu1;
        stop_both(p, kid, true);
        uint64_t s0 = process_ns(p), k0 = schedstat_ns(kid);
        assert_int_equal(perf_events_read(pe, t, c0, ELEMENTSOF(c0)), 0);
        cpu_times(&cpu0);
        stop_both(p, kid, false);
        for (int i = 0; i < 300 && process_ns(p) - s0 < 300 * NSEC_PER_MSEC; i++)
                sleep_us(200000);
        stop_both(p, kid, true);
        uint64_t s1 = process_ns(p), k1 = schedstat_ns(kid);
        assert_int_equal(perf_events_read(pe, t, c1, ELEMENTSOF(c1)), 0);
        cpu_times(&cpu1);
        stop_both(p, kid, false);
        printf("# the child forked later ran %.1f ms, not counted\n", (double)(k1 - k0) / 1e6);
        assert_true(k1 - k0 > 100 * NSEC_PER_MSEC); /* it ran, and would show if counted */
        assert_agrees("process + the thread it started later", c1[0] - c0[0], s1 - s0,
                      clock_gap_ns(&cpu0, &cpu1));

        /* Without any clock (the bound above loosens with what the host takes): the process
         * stopped and the child running on, the counts stay exactly as they are. */
        uint64_t c2[PERF_EVENTS_MAX], c3[PERF_EVENTS_MAX];
        stop_one(p, true);
        assert_int_equal(perf_events_read(pe, t, c2, ELEMENTSOF(c2)), 0);
        uint64_t k2 = schedstat_ns(kid);
        for (int i = 0; i < 500 && schedstat_ns(kid) - k2 < 100 * NSEC_PER_MSEC; i++)
                sleep_us(20000);
        uint64_t k3 = schedstat_ns(kid);
        assert_int_equal(perf_events_read(pe, t, c3, ELEMENTSOF(c3)), 0);
        stop_one(p, false);
        printf("# the process stopped, the child ran %.1f ms: TASK-CLOCK %+" PRId64 " ns\n",
               (double)(k3 - k2) / 1e6, (int64_t)(c3[0] - c2[0]));
        assert_true(k3 - k2 >= 100 * NSEC_PER_MSEC);
        assert_true(c3[0] == c2[0]);
        assert_true(c3[1] == c2[1]);

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
