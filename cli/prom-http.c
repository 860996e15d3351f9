#include "cli/prom-http.h"

#include <curl/curl.h>
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct PromClient {
        CURL *curl;
        char *url;   /* as given, without a trailing slash */
        char *shown; /* without the password */
        long timeout_ms;
};

/* user:password@ becomes user:***@ for messages. */
static char *url_shown(const char *url)
{
        const char *auth = strstr(url, "://");
        auth = auth ? auth + 3 : url;
        size_t host_len = strcspn(auth, "/?#");
        const char *at = memchr(auth, '@', host_len);
        const char *colon = at ? memchr(auth, ':', (size_t)(at - auth)) : NULL;
        if (!colon)
                return strdup(url);
        char *s = NULL;
        if (asprintf(&s, "%.*s:***%s", (int)(colon - url), url, at) < 0)
                return NULL;
        return s;
}

int prom_client_new(const char *url, double timeout_s, PromClient **ret)
{
        static bool global_done;
        if (!global_done) {
                if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
                        return -ENOMEM;
                global_done = true;
        }
        PromClient *c = calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;
        c->url = strdup(url);
        c->shown = url_shown(url);
        c->curl = curl_easy_init();
        if (!c->url || !c->shown || !c->curl) {
                prom_client_free(c);
                return -ENOMEM;
        }
        size_t n = strlen(c->url);
        while (n > 0 && c->url[n - 1] == '/')
                c->url[--n] = '\0';
        c->timeout_ms = (long)(timeout_s * 1000);
        *ret = c;
        return 0;
}

PromClient *prom_client_free(PromClient *c)
{
        if (!c)
                return NULL;
        if (c->curl)
                curl_easy_cleanup(c->curl);
        free(c->url);
        free(c->shown);
        free(c);
        return NULL;
}

const char *prom_client_url(const PromClient *c)
{
        return c->shown;
}

void prom_answer_done(PromAnswer *a)
{
        free(a->body);
        *a = (PromAnswer){0};
}

typedef struct Sink {
        char *data;
        size_t len, cap;
        bool too_big, oom;
} Sink;

static size_t sink_write(char *ptr, size_t size, size_t nmemb, void *user)
{
        Sink *s = user;
        size_t n = size * nmemb;
        if (s->len + n + 1 > PROM_ANSWER_MAX) {
                s->too_big = true;
                return 0;
        }
        if (s->len + n + 1 > s->cap) {
                size_t cap = s->cap ? s->cap : 65536;
                while (cap < s->len + n + 1)
                        cap *= 2;
                char *d = realloc(s->data, cap);
                if (!d) {
                        s->oom = true;
                        return 0;
                }
                s->data = d;
                s->cap = cap;
        }
        memcpy(s->data + s->len, ptr, n);
        s->len += n;
        s->data[s->len] = '\0';
        return n;
}

/* Seconds since the epoch with milliseconds, as the API takes times and steps. */
static void api_seconds(char *buf, size_t size, int64_t us)
{
        snprintf(buf, size, "%s%" PRId64 ".%03" PRId64, us < 0 ? "-" : "",
                 (us < 0 ? -us : us) / 1000000, ((us < 0 ? -us : us) % 1000000) / 1000);
}

int prom_query(PromClient *c, const char *query, int64_t start_us, int64_t end_us, int64_t step_us,
               PromAnswer *ret, char *err, size_t errlen)
{
        char url[4096], a[32], b[32], st[32];
        snprintf(url, sizeof(url), "%s/api/v1/%s", c->url, step_us > 0 ? "query_range" : "query");
        char *q = curl_easy_escape(c->curl, query, 0);
        if (!q)
                return -ENOMEM;
        char *form = NULL;
        int n;
        api_seconds(a, sizeof(a), start_us);
        if (step_us > 0) {
                api_seconds(b, sizeof(b), end_us);
                api_seconds(st, sizeof(st), step_us);
                n = asprintf(&form, "query=%s&start=%s&end=%s&step=%s", q, a, b, st);
        } else {
                n = asprintf(&form, "query=%s&time=%s", q, a);
        }
        curl_free(q);
        if (n < 0)
                return -ENOMEM;

        CURL *h = c->curl;
        Sink sink = {0};
        char curl_err[CURL_ERROR_SIZE] = "";
        curl_easy_reset(h);
        (void)curl_easy_setopt(h, CURLOPT_URL, url);
        (void)curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
        (void)curl_easy_setopt(h, CURLOPT_POSTFIELDS, form);
        (void)curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, sink_write);
        (void)curl_easy_setopt(h, CURLOPT_WRITEDATA, &sink);
        (void)curl_easy_setopt(h, CURLOPT_ERRORBUFFER, curl_err);
        (void)curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, c->timeout_ms);
        (void)curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
                               c->timeout_ms < 10000 ? c->timeout_ms : 10000L);
        (void)curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
        (void)curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "");
        (void)curl_easy_setopt(h, CURLOPT_USERAGENT, "joules/" JOULES_VERSION);
        CURLcode cr = curl_easy_perform(h);
        free(form);
        if (cr != CURLE_OK) {
                free(sink.data);
                if (sink.too_big) {
                        snprintf(err, errlen, "the answer is larger than %u MiB",
                                 PROM_ANSWER_MAX >> 20);
                        return -EFBIG;
                }
                if (sink.oom)
                        return -ENOMEM;
                snprintf(err, errlen, "%s", curl_err[0] ? curl_err : curl_easy_strerror(cr));
                return -EIO;
        }
        long status = 0;
        (void)curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
        if (!sink.data && !(sink.data = strdup(""))) /* an empty body */
                return -ENOMEM;
        *ret = (PromAnswer){.status = status, .body = sink.data, .len = sink.len};
        return 0;
}
