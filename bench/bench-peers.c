/* bench-peers: joulesd's CPU against the tools an operator already runs, in one run, on one load.
 *
 *   bench-peers [JOULESD] [--duration S] [--warmup S] [--services N] [--sleepers N] [--busy N]
 *               [--busy-pct P]
 *
 * Makes the load of bench-tick (default 100 services as real cgroups, 1,000 sleeping and 10 busy
 * processes at 10% of a CPU each), then starts, all at once and each at 1 Hz:
 *   joulesd        --energy-source model --interval 1s (default events), a scratch history
 *   node_exporter  Debian's prometheus-node-exporter, its default collectors, on a loopback port,
 *                  scraped once a second by this bench (as Prometheus would: the scrape's own
 *                  cost on the scraper's side is not counted, the exporter's is)
 *   collectd       collectd-core in the foreground, Interval 1, the cpu and processes plugins and
 *                  csv into the scratch directory (a collectd writes its values somewhere)
 *   pidstat -u 1   sysstat, its output into a file
 *   atop 1         its output into a file
 * After the warm-up (default 5 s) it reads each one's CPU time (schedstat of every thread of the
 * process and of its live descendants, ns) at the start and at the end of the window (default 40
 * s) and prints CPU per second of each and its ratio to joulesd. A tool that is not installed or
 * does not stay up is reported with the reason, and the others are measured without it.
 *
 * Needs root (cgroups; joulesd reads every process); exits 77 otherwise. The tools come from
 * Debian's packages: ./dev.sh bench installs them (BENCH_PACKAGES). */

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench/lib.h"

enum { PEER_JOULESD, PEER_NODE_EXPORTER, PEER_COLLECTD, PEER_PIDSTAT, PEER_ATOP, PEERS };

typedef struct Peer {
        const char *name;
        const char *how; /* what runs, for the table */
        char bin[PATH_MAX];
        const char *package;
        pid_t pid;
        char log[PATH_MAX];
        char why[PATH_MAX + 128]; /* why it was not measured; empty when it was */
        uint64_t c0, c1;
        bool started;
} Peer;

static struct {
        Peer p[PEERS];
        BenchLoad load;
        char tmp[64];
        int port;
        uint64_t scrapes, scrape_fail, scrape_bytes;
} B;

static void cleanup(void)
{
        for (size_t i = 0; i < PEERS; i++)
                if (B.p[i].pid > 0) {
                        (void)bench_stop_child(B.p[i].pid, 3000, NULL);
                        B.p[i].pid = 0;
                }
        bench_load_destroy(&B.load);
        if (B.tmp[0])
                bench_remove_dir(B.tmp);
        B.tmp[0] = 0;
}

/* A port on the loopback that nothing listens on now. */
static int free_port(void)
{
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        socklen_t len = sizeof(a);
        int r = bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
                                getsockname(fd, (struct sockaddr *)&a, &len) < 0
                        ? -errno
                        : ntohs(a.sin_port);
        close(fd);
        return r;
}

/* GET /metrics from node_exporter, read to the end: the bytes, or -errno. */
static long scrape(int port)
{
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        struct timeval tv = {.tv_sec = 5};
        (void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        struct sockaddr_in a = {.sin_family = AF_INET,
                                .sin_port = htons((uint16_t)port),
                                .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        long total = 0;
        if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
                total = -errno;
                goto out;
        }
        static const char req[] = "GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n"
                                  "Accept: text/plain\r\n\r\n";
        if (write(fd, req, sizeof(req) - 1) != (ssize_t)sizeof(req) - 1) {
                total = -EIO;
                goto out;
        }
        char buf[65536];
        ssize_t n;
        while ((n = read(fd, buf, sizeof(buf))) > 0)
                total += n;
        if (n < 0)
                total = -errno;
out:
        close(fd);
        return total;
}

static bool find_bin(Peer *p, const char *const *candidates)
{
        for (size_t i = 0; candidates[i]; i++)
                if (access(candidates[i], X_OK) == 0) {
                        snprintf(p->bin, sizeof(p->bin), "%s", candidates[i]);
                        return true;
                }
        snprintf(p->why, sizeof(p->why), "not installed (apt-get install %s)", p->package);
        return false;
}

static int write_file(const char *path, const char *text)
{
        FILE *f = fopen(path, "we");
        if (!f)
                return -errno;
        fputs(text, f);
        return fclose(f) == 0 ? 0 : -errno;
}

static void start(Peer *p, char *const argv[])
{
        snprintf(p->log, sizeof(p->log), "%s/%s.log", B.tmp, p->name);
        p->pid = bench_spawn(argv, p->log);
        if (p->pid < 0) {
                snprintf(p->why, sizeof(p->why), "cannot start: %s", strerror(errno));
                p->pid = 0;
                return;
        }
        p->started = true;
}

/* True while p runs; else p->why says how it ended. */
static bool alive(Peer *p)
{
        if (p->pid <= 0)
                return false;
        int status;
        pid_t w = waitpid(p->pid, &status, WNOHANG);
        if (w == 0)
                return true;
        p->pid = 0;
        if (w > 0 && WIFEXITED(status))
                snprintf(p->why, sizeof(p->why), "exited with %d (its log: %s)",
                         WEXITSTATUS(status), p->log);
        else if (w > 0)
                snprintf(p->why, sizeof(p->why), "killed by signal %d (its log: %s)",
                         WTERMSIG(status), p->log);
        else
                snprintf(p->why, sizeof(p->why), "lost: %s", strerror(errno));
        return false;
}

static void usage(FILE *f)
{
        fprintf(f, "usage: bench-peers [JOULESD] [--duration S] [--warmup S] [--services N]\n"
                   "                   [--sleepers N] [--busy N] [--busy-pct P]\n"
                   "CPU per second of joulesd (1 s ticks) and of node_exporter (scraped every\n"
                   "second), collectd (cpu + processes, 1 s), pidstat -u 1 and atop 1, side by\n"
                   "side on one load. Needs root.\n"
                   "  --duration S   the measured window (default 40)\n"
                   "  --warmup S     before it, after every tool started (default 5)\n"
                   "  --services N, --sleepers N, --busy N, --busy-pct P   the load (default\n"
                   "                 100, 1000, 10, 10 as bench-tick's)\n");
}

int main(int argc, char **argv)
{
        static const struct option opts[] = {
                {"duration", required_argument, NULL, 'd'},
                {"warmup", required_argument, NULL, 'w'},
                {"services", required_argument, NULL, 's'},
                {"sleepers", required_argument, NULL, 'z'},
                {"busy", required_argument, NULL, 'y'},
                {"busy-pct", required_argument, NULL, 'b'},
                {"help", no_argument, NULL, 'h'},
                {0},
        };
        unsigned secs = 40, warmup = 5;
        long services = 100, sleepers = 1000, busy = 10, busy_pct = 10;
        int c;
        while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
                switch (c) {
                case 'd':
                        secs = (unsigned)strtoul(optarg, NULL, 10);
                        break;
                case 'w':
                        warmup = (unsigned)strtoul(optarg, NULL, 10);
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
                        busy_pct = strtol(optarg, NULL, 10);
                        break;
                case 'h':
                        usage(stdout);
                        return 0;
                default:
                        usage(stderr);
                        return 2;
                }
        }
        if (secs < 5 || secs > 3600 || warmup > 600 || services < 1 || services > 5000 ||
            sleepers < 0 || sleepers > 20000 || busy < 0 || busy > services || busy_pct < 1 ||
            busy_pct > 100 || argc - optind > 1) {
                usage(stderr);
                return 2;
        }
        if (geteuid() != 0) {
                fprintf(stderr, "bench-peers: skipped: needs root to make cgroups\n");
                return 77;
        }
        Peer *jd = &B.p[PEER_JOULESD];
        *jd = (Peer){0};
        if (optind < argc)
                snprintf(jd->bin, sizeof(jd->bin), "%s", argv[optind]);
        else if (bench_build_path("bin", "joulesd", jd->bin, sizeof(jd->bin)) < 0) {
                perror("bench-peers: /proc/self/exe");
                return 1;
        }
        if (access(jd->bin, X_OK) < 0) {
                fprintf(stderr, "bench-peers: %s: %s (build it, or name it)\n", jd->bin,
                        strerror(errno));
                return 1;
        }
        char cgroot[256];
        if (bench_find_cgroup2(cgroot, sizeof(cgroot)) < 0) {
                fprintf(stderr, "bench-peers: skipped: no cgroup2 mount\n");
                return 77;
        }
        bench_signals_init();
        snprintf(B.tmp, sizeof(B.tmp), "/tmp/bench-peers-XXXXXX");
        if (!mkdtemp(B.tmp)) {
                perror("bench-peers: mkdtemp");
                return 1;
        }

        jd->name = "joulesd";
        jd->how = "--interval 1s, default events";
        B.p[PEER_NODE_EXPORTER] = (Peer){.name = "node_exporter",
                                         .how = "default collectors, scraped every 1 s",
                                         .package = "prometheus-node-exporter"};
        B.p[PEER_COLLECTD] = (Peer){.name = "collectd",
                                    .how = "cpu + processes (+ csv), Interval 1",
                                    .package = "collectd-core"};
        B.p[PEER_PIDSTAT] = (Peer){.name = "pidstat", .how = "-u 1", .package = "sysstat"};
        B.p[PEER_ATOP] = (Peer){.name = "atop", .how = "1", .package = "atop"};

        int r = bench_load_create(&B.load, cgroot, (size_t)services, (size_t)sleepers, (size_t)busy,
                                  (int)busy_pct);
        if (r < 0) {
                fprintf(stderr, "bench-peers: making the load: %s\n", strerror(-r));
                cleanup();
                return 1;
        }
        double la[3] = {-1, -1, -1};
        (void)getloadavg(la, 3);
        printf("bench-peers: load: %ld services %s/bench-joules-%d-N.service, %ld sleeping "
               "processes, %ld busy at %ld%% of a CPU (machine: %ld CPUs, load average %.2f "
               "%.2f %.2f)\n",
               services, B.load.slice, (int)getpid(), sleepers, busy, busy_pct,
               sysconf(_SC_NPROCESSORS_ONLN), la[0], la[1], la[2]);
        fflush(stdout);

        /* joulesd */
        char db[128];
        snprintf(db, sizeof(db), "%s/joules.db", B.tmp);
        char *jargv[] = {jd->bin, "--energy-source", "model", "--interval", "1s", "--db", db, NULL};
        start(jd, jargv);

        /* node_exporter on a free loopback port */
        static const char *const ne_bins[] = {"/usr/bin/prometheus-node-exporter", NULL};
        Peer *ne = &B.p[PEER_NODE_EXPORTER];
        if (find_bin(ne, ne_bins)) {
                B.port = free_port();
                char listen[64];
                snprintf(listen, sizeof(listen), "--web.listen-address=127.0.0.1:%d", B.port);
                char *argv_ne[] = {ne->bin, listen, NULL};
                if (B.port > 0)
                        start(ne, argv_ne);
                else
                        snprintf(ne->why, sizeof(ne->why), "no free port: %s", strerror(-B.port));
        }

        /* collectd in the foreground with a configuration of its own */
        static const char *const cd_bins[] = {"/usr/sbin/collectd", NULL};
        Peer *cd = &B.p[PEER_COLLECTD];
        if (find_bin(cd, cd_bins)) {
                char conf[PATH_MAX], text[2048];
                snprintf(conf, sizeof(conf), "%s/collectd.conf", B.tmp);
                snprintf(text, sizeof(text),
                         "Interval 1\n"
                         "BaseDir \"%s\"\n"
                         "PIDFile \"%s/collectd.pid\"\n"
                         "PluginDir \"/usr/lib/collectd\"\n"
                         "TypesDB \"/usr/share/collectd/types.db\"\n"
                         "LoadPlugin cpu\n"
                         "LoadPlugin processes\n"
                         "LoadPlugin csv\n"
                         "<Plugin csv>\n  DataDir \"%s/csv\"\n</Plugin>\n",
                         B.tmp, B.tmp, B.tmp);
                if ((r = write_file(conf, text)) < 0)
                        snprintf(cd->why, sizeof(cd->why), "writing %s: %s", conf, strerror(-r));
                else {
                        char *argv_cd[] = {cd->bin, "-f", "-C", conf, NULL};
                        start(cd, argv_cd);
                }
        }

        /* pidstat and atop print to their logs */
        static const char *const ps_bins[] = {"/usr/bin/pidstat", NULL};
        Peer *ps = &B.p[PEER_PIDSTAT];
        if (find_bin(ps, ps_bins)) {
                char *argv_ps[] = {ps->bin, "-u", "1", NULL};
                start(ps, argv_ps);
        }
        static const char *const at_bins[] = {"/usr/bin/atop", NULL};
        Peer *at = &B.p[PEER_ATOP];
        if (find_bin(at, at_bins)) {
                char *argv_at[] = {at->bin, "1", NULL};
                start(at, argv_at);
        }

        /* Warm-up, then the window; node_exporter scraped every second throughout. */
        int64_t t = bench_now_ns(CLOCK_MONOTONIC);
        int64_t w0 = t + (int64_t)warmup * 1000000000, w1 = w0 + (int64_t)secs * 1000000000;
        int64_t m0 = 0, m1 = 0;
        bool measuring = false;
        for (int64_t next = t + 1000000000; !bench_stop_signal; next += 1000000000) {
                if (!measuring && next > w0) {
                        for (size_t i = 0; i < PEERS; i++)
                                if (alive(&B.p[i]) && bench_tree_cpu_ns(B.p[i].pid, &B.p[i].c0) < 0)
                                        snprintf(B.p[i].why, sizeof(B.p[i].why),
                                                 "cannot read its CPU time");
                        m0 = bench_now_ns(CLOCK_MONOTONIC);
                        measuring = true;
                }
                if (next > w1)
                        break;
                if (!bench_sleep_until(next))
                        break;
                if (alive(ne)) {
                        long n = scrape(B.port);
                        if (n > 0) {
                                B.scrapes++;
                                B.scrape_bytes += (uint64_t)n;
                        } else
                                B.scrape_fail++;
                }
        }
        for (size_t i = 0; i < PEERS; i++)
                if (alive(&B.p[i]) && bench_tree_cpu_ns(B.p[i].pid, &B.p[i].c1) < 0)
                        snprintf(B.p[i].why, sizeof(B.p[i].why), "cannot read its CPU time");
        m1 = bench_now_ns(CLOCK_MONOTONIC);
        if (bench_stop_signal) {
                cleanup();
                fprintf(stderr, "bench-peers: interrupted; children killed, cgroups removed\n");
                signal(bench_stop_signal, SIG_DFL);
                raise(bench_stop_signal);
                return 128 + bench_stop_signal;
        }
        (void)getloadavg(la, 3);
        double window_s = (double)(m1 - m0) / 1e9;
        printf("window: %.1f s after a %u s warm-up (load average at the end %.2f %.2f %.2f); "
               "node_exporter scraped %llu times (%llu failed), %.0f bytes a scrape\n\n",
               window_s, warmup, la[0], la[1], la[2], (unsigned long long)B.scrapes,
               (unsigned long long)B.scrape_fail,
               B.scrapes ? (double)B.scrape_bytes / (double)B.scrapes : 0.0);
        printf("%-14s %-40s %14s %10s\n", "tool", "how", "CPU ms/s", "x joulesd");
        double jms = -1;
        if (jd->pid > 0 && !jd->why[0])
                jms = (double)(jd->c1 - jd->c0) / 1e6 / window_s;
        int rc = 0;
        double lightest = -1;
        for (size_t i = 0; i < PEERS; i++) {
                Peer *p = &B.p[i];
                if (p->why[0] || p->pid <= 0) {
                        printf("%-14s %-40s not measured: %s\n", p->name, p->how,
                               p->why[0] ? p->why : "not running");
                        if (i == PEER_JOULESD)
                                rc = 1;
                        continue;
                }
                double ms = (double)(p->c1 - p->c0) / 1e6 / window_s;
                if (i == PEER_JOULESD)
                        printf("%-14s %-40s %14.3f %10s\n", p->name, p->how, ms, "1");
                else {
                        printf("%-14s %-40s %14.3f %9.1fx\n", p->name, p->how, ms,
                               jms > 0 ? ms / jms : 0.0);
                        if (lightest < 0 || ms < lightest)
                                lightest = ms;
                }
        }
        if (jms > 0 && lightest > 0)
                printf("\njoulesd is %.1fx lighter than the lightest of the others (goal: >= "
                       "50x)\n",
                       lightest / jms);
        printf("(CPU: schedstat of every thread of each tool and of its live children over the "
               "window, per second of it)\n");
        fflush(stdout);
        cleanup();
        return rc;
}
