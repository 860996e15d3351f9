#include "common/carbon.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/util.h"

/* Yearly average grid carbon intensity, location-based, gCO2e/kWh, by ISO 3166-1 alpha-2 code
 * (plus WORLD and EU). Source: Ember, yearly electricity data 2024, as published in the co2.js
 * average-intensities dataset (the figures in shared/data/grid-intensity-2024.csv). Other published
 * world figures, not used here: 475 (CodeCarbon, Alumet), 445 (IEA global 2024). */
static const CarbonGridFactor carbon_grid[] = {
        {"WORLD", 472.94}, {"EU", 213.02}, {"US", 383.55}, {"CA", 184.99}, {"GB", 215.79},
        {"IE", 279.79},    {"FR", 44.18},  {"DE", 342.06}, {"NL", 252.70}, {"BE", 117.58},
        {"ES", 146.15},    {"PT", 111.80}, {"IT", 287.75}, {"CH", 36.72},  {"AT", 102.62},
        {"SE", 35.89},     {"NO", 30.75},  {"FI", 72.25},  {"DK", 143.30}, {"PL", 614.98},
        {"CZ", 413.86},    {"IN", 708.96}, {"CN", 557.50}, {"JP", 483.73}, {"KR", 415.65},
        {"SG", 498.74},    {"AU", 553.76}, {"NZ", 120.11}, {"BR", 106.06}, {"ZA", 713.90},
        {"MX", 483.14},
};

const CarbonGridFactor *carbon_grid_lookup(const char *code)
{
        if (!code)
                return NULL;
        for (size_t i = 0; i < ELEMENTSOF(carbon_grid); i++)
                if (strcasecmp(carbon_grid[i].code, code) == 0)
                        return &carbon_grid[i];
        return NULL;
}

const CarbonGridFactor *carbon_grid_table(size_t *ret_n)
{
        *ret_n = ELEMENTSOF(carbon_grid);
        return carbon_grid;
}

double carbon_j_to_kwh(double j)
{
        return j / CARBON_J_PER_KWH;
}

double carbon_kwh_to_j(double kwh)
{
        return kwh * CARBON_J_PER_KWH;
}

double carbon_facility_kwh(double it_kwh, double pue)
{
        return it_kwh * pue;
}

double carbon_embodied_g(double te_g, double tir_hours, double el_hours, double rr, double tor)
{
        if (!(el_hours > 0) || !(tor > 0))
                return NAN;
        return te_g * (tir_hours / el_hours) * (rr / tor);
}

void carbon_sci(double energy_kwh, double intensity, double embodied_g, double requests,
                CarbonSci *ret)
{
        CarbonSci c = {
                .energy_kwh = energy_kwh,
                .intensity = intensity,
                .embodied_g = embodied_g,
                .requests = requests,
                .sci_g = NAN,
        };
        c.operational_g = energy_kwh * intensity;
        c.total_g = c.operational_g + embodied_g;
        c.has_requests = isfinite(requests) && requests > 0;
        if (c.has_requests)
                c.sci_g = c.total_g / requests;
        *ret = c;
}

double carbon_weighted_intensity(const double *energy, const double *intensity, size_t n)
{
        if (n == 0)
                return NAN;
        double ei = 0, e = 0, sum_i = 0;
        for (size_t k = 0; k < n; k++) {
                ei += energy[k] * intensity[k];
                e += energy[k];
                sum_i += intensity[k];
        }
        return e > 0 ? ei / e : sum_i / (double)n;
}

int64_t carbon_series_mean(const CarbonInterval *v, size_t n, int64_t from_us, int64_t to_us,
                           double *ret)
{
        int64_t covered = 0;
        double weighted = 0;
        for (size_t k = 0; k < n; k++) {
                if (v[k].start_us >= to_us)
                        break;
                int64_t a = v[k].start_us > from_us ? v[k].start_us : from_us;
                int64_t b = v[k].end_us < to_us ? v[k].end_us : to_us;
                if (b <= a)
                        continue;
                covered += b - a;
                weighted += (double)(b - a) * v[k].g_per_kwh;
        }
        if (covered > 0)
                *ret = weighted / (double)covered;
        return covered;
}

static int interval_cmp(const void *a, const void *b)
{
        const CarbonInterval *x = a, *y = b;
        if (x->start_us != y->start_us)
                return x->start_us < y->start_us ? -1 : 1;
        return x->line < y->line ? -1 : x->line > y->line;
}

static void where(char *buf, size_t size, const CarbonInterval *v, bool json)
{
        if (json)
                snprintf(buf, size, "data[%u]", v->line - 1);
        else
                snprintf(buf, size, "line %u", v->line);
}

int carbon_series_check(CarbonInterval *v, size_t n, bool json, char *err, size_t errlen)
{
        char a[32], b[32];
        for (size_t k = 0; k < n; k++) {
                where(a, sizeof(a), &v[k], json);
                if (v[k].end_us <= v[k].start_us) {
                        snprintf(err, errlen, "%s: the end is not after the start", a);
                        return -EINVAL;
                }
                if (!isfinite(v[k].g_per_kwh) || v[k].g_per_kwh < 0 || v[k].g_per_kwh > 1e5) {
                        snprintf(err, errlen,
                                 "%s: %g is not an intensity in gCO2e/kWh (0 to 100000)", a,
                                 v[k].g_per_kwh);
                        return -EINVAL;
                }
        }
        if (n > 1)
                qsort(v, n, sizeof(*v), interval_cmp);
        for (size_t k = 1; k < n; k++)
                if (v[k].start_us < v[k - 1].end_us) {
                        where(a, sizeof(a), &v[k], json);
                        where(b, sizeof(b), &v[k - 1], json);
                        snprintf(err, errlen, "%s overlaps %s", a, b);
                        return -EINVAL;
                }
        return 0;
}

/* An absolute time only: a relative duration ("15m") means nothing in a file. */
static int parse_abs_time(const char *s, int64_t *ret)
{
        if (strlen(s) < 10 || !isdigit((unsigned char)s[0]) || s[4] != '-')
                return -EINVAL;
        return parse_time_point(s, 0, ret);
}

int carbon_parse_csv(const char *text, CarbonInterval **ret, size_t *ret_n, char *err,
                     size_t errlen)
{
        CarbonInterval *v = NULL;
        size_t n = 0;
        unsigned line = 0;
        bool first = true;
        const char *p = text;
        while (*p) {
                const char *nl = strchr(p, '\n');
                size_t len = nl ? (size_t)(nl - p) : strlen(p);
                line++;
                char buf[512];
                if (len >= sizeof(buf)) {
                        snprintf(err, errlen, "line %u: longer than %zu bytes", line,
                                 sizeof(buf) - 1);
                        goto fail;
                }
                memcpy(buf, p, len);
                buf[len] = '\0';
                p = nl ? nl + 1 : p + len;
                char *s = strstrip(buf);
                if (!*s || *s == '#')
                        continue;
                char *f[4] = {0};
                size_t nf = 0;
                for (char *tok = s, *comma; tok && nf < 4; tok = comma ? comma + 1 : NULL) {
                        comma = strchr(tok, ',');
                        if (comma)
                                *comma = '\0';
                        f[nf++] = strstrip(tok);
                }
                bool is_first = first;
                first = false;
                if (is_first && nf >= 1 && !isdigit((unsigned char)f[0][0]))
                        continue; /* a header such as start,end,g_per_kwh */
                if (nf != 3) {
                        snprintf(err, errlen,
                                 "line %u: expected 3 fields start,end,g_per_kwh, found %s", line,
                                 nf > 3    ? "more"
                                 : nf == 2 ? "2"
                                           : "1");
                        goto fail;
                }
                CarbonInterval iv = {.line = line};
                if (parse_abs_time(f[0], &iv.start_us) < 0) {
                        snprintf(err, errlen, "line %u: start '%s' is not an ISO 8601 time", line,
                                 f[0]);
                        goto fail;
                }
                if (parse_abs_time(f[1], &iv.end_us) < 0) {
                        snprintf(err, errlen, "line %u: end '%s' is not an ISO 8601 time", line,
                                 f[1]);
                        goto fail;
                }
                if (parse_double(f[2], &iv.g_per_kwh) < 0) {
                        snprintf(err, errlen, "line %u: g_per_kwh '%s' is not a number", line,
                                 f[2]);
                        goto fail;
                }
                CarbonInterval *nv = realloc(v, (n + 1) * sizeof(*nv));
                if (!nv) {
                        free(v);
                        return -ENOMEM;
                }
                v = nv;
                v[n++] = iv;
        }
        if (n == 0) {
                snprintf(err, errlen, "no intervals in the file");
                goto fail;
        }
        if (carbon_series_check(v, n, false, err, errlen) < 0)
                goto fail;
        *ret = v;
        *ret_n = n;
        return 0;
fail:
        free(v);
        return -EINVAL;
}
