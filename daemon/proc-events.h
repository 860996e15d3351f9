#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "collectors/perf-events.h"

/* Perf counters per process, for the busy processes only.
 *
 * Which processes. Those the daemon stores per tick (the top `top_processes` of each active unit)
 * are marked busy with proc_events_busy(); a busy process without counters gets them then
 * (perf_events_add_process: every thread, inherit=1, the start time checked after the opens), so
 * it is counted from the next read on. A process not marked busy for `idle_ticks` reads in a row
 * has its counters read one last time and closed. Descriptors therefore grow with the busy
 * processes (n_events per thread of each), never with every process on the host.
 *
 * Identity. A process is (pid, start time): a PID reused by a new process is a new entry with new
 * counters, and the old entry keeps (and reports) only what the old process did.
 *
 * Counts. proc_events_read() reads every open entry once per tick and returns the deltas since the
 * previous read (scaled as perf-events.h says; a scaled count that steps back gives 0). A counter
 * starts at 0 when opened, so the first read's delta holds everything since the open. The counters
 * of a process that exited keep their final values, so what it did before exiting comes with the
 * next read, nothing lost. Rows are returned only for entries whose deltas are not all 0. */

typedef struct ProcEventsRow {
        int64_t unit_id; /* as last marked busy */
        pid_t pid;
        uint64_t start_time; /* clock ticks after boot */
        uint64_t delta[PERF_EVENTS_MAX];
} ProcEventsRow;

typedef struct ProcEvents ProcEvents;

#define PROC_EVENTS_IDLE_DEFAULT 10 /* ticks */

/* pe must outlive the tracker. idle_ticks >= 1. */
int proc_events_new(PerfEvents *pe, unsigned idle_ticks, ProcEvents **ret) WARN_UNUSED;
/* Closes every entry's counters. Accepts NULL; returns NULL. */
ProcEvents *proc_events_free(ProcEvents *p);
void proc_events_set_idle(ProcEvents *p, unsigned idle_ticks);

/* Once per tick: reads every open entry, closes the idle ones (after reading them) and those that
 * cannot be read. *ret valid until the next call. */
int proc_events_read(ProcEvents *p, const ProcEventsRow **ret, size_t *ret_n) WARN_UNUSED;
/* Marks (pid, start_time) busy in this tick, opening its counters when it has none. 0 when counted
 * (now or already); -ESRCH when the process is gone or its PID was reused; -EOPNOTSUPP/-EACCES/
 * -EMFILE and the like as perf-events.h says (perf_events_reason() has the words). A process whose
 * counters could not be opened for any reason but -ESRCH is not tried again until it has been idle
 * for idle_ticks (-EAGAIN meanwhile), so a refusing kernel costs one attempt per process, not one
 * per tick. */
int proc_events_busy(ProcEvents *p, int64_t unit_id, pid_t pid, uint64_t start_time) WARN_UNUSED;

/* Processes counted now, and counter groups open (one per counted thread). */
size_t proc_events_n_open(const ProcEvents *p);
size_t proc_events_n_groups(const ProcEvents *p);
