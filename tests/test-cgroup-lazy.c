/* Lazy reading of collectors/cgroup.c's live set (cgroup.h, "Lazy reading") against the fake
 * tree of cgroup-fake.h: a slice's quiet children and a unit's idle processes and PID list are
 * left unread while what is read explains the CPU time, and read in full when it does not, every
 * CGROUP_FULL_REFRESH intervals while their debt is over CGROUP_QUIET_DEBT_NS, and every
 * CGROUP_QUIET_REFRESH in any case; the root's processes the same way. */

#include <errno.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "cgroup-test.h"
#include "cgroup-fake.h"

#include "collectors/cgroup.h"
#include "collectors/procfs.h"
#include "common/util.h"

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

        /* A slice holding more than CGROUP_QUIET_DEBT_NS back reads all its children within
         * CGROUP_FULL_REFRESH intervals, and that full read releases the last ms: every ns of the
         * slice's own time comes out exactly once. From then on b and c explain themselves (they
         * use nothing), and the next full read waits CGROUP_QUIET_REFRESH intervals. */
        unsigned full = 0, at[3] = {0};
        for (unsigned i = 0; i < CGROUP_QUIET_REFRESH + CGROUP_FULL_REFRESH; i++) {
                a += 10, slice += 10;
                TREE();
                assert_int_equal(cgroup_set_sample(s), 0);
                if (cgroup_set_reads(s) == 5 && full < ELEMENTSOF(at))
                        at[full++] = i;
                cgroup_set_host(s, &h);
                sum_res += h.residual_ns;
        }
        assert_int_equal(full, 2);
        assert_true(at[0] < CGROUP_FULL_REFRESH);
        assert_int_equal(at[1] - at[0], CGROUP_QUIET_REFRESH);
        assert_true(sum_res == NS(4));
#undef TREE
        cgroup_set_free(s);
}

/* A unit's process the fake way: stat in clock ticks and schedstat in ns, the same CPU time; a
 * process started after every list (start time far ahead) brings all its time when first read. */
static void proc_ns_started(pid_t pid, const char *comm, uint64_t ns, uint64_t starttime)
{
        char rel[64], text[512];
        uint64_t ticks = ns / (NSEC_PER_SEC / (uint64_t)sysconf(_SC_CLK_TCK));
        snprintf(rel, sizeof(rel), "proc/%d", (int)pid);
        mkdirs(rel);
        snprintf(rel, sizeof(rel), "proc/%d/stat", (int)pid);
        snprintf(text, sizeof(text),
                 "%d (%s) S 1 %d %d 0 -1 4194304 0 0 0 0 %" PRIu64 " 0 0 0 20 0 1 0 %" PRIu64
                 " 0 0\n",
                 (int)pid, comm, (int)pid, (int)pid, ticks, starttime);
        put(rel, text);
        snprintf(rel, sizeof(rel), "proc/%d/schedstat", (int)pid);
        snprintf(text, sizeof(text), "%" PRIu64 " 0 1\n", ns);
        put(rel, text);
}

static void proc_ns(pid_t pid, const char *comm, uint64_t ns)
{
        proc_ns_started(pid, comm, ns, 100);
}

/* A unit's sleeping processes are left unread while its busy one explains the unit's CPU time.
 * While that debt stays within CGROUP_QUIET_DEBT_NS they are read every CGROUP_QUIET_REFRESH
 * active intervals; when a sleeper's time shows in the debt, within CGROUP_FULL_REFRESH, whole. */
static bool has_pid(const ProcSample *ps, size_t n, pid_t pid)
{
        for (size_t k = 0; k < n; k++)
                if (ps[k].pid == pid)
                        return true;
        return false;
}

static void test_fake_unit_processes_quiet(void **state)
{
        uint64_t w = 100, busy = NS(100), sleeper = NS(5), late = NS(7), later = NS(2);
        const char *list = "900\n901\n902\n";
        const CgroupUnit *u;
        const ProcSample *ps;
        size_t n, i = 0, np;
        (void)state;
#define TREE()                                                                                     \
        do {                                                                                       \
                cg("", MS(1000 + w), "");                                                          \
                cg("/system.slice", MS(w), NULL);                                                  \
                cg("/system.slice/w.service", MS(w), list);                                        \
                proc_ns(900, "busy", busy);                                                        \
                proc_ns(901, "sleeper", sleeper);                                                  \
                proc_ns(902, "sleeper", NS(5));                                                    \
                proc_ns(903, "idle", NS(1));                                                       \
                proc_ns_started(904, "late", late, UINT64_C(1) << 40);                             \
                proc_ns_started(905, "later", later, UINT64_C(1) << 40);                           \
        } while (0)
#define STEP()                                                                                     \
        do {                                                                                       \
                TREE();                                                                            \
                assert_int_equal(cgroup_set_sample(s), 0);                                         \
                assert_int_equal(cgroup_set_unit_processes(s, i, &ps, &np), 0);                    \
        } while (0)
        TREE();
        descendants(2);
        CgroupSet *s = open_fake(0);
        assert_int_equal(cgroup_set_sample(s), 0); /* the unit's processes' baselines too */
        u = cgroup_set_units(s, &n);
        assert_non_null(unit_by_display(u, n, "w.service", &i));
        uint64_t self = 0, seen = 0;
        unsigned full = 0, at[3] = {0}, k = 0;
        for (; k < CGROUP_QUIET_REFRESH + CGROUP_FULL_REFRESH; k++) {
                w += 10, busy += NS(10);
                STEP();
                if (np == 3 && full < ELEMENTSOF(at))
                        at[full++] = k;
                self += cgroup_set_units(s, &n)[i].self_ns;
                for (size_t j = 0; j < np; j++)
                        seen += ps[j].delta_ns;
        }
        /* all three read in the first interval (none was known idle), then every
         * CGROUP_QUIET_REFRESH */
        assert_int_equal(full, 2);
        assert_int_equal(at[0], 0);
        assert_int_equal(at[1], CGROUP_QUIET_REFRESH);

        /* a sleeper runs 1 ms: within the tolerance (2 ms + 5%), so it is not read at once, but
         * over CGROUP_QUIET_DEBT_NS: more than CGROUP_FULL_REFRESH intervals have passed since the
         * last full read, so the next interval reads them all */
        w += 11, busy += NS(10), sleeper += NS(1);
        STEP();
        assert_int_equal(np, 1);
        self += cgroup_set_units(s, &n)[i].self_ns;
        seen += ps[0].delta_ns;
        unsigned woke = ++k, next = 0;
        for (; k < woke + CGROUP_FULL_REFRESH && !next; k++) {
                w += 10, busy += NS(10);
                STEP();
                self += cgroup_set_units(s, &n)[i].self_ns;
                for (size_t j = 0; j < np; j++) {
                        seen += ps[j].delta_ns;
                        if (ps[j].pid == 901)
                                assert_true(ps[j].delta_ns == NS(1));
                }
                if (np == 3)
                        next = k;
        }
        assert_int_equal(next, woke);
        /* every ns of the unit's time was seen in one of its processes, exactly once */
        assert_true(seen == self);

        /* The PID list is read again every CGROUP_PROCS_REFRESH intervals while the processes
         * leave time unexplained, CGROUP_QUIET_REFRESH while they do not: 903 joins and never
         * runs, and is not listed for as long; 904 joins and runs 3 ms, and is listed within
         * CGROUP_PROCS_REFRESH intervals, with its time from then on. */
        for (unsigned j = 0; j < CGROUP_PROCS_REFRESH; j++) { /* the sleeper's 1 ms: re-read */
                w += 10, busy += NS(10);
                STEP();
        }
        list = "900\n901\n902\n903\n";
        bool listed = false;
        for (unsigned j = 0; j < 3 * CGROUP_PROCS_REFRESH; j++) {
                w += 10, busy += NS(10);
                STEP();
                listed |= has_pid(ps, np, 903);
        }
        assert_false(listed);
        list = "900\n901\n902\n903\n904\n";
        w += 13, busy += NS(10), late += NS(3);
        for (unsigned j = 0; j < CGROUP_PROCS_REFRESH && !listed; j++, w += 10, busy += NS(10)) {
                STEP();
                listed |= has_pid(ps, np, 904);
        }
        assert_true(listed);

        /* 905 joins and runs 10 ms, as much as 904 brought when it was listed (all its time since
         * it started, which the unit's time had already shown unexplained): the two must not
         * cancel out, and 905 is listed within CGROUP_PROCS_REFRESH intervals too. */
        list = "900\n901\n902\n903\n904\n905\n";
        w += 10, later += NS(10);
        listed = false;
        for (unsigned j = 0; j < CGROUP_PROCS_REFRESH && !listed; j++, w += 10, busy += NS(10)) {
                STEP();
                listed |= has_pid(ps, np, 905);
        }
        assert_true(listed);
#undef STEP
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
        /* sub.slice and g.service quiet from here on, so system.slice's debt stays 0: every
         * CGROUP_QUIET_REFRESH intervals all five are read, g.service included */
        unsigned full = 0;
        for (unsigned i = 0; i < 2 * CGROUP_QUIET_REFRESH; i++) {
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

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_fake_root_lazy, setup_tree, teardown_tree),
                cmocka_unit_test_setup_teardown(test_fake_lazy, setup_tree, teardown_tree),
                cmocka_unit_test_setup_teardown(test_fake_lazy_nested, setup_tree, teardown_tree),
                cmocka_unit_test_setup_teardown(test_fake_unit_processes_quiet, setup_tree,
                                                teardown_tree),
        };
        return cmocka_run_group_tests_name("cgroup-lazy", tests, NULL, NULL) ? 1 : 0;
}
