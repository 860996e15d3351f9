#include "collectors/power-defaults.h"

#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "collectors/power-data.h"

static const char *const power_method_names[_POWER_METHOD_MAX] = {
        [POWER_METHOD_CONFIGURED] = "configured",
        [POWER_METHOD_CPU] = "cpu",
        [POWER_METHOD_GENERIC] = "generic",
};

static const char *const power_method_labels[_POWER_METHOD_MAX] = {
        [POWER_METHOD_CONFIGURED] = "configured curve",
        [POWER_METHOD_CPU] = "CPU-aware default",
        [POWER_METHOD_GENERIC] = "generic default",
};

const char *power_method_to_string(PowerMethod m)
{
        return (unsigned)m < _POWER_METHOD_MAX ? power_method_names[m] : NULL;
}

int power_method_from_string(const char *s)
{
        for (int i = 0; s && i < _POWER_METHOD_MAX; i++)
                if (strcmp(s, power_method_names[i]) == 0)
                        return i;
        return -EINVAL;
}

const char *power_method_label(PowerMethod m)
{
        return (unsigned)m < _POWER_METHOD_MAX ? power_method_labels[m] : NULL;
}

/* One CSV line split at commas into at most n fields, the last taking the rest of the line (so a
 * source may hold commas). Quotes are not part of this format. The number of fields. */
static size_t csv_split(char *line, char **fields, size_t n)
{
        size_t k = 0;
        char *p = line;
        while (k < n) {
                fields[k++] = p;
                if (k == n)
                        break;
                char *c = strchr(p, ',');
                if (!c)
                        break;
                *c = '\0';
                p = c + 1;
        }
        return k;
}

/* A finite decimal number filling the whole of s. */
static int csv_number(const char *s, double *ret)
{
        char *end;
        if (!*s || isspace((unsigned char)*s))
                return -EINVAL;
        errno = 0;
        double v = strtod(s, &end);
        if (errno || *end || !isfinite(v) || strpbrk(s, "xXnN"))
                return -EINVAL;
        *ret = v;
        return 0;
}

static int csv_copy(char *dst, size_t size, const char *src)
{
        size_t n = strlen(src);
        if (n >= size)
                return -E2BIG;
        memcpy(dst, src, n + 1);
        return 0;
}

/* Calls row() for each line after the header (which must equal header), with the line's fields.
 * Blank lines are skipped; '\r' before '\n' is dropped. */
typedef int (*CsvRowFn)(void *user, char **f, size_t nf, char *err, size_t errlen);

static int csv_each(const char *text, const char *file, const char *header, size_t ncols,
                    CsvRowFn row, void *user, char *err, size_t errlen)
{
        if (!text) {
                snprintf(err, errlen, "%s: missing", file);
                return -EINVAL;
        }
        unsigned lineno = 0;
        const char *p = text;
        char line[512], why[256];
        while (*p) {
                const char *nl = strchr(p, '\n');
                size_t len = nl ? (size_t)(nl - p) : strlen(p);
                lineno++;
                if (len > 0 && p[len - 1] == '\r')
                        len--;
                if (len >= sizeof(line)) {
                        snprintf(err, errlen, "%s:%u: line longer than %zu bytes", file, lineno,
                                 sizeof(line) - 1);
                        return -EINVAL;
                }
                memcpy(line, p, len);
                line[len] = '\0';
                p = nl ? nl + 1 : p + strlen(p);
                if (lineno == 1) {
                        if (strcmp(line, header) != 0) {
                                snprintf(err, errlen, "%s:1: header is not '%s'", file, header);
                                return -EINVAL;
                        }
                        continue;
                }
                if (len == 0)
                        continue;
                char *f[8];
                assert(ncols <= 8);
                size_t nf = csv_split(line, f, ncols);
                if (nf != ncols) {
                        snprintf(err, errlen, "%s:%u: %zu fields, want %zu", file, lineno, nf,
                                 ncols);
                        return -EINVAL;
                }
                why[0] = '\0';
                int r = row(user, f, nf, why, sizeof(why));
                if (r < 0) {
                        snprintf(err, errlen, "%s:%u: %s", file, lineno, why);
                        return r;
                }
        }
        if (lineno == 0) {
                snprintf(err, errlen, "%s: empty", file);
                return -EINVAL;
        }
        return 0;
}

static int cpu_row(void *user, char **f, size_t nf, char *why, size_t whylen)
{
        PowerTables *t = user;
        PowerCpuRow r = {0};
        double threads;
        (void)nf;

        power_cpu_normalize(f[0], r.match, sizeof(r.match));
        if (!r.match[0] || strcmp(r.match, f[0]) != 0) {
                snprintf(why, whylen, "match '%s' is not in normalised form ('%s')", f[0], r.match);
                return -EINVAL;
        }
        if (csv_copy(r.dmi_vendor, sizeof(r.dmi_vendor), f[1]) < 0 ||
            csv_copy(r.name, sizeof(r.name), f[2]) < 0 ||
            csv_copy(r.source, sizeof(r.source), f[5]) < 0) {
                snprintf(why, whylen, "a field is too long");
                return -EINVAL;
        }
        for (char *c = r.dmi_vendor; *c; c++)
                *c = (char)tolower((unsigned char)*c);
        if (!r.name[0] || !r.source[0]) {
                snprintf(why, whylen, "name and source must not be empty");
                return -EINVAL;
        }
        if (csv_number(f[3], &r.tdp_w) < 0 || !(r.tdp_w > 0 && r.tdp_w <= 2000)) {
                snprintf(why, whylen, "tdp_w '%s' is not a number of watts in (0, 2000]", f[3]);
                return -EINVAL;
        }
        if (csv_number(f[4], &threads) < 0 || threads < 1 || threads > 65536 ||
            threads != floor(threads)) {
                snprintf(why, whylen, "threads '%s' is not a whole number in [1, 65536]", f[4]);
                return -EINVAL;
        }
        r.threads = (unsigned)threads;
        PowerCpuRow *n = realloc(t->cpus, (t->n_cpus + 1) * sizeof(*n));
        if (!n)
                return -ENOMEM;
        t->cpus = n;
        t->cpus[t->n_cpus++] = r;
        return 0;
}

static int shape_row(void *user, char **f, size_t nf, char *why, size_t whylen)
{
        PowerTables *t = user;
        double u, frac;
        (void)nf;

        if (!t->shape_name[0]) {
                if (csv_copy(t->shape_name, sizeof(t->shape_name), f[0]) < 0 || !f[0][0] ||
                    csv_copy(t->shape_source, sizeof(t->shape_source), f[3]) < 0) {
                        snprintf(why, whylen, "shape name or source empty or too long");
                        return -EINVAL;
                }
        }
        if (strcmp(f[0], t->shape_name) != 0)
                return 0; /* only the first shape is used */
        if (csv_number(f[1], &u) < 0 || csv_number(f[2], &frac) < 0) {
                snprintf(why, whylen, "'%s' or '%s' is not a number", f[1], f[2]);
                return -EINVAL;
        }
        if (t->shape.n >= POWER_CURVE_MAX) {
                snprintf(why, whylen, "more than %d points", POWER_CURVE_MAX);
                return -EINVAL;
        }
        t->shape.util_pct[t->shape.n] = u;
        t->shape.watts[t->shape.n] = frac;
        t->shape.n++;
        return 0;
}

static int estimate_row(void *user, char **f, size_t nf, char *why, size_t whylen)
{
        PowerTables *t = user;
        double v;
        (void)nf;

        if (csv_number(f[1], &v) < 0 || v < 0) {
                snprintf(why, whylen, "'%s' is not a number >= 0", f[1]);
                return -EINVAL;
        }
        if (strcmp(f[0], "band_configured") == 0)
                t->band_pct[POWER_METHOD_CONFIGURED] = v;
        else if (strcmp(f[0], "band_cpu") == 0)
                t->band_pct[POWER_METHOD_CPU] = v;
        else if (strcmp(f[0], "band_generic") == 0)
                t->band_pct[POWER_METHOD_GENERIC] = v;
        else if (strcmp(f[0], "band_dram") == 0)
                t->band_dram_pct = v;
        else if (strcmp(f[0], "dram_w_per_gb") == 0)
                t->dram_w_per_gb = v;
        else if (strcmp(f[0], "generic_idle_w_per_vcpu") == 0) {
                t->generic_idle_w = v;
                (void)csv_copy(t->generic_source, sizeof(t->generic_source), f[3]);
        } else if (strcmp(f[0], "generic_max_w_per_vcpu") == 0)
                t->generic_max_w = v;
        else {
                snprintf(why, whylen, "unknown name '%s'", f[0]);
                return -EINVAL;
        }
        return 0;
}

void power_tables_free(PowerTables *t)
{
        if (!t)
                return;
        free(t->cpus);
        t->cpus = NULL;
        t->n_cpus = 0;
}

int power_tables_parse(const char *cpu_csv, const char *shape_csv, const char *estimates_csv,
                       PowerTables *ret, char *err, size_t errlen)
{
        PowerTables t = {0};
        char why[256];
        for (int i = 0; i < _POWER_METHOD_MAX; i++)
                t.band_pct[i] = NAN;
        t.band_dram_pct = t.dram_w_per_gb = t.generic_idle_w = t.generic_max_w = NAN;

        int r = csv_each(cpu_csv, "cpu-tdp.csv", "match,dmi_vendor,name,tdp_w,threads,source", 6,
                         cpu_row, &t, err, errlen);
        if (r >= 0)
                r = csv_each(shape_csv, "curve-shapes.csv", "shape,util_pct,fraction_of_tdp,source",
                             4, shape_row, &t, err, errlen);
        if (r >= 0)
                r = csv_each(estimates_csv, "estimates.csv", "name,value,unit,source", 4,
                             estimate_row, &t, err, errlen);
        if (r >= 0 && power_curve_check(&t.shape, why, sizeof(why)) < 0) {
                snprintf(err, errlen, "curve-shapes.csv: shape '%s': %s", t.shape_name, why);
                r = -EINVAL;
        }
        if (r >= 0) {
                const char *missing = NULL;
                for (int i = 0; i < _POWER_METHOD_MAX; i++)
                        if (isnan(t.band_pct[i]))
                                missing = "a band_* row";
                if (isnan(t.band_dram_pct))
                        missing = "band_dram";
                if (isnan(t.dram_w_per_gb))
                        missing = "dram_w_per_gb";
                if (isnan(t.generic_idle_w) || isnan(t.generic_max_w) ||
                    t.generic_max_w < t.generic_idle_w)
                        missing = "generic_idle_w_per_vcpu <= generic_max_w_per_vcpu";
                if (missing) {
                        snprintf(err, errlen, "estimates.csv: needs %s", missing);
                        r = -EINVAL;
                }
        }
        if (r < 0) {
                power_tables_free(&t);
                return r;
        }
        *ret = t;
        return 0;
}

const PowerTables *power_tables_builtin(void)
{
        static PowerTables t;
        static int state; /* 0 not parsed, 1 good, -1 broken */
        if (state == 0) {
                char err[256];
                state = power_tables_parse(power_data_cpu_tdp_csv, power_data_curve_shapes_csv,
                                           power_data_estimates_csv, &t, err, sizeof(err)) < 0
                                ? -1
                                : 1;
        }
        return state > 0 ? &t : NULL;
}

/* Appends the word w to out (at *len), a space before it unless first; drops noise words. */
static void norm_word(char *out, size_t outlen, size_t *len, const char *w, size_t wl)
{
        static const char *const noise[] = {"cpu", "processor", "(r)", "(tm)"};
        for (size_t i = 0; i < sizeof(noise) / sizeof(noise[0]); i++)
                if (wl == strlen(noise[i]) && memcmp(w, noise[i], wl) == 0)
                        return;
        size_t need = wl + (*len ? 1 : 0);
        if (*len + need >= outlen)
                return;
        if (*len)
                out[(*len)++] = ' ';
        memcpy(out + *len, w, wl);
        *len += wl;
        out[*len] = '\0';
}

void power_cpu_normalize(const char *in, char *out, size_t outlen)
{
        char tmp[256];
        size_t n = 0, len = 0;
        if (outlen == 0)
                return;
        out[0] = '\0';
        if (!in)
                return;
        /* lower case, "(r)"/"(tm)" removed, cut at '@' */
        for (const char *p = in; *p && *p != '@' && n + 1 < sizeof(tmp); p++) {
                if (strncasecmp(p, "(r)", 3) == 0) {
                        p += 2;
                        tmp[n++] = ' ';
                        continue;
                }
                if (strncasecmp(p, "(tm)", 4) == 0) {
                        p += 3;
                        tmp[n++] = ' ';
                        continue;
                }
                unsigned char c = (unsigned char)tolower((unsigned char)*p);
                tmp[n++] = (isalnum(c) && c < 0x80) || c == '.' || c == '+' || c == '-' ? (char)c
                                                                                        : ' ';
        }
        tmp[n] = '\0';
        for (char *p = tmp; *p;) {
                while (*p == ' ')
                        p++;
                char *w = p;
                while (*p && *p != ' ')
                        p++;
                if (p > w)
                        norm_word(out, outlen, &len, w, (size_t)(p - w));
        }
}

/* Whether w (up to a space or the end) is a version word: "v2", "v4". */
static bool is_version_word(const char *w)
{
        if (w[0] != 'v' || !isdigit((unsigned char)w[1]))
                return false;
        for (w++; isdigit((unsigned char)*w); w++)
                ;
        return *w == '\0' || *w == ' ';
}

/* Whether the words of needle appear, whole, in hay (both normalised), and are not followed by a
 * version word: Intel names successive generations "E5-2670", "E5-2670 v2", "E5-2670 v3", three
 * CPUs of different TDP and core count, so a row for one must not match the others. */
static bool words_in(const char *hay, const char *needle)
{
        size_t nl = strlen(needle);
        if (nl == 0)
                return false;
        for (const char *p = hay; (p = strstr(p, needle)); p++) {
                bool start = p == hay || p[-1] == ' ';
                bool end = p[nl] == '\0' || (p[nl] == ' ' && !is_version_word(p + nl + 1));
                if (start && end)
                        return true;
        }
        return false;
}

const PowerCpuRow *power_cpu_match(const PowerTables *t, const char *cpu_model,
                                   const char *dmi_vendor)
{
        char model[256], vendor[128];
        const PowerCpuRow *best = NULL;
        size_t best_score = 0;

        if (!t || !cpu_model)
                return NULL;
        power_cpu_normalize(cpu_model, model, sizeof(model));
        power_cpu_normalize(dmi_vendor, vendor, sizeof(vendor));
        for (size_t i = 0; i < t->n_cpus; i++) {
                const PowerCpuRow *r = &t->cpus[i];
                if (!words_in(model, r->match))
                        continue;
                size_t score = strlen(r->match);
                if (r->dmi_vendor[0]) {
                        if (!strstr(vendor, r->dmi_vendor))
                                continue;
                        score += 1000;
                }
                if (score > best_score) {
                        best = r;
                        best_score = score;
                }
        }
        return best;
}

/* Watts to 0.1 mW: far below the band, and the curve then reads as people write it ("1.9875",
 * not "1.9874999999999998") in joules status and the history. */
static void power_defaults_round(PowerCurve *c)
{
        for (unsigned i = 0; i < c->n; i++)
                c->watts[i] = round(c->watts[i] * 1e4) / 1e4;
}

int power_defaults_build_from(const PowerTables *t, const char *cpu_model, unsigned threads_of_host,
                              const char *dmi_vendor, const char *dmi_product, PowerCurve *curve,
                              PowerMethod *method, char *source, size_t source_len)
{
        if (!t || !curve || !method)
                return -EINVAL;
        if (threads_of_host == 0)
                threads_of_host = 1;
        (void)dmi_product; /* the vendor says enough for the rows we have */

        const PowerCpuRow *row = power_cpu_match(t, cpu_model, dmi_vendor);
        if (row) {
                *curve = t->shape;
                power_curve_scale(curve, row->tdp_w * threads_of_host / row->threads);
                power_defaults_round(curve);
                *method = POWER_METHOD_CPU;
                if (source && source_len)
                        snprintf(source, source_len,
                                 "%s (TDP %g W, %u threads; %s) x %c%s curve, %u of %u threads",
                                 row->name, row->tdp_w, row->threads, row->source,
                                 toupper((unsigned char)t->shape_name[0]), t->shape_name + 1,
                                 threads_of_host, row->threads);
                return 0;
        }
        power_curve_linear(curve, threads_of_host, t->generic_idle_w, t->generic_max_w);
        power_defaults_round(curve);
        *method = POWER_METHOD_GENERIC;
        if (source && source_len) {
                char cpu[96];
                snprintf(cpu, sizeof(cpu), "%s", cpu_model && *cpu_model ? cpu_model : "");
                snprintf(source, source_len,
                         "%g-%g W per vCPU (%s) x %u vCPUs; CPU %s%s%s not in data/cpu-tdp.csv",
                         t->generic_idle_w, t->generic_max_w, t->generic_source, threads_of_host,
                         cpu[0] ? "'" : "", cpu[0] ? cpu : "model unknown", cpu[0] ? "'" : "");
        }
        return 0;
}

int power_defaults_build(const char *cpu_model, unsigned threads_of_host, const char *dmi_vendor,
                         const char *dmi_product, PowerCurve *curve, PowerMethod *method,
                         char *source, size_t source_len)
{
        return power_defaults_build_from(power_tables_builtin(), cpu_model, threads_of_host,
                                         dmi_vendor, dmi_product, curve, method, source,
                                         source_len);
}

double power_defaults_band_pct(PowerMethod m)
{
        const PowerTables *t = power_tables_builtin();
        if (!t || (unsigned)m >= _POWER_METHOD_MAX)
                return 0;
        return t->band_pct[m];
}

double power_band_combine(const double *energy, const double *band_pct, size_t n)
{
        double e = 0, eb = 0;
        for (size_t i = 0; i < n; i++) {
                e += energy[i];
                eb += energy[i] * band_pct[i];
        }
        return e > 0 ? eb / e : NAN;
}
