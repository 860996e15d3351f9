/* joules/ingest.h: count requests for joulesd from C, one header, no library to link.
 *
 * For a service: an aggregating counter, as cheap as incrementing an integer.
 *
 *     #include <joules/ingest.h>
 *     static JoulesCounter requests = JOULES_COUNTER_INIT("requests");
 *     joules_counter_add(&requests, 1);         // after each request served, from any thread
 *     joules_counter_flush(&requests);          // at exit: sends what is left
 *
 * joules_counter_add is an atomic add and a read of the coarse monotonic clock (a few
 * nanoseconds, no system call). The accumulated count is sent at most every 100 ms, by whichever
 * thread finds the deadline passed; the others carry on (nobody waits on a lock, the send never
 * blocks). The socket is opened on first use ($JOULES_INGEST_SOCKET or the default) and opened
 * again after joulesd restarts. A count that cannot be sent (joulesd down, its queue full) is kept
 * and sent with the next one, never lost while the process lives; a process that exits without
 * joules_counter_flush loses what it counted in its last 100 ms. After fork() the child inherits
 * the parent's unsent count: flush before forking workers. Needs C11 atomics and the POSIX
 * clocks: -std=gnu11 or later (the default of gcc and clang), or -std=c11 with _GNU_SOURCE.
 *
 * For one-off counts (a batch job, a script): one datagram per call.
 *
 *     int fd = joules_ingest_open(NULL);        // $JOULES_INGEST_SOCKET or /run/joules/ingest.sock
 *     joules_ingest_count(fd, "requests", 1);
 *
 * joules_ingest_count sends one StatsD counter line ("requests:1|c") as one datagram to joulesd's
 * ingest socket: a system call per call, and 0.6 to 3 us of joulesd's CPU per datagram. The daemon
 * learns the sending process from the kernel (SCM_CREDENTIALS) and counts for the systemd unit that
 * process runs in: there is nothing to configure and no way to count for another service. Sending
 * never blocks: when the daemon is not running or its queue is full the count is dropped and -errno
 * returned (-ECONNREFUSED, -ENOENT, -EAGAIN), so the application never waits on its energy meter.
 * The socket is writable by root and the `joules` group.
 *
 * Public domain (CC0): copy it into any project. */
#ifndef JOULES_INGEST_H
#define JOULES_INGEST_H

#include <errno.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define JOULES_INGEST_DEFAULT_SOCKET "/run/joules/ingest.sock"

/* A connected datagram socket, or -errno. path NULL: $JOULES_INGEST_SOCKET, else the default. */
static inline int joules_ingest_open(const char *path)
{
        if (!path)
                path = getenv("JOULES_INGEST_SOCKET");
        if (!path || !*path)
                path = JOULES_INGEST_DEFAULT_SOCKET;
        struct sockaddr_un sa;
        memset(&sa, 0, sizeof(sa));
        sa.sun_family = AF_UNIX;
        if (strlen(path) >= sizeof(sa.sun_path))
                return -ENAMETOOLONG;
        strcpy(sa.sun_path, path);
        int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
                return -errno;
        if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
                int r = -errno;
                close(fd);
                return r;
        }
        return fd;
}

/* Sends raw StatsD lines ("a:1|c\nb:2|c"): 0 or -errno. */
static inline int joules_ingest_send(int fd, const char *lines, size_t len)
{
        if (fd < 0)
                return -EBADF;
        if (send(fd, lines, len, MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
                return -errno;
        return 0;
}

/* Counts n of metric name (letters, digits, '_', '.', '-'): "requests", "orders". */
static inline int joules_ingest_count(int fd, const char *name, unsigned long n)
{
        char line[160];
        int len = snprintf(line, sizeof(line), "%s:%lu|c", name, n);
        if (len < 0 || (size_t)len >= sizeof(line))
                return -EINVAL;
        return joules_ingest_send(fd, line, (size_t)len);
}

static inline void joules_ingest_close(int fd)
{
        if (fd >= 0)
                close(fd);
}

/* ---- the aggregating counter ---- */

/* Left out under a strict -std=c11 without _GNU_SOURCE (no clock_gettime): the one-off calls
 * above still work there. */
#ifdef CLOCK_MONOTONIC_COARSE

#define JOULES_COUNTER_INTERVAL_NS 100000000ULL    /* 100 ms between sends */
#define JOULES_COUNTER_LINE_MAX    1000000000000UL /* joulesd's largest count per line (1e12) */

typedef struct JoulesCounter {
        const char *name;                /* the metric: letters, digits, '_', '.', '-' */
        _Atomic unsigned long pending;   /* counted, not yet sent */
        _Atomic unsigned long long next; /* CLOCK_MONOTONIC_COARSE ns of the next send */
        _Atomic int sending;             /* 1 while one thread owns fd and sends */
        int fd;                          /* -1: open on the next send; only the sender uses it */
} JoulesCounter;

#define JOULES_COUNTER_INIT(metric)                                                                \
        {                                                                                          \
                .name = (metric), .pending = 0, .next = 0, .sending = 0, .fd = -1                  \
        }

static inline unsigned long long joules__now_ns(void)
{
        struct timespec ts;
        (void)clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
        return (unsigned long long)ts.tv_sec * 1000000000ULL + (unsigned long long)ts.tv_nsec;
}

/* Sends the pending count; the caller owns c->sending. 0 or -errno (the count then kept). */
static inline int joules__counter_send(JoulesCounter *c)
{
        unsigned long n = atomic_exchange_explicit(&c->pending, 0, memory_order_relaxed);
        if (n == 0)
                return 0;
        unsigned long part = n > JOULES_COUNTER_LINE_MAX ? JOULES_COUNTER_LINE_MAX : n;
        int r = 0;
        if (c->fd < 0) {
                r = joules_ingest_open(NULL);
                if (r >= 0)
                        c->fd = r;
        }
        if (r >= 0)
                r = joules_ingest_count(c->fd, c->name, part);
        if (r < 0) {
                part = 0;
                /* joulesd stopped or restarted: this socket points at its old one for good */
                if (r == -ECONNREFUSED || r == -ENOTCONN || r == -EPIPE || r == -ENOENT ||
                    r == -EBADF) {
                        joules_ingest_close(c->fd);
                        c->fd = -1;
                }
        }
        if (n - part) /* kept for the next send (the count wraps past ULONG_MAX) */
                atomic_fetch_add_explicit(&c->pending, n - part, memory_order_relaxed);
        return r < 0 ? r : 0;
}

/* Counts n; sends the total if the last send was 100 ms ago or more. Safe from any thread, never
 * blocks: 0, or -errno from a send that was attempted and failed (the count is kept). */
static inline int joules_counter_add(JoulesCounter *c, unsigned long n)
{
        atomic_fetch_add_explicit(&c->pending, n, memory_order_relaxed);
        unsigned long long now = joules__now_ns();
        unsigned long long next = atomic_load_explicit(&c->next, memory_order_relaxed);
        if (now < next)
                return 0;
        /* the thread that moves the deadline on is the one that sends */
        if (!atomic_compare_exchange_strong_explicit(&c->next, &next,
                                                     now + JOULES_COUNTER_INTERVAL_NS,
                                                     memory_order_relaxed, memory_order_relaxed))
                return 0;
        if (atomic_exchange_explicit(&c->sending, 1, memory_order_acquire))
                return 0; /* a joules_counter_flush is sending; what it missed goes next time */
        int r = joules__counter_send(c);
        atomic_store_explicit(&c->sending, 0, memory_order_release);
        return r;
}

/* Sends what is counted now (at exit, or before fork): 0 or -errno (the count is then kept).
 * Waits only for a send already under way in another thread. */
static inline int joules_counter_flush(JoulesCounter *c)
{
        while (atomic_exchange_explicit(&c->sending, 1, memory_order_acquire))
                sched_yield();
        int r = joules__counter_send(c);
        atomic_store_explicit(&c->sending, 0, memory_order_release);
        return r;
}

/* Closes the counter's socket (the count kept). For tests and for a clean exit. */
static inline void joules_counter_close(JoulesCounter *c)
{
        while (atomic_exchange_explicit(&c->sending, 1, memory_order_acquire))
                sched_yield();
        joules_ingest_close(c->fd);
        c->fd = -1;
        atomic_store_explicit(&c->sending, 0, memory_order_release);
}

#endif /* CLOCK_MONOTONIC_COARSE */

#endif
