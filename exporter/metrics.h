#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "exporter/expose.h"
#include "storage/store.h"

/* What joules-exporter serves, built from one read of the history: pure, so the page is tested
 * from tables (hostile unit names, both formats) without a server.
 *
 * Series (cardinality): 1 host + D domains + 2 U units (active, idle) + U CPU + Q (unit, request
 * metric) pairs + 14 fixed ones (measured seconds, dropped intervals, info, intensity, PUE,
 * embodied rate, last tick, its age, history_up, build info, scrape duration, process CPU, RSS,
 * start time), plus N processes with --top-processes N. */

typedef struct MetricsProcess {
        char unit[STORE_NAME_MAX];
        int pid;
        char comm[64];
        double power_w;
} MetricsProcess;

typedef struct MetricsInput {
        const char *version;
        bool history_up;             /* false: only the exporter's own metrics and up = 0 */
        const StoreTotals *totals;   /* when history_up */
        int64_t now_us;              /* wall clock of the scrape */
        bool carbon;                 /* the carbon gauges below are known */
        double intensity_g_per_kwh;  /* in force now (imported series, configured, or table) */
        double pue;                  /* >= 1 */
        double embodied_g_per_s;     /* TE / EL: the host's embodied emissions per second */
        const MetricsProcess *procs; /* --top-processes: highest power first */
        size_t n_procs;
        double process_cpu_s;
        uint64_t process_rss_bytes;
        double process_start_s;
        double scrape_duration_s;
} MetricsInput;

/* Renders the page; false when out of memory (b->oom). */
bool metrics_render(const MetricsInput *in, ExpoFormat f, ExpoBuf *b);
