/* Table tests for cli/band.c: the uncertainty band's bounds and how tables show it. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "cli/band.h"

static void test_bounds(void **state)
{
        static const struct {
                double value, band, low, high; /* NaN: null */
        } rows[] = {
                {100, 30, 70, 130}, {100, 10, 90, 110},   {2.5, 50, 1.25, 3.75},
                {100, 0, NAN, NAN}, {100, NAN, NAN, NAN}, {100, 150, 0, 250},
                {0, 30, 0, 0},      {NAN, 30, NAN, NAN},  {100, 31.25, 68.75, 131.25},
        };
        (void)state;
        for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
                double lo, hi;
                band_bounds(rows[i].value, rows[i].band, &lo, &hi);
                bool ok = isnan(rows[i].low) ? isnan(lo) && isnan(hi)
                                             : fabs(lo - rows[i].low) < 1e-12 &&
                                                       fabs(hi - rows[i].high) < 1e-12;
                if (!ok)
                        fail_msg("row %zu: %g ±%g%% gave %g..%g, want %g..%g", i, rows[i].value,
                                 rows[i].band, lo, hi, rows[i].low, rows[i].high);
        }
}

static void test_format(void **state)
{
        static const struct {
                double band;
                const char *text;
        } rows[] = {
                {30, "±30%"}, {31.25, "±31.2%"}, {0, ""}, {NAN, "±?"}, {-1, ""}, {9.96, "±10.0%"},
        };
        (void)state;
        for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
                char buf[16];
                if (strcmp(band_format(rows[i].band, buf, sizeof(buf)), rows[i].text) != 0)
                        fail_msg("row %zu: %g gave '%s', want '%s'", i, rows[i].band, buf,
                                 rows[i].text);
        }
        assert_true(band_known(30));
        assert_false(band_known(0));
        assert_false(band_known(NAN));
        assert_string_equal(band_method_label("cpu"), "CPU-aware default");
        assert_string_equal(band_method_label("configured"), "configured curve");
        assert_string_equal(band_method_label("generic"), "generic default");
        assert_string_equal(band_method_label("other"), "other");
        assert_string_equal(band_method_label(NULL), "");
}

/* Ranges mixing runs: the measured part is exact, each estimated part spans E * (1 ± b). */
static void test_sum(void **state)
{
        static const struct {
                struct {
                        double e;
                        bool est;
                        double band;
                } parts[3];
                size_t n;
                double pct, low, high; /* pct NaN: unknown; low NaN: no bounds */
        } rows[] = {
                /* all measured: no band at all */
                {{{2980, false, 0}}, 1, 0, NAN, NAN},
                {{{2980, false, 0}, {20, false, NAN}}, 2, 0, NAN, NAN},
                /* the reported case: 2980 J measured, 27.83 J estimated ±56.5% */
                {{{2980, false, 0}, {27.83, true, 56.5}},
                 2,
                 100 * 27.83 * 0.565 / 3007.83,
                 2980 + 27.83 * 0.435,
                 2980 + 27.83 * 1.565},
                /* all estimated, one band: the band itself */
                {{{100, true, 30}}, 1, 30, 70, 130},
                /* two estimated runs: energy-weighted, not the widest */
                {{{100, true, 30}, {300, true, 10}}, 2, 15, 70 + 270, 130 + 330},
                /* a band over 100% clips each part's low bound at 0, not the total's */
                {{{100, false, 0}, {100, true, 150}}, 2, 75, 100, 350},
                /* an estimate without a known band makes the whole unknown */
                {{{100, false, 0}, {10, true, NAN}, {100, true, 30}}, 3, NAN, NAN, NAN},
                /* ... unless it holds no energy */
                {{{100, false, 0}, {0, true, NAN}, {100, true, 30}}, 3, 15, 170, 230},
                /* negative or NaN energy is no part */
                {{{-5, true, 30}, {NAN, true, 30}, {50, false, 0}}, 3, 0, NAN, NAN},
        };
        (void)state;
        for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
                BandSum sum = {0};
                for (size_t k = 0; k < rows[i].n; k++)
                        band_sum_add(&sum, rows[i].parts[k].e, rows[i].parts[k].est,
                                     rows[i].parts[k].band);
                double pct = band_sum_pct(&sum), lo, hi;
                band_sum_bounds(&sum, sum.measured_j + sum.estimated_j, &lo, &hi);
                bool ok = isnan(rows[i].pct) ? isnan(pct) : fabs(pct - rows[i].pct) < 1e-9;
                ok = ok && (isnan(rows[i].low) ? isnan(lo) && isnan(hi)
                                               : fabs(lo - rows[i].low) < 1e-9 &&
                                                         fabs(hi - rows[i].high) < 1e-9);
                if (!ok)
                        fail_msg("row %zu: gave ±%g%% %g..%g, want ±%g%% %g..%g", i, pct, lo, hi,
                                 rows[i].pct, rows[i].low, rows[i].high);
        }
        /* an estimate alone shows its band exactly (JSON consumers compare it with the run's) */
        for (double e = 0.1; e < 1e4; e *= 3.7) {
                BandSum one = {0};
                band_sum_add(&one, e, true, 20);
                band_sum_add(&one, e / 3, true, 20);
                if (band_sum_pct(&one) != 20)
                        fail_msg("%g J ±20%% gave ±%.17g%%", e, band_sum_pct(&one));
        }
        /* a unit's share: its measured joules exact, its estimated ones with the band of the
         * whole's estimates (100 J ±30 and 300 J ±10: 15 %), whatever the whole's measured part */
        BandSum whole = {0};
        band_sum_add(&whole, 1000, false, 0);
        band_sum_add(&whole, 100, true, 30);
        band_sum_add(&whole, 300, true, 10);
        BandSum u = band_sum_share(&whole, 40, 60);
        assert_true(u.measured_j == 40 && u.estimated_j == 60);
        assert_true(fabs(band_sum_pct(&u) - 60 * 15.0 / 100) < 1e-12);
        double ul, uh;
        band_sum_bounds(&u, 100, &ul, &uh);
        assert_true(fabs(ul - (40 + 60 * 0.85)) < 1e-9 && fabs(uh - (40 + 60 * 1.15)) < 1e-9);
        u = band_sum_share(&whole, 50, 0); /* measured only: no band */
        assert_true(band_sum_pct(&u) == 0);
        band_sum_bounds(&u, 50, &ul, &uh);
        assert_true(isnan(ul) && isnan(uh));
        whole = (BandSum){0};
        band_sum_add(&whole, 100, true, 30);
        u = band_sum_share(&whole, 0, 7); /* one band: exactly it */
        assert_true(band_sum_pct(&u) == 30);
        whole.unknown = true; /* unknown stays unknown */
        u = band_sum_share(&whole, 1, 7);
        assert_true(isnan(band_sum_pct(&u)));
        whole = (BandSum){0};
        band_sum_add(&whole, 100, false, 0);
        u = band_sum_share(&whole, 1, 7); /* an estimate the whole has no band for */
        assert_true(isnan(band_sum_pct(&u)));
        u = band_sum_share(&whole, 1, 0); /* ... unless it holds no energy */
        assert_true(band_sum_pct(&u) == 0);
        /* kWh, or a unit's share of the whole: the bounds scale with the value, the percent not */
        BandSum sum = {0};
        band_sum_add(&sum, 3.6e6, true, 20);
        band_sum_add(&sum, 3.6e6, false, 0);
        double lo, hi;
        band_sum_bounds(&sum, 2, &lo, &hi);
        assert_true(fabs(lo - 1.8) < 1e-12 && fabs(hi - 2.2) < 1e-12);
        assert_true(fabs(band_sum_pct(&sum) - 10) < 1e-12);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_bounds),
                cmocka_unit_test(test_format),
                cmocka_unit_test(test_sum),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
