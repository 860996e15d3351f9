/* joules ab: an A/B energy experiment between two services under the same load.
 *
 * Each variant's load command (through /bin/sh -c) runs --repeat times, in a balanced order
 * (A B B A A B B A ...: a drift of the machine's state over the experiment, warming up or a
 * neighbour's load growing, falls on both equally), each run measured exactly as
 * `joules run --unit` does (cli/measure.c: whole ticks of the running daemon's history). Before
 * the first run each load command runs once unmeasured for --warmup (caches, JIT, connection
 * pools, CPU frequency); between runs a --cooldown pause lets the previous run's tail (sockets in
 * TIME_WAIT, a garbage collection) settle outside the next window.
 *
 * The statistics are cli/abstats.c's: per variant the median J/request and a 95% interval of its
 * geometric mean, for the pair the ratio B/A with Welch's t interval on the logarithms; the
 * verdict says "no significant difference" whenever that interval holds 1. gCO2e per million
 * requests comes from the footprint of each run's window (cli/footprint.c, the carbon settings in
 * force: the history's [carbon] section and the flags), over the requests the load tool counted.
 *
 * Exit codes: 0 whatever the verdict; 1 no daemon, or a run could not be measured; 2 usage;
 * 3 a unit drew no energy in a run (is the name right?); the load command's own code when it
 * failed; 128 + the signal when interrupted (Ctrl-C ends the run under way, then stops). */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli/abstats.h"
#include "cli/chart.h"
#include "cli/cli.h"
#include "cli/events.h"
#include "cli/footprint.h"
#include "cli/json.h"
#include "cli/measure.h"
#include "common/args.h"
#include "common/text.h"
#include "common/util.h"

#define AB_LEVEL      0.95
#define AB_MAX_REPEAT 1000

static void ab_usage(FILE *f)
{
        fprintf(f,
                "Usage: joules ab --a UNIT --a-load CMD --b UNIT --b-load CMD [--repeat N]\n"
                "                 [--requests-from wrk|ab|hey|httperf|ingest] [--warmup D]\n"
                "                 [--cooldown D] [--json] [--svg FILE] [carbon settings]\n"
                "An A/B energy experiment: the load commands (each through /bin/sh -c) run N\n"
                "times per variant in a balanced order (A B B A A B ...), each run measured as\n"
                "`joules run --unit` does from joulesd's history. Prints every run, the median\n"
                "J/request of each variant with a 95%% interval, the ratio B/A with its 95%%\n"
                "interval and the verdict: B uses less or more energy per request, or no\n"
                "significant difference (the interval holds 1).\n\n"
                "  --a UNIT, --b UNIT   the two services (systemd units, as joules services names\n"
                "                       them)\n"
                "  --a-load CMD         the load generator aimed at A (the same load for both;\n"
                "  --b-load CMD         only the address should differ)\n"
                "  --repeat N           runs per variant (default 5; at least 2 for intervals)\n"
                "  --requests-from SRC  wrk, ab, hey or httperf: parsed from the load command's\n"
                "                       output; ingest: the units' own counts; default: by the\n"
                "                       command's first word\n"
                "  --warmup D           first each load command once, unmeasured, stopped after\n"
                "                       D (default 5s; 0: none)\n"
                "  --cooldown D         pause between runs (default 2s)\n"
                "  --json               one JSON object on stdout\n"
                "  --svg FILE           both variants' runs and intervals as an SVG "
                "chart\n\n" FOOTPRINT_OPTIONS_HELP
                "\nStatistics: on log(J/request); per variant the interval is that of the\n"
                "geometric mean (t with n-1 df), the ratio is that of the geometric means with\n"
                "Welch's t interval. The loads' output is kept for parsing, not shown.\n"
                "Exit codes: 0 (whatever the verdict); 1 no daemon or a run not measured;\n"
                "2 usage; 3 a unit drew no energy in a run; a failed load command's own code.\n\n"
                "Example:\n"
                "  joules ab --a go.service --a-load 'wrk -c32 -d20s http://127.0.0.1:8081/' \\\n"
                "            --b rust.service --b-load 'wrk -c32 -d20s http://127.0.0.1:8082/'\n");
}

typedef struct AbRun {
        char variant; /* 'A' or 'B' */
        int64_t from_us, to_us;
        double duration_s, window_s;
        double energy_j, active_j, cpu_s, requests, latency_ms;
        double instructions, cycles; /* NAN: no hardware counters */
        /* every perf event counted for the unit in the run's window */
        char event_names[MEASURE_EVENTS_MAX][128];
        double event_totals[MEASURE_EVENTS_MAX];
        size_t n_events;
        double gco2e;
        bool estimated;
} AbRun;

typedef struct AbVariant {
        const char *unit, *load;
        MeasureRequests from;
        AbRun *runs[AB_MAX_REPEAT];
        size_t n;
        AbInterval jpr; /* J/request: median, geometric-mean interval */
        /* medians over the runs */
        double active_jpr, cpu_s_pr, watts, rps, latency_ms, instr_pr, cycles_pr;
        const char *event;     /* the first perf event its first run counted; NULL: none */
        double gco2e_per_mreq; /* all runs' gCO2e over all their requests */
        double requests, energy_j;
} AbVariant;

static double ab_jpr(const AbRun *r)
{
        return r->energy_j / r->requests;
}

/* The median of f over a variant's runs, NAN when any run lacks it. */
static double ab_median_of(const AbVariant *v, double (*f)(const AbRun *r))
{
        double x[AB_MAX_REPEAT];
        for (size_t i = 0; i < v->n; i++) {
                x[i] = f(v->runs[i]);
                if (!isfinite(x[i]))
                        return NAN;
        }
        return v->n ? abstats_median(x, v->n) : NAN;
}

static double ab_active_jpr(const AbRun *r)
{
        return r->active_j / r->requests;
}
static double ab_cpu_pr(const AbRun *r)
{
        return r->cpu_s / r->requests;
}
static double ab_watts(const AbRun *r)
{
        return r->window_s > 0 ? r->energy_j / r->window_s : NAN;
}
static double ab_rps(const AbRun *r)
{
        return r->duration_s > 0 ? r->requests / r->duration_s : NAN;
}
static double ab_latency(const AbRun *r)
{
        return r->latency_ms;
}
static double ab_instr_pr(const AbRun *r)
{
        return r->instructions / r->requests;
}
static double ab_cycles_pr(const AbRun *r)
{
        return r->cycles / r->requests;
}

static double ab_event_total(const AbRun *r, const char *name)
{
        for (size_t e = 0; name && e < r->n_events; e++)
                if (strcmp(r->event_names[e], name) == 0)
                        return r->event_totals[e];
        return NAN;
}

/* The median over a variant's runs of event `name` per request; NAN when a run lacks it. */
static double ab_event_median(const AbVariant *v, const char *name)
{
        double x[AB_MAX_REPEAT];
        for (size_t i = 0; i < v->n; i++) {
                x[i] = events_per_request(ab_event_total(v->runs[i], name), true,
                                          v->runs[i]->requests);
                if (!isfinite(x[i]))
                        return NAN;
        }
        return v->n ? abstats_median(x, v->n) : NAN;
}

static int ab_summarise(AbVariant *v)
{
        double x[AB_MAX_REPEAT];
        double g = 0;
        v->requests = v->energy_j = 0;
        for (size_t i = 0; i < v->n; i++) {
                x[i] = ab_jpr(v->runs[i]);
                g += v->runs[i]->gco2e;
                v->requests += v->runs[i]->requests;
                v->energy_j += v->runs[i]->energy_j;
        }
        int r = abstats_variant(x, v->n, AB_LEVEL, &v->jpr);
        if (r < 0)
                return r;
        v->active_jpr = ab_median_of(v, ab_active_jpr);
        v->cpu_s_pr = ab_median_of(v, ab_cpu_pr);
        v->watts = ab_median_of(v, ab_watts);
        v->rps = ab_median_of(v, ab_rps);
        v->latency_ms = ab_median_of(v, ab_latency);
        v->instr_pr = ab_median_of(v, ab_instr_pr);
        v->cycles_pr = ab_median_of(v, ab_cycles_pr);
        v->event = v->n > 0 && v->runs[0]->n_events > 0 ? v->runs[0]->event_names[0] : NULL;
        v->gco2e_per_mreq = v->requests > 0 && isfinite(g) ? g / v->requests * 1e6 : NAN;
        return 0;
}

/* Runs CMD through /bin/sh -c for at most us, output discarded: the warm-up. SIGTERM at the
 * end, then SIGKILL a second later (wrk and httperf stop cleanly on SIGTERM). */
static int ab_warmup(const char *cmd, uint64_t us)
{
        fflush(NULL);
        pid_t pid = fork();
        if (pid < 0)
                return -errno;
        if (pid == 0) {
                signal(SIGINT, SIG_DFL);
                signal(SIGTERM, SIG_DFL);
                (void)setpgid(0, 0); /* its own group: the stop reaches what the shell started */
                if (!freopen("/dev/null", "w", stdout))
                        _exit(127);
                execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
                _exit(127);
        }
        (void)setpgid(pid, pid);
        uint64_t deadline = now_monotonic_ns() + us * NSEC_PER_USEC, kill_at = 0;
        for (;;) {
                int status;
                pid_t w = waitpid(pid, &status, WNOHANG);
                if (w == pid || (w < 0 && errno != EINTR))
                        break;
                uint64_t now = now_monotonic_ns();
                if (!kill_at && now >= deadline) {
                        (void)kill(-pid, SIGTERM);
                        kill_at = now + NSEC_PER_SEC;
                } else if (kill_at && now >= kill_at) {
                        (void)kill(-pid, SIGKILL);
                        kill_at = UINT64_MAX;
                }
                sleep_us(20000);
        }
        return 0;
}

static double ab_get_gco2e(Store *s, const FootprintSettings *fs, const char *unit, int64_t from,
                           int64_t to)
{
        Footprint fp = {0};
        if (footprint_read(s, fs, from, to, STORE_BUCKET_ALL, unit, &fp) < 0)
                return NAN;
        double g = fp.n_rows ? fp.rows[0].f.location_g + fp.rows[0].f.embodied_g : NAN;
        footprint_done(&fp);
        return g;
}

static const char *ab_verdict(const AbInterval *ratio)
{
        if (!isfinite(ratio->low))
                return "no interval (fewer than 2 runs of a variant)";
        if (ratio->high < 1)
                return "B uses less energy per request than A";
        if (ratio->low > 1)
                return "B uses more energy per request than A";
        return "no significant difference (the interval holds 1)";
}

static void ab_json_variant(JsonWriter *j, const char *key, const AbVariant *v)
{
        json_object_begin(j, key);
        json_string(j, "unit", v->unit);
        json_string(j, "load", v->load);
        json_array_begin(j, "runs");
        for (size_t i = 0; i < v->n; i++) {
                const AbRun *r = v->runs[i];
                json_object_begin(j, NULL);
                json_number(j, "energy_j", r->energy_j);
                json_number(j, "requests", r->requests);
                json_number(j, "duration_s", r->duration_s);
                json_number(j, "j_per_request", ab_jpr(r));
                json_number(j, "active_j_per_request", ab_active_jpr(r));
                json_number(j, "cpu_s_per_request", ab_cpu_pr(r));
                json_number(j, "avg_w", ab_watts(r));
                json_number(j, "requests_per_s", ab_rps(r));
                json_number(j, "latency_ms", r->latency_ms);
                json_number(j, "instructions_per_request", ab_instr_pr(r));
                json_number(j, "cycles_per_request", ab_cycles_pr(r));
                json_object_begin(j, "events");
                for (size_t e = 0; e < r->n_events; e++) {
                        json_object_begin(j, r->event_names[e]);
                        json_number(j, "total", r->event_totals[e]);
                        json_number(j, "per_request",
                                    events_per_request(r->event_totals[e], true, r->requests));
                        json_object_end(j);
                }
                json_object_end(j);
                json_number(j, "window_s", r->window_s);
                json_time(j, "window_from", r->from_us, true);
                json_time(j, "window_to", r->to_us, true);
                json_object_end(j);
        }
        json_array_end(j);
        json_object_begin(j, "j_per_request");
        json_number(j, "median", v->jpr.estimate);
        json_number(j, "ci_low", v->jpr.low);
        json_number(j, "ci_high", v->jpr.high);
        json_number(j, "geomean", v->jpr.geomean);
        json_object_end(j);
        json_number(j, "active_j_per_request", v->active_jpr);
        json_number(j, "cpu_s_per_request", v->cpu_s_pr);
        json_number(j, "avg_w", v->watts);
        json_number(j, "requests_per_s", v->rps);
        json_number(j, "latency_ms", v->latency_ms);
        json_number(j, "instructions_per_request", v->instr_pr);
        json_number(j, "cycles_per_request", v->cycles_pr);
        /* medians of each event per request over the runs, for the events every run counted */
        json_object_begin(j, "events_per_request");
        for (size_t e = 0; v->n > 0 && e < v->runs[0]->n_events; e++) {
                double m = ab_event_median(v, v->runs[0]->event_names[e]);
                if (isfinite(m))
                        json_number(j, v->runs[0]->event_names[e], m);
        }
        json_object_end(j);
        json_number(j, "gco2e_per_million_requests", v->gco2e_per_mreq);
        json_object_end(j);
}

/* A value with 4 significant digits in at most 10 columns, "-" when absent. */
static const char *ab_fmt(double v, double scale, char *buf, size_t size)
{
        if (!isfinite(v))
                snprintf(buf, size, "-");
        else
                snprintf(buf, size, "%.4g", v * scale);
        return buf;
}

static void ab_text(const AbVariant *a, const AbVariant *b, const char *order, const AbRun *runs,
                    size_t n_runs, const AbInterval *ratio, bool estimated, const char *intensity,
                    const FootprintSettings *fs, uint64_t warmup_us, uint64_t cooldown_us)
{
        char na[80], nb[80];
        printf("joules ab: A %s\n", text_abbrev(TEXT_SAFE(a->unit), 60, "...", na, sizeof(na)));
        printf("           B %s\n", text_abbrev(TEXT_SAFE(b->unit), 60, "...", nb, sizeof(nb)));
        printf("%zu runs each, order %.40s%s, warm-up %.3g s, cool-down %.3g s\n", a->n, order,
               strlen(order) > 40 ? "..." : "", (double)warmup_us / 1e6, (double)cooldown_us / 1e6);
        printf("energy %s; requests from %s/%s\n\n",
               estimated ? "ESTIMATED (no RAPL: the CPU model)" : "measured",
               measure_requests_name(a->from), measure_requests_name(b->from));
        /* 75 columns */
        printf("%3s %1s %9s %6s %8s %9s %9s %6s %8s %7s\n", "run", "", "requests", "time s",
               "energy J", "mJ/req", "CPU us/rq", "W", "req/s", "lat ms");
        for (size_t i = 0; i < n_runs; i++) {
                const AbRun *r = &runs[i];
                char lat[16];
                printf("%3zu %c %9.0f %6.2f %8.3f %9.4f %9.1f %6.2f %8.0f %7s\n", i + 1, r->variant,
                       r->requests, r->duration_s, r->energy_j, ab_jpr(r) * 1e3, ab_cpu_pr(r) * 1e6,
                       ab_watts(r), ab_rps(r), ab_fmt(r->latency_ms, 1, lat, sizeof(lat)));
        }
        printf("\n%-31s %22s %22s\n", "medians", "A", "B");
        static const struct {
                const char *label;
                size_t offset;
                double scale;
        } rows[] = {
                {"mJ/request", offsetof(AbVariant, jpr.estimate), 1e3},
                {"  95% interval (geo. mean) low", offsetof(AbVariant, jpr.low), 1e3},
                {"                           high", offsetof(AbVariant, jpr.high), 1e3},
                {"active mJ/request", offsetof(AbVariant, active_jpr), 1e3},
                {"CPU us/request", offsetof(AbVariant, cpu_s_pr), 1e6},
                {"average W", offsetof(AbVariant, watts), 1},
                {"requests/s", offsetof(AbVariant, rps), 1},
                {"latency ms (load tool's mean)", offsetof(AbVariant, latency_ms), 1},
                {"instructions/request", offsetof(AbVariant, instr_pr), 1},
                {"cycles/request", offsetof(AbVariant, cycles_pr), 1},
                {"gCO2e per million requests", offsetof(AbVariant, gco2e_per_mreq), 1},
        };
        for (size_t i = 0; i < ELEMENTSOF(rows); i++) {
                char va[24], vb[24];
                double x = *(const double *)((const char *)a + rows[i].offset);
                double y = *(const double *)((const char *)b + rows[i].offset);
                printf("%-31s %22s %22s\n", rows[i].label, ab_fmt(x, rows[i].scale, va, 24),
                       ab_fmt(y, rows[i].scale, vb, 24));
        }
        /* the first perf event per request beside J/request, where the runs counted one (the
         * software ones on a VM: instructions and cycles need a hardware PMU) */
        const char *ev = a->event ? a->event : b->event;
        if (ev && strcmp(ev, "instructions") != 0 && strcmp(ev, "cycles") != 0) {
                char va[24], vb[24], label[40];
                snprintf(label, sizeof(label), "%s/request", TEXT_SAFE_CUT(ev, 22));
                printf("%-31s %22s %22s\n", label, ab_fmt(ab_event_median(a, ev), 1, va, 24),
                       ab_fmt(ab_event_median(b, ev), 1, vb, 24));
        }
        char cs[80];
        printf("gCO2e: PUE %.3g, intensity %s\n\n", fs->pue,
               text_abbrev(TEXT_SAFE(intensity), 50, "...", cs, sizeof(cs)));
        if (isfinite(ratio->low))
                printf("ratio B/A of J/request  %.3f  (95%% interval %.3f .. %.3f)\n",
                       ratio->estimate, ratio->low, ratio->high);
        else
                printf("ratio B/A of J/request  %.3f  (no interval)\n", ratio->estimate);
        printf("  geometric means; Welch's t on log(J/request), %.1f df\n", ratio->df);
        printf("verdict: %s%s\n", ab_verdict(ratio), estimated ? " (estimated energy)" : "");
}

/* Both variants' runs (dots, in run order) and their intervals (the geometric mean and its 95%
 * interval as a bar with whiskers, the median as a tick), J/request on a y axis from 0. */
static void ab_svg(FILE *f, const AbVariant *v[2], const AbInterval *ratio, bool estimated)
{
        const double W = 960, H = 540, left = 90, right = 40, top = 100, bottom = 70;
        const double pw = W - left - right, ph = H - top - bottom;
        static const char *const colours[2] = {"#0072B2", "#E69F00"};
        double max = 0;
        for (int k = 0; k < 2; k++) {
                for (size_t i = 0; i < v[k]->n; i++)
                        if (ab_jpr(v[k]->runs[i]) > max)
                                max = ab_jpr(v[k]->runs[i]);
                if (isfinite(v[k]->jpr.high) && v[k]->jpr.high > max)
                        max = v[k]->jpr.high;
        }
        max *= 1e3; /* mJ */
        double step = chart_nice_step(max, 5), ymax = step * ceil(max / step);
        if (!(ymax > 0))
                ymax = 1;
        char title[160], sub[200];
        snprintf(title, sizeof(title), "Energy per request, B / A = %.3f", ratio->estimate);
        if (isfinite(ratio->low))
                snprintf(sub, sizeof(sub), "95%% interval %.3f .. %.3f: %s%s", ratio->low,
                         ratio->high, ab_verdict(ratio), estimated ? " (estimated)" : "");
        else
                snprintf(sub, sizeof(sub), "%s", ab_verdict(ratio));
        chart_svg_begin(f, W, H, left, title, sub);
        for (double y = 0; y <= ymax + step / 2; y += step) {
                double py = top + ph - y / ymax * ph;
                fprintf(f,
                        "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\"/>\n"
                        "<text x=\"%.1f\" y=\"%.1f\" font-size=\"13\" fill=\"#444\" "
                        "text-anchor=\"end\">%g</text>\n",
                        left, py, left + pw, py, y == 0 ? "#444" : "#e3e3e3", left - 8, py + 4, y);
        }
        fprintf(f,
                "<text x=\"24\" y=\"%.1f\" font-size=\"13\" fill=\"#666\" text-anchor=\"middle\" "
                "transform=\"rotate(-90 24 %.1f)\">mJ per request%s</text>\n",
                top + ph / 2, top + ph / 2, estimated ? " (estimated)" : "");
        double cw = pw / 2;
        for (int k = 0; k < 2; k++) {
                const AbVariant *x = v[k];
                double cx = left + cw * k + cw / 2;
#define PY(val) (top + ph - (val)*1e3 / ymax * ph)
                if (isfinite(x->jpr.low)) {
                        fprintf(f,
                                "<rect x=\"%.1f\" y=\"%.1f\" width=\"60\" height=\"%.1f\" "
                                "fill=\"%s\" fill-opacity=\"0.18\" stroke=\"%s\"/>\n",
                                cx - 30, PY(x->jpr.high), PY(x->jpr.low) - PY(x->jpr.high),
                                colours[k], colours[k]);
                        fprintf(f,
                                "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" "
                                "stroke=\"%s\" stroke-width=\"3\"/>\n",
                                cx - 30, PY(x->jpr.geomean), cx + 30, PY(x->jpr.geomean),
                                colours[k]);
                }
                fprintf(f,
                        "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#222\" "
                        "stroke-width=\"2\" stroke-dasharray=\"4,2\"/>\n",
                        cx - 40, PY(x->jpr.estimate), cx + 40, PY(x->jpr.estimate));
                for (size_t i = 0; i < x->n; i++) {
                        double px = cx + 60 + 16 * (double)i;
                        fprintf(f,
                                "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"5\" fill=\"%s\" "
                                "stroke=\"#222\" stroke-width=\"0.5\"/>\n",
                                px, PY(ab_jpr(x->runs[i])), colours[k]);
                }
#undef PY
                fprintf(f,
                        "<text x=\"%.1f\" y=\"%.1f\" font-size=\"15\" fill=\"#222\" "
                        "text-anchor=\"middle\">%c: ",
                        cx, top + ph + 26, k ? 'B' : 'A');
                char name[64];
                text_xml_fputs(f, text_abbrev(x->unit, 40, "...", name, sizeof(name)));
                fprintf(f,
                        "</text>\n<text x=\"%.1f\" y=\"%.1f\" font-size=\"13\" fill=\"#666\" "
                        "text-anchor=\"middle\">median %.4g mJ, %zu runs</text>\n",
                        cx, top + ph + 46, x->jpr.estimate * 1e3, x->n);
        }
        fprintf(f,
                "<text x=\"%.1f\" y=\"%.1f\" font-size=\"12\" fill=\"#666\" text-anchor=\"end\">"
                "box: 95%% interval of the geometric mean (line); dashed: median; dots: "
                "runs in order</text>\n",
                left + pw, top - 8);
        fprintf(f, "</svg>\n");
}

/* Ctrl-C: the load command running gets it too (same process group) and ends its run early;
 * the experiment then stops instead of going on with the next run. */
static volatile sig_atomic_t ab_interrupted;

static void ab_on_signal(int sig)
{
        ab_interrupted = sig;
}

static int ab_parse_duration(const char *flag, const char *arg, uint64_t *ret)
{
        if (parse_duration_us(arg, ret) < 0 && strcmp(arg, "0") != 0) {
                fprintf(stderr, "joules ab: %s: '%s' is not a duration (5s, 500ms)\n", flag,
                        TEXT_SAFE(arg));
                return -EINVAL;
        }
        if (strcmp(arg, "0") == 0)
                *ret = 0;
        return 0;
}

int cmd_ab(const CliContext *ctx, int argc, char **argv)
{
        enum { OPT_A = 1, OPT_AL, OPT_B, OPT_BL, OPT_REPEAT, OPT_FROM, OPT_WARM, OPT_COOL };
        static const struct option opts[] = {
                {"a", required_argument, NULL, OPT_A},
                {"a-load", required_argument, NULL, OPT_AL},
                {"b", required_argument, NULL, OPT_B},
                {"b-load", required_argument, NULL, OPT_BL},
                {"repeat", required_argument, NULL, OPT_REPEAT},
                {"requests-from", required_argument, NULL, OPT_FROM},
                {"warmup", required_argument, NULL, OPT_WARM},
                {"cooldown", required_argument, NULL, OPT_COOL},
                {"json", no_argument, NULL, 'j'},
                {"svg", required_argument, NULL, 's'},
                {"help", no_argument, NULL, 'h'},
                FOOTPRINT_OPTIONS,
                {0},
        };
        AbVariant va = {0}, vb = {0};
        const char *from_arg = NULL, *svg_path = NULL;
        uint64_t repeat = 5, warmup_us = 5 * USEC_PER_SEC, cooldown_us = 2 * USEC_PER_SEC;
        bool json = false;
        FootprintOverrides o = {0};
        int c;
        while ((c = args_getopt(argc, argv, "", opts)) != -1) {
                int r = footprint_option("ab", c, optarg, &o);
                if (r < 0)
                        return CLI_EXIT_USAGE;
                if (r > 0)
                        continue;
                switch (c) {
                case OPT_A:
                        va.unit = optarg;
                        break;
                case OPT_AL:
                        va.load = optarg;
                        break;
                case OPT_B:
                        vb.unit = optarg;
                        break;
                case OPT_BL:
                        vb.load = optarg;
                        break;
                case OPT_REPEAT:
                        if (parse_u64(optarg, &repeat) < 0 || repeat < 1 ||
                            repeat > AB_MAX_REPEAT) {
                                fprintf(stderr, "joules ab: --repeat: 1 to %d runs\n",
                                        AB_MAX_REPEAT);
                                return CLI_EXIT_USAGE;
                        }
                        break;
                case OPT_FROM:
                        from_arg = optarg;
                        break;
                case OPT_WARM:
                        if (ab_parse_duration("--warmup", optarg, &warmup_us) < 0)
                                return CLI_EXIT_USAGE;
                        break;
                case OPT_COOL:
                        if (ab_parse_duration("--cooldown", optarg, &cooldown_us) < 0)
                                return CLI_EXIT_USAGE;
                        break;
                case 'j':
                        json = true;
                        break;
                case 's':
                        svg_path = optarg;
                        break;
                case 'h':
                        ab_usage(stdout);
                        return CLI_EXIT_OK;
                default:
                        ab_usage(stderr);
                        return CLI_EXIT_USAGE;
                }
        }
        if (optind < argc || !va.unit || !va.load || !vb.unit || !vb.load) {
                fprintf(stderr, "joules ab: give --a UNIT --a-load CMD --b UNIT --b-load CMD "
                                "(see --help)\n");
                return CLI_EXIT_USAGE;
        }
        AbVariant *vs[2] = {&va, &vb};
        for (int k = 0; k < 2; k++) {
                MeasureRequests from;
                if (from_arg) {
                        if (measure_requests_parse(from_arg, &from) < 0 ||
                            from == MEASURE_REQ_NONE) {
                                fprintf(stderr,
                                        "joules ab: --requests-from: '%s' is not wrk, ab, hey, "
                                        "httperf or ingest\n",
                                        TEXT_SAFE(from_arg));
                                return CLI_EXIT_USAGE;
                        }
                } else {
                        /* the load command's first word */
                        char word[256];
                        const char *p = vs[k]->load + strspn(vs[k]->load, " \t");
                        snprintf(word, sizeof(word), "%.*s", (int)strcspn(p, " \t"), p);
                        from = measure_requests_guess(word);
                        if (from == MEASURE_REQ_NONE) {
                                fprintf(stderr,
                                        "joules ab: which tool counts %c's requests? give "
                                        "--requests-from (wrk, ab, hey, httperf, ingest)\n",
                                        k ? 'B' : 'A');
                                return CLI_EXIT_USAGE;
                        }
                }
                vs[k]->from = from;
        }

        FootprintSettings fs;
        Store *s = footprint_open("ab", ctx->db_path, &o, &fs);
        if (!s)
                return CLI_EXIT_FAILURE;
        int rc = CLI_EXIT_FAILURE;
        size_t n_runs = 2 * (size_t)repeat;
        AbRun *runs = calloc(n_runs, sizeof(*runs));
        char *order = malloc(n_runs + 1);
        FILE *svg = NULL;
        if (!runs || !order) {
                fprintf(stderr, "joules ab: out of memory\n");
                goto out;
        }
        abstats_order((size_t)repeat, order);
        uint64_t interval_us;
        if (measure_check_daemon(s, "joules ab", ctx->db_path, &interval_us) < 0)
                goto out;
        if (svg_path) { /* before the experiment, not after minutes of it */
                svg = fopen(svg_path, "we");
                if (!svg) {
                        fprintf(stderr, "joules ab: %s: %s\n", TEXT_SAFE(svg_path),
                                strerror(errno));
                        goto out;
                }
        }
        struct sigaction sa = {.sa_handler = ab_on_signal};
        sigemptyset(&sa.sa_mask);
        (void)sigaction(SIGINT, &sa, NULL);
        (void)sigaction(SIGTERM, &sa, NULL);
        if (warmup_us > 0)
                for (int k = 0; k < 2; k++) {
                        fprintf(stderr, "joules ab: warm-up %c (%.3g s)\n", k ? 'B' : 'A',
                                (double)warmup_us / 1e6);
                        if (ab_warmup(vs[k]->load, warmup_us) < 0) {
                                fprintf(stderr, "joules ab: fork: %s\n", strerror(errno));
                                goto out;
                        }
                }
        bool estimated = false;
        for (size_t i = 0; i < n_runs; i++) {
                AbVariant *v = order[i] == 'A' ? &va : &vb;
                if ((i > 0 || warmup_us > 0) && !ab_interrupted)
                        sleep_us(cooldown_us);
                if (ab_interrupted) {
                        fprintf(stderr, "joules ab: interrupted after %zu of %zu runs\n", i,
                                n_runs);
                        rc = 128 + ab_interrupted;
                        goto out;
                }
                char *cmd[] = {"/bin/sh", "-c", (char *)v->load, NULL};
                MeasureOptions mo = {
                        .cmd = "joules ab",
                        .db_path = ctx->db_path,
                        .interval_us = interval_us,
                        .unit = v->unit,
                        .requests = v->from,
                        .relay = NULL,
                };
                Measure m;
                if (measure_run(s, &mo, cmd, &m) < 0)
                        goto out;
                AbRun *r = &runs[i];
                *r = (AbRun){
                        .variant = order[i],
                        .from_us = m.from_us,
                        .to_us = m.to_us,
                        .duration_s = m.duration_s,
                        .window_s = m.window_s,
                        .energy_j = m.energy_j,
                        .active_j = m.active_j,
                        .cpu_s = m.cpu_s,
                        .requests = m.requests,
                        .latency_ms = m.latency_ms,
                        .instructions = m.instructions,
                        .cycles = m.cycles,
                        .n_events = m.n_events,
                        .estimated = m.estimated,
                };
                memcpy(r->event_names, m.event_names, sizeof(r->event_names));
                memcpy(r->event_totals, m.event_totals, sizeof(r->event_totals));
                int status = m.status;
                bool found = m.found;
                measure_done(&m);
                if (ab_interrupted) { /* that run was cut short: not a measurement */
                        fprintf(stderr, "joules ab: interrupted during run %zu of %zu\n", i + 1,
                                n_runs);
                        rc = 128 + ab_interrupted;
                        goto out;
                }
                if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
                        fprintf(stderr,
                                "joules ab: run %zu (%c): the load command failed (%s %d)\n", i + 1,
                                order[i], WIFEXITED(status) ? "exit" : "signal",
                                WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
                        rc = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
                        goto out;
                }
                if (!found || !(r->energy_j > 0)) {
                        fprintf(stderr,
                                "joules ab: run %zu (%c): %s drew no energy in the window (is the "
                                "name right? see joules services)\n",
                                i + 1, order[i], TEXT_SAFE(v->unit));
                        rc = CLI_EXIT_NO_DATA;
                        goto out;
                }
                if (!(r->requests > 0)) {
                        fprintf(stderr, "joules ab: run %zu (%c): no requests counted (from %s)\n",
                                i + 1, order[i], measure_requests_name(v->from));
                        goto out;
                }
                r->gco2e = ab_get_gco2e(s, &fs, v->unit, r->from_us, r->to_us);
                estimated |= r->estimated;
                v->runs[v->n++] = r;
                fprintf(stderr,
                        "joules ab: run %zu/%zu (%c): %.0f requests in %.2f s, %.3f J, %.4g "
                        "mJ/request\n",
                        i + 1, n_runs, order[i], r->requests, r->duration_s, r->energy_j,
                        ab_jpr(r) * 1e3);
        }

        if (ab_summarise(&va) < 0 || ab_summarise(&vb) < 0) {
                fprintf(stderr, "joules ab: a run's J/request is not a positive number\n");
                goto out;
        }
        double xa[AB_MAX_REPEAT], xb[AB_MAX_REPEAT];
        for (size_t i = 0; i < va.n; i++)
                xa[i] = ab_jpr(va.runs[i]);
        for (size_t i = 0; i < vb.n; i++)
                xb[i] = ab_jpr(vb.runs[i]);
        AbInterval ratio;
        if (abstats_ratio(xa, va.n, xb, vb.n, AB_LEVEL, &ratio) < 0) {
                fprintf(stderr, "joules ab: a run's J/request is not a positive number\n");
                goto out;
        }
        char intensity[96] = "";
        {
                Footprint fp = {0};
                if (footprint_read(s, &fs, runs[0].from_us, runs[n_runs - 1].to_us,
                                   STORE_BUCKET_ALL, va.unit, &fp) >= 0)
                        snprintf(intensity, sizeof(intensity), "%s", fp.source);
                footprint_done(&fp);
        }
        if (json) {
                JsonWriter j;
                json_init(&j, stdout);
                json_object_begin(&j, NULL);
                ab_json_variant(&j, "a", &va);
                ab_json_variant(&j, "b", &vb);
                json_object_begin(&j, "ratio_b_over_a");
                json_number(&j, "estimate", ratio.estimate);
                json_number(&j, "ci_low", ratio.low);
                json_number(&j, "ci_high", ratio.high);
                json_number(&j, "df", ratio.df);
                json_string(&j, "method", "welch-t-log");
                json_object_end(&j);
                json_bool(&j, "significant", abstats_significant(&ratio));
                json_bool(&j, "estimated", estimated);
                json_string(&j, "verdict", ab_verdict(&ratio));
                json_string(&j, "order", order);
                json_number(&j, "confidence", AB_LEVEL);
                json_number(&j, "warmup_s", (double)warmup_us / 1e6);
                json_number(&j, "cooldown_s", (double)cooldown_us / 1e6);
                json_number(&j, "pue", fs.pue);
                json_string(&j, "intensity_source", intensity);
                json_object_end(&j);
                json_end(&j);
        } else {
                ab_text(&va, &vb, order, runs, n_runs, &ratio, estimated, intensity, &fs, warmup_us,
                        cooldown_us);
        }
        if (svg) {
                const AbVariant *pair[2] = {&va, &vb};
                ab_svg(svg, pair, &ratio, estimated);
                if (fclose(svg) != 0) {
                        svg = NULL;
                        fprintf(stderr, "joules ab: %s: %s\n", TEXT_SAFE(svg_path),
                                strerror(errno));
                        goto out;
                }
                svg = NULL;
        }
        rc = CLI_EXIT_OK;
out:
        if (svg)
                fclose(svg);
        free(runs);
        free(order);
        store_close(s);
        return rc;
}
