/* bench-ingest: the ingest socket's throughput (lines per second) and the real joulesd's CPU per
 * 100,000 lines.
 *
 * Starts build/bin/joulesd (the model energy source, so it runs anywhere) with an ingest socket
 * in a scratch directory, measures its CPU while idle (the ticks' own cost), then sends StatsD
 * lines as fast as the daemon takes them (a blocking send waits while the socket's queue is full,
 * so the rate is the daemon's), in two shapes: one line per datagram and 20 lines per datagram. The
 * daemon's CPU is read from /proc/PID/schedstat (nanoseconds; ingest runs on the main thread) and
 * the idle rate is subtracted. Every line is checked to have been accepted (from the daemon's own
 * stored counts) before a figure is printed.
 *
 *   bench-ingest [--lines N]   (default 500000 per shape) */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/util.h"
#include "include/joules/ingest.h"
#include "storage/store.h"

static uint64_t cpu_ns(pid_t pid)
{
        char p[64], buf[128];
        snprintf(p, sizeof(p), "/proc/%d/schedstat", (int)pid);
        if (read_text(p, buf, sizeof(buf)) < 0)
                return 0;
        return strtoull(buf, NULL, 10);
}

static uint64_t accepted(const char *db)
{
        Store *s;
        if (store_open(db, STORE_READ_ONLY, &s, NULL, 0) < 0)
                return 0;
        StoreStatus st;
        uint64_t n = 0;
        if (store_read_status(s, &st) >= 0) {
                n = st.ingest.accepted;
                store_status_done(&st);
        }
        store_close(s);
        return n;
}

static int send_lines(int fd, uint64_t lines, unsigned per)
{
        char buf[4096];
        const char *line = "requests:1|c\n";
        size_t ll = strlen(line), len = 0;
        for (unsigned i = 0; i < per; i++, len += ll)
                memcpy(buf + len, line, ll);
        for (uint64_t sent = 0; sent < lines;) {
                unsigned k = lines - sent < per ? (unsigned)(lines - sent) : per;
                /* a blocking send: waits exactly until the daemon has made room */
                if (send(fd, buf, k * ll, MSG_NOSIGNAL) < 0)
                        return -errno;
                sent += k;
        }
        return 0;
}

int main(int argc, char **argv)
{
        uint64_t lines = 500000;
        if (argc == 3 && strcmp(argv[1], "--lines") == 0)
                lines = strtoull(argv[2], NULL, 10);
        char exe[PATH_MAX], joulesd[PATH_MAX + 32];
        ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
        if (n < 0)
                return 1;
        exe[n] = '\0';
        *strrchr(exe, '/') = '\0'; /* build/bench */
        snprintf(joulesd, sizeof(joulesd), "%s/../bin/joulesd", exe);
        char dir[] = "/tmp/joules-bench-ingest-XXXXXX", db[128], sock[128];
        if (!mkdtemp(dir))
                return 1;
        snprintf(db, sizeof(db), "%s/joules.db", dir);
        snprintf(sock, sizeof(sock), "%s/ingest.sock", dir);

        pid_t pid = fork();
        if (pid == 0) {
                int null = open("/dev/null", O_WRONLY);
                dup2(null, STDERR_FILENO);
                execl(joulesd, "joulesd", "--db", db, "--interval", "200ms", "--energy-source",
                      "model", "--events", "none", "--ingest-socket", sock, "--config", "/dev/null",
                      (char *)NULL);
                _exit(127);
        }
        int fd = -1;
        for (int i = 0; i < 200 && fd < 0; i++) {
                sleep_us(25000);
                fd = joules_ingest_open(sock);
        }
        if (fd < 0) {
                fprintf(stderr, "bench-ingest: joulesd did not open %s\n", sock);
                kill(pid, SIGTERM);
                return 1;
        }
        int fl = fcntl(fd, F_GETFL);
        (void)fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
        sleep_us(500000);
        /* the ticks' own cost */
        uint64_t c0 = cpu_ns(pid), w0 = now_monotonic_ns();
        sleep_us(2 * USEC_PER_SEC);
        double idle_rate = (double)(cpu_ns(pid) - c0) / (double)(now_monotonic_ns() - w0);
        printf("bench-ingest: joulesd idle (200 ms ticks): %.3f%% of a CPU\n", 100 * idle_rate);

        static const unsigned shapes[] = {1, 20};
        uint64_t expected = 0;
        int rc = 0;
        for (size_t i = 0; i < ELEMENTSOF(shapes); i++) {
                uint64_t cpu0 = cpu_ns(pid), t0 = now_monotonic_ns();
                if (send_lines(fd, lines, shapes[i]) < 0) {
                        fprintf(stderr, "bench-ingest: send: %s\n", strerror(errno));
                        rc = 1;
                        break;
                }
                uint64_t t1 = now_monotonic_ns();
                sleep_us(50000); /* the last datagrams are read */
                uint64_t cpu1 = cpu_ns(pid), t2 = now_monotonic_ns();
                expected += lines;
                uint64_t got = 0;
                for (int k = 0; k < 100 && (got = accepted(db)) < expected; k++)
                        sleep_us(50000);
                double wall = (double)(t1 - t0) / 1e9;
                double cpu = (double)(cpu1 - cpu0) - idle_rate * (double)(t2 - t0);
                printf("bench-ingest: %u line(s)/datagram: %llu lines in %.3f s = %.0f lines/s; "
                       "joulesd CPU %.1f ms per 100,000 lines (%.2f us/line)%s\n",
                       shapes[i], (unsigned long long)lines, wall, (double)lines / wall,
                       cpu / 1e6 * 100000.0 / (double)lines, cpu / 1e3 / (double)lines,
                       got == expected ? "" : "  [NOT ALL ACCEPTED]");
                if (got != expected) {
                        fprintf(stderr, "bench-ingest: %llu accepted, %llu sent\n",
                                (unsigned long long)got, (unsigned long long)expected);
                        rc = 1;
                }
        }
        joules_ingest_close(fd);
        kill(pid, SIGTERM);
        waitpid(pid, NULL, 0);
        char cmd[128];
        snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
        (void)!system(cmd);
        return rc;
}
