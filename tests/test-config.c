/* joulesd.conf: every bad line is refused with FILE:LINE: reason, good ones land in the struct. */
#include <errno.h>
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
#include "daemon/config.h"

static char *write_tmp(const char *text)
{
        char *path = strdup("/tmp/joules-test-config-XXXXXX");
        int fd = mkstemp(path);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
        close(fd);
        return path;
}

static void test_good(void **state)
{
        char *p = write_tmp("; comment\n"
                            "[daemon]\n"
                            "database = /tmp/x.db\n"
                            "interval = 200ms\n"
                            "[energy]\n"
                            "source = powercap\n"
                            "host_domain = psys\n"
                            "max_domain_power_w = 500\n"
                            "[model]\n"
                            "idle_w_per_cpu = 0.71\n"
                            "max_w_per_cpu = 4.26\n"
                            "[attribution]\n"
                            "idle_power = 12.5\n"
                            "events = perf::TASK-CLOCK\n"
                            "[ingest]\n"
                            "trusted_units = web.service, user@1000/app.service\n"
                            "trusted_uids = 0\t1000\n"
                            "[requests \"web.service\"]\n"
                            "access_log = /var/log/w.log\n"
                            "access_log_filter = ^GET [^\t]*\t200$\n");
        JoulesConfig c;
        char err[512];
        config_defaults(&c);
        assert_int_equal(config_load(&c, p, err, sizeof(err)), 0);
        assert_string_equal(c.db_path, "/tmp/x.db");
        assert_int_equal(c.interval_us, 200000);
        assert_string_equal(c.energy_source, "powercap");
        assert_true(c.energy.host_psys);
        assert_true(c.max_domain_power_w == 500);
        assert_true(c.energy.model_idle_w_per_cpu == 0.71);
        assert_true(c.energy.model_line_set);
        assert_false(c.energy.model_curve_set);
        assert_false(c.idle_learn);
        assert_true(c.idle_w == 12.5);
        assert_string_equal(c.events, "perf::TASK-CLOCK");
        assert_string_equal(c.ingest_trusted_units, "web.service, user@1000/app.service");
        assert_string_equal(c.ingest_trusted_uids, "0\t1000");
        assert_int_equal(c.n_request_sources, 1);
        assert_string_equal(c.request_sources[0].access_log_filter, "^GET [^\t]*\t200$");
        unlink(p);
        free(p);
}

static void test_curve(void **state)
{
        char *p = write_tmp("[model]\ncurve = 0:74, 10: 120 ,50:220, 100:350.5\ndram = estimate\n");
        JoulesConfig c;
        char err[512];
        (void)state;
        config_defaults(&c);
        assert_int_equal(c.energy.model_dram, ENERGY_MODEL_DRAM_AUTO);
        assert_false(c.energy.model_curve_set);
        assert_false(c.energy.model_line_set);
        assert_int_equal(config_load(&c, p, err, sizeof(err)), 0);
        assert_true(c.energy.model_curve_set);
        assert_false(c.energy.model_line_set);
        assert_int_equal(c.energy.model_curve.n, 4);
        assert_true(c.energy.model_curve.util_pct[1] == 10);
        assert_true(c.energy.model_curve.watts[3] == 350.5);
        assert_int_equal(c.energy.model_dram, ENERGY_MODEL_DRAM_ESTIMATE);
        /* what config_dump prints loads again to the same curve */
        char *dump = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&dump, &len);
        config_dump(&c, f);
        fclose(f);
        assert_non_null(strstr(dump, "curve = 0:74,10:120,50:220,100:350.5\n"));
        assert_non_null(strstr(dump, "\ndram = estimate\n"));
        free(dump);
        unlink(p);
        free(p);

        /* 21 points with decimals: the most a line holds, and what --dump-config writes of them
         * loads again (a dump with ", " between points was longer than the line joulesd takes) */
        char text[512] = "[model]\ncurve = ";
        for (int i = 0; i <= 20; i++)
                snprintf(text + strlen(text), sizeof(text) - strlen(text), "%s%d:%d.25",
                         i ? "," : "", i * 5, 50 + i);
        strcat(text, "\n");
        p = write_tmp(text);
        config_defaults(&c);
        if (config_load(&c, p, err, sizeof(err)) != 0)
                fail_msg("21 points: %s", err);
        unlink(p);
        free(p);
        f = open_memstream(&dump, &len);
        config_dump(&c, f);
        fclose(f);
        p = write_tmp(dump);
        free(dump);
        JoulesConfig back;
        config_defaults(&back);
        if (config_load(&back, p, err, sizeof(err)) != 0)
                fail_msg("the dump of 21 points: %s", err);
        assert_memory_equal(&back.energy.model_curve, &c.energy.model_curve, sizeof(PowerCurve));
        unlink(p);
        free(p);
}

static void test_bad(void **state)
{
        static const struct {
                const char *text;
                int line;
                const char *reason;
        } rows[] = {
                {"[daemon]\nintervall = 1s\n", 2, "unknown key 'intervall' in section [daemon]"},
                {"[deamon]\ninterval = 1s\n", 2, "unknown section [deamon]"},
                {"[daemon]\ninterval = fast\n", 2, "'fast' is not a duration"},
                {"[daemon]\n\ninterval = 10ms\n", 3, "out of range"},
                {"[energy]\nsource = rapl\n", 2, "'rapl' is not an energy source"},
                {"[energy]\nhost_domain = all\n", 2, "neither 'packages' nor 'psys'"},
                {"[energy]\nmax_domain_power_w = -3\n", 2, "out of range"},
                {"[model]\nidle_w_per_cpu = lots\n", 2, "'lots' is not a number"},
                {"[model]\ncpus = 2.5\n", 2, "not a whole number"},
                {"[model]\ncurve = 0:60, 50:180, 40:170\n", 2,
                 "model.curve: '0:60, 50:180, 40:170': point 3: utilisation 40 after 50"},
                {"[model]\n\ncurve = 0:-60, 100:200\n", 3, "model.curve: '0:-60, 100:200'"},
                {"[model]\ncurve = 0:60, 0:70, 100:200\n", 2, "point 2: utilisation 0 given twice"},
                {"[model]\ncurve = 0:60; 100:200\n", 2, "model.curve: '0:60; 100:200'"},
                {"[model]\ncurve = 0:60, 100\n", 2, "model.curve: '0:60, 100'"},
                {"[model]\ncurve = 0:60\n", 2, "1 points"},
                {"[model]\ncurve = 0:60, 150:200\n", 2, "point 2: utilisation 150"},
                {"[model]\nidle_w_per_cpu = 1\ncurve = 0:1, 100:2\n", 3, "exclude each other"},
                {"[model]\ncurve = 0:1, 100:2\nmax_w_per_cpu = 3\n", 3, "exclude each other"},
                {"[model]\nmax_w_per_cpu = 2\nidle_w_per_cpu = 3\n", 3,
                 "model.idle_w_per_cpu 3 W is above model.max_w_per_cpu 2 W"},
                {"[model]\ndram = yes\n", 2, "model.dram: 'yes' is not auto, estimate or none"},
                {"[attribution]\nidle_power = learnt\n", 2, "'learnt' is not a number"},
                {"[daemon]\nthis line has no equals sign\n", 2, "syntax error"},
                {"interval = 1s\n", 1, "unknown section []"},
                /* bytes that would run in a terminal when --dump-config or a log shows them */
                {"[daemon]\ndatabase = /tmp/\x1b[5m.db\n", 2,
                 "daemon.database: the value holds a control, invisible or non-UTF-8 character"},
                {"[requests \"web.service\"]\naccess_log = /tmp/\x1b]0;T\x07.log\n", 2,
                 "the value holds a control"},
                {"[requests \"web.service\"]\naccess_log_filter = \xc2\x9b"
                 "2J\n",
                 2, "the value holds a control"},
                {"[daemon]\ndatabase = /tmp/x\xe2\x81\xa0.db\n", 2, "invisible"},
                {"[daemon]\ndatabase = /tmp/\xff.db\n", 2, "non-UTF-8"},
                {"[requests \"w\x1b.service\"]\nmetric = x\n", 2,
                 "the section name holds a control"},
                {"[ingest]\ntrusted_units = web.service bad/x\n", 2,
                 "ingest.trusted_units: 'bad/x' is not a unit name"},
                {"[ingest]\ntrusted_uids = 0 1000 nobody\n", 2,
                 "ingest.trusted_uids: 'nobody' is not a UID"},
        };
        for (size_t i = 0; i < ELEMENTSOF(rows); i++) {
                char *p = write_tmp(rows[i].text);
                JoulesConfig c, before;
                char err[512] = "", expect[600];
                config_defaults(&c);
                before = c;
                assert_int_equal(config_load(&c, p, err, sizeof(err)), -EINVAL);
                snprintf(expect, sizeof(expect), "%s:%d: ", p, rows[i].line);
                if (strncmp(err, expect, strlen(expect)) != 0 || !strstr(err, rows[i].reason))
                        fail_msg("row %zu: got '%s', expected prefix '%s' and '%s'", i, err, expect,
                                 rows[i].reason);
                /* nothing half-applied */
                assert_memory_equal(&c, &before, sizeof(c));
                unlink(p);
                free(p);
        }
}

/* idle_w_per_cpu alone above the default max (data/estimates.csv's generic line): refused at
 * load, so --check-config says so, not joulesd at start. */
static void test_model_line_default(void **state)
{
        char *p = write_tmp("[model]\nidle_w_per_cpu = 5\n");
        JoulesConfig c;
        char err[512] = "";
        (void)state;
        config_defaults(&c);
        assert_int_equal(config_load(&c, p, err, sizeof(err)), -EINVAL);
        if (!strstr(err, "model.idle_w_per_cpu 5 W is above model.max_w_per_cpu 3.5 W") ||
            !strstr(err, "max_w_per_cpu not given") || strncmp(err, p, strlen(p)) != 0)
                fail_msg("got '%s'", err);
        unlink(p);
        free(p);
        p = write_tmp("[model]\nidle_w_per_cpu = 5\nmax_w_per_cpu = 9\n");
        config_defaults(&c);
        assert_int_equal(config_load(&c, p, err, sizeof(err)), 0);
        unlink(p);
        free(p);
}

/* libinih parses the tail of a line longer than its buffer as a line of its own: the tail of a
 * long comment set a key. Such a line is refused whole, and so is a NUL byte (found by
 * fuzz/fuzz-config.c). A line of exactly the longest length still loads. */
static void test_long_lines(void **state)
{
        char text[512], err[512];
        JoulesConfig c;
        /* "; " and 196 bytes: 198, the longest line */
        snprintf(text, sizeof(text), "[daemon]\n; %0196d\ninterval = 5s\n", 0);
        FILE *f = fmemopen(text, strlen(text), "r");
        config_defaults(&c);
        assert_int_equal(config_load_stream(&c, f, "t.conf", err, sizeof(err)), 0);
        assert_int_equal(c.interval_us, 5 * USEC_PER_SEC);
        fclose(f);
        /* one byte more: the tail "interval = 5s" must not be read as a line */
        snprintf(text, sizeof(text), "[daemon]\n; %0197dinterval = 5s\n", 0);
        f = fmemopen(text, strlen(text), "r");
        config_defaults(&c);
        assert_int_equal(config_load_stream(&c, f, "t.conf", err, sizeof(err)), -EINVAL);
        assert_string_equal(err, "t.conf:2: longer than 198 bytes");
        assert_int_equal(c.interval_us, USEC_PER_SEC);
        fclose(f);
        static const char with_nul[] = "[daemon]\ninterval = 5s\0\ninterval = 2s\n";
        f = fmemopen((void *)with_nul, sizeof(with_nul) - 1, "r");
        config_defaults(&c);
        assert_int_equal(config_load_stream(&c, f, "t.conf", err, sizeof(err)), -EINVAL);
        assert_string_equal(err, "t.conf:2: a NUL byte");
        fclose(f);
}

static void test_missing(void **state)
{
        JoulesConfig c;
        char err[512];
        config_defaults(&c);
        assert_int_equal(config_load(&c, "/nonexistent/joulesd.conf", err, sizeof(err)), -ENOENT);
        assert_non_null(strstr(err, "/nonexistent/joulesd.conf"));
}

static void test_dump_roundtrip(void **state)
{
        JoulesConfig c, d;
        char err[512];
        config_defaults(&c);
        c.interval_us = 1234567; /* --dump-config printed 1.23457s: not what was configured */
        c.idle_learn = false;
        c.idle_w = 3.5;
        c.max_domain_power_w = 1234.5678;
        c.raw_retention_us = 3601 * USEC_PER_SEC;
        c.carbon.pue = 1.2;
        char *p = write_tmp("");
        FILE *f = fopen(p, "w");
        config_dump(&c, f);
        fclose(f);
        config_defaults(&d);
        assert_int_equal(config_load(&d, p, err, sizeof(err)), 0);
        assert_int_equal(d.interval_us, 1234567);
        assert_true(d.max_domain_power_w == 1234.5678);
        assert_int_equal(d.raw_retention_us, 3601 * USEC_PER_SEC);
        assert_true(d.carbon.pue == 1.2);
        assert_false(d.idle_learn);
        assert_true(d.idle_w == 3.5);
        unlink(p);
        free(p);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_good),           cmocka_unit_test(test_bad),
                cmocka_unit_test(test_curve),          cmocka_unit_test(test_model_line_default),
                cmocka_unit_test(test_long_lines),     cmocka_unit_test(test_missing),
                cmocka_unit_test(test_dump_roundtrip),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
