/* Tests for the cgroup collector's pure parts, from tables: cpu.stat (a cgroup's and the
 * root's), unit names and the unit a cgroup path belongs to, the split of the root's own time
 * between kernel and unattributed, and when a unit's processes explain its CPU time. */

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
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
#include <systemd/sd-login.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "real-cgroup.h"

#include "collectors/cgroup.h"
#include "collectors/procfs.h"
#include "collectors/units.h"
#include "common/util.h"

/* ---- cpu.stat ---- */

static void test_cpu_stat_parse(void **state)
{
        static const struct {
                const char *text;
                int ret;
                uint64_t usage, user, sys;
        } rows[] = {
                /* a v2 cgroup with the cpu controller */
                {"usage_usec 34896369\nuser_usec 16417730\nsystem_usec 18478638\n"
                 "core_sched.force_idle_usec 0\nnr_periods 0\nnr_throttled 0\n"
                 "throttled_usec 0\nnr_bursts 0\nburst_usec 0\n",
                 0, 34896369, 16417730, 18478638},
                /* without it (this machine's hybrid tree), and the root's */
                {"usage_usec 0\nuser_usec 0\nsystem_usec 0\nnice_usec 0\n", 0, 0, 0, 0},
                {"usage_usec 18446744073709551615\n", 0, UINT64_MAX, 0, 0},
                {"user_usec 1\nusage_usec 2\n", 0, 2, 1, 0},
                {"usage_usec 5", 0, 5, 0, 0},
                {"usage_usec 5\nusage_usec 6\n", 0, 5, 0, 0},
                {"nr_periods 3\n", -ENODATA, 0, 0, 0},
                {"", -ENODATA, 0, 0, 0},
                {"usage_usec x\n", -EINVAL, 0, 0, 0},
                {"usage_usec -1\n", -EINVAL, 0, 0, 0},
                {"usage_usec 1 2\n", -EINVAL, 0, 0, 0},
                {"usage_usec\n", -EINVAL, 0, 0, 0},
                {"usage_usec 18446744073709551616\n", -EINVAL, 0, 0, 0},
        };
        (void)state;
        for (size_t i = 0; i < ELEMENTSOF(rows); i++) {
                uint64_t u = 7, us = 7, sy = 7;
                int r = cgroup_cpu_stat_parse(rows[i].text, &u, &us, &sy);
                if (r != rows[i].ret)
                        fail_msg("row %zu: got %d, want %d", i, r, rows[i].ret);
                if (r < 0) {
                        assert_true(u == 7);
                        continue;
                }
                assert_true(u == rows[i].usage);
                assert_true(us == rows[i].user);
                assert_true(sy == rows[i].sys);
                assert_int_equal(cgroup_cpu_stat_parse(rows[i].text, &u, NULL, NULL), 0);
        }

        /* Only usage_usec wanted: what follows it is left unparsed, what precedes it is not. */
        uint64_t u = 7;
        assert_int_equal(cgroup_cpu_stat_parse("usage_usec 3\nuser_usec x\n", &u, NULL, NULL), 0);
        assert_true(u == 3);
        assert_int_equal(cgroup_cpu_stat_parse("usage_usec 3\nuser_usec x\n", &u, &u, NULL),
                         -EINVAL);
        assert_int_equal(cgroup_cpu_stat_parse("user_usec x\nusage_usec 3\n", &u, NULL, NULL),
                         -EINVAL);
}

/* The root's CPU time is user_usec + system_usec: its usage_usec held stolen time from Linux 5.8
 * until 6.14 (and its stable backports), and at first guest time again. */
static void test_root_cpu_stat_parse(void **state)
{
        (void)state;
        static const struct {
                const char *text;
                int ret;
                uint64_t usec;
        } rows[] = {
                /* 6.14 and later: usage_usec is user + system */
                {"usage_usec 72500676000\nuser_usec 41891808000\nsystem_usec 30608868000\n"
                 "nice_usec 1782752000\n",
                 0, 72500676000},
                /* a 6.1 VM before the fix: 5,000 s stolen in usage_usec, not in the others */
                {"usage_usec 9000000000\nuser_usec 2500000000\nsystem_usec 1500000000\n"
                 "nice_usec 0\n",
                 0, 4000000000},
                /* either key missing (no such kernel): usage_usec, as for any cgroup */
                {"usage_usec 900\nuser_usec 500\n", 0, 900},
                {"usage_usec 900\nsystem_usec 500\n", 0, 900},
                {"user_usec 1\nsystem_usec 2\n", -ENODATA, 0},
                {"usage_usec 9\nuser_usec x\nsystem_usec 2\n", -EINVAL, 0},
                {"usage_usec 1\nuser_usec 18446744073709551615\nsystem_usec 1\n", -ERANGE, 0},
                {"usage_usec 1\nuser_usec 18446744073709551614\nsystem_usec 1\n", 0, UINT64_MAX},
        };
        for (size_t i = 0; i < ELEMENTSOF(rows); i++) {
                uint64_t usec = 7;
                int r = cgroup_root_cpu_stat_parse(rows[i].text, &usec);
                if (r != rows[i].ret || (r == 0 && usec != rows[i].usec))
                        fail_msg("row %zu: got %d, %" PRIu64 "; want %d, %" PRIu64, i, r, usec,
                                 rows[i].ret, rows[i].usec);
                if (r < 0)
                        assert_true(usec == 7);
        }
}

/* ---- names ---- */

static void test_name_classify(void **state)
{
        static const struct {
                const char *name;
                int ret;
                const char *unit;
                CgroupUnitKind kind;
        } rows[] = {
                {"nginx.service", 0, "nginx.service", CGROUP_UNIT_SERVICE},
                {"getty@tty1.service", 0, "getty@tty1.service", CGROUP_UNIT_SERVICE},
                {"session-3.scope", 0, "session-3.scope", CGROUP_UNIT_SCOPE},
                {"init.scope", 0, "init.scope", CGROUP_UNIT_SCOPE},
                {"system.slice", 0, "system.slice", CGROUP_UNIT_SLICE},
                {"system-getty.slice", 0, "system-getty.slice", CGROUP_UNIT_SLICE},
                {"-.slice", 0, "-.slice", CGROUP_UNIT_SLICE},
                {"dev-disk-by\\x2duuid-1a2b.swap", 0, "dev-disk-by\\x2duuid-1a2b.swap",
                 CGROUP_UNIT_OTHER},
                {"home.mount", 0, "home.mount", CGROUP_UNIT_OTHER},
                {"sshd.socket", 0, "sshd.socket", CGROUP_UNIT_OTHER},
                {"user@1000.service", 0, "user@1000.service", CGROUP_UNIT_SERVICE},
                {"systemd-fsck@dev-disk-by\\x2dlabel-root.service", 0,
                 "systemd-fsck@dev-disk-by\\x2dlabel-root.service", CGROUP_UNIT_SERVICE},
                /* cg_escape()d names */
                {"_cpu.weird.service", 0, "cpu.weird.service", CGROUP_UNIT_SERVICE},
                {"__under.service", 0, "_under.service", CGROUP_UNIT_SERVICE},
                {"a:b.service", 0, "a:b.service", CGROUP_UNIT_SERVICE},
                /* not units */
                {.name = "payload", .ret = -ENXIO},
                {.name = "supervisor", .ret = -ENXIO},
                {.name = "docker", .ret = -ENXIO},
                {.name = "cgroup.procs", .ret = -ENXIO},
                {.name = "foo@.service", .ret = -ENXIO}, /* a template */
                {.name = "@foo.service", .ret = -ENXIO}, /* empty prefix */
                {.name = "a@b.slice", .ret = -ENXIO},    /* slices are never instances */
                {.name = ".service", .ret = -ENXIO},
                {.name = "foo.bar", .ret = -ENXIO},
                {.name = "foo service.service", .ret = -ENXIO},
                {.name = "lxc.payload.c1", .ret = -ENXIO},
                {.name = "", .ret = -ENXIO},
        };
        (void)state;
        for (size_t i = 0; i < ELEMENTSOF(rows); i++) {
                char unit[CGROUP_UNIT_NAME_MAX] = "untouched";
                CgroupUnitKind k = _CGROUP_UNIT_KIND_MAX;
                int r = cgroup_name_classify(rows[i].name, strlen(rows[i].name), unit, sizeof(unit),
                                             &k);
                if (r != rows[i].ret)
                        fail_msg("row %zu (%s): got %d", i, rows[i].name, r);
                if (r < 0) {
                        assert_string_equal(unit, "untouched");
                        continue;
                }
                assert_string_equal(unit, rows[i].unit);
                assert_int_equal(k, rows[i].kind);
        }
        /* 255 characters is the longest unit name */
        char long_name[300];
        memset(long_name, 'a', sizeof(long_name));
        memcpy(long_name + 255 - 8, ".service", 9);
        char unit[CGROUP_UNIT_NAME_MAX];
        assert_int_equal(cgroup_name_classify(long_name, 255, unit, sizeof(unit), NULL), 0);
        memcpy(long_name + 256 - 8, ".service", 9);
        assert_int_equal(cgroup_name_classify(long_name, 256, unit, sizeof(unit), NULL), -ENXIO);
}

static void test_path_to_unit(void **state)
{
        static const struct {
                const char *path;
                int ret;
                const char *name, *display;
                CgroupUnitKind kind;
                int64_t uid;
                size_t prefix;
        } rows[] = {
                {"/system.slice/nginx.service", 0, "nginx.service", "nginx.service",
                 CGROUP_UNIT_SERVICE, -1, 27},
                {"/system.slice/nginx.service/payload", 0, "nginx.service", "nginx.service",
                 CGROUP_UNIT_SERVICE, -1, 27},
                {"/system.slice/nginx.service/supervisor/", 0, "nginx.service", "nginx.service",
                 CGROUP_UNIT_SERVICE, -1, 27},
                {"/system.slice/system-getty.slice/getty@tty1.service", 0, "getty@tty1.service",
                 "getty@tty1.service", CGROUP_UNIT_SERVICE, -1, 51},
                {"/user.slice/user-1000.slice/user@1000.service/app.slice/foo.service", 0,
                 "foo.service", "user@1000/foo.service", CGROUP_UNIT_SERVICE, 1000, 67},
                {"/user.slice/user-1000.slice/user@1000.service/app.slice/foo.service/sub", 0,
                 "foo.service", "user@1000/foo.service", CGROUP_UNIT_SERVICE, 1000, 67},
                {"/user.slice/user-1000.slice/user@1000.service/init.scope", 0, "init.scope",
                 "user@1000/init.scope", CGROUP_UNIT_SCOPE, 1000, 56},
                {"/user.slice/user-1000.slice/user@1000.service/app.slice/"
                 "app-gnome-firefox-42.scope",
                 0, "app-gnome-firefox-42.scope", "user@1000/app-gnome-firefox-42.scope",
                 CGROUP_UNIT_SCOPE, 1000, 82},
                /* the manager itself, or a user slice: the system unit user@1000.service */
                {"/user.slice/user-1000.slice/user@1000.service", 0, "user@1000.service",
                 "user@1000.service", CGROUP_UNIT_SERVICE, -1, 45},
                {"/user.slice/user-1000.slice/user@1000.service/app.slice", 0, "user@1000.service",
                 "user@1000.service", CGROUP_UNIT_SERVICE, -1, 45},
                {"/user.slice/user-0.slice/user@0.service/x.service", 0, "x.service",
                 "user@0/x.service", CGROUP_UNIT_SERVICE, 0, 49},
                /* session scopes are system units (the user's, but not the user manager's) */
                {"/user.slice/user-1000.slice/session-3.scope", 0, "session-3.scope",
                 "session-3.scope", CGROUP_UNIT_SCOPE, -1, 43},
                {"/init.scope", 0, "init.scope", "init.scope", CGROUP_UNIT_SCOPE, -1, 11},
                {"/system.slice/dev-disk-by\\x2duuid-1a2b.swap", 0,
                 "dev-disk-by\\x2duuid-1a2b.swap", "dev-disk-by\\x2duuid-1a2b.swap",
                 CGROUP_UNIT_OTHER, -1, 43},
                {"/system.slice/_cpu.weird.service", 0, "cpu.weird.service", "cpu.weird.service",
                 CGROUP_UNIT_SERVICE, -1, 32},
                {"/machine.slice/libpod-1f3e.scope/container", 0, "libpod-1f3e.scope",
                 "libpod-1f3e.scope", CGROUP_UNIT_SCOPE, -1, 32},
                /* not a uid: an ordinary instance */
                {"/system.slice/user@abc.service/x.service", 0, "user@abc.service",
                 "user@abc.service", CGROUP_UNIT_SERVICE, -1, 30},
                /* no unit */
                {.path = "/", .ret = -ENXIO},
                {.path = "//", .ret = -ENXIO},
                {.path = "/system.slice", .ret = -ENXIO},
                {.path = "/user.slice/user-1000.slice", .ret = -ENXIO},
                {.path = "/docker/1f3e", .ret = -ENXIO},
                {.path = "/system.slice/docker/1f3e", .ret = -ENXIO},
                {.path = "/process_api/b916ad2cbf72119ee3fe136225bda41b", .ret = -ENXIO},
                {.path = "/system.slice/a@b.slice/x.service", .ret = -ENXIO},
                {.path = "system.slice/nginx.service", .ret = -EINVAL},
                {.path = "", .ret = -EINVAL},
        };
        (void)state;
        for (size_t i = 0; i < ELEMENTSOF(rows); i++) {
                CgroupUnitId id;
                size_t prefix = 999;
                memset(&id, 0x5a, sizeof(id));
                int r = cgroup_path_to_unit(rows[i].path, &id, &prefix);
                if (r != rows[i].ret)
                        fail_msg("row %zu (%s): got %d, want %d", i, rows[i].path, r, rows[i].ret);
                if (r < 0) {
                        assert_int_equal(prefix, 999);
                        continue;
                }
                assert_string_equal(id.name, rows[i].name);
                assert_string_equal(id.display, rows[i].display);
                assert_int_equal(id.kind, rows[i].kind);
                assert_true(id.uid == rows[i].uid);
                if (prefix != rows[i].prefix)
                        fail_msg("row %zu (%s): prefix %zu, want %zu", i, rows[i].path, prefix,
                                 rows[i].prefix);
        }
}

static void test_split_outside(void **state)
{
        static const struct {
                uint64_t outside, user, residual, kernel, unattributed;
        } rows[] = {
                {0, 0, 0, 0, 0},
                {100, 0, 0, 100, 0},   /* a systemd host: only kernel threads in the root */
                {100, 30, 0, 70, 30},  /* user processes in the root */
                {100, 130, 0, 0, 100}, /* read at other instants: never more than outside */
                {100, 30, 7, 70, 37},  /* residuals with no unit are unattributed */
                {0, 50, 5, 0, 5},
                {UINT64_MAX / 2, UINT64_MAX / 4, 1, UINT64_MAX / 2 - UINT64_MAX / 4,
                 UINT64_MAX / 4 + 1},
        };
        (void)state;
        for (size_t i = 0; i < ELEMENTSOF(rows); i++) {
                uint64_t k, u;
                cgroup_split_outside(rows[i].outside, rows[i].user, rows[i].residual, &k, &u);
                assert_true(k == rows[i].kernel);
                assert_true(u == rows[i].unattributed);
                assert_true(k + u == rows[i].outside + rows[i].residual);
        }
}

/* cgroup_explained from tables: each row is a sequence of intervals of one unit. */
static void test_explained(void **state)
{
        static const struct {
                const char *what;
                size_t n;
                struct {
                        uint64_t self_us, seen_us;
                        size_t coarse;
                        bool explained;
                        int64_t debt_us;
                } iv[6];
        } rows[] = {
                {"all explained",
                 3,
                 {{10000, 10000, 0, true, 0}, {0, 0, 0, true, 0}, {5000, 5000, 0, true, 0}}},
                /* a skipped process ran 1 ms per interval: the debt grows past 2 ms + 5% of 10 ms
                 */
                {"unread time adds up",
                 3,
                 {{10000, 9000, 0, true, 1000},
                  {10000, 9000, 0, true, 2000},
                  {10000, 9000, 0, false, 3000}}},
                /* read skew: +0.8, -0.8, +0.8 ... cancels, never triggers */
                {"skew cancels",
                 4,
                 {{10000, 9200, 0, true, 800},
                  {10000, 10800, 0, true, 0},
                  {10000, 9200, 0, true, 800},
                  {10000, 10800, 0, true, 0}}},
                /* the floor: a long run of negative skew cannot bank more than the tolerance */
                {"negative debt floored",
                 3,
                 {{0, 50000, 0, true, -2000},
                  {0, 50000, 0, true, -2000},
                  {6000, 0, 0, false, 4000}}},
                /* a stat-read process is up to two clock ticks short: 20 ms more slack each */
                {"coarse readings", 2, {{20000, 0, 1, true, 20000}, {4000, 0, 1, false, 24000}}},
                {"relative slack", 1, {{1000000, 948000, 0, true, 52000}}},
                {"relative slack exceeded", 1, {{1000000, 947000, 0, false, 53000}}},
                {"huge figures clamp",
                 2,
                 {{UINT64_MAX / 1000, 0, 0, false, (INT64_C(1) << 61) / 1000},
                  {0, UINT64_MAX / 1000, 0, true, 0}}},
        };
        (void)state;
        for (size_t r = 0; r < ELEMENTSOF(rows); r++) {
                int64_t debt = 0;
                for (size_t i = 0; i < rows[r].n; i++) {
                        bool e = cgroup_explained(&debt, rows[r].iv[i].self_us * 1000,
                                                  rows[r].iv[i].seen_us * 1000,
                                                  rows[r].iv[i].coarse);
                        if (e != rows[r].iv[i].explained || debt / 1000 != rows[r].iv[i].debt_us)
                                fail_msg("%s, interval %zu: explained %d debt %" PRId64
                                         " ns, want %d and %" PRId64 " us",
                                         rows[r].what, i, e, debt, rows[r].iv[i].explained,
                                         rows[r].iv[i].debt_us);
                }
        }
}

/* cgroup_refresh_due from a table: a read every `every` intervals while the debt says the unread
 * part used something (or skew hides whether it did), every CGROUP_QUIET_REFRESH while it is
 * within CGROUP_QUIET_DEBT_NS of nothing. */
static void test_refresh_due(void **state)
{
        static const unsigned F = CGROUP_FULL_REFRESH, P = CGROUP_PROCS_REFRESH;
        static const struct {
                unsigned age, every;
                int64_t debt_ns;
                bool due;
        } rows[] = {
                {0, F, 0, false},
                {F - 2, F, 5000000, false},
                {F - 1, F, 5000000, true},
                {F - 1, F, CGROUP_QUIET_DEBT_NS + 1, true},
                {F - 1, F, -CGROUP_QUIET_DEBT_NS - 1, true},
                {F - 1, F, CGROUP_QUIET_DEBT_NS, false},
                {F - 1, F, -CGROUP_QUIET_DEBT_NS, false},
                {F - 1, F, 0, false},
                {P - 2, P, 5000000, false},
                {P - 1, P, 5000000, true},
                {P - 1, P, 0, false},
                {CGROUP_QUIET_REFRESH - 2, F, 0, false},
                {CGROUP_QUIET_REFRESH - 1, F, 0, true},
                {CGROUP_QUIET_REFRESH - 1, P, 0, true},
                {CGROUP_QUIET_REFRESH + 5, F, -1, true},
                {UINT_MAX, F, 0, true},
                {UINT_MAX, UINT_MAX, 0, true},
        };
        (void)state;
        for (size_t r = 0; r < ELEMENTSOF(rows); r++)
                if (cgroup_refresh_due(rows[r].age, rows[r].every, rows[r].debt_ns) != rows[r].due)
                        fail_msg("age %u of %u, debt %" PRId64 " ns: due %d, want %d", rows[r].age,
                                 rows[r].every, rows[r].debt_ns, !rows[r].due, rows[r].due);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_cpu_stat_parse), cmocka_unit_test(test_root_cpu_stat_parse),
                cmocka_unit_test(test_name_classify),  cmocka_unit_test(test_path_to_unit),
                cmocka_unit_test(test_split_outside),  cmocka_unit_test(test_explained),
                cmocka_unit_test(test_refresh_due),
        };
        return cmocka_run_group_tests_name("cgroup-tables", tests, NULL, NULL) ? 1 : 0;
}
