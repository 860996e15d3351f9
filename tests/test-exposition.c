/* The exporter's pure parts, from tables: label escaping and UTF-8 repair, numbers, families in
 * both formats, content negotiation, the listen address, and whole pages rendered from totals
 * with hostile unit names (control bytes, quotes, backslashes, invalid UTF-8). */
#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "common/util.h"
#include "exporter/expose.h"
#include "exporter/listen.h"
#include "exporter/metrics.h"

/* Label values: common/text.h's table form (what `joules services` shows), then the exposition
 * escapes. */
static void test_label_values(void **state)
{
        static const struct {
                const char *in, *out;
        } rows[] = {
                {"a.service", "a.service"},
                {"", ""},
                {"back\\slash", "back\\\\\\\\slash"},
                {"quo\"te", "quo\\\"te"},
                {"new\nline", "new\\\\x0aline"},
                {"tab\tcr\resc\x1b[31m", "tab\\\\x09cr\\\\x0desc\\\\x1b[31m"},
                {"caf\xc3\xa9", "caf\xc3\xa9"},                                   /* é */
                {"\xe2\x82\xac\xf0\x9f\x94\x8b", "\xe2\x82\xac\xf0\x9f\x94\x8b"}, /* € 🔋 */
                {"bad\xff", "bad\\\\xff"},
                {"\x80x", "\\\\x80x"},                                /* lone continuation */
                {"\xc3", "\\\\xc3"},                                  /* truncated */
                {"\xc0\xaf", "\\\\xc0\\\\xaf"},                       /* overlong / */
                {"\xed\xa0\x80", "\\\\xed\\\\xa0\\\\x80"},            /* surrogate */
                {"\xf4\x90\x80\x80", "\\\\xf4\\\\x90\\\\x80\\\\x80"}, /* above U+10FFFF */
                {"\xf0\x9f\x94", "\\\\xf0\\\\x9f\\\\x94"},            /* cut 4-byte */
                {"\"\\\n\xff", "\\\"\\\\\\\\\\\\x0a\\\\xff"},
                {"a\xc2\x85z", "a\\\\u{0085}z"},     /* C1 control */
                {"x\xe2\x80\xaey", "x\\\\u{202e}y"}, /* right-to-left override */
        };
        for (size_t i = 0; i < ELEMENTSOF(rows); i++) {
                ExpoBuf b = {0};
                expo_label_value(&b, rows[i].in, true);
                if (strcmp(b.data ? b.data : "", rows[i].out) != 0)
                        fail_msg("row %zu: got [%s] want [%s]", i, b.data ? b.data : "",
                                 rows[i].out);
                expo_buf_free(&b);
        }
}

static void test_values(void **state)
{
        static const struct {
                ExpoValue v;
                const char *out;
        } rows[] = {
                {{EXPO_FIXED, 0, 6, 0}, "0.000000"},
                {{EXPO_FIXED, 1, 6, 0}, "0.000001"},
                {{EXPO_FIXED, 123456789, 6, 0}, "123.456789"},
                {{EXPO_FIXED, UINT64_MAX, 6, 0}, "18446744073709.551615"},
                {{EXPO_FIXED, 1500000001, 9, 0}, "1.500000001"},
                {{EXPO_FIXED, 42, 0, 0}, "42"},
                {{EXPO_DOUBLE, 0, 0, 0.1}, "0.1"},
                {{EXPO_DOUBLE, 0, 0, 1.0 / 3}, "0.33333333333333331"},
                {{EXPO_DOUBLE, 0, 0, 472.94}, "472.94"},
                {{EXPO_DOUBLE, 0, 0, 1e-12}, "1e-12"},
                {{EXPO_DOUBLE, 0, 0, NAN}, "NaN"},
                {{EXPO_DOUBLE, 0, 0, INFINITY}, "+Inf"},
                {{EXPO_DOUBLE, 0, 0, -INFINITY}, "-Inf"},
        };
        for (size_t i = 0; i < ELEMENTSOF(rows); i++) {
                ExpoBuf b = {0};
                expo_sample(&b, EXPO_TEXT, "x", EXPO_GAUGE, NULL, 0, rows[i].v, -1);
                char want[64];
                snprintf(want, sizeof(want), "x %s\n", rows[i].out);
                assert_string_equal(b.data, want);
                expo_buf_free(&b);
        }
}

static void test_families(void **state)
{
        ExpoBuf b = {0};
        ExpoLabel l[] = {{"unit", "a\"b"}, {"mode", "active"}};
        expo_family(&b, EXPO_TEXT, "j_energy_joules", EXPO_COUNTER, "joules", "Help \\ x\ny \"q\"");
        expo_sample(&b, EXPO_TEXT, "j_energy_joules", EXPO_COUNTER, l, 2, expo_fixed(1500000, 6),
                    1700000000.5);
        expo_family(&b, EXPO_TEXT, "j", EXPO_INFO, NULL, "Info.");
        expo_sample(&b, EXPO_TEXT, "j", EXPO_INFO, l, 1, expo_fixed(1, 0), -1);
        expo_end(&b, EXPO_TEXT);
        assert_string_equal(b.data,
                            "# HELP j_energy_joules_total Help \\\\ x\\ny \"q\"\n"
                            "# TYPE j_energy_joules_total counter\n"
                            "j_energy_joules_total{unit=\"a\\\"b\",mode=\"active\"} 1.500000\n"
                            "# HELP j_info Info.\n"
                            "# TYPE j_info gauge\n"
                            "j_info{unit=\"a\\\"b\"} 1\n");
        expo_buf_free(&b);

        expo_family(&b, EXPO_OPENMETRICS, "j_energy_joules", EXPO_COUNTER, "joules",
                    "Help \\ x\ny \"q\"");
        expo_sample(&b, EXPO_OPENMETRICS, "j_energy_joules", EXPO_COUNTER, l, 2,
                    expo_fixed(1500000, 6), 1700000000.5);
        expo_family(&b, EXPO_OPENMETRICS, "j", EXPO_INFO, NULL, "Info.");
        expo_sample(&b, EXPO_OPENMETRICS, "j", EXPO_INFO, l, 1, expo_fixed(1, 0), -1);
        expo_end(&b, EXPO_OPENMETRICS);
        assert_string_equal(
                b.data, "# HELP j_energy_joules Help \\\\ x\\ny \\\"q\\\"\n"
                        "# TYPE j_energy_joules counter\n"
                        "# UNIT j_energy_joules joules\n"
                        "j_energy_joules_total{unit=\"a\\\"b\",mode=\"active\"} 1.500000\n"
                        "j_energy_joules_created{unit=\"a\\\"b\",mode=\"active\"} 1700000000.5\n"
                        "# HELP j Info.\n"
                        "# TYPE j info\n"
                        "j_info{unit=\"a\\\"b\"} 1\n"
                        "# EOF\n");
        expo_buf_free(&b);
}

static void test_negotiate(void **state)
{
        static const struct {
                const char *accept;
                ExpoFormat f;
        } rows[] = {
                {NULL, EXPO_TEXT},
                {"", EXPO_TEXT},
                {"*/*", EXPO_TEXT},
                {"text/plain", EXPO_TEXT},
                {"application/openmetrics-text", EXPO_OPENMETRICS},
                /* Prometheus 2.42's scrape header */
                {"application/openmetrics-text;version=1.0.0,application/openmetrics-text;"
                 "version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1",
                 EXPO_OPENMETRICS},
                {"application/openmetrics-text; version=1.0.0; charset=utf-8", EXPO_OPENMETRICS},
                {"APPLICATION/OpenMetrics-Text;Version=\"1.0.0\"", EXPO_OPENMETRICS},
                {"text/plain;version=0.0.4;q=0.9,application/openmetrics-text;q=0.5", EXPO_TEXT},
                {"application/openmetrics-text;q=0.5,text/plain;version=0.0.4;q=0.9", EXPO_TEXT},
                {"application/openmetrics-text;version=0.0.1", EXPO_TEXT}, /* not what we write */
                {"application/openmetrics-text;version=2.0.0", EXPO_TEXT},
                {"application/openmetrics-text;q=0", EXPO_TEXT},
                {"application/openmetrics-text;q=bogus", EXPO_TEXT},
                {"text/html,application/openmetrics-text;q=0.2", EXPO_OPENMETRICS},
                {";;;,,,==", EXPO_TEXT},
        };
        for (size_t i = 0; i < ELEMENTSOF(rows); i++) {
                if (expo_negotiate(rows[i].accept) != rows[i].f)
                        fail_msg("Accept: %s", rows[i].accept ? rows[i].accept : "(none)");
        }
        assert_string_equal(expo_content_type(EXPO_TEXT),
                            "text/plain; version=0.0.4; charset=utf-8");
        assert_string_equal(expo_content_type(EXPO_OPENMETRICS),
                            "application/openmetrics-text; version=1.0.0; charset=utf-8");
}

static void test_listen(void **state)
{
        static const struct {
                const char *in;
                int family;
                const char *addr;
                unsigned port;
        } rows[] = {
                {"127.0.0.1:29120", AF_INET, "127.0.0.1", 29120},
                {"0.0.0.0:1", AF_INET, "0.0.0.0", 1},
                {"[::1]:65535", AF_INET6, "::1", 65535},
                {"[::]:9", AF_INET6, "::", 9},
                {"[fe80::1:2]:80", AF_INET6, "fe80::1:2", 80},
                {"127.0.0.1", 0, NULL, 0},
                {":29120", 0, NULL, 0},
                {"localhost:29120", 0, NULL, 0},
                {"127.0.0.1:0", 0, NULL, 0},
                {"127.0.0.1:65536", 0, NULL, 0},
                {"127.0.0.1:-1", 0, NULL, 0},
                {"127.0.0.1:+80", 0, NULL, 0},
                {"127.0.0.1:80x", 0, NULL, 0},
                {"127.0.0.1:", 0, NULL, 0},
                {"::1:80", 0, NULL, 0},
                {"[::1]80", 0, NULL, 0},
                {"[::1", 0, NULL, 0},
                {"[]:80", 0, NULL, 0},
                {"[127.0.0.1]:80", 0, NULL, 0},
                {"256.0.0.1:80", 0, NULL, 0},
        };
        for (size_t i = 0; i < ELEMENTSOF(rows); i++) {
                struct sockaddr_storage ss;
                socklen_t len;
                char err[256] = "", text[64];
                int r = listen_parse(rows[i].in, &ss, &len, err, sizeof(err));
                if (!rows[i].family) {
                        if (r != -EINVAL)
                                fail_msg("%s accepted", rows[i].in);
                        assert_true(strlen(err) > 10);
                        continue;
                }
                if (r < 0)
                        fail_msg("%s: %s", rows[i].in, err);
                assert_int_equal(ss.ss_family, rows[i].family);
                if (rows[i].family == AF_INET) {
                        struct sockaddr_in *a = (struct sockaddr_in *)&ss;
                        inet_ntop(AF_INET, &a->sin_addr, text, sizeof(text));
                        assert_int_equal(ntohs(a->sin_port), rows[i].port);
                        assert_int_equal(len, sizeof(*a));
                } else {
                        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
                        inet_ntop(AF_INET6, &a->sin6_addr, text, sizeof(text));
                        assert_int_equal(ntohs(a->sin6_port), rows[i].port);
                }
                assert_string_equal(text, rows[i].addr);
        }
}

/* ---- whole pages ---- */

static StoreTotals hostile_totals(void)
{
        static StoreTotalUnit units[7];
        static StoreTotalDomain domains[2];
        static StoreTotalRequests reqs[2];
        static StoreTotalEvents evs[4];
        StoreTotalEvents e[] = {
                {"a.service", "perf::TASK-CLOCK", UINT64_C(123456789012)},
                {"a.service", "in\"st\x1b", 7},
                {"z.service", "cycles", 5}, /* twice: names the history cut alike */
                {"z.service", "cycles", 6},
        };
        memcpy(evs, e, sizeof(e));
        StoreTotalUnit u[] = {
                {"a.service", false, 1000000, 500000, 2000000000},
                {"ev\"il\\\n.service\x01\x1b[2J", false, 7, 3, 10},
                {"x\xff.service", false, 100, 0, 1},
                {"x\xfe.service", false, 200, 50, 2}, /* another name, another series */
                {"idle", true, 0, 123456, 0},
                {"z.service", false, 1, 2, 3}, /* twice: names the history cut alike */
                {"z.service", false, 10, 20, 30},
        };
        memcpy(units, u, sizeof(u));
        StoreTotalDomain d[] = {
                {"package-0", "intel-rapl:0", "powercap", "package", false, true, 1623816, 0},
                {"package-0/core", "intel-rapl:0:0", "powercap", "core", false, false, 900000, 2}};
        memcpy(domains, d, sizeof(d));
        StoreTotalRequests q[] = {{"a.service", "requests", 42},
                                  {"a.service", "ord\"ers\xff", 0.5}};
        memcpy(reqs, q, sizeof(q));
        return (StoreTotals){.ticks = 10,
                             .host_uj = 1623849,
                             .valid_us = 10000000,
                             .first_us = INT64_C(1767225600000000),
                             .last_us = INT64_C(1767225610000000),
                             .source = "powercap",
                             .hostname = "h\"ost",
                             .weight = "cpu-time",
                             .units = units,
                             .n_units = ELEMENTSOF(u),
                             .domains = domains,
                             .n_domains = 2,
                             .requests = reqs,
                             .n_requests = 2,
                             .events = evs,
                             .n_events = ELEMENTSOF(e)};
}

static MetricsInput input(const StoreTotals *t)
{
        return (MetricsInput){.version = "0.1.0",
                              .history_up = true,
                              .totals = t,
                              .now_us = t->last_us + 2500000,
                              .carbon = true,
                              .intensity_g_per_kwh = 472.94,
                              .pue = 1.2,
                              .embodied_g_per_s = 1e6 / (35040.0 * 3600),
                              .process_cpu_s = 0.25,
                              .process_rss_bytes = 4096000,
                              .process_start_s = 1767225000,
                              .scrape_duration_s = 0.001};
}

static bool contains(const char *page, const char *line)
{
        char want[1024];
        snprintf(want, sizeof(want), "\n%s\n", line);
        return strstr(page, want) != NULL;
}

static void test_page_text(void **state)
{
        StoreTotals t = hostile_totals();
        MetricsInput in = input(&t);
        ExpoBuf b = {0};
        assert_true(metrics_render(&in, EXPO_TEXT, &b));
        const char *p = b.data;
        assert_true(contains(p, "joules_host_energy_joules_total 1.623849"));
        assert_true(contains(p,
                             "joules_unit_energy_joules_total{unit=\"a.service\",mode=\"active\"} "
                             "1.000000"));
        assert_true(contains(p, "joules_unit_energy_joules_total{unit=\"ev\\\"il\\\\\\\\\\\\x0a"
                                ".service\\\\x01\\\\x1b[2J\",mode=\"idle\"} 0.000003"));
        assert_true(contains(p, "joules_unit_energy_joules_total{unit=\"x\\\\xff.service\","
                                "mode=\"active\"} 0.000100"));
        assert_true(contains(p, "joules_unit_energy_joules_total{unit=\"x\\\\xfe.service\","
                                "mode=\"active\"} 0.000200"));
        assert_true(contains(p, "joules_unit_cpu_seconds_total{unit=\"x\\\\xfe.service\"} "
                                "0.000000002"));
        assert_true(contains(p,
                             "joules_unit_energy_joules_total{unit=\"z.service\",mode=\"active\"} "
                             "0.000011"));
        assert_null(strstr(p, "\xff"));
        assert_null(strstr(p, "\xfe"));
        assert_null(strstr(p, "\x1b"));
        assert_null(strstr(p, "\x01"));
        assert_true(contains(p, "joules_unit_energy_joules_total{unit=\"idle\",mode=\"idle\"} "
                                "0.123456"));
        assert_true(contains(p, "joules_unit_cpu_seconds_total{unit=\"a.service\"} 2.000000000"));
        assert_true(contains(p, "joules_unit_requests_total{unit=\"a.service\",metric=\"ord\\\"ers"
                                "\\\\xff\"} 0.5"));
        assert_true(contains(p,
                             "joules_unit_requests_total{unit=\"a.service\",metric=\"requests\"} "
                             "42"));
        assert_true(contains(p, "# TYPE joules_unit_events_total counter"));
        assert_true(contains(p, "joules_unit_events_total{unit=\"a.service\","
                                "event=\"perf::TASK-CLOCK\"} 123456789012"));
        assert_true(contains(p, "joules_unit_events_total{unit=\"a.service\","
                                "event=\"in\\\"st\\\\x1b\"} 7"));
        assert_true(
                contains(p, "joules_unit_events_total{unit=\"z.service\",event=\"cycles\"} 11"));
        assert_true(contains(p,
                             "joules_domain_energy_joules_total{domain=\"package-0/core\","
                             "zone=\"intel-rapl:0:0\",kind=\"core\",in_host=\"false\"} 0.900000"));
        assert_true(contains(p, "joules_info{source=\"powercap\",estimated=\"false\","
                                "hostname=\"h\\\"ost\",weight=\"cpu-time\"} 1"));
        assert_true(contains(p, "joules_build_info{version=\"0.1.0\"} 1"));
        assert_true(contains(p, "joules_grid_intensity_grams_per_kwh 472.94"));
        assert_true(contains(p, "joules_pue 1.2"));
        assert_true(contains(p, "joules_last_tick_timestamp_seconds 1767225610.000000"));
        assert_true(contains(p, "joules_last_tick_age_seconds 2.5"));
        assert_true(contains(p, "joules_history_up 1"));
        assert_true(contains(p, "# TYPE joules_unit_energy_joules_total counter"));
        assert_true(contains(p, "process_resident_memory_bytes 4096000"));
        assert_null(strstr(p, "_created"));
        assert_null(strstr(p, "# EOF"));
        assert_null(strstr(p, "# UNIT"));
        /* every unit's energy adds up to the host, to the microjoule: 1.623849 J */
        uint64_t sum = 0;
        for (const char *s = p; (s = strstr(s, "\njoules_unit_energy_joules_total{")); s++) {
                const char *v = strchr(strstr(s, "} "), ' ') + 1;
                unsigned long long whole, frac;
                assert_int_equal(sscanf(v, "%llu.%6llu", &whole, &frac), 2);
                sum += whole * 1000000 + frac;
        }
        assert_int_equal(sum, t.host_uj);
        /* each family's samples come after its own TYPE line, every line ends in a newline */
        assert_true(b.len > 0 && p[b.len - 1] == '\n');
        expo_buf_free(&b);
}

static void test_page_openmetrics(void **state)
{
        StoreTotals t = hostile_totals();
        MetricsInput in = input(&t);
        ExpoBuf b = {0};
        assert_true(metrics_render(&in, EXPO_OPENMETRICS, &b));
        const char *p = b.data;
        assert_true(contains(p, "# TYPE joules_host_energy_joules counter"));
        assert_true(contains(p, "# UNIT joules_host_energy_joules joules"));
        assert_true(contains(p, "joules_host_energy_joules_total 1.623849"));
        assert_true(contains(p, "joules_host_energy_joules_created 1767225600"));
        assert_true(contains(p, "joules_unit_energy_joules_created{unit=\"a.service\","
                                "mode=\"idle\"} 1767225600"));
        assert_true(contains(p, "# TYPE joules info"));
        assert_true(contains(p, "# TYPE joules_build info"));
        assert_true(contains(p, "# TYPE process_cpu_seconds counter"));
        assert_true(contains(p, "process_cpu_seconds_total 0.25"));
        assert_null(strstr(p, "\xff"));
        const char *eof = strstr(p, "# EOF\n");
        assert_non_null(eof);
        assert_int_equal(eof + 6 - p, (long)b.len); /* last */
        expo_buf_free(&b);
}

static void test_page_down(void **state)
{
        MetricsInput in = {.version = "0.1.0", .history_up = false, .process_start_s = 1};
        ExpoBuf b = {0};
        assert_true(metrics_render(&in, EXPO_TEXT, &b));
        assert_true(contains(b.data, "joules_history_up 0"));
        assert_null(strstr(b.data, "joules_host_energy"));
        assert_null(strstr(b.data, "joules_unit_energy"));
        assert_true(contains(b.data, "joules_build_info{version=\"0.1.0\"} 1"));
        expo_buf_free(&b);
        /* an empty history: counters at 0, no _created, no last tick */
        StoreTotals t = {.empty = true};
        MetricsInput e = input(&t);
        assert_true(metrics_render(&e, EXPO_OPENMETRICS, &b));
        assert_true(contains(b.data, "joules_host_energy_joules_total 0.000000"));
        assert_null(strstr(b.data, "_created"));
        assert_null(strstr(b.data, "joules_last_tick"));
        assert_null(strstr(b.data, "joules_info"));
        expo_buf_free(&b);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_label_values),     cmocka_unit_test(test_values),
                cmocka_unit_test(test_families),         cmocka_unit_test(test_negotiate),
                cmocka_unit_test(test_listen),           cmocka_unit_test(test_page_text),
                cmocka_unit_test(test_page_openmetrics), cmocka_unit_test(test_page_down),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
