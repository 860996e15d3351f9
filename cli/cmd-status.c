#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cli/band.h"
#include "cli/cli.h"
#include "cli/json.h"
#include "common/text.h"
#include "common/util.h"

static void status_usage(FILE *f)
{
        fprintf(f, "Usage: joules status [--json]\n"
                   "What the history holds: host energy and power, per energy domain, the\n"
                   "source and whether figures are measured or estimated.\n\n"
                   "Examples:\n"
                   "  joules status\n"
                   "  joules --db ./joules.db status --json | jq .host.power_w\n");
}

/* band: of all the stored energy (store_read_band over the whole history) */
static void status_json(const StoreStatus *st, double band)
{
        double lo, hi;
        band_bounds(st->energy_j, band, &lo, &hi);
        JsonWriter j;
        json_init(&j, stdout);
        json_object_begin(&j, NULL);
        json_object_begin(&j, "host");
        json_string(&j, "hostname", st->hostname[0] ? st->hostname : NULL);
        json_number(&j, "energy_j", st->energy_j);
        json_number(&j, "power_w", st->power_w);
        json_bool(&j, "estimated", st->estimated);
        /* ± percent of the estimate and the energy's bounds; null when measured */
        json_number(&j, "band_pct", band_known(band) ? band : NAN);
        json_number(&j, "energy_j_low", lo);
        json_number(&j, "energy_j_high", hi);
        json_time(&j, "first_sample", st->first_us, !st->empty);
        json_time(&j, "last_sample", st->last_us, !st->empty);
        json_int(&j, "samples", (int64_t)st->samples);
        /* Time between the first and the last sample that no valid interval covers: the daemon
         * was down, or intervals were dropped. */
        json_number(&j, "measured_s", (double)st->measured_us / 1e6);
        json_number(&j, "gap_s",
                    st->empty ? 0
                              : fmax(0, (double)(st->last_us - st->first_us) / 1e6 -
                                                (double)st->measured_us / 1e6));
        json_int(&j, "runs", (int64_t)st->runs);
        json_int(&j, "unclean_stops", (int64_t)st->unclean_stops);
        json_object_end(&j);
        json_string(&j, "source", st->source[0] ? st->source : NULL);
        if (st->model_method[0]) {
                /* how the latest run's model estimated, and where its numbers came from */
                json_object_begin(&j, "model");
                json_string(&j, "method", st->model_method);
                json_string(&j, "label", band_method_label(st->model_method));
                json_string(&j, "source", st->model_source);
                json_string(&j, "cpu", st->model_cpu[0] ? st->model_cpu : NULL);
                json_string(&j, "curve", st->model_curve);
                json_number(&j, "band_pct", st->model_band_pct);
                json_number(&j, "dram_w", st->dram_w);
                json_string(&j, "dram_source", st->dram_source[0] ? st->dram_source : NULL);
                json_number(&j, "dram_band_pct", st->dram_band_pct);
                json_number(&j, "host_band_pct", st->band_pct);
                json_object_end(&j);
        } else {
                json_null(&j, "model");
        }
        json_number(&j, "interval_s", (double)st->interval_us / 1e6);
        json_int(&j, "dropped_intervals", (int64_t)st->dropped);
        json_array_begin(&j, "domains");
        for (size_t i = 0; i < st->n_domains; i++) {
                const StoreDomainStatus *d = &st->domains[i];
                json_object_begin(&j, NULL);
                json_string(&j, "name", d->name);
                json_string(&j, "zone", d->zone);
                json_string(&j, "source", d->source);
                json_string(&j, "kind", d->kind);
                json_bool(&j, "in_host", d->in_host);
                json_bool(&j, "estimated", d->estimated);
                json_number(&j, "energy_j", d->energy_j);
                json_number(&j, "power_w", d->power_w);
                json_int(&j, "dropped_intervals", (int64_t)d->dropped);
                json_object_end(&j);
        }
        json_array_end(&j);
        json_object_begin(&j, "ingest"); /* request lines sent to the ingest socket */
        json_int(&j, "accepted", (int64_t)st->ingest.accepted);
        json_int(&j, "rejected", (int64_t)st->ingest.rejected);
        json_int(&j, "malformed", (int64_t)st->ingest.malformed);
        json_object_end(&j);
        json_object_begin(&j, "attribution");
        json_string(&j, "weight", st->weight[0] ? st->weight : NULL);
        json_string(&j, "reason", st->weight_reason[0] ? st->weight_reason : NULL);
        json_object_end(&j);
        json_object_end(&j);
        json_end(&j);
}

static void status_table(const StoreStatus *st, double band)
{
        char a[32], b[32], bs[16], est[96] = "";
        if (st->estimated && band_known(band)) {
                double lo, hi;
                band_bounds(st->energy_j / J_PER_KWH, band, &lo, &hi);
                snprintf(est, sizeof(est), "  (estimated %s: %.6f .. %.6f kWh)",
                         band_format(band, bs, sizeof(bs)), lo, hi);
        } else if (st->estimated) {
                snprintf(est, sizeof(est), "  (estimated, band unknown)");
        }
        printf("Host %s, source %s%s\n", st->hostname[0] ? TEXT_SAFE(st->hostname) : "?",
               st->source[0] ? TEXT_SAFE(st->source) : "?",
               st->estimated ? " (estimated from CPU use, no RAPL)" : " (measured)");
        if (st->model_method[0]) {
                printf("  model               %s: %s, %s\n", band_method_label(st->model_method),
                       TEXT_SAFE(st->model_source),
                       band_format(st->model_band_pct, bs, sizeof(bs)));
                printf("  model curve         %s (%% utilisation : host W)\n",
                       TEXT_SAFE(st->model_curve));
                if (st->dram_w > 0)
                        printf("  dram (estimated)    %10.2f W: %s, %s\n", st->dram_w,
                               TEXT_SAFE(st->dram_source),
                               band_format(st->dram_band_pct, bs, sizeof(bs)));
        }
        if (st->empty) {
                printf("  no samples stored yet\n");
                return;
        }
        printf("  power, last minute  %10.2f W%s\n", st->power_w,
               st->estimated ? "  (estimated)" : "");
        printf("  energy stored       %10.2f J = %.6f kWh%s\n", st->energy_j,
               st->energy_j / J_PER_KWH, est);
        printf("  samples             %10llu  %s .. %s\n", (unsigned long long)st->samples,
               format_rfc3339(st->first_us, a, sizeof(a)),
               format_rfc3339(st->last_us, b, sizeof(b)));
        printf("  interval            %10.3f s\n", (double)st->interval_us / 1e6);
        printf("  dropped intervals   %10llu\n", (unsigned long long)st->dropped);
        double span = (double)(st->last_us - st->first_us) / 1e6;
        printf("  measured            %10.0f s of %.0f s; %llu start(s) of joulesd, %llu without a "
               "clean stop\n",
               (double)st->measured_us / 1e6, span, (unsigned long long)st->runs,
               (unsigned long long)st->unclean_stops);
        if (st->weight[0])
                printf("  attribution weight  %10s%s%s\n", TEXT_SAFE(st->weight),
                       st->weight_reason[0] ? "  " : "", TEXT_SAFE(st->weight_reason));
        printf("  ingest lines        %10llu accepted, %llu rejected, %llu malformed\n",
               (unsigned long long)st->ingest.accepted, (unsigned long long)st->ingest.rejected,
               (unsigned long long)st->ingest.malformed);
        printf("\n%-18s %-22s %-8s %5s %12s %9s %7s\n", "DOMAIN", "ZONE", "SOURCE", "HOST",
               "ENERGY J", "POWER W", "DROPPED");
        for (size_t i = 0; i < st->n_domains; i++) {
                const StoreDomainStatus *d = &st->domains[i];
                char name[19], zone[23], source[9];
                text_terminal(d->name, name, sizeof(name));
                text_terminal(d->zone, zone, sizeof(zone));
                text_terminal(d->source, source, sizeof(source));
                printf("%-18s %-22s %-8s %5s %12.2f %9.2f %7llu%s\n", name, zone, source,
                       d->in_host ? "yes" : "no", d->energy_j, d->power_w,
                       (unsigned long long)d->dropped, d->estimated ? " est." : "");
        }
}

int cmd_status(const CliContext *ctx, int argc, char **argv)
{
        static const struct option opts[] = {
                {"json", no_argument, NULL, 'j'},
                {"help", no_argument, NULL, 'h'},
                {0},
        };
        bool json = false;
        int c;
        while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
                switch (c) {
                case 'j':
                        json = true;
                        break;
                case 'h':
                        status_usage(stdout);
                        return CLI_EXIT_OK;
                default:
                        status_usage(stderr);
                        return CLI_EXIT_USAGE;
                }
        }
        if (optind < argc) {
                fprintf(stderr, "joules status: unexpected argument '%s'\n",
                        TEXT_SAFE(argv[optind]));
                return CLI_EXIT_USAGE;
        }
        Store *s = cli_open_store(ctx);
        if (!s)
                return CLI_EXIT_FAILURE;
        StoreStatus st = {0};
        double band = 0;
        int r = store_read_status(s, &st);
        if (r >= 0)
                r = store_read_band(s, INT64_MIN / 4, INT64_MAX / 4, &band);
        if (r < 0) {
                fprintf(stderr, "joules: reading %s: %s\n", ctx->db_path, store_last_error(s));
                store_status_done(&st);
                store_close(s);
                return CLI_EXIT_FAILURE;
        }
        if (json)
                status_json(&st, band);
        else
                status_table(&st, band);
        store_status_done(&st);
        store_close(s);
        return CLI_EXIT_OK;
}
