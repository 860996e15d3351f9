/* The rollup tiers on a real history written through the store API: every minute, hour and day
 * row equals the sum of the raw rows it replaces (exact integers, per unit, domain, metric and
 * period), the tiers are built incrementally as time passes, ticks written late are added, a
 * query over any range reads the same totals through the tiers as from the raw rows, and
 * retention deletes in bounded batches only what the next tier holds. */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <sqlite3.h>

#include "common/util.h"
#include "storage/store.h"
#include "storage/store-internal.h" /* STORE_HOT_US */

#define SEC     INT64_C(1000000)
#define MINUTE  (60 * SEC)
#define HOUR    (60 * MINUTE)
#define DAY     (24 * HOUR)
#define T0      (INT64_C(1767225600000000) - 5 * MINUTE - 500000) /* not aligned on purpose */
#define N_UNITS 20

static char dir[] = "/tmp/joules-test-rollup-XXXXXX";

static int setup(void **state)
{
        assert_non_null(mkdtemp(dir));
        return 0;
}

static int teardown(void **state)
{
        if (getenv("KEEP"))
                return 0;
        char cmd[128];
        snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
        return system(cmd) == 0 ? 0 : -1;
}

static uint64_t rng_state = 42;

static uint64_t rnd(uint64_t n)
{
        rng_state = rng_state * 6364136223846793005u + 1442695040888963407u;
        return (rng_state >> 33) % n;
}

typedef struct History {
        Store *s;
        char path[256];
        int64_t units[N_UNITS + 1]; /* the last is the idle pseudo-unit */
        int64_t domains[2];
        int64_t metrics[2];
        int64_t ts; /* the last tick's end */
        /* what was written per unit and tick, kept apart: the store packs its own rows */
        sqlite3 *mirror;
        sqlite3_stmt *mirror_add, *mirror_req, *mirror_dom;
} History;

static void mirror_sync(History *h)
{
        assert_int_equal(sqlite3_exec(h->mirror, "COMMIT; BEGIN", NULL, NULL, NULL), SQLITE_OK);
}

/* One tick ending at ts: host energy split over some units (the idle pseudo-unit takes what is
 * left, so the units conserve the host's energy), requests on a few, now and then dropped. */
static void tick(History *h, int64_t ts, uint64_t dt)
{
        StoreUnitValue uv[N_UNITS + 1];
        StoreRequestValue rq[4];
        size_t nu = 0, nr = 0;
        bool drop = rnd(500) == 0;
        uint64_t host = 15000000 + rnd(10000000), left = host;
        for (size_t i = 0; i < N_UNITS && !drop; i++) {
                if (rnd(4) == 0)
                        continue; /* nothing to say this tick */
                uint64_t a = rnd(left / 8 + 1), id = rnd(a / 4 + 1);
                left -= a + id;
                uv[nu++] = (StoreUnitValue){h->units[i], a, id, rnd(20000000)};
        }
        if (!drop)
                uv[nu++] = (StoreUnitValue){h->units[N_UNITS], 0, left, 0};
        for (size_t i = 0; i < 4; i++)
                if (rnd(3) == 0)
                        rq[nr++] = (StoreRequestValue){
                                h->units[i], h->metrics[i % 2],
                                (double)rnd(50) + (rnd(4) == 0 ? 0.25 : 0)}; /* sample rates */
        StoreDomainValue dv[2] = {
                {.domain_id = h->domains[0],
                 .valid = !drop,
                 .energy_uj = host,
                 .drop_reason = drop ? "implausible power" : NULL},
                {.domain_id = h->domains[1], .valid = true, .energy_uj = host / 3},
        };
        StoreIngestStats ing = {rnd(5), rnd(2), rnd(2)};
        StoreTick t = {.ts_us = ts,
                       .dt_us = dt,
                       .host_valid = !drop,
                       .host_uj = host,
                       .estimated = ts % 7 == 0,
                       .domains = dv,
                       .n_domains = 2,
                       .units = uv,
                       .n_units = nu,
                       .requests = rq,
                       .n_requests = nr,
                       .ingest = &ing};
        assert_int_equal(store_tick_append(h->s, &t), 0);
        for (size_t i = 0; i < nu; i++) {
                sqlite3_stmt *q = h->mirror_add;
                sqlite3_bind_int64(q, 1, ts);
                sqlite3_bind_int64(q, 2, uv[i].unit_id);
                sqlite3_bind_int64(q, 3, (int64_t)uv[i].active_uj);
                sqlite3_bind_int64(q, 4, (int64_t)uv[i].idle_uj);
                sqlite3_bind_int64(q, 5, (int64_t)uv[i].cpu_ns);
                sqlite3_bind_int(q, 6, t.estimated);
                assert_int_equal(sqlite3_step(q), SQLITE_DONE);
                sqlite3_reset(q);
        }
        for (size_t i = 0; i < ELEMENTSOF(dv); i++) {
                sqlite3_stmt *q = h->mirror_dom;
                sqlite3_bind_int64(q, 1, ts);
                sqlite3_bind_int64(q, 2, (int64_t)dt);
                sqlite3_bind_int64(q, 3, dv[i].domain_id);
                if (dv[i].valid) {
                        sqlite3_bind_int64(q, 4, (int64_t)dv[i].energy_uj);
                        sqlite3_bind_null(q, 5);
                } else {
                        sqlite3_bind_null(q, 4);
                        sqlite3_bind_text(q, 5, dv[i].drop_reason ? dv[i].drop_reason : "baseline",
                                          -1, SQLITE_STATIC);
                }
                assert_int_equal(sqlite3_step(q), SQLITE_DONE);
                sqlite3_reset(q);
        }
        for (size_t i = 0; i < nr; i++) {
                sqlite3_stmt *q = h->mirror_req;
                sqlite3_bind_int64(q, 1, ts);
                sqlite3_bind_int64(q, 2, rq[i].unit_id);
                sqlite3_bind_int64(q, 3, rq[i].metric_id);
                sqlite3_bind_double(q, 4, rq[i].count);
                assert_int_equal(sqlite3_step(q), SQLITE_DONE);
                sqlite3_reset(q);
        }
        h->ts = ts;
}

static const StoreRetention keep_all = {0, 0, 0};

static void maintain(History *h, int64_t now, const StoreRetention *keep, int *ret_calls)
{
        int m, calls = 0;
        while ((m = store_maintain(h->s, now, keep)) == 1)
                calls++;
        assert_int_equal(m, 0);
        if (ret_calls)
                *ret_calls = calls + 1;
}

/* Writes `seconds` of 1 s ticks (with jitter, some ending exactly on a minute), committing each
 * and maintaining every simulated minute as joulesd does. */
static void history_write(History *h, int64_t seconds, const StoreRetention *keep)
{
        int64_t last_maintain = h->ts;
        for (int64_t i = 0; i < seconds; i++) {
                int64_t ts = h->ts + SEC, next_minute = (h->ts / MINUTE + 1) * MINUTE;
                if (next_minute - h->ts <= SEC + 200000 && rnd(2) == 0)
                        ts = next_minute; /* ends on the minute */
                else if (rnd(10) == 0)
                        ts += (int64_t)rnd(200000);
                tick(h, ts, (uint64_t)(ts - h->ts));
                assert_int_equal(store_commit(h->s), 0);
                if (ts - last_maintain >= MINUTE) {
                        maintain(h, ts, keep, NULL);
                        last_maintain = ts;
                }
        }
}

static void history_open(History *h, const char *name)
{
        char err[512];
        *h = (History){0};
        assert_int_equal(path_fmt(h->path, sizeof(h->path), "%s/%s", dir, name), 0);
        assert_int_equal(store_open(h->path, STORE_READ_WRITE, &h->s, err, sizeof(err)), 0);
        int64_t run;
        StoreRun ri = {.started_us = T0, .source = "model", .interval_us = SEC, .hostname = "h"};
        assert_int_equal(store_run_begin(h->s, &ri, &run), 0);
        for (int i = 0; i <= N_UNITS; i++) {
                char unit[32];
                snprintf(unit, sizeof(unit), i < N_UNITS ? "u%02d.service" : "idle", i);
                assert_int_equal(store_unit_ensure(h->s, unit, i == N_UNITS, &h->units[i]), 0);
        }
        StoreDomain d1 = {"package-0", "intel-rapl:0", "powercap", "package", false, true};
        StoreDomain d2 = {"dram", "intel-rapl:0:1", "powercap", "dram", false, false};
        assert_int_equal(store_domain_ensure(h->s, &d1, &h->domains[0]), 0);
        assert_int_equal(store_domain_ensure(h->s, &d2, &h->domains[1]), 0);
        assert_int_equal(store_metric_ensure(h->s, "requests", &h->metrics[0]), 0);
        assert_int_equal(store_metric_ensure(h->s, "orders", &h->metrics[1]), 0);
        h->ts = T0;
        char mirror[300];
        snprintf(mirror, sizeof(mirror), "%s.mirror", h->path);
        assert_int_equal(sqlite3_open(mirror, &h->mirror), SQLITE_OK);
        assert_int_equal(sqlite3_exec(h->mirror,
                                      "CREATE TABLE units (ts_us INTEGER, unit_id INTEGER, "
                                      "active_uj INTEGER, idle_uj INTEGER, cpu_ns INTEGER, "
                                      "estimated INTEGER); CREATE TABLE requests (ts_us INTEGER, "
                                      "unit_id INTEGER, metric_id INTEGER, count REAL); "
                                      "CREATE TABLE domains (ts_us INTEGER, dt_us INTEGER, "
                                      "domain_id INTEGER, energy_uj INTEGER, drop_reason TEXT); "
                                      "BEGIN",
                                      NULL, NULL, NULL),
                         SQLITE_OK);
        assert_int_equal(sqlite3_prepare_v2(h->mirror,
                                            "INSERT INTO units VALUES (?1, ?2, ?3, ?4, ?5, ?6)", -1,
                                            &h->mirror_add, NULL),
                         SQLITE_OK);
        assert_int_equal(sqlite3_prepare_v2(h->mirror,
                                            "INSERT INTO requests VALUES (?1, ?2, ?3, ?4)", -1,
                                            &h->mirror_req, NULL),
                         SQLITE_OK);
        assert_int_equal(sqlite3_prepare_v2(h->mirror,
                                            "INSERT INTO domains VALUES (?1, ?2, ?3, ?4, ?5)", -1,
                                            &h->mirror_dom, NULL),
                         SQLITE_OK);
}

static void history_close(History *h)
{
        store_close(h->s);
        h->s = NULL;
        sqlite3_finalize(h->mirror_add);
        sqlite3_finalize(h->mirror_req);
        sqlite3_finalize(h->mirror_dom);
        assert_int_equal(sqlite3_exec(h->mirror, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
        sqlite3_close(h->mirror);
}

/* The store's file, read-only, with the mirror of what was written attached as "mirror". */
static sqlite3 *db_open(const char *path)
{
        sqlite3 *db;
        char sql[400];
        assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
        snprintf(sql, sizeof(sql), "ATTACH '%s.mirror' AS mirror", path);
        assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
        return db;
}

static int64_t sql_int(sqlite3 *db, const char *sql)
{
        sqlite3_stmt *q;
        if (sqlite3_prepare_v2(db, sql, -1, &q, NULL) != SQLITE_OK)
                fail_msg("%s: %s", sql, sqlite3_errmsg(db));
        assert_int_equal(sqlite3_step(q), SQLITE_ROW);
        int64_t v = sqlite3_column_int64(q, 0);
        sqlite3_finalize(q);
        return v;
}

/* Rows of a tier that differ from the raw rows grouped the same way (in either direction),
 * over the buckets the tier holds. */
static int64_t tier_diff(sqlite3 *db, const char *tier, int64_t width)
{
        char sql[8192];
        int64_t total = 0;
        static const struct {
                const char *raw, *table, *cols;
        } parts[] = {
                {"SELECT B AS b, COUNT(*), COALESCE(SUM(CASE WHEN t.host_uj IS NOT NULL THEN "
                 "t.dt_us END), 0), COALESCE(SUM(t.host_uj), 0), MAX(t.estimated), "
                 "SUM(t.host_uj IS NULL AND t.dropped > 0), MIN(t.ts_us - t.dt_us), MAX(t.ts_us), "
                 "COALESCE(SUM(i.accepted), 0), COALESCE(SUM(i.rejected), 0), "
                 "COALESCE(SUM(i.malformed), 0) FROM ticks t LEFT JOIN ingest_stats i ON "
                 "i.tick_id = t.id WHERE IN_TIER GROUP BY b",
                 "host",
                 "start_us, ticks, valid_us, host_uj, estimated, dropped, first_us, last_us, "
                 "accepted, rejected, malformed"},
                {"SELECT B AS b, t.unit_id, SUM(t.active_uj), SUM(t.idle_uj), SUM(t.cpu_ns), "
                 "MAX(t.estimated) FROM mirror.units t WHERE IN_TIER GROUP BY b, t.unit_id",
                 "units", "start_us, unit_id, active_uj, idle_uj, cpu_ns, estimated"},
                {"SELECT B AS b, d.domain_id, COALESCE(SUM(d.energy_uj), 0), "
                 "COALESCE(SUM(CASE WHEN d.energy_uj IS NOT NULL THEN d.dt_us END), 0), "
                 "SUM(d.energy_uj IS NULL AND d.drop_reason IS NOT 'baseline') FROM "
                 "mirror.domains d JOIN ticks t ON t.ts_us = d.ts_us WHERE IN_TIER "
                 "GROUP BY b, d.domain_id",
                 "domains", "start_us, domain_id, energy_uj, valid_us, dropped"},
                {"SELECT B AS b, t.unit_id, t.metric_id, SUM(t.count) FROM mirror.requests t "
                 "WHERE IN_TIER GROUP BY b, t.unit_id, t.metric_id",
                 "requests", "start_us, unit_id, metric_id, count"},
        };
        for (size_t i = 0; i < ELEMENTSOF(parts); i++) {
                char raw[2048], bucket[64], in_tier[256];
                snprintf(bucket, sizeof(bucket), "((t.ts_us - 1) / %lld) * %lld", (long long)width,
                         (long long)width);
                snprintf(in_tier, sizeof(in_tier),
                         "t.ts_us <= (SELECT done_us FROM rollup_state WHERE tier = '%s')", tier);
                /* expand B and IN_TIER */
                const char *src = parts[i].raw;
                size_t o = 0;
                while (*src && o < sizeof(raw) - 300) {
                        if (strncmp(src, "IN_TIER", 7) == 0) {
                                o += (size_t)snprintf(raw + o, sizeof(raw) - o, "%s", in_tier);
                                src += 7;
                        } else if (*src == 'B' && src[1] == ' ') {
                                o += (size_t)snprintf(raw + o, sizeof(raw) - o, "%s", bucket);
                                src++;
                        } else {
                                raw[o++] = *src++;
                        }
                }
                raw[o] = '\0';
                snprintf(sql, sizeof(sql),
                         "SELECT (SELECT COUNT(*) FROM (%s EXCEPT SELECT %s FROM %s_%s)) + "
                         "(SELECT COUNT(*) FROM (SELECT %s FROM %s_%s EXCEPT %s))",
                         raw, parts[i].cols, tier, parts[i].table, parts[i].cols, tier,
                         parts[i].table, raw);
                int64_t d = sql_int(db, sql);
                if (d)
                        print_message("%s_%s: %lld rows differ from raw\n", tier, parts[i].table,
                                      (long long)d);
                total += d;
        }
        return total;
}

static void assert_tiers_equal_raw(History *h)
{
        const char *path = h->path;
        mirror_sync(h);
        sqlite3 *db = db_open(path);
        assert_int_equal(tier_diff(db, "minute", MINUTE), 0);
        assert_int_equal(tier_diff(db, "hour", HOUR), 0);
        assert_int_equal(tier_diff(db, "day", DAY), 0);
        /* conservation survives: per minute the units' energy is the host's */
        assert_int_equal(sql_int(db, "SELECT COUNT(*) FROM minute_host h WHERE h.host_uj <> "
                                     "(SELECT COALESCE(SUM(active_uj + idle_uj), 0) FROM "
                                     "minute_units u WHERE u.start_us = h.start_us)"),
                         0);
        sqlite3_close(db);
}

typedef struct RawTotals {
        int64_t host_uj, valid_us;
        int64_t active[N_UNITS + 2], idle[N_UNITS + 2], cpu[N_UNITS + 2];
        double requests[N_UNITS + 2];
} RawTotals;

/* The totals straight from the raw rows, as the code before the tiers computed them. */
static void raw_totals(sqlite3 *db, int64_t from, int64_t to, RawTotals *rt)
{
        *rt = (RawTotals){0};
        sqlite3_stmt *q;
        assert_int_equal(sqlite3_prepare_v2(db,
                                            "SELECT COALESCE(SUM(host_uj), 0), COALESCE(SUM(CASE "
                                            "WHEN host_uj IS NOT NULL THEN dt_us END), 0) FROM "
                                            "ticks WHERE ts_us > ?1 AND ts_us <= ?2",
                                            -1, &q, NULL),
                         SQLITE_OK);
        sqlite3_bind_int64(q, 1, from);
        sqlite3_bind_int64(q, 2, to);
        assert_int_equal(sqlite3_step(q), SQLITE_ROW);
        rt->host_uj = sqlite3_column_int64(q, 0);
        rt->valid_us = sqlite3_column_int64(q, 1);
        sqlite3_finalize(q);
        assert_int_equal(sqlite3_prepare_v2(db,
                                            "SELECT unit_id, SUM(active_uj), SUM(idle_uj), "
                                            "SUM(cpu_ns) FROM mirror.units WHERE ts_us > ?1 AND "
                                            "ts_us <= ?2 GROUP BY unit_id",
                                            -1, &q, NULL),
                         SQLITE_OK);
        sqlite3_bind_int64(q, 1, from);
        sqlite3_bind_int64(q, 2, to);
        while (sqlite3_step(q) == SQLITE_ROW) {
                int id = sqlite3_column_int(q, 0);
                assert_true(id > 0 && id <= N_UNITS + 1);
                rt->active[id] = sqlite3_column_int64(q, 1);
                rt->idle[id] = sqlite3_column_int64(q, 2);
                rt->cpu[id] = sqlite3_column_int64(q, 3);
        }
        sqlite3_finalize(q);
        assert_int_equal(sqlite3_prepare_v2(db,
                                            "SELECT r.unit_id, SUM(count) FROM mirror.requests r "
                                            "WHERE ts_us > ?1 AND ts_us <= ?2 AND r.metric_id = "
                                            "(SELECT id FROM request_metrics WHERE name = "
                                            "'requests') GROUP BY r.unit_id",
                                            -1, &q, NULL),
                         SQLITE_OK);
        sqlite3_bind_int64(q, 1, from);
        sqlite3_bind_int64(q, 2, to);
        while (sqlite3_step(q) == SQLITE_ROW)
                rt->requests[sqlite3_column_int(q, 0)] = sqlite3_column_double(q, 1);
        sqlite3_finalize(q);
}

static int unit_index(const char *name)
{
        if (strcmp(name, "idle") == 0)
                return N_UNITS + 1;
        return atoi(name + 1) + 1; /* u07.service: id 8 (ids follow creation order) */
}

static void assert_services_equal(Store *s, int64_t from, int64_t to, const RawTotals *rt)
{
        StoreServices sv;
        assert_int_equal(store_read_services(s, from, to, &sv), 0);
        assert_int_equal(llround(sv.host_energy_j * 1e6), rt->host_uj);
        assert_int_equal(llround(sv.seconds * 1e6), rt->valid_us);
        for (size_t i = 0; i < sv.n_units; i++) {
                const StoreUnitTotal *u = &sv.units[i];
                int id = unit_index(u->name);
                assert_int_equal(llround(u->active_j * 1e6), rt->active[id]);
                assert_int_equal(llround(u->idle_j * 1e6), rt->idle[id]);
                assert_int_equal(llround(u->cpu_s * 1e9), rt->cpu[id]);
                if (u->has_requests)
                        assert_true(u->requests == rt->requests[id]);
                else
                        assert_true(rt->requests[id] == 0);
        }
        size_t listed = 0;
        for (int id = 1; id <= N_UNITS + 1; id++)
                listed += rt->active[id] || rt->idle[id] || rt->cpu[id] || rt->requests[id];
        assert_true(sv.n_units >= listed);
        store_services_done(&sv);
}

/* store_read_periods reads the same through the tiers as from the raw rows alone (a copy of the
 * file whose rollup_state says nothing is built). */
static void assert_periods_equal_raw(const char *path, int64_t from, int64_t to)
{
        char raw_path[300], cmd[700], err[512];
        snprintf(raw_path, sizeof(raw_path), "%s.raw", path);
        snprintf(cmd, sizeof(cmd),
                 "sqlite3 '%s' \".backup '%s'\" && sqlite3 '%s' 'UPDATE rollup_state SET done_us "
                 "= NULL, kept_us = NULL'",
                 path, raw_path, raw_path);
        assert_int_equal(system(cmd), 0);
        Store *a, *b;
        assert_int_equal(store_open(path, STORE_READ_ONLY, &a, err, sizeof(err)), 0);
        assert_int_equal(store_open(raw_path, STORE_READ_ONLY, &b, err, sizeof(err)), 0);
        static const StoreBucket buckets[] = {STORE_BUCKET_MINUTE, STORE_BUCKET_HOUR,
                                              STORE_BUCKET_DAY, STORE_BUCKET_MONTH,
                                              STORE_BUCKET_ALL};
        for (size_t k = 0; k < ELEMENTSOF(buckets) * 2; k++) {
                const char *unit = k % 2 ? "u03" : NULL;
                StorePeriodRows x, y;
                assert_int_equal(store_read_periods(a, from, to, buckets[k / 2], unit, &x), 0);
                assert_int_equal(store_read_periods(b, from, to, buckets[k / 2], unit, &y), 0);
                assert_int_equal(x.n_periods, y.n_periods);
                assert_int_equal(x.n_rows, y.n_rows);
                assert_string_equal(x.hostname, y.hostname);
                for (size_t i = 0; i < x.n_periods; i++) {
                        assert_int_equal(x.periods[i].start_us, y.periods[i].start_us);
                        assert_int_equal(x.periods[i].host_uj, y.periods[i].host_uj);
                        assert_true(x.periods[i].seconds == y.periods[i].seconds);
                        assert_int_equal(x.periods[i].estimated, y.periods[i].estimated);
                }
                for (size_t i = 0; i < x.n_rows; i++) {
                        assert_int_equal(x.rows[i].period, y.rows[i].period);
                        assert_string_equal(x.rows[i].name, y.rows[i].name);
                        assert_int_equal(x.rows[i].active_uj, y.rows[i].active_uj);
                        assert_int_equal(x.rows[i].idle_uj, y.rows[i].idle_uj);
                        assert_int_equal(x.rows[i].cpu_ns, y.rows[i].cpu_ns);
                        assert_int_equal(x.rows[i].has_requests, y.rows[i].has_requests);
                        assert_true(x.rows[i].requests == y.rows[i].requests);
                }
                store_periods_done(&x);
                store_periods_done(&y);
        }
        store_close(a);
        store_close(b);
}

/* Every domain row written reads back through the store's raw relation: the plain rows and
 * those of the packed ticks, decoded (store_unpack_spans), drop reasons included. */
static void assert_domains_read_back(History *h)
{
        mirror_sync(h);
        sqlite3 *db = h->s->db;
        char sql[2048];
        snprintf(sql, sizeof(sql), "ATTACH '%s.mirror' AS mirror", h->path);
        assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
        StoreSpan all = {.tier = STORE_TIER_RAW, .lo = INT64_MIN, .hi = INT64_MAX};
        assert_int_equal(store_unpack_spans(h->s, &all, 1), 0);
        static const char *const stored =
                "SELECT t.ts_us, d.domain_id, d.energy_uj, d.drop_reason FROM ticks t JOIN "
                "domain_energy d ON d.tick_id = t.id UNION ALL SELECT t.ts_us, d.domain_id, "
                "d.energy_uj, d.drop_reason FROM ticks t JOIN temp.packed_domains d ON "
                "d.tick_id = t.id";
        static const char *const written =
                "SELECT ts_us, domain_id, energy_uj, drop_reason FROM mirror.domains";
        snprintf(sql, sizeof(sql),
                 "SELECT (SELECT COUNT(*) FROM (SELECT * FROM (%s) EXCEPT %s)) + (SELECT "
                 "COUNT(*) FROM (%s EXCEPT SELECT * FROM (%s))) + (SELECT COUNT(*) FROM (%s)) - "
                 "(SELECT COUNT(*) FROM (%s))",
                 stored, written, written, stored, stored, written);
        sqlite3_stmt *q;
        assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &q, NULL), SQLITE_OK);
        assert_int_equal(sqlite3_step(q), SQLITE_ROW);
        assert_int_equal(sqlite3_column_int64(q, 0), 0);
        sqlite3_finalize(q);
        /* most were packed; a dropped tick has no units, so its domain rows stay plain */
        assert_int_equal(sqlite3_prepare_v2(db,
                                            "SELECT (SELECT COUNT(*) FROM temp.packed_domains), "
                                            "(SELECT COUNT(*) FROM domain_energy WHERE "
                                            "drop_reason = 'implausible power')",
                                            -1, &q, NULL),
                         SQLITE_OK);
        assert_int_equal(sqlite3_step(q), SQLITE_ROW);
        assert_true(sqlite3_column_int64(q, 0) > 2 * 3 * 3600 * 95 / 100);
        assert_true(sqlite3_column_int64(q, 1) > 0);
        sqlite3_finalize(q);
        assert_int_equal(sqlite3_exec(db, "DETACH mirror", NULL, NULL, NULL), SQLITE_OK);
}

static void test_rollups_equal_raw(void **state)
{
        History h;
        history_open(&h, "rollup.db");
        /* 3 hours 10 minutes of ticks, maintained every minute as time passes */
        history_write(&h, 3 * 3600 + 600, &keep_all);
        int64_t end = h.ts;
        assert_tiers_equal_raw(&h);

        sqlite3 *db = db_open(h.path);
        /* Every tick with units is packed as it is committed (store-packed.c), the hot window
         * too: no unit row is plain, each such tick has its tick_units row, a few bytes a unit. */
        (void)end;
        assert_int_equal(sql_int(db, "SELECT COUNT(*) FROM unit_energy"), 0);
        assert_int_equal(sql_int(db, "SELECT COUNT(*) FROM tick_units"),
                         sql_int(db, "SELECT COUNT(DISTINCT ts_us) FROM mirror.units"));
        print_message("packed: %.2f bytes per unit and tick\n",
                      (double)sql_int(db, "SELECT SUM(length(data)) FROM tick_units") /
                              (double)sql_int(db, "SELECT COUNT(*) FROM mirror.units"));
        /* Conservation survives packing: tick by tick, read back from the packed values, the
         * units' energy is the host's. */
        for (int i = 0; i < 40; i++) {
                int64_t ts = sql_int(db, "SELECT ts_us FROM ticks WHERE host_uj IS NOT NULL AND "
                                         "id IN (SELECT tick_id FROM tick_units) "
                                         "ORDER BY random() LIMIT 1");
                StoreServices one;
                assert_int_equal(store_read_services(h.s, ts - 1, ts, &one), 0);
                assert_true(sqlite3_get_autocommit(h.s->db)); /* its snapshot released */
                int64_t sum = 0;
                for (size_t k = 0; k < one.n_units; k++)
                        sum += llround((one.units[k].active_j + one.units[k].idle_j) * 1e6);
                assert_int_equal(sum, llround(one.host_energy_j * 1e6));
                assert_true(one.n_units >= 1);
                store_services_done(&one);
        }
        assert_domains_read_back(&h);
        /* incremental: every complete minute is rolled, the minute in progress is not */
        assert_int_equal(
                sql_int(db, "SELECT done_us FROM rollup_state WHERE tier = 'minute'") % MINUTE, 0);
        assert_true(sql_int(db, "SELECT done_us FROM rollup_state WHERE tier = 'minute'") >
                    end - STORE_HOT_US - 2 * MINUTE);
        assert_int_equal(sql_int(db, "SELECT COUNT(*) FROM hour_host"),
                         ((end - STORE_HOT_US) / HOUR * HOUR - (T0 - 1) / HOUR * HOUR) / HOUR);
        assert_int_equal(sql_int(db, "SELECT COUNT(*) FROM day_host"), 1); /* the day T0 ends */

        /* Any range reads the same totals through the tiers as from the raw rows. */
        for (int i = 0; i < 60; i++) {
                int64_t from = T0 - MINUTE + (int64_t)rnd((uint64_t)(end - T0 + 2 * MINUTE));
                int64_t to = from + (int64_t)rnd((uint64_t)(end - from + MINUTE));
                if (i % 4 == 0) /* aligned ranges read whole rows */
                        from -= from % HOUR, to -= to % MINUTE;
                RawTotals rt;
                raw_totals(db, from, to, &rt);
                assert_services_equal(h.s, from, to, &rt);
        }

        /* A tick written after its minute, hour (and day) were rolled (a wall clock stepped
         * back, a backlog written late) is added to them. */
        int64_t late = T0 + 30 * MINUTE + 7 * SEC + 1;
        tick(&h, late, SEC);
        assert_int_equal(store_commit(h.s), 0);
        h.ts = end;
        maintain(&h, end + 2 * DAY, &keep_all, NULL); /* and the days complete */
        assert_tiers_equal_raw(&h);
        assert_true(sql_int(db, "SELECT COUNT(*) FROM day_host") >= 1);
        RawTotals rt;
        raw_totals(db, T0 - DAY, end + DAY, &rt);
        assert_services_equal(h.s, T0 - DAY, end + DAY, &rt);
        history_close(&h);
        /* reports by period too: whole range, and one starting and ending mid-minute */
        assert_periods_equal_raw(h.path, T0 - DAY, end + DAY);
        assert_periods_equal_raw(h.path, T0 + 17 * MINUTE + 5 * SEC, end - 3 * MINUTE - 7 * SEC);
        sqlite3_close(db);
}

/* A tick whose unit values a packed BLOB cannot hold (sums past 64 bits: never joulesd's, but a
 * foreign or corrupt file's) keeps its plain rows when the ticks around it are packed: packing
 * never deletes what it did not pack. */
static void test_unpackable_stays_plain(void **state)
{
        (void)state;
        History h;
        history_open(&h, "unpackable.db");
        history_write(&h, 90, &keep_all);
        int64_t odd_ts = h.ts + SEC;
        StoreUnitValue big[3];
        for (size_t i = 0; i < 3; i++)
                big[i] = (StoreUnitValue){h.units[i], UINT64_C(1) << 63, 1, 1000};
        StoreTick t = {.ts_us = odd_ts,
                       .dt_us = SEC,
                       .host_valid = true,
                       .host_uj = 3,
                       .units = big,
                       .n_units = 3};
        assert_int_equal(store_tick_append(h.s, &t), 0);
        assert_int_equal(store_commit(h.s), 0);
        h.ts = odd_ts;
        history_write(&h, 90, &keep_all);
        maintain(&h, h.ts + 10 * MINUTE, &keep_all, NULL);
        history_close(&h);
        sqlite3 *db = db_open(h.path);
        char sql[256];
        snprintf(sql, sizeof(sql),
                 "SELECT COUNT(*) FROM unit_energy e JOIN ticks t ON t.id = e.tick_id WHERE "
                 "t.ts_us = %lld AND e.active_uj = %lld",
                 (long long)odd_ts, (long long)INT64_MIN);
        assert_int_equal(sql_int(db, sql), 3);
        snprintf(sql, sizeof(sql),
                 "SELECT COUNT(*) FROM tick_units p JOIN ticks t ON t.id = p.tick_id WHERE "
                 "t.ts_us = %lld",
                 (long long)odd_ts);
        assert_int_equal(sql_int(db, sql), 0);
        /* the ticks around it were packed, and no other unit row is left */
        assert_true(sql_int(db, "SELECT COUNT(*) FROM tick_units") >= 170);
        assert_int_equal(sql_int(db, "SELECT COUNT(*) FROM unit_energy"), 3);
        sqlite3_close(db);
}

static void test_retention(void **state)
{
        History h;
        history_open(&h, "retention.db");
        const StoreRetention keep = {.raw_us = 1 * HOUR, .minute_us = 2 * HOUR, .hour_us = 0};
        history_write(&h, 4 * 3600, &keep_all);
        int64_t end = h.ts;
        mirror_sync(&h);
        sqlite3 *db = db_open(h.path);
        RawTotals all, part;
        raw_totals(db, T0 - DAY, end, &all);
        /* minute-aligned: its raw ticks are deleted, its minutes kept */
        int64_t part_from = (T0 + 150 * MINUTE) / MINUTE * MINUTE, part_to = end - 10 * MINUTE;
        raw_totals(db, part_from, part_to, &part);
        int64_t ticks = sql_int(db, "SELECT COUNT(*) FROM ticks");

        StoreStatus before;
        assert_int_equal(store_read_status(h.s, &before), 0);

        /* 3 hours of raw ticks to delete, 3600 per call: bounded batches */
        int calls;
        maintain(&h, end, &keep, &calls);
        assert_true(calls >= 3);
        int64_t kept_raw = sql_int(db, "SELECT kept_us FROM rollup_state WHERE tier = 'raw'");
        int64_t kept_min = sql_int(db, "SELECT kept_us FROM rollup_state WHERE tier = 'minute'");
        assert_int_equal(kept_raw % MINUTE, 0);
        assert_int_equal(kept_min % HOUR, 0);
        assert_true(kept_raw <= end - HOUR && kept_raw > end - HOUR - MINUTE);
        assert_true(kept_min <= end - 2 * HOUR && kept_min > end - 3 * HOUR);
        /* exactly the raw ticks past retention are gone, with their rows */
        char sql[256];
        snprintf(sql, sizeof(sql), "SELECT COUNT(*) FROM ticks WHERE ts_us <= %lld",
                 (long long)kept_raw);
        assert_int_equal(sql_int(db, sql), 0);
        assert_true(sql_int(db, "SELECT COUNT(*) FROM ticks") < ticks);
        assert_int_equal(sql_int(db, "SELECT COUNT(*) FROM unit_energy WHERE tick_id NOT IN "
                                     "(SELECT id FROM ticks)"),
                         0);
        assert_int_equal(sql_int(db, "SELECT COUNT(*) FROM unit_requests WHERE tick_id NOT IN "
                                     "(SELECT id FROM ticks)"),
                         0);
        assert_int_equal(sql_int(db, "SELECT COUNT(*) FROM tick_units WHERE tick_id NOT IN "
                                     "(SELECT id FROM ticks)"),
                         0);
        assert_int_equal(sql_int(db, "SELECT COUNT(*) FROM tick_requests WHERE tick_id NOT IN "
                                     "(SELECT id FROM ticks)"),
                         0);
        snprintf(sql, sizeof(sql), "SELECT COUNT(*) FROM minute_host WHERE start_us < %lld",
                 (long long)kept_min);
        assert_int_equal(sql_int(db, sql), 0);
        assert_true(sql_int(db, "SELECT COUNT(*) FROM minute_host") > 0);
        assert_int_equal(sql_int(db, "SELECT MIN(start_us) FROM hour_host"),
                         ((T0 - 1) / HOUR) * HOUR); /* hours kept forever */

        /* joules status still counts the whole history */
        StoreStatus after;
        assert_int_equal(store_read_status(h.s, &after), 0);
        assert_int_equal(after.samples, before.samples);
        assert_int_equal(after.dropped, before.dropped);
        assert_int_equal(after.first_us, before.first_us);
        assert_int_equal(after.last_us, before.last_us);
        assert_int_equal(llround(after.energy_j * 1e6), llround(before.energy_j * 1e6));
        assert_true(after.power_w == before.power_w);
        assert_int_equal(after.n_domains, before.n_domains);
        for (size_t i = 0; i < after.n_domains; i++) {
                assert_string_equal(after.domains[i].name, before.domains[i].name);
                assert_int_equal(llround(after.domains[i].energy_j * 1e6),
                                 llround(before.domains[i].energy_j * 1e6));
                assert_int_equal(after.domains[i].dropped, before.domains[i].dropped);
                assert_true(after.domains[i].power_w == before.domains[i].power_w);
        }
        assert_int_equal(after.ingest.accepted, before.ingest.accepted);
        assert_int_equal(after.ingest.rejected, before.ingest.rejected);
        assert_int_equal(after.ingest.malformed, before.ingest.malformed);
        store_status_done(&before);
        store_status_done(&after);

        /* The whole history still reads the same totals, now from hours, minutes and raw. */
        assert_services_equal(h.s, T0 - DAY, end, &all);
        /* a range starting where only minutes are left reads them */
        assert_services_equal(h.s, part_from, part_to, &part);
        /* a start inside a deleted minute is widened to the minute */
        StoreServices sv;
        assert_int_equal(store_read_services(h.s, kept_min + 90 * SEC, end, &sv), 0);
        assert_true(sv.first_us <= kept_min + 60 * SEC);
        store_services_done(&sv);
        sqlite3_close(db);
        history_close(&h);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_rollups_equal_raw),
                cmocka_unit_test(test_retention),
                cmocka_unit_test(test_unpackable_stays_plain),
        };
        return cmocka_run_group_tests(tests, setup, teardown);
}
