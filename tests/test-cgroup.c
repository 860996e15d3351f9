/* Tests for collectors/cgroup.c's live set against a fake cgroup tree (built in a temporary
 * directory and changed between samples, with figures worked out by hand; cgroup-fake.h). Lazy
 * reading is in test-cgroup-lazy.c, the pure parts in test-cgroup-tables.c, real cgroups on this
 * machine in test-cgroup-real.c. */

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

#include "cgroup-test.h"
#include "cgroup-fake.h"

#include "collectors/cgroup.h"
#include "collectors/procfs.h"
#include "collectors/units.h"
#include "common/util.h"

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

/* With the descendants counted, the safety net waits its (long) default; without the count
 * (cgroup v1: no cgroup.stat) a new cgroup is found within CGROUP_RESCAN_EVERY_UNCOUNTED, and so it
 * is where a cgroup below a unit (read by nothing, so its removal answers no ENODEV) went in the
 * interval the new one came: the count is the same. */
static void test_fake_rescan_uncounted(void **state)
{
        (void)state;
        enum { UNCOUNTED, COUNTED, COUNTED_SUB, N_CASES };
        for (int c = 0; c < N_CASES; c++) {
                cg("", MS(100), "");
                cg("/a.service", MS(1), NULL);
                if (c == COUNTED_SUB)
                        cg("/a.service/sub", MS(1), NULL);
                if (c != UNCOUNTED)
                        descendants(c == COUNTED_SUB ? 2 : 1);
                mkdirs("proc");
                CgroupSet *s = open_fake(CGROUP_RESCAN_EVERY_DEFAULT);
                size_t n;
                assert_int_equal(cgroup_set_sample(s), 0);
                if (c == COUNTED_SUB) {
                        char path[8300];
                        snprintf(path, sizeof(path), "rm -r '%s/cg/a.service/sub'", tmp);
                        assert_int_equal(system(path), 0);
                }
                cg("/b.service", MS(1), NULL); /* the count, if any, not updated */
                for (unsigned i = 1; i < CGROUP_RESCAN_EVERY_UNCOUNTED; i++)
                        assert_int_equal(cgroup_set_sample(s), 0);
                (void)cgroup_set_units(s, &n);
                assert_int_equal(n, c == COUNTED ? 1 : 2);
                assert_int_equal(cgroup_set_scans(s), c == COUNTED ? 1 : 2);
                cgroup_set_free(s);
                assert_int_equal(teardown_tree(NULL), 0); /* a tree anew for the next pass */
                assert_int_equal(setup_tree(NULL), 0);
        }
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

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_fake_tree, setup_tree, teardown_tree),
                cmocka_unit_test_setup_teardown(test_fake_carry, setup_tree, teardown_tree),
                cmocka_unit_test_setup_teardown(test_fake_root_steal, setup_tree, teardown_tree),
                cmocka_unit_test_setup_teardown(test_fake_rescan_every, setup_tree, teardown_tree),
                cmocka_unit_test_setup_teardown(test_fake_rescan_uncounted, setup_tree,
                                                teardown_tree),
                cmocka_unit_test_setup_teardown(test_fake_rescan_keeps_procs_fd, setup_tree,
                                                teardown_tree),
                cmocka_unit_test_setup_teardown(test_fake_v1, setup_tree, teardown_tree),
                cmocka_unit_test_setup_teardown(test_fake_mountinfo, setup_tree, teardown_tree),
        };
        return cmocka_run_group_tests_name("cgroup", tests, NULL, NULL) ? 1 : 0;
}
