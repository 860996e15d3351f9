/* The packed processes read back (schema 14: a tick's processes ride in its tick_units row,
 * store-packed.c). The process readers sum a range's processes per (unit, pid, start time), so
 * the BLOBs of the range are added up here, in C, per process and name, into one row each of
 * temp.packed_procs, which STORE_PROCS reads beside the plain process_energy rows: a week of 10
 * processes a second is 6 million rows, which a temp table would hold in memory, where the sums
 * are a row per process. A row keeps the last tick its process had that name, so "the newest
 * name" and MAX(comm) read the same from the sums as from the ticks. */

#include "storage/store.h"
#include "storage/store-internal.h"

#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct ProcSum {
        int64_t unit_id;
        int pid;
        uint64_t start_time;
        char *comm; /* NULL: a free slot */
        size_t comm_len;
        int64_t tick; /* the last one with this name */
        int64_t active_uj, idle_uj, cpu_ns;
} ProcSum;

typedef struct ProcSums {
        ProcSum *slots;
        size_t cap, n; /* cap a power of two, at most half of it used */
} ProcSums;

static uint64_t proc_hash(const StorePackedProc *v)
{
        uint64_t h = 1469598103934665603u;
        uint64_t words[3] = {(uint64_t)v->unit_id, (uint64_t)v->pid, v->start_time};
        for (size_t k = 0; k < 3; k++)
                h = (h ^ words[k]) * 0x9e3779b97f4a7c15u;
        for (size_t k = 0; k < v->comm_len; k++)
                h = (h ^ (uint8_t)v->comm[k]) * 1099511628211u;
        return h ^ h >> 31;
}

static bool proc_same(const ProcSum *e, const StorePackedProc *v)
{
        return e->unit_id == v->unit_id && e->pid == v->pid && e->start_time == v->start_time &&
               e->comm_len == v->comm_len && memcmp(e->comm, v->comm, v->comm_len) == 0;
}

static ProcSum *proc_slot(ProcSum *slots, size_t cap, const StorePackedProc *v)
{
        size_t i = (size_t)proc_hash(v) & (cap - 1);
        while (slots[i].comm && !proc_same(&slots[i], v))
                i = (i + 1) & (cap - 1);
        return &slots[i];
}

static int proc_sums_grow(ProcSums *p)
{
        size_t cap = p->cap ? p->cap * 2 : 256;
        ProcSum *slots = calloc(cap, sizeof(*slots));
        if (!slots)
                return -ENOMEM;
        for (size_t k = 0; k < p->cap; k++) {
                const ProcSum *e = &p->slots[k];
                if (!e->comm)
                        continue;
                StorePackedProc key = {.unit_id = e->unit_id,
                                       .pid = e->pid,
                                       .start_time = e->start_time,
                                       .comm = e->comm,
                                       .comm_len = e->comm_len};
                *proc_slot(slots, cap, &key) = *e;
        }
        free(p->slots);
        p->slots = slots;
        p->cap = cap;
        return 0;
}

static bool add_i64(int64_t *sum, uint64_t v)
{
        return v <= INT64_MAX && !__builtin_add_overflow(*sum, (int64_t)v, sum);
}

/* Adds one tick's process. -ENOMEM, or -EOVERFLOW for a sum past int64 (SQLite's SUM over the
 * rows would fail the same way). */
static int proc_sums_add(ProcSums *p, int64_t tick, const StorePackedProc *v)
{
        if ((p->n + 1) * 2 > p->cap) {
                int r = proc_sums_grow(p);
                if (r < 0)
                        return r;
        }
        ProcSum *e = proc_slot(p->slots, p->cap, v);
        if (!e->comm) {
                char *comm = malloc(v->comm_len + 1);
                if (!comm)
                        return -ENOMEM;
                memcpy(comm, v->comm, v->comm_len);
                comm[v->comm_len] = '\0';
                *e = (ProcSum){.unit_id = v->unit_id,
                               .pid = v->pid,
                               .start_time = v->start_time,
                               .comm = comm,
                               .comm_len = v->comm_len,
                               .tick = tick};
                p->n++;
        }
        ProcSum sum = *e; /* all three or none */
        if (!add_i64(&sum.active_uj, v->active_uj) || !add_i64(&sum.idle_uj, v->idle_uj) ||
            !add_i64(&sum.cpu_ns, v->cpu_ns))
                return -EOVERFLOW;
        if (tick > sum.tick)
                sum.tick = tick;
        *e = sum;
        return 0;
}

static void proc_sums_free(ProcSums *p)
{
        for (size_t k = 0; k < p->cap; k++)
                free(p->slots[k].comm);
        free(p->slots);
        *p = (ProcSums){0};
}

/* Reads and adds up the packed processes of the ticks in (from_us, to_us]. */
static int proc_sums_read(Store *s, ProcSums *p, int64_t from_us, int64_t to_us)
{
        sqlite3_stmt *q = NULL;
        StorePackedProc *buf = NULL;
        size_t cap = 0, n;
        int r = store_query(s, &q,
                            "SELECT t.id, p.procs FROM ticks t JOIN tick_units p ON p.tick_id = "
                            "t.id WHERE t.ts_us > ?1 AND t.ts_us <= ?2 AND p.procs IS NOT NULL");
        if (r < 0)
                return r;
        sqlite3_bind_int64(q, 1, from_us);
        sqlite3_bind_int64(q, 2, to_us);
        int rc;
        while (r >= 0 && (rc = sqlite3_step(q)) == SQLITE_ROW) {
                int64_t tick = sqlite3_column_int64(q, 0);
                int ru = store_unpack_procs(sqlite3_column_blob(q, 1),
                                            (size_t)sqlite3_column_bytes(q, 1), &buf, &cap, &n);
                if (ru == -EBADMSG)
                        r = store_failf(s, ru, "tick %lld: malformed packed processes",
                                        (long long)tick);
                else if (ru < 0)
                        r = store_failf(s, ru, "out of memory reading packed processes");
                for (size_t k = 0; r >= 0 && k < n; k++) {
                        int ra = proc_sums_add(p, tick, &buf[k]);
                        if (ra == -EOVERFLOW)
                                r = store_failf(s, ra,
                                                "tick %lld: adding up its packed processes: "
                                                "integer overflow",
                                                (long long)tick);
                        else if (ra < 0)
                                r = store_failf(s, ra, "out of memory adding up packed processes");
                }
        }
        if (r >= 0 && rc != SQLITE_DONE)
                r = store_fail(s, rc, "reading packed processes");
        sqlite3_finalize(q);
        free(buf);
        return r;
}

int store_unpack_procs_range(Store *s, int64_t from_us, int64_t to_us)
{
        int r = store_exec(s, "CREATE TEMP TABLE IF NOT EXISTS packed_procs (tick_id INTEGER NOT "
                              "NULL, unit_id INTEGER NOT NULL, pid INTEGER NOT NULL, start_time "
                              "INTEGER NOT NULL, comm TEXT NOT NULL, active_uj INTEGER NOT NULL, "
                              "idle_uj INTEGER NOT NULL, cpu_ns INTEGER NOT NULL, PRIMARY KEY "
                              "(unit_id, pid, start_time, comm)) WITHOUT ROWID;"
                              "DELETE FROM temp.packed_procs");
        if (r < 0)
                return r;
        int v = store_schema_version(s);
        if (v < STORE_SCHEMA_PACKED_PROCS) /* an older daemon's file: every process is a row */
                return v < 0 ? v : 0;
        ProcSums p = {0};
        sqlite3_stmt *ins = NULL;
        r = proc_sums_read(s, &p, from_us, to_us);
        if (r >= 0 && p.n > 0)
                r = store_query(s, &ins,
                                "INSERT INTO temp.packed_procs (tick_id, unit_id, pid, "
                                "start_time, comm, active_uj, idle_uj, cpu_ns) VALUES (?1, ?2, "
                                "?3, ?4, ?5, ?6, ?7, ?8)");
        for (size_t k = 0; r >= 0 && ins && k < p.cap; k++) {
                const ProcSum *e = &p.slots[k];
                if (!e->comm)
                        continue;
                sqlite3_bind_int64(ins, 1, e->tick);
                sqlite3_bind_int64(ins, 2, e->unit_id);
                sqlite3_bind_int64(ins, 3, e->pid);
                sqlite3_bind_int64(ins, 4, (int64_t)e->start_time);
                sqlite3_bind_text(ins, 5, e->comm, (int)e->comm_len, SQLITE_STATIC);
                sqlite3_bind_int64(ins, 6, e->active_uj);
                sqlite3_bind_int64(ins, 7, e->idle_uj);
                sqlite3_bind_int64(ins, 8, e->cpu_ns);
                int rc = sqlite3_step(ins);
                sqlite3_reset(ins);
                if (rc != SQLITE_DONE)
                        r = store_fail(s, rc, "summing packed processes");
        }
        sqlite3_finalize(ins);
        proc_sums_free(&p);
        return r;
}
