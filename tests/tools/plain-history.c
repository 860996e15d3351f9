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
 * the way a joulesd that never packed would have left it (tests/plain.h's plain_expand, which
 * the C tests run on a copy in memory). The rows are inserted, not merged: a
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

#include "tests/plain.h"

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

static void ph_exec(sqlite3 *db, const char *sql)
{
        char *err = NULL;
        if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK)
                ph_die(db, sql, "%s", err ? err : sqlite3_errmsg(db));
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
        char err[512];
        if (plain_expand(db, err, sizeof(err)) < 0) {
                /* err names the tick and column: "tick N: tick_units.data: malformed BLOB" */
                fprintf(stderr, "plain-history: %s\n", err);
                sqlite3_close_v2(db);
                ph_unlink_dst();
                return 1;
        }
        if (sqlite3_close(db) != SQLITE_OK)
                ph_die(db, "closing the copy", "%s", sqlite3_errmsg(db));
        return 0;
}
