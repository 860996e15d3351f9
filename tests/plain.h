/* Tests that check a history's per-tick values with SQL read them from plain rows: since schema 13
 * joulesd packs a tick's units, requests and domain energies into its tick_units row as it
 * commits it (storage/store-packed.c), since 14 its processes too. plain_expand turns every
 * packed tick of a handle back into unit_energy, unit_requests, domain_energy and process_energy
 * rows and deletes the packed rows, as a joulesd that
 * never packed would have left the file; plain_open gives a file's history that way in memory,
 * the file untouched. tests/tools/plain-history.c does it to a copy on disk, for the scripts. */
#pragma once

#include <errno.h>
#include <inttypes.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "storage/store.h"
#include "storage/store-internal.h"

static inline bool plain_has(sqlite3 *db, const char *table, const char *column)
{
        sqlite3_stmt *q = NULL;
        bool has = sqlite3_prepare_v2(db, "SELECT 1 FROM pragma_table_info(?1) WHERE name = ?2", -1,
                                      &q, NULL) == SQLITE_OK;
        if (has) {
                sqlite3_bind_text(q, 1, table, -1, SQLITE_STATIC);
                sqlite3_bind_text(q, 2, column, -1, SQLITE_STATIC);
                has = sqlite3_step(q) == SQLITE_ROW;
        }
        sqlite3_finalize(q);
        return has;
}

typedef struct Plain {
        sqlite3 *db;
        sqlite3_stmt *ins[4]; /* unit_energy, unit_requests, domain_energy, process_energy */
        void *buf[4];         /* each kind's decoder's: cap counts its own entries */
        size_t cap[4];
        char *err;
        size_t size;
} Plain;

/* Inserts one BLOB's rows (kind 0 units, 1 requests, 2 domains, 3 processes; column names it)
 * under tick. */
static inline int plain_blob(Plain *p, int kind, int64_t tick, const void *blob, size_t len,
                             const char *column)
{
        static const char *const table[] = {"unit_energy", "unit_requests", "domain_energy",
                                            "process_energy"};
        size_t n = 0;
        void **buf = &p->buf[kind];
        size_t *cap = &p->cap[kind];
        int r = kind == 0   ? store_unpack_units(blob, len, (StoreUnitValue **)buf, cap, &n)
                : kind == 1 ? store_unpack_requests(blob, len, (StoreRequestValue **)buf, cap, &n)
                : kind == 2 ? store_unpack_domains(blob, len, (StorePackedDomain **)buf, cap, &n)
                            : store_unpack_procs(blob, len, (StorePackedProc **)buf, cap, &n);
        if (r < 0) {
                snprintf(p->err, p->size, "tick %" PRId64 ": %s: %s", tick, column,
                         r == -EBADMSG ? "malformed BLOB" : strerror(-r));
                return -1;
        }
        sqlite3_stmt *ins = p->ins[kind];
        for (size_t k = 0; k < n; k++) {
                sqlite3_bind_int64(ins, 1, tick);
                if (kind == 0) {
                        const StoreUnitValue *u = (const StoreUnitValue *)*buf + k;
                        sqlite3_bind_int64(ins, 2, u->unit_id);
                        sqlite3_bind_int64(ins, 3, (int64_t)u->active_uj);
                        sqlite3_bind_int64(ins, 4, (int64_t)u->idle_uj);
                        sqlite3_bind_int64(ins, 5, (int64_t)u->cpu_ns);
                } else if (kind == 1) {
                        const StoreRequestValue *v = (const StoreRequestValue *)*buf + k;
                        sqlite3_bind_int64(ins, 2, v->unit_id);
                        sqlite3_bind_int64(ins, 3, v->metric_id);
                        sqlite3_bind_double(ins, 4, v->count);
                } else if (kind == 3) {
                        const StorePackedProc *v = (const StorePackedProc *)*buf + k;
                        sqlite3_bind_int64(ins, 2, v->unit_id);
                        sqlite3_bind_int64(ins, 3, v->pid);
                        sqlite3_bind_int64(ins, 4, (int64_t)v->start_time);
                        sqlite3_bind_text(ins, 5, v->comm, (int)v->comm_len, SQLITE_TRANSIENT);
                        sqlite3_bind_int64(ins, 6, (int64_t)v->active_uj);
                        sqlite3_bind_int64(ins, 7, (int64_t)v->idle_uj);
                        sqlite3_bind_int64(ins, 8, (int64_t)v->cpu_ns);
                } else {
                        const StorePackedDomain *d = (const StorePackedDomain *)*buf + k;
                        sqlite3_bind_int64(ins, 2, d->domain_id);
                        if (d->has_energy)
                                sqlite3_bind_int64(ins, 3, d->energy_uj);
                        else
                                sqlite3_bind_null(ins, 3);
                        if (d->reason)
                                sqlite3_bind_text(ins, 4, d->reason, (int)d->reason_len,
                                                  SQLITE_TRANSIENT);
                        else
                                sqlite3_bind_null(ins, 4);
                }
                int rc = sqlite3_step(ins);
                sqlite3_reset(ins);
                if (rc != SQLITE_DONE) {
                        snprintf(p->err, p->size, "tick %" PRId64 ": inserting into %s: %s", tick,
                                 table[kind], sqlite3_errmsg(p->db));
                        return -1;
                }
        }
        return 0;
}

/* Expands every packed tick of db into plain rows, in one transaction; 0, or -1 with the reason
 * in err ("tick N: tick_units.data: malformed BLOB", ...). */
static inline int plain_expand(sqlite3 *db, char *err, size_t size)
{
        static const char *const insert[] = {
                "INSERT INTO unit_energy (tick_id, unit_id, active_uj, idle_uj, cpu_ns) VALUES "
                "(?1, ?2, ?3, ?4, ?5)",
                "INSERT INTO unit_requests (tick_id, unit_id, metric_id, count) VALUES (?1, ?2, "
                "?3, ?4)",
                "INSERT INTO domain_energy (tick_id, domain_id, energy_uj, drop_reason) VALUES "
                "(?1, ?2, ?3, ?4)",
                "INSERT INTO process_energy (tick_id, unit_id, pid, start_time, comm, active_uj, "
                "idle_uj, cpu_ns) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        };
        /* tick_units since schema 5, its requests and domains since 12, its processes since 14,
         * tick_requests 6 to 11 */
        bool units = plain_has(db, "tick_units", "data");
        bool side = plain_has(db, "tick_units", "domains");
        bool procs = plain_has(db, "tick_units", "procs");
        bool old_requests = plain_has(db, "tick_requests", "data");
        Plain p = {.db = db, .err = err, .size = size};
        sqlite3_stmt *q = NULL;
        int r = 0;
        err[0] = '\0';
        if (!units && !old_requests)
                return 0; /* schema 1 to 4: nothing is ever packed */
        if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
                r = -1;
        for (size_t k = 0; k < 4 && r == 0; k++)
                if (sqlite3_prepare_v2(db, insert[k], -1, &p.ins[k], NULL) != SQLITE_OK)
                        r = -1;
        if (r == 0 && units &&
            sqlite3_prepare_v2(db,
                               procs  ? "SELECT tick_id, data, requests, domains, procs FROM "
                                        "tick_units ORDER BY tick_id"
                               : side ? "SELECT tick_id, data, requests, domains, NULL FROM "
                                        "tick_units ORDER BY tick_id"
                                      : "SELECT tick_id, data, NULL, NULL, NULL FROM tick_units "
                                        "ORDER BY tick_id",
                               -1, &q, NULL) != SQLITE_OK)
                r = -1;
        int rc = SQLITE_DONE;
        while (r == 0 && q && (rc = sqlite3_step(q)) == SQLITE_ROW) {
                int64_t tick = sqlite3_column_int64(q, 0);
                static const char *const column[] = {"tick_units.data", "tick_units.requests",
                                                     "tick_units.domains", "tick_units.procs"};
                for (int k = 0; k < 4 && r == 0; k++)
                        if (sqlite3_column_type(q, 1 + k) != SQLITE_NULL)
                                r = plain_blob(&p, k, tick, sqlite3_column_blob(q, 1 + k),
                                               (size_t)sqlite3_column_bytes(q, 1 + k), column[k]);
        }
        sqlite3_finalize(q);
        q = NULL;
        if (r == 0 && rc != SQLITE_DONE)
                r = -1;
        if (r == 0 && old_requests &&
            sqlite3_prepare_v2(db, "SELECT tick_id, data FROM tick_requests ORDER BY tick_id", -1,
                               &q, NULL) != SQLITE_OK)
                r = -1;
        while (r == 0 && q && (rc = sqlite3_step(q)) == SQLITE_ROW)
                r = plain_blob(&p, 1, sqlite3_column_int64(q, 0), sqlite3_column_blob(q, 1),
                               (size_t)sqlite3_column_bytes(q, 1), "tick_requests.data");
        sqlite3_finalize(q);
        if (r == 0 && rc != SQLITE_DONE)
                r = -1;
        if (r == 0 && units && sqlite3_exec(db, "DELETE FROM tick_units", NULL, NULL, NULL))
                r = -1;
        if (r == 0 && old_requests &&
            sqlite3_exec(db, "DELETE FROM tick_requests", NULL, NULL, NULL))
                r = -1;
        if (r == 0 && sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
                r = -1;
        if (r < 0 && !err[0])
                snprintf(err, size, "expanding the packed ticks: %s", sqlite3_errmsg(db));
        for (size_t k = 0; k < 4; k++) {
                sqlite3_finalize(p.ins[k]);
                free(p.buf[k]);
        }
        if (r < 0)
                (void)sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
        return r;
}

/* The history at path copied into memory and expanded (NULL, with err set, when it cannot be). */
static inline sqlite3 *plain_open(const char *path, char *err, size_t size)
{
        sqlite3 *src = NULL, *db = NULL;
        err[0] = '\0';
        if (sqlite3_open_v2(path, &src, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK ||
            sqlite3_open(":memory:", &db) != SQLITE_OK) {
                snprintf(err, size, "%s: %s", path, sqlite3_errmsg(db ? db : src));
                goto fail;
        }
        sqlite3_busy_timeout(src, 5000);
        sqlite3_backup *b = sqlite3_backup_init(db, "main", src, "main");
        int rc = b ? sqlite3_backup_step(b, -1) : SQLITE_ERROR;
        sqlite3_backup_finish(b);
        if (rc != SQLITE_DONE) {
                snprintf(err, size, "copying %s: %s", path, sqlite3_errstr(rc));
                goto fail;
        }
        sqlite3_close(src);
        src = NULL;
        if (plain_expand(db, err, size) < 0)
                goto fail;
        return db;
fail:
        sqlite3_close(src);
        sqlite3_close(db);
        return NULL;
}
