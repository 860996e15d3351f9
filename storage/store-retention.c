/* Retention: how each tier's horizon moves to now minus what is kept, and how what lies behind it
 * is deleted, a bounded batch per call. A horizon never passes what the next tier holds, so no
 * instant is lost from every tier. */

#include "storage/store.h"
#include "storage/store-internal.h"

#include <stdio.h>

#include "common/util.h"

/* Deletions per store_maintain() call. */
#define RAW_DELETE_BATCH   3600                /* ticks */
#define MINUTE_DELETE_SPAN STORE_DAY_US        /* of minute rows */
#define HOUR_DELETE_SPAN   (30 * STORE_DAY_US) /* of hour rows */

/* The oldest ticks ending at or before ?1, at most ?2, never the newest (its id stays the
 * largest, so the rollup's tick_id keeps its meaning). */
#define OLD_TICKS                                                                                  \
        "(SELECT id FROM ticks WHERE ts_us <= ?1 AND id < (SELECT MAX(id) FROM ticks) "            \
        "ORDER BY ts_us LIMIT ?2)"

static int retain_raw(Store *s, int64_t kept_us)
{
        bool empty;
        int64_t first, unused;
        int r0 = store_query_two(s, "SELECT MIN(ts_us), 0 FROM ticks", &empty, &first, &unused);
        if (r0 < 0 || empty || first > kept_us)
                return r0; /* nothing past retention: no deletes to prepare */
        static const char *const children[] = {
                "DELETE FROM unit_energy WHERE tick_id IN " OLD_TICKS,
                "DELETE FROM domain_energy WHERE tick_id IN " OLD_TICKS,
                "DELETE FROM process_energy WHERE tick_id IN " OLD_TICKS,
                /* a process's perf counts go with its rows (issue 17) */
                "DELETE FROM process_counters WHERE tick_id IN " OLD_TICKS,
                "DELETE FROM unit_counters WHERE tick_id IN " OLD_TICKS,
                "DELETE FROM unit_requests WHERE tick_id IN " OLD_TICKS,
                "DELETE FROM ingest_stats WHERE tick_id IN " OLD_TICKS,
                "DELETE FROM tick_units WHERE tick_id IN " OLD_TICKS,
                "DELETE FROM tick_requests WHERE tick_id IN " OLD_TICKS,
        };
        int r = 0, changes = 0;
        for (size_t i = 0; i < ELEMENTSOF(children) && r >= 0; i++)
                r = store_exec_bound(s, children[i], kept_us, RAW_DELETE_BATCH, NULL);
        if (r >= 0)
                r = store_exec_bound(s, "DELETE FROM ticks WHERE id IN " OLD_TICKS, kept_us,
                                     RAW_DELETE_BATCH, &changes);
        if (r < 0)
                return r;
        return changes >= RAW_DELETE_BATCH;
}

static int retain_tier(Store *s, StoreTier k, int64_t kept_us, int64_t span_us)
{
        static const char *const tables[] = {"host", "units", "domains", "requests"};
        char sql[256];
        bool empty;
        int64_t first, unused;
        snprintf(sql, sizeof(sql), "SELECT MIN(start_us), 0 FROM %s_host", store_tier_table(k));
        int r = store_query_two(s, sql, &empty, &first, &unused);
        if (r < 0 || empty || first >= kept_us)
                return r;
        int64_t upto = store_min64(kept_us, first + span_us);
        for (size_t i = 0; i < ELEMENTSOF(tables) && r >= 0; i++) {
                snprintf(sql, sizeof(sql), "DELETE FROM %s_%s WHERE start_us < ?1 AND ?2 = ?2",
                         store_tier_table(k), tables[i]);
                r = store_exec_bound(s, sql, upto, 0, NULL);
        }
        if (r < 0)
                return r;
        return upto < kept_us;
}

/* Moves a tier's horizon to now - keep (aligned to the next tier's rows, and never past what
 * the next tier holds) and deletes one batch behind it; 1 when more remains. */
int store_retain(Store *s, StoreTierState st[STORE_N_STATE], StoreTier k, uint64_t keep_us,
                 int64_t now_us)
{
        if (keep_us == 0 || keep_us > (uint64_t)INT64_MAX / 2)
                return 0;
        const StoreTierState *next = &st[k + 1];
        if (!next->has_done)
                return 0;
        int64_t horizon = store_min64(
                store_floor_to(now_us - (int64_t)keep_us, store_tier_width(k + 1)), next->done_us);
        StoreTierState *t = &st[k];
        if (!t->has_kept || horizon > t->kept_us) {
                t->has_kept = true;
                t->kept_us = horizon;
        }
        if (k == STORE_TIER_RAW)
                return retain_raw(s, t->kept_us);
        return retain_tier(s, k, t->kept_us,
                           k == STORE_TIER_MINUTE ? MINUTE_DELETE_SPAN : HOUR_DELETE_SPAN);
}
