/* bench-exporter: what a scrape of joules-exporter costs with a large, long history.
 *
 * Builds a history through the real store API: 500 units (plus the pseudo-units), one domain,
 * requests on 50 units, a year of 30-minute ticks with 50 units active in each (all 500 over
 * every ten ticks), rolled up and retained as joulesd does (raw 7 days, minutes 90 days). Then
 * runs the real joules-exporter on it and scrapes /metrics N times in each format over a
 * loopback socket, while a tick is appended every 10 scrapes (a live writer, as joulesd is),
 * and prints the exporter's CPU per scrape (utime + stime from /proc/PID/stat around the N
 * scrapes) and its RSS (VmRSS, and the peak VmHWM). As root it does it a second time the way
 * joules-exporter.service runs: as another user that may only read the file and its -shm
 * (SQLite then builds its WAL index in private memory at each read).
 *
 * For contrast it times, in-process on a read-only handle, store_read_totals() (what a scrape
 * reads) against store_read_services() over all time (the units' totals summed through the
 * tiers, as `joules services` does): the first stays flat as the history grows, the second
 * grows with it.
 *
 *   bench-exporter [EXPORTER] [--scrapes N] [--units N] [--days N] [--keep DIR]
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/util.h"
#include "storage/store.h"

#define SEC    INT64_C(1000000)
#define MINUTE (60 * SEC)
#define HOUR   (60 * MINUTE)
#define DAY    (24 * HOUR)
#define STEP   (30 * MINUTE)
#define ACTIVE 50

static uint64_t cpu_now_ns(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
        return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

typedef struct History {
        Store *s;
        size_t n_units;
        int64_t *ids, idle_id, domain, metric;
        int64_t ts;
        uint64_t i;
        StoreUnitValue *uv;
} History;

static int append(History *h)
{
        size_t nu = 0;
        uint64_t host = 0;
        StoreRequestValue rq[ACTIVE];
        size_t nr = 0;
        for (size_t k = 0; k < ACTIVE; k++) {
                size_t u = (h->i * ACTIVE + k) % h->n_units;
                uint64_t a = 1000000 + (h->i * 7919 + u * 104729) % 50000000;
                h->uv[nu++] = (StoreUnitValue){h->ids[u], a, a / 4, a * 10};
                host += a + a / 4;
                if (u % 10 == 0)
                        rq[nr++] =
                                (StoreRequestValue){h->ids[u], h->metric, (double)(u + h->i % 7)};
        }
        h->uv[nu++] = (StoreUnitValue){h->idle_id, 0, 3000000, 0};
        host += 3000000;
        StoreDomainValue d = {h->domain, true, host, NULL};
        h->ts += STEP;
        StoreTick t = {.ts_us = h->ts,
                       .dt_us = (uint64_t)STEP,
                       .host_valid = true,
                       .host_uj = host,
                       .domains = &d,
                       .n_domains = 1,
                       .units = h->uv,
                       .n_units = nu,
                       .requests = rq,
                       .n_requests = nr};
        h->i++;
        int r = store_tick_append(h->s, &t);
        return r < 0 ? r : store_commit(h->s);
}

static int build(const char *path, History *h, size_t n_units, int days)
{
        char err[512];
        int r = store_open(path, STORE_READ_WRITE, &h->s, err, sizeof(err));
        if (r < 0) {
                fprintf(stderr, "bench-exporter: %s\n", err);
                return r;
        }
        int64_t now = now_realtime_us();
        h->ts = now - (int64_t)days * DAY;
        StoreRun run = {.started_us = h->ts,
                        .source = "powercap",
                        .interval_us = (uint64_t)STEP,
                        .hostname = "bench-host",
                        .weight = "cpu-time"};
        int64_t run_id;
        StoreDomain dom = {"package-0", "intel-rapl:0", "powercap", "package", false, true};
        if ((r = store_run_begin(h->s, &run, &run_id)) < 0 ||
            (r = store_domain_ensure(h->s, &dom, &h->domain)) < 0 ||
            (r = store_metric_ensure(h->s, "requests", &h->metric)) < 0 ||
            (r = store_unit_ensure(h->s, "idle", true, &h->idle_id)) < 0)
                return r;
        h->n_units = n_units;
        h->ids = calloc(n_units, sizeof(*h->ids));
        h->uv = calloc(ACTIVE + 1, sizeof(*h->uv));
        if (!h->ids || !h->uv)
                return -ENOMEM;
        for (size_t u = 0; u < n_units; u++) {
                char name[64];
                snprintf(name, sizeof(name), "bench-exporter-%03zu.service", u);
                if ((r = store_unit_ensure(h->s, name, false, &h->ids[u])) < 0)
                        return r;
        }
        StoreRetention keep = {STORE_RAW_RETENTION_DEFAULT, STORE_MINUTE_RETENTION_DEFAULT,
                               STORE_HOUR_RETENTION_DEFAULT};
        while (h->ts + STEP <= now - 10 * MINUTE) {
                if ((r = append(h)) < 0)
                        return r;
                if (h->i % 48 == 0)
                        while ((r = store_maintain(h->s, h->ts, &keep)) == 1)
                                ;
                if (r < 0)
                        return r;
        }
        while ((r = store_maintain(h->s, now, &keep)) == 1)
                ;
        return r;
}

/* GET /metrics over a fresh connection (as Prometheus without keep-alive); returns the body's
 * length, or -1. */
static ssize_t scrape(int port, const char *accept, char *buf, size_t size)
{
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -1;
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
                close(fd);
                return -1;
        }
        char req[512];
        int n = snprintf(req, sizeof(req),
                         "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: %s\r\n"
                         "Connection: close\r\n\r\n",
                         accept);
        if (write(fd, req, (size_t)n) != n) {
                close(fd);
                return -1;
        }
        size_t got = 0;
        ssize_t k;
        while ((k = read(fd, buf + got, size - 1 - got)) > 0)
                got += (size_t)k;
        close(fd);
        buf[got] = '\0';
        if (strncmp(buf, "HTTP/1.1 200", 12) != 0)
                return -1;
        char *body = strstr(buf, "\r\n\r\n");
        return body ? (ssize_t)(got - (size_t)(body + 4 - buf)) : -1;
}

static uint64_t proc_cpu_ticks(pid_t pid)
{
        char path[64], buf[1024];
        snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
        if (read_text(path, buf, sizeof(buf)) <= 0)
                return 0;
        const char *p = strrchr(buf, ')');
        unsigned long long ut = 0, st = 0;
        if (!p ||
            sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
                return 0;
        return ut + st;
}

static unsigned long proc_kib(pid_t pid, const char *field)
{
        char path[64], buf[4096];
        snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
        if (read_text(path, buf, sizeof(buf)) <= 0)
                return 0;
        const char *p = strstr(buf, field);
        return p ? strtoul(p + strlen(field) + 1, NULL, 10) : 0;
}

/* A port nothing listens on now: the kernel's pick for port 0. */
static int free_port(void)
{
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        struct sockaddr_in a = {.sin_family = AF_INET};
        socklen_t len = sizeof(a);
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        int port = -1;
        if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
            getsockname(fd, (struct sockaddr *)&a, &len) == 0)
                port = ntohs(a.sin_port);
        if (fd >= 0)
                close(fd);
        return port;
}

static pid_t start_exporter(const char *exe, const char *db, int port, bool as_nobody)
{
        char listen[64];
        snprintf(listen, sizeof(listen), "127.0.0.1:%d", port);
        pid_t pid = fork();
        if (pid == 0) {
                if (as_nobody) {
                        gid_t g = 65534;
                        if (setgroups(1, &g) < 0 || setresgid(g, g, g) < 0 ||
                            setresuid(65534, 65534, 65534) < 0)
                                _exit(126);
                }
                execl(exe, exe, "--db", db, "--listen", listen, "--log-level", "warning",
                      (char *)NULL);
                _exit(127);
        }
        char buf[65536];
        for (int k = 0; k < 200; k++) {
                if (scrape(port, "*/*", buf, sizeof(buf)) > 0)
                        return pid;
                usleep(25000);
        }
        kill(pid, SIGTERM);
        waitpid(pid, NULL, 0);
        return -1;
}

typedef struct Row {
        double us_per_scrape;
        size_t bytes;
} Row;

static int run_scrapes(History *h, pid_t pid, int port, const char *accept, int n, Row *ret)
{
        size_t size = 8 << 20;
        char *buf = malloc(size);
        if (!buf)
                return -ENOMEM;
        uint64_t before = proc_cpu_ticks(pid);
        ssize_t len = 0;
        for (int k = 0; k < n; k++) {
                len = scrape(port, accept, buf, size);
                if (len <= 0) {
                        free(buf);
                        return -EIO;
                }
                if (k % 10 == 9 && append(h) < 0) { /* the writer goes on meanwhile */
                        free(buf);
                        return -EIO;
                }
        }
        uint64_t ticks = proc_cpu_ticks(pid) - before;
        free(buf);
        ret->us_per_scrape = (double)ticks * 1e6 / (double)sysconf(_SC_CLK_TCK) / n;
        ret->bytes = (size_t)len;
        return 0;
}

static double time_read(const char *path, bool totals, int n)
{
        Store *s;
        char err[256];
        if (store_open(path, STORE_READ_ONLY, &s, err, sizeof(err)) < 0)
                return -1;
        uint64_t t0 = cpu_now_ns();
        for (int k = 0; k < n; k++) {
                if (totals) {
                        StoreTotals t;
                        if (store_read_totals(s, &t) < 0)
                                break;
                        store_totals_done(&t);
                } else {
                        StoreServices sv;
                        if (store_read_services(s, 0, INT64_MAX / 4, &sv) < 0)
                                break;
                        store_services_done(&sv);
                }
        }
        double us = (double)(cpu_now_ns() - t0) / 1e3 / n;
        store_close(s);
        return us;
}

int main(int argc, char **argv)
{
        static const struct option opts[] = {{"scrapes", required_argument, NULL, 's'},
                                             {"units", required_argument, NULL, 'u'},
                                             {"days", required_argument, NULL, 'd'},
                                             {"keep", required_argument, NULL, 'k'},
                                             {0}};
        int n_scrapes = 200, days = 365, c;
        size_t n_units = 500;
        const char *keep = NULL;
        while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
                switch (c) {
                case 's':
                        n_scrapes = atoi(optarg);
                        break;
                case 'u':
                        n_units = (size_t)atoi(optarg);
                        break;
                case 'd':
                        days = atoi(optarg);
                        break;
                case 'k':
                        keep = optarg;
                        break;
                default:
                        fprintf(stderr,
                                "usage: bench-exporter [EXPORTER] [--scrapes N] [--units N] "
                                "[--days N] [--keep DIR]\n");
                        return 2;
                }
        }
        if (n_scrapes < 10 || n_units < ACTIVE || days < 1) {
                fprintf(stderr, "bench-exporter: at least 10 scrapes, %d units, 1 day\n", ACTIVE);
                return 2;
        }
        const char *exe = optind < argc ? argv[optind] : JOULES_EXPORTER_PATH;
        if (access(exe, X_OK) < 0) {
                fprintf(stderr, "bench-exporter: %s: %s\n", exe, strerror(errno));
                return 77;
        }
        signal(SIGPIPE, SIG_IGN);

        char dir[] = "/tmp/bench-exporter-XXXXXX", sub[64], path[128];
        if (!mkdtemp(dir))
                return 1;
        (void)chmod(dir, 0711);
        snprintf(sub, sizeof(sub), "%s/lib", dir);
        snprintf(path, sizeof(path), "%s/joules.db", sub);
        if (mkdir(sub, 0750) < 0)
                return 1;
        History h = {0};
        uint64_t t0 = now_monotonic_ns();
        if (build(path, &h, n_units, days) < 0) {
                fprintf(stderr, "bench-exporter: building the history failed: %s\n",
                        store_last_error(h.s));
                return 1;
        }
        struct stat st;
        stat(path, &st);
        printf("history: %zu units + idle, %d days of %lld-minute ticks with %d units each "
               "(%llu ticks), raw 7 d / minutes 90 d / hours and days kept; %.1f MiB, built in "
               "%.1f s\n",
               n_units, days, (long long)(STEP / MINUTE), ACTIVE, (unsigned long long)h.i,
               (double)st.st_size / 1048576.0, (double)(now_monotonic_ns() - t0) / 1e9);

        double tot = time_read(path, true, 50), stat_us = time_read(path, false, 5);
        printf("in-process, read-only handle: store_read_totals %.0f us CPU; the units' totals "
               "summed through the tiers instead (store_read_services over all time) %.0f us\n",
               tot, stat_us);

        printf("\n%-42s %8s %12s %12s %10s %10s\n", "exporter run", "scrapes", "CPU us/scrape",
               "page bytes", "VmRSS KiB", "VmHWM KiB");
        int rc = 0;
        for (int pass = 0; pass < 2 && rc == 0; pass++) {
                bool nobody = pass == 1;
                if (nobody) {
                        if (geteuid() != 0)
                                break;
                        /* the unit's view: group read on the file and its -shm, nothing more */
                        char f[160];
                        const char *sfx[] = {"", "-wal", "-shm"};
                        (void)chown(sub, 0, 65534);
                        for (size_t k = 0; k < 3; k++) {
                                snprintf(f, sizeof(f), "%s%s", path, sfx[k]);
                                (void)chown(f, 0, 65534);
                                (void)chmod(f, 0640);
                        }
                }
                int port = free_port();
                pid_t pid = port > 0 ? start_exporter(exe, path, port, nobody) : -1;
                if (pid < 0) {
                        fprintf(stderr, "bench-exporter: %s did not start\n", exe);
                        rc = 1;
                        break;
                }
                static const struct {
                        const char *name, *accept;
                } fmts[] = {{"text 0.0.4", "text/plain;version=0.0.4"},
                            {"OpenMetrics 1.0", "application/openmetrics-text;version=1.0.0"}};
                for (size_t k = 0; k < ELEMENTSOF(fmts) && rc == 0; k++) {
                        Row row;
                        if (run_scrapes(&h, pid, port, fmts[k].accept, n_scrapes, &row) < 0) {
                                fprintf(stderr, "bench-exporter: a scrape failed\n");
                                rc = 1;
                                break;
                        }
                        char name[64];
                        snprintf(name, sizeof(name), "%s, %s", fmts[k].name,
                                 nobody ? "read-only -shm (as the unit)" : "as root");
                        printf("%-42s %8d %12.0f %12zu %10lu %10lu\n", name, n_scrapes,
                               row.us_per_scrape, row.bytes, proc_kib(pid, "VmRSS:"),
                               proc_kib(pid, "VmHWM:"));
                }
                kill(pid, SIGTERM);
                waitpid(pid, NULL, 0);
        }
        store_close(h.s);
        free(h.ids);
        free(h.uv);
        char cmd[256];
        if (keep) {
                snprintf(cmd, sizeof(cmd), "cp %s '%s'/", path, keep);
                (void)!system(cmd);
        }
        snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
        (void)!system(cmd);
        return rc;
}
