/* Energy by period on a real SQLite file written with the store API, the intensity series
 * (all or nothing), the settings in meta, and the footprint the reports compute from them. */
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

#include "cli/chart.h"
#include "cli/footprint.h"
#include "cli/intensity.h"
#include "common/carbon.h"
#include "common/util.h"
#include "daemon/config.h"
#include "storage/store.h"

static char dir[] = "/tmp/joules-test-report-XXXXXX";
static char db[256];

#define HOUR INT64_C(3600000000)
/* 2026-01-31T22:00:00Z: four hours across a day and a month boundary */
#define T0 INT64_C(1769896800000000)

/* Each 60 s tick: host 6000 J; a.service 3000 J active + 500 J idle, 30 s CPU, 10 requests;
 * b.service 1500 J active + 250 J idle, 10 s CPU; idle 750 J idle. */
static void write_history(void)
{
        Store *s;
        char err[512];
        assert_int_equal(store_open(db, STORE_READ_WRITE, &s, err, sizeof(err)), 0);
        int64_t run, ua, ub, ui, metric;
        StoreRun ri = {.started_us = T0,
                       .source = "model",
                       .estimated = true,
                       .interval_us = 60000000,
                       .hostname = "host-1"};
        assert_int_equal(store_run_begin(s, &ri, &run), 0);
        assert_int_equal(store_unit_ensure(s, "a.service", false, &ua), 0);
        assert_int_equal(store_unit_ensure(s, "b.service", false, &ub), 0);
        assert_int_equal(store_unit_ensure(s, "idle", true, &ui), 0);
        assert_int_equal(store_metric_ensure(s, STORE_REQUESTS_METRIC, &metric), 0);
        for (int i = 1; i <= 240; i++) {
                StoreUnitValue uv[3] = {
                        {ua, 3000000000, 500000000, 30000000000},
                        {ub, 1500000000, 250000000, 10000000000},
                        {ui, 0, 750000000, 0},
                };
                StoreRequestValue rq[1] = {{ua, metric, 10}};
                StoreTick t = {.ts_us = T0 + i * INT64_C(60000000),
                               .dt_us = 60000000,
                               .host_valid = true,
                               .host_uj = 6000000000,
                               .estimated = true,
                               .units = uv,
                               .n_units = 3,
                               .requests = rq,
                               .n_requests = 1};
                assert_int_equal(store_tick_append(s, &t), 0);
        }
        assert_int_equal(store_commit(s), 0);
        store_close(s);
}

static int setup(void **state)
{
        assert_non_null(mkdtemp(dir));
        assert_int_equal(path_fmt(db, sizeof(db), "%s/h.db", dir), 0);
        write_history();
        return 0;
}

static int teardown(void **state)
{
        char cmd[128];
        snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
        return system(cmd) == 0 ? 0 : -1;
}

static Store *open_ro(void)
{
        Store *s;
        char err[512];
        assert_int_equal(store_open(db, STORE_READ_ONLY, &s, err, sizeof(err)), 0);
        return s;
}

static void test_buckets(void **state)
{
        static const struct {
                StoreBucket b;
                const char *ts, *start, *next;
        } rows[] = {
                {STORE_BUCKET_HOUR, "2026-01-31T22:30:00Z", "2026-01-31T22:00:00Z",
                 "2026-01-31T23:00:00Z"},
                /* (start, end]: the instant an hour ends belongs to it */
                {STORE_BUCKET_HOUR, "2026-01-31T23:00:00Z", "2026-01-31T22:00:00Z",
                 "2026-01-31T23:00:00Z"},
                {STORE_BUCKET_DAY, "2026-02-01T00:00:00Z", "2026-01-31T00:00:00Z",
                 "2026-02-01T00:00:00Z"},
                {STORE_BUCKET_DAY, "2026-02-01T00:00:01Z", "2026-02-01T00:00:00Z",
                 "2026-02-02T00:00:00Z"},
                {STORE_BUCKET_MONTH, "2026-02-01T00:00:00Z", "2026-01-01T00:00:00Z",
                 "2026-02-01T00:00:00Z"},
                {STORE_BUCKET_MONTH, "2026-02-15T12:00:00Z", "2026-02-01T00:00:00Z",
                 "2026-03-01T00:00:00Z"},
                {STORE_BUCKET_MONTH, "2026-12-31T23:59:59Z", "2026-12-01T00:00:00Z",
                 "2027-01-01T00:00:00Z"},
                {STORE_BUCKET_MONTH, "2028-02-29T10:00:00Z", "2028-02-01T00:00:00Z",
                 "2028-03-01T00:00:00Z"},
        };
        for (size_t i = 0; i < ELEMENTSOF(rows); i++) {
                int64_t ts, start, next;
                assert_int_equal(parse_time_point(rows[i].ts, 0, &ts), 0);
                assert_int_equal(parse_time_point(rows[i].start, 0, &start), 0);
                assert_int_equal(parse_time_point(rows[i].next, 0, &next), 0);
                assert_true(store_bucket_start(rows[i].b, ts) == start);
                assert_true(store_bucket_next(rows[i].b, start) == next);
        }
        StoreBucket b;
        assert_int_equal(store_bucket_from_string("day", &b), 0);
        assert_int_equal(b, STORE_BUCKET_DAY);
        assert_int_equal(store_bucket_from_string("week", &b), -EINVAL);
}

static void test_periods(void **state)
{
        Store *s = open_ro();
        static const struct {
                StoreBucket b;
                size_t n;
        } rows[] = {
                {STORE_BUCKET_HOUR, 4},
                {STORE_BUCKET_DAY, 2},
                {STORE_BUCKET_MONTH, 2},
                {STORE_BUCKET_ALL, 1},
        };
        for (size_t i = 0; i < ELEMENTSOF(rows); i++) {
                StorePeriodRows p;
                assert_int_equal(store_read_periods(s, T0, T0 + 4 * HOUR, rows[i].b, NULL, &p), 0);
                assert_int_equal(p.n_periods, rows[i].n);
                assert_string_equal(p.hostname, "host-1");
                uint64_t host = 0, units = 0;
                double req = 0;
                for (size_t k = 0; k < p.n_periods; k++) {
                        host += p.periods[k].host_uj;
                        assert_true(p.periods[k].estimated);
                        /* the SQL buckets are the C buckets */
                        if (rows[i].b != STORE_BUCKET_ALL && k > 0) /* [0] is clipped */
                                assert_true(
                                        p.periods[k].start_us ==
                                        store_bucket_start(rows[i].b, p.periods[k].start_us + 1));
                }
                for (size_t k = 0; k < p.n_rows; k++) {
                        units += p.rows[k].active_uj + p.rows[k].idle_uj;
                        req += p.rows[k].requests;
                }
                assert_true(host == UINT64_C(240) * 6000000000);
                assert_true(units == host); /* conserved */
                assert_true(req == 2400);
                /* biggest first in each period */
                assert_string_equal(p.rows[0].name, "a.service");
                assert_true(p.rows[0].has_requests);
                store_periods_done(&p);
        }
        /* a range starting mid-hour is clipped, and the hour holding a tick's end is its own */
        StorePeriodRows p;
        assert_int_equal(
                store_read_periods(s, T0 + HOUR / 2, T0 + 2 * HOUR, STORE_BUCKET_HOUR, "b", &p), 0);
        assert_int_equal(p.n_periods, 2);
        assert_true(p.periods[0].start_us == T0 + HOUR / 2);
        assert_true(p.periods[0].end_us == T0 + HOUR);
        assert_true(p.periods[0].seconds == 1800);
        assert_true(p.periods[1].seconds == 3600);
        assert_int_equal(p.n_rows, 2); /* b.service only, in both hours */
        assert_string_equal(p.rows[0].name, "b.service");
        assert_false(p.rows[0].has_requests);
        store_periods_done(&p);
        store_close(s);
}

/* footprint_read_each's callback: one period at a time, summed */
typedef struct EachSum {
        size_t periods, rows;
        double kwh, g;
} EachSum;

static int each_sum(const Footprint *fp, void *user)
{
        EachSum *e = user;
        assert_int_equal(fp->n_periods, 1);
        e->periods++;
        for (size_t k = 0; k < fp->n_rows; k++) {
                assert_int_equal(fp->rows[k].period, 0);
                assert_non_null(fp->rows[k].name);
                e->rows++;
                e->kwh += fp->rows[k].f.facility_kwh;
                e->g += fp->rows[k].f.location_g;
        }
        return 0;
}

static void test_intensity_import(void **state)
{
        Store *s;
        char err[512];
        assert_int_equal(store_open(db, STORE_READ_WRITE, &s, err, sizeof(err)), 0);
        /* overlapping points: refused, nothing written */
        StoreIntensityPoint bad[] = {{T0, T0 + HOUR, 100}, {T0 + HOUR / 2, T0 + 2 * HOUR, 200}};
        assert_int_equal(store_import_intensity(s, bad, 2, "test"), -EINVAL);
        size_t n;
        int64_t first, last;
        char src[64];
        assert_int_equal(store_intensity_summary(s, &n, &first, &last, src, sizeof(src)), 0);
        assert_int_equal(n, 0);
        /* half hours for the first hour, then a replacement of the second half */
        StoreIntensityPoint good[] = {{T0, T0 + HOUR / 2, 100}, {T0 + HOUR / 2, T0 + HOUR, 300}};
        assert_int_equal(store_import_intensity(s, good, 2, "first"), 0);
        StoreIntensityPoint repl[] = {{T0 + HOUR / 2, T0 + HOUR, 500}};
        assert_int_equal(store_import_intensity(s, repl, 1, "second"), 0);
        assert_int_equal(store_intensity_summary(s, &n, &first, &last, src, sizeof(src)), 0);
        assert_int_equal(n, 2);
        assert_true(first == T0 && last == T0 + HOUR);
        assert_string_equal(src, "second");
        StoreIntensityPoint *v;
        assert_int_equal(store_read_intensity(s, T0, T0 + 4 * HOUR, &v, &n), 0);
        assert_int_equal(n, 2);
        assert_true(v[1].g_per_kwh == 500);
        free(v);
        /* settings */
        assert_int_equal(store_write_meta(s, "carbon.country", "DE"), 0);
        assert_int_equal(store_write_meta(s, "carbon.pue", "1.5"), 0);
        assert_int_equal(store_write_meta(s, "carbon.embodied_g", "1000000"), 0);
        store_close(s);

        s = open_ro();
        FootprintSettings fs;
        assert_int_equal(footprint_settings_load(s, &fs, err, sizeof(err)), 0);
        assert_string_equal(fs.country, "DE");
        assert_true(fs.pue == 1.5 && fs.te_g == 1e6 && fs.el_hours == 35040);
        assert_true(isnan(fs.intensity) && isnan(fs.market_g_per_kwh));
        char buf[16];
        assert_int_equal(store_read_meta(s, "carbon.nothing", buf, sizeof(buf)), -ENOENT);

        /* the first hour at the series' mean (100 + 500) / 2, the other three at DE */
        Footprint all, hours;
        assert_int_equal(footprint_read(s, &fs, T0, T0 + 4 * HOUR, STORE_BUCKET_ALL, NULL, &all),
                         0);
        assert_string_equal(all.source, "series+ember-2024:DE");
        assert_string_equal(all.hostname, "host-1");
        assert_int_equal(all.n_periods, 1);
        double kwh_h = 60 * 6000.0 / 3.6e6 * 1.5; /* per hour at the facility */
        const FootprintFigures *h = &all.periods[0].host;
        assert_true(fabs(h->facility_kwh - 4 * kwh_h) < 1e-12);
        assert_true(fabs(h->location_g - kwh_h * (300 + 3 * 342.06)) < 1e-9);
        assert_true(fabs(h->intensity - (300 + 3 * 342.06) / 4) < 1e-9);
        /* embodied: 4 h of 1 t over 35040 h, split 3:1 by CPU time */
        assert_true(fabs(h->embodied_g - 1e6 * 4 / 35040) < 1e-9);
        assert_int_equal(all.n_rows, 3);
        assert_string_equal(all.rows[0].name, "a.service");
        assert_true(fabs(all.rows[0].f.embodied_g - 1e6 * 4 / 35040 * 0.75) < 1e-9);
        assert_true(all.rows[0].f.requests == 2400);
        assert_true(fabs(footprint_per_request(all.rows[0].f.active_j + all.rows[0].f.idle_j,
                                               &all.rows[0].f) -
                         3500.0 / 10) < 1e-9);
        assert_true(isnan(footprint_per_request(1, &all.rows[1].f)));
        /* hourly rows add up to the whole range (what export and report reconcile on) */
        assert_int_equal(footprint_read(s, &fs, T0, T0 + 4 * HOUR, STORE_BUCKET_HOUR, NULL, &hours),
                         0);
        assert_int_equal(hours.n_periods, 4);
        double kwh = 0, g = 0, m = 0;
        for (size_t k = 0; k < hours.n_rows; k++) {
                kwh += hours.rows[k].f.facility_kwh;
                g += hours.rows[k].f.location_g;
                m += hours.rows[k].f.embodied_g;
        }
        assert_true(fabs(kwh - h->facility_kwh) < 1e-12);
        assert_true(fabs(g - h->location_g) < 1e-9);
        assert_true(fabs(m - h->embodied_g) < 1e-9);
        /* streamed, period by period: the same rows */
        EachSum es = {0};
        assert_int_equal(footprint_read_each(s, &fs, T0, T0 + 4 * HOUR, STORE_BUCKET_HOUR, NULL,
                                             each_sum, &es, NULL),
                         0);
        assert_int_equal(es.periods, hours.n_periods);
        assert_int_equal(es.rows, hours.n_rows);
        assert_true(es.kwh == kwh && es.g == g);
        assert_true(hours.periods[0].host.intensity == 300);
        /* each row names where its hours' intensity came from */
        char where[128];
        footprint_source(&hours, &hours.rows[0].f, where, sizeof(where));
        assert_string_equal(where, "series");
        footprint_source(&hours, &hours.rows[hours.n_rows - 1].f, where, sizeof(where));
        assert_string_equal(where, "ember-2024:DE");
        footprint_source(&all, &all.rows[0].f, where, sizeof(where));
        assert_string_equal(where, "series+ember-2024:DE");
        footprint_done(&all);
        footprint_done(&hours);

        /* a fixed intensity given as a flag ignores the series */
        FootprintOverrides o = {.v.intensity = 100, .intensity = true};
        footprint_apply(&fs, &o);
        assert_int_equal(footprint_read(s, &fs, T0, T0 + 4 * HOUR, STORE_BUCKET_DAY, "a", &all), 0);
        assert_string_equal(all.source, "given");
        assert_int_equal(all.n_periods, 2);
        assert_int_equal(all.n_rows, 2);
        assert_true(all.rows[0].f.intensity == 100);
        footprint_done(&all);
        store_close(s);
}

static void test_intensity_json(void **state)
{
        /* the UK National Grid carbon-intensity API's shape: actual, else forecast */
        static const char good[] =
                "{\"data\":[{\"from\":\"2018-01-20T12:30Z\",\"to\":\"2018-01-20T13:00Z\","
                "\"intensity\":{\"forecast\":270,\"actual\":null,\"index\":\"moderate\"}},\n"
                "{\"from\":\"2018-01-20T12:00Z\",\"to\":\"2018-01-20T12:30Z\","
                "\"intensity\":{\"forecast\":266,\"actual\":263,\"index\":\"moderate\"}}]}\n";
        CarbonInterval *v = NULL;
        size_t n = 0;
        bool json = false;
        char err[256] = "";
        assert_int_equal(cli_intensity_parse(good, &v, &n, &json, err, sizeof(err)), 0);
        assert_true(json);
        assert_int_equal(n, 2);
        int64_t t;
        assert_int_equal(parse_time_point("2018-01-20T12:00:00Z", 0, &t), 0);
        assert_true(v[0].start_us == t); /* sorted */
        assert_true(v[0].g_per_kwh == 263);
        assert_true(v[1].g_per_kwh == 270);
        free(v);

        static const struct {
                const char *text, *error;
        } bad[] = {
                {"{\"data\":[{\"from\":\"2018-01-20T12:00Z\",\n\"to\" \"x\"}]}", "line 2, column"},
                {"{\"data\":[", "ends too early"},
                {"{\"data\":[]} x", "text after"},
                {"{\"dat\":[]}", "not an object with a \"data\" array"},
                {"[1]", "not an object with"},
                {"{\"data\":[]}", "\"data\" is empty"},
                {"{\"data\":[1]}", "data[0]: not an object"},
                {"{\"data\":[{\"from\":\"2018-01-20T12:00Z\",\"to\":\"2018-01-20T12:30Z\","
                 "\"intensity\":{\"forecast\":1}},{\"to\":\"2018-01-20T13:00Z\"}]}",
                 "data[1].from: missing"},
                {"{\"data\":[{\"from\":\"2018-01-20T12:00Z\",\"to\":\"soon\"}]}",
                 "data[0].to: 'soon' is not"},
                {"{\"data\":[{\"from\":\"2018-01-20T12:00Z\",\"to\":\"2018-01-20T12:30Z\"}]}",
                 "data[0].intensity: missing"},
                {"{\"data\":[{\"from\":\"2018-01-20T12:00Z\",\"to\":\"2018-01-20T12:30Z\","
                 "\"intensity\":{\"actual\":null,\"forecast\":\"high\"}}]}",
                 "data[0].intensity: neither actual nor forecast"},
                {"{\"data\":[{\"from\":\"2018-01-20T12:00Z\",\"to\":\"2018-01-20T13:00Z\","
                 "\"intensity\":{\"actual\":1}},{\"from\":\"2018-01-20T12:30Z\",\"to\":"
                 "\"2018-01-20T13:30Z\",\"intensity\":{\"actual\":2}}]}",
                 "data[1] overlaps data[0]"},
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                v = (CarbonInterval *)0x1;
                n = 99;
                err[0] = '\0';
                assert_int_equal(cli_intensity_parse(bad[i].text, &v, &n, &json, err, sizeof(err)),
                                 -EINVAL);
                if (!strstr(err, bad[i].error)) {
                        fprintf(stderr, "row %zu: '%s' lacks '%s'\n", i, err, bad[i].error);
                        fail();
                }
                assert_ptr_equal(v, (CarbonInterval *)0x1);
                assert_int_equal(n, 99);
        }
}

/* [carbon] in joulesd.conf: validated like every key, stored into meta, read back by joules */
static void test_carbon_config(void **state)
{
        JoulesConfig c;
        config_defaults(&c);
        assert_string_equal(c.carbon.country, "");
        assert_true(c.carbon.pue == 1.0 && c.carbon.lifetime_hours == 35040);
        assert_true(isnan(c.carbon.intensity) && isnan(c.carbon.market_intensity));
        static const struct {
                const char *key, *value, *error; /* error NULL: accepted */
        } rows[] = {
                {"country", "FR", NULL},
                {"country", "XX", "carbon.country: 'XX' is not in the built-in table"},
                {"pue", "1.135", NULL},
                {"pue", "0.9", "carbon.pue: 0.9 is out of range [1, 10]"},
                {"pue", "", "carbon.pue: '' is not a number"},
                {"embodied_g", "1e6", NULL},
                {"embodied_g", "-1", "out of range"},
                {"lifetime_hours", "43800", NULL},
                {"intensity_g_per_kwh", "250", NULL},
                {"intensity_g_per_kwh", "abc", "carbon.intensity_g_per_kwh: 'abc' is not a number"},
                {"market_intensity_g_per_kwh", "12.5", NULL},
                {"colour", "green", "unknown key 'colour' in section [carbon]"},
        };
        for (size_t i = 0; i < ELEMENTSOF(rows); i++) {
                char err[256] = "";
                int r = config_set(&c, "carbon", rows[i].key, rows[i].value, err, sizeof(err));
                if (!rows[i].error) {
                        assert_int_equal(r, 0);
                        continue;
                }
                assert_true(r < 0);
                if (!strstr(err, rows[i].error)) {
                        fprintf(stderr, "row %zu: '%s' lacks '%s'\n", i, err, rows[i].error);
                        fail();
                }
        }
        assert_string_equal(c.carbon.country, "FR");
        assert_true(c.carbon.pue == 1.135 && c.carbon.embodied_g == 1e6);
        /* the empty value of an optional number means none again */
        char err[256];
        assert_int_equal(config_set(&c, "carbon", "intensity_g_per_kwh", "", err, sizeof(err)), 0);
        assert_true(isnan(c.carbon.intensity));

        /* into a history and back through what joules reads */
        char path[300];
        assert_int_equal(path_fmt(path, sizeof(path), "%s/cfg.db", dir), 0);
        Store *s;
        assert_int_equal(store_open(path, STORE_READ_WRITE, &s, err, sizeof(err)), 0);
        assert_int_equal(store_write_meta(s, "carbon.intensity", "999"), 0); /* stale */
        assert_int_equal(config_store_carbon(&c, s), 0);
        FootprintSettings fs;
        assert_int_equal(footprint_settings_load(s, &fs, err, sizeof(err)), 0);
        assert_string_equal(fs.country, "FR");
        assert_true(fs.pue == 1.135 && fs.te_g == 1e6 && fs.el_hours == 43800);
        assert_true(isnan(fs.intensity)); /* the stale key is gone */
        assert_true(fs.market_g_per_kwh == 12.5);
        char label[64];
        assert_true(footprint_fallback_intensity(&fs, label, sizeof(label)) == 44.18);
        assert_string_equal(label, "ember-2024:FR");
        /* a flag beats the stored country */
        FootprintOverrides o = {.v.country = "PL", .country = true};
        footprint_apply(&fs, &o);
        assert_true(footprint_fallback_intensity(&fs, label, sizeof(label)) == 614.98);
        store_close(s);
}

/* The market-based Scope 2 columns of the export: the factor configured or given, exactly as it
 * was computed before; without one, the location-based grid average, said so (GHG Protocol
 * Scope 2 Guidance, Table 6.3's last row). */
static void test_market(void **state)
{
        static const struct {
                double factor; /* NAN: none configured */
                bool flag;     /* given as --market-intensity */
                double intensity, location_g, market_g;
                double g_per_kwh, emissions_g; /* expected */
                const char *source;
        } rows[] = {
                /* no factor: the row's energy-weighted grid average and its emissions */
                {NAN, false, 342.06, 684.12, NAN, 342.06, 684.12, FOOTPRINT_MARKET_GRID_AVERAGE},
                {NAN, false, 250.5, 125.25, NAN, 250.5, 125.25, FOOTPRINT_MARKET_GRID_AVERAGE},
                /* no energy in the row: the hours' intensity, no grams */
                {NAN, false, 44.18, 0, NAN, 44.18, 0, FOOTPRINT_MARKET_GRID_AVERAGE},
                /* a configured factor, figures computed from it hour by hour */
                {10, false, 342.06, 684.12, 20, 10, 20, "configured"},
                /* 0 (certificates for all of it) is a factor, not none */
                {0, false, 342.06, 684.12, 0, 0, 0, "configured"},
                {10, true, 342.06, 684.12, 20, 10, 20, "given"},
                {0, true, 342.06, 684.12, 0, 0, 0, "given"},
        };
        for (size_t i = 0; i < ELEMENTSOF(rows); i++) {
                FootprintSettings fs = {.intensity = NAN, .pue = 1, .market_g_per_kwh = NAN};
                if (rows[i].flag) {
                        FootprintOverrides o = {.v.market_g_per_kwh = rows[i].factor,
                                                .market = true};
                        footprint_apply(&fs, &o);
                } else {
                        fs.market_g_per_kwh = rows[i].factor;
                }
                FootprintFigures f = {.facility_kwh = 2,
                                      .intensity = rows[i].intensity,
                                      .location_g = rows[i].location_g,
                                      .market_g = rows[i].market_g};
                FootprintMarket m;
                footprint_market(&fs, &f, &m);
                if (m.g_per_kwh != rows[i].g_per_kwh || m.emissions_g != rows[i].emissions_g ||
                    strcmp(m.source, rows[i].source) != 0) {
                        fprintf(stderr, "row %zu: %.17g g/kWh %.17g g '%s'\n", i, m.g_per_kwh,
                                m.emissions_g, m.source);
                        fail();
                }
        }

        /* Through the builder, two hours at different intensities: without a factor the market
         * totals are the location-based ones of every row and period (the report's market_g
         * stays empty); with one, the hour-by-hour figures as before. */
        static const double factors[] = {NAN, 10};
        for (size_t k = 0; k < ELEMENTSOF(factors); k++) {
                FootprintSettings fs = {.intensity = NAN,
                                        .pue = 1.2,
                                        .el_hours = 35040,
                                        .market_g_per_kwh = factors[k]};
                FootprintBuilder *b;
                assert_int_equal(footprint_builder_new(&fs, T0, T0 + 2 * HOUR, STORE_BUCKET_DAY,
                                                       NULL, NULL, NULL, &b),
                                 0);
                for (int h = 0; h < 2; h++) {
                        StorePeriod step = {.start_us = T0 + h * HOUR,
                                            .end_us = T0 + (h + 1) * HOUR,
                                            .first_us = T0 + h * HOUR,
                                            .last_us = T0 + (h + 1) * HOUR,
                                            .host_uj = UINT64_C(3600000000) * (uint64_t)(h + 1),
                                            .seconds = 3600};
                        StorePeriodRow r[2] = {
                                {.name = "a.service",
                                 .active_uj = UINT64_C(2400000000) * (h + 1),
                                 .cpu_ns = 2},
                                {.name = "b.service",
                                 .active_uj = UINT64_C(1200000000) * (h + 1),
                                 .cpu_ns = 1},
                        };
                        assert_int_equal(footprint_builder_add(b, &step, r, 2, h ? 100 : 300,
                                                               FOOTPRINT_SOURCE_SERIES),
                                         0);
                }
                Footprint fp;
                assert_int_equal(footprint_builder_finish(b, &fp), 0);
                footprint_builder_free(b);
                assert_int_equal(fp.n_periods, 1);
                assert_int_equal(fp.n_rows, 2);
                const FootprintFigures *all[] = {&fp.periods[0].host, &fp.rows[0].f, &fp.rows[1].f};
                for (size_t i = 0; i < ELEMENTSOF(all); i++) {
                        const FootprintFigures *f = all[i];
                        FootprintMarket m;
                        footprint_market(&fs, f, &m);
                        /* weighted by energy: (E x 300 + 2E x 100) / 3E */
                        assert_true(fabs(f->intensity - 500.0 / 3) < 1e-9);
                        if (isnan(factors[k])) {
                                assert_true(isnan(f->market_g));
                                assert_true(m.g_per_kwh == f->intensity);
                                assert_true(m.emissions_g == f->location_g);
                                assert_string_equal(m.source, FOOTPRINT_MARKET_GRID_AVERAGE);
                        } else {
                                assert_true(m.g_per_kwh == 10);
                                assert_true(m.emissions_g == f->market_g);
                                assert_true(fabs(m.emissions_g - f->facility_kwh * 10) < 1e-9);
                                assert_string_equal(m.source, "configured");
                        }
                }
                footprint_done(&fp);
        }
}

/* Units are matched to the chart's series by their whole name: two user units with long names
 * that share their start each get their own series, not the first one's. */
static void test_chart_long_names(void **state)
{
        StorePeriod period = {.start_us = T0,
                              .end_us = T0 + HOUR,
                              .first_us = T0,
                              .last_us = T0 + HOUR,
                              .host_uj = 10800000000,
                              .seconds = 3600};
        StorePeriodRow rows[2] = {{.active_uj = 7200000000}, {.active_uj = 3600000000}};
        for (size_t i = 0; i < 2; i++)
                snprintf(rows[i].name, sizeof(rows[i].name),
                         "user@1000/app-gnome-org.gnome.Nautilus-on-a-very-long-instance-name-%zu"
                         ".scope",
                         i + 1);
        StorePeriodRows p = {.from_us = T0,
                             .to_us = T0 + HOUR,
                             .bucket = STORE_BUCKET_HOUR,
                             .periods = &period,
                             .n_periods = 1,
                             .rows = rows,
                             .n_rows = 2};
        Chart c;
        assert_int_equal(chart_build(&p, NULL, &c), 0);
        assert_int_equal(c.n_series, 2);
        assert_int_equal(c.n_columns, 1);
        for (size_t i = 0; i < 2; i++) {
                assert_string_equal(c.names[i], rows[i].name);
                assert_true(fabs(c.watts[i] - (i == 0 ? 2 : 1)) < 1e-9);
        }
        chart_done(&c);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_buckets),          cmocka_unit_test(test_periods),
                cmocka_unit_test(test_chart_long_names), cmocka_unit_test(test_intensity_import),
                cmocka_unit_test(test_intensity_json),   cmocka_unit_test(test_carbon_config),
                cmocka_unit_test(test_market),
        };
        return cmocka_run_group_tests(tests, setup, teardown);
}
