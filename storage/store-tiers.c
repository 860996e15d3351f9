/* The rollup tiers: their table, and rollup_state, which says how far each is built and how far
 * retention deleted it. What builds them is store-rollup.c, what deletes them store-retention.c,
 * what reads a range through them store-plan.c.
 *
 * Tiers (migration 4): minute rows are summed from the raw ticks, hour rows from minute rows, day
 * rows from hour rows. A row of width W starting at start_us holds the ticks whose end lies in
 * (start_us, start_us + W], the same (start, end] convention as every range here, so a range
 * whose ends are multiples of W is exactly a set of rows. Sums are integers (µJ, ns) and the
 * request counts are summed in the same way, so a rollup equals the raw rows it replaces.
 *
 * rollup_state records per tier how far it is built (done_us: every tick ending at or before it
 * is in the tier) and how far retention deleted it (kept_us: raw ticks ending at or before it, or
 * rows starting before it, are gone). Retention never deletes what the next tier does not hold
 * yet, so any instant is held by at least one tier. */

#include "storage/store.h"
#include "storage/store-internal.h"

#include <sqlite3.h>
#include <string.h>

static const struct {
        const char *name;
        int64_t width_us;
} store_tiers[_STORE_TIER_MAX] = {
        [STORE_TIER_RAW] = {"raw", 0},
        [STORE_TIER_MINUTE] = {"minute", STORE_MINUTE_US},
        [STORE_TIER_HOUR] = {"hour", STORE_HOUR_US},
        [STORE_TIER_DAY] = {"day", STORE_DAY_US},
};

const char *store_tier_table(StoreTier t)
{
        return t == STORE_TIER_RAW ? NULL : store_tiers[t].name;
}

int64_t store_tier_width(StoreTier t)
{
        return store_tiers[t].width_us;
}

static const char *const state_names[STORE_N_STATE] = {"raw", "minute", "hour", "day", "packed"};

int store_tiers_load(Store *s, StoreTierState st[STORE_N_STATE])
{
        memset(st, 0, sizeof(StoreTierState) * STORE_N_STATE);
        int v = store_schema_version(s);
        if (v < 0)
                return v;
        if (v < STORE_SCHEMA_TIERS)
                return 0; /* an older daemon's file, read-only: raw ticks only */
        sqlite3_stmt *q = NULL;
        int r = store_cached(s, "SELECT tier, done_us, kept_us, tick_id FROM rollup_state", &q);
        if (r < 0)
                return r;
        int rc;
        while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
                const char *name = (const char *)sqlite3_column_text(q, 0);
                for (size_t k = 0; k < STORE_N_STATE; k++) {
                        if (!name || strcmp(name, state_names[k]) != 0)
                                continue;
                        st[k].has_done = sqlite3_column_type(q, 1) != SQLITE_NULL;
                        st[k].done_us = sqlite3_column_int64(q, 1);
                        st[k].has_kept = sqlite3_column_type(q, 2) != SQLITE_NULL;
                        st[k].kept_us = sqlite3_column_int64(q, 2);
                        st[k].tick_id = sqlite3_column_int64(q, 3);
                }
        }
        r = rc == SQLITE_DONE ? 0 : store_fail(s, rc, "reading rollup_state");
        store_release(q);
        return r;
}

int store_tiers_save(Store *s, const StoreTierState st[STORE_N_STATE])
{
        sqlite3_stmt *q = NULL;
        int r = store_cached(s,
                             "UPDATE rollup_state SET done_us = ?1, kept_us = ?2, tick_id = ?3 "
                             "WHERE tier = ?4",
                             &q);
        int v = store_schema_version(s);
        if (v < 0)
                r = v;
        for (size_t k = 0;
             k < (v >= STORE_SCHEMA_PACKING ? STORE_N_STATE : (size_t)_STORE_TIER_MAX) && r >= 0;
             k++) {
                if (st[k].has_done)
                        sqlite3_bind_int64(q, 1, st[k].done_us);
                else
                        sqlite3_bind_null(q, 1);
                if (st[k].has_kept)
                        sqlite3_bind_int64(q, 2, st[k].kept_us);
                else
                        sqlite3_bind_null(q, 2);
                sqlite3_bind_int64(q, 3, st[k].tick_id);
                sqlite3_bind_text(q, 4, state_names[k], -1, SQLITE_STATIC);
                int rc = sqlite3_step(q);
                sqlite3_reset(q);
                if (rc != SQLITE_DONE)
                        r = store_fail(s, rc, "writing rollup_state");
        }
        store_release(q);
        return r;
}
