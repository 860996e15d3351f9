/* plain-history: makes DST a copy of the joules history SRC in which every packed tick is plain
 * rows again, so that tests can query unit_energy, unit_requests and domain_energy with sqlite3
 * whether joulesd has packed a tick yet or not.
 *
 *   plain-history SRC DST
 *
 * SRC is copied with SQLite's online backup API, opened read-only: it may be a live history
 * joulesd is writing (WAL), and the copy is one snapshot of it. DST is replaced if it exists and
 * is left in rollback-journal mode, one file. Then, in one transaction, each tick_units row
 * (schema 5) becomes unit_energy rows (its data BLOB), unit_requests rows (its requests BLOB,
 * schema 12) and domain_energy rows (its domains BLOB, schema 12), each tick_requests row
 * (schema 6) unit_requests rows, and those packed rows are deleted: the copy holds every tick
 * the way a joulesd that never packed would have left it. The rows are inserted, not merged: a
 * tick holding the same values both plain and packed is a bug of the writer, and is reported.
 *
 * Prints nothing on success. Any failure prints "plain-history: <what>: <why>" on stderr and
 * exits 1 (DST is then removed); a malformed BLOB names its tick and column. */

#include <errno.h>
#include <inttypes.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "storage/store-internal.h"

/* How long a busy SRC (a joulesd's commit, a checkpoint) or DST is waited for, in ms. */
#define PH_BUSY_MS 10000

static const char *ph_dst_path;

static void ph_unlink_dst(void)
{
        static const char *const suffix[] = {"", "-journal", "-wal", "-shm"};
        char path[4096];
        for (size_t i = 0; i < sizeof(suffix) / sizeof(suffix[0]); i++) {
                if (snprintf(path, sizeof(path), "%s%s", ph_dst_path, suffix[i]) <
                    (int)sizeof(path))
                        (void)unlink(path);
        }
}

static void ph_die(sqlite3 *dst, const char *what, const char *fmt, ...)
        __attribute__((format(printf, 3, 4), noreturn));

/* Prints "plain-history: what: why", removes DST (never SRC: main checked they differ), exits 1. */
static void ph_die(sqlite3 *dst, const char *what, const char *fmt, ...)
{
        va_list ap;
        fprintf(stderr, "plain-history: %s: ", what);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputc('\n', stderr);
        if (dst)
                sqlite3_close_v2(dst);
        if (ph_dst_path)
                ph_unlink_dst();
        exit(1);
}

static sqlite3_stmt *ph_prepare(sqlite3 *db, const char *sql)
{
        sqlite3_stmt *q = NULL;
        if (sqlite3_prepare_v2(db, sql, -1, &q, NULL) != SQLITE_OK)
                ph_die(db, sql, "%s", sqlite3_errmsg(db));
        return q;
}

static void ph_exec(sqlite3 *db, const char *sql)
{
        char *err = NULL;
        if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK)
                ph_die(db, sql, "%s", err ? err : sqlite3_errmsg(db));
}

/* Whether DST has the table (any schema since 1 has the plain ones; the packed ones came later). */
static bool ph_has_table(sqlite3 *db, const char *table)
{
        sqlite3_stmt *q = ph_prepare(db, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND "
                                         "name = ?1");
        sqlite3_bind_text(q, 1, table, -1, SQLITE_STATIC);
        int rc = sqlite3_step(q);
        if (rc != SQLITE_ROW && rc != SQLITE_DONE)
                ph_die(db, "reading sqlite_master", "%s", sqlite3_errmsg(db));
        sqlite3_finalize(q);
        return rc == SQLITE_ROW;
}

static bool ph_has_column(sqlite3 *db, const char *table, const char *column)
{
        sqlite3_stmt *q = ph_prepare(db, "SELECT 1 FROM pragma_table_info(?1) WHERE name = ?2");
        sqlite3_bind_text(q, 1, table, -1, SQLITE_STATIC);
        sqlite3_bind_text(q, 2, column, -1, SQLITE_STATIC);
        int rc = sqlite3_step(q);
        if (rc != SQLITE_ROW && rc != SQLITE_DONE)
                ph_die(db, "reading the columns of tick_units", "%s", sqlite3_errmsg(db));
        sqlite3_finalize(q);
        return rc == SQLITE_ROW;
}

/* Copies SRC into DST in one snapshot of SRC (a step of -1 holds SRC's read transaction). */
static sqlite3 *ph_copy(const char *src_path, const char *dst_path)
{
        sqlite3 *src = NULL, *dst = NULL;
        char what[4200];
        snprintf(what, sizeof(what), "opening %s", src_path);
        if (sqlite3_open_v2(src_path, &src, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
                fprintf(stderr, "plain-history: %s: %s\n", what,
                        src ? sqlite3_errmsg(src) : "out of memory");
                sqlite3_close_v2(src);
                exit(1);
        }
        sqlite3_busy_timeout(src, PH_BUSY_MS);

        ph_unlink_dst();
        snprintf(what, sizeof(what), "creating %s", dst_path);
        if (sqlite3_open_v2(dst_path, &dst, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
            SQLITE_OK) {
                const char *why = dst ? sqlite3_errmsg(dst) : "out of memory";
                fprintf(stderr, "plain-history: %s: %s\n", what, why);
                sqlite3_close_v2(dst);
                sqlite3_close_v2(src);
                ph_unlink_dst();
                exit(1);
        }
        sqlite3_busy_timeout(dst, PH_BUSY_MS);

        snprintf(what, sizeof(what), "copying %s to %s", src_path, dst_path);
        sqlite3_backup *b = sqlite3_backup_init(dst, "main", src, "main");
        if (!b) {
                sqlite3_close_v2(src);
                ph_die(dst, what, "%s", sqlite3_errmsg(dst));
        }
        int rc;
        /* A step finding SRC locked returns SQLITE_BUSY at once (no busy handler): retried. */
        for (int tries = 0; (rc = sqlite3_backup_step(b, -1)) == SQLITE_BUSY || rc == SQLITE_LOCKED;
             tries++) {
                if (tries == PH_BUSY_MS / 10)
                        break;
                sqlite3_sleep(10);
        }
        sqlite3_backup_finish(b);
        if (rc != SQLITE_DONE) {
                sqlite3_close_v2(src);
                ph_die(dst, what, "%s", sqlite3_errstr(rc));
        }
        sqlite3_close_v2(src);
        /* The copy of a WAL history is in WAL mode: one file is simpler to hand around. */
        ph_exec(dst, "PRAGMA journal_mode = DELETE");
        return dst;
}

static void ph_step(sqlite3 *db, sqlite3_stmt *ins, int64_t tick, const char *into)
{
        if (sqlite3_step(ins) != SQLITE_DONE) {
                char what[128];
                snprintf(what, sizeof(what), "tick %" PRId64 ": inserting into %s", tick, into);
                ph_die(db, what, "%s", sqlite3_errmsg(db));
        }
        sqlite3_reset(ins);
}

/* A decoder's failure: -EBADMSG is a malformed BLOB, anything else (-ENOMEM) said as it is. */
static void ph_undecodable(sqlite3 *db, int64_t tick, const char *column, int r)
{
        char what[128];
        snprintf(what, sizeof(what), "tick %" PRId64 ": %s", tick, column);
        ph_die(db, what, "%s", r == -EBADMSG ? "malformed BLOB" : strerror(-r));
}

typedef struct PhState {
        sqlite3 *db;
        sqlite3_stmt *ins_unit, *ins_request, *ins_domain;
        StoreUnitValue *units;
        size_t units_cap;
        StoreRequestValue *requests;
        size_t requests_cap;
        StorePackedDomain *domains;
        size_t domains_cap;
} PhState;

static void ph_units(PhState *st, int64_t tick, const void *blob, size_t len)
{
        size_t n;
        int r = store_unpack_units(blob, len, &st->units, &st->units_cap, &n);
        if (r < 0)
                ph_undecodable(st->db, tick, "tick_units.data", r);
        for (size_t k = 0; k < n; k++) {
                const StoreUnitValue *u = &st->units[k];
                sqlite3_bind_int64(st->ins_unit, 1, tick);
                sqlite3_bind_int64(st->ins_unit, 2, u->unit_id);
                sqlite3_bind_int64(st->ins_unit, 3, (int64_t)u->active_uj);
                sqlite3_bind_int64(st->ins_unit, 4, (int64_t)u->idle_uj);
                sqlite3_bind_int64(st->ins_unit, 5, (int64_t)u->cpu_ns);
                ph_step(st->db, st->ins_unit, tick, "unit_energy");
        }
}

static void ph_requests(PhState *st, int64_t tick, const void *blob, size_t len, const char *column)
{
        size_t n;
        int r = store_unpack_requests(blob, len, &st->requests, &st->requests_cap, &n);
        if (r < 0)
                ph_undecodable(st->db, tick, column, r);
        for (size_t k = 0; k < n; k++) {
                const StoreRequestValue *v = &st->requests[k];
                sqlite3_bind_int64(st->ins_request, 1, tick);
                sqlite3_bind_int64(st->ins_request, 2, v->unit_id);
                sqlite3_bind_int64(st->ins_request, 3, v->metric_id);
                sqlite3_bind_double(st->ins_request, 4, v->count);
                ph_step(st->db, st->ins_request, tick, "unit_requests");
        }
}

static void ph_domains(PhState *st, int64_t tick, const void *blob, size_t len)
{
        size_t n;
        int r = store_unpack_domains(blob, len, &st->domains, &st->domains_cap, &n);
        if (r < 0)
                ph_undecodable(st->db, tick, "tick_units.domains", r);
        for (size_t k = 0; k < n; k++) {
                const StorePackedDomain *d = &st->domains[k];
                sqlite3_bind_int64(st->ins_domain, 1, tick);
                sqlite3_bind_int64(st->ins_domain, 2, d->domain_id);
                if (d->has_energy)
                        sqlite3_bind_int64(st->ins_domain, 3, d->energy_uj);
                else
                        sqlite3_bind_null(st->ins_domain, 3);
                if (d->reason)
                        sqlite3_bind_text(st->ins_domain, 4, d->reason, (int)d->reason_len,
                                          SQLITE_TRANSIENT);
                else
                        sqlite3_bind_null(st->ins_domain, 4);
                ph_step(st->db, st->ins_domain, tick, "domain_energy");
        }
}

static void ph_expand(sqlite3 *db)
{
        bool has_units = ph_has_table(db, "tick_units");
        bool has_requests = ph_has_table(db, "tick_requests");
        if (!has_units && !has_requests)
                return; /* schema 1 to 4: nothing is ever packed */
        bool side = has_units && ph_has_column(db, "tick_units", "requests") &&
                    ph_has_column(db, "tick_units", "domains");

        PhState st = {.db = db};
        ph_exec(db, "BEGIN IMMEDIATE");
        st.ins_unit = ph_prepare(db, "INSERT INTO unit_energy (tick_id, unit_id, active_uj, "
                                     "idle_uj, cpu_ns) VALUES (?1, ?2, ?3, ?4, ?5)");
        if (side || has_requests)
                st.ins_request = ph_prepare(db, "INSERT INTO unit_requests (tick_id, unit_id, "
                                                "metric_id, count) VALUES (?1, ?2, ?3, ?4)");
        if (side)
                st.ins_domain = ph_prepare(db, "INSERT INTO domain_energy (tick_id, domain_id, "
                                               "energy_uj, drop_reason) VALUES (?1, ?2, ?3, ?4)");

        if (has_units) {
                sqlite3_stmt *q = ph_prepare(
                        db, side ? "SELECT tick_id, data, requests, domains FROM tick_units "
                                   "ORDER BY tick_id"
                                 : "SELECT tick_id, data FROM tick_units ORDER BY tick_id");
                int rc;
                while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
                        int64_t tick = sqlite3_column_int64(q, 0);
                        ph_units(&st, tick, sqlite3_column_blob(q, 1),
                                 (size_t)sqlite3_column_bytes(q, 1));
                        if (side && sqlite3_column_type(q, 2) != SQLITE_NULL)
                                ph_requests(&st, tick, sqlite3_column_blob(q, 2),
                                            (size_t)sqlite3_column_bytes(q, 2),
                                            "tick_units.requests");
                        if (side && sqlite3_column_type(q, 3) != SQLITE_NULL)
                                ph_domains(&st, tick, sqlite3_column_blob(q, 3),
                                           (size_t)sqlite3_column_bytes(q, 3));
                }
                if (rc != SQLITE_DONE)
                        ph_die(db, "reading tick_units", "%s", sqlite3_errmsg(db));
                sqlite3_finalize(q);
        }
        if (has_requests) {
                sqlite3_stmt *q = ph_prepare(db, "SELECT tick_id, data FROM tick_requests "
                                                 "ORDER BY tick_id");
                int rc;
                while ((rc = sqlite3_step(q)) == SQLITE_ROW)
                        ph_requests(&st, sqlite3_column_int64(q, 0), sqlite3_column_blob(q, 1),
                                    (size_t)sqlite3_column_bytes(q, 1), "tick_requests.data");
                if (rc != SQLITE_DONE)
                        ph_die(db, "reading tick_requests", "%s", sqlite3_errmsg(db));
                sqlite3_finalize(q);
        }

        sqlite3_finalize(st.ins_unit);
        sqlite3_finalize(st.ins_request);
        sqlite3_finalize(st.ins_domain);
        free(st.units);
        free(st.requests);
        free(st.domains);
        if (has_units)
                ph_exec(db, "DELETE FROM tick_units");
        if (has_requests)
                ph_exec(db, "DELETE FROM tick_requests");
        ph_exec(db, "COMMIT");
}

int main(int argc, char **argv)
{
        if (argc != 3) {
                fprintf(stderr, "plain-history: usage: plain-history SRC DST\n");
                return 1;
        }
        /* DST is deleted before the copy and after a failure: never when it is SRC. */
        struct stat a, b;
        if (stat(argv[1], &a) < 0) {
                fprintf(stderr, "plain-history: %s: %s\n", argv[1], strerror(errno));
                return 1;
        }
        if (stat(argv[2], &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino) {
                fprintf(stderr, "plain-history: %s: is the source %s\n", argv[2], argv[1]);
                return 1;
        }
        ph_dst_path = argv[2];
        sqlite3 *db = ph_copy(argv[1], argv[2]);
        ph_expand(db);
        if (sqlite3_close(db) != SQLITE_OK)
                ph_die(db, "closing the copy", "%s", sqlite3_errmsg(db));
        return 0;
}
