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

#include "common/util.h"
#include "storage/store.h"

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

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_roundtrip),
                cmocka_unit_test(test_errors),
        };
        return cmocka_run_group_tests(tests, setup, teardown);
}
