/* joules sci: the Software Carbon Intensity per request, every input shown and each one
 * replaceable by a flag, so the arithmetic can be checked and "what if" asked. */

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/footprint.h"
#include "cli/json.h"
#include "common/args.h"
#include "common/carbon.h"
#include "common/text.h"
#include "common/util.h"

static void sci_usage(FILE *f)
{
        fprintf(f, "Usage: joules sci [--unit U] [--since WHEN] [--until WHEN] [--json] [INPUTS]\n"
                   "The Software Carbon Intensity (ISO/IEC 21031:2024) per request:\n"
                   "  SCI = ((E * I) + M) / R\n"
                   "E energy in kWh with PUE, I grid intensity in gCO2e/kWh (location-based),\n"
                   "M embodied emissions = TE * (TiR / EL) * (RR / ToR), R requests. Measured\n"
                   "from the history over the range (default: the last hour) for one unit, or\n"
                   "the whole host; RR/ToR is the unit's share of the host's CPU time, TiR the\n"
                   "hours measured. R = 0 or unknown: SCI is n/a (null in JSON).\n\n"
                   "Inputs that replace a measured or configured value:\n"
                   "  --energy-kwh E   IT energy (PUE is applied)   --requests R\n"
                   "  --intensity I    --pue X       --embodied-g M (replaces the formula)\n"
                   "  --te-g TE        --el-hours EL --tir-hours TiR  --rr RR  --tor ToR\n"
                   "  --country CC     built-in grid intensity (Ember 2024 yearly average)\n"
                   "With both --energy-kwh and --requests the history is not read at all.\n\n"
                   "WHEN is a duration before now (15m, 24h, 7d) or an ISO 8601 time.\n\n"
                   "Examples:\n"
                   "  joules sci --unit nginx.service --since 24h\n"
                   "  joules sci --unit api --since 7d --country FR --json\n"
                   "  joules sci --energy-kwh 0.5 --intensity 342.06 --te-g 1000000 \\\n"
                   "             --tir-hours 1 --requests 10000\n");
}

enum {
        OPT_ENERGY = 2000,
        OPT_REQUESTS,
        OPT_EMBODIED,
        OPT_TIR,
        OPT_RR,
        OPT_TOR,
};

typedef struct SciInputs {
        bool has_energy, has_requests, has_embodied, has_tir, has_rr, has_tor;
        double energy_kwh, requests, embodied_g, tir_h, rr, tor;
} SciInputs;

static void sci_print(const char *what, int64_t from, int64_t to, bool measured, bool estimated,
                      const FootprintSettings *fs, const char *isource, double it_kwh,
                      const CarbonSci *c, const char *mhow, bool json)
{
        char a[32], b[32];
        if (json) {
                JsonWriter j;
                json_init(&j, stdout);
                json_object_begin(&j, NULL);
                json_string(&j, "unit", strcmp(what, "the host") ? what : NULL);
                json_time(&j, "from", from, measured);
                json_time(&j, "to", to, measured);
                json_bool(&j, "measured", measured);
                json_bool(&j, "estimated", estimated);
                json_number(&j, "energy_kwh", c->energy_kwh);
                json_number(&j, "energy_kwh_it", it_kwh);
                json_number(&j, "pue", fs->pue);
                json_number(&j, "intensity_g_per_kwh", c->intensity);
                json_string(&j, "intensity_source", isource);
                json_number(&j, "embodied_g", c->embodied_g);
                json_string(&j, "embodied_method", mhow);
                json_number(&j, "operational_g", c->operational_g);
                json_number(&j, "total_g", c->total_g);
                if (c->has_requests || c->requests == 0)
                        json_number(&j, "requests", c->requests);
                else
                        json_null(&j, "requests");
                json_number(&j, "sci_g_per_request", c->sci_g);
                json_object_end(&j);
                json_end(&j);
                return;
        }
        if (measured)
                printf("SCI of %s\n%s .. %s, %s\n", TEXT_SAFE(what),
                       format_rfc3339(from, a, sizeof(a)), format_rfc3339(to, b, sizeof(b)),
                       estimated ? "estimated" : "measured");
        else
                printf("SCI of the inputs given\n");
        printf("  E  energy              %.6g kWh  (%.6g kWh x PUE %.3g)\n", c->energy_kwh, it_kwh,
               fs->pue);
        printf("  I  grid intensity      %.6g gCO2e/kWh  (%s)\n", c->intensity, TEXT_SAFE(isource));
        printf("     operational E * I   %.6g gCO2e\n", c->operational_g);
        printf("  M  embodied            %.6g gCO2e\n", c->embodied_g);
        printf("     %s\n", TEXT_SAFE(mhow));
        if (c->has_requests || c->requests == 0)
                printf("  R  requests            %.15g\n", c->requests);
        else
                printf("  R  requests            unknown (none counted)\n");
        if (c->has_requests)
                printf("  SCI = (E * I + M) / R  %.6g gCO2e per request (%.6g per million)\n",
                       c->sci_g, c->sci_g * 1e6);
        else
                printf("  SCI = (E * I + M) / R  n/a (no requests)\n");
}

int cmd_sci(const CliContext *ctx, int argc, char **argv)
{
        static const struct option opts[] = {
                {"unit", required_argument, NULL, 'U'},
                {"since", required_argument, NULL, 's'},
                {"until", required_argument, NULL, 'u'},
                {"json", no_argument, NULL, 'j'},
                {"help", no_argument, NULL, 'h'},
                {"energy-kwh", required_argument, NULL, OPT_ENERGY},
                {"requests", required_argument, NULL, OPT_REQUESTS},
                {"embodied-g", required_argument, NULL, OPT_EMBODIED},
                {"tir-hours", required_argument, NULL, OPT_TIR},
                {"rr", required_argument, NULL, OPT_RR},
                {"tor", required_argument, NULL, OPT_TOR},
                FOOTPRINT_OPTIONS,
                {0},
        };
        int64_t from = ctx->now_us - 3600 * (int64_t)USEC_PER_SEC, to = ctx->now_us;
        const char *unit = NULL;
        bool json = false;
        SciInputs in = {0};
        FootprintOverrides o = {0};
        int c;
        while ((c = args_getopt(argc, argv, "", opts)) != -1) {
                int r = footprint_window_option(ctx, "sci", c, optarg, &from, &to, &o);
                if (r < 0)
                        return CLI_EXIT_USAGE;
                if (r > 0)
                        continue;
                switch (c) {
                case 'U':
                        unit = optarg;
                        break;
                case 'j':
                        json = true;
                        break;
                case 'h':
                        sci_usage(stdout);
                        return CLI_EXIT_OK;
#define NUM(opt, flag, min, max, field, has)                                                       \
        case opt:                                                                                  \
                if (footprint_parse_flag("sci", flag, optarg, min, max, &in.field) < 0)            \
                        return CLI_EXIT_USAGE;                                                     \
                in.has = true;                                                                     \
                break;
                        NUM(OPT_ENERGY, "--energy-kwh", 0, 1e12, energy_kwh, has_energy)
                        NUM(OPT_REQUESTS, "--requests", 0, 1e18, requests, has_requests)
                        NUM(OPT_EMBODIED, "--embodied-g", 0, 1e15, embodied_g, has_embodied)
                        NUM(OPT_TIR, "--tir-hours", 0, 1e7, tir_h, has_tir)
                        NUM(OPT_RR, "--rr", 0, 1e18, rr, has_rr)
                        NUM(OPT_TOR, "--tor", 1e-18, 1e18, tor, has_tor)
#undef NUM
                default:
                        sci_usage(stderr);
                        return CLI_EXIT_USAGE;
                }
        }
        if (cli_no_more_args("joules sci", argc, argv) < 0)
                return CLI_EXIT_USAGE;
        if (cli_range_check("joules sci", from, to) < 0)
                return CLI_EXIT_USAGE;
        if (in.has_rr && in.has_tor && in.rr > in.tor) {
                fprintf(stderr, "joules sci: --rr cannot exceed --tor (a share above 1)\n");
                return CLI_EXIT_USAGE;
        }

        FootprintSettings fs;
        bool measured = !(in.has_energy && in.has_requests);
        Store *s = NULL;
        Footprint fp = {0};
        FootprintFigures f = {0}; /* measured: the unit's or the host's */
        double seconds = 0, host_cpu_s = 0;
        bool estimated = false;
        if (measured) {
                s = footprint_open("sci", ctx->db_path, &o, &fs);
                if (!s)
                        return CLI_EXIT_FAILURE;
                int r = footprint_read(s, &fs, from, to, STORE_BUCKET_ALL, unit, &fp);
                if (r < 0)
                        cli_store_error(ctx->db_path, store_last_error(s));
                store_close(s);
                if (r < 0)
                        return CLI_EXIT_FAILURE;
                if (fp.n_periods == 0) {
                        fprintf(stderr, "joules sci: no samples in that range\n");
                        footprint_done(&fp);
                        return CLI_EXIT_NO_DATA;
                }
                seconds = fp.periods[0].seconds;
                host_cpu_s = fp.periods[0].host.cpu_s;
                if (unit) {
                        if (fp.n_rows == 0) {
                                fprintf(stderr,
                                        "joules sci: no unit '%s' in that range (see joules "
                                        "services)\n",
                                        TEXT_SAFE(unit));
                                footprint_done(&fp);
                                return CLI_EXIT_NO_DATA;
                        }
                        f = fp.rows[0].f;
                } else {
                        f = fp.periods[0].host;
                }
                estimated = f.estimated;
        } else {
                fs = (FootprintSettings){.intensity = NAN,
                                         .pue = CARBON_DEFAULT_PUE,
                                         .el_hours = CARBON_DEFAULT_EL_HOURS,
                                         .market_g_per_kwh = NAN};
                footprint_apply(&fs, &o);
        }

        /* E */
        double it_kwh = in.has_energy ? in.energy_kwh : carbon_j_to_kwh(f.active_j + f.idle_j);
        double e_kwh = carbon_facility_kwh(it_kwh, fs.pue);
        /* I */
        char isource[160];
        double intensity;
        if (o.intensity || !measured || in.has_energy) {
                intensity = footprint_fallback_intensity(&fs, isource, sizeof(isource));
        } else {
                intensity = isfinite(f.intensity)
                                    ? f.intensity
                                    : footprint_fallback_intensity(&fs, isource, sizeof(isource));
                snprintf(isource, sizeof(isource), "%s%s", fp.source,
                         fp.source[0] == 's' ? ", energy-weighted by hour" : "");
        }
        /* M */
        char mhow[160];
        double m;
        if (in.has_embodied) {
                m = in.embodied_g;
                snprintf(mhow, sizeof(mhow), "given");
        } else if (measured && !in.has_tir && !in.has_rr && !in.has_tor) {
                /* TE and EL (settings or flags) are in the footprint already: hour by hour */
                m = f.embodied_g;
                snprintf(mhow, sizeof(mhow),
                         "TE %.10g g x TiR %.4g h / EL %.6g h x RR/ToR %.4g, summed by hour",
                         fs.te_g, seconds / 3600, fs.el_hours,
                         unit ? (host_cpu_s > 0 ? f.cpu_s / host_cpu_s : 0) : 1.0);
        } else {
                double tir = in.has_tir ? in.tir_h : seconds / 3600;
                double rr = in.has_rr ? in.rr : unit && measured ? f.cpu_s : 1;
                double tor = in.has_tor ? in.tor : unit && measured ? host_cpu_s : 1;
                m = tor > 0 ? carbon_embodied_g(fs.te_g, tir, fs.el_hours, rr, tor) : 0;
                snprintf(mhow, sizeof(mhow),
                         "TE %.10g g x (TiR %.4g h / EL %.6g h) x (RR %.4g / "
                         "ToR %.4g)",
                         fs.te_g, tir, fs.el_hours, rr, tor);
        }
        /* R */
        double requests = in.has_requests ? in.requests : f.has_requests ? f.requests : NAN;

        CarbonSci sci;
        carbon_sci(e_kwh, intensity, m, requests, &sci);
        sci_print(unit ? (fp.n_rows ? fp.rows[0].name : unit) : "the host", from, to, measured,
                  estimated, &fs, isource, it_kwh, &sci, mhow, json);
        footprint_done(&fp);
        return CLI_EXIT_OK;
}
