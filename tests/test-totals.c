/* The running totals (storage/store-totals.c) against a real SQLite file: they equal the sum of
 * every tick written, the units add up to the host to the microjoule, and no counter ever goes
 * down while rollups pack the ticks and retention deletes them, across a reopen and through a
 * read-only handle, and they agree with the history as `joules status` sums it. */
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

#define T0     INT64_C(1767225600000000)
#define STEP   (60 * INT64_C(1000000))
#define NUNITS 20
#define DAY    (86400 * INT64_C(1000000))

static char dir[] = "/tmp/joules-test-totals-XXXXXX";

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

typedef struct Sums {
        uint64_t ticks, host_uj, dropped;
        uint64_t active[NUNITS + 1], idle[NUNITS + 1], cpu[NUNITS + 1];
        uint64_t pkg_uj, core_uj;
        double requests[NUNITS + 1];
} Sums;

typedef struct World {
        Store *s;
        int64_t unit_ids[NUNITS + 1]; /* the last one is the idle pseudo-unit */
        int64_t pkg, core, metric;
        Sums sums;
} World;

/* A tick with deterministic, uneven figures; every tick conserves: the units' active + idle
 * (and the idle pseudo-unit) equal the host's energy. Tick 7 of every 97 is dropped. */
static void append_tick(World *w, int64_t i, int64_t ts_us)
{
        StoreUnitValue units[NUNITS + 1];
        StoreRequestValue reqs[NUNITS];
        StoreDomainValue doms[2];
        size_t nu = 0, nr = 0;
        bool dropped = i % 97 == 7;
        uint64_t host = 0;
        if (!dropped) {
                for (int u = 0; u < NUNITS; u++) {
                        if ((i + u) % 3 == 0)
                                continue; /* not every unit runs in every tick */
                        uint64_t a = (uint64_t)(1000003 * (u + 1) + i * 7 % 1000);
                        uint64_t id = (uint64_t)(250000 + u);
                        units[nu++] = (StoreUnitValue){w->unit_ids[u], a, id,
                                                       (uint64_t)(1000000 * (u + 1) + i)};
                        host += a + id;
                        w->sums.active[u] += a;
                        w->sums.idle[u] += id;
                        w->sums.cpu[u] += (uint64_t)(1000000 * (u + 1) + i);
                        if (u % 4 == 0) {
                                double c = (double)(i % 5) + (u == 0 ? 0.5 : 0);
                                reqs[nr++] = (StoreRequestValue){w->unit_ids[u], w->metric, c};
                                w->sums.requests[u] += c;
                        }
                }
                uint64_t idle = 5000000 + (uint64_t)(i % 11);
                units[nu++] = (StoreUnitValue){w->unit_ids[NUNITS], 0, idle, 0};
                w->sums.idle[NUNITS] += idle;
                host += idle;
                doms[0] = (StoreDomainValue){w->pkg, true, host, NULL};
                doms[1] = (StoreDomainValue){w->core, true, host / 2, NULL};
                w->sums.pkg_uj += host;
                w->sums.core_uj += host / 2;
        } else {
                doms[0] = (StoreDomainValue){w->pkg, false, 0, "implausible power"};
                doms[1] = (StoreDomainValue){w->core, false, 0, "implausible power"};
                w->sums.dropped++;
        }
        w->sums.ticks++;
        w->sums.host_uj += host;
        StoreTick t = {.ts_us = ts_us,
                       .dt_us = (uint64_t)STEP,
                       .host_valid = !dropped,
                       .host_uj = host,
                       .domains = doms,
                       .n_domains = 2,
                       .units = units,
                       .n_units = nu,
                       .requests = reqs,
                       .n_requests = nr};
        assert_int_equal(store_tick_append(w->s, &t), 0);
}

static void check(World *w, const StoreTotals *prev, StoreTotals *t)
{
        assert_int_equal(store_read_totals(w->s, t), 0);
        assert_int_equal(t->ticks, w->sums.ticks);
        assert_int_equal(t->host_uj, w->sums.host_uj);
        assert_int_equal(t->dropped, w->sums.dropped);
        if (w->sums.ticks == 0) {
                assert_int_equal(t->n_units, 0);
                assert_int_equal(t->n_domains, 2); /* known, 0 J so far */
                assert_int_equal(t->domains[0].energy_uj, 0);
                return;
        }
        assert_int_equal(t->n_units, NUNITS + 1);
        uint64_t sum = 0;
        for (size_t k = 0; k < t->n_units; k++) {
                const StoreTotalUnit *u = &t->units[k];
                int idx = strcmp(u->name, "idle") == 0 ? NUNITS : atoi(u->name + 1);
                assert_int_equal(u->active_uj, w->sums.active[idx]);
                assert_int_equal(u->idle_uj, w->sums.idle[idx]);
                assert_int_equal(u->cpu_ns, w->sums.cpu[idx]);
                assert_int_equal(u->pseudo, idx == NUNITS);
                sum += u->active_uj + u->idle_uj;
                if (k > 0) /* by name */
                        assert_true(strcmp(t->units[k - 1].name, u->name) < 0);
        }
        assert_int_equal(sum, t->host_uj); /* to the microjoule */
        assert_int_equal(t->n_domains, 2);
        assert_int_equal(t->domains[0].energy_uj, w->sums.pkg_uj);
        assert_int_equal(t->domains[1].energy_uj, w->sums.core_uj);
        assert_int_equal(t->domains[0].dropped, w->sums.dropped);
        for (size_t k = 0; k < t->n_requests; k++) {
                int idx = atoi(t->requests[k].unit + 1);
                assert_true(t->requests[k].count == w->sums.requests[idx]);
                assert_string_equal(t->requests[k].metric, "requests");
        }
        assert_int_equal(t->n_requests, (NUNITS + 3) / 4);
        if (!prev)
                return;
        /* counters never go down */
        assert_true(t->host_uj >= prev->host_uj);
        assert_true(t->ticks >= prev->ticks);
        for (size_t k = 0; k < t->n_units && k < prev->n_units; k++) {
                assert_string_equal(t->units[k].name, prev->units[k].name);
                assert_true(t->units[k].active_uj >= prev->units[k].active_uj);
                assert_true(t->units[k].idle_uj >= prev->units[k].idle_uj);
                assert_true(t->units[k].cpu_ns >= prev->units[k].cpu_ns);
        }
        for (size_t k = 0; k < t->n_domains; k++)
                assert_true(t->domains[k].energy_uj >= prev->domains[k].energy_uj);
        for (size_t k = 0; k < t->n_requests && k < prev->n_requests; k++)
                assert_true(t->requests[k].count >= prev->requests[k].count);
}

static void open_world(World *w, const char *path)
{
        char err[512];
        assert_int_equal(store_open(path, STORE_READ_WRITE, &w->s, err, sizeof(err)), 0);
        int64_t run;
        StoreRun ri = {.started_us = T0,
                       .source = "powercap",
                       .interval_us = (uint64_t)STEP,
                       .hostname = "totals-host",
                       .weight = "cpu-time"};
        assert_int_equal(store_run_begin(w->s, &ri, &run), 0);
        for (int u = 0; u < NUNITS; u++) {
                char name[32];
                snprintf(name, sizeof(name), "u%02d.service", u);
                assert_int_equal(store_unit_ensure(w->s, name, false, &w->unit_ids[u]), 0);
        }
        assert_int_equal(store_unit_ensure(w->s, "idle", true, &w->unit_ids[NUNITS]), 0);
        StoreDomain pkg = {"package-0", "intel-rapl:0", "powercap", "package", false, true};
        StoreDomain core = {"package-0/core", "intel-rapl:0:0", "powercap", "core", false, false};
        assert_int_equal(store_domain_ensure(w->s, &pkg, &w->pkg), 0);
        assert_int_equal(store_domain_ensure(w->s, &core, &w->core), 0);
        assert_int_equal(store_metric_ensure(w->s, "requests", &w->metric), 0);
}

static void test_totals_survive_retention(void **state)
{
        char path[256], err[512];
        assert_int_equal(path_fmt(path, sizeof(path), "%s/a.db", dir), 0);
        World w = {0};
        open_world(&w, path);

        StoreTotals prev = {0}, t;
        check(&w, NULL, &t);
        assert_true(t.empty);
        assert_int_equal(t.host_uj, 0);
        prev = t;
        /* Short retentions, so raw ticks, minutes and hours are all deleted within 4 days. */
        StoreRetention keep = {15 * 60 * USEC_PER_SEC, 3 * 3600 * USEC_PER_SEC,
                               2 * 86400 * USEC_PER_SEC};
        int64_t i = 0, end = 4 * DAY / STEP;
        while (i < end) {
                /* batches of 1 to 4 ticks per commit, as joulesd commits short ticks */
                int64_t batch = 1 + i % 4;
                for (int64_t k = 0; k < batch && i < end; k++, i++)
                        append_tick(&w, i, T0 + (i + 1) * STEP);
                assert_int_equal(store_commit(w.s), 0);
                if (i % 30 == 0 || i >= end) {
                        int m;
                        while ((m = store_maintain(w.s, T0 + (i + 1) * STEP, &keep)) == 1)
                                ;
                        assert_int_equal(m, 0);
                        check(&w, &prev, &t);
                        store_totals_done(&prev);
                        prev = t;
                }
        }
        /* A late tick (a backlog written after its minute was rolled and its raw ticks deleted)
         * counts too. */
        append_tick(&w, i, T0 + DAY);
        assert_int_equal(store_commit(w.s), 0);
        check(&w, &prev, &t);
        store_totals_done(&prev);
        prev = t;
        assert_int_equal(prev.first_us, T0);
        assert_int_equal(prev.last_us, T0 + end * STEP);
        assert_false(prev.empty);
        assert_string_equal(prev.hostname, "totals-host");

        /* The history, summed through the tiers as `joules status` does, agrees once the late
         * tick is rolled into the tiers that still hold its day. */
        int m;
        while ((m = store_maintain(w.s, T0 + (end + 1) * STEP, &keep)) == 1)
                ;
        assert_int_equal(m, 0);
        StoreStatus st;
        assert_int_equal(store_read_status(w.s, &st), 0);
        assert_int_equal(llround(st.energy_j * 1e6), (long long)prev.host_uj);
        assert_int_equal(st.samples, prev.ticks);
        assert_int_equal(llround(st.domains[0].energy_j * 1e6),
                         (long long)prev.domains[0].energy_uj);
        store_status_done(&st);
        store_close(w.s);

        /* Retention really deleted: a few raw ticks and minutes are left of 4 days. */
        sqlite3 *db;
        sqlite3_stmt *q;
        assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
        assert_int_equal(sqlite3_prepare_v2(db,
                                            "SELECT (SELECT COUNT(*) FROM ticks), (SELECT COUNT(*) "
                                            "FROM minute_host), (SELECT COUNT(*) FROM hour_host)",
                                            -1, &q, NULL),
                         SQLITE_OK);
        assert_int_equal(sqlite3_step(q), SQLITE_ROW);
        assert_true(sqlite3_column_int64(q, 0) < 60);
        assert_true(sqlite3_column_int64(q, 1) < 4 * 60);
        assert_true(sqlite3_column_int64(q, 2) < 3 * 24);
        sqlite3_finalize(q);
        sqlite3_close(db);

        /* A read-only handle reads the same, and a reopened writer goes on adding. */
        Store *ro;
        assert_int_equal(store_open(path, STORE_READ_ONLY, &ro, err, sizeof(err)), 0);
        assert_int_equal(store_read_totals(ro, &t), 0);
        assert_int_equal(t.host_uj, prev.host_uj);
        assert_int_equal(t.units[0].active_uj, prev.units[0].active_uj);
        store_totals_done(&t);
        open_world(&w, path);
        append_tick(&w, i + 1, T0 + (end + 1) * STEP);
        assert_int_equal(store_commit(w.s), 0);
        check(&w, &prev, &t);
        /* the read-only handle sees the new commit */
        StoreTotals t2;
        assert_int_equal(store_read_totals(ro, &t2), 0);
        assert_int_equal(t2.host_uj, t.host_uj);
        store_totals_done(&t2);
        store_totals_done(&t);
        store_totals_done(&prev);
        store_close(ro);
        store_close(w.s);
}

/* A commit that fails adds nothing to the totals; the retry adds its ticks once. A unit id
 * beyond the accumulator's index is counted all the same. */
static void test_totals_failed_commit(void **state)
{
        char path[256];
        assert_int_equal(path_fmt(path, sizeof(path), "%s/b.db", dir), 0);
        World w = {0};
        open_world(&w, path);
        /* another connection makes the next tick's insert fail (as a full disk would) */
        sqlite3 *db;
        assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
        assert_int_equal(sqlite3_exec(db,
                                      "CREATE TRIGGER fail BEFORE INSERT ON ticks WHEN NEW.ts_us = "
                                      "1767225600000000 + 3 * 60000000 "
                                      "BEGIN SELECT RAISE(ABORT, 'injected'); END",
                                      NULL, NULL, NULL),
                         SQLITE_OK);
        for (int64_t i = 0; i < 3; i++)
                append_tick(&w, i, T0 + (i + 1) * STEP);
        StoreUnitValue odd = {INT64_C(1) << 40, 5, 6, 7};
        StoreTick t = {.ts_us = T0 + 4 * STEP,
                       .dt_us = (uint64_t)STEP,
                       .host_valid = true,
                       .host_uj = 11,
                       .units = &odd,
                       .n_units = 1};
        assert_int_equal(store_tick_append(w.s, &t), 0);
        assert_true(store_commit(w.s) < 0);
        StoreTotals tt;
        assert_int_equal(store_read_totals(w.s, &tt), 0);
        assert_int_equal(tt.ticks, 0);
        assert_int_equal(tt.host_uj, 0);
        store_totals_done(&tt);
        assert_int_equal(sqlite3_exec(db, "DROP TRIGGER fail", NULL, NULL, NULL), SQLITE_OK);
        sqlite3_close(db);
        assert_int_equal(store_commit(w.s), 0);
        assert_int_equal(store_read_totals(w.s, &tt), 0);
        assert_int_equal(tt.ticks, 4);
        assert_int_equal(tt.host_uj, w.sums.host_uj + 11);
        store_totals_done(&tt);
        store_close(w.s);
        assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
        sqlite3_stmt *q;
        assert_int_equal(sqlite3_prepare_v2(db,
                                            "SELECT active_uj, idle_uj, cpu_ns FROM total_units "
                                            "WHERE unit_id = 1099511627776",
                                            -1, &q, NULL),
                         SQLITE_OK);
        assert_int_equal(sqlite3_step(q), SQLITE_ROW);
        assert_int_equal(sqlite3_column_int64(q, 0), 5);
        assert_int_equal(sqlite3_column_int64(q, 2), 7);
        sqlite3_finalize(q);
        sqlite3_close(db);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_totals_survive_retention),
                cmocka_unit_test(test_totals_failed_commit),
        };
        return cmocka_run_group_tests(tests, setup, teardown);
}
