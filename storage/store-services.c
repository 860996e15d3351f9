/* Services over a range: each unit's energy, CPU time and requests between two instants, summed
 * through the tiers (store-plan.c) and sorted by energy. */

#include "storage/store.h"
#include "storage/store-internal.h"

#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"

typedef struct UnitSum {
        int64_t active_uj, idle_uj, cpu_ns;
        bool energy, estimated, has_requests;
        double requests;
} UnitSum;

typedef struct ServicesAcc {
        UnitSum *units; /* by unit id */
        size_t n;
        int64_t host_uj, valid_us, first_us, last_us;
        bool any, estimated;
} ServicesAcc;

static UnitSum *acc_unit(ServicesAcc *a, int64_t id)
{
        if (id < 0 || id > 10000000)
                return NULL;
        if ((size_t)id >= a->n) {
                size_t n = (size_t)id + 64;
                UnitSum *u = realloc(a->units, n * sizeof(*u));
                if (!u)
                        return NULL;
                memset(u + a->n, 0, (n - a->n) * sizeof(*u));
                a->units = u;
                a->n = n;
        }
        return &a->units[id];
}

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
static int span_query(Store *s, sqlite3_stmt **q, const StoreSpan *sp, const char *raw_sql,
                      const char *tier_sql)
{
        char sql[1024];
        if (sp->tier == STORE_TIER_RAW)
                snprintf(sql, sizeof(sql), "%s", raw_sql);
        else
                snprintf(sql, sizeof(sql), tier_sql, store_tier_table(sp->tier));
        int r = store_query(s, q, sql);
        if (r < 0)
                return r;
        sqlite3_bind_int64(*q, 1, sp->lo);
        sqlite3_bind_int64(*q, 2, sp->hi);
        return 0;
}
#pragma GCC diagnostic pop

static int services_span(Store *s, const StoreSpan *sp, bool requests, ServicesAcc *a)
{
        sqlite3_stmt *q = NULL;
        int rc, r = span_query(s, &q, sp,
                               "SELECT COALESCE(SUM(host_uj), 0), COALESCE(SUM(CASE WHEN host_uj "
                               "IS NOT NULL THEN "
                               "dt_us END), 0), MIN(ts_us - dt_us), MAX(ts_us), "
                               "COALESCE(MAX(estimated), 0) "
                               "FROM ticks WHERE ts_us > ?1 AND ts_us <= ?2",
                               "SELECT COALESCE(SUM(host_uj), 0), COALESCE(SUM(valid_us), 0), "
                               "MIN(first_us), "
                               "MAX(last_us), COALESCE(MAX(estimated), 0) FROM %s_host "
                               "WHERE start_us >= ?1 AND start_us < ?2");
        if (r < 0)
                return r;
        rc = sqlite3_step(q);
        if (rc != SQLITE_ROW) {
                r = store_fail(s, rc, "reading ticks");
                goto out;
        }
        a->host_uj += sqlite3_column_int64(q, 0);
        a->valid_us += sqlite3_column_int64(q, 1);
        if (sqlite3_column_type(q, 2) != SQLITE_NULL) {
                int64_t f = sqlite3_column_int64(q, 2), l = sqlite3_column_int64(q, 3);
                a->first_us = a->any ? store_min64(a->first_us, f) : f;
                a->last_us = a->any && a->last_us > l ? a->last_us : l;
                a->any = true;
        }
        a->estimated |= sqlite3_column_int(q, 4) != 0;
        sqlite3_finalize(q);
        q = NULL;

        r = span_query(s, &q, sp,
                       "SELECT unit_id, SUM(active_uj), SUM(idle_uj), SUM(cpu_ns), MAX(estimated) "
                       "FROM (SELECT e.unit_id, e.active_uj, e.idle_uj, e.cpu_ns, t.estimated "
                       "FROM ticks t JOIN unit_energy e ON e.tick_id = t.id "
                       "WHERE t.ts_us > ?1 AND t.ts_us <= ?2 UNION ALL "
                       "SELECT e.unit_id, e.active_uj, e.idle_uj, e.cpu_ns, t.estimated "
                       "FROM ticks t JOIN temp.packed_units e ON e.tick_id = t.id "
                       "WHERE t.ts_us > ?1 AND t.ts_us <= ?2) GROUP BY unit_id",
                       "SELECT unit_id, SUM(active_uj), SUM(idle_uj), SUM(cpu_ns), MAX(estimated) "
                       "FROM %s_units WHERE start_us >= ?1 AND start_us < ?2 GROUP BY unit_id");
        if (r < 0)
                return r;
        while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
                UnitSum *u = acc_unit(a, sqlite3_column_int64(q, 0));
                if (!u) {
                        r = -ENOMEM;
                        goto out;
                }
                u->active_uj += sqlite3_column_int64(q, 1);
                u->idle_uj += sqlite3_column_int64(q, 2);
                u->cpu_ns += sqlite3_column_int64(q, 3);
                u->estimated |= sqlite3_column_int(q, 4) != 0;
                u->energy = true;
        }
        if (rc != SQLITE_DONE) {
                r = store_fail(s, rc, "reading units");
                goto out;
        }
        sqlite3_finalize(q);
        q = NULL;
        if (!requests)
                return 0;

        r = span_query(s, &q, sp,
                       "SELECT r.unit_id, SUM(r.count) FROM (SELECT r.unit_id, r.metric_id, "
                       "r.count FROM ticks t JOIN unit_requests r ON r.tick_id = t.id "
                       "WHERE t.ts_us > ?1 AND t.ts_us <= ?2 UNION ALL "
                       "SELECT r.unit_id, r.metric_id, r.count FROM ticks t "
                       "JOIN temp.packed_requests r ON r.tick_id = t.id "
                       "WHERE t.ts_us > ?1 AND t.ts_us <= ?2) r "
                       "JOIN request_metrics m ON m.id = r.metric_id "
                       "WHERE m.name = ?3 GROUP BY r.unit_id",
                       "SELECT r.unit_id, SUM(r.count) FROM %s_requests r "
                       "JOIN request_metrics m ON m.id = r.metric_id "
                       "WHERE r.start_us >= ?1 AND r.start_us < ?2 AND m.name = ?3 "
                       "GROUP BY r.unit_id");
        if (r < 0)
                return r;
        sqlite3_bind_text(q, 3, STORE_REQUESTS_METRIC, -1, SQLITE_STATIC);
        while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
                UnitSum *u = acc_unit(a, sqlite3_column_int64(q, 0));
                if (!u) {
                        r = -ENOMEM;
                        goto out;
                }
                u->has_requests = true;
                u->requests += sqlite3_column_double(q, 1);
        }
        r = rc == SQLITE_DONE ? 0 : store_fail(s, rc, "reading requests");
out:
        sqlite3_finalize(q);
        return r;
}

static int unit_total_cmp(const void *x, const void *y)
{
        const StoreUnitTotal *a = x, *b = y;
        double ea = a->active_j + a->idle_j, eb = b->active_j + b->idle_j;
        if (ea != eb)
                return ea > eb ? -1 : 1;
        return strcmp(a->name, b->name);
}

static int read_services(Store *s, int64_t from_us, int64_t to_us, StoreServices *ret)
{
        StoreServices sv = {.from_us = from_us, .to_us = to_us};
        ServicesAcc a = {0};
        StoreSpan spans[STORE_PLAN_MAX];
        size_t n_spans;
        sqlite3_stmt *q = NULL;
        int r = store_plan(s, from_us, to_us, STORE_TIER_DAY, spans, &n_spans, NULL, NULL);
        if (r < 0)
                return r;
        int v = store_schema_version(s);
        if (v < 0)
                return v;
        for (size_t i = 0; i < n_spans && r >= 0; i++)
                r = services_span(s, &spans[i], v >= STORE_SCHEMA_REQUESTS, &a);
        if (r < 0)
                goto out;
        sv.host_energy_j = (double)a.host_uj / UJ_PER_J;
        sv.seconds = (double)a.valid_us / 1e6;
        sv.first_us = a.first_us;
        sv.last_us = a.last_us;
        sv.estimated = a.estimated;

        r = store_query(s, &q, "SELECT id, name, pseudo FROM units ORDER BY id");
        if (r < 0)
                goto out;
        int rc;
        while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
                int64_t id = sqlite3_column_int64(q, 0);
                if (id < 0 || (size_t)id >= a.n)
                        continue;
                const UnitSum *u = &a.units[id];
                if (!u->energy && !u->has_requests)
                        continue;
                StoreUnitTotal *nu = realloc(sv.units, (sv.n_units + 1) * sizeof(*nu));
                if (!nu) {
                        r = -ENOMEM;
                        goto out;
                }
                sv.units = nu;
                StoreUnitTotal *t = &sv.units[sv.n_units++];
                *t = (StoreUnitTotal){
                        .pseudo = sqlite3_column_int(q, 2) != 0,
                        .active_j = (double)u->active_uj / UJ_PER_J,
                        .idle_j = (double)u->idle_uj / UJ_PER_J,
                        .cpu_s = (double)u->cpu_ns / 1e9,
                        .estimated = u->energy ? u->estimated : sv.estimated,
                        .has_requests = u->has_requests,
                        .requests = u->requests,
                };
                store_copy_text(t->name, sizeof(t->name), q, 1);
        }
        if (rc != SQLITE_DONE) {
                r = store_fail(s, rc, "reading units");
                goto out;
        }
        if (sv.n_units > 1)
                qsort(sv.units, sv.n_units, sizeof(*sv.units), unit_total_cmp);
        *ret = sv;
        sv.units = NULL;
        r = 0;
out:
        sqlite3_finalize(q);
        free(sv.units);
        free(a.units);
        return r;
}

int store_read_services(Store *s, int64_t from_us, int64_t to_us, StoreServices *ret)
{
        int r = store_snapshot_begin(s);
        if (r < 0)
                return r;
        r = read_services(s, from_us, to_us, ret);
        store_snapshot_end(s);
        return r;
}

void store_services_done(StoreServices *sv)
{
        free(sv->units);
        sv->units = NULL;
        sv->n_units = 0;
}
