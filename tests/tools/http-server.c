/* http-server: a small HTTP/1.1 server on 127.0.0.1 for the request tests (python's http.server
 * is not on a fresh Debian). One thread, epoll, keep-alive, pipelined requests.
 *
 *   http-server --port-file FILE [--metrics-file FILE] [--ingest-socket PATH] [--busy-us N]
 *               [--work N]
 *
 * Binds an ephemeral port and writes it to --port-file once listening. Every GET answers 200
 * "ok\n", except /metrics, which answers the current contents of --metrics-file (re-read for each
 * request, so a test changes the counter by rewriting the file; missing file: 500). With
 * --ingest-socket, each event-loop round sends the requests it served to joulesd's ingest socket
 * as one "requests:N|c" line (through include/joules/ingest.h). --busy-us spins that long per
 * request (so the server draws measurable CPU); --work does N rounds of arithmetic per request
 * instead: the same CPU work whatever the machine's load, where a spin for a time would do less
 * work when the server is preempted (joules ab's test: twice the work, twice the CPU); --hang reads
 * requests and never answers (a stuck service, for timeouts). On SIGTERM or SIGINT prints "served
 * N" and exits 0. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/util.h"
#include "include/joules/ingest.h"

#define MAX_CONN 1024
#define BUF_SIZE 16384

typedef struct Conn {
        int fd;
        char in[BUF_SIZE];
        size_t in_len;
} Conn;

static const char *metrics_file;
static uint64_t busy_us;
static uint64_t work_rounds;
static volatile uint64_t work_sink; /* keeps the compiler from dropping the work */
static bool hang;                   /* --hang: read requests, never answer (a stuck service) */

static void spin(uint64_t us)
{
        if (!us)
                return;
        uint64_t end = now_monotonic_ns() + us * 1000;
        while (now_monotonic_ns() < end)
                ;
}

/* xorshift64: a fixed amount of integer work per round, nothing the compiler can fold */
static void work(uint64_t rounds)
{
        uint64_t x = 0x9E3779B97F4A7C15ull ^ rounds;
        for (uint64_t i = 0; i < rounds; i++) {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
        }
        work_sink = x;
}

static bool keep_alive_header; /* an HTTP/1.0 client asked for keep-alive (ab -k) */

static void reply(int fd, const char *status, const char *body, size_t len)
{
        char head[256];
        int hl = snprintf(head, sizeof(head),
                          "HTTP/1.1 %s\r\nContent-Type: text/plain; version=0.0.4\r\n"
                          "%sContent-Length: %zu\r\n\r\n",
                          status, keep_alive_header ? "Connection: keep-alive\r\n" : "", len);
        char buf[BUF_SIZE];
        if ((size_t)hl + len <= sizeof(buf)) {
                memcpy(buf, head, (size_t)hl);
                memcpy(buf + hl, body, len);
                (void)!write(fd, buf, (size_t)hl + len);
        } else {
                (void)!write(fd, head, (size_t)hl);
                (void)!write(fd, body, len);
        }
}

/* Handles the complete requests in c->in; returns how many, or -(how many) - 1 to close. */
static int handle(Conn *c)
{
        int served = 0;
        for (;;) {
                c->in[c->in_len] = '\0';
                char *end = strstr(c->in, "\r\n\r\n");
                if (!end)
                        return c->in_len >= BUF_SIZE - 1 ? -served - 1 : served;
                size_t req_len = (size_t)(end + 4 - c->in);
                bool metrics = strncmp(c->in, "GET /metrics", 12) == 0;
                *end = '\0';
                bool http10 = strstr(c->in, "HTTP/1.0") != NULL;
                bool close_after = http10 && !strcasestr(c->in, "keep-alive");
                keep_alive_header = http10 && !close_after;
                spin(busy_us);
                work(work_rounds);
                if (metrics) {
                        char body[BUF_SIZE - 512];
                        FILE *f = metrics_file ? fopen(metrics_file, "re") : NULL;
                        if (!f) {
                                reply(c->fd, "500 Internal Server Error", "no metrics\n", 11);
                        } else {
                                size_t n = fread(body, 1, sizeof(body), f);
                                fclose(f);
                                reply(c->fd, "200 OK", body, n);
                        }
                } else {
                        reply(c->fd, "200 OK", "ok\n", 3);
                }
                served++;
                if (close_after) {
                        c->in_len = 0;
                        return -served - 1; /* served, then close */
                }
                memmove(c->in, c->in + req_len, c->in_len - req_len);
                c->in_len -= req_len;
        }
}

int main(int argc, char **argv)
{
        static const struct option opts[] = {
                {"port-file", required_argument, NULL, 'p'},
                {"metrics-file", required_argument, NULL, 'm'},
                {"ingest-socket", required_argument, NULL, 'i'},
                {"busy-us", required_argument, NULL, 'b'},
                {"work", required_argument, NULL, 'w'},
                {"hang", no_argument, NULL, 'H'},
                {0},
        };
        const char *port_file = NULL, *ingest = NULL;
        int c;
        while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
                switch (c) {
                case 'p':
                        port_file = optarg;
                        break;
                case 'm':
                        metrics_file = optarg;
                        break;
                case 'i':
                        ingest = optarg;
                        break;
                case 'b':
                        busy_us = strtoull(optarg, NULL, 10);
                        break;
                case 'w':
                        work_rounds = strtoull(optarg, NULL, 10);
                        break;
                case 'H':
                        hang = true;
                        break;
                default:
                        return 2;
                }
        }
        if (!port_file) {
                fprintf(stderr, "usage: http-server --port-file FILE [--metrics-file FILE] "
                                "[--ingest-socket PATH] [--busy-us N] [--work N] [--hang]\n");
                return 2;
        }
        int ls = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        int one = 1;
        setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        socklen_t sl = sizeof(sa);
        if (bind(ls, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(ls, 512) < 0 ||
            getsockname(ls, (struct sockaddr *)&sa, &sl) < 0) {
                perror("http-server: bind");
                return 1;
        }
        int ingest_fd = -1;
        if (ingest) {
                ingest_fd = joules_ingest_open(ingest);
                if (ingest_fd < 0) {
                        fprintf(stderr, "http-server: %s: %s\n", ingest, strerror(-ingest_fd));
                        return 1;
                }
        }
        sigset_t mask;
        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        sigprocmask(SIG_BLOCK, &mask, NULL);
        int sfd = signalfd(-1, &mask, SFD_CLOEXEC);
        int ep = epoll_create1(EPOLL_CLOEXEC);
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
        epoll_ctl(ep, EPOLL_CTL_ADD, ls, &ev);
        ev.data.ptr = &sfd;
        epoll_ctl(ep, EPOLL_CTL_ADD, sfd, &ev);

        char tmp[4096];
        snprintf(tmp, sizeof(tmp), "%s.tmp", port_file);
        FILE *pf = fopen(tmp, "we");
        if (!pf)
                return 1;
        fprintf(pf, "%d\n", ntohs(sa.sin_port));
        fclose(pf);
        rename(tmp, port_file);

        uint64_t served = 0;
        struct epoll_event evs[64];
        for (;;) {
                int n = epoll_wait(ep, evs, 64, -1);
                if (n < 0 && errno == EINTR)
                        continue;
                uint64_t round = 0;
                bool stop = false;
                for (int i = 0; i < n; i++) {
                        if (evs[i].data.ptr == &sfd) {
                                stop = true;
                                continue;
                        }
                        if (evs[i].data.ptr == NULL) {
                                int fd;
                                while ((fd = accept4(ls, NULL, NULL,
                                                     SOCK_CLOEXEC | SOCK_NONBLOCK)) >= 0) {
                                        Conn *cn = calloc(1, sizeof(*cn));
                                        cn->fd = fd;
                                        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
                                        struct epoll_event ce = {.events = EPOLLIN, .data.ptr = cn};
                                        epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ce);
                                }
                                continue;
                        }
                        Conn *cn = evs[i].data.ptr;
                        ssize_t r = read(cn->fd, cn->in + cn->in_len, BUF_SIZE - 1 - cn->in_len);
                        if (r > 0 && hang) {
                                cn->in_len = 0; /* swallowed: the client waits forever */
                                continue;
                        }
                        int h = r > 0 ? (cn->in_len += (size_t)r, handle(cn)) : -1;
                        if (r < 0 && (errno == EAGAIN || errno == EINTR))
                                continue;
                        if (h < 0) {
                                round += (uint64_t)(-h - 1); /* served before closing */
                                close(cn->fd);
                                free(cn);
                                continue;
                        }
                        round += (uint64_t)h;
                }
                served += round;
                if (round && ingest_fd >= 0) {
                        char line[64];
                        int len = snprintf(line, sizeof(line), "requests:%llu|c",
                                           (unsigned long long)round);
                        while (joules_ingest_send(ingest_fd, line, (size_t)len) == -EAGAIN)
                                sleep_us(100);
                }
                if (stop)
                        break;
        }
        printf("served %llu\n", (unsigned long long)served);
        return 0;
}
