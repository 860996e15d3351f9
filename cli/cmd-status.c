#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cli/band.h"
#include "cli/cli.h"
#include "cli/json.h"
#include "common/args.h"
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

/* band: of all the stored energy, by run (band_read over the whole history): the measured part
 * exact, the estimated parts each with its run's band */
static void status_json(const StoreStatus *st, const BandSum *band)
{
        double lo, hi, pct = band_sum_pct(band);
        band_sum_bounds(band, st->energy_j, &lo, &hi);
        JsonWriter j;
        json_init(&j, stdout);
        json_object_begin(&j, NULL);
        json_object_begin(&j, "host");
        json_string(&j, "hostname", st->hostname[0] ? st->hostname : NULL);
        json_number(&j, "energy_j", st->energy_j);
        json_number(&j, "power_w", st->power_w);
        json_bool(&j, "estimated", st->estimated);
        /* ± percent of the estimate and the energy's bounds; null when measured */
        json_number(&j, "band_pct", pct == 0 ? NAN : pct);
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

/* "  label               text", the text (already made safe) wrapped at spaces to 80 columns
 * under itself: model sources and perf reasons are long sentences. */
static void status_wrapped(const char *label, const char *text)
{
        enum { INDENT = 22, WIDTH = 80 };
        printf("  %-20s", label);
        size_t col = INDENT;
        const char *p = text;
        while (*p) {
                size_t sp = strspn(p, " "), len = strcspn(p + sp, " "), cols = 0;
                for (size_t i = 0; i < len; i++)
                        cols += ((unsigned char)p[sp + i] & 0xc0) != 0x80; /* code points */
                if (col > INDENT && col + sp + cols > WIDTH) {
                        printf("\n%*s", INDENT, "");
                        col = INDENT;
                } else {
                        printf("%*s", (int)sp, "");
                        col += sp;
                }
                fwrite(p + sp, 1, len, stdout);
                col += cols;
                p += sp + len;
        }
        putchar('\n');
}

static void status_table(const StoreStatus *st, const BandSum *band)
{
        char a[32], b[32], bs[16], est[160] = "";
        double pct = band_sum_pct(band);
        if (st->estimated && band_known(pct)) {
                double lo, hi;
                band_sum_bounds(band, st->energy_j / J_PER_KWH, &lo, &hi);
                /* where runs measured part of it, that part is exact and carries no band */
                if (band->measured_j > 0)
                        snprintf(est, sizeof(est),
                                 "  (%.2f J measured, %.2f J estimated; %s: %.6f .. %.6f kWh)",
                                 band->measured_j, band->estimated_j,
                                 band_format(pct, bs, sizeof(bs)), lo, hi);
                else
                        snprintf(est, sizeof(est), "  (estimated %s: %.6f .. %.6f kWh)",
                                 band_format(pct, bs, sizeof(bs)), lo, hi);
        } else if (st->estimated) {
                snprintf(est, sizeof(est), "  (estimated, band unknown)");
        }
        printf("Host %s, source %s%s\n", st->hostname[0] ? TEXT_SAFE(st->hostname) : "?",
               st->source[0] ? TEXT_SAFE(st->source) : "?",
               st->estimated ? " (estimated from CPU use, no RAPL)" : " (measured)");
        if (st->model_method[0]) {
                char line[1024];
                snprintf(line, sizeof(line), "%s: %s, %s",
                         TEXT_SAFE(band_method_label(st->model_method)),
                         TEXT_SAFE(st->model_source),
                         band_format(st->model_band_pct, bs, sizeof(bs)));
                status_wrapped("model", line);
                snprintf(line, sizeof(line), "%s (%% utilisation : host W)",
                         TEXT_SAFE(st->model_curve));
                status_wrapped("model curve", line);
                if (st->dram_w > 0) {
                        snprintf(line, sizeof(line), "%10.2f W: %s, %s", st->dram_w,
                                 TEXT_SAFE(st->dram_source),
                                 band_format(st->dram_band_pct, bs, sizeof(bs)));
                        status_wrapped("dram (estimated)", line);
                }
        }
        if (st->empty) {
                printf("  no samples stored yet\n");
                return;
        }
        printf("  power, last minute  %10.2f W%s\n", st->power_w,
               st->estimated ? "  (estimated)" : "");
        char line[1024];
        snprintf(line, sizeof(line), "%10.2f J = %.6f kWh%s", st->energy_j,
                 st->energy_j / J_PER_KWH, est);
        status_wrapped("energy stored", line);
        printf("  samples             %10llu  %s .. %s\n", (unsigned long long)st->samples,
               format_rfc3339(st->first_us, a, sizeof(a)),
               format_rfc3339(st->last_us, b, sizeof(b)));
        printf("  interval            %10.3f s\n", (double)st->interval_us / 1e6);
        printf("  dropped intervals   %10llu\n", (unsigned long long)st->dropped);
        double span = (double)(st->last_us - st->first_us) / 1e6;
        snprintf(line, sizeof(line),
                 "%10.0f s of %.0f s; %llu start(s) of joulesd, %llu without a clean stop",
                 (double)st->measured_us / 1e6, span, (unsigned long long)st->runs,
                 (unsigned long long)st->unclean_stops);
        status_wrapped("measured", line);
        if (st->weight[0]) {
                snprintf(line, sizeof(line), "%10s%s%s", TEXT_SAFE(st->weight),
                         st->weight_reason[0] ? "  " : "", TEXT_SAFE(st->weight_reason));
                status_wrapped("attribution weight", line);
        }
        printf("  ingest lines        %10llu accepted, %llu rejected, %llu malformed\n",
               (unsigned long long)st->ingest.accepted, (unsigned long long)st->ingest.rejected,
               (unsigned long long)st->ingest.malformed);
        /* 80 columns: RAPL's names ("package-1/uncore", "intel-rapl-mmio:0") fit; longer ones
         * are cut. DROPS: intervals dropped; EST: estimated, not measured. */
        printf("\n%-16s %-17s %-8s %4s %11s %8s %5s %3s\n", "DOMAIN", "ZONE", "SOURCE", "HOST",
               "ENERGY J", "POWER W", "DROPS", "EST");
        for (size_t i = 0; i < st->n_domains; i++) {
                const StoreDomainStatus *d = &st->domains[i];
                char name[17], zone[18], source[9];
                text_terminal(d->name, name, sizeof(name));
                text_terminal(d->zone, zone, sizeof(zone));
                text_terminal(d->source, source, sizeof(source));
                printf("%-16s %-17s %-8s %4s %11.2f %8.2f %5llu%s\n", name, zone, source,
                       d->in_host ? "yes" : "no", d->energy_j, d->power_w,
                       (unsigned long long)d->dropped, d->estimated ? " yes" : "");
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
        while ((c = args_getopt(argc, argv, "", opts)) != -1) {
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
        if (cli_no_more_args("joules status", argc, argv) < 0)
                return CLI_EXIT_USAGE;
        Store *s = cli_open_store(ctx);
        if (!s)
                return CLI_EXIT_FAILURE;
        StoreStatus st = {0};
        BandSum band = {0};
        int r = store_read_status(s, &st);
        if (r >= 0)
                r = band_read(s, INT64_MIN / 4, INT64_MAX / 4, &band);
        if (r < 0) {
                cli_store_error(ctx->db_path, store_last_error(s));
                store_status_done(&st);
                store_close(s);
                return CLI_EXIT_FAILURE;
        }
        if (json)
                status_json(&st, &band);
        else
                status_table(&st, &band);
        store_status_done(&st);
        store_close(s);
        return CLI_EXIT_OK;
}
