/* joules ab's statistics from tables: known samples with their intervals. The expected values
 * were computed independently in python3 (the t quantile by integrating Student's density with
 * Simpson's rule and bisecting, not through the incomplete beta function the code uses); the t
 * quantiles of whole degrees of freedom are also those printed in every statistics table. */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "cli/abstats.h"
#include "common/util.h"

static void close_to(const char *what, size_t row, double got, double want, double rel)
{
        if (!(fabs(got - want) <= rel * fabs(want)))
                fail_msg("row %zu %s: %.12g, expected %.12g", row, what, got, want);
}

static void test_t_quantile(void **state)
{
        static const struct {
                double p, df, t;
        } rows[] = {
                {0.975, 1, 12.706204736},  {0.975, 2, 4.302652730},
                {0.975, 3, 3.182446305},   {0.975, 4.5, 2.658912347},
                {0.975, 7.3, 2.345066737}, {0.975, 30, 2.042272456},
                {0.025, 2, -4.302652730},  {0.5, 5, 0},
        };
        for (size_t i = 0; i < ELEMENTSOF(rows); i++) {
                double t = abstats_t_quantile(rows[i].p, rows[i].df);
                if (rows[i].t == 0)
                        assert_true(fabs(t) < 1e-12);
                else
                        close_to("t", i, t, rows[i].t, 1e-8);
        }
        assert_true(isnan(abstats_t_quantile(1, 3)));
        assert_true(isnan(abstats_t_quantile(0.975, 0)));
}

static void test_median(void **state)
{
        static const struct {
                double x[6];
                size_t n;
                double m;
        } rows[] = {
                {{3}, 1, 3},
                {{2, 1}, 2, 1.5},
                {{5, 1, 3}, 3, 3},
                {{4, 1, 3, 2}, 4, 2.5},
                {{9, 9, 1, 1, 5, 7}, 6, 6},
        };
        for (size_t i = 0; i < ELEMENTSOF(rows); i++)
                close_to("median", i, abstats_median(rows[i].x, rows[i].n), rows[i].m, 1e-15);
}

static void test_variant(void **state)
{
        static const struct {
                double x[5];
                size_t n;
                double median, geomean, low, high;
        } rows[] = {
                {{1, 2, 4}, 3, 2, 2, 0.35746212359, 11.1899967466},
                {{0.0102, 0.0098, 0.0105, 0.0101, 0.0099},
                 5,
                 0.0101,
                 0.0100970480497,
                 0.00976424600981,
                 0.0104411932285},
                {{3, 5}, 2, 4, 3.87298334621, 0.150875184081, 99.4199284088},
        };
        for (size_t i = 0; i < ELEMENTSOF(rows); i++) {
                AbInterval v;
                assert_int_equal(abstats_variant(rows[i].x, rows[i].n, 0.95, &v), 0);
                close_to("median", i, v.estimate, rows[i].median, 1e-12);
                close_to("geomean", i, v.geomean, rows[i].geomean, 1e-10);
                close_to("low", i, v.low, rows[i].low, 1e-8);
                close_to("high", i, v.high, rows[i].high, 1e-8);
        }
        AbInterval v;
        /* one run: a median, no interval */
        assert_int_equal(abstats_variant((double[]){7}, 1, 0.95, &v), 0);
        assert_true(v.estimate == 7 && isnan(v.low) && isnan(v.high));
        /* J/request of a run with no energy, or none measured: no logarithm */
        assert_int_equal(abstats_variant((double[]){1, 0}, 2, 0.95, &v), -EDOM);
        assert_int_equal(abstats_variant((double[]){1, NAN}, 2, 0.95, &v), -EDOM);
        assert_int_equal(abstats_variant(NULL, 0, 0.95, &v), -EINVAL);
}

static void test_ratio(void **state)
{
        static const struct {
                double a[5], b[5];
                size_t na, nb;
                double df, est, low, high;
                bool significant;
        } rows[] = {
                /* B does twice the work */
                {{0.0102, 0.0098, 0.0105, 0.0101, 0.0099},
                 {0.0201, 0.0195, 0.0212, 0.0204, 0.0199},
                 5,
                 5,
                 7.829816960,
                 2.00177624749,
                 1.91791321171,
                 2.08930629423,
                 true},
                /* the same within noise: the interval holds 1 */
                {{1.0, 1.1, 0.95},
                 {1.02, 0.97, 1.08},
                 3,
                 3,
                 3.640780781,
                 1.00745685676,
                 0.864507045931,
                 1.17404400924,
                 false},
                /* B cheaper, unequal run counts */
                {{10.0, 12.0, 11.0, 9.5},
                 {8.0, 8.4, 7.9},
                 4,
                 3,
                 3.739845778,
                 0.765169652925,
                 0.653928767618,
                 0.895333906002,
                 true},
        };
        for (size_t i = 0; i < ELEMENTSOF(rows); i++) {
                AbInterval v;
                assert_int_equal(
                        abstats_ratio(rows[i].a, rows[i].na, rows[i].b, rows[i].nb, 0.95, &v), 0);
                close_to("df", i, v.df, rows[i].df, 1e-8);
                close_to("estimate", i, v.estimate, rows[i].est, 1e-10);
                close_to("low", i, v.low, rows[i].low, 1e-8);
                close_to("high", i, v.high, rows[i].high, 1e-8);
                if (abstats_significant(&v) != rows[i].significant)
                        fail_msg("row %zu: significant %d", i, abstats_significant(&v));
        }
        AbInterval v;
        /* identical runs on both sides: no spread, the interval is the point; 1 is not excluded */
        assert_int_equal(abstats_ratio((double[]){2, 2}, 2, (double[]){2, 2}, 2, 0.95, &v), 0);
        assert_true(v.low == 1 && v.high == 1 && !abstats_significant(&v));
        /* one run of A: an estimate but no interval, never significant */
        assert_int_equal(abstats_ratio((double[]){1}, 1, (double[]){3, 3.1}, 2, 0.95, &v), 0);
        close_to("estimate", 99, v.estimate, sqrt(3 * 3.1), 1e-12);
        assert_true(isnan(v.low) && !abstats_significant(&v));
        assert_int_equal(abstats_ratio((double[]){1, -1}, 2, (double[]){1, 1}, 2, 0.95, &v), -EDOM);
}

static void test_order(void **state)
{
        static const struct {
                size_t repeat;
                const char *order;
        } rows[] = {
                {1, "AB"}, {2, "ABBA"}, {3, "ABBAAB"}, {5, "ABBAABBAAB"}, {0, ""},
        };
        for (size_t i = 0; i < ELEMENTSOF(rows); i++) {
                char buf[64];
                abstats_order(rows[i].repeat, buf);
                assert_string_equal(buf, rows[i].order);
        }
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_t_quantile), cmocka_unit_test(test_median),
                cmocka_unit_test(test_variant),    cmocka_unit_test(test_ratio),
                cmocka_unit_test(test_order),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
