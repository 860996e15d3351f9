#include "collectors/energy-delta.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"

static const char *const status_names[_ENERGY_DELTA_STATUS_MAX] = {
        [ENERGY_DELTA_OK] = "ok",
        [ENERGY_DELTA_WRAPPED] = "wrapped",
        [ENERGY_DELTA_NO_MAX] = "counter went back and max_energy_range_uj is unknown",
        [ENERGY_DELTA_BACKWARDS] = "counter went back",
        [ENERGY_DELTA_OUT_OF_RANGE] = "reading above max_energy_range_uj",
        [ENERGY_DELTA_TOO_HIGH] = "implausible power (above the sane bound)",
        [ENERGY_DELTA_UNREADABLE] = "unreadable",
        [ENERGY_DELTA_AMBIGUOUS] = "interval long enough for the counter to wrap more than once",
};

bool energy_delta_ambiguous(double last_w, uint64_t dt_us, uint64_t max_range_uj)
{
        return max_range_uj > 0 && last_w > 0 && last_w * (double)dt_us >= (double)max_range_uj;
}

const char *energy_delta_status_to_string(EnergyDeltaStatus s)
{
        if ((unsigned)s >= _ENERGY_DELTA_STATUS_MAX)
                return "invalid";
        return status_names[s];
}

EnergyDeltaStatus energy_delta(uint64_t prev, uint64_t cur, bool wraps, uint64_t max_range_uj,
                               uint64_t dt_us, double max_watts, uint64_t *ret_uj)
{
        uint64_t d;
        EnergyDeltaStatus st = ENERGY_DELTA_OK;

        if (wraps && max_range_uj > 0 && (cur > max_range_uj || prev > max_range_uj))
                return ENERGY_DELTA_OUT_OF_RANGE;
        if (cur >= prev) {
                d = cur - prev;
        } else if (!wraps) {
                return ENERGY_DELTA_BACKWARDS;
        } else if (max_range_uj == 0) {
                return ENERGY_DELTA_NO_MAX;
        } else {
                d = cur + (max_range_uj - prev);
                st = ENERGY_DELTA_WRAPPED;
        }
        /* W * us = µJ. Compared in floating point: the bound need not be exact, only safe. */
        if (max_watts > 0 && (double)d > max_watts * (double)dt_us)
                return ENERGY_DELTA_TOO_HIGH;
        *ret_uj = d;
        return st;
}

int energy_tracker_init(EnergyTracker *t, size_t n, double max_watts)
{
        *t = (EnergyTracker){.n = n, .max_watts = max_watts};
        t->prev_uj = calloc(n ? n : 1, sizeof(uint64_t));
        t->have_prev = calloc(n ? n : 1, sizeof(bool));
        t->last_w = calloc(n ? n : 1, sizeof(double));
        if (!t->prev_uj || !t->have_prev || !t->last_w) {
                energy_tracker_done(t);
                return -ENOMEM;
        }
        return 0;
}

void energy_tracker_done(EnergyTracker *t)
{
        free(t->prev_uj);
        free(t->have_prev);
        free(t->last_w);
        t->prev_uj = NULL;
        t->have_prev = NULL;
        t->last_w = NULL;
}

int energy_interval_init(EnergyInterval *iv, size_t n)
{
        *iv = (EnergyInterval){0};
        iv->delta_uj = calloc(n ? n : 1, sizeof(uint64_t));
        iv->status = calloc(n ? n : 1, sizeof(EnergyDeltaStatus));
        if (!iv->delta_uj || !iv->status) {
                energy_interval_done(iv);
                return -ENOMEM;
        }
        return 0;
}

void energy_interval_done(EnergyInterval *iv)
{
        free(iv->delta_uj);
        free(iv->status);
        iv->delta_uj = NULL;
        iv->status = NULL;
}

int energy_tracker_step(EnergyTracker *t, const EnergyDomain *domains, const uint64_t *cur_uj,
                        const bool *valid, uint64_t mono_us, EnergyInterval *out)
{
        bool first = !t->have_time;
        uint64_t dt = first ? 0 : mono_us - t->prev_mono_us;
        t->prev_mono_us = mono_us;
        t->have_time = true;

        out->dt_us = dt;
        out->host_uj = 0;
        out->host_valid = true;
        out->n_dropped = 0;
        for (size_t i = 0; i < t->n; i++) {
                EnergyDeltaStatus st;
                if (!valid[i] || !t->have_prev[i] || first) {
                        st = ENERGY_DELTA_UNREADABLE;
                } else {
                        st = energy_delta(t->prev_uj[i], cur_uj[i], domains[i].wraps,
                                          domains[i].max_range_uj, dt, t->max_watts,
                                          &out->delta_uj[i]);
                        if (energy_delta_valid(st) && domains[i].wraps &&
                            energy_delta_ambiguous(t->last_w[i], dt, domains[i].max_range_uj))
                                st = ENERGY_DELTA_AMBIGUOUS;
                }
                /* A domain with no baseline yet is not a drop: it is being (re)started. */
                bool baseline_only = valid[i] && (!t->have_prev[i] || first);
                out->status[i] = st;
                if (!energy_delta_valid(st)) {
                        out->delta_uj[i] = 0;
                        if (domains[i].in_host)
                                out->host_valid = false;
                        if (!baseline_only && !first) {
                                out->n_dropped++;
                                t->dropped++;
                        }
                } else {
                        if (st == ENERGY_DELTA_WRAPPED)
                                t->wrapped++;
                        if (dt > 0)
                                t->last_w[i] = (double)out->delta_uj[i] / (double)dt;
                        if (domains[i].in_host)
                                out->host_uj += out->delta_uj[i];
                }
                t->have_prev[i] = valid[i];
                if (valid[i])
                        t->prev_uj[i] = cur_uj[i];
        }
        return first ? 0 : 1;
}
