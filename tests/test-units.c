/* Tests for collectors/units.c: PID -> unit from /proc/PID/cgroup texts (a table), from the fake
 * procfs in tests/fixtures/procfs (the --procfs-root path, never libsystemd), and through
 * libsystemd for real processes in real cgroups (root and a cgroup2 mount needed; exit code 77
 * when absent, after the other tests have run). */
#include <errno.h>
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
#include <unistd.h>

#include <cmocka.h>

#include "real-cgroup.h"

#include "collectors/procfs.h"
#include "collectors/units.h"
#include "common/util.h"

typedef struct Row {
        const char *text;
        int ret;
        const char *name, *display;
        CgroupUnitKind kind;
        int64_t uid;
} Row;

static void test_from_text(void **state)
{
        static const Row rows[] = {
                {"0::/system.slice/nginx.service\n", 0, "nginx.service", "nginx.service",
                 CGROUP_UNIT_SERVICE, -1},
                {"0::/system.slice/nginx.service/payload\n", 0, "nginx.service", "nginx.service",
                 CGROUP_UNIT_SERVICE, -1},
                /* hybrid: the 0:: line, as libsystemd reads it */
                {"12:cpu,cpuacct:/user.slice\n"
                 "1:name=systemd:/user.slice/user-1000.slice/user@1000.service/app.slice/"
                 "foo.service\n"
                 "0::/user.slice/user-1000.slice/user@1000.service/app.slice/foo.service\n",
                 0, "foo.service", "user@1000/foo.service", CGROUP_UNIT_SERVICE, 1000},
                /* legacy: the name=systemd line */
                {"4:cpu,cpuacct:/system.slice/cron.service\n1:name=systemd:/system.slice/"
                 "cron.service\n",
                 0, "cron.service", "cron.service", CGROUP_UNIT_SERVICE, -1},
                {"0::/user.slice/user-1000.slice/session-3.scope\n", 0, "session-3.scope",
                 "session-3.scope", CGROUP_UNIT_SCOPE, -1},
                {"0::/init.scope\n", 0, "init.scope", "init.scope", CGROUP_UNIT_SCOPE, -1},
                {"0::/system.slice/gone.service (deleted)\n", 0, "gone.service", "gone.service",
                 CGROUP_UNIT_SERVICE, -1},
                {"0::/system.slice/system-getty.slice/getty@tty1.service\n", 0,
                 "getty@tty1.service", "getty@tty1.service", CGROUP_UNIT_SERVICE, -1},
                {"0::/system.slice/systemd-fsck@dev-disk-by\\x2duuid-1a2b.service\n", 0,
                 "systemd-fsck@dev-disk-by\\x2duuid-1a2b.service",
                 "systemd-fsck@dev-disk-by\\x2duuid-1a2b.service", CGROUP_UNIT_SERVICE, -1},
                /* kernel threads and processes in no unit */
                {.text = "0::/\n", .ret = -ENXIO},
                {.text = "9:name=systemd:/\n2:cpuacct:/\n0::/\n", .ret = -ENXIO},
                {.text = "0::/user.slice/user-1000.slice\n", .ret = -ENXIO},
                {.text = "0::/docker/1f3e\n", .ret = -ENXIO},
                {.text = "4:memory:/process_api/b916ad2c\n", .ret = -ENXIO},
                {.text = "", .ret = -ENXIO},
                {.text = "bogus\n", .ret = -EINVAL},
        };
        (void)state;
        for (size_t i = 0; i < ELEMENTSOF(rows); i++) {
                CgroupUnitId id = {.name = "untouched"};
                int r = units_from_cgroup_text(rows[i].text, &id);
                if (r != rows[i].ret)
                        fail_msg("row %zu: got %d, want %d", i, r, rows[i].ret);
                if (r < 0) {
                        assert_string_equal(id.name, "untouched");
                        continue;
                }
                assert_string_equal(id.name, rows[i].name);
                assert_string_equal(id.display, rows[i].display);
                assert_int_equal(id.kind, rows[i].kind);
                assert_true(id.uid == rows[i].uid);
        }
}

/* With a procfs root other than /proc, libsystemd (which reads the real /proc) is never asked. */
static void test_fixture_procfs(void **state)
{
        static const struct {
                pid_t pid;
                int ret;
                const char *display;
        } rows[] = {
                {1, 0, "init.scope"},         {2, -ENXIO, NULL},
                {17, -ENXIO, NULL},           {812, 0, "nginx.service"},
                {813, 0, "nginx.service"},    {2204, 0, "user@1000/foo.service"},
                {2210, 0, "session-3.scope"}, {3001, 0, "cron.service"},
                {3002, 0, "gone.service"},    {3003, 0, "getty@tty1.service"},
                {3004, -ENXIO, NULL},         {3005, 0, "weird.service"},
                {99999, -ESRCH, NULL},
        };
        char dir[4096];
        const char *fx = getenv("JOULES_FIXTURES");
        (void)state;
        if (!fx)
                skip();
        snprintf(dir, sizeof(dir), "%s/procfs", fx);
        JoulesRoots roots = {.sysfs = "/sys", .procfs = dir};
        for (size_t i = 0; i < ELEMENTSOF(rows); i++) {
                CgroupUnitId id;
                UnitsSource src = UNITS_SOURCE_LIBSYSTEMD;
                int r = units_pid_get_unit(&roots, rows[i].pid, &id, &src);
                if (r != rows[i].ret)
                        fail_msg("pid %d: got %d, want %d", (int)rows[i].pid, r, rows[i].ret);
                if (r < 0)
                        continue;
                assert_string_equal(id.display, rows[i].display);
                assert_int_equal(src, UNITS_SOURCE_PROCFS);
        }
        CgroupUnitId id;
        assert_int_equal(units_pid_get_unit(&roots, 0, &id, NULL), -EINVAL);
        assert_int_equal(units_pid_get_unit(&roots, -5, &id, NULL), -EINVAL);
}

/* The real /proc: this process (in no unit on a host without systemd, or in some unit). */
static void test_self(void **state)
{
        CgroupUnitId id;
        char buf[4096];
        (void)state;
        int r = units_pid_get_unit(NULL, getpid(), &id, NULL);
        assert_true(read_text("/proc/self/cgroup", buf, sizeof(buf)) > 0);
        CgroupUnitId want;
        int rw = units_from_cgroup_text(buf, &want);
        assert_int_equal(r, rw);
        if (r >= 0)
                assert_string_equal(id.display, want.display);
        /* a PID that does not exist */
        assert_int_equal(units_pid_get_unit(NULL, 0x3ffffff, &id, NULL), -ESRCH);
}

/* ---- real cgroups, a system unit and a user unit ---- */

static struct {
        char v2[1024];
        char dirs[8][1400]; /* created, in order; removed in reverse */
        size_t n_dirs;
        pid_t child[2];
} real = {.child = {-1, -1}};

/* mkdir -p, remembering what it created. */
static void make_dirs(const char *rel)
{
        char path[1400];
        snprintf(path, sizeof(path), "%s", real.v2);
        for (const char *p = rel; *p;) {
                const char *e = strchrnul(p + 1, '/');
                size_t l = strlen(path);
                snprintf(path + l, sizeof(path) - l, "%.*s", (int)(e - p), p);
                if (mkdir(path, 0755) == 0) {
                        assert_true(real.n_dirs < ELEMENTSOF(real.dirs));
                        snprintf(real.dirs[real.n_dirs++], sizeof(real.dirs[0]), "%s", path);
                } else
                        assert_int_equal(errno, EEXIST);
                p = e;
        }
}

static pid_t spawn_into(const char *rel)
{
        char path[1500];
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                pause();
                _exit(0);
        }
        snprintf(path, sizeof(path), "%s%s", real.v2, rel);
        real_cgroup_join(path, pid);
        return pid;
}

static int real_teardown(void **state)
{
        (void)state;
        for (size_t i = 0; i < ELEMENTSOF(real.child); i++)
                if (real.child[i] > 0) {
                        kill(real.child[i], SIGKILL);
                        waitpid(real.child[i], NULL, 0);
                        real.child[i] = -1;
                }
        while (real.n_dirs > 0) {
                real_cgroup_remove(real.dirs[--real.n_dirs]);
        }
        return 0;
}

static void test_real_units(void **state)
{
        char sys[256], user_rel[512], sysname[128], username[160];
        CgroupUnitId id;
        UnitsSource src;
        (void)state;

        /* A slice of our own instead of user.slice, so nothing of anyone else's is touched:
         * systemd skips any slices before the user manager. */
        snprintf(sysname, sizeof(sysname), "t-joules-%d-u.service", (int)getpid());
        snprintf(sys, sizeof(sys), "/system.slice/%s", sysname);
        snprintf(username, sizeof(username), "t-joules-%d-x.service", (int)getpid());
        snprintf(user_rel, sizeof(user_rel), "/t-joules-%d.slice/user@4242.service/app.slice/%s",
                 (int)getpid(), username);
        make_dirs(sys);
        make_dirs(user_rel);
        real.child[0] = spawn_into(sys);
        real.child[1] = spawn_into(user_rel);

        assert_int_equal(units_pid_get_unit(NULL, real.child[0], &id, &src), 0);
        assert_int_equal(src, UNITS_SOURCE_LIBSYSTEMD);
        assert_string_equal(id.name, sysname);
        assert_string_equal(id.display, sysname);
        assert_true(id.uid == -1);

        assert_int_equal(units_pid_get_unit(NULL, real.child[1], &id, &src), 0);
        assert_int_equal(src, UNITS_SOURCE_LIBSYSTEMD);
        assert_string_equal(id.name, username);
        assert_true(id.uid == 4242);
        char want[256];
        snprintf(want, sizeof(want), "user@4242/%s", username);
        assert_string_equal(id.display, want);

        /* The same through the parser, by pointing the procfs root at a copy of /proc's path
         * ("/proc/" is not "/proc", so libsystemd is skipped). */
        JoulesRoots roots = {.procfs = "/proc/"};
        assert_int_equal(units_pid_get_unit(&roots, real.child[1], &id, &src), 0);
        assert_int_equal(src, UNITS_SOURCE_PROCFS);
        assert_string_equal(id.display, want);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_from_text),
                cmocka_unit_test(test_fixture_procfs),
                cmocka_unit_test(test_self),
        };
        const struct CMUnitTest real_tests[] = {
                cmocka_unit_test_teardown(test_real_units, real_teardown),
        };
        if (cmocka_run_group_tests_name("units", tests, NULL, NULL))
                return 1;
        const char *why;
        if (!real_cgroup_possible(real.v2, sizeof(real.v2), &why)) {
                printf("real cgroup test skipped: %s\n", why);
                return 77;
        }
        return cmocka_run_group_tests_name("units-real", real_tests, NULL, NULL) ? 1 : 0;
}
