#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "storage/store.h"

/* The carbon footprint of the history, shared by sci, report, compare and export: energy by
 * hour from store_read_periods(), PUE, the grid intensity of each hour, embodied emissions
 * split by CPU time, then summed into the periods asked for.
 *
 * Settings come from the history (joulesd writes its [carbon] section into the meta table as
 * carbon.* keys at start-up and reload), then the command's flags override them. */

typedef struct FootprintSettings {
        char country[64];      /* built-in table code; "" none configured */
        double intensity;      /* a fixed gCO2e/kWh; NAN: none */
        bool intensity_forced; /* given as a flag: used for every hour, series ignored */
        double pue;
        double te_g;             /* host embodied emissions, grams; 0: none */
        double el_hours;         /* expected lifetime */
        double market_g_per_kwh; /* NAN: none */
        bool market_given;       /* market_g_per_kwh came from --market-intensity */
} FootprintSettings;

/* Defaults, then the history's carbon.* keys. -EINVAL with err when a stored value is bad. */
int footprint_settings_load(Store *s, FootprintSettings *ret, char *err, size_t errlen)
        __attribute__((warn_unused_result));

/* The label of the yearly intensity used where no series covers an hour, and its value. */
double footprint_fallback_intensity(const FootprintSettings *fs, char *label, size_t size);

typedef struct FootprintFigures {
        double active_j, idle_j, cpu_s;
        bool has_requests;
        double requests;
        bool estimated;
        double estimated_j;  /* of active + idle, estimated (the band's share; 0 from fleet) */
        double facility_kwh; /* (active + idle) / 3.6e6 * PUE */
        double location_g;   /* sum over hours of facility kWh * I of the hour */
        double intensity;    /* energy-weighted: location_g / facility_kwh */
        double market_g;     /* NAN without a market factor */
        double embodied_g;
        unsigned sources; /* FOOTPRINT_SOURCE_*: where the hours' intensities came from */
} FootprintFigures;

enum {
        FOOTPRINT_SOURCE_SERIES = 1 << 0,   /* the imported series */
        FOOTPRINT_SOURCE_FALLBACK = 1 << 1, /* the yearly, configured or given value */
};

typedef struct FootprintPeriod {
        int64_t start_us, end_us;
        int64_t first_us, last_us; /* the ticks in it */
        double seconds;            /* covered by valid ticks */
        double host_j;
        FootprintFigures host; /* the whole host (every unit, idle included) */
} FootprintPeriod;

typedef struct FootprintRow {
        size_t period;
        const char *name; /* owned by the Footprint */
        bool pseudo;
        FootprintFigures f;
} FootprintRow;

typedef struct Footprint {
        StoreBucket bucket;
        char hostname[256];
        char source[96];   /* ci_location_source: "ember-2024:DE", "series", "series+fixed", ... */
        char series[32];   /* the label of the hour-by-hour intensities: "series", "exporter" */
        char fallback[64]; /* the label of the value used where the series does not cover */
        FootprintPeriod *periods;
        size_t n_periods;
        FootprintRow *rows; /* by period, then energy, biggest first */
        size_t n_rows;
        char **names; /* the units' names, each once */
        size_t n_names;
        const FootprintSettings *fs; /* the settings the figures use (while handed to emit) */
} Footprint;

int footprint_read(Store *s, const FootprintSettings *fs, int64_t from_us, int64_t to_us,
                   StoreBucket bucket, const char *unit, Footprint *ret)
        __attribute__((warn_unused_result));
void footprint_done(Footprint *fp);

/* The same, handing each output period over as soon as it is complete (fp then holds that one
 * period and its rows, names borrowed for the call), so a year of hourly rows never sits in
 * memory. A negative return from emit stops and is returned. ret (may be NULL) receives only
 * the source label. */
typedef int (*FootprintEmit)(const Footprint *fp, void *user);
int footprint_read_each(Store *s, const FootprintSettings *fs, int64_t from_us, int64_t to_us,
                        StoreBucket bucket, const char *unit, FootprintEmit emit, void *user,
                        Footprint *ret) __attribute__((warn_unused_result));

/* The arithmetic on its own, whatever the history's source (this host's SQLite file, or a
 * fleet's Prometheus store): steps of a host's history go in (an hour, or the interval between
 * two counter readings: its energy, CPU time and requests per unit, and the grid intensity over
 * it), output periods of the bucket come out, exactly as footprint_read_each hands them over
 * (emit not NULL), or all at once from footprint_builder_finish (emit NULL). Steps come oldest
 * first and never straddle an output period. The settings are copied. */
typedef struct FootprintBuilder FootprintBuilder;
int footprint_builder_new(const FootprintSettings *fs, int64_t from_us, int64_t to_us,
                          StoreBucket bucket, const char *unit, FootprintEmit emit, void *user,
                          FootprintBuilder **ret) __attribute__((warn_unused_result));
/* hostname (host_id) and the label of the intensities given as FOOTPRINT_SOURCE_SERIES; NULL
 * keeps the one set ("", "series"). */
void footprint_builder_labels(FootprintBuilder *b, const char *hostname, const char *series);
/* One step: its host figures (start_us/end_us, seconds, host_uj, estimated) and its units' rows
 * (the period field ignored), at intensity g/kWh from source (FOOTPRINT_SOURCE_*). */
int footprint_builder_add(FootprintBuilder *b, const StorePeriod *step, const StorePeriodRow *rows,
                          size_t n_rows, double intensity, unsigned source)
        __attribute__((warn_unused_result));
/* Hands the output period held over to emit now, as the next step of another period would. */
int footprint_builder_flush(FootprintBuilder *b) __attribute__((warn_unused_result));
/* The end: emits what is held, or hands everything over in ret (may be NULL; with emit, ret
 * gets only the labels). */
int footprint_builder_finish(FootprintBuilder *b, Footprint *ret)
        __attribute__((warn_unused_result));
FootprintBuilder *footprint_builder_free(FootprintBuilder *b);

/* ci_location_source of one row or period: "series", the fallback's label, or both. */
void footprint_source(const Footprint *fp, const FootprintFigures *f, char *buf, size_t size);

/* The market-based Scope 2 figure of one row or period, as the export files it. The GHG
 * Protocol Scope 2 Guidance (2015) ranks the market-based method's emission factors (Table 6.3):
 * energy attribute certificates, contracts, supplier rates, the residual mix, and where none of
 * them is available the grid average, which must then be disclosed as such (chapter 7); dual
 * reporting needs a market-based total beside the location-based one. joules keeps one market
 * factor, standing for whichever of the first four the user holds: with it, the figures are the
 * ones computed from it hour by hour (f->market_g) and the source says where it came from;
 * without it, they are the location-based figures and the source says they are the grid
 * average. SCI never uses either. */
#define FOOTPRINT_MARKET_GRID_AVERAGE                                                              \
        "grid average (no contractual instruments, supplier rate or residual mix configured)"
typedef struct FootprintMarket {
        double g_per_kwh;   /* ci_market_g_per_kwh */
        double emissions_g; /* emissions_market_gco2e */
        const char *source; /* ci_market_source: "configured", "given" or the grid average's */
} FootprintMarket;
void footprint_market(const FootprintSettings *fs, const FootprintFigures *f, FootprintMarket *ret);

/* Per request figures: NAN when the row counted no requests. */
double footprint_per_request(double value, const FootprintFigures *f);

/* A number given as a flag, in [min, max]; prints the error naming the flag. */
int footprint_parse_flag(const char *cmd, const char *flag, const char *value, double min,
                         double max, double *ret) __attribute__((warn_unused_result));
/* Applies --country, --intensity, --pue, --te-g, --el-hours, --market-intensity style flags
 * common to sci, report, compare and export. */
#define FOOTPRINT_OPT_BASE 1000
enum {
        FOOTPRINT_OPT_COUNTRY = FOOTPRINT_OPT_BASE,
        FOOTPRINT_OPT_INTENSITY,
        FOOTPRINT_OPT_PUE,
        FOOTPRINT_OPT_TE,
        FOOTPRINT_OPT_EL,
        FOOTPRINT_OPT_MARKET,
};
#define FOOTPRINT_OPTIONS                                                                          \
        {"country", required_argument, NULL, FOOTPRINT_OPT_COUNTRY},                               \
                {"intensity", required_argument, NULL, FOOTPRINT_OPT_INTENSITY},                   \
                {"pue", required_argument, NULL, FOOTPRINT_OPT_PUE},                               \
                {"te-g", required_argument, NULL, FOOTPRINT_OPT_TE},                               \
                {"el-hours", required_argument, NULL, FOOTPRINT_OPT_EL},                           \
        {                                                                                          \
                "market-intensity", required_argument, NULL, FOOTPRINT_OPT_MARKET                  \
        }
#define FOOTPRINT_OPTIONS_HELP                                                                     \
        "Carbon settings (default: joulesd's [carbon] section, kept in the history):\n"            \
        "  --country CC          built-in yearly grid intensity (Ember 2024), e.g. DE\n"           \
        "  --intensity G         a fixed gCO2e/kWh for every hour (no series)\n"                   \
        "  --pue X               power usage effectiveness, >= 1 (default 1.0)\n"                  \
        "  --te-g G              the host's embodied emissions in grams (default 0)\n"             \
        "  --el-hours H          its expected lifetime (default 35040 h, 4 years)\n"               \
        "  --market-intensity G  market-based factor, reported beside, never in SCI\n"

/* Records one of the options above in the pending overrides; 1 when c was one of them, 0 when
 * not, -EINVAL after printing the error. */
typedef struct FootprintOverrides {
        FootprintSettings v;
        bool country, intensity, pue, te, el, market;
} FootprintOverrides;
int footprint_option(const char *cmd, int c, const char *arg, FootprintOverrides *o)
        __attribute__((warn_unused_result));
/* footprint_option, and before it the --since/--until/--from/--to range (cli_range_option) that
 * every command reading a window takes: 1 when c was one of them, 0 when not, -EINVAL after
 * printing the error. */
struct CliContext;
int footprint_window_option(const struct CliContext *ctx, const char *cmd, int c, const char *arg,
                            int64_t *from, int64_t *to, FootprintOverrides *o)
        __attribute__((warn_unused_result));
void footprint_apply(FootprintSettings *fs, const FootprintOverrides *o);
/* Opens the history and loads its settings with the overrides applied; prints errors. */
Store *footprint_open(const char *cmd, const char *db_path, const FootprintOverrides *o,
                      FootprintSettings *ret);
