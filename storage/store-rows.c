/* A commit's rows of each kind (units, processes, counters, requests), inserted several to a
 * statement: "INSERT INTO t (...) VALUES (...), (...), ..." costs SQLite about a third less per
 * row than one statement per row (its step, reset and program set-up are shared; bench/README.md,
 * "Rows several to a statement"), and these rows are most of what a commit writes. The ticks are
 * written first, for their ids; then each kind's rows over all of them, in tick order, in chunks
 * of powers of two up to STORE_ROWS_CHUNK, so that at most STORE_ROWS_SHIFTS statements per kind
 * stay prepared: 50 rows are three statements of 16 and one of 2. */

#include "storage/store.h"
#include "storage/store-internal.h"

#include <assert.h>
#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

/* Binds a row at parameters first, first + 1, ... (the tick id is bound by the caller, as the
 * first column). */
typedef void (*RowBind)(sqlite3_stmt *q, int first, const void *row);

static void bind_unit(sqlite3_stmt *q, int i, const void *row)
{
        const StoreUnitValue *u = row;
        sqlite3_bind_int64(q, i, u->unit_id);
        sqlite3_bind_int64(q, i + 1, (sqlite3_int64)u->active_uj);
        sqlite3_bind_int64(q, i + 2, (sqlite3_int64)u->idle_uj);
        sqlite3_bind_int64(q, i + 3, (sqlite3_int64)u->cpu_ns);
}

static void bind_proc(sqlite3_stmt *q, int i, const void *row)
{
        const StoreProcValue *p = row;
        sqlite3_bind_int64(q, i, p->unit_id);
        sqlite3_bind_int64(q, i + 1, p->pid);
        sqlite3_bind_int64(q, i + 2, (sqlite3_int64)p->start_time);
        if (p->comm)
                sqlite3_bind_text(q, i + 3, p->comm, -1, SQLITE_STATIC);
        else
                sqlite3_bind_null(q, i + 3);
        sqlite3_bind_int64(q, i + 4, (sqlite3_int64)p->active_uj);
        sqlite3_bind_int64(q, i + 5, (sqlite3_int64)p->idle_uj);
        sqlite3_bind_int64(q, i + 6, (sqlite3_int64)p->cpu_ns);
}

static void bind_counter(sqlite3_stmt *q, int i, const void *row)
{
        const StoreCounterValue *c = row;
        sqlite3_bind_int64(q, i, c->unit_id);
        sqlite3_bind_int64(q, i + 1, c->event_id);
        sqlite3_bind_int64(q, i + 2, (sqlite3_int64)c->value);
}

static void bind_proc_counter(sqlite3_stmt *q, int i, const void *row)
{
        const StoreProcCounterValue *c = row;
        sqlite3_bind_int64(q, i, c->unit_id);
        sqlite3_bind_int64(q, i + 1, c->pid);
        sqlite3_bind_int64(q, i + 2, (sqlite3_int64)c->start_time);
        sqlite3_bind_int64(q, i + 3, c->event_id);
        sqlite3_bind_int64(q, i + 4, (sqlite3_int64)c->value);
}

static void bind_request(sqlite3_stmt *q, int i, const void *row)
{
        const StoreRequestValue *r = row;
        sqlite3_bind_int64(q, i, r->unit_id);
        sqlite3_bind_int64(q, i + 1, r->metric_id);
        sqlite3_bind_double(q, i + 2, r->count);
}

static const struct {
        const char *insert; /* up to VALUES */
        int cols;           /* the tick id included */
        RowBind bind;
        const char *what; /* for errors */
} kinds[_STORE_ROWS_MAX] = {
        [STORE_ROWS_UNITS] = {"INSERT INTO unit_energy (tick_id, unit_id, active_uj, idle_uj, "
                              "cpu_ns) VALUES ",
                              5, bind_unit, "writing unit_energy rows"},
        [STORE_ROWS_PROCS] = {"INSERT INTO process_energy (tick_id, unit_id, pid, start_time, "
                              "comm, active_uj, idle_uj, cpu_ns) VALUES ",
                              8, bind_proc, "writing process_energy rows"},
        [STORE_ROWS_COUNTERS] = {"INSERT INTO unit_counters (tick_id, unit_id, event_id, value) "
                                 "VALUES ",
                                 4, bind_counter, "writing unit_counters rows"},
        [STORE_ROWS_PROC_COUNTERS] = {"INSERT INTO process_counters (tick_id, unit_id, pid, "
                                      "start_time, event_id, value) VALUES ",
                                      6, bind_proc_counter, "writing process_counters rows"},
        [STORE_ROWS_REQUESTS] = {"INSERT INTO unit_requests (tick_id, unit_id, metric_id, count) "
                                 "VALUES ",
                                 4, bind_request, "writing unit_requests rows"},
};

_Static_assert(STORE_ROWS_CHUNK == 1 << (STORE_ROWS_SHIFTS - 1), "a statement per power of two");

/* The statement inserting 2^shift rows of a kind, prepared the first time it is needed. */
static int rows_stmt(Store *s, StoreRows kind, unsigned shift, sqlite3_stmt **ret)
{
        sqlite3_stmt **q = &s->rows_stmt[kind][shift];
        if (*q) {
                *ret = *q;
                return 0;
        }
        /* " (?,?,?,?,?)" then ",(?,?,?,?,?)": 2 * cols + 2 bytes a row */
        char sql[256 + STORE_ROWS_CHUNK * 32];
        size_t n = strlen(kinds[kind].insert), rows = (size_t)1 << shift;
        assert(n + rows * (2 * (size_t)kinds[kind].cols + 2) < sizeof(sql));
        memcpy(sql, kinds[kind].insert, n);
        for (size_t r = 0; r < rows; r++) {
                sql[n++] = r ? ',' : ' ';
                for (int c = 0; c < kinds[kind].cols; c++) {
                        sql[n++] = c ? ',' : '(';
                        sql[n++] = '?';
                }
                sql[n++] = ')';
        }
        sql[n] = '\0';
        int rc = sqlite3_prepare_v3(s->db, sql, (int)n + 1, SQLITE_PREPARE_PERSISTENT, q, NULL);
        if (rc != SQLITE_OK) {
                *q = NULL;
                return store_fail(s, rc, kinds[kind].what);
        }
        *ret = *q;
        return 0;
}

/* Where a kind's rows are in a tick; none of the kinds store_tick_pack wrote. */
static const void *tick_rows(const StoreTick *t, const StoreWritten *w, StoreRows kind,
                             size_t *ret_n, size_t *ret_size)
{
        if ((w->packed && (kind == STORE_ROWS_UNITS || kind == STORE_ROWS_REQUESTS)) ||
            (w->procs_packed && kind == STORE_ROWS_PROCS)) {
                *ret_n = 0, *ret_size = 1;
                return NULL;
        }
        switch (kind) {
        case STORE_ROWS_UNITS:
                *ret_n = t->n_units, *ret_size = sizeof(*t->units);
                return t->units;
        case STORE_ROWS_PROCS:
                *ret_n = t->n_procs, *ret_size = sizeof(*t->procs);
                return t->procs;
        case STORE_ROWS_COUNTERS:
                *ret_n = t->n_counters, *ret_size = sizeof(*t->counters);
                return t->counters;
        case STORE_ROWS_PROC_COUNTERS:
                *ret_n = t->n_proc_counters, *ret_size = sizeof(*t->proc_counters);
                return t->proc_counters;
        case STORE_ROWS_REQUESTS:
                *ret_n = t->n_requests, *ret_size = sizeof(*t->requests);
                return t->requests;
        default:
                assert(!"bad row kind");
                *ret_n = 0, *ret_size = 1;
                return NULL;
        }
}

/* The next row of a kind over the ticks, in tick order. */
typedef struct RowCursor {
        const PendingTick *p;
        const StoreWritten *w; /* the tick's */
        size_t i, n, size;
        const char *rows;
} RowCursor;

static void cursor_settle(RowCursor *c, StoreRows kind)
{
        while (c->p && c->i >= c->n) {
                c->p = c->p->next;
                c->w++;
                c->i = 0;
                c->n = 0;
                if (c->p)
                        c->rows = tick_rows(&c->p->t, c->w, kind, &c->n, &c->size);
        }
}

static int rows_write_kind(Store *s, StoreRows kind, const PendingTick *head,
                           const StoreWritten *written)
{
        size_t total = 0, n, size, i = 0;
        for (const PendingTick *p = head; p; p = p->next, i++) {
                (void)tick_rows(&p->t, &written[i], kind, &n, &size);
                total += n;
        }
        RowCursor c = {.p = head, .w = written};
        c.rows = tick_rows(&head->t, &written[0], kind, &c.n, &c.size);
        cursor_settle(&c, kind);
        int cols = kinds[kind].cols;
        while (total > 0) {
                unsigned shift = 0;
                while (((size_t)2 << shift) <= total && ((size_t)2 << shift) <= STORE_ROWS_CHUNK)
                        shift++;
                sqlite3_stmt *q = NULL;
                int r = rows_stmt(s, kind, shift, &q);
                if (r < 0)
                        return r;
                for (size_t k = 0; k < ((size_t)1 << shift); k++) {
                        int first = (int)k * cols + 1;
                        sqlite3_bind_int64(q, first, c.w->id);
                        kinds[kind].bind(q, first + 1, c.rows + c.i * c.size);
                        c.i++;
                        cursor_settle(&c, kind);
                }
                int rc = sqlite3_step(q);
                sqlite3_reset(q);
                sqlite3_clear_bindings(q); /* no pointer into the ticks outlives them */
                if (rc != SQLITE_DONE)
                        return store_fail(s, rc, kinds[kind].what);
                total -= (size_t)1 << shift;
        }
        return 0;
}

int store_rows_write(Store *s, const PendingTick *head, const StoreWritten *written)
{
        int r = 0;
        for (size_t k = 0; k < _STORE_ROWS_MAX && r >= 0 && head; k++)
                r = rows_write_kind(s, (StoreRows)k, head, written);
        return r;
}

void store_rows_free(Store *s)
{
        for (size_t k = 0; k < _STORE_ROWS_MAX; k++)
                for (size_t i = 0; i < STORE_ROWS_SHIFTS; i++) {
                        sqlite3_finalize(s->rows_stmt[k][i]);
                        s->rows_stmt[k][i] = NULL;
                }
}
