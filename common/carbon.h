#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Carbon arithmetic, pure: the Software Carbon Intensity (Green Software Foundation, ISO/IEC
 * 21031:2024), SCI = ((E * I) + M) per R, with
 *   E  energy in kWh at the facility (IT energy times PUE),
 *   I  location-based grid intensity in gCO2e/kWh,
 *   M  embodied emissions, M = TE * (TiR / EL) * (RR / ToR),
 *   R  the functional unit: a request.
 * A market-based factor is reported beside I, never used in SCI. 1 kWh = 3.6e6 J. */

#define CARBON_J_PER_KWH         3600000.0
#define CARBON_DEFAULT_EL_HOURS  35040.0 /* 4 years of 365 days */
#define CARBON_DEFAULT_PUE       1.0
#define CARBON_DEFAULT_COUNTRY   "WORLD"
#define CARBON_GRID_TABLE_SOURCE "ember-2024"

typedef struct CarbonGridFactor {
        const char *code; /* ISO 3166-1 alpha-2, or WORLD, EU */
        double g_per_kwh;
} CarbonGridFactor;

/* The built-in table: case-insensitive; NULL when the code is not in it. */
const CarbonGridFactor *carbon_grid_lookup(const char *code);
const CarbonGridFactor *carbon_grid_table(size_t *ret_n);

double carbon_j_to_kwh(double j);
double carbon_kwh_to_j(double kwh);
/* Energy at the facility: IT energy times PUE (>= 1; 1.0 when unknown). */
double carbon_facility_kwh(double it_kwh, double pue);
/* M = TE * (TiR / EL) * (RR / ToR), evaluated in that order: te_g * (tir / el) first, then
 * times (rr / tor). NAN when el or tor is not positive. */
double carbon_embodied_g(double te_g, double tir_hours, double el_hours, double rr, double tor);

typedef struct CarbonSci {
        double energy_kwh;    /* E, PUE included */
        double intensity;     /* I */
        double embodied_g;    /* M */
        double operational_g; /* E * I */
        double total_g;       /* E * I + M */
        bool has_requests;    /* R known and > 0 */
        double requests;      /* R */
        double sci_g;         /* (E * I + M) / R; NAN without R */
} CarbonSci;

/* requests: NAN when unknown. R = 0 or unknown leaves sci_g NAN, never a division by zero. */
void carbon_sci(double energy_kwh, double intensity, double embodied_g, double requests,
                CarbonSci *ret);

/* Energy-weighted intensity I = sum(E_h * I_h) / sum(E_h). With no energy at all, the plain
 * mean of the intensities; NAN when n is 0. */
double carbon_weighted_intensity(const double *energy, const double *intensity, size_t n);

/* An imported intensity interval, [start_us, end_us). line: where it came from in the file
 * (CSV line, or JSON element index + 1), for error messages. */
typedef struct CarbonInterval {
        int64_t start_us, end_us;
        double g_per_kwh;
        unsigned line;
} CarbonInterval;

/* Time-weighted mean intensity of the intervals over [from_us, to_us). Returns the microseconds
 * of that range the intervals cover (0: none, *ret untouched). v sorted, not overlapping. */
int64_t carbon_series_mean(const CarbonInterval *v, size_t n, int64_t from_us, int64_t to_us,
                           double *ret);

/* Sorts by start and checks each interval: end after start, intensity finite and >= 0, no
 * overlap. -EINVAL with err naming the line ("line 4: ...", or "data[3]" when json). */
int carbon_series_check(CarbonInterval *v, size_t n, bool json, char *err, size_t errlen)
        __attribute__((warn_unused_result));

/* CSV "start,end,g_per_kwh" (RFC 3339 / ISO 8601 times; a header line, blank lines and lines
 * starting with # are skipped). Nothing is returned unless every line is good. */
int carbon_parse_csv(const char *text, CarbonInterval **ret, size_t *ret_n, char *err,
                     size_t errlen) __attribute__((warn_unused_result));
