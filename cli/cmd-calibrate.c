/* joules calibrate: fits the model's power curve ([model] curve in joulesd.conf) to
 * measurements, from a CSV file or from this host's measured history, and says how good the fit
 * is. The fitting is common/curve-fit.c; the inputs are parsed in cli/calibrate.c. */

#include <errno.h>
#include <getopt.h>
#include <ini.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/calibrate.h"
#include "cli/cli.h"
#include "cli/json.h"
#include "common/args.h"
#include "common/curve-fit.h"
#include "common/text.h"
#include "common/util.h"

static void calibrate_usage(FILE *f)
{
        fprintf(f,
                "Usage: joules calibrate --from FILE [--points N] [--json]\n"
                "       joules calibrate --from-history [--since WHEN] [--until WHEN] [--cpus N]\n"
                "                        [--points N] [--json]\n"
                "Fits the host power curve of the model (`curve =` under [model] in\n"
                "joulesd.conf) to measurements, and prints the line to paste and the error of\n"
                "the fit. The curve has at most N points (default %d, 2 to %d), never goes down,\n"
                "and has the least squared error in watts: it gives back the measured energy of\n"
                "the samples exactly. Outside the utilisations measured it stays flat.\n\n"
                "--from FILE     CSV (RFC 4180; - for standard input) whose header row names the\n"
                "                columns utilization_pct (the host's CPU utilisation, percent of\n"
                "                all its CPUs, as in /proc/stat) and watts (its power then);\n"
                "                other columns are ignored. One row per steady measurement, for\n"
                "                example a wattmeter read while a load generator holds a level.\n"
                "--from-history  this host's own history, tick by tick, where its energy was\n"
                "                measured (RAPL through perf or powercap; estimated ticks are\n"
                "                never used): the watts joulesd measured against the utilisation\n"
                "                its units' CPU time gives. On a bare-metal host, this makes the\n"
                "                curve for VMs of the same hardware. Raw ticks only (kept for\n"
                "                [storage] raw_retention, 7 days by default).\n"
                "--since/--until the history's range (default: the last 7 days); WHEN is a\n"
                "                duration before now (15m, 24h, 7d) or an ISO 8601 time.\n"
                "--cpus N        the CPUs the utilisation is a share of (default: the CPUs online\n"
                "                now).\n\n"
                "Exit codes: 0 ok, 1 the history (or the file) could not be read, 2 bad "
                "arguments,\n"
                "a missing or bad file (the error names the line), 3 nothing to fit.\n\n"
                "Examples:\n"
                "  joules calibrate --from wattmeter.csv\n"
                "  joules calibrate --from-history --since 24h --points 8 --json\n",
                CURVE_FIT_DEFAULT_POINTS, POWER_CURVE_MAX);
}

/* The whole file (or standard input), NUL-terminated, at most 256 MiB. -EBADMSG when it holds a
 * NUL byte (not text). */
static int calibrate_read(const char *path, char **ret)
{
        FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "re");
        if (!f)
                return -errno;
        size_t size = 0, cap = 65536;
        char *buf = malloc(cap);
        int r = buf ? 0 : -ENOMEM;
        while (r == 0) {
                if (size + 1 >= cap) {
                        char *nb = cap >= (256u << 20) ? NULL : realloc(buf, cap * 2);
                        if (!nb) {
                                r = cap >= (256u << 20) ? -EFBIG : -ENOMEM;
                                break;
                        }
                        buf = nb;
                        cap *= 2;
                }
                errno = 0;
                size_t got = fread(buf + size, 1, cap - size - 1, f);
                size += got;
                if (got == 0 && ferror(f))
                        r = errno > 0 ? -errno : -EIO; /* EISDIR for a directory, say */
                if (got == 0)
                        break;
        }
        if (f != stdin)
                fclose(f);
        if (r == 0 && memchr(buf, '\0', size))
                r = -EBADMSG;
        if (r < 0) {
                free(buf);
                return r;
        }
        buf[size] = '\0';
        *ret = buf;
        return 0;
}

typedef struct CalibrateOut {
        const char *source; /* "file" or "history" */
        const char *file;
        const CalibTickStats *ticks;
        unsigned ncpu;
        unsigned points_asked;
        double util_min, util_max;
        int watts_decimals, util_decimals; /* what the curve was rounded to */
} CalibrateOut;

/* A joulesd.conf line: libinih reads a line, its newline and a NUL into INI_MAX_LINE bytes, and
 * joulesd refuses a longer line (daemon/config.c). */
#define CALIBRATE_LINE_MAX (INI_MAX_LINE - 2)

/* The value of `curve =` as pasted: no spaces, which the line cannot spare. */
static size_t calibrate_value(const PowerCurve *c, char *buf, size_t size)
{
        int n = power_curve_format(c, ",", buf, size);
        return n < 0 ? 0 : (size_t)n < size ? (size_t)n : size - 1;
}

static double calibrate_round(double v, int decimals)
{
        double k = pow(10, decimals);
        return round(v * k) / k;
}

/* Rounds c until `curve = VALUE` fits a config line: the watts to 0.01, 0.1 then 1 W, then the
 * utilisations to 0.1 then 1 % (a rounding that would merge two points is passed over). 0, or
 * -E2BIG when even whole numbers do not fit. */
static int calibrate_fit_line(PowerCurve *c, CalibrateOut *o)
{
        static const int levels[][2] = {{3, 2}, {2, 2}, {1, 2}, {0, 2}, {0, 1}, {0, 0}};
        char value[2048];
        for (size_t l = 0; l < ELEMENTSOF(levels); l++) {
                PowerCurve r = *c;
                bool merged = false;
                for (unsigned i = 0; i < r.n; i++) {
                        r.watts[i] = calibrate_round(r.watts[i], levels[l][0]);
                        r.util_pct[i] = calibrate_round(r.util_pct[i], levels[l][1]);
                        merged |= i > 0 && r.util_pct[i] <= r.util_pct[i - 1];
                }
                if (merged)
                        continue;
                if (strlen("curve = ") + calibrate_value(&r, value, sizeof(value)) <=
                    CALIBRATE_LINE_MAX) {
                        *c = r;
                        o->watts_decimals = levels[l][0];
                        o->util_decimals = levels[l][1];
                        return 0;
                }
        }
        return -E2BIG;
}

static void calibrate_print(const PowerCurve *c, const CurveFitError *e, const CalibrateOut *o,
                            bool json)
{
        char line[2048];
        calibrate_value(c, line, sizeof(line));
        if (json) {
                JsonWriter j;
                json_init(&j, stdout);
                json_object_begin(&j, NULL);
                json_string(&j, "curve", line);
                json_array_begin(&j, "points");
                for (unsigned i = 0; i < c->n; i++) {
                        json_object_begin(&j, NULL);
                        json_number(&j, "util_pct", c->util_pct[i]);
                        json_number(&j, "watts", c->watts[i]);
                        json_object_end(&j);
                }
                json_array_end(&j);
                json_int(&j, "points_asked", o->points_asked);
                json_int(&j, "watts_decimals", o->watts_decimals);
                json_int(&j, "util_decimals", o->util_decimals);
                json_int(&j, "samples", (int64_t)e->samples);
                json_number(&j, "util_min_pct", o->util_min);
                json_number(&j, "util_max_pct", o->util_max);
                json_number(&j, "mape_pct", e->mape_pct);
                json_number(&j, "max_error_w", e->max_error_w);
                json_number(&j, "max_error_pct", e->max_error_pct);
                json_number(&j, "max_error_util_pct", e->max_error_util_pct);
                json_number(&j, "max_error_pct_util_pct", e->max_error_pct_util_pct);
                json_number(&j, "rmse_w", e->rmse_w);
                json_number(&j, "bias_w", e->bias_w);
                json_int(&j, "zero_watt_samples", (int64_t)e->zero_watts);
                json_string(&j, "method", "least squares on watts, monotone");
                json_string(&j, "source", o->source);
                json_string(&j, "file", o->file);
                if (o->ticks) {
                        json_object_begin(&j, "history");
                        json_int(&j, "cpus", o->ncpu);
                        json_int(&j, "ticks", (int64_t)o->ticks->ticks);
                        json_int(&j, "used", (int64_t)o->ticks->used);
                        json_number(&j, "seconds", o->ticks->seconds);
                        json_time(&j, "first", o->ticks->first_us, o->ticks->used > 0);
                        json_time(&j, "last", o->ticks->last_us, o->ticks->used > 0);
                        json_int(&j, "estimated_left_out", (int64_t)o->ticks->estimated);
                        json_int(&j, "without_cpu_left_out", (int64_t)o->ticks->no_cpu);
                        json_int(&j, "over_100_pct", (int64_t)o->ticks->over_100);
                        json_object_end(&j);
                }
                json_object_end(&j);
                json_end(&j);
                return;
        }
        printf("[model]\ncurve = %s\n\n", line);
        if (o->ticks) {
                char a[32], b[32];
                printf("fitted to %zu measured ticks (%.0f s) of this host's history, %s .. %s,\n"
                       "utilisation of %u CPUs from %.2f to %.2f %%",
                       o->ticks->used, o->ticks->seconds,
                       format_rfc3339(o->ticks->first_us, a, sizeof(a)),
                       format_rfc3339(o->ticks->last_us, b, sizeof(b)), o->ncpu, o->util_min,
                       o->util_max);
                if (o->ticks->estimated || o->ticks->no_cpu)
                        printf("; left out: %zu estimated ticks, %zu without unit CPU time",
                               o->ticks->estimated, o->ticks->no_cpu);
                printf("\n");
        } else {
                printf("fitted to %zu samples from %s, utilisation %.2f to %.2f %%\n", e->samples,
                       strcmp(o->file, "-") == 0 ? "standard input" : TEXT_SAFE(o->file),
                       o->util_min, o->util_max);
        }
        printf("%u points (of at most %u), least squares on the watts, never decreasing\n", c->n,
               o->points_asked);
        if (o->watts_decimals < 3 || o->util_decimals < 2)
                printf("rounded to %g W and %g %% to fit a joulesd.conf line (%d bytes); the "
                       "errors are the rounded curve's\n",
                       pow(10, -o->watts_decimals), pow(10, -o->util_decimals), CALIBRATE_LINE_MAX);
        if (o->util_min > 0 || o->util_max < 100)
                printf("outside %.2f to %.2f %% the curve stays flat: no sample says more there\n",
                       o->util_min, o->util_max);
        if (isnan(e->mape_pct))
                printf("mean absolute percentage error  n/a (every sample is 0 W)\n");
        else
                printf("mean absolute percentage error  %.2f %%\n", e->mape_pct);
        printf("max error                       %.2f W at %.4g %% utilisation\n", e->max_error_w,
               e->max_error_util_pct);
        if (!isnan(e->mape_pct))
                printf("max relative error              %.2f %% at %.4g %% utilisation\n",
                       e->max_error_pct, e->max_error_pct_util_pct);
        printf("root mean square error          %.2f W\n", e->rmse_w);
}

static int calibrate_fit(const CurveSample *v, size_t n, CalibrateOut *o, bool json)
{
        PowerCurve c;
        char err[512];
        int r = curve_fit(v, n, o->points_asked, &c, err, sizeof(err));
        if (r < 0) {
                fprintf(stderr, "joules calibrate: %s\n", TEXT_SAFE(err));
                return r == -ENOMEM ? CLI_EXIT_FAILURE : CLI_EXIT_USAGE;
        }
        if (calibrate_fit_line(&c, o) < 0) {
                fprintf(stderr,
                        "joules calibrate: a curve of %u points does not fit a joulesd.conf line "
                        "(%d bytes) even in whole watts and percent: ask for fewer --points\n",
                        c.n, CALIBRATE_LINE_MAX);
                return CLI_EXIT_USAGE;
        }
        CurveFitError e;
        if (curve_fit_error(&c, v, n, &e) < 0) {
                fprintf(stderr, "joules calibrate: no samples to measure the fit against\n");
                return CLI_EXIT_NO_DATA;
        }
        o->util_min = 100;
        o->util_max = 0;
        for (size_t i = 0; i < n; i++) {
                o->util_min = fmin(o->util_min, v[i].util_pct);
                o->util_max = fmax(o->util_max, v[i].util_pct);
        }
        calibrate_print(&c, &e, o, json);
        return CLI_EXIT_OK;
}

static int calibrate_from_file(const char *path, CalibrateOut *o, bool json)
{
        char *text = NULL;
        int r = calibrate_read(path, &text);
        if (r < 0) {
                fprintf(stderr, "joules calibrate: %s: %s\n", TEXT_SAFE(path),
                        r == -EBADMSG ? "binary data, not CSV" : strerror(-r));
                /* a file that is not there, not a file or not readable is a bad argument */
                return r == -ENOENT || r == -EBADMSG || r == -EISDIR || r == -EACCES ||
                                       r == -ENOTDIR || r == -EFBIG
                               ? CLI_EXIT_USAGE
                               : CLI_EXIT_FAILURE;
        }
        CurveSample *v = NULL;
        size_t n = 0;
        char err[512];
        r = calib_parse_csv(text, &v, &n, err, sizeof(err));
        free(text);
        if (r < 0) {
                fprintf(stderr, "joules calibrate: %s: %s\n", TEXT_SAFE(path), TEXT_SAFE(err));
                return r == -ENOMEM ? CLI_EXIT_FAILURE : CLI_EXIT_USAGE;
        }
        o->source = "file";
        o->file = path;
        int rc = calibrate_fit(v, n, o, json);
        free(v);
        return rc;
}

static int calibrate_from_history(const CliContext *ctx, int64_t from, int64_t to, CalibrateOut *o,
                                  bool json)
{
        Store *s = cli_open_store(ctx);
        if (!s)
                return CLI_EXIT_FAILURE;
        StoreHostTick *t = NULL;
        size_t n = 0;
        int r = store_read_host_ticks(s, from, to, &t, &n);
        if (r < 0) {
                cli_store_error(ctx->db_path, store_last_error(s));
                store_close(s);
                return CLI_EXIT_FAILURE;
        }
        store_close(s);
        CurveSample *v = NULL;
        size_t m = 0;
        CalibTickStats st;
        r = calib_samples_from_ticks(t, n, o->ncpu, &v, &m, &st);
        free(t);
        if (r < 0) {
                fprintf(stderr, "joules calibrate: out of memory\n");
                return CLI_EXIT_FAILURE;
        }
        int rc;
        if (m == 0) {
                if (st.ticks == 0)
                        fprintf(stderr, "joules calibrate: the history holds no raw ticks in the "
                                        "range (raw ticks are kept for [storage] raw_retention)\n");
                else if (st.estimated == st.ticks)
                        fprintf(stderr,
                                "joules calibrate: all %zu ticks in the range are estimated (the "
                                "model, no RAPL): only measured energy can calibrate the model\n",
                                st.ticks);
                else
                        fprintf(stderr,
                                "joules calibrate: none of the %zu ticks in the range has both "
                                "measured energy and unit CPU time (%zu estimated, %zu without "
                                "CPU time)\n",
                                st.ticks, st.estimated, st.no_cpu);
                rc = CLI_EXIT_NO_DATA;
        } else if (st.over_105 * 20 > st.used) {
                /* the units' CPU time sums to the host's, so this many ticks above 100 % means
                 * the history was written with more CPUs than are counted now */
                fprintf(stderr,
                        "joules calibrate: %zu of %zu ticks show more than 105 %% of %u CPUs: "
                        "was the history written with more CPUs? Give them with --cpus N\n",
                        st.over_105, st.used, o->ncpu);
                rc = CLI_EXIT_USAGE;
        } else {
                o->source = "history";
                o->ticks = &st;
                rc = calibrate_fit(v, m, o, json);
        }
        free(v);
        return rc;
}

int cmd_calibrate(const CliContext *ctx, int argc, char **argv)
{
        static const struct option opts[] = {
                {"from", required_argument, NULL, 'f'},
                {"from-history", no_argument, NULL, 'H'},
                {"points", required_argument, NULL, 'p'},
                {"cpus", required_argument, NULL, 'c'},
                {"since", required_argument, NULL, 's'},
                {"until", required_argument, NULL, 'u'},
                {"json", no_argument, NULL, 'j'},
                {"help", no_argument, NULL, 'h'},
                {0},
        };
        int64_t from = ctx->now_us - 7 * 86400 * (int64_t)USEC_PER_SEC, to = ctx->now_us;
        const char *file = NULL;
        bool history = false, json = false, range = false;
        CalibrateOut o = {.points_asked = CURVE_FIT_DEFAULT_POINTS};
        long ncpu = 0;
        int c;
        while ((c = args_getopt(argc, argv, "", opts)) != -1) {
                int rr = cli_range_option(ctx, c, optarg, &from, &to);
                if (rr < 0)
                        return CLI_EXIT_USAGE;
                if (rr > 0) {
                        range = true;
                        continue;
                }
                char *end;
                switch (c) {
                case 'f':
                        file = optarg;
                        break;
                case 'H':
                        history = true;
                        break;
                case 'p': {
                        errno = 0;
                        long v = strtol(optarg, &end, 10);
                        if (errno || end == optarg || *end || v < POWER_CURVE_MIN ||
                            v > POWER_CURVE_MAX) {
                                fprintf(stderr,
                                        "joules calibrate: --points '%s': want a whole number "
                                        "from %d to %d\n",
                                        TEXT_SAFE(optarg), POWER_CURVE_MIN, POWER_CURVE_MAX);
                                return CLI_EXIT_USAGE;
                        }
                        o.points_asked = (unsigned)v;
                        break;
                }
                case 'c':
                        errno = 0;
                        ncpu = strtol(optarg, &end, 10);
                        if (errno || end == optarg || *end || ncpu < 1 || ncpu > 1 << 20) {
                                fprintf(stderr,
                                        "joules calibrate: --cpus '%s': want a whole number of "
                                        "CPUs, at least 1\n",
                                        TEXT_SAFE(optarg));
                                return CLI_EXIT_USAGE;
                        }
                        break;
                case 'j':
                        json = true;
                        break;
                case 'h':
                        calibrate_usage(stdout);
                        return CLI_EXIT_OK;
                default:
                        calibrate_usage(stderr);
                        return CLI_EXIT_USAGE;
                }
        }
        if (cli_no_more_args("joules calibrate", argc, argv) < 0)
                return CLI_EXIT_USAGE;
        if (!!file == history) {
                fprintf(stderr, "joules calibrate: give one of --from FILE or --from-history\n");
                calibrate_usage(stderr);
                return CLI_EXIT_USAGE;
        }
        if (file && (range || ncpu)) {
                fprintf(stderr, "joules calibrate: --since, --until and --cpus go with "
                                "--from-history, not with --from FILE\n");
                return CLI_EXIT_USAGE;
        }
        if (file)
                return calibrate_from_file(file, &o, json);
        if (cli_range_check("joules calibrate", from, to) < 0)
                return CLI_EXIT_USAGE;
        if (ncpu == 0) {
                ncpu = sysconf(_SC_NPROCESSORS_ONLN);
                if (ncpu < 1) {
                        fprintf(stderr, "joules calibrate: cannot count the CPUs; give --cpus N\n");
                        return CLI_EXIT_USAGE;
                }
        }
        o.ncpu = (unsigned)ncpu;
        return calibrate_from_history(ctx, from, to, &o, json);
}
