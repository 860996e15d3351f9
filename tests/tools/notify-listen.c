/* notify-listen: stands in for systemd's end of sd_notify(3), so tests can watch what joulesd
 * tells its service manager without systemd as PID 1.
 *
 * Binds an AF_UNIX datagram socket at the path given (what NOTIFY_SOCKET names) and prints every
 * assignment of every message it receives on its own line, prefixed with the milliseconds since
 * it started and the message's number: "1234 7 READY=1". One datagram may carry several
 * assignments separated by newlines ("READY=1\nSTATUS=..."); they share the time and the number.
 * The same socket can stand in for journald's (/run/systemd/journal/socket): its native protocol
 * is KEY=VALUE lines too, for values without a newline. stdout is flushed after each message so a
 * test can poll the output file. */

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/util.h"

static volatile sig_atomic_t nl_stop;

static void nl_on_signal(int sig)
{
        (void)sig;
        nl_stop = 1;
}

static void nl_usage(FILE *f)
{
        fprintf(f, "usage: notify-listen --socket PATH [--duration DURATION]\n\n"
                   "Binds an AF_UNIX datagram socket at PATH (point NOTIFY_SOCKET at it) and\n"
                   "prints each assignment received as \"MS N KEY=VALUE\": MS milliseconds since\n"
                   "start, N the message's number. Prints \"ready\" once bound. Exits 0 on\n"
                   "SIGTERM/SIGINT or after --duration, 1 on errors, 2 on bad usage. The socket\n"
                   "file is removed at exit.\n");
}

int main(int argc, char **argv)
{
        static const struct option opts[] = {
                {"socket", required_argument, NULL, 's'},
                {"duration", required_argument, NULL, 'd'},
                {"help", no_argument, NULL, 'h'},
                {0},
        };
        const char *path = NULL;
        uint64_t duration_us = 0;
        int c;
        while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
                switch (c) {
                case 's':
                        path = optarg;
                        break;
                case 'd':
                        if (parse_duration_us(optarg, &duration_us) < 0) {
                                fprintf(stderr, "notify-listen: bad duration '%s'\n", optarg);
                                return 2;
                        }
                        break;
                case 'h':
                        nl_usage(stdout);
                        return 0;
                default:
                        nl_usage(stderr);
                        return 2;
                }
        }
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        if (!path || optind < argc || strlen(path) >= sizeof(sa.sun_path)) {
                nl_usage(stderr);
                return 2;
        }
        snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);

        struct sigaction act = {.sa_handler = nl_on_signal};
        sigaction(SIGTERM, &act, NULL);
        sigaction(SIGINT, &act, NULL);

        int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (fd < 0) {
                perror("notify-listen: socket");
                return 1;
        }
        (void)unlink(path);
        if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
                fprintf(stderr, "notify-listen: bind %s: %s\n", path, strerror(errno));
                return 1;
        }
        printf("ready\n");
        fflush(stdout);

        uint64_t start_ns = now_monotonic_ns(), seq = 0;
        int rc = 0;
        while (!nl_stop) {
                uint64_t now_ns = now_monotonic_ns();
                int timeout = 200;
                if (duration_us) {
                        uint64_t end_ns = start_ns + duration_us * NSEC_PER_USEC;
                        if (now_ns >= end_ns)
                                break;
                        if ((end_ns - now_ns) / 1000000 < (uint64_t)timeout)
                                timeout = (int)((end_ns - now_ns) / 1000000) + 1;
                }
                struct pollfd pfd = {.fd = fd, .events = POLLIN};
                int n = poll(&pfd, 1, timeout);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        perror("notify-listen: poll");
                        rc = 1;
                        break;
                }
                if (n == 0)
                        continue;
                char buf[4096];
                ssize_t len = recv(fd, buf, sizeof(buf) - 1, 0);
                if (len < 0) {
                        if (errno == EINTR || errno == EAGAIN)
                                continue;
                        perror("notify-listen: recv");
                        rc = 1;
                        break;
                }
                buf[len] = '\0';
                uint64_t ms = (now_monotonic_ns() - start_ns) / 1000000;
                seq++;
                char *save = NULL;
                for (char *line = strtok_r(buf, "\n", &save); line;
                     line = strtok_r(NULL, "\n", &save))
                        printf("%" PRIu64 " %" PRIu64 " %s\n", ms, seq, line);
                fflush(stdout);
        }
        close(fd);
        (void)unlink(path);
        return rc;
}
