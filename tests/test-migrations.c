/* Upgrades: a history written by every earlier schema (tests/fixtures/db/vN.db, made by
 * make-fixtures.sh) is still read correctly, read-only as it is and after the forward migrations
 * joulesd applies at start-up, and the rollup tiers built over it equal its raw rows. */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <sqlite3.h>

#include "common/util.h"
#include "cli/band.h"
#include "storage/store.h"

/* The figures make-fixtures.sh writes: 150 ticks of 1 s from T0, tick 50 dropped. */
#define T0      INT64_C(1767225600000000)
#define N_TICKS 150
#define DROPPED 50

typedef struct Expected {
        int64_t host_uj;
        int64_t a_active, a_idle, a_cpu;
        int64_t b_active, b_idle, b_cpu;
        int64_t idle_idle;
        double a_requests;
        uint64_t accepted, malformed;
} Expected;

/* Sums over the ticks first..last (1-based, inclusive). */
static Expected expected(int first, int last)
{
        Expected e = {0};
        for (int i = first; i <= last; i++) {
                if (i % 3 != 0) {
                        e.a_requests += i % 3;
                        e.accepted += (uint64_t)(i % 3);
                }
                e.malformed += i == 100;
                if (i == DROPPED)
                        continue;
                e.host_uj += 20000000 + (i % 7) * 1000;
                e.a_active += 10000000 + (i % 7) * 1000;
                e.a_idle += 2000000;
                e.a_cpu += 500000000 + i;
                e.b_active += 5000000;
                e.b_idle += 1000000;
                e.b_cpu += 250000000;
                e.idle_idle += 2000000;
        }
        return e;
}

static char dir[] = "/tmp/joules-test-migrations-XXXXXX";

static int setup(void **state)
{
        assert_non_null(mkdtemp(dir));
        return 0;
}

static int teardown(void **state)
{
        char cmd[128];
        snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
        return system(cmd) == 0 ? 0 : -1;
}

static void copy_fixture(int version, char *path, size_t size)
{
        const char *fixtures = getenv("JOULES_FIXTURES");
        assert_non_null(fixtures);
        char src[512], cmd[2048];
        assert_int_equal(path_fmt(src, sizeof(src), "%s/db/v%d.db", fixtures, version), 0);
        assert_int_equal(path_fmt(path, size, "%s/v%d.db", dir, version), 0);
        snprintf(cmd, sizeof(cmd), "cp '%s' '%s' && chmod u+w '%s'", src, path, path);
        assert_int_equal(system(cmd), 0);
}

static const StoreUnitTotal *find_unit(const StoreServices *sv, const char *name)
{
        for (size_t i = 0; i < sv->n_units; i++)
                if (strcmp(sv->units[i].name, name) == 0)
                        return &sv->units[i];
        return NULL;
}

/* Exact integers survive the conversion to joules: compare in µJ, rounded. */
static void assert_uj(double j, int64_t uj)
{
        assert_int_equal(llround(j * 1e6), uj);
}

static void check_services(Store *s, int version, int first, int last)
{
        Expected e = expected(first, last);
        StoreServices sv;
        assert_int_equal(store_read_services(s, T0 + (first - 1) * INT64_C(1000000),
                                             T0 + last * INT64_C(1000000), &sv),
                         0);
        assert_uj(sv.host_energy_j, e.host_uj);
        assert_int_equal(sv.n_units, 3);
        assert_string_equal(sv.units[0].name, "a.service"); /* biggest first */
        const StoreUnitTotal *a = find_unit(&sv, "a.service"), *b = find_unit(&sv, "b.service"),
                             *idle = find_unit(&sv, "idle");
        assert_non_null(a);
        assert_non_null(b);
        assert_non_null(idle);
        assert_uj(a->active_j, e.a_active);
        assert_uj(a->idle_j, e.a_idle);
        assert_int_equal(llround(a->cpu_s * 1e9), e.a_cpu);
        assert_uj(b->active_j, e.b_active);
        assert_uj(b->idle_j, e.b_idle);
        assert_int_equal(llround(b->cpu_s * 1e9), e.b_cpu);
        assert_uj(idle->idle_j, e.idle_idle);
        assert_true(idle->pseudo);
        assert_false(a->pseudo);
        /* the units' energy is the host's (conservation) */
        assert_int_equal(llround((a->active_j + a->idle_j + b->active_j + b->idle_j +
                                  idle->active_j + idle->idle_j) *
                                 1e6),
                         e.host_uj);
        if (version >= 2) {
                assert_true(a->has_requests);
                assert_true(a->requests == e.a_requests);
                assert_false(b->has_requests); /* it counted "orders", not "requests" */
        } else {
                assert_false(a->has_requests);
        }
        store_services_done(&sv);
}

/* The fixture's domains, the dropped tick counted, however they are stored. */
static void check_domains(const StoreStatus *st)
{
        Expected e = expected(1, N_TICKS);
        assert_int_equal(st->n_domains, 2);
        assert_string_equal(st->domains[0].name, "package-0");
        assert_int_equal(st->domains[0].dropped, 1);
        assert_uj(st->domains[0].energy_j, e.host_uj);
        assert_uj(st->domains[1].energy_j, INT64_C(5000000) * N_TICKS);
}

static void check_status(Store *s, int version)
{
        Expected e = expected(1, N_TICKS);
        StoreStatus st;
        assert_int_equal(store_read_status(s, &st), 0);
        assert_int_equal(st.samples, N_TICKS);
        assert_int_equal(st.dropped, 1);
        assert_uj(st.energy_j, e.host_uj);
        assert_int_equal(st.first_us, T0);
        assert_int_equal(st.last_us, T0 + N_TICKS * INT64_C(1000000));
        assert_string_equal(st.source, "powercap");
        assert_string_equal(st.hostname, "fixture-host");
        assert_string_equal(st.weight, "cpu-time");
        check_domains(&st);
        if (version >= 2) {
                assert_int_equal(st.ingest.accepted, e.accepted);
                assert_int_equal(st.ingest.malformed, e.malformed);
        }
        store_status_done(&st);
}

static void check_raw_extras(Store *s, int version)
{
        Expected e = expected(1, N_TICKS);
        StoreProcTotal *p = NULL;
        size_t n = 0;
        assert_int_equal(store_read_processes(s, T0, T0 + N_TICKS * INT64_C(1000000), 5, &p, &n),
                         0);
        assert_int_equal(n, 1);
        assert_string_equal(p[0].comm, "a-worker");
        assert_int_equal(p[0].pid, 4242);
        assert_uj(p[0].energy_j, e.a_active + e.a_idle);
        free(p);
        if (version >= 3) {
                StoreIntensityPoint *pts = NULL;
                size_t np = 0;
                assert_int_equal(
                        store_read_intensity(s, T0, T0 + 2 * INT64_C(3600000000), &pts, &np), 0);
                assert_int_equal(np, 2);
                assert_true(pts[0].g_per_kwh == 300.5);
                assert_true(pts[1].g_per_kwh == 280.25);
                free(pts);
        }
}

static const StoreTotalUnit *find_total(const StoreTotals *t, const char *name)
{
        for (size_t i = 0; i < t->n_units; i++)
                if (strcmp(t->units[i].name, name) == 0)
                        return &t->units[i];
        return NULL;
}

/* The running totals (schema 7; summed through the tiers for an older file opened read-only)
 * equal the fixture's sums, plus the one tick test_version writes (extra = 1: 1000 µJ and 1000
 * ns for a.service). */
static void check_totals(Store *s, int version, int extra)
{
        Expected e = expected(1, N_TICKS);
        StoreTotals t;
        assert_int_equal(store_read_totals(s, &t), 0);
        assert_int_equal(t.ticks, N_TICKS + extra);
        assert_int_equal(t.host_uj, e.host_uj + 1000 * extra);
        assert_int_equal(t.dropped, 1);
        assert_false(t.empty);
        assert_int_equal(t.first_us, T0);
        assert_int_equal(t.last_us,
                         T0 + (extra ? 201 : N_TICKS) * INT64_C(1000000)); /* the newest tick */
        assert_string_equal(t.hostname, "fixture-host");
        assert_string_equal(t.source, "powercap");
        assert_int_equal(t.n_units, 3);
        const StoreTotalUnit *a = find_total(&t, "a.service"), *b = find_total(&t, "b.service"),
                             *idle = find_total(&t, "idle");
        assert_non_null(a);
        assert_non_null(b);
        assert_non_null(idle);
        assert_int_equal(a->active_uj, e.a_active + 1000 * extra);
        assert_int_equal(a->idle_uj, e.a_idle);
        assert_int_equal(a->cpu_ns, e.a_cpu + 1000 * extra);
        assert_int_equal(b->active_uj, e.b_active);
        assert_int_equal(b->cpu_ns, e.b_cpu);
        assert_int_equal(idle->idle_uj, e.idle_idle);
        assert_true(idle->pseudo);
        assert_int_equal(a->active_uj + a->idle_uj + b->active_uj + b->idle_uj + idle->active_uj +
                                 idle->idle_uj,
                         t.host_uj);
        assert_int_equal(t.n_domains, 2);
        assert_string_equal(t.domains[0].name, "package-0");
        assert_int_equal(t.domains[0].energy_uj, e.host_uj);
        assert_int_equal(t.domains[0].dropped, 1);
        assert_int_equal(t.domains[1].energy_uj, INT64_C(5000000) * N_TICKS);
        if (version >= 2) {
                assert_int_equal(t.n_requests, 2);
                assert_string_equal(t.requests[0].unit, "a.service");
                assert_string_equal(t.requests[0].metric, "requests");
                assert_true(t.requests[0].count == e.a_requests);
                assert_string_equal(t.requests[1].unit, "b.service");
                assert_string_equal(t.requests[1].metric, "orders");
                assert_true(t.requests[1].count == N_TICKS / 10);
        } else {
                assert_int_equal(t.n_requests, 0);
        }
        store_totals_done(&t);
}

static int64_t sql_int(const char *path, const char *sql)
{
        sqlite3 *db;
        sqlite3_stmt *q;
        assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
        assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &q, NULL), SQLITE_OK);
        assert_int_equal(sqlite3_step(q), SQLITE_ROW);
        int64_t v = sqlite3_column_int64(q, 0);
        sqlite3_finalize(q);
        sqlite3_close(db);
        return v;
}

static void test_version(int version)
{
        char path[512], err[1024];
        copy_fixture(version, path, sizeof(path));
        Store *s;

        /* The CLI of this build reads an older daemon's file as it is. */
        assert_int_equal(store_open(path, STORE_READ_ONLY, &s, err, sizeof(err)), 0);
        assert_int_equal(store_schema_version(s), version);
        check_services(s, version, 1, N_TICKS);
        check_status(s, version);
        check_totals(s, version, 0);
        store_close(s);

        /* joulesd migrates it forward at start-up; everything reads the same, and the running
         * totals start from the whole history. */
        assert_int_equal(store_open(path, STORE_READ_WRITE, &s, err, sizeof(err)), 0);
        assert_int_equal(store_schema_version(s), store_schema_latest());
        check_services(s, version, 1, N_TICKS);
        check_services(s, version, 31, 90);
        check_status(s, version);
        check_raw_extras(s, version);
        check_totals(s, version, 0);

        /* and goes on writing */
        int64_t run, unit;
        StoreRun ri = {.started_us = T0 + 200 * INT64_C(1000000),
                       .source = "powercap",
                       .interval_us = 1000000,
                       .hostname = "fixture-host"};
        assert_int_equal(store_run_begin(s, &ri, &run), 0);
        assert_int_equal(store_unit_ensure(s, "a.service", false, &unit), 0);
        assert_int_equal(unit, 1); /* found, not duplicated */
        StoreUnitValue uv = {unit, 1000, 0, 1000};
        StoreTick t = {.ts_us = T0 + 201 * INT64_C(1000000),
                       .dt_us = 1000000,
                       .host_valid = true,
                       .host_uj = 1000,
                       .units = &uv,
                       .n_units = 1};
        assert_int_equal(store_tick_append(s, &t), 0);
        assert_int_equal(store_commit(s), 0);

        /* The tiers are built over the old history and equal its raw rows. */
        StoreRetention keep = {STORE_RAW_RETENTION_DEFAULT, STORE_MINUTE_RETENTION_DEFAULT,
                               STORE_HOUR_RETENTION_DEFAULT};
        int m;
        while ((m = store_maintain(s, T0 + 2 * INT64_C(86400000000), &keep)) == 1)
                ;
        assert_int_equal(m, 0);
        check_services(s, version, 1, N_TICKS);
        check_services(s, version, 1, 120); /* two whole minutes: read from the minute tier */
        check_services(s, version, 31, 90); /* packed ticks at the edges */
        StoreStatus st; /* the last half minute's domains read from packed ticks */
        assert_int_equal(store_read_status(s, &st), 0);
        check_domains(&st);
        store_status_done(&st);
        check_totals(s, version, 1);
        store_close(s);

        Expected e = expected(1, N_TICKS);
        assert_int_equal(sql_int(path, "SELECT SUM(active_uj) FROM minute_units WHERE unit_id = 1"),
                         e.a_active + 1000);
        assert_int_equal(sql_int(path, "SELECT SUM(host_uj) FROM hour_host"), e.host_uj + 1000);
        assert_int_equal(sql_int(path, "SELECT SUM(cpu_ns) FROM day_units WHERE unit_id = 1"),
                         e.a_cpu + 1000);
        assert_int_equal(sql_int(path, "SELECT COUNT(*) FROM minute_host"), 4);
        assert_int_equal(sql_int(path, "PRAGMA integrity_check") == 0, 1);
        /* schema 8: the old runs were measured, no model, no utilisation per tick */
        assert_int_equal(sql_int(path, "SELECT COUNT(*) FROM runs WHERE model_method IS NOT NULL "
                                       "OR band_pct IS NOT NULL"),
                         0);
        assert_int_equal(sql_int(path, "SELECT COUNT(util_pct) FROM ticks"), 0);
}

static void test_v1(void **state)
{
        test_version(1);
}

static void test_v2(void **state)
{
        test_version(2);
}

static void test_v3(void **state)
{
        test_version(3);
}

/* A fixture for every schema this build can migrate from. */
static void test_v4(void **state)
{
        test_version(4);
}

static void test_v5(void **state)
{
        test_version(5);
}

static void test_v6(void **state)
{
        test_version(6);
}

static void test_v7(void **state)
{
        test_version(7);
}

static void test_v8(void **state)
{
        test_version(8);
}

static void test_v9(void **state)
{
        test_version(9);
}

static void test_v10(void **state)
{
        test_version(10);
}

static void test_v11(void **state)
{
        test_version(11);
}

static void test_v12(void **state)
{
        test_version(12);
}

static void test_v13(void **state)
{
        test_version(13);
}

/* The energy of a range by run, weighed into its band (cli/band.h). */
static BandSum range_band(Store *s, int64_t from_us, int64_t to_us)
{
        BandSum sum;
        assert_int_equal(band_read(s, from_us, to_us, &sum), 0);
        return sum;
}

/* Schema 8: a model run keeps how it estimated; status reads it back and the band of a range is
 * its energy's, by run: measured energy exact, each estimated run's with its band. */
static void test_model_run(void **state)
{
        char path[512], err[1024];
        copy_fixture(7, path, sizeof(path));
        Store *s;
        BandSum band;
        assert_int_equal(store_open(path, STORE_READ_WRITE, &s, err, sizeof(err)), 0);
        /* the fixture's powercap run: measured, no band */
        band = range_band(s, T0, T0 + 150 * INT64_C(1000000));
        assert_true(band_sum_pct(&band) == 0);
        assert_true(band.measured_j > 0 && band.estimated_j == 0);
        int64_t run;
        const int64_t t1 = T0 + 1000 * INT64_C(1000000);
        StoreRun ri = {.started_us = t1,
                       .source = "model",
                       .estimated = true,
                       .interval_us = 1000000,
                       .hostname = "fixture-host"};
        assert_int_equal(store_run_begin(s, &ri, &run), 0);
        StoreRunModel m = {.method = "cpu",
                           .source = "AMD EPYC 7763 (TDP 280 W, 128 threads; AMD) x Teads curve",
                           .cpu = "AMD EPYC 7763 64-Core Processor",
                           .curve = "0:1.05, 10:2.8, 50:6.5625, 100:8.925",
                           .band_pct = 30,
                           .dram_w = 3.136,
                           .dram_source = "8.0 GiB (MemTotal) x 0.392 W per GB",
                           .dram_band_pct = 50};
        assert_int_equal(store_run_set_model(s, &m), 0);
        StoreTick t = {.ts_us = t1 + 1000000,
                       .dt_us = 1000000,
                       .host_valid = true,
                       .host_uj = 5000000,
                       .estimated = true,
                       .has_util = true,
                       .util_pct = 42.5};
        assert_int_equal(store_tick_append(s, &t), 0);
        assert_int_equal(store_commit(s), 0);
        /* before the daemon's first weighting: the curve's band */
        band = range_band(s, t1, t1 + 2000000);
        assert_true(fabs(band_sum_pct(&band) - 30) < 1e-9);
        assert_int_equal(store_run_set_band(s, 35.5), 0);
        band = range_band(s, t1, t1 + 2000000);
        assert_true(fabs(band_sum_pct(&band) - 35.5) < 1e-9);
        /* a range over both runs: the measured joules exact, the model's 5 J ±35.5% */
        const double fixture_j = range_band(s, T0, t1).measured_j;
        assert_true(fixture_j > 0);
        band = range_band(s, T0, t1 + 2000000);
        assert_true(band.measured_j == fixture_j && band.estimated_j == 5);
        assert_true(fabs(band_sum_pct(&band) - 100 * 5 * 0.355 / (fixture_j + 5)) < 1e-9);
        double lo, hi;
        band_sum_bounds(&band, fixture_j + 5, &lo, &hi);
        assert_true(fabs(lo - (fixture_j + 5 * 0.645)) < 1e-9);
        assert_true(fabs(hi - (fixture_j + 5 * 1.355)) < 1e-9);
        StoreStatus st;
        assert_int_equal(store_read_status(s, &st), 0);
        assert_string_equal(st.model_method, "cpu");
        assert_string_equal(st.model_cpu, "AMD EPYC 7763 64-Core Processor");
        assert_string_equal(st.model_curve, "0:1.05, 10:2.8, 50:6.5625, 100:8.925");
        assert_true(st.model_band_pct == 30);
        assert_true(st.dram_w == 3.136);
        assert_true(st.dram_band_pct == 50);
        assert_true(st.band_pct == 35.5);
        store_status_done(&st);
        /* The model run never records its stop (a crash); a measured run starts 10 s later: its
         * ticks carry no band, and a range over both weighs each run's energy. */
        StoreRun measured = {.started_us = t1 + 10000000,
                             .source = "powercap",
                             .interval_us = 1000000,
                             .hostname = "fixture-host"};
        assert_int_equal(store_run_begin(s, &measured, &run), 0);
        StoreTick tm = {
                .ts_us = t1 + 11000000, .dt_us = 1000000, .host_valid = true, .host_uj = 15000000};
        assert_int_equal(store_tick_append(s, &tm), 0);
        assert_int_equal(store_commit(s), 0);
        band = range_band(s, t1 + 5000000, t1 + 30000000);
        assert_true(band_sum_pct(&band) == 0 && band.measured_j == 15);
        band = range_band(s, t1, t1 + 30000000);
        assert_true(band.measured_j == 15 && band.estimated_j == 5);
        assert_true(fabs(band_sum_pct(&band) - 100 * 5 * 0.355 / 20) < 1e-9);
        store_close(s);
        assert_int_equal(
                sql_int(path, "SELECT util_pct * 10 FROM ticks WHERE util_pct IS NOT NULL"), 425);
}

static void test_all_versions_have_fixtures(void **state)
{
        const char *fixtures = getenv("JOULES_FIXTURES");
        assert_non_null(fixtures);
        for (int v = 1; v < store_schema_latest(); v++) {
                char path[512];
                assert_int_equal(path_fmt(path, sizeof(path), "%s/db/v%d.db", fixtures, v), 0);
                if (access(path, R_OK) < 0)
                        fail_msg("no fixture for schema %d: run tests/fixtures/db/make-fixtures.sh "
                                 "with that migration added",
                                 v);
        }
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_all_versions_have_fixtures),
                cmocka_unit_test(test_v1),
                cmocka_unit_test(test_v2),
                cmocka_unit_test(test_v3),
                cmocka_unit_test(test_v4),
                cmocka_unit_test(test_v5),
                cmocka_unit_test(test_v6),
                cmocka_unit_test(test_v7),
                cmocka_unit_test(test_v8),
                cmocka_unit_test(test_v9),
                cmocka_unit_test(test_v10),
                cmocka_unit_test(test_v11),
                cmocka_unit_test(test_v12),
                cmocka_unit_test(test_v13),
                cmocka_unit_test(test_model_run),
        };
        return cmocka_run_group_tests(tests, setup, teardown);
}
