/* The statistics of joules ab (see abstats.h for the method and why). */
#include "cli/abstats.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static int abstats_cmp(const void *a, const void *b)
{
        double x = *(const double *)a, y = *(const double *)b;
        return (x > y) - (x < y);
}

double abstats_median(const double *x, size_t n)
{
        double *c = malloc(n * sizeof(*c));
        if (!c)
                return NAN;
        memcpy(c, x, n * sizeof(*c));
        qsort(c, n, sizeof(*c), abstats_cmp);
        double m = n % 2 ? c[n / 2] : (c[n / 2 - 1] + c[n / 2]) / 2;
        free(c);
        return m;
}

/* The continued fraction of the regularized incomplete beta function I_x(a, b), evaluated with
 * the modified Lentz method; converges fast for x < (a + 1) / (a + b + 2). */
static double abstats_betacf(double a, double b, double x)
{
        const double tiny = 1e-300;
        double c = 1, d = 1 - (a + b) * x / (a + 1);
        if (fabs(d) < tiny)
                d = tiny;
        d = 1 / d;
        double h = d;
        for (int m = 1; m <= 300; m++) {
                double m2 = 2.0 * m;
                double num = m * (b - m) * x / ((a + m2 - 1) * (a + m2));
                d = 1 + num * d;
                d = fabs(d) < tiny ? 1 / tiny : 1 / d;
                c = 1 + num / c;
                if (fabs(c) < tiny)
                        c = tiny;
                h *= d * c;
                num = -(a + m) * (a + b + m) * x / ((a + m2) * (a + m2 + 1));
                d = 1 + num * d;
                d = fabs(d) < tiny ? 1 / tiny : 1 / d;
                c = 1 + num / c;
                if (fabs(c) < tiny)
                        c = tiny;
                double step = d * c;
                h *= step;
                if (fabs(step - 1) < 1e-15)
                        break;
        }
        return h;
}

static double abstats_ibeta(double a, double b, double x)
{
        if (x <= 0)
                return 0;
        if (x >= 1)
                return 1;
        double front = exp(lgamma(a + b) - lgamma(a) - lgamma(b) + a * log(x) + b * log1p(-x));
        if (x < (a + 1) / (a + b + 2))
                return front * abstats_betacf(a, b, x) / a;
        return 1 - front * abstats_betacf(b, a, 1 - x) / b;
}

/* P(T <= t) for Student's t with df degrees of freedom. */
static double abstats_t_cdf(double t, double df)
{
        double tail = 0.5 * abstats_ibeta(df / 2, 0.5, df / (df + t * t));
        return t >= 0 ? 1 - tail : tail;
}

double abstats_t_quantile(double p, double df)
{
        if (!(p > 0 && p < 1) || !(df > 0))
                return NAN;
        if (p == 0.5)
                return 0;
        if (p < 0.5)
                return -abstats_t_quantile(1 - p, df);
        /* bisection: the cdf is monotonic, and 1e-12 relative is far below what the data give */
        double lo = 0, hi = 1;
        while (abstats_t_cdf(hi, df) < p && hi < 1e12)
                hi *= 2;
        for (int i = 0; i < 200 && hi - lo > 1e-13 * hi; i++) {
                double mid = (lo + hi) / 2;
                if (abstats_t_cdf(mid, df) < p)
                        lo = mid;
                else
                        hi = mid;
        }
        return (lo + hi) / 2;
}

/* Mean and sample variance of log x; -EDOM for a value that is not positive and finite. */
static int abstats_log_moments(const double *x, size_t n, double *ret_mean, double *ret_var)
{
        double sum = 0;
        for (size_t i = 0; i < n; i++) {
                if (!(isfinite(x[i]) && x[i] > 0))
                        return -EDOM;
                sum += log(x[i]);
        }
        double mean = sum / (double)n, ss = 0;
        for (size_t i = 0; i < n; i++)
                ss += (log(x[i]) - mean) * (log(x[i]) - mean);
        *ret_mean = mean;
        *ret_var = n > 1 ? ss / (double)(n - 1) : NAN;
        return 0;
}

int abstats_variant(const double *x, size_t n, double level, AbInterval *ret)
{
        if (n == 0)
                return -EINVAL;
        double mean, var;
        int r = abstats_log_moments(x, n, &mean, &var);
        if (r < 0)
                return r;
        AbInterval v = {.estimate = abstats_median(x, n),
                        .geomean = exp(mean),
                        .low = NAN,
                        .high = NAN,
                        .df = NAN};
        if (n > 1) {
                v.df = (double)(n - 1);
                double half = abstats_t_quantile(1 - (1 - level) / 2, v.df) * sqrt(var / (double)n);
                v.low = exp(mean - half);
                v.high = exp(mean + half);
        }
        *ret = v;
        return 0;
}

int abstats_ratio(const double *a, size_t na, const double *b, size_t nb, double level,
                  AbInterval *ret)
{
        if (na == 0 || nb == 0)
                return -EINVAL;
        double ma, va, mb, vb;
        int r = abstats_log_moments(a, na, &ma, &va);
        if (r >= 0)
                r = abstats_log_moments(b, nb, &mb, &vb);
        if (r < 0)
                return r;
        double d = mb - ma;
        AbInterval v = {.estimate = exp(d), .geomean = exp(d), .low = NAN, .high = NAN, .df = NAN};
        if (na > 1 && nb > 1) {
                double qa = va / (double)na, qb = vb / (double)nb, se2 = qa + qb;
                /* Welch-Satterthwaite; with no spread at all on either side, the pooled df */
                v.df = se2 > 0 ? se2 * se2 /
                                         (qa * qa / (double)(na - 1) + qb * qb / (double)(nb - 1))
                               : (double)(na + nb - 2);
                double half = abstats_t_quantile(1 - (1 - level) / 2, v.df) * sqrt(se2);
                v.low = exp(d - half);
                v.high = exp(d + half);
        }
        *ret = v;
        return 0;
}

bool abstats_significant(const AbInterval *ratio)
{
        return isfinite(ratio->low) && isfinite(ratio->high) && (ratio->low > 1 || ratio->high < 1);
}

void abstats_order(size_t repeat, char *order)
{
        for (size_t i = 0; i < repeat; i++) {
                order[2 * i] = i % 2 ? 'B' : 'A';
                order[2 * i + 1] = i % 2 ? 'A' : 'B';
        }
        order[2 * repeat] = '\0';
}
