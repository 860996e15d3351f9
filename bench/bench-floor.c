/* bench-floor: what the kernel reads of a 1 s tick cost on this machine, before any work of
 * joulesd's own: the floor under issue 14's per-tick target.
 *
 *   sudo bench-floor [--interval I] [--duration S] [--services N] [--sleepers N] [--busy N]
 *
 * Sets up bench-tick's load (lib.h: N services as real cgroups under a root of the bench's own,
 * 10 sleeping processes per service, one busy per ten services at 10% of a CPU) and runs a
 * reader process that wakes on a timerfd every interval (default 1 s), alternately in two
 * modes, S seconds each (default 60), twice:
 *   wake:  only the wake-up (ppoll, then read the timerfd), like bench-tick's floor column;
 *   reads: the wake-up and the files joulesd reads in a tick at this load, each from a
 *          descriptor kept open, with one pread: /proc/stat, the root's cgroup.stat and
 *          cpu.stat, the slice's cpu.stat, each busy service's cpu.stat and each busy process's
 *          /proc/PID/schedstat: 4 files and 2 per busy service, 24 for the default load, the
 *          reads strace shows joulesd making in a tick there.
 * The reader's CPU time (schedstat, all threads) over each run is divided by its wakes. Then the
 * same reads back to back, 2,000 passes, warm. A process that does nothing but these reads sets
 * the floor under any per-tick figure; the difference between cold and warm is the cost of
 * coming back to the CPU after a second asleep (caches and TLB; with page-table isolation and
 * no PCID, every system call also empties the TLB), which no user-space code can avoid. */

#include "bench/lib.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_FILES 4096

typedef struct Files {
        int fd[MAX_FILES];
        size_t n;
} Files;

static int files_add(Files *f, const char *path)
{
        if (f->n == MAX_FILES)
                return -E2BIG;
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
                fprintf(stderr, "bench-floor: %s: %s\n", path, strerror(errno));
                return -errno;
        }
        f->fd[f->n++] = fd;
        return 0;
}

static void files_read(const Files *f)
{
        char buf[16384];
        for (size_t i = 0; i < f->n; i++)
                if (pread(f->fd[i], buf, sizeof(buf) - 1, 0) < 0)
                        _exit(3);
}

/* The reader: wakes every interval_ns, reading the files when asked; runs until killed. */
static void reader(const Files *f, bool reads, int64_t interval_ns, pid_t parent)
{
        bench_child_setup(parent);
        int tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
        struct itimerspec its = {
                .it_interval = {interval_ns / 1000000000, interval_ns % 1000000000},
                .it_value = {interval_ns / 1000000000, interval_ns % 1000000000},
        };
        if (tfd < 0 || timerfd_settime(tfd, 0, &its, NULL) < 0)
                _exit(2);
        for (;;) {
                struct pollfd p = {.fd = tfd, .events = POLLIN};
                uint64_t expired;
                if (ppoll(&p, 1, NULL, NULL) < 0 ||
                    read(tfd, &expired, sizeof(expired)) != sizeof(expired))
                        continue;
                if (reads)
                        files_read(f);
        }
}

/* CPU per wake (us) of a reader run for duration_s, the first 2 intervals left out. */
static double run_reader(const Files *f, bool reads, int64_t interval_ns, int duration_s)
{
        pid_t self = getpid(), pid = fork();
        if (pid < 0)
                return -1;
        if (pid == 0)
                reader(f, reads, interval_ns, self);
        int64_t start = bench_now_ns(CLOCK_MONOTONIC) + 2 * interval_ns + interval_ns / 2;
        uint64_t c0 = 0, c1 = 0;
        double wakes = 0;
        if (bench_sleep_until(start) && bench_tasks_cpu_ns(pid, &c0) == 0) {
                int64_t end = start + (int64_t)duration_s * 1000000000;
                if (bench_sleep_until(end) && bench_tasks_cpu_ns(pid, &c1) == 0)
                        wakes = (double)(end - start) / (double)interval_ns;
        }
        (void)bench_stop_child(pid, 1000, NULL);
        return wakes > 0 ? (double)(c1 - c0) / 1e3 / wakes : -1;
}

/* Whether the flags of /proc/cpuinfo have word: "yes" or "no". */
static void cpu_flag(const char *word, char *out, size_t size)
{
        FILE *f = fopen("/proc/cpuinfo", "re");
        char line[8192];
        snprintf(out, size, "no");
        while (f && fgets(line, sizeof(line), f))
                if (strncmp(line, "flags", 5) == 0) {
                        for (char *t = strtok(line, " \t\n"); t; t = strtok(NULL, " \t\n"))
                                if (strcmp(t, word) == 0)
                                        snprintf(out, size, "yes");
                        break;
                }
        if (f)
                fclose(f);
}

int main(int argc, char **argv)
{
        int64_t interval_ns = 1000000000;
        int duration = 60;
        size_t services = 100, sleepers_per = 10, busy = 10;
        static const struct option opts[] = {{"interval", required_argument, NULL, 'i'},
                                             {"duration", required_argument, NULL, 'd'},
                                             {"services", required_argument, NULL, 's'},
                                             {"sleepers", required_argument, NULL, 'z'},
                                             {"busy", required_argument, NULL, 'b'},
                                             {}};
        int c;
        while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
                switch (c) {
                case 'i':
                        interval_ns = (int64_t)(atof(optarg) * 1e9);
                        break;
                case 'd':
                        duration = atoi(optarg);
                        break;
                case 's':
                        services = (size_t)atol(optarg);
                        break;
                case 'z':
                        sleepers_per = (size_t)atol(optarg);
                        break;
                case 'b':
                        busy = (size_t)atol(optarg);
                        break;
                default:
                        fprintf(stderr, "usage: bench-floor [--interval SECONDS] [--duration S] "
                                        "[--services N] [--sleepers N] [--busy N]\n");
                        return 2;
                }
        }
        if (interval_ns < 1000000 || duration < 5 || services < 1 || busy > services ||
            2 * busy + 4 > MAX_FILES) {
                fprintf(stderr, "bench-floor: bad arguments\n");
                return 2;
        }
        if (geteuid() != 0) {
                fprintf(stderr, "bench-floor: needs root (cgroups)\n");
                return 77;
        }
        bench_signals_init();
        char cg2[PATH_MAX_BENCH], root[PATH_MAX_BENCH + 64], path[2 * PATH_MAX_BENCH];
        if (bench_find_cgroup2(cg2, sizeof(cg2)) < 0) {
                fprintf(stderr, "bench-floor: no cgroup2 mount\n");
                return 77;
        }
        snprintf(root, sizeof(root), "%s/bench-floor-%d.root", cg2, (int)getpid());
        if (mkdir(root, 0755) < 0) {
                fprintf(stderr, "bench-floor: %s: %s\n", root, strerror(errno));
                return 1;
        }
        BenchLoad load;
        int r = bench_load_create(&load, root, services, sleepers_per * services, busy,
                                  busy ? (100 / (int)busy < 10 ? 100 / (int)busy : 10) : 10);
        static Files files;
        if (r >= 0)
                r = files_add(&files, "/proc/stat");
        snprintf(path, sizeof(path), "%s/cgroup.stat", root);
        if (r >= 0)
                r = files_add(&files, path);
        snprintf(path, sizeof(path), "%s/cpu.stat", root);
        if (r >= 0)
                r = files_add(&files, path);
        snprintf(path, sizeof(path), "%s/cpu.stat", load.slice);
        if (r >= 0)
                r = files_add(&files, path);
        size_t spread = busy ? services / busy : 1;
        for (size_t k = 0; k < busy && r >= 0; k++) {
                snprintf(path, sizeof(path), "%s/cpu.stat", load.cg[k * spread % services]);
                r = files_add(&files, path);
                snprintf(path, sizeof(path), "/proc/%d/schedstat",
                         (int)load.kids[sleepers_per * services + k]);
                if (r >= 0)
                        r = files_add(&files, path);
        }
        if (r < 0) {
                fprintf(stderr, "bench-floor: setting up the load: %s\n", strerror(-r));
                bench_load_destroy(&load);
                (void)rmdir(root);
                return 1;
        }
        char pti[256] = "?", pcid[8];
        FILE *m = fopen("/sys/devices/system/cpu/vulnerabilities/meltdown", "re");
        if (m && fgets(pti, sizeof(pti), m))
                pti[strcspn(pti, "\n")] = 0;
        if (m)
                fclose(m);
        cpu_flag("pcid", pcid, sizeof(pcid));
        double la[3] = {0};
        FILE *l = fopen("/proc/loadavg", "re");
        if (l && fscanf(l, "%lf %lf %lf", &la[0], &la[1], &la[2]) != 3)
                la[0] = la[1] = la[2] = 0;
        if (l)
                fclose(l);
        printf("bench-floor: a reader waking every %.3f s, %d s per run (load average %.2f %.2f "
               "%.2f; meltdown: %s; pcid: %s)\n",
               (double)interval_ns / 1e9, duration, la[0], la[1], la[2], pti, pcid);
        printf("load: %zu services under %s, %zu sleeping processes, %zu busy; the reads: %zu "
               "files\n",
               services, load.slice, sleepers_per * services, busy, files.n);
        fflush(stdout);

        double wake[2], reads[2];
        for (int round = 0; round < 2 && !bench_stop_signal; round++) {
                wake[round] = run_reader(&files, false, interval_ns, duration);
                reads[round] = run_reader(&files, true, interval_ns, duration);
        }
        /* the same reads back to back: warm caches and TLB */
        int64_t w0 = bench_now_ns(CLOCK_THREAD_CPUTIME_ID);
        for (int k = 0; k < 2000; k++)
                files_read(&files);
        double warm = (double)(bench_now_ns(CLOCK_THREAD_CPUTIME_ID) - w0) / 1e3 / 2000;
        bench_load_destroy(&load);
        (void)rmdir(root);
        if (bench_stop_signal) {
                fprintf(stderr, "bench-floor: stopped\n");
                return 1;
        }
        double w = (wake[0] + wake[1]) / 2, rd = (reads[0] + reads[1]) / 2;
        printf("wake only:            %6.1f us of CPU per wake (runs %.1f, %.1f)\n", w, wake[0],
               wake[1]);
        printf("wake + the %3zu reads: %6.1f us of CPU per wake (runs %.1f, %.1f)\n", files.n, rd,
               reads[0], reads[1]);
        printf("the reads after a wake: %.1f us, %.2f us each; back to back (warm): %.2f us, "
               "%.2f us each\n",
               rd - w, (rd - w) / (double)files.n, warm, warm / (double)files.n);
        printf("floor under a tick that reads these files: %.0f us (issue 14's target for the "
               "whole tick: 250 us)\n",
               rd);
        return 0;
}
