/* Prometheus scraping: the text exposition parser, label matchers and counter resets, from
 * tables. The scrape itself (libcurl against a real server) is in
 * tests/integration/requests-scrape.sh. */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "common/util.h"
#include "daemon/config.h"
#include "daemon/scrape.h"

/* table rows leave trailing fields out */
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

static void test_parse_line(void **state)
{
        static const struct {
                const char *line;
                int r;
                const char *metric;
                double value;
                size_t n_labels;
                const char *l0, *v0; /* first label */
                const char *l1, *v1; /* second label */
        } rows[] = {
                {"http_requests_total 1027", 0, "http_requests_total", 1027, 0},
                {"http_requests_total{method=\"post\",code=\"200\"} 1027 1395066363000", 0,
                 "http_requests_total", 1027, 2, "method", "post", "code", "200"},
                {"  x{a=\"1\",} 3.5e2", 0, "x", 350, 1, "a", "1"},
                {"x{ a = \"b\" , c=\"d\" }\t7", 0, "x", 7, 2, "a", "b", "c", "d"},
                {"msdos_file_access_time_seconds{path=\"C:\\\\DIR\\\\FILE.TXT\",error=\"Cannot "
                 "find file:\\n\\\"FILE.TXT\\\"\"} 1.458255915e9",
                 0, "msdos_file_access_time_seconds", 1.458255915e9, 2, "path", "C:\\DIR\\FILE.TXT",
                 "error", "Cannot find file:\n\"FILE.TXT\""},
                {"ns:sub_metric{le=\"+Inf\"} 1", 0, "ns:sub_metric", 1, 1, "le", "+Inf"},
                {"x{} 1", 0, "x", 1, 0},
                {"x -3", 0, "x", -3, 0},
                {"x 1\r", 0, "x", 1, 0},
                {"x{a=\"}\"} 2", 0, "x", 2, 1, "a", "}"},
                {"# HELP http_requests_total The total number of HTTP requests.", 1},
                {"# TYPE http_requests_total counter", 1},
                {"", 1},
                {"   ", 1},
                /* malformed */
                {"x", -EINVAL},
                {"x{a=\"1\"}", -EINVAL},
                {"x{a=\"1} 1", -EINVAL},
                {"x{a=1} 1", -EINVAL},
                {"x{a=\"\\q\"} 1", -EINVAL},
                {"x{1a=\"b\"} 1", -EINVAL},
                {"x{a:b=\"c\"} 1", -EINVAL},
                {"1x 1", -EINVAL},
                {"x one", -EINVAL},
                {"x 0x10", -EINVAL},
                {"x inf", -EINVAL},
                {"x 1 2 3", -EINVAL},
                {"x 1 abc", -EINVAL},
                {"x{a=\"b\"c=\"d\"} 1", -EINVAL},
        };
        for (size_t i = 0; i < ELEMENTSOF(rows); i++) {
                ScrapeSample s;
                int r = scrape_parse_line(rows[i].line, strlen(rows[i].line), &s);
                if (r != rows[i].r)
                        fail_msg("'%s': %d, expected %d", rows[i].line, r, rows[i].r);
                if (r != 0)
                        continue;
                assert_string_equal(s.metric, rows[i].metric);
                assert_true(s.value == rows[i].value);
                assert_int_equal(s.n_labels, rows[i].n_labels);
                if (rows[i].l0) {
                        assert_string_equal(s.labels[0].name, rows[i].l0);
                        assert_string_equal(s.labels[0].value, rows[i].v0);
                }
                if (rows[i].l1) {
                        assert_string_equal(s.labels[1].name, rows[i].l1);
                        assert_string_equal(s.labels[1].value, rows[i].v1);
                }
        }
        ScrapeSample s;
        assert_int_equal(scrape_parse_line("x NaN", 5, &s), 0);
        assert_true(isnan(s.value));
        assert_int_equal(scrape_parse_line("x +Inf", 6, &s), 0);
        assert_true(isinf(s.value) && s.value > 0);
        assert_int_equal(scrape_parse_line("x -Inf", 6, &s), 0);
        assert_true(isinf(s.value) && s.value < 0);
}

static void test_selectors(void **state)
{
        static const struct {
                const char *selector;
                bool ok;
                const char *line; /* a sample */
                bool match;
        } rows[] = {
                {"http_requests_total", true, "http_requests_total{code=\"200\"} 1", true},
                {"http_requests_total", true, "http_requests_total_x 1", false},
                {"http_requests_total{code=\"200\"}", true, "http_requests_total{code=\"200\"} 1",
                 true},
                {"http_requests_total{code=\"200\"}", true, "http_requests_total{code=\"500\"} 1",
                 false},
                {"http_requests_total{code!=\"500\"}", true, "http_requests_total{code=\"200\"} 1",
                 true},
                {"http_requests_total{code=~\"2..\"}", true, "http_requests_total{code=\"204\"} 1",
                 true},
                /* anchored: "2.." does not match "1200" */
                {"http_requests_total{code=~\"2..\"}", true, "http_requests_total{code=\"1200\"} 1",
                 false},
                {"http_requests_total{code=~\"2..|3..\"}", true,
                 "http_requests_total{code=\"301\"} 1", true},
                {"http_requests_total{code!~\"5..\"}", true, "http_requests_total{code=\"503\"} 1",
                 false},
                {"x{code=~\"2..\", method=\"GET\"}", true, "x{method=\"GET\",code=\"200\"} 1",
                 true},
                {"x{code=~\"2..\", method=\"GET\"}", true, "x{method=\"PUT\",code=\"200\"} 1",
                 false},
                /* a missing label is "" */
                {"x{job=\"\"}", true, "x{code=\"200\"} 1", true},
                {"x{job!=\"\"}", true, "x{code=\"200\"} 1", false},
                {"x{path=\"a\\\"b\"}", true, "x{path=\"a\\\"b\"} 1", true},
                /* bad selectors */
                {"", false},
                {"{code=\"200\"}", false},
                {"x{code=200}", false},
                {"x{code==\"200\"}", false},
                {"x{code=~\"(\"}", false},
                {"x{code=\"200\"", false},
                {"x{code=\"200\"} y", false},
                {"x{a=\"1\",b=\"1\",c=\"1\",d=\"1\",e=\"1\",f=\"1\",g=\"1\",h=\"1\",i=\"1\"}",
                 false},
        };
        for (size_t i = 0; i < ELEMENTSOF(rows); i++) {
                ScrapeSelector sel;
                char err[256];
                int r = scrape_selector_parse(rows[i].selector, &sel, err, sizeof(err));
                if ((r == 0) != rows[i].ok)
                        fail_msg("'%s': %d (%s)", rows[i].selector, r, r ? err : "");
                if (r != 0)
                        continue;
                ScrapeSample s;
                assert_int_equal(scrape_parse_line(rows[i].line, strlen(rows[i].line), &s), 0);
                if (scrape_selector_match(&sel, &s) != rows[i].match)
                        fail_msg("'%s' against '%s': expected %d", rows[i].selector, rows[i].line,
                                 rows[i].match);
                scrape_selector_done(&sel);
        }
}

static void test_collect(void **state)
{
        const char *page = "# HELP http_requests_total Requests.\n"
                           "# TYPE http_requests_total counter\n"
                           "http_requests_total{code=\"200\",method=\"get\"} 100\n"
                           "http_requests_total{code=\"201\",method=\"post\"} 20\n"
                           "http_requests_total{code=\"500\",method=\"get\"} 3\n"
                           "http_requests_total{code=\"200\",method=\"head\"} NaN\n"
                           "http_requests_total_created{code=\"200\"} 1.7e9\n"
                           "garbage line {{{\n"
                           "other_total 99\n";
        static const struct {
                const char *selector;
                size_t n;
                double sum;
        } rows[] = {
                {"http_requests_total{code=~\"2..\"}", 2, 120}, /* NaN is skipped */
                {"http_requests_total", 3, 123},
                {"absent_total", 0, 0},
        };
        for (size_t i = 0; i < ELEMENTSOF(rows); i++) {
                ScrapeSelector sel;
                char err[128];
                assert_int_equal(scrape_selector_parse(rows[i].selector, &sel, err, sizeof(err)),
                                 0);
                ScrapeSeriesSet set;
                assert_int_equal(scrape_collect(&sel, page, strlen(page), &set), 0);
                double sum = 0;
                for (size_t k = 0; k < set.n; k++)
                        sum += set.v[k].value;
                if (set.n != rows[i].n || sum != rows[i].sum)
                        fail_msg("%s: %zu series, %g; want %zu, %g", rows[i].selector, set.n, sum,
                                 rows[i].n, rows[i].sum);
                scrape_series_done(&set);
                scrape_selector_done(&sel);
        }
}

/* What joulesd takes from the scrape worker, which it does not trust. */
static void test_records_apply(void **state)
{
        (void)state;
        static const ScrapeRecord v[] = {
                {SCRAPE_RECORD_READY, 0, 0},
                {SCRAPE_RECORD_GROWTH, 0, 5},
                {SCRAPE_RECORD_GROWTH, 2, 0.5},
                {SCRAPE_RECORD_GROWTH, 0, 1e15},         /* the most one scrape may count */
                {SCRAPE_RECORD_GROWTH, 3, 1},            /* no such target */
                {SCRAPE_RECORD_GROWTH, UINT32_MAX, 1},   /* nor this */
                {SCRAPE_RECORD_GROWTH, 1, -1},           /* counts do not go down */
                {SCRAPE_RECORD_GROWTH, 1, NAN},          /* nor are they not numbers */
                {SCRAPE_RECORD_GROWTH, 1, INFINITY},     /* nor endless */
                {SCRAPE_RECORD_GROWTH, 1, 1.0000001e15}, /* nor past 10^15 */
                {SCRAPE_RECORD_READY, 1, 0},             /* READY names no target */
                {SCRAPE_RECORD_READY, 0, 2},             /* nor counts */
                {0, 0, 1},                               /* no such kind */
                {99, 1, 1},
                {SCRAPE_RECORD_GROWTH, 1, 0}, /* zero: taken, changes nothing */
        };
        double pending[3] = {0, 0, 0};
        size_t ready = 0, bad = 0;
        scrape_records_apply(v, ELEMENTSOF(v), pending, 3, &ready, &bad);
        assert_int_equal(ready, 1);
        assert_int_equal(bad, 10);
        assert_true(pending[0] == 5 + 1e15);
        assert_true(pending[1] == 0);
        assert_true(pending[2] == 0.5);
}

static void test_counter_delta(void **state)
{
        static const struct {
                double prev, cur, delta;
        } rows[] = {
                {0, 0, 0},    {10, 15, 5},   {15, 15, 0}, {1000, 3, 3}, /* reset: the new value */
                {1000, 0, 0}, {0.5, 2.5, 2}, {5, -1, 0},  {5, NAN, 0},  {5, INFINITY, 0},
        };
        for (size_t i = 0; i < ELEMENTSOF(rows); i++)
                if (scrape_counter_delta(rows[i].prev, rows[i].cur) != rows[i].delta)
                        fail_msg("row %zu: %g -> %g gave %g, expected %g", i, rows[i].prev,
                                 rows[i].cur, scrape_counter_delta(rows[i].prev, rows[i].cur),
                                 rows[i].delta);
}

/* Counter resets are found series by series, then the growths are added (Prometheus: take rate()
 * first, then aggregate; "otherwise rate() cannot detect counter resets"). Summing first hides a
 * reset behind another series' growth and counts a vanished series as a reset of all. */
static void test_growth(void **state)
{
        static const struct {
                const char *page;
                double growth; /* since the page before */
        } pages[] = {
                {"c_total{w=\"1\"} 1000\nc_total{w=\"2\"} 10\n", NAN}, /* baseline */
                /* w=1 restarted (1000 -> 5) while w=2 grew by 1190: 5 + 1190 */
                {"c_total{w=\"1\"} 5\nc_total{w=\"2\"} 1200\n", 1195},
                /* w=2 went away: w=1 grew by 5, nothing else happened */
                {"c_total{w=\"1\"} 10\n", 5},
                /* a new series counts from 0, labels in another order are the same series */
                {"c_total{w=\"1\",x=\"a\"} 3\nc_total{w=\"1\"} 12\n", 5},
                {"c_total{x=\"a\",w=\"1\"} 4\nc_total{w=\"1\"} 12\n", 1},
                /* label sets that print alike are still two series */
                {"c_total{w=\"1x=2\"} 7\nc_total{w=\"1\",x=\"2\"} 9\n", 16},
                {"c_total{w=\"1x=2\"} 8\nc_total{w=\"1\",x=\"2\"} 10\n", 2},
                /* w=2 back after 5 pages without it, as Prometheus' rate() sees it: its growth
                 * since its last value (1200), not all of it */
                {"c_total{w=\"2\"} 1300\n", 100},
                {"c_total{z=\"1\"} 1\n", 1},
                {"c_total{z=\"1\"} 1\n", 0},
                {"c_total{z=\"1\"} 1\n", 0},
                {"c_total{z=\"1\"} 1\n", 0},
                {"c_total{z=\"1\"} 1\n", 0},
                {"c_total{z=\"1\"} 1\n", 0},
                {"c_total{z=\"1\"} 1\n", 0},
                {"c_total{z=\"1\"} 1\n", 0},
                {"c_total{z=\"1\"} 1\n", 0},
                /* absent from SCRAPE_FORGET (10) pages: forgotten, so back it is a new series */
                {"c_total{z=\"1\"} 1\n", 0},
                {"c_total{w=\"2\"} 1400\n", 1400},
        };
        ScrapeSelector sel;
        char err[128];
        assert_int_equal(scrape_selector_parse("c_total", &sel, err, sizeof(err)), 0);
        ScrapeSeriesSet prev = {0};
        for (size_t i = 0; i < ELEMENTSOF(pages); i++) {
                ScrapeSeriesSet cur = {0};
                assert_int_equal(scrape_collect(&sel, pages[i].page, strlen(pages[i].page), &cur),
                                 0);
                assert_true(cur.n > 0);
                if (i > 0) { /* as the worker does: the growth, then the gone carried */
                        double g = scrape_growth(&prev, &cur);
                        if (g != pages[i].growth)
                                fail_msg("page %zu: growth %g, expected %g", i, g, pages[i].growth);
                        assert_int_equal(scrape_series_carry(&prev, &cur), 0);
                        for (size_t k = 1; k < cur.n; k++)
                                assert_true(strcmp(cur.v[k - 1].key, cur.v[k].key) < 0);
                }
                scrape_series_done(&prev);
                prev = cur;
        }
        scrape_series_done(&prev);
        scrape_selector_done(&sel);
}

static void test_config(void **state)
{
        JoulesConfig c;
        config_defaults(&c);
        char err[512];
        const char *sec = "requests \"web.service\"";
        assert_int_equal(
                config_set(&c, sec, "scrape_url", "http://127.0.0.1:9/metrics", err, sizeof(err)),
                0);
        assert_int_equal(config_set(&c, sec, "scrape_metric", "http_requests_total{code=~\"2..\"}",
                                    err, sizeof(err)),
                         0);
        assert_int_equal(config_set(&c, sec, "scrape_interval", "1s", err, sizeof(err)), 0);
        assert_int_equal(config_set(&c, sec, "scrape_timeout", "250ms", err, sizeof(err)), 0);
        assert_int_equal(config_set(&c, sec, "access_log", "/var/log/x.log", err, sizeof(err)), 0);
        assert_int_equal(
                config_set(&c, sec, "access_log_filter", " 2[0-9][0-9] ", err, sizeof(err)), 0);
        assert_int_equal(c.n_request_sources, 1);
        assert_string_equal(c.request_sources[0].unit, "web.service");
        assert_string_equal(c.request_sources[0].metric_name, "requests");
        assert_int_equal(c.request_sources[0].scrape_timeout_us, 250000);
        assert_int_equal(config_check_requests(&c, err, sizeof(err)), 0);
        /* errors */
        static const struct {
                const char *section, *key, *value, *why;
        } bad[] = {
                {"requests web.service", "access_log", "/x", "expected [requests"},
                {"requests \"web.slice\"", "access_log", "/x", "expected [requests"},
                {"requests \"web.service\"", "scrape_url", "ftp://x/", "not an http"},
                {"requests \"web.service\"", "scrape_metric", "x{code=~\"(\"}", "regular"},
                {"requests \"web.service\"", "scrape_interval", "10ms", "not a duration"},
                {"requests \"web.service\"", "access_log", "relative.log", "absolute"},
                {"requests \"web.service\"", "access_log_filter", "(", "access_log_filter"},
                {"requests \"web.service\"", "metric", "bad name", "not a metric"},
                {"requests \"web.service\"", "colour", "red", "unknown key"},
                {"ingest", "socket", "relative.sock", "absolute"},
                {"ingest", "nope", "1", "unknown key"},
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                err[0] = '\0';
                if (config_set(&c, bad[i].section, bad[i].key, bad[i].value, err, sizeof(err)) == 0)
                        fail_msg("[%s] %s = %s accepted", bad[i].section, bad[i].key, bad[i].value);
                if (!strstr(err, bad[i].why))
                        fail_msg("[%s] %s: '%s' lacks '%s'", bad[i].section, bad[i].key, err,
                                 bad[i].why);
        }
        /* a scrape_url without scrape_metric is caught after the whole file */
        JoulesConfig d;
        config_defaults(&d);
        assert_int_equal(config_set(&d, "requests \"a.service\"", "scrape_url", "http://x/", err,
                                    sizeof(err)),
                         0);
        assert_int_equal(config_check_requests(&d, err, sizeof(err)), -EINVAL);
        assert_non_null(strstr(err, "scrape_metric"));
        /* the empty socket turns the ingest socket off */
        assert_int_equal(config_set(&d, "ingest", "socket", "", err, sizeof(err)), 0);
        assert_string_equal(d.ingest_socket, "");
}

/* Random and mutated lines and selectors (a fixed seed): no crash or overread under ASan. */
static void test_random(void **state)
{
        static const char *const seeds[] = {
                "http_requests_total{method=\"post\",code=\"200\"} 1027 1395066363000",
                "x{path=\"a\\\"b\\n\"} 3.5e2",
                "# HELP x y",
        };
        static const char *const sels[] = {"x{code=~\"2..\",method!=\"HEAD\"}", "x{a!~\"b|c\"}"};
        static const char alphabet[] = "{}\"\\=~!,. #eE+-0123456789xa\n\t\xff";
        uint64_t x = 0x2545f4914f6cdd1du;
        char buf[256] = {0}; /* a line may run up to 3 bytes past its seed: defined bytes there */
        ScrapeSample *smp = malloc(sizeof(*smp));
        assert_non_null(smp);
        for (int i = 0; i < 100000; i++) {
                x ^= x << 13, x ^= x >> 7, x ^= x << 17;
                bool selector = i % 4 == 3;
                const char *sd =
                        selector ? sels[x % ELEMENTSOF(sels)] : seeds[x % ELEMENTSOF(seeds)];
                size_t len = strlen(sd);
                memcpy(buf, sd, len);
                for (int k = 0; k < 3; k++) {
                        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
                        buf[x % len] = alphabet[(x >> 8) % (sizeof(alphabet) - 1)];
                }
                len = (len + (x >> 20) % 4) % sizeof(buf);
                if (selector) {
                        buf[len] = '\0';
                        ScrapeSelector sel;
                        char err[256];
                        if (scrape_selector_parse(buf, &sel, err, sizeof(err)) == 0)
                                scrape_selector_done(&sel);
                        continue;
                }
                char *exact = malloc(len ? len : 1);
                assert_non_null(exact);
                memcpy(exact, buf, len);
                int r = scrape_parse_line(exact, len, smp);
                assert_true(r == 0 || r == 1 || r == -EINVAL);
                free(exact);
        }
        free(smp);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_parse_line),    cmocka_unit_test(test_selectors),
                cmocka_unit_test(test_collect),       cmocka_unit_test(test_counter_delta),
                cmocka_unit_test(test_records_apply), cmocka_unit_test(test_growth),
                cmocka_unit_test(test_config),        cmocka_unit_test(test_random),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
