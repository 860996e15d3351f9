/* joules run: the request count parsed from wrk, ab and hey output (texts as these tools print
 * them, captured from Debian 12's wrk 4.1.0, ab 2.3 and hey 0.1.4). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "cli/cli.h"
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

static void test_parse_table(void **state)
{
        static const struct {
                const char *tool, *text;
                int r;
                double n;
        } rows[] = {
                {"wrk", wrk_out, 0, 305072},   {"wrk", wrk_non2xx, 0, 1000},
                {"wrk", ab_out, -ENODATA, 0},  {"wrk", "", -ENODATA, 0},
                {"ab", ab_out, 0, 500},        {"ab", wrk_out, -ENODATA, 0},
                {"hey", hey_out, 0, 300},      {"hey", hey_errors, 0, 5},
                {"hey", wrk_out, -ENODATA, 0}, {"curl", wrk_out, -EINVAL, 0},
        };
        for (size_t i = 0; i < ELEMENTSOF(rows); i++) {
                double n = -1;
                int r = cli_run_parse_requests(rows[i].tool, rows[i].text, &n);
                if (r != rows[i].r)
                        fail_msg("row %zu (%s): %d, expected %d", i, rows[i].tool, r, rows[i].r);
                if (r == 0 && n != rows[i].n)
                        fail_msg("row %zu (%s): %g, expected %g", i, rows[i].tool, n, rows[i].n);
        }
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_parse_table),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
