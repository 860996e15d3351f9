/* include/joules/ingest.h's aggregating counter against a plain unix datagram socket standing in
 * for joulesd: when it sends, what it sends, and that no count is lost or sent twice when the
 * daemon is missing, restarts or its queue is full, and with four threads adding at once. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <cmocka.h>

#include "common/util.h"
#include "include/joules/ingest.h"

static char dir[64], path[96];

/* A receiving socket at path (a stale one replaced): what joulesd binds. */
static int daemon_bind(void)
{
        (void)unlink(path);
        int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        assert_true(fd >= 0);
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
        assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
        return fd;
}

/* Reads every queued datagram: the sum of their "NAME:N|c" counts; *dgrams how many. */
static unsigned long daemon_read(int fd, const char *name, int *dgrams)
{
        unsigned long sum = 0;
        char buf[256];
        ssize_t n;
        int k = 0;
        while ((n = recv(fd, buf, sizeof(buf) - 1, MSG_DONTWAIT)) > 0) {
                buf[n] = '\0';
                size_t nl = strlen(name);
                if (strncmp(buf, name, nl) != 0 || buf[nl] != ':')
                        fail_msg("unexpected datagram '%s'", buf);
                char *end;
                sum += strtoul(buf + nl + 1, &end, 10);
                assert_string_equal(end, "|c");
                k++;
        }
        if (dgrams)
                *dgrams = k;
        return sum;
}

static int setup(void **state)
{
        snprintf(dir, sizeof(dir), "/tmp/joules-test-client-XXXXXX");
        assert_non_null(mkdtemp(dir));
        snprintf(path, sizeof(path), "%s/ingest.sock", dir);
        setenv("JOULES_INGEST_SOCKET", path, 1);
        return 0;
}

static int teardown(void **state)
{
        (void)unlink(path);
        (void)rmdir(dir);
        return 0;
}

static void test_sends_at_most_every_100ms(void **state)
{
        int d = daemon_bind();
        JoulesCounter c = JOULES_COUNTER_INIT("requests");
        /* the first add sends at once; the next ones within 100 ms only count */
        assert_int_equal(joules_counter_add(&c, 1), 0);
        uint64_t t0 = now_monotonic_ns();
        int dgrams;
        assert_int_equal(daemon_read(d, "requests", &dgrams), 1);
        assert_int_equal(dgrams, 1);
        for (int i = 0; i < 1000; i++)
                assert_int_equal(joules_counter_add(&c, 2), 0);
        unsigned long early = daemon_read(d, "requests", &dgrams);
        /* only a machine that stalled this thread for 100 ms would have sent already */
        if (now_monotonic_ns() - t0 < 50 * NSEC_PER_MSEC) {
                assert_int_equal(early, 0);
                assert_int_equal(dgrams, 0);
        }
        /* once the deadline has passed, the next add sends everything counted */
        sleep_us(120000);
        assert_int_equal(joules_counter_add(&c, 3), 0);
        assert_int_equal(early + daemon_read(d, "requests", &dgrams), 2003);
        assert_int_equal(dgrams, 1);
        /* flush sends what is left, and nothing when nothing is left */
        assert_int_equal(joules_counter_add(&c, 5), 0);
        assert_int_equal(joules_counter_flush(&c), 0);
        assert_int_equal(joules_counter_flush(&c), 0);
        assert_int_equal(daemon_read(d, "requests", &dgrams), 5);
        assert_int_equal(dgrams, 1);
        joules_counter_close(&c);
        close(d);
}

static void test_kept_while_daemon_absent_or_restarting(void **state)
{
        JoulesCounter c = JOULES_COUNTER_INIT("orders");
        /* no socket file yet: nothing is lost, nothing blocks */
        (void)unlink(path);
        assert_int_equal(joules_counter_add(&c, 7), -ENOENT);
        assert_int_equal(joules_counter_flush(&c), -ENOENT);
        int d = daemon_bind();
        assert_int_equal(joules_counter_flush(&c), 0);
        assert_int_equal(daemon_read(d, "orders", NULL), 7);
        /* the daemon stops (socket file left behind, then replaced by a new daemon) */
        close(d);
        assert_int_equal(joules_counter_add(&c, 11), 0); /* within 100 ms: counted only */
        assert_int_equal(joules_counter_flush(&c), -ECONNREFUSED);
        int r = joules_counter_flush(&c);
        assert_true(r == -ECONNREFUSED || r == -ENOENT); /* a new socket, still nobody there */
        d = daemon_bind();
        assert_int_equal(joules_counter_add(&c, 1), 0);
        assert_int_equal(joules_counter_flush(&c), 0); /* a new socket to the new daemon */
        assert_int_equal(daemon_read(d, "orders", NULL), 12);
        joules_counter_close(&c);
        close(d);
}

static void test_kept_when_queue_full(void **state)
{
        int d = daemon_bind();
        /* fill the daemon's queue from another socket */
        int filler = joules_ingest_open(path);
        assert_true(filler >= 0);
        int queued = 0;
        while (joules_ingest_count(filler, "x", 1) == 0)
                queued++;
        assert_true(queued > 0);
        JoulesCounter c = JOULES_COUNTER_INIT("requests");
        assert_int_equal(joules_counter_add(&c, 40), -EAGAIN);
        assert_int_equal(joules_counter_add(&c, 2), 0);
        assert_int_equal(joules_counter_flush(&c), -EAGAIN);
        char buf[64];
        while (recv(d, buf, sizeof(buf), MSG_DONTWAIT) > 0)
                ;
        assert_int_equal(joules_counter_flush(&c), 0);
        assert_int_equal(daemon_read(d, "requests", NULL), 42);
        joules_ingest_close(filler);
        joules_counter_close(&c);
        close(d);
}

static void test_count_over_line_limit_is_split(void **state)
{
        if (sizeof(unsigned long) < 8)
                skip();
        int d = daemon_bind();
        JoulesCounter c = JOULES_COUNTER_INIT("requests");
        c.next = ~0ULL; /* hold the adds back: only flush sends */
        unsigned long big = 2 * JOULES_COUNTER_LINE_MAX + 5;
        assert_int_equal(joules_counter_add(&c, big), 0);
        assert_int_equal(joules_counter_flush(&c), 0);
        assert_int_equal(daemon_read(d, "requests", NULL), JOULES_COUNTER_LINE_MAX);
        assert_int_equal(joules_counter_flush(&c), 0);
        assert_int_equal(joules_counter_flush(&c), 0);
        assert_int_equal(daemon_read(d, "requests", NULL), JOULES_COUNTER_LINE_MAX + 5);
        joules_counter_close(&c);
        close(d);
}

/* Four threads add 250,000 each while the "daemon" reads and is restarted twice. */
typedef struct Shared {
        JoulesCounter *c;
        unsigned long per_thread;
} Shared;

static void *adder(void *arg)
{
        Shared *s = arg;
        for (unsigned long i = 0; i < s->per_thread; i++) {
                (void)joules_counter_add(s->c, 1);
                if (i % 1024 == 0)
                        sched_yield(); /* a steady pace rather than one burst per thread */
        }
        return NULL;
}

static void test_threads_none_lost_none_doubled(void **state)
{
        int d = daemon_bind();
        static JoulesCounter c = JOULES_COUNTER_INIT("requests");
        Shared s = {.c = &c, .per_thread = 250000};
        pthread_t t[4];
        for (int i = 0; i < 4; i++)
                assert_int_equal(pthread_create(&t[i], NULL, adder, &s), 0);
        unsigned long got = 0;
        for (int round = 0; round < 6; round++) {
                sleep_us(30000);
                got += daemon_read(d, "requests", NULL);
                if (round == 1 || round == 3) {
                        /* a restart. Holding the send flag keeps a datagram from slipping in
                         * between the last read and the close (joulesd loses its queue when it
                         * stops; that loss is not the client's); the adders carry on counting */
                        while (atomic_exchange(&c.sending, 1))
                                sched_yield();
                        got += daemon_read(d, "requests", NULL);
                        close(d);
                        atomic_store(&c.sending, 0);
                        sleep_us(150000); /* sends now fail with ECONNREFUSED: kept */
                        d = daemon_bind();
                }
        }
        for (int i = 0; i < 4; i++)
                assert_int_equal(pthread_join(t[i], NULL), 0);
        for (int k = 0; k < 100 && joules_counter_flush(&c) < 0; k++) {
                got += daemon_read(d, "requests", NULL);
                sleep_us(10000);
        }
        got += daemon_read(d, "requests", NULL);
        assert_int_equal(got, 1000000);
        joules_counter_close(&c);
        close(d);
}

/* The same without restarts: exactly every count arrives. */
static void test_threads_exact(void **state)
{
        int d = daemon_bind();
        static JoulesCounter c = JOULES_COUNTER_INIT("requests");
        Shared s = {.c = &c, .per_thread = 250000};
        pthread_t t[4];
        for (int i = 0; i < 4; i++)
                assert_int_equal(pthread_create(&t[i], NULL, adder, &s), 0);
        unsigned long got = 0;
        for (int i = 0; i < 4; i++)
                assert_int_equal(pthread_join(t[i], NULL), 0);
        for (int k = 0; k < 100 && joules_counter_flush(&c) < 0; k++) {
                got += daemon_read(d, "requests", NULL);
                sleep_us(10000);
        }
        got += daemon_read(d, "requests", NULL);
        assert_int_equal(got, 1000000);
        joules_counter_close(&c);
        close(d);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_sends_at_most_every_100ms),
                cmocka_unit_test(test_kept_while_daemon_absent_or_restarting),
                cmocka_unit_test(test_kept_when_queue_full),
                cmocka_unit_test(test_count_over_line_limit_is_split),
                cmocka_unit_test(test_threads_exact),
                cmocka_unit_test(test_threads_none_lost_none_doubled),
        };
        return cmocka_run_group_tests(tests, setup, teardown);
}
