/* Perf event counts in the history (issue 17): per process (process_counters) and per unit
 * (unit_counters), written tick by tick and read back exactly through store_read_process_list,
 * store_read_unit_events and the running totals; a PID reused by another process stays another
 * row; retention deletes a process's counts with its raw ticks while the unit totals never go
 * down; a history from schema 7 (fixture v7.db) migrates with its unit counts in the totals, and
 * is read the same way read-only before the migration. */
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

#define T0   INT64_C(1767225600000000)
#define STEP INT64_C(1000000)
#define N    600 /* ticks */

static char dir[] = "/tmp/joules-test-store-events-XXXXXX";

static int setup(void **state)
{
        (void)state;
        assert_non_null(mkdtemp(dir));
        return 0;
}

static int teardown(void **state)
{
        (void)state;
        char cmd[128];
        snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
        return system(cmd) == 0 ? 0 : -1;
}

/* What the ticks hold, summed here independently of the store. */
typedef struct Expect {
        /* processes: 0 and 1 of unit A (1 is PID 100 again, another start time), 2 of unit B */
        uint64_t energy_uj[3], cpu_ns[3], ev[3][2];
        uint64_t unit_ev[2][2]; /* unit A, B x event */
} Expect;

static const int pids[3] = {100, 100, 200};
static const uint64_t starts[3] = {5000, 9000, 7000};
static const char *const comms[3] = {"worker", "worker-new", "db\x1b[31m"};

static void write_history(const char *path, Expect *x, int64_t *ret_units, int64_t *ret_events)
{
        char err[512];
        Store *s;
        assert_int_equal(store_open(path, STORE_READ_WRITE, &s, err, sizeof(err)), 0);
        StoreRun run = {.started_us = T0,
                        .source = "model",
                        .estimated = true,
                        .interval_us = STEP,
                        .hostname = "h",
                        .weight = "perf::TASK-CLOCK"};
        int64_t run_id, ua, ub, ev[2];
        assert_int_equal(store_run_begin(s, &run, &run_id), 0);
        assert_int_equal(store_unit_ensure(s, "a.service", false, &ua), 0);
        assert_int_equal(store_unit_ensure(s, "b.service", false, &ub), 0);
        assert_int_equal(store_event_ensure(s, "perf::TASK-CLOCK", &ev[0]), 0);
        assert_int_equal(store_event_ensure(s, "perf::PAGE-FAULTS", &ev[1]), 0);
        const int64_t unit_of[3] = {ua, ua, ub};
        memset(x, 0, sizeof(*x));
        for (int64_t i = 0; i < N; i++) {
                StoreUnitValue units[2];
                StoreProcValue procs[3];
                StoreCounterValue uc[4];
                StoreProcCounterValue pc[6];
                size_t np = 0, npc = 0, nuc = 0;
                /* process 0 lives for ticks 0..299, process 1 (PID 100 reused) from 300 on;
                 * process 2 throughout, with energy rows only in even ticks (counted in odd ones
                 * while it was not among the stored processes) */
                uint64_t host = 0;
                for (int k = 0; k < 3; k++) {
                        bool alive = k == 2 || (k == 0) == (i < 300);
                        if (!alive)
                                continue;
                        uint64_t e = (uint64_t)(1000 + 37 * k + i % 11);
                        uint64_t cpu = (uint64_t)(2000000 * (k + 1) + i);
                        /* large counts, past 2^32, exact as doubles summed over N ticks */
                        uint64_t c0 = cpu + (uint64_t)k * (UINT64_C(1) << 33);
                        uint64_t c1 = (uint64_t)(i % 4); /* zero in some ticks: no row */
                        if (k != 2 || i % 2 == 0) {
                                procs[np++] = (StoreProcValue){
                                        unit_of[k], pids[k], starts[k], comms[k], e, 0, cpu};
                                x->energy_uj[k] += e;
                                x->cpu_ns[k] += cpu;
                                host += e;
                        }
                        pc[npc++] =
                                (StoreProcCounterValue){unit_of[k], pids[k], starts[k], ev[0], c0};
                        x->ev[k][0] += c0;
                        if (c1) {
                                pc[npc++] = (StoreProcCounterValue){unit_of[k], pids[k], starts[k],
                                                                    ev[1], c1};
                                x->ev[k][1] += c1;
                        }
                }
                units[0] = (StoreUnitValue){ua, host, 0, 0};
                units[1] = (StoreUnitValue){ub, 0, 0, 0};
                for (int u = 0; u < 2; u++)
                        for (int e = 0; e < 2; e++) {
                                uint64_t v =
                                        (uint64_t)(u * 1000 + e * 10 + i % 3) * (UINT64_C(1) << 20);
                                uc[nuc++] = (StoreCounterValue){u ? ub : ua, ev[e], v};
                                x->unit_ev[u][e] += v;
                        }
                StoreTick t = {.ts_us = T0 + (i + 1) * STEP,
                               .dt_us = STEP,
                               .host_valid = true,
                               .host_uj = host,
                               .estimated = true,
                               .units = units,
                               .n_units = 2,
                               .procs = procs,
                               .n_procs = np,
                               .counters = uc,
                               .n_counters = nuc,
                               .proc_counters = pc,
                               .n_proc_counters = npc};
                assert_int_equal(store_tick_append(s, &t), 0);
                if (i % 7 == 0) /* batches of several ticks, as short ticks are committed */
                        assert_int_equal(store_commit(s), 0);
        }
        assert_int_equal(store_commit(s), 0);
        assert_int_equal(store_run_end(s, T0 + (N + 1) * STEP), 0);
        store_close(s);
        ret_units[0] = ua;
        ret_units[1] = ub;
        ret_events[0] = ev[0];
        ret_events[1] = ev[1];
}

static const StoreProcess *find(const StoreProcesses *p, int pid, uint64_t start)
{
        for (size_t i = 0; i < p->n_procs; i++)
                if (p->procs[i].pid == pid && p->procs[i].start_time == start)
                        return &p->procs[i];
        return NULL;
}

static void test_read_back(void **state)
{
        (void)state;
        char path[256], err[512];
        assert_int_equal(path_fmt(path, sizeof(path), "%s/a.db", dir), 0);
        Expect x;
        int64_t units[2], events[2];
        write_history(path, &x, units, events);

        Store *s;
        assert_int_equal(store_open(path, STORE_READ_ONLY, &s, err, sizeof(err)), 0);
        StoreProcesses p;
        assert_int_equal(store_read_process_list(s, T0, T0 + (N + 1) * STEP, NULL, &p), 0);
        assert_int_equal(p.n_procs, 3);
        assert_int_equal(p.n_events, 2);
        assert_string_equal(p.event_names[0], "perf::TASK-CLOCK"); /* as first stored */
        assert_string_equal(p.event_names[1], "perf::PAGE-FAULTS");
        for (int k = 0; k < 3; k++) {
                const StoreProcess *q = find(&p, pids[k], starts[k]);
                assert_non_null(q);
                assert_string_equal(q->unit, k == 2 ? "b.service" : "a.service");
                assert_string_equal(q->comm, comms[k]); /* stored as given; made safe on output */
                assert_true(q->energy_j == (double)x.energy_uj[k] / 1e6);
                assert_true(q->cpu_s == (double)x.cpu_ns[k] / 1e9);
                assert_true(q->events[0] == (double)x.ev[k][0]);
                assert_true(q->events[1] == (double)x.ev[k][1]);
        }
        for (size_t i = 1; i < p.n_procs; i++) /* highest energy first */
                assert_true(p.procs[i - 1].energy_j >= p.procs[i].energy_j);
        store_processes_done(&p);

        /* One unit; a range holding only the reused PID's process. */
        int64_t mid = T0 + 300 * STEP;
        assert_int_equal(store_read_process_list(s, mid, T0 + (N + 1) * STEP, "a.service", &p), 0);
        assert_int_equal(p.n_procs, 1);
        assert_int_equal(p.procs[0].pid, 100);
        assert_int_equal(p.procs[0].start_time, 9000);
        assert_true(p.procs[0].events[0] == (double)x.ev[1][0]);
        store_processes_done(&p);
        /* A range with nothing. */
        assert_int_equal(store_read_process_list(s, T0 - 100 * STEP, T0, NULL, &p), 0);
        assert_int_equal(p.n_procs, 0);
        assert_int_equal(p.n_events, 0);
        store_processes_done(&p);

        StoreEventTotal *ev;
        size_t n;
        assert_int_equal(store_read_unit_events(s, T0, T0 + (N + 1) * STEP, NULL, &ev, &n), 0);
        assert_int_equal(n, 4);
        for (size_t i = 0; i < n; i++) {
                int u = strcmp(ev[i].unit, "b.service") == 0;
                int e = (int)(i % 2); /* by unit, then in the order stored */
                assert_string_equal(ev[i].event, e ? "perf::PAGE-FAULTS" : "perf::TASK-CLOCK");
                assert_int_equal(ev[i].event_id, events[e]);
                assert_true(ev[i].total == (double)x.unit_ev[u][e]);
        }
        free(ev);
        assert_int_equal(store_read_unit_events(s, T0, T0 + (N + 1) * STEP, "b.service", &ev, &n),
                         0);
        assert_int_equal(n, 2);
        assert_true(ev[0].total == (double)x.unit_ev[1][0]);
        free(ev);

        StoreTotals t;
        assert_int_equal(store_read_totals(s, &t), 0);
        assert_int_equal(t.n_events, 4);
        for (size_t i = 0; i < t.n_events; i++) {
                int u = strcmp(t.events[i].unit, "b.service") == 0;
                int e = strcmp(t.events[i].event, "perf::PAGE-FAULTS") == 0;
                assert_int_equal(t.events[i].value, x.unit_ev[u][e]);
        }
        store_totals_done(&t);
        store_close(s);
}

/* Retention deletes the processes' counts with the raw ticks; the unit totals stay. */
static void test_retention(void **state)
{
        (void)state;
        char path[256], err[512];
        assert_int_equal(path_fmt(path, sizeof(path), "%s/b.db", dir), 0);
        Expect x;
        int64_t units[2], events[2];
        write_history(path, &x, units, events);

        Store *s;
        assert_int_equal(store_open(path, STORE_READ_WRITE, &s, err, sizeof(err)), 0);
        StoreTotals before, after;
        assert_int_equal(store_read_totals(s, &before), 0);
        /* An hour after the last tick (every minute rolled up, none hot any more), raw ticks kept
         * back to T0 + 420 s: process 0's ticks (up to T0 + 300 s) are gone. */
        int64_t now = T0 + (N + 3600) * STEP;
        StoreRetention keep = {
                .raw_us = (uint64_t)(now - (T0 + 450 * STEP)), .minute_us = 0, .hour_us = 0};
        for (int k = 0; k < 40; k++)
                assert_true(store_maintain(s, now, &keep) >= 0);
        /* Deleted with their ticks, not left behind. */
        sqlite3 *db;
        sqlite3_stmt *q;
        assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
        assert_int_equal(sqlite3_prepare_v2(db,
                                            "SELECT COUNT(*), (SELECT COUNT(*) FROM "
                                            "process_counters) FROM process_counters WHERE "
                                            "tick_id NOT IN (SELECT id FROM ticks)",
                                            -1, &q, NULL),
                         SQLITE_OK);
        assert_int_equal(sqlite3_step(q), SQLITE_ROW);
        assert_int_equal(sqlite3_column_int64(q, 0), 0);
        assert_true(sqlite3_column_int64(q, 1) > 0);
        sqlite3_finalize(q);
        sqlite3_close(db);
        StoreProcesses p;
        assert_int_equal(store_read_process_list(s, T0, now, NULL, &p), 0);
        /* only the reused PID's process and process 2 still have raw ticks */
        assert_non_null(find(&p, 100, 9000));
        assert_null(find(&p, 100, 5000));
        store_processes_done(&p);
        assert_int_equal(store_read_totals(s, &after), 0);
        assert_int_equal(after.n_events, before.n_events);
        for (size_t i = 0; i < after.n_events; i++)
                assert_int_equal(after.events[i].value, before.events[i].value);
        store_totals_done(&before);
        store_totals_done(&after);
        store_close(s);
}

/* The v7 fixture (one unit counter row per tick of "cycles"): read-only, the totals are summed
 * from unit_counters; migrated, total_counters holds the same. */
static void test_migration(void **state)
{
        (void)state;
        const char *fixtures = getenv("JOULES_FIXTURES");
        assert_non_null(fixtures);
        char src[512], path[256], cmd[1200], err[512];
        assert_int_equal(path_fmt(src, sizeof(src), "%s/db/v7.db", fixtures), 0);
        assert_int_equal(path_fmt(path, sizeof(path), "%s/v7.db", dir), 0);
        snprintf(cmd, sizeof(cmd), "cp '%s' '%s' && chmod u+w '%s'", src, path, path);
        assert_int_equal(system(cmd), 0);

        Store *s;
        StoreTotals ro, rw;
        assert_int_equal(store_open(path, STORE_READ_ONLY, &s, err, sizeof(err)), 0);
        assert_int_equal(store_schema_version(s), 7);
        assert_int_equal(store_read_totals(s, &ro), 0);
        StoreProcesses p;
        assert_int_equal(store_read_process_list(s, 0, INT64_MAX / 4, NULL, &p), 0);
        assert_true(p.n_procs > 0);
        assert_int_equal(p.n_events, 0); /* no per-process counts before the migration */
        store_processes_done(&p);
        store_close(s);
        assert_true(ro.n_events > 0);

        assert_int_equal(store_open(path, STORE_READ_WRITE, &s, err, sizeof(err)), 0);
        assert_int_equal(store_schema_version(s), store_schema_latest());
        store_close(s);
        assert_int_equal(store_open(path, STORE_READ_ONLY, &s, err, sizeof(err)), 0);
        assert_int_equal(store_read_totals(s, &rw), 0);
        assert_int_equal(rw.n_events, ro.n_events);
        for (size_t i = 0; i < rw.n_events; i++) {
                assert_string_equal(rw.events[i].unit, ro.events[i].unit);
                assert_string_equal(rw.events[i].event, ro.events[i].event);
                assert_int_equal(rw.events[i].value, ro.events[i].value);
                assert_true(rw.events[i].value > 0);
        }
        store_totals_done(&ro);
        store_totals_done(&rw);
        store_close(s);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_read_back),
                cmocka_unit_test(test_retention),
                cmocka_unit_test(test_migration),
        };
        return cmocka_run_group_tests_name("store events", tests, setup, teardown);
}
