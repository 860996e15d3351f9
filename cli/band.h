#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "storage/store.h"

/* The uncertainty band of an estimated figure, as the history keeps it (runs.band_pct, see
 * data/README.md): ± percent, 0 for a measured figure (none), NaN when an estimate has no known
 * band (a history written before schema 8). Pure helpers shared by status, report and export. */

/* Whether the figure carries a band to show (estimated, band known). */
bool band_known(double band_pct);

/* value * (1 - band) and value * (1 + band); both NaN when the band is unknown or the figure is
 * measured, so JSON shows null and CSV an empty field. The low bound never goes below 0. */
void band_bounds(double value, double band_pct, double *ret_low, double *ret_high);

/* For tables: "±30%" (integers as such, else one decimal), "" when measured (0), "±?" when
 * unknown (NaN). */
const char *band_format(double band_pct, char *buf, size_t size);

/* The people's name of a model method as stored in runs.model_method: "configured curve",
 * "CPU-aware default", "generic default"; the method itself (untrusted: a foreign history
 * holds any bytes) when unknown, "" for none. */
const char *band_method_label(const char *method);

/* The band of a figure that adds parts measured and estimated with different bands (a range over
 * several runs of joulesd): measured parts are exact, each estimated part E with band b may be
 * anywhere in E * (1 ± b). The bounds are the sums of the parts' bounds, so the half-width is
 * Σ E_i * b_i over the estimated parts, and the figure's ± percent is that over the total. */
typedef struct BandSum {
        double measured_j;         /* exact */
        double estimated_j;        /* the estimated parts' energy */
        double low_j;              /* Σ max(0, E_i * (1 - b_i)) over the estimated parts */
        double high_j;             /* Σ E_i * (1 + b_i) */
        double weighted;           /* Σ E_i * b_i (J x percent) */
        double band_min, band_max; /* of the estimated parts with energy; equal: one band */
        size_t n_banded;           /* those parts */
        bool unknown;              /* an estimated part (with energy) has no known band */
} BandSum;

/* Adds a part: its energy, whether it was estimated, and its band (percent; ignored when
 * measured). Negative or non-finite energy is ignored. */
void band_sum_add(BandSum *sum, double energy_j, bool estimated, double band_pct);

/* The ± percent of the whole: 0 when nothing is estimated (measured, no band), NaN when an
 * estimated part's band is unknown, else 100 * (high - total) / total. */
double band_sum_pct(const BandSum *sum);

/* The bounds of value, a figure that is the whole (in J, kWh, ...) or a share of it whose parts
 * are measured and estimated in the whole's proportions: value * (measured + Σ low) / total and
 * value * (measured + Σ high) / total. Both NaN when nothing is estimated or a band is unknown. */
void band_sum_bounds(const BandSum *sum, double value, double *ret_low, double *ret_high);

/* The BandSum of a share of the whole (a unit's energy in a range): measured_j exact, estimated_j
 * with the band of the whole's estimated parts, weighted by their energy. A unit's totals keep
 * its estimated joules but not their split by run, so where runs with different bands share the
 * range each unit's estimate takes their mix. Unknown where the whole's is, or where the whole
 * has no band for an estimate the share has. */
BandSum band_sum_share(const BandSum *whole, double measured_j, double estimated_j);

/* The BandSum of the energy stored over (from_us, to_us], from its runs (store_read_band). */
int band_read(Store *s, int64_t from_us, int64_t to_us, BandSum *ret)
        __attribute__((warn_unused_result));
