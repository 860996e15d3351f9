/* The request settings of issue 5: the [ingest] keys live in config.c's table; the per-unit
 * sections live here because their name carries the unit:
 *
 *     [requests "nginx.service"]
 *     metric = requests                        # stored under this name (default: requests)
 *     scrape_url = http://127.0.0.1:9113/metrics
 *     scrape_metric = nginx_http_requests_total{code=~"2.."}
 *     scrape_interval = 10s                    # 1s .. 1h (default 10s)
 *     scrape_timeout = 2s                      # 10ms .. 60s, below the interval (default 2s)
 *     access_log = /var/log/nginx/access.log
 *     access_log_filter = "GET /api/          # POSIX extended regex; empty: every line
 *
 * libinih hands the section over as the text between the brackets, so the unit name is parsed
 * here: `requests "UNIT"`, UNIT a service or scope name, or a user unit as "user@UID/NAME". */
#include "daemon/config.h"

#include <errno.h>
#include <regex.h>
#include <stddef.h>
#include <string.h>

#include "common/util.h"
#include "daemon/ingest.h"
#include "daemon/scrape.h"

static int config_request_section(const char *section, char *unit, size_t size)
{
        if (!startswith(section, "requests"))
                return 0;
        const char *p = section + 8;
        while (*p == ' ' || *p == '\t')
                p++;
        if (*p != '"')
                return -EINVAL;
        const char *q = strchr(p + 1, '"');
        if (!q || q[1] != '\0' || (size_t)(q - p - 1) >= size)
                return -EINVAL;
        memcpy(unit, p + 1, (size_t)(q - p - 1));
        unit[q - p - 1] = '\0';
        return 1;
}

static int config_request_text(char *field, size_t size, const char *unit, const char *key,
                               const char *value, char *err, size_t errlen)
{
        if (strlen(value) >= size) {
                snprintf(err, errlen, "[requests \"%s\"] %s: too long (at most %zu bytes)", unit,
                         key, size - 1);
                return -EINVAL;
        }
        snprintf(field, size, "%s", value);
        return 0;
}

static int config_request_duration(uint64_t *field, const char *unit, const char *key,
                                   const char *value, uint64_t min, uint64_t max, char *err,
                                   size_t errlen)
{
        uint64_t u;
        if (parse_duration_us(value, &u) < 0 || u < min || u > max) {
                snprintf(err, errlen,
                         "[requests \"%s\"] %s: '%s' is not a duration in [%gs, %gs] (examples: "
                         "500ms, 10s)",
                         unit, key, value, (double)min / 1e6, (double)max / 1e6);
                return -EINVAL;
        }
        *field = u;
        return 0;
}

int config_set_request(JoulesConfig *c, const char *section, const char *key, const char *value,
                       char *err, size_t errlen)
{
        char unit[sizeof(c->request_sources[0].unit)];
        int r = config_request_section(section, unit, sizeof(unit));
        if (r == 0)
                return 0;
        if (r < 0 || !ingest_unit_name_valid(unit)) {
                snprintf(err, errlen,
                         "[%s]: expected [requests \"UNIT\"] with a unit name such as "
                         "nginx.service",
                         section);
                return -EINVAL;
        }
        JoulesRequestSource *src = NULL;
        for (size_t i = 0; i < c->n_request_sources && !src; i++)
                if (strcmp(c->request_sources[i].unit, unit) == 0)
                        src = &c->request_sources[i];
        if (!src) {
                if (c->n_request_sources >= JOULES_REQUEST_SOURCES_MAX) {
                        snprintf(err, errlen, "more than %d [requests] sections",
                                 JOULES_REQUEST_SOURCES_MAX);
                        return -EINVAL;
                }
                src = &c->request_sources[c->n_request_sources++];
                *src = (JoulesRequestSource){
                        .scrape_interval_us = 10 * USEC_PER_SEC,
                        .scrape_timeout_us = 2 * USEC_PER_SEC,
                };
                snprintf(src->unit, sizeof(src->unit), "%s", unit);
                snprintf(src->metric_name, sizeof(src->metric_name), "requests");
        }
        if (strcmp(key, "metric") == 0) {
                char line[200];
                IngestLine l;
                snprintf(line, sizeof(line), "%s:1|c", value);
                if (strlen(value) >= sizeof(src->metric_name) ||
                    ingest_parse_line(line, strlen(line), &l) < 0) {
                        snprintf(err, errlen,
                                 "[requests \"%s\"] metric: '%s' is not a metric name "
                                 "([A-Za-z0-9_.-])",
                                 unit, value);
                        return -EINVAL;
                }
                snprintf(src->metric_name, sizeof(src->metric_name), "%s", value);
                return 1;
        }
        if (strcmp(key, "scrape_url") == 0) {
                if (!startswith(value, "http://") && !startswith(value, "https://")) {
                        snprintf(err, errlen,
                                 "[requests \"%s\"] scrape_url: '%s' is not an http:// or "
                                 "https:// URL",
                                 unit, value);
                        return -EINVAL;
                }
                return config_request_text(src->url, sizeof(src->url), unit, key, value, err,
                                           errlen) < 0
                               ? -EINVAL
                               : 1;
        }
        if (strcmp(key, "scrape_metric") == 0) {
                ScrapeSelector sel;
                char why[256];
                if (scrape_selector_parse(value, &sel, why, sizeof(why)) < 0) {
                        snprintf(err, errlen, "[requests \"%s\"] scrape_metric: %s", unit, why);
                        return -EINVAL;
                }
                scrape_selector_done(&sel);
                return config_request_text(src->selector, sizeof(src->selector), unit, key, value,
                                           err, errlen) < 0
                               ? -EINVAL
                               : 1;
        }
        if (strcmp(key, "scrape_interval") == 0)
                return config_request_duration(&src->scrape_interval_us, unit, key, value,
                                               USEC_PER_SEC, 3600 * USEC_PER_SEC, err, errlen) < 0
                               ? -EINVAL
                               : 1;
        if (strcmp(key, "scrape_timeout") == 0)
                return config_request_duration(&src->scrape_timeout_us, unit, key, value, 10000,
                                               60 * USEC_PER_SEC, err, errlen) < 0
                               ? -EINVAL
                               : 1;
        if (strcmp(key, "access_log") == 0) {
                if (value[0] != '/') {
                        snprintf(err, errlen,
                                 "[requests \"%s\"] access_log: '%s' is not an "
                                 "absolute path",
                                 unit, value);
                        return -EINVAL;
                }
                return config_request_text(src->access_log, sizeof(src->access_log), unit, key,
                                           value, err, errlen) < 0
                               ? -EINVAL
                               : 1;
        }
        if (strcmp(key, "access_log_filter") == 0) {
                regex_t re;
                if (regex_too_costly(value)) {
                        snprintf(err, errlen,
                                 "[requests \"%s\"] access_log_filter: too many nested repeats "
                                 "to compile",
                                 unit);
                        return -EINVAL;
                }
                int rc = regcomp(&re, value, REG_EXTENDED | REG_NOSUB);
                if (rc != 0) {
                        char why[128];
                        regerror(rc, &re, why, sizeof(why));
                        snprintf(err, errlen, "[requests \"%s\"] access_log_filter: %s", unit, why);
                        return -EINVAL;
                }
                regfree(&re);
                return config_request_text(src->access_log_filter, sizeof(src->access_log_filter),
                                           unit, key, value, err, errlen) < 0
                               ? -EINVAL
                               : 1;
        }
        snprintf(err, errlen,
                 "unknown key '%s' in [requests \"%s\"] (known: metric, scrape_url, scrape_metric, "
                 "scrape_interval, scrape_timeout, access_log, access_log_filter)",
                 key, unit);
        return -EINVAL;
}

int config_check_requests(const JoulesConfig *c, char *err, size_t errlen)
{
        for (size_t i = 0; i < c->n_request_sources; i++) {
                const JoulesRequestSource *s = &c->request_sources[i];
                if (!s->url[0] != !s->selector[0]) {
                        snprintf(err, errlen,
                                 "[requests \"%s\"]: scrape_url and scrape_metric go together",
                                 s->unit);
                        return -EINVAL;
                }
                if (s->access_log_filter[0] && !s->access_log[0]) {
                        snprintf(err, errlen,
                                 "[requests \"%s\"]: access_log_filter without access_log",
                                 s->unit);
                        return -EINVAL;
                }
                if (s->url[0] && s->scrape_timeout_us >= s->scrape_interval_us) {
                        snprintf(err, errlen,
                                 "[requests \"%s\"]: scrape_timeout must be below scrape_interval",
                                 s->unit);
                        return -EINVAL;
                }
                if (!s->url[0] && !s->access_log[0]) {
                        snprintf(err, errlen,
                                 "[requests \"%s\"]: neither scrape_url nor access_log is set",
                                 s->unit);
                        return -EINVAL;
                }
        }
        return 0;
}

void config_dump_requests(const JoulesConfig *c, FILE *f)
{
        for (size_t i = 0; i < c->n_request_sources; i++) {
                const JoulesRequestSource *s = &c->request_sources[i];
                fprintf(f, "\n[requests \"%s\"]\nmetric = %s\n", s->unit, s->metric_name);
                char iv[32], to[32];
                if (s->url[0])
                        fprintf(f,
                                "scrape_url = %s\nscrape_metric = %s\nscrape_interval = %s\n"
                                "scrape_timeout = %s\n",
                                s->url, s->selector,
                                format_duration_us(s->scrape_interval_us, iv, sizeof(iv)),
                                format_duration_us(s->scrape_timeout_us, to, sizeof(to)));
                if (s->access_log[0])
                        fprintf(f, "access_log = %s\n", s->access_log);
                if (s->access_log_filter[0])
                        fprintf(f, "access_log_filter = %s\n", s->access_log_filter);
        }
}
