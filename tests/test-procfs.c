/* Tests for collectors/procfs.c: the parsers from tables of real-looking lines, the tracker
 * against a fake procfs (copied from tests/fixtures/procfs and changed between samples) and
 * against real processes. */
#include <errno.h>
#include <inttypes.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "real-cgroup.h"

#include "collectors/procfs.h"
#include "common/util.h"

/* ---- /proc/PID/stat ---- */

typedef struct StatRow {
        const char *line;
        int ret;
        pid_t pid;
        const char *comm;
        char state;
        pid_t ppid;
        unsigned flags;
        uint64_t utime, stime, threads, starttime;
        bool kthread;
} StatRow;

static const StatRow stat_rows[] = {
        {"1 (systemd) S 0 1 1 0 -1 4194560 38612 401814 0 235 412 869 781 425 20 0 1 0 24 "
         "45883392 3576 18446744073709551615 1 1 0 0 0 0 671173123 4096 1260 0 0 0 17 1 0 0 0 0 0 "
         "0 0 0 0 0 0 0 0\n",
         0, 1, "systemd", 'S', 0, 4194560, 412, 869, 1, 24, false},
        /* comm with spaces and parentheses: the LAST ')' ends it */
        {"3005 (my (weird) proc) R 3004 3005 3004 34816 3005 4194304 0 0 0 0 7 3 0 0 20 0 1 0 "
         "8000 0 0 18446744073709551615\n",
         0, 3005, "my (weird) proc", 'R', 3004, 4194304, 7, 3, 1, 8000, false},
        {"42 () ) ( ) S 1 42 42 0 -1 0 0 0 0 0 100 200 0 0 20 0 3 0 99 0 0\n", 0, 42, ") ) ( ", 'S',
         1, 0, 100, 200, 3, 99, false},
        {"43 (a b\tc) S 1 42 42 0 -1 0 0 0 0 0 1 2 0 0 20 0 1 0 5 0 0", 0, 43, "a b\tc", 'S', 1, 0,
         1, 2, 1, 5, false},
        /* comm is printed raw (proc_task_name(m, task, false) in fs/proc/array.c), and
         * "echo worker > /proc/$$/comm" sets it to "worker\n": the line holds a newline */
        {"8902 (worker\n) S 8900 8902 8900 0 -1 4194304 0 0 0 0 31 4 0 0 20 0 1 0 1438 0 0\n", 0,
         8902, "worker\n", 'S', 8900, 4194304, 31, 4, 1, 1438, false},
        {"7 (x\n) y)\n) S 1 1 1 0 -1 0 0 0 0 0 1 2 0 0 20 0 1 0 5 0 0\n", 0, 7, "x\n) y)\n", 'S', 1,
         0, 1, 2, 1, 5, false},
        /* kernel threads: kthreadd, a kworker with a long workqueue name, an idle kthread */
        {"2 (kthreadd) S 0 0 0 0 -1 2129984 0 0 0 0 0 3 0 0 20 0 1 0 24 0 0 18446744073709551615 "
         "0 0 0 0 0 0 0 2147483647 0 1 0 0 0 1 0 0 0 0 0 0 0 0 0 0 0 0 0\n",
         0, 2, "kthreadd", 'S', 0, 2129984, 0, 3, 1, 24, true},
        {"17 (kworker/0:1-events_power_efficient) I 2 0 0 0 -1 69238880 0 0 0 0 0 250 0 0 20 0 1 0 "
         "31 0 0\n",
         0, 17, "kworker/0:1-events_power_efficient", 'I', 2, 69238880, 0, 250, 1, 31, true},
        /* a zombie: every field still there, memory fields 0 */
        {"4663 (exp) Z 4662 4654 2843 0 -1 4228172 0 0 0 0 12 3 0 0 20 0 1 0 13185 0 0 "
         "18446744073709551615 0 0 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0 0 0 0 0 0 0 0 0\n",
         0, 4663, "exp", 'Z', 4662, 4228172, 12, 3, 1, 13185, false},
        /* negative fields that are skipped (tpgid -1, RT priority -51, nice -20) */
        {"900 (rt) S 1 900 900 0 -1 4194560 0 0 0 0 5 6 -3 0 -51 -20 2 0 700 0 0\n", 0, 900, "rt",
         'S', 1, 4194560, 5, 6, 2, 700, false},
        /* 16 bytes of comm are the most the kernel gives, but a longer one is truncated at 63 */
        {"5 (aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa) S 1 "
         "1 1 "
         "0 -1 0 0 0 0 0 1 1 0 0 20 0 1 0 9 0 0\n",
         0, 5, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 'S', 1, 0, 1, 1,
         1, 9, false},
        /* huge counters */
        {"6 (big) R 1 1 1 0 -1 0 0 0 0 0 18446744073709551615 0 0 0 20 0 1 0 1 0 0\n", 0, 6, "big",
         'R', 1, 0, UINT64_MAX, 0, 1, 1, false},
        /* malformed */
        {.line = "", .ret = -EINVAL},
        {.line = "1 systemd S 0 1 1", .ret = -EINVAL},
        {.line = "(x) S 0 1 1 0 -1 0 0 0 0 0 1 2 0 0 20 0 1 0 5 0 0", .ret = -EINVAL},
        {.line = "x1 (x) S 0 1 1 0 -1 0 0 0 0 0 1 2 0 0 20 0 1 0 5 0 0", .ret = -EINVAL},
        {.line = "0 (x) S 0 1 1 0 -1 0 0 0 0 0 1 2 0 0 20 0 1 0 5 0 0", .ret = -EINVAL},
        {.line = "7 (short) S 1 1 1 0 -1 0 0 0 0 0 1 2 0 0 20 0 1 0\n",
         .ret = -EINVAL}, /* ends before 22 */
        {.line = "7 (x) S 1 1 1 0 -1 0 0 0 0 0 1x 2 0 0 20 0 1 0 5 0 0", .ret = -EINVAL},
        {.line = "7 (x) S 1 1 1 0 -1 0 0 0 0 0 -1 2 0 0 20 0 1 0 5 0 0", .ret = -EINVAL},
        {.line = "7 (x) S 1 1 1 0 -1 0 0 0 0 0 18446744073709551616 2 0 0 20 0 1 0 5 0 0",
         .ret = -EINVAL},
        {.line = "7 (x)S 1 1 1 0 -1 0 0 0 0 0 1 2 0 0 20 0 1 0 5 0 0", .ret = -EINVAL},
        {.line = "7  (x) S 1 1 1 0 -1 0 0 0 0 0 1 2 0 0 20 0 1 0 5 0 0", .ret = -EINVAL},
        {.line = "7 (x) S 1  1 1 0 -1 0 0 0 0 0 1 2 0 0 20 0 1 0 5 0 0", .ret = -EINVAL},
};

static void test_stat_parse(void **state)
{
        (void)state;
        for (size_t i = 0; i < ELEMENTSOF(stat_rows); i++) {
                const StatRow *row = &stat_rows[i];
                ProcStat st;
                memset(&st, 0x5a, sizeof(st));
                int r = procfs_stat_parse(row->line, &st);
                if (r != row->ret)
                        fail_msg("row %zu: %s: got %d, want %d", i, row->line, r, row->ret);
                if (r < 0) {
                        /* outputs untouched on failure */
                        assert_int_equal(st.pid, 0x5a5a5a5a);
                        continue;
                }
                assert_int_equal(st.pid, row->pid);
                assert_string_equal(st.comm, row->comm);
                assert_int_equal(st.state, row->state);
                assert_int_equal(st.ppid, row->ppid);
                assert_int_equal(st.flags, row->flags);
                assert_true(st.utime == row->utime);
                assert_true(st.stime == row->stime);
                assert_true(st.num_threads == row->threads);
                assert_true(st.starttime == row->starttime);
                assert_int_equal(procfs_stat_is_kthread(&st), row->kthread);
        }
}

/* ---- /proc/PID/schedstat ---- */

static void test_schedstat_parse(void **state)
{
        static const struct {
                const char *line;
                int ret;
                uint64_t run, wait, slices;
        } rows[] = {
                {"2409745337 112918497 3329\n", 0, 2409745337, 112918497, 3329},
                {"0 0 0\n", 0, 0, 0, 0},
                {"0 0 0", 0, 0, 0, 0},
                {"18446744073709551615 1 2\n", 0, UINT64_MAX, 1, 2},
                {"9999999999999999999 1 2\n", 0, UINT64_C(9999999999999999999), 1, 2},
                {"00000000000000000001 1 2\n", 0, 1, 1, 2},
                {.line = "18446744073709551616 1 2\n", .ret = -EINVAL},
                {.line = "99999999999999999999 1 2\n", .ret = -EINVAL},
                {.line = "", .ret = -EINVAL},
                {.line = "1 2\n", .ret = -EINVAL},
                {.line = "1 2 3 4\n", .ret = -EINVAL},
                {.line = "1  2 3\n", .ret = -EINVAL},
                {.line = "a 2 3\n", .ret = -EINVAL},
                {.line = "1 2 3\n\n", .ret = -EINVAL},
        };
        (void)state;
        for (size_t i = 0; i < ELEMENTSOF(rows); i++) {
                ProcSchedstat s = {.run_ns = 77};
                int r = procfs_schedstat_parse(rows[i].line, &s);
                if (r != rows[i].ret)
                        fail_msg("row %zu: got %d", i, r);
                if (r < 0) {
                        assert_true(s.run_ns == 77);
                        continue;
                }
                assert_true(s.run_ns == rows[i].run);
                assert_true(s.wait_ns == rows[i].wait);
                assert_true(s.timeslices == rows[i].slices);
        }
}

/* ---- /proc/PID/cgroup ---- */

#define HYBRID                                                                                     \
        "12:cpu,cpuacct:/user.slice\n"                                                             \
        "11:pids:/user.slice/user-1000.slice/user@1000.service\n"                                  \
        "1:name=systemd:/user.slice/user-1000.slice/user@1000.service/app.slice/foo.service\n"     \
        "0::/user.slice/user-1000.slice/user@1000.service/app.slice/foo.service\n"
#define LEGACY                                                                                     \
        "11:memory:/system.slice/cron.service\n"                                                   \
        "4:cpu,cpuacct:/system.slice/cron.service\n"                                               \
        "1:name=systemd:/system.slice/cron.service\n"
/* this machine: hybrid, PID 1 not systemd */
#define HERE                                                                                       \
        "9:name=systemd:/\n8:pids:/\n4:memory:/process_api/b916ad2cbf72119ee3fe136225bda41b\n"     \
        "2:cpuacct:/\n1:cpu:/\n0::/system.slice/t-a.service\n"

static void test_cgroup_parse(void **state)
{
        static const struct {
                const char *text;
                const char *controller;
                int ret;
                const char *path;
        } rows[] = {
                {"0::/system.slice/nginx.service\n", NULL, 0, "/system.slice/nginx.service"},
                {"0::/system.slice/nginx.service\n", "", 0, "/system.slice/nginx.service"},
                {"0::/\n", NULL, 0, "/"},
                {"0::/init.scope", NULL, 0, "/init.scope"},
                {HYBRID, NULL, 0,
                 "/user.slice/user-1000.slice/user@1000.service/app.slice/foo.service"},
                {HYBRID, "cpuacct", 0, "/user.slice"},
                {HYBRID, "cpu", 0, "/user.slice"},
                {HYBRID, "pids", 0, "/user.slice/user-1000.slice/user@1000.service"},
                {HYBRID, "name=systemd", 0,
                 "/user.slice/user-1000.slice/user@1000.service/app.slice/foo.service"},
                {HYBRID, "memory", -ENODATA, NULL},
                {HYBRID, "cpu,cpuacct", -ENODATA, NULL}, /* one controller at a time */
                {LEGACY, NULL, -ENODATA, NULL},
                {LEGACY, "name=systemd", 0, "/system.slice/cron.service"},
                {LEGACY, "cpuacct", 0, "/system.slice/cron.service"},
                {HERE, "memory", 0, "/process_api/b916ad2cbf72119ee3fe136225bda41b"},
                {HERE, NULL, 0, "/system.slice/t-a.service"},
                /* a process in a removed cgroup */
                {"0::/system.slice/gone.service (deleted)\n", NULL, 0,
                 "/system.slice/gone.service"},
                /* ':' inside a path (valid in unit names) */
                {"0::/system.slice/a:b.service\n", NULL, 0, "/system.slice/a:b.service"},
                {"0::/system.slice/system-getty.slice/getty@tty1.service\n", NULL, 0,
                 "/system.slice/system-getty.slice/getty@tty1.service"},
                {"0::/system.slice/dev-disk-by\\x2duuid-1a2b.swap\n", NULL, 0,
                 "/system.slice/dev-disk-by\\x2duuid-1a2b.swap"},
                {"", NULL, -ENODATA, NULL},
                {"\n\n", NULL, -ENODATA, NULL},
                {"garbage\n", NULL, -EINVAL, NULL},
                {"x::/\n", NULL, -EINVAL, NULL},
                {"0::\n", NULL, -EINVAL, NULL},
                {"0::relative\n", NULL, -EINVAL, NULL},
        };
        (void)state;
        for (size_t i = 0; i < ELEMENTSOF(rows); i++) {
                char buf[256] = "untouched";
                int r = procfs_cgroup_parse(rows[i].text, rows[i].controller, buf, sizeof(buf));
                if (r != rows[i].ret)
                        fail_msg("row %zu: got %d, want %d", i, r, rows[i].ret);
                if (r >= 0)
                        assert_string_equal(buf, rows[i].path);
                else
                        assert_string_equal(buf, "untouched");
        }

        char small[8];
        assert_int_equal(procfs_cgroup_parse("0::/system.slice\n", NULL, small, sizeof(small)),
                         -ENAMETOOLONG);
}

static void test_cgroup_unit_path(void **state)
{
        static const struct {
                const char *text;
                int ret;
                const char *path;
        } rows[] = {
                {HYBRID, 0, "/user.slice/user-1000.slice/user@1000.service/app.slice/foo.service"},
                {LEGACY, 0, "/system.slice/cron.service"},
                {HERE, 0, "/system.slice/t-a.service"},
                {"9:name=systemd:/\n0::/\n", 0, "/"},
                /* cgroup2 mounted on a legacy host but unused by systemd */
                {"1:name=systemd:/system.slice/x.service\n0::/\n", 0, "/system.slice/x.service"},
                {"4:cpu,cpuacct:/\n", -ENODATA, NULL},
        };
        (void)state;
        for (size_t i = 0; i < ELEMENTSOF(rows); i++) {
                char buf[256];
                int r = procfs_cgroup_unit_path(rows[i].text, buf, sizeof(buf));
                if (r != rows[i].ret)
                        fail_msg("row %zu: got %d", i, r);
                if (r >= 0)
                        assert_string_equal(buf, rows[i].path);
        }
}

/* ---- mountinfo ---- */

static void test_mountinfo(void **state)
{
        static const struct {
                const char *text;
                int ret;
                const char *v2, *acct;
        } rows[] = {
                /* this machine: hybrid */
                {"31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
                 "32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n"
                 "33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct\n"
                 "40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd\n"
                 "41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n",
                 0, "/sys/fs/cgroup/unified", "/sys/fs/cgroup/cpuacct"},
                /* unified, with optional fields before the separator */
                {"25 22 0:23 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 "
                 "cgroup2 rw,nsdelegate,memory_recursiveprot\n",
                 0, "/sys/fs/cgroup", ""},
                /* legacy: cpu,cpuacct co-mounted, cgroup2 absent */
                {"30 25 0:26 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid shared:11 - cgroup cgroup "
                 "rw,cpu,cpuacct\n",
                 0, "", "/sys/fs/cgroup/cpu,cpuacct"},
                /* a bind mount of a subtree is skipped; an escaped space is undone */
                {"90 27 0:38 /system.slice /mnt/x rw - cgroup2 cgroup2 rw\n"
                 "91 27 0:38 / /mnt/with\\040space rw - cgroup2 cgroup2 rw\n",
                 0, "/mnt/with space", ""},
                {"22 27 0:21 / /proc rw - proc proc rw\n", -ENOENT, "", ""},
                {"", -ENOENT, "", ""},
                {"garbage\n", -ENOENT, "", ""},
        };
        (void)state;
        for (size_t i = 0; i < ELEMENTSOF(rows); i++) {
                char v2[256], acct[256];
                int r = mountinfo_cgroups(rows[i].text, v2, sizeof(v2), acct, sizeof(acct));
                if (r != rows[i].ret)
                        fail_msg("row %zu: got %d", i, r);
                assert_string_equal(v2, rows[i].v2);
                assert_string_equal(acct, rows[i].acct);
        }
        /* A mount point longer than the buffer is not found, and leaves "" there: it left the
         * bytes that fitted, unterminated (found by fuzz/fuzz-mountinfo.c). */
        char tiny[8];
        memset(tiny, 'X', sizeof(tiny));
        assert_int_equal(mountinfo_cgroups(rows[0].text, tiny, sizeof(tiny), NULL, 0), -ENOENT);
        assert_string_equal(tiny, "");
}

static void test_pid_list(void **state)
{
        pid_t p[4];
        (void)state;
        assert_int_equal(procfs_parse_pid_list("", p, 4), 0);
        assert_int_equal(procfs_parse_pid_list("1\n", p, 4), 1);
        assert_int_equal(p[0], 1);
        assert_int_equal(procfs_parse_pid_list("812\n813\n4194304\n", p, 4), 3);
        assert_int_equal(p[2], 4194304);
        assert_int_equal(procfs_parse_pid_list("1\n2\n3\n4\n5\n", p, 4), -ENOBUFS);
        assert_int_equal(procfs_parse_pid_list("1 2\n", p, 4), -EINVAL);
        assert_int_equal(procfs_parse_pid_list("x\n", p, 4), -EINVAL);
        /* A task that lost its PID while exiting (or one outside the reader's PID namespace) is
         * listed as 0 by kernels without "cgroup: Skip showing PID 0 in cgroup.procs and
         * cgroup.threads" (Tejun Heo, 6.18 fixes): there is no such process to read. */
        assert_int_equal(procfs_parse_pid_list("0\n", p, 4), 0);
        assert_int_equal(procfs_parse_pid_list("812\n0\n813\n0\n", p, 4), 2);
        assert_int_equal(p[0], 812);
        assert_int_equal(p[1], 813);
        assert_int_equal(procfs_parse_pid_list("-1\n", p, 4), -EINVAL);
}

/* ---- tracker against a fake procfs ---- */

static char tmpdir[4096];

static void write_file(const char *dir, const char *rel, const char *text)
{
        char path[8192];
        snprintf(path, sizeof(path), "%s/%s", dir, rel);
        /* Rewritten in place, so a cached fd sees the new text as it would on procfs. */
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
        close(fd);
}

static void write_stat(pid_t pid, const char *comm, unsigned flags, uint64_t utime, uint64_t stime,
                       uint64_t starttime)
{
        char rel[64], dir[8192], line[512];
        snprintf(dir, sizeof(dir), "%s/%d", tmpdir, (int)pid);
        (void)mkdir(dir, 0755);
        snprintf(rel, sizeof(rel), "%d/stat", (int)pid);
        snprintf(line, sizeof(line),
                 "%d (%s) S 1 %d %d 0 -1 %u 0 0 0 0 %" PRIu64 " %" PRIu64 " 0 0 20 0 1 0 %" PRIu64
                 " 1000 10 18446744073709551615\n",
                 (int)pid, comm, (int)pid, (int)pid, flags, utime, stime, starttime);
        write_file(tmpdir, rel, line);
}

static int setup_tmp(void **state)
{
        (void)state;
        const char *base = getenv("JOULES_TEST_TMP");
        if (base)
                (void)mkdir(base, 0755);
        snprintf(tmpdir, sizeof(tmpdir), "%s/procfs-XXXXXX", base ? base : "/tmp");
        if (!mkdtemp(tmpdir))
                return -1;
        return 0;
}

static int teardown_tmp(void **state)
{
        char cmd[8300];
        (void)state;
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
        return system(cmd) == 0 ? 0 : -1;
}

#define LAZY (PROCFS_SAMPLE_SKIP_IDLE | PROCFS_SAMPLE_NEW_LIST)

static const ProcSample *find(const ProcSample *s, size_t n, pid_t pid)
{
        for (size_t i = 0; i < n; i++)
                if (s[i].pid == pid)
                        return &s[i];
        return NULL;
}

static void test_tracker_fake(void **state)
{
        JoulesRoots roots = {.procfs = tmpdir};
        ProcTracker *t;
        const ProcSample *s;
        size_t n;
        const uint64_t tick = NSEC_PER_SEC / (uint64_t)sysconf(_SC_CLK_TCK);
        (void)state;

        write_stat(100, "nginx", 0x40400140, 100, 50, 5000);
        write_stat(101, "my (weird) worker", 0x400040, 10, 0, 5001);
        write_stat(2, "kthreadd", 0x208040, 0, 3, 24);

        assert_int_equal(procfs_tracker_new(&roots, 0, &t), 0);
        pid_t pids1[] = {101, 100, 100, 2, 555 /* no such process */, -1, 0};
        assert_int_equal(procfs_tracker_sample(t, pids1, ELEMENTSOF(pids1), &s, &n), 0);
        assert_int_equal(n, 3); /* 555 is left out, duplicates and <= 0 ignored */
        assert_int_equal(s[0].pid, 2);
        assert_true(s[0].kthread);
        assert_int_equal(s[1].pid, 100);
        assert_true(s[1].fresh);
        assert_true(s[1].delta_ns == 0); /* first sighting is a baseline */
        assert_true(s[1].cpu_ns == 150 * tick);
        assert_string_equal(find(s, n, 101)->comm, "my (weird) worker");
        assert_int_equal(procfs_tracker_open_fds(t), 3);

        /* Second interval: 100 used 40 ticks, 101 none; 102 appeared and started after the
         * previous sample (start time far in the future of this boot): all its CPU is new. */
        write_stat(100, "nginx", 0x40400140, 130, 60, 5000);
        write_stat(102, "new", 0, 7, 1, UINT64_C(1) << 40);
        write_stat(103, "old", 0, 7, 1, 10); /* new to the tracker, started long ago */
        pid_t pids2[] = {100, 101, 102, 103};
        assert_int_equal(procfs_tracker_sample(t, pids2, ELEMENTSOF(pids2), &s, &n), 0);
        assert_int_equal(n, 4);
        assert_false(find(s, n, 100)->fresh);
        assert_true(find(s, n, 100)->delta_ns == 40 * tick);
        assert_true(find(s, n, 101)->delta_ns == 0);
        assert_true(find(s, n, 102)->fresh);
        assert_true(find(s, n, 102)->delta_ns == 8 * tick);
        assert_true(find(s, n, 103)->fresh);
        assert_true(find(s, n, 103)->delta_ns == 0);
        /* PID 2 was not listed: forgotten, its fd closed */
        assert_null(find(s, n, 2));
        assert_int_equal(procfs_tracker_open_fds(t), 4);

        /* PID 100 reused by another process (a new start time): a new baseline, no delta across
         * the two processes even though its counter is lower. */
        write_stat(100, "other", 0, 5, 0, 9000);
        assert_int_equal(procfs_tracker_sample(t, pids2, 2, &s, &n), 0);
        assert_true(find(s, n, 100)->fresh);
        assert_true(find(s, n, 100)->delta_ns == 0);
        assert_string_equal(find(s, n, 100)->comm, "other");
        write_stat(100, "other", 0, 25, 0, 9000);
        assert_int_equal(procfs_tracker_sample(t, pids2, 2, &s, &n), 0);
        assert_true(find(s, n, 100)->delta_ns == 20 * tick);

        /* A counter going backwards (never on a real kernel) gives 0, never a wrapped value. */
        write_stat(100, "other", 0, 1, 0, 9000);
        assert_int_equal(procfs_tracker_sample(t, pids2, 2, &s, &n), 0);
        assert_true(find(s, n, 100)->delta_ns == 0);

        /* An empty list forgets everything. */
        assert_int_equal(procfs_tracker_sample(t, NULL, 0, &s, &n), 0);
        assert_int_equal(n, 0);
        assert_int_equal(procfs_tracker_open_fds(t), 0);
        assert_null(procfs_tracker_free(t));
        assert_null(procfs_tracker_free(NULL));
}

static void write_stat_threads(pid_t pid, const char *comm, uint64_t utime, uint64_t starttime,
                               unsigned threads)
{
        char rel[64], line[512];
        snprintf(rel, sizeof(rel), "%d/stat", (int)pid);
        snprintf(line, sizeof(line),
                 "%d (%s) S 1 %d %d 0 -1 0 0 0 0 0 %" PRIu64 " 0 0 0 20 0 %u 0 %" PRIu64
                 " 1000 10 18446744073709551615\n",
                 (int)pid, comm, (int)pid, (int)pid, utime, threads, starttime);
        write_file(tmpdir, rel, line);
}

static void write_schedstat(pid_t pid, uint64_t run_ns)
{
        char rel[64], line[128];
        snprintf(rel, sizeof(rel), "%d/schedstat", (int)pid);
        snprintf(line, sizeof(line), "%" PRIu64 " 0 1\n", run_ns);
        write_file(tmpdir, rel, line);
}

/* A single-threaded process is followed through schedstat (nanoseconds, cheap), re-reading stat
 * every 16 samples; once it has threads, stat (the whole process) is used again. */
static void test_tracker_schedstat(void **state)
{
        JoulesRoots roots = {.procfs = tmpdir};
        ProcTracker *t;
        const ProcSample *s;
        size_t n;
        const uint64_t tick = NSEC_PER_SEC / (uint64_t)sysconf(_SC_CLK_TCK);
        (void)state;

        write_stat(200, "worker", 0, 100, 0, 6000); /* write_stat makes the directory */
        write_stat_threads(200, "worker", 100, 6000, 1);
        write_schedstat(200, 1000000000);
        assert_int_equal(procfs_tracker_new(&roots, 0, &t), 0);
        pid_t pids[] = {200};
        assert_int_equal(procfs_tracker_sample(t, pids, 1, &s, &n), 0);
        assert_int_equal(n, 1);
        assert_int_equal(s[0].delta_ns, 0);

        /* schedstat moves, stat does not: the delta is schedstat's, to the nanosecond */
        write_schedstat(200, 1000123457);
        assert_int_equal(procfs_tracker_sample(t, pids, 1, &s, &n), 0);
        assert_int_equal(s[0].delta_ns, 123457);
        assert_string_equal(s[0].comm, "worker");
        assert_false(s[0].fresh);

        /* 15 more samples from schedstat; the 17th re-reads stat and sees a new name */
        for (int i = 0; i < 15; i++) {
                write_schedstat(200, 1000123457 + (uint64_t)(i + 1) * 1000);
                assert_int_equal(procfs_tracker_sample(t, pids, 1, &s, &n), 0);
                assert_int_equal(s[0].delta_ns, 1000);
                assert_string_equal(s[0].comm, "worker");
        }
        write_stat_threads(200, "renamed", 100, 6000, 1); /* 1.000138 s: still 100 ticks */
        write_schedstat(200, 1000123457 + 15 * 1000 + 5);
        assert_int_equal(procfs_tracker_sample(t, pids, 1, &s, &n), 0);
        assert_string_equal(s[0].comm, "renamed");
        assert_int_equal(s[0].delta_ns, 5); /* still schedstat's clock for this interval */

        /* It starts threads: from the next stat read on, stat is the clock */
        for (int i = 0; i < 16; i++)
                assert_int_equal(procfs_tracker_sample(t, pids, 1, &s, &n), 0);
        write_stat_threads(200, "renamed", 140, 6000, 4);
        assert_int_equal(procfs_tracker_sample(t, pids, 1, &s, &n), 0);
        assert_int_equal(s[0].n_threads, 4);
        write_stat_threads(200, "renamed", 150, 6000, 4);
        write_schedstat(200, 9999999999); /* ignored now */
        assert_int_equal(procfs_tracker_sample(t, pids, 1, &s, &n), 0);
        assert_int_equal(s[0].delta_ns, 10 * tick);
        assert_null(procfs_tracker_free(t));
}

/* A single-threaded process that runs a thread between two stat reads: the thread's time is in
 * stat (the thread group's, exited threads included: signal->sum_sched_runtime) but never in the
 * main thread's schedstat, so the stat read that follows adds what schedstat did not show. */
static void test_tracker_schedstat_threads(void **state)
{
        JoulesRoots roots = {.procfs = tmpdir};
        ProcTracker *t;
        const ProcSample *s;
        size_t n;
        const uint64_t tick = NSEC_PER_SEC / (uint64_t)sysconf(_SC_CLK_TCK);
        (void)state;

        write_stat(210, "pool", 0, 0, 0, 6000);
        write_stat_threads(210, "pool", NSEC_PER_SEC / tick, 6000, 1); /* 1 s */
        write_schedstat(210, NSEC_PER_SEC);
        assert_int_equal(procfs_tracker_new(&roots, 0, &t), 0);
        pid_t pids[] = {210};
        assert_int_equal(procfs_tracker_sample(t, pids, 1, &s, &n), 0);
        uint64_t sum = 0, run = NSEC_PER_SEC;
        /* 16 samples from schedstat, the main thread 1 ms each; meanwhile a thread runs 500 ms and
         * exits; the 17th sample reads stat again, single-threaded as before */
        for (int i = 0; i < 17; i++) {
                run += NSEC_PER_MSEC;
                write_schedstat(210, run);
                if (i == 16)
                        write_stat_threads(210, "pool", (run + 500 * NSEC_PER_MSEC) / tick, 6000,
                                           1);
                assert_int_equal(procfs_tracker_sample(t, pids, 1, &s, &n), 0);
                assert_int_equal(n, 1);
                sum += s[0].delta_ns;
        }
        print_message("schedstat threads: %.1f ms seen, 517 ms used\n", (double)sum / 1e6);
        if (sum + 2 * tick < 517 * NSEC_PER_MSEC || sum > 517 * NSEC_PER_MSEC + 2 * tick)
                fail_msg("%" PRIu64 " ns seen, want 517 ms", sum);
        assert_true(s[0].cpu_ns == (run + 500 * NSEC_PER_MSEC) / tick * tick);
        assert_null(procfs_tracker_free(t));
}

/* Before Linux 5.14 ("sched: Simplify sched_info_on()"), a kernel without CONFIG_SCHEDSTATS whose
 * delay accounting is off (nodelayacct) shows "0 0 0" in every schedstat (proc_pid_schedstat in
 * fs/proc/base.c): stat is then the only clock. */
static void test_tracker_schedstat_off(void **state)
{
        JoulesRoots roots = {.procfs = tmpdir};
        ProcTracker *t;
        const ProcSample *s;
        size_t n;
        const uint64_t tick = NSEC_PER_SEC / (uint64_t)sysconf(_SC_CLK_TCK);
        (void)state;

        write_stat(220, "single", 0, 0, 0, 6000);
        write_stat_threads(220, "single", 100, 6000, 1);
        write_file(tmpdir, "220/schedstat", "0 0 0\n");
        assert_int_equal(procfs_tracker_new(&roots, 0, &t), 0);
        pid_t pids[] = {220};
        assert_int_equal(procfs_tracker_sample(t, pids, 1, &s, &n), 0);
        for (uint64_t i = 1; i <= 3; i++) {
                write_stat_threads(220, "single", 100 + 10 * i, 6000, 1);
                assert_int_equal(procfs_tracker_sample(t, pids, 1, &s, &n), 0);
                assert_int_equal(n, 1);
                assert_true(s[0].delta_ns == 10 * tick);
        }
        assert_null(procfs_tracker_free(t));
}

static void test_tracker_skip_kthreads(void **state)
{
        JoulesRoots roots = {.procfs = tmpdir};
        ProcTracker *t;
        const ProcSample *s;
        size_t n;
        (void)state;

        write_stat(2, "kthreadd", 0x208040, 0, 3, 24);
        write_stat(17, "kworker/0:1-events", 0x4208060, 0, 250, 31);
        write_stat(300, "bash", 0x400000, 30, 20, 7000);

        assert_int_equal(procfs_tracker_new(&roots, PROCFS_TRACK_SKIP_KTHREADS, &t), 0);
        pid_t pids[] = {2, 17, 300};
        assert_int_equal(procfs_tracker_sample(t, pids, 3, &s, &n), 0);
        assert_int_equal(n, 1);
        assert_int_equal(s[0].pid, 300);
        /* kernel threads are classified once and hold no fd */
        assert_int_equal(procfs_tracker_open_fds(t), 1);

        /* Their files are not read again: even an unreadable one stays classified. */
        char path[8192];
        snprintf(path, sizeof(path), "%s/17/stat", tmpdir);
        assert_int_equal(unlink(path), 0);
        write_stat(300, "bash", 0x400000, 35, 20, 7000);
        assert_int_equal(procfs_tracker_sample(t, pids, 3, &s, &n), 0);
        assert_int_equal(n, 1);
        assert_true(s[0].delta_ns == 5 * (NSEC_PER_SEC / (uint64_t)sysconf(_SC_CLK_TCK)));
        procfs_tracker_free(t);
}

/* Lazy rounds: idle processes are skipped, keep their baselines, and the rest call reads them. */
static void test_tracker_lazy(void **state)
{
        JoulesRoots roots = {.procfs = tmpdir};
        ProcTracker *t;
        const ProcSample *s;
        size_t n;
        ProcTrackerCounts c;
        const uint64_t tick = NSEC_PER_SEC / (uint64_t)sysconf(_SC_CLK_TCK);
        (void)state;

        /* 400 busy (single-threaded, schedstat), 401 and 402 asleep, 403 multi-threaded (stat) */
        for (pid_t p = 400; p <= 402; p++) {
                write_stat(p, "w", 0, 10, 0, 8000);
                write_stat_threads(p, "w", 10, 8000, 1);
                write_schedstat(p, 5000000);
        }
        write_stat(403, "java", 0, 10, 0, 8000);
        write_stat_threads(403, "java", 100, 8000, 8);
        assert_int_equal(procfs_tracker_new(&roots, 0, &t), 0);
        pid_t pids[] = {400, 401, 402, 403};
        /* First round: everything is new, nothing can be skipped. */
        assert_int_equal(procfs_tracker_sample_lazy(t, pids, 4, LAZY, &s, &n), 0);
        assert_int_equal(n, 4);
        procfs_tracker_counts(t, &c);
        assert_int_equal(c.skipped, 0);

        /* Second round: all read (none was idle yet); 400 and 403 moved. */
        write_schedstat(400, 6000000);
        write_stat_threads(403, "java", 103, 8000, 8);
        assert_int_equal(procfs_tracker_sample_lazy(t, pids, 4, LAZY, &s, &n), 0);
        assert_int_equal(n, 4);
        assert_true(find(s, n, 400)->delta_ns == 1000000);
        assert_true(find(s, n, 401)->delta_ns == 0);
        assert_true(find(s, n, 403)->delta_ns == 3 * tick);
        procfs_tracker_counts(t, &c);
        assert_int_equal(c.skipped, 0);
        assert_int_equal(c.coarse, 1); /* 403, from stat */

        /* Third round: 401 and 402 were idle, so they are not read, even though 401 ran. */
        write_schedstat(400, 6500000);
        write_schedstat(401, 5000777);
        assert_int_equal(procfs_tracker_sample_lazy(t, pids, 4, LAZY, &s, &n), 0);
        assert_int_equal(n, 2);
        assert_non_null(find(s, n, 400));
        assert_non_null(find(s, n, 403));
        assert_null(find(s, n, 401));
        procfs_tracker_counts(t, &c);
        assert_int_equal(c.skipped, 2);
        assert_int_equal(c.gone, 0);
        /* ... until the rest is asked for: added in PID order, 401's time to the nanosecond. */
        assert_int_equal(procfs_tracker_sample_rest(t, &s, &n), 0);
        assert_int_equal(n, 4);
        for (size_t i = 0; i < n; i++)
                assert_int_equal(s[i].pid, pids[i]);
        assert_true(s[0].delta_ns == 500000);
        assert_true(s[1].delta_ns == 777);
        assert_true(s[2].delta_ns == 0);
        procfs_tracker_counts(t, &c);
        assert_int_equal(c.skipped, 0);
        /* a second rest call has nothing to do */
        assert_int_equal(procfs_tracker_sample_rest(t, &s, &n), 0);
        assert_int_equal(n, 4);

        /* 402 stays skipped while asleep; what it uses meanwhile comes with its next reading, none
         * of it lost. 401 ran last time, so it is read now. */
        write_schedstat(402, 5000100);
        assert_int_equal(procfs_tracker_sample_lazy(t, pids, 4, LAZY, &s, &n), 0);
        assert_null(find(s, n, 402));
        assert_non_null(find(s, n, 401));
        write_schedstat(402, 5000300);
        assert_int_equal(procfs_tracker_sample_lazy(t, pids, 4, LAZY, &s, &n), 0);
        assert_null(find(s, n, 402));
        assert_int_equal(procfs_tracker_sample(t, pids, 4, &s, &n), 0); /* not lazy: all */
        assert_true(find(s, n, 402)->delta_ns == 300);

        assert_null(procfs_tracker_free(t));
}

/* The recorded fixture reads and parses. */
static void test_fixture(void **state)
{
        char dir[4096];
        const char *fx = getenv("JOULES_FIXTURES");
        ProcStat st;
        (void)state;
        if (!fx)
                skip();
        snprintf(dir, sizeof(dir), "%s/procfs", fx);
        JoulesRoots roots = {.procfs = dir};
        assert_int_equal(procfs_read_stat(&roots, 3005, &st), 0);
        assert_string_equal(st.comm, "my (weird) proc");
        assert_int_equal(st.state, 'Z');
        assert_int_equal(procfs_read_stat(&roots, 17, &st), 0);
        assert_true(procfs_stat_is_kthread(&st));
        assert_int_equal(procfs_read_stat(&roots, 812, &st), 0);
        assert_false(procfs_stat_is_kthread(&st));
        assert_int_equal(procfs_read_stat(&roots, 999999, &st), -ENOENT);
}

/* ---- tracker against real processes ---- */

static void test_tracker_real(void **state)
{
        int go[2], done[2];
        ProcTracker *t;
        const ProcSample *s;
        size_t n;
        char c;
        (void)state;

        assert_int_equal(pipe(go), 0);
        assert_int_equal(pipe(done), 0);
        pid_t child = fork();
        assert_true(child >= 0);
        if (child == 0) {
                if (read(go[0], &c, 1) != 1)
                        _exit(1);
                burn_ms(300);
                /* its whole CPU time since fork(), the most the tracker can have seen */
                struct timespec ts;
                clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
                uint64_t spent = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
                if (write(done[1], &spent, sizeof(spent)) != (ssize_t)sizeof(spent))
                        _exit(1);
                pause();
                _exit(0);
        }

        assert_int_equal(procfs_tracker_new(NULL, 0, &t), 0);
        pid_t pids[] = {child, getpid()};
        assert_int_equal(procfs_tracker_sample(t, pids, 2, &s, &n), 0);
        assert_int_equal(n, 2);
        assert_int_equal(write(go[1], "g", 1), 1);
        uint64_t spent;
        assert_int_equal(read(done[0], &spent, sizeof(spent)), sizeof(spent));
        assert_int_equal(procfs_tracker_sample(t, pids, 2, &s, &n), 0);
        const ProcSample *cs = find(s, n, child);
        assert_non_null(cs);
        assert_false(cs->fresh);
        /* 300 ms burned after the first sample, no more than the child's whole CPU time; each
         * end to a 10 ms clock tick (a loaded machine, or ASan, adds to what the child spends) */
        if (cs->delta_ns < 280 * 1000000ull || cs->delta_ns > spent + 20 * 1000000ull)
                fail_msg("child delta %" PRIu64 " ns, want 300 ms to its %" PRIu64 " ns",
                         cs->delta_ns, spent);

        /* Asleep in pause(): once a reading shows it idle, lazy rounds leave it unread. */
        ProcTrackerCounts cnt = {0};
        for (int i = 0; i < 5 && cnt.skipped == 0; i++) {
                /* This process runs all along; a running task's counter moves at clock ticks. */
                burn_ms(20);
                assert_int_equal(procfs_tracker_sample_lazy(t, pids, 2, LAZY, &s, &n), 0);
                procfs_tracker_counts(t, &cnt);
        }
        assert_int_equal(cnt.skipped, 1);
        assert_null(find(s, n, child));
        assert_non_null(find(s, n, getpid()));

        /* Killed and reaped while skipped: the rest call finds it gone (the cached fd answers
         * ESRCH), counts it and drops it. */
        kill(child, SIGKILL);
        waitpid(child, NULL, 0);
        burn_ms(20);
        assert_int_equal(procfs_tracker_sample_lazy(t, pids, 2, LAZY, &s, &n), 0);
        procfs_tracker_counts(t, &cnt);
        assert_int_equal(cnt.skipped, 1);
        assert_int_equal(cnt.gone, 0);
        assert_int_equal(procfs_tracker_sample_rest(t, &s, &n), 0);
        procfs_tracker_counts(t, &cnt);
        assert_int_equal(cnt.skipped, 0);
        assert_int_equal(cnt.gone, 1);
        assert_null(find(s, n, child));
        assert_non_null(find(s, n, getpid()));
        assert_int_equal(procfs_tracker_sample(t, pids, 2, &s, &n), 0);
        assert_int_equal(n, 1);
        procfs_tracker_free(t);
        close(go[0]);
        close(go[1]);
        close(done[0]);
        close(done[1]);
}

/* Cost of one sample of an idle process with a cached fd (the hot path), for the record. */
static void test_tracker_cost(void **state)
{
        ProcTracker *t;
        const ProcSample *s;
        size_t n;
        (void)state;
        assert_int_equal(procfs_tracker_new(NULL, 0, &t), 0);
        pid_t self = getpid();
        assert_int_equal(procfs_tracker_sample(t, &self, 1, &s, &n), 0);
        uint64_t a = now_monotonic_ns();
        for (int i = 0; i < 2000; i++)
                assert_int_equal(procfs_tracker_sample(t, &self, 1, &s, &n), 0);
        uint64_t b = now_monotonic_ns();
        print_message("tracker: %.2f us per process per sample (cached fd)\n",
                      (double)(b - a) / 2000 / 1000);
        procfs_tracker_free(t);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_stat_parse),
                cmocka_unit_test(test_schedstat_parse),
                cmocka_unit_test(test_cgroup_parse),
                cmocka_unit_test(test_cgroup_unit_path),
                cmocka_unit_test(test_mountinfo),
                cmocka_unit_test(test_pid_list),
                cmocka_unit_test(test_fixture),
                cmocka_unit_test_setup_teardown(test_tracker_fake, setup_tmp, teardown_tmp),
                cmocka_unit_test_setup_teardown(test_tracker_schedstat, setup_tmp, teardown_tmp),
                cmocka_unit_test_setup_teardown(test_tracker_schedstat_threads, setup_tmp,
                                                teardown_tmp),
                cmocka_unit_test_setup_teardown(test_tracker_schedstat_off, setup_tmp,
                                                teardown_tmp),
                cmocka_unit_test_setup_teardown(test_tracker_lazy, setup_tmp, teardown_tmp),
                cmocka_unit_test_setup_teardown(test_tracker_skip_kthreads, setup_tmp,
                                                teardown_tmp),
                cmocka_unit_test(test_tracker_real),
                cmocka_unit_test(test_tracker_cost),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
