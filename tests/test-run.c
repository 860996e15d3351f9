/* joules run and joules ab: the request count and mean latency parsed from wrk, ab, hey and
 * httperf output (texts as these tools print them, captured from Debian 12's wrk 4.1.0, ab 2.3,
 * hey 0.1.4 and httperf 0.9.0). */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "cli/measure.h"
#include "common/util.h"

static const char wrk_out[] = "Running 2s test @ http://127.0.0.1:33653/\n"
                              "  1 threads and 8 connections\n"
                              "  Thread Stats   Avg      Stdev     Max   +/- Stdev\n"
                              "    Latency    51.31us  125.35us   3.98ms   98.48%\n"
                              "    Req/Sec   146.26k    14.91k  176.12k    71.43%\n"
                              "  305072 requests in 2.10s, 23.86MB read\n"
                              "Requests/sec: 145208.07\n"
                              "Transfer/sec:     11.36MB\n";
static const char wrk_non2xx[] = "  1000 requests in 1.00s, 80.00KB read\n"
                                 "  Non-2xx or 3xx responses: 12\n"
                                 "Requests/sec:   1000.00\n";
static const char ab_out[] = "Benchmarking 127.0.0.1 (be patient)\n"
                             "Server Software:        \n"
                             "Document Path:          /\n"
                             "Concurrency Level:      4\n"
                             "Time taken for tests:   0.026 seconds\n"
                             "Complete requests:      500\n"
                             "Failed requests:        0\n"
                             "Keep-Alive requests:    500\n"
                             "Requests per second:    19230.77 [#/sec] (mean)\n"
                             "Time per request:       0.208 [ms] (mean)\n";
static const char hey_out[] = "Summary:\n"
                              "  Total:\t0.0393 secs\n"
                              "  Requests/sec:\t7633.5878\n"
                              "Status code distribution:\n"
                              "  [200]\t290 responses\n"
                              "  [503]\t10 responses\n"
                              "\n";
static const char hey_errors[] = "Status code distribution:\n"
                                 "  [200]\t5 responses\n"
                                 "\nError distribution:\n"
                                 "  [3]\tGet \"http://x/\": dial tcp: connection refused\n";

static const char hey_latency[] = "Summary:\n"
                                  "  Total:\t0.0393 secs\n"
                                  "  Slowest:\t0.0120 secs\n"
                                  "  Fastest:\t0.0001 secs\n"
                                  "  Average:\t0.0012 secs\n"
                                  "  Requests/sec:\t7633.5878\n";
static const char wrk_ms[] = "    Latency     2.50ms    1.10ms  13.20ms   80.00%\n"
                             "  1200 requests in 1.00s, 80.00KB read\n";
static const char ab_both[] = "Time per request:       0.208 [ms] (mean)\n"
                              "Time per request:       0.052 [ms] (mean, across all concurrent "
                              "requests)\n";
static const char httperf_out[] =
        "httperf --client=0/1 --server=127.0.0.1 --port=35921 --uri=/ --rate=200 "
        "--send-buffer=4096 --recv-buffer=16384 --num-conns=200 --num-calls=1\n"
        "Maximum connect burst length: 3\n"
        "\n"
        "Total: connections 200 requests 200 replies 198 test-duration 0.996 s\n"
        "\n"
        "Connection rate: 200.9 conn/s (5.0 ms/conn, <=3 concurrent connections)\n"
        "Connection time [ms]: min 0.1 avg 1.5 max 12.0 median 0.5 stddev 2.4\n"
        "Request rate: 200.9 req/s (5.0 ms/req)\n"
        "Reply rate [replies/s]: min 0.0 avg 0.0 max 0.0 stddev 0.0 (0 samples)\n"
        "Reply time [ms]: response 1.4 transfer 0.2\n"
        "Reply status: 1xx=0 2xx=198 3xx=0 4xx=0 5xx=0\n"
        "Errors: total 2 client-timo 2 socket-timo 0 connrefused 0 connreset 0\n";

static void test_parse_table(void **state)
{
        static const struct {
                MeasureRequests tool;
                const char *text;
                int r;
                double n;
        } rows[] = {
                {MEASURE_REQ_WRK, wrk_out, 0, 305072},
                {MEASURE_REQ_WRK, wrk_non2xx, 0, 1000},
                {MEASURE_REQ_WRK, ab_out, -ENODATA, 0},
                {MEASURE_REQ_WRK, "", -ENODATA, 0},
                {MEASURE_REQ_AB, ab_out, 0, 500},
                {MEASURE_REQ_AB, wrk_out, -ENODATA, 0},
                {MEASURE_REQ_HEY, hey_out, 0, 300},
                {MEASURE_REQ_HEY, hey_errors, 0, 5},
                {MEASURE_REQ_HEY, wrk_out, -ENODATA, 0},
                /* httperf: the replies, not the requests sent (2 timed out) */
                {MEASURE_REQ_HTTPERF, httperf_out, 0, 198},
                {MEASURE_REQ_HTTPERF, wrk_out, -ENODATA, 0},
                {MEASURE_REQ_INGEST, wrk_out, -EINVAL, 0},
                {MEASURE_REQ_NONE, wrk_out, -EINVAL, 0},
        };
        for (size_t i = 0; i < ELEMENTSOF(rows); i++) {
                double n = -1;
                int r = measure_parse_requests(rows[i].tool, rows[i].text, &n);
                if (r != rows[i].r)
                        fail_msg("row %zu: %d, expected %d", i, r, rows[i].r);
                if (r == 0 && n != rows[i].n)
                        fail_msg("row %zu: %g, expected %g", i, n, rows[i].n);
        }
}

static void test_latency_table(void **state)
{
        static const struct {
                MeasureRequests tool;
                const char *text;
                int r;
                double ms;
        } rows[] = {
                {MEASURE_REQ_WRK, wrk_out, 0, 0.05131},
                {MEASURE_REQ_WRK, wrk_ms, 0, 2.5},
                {MEASURE_REQ_WRK, wrk_non2xx, -ENODATA, 0},
                {MEASURE_REQ_AB, ab_out, 0, 0.208},
                /* a request's own time, not the one divided by the concurrency */
                {MEASURE_REQ_AB, ab_both, 0, 0.208},
                {MEASURE_REQ_HEY, hey_latency, 0, 1.2},
                {MEASURE_REQ_HEY, hey_out, -ENODATA, 0},
                {MEASURE_REQ_HTTPERF, httperf_out, 0, 1.6},
                {MEASURE_REQ_HTTPERF, ab_out, -ENODATA, 0},
                {MEASURE_REQ_INGEST, wrk_out, -EINVAL, 0},
        };
        for (size_t i = 0; i < ELEMENTSOF(rows); i++) {
                double ms = -1;
                int r = measure_parse_latency_ms(rows[i].tool, rows[i].text, &ms);
                if (r != rows[i].r)
                        fail_msg("row %zu: %d, expected %d", i, r, rows[i].r);
                if (r == 0 && fabs(ms - rows[i].ms) > 1e-9)
                        fail_msg("row %zu: %g ms, expected %g", i, ms, rows[i].ms);
        }
}

static void test_requests_names(void **state)
{
        static const struct {
                const char *name;
                int r;
                MeasureRequests v;
        } rows[] = {
                {"wrk", 0, MEASURE_REQ_WRK},         {"ab", 0, MEASURE_REQ_AB},
                {"hey", 0, MEASURE_REQ_HEY},         {"httperf", 0, MEASURE_REQ_HTTPERF},
                {"ingest", 0, MEASURE_REQ_INGEST},   {"none", 0, MEASURE_REQ_NONE},
                {"curl", -EINVAL, MEASURE_REQ_NONE}, {"", -EINVAL, MEASURE_REQ_NONE},
        };
        for (size_t i = 0; i < ELEMENTSOF(rows); i++) {
                MeasureRequests v = MEASURE_REQ_NONE;
                assert_int_equal(measure_requests_parse(rows[i].name, &v), rows[i].r);
                if (rows[i].r == 0) {
                        assert_int_equal(v, rows[i].v);
                        assert_string_equal(measure_requests_name(v), rows[i].name);
                }
        }
        /* by the command's name; ingest is never guessed */
        assert_int_equal(measure_requests_guess("/usr/bin/wrk"), MEASURE_REQ_WRK);
        assert_int_equal(measure_requests_guess("httperf"), MEASURE_REQ_HTTPERF);
        assert_int_equal(measure_requests_guess("ingest"), MEASURE_REQ_NONE);
        assert_int_equal(measure_requests_guess("make"), MEASURE_REQ_NONE);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_parse_table),
                cmocka_unit_test(test_latency_table),
                cmocka_unit_test(test_requests_names),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
