#pragma once

#include <regex.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

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
 * Scrapes run in a process of their own without capabilities (scrape-worker.c: a page comes from
 * the network), with bounded timeouts (connect and total, per target), so a slow or dead service
 * never delays the tick loop; the tick takes what has been counted. Failures are logged once per
 * change of state (working -> failing, failing -> working). */

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

/* Growth of a counter from prev to cur, a reset counted as cur. */
double scrape_counter_delta(double prev, double cur);

/* The series sel matches in a page, each by its label set (labels in any order), with a finite
 * value; the same label set twice is added up. Sorted by key. */
typedef struct ScrapeSeries {
        char *key;
        double value;
        unsigned missing; /* scrapes since it was last on the page (scrape_series_carry) */
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

/* A series can leave a page for a while and come back without its process restarting (an
 * exporter that drops idle label sets): Prometheus' rate() then counts only what it grew, since
 * its samples go on where they stopped. So the next scrape compares with cur plus the series of
 * prev that are not in cur, each kept with its last value for at most SCRAPE_FORGET scrapes
 * (missing counts them); one back later counts from 0, as a new series. Adds them to cur, which
 * stays sorted. -ENOMEM (cur unchanged). */
#define SCRAPE_FORGET 10
int scrape_series_carry(const ScrapeSeriesSet *prev, ScrapeSeriesSet *cur) WARN_UNUSED;

/* ---- the scrape worker (scrape-worker.c) ---- */

/* What the worker writes to joulesd, one fixed-size record per write (under PIPE_BUF: whole or
 * not at all). */
typedef enum ScrapeRecordKind {
        SCRAPE_RECORD_READY = 1,  /* libcurl loaded, targets set up; target and growth 0 */
        SCRAPE_RECORD_GROWTH = 2, /* a scrape of target counted growth requests (> 0) */
} ScrapeRecordKind;

typedef struct ScrapeRecord {
        uint32_t kind;
        uint32_t target; /* its index among the scrape targets */
        double growth;
} ScrapeRecord;

#define SCRAPE_TARGETS_MAX 256
/* A count above this in one scrape is no count: 10^15 requests is 30 years at a million a
 * second. */
#define SCRAPE_GROWTH_MAX 1e15

/* Adds the GROWTH records of v to pending[target] and counts the READY ones; a record of another
 * kind, for a target out of range, or with a growth that is not finite, negative or past
 * SCRAPE_GROWTH_MAX is counted in *ret_bad and changes nothing. Pure: joulesd's check of what the
 * unprivileged worker sends. */
void scrape_records_apply(const ScrapeRecord *v, size_t n, double *pending, size_t n_targets,
                          size_t *ret_ready, size_t *ret_bad);

typedef struct Scrape Scrape;

/* Starts the worker when cfg configures any scrape (else *ret = NULL) and waits for it to be
 * ready; err says why it could not start (a bad selector, no libcurl: the worker logs which). */
int scrape_start(const JoulesConfig *cfg, Scrape **ret, char *err, size_t errlen) WARN_UNUSED;
/* Kills and reaps the worker. */
Scrape *scrape_stop(Scrape *s);
/* The worker's pid, 0 when none runs (tests). */
pid_t scrape_worker_pid(const Scrape *s);

typedef void (*ScrapeSink)(void *userdata, const char *unit, const char *metric, double count);
/* Reads what the worker has counted (without blocking) and hands over the growth since the last
 * call; starts a worker again SCRAPE_RESTART_SEC after one died. */
void scrape_take(Scrape *s, ScrapeSink sink, void *userdata);

/* `joulesd --scrape-worker`: the worker's main (see scrape-worker.c); never returns while joulesd
 * runs. */
int scrape_worker_main(void);
