/* The rollup tiers and retention, and the planner that reads each piece of a range from the
 * coarsest tier holding it exactly.
 *
 * Tiers (migration 4): minute rows are summed from the raw ticks, hour rows from minute rows, day
 * rows from hour rows. A row of width W starting at start_us holds the ticks whose end lies in
 * (start_us, start_us + W], the same (start, end] convention as every range here, so a range
 * whose ends are multiples of W is exactly a set of rows. Sums are integers (µJ, ns) and the
 * request counts are summed in the same way, so a rollup equals the raw rows it replaces.
 *
 * rollup_state records per tier how far it is built (done_us: every tick ending at or before it
 * is in the tier) and how far retention deleted it (kept_us: raw ticks ending at or before it, or
 * rows starting before it, are gone). Retention never deletes what the next tier does not hold
 * yet, so any instant is held by at least one tier. */

#include "storage/store.h"
#include "storage/store-internal.h"

#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"

#define MIN_US  (60 * (int64_t)USEC_PER_SEC)
#define HOUR_US (60 * MIN_US)
#define DAY_US  (24 * HOUR_US)

/* Work bounds per store_maintain() call. */
/* Raw ticks rolled and packed per call, at most (plus the rest of the last one's minute): a
 * catch-up after an upgrade or a long stop stalls a tick well under a second. */
#define ROLLUP_TICKS         3600
#define RAW_DELETE_BATCH     3600          /* ticks */
#define MINUTE_DELETE_SPAN   DAY_US        /* of minute rows */
#define HOUR_DELETE_SPAN     (30 * DAY_US) /* of hour rows */
#define SCHEMA_WITH_TIERS    4
#define SCHEMA_WITH_REQUESTS 2

static const struct {
        const char *name;
        int64_t width_us;
} store_tiers[_STORE_TIER_MAX] = {
        [STORE_TIER_RAW] = {"raw", 0},
        [STORE_TIER_MINUTE] = {"minute", MIN_US},
        [STORE_TIER_HOUR] = {"hour", HOUR_US},
        [STORE_TIER_DAY] = {"day", DAY_US},
};

const char *store_tier_table(StoreTier t)
{
        return t == STORE_TIER_RAW ? NULL : store_tiers[t].name;
}

static int64_t floor_to(int64_t v, int64_t w)
{
        int64_t q = v / w;
        if (v % w != 0 && v < 0)
                q--;
        return q * w;
}

static int64_t ceil_to(int64_t v, int64_t w)
{
        return -floor_to(-v, w);
}

static int64_t min64(int64_t a, int64_t b)
{
        return a < b ? a : b;
}

/* rollup_state rows: the tiers, then how far raw ticks are packed (store-pack.c). */
#define STATE_PACKED _STORE_TIER_MAX
#define N_STATE      (_STORE_TIER_MAX + 1)
static const char *const state_names[N_STATE] = {"raw", "minute", "hour", "day", "packed"};
#define SCHEMA_WITH_PACKING  5
#define SCHEMA_WITH_PACKED_R 6 /* requests packed too */

typedef struct TierState {
        bool has_done, has_kept;
        int64_t done_us, kept_us;
        int64_t tick_id; /* raw: the newest tick the minute tier has seen */
} TierState;

static int tiers_load(Store *s, TierState st[N_STATE])
{
        memset(st, 0, sizeof(TierState) * N_STATE);
        int v = store_schema_version(s);
        if (v < 0)
                return v;
        if (v < SCHEMA_WITH_TIERS)
                return 0; /* an older daemon's file, read-only: raw ticks only */
        sqlite3_stmt *q = NULL;
        int r = store_query(s, &q, "SELECT tier, done_us, kept_us, tick_id FROM rollup_state");
        if (r < 0)
                return r;
        int rc;
        while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
                const char *name = (const char *)sqlite3_column_text(q, 0);
                for (size_t k = 0; k < N_STATE; k++) {
                        if (!name || strcmp(name, state_names[k]) != 0)
                                continue;
                        st[k].has_done = sqlite3_column_type(q, 1) != SQLITE_NULL;
                        st[k].done_us = sqlite3_column_int64(q, 1);
                        st[k].has_kept = sqlite3_column_type(q, 2) != SQLITE_NULL;
                        st[k].kept_us = sqlite3_column_int64(q, 2);
                        st[k].tick_id = sqlite3_column_int64(q, 3);
                }
        }
        r = rc == SQLITE_DONE ? 0 : store_fail(s, rc, "reading rollup_state");
        sqlite3_finalize(q);
        return r;
}

static int tiers_save(Store *s, const TierState st[N_STATE])
{
        sqlite3_stmt *q = NULL;
        int r = store_query(s, &q,
                            "UPDATE rollup_state SET done_us = ?1, kept_us = ?2, tick_id = ?3 "
                            "WHERE tier = ?4");
        int v = store_schema_version(s);
        if (v < 0)
                r = v;
        for (size_t k = 0;
             k < (v >= SCHEMA_WITH_PACKING ? N_STATE : (size_t)_STORE_TIER_MAX) && r >= 0; k++) {
                if (st[k].has_done)
                        sqlite3_bind_int64(q, 1, st[k].done_us);
                else
                        sqlite3_bind_null(q, 1);
                if (st[k].has_kept)
                        sqlite3_bind_int64(q, 2, st[k].kept_us);
                else
                        sqlite3_bind_null(q, 2);
                sqlite3_bind_int64(q, 3, st[k].tick_id);
                sqlite3_bind_text(q, 4, state_names[k], -1, SQLITE_STATIC);
                int rc = sqlite3_step(q);
                sqlite3_reset(q);
                if (rc != SQLITE_DONE)
                        r = store_fail(s, rc, "writing rollup_state");
        }
        sqlite3_finalize(q);
        return r;
}

/* ---- rollups ---- */

#define HOST_COLS                                                                                  \
        "(start_us, ticks, valid_us, host_uj, estimated, dropped, first_us, last_us, run_id, "     \
        "accepted, rejected, malformed) "
#define HOST_UPSERT                                                                                \
        " ON CONFLICT (start_us) DO UPDATE SET ticks = ticks + excluded.ticks, "                   \
        "valid_us = valid_us + excluded.valid_us, host_uj = host_uj + excluded.host_uj, "          \
        "estimated = MAX(estimated, excluded.estimated), dropped = dropped + excluded.dropped, "   \
        "first_us = MIN(first_us, excluded.first_us), last_us = MAX(last_us, excluded.last_us), "  \
        "run_id = MAX(run_id, excluded.run_id), accepted = accepted + excluded.accepted, "         \
        "rejected = rejected + excluded.rejected, malformed = malformed + excluded.malformed"
#define UNITS_UPSERT                                                                               \
        " ON CONFLICT (start_us, unit_id) DO UPDATE SET "                                          \
        "active_uj = active_uj + excluded.active_uj, idle_uj = idle_uj + excluded.idle_uj, "       \
        "cpu_ns = cpu_ns + excluded.cpu_ns, estimated = MAX(estimated, excluded.estimated)"
#define DOMAINS_UPSERT                                                                             \
        " ON CONFLICT (start_us, domain_id) DO UPDATE SET "                                        \
        "energy_uj = energy_uj + excluded.energy_uj, valid_us = valid_us + excluded.valid_us, "    \
        "dropped = dropped + excluded.dropped"
#define REQUESTS_UPSERT                                                                            \
        " ON CONFLICT (start_us, unit_id, metric_id) DO UPDATE SET count = count + excluded.count"
#define RAW_BUCKET "((t.ts_us - 1) / ?3) * ?3"

/* From the raw ticks selected by the second %s (?1, ?2) into tier %s of width ?3. */
static const char *const rollup_from_raw[] = {
        "INSERT INTO %s_host " HOST_COLS "SELECT " RAW_BUCKET " AS b, COUNT(*), "
        "COALESCE(SUM(CASE WHEN t.host_uj IS NOT NULL THEN t.dt_us END), 0), "
        "COALESCE(SUM(t.host_uj), 0), MAX(t.estimated), SUM(t.host_uj IS NULL AND t.dropped > 0), "
        "MIN(t.ts_us - t.dt_us), MAX(t.ts_us), MAX(t.run_id), COALESCE(SUM(i.accepted), 0), "
        "COALESCE(SUM(i.rejected), 0), COALESCE(SUM(i.malformed), 0) "
        "FROM ticks t LEFT JOIN ingest_stats i ON i.tick_id = t.id WHERE %s GROUP BY b" HOST_UPSERT,
        "INSERT INTO %s_units (start_us, unit_id, active_uj, idle_uj, cpu_ns, estimated) "
        "SELECT " RAW_BUCKET " AS b, e.unit_id, SUM(e.active_uj), SUM(e.idle_uj), SUM(e.cpu_ns), "
        "MAX(t.estimated) FROM ticks t JOIN unit_energy e ON e.tick_id = t.id "
        "WHERE %s GROUP BY b, e.unit_id" UNITS_UPSERT,
        "INSERT INTO %s_domains (start_us, domain_id, energy_uj, valid_us, dropped) "
        "SELECT " RAW_BUCKET " AS b, d.domain_id, COALESCE(SUM(d.energy_uj), 0), "
        "COALESCE(SUM(CASE WHEN d.energy_uj IS NOT NULL THEN t.dt_us END), 0), "
        "SUM(d.energy_uj IS NULL AND d.drop_reason IS NOT 'baseline') "
        "FROM ticks t JOIN domain_energy d ON d.tick_id = t.id "
        "WHERE %s GROUP BY b, d.domain_id" DOMAINS_UPSERT,
        "INSERT INTO %s_requests (start_us, unit_id, metric_id, count) "
        "SELECT " RAW_BUCKET " AS b, r.unit_id, r.metric_id, SUM(r.count) "
        "FROM ticks t JOIN unit_requests r ON r.tick_id = t.id "
        "WHERE %s GROUP BY b, r.unit_id, r.metric_id" REQUESTS_UPSERT,
};

/* From the rows of tier %s (the second) starting in [?1, ?2) into tier %s (the first), ?3 wide. */
static const char *const rollup_from_tier[] = {
        "INSERT INTO %s_host " HOST_COLS "SELECT (start_us / ?3) * ?3 AS b, SUM(ticks), "
        "SUM(valid_us), SUM(host_uj), MAX(estimated), SUM(dropped), MIN(first_us), MAX(last_us), "
        "MAX(run_id), SUM(accepted), SUM(rejected), SUM(malformed) "
        "FROM %s_host WHERE start_us >= ?1 AND start_us < ?2 GROUP BY b" HOST_UPSERT,
        "INSERT INTO %s_units (start_us, unit_id, active_uj, idle_uj, cpu_ns, estimated) "
        "SELECT (start_us / ?3) * ?3 AS b, unit_id, SUM(active_uj), SUM(idle_uj), SUM(cpu_ns), "
        "MAX(estimated) FROM %s_units WHERE start_us >= ?1 AND start_us < ?2 "
        "GROUP BY b, unit_id" UNITS_UPSERT,
        "INSERT INTO %s_domains (start_us, domain_id, energy_uj, valid_us, dropped) "
        "SELECT (start_us / ?3) * ?3 AS b, domain_id, SUM(energy_uj), SUM(valid_us), "
        "SUM(dropped) FROM %s_domains WHERE start_us >= ?1 AND start_us < ?2 "
        "GROUP BY b, domain_id" DOMAINS_UPSERT,
        "INSERT INTO %s_requests (start_us, unit_id, metric_id, count) "
        "SELECT (start_us / ?3) * ?3 AS b, unit_id, metric_id, SUM(count) FROM %s_requests "
        "WHERE start_us >= ?1 AND start_us < ?2 GROUP BY b, unit_id, metric_id" REQUESTS_UPSERT,
};

#define TICKS_ENDING_IN "t.ts_us > ?1 AND t.ts_us <= ?2"
/* written after their rows were built; "+" keeps SQLite on the rowid range (the few new ticks)
 * rather than the ts_us index (every tick before ?2) */
#define TICKS_LATE "t.id > ?1 AND +t.ts_us <= ?2"

/* The SQL templates are this file's constants; only table names are put in, values are bound. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
#define ROLL_ALL       0xfu
#define ROLL_NOT_UNITS 0xdu /* the units are rolled while packing (pack_and_roll) */

static int rollup_run(Store *s, const char *const tmpl[4], const char *target, const char *source,
                      int64_t a, int64_t b, int64_t width, unsigned mask)
{
        for (size_t i = 0; i < 4; i++) {
                if (!(mask & (1u << i)))
                        continue;
                char sql[2048];
                int n = snprintf(sql, sizeof(sql), tmpl[i], target, source);
                if (n < 0 || (size_t)n >= sizeof(sql))
                        return -ENAMETOOLONG;
                sqlite3_stmt *q = NULL;
                int r = store_query(s, &q, sql);
                if (r < 0)
                        return r;
                sqlite3_bind_int64(q, 1, a);
                sqlite3_bind_int64(q, 2, b);
                sqlite3_bind_int64(q, 3, width);
                int rc = sqlite3_step(q);
                sqlite3_finalize(q);
                if (rc != SQLITE_DONE)
                        return store_fail(s, rc, "rolling up");
        }
        return 0;
}
#pragma GCC diagnostic pop

static int query_two(Store *s, const char *sql, bool *ret_null, int64_t *ret_a, int64_t *ret_b)
{
        sqlite3_stmt *q = NULL;
        int r = store_query(s, &q, sql);
        if (r < 0)
                return r;
        int rc = sqlite3_step(q);
        if (rc == SQLITE_ROW) {
                *ret_null = sqlite3_column_type(q, 0) == SQLITE_NULL;
                *ret_a = sqlite3_column_int64(q, 0);
                *ret_b = sqlite3_column_int64(q, 1);
                r = 0;
        } else {
                r = store_fail(s, rc, sql);
        }
        sqlite3_finalize(q);
        return r;
}

static int exec_bound(Store *s, const char *sql, int64_t a, int64_t b, int *ret_changes);

/* Sums of one unit in the minute being rolled. */
typedef struct PackSum {
        int64_t active, idle, cpu;
        bool estimated, seen;
} PackSum;

typedef struct PackState {
        Store *s;
        sqlite3_stmt *blob, *roll;
        PackSum *sums;
        size_t n_sums;
        int64_t bucket;
        StoreUnitValue *units;
        size_t n_units, cap_units;
        uint8_t *buf;
        size_t buf_size;
} PackState;

static int pack_flush_minute(PackState *p)
{
        for (size_t id = 0; id < p->n_sums; id++) {
                PackSum *u = &p->sums[id];
                if (!u->seen)
                        continue;
                sqlite3_bind_int64(p->roll, 1, p->bucket);
                sqlite3_bind_int64(p->roll, 2, (int64_t)id);
                sqlite3_bind_int64(p->roll, 3, u->active);
                sqlite3_bind_int64(p->roll, 4, u->idle);
                sqlite3_bind_int64(p->roll, 5, u->cpu);
                sqlite3_bind_int(p->roll, 6, u->estimated);
                int rc = sqlite3_step(p->roll);
                sqlite3_reset(p->roll);
                if (rc != SQLITE_DONE)
                        return store_fail(p->s, rc, "rolling up units");
                *u = (PackSum){0};
        }
        return 0;
}

static int pack_flush_tick(PackState *p, int64_t tick_id)
{
        if (p->n_units == 0)
                return 0;
        size_t need = store_pack_bound(p->n_units);
        if (need > p->buf_size) {
                uint8_t *nb = realloc(p->buf, need);
                if (!nb)
                        return -ENOMEM;
                p->buf = nb;
                p->buf_size = need;
        }
        size_t len = store_pack_units(p->units, p->n_units, p->buf);
        sqlite3_bind_int64(p->blob, 1, tick_id);
        sqlite3_bind_blob(p->blob, 2, p->buf, (int)len, SQLITE_STATIC);
        int rc = sqlite3_step(p->blob);
        sqlite3_reset(p->blob);
        p->n_units = 0;
        if (rc != SQLITE_DONE)
                return store_fail(p->s, rc, "packing a tick");
        return 0;
}

/* Packs the unit_requests rows of the ticks ending in (lo, hi] into tick_requests (their
 * minutes are already rolled in SQL) and deletes them. */
static int pack_requests(Store *s, int64_t lo, int64_t hi)
{
        sqlite3_stmt *q = NULL, *ins = NULL;
        StoreRequestValue *v = NULL;
        size_t n = 0, cap = 0, buf_size = 0;
        uint8_t *buf = NULL;
        int64_t tick = -1;
        int rc, r = store_query(s, &q,
                                "SELECT t.id, r.unit_id, r.metric_id, r.count FROM ticks t "
                                "JOIN unit_requests r ON r.tick_id = t.id "
                                "WHERE t.ts_us > ?1 AND t.ts_us <= ?2 "
                                "ORDER BY t.ts_us, t.id, r.unit_id, r.metric_id");
        if (r >= 0)
                r = store_query(s, &ins,
                                "INSERT INTO tick_requests (tick_id, data) VALUES (?1, ?2)");
        if (r < 0)
                goto out;
        sqlite3_bind_int64(q, 1, lo);
        sqlite3_bind_int64(q, 2, hi);
        for (;;) {
                rc = sqlite3_step(q);
                int64_t id = rc == SQLITE_ROW ? sqlite3_column_int64(q, 0) : -2;
                if (id != tick && n > 0) {
                        size_t need = store_pack_requests_bound(n);
                        if (need > buf_size) {
                                uint8_t *nb = realloc(buf, need);
                                if (!nb) {
                                        r = -ENOMEM;
                                        goto out;
                                }
                                buf = nb;
                                buf_size = need;
                        }
                        size_t len = store_pack_requests(v, n, buf);
                        sqlite3_bind_int64(ins, 1, tick);
                        sqlite3_bind_blob(ins, 2, buf, (int)len, SQLITE_STATIC);
                        int ri = sqlite3_step(ins);
                        sqlite3_reset(ins);
                        if (ri != SQLITE_DONE) {
                                r = store_fail(s, ri, "packing requests");
                                goto out;
                        }
                        n = 0;
                }
                if (rc != SQLITE_ROW)
                        break;
                tick = id;
                if (n == cap) {
                        size_t nc = cap ? 2 * cap : 32;
                        StoreRequestValue *nv = realloc(v, nc * sizeof(*nv));
                        if (!nv) {
                                r = -ENOMEM;
                                goto out;
                        }
                        v = nv;
                        cap = nc;
                }
                v[n++] = (StoreRequestValue){.unit_id = sqlite3_column_int64(q, 1),
                                             .metric_id = sqlite3_column_int64(q, 2),
                                             .count = sqlite3_column_double(q, 3)};
        }
        if (rc != SQLITE_DONE) {
                r = store_fail(s, rc, "reading requests to pack");
                goto out;
        }
        r = exec_bound(s,
                       "DELETE FROM unit_requests WHERE tick_id IN (SELECT id FROM ticks "
                       "WHERE ts_us > ?1 AND ts_us <= ?2)",
                       lo, hi, NULL);
out:
        sqlite3_finalize(q);
        sqlite3_finalize(ins);
        free(v);
        free(buf);
        return r;
}

/* Packs the unit rows of the ticks ending in (lo, hi] into tick_units and deletes them, adding
 * those ending after roll_from into the minute tier on the way. */
static int pack_and_roll(Store *s, int64_t lo, int64_t hi, int64_t roll_from)
{
        PackState p = {.s = s, .bucket = INT64_MIN};
        sqlite3_stmt *q = NULL;
        int rc, r = store_query(s, &q,
                                "SELECT t.id, t.ts_us, t.estimated, e.unit_id, e.active_uj, "
                                "e.idle_uj, e.cpu_ns FROM ticks t JOIN unit_energy e ON "
                                "e.tick_id = t.id WHERE t.ts_us > ?1 AND t.ts_us <= ?2 "
                                "ORDER BY t.ts_us, t.id, e.unit_id");
        if (r >= 0)
                r = store_query(s, &p.blob,
                                "INSERT INTO tick_units (tick_id, data) VALUES (?1, ?2)");
        if (r >= 0)
                r = store_query(s, &p.roll,
                                "INSERT INTO minute_units (start_us, unit_id, active_uj, idle_uj, "
                                "cpu_ns, estimated) VALUES (?1, ?2, ?3, ?4, ?5, ?6)" UNITS_UPSERT);
        if (r < 0)
                goto out;
        sqlite3_bind_int64(q, 1, lo);
        sqlite3_bind_int64(q, 2, hi);
        int64_t tick = -1;
        while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
                int64_t id = sqlite3_column_int64(q, 0), ts = sqlite3_column_int64(q, 1);
                if (id != tick) {
                        r = pack_flush_tick(&p, tick);
                        if (r < 0)
                                goto out;
                        tick = id;
                }
                StoreUnitValue u = {
                        .unit_id = sqlite3_column_int64(q, 3),
                        .active_uj = (uint64_t)sqlite3_column_int64(q, 4),
                        .idle_uj = (uint64_t)sqlite3_column_int64(q, 5),
                        .cpu_ns = (uint64_t)sqlite3_column_int64(q, 6),
                };
                if (p.n_units == p.cap_units) {
                        size_t n = p.cap_units ? 2 * p.cap_units : 128;
                        StoreUnitValue *nu = realloc(p.units, n * sizeof(*nu));
                        if (!nu) {
                                r = -ENOMEM;
                                goto out;
                        }
                        p.units = nu;
                        p.cap_units = n;
                }
                p.units[p.n_units++] = u;
                if (ts <= roll_from || u.unit_id < 0 || u.unit_id > 10000000)
                        continue;
                int64_t b = floor_to(ts - 1, MIN_US);
                if (b != p.bucket) {
                        r = pack_flush_minute(&p);
                        if (r < 0)
                                goto out;
                        p.bucket = b;
                }
                if ((size_t)u.unit_id >= p.n_sums) {
                        size_t n = (size_t)u.unit_id + 64;
                        PackSum *ns = realloc(p.sums, n * sizeof(*ns));
                        if (!ns) {
                                r = -ENOMEM;
                                goto out;
                        }
                        memset(ns + p.n_sums, 0, (n - p.n_sums) * sizeof(*ns));
                        p.sums = ns;
                        p.n_sums = n;
                }
                PackSum *sum = &p.sums[u.unit_id];
                sum->active += (int64_t)u.active_uj;
                sum->idle += (int64_t)u.idle_uj;
                sum->cpu += (int64_t)u.cpu_ns;
                sum->estimated |= sqlite3_column_int(q, 2) != 0;
                sum->seen = true;
        }
        if (rc != SQLITE_DONE) {
                r = store_fail(s, rc, "reading ticks to pack");
                goto out;
        }
        r = pack_flush_tick(&p, tick);
        if (r >= 0)
                r = pack_flush_minute(&p);
        if (r >= 0)
                r = exec_bound(s,
                               "DELETE FROM unit_energy WHERE tick_id IN (SELECT id FROM ticks "
                               "WHERE ts_us > ?1 AND ts_us <= ?2)",
                               lo, hi, NULL);
out:
        sqlite3_finalize(q);
        sqlite3_finalize(p.blob);
        sqlite3_finalize(p.roll);
        free(p.sums);
        free(p.units);
        free(p.buf);
        return r;
}

/* Builds the tiers up to now_us in the open transaction; 1 when the minute tier is behind. */
static int rollup(Store *s, TierState st[N_STATE], int64_t now_us)
{
        bool empty;
        int64_t max_id, first_ts;
        /* two subqueries: MAX and MIN side by side would scan the whole ts_us index */
        int r = query_two(s, "SELECT (SELECT MAX(id) FROM ticks), (SELECT MIN(ts_us) FROM ticks)",
                          &empty, &max_id, &first_ts);
        if (r < 0)
                return r;
        if (!st[STORE_TIER_MINUTE].has_done) {
                /* The first run: every tier starts at the day of the oldest tick. */
                int64_t base = floor_to(empty ? now_us : first_ts - 1, DAY_US);
                for (size_t k = STORE_TIER_MINUTE; k < _STORE_TIER_MAX; k++)
                        st[k] = (TierState){.has_done = true, .done_us = base};
        }
        /* Ticks written since the last call that end in minutes already built: rare (a backlog
         * written late, a wall clock stepped back), so looked for once before the 12 upserts. */
        bool late = false;
        if (!empty && max_id > st[STORE_TIER_RAW].tick_id) {
                sqlite3_stmt *q = NULL;
                r = store_query(s, &q,
                                "SELECT EXISTS (SELECT 1 FROM ticks WHERE id > ?1 AND "
                                "+ts_us <= ?2)");
                if (r < 0)
                        return r;
                sqlite3_bind_int64(q, 1, st[STORE_TIER_RAW].tick_id);
                sqlite3_bind_int64(q, 2, st[STORE_TIER_MINUTE].done_us);
                int rc = sqlite3_step(q);
                if (rc == SQLITE_ROW)
                        late = sqlite3_column_int(q, 0) != 0;
                else
                        r = store_fail(s, rc, "looking for late ticks");
                sqlite3_finalize(q);
        }
        if (late)
                for (size_t k = STORE_TIER_MINUTE; k < _STORE_TIER_MAX && r >= 0; k++)
                        r = rollup_run(s, rollup_from_raw, store_tiers[k].name, TICKS_LATE,
                                       st[STORE_TIER_RAW].tick_id, st[k].done_us,
                                       store_tiers[k].width_us, ROLL_ALL);
        if (r < 0)
                return r;

        /* Minutes are rolled, and their ticks packed, once they are older than the hot window:
         * one pass over the unit rows does both. Packing catches up first on a file from before
         * it (the minutes are ahead there). Work per call is bounded in ticks, not time, so
         * empty months after a long stop are crossed at once. */
        int more = 0;
        TierState *m = &st[STORE_TIER_MINUTE], *packed = &st[STATE_PACKED];
        int64_t target = floor_to(now_us - STORE_HOT_US, MIN_US);
        if (!packed->has_done)
                *packed = (TierState){.has_done = true,
                                      .done_us = floor_to(empty ? now_us : first_ts - 1, DAY_US)};
        int64_t pack_hi = target;
        {
                sqlite3_stmt *q = NULL;
                r = store_query(s, &q,
                                "SELECT ts_us FROM ticks WHERE ts_us > ?1 ORDER BY ts_us "
                                "LIMIT 1 OFFSET ?2");
                if (r < 0)
                        return r;
                sqlite3_bind_int64(q, 1, packed->done_us);
                sqlite3_bind_int64(q, 2, ROLLUP_TICKS - 1);
                int rc = sqlite3_step(q);
                if (rc == SQLITE_ROW)
                        pack_hi = min64(target, ceil_to(sqlite3_column_int64(q, 0), MIN_US));
                else if (rc != SQLITE_DONE)
                        r = store_fail(s, rc, "bounding the rollup");
                sqlite3_finalize(q);
                if (r < 0)
                        return r;
        }
        if (pack_hi < target)
                more = 1;
        int64_t done = pack_hi > m->done_us ? pack_hi : m->done_us;
        if (pack_hi > packed->done_us) {
                if (done > m->done_us)
                        r = rollup_run(s, rollup_from_raw, "minute", TICKS_ENDING_IN, m->done_us,
                                       done, MIN_US, ROLL_NOT_UNITS);
                if (r >= 0)
                        r = pack_and_roll(s, packed->done_us, pack_hi, m->done_us);
                if (r >= 0)
                        r = pack_requests(s, packed->done_us, pack_hi);
                if (r < 0)
                        return r;
                packed->done_us = pack_hi;
                m->done_us = done;
        }
        if (!empty)
                st[STORE_TIER_RAW].tick_id = max_id;
        for (size_t k = STORE_TIER_HOUR; k < _STORE_TIER_MAX; k++) {
                int64_t d = floor_to(st[k - 1].done_us, store_tiers[k].width_us);
                if (d <= st[k].done_us)
                        continue;
                r = rollup_run(s, rollup_from_tier, store_tiers[k].name, store_tiers[k - 1].name,
                               st[k].done_us, d, store_tiers[k].width_us, ROLL_ALL);
                if (r < 0)
                        return r;
                st[k].done_us = d;
        }
        return more;
}

/* ---- retention ---- */

static int exec_bound(Store *s, const char *sql, int64_t a, int64_t b, int *ret_changes)
{
        sqlite3_stmt *q = NULL;
        int r = store_query(s, &q, sql);
        if (r < 0)
                return r;
        sqlite3_bind_int64(q, 1, a);
        sqlite3_bind_int64(q, 2, b);
        int rc = sqlite3_step(q);
        sqlite3_finalize(q);
        if (rc != SQLITE_DONE)
                return store_fail(s, rc, "applying retention");
        if (ret_changes)
                *ret_changes = sqlite3_changes(s->db);
        return 0;
}

/* The oldest ticks ending at or before ?1, at most ?2, never the newest (its id stays the
 * largest, so the rollup's tick_id keeps its meaning). */
#define OLD_TICKS                                                                                  \
        "(SELECT id FROM ticks WHERE ts_us <= ?1 AND id < (SELECT MAX(id) FROM ticks) "            \
        "ORDER BY ts_us LIMIT ?2)"

static int retain_raw(Store *s, int64_t kept_us)
{
        bool empty;
        int64_t first, unused;
        int r0 = query_two(s, "SELECT MIN(ts_us), 0 FROM ticks", &empty, &first, &unused);
        if (r0 < 0 || empty || first > kept_us)
                return r0; /* nothing past retention: no deletes to prepare */
        static const char *const children[] = {
                "DELETE FROM unit_energy WHERE tick_id IN " OLD_TICKS,
                "DELETE FROM domain_energy WHERE tick_id IN " OLD_TICKS,
                "DELETE FROM process_energy WHERE tick_id IN " OLD_TICKS,
                "DELETE FROM unit_counters WHERE tick_id IN " OLD_TICKS,
                "DELETE FROM unit_requests WHERE tick_id IN " OLD_TICKS,
                "DELETE FROM ingest_stats WHERE tick_id IN " OLD_TICKS,
                "DELETE FROM tick_units WHERE tick_id IN " OLD_TICKS,
                "DELETE FROM tick_requests WHERE tick_id IN " OLD_TICKS,
        };
        int r = 0, changes = 0;
        for (size_t i = 0; i < ELEMENTSOF(children) && r >= 0; i++)
                r = exec_bound(s, children[i], kept_us, RAW_DELETE_BATCH, NULL);
        if (r >= 0)
                r = exec_bound(s, "DELETE FROM ticks WHERE id IN " OLD_TICKS, kept_us,
                               RAW_DELETE_BATCH, &changes);
        if (r < 0)
                return r;
        return changes >= RAW_DELETE_BATCH;
}

static int retain_tier(Store *s, StoreTier k, int64_t kept_us, int64_t span_us)
{
        static const char *const tables[] = {"host", "units", "domains", "requests"};
        char sql[256];
        bool empty;
        int64_t first, unused;
        snprintf(sql, sizeof(sql), "SELECT MIN(start_us), 0 FROM %s_host", store_tiers[k].name);
        int r = query_two(s, sql, &empty, &first, &unused);
        if (r < 0 || empty || first >= kept_us)
                return r;
        int64_t upto = min64(kept_us, first + span_us);
        for (size_t i = 0; i < ELEMENTSOF(tables) && r >= 0; i++) {
                snprintf(sql, sizeof(sql), "DELETE FROM %s_%s WHERE start_us < ?1 AND ?2 = ?2",
                         store_tiers[k].name, tables[i]);
                r = exec_bound(s, sql, upto, 0, NULL);
        }
        if (r < 0)
                return r;
        return upto < kept_us;
}

/* Moves a tier's horizon to now - keep (aligned to the next tier's rows, and never past what
 * the next tier holds) and deletes one batch behind it; 1 when more remains. */
static int retain(Store *s, TierState st[N_STATE], StoreTier k, uint64_t keep_us, int64_t now_us)
{
        if (keep_us == 0 || keep_us > (uint64_t)INT64_MAX / 2)
                return 0;
        const TierState *next = &st[k + 1];
        if (!next->has_done)
                return 0;
        int64_t horizon = min64(floor_to(now_us - (int64_t)keep_us, store_tiers[k + 1].width_us),
                                next->done_us);
        TierState *t = &st[k];
        if (!t->has_kept || horizon > t->kept_us) {
                t->has_kept = true;
                t->kept_us = horizon;
        }
        if (k == STORE_TIER_RAW)
                return retain_raw(s, t->kept_us);
        return retain_tier(s, k, t->kept_us,
                           k == STORE_TIER_MINUTE ? MINUTE_DELETE_SPAN : HOUR_DELETE_SPAN);
}

int store_maintain(Store *s, int64_t now_us, const StoreRetention *ret)
{
        assert(s->mode == STORE_READ_WRITE);
        TierState st[N_STATE];
        int r = store_exec(s, "BEGIN IMMEDIATE");
        if (r < 0)
                return r;
        int more = tiers_load(s, st);
        if (more >= 0)
                more = rollup(s, st, now_us);
        if (more >= 0)
                r = tiers_save(s, st);
        if (more >= 0 && r >= 0)
                r = store_exec(s, "COMMIT");
        if (more < 0 || r < 0) {
                (void)sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
                return more < 0 ? more : r;
        }
        /* Retention in its own short transaction (one batch per tier per call), written only
         * when a horizon moved or something was deleted. */
        const uint64_t keep[] = {ret->raw_us, ret->minute_us, ret->hour_us};
        r = store_exec(s, "BEGIN IMMEDIATE");
        if (r < 0)
                return r;
        TierState before[N_STATE];
        memcpy(before, st, sizeof(before));
        int64_t changes = sqlite3_total_changes64(s->db);
        for (size_t k = STORE_TIER_RAW; k <= STORE_TIER_HOUR && r >= 0; k++) {
                int m = retain(s, st, (StoreTier)k, keep[k], now_us);
                if (m < 0)
                        r = m;
                else
                        more |= m;
        }
        if (r >= 0 && memcmp(before, st, sizeof(before)) != 0)
                r = tiers_save(s, st);
        if (r >= 0)
                r = store_exec(s,
                               sqlite3_total_changes64(s->db) != changes ? "COMMIT" : "ROLLBACK");
        if (r < 0) {
                (void)sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
                return r;
        }
        return more;
}

/* ---- the planner ---- */

/* Where retention deleted the raw ticks at p, the finest tier still holding p gives the edge
 * (rounded down for a range's start, up for its end). */
static int64_t plan_edge(const TierState st[N_STATE], int64_t p, bool up, StoreTier coarsest)
{
        for (size_t k = STORE_TIER_RAW; k <= (size_t)coarsest; k++) {
                if (st[k].has_kept && p < st[k].kept_us)
                        continue;
                if (k == STORE_TIER_RAW)
                        return p;
                if (!st[k].has_done)
                        continue;
                int64_t w = store_tiers[k].width_us;
                return up ? ceil_to(p, w) : floor_to(p, w);
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

static void plan_cover(const TierState st[N_STATE], int64_t lo, int64_t hi, StoreTier k,
                       StoreSpan *v, size_t *n)
{
        if (lo >= hi)
                return;
        if (k == STORE_TIER_RAW) {
                plan_emit(v, n, k, lo, hi);
                return;
        }
        int64_t w = store_tiers[k].width_us;
        int64_t a = ceil_to(lo, w), b = floor_to(hi, w);
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

/* One kind of packed BLOB (tick_units or tick_requests): how to find it, where its rows go, and
 * how one BLOB becomes rows (inserted with ins; buf and cap are the decoder's reusable array). */
typedef struct PackedKind {
        const char *select_sql; /* ?1, ?2: the raw span; columns: tick id, BLOB */
        const char *insert_sql;
        const char *what; /* for errors: "units", "requests" */
        int (*insert)(sqlite3_stmt *ins, int64_t tick, const void *blob, size_t len, void **buf,
                      size_t *cap);
} PackedKind;

static int insert_step(sqlite3_stmt *ins)
{
        int rc = sqlite3_step(ins);
        sqlite3_reset(ins);
        return rc == SQLITE_DONE ? 0 : rc;
}

static int packed_units_insert(sqlite3_stmt *ins, int64_t tick, const void *blob, size_t len,
                               void **buf, size_t *cap)
{
        size_t nu;
        if (store_unpack_units(blob, len, (StoreUnitValue **)buf, cap, &nu) < 0)
                return -EBADMSG;
        const StoreUnitValue *u = *buf;
        for (size_t k = 0; k < nu; k++) {
                sqlite3_bind_int64(ins, 1, tick);
                sqlite3_bind_int64(ins, 2, u[k].unit_id);
                sqlite3_bind_int64(ins, 3, (int64_t)u[k].active_uj);
                sqlite3_bind_int64(ins, 4, (int64_t)u[k].idle_uj);
                sqlite3_bind_int64(ins, 5, (int64_t)u[k].cpu_ns);
                int rc = insert_step(ins);
                if (rc)
                        return rc;
        }
        return 0;
}

static int packed_requests_insert(sqlite3_stmt *ins, int64_t tick, const void *blob, size_t len,
                                  void **buf, size_t *cap)
{
        size_t nv;
        if (store_unpack_requests(blob, len, (StoreRequestValue **)buf, cap, &nv) < 0)
                return -EBADMSG;
        const StoreRequestValue *v = *buf;
        for (size_t k = 0; k < nv; k++) {
                sqlite3_bind_int64(ins, 1, tick);
                sqlite3_bind_int64(ins, 2, v[k].unit_id);
                sqlite3_bind_int64(ins, 3, v[k].metric_id);
                sqlite3_bind_double(ins, 4, v[k].count);
                int rc = insert_step(ins);
                if (rc)
                        return rc;
        }
        return 0;
}

static const PackedKind packed_units = {
        .select_sql = "SELECT t.id, p.data FROM ticks t JOIN tick_units p ON p.tick_id = t.id "
                      "WHERE t.ts_us > ?1 AND t.ts_us <= ?2",
        .insert_sql = "INSERT INTO temp.packed_units (tick_id, unit_id, active_uj, idle_uj, "
                      "cpu_ns) VALUES (?1, ?2, ?3, ?4, ?5)",
        .what = "units",
        .insert = packed_units_insert,
};

static const PackedKind packed_requests = {
        .select_sql = "SELECT t.id, p.data FROM ticks t JOIN tick_requests p ON p.tick_id = t.id "
                      "WHERE t.ts_us > ?1 AND t.ts_us <= ?2",
        .insert_sql = "INSERT INTO temp.packed_requests (tick_id, unit_id, metric_id, count) "
                      "VALUES (?1, ?2, ?3, ?4)",
        .what = "requests",
        .insert = packed_requests_insert,
};

/* Decodes one kind's packed BLOBs of the raw spans into its temp table. */
static int unpack_kind(Store *s, const PackedKind *kind, const StoreSpan *spans, size_t n)
{
        sqlite3_stmt *q = NULL, *ins = NULL;
        void *buf = NULL;
        size_t cap = 0;
        char what[64];
        int r = store_query(s, &q, kind->select_sql);
        if (r >= 0)
                r = store_query(s, &ins, kind->insert_sql);
        for (size_t i = 0; i < n && r >= 0; i++) {
                if (spans[i].tier != STORE_TIER_RAW)
                        continue;
                sqlite3_bind_int64(q, 1, spans[i].lo);
                sqlite3_bind_int64(q, 2, spans[i].hi);
                int rc;
                while (r >= 0 && (rc = sqlite3_step(q)) == SQLITE_ROW) {
                        int64_t tick = sqlite3_column_int64(q, 0);
                        int ri = kind->insert(ins, tick, sqlite3_column_blob(q, 1),
                                              (size_t)sqlite3_column_bytes(q, 1), &buf, &cap);
                        if (ri == -EBADMSG) {
                                snprintf(s->error, sizeof(s->error),
                                         "tick %lld: malformed packed %s", (long long)tick,
                                         kind->what);
                                r = ri;
                        } else if (ri != 0) {
                                snprintf(what, sizeof(what), "unpacking %s", kind->what);
                                r = store_fail(s, ri, what);
                        }
                }
                if (r >= 0 && rc != SQLITE_DONE) {
                        snprintf(what, sizeof(what), "reading packed %s", kind->what);
                        r = store_fail(s, rc, what);
                }
                sqlite3_reset(q);
        }
        sqlite3_finalize(q);
        sqlite3_finalize(ins);
        free(buf);
        return r;
}

/* Decodes the packed ticks of the raw spans into temp.packed_units and temp.packed_requests,
 * which the queries read beside unit_energy and unit_requests (a read-only handle may write its
 * own temp tables). */
static int unpack_spans(Store *s, const StoreSpan *spans, size_t n)
{
        int r = store_exec(s, "CREATE TEMP TABLE IF NOT EXISTS packed_units (tick_id INTEGER NOT "
                              "NULL, unit_id INTEGER NOT NULL, active_uj INTEGER NOT NULL, "
                              "idle_uj INTEGER NOT NULL, cpu_ns INTEGER NOT NULL, PRIMARY KEY "
                              "(tick_id, unit_id)) WITHOUT ROWID;"
                              "CREATE TEMP TABLE IF NOT EXISTS packed_requests (tick_id INTEGER "
                              "NOT NULL, unit_id INTEGER NOT NULL, metric_id INTEGER NOT NULL, "
                              "count REAL NOT NULL, PRIMARY KEY (tick_id, unit_id, metric_id)) "
                              "WITHOUT ROWID;"
                              "DELETE FROM temp.packed_units; DELETE FROM temp.packed_requests");
        if (r < 0)
                return r;
        int v = store_schema_version(s);
        if (v < SCHEMA_WITH_PACKING) /* an older daemon's file, read-only: nothing packed */
                return v < 0 ? v : 0;
        r = unpack_kind(s, &packed_units, spans, n);
        if (r >= 0 && v >= SCHEMA_WITH_PACKED_R)
                r = unpack_kind(s, &packed_requests, spans, n);
        return r;
}

int store_plan(Store *s, int64_t from_us, int64_t to_us, StoreTier coarsest, StoreSpan *ret,
               size_t *ret_n, int64_t *ret_from, int64_t *ret_to)
{
        TierState st[N_STATE];
        int r = tiers_load(s, st);
        if (r < 0)
                return r;
        int64_t from = plan_edge(st, from_us, false, coarsest);
        int64_t to = plan_edge(st, to_us, true, coarsest);
        size_t n = 0;
        plan_cover(st, from, to, coarsest, ret, &n);
        r = unpack_spans(s, ret, n);
        if (r < 0)
                return r;
        *ret_n = n;
        if (ret_from)
                *ret_from = from;
        if (ret_to)
                *ret_to = to;
        return 0;
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
                                      "= t.id WHERE t.ts_us > ?%1$d AND t.ts_us <= ?%2$d",
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
                                     (long long)store_tiers[spans[i].tier].width_us,
                                     store_tiers[spans[i].tier].name, p, p + 1);
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

/* ---- services over a range ---- */

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
                snprintf(sql, sizeof(sql), tier_sql, store_tiers[sp->tier].name);
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
                a->first_us = a->any ? min64(a->first_us, f) : f;
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

int store_read_services(Store *s, int64_t from_us, int64_t to_us, StoreServices *ret)
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
                r = services_span(s, &spans[i], v >= SCHEMA_WITH_REQUESTS, &a);
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

void store_services_done(StoreServices *sv)
{
        free(sv->units);
        sv->units = NULL;
        sv->n_units = 0;
}
