/* The perf `power` PMU energy source: its sysfs parsers from tables, and open/read against fake
 * PMU trees (tests/fixtures/power-pmu/) with perf_event_open injected (pipes as counters) and,
 * where the kernel lets us, real. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "collectors/rapl-perf.h"
#include "common/util.h"
#include "fd-count.h"

#define SCALE_2_32 "2.3283064365386962890625e-10"

static char fixtures[PATH_MAX];

static const char *fixture(const char *name)
{
        /* Two at a time: the sysfs and procfs roots of one call. */
        static char paths[2][PATH_MAX];
        static unsigned next;
        char *path = paths[next++ % 2];
        assert_int_equal(path_fmt(path, PATH_MAX, "%s/power-pmu/%s", fixtures, name), 0);
        return path;
}

/* ---- pure parsers ---- */

static void test_cpulist(void **state)
{
        static const struct {
                const char *in;
                int r;
                size_t n;
                unsigned cpus[8];
        } rows[] = {
                {"0\n", 0, 1, {0}},
                {"0,36\n", 0, 2, {0, 36}},
                {"0-1\n", 0, 2, {0, 1}},
                {"0-3,8-9\n", 0, 6, {0, 1, 2, 3, 8, 9}},
                {"5", 0, 1, {5}},
                {"2-2", 0, 1, {2}},
                {"", -EINVAL, 0, {0}},
                {"\n", -EINVAL, 0, {0}},
                {"a", -EINVAL, 0, {0}},
                {"0-", -EINVAL, 0, {0}},
                {"3-1", -EINVAL, 0, {0}},
                {"0,,1", -EINVAL, 0, {0}},
                {"0,", -EINVAL, 0, {0}},
                {"-1", -EINVAL, 0, {0}},
                {"0 1", -EINVAL, 0, {0}},
                {"0-3:2", -EINVAL, 0, {0}},
                {"99999999999", -EINVAL, 0, {0}},
                {"0-8", -E2BIG, 0, {0}},
                {"0,1,2,3,4,5,6,7,8", -E2BIG, 0, {0}},
        };
        for (size_t i = 0; i < ELEMENTSOF(rows); i++) {
                unsigned cpus[8];
                size_t n = 999;
                int r = perfpmu_parse_cpulist(rows[i].in, cpus, ELEMENTSOF(cpus), &n);
                if (r != rows[i].r)
                        fail_msg("cpulist '%s': %d, expected %d", rows[i].in, r, rows[i].r);
                if (r < 0) {
                        assert_int_equal(n, 999); /* untouched on failure */
                        continue;
                }
                assert_int_equal(n, rows[i].n);
                assert_memory_equal(cpus, rows[i].cpus, n * sizeof(unsigned));
                /* counted only (no array): the same number, the same bound */
                size_t c = 999;
                assert_int_equal(perfpmu_parse_cpulist(rows[i].in, NULL, ELEMENTSOF(cpus), &c), 0);
                assert_int_equal(c, n);
        }
}

static void test_format(void **state)
{
        static const struct {
                const char *in;
                int r;
                unsigned lo, hi;
        } rows[] = {
                {"config:0-7\n", 0, 0, 7},
                {"config:0-63", 0, 0, 63},
                {"config:8-15", 0, 8, 15},
                {"config:5\n", 0, 5, 5},
                {"config1:0-7", -EOPNOTSUPP, 0, 0},
                {"config2:0-31", -EOPNOTSUPP, 0, 0},
                {"config:0-7,32-35", -EOPNOTSUPP, 0, 0},
                {"config:7-0", -EINVAL, 0, 0},
                {"config:0-64", -EINVAL, 0, 0},
                {"config:", -EINVAL, 0, 0},
                {"event", -EINVAL, 0, 0},
                {"", -EINVAL, 0, 0},
                {"config:0-7x", -EINVAL, 0, 0},
        };
        for (size_t i = 0; i < ELEMENTSOF(rows); i++) {
                PerfPmuFormat f = {99, 99};
                int r = perfpmu_parse_format(rows[i].in, &f);
                if (r != rows[i].r)
                        fail_msg("format '%s': %d, expected %d", rows[i].in, r, rows[i].r);
                if (r == 0) {
                        assert_int_equal(f.lo, rows[i].lo);
                        assert_int_equal(f.hi, rows[i].hi);
                } else {
                        assert_int_equal(f.lo, 99);
                }
        }
}

static void test_event(void **state)
{
        static const PerfPmuFormat f07 = {0, 7}, f815 = {8, 15}, f063 = {0, 63};
        static const struct {
                const char *in;
                const PerfPmuFormat *fmt;
                int r;
                uint64_t config;
        } rows[] = {
                {"event=0x02\n", &f07, 0, 0x02},
                {"event=0x01", &f07, 0, 0x01},
                {"event=0x05\n", &f07, 0, 0x05},
                {"event=2", &f07, 0, 2},
                {"event=0xff", &f07, 0, 0xff},
                {"event=0x02", &f815, 0, 0x0200},
                {"event=0xffffffffffffffff", &f063, 0, UINT64_MAX},
                {"event=0x100", &f07, -ERANGE, 0},
                {"event=0x1ffffffffffffffff", &f063, -ERANGE, 0},
                {"umask=0x01", &f07, -EOPNOTSUPP, 0},
                {"event=0x02,umask=0x01", &f07, -EOPNOTSUPP, 0},
                {"event=", &f07, -EINVAL, 0},
                {"event=0xzz", &f07, -EINVAL, 0},
                {"event=-1", &f07, -EINVAL, 0},
                {"event", &f07, -EINVAL, 0},
                {"", &f07, -EINVAL, 0},
        };
        for (size_t i = 0; i < ELEMENTSOF(rows); i++) {
                uint64_t c = 12345;
                int r = perfpmu_parse_event(rows[i].in, rows[i].fmt, &c);
                if (r != rows[i].r)
                        fail_msg("event '%s': %d, expected %d", rows[i].in, r, rows[i].r);
                assert_true(r == 0 ? c == rows[i].config : c == 12345);
        }
}

static void test_scale(void **state)
{
        static const struct {
                const char *in;
                int r;
                bool pow2;
                int exp2;
        } rows[] = {
                {SCALE_2_32 "\n", 0, true, -32},
                {"2.3283064365386962890625e-10", 0, true, -32},
                {"6.103515625e-05", 0, true, -14}, /* the raw unit of older Intel parts */
                {"1.52587890625e-05", 0, true, -16},
                {"1", 0, true, 0},
                {"0.5", 0, true, -1},
                {"4", 0, true, 2},
                {"1e-6", 0, false, 0},
                {"2.3283064365387e-10", 0, false, 0}, /* rounded, so not 2^-32 */
                {"0", -EINVAL, false, 0},
                {"-2.3283064365386962890625e-10", -EINVAL, false, 0},
                {"abc", -EINVAL, false, 0},
                {"", -EINVAL, 0, 0},
                {"inf", -EINVAL, false, 0},
                {"nan", -EINVAL, false, 0},
                {"1e-10 J", -EINVAL, false, 0},
                {"1e999999", -EINVAL, false, 0},
        };
        for (size_t i = 0; i < ELEMENTSOF(rows); i++) {
                PerfPmuScale s = {.exp2 = 777};
                int r = perfpmu_parse_scale(rows[i].in, &s);
                if (r != rows[i].r)
                        fail_msg("scale '%s': %d, expected %d", rows[i].in, r, rows[i].r);
                if (r < 0) {
                        assert_int_equal(s.exp2, 777);
                        continue;
                }
                if (s.pow2 != rows[i].pow2)
                        fail_msg("scale '%s': pow2 %d", rows[i].in, s.pow2);
                if (s.pow2)
                        assert_int_equal(s.exp2, rows[i].exp2);
        }
}

static void test_count_to_uj(void **state)
{
        PerfPmuScale s;
        assert_int_equal(perfpmu_parse_scale(SCALE_2_32, &s), 0);
        /* Expected values: floor(count * 10^6 / 2^32), computed with arbitrary precision. */
        static const struct {
                uint64_t count, uj;
        } rows[] = {
                {0, 0},
                {1, 0},
                {4294, 0},
                {4295, 1},
                {UINT64_C(0xffffffff), 999999},
                {UINT64_C(0x100000000), 1000000},
                {UINT64_C(0x300000005), 3000000},
                /* 200 W for a day: 17.28 MJ. */
                {UINT64_C(17280000) << 32, UINT64_C(17280000000000)},
                {(UINT64_C(1) << 53) + 1, UINT64_C(2097152000000)},
                {UINT64_C(0x123456789abcdef0), UINT64_C(305419896604444)},
                /* The last count before the 64-bit total wraps (~136 years at 1 kW): a double
                 * rounds the count up to 2^64 and answers 4294967296000000. */
                {UINT64_MAX, UINT64_C(4294967295999999)},
        };
        for (size_t i = 0; i < ELEMENTSOF(rows); i++) {
                uint64_t uj = perfpmu_count_to_uj(&s, rows[i].count);
                if (uj != rows[i].uj)
                        fail_msg("count %#" PRIx64 ": %" PRIu64 " uJ, expected %" PRIu64,
                                 rows[i].count, uj, rows[i].uj);
        }
        /* A huge power-of-two scale: 0 stays 0 without shifting past 128 bits (undefined
         * behaviour found by fuzz/fuzz-perf-pmu.c), anything else saturates. */
        PerfPmuScale big;
        assert_int_equal(perfpmu_parse_scale("0x1p500", &big), 0);
        assert_true(big.pow2 && big.exp2 == 500);
        assert_int_equal(perfpmu_count_to_uj(&big, 0), 0);
        assert_true(perfpmu_count_to_uj(&big, 1) == UINT64_MAX);
        /* The exact path differs from a plain double where the double loses bits. */
        double dbl = (double)UINT64_MAX * 2.3283064365386962890625e-10 * 1e6;
        assert_true((uint64_t)dbl != perfpmu_count_to_uj(&s, UINT64_MAX));

        /* Monotonic and additive over a long run of large counts: deltas of the µJ counter sum
         * to the counter, nothing lost. */
        uint64_t prev = perfpmu_count_to_uj(&s, UINT64_C(1) << 62);
        for (uint64_t c = (UINT64_C(1) << 62) + 1; c < (UINT64_C(1) << 62) + 100000; c += 997) {
                uint64_t uj = perfpmu_count_to_uj(&s, c);
                assert_true(uj >= prev);
                prev = uj;
        }

        /* Other powers of two, and saturation. */
        PerfPmuScale s14, s4;
        assert_int_equal(perfpmu_parse_scale("6.103515625e-05", &s14), 0);
        assert_int_equal(perfpmu_count_to_uj(&s14, 16384), 1000000);
        assert_int_equal(perfpmu_count_to_uj(&s14, UINT64_C(1) << 40),
                         (UINT64_C(1) << 26) * 1000000);
        assert_int_equal(perfpmu_count_to_uj(&s14, UINT64_C(1) << 62), UINT64_MAX);
        assert_int_equal(perfpmu_parse_scale("4", &s4), 0);
        assert_int_equal(perfpmu_count_to_uj(&s4, 1), 4000000);
        assert_int_equal(perfpmu_count_to_uj(&s4, UINT64_C(1) << 50), UINT64_MAX);
}

static void test_count_to_uj_not_pow2(void **state)
{
        PerfPmuScale s;
        assert_int_equal(perfpmu_parse_scale("1e-6", &s), 0);
        assert_false(s.pow2);
        /* 1e-6 J per count is 1 µJ per count, to the nearest µJ. */
        static const uint64_t counts[] = {
                0, 1, 999, 1000000, UINT64_C(1) << 40, UINT64_C(12345678901234)};
        for (size_t i = 0; i < ELEMENTSOF(counts); i++)
                assert_int_equal(perfpmu_count_to_uj(&s, counts[i]), counts[i]);
        assert_int_equal(perfpmu_parse_scale("3e-3", &s), 0);
        assert_int_equal(perfpmu_count_to_uj(&s, 7), 21000);
        assert_int_equal(perfpmu_count_to_uj(&s, UINT64_MAX), UINT64_MAX); /* saturates */
        uint64_t prev = 0;
        for (uint64_t c = UINT64_C(1) << 50; c < (UINT64_C(1) << 50) + 10000; c += 3) {
                uint64_t uj = perfpmu_count_to_uj(&s, c);
                assert_true(uj >= prev);
                prev = uj;
        }
}

/* ---- open and read with an injected perf_event_open ---- */

typedef struct FakeCall {
        struct perf_event_attr attr;
        pid_t pid;
        int cpu, group_fd;
        unsigned long flags;
        int wfd; /* write end of the pipe handed out as the counter, -1 if none */
} FakeCall;

static struct {
        int fail_errno; /* errno for the failing call, 0: never fail */
        size_t fail_at; /* index of the first failing call */
        size_t n;
        FakeCall calls[64];
} fake;

static int fake_perf_event_open(struct perf_event_attr *attr, pid_t pid, int cpu, int group_fd,
                                unsigned long flags)
{
        assert_true(fake.n < ELEMENTSOF(fake.calls));
        FakeCall *c = &fake.calls[fake.n++];
        *c = (FakeCall){.attr = *attr,
                        .pid = pid,
                        .cpu = cpu,
                        .group_fd = group_fd,
                        .flags = flags,
                        .wfd = -1};
        if (fake.fail_errno && fake.n > fake.fail_at) {
                errno = fake.fail_errno;
                return -1;
        }
        int p[2];
        assert_int_equal(pipe2(p, O_CLOEXEC), 0);
        c->wfd = p[1];
        return p[0];
}

static const PerfPmuSyscalls fake_syscalls = {.perf_event_open = fake_perf_event_open};

static void fake_reset(int fail_errno, size_t fail_at)
{
        for (size_t i = 0; i < fake.n; i++)
                if (fake.calls[i].wfd >= 0)
                        (void)close(fake.calls[i].wfd);
        memset(&fake, 0, sizeof(fake));
        fake.fail_errno = fail_errno;
        fake.fail_at = fail_at;
        perfpmu_set_syscalls(&fake_syscalls);
}

static void fake_write_count(size_t call, uint64_t count)
{
        assert_true(call < fake.n && fake.calls[call].wfd >= 0);
        assert_int_equal(write(fake.calls[call].wfd, &count, sizeof(count)), sizeof(count));
}

static int teardown(void **state)
{
        fake_reset(0, 0);
        perfpmu_set_syscalls(NULL);
        return 0;
}

static int open_fixture_procfs(const char *name, const char *procfs, const EnergyOptions *opts,
                               EnergySource **ret, char *err, size_t errlen)
{
        JoulesRoots roots = {.sysfs = fixture(name), .procfs = fixture(procfs)};
        EnergyOptions o = {.model_idle_w_per_cpu = 0.74, .model_max_w_per_cpu = 3.5};
        err[0] = '\0';
        return energy_source_perf.open(&roots, opts ? opts : &o, ret, err, errlen);
}

static int open_fixture(const char *name, const EnergyOptions *opts, EnergySource **ret, char *err,
                        size_t errlen)
{
        return open_fixture_procfs(name, "procfs-paranoid-2", opts, ret, err, errlen);
}

typedef struct ExpectDomain {
        const char *name, *zone;
        EnergyDomainKind kind;
        int package;
        bool in_host;
        uint64_t config;
        int cpu;
} ExpectDomain;

static void check_domains(const EnergySource *s, const ExpectDomain *want, size_t n, uint32_t type)
{
        assert_int_equal(s->n_domains, n);
        assert_ptr_equal(s->ops, &energy_source_perf);
        assert_int_equal(fake.n, n);
        for (size_t i = 0; i < n; i++) {
                const EnergyDomain *d = &s->domains[i];
                assert_string_equal(d->name, want[i].name);
                assert_string_equal(d->zone, want[i].zone);
                assert_int_equal(d->kind, want[i].kind);
                assert_int_equal(d->package, want[i].package);
                if (d->in_host != want[i].in_host)
                        fail_msg("%s: in_host %d", d->name, d->in_host);
                assert_false(d->wraps);
                assert_int_equal(d->max_range_uj, 0);

                const FakeCall *c = &fake.calls[i];
                assert_int_equal(c->attr.type, type);
                assert_int_equal(c->attr.size, sizeof(struct perf_event_attr));
                assert_int_equal(c->attr.config, want[i].config);
                assert_int_equal(c->attr.sample_period, 0);
                assert_int_equal(c->attr.disabled, 0);
                assert_int_equal(c->pid, -1);
                assert_int_equal(c->cpu, want[i].cpu);
                assert_int_equal(c->group_fd, -1);
                assert_int_equal(c->flags, PERF_FLAG_FD_CLOEXEC);
        }
}

static void test_open_intel_2s(void **state)
{
        char err[512];
        EnergySource *s = NULL;
        fake_reset(0, 0);
        assert_false(energy_source_perf.estimated);
        assert_string_equal(energy_source_perf.name, "perf");
        assert_int_equal(open_fixture("intel-2s", NULL, &s, err, sizeof(err)), 0);
        static const ExpectDomain want[] = {
                {"package-0", "power/energy-pkg/cpu0", ENERGY_DOMAIN_PACKAGE, 0, true, 2, 0},
                {"package-0/core", "power/energy-cores/cpu0", ENERGY_DOMAIN_CORE, 0, false, 1, 0},
                {"package-0/dram", "power/energy-ram/cpu0", ENERGY_DOMAIN_DRAM, 0, true, 3, 0},
                {"package-1", "power/energy-pkg/cpu36", ENERGY_DOMAIN_PACKAGE, 1, true, 2, 36},
                {"package-1/core", "power/energy-cores/cpu36", ENERGY_DOMAIN_CORE, 1, false, 1, 36},
                {"package-1/dram", "power/energy-ram/cpu36", ENERGY_DOMAIN_DRAM, 1, true, 3, 36},
                /* psys on every package: only the master package's reads non-zero, and on
                 * Sapphire Rapids that need not be package 0 (intel_rapl_common.c registers the
                 * psys of whichever package reads non-zero). */
                {"psys", "power/energy-psys/cpu0", ENERGY_DOMAIN_PSYS, -1, false, 5, 0},
                {"psys-1", "power/energy-psys/cpu36", ENERGY_DOMAIN_PSYS, -1, false, 5, 36},
        };
        check_domains(s, want, ELEMENTSOF(want), 24);

        /* Read: each pipe holds the raw count the kernel would return. */
        static const uint64_t counts[] = {
                UINT64_C(1) << 32, /* 1 J */
                0,
                UINT64_C(0x123456789abcdef0),
                UINT64_MAX,
                3,
                UINT64_C(17280000) << 32,
                0, /* psys of a slave package */
                UINT64_C(0x300000005),
        };
        static const uint64_t uj[] = {
                1000000,
                0,
                UINT64_C(305419896604444),
                UINT64_C(4294967295999999),
                0,
                UINT64_C(17280000000000),
                0,
                3000000,
        };
        for (size_t i = 0; i < ELEMENTSOF(counts); i++)
                fake_write_count(i, counts[i]);
        uint64_t v[8];
        bool valid[8];
        assert_int_equal(energy_source_perf.read(s, v, valid), 0);
        for (size_t i = 0; i < ELEMENTSOF(uj); i++) {
                assert_true(valid[i]);
                assert_int_equal(v[i], uj[i]);
        }

        /* One counter fails (EOF on its pipe): only that domain is invalid. */
        for (size_t i = 0; i < ELEMENTSOF(counts); i++)
                if (i != 4)
                        fake_write_count(i, counts[i] / 2);
        (void)close(fake.calls[4].wfd);
        fake.calls[4].wfd = -1;
        assert_int_equal(energy_source_perf.read(s, v, valid), 0);
        for (size_t i = 0; i < ELEMENTSOF(counts); i++)
                assert_true(valid[i] == (i != 4));
        assert_int_equal(v[0], 500000);

        /* All fail: an error, nothing valid. */
        for (size_t i = 0; i < fake.n; i++)
                if (fake.calls[i].wfd >= 0) {
                        (void)close(fake.calls[i].wfd);
                        fake.calls[i].wfd = -1;
                }
        assert_true(energy_source_perf.read(s, v, valid) < 0);
        for (size_t i = 0; i < ELEMENTSOF(counts); i++)
                assert_false(valid[i]);
        energy_source_perf.close(s);
        energy_source_perf.close(NULL);
}

static void test_open_host_psys(void **state)
{
        char err[512];
        EnergySource *s = NULL;
        EnergyOptions o = {.host_psys = true};
        fake_reset(0, 0);
        assert_int_equal(open_fixture("intel-2s", &o, &s, err, sizeof(err)), 0);
        size_t n_psys = 0;
        for (size_t i = 0; i < s->n_domains; i++) {
                assert_true(s->domains[i].in_host == (s->domains[i].kind == ENERGY_DOMAIN_PSYS));
                n_psys += s->domains[i].kind == ENERGY_DOMAIN_PSYS;
        }
        /* Both packages' psys, so the master's is in the host total whichever package it is. */
        assert_int_equal(n_psys, 2);
        energy_source_perf.close(s);

        /* Asked for psys where there is none: said, not silently replaced. */
        fake_reset(0, 0);
        s = NULL;
        assert_int_equal(open_fixture("amd-epyc", &o, &s, err, sizeof(err)), -EINVAL);
        assert_null(s);
        assert_non_null(strstr(err, "energy-psys"));
        assert_int_equal(fake.n, 0);
}

/* Granite Rapids / Sierra Forest: arch/x86/events/rapl.c does not know them; the power PMU is the
 * one intel_rapl_common.c registers for TPMI packages (Linux 6.10+): energy-pkg, energy-ram and
 * energy-psys with the same codes and 2^-32 J scale, one CPU per package in cpumask, and on a
 * package without the psys (System) domain, which only the domain root has, energy-psys opens
 * and counts 0 (rapl_pmu_event_init() leaves hw.idx at -1). Counted on every package, the root's
 * psys is the host total whichever package the root is: package 1 here. */
static void test_open_gnr_tpmi(void **state)
{
        char err[512];
        EnergySource *s = NULL;
        EnergyOptions o = {.host_psys = true};
        fake_reset(0, 0);
        assert_int_equal(open_fixture("intel-gnr-tpmi", &o, &s, err, sizeof(err)), 0);
        static const ExpectDomain want[] = {
                {"package-0", "power/energy-pkg/cpu0", ENERGY_DOMAIN_PACKAGE, 0, false, 2, 0},
                {"package-0/dram", "power/energy-ram/cpu0", ENERGY_DOMAIN_DRAM, 0, false, 3, 0},
                {"package-1", "power/energy-pkg/cpu128", ENERGY_DOMAIN_PACKAGE, 1, false, 2, 128},
                {"package-1/dram", "power/energy-ram/cpu128", ENERGY_DOMAIN_DRAM, 1, false, 3, 128},
                {"psys", "power/energy-psys/cpu0", ENERGY_DOMAIN_PSYS, -1, true, 5, 0},
                {"psys-1", "power/energy-psys/cpu128", ENERGY_DOMAIN_PSYS, -1, true, 5, 128},
        };
        check_domains(s, want, ELEMENTSOF(want), 35);

        static const uint64_t counts[] = {
                UINT64_C(250) << 32,
                UINT64_C(40) << 32,
                UINT64_C(245) << 32,
                UINT64_C(38) << 32,
                0, /* package 0 is not the root */
                UINT64_C(690) << 32,
        };
        for (size_t i = 0; i < ELEMENTSOF(counts); i++)
                fake_write_count(i, counts[i]);
        uint64_t v[6];
        bool valid[6];
        assert_int_equal(energy_source_perf.read(s, v, valid), 0);
        uint64_t host = 0, packages = 0;
        for (size_t i = 0; i < ELEMENTSOF(counts); i++) {
                assert_true(valid[i]);
                if (s->domains[i].in_host)
                        host += v[i];
                if (s->domains[i].kind == ENERGY_DOMAIN_PACKAGE ||
                    s->domains[i].kind == ENERGY_DOMAIN_DRAM)
                        packages += v[i];
        }
        /* The platform's 690 J, counted once; it holds the packages and their dram (573 J). */
        assert_int_equal(host, UINT64_C(690000000));
        assert_int_equal(packages, UINT64_C(573000000));
        energy_source_perf.close(s);

        /* The default host total: the packages and their dram, psys outside it. */
        fake_reset(0, 0);
        s = NULL;
        assert_int_equal(open_fixture("intel-gnr-tpmi", NULL, &s, err, sizeof(err)), 0);
        for (size_t i = 0; i < s->n_domains; i++)
                assert_true(s->domains[i].in_host == (s->domains[i].kind != ENERGY_DOMAIN_PSYS));
        energy_source_perf.close(s);
}

static void test_open_intel_laptop(void **state)
{
        char err[512];
        EnergySource *s = NULL;
        fake_reset(0, 0);
        assert_int_equal(open_fixture("intel-laptop", NULL, &s, err, sizeof(err)), 0);
        static const ExpectDomain want[] = {
                {"package-0", "power/energy-pkg/cpu0", ENERGY_DOMAIN_PACKAGE, 0, true, 2, 0},
                {"package-0/core", "power/energy-cores/cpu0", ENERGY_DOMAIN_CORE, 0, false, 1, 0},
                {"package-0/dram", "power/energy-ram/cpu0", ENERGY_DOMAIN_DRAM, 0, true, 3, 0},
                {"package-0/gpu", "power/energy-gpu/cpu0", ENERGY_DOMAIN_UNCORE, 0, false, 4, 0},
                {"psys", "power/energy-psys/cpu0", ENERGY_DOMAIN_PSYS, -1, false, 5, 0},
        };
        check_domains(s, want, ELEMENTSOF(want), 14);
        energy_source_perf.close(s);
}

static void test_open_intel_2die(void **state)
{
        char err[512];
        EnergySource *s = NULL;
        fake_reset(0, 0);
        assert_int_equal(open_fixture("intel-2die", NULL, &s, err, sizeof(err)), 0);
        static const ExpectDomain want[] = {
                {"package-0-die-0", "power/energy-pkg/cpu0", ENERGY_DOMAIN_PACKAGE, 0, true, 2, 0},
                {"package-0-die-0/dram", "power/energy-ram/cpu0", ENERGY_DOMAIN_DRAM, 0, true, 3,
                 0},
                {"package-0-die-1", "power/energy-pkg/cpu24", ENERGY_DOMAIN_PACKAGE, 0, true, 2,
                 24},
                {"package-0-die-1/dram", "power/energy-ram/cpu24", ENERGY_DOMAIN_DRAM, 0, true, 3,
                 24},
        };
        check_domains(s, want, ELEMENTSOF(want), 24);
        energy_source_perf.close(s);
}

static void test_open_amd(void **state)
{
        char err[512];
        EnergySource *s = NULL;
        fake_reset(0, 0);
        assert_int_equal(open_fixture("amd-epyc", NULL, &s, err, sizeof(err)), 0);
        static const ExpectDomain epyc[] = {
                {"package-0", "power/energy-pkg/cpu0", ENERGY_DOMAIN_PACKAGE, 0, true, 2, 0},
        };
        check_domains(s, epyc, ELEMENTSOF(epyc), 11);
        energy_source_perf.close(s);

        fake_reset(0, 0);
        assert_int_equal(open_fixture("amd-zen4", NULL, &s, err, sizeof(err)), 0);
        static const ExpectDomain zen4[] = {
                {"package-0", "power/energy-pkg/cpu0", ENERGY_DOMAIN_PACKAGE, 0, true, 2, 0},
                {"package-0/core", "power/energy-cores/cpu0", ENERGY_DOMAIN_CORE, 0, false, 1, 0},
        };
        check_domains(s, zen4, ELEMENTSOF(zen4), 11);
        energy_source_perf.close(s);
}

/* AMD Zen 4 (12 CCDs, one package) on a kernel from 6.10 to 6.11 before commit 8d72eba1cf8c
 * ("perf/x86/rapl: Fix the energy-pkg event for AMD CPUs"): the power PMU took the CCD for a die,
 * so cpumask lists one CPU per CCD and each reads the same MSR_AMD_PKG_ENERGY_STATUS. The package
 * is counted once, not twelve times; Intel's die-scoped counters (CLX-AP) stay per die. */
static void test_open_amd_ccd_dies(void **state)
{
        char err[512];
        EnergySource *s = NULL;
        fake_reset(0, 0);
        assert_int_equal(
                open_fixture_procfs("amd-zen4-ccd", "procfs-amd", NULL, &s, err, sizeof(err)), 0);
        static const ExpectDomain want[] = {
                {"package-0", "power/energy-pkg/cpu0", ENERGY_DOMAIN_PACKAGE, 0, true, 2, 0},
        };
        check_domains(s, want, ELEMENTSOF(want), 11);
        energy_source_perf.close(s);

        fake_reset(0, 0);
        s = NULL;
        assert_int_equal(
                open_fixture_procfs("intel-2die", "procfs-intel", NULL, &s, err, sizeof(err)), 0);
        assert_int_equal(s->n_domains, 4);
        assert_string_equal(s->domains[0].name, "package-0-die-0");
        assert_string_equal(s->domains[2].name, "package-0-die-1");
        energy_source_perf.close(s);
}

static void test_open_bad_events_skipped(void **state)
{
        /* Bad code, zero scale, Watts, an unknown term: each skipped, energy-pkg kept. */
        char err[512];
        EnergySource *s = NULL;
        fake_reset(0, 0);
        assert_int_equal(open_fixture("bad-events", NULL, &s, err, sizeof(err)), 0);
        static const ExpectDomain want[] = {
                {"package-0", "power/energy-pkg/cpu0", ENERGY_DOMAIN_PACKAGE, 0, true, 2, 0},
        };
        check_domains(s, want, ELEMENTSOF(want), 24);
        energy_source_perf.close(s);
}

static void test_open_errors(void **state)
{
        static const struct {
                const char *fixture;
                int fail_errno;
                size_t fail_at;
                int r;
                const char *err_has; /* NULL: no check */
        } rows[] = {
                /* The kernel has no such PMU or event: -ENODEV, so `auto` tries powercap. */
                {"intel-2s", ENOENT, 0, -ENODEV, "energy-pkg"},
                {"intel-2s", EOPNOTSUPP, 0, -ENODEV, NULL},
                {"intel-2s", ENODEV, 0, -ENODEV, NULL},
                {"intel-2s", EINVAL, 3, -ENODEV, "cpu 36"},
                /* No permission: an error for the user saying what to grant. */
                {"intel-2s", EACCES, 0, -EACCES, "CAP_PERFMON"},
                {"intel-2s", EPERM, 2, -EACCES, "perf_event_paranoid <= 0 (it is 2)"},
                /* Anything else stops with its own errno. */
                {"intel-2s", EMFILE, 5, -EMFILE, "energy-"},
                /* Trees. */
                {"procfs-paranoid-2", 0, 0, -ENODEV, "no perf power PMU"},
                {"malformed-type", 0, 0, -EINVAL, "/type"},
                {"malformed-cpumask", 0, 0, -EINVAL, "/cpumask"},
                {"bad-format", 0, 0, -ENODEV, "config:0-7,32-35"},
                {"no-joules", 0, 0, -ENODEV, "no energy events"},
        };
        for (size_t i = 0; i < ELEMENTSOF(rows); i++) {
                char err[512];
                EnergySource *s = NULL;
                fake_reset(rows[i].fail_errno, rows[i].fail_at);
                size_t fds = count_fds();
                int r = open_fixture(rows[i].fixture, NULL, &s, err, sizeof(err));
                if (r != rows[i].r)
                        fail_msg("row %zu (%s, errno %d): %d, expected %d (%s)", i, rows[i].fixture,
                                 rows[i].fail_errno, r, rows[i].r, err);
                assert_null(s);
                if (rows[i].err_has && !strstr(err, rows[i].err_has))
                        fail_msg("row %zu: err '%s' lacks '%s'", i, err, rows[i].err_has);
                /* Every counter opened before the failure was closed again: only the fake's
                 * own write ends remain. */
                size_t wfds = 0;
                for (size_t k = 0; k < fake.n; k++)
                        wfds += fake.calls[k].wfd >= 0;
                assert_int_equal(count_fds(), fds + wfds);
        }
}

/* ---- the real perf_event_open ---- */

static void test_real_syscall_fallback(void **state)
{
        /* No kernel has these PMU types (nor CPU 36 here, nor CPU 4095 after a real software
         * counter on CPU 0 opened and must be closed again): ENOENT/EINVAL become -ENODEV, or
         * -EACCES where the test may not open system-wide counters at all. */
        perfpmu_set_syscalls(NULL);
        static const char *const trees[] = {"unknown-type", "intel-2s", "amd-zen4",
                                            "software-cpu-4095"};
        for (size_t i = 0; i < ELEMENTSOF(trees); i++) {
                char err[512];
                EnergySource *s = NULL;
                size_t fds = count_fds();
                int r = open_fixture(trees[i], NULL, &s, err, sizeof(err));
                if (r != -ENODEV && r != -EACCES)
                        fail_msg("%s: %d (%s)", trees[i], r, err);
                assert_null(s);
                assert_int_equal(count_fds(), fds);
        }
}

static void test_real_syscall_software_pmu(void **state)
{
        /* The software PMU's cpu-clock dressed as a power PMU: the real open and read path
         * against the kernel, on a machine that has no RAPL. */
        perfpmu_set_syscalls(NULL);
        char err[512];
        EnergySource *s = NULL;
        int r = open_fixture("software-cpu-clock", NULL, &s, err, sizeof(err));
        if (r == -EACCES)
                skip(); /* not privileged for system-wide counters */
        if (r < 0)
                fail_msg("open: %d (%s)", r, err);
        assert_int_equal(s->n_domains, 1);
        uint64_t a, b;
        bool va, vb;
        uint64_t t0 = now_monotonic_ns();
        assert_int_equal(energy_source_perf.read(s, &a, &va), 0);
        sleep_us(20000);
        assert_int_equal(energy_source_perf.read(s, &b, &vb), 0);
        uint64_t t1 = now_monotonic_ns();
        assert_true(va && vb);
        /* cpu-clock counts ns of CPU 0, at most the time that passed between the two reads
         * (not the 20 ms asked for: a loaded machine can sleep much longer), each ns read as
         * 2^-32 J: 1e6 / 2^32 "µJ", plus one for rounding. */
        assert_true(b >= a);
        uint64_t bound = (uint64_t)((double)(t1 - t0) * 1e6 / 4294967296.0) + 1;
        if (b - a > bound)
                fail_msg("%" PRIu64 " uJ in %" PRIu64 " ns (at most %" PRIu64 ")", b - a, t1 - t0,
                         bound);
        energy_source_perf.close(s);
}

int main(void)
{
        const char *f = getenv("JOULES_FIXTURES");
        if (!f) {
                fprintf(stderr, "JOULES_FIXTURES is not set\n");
                return 1;
        }
        snprintf(fixtures, sizeof(fixtures), "%s", f);
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_cpulist),
                cmocka_unit_test(test_format),
                cmocka_unit_test(test_event),
                cmocka_unit_test(test_scale),
                cmocka_unit_test(test_count_to_uj),
                cmocka_unit_test(test_count_to_uj_not_pow2),
                cmocka_unit_test_teardown(test_open_intel_2s, teardown),
                cmocka_unit_test_teardown(test_open_host_psys, teardown),
                cmocka_unit_test_teardown(test_open_gnr_tpmi, teardown),
                cmocka_unit_test_teardown(test_open_intel_laptop, teardown),
                cmocka_unit_test_teardown(test_open_intel_2die, teardown),
                cmocka_unit_test_teardown(test_open_amd, teardown),
                cmocka_unit_test_teardown(test_open_amd_ccd_dies, teardown),
                cmocka_unit_test_teardown(test_open_bad_events_skipped, teardown),
                cmocka_unit_test_teardown(test_open_errors, teardown),
                cmocka_unit_test_teardown(test_real_syscall_fallback, teardown),
                cmocka_unit_test_teardown(test_real_syscall_software_pmu, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
