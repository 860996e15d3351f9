#include "common/curve-fit.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define K_MAX POWER_CURVE_MAX

/* Sums over the samples of one interval between two consecutive candidates, [c[m], c[m+1]], with
 * t = x - c[m] >= 0 and y the watts minus the weighted mean (so the squares stay small). */
typedef struct FitBin {
        double w, wt, wtt, wy, wty;
} FitBin;

typedef struct FitProblem {
        const double *cand; /* C candidate utilisations, increasing */
        size_t n_cand;
        const FitBin *bins; /* C - 1 */
        double wyy;         /* sum of w y^2 (centred y) */
} FitProblem;

/* v to the nearest multiple of step (0.01, 0.001), as the double nearest that decimal, so that
 * it prints short: round(v * 1000) / 1000, not round(v / 0.001) * 0.001. */
static double round_step(double v, double step)
{
        double inv = round(1 / step);
        return round(v * inv) / inv;
}

static int cmp_double(const void *a, const void *b)
{
        double x = *(const double *)a, y = *(const double *)b;
        return (x > y) - (x < y);
}

/* Solves A z = r for the n x n system (row stride K_MAX) by Gaussian elimination with partial
 * pivoting; A and r are destroyed. -EDOM when singular. */
static int solve_dense(double A[][K_MAX], double *r, unsigned n, double *z)
{
        for (unsigned c = 0; c < n; c++) {
                unsigned p = c;
                for (unsigned i = c + 1; i < n; i++)
                        if (fabs(A[i][c]) > fabs(A[p][c]))
                                p = i;
                if (!(fabs(A[p][c]) > 0))
                        return -EDOM;
                if (p != c) {
                        for (unsigned j = 0; j < n; j++) {
                                double t = A[c][j];
                                A[c][j] = A[p][j];
                                A[p][j] = t;
                        }
                        double t = r[c];
                        r[c] = r[p];
                        r[p] = t;
                }
                for (unsigned i = c + 1; i < n; i++) {
                        double f = A[i][c] / A[c][c];
                        if (f == 0)
                                continue;
                        for (unsigned j = c; j < n; j++)
                                A[i][j] -= f * A[c][j];
                        r[i] -= f * r[c];
                }
        }
        for (unsigned c = n; c-- > 0;) {
                double s = r[c];
                for (unsigned j = c + 1; j < n; j++)
                        s -= A[c][j] * z[j];
                z[c] = s / A[c][c];
        }
        return 0;
}

/* The minimiser of 1/2 x'Gx - b'x over the variables in P (the others 0). */
static int solve_passive(const double G[][K_MAX], const double *b, unsigned k, const bool *P,
                         double *z)
{
        double A[K_MAX][K_MAX], r[K_MAX], s[K_MAX];
        unsigned map[K_MAX], m = 0;
        for (unsigned i = 0; i < k; i++)
                if (P[i])
                        map[m++] = i;
        for (unsigned i = 0; i < m; i++) {
                for (unsigned j = 0; j < m; j++)
                        A[i][j] = G[map[i]][map[j]];
                r[i] = b[map[i]];
        }
        int ret = solve_dense(A, r, m, s);
        if (ret < 0)
                return ret;
        for (unsigned i = 0; i < k; i++)
                z[i] = 0;
        for (unsigned i = 0; i < m; i++)
                z[map[i]] = s[i];
        return 0;
}

/* Lawson and Hanson's active-set method on the normal equations: minimises
 * 1/2 x'Gx - b'x with x[0] free and x[1..k-1] >= 0. */
static int nnls_gram(const double G[][K_MAX], const double *b, unsigned k, double *x)
{
        bool P[K_MAX] = {true}, banned[K_MAX] = {false};
        double z[K_MAX], scale = 0;
        for (unsigned i = 0; i < k; i++)
                scale += fabs(b[i]) + fabs(G[i][i]);
        double tol = 1e-12 * (scale > 0 ? scale : 1);
        int r = solve_passive(G, b, k, P, x);
        if (r < 0)
                return r;
        for (unsigned outer = 0; outer < 4 * K_MAX; outer++) {
                unsigned best = 0;
                double best_w = tol;
                for (unsigned j = 1; j < k; j++) {
                        if (P[j] || banned[j])
                                continue;
                        double w = b[j];
                        for (unsigned i = 0; i < k; i++)
                                w -= G[j][i] * x[i];
                        if (w > best_w) {
                                best_w = w;
                                best = j;
                        }
                }
                if (best == 0)
                        return 0;
                P[best] = true;
                for (unsigned inner = 0;; inner++) {
                        r = solve_passive(G, b, k, P, z);
                        if (r < 0)
                                return r;
                        double alpha = 2;
                        for (unsigned j = 1; j < k; j++)
                                if (P[j] && z[j] <= 0) {
                                        double a = x[j] / (x[j] - z[j]);
                                        if (a < alpha)
                                                alpha = a;
                                }
                        if (alpha > 1) {
                                memcpy(x, z, k * sizeof(double));
                                break;
                        }
                        if (inner == 0 && z[best] <= 0) {
                                /* rounding made the entering step useless: never try it again */
                                P[best] = false;
                                banned[best] = true;
                                break;
                        }
                        for (unsigned j = 0; j < k; j++)
                                x[j] += alpha * (z[j] - x[j]);
                        for (unsigned j = 1; j < k; j++)
                                if (P[j] && x[j] <= 0) {
                                        P[j] = false;
                                        x[j] = 0;
                                }
                        if (inner > 4 * K_MAX)
                                return -EDOM;
                }
        }
        return 0;
}

/* The constrained least-squares curve through the breakpoints cand[idx[0..k-1]]: x[0] the value
 * at the first point (centred watts), x[j] >= 0 the step from point j-1 to j. Returns the sum of
 * weighted squared residuals. In each segment j, between breakpoints K_j and K_j+1 of width h,
 * s = (x - K_j) / h, and the curve is x[0] + x[1] + ... + x[j] + x[j+1] * s; A, B, Z below are
 * the sums of w s, w s^2 and w s y over the segment. */
static double fit_eval(const FitProblem *p, const size_t *idx, unsigned k, double *x)
{
        double W[K_MAX] = {0}, A[K_MAX] = {0}, B[K_MAX] = {0}, Y[K_MAX] = {0}, Z[K_MAX] = {0};
        for (unsigned j = 0; j + 1 < k; j++) {
                double K = p->cand[idx[j]], h = p->cand[idx[j + 1]] - K;
                double s1 = 0, s2 = 0, sty = 0;
                for (size_t m = idx[j]; m < idx[j + 1]; m++) {
                        const FitBin *f = &p->bins[m];
                        double d = p->cand[m] - K;
                        W[j] += f->w;
                        Y[j] += f->wy;
                        s1 += f->wt + d * f->w;
                        s2 += f->wtt + 2 * d * f->wt + d * d * f->w;
                        sty += f->wty + d * f->wy;
                }
                A[j] = s1 / h;
                B[j] = s2 / (h * h);
                Z[j] = sty / h;
        }
        /* suffix sums: the weight and sum of y of the segments from j on */
        double Wsuf[K_MAX + 1] = {0}, Ysuf[K_MAX + 1] = {0};
        for (unsigned j = k - 1; j-- > 0;) {
                Wsuf[j] = Wsuf[j + 1] + W[j];
                Ysuf[j] = Ysuf[j + 1] + Y[j];
        }
        double G[K_MAX][K_MAX], b[K_MAX];
        G[0][0] = Wsuf[0];
        b[0] = Ysuf[0];
        for (unsigned q = 1; q < k; q++) {
                /* variable q is 1 in the segments from q on and s in segment q - 1 */
                double common = Wsuf[q] + A[q - 1];
                for (unsigned pp = 0; pp < q; pp++) {
                        G[pp][q] = common;
                        G[q][pp] = common;
                }
                G[q][q] = Wsuf[q] + B[q - 1];
                b[q] = Ysuf[q] + Z[q - 1];
        }
        if (nnls_gram(G, b, k, x) < 0)
                return INFINITY;
        double sse = p->wyy;
        for (unsigned i = 0; i < k; i++) {
                double gx = 0;
                for (unsigned j = 0; j < k; j++)
                        gx += G[i][j] * x[j];
                sse += x[i] * gx - 2 * x[i] * b[i];
        }
        return sse > 0 ? sse : 0;
}

static double binomial(size_t n, size_t r)
{
        double v = 1;
        for (size_t i = 1; i <= r; i++)
                v = v * (double)(n - r + i) / (double)i;
        return v;
}

/* Every choice of the interior breakpoints; best_idx gets the one with the least error. */
static void search_exhaustive(const FitProblem *p, unsigned k, size_t *best_idx)
{
        size_t idx[K_MAX];
        double x[K_MAX], best = INFINITY;
        idx[0] = 0;
        idx[k - 1] = p->n_cand - 1;
        for (unsigned j = 1; j + 1 < k; j++)
                idx[j] = j;
        for (;;) {
                double e = fit_eval(p, idx, k, x);
                if (e < best) {
                        best = e;
                        memcpy(best_idx, idx, k * sizeof(size_t));
                }
                /* the next combination, in lexicographic order */
                unsigned j = k - 2;
                while (j >= 1 && idx[j] == p->n_cand - 1 - (k - 1 - j))
                        j--;
                if (j < 1)
                        return;
                idx[j]++;
                for (unsigned i = j + 1; i + 1 < k; i++)
                        idx[i] = idx[i - 1] + 1;
        }
}

/* Each interior breakpoint in turn moved to its best candidate between its neighbours, until a
 * whole pass moves none. Starts from idx and its error; returns the error at the end. */
static double descent_from(const FitProblem *p, unsigned k, size_t *idx, double best)
{
        double x[K_MAX];
        for (unsigned pass = 0; pass < 100; pass++) {
                bool moved = false;
                for (unsigned j = 1; j + 1 < k; j++) {
                        size_t keep = idx[j], at = keep;
                        for (size_t m = idx[j - 1] + 1; m < idx[j + 1]; m++) {
                                if (m == keep)
                                        continue;
                                idx[j] = m;
                                double e = fit_eval(p, idx, k, x);
                                if (e < best * (1 - 1e-12)) {
                                        best = e;
                                        at = m;
                                }
                        }
                        idx[j] = at;
                        moved |= at != keep;
                }
                if (!moved)
                        break;
        }
        return best;
}

/* The breakpoints of a curve of k points, grown one point at a time so that a curve of kk points
 * is never worse than the one of kk - 1 it grew from. At each size: every combination when there
 * are few (at most CURVE_FIT_EXHAUSTIVE), the best there is; else coordinate descent from two
 * starts, keeping the better: the curve of kk - 1 points with the new point where it helps most,
 * and the points spread evenly over the candidates (which are quantiles of the samples). Descent
 * alone can stop in a local optimum; growing keeps the sizes in order. */
static void search(const FitProblem *p, unsigned k, size_t *best_idx)
{
        double x[K_MAX];
        size_t g[K_MAX] = {0, p->n_cand - 1};
        for (unsigned kk = 3; kk <= k; kk++) {
                if (binomial(p->n_cand - 2, kk - 2) <= CURVE_FIT_EXHAUSTIVE) {
                        search_exhaustive(p, kk, g);
                        continue;
                }
                size_t try_idx[K_MAX], grown[K_MAX], even[K_MAX];
                double gbest = INFINITY;
                for (size_t m = 1; m + 1 < p->n_cand; m++) {
                        unsigned at = 0, o = 0;
                        bool taken = false;
                        for (unsigned j = 0; j < kk - 1; j++) {
                                taken |= g[j] == m;
                                if (g[j] < m)
                                        at = j + 1;
                        }
                        if (taken)
                                continue;
                        for (unsigned j = 0; j < kk - 1; j++) {
                                if (j == at)
                                        try_idx[o++] = m;
                                try_idx[o++] = g[j];
                        }
                        double e = fit_eval(p, try_idx, kk, x);
                        if (e < gbest) {
                                gbest = e;
                                memcpy(grown, try_idx, kk * sizeof(size_t));
                        }
                }
                gbest = descent_from(p, kk, grown, gbest);
                for (unsigned j = 0; j < kk; j++)
                        even[j] = (size_t)llround((double)j * (double)(p->n_cand - 1) /
                                                  (double)(kk - 1));
                double ebest = descent_from(p, kk, even, fit_eval(p, even, kk, x));
                memcpy(g, ebest < gbest ? even : grown, kk * sizeof(size_t));
        }
        memcpy(best_idx, g, k * sizeof(size_t));
}

static int check_samples(const CurveSample *s, size_t n, char *err, size_t errlen)
{
        if (n == 0) {
                snprintf(err, errlen, "no samples to fit");
                return -EINVAL;
        }
        for (size_t i = 0; i < n; i++) {
                if (!(s[i].util_pct >= 0 && s[i].util_pct <= 100)) {
                        snprintf(err, errlen,
                                 "sample %zu: utilisation %g is not within 0 to 100 %%", i + 1,
                                 s[i].util_pct);
                        return -EINVAL;
                }
                if (!(s[i].watts >= 0 && isfinite(s[i].watts))) {
                        snprintf(err, errlen, "sample %zu: %g W is not a finite figure >= 0", i + 1,
                                 s[i].watts);
                        return -EINVAL;
                }
                if (!(s[i].weight > 0 && isfinite(s[i].weight))) {
                        snprintf(err, errlen, "sample %zu: weight %g is not a finite figure > 0",
                                 i + 1, s[i].weight);
                        return -EINVAL;
                }
        }
        return 0;
}

/* The candidate breakpoints (see the header): *ret_c of them, increasing. */
static int make_candidates(const CurveSample *s, size_t n, unsigned k, double **ret, size_t *ret_c,
                           char *err, size_t errlen)
{
        double *u = malloc(n * sizeof(double));
        if (!u)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++)
                u[i] = round_step(s[i].util_pct, CURVE_FIT_UTIL_STEP);
        qsort(u, n, sizeof(double), cmp_double);
        size_t d = 0; /* distinct values, compacted to the front of a copy */
        double *dist = malloc(n * sizeof(double));
        if (!dist) {
                free(u);
                return -ENOMEM;
        }
        for (size_t i = 0; i < n; i++)
                if (d == 0 || u[i] > dist[d - 1])
                        dist[d++] = u[i];
        if (d < 2) {
                snprintf(err, errlen,
                         "every sample is at utilisation %.2f %%: a curve needs samples at two "
                         "utilisations at least",
                         dist[0]);
                free(u);
                free(dist);
                return -EINVAL;
        }
        size_t c = 0;
        double *cand = malloc(CURVE_FIT_MAX_CANDIDATES * sizeof(double));
        if (!cand) {
                free(u);
                free(dist);
                return -ENOMEM;
        }
        if (d <= CURVE_FIT_MAX_CANDIDATES) {
                memcpy(cand, dist, d * sizeof(double));
                c = d;
        } else {
                /* quantiles of the samples: breakpoints go where the measurements are */
                for (size_t q = 0; q < CURVE_FIT_MAX_CANDIDATES; q++) {
                        double v = u[(size_t)llround((double)q * (double)(n - 1) /
                                                     (CURVE_FIT_MAX_CANDIDATES - 1))];
                        if (c == 0 || v > cand[c - 1])
                                cand[c++] = v;
                }
                if (c < k) /* nearly all samples at a few utilisations: spread over the values */
                        for (c = 0; c < CURVE_FIT_MAX_CANDIDATES; c++)
                                cand[c] = dist[(size_t)llround((double)c * (double)(d - 1) /
                                                               (CURVE_FIT_MAX_CANDIDATES - 1))];
        }
        free(u);
        free(dist);
        *ret = cand;
        *ret_c = c;
        return 0;
}

int curve_fit(const CurveSample *samples, size_t n, unsigned max_points, PowerCurve *ret, char *err,
              size_t errlen)
{
        if (max_points < POWER_CURVE_MIN || max_points > POWER_CURVE_MAX) {
                snprintf(err, errlen, "%u points asked for, a curve has %d to %d", max_points,
                         POWER_CURVE_MIN, POWER_CURVE_MAX);
                return -EINVAL;
        }
        int r = check_samples(samples, n, err, errlen);
        if (r < 0)
                return r;
        double *cand = NULL;
        size_t C = 0;
        r = make_candidates(samples, n, max_points, &cand, &C, err, errlen);
        if (r < 0) {
                if (r == -ENOMEM)
                        snprintf(err, errlen, "out of memory");
                return r;
        }
        if (C < max_points) /* "at most": no more points than utilisations measured */
                max_points = (unsigned)C;
        FitBin *bins = calloc(C - 1, sizeof(FitBin));
        if (!bins) {
                free(cand);
                snprintf(err, errlen, "out of memory");
                return -ENOMEM;
        }
        double sw = 0, swy = 0;
        for (size_t i = 0; i < n; i++) {
                sw += samples[i].weight;
                swy += samples[i].weight * samples[i].watts;
        }
        double mean = swy / sw, wyy = 0;
        for (size_t i = 0; i < n; i++) {
                double x = samples[i].util_pct;
                x = x < cand[0] ? cand[0] : x > cand[C - 1] ? cand[C - 1] : x;
                size_t lo = 0, hi = C - 2; /* the last bin whose start is <= x */
                while (lo < hi) {
                        size_t mid = (lo + hi + 1) / 2;
                        if (cand[mid] <= x)
                                lo = mid;
                        else
                                hi = mid - 1;
                }
                double w = samples[i].weight, t = x - cand[lo], y = samples[i].watts - mean;
                FitBin *f = &bins[lo];
                f->w += w;
                f->wt += w * t;
                f->wtt += w * t * t;
                f->wy += w * y;
                f->wty += w * t * y;
                wyy += w * y * y;
        }
        FitProblem p = {.cand = cand, .n_cand = C, .bins = bins, .wyy = wyy};
        unsigned k = max_points;
        size_t idx[K_MAX];
        search(&p, k, idx);
        double x[K_MAX];
        double sse = fit_eval(&p, idx, k, x);
        free(bins);
        if (!isfinite(sse)) {
                free(cand);
                snprintf(err, errlen, "the fit did not converge (a bug: please report it)");
                return -EINVAL;
        }
        PowerCurve c = {.n = k};
        double y = mean;
        for (unsigned j = 0; j < k; j++) {
                y += x[j];
                c.util_pct[j] = cand[idx[j]];
                double w = round_step(y, CURVE_FIT_WATTS_STEP);
                c.watts[j] =
                        w > 0 ? w : 0; /* a fitted value below 0 W is clamped; still monotone */
        }
        free(cand);
        /* Drop interior points where the slope does not change (flat runs that the constraint
         * made): they say nothing. */
        PowerCurve out = {.n = 0};
        for (unsigned j = 0; j < c.n; j++) {
                if (j > 0 && j + 1 < c.n) {
                        double s0 = (c.watts[j] - out.watts[out.n - 1]) /
                                    (c.util_pct[j] - out.util_pct[out.n - 1]);
                        double s1 =
                                (c.watts[j + 1] - c.watts[j]) / (c.util_pct[j + 1] - c.util_pct[j]);
                        if (fabs(s0 - s1) <= 1e-9 * (fabs(s0) + fabs(s1)) || (s0 == 0 && s1 == 0))
                                continue;
                }
                out.util_pct[out.n] = c.util_pct[j];
                out.watts[out.n] = c.watts[j];
                out.n++;
        }
        r = power_curve_check(&out, err, errlen);
        if (r < 0)
                return r;
        *ret = out;
        return 0;
}

int curve_fit_error(const PowerCurve *c, const CurveSample *samples, size_t n, CurveFitError *ret)
{
        CurveFitError e = {.samples = n};
        double sw = 0, swp = 0, sape = 0, sse = 0, sbias = 0;
        for (size_t i = 0; i < n; i++) {
                const CurveSample *s = &samples[i];
                double d = power_curve_eval(c, s->util_pct) - s->watts;
                sw += s->weight;
                sse += s->weight * d * d;
                sbias += s->weight * d;
                if (fabs(d) > e.max_error_w || i == 0) {
                        e.max_error_w = fabs(d);
                        e.max_error_util_pct = s->util_pct;
                }
                if (s->watts > 0) {
                        double pct = 100 * fabs(d) / s->watts;
                        swp += s->weight;
                        sape += s->weight * pct;
                        if (pct > e.max_error_pct)
                                e.max_error_pct = pct;
                } else {
                        e.zero_watts++;
                }
        }
        if (!(sw > 0))
                return -EINVAL;
        e.mape_pct = swp > 0 ? sape / swp : NAN;
        e.rmse_w = sqrt(sse / sw);
        e.bias_w = sbias / sw;
        *ret = e;
        return 0;
}

int curve_fit_line(const CurveSample *samples, size_t n, double *ret_a, double *ret_b)
{
        double sw = 0, sx = 0, sy = 0;
        for (size_t i = 0; i < n; i++) {
                sw += samples[i].weight;
                sx += samples[i].weight * samples[i].util_pct;
                sy += samples[i].weight * samples[i].watts;
        }
        if (!(sw > 0))
                return -EINVAL;
        double mx = sx / sw, my = sy / sw, sxx = 0, sxy = 0;
        for (size_t i = 0; i < n; i++) {
                double dx = samples[i].util_pct - mx;
                sxx += samples[i].weight * dx * dx;
                sxy += samples[i].weight * dx * (samples[i].watts - my);
        }
        if (!(sxx > 0))
                return -EINVAL;
        *ret_b = sxy / sxx;
        *ret_a = my - *ret_b * mx;
        return 0;
}

int curve_is_monotone(const PowerCurve *c)
{
        for (unsigned i = 1; i < c->n; i++)
                if (c->watts[i] < c->watts[i - 1])
                        return 0;
        return 1;
}
