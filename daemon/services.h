#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "collectors/roots.h"
#include "daemon/config.h"
#include "storage/store.h"

/* Per tick, from the host's measured energy to energy per systemd unit and per process:
 * CPU time per unit from the cgroup tree, weights from perf counters where the kernel gives them
 * (else CPU time), the conserving split of common/attribution.h, and the rows to store.
 *
 * Pseudo-units (stored with pseudo = 1):
 *   kernel        kernel threads and interrupt time (the root cgroup's own CPU time, see cgroup.h)
 *   unattributed  user processes in no unit, and CPU time of units seen for the first time
 *   idle          idle energy no unit was given: the whole tick when nothing ran
 * Every tick, the stored units' active + idle energy sums to the host's energy exactly.
 *
 * Weights. With working counters the weight is the first configured event's count (cycles by
 * default). Units counted per cgroup use their own count; the pseudo-units, a user manager (whose
 * cgroup holds its user units) and units whose counters could not be opened use their CPU time
 * converted at the tick's average count per CPU nanosecond over the counted units. When no unit
 * was counted in a tick, that tick falls back to CPU time for everyone.
 *
 * Per process. With working counters and process_events_idle > 0, the processes stored each tick
 * (the top top_processes of each active unit, and of unattributed) are counted too, with the same
 * events (daemon/proc-events.h); their counts are read right after the units' and stored per
 * process and event. They only describe; the split inside a unit stays by CPU time. */

typedef struct Services Services;

typedef struct ServicesTick {
        const StoreUnitValue *units;
        const char *const *unit_names; /* n_units, for display */
        size_t n_units;
        const StoreProcValue *procs;
        size_t n_procs;
        const StoreCounterValue *counters;
        size_t n_counters;
        size_t n_active; /* units (not pseudo) with energy this tick */
        /* Per-process perf counts of this tick (see daemon/proc-events.h): a row per counted
         * process and event with a nonzero count. */
        const StoreProcCounterValue *proc_counters;
        size_t n_proc_counters;
} ServicesTick;

/* source_idle_w: the energy source's own idle power (the model), 0 if it has none. err says what
 * failed: -EINVAL for an event list libpfm4 cannot encode (a configuration error). */
int services_new(const JoulesConfig *cfg, const JoulesRoots *roots, Store *store,
                 double source_idle_w, Services **ret, char *err, size_t errlen)
        __attribute__((warn_unused_result));
Services *services_free(Services *s);

/* Reads the units' CPU time and counters. With baseline, only sets the starting point. Otherwise
 * splits host_uj (when host_valid; else only CPU time is recorded) over dt_us. The arrays in *ret
 * stay valid until the next call. */
int services_tick(Services *s, bool baseline, bool host_valid, uint64_t host_uj, uint64_t dt_us,
                  ServicesTick *ret) __attribute__((warn_unused_result));

/* "cycles", another event name, or "cpu-time"; and why it is not the configured event. */
const char *services_weight(const Services *s);
const char *services_weight_reason(const Services *s);
double services_idle_w(const Services *s);

/* Applies the attribution settings that may change while running (a reload): idle_power and
 * top_processes. The cgroup tree, the perf events and the roots stay as they were opened. */
int services_reconfigure(Services *s, const JoulesConfig *cfg) __attribute__((warn_unused_result));
