/* The SQL helpers every other storage/ file is built on: errors as -errno with SQLite's message
 * kept, one-off statements, and the two shapes of query the rollups and retention repeat. They
 * depend on the handle and nothing else here, so the files above them depend on each other one
 * way only (store-read.c -> store-plan.c -> store-tiers.c -> here). */

#include "storage/store.h"
#include "storage/store-internal.h"

#include <errno.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/util.h"

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

int store_failf(Store *s, int r, const char *fmt, ...)
{
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(s->error, sizeof(s->error), fmt, ap);
        va_end(ap);
        log_debug("storage: %s", s->error);
        return r;
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

/* ---- the writer's statement cache ---- */

/* An entry: the SQL text is the key, its hash compared first (many texts share a long prefix,
 * "INSERT INTO minute_..."). A few dozen entries: a linear search costs far less than one
 * prepare. */
typedef struct StoreCachedStmt {
        uint64_t hash;
        char *sql;
        sqlite3_stmt *stmt;
} StoreCachedStmt;

static uint64_t cache_hash(const char *sql)
{
        uint64_t h = UINT64_C(14695981039346656037); /* FNV-1a */
        for (const unsigned char *p = (const unsigned char *)sql; *p; p++)
                h = (h ^ *p) * UINT64_C(1099511628211);
        return h;
}

/* The entry for sql, prepared if new; on failure the SQLite code in *ret_rc and -ENOMEM or 1. */
static int cache_get(Store *s, const char *sql, sqlite3_stmt **ret, int *ret_rc)
{
        uint64_t h = cache_hash(sql);
        for (size_t i = 0; i < s->n_cache; i++) {
                StoreCachedStmt *c = &s->cache[i];
                if (c->hash == h && strcmp(c->sql, sql) == 0) {
                        *ret = c->stmt;
                        return 0;
                }
        }
        if (s->n_cache == s->cap_cache) {
                size_t n = s->cap_cache ? 2 * s->cap_cache : 32;
                StoreCachedStmt *nc = realloc(s->cache, n * sizeof(*nc));
                if (!nc)
                        return -ENOMEM;
                s->cache = nc;
                s->cap_cache = n;
        }
        char *copy = strdup(sql);
        if (!copy)
                return -ENOMEM;
        sqlite3_stmt *q = NULL;
        int rc = sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &q, NULL);
        if (rc != SQLITE_OK) {
                free(copy);
                *ret_rc = rc;
                return 1;
        }
        s->cache[s->n_cache++] = (StoreCachedStmt){.hash = h, .sql = copy, .stmt = q};
        *ret = q;
        return 0;
}

int store_cached_for(Store *s, const char *sql, const char *what, sqlite3_stmt **ret)
{
        int rc, r = cache_get(s, sql, ret, &rc);
        if (r > 0)
                return store_fail(s, rc, what);
        return r;
}

int store_cached(Store *s, const char *sql, sqlite3_stmt **ret)
{
        return store_cached_for(s, sql, "preparing a query", ret);
}

void store_release(sqlite3_stmt *q)
{
        if (!q)
                return;
        sqlite3_reset(q);
        sqlite3_clear_bindings(q);
}

int store_exec_cached(Store *s, const char *sql)
{
        sqlite3_stmt *q = NULL;
        int r = store_cached_for(s, sql, sql, &q);
        if (r < 0)
                return r;
        int rc = sqlite3_step(q);
        if (rc != SQLITE_DONE && rc != SQLITE_ROW)
                r = store_fail(s, rc, sql);
        store_release(q);
        return r;
}

void store_cache_free(Store *s)
{
        for (size_t i = 0; i < s->n_cache; i++) {
                sqlite3_finalize(s->cache[i].stmt);
                free(s->cache[i].sql);
        }
        free(s->cache);
        s->cache = NULL;
        s->n_cache = s->cap_cache = 0;
}

void store_copy_text(char *dst, size_t size, sqlite3_stmt *st, int col)
{
        const char *t = (const char *)sqlite3_column_text(st, col);
        size_t n = t ? (size_t)sqlite3_column_bytes(st, col) : 0;
        if (n < size || size < 16) {
                snprintf(dst, size, "%s", t ? t : "");
                return;
        }
        /* Longer than joulesd writes (a foreign file): its start, cut between characters, and a
         * hash of all of it (FNV-1a), so that two long names sharing a start stay two names
         * rather than being summed as one. */
        uint32_t h = fnv1a(FNV1A_OFFSET, t, n);
        size_t keep = size - 10; /* "~" 8 hex digits, NUL */
        while (keep > 0 && ((unsigned char)t[keep] & 0xc0) == 0x80)
                keep--;
        snprintf(dst, size, "%.*s~%08x", (int)keep, t, h);
}

int store_query_two(Store *s, const char *sql, bool *ret_null, int64_t *ret_a, int64_t *ret_b)
{
        sqlite3_stmt *q = NULL;
        int r = store_cached(s, sql, &q);
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
        store_release(q);
        return r;
}

int store_exec_bound(Store *s, const char *sql, int64_t a, int64_t b, int *ret_changes)
{
        sqlite3_stmt *q = NULL;
        int r = store_cached(s, sql, &q);
        if (r < 0)
                return r;
        sqlite3_bind_int64(q, 1, a);
        sqlite3_bind_int64(q, 2, b);
        int rc = sqlite3_step(q);
        store_release(q);
        if (rc != SQLITE_DONE)
                return store_fail(s, rc, "applying retention");
        if (ret_changes)
                *ret_changes = sqlite3_changes(s->db);
        return 0;
}
