/* joules export: rows a sustainability team can file (GHG Protocol Scope 2, location- and
 * market-based, with embodied emissions and SCI), one per host x service x period. */

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/band.h"
#include "cli/cli.h"
#include "cli/fleet.h"
#include "cli/footprint.h"
#include "cli/json.h"
#include "common/args.h"
#include "common/carbon.h"
#include "common/text.h"
#include "common/util.h"

static void export_usage(FILE *f)
{
        fprintf(f,
                "Usage: joules export --format csv|json --from WHEN --to WHEN\n"
                "                     [--by hour|day|month] [--prometheus URL]\n"
                "One row per host x service x period (default: hour; UTC boundaries), every\n"
                "unit of the history included (kernel, idle, unattributed too), so the rows\n"
                "add up to the host and to joules report over the same range. CSV (RFC 4180)\n"
                "or a JSON array of objects, times in RFC 3339 UTC. Columns:\n"
                "  period_start, period_end, host_id, service, energy_kwh (IT), pue,\n"
                "  energy_kwh_facility, ci_location_g_per_kwh (energy-weighted by hour),\n"
                "  ci_location_source, emissions_location_gco2e, ci_market_g_per_kwh,\n"
                "  emissions_market_gco2e, embodied_gco2e, requests, j_per_request,\n"
                "  sci_gco2e_per_request (empty without requests), estimated, tool_version,\n"
                "  energy_band_pct, energy_kwh_low, energy_kwh_high (the uncertainty band of\n"
                "  an estimate, data/README.md, weighted by energy where measured and\n"
                "  estimated runs share a period; all three empty when measured and from\n"
                "  --prometheus), ci_market_source.\n"
                "Market-based (GHG Protocol Scope 2): the factor of joulesd.conf\n"
                "(market_intensity_g_per_kwh) or --market-intensity; without one, the\n"
                "location-based grid average, ci_market_source saying so (\"grid average\n"
                "(no contractual instruments, supplier rate or residual mix configured)\").\n"
                "host_id is the host name joulesd recorded for the period's ticks.\n\n"
                "Every host of a fleet, from the counters joules-exporter serves, read back\n"
                "from Prometheus or a store with its HTTP API (Thanos, Mimir, VictoriaMetrics):\n"
                "  --prometheus URL      the API's base, e.g. http://prometheus:9090\n"
                "  --host-label NAME     the label naming a host: host_id (default instance)\n"
                "  --match MATCHERS      label matchers added to every query, e.g. job=\"joules\"\n"
                "  --timeout SECONDS     for each query (default 30)\n"
                "The same columns; each host's PUE and embodied emissions are its exporter's\n"
                "gauges (the latest in the range), its intensity the gauge at each hour, unless\n"
                "given below. --by minute (both sources) is for tests and short "
                "experiments.\n\n" FOOTPRINT_OPTIONS_HELP
                "\nWHEN is an ISO 8601 time or a duration before now (15m, 24h, 7d).\n\n"
                "Examples:\n"
                "  joules export --format csv --from 2026-01-01 --to 2027-01-01 > 2026.csv\n"
                "  joules export --format json --from 7d --to now --by day\n"
                "  joules export --prometheus http://prom:9090 --format csv --from 2026-01-01 \\\n"
                "      --to 2027-01-01 --by month > fleet-2026.csv\n");
}

static const char *const export_columns[] = {
        "period_start",
        "period_end",
        "host_id",
        "service",
        "energy_kwh",
        "pue",
        "energy_kwh_facility",
        "ci_location_g_per_kwh",
        "ci_location_source",
        "emissions_location_gco2e",
        "ci_market_g_per_kwh",
        "emissions_market_gco2e",
        "embodied_gco2e",
        "requests",
        "j_per_request",
        "sci_gco2e_per_request",
        "estimated",
        "tool_version",
        "energy_band_pct",
        "energy_kwh_low",
        "energy_kwh_high",
        "ci_market_source", /* last: columns are added after the existing ones */
};

static void csv_text(const char *v, bool last)
{
        char buf[TEXT_SAFE_MAX * 2 + 3];
        text_csv_field(buf, sizeof(buf), v);
        printf("%s%s", buf, last ? "\r\n" : ",");
}

static void csv_number_end(double v, bool last)
{
        if (!isfinite(v)) {
                printf("%s", last ? "\r\n" : ",");
                return;
        }
        /* the shortest form that reads back as the same double, as in the JSON */
        char buf[40];
        snprintf(buf, sizeof(buf), "%.15g", v);
        if (strtod(buf, NULL) != v)
                snprintf(buf, sizeof(buf), "%.17g", v);
        printf("%s%s", buf, last ? "\r\n" : ",");
}

static void csv_number(double v)
{
        csv_number_end(v, false);
}

typedef struct ExportState {
        Store *s; /* for the periods' bands; NULL from Prometheus */
        bool json;
        JsonWriter j;
        size_t periods;
        bool begun; /* the header or the array's [ written */
} ExportState;

static void export_begin(ExportState *st);

/* Writes one complete period's rows (footprint_read_each's callback). */
static int export_period(const Footprint *fp, void *user)
{
        ExportState *st = user;
        const FootprintSettings *fs = fp->fs;
        export_begin(st);
        st->periods += fp->n_periods;
        /* each period's energy by run, for the band of its estimates; unknown from Prometheus */
        BandSum *bands = calloc(fp->n_periods ? fp->n_periods : 1, sizeof(*bands));
        if (!bands)
                return -ENOMEM;
        for (size_t p = 0; p < fp->n_periods; p++) {
                bands[p] = (BandSum){.unknown = true};
                if (st->s && band_read(st->s, fp->periods[p].start_us, fp->periods[p].end_us,
                                       &bands[p]) < 0) {
                        free(bands);
                        return -EIO;
                }
        }
        for (size_t i = 0; i < fp->n_rows; i++) {
                const FootprintRow *row = &fp->rows[i];
                const FootprintPeriod *per = &fp->periods[row->period];
                const FootprintFigures *f = &row->f;
                double e_j = f->active_j + f->idle_j;
                FootprintMarket market;
                footprint_market(fs, f, &market);
                double req = f->has_requests ? f->requests : NAN;
                double sci = footprint_per_request(f->location_g + f->embodied_g, f);
                char a[32], b[32], source[128];
                /* measured: no band, empty in CSV and null in JSON. Otherwise the unit's
                 * measured joules are exact and its estimated ones carry the band of the
                 * period's estimates, weighted by energy over its runs (a unit's totals keep no
                 * split by run: band_sum_share). */
                double band = NAN, lo = NAN, hi = NAN;
                if (f->estimated) {
                        BandSum ub = band_sum_share(&bands[row->period], e_j - f->estimated_j,
                                                    f->estimated_j);
                        band = band_sum_pct(&ub);
                        if (band == 0)
                                band = NAN;
                        band_sum_bounds(&ub, carbon_j_to_kwh(e_j), &lo, &hi);
                }
                footprint_source(fp, f, source, sizeof(source));
                format_rfc3339(per->start_us, a, sizeof(a));
                format_rfc3339(per->end_us, b, sizeof(b));
                if (st->json) {
                        json_object_begin(&st->j, NULL);
                        json_string(&st->j, "period_start", a);
                        json_string(&st->j, "period_end", b);
                        json_string(&st->j, "host_id", fp->hostname);
                        json_string(&st->j, "service", row->name);
                        json_number(&st->j, "energy_kwh", carbon_j_to_kwh(e_j));
                        json_number(&st->j, "pue", fs->pue);
                        json_number(&st->j, "energy_kwh_facility", f->facility_kwh);
                        json_number(&st->j, "ci_location_g_per_kwh", f->intensity);
                        json_string(&st->j, "ci_location_source", source);
                        json_number(&st->j, "emissions_location_gco2e", f->location_g);
                        json_number(&st->j, "ci_market_g_per_kwh", market.g_per_kwh);
                        json_number(&st->j, "emissions_market_gco2e", market.emissions_g);
                        json_number(&st->j, "embodied_gco2e", f->embodied_g);
                        json_number(&st->j, "requests", req);
                        json_number(&st->j, "j_per_request", footprint_per_request(e_j, f));
                        json_number(&st->j, "sci_gco2e_per_request", sci);
                        json_bool(&st->j, "estimated", f->estimated);
                        json_string(&st->j, "tool_version", "joules " JOULES_VERSION);
                        json_number(&st->j, "energy_band_pct", band);
                        json_number(&st->j, "energy_kwh_low", lo);
                        json_number(&st->j, "energy_kwh_high", hi);
                        json_string(&st->j, "ci_market_source", market.source);
                        json_object_end(&st->j);
                        continue;
                }
                csv_text(a, false);
                csv_text(b, false);
                csv_text(fp->hostname, false);
                csv_text(row->name, false);
                csv_number(carbon_j_to_kwh(e_j));
                csv_number(fs->pue);
                csv_number(f->facility_kwh);
                csv_number(f->intensity);
                csv_text(source, false);
                csv_number(f->location_g);
                csv_number(market.g_per_kwh);
                csv_number(market.emissions_g);
                csv_number(f->embodied_g);
                csv_number(req);
                csv_number(footprint_per_request(e_j, f));
                csv_number(sci);
                printf("%s,", f->estimated ? "true" : "false");
                csv_text("joules " JOULES_VERSION, false);
                csv_number(band);
                csv_number(lo);
                csv_number(hi);
                csv_text(market.source, true);
        }
        free(bands);
        return 0;
}

static void export_begin(ExportState *st)
{
        if (st->begun)
                return;
        st->begun = true;
        if (st->json) {
                json_init(&st->j, stdout);
                json_array_begin(&st->j, NULL);
                return;
        }
        for (size_t i = 0; i < ELEMENTSOF(export_columns); i++)
                printf("%s%s", export_columns[i],
                       i + 1 < ELEMENTSOF(export_columns) ? "," : "\r\n");
}

/* A Prometheus label name: [a-zA-Z_][a-zA-Z0-9_]* */
static bool label_name_valid(const char *s)
{
        if (!*s || (*s >= '0' && *s <= '9'))
                return false;
        for (; *s; s++)
                if (!(*s == '_' || (*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
                      (*s >= '0' && *s <= '9')))
                        return false;
        return true;
}

int cmd_export(const CliContext *ctx, int argc, char **argv)
{
        static const struct option opts[] = {
                {"format", required_argument, NULL, 'f'},
                {"from", required_argument, NULL, 's'},
                {"to", required_argument, NULL, 'u'},
                {"by", required_argument, NULL, 'b'},
                {"prometheus", required_argument, NULL, 'P'},
                {"host-label", required_argument, NULL, 'L'},
                {"match", required_argument, NULL, 'M'},
                {"timeout", required_argument, NULL, 'T'},
                {"help", no_argument, NULL, 'h'},
                FOOTPRINT_OPTIONS,
                {0},
        };
        int64_t from = 0, to = 0;
        bool has_from = false, has_to = false, json = false, has_format = false;
        StoreBucket bucket = STORE_BUCKET_HOUR;
        FootprintOverrides o = {0};
        const char *url = NULL, *host_label = "instance", *match = NULL;
        double timeout_s = 30;
        bool has_timeout = false;
        int c;
        while ((c = args_getopt(argc, argv, "", opts)) != -1) {
                int r = footprint_option("export", c, optarg, &o);
                if (r < 0)
                        return CLI_EXIT_USAGE;
                if (r > 0)
                        continue;
                switch (c) {
                case 'f':
                        if (strcmp(optarg, "csv") == 0)
                                json = false;
                        else if (strcmp(optarg, "json") == 0)
                                json = true;
                        else {
                                fprintf(stderr,
                                        "joules export: --format: '%s' is neither csv nor json\n",
                                        TEXT_SAFE(optarg));
                                return CLI_EXIT_USAGE;
                        }
                        has_format = true;
                        break;
                case 's':
                        if (cli_parse_time(ctx, "--from", optarg, &from) < 0)
                                return CLI_EXIT_USAGE;
                        has_from = true;
                        break;
                case 'u':
                        if (cli_parse_time(ctx, "--to", optarg, &to) < 0)
                                return CLI_EXIT_USAGE;
                        has_to = true;
                        break;
                case 'b':
                        if (store_bucket_from_string(optarg, &bucket) < 0 ||
                            (bucket != STORE_BUCKET_HOUR && bucket != STORE_BUCKET_DAY &&
                             bucket != STORE_BUCKET_MONTH && bucket != STORE_BUCKET_MINUTE)) {
                                fprintf(stderr,
                                        "joules export: --by: '%s' is not hour, day, month or "
                                        "minute\n",
                                        TEXT_SAFE(optarg));
                                return CLI_EXIT_USAGE;
                        }
                        break;
                case 'P':
                        if (strncmp(optarg, "http://", 7) != 0 &&
                            strncmp(optarg, "https://", 8) != 0) {
                                fprintf(stderr,
                                        "joules export: --prometheus: '%s' is not an http:// or "
                                        "https:// URL\n",
                                        TEXT_SAFE(optarg));
                                return CLI_EXIT_USAGE;
                        }
                        url = optarg;
                        break;
                case 'L':
                        if (!label_name_valid(optarg)) {
                                fprintf(stderr,
                                        "joules export: --host-label: '%s' is not a label name\n",
                                        TEXT_SAFE(optarg));
                                return CLI_EXIT_USAGE;
                        }
                        host_label = optarg;
                        break;
                case 'M':
                        match = optarg;
                        break;
                case 'T':
                        if (footprint_parse_flag("export", "--timeout", optarg, 0.1, 3600,
                                                 &timeout_s) < 0)
                                return CLI_EXIT_USAGE;
                        has_timeout = true;
                        break;
                case 'h':
                        export_usage(stdout);
                        return CLI_EXIT_OK;
                default:
                        export_usage(stderr);
                        return CLI_EXIT_USAGE;
                }
        }
        if (cli_no_more_args("joules export", argc, argv) < 0)
                return CLI_EXIT_USAGE;
        if (!has_format || !has_from || !has_to) {
                fprintf(stderr, "joules export: %s is required (see --help)\n",
                        !has_format ? "--format csv|json"
                        : !has_from ? "--from"
                                    : "--to");
                return CLI_EXIT_USAGE;
        }
        if (from >= to) {
                fprintf(stderr, "joules export: --from must be before --to\n");
                return CLI_EXIT_USAGE;
        }
        if (!url && (match || has_timeout || strcmp(host_label, "instance") != 0)) {
                fprintf(stderr, "joules export: --host-label, --match and --timeout go with "
                                "--prometheus\n");
                return CLI_EXIT_USAGE;
        }
        FootprintSettings fs;
        Store *s = NULL;
        if (!url && !(s = footprint_open("export", ctx->db_path, &o, &fs)))
                return CLI_EXIT_FAILURE;
        ExportState st = {.s = s, .json = json};
        /* The fleet's header comes with its first period, once the store has answered: a store
         * that cannot be read writes nothing. One that fails part-way leaves the periods
         * already written (JSON: an array never closed) and exit 1, which says so. */
        if (!url)
                export_begin(&st);
        if (url) {
                /* rows are written period by period, the hosts of a period together */
                FleetOptions fo = {
                        .url = url,
                        .host_label = host_label,
                        .match = match,
                        .timeout_s = timeout_s,
                        .from_us = from,
                        .to_us = to,
                        .bucket = bucket,
                        .overrides = o,
                };
                char err[2048];
                int r = fleet_export(&fo, export_period, &st, err, sizeof(err));
                if (r < 0) {
                        fflush(stdout);
                        fprintf(stderr, "joules export: cannot read the fleet from %s\n",
                                TEXT_SAFE(err));
                        return CLI_EXIT_FAILURE;
                }
                export_begin(&st);
        } else {
                /* rows are written period by period as they are complete: a year of hours
                 * never sits in memory */
                int r = footprint_read_each(s, &fs, from, to, bucket, NULL, export_period, &st,
                                            NULL);
                if (r < 0) {
                        cli_store_error(ctx->db_path,
                                        r == -ENOMEM ? "out of memory" : store_last_error(s));
                        store_close(s);
                        return CLI_EXIT_FAILURE;
                }
                store_close(s);
        }
        if (json) {
                json_array_end(&st.j);
                json_end(&st.j);
        }
        if (fflush(stdout) != 0) {
                fprintf(stderr, "joules export: writing: %s\n", strerror(errno));
                return CLI_EXIT_FAILURE;
        }
        if (!st.periods)
                fprintf(stderr, "joules export: %s\n",
                        url ? "the store holds no joules counters in that range"
                            : "no samples in that range");
        return st.periods ? CLI_EXIT_OK : CLI_EXIT_NO_DATA;
}
