#pragma once

#include <stddef.h>

#include "common/power-curve.h"

/* Fitting a host power curve to measurements, and the error of any curve against them. Pure
 * functions: what `joules calibrate` runs and what the SPECpower validation test checks.
 *
 * The criterion is weighted least squares on the watts, under the constraint that the curve never
 * goes down (watts non-decreasing with utilisation). Least squares because the curve is used to
 * integrate energy: it is the criterion whose residuals sum to zero, so the fitted curve gives
 * back exactly the measured mean power (the energy) of the samples it was fitted to. That holds
 * with the constraint too, since adding a constant to every point keeps a curve monotone. With
 * samples weighted by their duration (ticks of the history) it is the energy over the calibration
 * period that is reproduced. A mean-absolute-percentage criterion would favour the low-power
 * samples and bias the energy; MAPE and the max error are reported, not minimised.
 *
 * Breakpoints are chosen among candidate utilisations: every distinct sample utilisation (rounded
 * to CURVE_FIT_UTIL_STEP) when there are at most CURVE_FIT_MAX_CANDIDATES of them, else that
 * many quantiles of the samples. The first and last points are the lowest and highest candidate:
 * outside the samples the curve stays flat, it never extrapolates a slope nobody measured. The
 * curve is grown one point at a time: at each size the interior points are placed by exhaustive
 * search over the candidates when the combinations are few (at most CURVE_FIT_EXHAUSTIVE, which
 * covers SPECpower's 11 load levels for any point count), else by coordinate descent (each point
 * moved to its best candidate between its neighbours, in turn, until none moves) from the smaller
 * curve with a point added where it helps most, and from evenly spread points, keeping the
 * better; so more points never fit worse. For a given set of breakpoints the values are the exact
 * constrained least-squares solution (an active-set non-negative least squares on the steps
 * between points), computed from per-candidate-interval sums, so a search step costs no pass over
 * the samples. */

#define CURVE_FIT_DEFAULT_POINTS 6
#define CURVE_FIT_MAX_CANDIDATES 101
#define CURVE_FIT_EXHAUSTIVE     50000
#define CURVE_FIT_UTIL_STEP      0.01  /* %: breakpoints are printed and stored to this step */
#define CURVE_FIT_WATTS_STEP     0.001 /* W: the fitted watts are rounded to this step */

typedef struct CurveSample {
        double util_pct; /* [0, 100] */
        double watts;    /* >= 0, finite */
        double weight;   /* > 0: 1 per CSV row, the tick's seconds for the history */
} CurveSample;

/* Fits a monotone curve of at most max_points points (POWER_CURVE_MIN..POWER_CURVE_MAX) to the
 * samples. Fewer points come out where the samples have fewer distinct utilisations (one point
 * each then), or where the best fit has collinear points (two flat steps in a row, say), which
 * are dropped. 0, or -EINVAL with the reason in err (a sentence: no samples, a sample out of
 * range, every sample at the same utilisation), or -ENOMEM. */
int curve_fit(const CurveSample *samples, size_t n, unsigned max_points, PowerCurve *ret, char *err,
              size_t errlen) __attribute__((warn_unused_result));

typedef struct CurveFitError {
        size_t samples;
        size_t zero_watts;         /* samples at 0 W, left out of the percentages */
        double mape_pct;           /* mean absolute percentage error, weighted */
        double max_error_w;        /* the largest |curve - measured| */
        double max_error_pct;      /* the largest |curve - measured| / measured */
        double max_error_util_pct; /* where max_error_w is */
        double rmse_w;             /* weighted root mean square error */
        double bias_w;             /* weighted mean of curve - measured (energy error / time) */
} CurveFitError;

/* The error of curve c against the samples (any curve: fitted, a default, a straight line). 0, or
 * -EINVAL with no samples or a weight sum that is not positive. */
int curve_fit_error(const PowerCurve *c, const CurveSample *samples, size_t n, CurveFitError *ret)
        __attribute__((warn_unused_result));

/* The least-squares straight line through the samples, unconstrained (the reference the two-point
 * fit must equal when its slope is >= 0): watts = a + b * util. -EINVAL when all utilisations are
 * equal. */
int curve_fit_line(const CurveSample *samples, size_t n, double *ret_a, double *ret_b)
        __attribute__((warn_unused_result));

/* 1 when the curve's watts never go down with utilisation, else 0. */
int curve_is_monotone(const PowerCurve *c);
