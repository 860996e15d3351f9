#pragma once

#include <stdbool.h>
#include <stddef.h>

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
 * "CPU-aware default", "generic default"; the method itself when unknown, "" for none. */
const char *band_method_label(const char *method);
