/* The history on a real SQLite file: what the daemon appends is what the CLI reads. */
#include <errno.h>
#include <fcntl.h>
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
#include "storage/store-internal.h" /* store_cached */
#include "tests/plain.h"

static char dir[] = "/tmp/joules-test-store-XXXXXX";

static int setup(void **state)
{
        assert_non_null(mkdtemp(dir));
        return 0;
}

static int teardown(void **state)
{
        char cmd[128];
        snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
        return system(cmd) == 0 ? 0 : -1;
}

static void path_in_dir(char *buf, size_t size, const char *name)
{
        assert_int_equal(path_fmt(buf, size, "%s/%s", dir, name), 0);
}

static void test_roundtrip(void **state)
{
        char path[256], err[512];
        path_in_dir(path, sizeof(path), "a.db");
        Store *s;
        assert_int_equal(store_open(path, STORE_READ_WRITE, &s, err, sizeof(err)), 0);
        assert_int_equal(store_schema_version(s), store_schema_latest());
        assert_true(store_schema_latest() >= 3);
        int64_t run;
        StoreRun ri = {
                .started_us = 1000, .source = "powercap", .interval_us = 1000000, .hostname = "h1"};
        assert_int_equal(store_run_begin(s, &ri, &run), 0);
        int64_t pkg, core, pkg2;
        StoreDomain d1 = {"package-0", "intel-rapl:0", "powercap", "package", false, true};
        StoreDomain d2 = {"package-0/core", "intel-rapl:0:0", "powercap", "core", false, false};
        assert_int_equal(store_domain_ensure(s, &d1, &pkg), 0);
        assert_int_equal(store_domain_ensure(s, &d2, &core), 0);
        assert_int_equal(store_domain_ensure(s, &d1, &pkg2), 0);
        assert_int_equal(pkg, pkg2); /* found again, not duplicated */
        int64_t ua, ub, ui;
        assert_int_equal(store_unit_ensure(s, "a.service", false, &ua), 0);
        assert_int_equal(store_unit_ensure(s, "b.service", false, &ub), 0);
        assert_int_equal(store_unit_ensure(s, "idle", true, &ui), 0);

        /* 120 ticks of 1 s at 20 W (package) of which 5 W core; tick 50 dropped */
        int64_t ev;
        assert_int_equal(store_event_ensure(s, "instructions", &ev), 0);
        int64_t t0 = INT64_C(1767225600000000);
        for (int i = 1; i <= 120; i++) {
                bool drop = i == 50;
                StoreDomainValue dv[2] = {
                        {.domain_id = pkg,
                         .valid = !drop,
                         .energy_uj = 20000000,
                         .drop_reason = drop ? "implausible power" : NULL},
                        {.domain_id = core, .valid = true, .energy_uj = 5000000},
                };
                StoreUnitValue uv[3] = {
                        {ua, 10000000, 2000000, 500000000},
                        {ub, 5000000, 1000000, 250000000},
                        {ui, 0, 2000000, 0},
                };
                /* a.service's instructions: 3e9 a tick, more than 2^32 */
                StoreCounterValue cv[1] = {{ua, ev, UINT64_C(3000000000)}};
                StoreTick t = {.ts_us = t0 + i * INT64_C(1000000),
                               .dt_us = 1000000,
                               .host_valid = !drop,
                               .host_uj = 20000000,
                               .domains = dv,
                               .n_domains = 2,
                               .units = drop ? NULL : uv,
                               .n_units = drop ? 0 : 3,
                               .counters = drop ? NULL : cv,
                               .n_counters = drop ? 0 : 1};
                assert_int_equal(store_tick_append(s, &t), 0);
                if (i % 10 == 0)
                        assert_int_equal(store_commit(s), 0);
        }
        assert_int_equal(store_run_end(s, t0 + 121000000), 0);
        store_close(s);

        assert_int_equal(store_open(path, STORE_READ_ONLY, &s, err, sizeof(err)), 0);
        StoreStatus st;
        assert_int_equal(store_read_status(s, &st), 0);
        assert_false(st.empty);
        assert_int_equal(st.samples, 120);
        assert_int_equal(st.dropped, 1);
        assert_true(fabs(st.energy_j - 119 * 20.0) < 1e-9);
        assert_true(fabs(st.power_w - 20.0) < 1e-9);
        assert_int_equal(st.first_us, t0);
        assert_int_equal(st.last_us, t0 + 120000000);
        assert_string_equal(st.source, "powercap");
        assert_string_equal(st.hostname, "h1");
        assert_int_equal(st.n_domains, 2);
        assert_string_equal(st.domains[0].name, "package-0"); /* in-host first */
        assert_true(st.domains[0].in_host);
        assert_int_equal(st.domains[0].dropped, 1);
        assert_true(fabs(st.domains[1].power_w - 5.0) < 1e-9);
        store_status_done(&st);

        StoreServices sv;
        assert_int_equal(store_read_services(s, t0 + 100000000, t0 + 120000000, &sv), 0);
        assert_true(fabs(sv.host_energy_j - 20 * 20.0) < 1e-9);
        assert_int_equal(sv.n_units, 3);
        assert_string_equal(sv.units[0].name, "a.service");
        double sum = 0;
        for (size_t i = 0; i < sv.n_units; i++)
                sum += sv.units[i].active_j + sv.units[i].idle_j;
        assert_true(fabs(sum - sv.host_energy_j) < 1e-6);
        assert_true(fabs(sv.units[0].cpu_s - 10.0) < 1e-9);
        store_services_done(&sv);

        /* per unit and event over (from, to]: 20 ticks, or 9 around the dropped tick 50 */
        static const struct {
                int64_t from_s, to_s;
                const char *unit, *event;
                int r;
                double sum;
        } crows[] = {
                {100, 120, "a.service", "instructions", 0, 20 * 3e9},
                {45, 55, "a.service", "instructions", 0, 9 * 3e9},
                {100, 120, "b.service", "instructions", -ENODATA, 0},
                {100, 120, "a.service", "cycles", -ENODATA, 0},
                {200, 300, "a.service", "instructions", -ENODATA, 0},
        };
        for (size_t i = 0; i < ELEMENTSOF(crows); i++) {
                double got = -1;
                int r = store_read_unit_counter(s, t0 + crows[i].from_s * 1000000,
                                                t0 + crows[i].to_s * 1000000, crows[i].unit,
                                                crows[i].event, &got);
                if (r != crows[i].r || (r == 0 && got != crows[i].sum))
                        fail_msg("counter row %zu: %d %g", i, r, got);
        }
        store_close(s);
}

/* A commit writes its ticks' units, processes, counters and requests several rows to a statement
 * (store-rows.c): whatever the counts per tick and kind (none, one, a chunk and one more, spread
 * over the ticks of one commit, its first and last ticks without any), every row comes back
 * exactly, under its own tick. */
static size_t rows_count(size_t kind, size_t tick)
{
        static const size_t counts[] = {0, 1, 16, 17, 5, 0, 33, 2};
        return tick == 0 || tick == 6 ? 0 : counts[(tick + kind) % ELEMENTSOF(counts)];
}

static void test_rows_chunks(void **state)
{
        const size_t n_ticks = 8;
        char path[256], err[512];
        path_in_dir(path, sizeof(path), "rows.db");
        Store *s;
        assert_int_equal(store_open(path, STORE_READ_WRITE, &s, err, sizeof(err)), 0);
        int64_t run, ev;
        StoreRun ri = {.started_us = 1000, .source = "model", .interval_us = 1000000};
        assert_int_equal(store_run_begin(s, &ri, &run), 0);
        assert_int_equal(store_event_ensure(s, "instructions", &ev), 0);
        const int64_t t0 = INT64_C(1767225600000000);
        size_t want[5] = {0};
        for (size_t i = 0; i < n_ticks; i++) {
                size_t n = 40;
                StoreUnitValue u[40];
                StoreProcValue p[40];
                StoreCounterValue c[40];
                StoreProcCounterValue pc[40];
                StoreRequestValue q[40];
                char comm[40][16];
                for (size_t k = 0; k < n; k++) {
                        uint64_t v = (UINT64_C(1) << 40) + i * 1000 + k; /* above 2^32 */
                        u[k] = (StoreUnitValue){(int64_t)k + 1, v, v + 1, v + 2};
                        snprintf(comm[k], sizeof(comm[k]), "p%zu-%zu", i, k);
                        p[k] = (StoreProcValue){(int64_t)k + 1, (int)(100 + k), v, comm[k], v,
                                                v + 1,          v + 2};
                        c[k] = (StoreCounterValue){(int64_t)k + 1, ev, v};
                        pc[k] = (StoreProcCounterValue){(int64_t)k + 1, (int)(100 + k), v, ev, v};
                        q[k] = (StoreRequestValue){(int64_t)k + 1, 1, (double)v + 0.5};
                }
                StoreTick t = {.ts_us = t0 + (int64_t)(i + 1) * 1000000,
                               .dt_us = 1000000,
                               .host_valid = true,
                               .host_uj = 1,
                               .units = u,
                               .n_units = rows_count(0, i),
                               .procs = p,
                               .n_procs = rows_count(1, i),
                               .counters = c,
                               .n_counters = rows_count(2, i),
                               .proc_counters = pc,
                               .n_proc_counters = rows_count(3, i),
                               .requests = q,
                               .n_requests = rows_count(4, i)};
                assert_int_equal(store_tick_append(s, &t), 0);
                for (size_t k = 0; k < 5; k++)
                        want[k] += rows_count(k, i);
                if ((i == n_ticks - 2 || i == n_ticks - 1) &&
                    store_commit(s) < 0) /* 7 ticks (the last one empty), then 1 */
                        fail_msg("commit: %s", store_last_error(s));
        }
        store_close(s);

        /* the units and requests of a tick with units are packed (store-packed.c): read back */
        sqlite3 *db = plain_open(path, err, sizeof(err));
        if (!db)
                fail_msg("%s", err);
        static const char *const sql[] = {
                "SELECT t.ts_us, e.unit_id, e.active_uj, e.idle_uj - 1, e.cpu_ns - 2, 0 FROM "
                "unit_energy e JOIN ticks t ON t.id = e.tick_id ORDER BY t.ts_us, e.unit_id",
                "SELECT t.ts_us, e.unit_id, e.start_time, e.active_uj, e.idle_uj - 1,"
                " e.pid - 100 + 1 = e.unit_id AND e.cpu_ns - 2 = e.start_time AND e.comm ="
                " printf('p%d-%d', (t.ts_us - ?1) / 1000000 - 1, e.unit_id - 1) FROM"
                " process_energy e JOIN ticks t ON t.id = e.tick_id ORDER BY t.ts_us, e.unit_id",
                "SELECT t.ts_us, e.unit_id, e.value, e.value, e.value, 0 FROM unit_counters e JOIN "
                "ticks t ON t.id = e.tick_id ORDER BY t.ts_us, e.unit_id",
                "SELECT t.ts_us, e.unit_id, e.start_time, e.value, e.value, e.pid - 100 + 1 = "
                "e.unit_id FROM process_counters e JOIN ticks t ON t.id = e.tick_id ORDER BY "
                "t.ts_us, e.unit_id",
                "SELECT t.ts_us, e.unit_id, e.count, e.count, e.count, e.metric_id = 1 FROM "
                "unit_requests e JOIN ticks t ON t.id = e.tick_id ORDER BY t.ts_us, e.unit_id",
        };
        for (size_t k = 0; k < ELEMENTSOF(sql); k++) {
                sqlite3_stmt *st;
                assert_int_equal(sqlite3_prepare_v2(db, sql[k], -1, &st, NULL), SQLITE_OK);
                if (sqlite3_bind_parameter_count(st) > 0)
                        sqlite3_bind_int64(st, 1, t0);
                size_t got = 0, i = 0, j = 0;
                while (sqlite3_step(st) == SQLITE_ROW) {
                        while (j >= rows_count(k, i))
                                i++, j = 0;
                        int64_t v = (int64_t)((UINT64_C(1) << 40) + i * 1000 + j);
                        bool ok = sqlite3_column_int64(st, 0) == t0 + (int64_t)(i + 1) * 1000000 &&
                                  sqlite3_column_int64(st, 1) == (int64_t)j + 1;
                        if (k != 4)
                                ok = ok && sqlite3_column_int64(st, 2) == v &&
                                     sqlite3_column_int64(st, 3) == v &&
                                     sqlite3_column_int64(st, 4) == v;
                        else /* requests: a double, v + 0.5 exactly */
                                ok = ok && sqlite3_column_double(st, 2) == (double)v + 0.5;
                        if (k == 1 || k == 3 || k == 4)
                                ok = ok && sqlite3_column_int(st, 5) == 1;
                        if (!ok)
                                fail_msg("%s: row %zu (tick %zu, row %zu) differs", sql[k], got, i,
                                         j);
                        got++, j++;
                }
                sqlite3_finalize(st);
                if (got != want[k])
                        fail_msg("%s: %zu rows, want %zu", sql[k], got, want[k]);
        }
        sqlite3_close(db);
}

static void test_errors(void **state)
{
        char path[256], err[1024];
        Store *s = NULL;

        /* missing file, read-only: names the file */
        path_in_dir(path, sizeof(path), "missing.db");
        assert_int_equal(store_open(path, STORE_READ_ONLY, &s, err, sizeof(err)), -ENOENT);
        assert_non_null(strstr(err, path));

        /* not a database */
        path_in_dir(path, sizeof(path), "junk.db");
        FILE *f = fopen(path, "w");
        for (int i = 0; i < 200; i++)
                fputs("this is not an SQLite file at all\n", f);
        fclose(f);
        assert_int_equal(store_open(path, STORE_READ_ONLY, &s, err, sizeof(err)), -EBADMSG);
        assert_non_null(strstr(err, "not a valid joules database"));
        assert_int_equal(store_open(path, STORE_READ_WRITE, &s, err, sizeof(err)), -EBADMSG);

        /* an empty SQLite file with no schema: says so */
        path_in_dir(path, sizeof(path), "empty.db");
        assert_int_equal(store_open(path, STORE_READ_WRITE, &s, err, sizeof(err)), 0);
        store_close(s);
        char cmd[512];
        snprintf(cmd, sizeof(cmd), "sqlite3 %s 'PRAGMA user_version = 99'", path);
        if (system(cmd) == 0) {
                assert_int_equal(store_open(path, STORE_READ_ONLY, &s, err, sizeof(err)), -EPROTO);
                assert_non_null(strstr(err, "newer than this joules"));
                assert_int_equal(store_open(path, STORE_READ_WRITE, &s, err, sizeof(err)), -EPROTO);
        }
}

/* Whether any statement of the handle is stepping (holds a read or write open). */
static bool any_busy(Store *s)
{
        for (sqlite3_stmt *q = sqlite3_next_stmt(s->db, NULL); q; q = sqlite3_next_stmt(s->db, q))
                if (sqlite3_stmt_busy(q))
                        return true;
        return false;
}

static int64_t sum_upto(Store *s, sqlite3_stmt *q, int64_t x)
{
        sqlite3_bind_int64(q, 1, x);
        assert_int_equal(sqlite3_step(q), SQLITE_ROW);
        int64_t v = sqlite3_column_int64(q, 0);
        assert_int_equal(sqlite3_step(q), SQLITE_DONE);
        return v;
}

/* The writer's statement cache: a statement asked for again is the same one and reads what a
 * fresh one reads; one that failed or was left stepping holds no lock once released. */
static void test_cache(void **state)
{
        char path[256], err[512];
        path_in_dir(path, sizeof(path), "cache.db");
        Store *s, *other;
        assert_int_equal(store_open(path, STORE_READ_WRITE, &s, err, sizeof(err)), 0);
        assert_int_equal(
                store_exec(s, "CREATE TABLE t (x INTEGER PRIMARY KEY, y INTEGER NOT NULL)"), 0);
        static const char sum_sql[] = "SELECT COALESCE(SUM(y), 0) FROM t WHERE x <= ?1";
        sqlite3_stmt *q1, *q2, *fresh;
        for (int64_t x = 1; x <= 10; x++) {
                assert_int_equal(
                        store_exec_bound(s, "INSERT INTO t (x, y) VALUES (?1, ?2)", x, x * x, NULL),
                        0);
                assert_int_equal(store_cached(s, sum_sql, &q1), 0);
                int64_t got = sum_upto(s, q1, x);
                store_release(q1);
                assert_int_equal(store_cached(s, sum_sql, &q2), 0);
                assert_ptr_equal(q1, q2);
                assert_int_equal(store_query(s, &fresh, sum_sql), 0);
                assert_int_equal(sum_upto(s, q2, x), got);
                assert_int_equal(sum_upto(s, fresh, x), got);
                assert_int_equal(got, x * (x + 1) * (2 * x + 1) / 6);
                store_release(q2);
                sqlite3_finalize(fresh);
        }
        /* the same text built elsewhere finds the same entry */
        char copy[sizeof(sum_sql)];
        memcpy(copy, sum_sql, sizeof(copy));
        assert_int_equal(store_cached(s, copy, &q2), 0);
        assert_ptr_equal(q1, q2);
        store_release(q2);

        /* left after its first row, as a loop that stops early leaves it */
        assert_int_equal(store_cached(s, "SELECT x FROM t ORDER BY x", &q1), 0);
        assert_int_equal(sqlite3_step(q1), SQLITE_ROW);
        assert_true(any_busy(s));
        store_release(q1);
        assert_false(any_busy(s));

        /* a failing write inside the transaction, then ROLLBACK through the cache: nothing left
         * open, and another connection can write at once */
        assert_int_equal(store_exec_cached(s, "BEGIN IMMEDIATE"), 0);
        assert_int_not_equal(store_exec_bound(s, "INSERT INTO t (x, y) VALUES (?1, NULLIF(?2, ?2))",
                                              100, 1, NULL),
                             0);
        assert_non_null(strstr(store_last_error(s), "applying retention: NOT NULL constraint"));
        assert_false(any_busy(s));
        assert_int_equal(store_exec_cached(s, "ROLLBACK"), 0);
        assert_true(sqlite3_get_autocommit(s->db));
        assert_int_equal(store_open(path, STORE_READ_WRITE, &other, err, sizeof(err)), 0);
        sqlite3_busy_timeout(other->db, 0);
        assert_int_equal(store_exec_cached(other, "BEGIN IMMEDIATE"), 0);

        /* a BEGIN that fails on the other's lock says what store_exec said, and works again
         * once the lock is gone */
        sqlite3_busy_timeout(s->db, 0);
        assert_int_equal(store_exec_cached(s, "BEGIN IMMEDIATE"), -EBUSY);
        assert_string_equal(store_last_error(s), "BEGIN IMMEDIATE: database is locked");
        assert_false(any_busy(s));
        assert_int_equal(store_exec_cached(other, "COMMIT"), 0);
        store_close(other);
        assert_int_equal(store_exec_cached(s, "BEGIN IMMEDIATE"), 0);
        assert_int_equal(store_exec_cached(s, "COMMIT"), 0);

        /* a statement that does not prepare: the same message as store_query's */
        assert_int_equal(store_cached(s, "SELECT y FROM nowhere", &q1), -EIO);
        assert_non_null(strstr(store_last_error(s), "preparing a query: no such table"));
        store_close(s);
}

/* Maintenance in steady state prepares nothing: once rollups, packing and retention have each
 * run, hours more of them add no statement to the cache, and none is left stepping or inside a
 * transaction after a pass. */
static void test_maintain_prepares_nothing(void **state)
{
        char path[256], err[512];
        path_in_dir(path, sizeof(path), "maintain.db");
        Store *s;
        assert_int_equal(store_open(path, STORE_READ_WRITE, &s, err, sizeof(err)), 0);
        int64_t run, dom, units[3];
        StoreRun ri = {
                .started_us = 1000, .source = "powercap", .interval_us = 30000000, .hostname = "h"};
        assert_int_equal(store_run_begin(s, &ri, &run), 0);
        StoreDomain d = {"package-0", "intel-rapl:0", "powercap", "package", false, true};
        assert_int_equal(store_domain_ensure(s, &d, &dom), 0);
        assert_int_equal(store_unit_ensure(s, "a.service", false, &units[0]), 0);
        assert_int_equal(store_unit_ensure(s, "b.service", false, &units[1]), 0);
        assert_int_equal(store_unit_ensure(s, "idle", true, &units[2]), 0);
        int64_t metric;
        assert_int_equal(store_metric_ensure(s, "http", &metric), 0);
        const StoreRetention keep = {.raw_us = 3600 * UINT64_C(1000000),
                                     .minute_us = 5400 * UINT64_C(1000000)};
        const int64_t t0 = INT64_C(1767225600000000), step = 30 * INT64_C(1000000);
        size_t at_4h = 0;
        for (int i = 1; i <= 5 * 120; i++) {
                int64_t now = t0 + i * step;
                StoreDomainValue dv = {.domain_id = dom, .valid = true, .energy_uj = 600000000};
                StoreUnitValue uv[3] = {
                        {units[0], 300000000, 100000000, 15000000000},
                        {units[1], 100000000, 50000000, 5000000000 + i},
                        {units[2], 0, 50000000, 0},
                };
                StoreRequestValue rq = {.unit_id = units[0], .metric_id = metric, .count = i};
                StoreTick t = {.ts_us = now,
                               .dt_us = step,
                               .host_valid = true,
                               .host_uj = 600000000,
                               .domains = &dv,
                               .n_domains = 1,
                               .units = uv,
                               .n_units = 3,
                               .requests = &rq,
                               .n_requests = 1};
                assert_int_equal(store_tick_append(s, &t), 0);
                assert_int_equal(store_commit(s), 0);
                if (i % 2 == 0) {
                        int m = store_maintain(s, now, &keep);
                        assert_true(m == 0 || m == 1);
                        assert_false(any_busy(s));
                        assert_true(sqlite3_get_autocommit(s->db));
                }
                if (i == 4 * 120)
                        at_4h = s->n_cache;
        }
        /* by then every path has run: minutes rolled and packed, hours rolled, raw ticks and
         * minute rows deleted */
        StoreTierState st[STORE_N_STATE];
        assert_int_equal(store_tiers_load(s, st), 0);
        assert_true(st[STORE_TIER_RAW].has_kept && st[STORE_TIER_MINUTE].has_kept);
        assert_true(st[STORE_TIER_HOUR].done_us >= t0 + 4 * 3600 * INT64_C(1000000));
        assert_true(at_4h > 0);
        assert_int_equal(s->n_cache, at_4h);
        store_close(s);
}

/* Whether the running totals equal the per-tick rows summed by SQLite, id by id. */
static void assert_summed(sqlite3 *db, const char *sql)
{
        sqlite3_stmt *q;
        assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &q, NULL), SQLITE_OK);
        assert_int_equal(sqlite3_step(q), SQLITE_ROW);
        assert_true(sqlite3_column_int64(q, 0) > 0);
        assert_int_equal(sqlite3_column_int64(q, 0), sqlite3_column_int64(q, 1));
        sqlite3_finalize(q);
}

/* The history at path as committed, its packed ticks read as plain rows (plain.h). */
static void assert_units_summed(const char *path)
{
        char err[256];
        sqlite3 *db = plain_open(path, err, sizeof(err));
        if (!db)
                fail_msg("%s", err);
        assert_summed(db, "SELECT COUNT(*), COUNT(t.unit_id) FROM (SELECT unit_id, SUM(active_uj) "
                          "AS a, SUM(idle_uj) AS i, SUM(cpu_ns) AS c FROM unit_energy GROUP BY "
                          "unit_id) e LEFT JOIN total_units t ON t.unit_id = e.unit_id AND "
                          "t.active_uj = e.a AND t.idle_uj = e.i AND t.cpu_ns = e.c");
        assert_summed(db, "SELECT COUNT(*), COUNT(t.domain_id) FROM (SELECT domain_id, "
                          "COALESCE(SUM(energy_uj), 0) AS e, SUM(energy_uj IS NULL AND "
                          "drop_reason IS NOT 'baseline') AS d FROM domain_energy GROUP BY "
                          "domain_id) e LEFT JOIN total_domains t ON t.domain_id = e.domain_id "
                          "AND t.energy_uj = e.e AND t.dropped = e.d");
        sqlite3_close(db);
}

/* The units' and domains' running totals are summed in C (store-totals.c), NULL energies and
 * baselines as SQLite counts them; what that cannot hold (an id past its array, a sum past
 * int64) goes to SQLite's GROUP BY, with its result or its error. */
static void test_totals_units(void **state)
{
        char path[256], err[512];
        path_in_dir(path, sizeof(path), "totals.db");
        Store *s;
        assert_int_equal(store_open(path, STORE_READ_WRITE, &s, err, sizeof(err)), 0);
        int64_t run, a, b;
        StoreRun ri = {
                .started_us = 1, .source = "powercap", .interval_us = 1000000, .hostname = "h"};
        assert_int_equal(store_run_begin(s, &ri, &run), 0);
        assert_int_equal(store_unit_ensure(s, "a.service", false, &a), 0);
        assert_int_equal(store_unit_ensure(s, "b.service", false, &b), 0);
        int64_t dom[3];
        StoreDomain dd[3] = {{"package-0", "intel-rapl:0", "powercap", "package", false, true},
                             {"dram", "intel-rapl:0:1", "powercap", "dram", false, false},
                             {"never", "intel-rapl:1", "powercap", "package", false, false}};
        for (int k = 0; k < 3; k++)
                assert_int_equal(store_domain_ensure(s, &dd[k], &dom[k]), 0);
        assert_int_equal(store_exec(s, "INSERT INTO units (id, name, pseudo) VALUES (2000000, "
                                       "'far.service', 0)"),
                         0);
        const int64_t t0 = INT64_C(1767225600000000);
        for (int pass = 0; pass < 3; pass++) {
                for (int i = 1; i <= 5; i++) {
                        int64_t ts = t0 + (pass * 5 + i) * INT64_C(1000000);
                        StoreUnitValue uv[2] = {{a, 1000 + i, 7, 123456789 + i}, {b, 5, 3 * i, 1}};
                        /* dropped, as a baseline, or valid; the third never valid */
                        StoreDomainValue dv[3] = {
                                {.domain_id = dom[0],
                                 .valid = i != 2,
                                 .energy_uj = 1000 * i,
                                 .drop_reason = i == 2 ? "implausible power" : NULL},
                                {.domain_id = dom[1], .valid = i != 3, .energy_uj = 77},
                                {.domain_id = dom[2], .valid = false, .drop_reason = "gone"},
                        };
                        StoreTick tk = {.ts_us = ts,
                                        .dt_us = 1000000,
                                        .host_valid = true,
                                        .host_uj = 2000,
                                        .domains = dv,
                                        .n_domains = 3,
                                        .units = uv,
                                        .n_units = 2};
                        assert_int_equal(store_tick_append(s, &tk), 0);
                        assert_int_equal(store_commit(s), 0);
                }
                /* the second pass with a unit id past the array */
                if (pass == 1)
                        assert_int_equal(store_exec(s, "INSERT INTO unit_energy VALUES ((SELECT "
                                                       "MAX(id) FROM ticks), 2000000, 11, 12, 13)"),
                                         0);
                assert_int_equal(store_exec(s, "BEGIN IMMEDIATE"), 0);
                assert_int_equal(store_totals_flush(s), 0);
                assert_int_equal(store_exec(s, "COMMIT"), 0);
                assert_units_summed(path);
        }

        /* a sum past int64: SQLite's error, and the transaction is rolled back whole */
        assert_int_equal(store_exec(s, "INSERT INTO ticks (run_id, ts_us, dt_us, estimated) "
                                       "VALUES (1, 1767225700000000, 1, 0);"
                                       "INSERT INTO unit_energy VALUES ((SELECT MAX(id) FROM "
                                       "ticks), 1, 6000000000000000000, 0, 0);"
                                       "INSERT INTO ticks (run_id, ts_us, dt_us, estimated) "
                                       "VALUES (1, 1767225701000000, 1, 0);"
                                       "INSERT INTO unit_energy VALUES ((SELECT MAX(id) FROM "
                                       "ticks), 1, 6000000000000000000, 0, 0)"),
                         0);
        assert_int_equal(store_exec(s, "BEGIN IMMEDIATE"), 0);
        assert_int_not_equal(store_totals_flush(s), 0);
        assert_string_equal(store_last_error(s), "adding to the running totals: integer overflow");
        assert_false(any_busy(s));
        assert_int_equal(store_exec(s, "ROLLBACK"), 0);
        store_close(s);
}

/* A name longer than the readers' buffers (only a foreign file holds one) is cut between
 * characters and marked with a hash of the whole: two such names never read as one. */
static void test_copy_long_text(void **state)
{
        sqlite3 *db;
        sqlite3_stmt *q;
        assert_int_equal(sqlite3_open(":memory:", &db), SQLITE_OK);
        assert_int_equal(sqlite3_prepare_v2(db, "SELECT ?1, ?2, ?3", -1, &q, NULL), SQLITE_OK);
        char a[400], b[400];
        memset(a, 'b', 300);
        memcpy(a + 296, ".service", 9); /* 304 bytes */
        memcpy(b, a, sizeof(a));
        memcpy(b + 296, ".socket", 8);
        sqlite3_bind_text(q, 1, a, -1, SQLITE_STATIC);
        sqlite3_bind_text(q, 2, b, -1, SQLITE_STATIC);
        sqlite3_bind_text(q, 3, "user@1000/web.service", -1, SQLITE_STATIC);
        assert_int_equal(sqlite3_step(q), SQLITE_ROW);
        char na[STORE_NAME_MAX], nb[STORE_NAME_MAX], nc[STORE_NAME_MAX], small[16];
        store_copy_text(na, sizeof(na), q, 0);
        store_copy_text(nb, sizeof(nb), q, 1);
        store_copy_text(nc, sizeof(nc), q, 2);
        assert_string_equal(nc, "user@1000/web.service"); /* what fits stays as it is */
        assert_int_equal(strlen(na), STORE_NAME_MAX - 1);
        assert_memory_equal(na, a, STORE_NAME_MAX - 10);
        assert_int_equal(na[STORE_NAME_MAX - 10], '~');
        assert_string_not_equal(na, nb);
        /* a cut never splits a character: "€" is three bytes */
        sqlite3_reset(q);
        sqlite3_bind_text(q, 1, "abcde\xe2\x82\xac\xe2\x82\xac\xe2\x82\xacxyz", -1, SQLITE_STATIC);
        assert_int_equal(sqlite3_step(q), SQLITE_ROW);
        store_copy_text(small, sizeof(small), q, 0);
        assert_memory_equal(small, "abcde~", 6);
        assert_int_equal(strlen(small), 14);
        sqlite3_finalize(q);
        sqlite3_close(db);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_roundtrip),
                cmocka_unit_test(test_rows_chunks),
                cmocka_unit_test(test_errors),
                cmocka_unit_test(test_cache),
                cmocka_unit_test(test_maintain_prepares_nothing),
                cmocka_unit_test(test_totals_units),
                cmocka_unit_test(test_copy_long_text),
        };
        return cmocka_run_group_tests(tests, setup, teardown);
}
