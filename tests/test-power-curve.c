/* Table tests for common/power-curve.c: evaluation, parsing, checks and formatting of host power
 * curves. */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "common/power-curve.h"

static void test_eval(void **state)
{
        /* SPECpower-like: steep at low load, flat near the top */
        static const PowerCurve c = {
                .n = 4, .util_pct = {0, 10, 50, 100}, .watts = {60, 100, 180, 200}};
        static const struct {
                double util, watts;
        } rows[] = {
                {0, 60},   {-5, 60},   {5, 80},    {10, 100}, {30, 140},       {50, 180},
                {75, 190}, {100, 200}, {120, 200}, {NAN, 60}, {INFINITY, 200},
        };
        (void)state;
        for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
                double w = power_curve_eval(&c, rows[i].util);
                if (fabs(w - rows[i].watts) > 1e-12)
                        fail_msg("row %zu: %g %% gave %g W, want %g", i, rows[i].util, w,
                                 rows[i].watts);
        }
        /* a curve that starts above 0 % is flat below its first point */
        static const PowerCurve mid = {.n = 2, .util_pct = {20, 80}, .watts = {100, 160}};
        assert_true(power_curve_eval(&mid, 0) == 100);
        assert_true(power_curve_eval(&mid, 50) == 130);
        assert_true(power_curve_eval(&mid, 99) == 160);
}

static void test_linear(void **state)
{
        PowerCurve c;
        (void)state;
        power_curve_linear(&c, 4, 0.74, 3.5);
        assert_int_equal(c.n, 2);
        assert_true(fabs(power_curve_eval(&c, 0) - 2.96) < 1e-12);
        assert_true(fabs(power_curve_eval(&c, 100) - 14.0) < 1e-12);
        assert_true(fabs(power_curve_eval(&c, 25) - (2.96 + 0.25 * (14.0 - 2.96))) < 1e-12);
        power_curve_scale(&c, 0.5);
        assert_true(fabs(power_curve_eval(&c, 100) - 7.0) < 1e-12);
}

static void test_parse(void **state)
{
        static const struct {
                const char *in;
                int ok;
                unsigned n;
                const char *err; /* a part of the reason */
        } rows[] = {
                {"0:74, 50:220, 100:350", 1, 3, NULL},
                {"0:74,100:350", 1, 2, NULL},
                {" 0 : 74 ,  100 : 350 ", 1, 2, NULL},
                {"0:7.4e1, 100:3.5e2", 1, 2, NULL},
                {"0:74", 0, 0, "1 points, want 2 to 21"},
                {"", 0, 0, "point 1: want"},
                {"0:74,", 0, 0, "point 2: want"},
                {"0:74, 50", 0, 0, "point 2: want"},
                {"0:74 50:80", 0, 0, "point 1: want"},
                {"0:74, 50:x", 0, 0, "point 2: want"},
                {"0:74, 50:nan", 0, 0, "point 2: want"},
                {"0:74, 50:inf", 0, 0, "point 2: want"},
                {"0:74, 0x10:80", 0, 0, "point 2: want"},
                {"50:100, 10:80", 0, 0, "point 2: utilisation 10 after 50"},
                {"10:80, 10:90", 0, 0, "point 2: utilisation 10 given twice"},
                {"0:74, 101:80", 0, 0, "point 2: utilisation 101 is not within 0 to 100"},
                {"-1:74, 100:80", 0, 0, "point 1: utilisation -1"},
                {"0:-3, 100:80", 0, 0, "point 1: -3 W is not a finite figure"},
                {"0:1e999, 100:80", 0, 0, "point 1: want"},
        };
        (void)state;
        for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
                PowerCurve c = {.n = 99};
                char err[160] = "";
                int r = power_curve_parse(rows[i].in, &c, err, sizeof(err));
                if (rows[i].ok) {
                        if (r != 0)
                                fail_msg("row %zu \"%s\": %s", i, rows[i].in, err);
                        assert_int_equal(c.n, rows[i].n);
                } else {
                        if (r != -EINVAL)
                                fail_msg("row %zu \"%s\" accepted", i, rows[i].in);
                        if (!strstr(err, rows[i].err))
                                fail_msg("row %zu \"%s\": \"%s\", want \"%s\"", i, rows[i].in, err,
                                         rows[i].err);
                        assert_int_equal(c.n, 99); /* untouched */
                }
        }
        /* 21 points are the most */
        char text[512] = "", err[160];
        size_t len = 0;
        for (int i = 0; i <= 20; i++)
                len += (size_t)snprintf(text + len, sizeof(text) - len, "%s%d:%d", i ? "," : "",
                                        i * 5, 50 + i);
        PowerCurve c;
        assert_int_equal(power_curve_parse(text, &c, err, sizeof(err)), 0);
        assert_int_equal(c.n, 21);
        snprintf(text + len, sizeof(text) - len, ",100.5:90");
        assert_int_equal(power_curve_parse(text, &c, err, sizeof(err)), -EINVAL);
        assert_non_null(strstr(err, "more than 21 points"));
}

static void test_format_round_trip(void **state)
{
        static const char *const rows[][2] = {
                {"0:74, 50:220, 100:350", "0:74, 50:220, 100:350"},
                {"0:0.1, 100:0.30000000000000004", "0:0.1, 100:0.30000000000000004"},
                {" 0 : 74.50 ,100:3.5e2", "0:74.5, 100:350"},
        };
        (void)state;
        for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
                PowerCurve c, back;
                char err[160], buf[256];
                assert_int_equal(power_curve_parse(rows[i][0], &c, err, sizeof(err)), 0);
                int n = power_curve_format(&c, ", ", buf, sizeof(buf));
                assert_int_equal(n, (int)strlen(rows[i][1]));
                assert_string_equal(buf, rows[i][1]);
                assert_int_equal(power_curve_parse(buf, &back, err, sizeof(err)), 0);
                assert_memory_equal(&c, &back, sizeof(c));
        }
        /* a short buffer is cut, the length needed still returned */
        PowerCurve c;
        char err[160], small[8];
        assert_int_equal(power_curve_parse("0:74, 50:220, 100:350", &c, err, sizeof(err)), 0);
        assert_int_equal(power_curve_format(&c, ", ", small, sizeof(small)), 21);
        assert_string_equal(small, "0:74, 5");
        /* the form a config line takes */
        char compact[64];
        assert_int_equal(power_curve_format(&c, ",", compact, sizeof(compact)), 19);
        assert_string_equal(compact, "0:74,50:220,100:350");
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_eval),
                cmocka_unit_test(test_linear),
                cmocka_unit_test(test_parse),
                cmocka_unit_test(test_format_round_trip),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
