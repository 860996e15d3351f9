/* bench-tick: what one tick of the real joulesd costs, with and without 100 services.
 *
 *   bench-tick [JOULESD] [--duration S] [--busy-pct P] [--callgrind] [--check]
 *
 * Runs the joulesd binary (default: <build>/bin/joulesd next to this program's bench/ directory)
 * with --energy-source model --interval 100ms --duration S --db <tmp>, first on the machine as it
 * is (the baseline), then with 100 unit cgroups under the cgroup v2 mount
 * (system.slice/bench-joules-<pid>-N.service), 1,000 sleeping processes spread over them (10 each)
 * and 10 busy ones (one in every tenth service, each burning P% of a CPU in 1 ms slices), each
 * time with --events none and with the default events (which this machine refuses, so that run
 * shows what attempting counters costs). Then, loaded, with software events
 * (perf::TASK-CLOCK,perf::PAGE-FAULTS) counted per unit only (process_events_idle = 0) and per
 * unit and per stored process (the default): the difference is what per-process counters cost.
 *
 * Figures per run:
 *   steady us/tick  the daemon's CPU time (sum over /proc/PID/task/TID/schedstat, ns) between 1 s
 *                   after its start and 1 s before its end, divided by the ticks it stored in
 *                   that window (ticks.ts_us): the cost of a tick without start-up and exit.
 *   run us/tick     ru_utime + ru_stime from wait4() over every stored tick: start-up (schema,
 *                   first cgroup walk, libpfm4) and exit included.
 *   max RSS         ru_maxrss.
 *   units/tick, procs/tick  rows per tick in unit_energy (pseudo-units included; "bench" counts
 *                   this benchmark's units) and process_energy: the daemon stores only the units
 *                   that were active, so about 10 of the 100, not 100.
 * Then, per event setting: the part of a tick that grows with the services (loaded - baseline)
 * and the ratio loaded / baseline. The ratio comes from runs made a few seconds apart by the same
 * process, so a machine that is slower for everyone moves both terms; read it before the absolute
 * figures on a busy shared machine.
 *
 * --callgrind instead runs joulesd (--events none) under valgrind --tool=callgrind with
 * --toggle-collect=daemon_tick, on the baseline and with the services, and prints the
 * instructions per tick (repeatable, unlike CPU time) and the most expensive functions.
 * --check exits 1 when a loaded run is over the 500 us/tick target.
 *
 * Needs root (cgroups); exits 77 otherwise. Every child is killed and every cgroup removed on
 * exit, on SIGINT, SIGTERM and SIGHUP too; a SIGKILLed bench still takes its children with it
 * (PR_SET_PDEATHSIG) but leaves its empty cgroups: rmdir system.slice/bench-joules-*.service. */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench/lib.h"

#define BENCH_SERVICES     100
#define BENCH_SLEEPERS     1000
#define BENCH_BUSY         10
#define BENCH_TARGET_US    500.0
#define BENCH_INTERVAL     "100ms"
#define BENCH_WARMUP_NS    INT64_C(1000000000)
#define BENCH_DEFAULT_SECS 10
#define BENCH_RUNS         6
/* Software events, which any kernel gives (hardware ones are refused in a VM), so the runs with
 * per-process counters measure counting, not refusals. */
#define BENCH_SW_EVENTS "perf::TASK-CLOCK,perf::PAGE-FAULTS"

typedef struct BenchRun {
        const char *label;
        bool loaded, events;
        const char *event_list; /* --events LIST instead of the default ones */
        bool proc_events_off;   /* [attribution] process_events_idle = 0 */
        const char *tag;        /* the database's name */
        bool ok;
        int exit_status;
        uint64_t ticks;
        double run_cpu_us; /* rusage, whole run */
        long maxrss_kib;
        uint64_t win_cpu_ns; /* schedstat between the window's ends */
        uint64_t win_ticks;  /* ticks stored inside the window */
        bool win_ok;
        uint64_t unit_rows, bench_unit_rows, proc_rows, proc_counter_rows;
        char weight[64];
} BenchRun;

/* Everything cleanup() undoes; global so the exit paths after a signal reach it. */
static struct {
        char cgroot[256];
        char slice[280];
        bool made_slice;
        char cg[BENCH_SERVICES][320];
        bool made_cg[BENCH_SERVICES];
        pid_t kids[BENCH_SLEEPERS + BENCH_BUSY];
        size_t n_kids;
        pid_t daemon;
        char tmp[64];
} B;

static int services_create(int busy_pct)
{
        snprintf(B.slice, sizeof(B.slice), "%s/system.slice", B.cgroot);
        if (mkdir(B.slice, 0755) == 0)
                B.made_slice = true;
        else if (errno != EEXIST)
                return -errno;
        for (size_t i = 0; i < BENCH_SERVICES; i++) {
                snprintf(B.cg[i], sizeof(B.cg[i]), "%s/bench-joules-%d-%zu.service", B.slice,
                         (int)getpid(), i);
                if (mkdir(B.cg[i], 0755) < 0)
                        return -errno;
                B.made_cg[i] = true;
        }
        pid_t self = getpid();
        for (size_t k = 0; k < BENCH_SLEEPERS + BENCH_BUSY && !bench_stop_signal; k++) {
                bool busy = k >= BENCH_SLEEPERS;
                /* sleepers 10 to a service; busy ones in services 0, 10, 20, ... */
                size_t svc = busy ? (k - BENCH_SLEEPERS) * (BENCH_SERVICES / BENCH_BUSY)
                                  : k % BENCH_SERVICES;
                pid_t pid = fork();
                if (pid < 0)
                        return -errno;
                if (pid == 0) {
                        bench_child_setup(self);
                        if (busy)
                                bench_busy_loop(busy_pct);
                        for (;;)
                                pause();
                }
                B.kids[B.n_kids++] = pid;
                char path[PATH_MAX + 16], num[32];
                snprintf(path, sizeof(path), "%s/cgroup.procs", B.cg[svc]);
                snprintf(num, sizeof(num), "%d\n", (int)pid);
                int r = bench_write_str(path, num);
                if (r < 0)
                        return r;
        }
        return bench_stop_signal ? -EINTR : 0;
}

static void services_destroy(void)
{
        char path[PATH_MAX + 16];
        for (size_t i = 0; i < BENCH_SERVICES; i++) {
                if (!B.made_cg[i])
                        continue;
                snprintf(path, sizeof(path), "%s/cgroup.kill", B.cg[i]);
                (void)bench_write_str(path, "1"); /* Linux 5.14+; the kill() below covers older */
        }
        for (size_t k = 0; k < B.n_kids; k++)
                (void)kill(B.kids[k], SIGKILL);
        for (size_t k = 0; k < B.n_kids; k++)
                while (waitpid(B.kids[k], NULL, 0) < 0 && errno == EINTR)
                        ;
        B.n_kids = 0;
        for (size_t i = 0; i < BENCH_SERVICES; i++) {
                if (!B.made_cg[i])
                        continue;
                int r = bench_cgroup_remove(B.cg[i]);
                if (r < 0)
                        fprintf(stderr, "bench-tick: rmdir %s: %s\n", B.cg[i], strerror(-r));
                else
                        B.made_cg[i] = false;
        }
        if (B.made_slice && rmdir(B.slice) == 0)
                B.made_slice = false;
}

static void cleanup(void)
{
        if (B.daemon > 0)
                (void)bench_stop_child(B.daemon, 3000, NULL);
        B.daemon = 0;
        services_destroy();
        bench_remove_dir(B.tmp);
        B.tmp[0] = 0;
}

/* CPU time of every thread of pid, in ns (schedstat's first field). */
static int task_cpu_ns(pid_t pid, uint64_t *ret)
{
        char dir[64];
        snprintf(dir, sizeof(dir), "/proc/%d/task", (int)pid);
        DIR *d = opendir(dir);
        if (!d)
                return -errno;
        uint64_t sum = 0;
        int r = 0;
        struct dirent *de;
        while ((de = readdir(d))) {
                if (de->d_name[0] == '.')
                        continue;
                char path[128];
                snprintf(path, sizeof(path), "%s/%.32s/schedstat", dir, de->d_name);
                FILE *f = fopen(path, "re");
                unsigned long long ns;
                if (!f || fscanf(f, "%llu", &ns) != 1)
                        r = -EIO;
                else
                        sum += ns;
                if (f)
                        fclose(f);
        }
        closedir(d);
        if (r == 0)
                *ret = sum;
        return r;
}

static int run_daemon(const char *joulesd, unsigned secs, BenchRun *run)
{
        char db[128], log[160], dur[32];
        snprintf(db, sizeof(db), "%s/%s%s%s.db", B.tmp, run->loaded ? "loaded" : "base",
                 run->events ? "-events" : "", run->tag ? run->tag : "");
        snprintf(log, sizeof(log), "%s.log", db);
        snprintf(dur, sizeof(dur), "%us", secs);
        char conf[160];
        snprintf(conf, sizeof(conf), "%s.conf", db);
        FILE *cf = fopen(conf, "we");
        if (!cf)
                return -errno;
        fputs(run->proc_events_off ? "[attribution]\nprocess_events_idle = 0\n" : "[attribution]\n",
              cf);
        if (fclose(cf) != 0)
                return -errno;
        char *argv[20];
        size_t a = 0;
        argv[a++] = (char *)joulesd;
        argv[a++] = "--energy-source";
        argv[a++] = "model";
        argv[a++] = "--interval";
        argv[a++] = BENCH_INTERVAL;
        argv[a++] = "--duration";
        argv[a++] = dur;
        argv[a++] = "--db";
        argv[a++] = db;
        argv[a++] = "--config";
        argv[a++] = conf;
        if (!run->events) {
                argv[a++] = "--events";
                argv[a++] = "none";
        } else if (run->event_list) {
                argv[a++] = "--events";
                argv[a++] = (char *)run->event_list;
        }
        argv[a] = NULL;

        int64_t start = bench_now_ns(CLOCK_MONOTONIC);
        B.daemon = bench_spawn(argv, log);
        if (B.daemon < 0) {
                B.daemon = 0;
                return -errno;
        }
        /* The steady window: from 1 s after the start to 1 s before the end. */
        uint64_t c0 = 0, c1 = 0;
        int64_t t0 = 0, t1 = 0;
        run->win_ok = bench_sleep_until(start + BENCH_WARMUP_NS) && task_cpu_ns(B.daemon, &c0) == 0;
        t0 = bench_now_ns(CLOCK_REALTIME) / 1000;
        run->win_ok = run->win_ok &&
                      bench_sleep_until(start + (int64_t)secs * 1000000000 - BENCH_WARMUP_NS) &&
                      task_cpu_ns(B.daemon, &c1) == 0;
        t1 = bench_now_ns(CLOCK_REALTIME) / 1000;

        int status = 0;
        struct rusage ru;
        pid_t w;
        if (bench_stop_signal)
                return -EINTR;
        while ((w = wait4(B.daemon, &status, 0, &ru)) < 0 && errno == EINTR) {
                if (bench_stop_signal)
                        return -EINTR; /* cleanup() stops it */
        }
        B.daemon = 0;
        if (bench_stop_signal)
                return -EINTR;
        if (w < 0)
                return -errno;
        run->exit_status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        run->run_cpu_us = (double)ru.ru_utime.tv_sec * 1e6 + (double)ru.ru_utime.tv_usec +
                          (double)ru.ru_stime.tv_sec * 1e6 + (double)ru.ru_stime.tv_usec;
        run->maxrss_kib = ru.ru_maxrss;
        if (run->exit_status != 0) {
                fprintf(stderr, "bench-tick: %s exited with %d; its last lines:\n", joulesd,
                        run->exit_status);
                bench_show_log(log, 5);
                return -EIO;
        }
        run->win_cpu_ns = c1 - c0;

        char sql[2048], out[512];
        snprintf(sql, sizeof(sql),
                 "select (select count(*) from ticks),"
                 " (select count(*) from ticks where ts_us > %" PRId64 " and ts_us <= %" PRId64 "),"
                 " (select count(*) from unit_energy),"
                 " (select count(*) from unit_energy e join units u on u.id = e.unit_id"
                 "  where u.name like 'bench-joules-%%'),"
                 " (select count(*) from process_energy),"
                 " (select count(*) from process_counters),"
                 " (select coalesce(weight, '?') from runs order by id limit 1);",
                 t0, t1);
        unsigned long long v[6];
        if (bench_sql_line(db, sql, out, sizeof(out)) < 0 ||
            sscanf(out, "%llu %llu %llu %llu %llu %llu %63s", &v[0], &v[1], &v[2], &v[3], &v[4],
                   &v[5], run->weight) != 7) {
                fprintf(stderr, "bench-tick: cannot read %s with sqlite3 ('%s')\n", db, out);
                return -EIO;
        }
        run->ticks = v[0];
        run->win_ticks = v[1];
        run->unit_rows = v[2];
        run->bench_unit_rows = v[3];
        run->proc_rows = v[4];
        run->proc_counter_rows = v[5];
        run->win_ok = run->win_ok && run->win_ticks > 0;
        run->ok = run->ticks > 0;
        return run->ok ? 0 : -ENODATA;
}

static double steady_us(const BenchRun *r)
{
        return r->win_ok ? (double)r->win_cpu_ns / 1e3 / (double)r->win_ticks : -1;
}

static double run_us(const BenchRun *r)
{
        return r->ticks ? r->run_cpu_us / (double)r->ticks : -1;
}

static void print_run(const BenchRun *r)
{
        double t = r->ticks ? (double)r->ticks : 1;
        printf("%-36s %5" PRIu64 " %9.1f %9.1f %7.1f MiB %6.1f (%4.1f bench) %6.1f %6.1f   %s\n",
               r->label, r->ticks, steady_us(r), run_us(r), (double)r->maxrss_kib / 1024.0,
               (double)r->unit_rows / t, (double)r->bench_unit_rows / t, (double)r->proc_rows / t,
               (double)r->proc_counter_rows / t, r->weight);
}

static void print_compare(const char *what, const BenchRun *base, const BenchRun *load)
{
        double b = steady_us(base), l = steady_us(load);
        if (b <= 0 || l <= 0) {
                printf("%s: no steady figure\n", what);
                return;
        }
        printf("%-16s %6.1f us/tick baseline + %6.1f us/tick for the services (%.2f us per "
               "service) = %6.1f;  ratio %.2fx\n",
               what, b, l - b, (l - b) / BENCH_SERVICES, l, l / b);
}

/* What counting the stored processes' events adds to counting the units' (same events, same load):
 * per tick, and per process row counted. */
static void print_process_events(const BenchRun *unit_only, const BenchRun *with_procs)
{
        double a = steady_us(unit_only), b = steady_us(with_procs);
        if (a <= 0 || b <= 0) {
                printf("per-process events: no steady figure\n");
                return;
        }
        double rows = with_procs->ticks
                              ? (double)with_procs->proc_counter_rows / (double)with_procs->ticks
                              : 0;
        printf("%-16s %6.1f us/tick per unit + %6.1f us/tick for the processes' counters "
               "(%.1f process rows/tick) = %6.1f;  ratio %.2fx\n",
               "per-process:", a, b - a, rows, b, b / a);
}

/* ---- --callgrind ---- */

static int callgrind_run(const char *joulesd, bool loaded, unsigned secs, bool annotate)
{
        char db[128], log[160], out[160], outarg[200], dur[32];
        snprintf(db, sizeof(db), "%s/cg-%s.db", B.tmp, loaded ? "loaded" : "base");
        snprintf(log, sizeof(log), "%s.log", db);
        snprintf(out, sizeof(out), "%s.callgrind", db);
        snprintf(outarg, sizeof(outarg), "--callgrind-out-file=%s", out);
        snprintf(dur, sizeof(dur), "%us", secs);
        char *argv[] = {"valgrind",
                        "--tool=callgrind",
                        outarg,
                        "--collect-atstart=no",
                        "--toggle-collect=daemon_tick",
                        (char *)joulesd,
                        "--energy-source",
                        "model",
                        "--interval",
                        BENCH_INTERVAL,
                        "--duration",
                        dur,
                        "--db",
                        db,
                        "--events",
                        "none",
                        NULL};
        B.daemon = bench_spawn(argv, log);
        if (B.daemon < 0) {
                B.daemon = 0;
                return -errno;
        }
        int status = 0;
        pid_t w;
        while ((w = waitpid(B.daemon, &status, 0)) < 0 && errno == EINTR)
                if (bench_stop_signal)
                        return -EINTR;
        B.daemon = 0;
        if (w < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
                fprintf(stderr, "bench-tick: valgrind joulesd failed; its last lines:\n");
                bench_show_log(log, 5);
                return -EIO;
        }
        char line[512];
        if (bench_sql_line(db, "select count(*) from ticks;", line, sizeof(line)) < 0)
                return -EIO;
        unsigned long long ticks = strtoull(line, NULL, 10);
        /* "summary: N" (or "totals: N") in the output: instructions inside daemon_tick. */
        FILE *f = fopen(out, "re");
        unsigned long long ir = 0;
        while (f && fgets(line, sizeof(line), f))
                if (sscanf(line, "summary: %llu", &ir) == 1 ||
                    sscanf(line, "totals: %llu", &ir) == 1)
                        break;
        if (f)
                fclose(f);
        /* daemon_tick also ran once for the baseline reading, which stores no row. */
        printf("%-28s %5llu ticks  %12.0f instructions per tick\n",
               loaded ? "100 services, --events none" : "baseline, --events none", ticks,
               (double)ir / (double)(ticks + 1));
        if (annotate) {
                char cmd[PATH_MAX + 128];
                /* Only the lines naming an object file: callgrind_annotate lists an inlined
                 * function a second time under its source file. */
                static const char *const views[][2] = {
                        {
                                "own instructions (exclusive)",
                                "",
                        },
                        {"including callees (inclusive; start-up frames dropped)",
                         "--inclusive=yes"},
                };
                for (size_t v = 0; v < 2; v++) {
                        printf("\nmost expensive functions, %s:\n", views[v][0]);
                        fflush(stdout);
                        snprintf(cmd, sizeof(cmd),
                                 "callgrind_annotate %s '%s' 2>/dev/null | "
                                 "grep -E '^ *[0-9,]+ +\\(' | grep -F '[' | "
                                 "grep -v -e '(100.0%%)' -e '(below main)' | head -n %d",
                                 views[v][1], out, v == 0 ? 15 : 20);
                        (void)system(cmd);
                }
        }
        return ir > 0 ? 0 : -EIO;
}

static void usage(FILE *f)
{
        fprintf(f,
                "usage: bench-tick [JOULESD] [--duration S] [--busy-pct P] [--callgrind] "
                "[--check]\n"
                "CPU time per tick and RSS of joulesd with %d services, %d sleeping and %d busy\n"
                "processes, against the machine without them. Needs root.\n"
                "  --duration S   seconds per daemon run (default %d, at least 3)\n"
                "  --busy-pct P   CPU share of each busy process (default 10: 10 x 10%% is half\n"
                "                 of this 2-CPU machine)\n"
                "  --callgrind    instructions per tick under valgrind instead of CPU time\n"
                "  --check        exit 1 when a loaded run is over %.0f us per tick\n",
                BENCH_SERVICES, BENCH_SLEEPERS, BENCH_BUSY, BENCH_DEFAULT_SECS, BENCH_TARGET_US);
}

int main(int argc, char **argv)
{
        static const struct option opts[] = {
                {"duration", required_argument, NULL, 'd'},
                {"busy-pct", required_argument, NULL, 'b'},
                {"callgrind", no_argument, NULL, 'c'},
                {"check", no_argument, NULL, 'k'},
                {"help", no_argument, NULL, 'h'},
                {0},
        };
        unsigned secs = BENCH_DEFAULT_SECS;
        int busy_pct = 10;
        bool callgrind = false, check = false;
        int c;
        while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
                switch (c) {
                case 'd':
                        secs = (unsigned)strtoul(optarg, NULL, 10);
                        break;
                case 'b':
                        busy_pct = atoi(optarg);
                        break;
                case 'c':
                        callgrind = true;
                        break;
                case 'k':
                        check = true;
                        break;
                case 'h':
                        usage(stdout);
                        return 0;
                default:
                        usage(stderr);
                        return 2;
                }
        }
        if (secs < 3 || secs > 3600 || busy_pct < 1 || busy_pct > 100 || argc - optind > 1) {
                usage(stderr);
                return 2;
        }
        if (geteuid() != 0) {
                fprintf(stderr, "bench-tick: skipped: needs root to make cgroups\n");
                return 77;
        }

        char joulesd[PATH_MAX];
        if (optind < argc) {
                snprintf(joulesd, sizeof(joulesd), "%s", argv[optind]);
        } else if (bench_build_path("bin", "joulesd", joulesd, sizeof(joulesd)) < 0) {
                perror("bench-tick: /proc/self/exe");
                return 1;
        }
        if (access(joulesd, X_OK) < 0) {
                fprintf(stderr, "bench-tick: %s: %s (build it, or name it)\n", joulesd,
                        strerror(errno));
                return 1;
        }
        if (bench_find_cgroup2(B.cgroot, sizeof(B.cgroot)) < 0) {
                fprintf(stderr, "bench-tick: skipped: no cgroup2 mount\n");
                return 77;
        }

        bench_signals_init();

        snprintf(B.tmp, sizeof(B.tmp), "/tmp/bench-tick-XXXXXX");
        if (!mkdtemp(B.tmp)) {
                perror("bench-tick: mkdtemp");
                return 1;
        }
        long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
        printf("bench-tick: %s --energy-source model --interval %s, %u s per run\n", joulesd,
               BENCH_INTERVAL, secs);
        printf("load: %d services %s/system.slice/bench-joules-%d-N.service, %d sleeping "
               "processes, %d busy at %d%% of a CPU (machine: %ld CPUs)\n\n",
               BENCH_SERVICES, B.cgroot, (int)getpid(), BENCH_SLEEPERS, BENCH_BUSY, busy_pct, ncpu);
        fflush(stdout);

        int rc = 0, r = 0;
        if (callgrind) {
                printf("instructions inside daemon_tick (valgrind --tool=callgrind "
                       "--collect-atstart=no --toggle-collect=daemon_tick)\n");
                fflush(stdout);
                r = callgrind_run(joulesd, false, secs, false);
                if (r >= 0)
                        r = services_create(busy_pct);
                if (r >= 0)
                        r = callgrind_run(joulesd, true, secs, true);
                goto out;
        }

        BenchRun runs[BENCH_RUNS] = {
                {.label = "baseline, --events none"},
                {.label = "baseline, default events", .events = true},
                {.label = "100 services, --events none", .loaded = true},
                {.label = "100 services, default events", .loaded = true, .events = true},
                {.label = "100 services, sw events per unit",
                 .loaded = true,
                 .events = true,
                 .event_list = BENCH_SW_EVENTS,
                 .proc_events_off = true,
                 .tag = "-sw"},
                {.label = "100 services, sw events + process",
                 .loaded = true,
                 .events = true,
                 .event_list = BENCH_SW_EVENTS,
                 .tag = "-sw-proc"},
        };
        for (size_t i = 0; i < BENCH_RUNS && r >= 0; i++) {
                if (i == 2) {
                        r = services_create(busy_pct);
                        if (r < 0) {
                                fprintf(stderr, "bench-tick: making the services: %s\n",
                                        strerror(-r));
                                break;
                        }
                }
                r = run_daemon(joulesd, secs, &runs[i]);
        }
        if (r < 0)
                goto out;

        printf("%-36s %5s %9s %9s %11s %20s %6s %6s   %s\n", "run", "ticks", "steady", "run",
               "max RSS", "units/tick", "procs", "proc", "weight");
        printf("%-36s %5s %9s %9s %11s %20s %6s %6s\n", "", "", "us/tick", "us/tick", "", "",
               "/tick", "events");
        for (size_t i = 0; i < BENCH_RUNS; i++)
                print_run(&runs[i]);
        printf("\n(steady: CPU between 1 s after start and 1 s before the end, per tick in that "
               "window; run: rusage over the whole run, start-up and exit included)\n\n");
        print_compare("--events none:", &runs[0], &runs[2]);
        print_compare("default events:", &runs[1], &runs[3]);
        print_process_events(&runs[4], &runs[5]);
        printf("\n");
        for (size_t i = 2; i < BENCH_RUNS; i++) {
                double us = steady_us(&runs[i]);
                bool over = us < 0 || us > BENCH_TARGET_US;
                printf("target <= %.0f us/tick, %s: %.1f us/tick: %s\n", BENCH_TARGET_US,
                       runs[i].label, us, over ? "OVER" : "within");
                if (over && check)
                        rc = 1;
        }
out:
        fflush(stdout);
        cleanup();
        if (bench_stop_signal) {
                fprintf(stderr, "bench-tick: interrupted; children killed, cgroups removed\n");
                signal(bench_stop_signal, SIG_DFL);
                raise(bench_stop_signal);
                return 128 + bench_stop_signal;
        }
        if (r < 0) {
                if (r != -EIO)
                        fprintf(stderr, "bench-tick: %s\n", strerror(-r));
                return 1;
        }
        return rc;
}
