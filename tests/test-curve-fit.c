/* Table tests for common/curve-fit.c: fitting monotone host power curves to samples, and the
 * error metrics of any curve against samples. */
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

#include "common/curve-fit.h"

#define ELEMS(a) (sizeof(a) / sizeof((a)[0]))

/* A SPECpower-like shape: steep at low load, flat near the top. */
static const PowerCurve truth = {
        .n = 6,
        .util_pct = {0, 10, 30, 50, 80, 100},
        .watts = {60, 100, 150, 180, 195, 200},
};

/* A deterministic noise source (the tests must give the same result every run). */
static uint64_t rng_state;
static double rng_uniform(void)
{
        rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
        return (double)(rng_state >> 11) / 9007199254740992.0;
}
static double rng_normal(void)
{
        double u = rng_uniform(), v = rng_uniform();
        return sqrt(-2 * log(u > 0 ? u : 1e-300)) * cos(2 * M_PI * v);
}

static void assert_curve_near(const PowerCurve *got, const PowerCurve *want, double tol_w)
{
        char a[512], b[512];
        power_curve_format(got, ", ", a, sizeof(a));
        power_curve_format(want, ", ", b, sizeof(b));
        if (got->n != want->n)
                fail_msg("got %s, want %s", a, b);
        for (unsigned i = 0; i < got->n; i++)
                if (fabs(got->util_pct[i] - want->util_pct[i]) > 1e-9 ||
                    fabs(got->watts[i] - want->watts[i]) > tol_w)
                        fail_msg("point %u: got %s, want %s", i + 1, a, b);
}

/* A curve's own points, and points between them, give the curve back exactly, whether the
 * breakpoints are found by exhaustive search (few candidates) or by descent (many). */
static void test_exact_recovery(void **state)
{
        static const double steps[] = {10, 5, 2.5, 1, 0.5};
        (void)state;
        for (size_t s = 0; s < ELEMS(steps); s++) {
                CurveSample v[256];
                size_t n = 0;
                for (double u = 0; u <= 100 + 1e-9; u += steps[s])
                        v[n++] = (CurveSample){u, power_curve_eval(&truth, u), 1};
                PowerCurve c;
                char err[256] = "";
                if (curve_fit(v, n, 6, &c, err, sizeof(err)) < 0)
                        fail_msg("step %g: %s", steps[s], err);
                assert_curve_near(&c, &truth, 1e-3);
                CurveFitError e;
                assert_int_equal(curve_fit_error(&c, v, n, &e), 0);
                assert_true(e.max_error_w < 1e-3);
        }
        /* its own 6 points with 6 points asked for: the same points */
        CurveSample own[6];
        for (unsigned i = 0; i < 6; i++)
                own[i] = (CurveSample){truth.util_pct[i], truth.watts[i], 1};
        PowerCurve c;
        char err[256];
        assert_int_equal(curve_fit(own, 6, 6, &c, err, sizeof(err)), 0);
        assert_curve_near(&c, &truth, 1e-9);
        /* more points allowed than the curve has: collinear points are dropped, the same curve */
        CurveSample fine[101];
        for (unsigned i = 0; i <= 100; i++)
                fine[i] = (CurveSample){i, power_curve_eval(&truth, i), 1};
        assert_int_equal(curve_fit(fine, 101, 10, &c, err, sizeof(err)), 0);
        for (unsigned i = 0; i <= 100; i++)
                assert_true(fabs(power_curve_eval(&c, i) - fine[i].watts) < 2e-3);
        assert_true(c.n <= 10);
}

/* Noisy samples at random utilisations: the fit stays close to the truth, is monotone, its
 * residuals are about the noise, and it gives back the samples' mean power exactly. */
static void test_noisy(void **state)
{
        static const struct {
                size_t n;
                double sigma_w;
                unsigned points;
                double tol_w; /* how far from the truth at every 5 % */
        } rows[] = {
                {500, 2, 6, 3},   {5000, 2, 6, 1.5}, {5000, 10, 6, 5},
                {2000, 2, 10, 3}, {20000, 5, 6, 2},  {300, 1, 4, 20},
        };
        (void)state;
        for (size_t r = 0; r < ELEMS(rows); r++) {
                rng_state = 42 + r;
                CurveSample *v = calloc(rows[r].n, sizeof(*v));
                assert_non_null(v);
                for (size_t i = 0; i < rows[r].n; i++) {
                        double u = 100 * rng_uniform();
                        v[i] = (CurveSample){
                                u, power_curve_eval(&truth, u) + rows[r].sigma_w * rng_normal(),
                                0.5 + rng_uniform()};
                }
                PowerCurve c;
                char err[256] = "";
                if (curve_fit(v, rows[r].n, rows[r].points, &c, err, sizeof(err)) < 0)
                        fail_msg("row %zu: %s", r, err);
                assert_true(c.n <= rows[r].points);
                assert_true(curve_is_monotone(&c));
                for (double u = 0; u <= 100; u += 5) {
                        double d = fabs(power_curve_eval(&c, u) - power_curve_eval(&truth, u));
                        if (u >= 2 && u <= 98 && d > rows[r].tol_w)
                                fail_msg("row %zu: %g %%: %g W from the truth", r, u, d);
                }
                CurveFitError e, et;
                assert_int_equal(curve_fit_error(&c, v, rows[r].n, &e), 0);
                assert_int_equal(curve_fit_error(&truth, v, rows[r].n, &et), 0);
                /* least squares: no worse than the true curve by more than its breakpoints' reach
                 * (the true breakpoints are not among the candidates), and about the noise;
                 * with fewer points than the truth has, only no worse than its points allow */
                if (rows[r].points >= truth.n && e.rmse_w > et.rmse_w * 1.05 + 0.2)
                        fail_msg("row %zu: rmse %g W, the truth's %g W", r, e.rmse_w, et.rmse_w);
                /* the residuals sum to zero: the mean power (energy) is reproduced, up to the
                 * rounding of the printed watts */
                if (fabs(e.bias_w) > 2e-3)
                        fail_msg("row %zu: bias %g W", r, e.bias_w);
                free(v);
        }
}

/* Non-monotone data give a monotone curve; with a point at every utilisation it is the isotonic
 * regression (pool adjacent violators) of the samples. */
static void test_monotone(void **state)
{
        static const struct {
                unsigned n;
                double u[8], w[8];
                unsigned points;
                unsigned want_n;
                double want_u[8], want_w[8];
        } rows[] = {
                /* one violation: pooled to the mean of the pair */
                {4, {0, 1, 2, 3}, {1, 3, 2, 4}, 4, 4, {0, 1, 2, 3}, {1, 2.5, 2.5, 4}},
                /* a dip over three samples, then a rise */
                {6,
                 {0, 20, 40, 60, 80, 100},
                 {100, 150, 140, 130, 200, 210},
                 6,
                 5,
                 {0, 20, 60, 80, 100},
                 {100, 140, 140, 200, 210}},
                /* falling throughout: flat at the mean */
                {3, {0, 50, 100}, {30, 20, 10}, 3, 2, {0, 100}, {20, 20}},
                /* falling, two points: flat at the mean too, not a falling line */
                {3, {0, 50, 100}, {30, 20, 10}, 2, 2, {0, 100}, {20, 20}},
        };
        (void)state;
        for (size_t r = 0; r < ELEMS(rows); r++) {
                CurveSample v[8];
                for (unsigned i = 0; i < rows[r].n; i++)
                        v[i] = (CurveSample){rows[r].u[i], rows[r].w[i], 1};
                PowerCurve c, want = {.n = rows[r].want_n};
                memcpy(want.util_pct, rows[r].want_u, sizeof(rows[r].want_u));
                memcpy(want.watts, rows[r].want_w, sizeof(rows[r].want_w));
                char err[256] = "";
                if (curve_fit(v, rows[r].n, rows[r].points, &c, err, sizeof(err)) < 0)
                        fail_msg("row %zu: %s", r, err);
                assert_true(curve_is_monotone(&c));
                assert_curve_near(&c, &want, 1e-3);
        }
}

/* Two points: the least-squares line between the lowest and the highest utilisation. */
static void test_two_points_is_line(void **state)
{
        (void)state;
        for (unsigned r = 0; r < 5; r++) {
                rng_state = 7 + r;
                CurveSample v[200];
                for (unsigned i = 0; i < 200; i++) {
                        double u = 5 + 90 * rng_uniform();
                        v[i] = (CurveSample){u, 50 + (r + 1) * u + 8 * rng_normal(),
                                             r % 2 ? 1 : 0.1 + rng_uniform()};
                }
                double a, b;
                assert_int_equal(curve_fit_line(v, 200, &a, &b), 0);
                assert_true(b > 0);
                PowerCurve c;
                char err[256] = "";
                if (curve_fit(v, 200, 2, &c, err, sizeof(err)) < 0)
                        fail_msg("row %u: %s", r, err);
                assert_int_equal(c.n, 2);
                for (unsigned j = 0; j < 2; j++) {
                        double want = a + b * c.util_pct[j];
                        if (fabs(c.watts[j] - want) > 2e-3)
                                fail_msg("row %u: %g W at %g %%, the line gives %g", r, c.watts[j],
                                         c.util_pct[j], want);
                }
        }
}

/* Bad input is refused with a sentence that says what is wrong. */
static void test_degenerate(void **state)
{
        static const struct {
                unsigned n;
                double u[4], w[4], weight;
                unsigned points;
                const char *err;
        } rows[] = {
                {0, {0}, {0}, 1, 6, "no samples"},
                {3, {40, 40, 40}, {100, 120, 110}, 1, 2, "every sample is at utilisation 40.00"},
                {2, {0, 101}, {1, 2}, 1, 2, "sample 2: utilisation 101 is not within 0 to 100"},
                {2, {-1, 50}, {1, 2}, 1, 2, "sample 1: utilisation -1"},
                {2, {0, NAN}, {1, 2}, 1, 2, "sample 2: utilisation nan"},
                {2, {0, 100}, {1, -2}, 1, 2, "sample 2: -2 W"},
                {2, {0, 100}, {INFINITY, 2}, 1, 2, "sample 1: inf W"},
                {2, {0, 100}, {1, 2}, 0, 2, "weight 0"},
                {2, {0, 100}, {1, 2}, 1, 1, "1 points asked for"},
                {2, {0, 100}, {1, 2}, 1, 22, "22 points asked for"},
        };
        (void)state;
        for (size_t r = 0; r < ELEMS(rows); r++) {
                CurveSample v[4];
                for (unsigned i = 0; i < rows[r].n; i++)
                        v[i] = (CurveSample){rows[r].u[i], rows[r].w[i], rows[r].weight};
                PowerCurve c;
                char err[256] = "";
                int ret = curve_fit(v, rows[r].n, rows[r].points, &c, err, sizeof(err));
                if (ret != -EINVAL || !strstr(err, rows[r].err))
                        fail_msg("row %zu: %d '%s', want -EINVAL '%s'", r, ret, err, rows[r].err);
        }
}

/* "At most N points": samples at fewer utilisations than asked give one point at each. */
static void test_fewer_utilisations(void **state)
{
        static const struct {
                unsigned n;
                double u[4], w[4];
                unsigned points, want_n;
        } rows[] = {
                {3, {0, 50, 100}, {10, 30, 35}, 6, 3},
                {4, {0, 50, 50.001, 100}, {10, 30, 30, 35}, 4, 3}, /* 50.001 is 50.00 */
                {2, {20, 80}, {50, 90}, 21, 2},
        };
        (void)state;
        for (size_t r = 0; r < ELEMS(rows); r++) {
                CurveSample v[4];
                for (unsigned i = 0; i < rows[r].n; i++)
                        v[i] = (CurveSample){rows[r].u[i], rows[r].w[i], 1};
                PowerCurve c;
                char err[256] = "";
                if (curve_fit(v, rows[r].n, rows[r].points, &c, err, sizeof(err)) < 0)
                        fail_msg("row %zu: %s", r, err);
                assert_int_equal(c.n, rows[r].want_n);
                for (unsigned i = 0; i < rows[r].n; i++)
                        if (fabs(power_curve_eval(&c, v[i].util_pct) - v[i].watts) > 1e-3)
                                fail_msg("row %zu: %g %% gives %g W, want %g", r, v[i].util_pct,
                                         power_curve_eval(&c, v[i].util_pct), v[i].watts);
        }
}

/* The metrics against hand-computed figures. */
static void test_error_metrics(void **state)
{
        static const PowerCurve line = {.n = 2, .util_pct = {0, 100}, .watts = {100, 200}};
        /* curve: 100, 150, 200; measured 110, 150, 180 -> errors -10, 0, +20 W; -9.09, 0,
         * 11.11 % */
        static const CurveSample v[] = {{0, 110, 1}, {50, 150, 1}, {100, 180, 2}};
        CurveFitError e;
        (void)state;
        assert_int_equal(curve_fit_error(&line, v, 3, &e), 0);
        assert_int_equal(e.samples, 3);
        assert_true(fabs(e.max_error_w - 20) < 1e-12);
        assert_true(e.max_error_util_pct == 100);
        assert_true(fabs(e.max_error_pct - 100.0 * 20 / 180) < 1e-12);
        double mape = (100.0 * 10 / 110 + 0 + 2 * 100.0 * 20 / 180) / 4;
        assert_true(fabs(e.mape_pct - mape) < 1e-12);
        assert_true(fabs(e.rmse_w - sqrt((100.0 + 0 + 2 * 400) / 4)) < 1e-12);
        assert_true(fabs(e.bias_w - (-10.0 + 0 + 2 * 20) / 4) < 1e-12);
        /* a 0 W sample counts in the watts, not in the percentages */
        static const CurveSample z[] = {{0, 0, 1}, {100, 200, 1}};
        assert_int_equal(curve_fit_error(&line, z, 2, &e), 0);
        assert_int_equal(e.zero_watts, 1);
        assert_true(e.mape_pct == 0 && e.max_error_w == 100);
        assert_int_equal(curve_fit_error(&line, z, 0, &e), -EINVAL);
        /* monotone or not */
        assert_true(curve_is_monotone(&line));
        static const PowerCurve down = {.n = 3, .util_pct = {0, 50, 100}, .watts = {1, 3, 2}};
        assert_false(curve_is_monotone(&down));
}

/* Many distinct utilisations (more than the candidates): quantile candidates, and still a good
 * fit of a history-like cloud concentrated at low load. */
static void test_many_samples(void **state)
{
        (void)state;
        rng_state = 99;
        size_t n = 100000;
        CurveSample *v = calloc(n, sizeof(*v));
        assert_non_null(v);
        for (size_t i = 0; i < n; i++) {
                double u = 100 * pow(rng_uniform(), 2); /* mostly at low utilisation */
                v[i] = (CurveSample){u, power_curve_eval(&truth, u) + rng_normal(), 1};
        }
        PowerCurve c;
        char err[256] = "";
        if (curve_fit(v, n, 6, &c, err, sizeof(err)) < 0)
                fail_msg("%s", err);
        assert_true(curve_is_monotone(&c));
        for (double u = 1; u <= 99; u += 7)
                if (fabs(power_curve_eval(&c, u) - power_curve_eval(&truth, u)) > 2.5)
                        fail_msg("%g %%: %g W, truth %g W", u, power_curve_eval(&c, u),
                                 power_curve_eval(&truth, u));
        free(v);
}

/* More points never fit worse: a curve of k points can be the one of k - 1 with a point added,
 * and the search keeps that start (descent alone could stop in a local optimum), also when the
 * breakpoints are too many to try every combination. */
static void test_more_points_never_worse(void **state)
{
        (void)state;
        for (unsigned r = 0; r < 10; r++) {
                rng_state = 1000 + r;
                CurveSample v[41];
                double a = 2 * rng_uniform(), b = 3 * rng_uniform();
                for (unsigned i = 0; i < 41; i++) {
                        double u = 2.5 * i;
                        v[i] = (CurveSample){u,
                                             50 + 100 * pow(u / 100, 0.5 + a) +
                                                     80 * pow(u / 100, 3 + b) + 2 * rng_normal(),
                                             1};
                }
                double prev = INFINITY;
                for (unsigned k = 2; k <= 12; k++) {
                        PowerCurve c;
                        CurveFitError e;
                        char err[256] = "";
                        if (curve_fit(v, 41, k, &c, err, sizeof(err)) < 0)
                                fail_msg("row %u, %u points: %s", r, k, err);
                        assert_int_equal(curve_fit_error(&c, v, 41, &e), 0);
                        if (e.rmse_w > prev + 1e-3)
                                fail_msg("row %u: %u points %g W rmse, %u points %g W", r, k,
                                         e.rmse_w, k - 1, prev);
                        prev = e.rmse_w;
                }
        }
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_exact_recovery),
                cmocka_unit_test(test_noisy),
                cmocka_unit_test(test_monotone),
                cmocka_unit_test(test_two_points_is_line),
                cmocka_unit_test(test_degenerate),
                cmocka_unit_test(test_fewer_utilisations),
                cmocka_unit_test(test_error_metrics),
                cmocka_unit_test(test_many_samples),
                cmocka_unit_test(test_more_points_never_worse),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
