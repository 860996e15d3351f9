/* Perf events beside energy in the CLI (cli/events.c), from tables: per-request arithmetic (no
 * requests, or zero requests, is null, never a division by zero), a unit's rows in a list, the
 * first event in the history's order, the JSON object and the table's count format. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "cli/events.h"
#include "cli/json.h"
#include "common/util.h"

static void test_per_request(void **state)
{
        (void)state;
        static const struct {
                double value;
                bool has_requests;
                double requests;
                double want; /* NAN: null */
        } rows[] = {
                {1e9, true, 1000, 1e6}, {123, true, 4, 30.75},   {0, true, 10, 0},
                {1e9, true, 0, NAN},    /* requests counted, but none */
                {1e9, false, 0, NAN},   /* no request source */
                {1e9, false, 500, NAN}, /* a stale count without has_requests */
                {1e9, true, -3, NAN},   /* never a negative rate */
                {NAN, true, 10, NAN},   /* event not counted */
                {1e9, true, NAN, NAN},  {1.8e19, true, 3, 6e18}, /* past INT64_MAX: doubles all the
                                                                    way */
        };
        for (size_t i = 0; i < ELEMENTSOF(rows); i++) {
                double got =
                        events_per_request(rows[i].value, rows[i].has_requests, rows[i].requests);
                if (isnan(rows[i].want)) {
                        if (!isnan(got))
                                fail_msg("row %zu: %g, expected null", i, got);
                } else if (!(fabs(got - rows[i].want) <= 1e-12 * fabs(rows[i].want))) {
                        fail_msg("row %zu: %.17g, expected %.17g", i, got, rows[i].want);
                }
        }
}

static const StoreEventTotal list[] = {
        {"a.service", "perf::PAGE-FAULTS", 2, 10},
        {"a.service", "perf::TASK-CLOCK", 1, 5e9},
        {"b.service", "instructions", 4, 7e9},
        {"c.service", "perf::TASK-CLOCK", 1, 1e6},
};

static void test_of_unit(void **state)
{
        (void)state;
        static const struct {
                const char *unit;
                size_t first, n;
        } rows[] = {
                {"a.service", 0, 2}, {"b.service", 2, 1}, {"c.service", 3, 1},
                {"d.service", 4, 0}, {"", 4, 0},
        };
        for (size_t i = 0; i < ELEMENTSOF(rows); i++) {
                size_t first;
                size_t n = events_of_unit(list, ELEMENTSOF(list), rows[i].unit, &first);
                assert_int_equal(n, rows[i].n);
                if (n)
                        assert_int_equal(first, rows[i].first);
        }
        assert_string_equal(events_first(list, 2), "perf::TASK-CLOCK"); /* by id, not by row */
        assert_string_equal(events_first(list, ELEMENTSOF(list)), "perf::TASK-CLOCK");
        assert_string_equal(events_first(list + 2, 1), "instructions");
        assert_null(events_first(list, 0));
        assert_true(events_total(list, 2, "perf::TASK-CLOCK") == 5e9);
        assert_true(isnan(events_total(list, 2, "instructions")));
        assert_true(isnan(events_total(list, 2, NULL)));
}

static void test_json(void **state)
{
        (void)state;
        static const struct {
                const StoreEventTotal *ev;
                size_t n;
                bool has_requests;
                double requests;
                const char *want;
        } rows[] = {
                {list, 2, true, 1000,
                 "{\"events\":{\"perf::PAGE-FAULTS\":{\"total\":10,\"per_request\":0.01},"
                 "\"perf::TASK-CLOCK\":{\"total\":5000000000,\"per_request\":5000000}}}\n"},
                {list, 2, true, 0,
                 "{\"events\":{\"perf::PAGE-FAULTS\":{\"total\":10,\"per_request\":null},"
                 "\"perf::TASK-CLOCK\":{\"total\":5000000000,\"per_request\":null}}}\n"},
                {list + 2, 1, false, 0,
                 "{\"events\":{\"instructions\":{\"total\":7000000000,\"per_request\":null}}}\n"},
                {list, 0, true, 5, "{\"events\":{}}\n"},
        };
        for (size_t i = 0; i < ELEMENTSOF(rows); i++) {
                char *buf = NULL;
                size_t len = 0;
                FILE *f = open_memstream(&buf, &len);
                assert_non_null(f);
                JsonWriter j;
                json_init(&j, f);
                json_object_begin(&j, NULL);
                events_json(&j, "events", rows[i].ev, rows[i].n, rows[i].has_requests,
                            rows[i].requests);
                json_object_end(&j);
                json_end(&j);
                assert_int_equal(fclose(f), 0);
                if (strcmp(buf, rows[i].want) != 0)
                        fail_msg("row %zu:\n got  %s want %s", i, buf, rows[i].want);
                free(buf);
        }
}

static void test_format(void **state)
{
        (void)state;
        static const struct {
                double v;
                const char *want;
        } rows[] = {
                {NAN, "-"},       {INFINITY, "-"},    {0, "0"},          {7, "7"},
                {2.5, "2.5"},     {0.0123, "0.0123"}, {9999, "9999"},    {12345, "12.3k"},
                {999499, "999k"}, {1.5e6, "1.5M"},    {2.25e9, "2.25G"}, {3e12, "3T"},
                {123.4, "123"},
        };
        for (size_t i = 0; i < ELEMENTSOF(rows); i++) {
                char buf[32];
                events_format(rows[i].v, buf, sizeof(buf));
                if (strcmp(buf, rows[i].want) != 0)
                        fail_msg("row %zu (%g): \"%s\", expected \"%s\"", i, rows[i].v, buf,
                                 rows[i].want);
        }
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_per_request),
                cmocka_unit_test(test_of_unit),
                cmocka_unit_test(test_json),
                cmocka_unit_test(test_format),
        };
        return cmocka_run_group_tests_name("cli events", tests, NULL, NULL);
}
