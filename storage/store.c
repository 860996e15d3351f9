#include "storage/store.h"
#include "storage/store-internal.h"

#include <errno.h>
#include <math.h>
#include <limits.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"

static const char *const store_sql[_ST_MAX] = {
        [ST_RUN_BEGIN] = "INSERT INTO runs (started_us, source, estimated, interval_us, hostname, "
                         "version, weight, weight_reason) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [ST_RUN_WEIGHT] = "UPDATE runs SET weight = ?, weight_reason = ? WHERE id = ?",
        [ST_RUN_END] = "UPDATE runs SET stopped_us = ? WHERE id = ?",
        [ST_RUN_MODEL] = "UPDATE runs SET model_method = ?, model_source = ?, model_cpu = ?, "
                         "model_curve = ?, model_band_pct = ?, dram_w = ?, dram_source = ?, "
                         "dram_band_pct = ?, band_pct = ? WHERE id = ?",
        [ST_RUN_BAND] = "UPDATE runs SET band_pct = ? WHERE id = ?",
        [ST_DOMAIN_FIND] = "SELECT id FROM domains WHERE source = ? AND zone = ? AND name = ?",
        [ST_DOMAIN_ADD] = "INSERT INTO domains (name, zone, source, kind, estimated, in_host) "
                          "VALUES (?, ?, ?, ?, ?, ?)",
        [ST_UNIT_FIND] = "SELECT id FROM units WHERE name = ?",
        [ST_UNIT_ADD] = "INSERT INTO units (name, pseudo) VALUES (?, ?)",
        [ST_EVENT_FIND] = "SELECT id FROM events WHERE name = ?",
        [ST_EVENT_ADD] = "INSERT INTO events (name) VALUES (?)",
        [ST_TICK_ADD] = "INSERT INTO ticks (run_id, ts_us, dt_us, host_uj, estimated, dropped, "
                        "util_pct) VALUES (?, ?, ?, ?, ?, ?, ?)",
        [ST_DOMAIN_ENERGY_ADD] = "INSERT INTO domain_energy (tick_id, domain_id, energy_uj, "
                                 "drop_reason) VALUES (?, ?, ?, ?)",
        [ST_METRIC_FIND] = "SELECT id FROM request_metrics WHERE name = ?",
        [ST_METRIC_ADD] = "INSERT INTO request_metrics (name) VALUES (?)",
        [ST_INGEST_STATS_ADD] = "INSERT INTO ingest_stats (tick_id, accepted, rejected, "
                                "malformed) VALUES (?, ?, ?, ?)",
        /* store_totals_flush: the ticks after through_tick added to the totals */
        [ST_TOTAL_HOST] = "UPDATE total_host SET (ticks, host_uj, valid_us, dropped, estimated, "
                          "first_us, last_us, through_tick) = (SELECT total_host.ticks + "
                          "COUNT(*), total_host.host_uj + COALESCE(SUM(t.host_uj), 0), "
                          "total_host.valid_us + COALESCE(SUM(CASE WHEN t.host_uj IS NOT NULL "
                          "THEN t.dt_us END), 0), total_host.dropped + COALESCE(SUM(t.host_uj "
                          "IS NULL AND t.dropped > 0), 0), MAX(total_host.estimated, "
                          "COALESCE(MAX(t.estimated), 0)), COALESCE(MIN(COALESCE("
                          "total_host.first_us, MIN(t.ts_us - t.dt_us)), MIN(t.ts_us - "
                          "t.dt_us)), total_host.first_us), COALESCE(MAX(COALESCE("
                          "total_host.last_us, MAX(t.ts_us)), MAX(t.ts_us)), total_host.last_us), "
                          "COALESCE(MAX(t.id), total_host.through_tick) FROM ticks t WHERE t.id > "
                          "total_host.through_tick) WHERE id = 1",
        [ST_TOTAL_UNIT] = "INSERT INTO total_units (unit_id, active_uj, idle_uj, cpu_ns) "
                          "SELECT unit_id, SUM(active_uj), SUM(idle_uj), SUM(cpu_ns) FROM "
                          "unit_energy WHERE tick_id > (SELECT through_tick FROM total_host) "
                          "GROUP BY unit_id ON CONFLICT (unit_id) DO UPDATE SET "
                          "active_uj = active_uj + excluded.active_uj, "
                          "idle_uj = idle_uj + excluded.idle_uj, cpu_ns = cpu_ns + excluded.cpu_ns",
        [ST_TOTAL_DOMAIN] = "INSERT INTO total_domains (domain_id, energy_uj, dropped) "
                            "SELECT domain_id, COALESCE(SUM(energy_uj), 0), SUM(energy_uj IS "
                            "NULL AND drop_reason IS NOT 'baseline') FROM domain_energy WHERE "
                            "tick_id > (SELECT through_tick FROM total_host) GROUP BY domain_id "
                            "ON CONFLICT (domain_id) DO UPDATE SET "
                            "energy_uj = energy_uj + excluded.energy_uj, "
                            "dropped = dropped + excluded.dropped",
        [ST_TOTAL_REQUESTS] = "INSERT INTO total_requests (unit_id, metric_id, count) "
                              "SELECT unit_id, metric_id, SUM(count) FROM unit_requests WHERE "
                              "tick_id > (SELECT through_tick FROM total_host) GROUP BY unit_id, "
                              "metric_id ON CONFLICT (unit_id, metric_id) DO UPDATE "
                              "SET count = count + excluded.count",
        [ST_TOTAL_COUNTER] = "INSERT INTO total_counters (unit_id, event_id, value) "
                             "SELECT unit_id, event_id, CAST(TOTAL(value) AS INTEGER) FROM "
                             "unit_counters WHERE tick_id > (SELECT through_tick FROM total_host) "
                             "AND value != 0 GROUP BY unit_id, event_id ON CONFLICT (unit_id, "
                             "event_id) DO UPDATE SET value = value + excluded.value",
        /* store_commit's, prepared once: sqlite3_exec would parse them every tick */
        [ST_BEGIN] = "BEGIN IMMEDIATE",
        [ST_COMMIT] = "COMMIT",
};

static int store_prepare_all(Store *s)
{
        for (size_t i = 0; i < _ST_MAX; i++) {
                int rc = sqlite3_prepare_v3(s->db, store_sql[i], -1, SQLITE_PREPARE_PERSISTENT,
                                            &s->stmt[i], NULL);
                if (rc != SQLITE_OK)
                        return store_fail(s, rc, store_sql[i]);
        }
        return 0;
}

/* Before SQLite initialises, once per process: no memory statistics. By default SQLite counts
 * every allocation it makes under a global mutex, for sqlite3_memory_used() and the soft heap
 * limit, which joules uses neither of; that is about 7% of the instructions of an INSERT
 * (bench/README.md). sqlite3_config() refuses (SQLITE_MISUSE) once the library is initialised,
 * by a caller of its own in the same process: then the default stays, which is only slower. */
static void store_sqlite_config(void)
{
        (void)sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}

int store_open(const char *path, StoreMode mode, Store **ret, char *err, size_t errlen)
{
        static pthread_once_t once = PTHREAD_ONCE_INIT;
        (void)pthread_once(&once, store_sqlite_config);

        Store *s = calloc(1, sizeof(*s));
        if (!s)
                return -ENOMEM;
        s->mode = mode;
        s->journal_fd = -1;
        s->backlog_limit = STORE_BACKLOG_DEFAULT;
        s->path = strdup(path);
        if (!s->path) {
                free(s);
                return -ENOMEM;
        }
        int flags = mode == STORE_READ_ONLY ? SQLITE_OPEN_READONLY
                                            : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
        int r = 0;
        if (mode == STORE_READ_ONLY && access(path, F_OK) < 0) {
                r = -errno;
                snprintf(s->error, sizeof(s->error), "%s: %s", path, strerror(errno));
                goto fail;
        }
        int rc = sqlite3_open_v2(path, &s->db, flags | SQLITE_OPEN_NOMUTEX, NULL);
        if (rc != SQLITE_OK) {
                r = s->db ? store_fail(s, rc, path) : -ENOMEM;
                goto fail;
        }
        sqlite3_extended_result_codes(s->db, 1);
        /* Readers wait for a writer's checkpoint rather than failing with "database is locked". */
        sqlite3_busy_timeout(s->db, 5000);
        /* Packed ticks are decoded into temp tables (store-unpack.c): keep them in memory, so a
         * read-only CLI never needs a writable temporary directory. */
        (void)sqlite3_exec(s->db, "PRAGMA temp_store = MEMORY", NULL, NULL, NULL);
        if (mode == STORE_READ_WRITE) {
                r = store_exec(s, "PRAGMA journal_mode = WAL");
                /* Keep the -wal and -shm files when the daemon stops: a reader in group joules
                 * (joules, joules-exporter) may not create them in /var/lib/joules, and without
                 * them it could not open the history while joulesd is stopped or restarting. */
                int persist = 1;
                (void)sqlite3_file_control(s->db, "main", SQLITE_FCNTL_PERSIST_WAL, &persist);
                if (r >= 0)
                        r = store_exec(s, "PRAGMA synchronous = NORMAL");
                /* A writer appends at the right edge of a few tables and rolls up a minute at a
                 * time: 512 KiB of page cache hold that (SQLite's default is 2 MiB, most of
                 * the daemon's heap). */
                if (r >= 0)
                        r = store_exec(s, "PRAGMA cache_size = -512");
                if (r >= 0)
                        r = store_migrate(s);
                if (r >= 0)
                        r = store_prepare_all(s);
        } else {
                int v;
                r = store_user_version(s, &v);
                if (r >= 0 && v == 0) {
                        snprintf(s->error, sizeof(s->error),
                                 "%s holds no joules history (schema version 0); is joulesd "
                                 "writing to another file?",
                                 path);
                        r = -ENODATA;
                } else if (r >= 0 && v > store_schema_latest()) {
                        snprintf(s->error, sizeof(s->error),
                                 "%s has schema version %d, newer than this joules (%d)", path, v,
                                 store_schema_latest());
                        r = -EPROTO;
                }
        }
        if (r < 0)
                goto fail;
        *ret = s;
        return 0;
fail:
        if (err) {
                if (r == -EBADMSG)
                        snprintf(err, errlen,
                                 "%s is not a valid joules database (corrupt or not SQLite): %s. "
                                 "Move it aside and restart joulesd to begin a new history",
                                 path, s->error);
                else
                        snprintf(err, errlen, "%s", s->error[0] ? s->error : strerror(-r));
        }
        store_close(s);
        return r;
}

int store_aside_path(const char *path, const char *what, char *ret, size_t size)
{
        char stamp[32];
        time_t now = time(NULL);
        struct tm tm;
        if (!gmtime_r(&now, &tm) || strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm) == 0)
                return -EINVAL;
        return path_fmt(ret, size, "%s.%s-%s", path, what, stamp);
}

unsigned store_tick_dropped(const StoreTick *t)
{
        unsigned dropped = 0;
        for (size_t i = 0; i < t->n_domains; i++)
                dropped += !t->domains[i].valid && t->domains[i].drop_reason;
        return dropped;
}

int store_move_aside(const char *path, char *ret_path, size_t size)
{
        char aside[PATH_MAX + 64];
        int r = store_aside_path(path, "corrupt", aside, sizeof(aside));
        if (r < 0)
                return r;
        if (rename(path, aside) < 0)
                return -errno;
        /* The journal files belong with the file they journal. */
        static const char *const suffixes[] = {"-wal", "-shm", "-journal", "-ticks"};
        for (size_t i = 0; i < ELEMENTSOF(suffixes); i++) {
                char from[PATH_MAX + 16], to[PATH_MAX + 96];
                if (path_fmt(from, sizeof(from), "%s%s", path, suffixes[i]) >= 0 &&
                    path_fmt(to, sizeof(to), "%s%s", aside, suffixes[i]) >= 0 &&
                    rename(from, to) < 0 && errno != ENOENT)
                        log_debug("storage: moving %s aside: %s", from, strerror(errno));
        }
        snprintf(ret_path, size, "%s", aside);
        return 0;
}

static void pending_free(Store *s);
static int store_tick_write(Store *s, const PendingTick *pt, StoreWritten *ret);

Store *store_close(Store *s)
{
        if (!s)
                return NULL;
        if (s->pending_head && store_commit(s) < 0)
                log_debug("storage: closing %s: %s", s->path, s->error);
        pending_free(s);
        store_journal_close(s);
        for (size_t i = 0; i < _ST_MAX; i++)
                sqlite3_finalize(s->stmt[i]);
        store_rows_free(s);
        store_cache_free(s);
        for (size_t i = 0; i < _STORE_SCRATCH_MAX; i++)
                free(s->scratch[i].p);
        if (s->db)
                sqlite3_close(s->db);
        free(s->path);
        free(s);
        return NULL;
}

/* Binds a list of values to a statement and steps it once. Format: 'i' int64, 'u' uint64 (stored
 * as a signed 64-bit integer; energies never reach 2^63 µJ), 't' text (NULL binds NULL), 'n'
 * NULL, 'b' bool. */
static int store_run_stmt(Store *s, int which, const char *fmt, ...)
{
        sqlite3_stmt *st = s->stmt[which];
        va_list ap;
        va_start(ap, fmt);
        for (int i = 1; *fmt; fmt++, i++) {
                switch (*fmt) {
                case 'i':
                        sqlite3_bind_int64(st, i, va_arg(ap, int64_t));
                        break;
                case 'u':
                        sqlite3_bind_int64(st, i, (sqlite3_int64)va_arg(ap, uint64_t));
                        break;
                case 'b':
                        sqlite3_bind_int(st, i, va_arg(ap, int) ? 1 : 0);
                        break;
                case 't': {
                        const char *t = va_arg(ap, const char *);
                        if (t)
                                sqlite3_bind_text(st, i, t, -1, SQLITE_STATIC);
                        else
                                sqlite3_bind_null(st, i);
                        break;
                }
                case 'n':
                        sqlite3_bind_null(st, i);
                        break;
                case 'd':
                        sqlite3_bind_double(st, i, va_arg(ap, double));
                        break;
                default:
                        assert(!"bad bind format");
                }
        }
        va_end(ap);
        int rc = sqlite3_step(st);
        int r = 0;
        if (rc != SQLITE_DONE && rc != SQLITE_ROW)
                r = store_fail(s, rc, store_sql[which]);
        else if (rc == SQLITE_ROW)
                r = 1;
        return r;
}

static void store_reset(Store *s, int which)
{
        sqlite3_reset(s->stmt[which]);
        sqlite3_clear_bindings(s->stmt[which]);
}

int store_begin(Store *s)
{
        if (s->in_tx)
                return 0;
        int r = store_exec(s, "BEGIN IMMEDIATE");
        if (r >= 0)
                s->in_tx = true;
        return r;
}

void store_pending_push(Store *s, PendingTick *p)
{
        if (s->pending_tail)
                s->pending_tail->next = p;
        else
                s->pending_head = p;
        s->pending_tail = p;
        s->pending_ticks++;
        s->pending_bytes += p->bytes;
        /* The backlog is bounded: past the limit the oldest ticks go, and are counted. */
        while (s->pending_bytes > s->backlog_limit && s->pending_head != p) {
                PendingTick *old = s->pending_head;
                s->pending_head = old->next;
                s->pending_ticks--;
                s->pending_bytes -= old->bytes;
                s->backlog_dropped++;
                free(old);
        }
}

/* A copy of the tick, queued; NULL when there is no memory for it. */
static PendingTick *tick_queue(Store *s, const StoreTick *t)
{
        assert(s->mode == STORE_READ_WRITE && s->run_id > 0);
        PendingTick *p = store_pending_copy(s, t);
        if (p)
                store_pending_push(s, p);
        return p;
}

int store_tick_append(Store *s, const StoreTick *t)
{
        PendingTick *p = tick_queue(s, t);
        if (!p)
                return -ENOMEM;
        store_journal_append(s, p);
        return 0;
}

int store_tick_commit(Store *s, const StoreTick *t)
{
        PendingTick *p = tick_queue(s, t);
        if (!p)
                return -ENOMEM;
        int r = store_commit(s);
        if (r < 0)
                store_journal_append(s, p); /* still queued: a failed commit keeps every tick */
        return r;
}

static void pending_free(Store *s)
{
        while (s->pending_head) {
                PendingTick *p = s->pending_head;
                s->pending_head = p->next;
                free(p);
        }
        s->pending_tail = NULL;
        s->pending_ticks = 0;
        s->pending_bytes = 0;
}

static int store_step_once(Store *s, int which)
{
        int rc = sqlite3_step(s->stmt[which]);
        sqlite3_reset(s->stmt[which]);
        return rc == SQLITE_DONE ? 0 : store_fail(s, rc, store_sql[which]);
}

void store_profile_enable(Store *s)
{
        s->profile = true;
        s->prof = (StoreCommitProfile){0};
}

void store_commit_profile(const Store *s, StoreCommitProfile *ret)
{
        *ret = s->prof;
}

int store_commit(Store *s)
{
        if (!s->pending_head)
                return 0;
        uint64_t p0 = s->profile ? now_thread_cpu_ns() : 0, p1 = 0, p2 = 0, p3 = 0;
        int r = store_step_once(s, ST_BEGIN);
        if (r < 0)
                return r;
        if (s->profile)
                p1 = now_thread_cpu_ns();
        /* The ticks first, then their other rows several to a statement (store-rows.c), which
         * needs every tick's id. */
        StoreWritten *w = r >= 0 ? malloc(s->pending_ticks * sizeof(*w)) : NULL;
        if (r >= 0 && !w)
                r = store_failf(s, -ENOMEM, "out of memory for a commit of %zu ticks",
                                s->pending_ticks);
        size_t k = 0;
        for (PendingTick *p = s->pending_head; p && r >= 0; p = p->next, k++)
                r = store_tick_write(s, p, &w[k]);
        if (r >= 0)
                r = store_rows_write(s, s->pending_head, w);
        free(w);
        if (s->profile)
                p2 = now_thread_cpu_ns();
        /* The running totals about once a minute, in a batch's transaction: readers add the
         * ticks since (store_read_totals), so they see the same sums in between. */
        uint64_t now = now_monotonic_ns();
        bool flush = r >= 0 && (s->totals_flushed_ns == 0 ||
                                now - s->totals_flushed_ns >= STORE_TOTALS_FLUSH_NS);
        if (flush)
                r = store_totals_flush(s);
        if (s->profile)
                p3 = now_thread_cpu_ns();
        if (r >= 0)
                r = store_step_once(s, ST_COMMIT);
        if (s->profile) {
                s->prof.commits++;
                s->prof.begin_ns += p1 - p0;
                s->prof.rows_ns += p2 - p1;
                s->prof.totals_ns += p3 - p2;
                s->prof.commit_ns += now_thread_cpu_ns() - p3;
        }
        if (r >= 0 && flush)
                s->totals_flushed_ns = now;
        if (r < 0) {
                /* Nothing of the batch is kept on disk; all of it stays pending for the next try
                 * (a full disk, a read-only file system, a locked database). */
                (void)sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
                return r;
        }
        pending_free(s);
        store_journal_committed(s);
        return 0;
}

void store_set_backlog_limit(Store *s, size_t bytes)
{
        s->backlog_limit = bytes;
}

void store_backlog(const Store *s, StoreBacklog *ret)
{
        *ret = (StoreBacklog){.ticks = s->pending_ticks,
                              .bytes = s->pending_bytes,
                              .dropped = s->backlog_dropped};
}

int store_run_begin(Store *s, const StoreRun *run, int64_t *ret_run_id)
{
        assert(s->mode == STORE_READ_WRITE);
        int r = store_run_stmt(s, ST_RUN_BEGIN, "ituutttt", run->started_us, run->source,
                               (uint64_t)run->estimated, run->interval_us, run->hostname,
                               JOULES_VERSION, run->weight, run->weight_reason);
        store_reset(s, ST_RUN_BEGIN);
        if (r < 0)
                return r;
        s->run_id = sqlite3_last_insert_rowid(s->db);
        s->run_started_us = run->started_us;
        *ret_run_id = s->run_id;
        return 0;
}

int store_run_set_weight(Store *s, const char *weight, const char *reason)
{
        int r = store_run_stmt(s, ST_RUN_WEIGHT, "tti", weight, reason, s->run_id);
        store_reset(s, ST_RUN_WEIGHT);
        return r < 0 ? r : 0;
}

/* Binds a double, or NULL for NaN, at 1-based index i. */
static void store_bind_maybe(sqlite3_stmt *st, int i, double v)
{
        if (isnan(v))
                sqlite3_bind_null(st, i);
        else
                sqlite3_bind_double(st, i, v);
}

int store_run_set_model(Store *s, const StoreRunModel *m)
{
        sqlite3_stmt *st = s->stmt[ST_RUN_MODEL];
        sqlite3_bind_text(st, 1, m->method, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, m->source, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, m->cpu, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 4, m->curve, -1, SQLITE_STATIC);
        store_bind_maybe(st, 5, m->band_pct);
        store_bind_maybe(st, 6, m->dram_w);
        sqlite3_bind_text(st, 7, m->dram_source, -1, SQLITE_STATIC);
        store_bind_maybe(st, 8, m->dram_band_pct);
        store_bind_maybe(st, 9, m->band_pct);
        sqlite3_bind_int64(st, 10, s->run_id);
        int r = store_run_stmt(s, ST_RUN_MODEL, "");
        store_reset(s, ST_RUN_MODEL);
        return r < 0 ? r : 0;
}

int store_run_set_band(Store *s, double band_pct)
{
        store_bind_maybe(s->stmt[ST_RUN_BAND], 1, band_pct);
        sqlite3_bind_int64(s->stmt[ST_RUN_BAND], 2, s->run_id);
        int r = store_run_stmt(s, ST_RUN_BAND, "");
        store_reset(s, ST_RUN_BAND);
        return r < 0 ? r : 0;
}

int store_run_end(Store *s, int64_t stopped_us)
{
        int r = store_run_stmt(s, ST_RUN_END, "ii", stopped_us, s->run_id);
        store_reset(s, ST_RUN_END);
        return r < 0 ? r : 0;
}

/* Finds a row by its natural key or inserts it. */
static int store_find_or_add(Store *s, int find, int add, int64_t *ret_id)
{
        int r = store_run_stmt(s, find, "");
        if (r == 1)
                *ret_id = sqlite3_column_int64(s->stmt[find], 0);
        store_reset(s, find);
        if (r != 0)
                return r < 0 ? r : 0;
        r = store_run_stmt(s, add, "");
        store_reset(s, add);
        if (r < 0)
                return r;
        *ret_id = sqlite3_last_insert_rowid(s->db);
        return 0;
}

int store_domain_ensure(Store *s, const StoreDomain *d, int64_t *ret_id)
{
        sqlite3_stmt *f = s->stmt[ST_DOMAIN_FIND], *a = s->stmt[ST_DOMAIN_ADD];
        sqlite3_bind_text(f, 1, d->source, -1, SQLITE_STATIC);
        sqlite3_bind_text(f, 2, d->zone, -1, SQLITE_STATIC);
        sqlite3_bind_text(f, 3, d->name, -1, SQLITE_STATIC);
        sqlite3_bind_text(a, 1, d->name, -1, SQLITE_STATIC);
        sqlite3_bind_text(a, 2, d->zone, -1, SQLITE_STATIC);
        sqlite3_bind_text(a, 3, d->source, -1, SQLITE_STATIC);
        sqlite3_bind_text(a, 4, d->kind, -1, SQLITE_STATIC);
        sqlite3_bind_int(a, 5, d->estimated);
        sqlite3_bind_int(a, 6, d->in_host);
        return store_find_or_add(s, ST_DOMAIN_FIND, ST_DOMAIN_ADD, ret_id);
}

int store_unit_ensure(Store *s, const char *name, bool pseudo, int64_t *ret_id)
{
        sqlite3_bind_text(s->stmt[ST_UNIT_FIND], 1, name, -1, SQLITE_STATIC);
        sqlite3_bind_text(s->stmt[ST_UNIT_ADD], 1, name, -1, SQLITE_STATIC);
        sqlite3_bind_int(s->stmt[ST_UNIT_ADD], 2, pseudo);
        return store_find_or_add(s, ST_UNIT_FIND, ST_UNIT_ADD, ret_id);
}

int store_metric_ensure(Store *s, const char *name, int64_t *ret_id)
{
        sqlite3_bind_text(s->stmt[ST_METRIC_FIND], 1, name, -1, SQLITE_STATIC);
        sqlite3_bind_text(s->stmt[ST_METRIC_ADD], 1, name, -1, SQLITE_STATIC);
        return store_find_or_add(s, ST_METRIC_FIND, ST_METRIC_ADD, ret_id);
}

int store_event_ensure(Store *s, const char *name, int64_t *ret_id)
{
        sqlite3_bind_text(s->stmt[ST_EVENT_FIND], 1, name, -1, SQLITE_STATIC);
        sqlite3_bind_text(s->stmt[ST_EVENT_ADD], 1, name, -1, SQLITE_STATIC);
        return store_find_or_add(s, ST_EVENT_FIND, ST_EVENT_ADD, ret_id);
}

#define STORE_STEP(s, which, ...)                                                                  \
        ({                                                                                         \
                int _r = store_run_stmt((s), (which), __VA_ARGS__);                                \
                store_reset((s), (which));                                                         \
                _r;                                                                                \
        })

/* Writes one tick's rows inside the open transaction, under its run (a replayed tick's is the
 * run that queued it). */
static int store_tick_write(Store *s, const PendingTick *pt, StoreWritten *ret)
{
        const StoreTick *t = &pt->t;
        int r;
        unsigned dropped = store_tick_dropped(t);
        /* util_pct is bound by hand: NULL for a measured source */
        sqlite3_stmt *add = s->stmt[ST_TICK_ADD];
        if (t->has_util && !isnan(t->util_pct))
                sqlite3_bind_double(add, 7, t->util_pct);
        else
                sqlite3_bind_null(add, 7);
        if (t->host_valid)
                r = STORE_STEP(s, ST_TICK_ADD, "iiuuuu", pt->run_id, t->ts_us, t->dt_us, t->host_uj,
                               (uint64_t)t->estimated, (uint64_t)dropped);
        else
                r = STORE_STEP(s, ST_TICK_ADD, "iiunuu", pt->run_id, t->ts_us, t->dt_us,
                               (uint64_t)t->estimated, (uint64_t)dropped);
        if (r < 0)
                return r;
        int64_t tick = sqlite3_last_insert_rowid(s->db);
        /* Units, requests, domain energies and processes in one packed row (store-packed.c); the
         * others, and these when they cannot be packed, as plain rows (store-rows.c). */
        r = store_tick_pack(s, tick, t, &ret->procs_packed);
        if (r < 0)
                return r;
        ret->packed = r == 1;
        for (size_t i = 0; i < t->n_domains && !ret->packed && r >= 0; i++) {
                const StoreDomainValue *d = &t->domains[i];
                if (d->valid)
                        r = STORE_STEP(s, ST_DOMAIN_ENERGY_ADD, "iiun", tick, d->domain_id,
                                       d->energy_uj);
                else
                        r = STORE_STEP(s, ST_DOMAIN_ENERGY_ADD, "iint", tick, d->domain_id,
                                       d->drop_reason ? d->drop_reason : "baseline");
        }
        if (t->ingest && r >= 0 &&
            (t->ingest->accepted || t->ingest->rejected || t->ingest->malformed))
                r = STORE_STEP(s, ST_INGEST_STATS_ADD, "iuuu", tick, t->ingest->accepted,
                               t->ingest->rejected, t->ingest->malformed);
        if (r < 0)
                return r;
        ret->id = tick;
        return 0;
}
