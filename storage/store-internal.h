#pragma once

/* What the storage/ files share and nothing else sees: the handle's layout, its prepared
 * statements and the error helpers. Only storage/ includes this header (and sqlite3.h). */

#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/util.h"
#include "storage/store.h"

enum {
        ST_RUN_BEGIN,
        ST_RUN_WEIGHT,
        ST_RUN_END,
        ST_RUN_MODEL,
        ST_RUN_BAND,
        ST_DOMAIN_FIND,
        ST_DOMAIN_ADD,
        ST_UNIT_FIND,
        ST_UNIT_ADD,
        ST_EVENT_FIND,
        ST_EVENT_ADD,
        ST_TICK_ADD,
        ST_DOMAIN_ENERGY_ADD,
        ST_METRIC_FIND,
        ST_METRIC_ADD,
        ST_INGEST_STATS_ADD,
        ST_TOTAL_HOST,
        ST_TOTAL_UNIT,
        ST_TOTAL_DOMAIN,
        ST_TOTAL_REQUESTS,
        ST_TOTAL_COUNTER,
        ST_BEGIN,
        ST_COMMIT,
        _ST_MAX,
};

/* ---- a tick's rows, several to a statement (store-rows.c) ---- */

typedef enum StoreRows {
        STORE_ROWS_UNITS,         /* StoreUnitValue into unit_energy */
        STORE_ROWS_PROCS,         /* StoreProcValue into process_energy */
        STORE_ROWS_COUNTERS,      /* StoreCounterValue into unit_counters */
        STORE_ROWS_PROC_COUNTERS, /* StoreProcCounterValue into process_counters */
        STORE_ROWS_REQUESTS,      /* StoreRequestValue into unit_requests */
        _STORE_ROWS_MAX,
} StoreRows;

/* Rows per statement, at most: statements of 1, 2, 4, ... STORE_ROWS_CHUNK rows. */
#define STORE_ROWS_CHUNK  16
#define STORE_ROWS_SHIFTS 5

/* What store_commit wrote of a tick before its other rows: its id, and whether store_tick_pack
 * wrote its units and requests, and its processes. */
typedef struct StoreWritten {
        int64_t id;
        bool packed;
        bool procs_packed;
} StoreWritten;

/* Inserts the units, processes, counters and requests of the ticks from head on (the i-th
 * under written[i].id; its units and requests not when written[i].packed), inside the open
 * transaction. */
struct PendingTick;
int store_rows_write(Store *s, const struct PendingTick *head, const StoreWritten *written)
        __attribute__((warn_unused_result));
/* Finalizes the statements store_rows_write prepared; store_close before closing the handle. */
void store_rows_free(Store *s);

/* ---- running totals (store-totals.c) ---- */

/* The schema that has the total_* tables. */
#define STORE_SCHEMA_TOTALS 7

/* The schema whose total_host has through_tick: the totals hold the ticks up to it, readers add
 * the ones after it (store_read_totals). */
#define STORE_SCHEMA_TOTALS_TAIL 10

/* How often store_commit folds the ticks after through_tick into the totals. */
#define STORE_TOTALS_FLUSH_NS (60 * UINT64_C(1000000000))

/* Inside the open write transaction: adds every tick after through_tick to the total_* tables
 * and moves through_tick to the last one. Called by store_commit about once a minute and by
 * store_maintain before rollups pack ticks or retention deletes them: the tail is summed from the
 * packed rows of ticks packed as committed and from plain rows, which the rollups pack into
 * tick_units rows the tail would no longer tell apart from those. */
int store_totals_flush(Store *s) __attribute__((warn_unused_result));
/* Fills schema.total_* ("main" in the migration, "temp" to read an older file) with the sums of
 * every tick the history holds, read through the tiers. */
int store_totals_fill(Store *s, const char *schema) __attribute__((warn_unused_result));

/* store-schema.c: PRAGMA user_version (the migrations applied), and applying the missing ones,
 * each in its own transaction (-EPROTO for a history newer than this joules). */
int store_user_version(Store *s, int *ret) __attribute__((warn_unused_result));
int store_migrate(Store *s) __attribute__((warn_unused_result));

/* A tick waiting to be written: one allocation holding the StoreTick, its arrays and its
 * strings, so the caller's buffers can be reused at once. The same bytes are its record in the
 * tick journal (store-journal.c). */
typedef struct PendingTick {
        struct PendingTick *next;
        size_t bytes; /* of the whole block */
        int64_t run_id, run_started_us;
        StoreTick t;
        StoreIngestStats ingest;
} PendingTick;

/* store.c: where a file is set aside, "<path>.<what>-<UTC time>" (store_move_aside "corrupt",
 * the tick journal "bad"), and how many of a tick's domains were dropped (not a baseline). */
int store_aside_path(const char *path, const char *what, char *ret, size_t size)
        __attribute__((warn_unused_result));
unsigned store_tick_dropped(const StoreTick *t);

/* store-journal.c: a tick's block, laid out (copy) or checked and relinked after a read (link:
 * -EBADMSG when its counts or strings do not fit size). */
PendingTick *store_pending_copy(const Store *s, const StoreTick *t);
int store_pending_link(PendingTick *p, size_t size) __attribute__((warn_unused_result));
/* Appends a queued tick to the journal, if there is one; a failure shows in store_journal_ok. */
void store_journal_append(Store *s, const PendingTick *p);
/* Empties the journal once store_commit has written what it held. */
void store_journal_committed(Store *s);
/* Whether the journal is written through a mapping on a file system of this statfs type. */
bool store_journal_maps_fs(unsigned long f_type);
/* How journals opened from now on are written: as their file system allows (the default), or,
 * for tests of both ways on one file system, mapped or with pwritev. */
typedef enum StoreJournalWrites {
        STORE_JOURNAL_WRITES_AUTO,
        STORE_JOURNAL_WRITES_MAPPED,
        STORE_JOURNAL_WRITES_PWRITE,
} StoreJournalWrites;
void store_journal_set_writes(StoreJournalWrites w);
uint64_t store_journal_sum(const void *data, size_t len);
/* A reader's view of the journal (the ticks joulesd has not committed yet): its good records, in
 * order (none when there is no journal or this user may not read it; -ENOMEM only). */
int store_journal_read_blocks(const Store *s, PendingTick **ret_head);
void store_journal_blocks_free(PendingTick *head);
/* The end times of the ticks the journal holds that are this history's and not committed yet,
 * in the journal's order (malloc'd; none: NULL, 0). */
int store_journal_tick_times(Store *s, int64_t **ret, size_t *ret_n)
        __attribute__((warn_unused_result));
/* Inside a read transaction: temp.j_ticks, j_domain_energy, j_unit_energy, j_unit_counters and
 * j_unit_requests (the columns of the tables they mirror) hold those of the records that are
 * this history's and are not in its snapshot, under tick ids above every committed one. */
int store_journal_temp(Store *s, const PendingTick *head) __attribute__((warn_unused_result));
/* store.c: queues a block (the journal's replay), bounded by the backlog limit like every tick. */
void store_pending_push(Store *s, PendingTick *p);

typedef enum StoreScratch {
        STORE_SCRATCH_UNITS,
        STORE_SCRATCH_REQUESTS,
        STORE_SCRATCH_DOMAINS,
        STORE_SCRATCH_PROCS,
        STORE_SCRATCH_BLOB,
        _STORE_SCRATCH_MAX,
} StoreScratch;

struct Store {
        sqlite3 *db;
        StoreMode mode;
        char *path;
        sqlite3_stmt *stmt[_ST_MAX];
        sqlite3_stmt *rows_stmt[_STORE_ROWS_MAX][STORE_ROWS_SHIFTS]; /* store-rows.c */
        int64_t run_id, run_started_us;
        bool in_tx;
        /* The tick journal (store_journal_open; -1: none), the length of its records, and the
         * errno of its last failed write (0: it holds every queued tick); the file is mapped
         * (journal_map, journal_cap bytes, all zero past journal_size; NULL until the first
         * append). */
        int journal_fd;
        uint64_t journal_size;
        int journal_error;
        bool journal_mapped; /* written through journal_map (store_journal_maps_fs) */
        unsigned char *journal_map;
        uint64_t journal_cap;
        /* Ticks appended but not yet committed (see store_commit), oldest first. */
        struct PendingTick *pending_head, *pending_tail;
        size_t pending_ticks, pending_bytes, backlog_limit;
        uint64_t backlog_dropped;
        uint64_t totals_flushed_ns; /* CLOCK_MONOTONIC of the last store_totals_flush, 0: never */
        bool profile;               /* store_profile_enable */
        StoreCommitProfile prof;
        bool pack_procs; /* store_set_pack_procs */
        /* store_tick_pack's buffers, reused tick after tick. */
        struct {
                void *p;
                size_t cap;
        } scratch[_STORE_SCRATCH_MAX];
        /* store_cached's statements, in the order they were first asked for. */
        struct StoreCachedStmt *cache;
        size_t n_cache, cap_cache;
        char error[512];
};

/* Opens the write transaction of the current batch if none is open. */
int store_begin(Store *s);

/* ---- SQL helpers (store-sql.c): the layer every other storage/ file is built on ---- */

/* Records SQLite's message for rc (with what was being done) and returns it as -errno. */
int store_fail(Store *s, int rc, const char *what);
/* Records a message of our own and returns r (a -errno). */
int store_failf(Store *s, int r, const char *fmt, ...) PRINTF(3, 4);
int store_exec(Store *s, const char *sql);
/* Whether the history has that table (a file opened read-only may be from an older schema). */
bool store_has_table(Store *s, const char *name);
/* Prepares a one-off query; the caller finalizes it. */
int store_query(Store *s, sqlite3_stmt **ret, const char *sql);
/* The writer's statement for sql, prepared the first time it is asked for (persistent) and kept
 * until store_close: the once-a-minute maintenance would otherwise parse some 50 statements
 * each pass. Only for SQL from a fixed set (constants, or templates with table names put in):
 * every distinct text stays prepared. The caller must store_release() it on every path once
 * done, stepped to the end or not (a statement left stepping keeps its read open), and must not
 * ask for the same text again before then. Errors as store_query's. */
int store_cached(Store *s, const char *sql, sqlite3_stmt **ret) __attribute__((warn_unused_result));
/* The same with what (instead of "preparing a query") in the error when it fails to prepare. */
int store_cached_for(Store *s, const char *sql, const char *what, sqlite3_stmt **ret)
        __attribute__((warn_unused_result));
/* Resets a store_cached() statement and drops its bindings (NULL: nothing). */
void store_release(sqlite3_stmt *q);
/* store_exec() of one statement without rows ("BEGIN IMMEDIATE", "COMMIT") through the cache. */
int store_exec_cached(Store *s, const char *sql) __attribute__((warn_unused_result));
/* Finalizes every store_cached() statement; store_close before closing the handle. */
void store_cache_free(Store *s);
/* Column col's text into dst: as it is when it fits; else its start and "~" and a hash of all of
 * it, so that names longer than the readers' buffers (only a foreign file holds them) stay apart.
 */
void store_copy_text(char *dst, size_t size, sqlite3_stmt *st, int col);
/* Runs sql (cached) with ?1 = a, ?2 = b; ret_changes (may be NULL): the rows it changed. */
int store_exec_bound(Store *s, const char *sql, int64_t a, int64_t b, int *ret_changes)
        __attribute__((warn_unused_result));
/* The first row of a two-column query (cached): *ret_null when its first column is NULL. */
int store_query_two(Store *s, const char *sql, bool *ret_null, int64_t *ret_a, int64_t *ret_b)
        __attribute__((warn_unused_result));

/* The schema versions that brought what the tiers and their readers look for. */
#define STORE_SCHEMA_REQUESTS        2  /* unit_requests, ingest_stats */
#define STORE_SCHEMA_TIERS           4  /* the rollup tiers and rollup_state */
#define STORE_SCHEMA_PACKING         5  /* packed ticks (tick_units) */
#define STORE_SCHEMA_PACKED_REQUESTS 6  /* requests packed too (tick_requests) */
#define STORE_SCHEMA_PACKED_SIDE     12 /* tick_units.requests and .domains */
#define STORE_SCHEMA_PACK_AT_COMMIT  13 /* ticks packed as they are committed (store-packed.c) */
#define STORE_SCHEMA_PACKED_PROCS    14 /* their processes too (tick_units.procs) */

/* ---- tiers (store-tiers.c) ---- */

typedef enum StoreTier {
        STORE_TIER_RAW,
        STORE_TIER_MINUTE,
        STORE_TIER_HOUR,
        STORE_TIER_DAY,
        _STORE_TIER_MAX,
} StoreTier;

#define STORE_MINUTE_US (60 * (int64_t)USEC_PER_SEC)
#define STORE_HOUR_US   (60 * STORE_MINUTE_US)
#define STORE_DAY_US    (24 * STORE_HOUR_US)

/* "minute", "hour", "day": the prefix of the tier's tables (NULL for raw). */
const char *store_tier_table(StoreTier t);
/* The width of the tier's rows (0 for raw). */
int64_t store_tier_width(StoreTier t);

/* v rounded down (up) to a multiple of w, negative v included. */
static inline int64_t store_floor_to(int64_t v, int64_t w)
{
        int64_t q = v / w;
        if (v % w != 0 && v < 0)
                q--;
        return q * w;
}

static inline int64_t store_ceil_to(int64_t v, int64_t w)
{
        return -store_floor_to(-v, w);
}

static inline int64_t store_min64(int64_t a, int64_t b)
{
        return a < b ? a : b;
}

/* rollup_state rows: the tiers, then how far raw ticks are packed (store-pack.c). */
#define STORE_STATE_PACKED _STORE_TIER_MAX
#define STORE_N_STATE      (_STORE_TIER_MAX + 1)

/* One rollup_state row: how far a tier is built (done_us) and how far retention deleted it
 * (kept_us); see store-tiers.c. */
typedef struct StoreTierState {
        bool has_done, has_kept;
        int64_t done_us, kept_us;
        int64_t tick_id; /* raw: the newest tick the minute tier has seen */
} StoreTierState;

/* Reads rollup_state (all unset on a file older than the tiers). */
int store_tiers_load(Store *s, StoreTierState st[STORE_N_STATE])
        __attribute__((warn_unused_result));
int store_tiers_save(Store *s, const StoreTierState st[STORE_N_STATE])
        __attribute__((warn_unused_result));

/* ---- building the tiers and packing old ticks (store-rollup.c) ---- */

/* Builds the tiers up to now_us in the open transaction; 1 when the minute tier is behind. */
int store_rollup(Store *s, StoreTierState st[STORE_N_STATE], int64_t now_us)
        __attribute__((warn_unused_result));

/* ---- retention (store-retention.c) ---- */

/* Moves tier k's horizon to now - keep and deletes one batch behind it; 1 when more remains. */
int store_retain(Store *s, StoreTierState st[STORE_N_STATE], StoreTier k, uint64_t keep_us,
                 int64_t now_us) __attribute__((warn_unused_result));

/* ---- the planner (store-plan.c) ---- */

/* A piece of a query range: the ticks ending in (lo, hi]. For a rollup tier that is its rows with
 * lo <= start_us < hi (lo and hi are multiples of the tier's width). */
typedef struct StoreSpan {
        StoreTier tier;
        int64_t lo, hi;
} StoreSpan;

#define STORE_PLAN_MAX 32

/* One read transaction around a reader that plans: the tiers' state, the packed ticks it decodes
 * and the rows it then reads all come from one commit, so that joulesd packing ticks or rolling
 * minutes in between cannot hide some or count them twice. A SAVEPOINT, so it nests inside a
 * transaction the caller holds. */
int store_snapshot_begin(Store *s) __attribute__((warn_unused_result));
void store_snapshot_end(Store *s);

/* Splits (from_us, to_us] into spans, each read from the coarsest tier that holds it exactly, no
 * coarser than `coarsest` (a report by hour must not read days). ret_from/ret_to: the range
 * actually covered (widened where retention deleted the finer rows). */
int store_plan(Store *s, int64_t from_us, int64_t to_us, StoreTier coarsest, StoreSpan *ret,
               size_t *ret_n, int64_t *ret_from, int64_t *ret_to)
        __attribute__((warn_unused_result));

/* The ticks of the spans as one SQL relation, for queries grouping by their own buckets:
 * "(SELECT ... UNION ALL ...)" whose rows are raw ticks or tier rows, each with ts_us (a tier
 * row's end, start_us + width, which falls in the same bucket as its ticks when the bucket is a
 * multiple of the width). Columns:
 *   STORE_REL_HOST: ts_us, host_uj, valid_us, estimated, first_us, last_us, run_id, ticks,
 *                   dropped (ticks whose host energy was dropped)
 *   STORE_REL_UNITS: ts_us, unit_id, active_uj, idle_uj, cpu_ns, estimated
 *   STORE_REL_REQUESTS: ts_us, unit_id, metric_id, count
 *   STORE_REL_DOMAINS: ts_us, domain_id, energy_uj, valid_us, dropped (not baselines)
 *   STORE_REL_INGEST: ts_us, accepted, rejected, malformed (schema 2 and later)
 * The span bounds are parameters ?first_param, ?first_param + 1, ... (2 per span), bound by
 * store_spans_bind(). */
typedef enum StoreRelation {
        STORE_REL_HOST,
        STORE_REL_UNITS,
        STORE_REL_REQUESTS,
        STORE_REL_DOMAINS,
        STORE_REL_INGEST,
} StoreRelation;

int store_spans_sql(StoreRelation rel, const StoreSpan *spans, size_t n, int first_param, char *buf,
                    size_t size) __attribute__((warn_unused_result));
void store_spans_bind(sqlite3_stmt *q, const StoreSpan *spans, size_t n, int first_param);

/* ---- unpacking packed ticks for reading (store-unpack.c) ---- */

/* Decodes the packed ticks of the raw spans into temp.packed_units, temp.packed_requests and
 * temp.packed_domains. */
int store_unpack_spans(Store *s, const StoreSpan *spans, size_t n)
        __attribute__((warn_unused_result));
/* Adds up the packed processes of the raw ticks in (from_us, to_us] into temp.packed_procs, a row
 * per process and name, which STORE_PROCS reads beside process_energy (store-procs.c). */
int store_unpack_procs_range(Store *s, int64_t from_us, int64_t to_us)
        __attribute__((warn_unused_result));
#define STORE_PROCS_COLUMNS "tick_id, unit_id, pid, start_time, comm, active_uj, idle_uj, cpu_ns"
/* The range's processes, plain and packed; the range's filter inside the plain arm, where
 * SQLite uses process_energy's key (it does not push it into a UNION ALL that is joined). ?1, ?2:
 * the range, as store_unpack_procs_range was given it. */
#define STORE_PROCS                                                                                \
        "(SELECT " STORE_PROCS_COLUMNS " FROM process_energy WHERE tick_id IN (SELECT id FROM "    \
        "ticks WHERE ts_us > ?1 AND ts_us <= ?2) UNION ALL SELECT " STORE_PROCS_COLUMNS            \
        " FROM temp.packed_procs)"

/* ---- packed raw ticks (store-pack.c) ---- */

/* Ticks younger than this are not rolled into minutes yet (a late tick still finds its minute
 * open); the plain rows of older ones (an older joulesd's) are packed as they are rolled. */
#define STORE_HOT_US (2 * 60 * (int64_t)1000000)

/* The most bytes store_pack_units() writes for n units. */
size_t store_pack_bound(size_t n);
/* Whether store_pack_units can hold these units: ids not negative, sums within 64 bits. */
bool store_pack_units_fit(const StoreUnitValue *u, size_t n);
/* Encodes a tick's units (sorted by unit id) into buf; returns the length. */
size_t store_pack_units(const StoreUnitValue *u, size_t n, uint8_t *buf);
/* Decodes into *buf (grown as needed, *cap entries). -EBADMSG on a malformed blob. */
int store_unpack_units(const void *data, size_t len, StoreUnitValue **buf, size_t *cap,
                       size_t *ret_n) __attribute__((warn_unused_result));
/* A tick's requests (sorted by unit id, then metric id) the same way: whole counts as varints,
 * fractional ones (sample rates) as doubles (store-pack-side.c). */
size_t store_pack_requests_bound(size_t n);
size_t store_pack_requests(const StoreRequestValue *q, size_t n, uint8_t *buf);
int store_unpack_requests(const void *data, size_t len, StoreRequestValue **buf, size_t *cap,
                          size_t *ret_n) __attribute__((warn_unused_result));
/* A tick's domain_energy row as stored: energy_uj is NULL unless has_energy, drop_reason NULL
 * unless reason (reason_len bytes; decoded, it points into the BLOB, without a NUL). */
typedef struct StorePackedDomain {
        int64_t domain_id;
        bool has_energy;
        int64_t energy_uj;
        const char *reason;
        size_t reason_len;
} StorePackedDomain;
size_t store_pack_domains_bound(const StorePackedDomain *d, size_t n);
/* Encodes a tick's domain rows (by increasing domain id); 0 when they cannot be (ids not
 * increasing, negative, or 2^62 or more apart, the first from 0): the rows then stay plain. */
size_t store_pack_domains(const StorePackedDomain *d, size_t n, uint8_t *buf);
int store_unpack_domains(const void *data, size_t len, StorePackedDomain **buf, size_t *cap,
                         size_t *ret_n) __attribute__((warn_unused_result));
/* A tick's process_energy row as stored; decoded, comm points into the BLOB, without a NUL. */
typedef struct StorePackedProc {
        int64_t unit_id;
        int pid;
        uint64_t start_time;
        const char *comm;
        size_t comm_len;
        uint64_t active_uj, idle_uj, cpu_ns;
} StorePackedProc;
size_t store_pack_procs_bound(const StoreProcValue *v, size_t n);
/* Encodes a tick's processes, sorted by (unit id, pid); 0 when they cannot be (the order broken
 * or a pair repeated, a negative id or pid, no name, a value past int64): the rows then stay
 * plain. */
size_t store_pack_procs(const StoreProcValue *v, size_t n, uint8_t *buf);
int store_unpack_procs(const void *data, size_t len, StorePackedProc **buf, size_t *cap,
                       size_t *ret_n) __attribute__((warn_unused_result));

/* ---- ticks packed as they are committed (store-packed.c) ---- */

/* Inside the commit's transaction: writes the tick's units, requests and domain energies as its
 * tick_units row, and its processes there too when store_set_pack_procs allows it and they can
 * be packed (*ret_procs says whether). 1: written; 0: they cannot be packed (no unit, an id
 * repeated, a value the formats cannot hold) and are for the caller to write as plain rows,
 * processes included; < 0: an error.
 */
int store_tick_pack(Store *s, int64_t tick, const StoreTick *t, bool *ret_procs)
        __attribute__((warn_unused_result));

/* Sums over packed ticks, by unit id, by domain id, and the requests (unit, metric, count) as
 * they came (packed_sums_requests adds up each pair). */
/* Larger ids are refused: an array is indexed by them (32 bytes an id, 32 MiB at most, as the
 * running totals' own arrays, store-totals.c); a tick holding one stays plain rows. */
#define PACKED_ID_MAX (1 << 20)
typedef struct PackedUnitSum {
        int64_t active_uj, idle_uj, cpu_ns;
        bool estimated, seen;
} PackedUnitSum;
typedef struct PackedDomainSum {
        int64_t energy_uj, valid_us, dropped;
        bool seen;
} PackedDomainSum;
typedef struct PackedSums {
        PackedUnitSum *units;
        size_t n_units;
        PackedDomainSum *domains;
        size_t n_domains;
        StoreRequestValue *requests;
        size_t n_requests, cap_requests;
        bool any; /* a tick was added since the last clear */
        /* the decoders' buffers */
        StoreUnitValue *unit_buf;
        size_t cap_unit_buf;
        StoreRequestValue *request_buf;
        size_t cap_request_buf;
        StorePackedDomain *domain_buf;
        size_t cap_domain_buf;
} PackedSums;
/* One packed tick's BLOBs (requests, domains: NULL when it has none) and what its sums need. */
typedef struct PackedTickBlobs {
        uint64_t dt_us;
        bool estimated;
        const void *units, *requests, *domains;
        size_t units_len, requests_len, domains_len;
} PackedTickBlobs;
/* Adds a tick's values; -EBADMSG (naming the tick) for a malformed BLOB or an id out of range,
 * and then none of them is added; -EOVERFLOW for sums past int64. */
int packed_sums_add(Store *s, PackedSums *p, int64_t tick, const PackedTickBlobs *b)
        __attribute__((warn_unused_result));
/* Adds one unit's values, all or none: -ERANGE for an id no array holds (below 0, past
 * PACKED_ID_MAX), -EOVERFLOW for a value or a sum past int64, -ENOMEM. */
int packed_sums_add_unit(PackedSums *p, const StoreUnitValue *v, bool estimated)
        __attribute__((warn_unused_result));
size_t packed_sums_requests(PackedSums *p);
/* Writes the sums with sql[0] per unit (?2 its id, ?3 active_uj, ?4 idle_uj, ?5 cpu_ns,
 * ?6 estimated), sql[1] per domain (?2 its id, ?3 energy_uj, ?4 valid_us, ?5 dropped) and sql[2]
 * per (unit, metric) (?2, ?3, ?4 the count), ?1 always bucket; each statement uses the
 * parameters it needs. Then clears them. */
int packed_sums_write(Store *s, PackedSums *p, int64_t bucket, const char *const sql[3])
        __attribute__((warn_unused_result));
void packed_sums_clear(PackedSums *p);
void packed_sums_free(PackedSums *p);
/* Calls fn for every tick with a tick_units row selected by where (a condition on ticks t, with
 * ?1 = a and ?2 = b), by end time; a tick fn finds malformed (-EBADMSG) is left out, with a
 * warning naming it. */
int packed_sums_each_tick(Store *s, const char *where, int64_t a, int64_t b,
                          int (*fn)(Store *, void *, int64_t tick, int64_t ts_us,
                                    const PackedTickBlobs *),
                          void *userdata) __attribute__((warn_unused_result));
