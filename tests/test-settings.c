/* Settings as start-up and every reload build them (defaults < file < flags), and what a reload
 * applies live or leaves for a restart. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>
#include <cmocka.h>

#include "common/util.h"
#include "daemon/settings.h"

static char *write_tmp(const char *text)
{
        char *path = strdup("/tmp/joules-test-settings-XXXXXX");
        int fd = mkstemp(path);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
        close(fd);
        return path;
}

static void test_build_order(void **state)
{
        char *p = write_tmp("[daemon]\ninterval = 2s\nlog_level = debug\n"
                            "[attribution]\ntop_processes = 9\n");
        const SettingsFlag flags[] = {
                {"interval", "daemon", "interval", "500ms"},
                {"idle-power", "attribution", "idle_power", "7"},
        };
        SettingsSource src = {.path = p, .flags = flags, .n_flags = ELEMENTSOF(flags)};
        JoulesConfig c;
        char err[512];
        assert_int_equal(settings_build(&src, &c, err, sizeof(err)), 0);
        assert_int_equal(c.interval_us, 500000);  /* the flag beats the file */
        assert_int_equal(c.log_level, LOG_DEBUG); /* the file beats the default */
        assert_int_equal(c.top_processes, 9);
        assert_false(c.idle_learn);
        assert_true(c.idle_w == 7);
        assert_string_equal(c.db_path, JOULES_DEFAULT_DB); /* the default stays */
        unlink(p);
        free(p);
}

static void test_build_errors(void **state)
{
        JoulesConfig c, untouched;
        char err[512];
        memset(&c, 0xa5, sizeof(c));
        untouched = c;

        /* The default file may be missing; a named one may not. */
        SettingsSource src = {.path = "/nonexistent/joulesd.conf", .optional = true};
        assert_int_equal(settings_build(&src, &c, err, sizeof(err)), 0);
        assert_int_equal(c.interval_us, USEC_PER_SEC);
        c = untouched;
        src.optional = false;
        assert_int_equal(settings_build(&src, &c, err, sizeof(err)), -ENOENT);
        assert_memory_equal(&c, &untouched, sizeof(c)); /* written only on success */

        char *p = write_tmp("[daemon]\n\ninterval = soon\n");
        src = (SettingsSource){.path = p};
        assert_int_equal(settings_build(&src, &c, err, sizeof(err)), -EINVAL);
        char want[256];
        snprintf(want, sizeof(want), "%s:3: daemon.interval: 'soon' is not a duration", p);
        assert_non_null(strstr(err, want));
        assert_memory_equal(&c, &untouched, sizeof(c));

        const SettingsFlag bad = {"log-level", "daemon", "log_level", "loud"};
        src = (SettingsSource){.flags = &bad, .n_flags = 1};
        assert_int_equal(settings_build(&src, &c, err, sizeof(err)), -EINVAL);
        assert_true(strncmp(err, "--log-level: ", 13) == 0);
        unlink(p);
        free(p);
}

static void test_diff(void **state)
{
        static const struct {
                const char *section, *key, *value;
                bool live;
                const char *dumped; /* as --dump-config writes it; NULL: value */
        } rows[] = {
                {"daemon", "log_level", "debug", true, NULL},
                {"daemon", "interval", "250ms", true, NULL},
                {"energy", "max_domain_power_w", "300", true, NULL},
                {"attribution", "idle_power", "4.5", true, NULL},
                {"attribution", "top_processes", "0", true, NULL},
                {"daemon", "database", "/tmp/other.db", false, NULL},
                {"energy", "source", "model", false, NULL},
                {"energy", "sysfs_root", "/tmp/sys", false, NULL},
                {"energy", "host_domain", "psys", false, NULL},
                {"model", "idle_w_per_cpu", "1.5", false, NULL},
                {"attribution", "events", "none", false, NULL},
                {"attribution", "procfs_root", "/tmp/proc", false, NULL},
                {"attribution", "cgroup_root", "/tmp/cg", false, NULL},
        };
        for (size_t i = 0; i < ELEMENTSOF(rows); i++) {
                JoulesConfig a, b;
                char err[512];
                config_defaults(&a);
                config_defaults(&b);
                assert_int_equal(config_set(&b, rows[i].section, rows[i].key, rows[i].value, err,
                                            sizeof(err)),
                                 0);
                SettingsDiff d;
                assert_int_equal(settings_diff(&a, &b, &d), 0);
                assert_int_equal(d.n, 1);
                assert_string_equal(d.changes[0].section, rows[i].section);
                assert_string_equal(d.changes[0].key, rows[i].key);
                assert_string_equal(d.changes[0].new_value,
                                    rows[i].dumped ? rows[i].dumped : rows[i].value);
                assert_int_equal(d.changes[0].live, rows[i].live);
                assert_int_equal(settings_key_is_live(rows[i].section, rows[i].key), rows[i].live);
                settings_diff_done(&d);

                /* After a reload, the running settings take only the live keys. */
                JoulesConfig running = a;
                settings_apply_live(&running, &b);
                assert_int_equal(settings_diff(&running, &b, &d), 0);
                assert_int_equal(d.n, rows[i].live ? 0 : 1);
                settings_diff_done(&d);
        }

        JoulesConfig a;
        config_defaults(&a);
        SettingsDiff d;
        assert_int_equal(settings_diff(&a, &a, &d), 0);
        assert_int_equal(d.n, 0);
        settings_diff_done(&d);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_build_order),
                cmocka_unit_test(test_build_errors),
                cmocka_unit_test(test_diff),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
