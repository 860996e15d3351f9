#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "collectors/energy.h"

/* From two cumulative readings to the energy of one interval. Pure functions: the wraparound of
 * powercap counters and the sanity bound that keeps a counter reset, a permission change or a
 * misread from ever becoming a 53 kW spike (LESSONS.md #2). */

typedef enum EnergyDeltaStatus {
        ENERGY_DELTA_OK = 0,
        ENERGY_DELTA_WRAPPED,      /* valid: the counter wrapped once and was unwrapped */
        ENERGY_DELTA_NO_MAX,       /* dropped: the counter went back and its range is unknown */
        ENERGY_DELTA_BACKWARDS,    /* dropped: a counter that never wraps went back */
        ENERGY_DELTA_OUT_OF_RANGE, /* dropped: a reading above max_energy_range_uj */
        ENERGY_DELTA_TOO_HIGH,     /* dropped: more power than the sane bound */
        ENERGY_DELTA_UNREADABLE,   /* dropped: this or the previous reading failed */
        ENERGY_DELTA_AMBIGUOUS,    /* dropped: long enough for the counter to wrap twice */
        _ENERGY_DELTA_STATUS_MAX,
} EnergyDeltaStatus;

/* Delta in µJ between prev and cur for a counter that wraps at max_range_uj (wraps true; the
 * kernel's powercap counters run from 0 up to max_energy_range_uj) or never (perf, model).
 * After a wrap, delta = cur + max_range_uj - prev, as the powercap ABI defines it. An interval
 * implying more than max_watts over dt_us is dropped. *ret_uj is written only when the status
 * is OK or WRAPPED. */
EnergyDeltaStatus energy_delta(uint64_t prev, uint64_t cur, bool wraps, uint64_t max_range_uj,
                               uint64_t dt_us, double max_watts, uint64_t *ret_uj);

/* A wrapping counter read after an interval long enough that it may have gone round more than
 * once: a stalled sampler (a frozen VM, a stopped process) sees one wrap where there were two and
 * would lose a whole range silently. At the power of the last interval (last_w, W = µJ/µs), dt_us
 * would take the counter through its whole range or more: the number of wraps is then not known,
 * so the interval is dropped and counted. On real hardware (a 262 kJ range) that takes a stall of
 * 22 minutes at 200 W; the simulator's ranges of a few joules make it testable. */
bool energy_delta_ambiguous(double last_w, uint64_t dt_us, uint64_t max_range_uj);

static inline bool energy_delta_valid(EnergyDeltaStatus s)
{
        return s == ENERGY_DELTA_OK || s == ENERGY_DELTA_WRAPPED;
}
const char *energy_delta_status_to_string(EnergyDeltaStatus s);

/* Keeps the previous reading of each domain and turns each new one into an interval. The first
 * reading of a domain (at start-up, or after a failed read) is only a baseline. */
typedef struct EnergyTracker {
        size_t n;
        uint64_t *prev_uj;
        bool *have_prev;
        double *last_w; /* per domain: the power of its last valid interval; 0: none yet */
        uint64_t prev_mono_us;
        bool have_time;
        double max_watts; /* per domain */
        uint64_t dropped; /* intervals dropped since start, all domains */
        uint64_t wrapped; /* wraps undone since start */
} EnergyTracker;

typedef struct EnergyInterval {
        uint64_t dt_us;
        uint64_t *delta_uj;        /* n: valid only where energy_delta_valid(status[i]) */
        EnergyDeltaStatus *status; /* n */
        uint64_t host_uj;          /* sum of the in_host domains */
        bool host_valid;           /* false if any in_host domain dropped this interval */
        unsigned n_dropped;        /* domains dropped this interval */
} EnergyInterval;

int energy_tracker_init(EnergyTracker *t, size_t n_domains, double max_watts)
        __attribute__((warn_unused_result));
void energy_tracker_done(EnergyTracker *t);
int energy_interval_init(EnergyInterval *iv, size_t n_domains) __attribute__((warn_unused_result));
void energy_interval_done(EnergyInterval *iv);

/* Feeds one reading taken at mono_us. Returns 0 when it only set the baseline (nothing to
 * store), 1 when *out holds an interval. */
int energy_tracker_step(EnergyTracker *t, const EnergyDomain *domains, const uint64_t *cur_uj,
                        const bool *valid, uint64_t mono_us, EnergyInterval *out);
