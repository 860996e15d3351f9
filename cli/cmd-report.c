/* joules report: energy, requests and emissions per service over a range, optionally per hour,
 * day or month, with a chart of power over time (terminal, or SVG for a slide). */

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/chart.h"
#include "cli/band.h"
#include "cli/cli.h"
#include "cli/events.h"
#include "cli/footprint.h"
#include "cli/json.h"
#include "common/args.h"
#include "common/carbon.h"
#include "common/text.h"
#include "common/util.h"

static void report_usage(FILE *f)
{
        fprintf(f, "Usage: joules report [--unit U] [--since WHEN] [--until WHEN]\n"
                   "                     [--by hour|day|month] [--json] [--svg FILE]\n"
                   "Per service over the range (default: the last 24 hours), or per period with\n"
                   "--by (UTC boundaries): energy in J and kWh (IT, before PUE), average watts,\n"
                   "share of the host, requests, J per request (total and active), gCO2e\n"
                   "(location-based: energy x PUE x grid intensity of each hour, plus embodied)\n"
                   "and gCO2e per million requests; measured or estimated; perf events counted\n"
                   "(joulesd --events) in total and per request. Then a chart of the\n"
                   "power over time; --svg FILE also writes it as an SVG for a "
                   "slide.\n\n" FOOTPRINT_OPTIONS_HELP
                   "\nWHEN is a duration before now (15m, 24h, 7d) or an ISO 8601 time.\n\n"
                   "Examples:\n"
                   "  joules report --since 24h\n"
                   "  joules report --unit nginx.service --since 7d --by day\n"
                   "  joules report --since 2026-11-01 --until 2026-12-01 --svg november.svg\n");
}

static const char *period_name(StoreBucket b)
{
        switch (b) {
        case STORE_BUCKET_HOUR:
                return "hour";
        case STORE_BUCKET_DAY:
                return "day";
        case STORE_BUCKET_MONTH:
                return "month";
        default:
                return "all";
        }
}

static double grams(const FootprintFigures *f)
{
        return f->location_g + f->embodied_g;
}

/* The band of a unit's figures: its measured joules exact, its estimated ones with the band of the
 * period's estimates (band_sum_share: a unit's totals keep no split by run). */
static BandSum unit_band(const FootprintFigures *f, const BandSum *period)
{
        double e = f->active_j + f->idle_j;
        return band_sum_share(period, e - f->estimated_j, f->estimated_j);
}

/* band: the period's energy by run (band_read) for the host, unit_band() for a unit. One without
 * estimated energy is measured and has no band. */
static void report_json_figures(JsonWriter *j, const FootprintFigures *f, double seconds,
                                double host_j, const BandSum *band)
{
        double e = f->active_j + f->idle_j, lo = NAN, hi = NAN, pct = NAN;
        if (f->estimated) {
                band_sum_bounds(band, carbon_j_to_kwh(e), &lo, &hi);
                pct = band_sum_pct(band);
        }
        json_number(j, "energy_j", e);
        json_number(j, "energy_kwh", carbon_j_to_kwh(e));
        /* the band of an estimate (data/README.md), weighted by energy over the runs; null when
         * measured */
        json_number(j, "energy_band_pct", pct == 0 ? NAN : pct);
        json_number(j, "energy_kwh_low", lo);
        json_number(j, "energy_kwh_high", hi);
        json_number(j, "active_j", f->active_j);
        json_number(j, "idle_j", f->idle_j);
        json_number(j, "cpu_s", f->cpu_s);
        json_number(j, "avg_w", seconds > 0 ? e / seconds : NAN);
        json_number(j, "share", host_j > 0 ? e / host_j : NAN);
        if (f->has_requests)
                json_number(j, "requests", f->requests);
        else
                json_null(j, "requests");
        json_number(j, "j_per_request", footprint_per_request(e, f));
        json_number(j, "active_j_per_request", footprint_per_request(f->active_j, f));
        json_number(j, "energy_kwh_facility", f->facility_kwh);
        json_number(j, "intensity_g_per_kwh", f->intensity);
        json_number(j, "operational_gco2e", f->location_g);
        json_number(j, "embodied_gco2e", f->embodied_g);
        json_number(j, "gco2e", grams(f));
        json_number(j, "gco2e_per_million_requests", footprint_per_request(grams(f), f) * 1e6);
        json_number(j, "market_gco2e", f->market_g);
        json_bool(j, "estimated", f->estimated);
}

/* Each period's perf event totals per unit (store_read_unit_events over the period). */
typedef struct ReportEvents {
        StoreEventTotal *rows;
        size_t n;
} ReportEvents;

static void report_events_free(ReportEvents *ev, size_t n)
{
        for (size_t p = 0; ev && p < n; p++)
                free(ev[p].rows);
        free(ev);
}

static int report_events_read(Store *s, const Footprint *fp, const char *unit, ReportEvents **ret)
{
        ReportEvents *ev = calloc(fp->n_periods ? fp->n_periods : 1, sizeof(*ev));
        if (!ev)
                return -ENOMEM;
        for (size_t p = 0; p < fp->n_periods; p++) {
                const char *u = unit && fp->n_rows > 0 ? fp->rows[0].name : NULL;
                int r = store_read_unit_events(s, fp->periods[p].start_us, fp->periods[p].end_us, u,
                                               &ev[p].rows, &ev[p].n);
                if (r < 0) {
                        report_events_free(ev, fp->n_periods);
                        return r;
                }
        }
        *ret = ev;
        return 0;
}

/* bands[p]: the energy of period p by run (band_read) */
static void report_json(const Footprint *fp, const FootprintSettings *fs, int64_t from, int64_t to,
                        const Chart *chart, const BandSum *bands, const ReportEvents *ev)
{
        JsonWriter j;
        json_init(&j, stdout);
        json_object_begin(&j, NULL);
        json_time(&j, "from", from, true);
        json_time(&j, "to", to, true);
        json_string(&j, "by", period_name(fp->bucket));
        json_string(&j, "host", fp->hostname);
        json_number(&j, "pue", fs->pue);
        json_string(&j, "intensity_source", fp->source);
        json_array_begin(&j, "periods");
        for (size_t p = 0; p < fp->n_periods; p++) {
                const FootprintPeriod *per = &fp->periods[p];
                json_object_begin(&j, NULL);
                json_time(&j, "start", per->start_us, true);
                json_time(&j, "end", per->end_us, true);
                json_number(&j, "seconds", per->seconds);
                json_object_begin(&j, "host");
                report_json_figures(&j, &per->host, per->seconds, per->host_j, &bands[p]);
                json_number(&j, "energy_j", per->host_j); /* the measured total */
                json_object_end(&j);
                json_array_begin(&j, "units");
                for (size_t r = 0; r < fp->n_rows; r++) {
                        if (fp->rows[r].period != p)
                                continue;
                        json_object_begin(&j, NULL);
                        json_string(&j, "unit", fp->rows[r].name);
                        json_bool(&j, "pseudo", fp->rows[r].pseudo);
                        BandSum ub = unit_band(&fp->rows[r].f, &bands[p]);
                        report_json_figures(&j, &fp->rows[r].f, per->seconds, per->host_j, &ub);
                        size_t first = 0, n_ev = 0;
                        if (ev)
                                n_ev = events_of_unit(ev[p].rows, ev[p].n, fp->rows[r].name,
                                                      &first);
                        events_json(&j, "events", ev ? ev[p].rows + first : NULL, n_ev,
                                    fp->rows[r].f.has_requests, fp->rows[r].f.requests);
                        json_object_end(&j);
                }
                json_array_end(&j);
                json_object_end(&j);
        }
        json_array_end(&j);
        json_array_begin(&j, "power");
        for (size_t c = 0; chart && c < chart->n_columns; c++) {
                json_object_begin(&j, NULL);
                json_time(&j, "start", chart->column_start[c], true);
                json_time(&j, "end", chart->column_start[c + 1], true);
                json_number(&j, "avg_w", chart->total[c]);
                json_object_end(&j);
        }
        json_array_end(&j);
        json_object_end(&j);
        json_end(&j);
}

/* A figure, or "-" where there is none; whole numbers for counts, 4 significant digits else. */
static void fmt_num(char *buf, size_t size, double v, bool whole)
{
        if (!isfinite(v))
                snprintf(buf, size, "-");
        else if (whole)
                snprintf(buf, size, "%.0f", v);
        else
                snprintf(buf, size, "%.4g", v);
}

/* At most 26 columns; a long name keeps its start and its end, where services differ. */
static void report_name(char *buf, size_t size, const FootprintRow *row)
{
        char full[TEXT_SAFE_MAX + 2];
        text_abbrev(cli_unit_label(row->name, row->pseudo, full, sizeof(full)), 26, "~", buf, size);
}

static void report_table(const Footprint *fp, const FootprintSettings *fs, const BandSum *bands,
                         const ReportEvents *ev)
{
        char a[32], b[32], bs[16];
        for (size_t p = 0; p < fp->n_periods; p++) {
                const FootprintPeriod *per = &fp->periods[p];
                const FootprintFigures *h = &per->host;
                char how[48] = " (measured)";
                double pct = band_sum_pct(&bands[p]);
                if (h->estimated && bands[p].measured_j > 0)
                        snprintf(how, sizeof(how), " (partly estimated %s)",
                                 band_format(pct, bs, sizeof(bs)));
                else if (h->estimated)
                        snprintf(how, sizeof(how), " (estimated %s)",
                                 band_format(pct, bs, sizeof(bs)));
                printf("%s%s .. %s%s\n", p ? "\n" : "", format_rfc3339(per->start_us, a, sizeof(a)),
                       format_rfc3339(per->end_us, b, sizeof(b)), how);
                printf("host %.1f J (%.6g kWh) in %.0f s, %.4g W average, %.4g gCO2e\n",
                       per->host_j, carbon_j_to_kwh(per->host_j), per->seconds,
                       per->seconds > 0 ? per->host_j / per->seconds : 0, grams(h));
                printf("%-26s %12s %11s %9s %6s %9s\n", "UNIT", "ENERGY J", "KWH", "AVG W", "SHARE",
                       "SOURCE");
                for (size_t r = 0; r < fp->n_rows; r++) {
                        const FootprintRow *row = &fp->rows[r];
                        if (row->period != p)
                                continue;
                        double e = row->f.active_j + row->f.idle_j;
                        char name[32];
                        report_name(name, sizeof(name), row);
                        /* an estimate with its band, whole percent to fit 80 columns */
                        char src[24] = "measured";
                        BandSum ub = unit_band(&row->f, &bands[p]);
                        double upct = band_sum_pct(&ub);
                        if (row->f.estimated && isnan(upct))
                                snprintf(src, sizeof(src), "est ±?");
                        else if (row->f.estimated)
                                snprintf(src, sizeof(src), "est ±%.0f%%", upct);
                        printf("%-26s %12.1f %11.6f %9.2f %5.1f%% %*s\n", name, e,
                               carbon_j_to_kwh(e), per->seconds > 0 ? e / per->seconds : 0,
                               per->host_j > 0 ? 100 * e / per->host_j : 0,
                               /* ± is two bytes, one column */
                               row->f.estimated ? 10 : 9, src);
                }
                /* the first perf event per request, where the period counted any */
                const char *event = events_first(ev[p].rows, ev[p].n);
                char ev_head[40] = "";
                if (event) {
                        const char *short_name = strrchr(event, ':');
                        snprintf(ev_head, sizeof(ev_head), "%s/REQ",
                                 TEXT_SAFE_CUT(short_name ? short_name + 1 : event, 14));
                }
                printf("%-26s %10s %9s %9s %10s %10s", "UNIT", "REQUESTS", "J/REQ", "ACT J/REQ",
                       "GCO2E", "G/M REQ");
                if (event)
                        printf(" %18s", ev_head);
                putchar('\n');
                for (size_t r = 0; r < fp->n_rows; r++) {
                        const FootprintRow *row = &fp->rows[r];
                        if (row->period != p)
                                continue;
                        double e = row->f.active_j + row->f.idle_j;
                        char name[32], req[32], jr[32], ajr[32], g[32], gm[32];
                        report_name(name, sizeof(name), row);
                        fmt_num(req, sizeof(req), row->f.has_requests ? row->f.requests : NAN,
                                true);
                        fmt_num(jr, sizeof(jr), footprint_per_request(e, &row->f), false);
                        fmt_num(ajr, sizeof(ajr), footprint_per_request(row->f.active_j, &row->f),
                                false);
                        fmt_num(g, sizeof(g), grams(&row->f), false);
                        fmt_num(gm, sizeof(gm),
                                footprint_per_request(grams(&row->f), &row->f) * 1e6, false);
                        printf("%-26s %10s %9s %9s %10s %10s", name, req, jr, ajr, g, gm);
                        if (event) {
                                size_t first, n_ev = events_of_unit(ev[p].rows, ev[p].n, row->name,
                                                                    &first);
                                char v[32];
                                events_format(events_per_request(
                                                      events_total(ev[p].rows + first, n_ev, event),
                                                      row->f.has_requests, row->f.requests),
                                              v, sizeof(v));
                                printf(" %18s", v);
                        }
                        putchar('\n');
                }
        }
        char label[64];
        (void)footprint_fallback_intensity(fs, label, sizeof(label));
        printf("\ngCO2e = kWh x PUE %.3g x intensity (%s)\n        + embodied (TE %.6g g over "
               "EL %.6g h, by CPU time)\n",
               fs->pue, TEXT_SAFE_CUT(fp->source, 30), fs->te_g, fs->el_hours);
}

int cmd_report(const CliContext *ctx, int argc, char **argv)
{
        static const struct option opts[] = {
                {"unit", required_argument, NULL, 'U'},
                {"since", required_argument, NULL, 's'},
                {"until", required_argument, NULL, 'u'},
                {"by", required_argument, NULL, 'b'},
                {"json", no_argument, NULL, 'j'},
                {"svg", required_argument, NULL, 'S'},
                {"help", no_argument, NULL, 'h'},
                FOOTPRINT_OPTIONS,
                {0},
        };
        int64_t from = ctx->now_us - 24 * 3600 * (int64_t)USEC_PER_SEC, to = ctx->now_us;
        const char *unit = NULL, *svg = NULL;
        StoreBucket bucket = STORE_BUCKET_ALL;
        bool json = false;
        FootprintOverrides o = {0};
        int c;
        while ((c = args_getopt(argc, argv, "", opts)) != -1) {
                int r = footprint_window_option(ctx, "report", c, optarg, &from, &to, &o);
                if (r < 0)
                        return CLI_EXIT_USAGE;
                if (r > 0)
                        continue;
                switch (c) {
                case 'U':
                        unit = optarg;
                        break;
                case 'b':
                        if (store_bucket_from_string(optarg, &bucket) < 0 ||
                            bucket == STORE_BUCKET_MINUTE) {
                                fprintf(stderr,
                                        "joules report: --by: '%s' is not hour, day or month\n",
                                        TEXT_SAFE(optarg));
                                return CLI_EXIT_USAGE;
                        }
                        break;
                case 'j':
                        json = true;
                        break;
                case 'S':
                        svg = optarg;
                        break;
                case 'h':
                        report_usage(stdout);
                        return CLI_EXIT_OK;
                default:
                        report_usage(stderr);
                        return CLI_EXIT_USAGE;
                }
        }
        if (cli_no_more_args("joules report", argc, argv) < 0)
                return CLI_EXIT_USAGE;
        if (cli_range_check("joules report", from, to) < 0)
                return CLI_EXIT_USAGE;
        FootprintSettings fs;
        Store *s = footprint_open("report", ctx->db_path, &o, &fs);
        if (!s)
                return CLI_EXIT_FAILURE;
        Footprint fp = {0};
        StorePeriodRows pr = {0};
        Chart chart = {0};
        ReportEvents *ev = NULL;
        int rc = CLI_EXIT_FAILURE;
        BandSum *bands = NULL;
        int r = footprint_read(s, &fs, from, to, bucket, unit, &fp);
        if (r >= 0) {
                bands = calloc(fp.n_periods ? fp.n_periods : 1, sizeof(*bands));
                if (!bands)
                        r = -ENOMEM;
        }
        for (size_t p = 0; r >= 0 && p < fp.n_periods; p++)
                r = band_read(s, fp.periods[p].start_us, fp.periods[p].end_us, &bands[p]);
        if (r < 0) {
                cli_store_error(ctx->db_path, r == -ENOMEM ? "out of memory" : store_last_error(s));
                goto out;
        }
        if (fp.n_periods == 0) {
                if (json)
                        report_json(&fp, &fs, from, to, NULL, bands, NULL);
                fprintf(stderr, "joules report: no samples in that range\n");
                rc = CLI_EXIT_NO_DATA;
                goto out;
        }
        if (unit && fp.n_rows == 0) {
                fprintf(stderr, "joules report: no unit '%s' in that range (see joules services)\n",
                        TEXT_SAFE(unit));
                rc = CLI_EXIT_NO_DATA;
                goto out;
        }
        /* the chart spans the ticks, not the empty part of the range */
        int64_t cfrom = fp.periods[0].first_us > from ? fp.periods[0].first_us : from;
        int64_t cto = fp.periods[fp.n_periods - 1].last_us;
        r = store_read_periods(s, cfrom, cto, chart_bucket_for(cfrom, cto), unit, &pr);
        if (r >= 0)
                r = chart_build(&pr, unit, &chart);
        if (r >= 0)
                r = report_events_read(s, &fp, unit, &ev);
        if (r < 0) {
                cli_store_error(ctx->db_path, r == -ENOMEM ? "out of memory" : store_last_error(s));
                goto out;
        }
        char a[32], b[32], title[320], sub[200];
        snprintf(title, sizeof(title), "Power of %s",
                 unit             ? fp.rows[0].name
                 : fp.hostname[0] ? fp.hostname
                                  : "the host");
        snprintf(sub, sizeof(sub), "%s to %s UTC, watts%s", format_rfc3339(cfrom, a, sizeof(a)),
                 format_rfc3339(cto, b, sizeof(b)), chart.estimated ? ", estimated" : ", measured");
        if (json) {
                report_json(&fp, &fs, from, to, &chart, bands, ev);
        } else {
                report_table(&fp, &fs, bands, ev);
                char t[400];
                char who[61];
                text_terminal(unit ? fp.rows[0].name : "the host", who, sizeof(who));
                snprintf(t, sizeof(t), "\nPower of %s (W)\n%s .. %s", who, a, b);
                chart_terminal(&chart, stdout, t, 8);
        }
        if (svg) {
                FILE *f = fopen(svg, "we");
                if (!f) {
                        fprintf(stderr, "joules report: --svg: %s: %s\n", TEXT_SAFE(svg),
                                strerror(errno));
                        rc = CLI_EXIT_USAGE;
                        goto out;
                }
                chart_svg(&chart, f, title, sub);
                if (fclose(f) != 0) {
                        fprintf(stderr, "joules report: writing %s: %s\n", TEXT_SAFE(svg),
                                strerror(errno));
                        goto out;
                }
        }
        rc = CLI_EXIT_OK;
out:
        report_events_free(ev, fp.n_periods);
        free(bands);
        chart_done(&chart);
        store_periods_done(&pr);
        footprint_done(&fp);
        store_close(s);
        return rc;
}
