/* bench-ingest: what counting requests costs, on the sender's side and on joulesd's.
 *
 * Starts build/bin/joulesd (the model energy source, so it runs anywhere; 1 s ticks) with an
 * ingest socket in a scratch directory, measures its CPU while idle (the ticks' own cost), then:
 *
 *   1. single-line datagrams ("requests:1|c", one send() each, as joules_ingest_count does) from
 *      --senders threads with blocking sends, so the daemon is kept busy: lines/s, and joulesd's
 *      CPU per line;
 *   2. the same with 20 lines per datagram;
 *   3. the aggregating counter (JoulesCounter): --threads threads call joules_counter_add
 *      --counts times in all at a steady pace (a fixed piece of work between counts), then
 *      joules_counter_flush. The sender's CPU per count is the thread CPU time of that loop
 *      minus the same loop without the add (median of --rounds pairs); joulesd's CPU per count
 *      is its CPU over the runs, idle rate subtracted, divided by the counts.
 *
 * All CPU figures are CPU time, not wall time: joulesd's from /proc/PID/schedstat (its main
 * thread, where the ingest socket is read; nanoseconds), the sender's from
 * CLOCK_THREAD_CPUTIME_ID per thread. The machine is shared, so wall-time rates (lines/s) move
 * with its load; "capacity" is 1 s divided by joulesd's CPU per line: what one CPU running joulesd
 * would take. Every count is checked to have landed (joulesd's own stored counts) before a
 * figure is printed.
 *
 *   bench-ingest [--lines N] [--senders T] [--counts N] [--threads T] [--rounds R] [--work W]
 *                [--qlen Q]
 *
 * --qlen Q runs joulesd and the senders in a private network namespace whose
 * net.unix.max_dgram_qlen is Q (root only): a unix datagram socket queues at most that many
 * datagrams, 10 by the kernel's default and 512 on a host where systemd applied its
 * 50-default.conf. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/util.h"
#include "include/joules/ingest.h"
#include "storage/store.h"

static const char *sock_path;

static uint64_t cpu_ns(pid_t pid)
{
        char p[64], buf[128];
        snprintf(p, sizeof(p), "/proc/%d/schedstat", (int)pid);
        if (read_text(p, buf, sizeof(buf)) < 0)
                return 0;
        return strtoull(buf, NULL, 10);
}

static uint64_t thread_cpu_ns(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
        return (uint64_t)ts.tv_sec * NSEC_PER_SEC + (uint64_t)ts.tv_nsec;
}

/* Every "requests" count joulesd has stored, over all units. */
static double stored_requests(const char *db)
{
        Store *s;
        if (store_open(db, STORE_READ_ONLY, &s, NULL, 0) < 0)
                return -1;
        StoreServices sv;
        double n = 0;
        if (store_read_services(s, 0, INT64_MAX, &sv) >= 0) {
                for (size_t i = 0; i < sv.n_units; i++)
                        n += sv.units[i].requests;
                store_services_done(&sv);
        }
        store_close(s);
        return n;
}

/* Lines joulesd has accepted since it started (each of the counter's datagrams is one line). */
static double accepted_lines(const char *db)
{
        Store *s;
        if (store_open(db, STORE_READ_ONLY, &s, NULL, 0) < 0)
                return -1;
        StoreStatus st;
        double n = -1;
        if (store_read_status(s, &st) >= 0) {
                n = (double)st.ingest.accepted;
                store_status_done(&st);
        }
        store_close(s);
        return n;
}

static bool wait_stored(const char *db, double expected)
{
        double got = 0;
        for (int k = 0; k < 100 && (got = stored_requests(db)) < expected; k++)
                sleep_us(100000);
        if (got != expected)
                fprintf(stderr, "bench-ingest: joulesd stored %.0f counts, %.0f were sent\n", got,
                        expected);
        return got == expected;
}

/* ---- 1, 2: datagrams of `per` lines, blocking sends ---- */

typedef struct Sender {
        uint64_t lines;
        unsigned per;
        int rc;
} Sender;

static void *send_lines(void *arg)
{
        Sender *s = arg;
        int fd = joules_ingest_open(sock_path);
        if (fd < 0) {
                s->rc = fd;
                return NULL;
        }
        int fl = fcntl(fd, F_GETFL);
        (void)fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
        char buf[4096];
        const char *line = "requests:1|c\n";
        size_t ll = strlen(line), len = 0;
        for (unsigned i = 0; i < s->per; i++, len += ll)
                memcpy(buf + len, line, ll);
        for (uint64_t sent = 0; sent < s->lines;) {
                unsigned k = s->lines - sent < s->per ? (unsigned)(s->lines - sent) : s->per;
                /* a blocking send: waits exactly until the daemon has made room */
                if (send(fd, buf, k * ll, MSG_NOSIGNAL) < 0) {
                        s->rc = -errno;
                        break;
                }
                sent += k;
        }
        close(fd);
        return NULL;
}

/* ---- 3: the aggregating counter ---- */

static JoulesCounter counter = JOULES_COUNTER_INIT("requests");

typedef struct Adder {
        uint64_t counts;
        unsigned work;
        bool add;
        uint64_t cpu_ns;
        uint64_t sink;
} Adder;

/* The steady pace: `work` rounds of an LCG between counts, a stand-in for serving a request. */
static void *adder(void *arg)
{
        Adder *a = arg;
        uint64_t x = 88172645463325252u, t0 = thread_cpu_ns();
        for (uint64_t i = 0; i < a->counts; i++) {
                for (unsigned w = 0; w < a->work; w++)
                        x = x * 6364136223846793005u + 1442695040888963407u;
                __asm__ volatile("" : "+r"(x)); /* the work is not optimised away */
                if (a->add)
                        (void)joules_counter_add(&counter, 1);
        }
        a->cpu_ns = thread_cpu_ns() - t0;
        a->sink = x;
        return NULL;
}

/* CPU ns per count of `threads` threads doing `counts` in all, with or without the add. */
static double adders_run(unsigned threads, uint64_t counts, unsigned work, bool add)
{
        pthread_t t[64];
        Adder a[64];
        for (unsigned i = 0; i < threads; i++) {
                a[i] = (Adder){.counts = counts / threads + (i < counts % threads),
                               .work = work,
                               .add = add};
                if (pthread_create(&t[i], NULL, adder, &a[i]) != 0)
                        return -1;
        }
        uint64_t cpu = 0;
        for (unsigned i = 0; i < threads; i++) {
                pthread_join(t[i], NULL);
                cpu += a[i].cpu_ns;
        }
        return (double)cpu / (double)counts;
}

static int cmp_double(const void *a, const void *b)
{
        double x = *(const double *)a, y = *(const double *)b;
        return x < y ? -1 : x > y;
}

static int enter_netns(int qlen)
{
        if (unshare(CLONE_NEWNET) < 0) {
                fprintf(stderr, "bench-ingest: --qlen needs root (unshare: %s)\n", strerror(errno));
                return -1;
        }
        FILE *f = fopen("/proc/sys/net/unix/max_dgram_qlen", "w");
        if (!f || fprintf(f, "%d\n", qlen) < 0 || fclose(f) != 0) {
                fprintf(stderr, "bench-ingest: setting net.unix.max_dgram_qlen: %s\n",
                        strerror(errno));
                return -1;
        }
        return 0;
}

int main(int argc, char **argv)
{
        static const struct option opts[] = {
                {"lines", required_argument, NULL, 'l'},  {"senders", required_argument, NULL, 's'},
                {"counts", required_argument, NULL, 'c'}, {"threads", required_argument, NULL, 't'},
                {"rounds", required_argument, NULL, 'r'}, {"work", required_argument, NULL, 'w'},
                {"qlen", required_argument, NULL, 'q'},   {0},
        };
        uint64_t lines = 500000, counts = 1000000;
        unsigned senders = 2, threads = 4, rounds = 5, work = 100;
        int qlen = 0, c;
        while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
                unsigned long long v = optarg ? strtoull(optarg, NULL, 10) : 0;
                switch (c) {
                case 'l':
                        lines = v;
                        break;
                case 's':
                        senders = v < 1 ? 1 : v > 64 ? 64 : (unsigned)v;
                        break;
                case 'c':
                        counts = v < 1 ? 1 : v;
                        break;
                case 't':
                        threads = v < 1 ? 1 : v > 64 ? 64 : (unsigned)v;
                        break;
                case 'r':
                        rounds = v < 1 ? 1 : v > 99 ? 99 : (unsigned)v;
                        break;
                case 'w':
                        work = (unsigned)v;
                        break;
                case 'q':
                        qlen = (int)v;
                        break;
                default:
                        return 2;
                }
        }
        if (qlen > 0 && enter_netns(qlen) < 0)
                return 77;
        char exe[PATH_MAX], joulesd[PATH_MAX + 32];
        ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
        if (n < 0)
                return 1;
        exe[n] = '\0';
        *strrchr(exe, '/') = '\0'; /* build/bench */
        snprintf(joulesd, sizeof(joulesd), "%s/../bin/joulesd", exe);
        char dir[] = "/tmp/joules-bench-ingest-XXXXXX", db[128], sock[128], qtext[32];
        if (!mkdtemp(dir))
                return 1;
        snprintf(db, sizeof(db), "%s/joules.db", dir);
        snprintf(sock, sizeof(sock), "%s/ingest.sock", dir);
        sock_path = sock;
        if (read_text("/proc/sys/net/unix/max_dgram_qlen", qtext, sizeof(qtext)) < 0)
                snprintf(qtext, sizeof(qtext), "?");
        qtext[strcspn(qtext, "\n")] = '\0';

        pid_t pid = fork();
        if (pid == 0) {
                int null = open("/dev/null", O_WRONLY);
                dup2(null, STDERR_FILENO);
                execl(joulesd, "joulesd", "--db", db, "--interval", "1s", "--energy-source",
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
        joules_ingest_close(fd);
        sleep_us(500000);
        /* the ticks' own cost */
        uint64_t c0 = cpu_ns(pid), w0 = now_monotonic_ns();
        sleep_us(3 * USEC_PER_SEC);
        double idle_rate = (double)(cpu_ns(pid) - c0) / (double)(now_monotonic_ns() - w0);
        printf("bench-ingest: net.unix.max_dgram_qlen %s; joulesd idle (1 s ticks): %.3f%% of a "
               "CPU\n",
               qtext, 100 * idle_rate);

        static const unsigned shapes[] = {1, 20};
        double expected = 0, single_us = 0;
        int rc = 0;
        for (size_t i = 0; i < ELEMENTSOF(shapes) && lines > 0; i++) {
                uint64_t cpu0 = cpu_ns(pid), t0 = now_monotonic_ns();
                pthread_t t[64];
                Sender s[64];
                for (unsigned k = 0; k < senders; k++) {
                        s[k] = (Sender){.lines = lines / senders + (k < lines % senders),
                                        .per = shapes[i]};
                        pthread_create(&t[k], NULL, send_lines, &s[k]);
                }
                for (unsigned k = 0; k < senders; k++) {
                        pthread_join(t[k], NULL);
                        if (s[k].rc < 0) {
                                fprintf(stderr, "bench-ingest: send: %s\n", strerror(-s[k].rc));
                                rc = 1;
                        }
                }
                uint64_t t1 = now_monotonic_ns();
                sleep_us(50000); /* the last datagrams are read */
                uint64_t cpu1 = cpu_ns(pid), t2 = now_monotonic_ns();
                expected += (double)lines;
                bool ok = wait_stored(db, expected);
                double wall = (double)(t1 - t0) / 1e9;
                double cpu = (double)(cpu1 - cpu0) - idle_rate * (double)(t2 - t0);
                double per_line = cpu / 1e3 / (double)lines;
                printf("bench-ingest: %2u line(s)/datagram, %u sender(s): %llu lines in %.3f s = "
                       "%.0f lines/s; joulesd CPU %.3f us/line (capacity %.0f lines/s per CPU)%s\n",
                       shapes[i], senders, (unsigned long long)lines, wall, (double)lines / wall,
                       per_line, per_line > 0 ? 1e6 / per_line : 0.0,
                       ok ? "" : "  [NOT ALL STORED]");
                rc |= !ok;
                if (shapes[i] == 1)
                        single_us = per_line;
        }

        /* 3: the aggregating counter */
        setenv("JOULES_INGEST_SOCKET", sock, 1);
        double lines0 = accepted_lines(db);
        double diffs[99], with_add[99], without[99];
        uint64_t cpu0 = cpu_ns(pid), t0 = now_monotonic_ns();
        for (unsigned r = 0; r < rounds; r++) {
                without[r] = adders_run(threads, counts, work, false);
                with_add[r] = adders_run(threads, counts, work, true);
                diffs[r] = with_add[r] - without[r];
        }
        if (joules_counter_flush(&counter) < 0) {
                sleep_us(100000);
                (void)joules_counter_flush(&counter);
        }
        sleep_us(50000);
        uint64_t cpu1 = cpu_ns(pid), t1 = now_monotonic_ns();
        expected += (double)counts * rounds;
        bool ok = wait_stored(db, expected);
        rc |= !ok;
        double dgrams = accepted_lines(db) - lines0;
        qsort(diffs, rounds, sizeof(double), cmp_double);
        qsort(with_add, rounds, sizeof(double), cmp_double);
        qsort(without, rounds, sizeof(double), cmp_double);
        /* the idle rate again, after: the counter's own cost is below the noise of either, so
         * the lower one gives an upper bound for it */
        uint64_t c2 = cpu_ns(pid), w2 = now_monotonic_ns();
        sleep_us(3 * USEC_PER_SEC);
        double idle_after = (double)(cpu_ns(pid) - c2) / (double)(now_monotonic_ns() - w2);
        double idle_low = idle_after < idle_rate ? idle_after : idle_rate;
        double d_cpu = (double)(cpu1 - cpu0) - idle_rate * (double)(t1 - t0);
        double d_max = (double)(cpu1 - cpu0) - idle_low * (double)(t1 - t0);
        printf("bench-ingest: aggregating counter, %u threads x %llu counts in all, %u rounds "
               "(work %u): sender CPU %.1f ns/count with the add, %.1f ns without: %.4f us/count "
               "above the empty loop (median; range %.4f to %.4f)\n",
               threads, (unsigned long long)counts, rounds, work, with_add[rounds / 2],
               without[rounds / 2], diffs[rounds / 2] / 1e3, diffs[0] / 1e3,
               diffs[rounds - 1] / 1e3);
        double total = (double)counts * rounds;
        printf("bench-ingest: aggregating counter: %.0f counts in %.0f datagrams over %.1f s; "
               "joulesd CPU %.2f ms with the idle rate before subtracted = %.5f us/count; at most "
               "%.5f us/count with the lower of the idle rates before and after (%.3f%%, %.3f%%)",
               total, dgrams, (double)(t1 - t0) / 1e9, d_cpu / 1e6, d_cpu / 1e3 / total,
               d_max / 1e3 / total, 100 * idle_rate, 100 * idle_after);
        if (single_us > 0)
                printf("; from the datagrams at %.3f us each: %.6f us/count", single_us,
                       dgrams * single_us / total);
        printf("%s\n", ok ? "" : "  [NOT ALL STORED]");
        joules_counter_close(&counter);
        kill(pid, SIGTERM);
        waitpid(pid, NULL, 0);
        char cmd[128];
        snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
        (void)!system(cmd);
        return rc;
}
