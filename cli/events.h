#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "cli/json.h"
#include "storage/store.h"

/* Perf event counts beside energy: totals per unit and per request, as `joules services`,
 * `report`, `compare` and `ab` show them. */

/* value per request: NAN (null in JSON, '-' in tables) when no request was counted or the count
 * is 0, never a division by zero. */
double events_per_request(double value, bool has_requests, double requests);

/* The rows of one unit in a list ordered by unit (store_read_unit_events): *ret_first and the
 * count returned; 0 when the unit has none. */
size_t events_of_unit(const StoreEventTotal *ev, size_t n, const char *unit, size_t *ret_first);

/* The event listed first in the history's order (the lowest event_id) among rows ev[0..n): the one
 * tables show per request. NULL when n is 0. */
const char *events_first(const StoreEventTotal *ev, size_t n);
/* The total of event `name` in rows ev[0..n); NAN when absent. */
double events_total(const StoreEventTotal *ev, size_t n, const char *name);

/* "events": {"<name>": {"total": N, "per_request": X or null}, ...} for rows ev[0..n). */
void events_json(JsonWriter *j, const char *key, const StoreEventTotal *ev, size_t n,
                 bool has_requests, double requests);

/* A count for a table column: "1.23G", "456M", "789k" or the integer; "-" when not finite. */
char *events_format(double v, char *buf, size_t size);
