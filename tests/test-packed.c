/* Ticks packed as they are committed (storage/store-packed.c, schemas 13 and 14) against a real
 * SQLite file: their processes read back beside plain ones; each tick counted once in the minute,
 * hour and day rows and the running totals when an older joulesd's plain ticks share a minute with
 * packed ones, when packing catches up, when a tick comes late, when a commit fails midway and is
 * retried; what a packed tick cannot hold is written plain; and a damaged BLOB is left out of the
 * sums, named, instead of stopping the writer. */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <sqlite3.h>

#include "common/util.h"
#include "storage/store.h"
#include "storage/store-internal.h"
#include "tests/plain.h"

#define SEC    INT64_C(1000000)
#define MINUTE (60 * SEC)
#define T0     INT64_C(1767225600000000) /* a day boundary */

static char dir[] = "/tmp/joules-test-packed-XXXXXX";

static int setup(void **state)
{
        (void)state;
        assert_non_null(mkdtemp(dir));
        return 0;
}

static int teardown(void **state)
{
        (void)state;
        if (getenv("KEEP"))
                return 0;
        char cmd[128];
        snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
        return system(cmd) == 0 ? 0 : -1;
}

typedef struct W {
        Store *s;
        char path[256];
        int64_t u[3], dom, metric;
} W;

static void w_open(W *w, const char *name)
{
        char err[512];
        snprintf(w->path, sizeof(w->path), "%s/%s", dir, name);
        assert_int_equal(store_open(w->path, STORE_READ_WRITE, &w->s, err, sizeof(err)), 0);
        int64_t run;
        StoreRun ri = {.started_us = T0,
                       .source = "powercap",
                       .interval_us = (uint64_t)SEC,
                       .hostname = "h",
                       .weight = "cpu-time"};
        assert_int_equal(store_run_begin(w->s, &ri, &run), 0);
        assert_int_equal(store_unit_ensure(w->s, "a.service", false, &w->u[0]), 0);
        assert_int_equal(store_unit_ensure(w->s, "b.service", false, &w->u[1]), 0);
        assert_int_equal(store_unit_ensure(w->s, "idle", true, &w->u[2]), 0);
        StoreDomain pkg = {"package-0", "intel-rapl:0", "powercap", "package", false, true};
        assert_int_equal(store_domain_ensure(w->s, &pkg, &w->dom), 0);
        assert_int_equal(store_metric_ensure(w->s, "requests", &w->metric), 0);
}

/* a tick of 3 units (a: 100, b: 10, idle: 1 uJ), a domain, a request on a */
static void w_tick(W *w, int64_t ts, double count)
{
        StoreUnitValue u[3] = {{w->u[0], 100, 0, 1000}, {w->u[1], 10, 0, 100}, {w->u[2], 0, 1, 0}};
        StoreDomainValue d = {w->dom, true, 111, NULL};
        StoreRequestValue r = {w->u[0], w->metric, count};
        StoreTick t = {.ts_us = ts,
                       .dt_us = (uint64_t)SEC,
                       .host_valid = true,
                       .host_uj = 111,
                       .domains = &d,
                       .n_domains = 1,
                       .units = u,
                       .n_units = 3,
                       .requests = &r,
                       .n_requests = 1};
        assert_int_equal(store_tick_append(w->s, &t), 0);
}

/* a tick of the given units and processes (none: NULL, 0), no domain, no request */
static void w_append(W *w, int64_t ts, uint64_t host_uj, const StoreUnitValue *u, size_t nu,
                     const StoreProcValue *p, size_t np)
{
        StoreTick t = {.ts_us = ts,
                       .dt_us = (uint64_t)SEC,
                       .host_valid = true,
                       .host_uj = host_uj,
                       .units = u,
                       .n_units = nu,
                       .procs = p,
                       .n_procs = np};
        assert_int_equal(store_tick_append(w->s, &t), 0);
}

static int64_t q1(const char *path, const char *sql)
{
        sqlite3 *db;
        sqlite3_stmt *q;
        assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
        assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &q, NULL), SQLITE_OK);
        int64_t v = sqlite3_step(q) == SQLITE_ROW ? sqlite3_column_int64(q, 0) : -1;
        sqlite3_finalize(q);
        sqlite3_close(db);
        return v;
}

static void exec(const char *path, const char *sql)
{
        sqlite3 *db;
        assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
        char *e = NULL;
        int rc = sqlite3_exec(db, sql, NULL, NULL, &e);
        if (rc != SQLITE_OK)
                fail_msg("%s: %s", sql, e);
        sqlite3_close(db);
}

static const StoreRetention keep = {1000 * 86400 * SEC, 1000 * 86400 * SEC, 1000 * 86400 * SEC};

/* A unit value above INT64_MAX is not packed (the sums are int64): its tick is plain rows, as
 * before schema 13, and commits go on. */
static void test_huge_unit_value(void **state)
{
        (void)state;
        W w = {0};
        w_open(&w, "huge.db");
        StoreUnitValue u = {w.u[0], UINT64_C(1) << 63, 0, 1};
        w_append(&w, T0 + SEC, 1, &u, 1, NULL, 0);
        assert_int_equal(store_commit(w.s), 0);
        w_tick(&w, T0 + 2 * SEC, 1);
        assert_int_equal(store_commit(w.s), 0);
        store_close(w.s);
        assert_int_equal(q1(w.path, "SELECT COUNT(*) FROM unit_energy WHERE tick_id = 1"), 1);
        assert_int_equal(q1(w.path, "SELECT COUNT(*) FROM tick_units"), 1);
}

/* A negative request count (which store_unpack_requests refuses) keeps its tick plain. */
static void test_negative_request(void **state)
{
        (void)state;
        W w = {0};
        w_open(&w, "neg.db");
        w_tick(&w, T0 + SEC, -1.0);
        assert_int_equal(store_commit(w.s), 0);
        w_tick(&w, T0 + 2 * SEC, 1);
        assert_int_equal(store_commit(w.s), 0);
        store_close(w.s);
        assert_int_equal(q1(w.path, "SELECT COUNT(*) FROM unit_requests WHERE count = -1"), 1);
        assert_int_equal(q1(w.path, "SELECT COUNT(*) FROM tick_units"), 1);
}

/* A damaged packed tick in the running totals' tail (a file damaged on disk): commits, rollups
 * and the totals go on without its values, and a query over it fails naming it. */
static void test_corrupt_tail_blob(void **state)
{
        (void)state;
        W w = {0};
        w_open(&w, "corrupt.db");
        w_tick(&w, T0 + SEC, 1);
        assert_int_equal(store_commit(w.s), 0); /* the first commit flushes: tail empty after */
        w_tick(&w, T0 + 2 * SEC, 1);
        assert_int_equal(store_commit(w.s), 0); /* within a minute: no flush */
        store_close(w.s);
        exec(w.path, "UPDATE tick_units SET data = x'07' WHERE tick_id = (SELECT MAX(id) FROM "
                     "ticks)");
        w_open(&w, "corrupt.db");
        StoreTotals tt;
        assert_int_equal(store_read_totals(w.s, &tt), 0);
        assert_int_equal(tt.ticks, 2);
        assert_int_equal(tt.domains[0].energy_uj, 111); /* tick 2's is in the BLOB too */
        store_totals_done(&tt);
        w_tick(&w, T0 + 3 * SEC, 1);
        assert_int_equal(store_commit(w.s), 0); /* flushes: tick 2 left out */
        int m;
        while ((m = store_maintain(w.s, T0 + 10 * MINUTE, &keep)) == 1)
                ;
        assert_int_equal(m, 0);
        assert_int_equal(store_read_totals(w.s, &tt), 0);
        assert_int_equal(tt.ticks, 3);
        assert_int_equal(tt.host_uj, 3 * 111);
        uint64_t units = 0;
        for (size_t k = 0; k < tt.n_units; k++)
                units += tt.units[k].active_uj + tt.units[k].idle_uj;
        assert_int_equal(units, 2 * 111);
        store_totals_done(&tt);
        assert_int_equal(q1(w.path, "SELECT SUM(active_uj) FROM minute_units WHERE unit_id = 1"),
                         200);
        StoreServices sv;
        assert_true(store_read_services(w.s, T0 + SEC, T0 + 2 * SEC, &sv) < 0);
        assert_string_equal(store_last_error(w.s), "tick 2: malformed packed units");
        store_close(w.s);
}

/* A packed unit id past PACKED_ID_MAX (a foreign or damaged BLOB) is left out the same way. */
static void test_big_id_blob(void **state)
{
        (void)state;
        W w = {0};
        w_open(&w, "bigid.db");
        w_tick(&w, T0 + SEC, 1);
        assert_int_equal(store_commit(w.s), 0);
        w_tick(&w, T0 + 2 * SEC, 1);
        assert_int_equal(store_commit(w.s), 0);
        store_close(w.s);
        StoreUnitValue u = {20000000, 5, 0, 5};
        uint8_t buf[256];
        assert_true(store_pack_bound(1) <= sizeof(buf));
        size_t len = store_pack_units(&u, 1, buf);
        sqlite3 *db;
        sqlite3_stmt *q;
        assert_int_equal(sqlite3_open(w.path, &db), SQLITE_OK);
        assert_int_equal(sqlite3_prepare_v2(db,
                                            "UPDATE tick_units SET data = ?1 WHERE tick_id = "
                                            "(SELECT MAX(id) FROM ticks)",
                                            -1, &q, NULL),
                         SQLITE_OK);
        sqlite3_bind_blob(q, 1, buf, (int)len, SQLITE_STATIC);
        assert_int_equal(sqlite3_step(q), SQLITE_DONE);
        sqlite3_finalize(q);
        sqlite3_close(db);
        w_open(&w, "bigid.db");
        StoreTotals tt;
        assert_int_equal(store_read_totals(w.s, &tt), 0);
        assert_int_equal(tt.ticks, 2);
        uint64_t units = 0;
        for (size_t k = 0; k < tt.n_units; k++)
                units += tt.units[k].active_uj + tt.units[k].idle_uj;
        assert_int_equal(units, 111); /* tick 2 left out, not read as out of memory */
        store_totals_done(&tt);
        store_close(w.s);
}

/* An older joulesd's plain ticks in a minute, then packed ticks in the same minute, then a
 * late packed tick and a late plain one: the minute, hour and day rows and the totals count
 * each tick once. */
static void check_minute(const char *path, int64_t bucket, int64_t n_ticks)
{
        char sql[512];
        snprintf(sql, sizeof(sql),
                 "SELECT active_uj FROM minute_units WHERE start_us = %lld AND unit_id = 1",
                 (long long)bucket);
        int64_t a = q1(path, sql);
        snprintf(sql, sizeof(sql), "SELECT energy_uj FROM minute_domains WHERE start_us = %lld",
                 (long long)bucket);
        int64_t d = q1(path, sql);
        snprintf(sql, sizeof(sql),
                 "SELECT CAST(count AS INTEGER) FROM minute_requests WHERE start_us = %lld",
                 (long long)bucket);
        int64_t c = q1(path, sql);
        snprintf(sql, sizeof(sql), "SELECT ticks FROM minute_host WHERE start_us = %lld",
                 (long long)bucket);
        int64_t h = q1(path, sql);
        assert_int_equal(h, n_ticks);
        assert_int_equal(a, 100 * n_ticks);
        assert_int_equal(d, 111 * n_ticks);
        assert_int_equal(c, 2 * n_ticks);
}

static void check_totals(W *w, int64_t n_ticks)
{
        StoreTotals tt;
        assert_int_equal(store_read_totals(w->s, &tt), 0);
        assert_int_equal(tt.ticks, n_ticks);
        assert_int_equal(tt.host_uj, 111 * n_ticks);
        uint64_t sum = 0;
        for (size_t k = 0; k < tt.n_units; k++)
                sum += tt.units[k].active_uj + tt.units[k].idle_uj;
        assert_int_equal(sum, 111 * n_ticks);
        assert_int_equal(tt.n_domains, 1);
        assert_int_equal(tt.domains[0].energy_uj, 111 * n_ticks);
        assert_int_equal(tt.n_requests, 1);
        assert_true(tt.requests[0].count == 2.0 * (double)n_ticks);
        store_totals_done(&tt);
}

static void test_upgrade_mixed_minute(void **state)
{
        (void)state;
        W w = {0};
        w_open(&w, "mixed.db");
        /* minute [T0, T0+1min): 20 ticks by the "old joulesd" (made plain below) */
        for (int i = 1; i <= 20; i++)
                w_tick(&w, T0 + i * SEC, 2);
        assert_int_equal(store_commit(w.s), 0);
        assert_int_equal(store_maintain(w.s, T0 + 30 * SEC, &keep), 0); /* tiers start */
        store_close(w.s);
        sqlite3 *db;
        char err[256];
        assert_int_equal(sqlite3_open(w.path, &db), SQLITE_OK);
        assert_int_equal(plain_expand(db, err, sizeof(err)), 0);
        sqlite3_close(db);
        assert_int_equal(q1(w.path, "SELECT COUNT(*) FROM tick_units"), 0);
        /* the new joulesd: 20 more in the same minute, and the next minute */
        w_open(&w, "mixed.db");
        for (int i = 21; i <= 40; i++)
                w_tick(&w, T0 + i * SEC, 2);
        for (int i = 61; i <= 70; i++)
                w_tick(&w, T0 + i * SEC, 2);
        assert_int_equal(store_commit(w.s), 0);
        check_totals(&w, 50);
        int m;
        while ((m = store_maintain(w.s, T0 + 10 * MINUTE, &keep)) == 1)
                ;
        assert_int_equal(m, 0);
        check_minute(w.path, T0, 40);
        check_minute(w.path, T0 + MINUTE, 10);
        check_totals(&w, 50);
        assert_int_equal(q1(w.path, "SELECT COUNT(*) FROM unit_energy"), 0);
        /* late: a packed tick in the first minute, and a plain one (a unit id past
         * PACKED_ID_MAX keeps it plain) in the second */
        w_tick(&w, T0 + 45 * SEC, 2);
        assert_int_equal(store_commit(w.s), 0);
        check_totals(&w, 51);
        while ((m = store_maintain(w.s, T0 + 11 * MINUTE, &keep)) == 1)
                ;
        assert_int_equal(m, 0);
        check_minute(w.path, T0, 41);
        check_totals(&w, 51);
        /* hours and days: 51 ticks so far */
        while ((m = store_maintain(w.s, T0 + 2 * 86400 * SEC, &keep)) == 1)
                ;
        assert_int_equal(m, 0);
        assert_int_equal(q1(w.path, "SELECT SUM(ticks) FROM hour_host"), 51);
        assert_int_equal(q1(w.path, "SELECT SUM(active_uj) FROM hour_units WHERE unit_id = 1"),
                         5100);
        assert_int_equal(q1(w.path, "SELECT SUM(active_uj) FROM day_units WHERE unit_id = 1"),
                         5100);
        /* a late tick into the built hour and day */
        w_tick(&w, T0 + 50 * SEC, 2);
        assert_int_equal(store_commit(w.s), 0);
        while ((m = store_maintain(w.s, T0 + 2 * 86400 * SEC + MINUTE, &keep)) == 1)
                ;
        assert_int_equal(m, 0);
        check_minute(w.path, T0, 42);
        assert_int_equal(q1(w.path, "SELECT SUM(active_uj) FROM hour_units WHERE unit_id = 1"),
                         5200);
        assert_int_equal(q1(w.path, "SELECT SUM(active_uj) FROM day_units WHERE unit_id = 1"),
                         5200);
        assert_int_equal(q1(w.path, "SELECT SUM(energy_uj) FROM day_domains"), 111 * 52);
        check_totals(&w, 52);
        store_close(w.s);
}

/* A unit id past PACKED_ID_MAX keeps the tick plain, and its minute still has the unit
 * (pack_and_roll adds an id no array holds on its own). */
static void test_big_id_plain_minute(void **state)
{
        (void)state;
        W w = {0};
        w_open(&w, "bigplain.db");
        int64_t big = 20000000;
        exec(w.path, "INSERT INTO units (id, name, pseudo) VALUES (20000000, 'big.service', 0)");
        for (int i = 1; i <= 5; i++) {
                StoreUnitValue u[2] = {{w.u[0], 100, 0, 1}, {big, 7, 0, 1}};
                w_append(&w, T0 + i * SEC, 107, u, 2, NULL, 0);
        }
        assert_int_equal(store_commit(w.s), 0);
        assert_int_equal(q1(w.path, "SELECT COUNT(*) FROM unit_energy"), 10);
        int m;
        while ((m = store_maintain(w.s, T0 + 10 * MINUTE, &keep)) == 1)
                ;
        assert_int_equal(m, 0);
        int64_t a = q1(w.path, "SELECT COALESCE(SUM(active_uj), -1) FROM minute_units WHERE "
                               "unit_id = 20000000");
        assert_int_equal(a, 35);
        store_close(w.s);
}

/* packed_sums_write's sparse parameters: a statement with only ?2, ?3, ?5 takes the values
 * bound to those, and a bind past the last is SQLITE_RANGE. */
static void test_sparse_params(void **state)
{
        (void)state;
        sqlite3 *db;
        sqlite3_stmt *q;
        assert_int_equal(sqlite3_open(":memory:", &db), SQLITE_OK);
        assert_int_equal(sqlite3_exec(db, "CREATE TABLE t (a, b, c)", NULL, NULL, NULL), SQLITE_OK);
        assert_int_equal(sqlite3_prepare_v2(db, "INSERT INTO t VALUES (?2, ?3, ?5)", -1, &q, NULL),
                         SQLITE_OK);
        assert_int_equal(sqlite3_bind_parameter_count(q), 5);
        for (int i = 1; i <= 5; i++)
                assert_int_equal(sqlite3_bind_int64(q, i, i * 10), SQLITE_OK);
        assert_int_equal(sqlite3_bind_int64(q, 6, 60), SQLITE_RANGE);
        assert_int_equal(sqlite3_step(q), SQLITE_DONE);
        sqlite3_finalize(q);
        assert_int_equal(sqlite3_prepare_v2(db, "SELECT a, b, c FROM t", -1, &q, NULL), SQLITE_OK);
        assert_int_equal(sqlite3_step(q), SQLITE_ROW);
        assert_int_equal(sqlite3_column_int64(q, 0), 20);
        assert_int_equal(sqlite3_column_int64(q, 1), 30);
        assert_int_equal(sqlite3_column_int64(q, 2), 50);
        sqlite3_finalize(q);
        sqlite3_close(db);
}

/* Catch-up: packing behind the minutes (a file from before packing), plain ticks there, and
 * ticks packed at commit after them, over more than ROLLUP_TICKS. */
static void test_catch_up(void **state)
{
        (void)state;
        W w = {0};
        w_open(&w, "catchup.db");
        for (int i = 1; i <= 4000; i++)
                w_tick(&w, T0 + i * SEC, 2);
        assert_int_equal(store_commit(w.s), 0);
        int m;
        while ((m = store_maintain(w.s, T0 + 4000 * SEC + 10 * MINUTE, &keep)) == 1)
                ;
        assert_int_equal(m, 0);
        store_close(w.s);
        sqlite3 *db;
        char err[256];
        assert_int_equal(sqlite3_open(w.path, &db), SQLITE_OK);
        assert_int_equal(plain_expand(db, err, sizeof(err)), 0);
        sqlite3_close(db);
        exec(w.path, "UPDATE rollup_state SET done_us = 1767225600000000 WHERE tier = 'packed'");
        w_open(&w, "catchup.db");
        for (int i = 4001; i <= 4600; i++)
                w_tick(&w, T0 + i * SEC, 2);
        assert_int_equal(store_commit(w.s), 0);
        int passes = 0;
        while ((m = store_maintain(w.s, T0 + 4600 * SEC + 10 * MINUTE, &keep)) == 1)
                passes++;
        assert_int_equal(m, 0);
        assert_true(passes >= 1); /* more than ROLLUP_TICKS: several passes */
        assert_int_equal(q1(w.path, "SELECT SUM(ticks) FROM minute_host"), 4600);
        assert_int_equal(q1(w.path, "SELECT SUM(active_uj) FROM minute_units WHERE unit_id = 1"),
                         460000);
        assert_int_equal(q1(w.path, "SELECT SUM(energy_uj) FROM minute_domains"), 111 * 4600);
        assert_int_equal(q1(w.path, "SELECT CAST(SUM(count) AS INTEGER) FROM minute_requests"),
                         2 * 4600);
        assert_int_equal(q1(w.path, "SELECT COUNT(*) FROM tick_units"), 4600);
        assert_int_equal(q1(w.path, "SELECT COUNT(*) FROM unit_energy"), 0);
        check_totals(&w, 4600);
        store_close(w.s);
}

/* A commit failing midway (in store_tick_pack's insert, then in the totals' flush) and
 * retried: each tick once everywhere. */
static void test_failed_commit_retry(void **state)
{
        (void)state;
        W w = {0};
        w_open(&w, "retry.db");
        sqlite3 *db;
        assert_int_equal(sqlite3_open(w.path, &db), SQLITE_OK);
        assert_int_equal(sqlite3_exec(db,
                                      "CREATE TRIGGER f1 BEFORE INSERT ON tick_units WHEN "
                                      "NEW.tick_id = 3 BEGIN SELECT RAISE(ABORT, 'inj1'); END;"
                                      "CREATE TRIGGER f2 BEFORE UPDATE ON total_host "
                                      "BEGIN SELECT RAISE(ABORT, 'inj2'); END;",
                                      NULL, NULL, NULL),
                         SQLITE_OK);
        for (int i = 1; i <= 5; i++)
                w_tick(&w, T0 + i * SEC, 2);
        int r = store_commit(w.s);
        assert_true(r < 0);
        assert_int_equal(sqlite3_exec(db, "DROP TRIGGER f1", NULL, NULL, NULL), SQLITE_OK);
        r = store_commit(w.s);
        assert_true(r < 0);
        assert_int_equal(sqlite3_exec(db, "DROP TRIGGER f2", NULL, NULL, NULL), SQLITE_OK);
        sqlite3_close(db);
        for (int i = 6; i <= 8; i++)
                w_tick(&w, T0 + i * SEC, 2);
        assert_int_equal(store_commit(w.s), 0);
        check_totals(&w, 8);
        assert_int_equal(q1(w.path, "SELECT COUNT(*) FROM tick_units"), 8);
        assert_int_equal(q1(w.path, "SELECT COUNT(*) FROM ticks"), 8);
        int m;
        while ((m = store_maintain(w.s, T0 + 10 * MINUTE, &keep)) == 1)
                ;
        assert_int_equal(m, 0);
        check_minute(w.path, T0, 8);
        check_totals(&w, 8);
        store_close(w.s);
}

/* The totals' tail holding an older joulesd's plain ticks and packed ones: read, flushed. */
/* a tick of w_tick's units with processes: a's two (pid 7 "web", pid 3 "w\x1b[2J" with 60 and 40
 * uJ), b's one; counted: its processes' perf counts too (they then stay rows, schema 14) */
static void w_tick_procs(W *w, int64_t ts, bool counted)
{
        StoreUnitValue u[3] = {{w->u[0], 100, 0, 1000}, {w->u[1], 10, 0, 100}, {w->u[2], 0, 1, 0}};
        StoreProcValue p[3] = {{w->u[0], 7, 700, "web", 60, 0, 600},
                               {w->u[1], 9, 900, "db", 10, 0, 100},
                               {w->u[0], 3, 300, "w\x1b[2J", 40, 0, 400}};
        StoreProcCounterValue c = {w->u[0], 7, 700, 1, 5000};
        StoreDomainValue d = {w->dom, true, 111, NULL};
        StoreTick t = {.ts_us = ts,
                       .dt_us = (uint64_t)SEC,
                       .host_valid = true,
                       .host_uj = 111,
                       .domains = &d,
                       .n_domains = 1,
                       .units = u,
                       .n_units = 3,
                       .procs = p,
                       .n_procs = 3,
                       .proc_counters = counted ? &c : NULL,
                       .n_proc_counters = counted ? 1 : 0};
        assert_int_equal(store_tick_append(w->s, &t), 0);
}

/* Schema 14: a tick's processes ride in its tick_units row, unless the writer counts their perf
 * events; the readers sum packed and plain alike, and the plain copy the tests read has every
 * row. */
static void test_procs_packed(void **state)
{
        (void)state;
        W w = {0};
        w_open(&w, "procs.db");
        int64_t ev;
        assert_int_equal(store_event_ensure(w.s, "task-clock", &ev), 0);
        assert_int_equal(ev, 1); /* w_tick_procs counts event 1 */
        /* as joulesd does: packed, then rows while it counts the processes' events */
        store_set_pack_procs(w.s, true);
        w_tick_procs(&w, T0 + SEC, false);
        assert_int_equal(store_commit(w.s), 0);
        store_set_pack_procs(w.s, false);
        w_tick_procs(&w, T0 + 2 * SEC, true);
        assert_int_equal(store_commit(w.s), 0);
        store_set_pack_procs(w.s, true);
        w_tick_procs(&w, T0 + 3 * SEC, false);
        assert_int_equal(store_commit(w.s), 0);
        assert_int_equal(q1(w.path, "SELECT COUNT(*) FROM tick_units WHERE procs IS NOT NULL"), 2);
        assert_int_equal(q1(w.path, "SELECT COUNT(DISTINCT tick_id) FROM process_energy"), 1);
        assert_int_equal(q1(w.path, "SELECT COUNT(*) FROM process_energy"), 3);

        StoreProcTotal *pt;
        size_t n;
        assert_int_equal(store_read_processes(w.s, T0, T0 + 3 * SEC, 10, &pt, &n), 0);
        assert_int_equal(n, 3);
        assert_string_equal(pt[0].unit, "a.service"); /* by unit, then energy */
        assert_int_equal(pt[0].pid, 7);
        assert_string_equal(pt[0].comm, "web");
        assert_true(fabs(pt[0].energy_j - 180e-6) < 1e-12);
        assert_true(fabs(pt[0].cpu_s - 1800e-9) < 1e-15);
        assert_int_equal(pt[1].pid, 3);
        assert_string_equal(pt[1].comm, "w\x1b[2J"); /* the bytes as given */
        assert_true(fabs(pt[1].energy_j - 120e-6) < 1e-12);
        assert_string_equal(pt[2].unit, "b.service");
        assert_true(fabs(pt[2].energy_j - 30e-6) < 1e-12);
        free(pt);
        /* one tick, packed */
        assert_int_equal(store_read_processes(w.s, T0 + 2 * SEC, T0 + 3 * SEC, 1, &pt, &n), 0);
        assert_int_equal(n, 2);
        assert_int_equal(pt[0].pid, 7);
        assert_true(fabs(pt[0].energy_j - 60e-6) < 1e-12);
        free(pt);

        StoreProcesses pl;
        assert_int_equal(store_read_process_list(w.s, T0, T0 + 3 * SEC, "a.service", &pl), 0);
        assert_int_equal(pl.n_procs, 2);
        assert_int_equal(pl.n_events, 1);
        assert_int_equal(pl.procs[0].pid, 7);
        assert_true(fabs(pl.procs[0].energy_j - 180e-6) < 1e-12);
        assert_true(pl.procs[0].events[0] == 5000);
        assert_int_equal(pl.procs[1].pid, 3);
        assert_true(isnan(pl.procs[1].events[0]));
        store_processes_done(&pl);

        /* the plain copy: every process a row, the packed ones' as they were given */
        char err[256];
        sqlite3 *db = plain_open(w.path, err, sizeof(err));
        assert_non_null(db);
        sqlite3_stmt *q;
        assert_int_equal(sqlite3_prepare_v2(db,
                                            "SELECT COUNT(*), SUM(active_uj), SUM(cpu_ns), "
                                            "SUM(pid * start_time), GROUP_CONCAT(comm, '|') FROM "
                                            "(SELECT * FROM process_energy ORDER BY tick_id, "
                                            "unit_id, pid)",
                                            -1, &q, NULL),
                         SQLITE_OK);
        assert_int_equal(sqlite3_step(q), SQLITE_ROW);
        assert_int_equal(sqlite3_column_int64(q, 0), 9);
        assert_int_equal(sqlite3_column_int64(q, 1), 3 * 110);
        assert_int_equal(sqlite3_column_int64(q, 2), 3 * 1100);
        assert_int_equal(sqlite3_column_int64(q, 3), 3 * (4900 + 8100 + 900));
        assert_string_equal((const char *)sqlite3_column_text(q, 4),
                            "w\x1b[2J|web|db|w\x1b[2J|web|db|w\x1b[2J|web|db");
        sqlite3_finalize(q);
        sqlite3_close(db);
        store_close(w.s);
}

/* A process the format cannot hold (a value past int64) keeps the whole tick plain, as a unit
 * does; and a damaged processes BLOB is named by the readers, the other ticks untouched. */
static void test_procs_plain_and_damaged(void **state)
{
        (void)state;
        W w = {0};
        w_open(&w, "procs-bad.db");
        store_set_pack_procs(w.s, true);
        StoreUnitValue u = {w.u[0], 100, 0, 1000};
        StoreProcValue p = {w.u[0], 5, 500, "big", (uint64_t)INT64_MAX + 1, 0, 1};
        w_append(&w, T0 + SEC, 100, &u, 1, &p, 1);
        w_tick_procs(&w, T0 + 2 * SEC, false);
        assert_int_equal(store_commit(w.s), 0);
        assert_int_equal(q1(w.path, "SELECT COUNT(*) FROM tick_units"), 1);
        assert_int_equal(q1(w.path, "SELECT COUNT(*) FROM process_energy"), 1);
        assert_int_equal(q1(w.path, "SELECT COUNT(*) FROM unit_energy"), 1);
        store_close(w.s);
        exec(w.path, "UPDATE tick_units SET procs = x'0101' WHERE tick_id = 2");
        w_open(&w, "procs-bad.db");
        StoreProcTotal *pt = NULL;
        size_t n;
        assert_true(store_read_processes(w.s, T0, T0 + 2 * SEC, 10, &pt, &n) < 0);
        assert_string_equal(store_last_error(w.s), "tick 2: malformed packed processes");
        assert_int_equal(store_read_processes(w.s, T0, T0 + SEC, 10, &pt, &n), 0);
        assert_int_equal(n, 1);
        assert_string_equal(pt[0].comm, "big");
        free(pt);
        char err[256];
        assert_null(plain_open(w.path, err, sizeof(err)));
        assert_string_equal(err, "tick 2: tick_units.procs: malformed BLOB");
        store_close(w.s);
}

/* The readers add packed processes up per process and name (storage/store-procs.c): a renamed
 * process (an exec keeps its pid and start time) is one process with the sums of both names; 600
 * processes over 40 ticks sum as their rows would; a sum past int64 is an error naming its tick,
 * as SQLite's SUM over rows is. */
static void test_procs_summed(void **state)
{
        (void)state;
        W w = {0};
        w_open(&w, "procs-sum.db");
        store_set_pack_procs(w.s, true);
        enum { NP = 600, NT = 40 };
        StoreProcValue *p = calloc(NP, sizeof(*p));
        assert_non_null(p);
        for (int t = 1; t <= NT; t++) {
                StoreUnitValue u[2] = {{w.u[0], 1000, 0, 1000}, {w.u[1], 1000, 0, 1000}};
                for (int k = 0; k < NP; k++)
                        p[k] = (StoreProcValue){
                                w.u[k % 2],  100 + k,
                                (uint64_t)k, k == 0 ? (t == 1 ? "sh" : "nginx") : "worker",
                                (uint64_t)k, 1,
                                (uint64_t)t};
                w_append(&w, T0 + t * SEC, 2000, u, 2, p, NP);
        }
        free(p);
        assert_int_equal(store_commit(w.s), 0);
        assert_int_equal(q1(w.path, "SELECT COUNT(*) FROM process_energy"), 0);
        StoreProcTotal *pt;
        size_t n;
        assert_int_equal(store_read_processes(w.s, T0, T0 + NT * SEC, NP, &pt, &n), 0);
        assert_int_equal(n, NP);
        for (size_t k = 0; k < n; k++) {
                int i = pt[k].pid - 100;
                assert_true(i >= 0 && i < NP);
                assert_true(fabs(pt[k].energy_j - NT * (i + 1) * 1e-6) < 1e-9);
                assert_true(fabs(pt[k].cpu_s - NT * (NT + 1) / 2 * 1e-9) < 1e-15);
                assert_string_equal(pt[k].comm, i == 0 ? "nginx" : "worker"); /* the newest */
        }
        free(pt);
        StoreProcesses pl;
        assert_int_equal(store_read_process_list(w.s, T0, T0 + NT * SEC, "a.service", &pl), 0);
        assert_int_equal(pl.n_procs, NP / 2);
        const StoreProcess *first = NULL;
        for (size_t k = 0; k < pl.n_procs; k++)
                if (pl.procs[k].pid == 100)
                        first = &pl.procs[k];
        assert_non_null(first);
        assert_string_equal(first->comm, "sh"); /* MAX(comm), as over the rows */
        assert_true(fabs(first->energy_j - NT * 1e-6) < 1e-12);
        store_processes_done(&pl);
        store_close(w.s);

        /* two ticks of a process at INT64_MAX each */
        w_open(&w, "procs-overflow.db");
        store_set_pack_procs(w.s, true);
        for (int t = 1; t <= 2; t++) {
                StoreUnitValue u = {w.u[0], 1, 0, 1};
                StoreProcValue v = {w.u[0], 5, 1, "big", INT64_MAX, 0, 1};
                w_append(&w, T0 + t * SEC, 1, &u, 1, &v, 1);
        }
        assert_int_equal(store_commit(w.s), 0);
        pt = NULL;
        assert_true(store_read_processes(w.s, T0, T0 + 2 * SEC, 10, &pt, &n) < 0);
        assert_string_equal(store_last_error(w.s),
                            "tick 2: adding up its packed processes: integer overflow");
        assert_int_equal(store_read_processes(w.s, T0, T0 + SEC, 10, &pt, &n), 0);
        assert_int_equal(n, 1);
        free(pt);
        store_close(w.s);
}

/* A process counted in a range without a row there is named from its last stored tick before
 * the range (joules processes): a joulesd counting the processes' events leaves them rows (the
 * store's default), which keep every tick's names. */
static void test_procs_counted_named_before(void **state)
{
        (void)state;
        W w = {0};
        w_open(&w, "procs-counted.db");
        int64_t ev;
        assert_int_equal(store_event_ensure(w.s, "perf::TASK-CLOCK", &ev), 0);
        StoreUnitValue u[2] = {{w.u[0], 1000, 0, 1000}, {w.u[1], 1000, 0, 1000}};
        StoreProcValue p = {w.u[0], 100, 5000, "sleeper", 10, 0, 1};
        w_append(&w, T0 + SEC, 2000, u, 2, &p, 1);
        StoreProcCounterValue c = {w.u[0], 100, 5000, ev, 42};
        StoreTick t2 = {.ts_us = T0 + 2 * SEC,
                        .dt_us = (uint64_t)SEC,
                        .host_valid = true,
                        .host_uj = 2000,
                        .units = u,
                        .n_units = 2,
                        .proc_counters = &c,
                        .n_proc_counters = 1};
        assert_int_equal(store_tick_append(w.s, &t2), 0);
        assert_int_equal(store_commit(w.s), 0);
        assert_int_equal(q1(w.path, "SELECT COUNT(*) FROM tick_units WHERE procs IS NOT NULL"), 0);
        StoreProcesses pl;
        assert_int_equal(store_read_process_list(w.s, T0 + SEC, T0 + 2 * SEC, NULL, &pl), 0);
        assert_int_equal(pl.n_procs, 1);
        assert_true(pl.procs[0].events[0] == 42);
        assert_string_equal(pl.procs[0].comm, "sleeper");
        store_processes_done(&pl);
        store_close(w.s);
}

static void test_mixed_tail(void **state)
{
        (void)state;
        W w = {0};
        w_open(&w, "tail.db");
        for (int i = 1; i <= 10; i++)
                w_tick(&w, T0 + i * SEC, 2);
        assert_int_equal(store_commit(w.s), 0); /* flushes */
        for (int i = 11; i <= 20; i++)
                w_tick(&w, T0 + i * SEC, 2);
        assert_int_equal(store_commit(w.s), 0); /* does not */
        store_close(w.s);
        assert_int_equal(q1(w.path, "SELECT through_tick FROM total_host"), 10);
        sqlite3 *db;
        char err[256];
        assert_int_equal(sqlite3_open(w.path, &db), SQLITE_OK);
        assert_int_equal(plain_expand(db, err, sizeof(err)), 0);
        sqlite3_close(db);
        w_open(&w, "tail.db");
        check_totals(&w, 20);
        for (int i = 21; i <= 30; i++)
                w_tick(&w, T0 + i * SEC, 2);
        assert_int_equal(store_commit(w.s), 0); /* the reopened store's first: flushes */
        assert_int_equal(q1(w.path, "SELECT through_tick FROM total_host"), 30);
        check_totals(&w, 30);
        for (int i = 31; i <= 40; i++)
                w_tick(&w, T0 + i * SEC, 2);
        assert_int_equal(store_commit(w.s), 0);
        check_totals(&w, 40);
        int m;
        while ((m = store_maintain(w.s, T0 + 10 * MINUTE, &keep)) == 1)
                ;
        assert_int_equal(m, 0);
        check_totals(&w, 40);
        check_minute(w.path, T0, 40);
        store_close(w.s);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_sparse_params),
                cmocka_unit_test(test_upgrade_mixed_minute),
                cmocka_unit_test(test_huge_unit_value),
                cmocka_unit_test(test_negative_request),
                cmocka_unit_test(test_corrupt_tail_blob),
                cmocka_unit_test(test_big_id_blob),
                cmocka_unit_test(test_big_id_plain_minute),
                cmocka_unit_test(test_catch_up),
                cmocka_unit_test(test_failed_commit_retry),
                cmocka_unit_test(test_mixed_tail),
                cmocka_unit_test(test_procs_packed),
                cmocka_unit_test(test_procs_plain_and_damaged),
                cmocka_unit_test(test_procs_summed),
                cmocka_unit_test(test_procs_counted_named_before),
        };
        return cmocka_run_group_tests(tests, setup, teardown);
}
