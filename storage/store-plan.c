/* The planner: a query range split into spans, each read from the coarsest tier that holds it
 * exactly (store-tiers.c), and those spans turned into one SQL relation for the readers
 * (store-read.c, store-report.c, store-totals.c, store-services.c). */

#include "storage/store.h"
#include "storage/store-internal.h"

#include <assert.h>
#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>

/* Where retention deleted the raw ticks at p, the finest tier still holding p gives the edge
 * (rounded down for a range's start, up for its end). */
static int64_t plan_edge(const StoreTierState st[STORE_N_STATE], int64_t p, bool up,
                         StoreTier coarsest)
{
        for (size_t k = STORE_TIER_RAW; k <= (size_t)coarsest; k++) {
                if (st[k].has_kept && p < st[k].kept_us)
                        continue;
                if (k == STORE_TIER_RAW)
                        return p;
                if (!st[k].has_done)
                        continue;
                int64_t w = store_tier_width(k);
                return up ? store_ceil_to(p, w) : store_floor_to(p, w);
        }
        return p;
}

static void plan_emit(StoreSpan *v, size_t *n, StoreTier k, int64_t lo, int64_t hi)
{
        assert(*n < STORE_PLAN_MAX);
        if (*n > 0 && v[*n - 1].tier == k && v[*n - 1].hi == lo) {
                v[*n - 1].hi = hi;
                return;
        }
        v[(*n)++] = (StoreSpan){.tier = k, .lo = lo, .hi = hi};
}

static void plan_cover(const StoreTierState st[STORE_N_STATE], int64_t lo, int64_t hi, StoreTier k,
                       StoreSpan *v, size_t *n)
{
        if (lo >= hi)
                return;
        if (k == STORE_TIER_RAW) {
                plan_emit(v, n, k, lo, hi);
                return;
        }
        int64_t w = store_tier_width(k);
        int64_t a = store_ceil_to(lo, w), b = store_floor_to(hi, w);
        if (st[k].has_kept && a < st[k].kept_us)
                a = st[k].kept_us;
        if (!st[k].has_done || st[k].done_us < b)
                b = st[k].has_done ? st[k].done_us : a;
        if (a >= b) {
                plan_cover(st, lo, hi, k - 1, v, n);
                return;
        }
        plan_cover(st, lo, a, k - 1, v, n);
        plan_emit(v, n, k, a, b);
        plan_cover(st, b, hi, k - 1, v, n);
}

int store_plan(Store *s, int64_t from_us, int64_t to_us, StoreTier coarsest, StoreSpan *ret,
               size_t *ret_n, int64_t *ret_from, int64_t *ret_to)
{
        StoreTierState st[STORE_N_STATE];
        int r = store_tiers_load(s, st);
        if (r < 0)
                return r;
        int64_t from = plan_edge(st, from_us, false, coarsest);
        int64_t to = plan_edge(st, to_us, true, coarsest);
        size_t n = 0;
        plan_cover(st, from, to, coarsest, ret, &n);
        r = store_unpack_spans(s, ret, n);
        if (r < 0)
                return r;
        *ret_n = n;
        if (ret_from)
                *ret_from = from;
        if (ret_to)
                *ret_to = to;
        return 0;
}

int store_snapshot_begin(Store *s)
{
        return store_exec(s, "SAVEPOINT store_snapshot");
}

void store_snapshot_end(Store *s)
{
        /* a snapshot left open would freeze what a long-lived reader (joules top) sees */
        if (sqlite3_exec(s->db, "RELEASE store_snapshot", NULL, NULL, NULL) != SQLITE_OK)
                (void)sqlite3_exec(s->db, "ROLLBACK TO store_snapshot; RELEASE store_snapshot",
                                   NULL, NULL, NULL);
}

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
int store_spans_sql(StoreRelation rel, const StoreSpan *spans, size_t n, int first_param, char *buf,
                    size_t size)
{
        static const char *const raw[] = {
                [STORE_REL_HOST] = "SELECT ts_us, host_uj, CASE WHEN host_uj IS NOT NULL THEN "
                                   "dt_us END AS valid_us, estimated, ts_us - dt_us AS first_us, "
                                   "ts_us AS last_us, run_id, 1 AS ticks, (host_uj IS NULL AND "
                                   "dropped > 0) AS dropped FROM ticks WHERE ts_us > ?%1$d AND "
                                   "ts_us <= ?%2$d",
                [STORE_REL_UNITS] = "SELECT t.ts_us, e.unit_id, e.active_uj, e.idle_uj, e.cpu_ns, "
                                    "t.estimated FROM ticks t JOIN unit_energy e ON e.tick_id = "
                                    "t.id WHERE t.ts_us > ?%1$d AND t.ts_us <= ?%2$d UNION ALL "
                                    "SELECT t.ts_us, e.unit_id, e.active_uj, e.idle_uj, e.cpu_ns, "
                                    "t.estimated FROM ticks t JOIN temp.packed_units e ON "
                                    "e.tick_id = t.id WHERE t.ts_us > ?%1$d AND t.ts_us <= ?%2$d",
                [STORE_REL_REQUESTS] = "SELECT t.ts_us, r.unit_id, r.metric_id, r.count FROM "
                                       "ticks t JOIN unit_requests r ON r.tick_id = t.id WHERE "
                                       "t.ts_us > ?%1$d AND t.ts_us <= ?%2$d UNION ALL "
                                       "SELECT t.ts_us, r.unit_id, r.metric_id, r.count FROM "
                                       "ticks t JOIN temp.packed_requests r ON r.tick_id = t.id "
                                       "WHERE t.ts_us > ?%1$d AND t.ts_us <= ?%2$d",
                [STORE_REL_DOMAINS] = "SELECT t.ts_us, d.domain_id, d.energy_uj, CASE WHEN "
                                      "d.energy_uj IS NOT NULL THEN t.dt_us END AS valid_us, "
                                      "(d.energy_uj IS NULL AND d.drop_reason IS NOT 'baseline') "
                                      "AS dropped FROM ticks t JOIN domain_energy d ON d.tick_id "
                                      "= t.id WHERE t.ts_us > ?%1$d AND t.ts_us <= ?%2$d UNION "
                                      "ALL SELECT t.ts_us, d.domain_id, d.energy_uj, CASE WHEN "
                                      "d.energy_uj IS NOT NULL THEN t.dt_us END AS valid_us, "
                                      "(d.energy_uj IS NULL AND d.drop_reason IS NOT 'baseline') "
                                      "AS dropped FROM ticks t JOIN temp.packed_domains d ON "
                                      "d.tick_id = t.id WHERE t.ts_us > ?%1$d AND t.ts_us <= ?%2$d",
                [STORE_REL_INGEST] = "SELECT t.ts_us, i.accepted, i.rejected, i.malformed FROM "
                                     "ticks t JOIN ingest_stats i ON i.tick_id = t.id WHERE "
                                     "t.ts_us > ?%1$d AND t.ts_us <= ?%2$d",
        };
        static const char *const tier[] = {
                [STORE_REL_HOST] = "SELECT start_us + %lld AS ts_us, host_uj, valid_us, "
                                   "estimated, first_us, last_us, run_id, ticks, dropped FROM "
                                   "%s_host WHERE start_us >= ?%d AND start_us < ?%d",
                [STORE_REL_UNITS] = "SELECT start_us + %lld AS ts_us, unit_id, active_uj, idle_uj, "
                                    "cpu_ns, estimated FROM %s_units WHERE start_us >= ?%d AND "
                                    "start_us < ?%d",
                [STORE_REL_REQUESTS] = "SELECT start_us + %lld AS ts_us, unit_id, metric_id, count "
                                       "FROM %s_requests WHERE start_us >= ?%d AND start_us < ?%d",
                [STORE_REL_DOMAINS] = "SELECT start_us + %lld AS ts_us, domain_id, energy_uj, "
                                      "valid_us, dropped FROM %s_domains WHERE start_us >= ?%d "
                                      "AND start_us < ?%d",
                [STORE_REL_INGEST] = "SELECT start_us + %lld AS ts_us, accepted, rejected, "
                                     "malformed FROM %s_host WHERE start_us >= ?%d AND "
                                     "start_us < ?%d",
        };
        size_t o = 0;
        int w = snprintf(buf, size, "(");
        for (size_t i = 0; i < n && w >= 0 && (size_t)w < size - o; i++) {
                o += (size_t)w;
                if (i > 0) {
                        w = snprintf(buf + o, size - o, " UNION ALL ");
                        if (w < 0 || (size_t)w >= size - o)
                                break;
                        o += (size_t)w;
                }
                int p = first_param + 2 * (int)i;
                if (spans[i].tier == STORE_TIER_RAW)
                        w = snprintf(buf + o, size - o, raw[rel], p, p + 1);
                else
                        w = snprintf(buf + o, size - o, tier[rel],
                                     (long long)store_tier_width(spans[i].tier),
                                     store_tier_table(spans[i].tier), p, p + 1);
        }
        if (w < 0 || (size_t)w >= size - o)
                return -ENAMETOOLONG;
        o += (size_t)w;
        /* no span: an empty relation with the same columns */
        if (n == 0) {
                w = snprintf(buf + o, size - o, raw[rel], first_param, first_param + 1);
                if (w < 0 || (size_t)w >= size - o)
                        return -ENAMETOOLONG;
                o += (size_t)w;
                w = snprintf(buf + o, size - o, " AND 0");
                if (w < 0 || (size_t)w >= size - o)
                        return -ENAMETOOLONG;
                o += (size_t)w;
        }
        if (o + 2 > size)
                return -ENAMETOOLONG;
        buf[o++] = ')';
        buf[o] = '\0';
        return 0;
}

#pragma GCC diagnostic pop

void store_spans_bind(sqlite3_stmt *q, const StoreSpan *spans, size_t n, int first_param)
{
        for (size_t i = 0; i < n; i++) {
                sqlite3_bind_int64(q, first_param + 2 * (int)i, spans[i].lo);
                sqlite3_bind_int64(q, first_param + 2 * (int)i + 1, spans[i].hi);
        }
        if (n == 0) {
                sqlite3_bind_int64(q, first_param, 0);
                sqlite3_bind_int64(q, first_param + 1, 0);
        }
}
