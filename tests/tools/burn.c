/* A CPU burner for integration tests: burns a fraction of one CPU in short slices, so that a
 * sampler reading every 200 ms sees a steady rate.
 *
 *   burn --duty 0.5 --seconds 5 [--period-ms 10] [--comm NAME] [--threads N]
 *        [--late-threads M]
 *
 * Each period it spins until its own CPU time (CLOCK_THREAD_CPUTIME_ID) has grown by duty * period,
 * then sleeps until the period's end (an absolute CLOCK_MONOTONIC deadline, so periods do not
 * drift). Counting CPU time rather than wall time keeps the rate right when the CPU is shared: a
 * burner that is preempted catches up within its period instead of burning less. --seconds 0 (the
 * default) runs until SIGTERM or SIGINT; either ends it with exit code 0. --comm renames the
 * process (PR_SET_NAME, any bytes, as any user may): the hostile-name tests use it. --threads N
 * burns in N threads of one process (each the same fraction of its own CPU), and --late-threads M
 * starts M more such threads on SIGUSR1: a multi-threaded process whose threads partly appear after
 * a counter was opened on it, when the test says so. */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>

static volatile sig_atomic_t stop, go_late;

static void on_signal(int sig)
{
        if (sig == SIGUSR1)
                go_late = 1;
        else
                stop = 1;
}

static int64_t now_ns(clockid_t c)
{
        struct timespec ts;
        clock_gettime(c, &ts);
        return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void usage(FILE *f)
{
        fprintf(f, "usage: burn [--duty F] [--seconds S] [--period-ms N] [--comm NAME]\n"
                   "\n"
                   "Burns the fraction F (0 < F <= 1, default 1) of one CPU in periods of N ms\n"
                   "(default 10) for S seconds (default 0: until SIGTERM or SIGINT), in N threads\n"
                   "(--threads, default 1), M more on SIGUSR1 (--late-threads M).\n");
}

static int parse_double(const char *s, double *ret)
{
        char *end;
        errno = 0;
        double v = strtod(s, &end);
        if (errno || end == s || *end)
                return -1;
        *ret = v;
        return 0;
}

static int64_t period, burn_ns, end_ns;

/* One burning thread: until stop or end_ns. */
static void *burner(void *arg)
{
        (void)arg;
        int64_t deadline = now_ns(CLOCK_MONOTONIC);
        volatile uint64_t sink = 0;
        while (!stop) {
                int64_t cpu0 = now_ns(CLOCK_THREAD_CPUTIME_ID);
                while (!stop && now_ns(CLOCK_THREAD_CPUTIME_ID) - cpu0 < burn_ns)
                        for (int i = 0; i < 1000; i++)
                                sink += (uint64_t)i * 2654435761u;
                deadline += period;
                int64_t now = now_ns(CLOCK_MONOTONIC);
                if (now >= end_ns)
                        break;
                if (deadline < now - period)
                        deadline = now; /* far behind (stopped, starved): do not try to catch up */
                if (deadline > now) {
                        struct timespec ts = {.tv_sec = deadline / 1000000000,
                                              .tv_nsec = deadline % 1000000000};
                        while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) ==
                                       EINTR &&
                               !stop)
                                ;
                }
        }
        (void)sink; /* the work is the point; clang warns of a value never read */
        return NULL;
}

static int start_threads(pthread_t *t, long n)
{
        for (long i = 0; i < n; i++) {
                int r = pthread_create(&t[i], NULL, burner, NULL);
                if (r != 0) {
                        fprintf(stderr, "burn: pthread_create: %s\n", strerror(r));
                        return -1;
                }
        }
        return 0;
}

int main(int argc, char **argv)
{
        static const struct option opts[] = {
                {"duty", required_argument, NULL, 'd'},
                {"seconds", required_argument, NULL, 's'},
                {"period-ms", required_argument, NULL, 'p'},
                {"comm", required_argument, NULL, 'c'},
                {"threads", required_argument, NULL, 't'},
                {"late-threads", required_argument, NULL, 'l'},
                {"help", no_argument, NULL, 'h'},
                {0},
        };
        double duty = 1.0, seconds = 0, period_ms = 10, threads = 1, late = 0;
        int c;
        while ((c = getopt_long(argc, argv, "d:s:p:c:t:l:h", opts, NULL)) >= 0) {
                switch (c) {
                case 'd':
                        if (parse_double(optarg, &duty) < 0 || !(duty > 0 && duty <= 1)) {
                                fprintf(stderr, "burn: --duty wants 0 < F <= 1\n");
                                return 2;
                        }
                        break;
                case 's':
                        if (parse_double(optarg, &seconds) < 0 || !(seconds >= 0)) {
                                fprintf(stderr, "burn: --seconds wants S >= 0\n");
                                return 2;
                        }
                        break;
                case 'p':
                        if (parse_double(optarg, &period_ms) < 0 ||
                            !(period_ms >= 1 && period_ms <= 1000)) {
                                fprintf(stderr, "burn: --period-ms wants 1..1000\n");
                                return 2;
                        }
                        break;
                case 'c':
                        if (prctl(PR_SET_NAME, optarg, 0, 0, 0) < 0) {
                                fprintf(stderr, "burn: PR_SET_NAME: %s\n", strerror(errno));
                                return 1;
                        }
                        break;
                case 't':
                case 'l':
                        if (parse_double(optarg, c == 't' ? &threads : &late) < 0 ||
                            !((c == 't' ? threads >= 1 : late >= 0) &&
                              (c == 't' ? threads : late) <= 64)) {
                                fprintf(stderr, "burn: --threads wants 1..64, --late-threads "
                                                "0..64\n");
                                return 2;
                        }
                        break;
                case 'h':
                        usage(stdout);
                        return 0;
                default:
                        usage(stderr);
                        return 2;
                }
        }
        if (optind < argc) {
                usage(stderr);
                return 2;
        }

        struct sigaction sa = {.sa_handler = on_signal};
        sigemptyset(&sa.sa_mask);
        sigaction(SIGTERM, &sa, NULL);
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGUSR1, &sa, NULL);

        period = (int64_t)(period_ms * 1e6);
        burn_ns = (int64_t)(duty * (double)period);
        const int64_t start = now_ns(CLOCK_MONOTONIC);
        end_ns = seconds > 0 ? start + (int64_t)(seconds * 1e9) : INT64_MAX;

        pthread_t t[128];
        long n = (long)threads - 1;
        if (start_threads(t, n) < 0)
                return 1;
        if (late > 0) {
                /* the main thread waits for SIGUSR1, starts the late ones, then burns too */
                /* polled: the signal may be handled by any thread, waking none in particular */
                while (!stop && !go_late) {
                        struct timespec ts = {.tv_nsec = 10000000};
                        nanosleep(&ts, NULL);
                }
                if (!stop && start_threads(t + n, (long)late) < 0)
                        return 1;
                if (!stop)
                        n += (long)late;
        }
        burner(NULL);
        for (long i = 0; i < n; i++)
                pthread_join(t[i], NULL);
        return 0;
}
