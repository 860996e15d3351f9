#include "cli/chart.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/text.h"
#include "common/util.h"

StoreBucket chart_bucket_for(int64_t from_us, int64_t to_us)
{
        /* at most about 4,000 buckets, grouped into the columns afterwards */
        int64_t span = to_us - from_us;
        int64_t hour = 3600 * (int64_t)USEC_PER_SEC;
        if (span <= 2 * hour)
                return STORE_BUCKET_SECOND;
        if (span <= 70 * hour)
                return STORE_BUCKET_MINUTE;
        if (span <= 70 * 24 * hour)
                return STORE_BUCKET_HOUR;
        return STORE_BUCKET_DAY;
}

void chart_done(Chart *c)
{
        free(c->column_start);
        free(c->watts);
        free(c->total);
        *c = (Chart){0};
}

typedef struct UnitSum {
        const char *name;
        double j;
} UnitSum;

static int unit_sum_cmp(const void *a, const void *b)
{
        const UnitSum *x = a, *y = b;
        return x->j > y->j ? -1 : x->j < y->j;
}

int chart_build(const StorePeriodRows *p, const char *unit, Chart *ret)
{
        Chart c = {.from_us = p->from_us, .to_us = p->to_us};
        if (p->n_periods == 0) {
                *ret = c;
                return 0;
        }
        StoreBucket b = p->bucket;
        int64_t first = store_bucket_start(b, p->periods[0].start_us + 1);
        int64_t last = store_bucket_next(
                b, store_bucket_start(b, p->periods[p->n_periods - 1].start_us + 1));
        size_t n_buckets = 0;
        for (int64_t t = first; t < last; t = store_bucket_next(b, t))
                n_buckets++;
        size_t k = (n_buckets + CHART_MAX_COLUMNS - 1) / CHART_MAX_COLUMNS;
        c.n_columns = (n_buckets + k - 1) / k;
        c.column_us = (last - first) / (int64_t)n_buckets * (int64_t)k;
        c.from_us = first;
        c.to_us = last;

        /* the series: the biggest services in colour, then the other services, then the
         * pseudo-units (idle, kernel, unattributed) together in light grey */
        UnitSum *sums = calloc(p->n_rows ? p->n_rows : 1, sizeof(*sums));
        size_t n_sums = 0, n_real = 0;
        bool overhead = false;
        if (!sums)
                return -ENOMEM;
        for (size_t i = 0; i < p->n_rows; i++) {
                if (p->rows[i].pseudo && !unit) {
                        overhead = true;
                        continue;
                }
                size_t j = 0;
                while (j < n_sums && strcmp(sums[j].name, p->rows[i].name) != 0)
                        j++;
                if (j == n_sums)
                        sums[n_sums++] = (UnitSum){.name = p->rows[i].name};
                sums[j].j += (double)(p->rows[i].active_uj + p->rows[i].idle_uj) / UJ_PER_J;
        }
        n_real = n_sums;
        qsort(sums, n_sums, sizeof(*sums), unit_sum_cmp);
        size_t max_colour = CHART_MAX_SERIES - (overhead ? 1 : 0);
        size_t n_colour = n_real <= max_colour ? n_real : max_colour - 1;
        for (size_t u = 0; u < n_colour; u++) {
                snprintf(c.names[c.n_series], sizeof(c.names[0]), "%s", sums[u].name);
                c.kind[c.n_series++] = CHART_UNIT;
        }
        if (n_real > n_colour) {
                snprintf(c.names[c.n_series], sizeof(c.names[0]), "other services");
                c.kind[c.n_series++] = CHART_OTHER;
        }
        if (overhead) {
                snprintf(c.names[c.n_series], sizeof(c.names[0]), "idle, kernel, other");
                c.kind[c.n_series++] = CHART_OVERHEAD;
        }

        c.column_start = calloc(c.n_columns + 1, sizeof(*c.column_start));
        c.watts = calloc((c.n_series ? c.n_series : 1) * c.n_columns, sizeof(*c.watts));
        c.total = calloc(c.n_columns, sizeof(*c.total));
        double *seconds = calloc(c.n_columns, sizeof(*seconds));
        if (!c.column_start || !c.watts || !c.total || !seconds) {
                free(sums);
                free(seconds);
                chart_done(&c);
                return -ENOMEM;
        }
        size_t i = 0;
        for (int64_t t = first; t < last; t = store_bucket_next(b, t), i++)
                if (i % k == 0)
                        c.column_start[i / k] = t;
        c.column_start[c.n_columns] = last;

        /* energy per column, then divided by the seconds the ticks cover */
        size_t bucket_index = 0;
        int64_t bt = first;
        size_t row = 0;
        for (size_t pi = 0; pi < p->n_periods; pi++) {
                int64_t start = store_bucket_start(b, p->periods[pi].start_us + 1);
                while (bt < start) {
                        bt = store_bucket_next(b, bt);
                        bucket_index++;
                }
                size_t col = bucket_index / k;
                seconds[col] += p->periods[pi].seconds;
                c.estimated |= p->periods[pi].estimated;
                if (!unit)
                        c.total[col] += (double)p->periods[pi].host_uj / UJ_PER_J;
                for (; row < p->n_rows && p->rows[row].period == pi; row++) {
                        double j =
                                (double)(p->rows[row].active_uj + p->rows[row].idle_uj) / UJ_PER_J;
                        size_t s = 0;
                        if (p->rows[row].pseudo && !unit) {
                                s = c.n_series - 1; /* idle, kernel, other */
                        } else {
                                while (s < c.n_series &&
                                       (c.kind[s] != CHART_UNIT ||
                                        strcmp(c.names[s], p->rows[row].name) != 0))
                                        s++;
                                if (s == c.n_series)
                                        s = n_real > n_colour ? n_colour : 0; /* other services */
                        }
                        c.watts[s * c.n_columns + col] += j;
                        if (unit)
                                c.total[col] += j;
                }
        }
        for (size_t col = 0; col < c.n_columns; col++) {
                for (size_t s = 0; s < c.n_series; s++)
                        c.watts[s * c.n_columns + col] =
                                seconds[col] > 0 ? c.watts[s * c.n_columns + col] / seconds[col]
                                                 : NAN;
                c.total[col] = seconds[col] > 0 ? c.total[col] / seconds[col] : NAN;
        }
        free(sums);
        free(seconds);
        *ret = c;
        return 0;
}

/* A time label that suits the span shown: the time of day within a day, the date beyond. */
static void time_label(int64_t us, int64_t span_us, char *buf, size_t size)
{
        time_t t = (time_t)(us / (int64_t)USEC_PER_SEC);
        struct tm tm;
        if (!gmtime_r(&t, &tm)) {
                snprintf(buf, size, "?");
                return;
        }
        int64_t hour = 3600 * (int64_t)USEC_PER_SEC;
        size_t n;
        if (span_us <= 5 * 60 * (int64_t)USEC_PER_SEC)
                n = strftime(buf, size, "%H:%M:%S", &tm);
        else if (span_us <= 20 * hour)
                n = strftime(buf, size, "%H:%M", &tm);
        else if (span_us <= 4 * 24 * hour)
                n = strftime(buf, size, "%m-%d %H:%M", &tm);
        else if (span_us <= 400 * 24 * hour)
                n = strftime(buf, size, "%Y-%m-%d", &tm);
        else
                n = strftime(buf, size, "%Y-%m", &tm);
        if (n == 0)
                snprintf(buf, size, "?");
}

static double max_finite(const double *v, size_t n)
{
        double m = 0;
        for (size_t i = 0; i < n; i++)
                if (isfinite(v[i]) && v[i] > m)
                        m = v[i];
        return m;
}

void chart_terminal(const Chart *c, FILE *f, const char *title, unsigned height)
{
        if (c->n_columns == 0)
                return;
        unsigned cw = c->n_columns <= CHART_MAX_COLUMNS / 2 ? 2 : 1; /* chars per column */
        double max = max_finite(c->total, c->n_columns);
        fprintf(f, "%s\n", title); /* the caller made it safe */
        for (unsigned r = height; r >= 1; r--) {
                if (r == height)
                        fprintf(f, "%8.1f |", max);
                else if (r == (height + 1) / 2)
                        fprintf(f, "%8.1f |", max / 2);
                else
                        fprintf(f, "%8s |", "");
                for (size_t col = 0; col < c->n_columns; col++) {
                        double v = c->total[col];
                        double level = max > 0 && isfinite(v) ? v / max * height : 0;
                        char ch = level >= r - 0.25 ? '#' : level >= r - 0.75 ? '.' : ' ';
                        if (r == 1 && isfinite(v) && v > 0 && ch == ' ')
                                ch = '_'; /* a little power is not none */
                        for (unsigned x = 0; x < cw; x++)
                                fputc(ch, f);
                }
                fputc('\n', f);
        }
        fprintf(f, "%8.1f +", 0.0);
        for (size_t col = 0; col < c->n_columns * cw; col++)
                fputc('-', f);
        fputc('\n', f);
        /* the labels stay under the bars: at most 10 + 70 columns */
        char a[32], b[40];
        time_label(c->from_us, c->to_us - c->from_us, a, sizeof(a));
        time_label(c->to_us, c->to_us - c->from_us, b, sizeof(b) - 4);
        strcat(b, " UTC");
        int width = (int)(c->n_columns * cw);
        int pad = width - (int)strlen(a) - (int)strlen(b);
        if (pad >= 1)
                fprintf(f, "%10s%s%*s%s\n", "", a, pad, "", b);
        else
                fprintf(f, "%10s%s .. %s\n", "", a, b);
}

double chart_nice_step(double max, int n)
{
        if (!(max > 0))
                return 1;
        double raw = max / n, p = pow(10, floor(log10(raw)));
        double m = raw / p;
        return (m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10) * p;
}

/* Okabe-Ito for the services, told apart with colour-blindness; greys for the rest. */
static const char *series_colour(const Chart *c, size_t s)
{
        static const char *const colours[] = {"#0072B2", "#E69F00", "#009E73",
                                              "#CC79A7", "#56B4E9", "#D55E00"};
        switch (c->kind[s]) {
        case CHART_OTHER:
                return "#8c8c8c";
        case CHART_OVERHEAD:
                return "#d4d4d4";
        default:
                return colours[s % ELEMENTSOF(colours)];
        }
}

void chart_svg_begin(FILE *f, double width, double height, double left, const char *title,
                     const char *subtitle)
{
        fprintf(f,
                "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" "
                "viewBox=\"0 0 %.0f %.0f\" font-family=\"Helvetica, Arial, sans-serif\">\n",
                width, height, width, height);
        fprintf(f, "<rect width=\"100%%\" height=\"100%%\" fill=\"#ffffff\"/>\n");
        fprintf(f,
                "<text x=\"%.0f\" y=\"38\" font-size=\"24\" font-weight=\"bold\" "
                "fill=\"#222\">",
                left);
        text_xml_fputs(f, title);
        fprintf(f, "</text>\n<text x=\"%.0f\" y=\"64\" font-size=\"15\" fill=\"#666\">", left);
        text_xml_fputs(f, subtitle);
        fprintf(f, "</text>\n");
}

void chart_svg(const Chart *c, FILE *f, const char *title, const char *subtitle)
{
        const double W = 960, H = 540, left = 80, right = 230, top = 90, bottom = 60;
        const double pw = W - left - right, ph = H - top - bottom;
        double max = 0;
        for (size_t col = 0; col < c->n_columns; col++) {
                double sum = 0;
                for (size_t s = 0; s < c->n_series; s++) {
                        double v = c->watts[s * c->n_columns + col];
                        if (isfinite(v))
                                sum += v;
                }
                if (sum > max)
                        max = sum;
                if (isfinite(c->total[col]) && c->total[col] > max)
                        max = c->total[col];
        }
        double step = chart_nice_step(max, 5);
        double ymax = step * ceil(max / step);
        if (!(ymax > 0))
                ymax = 1;

        chart_svg_begin(f, W, H, left, title, subtitle);

        /* grid and y axis */
        for (double y = 0; y <= ymax + step / 2; y += step) {
                double py = top + ph - y / ymax * ph;
                fprintf(f,
                        "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" "
                        "stroke-width=\"1\"/>\n",
                        left, py, left + pw, py, y == 0 ? "#444" : "#e3e3e3");
                fprintf(f,
                        "<text x=\"%.1f\" y=\"%.1f\" font-size=\"13\" fill=\"#444\" "
                        "text-anchor=\"end\">%g W</text>\n",
                        left - 8, py + 4, y);
        }
        /* stacked columns */
        double cw = c->n_columns ? pw / (double)c->n_columns : pw;
        double bw = cw > 4 ? cw * 0.82 : cw;
        for (size_t col = 0; col < c->n_columns; col++) {
                double acc = 0;
                for (size_t s = 0; s < c->n_series; s++) {
                        double v = c->watts[s * c->n_columns + col];
                        if (!isfinite(v) || v <= 0)
                                continue;
                        double y0 = top + ph - acc / ymax * ph;
                        double y1 = top + ph - (acc + v) / ymax * ph;
                        fprintf(f,
                                "<rect x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"%.2f\" "
                                "fill=\"%s\"/>\n",
                                left + col * cw + (cw - bw) / 2, y1, bw, y0 - y1,
                                series_colour(c, s));
                        acc += v;
                }
        }
        /* the host's power, where it is more than the units shown (idle with no unit) */
        bool any_total = false;
        bool one_unit = c->n_series == 1 && c->kind[0] == CHART_UNIT; /* the bars are the total */
        for (size_t col = 0; col < c->n_columns && !one_unit; col++) {
                if (!isfinite(c->total[col]))
                        continue;
                double px = left + col * cw + cw / 2, py = top + ph - c->total[col] / ymax * ph;
                fprintf(f, "%s%.2f,%.2f",
                        any_total ? " "
                                  : "<polyline fill=\"none\" "
                                    "stroke=\"#222\" stroke-width=\"2\" "
                                    "stroke-dasharray=\"5,3\" points=\"",
                        px, py);
                any_total = true;
        }
        if (any_total)
                fprintf(f, "\"/>\n");
        /* x labels: about six */
        if (c->n_columns == 0) {
                fprintf(f, "</svg>\n");
                return;
        }
        size_t every = c->n_columns > 6 ? (c->n_columns + 5) / 6 : 1;
        for (size_t col = 0; col <= c->n_columns; col += every) {
                char label[32];
                time_label(c->column_start[col], c->to_us - c->from_us, label, sizeof(label));
                double px = left + col * cw;
                fprintf(f,
                        "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#444\"/>\n"
                        "<text x=\"%.1f\" y=\"%.1f\" font-size=\"13\" fill=\"#444\" "
                        "text-anchor=\"middle\">%s</text>\n",
                        px, top + ph, px, top + ph + 5, px, top + ph + 22, label);
        }
        fprintf(f,
                "<text x=\"%.1f\" y=\"%.1f\" font-size=\"13\" fill=\"#666\" "
                "text-anchor=\"middle\">time (UTC)</text>\n",
                left + pw / 2, H - 12);
        /* legend */
        double ly = top + 10;
        for (size_t s = 0; s < c->n_series; s++, ly += 26) {
                fprintf(f,
                        "<rect x=\"%.1f\" y=\"%.1f\" width=\"16\" height=\"16\" fill=\"%s\"/>\n"
                        "<text x=\"%.1f\" y=\"%.1f\" font-size=\"14\" fill=\"#222\">",
                        left + pw + 24, ly, series_colour(c, s), left + pw + 48, ly + 13);
                /* a long name keeps its start and its end, where services differ */
                char name[40];
                text_xml_fputs(f, text_abbrev(c->names[s], 25, "...", name, sizeof(name)));
                fprintf(f, "</text>\n");
        }
        if (any_total)
                fprintf(f,
                        "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#222\" "
                        "stroke-width=\"2\" stroke-dasharray=\"5,3\"/>\n"
                        "<text x=\"%.1f\" y=\"%.1f\" font-size=\"14\" fill=\"#222\">%s</text>\n",
                        left + pw + 24, ly + 8, left + pw + 40, ly + 8, left + pw + 48, ly + 13,
                        c->n_series == 1 ? "total" : "host");
        if (c->estimated)
                fprintf(f,
                        "<text x=\"%.1f\" y=\"%.1f\" font-size=\"12\" fill=\"#a33\">estimated "
                        "(no RAPL: CPU model)</text>\n",
                        left + pw + 24, ly + 40);
        fprintf(f, "</svg>\n");
}
