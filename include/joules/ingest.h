/* joules/ingest.h: count requests for joulesd from C, one header, no library to link.
 *
 *     #include <joules/ingest.h>
 *     int fd = joules_ingest_open(NULL);        // $JOULES_INGEST_SOCKET or /run/joules/ingest.sock
 *     joules_ingest_count(fd, "requests", 1);   // after each request served
 *
 * Each call sends one StatsD counter line ("requests:1|c") as one datagram to joulesd's ingest
 * socket. The daemon learns the sending process from the kernel (SCM_CREDENTIALS) and counts for
 * the systemd unit that process runs in: there is nothing to configure and no way to count for
 * another service. Sending never blocks: when the daemon is not running or its queue is full the
 * count is dropped and -errno returned (-ECONNREFUSED, -ENOENT, -EAGAIN), so the application
 * never waits on its energy meter. The socket is writable by root and the `joules` group.
 *
 * Public domain (CC0): copy it into any project. */
#ifndef JOULES_INGEST_H
#define JOULES_INGEST_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
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

#endif
