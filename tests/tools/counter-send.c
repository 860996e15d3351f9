/* counter-send: counts through include/joules/ingest.h's aggregating counter from several
 * threads, for the integration tests.
 *   counter-send [--name NAME] [--threads T] [--counts N] [--pace-us U] [--linger-ms MS]
 * T threads call joules_counter_add(&c, 1) N times in all (N / T each; with --pace-us a pause
 * of U us every 1,000 counts, a steady pace rather than one burst), then joules_counter_flush,
 * retried until joulesd took it. --linger-ms keeps the process alive afterwards: the daemon maps
 * a datagram to its sender's unit when it reads it. Prints the counts added. */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "include/joules/ingest.h"

static JoulesCounter counter;
static uint64_t per_thread, pace_us;

static void *adder(void *arg)
{
        (void)arg;
        for (uint64_t i = 1; i <= per_thread; i++) {
                (void)joules_counter_add(&counter, 1);
                if (pace_us && i % 1000 == 0)
                        sleep_us(pace_us);
        }
        return NULL;
}

int main(int argc, char **argv)
{
        static const struct option opts[] = {
                {"name", required_argument, NULL, 'n'},
                {"threads", required_argument, NULL, 't'},
                {"counts", required_argument, NULL, 'c'},
                {"pace-us", required_argument, NULL, 'p'},
                {"linger-ms", required_argument, NULL, 'w'},
                {0},
        };
        const char *name = "requests";
        uint64_t threads = 4, counts = 1000000, linger_ms = 0;
        int c;
        while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
                switch (c) {
                case 'n':
                        name = optarg;
                        break;
                case 't':
                        threads = strtoull(optarg, NULL, 10);
                        break;
                case 'c':
                        counts = strtoull(optarg, NULL, 10);
                        break;
                case 'p':
                        pace_us = strtoull(optarg, NULL, 10);
                        break;
                case 'w':
                        linger_ms = strtoull(optarg, NULL, 10);
                        break;
                default:
                        return 2;
                }
        }
        if (threads < 1 || threads > 64 || counts % threads) {
                fprintf(stderr, "counter-send: --counts must divide among 1..64 --threads\n");
                return 2;
        }
        counter = (JoulesCounter)JOULES_COUNTER_INIT(name);
        per_thread = counts / threads;
        pthread_t t[64];
        for (uint64_t i = 0; i < threads; i++)
                if (pthread_create(&t[i], NULL, adder, NULL) != 0)
                        return 1;
        for (uint64_t i = 0; i < threads; i++)
                pthread_join(t[i], NULL);
        int r;
        for (int k = 0; (r = joules_counter_flush(&counter)) < 0 && k < 500; k++)
                sleep_us(10000);
        if (r < 0) {
                fprintf(stderr, "counter-send: flush: %s\n", strerror(-r));
                return 1;
        }
        printf("added %llu\n", (unsigned long long)counts);
        fflush(stdout);
        if (linger_ms)
                sleep_us(linger_ms * 1000);
        joules_counter_close(&counter);
        return 0;
}
