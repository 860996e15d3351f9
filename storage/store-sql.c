/* The SQL helpers every other storage/ file is built on: errors as -errno with SQLite's message
 * kept, one-off statements. They depend on the handle and nothing else here, so the readers and the
 * rollups both stand on them rather than on each other. */

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
