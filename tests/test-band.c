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

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_bounds),
                cmocka_unit_test(test_format),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
