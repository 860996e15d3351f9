/* bench-crash: joulesd killed with SIGKILL at 1,000 random moments, restarted each time on the
 * same history; after every kill the history must pass PRAGMA integrity_check and hold no
 * interval counted twice or lost. The long form of tests/integration/storage-crash.sh (24 kills),
 * with the checks made per tick.
 *
 *   bench-crash [JOULESD] [--kills N] [--seed S] [--cli-every N] [--keep]
 *   bench-crash --check DB      (only the final pass below, on a history kept before)
 *
 * The energy comes from tests/tools/rapl-sim (package-0 20 W and its dram 4 W, both wrapping
 * every 5 s: 24 W into the host; a wrap every 0.5 s was tried, and on a machine loaded enough to
 * delay a tick past 0.5 s a whole wrap went unseen, as it would on any reader), so the true energy
 * of any stretch of time is known. Three services (real cgroups
 * system.slice/bench-crash-<pid>-N.service under the cgroup2 mount) each hold a process burning 5%
 * of a CPU, so every tick is split over units. joulesd runs with
 * --interval 50ms --commit-interval 2s (each tick in the journal until the commit) --energy-source
 * powercap --events none --idle-power 6, at nice -10 (the
 * simulator at -20, updating every 2 ms) so that other work on a shared machine does not turn every
 * round into a kill during start-up, and is killed after a random delay (microsecond resolution, so
 * at every phase of a tick, of its journal write and of its commits): in 10% of the rounds 0 to
 * 300 ms after its start (start-up: schema, first reading), in the others 0 to 1 s after it first
 * wrote to the WAL (its run row; its first tick follows one interval later). After each kill the
 * bench replays the tick journal as the next start would (storage/store-journal.c: the ticks not
 * yet committed), waits 200 ms (time that must not be counted) and checks, with the daemon down:
 *
 *   1. PRAGMA integrity_check answers ok.
 *   2. The ticks stored before this round are unchanged (count, energy, time).
 *   3. Every new tick belongs to the latest run; ticks have strictly increasing timestamps; a
 *      tick starts (ts_us - dt_us) no earlier than its run and no earlier than the previous tick
 *      ended (no overlap, 1 ms of clock jitter allowed: ts is wall-clock time, dt monotonic);
 *      inside a run a tick starts where the previous one ended (within 1 ms: no interval lost).
 *   4. Every tick's host energy equals the sum of its in-host domains, and the sum of its units
 *      (active + idle, the `idle` pseudo-unit holding what no unit took) exactly.
 *   5. No run's first tick has over 4 times the simulated 24 W: one that also counted the 200 ms
 *      the daemon was down would be at least 5 times. Later ticks are judged together with the
 *      ticks of their run in the second before them: the simulator is a process (its tree in
 * /dev/shm, at nice -20), and on a loaded machine a read can find it tens of ms behind, which makes
 * one tick low and the next high by the same energy. Ticks under a quarter are counted, not failed.
 *   6. (every round, or every Nth with --cli-every N) The CLI's totals agree: `joules status
 * --json` energy, measured time, samples, runs and unclean stops equal the sums over the stored
 * ticks and runs (energy to the microjoule), and the units of `joules services --json` add up to
 * the host energy.
 *
 * At the end the checks of 3 and 4 run once more over the whole history (ticks older than the
 * two-minute hot window are packed by then: their units and domains are decoded from the BLOBs),
 * and the energy over the
 * measured time must be within 2% of 24 W (the time the daemon was down is longer than the time
 * it measured: counted, it would show as more than double). The number of kills also comes
 * from $JOULES_CRASH_KILLS. Needs root (cgroups) and jq, exits 77 otherwise. */

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench/lib.h"
#include "storage/store-internal.h"

#define CRASH_SERVICES     3
#define CRASH_WATTS        24.0
#define CRASH_DOWN_NS      INT64_C(200000000)
#define CRASH_JITTER_US    1000
#define CRASH_MAX_FAILURES 20
/* The simulator is a process: a read can find it some milliseconds behind, and the first and
 * last reads of each short run do not cancel out exactly (a few ms of a few hundred). The time
 * the daemon was down is longer than the time it measured: counting it would be far over. */
#define CRASH_POWER_TOLERANCE 0.02

/* The last tick checked, carried from round to round. */
#define CRASH_WINDOW_US INT64_C(1000000)
#define CRASH_RECENT    64

/* The last tick checked, carried from round to round, and the recent ticks of its run. */
typedef struct CrashCursor {
        int64_t id, run_id, ts_us;
        int64_t recent_ts[CRASH_RECENT], recent_dt[CRASH_RECENT], recent_uj[CRASH_RECENT];
        size_t n_recent; /* ring of the run's ticks with a valid host energy */
} CrashCursor;

typedef struct CrashStats {
        uint64_t ticks, dropped, packed_ticks;
        uint64_t low_ticks; /* under a quarter of the power: a read of a simulator not updated */
        double ratio_min, ratio_max;
        uint64_t energy_uj, measured_us;
} CrashStats;

static struct {
        char cgroot[256], slice[280], tmp[64], db[128], sys[128], wal[140];
        bool made_slice;
        char cg[CRASH_SERVICES][320];
        bool made_cg[CRASH_SERVICES];
        pid_t burners[CRASH_SERVICES];
        pid_t daemon, sim;
        unsigned failures;
} C;

static void crash_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void crash_fail(const char *fmt, ...)
{
        va_list ap;
        va_start(ap, fmt);
        printf("FAIL: ");
        vprintf(fmt, ap);
        printf("\n");
        va_end(ap);
        fflush(stdout);
        C.failures++;
}

/* What the next start does first: replays the tick journal (the ticks the killed daemon had not
 * committed yet) into the history, so the checks see what a restarted daemon stores. */
static void crash_replay(const char *label, uint64_t *ret_replayed, uint64_t *ret_torn)
{
        if (access(C.db, F_OK) < 0)
                return;
        Store *s;
        char err[512];
        if (store_open(C.db, STORE_READ_WRITE, &s, err, sizeof(err)) < 0) {
                crash_fail("%s: opening the history to replay the journal: %s", label, err);
                return;
        }
        StoreJournalReplay jr;
        if (store_journal_open(s, &jr) < 0 || store_commit(s) < 0)
                crash_fail("%s: replaying the journal: %s", label, store_last_error(s));
        else if (jr.problem[0])
                crash_fail("%s: the journal has a bad %s", label, jr.problem);
        else {
                *ret_replayed += jr.replayed;
                *ret_torn += jr.torn;
        }
        store_close(s);
}

static void cleanup(void)
{
        if (C.daemon > 0) {
                (void)kill(C.daemon, SIGKILL);
                (void)waitpid(C.daemon, NULL, 0);
                C.daemon = 0;
        }
        for (size_t i = 0; i < CRASH_SERVICES; i++) {
                if (C.burners[i] > 0) {
                        (void)kill(C.burners[i], SIGKILL);
                        (void)waitpid(C.burners[i], NULL, 0);
                        C.burners[i] = 0;
                }
                if (C.made_cg[i] && bench_cgroup_remove(C.cg[i]) == 0)
                        C.made_cg[i] = false;
        }
        if (C.made_slice && rmdir(C.slice) == 0)
                C.made_slice = false;
        if (C.sim > 0) {
                (void)bench_stop_child(C.sim, 3000, NULL);
                C.sim = 0;
        }
        if (strncmp(C.sys, "/dev/shm/", 9) == 0)
                bench_remove_dir(C.sys);
}

static int crash_services_create(void)
{
        snprintf(C.slice, sizeof(C.slice), "%s/system.slice", C.cgroot);
        if (mkdir(C.slice, 0755) == 0)
                C.made_slice = true;
        pid_t self = getpid();
        for (size_t i = 0; i < CRASH_SERVICES; i++) {
                snprintf(C.cg[i], sizeof(C.cg[i]), "%s/bench-crash-%d-%zu.service", C.slice,
                         (int)self, i);
                if (mkdir(C.cg[i], 0755) < 0)
                        return -errno;
                C.made_cg[i] = true;
                pid_t pid = fork();
                if (pid < 0)
                        return -errno;
                if (pid == 0) {
                        bench_child_setup(self);
                        if (bench_cgroup_join(C.cg[i], getpid()) < 0)
                                _exit(1);
                        bench_busy_loop(5);
                }
                C.burners[i] = pid;
        }
        return 0;
}

static int crash_sim_start(const char *rapl_sim)
{
        char out[160];
        /* In memory, as sysfs is: on a disk, a write of the simulator can wait for the disk. */
        if (access("/dev/shm", W_OK) == 0)
                snprintf(C.sys, sizeof(C.sys), "/dev/shm/bench-crash-%d-sys", (int)getpid());
        else
                snprintf(C.sys, sizeof(C.sys), "%s/sys", C.tmp);
        snprintf(out, sizeof(out), "%s/sim.out", C.tmp);
        char *argv[] = {(char *)rapl_sim,
                        "--root",
                        C.sys,
                        "--zone",
                        "package-0:20:100000000",
                        "--zone",
                        "dram:4:20000000",
                        "--interval-ms",
                        "5",
                        NULL};
        C.sim = bench_spawn(argv, out);
        if (C.sim < 0)
                return C.sim;
        /* The simulator stands in for hardware, whose counters never stall: on a loaded machine
         * a starved simulator would show ticks of no energy followed by ticks of double. */
        (void)setpriority(PRIO_PROCESS, (id_t)C.sim, -20);
        for (int i = 0; i < 200; i++) {
                FILE *f = fopen(out, "re");
                char line[256];
                bool ready = false;
                while (f && fgets(line, sizeof(line), f))
                        ready |= strncmp(line, "ready", 5) == 0;
                if (f)
                        fclose(f);
                if (ready)
                        return 0;
                usleep(25000);
        }
        return -ETIMEDOUT;
}

/* Waits until the WAL changed from *before (the daemon wrote), polling every 2 ms; false at the
 * deadline or on a stop signal. */
static bool crash_wait_write(const struct stat *before, int64_t deadline_ns)
{
        while (!bench_stop_signal && bench_now_ns(CLOCK_MONOTONIC) < deadline_ns) {
                struct stat now;
                if (stat(C.wal, &now) == 0 &&
                    (now.st_size != before->st_size || now.st_ino != before->st_ino ||
                     now.st_mtim.tv_sec != before->st_mtim.tv_sec ||
                     now.st_mtim.tv_nsec != before->st_mtim.tv_nsec))
                        return true;
                usleep(2000);
        }
        return false;
}

static int64_t q_int(sqlite3 *db, const char *sql, int64_t arg)
{
        sqlite3_stmt *q;
        int64_t v = -1;
        if (sqlite3_prepare_v2(db, sql, -1, &q, NULL) != SQLITE_OK)
                return -1;
        if (sqlite3_bind_parameter_count(q) > 0)
                sqlite3_bind_int64(q, 1, arg);
        if (sqlite3_step(q) == SQLITE_ROW)
                v = sqlite3_column_int64(q, 0);
        sqlite3_finalize(q);
        return v;
}

/* The sum of a tick's units (active + idle), from its rows or its packed BLOB (0 when it has
 * neither: a tick of a millisecond after a late timer can hold no energy and no CPU time); -1
 * when the BLOB does not decode. *packed says which. */
static int64_t crash_units_sum(sqlite3 *db, sqlite3_stmt *rows, sqlite3_stmt *blob, int64_t id,
                               bool *packed)
{
        int64_t sum = -1;
        *packed = false;
        sqlite3_reset(rows);
        sqlite3_bind_int64(rows, 1, id);
        if (sqlite3_step(rows) == SQLITE_ROW && sqlite3_column_type(rows, 0) != SQLITE_NULL)
                sum = sqlite3_column_int64(rows, 0);
        if (sum >= 0)
                return sum;
        sqlite3_reset(blob);
        sqlite3_bind_int64(blob, 1, id);
        if (sqlite3_step(blob) != SQLITE_ROW)
                return 0; /* no unit at all: no energy and no CPU time in the tick */
        StoreUnitValue *u = NULL;
        size_t cap = 0, n = 0;
        if (store_unpack_units(sqlite3_column_blob(blob, 0), (size_t)sqlite3_column_bytes(blob, 0),
                               &u, &cap, &n) < 0) {
                free(u);
                return -1;
        }
        sum = 0;
        for (size_t i = 0; i < n; i++)
                sum += (int64_t)(u[i].active_uj + u[i].idle_uj);
        free(u);
        *packed = true;
        (void)db;
        return sum;
}

/* The energy of a packed tick's in-host domains (schema 12: in its tick_units row); -1 when it
 * has none there or the BLOB does not decode. */
static int64_t crash_packed_domains_sum(sqlite3_stmt *blob, sqlite3_stmt *in_host, int64_t id)
{
        sqlite3_reset(blob);
        sqlite3_bind_int64(blob, 1, id);
        if (sqlite3_step(blob) != SQLITE_ROW || sqlite3_column_type(blob, 0) != SQLITE_BLOB)
                return -1;
        StorePackedDomain *d = NULL;
        size_t cap = 0, n = 0;
        int64_t sum = -1;
        if (store_unpack_domains(sqlite3_column_blob(blob, 0),
                                 (size_t)sqlite3_column_bytes(blob, 0), &d, &cap, &n) == 0) {
                sum = 0;
                for (size_t i = 0; i < n; i++) {
                        sqlite3_reset(in_host);
                        sqlite3_bind_int64(in_host, 1, d[i].domain_id);
                        if (d[i].has_energy && sqlite3_step(in_host) == SQLITE_ROW &&
                            sqlite3_column_int(in_host, 0))
                                sum += d[i].energy_uj;
                }
        }
        free(d);
        return sum;
}

/* Checks 3 to 5 on every tick after cur->id; moves the cursor. label names the round. */
static int crash_check_ticks(sqlite3 *db, CrashCursor *cur, int64_t latest_run, CrashStats *st,
                             const char *label)
{
        sqlite3_stmt *t = NULL, *rows = NULL, *blob = NULL, *dom_blob = NULL, *in_host = NULL;
        int r = -EIO;
        if (sqlite3_prepare_v2(db,
                               "SELECT t.id, t.run_id, t.ts_us, t.dt_us, t.host_uj,"
                               " (SELECT SUM(d.energy_uj) FROM domain_energy d JOIN domains m"
                               "  ON m.id = d.domain_id WHERE d.tick_id = t.id AND m.in_host),"
                               " (SELECT started_us FROM runs r WHERE r.id = t.run_id)"
                               " FROM ticks t WHERE t.id > ? ORDER BY t.id",
                               -1, &t, NULL) != SQLITE_OK ||
            sqlite3_prepare_v2(db,
                               "SELECT SUM(active_uj + idle_uj) FROM unit_energy WHERE tick_id = ?",
                               -1, &rows, NULL) != SQLITE_OK ||
            sqlite3_prepare_v2(db, "SELECT data FROM tick_units WHERE tick_id = ?", -1, &blob,
                               NULL) != SQLITE_OK ||
            sqlite3_prepare_v2(db, "SELECT domains FROM tick_units WHERE tick_id = ?", -1,
                               &dom_blob, NULL) != SQLITE_OK ||
            sqlite3_prepare_v2(db, "SELECT in_host FROM domains WHERE id = ?", -1, &in_host,
                               NULL) != SQLITE_OK) {
                crash_fail("%s: preparing the checks: %s", label, sqlite3_errmsg(db));
                goto out;
        }
        sqlite3_bind_int64(t, 1, cur->id);
        unsigned bad = 0;
        while (sqlite3_step(t) == SQLITE_ROW) {
                int64_t id = sqlite3_column_int64(t, 0), run = sqlite3_column_int64(t, 1);
                int64_t ts = sqlite3_column_int64(t, 2), dt = sqlite3_column_int64(t, 3);
                bool host_valid = sqlite3_column_type(t, 4) != SQLITE_NULL;
                int64_t host = sqlite3_column_int64(t, 4), dom = sqlite3_column_int64(t, 5);
                int64_t started = sqlite3_column_int64(t, 6), start = ts - dt;
                st->ticks++;
                if (latest_run > 0 && run != latest_run)
                        bad++, crash_fail("%s: tick %" PRId64 " of run %" PRId64
                                          ", not of the latest run %" PRId64,
                                          label, id, run, latest_run);
                if (ts <= cur->ts_us || dt <= 0)
                        bad++, crash_fail("%s: tick %" PRId64 " at %" PRId64 " (dt %" PRId64
                                          ") after a tick at %" PRId64,
                                          label, id, ts, dt, cur->ts_us);
                if (start < started - CRASH_JITTER_US)
                        bad++, crash_fail("%s: tick %" PRId64 " starts %" PRId64
                                          " us before its run",
                                          label, id, started - start);
                if (start < cur->ts_us - CRASH_JITTER_US)
                        bad++, crash_fail("%s: tick %" PRId64 " overlaps the previous one by "
                                          "%" PRId64 " us",
                                          label, id, cur->ts_us - start);
                if (run == cur->run_id && llabs(start - cur->ts_us) > CRASH_JITTER_US)
                        bad++, crash_fail("%s: tick %" PRId64 " starts %" PRId64
                                          " us after the previous one of its run ended",
                                          label, id, start - cur->ts_us);
                if (!host_valid) {
                        st->dropped++;
                        if (run != cur->run_id)
                                cur->n_recent = 0;
                } else {
                        bool packed;
                        int64_t units = crash_units_sum(db, rows, blob, id, &packed);
                        st->packed_ticks += packed;
                        if (sqlite3_column_type(t, 5) == SQLITE_NULL)
                                dom = crash_packed_domains_sum(dom_blob, in_host, id);
                        if (dom != host)
                                bad++, crash_fail("%s: tick %" PRId64 " host %" PRId64
                                                  " uJ, its domains %" PRId64,
                                                  label, id, host, dom);
                        if (units != host)
                                bad++, crash_fail("%s: tick %" PRId64 " host %" PRId64
                                                  " uJ, its units %" PRId64 "%s",
                                                  label, id, host, units,
                                                  packed ? " (packed)" : "");
                        double ratio = (double)host / (double)dt / CRASH_WATTS;
                        st->low_ticks += ratio < 0.25;
                        /* A run's first tick alone (what it counts from is its own baseline);
                         * any other with the ticks of its run in the second before it: a read
                         * that found the simulator behind (seen: 0.3 s, when the whole VM
                         * stalled) makes one tick low and the next ones high by as much. */
                        if (run != cur->run_id)
                                cur->n_recent = 0;
                        bool first = cur->n_recent == 0;
                        int64_t w_uj = host, w_us = dt;
                        for (size_t j = 0; j < cur->n_recent && j < CRASH_RECENT; j++) {
                                size_t at = (cur->n_recent - 1 - j) % CRASH_RECENT;
                                if (cur->recent_ts[at] < start - CRASH_WINDOW_US)
                                        break;
                                w_uj += cur->recent_uj[at];
                                w_us += cur->recent_dt[at];
                        }
                        double judged = (double)w_uj / (double)w_us / CRASH_WATTS;
                        if (judged > 4)
                                bad++, crash_fail("%s: tick %" PRId64 " %.1f W over %" PRId64
                                                  " us%s (simulated %.0f W)",
                                                  label, id, judged * CRASH_WATTS, dt,
                                                  first ? ", the first of its run"
                                                        : " with the second before it",
                                                  CRASH_WATTS);
                        st->ratio_min = fmin(st->ratio_min, ratio);
                        st->ratio_max = fmax(st->ratio_max, ratio);
                        st->energy_uj += (uint64_t)host;
                        st->measured_us += (uint64_t)dt;
                        size_t at = cur->n_recent++ % CRASH_RECENT;
                        cur->recent_ts[at] = ts;
                        cur->recent_dt[at] = dt;
                        cur->recent_uj[at] = host;
                }
                cur->id = id;
                cur->run_id = run;
                cur->ts_us = ts;
                if (bad > 5)
                        break;
        }
        r = bad ? -EBADMSG : 0;
out:
        sqlite3_finalize(t);
        sqlite3_finalize(rows);
        sqlite3_finalize(blob);
        sqlite3_finalize(dom_blob);
        sqlite3_finalize(in_host);
        return r;
}

/* Runs a shell command; its first line into out. */
static int crash_cmd_line(const char *cmd, char *out, size_t size)
{
        FILE *p = popen(cmd, "re");
        if (!p)
                return -errno;
        out[0] = 0;
        bool got = fgets(out, (int)size, p) != NULL;
        int st = pclose(p);
        out[strcspn(out, "\n")] = 0;
        return got && st == 0 ? 0 : -EIO;
}

/* Check 6: the CLI's totals against the sums over the stored ticks. */
static int crash_check_cli(const char *joules, sqlite3 *db, const char *label)
{
        int64_t energy = q_int(db, "SELECT COALESCE(SUM(host_uj), 0) FROM ticks", 0);
        int64_t measured =
                q_int(db, "SELECT COALESCE(SUM(dt_us), 0) FROM ticks WHERE host_uj IS NOT NULL", 0);
        int64_t samples = q_int(db, "SELECT COUNT(*) FROM ticks", 0);
        int64_t runs = q_int(db, "SELECT COUNT(*) FROM runs", 0);
        char cmd[PATH_MAX * 2 + 256], out[512];
        snprintf(cmd, sizeof(cmd),
                 "'%s' --db '%s' status --json | jq -r '[(.host.energy_j * 1e6 | round), "
                 "(.host.measured_s * 1e6 | round), .host.samples, .host.runs, "
                 ".host.unclean_stops] | map(tostring) | join(\" \")'",
                 joules, C.db);
        long long e, m, s, ru, un;
        if (crash_cmd_line(cmd, out, sizeof(out)) < 0 ||
            sscanf(out, "%lld %lld %lld %lld %lld", &e, &m, &s, &ru, &un) != 5) {
                if (samples == 0)
                        return 0; /* nothing stored yet: status has no host figures */
                crash_fail("%s: joules status --json: '%s'", label, out);
                return -EIO;
        }
        int r = 0;
        if (e != energy || m != measured || s != samples || ru != runs || un != runs - 1) {
                crash_fail("%s: joules status: %lld uJ, %lld us, %lld samples, %lld runs, %lld "
                           "unclean; history: %" PRId64 " uJ, %" PRId64 " us, %" PRId64
                           " samples, %" PRId64 " runs",
                           label, e, m, s, ru, un, energy, measured, samples, runs);
                r = -EBADMSG;
        }
        snprintf(cmd, sizeof(cmd),
                 "'%s' --db '%s' services --since 1d --json | jq -r '[(.units | length), "
                 "([.units[].energy_j * 1e6 | round] | add // 0)] | map(tostring) | join(\" \")'",
                 joules, C.db);
        long long nu, su;
        if (crash_cmd_line(cmd, out, sizeof(out)) < 0 || sscanf(out, "%lld %lld", &nu, &su) != 2) {
                crash_fail("%s: joules services --json: '%s'", label, out);
                return -EIO;
        }
        /* each unit's figure is rounded to the microjoule */
        if (llabs(su - energy) > nu) {
                crash_fail("%s: joules services: the units add up to %lld uJ, the host %" PRId64,
                           label, su, energy);
                r = -EBADMSG;
        }
        return r;
}

static uint64_t crash_rand(uint64_t *s)
{
        /* xorshift64*: a fixed seed gives the same moments on every run */
        *s ^= *s >> 12;
        *s ^= *s << 25;
        *s ^= *s >> 27;
        return *s * UINT64_C(2685821657736338717);
}

static void usage(FILE *f)
{
        fprintf(f, "usage: bench-crash [JOULESD] [--kills N] [--seed S] [--cli-every N] [--keep]\n"
                   "       bench-crash --check DB\n"
                   "SIGKILLs joulesd at N random moments (default 1000) and checks the history\n"
                   "after each. Needs root.\n");
}

int main(int argc, char **argv)
{
        static const struct option opts[] = {
                {"kills", required_argument, NULL, 'n'},
                {"seed", required_argument, NULL, 's'},
                {"keep", no_argument, NULL, 'k'},
                {"help", no_argument, NULL, 'h'},
                {"cli-every", required_argument, NULL, 'c'},
                {"check", required_argument, NULL, 'C'},
                {0},
        };
        unsigned kills = 1000, cli_every = 1;
        const char *check_db = NULL;
        uint64_t seed = 4242;
        bool keep = false;
        const char *env = getenv("JOULES_CRASH_KILLS");
        if (env && *env)
                kills = (unsigned)strtoul(env, NULL, 10);
        int c;
        while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
                switch (c) {
                case 'n':
                        kills = (unsigned)strtoul(optarg, NULL, 10);
                        break;
                case 's':
                        seed = strtoull(optarg, NULL, 10);
                        break;
                case 'C':
                        check_db = optarg;
                        break;
                case 'c':
                        cli_every = (unsigned)strtoul(optarg, NULL, 10);
                        break;
                case 'k':
                        keep = true;
                        break;
                case 'h':
                        usage(stdout);
                        return 0;
                default:
                        usage(stderr);
                        return 2;
                }
        }
        if (kills < 1 || cli_every < 1 || argc - optind > 1 || seed == 0) {
                usage(stderr);
                return 2;
        }
        if (geteuid() != 0) {
                fprintf(stderr, "bench-crash: skipped: needs root to make cgroups\n");
                return 77;
        }
        char joulesd[PATH_MAX], joules[PATH_MAX], rapl_sim[PATH_MAX];
        if (optind < argc)
                snprintf(joulesd, sizeof(joulesd), "%s", argv[optind]);
        else if (bench_build_path("bin", "joulesd", joulesd, sizeof(joulesd)) < 0)
                return 1;
        if (bench_build_path("bin", "joules", joules, sizeof(joules)) < 0 ||
            bench_build_path("tests", "rapl-sim", rapl_sim, sizeof(rapl_sim)) < 0)
                return 1;
        const char *need[] = {joulesd, joules, rapl_sim};
        for (size_t i = 0; i < 3; i++)
                if (access(need[i], X_OK) < 0) {
                        fprintf(stderr, "bench-crash: %s: %s (build it)\n", need[i],
                                strerror(errno));
                        return 1;
                }
        if (system("jq --version >/dev/null 2>&1") != 0) {
                fprintf(stderr, "bench-crash: skipped: needs jq\n");
                return 77;
        }
        if (bench_find_cgroup2(C.cgroot, sizeof(C.cgroot)) < 0) {
                fprintf(stderr, "bench-crash: skipped: no cgroup2 mount\n");
                return 77;
        }
        bench_signals_init();
        snprintf(C.tmp, sizeof(C.tmp), "/tmp/bench-crash-XXXXXX");
        if (!mkdtemp(C.tmp)) {
                perror("bench-crash: mkdtemp");
                return 1;
        }
        snprintf(C.db, sizeof(C.db), "%s/crash.db", C.tmp);
        char log[160];
        snprintf(log, sizeof(log), "%s/joulesd.log", C.tmp);
        snprintf(C.wal, sizeof(C.wal), "%s-wal", C.db);

        int rc = 1, r = 0;
        uint64_t startup_kills = 0, no_tick_runs = 0, no_run_rows = 0, lost_max_us = 0;
        double lost_sum_us = 0;
        uint64_t lost_n = 0, writes_unseen = 0, replayed = 0, torn = 0;
        int64_t prev_runs = 0;
        unsigned k;
        if (check_db) {
                /* only the final pass, on a history made before (--keep) */
                snprintf(C.db, sizeof(C.db), "%s", check_db);
                k = 0;
                printf("bench-crash --check %s\n", check_db);
                goto final;
        }
        r = crash_sim_start(rapl_sim);
        if (r < 0) {
                fprintf(stderr, "bench-crash: rapl-sim: %s\n", strerror(-r));
                goto out;
        }
        r = crash_services_create();
        if (r < 0) {
                fprintf(stderr, "bench-crash: making the services: %s\n", strerror(-r));
                goto out;
        }
        char *args[] = {joulesd,    "--db",
                        C.db,       "--interval",
                        "50ms",     "--sysfs-root",
                        C.sys,      "--energy-source",
                        "powercap", "--events",
                        "none",     "--idle-power",
                        "6",        "--cgroup-root",
                        C.cgroot,   "--ingest-socket",
                        "",         "--commit-interval",
                        "2s",       NULL};
        printf("bench-crash: %s --interval 50ms --commit-interval 2s --energy-source powercap "
               "(rapl-sim: %.0f W), "
               "%u SIGKILLs, seed %" PRIu64 "\n",
               joulesd, CRASH_WATTS, kills, seed);
        printf("joulesd at nice -10, rapl-sim at -20 (2 ms updates); kills: 10%% 0-300 ms after "
               "the start, 90%% "
               "0-1000 ms after its first write\n");
        printf("load: %d services under %s (bench-crash-%d-N.service), 5%% of a CPU each\n",
               CRASH_SERVICES, C.slice, (int)getpid());
        printf("directory: %s\n\n", C.tmp);
        fflush(stdout);

        CrashCursor cur = {0};
        CrashStats st = {.ratio_min = INFINITY, .ratio_max = 0};
        int64_t prev_count = 0, prev_energy = 0, prev_dt = 0;
        for (k = 1; k <= kills && !bench_stop_signal && C.failures < CRASH_MAX_FAILURES; k++) {
                uint64_t x = crash_rand(&seed);
                bool early = x % 10 == 0;
                int64_t delay_us = early ? (int64_t)(crash_rand(&seed) % 300000)
                                         : (int64_t)(crash_rand(&seed) % 1000000);
                startup_kills += early;
                struct stat wal_before;
                if (stat(C.wal, &wal_before) < 0)
                        wal_before = (struct stat){0};
                int64_t t0 = bench_now_ns(CLOCK_MONOTONIC);
                C.daemon = bench_spawn(args, log);
                if (C.daemon < 0) {
                        fprintf(stderr, "bench-crash: cannot start %s\n", joulesd);
                        goto out;
                }
                (void)setpriority(PRIO_PROCESS, (id_t)C.daemon, -10);
                /* Most kills come while it writes: from its first write to the WAL on (up to 5 s
                 * after its start), a random delay of up to 1 s. */
                if (!early && !crash_wait_write(&wal_before, t0 + INT64_C(5000000000)))
                        writes_unseen++;
                if (!bench_sleep_until((early ? t0 : bench_now_ns(CLOCK_MONOTONIC)) +
                                       delay_us * 1000))
                        break;
                int status = 0;
                if (waitpid(C.daemon, &status, WNOHANG) == C.daemon) {
                        C.daemon = 0;
                        crash_fail("round %u: joulesd ended by itself (status %d)", k, status);
                        bench_show_log(log, 5);
                        break;
                }
                (void)kill(C.daemon, SIGKILL);
                int64_t killed_us = bench_now_ns(CLOCK_REALTIME) / 1000;
                (void)waitpid(C.daemon, NULL, 0);
                C.daemon = 0;

                char label[32];
                snprintf(label, sizeof(label), "round %u", k);
                crash_replay(label, &replayed, &torn);
                sqlite3 *db = NULL;
                if (sqlite3_open_v2(C.db, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
                        if (access(C.db, F_OK) < 0 && early) {
                                sqlite3_close(db);
                                no_run_rows++;
                                (void)bench_sleep_until(bench_now_ns(CLOCK_MONOTONIC) +
                                                        CRASH_DOWN_NS);
                                continue; /* killed before it made the file */
                        }
                        crash_fail("%s: open: %s", label, sqlite3_errmsg(db));
                        sqlite3_close(db);
                        break;
                }
                sqlite3_stmt *q;
                const char *ic = "?";
                if (sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &q, NULL) == SQLITE_OK &&
                    sqlite3_step(q) == SQLITE_ROW)
                        ic = (const char *)sqlite3_column_text(q, 0);
                else
                        ic = sqlite3_errmsg(db);
                bool ok = ic && strcmp(ic, "ok") == 0;
                if (!ok)
                        crash_fail("%s: integrity_check: %s", label, ic ? ic : "?");
                sqlite3_finalize(q);
                int64_t runs = q_int(db, "SELECT COUNT(*) FROM runs ", 0);
                if (!ok || runs < 0) {
                        if (early && runs < 0 && ok) { /* killed before the schema was made */
                                no_run_rows++;
                                sqlite3_close(db);
                                continue;
                        }
                        sqlite3_close(db);
                        break;
                }
                if (runs == prev_runs)
                        no_run_rows++;
                prev_runs = runs;
                /* 2: what was there before this round is unchanged */
                int64_t cnt = q_int(db, "SELECT COUNT(*) FROM ticks WHERE id <= ?", cur.id);
                int64_t en = q_int(db, "SELECT COALESCE(SUM(host_uj), 0) FROM ticks WHERE id <= ?",
                                   cur.id);
                int64_t dts = q_int(db, "SELECT COALESCE(SUM(dt_us), 0) FROM ticks WHERE id <= ?",
                                    cur.id);
                if (cnt != prev_count || en != prev_energy || dts != prev_dt)
                        crash_fail("%s: earlier history changed: %" PRId64 " ticks, %" PRId64
                                   " uJ, %" PRId64 " us; was %" PRId64 ", %" PRId64 ", %" PRId64,
                                   label, cnt, en, dts, prev_count, prev_energy, prev_dt);
                /* 3-5 on the new ticks */
                int64_t latest = q_int(db, "SELECT COALESCE(MAX(id), 0) FROM runs ", 0);
                int64_t before = cur.id;
                (void)crash_check_ticks(db, &cur, latest, &st, label);
                if (cur.id == before)
                        no_tick_runs++;
                else {
                        uint64_t lost = (uint64_t)(killed_us - cur.ts_us);
                        lost_max_us = lost > lost_max_us ? lost : lost_max_us;
                        lost_sum_us += (double)lost;
                        lost_n++;
                }
                prev_count = q_int(db, "SELECT COUNT(*) FROM ticks WHERE id <= ?", cur.id);
                prev_energy = q_int(db, "SELECT COALESCE(SUM(host_uj), 0) FROM ticks WHERE id <= ?",
                                    cur.id);
                prev_dt = q_int(db, "SELECT COALESCE(SUM(dt_us), 0) FROM ticks WHERE id <= ?",
                                cur.id);
                /* 6: the CLI */
                if (k % cli_every == 0)
                        (void)crash_check_cli(joules, db, label);
                sqlite3_close(db);
                if (k % 50 == 0) {
                        printf("%5u kills: %" PRIu64 " ticks, %" PRId64 " runs, %.3f W over "
                               "%.1f s measured, %u failures\n",
                               k, st.ticks, runs,
                               st.measured_us ? (double)st.energy_uj / (double)st.measured_us : 0.0,
                               (double)st.measured_us / 1e6, C.failures);
                        fflush(stdout);
                }
                (void)bench_sleep_until(bench_now_ns(CLOCK_MONOTONIC) + CRASH_DOWN_NS);
        }
        k--;
        if (bench_stop_signal)
                goto out;

final:;
        /* The whole history once more: packed ticks decoded, nothing changed since. */
        sqlite3 *db = NULL;
        CrashStats all = {.ratio_min = INFINITY};
        CrashCursor from = {0};
        int64_t span_us = 0, down_runs = 0;
        if (sqlite3_open_v2(C.db, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK) {
                sqlite3_stmt *q;
                if (sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &q, NULL) != SQLITE_OK ||
                    sqlite3_step(q) != SQLITE_ROW ||
                    strcmp((const char *)sqlite3_column_text(q, 0), "ok") != 0)
                        crash_fail("final pass: integrity_check: %s", sqlite3_errmsg(db));
                sqlite3_finalize(q);
                prev_runs = q_int(db, "SELECT COUNT(*) FROM runs", 0);
                (void)crash_check_ticks(db, &from, 0, &all, "final pass");
                span_us = q_int(db, "SELECT MAX(ts_us) - MIN(ts_us - dt_us) FROM ticks ", 0);
                down_runs = q_int(db, "SELECT COUNT(*) FROM runs WHERE stopped_us IS NULL", 0);
                (void)crash_check_cli(joules, db, "final pass");
        } else {
                crash_fail("final pass: open: %s", sqlite3_errmsg(db));
        }
        sqlite3_close(db);
        double w = all.measured_us ? (double)all.energy_uj / (double)all.measured_us : 0;
        bool power_ok = fabs(w - CRASH_WATTS) <= CRASH_POWER_TOLERANCE * CRASH_WATTS;
        if (!power_ok)
                crash_fail("final pass: %.3f W over the measured time, simulated %.0f W", w,
                           CRASH_WATTS);
        if (check_db)
                printf("%" PRId64 " runs recorded, %" PRId64 " without a stop\n", prev_runs,
                       down_runs);
        else
                printf("\n%u SIGKILLs (%" PRIu64 " in the first 300 ms, %" PRIu64
                       " of the others before a "
                       "write was seen), %" PRId64 " runs recorded, %" PRId64
                       " without a stop, %" PRIu64 " rounds stored no tick\n",
                       k, startup_kills, writes_unseen, prev_runs, down_runs, no_tick_runs);
        printf("history: %" PRIu64 " ticks (%" PRIu64 " dropped, %" PRIu64 " packed by the end), "
               "%.1f s measured of a %.1f s span\n",
               all.ticks, all.dropped, all.packed_ticks, (double)all.measured_us / 1e6,
               (double)span_us / 1e6);
        printf("energy: %.3f J over the measured time = %.3f W (simulated %.0f W, allowed %.0f%%); "
               "tick power %.2f to %.2f x simulated (%" PRIu64 " ticks under 0.25 x)\n",
               (double)all.energy_uj / 1e6, w, CRASH_WATTS, CRASH_POWER_TOLERANCE * 100,
               all.ratio_min, all.ratio_max, all.low_ticks);
        if (!check_db)
                printf("lost at a kill (kill time - end of the last stored tick, once the journal "
                       "is replayed): mean %.0f ms, max %.0f ms; %" PRIu64 " ticks replayed from "
                       "the journal, %" PRIu64 " torn last records cut\n",
                       lost_n ? lost_sum_us / (double)lost_n / 1000 : 0.0,
                       (double)lost_max_us / 1000, replayed, torn);
        printf("%s integrity_check, %sticks ordered and contiguous, host = domains = units, "
               "CLI totals = stored sums: %s\n",
               check_db ? "whole history:" : "after every kill:",
               check_db ? "" : "earlier history unchanged, ",
               C.failures ? "FAILURES (above)" : "all ok");
        rc = C.failures ? 1 : 0;
out:
        fflush(stdout);
        cleanup();
        if (check_db)
                bench_remove_dir(C.tmp);
        else if (keep || C.failures)
                fprintf(stderr, "bench-crash: kept %s\n", C.tmp);
        else
                bench_remove_dir(C.tmp);
        if (bench_stop_signal) {
                fprintf(stderr, "bench-crash: interrupted; children killed, cgroups removed\n");
                signal(bench_stop_signal, SIG_DFL);
                raise(bench_stop_signal);
                return 128 + bench_stop_signal;
        }
        return rc;
}
