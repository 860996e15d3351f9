/* Running totals: every tick's energy, CPU time, requests and perf event counts per unit added up
 * since the history began,
 * in the total_* tables (migration 7). They are written in the transaction that writes the
 * ticks (store_commit), so a reader sees them and the ticks change together, and they are never
 * touched by retention or rollups, so they never go down. The exporter's counters come from
 * here: a scrape reads one row per unit, domain and request metric, not the history.
 *
 * Since migration 10 the tables hold the ticks up to total_host.through_tick, and the ticks after
 * it (a minute at most while joulesd runs) are summed by the reader in the same read
 * transaction, from their packed tick_units rows (schema 13, added up in C) and from plain rows: a
 * commit then writes its ticks and nothing else, and the totals are folded in once a minute
 * (store_totals_flush). Rollups pack and retention deletes only ticks older than that, after a
 * flush.
 *
 * The migration fills them from the history already stored, through the tiers (the same sums
 * `joules status` makes), and so does a reader of a file from before the migration, into temp
 * tables of the same names. */

#include "storage/store.h"
#include "storage/store-internal.h"

#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"

static int totals_step(Store *s, int which)
{
        sqlite3_stmt *q = s->stmt[which];
        int rc = sqlite3_step(q);
        sqlite3_reset(q);
        return rc == SQLITE_DONE ? 0 : store_fail(s, rc, "adding to the running totals");
}

/* Ids summed in an array indexed by id; a file with larger ones is summed in SQL. */
#define TOTALS_ID_DIRECT (1 << 20)
#define TOTALS_COLS_MAX  3

/* One id's sums over the tail. */
typedef struct TotalsSum {
        int64_t v[TOTALS_COLS_MAX];
        bool seen;
} TotalsSum;

/* A GROUP BY id upsert of the totals (ST_TOTAL_UNIT, ST_TOTAL_DOMAIN) made in C: SQLite sorts
 * every row for the GROUP BY (about 2,500 instructions a row; at 100 services 6 in 7 of a
 * flush), while unit and domain ids are small rowids that index an array in one pass. select
 * yields the id, then cols values whose NULLs add nothing (as COALESCE(SUM(x), 0) does); upsert
 * adds each id's sums (?2...) the same way as the SQL one. 1 (nothing written) when an id or a
 * sum is out of the array's or int64's range, or a value is not an integer: the SQL statement
 * then does it, with SQLite's own result or error. */
static int totals_flush_by_id(Store *s, const char *select, const char *upsert, int cols)
{
        sqlite3_stmt *q = NULL, *up = NULL;
        TotalsSum *sums = NULL;
        size_t n = 0;
        int rc, r = store_cached(s, select, &q);
        if (r >= 0)
                r = store_cached(s, upsert, &up);
        if (r < 0)
                goto out;
        while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
                int64_t id = sqlite3_column_int64(q, 0);
                if (sqlite3_column_type(q, 0) != SQLITE_INTEGER || id < 0 ||
                    id >= TOTALS_ID_DIRECT) {
                        r = 1;
                        goto out;
                }
                if ((size_t)id >= n) {
                        size_t nn = (size_t)id + 64;
                        TotalsSum *ns = realloc(sums, nn * sizeof(*ns));
                        if (!ns) {
                                r = -ENOMEM;
                                goto out;
                        }
                        memset(ns + n, 0, (nn - n) * sizeof(*ns));
                        sums = ns;
                        n = nn;
                }
                TotalsSum *u = &sums[id];
                for (int c = 0; c < cols; c++) {
                        int type = sqlite3_column_type(q, 1 + c);
                        if (type == SQLITE_NULL)
                                continue;
                        if (type != SQLITE_INTEGER ||
                            __builtin_add_overflow(u->v[c], sqlite3_column_int64(q, 1 + c),
                                                   &u->v[c])) {
                                r = 1;
                                goto out;
                        }
                }
                u->seen = true;
        }
        if (rc != SQLITE_DONE) {
                r = store_fail(s, rc, "adding to the running totals");
                goto out;
        }
        store_release(q);
        q = NULL;
        for (size_t id = 0; id < n && r >= 0; id++) {
                if (!sums[id].seen)
                        continue;
                sqlite3_bind_int64(up, 1, (int64_t)id);
                for (int c = 0; c < cols; c++)
                        sqlite3_bind_int64(up, 2 + c, sums[id].v[c]);
                rc = sqlite3_step(up);
                sqlite3_reset(up);
                if (rc != SQLITE_DONE)
                        r = store_fail(s, rc, "adding to the running totals");
        }
out:
        store_release(q);
        store_release(up);
        free(sums);
        return r;
}

#define TOTAL_UNITS_ADD                                                                            \
        "ON CONFLICT (unit_id) DO UPDATE SET active_uj = active_uj + excluded.active_uj, "         \
        "idle_uj = idle_uj + excluded.idle_uj, cpu_ns = cpu_ns + excluded.cpu_ns"

static int totals_flush_units(Store *s)
{
        int r = totals_flush_by_id(s,
                                   "SELECT unit_id, active_uj, idle_uj, cpu_ns FROM unit_energy "
                                   "WHERE tick_id > (SELECT through_tick FROM total_host)",
                                   "INSERT INTO total_units (unit_id, active_uj, idle_uj, cpu_ns) "
                                   "VALUES (?1, ?2, ?3, ?4) " TOTAL_UNITS_ADD,
                                   3);
        return r == 1 ? totals_step(s, ST_TOTAL_UNIT) : r;
}

static int totals_flush_domains(Store *s)
{
        int r = totals_flush_by_id(
                s,
                "SELECT domain_id, energy_uj, energy_uj IS NULL AND drop_reason IS NOT "
                "'baseline' FROM domain_energy WHERE tick_id > (SELECT through_tick FROM "
                "total_host)",
                "INSERT INTO total_domains (domain_id, energy_uj, dropped) VALUES (?1, ?2, ?3) "
                "ON CONFLICT (domain_id) DO UPDATE SET energy_uj = energy_uj + "
                "excluded.energy_uj, dropped = dropped + excluded.dropped",
                2);
        return r == 1 ? totals_step(s, ST_TOTAL_DOMAIN) : r;
}

/* ---- the tail's packed ticks (store-packed.c) ---- */

/* Since schema 13 the tail's ticks are packed as they are committed: their units, domains and
 * requests are summed from the BLOBs. */
#define TAIL_PACKED "t.id > (SELECT through_tick FROM total_host)"

static int tail_add(Store *s, void *userdata, int64_t tick, int64_t ts_us, const PackedTickBlobs *b)
{
        (void)ts_us;
        return packed_sums_add(s, userdata, tick, b);
}

/* Adds up the tail's packed ticks and writes them with sql (packed_sums_write's parameters). */
static int tail_write(Store *s, const char *const sql[3])
{
        PackedSums p = {0};
        int r = packed_sums_each_tick(s, TAIL_PACKED, 0, 0, tail_add, &p);
        if (r >= 0)
                r = packed_sums_write(s, &p, 0, sql);
        packed_sums_free(&p);
        return r;
}

int store_totals_flush(Store *s)
{
        /* The rows first: they find the tail by through_tick, which the host's update moves. */
        int r = totals_flush_units(s);
        if (r >= 0)
                r = totals_flush_domains(s);
        if (r >= 0)
                r = totals_step(s, ST_TOTAL_REQUESTS);
        if (r >= 0)
                r = tail_write(s, (const char *const[3]){
                                          "INSERT INTO total_units (unit_id, active_uj, idle_uj, "
                                          "cpu_ns) VALUES (?2, ?3, ?4, ?5) " TOTAL_UNITS_ADD,
                                          "INSERT INTO total_domains (domain_id, energy_uj, "
                                          "dropped) VALUES (?2, ?3, ?5) ON CONFLICT (domain_id) "
                                          "DO UPDATE SET energy_uj = energy_uj + "
                                          "excluded.energy_uj, dropped = dropped + "
                                          "excluded.dropped",
                                          "INSERT INTO total_requests (unit_id, metric_id, count) "
                                          "VALUES (?2, ?3, ?4) ON CONFLICT (unit_id, metric_id) DO "
                                          "UPDATE SET count = count + excluded.count"});
        if (r >= 0)
                r = totals_step(s, ST_TOTAL_COUNTER);
        if (r >= 0)
                r = totals_step(s, ST_TOTAL_HOST);
        return r;
}

/* ---- filling from the history ---- */

/* Runs "<head> <relation of every span> <tail>" with the spans bound from ?1. */
static int fill_one(Store *s, const char *head, StoreRelation rel, const char *tail,
                    const StoreSpan *spans, size_t n)
{
        char relation[12288], sql[13312];
        int r = store_spans_sql(rel, spans, n, 1, relation, sizeof(relation));
        if (r < 0)
                return r;
        int l = snprintf(sql, sizeof(sql), "%s %s %s", head, relation, tail);
        if (l < 0 || (size_t)l >= sizeof(sql))
                return -ENAMETOOLONG;
        sqlite3_stmt *q = NULL;
        r = store_query(s, &q, sql);
        if (r < 0)
                return r;
        store_spans_bind(q, spans, n, 1);
        int rc = sqlite3_step(q);
        sqlite3_finalize(q);
        return rc == SQLITE_DONE ? 0 : store_fail(s, rc, "summing the history");
}

int store_totals_fill(Store *s, const char *schema)
{
        StoreSpan spans[STORE_PLAN_MAX];
        size_t n;
        char head[512];
        int v = store_schema_version(s);
        if (v < 0)
                return v;
        /* All of the history: days, hours and minutes where the raw ticks are gone. */
        int r = store_plan(s, 0, INT64_MAX / 4, STORE_TIER_DAY, spans, &n, NULL, NULL);
        if (r < 0)
                return r;
        snprintf(
                head, sizeof(head),
                "UPDATE %s.total_host SET (ticks, host_uj, valid_us, dropped, estimated, first_us, "
                "last_us) = (SELECT COALESCE(SUM(ticks), 0), COALESCE(SUM(host_uj), 0), "
                "COALESCE(SUM(valid_us), 0), COALESCE(SUM(dropped), 0), "
                "COALESCE(MAX(estimated), 0), MIN(first_us), MAX(last_us) FROM",
                schema);
        r = fill_one(s, head, STORE_REL_HOST, ") WHERE id = 1", spans, n);
        if (r < 0)
                return r;
        snprintf(head, sizeof(head),
                 "INSERT INTO %s.total_units (unit_id, active_uj, idle_uj, cpu_ns) "
                 "SELECT unit_id, SUM(active_uj), SUM(idle_uj), SUM(cpu_ns) FROM",
                 schema);
        r = fill_one(s, head, STORE_REL_UNITS, "GROUP BY unit_id", spans, n);
        if (r < 0)
                return r;
        snprintf(head, sizeof(head),
                 "INSERT INTO %s.total_domains (domain_id, energy_uj, dropped) "
                 "SELECT domain_id, COALESCE(SUM(energy_uj), 0), COALESCE(SUM(dropped), 0) FROM",
                 schema);
        r = fill_one(s, head, STORE_REL_DOMAINS, "GROUP BY domain_id", spans, n);
        if (r < 0 || v < 2) /* schema 1 counted no requests */
                return r;
        snprintf(head, sizeof(head),
                 "INSERT INTO %s.total_requests (unit_id, metric_id, count) "
                 "SELECT unit_id, metric_id, SUM(count) FROM",
                 schema);
        return fill_one(s, head, STORE_REL_REQUESTS, "GROUP BY unit_id, metric_id", spans, n);
}

/* An older joulesd's file, read-only: the same tables in temp, summed from the history. Temp
 * tables shadow main ones of the same name, so the queries below read them unchanged. */
static int totals_temp(Store *s)
{
        int r = store_exec(s, "CREATE TEMP TABLE IF NOT EXISTS total_host (id INTEGER PRIMARY KEY, "
                              "ticks INTEGER, host_uj INTEGER, valid_us INTEGER, dropped INTEGER, "
                              "estimated INTEGER, first_us INTEGER, last_us INTEGER);"
                              "CREATE TEMP TABLE IF NOT EXISTS total_units (unit_id INTEGER "
                              "PRIMARY KEY, active_uj INTEGER, idle_uj INTEGER, cpu_ns INTEGER);"
                              "CREATE TEMP TABLE IF NOT EXISTS total_domains (domain_id INTEGER "
                              "PRIMARY KEY, energy_uj INTEGER, dropped INTEGER);"
                              "CREATE TEMP TABLE IF NOT EXISTS total_requests (unit_id INTEGER, "
                              "metric_id INTEGER, count REAL, PRIMARY KEY (unit_id, metric_id));"
                              "DELETE FROM temp.total_host; DELETE FROM temp.total_units;"
                              "DELETE FROM temp.total_domains; DELETE FROM temp.total_requests;"
                              "INSERT INTO temp.total_host VALUES (1, 0, 0, 0, 0, 0, NULL, NULL)");
        return r < 0 ? r : store_totals_fill(s, "temp");
}

/* ---- reading ---- */

/* The tail's packed ticks summed into temp tables for totals_read's unions (empty for a file
 * from before schema 13). */
static int totals_packed_tail(Store *s, int version)
{
        int r = store_exec(s, "CREATE TEMP TABLE IF NOT EXISTS tail_units (unit_id INTEGER, "
                              "active_uj INTEGER, idle_uj INTEGER, cpu_ns INTEGER);"
                              "CREATE TEMP TABLE IF NOT EXISTS tail_domains (domain_id INTEGER, "
                              "energy_uj INTEGER, dropped INTEGER);"
                              "CREATE TEMP TABLE IF NOT EXISTS tail_requests (unit_id INTEGER, "
                              "metric_id INTEGER, count REAL);"
                              "DELETE FROM temp.tail_units; DELETE FROM temp.tail_domains;"
                              "DELETE FROM temp.tail_requests");
        if (r < 0 || version < STORE_SCHEMA_PACK_AT_COMMIT)
                return r;
        return tail_write(
                s, (const char *const[3]){"INSERT INTO temp.tail_units VALUES (?2, ?3, ?4, ?5)",
                                          "INSERT INTO temp.tail_domains VALUES (?2, ?3, ?5)",
                                          "INSERT INTO temp.tail_requests VALUES (?2, ?3, ?4)"});
}

static int totals_read(Store *s, int version, StoreTotals *t)
{
        sqlite3_stmt *q = NULL;
        size_t cap;
        /* From schema 10 on, each table's rows plus the ticks after through_tick (see the
         * top of this file); before, the tables alone. */
        bool tail = version >= STORE_SCHEMA_TOTALS_TAIL;
        int rc, r = store_query(
                        s, &q,
                        tail ? "SELECT h.ticks + COUNT(t.id), h.host_uj + COALESCE(SUM(t.host_uj), "
                               "0), h.valid_us + COALESCE(SUM(CASE WHEN t.host_uj IS NOT NULL "
                               "THEN t.dt_us END), 0), h.dropped + COALESCE(SUM(t.host_uj IS "
                               "NULL AND t.dropped > 0), 0), MAX(h.estimated, "
                               "COALESCE(MAX(t.estimated), 0)), COALESCE(MIN(COALESCE("
                               "h.first_us, MIN(t.ts_us - t.dt_us)), MIN(t.ts_us - t.dt_us)), "
                               "h.first_us), COALESCE(MAX(COALESCE(h.last_us, MAX(t.ts_us)), "
                               "MAX(t.ts_us)), h.last_us) FROM total_host h LEFT JOIN (SELECT id, "
                               "ts_us, dt_us, host_uj, estimated, dropped FROM ticks WHERE id > "
                               "(SELECT through_tick FROM total_host) UNION ALL SELECT id, ts_us, "
                               "dt_us, host_uj, estimated, dropped FROM temp.j_ticks) t ON t.id "
                               "> h.through_tick WHERE h.id = 1"
                             : "SELECT ticks, host_uj, valid_us, dropped, estimated, first_us, "
                               "last_us FROM total_host WHERE id = 1");
        if (r < 0)
                return r;
        rc = sqlite3_step(q);
        if (rc != SQLITE_ROW) {
                r = rc == SQLITE_DONE ? -EBADMSG : store_fail(s, rc, "reading total_host");
                goto out;
        }
        t->ticks = (uint64_t)sqlite3_column_int64(q, 0);
        t->host_uj = (uint64_t)sqlite3_column_int64(q, 1);
        t->valid_us = (uint64_t)sqlite3_column_int64(q, 2);
        t->dropped = (uint64_t)sqlite3_column_int64(q, 3);
        t->estimated = sqlite3_column_int(q, 4) != 0;
        t->empty = sqlite3_column_type(q, 5) == SQLITE_NULL;
        t->first_us = sqlite3_column_int64(q, 5);
        t->last_us = sqlite3_column_int64(q, 6);
        sqlite3_finalize(q);
        q = NULL;

        r = store_query(s, &q,
                        "SELECT source, estimated, hostname, weight FROM runs "
                        "ORDER BY id DESC LIMIT 1");
        if (r < 0)
                goto out;
        if ((rc = sqlite3_step(q)) == SQLITE_ROW) {
                store_copy_text(t->source, sizeof(t->source), q, 0);
                t->run_estimated = sqlite3_column_int(q, 1) != 0;
                store_copy_text(t->hostname, sizeof(t->hostname), q, 2);
                store_copy_text(t->weight, sizeof(t->weight), q, 3);
        } else if (rc != SQLITE_DONE) {
                r = store_fail(s, rc, "reading runs");
                goto out;
        }
        sqlite3_finalize(q);
        q = NULL;

        r = store_query(s, &q,
                        tail ? "SELECT u.name, u.pseudo, SUM(t.active_uj), SUM(t.idle_uj), "
                               "SUM(t.cpu_ns) FROM (SELECT unit_id, active_uj, idle_uj, cpu_ns "
                               "FROM total_units UNION ALL SELECT unit_id, active_uj, idle_uj, "
                               "cpu_ns FROM unit_energy WHERE tick_id > (SELECT through_tick "
                               "FROM total_host) UNION ALL SELECT unit_id, active_uj, idle_uj, "
                               "cpu_ns FROM temp.tail_units UNION ALL SELECT unit_id, active_uj, "
                               "idle_uj, cpu_ns FROM temp.j_unit_energy) t JOIN units u ON u.id = "
                               "t.unit_id "
                               "GROUP BY "
                               "t.unit_id ORDER BY u.name"
                             : "SELECT u.name, u.pseudo, t.active_uj, t.idle_uj, t.cpu_ns "
                               "FROM total_units t JOIN units u ON u.id = t.unit_id ORDER BY "
                               "u.name");
        if (r < 0)
                goto out;
        cap = 0;
        while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
                if (array_grow((void **)&t->units, &cap, t->n_units + 1, sizeof(*t->units)) < 0) {
                        r = -ENOMEM;
                        goto out;
                }
                StoreTotalUnit *u = &t->units[t->n_units++];
                store_copy_text(u->name, sizeof(u->name), q, 0);
                u->pseudo = sqlite3_column_int(q, 1) != 0;
                u->active_uj = (uint64_t)sqlite3_column_int64(q, 2);
                u->idle_uj = (uint64_t)sqlite3_column_int64(q, 3);
                u->cpu_ns = (uint64_t)sqlite3_column_int64(q, 4);
        }
        if (rc != SQLITE_DONE) {
                r = store_fail(s, rc, "reading total_units");
                goto out;
        }
        sqlite3_finalize(q);
        q = NULL;

        /* Every domain, also one that has not completed an interval yet (0 J). */
        r = store_query(
                s, &q,
                tail ? "SELECT d.name, d.zone, d.source, d.kind, d.estimated, d.in_host, "
                       "COALESCE(t.energy_uj, 0), COALESCE(t.dropped, 0) FROM domains d "
                       "LEFT JOIN (SELECT domain_id, SUM(energy_uj) AS energy_uj, "
                       "SUM(dropped) AS dropped FROM (SELECT domain_id, energy_uj, "
                       "dropped FROM total_domains UNION ALL SELECT domain_id, energy_uj, "
                       "(energy_uj IS NULL AND drop_reason IS NOT 'baseline') FROM "
                       "domain_energy WHERE tick_id > (SELECT through_tick FROM "
                       "total_host) UNION ALL SELECT domain_id, energy_uj, dropped FROM "
                       "temp.tail_domains UNION ALL SELECT domain_id, energy_uj, (energy_uj IS "
                       "NULL AND drop_reason IS NOT 'baseline') FROM "
                       "temp.j_domain_energy) GROUP BY domain_id) t ON t.domain_id = d.id ORDER BY "
                       "d.id"
                     : "SELECT d.name, d.zone, d.source, d.kind, d.estimated, d.in_host, "
                       "COALESCE(t.energy_uj, 0), COALESCE(t.dropped, 0) FROM domains d "
                       "LEFT JOIN total_domains t ON t.domain_id = d.id ORDER BY d.id");
        if (r < 0)
                goto out;
        cap = 0;
        while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
                if (array_grow((void **)&t->domains, &cap, t->n_domains + 1, sizeof(*t->domains)) <
                    0) {
                        r = -ENOMEM;
                        goto out;
                }
                StoreTotalDomain *d = &t->domains[t->n_domains++];
                store_copy_text(d->name, sizeof(d->name), q, 0);
                store_copy_text(d->zone, sizeof(d->zone), q, 1);
                store_copy_text(d->source, sizeof(d->source), q, 2);
                store_copy_text(d->kind, sizeof(d->kind), q, 3);
                d->estimated = sqlite3_column_int(q, 4) != 0;
                d->in_host = sqlite3_column_int(q, 5) != 0;
                d->energy_uj = (uint64_t)sqlite3_column_int64(q, 6);
                d->dropped = (uint64_t)sqlite3_column_int64(q, 7);
        }
        if (rc != SQLITE_DONE) {
                r = store_fail(s, rc, "reading total_domains");
                goto out;
        }
        sqlite3_finalize(q);
        q = NULL;

        if (version < 2) { /* no requests before schema 2 */
                r = 0;
                goto out;
        }
        r = store_query(
                s, &q,
                tail ? "SELECT u.name, m.name, SUM(t.count) FROM (SELECT unit_id, "
                       "metric_id, count FROM total_requests UNION ALL SELECT unit_id, "
                       "metric_id, count FROM unit_requests WHERE tick_id > (SELECT "
                       "through_tick FROM total_host) UNION ALL SELECT unit_id, metric_id, "
                       "count FROM temp.tail_requests UNION ALL SELECT unit_id, "
                       "metric_id, count FROM temp.j_unit_requests) t JOIN units u ON u.id = "
                       "t.unit_id JOIN request_metrics m ON m.id = t.metric_id GROUP BY "
                       "t.unit_id, t.metric_id ORDER BY u.name, m.name"
                     : "SELECT u.name, m.name, t.count FROM total_requests t "
                       "JOIN units u ON u.id = t.unit_id JOIN request_metrics m "
                       "ON m.id = t.metric_id ORDER BY u.name, m.name");
        if (r < 0)
                goto out;
        cap = 0;
        while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
                if (array_grow((void **)&t->requests, &cap, t->n_requests + 1,
                               sizeof(*t->requests)) < 0) {
                        r = -ENOMEM;
                        goto out;
                }
                StoreTotalRequests *rq = &t->requests[t->n_requests++];
                store_copy_text(rq->unit, sizeof(rq->unit), q, 0);
                store_copy_text(rq->metric, sizeof(rq->metric), q, 1);
                rq->count = sqlite3_column_double(q, 2);
        }
        if (rc != SQLITE_DONE) {
                r = store_fail(s, rc, "reading total_requests");
                goto out;
        }
        sqlite3_finalize(q);
        q = NULL;

        /* Perf counts: the running totals, or for a file from before them (read-only) the
         * per-tick counts it still holds. */
        r = store_query(
                s, &q,
                tail ? "SELECT u.name, e.name, SUM(t.value) FROM (SELECT unit_id, "
                       "event_id, value FROM total_counters UNION ALL SELECT unit_id, "
                       "event_id, value FROM unit_counters WHERE value != 0 AND tick_id > (SELECT "
                       "through_tick FROM total_host) UNION ALL SELECT unit_id, event_id, value "
                       "FROM temp.j_unit_counters WHERE value != 0) t JOIN units u ON u.id = "
                       "t.unit_id JOIN events e ON e.id = t.event_id GROUP BY t.unit_id, "
                       "t.event_id ORDER BY u.name, e.name"
                : store_has_table(s, "total_counters")
                        ? "SELECT u.name, e.name, t.value FROM total_counters t "
                          "JOIN units u ON u.id = t.unit_id JOIN events e "
                          "ON e.id = t.event_id ORDER BY u.name, e.name"
                        : "SELECT u.name, e.name, CAST(TOTAL(c.value) AS INTEGER) "
                          "FROM unit_counters c JOIN units u ON u.id = c.unit_id "
                          "JOIN events e ON e.id = c.event_id "
                          "GROUP BY c.unit_id, c.event_id ORDER BY u.name, e.name");
        if (r < 0)
                goto out;
        cap = 0;
        while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
                if (array_grow((void **)&t->events, &cap, t->n_events + 1, sizeof(*t->events)) <
                    0) {
                        r = -ENOMEM;
                        goto out;
                }
                StoreTotalEvents *ev = &t->events[t->n_events++];
                store_copy_text(ev->unit, sizeof(ev->unit), q, 0);
                store_copy_text(ev->event, sizeof(ev->event), q, 1);
                sqlite3_int64 v = sqlite3_column_int64(q, 2);
                ev->value = v > 0 ? (uint64_t)v : 0;
        }
        r = rc == SQLITE_DONE ? 0 : store_fail(s, rc, "reading total_counters");
out:
        sqlite3_finalize(q);
        return r;
}

int store_read_totals(Store *s, StoreTotals *ret)
{
        StoreTotals t = {0};
        /* The ticks joulesd has appended to its journal but not committed yet (it commits every
         * few seconds), read before the snapshot below: a tick committed in between is in the
         * snapshot and counted from there, once. So the totals move with every tick, and never
         * back. */
        PendingTick *journal;
        int r = store_journal_read_blocks(s, &journal);
        if (r < 0)
                return r;
        /* One read transaction: the totals, the units and the domains from the same commit, so
         * the units always add up to the host. */
        r = store_exec(s, "BEGIN");
        if (r < 0) {
                store_journal_blocks_free(journal);
                return r;
        }
        int v = store_schema_version(s);
        if (v < 0)
                r = v;
        else if (v < STORE_SCHEMA_TOTALS)
                r = totals_temp(s);
        else if (v >= STORE_SCHEMA_TOTALS_TAIL)
                r = store_journal_temp(s, journal);
        if (r >= 0 && v >= STORE_SCHEMA_TOTALS_TAIL)
                r = totals_packed_tail(s, v);
        store_journal_blocks_free(journal);
        if (r >= 0)
                r = totals_read(s, v, &t);
        (void)sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL);
        if (r < 0) {
                store_totals_done(&t);
                return r;
        }
        *ret = t;
        return 0;
}

void store_totals_done(StoreTotals *t)
{
        free(t->units);
        free(t->domains);
        free(t->requests);
        free(t->events);
        t->units = NULL;
        t->domains = NULL;
        t->requests = NULL;
        t->events = NULL;
        t->n_units = t->n_domains = t->n_requests = t->n_events = 0;
}
