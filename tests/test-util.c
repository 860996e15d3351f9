/* Table tests for the shared parsers: durations, time points, numbers. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "common/util.h"

static void test_duration(void **state)
{
        static const struct {
                const char *in;
                int r;
                uint64_t us;
        } rows[] = {
                {"200ms", 0, 200000},
                {"1s", 0, 1000000},
                {"0.2", 0, 200000},
                {"50ms", 0, 50000},
                {"15m", 0, 900000000},
                {"24h", 0, 86400000000},
                {"7d", 0, 604800000000},
                {"1h30m", 0, 5400000000},
                {"500us", 0, 500},
                {"2", 0, 2000000},
                {"1.5s", 0, 1500000},
                {"1min", 0, 60000000},
                {"", -EINVAL, 0},
                {"s", -EINVAL, 0},
                {"-1s", -EINVAL, 0},
                {"1x", -EINVAL, 0},
                {"1s2", -EINVAL, 0},
                {"ms", -EINVAL, 0},
                {"1 s", -EINVAL, 0},
                {"nan", -EINVAL, 0},
                {"1e400", -EINVAL, 0},
                /* past 2^63 us: llround() gave 2^63 for both */
                {"10000000000000s", 0, UINT64_C(10000000000000000000)},
                {"18000000000000000000us", 0, UINT64_C(18000000000000000000)},
                {"18446744073709551616us", -ERANGE, 0},
        };
        for (size_t i = 0; i < ELEMENTSOF(rows); i++) {
                uint64_t us = 12345;
                int r = parse_duration_us(rows[i].in, &us);
                if (rows[i].r == 0) {
                        assert_int_equal(r, 0);
                        assert_int_equal(us, rows[i].us);
                } else {
                        assert_true(r < 0);
                        assert_int_equal(us, 12345); /* untouched on error */
                }
        }
}

static void test_format_duration(void **state)
{
        static const struct {
                uint64_t us;
                const char *text;
        } rows[] = {
                {0, "0s"},
                {1, "1us"},
                {1234567, "1234567us"},
                {250000, "250ms"},
                {USEC_PER_SEC, "1s"},
                {90 * USEC_PER_SEC, "90s"},
                {3600 * USEC_PER_SEC, "1h"},
                {7 * 86400 * USEC_PER_SEC, "7d"},
                {UINT64_MAX, "18446744073709551615us"},
        };
        for (size_t i = 0; i < ELEMENTSOF(rows); i++) {
                char buf[32];
                uint64_t back;
                assert_string_equal(format_duration_us(rows[i].us, buf, sizeof(buf)), rows[i].text);
                if (rows[i].us < UINT64_C(1) << 53) /* exact through parse_duration_us's double */
                        assert_true(parse_duration_us(buf, &back) == 0 && back == rows[i].us);
        }
}

/* Regexes glibc's regcomp would take gigabytes for (fuzz/fuzz-scrape.c hit the 2 GB limit with
 * "_totalN++++...") are refused; the filters people write are not. */
static void test_regex_cost(void **state)
{
        static const char *const fine[] = {
                "\" 2[0-9][0-9] \"",
                "^[^ ]+ - - \\[[^]]*\\] \"(GET|POST) /api/",
                "2..",
                " 5[0-9]{2} ",
                "[0-9]{1,3}\\.[0-9]{1,3}\\.[0-9]{1,3}\\.[0-9]{1,3}",
                "a+b+c+",
                "[+*{]+",
                "x\\{1000\\}",
        };
        static const char *const costly[] = {
                "_totalN+++++++++++++++",
                "a**",
                "(x{255}){255}",
                "((((((((((((a+)+)+)+)+)+)+)+)+)+)+)+)+",
                "a{100000}",
        };
        for (size_t i = 0; i < ELEMENTSOF(fine); i++)
                if (regex_too_costly(fine[i]))
                        fail_msg("'%s' refused", fine[i]);
        for (size_t i = 0; i < ELEMENTSOF(costly); i++)
                if (!regex_too_costly(costly[i]))
                        fail_msg("'%s' not refused", costly[i]);
}

static void test_time_point(void **state)
{
        const int64_t now = INT64_C(1767225600) * 1000000; /* 2026-01-01T00:00:00Z */
        static const struct {
                const char *in;
                int ok;
                int64_t s; /* seconds since the epoch */
        } rows[] = {
                {"2026-01-01", 1, 1767225600},
                {"2026-01-01T12:00:00Z", 1, 1767268800},
                {"2026-01-01T12:00Z", 1, 1767268800},
                {"2026-01-01T12:00:00+02:00", 1, 1767261600},
                {"2024-02-29T00:00:00Z", 1, 1709164800},
                {"1h", 1, 1767222000},
                {"now", 1, 1767225600},
                {"2025-02-29", 0, 0},
                {"2026-13-01", 0, 0},
                {"2026-01-01T25:00Z", 0, 0},
                {"yesterday", 0, 0},
                {"2026-01-01X", 0, 0},
                {"2026-01-01T12:00:30.000Z", 1, 1767268830},
                {"2026-01-01T12:00:00+0200", 1, 1767261600},
                /* loose spellings sscanf alone let through */
                {"2026-+1-01", 0, 0},
                {"+026-01-01", 0, 0},
                {" 2026-01-01", 0, 0},
                {"2026-01-01T 1: 2Z", 0, 0},
                {"2026-01-01T12:00:1e1Z", 0, 0},
                {"2026-01-01T12:00:0x3aZ", 0, 0},
                {"2026-01-01T12:00:30.Z", 0, 0},
                {"2026-01-01T12:00Z+-1:00", 0, 0},
                {"2026-01-01T12:00+ 1:00", 0, 0},
                {"2026-01-01T12:00-+100", 0, 0},
        };
        for (size_t i = 0; i < ELEMENTSOF(rows); i++) {
                int64_t us = 0;
                int r = parse_time_point(rows[i].in, now, &us);
                if (rows[i].ok) {
                        assert_int_equal(r, 0);
                        assert_int_equal(us, rows[i].s * 1000000);
                } else {
                        assert_true(r < 0);
                }
        }
        char buf[32];
        assert_string_equal(
                format_rfc3339(INT64_C(1767268800) * 1000000 + 999999, buf, sizeof(buf)),
                "2026-01-01T12:00:00Z");
}

static void test_u64(void **state)
{
        uint64_t v;
        assert_int_equal(parse_u64("262143328850\n", &v), 0);
        assert_int_equal(v, UINT64_C(262143328850));
        assert_int_equal(parse_u64("18446744073709551615", &v), 0);
        assert_int_equal(v, UINT64_MAX);
        assert_int_equal(parse_u64("18446744073709551616", &v), -ERANGE);
        assert_int_equal(parse_u64("-1", &v), -EINVAL);
        assert_int_equal(parse_u64("", &v), -EINVAL);
        assert_int_equal(parse_u64("12ab", &v), -EINVAL);
        assert_int_equal(parse_u64(" 12", &v), -EINVAL);
        double d;
        assert_int_equal(parse_double("0.74", &d), 0);
        assert_true(d == 0.74);
        assert_true(parse_double("inf", &d) < 0);
        assert_true(parse_double("1.5W", &d) < 0);
}

static void test_array_grow(void **state)
{
        (void)state;
        uint64_t *v = NULL;
        size_t cap = 0;
        assert_int_equal(array_grow((void **)&v, &cap, 0, sizeof(*v)), 0);
        assert_null(v);
        static const struct {
                size_t need, cap;
        } steps[] = {{1, 16}, {16, 16}, {17, 32}, {100, 128}, {3, 128}};
        for (size_t i = 0; i < ELEMENTSOF(steps); i++) {
                assert_int_equal(array_grow((void **)&v, &cap, steps[i].need, sizeof(*v)), 0);
                assert_int_equal(cap, steps[i].cap);
                v[steps[i].need - 1] = i; /* the room is there */
        }
        /* a size past what can be counted: refused, the array as it was */
        uint64_t *was = v;
        assert_int_equal(array_grow((void **)&v, &cap, SIZE_MAX / 4, sizeof(*v)), -ENOMEM);
        assert_int_equal(array_grow((void **)&v, &cap, SIZE_MAX, 1), -ENOMEM);
        assert_ptr_equal(v, was);
        assert_int_equal(cap, 128);
        free(v);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_duration),   cmocka_unit_test(test_format_duration),
                cmocka_unit_test(test_regex_cost), cmocka_unit_test(test_time_point),
                cmocka_unit_test(test_u64),        cmocka_unit_test(test_array_grow),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
