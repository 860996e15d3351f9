#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Attribution: how one tick's measured host energy is split over units (services and pseudo-units
 * such as `kernel` and `unattributed`) and, inside a service, over its processes. Pure functions:
 * no I/O, and nothing here allocates; callers hand in the output arrays.
 *
 * The rules, in plain words:
 *
 * 1. Idle and active. E is the host's measured energy in the tick (integer microjoules) and dt
 *    its length (microseconds). Idle energy is E_idle = min(E, floor(P_idle * dt)): P_idle in
 *    watts times dt in microseconds gives microjoules; the product is one IEEE-754 double
 *    multiplication, rounded down to an integer, so the same inputs always give the same result.
 *    Active energy is E_act = E - E_idle.
 *
 * 2. Shares. Each unit has a weight w (delta CPU cycles where hardware counters work, otherwise
 *    delta CPU time in ns); W is the sum of all weights, computed in 128 bits so it never
 *    overflows. A unit's exact share of an amount T is T * w / W. Every unit first gets the
 *    integer part of its share; the microjoules left over (fewer than the number of units) go
 *    one each to the units with the largest fractional parts (the largest-remainder method).
 *    So the parts always sum to T exactly, and every part is its exact share rounded down or up:
 *    never more than 1 uJ away from it. A unit with weight 0 gets 0.
 *
 * 3. Ties. When two units have the same fractional part, the one with the larger weight gets the
 *    extra microjoule first; with equal weights too, the one listed first (lower index). Units
 *    with equal weights therefore always get amounts that differ by at most 1 uJ, and the result
 *    for any unit does not depend on the order of the others except through this rule.
 *
 * 4. Active and idle columns. Active energy is split by rule 2; idle energy is split by the same
 *    weights and kept in its own column, so a report can charge units for active energy only,
 *    or for active plus their share of idle.
 *
 * 5. No activity. When every weight is 0 (W == 0, or no units at all), nothing ran in the tick,
 *    so the whole of E counts as idle energy and none of it is given to any unit: it stays with
 *    the host as unallocated idle (idle_total_uj = unallocated_idle_uj = E, active_total_uj = 0).
 *    There is no separate "unallocated active" figure.
 *
 * 6. Invariant, every tick: sum over units of (active + idle) + unallocated idle == E, exactly.
 *
 * 7. Processes. Inside a service, its active and idle energy are split over its processes by
 *    their CPU time in the tick, with rules 2 and 3, plus one more bucket, "exited/other", whose
 *    weight is the service's CPU time (from its cgroup) minus the sum over the processes seen,
 *    or 0 when the processes seen add up to more (the two are read at slightly different times).
 *    Processes that exited during the tick are accounted for there, so the live processes are
 *    never inflated. The bucket comes after the processes in the tie rule. If no CPU time at all
 *    is known, the whole of the service's figures go to "exited/other". The parts always sum to
 *    the service's figures exactly.
 *
 * 8. Learned idle power. Without a configured P_idle, the daemon learns it as the host's lowest
 *    sustained power: a low percentile (default the 5th) of the per-tick power (E / dt) over a
 *    sliding window of the last ticks (default 3600). The percentile is read by rank: with c
 *    ticks in the window, sorted from lowest to highest, it is the one at index
 *    floor(p * (c - 1) / 100), counting from 0. A few short dips therefore do not count: with
 *    the defaults, up to 5% of the window (179 ticks) can dip below the sustained level without
 *    moving the estimate. After the host's power steps down, the estimate follows once p% of
 *    the window is at the new level; after it steps up, once (100 - p)% is. Until a minimum
 *    number of ticks (default 60) has been seen, the learned idle power is 0 W, so nothing is
 *    counted as idle before there is evidence for it. On a host that never rests, the learned
 *    figure includes the floor of its steady load; configure idle_w when the real idle power is
 *    known. */

/* Splits total over n weights by the largest-remainder method (rules 2 and 3): out[i] is
 * total * weights[i] / sum(weights) rounded down or up, and the out[i] sum to total exactly.
 * Returns 0; -EDOM when total > 0 and every weight is 0 (or n == 0), in which case nothing can be
 * apportioned and out is all zeros. */
int attr_apportion(uint64_t total, const uint64_t *weights, size_t n, uint64_t *out);

typedef struct AttrInput {
        uint64_t energy_uj;      /* E: measured host energy in the tick */
        uint64_t dt_us;          /* tick length */
        double idle_w;           /* P_idle, configured or attr_idle_watts(); >= 0, may be +inf */
        const uint64_t *weights; /* n_units weights (cycles or CPU ns) */
        size_t n_units;
} AttrInput;

typedef struct AttrResult {
        uint64_t *active_uj;          /* caller-provided, n_units entries */
        uint64_t *idle_uj;            /* caller-provided, n_units entries */
        uint64_t active_total_uj;     /* E_act, the sum of active_uj */
        uint64_t idle_total_uj;       /* E_idle: sum of idle_uj + unallocated_idle_uj */
        uint64_t unallocated_idle_uj; /* idle energy no unit was given (rule 5) */
} AttrResult;

/* One tick's split (rules 1 to 6). Fills out's arrays and totals. Returns 0, or -EINVAL when
 * idle_w is negative or NaN (out is then untouched). Never allocates. */
int attr_split(const AttrInput *in, AttrResult *out) __attribute__((warn_unused_result));

/* Checks rule 6 on a result: true when the parts sum to energy_uj and the totals agree. For the
 * daemon's per-tick self-check and for tests. */
bool attr_result_conserves(const AttrResult *r, size_t n_units, uint64_t energy_uj);

typedef struct AttrProcSplit {
        uint64_t *active_uj;      /* caller-provided, n_procs entries */
        uint64_t *idle_uj;        /* caller-provided, n_procs entries */
        uint64_t other_active_uj; /* the "exited/other" bucket */
        uint64_t other_idle_uj;
} AttrProcSplit;

/* Splits one service's figures over its processes (rule 7): proc_cpu_ns[i] is process i's CPU
 * time in the tick, service_cpu_ns the service's CPU time from its cgroup in the same tick. */
void attr_split_processes(uint64_t active_uj, uint64_t idle_uj, uint64_t service_cpu_ns,
                          const uint64_t *proc_cpu_ns, size_t n_procs, AttrProcSplit *out);

/* The idle-power learner (rule 8). A fixed-size value the caller keeps; pushing never
 * allocates. */
#define ATTR_IDLE_WINDOW_MAX         3600
#define ATTR_IDLE_DEFAULT_WINDOW     3600
#define ATTR_IDLE_DEFAULT_MIN_TICKS  60
#define ATTR_IDLE_DEFAULT_PERCENTILE 5

typedef struct AttrIdleLearner {
        size_t window;                       /* ticks kept, 1..ATTR_IDLE_WINDOW_MAX */
        size_t min_ticks;                    /* ticks seen before the estimate leaves 0 W */
        unsigned percentile;                 /* 0..100 */
        size_t count;                        /* ticks in the window now */
        size_t head;                         /* next slot of ring */
        uint64_t seen;                       /* ticks pushed since init */
        double ring[ATTR_IDLE_WINDOW_MAX];   /* per-tick power, in arrival order */
        double sorted[ATTR_IDLE_WINDOW_MAX]; /* the same values, ascending */
} AttrIdleLearner;

/* Starts a learner; 0 for any argument picks its default. */
void attr_idle_init(AttrIdleLearner *l, size_t window, size_t min_ticks, unsigned percentile);

/* Adds one tick's measured energy. Returns 0, or -EINVAL when dt_us is 0 (the tick is ignored).
 * Callers push only valid intervals (not dropped ones, not the first baseline reading). */
int attr_idle_push(AttrIdleLearner *l, uint64_t energy_uj, uint64_t dt_us);

/* The learned idle power in watts: 0 until min_ticks ticks have been seen, then the percentile
 * of the window. */
double attr_idle_watts(const AttrIdleLearner *l);
