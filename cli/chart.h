#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "storage/store.h"

/* Power over time for joules report: a terminal chart of one series (80 columns) and an SVG of
 * the services stacked, for a slide. Built from store_read_periods() rows of equal buckets. */

#define CHART_MAX_SERIES 6 /* the biggest services, other services, idle/kernel/unattributed */
enum { CHART_UNIT, CHART_OTHER, CHART_OVERHEAD };
#define CHART_MAX_COLUMNS 70

typedef struct Chart {
        int64_t from_us, to_us;
        int64_t column_us; /* nominal width of a column (months vary) */
        size_t n_columns;
        int64_t *column_start; /* n_columns + 1 boundaries */
        size_t n_series;
        char names[CHART_MAX_SERIES][STORE_NAME_MAX]; /* whole: rows are matched to series by it */
        int kind[CHART_MAX_SERIES];                   /* CHART_UNIT, CHART_OTHER, CHART_OVERHEAD */
        double *watts; /* [series * n_columns + column]; NAN: no ticks there */
        double *total; /* [column]: the host's (or the unit's) watts; NAN: no ticks */
        bool estimated;
} Chart;

/* The bucket that gives at most CHART_MAX_COLUMNS-ish columns for the range. */
StoreBucket chart_bucket_for(int64_t from_us, int64_t to_us);

/* Groups the rows' periods into columns; unit: only that unit (its watts are the total). */
int chart_build(const StorePeriodRows *p, const char *unit, Chart *ret)
        __attribute__((warn_unused_result));
void chart_done(Chart *c);

/* At most 80 columns wide, height lines of bars, axis and time labels. */
void chart_terminal(const Chart *c, FILE *f, const char *title, unsigned height);
/* A 960 x 540 SVG: stacked columns per series, axes in watts and UTC time, a legend. */
void chart_svg(const Chart *c, FILE *f, const char *title, const char *subtitle);

/* The parts other SVG charts (joules ab) share: a round step giving about n ticks up to max (1,
 * 2 or 5 times a power of ten), and the document's start with its white background, title and
 * subtitle (untrusted text through text_xml_fputs) at x = left. The caller ends with </svg>. */
double chart_nice_step(double max, int n);
void chart_svg_begin(FILE *f, double width, double height, double left, const char *title,
                     const char *subtitle);
