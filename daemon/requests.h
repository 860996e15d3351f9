#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "collectors/roots.h"
#include "common/util.h"
#include "daemon/config.h"
#include "storage/store.h"

/* Requests per unit per tick, merged from the three sources of issue 5:
 *   - the ingest socket (daemon/ingest.h): StatsD counters sent by the services themselves;
 *   - Prometheus counters scraped from a service's /metrics (daemon/scrape.h);
 *   - access-log lines (daemon/accesslog.h).
 * Counts are accumulated per (unit display name, metric name) between ticks; requests_tick()
 * hands them over as rows for the StoreTick and starts the next tick from zero. The number of
 * distinct (unit, metric) pairs per tick is capped (REQUESTS_PAIRS_MAX) so a sender inventing
 * metric names cannot grow the daemon's memory, and so is the number of metric names per unit
 * (REQUESTS_NAMES_PER_UNIT) so one service inventing names cannot crowd the others out: counts
 * beyond either are refused (the ingest socket counts those lines as rejected). */

#define REQUESTS_PAIRS_MAX      1024
#define REQUESTS_NAMES_PER_UNIT 32 /* so one unit cannot take every pair from the others */

typedef struct Requests Requests;

typedef struct RequestsTick {
        const StoreRequestValue *values;
        size_t n_values;
        const StoreIngestStats *ingest; /* NULL without an ingest socket */
} RequestsTick;

/* Opens the ingest socket (unless cfg->ingest_socket is empty), starts the scrapes and opens the
 * access logs configured in cfg. A socket that cannot be opened is logged and left out (energy
 * is still measured); err is filled only for hard failures. */
int requests_new(const JoulesConfig *cfg, const JoulesRoots *roots, Store *store, Requests **ret,
                 char *err, size_t errlen) WARN_UNUSED;
Requests *requests_free(Requests *r);

/* The ingest socket's fd for the poll set, or -1. */
int requests_fd(const Requests *r);
/* Call when requests_fd() is readable. */
void requests_handle(Requests *r);
/* Before this CLOCK_MONOTONIC time (ns) requests_fd() can be left out of the poll set (0: never):
 * ingest_read_after_ns. */
uint64_t requests_read_after_ns(const Requests *r);

/* Adds a count (for tests and the sources). false when refused by a limit. */
bool requests_add(Requests *r, const char *unit, const char *metric, double count);

/* Collects the sources (access logs are read here, scrape results taken) and returns the tick's
 * rows; valid until the next call. */
int requests_tick(Requests *r, RequestsTick *ret) WARN_UNUSED;
