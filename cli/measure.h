#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "storage/store.h"

/* One measured run of a command, from the running joulesd's history: what `joules run` prints
 * and what `joules ab` repeats. The window is whole ticks: from the end of the last tick that
 * ended before the command started to the end of the first tick that ended after it exited, so
 * the figures are exactly `joules services --since FROM --until TO` for the unit. */

/* Where the request count comes from. */
typedef enum MeasureRequests {
        MEASURE_REQ_NONE,
        MEASURE_REQ_WRK, /* parsed from the command's output */
        MEASURE_REQ_AB,
        MEASURE_REQ_HEY,
        MEASURE_REQ_HTTPERF,
        MEASURE_REQ_INGEST, /* the unit's own counts in the history over the window */
} MeasureRequests;

/* "wrk", "ab", "hey", "httperf", "ingest" or "none"; -EINVAL for anything else. */
int measure_requests_parse(const char *name, MeasureRequests *ret)
        __attribute__((warn_unused_result));
const char *measure_requests_name(MeasureRequests r);
/* The tool a command line names (its first word's basename); NONE when it is no known tool. */
MeasureRequests measure_requests_guess(const char *argv0);

/* The request count in a load generator's output. -ENODATA when the output has none, -EINVAL
 * for a source that is not a load tool's output. */
int measure_parse_requests(MeasureRequests tool, const char *text, double *ret)
        __attribute__((warn_unused_result));
/* The mean latency in milliseconds the load generator printed (wrk's Latency Avg, ab's "Time
 * per request ... (mean)" across all concurrent requests' first line, hey's Average, httperf's
 * "Reply time [ms]: response"). -ENODATA when absent. */
int measure_parse_latency_ms(MeasureRequests tool, const char *text, double *ret)
        __attribute__((warn_unused_result));

/* Is a daemon writing this history? The latest run's tick interval, or -ESTALE (no tick in the
 * last three intervals plus a second) / -ENODATA (no tick at all), having said so on stderr
 * prefixed by cmd. */
int measure_check_daemon(Store *s, const char *cmd, const char *db_path, uint64_t *ret_interval_us)
        __attribute__((warn_unused_result));

typedef struct MeasureOptions {
        const char *cmd;     /* "joules run": prefix of the messages */
        const char *db_path; /* for the messages */
        uint64_t interval_us;
        const char *unit;    /* whose energy; NULL: the command's own scope (needs root) */
        const char *cg_root; /* the cgroup v2 mount for the scope; NULL: from mountinfo */
        MeasureRequests requests;
        FILE *relay; /* where the command's stdout goes while it runs; NULL: not shown */
} MeasureOptions;

#define MEASURE_EVENTS_MAX 8

typedef struct Measure {
        char unit[300];
        int64_t from_us, to_us; /* the window, whole ticks */
        double duration_s;      /* the command's own */
        double window_s;
        bool found; /* the unit drew energy in the window */
        double energy_j, active_j, idle_j, cpu_s;
        double instructions, cycles; /* the unit's perf counts in the window; NAN: none
                                      * (no hardware counters, or joulesd --events without) */
        /* every perf event counted for the unit in the window, in the history's order */
        char event_names[MEASURE_EVENTS_MAX][128];
        double event_totals[MEASURE_EVENTS_MAX];
        size_t n_events;
        double requests;   /* NAN: no count */
        double latency_ms; /* NAN: the tool printed none */
        bool estimated;
        double host_energy_j;
        int status;   /* the command's wait status */
        char *output; /* its stdout (the first MEASURE_OUTPUT_MAX bytes) when parsed; else NULL */
} Measure;

#define MEASURE_OUTPUT_MAX (1u << 20)

/* Runs argv (through execvp) and measures it. The caller ignores SIGINT/SIGTERM around it so
 * that Ctrl-C stops the command and the run is still reported. Returns 0 with ret filled
 * (whatever the command's exit status), or a negative errno after saying why on stderr: joules
 * could not measure. */
int measure_run(Store *s, const MeasureOptions *o, char **argv, Measure *ret)
        __attribute__((warn_unused_result));
void measure_done(Measure *m);
