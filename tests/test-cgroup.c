/* Tests for collectors/cgroup.c: parsers and the unit mapping from tables, the live set against a
 * fake cgroup tree (built in a temporary directory and changed between samples, with figures
 * worked out by hand), and against a real cgroup on this machine (root and a cgroup2 mount
 * needed; exit code 77 when absent, after the other tests have run). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
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

/* ---- a fake tree ---- */

static char tmp[4096];

static void put(const char *rel, const char *text)
{
        char path[8192];
        snprintf(path, sizeof(path), "%s/%s", tmp, rel);
        /* in place, so cached fds see the new text, as on cgroupfs */
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0)
                fail_msg("open %s: %m", path);
        assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
        close(fd);
}

static void mkdirs(const char *rel)
{
        char cmd[8400];
        snprintf(cmd, sizeof(cmd), "mkdir -p '%s/%s'", tmp, rel);
        assert_int_equal(system(cmd), 0);
}

static void rmtree(const char *rel)
{
        char cmd[8400];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s/%s'", tmp, rel);
        assert_int_equal(system(cmd), 0);
}

/* A cgroup in the fake tree: cpu.stat with usage_usec, and cgroup.procs. */
static void cg(const char *path, uint64_t usage_usec, const char *procs)
{
        char rel[4096], text[256];
        snprintf(rel, sizeof(rel), "cg%s", path);
        mkdirs(rel);
        snprintf(rel, sizeof(rel), "cg%s/cpu.stat", path);
        snprintf(text, sizeof(text),
                 "usage_usec %" PRIu64 "\nuser_usec %" PRIu64 "\nsystem_usec %" PRIu64
                 "\nnice_usec 0\n",
                 usage_usec, usage_usec / 2, usage_usec - usage_usec / 2);
        put(rel, text);
        snprintf(rel, sizeof(rel), "cg%s/cgroup.procs", path);
        put(rel, procs ? procs : "");
}

static void descendants(unsigned n)
{
        char text[128];
        snprintf(text, sizeof(text), "nr_descendants %u\nnr_dying_descendants 0\n", n);
        put("cg/cgroup.stat", text);
}

static void proc(pid_t pid, const char *comm, unsigned flags, uint64_t ticks)
{
        char rel[64], text[512];
        snprintf(rel, sizeof(rel), "proc/%d", (int)pid);
        mkdirs(rel);
        snprintf(rel, sizeof(rel), "proc/%d/stat", (int)pid);
        snprintf(text, sizeof(text),
                 "%d (%s) S 1 %d %d 0 -1 %u 0 0 0 0 %" PRIu64 " 0 0 0 20 0 1 0 100 0 0\n", (int)pid,
                 comm, (int)pid, (int)pid, flags, ticks);
        put(rel, text);
}

#define MS(x) ((uint64_t)(x)*1000) /* in usec, for cpu.stat */
#define NS(x) ((uint64_t)(x)*1000000)

#define U1000 "/user.slice/user-1000.slice/user@1000.service"

/* The tree at the first sample; comments give each cgroup's growth to the second. */
static void build_tree(void)
{
        cg("", MS(1000), "2\n17\n3004\n"); /* +500: kernel threads and a shell in the root */
        put("cg/cgroup.controllers", "cpu memory pids\n");
        cg("/init.scope", MS(1), "1\n");                            /* +1 */
        cg("/system.slice", MS(200), NULL);                         /* +200 */
        cg("/system.slice/nginx.service", MS(100), "812\n");        /* +120, payload included */
        cg("/system.slice/nginx.service/payload", MS(90), "813\n"); /* +110 */
        cg("/system.slice/system-getty.slice", MS(5), NULL);        /* +0 */
        cg("/system.slice/system-getty.slice/getty@tty1.service", MS(5), NULL); /* +0 */
        cg("/system.slice/dev-disk-by\\x2duuid-1a2b.swap", MS(0), NULL);        /* +0 */
        cg("/system.slice/_cpu.weird.service", MS(0), NULL);                    /* +10 */
        cg("/system.slice/gone.service", MS(50), NULL);                         /* +50 */
        cg("/user.slice", MS(100), NULL);                                       /* +150 */
        cg("/user.slice/user-1000.slice", MS(100), NULL);                       /* +150 */
        cg("/user.slice/user-1000.slice/session-3.scope", MS(20), "2210\n");    /* +30 */
        cg(U1000, MS(80), NULL);                                                /* +120 */
        cg(U1000 "/init.scope", MS(10), "2000\n");                              /* +5 */
        cg(U1000 "/app.slice", MS(70), NULL);                                   /* +110 */
        cg(U1000 "/app.slice/foo.service", MS(60), "2204\n");                   /* +100 */
        cg(U1000 "/app.slice/bar.service", MS(10), NULL);                       /* +5 */
        cg("/docker", MS(0), NULL);                                             /* +40, no unit */
        cg("/docker/1f3e", MS(0), "5000\n");                                    /* +40 */
        descendants(19);

        proc(1, "systemd", 0x400100, 10);
        proc(2, "kthreadd", 0x208040, 0);
        proc(17, "kworker/0:1-events", 0x4208060, 250);
        proc(3004, "bash", 0x400000, 50);
        proc(812, "nginx", 0x400140, 225);
        proc(813, "nginx", 0x400140, 1500);
        proc(2204, "foo", 0x400000, 50);
        proc(2210, "bash", 0x400000, 5);
}

static void grow_tree(void)
{
        cg("", MS(1500), "2\n17\n3004\n");
        cg("/init.scope", MS(2), "1\n");
        cg("/system.slice", MS(400), NULL);
        cg("/system.slice/nginx.service", MS(220), "812\n");
        cg("/system.slice/nginx.service/payload", MS(200), "813\n");
        cg("/system.slice/_cpu.weird.service", MS(10), NULL);
        cg("/system.slice/gone.service", MS(100), NULL);
        cg("/user.slice", MS(250), NULL);
        cg("/user.slice/user-1000.slice", MS(250), NULL);
        cg("/user.slice/user-1000.slice/session-3.scope", MS(50), "2210\n");
        cg(U1000, MS(200), NULL);
        cg(U1000 "/init.scope", MS(15), "2000\n");
        cg(U1000 "/app.slice", MS(180), NULL);
        cg(U1000 "/app.slice/foo.service", MS(160), "2204\n");
        cg(U1000 "/app.slice/bar.service", MS(15), NULL);
        cg("/docker", MS(40), NULL);
        cg("/docker/1f3e", MS(40), "5000\n");

        proc(3004, "bash", 0x400000, 55); /* +50 ms in the root */
        proc(17, "kworker/0:1-events", 0x4208060, 9999);
        proc(812, "nginx", 0x400140, 226);  /* +10 ms */
        proc(813, "nginx", 0x400140, 1511); /* +110 ms */
}

static int setup_tree(void **state)
{
        (void)state;
        const char *base = getenv("JOULES_TEST_TMP");
        if (base)
                (void)mkdir(base, 0755);
        snprintf(tmp, sizeof(tmp), "%s/cgroup-XXXXXX", base ? base : "/tmp");
        return mkdtemp(tmp) ? 0 : -1;
}

static int teardown_tree(void **state)
{
        char cmd[8300];
        (void)state;
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp);
        return system(cmd) == 0 ? 0 : -1;
}

static const CgroupUnit *unit_by_display(const CgroupUnit *u, size_t n, const char *display,
                                         size_t *ret_i)
{
        for (size_t i = 0; i < n; i++)
                if (strcmp(u[i].unit.display, display) == 0) {
                        if (ret_i)
                                *ret_i = i;
                        return &u[i];
                }
        return NULL;
}

static CgroupSet *open_fake_lazy(unsigned rescan_every, bool lazy)
{
        char cgroot[8192], procroot[8192];
        snprintf(cgroot, sizeof(cgroot), "%s/cg", tmp);
        snprintf(procroot, sizeof(procroot), "%s/proc", tmp);
        JoulesRoots roots = {.sysfs = "/sys", .procfs = procroot, .cgroupfs = cgroot};
        CgroupOptions o;
        cgroup_options_default(&o);
        o.rescan_every = rescan_every;
        o.lazy = lazy;
        CgroupSet *s;
        assert_int_equal(cgroup_set_open(&roots, &o, &s), 0);
        assert_int_equal(cgroup_set_mode(s), CGROUP_MODE_V2);
        return s;
}

static CgroupSet *open_fake(unsigned rescan_every)
{
        return open_fake_lazy(rescan_every, true);
}

static void test_fake_tree(void **state)
{
        (void)state;
        build_tree();
        CgroupSet *s = open_fake(0);
        const CgroupUnit *u;
        size_t n, i;
        CgroupHost h;
        CgroupPseudo p;

        assert_int_equal(cgroup_set_scans(s), 1);
        assert_int_equal(cgroup_set_sample(s), 0);
        u = cgroup_set_units(s, &n);

        /* Tree order; slices, the root and non-unit cgroups are not units. */
        static const char *const expected[] = {
                "init.scope",
                "cpu.weird.service",
                "dev-disk-by\\x2duuid-1a2b.swap",
                "gone.service",
                "nginx.service",
                "getty@tty1.service",
                "session-3.scope",
                "user@1000.service",
                "user@1000/bar.service",
                "user@1000/foo.service",
                "user@1000/init.scope",
        };
        assert_int_equal(n, ELEMENTSOF(expected));
        for (i = 0; i < n; i++) {
                assert_string_equal(u[i].unit.display, expected[i]);
                assert_true(u[i].fresh);
                assert_true(u[i].delta_ns == 0 && u[i].self_ns == 0);
                /* the walk and cgroup_path_to_unit agree on every unit */
                CgroupUnitId id;
                size_t prefix;
                assert_int_equal(cgroup_path_to_unit(u[i].path, &id, &prefix), 0);
                assert_string_equal(id.display, u[i].unit.display);
                assert_string_equal(id.name, u[i].unit.name);
                assert_int_equal(id.kind, u[i].unit.kind);
                assert_true(id.uid == u[i].unit.uid);
                assert_int_equal(prefix, strlen(u[i].path));
                assert_true(u[i].cgroup_id != 0);
        }
        assert_string_equal(unit_by_display(u, n, "nginx.service", NULL)->path,
                            "/system.slice/nginx.service");
        assert_true(unit_by_display(u, n, "nginx.service", NULL)->usage_ns == NS(100));
        assert_true(unit_by_display(u, n, "user@1000/foo.service", NULL)->unit.uid == 1000);
        assert_string_equal(unit_by_display(u, n, "user@1000/foo.service", NULL)->unit.name,
                            "foo.service");
        assert_int_equal(unit_by_display(u, n, "dev-disk-by\\x2duuid-1a2b.swap", NULL)->unit.kind,
                         CGROUP_UNIT_OTHER);

        cgroup_set_host(s, &h);
        assert_true(h.valid);
        assert_true(h.usage_ns == NS(1000));
        assert_true(h.delta_ns == 0);
        assert_int_equal(cgroup_set_sample_pseudo(s, &p), 0);
        assert_true(p.kernel_ns == 0 && p.unattributed_ns == 0);

        /* Second interval. */
        grow_tree();
        assert_int_equal(cgroup_set_sample(s), 0);
        assert_int_equal(cgroup_set_scans(s), 1); /* nothing created or removed */
        u = cgroup_set_units(s, &n);
        static const struct {
                const char *display;
                uint64_t delta_ms, self_ms;
        } want[] = {
                {"init.scope", 1, 1},
                {"cpu.weird.service", 10, 10},
                {"dev-disk-by\\x2duuid-1a2b.swap", 0, 0},
                {"gone.service", 50, 50},
                {"nginx.service", 120, 120}, /* payload/ is inside, counted once */
                {"getty@tty1.service", 0, 0},
                {"session-3.scope", 30, 30},
                /* 120 - (5 + 110) of its own, + app.slice's residual 110 - (100 + 5) */
                {"user@1000.service", 120, 10},
                {"user@1000/bar.service", 5, 5},
                {"user@1000/foo.service", 100, 100},
                {"user@1000/init.scope", 5, 5},
        };
        uint64_t sum_self = 0;
        for (i = 0; i < ELEMENTSOF(want); i++) {
                const CgroupUnit *x = unit_by_display(u, n, want[i].display, NULL);
                assert_non_null(x);
                assert_false(x->fresh);
                if (x->delta_ns != NS(want[i].delta_ms) || x->self_ns != NS(want[i].self_ms))
                        fail_msg("%s: delta %" PRIu64 " self %" PRIu64 ", want %" PRIu64
                                 " ms and %" PRIu64 " ms",
                                 want[i].display, x->delta_ns, x->self_ns, want[i].delta_ms,
                                 want[i].self_ms);
                sum_self += x->self_ns;
        }
        cgroup_set_host(s, &h);
        assert_true(h.delta_ns == NS(500));
        /* 500 - (init 1 + system 200 + user 150 + docker 40) */
        assert_true(h.outside_ns == NS(109));
        /* system.slice: 200 - (10 + 0 + 50 + 120 + 0) = 20; /docker: 40 */
        assert_true(h.residual_ns == NS(60));

        assert_int_equal(cgroup_set_sample_pseudo(s, &p), 0);
        assert_true(p.root_user_ns == NS(50)); /* bash; the kworker's 9999 ticks are skipped */
        assert_true(p.kernel_ns == NS(59));
        assert_true(p.unattributed_ns == NS(110));
        /* every nanosecond exactly once */
        assert_true(sum_self + p.kernel_ns + p.unattributed_ns == h.delta_ns);
        size_t nr;
        const ProcSample *rp = cgroup_set_root_processes(s, &nr);
        assert_int_equal(nr, 1);
        assert_int_equal(rp[0].pid, 3004);

        /* Processes of a unit: its own cgroup.procs and its sub-cgroups'. Their baseline was
         * taken when the unit was discovered, so this first call already has deltas. */
        const ProcSample *ps;
        size_t np;
        assert_non_null(unit_by_display(u, n, "nginx.service", &i));
        assert_int_equal(cgroup_set_unit_processes(s, i, &ps, &np), 0);
        assert_int_equal(np, 2);
        assert_int_equal(ps[0].pid, 812);
        assert_false(ps[0].fresh);
        assert_true(ps[0].delta_ns == NS(10));
        assert_int_equal(ps[1].pid, 813);
        assert_true(ps[1].delta_ns == NS(110));
        pid_t *pids;
        assert_int_equal(cgroup_set_unit_pids(s, i, &pids, &np), 0);
        assert_int_equal(np, 2);
        free(pids);
        assert_int_equal(cgroup_set_unit_processes(s, n, &ps, &np), -EINVAL);

        /* A unit goes, another comes: the count in cgroup.stat changes, the tree is walked. */
        rmtree("cg/system.slice/gone.service");
        cg("/system.slice/new.service", MS(7), NULL);
        cg("/system.slice/nginx.service", MS(230), "812\n");
        descendants(19);
        /* same count: not noticed (a fake tree cannot fail reads as cgroupfs does) */
        assert_int_equal(cgroup_set_sample(s), 0);
        assert_int_equal(cgroup_set_scans(s), 1);
        cg("/system.slice/new2.service", MS(0), NULL);
        descendants(20);
        cg("/system.slice/nginx.service", MS(240), "812\n");
        assert_int_equal(cgroup_set_sample(s), 0);
        assert_int_equal(cgroup_set_scans(s), 2);
        u = cgroup_set_units(s, &n);
        assert_null(unit_by_display(u, n, "gone.service", NULL));
        assert_true(unit_by_display(u, n, "new.service", NULL)->fresh);
        assert_true(unit_by_display(u, n, "new2.service", NULL)->fresh);
        /* known units keep their baseline across the walk */
        assert_false(unit_by_display(u, n, "nginx.service", NULL)->fresh);
        assert_true(unit_by_display(u, n, "nginx.service", NULL)->delta_ns == NS(10));

        /* A restarted unit (a new directory, same path) starts a new baseline. */
        rmtree("cg/system.slice/new.service");
        descendants(19);
        assert_int_equal(cgroup_set_sample(s), 0);
        cg("/system.slice/new.service", MS(3), NULL);
        descendants(20);
        assert_int_equal(cgroup_set_sample(s), 0);
        u = cgroup_set_units(s, &n);
        assert_true(unit_by_display(u, n, "new.service", NULL)->fresh);
        assert_true(unit_by_display(u, n, "new.service", NULL)->usage_ns == NS(3));

        assert_null(cgroup_set_free(s));
        assert_null(cgroup_set_free(NULL));
}

/* Read skew: a child read after its parent may show more growth than the parent; the parent's
 * self is 0 for now and the difference is repaid in the next interval. */
static void test_fake_carry(void **state)
{
        (void)state;
        cg("", MS(100), "");
        cg("/system.slice", MS(100), NULL);
        cg("/system.slice/a.service", MS(50), NULL);
        cg("/system.slice/b.scope", MS(50), NULL);
        descendants(3);
        mkdirs("proc");
        CgroupSet *s = open_fake_lazy(0, false); /* b.scope goes quiet: read it anyway */
        CgroupHost h;
        assert_int_equal(cgroup_set_sample(s), 0);

        cg("", MS(110), "");
        cg("/system.slice", MS(110), NULL);
        cg("/system.slice/a.service", MS(62), NULL); /* +12 vs the slice's +10 */
        cg("/system.slice/b.scope", MS(50), NULL);
        assert_int_equal(cgroup_set_sample(s), 0);
        cgroup_set_host(s, &h);
        assert_true(h.outside_ns == 0);
        assert_true(h.residual_ns == 0); /* -2 ms carried */

        cg("", MS(120), "");
        cg("/system.slice", MS(120), NULL);
        cg("/system.slice/a.service", MS(68), NULL); /* +6 vs +10: 4 - 2 carried */
        assert_int_equal(cgroup_set_sample(s), 0);
        cgroup_set_host(s, &h);
        assert_true(h.residual_ns == NS(2));
        cgroup_set_free(s);
}

/* A root whose usage_usec counts stolen time (Linux 5.8 to 6.13 before the 2025 stable fix): the
 * host's delta and the kernel's share come from user_usec + system_usec, so a VM's stolen time
 * becomes no one's. */
static void test_fake_root_steal(void **state)
{
        (void)state;
        cg("", 0, "");
        put("cg/cpu.stat", "usage_usec 150000\nuser_usec 60000\nsystem_usec 40000\n");
        cg("/system.slice", MS(100), NULL);
        cg("/system.slice/a.service", MS(100), NULL);
        descendants(2);
        mkdirs("proc");
        CgroupSet *s = open_fake_lazy(0, false);
        CgroupHost h;
        assert_int_equal(cgroup_set_sample(s), 0);
        cgroup_set_host(s, &h);
        assert_true(h.usage_ns == NS(100));

        /* +70 ms of CPU (a.service 60, interrupts 10) and +30 ms stolen */
        put("cg/cpu.stat", "usage_usec 250000\nuser_usec 100000\nsystem_usec 70000\n");
        cg("/system.slice", MS(160), NULL);
        cg("/system.slice/a.service", MS(160), NULL);
        assert_int_equal(cgroup_set_sample(s), 0);
        cgroup_set_host(s, &h);
        assert_true(h.delta_ns == NS(70));
        assert_true(h.outside_ns == NS(10));
        CgroupPseudo p;
        assert_int_equal(cgroup_set_sample_pseudo(s, &p), 0);
        assert_true(p.kernel_ns == NS(10));
        assert_true(p.unattributed_ns == 0);
        cgroup_set_free(s);
}

/* A slice's quiet children are left unread while the others explain its delta; what they use
 * meanwhile is held back, never lost or counted twice. */
static void test_fake_lazy(void **state)
{
        const CgroupUnit *u;
        size_t n;
        CgroupHost h;
        uint64_t a = 0, b = 0, c = 0, slice = 100;
        (void)state;
#define TREE()                                                                                     \
        do {                                                                                       \
                cg("", MS(1000 + slice), "");                                                      \
                cg("/system.slice", MS(slice), NULL);                                              \
                cg("/system.slice/a.service", MS(a), NULL);                                        \
                cg("/system.slice/b.service", MS(b), NULL);                                        \
                cg("/system.slice/c.service", MS(c), NULL);                                        \
        } while (0)
        a = 90, b = 5, c = 5;
        TREE();
        descendants(4);
        mkdirs("proc");
        CgroupSet *s = open_fake(0);
        assert_int_equal(cgroup_set_sample(s), 0);
        assert_int_equal(cgroup_set_reads(s), 5);

        /* everything read once more; b and c did nothing: quiet */
        a += 10, slice += 10;
        TREE();
        assert_int_equal(cgroup_set_sample(s), 0);
        assert_int_equal(cgroup_set_reads(s), 5);

        /* b uses 1 ms: within 2 ms + 5%, so b and c stay unread and the slice holds 1 ms back */
        a += 10, b += 1, slice += 11;
        TREE();
        assert_int_equal(cgroup_set_sample(s), 0);
        assert_int_equal(cgroup_set_reads(s), 3);
        u = cgroup_set_units(s, &n);
        assert_true(unit_by_display(u, n, "a.service", NULL)->self_ns == NS(10));
        assert_true(unit_by_display(u, n, "b.service", NULL)->self_ns == 0);
        cgroup_set_host(s, &h);
        assert_true(h.residual_ns == 0);
        uint64_t sum_b = 0, sum_res = 0;

        /* b uses 5 ms more: now unexplained, so b is read in the same interval, with all 6 ms */
        a += 10, b += 5, slice += 15;
        TREE();
        assert_int_equal(cgroup_set_sample(s), 0);
        assert_int_equal(cgroup_set_reads(s), 5);
        u = cgroup_set_units(s, &n);
        sum_b += unit_by_display(u, n, "b.service", NULL)->self_ns;
        assert_true(unit_by_display(u, n, "b.service", NULL)->self_ns == NS(6));
        cgroup_set_host(s, &h);
        sum_res += h.residual_ns;
        assert_true(h.residual_ns == 0); /* the 1 ms held back was b's: released to nobody */

        /* The slice's own time (a process placed in the slice) is held back only up to the
         * tolerance, then released as its residual. b used 6 ms last time: read again. */
        a += 10, slice += 11;
        TREE();
        assert_int_equal(cgroup_set_sample(s), 0);
        assert_int_equal(cgroup_set_reads(s), 4); /* c still unread */
        cgroup_set_host(s, &h);
        sum_res += h.residual_ns;
        for (int i = 0; i < 3; i++) {
                a += 10, slice += 11;
                TREE();
                assert_int_equal(cgroup_set_sample(s), 0);
                cgroup_set_host(s, &h);
                sum_res += h.residual_ns;
                u = cgroup_set_units(s, &n);
                sum_b += unit_by_display(u, n, "b.service", NULL)->self_ns;
        }
        /* 4 ms of the slice's own so far: 1 ms a interval held back, released when the debt passed
         * 2 ms + 5% of 11 ms (3 ms, in the third interval); the fourth ms is still held back */
        assert_true(sum_res == NS(3));
        assert_true(sum_b == NS(6));

        /* All children are read every CGROUP_FULL_REFRESH intervals, and the first full read
         * releases the last ms: every ns of the slice's own time comes out exactly once. */
        unsigned full = 0;
        for (unsigned i = 0; i < 2 * CGROUP_FULL_REFRESH; i++) {
                a += 10, slice += 10;
                TREE();
                assert_int_equal(cgroup_set_sample(s), 0);
                full += cgroup_set_reads(s) == 5;
                cgroup_set_host(s, &h);
                sum_res += h.residual_ns;
        }
        assert_int_equal(full, 2);
        assert_true(sum_res == NS(4));
#undef TREE
        cgroup_set_free(s);
}

/* Nested slices: a quiet slice is left unread with everything below it, all of it is read at its
 * parent's full read, and time a slice held back is released when the slice vanishes. */
static void test_fake_lazy_nested(void **state)
{
        CgroupHost h;
        uint64_t a = 100, sub = 20, g = 20, slice = 120, res = 0;
        (void)state;
#define TREE()                                                                                     \
        do {                                                                                       \
                cg("", MS(1000 + slice), "");                                                      \
                cg("/system.slice", MS(slice), NULL);                                              \
                cg("/system.slice/a.service", MS(a), NULL);                                        \
                cg("/system.slice/sub.slice", MS(sub), NULL);                                      \
                cg("/system.slice/sub.slice/g.service", MS(g), NULL);                              \
        } while (0)
        TREE();
        descendants(4);
        mkdirs("proc");
        CgroupSet *s = open_fake(0);
        assert_int_equal(cgroup_set_sample(s), 0);
        /* sub.slice and g.service quiet from here on; every CGROUP_FULL_REFRESH intervals all
         * five are read, g.service included */
        unsigned full = 0;
        for (unsigned i = 0; i < 2 * CGROUP_FULL_REFRESH; i++) {
                a += 10, slice += 10;
                TREE();
                assert_int_equal(cgroup_set_sample(s), 0);
                full += cgroup_set_reads(s) == 5;
                if (i > 0 && cgroup_set_reads(s) != 5)
                        assert_int_equal(cgroup_set_reads(s), 3); /* root, system.slice, a */
        }
        assert_int_equal(full, 2);

        cgroup_set_free(s);

        /* A slice that holds time back and vanishes: a new set, sub.slice with 1 ms of its own
         * each interval (so it is read), g.service quiet below it. */
        s = open_fake(0);
        assert_int_equal(cgroup_set_sample(s), 0);
        for (int i = 0; i < 3; i++) {
                a += 10, sub += 1, slice += 11;
                TREE();
                assert_int_equal(cgroup_set_sample(s), 0);
                cgroup_set_host(s, &h);
                res += h.residual_ns;
        }
        /* the first interval read everything (1 ms residual), then g.service was left unread
         * and sub.slice held 2 ms back (within 2 ms + 5%) */
        assert_true(res == NS(1));
        char cmd[8400];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s/cg/system.slice/sub.slice'", tmp);
        assert_int_equal(system(cmd), 0);
        descendants(2);
        a += 10, slice += 10;
        cg("", MS(1000 + slice), "");
        cg("/system.slice", MS(slice), NULL);
        cg("/system.slice/a.service", MS(a), NULL);
        assert_int_equal(cgroup_set_sample(s), 0);
        cgroup_set_host(s, &h);
        res += h.residual_ns;
        /* the 2 ms it held come out as a residual when it vanishes: 3 ms in all, its own time */
        assert_true(res == NS(3));
#undef TREE
        cgroup_set_free(s);
}

/* The root cgroup's user processes are read lazily: the ones that ran last time each interval,
 * and the list and all of them after an interval with more kernel time than the tolerance. */
static void test_fake_root_lazy(void **state)
{
        CgroupPseudo p;
        size_t nr;
        const ProcSample *rp;
        uint64_t root = 100;
        (void)state;
        cg("", MS(root), "2\n3004\n3005\n");
        cg("/system.slice", MS(60), NULL);
        descendants(1);
        proc(2, "kthreadd", 0x208040, 3);
        proc(3004, "bash", 0x400000, 10);
        proc(3005, "sleeper", 0x400000, 10);
        CgroupSet *s = open_fake(0); /* root_tolerance_ns: 20 ms */
        assert_int_equal(cgroup_set_sample(s), 0);
        assert_int_equal(cgroup_set_sample_pseudo(s, &p), 0); /* baselines */
#define STEP(ms, procs)                                                                            \
        do {                                                                                       \
                cg("", MS(root += (ms)), procs);                                                   \
                assert_int_equal(cgroup_set_sample(s), 0);                                         \
                assert_int_equal(cgroup_set_sample_pseudo(s, &p), 0);                              \
                rp = cgroup_set_root_processes(s, &nr);                                            \
        } while (0)

        /* Both read; only bash ran: 10 ms of the root's 25, 15 kernel (within 20 ms). */
        proc(3004, "bash", 0x400000, 11);
        STEP(25, "2\n3004\n3005\n");
        assert_int_equal(nr, 2);
        assert_true(p.root_user_ns == NS(10) && p.kernel_ns == NS(15));

        /* The sleeper is not read any more, bash still is (it ran last time). */
        STEP(15, "2\n3004\n3005\n");
        assert_int_equal(nr, 1);
        assert_int_equal(rp[0].pid, 3004);
        STEP(15, "2\n3004\n3005\n");
        assert_int_equal(nr, 0); /* bash was idle too: nothing read */

        /* The sleeper wakes for 10 ms: 25 ms of kernel time, over the tolerance, so the next
         * interval reads everything, and the sleeper's 10 ms come then, whole. */
        proc(3005, "sleeper", 0x400000, 11);
        STEP(25, "2\n3004\n3005\n");
        assert_int_equal(nr, 0);
        assert_true(p.kernel_ns == NS(25));
        STEP(15, "2\n3004\n3005\n");
        assert_int_equal(nr, 2);
        assert_true(p.root_user_ns == NS(10));
        assert_true(p.unattributed_ns == NS(10) && p.kernel_ns == NS(5));

        /* A process that started after the last list (start time far ahead) joins the root and
         * uses 40 ms: kernel time at first; read in the next interval with all 40 ms, of which
         * the 15 that fit in that interval's outside time move to unattributed. */
        char text[512];
        mkdirs("proc/3006");
        snprintf(text, sizeof(text),
                 "3006 (late) S 1 3006 3006 0 -1 4194304 0 0 0 0 4 0 0 0 20 0 1 0 %" PRIu64
                 " 0 0\n",
                 (uint64_t)1 << 40);
        put("proc/3006/stat", text);
        STEP(55, "2\n3004\n3005\n3006\n");
        assert_true(p.kernel_ns == NS(55));
        STEP(15, "2\n3004\n3005\n3006\n");
        const ProcSample *late = NULL;
        for (size_t k = 0; k < nr; k++)
                if (rp[k].pid == 3006)
                        late = &rp[k];
        assert_non_null(late);
        assert_true(late->fresh && late->delta_ns == NS(40));
        assert_true(p.unattributed_ns == NS(15) && p.kernel_ns == 0);
        STEP(15, "2\n3004\n3005\n3006\n");
        assert_true(p.unattributed_ns == 0 && p.kernel_ns == NS(15));

        /* Quiet from here: nothing read but every CGROUP_FULL_REFRESH intervals. */
        unsigned reads = 0;
        for (unsigned i = 0; i < 2 * CGROUP_FULL_REFRESH; i++) {
                STEP(15, "2\n3004\n3005\n3006\n");
                reads += nr > 0;
        }
        assert_int_equal(reads, 2);
#undef STEP
        cgroup_set_free(s);
}

/* Safety rescans every N intervals find what the count missed. */
static void test_fake_rescan_every(void **state)
{
        (void)state;
        cg("", MS(100), "");
        cg("/a.service", MS(1), NULL);
        descendants(1);
        mkdirs("proc");
        CgroupSet *s = open_fake(3);
        size_t n;
        assert_int_equal(cgroup_set_sample(s), 0);
        cg("/b.service", MS(1), NULL); /* count not updated */
        assert_int_equal(cgroup_set_sample(s), 0);
        (void)cgroup_set_units(s, &n);
        assert_int_equal(n, 1);
        assert_int_equal(cgroup_set_sample(s), 0);
        (void)cgroup_set_units(s, &n);
        assert_int_equal(n, 2);
        assert_int_equal(cgroup_set_scans(s), 2);
        cgroup_set_free(s);
}

/* A walk keeps a unit's own cgroup.procs open (its directory's inode is the same), as it keeps its
 * cpu.stat: the file is swapped for a new one here only to tell the fd kept from one opened anew,
 * which would read the new one. */
static void test_fake_rescan_keeps_procs_fd(void **state)
{
        (void)state;
        cg("", MS(100), "");
        cg("/a.service", MS(1), "7\n");
        descendants(1);
        mkdirs("proc");
        CgroupSet *s = open_fake(2);
        pid_t *pids;
        size_t np;
        assert_int_equal(cgroup_set_sample(s), 0);
        assert_int_equal(cgroup_set_unit_pids(s, 0, &pids, &np), 0);
        assert_int_equal(np, 1);
        assert_int_equal(pids[0], 7);
        free(pids);

        char from[8192], to[8192];
        snprintf(from, sizeof(from), "%s/cg/a.service/cgroup.procs.new", tmp);
        snprintf(to, sizeof(to), "%s/cg/a.service/cgroup.procs", tmp);
        put("cg/a.service/cgroup.procs.new", "8\n");
        assert_int_equal(rename(from, to), 0);
        assert_int_equal(cgroup_set_sample(s), 0);
        assert_int_equal(cgroup_set_scans(s), 2);
        assert_int_equal(cgroup_set_unit_pids(s, 0, &pids, &np), 0);
        assert_int_equal(np, 1);
        assert_int_equal(pids[0], 7); /* the fd opened before the walk */
        free(pids);
        cgroup_set_free(s);
}

/* A legacy host: the v1 cpuacct hierarchy, cpuacct.usage in ns. */
static void test_fake_v1(void **state)
{
        (void)state;
        mkdirs("acct/system.slice/cron.service");
        mkdirs("proc");
        put("acct/cpuacct.usage", "1000000000\n");
        put("acct/cgroup.procs", "");
        put("acct/system.slice/cpuacct.usage", "300000000\n");
        put("acct/system.slice/cron.service/cpuacct.usage", "200000000\n");
        char root[8192], procroot[8192];
        snprintf(root, sizeof(root), "%s/acct", tmp);
        snprintf(procroot, sizeof(procroot), "%s/proc", tmp);
        JoulesRoots roots = {.procfs = procroot, .cgroupfs = root};
        CgroupSet *s;
        assert_int_equal(cgroup_set_open(&roots, NULL, &s), 0);
        assert_int_equal(cgroup_set_mode(s), CGROUP_MODE_V1);
        assert_int_equal(cgroup_set_sample(s), 0);
        put("acct/cpuacct.usage", "1500000000\n");
        put("acct/system.slice/cpuacct.usage", "400000000\n");
        put("acct/system.slice/cron.service/cpuacct.usage", "250000000\n");
        assert_int_equal(cgroup_set_sample(s), 0);
        size_t n;
        const CgroupUnit *u = cgroup_set_units(s, &n);
        assert_int_equal(n, 1);
        assert_string_equal(u[0].unit.name, "cron.service");
        assert_true(u[0].delta_ns == NS(50));
        CgroupHost h;
        cgroup_set_host(s, &h);
        assert_true(h.outside_ns == NS(400));
        assert_true(h.residual_ns == NS(50));
        cgroup_set_free(s);

        /* not a cgroup tree at all */
        mkdirs("empty");
        snprintf(root, sizeof(root), "%s/empty", tmp);
        assert_int_equal(cgroup_set_open(&roots, NULL, &s), -ENOENT);
}

/* Discovery from <procfs>/self/mountinfo (no cgroup root given), and the cpuacct.usage fallback
 * for a v2 cgroup without cpu.stat (kernels before 4.15). */
static void test_fake_mountinfo(void **state)
{
        char text[20000];
        (void)state;
        cg("", MS(100), "");
        cg("/system.slice", MS(100), NULL);
        cg("/system.slice/a.service", MS(10), NULL);
        mkdirs("cg/system.slice/old.service");
        mkdirs("acct/system.slice/old.service");
        put("acct/system.slice/old.service/cpuacct.usage", "5000000\n");
        descendants(3);
        mkdirs("proc/self");
        snprintf(text, sizeof(text),
                 "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
                 "33 31 0:30 / %s/acct rw,relatime - cgroup cgroup rw,cpuacct\n"
                 "41 31 0:38 / %s/cg rw,relatime - cgroup2 cgroup2 rw\n",
                 tmp, tmp);
        put("proc/self/mountinfo", text);

        char procroot[8192];
        snprintf(procroot, sizeof(procroot), "%s/proc", tmp);
        JoulesRoots roots = {.procfs = procroot};
        CgroupSet *s;
        assert_int_equal(cgroup_set_open(&roots, NULL, &s), 0);
        assert_int_equal(cgroup_set_mode(s), CGROUP_MODE_V2);
        char want[8192];
        snprintf(want, sizeof(want), "%s/cg", tmp);
        assert_string_equal(cgroup_set_root(s), want);
        assert_int_equal(cgroup_set_sample(s), 0);
        put("acct/system.slice/old.service/cpuacct.usage", "12000000\n");
        assert_int_equal(cgroup_set_sample(s), 0);
        size_t n;
        const CgroupUnit *u = cgroup_set_units(s, &n);
        assert_int_equal(n, 2);
        assert_string_equal(u[1].unit.name, "old.service");
        assert_true(u[1].usage_ns == 12000000 && u[1].delta_ns == 7000000);
        cgroup_set_free(s);

        /* no cgroup mount at all */
        put("proc/self/mountinfo", "22 27 0:21 / /proc rw - proc proc rw\n");
        assert_int_equal(cgroup_set_open(&roots, NULL, &s), -ENOENT);
}

/* ---- a real cgroup ---- */

static struct {
        char v2[1024];
        char slice[1100], own_slice[1150], unit_a[1200], unit_b[1200];
        bool made_slice, made_own_slice, made_a, made_b;
        pid_t child;
        int go[2], done[2];
        pid_t kids[5];
} real = {.child = -1, .go = {-1, -1}, .done = {-1, -1}, .kids = {-1, -1, -1, -1, -1}};

static int real_teardown(void **state)
{
        (void)state;
        if (real.child > 0) {
                kill(real.child, SIGKILL);
                waitpid(real.child, NULL, 0);
                real.child = -1;
        }
        for (size_t i = 0; i < ELEMENTSOF(real.kids); i++)
                if (real.kids[i] > 0) {
                        kill(real.kids[i], SIGKILL);
                        waitpid(real.kids[i], NULL, 0);
                        real.kids[i] = -1;
                }
        if (real.made_a)
                real_cgroup_remove(real.unit_a);
        if (real.made_b)
                real_cgroup_remove(real.unit_b);
        if (real.made_own_slice)
                real_cgroup_remove(real.own_slice);
        real.made_own_slice = false;
        if (real.made_slice)
                (void)rmdir(real.slice); /* only when empty: others may use it */
        for (int i = 0; i < 2; i++) {
                if (real.go[i] >= 0)
                        close(real.go[i]);
                if (real.done[i] >= 0)
                        close(real.done[i]);
        }
        return 0;
}

static void test_real_cgroup(void **state)
{
        char c;
        const CgroupUnit *u;
        size_t n, ia;
        (void)state;

        snprintf(real.slice, sizeof(real.slice), "%s/system.slice", real.v2);
        real.made_slice = mkdir(real.slice, 0755) == 0;
        snprintf(real.unit_a, sizeof(real.unit_a), "%s/t-joules-%d-a.service", real.slice,
                 (int)getpid());
        snprintf(real.unit_b, sizeof(real.unit_b), "%s/t-joules-%d-b.service", real.slice,
                 (int)getpid());
        assert_int_equal(mkdir(real.unit_a, 0755), 0);
        real.made_a = true;

        assert_int_equal(pipe(real.go), 0);
        assert_int_equal(pipe(real.done), 0);
        real.child = fork();
        assert_true(real.child >= 0);
        if (real.child == 0) {
                if (read(real.go[0], &c, 1) != 1)
                        _exit(1);
                burn_ms(300);
                if (write(real.done[1], "x", 1) != 1)
                        _exit(1);
                pause();
                _exit(0);
        }
        real_cgroup_join(real.unit_a, real.child);

        CgroupOptions o;
        cgroup_options_default(&o);
        o.rescan_every = 0;
        CgroupSet *s;
        assert_int_equal(cgroup_set_open(NULL, &o, &s), 0);
        assert_string_equal(cgroup_set_root(s), real.v2);
        assert_int_equal(cgroup_set_sample(s), 0);

        char name[128], path[160];
        snprintf(name, sizeof(name), "t-joules-%d-a.service", (int)getpid());
        snprintf(path, sizeof(path), "/system.slice/%s", name);
        u = cgroup_set_units(s, &n);
        const CgroupUnit *a = unit_by_display(u, n, name, &ia);
        assert_non_null(a);
        assert_string_equal(a->path, path);
        assert_true(a->fresh);
        assert_true(a->unit.uid == -1);

        /* libsystemd names it (it reads the 0:: line of the real /proc/PID/cgroup) */
        _cleanup_free_ char *sdname = NULL;
        assert_int_equal(sd_pid_get_unit(real.child, &sdname), 0);
        assert_string_equal(sdname, name);
        CgroupUnitId id;
        UnitsSource src;
        assert_int_equal(units_pid_get_unit(NULL, real.child, &id, &src), 0);
        assert_string_equal(id.name, name);
        assert_int_equal(src, UNITS_SOURCE_LIBSYSTEMD);

        /* burn 300 ms inside the unit */
        assert_int_equal(write(real.go[1], "g", 1), 1);
        assert_int_equal(read(real.done[0], &c, 1), 1);
        assert_int_equal(cgroup_set_sample(s), 0);
        u = cgroup_set_units(s, &n);
        a = unit_by_display(u, n, name, &ia);
        assert_non_null(a);
        assert_false(a->fresh);
        print_message("real: unit delta %.1f ms, self %.1f ms\n", (double)a->delta_ns / 1e6,
                      (double)a->self_ns / 1e6);
        if (a->delta_ns < NS(280) || a->delta_ns > NS(400))
                fail_msg("unit delta %" PRIu64 " ns, want about 300 ms", a->delta_ns);
        assert_true(a->self_ns == a->delta_ns);

        /* its processes: the child, baselined when the unit was discovered */
        const ProcSample *ps;
        size_t np;
        assert_int_equal(cgroup_set_unit_processes(s, ia, &ps, &np), 0);
        assert_int_equal(np, 1);
        assert_int_equal(ps[0].pid, real.child);
        assert_false(ps[0].fresh);
        print_message("real: child delta %.1f ms\n", (double)ps[0].delta_ns / 1e6);
        if (ps[0].delta_ns < NS(250) || ps[0].delta_ns > NS(400))
                fail_msg("process delta %" PRIu64 " ns", ps[0].delta_ns);

        /* the host and the pseudo-units */
        CgroupHost h;
        CgroupPseudo p;
        cgroup_set_host(s, &h);
        assert_true(h.valid);
        /* The root's figure is sampled at scheduler ticks (CONFIG_TICK_CPU_ACCOUNTING, 4 ms
         * here), the unit's is exact: allow a few ticks per CPU of lag. */
        if (h.delta_ns + NS(40) < a->delta_ns)
                fail_msg("host delta %" PRIu64 " ns < unit delta %" PRIu64, h.delta_ns,
                         a->delta_ns);
        assert_int_equal(cgroup_set_sample_pseudo(s, &p), 0);
        uint64_t sum = p.kernel_ns + p.unattributed_ns;
        for (size_t i = 0; i < n; i++)
                sum += u[i].self_ns;
        print_message("real: host %.1f ms = units + kernel %.1f + unattributed %.1f; sum %.1f\n",
                      (double)h.delta_ns / 1e6, (double)p.kernel_ns / 1e6,
                      (double)p.unattributed_ns / 1e6, (double)sum / 1e6);
        /* equal but for the carried read skew (at most the lag above) */
        if (sum > h.delta_ns + NS(40) || sum + NS(40) < h.delta_ns)
                fail_msg("sum %" PRIu64 " vs host %" PRIu64, sum, h.delta_ns);

        /* Kill, remove, and make another unit in the same interval: the count of cgroups is the
         * same, so it is the failed read (ENODEV) of the removed cgroup that walks the tree. */
        kill(real.child, SIGKILL);
        waitpid(real.child, NULL, 0);
        real.child = -1;
        real_cgroup_remove(real.unit_a);
        real.made_a = false;
        assert_int_equal(mkdir(real.unit_b, 0755), 0);
        real.made_b = true;
        uint64_t scans = cgroup_set_scans(s);
        assert_int_equal(cgroup_set_sample(s), 0);
        assert_true(cgroup_set_scans(s) > scans);
        u = cgroup_set_units(s, &n);
        assert_null(unit_by_display(u, n, name, NULL));
        snprintf(name, sizeof(name), "t-joules-%d-b.service", (int)getpid());
        assert_non_null(unit_by_display(u, n, name, NULL));

        real_cgroup_remove(real.unit_b);
        real.made_b = false;
        assert_int_equal(cgroup_set_sample(s), 0);
        u = cgroup_set_units(s, &n);
        assert_null(unit_by_display(u, n, name, NULL));
        cgroup_set_free(s);
}

/* A unit with one busy and three sleeping processes, and a unit with one sleeping process: the
 * sleepers and the quiet unit's cgroup are left unread, and when they burn CPU time they are read
 * in that same interval, their time in full. */
static void test_real_lazy(void **state)
{
        char c;
        const CgroupUnit *u;
        size_t n, ia = 0;
        (void)state;

        /* A slice of this test's own: whether the quiet unit is left unread depends on its
         * slice's CPU time being explained by the busy unit, which busy units of other tests
         * running at the same time in system.slice would upset. */
        snprintf(real.slice, sizeof(real.slice), "%s/system.slice", real.v2);
        real.made_slice = mkdir(real.slice, 0755) == 0;
        snprintf(real.own_slice, sizeof(real.own_slice), "%s/t-joules-%d.slice", real.slice,
                 (int)getpid());
        assert_int_equal(mkdir(real.own_slice, 0755), 0);
        real.made_own_slice = true;
        snprintf(real.unit_a, sizeof(real.unit_a), "%s/t-joules-%d-lazy.service", real.own_slice,
                 (int)getpid());
        assert_int_equal(mkdir(real.unit_a, 0755), 0);
        real.made_a = true;
        snprintf(real.unit_b, sizeof(real.unit_b), "%s/t-joules-%d-quiet.service", real.own_slice,
                 (int)getpid());
        assert_int_equal(mkdir(real.unit_b, 0755), 0);
        real.made_b = true;
        assert_int_equal(pipe(real.go), 0);
        assert_int_equal(pipe(real.done), 0);
        for (size_t i = 0; i < ELEMENTSOF(real.kids); i++) {
                pid_t k = fork();
                assert_true(k >= 0);
                if (k == 0) {
                        if (i == 0)
                                for (;;) { /* 20% of a CPU */
                                        burn_ms(2);
                                        usleep(8000);
                                }
                        if (i == 1 || i == 4) {
                                if (read(real.go[0], &c, 1) != 1)
                                        _exit(1);
                                burn_ms(i == 1 ? 100 : 60);
                                if (write(real.done[1], "x", 1) != 1)
                                        _exit(1);
                        }
                        pause();
                        _exit(0);
                }
                real.kids[i] = k;
                real_cgroup_join(i == 4 ? real.unit_b : real.unit_a, k);
        }

        CgroupOptions o;
        cgroup_options_default(&o);
        o.rescan_every = 0;
        CgroupSet *s;
        assert_int_equal(cgroup_set_open(NULL, &o, &s), 0);
        assert_int_equal(cgroup_set_sample(s), 0); /* baselines, processes included */
        size_t all_reads = cgroup_set_reads(s);
        char name[128], name_b[128];
        snprintf(name, sizeof(name), "t-joules-%d-lazy.service", (int)getpid());
        snprintf(name_b, sizeof(name_b), "t-joules-%d-quiet.service", (int)getpid());

        const ProcSample *ps;
        size_t np;
        uint64_t self = 0, seen = 0, self_b = 0;
        unsigned lazy_rounds = 0, fewer_reads = 0;
        for (int round = 0; round < 8; round++) {
                usleep(100000);
                if (round == 6) {
                        /* a sleeper wakes up and burns 100 ms; in the quiet unit, one burns 60 */
                        assert_int_equal(write(real.go[1], "gg", 2), 2);
                        assert_int_equal(read(real.done[0], &c, 1), 1);
                        assert_int_equal(read(real.done[0], &c, 1), 1);
                }
                assert_int_equal(cgroup_set_sample(s), 0);
                u = cgroup_set_units(s, &n);
                assert_non_null(unit_by_display(u, n, name, &ia));
                assert_int_equal(cgroup_set_unit_processes(s, ia, &ps, &np), 0);
                uint64_t sum = 0;
                for (size_t k = 0; k < np; k++)
                        sum += ps[k].delta_ns;
                print_message("lazy: round %d, unit self %.2f ms, %zu processes read, %.2f ms\n",
                              round, (double)u[ia].self_ns / 1e6, np, (double)sum / 1e6);
                self += u[ia].self_ns;
                seen += sum;
                size_t ib = 0;
                assert_non_null(unit_by_display(u, n, name_b, &ib));
                self_b += u[ib].self_ns;
                if (round < 6)
                        fewer_reads += cgroup_set_reads(s) < all_reads;
                if (round == 6 && (u[ib].self_ns < NS(55) || u[ib].self_ns > NS(90)))
                        fail_msg("the quiet unit shows %" PRIu64 " ns, want 60 ms", u[ib].self_ns);
                if (round < 6 && np == 1) {
                        lazy_rounds++;
                        assert_int_equal(ps[0].pid, real.kids[0]);
                }
                if (round == 6) {
                        const ProcSample *woke = NULL;
                        for (size_t k = 0; k < np; k++)
                                if (ps[k].pid == real.kids[1])
                                        woke = &ps[k];
                        assert_non_null(woke);
                        if (woke->delta_ns < NS(90) || woke->delta_ns > NS(150))
                                fail_msg("the woken process shows %" PRIu64 " ns, want 100 ms",
                                         woke->delta_ns);
                }
        }
        /* the quiet unit's cgroup was left unread in most rounds, and nothing of it was lost */
        print_message(
                "lazy: %zu cgroups read at first, fewer in %u of 6 rounds; quiet unit %.2f ms\n",
                all_reads, fewer_reads, (double)self_b / 1e6);
        if (fewer_reads < 3)
                fail_msg("only %u of 6 rounds left cgroups unread", fewer_reads);
        if (self_b < NS(55) || self_b > NS(90))
                fail_msg("quiet unit %" PRIu64 " ns in all, want 60 ms", self_b);
        /* the sleepers were left unread in most rounds */
        if (lazy_rounds < 3)
                fail_msg("only %u of 6 rounds read the busy process alone", lazy_rounds);
        /* nothing lost: the processes' time adds up to the unit's */
        print_message("lazy: unit %.2f ms, processes %.2f ms\n", (double)self / 1e6,
                      (double)seen / 1e6);
        if (seen + NS(5) < self || seen > self + NS(5))
                fail_msg("processes %" PRIu64 " ns vs unit %" PRIu64 " ns", seen, self);
        cgroup_set_free(s);
}

/* A unit with more processes than one page of cgroup.procs holds (about 680 six-byte PIDs), and a
 * threaded sub-cgroup: both as the kernel shows them, see read_procs. */
#define MANY_PROCS 1000
static struct {
        char unit[1200], threaded[1300];
        bool made_unit, made_threaded;
        pid_t kids[MANY_PROCS];
        size_t n_kids;
} many;

static int many_teardown(void **state)
{
        (void)state;
        for (size_t i = 0; i < many.n_kids; i++)
                kill(many.kids[i], SIGKILL);
        for (size_t i = 0; i < many.n_kids; i++)
                waitpid(many.kids[i], NULL, 0);
        many.n_kids = 0;
        if (many.made_threaded)
                real_cgroup_remove(many.threaded);
        many.made_threaded = false;
        if (many.made_unit)
                real_cgroup_remove(many.unit);
        many.made_unit = false;
        if (real.made_slice)
                (void)rmdir(real.slice); /* only when empty: others may use it */
        return 0;
}

static void many_setup(const char *suffix, size_t kids)
{
        snprintf(real.slice, sizeof(real.slice), "%s/system.slice", real.v2);
        real.made_slice = mkdir(real.slice, 0755) == 0;
        snprintf(many.unit, sizeof(many.unit), "%s/t-joules-%d-%s.service", real.slice,
                 (int)getpid(), suffix);
        assert_int_equal(mkdir(many.unit, 0755), 0);
        many.made_unit = true;
        for (size_t i = 0; i < kids; i++) {
                pid_t k = fork();
                assert_true(k >= 0);
                if (k == 0) {
                        pause();
                        _exit(0);
                }
                many.kids[many.n_kids++] = k;
                real_cgroup_join(many.unit, k);
        }
}

static void many_check(const char *suffix, size_t want)
{
        CgroupOptions o;
        cgroup_options_default(&o);
        o.rescan_every = 0;
        CgroupSet *s;
        assert_int_equal(cgroup_set_open(NULL, &o, &s), 0);
        assert_int_equal(cgroup_set_sample(s), 0);
        char name[128];
        snprintf(name, sizeof(name), "t-joules-%d-%s.service", (int)getpid(), suffix);
        size_t n, iu = 0;
        const CgroupUnit *u = cgroup_set_units(s, &n);
        assert_non_null(unit_by_display(u, n, name, &iu));
        pid_t *pids;
        size_t np;
        assert_int_equal(cgroup_set_unit_pids(s, iu, &pids, &np), 0);
        assert_int_equal(np, want);
        free(pids);
        const ProcSample *ps;
        assert_int_equal(cgroup_set_unit_processes(s, iu, &ps, &np), 0);
        assert_int_equal(np, want);
        cgroup_set_free(s);
}

/* cgroup.procs is a seq_file with one record per PID, and one read(2) returns at most one page of
 * it (fs/seq_file.c, seq_read_iter): a unit of 1000 processes lists about 6 KiB. */
static void test_real_many_procs(void **state)
{
        (void)state;
        many_setup("many", MANY_PROCS);
        many_check("many", MANY_PROCS);
}

/* A threaded sub-cgroup's cgroup.procs cannot be read (EOPNOTSUPP, cgroup_procs_start in
 * kernel/cgroup/cgroup.c): its threads' processes are listed by the threaded domain above it. */
static void test_real_threaded(void **state)
{
        (void)state;
        many_setup("threaded", 1);
        snprintf(many.threaded, sizeof(many.threaded), "%s/workers", many.unit);
        assert_int_equal(mkdir(many.threaded, 0755), 0);
        many.made_threaded = true;
        char path[1400];
        snprintf(path, sizeof(path), "%s/cgroup.type", many.threaded);
        int fd = open(path, O_WRONLY | O_CLOEXEC);
        assert_true(fd >= 0);
        if (write(fd, "threaded", 8) != 8) {
                close(fd);
                skip();
        }
        close(fd);
        many_check("threaded", 1);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_cpu_stat_parse),
                cmocka_unit_test(test_root_cpu_stat_parse),
                cmocka_unit_test(test_name_classify),
                cmocka_unit_test(test_path_to_unit),
                cmocka_unit_test(test_split_outside),
                cmocka_unit_test(test_explained),
                cmocka_unit_test_setup_teardown(test_fake_tree, setup_tree, teardown_tree),
                cmocka_unit_test_setup_teardown(test_fake_carry, setup_tree, teardown_tree),
                cmocka_unit_test_setup_teardown(test_fake_root_steal, setup_tree, teardown_tree),
                cmocka_unit_test_setup_teardown(test_fake_root_lazy, setup_tree, teardown_tree),
                cmocka_unit_test_setup_teardown(test_fake_lazy, setup_tree, teardown_tree),
                cmocka_unit_test_setup_teardown(test_fake_lazy_nested, setup_tree, teardown_tree),
                cmocka_unit_test_setup_teardown(test_fake_rescan_every, setup_tree, teardown_tree),
                cmocka_unit_test_setup_teardown(test_fake_rescan_keeps_procs_fd, setup_tree,
                                                teardown_tree),
                cmocka_unit_test_setup_teardown(test_fake_v1, setup_tree, teardown_tree),
                cmocka_unit_test_setup_teardown(test_fake_mountinfo, setup_tree, teardown_tree),
        };
        const struct CMUnitTest real_tests[] = {
                cmocka_unit_test_teardown(test_real_cgroup, real_teardown),
                cmocka_unit_test_teardown(test_real_lazy, real_teardown),
                cmocka_unit_test_teardown(test_real_many_procs, many_teardown),
                cmocka_unit_test_teardown(test_real_threaded, many_teardown),
        };
        int failed = cmocka_run_group_tests_name("cgroup", tests, NULL, NULL);
        if (failed)
                return 1;
        const char *why;
        if (!real_cgroup_possible(real.v2, sizeof(real.v2), &why)) {
                printf("real cgroup test skipped: %s\n", why);
                return 77;
        }
        return cmocka_run_group_tests_name("cgroup-real", real_tests, NULL, NULL) ? 1 : 0;
}
