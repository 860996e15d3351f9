/* Unpacking for reading: the packed BLOBs (store-pack.c) of the raw spans a query reads, decoded
 * into temp tables that the queries read beside the plain rows. */

#include "storage/store.h"
#include "storage/store-internal.h"

#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>

/* One kind of packed BLOB (units, requests, domains): how to find it, where its rows go, and
 * how one BLOB becomes rows (inserted with ins; buf and cap are the decoder's reusable array). */
typedef struct PackedKind {
        const char *select_sql; /* ?1, ?2: the raw span; columns: tick id, BLOB */
        const char *insert_sql;
        const char *what; /* for errors: "units", "requests" */
        int (*insert)(sqlite3_stmt *ins, int64_t tick, const void *blob, size_t len, void **buf,
                      size_t *cap);
} PackedKind;

static int insert_step(sqlite3_stmt *ins)
{
        int rc = sqlite3_step(ins);
        sqlite3_reset(ins);
        return rc == SQLITE_DONE ? 0 : rc;
}

static int packed_units_insert(sqlite3_stmt *ins, int64_t tick, const void *blob, size_t len,
                               void **buf, size_t *cap)
{
        size_t nu;
        if (store_unpack_units(blob, len, (StoreUnitValue **)buf, cap, &nu) < 0)
                return -EBADMSG;
        const StoreUnitValue *u = *buf;
        for (size_t k = 0; k < nu; k++) {
                sqlite3_bind_int64(ins, 1, tick);
                sqlite3_bind_int64(ins, 2, u[k].unit_id);
                sqlite3_bind_int64(ins, 3, (int64_t)u[k].active_uj);
                sqlite3_bind_int64(ins, 4, (int64_t)u[k].idle_uj);
                sqlite3_bind_int64(ins, 5, (int64_t)u[k].cpu_ns);
                int rc = insert_step(ins);
                if (rc)
                        return rc;
        }
        return 0;
}

static int packed_requests_insert(sqlite3_stmt *ins, int64_t tick, const void *blob, size_t len,
                                  void **buf, size_t *cap)
{
        size_t nv;
        if (store_unpack_requests(blob, len, (StoreRequestValue **)buf, cap, &nv) < 0)
                return -EBADMSG;
        const StoreRequestValue *v = *buf;
        for (size_t k = 0; k < nv; k++) {
                sqlite3_bind_int64(ins, 1, tick);
                sqlite3_bind_int64(ins, 2, v[k].unit_id);
                sqlite3_bind_int64(ins, 3, v[k].metric_id);
                sqlite3_bind_double(ins, 4, v[k].count);
                int rc = insert_step(ins);
                if (rc)
                        return rc;
        }
        return 0;
}

static int packed_domains_insert(sqlite3_stmt *ins, int64_t tick, const void *blob, size_t len,
                                 void **buf, size_t *cap)
{
        size_t nd;
        if (store_unpack_domains(blob, len, (StorePackedDomain **)buf, cap, &nd) < 0)
                return -EBADMSG;
        const StorePackedDomain *d = *buf;
        for (size_t k = 0; k < nd; k++) {
                sqlite3_bind_int64(ins, 1, tick);
                sqlite3_bind_int64(ins, 2, d[k].domain_id);
                if (d[k].has_energy)
                        sqlite3_bind_int64(ins, 3, d[k].energy_uj);
                else
                        sqlite3_bind_null(ins, 3);
                if (d[k].reason)
                        sqlite3_bind_text(ins, 4, d[k].reason, (int)d[k].reason_len,
                                          SQLITE_TRANSIENT);
                else
                        sqlite3_bind_null(ins, 4);
                int rc = insert_step(ins);
                if (rc)
                        return rc;
        }
        return 0;
}

static const PackedKind packed_units = {
        .select_sql = "SELECT t.id, p.data FROM ticks t JOIN tick_units p ON p.tick_id = t.id "
                      "WHERE t.ts_us > ?1 AND t.ts_us <= ?2",
        .insert_sql = "INSERT INTO temp.packed_units (tick_id, unit_id, active_uj, idle_uj, "
                      "cpu_ns) VALUES (?1, ?2, ?3, ?4, ?5)",
        .what = "units",
        .insert = packed_units_insert,
};

/* Before schema 12 (STORE_SCHEMA_PACKED_SIDE) packed requests were rows of their own; since, a
 * tick's ride in its tick_units row, and only a tick without units has its own row. */
#define OLD_REQUESTS                                                                               \
        "SELECT t.id, p.data FROM ticks t JOIN tick_requests p ON p.tick_id = t.id "               \
        "WHERE t.ts_us > ?1 AND t.ts_us <= ?2"
#define INSERT_REQUESTS                                                                            \
        "INSERT INTO temp.packed_requests (tick_id, unit_id, metric_id, count) "                   \
        "VALUES (?1, ?2, ?3, ?4)"

static const PackedKind packed_requests_old = {
        .select_sql = OLD_REQUESTS,
        .insert_sql = INSERT_REQUESTS,
        .what = "requests",
        .insert = packed_requests_insert,
};

static const PackedKind packed_requests = {
        .select_sql = OLD_REQUESTS " UNION ALL SELECT t.id, p.requests FROM ticks t JOIN "
                                   "tick_units p ON p.tick_id = t.id WHERE t.ts_us > ?1 AND "
                                   "t.ts_us <= ?2 AND p.requests IS NOT NULL",
        .insert_sql = INSERT_REQUESTS,
        .what = "requests",
        .insert = packed_requests_insert,
};

static const PackedKind packed_domains = {
        .select_sql = "SELECT t.id, p.domains FROM ticks t JOIN tick_units p ON p.tick_id = t.id "
                      "WHERE t.ts_us > ?1 AND t.ts_us <= ?2 AND p.domains IS NOT NULL",
        .insert_sql = "INSERT INTO temp.packed_domains (tick_id, domain_id, energy_uj, "
                      "drop_reason) VALUES (?1, ?2, ?3, ?4)",
        .what = "domains",
        .insert = packed_domains_insert,
};

/* Decodes one kind's packed BLOBs of the raw spans into its temp table. */
static int unpack_kind(Store *s, const PackedKind *kind, const StoreSpan *spans, size_t n)
{
        sqlite3_stmt *q = NULL, *ins = NULL;
        void *buf = NULL;
        size_t cap = 0;
        char what[64];
        int r = store_query(s, &q, kind->select_sql);
        if (r >= 0)
                r = store_query(s, &ins, kind->insert_sql);
        for (size_t i = 0; i < n && r >= 0; i++) {
                if (spans[i].tier != STORE_TIER_RAW)
                        continue;
                sqlite3_bind_int64(q, 1, spans[i].lo);
                sqlite3_bind_int64(q, 2, spans[i].hi);
                int rc;
                while (r >= 0 && (rc = sqlite3_step(q)) == SQLITE_ROW) {
                        int64_t tick = sqlite3_column_int64(q, 0);
                        int ri = kind->insert(ins, tick, sqlite3_column_blob(q, 1),
                                              (size_t)sqlite3_column_bytes(q, 1), &buf, &cap);
                        if (ri == -EBADMSG) {
                                snprintf(s->error, sizeof(s->error),
                                         "tick %lld: malformed packed %s", (long long)tick,
                                         kind->what);
                                r = ri;
                        } else if (ri != 0) {
                                snprintf(what, sizeof(what), "unpacking %s", kind->what);
                                r = store_fail(s, ri, what);
                        }
                }
                if (r >= 0 && rc != SQLITE_DONE) {
                        snprintf(what, sizeof(what), "reading packed %s", kind->what);
                        r = store_fail(s, rc, what);
                }
                sqlite3_reset(q);
        }
        sqlite3_finalize(q);
        sqlite3_finalize(ins);
        free(buf);
        return r;
}

/* Decodes the packed ticks of the raw spans into temp.packed_units, temp.packed_requests and
 * temp.packed_domains, which the queries read beside unit_energy, unit_requests and
 * domain_energy (a read-only handle may write its own temp tables). */
int store_unpack_spans(Store *s, const StoreSpan *spans, size_t n)
{
        int r = store_exec(s, "CREATE TEMP TABLE IF NOT EXISTS packed_units (tick_id INTEGER NOT "
                              "NULL, unit_id INTEGER NOT NULL, active_uj INTEGER NOT NULL, "
                              "idle_uj INTEGER NOT NULL, cpu_ns INTEGER NOT NULL, PRIMARY KEY "
                              "(tick_id, unit_id)) WITHOUT ROWID;"
                              "CREATE TEMP TABLE IF NOT EXISTS packed_requests (tick_id INTEGER "
                              "NOT NULL, unit_id INTEGER NOT NULL, metric_id INTEGER NOT NULL, "
                              "count REAL NOT NULL, PRIMARY KEY (tick_id, unit_id, metric_id)) "
                              "WITHOUT ROWID;"
                              "CREATE TEMP TABLE IF NOT EXISTS packed_domains (tick_id INTEGER "
                              "NOT NULL, domain_id INTEGER NOT NULL, energy_uj INTEGER, "
                              "drop_reason TEXT, PRIMARY KEY (tick_id, domain_id)) WITHOUT ROWID;"
                              "DELETE FROM temp.packed_units; DELETE FROM temp.packed_requests;"
                              "DELETE FROM temp.packed_domains");
        if (r < 0)
                return r;
        int v = store_schema_version(s);
        if (v < STORE_SCHEMA_PACKING) /* an older daemon's file, read-only: nothing packed */
                return v < 0 ? v : 0;
        r = unpack_kind(s, &packed_units, spans, n);
        if (r >= 0 && v >= STORE_SCHEMA_PACKED_SIDE)
                r = unpack_kind(s, &packed_requests, spans, n);
        else if (r >= 0 && v >= STORE_SCHEMA_PACKED_REQUESTS)
                r = unpack_kind(s, &packed_requests_old, spans, n);
        if (r >= 0 && v >= STORE_SCHEMA_PACKED_SIDE)
                r = unpack_kind(s, &packed_domains, spans, n);
        return r;
}
