/* joules calibrate: the CSV reader and the history's ticks as samples (table tests), and the
 * command itself on a history written here: its measured ticks, plain and packed, give back the
 * curve they were made from, and estimated ticks are left out. */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "cli/calibrate.h"
#include "common/util.h"
#include "storage/store.h"

#define ELEMS(a) (sizeof(a) / sizeof((a)[0]))

static char dir[] = "/tmp/joules-test-calibrate-XXXXXX";

static uint64_t rng_state;
static double rng_uniform(void)
{
        rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
        return (double)(rng_state >> 11) / 9007199254740992.0;
}

static int setup(void **state)
{
        (void)state;
        assert_non_null(mkdtemp(dir));
        return 0;
}

static int teardown(void **state)
{
        char cmd[128];
        (void)state;
        snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
        return system(cmd) == 0 ? 0 : -1;
}

static void test_csv(void **state)
{
        static const struct {
                const char *in;
                size_t n; /* 0: an error */
                double u0, w0, ulast, wlast;
                const char *err;
        } rows[] = {
                {"utilization_pct,watts\n0,50\n100,200\n", 2, 0, 50, 100, 200, NULL},
                /* any order, other columns, any case, spaces, CRLF, no final newline */
                {"host, Watts ,UTILIZATION_PCT\r\na,50.5,10\r\nb,60,20", 2, 10, 50.5, 20, 60, NULL},
                /* quoted fields: commas, doubled quotes and line breaks inside */
                {"name,utilization_pct,watts\n\"a, \"\"b\"\"\nc\",\"5\",7\nd,6,8\n", 2, 5, 7, 6, 8,
                 NULL},
                /* a byte order mark, blank lines skipped */
                {"\xEF\xBB\xBFutilization_pct,watts\n\n0,1\n\n100,2\n\n", 2, 0, 1, 100, 2, NULL},
                {"utilization_pct,watts\n1e1,2.5e2\n", 1, 10, 250, 10, 250, NULL},
                {"", 0, 0, 0, 0, 0, "the file is empty"},
                {"\n\n", 0, 0, 0, 0, 0, "the file is empty"},
                {"utilization_pct,watts\n", 0, 0, 0, 0, 0, "no rows after the header"},
                {"util,watts\n1,2\n", 0, 0, 0, 0, 0, "line 1: the header has no 'utilization_pct'"},
                {"utilization_pct,power\n1,2\n", 0, 0, 0, 0, 0, "no 'watts' column"},
                {"watts,utilization_pct,WATTS\n", 0, 0, 0, 0, 0, "names 'WATTS' twice"},
                {"utilization_pct,watts\n1,2\n3\n", 0, 0, 0, 0, 0,
                 "line 3: 1 fields, the header has 2"},
                {"utilization_pct,watts\n1,2\n3,4,5\n", 0, 0, 0, 0, 0, "line 3: 3 fields"},
                {"utilization_pct,watts\n\"a\nb\",2\nx,3\n", 0, 0, 0, 0, 0,
                 "line 2: utilization_pct 'a\nb' is not a number"},
                {"utilization_pct,watts\n1,2\n,3\n", 0, 0, 0, 0, 0,
                 "line 3: utilization_pct is empty"},
                {"utilization_pct,watts\n1, \n", 0, 0, 0, 0, 0, "line 2: watts is empty"},
                {"utilization_pct,watts\nabc,2\n", 0, 0, 0, 0, 0,
                 "line 2: utilization_pct 'abc' is not a number"},
                {"utilization_pct,watts\n1,0x10\n", 0, 0, 0, 0, 0, "watts '0x10' is not a number"},
                {"utilization_pct,watts\n1,inf\n", 0, 0, 0, 0, 0, "watts 'inf' is not a number"},
                {"utilization_pct,watts\nnan,1\n", 0, 0, 0, 0, 0, "'nan' is not a number"},
                {"utilization_pct,watts\n100.5,1\n", 0, 0, 0, 0, 0,
                 "line 2: utilization_pct 100.5 is outside 0 to 100"},
                {"utilization_pct,watts\n-1,1\n", 0, 0, 0, 0, 0, "utilization_pct -1 is outside"},
                {"utilization_pct,watts\n\n\n5,-0.5\n", 0, 0, 0, 0, 0,
                 "line 4: watts -0.5 is negative"},
                {"utilization_pct,watts\n\"1,2\n", 0, 0, 0, 0, 0,
                 "line 2: a quoted field is never closed"},
                {"utilization_pct,watts\n\"1\"x,2\n", 0, 0, 0, 0, 0,
                 "line 2: field 1 has text after its closing quote"},
                {"utilization_pct,watts\n1,2\"\n", 0, 0, 0, 0, 0,
                 "line 2: field 2 has a quote inside an unquoted field"},
        };
        (void)state;
        for (size_t i = 0; i < ELEMS(rows); i++) {
                CurveSample *v = NULL;
                size_t n = 0;
                char err[256] = "";
                int r = calib_parse_csv(rows[i].in, &v, &n, err, sizeof(err));
                if (rows[i].n == 0) {
                        if (r != -EINVAL || !strstr(err, rows[i].err))
                                fail_msg("row %zu: %d '%s', want '%s'", i, r, err, rows[i].err);
                        continue;
                }
                if (r < 0)
                        fail_msg("row %zu: %s", i, err);
                assert_int_equal(n, rows[i].n);
                assert_true(v[0].util_pct == rows[i].u0 && v[0].watts == rows[i].w0);
                assert_true(v[n - 1].util_pct == rows[i].ulast && v[n - 1].watts == rows[i].wlast);
                for (size_t k = 0; k < n; k++)
                        assert_true(v[k].weight == 1);
                free(v);
        }
}

static void test_ticks(void **state)
{
        static const StoreHostTick t[] = {
                /* 4 CPUs, 1 s: 2e9 ns of CPU is 50 %, 100 J is 100 W */
                {.ts_us = 1,
                 .dt_us = 1000000,
                 .host_uj = 100000000,
                 .cpu_ns = 2000000000,
                 .has_cpu = true},
                {.ts_us = 2,
                 .dt_us = 500000,
                 .host_uj = 10000000,
                 .cpu_ns = 40000000,
                 .has_cpu = true},
                /* rows, but no CPU time in any: written without a cgroup tree */
                {.ts_us = 3, .dt_us = 1000000, .host_uj = 1, .cpu_ns = 0, .has_cpu = true},
                {.ts_us = 3,
                 .dt_us = 1000000,
                 .host_uj = 1,
                 .cpu_ns = 1,
                 .estimated = true,
                 .has_cpu = true},
                {.ts_us = 4, .dt_us = 1000000, .host_uj = 1, .has_cpu = false},
                {.ts_us = 5, .dt_us = 0, .host_uj = 1, .cpu_ns = 1, .has_cpu = true},
                /* clock skew: 4.1e9 ns of 4 CPUs in 1 s, taken as 100 % */
                {.ts_us = 6,
                 .dt_us = 1000000,
                 .host_uj = 200000000,
                 .cpu_ns = 4100000000,
                 .has_cpu = true},
                /* far above: counted apart, it means ncpu is wrong */
                {.ts_us = 7,
                 .dt_us = 1000000,
                 .host_uj = 200000000,
                 .cpu_ns = 8000000000,
                 .has_cpu = true},
        };
        CurveSample *v;
        size_t n;
        CalibTickStats st;
        (void)state;
        assert_int_equal(calib_samples_from_ticks(t, ELEMS(t), 4, &v, &n, &st), 0);
        assert_int_equal(n, 4);
        assert_int_equal(st.ticks, 8);
        assert_int_equal(st.used, 4);
        assert_int_equal(st.estimated, 1);
        assert_int_equal(st.no_cpu, 2);
        assert_int_equal(st.empty, 1);
        assert_int_equal(st.over_100, 2);
        assert_int_equal(st.over_105, 1);
        assert_int_equal(st.first_us, 1);
        assert_int_equal(st.last_us, 7);
        assert_true(fabs(st.seconds - 3.5) < 1e-12);
        assert_true(v[0].util_pct == 50 && v[0].watts == 100 && v[0].weight == 1);
        assert_true(v[1].util_pct == 2 && v[1].watts == 20 && v[1].weight == 0.5);
        assert_true(v[2].util_pct == 100 && v[2].watts == 200);
        free(v);
}

/* The truth the history is written from: a 4-CPU host. */
static const PowerCurve truth = {
        .n = 5, .util_pct = {0, 20, 40, 70, 100}, .watts = {20, 45, 60, 68, 70}};

/* Runs the joules binary; its standard output into out. Returns its exit code. */
static int run_joules(const char *args, char *out, size_t size)
{
        const char *bin = getenv("JOULES_BIN");
        char cmd[1024];
        snprintf(cmd, sizeof(cmd), "%s/joules %s", bin ? bin : "build/bin", args);
        FILE *p = popen(cmd, "r");
        assert_non_null(p);
        size_t got = fread(out, 1, size - 1, p);
        out[got] = '\0';
        int st = pclose(p);
        return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* The CPU time of tick i (1 s, 4 CPUs) in the history below: utilisations stepping through 0 to
 * 100 %, at least 1 ms. */
static uint64_t tick_cpu_us(int i)
{
        double u = (double)((i * 37) % 101);
        uint64_t us = (uint64_t)llround(u / 100 * 4 * 1e6);
        return us > 1000 ? us : 1000;
}

static void test_history(void **state)
{
        char path[256], err[512], args[512], out[8192];
        (void)state;
        snprintf(path, sizeof(path), "%s/h.db", dir);
        Store *s;
        assert_int_equal(store_open(path, STORE_READ_WRITE, &s, err, sizeof(err)), 0);
        int64_t now = now_realtime_us();
        int64_t t0 = now - 2 * 3600 * INT64_C(1000000);
        int64_t run;
        StoreRun ri = {.started_us = t0, .source = "powercap", .interval_us = 1000000};
        assert_int_equal(store_run_begin(s, &ri, &run), 0);
        int64_t ua, uk, uu;
        assert_int_equal(store_unit_ensure(s, "a.service", false, &ua), 0);
        assert_int_equal(store_unit_ensure(s, "kernel", true, &uk), 0);
        assert_int_equal(store_unit_ensure(s, "unattributed", true, &uu), 0);
        /* 1200 measured ticks of 1 s over 20 minutes, the utilisation stepping through 0..100 %;
         * every 100th has no unit rows */
        size_t written = 0, no_units = 0;
        for (int i = 1; i <= 1200; i++) {
                /* never quite 0: joulesd itself runs every tick (a tick with no CPU time at
                 * all is one written without cgroups, and left out) */
                uint64_t cpu_us = tick_cpu_us(i);
                uint64_t host_uj = (uint64_t)llround(
                        power_curve_eval(&truth, (double)cpu_us / 4e6 * 100) * 1e6);
                StoreUnitValue uv[3] = {
                        {ua, host_uj / 2, 0, (cpu_us - cpu_us / 10 - cpu_us / 20) * 1000},
                        {uk, host_uj / 4, 0, cpu_us / 10 * 1000},
                        {uu, host_uj - host_uj / 2 - host_uj / 4, 0, cpu_us / 20 * 1000},
                };
                bool none = i % 100 == 0;
                no_units += none;
                StoreTick t = {.ts_us = t0 + i * INT64_C(1000000),
                               .dt_us = 1000000,
                               .host_valid = true,
                               .host_uj = host_uj,
                               .units = none ? NULL : uv,
                               .n_units = none ? 0 : 3};
                assert_int_equal(store_tick_append(s, &t), 0);
                written++;
        }
        assert_int_equal(store_commit(s), 0);
        assert_int_equal(store_run_end(s, t0 + 1201 * INT64_C(1000000)), 0);
        /* then the model (no RAPL): an absurd power that must never reach the fit */
        int64_t t1 = now - 3600 * INT64_C(1000000);
        StoreRun rm = {
                .started_us = t1, .source = "model", .estimated = true, .interval_us = 1000000};
        assert_int_equal(store_run_begin(s, &rm, &run), 0);
        for (int i = 1; i <= 100; i++) {
                StoreUnitValue uv[1] = {{ua, 999000000, 0, 1000000000}};
                StoreTick t = {.ts_us = t1 + i * INT64_C(1000000),
                               .dt_us = 1000000,
                               .host_valid = true,
                               .host_uj = 999000000,
                               .estimated = true,
                               .units = uv,
                               .n_units = 1};
                assert_int_equal(store_tick_append(s, &t), 0);
        }
        assert_int_equal(store_commit(s), 0);
        assert_int_equal(store_run_end(s, t1 + 101 * INT64_C(1000000)), 0);
        /* roll and pack what is older than the hot window: most of the measured ticks */
        StoreRetention keep = {0};
        int r;
        for (int k = 0; k < 100 && (r = store_maintain(s, now, &keep)) == 1; k++)
                ;
        assert_int_equal(r, 0);
        store_close(s);

        sqlite3 *db;
        sqlite3_stmt *q;
        assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
        assert_int_equal(sqlite3_prepare_v2(db, "SELECT COUNT(*) FROM tick_units", -1, &q, NULL),
                         SQLITE_OK);
        assert_int_equal(sqlite3_step(q), SQLITE_ROW);
        int packed = sqlite3_column_int(q, 0);
        sqlite3_finalize(q);
        sqlite3_close(db);
        assert_true(packed > 1000); /* the packed path is what is read below */

        assert_int_equal(store_open(path, STORE_READ_ONLY, &s, err, sizeof(err)), 0);
        StoreHostTick *t;
        size_t n;
        assert_int_equal(store_read_host_ticks(s, t0, now, &t, &n), 0);
        store_close(s);
        assert_int_equal(n, 1300);
        size_t measured = 0;
        for (size_t i = 0; i < n; i++) {
                if (t[i].estimated)
                        continue;
                int k = (int)measured + 1;
                measured++;
                uint64_t cpu_us = tick_cpu_us(k);
                assert_int_equal(t[i].has_cpu, k % 100 != 0);
                if (t[i].has_cpu)
                        assert_int_equal(t[i].cpu_ns, cpu_us * 1000);
        }
        assert_int_equal(measured, written);
        free(t);

        /* the command: the curve comes back, the estimated and unit-less ticks left out */
        snprintf(args, sizeof(args),
                 "--db %s calibrate --from-history --since 3h --cpus 4 --points 5 --json", path);
        assert_int_equal(run_joules(args, out, sizeof(out)), 0);
        const char *c = strstr(out, "\"curve\":\"");
        assert_non_null(c);
        char line[512];
        snprintf(line, sizeof(line), "%.*s", (int)strcspn(c + 9, "\""), c + 9);
        PowerCurve got;
        assert_int_equal(power_curve_parse(line, &got, err, sizeof(err)), 0);
        for (double u = 0; u <= 100; u += 2.5)
                if (fabs(power_curve_eval(&got, u) - power_curve_eval(&truth, u)) > 0.05)
                        fail_msg("%g %%: %g W, want %g (curve %s)", u, power_curve_eval(&got, u),
                                 power_curve_eval(&truth, u), line);
        char want[64];
        snprintf(want, sizeof(want), "\"samples\":%zu", written - no_units);
        assert_non_null(strstr(out, want));
        assert_non_null(strstr(out, "\"estimated_left_out\":100"));
        snprintf(want, sizeof(want), "\"without_cpu_left_out\":%zu", no_units);
        assert_non_null(strstr(out, want));

        /* the same history read with too few CPUs: refused, with the way out */
        snprintf(args, sizeof(args), "--db %s calibrate --from-history --since 3h --cpus 2 2>&1",
                 path);
        assert_int_equal(run_joules(args, out, sizeof(out)), 2);
        assert_non_null(strstr(out, "--cpus N"));
        /* only the model's ticks in the range: nothing to fit */
        snprintf(args, sizeof(args), "--db %s calibrate --from-history --since 70m --cpus 4 2>&1",
                 path);
        assert_int_equal(run_joules(args, out, sizeof(out)), 3);
        assert_non_null(strstr(out, "estimated"));
}

/* The printed line is one joulesd.conf can hold (libinih's 200 bytes less newline and NUL):
 * 21 points of a multi-kilowatt host are rounded until they fit, and say so. */
static void test_line_fits(void **state)
{
        char path[256], args[512], out[8192], err[256];
        (void)state;
        snprintf(path, sizeof(path), "%s/big.csv", dir);
        FILE *f = fopen(path, "we");
        assert_non_null(f);
        fprintf(f, "utilization_pct,watts\n");
        rng_state = 5;
        for (int i = 0; i < 3000; i++) {
                double u = 100 * rng_uniform();
                fprintf(f, "%.4f,%.4f\n", u, 600 + 1400 * (1 - pow(1 - u / 100, 2)));
        }
        fclose(f);
        for (unsigned points = 2; points <= 21; points += 19) {
                snprintf(args, sizeof(args), "calibrate --from %s --points %u", path, points);
                assert_int_equal(run_joules(args, out, sizeof(out)), 0);
                assert_true(strncmp(out, "[model]\ncurve = ", 16) == 0);
                size_t len = strcspn(out + 8, "\n");
                if (len > 198)
                        fail_msg("%u points: a line of %zu bytes", points, len);
                char value[512];
                snprintf(value, sizeof(value), "%.*s", (int)len - 8, out + 16);
                PowerCurve c;
                if (power_curve_parse(value, &c, err, sizeof(err)) < 0)
                        fail_msg("%s: %s", value, err);
                assert_int_equal(c.n, points);
                assert_true(curve_is_monotone(&c));
                /* the 2-point line needs no rounding, the 21 points do */
                assert_int_equal(strstr(out, "to fit a joulesd.conf line") != NULL, points == 21);
        }
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_csv),
                cmocka_unit_test(test_ticks),
                cmocka_unit_test(test_history),
                cmocka_unit_test(test_line_fits),
        };
        return cmocka_run_group_tests(tests, setup, teardown);
}
