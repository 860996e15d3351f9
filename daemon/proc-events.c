#include "daemon/proc-events.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"

typedef struct ProcEntry {
        pid_t pid;
        uint64_t start_time;
        int64_t unit_id;
        PerfTarget *target; /* NULL: opening failed, remembered so it is not retried each tick */
        uint64_t last_busy; /* the tick it was last marked busy */
        uint64_t prev[PERF_EVENTS_MAX];
} ProcEntry;

struct ProcEvents {
        PerfEvents *pe;
        size_t n_events;
        unsigned idle_ticks;
        uint64_t tick;
        ProcEntry *entries;
        size_t n, cap;
        ProcEventsRow *rows;
        size_t cap_rows;
};

int proc_events_new(PerfEvents *pe, unsigned idle_ticks, ProcEvents **ret)
{
        assert(pe);
        ProcEvents *p = calloc(1, sizeof(*p));
        if (!p)
                return -ENOMEM;
        p->pe = pe;
        p->n_events = perf_events_n(pe);
        p->idle_ticks = idle_ticks ? idle_ticks : 1;
        *ret = p;
        return 0;
}

ProcEvents *proc_events_free(ProcEvents *p)
{
        if (!p)
                return NULL;
        for (size_t i = 0; i < p->n; i++)
                (void)perf_events_remove(p->pe, p->entries[i].target);
        free(p->entries);
        free(p->rows);
        free(p);
        return NULL;
}

void proc_events_set_idle(ProcEvents *p, unsigned idle_ticks)
{
        p->idle_ticks = idle_ticks ? idle_ticks : 1;
}

static void proc_events_drop(ProcEvents *p, size_t i)
{
        if (p->entries[i].target)
                log_debug("perf counters of process %d (start %llu) closed", (int)p->entries[i].pid,
                          (unsigned long long)p->entries[i].start_time);
        (void)perf_events_remove(p->pe, p->entries[i].target);
        p->entries[i] = p->entries[--p->n];
}

int proc_events_read(ProcEvents *p, const ProcEventsRow **ret, size_t *ret_n)
{
        if (p->cap_rows < p->n) {
                size_t cap = p->n * 2;
                ProcEventsRow *m = realloc(p->rows, cap * sizeof(*m));
                if (!m)
                        return -ENOMEM;
                p->rows = m;
                p->cap_rows = cap;
        }
        p->tick++;
        size_t nr = 0;
        uint64_t counts[PERF_EVENTS_MAX];
        for (size_t i = 0; i < p->n;) {
                ProcEntry *e = &p->entries[i];
                bool idle = p->tick - e->last_busy > p->idle_ticks;
                if (!e->target) {
                        if (idle)
                                proc_events_drop(p, i);
                        else
                                i++;
                        continue;
                }
                if (perf_events_read(p->pe, e->target, counts, PERF_EVENTS_MAX) < 0) {
                        log_debug("perf counters of process %d: %s", (int)e->pid,
                                  perf_events_reason(p->pe));
                        proc_events_drop(p, i);
                        continue;
                }
                ProcEventsRow *row = &p->rows[nr];
                bool any = false;
                for (size_t k = 0; k < p->n_events; k++) {
                        row->delta[k] = perf_events_advance(&e->prev[k], counts[k]);
                        any |= row->delta[k] > 0;
                }
                if (any) {
                        row->unit_id = e->unit_id;
                        row->pid = e->pid;
                        row->start_time = e->start_time;
                        nr++;
                }
                if (idle)
                        proc_events_drop(p, i); /* read above: nothing counted is lost */
                else
                        i++;
        }
        *ret = p->rows;
        *ret_n = nr;
        return 0;
}

int proc_events_busy(ProcEvents *p, int64_t unit_id, pid_t pid, uint64_t start_time)
{
        for (size_t i = 0; i < p->n; i++) {
                ProcEntry *e = &p->entries[i];
                if (e->pid == pid && e->start_time == start_time) {
                        e->last_busy = p->tick;
                        e->unit_id = unit_id;
                        return e->target ? 0 : -EAGAIN;
                }
        }
        if (p->n == p->cap) {
                size_t cap = p->cap ? p->cap * 2 : 64;
                ProcEntry *m = realloc(p->entries, cap * sizeof(*m));
                if (!m)
                        return -ENOMEM;
                p->entries = m;
                p->cap = cap;
        }
        PerfTarget *t = NULL;
        int r = perf_events_add_process(p->pe, pid, start_time, &t);
        if (r == -ESRCH)
                return r; /* gone: nothing to remember */
        if (r >= 0)
                log_debug("perf counters of process %d (start %llu) opened: %zu threads", (int)pid,
                          (unsigned long long)start_time, perf_target_n_groups(t));
        p->entries[p->n++] = (ProcEntry){
                .pid = pid,
                .start_time = start_time,
                .unit_id = unit_id,
                .target = r < 0 ? NULL : t,
                .last_busy = p->tick,
        };
        return r;
}

size_t proc_events_n_open(const ProcEvents *p)
{
        size_t n = 0;
        for (size_t i = 0; i < p->n; i++)
                n += p->entries[i].target != NULL;
        return n;
}

size_t proc_events_n_groups(const ProcEvents *p)
{
        size_t n = 0;
        for (size_t i = 0; i < p->n; i++)
                if (p->entries[i].target)
                        n += perf_target_n_groups(p->entries[i].target);
        return n;
}
