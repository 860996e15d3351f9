#pragma once

/* What the storage/ files share and nothing else sees: the handle's layout, its prepared
 * statements and the error helpers. Only storage/ includes this header (and sqlite3.h). */

#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>

#include "storage/store.h"

enum {
        ST_RUN_BEGIN,
        ST_RUN_WEIGHT,
        ST_RUN_END,
        ST_DOMAIN_FIND,
        ST_DOMAIN_ADD,
        ST_UNIT_FIND,
        ST_UNIT_ADD,
        ST_EVENT_FIND,
        ST_EVENT_ADD,
        ST_TICK_ADD,
        ST_DOMAIN_ENERGY_ADD,
        ST_UNIT_ENERGY_ADD,
        ST_PROCESS_ADD,
        ST_COUNTER_ADD,
        ST_METRIC_FIND,
        ST_METRIC_ADD,
        ST_REQUESTS_ADD,
        ST_INGEST_STATS_ADD,
        _ST_MAX,
};

struct Store {
        sqlite3 *db;
        StoreMode mode;
        char *path;
        sqlite3_stmt *stmt[_ST_MAX];
        int64_t run_id;
        bool in_tx;
        /* Ticks appended but not yet committed (see store_commit), oldest first. */
        struct PendingTick *pending_head, *pending_tail;
        size_t pending_ticks, pending_bytes, backlog_limit;
        uint64_t backlog_dropped;
        char error[512];
};

/* Records SQLite's message for rc (with what was being done) and returns it as -errno. */
int store_fail(Store *s, int rc, const char *what);
int store_exec(Store *s, const char *sql);
/* Prepares a one-off query; the caller finalizes it. */
int store_query(Store *s, sqlite3_stmt **ret, const char *sql);
/* Opens the write transaction of the current batch if none is open. */
int store_begin(Store *s);
void store_copy_text(char *dst, size_t size, sqlite3_stmt *st, int col);
