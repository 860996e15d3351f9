/* Building the tiers: minutes summed from the raw ticks once they leave the hot window, hours
 * from minutes, days from hours, and ticks written late added to the rows already built. A
 * tick's units, requests and domains are read from its packed tick_units row (written as it was
 * committed, store-packed.c) or from plain rows, which an older joulesd wrote and which are
 * packed on the same pass (pack_and_roll). The tiers and rollup_state are described in
 * store-tiers.c; the BLOB formats in store-pack.c and store-pack-side.c. */

#include "storage/store.h"
#include "storage/store-internal.h"

#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"

/* Work bounds per store_maintain() call. */
/* Raw ticks rolled and packed per call, at most (plus the rest of the last one's minute): a
 * catch-up after an upgrade or a long stop stalls a tick well under a second. */
#define ROLLUP_TICKS 3600

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
                int r = store_cached(s, sql, &q);
                if (r < 0)
                        return r;
                sqlite3_bind_int64(q, 1, a);
                sqlite3_bind_int64(q, 2, b);
                sqlite3_bind_int64(q, 3, width);
                int rc = sqlite3_step(q);
                store_release(q);
                if (rc != SQLITE_DONE)
                        return store_fail(s, rc, "rolling up");
        }
        return 0;
}
#pragma GCC diagnostic pop

/* ---- ticks packed as they were committed (store-packed.c) ---- */

/* Their sums, a bucket of a tier at a time. */
typedef struct RollPacked {
        PackedSums sums;
        const char *tier;
        int64_t width, bucket;
} RollPacked;

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
static int roll_packed_flush(Store *s, RollPacked *p)
{
        static const char *const fmt[3] = {
                "INSERT INTO %s_units (start_us, unit_id, active_uj, idle_uj, cpu_ns, estimated) "
                "VALUES (?1, ?2, ?3, ?4, ?5, ?6)" UNITS_UPSERT,
                "INSERT INTO %s_domains (start_us, domain_id, energy_uj, valid_us, dropped) "
                "VALUES (?1, ?2, ?3, ?4, ?5)" DOMAINS_UPSERT,
                "INSERT INTO %s_requests (start_us, unit_id, metric_id, count) VALUES (?1, ?2, "
                "?3, ?4)" REQUESTS_UPSERT,
        };
        char sql[3][512];
        const char *v[3];
        for (size_t k = 0; k < 3; k++) {
                int n = snprintf(sql[k], sizeof(sql[k]), fmt[k], p->tier);
                if (n < 0 || (size_t)n >= sizeof(sql[k]))
                        return -ENAMETOOLONG;
                v[k] = sql[k];
        }
        return packed_sums_write(s, &p->sums, p->bucket, v);
}
#pragma GCC diagnostic pop

static int roll_packed_tick(Store *s, void *userdata, int64_t tick, int64_t ts_us,
                            const PackedTickBlobs *b)
{
        RollPacked *p = userdata;
        int64_t bucket = store_floor_to(ts_us - 1, p->width);
        if (bucket != p->bucket) {
                int r = roll_packed_flush(s, p);
                if (r < 0)
                        return r;
                p->bucket = bucket;
        }
        return packed_sums_add(s, &p->sums, tick, b);
}

/* Adds the units, domains and requests of the packed ticks where selects (TICKS_ENDING_IN,
 * TICKS_LATE) into tier, width wide; their host rows are rolled in SQL (rollup_from_raw). */
static int roll_packed(Store *s, const char *tier, int64_t width, const char *where, int64_t a,
                       int64_t b)
{
        RollPacked p = {.tier = tier, .width = width, .bucket = INT64_MIN};
        int r = packed_sums_each_tick(s, where, a, b, roll_packed_tick, &p);
        if (r >= 0)
                r = roll_packed_flush(s, &p);
        packed_sums_free(&p.sums);
        return r;
}

/* ---- plain rows, packed as they are rolled ---- */

/* The rows of another kind (requests, domains) read beside the unit rows while packing, in the
 * same tick order (ts_us, id): q's first two columns are the tick's id and ts_us. */
typedef struct PackSide {
        sqlite3_stmt *q;
        bool row; /* q is on a row */
        int64_t id, ts;
} PackSide;

/* A byte buffer grown with array_grow. */
typedef struct PackBuf {
        uint8_t *p;
        size_t len, size;
} PackBuf;

typedef struct PackState {
        Store *s;
        sqlite3_stmt *blob, *roll, *old_requests;
        RollPacked minute; /* the units of the ticks rolled on the way */
        StoreUnitValue *units;
        size_t n_units, cap_units;
        bool units_odd; /* the tick has a unit value the BLOB cannot hold */
        PackSide req, dom;
        StoreRequestValue *reqs;
        size_t n_reqs, cap_reqs;
        StorePackedDomain *doms;
        size_t n_doms, cap_doms;
        PackBuf buf, req_buf, dom_buf, reasons;
} PackState;

static int side_step(Store *s, PackSide *d)
{
        int rc = sqlite3_step(d->q);
        d->row = rc == SQLITE_ROW;
        if (d->row) {
                d->id = sqlite3_column_int64(d->q, 0);
                d->ts = sqlite3_column_int64(d->q, 1);
                return 0;
        }
        return rc == SQLITE_DONE ? 0 : store_fail(s, rc, "reading the rows to pack");
}

/* The side is on a row of a tick before (ts, id). */
static bool side_before(const PackSide *d, int64_t ts, int64_t id)
{
        return d->row && (d->ts < ts || (d->ts == ts && d->id < id));
}

/* Reads the requests of the side's tick into p->reqs and encodes them into p->req_buf. */
static int side_requests(PackState *p)
{
        int64_t tick = p->req.id;
        p->n_reqs = 0;
        while (p->req.row && p->req.id == tick) {
                if (array_grow((void **)&p->reqs, &p->cap_reqs, p->n_reqs + 1, sizeof(*p->reqs)) <
                    0)
                        return -ENOMEM;
                p->reqs[p->n_reqs++] = (StoreRequestValue){
                        .unit_id = sqlite3_column_int64(p->req.q, 2),
                        .metric_id = sqlite3_column_int64(p->req.q, 3),
                        .count = sqlite3_column_double(p->req.q, 4),
                };
                int r = side_step(p->s, &p->req);
                if (r < 0)
                        return r;
        }
        if (array_grow((void **)&p->req_buf.p, &p->req_buf.size,
                       store_pack_requests_bound(p->n_reqs), 1) < 0)
                return -ENOMEM;
        p->req_buf.len = store_pack_requests(p->reqs, p->n_reqs, p->req_buf.p);
        return 0;
}

/* Reads the domain rows of the side's tick and encodes them into p->dom_buf; its len is 0 when
 * they cannot be packed (a value of another type than the daemon writes): they stay plain. */
static int side_domains(PackState *p)
{
        int64_t tick = p->dom.id;
        bool ok = true;
        p->n_doms = 0;
        p->reasons.len = 0;
        while (p->dom.row && p->dom.id == tick) {
                sqlite3_stmt *q = p->dom.q;
                int te = sqlite3_column_type(q, 3), tr = sqlite3_column_type(q, 4);
                ok &= (te == SQLITE_INTEGER || te == SQLITE_NULL) &&
                      (tr == SQLITE_TEXT || tr == SQLITE_NULL);
                size_t rl = tr == SQLITE_TEXT ? (size_t)sqlite3_column_bytes(q, 4) : 0;
                if (array_grow((void **)&p->doms, &p->cap_doms, p->n_doms + 1, sizeof(*p->doms)) <
                            0 ||
                    array_grow((void **)&p->reasons.p, &p->reasons.size, p->reasons.len + rl + 1,
                               1) < 0)
                        return -ENOMEM;
                if (rl)
                        memcpy(p->reasons.p + p->reasons.len, sqlite3_column_text(q, 4), rl);
                /* a reason points into p->reasons once it stops moving, below */
                p->doms[p->n_doms++] = (StorePackedDomain){
                        .domain_id = sqlite3_column_int64(q, 2),
                        .has_energy = te == SQLITE_INTEGER,
                        .energy_uj = sqlite3_column_int64(q, 3),
                        .reason = tr == SQLITE_TEXT ? "" : NULL,
                        .reason_len = rl,
                };
                p->reasons.len += rl;
                int r = side_step(p->s, &p->dom);
                if (r < 0)
                        return r;
        }
        for (size_t k = 0, at = 0; k < p->n_doms; k++)
                if (p->doms[k].reason) {
                        p->doms[k].reason = (const char *)p->reasons.p + at;
                        at += p->doms[k].reason_len;
                }
        p->dom_buf.len = 0;
        if (ok && array_grow((void **)&p->dom_buf.p, &p->dom_buf.size,
                             store_pack_domains_bound(p->doms, p->n_doms), 1) < 0)
                return -ENOMEM;
        if (ok)
                p->dom_buf.len = store_pack_domains(p->doms, p->n_doms, p->dom_buf.p);
        return 0;
}

/* The requests of a tick that has no unit rows go where they went before schema 12. */
static int pack_requests_alone(PackState *p)
{
        int64_t tick = p->req.id;
        int r = side_requests(p);
        if (r < 0)
                return r;
        sqlite3_bind_int64(p->old_requests, 1, tick);
        sqlite3_bind_blob(p->old_requests, 2, p->req_buf.p, (int)p->req_buf.len, SQLITE_STATIC);
        int rc = sqlite3_step(p->old_requests);
        sqlite3_reset(p->old_requests);
        return rc == SQLITE_DONE ? 0 : store_fail(p->s, rc, "packing requests");
}

/* Adds one unit's values of a tick to its minute on their own. */
static int pack_roll_one(PackState *p, int64_t bucket, const StoreUnitValue *u, bool estimated)
{
        sqlite3_bind_int64(p->roll, 1, bucket);
        sqlite3_bind_int64(p->roll, 2, u->unit_id);
        sqlite3_bind_int64(p->roll, 3, (int64_t)u->active_uj);
        sqlite3_bind_int64(p->roll, 4, (int64_t)u->idle_uj);
        sqlite3_bind_int64(p->roll, 5, (int64_t)u->cpu_ns);
        sqlite3_bind_int(p->roll, 6, estimated);
        int rc = sqlite3_step(p->roll);
        sqlite3_reset(p->roll);
        return rc == SQLITE_DONE ? 0 : store_fail(p->s, rc, "rolling up units");
}

/* Writes the tick's tick_units row: its units, and its requests and domains when it has them.
 * A tick whose units cannot be packed keeps its rows plain, as one without units does: its
 * requests go to tick_requests, its domain rows stay. */
static int pack_flush_tick(PackState *p, int64_t tick_id, int64_t tick_ts)
{
        if (p->n_units == 0)
                return 0;
        int r = 0;
        if (p->units_odd || !store_pack_units_fit(p->units, p->n_units)) {
                p->n_units = 0;
                p->units_odd = false;
                return 0; /* the cursors pass its requests and domains with the next tick's */
        }
        while (r >= 0 && side_before(&p->req, tick_ts, tick_id))
                r = pack_requests_alone(p);
        while (r >= 0 && side_before(&p->dom, tick_ts, tick_id))
                r = side_step(p->s, &p->dom); /* a tick without units: its domains stay plain */
        bool has_req = r >= 0 && p->req.row && p->req.id == tick_id;
        bool has_dom = r >= 0 && p->dom.row && p->dom.id == tick_id;
        if (r >= 0 && has_req)
                r = side_requests(p);
        if (r >= 0 && has_dom)
                r = side_domains(p);
        if (r >= 0)
                r = array_grow((void **)&p->buf.p, &p->buf.size, store_pack_bound(p->n_units), 1);
        if (r < 0)
                return r;
        size_t len = store_pack_units(p->units, p->n_units, p->buf.p);
        sqlite3_bind_int64(p->blob, 1, tick_id);
        sqlite3_bind_blob(p->blob, 2, p->buf.p, (int)len, SQLITE_STATIC);
        if (has_req)
                sqlite3_bind_blob(p->blob, 3, p->req_buf.p, (int)p->req_buf.len, SQLITE_STATIC);
        else
                sqlite3_bind_null(p->blob, 3);
        if (has_dom && p->dom_buf.len > 0)
                sqlite3_bind_blob(p->blob, 4, p->dom_buf.p, (int)p->dom_buf.len, SQLITE_STATIC);
        else
                sqlite3_bind_null(p->blob, 4);
        int rc = sqlite3_step(p->blob);
        sqlite3_reset(p->blob);
        p->n_units = 0;
        if (rc != SQLITE_DONE)
                return store_fail(p->s, rc, "packing a tick");
        return 0;
}

/* Packs the ticks ending in (lo, hi] into tick_units, a row per tick with its units, requests and
 * domains, and deletes the rows packed, adding the units of the ticks ending after roll_from
 * into the minute tier on the way (their requests and domains are already rolled in SQL). */
static int pack_and_roll(Store *s, int64_t lo, int64_t hi, int64_t roll_from)
{
        PackState p = {.s = s,
                       .minute = {.tier = "minute", .width = STORE_MINUTE_US, .bucket = INT64_MIN}};
        sqlite3_stmt *q = NULL;
        int rc, r = store_cached(s,
                                 "SELECT t.id, t.ts_us, t.estimated, e.unit_id, e.active_uj, "
                                 "e.idle_uj, e.cpu_ns FROM ticks t JOIN unit_energy e ON "
                                 "e.tick_id = t.id WHERE t.ts_us > ?1 AND t.ts_us <= ?2 "
                                 "ORDER BY t.ts_us, t.id, e.unit_id",
                                 &q);
        if (r >= 0)
                r = store_cached(s,
                                 "SELECT t.id, t.ts_us, r.unit_id, r.metric_id, r.count FROM "
                                 "ticks t JOIN unit_requests r ON r.tick_id = t.id "
                                 "WHERE t.ts_us > ?1 AND t.ts_us <= ?2 "
                                 "ORDER BY t.ts_us, t.id, r.unit_id, r.metric_id",
                                 &p.req.q);
        if (r >= 0)
                r = store_cached(s,
                                 "SELECT t.id, t.ts_us, d.domain_id, d.energy_uj, d.drop_reason "
                                 "FROM ticks t JOIN domain_energy d ON d.tick_id = t.id "
                                 "WHERE t.ts_us > ?1 AND t.ts_us <= ?2 "
                                 "ORDER BY t.ts_us, t.id, d.domain_id",
                                 &p.dom.q);
        if (r >= 0)
                r = store_cached(s,
                                 "INSERT INTO tick_units (tick_id, data, requests, domains) "
                                 "VALUES (?1, ?2, ?3, ?4)",
                                 &p.blob);
        if (r >= 0)
                r = store_cached(s, "INSERT INTO tick_requests (tick_id, data) VALUES (?1, ?2)",
                                 &p.old_requests);
        if (r >= 0)
                r = store_cached(s,
                                 "INSERT INTO minute_units (start_us, unit_id, active_uj, idle_uj, "
                                 "cpu_ns, estimated) VALUES (?1, ?2, ?3, ?4, ?5, ?6)" UNITS_UPSERT,
                                 &p.roll);
        if (r < 0)
                goto out;
        sqlite3_stmt *all[] = {q, p.req.q, p.dom.q};
        for (size_t k = 0; k < ELEMENTSOF(all); k++) {
                sqlite3_bind_int64(all[k], 1, lo);
                sqlite3_bind_int64(all[k], 2, hi);
        }
        r = side_step(s, &p.req);
        if (r >= 0)
                r = side_step(s, &p.dom);
        if (r < 0)
                goto out;
        int64_t tick = -1, tick_ts = 0;
        while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
                int64_t id = sqlite3_column_int64(q, 0), ts = sqlite3_column_int64(q, 1);
                if (id != tick) {
                        r = pack_flush_tick(&p, tick, tick_ts);
                        if (r < 0)
                                goto out;
                        tick = id;
                        tick_ts = ts;
                }
                StoreUnitValue u = {
                        .unit_id = sqlite3_column_int64(q, 3),
                        .active_uj = (uint64_t)sqlite3_column_int64(q, 4),
                        .idle_uj = (uint64_t)sqlite3_column_int64(q, 5),
                        .cpu_ns = (uint64_t)sqlite3_column_int64(q, 6),
                };
                for (int col = 3; col <= 6; col++)
                        p.units_odd |= sqlite3_column_type(q, col) != SQLITE_INTEGER;
                if (array_grow((void **)&p.units, &p.cap_units, p.n_units + 1, sizeof(*p.units)) <
                    0) {
                        r = -ENOMEM;
                        goto out;
                }
                p.units[p.n_units++] = u;
                if (ts <= roll_from)
                        continue;
                int64_t b = store_floor_to(ts - 1, STORE_MINUTE_US);
                if (b != p.minute.bucket) {
                        r = roll_packed_flush(s, &p.minute);
                        if (r < 0)
                                goto out;
                        p.minute.bucket = b;
                }
                bool est = sqlite3_column_int(q, 2) != 0;
                r = packed_sums_add_unit(&p.minute.sums, &u, est);
                /* what the sums cannot hold (a foreign file's: an id past the array, a value
                 * past int64) is added alone, by SQLite, with its result or its error */
                if (r == -ERANGE || r == -EOVERFLOW)
                        r = pack_roll_one(&p, b, &u, est);
                if (r < 0)
                        goto out;
        }
        if (rc != SQLITE_DONE) {
                r = store_fail(s, rc, "reading ticks to pack");
                goto out;
        }
        r = pack_flush_tick(&p, tick, tick_ts);
        while (r >= 0 && p.req.row)
                r = pack_requests_alone(&p);
        if (r >= 0)
                r = roll_packed_flush(s, &p.minute);
        if (r >= 0)
                r = store_exec_bound(s,
                                     "DELETE FROM unit_energy WHERE tick_id IN (SELECT p.tick_id "
                                     "FROM ticks t JOIN tick_units p ON p.tick_id = t.id WHERE "
                                     "t.ts_us > ?1 AND t.ts_us <= ?2)",
                                     lo, hi, NULL);
        if (r >= 0)
                r = store_exec_bound(s,
                                     "DELETE FROM unit_requests WHERE tick_id IN (SELECT id FROM "
                                     "ticks WHERE ts_us > ?1 AND ts_us <= ?2)",
                                     lo, hi, NULL);
        if (r >= 0)
                r = store_exec_bound(s,
                                     "DELETE FROM domain_energy WHERE tick_id IN (SELECT p.tick_id "
                                     "FROM ticks t JOIN tick_units p ON p.tick_id = t.id WHERE "
                                     "t.ts_us > ?1 AND t.ts_us <= ?2 AND p.domains IS NOT NULL)",
                                     lo, hi, NULL);
out:
        store_release(q);
        store_release(p.req.q);
        store_release(p.dom.q);
        store_release(p.blob);
        store_release(p.old_requests);
        store_release(p.roll);
        packed_sums_free(&p.minute.sums);
        free(p.units);
        free(p.reqs);
        free(p.doms);
        free(p.buf.p);
        free(p.req_buf.p);
        free(p.dom_buf.p);
        free(p.reasons.p);
        return r;
}

/* Builds the tiers up to now_us in the open transaction; 1 when the minute tier is behind. */
int store_rollup(Store *s, StoreTierState st[STORE_N_STATE], int64_t now_us)
{
        bool empty;
        int64_t max_id, first_ts;
        /* two subqueries: MAX and MIN side by side would scan the whole ts_us index */
        int r = store_query_two(
                s, "SELECT (SELECT MAX(id) FROM ticks), (SELECT MIN(ts_us) FROM ticks)", &empty,
                &max_id, &first_ts);
        if (r < 0)
                return r;
        if (!st[STORE_TIER_MINUTE].has_done) {
                /* The first run: every tier starts at the day of the oldest tick. */
                int64_t base = store_floor_to(empty ? now_us : first_ts - 1, STORE_DAY_US);
                for (size_t k = STORE_TIER_MINUTE; k < _STORE_TIER_MAX; k++)
                        st[k] = (StoreTierState){.has_done = true, .done_us = base};
        }
        /* Ticks written since the last call that end in minutes already built: rare (a backlog
         * written late, a wall clock stepped back), so looked for once before the 12 upserts. */
        bool late = false;
        if (!empty && max_id > st[STORE_TIER_RAW].tick_id) {
                sqlite3_stmt *q = NULL;
                r = store_cached(s,
                                 "SELECT EXISTS (SELECT 1 FROM ticks WHERE id > ?1 AND "
                                 "+ts_us <= ?2)",
                                 &q);
                if (r < 0)
                        return r;
                sqlite3_bind_int64(q, 1, st[STORE_TIER_RAW].tick_id);
                sqlite3_bind_int64(q, 2, st[STORE_TIER_MINUTE].done_us);
                int rc = sqlite3_step(q);
                if (rc == SQLITE_ROW)
                        late = sqlite3_column_int(q, 0) != 0;
                else
                        r = store_fail(s, rc, "looking for late ticks");
                store_release(q);
        }
        for (size_t k = STORE_TIER_MINUTE; late && k < _STORE_TIER_MAX && r >= 0; k++) {
                r = rollup_run(s, rollup_from_raw, store_tier_table(k), TICKS_LATE,
                               st[STORE_TIER_RAW].tick_id, st[k].done_us, store_tier_width(k),
                               ROLL_ALL);
                if (r >= 0)
                        r = roll_packed(s, store_tier_table(k), store_tier_width(k), TICKS_LATE,
                                        st[STORE_TIER_RAW].tick_id, st[k].done_us);
        }
        if (r < 0)
                return r;

        /* Minutes are rolled, and their ticks packed, once they are older than the hot window:
         * one pass over the unit rows does both. Packing catches up first on a file from before
         * it (the minutes are ahead there). Work per call is bounded in ticks, not time, so
         * empty months after a long stop are crossed at once. */
        int more = 0;
        StoreTierState *m = &st[STORE_TIER_MINUTE], *packed = &st[STORE_STATE_PACKED];
        int64_t target = store_floor_to(now_us - STORE_HOT_US, STORE_MINUTE_US);
        if (!packed->has_done)
                *packed = (StoreTierState){
                        .has_done = true,
                        .done_us = store_floor_to(empty ? now_us : first_ts - 1, STORE_DAY_US)};
        int64_t pack_hi = target;
        {
                sqlite3_stmt *q = NULL;
                r = store_cached(s,
                                 "SELECT ts_us FROM ticks WHERE ts_us > ?1 ORDER BY ts_us "
                                 "LIMIT 1 OFFSET ?2",
                                 &q);
                if (r < 0)
                        return r;
                sqlite3_bind_int64(q, 1, packed->done_us);
                sqlite3_bind_int64(q, 2, ROLLUP_TICKS - 1);
                int rc = sqlite3_step(q);
                if (rc == SQLITE_ROW)
                        pack_hi = store_min64(
                                target, store_ceil_to(sqlite3_column_int64(q, 0), STORE_MINUTE_US));
                else if (rc != SQLITE_DONE)
                        r = store_fail(s, rc, "bounding the rollup");
                store_release(q);
                if (r < 0)
                        return r;
        }
        if (pack_hi < target)
                more = 1;
        int64_t done = pack_hi > m->done_us ? pack_hi : m->done_us;
        if (pack_hi > packed->done_us) {
                /* The ticks packed as they were committed are rolled before pack_and_roll
                 * packs the plain ones: a tick packed by it has been rolled. */
                if (done > m->done_us)
                        r = rollup_run(s, rollup_from_raw, "minute", TICKS_ENDING_IN, m->done_us,
                                       done, STORE_MINUTE_US, ROLL_NOT_UNITS);
                if (r >= 0 && done > m->done_us)
                        r = roll_packed(s, "minute", STORE_MINUTE_US, TICKS_ENDING_IN, m->done_us,
                                        done);
                if (r >= 0)
                        r = pack_and_roll(s, packed->done_us, pack_hi, m->done_us);
                if (r < 0)
                        return r;
                packed->done_us = pack_hi;
                m->done_us = done;
        }
        if (!empty)
                st[STORE_TIER_RAW].tick_id = max_id;
        for (size_t k = STORE_TIER_HOUR; k < _STORE_TIER_MAX; k++) {
                int64_t d = store_floor_to(st[k - 1].done_us, store_tier_width(k));
                if (d <= st[k].done_us)
                        continue;
                r = rollup_run(s, rollup_from_tier, store_tier_table(k), store_tier_table(k - 1),
                               st[k].done_us, d, store_tier_width(k), ROLL_ALL);
                if (r < 0)
                        return r;
                st[k].done_us = d;
        }
        return more;
}
