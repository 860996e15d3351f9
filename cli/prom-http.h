#pragma once

#include <stddef.h>
#include <stdint.h>

/* The HTTP side of joules export --prometheus: queries to a Prometheus-compatible HTTP API
 * (Prometheus, Thanos Query, Mimir, VictoriaMetrics), POSTed as forms through libcurl, with a
 * connect and a total timeout. Only the transport: what the answer means is fleet.c's. */

typedef struct PromClient PromClient;

/* url: the API's base, such as http://prometheus:9090 or https://mimir.example/prometheus
 * (http and https only; user:password@ in it is sent as basic authentication). timeout_s: the
 * total time for one query; connecting gets at most 10 s of it. */
int prom_client_new(const char *url, double timeout_s, PromClient **ret)
        __attribute__((warn_unused_result));
PromClient *prom_client_free(PromClient *c);

/* The URL as it may be shown: without a password. */
const char *prom_client_url(const PromClient *c);

/* An answer: the HTTP status and the body (NUL-terminated; owned by the caller). */
typedef struct PromAnswer {
        long status;
        char *body;
        size_t len;
} PromAnswer;
void prom_answer_done(PromAnswer *a);

/* POSTs /api/v1/query_range (start, end, step) or /api/v1/query (step 0: an instant query at
 * start). -EIO with err when no answer came (the reason curl gives: refused, timed out, DNS);
 * -EFBIG when the answer is larger than PROM_ANSWER_MAX. Any status is an answer. */
#define PROM_ANSWER_MAX (512u << 20)
int prom_query(PromClient *c, const char *query, int64_t start_us, int64_t end_us, int64_t step_us,
               PromAnswer *ret, char *err, size_t errlen) __attribute__((warn_unused_result));
