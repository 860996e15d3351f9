/* Reading energy by period (joules report, export, sci, compare), the settings kept with the
 * history (meta) and the imported grid carbon-intensity series. The periods are summed from the
 * rollup tiers where they hold the range whole (store_plan: days, hours, minutes), else from the
 * raw tables (ticks, unit_energy, unit_requests), with the same result. */

#include "storage/store.h"
#include "storage/store-internal.h"

#include <errno.h>
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/util.h"

#define USEC_PER_MINUTE (60 * (int64_t)USEC_PER_SEC)
#define USEC_PER_HOUR   (3600 * (int64_t)USEC_PER_SEC)
#define USEC_PER_DAY    (24 * USEC_PER_HOUR)

static int64_t floor_div(int64_t a, int64_t b)
{
        int64_t q = a / b;
        return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

int64_t store_bucket_start(StoreBucket b, int64_t ts_us)
{
        /* The instant just before ts_us: a bucket is (start, end] like every range here. */
        int64_t t = ts_us - 1;
        switch (b) {
        case STORE_BUCKET_SECOND:
                return floor_div(t, (int64_t)USEC_PER_SEC) * (int64_t)USEC_PER_SEC;
        case STORE_BUCKET_MINUTE:
                return floor_div(t, USEC_PER_MINUTE) * USEC_PER_MINUTE;
        case STORE_BUCKET_HOUR:
                return floor_div(t, USEC_PER_HOUR) * USEC_PER_HOUR;
        case STORE_BUCKET_DAY:
                return floor_div(t, USEC_PER_DAY) * USEC_PER_DAY;
        case STORE_BUCKET_MONTH: {
                time_t sec = (time_t)floor_div(t, (int64_t)USEC_PER_SEC);
                struct tm tm;
                if (!gmtime_r(&sec, &tm))
                        return 0;
                tm.tm_mday = 1;
                tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
                return (int64_t)timegm(&tm) * (int64_t)USEC_PER_SEC;
        }
        case STORE_BUCKET_ALL:
                return INT64_MIN;
        }
        return 0;
}

int64_t store_bucket_next(StoreBucket b, int64_t start_us)
{
        switch (b) {
        case STORE_BUCKET_SECOND:
                return start_us + (int64_t)USEC_PER_SEC;
        case STORE_BUCKET_MINUTE:
                return start_us + USEC_PER_MINUTE;
        case STORE_BUCKET_HOUR:
                return start_us + USEC_PER_HOUR;
        case STORE_BUCKET_DAY:
                return start_us + USEC_PER_DAY;
        case STORE_BUCKET_MONTH: {
                time_t sec = (time_t)floor_div(start_us, (int64_t)USEC_PER_SEC);
                struct tm tm;
                if (!gmtime_r(&sec, &tm))
                        return start_us;
                tm.tm_mon++; /* timegm normalises December + 1 */
                return (int64_t)timegm(&tm) * (int64_t)USEC_PER_SEC;
        }
        case STORE_BUCKET_ALL:
                return INT64_MAX;
        }
        return start_us;
}

int store_bucket_from_string(const char *s, StoreBucket *ret)
{
        static const char *const names[] = {
                [STORE_BUCKET_HOUR] = "hour",     [STORE_BUCKET_DAY] = "day",
                [STORE_BUCKET_MONTH] = "month",   [STORE_BUCKET_ALL] = "all",
                [STORE_BUCKET_MINUTE] = "minute", [STORE_BUCKET_SECOND] = "second",
        };
        for (size_t i = 0; i < ELEMENTSOF(names); i++)
                if (strcmp(s, names[i]) == 0) {
                        *ret = (StoreBucket)i;
                        return 0;
                }
        return -EINVAL;
}

/* SQL for the bucket of tick t; kept equal to store_bucket_start() (tested). */
static const char *bucket_sql(StoreBucket b)
{
        switch (b) {
        case STORE_BUCKET_SECOND:
                return "((t.ts_us - 1) / 1000000) * 1000000";
        case STORE_BUCKET_MINUTE:
                return "((t.ts_us - 1) / 60000000) * 60000000";
        case STORE_BUCKET_HOUR:
                return "((t.ts_us - 1) / 3600000000) * 3600000000";
        case STORE_BUCKET_DAY:
                return "((t.ts_us - 1) / 86400000000) * 86400000000";
        case STORE_BUCKET_MONTH:
                return "CAST(strftime('%s', (t.ts_us - 1) / 1000000, 'unixepoch', "
                       "'start of month') AS INTEGER) * 1000000";
        case STORE_BUCKET_ALL:
                return "0";
        }
        return "0";
}

/* The unit filter matches the name as given, or with ".service" added (nginx: nginx.service). */
#define UNIT_FILTER "(?3 IS NULL OR u.name = ?3 OR u.name = ?3 || '.service')"

/* Runs "SELECT <bucket> AS b, <cols> FROM <relation> t <tail>" with ?1 from, ?2 to, ?3 the unit
 * (or NULL) and ?5... the spans' bounds: the relation is the range's ticks read through the
 * rollup tiers (store_spans_sql). */
static int periods_query(Store *s, sqlite3_stmt **q, const char *cols, StoreRelation rel,
                         const char *tail, const StorePeriodRows *p, const char *unit,
                         const StoreSpan *spans, size_t n_spans)
{
        char relation[12288], sql[16384];
        int r = store_spans_sql(rel, spans, n_spans, 5, relation, sizeof(relation));
        if (r < 0)
                return r;
        int n = snprintf(sql, sizeof(sql), "SELECT %s AS b, %s FROM %s t %s", bucket_sql(p->bucket),
                         cols, relation, tail);
        if (n < 0 || (size_t)n >= sizeof(sql))
                return -ENAMETOOLONG;
        r = store_query(s, q, sql);
        if (r < 0)
                return r;
        sqlite3_bind_int64(*q, 1, p->from_us);
        sqlite3_bind_int64(*q, 2, p->to_us);
        if (unit)
                sqlite3_bind_text(*q, 3, unit, -1, SQLITE_STATIC);
        else
                sqlite3_bind_null(*q, 3);
        store_spans_bind(*q, spans, n_spans, 5);
        return 0;
}

/* The coarsest tier whose rows fall whole into the bucket. */
static StoreTier bucket_tier(StoreBucket b)
{
        switch (b) {
        case STORE_BUCKET_SECOND:
                return STORE_TIER_RAW;
        case STORE_BUCKET_MINUTE:
                return STORE_TIER_MINUTE;
        case STORE_BUCKET_HOUR:
                return STORE_TIER_HOUR;
        default:
                return STORE_TIER_DAY;
        }
}

static size_t period_index(const StorePeriodRows *p, const int64_t *keys, int64_t key)
{
        size_t lo = 0, hi = p->n_periods;
        while (lo < hi) {
                size_t mid = (lo + hi) / 2;
                if (keys[mid] < key)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return lo;
}

static int row_cmp(const void *a, const void *b)
{
        const StorePeriodRow *x = a, *y = b;
        if (x->period != y->period)
                return x->period < y->period ? -1 : 1;
        uint64_t ex = x->active_uj + x->idle_uj, ey = y->active_uj + y->idle_uj;
        if (ex != ey)
                return ex > ey ? -1 : 1;
        return strcmp(x->name, y->name);
}

/* Grows geometrically: a year of hours for 200 units is 1.75 million rows. */
static StorePeriodRow *rows_add(StorePeriodRows *p, size_t *cap)
{
        if (p->n_rows == *cap) {
                size_t ncap = *cap ? *cap * 2 : 64;
                StorePeriodRow *n = realloc(p->rows, ncap * sizeof(*n));
                if (!n)
                        return NULL;
                p->rows = n;
                *cap = ncap;
        }
        StorePeriodRow *row = &p->rows[p->n_rows++];
        *row = (StorePeriodRow){0};
        return row;
}

/* Energy rows ordered by (period, name), to find a requests row's partner in O(log n). */
static int row_key_cmp(const void *a, const void *b, void *rows)
{
        const StorePeriodRow *x = &((const StorePeriodRow *)rows)[*(const size_t *)a];
        const StorePeriodRow *y = &((const StorePeriodRow *)rows)[*(const size_t *)b];
        if (x->period != y->period)
                return x->period < y->period ? -1 : 1;
        return strcmp(x->name, y->name);
}

static StorePeriodRow *rows_find(StorePeriodRow *rows, const size_t *index, size_t n, size_t period,
                                 const char *name)
{
        size_t lo = 0, hi = n;
        while (lo < hi) {
                size_t mid = (lo + hi) / 2;
                StorePeriodRow *r = &rows[index[mid]];
                int c = r->period != period ? (r->period < period ? -1 : 1) : strcmp(r->name, name);
                if (c == 0)
                        return r;
                if (c < 0)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return NULL;
}

static int read_periods(Store *s, int64_t from_us, int64_t to_us, StoreBucket bucket,
                        const char *unit, StorePeriodRows *ret)
{
        StorePeriodRows p = {.from_us = from_us, .to_us = to_us, .bucket = bucket};
        _cleanup_free_ int64_t *keys = NULL;
        _cleanup_free_ size_t *index = NULL;
        size_t rows_cap = 0;
        sqlite3_stmt *q = NULL;
        StoreSpan spans[STORE_PLAN_MAX];
        size_t n_spans;
        int r, rc;

        r = store_plan(s, from_us, to_us, bucket_tier(bucket), spans, &n_spans, NULL, NULL);
        if (r < 0)
                return r;
        r = periods_query(s, &q,
                          "COALESCE(SUM(t.host_uj), 0), COALESCE(SUM(t.valid_us), 0), "
                          "MAX(t.estimated), MIN(t.first_us), MAX(t.last_us)",
                          STORE_REL_HOST, "GROUP BY b ORDER BY b", &p, unit, spans, n_spans);
        if (r < 0)
                return r;
        while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
                StorePeriod *np = realloc(p.periods, (p.n_periods + 1) * sizeof(*np));
                int64_t *nk = realloc(keys, (p.n_periods + 1) * sizeof(*nk));
                if (np)
                        p.periods = np;
                if (nk)
                        keys = nk;
                if (!np || !nk) {
                        r = -ENOMEM;
                        goto out;
                }
                int64_t start = sqlite3_column_int64(q, 0);
                keys[p.n_periods] = start;
                StorePeriod *per = &p.periods[p.n_periods++];
                int64_t end = store_bucket_next(bucket, start);
                if (bucket == STORE_BUCKET_ALL || start < from_us)
                        start = from_us;
                if (end > to_us)
                        end = to_us;
                *per = (StorePeriod){
                        .start_us = start,
                        .end_us = end,
                        .host_uj = (uint64_t)sqlite3_column_int64(q, 1),
                        .seconds = (double)sqlite3_column_int64(q, 2) / 1e6,
                        .estimated = sqlite3_column_int(q, 3) != 0,
                        .first_us = sqlite3_column_int64(q, 4),
                        .last_us = sqlite3_column_int64(q, 5),
                };
        }
        if (rc != SQLITE_DONE) {
                r = store_fail(s, rc, "reading ticks by period");
                goto out;
        }
        sqlite3_finalize(q);
        q = NULL;

        r = periods_query(s, &q,
                          "u.name, u.pseudo, SUM(t.active_uj), SUM(t.idle_uj), SUM(t.cpu_ns), "
                          "MAX(t.estimated), SUM(CASE WHEN t.estimated THEN t.active_uj + "
                          "t.idle_uj ELSE 0 END)",
                          STORE_REL_UNITS,
                          "JOIN units u ON u.id = t.unit_id WHERE " UNIT_FILTER " GROUP BY b, u.id",
                          &p, unit, spans, n_spans);
        if (r < 0)
                goto out;
        while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
                size_t i = period_index(&p, keys, sqlite3_column_int64(q, 0));
                if (i >= p.n_periods)
                        continue; /* cannot happen: the same ticks */
                StorePeriodRow *row = rows_add(&p, &rows_cap);
                if (!row) {
                        r = -ENOMEM;
                        goto out;
                }
                row->period = i;
                store_copy_text(row->name, sizeof(row->name), q, 1);
                row->pseudo = sqlite3_column_int(q, 2) != 0;
                row->active_uj = (uint64_t)sqlite3_column_int64(q, 3);
                row->idle_uj = (uint64_t)sqlite3_column_int64(q, 4);
                row->cpu_ns = (uint64_t)sqlite3_column_int64(q, 5);
                row->estimated = sqlite3_column_int(q, 6) != 0;
                row->estimated_uj = (uint64_t)sqlite3_column_int64(q, 7);
        }
        if (rc != SQLITE_DONE) {
                r = store_fail(s, rc, "reading units by period");
                goto out;
        }
        sqlite3_finalize(q);
        q = NULL;

        r = periods_query(s, &q, "u.name, u.pseudo, SUM(t.count)", STORE_REL_REQUESTS,
                          "JOIN units u ON u.id = t.unit_id "
                          "JOIN request_metrics m ON m.id = t.metric_id "
                          "WHERE " UNIT_FILTER " AND m.name = ?4 GROUP BY b, u.id",
                          &p, unit, spans, n_spans);
        if (r < 0)
                goto out;
        sqlite3_bind_text(q, 4, STORE_REQUESTS_METRIC, -1, SQLITE_STATIC);
        size_t n_energy_rows = p.n_rows;
        index = malloc((n_energy_rows ? n_energy_rows : 1) * sizeof(*index));
        if (!index) {
                r = -ENOMEM;
                goto out;
        }
        for (size_t k = 0; k < n_energy_rows; k++)
                index[k] = k;
        qsort_r(index, n_energy_rows, sizeof(*index), row_key_cmp, p.rows);
        while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
                size_t i = period_index(&p, keys, sqlite3_column_int64(q, 0));
                if (i >= p.n_periods)
                        continue;
                const char *name = (const char *)sqlite3_column_text(q, 1);
                StorePeriodRow *row = rows_find(p.rows, index, n_energy_rows, i, name ? name : "");
                if (!row) {
                        row = rows_add(&p, &rows_cap);
                        if (!row) {
                                r = -ENOMEM;
                                goto out;
                        }
                        row->period = i;
                        store_copy_text(row->name, sizeof(row->name), q, 1);
                        row->pseudo = sqlite3_column_int(q, 2) != 0;
                        row->estimated = p.periods[i].estimated;
                }
                row->has_requests = true;
                row->requests = sqlite3_column_double(q, 3);
        }
        if (rc != SQLITE_DONE) {
                r = store_fail(s, rc, "reading requests by period");
                goto out;
        }
        sqlite3_finalize(q);
        q = NULL;
        if (p.n_rows > 1)
                qsort(p.rows, p.n_rows, sizeof(*p.rows), row_cmp);

        {
                char relation[12288], sql[12800];
                r = store_spans_sql(STORE_REL_HOST, spans, n_spans, 1, relation, sizeof(relation));
                if (r < 0)
                        goto out;
                snprintf(sql, sizeof(sql),
                         "SELECT r.hostname FROM %s t JOIN runs r ON r.id = t.run_id "
                         "ORDER BY t.ts_us DESC LIMIT 1",
                         relation);
                r = store_query(s, &q, sql);
                if (r < 0)
                        goto out;
                store_spans_bind(q, spans, n_spans, 1);
        }
        rc = sqlite3_step(q);
        if (rc == SQLITE_ROW)
                store_copy_text(p.hostname, sizeof(p.hostname), q, 0);
        else if (rc != SQLITE_DONE) {
                r = store_fail(s, rc, "reading runs");
                goto out;
        }
        *ret = p;
        p.periods = NULL;
        p.rows = NULL;
        r = 0;
out:
        sqlite3_finalize(q);
        free(p.periods);
        free(p.rows);
        return r;
}

int store_read_periods(Store *s, int64_t from_us, int64_t to_us, StoreBucket bucket,
                       const char *unit, StorePeriodRows *ret)
{
        int r = store_snapshot_begin(s);
        if (r < 0)
                return r;
        r = read_periods(s, from_us, to_us, bucket, unit, ret);
        store_snapshot_end(s);
        return r;
}

void store_periods_done(StorePeriodRows *p)
{
        free(p->periods);
        free(p->rows);
        p->periods = NULL;
        p->rows = NULL;
        p->n_periods = p->n_rows = 0;
}

/* ---- meta ---- */

static int meta_exec(Store *s, const char *sql, const char *a, const char *b, const char *what)
{
        sqlite3_stmt *q = NULL;
        int r = store_query(s, &q, sql);
        if (r < 0)
                return r;
        sqlite3_bind_text(q, 1, a, -1, SQLITE_STATIC);
        if (b)
                sqlite3_bind_text(q, 2, b, -1, SQLITE_STATIC);
        int rc = sqlite3_step(q);
        r = rc == SQLITE_DONE ? 0 : store_fail(s, rc, what);
        sqlite3_finalize(q);
        return r;
}

int store_write_meta(Store *s, const char *key, const char *value)
{
        assert(s->mode == STORE_READ_WRITE);
        return meta_exec(s, "INSERT OR REPLACE INTO meta (key, value) VALUES (?1, ?2)", key, value,
                         "writing settings");
}

int store_delete_meta_prefix(Store *s, const char *prefix)
{
        assert(s->mode == STORE_READ_WRITE);
        return meta_exec(s, "DELETE FROM meta WHERE substr(key, 1, length(?1)) = ?1", prefix, NULL,
                         "clearing settings");
}

int store_read_meta(Store *s, const char *key, char *buf, size_t size)
{
        sqlite3_stmt *q = NULL;
        int r = store_query(s, &q, "SELECT value FROM meta WHERE key = ?1");
        if (r < 0)
                return r;
        sqlite3_bind_text(q, 1, key, -1, SQLITE_STATIC);
        int rc = sqlite3_step(q);
        if (rc == SQLITE_ROW) {
                store_copy_text(buf, size, q, 0);
                r = 0;
        } else if (rc == SQLITE_DONE) {
                r = -ENOENT;
        } else {
                r = store_fail(s, rc, "reading settings");
        }
        sqlite3_finalize(q);
        return r;
}

/* ---- grid intensity series ---- */

int store_import_intensity(Store *s, const StoreIntensityPoint *points, size_t n,
                           const char *source)
{
        assert(s->mode == STORE_READ_WRITE);
        for (size_t i = 0; i < n; i++) {
                if (points[i].end_us <= points[i].start_us || !isfinite(points[i].g_per_kwh) ||
                    points[i].g_per_kwh < 0 ||
                    (i > 0 && points[i].start_us < points[i - 1].end_us)) {
                        snprintf(
                                s->error, sizeof(s->error),
                                "intensity point %zu is empty, negative or overlaps the one before",
                                i + 1);
                        return -EINVAL;
                }
        }
        sqlite3_stmt *del = NULL, *ins = NULL;
        int r = store_exec(s, "BEGIN IMMEDIATE");
        if (r < 0)
                return r;
        r = store_query(s, &del,
                        "DELETE FROM intensity_series WHERE start_us < ?2 AND end_us > ?1");
        if (r >= 0)
                r = store_query(s, &ins,
                                "INSERT INTO intensity_series (start_us, end_us, g_per_kwh, "
                                "source) VALUES (?1, ?2, ?3, ?4)");
        for (size_t i = 0; i < n && r >= 0; i++) {
                sqlite3_bind_int64(del, 1, points[i].start_us);
                sqlite3_bind_int64(del, 2, points[i].end_us);
                int rc = sqlite3_step(del);
                sqlite3_reset(del);
                if (rc != SQLITE_DONE) {
                        r = store_fail(s, rc, "replacing intensity points");
                        break;
                }
                sqlite3_bind_int64(ins, 1, points[i].start_us);
                sqlite3_bind_int64(ins, 2, points[i].end_us);
                sqlite3_bind_double(ins, 3, points[i].g_per_kwh);
                sqlite3_bind_text(ins, 4, source ? source : "", -1, SQLITE_STATIC);
                rc = sqlite3_step(ins);
                sqlite3_reset(ins);
                if (rc != SQLITE_DONE)
                        r = store_fail(s, rc, "importing intensity points");
        }
        sqlite3_finalize(del);
        sqlite3_finalize(ins);
        if (r >= 0)
                r = store_exec(s, "COMMIT");
        if (r < 0)
                (void)sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
        return r < 0 ? r : 0;
}

int store_read_intensity(Store *s, int64_t from_us, int64_t to_us, StoreIntensityPoint **ret,
                         size_t *ret_n)
{
        sqlite3_stmt *q = NULL;
        StoreIntensityPoint *v = NULL;
        size_t n = 0;
        if (store_schema_version(s) < 3) { /* written by a joulesd older than the series */
                *ret = NULL;
                *ret_n = 0;
                return 0;
        }
        int r = store_query(s, &q,
                            "SELECT start_us, end_us, g_per_kwh FROM intensity_series "
                            "WHERE start_us < ?2 AND end_us > ?1 ORDER BY start_us");
        if (r < 0)
                return r;
        sqlite3_bind_int64(q, 1, from_us);
        sqlite3_bind_int64(q, 2, to_us);
        int rc;
        while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
                StoreIntensityPoint *nv = realloc(v, (n + 1) * sizeof(*nv));
                if (!nv) {
                        r = -ENOMEM;
                        goto out;
                }
                v = nv;
                v[n++] = (StoreIntensityPoint){
                        .start_us = sqlite3_column_int64(q, 0),
                        .end_us = sqlite3_column_int64(q, 1),
                        .g_per_kwh = sqlite3_column_double(q, 2),
                };
        }
        if (rc != SQLITE_DONE) {
                r = store_fail(s, rc, "reading the intensity series");
                goto out;
        }
        *ret = TAKE_PTR(v);
        *ret_n = n;
        r = 0;
out:
        sqlite3_finalize(q);
        free(v);
        return r;
}

int store_intensity_summary(Store *s, size_t *ret_n, int64_t *ret_first_us, int64_t *ret_last_us,
                            char *source, size_t source_size)
{
        sqlite3_stmt *q = NULL;
        if (store_schema_version(s) < 3) {
                *ret_n = 0;
                *ret_first_us = *ret_last_us = 0;
                if (source && source_size)
                        source[0] = '\0';
                return 0;
        }
        int r = store_query(
                s, &q,
                "SELECT COUNT(*), COALESCE(MIN(start_us), 0), COALESCE(MAX(end_us), 0), "
                "(SELECT source FROM intensity_series ORDER BY start_us DESC LIMIT 1) "
                "FROM intensity_series");
        if (r < 0)
                return r;
        int rc = sqlite3_step(q);
        if (rc == SQLITE_ROW) {
                *ret_n = (size_t)sqlite3_column_int64(q, 0);
                *ret_first_us = sqlite3_column_int64(q, 1);
                *ret_last_us = sqlite3_column_int64(q, 2);
                if (source)
                        store_copy_text(source, source_size, q, 3);
                r = 0;
        } else {
                r = store_fail(s, rc, "reading the intensity series");
        }
        sqlite3_finalize(q);
        return r;
}
