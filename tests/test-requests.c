/* The per-tick request accumulator: counts add up per (unit, metric), each tick starts from zero,
 * and the number of pairs in a tick is capped (a sender inventing metric names cannot grow the
 * daemon's memory). Rows are checked through a real history file. */
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

#include "common/util.h"
#include "daemon/config.h"
#include "daemon/requests.h"
#include "storage/store.h"

static void test_accumulate(void **state)
{
        char dir[] = "/tmp/joules-test-requests-XXXXXX", db[128], err[256];
        assert_non_null(mkdtemp(dir));
        snprintf(db, sizeof(db), "%s/j.db", dir);
        Store *s;
        assert_int_equal(store_open(db, STORE_READ_WRITE, &s, err, sizeof(err)), 0);
        int64_t run;
        StoreRun ri = {.started_us = 1, .source = "model", .interval_us = 1000000};
        assert_int_equal(store_run_begin(s, &ri, &run), 0);

        JoulesConfig *cfg = malloc(sizeof(*cfg));
        assert_non_null(cfg);
        config_defaults(cfg);
        cfg->ingest_socket[0] = '\0'; /* no socket: the accumulator alone */
        JoulesRoots roots = JOULES_ROOTS_DEFAULT;
        Requests *r;
        assert_int_equal(requests_new(cfg, &roots, s, &r, err, sizeof(err)), 0);
        assert_int_equal(requests_fd(r), -1);

        requests_add(r, "a.service", "requests", 1);
        requests_add(r, "a.service", "requests", 2.5);
        requests_add(r, "a.service", "orders", 3);
        requests_add(r, "b.service", "requests", 4);
        RequestsTick t;
        assert_int_equal(requests_tick(r, &t), 0);
        assert_int_equal(t.n_values, 3);
        assert_null(t.ingest);
        double sum = 0;
        for (size_t i = 0; i < t.n_values; i++)
                sum += t.values[i].count;
        assert_true(fabs(sum - 10.5) < 1e-9);
        StoreTick st = {
                .ts_us = 2000000, .dt_us = 1000000, .requests = t.values, .n_requests = t.n_values};
        assert_int_equal(store_tick_append(s, &st), 0);
        assert_int_equal(store_commit(s), 0);

        /* the next tick starts from zero */
        assert_int_equal(requests_tick(r, &t), 0);
        assert_int_equal(t.n_values, 0);

        /* at most REQUESTS_NAMES_PER_UNIT names per unit: one unit cannot crowd out another */
        for (int i = 0; i < REQUESTS_NAMES_PER_UNIT + 100; i++) {
                char name[32];
                snprintf(name, sizeof(name), "m%d", i);
                assert_int_equal(requests_add(r, "c.service", name, 1),
                                 i < REQUESTS_NAMES_PER_UNIT);
        }
        assert_true(requests_add(r, "c.service", "m0", 1)); /* an existing pair still adds up */
        assert_true(requests_add(r, "d.service", "requests", 1));
        assert_int_equal(requests_tick(r, &t), 0);
        assert_int_equal(t.n_values, REQUESTS_NAMES_PER_UNIT + 1);
        sum = 0;
        for (size_t i = 0; i < t.n_values; i++)
                sum += t.values[i].count;
        assert_true(fabs(sum - (REQUESTS_NAMES_PER_UNIT + 2)) < 1e-9);

        /* at most REQUESTS_PAIRS_MAX pairs per tick over all units */
        size_t accepted = 0;
        for (int u = 0; u < 2 * REQUESTS_PAIRS_MAX / REQUESTS_NAMES_PER_UNIT; u++)
                for (int i = 0; i < REQUESTS_NAMES_PER_UNIT; i++) {
                        char unit[32], name[32];
                        snprintf(unit, sizeof(unit), "u%d.service", u);
                        snprintf(name, sizeof(name), "m%d", i);
                        accepted += requests_add(r, unit, name, 1);
                }
        assert_int_equal(accepted, REQUESTS_PAIRS_MAX);
        assert_int_equal(requests_tick(r, &t), 0);
        assert_int_equal(t.n_values, REQUESTS_PAIRS_MAX);

        StoreServices sv;
        assert_int_equal(store_read_services(s, 0, 3000000, &sv), 0);
        bool seen_a = false, seen_b = false;
        for (size_t i = 0; i < sv.n_units; i++) {
                if (strcmp(sv.units[i].name, "a.service") == 0) {
                        seen_a = true;
                        assert_true(sv.units[i].has_requests);
                        assert_true(fabs(sv.units[i].requests - 3.5) < 1e-9); /* not orders */
                }
                if (strcmp(sv.units[i].name, "b.service") == 0) {
                        seen_b = true;
                        assert_true(fabs(sv.units[i].requests - 4) < 1e-9);
                }
        }
        assert_true(seen_a && seen_b); /* listed although they drew no energy */
        store_services_done(&sv);

        requests_free(r);
        free(cfg);
        store_close(s);
        char cmd[128];
        snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
        assert_int_equal(system(cmd), 0);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_accumulate),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
