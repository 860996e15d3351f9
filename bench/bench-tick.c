/* bench-tick: what one tick of the real joulesd costs, with and without services.
 *
 *   bench-tick [JOULESD] [--interval I] [--duration S] [--warmup S] [--services N] [--sleepers N]
 *              [--busy N] [--busy-pct P] [--curve] [--callgrind] [--check] [--keep] [--isolated]
 *
 * Runs the joulesd binary (default: <build>/bin/joulesd next to this program's bench/ directory)
 * with --energy-source model --interval I (default 1s, the daemon's default) --duration S --db
 * <tmp>, first on the machine as it is (the baseline), then with N unit cgroups under the cgroup
 * v2 mount (system.slice/bench-joules-<pid>-K.service, default 100), sleeping processes spread
 * over them (default 10 each) and busy ones (default one per ten services, each burning P% of a
 * CPU), each time with --events none and with the default events (which this machine refuses, so
 * that run shows what attempting counters costs). The load is bench/lib.c's bench_load_create.
 * Then, loaded, with software events (perf::TASK-CLOCK,perf::PAGE-FAULTS) counted per unit only
 * (process_events_idle = 0) and per unit and per stored process (the default): the difference
 * is what per-process counters cost. --curve runs the baseline and 10, 100 and 1,000 services
 * (--events none) instead.
 *
 * Figures per run:
 *   steady us/tick  the daemon's CPU time (sum over /proc/PID/task/TID/schedstat, ns) from the
 *                   warm-up (default 35 s: past the first 30-tick settling pass) to 1 s before
 *                   its end, divided by the intervals in that window: the cost of a tick without
 *                   start-up and exit. CPU: the same as a share of one CPU.
 *   floor           the CPU per interval of a process beside the daemon that only wakes at the
 *                   same interval (timerfd, ppoll, read), over the same window: what waking costs
 *                   on this machine, the part of a tick no daemon can save.
 *   run us/tick     ru_utime + ru_stime from wait4() over every stored tick: start-up (schema,
 *                   first cgroup walk, libpfm4) and exit included.
 *   RSS at end, max RSS  VmRSS at the window's end, ru_maxrss; for the loaded run, what the
 *                   resident pages are (smaps, by mapping).
 *   units/tick, procs/tick  units stored per tick (its packed tick_units row read back;
 *                   pseudo-units included; "bench" counts this benchmark's units) and
 *                   process_energy rows: the daemon stores only the units that were active, so
 *                   about 10 of the 100, not 100.
 * Then, per event setting: the part of a tick that grows with the services (loaded - baseline)
 * and the ratio loaded / baseline. The ratio comes from runs made a few seconds apart by the same
 * process, so a machine that is slower for everyone moves both terms; read it before the absolute
 * figures on a busy shared machine.
 *
 * --callgrind instead runs joulesd (--events none) under valgrind --tool=callgrind with
 * --toggle-collect=daemon_tick, on the baseline and with the services, zeroes the counts once
 * the warm-up's ticks are stored, and prints the instructions per tick (repeatable, unlike CPU
 * time) and the most expensive functions. --isolated gives joulesd a cgroup tree of the bench's
 * own as its root (no neighbours' processes in it). --check exits 1 when a loaded run is over the
 * 250 us/tick target (1% of a CPU above 100 services).
 *
 * Needs root (cgroups); exits 77 otherwise. Every child is killed and every cgroup removed on
 * exit, on SIGINT, SIGTERM and SIGHUP too; a SIGKILLed bench still takes its children with it
 * (PR_SET_PDEATHSIG) but leaves its empty cgroups: rmdir system.slice/bench-joules-*.service. */

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

#define BENCH_MAX_SERVICES 2000
#define BENCH_MAX_KIDS     20000 /* sleepers + busy */
#define BENCH_TARGET_US    250.0
/* The steady window starts after the start-up and the first of the settling passes that come
 * every 30 ticks (the first one reads every service and registers the units), and ends 1 s
 * before the daemon does; 100 s runs hold a rollup pass and a tree walk (60 ticks) in it. */
#define BENCH_DEFAULT_WARMUP 35
#define BENCH_END_NS         INT64_C(1000000000)
#define BENCH_DEFAULT_SECS   100
#define BENCH_RUNS           6
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
        uint64_t win_cpu_ns;   /* schedstat between the window's ends */
        uint64_t win_floor_ns; /* the same for the floor process (floor_start) */
        uint64_t win_ticks;    /* ticks stored inside the window */
        int64_t win_ns;        /* the window's length */
        bool win_ok;
        long rss_kib;                    /* VmRSS at the window's end */
        long rss_parts[BENCH_RSS_PARTS]; /* what it is made of (smaps) */
        size_t services;                 /* the load of this run (0: baseline) */
        uint64_t unit_rows, bench_unit_rows, proc_rows, proc_counter_rows;
        char weight[64];
        char profile[2][256]; /* --profile: joulesd's two "profile:" lines */
} BenchRun;

/* Everything cleanup() undoes; global so the exit paths after a signal reach it. */
static struct {
        char cgroot[256];
        char top[300]; /* --isolated: the tree joulesd is given as its root */
        bool made_top;
        BenchLoad load;
        pid_t daemon;
        pid_t floor;
        char tmp[64];
        bool keep;
} B;

/* The load: services, sleeping and busy processes, and the interval the daemon runs at. */
static struct {
        size_t services, sleepers, busy;
        int busy_pct;
        char *interval;
        uint64_t interval_us;
        unsigned warmup_s;
        bool profile; /* joulesd --profile: the CPU of each part of a tick, from its log */
        char *commit; /* joulesd --commit-interval, NULL: its default (every tick) */
} L = {100, 1000, 10, 10, "1s", 1000000, BENCH_DEFAULT_WARMUP, false, NULL};

static int services_create(void)
{
        return bench_load_create(&B.load, B.top[0] ? B.top : B.cgroot, L.services, L.sleepers,
                                 L.busy, L.busy_pct);
}

static void services_destroy(void)
{
        bench_load_destroy(&B.load);
}

static void top_destroy(void)
{
        if (B.made_top && rmdir(B.top) == 0)
                B.made_top = false;
}

static void cleanup(void)
{
        if (B.daemon > 0)
                (void)bench_stop_child(B.daemon, 3000, NULL);
        B.daemon = 0;
        if (B.floor > 0)
                (void)bench_stop_child(B.floor, 1000, NULL);
        B.floor = 0;
        services_destroy();
        top_destroy();
        if (B.keep && B.tmp[0])
                fprintf(stderr, "bench-tick: kept %s\n", B.tmp);
        else
                bench_remove_dir(B.tmp);
        B.tmp[0] = 0;
}

/* joulesd --profile's two lines ("joulesd: profile: ..."), from the run's log. */
static void read_profile(const char *log, BenchRun *run)
{
        FILE *f = fopen(log, "re");
        char line[512];
        size_t n = 0;
        const char *tag = "joulesd: profile: ";
        while (f && n < 2 && fgets(line, sizeof(line), f)) {
                char *p = strstr(line, tag);
                if (!p)
                        continue;
                p += strlen(tag);
                p[strcspn(p, "\n")] = 0;
                snprintf(run->profile[n++], sizeof(run->profile[0]), "%s", p);
        }
        if (f)
                fclose(f);
}

static int run_daemon(const char *joulesd, unsigned secs, BenchRun *run)
{
        char db[128], log[160], dur[32];
        /* one history per run: the curve's loaded runs differ only by their service count */
        snprintf(db, sizeof(db), "%s/%s-%zu%s%s.db", B.tmp, run->loaded ? "loaded" : "base",
                 run->services, run->events ? "-events" : "", run->tag ? run->tag : "");
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
        char *argv[24];
        size_t a = 0;
        argv[a++] = (char *)joulesd;
        argv[a++] = "--energy-source";
        argv[a++] = "model";
        argv[a++] = "--interval";
        argv[a++] = L.interval;
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
        if (B.top[0]) {
                argv[a++] = "--cgroup-root";
                argv[a++] = B.top;
        }
        if (L.profile)
                argv[a++] = "--profile";
        if (L.commit) {
                argv[a++] = "--commit-interval";
                argv[a++] = L.commit;
        }
        argv[a] = NULL;

        int64_t start = bench_now_ns(CLOCK_MONOTONIC);
        B.daemon = bench_spawn(argv, log);
        if (B.daemon < 0) {
                B.daemon = 0;
                return -errno;
        }
        B.floor = bench_waker_start(L.interval_us);
        if (B.floor < 0) {
                B.floor = 0;
                return -errno;
        }
        /* The steady window: from the warm-up to 1 s before the end. */
        uint64_t c0 = 0, c1 = 0, f0 = 0, f1 = 0;
        int64_t t0 = 0, t1 = 0, m0, m1;
        run->win_ok = bench_sleep_until(start + (int64_t)L.warmup_s * 1000000000) &&
                      bench_tasks_cpu_ns(B.daemon, &c0) == 0 &&
                      bench_tasks_cpu_ns(B.floor, &f0) == 0;
        m0 = bench_now_ns(CLOCK_MONOTONIC);
        t0 = bench_now_ns(CLOCK_REALTIME) / 1000;
        run->win_ok = run->win_ok &&
                      bench_sleep_until(start + (int64_t)secs * 1000000000 - BENCH_END_NS) &&
                      bench_tasks_cpu_ns(B.daemon, &c1) == 0 &&
                      bench_tasks_cpu_ns(B.floor, &f1) == 0;
        m1 = bench_now_ns(CLOCK_MONOTONIC);
        (void)bench_stop_child(B.floor, 1000, NULL);
        B.floor = 0;
        run->win_floor_ns = f1 - f0;
        t1 = bench_now_ns(CLOCK_REALTIME) / 1000;
        run->win_ns = m1 - m0;
        if (bench_proc_rss_kib(B.daemon, &run->rss_kib) < 0 ||
            bench_rss_parts(B.daemon, run->rss_parts) < 0)
                run->rss_kib = -1;

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
        if (L.profile)
                read_profile(log, run);

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
        if (bench_plain_sql_line(db, sql, out, sizeof(out)) < 0 ||
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

/* CPU per interval of the window: the ticks due in it, not the ones stored, so that a window
 * of 26.4 intervals is not read as 26 or 27 ticks. */
static double window_us(const BenchRun *r, uint64_t cpu_ns)
{
        if (!r->win_ok || r->win_ns <= 0)
                return -1;
        return (double)cpu_ns / 1e3 / ((double)r->win_ns / 1e3 / (double)L.interval_us);
}

static double steady_us(const BenchRun *r)
{
        return window_us(r, r->win_cpu_ns);
}

/* The floor process's CPU per interval over the same window. */
static double floor_us(const BenchRun *r)
{
        return window_us(r, r->win_floor_ns);
}

/* The same as a share of one CPU. */
static double steady_pct(const BenchRun *r)
{
        return r->win_ok && r->win_ns > 0 ? 100.0 * (double)r->win_cpu_ns / (double)r->win_ns : -1;
}

static double run_us(const BenchRun *r)
{
        return r->ticks ? r->run_cpu_us / (double)r->ticks : -1;
}

static void print_run(const BenchRun *r)
{
        double t = r->ticks ? (double)r->ticks : 1;
        printf("%-34s %5" PRIu64
               " %9.1f %6.1f %6.3f%% %9.1f %6.1f MiB %6.1f MiB %6.1f (%5.1f bench) "
               "%6.1f %6.1f   %s\n",
               r->label, r->ticks, steady_us(r), floor_us(r), steady_pct(r), run_us(r),
               (double)r->rss_kib / 1024.0, (double)r->maxrss_kib / 1024.0,
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
               what, b, l - b, (l - b) / (double)load->services, l, l / b);
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
                        L.interval,
                        "--duration",
                        dur,
                        "--db",
                        db,
                        "--events",
                        "none",
                        B.top[0] ? "--cgroup-root" : NULL,
                        B.top,
                        NULL};
        int64_t start = bench_now_ns(CLOCK_MONOTONIC);
        B.daemon = bench_spawn(argv, log);
        if (B.daemon < 0) {
                B.daemon = 0;
                return -errno;
        }
        /* Start-up (the first walk, the units' rows, the first rollup pass) happens in the first
         * ticks: zero the counts after a warm-up, so that what is left is the steady tick. */
        /* In ticks, not seconds: under valgrind the first ticks take seconds each. */
        int64_t zero_us = 0;
        uint64_t warm_ticks = (uint64_t)L.warmup_s * 1000000 / L.interval_us;
        for (int64_t next = start + 1000000000; bench_sleep_until(next); next += 1000000000) {
                char n[64];
                siginfo_t si = {0};
                if (waitid(P_PID, (id_t)B.daemon, &si, WEXITED | WNOHANG | WNOWAIT) < 0 ||
                    si.si_pid != 0)
                        break; /* it ended: reaped below */
                if (bench_sql_line(db, "select count(*) from ticks;", n, sizeof(n)) == 0 &&
                    strtoull(n, NULL, 10) >= warm_ticks)
                        break;
        }
        if (!bench_stop_signal) {
                char cmd[128];
                snprintf(cmd, sizeof(cmd), "callgrind_control -z %d >/dev/null 2>&1",
                         (int)B.daemon);
                /* after it returns: a tick stored while it ran may count as after the zero,
                 * which makes the per-tick figure higher, never lower */
                zero_us = system(cmd) == 0 ? bench_now_ns(CLOCK_REALTIME) / 1000 : 0;
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
        char sql[128];
        snprintf(sql, sizeof(sql), "select count(*) from ticks where ts_us > %" PRId64 ";",
                 zero_us);
        if (bench_sql_line(db, sql, line, sizeof(line)) < 0)
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
        /* Without the zeroing, daemon_tick also ran once for the baseline reading, which
         * stores no row. */
        if (zero_us == 0)
                ticks++;
        else
                printf("(counts zeroed after %llu ticks)\n",
                       (unsigned long long)((uint64_t)L.warmup_s * 1000000 / L.interval_us));
        char label[64];
        snprintf(label, sizeof(label), "%zu services, --events none", L.services);
        printf("%-30s %5llu ticks  %12.0f instructions per tick\n",
               loaded ? label : "baseline, --events none", ticks,
               ticks ? (double)ir / (double)ticks : 0);
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
                "usage: bench-tick [JOULESD] [--interval I] [--duration S] [--warmup S] "
                "[--services N]\n"
                "                  [--sleepers N] [--busy N] [--busy-pct P] [--curve] "
                "[--callgrind]\n"
                "                  [--check] [--keep] [--isolated] [--profile] [--single]\n"
                "                  [--commit-interval D]\n"
                "CPU time per tick and RSS of joulesd with services, sleeping and busy processes,\n"
                "against the machine without them. Needs root.\n"
                "  --interval I   joulesd's --interval (default 1s, the daemon's default)\n"
                "  --duration S   seconds per daemon run (default %d, at least warm-up + 5)\n"
                "  --warmup S     the steady window (and callgrind's count) starts S seconds\n"
                "                 after the daemon (default %d)\n"
                "  --services N   unit cgroups (default 100, at most %d)\n"
                "  --sleepers N   sleeping processes spread over them (default 10 per service)\n"
                "  --busy N       busy processes, one in every N-th service (default services/10)\n"
                "  --busy-pct P   CPU share of each busy process (default 10, or 100/busy when\n"
                "                 that is less: the busy ones together take one CPU of two)\n"
                "  --curve        10, 100 and 1,000 services (--events none) instead\n"
                "  --callgrind    instructions per tick under valgrind instead of CPU time\n"
                "  --check        exit 1 when a loaded run is over %.0f us per tick\n"
                "  --keep         leave the histories, logs and callgrind files in /tmp\n"
                "  --isolated     give joulesd a cgroup tree of its own (--cgroup-root) holding\n"
                "                 only the services: a root with no user processes, as under\n"
                "                 systemd, instead of this machine's root and its neighbours\n"
                "  --single       only the loaded run with --events none (an hour's RSS:\n"
                "                 --single --duration 3700)\n"
                "  --profile      run joulesd --profile and print the CPU of each part of a tick\n"
                "                 (its clock reads, about a dozen system calls a tick, count)\n"
                "  --commit-interval D  joulesd's --commit-interval (default: its own, 0)\n",
                BENCH_DEFAULT_SECS, BENCH_DEFAULT_WARMUP, BENCH_MAX_SERVICES, BENCH_TARGET_US);
}

/* The load for n services: 10 sleepers each, a busy process in every tenth. */
static void load_set(size_t services, long sleepers, long busy, int busy_pct)
{
        L.services = services;
        L.sleepers = sleepers >= 0 ? (size_t)sleepers : services * 10;
        L.busy = busy >= 0 ? (size_t)busy : (services >= 10 ? services / 10 : 1);
        if (L.busy > L.services)
                L.busy = L.services;
        L.busy_pct = busy_pct > 0 ? busy_pct : L.busy > 10 ? (int)(100 / L.busy) : 10;
        if (L.busy_pct < 1)
                L.busy_pct = 1;
}

static int load_make(void)
{
        printf("load: %zu services %s/system.slice/bench-joules-%d-N.service, %zu sleeping "
               "processes, %zu busy at %d%% of a CPU\n",
               L.services, B.top[0] ? B.top : B.cgroot, (int)getpid(), L.sleepers, L.busy,
               L.busy_pct);
        fflush(stdout);
        int r = services_create();
        if (r < 0)
                fprintf(stderr, "bench-tick: making the services: %s\n", strerror(-r));
        return r;
}

static void print_header(void)
{
        printf("%-34s %5s %9s %6s %7s %9s %10s %10s %20s %6s %6s   %s\n", "run", "ticks", "steady",
               "floor", "CPU", "run", "RSS", "max RSS", "units/tick", "procs", "proc", "weight");
        printf("%-34s %5s %9s %6s %7s %9s %10s %10s %20s %6s %6s\n", "", "", "us/tick", "us", "",
               "us/tick", "at end", "", "", "/tick", "events");
}

static void print_rss(const BenchRun *r)
{
        if (r->rss_kib < 0)
                return;
        printf("RSS of '%s' at the window's end, %.1f MiB:\n", r->label, (double)r->rss_kib / 1024);
        for (size_t i = 0; i < BENCH_RSS_PARTS; i++)
                if (r->rss_parts[i] > 0)
                        printf("  %8.2f MiB  %s\n", (double)r->rss_parts[i] / 1024,
                               bench_rss_part_names[i]);
}

int main(int argc, char **argv)
{
        static const struct option opts[] = {
                {"interval", required_argument, NULL, 'i'},
                {"duration", required_argument, NULL, 'd'},
                {"services", required_argument, NULL, 's'},
                {"sleepers", required_argument, NULL, 'z'},
                {"busy", required_argument, NULL, 'y'},
                {"busy-pct", required_argument, NULL, 'b'},
                {"curve", no_argument, NULL, 'u'},
                {"callgrind", no_argument, NULL, 'c'},
                {"check", no_argument, NULL, 'k'},
                {"keep", no_argument, NULL, 'K'},
                {"warmup", required_argument, NULL, 'w'},
                {"isolated", no_argument, NULL, 'I'},
                {"profile", no_argument, NULL, 'P'},
                {"single", no_argument, NULL, 'S'},
                {"commit-interval", required_argument, NULL, 'C'},
                {"help", no_argument, NULL, 'h'},
                {0},
        };
        unsigned secs = BENCH_DEFAULT_SECS;
        int busy_pct = 0;
        long services = 100, sleepers = -1, busy = -1;
        bool callgrind = false, check = false, curve = false, isolated = false, single = false;
        int c;
        while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
                switch (c) {
                case 'i': {
                        char *end;
                        double v = strtod(optarg, &end);
                        double mul = strcmp(end, "ms") == 0  ? 1e3
                                     : strcmp(end, "s") == 0 ? 1e6
                                     : *end == 0             ? 1e6
                                                             : 0;
                        L.interval = optarg;
                        L.interval_us = (uint64_t)(v * mul);
                        break;
                }
                case 'd':
                        secs = (unsigned)strtoul(optarg, NULL, 10);
                        break;
                case 's':
                        services = strtol(optarg, NULL, 10);
                        break;
                case 'z':
                        sleepers = strtol(optarg, NULL, 10);
                        break;
                case 'y':
                        busy = strtol(optarg, NULL, 10);
                        break;
                case 'b':
                        busy_pct = atoi(optarg);
                        break;
                case 'u':
                        curve = true;
                        break;
                case 'c':
                        callgrind = true;
                        break;
                case 'k':
                        check = true;
                        break;
                case 'w':
                        L.warmup_s = (unsigned)strtoul(optarg, NULL, 10);
                        break;
                case 'K':
                        B.keep = true;
                        break;
                case 'I':
                        isolated = true;
                        break;
                case 'P':
                        L.profile = true;
                        break;
                case 'S':
                        single = true;
                        break;
                case 'C':
                        L.commit = optarg;
                        break;
                case 'h':
                        usage(stdout);
                        return 0;
                default:
                        usage(stderr);
                        return 2;
                }
        }
        if (secs < L.warmup_s + 5 || secs > 7200 || busy_pct < 0 || busy_pct > 100 ||
            argc - optind > 1 || services < 1 || services > BENCH_MAX_SERVICES || busy > services ||
            sleepers > BENCH_MAX_KIDS - BENCH_MAX_SERVICES || L.interval_us < 10000 ||
            L.interval_us > 60000000) {
                usage(stderr);
                return 2;
        }
        load_set((size_t)services, sleepers, busy, busy_pct);
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
        if (isolated) {
                snprintf(B.top, sizeof(B.top), "%s/bench-joules-%d.root", B.cgroot, (int)getpid());
                if (mkdir(B.top, 0755) < 0) {
                        perror("bench-tick: mkdir");
                        return 1;
                }
                B.made_top = true;
        }

        snprintf(B.tmp, sizeof(B.tmp), "/tmp/bench-tick-XXXXXX");
        if (!mkdtemp(B.tmp)) {
                perror("bench-tick: mkdtemp");
                return 1;
        }
        double load[3] = {0};
        if (getloadavg(load, 3) < 0)
                load[0] = load[1] = load[2] = -1;
        printf("bench-tick: %s --energy-source model --interval %s%s%s, %u s per run (machine: "
               "%ld CPUs, load average %.2f %.2f %.2f)\n",
               joulesd, L.interval, L.commit ? " --commit-interval " : "", L.commit ? L.commit : "",
               secs, sysconf(_SC_NPROCESSORS_ONLN), load[0], load[1], load[2]);
        fflush(stdout);

        int rc = 0, r = 0;
        if (callgrind) {
                printf("instructions inside daemon_tick (valgrind --tool=callgrind "
                       "--collect-atstart=no --toggle-collect=daemon_tick)\n");
                fflush(stdout);
                r = callgrind_run(joulesd, false, secs, false);
                if (r >= 0)
                        r = load_make();
                if (r >= 0)
                        r = callgrind_run(joulesd, true, secs, true);
                goto out;
        }

        BenchRun runs[BENCH_RUNS] = {{0}};
        char labels[BENCH_RUNS][64];
        size_t n_runs = 0;
        if (single) {
                snprintf(labels[0], sizeof(labels[0]), "%zu services, --events none", L.services);
                runs[n_runs++] =
                        (BenchRun){.label = labels[0], .loaded = true, .services = L.services};
                r = load_make();
                if (r >= 0)
                        r = run_daemon(joulesd, secs, &runs[0]);
        } else if (curve) {
                static const size_t sizes[] = {10, 100, 1000};
                runs[n_runs++] = (BenchRun){.label = "baseline, --events none"};
                for (size_t i = 0; i < 3 && r >= 0; i++) {
                        if (i == 0)
                                r = run_daemon(joulesd, secs, &runs[0]);
                        if (r < 0)
                                break;
                        services_destroy();
                        load_set(sizes[i], -1, -1, busy_pct);
                        snprintf(labels[n_runs], sizeof(labels[n_runs]), "%zu services, %zu busy",
                                 L.services, L.busy);
                        runs[n_runs] = (BenchRun){
                                .label = labels[n_runs], .loaded = true, .services = L.services};
                        r = load_make();
                        if (r >= 0)
                                r = run_daemon(joulesd, secs, &runs[n_runs]);
                        n_runs++;
                }
        } else {
                snprintf(labels[2], sizeof(labels[2]), "%zu services, --events none", L.services);
                snprintf(labels[3], sizeof(labels[3]), "%zu services, default events", L.services);
                runs[0] = (BenchRun){.label = "baseline, --events none"};
                runs[1] = (BenchRun){.label = "baseline, default events", .events = true};
                runs[2] = (BenchRun){.label = labels[2], .loaded = true, .services = L.services};
                runs[3] = (BenchRun){
                        .label = labels[3], .loaded = true, .events = true, .services = L.services};
                snprintf(labels[4], sizeof(labels[4]), "%zu services, sw events per unit",
                         L.services);
                snprintf(labels[5], sizeof(labels[5]), "%zu services, sw events + process",
                         L.services);
                runs[4] = (BenchRun){.label = labels[4],
                                     .loaded = true,
                                     .events = true,
                                     .event_list = BENCH_SW_EVENTS,
                                     .proc_events_off = true,
                                     .tag = "-sw",
                                     .services = L.services};
                runs[5] = (BenchRun){.label = labels[5],
                                     .loaded = true,
                                     .events = true,
                                     .event_list = BENCH_SW_EVENTS,
                                     .tag = "-sw-proc",
                                     .services = L.services};
                n_runs = BENCH_RUNS;
                for (size_t i = 0; i < BENCH_RUNS && r >= 0; i++) {
                        if (i == 2 && (r = load_make()) < 0)
                                break;
                        r = run_daemon(joulesd, secs, &runs[i]);
                }
        }
        if (r < 0)
                goto out;

        if (getloadavg(load, 3) < 0)
                load[0] = load[1] = load[2] = -1;
        printf("\n(load average at the end %.2f %.2f %.2f)\n", load[0], load[1], load[2]);
        print_header();
        for (size_t i = 0; i < n_runs; i++)
                print_run(&runs[i]);
        printf("\n(steady: CPU between the warm-up and 1 s before the end, per interval of "
               "that window; floor: the same for a process that only wakes at the interval, beside "
               "the daemon; CPU: the steady figure as a share of one CPU; run: rusage over the "
               "stored ticks, start-up and exit included; RSS at end: VmRSS at the window's "
               "end)\n\n");
        if (single) {
                /* one run: nothing to compare it with */
        } else if (curve) {
                for (size_t i = 1; i < n_runs; i++)
                        print_compare(runs[i].label, &runs[0], &runs[i]);
        } else {
                print_compare("--events none:", &runs[0], &runs[2]);
                print_compare("default events:", &runs[1], &runs[3]);
                print_process_events(&runs[4], &runs[5]);
        }
        if (L.profile) {
                printf("\nparts of a tick, CPU us (joulesd --profile: this thread's clock over "
                       "the stored ticks after the first 30):\n");
                for (size_t i = 0; i < n_runs; i++)
                        for (size_t k = 0; k < 2 && runs[i].profile[k][0]; k++)
                                printf("  %-34s %s\n", k ? "" : runs[i].label, runs[i].profile[k]);
        }
        printf("\n");
        print_rss(&runs[single ? 0 : curve ? n_runs - 1 : 2]);
        printf("\n");
        for (size_t i = 0; i < n_runs; i++) {
                if (!runs[i].loaded)
                        continue;
                double us = steady_us(&runs[i]);
                double pct = steady_pct(&runs[i]);
                bool over = us < 0 || (runs[i].services <= 100 ? us > BENCH_TARGET_US : pct > 1.0);
                if (runs[i].services <= 100)
                        printf("target <= %.0f us/tick, %s: %.1f us/tick (%.1f above the "
                               "floor): %s\n",
                               BENCH_TARGET_US, runs[i].label, us, us - floor_us(&runs[i]),
                               over ? "OVER" : "within");
                else
                        printf("target < 1%% of a CPU, %s: %.3f%%: %s\n", runs[i].label, pct,
                               over ? "OVER" : "within");
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
