/* The Prometheus text format as scraped from a service's /metrics (daemon/scrape.c): the page is
 * the service's to write. The input's first line is a selector (scrape_selector_parse, from the
 * config file; a default one when it does not parse), the rest the page. Invariants:
 * scrape_collect finds a series among the lines scrape_parse_line and scrape_selector_match
 * accept with a finite value, no more series than such lines and at least one when there is
 * one, each label set once and sorted; a page grows by nothing from itself and by a finite
 * amount >= 0 from nothing; a parsed sample written back in the exposition format (labels
 * escaped) parses to the same sample. */

#include "fuzz/fuzz.h"

#include <errno.h>
#include <math.h>

#include "daemon/scrape.h"

static void render_value(char *buf, size_t size, double v)
{
        if (isnan(v))
                snprintf(buf, size, "NaN");
        else if (isinf(v))
                snprintf(buf, size, "%sInf", v > 0 ? "+" : "-");
        else
                snprintf(buf, size, "%.17g", v);
}

/* s written back: name{label="value",...} value */
static void render(const ScrapeSample *s, char *buf, size_t size)
{
        size_t o = (size_t)snprintf(buf, size, "%s{", s->metric);
        for (size_t i = 0; i < s->n_labels && o < size; i++) {
                o += (size_t)snprintf(buf + o, size - o, "%s%s=\"", i ? "," : "",
                                      s->labels[i].name);
                for (const char *c = s->labels[i].value; *c && o + 3 < size; c++) {
                        if (*c == '\\' || *c == '"')
                                buf[o++] = '\\';
                        if (*c == '\n') {
                                buf[o++] = '\\';
                                buf[o++] = 'n';
                                continue;
                        }
                        buf[o++] = *c;
                }
                if (o + 1 < size)
                        buf[o++] = '"';
        }
        if (o + 1 < size)
                buf[o++] = '}';
        if (o < size) {
                char v[64];
                render_value(v, sizeof(v), s->value);
                snprintf(buf + o, size - o, " %s", v);
        }
}

static bool same(const ScrapeSample *a, const ScrapeSample *b)
{
        if (strcmp(a->metric, b->metric) != 0 || a->n_labels != b->n_labels)
                return false;
        for (size_t i = 0; i < a->n_labels; i++)
                if (strcmp(a->labels[i].name, b->labels[i].name) != 0 ||
                    strcmp(a->labels[i].value, b->labels[i].value) != 0)
                        return false;
        return memcmp(&a->value, &b->value, sizeof(double)) == 0 ||
               (isnan(a->value) && isnan(b->value));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        if (size > 65536)
                return 0;
        const char *text = (const char *)data;
        const char *nl = memchr(text, '\n', size);
        size_t sel_len = nl ? (size_t)(nl - text) : size;
        if (sel_len > 600)
                return 0;
        char *sel_text = fuzz_cstr(data, sel_len);
        ScrapeSelector sel;
        char err[256];
        if (scrape_selector_parse(sel_text, &sel, err, sizeof(err)) < 0 &&
            scrape_selector_parse("http_requests_total{code=~\"2..\",method!=\"HEAD\"}", &sel, err,
                                  sizeof(err)) < 0)
                abort();
        free(sel_text);
        const char *page = nl ? nl + 1 : text + size;
        size_t page_len = (size_t)(text + size - page);

        size_t want_matched = 0;
        ScrapeSample *s = malloc(sizeof(*s)), *again = malloc(sizeof(*again));
        char *line = malloc(16384);
        FUZZ_CHECK(s && again && line);
        for (const char *p = page, *end = page + page_len; p < end;) {
                const char *e = memchr(p, '\n', (size_t)(end - p));
                size_t len = (size_t)((e ? e : end) - p);
                int r = scrape_parse_line(p, len, s);
                FUZZ_CHECK(r == 0 || r == 1 || r == -EINVAL);
                if (r == 0) {
                        FUZZ_CHECK(s->metric[0] && s->n_labels <= SCRAPE_LABELS_MAX);
                        if (scrape_selector_match(&sel, s) && isfinite(s->value))
                                want_matched++;
                        if (!memchr(p, '\0', len)) {
                                render(s, line, 16384);
                                FUZZ_CHECK(scrape_parse_line(line, strlen(line), again) == 0);
                                FUZZ_CHECK(same(s, again));
                        }
                }
                p = e ? e + 1 : end;
        }
        ScrapeSeriesSet set, none = {0};
        FUZZ_CHECK(scrape_collect(&sel, page, page_len, &set) == 0);
        FUZZ_CHECK(set.n <= want_matched && (set.n == 0) == (want_matched == 0));
        for (size_t i = 1; i < set.n; i++)
                FUZZ_CHECK(strcmp(set.v[i - 1].key, set.v[i].key) < 0);
        FUZZ_CHECK(scrape_growth(&set, &set) == 0);
        double d = scrape_growth(&none, &set);
        FUZZ_CHECK(!isnan(d) && d >= 0);
        scrape_series_done(&set);
        free(line);
        free(again);
        free(s);
        scrape_selector_done(&sel);
        return 0;
}
