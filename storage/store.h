#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <limits.h>
#include <stdint.h>

/* The history: the only module that includes sqlite3.h. The daemon appends one tick at a time
 * (buffered in one transaction until store_commit()); the CLI reads through the query functions
 * below on a read-only handle. Energy is kept in integer microjoules, times in microseconds
 * (wall clock, CLOCK_REALTIME) with each interval's length measured on CLOCK_MONOTONIC. */

typedef struct Store Store;

/* The unit names the readers give back, NUL included: systemd's 255 bytes and a user unit's
 * "user@UID/" prefix (CGROUP_UNIT_DISPLAY_MAX). A longer one, only in a foreign file, is cut and
 * marked with a hash of the whole, so that two never read as one. */
#define STORE_NAME_MAX 288

typedef enum StoreMode {
        STORE_READ_ONLY,
        STORE_READ_WRITE, /* creates the file and applies migrations */
} StoreMode;

/* err (may be NULL) receives a sentence for the user: which file, what went wrong, what to do. */
int store_open(const char *path, StoreMode mode, Store **ret, char *err, size_t errlen)
        __attribute__((warn_unused_result));
Store *store_close(Store *s);
/* Renames a (corrupt) history and its -wal/-shm files to PATH.corrupt-<UTC time>; never deletes.
 * ret_path receives the new name. */
int store_move_aside(const char *path, char *ret_path, size_t size)
        __attribute__((warn_unused_result));
int store_schema_version(Store *s);
/* The schema version this build writes (the number of migrations it knows). */
int store_schema_latest(void);

/* ---- writing (daemon) ---- */

typedef struct StoreRun {
        int64_t started_us;
        const char *source; /* "perf", "powercap", "model" */
        bool estimated;
        uint64_t interval_us;
        const char *hostname;
        const char *weight;        /* attribution weight: "cycles" or "cpu-time"; NULL: none */
        const char *weight_reason; /* why, when it is not cycles */
} StoreRun;

typedef struct StoreDomain {
        const char *name;
        const char *zone;
        const char *source;
        const char *kind;
        bool estimated;
        bool in_host;
} StoreDomain;

typedef struct StoreDomainValue {
        int64_t domain_id;
        bool valid;
        uint64_t energy_uj;      /* when valid */
        const char *drop_reason; /* when !valid and the interval was dropped; NULL: baseline */
} StoreDomainValue;

typedef struct StoreUnitValue {
        int64_t unit_id;
        uint64_t active_uj;
        uint64_t idle_uj;
        uint64_t cpu_ns;
} StoreUnitValue;

typedef struct StoreProcValue {
        int64_t unit_id;
        int pid;
        uint64_t start_time; /* clock ticks since boot, tells PID reuse apart */
        const char *comm;
        uint64_t active_uj;
        uint64_t idle_uj;
        uint64_t cpu_ns;
} StoreProcValue;

typedef struct StoreCounterValue {
        int64_t unit_id;
        int64_t event_id;
        uint64_t value;
} StoreCounterValue;

/* A stored process's perf event count in a tick (daemon/proc-events.h): the same identity as its
 * StoreProcValue (pid, start_time), under the unit it was last stored with. */
typedef struct StoreProcCounterValue {
        int64_t unit_id;
        int pid;
        uint64_t start_time;
        int64_t event_id;
        uint64_t value;
} StoreProcCounterValue;

/* Requests counted for a unit in a tick, per metric name ("requests", "orders"). */
typedef struct StoreRequestValue {
        int64_t unit_id;
        int64_t metric_id;
        double count;
} StoreRequestValue;

/* The ingest socket's lines in a tick (see daemon/ingest.h). */
typedef struct StoreIngestStats {
        uint64_t accepted;
        uint64_t rejected;
        uint64_t malformed;
} StoreIngestStats;

typedef struct StoreTick {
        int64_t ts_us;  /* wall clock at the end of the interval */
        uint64_t dt_us; /* interval length */
        bool host_valid;
        uint64_t host_uj;
        bool estimated;
        bool has_util;   /* the model read a utilisation for the tick (never a measured source) */
        double util_pct; /* that utilisation, percent of all CPUs */
        const StoreDomainValue *domains;
        size_t n_domains;
        const StoreUnitValue *units;
        size_t n_units;
        const StoreProcValue *procs;
        size_t n_procs;
        const StoreCounterValue *counters;
        size_t n_counters;
        const StoreProcCounterValue *proc_counters;
        size_t n_proc_counters;
        const StoreRequestValue *requests;
        size_t n_requests;
        const StoreIngestStats *ingest; /* NULL: no ingest socket */
} StoreTick;

int store_run_begin(Store *s, const StoreRun *run, int64_t *ret_run_id)
        __attribute__((warn_unused_result));
int store_run_set_weight(Store *s, const char *weight, const char *reason);

/* How the model source estimates, for the current run (schema 8). Strings may be NULL; a NaN
 * figure is stored as NULL. */
typedef struct StoreRunModel {
        const char *method; /* "configured", "cpu", "generic" */
        const char *source; /* where the numbers came from, in words */
        const char *cpu;    /* the CPU model /proc/cpuinfo names */
        const char *curve;  /* as [model] curve reads it */
        double band_pct;    /* ± percent of the curve's estimate */
        double dram_w;      /* the dram estimate's constant power */
        const char *dram_source;
        double dram_band_pct;
} StoreRunModel;
int store_run_set_model(Store *s, const StoreRunModel *m);
/* The ± band of the current run's host total so far, in percent. */
int store_run_set_band(Store *s, double band_pct);
int store_run_end(Store *s, int64_t stopped_us);
int store_domain_ensure(Store *s, const StoreDomain *d, int64_t *ret_id)
        __attribute__((warn_unused_result));
int store_unit_ensure(Store *s, const char *name, bool pseudo, int64_t *ret_id)
        __attribute__((warn_unused_result));
int store_event_ensure(Store *s, const char *name, int64_t *ret_id)
        __attribute__((warn_unused_result));
/* A request metric name ("requests"). */
int store_metric_ensure(Store *s, const char *name, int64_t *ret_id)
        __attribute__((warn_unused_result));
/* Queues a copy of the tick in memory (drop_reason strings must be static). Nothing is written
 * until store_commit(). -ENOMEM only. */
int store_tick_append(Store *s, const StoreTick *t) __attribute__((warn_unused_result));
/* Writes every queued tick in one transaction. On failure (a full disk, a read-only file system)
 * nothing of it is written and every tick stays queued for the next call, up to the backlog
 * limit (default STORE_BACKLOG_DEFAULT bytes), past which the oldest are dropped and counted. */
int store_commit(Store *s) __attribute__((warn_unused_result));
/* Whether store_commit packs a tick's processes into its tick_units row (schema 14) instead of
 * writing a process_energy row each. Off until asked for (the ticks a journal replays at
 * store_open are written as rows), and to be left off while processes get perf event counts of
 * their own: a process counted in a range without a row there is named from its last stored tick
 * before the range, which only rows keep (the packed ones are read for the range alone). */
void store_set_pack_procs(Store *s, bool pack);
/* store_tick_append and store_commit in one, without the tick's journal record: it is in the
 * history a moment later, and a crash in between loses that tick alone, as it would lose a
 * journal write in flight. If the commit fails, the tick goes to the journal as
 * store_tick_append would have written it. Saves a cold write per commit (about 40 us). */
int store_tick_commit(Store *s, const StoreTick *t) __attribute__((warn_unused_result));

/* The tick journal (joulesd only): <path>-ticks holds every tick appended since the last
 * store_commit, copied into the file's shared mapping (no system call; on ext4, XFS and tmpfs,
 * elsewhere one pwritev each), so a writer can commit every few seconds and a crash still loses
 * nothing (a power cut, what the page cache held). The records end at the end of the file or at
 * a zero magic; a mapped file keeps its size while the writer runs, zeroed by each commit, and is
 * left empty when it closes with nothing to replay. One writer holds it (flock; -EBUSY for a
 * second). Opening it replays what a run that stopped without committing left there: its
 * ticks are queued under that run, unless the history holds them already or holds no such run.
 * A bad record ends the replay and the file is set aside (<path>-ticks.bad-<UTC time>); a torn
 * last record (the file cut mid-record) is cut. Returns -errno with store_last_error when there
 * can be no journal. */
typedef struct StoreJournalReplay {
        size_t replayed;   /* ticks queued again */
        size_t stored;     /* already in the history (the crash came after the commit) */
        size_t foreign;    /* of a run this history does not hold */
        bool torn;         /* the last record was cut short */
        char problem[128]; /* the bad record, or "" */
        char aside[PATH_MAX + 64];
} StoreJournalReplay;
int store_journal_open(Store *s, StoreJournalReplay *ret) __attribute__((warn_unused_result));
/* Stops appending to the journal (a writer that commits every tick); the file stays. */
void store_journal_close(Store *s);
/* Whether the journal holds every queued tick (its last write worked). */
bool store_journal_ok(const Store *s);
/* The errno of its last failed write or truncation, 0: none, EBADF: no journal. */
int store_journal_error(const Store *s);

#define STORE_BACKLOG_DEFAULT (32u << 20)
typedef struct StoreBacklog {
        size_t ticks; /* queued, not yet written */
        size_t bytes;
        uint64_t dropped; /* ticks dropped because the backlog was full */
} StoreBacklog;
void store_set_backlog_limit(Store *s, size_t bytes);
void store_backlog(const Store *s, StoreBacklog *ret);

/* Where store_commit's time goes (joulesd --profile): this thread's CPU time in ns, summed over
 * the commits since store_profile_enable: BEGIN (the WAL's locks and index header), the rows,
 * the running totals' fold, COMMIT (the WAL frames written, the locks released). */
typedef struct StoreCommitProfile {
        uint64_t commits;
        uint64_t begin_ns, rows_ns, totals_ns, commit_ns;
} StoreCommitProfile;
void store_profile_enable(Store *s);
void store_commit_profile(const Store *s, StoreCommitProfile *ret);
const char *store_last_error(Store *s);

/* ---- tiers, rollups and retention (storage/store-maintain.c) ---- */

/* How long each tier is kept; 0 keeps it forever. The day tier (built from hours, so yearly
 * queries read few rows) is always kept. Retentions must not shrink from raw to hour. */
typedef struct StoreRetention {
        uint64_t raw_us;
        uint64_t minute_us;
        uint64_t hour_us;
} StoreRetention;

#define STORE_RAW_RETENTION_DEFAULT    (7 * 86400 * UINT64_C(1000000))
#define STORE_MINUTE_RETENTION_DEFAULT (90 * 86400 * UINT64_C(1000000))
#define STORE_HOUR_RETENTION_DEFAULT   UINT64_C(0)

/* Rolls every complete minute (ending at or before now_us) into the minute tier, complete hours
 * into the hour tier and days into the day tier, then deletes what retention lets go, oldest
 * first. Work per call is bounded (a few hours of rollups, a batch of deletions): returns 1 when
 * more remains (call again soon), 0 when caught up. Ticks written after their minute was rolled
 * (a backlog written late, a wall clock stepped back) are added to the rolled rows. Call it about
 * once a minute, outside store_commit(). */
int store_maintain(Store *s, int64_t now_us, const StoreRetention *r)
        __attribute__((warn_unused_result));

/* ---- reading (CLI) ---- */

typedef struct StoreDomainStatus {
        char name[64];
        char zone[128];
        char source[16];
        char kind[16];
        bool estimated;
        bool in_host;
        double energy_j; /* all stored */
        double power_w;  /* average over the last minute stored */
        uint64_t dropped;
} StoreDomainStatus;

typedef struct StoreStatus {
        bool empty;
        int64_t first_us, last_us;
        uint64_t samples;
        double energy_j;
        double power_w;
        bool estimated;
        uint64_t dropped;       /* dropped intervals (host total) */
        uint64_t measured_us;   /* time covered by valid intervals; the rest of the span is gaps */
        uint64_t runs;          /* starts of joulesd */
        uint64_t unclean_stops; /* runs that ended without recording their stop */
        char source[16];        /* of the latest run */
        char hostname[256];     /* of the latest run */
        uint64_t interval_us;
        char weight[128];
        char weight_reason[512];
        StoreDomainStatus *domains;
        size_t n_domains;
        StoreIngestStats ingest; /* all stored: lines accepted, rejected, malformed */
        /* The latest run's model (schema 8): method "" for a measured source or a history
         * written before it; texts are untrusted (CPU names); figures NaN when unknown. */
        char model_method[16];
        char model_source[512];
        char model_cpu[128];
        char model_curve[512];
        double model_band_pct;
        double dram_w;
        char dram_source[160];
        double dram_band_pct;
        double band_pct; /* of the host total so far */
} StoreStatus;

int store_read_status(Store *s, StoreStatus *ret) __attribute__((warn_unused_result));

/* The energy stored over (from_us, to_us], split by run: whether the run estimated it, the run's
 * ± band (runs.band_pct: 0 or NULL for measured runs, NaN for an estimate written before schema
 * 8), and its joules. cli/band.h weighs the parts into the range's band. *ret is malloc'ed (NULL
 * when empty); the caller frees it. */
typedef struct StoreBandPart {
        bool estimated;
        double band_pct;
        double energy_j;
} StoreBandPart;

int store_read_band(Store *s, int64_t from_us, int64_t to_us, StoreBandPart **ret, size_t *ret_n)
        __attribute__((warn_unused_result));
void store_status_done(StoreStatus *st);

typedef struct StoreUnitTotal {
        char name[STORE_NAME_MAX];
        bool pseudo;
        double active_j;
        double idle_j;
        double cpu_s;
        bool estimated;
        bool has_requests; /* any "requests" counted in the range */
        double requests;   /* the metric named "requests" (STORE_REQUESTS_METRIC) */
} StoreUnitTotal;

/* The metric joules per request divides by. */
#define STORE_REQUESTS_METRIC "requests"

typedef struct StoreServices {
        int64_t from_us, to_us;    /* the range asked for */
        int64_t first_us, last_us; /* the ticks that fell in it */
        double seconds;            /* covered by valid ticks */
        double host_energy_j;
        bool estimated;
        StoreUnitTotal *units;
        size_t n_units;
} StoreServices;

/* Totals per unit over ticks whose end lies in (from_us, to_us]. A unit that counted requests
 * but drew no energy in the range is listed too (with zero energy). Whole days, hours and minutes
 * of the range are read from the rollup tiers, the rest from the raw ticks, with the same result;
 * where retention deleted the raw ticks (or minutes) an edge of the range is widened to the
 * minute (or hour, day) holding it, which first_us/last_us show. */
int store_read_services(Store *s, int64_t from_us, int64_t to_us, StoreServices *ret)
        __attribute__((warn_unused_result));
void store_services_done(StoreServices *sv);

/* The newest tick's end (wall clock) and the latest run's interval; -ENODATA with no ticks. */
/* The newest committed tick's end: what the history's queries can read up to. */
int store_read_committed_last(Store *s, int64_t *ret_ts_us) __attribute__((warn_unused_result));
int store_read_last_tick(Store *s, int64_t *ret_ts_us, uint64_t *ret_interval_us)
        __attribute__((warn_unused_result));
/* The end of the last tick ending at or before ts_us (ret 0 when none), and of the first tick
 * ending at or after it (-ENODATA when none yet): joules run turns its command's start and end
 * into whole ticks with these. They, and store_read_last_tick, count the ticks joulesd's journal
 * holds and has not committed yet too (a commit interval): the queries see those only once
 * store_read_committed_last reaches them. */
int store_read_tick_before(Store *s, int64_t ts_us, int64_t *ret_ts_us)
        __attribute__((warn_unused_result));
int store_read_tick_after(Store *s, int64_t ts_us, int64_t *ret_ts_us)
        __attribute__((warn_unused_result));

typedef struct StoreProcTotal {
        char unit[STORE_NAME_MAX];
        int pid;
        char comm[64];
        double energy_j;
        double cpu_s;
} StoreProcTotal;

/* The sum over (from_us, to_us] of one perf event's counts (joulesd --events: "instructions",
 * "cycles") for one unit, as stored per tick; -ENODATA when no tick in the range holds that
 * event for that unit (no hardware counters, or another --events). */
int store_read_unit_counter(Store *s, int64_t from_us, int64_t to_us, const char *unit,
                            const char *event, double *ret) __attribute__((warn_unused_result));

/* One unit's total of one perf event over a range. */
typedef struct StoreEventTotal {
        char unit[STORE_NAME_MAX];
        char event[128];
        int64_t event_id; /* the order joulesd first stored the events in */
        double total;     /* a double: 64-bit counts summed over a range can pass INT64_MAX */
} StoreEventTotal;

/* Every unit's perf event totals over (from_us, to_us] (unit NULL), or one unit's, ordered by unit
 * name, then by event in the order joulesd first stored them (the first is the first of its
 * --events list). Only units and events with a count stored in the range are listed. Counts are
 * kept with the raw ticks (raw_retention), never rolled up: a range reaching further back counts
 * the part still held (see README "Perf events per process and per request"). */
int store_read_unit_events(Store *s, int64_t from_us, int64_t to_us, const char *unit,
                           StoreEventTotal **ret, size_t *ret_n)
        __attribute__((warn_unused_result));

/* One process over a range: a (pid, start_time) pair, so a PID reused by another process is
 * another row. */
typedef struct StoreProcess {
        char unit[STORE_NAME_MAX];
        int pid;
        uint64_t start_time; /* clock ticks after its host's boot (/proc/PID/stat field 22) */
        char comm[64];       /* as the kernel gave it: untrusted bytes */
        double energy_j;
        double cpu_s;
        double *events; /* StoreProcesses.n_events counts, NAN where the event was not counted */
} StoreProcess;

typedef struct StoreProcesses {
        int64_t from_us, to_us;
        char (*event_names)[128]; /* in the order joulesd first stored them */
        size_t n_events;
        StoreProcess *procs; /* highest energy first, then pid */
        size_t n_procs;
} StoreProcesses;

/* Every stored process with ticks ending in (from_us, to_us] (unit NULL: of every unit), with its
 * energy, CPU time and perf event counts summed over the range. Like the process rows they sum,
 * the counts are kept with the raw ticks. */
int store_read_process_list(Store *s, int64_t from_us, int64_t to_us, const char *unit,
                            StoreProcesses *ret) __attribute__((warn_unused_result));
void store_processes_done(StoreProcesses *p);

/* Per process totals over (from_us, to_us], biggest first, at most `limit` per unit. */
int store_read_processes(Store *s, int64_t from_us, int64_t to_us, size_t limit,
                         StoreProcTotal **ret, size_t *ret_n) __attribute__((warn_unused_result));

/* ---- periods, settings and grid intensity (storage/store-report.c) ---- */

/* Periods are UTC calendar buckets. A tick belongs to the bucket holding its end, with the same
 * (start, end] convention as the ranges: a tick ending exactly on 01:00:00 counts for 00:00. */
typedef enum StoreBucket {
        STORE_BUCKET_HOUR,
        STORE_BUCKET_DAY,
        STORE_BUCKET_MONTH,
        STORE_BUCKET_ALL,    /* one period: the whole range */
        STORE_BUCKET_MINUTE, /* for charts of short ranges */
        STORE_BUCKET_SECOND,
} StoreBucket;

/* The start of the bucket holding the instant just before ts_us, and the next bucket's start. */
int64_t store_bucket_start(StoreBucket b, int64_t ts_us);
int64_t store_bucket_next(StoreBucket b, int64_t start_us);
/* "hour", "day", "month" (and "all"); -EINVAL otherwise. */
int store_bucket_from_string(const char *s, StoreBucket *ret) __attribute__((warn_unused_result));

/* The host in one period. start_us/end_us are the bucket's bounds clipped to the range. */
typedef struct StorePeriod {
        int64_t start_us, end_us;
        int64_t first_us, last_us; /* the first tick's start and the last tick's end in it */
        uint64_t host_uj;
        double seconds; /* covered by valid ticks */
        bool estimated;
} StorePeriod;

/* One unit in one period (units with neither energy nor requests there are absent). */
typedef struct StorePeriodRow {
        size_t period; /* index into StorePeriodRows.periods */
        char name[STORE_NAME_MAX];
        bool pseudo;
        uint64_t active_uj, idle_uj, cpu_ns;
        bool has_requests;
        double requests; /* STORE_REQUESTS_METRIC */
        bool estimated;
        uint64_t estimated_uj; /* of active + idle, from estimated ticks (or tier rows) */
} StorePeriodRow;

typedef struct StorePeriodRows {
        int64_t from_us, to_us;
        StoreBucket bucket;
        char hostname[256];   /* of the latest run with ticks in the range ("" when none) */
        StorePeriod *periods; /* oldest first, only periods with ticks */
        size_t n_periods;
        StorePeriodRow *rows; /* by period, then energy (biggest first), then name */
        size_t n_rows;
} StorePeriodRows;

/* Energy, CPU time and requests per period and unit over ticks ending in (from_us, to_us];
 * unit NULL for every unit. The one place the reports read energy by period. */
int store_read_periods(Store *s, int64_t from_us, int64_t to_us, StoreBucket bucket,
                       const char *unit, StorePeriodRows *ret) __attribute__((warn_unused_result));
void store_periods_done(StorePeriodRows *p);

/* Settings kept with the history (table meta), such as joulesd's [carbon] section under keys
 * "carbon.*". store_read_meta: -ENOENT when the key is absent. */
int store_write_meta(Store *s, const char *key, const char *value)
        __attribute__((warn_unused_result));
int store_delete_meta_prefix(Store *s, const char *prefix) __attribute__((warn_unused_result));
int store_read_meta(Store *s, const char *key, char *buf, size_t size)
        __attribute__((warn_unused_result));

/* An imported grid carbon-intensity interval, [start_us, end_us). */
typedef struct StoreIntensityPoint {
        int64_t start_us, end_us;
        double g_per_kwh;
} StoreIntensityPoint;

/* Replaces whatever overlaps the points with them, in one transaction: all or nothing. */
int store_import_intensity(Store *s, const StoreIntensityPoint *points, size_t n,
                           const char *source) __attribute__((warn_unused_result));
/* The points overlapping [from_us, to_us), oldest first. */
int store_read_intensity(Store *s, int64_t from_us, int64_t to_us, StoreIntensityPoint **ret,
                         size_t *ret_n) __attribute__((warn_unused_result));
/* How many points are stored and their span; 0 points: first/last 0. */
int store_intensity_summary(Store *s, size_t *ret_n, int64_t *ret_first_us, int64_t *ret_last_us,
                            char *source, size_t source_size) __attribute__((warn_unused_result));

/* ---- running totals (storage/store-totals.c) ---- */

typedef struct StoreTotalUnit {
        char name[STORE_NAME_MAX];
        bool pseudo; /* kernel, unattributed, idle */
        uint64_t active_uj, idle_uj, cpu_ns;
} StoreTotalUnit;

typedef struct StoreTotalDomain {
        char name[64];
        char zone[128];
        char source[16];
        char kind[16];
        bool estimated;
        bool in_host;
        uint64_t energy_uj;
        uint64_t dropped; /* intervals dropped */
} StoreTotalDomain;

typedef struct StoreTotalRequests {
        char unit[STORE_NAME_MAX];
        char metric[128];
        double count;
} StoreTotalRequests;

/* A unit's count of one perf event since the history began. */
typedef struct StoreTotalEvents {
        char unit[STORE_NAME_MAX];
        char event[128];
        uint64_t value;
} StoreTotalEvents;

/* Everything the history holds, summed since its first tick: the counters the exporter serves.
 * They only grow: retention and rollups never take anything from them. host_uj equals the sum
 * of every unit's active_uj + idle_uj (pseudo-units included) exactly. */
typedef struct StoreTotals {
        uint64_t ticks;
        uint64_t host_uj;
        uint64_t valid_us; /* time covered by valid intervals */
        uint64_t dropped;  /* intervals whose host energy was dropped */
        bool estimated;    /* any tick estimated */
        bool empty;        /* no tick yet: first_us, last_us are 0 */
        int64_t first_us;  /* the first tick's start */
        int64_t last_us;   /* the newest tick's end */
        /* the latest run of joulesd */
        char source[16];
        bool run_estimated;
        char hostname[256];
        char weight[128];
        StoreTotalUnit *units; /* by name */
        size_t n_units;
        StoreTotalDomain *domains; /* by id */
        size_t n_domains;
        StoreTotalRequests *requests; /* by unit, then metric */
        size_t n_requests;
        StoreTotalEvents *events; /* by unit, then event name */
        size_t n_events;
} StoreTotals;

/* Reads the totals in one read transaction (one consistent snapshot), from the running totals:
 * a few rows per unit, whatever the length of the history. A file from before schema 7 (an
 * older joulesd, opened read-only) is summed through the tiers instead, in time proportional to
 * its history. */
int store_read_totals(Store *s, StoreTotals *ret) __attribute__((warn_unused_result));
void store_totals_done(StoreTotals *t);

/* ---- per-tick host readings (storage/store-ticks.c) ---- */

/* One raw tick as `joules calibrate --from-history` reads it: the host's energy and the CPU time
 * of every unit (pseudo-units included) in the tick. */
typedef struct StoreHostTick {
        int64_t ts_us;  /* the tick's end */
        uint64_t dt_us; /* its length */
        uint64_t host_uj;
        uint64_t cpu_ns; /* sum over the units' rows, packed or not */
        bool has_cpu;    /* false: the tick has no unit rows at all */
        bool estimated;  /* the energy came from the model, not from a meter */
} StoreHostTick;

/* The raw ticks ending in (from_us, to_us] whose energy is known (not dropped), oldest first.
 * Where retention deleted the raw ticks there are none. *ret is freed by the caller. */
int store_read_host_ticks(Store *s, int64_t from_us, int64_t to_us, StoreHostTick **ret,
                          size_t *ret_n) __attribute__((warn_unused_result));
