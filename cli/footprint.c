#include "cli/footprint.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "common/carbon.h"
#include "common/text.h"
#include "common/util.h"

static int meta_double(Store *s, const char *key, double min, double max, double *ret, char *err,
                       size_t errlen)
{
        char buf[64];
        int r = store_read_meta(s, key, buf, sizeof(buf));
        if (r == -ENOENT || (r >= 0 && !buf[0]))
                return 0;
        if (r < 0)
                return r;
        double v;
        if (parse_double(buf, &v) < 0 || v < min || v > max) {
                snprintf(err, errlen, "the history's setting %s = '%s' is not valid", key, buf);
                return -EINVAL;
        }
        *ret = v;
        return 0;
}

int footprint_settings_load(Store *s, FootprintSettings *ret, char *err, size_t errlen)
{
        FootprintSettings fs = {
                .intensity = NAN,
                .pue = CARBON_DEFAULT_PUE,
                .el_hours = CARBON_DEFAULT_EL_HOURS,
                .market_g_per_kwh = NAN,
        };
        int r;
        char buf[64];
        r = store_read_meta(s, "carbon.country", buf, sizeof(buf));
        if (r >= 0) {
                if (buf[0] && !carbon_grid_lookup(buf)) {
                        snprintf(err, errlen,
                                 "the history's setting carbon.country = '%s' is not "
                                 "in the built-in table",
                                 buf);
                        return -EINVAL;
                }
                snprintf(fs.country, sizeof(fs.country), "%s", buf);
        } else if (r != -ENOENT) {
                return r;
        }
        if ((r = meta_double(s, "carbon.intensity", 0, 1e5, &fs.intensity, err, errlen)) < 0 ||
            (r = meta_double(s, "carbon.pue", 1, 10, &fs.pue, err, errlen)) < 0 ||
            (r = meta_double(s, "carbon.embodied_g", 0, 1e12, &fs.te_g, err, errlen)) < 0 ||
            (r = meta_double(s, "carbon.lifetime_hours", 1, 1e7, &fs.el_hours, err, errlen)) < 0 ||
            (r = meta_double(s, "carbon.market_intensity", 0, 1e5, &fs.market_g_per_kwh, err,
                             errlen)) < 0)
                return r;
        *ret = fs;
        return 0;
}

double footprint_fallback_intensity(const FootprintSettings *fs, char *label, size_t size)
{
        if (isfinite(fs->intensity)) {
                snprintf(label, size, "%s", fs->intensity_forced ? "given" : "configured");
                return fs->intensity;
        }
        const CarbonGridFactor *g =
                carbon_grid_lookup(fs->country[0] ? fs->country : CARBON_DEFAULT_COUNTRY);
        if (!g)
                g = carbon_grid_lookup(CARBON_DEFAULT_COUNTRY);
        snprintf(label, size, CARBON_GRID_TABLE_SOURCE ":%s", g->code);
        return g->g_per_kwh;
}

static bool unit_matches(const char *name, const char *unit)
{
        if (!unit || strcmp(name, unit) == 0)
                return true;
        size_t l = strlen(unit);
        return strncmp(name, unit, l) == 0 && strcmp(name + l, ".service") == 0;
}

/* Adds one hour's figures into an accumulator; intensity is fixed up at the end. */
static void figures_add(FootprintFigures *a, const FootprintFigures *h, double ei, double e)
{
        a->active_j += h->active_j;
        a->idle_j += h->idle_j;
        a->cpu_s += h->cpu_s;
        if (h->has_requests) {
                a->has_requests = true;
                a->requests += h->requests;
        }
        a->estimated |= h->estimated;
        a->estimated_j += h->estimated_j;
        a->facility_kwh += h->facility_kwh;
        a->location_g += ei;
        a->market_g += h->market_g;
        a->embodied_g += h->embodied_g;
        a->sources |= h->sources;
        /* intensity holds the sum of hourly intensities while adding when there is no energy */
        (void)e;
}

typedef struct Acc {
        double sum_i, min_i, max_i;
        size_t n_i;
} Acc;

static void acc_add(Acc *a, double i)
{
        if (a->n_i == 0 || i < a->min_i)
                a->min_i = i;
        if (a->n_i == 0 || i > a->max_i)
                a->max_i = i;
        a->sum_i += i;
        a->n_i++;
}

static void figures_finish(FootprintFigures *f, const Acc *acc)
{
        /* one intensity in every hour: exactly that one, not a quotient a rounding away */
        if (acc->n_i > 0 && acc->min_i == acc->max_i)
                f->intensity = acc->min_i;
        else if (f->facility_kwh > 0)
                f->intensity = f->location_g / f->facility_kwh;
        else
                f->intensity = acc->n_i ? acc->sum_i / (double)acc->n_i : NAN;
}

/* The units' names, each kept once (a year of hours for 200 units is 1.75 million rows), with
 * a hash index; ids are indices into names. name_intern returns 1 for a name new to the table. */
typedef struct NameTable {
        char **names;
        size_t n, cap;
        size_t *slots; /* id + 1; 0: empty */
        size_t n_slots;
} NameTable;

static size_t name_hash(const char *s)
{
        size_t h = 1469598103934665603u;
        for (; *s; s++)
                h = (h ^ (unsigned char)*s) * 1099511628211u;
        return h;
}

static int name_rehash(NameTable *t, size_t n_slots)
{
        size_t *slots = calloc(n_slots, sizeof(*slots));
        if (!slots)
                return -ENOMEM;
        for (size_t id = 0; id < t->n; id++) {
                size_t at = name_hash(t->names[id]) & (n_slots - 1);
                while (slots[at])
                        at = (at + 1) & (n_slots - 1);
                slots[at] = id + 1;
        }
        free(t->slots);
        t->slots = slots;
        t->n_slots = n_slots;
        return 0;
}

static int name_intern(NameTable *t, const char *name, size_t *ret_id)
{
        if ((t->n + 1) * 2 > t->n_slots && name_rehash(t, t->n_slots ? t->n_slots * 2 : 64) < 0)
                return -ENOMEM;
        size_t at = name_hash(name) & (t->n_slots - 1);
        for (; t->slots[at]; at = (at + 1) & (t->n_slots - 1))
                if (strcmp(t->names[t->slots[at] - 1], name) == 0) {
                        *ret_id = t->slots[at] - 1;
                        return 0;
                }
        if (t->n == t->cap) {
                size_t ncap = t->cap ? t->cap * 2 : 32;
                char **n = realloc(t->names, ncap * sizeof(*n));
                if (!n)
                        return -ENOMEM;
                t->names = n;
                t->cap = ncap;
        }
        t->names[t->n] = strdup(name);
        if (!t->names[t->n])
                return -ENOMEM;
        t->slots[at] = t->n + 1;
        *ret_id = t->n++;
        return 1;
}

/* The per-name arrays, grown to hold n names. */
static int ids_grow(size_t **row_of, size_t **row_period, size_t *cap, size_t n)
{
        if (n <= *cap)
                return 0;
        size_t ncap = *cap ? *cap * 2 : 64;
        size_t *a = realloc(*row_of, ncap * sizeof(*a));
        if (!a)
                return -ENOMEM;
        *row_of = a;
        size_t *b = realloc(*row_period, ncap * sizeof(*b));
        if (!b)
                return -ENOMEM;
        *row_period = b;
        *cap = ncap;
        return 0;
}

#define FOOTPRINT_CHUNK_DAYS 1

/* Final figures of what fp holds: intensities, then rows biggest first in each period. */
static void footprint_finish(Footprint *fp, const Acc *pacc, const Acc *racc)
{
        for (size_t k = 0; k < fp->n_periods; k++)
                figures_finish(&fp->periods[k].host, &pacc[k]);
        for (size_t k = 0; k < fp->n_rows; k++)
                figures_finish(&fp->rows[k].f, &racc[k]);
        /* rows are grouped by period already: an insertion sort inside each */
        for (size_t a = 1; a < fp->n_rows; a++) {
                FootprintRow tmp = fp->rows[a];
                double e = tmp.f.active_j + tmp.f.idle_j;
                size_t b = a;
                while (b > 0 && fp->rows[b - 1].period == tmp.period &&
                       fp->rows[b - 1].f.active_j + fp->rows[b - 1].f.idle_j < e) {
                        fp->rows[b] = fp->rows[b - 1];
                        b--;
                }
                fp->rows[b] = tmp;
        }
}

/* The arithmetic on its own: steps of history in, output periods out. */
struct FootprintBuilder {
        FootprintSettings fs;
        int64_t from_us, to_us;
        StoreBucket bucket;
        char *unit; /* NULL: every unit */
        FootprintEmit emit;
        void *user;
        double te;
        Footprint fp;
        size_t seq; /* output periods begun, for row_period */
        Acc *pacc, *racc;
        size_t periods_cap, rows_cap, racc_cap, pacc_cap;
        NameTable names;
        /* per name id: its row in the current output period (row + 1), and which period */
        size_t *row_of, *row_period, ids_cap;
        bool used_series, used_fallback;
};

int footprint_builder_new(const FootprintSettings *fs, int64_t from_us, int64_t to_us,
                          StoreBucket bucket, const char *unit, FootprintEmit emit, void *user,
                          FootprintBuilder **ret)
{
        FootprintBuilder *b = calloc(1, sizeof(*b));
        if (!b)
                return -ENOMEM;
        b->fs = *fs;
        b->from_us = from_us;
        b->to_us = to_us;
        b->bucket = bucket;
        b->emit = emit;
        b->user = user;
        b->te = fs->te_g > 0 ? fs->te_g : 0;
        b->fp.bucket = bucket;
        b->fp.fs = &b->fs;
        snprintf(b->fp.series, sizeof(b->fp.series), "series");
        (void)footprint_fallback_intensity(fs, b->fp.fallback, sizeof(b->fp.fallback));
        if (unit && !(b->unit = strdup(unit))) {
                free(b);
                return -ENOMEM;
        }
        *ret = b;
        return 0;
}

void footprint_builder_labels(FootprintBuilder *b, const char *hostname, const char *series)
{
        if (hostname)
                snprintf(b->fp.hostname, sizeof(b->fp.hostname), "%s", hostname);
        if (series)
                snprintf(b->fp.series, sizeof(b->fp.series), "%s", series);
}

/* Hands the complete period(s) held over to emit, and forgets them. */
static int builder_emit(FootprintBuilder *b)
{
        if (!b->emit || b->fp.n_periods == 0)
                return 0;
        footprint_finish(&b->fp, b->pacc, b->racc);
        b->fp.names = b->names.names;
        b->fp.n_names = b->names.n;
        int r = b->emit(&b->fp, b->user);
        b->fp.names = NULL;
        b->fp.n_names = 0;
        b->fp.n_periods = b->fp.n_rows = 0;
        return r;
}

int footprint_builder_flush(FootprintBuilder *b)
{
        return builder_emit(b);
}

int footprint_builder_add(FootprintBuilder *b, const StorePeriod *hp, const StorePeriodRow *rows,
                          size_t n_rows, double ih, unsigned hsource)
{
        const FootprintSettings *fs = &b->fs;
        Footprint *fp = &b->fp;
        int r;
        if (hsource & FOOTPRINT_SOURCE_SERIES)
                b->used_series = true;
        else
                b->used_fallback = true;

        /* The output period holding this step. */
        int64_t ostart = b->bucket == STORE_BUCKET_ALL ? b->from_us
                                                       : store_bucket_start(b->bucket, hp->end_us);
        if (ostart < b->from_us)
                ostart = b->from_us;
        if (fp->n_periods == 0 || fp->periods[fp->n_periods - 1].start_us != ostart) {
                /* the period before is complete: hand it over */
                if ((r = builder_emit(b)) < 0)
                        return r;
                b->seq++;
                if (array_grow((void **)&fp->periods, &b->periods_cap, fp->n_periods + 1,
                               sizeof(*fp->periods)) < 0 ||
                    array_grow((void **)&b->pacc, &b->pacc_cap, fp->n_periods + 1,
                               sizeof(*b->pacc)) < 0)
                        return -ENOMEM;
                int64_t oend =
                        b->bucket == STORE_BUCKET_ALL
                                ? b->to_us
                                : store_bucket_next(b->bucket,
                                                    store_bucket_start(b->bucket, hp->end_us));
                fp->periods[fp->n_periods] = (FootprintPeriod){
                        .start_us = ostart,
                        .end_us = oend > b->to_us ? b->to_us : oend,
                        .first_us = hp->first_us,
                        .host.market_g = isfinite(fs->market_g_per_kwh) ? 0 : NAN,
                };
                b->pacc[fp->n_periods] = (Acc){0};
                fp->n_periods++;
        }
        size_t pi = fp->n_periods - 1;
        FootprintPeriod *op = &fp->periods[pi];
        op->seconds += hp->seconds;
        op->last_us = hp->last_us;
        op->host_j += (double)hp->host_uj / UJ_PER_J;

        double tir_h = hp->seconds / 3600.0;
        uint64_t cpu_total = 0;
        for (size_t k = 0; k < n_rows; k++)
                cpu_total += rows[k].cpu_ns;

        /* the host */
        FootprintFigures hf = {
                .estimated = hp->estimated,
                .facility_kwh = carbon_facility_kwh(carbon_j_to_kwh((double)hp->host_uj / UJ_PER_J),
                                                    fs->pue),
                .embodied_g = carbon_embodied_g(b->te, tir_h, fs->el_hours, 1, 1),
                .sources = hsource,
        };
        hf.market_g = hf.facility_kwh * fs->market_g_per_kwh;
        for (size_t k = 0; k < n_rows; k++) {
                const StorePeriodRow *sr = &rows[k];
                hf.active_j += (double)sr->active_uj / UJ_PER_J;
                hf.idle_j += (double)sr->idle_uj / UJ_PER_J;
                hf.cpu_s += (double)sr->cpu_ns / 1e9;
                hf.estimated_j += (double)sr->estimated_uj / UJ_PER_J;
                if (sr->has_requests) {
                        hf.has_requests = true;
                        hf.requests += sr->requests;
                }
        }
        figures_add(&op->host, &hf, hf.facility_kwh * ih, hf.facility_kwh);
        acc_add(&b->pacc[pi], ih);

        /* the units */
        for (size_t k = 0; k < n_rows; k++) {
                const StorePeriodRow *sr = &rows[k];
                if (!unit_matches(sr->name, b->unit))
                        continue;
                double e_j = (double)(sr->active_uj + sr->idle_uj) / UJ_PER_J;
                FootprintFigures uf = {
                        .active_j = (double)sr->active_uj / UJ_PER_J,
                        .idle_j = (double)sr->idle_uj / UJ_PER_J,
                        .cpu_s = (double)sr->cpu_ns / 1e9,
                        .has_requests = sr->has_requests,
                        .requests = sr->requests,
                        .estimated = sr->estimated,
                        .estimated_j = (double)sr->estimated_uj / UJ_PER_J,
                        .facility_kwh = carbon_facility_kwh(carbon_j_to_kwh(e_j), fs->pue),
                        .embodied_g = cpu_total > 0 ? carbon_embodied_g(b->te, tir_h, fs->el_hours,
                                                                        (double)sr->cpu_ns,
                                                                        (double)cpu_total)
                                                    : 0,
                        .sources = hsource,
                };
                uf.market_g = uf.facility_kwh * fs->market_g_per_kwh;
                size_t id;
                int added = name_intern(&b->names, sr->name, &id);
                if (added < 0 || ids_grow(&b->row_of, &b->row_period, &b->ids_cap, b->names.n) < 0)
                        return -ENOMEM;
                if (added) { /* no row yet */
                        b->row_of[id] = 0;
                        b->row_period[id] = SIZE_MAX;
                }
                size_t ri;
                if (b->row_period[id] == b->seq && b->row_of[id]) {
                        ri = b->row_of[id] - 1;
                } else {
                        if (array_grow((void **)&fp->rows, &b->rows_cap, fp->n_rows + 1,
                                       sizeof(*fp->rows)) < 0 ||
                            array_grow((void **)&b->racc, &b->racc_cap, fp->n_rows + 1,
                                       sizeof(*b->racc)) < 0)
                                return -ENOMEM;
                        ri = fp->n_rows++;
                        fp->rows[ri] = (FootprintRow){
                                .period = pi,
                                .name = b->names.names[id],
                                .pseudo = sr->pseudo,
                        };
                        fp->rows[ri].f.market_g = isfinite(fs->market_g_per_kwh) ? 0 : NAN;
                        b->racc[ri] = (Acc){0};
                        b->row_of[id] = ri + 1;
                        b->row_period[id] = b->seq;
                }
                figures_add(&fp->rows[ri].f, &uf, uf.facility_kwh * ih, uf.facility_kwh);
                acc_add(&b->racc[ri], ih);
        }
        return 0;
}

int footprint_builder_finish(FootprintBuilder *b, Footprint *ret)
{
        Footprint *fp = &b->fp;
        if (b->used_series && b->used_fallback)
                snprintf(fp->source, sizeof(fp->source), "%s+%s", fp->series, fp->fallback);
        else if (b->used_series)
                snprintf(fp->source, sizeof(fp->source), "%s", fp->series);
        else
                snprintf(fp->source, sizeof(fp->source), "%s", fp->fallback);
        if (b->emit) {
                int r = builder_emit(b);
                if (r < 0)
                        return r;
                if (ret) { /* the labels; no rows */
                        *ret = (Footprint){.bucket = b->bucket};
                        memcpy(ret->source, fp->source, sizeof(fp->source));
                        memcpy(ret->series, fp->series, sizeof(fp->series));
                        memcpy(ret->fallback, fp->fallback, sizeof(fp->fallback));
                        memcpy(ret->hostname, fp->hostname, sizeof(fp->hostname));
                }
                return 0;
        }
        footprint_finish(fp, b->pacc, b->racc);
        fp->names = TAKE_PTR(b->names.names);
        fp->n_names = b->names.n;
        b->names.n = 0;
        if (ret) {
                *ret = *fp;
                ret->fs = NULL; /* b's, freed with it */
                fp->periods = NULL;
                fp->rows = NULL;
                fp->names = NULL;
                fp->n_names = 0;
        }
        return 0;
}

FootprintBuilder *footprint_builder_free(FootprintBuilder *b)
{
        if (!b)
                return NULL;
        free(b->pacc);
        free(b->racc);
        free(b->row_of);
        free(b->row_period);
        for (size_t k = 0; k < b->names.n; k++)
                free(b->names.names[k]);
        free(b->names.names);
        free(b->names.slots);
        footprint_done(&b->fp);
        free(b->unit);
        free(b);
        return NULL;
}

/* The step the history is read in: hours (each with its own intensity) for the calendar
 * periods, minutes for --by minute. */
static StoreBucket step_bucket(StoreBucket bucket)
{
        return bucket == STORE_BUCKET_MINUTE ? STORE_BUCKET_MINUTE : STORE_BUCKET_HOUR;
}

int footprint_read(Store *s, const FootprintSettings *fs, int64_t from_us, int64_t to_us,
                   StoreBucket bucket, const char *unit, Footprint *ret)
{
        return footprint_read_each(s, fs, from_us, to_us, bucket, unit, NULL, NULL, ret);
}

int footprint_read_each(Store *s, const FootprintSettings *fs, int64_t from_us, int64_t to_us,
                        StoreBucket bucket, const char *unit, FootprintEmit emit, void *user,
                        Footprint *ret)
{
        StorePeriodRows hours = {0};
        CarbonInterval *series = NULL;
        size_t n_series = 0;
        FootprintBuilder *b = NULL;
        StoreBucket step = step_bucket(bucket);
        int r;

        if (!fs->intensity_forced) {
                StoreIntensityPoint *pts = NULL;
                /* whole hours: each hour's intensity is its own, whatever the range */
                r = store_read_intensity(
                        s, store_bucket_start(STORE_BUCKET_HOUR, from_us + 1),
                        store_bucket_next(STORE_BUCKET_HOUR,
                                          store_bucket_start(STORE_BUCKET_HOUR, to_us)),
                        &pts, &n_series);
                if (r < 0)
                        goto out;
                series = calloc(n_series ? n_series : 1, sizeof(*series));
                if (!series) {
                        free(pts);
                        r = -ENOMEM;
                        goto out;
                }
                for (size_t k = 0; k < n_series; k++)
                        series[k] = (CarbonInterval){pts[k].start_us, pts[k].end_us,
                                                     pts[k].g_per_kwh, (unsigned)k + 1};
                free(pts);
        }
        r = footprint_builder_new(fs, from_us, to_us, bucket, unit, emit, user, &b);
        if (r < 0)
                goto out;
        char fallback_label[64];
        double fallback = footprint_fallback_intensity(fs, fallback_label, sizeof(fallback_label));

        /* A day of hours at a time, so memory stays that of a day whatever the range (UTC
         * days are whole hours: no hour is split). */
        for (int64_t chunk_from = from_us; chunk_from < to_us;) {
                int64_t chunk_to = store_bucket_start(STORE_BUCKET_DAY, chunk_from + 1) +
                                   FOOTPRINT_CHUNK_DAYS * 86400 * (int64_t)USEC_PER_SEC;
                if (chunk_to > to_us)
                        chunk_to = to_us;
                store_periods_done(&hours);
                r = store_read_periods(s, chunk_from, chunk_to, step, NULL, &hours);
                if (r < 0)
                        goto out;
                chunk_from = chunk_to;
                if (hours.hostname[0])
                        footprint_builder_labels(b, hours.hostname, NULL);

                size_t row0 = 0; /* first row of the current step */
                for (size_t h = 0; h < hours.n_periods; h++) {
                        const StorePeriod *hp = &hours.periods[h];
                        int64_t t0 = store_bucket_start(step, hp->end_us);
                        /* The intensity of this step: the series where it covers the step. */
                        double ih = fallback;
                        unsigned hsource = FOOTPRINT_SOURCE_FALLBACK;
                        if (series && carbon_series_mean(series, n_series, t0,
                                                         store_bucket_next(step, t0), &ih) > 0)
                                hsource = FOOTPRINT_SOURCE_SERIES;
                        size_t row1 = row0;
                        while (row1 < hours.n_rows && hours.rows[row1].period == h)
                                row1++;
                        r = footprint_builder_add(b, hp, hours.rows + row0, row1 - row0, ih,
                                                  hsource);
                        if (r < 0)
                                goto out;
                        row0 = row1;
                }
        }
        r = footprint_builder_finish(b, ret);
out:
        store_periods_done(&hours);
        free(series);
        footprint_builder_free(b);
        return r;
}

void footprint_done(Footprint *fp)
{
        free(fp->periods);
        free(fp->rows);
        for (size_t k = 0; k < fp->n_names; k++)
                free(fp->names[k]);
        free(fp->names);
        fp->names = NULL;
        fp->n_names = 0;
        fp->periods = NULL;
        fp->rows = NULL;
        fp->n_periods = fp->n_rows = 0;
}

void footprint_source(const Footprint *fp, const FootprintFigures *f, char *buf, size_t size)
{
        if (f->sources == FOOTPRINT_SOURCE_SERIES)
                snprintf(buf, size, "%s", fp->series);
        else if (f->sources & FOOTPRINT_SOURCE_SERIES)
                snprintf(buf, size, "%s+%s", fp->series, fp->fallback);
        else
                snprintf(buf, size, "%s", fp->fallback);
}

double footprint_per_request(double value, const FootprintFigures *f)
{
        return f->has_requests && f->requests > 0 ? value / f->requests : NAN;
}

int footprint_parse_flag(const char *cmd, const char *flag, const char *value, double min,
                         double max, double *ret)
{
        double v;
        if (parse_double(value, &v) < 0) {
                fprintf(stderr, "joules %s: %s: '%s' is not a number\n", cmd, flag,
                        TEXT_SAFE(value));
                return -EINVAL;
        }
        if (v < min || v > max) {
                fprintf(stderr, "joules %s: %s: %s is out of range [%g, %g]\n", cmd, flag,
                        TEXT_SAFE(value), min, max);
                return -ERANGE;
        }
        *ret = v;
        return 0;
}

int footprint_window_option(const CliContext *ctx, const char *cmd, int c, const char *arg,
                            int64_t *from, int64_t *to, FootprintOverrides *o)
{
        int r = cli_range_option(ctx, c, arg, from, to);
        if (r != 0)
                return r < 0 ? -EINVAL : 1;
        return footprint_option(cmd, c, arg, o);
}

int footprint_option(const char *cmd, int c, const char *arg, FootprintOverrides *o)
{
        switch (c) {
        case FOOTPRINT_OPT_COUNTRY:
                if (!carbon_grid_lookup(arg) || strlen(arg) >= sizeof(o->v.country)) {
                        fprintf(stderr,
                                "joules %s: --country: '%s' is not in the built-in table (ISO "
                                "3166 alpha-2 such as DE, FR, US, GB; or WORLD, EU)\n",
                                cmd, TEXT_SAFE(arg));
                        return -EINVAL;
                }
                snprintf(o->v.country, sizeof(o->v.country), "%s", arg);
                o->country = true;
                return 1;
        case FOOTPRINT_OPT_INTENSITY:
                if (footprint_parse_flag(cmd, "--intensity", arg, 0, 1e5, &o->v.intensity) < 0)
                        return -EINVAL;
                o->intensity = true;
                return 1;
        case FOOTPRINT_OPT_PUE:
                if (footprint_parse_flag(cmd, "--pue", arg, 1, 10, &o->v.pue) < 0)
                        return -EINVAL;
                o->pue = true;
                return 1;
        case FOOTPRINT_OPT_TE:
                if (footprint_parse_flag(cmd, "--te-g", arg, 0, 1e12, &o->v.te_g) < 0)
                        return -EINVAL;
                o->te = true;
                return 1;
        case FOOTPRINT_OPT_EL:
                if (footprint_parse_flag(cmd, "--el-hours", arg, 1, 1e7, &o->v.el_hours) < 0)
                        return -EINVAL;
                o->el = true;
                return 1;
        case FOOTPRINT_OPT_MARKET:
                if (footprint_parse_flag(cmd, "--market-intensity", arg, 0, 1e5,
                                         &o->v.market_g_per_kwh) < 0)
                        return -EINVAL;
                o->market = true;
                return 1;
        }
        return 0;
}

void footprint_apply(FootprintSettings *fs, const FootprintOverrides *o)
{
        if (o->country) {
                snprintf(fs->country, sizeof(fs->country), "%s", o->v.country);
                if (!o->intensity)
                        fs->intensity = NAN; /* a country given beats a configured value */
        }
        if (o->intensity) {
                fs->intensity = o->v.intensity;
                fs->intensity_forced = true;
        }
        if (o->pue)
                fs->pue = o->v.pue;
        if (o->te)
                fs->te_g = o->v.te_g;
        if (o->el)
                fs->el_hours = o->v.el_hours;
        if (o->market) {
                fs->market_g_per_kwh = o->v.market_g_per_kwh;
                fs->market_given = true;
        }
}

void footprint_market(const FootprintSettings *fs, const FootprintFigures *f, FootprintMarket *ret)
{
        if (isfinite(fs->market_g_per_kwh)) {
                *ret = (FootprintMarket){
                        .g_per_kwh = fs->market_g_per_kwh,
                        .emissions_g = f->market_g,
                        .source = fs->market_given ? "given" : "configured",
                };
                return;
        }
        /* the last row of Table 6.3: the location-based grid average, energy-weighted over the
         * hours as the location-based columns are, so the two totals agree exactly */
        *ret = (FootprintMarket){
                .g_per_kwh = f->intensity,
                .emissions_g = f->location_g,
                .source = FOOTPRINT_MARKET_GRID_AVERAGE,
        };
}

Store *footprint_open(const char *cmd, const char *db_path, const FootprintOverrides *o,
                      FootprintSettings *ret)
{
        Store *s = NULL;
        char err[1024];
        int r = store_open(db_path, STORE_READ_ONLY, &s, err, sizeof(err));
        if (r < 0) {
                fprintf(stderr, "joules: cannot read the history: %s\n", TEXT_SAFE(err));
                if (r == -ENOENT)
                        fprintf(stderr, "joules: is joulesd running? Give the file with --db PATH "
                                        "or JOULES_DB.\n");
                return NULL;
        }
        r = footprint_settings_load(s, ret, err, sizeof(err));
        if (r < 0) {
                fprintf(stderr, "joules %s: %s\n", cmd,
                        TEXT_SAFE(r == -EINVAL ? err : store_last_error(s)));
                return store_close(s);
        }
        footprint_apply(ret, o);
        return s;
}
