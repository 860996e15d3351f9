/* Tests of the powercap RAPL energy source against the fake sysfs trees in
 * tests/fixtures/powercap/ (see its README.md) and against tests/tools/rapl-sim. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "collectors/energy.h"
#include "collectors/rapl-powercap.h"
#include "common/log.h"
#include "common/util.h"

#define PKG_MAX      UINT64_C(262143328850)
#define SRV_DRAM_MAX UINT64_C(65712999613)
#define AMD_MAX      UINT64_C(65532610987)
#define SPR_PSYS_MAX UINT64_C(4294967295000000)

#define PACKAGE ENERGY_DOMAIN_PACKAGE
#define CORE    ENERGY_DOMAIN_CORE
#define UNCORE  ENERGY_DOMAIN_UNCORE
#define DRAM    ENERGY_DOMAIN_DRAM
#define PSYS    ENERGY_DOMAIN_PSYS
#define OTHER   ENERGY_DOMAIN_OTHER

typedef struct ExpDomain {
        const char *name;
        const char *zone;
        EnergyDomainKind kind;
        int package;
        bool in_host;
        uint64_t max_range_uj;
        uint64_t energy_uj; /* what the fixture's energy_uj holds */
} ExpDomain;

typedef struct FixtureCase {
        const char *fixture;
        bool host_psys;
        uint64_t host_uj;     /* sum of the in_host domains, worked out by hand */
        ExpDomain domains[8]; /* in the order the source must report them; ends at name NULL */
        const char *procfs;   /* procfs root under fixtures/powercap/; NULL: procfs-intel */
} FixtureCase;

/* clang-format off */
static const FixtureCase fixture_cases[] = {
    {"intel-1s", false, UINT64_C(82060813824), {
        {"package-0",        "intel-rapl:0",   PACKAGE, 0, true,  PKG_MAX, 72138452337},
        {"package-0/core",   "intel-rapl:0:0", CORE,    0, false, PKG_MAX, 40187532117},
        {"package-0/uncore", "intel-rapl:0:1", UNCORE,  0, false, PKG_MAX, 1873622851},
        {"package-0/dram",   "intel-rapl:0:2", DRAM,    0, true,  PKG_MAX, 9922361487},
    }, NULL},
    {"intel-2s-dram", false, UINT64_C(396082371253), {
        {"package-0",      "intel-rapl:0",   PACKAGE, 0, true,  PKG_MAX,      171542098713},
        {"package-0/core", "intel-rapl:0:0", CORE,    0, false, PKG_MAX,      98312005874},
        {"package-0/dram", "intel-rapl:0:1", DRAM,    0, true,  SRV_DRAM_MAX, 31877130552},
        {"package-1",      "intel-rapl:1",   PACKAGE, 1, true,  PKG_MAX,      163009823118},
        {"package-1/core", "intel-rapl:1:0", CORE,    1, false, PKG_MAX,      90476301552},
        {"package-1/dram", "intel-rapl:1:1", DRAM,    1, true,  SRV_DRAM_MAX, 29653318870},
    }, NULL},
    {"multi-die", false, UINT64_C(276561803170), {
        {"package-0-die-0",      "intel-rapl:0",   PACKAGE, 0, true, PKG_MAX,      118442190032},
        {"package-0-die-0/dram", "intel-rapl:0:0", DRAM,    0, true, SRV_DRAM_MAX, 20331870411},
        {"package-0-die-1",      "intel-rapl:1",   PACKAGE, 0, true, PKG_MAX,      117930016624},
        {"package-0-die-1/dram", "intel-rapl:1:0", DRAM,    0, true, SRV_DRAM_MAX, 19857726103},
    }, NULL},
    /* The MMIO twin of package-0 is dropped: the MSR zone is kept, with its subzones. */
    {"mmio-dup", false, UINT64_C(52209113841), {
        {"package-0",        "intel-rapl:0",   PACKAGE, 0,  true,  PKG_MAX, 52209113841},
        {"package-0/core",   "intel-rapl:0:0", CORE,    0,  false, PKG_MAX, 23860542100},
        {"package-0/uncore", "intel-rapl:0:1", UNCORE,  0,  false, PKG_MAX, 2210094587},
        {"psys",             "intel-rapl:1",   PSYS,    -1, false, PKG_MAX, 98701234562},
    }, NULL},
    {"mmio-only", false, UINT64_C(52209113841), {
        {"package-0", "intel-rapl-mmio:0", PACKAGE, 0, true, PKG_MAX, 52209113841},
    }, NULL},
    {"psys", false, UINT64_C(61234987003), {
        {"package-0",      "intel-rapl:0",   PACKAGE, 0,  true,  PKG_MAX, 61234987003},
        {"package-0/core", "intel-rapl:0:0", CORE,    0,  false, PKG_MAX, 30117722801},
        {"psys",           "intel-rapl:1",   PSYS,    -1, false, PKG_MAX, 130877124660},
    }, NULL},
    {"psys", true, UINT64_C(130877124660), {
        {"package-0",      "intel-rapl:0",   PACKAGE, 0,  false, PKG_MAX, 61234987003},
        {"package-0/core", "intel-rapl:0:0", CORE,    0,  false, PKG_MAX, 30117722801},
        {"psys",           "intel-rapl:1",   PSYS,    -1, true,  PKG_MAX, 130877124660},
    }, NULL},
    /* Zone ids are not package numbers: package-1 is intel-rapl:2. Only the psys master's psys is
     * registered. */
    {"spr-2s-psys", false, UINT64_C(482479916854), {
        {"package-0",      "intel-rapl:0",   PACKAGE, 0,  true,  PKG_MAX,      201554387120},
        {"package-0/dram", "intel-rapl:0:0", DRAM,    0,  true,  SRV_DRAM_MAX, 44100291336},
        {"package-1",      "intel-rapl:2",   PACKAGE, 1,  true,  PKG_MAX,      195003221847},
        {"package-1/dram", "intel-rapl:2:0", DRAM,    1,  true,  SRV_DRAM_MAX, 41822016551},
        {"psys",           "intel-rapl:1",   PSYS,    -1, false, SPR_PSYS_MAX, 60293987000000},
    }, NULL},
    {"spr-2s-psys", true, UINT64_C(60293987000000), {
        {"package-0",      "intel-rapl:0",   PACKAGE, 0,  false, PKG_MAX,      201554387120},
        {"package-0/dram", "intel-rapl:0:0", DRAM,    0,  false, SRV_DRAM_MAX, 44100291336},
        {"package-1",      "intel-rapl:2",   PACKAGE, 1,  false, PKG_MAX,      195003221847},
        {"package-1/dram", "intel-rapl:2:0", DRAM,    1,  false, SRV_DRAM_MAX, 41822016551},
        {"psys",           "intel-rapl:1",   PSYS,    -1, true,  SPR_PSYS_MAX, 60293987000000},
    }, NULL},
    /* Granite Rapids through TPMI: the same "intel-rapl" control type, no core zone, and the psys
     * of the domain-root package (package 1 here) alone: "psys-1" is the platform. */
    {"gnr-2s", false, UINT64_C(441572825757), {
        {"package-0",      "intel-rapl:0",   PACKAGE, 0,  true,  PKG_MAX, 187316577263},
        {"package-0/dram", "intel-rapl:0:0", DRAM,    0,  true,  PKG_MAX, 38221904512},
        {"package-1",      "intel-rapl:1",   PACKAGE, 1,  true,  PKG_MAX, 179044132905},
        {"package-1/dram", "intel-rapl:1:0", DRAM,    1,  true,  PKG_MAX, 36990211077},
        {"psys-1",         "intel-rapl:2",   PSYS,    -1, false, PKG_MAX, 93022871640},
    }, NULL},
    {"gnr-2s", true, UINT64_C(93022871640), {
        {"package-0",      "intel-rapl:0",   PACKAGE, 0,  false, PKG_MAX, 187316577263},
        {"package-0/dram", "intel-rapl:0:0", DRAM,    0,  false, PKG_MAX, 38221904512},
        {"package-1",      "intel-rapl:1",   PACKAGE, 1,  false, PKG_MAX, 179044132905},
        {"package-1/dram", "intel-rapl:1:0", DRAM,    1,  false, PKG_MAX, 36990211077},
        {"psys-1",         "intel-rapl:2",   PSYS,    -1, true,  PKG_MAX, 93022871640},
    }, NULL},
    /* A 6.5-6.8 kernel registered every package's psys: stored, outside the host total (with
     * host_psys it is refused, test_host_psys_several_psys). */
    {"gnr-2s-psys-each", false, UINT64_C(441572825757), {
        {"package-0",      "intel-rapl:0",   PACKAGE, 0,  true,  PKG_MAX, 187316577263},
        {"package-0/dram", "intel-rapl:0:0", DRAM,    0,  true,  PKG_MAX, 38221904512},
        {"package-1",      "intel-rapl:2",   PACKAGE, 1,  true,  PKG_MAX, 179044132905},
        {"package-1/dram", "intel-rapl:2:0", DRAM,    1,  true,  PKG_MAX, 36990211077},
        {"psys",           "intel-rapl:1",   PSYS,    -1, false, PKG_MAX, 93022871640},
        {"psys-1",         "intel-rapl:3",   PSYS,    -1, false, PKG_MAX, 93022871640},
    }, NULL},
    /* enabled reads 0 on both AMD zones: the package is kept; its "core" is one core's counter
     * (MSR_AMD_CORE_ENERGY_STATUS of the lead CPU), left out. */
    {"amd", false, UINT64_C(33518840112), {
        {"package-0",      "intel-rapl:0",   PACKAGE, 0, true,  AMD_MAX, 33518840112},
    }, "procfs-amd"},
    /* The same tree on a host whose cpuinfo says Intel keeps the core zone: the vendor decides. */
    {"amd", false, UINT64_C(33518840112), {
        {"package-0",      "intel-rapl:0",   PACKAGE, 0, true,  AMD_MAX, 33518840112},
        {"package-0/core", "intel-rapl:0:0", CORE,    0, false, AMD_MAX, 12770913548},
    }, NULL},
    /* AMD Zen 4 on a 6.10/6.11 kernel that took each CCD for a die: 8 zones per socket read the
     * one package counter. Counted once per package, with the first CCD's zone. */
    {"amd-ccd", false, UINT64_C(67037681224), {
        {"package-0-die-0",      "intel-rapl:0",   PACKAGE, 0, true,  AMD_MAX, 33518840112},
        {"package-1-die-0",      "intel-rapl:8",   PACKAGE, 1, true,  AMD_MAX, 33518841112},
    }, "procfs-amd"},
    /* Firmware-locked power limits (enabled = 0) do not stop the counters: kept. */
    {"disabled", false, UINT64_C(103461992832), {
        {"package-0",      "intel-rapl:0",   PACKAGE, 0, true, PKG_MAX,      88231044719},
        {"package-0/dram", "intel-rapl:0:0", DRAM,    0, true, SRV_DRAM_MAX, 15230948113},
    }, NULL},
    {"no-max", false, UINT64_C(72138452337), {
        {"package-0",      "intel-rapl:0",   PACKAGE, 0, true,  0,       72138452337},
        {"package-0/core", "intel-rapl:0:0", CORE,    0, false, PKG_MAX, 40187532117},
    }, NULL},
    {"malformed", false, UINT64_C(82060813824), {
        {"package-0",      "intel-rapl:0",   PACKAGE, 0, true, PKG_MAX, 72138452337},
        {"package-0/dram", "intel-rapl:0:5", DRAM,    0, true, PKG_MAX, 9922361487},
    }, NULL},
    {"unknown", false, UINT64_C(72138452337), {
        {"package-0",           "intel-rapl:0",   PACKAGE, 0,  true,  PKG_MAX, 72138452337},
        {"package-0/core",      "intel-rapl:0:0", CORE,    0,  false, PKG_MAX, 40187532117},
        {"package-0/gpu",       "intel-rapl:0:1", OTHER,   0,  false, PKG_MAX, 1873622851},
        {"package-0/package-9", "intel-rapl:0:2", OTHER,   0,  false, PKG_MAX, 1000},
        {"soc",                 "intel-rapl:1",   OTHER,   -1, false, PKG_MAX, 5000000},
    }, NULL},
    {"dram-top", false, UINT64_C(396082371253), {
        {"package-0",         "intel-rapl:0", PACKAGE, 0,  true, PKG_MAX,      171542098713},
        {"package-1",         "intel-rapl:2", PACKAGE, 1,  true, PKG_MAX,      163009823118},
        {"dram@intel-rapl:1", "intel-rapl:1", DRAM,    -1, true, SRV_DRAM_MAX, 31877130552},
        {"dram@intel-rapl:3", "intel-rapl:3", DRAM,    -1, true, SRV_DRAM_MAX, 29653318870},
    }, NULL},
};
/* clang-format on */

static const char *fixtures_dir(void)
{
        const char *d = getenv("JOULES_FIXTURES");
        if (!d)
                fail_msg("JOULES_FIXTURES is not set (run through ctest)");
        return d;
}

/* procfs: a procfs root under fixtures/powercap/ (its cpuinfo names the CPU vendor); NULL:
 * procfs-intel, so that no case depends on the machine running the test. */
/* which: NULL opens the powercap source itself, else energy_source_open(which), as joulesd does
 * (err then collects why each source was passed over). */
static int open_source(const char *which, const char *sysfs, const char *procfs, bool host_psys,
                       EnergySource **ret, char *err, size_t errlen)
{
        char proc[PATH_MAX];
        assert_int_equal(path_fmt(proc, sizeof(proc), "%s/powercap/%s", fixtures_dir(),
                                  procfs ? procfs : "procfs-intel"),
                         0);
        JoulesRoots roots = JOULES_ROOTS_DEFAULT;
        roots.sysfs = sysfs;
        roots.procfs = proc;
        EnergyOptions opts;
        energy_options_default(&opts);
        opts.host_psys = host_psys;
        if (which)
                return energy_source_open(which, &roots, &opts, ret, err, errlen);
        return energy_source_powercap.open(&roots, &opts, ret, err, errlen);
}

static int open_root_procfs(const char *sysfs, const char *procfs, bool host_psys,
                            EnergySource **ret, char *err, size_t errlen)
{
        return open_source(NULL, sysfs, procfs, host_psys, ret, err, errlen);
}

static int open_root(const char *sysfs, bool host_psys, EnergySource **ret, char *err,
                     size_t errlen)
{
        return open_root_procfs(sysfs, NULL, host_psys, ret, err, errlen);
}

static int open_fixture_procfs(const char *fixture, const char *procfs, bool host_psys,
                               EnergySource **ret, char *err, size_t errlen)
{
        char root[PATH_MAX];
        assert_int_equal(path_fmt(root, sizeof(root), "%s/powercap/%s", fixtures_dir(), fixture),
                         0);
        return open_root_procfs(root, procfs, host_psys, ret, err, errlen);
}

static int open_fixture(const char *fixture, bool host_psys, EnergySource **ret, char *err,
                        size_t errlen)
{
        return open_fixture_procfs(fixture, NULL, host_psys, ret, err, errlen);
}

static int open_auto(const char *sysfs, EnergySource **ret, char *err, size_t errlen)
{
        return open_source("auto", sysfs, NULL, false, ret, err, errlen);
}

static void test_fixture_case(void **state)
{
        const FixtureCase *c = *state;
        EnergySource *s = NULL;
        char err[1024] = "";
        int r = open_fixture_procfs(c->fixture, c->procfs, c->host_psys, &s, err, sizeof(err));
        if (r < 0)
                fail_msg("%s: open: %s (%s)", c->fixture, strerror(-r), err);
        assert_non_null(s);
        assert_ptr_equal(s->ops, &energy_source_powercap);

        size_t n = 0;
        while (n < ELEMENTSOF(c->domains) && c->domains[n].name)
                n++;
        for (size_t i = 0; i < s->n_domains; i++)
                print_message("  %s: %-22s %-16s %-7s package %2d%s max %" PRIu64 "\n", c->fixture,
                              s->domains[i].name, s->domains[i].zone,
                              energy_domain_kind_to_string(s->domains[i].kind),
                              s->domains[i].package, s->domains[i].in_host ? " host" : "",
                              s->domains[i].max_range_uj);
        assert_int_equal(s->n_domains, n);

        uint64_t uj[ELEMENTSOF(c->domains)];
        bool valid[ELEMENTSOF(c->domains)];
        assert_int_equal(s->ops->read(s, uj, valid), 0);

        uint64_t host = 0;
        for (size_t i = 0; i < n; i++) {
                const ExpDomain *e = &c->domains[i];
                const EnergyDomain *d = &s->domains[i];
                assert_string_equal(d->name, e->name);
                assert_string_equal(d->zone, e->zone);
                assert_int_equal(d->kind, e->kind);
                assert_int_equal(d->package, e->package);
                assert_int_equal(d->in_host, e->in_host);
                assert_true(d->wraps);
                assert_int_equal(d->max_range_uj, e->max_range_uj);
                assert_true(valid[i]);
                assert_int_equal(uj[i], e->energy_uj);
                if (d->in_host)
                        host += uj[i];
        }
        assert_int_equal(host, c->host_uj);
        s->ops->close(s);
}

/* The vendors whose RAPL package counters are per package (the kernel's own test, by vendor). */
static void test_cpuinfo_pkg_scope(void **state)
{
        (void)state;
        static const struct {
                const char *cpuinfo;
                bool pkg_scope;
        } rows[] = {
                {"processor\t: 0\nvendor_id\t: AuthenticAMD\ncpu family\t: 25\n", true},
                {"processor\t: 0\nvendor_id\t: HygonGenuine\n", true},
                {"processor\t: 0\nvendor_id\t: GenuineIntel\ncpu family\t: 6\n", false},
                {"vendor_id : AuthenticAMD", true},
                {"vendor_id\t: AuthenticAMDX\n", false},
                {"vendor_id\t: Authentic\n", false},
                {"model name\t: AuthenticAMD\n", false},
                {"vendor_id AuthenticAMD\n", false},
                {"processor\t: 0\nBogoMIPS\t: 50.00\n", false}, /* ARM: no vendor_id */
                {"", false},
        };
        for (size_t i = 0; i < ELEMENTSOF(rows); i++)
                if (energy_cpuinfo_rapl_pkg_scope(rows[i].cpuinfo) != rows[i].pkg_scope)
                        fail_msg("row %zu: expected %d", i, rows[i].pkg_scope);
        assert_false(energy_rapl_pkg_scope("/nonexistent"));
        assert_false(energy_rapl_pkg_scope(NULL));
}

/* 17 packages: ids are hex, names decimal, and the order is by package number. */
static void test_pkg17(void **state)
{
        (void)state;
        EnergySource *s = NULL;
        char err[1024] = "";
        assert_int_equal(open_fixture("pkg17", false, &s, err, sizeof(err)), 0);
        assert_int_equal(s->n_domains, 17);
        uint64_t uj[17], host = 0;
        bool valid[17];
        assert_int_equal(s->ops->read(s, uj, valid), 0);
        for (int i = 0; i < 17; i++) {
                char name[32], zone[32];
                snprintf(name, sizeof(name), "package-%d", i);
                snprintf(zone, sizeof(zone), "intel-rapl:%x", (unsigned)i);
                assert_string_equal(s->domains[i].name, name);
                assert_string_equal(s->domains[i].zone, zone);
                assert_int_equal(s->domains[i].package, i);
                assert_true(s->domains[i].in_host);
                assert_true(valid[i]);
                assert_int_equal(uj[i], UINT64_C(100000000000) + (uint64_t)i * 1000003);
                host += uj[i];
        }
        assert_string_equal(s->domains[10].zone, "intel-rapl:a");
        assert_string_equal(s->domains[16].zone, "intel-rapl:10");
        assert_int_equal(host, UINT64_C(1700136000408));
        s->ops->close(s);
}

static void test_parse_zone_id(void **state)
{
        (void)state;
        static const struct {
                const char *s;
                int r;
                RaplControlType control;
                unsigned depth, id0, id1;
        } rows[] = {
                {"intel-rapl:0", 0, RAPL_CONTROL_MSR, 1, 0, 0},
                {"intel-rapl:1", 0, RAPL_CONTROL_MSR, 1, 1, 0},
                {"intel-rapl:a", 0, RAPL_CONTROL_MSR, 1, 10, 0},
                {"intel-rapl:f", 0, RAPL_CONTROL_MSR, 1, 15, 0},
                {"intel-rapl:10", 0, RAPL_CONTROL_MSR, 1, 16, 0},
                {"intel-rapl:0:1", 0, RAPL_CONTROL_MSR, 2, 0, 1},
                {"intel-rapl:1f:a", 0, RAPL_CONTROL_MSR, 2, 31, 10},
                {"intel-rapl-mmio:0", 0, RAPL_CONTROL_MMIO, 1, 0, 0},
                {"intel-rapl-mmio:0:0", 0, RAPL_CONTROL_MMIO, 2, 0, 0},
                {"intel-rapl", -EINVAL, 0, 0, 0, 0},
                {"intel-rapl-mmio", -EINVAL, 0, 0, 0, 0},
                {"intel-rapl:", -EINVAL, 0, 0, 0, 0},
                {"intel-rapl:0:", -EINVAL, 0, 0, 0, 0},
                {"intel-rapl::0", -EINVAL, 0, 0, 0, 0},
                {"intel-rapl:0:1:2", -EINVAL, 0, 0, 0, 0},
                {"intel-rapl:A", -EINVAL, 0, 0, 0, 0},
                {"intel-rapl:g", -EINVAL, 0, 0, 0, 0},
                {"intel-rapl:00", -EINVAL, 0, 0, 0, 0},
                {"intel-rapl:0x1", -EINVAL, 0, 0, 0, 0},
                {"intel-rapl:-1", -EINVAL, 0, 0, 0, 0},
                {"intel-rapl:ffffffffff", -EINVAL, 0, 0, 0, 0},
                {"intel-rapl:0 ", -EINVAL, 0, 0, 0, 0},
                {"dtpm:0", -EINVAL, 0, 0, 0, 0},
                {".", -EINVAL, 0, 0, 0, 0},
                {"", -EINVAL, 0, 0, 0, 0},
        };
        for (size_t i = 0; i < ELEMENTSOF(rows); i++) {
                RaplZoneId id = {.depth = 99};
                int r = rapl_parse_zone_id(rows[i].s, &id);
                if (r != rows[i].r)
                        fail_msg("'%s': %d, expected %d", rows[i].s, r, rows[i].r);
                if (r < 0) {
                        assert_int_equal(id.depth, 99); /* untouched on failure */
                        continue;
                }
                assert_int_equal(id.control, rows[i].control);
                assert_int_equal(id.depth, rows[i].depth);
                assert_int_equal(id.id[0], rows[i].id0);
                if (id.depth > 1)
                        assert_int_equal(id.id[1], rows[i].id1);
        }
}

static void test_classify_zone_name(void **state)
{
        (void)state;
        static const struct {
                const char *s;
                EnergyDomainKind kind;
                int package, die;
        } rows[] = {
                {"package-0", PACKAGE, 0, -1},
                {"package-1", PACKAGE, 1, -1},
                {"package-16", PACKAGE, 16, -1},
                {"package-0-die-0", PACKAGE, 0, 0},
                {"package-1-die-3", PACKAGE, 1, 3},
                {"psys", PSYS, -1, -1},
                {"psys-1", PSYS, -1, -1},
                {"core", CORE, -1, -1},
                {"uncore", UNCORE, -1, -1},
                {"dram", DRAM, -1, -1},
                {"package", OTHER, -1, -1},
                {"package-", OTHER, -1, -1},
                {"package-x", OTHER, -1, -1},
                {"package-01", OTHER, -1, -1},
                {"package--1", OTHER, -1, -1},
                {"package-0-die-", OTHER, -1, -1},
                {"package-0-dies-1", OTHER, -1, -1},
                {"package-0-die-1x", OTHER, -1, -1},
                {"package-99999999999", OTHER, -1, -1},
                {"psys-", OTHER, -1, -1},
                {"psysx", OTHER, -1, -1},
                {"Core", OTHER, -1, -1},
                {"dram ", OTHER, -1, -1},
                {"gpu", OTHER, -1, -1},
                {"", OTHER, -1, -1},
        };
        for (size_t i = 0; i < ELEMENTSOF(rows); i++) {
                RaplZoneName n = rapl_classify_zone_name(rows[i].s);
                if (n.kind != rows[i].kind || n.package != rows[i].package || n.die != rows[i].die)
                        fail_msg("'%s': kind %s package %d die %d", rows[i].s,
                                 energy_domain_kind_to_string(n.kind), n.package, n.die);
        }
        assert_int_equal(rapl_classify_zone_name(NULL).kind, OTHER);
}

static void test_ops(void **state)
{
        (void)state;
        assert_string_equal(energy_source_powercap.name, "powercap");
        assert_false(energy_source_powercap.estimated);
        energy_source_powercap.close(NULL);
}

static void test_host_psys_without_psys(void **state)
{
        (void)state;
        EnergySource *s = (EnergySource *)&s; /* must stay untouched */
        char err[1024] = "";
        assert_int_equal(open_fixture("intel-1s", true, &s, err, sizeof(err)), -ENOENT);
        assert_ptr_equal(s, (EnergySource *)&s);
        assert_non_null(strstr(err, "psys"));
}

/* Several psys zones (a 6.5-6.8 kernel on a TPMI host registered one per package, though only
 * the domain root's is the platform's): adding them could count the platform twice, so
 * host_psys is refused with the reason, never summed. */
static void test_host_psys_several_psys(void **state)
{
        (void)state;
        EnergySource *s = (EnergySource *)&s; /* must stay untouched */
        char err[1024] = "";
        assert_int_equal(open_fixture("gnr-2s-psys-each", true, &s, err, sizeof(err)), -EINVAL);
        assert_ptr_equal(s, (EnergySource *)&s);
        assert_non_null(strstr(err, "2 psys zones"));
        assert_non_null(strstr(err, "intel-rapl:1 psys"));
        assert_non_null(strstr(err, "intel-rapl:3 psys-1"));
        assert_non_null(strstr(err, "Fix System Domain probing"));
}

static void test_no_zones(void **state)
{
        (void)state;
        EnergySource *s = NULL;
        char err[1024] = "";
        assert_int_equal(open_fixture("no-zones", false, &s, err, sizeof(err)), -ENODEV);
        assert_null(s);
        assert_non_null(strstr(err, "no usable RAPL zones"));
}

/* ---- temporary copies of fixtures ---- */

static int run(char *const argv[])
{
        pid_t pid = fork();
        if (pid < 0)
                return -errno;
        if (pid == 0) {
                execvp(argv[0], argv);
                _exit(127);
        }
        int st;
        if (waitpid(pid, &st, 0) < 0)
                return -errno;
        return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -EIO;
}

/* A directory every user can enter (the EACCES test reads it as nobody). */
/* under_tmp: a tree that a process with dropped privileges must reach. The build directory may
 * sit below a directory only its owner can enter (a clone in /root or in `mktemp -d`, 0700),
 * so that tree goes under /tmp, which everyone can traverse. */
static void make_tmpdir_in(char *buf, size_t size, bool under_tmp)
{
        const char *base = under_tmp ? NULL : getenv("JOULES_TEST_TMP");
        if (!base || !*base)
                base = "/tmp";
        (void)mkdir(base, 0755);
        assert_int_equal(path_fmt(buf, size, "%s/powercap-XXXXXX", base), 0);
        assert_non_null(mkdtemp(buf));
        assert_int_equal(chmod(buf, 0755), 0);
}

static void make_tmpdir(char *buf, size_t size)
{
        make_tmpdir_in(buf, size, false);
}

static void copy_fixture_in(const char *fixture, char *dst, size_t size, bool under_tmp)
{
        char src[PATH_MAX];
        make_tmpdir_in(dst, size, under_tmp);
        assert_int_equal(path_fmt(src, sizeof(src), "%s/powercap/%s/.", fixtures_dir(), fixture),
                         0);
        char *argv[] = {"cp", "-a", src, dst, NULL};
        assert_int_equal(run(argv), 0);
}

static void copy_fixture(const char *fixture, char *dst, size_t size)
{
        copy_fixture_in(fixture, dst, size, false);
}

static void remove_tree(const char *dir)
{
        char *argv[] = {"rm", "-rf", (char *)dir, NULL};
        (void)run(argv);
}

static void write_file(const char *root, const char *rel, const char *text)
{
        char path[PATH_MAX];
        assert_int_equal(path_fmt(path, sizeof(path), "%s/%s", root, rel), 0);
        /* In place (O_TRUNC, no rename): the source holds the file open. */
        int fd = open(path, O_WRONLY | O_TRUNC);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
        assert_int_equal(close(fd), 0);
}

/* energy_uj that may not be read (mode 0400 since Linux 5.10): open fails with -EACCES and
 * an error that names the exact file and the ways to grant access. As root the check runs in a
 * child that drops to uid/gid 65534, since root reads 0400 files anyway. */
/* A powercap tree whose counters never move (as some VMs show RAPL, or the perf power PMU, with
 * counters that read 0) is passed over by auto, which would otherwise report 0 W: the fixture's
 * energy_uj files are fixed. Named, the source is taken as it is. */
static void test_auto_needs_counting(void **state)
{
        char root[PATH_MAX], err[2048] = "";
        assert_int_equal(path_fmt(root, sizeof(root), "%s/powercap/intel-1s", fixtures_dir()), 0);
        EnergySource *s = NULL;
        int r = open_auto(root, &s, err, sizeof(err));
        if (!strstr(err, "powercap: its 4 counter(s) did not move in 50 ms"))
                fail_msg("auto: %d, %s", r, err);
        if (r == 0) { /* the model (none here: the fixture has no /proc/stat) */
                assert_ptr_equal(s->ops, &energy_source_model);
                energy_source_close(s);
        }
        err[0] = '\0';
        assert_int_equal(open_fixture("intel-1s", false, &s, err, sizeof(err)), 0);
        assert_ptr_equal(s->ops, &energy_source_powercap);
        s->ops->close(s);
}

/* energy_source_counts on a source of the test's own: it counts once a counter moves (here at the
 * third read), not when none does, and a read that fails is that error, not -ENODEV (auto then
 * stops with it, as when a source there cannot open). */
static unsigned fake_reads;
static int fake_mode; /* 0: moves at the third read, 1: never moves, 2: reads fail */

static int fake_read(EnergySource *s, uint64_t *uj, bool *valid)
{
        (void)s;
        fake_reads++;
        if (fake_mode == 2)
                return -EIO;
        uj[0] = 1000, valid[0] = true;
        uj[1] = fake_mode == 0 && fake_reads >= 3 ? 1016 : 1000, valid[1] = true;
        return 0;
}

static void test_counts(void **state)
{
        static const EnergySourceOps ops = {.name = "fake", .read = fake_read};
        static const struct {
                int mode;
                int want;
                unsigned reads;
                const char *why;
        } rows[] = {
                {0, 0, 3, ""},
                {1, -ENODEV, 6, "its 2 counter(s) did not move in 50 ms"},
                {2, -EIO, 1, "reading its counters: Input/output error"},
        };
        for (size_t i = 0; i < ELEMENTSOF(rows); i++) {
                EnergySource src = {.ops = &ops, .n_domains = 2};
                char why[256] = "";
                fake_mode = rows[i].mode;
                fake_reads = 0;
                int r = energy_source_counts(&src, why, sizeof(why));
                if (r != rows[i].want || fake_reads != rows[i].reads ||
                    strncmp(why, rows[i].why, strlen(rows[i].why)) != 0)
                        fail_msg("mode %d: %d after %u reads, '%s'", rows[i].mode, r, fake_reads,
                                 why);
        }
}

static void test_unreadable(void **state)
{
        (void)state;
        char root[PATH_MAX], file[PATH_MAX];
        /* the child drops to uid 65534: its tree must be reachable wherever the clone is */
        copy_fixture_in("unreadable", root, sizeof(root), true);
        assert_int_equal(
                path_fmt(file, sizeof(file), "%s/class/powercap/intel-rapl:0:0/energy_uj", root),
                0);
        bool as_root = geteuid() == 0;
        /* Not root: 0000, since the owner could read 0400. */
        assert_int_equal(chmod(file, as_root ? 0400 : 0000), 0);

        int p[2];
        assert_int_equal(pipe(p), 0);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                /* No cmocka here: report through the pipe. */
                (void)close(p[0]);
                if (as_root && (setgroups(0, NULL) < 0 || setresgid(65534, 65534, 65534) < 0 ||
                                setresuid(65534, 65534, 65534) < 0))
                        _exit(3);
                char err[1024] = "";
                EnergySource *s = NULL;
                int r = open_root(root, false, &s, err, sizeof(err));
                char out[1100];
                int len = snprintf(out, sizeof(out), "%d %s", r, err);
                _exit(write(p[1], out, (size_t)len) == len && !s ? 0 : 4);
        }
        (void)close(p[1]);
        char out[1100] = "";
        ssize_t n = read(p[0], out, sizeof(out) - 1);
        (void)close(p[0]);
        int st;
        assert_int_equal(waitpid(pid, &st, 0), pid);
        assert_true(WIFEXITED(st));
        assert_int_equal(WEXITSTATUS(st), 0);
        assert_true(n > 0);
        out[n] = '\0';
        print_message("  %s\n", out);

        int r = atoi(out);
        assert_int_equal(r, -EACCES);
        assert_non_null(strstr(out, file)); /* the exact file */
        assert_non_null(strstr(out, "Permission denied"));
        assert_non_null(strstr(out, "CVE-2020-8694"));
        assert_non_null(strstr(out, "root"));
        assert_non_null(strstr(out, "CAP_DAC_READ_SEARCH"));
        assert_non_null(strstr(out, "AmbientCapabilities="));
        assert_non_null(strstr(out, "udev"));
        remove_tree(root);
}

static void test_no_powercap_dir(void **state)
{
        (void)state;
        char root[PATH_MAX];
        make_tmpdir(root, sizeof(root));
        EnergySource *s = NULL;
        char err[1024] = "";
        assert_int_equal(open_root(root, false, &s, err, sizeof(err)), -ENODEV);
        assert_null(s);
        assert_non_null(strstr(err, "class/powercap"));
        remove_tree(root);
}

/* A counter that becomes unreadable after open is reported invalid, never as a number: garbage,
 * an empty file (a writer between truncate and write) and a missing fd target. */
static void test_read_invalid(void **state)
{
        (void)state;
        char root[PATH_MAX];
        copy_fixture("intel-1s", root, sizeof(root));
        EnergySource *s = NULL;
        char err[1024] = "";
        assert_int_equal(open_root(root, false, &s, err, sizeof(err)), 0);
        assert_int_equal(s->n_domains, 4);
        assert_string_equal(s->domains[3].name, "package-0/dram");
        uint64_t uj[4];
        bool valid[4];

        write_file(root, "class/powercap/intel-rapl:0:2/energy_uj", "12x\n");
        assert_int_equal(s->ops->read(s, uj, valid), 0);
        assert_true(valid[0] && valid[1] && valid[2]);
        assert_false(valid[3]);
        assert_int_equal(uj[0], 72138452337);

        write_file(root, "class/powercap/intel-rapl:0:2/energy_uj", "");
        assert_int_equal(s->ops->read(s, uj, valid), 0);
        assert_false(valid[3]);

        write_file(root, "class/powercap/intel-rapl:0:2/energy_uj", "9922361999\n");
        assert_int_equal(s->ops->read(s, uj, valid), 0);
        assert_true(valid[3]);
        assert_int_equal(uj[3], 9922361999);

        static const char *const zones[] = {"intel-rapl:0", "intel-rapl:0:0", "intel-rapl:0:1",
                                            "intel-rapl:0:2"};
        for (size_t i = 0; i < ELEMENTSOF(zones); i++) {
                char rel[128];
                snprintf(rel, sizeof(rel), "class/powercap/%s/energy_uj", zones[i]);
                write_file(root, rel, "");
        }
        assert_true(s->ops->read(s, uj, valid) < 0);
        for (size_t i = 0; i < 4; i++)
                assert_false(valid[i]);
        s->ops->close(s);
        remove_tree(root);
}

/* ---- against the simulator ---- */

static void sim_path(char *buf, size_t size)
{
        const char *bin = getenv("JOULES_BIN");
        if (bin) {
                assert_int_equal(path_fmt(buf, size, "%s/../tests/rapl-sim", bin), 0);
                return;
        }
        /* Run by hand: the simulator is built next to this test. */
        char self[PATH_MAX];
        ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
        assert_true(n > 0);
        self[n] = '\0';
        char *slash = strrchr(self, '/');
        assert_non_null(slash);
        *slash = '\0';
        assert_int_equal(path_fmt(buf, size, "%s/rapl-sim", self), 0);
}

/* rapl-sim runs package-0 at 25 W and its dram at 5 W with a 10 J range (a wrap every 0.4 s for
 * the package); the source, read every 20 ms for 2 s, must see those watts, through wraps. */
static void test_rapl_sim(void **state)
{
        (void)state;
        char sim[PATH_MAX], root[PATH_MAX];
        sim_path(sim, sizeof(sim));
        if (access(sim, X_OK) < 0)
                fail_msg("%s missing: build the rapl-sim target", sim);
        make_tmpdir(root, sizeof(root));

        int p[2];
        assert_int_equal(pipe(p), 0);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                (void)dup2(p[1], STDOUT_FILENO);
                (void)close(p[0]);
                (void)close(p[1]);
                execl(sim, sim, "--root", root, "--zone", "package-0:25", "--zone", "dram:5",
                      "--max-range-uj", "10000000", "--interval-ms", "5", "--duration", "30",
                      (char *)NULL);
                _exit(127);
        }
        (void)close(p[1]);
        FILE *out = fdopen(p[0], "r");
        assert_non_null(out);
        char line[256];
        bool ready = false;
        while (!ready && fgets(line, sizeof(line), out))
                ready = strcmp(line, "ready\n") == 0;
        assert_true(ready);

        EnergySource *s = NULL;
        char err[1024] = "";
        int r = open_root(root, false, &s, err, sizeof(err));
        if (r < 0)
                fail_msg("open: %s (%s)", strerror(-r), err);
        assert_int_equal(s->n_domains, 2);
        assert_string_equal(s->domains[0].name, "package-0");
        assert_string_equal(s->domains[0].zone, "intel-rapl:0");
        assert_string_equal(s->domains[1].name, "package-0/dram");
        assert_string_equal(s->domains[1].zone, "intel-rapl:0:0");
        assert_int_equal(s->domains[0].max_range_uj, 10000000);

        uint64_t prev[2] = {0}, total[2] = {0}, t_first = 0, t_last = 0;
        unsigned wraps[2] = {0}, invalid = 0, reads = 0;
        bool have[2] = {false, false};
        uint64_t t_end = now_monotonic_ns() + 2 * NSEC_PER_SEC;
        while (now_monotonic_ns() < t_end) {
                uint64_t uj[2];
                bool valid[2];
                uint64_t t = now_monotonic_ns();
                assert_int_equal(s->ops->read(s, uj, valid), 0);
                reads++;
                for (int i = 0; i < 2; i++) {
                        if (!valid[i]) {
                                invalid++;
                                continue;
                        }
                        assert_true(uj[i] < 10000000);
                        if (have[i]) {
                                if (uj[i] < prev[i]) {
                                        total[i] += uj[i] + 10000000 - prev[i];
                                        wraps[i]++;
                                } else
                                        total[i] += uj[i] - prev[i];
                        }
                        prev[i] = uj[i];
                        have[i] = true;
                }
                if (!t_first)
                        t_first = t;
                t_last = t;
                sleep_us(20000);
        }
        s->ops->close(s);
        /* counters that move: auto takes them */
        err[0] = '\0';
        r = open_auto(root, &s, err, sizeof(err));
        if (r < 0)
                fail_msg("auto: %s (%s)", strerror(-r), err);
        assert_ptr_equal(s->ops, &energy_source_powercap);
        energy_source_close(s);

        assert_int_equal(kill(pid, SIGTERM), 0);
        int st;
        assert_int_equal(waitpid(pid, &st, 0), pid);
        assert_true(WIFEXITED(st));
        assert_int_equal(WEXITSTATUS(st), 0); /* a clean exit on SIGTERM */
        fclose(out);
        remove_tree(root);

        double secs = (double)(t_last - t_first) / 1e9;
        double w0 = (double)total[0] / 1e6 / secs, w1 = (double)total[1] / 1e6 / secs;
        print_message("  %u reads, %u invalid, %.3f s: package-0 %.3f W (%u wraps), dram %.3f W "
                      "(%u wraps)\n",
                      reads, invalid, secs, w0, wraps[0], w1, wraps[1]);
        assert_true(invalid * 20 <= reads); /* a torn read is rare, and never a number */
        assert_true(wraps[0] >= 3);
        assert_true(w0 > 25 * 0.98 && w0 < 25 * 1.02);
        assert_true(w1 > 5 * 0.98 && w1 < 5 * 1.02);
}

int main(void)
{
        /* JOULES_TEST_DEBUG=1 shows the source's debug lines (why each zone was skipped). */
        if (getenv("JOULES_TEST_DEBUG"))
                log_setup(LOG_DEBUG, "test-rapl-powercap");
        static const struct CMUnitTest fixed[] = {
                cmocka_unit_test(test_ops),
                cmocka_unit_test(test_parse_zone_id),
                cmocka_unit_test(test_classify_zone_name),
                cmocka_unit_test(test_cpuinfo_pkg_scope),
                cmocka_unit_test(test_pkg17),
                cmocka_unit_test(test_host_psys_without_psys),
                cmocka_unit_test(test_host_psys_several_psys),
                cmocka_unit_test(test_no_zones),
                cmocka_unit_test(test_auto_needs_counting),
                cmocka_unit_test(test_counts),
                cmocka_unit_test(test_no_powercap_dir),
                cmocka_unit_test(test_unreadable),
                cmocka_unit_test(test_read_invalid),
                cmocka_unit_test(test_rapl_sim),
        };
        struct CMUnitTest tests[ELEMENTSOF(fixed) + ELEMENTSOF(fixture_cases)];
        static char names[ELEMENTSOF(fixture_cases)][64];
        size_t n = 0;
        for (size_t i = 0; i < ELEMENTSOF(fixture_cases); i++) {
                snprintf(names[i], sizeof(names[i]), "fixture %s%s", fixture_cases[i].fixture,
                         fixture_cases[i].host_psys ? " (host_psys)" : "");
                tests[n++] = (struct CMUnitTest){
                        .name = names[i],
                        .test_func = test_fixture_case,
                        .initial_state = (void *)&fixture_cases[i],
                };
        }
        for (size_t i = 0; i < ELEMENTSOF(fixed); i++)
                tests[n++] = fixed[i];
        return _cmocka_run_group_tests("rapl-powercap", tests, n, NULL, NULL);
}
