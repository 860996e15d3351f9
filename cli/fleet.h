#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cli/footprint.h"
#include "storage/store.h"

/* joules export --prometheus: every host's footprint from the counters joules-exporter serves,
 * read back from a Prometheus-compatible store, through the same footprint arithmetic as the
 * per-host export (footprint.h).
 *
 * Each output period is cut into steps (hours; minutes for --by minute). At every step's end
 * the store is asked for each counter's last reading in the step (last_over_time) and its lowest
 * one (min_over_time): the increase over the step is exact from the store's own samples (no
 * extrapolation, unlike increase()), and it is the difference of the readings at the two
 * boundaries, so the steps add up to the whole range. */

/* ---- the counter arithmetic (pure) ---- */

typedef struct FleetCounter {
        bool seen;   /* a reading has been seen */
        double prev; /* the last reading */
} FleetCounter;

/* The increase of a counter over one step, from its lowest and last readings in it (NAN: no
 * reading in the step). NAN when the step has no reading: what the counter gained meanwhile is
 * counted in the next step that has one. A decrease is a reset: the value after it is added
 * (the counter restarted from 0). A counter first seen in the step counts from its lowest
 * reading there. */
double fleet_counter_step(FleetCounter *c, double low, double last);

/* Whether the readings of a step show a decrease (a reset) against the one before. */
bool fleet_counter_decreased(const FleetCounter *c, double low, double last);
/* The exact increase over raw samples (in time order; NAN ones skipped) from the reading from
 * (NAN: counting from the first sample), each decrease a reset after which the value is added. */
double fleet_counter_walk(double from, const double *v, size_t n);

/* A sample value as the API writes it ("1234.5", "1e+21") in whole units of 10^-decimals
 * (decimals 6: microjoules), exact for the decimal forms; decimals 0: the value as it is. -EINVAL
 * for text that is not a finite number >= 0 (NaN, Inf, negative). */
int fleet_parse_value(const char *s, unsigned decimals, double *ret)
        __attribute__((warn_unused_result));

/* ---- the API's answers (pure) ---- */

typedef struct FleetSeries {
        char *host;     /* the host label's value */
        char *unit;     /* NULL when the series has no such label */
        char *mode;     /* joules_unit_energy_joules_total's active|idle */
        bool estimated; /* joules_info's label */
        double *v;      /* n_steps values; NAN where the series has no point */
        size_t n_v;     /* n_steps, or the number of raw samples */
} FleetSeries;

typedef struct FleetMatrix {
        FleetSeries *series; /* sorted by host, unit, mode */
        size_t n;
        size_t n_steps;
        size_t no_host; /* series without the host label, left out */
} FleetMatrix;

/* Reads an answer of /api/v1/query_range (a matrix, points at start + k * step for k < n_steps)
 * or /api/v1/query (a vector: step 0, n_steps 1; or, step < 0, the raw samples of a range
 * selector [-step] at start: a matrix, the samples in time order in v[0..n_v)). -EPROTO with err
 * saying why when it is not a successful Prometheus answer: the API's own error (errorType: error),
 * an HTTP status, not JSON, missing or mistyped fields, a point off the steps, a bad value. Two
 * series with the same host, unit and mode are -ENOTUNIQ (two hosts with one host label value, or
 * an HA pair's copies without deduplication). */
int fleet_parse_answer(long http_status, const char *body, size_t len, const char *host_label,
                       int64_t start_us, int64_t step_us, size_t n_steps, unsigned decimals,
                       FleetMatrix *ret, char *err, size_t errlen)
        __attribute__((warn_unused_result));
void fleet_matrix_done(FleetMatrix *m);

/* ---- the export ---- */

typedef struct FleetOptions {
        const char *url;
        const char *host_label; /* "instance" */
        const char *match;      /* extra label matchers, such as job="joules"; NULL none */
        double timeout_s;
        int64_t from_us, to_us;
        StoreBucket bucket; /* hour, day, month; minute for tests and short experiments */
        FootprintOverrides overrides;
} FleetOptions;

/* Feeds every host's steps to a footprint builder per host and hands each output period over
 * to emit, period by period, hosts by host_id within a period (fp->hostname is the host_id,
 * fp->fs its settings). Returns the number of hosts seen, or: -EIO/-EPROTO/-ENOTUNIQ/-EFBIG
 * with err naming the URL and the reason, -ENOMEM, or what emit returned. */
int fleet_export(const FleetOptions *o, FootprintEmit emit, void *user, char *err, size_t errlen)
        __attribute__((warn_unused_result));
