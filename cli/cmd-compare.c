/* joules compare: the proof-of-concept view, two services over the same range side by side with
 * the ratio of each figure. */

#include <getopt.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/events.h"
#include "cli/footprint.h"
#include "cli/json.h"
#include "common/args.h"
#include "common/carbon.h"
#include "common/text.h"
#include "common/util.h"

static void compare_usage(FILE *f)
{
        fprintf(f, "Usage: joules compare A B [--since WHEN] [--until WHEN] [--json]\n"
                   "Two services over the same range (default: the last hour) side by side:\n"
                   "energy, average watts, CPU seconds, requests, joules per request (total and\n"
                   "active), CPU seconds per request, gCO2e and gCO2e per million requests, with\n"
                   "the ratio A / B of each ('-' where either has none), and each perf event\n"
                   "counted (joulesd --events) per request. A and B are unit names;\n"
                   "\".service\" may be left out.\n\n" FOOTPRINT_OPTIONS_HELP
                   "\nWHEN is a duration before now (15m, 24h, 7d) or an ISO 8601 time.\n\n"
                   "Examples:\n"
                   "  joules compare api-go.service api-rust.service --since 10m\n"
                   "  joules compare old new --since 2026-11-01T10:00Z --until 2026-11-01T11:00Z\n"
                   "  joules compare a b --since 1h --country FR --json\n");
}

typedef struct CompareFigures {
        const char *name;
        double energy_j, active_j, avg_w, cpu_s, requests, j_per_req, active_j_per_req;
        double cpu_s_per_req, gco2e, gco2e_per_mreq;
        bool estimated;
} CompareFigures;

static void compare_figures(const FootprintRow *row, double seconds, CompareFigures *ret)
{
        const FootprintFigures *f = &row->f;
        double e = f->active_j + f->idle_j, g = f->location_g + f->embodied_g;
        *ret = (CompareFigures){
                .name = row->name,
                .energy_j = e,
                .active_j = f->active_j,
                .avg_w = seconds > 0 ? e / seconds : NAN,
                .cpu_s = f->cpu_s,
                .requests = f->has_requests ? f->requests : NAN,
                .j_per_req = footprint_per_request(e, f),
                .active_j_per_req = footprint_per_request(f->active_j, f),
                .cpu_s_per_req = footprint_per_request(f->cpu_s, f),
                .gco2e = g,
                .gco2e_per_mreq = footprint_per_request(g, f) * 1e6,
                .estimated = f->estimated,
        };
}

static double ratio(double a, double b)
{
        return isfinite(a) && isfinite(b) && b != 0 ? a / b : NAN;
}

static const struct {
        const char *label, *key;
        size_t offset;
} compare_rows[] = {
        {"energy J", "energy_j", offsetof(CompareFigures, energy_j)},
        {"active J", "active_j", offsetof(CompareFigures, active_j)},
        {"average W", "avg_w", offsetof(CompareFigures, avg_w)},
        {"CPU s", "cpu_s", offsetof(CompareFigures, cpu_s)},
        {"requests", "requests", offsetof(CompareFigures, requests)},
        {"J / request", "j_per_request", offsetof(CompareFigures, j_per_req)},
        {"active J / request", "active_j_per_request", offsetof(CompareFigures, active_j_per_req)},
        {"CPU s / request", "cpu_s_per_request", offsetof(CompareFigures, cpu_s_per_req)},
        {"gCO2e", "gco2e", offsetof(CompareFigures, gco2e)},
        {"gCO2e / M requests", "gco2e_per_million_requests",
         offsetof(CompareFigures, gco2e_per_mreq)},
};

static double field(const CompareFigures *f, size_t i)
{
        return *(const double *)((const char *)f + compare_rows[i].offset);
}

/* A unit's perf event totals in the range, and its requests for the per-request figures. */
typedef struct CompareEvents {
        StoreEventTotal *rows;
        size_t n;
        bool has_requests;
        double requests;
} CompareEvents;

static double compare_event_pr(const CompareEvents *e, const char *name)
{
        return events_per_request(events_total(e->rows, e->n, name), e->has_requests, e->requests);
}

static void compare_json_side(JsonWriter *j, const char *key, const CompareFigures *f,
                              const CompareEvents *ev)
{
        json_object_begin(j, key);
        json_string(j, "unit", f->name);
        for (size_t i = 0; i < ELEMENTSOF(compare_rows); i++)
                json_number(j, compare_rows[i].key, field(f, i));
        json_bool(j, "estimated", f->estimated);
        events_json(j, "events", ev->rows, ev->n, ev->has_requests, ev->requests);
        json_object_end(j);
}

static void fmt(char *buf, size_t size, double v)
{
        if (!isfinite(v))
                snprintf(buf, size, "-");
        else if (fabs(v) >= 1e5 && fabs(v) < 1e15)
                snprintf(buf, size, "%.0f", v);
        else if (v != 0 && (fabs(v) >= 1e15 || fabs(v) < 1e-3))
                snprintf(buf, size, "%.4e", v);
        else
                snprintf(buf, size, "%.6g", v);
}

int cmd_compare(const CliContext *ctx, int argc, char **argv)
{
        static const struct option opts[] = {
                {"since", required_argument, NULL, 's'},
                {"until", required_argument, NULL, 'u'},
                {"json", no_argument, NULL, 'j'},
                {"help", no_argument, NULL, 'h'},
                FOOTPRINT_OPTIONS,
                {0},
        };
        int64_t from = ctx->now_us - 3600 * (int64_t)USEC_PER_SEC, to = ctx->now_us;
        bool json = false;
        FootprintOverrides o = {0};
        int c;
        while ((c = args_getopt(argc, argv, "", opts)) != -1) {
                int r = footprint_window_option(ctx, "compare", c, optarg, &from, &to, &o);
                if (r < 0)
                        return CLI_EXIT_USAGE;
                if (r > 0)
                        continue;
                switch (c) {
                case 'j':
                        json = true;
                        break;
                case 'h':
                        compare_usage(stdout);
                        return CLI_EXIT_OK;
                default:
                        compare_usage(stderr);
                        return CLI_EXIT_USAGE;
                }
        }
        if (argc - optind != 2) {
                fprintf(stderr, "joules compare: give two units, A and B (see --help)\n");
                return CLI_EXIT_USAGE;
        }
        const char *ua = argv[optind], *ub = argv[optind + 1];
        if (cli_range_check("joules compare", from, to) < 0)
                return CLI_EXIT_USAGE;
        FootprintSettings fs;
        Store *s = footprint_open("compare", ctx->db_path, &o, &fs);
        if (!s)
                return CLI_EXIT_FAILURE;
        Footprint fa = {0}, fb = {0};
        CompareEvents ea = {0}, eb = {0};
        int r = footprint_read(s, &fs, from, to, STORE_BUCKET_ALL, ua, &fa);
        if (r >= 0)
                r = footprint_read(s, &fs, from, to, STORE_BUCKET_ALL, ub, &fb);
        /* the names as the footprint resolved them (".service" may have been left out) */
        if (r >= 0 && fa.n_rows > 0)
                r = store_read_unit_events(s, from, to, fa.rows[0].name, &ea.rows, &ea.n);
        if (r >= 0 && fb.n_rows > 0)
                r = store_read_unit_events(s, from, to, fb.rows[0].name, &eb.rows, &eb.n);
        if (r < 0) {
                cli_store_error(ctx->db_path, store_last_error(s));
                footprint_done(&fa);
                footprint_done(&fb);
                free(ea.rows);
                free(eb.rows);
                store_close(s);
                return CLI_EXIT_FAILURE;
        }
        store_close(s);
        int rc = CLI_EXIT_OK;
        if (fa.n_rows == 0 || fb.n_rows == 0) {
                fprintf(stderr,
                        "joules compare: no unit '%s' in that range (see joules services)\n",
                        TEXT_SAFE(fa.n_rows == 0 ? ua : ub));
                rc = CLI_EXIT_NO_DATA;
                goto out;
        }
        double seconds = fa.periods[0].seconds;
        CompareFigures a, b;
        compare_figures(&fa.rows[0], seconds, &a);
        compare_figures(&fb.rows[0], seconds, &b);
        ea.has_requests = fa.rows[0].f.has_requests;
        ea.requests = fa.rows[0].f.requests;
        eb.has_requests = fb.rows[0].f.has_requests;
        eb.requests = fb.rows[0].f.requests;
        if (json) {
                JsonWriter j;
                json_init(&j, stdout);
                json_object_begin(&j, NULL);
                json_time(&j, "from", from, true);
                json_time(&j, "to", to, true);
                json_number(&j, "seconds", seconds);
                json_number(&j, "pue", fs.pue);
                json_string(&j, "intensity_source", fa.source);
                compare_json_side(&j, "a", &a, &ea);
                compare_json_side(&j, "b", &b, &eb);
                json_object_begin(&j, "ratio"); /* a / b */
                for (size_t i = 0; i < ELEMENTSOF(compare_rows); i++)
                        json_number(&j, compare_rows[i].key, ratio(field(&a, i), field(&b, i)));
                /* per request, for the events both counted */
                json_object_begin(&j, "events_per_request");
                for (size_t e = 0; e < ea.n; e++)
                        if (isfinite(events_total(eb.rows, eb.n, ea.rows[e].event)))
                                json_number(&j, ea.rows[e].event,
                                            ratio(compare_event_pr(&ea, ea.rows[e].event),
                                                  compare_event_pr(&eb, ea.rows[e].event)));
                json_object_end(&j);
                json_object_end(&j);
                json_object_end(&j);
                json_end(&j);
                goto out;
        }
        char t1[32], t2[32];
        printf("%s .. %s, %.0f s measured%s\n", format_rfc3339(from, t1, sizeof(t1)),
               format_rfc3339(to, t2, sizeof(t2)), seconds,
               a.estimated || b.estimated ? " (estimated)" : "");
        printf("A: %s\nB: %s\n", cli_unit_label(a.name, false, (char[75]){0}, 75),
               cli_unit_label(b.name, false, (char[75]){0}, 75));
        printf("gCO2e: PUE %.3g, intensity %s, embodied TE %.6g g\n\n", fs.pue,
               TEXT_SAFE(fa.source), fs.te_g);
        printf("%-20s %18s %18s %10s\n", "", "A", "B", "A / B");
        for (size_t i = 0; i < ELEMENTSOF(compare_rows); i++) {
                char va[32], vb[32], vr[32];
                fmt(va, sizeof(va), field(&a, i));
                fmt(vb, sizeof(vb), field(&b, i));
                double q = ratio(field(&a, i), field(&b, i));
                if (isfinite(q))
                        snprintf(vr, sizeof(vr), "%.3f", q);
                else
                        snprintf(vr, sizeof(vr), "-");
                printf("%-20s %18s %18s %10s\n", compare_rows[i].label, va, vb, vr);
        }
        /* Each event either counted, per request: A's in their order, then B's own. */
        for (size_t k = 0; k < ea.n + eb.n; k++) {
                const char *name = k < ea.n ? ea.rows[k].event : eb.rows[k - ea.n].event;
                if (k >= ea.n && isfinite(events_total(ea.rows, ea.n, name)))
                        continue;
                double x = compare_event_pr(&ea, name), y = compare_event_pr(&eb, name);
                char va[32], vb[32], vr[32], label[TEXT_SAFE_MAX + 16];
                double q = ratio(x, y);
                if (isfinite(q))
                        snprintf(vr, sizeof(vr), "%.3f", q);
                else
                        snprintf(vr, sizeof(vr), "-");
                snprintf(label, sizeof(label), "%s / request", TEXT_SAFE(name));
                fmt(va, sizeof(va), x);
                fmt(vb, sizeof(vb), y);
                printf("%-20s %18s %18s %10s\n", label, va, vb, vr);
        }
out:
        footprint_done(&fa);
        footprint_done(&fb);
        free(ea.rows);
        free(eb.rows);
        return rc;
}
