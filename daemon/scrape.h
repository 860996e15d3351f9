#pragma once

#include <regex.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/util.h"
#include "daemon/config.h"

/* Requests from a service's own Prometheus counter: its /metrics page (text exposition format)
 * is fetched with libcurl, and the growth of the series that match a selector between two
 * scrapes, added up, is the number of requests.
 *
 * Selector: METRIC or METRIC{MATCHER,...}, MATCHER one of label="v", label!="v", label=~"re",
 * label!~"re", like PromQL: a regex must match the whole value (POSIX extended, anchored), a
 * missing label is the empty string. Example: http_requests_total{code=~"2..",method!="HEAD"}.
 *
 * Counter resets. A counter only grows, except when its process restarts: a value lower than the
 * previous one means a reset, and the new value itself is the growth since (Prometheus' rate()
 * rule), judged for each matched series before the growths are added. The first scrape is only
 * a baseline.
 *
 * Scrapes run on one thread of their own with bounded timeouts (connect and total, per target), so
 * a slow or dead service never delays the tick loop; the tick takes what has been counted.
 * Failures are logged once per change of state (working -> failing, failing -> working). */

#define SCRAPE_MATCHERS_MAX 8
#define SCRAPE_LABELS_MAX   32
#define SCRAPE_NAME_MAX     128
#define SCRAPE_VALUE_MAX    256
#define SCRAPE_BODY_MAX     (16u << 20)

typedef enum ScrapeOp {
        SCRAPE_EQ,
        SCRAPE_NE,
        SCRAPE_RE,
        SCRAPE_NRE,
} ScrapeOp;

typedef struct ScrapeMatcher {
        char label[SCRAPE_NAME_MAX];
        ScrapeOp op;
        char value[SCRAPE_VALUE_MAX];
        bool compiled;
        regex_t re;
} ScrapeMatcher;

typedef struct ScrapeSelector {
        char metric[SCRAPE_NAME_MAX];
        ScrapeMatcher matchers[SCRAPE_MATCHERS_MAX];
        size_t n_matchers;
} ScrapeSelector;

typedef struct ScrapeLabel {
        char name[SCRAPE_NAME_MAX];
        char value[SCRAPE_VALUE_MAX];
} ScrapeLabel;

typedef struct ScrapeSample {
        char metric[SCRAPE_NAME_MAX];
        ScrapeLabel labels[SCRAPE_LABELS_MAX];
        size_t n_labels;
        double value;
} ScrapeSample;

/* ---- pure functions ---- */

/* Parses (and compiles the regexes of) a selector. err says what is wrong. */
int scrape_selector_parse(const char *s, ScrapeSelector *ret, char *err, size_t errlen) WARN_UNUSED;
void scrape_selector_done(ScrapeSelector *sel);

/* One line of the text exposition format: 0 with a sample, 1 for a comment or blank line,
 * -EINVAL when malformed. Label values are unescaped (\\, \", \n). The optional timestamp is
 * ignored. Values may be floats, +Inf, -Inf or NaN. */
int scrape_parse_line(const char *line, size_t len, ScrapeSample *ret) WARN_UNUSED;

bool scrape_selector_match(const ScrapeSelector *sel, const ScrapeSample *s);

/* Sums the finite values of the samples sel matches in a whole page. ret_matched: how many. */
void scrape_sum(const ScrapeSelector *sel, const char *text, size_t len, double *ret_sum,
                size_t *ret_matched);

/* Growth of a counter from prev to cur, a reset counted as cur. */
double scrape_counter_delta(double prev, double cur);

/* The series sel matches in a page, each by its label set (labels in any order), with a finite
 * value; the same label set twice is added up. Sorted by key. */
typedef struct ScrapeSeries {
        char *key;
        double value;
} ScrapeSeries;
typedef struct ScrapeSeriesSet {
        ScrapeSeries *v;
        size_t n;
} ScrapeSeriesSet;
int scrape_collect(const ScrapeSelector *sel, const char *text, size_t len,
                   ScrapeSeriesSet *ret) WARN_UNUSED;
void scrape_series_done(ScrapeSeriesSet *set);

/* Growth from one page to the next: scrape_counter_delta series by series, then added up (a
 * counter reset is only seen in its own series: Prometheus takes rate() before sum()). A series
 * new in cur grew from 0; one gone from cur adds nothing. */
double scrape_growth(const ScrapeSeriesSet *prev, const ScrapeSeriesSet *cur);

/* ---- the scrape thread ---- */

typedef struct Scrape Scrape;

/* Starts the thread when cfg configures any scrape (else *ret = NULL). */
int scrape_start(const JoulesConfig *cfg, Scrape **ret, char *err, size_t errlen) WARN_UNUSED;
/* Stops and joins the thread. */
Scrape *scrape_stop(Scrape *s);

typedef void (*ScrapeSink)(void *userdata, const char *unit, const char *metric, double count);
/* Hands over the growth counted since the last call. */
void scrape_take(Scrape *s, ScrapeSink sink, void *userdata);
