/* What one store_maintain() call does: build the tiers (store-rollup.c) in one transaction, then
 * apply retention (store-retention.c) in a second, short one. Every statement on this path is
 * kept prepared (store_cached): a pass that finds nothing to do parses nothing. */

#include "storage/store.h"
#include "storage/store-internal.h"

#include <assert.h>
#include <sqlite3.h>
#include <string.h>

int store_maintain(Store *s, int64_t now_us, const StoreRetention *ret)
{
        assert(s->mode == STORE_READ_WRITE);
        StoreTierState st[STORE_N_STATE];
        /* A minute is rolled up once: the ticks still queued (the journal's) go in first. */
        int r = store_commit(s);
        if (r < 0)
                return r;
        r = store_exec_cached(s, "BEGIN IMMEDIATE");
        if (r < 0)
                return r;
        /* The running totals first: packing and retention remove the plain rows the ticks after
         * through_tick are summed from. */
        int more = store_totals_flush(s);
        if (more >= 0)
                more = store_tiers_load(s, st);
        if (more >= 0)
                more = store_rollup(s, st, now_us);
        if (more >= 0)
                r = store_tiers_save(s, st);
        if (more >= 0 && r >= 0)
                r = store_exec_cached(s, "COMMIT");
        if (more < 0 || r < 0) {
                (void)sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
                return more < 0 ? more : r;
        }
        /* Retention in its own short transaction (one batch per tier per call), written only
         * when a horizon moved or something was deleted. */
        const uint64_t keep[] = {ret->raw_us, ret->minute_us, ret->hour_us};
        r = store_exec_cached(s, "BEGIN IMMEDIATE");
        if (r < 0)
                return r;
        StoreTierState before[STORE_N_STATE];
        memcpy(before, st, sizeof(before));
        int64_t changes = sqlite3_total_changes64(s->db);
        for (size_t k = STORE_TIER_RAW; k <= STORE_TIER_HOUR && r >= 0; k++) {
                int m = store_retain(s, st, (StoreTier)k, keep[k], now_us);
                if (m < 0)
                        r = m;
                else
                        more |= m;
        }
        if (r >= 0 && memcmp(before, st, sizeof(before)) != 0)
                r = store_tiers_save(s, st);
        if (r >= 0)
                r = store_exec_cached(s, sqlite3_total_changes64(s->db) != changes ? "COMMIT"
                                                                                   : "ROLLBACK");
        if (r < 0) {
                (void)sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
                return r;
        }
        return more;
}
