/* Tests for collectors/cgroup.c against real cgroups on this machine, with real processes (root
 * and a cgroup2 mount needed; exit code 77 when absent). */

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
#include "real-cgroup.h"

#include "collectors/cgroup.h"
#include "collectors/procfs.h"
#include "collectors/units.h"
#include "common/util.h"

/* ---- a real cgroup ---- */

static struct {
        char v2[1024];
        char root[1050], slice[1100], own_slice[1150], unit_a[1200], unit_b[1200];
        bool made_root, made_slice, made_own_slice, made_a, made_b;
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
        if (real.made_root)
                real_cgroup_remove(real.root);
        real.made_slice = real.made_root = false;
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

        /* A tree of this test's own, read as joulesd --cgroup-root reads one: whether the quiet
         * unit is left unread depends on its slice's CPU time being explained by the busy unit,
         * and how many cgroups a round reads on the host's whole tree depends on what the other
         * tests running beside it (or the host's services) do meanwhile. */
        snprintf(real.root, sizeof(real.root), "%s/t-joules-%d.root", real.v2, (int)getpid());
        assert_int_equal(mkdir(real.root, 0755), 0);
        real.made_root = true;
        snprintf(real.slice, sizeof(real.slice), "%s/system.slice", real.root);
        assert_int_equal(mkdir(real.slice, 0755), 0);
        real.made_slice = true;
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
        JoulesRoots roots = JOULES_ROOTS_DEFAULT;
        roots.cgroupfs = real.root;
        assert_int_equal(cgroup_set_open(&roots, &o, &s), 0);
        assert_int_equal(cgroup_set_sample(s), 0); /* baselines, processes included */
        size_t all_reads = cgroup_set_reads(s);
        assert_int_equal(all_reads, 5); /* the root, the two slices, the two units */
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
        if (real.made_root)
                real_cgroup_remove(real.root);
        real.made_slice = real.made_root = false;
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
                cmocka_unit_test_teardown(test_real_cgroup, real_teardown),
                cmocka_unit_test_teardown(test_real_lazy, real_teardown),
                cmocka_unit_test_teardown(test_real_many_procs, many_teardown),
                cmocka_unit_test_teardown(test_real_threaded, many_teardown),
        };
        const char *why;
        if (!real_cgroup_possible(real.v2, sizeof(real.v2), &why)) {
                printf("real cgroup test skipped: %s\n", why);
                return 77;
        }
        return cmocka_run_group_tests_name("cgroup-real", tests, NULL, NULL) ? 1 : 0;
}
