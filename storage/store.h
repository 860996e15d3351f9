#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The history: the only module that includes sqlite3.h. The daemon appends one tick at a time
 * (buffered in one transaction until store_commit()); the CLI reads through the query functions
 * below on a read-only handle. Energy is kept in integer microjoules, times in microseconds
 * (wall clock, CLOCK_REALTIME) with each interval's length measured on CLOCK_MONOTONIC. */

typedef struct Store Store;

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
        const StoreDomainValue *domains;
        size_t n_domains;
        const StoreUnitValue *units;
        size_t n_units;
        const StoreProcValue *procs;
        size_t n_procs;
        const StoreCounterValue *counters;
        size_t n_counters;
        const StoreRequestValue *requests;
        size_t n_requests;
        const StoreIngestStats *ingest; /* NULL: no ingest socket */
} StoreTick;

int store_run_begin(Store *s, const StoreRun *run, int64_t *ret_run_id)
        __attribute__((warn_unused_result));
int store_run_set_weight(Store *s, const char *weight, const char *reason);
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

#define STORE_BACKLOG_DEFAULT (32u << 20)
typedef struct StoreBacklog {
        size_t ticks; /* queued, not yet written */
        size_t bytes;
        uint64_t dropped; /* ticks dropped because the backlog was full */
} StoreBacklog;
void store_set_backlog_limit(Store *s, size_t bytes);
void store_backlog(const Store *s, StoreBacklog *ret);
const char *store_last_error(Store *s);

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
        uint64_t dropped;   /* dropped intervals (host total) */
        char source[16];    /* of the latest run */
        char hostname[256]; /* of the latest run */
        uint64_t interval_us;
        char weight[128];
        char weight_reason[512];
        StoreDomainStatus *domains;
        size_t n_domains;
        StoreIngestStats ingest; /* all stored: lines accepted, rejected, malformed */
} StoreStatus;

int store_read_status(Store *s, StoreStatus *ret) __attribute__((warn_unused_result));
void store_status_done(StoreStatus *st);

typedef struct StoreUnitTotal {
        char name[256];
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
 * but drew no energy in the range is listed too (with zero energy). */
int store_read_services(Store *s, int64_t from_us, int64_t to_us, StoreServices *ret)
        __attribute__((warn_unused_result));
void store_services_done(StoreServices *sv);

/* The newest tick's end (wall clock) and the latest run's interval; -ENODATA with no ticks. */
int store_read_last_tick(Store *s, int64_t *ret_ts_us, uint64_t *ret_interval_us)
        __attribute__((warn_unused_result));
/* The end of the last tick ending at or before ts_us (ret 0 when none), and of the first tick
 * ending at or after it (-ENODATA when none yet): joules run turns its command's start and end
 * into whole ticks with these. */
int store_read_tick_before(Store *s, int64_t ts_us, int64_t *ret_ts_us)
        __attribute__((warn_unused_result));
int store_read_tick_after(Store *s, int64_t ts_us, int64_t *ret_ts_us)
        __attribute__((warn_unused_result));

typedef struct StoreProcTotal {
        char unit[256];
        int pid;
        char comm[64];
        double energy_j;
        double cpu_s;
} StoreProcTotal;

/* Per process totals over (from_us, to_us], biggest first, at most `limit` per unit. */
int store_read_processes(Store *s, int64_t from_us, int64_t to_us, size_t limit,
                         StoreProcTotal **ret, size_t *ret_n) __attribute__((warn_unused_result));
