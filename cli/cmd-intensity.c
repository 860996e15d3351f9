/* joules intensity: the grid carbon intensity the reports use. `import` loads an hourly (or
 * half-hourly) series into the history in one transaction; `show` tells what applies; `table`
 * lists the built-in yearly averages. */

#include "cli/intensity.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/footprint.h"
#include "cli/json.h"
#include "common/args.h"
#include "common/carbon.h"
#include "common/text.h"
#include "common/util.h"

static void intensity_usage(FILE *f)
{
        fprintf(f, "Usage: joules intensity [show] [--json]\n"
                   "       joules intensity import FILE [--source NAME]\n"
                   "       joules intensity table [--json]\n"
                   "The grid carbon intensity (gCO2e/kWh, location-based) used by sci, report,\n"
                   "compare and export. Each hour takes the imported series where it covers\n"
                   "the hour (time-weighted), else the configured value, else the country's\n"
                   "yearly average from the built-in table (Ember 2024), else WORLD.\n\n"
                   "import FILE (- for standard input) writes into the history, in one\n"
                   "transaction, replacing what it overlaps; nothing is imported if any line is\n"
                   "wrong, and the error names it. Formats:\n"
                   "  CSV   start,end,g_per_kwh  (ISO 8601 times; a header line is allowed)\n"
                   "  JSON  the UK National Grid carbon-intensity API: {\"data\":[{\"from\":...,\n"
                   "        \"to\":..., \"intensity\":{\"forecast\":N,\"actual\":N}}]}  (actual,\n"
                   "        else forecast)\n"
                   "Importing needs write access to the history (root, or joulesd's user).\n\n"
                   "Examples:\n"
                   "  joules intensity import grid-2026.csv\n"
                   "  curl -s https://api.carbonintensity.org.uk/intensity/date/2026-11-26 |\n"
                   "    joules intensity import - --source uk-national-grid\n"
                   "  joules intensity show\n"
                   "  joules intensity table\n");
}

int cli_intensity_parse(const char *text, CarbonInterval **ret, size_t *ret_n, bool *ret_json,
                        char *err, size_t errlen)
{
        const char *p = text;
        while (*p && strchr(" \t\r\n", *p))
                p++;
        *ret_json = *p == '{' || *p == '[';
        if (*ret_json)
                return cli_intensity_parse_json(text, ret, ret_n, err, errlen);
        return carbon_parse_csv(text, ret, ret_n, err, errlen);
}

/* The whole file (or standard input), NUL-terminated; at most 64 MiB. */
static int read_all(const char *path, char **ret)
{
        FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "re");
        if (!f)
                return -errno;
        size_t size = 0, cap = 65536;
        char *buf = malloc(cap);
        int r = 0;
        while (buf) {
                if (size + 1 >= cap) {
                        if (cap >= (64u << 20)) {
                                r = -EFBIG;
                                break;
                        }
                        char *n = realloc(buf, cap * 2);
                        if (!n) {
                                r = -ENOMEM;
                                break;
                        }
                        buf = n;
                        cap *= 2;
                }
                size_t got = fread(buf + size, 1, cap - size - 1, f);
                size += got;
                if (got == 0) {
                        if (ferror(f))
                                r = -EIO;
                        break;
                }
        }
        if (!buf)
                r = -ENOMEM;
        if (f != stdin)
                fclose(f);
        if (r < 0) {
                free(buf);
                return r;
        }
        if (memchr(buf, '\0', size)) {
                free(buf);
                return -EBADMSG;
        }
        buf[size] = '\0';
        *ret = buf;
        return 0;
}

static int intensity_import(const CliContext *ctx, const char *path, const char *source)
{
        char *text = NULL;
        int r = read_all(path, &text);
        if (r < 0) {
                fprintf(stderr, "joules intensity import: %s: %s\n", TEXT_SAFE(path),
                        r == -EBADMSG ? "binary data, not CSV or JSON" : strerror(-r));
                return r == -ENOENT || r == -EBADMSG ? CLI_EXIT_USAGE : CLI_EXIT_FAILURE;
        }
        CarbonInterval *v = NULL;
        size_t n = 0;
        bool json;
        char err[512];
        r = cli_intensity_parse(text, &v, &n, &json, err, sizeof(err));
        free(text);
        if (r < 0) {
                fprintf(stderr, "joules intensity import: %s: %s; nothing imported\n",
                        TEXT_SAFE(path), TEXT_SAFE(r == -ENOMEM ? "out of memory" : err));
                return r == -ENOMEM ? CLI_EXIT_FAILURE : CLI_EXIT_USAGE;
        }
        /* The history must exist already: a file made here would not be joulesd's to write. */
        if (access(ctx->db_path, F_OK) < 0) {
                fprintf(stderr,
                        "joules intensity import: %s: %s; start joulesd first (it creates the "
                        "history)\n",
                        TEXT_SAFE(ctx->db_path), strerror(errno));
                free(v);
                return CLI_EXIT_FAILURE;
        }
        StoreIntensityPoint *pts = calloc(n, sizeof(*pts));
        if (!pts) {
                free(v);
                return CLI_EXIT_FAILURE;
        }
        for (size_t i = 0; i < n; i++)
                pts[i] = (StoreIntensityPoint){v[i].start_us, v[i].end_us, v[i].g_per_kwh};
        char src[128];
        if (source)
                snprintf(src, sizeof(src), "%s", source);
        else {
                const char *base = strrchr(path, '/');
                snprintf(src, sizeof(src), "%s",
                         strcmp(path, "-") == 0 ? "stdin"
                         : base                 ? base + 1
                                                : path);
        }
        Store *s = NULL;
        r = store_open(ctx->db_path, STORE_READ_WRITE, &s, err, sizeof(err));
        if (r >= 0) {
                r = store_import_intensity(s, pts, n, src);
                if (r < 0)
                        snprintf(err, sizeof(err), "%s", store_last_error(s));
        }
        store_close(s);
        int rc = CLI_EXIT_OK;
        if (r < 0) {
                fprintf(stderr, "joules intensity import: writing %s: %s; nothing imported\n",
                        TEXT_SAFE(ctx->db_path), TEXT_SAFE(err));
                rc = CLI_EXIT_FAILURE;
        } else {
                char a[32], b[32];
                printf("imported %zu intervals (%s), source '%s'\n%s .. %s\n", n,
                       json ? "JSON" : "CSV", text_terminal(src, (char[41]){0}, 41),
                       format_rfc3339(v[0].start_us, a, sizeof(a)),
                       format_rfc3339(v[n - 1].end_us, b, sizeof(b)));
        }
        free(pts);
        free(v);
        return rc;
}

static int intensity_table(bool json)
{
        size_t n;
        const CarbonGridFactor *t = carbon_grid_table(&n);
        if (json) {
                JsonWriter j;
                json_init(&j, stdout);
                json_object_begin(&j, NULL);
                json_string(&j, "source", "Ember, yearly electricity data 2024");
                json_array_begin(&j, "countries");
                for (size_t i = 0; i < n; i++) {
                        json_object_begin(&j, NULL);
                        json_string(&j, "code", t[i].code);
                        json_number(&j, "g_per_kwh", t[i].g_per_kwh);
                        json_object_end(&j);
                }
                json_array_end(&j);
                json_object_end(&j);
                json_end(&j);
                return CLI_EXIT_OK;
        }
        printf("Yearly average grid intensity, gCO2e/kWh (Ember, 2024)\n");
        for (size_t i = 0; i < n; i++)
                printf("%-6s %7.2f%s", t[i].code, t[i].g_per_kwh,
                       i % 5 == 4 || i + 1 == n ? "\n" : "  ");
        return CLI_EXIT_OK;
}

static int intensity_show(const CliContext *ctx, bool json)
{
        FootprintOverrides o = {0};
        FootprintSettings fs;
        Store *s = footprint_open("intensity", ctx->db_path, &o, &fs);
        if (!s)
                return CLI_EXIT_FAILURE;
        size_t n = 0;
        int64_t first = 0, last = 0;
        char src[128] = "", label[64];
        int r = store_intensity_summary(s, &n, &first, &last, src, sizeof(src));
        store_close(s);
        if (r < 0) {
                cli_store_error(ctx->db_path, "failed");
                return CLI_EXIT_FAILURE;
        }
        double fallback = footprint_fallback_intensity(&fs, label, sizeof(label));
        char a[32], b[32];
        if (json) {
                JsonWriter j;
                json_init(&j, stdout);
                json_object_begin(&j, NULL);
                json_number(&j, "yearly_g_per_kwh", fallback);
                json_string(&j, "yearly_source", label);
                json_string(&j, "country", fs.country[0] ? fs.country : NULL);
                json_number(&j, "configured_g_per_kwh", fs.intensity);
                json_number(&j, "pue", fs.pue);
                json_number(&j, "embodied_g", fs.te_g);
                json_number(&j, "lifetime_hours", fs.el_hours);
                json_number(&j, "market_g_per_kwh", fs.market_g_per_kwh);
                json_object_begin(&j, "series");
                json_int(&j, "intervals", (int64_t)n);
                json_time(&j, "first", first, n > 0);
                json_time(&j, "last", last, n > 0);
                json_string(&j, "source", n ? src : NULL);
                json_object_end(&j);
                json_object_end(&j);
                json_end(&j);
                return CLI_EXIT_OK;
        }
        printf("yearly intensity  %.2f gCO2e/kWh (%s)\n", fallback, label);
        if (n)
                printf("imported series   %zu intervals, source '%s'\n"
                       "                  %s .. %s\n",
                       n, text_terminal(src, (char[41]){0}, 41),
                       format_rfc3339(first, a, sizeof(a)), format_rfc3339(last, b, sizeof(b)));
        else
                printf("imported series   none (joules intensity import FILE)\n");
        printf("PUE               %.3g\n", fs.pue);
        printf("embodied          %.6g g over %.6g h\n", fs.te_g, fs.el_hours);
        if (isfinite(fs.market_g_per_kwh))
                printf("market-based      %.2f gCO2e/kWh (reported beside, never in SCI)\n",
                       fs.market_g_per_kwh);
        return CLI_EXIT_OK;
}

int cmd_intensity(const CliContext *ctx, int argc, char **argv)
{
        static const struct option opts[] = {
                {"json", no_argument, NULL, 'j'},
                {"source", required_argument, NULL, 'S'},
                {"help", no_argument, NULL, 'h'},
                {0},
        };
        bool json = false;
        const char *source = NULL;
        int c;
        while ((c = args_getopt(argc, argv, "", opts)) != -1) {
                switch (c) {
                case 'j':
                        json = true;
                        break;
                case 'S':
                        source = optarg;
                        break;
                case 'h':
                        intensity_usage(stdout);
                        return CLI_EXIT_OK;
                default:
                        intensity_usage(stderr);
                        return CLI_EXIT_USAGE;
                }
        }
        const char *verb = optind < argc ? argv[optind] : "show";
        int rest = argc - optind - (optind < argc);
        if (strcmp(verb, "import") == 0) {
                if (rest != 1) {
                        fprintf(stderr, "joules intensity import: give one FILE (or -)\n");
                        return CLI_EXIT_USAGE;
                }
                return intensity_import(ctx, argv[optind + 1], source);
        }
        if (rest != 0) {
                fprintf(stderr, "joules intensity %s: unexpected argument '%s'\n", TEXT_SAFE(verb),
                        TEXT_SAFE(argv[optind + 1]));
                return CLI_EXIT_USAGE;
        }
        if (strcmp(verb, "show") == 0)
                return intensity_show(ctx, json);
        if (strcmp(verb, "table") == 0)
                return intensity_table(json);
        fprintf(stderr, "joules intensity: unknown '%s' (import, show or table)\n",
                TEXT_SAFE(verb));
        return CLI_EXIT_USAGE;
}
