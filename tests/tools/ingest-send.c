/* ingest-send: sends StatsD counts to joulesd's ingest socket through include/joules/ingest.h,
 * for the integration tests and the benchmark.
 *   ingest-send --socket PATH --count N [--line LINE] [--per-dgram K] [--linger-ms MS]
 *   ingest-send --socket PATH --junk      (malformed datagrams: binary, 64 KiB line, bad values)
 * A full queue (EAGAIN) is retried, so every datagram is delivered. --linger-ms keeps the process
 * alive afterwards: the daemon maps a datagram to its sender's unit when it reads it. Prints the
 * number of lines and datagrams sent. */
#include <errno.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/util.h"
#include "include/joules/ingest.h"

static int send_retry(int fd, const char *buf, size_t len)
{
        for (;;) {
                int r = joules_ingest_send(fd, buf, len);
                if (r != -EAGAIN && r != -ENOBUFS)
                        return r;
                sleep_us(200);
        }
}

static int send_junk(int fd)
{
        char *big = malloc(70000);
        if (!big)
                return -ENOMEM;
        int bad = 0;
        /* binary junk */
        srand(42);
        for (int i = 0; i < 1000; i++)
                big[i] = (char)(rand() & 0xff);
        bad += send_retry(fd, big, 1000) == 0;
        /* one 64 KiB line in a datagram that still fits the limit: malformed (too long) */
        memset(big, 'a', 65000);
        memcpy(big + 65000 - 4, ":1|c", 4);
        bad += send_retry(fd, big, 65000) == 0;
        /* a 64 KiB line over the datagram limit: oversized */
        memset(big, 'b', 65536);
        memcpy(big + 65536, ":1|c", 4);
        int r = send_retry(fd, big, 65540);
        bad += r == 0;
        if (r < 0)
                fprintf(stderr, "ingest-send: oversized datagram: %s\n", strerror(-r));
        static const char *const lines[] = {
                "requests:-1|c", "requests:abc|c", "requests:NaN|c", "requests:inf|c",
                "requests:1",    "requests:1|g",   ":1|c",           "requests:1|c|@7",
        };
        for (size_t i = 0; i < ELEMENTSOF(lines); i++)
                bad += send_retry(fd, lines[i], strlen(lines[i])) == 0;
        free(big);
        printf("junk %d\n", bad);
        return 0;
}

int main(int argc, char **argv)
{
        static const struct option opts[] = {
                {"socket", required_argument, NULL, 's'},
                {"count", required_argument, NULL, 'n'},
                {"line", required_argument, NULL, 'l'},
                {"per-dgram", required_argument, NULL, 'k'},
                {"linger-ms", required_argument, NULL, 'w'},
                {"junk", no_argument, NULL, 'j'},
                {0},
        };
        const char *path = NULL, *line = "requests:1|c";
        uint64_t count = 1, per = 1, linger_ms = 0;
        bool junk = false;
        int c;
        while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
                switch (c) {
                case 's':
                        path = optarg;
                        break;
                case 'n':
                        count = strtoull(optarg, NULL, 10);
                        break;
                case 'l':
                        line = optarg;
                        break;
                case 'k':
                        per = strtoull(optarg, NULL, 10);
                        break;
                case 'w':
                        linger_ms = strtoull(optarg, NULL, 10);
                        break;
                case 'j':
                        junk = true;
                        break;
                default:
                        return 2;
                }
        }
        int fd = joules_ingest_open(path);
        if (fd < 0) {
                fprintf(stderr, "ingest-send: %s: %s\n", path ? path : "(default)", strerror(-fd));
                return 1;
        }
        if (junk) {
                send_junk(fd);
        } else {
                if (per == 0)
                        per = 1;
                size_t ll = strlen(line);
                char *buf = malloc(per * (ll + 1));
                if (!buf)
                        return 1;
                uint64_t sent = 0, dgrams = 0;
                while (sent < count) {
                        uint64_t k = count - sent < per ? count - sent : per;
                        size_t len = 0;
                        for (uint64_t i = 0; i < k; i++) {
                                memcpy(buf + len, line, ll);
                                len += ll;
                                buf[len++] = '\n';
                        }
                        int r = send_retry(fd, buf, len);
                        if (r < 0) {
                                fprintf(stderr, "ingest-send: %s\n", strerror(-r));
                                return 1;
                        }
                        sent += k;
                        dgrams++;
                }
                free(buf);
                printf("sent %llu lines in %llu datagrams\n", (unsigned long long)sent,
                       (unsigned long long)dgrams);
        }
        fflush(stdout);
        joules_ingest_close(fd);
        if (linger_ms)
                sleep_us(linger_ms * 1000);
        return 0;
}
