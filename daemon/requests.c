#include "daemon/requests.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "daemon/accesslog.h"
#include "daemon/ingest.h"
#include "daemon/scrape.h"

#define REQUESTS_SLOTS 2048 /* hash slots, a power of two above REQUESTS_PAIRS_MAX */

typedef struct RequestsPair {
        char unit[INGEST_UNIT_MAX];
        char metric[INGEST_NAME_MAX];
        double count;
        uint32_t hash;
} RequestsPair;

typedef struct RequestsLog {
        const JoulesRequestSource *src;
        AccessLog *log;
        int failing; /* -1 unknown, 0 working, errno of the failure */
} RequestsLog;

struct Requests {
        JoulesConfig cfg; /* sources point into this copy */
        Store *store;
        Ingest *ingest;
        Scrape *scrape;
        RequestsLog logs[JOULES_REQUEST_SOURCES_MAX];
        size_t n_logs;
        RequestsPair *pairs;
        size_t n_pairs;
        size_t last;                   /* the pair added to last; n_pairs or more: none */
        int32_t slots[REQUESTS_SLOTS]; /* index into pairs, -1 empty */
        uint64_t over_cap;             /* counts dropped: too many pairs in a tick */
        StoreRequestValue *values;
        StoreIngestStats ingest_stats;
};

static uint32_t requests_hash(const char *unit, const char *metric)
{
        uint32_t h = fnv1a(FNV1A_OFFSET, unit, strlen(unit));
        h = fnv1a(h, "\xff", 1);
        return fnv1a(h, metric, strlen(metric));
}

/* How many metric names unit already has this tick (only when a new pair would be added). */
static size_t requests_unit_names(const Requests *r, const char *unit)
{
        size_t n = 0;
        for (size_t i = 0; i < r->n_pairs; i++)
                n += strcmp(r->pairs[i].unit, unit) == 0;
        return n;
}

bool requests_add(Requests *r, const char *unit, const char *metric, double count)
{
        /* a sender's datagrams come in runs of the same unit and metric: skip the hash for them */
        if (r->last < r->n_pairs) {
                RequestsPair *p = &r->pairs[r->last];
                if (strcmp(p->metric, metric) == 0 && strcmp(p->unit, unit) == 0) {
                        p->count += count;
                        return true;
                }
        }
        uint32_t h = requests_hash(unit, metric);
        for (uint32_t i = 0; i < REQUESTS_SLOTS; i++) {
                int32_t *slot = &r->slots[(h + i) & (REQUESTS_SLOTS - 1)];
                if (*slot < 0) {
                        if (r->n_pairs >= REQUESTS_PAIRS_MAX ||
                            requests_unit_names(r, unit) >= REQUESTS_NAMES_PER_UNIT) {
                                r->over_cap++;
                                return false;
                        }
                        RequestsPair *p = &r->pairs[r->n_pairs];
                        snprintf(p->unit, sizeof(p->unit), "%s", unit);
                        snprintf(p->metric, sizeof(p->metric), "%s", metric);
                        p->count = count;
                        p->hash = h;
                        r->last = r->n_pairs;
                        *slot = (int32_t)r->n_pairs++;
                        return true;
                }
                RequestsPair *p = &r->pairs[*slot];
                if (p->hash == h && strcmp(p->unit, unit) == 0 && strcmp(p->metric, metric) == 0) {
                        p->count += count;
                        r->last = (size_t)*slot;
                        return true;
                }
        }
        r->over_cap++;
        return false;
}

static bool requests_sink(void *userdata, const char *unit, const char *metric, double count)
{
        return requests_add(userdata, unit, metric, count);
}

static void requests_scrape_sink(void *userdata, const char *unit, const char *metric, double count)
{
        if (!requests_add(userdata, unit, metric, count))
                log_debug("requests: scraped count for %s dropped (metric limit)", unit);
}

int requests_new(const JoulesConfig *cfg, const JoulesRoots *roots, Store *store, Requests **ret,
                 char *err, size_t errlen)
{
        Requests *r = calloc(1, sizeof(*r));
        if (!r)
                return -ENOMEM;
        r->cfg = *cfg;
        r->store = store;
        r->pairs = calloc(REQUESTS_PAIRS_MAX, sizeof(*r->pairs));
        r->values = calloc(REQUESTS_PAIRS_MAX, sizeof(*r->values));
        if (!r->pairs || !r->values) {
                requests_free(r);
                return -ENOMEM;
        }
        memset(r->slots, 0xff, sizeof(r->slots));
        int rc;
        if (cfg->ingest_socket[0]) {
                char why[512];
                IngestOptions o = {
                        .path = cfg->ingest_socket,
                        .roots = roots,
                        .trusted_units = cfg->ingest_trusted_units,
                        .trusted_uids = cfg->ingest_trusted_uids,
                        .sink = requests_sink,
                        .userdata = r,
                };
                rc = ingest_open(&o, &r->ingest, why, sizeof(why));
                if (rc < 0)
                        log_warning("no request ingest socket: %s (energy is measured anyway)",
                                    why);
                else
                        log_info("counting requests sent to %s%s", cfg->ingest_socket,
                                 ingest_from_systemd(r->ingest) ? " (socket from systemd)" : "");
        }
        for (size_t i = 0; i < r->cfg.n_request_sources; i++) {
                const JoulesRequestSource *src = &r->cfg.request_sources[i];
                if (!src->access_log[0])
                        continue;
                RequestsLog *l = &r->logs[r->n_logs];
                l->src = src;
                l->failing = -1;
                rc = accesslog_open(src->access_log, src->access_log_filter, &l->log, err, errlen);
                if (rc < 0) {
                        requests_free(r);
                        return rc;
                }
                r->n_logs++;
                log_info("counting lines of %s for %s", src->access_log, src->unit);
        }
        rc = scrape_start(&r->cfg, &r->scrape, err, errlen);
        if (rc < 0) {
                requests_free(r);
                return rc;
        }
        *ret = r;
        return 0;
}

Requests *requests_free(Requests *r)
{
        if (!r)
                return NULL;
        scrape_stop(r->scrape);
        ingest_free(r->ingest);
        for (size_t i = 0; i < r->n_logs; i++)
                accesslog_free(r->logs[i].log);
        free(r->pairs);
        free(r->values);
        free(r);
        return NULL;
}

int requests_fd(const Requests *r)
{
        return r ? ingest_fd(r->ingest) : -1;
}

void requests_handle(Requests *r)
{
        if (r && r->ingest)
                (void)ingest_drain(r->ingest);
}

uint64_t requests_read_after_ns(const Requests *r)
{
        return r ? ingest_read_after_ns(r->ingest) : 0;
}

static void requests_poll_logs(Requests *r)
{
        for (size_t i = 0; i < r->n_logs; i++) {
                RequestsLog *l = &r->logs[i];
                uint64_t lines = 0;
                int rc = accesslog_poll(l->log, &lines);
                int state = rc < 0 ? -rc : 0;
                if (state != l->failing) {
                        if (state)
                                log_warning("reading %s for %s: %s (logged again only when it "
                                            "works again)",
                                            l->src->access_log, l->src->unit, strerror(state));
                        else if (l->failing > 0)
                                log_notice("reading %s for %s works again", l->src->access_log,
                                           l->src->unit);
                        l->failing = state;
                }
                if (lines)
                        requests_add(r, l->src->unit, l->src->metric_name, (double)lines);
        }
}

int requests_tick(Requests *r, RequestsTick *ret)
{
        requests_poll_logs(r);
        scrape_take(r->scrape, requests_scrape_sink, r);
        if (r->ingest) {
                IngestStats st;
                ingest_take_stats(r->ingest, &st);
                r->ingest_stats = (StoreIngestStats){
                        .accepted = st.accepted,
                        .rejected = st.rejected, /* limits included: the sink refused them */
                        .malformed = st.malformed,
                };
        }
        if (r->over_cap)
                log_debug("requests: %llu count(s) over the limits (%d pairs, %d names per unit) "
                          "dropped this tick",
                          (unsigned long long)r->over_cap, REQUESTS_PAIRS_MAX,
                          REQUESTS_NAMES_PER_UNIT);
        r->over_cap = 0;
        size_t n = 0;
        int rc = 0;
        for (size_t i = 0; i < r->n_pairs; i++) {
                const RequestsPair *p = &r->pairs[i];
                int64_t unit_id, metric_id;
                bool pseudo = strcmp(p->unit, "unattributed") == 0;
                rc = store_unit_ensure(r->store, p->unit, pseudo, &unit_id);
                if (rc >= 0)
                        rc = store_metric_ensure(r->store, p->metric, &metric_id);
                if (rc < 0)
                        break;
                r->values[n++] = (StoreRequestValue){
                        .unit_id = unit_id, .metric_id = metric_id, .count = p->count};
        }
        r->n_pairs = 0;
        memset(r->slots, 0xff, sizeof(r->slots));
        *ret = (RequestsTick){
                .values = r->values,
                .n_values = n,
                .ingest = r->ingest ? &r->ingest_stats : NULL,
        };
        return rc < 0 ? rc : 0;
}
