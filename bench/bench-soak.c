/* bench-soak: the real joulesd for a long run, while services come and go and the ingest socket
 * is busy; prints its RSS, open descriptors and database size over time, then whether RSS and
 * descriptors stayed flat.
 *
 *   bench-soak [JOULESD] [--duration S] [--services N] [--churn-ms MS] [--valgrind] [--keep]
 *
 * joulesd runs at nice -10 (so that other work on a shared machine does not make it miss its
 * ticks; the load runs at the bench's own priority) with --interval 50ms --energy-source model
 * --cgroup-root <cgroup2 mount>
 * --ingest-socket <tmp>/ingest.sock --db <tmp>/soak.db and its default events. N services
 * (default 20) live at once, each a real cgroup system.slice/bench-soak-<pid>-<seq>.service
 * under the cgroup2 mount holding a sleeping process and a worker. Every MS milliseconds
 * (default 2000) the oldest service is killed and its cgroup removed, and a new one with a new
 * name takes its place, so about 900 services come and go in 30 minutes. Each worker burns
 * 0.5 ms of CPU and sends one `requests:1|c` datagram (include/joules/ingest.h) every 100 ms, and
 * once a second starts a child that burns 2 ms, sends `jobs:1|c` from a socket of its own and
 * exits 100 ms later: processes come and go inside the services too.
 *
 * Every 10 s the bench samples the daemon's VmRSS, the count of /proc/PID/fd and the size of the
 * database and its WAL; it prints one line a minute (every sample for runs under 10 minutes).
 * The verdict compares the later half of the run against the first minutes after a warm-up (the
 * page cache of SQLite and the daemon's tables fill during the first minutes): RSS is flat when
 * the later half's maximum is within max(256 KiB, 1%) of the maximum of the early window and its
 * least-squares slope is under 512 KiB per hour; descriptors are flat when the later half's
 * minimum is within N of the early window's minimum. The floor, not the peaks: the daemon holds
 * a descriptor per cgroup and process it follows, the root cgroup's processes included, and on a
 * shared machine their number moves with everything else that runs (the procs column). A leak of
 * one descriptor per service replaced (900 in 30 minutes) or of 10 bytes a tick (700 KiB an
 * hour) fails. All samples go to samples.tsv in the directory (seconds, RSS KiB, fds, procs, db
 * and WAL bytes).
 *
 * --valgrind runs joulesd under valgrind --leak-check=full --error-exitcode=99 (default duration
 * 240 s instead of 1800), stops it with SIGTERM and prints valgrind's leak and error summary:
 * clean means definitely and indirectly lost 0 bytes and no errors. The RSS shown is then
 * valgrind's (shadow memory included), so there is no flatness verdict.
 *
 * The duration also comes from $JOULES_SOAK_SECS. Needs root (cgroups), exits 77 otherwise.
 * Children, cgroups and the temporary directory are removed at the end and on SIGINT, SIGTERM
 * and SIGHUP (--keep keeps the directory: the history, the daemon's and valgrind's logs). */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench/lib.h"
#include "include/joules/ingest.h"

#define SOAK_MAX_SERVICES 200
#define SOAK_SAMPLE_NS    INT64_C(10000000000) /* a sample every 10 s */
#define SOAK_MAX_SAMPLES  100000
#define SOAK_INTERVAL     "50ms"
/* The daemon's priority, whatever the bench's: on a shared machine it would otherwise miss its
 * ticks and the soak would not be one of 50 ms ticks. It costs about 1% of a CPU. */
#define SOAK_DAEMON_NICE -10

typedef struct SoakService {
        char path[320];
        pid_t pids[2]; /* sleeper, worker */
        bool made;
} SoakService;

typedef struct SoakSample {
        double t_s; /* since the daemon started */
        long rss_kib, fds;
        long procs; /* processes on the machine */
        long long db_bytes, wal_bytes;
} SoakSample;

/* Counts the children send, in memory shared with them. */
typedef struct SoakShared {
        atomic_ulong datagrams, refused, transients;
} SoakShared;

/* Everything cleanup() undoes; global so the exit paths after a signal reach it. */
static struct {
        char cgroot[256], slice[280], tmp[64], sock[128], db[128];
        bool made_slice;
        SoakService svc[SOAK_MAX_SERVICES];
        size_t n_svc;
        unsigned long made, removed;
        pid_t daemon;
        int daemon_status;
        bool daemon_exited;
        SoakShared *shared;
} S;

/* Burns us microseconds of this process's CPU time. */
static void soak_burn_us(int64_t us)
{
        int64_t until = bench_now_ns(CLOCK_PROCESS_CPUTIME_ID) + us * 1000;
        while (bench_now_ns(CLOCK_PROCESS_CPUTIME_ID) < until)
                ;
}

static void soak_send(int fd, const char *name)
{
        int r = joules_ingest_count(fd, name, 1);
        if (r == 0)
                atomic_fetch_add(&S.shared->datagrams, 1);
        else
                atomic_fetch_add(&S.shared->refused, 1);
}

/* A service's worker: 0.5 ms of CPU and a datagram every 100 ms, a short-lived child a second. */
static void soak_worker(void) __attribute__((noreturn));
static void soak_worker(void)
{
        int fd = joules_ingest_open(S.sock);
        pid_t child = 0;
        int64_t next = bench_now_ns(CLOCK_MONOTONIC);
        for (unsigned i = 0;; i++) {
                soak_burn_us(500);
                if (fd < 0)
                        fd = joules_ingest_open(S.sock); /* the daemon was not up yet */
                soak_send(fd, "requests");
                if (child > 0 && waitpid(child, NULL, WNOHANG) == child)
                        child = 0;
                if (i % 10 == 0 && child == 0) {
                        child = fork();
                        if (child == 0) {
                                int own = joules_ingest_open(S.sock);
                                soak_burn_us(2000);
                                soak_send(own, "jobs");
                                joules_ingest_close(own);
                                /* the daemon learns a datagram's unit from its live sender */
                                usleep(100000);
                                atomic_fetch_add(&S.shared->transients, 1);
                                _exit(0);
                        }
                        if (child < 0)
                                child = 0;
                }
                next += 100000000;
                struct timespec ts = {.tv_sec = next / 1000000000, .tv_nsec = next % 1000000000};
                (void)clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
        }
}

/* Forks a process that moves itself into dir, then sleeps (worker false) or works. */
static pid_t soak_start(const char *dir, bool worker)
{
        pid_t self = getpid();
        pid_t pid = fork();
        if (pid != 0)
                return pid < 0 ? -errno : pid;
        bench_child_setup(self);
        if (bench_cgroup_join(dir, getpid()) < 0)
                _exit(1);
        if (worker)
                soak_worker();
        for (;;)
                pause();
}

/* Collects every child that ended (the services' processes, their orphaned short-lived children:
 * the bench is their subreaper) and notes the daemon's end. */
static void soak_reap(void)
{
        int status;
        pid_t w;
        while ((w = waitpid(-1, &status, WNOHANG)) > 0)
                if (w == S.daemon) {
                        S.daemon_status = status;
                        S.daemon_exited = true;
                }
}

static int soak_service_stop(SoakService *v)
{
        if (!v->made)
                return 0;
        for (size_t k = 0; k < 2; k++)
                if (v->pids[k] > 0)
                        (void)kill(v->pids[k], SIGKILL);
        int r = bench_cgroup_remove(v->path);
        soak_reap();
        if (r < 0) {
                fprintf(stderr, "bench-soak: rmdir %s: %s\n", v->path, strerror(-r));
                return r;
        }
        v->made = false;
        S.removed++;
        return 0;
}

static int soak_service_start(SoakService *v)
{
        snprintf(v->path, sizeof(v->path), "%s/bench-soak-%d-%lu.service", S.slice, (int)getpid(),
                 S.made);
        if (mkdir(v->path, 0755) < 0)
                return -errno;
        v->made = true;
        S.made++;
        for (size_t k = 0; k < 2; k++) {
                v->pids[k] = soak_start(v->path, k == 1);
                if (v->pids[k] < 0)
                        return v->pids[k];
        }
        return 0;
}

static void cleanup(void)
{
        if (S.daemon > 0 && !S.daemon_exited)
                (void)bench_stop_child(S.daemon, 120000, NULL);
        S.daemon = 0;
        for (size_t i = 0; i < S.n_svc; i++)
                (void)soak_service_stop(&S.svc[i]);
        if (S.made_slice && rmdir(S.slice) == 0)
                S.made_slice = false;
}

static long long file_size(const char *path)
{
        struct stat st;
        return stat(path, &st) == 0 ? (long long)st.st_size : 0;
}

static int soak_sample(int64_t start_ns, SoakSample *s)
{
        char wal[160];
        s->t_s = (double)(bench_now_ns(CLOCK_MONOTONIC) - start_ns) / 1e9;
        int r = bench_proc_rss_kib(S.daemon, &s->rss_kib);
        if (r >= 0)
                r = bench_proc_fds(S.daemon, &s->fds);
        s->procs = 0;
        DIR *d = opendir("/proc");
        struct dirent *de;
        while (d && (de = readdir(d)))
                s->procs += de->d_name[0] >= '1' && de->d_name[0] <= '9';
        if (d)
                closedir(d);
        snprintf(wal, sizeof(wal), "%s-wal", S.db);
        s->db_bytes = file_size(S.db);
        s->wal_bytes = file_size(wal);
        return r;
}

static void soak_print_sample(const SoakSample *s)
{
        char out[256] = "?";
        (void)bench_sql_line(S.db,
                             "select (select count(*) from ticks),"
                             " (select coalesce(sum(accepted), 0) from ingest_stats),"
                             " (select count(*) from units);",
                             out, sizeof(out));
        unsigned long long ticks = 0, accepted = 0, units = 0;
        (void)sscanf(out, "%llu %llu %llu", &ticks, &accepted, &units);
        printf("%6.1f %9ld %5ld %6ld %8.2f %7.2f %8llu %6zu %7lu %9lu %9llu %6llu\n", s->t_s / 60.0,
               s->rss_kib, s->fds, s->procs, (double)s->db_bytes / 1048576.0,
               (double)s->wal_bytes / 1048576.0, ticks, S.n_svc, S.removed,
               atomic_load(&S.shared->datagrams), accepted, units);
        fflush(stdout);
}

/* Least-squares slope of y over t (per second) for samples [a, b). */
static double soak_slope(const SoakSample *s, size_t a, size_t b, bool fds)
{
        double n = (double)(b - a), st = 0, sy = 0, stt = 0, sty = 0;
        if (b - a < 2)
                return 0;
        for (size_t i = a; i < b; i++) {
                double y = fds ? (double)s[i].fds : (double)s[i].rss_kib;
                st += s[i].t_s;
                sy += y;
                stt += s[i].t_s * s[i].t_s;
                sty += s[i].t_s * y;
        }
        double den = n * stt - st * st;
        return den > 0 ? (n * sty - st * sy) / den : 0;
}

/* The largest (or smallest) RSS or descriptor count of samples [a, b). */
static long soak_extreme(const SoakSample *s, size_t a, size_t b, bool fds, bool max)
{
        long m = max ? LONG_MIN : LONG_MAX;
        for (size_t i = a; i < b; i++) {
                long v = fds ? s[i].fds : s[i].rss_kib;
                m = (max ? v > m : v < m) ? v : m;
        }
        return m;
}

/* Prints the verdict; true when both are flat. */
static bool soak_verdict(const SoakSample *s, size_t n, double secs, unsigned services)
{
        /* Warm-up: 5 minutes of a run of 20 minutes or more, else a quarter; the early window is
         * the next 5 minutes (or quarter); the later half starts at half the run. */
        double warm = secs >= 1200 ? 300 : secs / 4,
               early_end = warm + (secs >= 1200 ? 300 : secs / 4);
        size_t e0 = 0, e1 = 0, l0 = 0;
        while (e0 < n && s[e0].t_s < warm)
                e0++;
        e1 = e0;
        while (e1 < n && s[e1].t_s < early_end)
                e1++;
        l0 = e1;
        while (l0 < n && s[l0].t_s < secs / 2)
                l0++;
        if (e1 - e0 < 2 || n - l0 < 2) {
                printf("verdict: too few samples (run at least 2 minutes)\n");
                return false;
        }
        /* RSS: the peaks. A leak raises them; nothing else here should. */
        long em = soak_extreme(s, e0, e1, false, true), lm = soak_extreme(s, l0, n, false, true);
        double slope_h = soak_slope(s, l0, n, false) * 3600.0;
        double tol = fmax(256.0, 0.01 * (double)em);
        bool rss_flat = (double)(lm - em) <= tol && slope_h < 512.0;
        printf("RSS  early max (%.1f-%.1f min) %ld KiB, later-half max (%.1f-%.1f min) %ld KiB "
               "(%+ld, allowed +%.0f); later-half slope %+.1f KiB/h (allowed < 512): %s\n",
               warm / 60, early_end / 60, em, s[l0].t_s / 60, s[n - 1].t_s / 60, lm, lm - em, tol,
               slope_h, rss_flat ? "flat" : "GROWING");
        /* Descriptors: the floor. The daemon holds one per cgroup and process it follows, the
         * root cgroup's processes included, whose number moves with whatever else runs on the
         * machine: that moves the peaks, a leak raises the floor. */
        long ef = soak_extreme(s, e0, e1, true, false), lf = soak_extreme(s, l0, n, true, false);
        double fslope_h = soak_slope(s, l0, n, true) * 3600.0;
        bool fds_flat = lf - ef <= (long)services;
        printf("fds  early min (%.1f-%.1f min) %ld, later-half min %ld (%+ld, allowed +%u); "
               "max %ld then %ld; later-half slope %+.1f/h: %s\n",
               warm / 60, early_end / 60, ef, lf, lf - ef, services,
               soak_extreme(s, e0, e1, true, true), soak_extreme(s, l0, n, true, true), fslope_h,
               fds_flat ? "flat" : "GROWING");
        return rss_flat && fds_flat;
}

/* "1,234 bytes in 5 blocks" -> 1234 (valgrind groups digits with commas). */
static unsigned long long soak_bytes(const char *p)
{
        unsigned long long v = 0;
        while (*p == ' ')
                p++;
        for (; (*p >= '0' && *p <= '9') || *p == ','; p++)
                if (*p != ',')
                        v = v * 10 + (unsigned long long)(*p - '0');
        return v;
}

/* valgrind's summary lines from its log; true when nothing was lost and there were no errors. */
static bool soak_valgrind_summary(const char *log)
{
        FILE *f = fopen(log, "re");
        if (!f) {
                printf("valgrind: no log %s\n", log);
                return false;
        }
        char line[1024];
        unsigned long long def = ULLONG_MAX, ind = ULLONG_MAX, errs = ULLONG_MAX;
        bool all_freed = false;
        printf("valgrind summary:\n");
        while (fgets(line, sizeof(line), f)) {
                char *p = strstr(line, "== ");
                if (!p)
                        continue;
                p += 3;
                unsigned long long v;
                if (strstr(p, "in use at exit:") || strstr(p, "total heap usage:") ||
                    strstr(p, "definitely lost:") || strstr(p, "indirectly lost:") ||
                    strstr(p, "possibly lost:") || strstr(p, "still reachable:") ||
                    strstr(p, "All heap blocks were freed") || strstr(p, "ERROR SUMMARY:"))
                        printf("  %s", p);
                if (strstr(p, "definitely lost:"))
                        def = soak_bytes(strstr(p, ":") + 1);
                if (strstr(p, "indirectly lost:"))
                        ind = soak_bytes(strstr(p, ":") + 1);
                if (sscanf(p, "ERROR SUMMARY: %llu errors", &v) == 1)
                        errs = v;
                if (strstr(p, "All heap blocks were freed"))
                        all_freed = true;
        }
        fclose(f);
        if (all_freed)
                def = ind = 0;
        bool clean = def == 0 && ind == 0 && errs == 0;
        printf("valgrind: definitely lost %s, indirectly lost %s, errors %s: %s\n",
               def == 0 ? "0" : "> 0", ind == 0 ? "0" : "> 0", errs == 0 ? "0" : "> 0",
               clean ? "clean" : "NOT CLEAN");
        return clean;
}

static void usage(FILE *f)
{
        fprintf(f,
                "usage: bench-soak [JOULESD] [--duration S] [--services N] [--churn-ms MS] "
                "[--valgrind] [--keep]\n"
                "joulesd at %s ticks with services coming and going and ingest traffic;\n"
                "prints RSS, descriptors and database size over time. Needs root.\n"
                "  --duration S   seconds (default 1800, 240 with --valgrind; or "
                "$JOULES_SOAK_SECS)\n"
                "  --services N   services alive at once (default 20)\n"
                "  --churn-ms MS  one service replaced every MS ms (default 2000)\n"
                "  --valgrind     under valgrind --leak-check=full; print its summary\n"
                "  --keep         keep the temporary directory (history, logs)\n",
                SOAK_INTERVAL);
}

int main(int argc, char **argv)
{
        static const struct option opts[] = {
                {"duration", required_argument, NULL, 'd'},
                {"services", required_argument, NULL, 's'},
                {"churn-ms", required_argument, NULL, 'c'},
                {"valgrind", no_argument, NULL, 'v'},
                {"keep", no_argument, NULL, 'k'},
                {"help", no_argument, NULL, 'h'},
                {0},
        };
        unsigned secs = 0, services = 20, churn_ms = 2000;
        bool valgrind = false, keep = false;
        const char *env = getenv("JOULES_SOAK_SECS");
        if (env && *env)
                secs = (unsigned)strtoul(env, NULL, 10);
        int c;
        while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
                switch (c) {
                case 'd':
                        secs = (unsigned)strtoul(optarg, NULL, 10);
                        break;
                case 's':
                        services = (unsigned)strtoul(optarg, NULL, 10);
                        break;
                case 'c':
                        churn_ms = (unsigned)strtoul(optarg, NULL, 10);
                        break;
                case 'v':
                        valgrind = true;
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
        if (secs == 0)
                secs = valgrind ? 240 : 1800;
        if (secs < 60 || services < 1 || services > SOAK_MAX_SERVICES || churn_ms < 100 ||
            argc - optind > 1) {
                usage(stderr);
                return 2;
        }
        if (geteuid() != 0) {
                fprintf(stderr, "bench-soak: skipped: needs root to make cgroups\n");
                return 77;
        }
        char joulesd[PATH_MAX];
        if (optind < argc)
                snprintf(joulesd, sizeof(joulesd), "%s", argv[optind]);
        else if (bench_build_path("bin", "joulesd", joulesd, sizeof(joulesd)) < 0)
                return 1;
        if (access(joulesd, X_OK) < 0) {
                fprintf(stderr, "bench-soak: %s: %s (build it, or name it)\n", joulesd,
                        strerror(errno));
                return 1;
        }
        if (bench_find_cgroup2(S.cgroot, sizeof(S.cgroot)) < 0) {
                fprintf(stderr, "bench-soak: skipped: no cgroup2 mount\n");
                return 77;
        }
        S.shared = mmap(NULL, sizeof(SoakShared), PROT_READ | PROT_WRITE,
                        MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        if (S.shared == MAP_FAILED) {
                perror("bench-soak: mmap");
                return 1;
        }
        bench_signals_init();
        /* The services' short-lived children outlive a killed worker for a moment: reap them. */
        (void)prctl(PR_SET_CHILD_SUBREAPER, 1);
        snprintf(S.tmp, sizeof(S.tmp), "/tmp/bench-soak-XXXXXX");
        if (!mkdtemp(S.tmp)) {
                perror("bench-soak: mkdtemp");
                return 1;
        }
        snprintf(S.sock, sizeof(S.sock), "%s/ingest.sock", S.tmp);
        snprintf(S.db, sizeof(S.db), "%s/soak.db", S.tmp);
        snprintf(S.slice, sizeof(S.slice), "%s/system.slice", S.cgroot);
        if (mkdir(S.slice, 0755) == 0)
                S.made_slice = true;

        char log[160], vglog[160], vgarg[200];
        snprintf(log, sizeof(log), "%s/joulesd.log", S.tmp);
        snprintf(vglog, sizeof(vglog), "%s/valgrind.log", S.tmp);
        snprintf(vgarg, sizeof(vgarg), "--log-file=%s", vglog);
        char *args[40];
        size_t a = 0;
        if (valgrind) {
                args[a++] = "valgrind";
                args[a++] = "--leak-check=full";
                args[a++] = "--show-leak-kinds=definite,indirect";
                args[a++] = "--errors-for-leak-kinds=definite,indirect";
                args[a++] = "--error-exitcode=99";
                args[a++] = "--num-callers=30";
                args[a++] = vgarg;
        }
        args[a++] = joulesd;
        args[a++] = "--interval";
        args[a++] = SOAK_INTERVAL;
        args[a++] = "--energy-source";
        args[a++] = "model";
        args[a++] = "--cgroup-root";
        args[a++] = S.cgroot;
        args[a++] = "--ingest-socket";
        args[a++] = S.sock;
        args[a++] = "--db";
        args[a++] = S.db;
        args[a] = NULL;

        printf("bench-soak: %s%s --interval %s --energy-source model, %u s, at nice %d\n",
               valgrind ? "valgrind --leak-check=full " : "", joulesd, SOAK_INTERVAL, secs,
               SOAK_DAEMON_NICE);
        printf("load: %u services at once under %s (bench-soak-%d-N.service), one replaced every "
               "%u ms;\n      each: a sleeper, a worker (0.5 ms CPU + 1 datagram / 100 ms), a "
               "short-lived child a second\n",
               services, S.slice, (int)getpid(), churn_ms);
        printf("directory: %s\n\n", S.tmp);
        printf("%6s %9s %5s %6s %8s %7s %8s %6s %7s %9s %9s %6s\n", "min", "RSS KiB", "fds",
               "procs", "db MiB", "wal MiB", "ticks", "live", "removed", "dgrams", "accepted",
               "units");
        fflush(stdout);

        int rc = 0;
        SoakSample *samples = calloc(SOAK_MAX_SAMPLES, sizeof(*samples));
        size_t n = 0;
        int64_t start = bench_now_ns(CLOCK_MONOTONIC);
        S.daemon = bench_spawn(args, log);
        if (S.daemon < 0 || !samples) {
                fprintf(stderr, "bench-soak: cannot start %s\n", joulesd);
                rc = 1;
                goto out;
        }
        (void)setpriority(PRIO_PROCESS, (id_t)S.daemon, SOAK_DAEMON_NICE);
        for (S.n_svc = 0; S.n_svc < services; S.n_svc++)
                if (soak_service_start(&S.svc[S.n_svc]) < 0) {
                        fprintf(stderr, "bench-soak: making a service: %m\n");
                        S.n_svc++;
                        rc = 1;
                        goto out;
                }
        int64_t end = start + (int64_t)secs * 1000000000,
                next_churn = start + (int64_t)churn_ms * 1000000, next_sample = start;
        int64_t print_every = secs >= 600 ? INT64_C(60000000000) : SOAK_SAMPLE_NS;
        int64_t next_print = start + print_every;
        size_t oldest = 0;
        while (!bench_stop_signal && !S.daemon_exited) {
                int64_t now = bench_now_ns(CLOCK_MONOTONIC);
                if (now >= end)
                        break;
                if (now >= next_churn) {
                        next_churn += (int64_t)churn_ms * 1000000;
                        if (soak_service_stop(&S.svc[oldest]) < 0 ||
                            soak_service_start(&S.svc[oldest]) < 0) {
                                rc = 1;
                                break;
                        }
                        oldest = (oldest + 1) % S.n_svc;
                }
                if (now >= next_sample) {
                        next_sample += SOAK_SAMPLE_NS;
                        if (n < SOAK_MAX_SAMPLES && soak_sample(start, &samples[n]) >= 0) {
                                if (n == 0 || now >= next_print) {
                                        soak_print_sample(&samples[n]);
                                        if (n > 0)
                                                next_print += print_every;
                                }
                                n++;
                        }
                }
                soak_reap();
                int64_t wake = next_churn < next_sample ? next_churn : next_sample;
                (void)bench_sleep_until(wake < end ? wake : end);
        }
        soak_reap();
        if (S.daemon_exited) {
                fprintf(stderr, "bench-soak: joulesd ended early (status %d); its last lines:\n",
                        S.daemon_status);
                bench_show_log(log, 10);
                rc = 1;
                goto out;
        }
        if (bench_stop_signal)
                goto out;
        if (soak_sample(start, &samples[n]) >= 0)
                soak_print_sample(&samples[n++]);
        /* Stop the services first, so the daemon sees them go, then the daemon (valgrind needs
         * time for its leak check). */
        for (size_t i = 0; i < S.n_svc; i++)
                (void)soak_service_stop(&S.svc[i]);
        int status = 0;
        if (bench_stop_child(S.daemon, valgrind ? 300000 : 10000, &status) < 0)
                fprintf(stderr, "bench-soak: joulesd did not stop on SIGTERM\n");
        S.daemon = 0;
        int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        printf("\njoulesd exit status %d; %lu services made and removed, %lu datagrams sent "
               "(%lu refused), %lu short-lived processes\n",
               code, S.removed, atomic_load(&S.shared->datagrams), atomic_load(&S.shared->refused),
               atomic_load(&S.shared->transients));
        char tsv[160];
        snprintf(tsv, sizeof(tsv), "%s/samples.tsv", S.tmp);
        FILE *f = fopen(tsv, "we");
        for (size_t i = 0; f && i < n; i++)
                fprintf(f, "%.1f\t%ld\t%ld\t%ld\t%lld\t%lld\n", samples[i].t_s, samples[i].rss_kib,
                        samples[i].fds, samples[i].procs, samples[i].db_bytes,
                        samples[i].wal_bytes);
        if (f)
                fclose(f);
        /* Under valgrind the RSS is valgrind's, shadow memory included: its leak check judges. */
        bool flat = valgrind || soak_verdict(samples, n, secs, services);
        if (!valgrind)
                printf("verdict: RSS and descriptors %s%s\n", flat ? "flat (no leak)" : "NOT FLAT",
                       secs < 1200 ? " (a run under 20 minutes: SQLite's page cache fills for "
                                     "the first minutes, so this says little)"
                                   : "");
        if (!flat)
                rc = 1;
        if (valgrind) {
                if (!soak_valgrind_summary(vglog) || code != 0)
                        rc = 1;
        } else if (code != 0) {
                bench_show_log(log, 10);
                rc = 1;
        }
out:
        fflush(stdout);
        cleanup();
        free(samples);
        if (keep)
                fprintf(stderr, "bench-soak: kept %s\n", S.tmp);
        else
                bench_remove_dir(S.tmp);
        if (bench_stop_signal) {
                fprintf(stderr, "bench-soak: interrupted; children killed, cgroups removed\n");
                signal(bench_stop_signal, SIG_DFL);
                raise(bench_stop_signal);
                return 128 + bench_stop_signal;
        }
        return rc;
}
