/* Table tests for collectors/power-defaults.c: the CSV tables (the compiled-in ones and broken
 * ones), CPU model normalisation and matching, and the default curve built from host facts. */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "collectors/power-data.h"
#include "collectors/power-defaults.h"

#define SHAPES                                                                                     \
        "shape,util_pct,fraction_of_tdp,source\n"                                                  \
        "teads,0,0.12,T\nteads,10,0.32,T\nteads,50,0.75,T\nteads,100,1.02,T\n"                     \
        "other,0,0.5,X\nother,100,1,X\n"
#define ESTIMATES                                                                                  \
        "name,value,unit,source\n"                                                                 \
        "band_configured,10,percent,a\nband_cpu,30,percent,b\nband_generic,50,percent,c\n"         \
        "band_dram,50,percent,d\ndram_w_per_gb,0.392,W/GB,CCF\n"                                   \
        "generic_idle_w_per_vcpu,0.74,W,CCF AWS\ngeneric_max_w_per_vcpu,3.5,W,CCF AWS\n"
#define CPUS_HEADER "match,dmi_vendor,name,tdp_w,threads,source\n"
#define CPUS                                                                                       \
        CPUS_HEADER "epyc 7763,,AMD EPYC 7763,280,128,AMD, product page\n"                         \
                    "amd epyc,,AMD EPYC (taken as 7763),280,128,AMD\n"                             \
                    "xeon platinum 8375c,,Intel Xeon Platinum 8375C,265,64,Intel ARK\r\n"          \
                    "\n"                                                                           \
                    "arm 0x41 0xd0c,amazon,AWS Graviton2,110,64,estimate\n"                        \
                    "arm 0x41 0xd0c,,Ampere Altra Q80-30,210,80,Ampere\n"                          \
                    "xeon e5-2670,,Intel Xeon E5-2670,115,16,Intel ARK\n"                          \
                    "xeon e5-2670 v2,,Intel Xeon E5-2670 v2,115,20,Intel ARK\n"                    \
                    "xeon,,Intel Xeon (family),150,40,Intel ARK\n"

static void test_normalize(void **state)
{
        static const struct {
                const char *in, *out;
        } rows[] = {
                {"Intel(R) Xeon(R) Platinum 8375C CPU @ 2.90GHz", "intel xeon platinum 8375c"},
                {"AMD EPYC 7763 64-Core Processor", "amd epyc 7763 64-core"},
                {"AMD EPYC", "amd epyc"},
                {"13th Gen Intel(R) Core(TM) i9-13900K", "13th gen intel core i9-13900k"},
                {"Intel(R) Xeon(R) CPU E5-2686 v4 @ 2.30GHz", "intel xeon e5-2686 v4"},
                {"  AMD\tRyzen 9 7950X 16-Core Processor  ", "amd ryzen 9 7950x 16-core"},
                {"Intel(R) Xeon(R) Platinum 8480+", "intel xeon platinum 8480+"},
                {"\x1b[31mEvil\x1b[0m cpu", "31mevil 0m"},
                {"", ""},
                {NULL, ""},
        };
        (void)state;
        for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
                char out[128];
                power_cpu_normalize(rows[i].in, out, sizeof(out));
                if (strcmp(out, rows[i].out) != 0)
                        fail_msg("row %zu: '%s' gave '%s', want '%s'", i, rows[i].in, out,
                                 rows[i].out);
        }
        char small[8];
        power_cpu_normalize("Intel Xeon Platinum", small, sizeof(small));
        assert_string_equal(small, "intel"); /* whole words only, never a cut one */
}

static void test_parse_errors(void **state)
{
        static const struct {
                const char *cpus, *shapes, *estimates, *err;
        } rows[] = {
                {"", SHAPES, ESTIMATES, "cpu-tdp.csv: empty"},
                {"match,name\n", SHAPES, ESTIMATES, "cpu-tdp.csv:1: header"},
                {CPUS_HEADER "Epyc 7763,,A,280,128,s\n", SHAPES, ESTIMATES,
                 "cpu-tdp.csv:2: match 'Epyc 7763' is not in normalised form"},
                {CPUS_HEADER "epyc,,A,280,128\n", SHAPES, ESTIMATES, "cpu-tdp.csv:2: 5 fields"},
                {CPUS_HEADER "epyc,,A,-1,128,s\n", SHAPES, ESTIMATES, "tdp_w '-1'"},
                {CPUS_HEADER "epyc,,A,0x10,128,s\n", SHAPES, ESTIMATES, "tdp_w '0x10'"},
                {CPUS_HEADER "epyc,,A,nan,128,s\n", SHAPES, ESTIMATES, "tdp_w 'nan'"},
                {CPUS_HEADER "\nepyc,,A,280,12.5,s\n", SHAPES, ESTIMATES,
                 "cpu-tdp.csv:3: threads '12.5'"},
                {CPUS_HEADER "epyc,,A,280,0,s\n", SHAPES, ESTIMATES, "threads '0'"},
                {CPUS_HEADER "epyc,,,280,8,s\n", SHAPES, ESTIMATES, "must not be empty"},
                {CPUS, "shape,util_pct,fraction_of_tdp,source\nt,50,0.5,s\nt,10,0.3,s\n", ESTIMATES,
                 "curve-shapes.csv: shape 't': point 2"},
                {CPUS, "shape,util_pct,fraction_of_tdp,source\nt,0,0.5,s\n", ESTIMATES, "1 points"},
                {CPUS, "shape,util_pct,fraction_of_tdp,source\nt,0,x,s\n", ESTIMATES,
                 "curve-shapes.csv:2: '0' or 'x'"},
                {CPUS, SHAPES, "name,value,unit,source\nband_cpu,30,percent,b\n", "needs"},
                {CPUS, SHAPES, ESTIMATES "band_bogus,1,x,y\n", "unknown name 'band_bogus'"},
                {CPUS, SHAPES, ESTIMATES "band_cpu,-1,x,y\n", "'-1' is not a number >= 0"},
                {CPUS, SHAPES, NULL, "estimates.csv: missing"},
        };
        (void)state;
        for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
                PowerTables t;
                char err[256] = "";
                int r = power_tables_parse(rows[i].cpus, rows[i].shapes, rows[i].estimates, &t, err,
                                           sizeof(err));
                if (r != -EINVAL || !strstr(err, rows[i].err))
                        fail_msg("row %zu: r=%d err '%s', want -EINVAL and '%s'", i, r, err,
                                 rows[i].err);
        }
}

static void test_parse_good(void **state)
{
        PowerTables t;
        char err[256];
        (void)state;
        assert_int_equal(power_tables_parse(CPUS, SHAPES, ESTIMATES, &t, err, sizeof(err)), 0);
        assert_int_equal(t.n_cpus, 8);
        assert_string_equal(t.cpus[0].source,
                            "AMD, product page"); /* the last field keeps commas */
        assert_string_equal(t.cpus[2].name, "Intel Xeon Platinum 8375C");
        assert_string_equal(t.cpus[2].source, "Intel ARK"); /* CRLF line */
        assert_string_equal(t.cpus[3].dmi_vendor, "amazon");
        assert_string_equal(t.shape_name, "teads"); /* the first shape only */
        assert_int_equal(t.shape.n, 4);
        assert_true(t.shape.watts[3] == 1.02);
        assert_true(t.band_pct[POWER_METHOD_CPU] == 30);
        assert_true(t.dram_w_per_gb == 0.392);
        power_tables_free(&t);
}

static void test_builtin(void **state)
{
        PowerTables t;
        char err[256] = "";
        (void)state;
        /* the data files of the repo, as compiled in, parse */
        int r = power_tables_parse(power_data_cpu_tdp_csv, power_data_curve_shapes_csv,
                                   power_data_estimates_csv, &t, err, sizeof(err));
        if (r < 0)
                fail_msg("data/: %s", err);
        assert_true(t.n_cpus >= 40);
        power_tables_free(&t);
        const PowerTables *b = power_tables_builtin();
        assert_non_null(b);
        assert_true(power_curve_eval(&b->shape, 0) == 0.12);
        assert_true(power_curve_eval(&b->shape, 100) == 1.02);
        assert_true(power_defaults_band_pct(POWER_METHOD_GENERIC) > 0);
        assert_true(power_defaults_band_pct(POWER_METHOD_CPU) > 0);
        assert_true(power_defaults_band_pct(POWER_METHOD_CONFIGURED) > 0);
        /* each family this project promises is known, with its exact model where named */
        static const struct {
                const char *model, *vendor, *name;
        } rows[] = {
                {"Intel(R) Xeon(R) Platinum 8375C CPU @ 2.90GHz", "Amazon EC2",
                 "Intel Xeon Platinum 8375C"},
                {"Intel(R) Xeon(R) CPU @ 2.20GHz", "Google", "Intel Xeon (model not named"},
                {"AMD EPYC 7B13", "Google", "AMD EPYC 7B13"},
                {"AMD EPYC 9R14", "Amazon EC2", "AMD EPYC 9R14"},
                {"AMD EPYC", "", "AMD EPYC (model not named"},
                {"AMD Ryzen 9 7950X 16-Core Processor", "", "AMD Ryzen 9 7950X"},
                {"AMD Ryzen 5 3600 6-Core Processor", "", "AMD Ryzen (model not named"},
                {"13th Gen Intel(R) Core(TM) i9-13900K", "", "Intel Core i9-13900K"},
                {"ARM 0x41 0xd0c", "Amazon EC2", "AWS Graviton2"},
                {"ARM 0x41 0xd40", "Amazon EC2", "AWS Graviton3"},
                {"ARM 0x41 0xd0c", "Ampere(R)", "Ampere Altra"},
                {"ARM 0xc0 0xac3", "", "AmpereOne"},
                /* the CPUs of the SPECpower results in data/specpower, as /proc/cpuinfo spells
                 * them, and their siblings: each its own row, never the family row */
                {"Intel(R) Xeon(R) CPU           E5440  @ 2.83GHz", "", "Intel Xeon E5440"},
                {"Intel(R) Xeon(R) CPU           X5670  @ 2.93GHz", "", "Intel Xeon X5670"},
                {"Intel(R) Xeon(R) CPU E5-2670 0 @ 2.60GHz", "", "Intel Xeon E5-2670"},
                {"Intel(R) Xeon(R) CPU E5-2670 v2 @ 2.50GHz", "", "Intel Xeon E5-2670 v2"},
                {"Intel(R) Xeon(R) CPU E5-2670 v3 @ 2.30GHz", "", "Intel Xeon E5-2670 v3"},
                {"Intel(R) Xeon(R) CPU E5-2680 v4 @ 2.40GHz", "", "Intel Xeon E5-2680 v4"},
                {"Intel(R) Xeon(R) CPU E5-4669 v4 @ 2.20GHz", "", "Intel Xeon E5-4669 v4"},
                {"Intel(R) Xeon(R) Platinum 8180 CPU @ 2.50GHz", "", "Intel Xeon Platinum 8180"},
                {"Intel(R) Xeon(R) Platinum 8280 CPU @ 2.70GHz", "", "Intel Xeon Platinum 8280"},
                {"Intel(R) Xeon(R) Gold 6248R CPU @ 3.00GHz", "", "Intel Xeon Gold 6248R"},
                {"Intel(R) Xeon(R) Gold 6248 CPU @ 2.50GHz", "", "Intel Xeon Gold 6248"},
                {"Intel(R) Xeon(R) Silver 4114 CPU @ 2.20GHz", "", "Intel Xeon Silver 4114"},
                {"Intel(R) Xeon(R) E-2176G CPU @ 3.70GHz", "", "Intel Xeon E-2176G"},
                {"Intel(R) Xeon(R) E-2224 CPU @ 3.40GHz", "", "Intel Xeon E-2224"},
                {"Intel(R) Xeon(R) E-2224G CPU @ 3.50GHz", "", "Intel Xeon E-2224G"},
                /* a version the table lacks falls to the family, not to the older CPU */
                {"Intel(R) Xeon(R) CPU E5-2640 v5 @ 2.40GHz", "", "Intel Xeon (model not named"},
                {"Intel(R) Xeon(R) CPU E5-2667 v3 @ 3.20GHz", "", "Intel Xeon (model not named"},
        };
        for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
                const PowerCpuRow *row = power_cpu_match(b, rows[i].model, rows[i].vendor);
                if (!row || strncmp(row->name, rows[i].name, strlen(rows[i].name)) != 0)
                        fail_msg("row %zu: '%s' matched '%s', want '%s'", i, rows[i].model,
                                 row ? row->name : "(none)", rows[i].name);
        }
        assert_null(power_cpu_match(b, "Hygon C86 7185 32-core Processor", ""));
        assert_null(power_cpu_match(b, "", ""));
}

static void test_match(void **state)
{
        PowerTables t;
        char err[256];
        (void)state;
        assert_int_equal(power_tables_parse(CPUS, SHAPES, ESTIMATES, &t, err, sizeof(err)), 0);
        static const struct {
                const char *model, *vendor;
                int row; /* -1: none */
        } rows[] = {
                {"AMD EPYC 7763 64-Core Processor", NULL, 0}, /* longest match wins */
                {"AMD EPYC 77631", NULL, 1},                  /* whole words only */
                {"AMD EPYC", "QEMU", 1},
                {"Intel(R) Xeon(R) Platinum 8375C CPU @ 2.90GHz", NULL, 2},
                {"Intel(R) Xeon(R) Platinum 8375", NULL, 7}, /* not 8375C: the family */
                {"ARM 0x41 0xd0c", "Amazon EC2", 3},         /* the vendor's row first */
                {"ARM 0x41 0xd0c", "Ampere Computing", 4},
                {"ARM 0x41 0xd0c", NULL, 4},
                {"Intel(R) Xeon(R) CPU E5-2670 0 @ 2.60GHz", NULL, 5},
                {"Intel(R) Xeon(R) CPU E5-2670 v2 @ 2.50GHz", NULL, 6}, /* the most specific */
                {"Intel(R) Xeon(R) CPU E5-2670 v3 @ 2.30GHz", NULL, 7}, /* not E5-2670's row */
                {"Intel(R) Xeon(R) CPU E5-2670 v22", NULL, 7},          /* v22 is no v2 */
                {"Intel(R) Xeon(R) CPU E5-2670 v @ 2.60GHz", NULL, 5},  /* "v" alone: no version */
                {"Intel(R) Xeon(R) CPU E5-2670 vx", NULL, 5},
                {"Some CPU", NULL, -1},
                {NULL, NULL, -1},
        };
        for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
                const PowerCpuRow *r = power_cpu_match(&t, rows[i].model, rows[i].vendor);
                int got = r ? (int)(r - t.cpus) : -1;
                if (got != rows[i].row)
                        fail_msg("row %zu: '%s' matched row %d, want %d", i, rows[i].model, got,
                                 rows[i].row);
        }
        power_tables_free(&t);
}

static void test_build(void **state)
{
        PowerTables t;
        char err[256];
        (void)state;
        assert_int_equal(power_tables_parse(CPUS, SHAPES, ESTIMATES, &t, err, sizeof(err)), 0);
        static const struct {
                const char *model;
                unsigned threads;
                PowerMethod method;
                double w0, w10, w50, w100;
                const char *source; /* a part of it */
        } rows[] = {
                /* a VM with 4 of the 128 threads of a 280 W CPU gets 4/128 of it */
                {"AMD EPYC 7763 64-Core Processor", 4, POWER_METHOD_CPU, 280 * 0.12 * 4 / 128,
                 280 * 0.32 * 4 / 128, 280 * 0.75 * 4 / 128, 280 * 1.02 * 4 / 128,
                 "AMD EPYC 7763 (TDP 280 W, 128 threads; AMD, product page) x Teads curve, 4 of "
                 "128 threads"},
                /* two sockets: twice the TDP */
                {"Intel(R) Xeon(R) Platinum 8375C CPU @ 2.90GHz", 128, POWER_METHOD_CPU,
                 2 * 265 * 0.12, 2 * 265 * 0.32, 2 * 265 * 0.75, 2 * 265 * 1.02, "128 of 64"},
                {"Unknown CPU", 4, POWER_METHOD_GENERIC, 4 * 0.74, 4 * (0.74 + 0.1 * 2.76),
                 4 * (0.74 + 0.5 * 2.76), 4 * 3.5,
                 "0.74-3.5 W per vCPU (CCF AWS) x 4 vCPUs; CPU 'Unknown CPU' not in"},
                {NULL, 0, POWER_METHOD_GENERIC, 0.74, 0.74 + 0.276, 0.74 + 1.38, 3.5,
                 "x 1 vCPUs; CPU model unknown not in"},
        };
        for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
                PowerCurve c;
                PowerMethod m;
                char src[512];
                assert_int_equal(power_defaults_build_from(&t, rows[i].model, rows[i].threads, "",
                                                           NULL, &c, &m, src, sizeof(src)),
                                 0);
                assert_int_equal(m, rows[i].method);
                double want[] = {rows[i].w0, rows[i].w10, rows[i].w50, rows[i].w100};
                double at[] = {0, 10, 50, 100};
                for (size_t j = 0; j < 4; j++) {
                        double w = power_curve_eval(&c, at[j]);
                        if (fabs(w - want[j]) > 0.5e-4 + 1e-12) /* rounded to 0.1 mW */
                                fail_msg("row %zu: %g %% gave %.12g W, want %.12g", i, at[j], w,
                                         want[j]);
                }
                if (!strstr(src, rows[i].source))
                        fail_msg("row %zu: source '%s' lacks '%s'", i, src, rows[i].source);
                assert_int_equal(power_curve_check(&c, err, sizeof(err)), 0);
        }
        PowerCurve c;
        PowerMethod m;
        assert_int_equal(power_defaults_build_from(NULL, "x", 1, "", NULL, &c, &m, NULL, 0),
                         -EINVAL);
        power_tables_free(&t);
}

static void test_methods(void **state)
{
        (void)state;
        for (int i = 0; i < _POWER_METHOD_MAX; i++) {
                assert_int_equal(power_method_from_string(power_method_to_string(i)), i);
                assert_non_null(power_method_label(i));
        }
        assert_int_equal(power_method_from_string("measured"), -EINVAL);
        assert_int_equal(power_method_from_string(NULL), -EINVAL);
        assert_null(power_method_to_string(_POWER_METHOD_MAX));
}

static void test_band_combine(void **state)
{
        static const struct {
                double e[2], b[2], want;
        } rows[] = {
                {{100, 0}, {30, 50}, 30}, {{0, 10}, {30, 50}, 50}, {{90, 10}, {10, 50}, 14},
                {{50, 50}, {0, 50}, 25},  {{1, 3}, {30, 50}, 45},
        };
        (void)state;
        for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
                double got = power_band_combine(rows[i].e, rows[i].b, 2);
                if (fabs(got - rows[i].want) > 1e-12)
                        fail_msg("row %zu: %g, want %g", i, got, rows[i].want);
        }
        static const double zero[2] = {0, 0}, b[2] = {30, 50};
        assert_true(isnan(power_band_combine(zero, b, 2)));
        assert_true(isnan(power_band_combine(zero, b, 0)));
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_normalize),  cmocka_unit_test(test_parse_errors),
                cmocka_unit_test(test_parse_good), cmocka_unit_test(test_builtin),
                cmocka_unit_test(test_match),      cmocka_unit_test(test_build),
                cmocka_unit_test(test_methods),    cmocka_unit_test(test_band_combine),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
