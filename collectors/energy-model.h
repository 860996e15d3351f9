#pragma once

#include <stdint.h>

#include "collectors/energy.h"

/* The energy source `model`: no RAPL (cloud VMs, most CI machines), so power is estimated from CPU
 * utilisation (the root cgroup's cpu.stat, or <procfs>/stat; energy-model.c) through a power curve
 * (EnergyOptions: configured, the two-point per-CPU line, or the CPU-aware default of
 * power-defaults.h from <procfs>/cpuinfo and <sysfs>/class/dmi/id). Its domains: "model" (the
 * curve) and, where <procfs>/meminfo gives MemTotal, "dram" (constant, MemTotal x CCF's W per GB),
 * both in the host total; the source integrates their cumulative counters itself. ops->estimated is
 * true and everything derived from it is labelled estimated; EnergySource.model says how. */

/* The CPU model of a /proc/cpuinfo text: the first "model name", or on ARM (which names none)
 * "ARM <implementer> <part>" ("ARM 0x41 0xd0c"). 0, or -ENOENT with model "". Pure. */
int energy_model_cpuinfo(const char *text, char *model, size_t size);

/* MemTotal of a /proc/meminfo text in KiB: 0, -ENOENT (absent) or -EINVAL. Pure. */
int energy_model_meminfo_kib(const char *text, uint64_t *ret);

/* Test hook: the clock (nanoseconds, CLOCK_MONOTONIC by default) the model integrates power
 * over; NULL restores the real one. Not thread-safe. */
void energy_model_set_clock(uint64_t (*now_ns)(void));
