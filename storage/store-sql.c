/* The SQL helpers every other storage/ file is built on: errors as -errno with SQLite's message
 * kept, one-off statements, and the two shapes of query the rollups and retention repeat. They
 * depend on the handle and nothing else here, so the files above them depend on each other one
 * way only (store-read.c -> store-plan.c -> store-tiers.c -> here). */

#include "storage/store.h"
#include "storage/store-internal.h"

#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>

#include "common/log.h"

static int store_errno(int rc)
{
        switch (rc & 0xff) {
        case SQLITE_OK:
        case SQLITE_ROW:
        case SQLITE_DONE:
                return 0;
        case SQLITE_NOMEM:
                return -ENOMEM;
        case SQLITE_BUSY:
        case SQLITE_LOCKED:
                return -EBUSY;
        case SQLITE_READONLY:
                return -EROFS;
        case SQLITE_FULL:
                return -ENOSPC;
        case SQLITE_CANTOPEN:
                return -ENOENT;
        case SQLITE_PERM:
        case SQLITE_AUTH:
                return -EACCES;
        case SQLITE_CORRUPT:
        case SQLITE_NOTADB:
                return -EBADMSG;
        case SQLITE_IOERR:
                return -EIO;
        default:
                return -EIO;
        }
}

int store_fail(Store *s, int rc, const char *what)
{
        snprintf(s->error, sizeof(s->error), "%s: %s", what, sqlite3_errmsg(s->db));
        log_debug("storage: %s", s->error);
        return store_errno(rc);
}

const char *store_last_error(Store *s)
{
        return s->error;
}

int store_exec(Store *s, const char *sql)
{
        int rc = sqlite3_exec(s->db, sql, NULL, NULL, NULL);
        if (rc != SQLITE_OK)
                return store_fail(s, rc, sql);
        return 0;
}

int store_query(Store *s, sqlite3_stmt **ret, const char *sql)
{
        int rc = sqlite3_prepare_v2(s->db, sql, -1, ret, NULL);
        if (rc != SQLITE_OK)
                return store_fail(s, rc, "preparing a query");
        return 0;
}

void store_copy_text(char *dst, size_t size, sqlite3_stmt *st, int col)
{
        const unsigned char *t = sqlite3_column_text(st, col);
        snprintf(dst, size, "%s", t ? (const char *)t : "");
}

int store_query_two(Store *s, const char *sql, bool *ret_null, int64_t *ret_a, int64_t *ret_b)
{
        sqlite3_stmt *q = NULL;
        int r = store_query(s, &q, sql);
        if (r < 0)
                return r;
        int rc = sqlite3_step(q);
        if (rc == SQLITE_ROW) {
                *ret_null = sqlite3_column_type(q, 0) == SQLITE_NULL;
                *ret_a = sqlite3_column_int64(q, 0);
                *ret_b = sqlite3_column_int64(q, 1);
                r = 0;
        } else {
                r = store_fail(s, rc, sql);
        }
        sqlite3_finalize(q);
        return r;
}

int store_exec_bound(Store *s, const char *sql, int64_t a, int64_t b, int *ret_changes)
{
        sqlite3_stmt *q = NULL;
        int r = store_query(s, &q, sql);
        if (r < 0)
                return r;
        sqlite3_bind_int64(q, 1, a);
        sqlite3_bind_int64(q, 2, b);
        int rc = sqlite3_step(q);
        sqlite3_finalize(q);
        if (rc != SQLITE_DONE)
                return store_fail(s, rc, "applying retention");
        if (ret_changes)
                *ret_changes = sqlite3_changes(s->db);
        return 0;
}
