/* The tick journal (storage/store-journal.c) on real files: a writer killed before its commit
 * (a child that _exits with ticks only in the journal) loses none of them, a crash after the
 * commit stores nothing twice, a torn last record is cut, a bad record is set aside with the
 * ticks before it replayed, a journal of another history is not replayed into this one, and the
 * journal stays within the backlog's bound. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>
#include <sqlite3.h>

#include "common/util.h"
#include "storage/store.h"
#include "storage/store-internal.h" /* store_pending_copy, store_pending_link */
#include "tests/plain.h"

/* -Wl,--wrap=flock (tests/CMakeLists.txt): flock_hook, when set, runs once before a flock. */
int __real_flock(int fd, int op);
int __wrap_flock(int fd, int op);
static void (*flock_hook)(void);
int __wrap_flock(int fd, int op)
{
        void (*hook)(void) = flock_hook;
        flock_hook = NULL;
        if (hook)
                hook();
        return __real_flock(fd, op);
}

static char dir[64];
static const int64_t T0 = INT64_C(1767225600000000);
/* The group runs twice: the journal written through its mapping (ext4, XFS, tmpfs), then with a
 * pwritev a record (other file systems), on the same file system. */
static bool mapped;

static int setup_dir(void)
{
        snprintf(dir, sizeof(dir), "/tmp/joules-test-journal-XXXXXX");
        assert_non_null(mkdtemp(dir));
        return 0;
}

static int setup_mapped(void **state)
{
        mapped = true;
        store_journal_set_writes(STORE_JOURNAL_WRITES_MAPPED);
        return setup_dir();
}

static int setup_pwrite(void **state)
{
        mapped = false;
        store_journal_set_writes(STORE_JOURNAL_WRITES_PWRITE);
        return setup_dir();
}

static int teardown(void **state)
{
        char cmd[128];
        snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
        return system(cmd) == 0 ? 0 : -1;
}

typedef struct Ids {
        int64_t run, pkg, ua, ub, ev, metric;
} Ids;

static Store *open_writer(const char *path, int64_t started_us, Ids *ids, StoreJournalReplay *jr)
{
        char err[512];
        Store *s;
        assert_int_equal(store_open(path, STORE_READ_WRITE, &s, err, sizeof(err)), 0);
        StoreJournalReplay ignored;
        assert_int_equal(store_journal_open(s, jr ? jr : &ignored), 0);
        StoreRun ri = {.started_us = started_us,
                       .source = "powercap",
                       .interval_us = 1000000,
                       .hostname = "h1"};
        assert_int_equal(store_run_begin(s, &ri, &ids->run), 0);
        StoreDomain d = {"package-0", "intel-rapl:0", "powercap", "package", false, true};
        assert_int_equal(store_domain_ensure(s, &d, &ids->pkg), 0);
        assert_int_equal(store_unit_ensure(s, "a.service", false, &ids->ua), 0);
        assert_int_equal(store_unit_ensure(s, "b.service", false, &ids->ub), 0);
        assert_int_equal(store_event_ensure(s, "instructions", &ids->ev), 0);
        assert_int_equal(store_metric_ensure(s, "requests", &ids->metric), 0);
        return s;
}

/* Tick i of a run: every kind of value, all of them derived from i so the reader can check them
 * exactly; every fifth tick's package reading is dropped. Appended, or with commit committed with
 * it (store_tick_commit); returns what that returned. */
static int put_tick(Store *s, const Ids *ids, int i, bool commit)
{
        bool drop = i % 5 == 0;
        StoreDomainValue dv[] = {{.domain_id = ids->pkg,
                                  .valid = !drop,
                                  .energy_uj = 1000000u * (uint64_t)i,
                                  .drop_reason = drop ? "implausible power" : NULL}};
        StoreUnitValue uv[] = {{ids->ua, 100u * (uint64_t)i, 7, 1000u * (uint64_t)i},
                               {ids->ub, 3, 11u * (uint64_t)i, 5}};
        char comm[24];
        snprintf(comm, sizeof(comm), "worker-%d", i);
        StoreProcValue pv[] = {{ids->ua, 100 + i, 4242, comm, 100u * (uint64_t)i, 7, 99}};
        StoreCounterValue cv[] = {{ids->ua, ids->ev, UINT64_C(3000000000) + (uint64_t)i}};
        StoreProcCounterValue pcv[] = {{ids->ua, 100 + i, 4242, ids->ev, 17u * (uint64_t)i}};
        StoreRequestValue rv[] = {{ids->ub, ids->metric, 0.5 * i}};
        StoreIngestStats ing = {.accepted = (uint64_t)i, .rejected = 1, .malformed = 2};
        StoreTick t = {.ts_us = T0 + i * INT64_C(1000000),
                       .dt_us = 1000000,
                       .host_valid = !drop,
                       .host_uj = 1000000u * (uint64_t)i,
                       .has_util = true,
                       .util_pct = 12.5,
                       .domains = dv,
                       .n_domains = 1,
                       .units = uv,
                       .n_units = 2,
                       .procs = pv,
                       .n_procs = 1,
                       .counters = cv,
                       .n_counters = 1,
                       .proc_counters = pcv,
                       .n_proc_counters = 1,
                       .requests = rv,
                       .n_requests = 1,
                       .ingest = &ing};
        return commit ? store_tick_commit(s, &t) : store_tick_append(s, &t);
}

static void append_tick(Store *s, const Ids *ids, int i)
{
        assert_int_equal(put_tick(s, ids, i, false), 0);
}

/* Runs fn in a child that dies without closing the store (as joulesd does on SIGKILL). */
static void in_crashing_child(void (*fn)(const char *path, int64_t started_us), const char *path,
                              int64_t started_us)
{
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                fn(path, started_us);
                _exit(0);
        }
        int status;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

/* Ticks 1..3 committed, 4..7 only in the journal. */
static void write_seven(const char *path, int64_t started_us)
{
        Ids ids;
        Store *s = open_writer(path, started_us, &ids, NULL);
        for (int i = 1; i <= 7; i++) {
                append_tick(s, &ids, i);
                if (i == 3 && store_commit(s) < 0)
                        _exit(1);
        }
        _exit(0);
}

/* The history NAME in the test directory, whose writer was killed after write_seven: its path
 * and its journal's. */
static void crashed_seven(const char *name, char path[static 256], char journal[static 300])
{
        assert_int_equal(path_fmt(path, 256, "%s/%s", dir, name), 0);
        assert_int_equal(path_fmt(journal, 300, "%s-ticks", path), 0);
        in_crashing_child(write_seven, path, 1000);
}

/* A value of the history at path, its packed ticks read as plain rows (plain.h). */
static int64_t query_int(const char *path, const char *sql)
{
        char err[256];
        sqlite3 *db = plain_open(path, err, sizeof(err));
        if (!db)
                fail_msg("%s", err);
        sqlite3_stmt *q;
        if (sqlite3_prepare_v2(db, sql, -1, &q, NULL) != SQLITE_OK)
                fail_msg("%s: %s", sql, sqlite3_errmsg(db));
        assert_int_equal(sqlite3_step(q), SQLITE_ROW);
        int64_t v = sqlite3_column_int64(q, 0);
        sqlite3_finalize(q);
        sqlite3_close(db);
        return v;
}

static off_t file_size(const char *path)
{
        struct stat st;
        assert_int_equal(stat(path, &st), 0);
        return st.st_size;
}

/* Where each record of a journal begins (the header's magic is at byte 0, its length at byte
 * 8), and where the records end: at the end of the file or at a zero magic (the mapped file's
 * unwritten rest). */
static int record_offsets(const char *journal, off_t *offs, int max)
{
        int fd = open(journal, O_RDONLY);
        assert_true(fd >= 0);
        off_t size = file_size(journal), off = 0;
        int n = 0;
        while (off + 24 <= size && n < max) {
                uint32_t magic;
                uint64_t len;
                assert_int_equal(pread(fd, &magic, 4, off), 4);
                if (magic == 0)
                        break;
                assert_int_equal(pread(fd, &len, 8, off + 8), 8);
                offs[n++] = off;
                off += 24 + (off_t)len;
        }
        close(fd);
        offs[n] = off;
        return n;
}

/* Whether every byte of the file from off on is zero (or there is none). */
static bool zeros_from(const char *journal, off_t off)
{
        int fd = open(journal, O_RDONLY);
        assert_true(fd >= 0);
        char buf[4096];
        ssize_t n;
        bool zero = true;
        while (zero && (n = pread(fd, buf, sizeof(buf), off)) > 0) {
                for (ssize_t i = 0; i < n; i++)
                        zero &= buf[i] == 0;
                off += n;
        }
        close(fd);
        return zero;
}

/* How many records the journal holds. */
static int records(const char *journal)
{
        off_t offs[64];
        return record_offsets(journal, offs, 63);
}

/* Every value of ticks 1..n of run 1, as append_tick wrote them. */
static void assert_ticks_exact(const char *path, int n)
{
        char sql[1024];
        snprintf(sql, sizeof(sql),
                 "SELECT COUNT(*) FROM ticks WHERE run_id = 1 AND ts_us = %" PRId64
                 " + (id * 1000000) AND dt_us = 1000000 AND util_pct = 12.5",
                 T0);
        assert_int_equal(query_int(path, "SELECT COUNT(*) FROM ticks"), n);
        assert_int_equal(query_int(path, sql), n);
        assert_int_equal(query_int(path, "SELECT SUM(host_uj) FROM ticks"),
                         1000000 * ((int64_t)n * (n + 1) / 2 - 5 * ((n / 5) * (n / 5 + 1) / 2)));
        assert_int_equal(query_int(path, "SELECT COUNT(*) FROM domain_energy WHERE energy_uj IS "
                                         "NULL AND drop_reason = 'implausible power'"),
                         n / 5);
        assert_int_equal(query_int(path, "SELECT SUM(active_uj) + SUM(idle_uj) + SUM(cpu_ns) FROM "
                                         "unit_energy"),
                         1100 * (int64_t)n * (n + 1) / 2 + 11 * (int64_t)n * (n + 1) / 2 + 15 * n);
        assert_int_equal(query_int(path, "SELECT COUNT(*) FROM process_energy p JOIN ticks t ON "
                                         "t.id = p.tick_id WHERE p.comm = 'worker-' || t.id AND "
                                         "p.pid = 100 + t.id AND p.start_time = 4242"),
                         n);
        assert_int_equal(query_int(path, "SELECT SUM(value) FROM unit_counters"),
                         INT64_C(3000000000) * n + (int64_t)n * (n + 1) / 2);
        assert_int_equal(query_int(path, "SELECT SUM(value) FROM process_counters"),
                         17 * (int64_t)n * (n + 1) / 2);
        assert_int_equal(query_int(path, "SELECT CAST(SUM(count) * 2 AS INTEGER) FROM "
                                         "unit_requests"),
                         (int64_t)n * (n + 1) / 2);
        assert_int_equal(query_int(path, "SELECT SUM(accepted) + SUM(malformed) FROM ingest_stats"),
                         (int64_t)n * (n + 1) / 2 + 2 * n);
}

static void test_replay_after_crash(void **state)
{
        char path[256], journal[300];
        crashed_seven("crash.db", path, journal);
        assert_int_equal(query_int(path, "SELECT COUNT(*) FROM ticks"), 3);
        assert_true(file_size(journal) > 0);

        Ids ids;
        StoreJournalReplay jr;
        Store *s = open_writer(path, 2000, &ids, &jr);
        assert_int_equal(jr.replayed, 4);
        assert_int_equal(jr.stored, 0);
        assert_int_equal(jr.foreign, 0);
        assert_false(jr.torn);
        assert_string_equal(jr.problem, "");
        assert_int_equal(store_commit(s), 0);
        assert_int_equal(records(journal), 0); /* emptied by the commit */
        if (mapped)
                assert_true(file_size(journal) > 0); /* in place: the file keeps its size */
        else
                assert_int_equal(file_size(journal), 0); /* truncated */
        store_close(s);
        assert_int_equal(file_size(journal), 0); /* nothing left to replay: left empty */
        /* the ticks are the first run's, every value exact (the second run stored none) */
        assert_ticks_exact(path, 7);
}

/* Ticks 1..4 committed, then the journal as it was before the commit put back: a crash between
 * the commit and the journal's truncation. */
static void commit_then_crash(const char *path, int64_t started_us)
{
        Ids ids;
        Store *s = open_writer(path, started_us, &ids, NULL);
        for (int i = 1; i <= 4; i++)
                append_tick(s, &ids, i);
        char journal[300];
        if (path_fmt(journal, sizeof(journal), "%s-ticks", path) < 0)
                _exit(1);
        static char buf[1 << 16];
        int fd = open(journal, O_RDONLY);
        ssize_t n = fd >= 0 ? read(fd, buf, sizeof(buf)) : -1;
        if (n <= 0 || store_commit(s) < 0)
                _exit(1);
        close(fd);
        fd = open(journal, O_WRONLY);
        if (fd < 0 || write(fd, buf, (size_t)n) != n)
                _exit(1);
        _exit(0);
}

static void test_no_double_count(void **state)
{
        char path[256];
        assert_int_equal(path_fmt(path, sizeof(path), "%s/twice.db", dir), 0);
        in_crashing_child(commit_then_crash, path, 1000);
        Ids ids;
        StoreJournalReplay jr;
        Store *s = open_writer(path, 2000, &ids, &jr);
        assert_int_equal(jr.replayed, 0);
        assert_int_equal(jr.stored, 4);
        store_close(s);
        assert_ticks_exact(path, 4);
}

/* write_seven's journal with its last record (tick 7) damaged: the next writer replays ticks
 * 4..6 (torn: whether the file ended inside tick 7), sets nothing aside, and cuts tick 7, so no
 * stale byte lies where the next record goes (from end, where tick 7 began). */
static void assert_last_record_cut(const char *path, const char *journal, off_t end, bool torn)
{
        Ids ids;
        StoreJournalReplay jr;
        Store *s = open_writer(path, 2000, &ids, &jr);
        assert_int_equal(jr.replayed, 3);
        assert_int_equal(jr.torn, torn);
        assert_string_equal(jr.problem, "");
        assert_string_equal(jr.aside, "");
        assert_int_equal(records(journal), 3);
        assert_true(zeros_from(journal, end));
        store_close(s);
        assert_ticks_exact(path, 6);
}

static void test_torn_tail(void **state)
{
        char path[256], journal[300];
        crashed_seven("torn.db", path, journal);
        off_t offs[8];
        assert_int_equal(record_offsets(journal, offs, 7), 4);
        if (mapped) /* zeros past the records, the mapped size */
                assert_true(file_size(journal) > offs[4]);
        else
                assert_int_equal(file_size(journal), offs[4]);
        assert_int_equal(truncate(journal, offs[4] - 10), 0); /* tick 7 cut short */
        assert_last_record_cut(path, journal, offs[3], true);
}

/* A writer killed between a record's block and its header's magic (stored last) leaves the
 * magic zero: the records end there, as at the end of the file, and nothing is set aside. */
static void test_unfinished_record(void **state)
{
        char path[256], journal[300];
        crashed_seven("unfinished.db", path, journal);
        off_t offs[8];
        assert_int_equal(record_offsets(journal, offs, 7), 4);
        int fd = open(journal, O_RDWR);
        assert_true(fd >= 0);
        uint32_t zero = 0;
        assert_int_equal(pwrite(fd, &zero, 4, offs[3]), 4); /* tick 7: its block, no magic */
        close(fd);
        assert_last_record_cut(path, journal, offs[3], false);
}

static void test_bad_record_set_aside(void **state)
{
        char path[256], journal[300];
        crashed_seven("bad.db", path, journal);
        off_t full = file_size(journal), offs[8];
        assert_int_equal(record_offsets(journal, offs, 7), 4);
        /* one byte of the third record's block (tick 6) flipped */
        int fd = open(journal, O_RDWR);
        assert_true(fd >= 0);
        unsigned char b;
        assert_int_equal(pread(fd, &b, 1, offs[2] + 100), 1);
        b ^= 0x40;
        assert_int_equal(pwrite(fd, &b, 1, offs[2] + 100), 1);
        close(fd);
        Ids ids;
        StoreJournalReplay jr;
        Store *s = open_writer(path, 2000, &ids, &jr);
        assert_int_equal(jr.replayed, 2);
        char want[128];
        snprintf(want, sizeof(want), "record at byte %lld: checksum mismatch", (long long)offs[2]);
        assert_string_equal(jr.problem, want);
        /* the whole file kept aside; the journal holds the two replayed ticks until the commit */
        assert_true(strncmp(jr.aside, journal, strlen(journal)) == 0);
        assert_non_null(strstr(jr.aside, "-ticks.bad-"));
        assert_int_equal(file_size(jr.aside), full);
        off_t now[8];
        assert_int_equal(record_offsets(journal, now, 7), 2);
        assert_int_equal(now[2], offs[2]);
        assert_int_equal(store_commit(s), 0);
        assert_int_equal(records(journal), 0);
        store_close(s);
        assert_ticks_exact(path, 5);
}

static void test_foreign_journal(void **state)
{
        char path[256], other[256], cmd[700];
        assert_int_equal(path_fmt(path, sizeof(path), "%s/mine.db", dir), 0);
        assert_int_equal(path_fmt(other, sizeof(other), "%s/other.db", dir), 0);
        in_crashing_child(write_seven, other, 1000);
        /* a history started anew (its run 1 began at another time) beside the old journal */
        Ids ids;
        Store *s = open_writer(path, 5000, &ids, NULL);
        store_close(s);
        snprintf(cmd, sizeof(cmd), "cp %s-ticks %s-ticks", other, path);
        assert_int_equal(system(cmd), 0);
        StoreJournalReplay jr;
        s = open_writer(path, 6000, &ids, &jr);
        assert_int_equal(jr.replayed, 0);
        assert_int_equal(jr.foreign, 4);
        store_close(s);
        assert_int_equal(query_int(path, "SELECT COUNT(*) FROM ticks"), 0);
}

/* A writer whose ticks wait (its history locked, or the commit interval not yet over) queues
 * them up to the backlog's bound; the journal, rewritten from the queue when it would outgrow
 * it, stays within it too, and a crash then loses none of the ticks still queued. The child's
 * exit code is how many it queued. */
static void queue_thirty(const char *path, int64_t started_us)
{
        char journal[300];
        if (path_fmt(journal, sizeof(journal), "%s-ticks", path) < 0)
                _exit(100);
        Ids ids;
        Store *s = open_writer(path, started_us, &ids, NULL);
        append_tick(s, &ids, 1);
        if (store_commit(s) < 0)
                _exit(101);
        append_tick(s, &ids, 2);
        off_t one[2];
        if (record_offsets(journal, one, 1) != 1)
                _exit(103);
        off_t rec = one[1];
        store_set_backlog_limit(s, (size_t)rec * 5);
        for (int i = 3; i <= 30; i++)
                append_tick(s, &ids, i);
        StoreBacklog b;
        store_backlog(s, &b);
        /* the records, each with its 24-byte header, of the queued ticks and no more */
        off_t offs[40];
        if (!store_journal_ok(s) || b.ticks < 4 || b.ticks > 5 ||
            record_offsets(journal, offs, 39) != (int)b.ticks ||
            (size_t)offs[b.ticks] != b.bytes + 24 * b.ticks || !zeros_from(journal, offs[b.ticks]))
                _exit(102);
        _exit((int)b.ticks);
}

static void test_bounded(void **state)
{
        char path[256];
        assert_int_equal(path_fmt(path, sizeof(path), "%s/bound.db", dir), 0);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0)
                queue_thirty(path, 1000);
        int status;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status));
        int queued = WEXITSTATUS(status);
        if (queued < 4 || queued > 5)
                fail_msg("the child exited with %d", queued);
        Ids ids;
        StoreJournalReplay jr;
        Store *s = open_writer(path, 2000, &ids, &jr);
        assert_int_equal(jr.replayed, (size_t)queued);
        store_close(s);
        /* tick 1, then the newest `queued` of 2..30 */
        assert_int_equal(query_int(path, "SELECT COUNT(*) FROM ticks"), 1 + queued);
        char sql[128];
        snprintf(sql, sizeof(sql), "SELECT MIN(ts_us) FROM ticks WHERE ts_us > %" PRId64,
                 T0 + 1000000);
        assert_int_equal(query_int(path, sql), T0 + (31 - (int64_t)queued) * 1000000);
        assert_int_equal(query_int(path, "SELECT MAX(ts_us) FROM ticks"), T0 + 30 * 1000000);
}

/* A block whose counts or strings do not fit is refused, never followed out of the block. */
static void test_link_refuses(void **state)
{
        Store st = {.run_id = 1, .run_started_us = 2};
        StoreUnitValue uv[] = {{1, 2, 3, 4}};
        StoreProcValue pv[] = {{1, 7, 8, "x", 1, 2, 3}};
        StoreTick t = {.ts_us = 5, .units = uv, .n_units = 1, .procs = pv, .n_procs = 1};
        PendingTick *p = store_pending_copy(&st, &t);
        assert_non_null(p);
        size_t size = p->bytes;
        assert_int_equal(size % 8, 0);
        static const struct {
                const char *what;
                size_t n_units, n_procs;
                ssize_t size_delta; /* -1000000: only the header */
                bool unterminated;
                int want;
        } rows[] = {
                {"as written", 1, 1, 0, false, 0},
                {"one unit more", 2, 1, 0, false, -EBADMSG},
                {"counts past the block", SIZE_MAX / 8, 1, 0, false, -EBADMSG},
                {"no string for the process", 1, 2, 0, false, -EBADMSG},
                {"8 bytes more than the padding", 1, 1, 8, false, -EBADMSG},
                {"only the header", 1, 1, -1000000, false, -EBADMSG},
                {"comm not terminated", 1, 1, 0, true, -EBADMSG},
        };
        for (size_t i = 0; i < ELEMENTSOF(rows); i++) {
                size_t n = rows[i].size_delta == -1000000
                                   ? (sizeof(PendingTick) + 7) / 8 * 8
                                   : (size_t)((ssize_t)size + rows[i].size_delta);
                PendingTick *b = calloc(1, n > size ? n : size);
                memcpy(b, p, size);
                b->t.n_units = rows[i].n_units;
                b->t.n_procs = rows[i].n_procs;
                if (rows[i].unterminated)
                        memset((char *)b + size - 8, 'x', 8);
                int r = store_pending_link(b, n);
                if (r != rows[i].want)
                        fail_msg("%s: %d", rows[i].what, r);
                if (r == 0) {
                        assert_int_equal(b->t.units[0].cpu_ns, 4);
                        assert_string_equal(b->t.procs[0].comm, "x");
                        assert_int_equal(b->run_id, 1);
                        assert_int_equal(b->run_started_us, 2);
                }
                free(b);
        }
        free(p);
}

/* A reader's totals (what joules-exporter serves) hold the ticks the journal has and the history
 * has not committed yet, exactly, and hold them once across the commit; so do the tick lookups
 * of joules run. */
static void test_totals_read_journal(void **state)
{
        char path[256], err[512];
        assert_int_equal(path_fmt(path, sizeof(path), "%s/totals.db", dir), 0);
        Ids ids;
        Store *w = open_writer(path, 1000, &ids, NULL);
        append_tick(w, &ids, 1);
        assert_int_equal(store_commit(w), 0);
        for (int i = 2; i <= 6; i++)
                append_tick(w, &ids, i);
        Store *rd;
        assert_int_equal(store_open(path, STORE_READ_ONLY, &rd, err, sizeof(err)), 0);
        for (int pass = 0; pass < 2; pass++) {
                StoreTotals t;
                assert_int_equal(store_read_totals(rd, &t), 0);
                assert_int_equal(t.ticks, 6);
                /* tick 5's package reading was dropped */
                assert_int_equal(t.host_uj, 1000000 * (21 - 5));
                assert_int_equal(t.dropped, 1);
                assert_int_equal(t.last_us, T0 + 6 * 1000000);
                assert_int_equal(t.n_units, 2);
                assert_string_equal(t.units[0].name, "a.service");
                assert_int_equal(t.units[0].active_uj, 100 * 21);
                assert_int_equal(t.units[1].idle_uj, 11 * 21);
                assert_int_equal(t.n_requests, 1);
                assert_true(t.requests[0].count == 0.5 * 21);
                assert_int_equal(t.n_events, 1);
                assert_int_equal(t.events[0].value, UINT64_C(3000000000) * 6 + 21);
                assert_int_equal(t.n_domains, 1);
                assert_int_equal(t.domains[0].energy_uj, 1000000 * (21 - 5));
                assert_int_equal(t.domains[0].dropped, 1);
                store_totals_done(&t);
                /* joules run's tick lookups count the journal's ticks; its queries wait until
                 * store_read_committed_last reaches them */
                int64_t ts, committed;
                uint64_t iv;
                assert_int_equal(store_read_last_tick(rd, &ts, &iv), 0);
                assert_int_equal(ts, T0 + 6 * 1000000);
                assert_int_equal(iv, 1000000);
                assert_int_equal(store_read_tick_after(rd, T0 + 4500000, &ts), 0);
                assert_int_equal(ts, T0 + 5 * 1000000);
                assert_int_equal(store_read_tick_before(rd, T0 + 4500000, &ts), 0);
                assert_int_equal(ts, T0 + 4 * 1000000);
                assert_int_equal(store_read_tick_after(rd, T0 + 6500000, &ts), -ENODATA);
                assert_int_equal(store_read_committed_last(rd, &committed), 0);
                assert_int_equal(committed, T0 + (pass == 0 ? 1 : 6) * 1000000);
                if (pass == 0)
                        assert_int_equal(store_commit(w), 0); /* the same totals after it */
        }
        store_close(rd);
        store_close(w);
}

/* A journal that cannot be opened (here a directory in its place) is no journal: the writer
 * goes on, its ticks committed as they come, and nothing is written over. */
/* store_tick_commit: the tick and those queued before it go to the history and the journal is
 * emptied; when the commit fails (another writer holds the lock) the tick is in the journal as
 * store_tick_append would have put it, and nothing is lost. */
static void test_tick_commit(void **state)
{
        char path[256], journal[300];
        off_t offs[16];
        assert_int_equal(path_fmt(path, sizeof(path), "%s/commit.db", dir), 0);
        assert_int_equal(path_fmt(journal, sizeof(journal), "%s-ticks", path), 0);
        Ids ids;
        Store *s = open_writer(path, 1000, &ids, NULL);
        for (int i = 1; i <= 3; i++)
                append_tick(s, &ids, i);
        assert_int_equal(record_offsets(journal, offs, 15), 3);
        assert_int_equal(put_tick(s, &ids, 4, true), 0);
        assert_int_equal(records(journal), 0);
        assert_ticks_exact(path, 4);

        sqlite3 *other;
        assert_int_equal(sqlite3_open(path, &other), SQLITE_OK);
        assert_int_equal(sqlite3_exec(other, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
        assert_true(put_tick(s, &ids, 5, true) < 0); /* busy, after the 5 s timeout */
        assert_int_equal(record_offsets(journal, offs, 15), 1);
        assert_int_equal(sqlite3_exec(other, "ROLLBACK", NULL, NULL, NULL), SQLITE_OK);
        sqlite3_close(other);
        /* A crash now would replay tick 5 from the journal (test_replay_after_crash); the next
         * commit stores it. */
        append_tick(s, &ids, 6);
        assert_int_equal(record_offsets(journal, offs, 15), 2);
        assert_int_equal(put_tick(s, &ids, 7, true), 0);
        assert_int_equal(records(journal), 0);
        store_close(s);
        assert_ticks_exact(path, 7);
}

/* One writer per journal: a second one (another joulesd on the same history) is refused, and
 * neither replays nor cuts what the first is writing; once the first is gone it may. */
static void test_second_writer(void **state)
{
        char path[256], journal[300], err[512];
        assert_int_equal(path_fmt(path, sizeof(path), "%s/two.db", dir), 0);
        assert_int_equal(path_fmt(journal, sizeof(journal), "%s-ticks", path), 0);
        Ids ids;
        Store *a = open_writer(path, 1000, &ids, NULL);
        for (int i = 1; i <= 3; i++)
                append_tick(a, &ids, i);
        Store *b;
        assert_int_equal(store_open(path, STORE_READ_WRITE, &b, err, sizeof(err)), 0);
        StoreJournalReplay jr;
        assert_int_equal(store_journal_open(b, &jr), -EBUSY);
        assert_non_null(strstr(store_last_error(b), "in use by another joulesd"));
        assert_int_equal(jr.replayed, 0);
        store_close(b);
        assert_int_equal(records(journal), 3);
        append_tick(a, &ids, 4); /* the first goes on writing where it was */
        assert_true(store_journal_ok(a));
        assert_int_equal(records(journal), 4);
        store_close(a); /* commits the four and lets the journal go */
        assert_int_equal(store_open(path, STORE_READ_WRITE, &b, err, sizeof(err)), 0);
        assert_int_equal(store_journal_open(b, &jr), 0);
        assert_int_equal(jr.replayed, 0);
        store_close(b);
        assert_ticks_exact(path, 4);
}

/* The race a second writer can meet: between its open and its flock, the writer that held the
 * journal sets it aside (renames it: a bad record) and begins a new one, which it locks. The
 * lock the second one then gets is on the file set aside; it must see that the path is another
 * file now and find that one held, not replay and set aside the first one's live journal. */
static char race_path[300];
static int race_fd = -1;

static void set_aside_meanwhile(void)
{
        char aside[340];
        snprintf(aside, sizeof(aside), "%s.bad-race", race_path);
        assert_int_equal(rename(race_path, aside), 0);
        race_fd = open(race_path, O_RDWR | O_CREAT | O_CLOEXEC, 0640);
        assert_true(race_fd >= 0);
        assert_int_equal(__real_flock(race_fd, LOCK_EX | LOCK_NB), 0);
}

static void test_lock_after_set_aside(void **state)
{
        char path[256], err[512];
        crashed_seven("race.db", path, race_path); /* four records, no writer */
        Store *b;
        assert_int_equal(store_open(path, STORE_READ_WRITE, &b, err, sizeof(err)), 0);
        StoreJournalReplay jr;
        flock_hook = set_aside_meanwhile;
        assert_int_equal(store_journal_open(b, &jr), -EBUSY);
        assert_null(flock_hook);
        assert_int_equal(jr.replayed, 0);
        store_close(b);
        char aside[340];
        snprintf(aside, sizeof(aside), "%s.bad-race", race_path);
        assert_int_equal(records(aside), 4); /* left as the other writer set it aside */
        assert_int_equal(records(race_path), 0);
        close(race_fd);
        race_fd = -1;
}

/* A journal that cannot grow (here the file size limit refuses it) is a failed write that
 * store_journal_ok reports, never a signal; the records before it replay. (A full disk, whose
 * refusal posix_fallocate turns into an error too, is integration-storage-faults' case.) */
static void grow_past_limit(const char *path, int64_t started_us)
{
        Ids ids;
        Store *s = open_writer(path, started_us, &ids, NULL);
        signal(SIGXFSZ, SIG_IGN);
        struct rlimit lim = {100 << 10, 100 << 10};
        if (setrlimit(RLIMIT_FSIZE, &lim) < 0)
                _exit(1);
        int i = 1;
        for (; i <= 2000 && store_journal_ok(s); i++)
                if (put_tick(s, &ids, i, false) < 0)
                        _exit(2);
        if (store_journal_ok(s) || store_journal_error(s) == 0)
                _exit(3); /* 2,000 records do not fit in 100 KiB */
        _exit(0);
}

static void test_growth_fails(void **state)
{
        char path[256], journal[300];
        assert_int_equal(path_fmt(path, sizeof(path), "%s/grow.db", dir), 0);
        assert_int_equal(path_fmt(journal, sizeof(journal), "%s-ticks", path), 0);
        in_crashing_child(grow_past_limit, path, 1000);
        off_t offs[2048];
        int n = record_offsets(journal, offs, 2047);
        if (n > 0 && offs[n] > file_size(journal))
                n--; /* written with pwritev: the record the limit cut short */
        assert_true(n > 50);
        assert_true(offs[n] <= 100 << 10);
        Ids ids;
        StoreJournalReplay jr;
        Store *s = open_writer(path, 2000, &ids, &jr);
        assert_int_equal(jr.replayed, (size_t)n);
        assert_string_equal(jr.problem, "");
        store_close(s);
        char sql[128];
        snprintf(sql, sizeof(sql), "SELECT COUNT(*) FROM ticks WHERE ts_us <= %" PRId64,
                 T0 + n * INT64_C(1000000));
        assert_int_equal(query_int(path, sql), n); /* ticks 1..n, the first ones */
        assert_int_equal(query_int(path, "SELECT COUNT(*) FROM ticks"), n);
}

/* As joulesd opens it (STORE_JOURNAL_WRITES_AUTO): mapped where statfs says the file system
 * allows, which shows in the file keeping its size after a commit. */
static void test_auto_writes(void **state)
{
        char path[256], journal[300];
        assert_int_equal(path_fmt(path, sizeof(path), "%s/auto.db", dir), 0);
        assert_int_equal(path_fmt(journal, sizeof(journal), "%s-ticks", path), 0);
        struct statfs fs;
        assert_int_equal(statfs(dir, &fs), 0);
        store_journal_set_writes(STORE_JOURNAL_WRITES_AUTO);
        Ids ids;
        Store *s = open_writer(path, 1000, &ids, NULL);
        append_tick(s, &ids, 1);
        assert_int_equal(store_commit(s), 0);
        assert_int_equal(records(journal), 0);
        assert_int_equal(file_size(journal) > 0, store_journal_maps_fs((unsigned long)fs.f_type));
        store_close(s);
        store_journal_set_writes(mapped ? STORE_JOURNAL_WRITES_MAPPED
                                        : STORE_JOURNAL_WRITES_PWRITE);
}

/* Which file systems the journal is mapped on: where a preallocated block is written in place. */
static void test_maps_fs(void **state)
{
        static const struct {
                unsigned long type;
                bool maps;
        } rows[] = {
                {0xEF53, true},      /* ext2/3/4 */
                {0x58465342, true},  /* XFS */
                {0x01021994, true},  /* tmpfs */
                {0x9123683E, false}, /* btrfs: copy on write */
                {0xca451a4e, false}, /* bcachefs */
                {0x2fc12fc1, false}, /* ZFS */
                {0x6969, false},     /* NFS */
                {0x794c7630, false}, /* overlayfs: the upper file system is not known */
                {0xF2F52010, false}, /* F2FS: log-structured */
        };
        for (size_t i = 0; i < ELEMENTSOF(rows); i++)
                if (store_journal_maps_fs(rows[i].type) != rows[i].maps)
                        fail_msg("f_type 0x%lx", rows[i].type);
}

static void test_no_journal(void **state)
{
        char path[256], journal[300], err[512];
        assert_int_equal(path_fmt(path, sizeof(path), "%s/nojournal.db", dir), 0);
        assert_int_equal(path_fmt(journal, sizeof(journal), "%s-ticks", path), 0);
        assert_int_equal(mkdir(journal, 0700), 0);
        Store *s;
        assert_int_equal(store_open(path, STORE_READ_WRITE, &s, err, sizeof(err)), 0);
        StoreJournalReplay jr;
        assert_int_equal(store_journal_open(s, &jr), -EISDIR);
        assert_non_null(strstr(store_last_error(s), "Is a directory"));
        assert_false(store_journal_ok(s));
        assert_int_equal(store_journal_error(s), EBADF);
        Ids ids;
        StoreRun ri = {.started_us = 1, .source = "powercap", .interval_us = 1000000};
        assert_int_equal(store_run_begin(s, &ri, &ids.run), 0);
        StoreDomain d = {"package-0", "intel-rapl:0", "powercap", "package", false, true};
        assert_int_equal(store_domain_ensure(s, &d, &ids.pkg), 0);
        assert_int_equal(store_unit_ensure(s, "a.service", false, &ids.ua), 0);
        assert_int_equal(store_unit_ensure(s, "b.service", false, &ids.ub), 0);
        assert_int_equal(store_event_ensure(s, "instructions", &ids.ev), 0);
        assert_int_equal(store_metric_ensure(s, "requests", &ids.metric), 0);
        append_tick(s, &ids, 1);
        assert_int_equal(store_commit(s), 0);
        store_close(s);
        assert_int_equal(query_int(path, "SELECT COUNT(*) FROM ticks"), 1);
        struct stat st;
        assert_int_equal(stat(journal, &st), 0);
        assert_true(S_ISDIR(st.st_mode)); /* left as it was */
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_replay_after_crash),
                cmocka_unit_test(test_no_double_count),
                cmocka_unit_test(test_torn_tail),
                cmocka_unit_test(test_unfinished_record),
                cmocka_unit_test(test_bad_record_set_aside),
                cmocka_unit_test(test_foreign_journal),
                cmocka_unit_test(test_bounded),
                cmocka_unit_test(test_link_refuses),
                cmocka_unit_test(test_totals_read_journal),
                cmocka_unit_test(test_tick_commit),
                cmocka_unit_test(test_no_journal),
                cmocka_unit_test(test_second_writer),
                cmocka_unit_test(test_lock_after_set_aside),
                cmocka_unit_test(test_growth_fails),
                cmocka_unit_test(test_maps_fs),
                cmocka_unit_test(test_auto_writes),
        };
        int failed = cmocka_run_group_tests_name("mapped", tests, setup_mapped, teardown);
        return failed + cmocka_run_group_tests_name("pwritev", tests, setup_pwrite, teardown);
}
