/* The schema: every migration in order, and applying the ones a history has not had yet. PRAGMA
 * user_version is the number applied. store.c opens the file and calls store_migrate; the
 * statements the daemon runs on the tables live beside the code that uses them. */

#include "storage/store.h"
#include "storage/store-internal.h"

#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>

#include "common/log.h"
#include "common/util.h"

/* The tables of one rollup tier (migration 4); see README "Storage tiers". */
#define STORE_TIER_TABLES(T)                                                                       \
        "CREATE TABLE " T "_host ("                                                                \
        "  start_us INTEGER PRIMARY KEY,"                                                          \
        "  ticks INTEGER NOT NULL,"                                                                \
        "  valid_us INTEGER NOT NULL,"                                                             \
        "  host_uj INTEGER NOT NULL,"                                                              \
        "  estimated INTEGER NOT NULL,"                                                            \
        "  dropped INTEGER NOT NULL,"                                                              \
        "  first_us INTEGER NOT NULL,"                                                             \
        "  last_us INTEGER NOT NULL,"                                                              \
        "  run_id INTEGER NOT NULL,"                                                               \
        "  accepted INTEGER NOT NULL,"                                                             \
        "  rejected INTEGER NOT NULL,"                                                             \
        "  malformed INTEGER NOT NULL);"                                                           \
        "CREATE TABLE " T "_units ("                                                               \
        "  start_us INTEGER NOT NULL,"                                                             \
        "  unit_id INTEGER NOT NULL,"                                                              \
        "  active_uj INTEGER NOT NULL,"                                                            \
        "  idle_uj INTEGER NOT NULL,"                                                              \
        "  cpu_ns INTEGER NOT NULL,"                                                               \
        "  estimated INTEGER NOT NULL,"                                                            \
        "  PRIMARY KEY (start_us, unit_id)) WITHOUT ROWID;"                                        \
        "CREATE TABLE " T "_domains ("                                                             \
        "  start_us INTEGER NOT NULL,"                                                             \
        "  domain_id INTEGER NOT NULL,"                                                            \
        "  energy_uj INTEGER NOT NULL,"                                                            \
        "  valid_us INTEGER NOT NULL,"                                                             \
        "  dropped INTEGER NOT NULL,"                                                              \
        "  PRIMARY KEY (start_us, domain_id)) WITHOUT ROWID;"                                      \
        "CREATE TABLE " T "_requests ("                                                            \
        "  start_us INTEGER NOT NULL,"                                                             \
        "  unit_id INTEGER NOT NULL,"                                                              \
        "  metric_id INTEGER NOT NULL,"                                                            \
        "  count REAL NOT NULL,"                                                                   \
        "  PRIMARY KEY (start_us, unit_id, metric_id)) WITHOUT ROWID;"

/* Schema migrations, applied in order; PRAGMA user_version is the number applied. Never edit a
 * step once released: add a new one. */
static const char *const store_migrations[] = {
        /* 1: host energy per domain, attribution per unit and process. */
        "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;"
        "CREATE TABLE runs ("
        "  id INTEGER PRIMARY KEY,"
        "  started_us INTEGER NOT NULL,"
        "  stopped_us INTEGER,"
        "  source TEXT NOT NULL,"
        "  estimated INTEGER NOT NULL,"
        "  interval_us INTEGER NOT NULL,"
        "  hostname TEXT,"
        "  version TEXT,"
        "  weight TEXT,"
        "  weight_reason TEXT);"
        "CREATE TABLE domains ("
        "  id INTEGER PRIMARY KEY,"
        "  name TEXT NOT NULL,"
        "  zone TEXT NOT NULL,"
        "  source TEXT NOT NULL,"
        "  kind TEXT NOT NULL,"
        "  estimated INTEGER NOT NULL,"
        "  in_host INTEGER NOT NULL,"
        "  UNIQUE (source, zone, name));"
        "CREATE TABLE ticks ("
        "  id INTEGER PRIMARY KEY,"
        "  run_id INTEGER NOT NULL REFERENCES runs(id),"
        "  ts_us INTEGER NOT NULL,"
        "  dt_us INTEGER NOT NULL,"
        "  host_uj INTEGER," /* NULL: the interval was dropped */
        "  estimated INTEGER NOT NULL,"
        "  dropped INTEGER NOT NULL DEFAULT 0);"
        "CREATE INDEX ticks_ts ON ticks (ts_us);"
        "CREATE TABLE domain_energy ("
        "  tick_id INTEGER NOT NULL,"
        "  domain_id INTEGER NOT NULL,"
        "  energy_uj INTEGER," /* NULL: dropped */
        "  drop_reason TEXT,"
        "  PRIMARY KEY (tick_id, domain_id)) WITHOUT ROWID;"
        "CREATE TABLE units ("
        "  id INTEGER PRIMARY KEY,"
        "  name TEXT NOT NULL UNIQUE,"
        "  pseudo INTEGER NOT NULL);"
        "CREATE TABLE unit_energy ("
        "  tick_id INTEGER NOT NULL,"
        "  unit_id INTEGER NOT NULL,"
        "  active_uj INTEGER NOT NULL,"
        "  idle_uj INTEGER NOT NULL,"
        "  cpu_ns INTEGER NOT NULL,"
        "  PRIMARY KEY (tick_id, unit_id)) WITHOUT ROWID;"
        "CREATE TABLE events (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);"
        "CREATE TABLE unit_counters ("
        "  tick_id INTEGER NOT NULL,"
        "  unit_id INTEGER NOT NULL,"
        "  event_id INTEGER NOT NULL,"
        "  value INTEGER NOT NULL,"
        "  PRIMARY KEY (tick_id, unit_id, event_id)) WITHOUT ROWID;"
        "CREATE TABLE process_energy ("
        "  tick_id INTEGER NOT NULL,"
        "  unit_id INTEGER NOT NULL,"
        "  pid INTEGER NOT NULL,"
        "  start_time INTEGER NOT NULL,"
        "  comm TEXT NOT NULL,"
        "  active_uj INTEGER NOT NULL,"
        "  idle_uj INTEGER NOT NULL,"
        "  cpu_ns INTEGER NOT NULL,"
        "  PRIMARY KEY (tick_id, unit_id, pid)) WITHOUT ROWID;",
        /* 2: requests (the R of joules per request) per unit, tick and metric name, from the
         * ingest socket, Prometheus scrapes and access logs; the ingest socket's line counts. */
        "CREATE TABLE request_metrics (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);"
        "CREATE TABLE unit_requests ("
        "  tick_id INTEGER NOT NULL,"
        "  unit_id INTEGER NOT NULL,"
        "  metric_id INTEGER NOT NULL,"
        "  count REAL NOT NULL," /* REAL: sample rates make fractions (1 at @0.3 is 3.33) */
        "  PRIMARY KEY (tick_id, unit_id, metric_id)) WITHOUT ROWID;"
        "CREATE TABLE ingest_stats ("
        "  tick_id INTEGER PRIMARY KEY,"
        "  accepted INTEGER NOT NULL,"
        "  rejected INTEGER NOT NULL,"
        "  malformed INTEGER NOT NULL);",
        /* 3: an imported grid carbon-intensity time series (joules intensity import), matched
         * hour by hour against energy; [start_us, end_us) intervals that never overlap. */
        "CREATE TABLE intensity_series ("
        "  start_us INTEGER PRIMARY KEY,"
        "  end_us INTEGER NOT NULL,"
        "  g_per_kwh REAL NOT NULL,"
        "  source TEXT NOT NULL);",
        /* 4: rollup tiers (storage/store-tiers.c). Each tier holds plain rows per bucket
         * (start_us, start_us + width], summed exactly from the tier below: minute from the raw
         * ticks, hour from minutes, day from hours. rollup_state says how far each tier is built
         * (done_us: every tick ending at or before it is in the tier) and kept (kept_us: rows
         * before it were deleted by retention; NULL: none). */
        "CREATE TABLE rollup_state ("
        "  tier TEXT PRIMARY KEY,"
        "  width_us INTEGER NOT NULL,"
        "  done_us INTEGER,"
        "  kept_us INTEGER,"
        "  tick_id INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID;"
        "INSERT INTO rollup_state (tier, width_us) VALUES ('raw', 0), ('minute', 60000000),"
        "  ('hour', 3600000000), ('day', 86400000000);" STORE_TIER_TABLES("minute")
                STORE_TIER_TABLES("hour") STORE_TIER_TABLES("day"),
        /* 5: packed raw ticks (storage/store-pack.c): once a tick is rolled into its minute and
         * older than a few minutes, its unit_energy rows become one varint BLOB here;
         * rollup_state 'packed' says up to which tick end (done_us). */
        "CREATE TABLE tick_units ("
        "  tick_id INTEGER PRIMARY KEY,"
        "  data BLOB NOT NULL);"
        "INSERT INTO rollup_state (tier, width_us) VALUES ('packed', 0);",
        /* 6: packed requests: a packed tick's unit_requests rows, in one BLOB like its units. */
        "CREATE TABLE tick_requests ("
        "  tick_id INTEGER PRIMARY KEY,"
        "  data BLOB NOT NULL);",
        /* 7: running totals since the first tick (storage/store-totals.c), added to in the
         * transaction that writes the ticks, so they always equal the sum of every tick stored
         * and never go down: retention deletes rows, never these. The exporter's counters read
         * them in a few rows instead of summing the history. The migration fills them from the
         * history already stored (store_totals_fill). */
        "CREATE TABLE total_host ("
        "  id INTEGER PRIMARY KEY CHECK (id = 1),"
        "  ticks INTEGER NOT NULL,"
        "  host_uj INTEGER NOT NULL,"
        "  valid_us INTEGER NOT NULL,"
        "  dropped INTEGER NOT NULL,"
        "  estimated INTEGER NOT NULL,"
        "  first_us INTEGER," /* NULL: no tick yet */
        "  last_us INTEGER);"
        "INSERT INTO total_host VALUES (1, 0, 0, 0, 0, 0, NULL, NULL);"
        "CREATE TABLE total_units ("
        "  unit_id INTEGER PRIMARY KEY,"
        "  active_uj INTEGER NOT NULL,"
        "  idle_uj INTEGER NOT NULL,"
        "  cpu_ns INTEGER NOT NULL);"
        "CREATE TABLE total_domains ("
        "  domain_id INTEGER PRIMARY KEY,"
        "  energy_uj INTEGER NOT NULL,"
        "  dropped INTEGER NOT NULL);"
        "CREATE TABLE total_requests ("
        "  unit_id INTEGER NOT NULL,"
        "  metric_id INTEGER NOT NULL,"
        "  count REAL NOT NULL,"
        "  PRIMARY KEY (unit_id, metric_id)) WITHOUT ROWID;",
        /* 8: how the model estimated, per run (NULL for a measured source): its method
         * (configured, cpu, generic), where its numbers came from, the CPU it matched, the curve
         * used, the ± band of the curve and of the dram estimate, and band_pct, the band of the
         * run's host total so far (the two weighted by their energy), kept up to date by the
         * daemon. ticks.util_pct: the host utilisation the model read for the tick (NULL for a
         * measured source), so the stored power can be checked against the curve. */
        "ALTER TABLE runs ADD COLUMN model_method TEXT;"
        "ALTER TABLE runs ADD COLUMN model_source TEXT;"
        "ALTER TABLE runs ADD COLUMN model_cpu TEXT;"
        "ALTER TABLE runs ADD COLUMN model_curve TEXT;"
        "ALTER TABLE runs ADD COLUMN model_band_pct REAL;"
        "ALTER TABLE runs ADD COLUMN dram_w REAL;"
        "ALTER TABLE runs ADD COLUMN dram_source TEXT;"
        "ALTER TABLE runs ADD COLUMN dram_band_pct REAL;"
        "ALTER TABLE runs ADD COLUMN band_pct REAL;"
        "ALTER TABLE ticks ADD COLUMN util_pct REAL;",
        /* 9 (issue 17): perf event counts per stored process and tick, beside process_energy and
         * kept like it (raw ticks only, deleted with them by retention); (pid, start_time) is the
         * process's identity. total_counters: every unit's event counts since the first tick,
         * the running totals the exporter's joules_unit_events_total reads, filled from the
         * unit_counters still held (store_totals_fill does not sum them: they have no tiers). */
        "CREATE TABLE process_counters ("
        "  tick_id INTEGER NOT NULL,"
        "  unit_id INTEGER NOT NULL,"
        "  pid INTEGER NOT NULL,"
        "  start_time INTEGER NOT NULL,"
        "  event_id INTEGER NOT NULL,"
        "  value INTEGER NOT NULL,"
        "  PRIMARY KEY (tick_id, unit_id, pid, start_time, event_id)) WITHOUT ROWID;"
        "CREATE TABLE total_counters ("
        "  unit_id INTEGER NOT NULL,"
        "  event_id INTEGER NOT NULL,"
        "  value INTEGER NOT NULL,"
        "  PRIMARY KEY (unit_id, event_id)) WITHOUT ROWID;"
        /* TOTAL, a double: SUM of 64-bit counts past INT64_MAX is an error in SQLite; the CAST
         * clamps there */
        "INSERT INTO total_counters (unit_id, event_id, value)"
        "  SELECT unit_id, event_id, CAST(TOTAL(value) AS INTEGER) FROM unit_counters"
        "  GROUP BY unit_id, event_id;",
        /* 10: the running totals (total_counters too) hold every tick up to through_tick; the
         * ticks after it (about a minute of them) are added by whoever reads
         * (store_read_totals) and folded in by joulesd about once a minute and before rollups
         * pack or retention deletes them (store_totals_flush), instead of one upsert per unit
         * in every tick's commit. Packed ticks may use the 2-bit residual codes
         * (store-pack.c), which a reader of schema 9 or older could not decode. */
        ("ALTER TABLE total_host ADD COLUMN through_tick INTEGER NOT NULL DEFAULT 0;"
         "UPDATE total_host SET through_tick = (SELECT COALESCE(MAX(id), 0) FROM ticks);"),
        /* 11: packed ticks may carry no residuals (the split is made again from their CPU
         * values) and bit-coded values (store-pack.c), which a reader of schema 10 or older
         * could not decode. No table changes: the number keeps those readers away. */
        "SELECT 1;",
        /* 12: a packed tick's requests and domain energies ride in its tick_units row
         * (store-pack-side.c) instead of a tick_requests row and domain_energy rows: about 10
         * and 16 bytes less per tick. Ticks packed before keep theirs where they are. */
        "ALTER TABLE tick_units ADD COLUMN requests BLOB;"
        "ALTER TABLE tick_units ADD COLUMN domains BLOB;",
        /* 13: a tick's units, requests and domain energies are packed into its tick_units row
         * as it is committed (store-packed.c), not a few minutes later: the hot window has no
         * plain unit_energy, unit_requests or domain_energy rows but for a tick the formats
         * cannot hold. The running totals' tail and the rollups read the BLOBs, which a reader
         * of schema 12 or older would not. No table changes: the number keeps those away. */
        "SELECT 1;",
        /* 14: a tick's processes ride in its tick_units row too (store-pack-side.c), instead of
         * a process_energy row each: a tick the formats cannot hold keeps its rows, as do the
         * ticks written before. The process readers decode them (store-unpack.c). */
        "ALTER TABLE tick_units ADD COLUMN procs BLOB;",
};

int store_user_version(Store *s, int *ret)
{
        /* The writer asks at every maintenance pass (store-tiers.c): its statement is kept. */
        bool cached = s->mode == STORE_READ_WRITE;
        sqlite3_stmt *st = NULL;
        if (cached) {
                int r = store_cached_for(s, "PRAGMA user_version", "reading the schema version",
                                         &st);
                if (r < 0)
                        return r;
        } else {
                int rc = sqlite3_prepare_v2(s->db, "PRAGMA user_version", -1, &st, NULL);
                if (rc != SQLITE_OK)
                        return store_fail(s, rc, "reading the schema version");
        }
        int rc = sqlite3_step(st), r = 0;
        if (rc == SQLITE_ROW)
                *ret = sqlite3_column_int(st, 0);
        else
                r = store_fail(s, rc, "reading the schema version");
        if (cached)
                store_release(st);
        else
                sqlite3_finalize(st);
        return r;
}

int store_schema_latest(void)
{
        return (int)ELEMENTSOF(store_migrations);
}

int store_schema_version(Store *s)
{
        int v;
        int r = store_user_version(s, &v);
        return r < 0 ? r : v;
}

int store_migrate(Store *s)
{
        int v, r;
        r = store_user_version(s, &v);
        if (r < 0)
                return r;
        int latest = (int)ELEMENTSOF(store_migrations);
        if (v > latest) {
                snprintf(s->error, sizeof(s->error),
                         "the database has schema version %d, newer than this joules (%d); "
                         "upgrade joules",
                         v, latest);
                return -EPROTO;
        }
        for (; v < latest; v++) {
                char pragma[64];
                r = store_exec(s, "BEGIN IMMEDIATE");
                if (r < 0)
                        return r;
                r = store_exec(s, store_migrations[v]);
                if (r >= 0 && v + 1 == STORE_SCHEMA_TOTALS)
                        r = store_totals_fill(s, "main");
                if (r >= 0) {
                        snprintf(pragma, sizeof(pragma), "PRAGMA user_version = %d", v + 1);
                        r = store_exec(s, pragma);
                }
                if (r >= 0)
                        r = store_exec(s, "COMMIT");
                if (r < 0) {
                        (void)sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
                        return r;
                }
                log_debug("storage: migrated %s to schema version %d", s->path, v + 1);
        }
        return 0;
}
