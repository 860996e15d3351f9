#include "storage/store.h"
#include "storage/store-internal.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"

/* The read side for the CLI: status, processes and the ticks around a time. The per-unit
 * totals over a range are in store-services.c; both read through the tiers with store-plan.c. */

/* Prepares "<head> <relation of the spans> <tail>", the spans' bounds bound from ?first. */
static int status_query(Store *s, sqlite3_stmt **q, const char *head, StoreRelation rel,
                        const char *tail, const StoreSpan *spans, size_t n, int first)
{
        char relation[12288], sql[13312];
        int r = store_spans_sql(rel, spans, n, first, relation, sizeof(relation));
        if (r < 0)
                return r;
        int l = snprintf(sql, sizeof(sql), "%s %s %s", head, relation, tail);
        if (l < 0 || (size_t)l >= sizeof(sql))
                return -ENAMETOOLONG;
        r = store_query(s, q, sql);
        if (r >= 0)
                store_spans_bind(*q, spans, n, first);
        return r;
}

/* A REAL column, NaN for NULL. */
static double store_column_maybe(sqlite3_stmt *q, int col)
{
        return sqlite3_column_type(q, col) == SQLITE_NULL ? NAN : sqlite3_column_double(q, col);
}

static int read_band(Store *s, int64_t from_us, int64_t to_us, StoreBandPart **ret, size_t *ret_n)
{
        StoreSpan spans[STORE_PLAN_MAX];
        size_t n_spans;
        sqlite3_stmt *q = NULL;
        StoreBandPart *parts = NULL;
        size_t n = 0, cap = 0;

        *ret = NULL;
        *ret_n = 0;
        int r = store_plan(s, from_us, to_us, STORE_TIER_DAY, spans, &n_spans, NULL, NULL);
        if (r < 0)
                return r;
        /* The energy of each run over the range, with the run's band. A tier row keeps the latest
         * run of its bucket (MAX(run_id)) and is estimated when any of its ticks was, so a minute
         * (or hour, day) in which the source changed counts whole as its latest run: the rollups
         * keep no finer split. */
        char tail[256];
        snprintf(tail, sizeof(tail),
                 "h LEFT JOIN runs r ON r.id = h.run_id WHERE h.host_uj IS NOT NULL GROUP BY "
                 "h.run_id, h.estimated");
        r = status_query(s, &q,
                         store_schema_version(s) >= 8
                                 ? "SELECT h.estimated, MAX(r.band_pct), SUM(h.host_uj) FROM"
                                 : "SELECT h.estimated, NULL, SUM(h.host_uj) FROM",
                         STORE_REL_HOST, tail, spans, n_spans, 1);
        if (r < 0)
                return r;
        int rc;
        while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
                if (n == cap) {
                        size_t c = cap ? 2 * cap : 8;
                        StoreBandPart *p = realloc(parts, c * sizeof(*p));
                        if (!p) {
                                r = -ENOMEM;
                                goto out;
                        }
                        parts = p;
                        cap = c;
                }
                parts[n++] = (StoreBandPart){
                        .estimated = sqlite3_column_int(q, 0) != 0,
                        .band_pct = store_column_maybe(q, 1),
                        .energy_j = (double)sqlite3_column_int64(q, 2) / UJ_PER_J,
                };
        }
        if (rc != SQLITE_DONE) {
                r = store_fail(s, rc, "reading the runs' bands");
                goto out;
        }
        *ret = parts;
        *ret_n = n;
        parts = NULL;
        r = 0;
out:
        free(parts);
        sqlite3_finalize(q);
        return r;
}

int store_read_band(Store *s, int64_t from_us, int64_t to_us, StoreBandPart **ret, size_t *ret_n)
{
        int r = store_snapshot_begin(s);
        if (r < 0)
                return r;
        r = read_band(s, from_us, to_us, ret, ret_n);
        store_snapshot_end(s);
        return r;
}

static int read_status(Store *s, StoreStatus *ret)
{
        StoreStatus st = {0};
        sqlite3_stmt *q = NULL;
        StoreSpan spans[STORE_PLAN_MAX];
        size_t n_spans;
        int r, rc;

        /* All of the history: days, hours and minutes where the raw ticks are gone. */
        r = store_plan(s, 0, INT64_MAX / 4, STORE_TIER_DAY, spans, &n_spans, NULL, NULL);
        if (r < 0)
                return r;
        r = status_query(s, &q,
                         "SELECT COALESCE(SUM(ticks), 0), MIN(first_us), MAX(last_us), "
                         "COALESCE(SUM(host_uj), 0), MAX(estimated), COALESCE(SUM(dropped), 0), "
                         "COALESCE(SUM(valid_us), 0) FROM",
                         STORE_REL_HOST, "", spans, n_spans, 1);
        if (r < 0)
                return r;
        rc = sqlite3_step(q);
        if (rc != SQLITE_ROW) {
                r = store_fail(s, rc, "reading ticks");
                goto out;
        }
        st.samples = (uint64_t)sqlite3_column_int64(q, 0);
        st.empty = st.samples == 0;
        st.first_us = sqlite3_column_int64(q, 1);
        st.last_us = sqlite3_column_int64(q, 2);
        st.energy_j = (double)sqlite3_column_int64(q, 3) / UJ_PER_J;
        st.estimated = sqlite3_column_int(q, 4) != 0;
        st.dropped = (uint64_t)sqlite3_column_int64(q, 5);
        st.measured_us = (uint64_t)sqlite3_column_int64(q, 6);
        sqlite3_finalize(q);
        q = NULL;

        /* Each start of joulesd; one that never recorded its stop ended without flushing (a crash
         * or a kill), and the time until the next start is a gap no interval spans. */
        r = store_query(s, &q,
                        "SELECT COUNT(*), COALESCE(SUM(stopped_us IS NULL AND id < (SELECT "
                        "MAX(id) FROM runs)), 0) FROM runs");
        if (r < 0)
                goto out;
        if (sqlite3_step(q) == SQLITE_ROW) {
                st.runs = (uint64_t)sqlite3_column_int64(q, 0);
                st.unclean_stops = (uint64_t)sqlite3_column_int64(q, 1);
        }
        sqlite3_finalize(q);
        q = NULL;

        /* Power over the last minute stored: energy of valid ticks over their own duration. */
        r = store_query(s, &q,
                        "SELECT COALESCE(SUM(host_uj), 0), COALESCE(SUM(dt_us), 0) FROM ticks "
                        "WHERE host_uj IS NOT NULL AND ts_us > ?1 - 60000000");
        if (r < 0)
                goto out;
        sqlite3_bind_int64(q, 1, st.last_us);
        if (sqlite3_step(q) == SQLITE_ROW && sqlite3_column_int64(q, 1) > 0)
                st.power_w =
                        (double)sqlite3_column_int64(q, 0) / (double)sqlite3_column_int64(q, 1);
        sqlite3_finalize(q);
        q = NULL;

        r = store_query(s, &q,
                        "SELECT source, hostname, interval_us, weight, weight_reason FROM runs "
                        "ORDER BY id DESC LIMIT 1");
        if (r < 0)
                goto out;
        if (sqlite3_step(q) == SQLITE_ROW) {
                store_copy_text(st.source, sizeof(st.source), q, 0);
                store_copy_text(st.hostname, sizeof(st.hostname), q, 1);
                st.interval_us = (uint64_t)sqlite3_column_int64(q, 2);
                store_copy_text(st.weight, sizeof(st.weight), q, 3);
                store_copy_text(st.weight_reason, sizeof(st.weight_reason), q, 4);
        }
        sqlite3_finalize(q);
        q = NULL;

        st.model_band_pct = st.dram_w = st.dram_band_pct = st.band_pct = NAN;
        if (store_schema_version(s) >= 8) {
                r = store_query(s, &q,
                                "SELECT model_method, model_source, model_cpu, model_curve, "
                                "model_band_pct, dram_w, dram_source, dram_band_pct, band_pct "
                                "FROM runs ORDER BY id DESC LIMIT 1");
                if (r < 0)
                        goto out;
                if (sqlite3_step(q) == SQLITE_ROW) {
                        store_copy_text(st.model_method, sizeof(st.model_method), q, 0);
                        store_copy_text(st.model_source, sizeof(st.model_source), q, 1);
                        store_copy_text(st.model_cpu, sizeof(st.model_cpu), q, 2);
                        store_copy_text(st.model_curve, sizeof(st.model_curve), q, 3);
                        st.model_band_pct = store_column_maybe(q, 4);
                        st.dram_w = store_column_maybe(q, 5);
                        store_copy_text(st.dram_source, sizeof(st.dram_source), q, 6);
                        st.dram_band_pct = store_column_maybe(q, 7);
                        st.band_pct = store_column_maybe(q, 8);
                }
                sqlite3_finalize(q);
                q = NULL;
        }

        /* the last minute is always raw ticks (tier rows are older than the hot window) */
        r = status_query(s, &q,
                         "SELECT d.name, d.zone, d.source, d.kind, d.estimated, d.in_host, "
                         "  COALESCE(SUM(e.energy_uj), 0), "
                         "  COALESCE(SUM(CASE WHEN e.ts_us > ?1 - 60000000 AND e.valid_us IS NOT "
                         "    NULL THEN e.energy_uj END), 0), "
                         "  COALESCE(SUM(CASE WHEN e.ts_us > ?1 - 60000000 THEN e.valid_us END), "
                         "    0), COALESCE(SUM(e.dropped), 0) "
                         "FROM domains d JOIN",
                         STORE_REL_DOMAINS,
                         "e ON e.domain_id = d.id GROUP BY d.id ORDER BY d.in_host DESC, d.name",
                         spans, n_spans, 2);
        if (r < 0)
                goto out;
        sqlite3_bind_int64(q, 1, st.last_us);
        while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
                StoreDomainStatus *n = realloc(st.domains, (st.n_domains + 1) * sizeof(*n));
                if (!n) {
                        r = -ENOMEM;
                        goto out;
                }
                st.domains = n;
                StoreDomainStatus *d = &st.domains[st.n_domains++];
                *d = (StoreDomainStatus){0};
                store_copy_text(d->name, sizeof(d->name), q, 0);
                store_copy_text(d->zone, sizeof(d->zone), q, 1);
                store_copy_text(d->source, sizeof(d->source), q, 2);
                store_copy_text(d->kind, sizeof(d->kind), q, 3);
                d->estimated = sqlite3_column_int(q, 4);
                d->in_host = sqlite3_column_int(q, 5);
                d->energy_j = (double)sqlite3_column_int64(q, 6) / UJ_PER_J;
                int64_t dt = sqlite3_column_int64(q, 8);
                d->power_w = dt > 0 ? (double)sqlite3_column_int64(q, 7) / (double)dt : 0;
                d->dropped = (uint64_t)sqlite3_column_int64(q, 9);
        }
        if (rc != SQLITE_DONE) {
                r = store_fail(s, rc, "reading domains");
                goto out;
        }
        sqlite3_finalize(q);
        q = NULL;

        /* An older daemon's file (read-only, schema 1) has no ingest_stats yet. */
        if (store_schema_version(s) >= 2)
                r = status_query(s, &q,
                                 "SELECT COALESCE(SUM(accepted), 0), COALESCE(SUM(rejected), 0), "
                                 "COALESCE(SUM(malformed), 0) FROM",
                                 STORE_REL_INGEST, "", spans, n_spans, 1);
        else
                r = store_query(s, &q, "SELECT 0, 0, 0");
        if (r < 0)
                goto out;
        if (sqlite3_step(q) == SQLITE_ROW) {
                st.ingest.accepted = (uint64_t)sqlite3_column_int64(q, 0);
                st.ingest.rejected = (uint64_t)sqlite3_column_int64(q, 1);
                st.ingest.malformed = (uint64_t)sqlite3_column_int64(q, 2);
        }
        *ret = st;
        st.domains = NULL;
        r = 0;
out:
        sqlite3_finalize(q);
        free(st.domains);
        return r;
}

int store_read_status(Store *s, StoreStatus *ret)
{
        int r = store_snapshot_begin(s);
        if (r < 0)
                return r;
        r = read_status(s, ret);
        store_snapshot_end(s);
        return r;
}

void store_status_done(StoreStatus *st)
{
        free(st->domains);
        st->domains = NULL;
        st->n_domains = 0;
}

static int store_read_ts(Store *s, const char *sql, int64_t arg, int64_t *ret)
{
        sqlite3_stmt *q = NULL;
        int r = store_query(s, &q, sql);
        if (r < 0)
                return r;
        sqlite3_bind_int64(q, 1, arg);
        int rc = sqlite3_step(q);
        if (rc == SQLITE_ROW && sqlite3_column_type(q, 0) != SQLITE_NULL) {
                *ret = sqlite3_column_int64(q, 0);
                r = 0;
        } else if (rc == SQLITE_ROW || rc == SQLITE_DONE) {
                r = -ENODATA;
        } else {
                r = store_fail(s, rc, "reading ticks");
        }
        sqlite3_finalize(q);
        return r;
}

/* The journal's tick (see store_journal_tick_times) nearest ts_us: the first at or after it
 * (after), or the last at or before it; -ENODATA: none. Read before the history is, so a tick
 * committed in between is found there. */
static int journal_nearest(Store *s, int64_t ts_us, bool after, int64_t *ret)
{
        int64_t *v;
        size_t n;
        int r = store_journal_tick_times(s, &v, &n);
        if (r < 0)
                return r;
        r = -ENODATA;
        for (size_t i = 0; i < n; i++)
                if ((after ? v[i] >= ts_us : v[i] <= ts_us) &&
                    (r == -ENODATA || (after ? v[i] < *ret : v[i] > *ret))) {
                        *ret = v[i];
                        r = 0;
                }
        free(v);
        return r;
}

/* The committed tick sql finds (?1: ts_us) or the journal's nearest to ts_us, whichever is nearer
 * in the direction asked; -ENODATA: neither has one. */
static int tick_nearest(Store *s, const char *sql, int64_t ts_us, bool after, int64_t *ret)
{
        int64_t v = 0, j = 0;
        int rj = journal_nearest(s, ts_us, after, &j);
        if (rj < 0 && rj != -ENODATA)
                return rj;
        int r = store_read_ts(s, sql, ts_us, &v);
        if (r < 0 && r != -ENODATA)
                return r;
        if (r == -ENODATA && rj == -ENODATA)
                return -ENODATA;
        if (r == -ENODATA || (rj == 0 && (after ? j < v : j > v)))
                v = j;
        *ret = v;
        return 0;
}

int store_read_committed_last(Store *s, int64_t *ret_ts_us)
{
        return store_read_ts(s, "SELECT MAX(ts_us) FROM ticks WHERE ?1 = ?1", 0, ret_ts_us);
}

int store_read_last_tick(Store *s, int64_t *ret_ts_us, uint64_t *ret_interval_us)
{
        int64_t ts, iv = 0;
        int r = tick_nearest(s, "SELECT MAX(ts_us) FROM ticks WHERE ts_us <= ?1", INT64_MAX, false,
                             &ts);
        if (r < 0)
                return r;
        r = store_read_ts(s, "SELECT interval_us FROM runs WHERE ?1 = ?1 ORDER BY id DESC LIMIT 1",
                          0, &iv);
        if (r < 0 && r != -ENODATA)
                return r;
        *ret_ts_us = ts;
        *ret_interval_us = (uint64_t)iv;
        return 0;
}

int store_read_tick_before(Store *s, int64_t ts_us, int64_t *ret_ts_us)
{
        int r = tick_nearest(s, "SELECT MAX(ts_us) FROM ticks WHERE ts_us <= ?1", ts_us, false,
                             ret_ts_us);
        if (r == -ENODATA) {
                *ret_ts_us = 0;
                return 0;
        }
        return r;
}

int store_read_tick_after(Store *s, int64_t ts_us, int64_t *ret_ts_us)
{
        return tick_nearest(s, "SELECT MIN(ts_us) FROM ticks WHERE ts_us >= ?1", ts_us, true,
                            ret_ts_us);
}

int store_read_unit_counter(Store *s, int64_t from_us, int64_t to_us, const char *unit,
                            const char *event, double *ret)
{
        sqlite3_stmt *q = NULL;
        int r = store_query(
                s, &q,
                "SELECT COUNT(*), TOTAL(c.value) FROM unit_counters c"
                " JOIN ticks t ON t.id = c.tick_id JOIN units u ON u.id = c.unit_id"
                " JOIN events e ON e.id = c.event_id"
                " WHERE t.ts_us > ?1 AND t.ts_us <= ?2 AND u.name = ?3 AND e.name = ?4");
        if (r < 0)
                return r;
        sqlite3_bind_int64(q, 1, from_us);
        sqlite3_bind_int64(q, 2, to_us);
        sqlite3_bind_text(q, 3, unit, -1, SQLITE_STATIC);
        sqlite3_bind_text(q, 4, event, -1, SQLITE_STATIC);
        int rc = sqlite3_step(q);
        if (rc == SQLITE_ROW && sqlite3_column_int64(q, 0) > 0) {
                /* TOTAL, a double: SUM of 64-bit counts past an int64 is an error in SQLite */
                *ret = sqlite3_column_double(q, 1);
                r = 0;
        } else if (rc == SQLITE_ROW) {
                r = -ENODATA;
        } else {
                r = store_fail(s, rc, "reading counters");
        }
        sqlite3_finalize(q);
        return r;
}

/* store_read_services() reads through the tiers: storage/store-services.c. */

static int read_processes(Store *s, int64_t from_us, int64_t to_us, size_t limit,
                          StoreProcTotal **ret, size_t *ret_n)
{
        sqlite3_stmt *q = NULL;
        StoreProcTotal *v = NULL;
        size_t n = 0;
        int r, rc;

        r = store_unpack_procs_range(s, from_us, to_us);
        if (r < 0)
                return r;
        r = store_query(s, &q,
                        "SELECT unit, pid, comm, energy, cpu FROM ("
                        "  SELECT u.name AS unit, p.pid AS pid, p.comm AS comm,"
                        "    SUM(p.active_uj + p.idle_uj) AS energy, SUM(p.cpu_ns) AS cpu,"
                        /* the name from the newest row: MAX makes it SQLite's bare column's */
                        "    MAX(p.tick_id) AS last,"
                        "    ROW_NUMBER() OVER (PARTITION BY u.id ORDER BY "
                        "      SUM(p.active_uj + p.idle_uj) DESC) AS rank"
                        "  FROM " STORE_PROCS " p JOIN ticks t ON t.id = p.tick_id"
                        "  JOIN units u ON u.id = p.unit_id"
                        "  WHERE t.ts_us > ?1 AND t.ts_us <= ?2"
                        "  GROUP BY u.id, p.pid, p.start_time)"
                        " WHERE rank <= ?3 ORDER BY unit, energy DESC");
        if (r < 0)
                return r;
        sqlite3_bind_int64(q, 1, from_us);
        sqlite3_bind_int64(q, 2, to_us);
        sqlite3_bind_int64(q, 3, (sqlite3_int64)limit);
        while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
                StoreProcTotal *nv = realloc(v, (n + 1) * sizeof(*nv));
                if (!nv) {
                        r = -ENOMEM;
                        goto out;
                }
                v = nv;
                StoreProcTotal *p = &v[n++];
                *p = (StoreProcTotal){0};
                store_copy_text(p->unit, sizeof(p->unit), q, 0);
                p->pid = sqlite3_column_int(q, 1);
                store_copy_text(p->comm, sizeof(p->comm), q, 2);
                p->energy_j = (double)sqlite3_column_int64(q, 3) / UJ_PER_J;
                p->cpu_s = (double)sqlite3_column_int64(q, 4) / 1e9;
        }
        if (rc != SQLITE_DONE) {
                r = store_fail(s, rc, "reading processes");
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

int store_read_processes(Store *s, int64_t from_us, int64_t to_us, size_t limit,
                         StoreProcTotal **ret, size_t *ret_n)
{
        /* the packed processes summed and the rows read in one snapshot */
        int r = store_snapshot_begin(s);
        if (r < 0)
                return r;
        r = read_processes(s, from_us, to_us, limit, ret, ret_n);
        store_snapshot_end(s);
        return r;
}
