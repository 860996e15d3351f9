/* perf event counters per service and per process: libpfm4 encoding, the scaling math from a
 * table, and the open/read paths with perf_event_open and read injected (errors, multiplexed fake
 * groups, many CPUs, a fake kernel's CPU hotplug). Real counters on real cgroups are in
 * test-perf-events-real.c. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <linux/perf_event.h>
#include <perfmon/pfmlib.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "collectors/perf-events.h"
#include "common/util.h"

#include "perf-events-test.h"

static int teardown(void **state)
{
        perf_events_set_syscalls(NULL);
        return 0;
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
        return cmocka_run_group_tests_name("perf-events (pure, injected)", pure, NULL, NULL);
}
