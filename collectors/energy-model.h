#pragma once

#include <stdint.h>

#include "collectors/energy.h"

/* The energy source `model`: no RAPL (cloud VMs, most CI machines), so power is estimated from CPU
 * utilisation in <procfs>/stat with a linear per-vCPU model. It has one domain, "model", whose
 * cumulative counter the source integrates itself; ops->estimated is true and everything derived
 * from it is labelled estimated. */

/* P = ncpu * (idle_w + (max_w - idle_w) * util) in watts, util clamped to [0, 1]. */
double energy_model_power_w(double util, unsigned ncpu, double idle_w, double max_w);

/* Test hook: the clock (nanoseconds, CLOCK_MONOTONIC by default) the model integrates power
 * over; NULL restores the real one. Not thread-safe. */
void energy_model_set_clock(uint64_t (*now_ns)(void));
