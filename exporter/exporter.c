#include "exporter/exporter.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli/footprint.h"
#include "common/carbon.h"
#include "common/log.h"
#include "common/util.h"
#include "exporter/metrics.h"
#include "storage/store.h"

#define PROCESS_WINDOW_US (60 * (int64_t)USEC_PER_SEC)

struct Exporter {
        char *path;
        Store *store;
        dev_t dev;
        ino_t ino;
        unsigned top_processes;
        double start_s;
        char last_error[512]; /* logged once until it changes */
};

int exporter_new(const char *db_path, unsigned top_processes, Exporter **ret)
{
        Exporter *e = calloc(1, sizeof(*e));
        if (!e)
                return -ENOMEM;
        e->path = strdup(db_path);
        if (!e->path) {
                free(e);
                return -ENOMEM;
        }
        e->top_processes = top_processes;
        e->start_s = (double)now_realtime_us() / 1e6;
        *ret = e;
        return 0;
}

Exporter *exporter_free(Exporter *e)
{
        if (!e)
                return NULL;
        store_close(e->store);
        free(e->path);
        free(e);
        return NULL;
}

static void report(Exporter *e, const char *msg)
{
        /* a stopped joulesd fails every scrape the same way: say it once */
        if (strcmp(e->last_error, msg) == 0)
                return;
        snprintf(e->last_error, sizeof(e->last_error), "%s", msg);
        if (msg[0])
                log_warning("cannot read the history: %s", msg);
        else
                log_info("reading the history %s", e->path);
}

/* The open handle, reopened when the path now names another file (moved aside as corrupt and a
 * new history begun). */
static Store *history(Exporter *e)
{
        struct stat st;
        if (stat(e->path, &st) < 0) {
                char msg[512];
                snprintf(msg, sizeof(msg), "%s: %s", e->path, strerror(errno));
                report(e, msg);
                e->store = store_close(e->store);
                return NULL;
        }
        if (e->store && (st.st_dev != e->dev || st.st_ino != e->ino))
                e->store = store_close(e->store);
        if (!e->store) {
                char err[512];
                if (store_open(e->path, STORE_READ_ONLY, &e->store, err, sizeof(err)) < 0) {
                        report(e, err);
                        e->store = NULL;
                        return NULL;
                }
                e->dev = st.st_dev;
                e->ino = st.st_ino;
        }
        return e->store;
}

static void process_figures(MetricsInput *in)
{
        struct rusage ru;
        if (getrusage(RUSAGE_SELF, &ru) == 0)
                in->process_cpu_s = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
                                    (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
        char buf[128];
        unsigned long long size, rss;
        if (read_text("/proc/self/statm", buf, sizeof(buf)) > 0 &&
            sscanf(buf, "%llu %llu", &size, &rss) == 2)
                in->process_rss_bytes = rss * (unsigned long long)sysconf(_SC_PAGESIZE);
}

/* The carbon figures in force now, as joules sci/report/export use them: the imported series'
 * point in force now where there is one, else the configured intensity or the country's yearly
 * one (joules export --prometheus averages these samples over each hour). */
static bool carbon_figures(Store *s, int64_t now_us, MetricsInput *in)
{
        FootprintSettings fs;
        char err[256], label[64];
        if (footprint_settings_load(s, &fs, err, sizeof(err)) < 0) {
                log_debug("carbon settings: %s", err);
                return false;
        }
        double intensity = footprint_fallback_intensity(&fs, label, sizeof(label));
        StoreIntensityPoint *pts = NULL;
        size_t n = 0;
        if (store_read_intensity(s, now_us, now_us + 1, &pts, &n) >= 0 && n > 0)
                intensity = pts[0].g_per_kwh;
        free(pts);
        in->intensity_g_per_kwh = intensity;
        in->pue = fs.pue;
        in->embodied_g_per_s = fs.el_hours > 0 ? fs.te_g / (fs.el_hours * 3600.0) : 0;
        return true;
}

static int proc_cmp(const void *a, const void *b)
{
        const StoreProcTotal *x = a, *y = b;
        return x->energy_j < y->energy_j ? 1 : x->energy_j > y->energy_j ? -1 : 0;
}

/* The top processes over the last minute stored: the raw ticks of that minute only. */
static size_t top_processes(Exporter *e, Store *s, const StoreTotals *t, MetricsProcess **ret)
{
        *ret = NULL;
        if (e->top_processes == 0 || t->empty)
                return 0;
        int64_t from = t->last_us - PROCESS_WINDOW_US;
        if (from < t->first_us)
                from = t->first_us;
        double window_s = (double)(t->last_us - from) / 1e6;
        StoreProcTotal *p = NULL;
        size_t n = 0;
        if (window_s <= 0 ||
            store_read_processes(s, from, t->last_us, e->top_processes, &p, &n) < 0 || n == 0) {
                free(p);
                return 0;
        }
        qsort(p, n, sizeof(*p), proc_cmp);
        MetricsProcess *v = calloc(e->top_processes, sizeof(*v));
        size_t k = 0;
        for (size_t i = 0; v && i < n && k < e->top_processes; i++) {
                MetricsProcess m = {.pid = p[i].pid, .power_w = p[i].energy_j / window_s};
                snprintf(m.unit, sizeof(m.unit), "%s", p[i].unit);
                snprintf(m.comm, sizeof(m.comm), "%s", p[i].comm);
                /* one series per label set, even if a PID came back with the same name */
                bool dup = false;
                for (size_t j = 0; j < k && !dup; j++)
                        if (v[j].pid == m.pid && strcmp(v[j].unit, m.unit) == 0 &&
                            strcmp(v[j].comm, m.comm) == 0) {
                                v[j].power_w += m.power_w;
                                dup = true;
                        }
                if (!dup)
                        v[k++] = m;
        }
        free(p);
        *ret = v;
        return v ? k : 0;
}

int exporter_scrape(Exporter *e, ExpoFormat f, ExpoBuf *page, unsigned *ret_status)
{
        uint64_t t0 = now_monotonic_ns();
        MetricsInput in = {.version = JOULES_VERSION,
                           .now_us = now_realtime_us(),
                           .process_start_s = e->start_s};
        StoreTotals totals = {0};
        MetricsProcess *procs = NULL;
        Store *s = history(e);
        if (s) {
                int r = store_read_totals(s, &totals);
                if (r < 0) {
                        char msg[512];
                        snprintf(msg, sizeof(msg), "%s: %s", e->path,
                                 store_last_error(s)[0] ? store_last_error(s) : strerror(-r));
                        report(e, msg);
                        /* a fresh handle next time: the file may have been replaced or fixed */
                        e->store = store_close(e->store);
                } else {
                        report(e, "");
                        in.history_up = true;
                        in.totals = &totals;
                        in.carbon = carbon_figures(s, in.now_us, &in);
                        in.n_procs = top_processes(e, s, &totals, &procs);
                        in.procs = procs;
                }
        }
        in.scrape_duration_s = (double)(now_monotonic_ns() - t0) / 1e9;
        process_figures(&in);
        bool ok = metrics_render(&in, f, page);
        store_totals_done(&totals);
        free(procs);
        if (!ok)
                return -ENOMEM;
        *ret_status = in.history_up ? 200 : 503;
        return 0;
}
