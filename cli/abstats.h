#pragma once

#include <stdbool.h>
#include <stddef.h>

/* The statistics of joules ab: pure functions over the runs' joules per request.
 *
 * Method. Energy per request is positive and its run-to-run noise is multiplicative (a busier
 * neighbour, a warmer machine scale a run up or down), so the analysis is on the logarithm:
 *   - per variant: the median of the runs, and a 95% confidence interval for the geometric mean
 *     (exp of mean(log x) -/+ t(0.975, n-1) * sd(log x) / sqrt(n));
 *   - the ratio B/A: exp of the difference of the mean logs (the ratio of geometric means) with
 *     Welch's t interval on that difference (unequal variances, Welch-Satterthwaite degrees of
 *     freedom);
 *   - significant when that interval excludes 1.
 * Why not a bootstrap: with the 3 to 10 runs such an experiment affords, a percentile bootstrap
 * has far fewer distinct resamples than it pretends and its intervals are too narrow (a 95%
 * interval over 3 runs per variant covers much less than 95%); the t interval widens honestly
 * with few runs (t(0.975, 2) = 4.30) and needs no random numbers to be reproducible. The balanced
 * order (A B B A A B B A ...) makes a linear drift of the machine's state fall equally on both. */

typedef struct AbInterval {
        double estimate;  /* the median (per variant) or the ratio of geometric means (B/A) */
        double geomean;   /* per variant: the centre of the interval */
        double low, high; /* NAN when it cannot be computed (fewer than 2 runs) */
        double df;        /* degrees of freedom of the t quantile used */
} AbInterval;

/* The median of x[0..n) (n >= 1; x is not modified). */
double abstats_median(const double *x, size_t n);

/* The p quantile of Student's t distribution with df > 0 degrees of freedom (0 < p < 1). */
double abstats_t_quantile(double p, double df);

/* Per variant, at confidence level (0.95): -EDOM when a value is not positive and finite,
 * -EINVAL when n is 0. With one run, low and high are NAN. */
int abstats_variant(const double *x, size_t n, double level, AbInterval *ret)
        __attribute__((warn_unused_result));

/* The ratio b/a of geometric means and its Welch interval. -EDOM, -EINVAL as above; with fewer
 * than two runs on either side, low and high are NAN. */
int abstats_ratio(const double *a, size_t na, const double *b, size_t nb, double level,
                  AbInterval *ret) __attribute__((warn_unused_result));

/* Does the interval exclude 1? False when it could not be computed. */
bool abstats_significant(const AbInterval *ratio);

/* The balanced order of 2 * repeat runs: pairs AB, BA, AB, BA ... ("ABBAAB..."). order holds
 * 2 * repeat + 1 bytes. */
void abstats_order(size_t repeat, char *order);
