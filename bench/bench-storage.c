/* bench-storage: what the history costs on disk and in CPU, and how fast a year is read.
 *
 * 1. Density and write cost: a simulated day (default) of 1 s ticks with 100 active units (every
 *    unit runs every tick: no sample is skipped; energy split by CPU time as joulesd does), one
 *    energy domain and requests on ten units, written through the real store API into a real file
 * as joulesd writes them (one store_commit per tick, store_maintain every simulated minute). Prints
 * bytes on disk per stored (unit, tick) sample (the whole file after a checkpoint, rollup tiers
 * included, and per table where SQLite's dbstat is available) and CPU microseconds per sample
 * written (append + commit, and with the rollups' share).
 * 2. Query speed: a year of hourly ticks for 200 units, rolled up and retained as joulesd does
 *    (raw 7 days, minutes 90 days, hours and days forever), then store_read_services over the
 *    year on a read-only handle, and the real `joules services --since 365d`, timed.
 *
 *   bench-storage [--hours N] [--units N] [--dir DIR] [--skip-year] [--keep]
 *   (--keep leaves the day's file, bench-storage-day.db, for sqlite3)
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/util.h"
#include "common/attribution.h"
#include "storage/store.h"

#define SEC    INT64_C(1000000)
#define MINUTE (60 * SEC)
#define HOUR   (60 * MINUTE)
#define DAY    (24 * HOUR)

static uint64_t rng = 0x9e3779b97f4a7c15u;

static uint64_t rnd(uint64_t n)
{
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        return rng % n;
}

static uint64_t cpu_now_ns(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
        return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t mono_now_ns(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void die(const char *what, int r)
{
        fprintf(stderr, "bench-storage: %s: %s\n", what, strerror(r < 0 ? -r : r));
        exit(1);
}

static off_t file_size(const char *path)
{
        struct stat st;
        return stat(path, &st) == 0 ? st.st_size : 0;
}

static void remove_db(const char *path)
{
        char p[PATH_MAX + 48];
        (void)unlink(path);
        snprintf(p, sizeof(p), "%s-wal", path);
        (void)unlink(p);
        snprintf(p, sizeof(p), "%s-shm", path);
        (void)unlink(p);
}

typedef struct Sim {
        Store *s;
        size_t n_units;
        int64_t *unit_ids;
        uint64_t *load; /* each unit's typical CPU ns per second */
        uint64_t *cpu, *act, *idle;
        uint64_t store_ns; /* CPU inside store_tick_append and store_commit */
        int64_t domain_id, metric_id;
        StoreUnitValue *uv;
        StoreRequestValue rq[16];
} Sim;

static void sim_open(Sim *m, const char *path, size_t n_units, int64_t start_us)
{
        char err[512];
        remove_db(path);
        int r = store_open(path, STORE_READ_WRITE, &m->s, err, sizeof(err));
        if (r < 0) {
                fprintf(stderr, "bench-storage: %s\n", err);
                exit(1);
        }
        int64_t run;
        StoreRun ri = {.started_us = start_us,
                       .source = "powercap",
                       .interval_us = (uint64_t)SEC,
                       .hostname = "bench",
                       .weight = "cpu-time"};
        if ((r = store_run_begin(m->s, &ri, &run)) < 0)
                die("run", r);
        StoreDomain d = {"package-0", "intel-rapl:0", "powercap", "package", false, true};
        if ((r = store_domain_ensure(m->s, &d, &m->domain_id)) < 0 ||
            (r = store_metric_ensure(m->s, "requests", &m->metric_id)) < 0)
                die("ids", r);
        m->n_units = n_units;
        m->unit_ids = calloc(n_units + 1, sizeof(*m->unit_ids));
        m->load = calloc(n_units + 1, sizeof(*m->load));
        m->uv = calloc(n_units + 1, sizeof(*m->uv));
        m->cpu = calloc(n_units, sizeof(*m->cpu));
        m->act = calloc(n_units, sizeof(*m->act));
        m->idle = calloc(n_units, sizeof(*m->idle));
        if (!m->unit_ids || !m->load || !m->uv || !m->cpu || !m->act || !m->idle)
                die("memory", -ENOMEM);
        for (size_t i = 0; i <= n_units; i++) {
                char name[64];
                if (i < n_units)
                        snprintf(name, sizeof(name), "service-%03zu.service", i);
                else
                        snprintf(name, sizeof(name), "idle");
                if ((r = store_unit_ensure(m->s, name, i == n_units, &m->unit_ids[i])) < 0)
                        die("unit", r);
                /* a few busy services (40% of a CPU), most light (0.2% to 3%) */
                m->load[i] = i % 10 == 0 ? 400000000 : 2000000 + rnd(30000000);
        }
        if ((r = store_commit(m->s)) < 0)
                die("commit", r);
}

/* One tick of dt_us ending at ts, shaped as joulesd attributes it: every unit ran (CPU time
 * around its typical load), the host drew 20 W idle plus 3.5 W per busy CPU, and the active and
 * idle energy are split by CPU time with the daemon's own largest-remainder apportioning, so
 * the units conserve the host's energy. */
static void sim_tick(Sim *m, int64_t ts, int64_t dt_us)
{
        double scale = (double)dt_us / 1e6;
        uint64_t cpu_total = 0;
        for (size_t i = 0; i < m->n_units; i++) {
                /* cgroup usage_usec: whole microseconds, as joulesd reads them */
                m->cpu[i] = (uint64_t)((double)(m->load[i] / 2 + rnd(m->load[i] + 1)) * scale) /
                            1000 * 1000;
                cpu_total += m->cpu[i];
        }
        uint64_t e_act = (uint64_t)((double)cpu_total * 3.5e-3); /* 3.5 W per CPU: µJ per ns */
        uint64_t e_idle = (uint64_t)(20e6 * scale);
        if (attr_apportion(e_act, m->cpu, m->n_units, m->act) < 0 ||
            attr_apportion(e_idle, m->cpu, m->n_units, m->idle) < 0)
                die("apportioning", -EINVAL);
        for (size_t i = 0; i < m->n_units; i++)
                m->uv[i] = (StoreUnitValue){m->unit_ids[i], m->act[i], m->idle[i], m->cpu[i]};
        uint64_t host = e_act + e_idle;
        for (size_t i = 0; i < 10 && i < m->n_units; i++)
                m->rq[i] = (StoreRequestValue){m->unit_ids[i * (m->n_units / 10)], m->metric_id,
                                               (double)(rnd(200) * (uint64_t)dt_us / SEC)};
        StoreDomainValue dv = {.domain_id = m->domain_id, .valid = true, .energy_uj = host};
        StoreTick t = {.ts_us = ts,
                       .dt_us = (uint64_t)dt_us,
                       .host_valid = true,
                       .host_uj = host,
                       .domains = &dv,
                       .n_domains = 1,
                       .units = m->uv,
                       .n_units = m->n_units,
                       .requests = m->rq,
                       .n_requests = m->n_units >= 10 ? 10 : m->n_units};
        uint64_t c0 = cpu_now_ns();
        int r = store_tick_append(m->s, &t);
        if (r >= 0)
                r = store_commit(m->s);
        if (r < 0)
                die("writing a tick", r);
        m->store_ns += cpu_now_ns() - c0;
}

static void sim_maintain(Sim *m, int64_t now, const StoreRetention *keep)
{
        int r;
        while ((r = store_maintain(m->s, now, keep)) == 1)
                ;
        if (r < 0)
                die("store_maintain", r);
}

static void sim_close(Sim *m)
{
        store_close(m->s);
        free(m->unit_ids);
        free(m->load);
        free(m->uv);
        free(m->cpu);
        free(m->act);
        free(m->idle);
}

/* Checkpoints the WAL into the file and prints the bytes per table (dbstat, when compiled in). */
static void db_report(const char *path, double samples, double units)
{
        sqlite3 *db;
        if (sqlite3_open(path, &db) != SQLITE_OK)
                return;
        (void)sqlite3_exec(db, "PRAGMA wal_checkpoint(TRUNCATE)", NULL, NULL, NULL);
        sqlite3_stmt *q;
        if (sqlite3_prepare_v2(db,
                               "SELECT CASE WHEN name LIKE 'sqlite_autoindex_%' THEN 'indexes' "
                               "ELSE name END AS n, SUM(pgsize) FROM dbstat GROUP BY n "
                               "ORDER BY 2 DESC",
                               -1, &q, NULL) == SQLITE_OK) {
                printf("  on disk by table (bytes per sample):");
                int shown = 0;
                while (sqlite3_step(q) == SQLITE_ROW && shown < 8) {
                        printf("%s %s %.2f", shown ? "," : "", sqlite3_column_text(q, 0),
                               (double)sqlite3_column_int64(q, 1) / samples);
                        shown++;
                }
                printf("\n");
                sqlite3_finalize(q);
        }
        if (sqlite3_prepare_v2(db,
                               "SELECT COALESCE(SUM(length(data)), 0), COUNT(*) FROM tick_units",
                               -1, &q, NULL) == SQLITE_OK) {
                if (sqlite3_step(q) == SQLITE_ROW && sqlite3_column_int64(q, 1) > 0)
                        printf("  packed ticks: %lld, %.2f bytes of BLOB per unit and tick\n",
                               (long long)sqlite3_column_int64(q, 1),
                               (double)sqlite3_column_int64(q, 0) /
                                       (double)sqlite3_column_int64(q, 1) / units);
                sqlite3_finalize(q);
        }
        sqlite3_close(db);
}

static bool keep_files;

static void bench_density(const char *dir, int hours, size_t n_units)
{
        char path[PATH_MAX + 32];
        snprintf(path, sizeof(path), "%s/bench-storage-day.db", dir);
        int64_t start = (now_realtime_us() / DAY - 2) * DAY;
        Sim m = {0};
        sim_open(&m, path, n_units, start);
        StoreRetention keep = {STORE_RAW_RETENTION_DEFAULT, STORE_MINUTE_RETENTION_DEFAULT,
                               STORE_HOUR_RETENTION_DEFAULT};
        int64_t ticks = (int64_t)hours * 3600;
        uint64_t write_ns = 0, maintain_ns = 0;
        uint64_t wall0 = mono_now_ns();
        for (int64_t i = 1; i <= ticks; i++) {
                int64_t ts = start + i * SEC;
                sim_tick(&m, ts, SEC);
                if (i % 60 == 0) {
                        uint64_t c1 = cpu_now_ns();
                        sim_maintain(&m, ts, &keep);
                        maintain_ns += cpu_now_ns() - c1;
                }
        }
        double wall_s = (double)(mono_now_ns() - wall0) / 1e9;
        write_ns = m.store_ns;
        sim_close(&m);
        /* (unit, tick) samples: one per active service and tick */
        double samples = (double)ticks * (double)n_units;
        db_report(path, samples, (double)n_units);
        off_t bytes = file_size(path);
        printf("density: %lld ticks of 1 s (%.1f h) x %zu active units = %.0f samples, written "
               "through the store API in %.1f s\n",
               (long long)ticks, (double)ticks / 3600, n_units, samples, wall_s);
        printf("  bytes on disk per sample: %.2f (file %.1f MiB after checkpoint, rollup tiers "
               "included; target <= 4, issue 14)\n",
               (double)bytes / samples, (double)bytes / 1048576.0);
        printf("  CPU per sample written: %.3f us in store_tick_append + store_commit, %.3f us "
               "with store_maintain (rollups, packing, retention; target <= 2)\n",
               (double)write_ns / 1e3 / samples, (double)(write_ns + maintain_ns) / 1e3 / samples);
        if (!keep_files)
                remove_db(path);
}

static double median(double *v, int n)
{
        for (int i = 1; i < n; i++)
                for (int j = i; j > 0 && v[j - 1] > v[j]; j--) {
                        double t = v[j];
                        v[j] = v[j - 1];
                        v[j - 1] = t;
                }
        return v[n / 2];
}

static double time_cli(const char *joules, const char *db)
{
        uint64_t t0 = mono_now_ns();
        pid_t pid = fork();
        if (pid == 0) {
                int fd = open("/dev/null", O_WRONLY);
                if (fd >= 0) {
                        dup2(fd, 1);
                        close(fd);
                }
                execl(joules, joules, "--db", db, "services", "--since", "365d", (char *)NULL);
                _exit(127);
        }
        int status = 0;
        if (pid < 0 || waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) ||
            WEXITSTATUS(status) != 0) {
                fprintf(stderr, "bench-storage: %s services failed (status %d)\n", joules, status);
                return -1;
        }
        return (double)(mono_now_ns() - t0) / 1e6;
}

static void bench_year(const char *dir, size_t n_units, const char *joules)
{
        char path[PATH_MAX + 32];
        snprintf(path, sizeof(path), "%s/bench-storage-year.db", dir);
        int64_t end = now_realtime_us() / HOUR * HOUR, start = end - 365 * DAY;
        Sim m = {0};
        sim_open(&m, path, n_units, start);
        StoreRetention keep = {STORE_RAW_RETENTION_DEFAULT, STORE_MINUTE_RETENTION_DEFAULT,
                               STORE_HOUR_RETENTION_DEFAULT};
        uint64_t wall0 = mono_now_ns();
        for (int64_t ts = start + HOUR; ts <= end; ts += HOUR) {
                sim_tick(&m, ts, HOUR);
                if ((ts - start) % DAY == 0)
                        sim_maintain(&m, ts, &keep);
        }
        sim_maintain(&m, end + MINUTE, &keep);
        sim_close(&m);
        double build_s = (double)(mono_now_ns() - wall0) / 1e9;

        char err[512];
        Store *s;
        int r = store_open(path, STORE_READ_ONLY, &s, err, sizeof(err));
        if (r < 0) {
                fprintf(stderr, "bench-storage: %s\n", err);
                exit(1);
        }
        double t[7];
        size_t listed = 0;
        double host_j = 0;
        for (int i = 0; i < 7; i++) {
                StoreServices sv;
                uint64_t t0 = mono_now_ns();
                if ((r = store_read_services(s, end - 365 * DAY, end + MINUTE, &sv)) < 0)
                        die("store_read_services", r);
                t[i] = (double)(mono_now_ns() - t0) / 1e6;
                listed = sv.n_units;
                host_j = sv.host_energy_j;
                store_services_done(&sv);
        }
        store_close(s);
        printf("query: a year of hourly ticks for %zu units (built and rolled up in %.1f s, file "
               "%.1f MiB)\n",
               n_units, build_s, (double)file_size(path) / 1048576.0);
        printf("  store_read_services over 365 days: %.2f ms median of 7 (%zu units, %.0f kWh; "
               "target < 200 ms)\n",
               median(t, 7), listed, host_j / 3.6e6);
        if (joules && access(joules, X_OK) == 0) {
                double c[5];
                int ok = 0;
                for (int i = 0; i < 5; i++)
                        if ((c[ok] = time_cli(joules, path)) >= 0)
                                ok++;
                if (ok)
                        printf("  joules services --since 365d (the real binary, wall time with "
                               "start-up): %.2f ms median of %d\n",
                               median(c, ok), ok);
        } else {
                printf("  joules binary not found (%s): CLI not timed\n", joules ? joules : "-");
        }
        remove_db(path);
}

int main(int argc, char **argv)
{
        int hours = 24;
        size_t units = 100, year_units = 200;
        const char *dir = NULL;
        bool skip_year = false;
        static const struct option opts[] = {
                {"hours", required_argument, NULL, 'h'}, {"units", required_argument, NULL, 'u'},
                {"dir", required_argument, NULL, 'd'},   {"skip-year", no_argument, NULL, 'y'},
                {"keep", no_argument, NULL, 'k'},        {},
        };
        int c;
        while ((c = getopt_long(argc, argv, "", opts, NULL)) >= 0) {
                switch (c) {
                case 'h':
                        hours = atoi(optarg);
                        break;
                case 'u':
                        units = (size_t)atoi(optarg);
                        break;
                case 'd':
                        dir = optarg;
                        break;
                case 'y':
                        skip_year = true;
                        break;
                case 'k':
                        keep_files = true;
                        break;
                default:
                        fprintf(stderr, "usage: bench-storage [--hours N] [--units N] [--dir DIR] "
                                        "[--skip-year] [--keep]\n");
                        return 2;
                }
        }
        if (hours < 1 || units < 10) {
                fprintf(stderr, "bench-storage: --hours >= 1 and --units >= 10\n");
                return 2;
        }
        /* next to the binary (build/bench) unless told: a real disk, not tmpfs */
        char self[PATH_MAX], here[PATH_MAX], joules[PATH_MAX + 16];
        ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
        self[n > 0 ? n : 0] = '\0';
        char *slash = strrchr(self, '/');
        snprintf(here, sizeof(here), "%.*s", slash ? (int)(slash - self) : 1, slash ? self : ".");
        snprintf(joules, sizeof(joules), "%s/../bin/joules", here);
        if (!dir)
                dir = here;
        printf("bench-storage: SQLite %s, files in %s\n", sqlite3_libversion(), dir);
        bench_density(dir, hours, units);
        if (!skip_year)
                bench_year(dir, year_units, joules);
        return 0;
}
