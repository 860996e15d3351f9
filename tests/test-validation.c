/* Validation of the power models against published SPECpower_ssj2008 results (data/specpower):
 * for each server, the error of the straight lines, of the CPU-aware default curve (with the dram
 * estimate, as joulesd reports it) and of calibrated curves against its eleven measured figures,
 * and of shapes taken from the other servers (leave-one-out). Prints the tables the README shows
 * and asserts what must hold whatever the figures: the calibrated curves are monotone, give back
 * the measured energy, and beat the straight lines on every server; and the band
 * data/estimates.csv gives each method holds the measured watts at 90 % of the points. */
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

#include "cli/calibrate.h"
#include "collectors/power-defaults.h"
#include "common/curve-fit.h"

#define MAX_SERVERS 64

typedef struct Server {
        char id[64], vendor[64], system[64], cpu[64];
        unsigned sockets, cores, threads;
        char year[8];
        double memory_gb; /* installed, as the result states it */
        CurveSample s[16];
        size_t n;
} Server;

static char data_dir[512];

static char *slurp(const char *path)
{
        FILE *f = fopen(path, "re");
        if (!f)
                return NULL;
        char *buf = malloc(1 << 20);
        size_t n = buf ? fread(buf, 1, (1 << 20) - 1, f) : 0;
        fclose(f);
        if (buf)
                buf[n] = '\0';
        return buf;
}

/* servers.csv (no quoted fields in it) and each server's figures through the command's own CSV
 * reader. */
static size_t load_servers(Server *v)
{
        const char *fx = getenv("JOULES_FIXTURES");
        snprintf(data_dir, sizeof(data_dir), "%s/../../data/specpower", fx ? fx : "tests/fixtures");
        char path[640];
        snprintf(path, sizeof(path), "%s/servers.csv", data_dir);
        char *text = slurp(path);
        if (!text)
                fail_msg("%s: %s", path, strerror(errno));
        size_t n = 0;
        char *save = NULL;
        for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                if (strncmp(line, "id,", 3) == 0)
                        continue;
                assert_true(n < MAX_SERVERS);
                Server *s = &v[n];
                char *f[11];
                size_t nf = 0;
                for (char *p = line; nf < 11; p = strchr(p, ',') + 1) {
                        f[nf++] = p;
                        if (!strchr(p, ','))
                                break;
                }
                assert_int_equal(nf, 11);
                for (size_t i = 0; i + 1 < nf; i++)
                        *strchr(f[i], ',') = '\0';
                snprintf(s->id, sizeof(s->id), "%s", f[0]);
                snprintf(s->vendor, sizeof(s->vendor), "%s", f[1]);
                snprintf(s->system, sizeof(s->system), "%s", f[2]);
                snprintf(s->cpu, sizeof(s->cpu), "%s", f[3]);
                s->sockets = (unsigned)atoi(f[4]);
                s->cores = (unsigned)atoi(f[5]);
                s->threads = (unsigned)atoi(f[6]);
                snprintf(s->year, sizeof(s->year), "%s", f[7]);
                s->memory_gb = atof(f[10]);
                assert_true(s->memory_gb > 0);
                snprintf(path, sizeof(path), "%s/%s.csv", data_dir, s->id);
                char *figs = slurp(path);
                if (!figs)
                        fail_msg("%s: %s", path, strerror(errno));
                CurveSample *cs;
                size_t m;
                char err[256];
                if (calib_parse_csv(figs, &cs, &m, err, sizeof(err)) < 0)
                        fail_msg("%s: %s", path, err);
                free(figs);
                /* SPECpower's eleven levels, in order */
                assert_int_equal(m, 11);
                for (size_t i = 0; i < m; i++) {
                        assert_true(cs[i].util_pct == 10.0 * (double)i);
                        s->s[i] = cs[i];
                }
                s->n = m;
                free(cs);
                n++;
        }
        free(text);
        return n;
}

typedef struct Row {
        CurveFitError ccf, line, def, fit, cv;
        double def_shape_mape, ccf_shape_mape;
        PowerMethod method;
        char def_name[96];
        PowerCurve fitted;
        /* what the daemon would report, split as it bands it: the CPU curve and the constant dram
         * estimate (joulesd adds it to either default, never to a configured curve) */
        PowerCurve ccf_cpu, def_cpu, cv_curve;
        double dram_w;
        double def_cpu_mape; /* the CPU curve alone, no dram */
        double tdp_w;        /* of the server's CPUs, all sockets: the default's scale */
        double loo_shape_mape, loo_mape;
} Row;

/* c plus a constant: the dram estimate on top of the CPU curve, as joulesd's host total. */
static PowerCurve curve_plus(const PowerCurve *c, double w)
{
        PowerCurve k = *c;
        for (unsigned i = 0; i < k.n; i++)
                k.watts[i] += w;
        return k;
}

/* The error of c scaled so that it meets the measured watts at 100 %: how well its shape fits,
 * whatever its level. */
static double shape_mape(const PowerCurve *c, const Server *s)
{
        PowerCurve k = *c;
        double at100 = power_curve_eval(c, 100);
        if (!(at100 > 0))
                return NAN;
        power_curve_scale(&k, s->s[s->n - 1].watts / at100);
        CurveFitError e;
        assert_int_equal(curve_fit_error(&k, s->s, s->n, &e), 0);
        return e.mape_pct;
}

static void validate(const Server *s, Row *r)
{
        const PowerTables *t = power_tables_builtin();
        assert_non_null(t);
        char err[256];

        /* (a) the straight lines: CCF's per-vCPU coefficients, and the line through the measured
         * idle and full-load figures */
        PowerCurve line = {.n = 2, .util_pct = {0, 100}};
        r->dram_w = s->memory_gb * t->dram_w_per_gb;
        power_curve_linear(&r->ccf_cpu, s->threads, t->generic_idle_w, t->generic_max_w);
        PowerCurve ccf = curve_plus(&r->ccf_cpu, r->dram_w);
        line.watts[0] = s->s[0].watts;
        line.watts[1] = s->s[s->n - 1].watts;
        assert_int_equal(curve_fit_error(&ccf, s->s, s->n, &r->ccf), 0);
        assert_int_equal(curve_fit_error(&line, s->s, s->n, &r->line), 0);
        r->ccf_shape_mape = shape_mape(&r->ccf_cpu, s);

        /* (b) the default the daemon builds for this CPU and thread count */
        char src[512];
        assert_int_equal(power_defaults_build(s->cpu, s->threads, s->vendor, s->system, &r->def_cpu,
                                              &r->method, src, sizeof(src)),
                         0);
        PowerCurve def = curve_plus(&r->def_cpu, r->dram_w);
        const PowerCpuRow *row = power_cpu_match(t, s->cpu, s->vendor);
        snprintf(r->def_name, sizeof(r->def_name), "%s", row ? row->name : "generic per-vCPU line");
        assert_int_equal(curve_fit_error(&def, s->s, s->n, &r->def), 0);
        r->def_shape_mape = shape_mape(&r->def_cpu, s);
        CurveFitError cpu_only;
        assert_int_equal(curve_fit_error(&r->def_cpu, s->s, s->n, &cpu_only), 0);
        r->def_cpu_mape = cpu_only.mape_pct;
        r->tdp_w = row ? row->tdp_w * s->threads / row->threads : NAN;

        /* (c) calibrated: 6 points fitted to the eleven figures, and cross-validated: fitted to
         * the even levels (0, 20, ..., 100 %), its error on the odd ones (10, 30, ..., 90 %) */
        if (curve_fit(s->s, s->n, 6, &r->fitted, err, sizeof(err)) < 0)
                fail_msg("%s: %s", s->id, err);
        assert_int_equal(curve_fit_error(&r->fitted, s->s, s->n, &r->fit), 0);
        CurveSample even[6], odd[5];
        size_t ne = 0, no = 0;
        for (size_t i = 0; i < s->n; i++) {
                if (i % 2 == 0)
                        even[ne++] = s->s[i];
                else
                        odd[no++] = s->s[i];
        }
        PowerCurve cv;
        if (curve_fit(even, ne, 6, &cv, err, sizeof(err)) < 0)
                fail_msg("%s (even levels): %s", s->id, err);
        assert_int_equal(curve_fit_error(&cv, odd, no, &r->cv), 0);
        r->cv_curve = cv;

        /* what must hold whatever the figures */
        if (!curve_is_monotone(&r->fitted) || !curve_is_monotone(&cv))
                fail_msg("%s: a fitted curve goes down", s->id);
        assert_true(r->fitted.n <= 6);
        if (fabs(r->fit.bias_w) > 0.01) /* least squares: the measured energy comes back */
                fail_msg("%s: the fit's mean error is %g W", s->id, r->fit.bias_w);
        /* the fit has the least squared error of the monotone 6-point curves over these levels,
         * the idle-to-max line among them */
        if (r->fit.rmse_w > r->line.rmse_w + 1e-3)
                fail_msg("%s: fit rmse %g W above the line's %g W", s->id, r->fit.rmse_w,
                         r->line.rmse_w);
}

static void print_table(const Server *v, const Row *rows, size_t n)
{
        printf("\nMean absolute percentage error / max error (W) against the 11 measured figures\n"
               "(cross-validated: fitted to 0, 20, ..., 100 %%, error at 10, 30, ..., 90 %%).\n"
               "The defaults as joulesd reports them: + dram, the result's memory x %g W/GB.\n"
               "Shape: the CPU curve scaled to meet the measured full-load watts.\n\n",
               power_tables_builtin()->dram_w_per_gb);
        printf("%-22s %-24s %4s | %-15s %-15s | %-15s %6s | %-14s %-14s | %6s\n", "server", "CPU",
               "thr", "CCF line+dram", "idle-max line", "default+dram", "shape", "fit, 6 points",
               "cross-valid.", "CCF sh");
        for (size_t i = 0; i < n; i++) {
                const Row *r = &rows[i];
                char a[5][32];
                const CurveFitError *e[5] = {&r->ccf, &r->line, &r->def, &r->fit, &r->cv};
                for (int k = 0; k < 5; k++)
                        snprintf(a[k], sizeof(a[k]), "%5.1f%% %6.1f W", e[k]->mape_pct,
                                 e[k]->max_error_w);
                printf("%-22s %-24s %4u | %-15s %-15s | %-15s %5.1f%% | %-14s %-14s | %5.1f%%\n",
                       v[i].id, v[i].cpu, v[i].threads, a[0], a[1], a[2], r->def_shape_mape, a[3],
                       a[4], r->ccf_shape_mape);
        }
        double m[5] = {0}, shape = 0, ccf_shape = 0;
        for (size_t i = 0; i < n; i++) {
                m[0] += rows[i].ccf.mape_pct / (double)n;
                m[1] += rows[i].line.mape_pct / (double)n;
                m[2] += rows[i].def.mape_pct / (double)n;
                m[3] += rows[i].fit.mape_pct / (double)n;
                m[4] += rows[i].cv.mape_pct / (double)n;
                shape += rows[i].def_shape_mape / (double)n;
                ccf_shape += rows[i].ccf_shape_mape / (double)n;
        }
        printf("%-22s %-24s %4s | %5.1f%%          %5.1f%%          | %5.1f%%          %5.1f%% | "
               "%5.1f%%         %5.1f%%         | %5.1f%%\n",
               "mean", "", "", m[0], m[1], m[2], shape, m[3], m[4], ccf_shape);
        printf("\nDefault curves used:\n");
        for (size_t i = 0; i < n; i++)
                printf("  %-22s %s (%s)\n", v[i].id, rows[i].def_name,
                       power_method_label(rows[i].method));
        printf("\nFitted curves (6 points):\n");
        for (size_t i = 0; i < n; i++) {
                char c[512];
                power_curve_format(&rows[i].fitted, c, sizeof(c));
                printf("  %-22s curve = %s\n", v[i].id, c);
        }
}

/* The share of validation points the band of each method must hold: the bands in
 * data/estimates.csv are read as "the measured figure lies within the band at least this often". */
#define BAND_COVERAGE 0.90

/* One validation point as joulesd would band it: the estimate split into the part the method's band
 * applies to (the curve) and the dram estimate (band_dram), and the measured watts. */
typedef struct BandPoint {
        double curve_w, dram_w, measured_w;
} BandPoint;

typedef struct BandSet {
        BandPoint p[MAX_SERVERS * 11];
        size_t n;
} BandSet;

static void band_add(BandSet *b, const PowerCurve *c, double dram_w, const CurveSample *s, size_t n)
{
        for (size_t i = 0; i < n; i++) {
                assert_true(b->n < sizeof(b->p) / sizeof(b->p[0]));
                b->p[b->n++] = (BandPoint){power_curve_eval(c, s[i].util_pct), dram_w, s[i].watts};
        }
}

/* Whether the band joulesd shows for this point's estimate (cli/band.c: estimate x (1 ± band),
 * the band combined over curve and dram as power_band_combine() does) holds the measured watts,
 * with band_pct on the curve's part. */
static bool band_covers(const BandPoint *p, double band_pct, double dram_band_pct)
{
        double e[2] = {p->curve_w, p->dram_w}, b[2] = {band_pct, dram_band_pct};
        double est = p->curve_w + p->dram_w;
        double pct = power_band_combine(e, b, 2);
        return fabs(p->measured_w - est) <= est * pct / 100 * (1 + 1e-12);
}

static double band_coverage(const BandSet *b, double band_pct, double dram_band_pct)
{
        size_t k = 0;
        for (size_t i = 0; i < b->n; i++)
                k += band_covers(&b->p[i], band_pct, dram_band_pct);
        return (double)k / (double)b->n;
}

/* The least whole percent that covers BAND_COVERAGE of the points. */
static double band_needed(const BandSet *b, double dram_band_pct)
{
        for (unsigned pct = 0; pct <= 100000; pct++)
                if (band_coverage(b, pct, dram_band_pct) >= BAND_COVERAGE)
                        return pct;
        return INFINITY;
}

static int cmp_double(const void *a, const void *b)
{
        double x = *(const double *)a, y = *(const double *)b;
        return (x > y) - (x < y);
}

/* The BAND_COVERAGE quantile of |estimate - measured| / measured: the error as MAPE counts it. */
static double band_ape_quantile(const BandSet *b)
{
        static double e[MAX_SERVERS * 11];
        for (size_t i = 0; i < b->n; i++) {
                double est = b->p[i].curve_w + b->p[i].dram_w;
                e[i] = 100 * fabs(est - b->p[i].measured_w) / b->p[i].measured_w;
        }
        qsort(e, b->n, sizeof(e[0]), cmp_double);
        size_t k = (size_t)ceil(BAND_COVERAGE * (double)b->n);
        return e[k > 0 ? k - 1 : 0];
}

/* Each method's band against the validation: printed, and the band in data/estimates.csv must
 * hold the measured figure at BAND_COVERAGE of the points, so the data file cannot claim more
 * than the validation shows. The points: the generic line on every server, the CPU-aware default
 * on the servers whose CPU has a row, and the calibrated curve cross-validated (fitted to the
 * even levels, judged at the odd ones: a curve is never judged on the points it was fitted to). */
static void check_bands(const Server *v, const Row *rows, size_t n)
{
        static BandSet sets[_POWER_METHOD_MAX];
        const PowerTables *t = power_tables_builtin();
        assert_non_null(t);
        for (int m = 0; m < _POWER_METHOD_MAX; m++)
                sets[m].n = 0;
        for (size_t i = 0; i < n; i++) {
                const Row *r = &rows[i];
                band_add(&sets[POWER_METHOD_GENERIC], &r->ccf_cpu, r->dram_w, v[i].s, v[i].n);
                if (r->method == POWER_METHOD_CPU)
                        band_add(&sets[POWER_METHOD_CPU], &r->def_cpu, r->dram_w, v[i].s, v[i].n);
                CurveSample odd[8];
                size_t no = 0;
                for (size_t k = 1; k < v[i].n; k += 2)
                        odd[no++] = v[i].s[k];
                band_add(&sets[POWER_METHOD_CONFIGURED], &r->cv_curve, 0, odd, no);
        }
        printf("\nUncertainty bands: the least band (± %% of the estimate, as joules shows it) "
               "that\n"
               "holds the measured watts at %.0f %% of the points, and the band "
               "data/estimates.csv\n"
               "gives (the dram part keeps band_dram, ±%g %%).\n\n",
               100 * BAND_COVERAGE, t->band_dram_pct);
        printf("%-20s %6s | %19s | %11s | %13s %7s\n", "method", "points", "90% |err|/measured",
               "band needed", "estimates.csv", "covers");
        static const PowerMethod order[] = {POWER_METHOD_GENERIC, POWER_METHOD_CPU,
                                            POWER_METHOD_CONFIGURED};
        char failed[512] = "";
        for (size_t k = 0; k < sizeof(order) / sizeof(order[0]); k++) {
                PowerMethod m = order[k];
                const BandSet *b = &sets[m];
                assert_true(b->n > 0);
                double need = band_needed(b, t->band_dram_pct);
                double have = t->band_pct[m];
                double cov = band_coverage(b, have, t->band_dram_pct);
                printf("%-20s %6zu | %18.1f%% | %10.0f%% | %12g%% %6.1f%%\n", power_method_label(m),
                       b->n, band_ape_quantile(b), need, have, 100 * cov);
                if (cov < BAND_COVERAGE && !failed[0])
                        snprintf(failed, sizeof(failed),
                                 "%s: band ±%g %% (data/estimates.csv) holds %.1f %% of the %zu "
                                 "validation points, below %.0f %%: the validation needs ±%g %%",
                                 power_method_label(m), have, 100 * cov, b->n, 100 * BAND_COVERAGE,
                                 need);
        }
        if (failed[0])
                fail_msg("%s", failed);
}

static double median(double *x, size_t n)
{
        qsort(x, n, sizeof(x[0]), cmp_double);
        return n % 2 ? x[n / 2] : (x[n / 2 - 1] + x[n / 2]) / 2;
}

/* A shape taken from the SPECpower results themselves, judged leave-one-out: for each server, the
 * median over the other servers of each level's watts, (a) as a share of their full-load watts
 * (the shape alone, scaled to this server's full load as the "shape" columns are), and (b), less
 * their dram estimate, as a share of their CPUs' TDP (a whole-server curve per TDP watt, which
 * joulesd would scale by this server's TDP and add the dram estimate to). The server judged never
 * enters its own curve. */
static void leave_one_out(const Server *v, Row *rows, size_t n)
{
        for (size_t i = 0; i < n; i++) {
                PowerCurve shape = {.n = (unsigned)v[i].n}, level = shape;
                for (size_t k = 0; k < v[i].n; k++) {
                        double a[MAX_SERVERS], b[MAX_SERVERS];
                        size_t m = 0;
                        for (size_t j = 0; j < n; j++) {
                                if (j == i || isnan(rows[j].tdp_w))
                                        continue;
                                a[m] = v[j].s[k].watts / v[j].s[v[j].n - 1].watts;
                                b[m] = (v[j].s[k].watts - rows[j].dram_w) / rows[j].tdp_w;
                                m++;
                        }
                        assert_true(m >= 2);
                        shape.util_pct[k] = level.util_pct[k] = v[i].s[k].util_pct;
                        shape.watts[k] = median(a, m);
                        level.watts[k] = median(b, m) * rows[i].tdp_w + rows[i].dram_w;
                }
                rows[i].loo_shape_mape = shape_mape(&shape, &v[i]);
                CurveFitError e;
                assert_int_equal(curve_fit_error(&level, v[i].s, v[i].n, &e), 0);
                rows[i].loo_mape = e.mape_pct;
        }
        printf("\nShapes and levels, mean absolute percentage error. Shape: scaled to the "
               "measured\n"
               "full load. Leave-one-out (LOO): the median of the other servers' results.\n\n");
        printf("%-22s | %8s %8s %8s | %9s %9s %9s\n", "server", "Teads", "line", "LOO med",
               "default", "no dram", "LOO/TDP");
        double m[6] = {0};
        for (size_t i = 0; i < n; i++) {
                const Row *r = &rows[i];
                double x[6] = {r->def_shape_mape, r->ccf_shape_mape, r->loo_shape_mape,
                               r->def.mape_pct,   r->def_cpu_mape,   r->loo_mape};
                printf("%-22s | %7.1f%% %7.1f%% %7.1f%% | %8.1f%% %8.1f%% %8.1f%%\n", v[i].id, x[0],
                       x[1], x[2], x[3], x[4], x[5]);
                for (int k = 0; k < 6; k++)
                        m[k] += x[k] / (double)n;
        }
        printf("%-22s | %7.1f%% %7.1f%% %7.1f%% | %8.1f%% %8.1f%% %8.1f%%\n", "mean", m[0], m[1],
               m[2], m[3], m[4], m[5]);
}

static void test_specpower(void **state)
{
        static Server v[MAX_SERVERS];
        static Row rows[MAX_SERVERS];
        (void)state;
        size_t n = load_servers(v);
        assert_true(n >= 6);
        for (size_t i = 0; i < n; i++)
                validate(&v[i], &rows[i]);
        print_table(v, rows, n);
        leave_one_out(v, rows, n);
        check_bands(v, rows, n);
        /* The claims the README makes from this table, checked on every server: a curve
         * calibrated on the server beats both straight lines, and even fitted to half of the
         * levels it beats the generic line on the other half. */
        for (size_t i = 0; i < n; i++) {
                const Row *r = &rows[i];
                if (!(r->fit.mape_pct < r->line.mape_pct && r->fit.mape_pct < r->ccf.mape_pct))
                        fail_msg("%s: calibrated MAPE %.2f %% not below the lines' (%.2f, %.2f)",
                                 v[i].id, r->fit.mape_pct, r->line.mape_pct, r->ccf.mape_pct);
                if (!(r->fit.max_error_w < r->line.max_error_w))
                        fail_msg("%s: calibrated max error %.2f W not below the line's %.2f W",
                                 v[i].id, r->fit.max_error_w, r->line.max_error_w);
                if (!(r->cv.mape_pct < r->ccf.mape_pct))
                        fail_msg("%s: cross-validated MAPE %.2f %% not below the CCF line's %.2f",
                                 v[i].id, r->cv.mape_pct, r->ccf.mape_pct);
        }
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_specpower),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
