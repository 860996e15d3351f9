#include "storage/store.h"
#include "storage/store-internal.h"

#include <errno.h>
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"

/* The read side of perf event counts: per unit (unit_counters) and per process
 * (process_counters), over the raw ticks of a range. Both tables are kept with the raw ticks
 * (deleted with them by retention) and never rolled up. */

/* The ticks of a range, as an IN list for tables keyed by tick_id first. */
#define RANGE_TICKS "(SELECT id FROM ticks WHERE ts_us > ?1 AND ts_us <= ?2)"

bool store_has_table(Store *s, const char *name)
{
        sqlite3_stmt *q = NULL;
        if (store_query(s, &q, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1") <
            0)
                return false;
        sqlite3_bind_text(q, 1, name, -1, SQLITE_STATIC);
        bool has = sqlite3_step(q) == SQLITE_ROW;
        sqlite3_finalize(q);
        return has;
}

int store_read_unit_events(Store *s, int64_t from_us, int64_t to_us, const char *unit,
                           StoreEventTotal **ret, size_t *ret_n)
{
        sqlite3_stmt *q = NULL;
        StoreEventTotal *v = NULL;
        size_t n = 0, cap = 0;
        int r = store_query(s, &q,
                            "SELECT u.name, e.name, TOTAL(c.value), e.id FROM unit_counters c"
                            " JOIN units u ON u.id = c.unit_id JOIN events e ON e.id = c.event_id"
                            " WHERE c.tick_id IN " RANGE_TICKS " AND (?3 IS NULL OR u.name = ?3)"
                            " GROUP BY c.unit_id, c.event_id ORDER BY u.name, c.event_id");
        if (r < 0)
                return r;
        sqlite3_bind_int64(q, 1, from_us);
        sqlite3_bind_int64(q, 2, to_us);
        if (unit)
                sqlite3_bind_text(q, 3, unit, -1, SQLITE_STATIC);
        int rc;
        while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
                if (n == cap) {
                        cap = cap ? cap * 2 : 16;
                        StoreEventTotal *m = realloc(v, cap * sizeof(*m));
                        if (!m) {
                                r = -ENOMEM;
                                goto out;
                        }
                        v = m;
                }
                StoreEventTotal *e = &v[n++];
                store_copy_text(e->unit, sizeof(e->unit), q, 0);
                store_copy_text(e->event, sizeof(e->event), q, 1);
                e->total = sqlite3_column_double(q, 2);
                e->event_id = sqlite3_column_int64(q, 3);
        }
        if (rc != SQLITE_DONE) {
                r = store_fail(s, rc, "reading event counts");
                goto out;
        }
        *ret = TAKE_PTR(v);
        *ret_n = n;
        r = 0;
out:
        sqlite3_finalize(q);
        free(v);
        return r;
}

void store_processes_done(StoreProcesses *p)
{
        if (!p)
                return;
        for (size_t i = 0; i < p->n_procs; i++)
                free(p->procs[i].events);
        free(p->procs);
        free(p->event_names);
        *p = (StoreProcesses){0};
}

static int proc_cmp_key(const StoreProcess *a, const char *unit, int pid, uint64_t start_time)
{
        int c = strcmp(a->unit, unit);
        if (c)
                return c;
        if (a->pid != pid)
                return a->pid < pid ? -1 : 1;
        if (a->start_time != start_time)
                return a->start_time < start_time ? -1 : 1;
        return 0;
}

static int proc_cmp_energy(const void *x, const void *y)
{
        const StoreProcess *a = x, *b = y;
        if (a->energy_j != b->energy_j)
                return a->energy_j > b->energy_j ? -1 : 1;
        if (a->pid != b->pid)
                return a->pid < b->pid ? -1 : 1;
        int c = strcmp(a->unit, b->unit);
        if (c)
                return c;
        return a->start_time < b->start_time ? -1 : a->start_time > b->start_time;
}

/* Appends a process with no events counted (all NAN). */
static StoreProcess *procs_add(StoreProcesses *p, size_t *cap)
{
        if (p->n_procs == *cap) {
                size_t c = *cap ? *cap * 2 : 64;
                StoreProcess *m = realloc(p->procs, c * sizeof(*m));
                if (!m)
                        return NULL;
                p->procs = m;
                *cap = c;
        }
        StoreProcess *x = &p->procs[p->n_procs];
        *x = (StoreProcess){0};
        x->events = malloc((p->n_events ? p->n_events : 1) * sizeof(double));
        if (!x->events)
                return NULL;
        for (size_t e = 0; e < p->n_events; e++)
                x->events[e] = NAN;
        p->n_procs++;
        return x;
}

/* The events counted for processes in the range, into p->event_names; ids[k] the k-th's id. */
static int procs_events(Store *s, int64_t from_us, int64_t to_us, StoreProcesses *p,
                        int64_t **ret_ids)
{
        sqlite3_stmt *q = NULL;
        int64_t *ids = NULL;
        int r = store_query(s, &q,
                            "SELECT e.id, e.name FROM events e WHERE e.id IN (SELECT DISTINCT"
                            " event_id FROM process_counters WHERE tick_id IN " RANGE_TICKS ")"
                            " ORDER BY e.id");
        if (r < 0)
                return r;
        sqlite3_bind_int64(q, 1, from_us);
        sqlite3_bind_int64(q, 2, to_us);
        int rc;
        while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
                size_t n = p->n_events + 1;
                int64_t *m = realloc(ids, n * sizeof(*m));
                char(*names)[128] = m ? realloc(p->event_names, n * sizeof(*names)) : NULL;
                if (m)
                        ids = m;
                if (!names) {
                        r = -ENOMEM;
                        goto out;
                }
                p->event_names = names;
                ids[p->n_events] = sqlite3_column_int64(q, 0);
                store_copy_text(p->event_names[p->n_events], sizeof(p->event_names[0]), q, 1);
                p->n_events++;
        }
        if (rc != SQLITE_DONE) {
                r = store_fail(s, rc, "reading event names");
                goto out;
        }
        *ret_ids = TAKE_PTR(ids);
        r = 0;
out:
        sqlite3_finalize(q);
        free(ids);
        return r;
}

static int read_process_list(Store *s, int64_t from_us, int64_t to_us, const char *unit,
                             StoreProcesses *ret)
{
        StoreProcesses p = {.from_us = from_us, .to_us = to_us};
        sqlite3_stmt *q = NULL;
        int64_t *ids = NULL;
        size_t cap = 0;
        int r, rc;
        /* A history from before per-process counts (read-only, not migrated) has no such table. */
        bool counters = store_has_table(s, "process_counters");

        if (counters) {
                r = procs_events(s, from_us, to_us, &p, &ids);
                if (r < 0)
                        goto out;
        }
        /* since schema 14 most processes ride packed in their tick's tick_units row */
        r = store_unpack_procs_range(s, from_us, to_us);
        if (r < 0)
                goto out;
        r = store_query(s, &q,
                        "SELECT u.name, p.pid, p.start_time, MAX(p.comm),"
                        " SUM(p.active_uj + p.idle_uj), SUM(p.cpu_ns)"
                        " FROM " STORE_PROCS " p JOIN units u ON u.id = p.unit_id"
                        " WHERE p.tick_id IN " RANGE_TICKS " AND (?3 IS NULL OR u.name = ?3)"
                        " GROUP BY p.unit_id, p.pid, p.start_time"
                        " ORDER BY u.name, p.pid, p.start_time");
        if (r < 0)
                goto out;
        sqlite3_bind_int64(q, 1, from_us);
        sqlite3_bind_int64(q, 2, to_us);
        if (unit)
                sqlite3_bind_text(q, 3, unit, -1, SQLITE_STATIC);
        while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
                StoreProcess *x = procs_add(&p, &cap);
                if (!x) {
                        r = -ENOMEM;
                        goto out;
                }
                store_copy_text(x->unit, sizeof(x->unit), q, 0);
                x->pid = sqlite3_column_int(q, 1);
                x->start_time = (uint64_t)sqlite3_column_int64(q, 2);
                store_copy_text(x->comm, sizeof(x->comm), q, 3);
                x->energy_j = (double)sqlite3_column_int64(q, 4) / UJ_PER_J;
                x->cpu_s = (double)sqlite3_column_int64(q, 5) / 1e9;
        }
        if (rc != SQLITE_DONE) {
                r = store_fail(s, rc, "reading processes");
                goto out;
        }
        sqlite3_finalize(q);
        q = NULL;

        if (counters && p.n_events > 0) {
                /* Counts come in (unit, pid, start_time) order, as the processes above: one merge
                 * pass. A process counted in the range without an energy row in it (it was among
                 * the stored ones just before) is listed with what it counted. */
                r = store_query(
                        s, &q,
                        "SELECT u.name, c.pid, c.start_time, c.event_id, TOTAL(c.value),"
                        " (SELECT comm FROM (SELECT * FROM (SELECT tick_id, comm FROM"
                        "  process_energy pe WHERE pe.unit_id = c.unit_id AND pe.pid = c.pid AND"
                        "  pe.start_time = c.start_time ORDER BY pe.tick_id DESC LIMIT 1)"
                        "  UNION ALL SELECT * FROM (SELECT tick_id, comm FROM temp.packed_procs pp"
                        "  WHERE pp.unit_id = c.unit_id AND pp.pid = c.pid AND"
                        "  pp.start_time = c.start_time ORDER BY pp.tick_id DESC LIMIT 1))"
                        "  ORDER BY tick_id DESC LIMIT 1)"
                        " FROM process_counters c JOIN units u ON u.id = c.unit_id"
                        " WHERE c.tick_id IN " RANGE_TICKS " AND (?3 IS NULL OR u.name = ?3)"
                        " GROUP BY c.unit_id, c.pid, c.start_time, c.event_id"
                        " ORDER BY u.name, c.pid, c.start_time");
                if (r < 0)
                        goto out;
                sqlite3_bind_int64(q, 1, from_us);
                sqlite3_bind_int64(q, 2, to_us);
                if (unit)
                        sqlite3_bind_text(q, 3, unit, -1, SQLITE_STATIC);
                size_t n_energy = p.n_procs, k = 0;
                StoreProcess *last_added = NULL;
                while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
                        const char *u = (const char *)sqlite3_column_text(q, 0);
                        int pid = sqlite3_column_int(q, 1);
                        uint64_t st = (uint64_t)sqlite3_column_int64(q, 2);
                        int64_t ev = sqlite3_column_int64(q, 3);
                        u = u ? u : "";
                        while (k < n_energy && proc_cmp_key(&p.procs[k], u, pid, st) < 0)
                                k++;
                        StoreProcess *x = NULL;
                        if (k < n_energy && proc_cmp_key(&p.procs[k], u, pid, st) == 0)
                                x = &p.procs[k];
                        else if (last_added && proc_cmp_key(last_added, u, pid, st) == 0)
                                x = last_added;
                        if (!x) {
                                x = procs_add(&p, &cap);
                                if (!x) {
                                        r = -ENOMEM;
                                        goto out;
                                }
                                store_copy_text(x->unit, sizeof(x->unit), q, 0);
                                x->pid = pid;
                                x->start_time = st;
                                store_copy_text(x->comm, sizeof(x->comm), q, 5);
                                last_added = x;
                        }
                        for (size_t e = 0; e < p.n_events; e++)
                                if (ids[e] == ev)
                                        x->events[e] = sqlite3_column_double(q, 4);
                }
                if (rc != SQLITE_DONE) {
                        r = store_fail(s, rc, "reading process event counts");
                        goto out;
                }
        }
        if (p.n_procs > 1)
                qsort(p.procs, p.n_procs, sizeof(*p.procs), proc_cmp_energy);
        *ret = p;
        p = (StoreProcesses){0};
        r = 0;
out:
        sqlite3_finalize(q);
        free(ids);
        store_processes_done(&p);
        return r;
}

int store_read_process_list(Store *s, int64_t from_us, int64_t to_us, const char *unit,
                            StoreProcesses *ret)
{
        /* the packed processes summed, the rows and the counts read in one snapshot */
        int r = store_snapshot_begin(s);
        if (r < 0)
                return r;
        r = read_process_list(s, from_us, to_us, unit, ret);
        store_snapshot_end(s);
        return r;
}
