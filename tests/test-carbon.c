/* The carbon arithmetic from tables: SCI, embodied M, PUE, weighted intensity, conversions, the
 * built-in grid table, the intensity CSV parser and RFC 4180 quoting. */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "common/carbon.h"
#include "common/util.h"

/* Exact where the formula's evaluation order is fixed (carbon.h documents it). */
static void test_embodied(void **state)
{
        static const struct {
                double te, tir, el, rr, tor, expected;
        } rows[] = {
                /* the SCI specification's example: 1,000,000 g over 4 years, one hour, whole */
                {1e6, 1, 35040, 1, 1, 28.538812785388128},
                {1e6, 1, CARBON_DEFAULT_EL_HOURS, 1, 1, 28.538812785388128},
                /* half the host's CPU time */
                {1e6, 1, 35040, 1, 2, 28.538812785388128 / 2},
                /* a day */
                {1e6, 24, 35040, 1, 1, 1e6 * (24.0 / 35040.0)},
                /* Boavizta's medium compute platform, 900 kg, a quarter of the CPU for 10 h */
                {900000, 10, 35040, 0.25, 1, 900000 * (10.0 / 35040.0) * 0.25},
                {0, 1, 35040, 1, 1, 0},
        };
        for (size_t i = 0; i < ELEMENTSOF(rows); i++) {
                double m = carbon_embodied_g(rows[i].te, rows[i].tir, rows[i].el, rows[i].rr,
                                             rows[i].tor);
                if (m != rows[i].expected) {
                        fprintf(stderr, "row %zu: %.17g != %.17g\n", i, m, rows[i].expected);
                        fail();
                }
        }
        assert_true(isnan(carbon_embodied_g(1e6, 1, 0, 1, 1)));
        assert_true(isnan(carbon_embodied_g(1e6, 1, 35040, 1, 0)));
}

static void test_sci(void **state)
{
        static const struct {
                double e, i, m, r;
                double op, total, sci; /* NAN: n/a */
        } rows[] = {
                /* 1 kWh at Germany's 2024 average with the spec's M, per 1000 requests */
                {1, 342.06, 28.538812785388128, 1000, 342.06, 342.06 + 28.538812785388128,
                 (342.06 + 28.538812785388128) / 1000},
                /* France */
                {0.5, 44.18, 0, 100, 0.5 * 44.18, 0.5 * 44.18, 0.5 * 44.18 / 100},
                /* R = 0 or unknown: no division */
                {1, 472.94, 1, 0, 472.94, 473.94, NAN},
                {1, 472.94, 1, NAN, 472.94, 473.94, NAN},
                /* no energy: M alone */
                {0, 383.55, 28.538812785388128, 1, 0, 28.538812785388128, 28.538812785388128},
        };
        for (size_t k = 0; k < ELEMENTSOF(rows); k++) {
                CarbonSci c;
                carbon_sci(rows[k].e, rows[k].i, rows[k].m, rows[k].r, &c);
                assert_true(c.operational_g == rows[k].op);
                assert_true(c.total_g == rows[k].total);
                if (isnan(rows[k].sci)) {
                        assert_false(c.has_requests);
                        assert_true(isnan(c.sci_g));
                } else {
                        assert_true(c.has_requests);
                        assert_true(c.sci_g == rows[k].sci);
                }
        }
}

static void test_conversions(void **state)
{
        assert_true(carbon_j_to_kwh(3.6e6) == 1.0);
        assert_true(carbon_kwh_to_j(1.0) == 3.6e6);
        assert_true(carbon_j_to_kwh(1800) == 0.0005);
        assert_true(carbon_facility_kwh(2.0, 1.0) == 2.0);
        assert_true(carbon_facility_kwh(2.0, 1.135) == 2.27); /* AWS */
        assert_true(carbon_facility_kwh(10.0, 1.1) == 10.0 * 1.1);
}

static void test_weighted(void **state)
{
        /* two hours: 1 kWh at 100, 3 kWh at 300: (100 + 900) / 4 = 250 */
        double e1[] = {1, 3}, i1[] = {100, 300};
        assert_true(carbon_weighted_intensity(e1, i1, 2) == 250);
        /* equal energy: plain mean */
        double e2[] = {2, 2, 2}, i2[] = {100, 200, 300};
        assert_true(carbon_weighted_intensity(e2, i2, 3) == 200);
        /* no energy at all: plain mean */
        double e3[] = {0, 0}, i3[] = {100, 300};
        assert_true(carbon_weighted_intensity(e3, i3, 2) == 200);
        /* an hour with no energy weighs nothing */
        double e4[] = {0, 5}, i4[] = {1000, 40};
        assert_true(carbon_weighted_intensity(e4, i4, 2) == 40);
        assert_true(isnan(carbon_weighted_intensity(NULL, NULL, 0)));
}

static void test_grid_table(void **state)
{
        static const struct {
                const char *code;
                double g;
        } rows[] = {
                {"DE", 342.06},    {"FR", 44.18},  {"US", 383.55}, {"GB", 215.79}, {"PL", 614.98},
                {"WORLD", 472.94}, {"de", 342.06}, {"EU", 213.02}, {"ZA", 713.90}, {"SE", 35.89},
        };
        for (size_t i = 0; i < ELEMENTSOF(rows); i++) {
                const CarbonGridFactor *g = carbon_grid_lookup(rows[i].code);
                assert_non_null(g);
                assert_true(g->g_per_kwh == rows[i].g);
        }
        assert_null(carbon_grid_lookup("XX"));
        assert_null(carbon_grid_lookup(""));
        size_t n;
        carbon_grid_table(&n);
        assert_int_equal(n, 31); /* every row of shared/data/grid-intensity-2024.csv */
}

static void test_series_mean(void **state)
{
        int64_t h = INT64_C(3600000000), t0 = INT64_C(1767225600000000);
        CarbonInterval v[] = {
                {t0, t0 + h / 2, 100, 1},
                {t0 + h / 2, t0 + h, 300, 2},
                {t0 + 2 * h, t0 + 3 * h, 50, 3},
        };
        double m = -1;
        assert_true(carbon_series_mean(v, 3, t0, t0 + h, &m) == h);
        assert_true(m == 200);
        /* the gap hour: not covered, untouched */
        m = -1;
        assert_true(carbon_series_mean(v, 3, t0 + h, t0 + 2 * h, &m) == 0);
        assert_true(m == -1);
        assert_true(carbon_series_mean(v, 3, t0 + 2 * h, t0 + 3 * h, &m) == h);
        assert_true(m == 50);
        /* half covered: the mean of what is covered */
        assert_true(carbon_series_mean(v, 3, t0 + h / 2, t0 + 3 * h / 2, &m) == h / 2);
        assert_true(m == 300);
}

static void test_parse_csv_good(void **state)
{
        static const char *const files[] = {
                "start,end,g_per_kwh\n"
                "2026-01-01T00:00:00Z,2026-01-01T01:00:00Z,120.5\n"
                "2026-01-01T01:00:00Z,2026-01-01T02:00:00Z,130\n",
                /* no header, CRLF, comments, blank lines, out of order, minutes-only times */
                "# from the grid operator\r\n"
                "2026-01-01T01:00Z,2026-01-01T02:00Z, 130 \r\n"
                "\r\n"
                "2026-01-01T00:00Z,2026-01-01T01:00Z,120.5\r\n",
                /* offsets (in parentheses: clang asks whether a comma is missing) */
                ("2026-01-01T01:00:00+01:00,2026-01-01T02:00:00+01:00,120.5\n"
                 "2026-01-01T01:00:00Z,2026-01-01T02:00:00Z,130"),
        };
        for (size_t i = 0; i < ELEMENTSOF(files); i++) {
                CarbonInterval *v = NULL;
                size_t n = 0;
                char err[256] = "";
                int r = carbon_parse_csv(files[i], &v, &n, err, sizeof(err));
                if (r < 0)
                        fprintf(stderr, "file %zu: %s\n", i, err);
                assert_int_equal(r, 0);
                assert_int_equal(n, 2);
                assert_true(v[0].start_us == INT64_C(1767225600000000));
                assert_true(v[0].end_us == INT64_C(1767229200000000));
                assert_true(v[0].g_per_kwh == 120.5);
                assert_true(v[1].start_us == v[0].end_us);
                assert_true(v[1].g_per_kwh == 130);
                free(v);
        }
}

static void test_parse_csv_bad(void **state)
{
        static const struct {
                const char *text;
                const char *error; /* a substring */
        } rows[] = {
                {"start,end,g_per_kwh\n"
                 "2026-01-01T00:00:00Z,2026-01-01T01:00:00Z,120\n"
                 "2026-01-01T01:00:00Z,2026-01-01T02:00:00Z\n",
                 "line 3: expected 3 fields"},
                {"2026-01-01T00:00:00Z,2026-01-01T01:00:00Z,abc\n", "line 1: g_per_kwh 'abc'"},
                {"2026-01-01T00:00:00Z,2026-01-01T01:00:00Z,1\n"
                 "yesterday,2026-01-01T01:00:00Z,1\n",
                 "line 2: start 'yesterday'"},
                {"2026-01-01T00:00:00Z,15m,1\n", "line 1: end '15m'"},
                {"2026-01-01T01:00:00Z,2026-01-01T00:00:00Z,1\n", "line 1: the end is not after"},
                {"2026-01-01T00:00:00Z,2026-01-01T01:00:00Z,-5\n", "line 1: -5 is not an intens"},
                {"2026-01-01T00:00:00Z,2026-01-01T01:00:00Z,1\n"
                 "2026-01-01T00:30:00Z,2026-01-01T01:30:00Z,2\n",
                 "line 2 overlaps line 1"},
                {"2026-01-01T00:00:00Z,2026-01-01T01:00:00Z,1,extra\n", "line 1: expected 3"},
                {"2026-02-30T00:00:00Z,2026-03-01T01:00:00Z,1\n", "line 1: start"},
                {"start,end,g_per_kwh\n", "no intervals"},
                {"", "no intervals"},
        };
        for (size_t i = 0; i < ELEMENTSOF(rows); i++) {
                CarbonInterval *v = (CarbonInterval *)0x1;
                size_t n = 99;
                char err[256] = "";
                assert_int_equal(carbon_parse_csv(rows[i].text, &v, &n, err, sizeof(err)), -EINVAL);
                if (!strstr(err, rows[i].error)) {
                        fprintf(stderr, "row %zu: '%s' lacks '%s'\n", i, err, rows[i].error);
                        fail();
                }
                /* nothing returned */
                assert_ptr_equal(v, (CarbonInterval *)0x1);
                assert_int_equal(n, 99);
        }
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_embodied),       cmocka_unit_test(test_sci),
                cmocka_unit_test(test_conversions),    cmocka_unit_test(test_weighted),
                cmocka_unit_test(test_grid_table),     cmocka_unit_test(test_series_mean),
                cmocka_unit_test(test_parse_csv_good), cmocka_unit_test(test_parse_csv_bad),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
