#include "cli/fleet.h"

#include <errno.h>
#include <inttypes.h>
#include <json.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/prom-http.h"
#include "common/carbon.h"
#include "common/text.h"
#include "common/util.h"

/* ---- the counter arithmetic ---- */

/* From one reading to the next: a decrease is a reset, after which the counter counted `to`. */
static double walk(double from, double to)
{
        return to >= from ? to - from : to;
}

double fleet_counter_step(FleetCounter *c, double low, double last)
{
        if (!isfinite(last)) {
                if (!isfinite(low))
                        return NAN;
                last = low;
        }
        double inc;
        if (!c->seen)
                inc = isfinite(low) ? walk(low, last) : 0;
        else if (isfinite(low))
                inc = walk(c->prev, low) + walk(low, last);
        else
                inc = walk(c->prev, last);
        c->seen = true;
        c->prev = last;
        return inc;
}

bool fleet_counter_decreased(const FleetCounter *c, double low, double last)
{
        double a = c->seen ? c->prev : NAN;
        const double v[] = {low, last};
        for (size_t i = 0; i < ELEMENTSOF(v); i++) {
                if (!isfinite(v[i]))
                        continue;
                if (isfinite(a) && v[i] < a)
                        return true;
                a = v[i];
        }
        return false;
}

double fleet_counter_walk(double from, const double *v, size_t n)
{
        double inc = 0;
        for (size_t i = 0; i < n; i++) {
                if (!isfinite(v[i]))
                        continue;
                if (isfinite(from))
                        inc += walk(from, v[i]);
                from = v[i];
        }
        return inc;
}

int fleet_parse_value(const char *s, unsigned decimals, double *ret)
{
        /* The exact decimal form (what the API writes: Go's shortest 'f' formatting), digit by
         * digit into an integer count of units while it fits 2^53; anything else through
         * strtod. */
        const char *p = s;
        uint64_t units = 0;
        bool exact = *p >= '0' && *p <= '9';
        unsigned frac = 0;
        const uint64_t max = UINT64_C(1) << 53;
        for (; exact && *p >= '0' && *p <= '9'; p++) {
                if (units > (max - (uint64_t)(*p - '0')) / 10)
                        exact = false;
                units = units * 10 + (uint64_t)(*p - '0');
        }
        if (exact && *p == '.')
                for (p++; exact && *p >= '0' && *p <= '9'; p++) {
                        if (frac == decimals) {
                                if (*p != '0')
                                        exact = false;
                                continue;
                        }
                        if (units > (max - (uint64_t)(*p - '0')) / 10)
                                exact = false;
                        units = units * 10 + (uint64_t)(*p - '0');
                        frac++;
                }
        if (exact && *p == '\0') {
                for (; exact && frac < decimals; frac++) {
                        if (units > max / 10)
                                exact = false;
                        units *= 10;
                }
        }
        double v;
        if (exact && *p == '\0') {
                v = (double)units;
        } else {
                if (parse_double(s, &v) < 0 || !isfinite(v) || v < 0)
                        return -EINVAL;
                v = decimals ? round(v * pow(10, decimals)) : v;
        }
        /* counted in uint64_t units later: a store answering 1e30 is refused, not cast */
        if (!(v < 0x1p63))
                return -ERANGE;
        *ret = v;
        return 0;
}

/* ---- the API's answers ---- */

static int series_cmp_key(const FleetSeries *x, const char *host, const char *unit,
                          const char *mode)
{
        int c = strcmp(x->host, host);
        if (c)
                return c;
        c = strcmp(x->unit ? x->unit : "", unit ? unit : "");
        if (c)
                return c;
        return strcmp(x->mode ? x->mode : "", mode ? mode : "");
}

static int series_cmp(const void *a, const void *b)
{
        const FleetSeries *y = b;
        return series_cmp_key(a, y->host, y->unit, y->mode);
}

void fleet_matrix_done(FleetMatrix *m)
{
        for (size_t i = 0; i < m->n; i++) {
                free(m->series[i].host);
                free(m->series[i].unit);
                free(m->series[i].mode);
                free(m->series[i].v);
        }
        free(m->series);
        *m = (FleetMatrix){0};
}

static const char *label(json_object *metric, const char *name)
{
        json_object *v;
        if (!json_object_object_get_ex(metric, name, &v) ||
            !json_object_is_type(v, json_type_string))
                return NULL;
        return json_object_get_string(v);
}

/* One [time, "value"] pair into s->v. */
static int parse_point(json_object *pt, int64_t start_us, int64_t step_us, size_t n_steps,
                       unsigned decimals, FleetSeries *s, char *err, size_t errlen)
{
        if (!json_object_is_type(pt, json_type_array) || json_object_array_length(pt) != 2) {
                snprintf(err, errlen, "a point is not a [time, value] pair");
                return -EPROTO;
        }
        json_object *t = json_object_array_get_idx(pt, 0), *v = json_object_array_get_idx(pt, 1);
        if (!(json_object_is_type(t, json_type_double) || json_object_is_type(t, json_type_int)) ||
            !json_object_is_type(v, json_type_string)) {
                snprintf(err, errlen, "a point's time is not a number or its value not a string");
                return -EPROTO;
        }
        double us = json_object_get_double(t) * 1e6;
        double k = step_us > 0 ? round((us - (double)start_us) / (double)step_us) : 0;
        if (step_us < 0) /* raw samples: anywhere in the window, in order */
                k = us >= (double)(start_us + step_us - 1000) && us <= (double)(start_us + 1000)
                            ? (double)s->n_v
                            : -1;
        if (!(k >= 0 && k < (double)n_steps) ||
            (step_us >= 0 && fabs(us - ((double)start_us + k * (double)step_us)) > 1000)) {
                snprintf(err, errlen, "a point at %.3f is not one of the times asked for",
                         us / 1e6);
                return -EPROTO;
        }
        const char *text = json_object_get_string(v);
        double value;
        if (strcmp(text, "NaN") == 0)
                return 0; /* as no point: a gauge that had no value */
        if (fleet_parse_value(text, decimals, &value) < 0) {
                snprintf(err, errlen, "a value is not a number >= 0: '%.*s'",
                         (int)text_fit(text, 40), text);
                return -EPROTO;
        }
        s->v[(size_t)k] = value;
        if (step_us < 0)
                s->n_v++;
        return 0;
}

static int parse_result(json_object *data, const char *host_label, int64_t start_us,
                        int64_t step_us, size_t n_steps, unsigned decimals, FleetMatrix *m,
                        char *err, size_t errlen)
{
        json_object *type, *result;
        const char *want = step_us != 0 ? "matrix" : "vector";
        if (!json_object_object_get_ex(data, "resultType", &type) ||
            !json_object_is_type(type, json_type_string) ||
            strcmp(json_object_get_string(type), want) != 0) {
                snprintf(err, errlen, "data.resultType is not \"%s\"", want);
                return -EPROTO;
        }
        if (!json_object_object_get_ex(data, "result", &result) ||
            !json_object_is_type(result, json_type_array)) {
                snprintf(err, errlen, "data.result is not an array");
                return -EPROTO;
        }
        size_t n = json_object_array_length(result);
        m->series = calloc(n ? n : 1, sizeof(*m->series));
        if (!m->series)
                return -ENOMEM;
        m->n_steps = n_steps;
        for (size_t i = 0; i < n; i++) {
                json_object *e = json_object_array_get_idx(result, i), *metric, *points;
                if (!json_object_is_type(e, json_type_object) ||
                    !json_object_object_get_ex(e, "metric", &metric) ||
                    !json_object_is_type(metric, json_type_object)) {
                        snprintf(err, errlen, "data.result[%zu] has no metric object", i);
                        return -EPROTO;
                }
                const char *host = label(metric, host_label);
                if (!host) {
                        m->no_host++;
                        continue;
                }
                FleetSeries *s = &m->series[m->n++];
                const char *unit = label(metric, "unit"), *mode = label(metric, "mode"),
                           *est = label(metric, "estimated");
                s->host = strdup(host);
                /* joules-exporter serves unit names in the people form: back to the bytes the
                 * host's history holds, so that the rows read as that host's own export does */
                s->unit = unit ? text_from_terminal(unit) : NULL;
                s->mode = mode ? strdup(mode) : NULL;
                s->estimated = est && strcmp(est, "true") == 0;
                if (!s->host || (unit && !s->unit) || (mode && !s->mode))
                        return -ENOMEM;
                if (step_us != 0 && (!json_object_object_get_ex(e, "values", &points) ||
                                     !json_object_is_type(points, json_type_array))) {
                        snprintf(err, errlen, "data.result[%zu] has no values array", i);
                        return -EPROTO;
                }
                size_t cap = step_us < 0 ? json_object_array_length(points) : n_steps;
                s->v = malloc((cap ? cap : 1) * sizeof(*s->v));
                if (!s->v)
                        return -ENOMEM;
                for (size_t k = 0; k < cap; k++)
                        s->v[k] = NAN;
                s->n_v = step_us < 0 ? 0 : n_steps;
                int r;
                if (step_us != 0) {
                        for (size_t k = 0; k < json_object_array_length(points); k++)
                                if ((r = parse_point(json_object_array_get_idx(points, k), start_us,
                                                     step_us, cap, decimals, s, err, errlen)) < 0)
                                        return r;
                } else {
                        if (!json_object_object_get_ex(e, "value", &points)) {
                                snprintf(err, errlen, "data.result[%zu] has no value", i);
                                return -EPROTO;
                        }
                        if ((r = parse_point(points, start_us, step_us, n_steps, decimals, s, err,
                                             errlen)) < 0)
                                return r;
                }
        }
        qsort(m->series, m->n, sizeof(*m->series), series_cmp);
        for (size_t i = 1; i < m->n; i++)
                if (series_cmp(&m->series[i - 1], &m->series[i]) == 0) {
                        snprintf(err, errlen,
                                 "two series have %s=\"%.*s\"%s%.*s%s: give a label that "
                                 "tells hosts apart (--host-label) or select one copy (--match)",
                                 host_label, (int)text_fit(m->series[i].host, 200),
                                 m->series[i].host, m->series[i].unit ? ", unit=\"" : "",
                                 (int)text_fit(m->series[i].unit ? m->series[i].unit : "", 200),
                                 m->series[i].unit ? m->series[i].unit : "",
                                 m->series[i].unit ? "\"" : "");
                        return -ENOTUNIQ;
                }
        return 0;
}

int fleet_parse_answer(long http_status, const char *body, size_t len, const char *host_label,
                       int64_t start_us, int64_t step_us, size_t n_steps, unsigned decimals,
                       FleetMatrix *ret, char *err, size_t errlen)
{
        FleetMatrix m = {0};
        json_tokener *tok = json_tokener_new();
        if (!tok)
                return -ENOMEM;
        json_object *root = len <= INT32_MAX ? json_tokener_parse_ex(tok, body, (int)len) : NULL;
        bool whole = root && json_tokener_get_error(tok) == json_tokener_success &&
                     (size_t)json_tokener_get_parse_end(tok) == len;
        json_tokener_free(tok);
        json_object *status = NULL, *data;
        int r = -EPROTO;
        if (!root || !whole || !json_object_is_type(root, json_type_object) ||
            !json_object_object_get_ex(root, "status", &status) ||
            !json_object_is_type(status, json_type_string)) {
                if (http_status != 200)
                        snprintf(err, errlen, "HTTP status %ld", http_status);
                else
                        snprintf(err, errlen, "the answer is not %s",
                                 whole ? "an API answer (no \"status\")" : "JSON");
                goto out;
        }
        if (strcmp(json_object_get_string(status), "success") != 0) {
                const char *type = label(root, "errorType"), *msg = label(root, "error");
                msg = msg ? msg : "(no message)";
                snprintf(err, errlen, "HTTP status %ld, %s: %.*s", http_status,
                         type ? type : "error", (int)text_fit(msg, 400), msg);
                goto out;
        }
        if (http_status != 200) {
                snprintf(err, errlen, "HTTP status %ld", http_status);
                goto out;
        }
        if (!json_object_object_get_ex(root, "data", &data) ||
            !json_object_is_type(data, json_type_object)) {
                snprintf(err, errlen, "the answer has no data object");
                goto out;
        }
        r = parse_result(data, host_label, start_us, step_us, n_steps, decimals, &m, err, errlen);
        if (r >= 0) {
                *ret = m;
                m = (FleetMatrix){0};
        }
out:
        json_object_put(root);
        fleet_matrix_done(&m);
        return r;
}

/* ---- the export ---- */

/* steps per query: a day of hours, an hour of minutes */
#define STEPS_MAX 60

enum { C_ACTIVE, C_IDLE, C_CPU, C_REQ, _C_MAX };

typedef struct Unit {
        char *name;
        FleetCounter c[_C_MAX];
        double d[_C_MAX][STEPS_MAX]; /* the increases of this chunk's steps; NAN: no reading */
} Unit;

typedef struct Host {
        char *id;
        FleetCounter energy, seconds;
        double d_energy[STEPS_MAX], d_seconds[STEPS_MAX];
        double intensity[STEPS_MAX];
        signed char estimated[STEPS_MAX]; /* -1: no joules_info reading */
        Unit **units;                     /* by name */
        size_t n_units, cap_units;
        double pue, embodied_g_per_s; /* the gauges; NAN: none */
        FootprintBuilder *b;
} Host;

typedef struct Fleet {
        const FleetOptions *o;
        PromClient *client;
        Host **hosts; /* by id */
        size_t n_hosts, cap_hosts;
        StorePeriodRow *rows;
        size_t cap_rows;
        FootprintEmit emit;
        void *user;
        char *err;
        size_t errlen;
} Fleet;

static Unit *unit_free(Unit *u)
{
        if (u) {
                free(u->name);
                free(u);
        }
        return NULL;
}

static Host *host_free(Host *h)
{
        if (!h)
                return NULL;
        for (size_t i = 0; i < h->n_units; i++)
                unit_free(h->units[i]);
        free(h->units);
        footprint_builder_free(h->b);
        free(h->id);
        free(h);
        return NULL;
}

static void host_clear_steps(Host *h)
{
        for (size_t k = 0; k < STEPS_MAX; k++) {
                h->d_energy[k] = h->d_seconds[k] = h->intensity[k] = NAN;
                h->estimated[k] = -1;
        }
        for (size_t i = 0; i < h->n_units; i++)
                for (size_t c = 0; c < _C_MAX; c++)
                        for (size_t k = 0; k < STEPS_MAX; k++)
                                h->units[i]->d[c][k] = NAN;
}

/* Finds or adds by binary search in a sorted array of pointers to structs starting with a
 * name; *ret_at is the position. */
#define FIND(arr, n, key, field, at)                                                               \
        do {                                                                                       \
                size_t lo_ = 0, hi_ = (n);                                                         \
                while (lo_ < hi_) {                                                                \
                        size_t mid_ = (lo_ + hi_) / 2;                                             \
                        if (strcmp((arr)[mid_]->field, (key)) < 0)                                 \
                                lo_ = mid_ + 1;                                                    \
                        else                                                                       \
                                hi_ = mid_;                                                        \
                }                                                                                  \
                (at) = lo_;                                                                        \
        } while (0)

static int insert_at(void ***arr, size_t *n, size_t *cap, size_t at, void *item)
{
        if (*n == *cap) {
                size_t ncap = *cap ? *cap * 2 : 16;
                void **a = realloc(*arr, ncap * sizeof(*a));
                if (!a)
                        return -ENOMEM;
                *arr = a;
                *cap = ncap;
        }
        memmove(*arr + at + 1, *arr + at, (*n - at) * sizeof(**arr));
        (*arr)[at] = item;
        (*n)++;
        return 0;
}

static Host *host_get(Fleet *f, const char *id)
{
        size_t at;
        FIND(f->hosts, f->n_hosts, id, id, at);
        if (at < f->n_hosts && strcmp(f->hosts[at]->id, id) == 0)
                return f->hosts[at];
        Host *h = calloc(1, sizeof(*h));
        if (!h || !(h->id = strdup(id)))
                return host_free(h);
        h->pue = h->embodied_g_per_s = NAN;
        host_clear_steps(h);
        if (insert_at((void ***)&f->hosts, &f->n_hosts, &f->cap_hosts, at, h) < 0)
                return host_free(h);
        return h;
}

static Unit *unit_get(Host *h, const char *name)
{
        size_t at;
        FIND(h->units, h->n_units, name, name, at);
        if (at < h->n_units && strcmp(h->units[at]->name, name) == 0)
                return h->units[at];
        Unit *u = calloc(1, sizeof(*u));
        if (!u || !(u->name = strdup(name)))
                return unit_free(u);
        for (size_t c = 0; c < _C_MAX; c++)
                for (size_t k = 0; k < STEPS_MAX; k++)
                        u->d[c][k] = NAN;
        if (insert_at((void ***)&h->units, &h->n_units, &h->cap_units, at, u) < 0)
                return unit_free(u);
        return u;
}

/* name{extra,match} */
static int selector(const Fleet *f, const char *name, const char *extra, char *buf, size_t size)
{
        const char *m = f->o->match && f->o->match[0] ? f->o->match : NULL;
        int n = extra || m ? snprintf(buf, size, "%s{%s%s%s}", name, extra ? extra : "",
                                      extra && m ? "," : "", m ? m : "")
                           : snprintf(buf, size, "%s", name);
        return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

/* Asks and reads one query: n points from start by step (step 0: an instant query). */
static int ask(Fleet *f, const char *query, int64_t start_us, int64_t step_us, size_t n,
               unsigned decimals, FleetMatrix *ret)
{
        PromAnswer a = {0};
        char why[1024];
        int r = prom_query(f->client, query, start_us, start_us + (int64_t)(n - 1) * step_us,
                           step_us, &a, why, sizeof(why));
        if (r == -ENOMEM)
                return r;
        if (r >= 0) {
                r = fleet_parse_answer(a.status, a.body, a.len, f->o->host_label, start_us, step_us,
                                       n, decimals, ret, why, sizeof(why));
                prom_answer_done(&a);
        }
        if (r < 0 && r != -ENOMEM)
                snprintf(f->err, f->errlen, "%s: %s (query %.*s)", prom_client_url(f->client), why,
                         (int)text_fit(query, 300), query);
        return r;
}

enum { F_HOST_ENERGY, F_HOST_SECONDS, F_UNIT_ENERGY, F_UNIT_CPU, F_UNIT_REQUESTS };
static const struct {
        const char *name;
        const char *extra; /* a label matcher of our own */
        unsigned decimals; /* as joules-exporter writes it: the values are integer units */
} families[] = {
        [F_HOST_ENERGY] = {"joules_host_energy_joules_total", NULL, 6},
        [F_HOST_SECONDS] = {"joules_host_measured_seconds_total", NULL, 6},
        [F_UNIT_ENERGY] = {"joules_unit_energy_joules_total", NULL, 6},
        [F_UNIT_CPU] = {"joules_unit_cpu_seconds_total", NULL, 9},
        [F_UNIT_REQUESTS] = {"joules_unit_requests_total", "metric=\"" STORE_REQUESTS_METRIC "\"",
                             0},
};

/* One counter family over n steps of step_us from c0: the increases into the hosts' steps. */
static int fleet_family(Fleet *f, int fam, int64_t c0, int64_t step_us, size_t n)
{
        char sel[1024], q[1200];
        FleetMatrix last = {0}, low = {0};
        int r = selector(f, families[fam].name, families[fam].extra, sel, sizeof(sel));
        if (r < 0) {
                snprintf(f->err, f->errlen, "--match is too long");
                return r;
        }
        bool *reset_at = NULL;     /* steps where a counter decreased */
        signed char *reset = NULL; /* [series * n + step]: 1 seen before, 2 first seen */
        double *before = NULL;     /* [series * n + step]: the reading before it */
        double **dest = NULL;      /* [series]: where its increases go */
        snprintf(q, sizeof(q), "last_over_time(%s[%" PRId64 "ms])", sel, step_us / 1000);
        /* n + 1 points: the reading at c0 too, where counting starts */
        if ((r = ask(f, q, c0, step_us, n + 1, families[fam].decimals, &last)) < 0)
                goto out;
        snprintf(q, sizeof(q), "min_over_time(%s[%" PRId64 "ms])", sel, step_us / 1000);
        if ((r = ask(f, q, c0 + step_us, step_us, n, families[fam].decimals, &low)) < 0)
                goto out;
        reset_at = calloc(n, sizeof(*reset_at));
        reset = calloc(last.n * n + 1, sizeof(*reset));
        before = calloc(last.n * n + 1, sizeof(*before));
        dest = calloc(last.n + 1, sizeof(*dest));
        if (!reset_at || !reset || !before || !dest) {
                r = -ENOMEM;
                goto out;
        }
        for (size_t i = 0; i < last.n; i++) {
                FleetSeries *s = &last.series[i];
                Host *h = host_get(f, s->host);
                if (!h) {
                        r = -ENOMEM;
                        goto out;
                }
                FleetCounter *c;
                double *d;
                if (fam == F_HOST_ENERGY) {
                        c = &h->energy;
                        d = h->d_energy;
                } else if (fam == F_HOST_SECONDS) {
                        c = &h->seconds;
                        d = h->d_seconds;
                } else {
                        if (!s->unit)
                                continue;
                        size_t which = fam == F_UNIT_CPU                           ? C_CPU
                                       : fam == F_UNIT_REQUESTS                    ? C_REQ
                                       : s->mode && strcmp(s->mode, "active") == 0 ? C_ACTIVE
                                       : s->mode && strcmp(s->mode, "idle") == 0   ? C_IDLE
                                                                                   : _C_MAX;
                        if (which == _C_MAX)
                                continue;
                        Unit *u = unit_get(h, s->unit);
                        if (!u) {
                                r = -ENOMEM;
                                goto out;
                        }
                        c = &u->c[which];
                        d = u->d[which];
                }
                FleetSeries *lo = bsearch(s, low.series, low.n, sizeof(*low.series), series_cmp);
                if (!c->seen && isfinite(s->v[0])) {
                        c->seen = true;
                        c->prev = s->v[0];
                }
                dest[i] = d;
                for (size_t k = 0; k < n; k++) {
                        double lv = lo ? lo->v[k] : NAN;
                        if (fleet_counter_decreased(c, lv, s->v[k + 1])) {
                                reset_at[k] = true;
                                reset[i * n + k] = c->seen ? 1 : 2;
                                before[i * n + k] = c->prev;
                        }
                        d[k] = fleet_counter_step(c, lv, s->v[k + 1]);
                }
        }
        /* A decrease is a reset. What the old counter gained in the step before it is in the
         * store's samples only: those of the steps with a reset are read one by one (resets are
         * rare: joules' counters survive restarts). */
        for (size_t k = 0; k < n && r >= 0; k++) {
                if (!reset_at[k])
                        continue;
                FleetMatrix raw = {0};
                snprintf(q, sizeof(q), "%s[%" PRId64 "ms]", sel, step_us / 1000);
                r = ask(f, q, c0 + (int64_t)(k + 1) * step_us, -step_us, 1, families[fam].decimals,
                        &raw);
                for (size_t i = 0; i < last.n && r >= 0; i++) {
                        if (!reset[i * n + k] || !dest[i])
                                continue;
                        FleetSeries *rs = bsearch(&last.series[i], raw.series, raw.n,
                                                  sizeof(*raw.series), series_cmp);
                        if (rs)
                                dest[i][k] = fleet_counter_walk(
                                        reset[i * n + k] == 1 ? before[i * n + k] : NAN, rs->v,
                                        rs->n_v);
                }
                fleet_matrix_done(&raw);
        }
        if (r > 0)
                r = 0;
out:
        free(dest);
        free(reset_at);
        free(reset);
        free(before);
        fleet_matrix_done(&last);
        fleet_matrix_done(&low);
        return r;
}

/* Per step, the intensity: the mean of the exporter's samples over the step, which is the
 * series' time-weighted mean over the hour as each host's own export takes it (an imported series
 * changes within an hour: the UK grid's every half hour; the exporter shows the value in force at
 * each scrape, and scrapes come at a fixed interval); the estimated flag in force at its end. */
static int fleet_gauges(Fleet *f, int64_t c0, int64_t step_us, size_t n)
{
        char sel[1024], q[1200];
        FleetMatrix m = {0};
        int r;
        if (!f->o->overrides.intensity && !f->o->overrides.country) {
                if ((r = selector(f, "joules_grid_intensity_grams_per_kwh", NULL, sel,
                                  sizeof(sel))) < 0)
                        return r;
                snprintf(q, sizeof(q), "avg_over_time(%s[%" PRId64 "ms])", sel, step_us / 1000);
                /* decimals 0: the value as it is */
                if ((r = ask(f, q, c0 + step_us, step_us, n, 0, &m)) < 0)
                        return r;
                for (size_t i = 0; i < m.n; i++) {
                        Host *h = host_get(f, m.series[i].host);
                        if (!h) {
                                fleet_matrix_done(&m);
                                return -ENOMEM;
                        }
                        for (size_t k = 0; k < n; k++)
                                if (isfinite(m.series[i].v[k]))
                                        h->intensity[k] = m.series[i].v[k];
                }
                fleet_matrix_done(&m);
        }
        /* A host's joules_info can hold several series in one step (its source changed), so
         * it is asked per host: any joules_info at all (measured unless told otherwise), then
         * any that says estimated. */
        for (int est = 0; est <= 1; est++) {
                if ((r = selector(f, "joules_info", est ? "estimated=\"true\"" : NULL, sel,
                                  sizeof(sel))) < 0)
                        return r;
                snprintf(q, sizeof(q), "max by (%s) (last_over_time(%s[%" PRId64 "ms]))",
                         f->o->host_label, sel, step_us / 1000);
                if ((r = ask(f, q, c0 + step_us, step_us, n, 0, &m)) < 0)
                        return r;
                for (size_t i = 0; i < m.n; i++) {
                        Host *h = host_get(f, m.series[i].host);
                        if (!h) {
                                fleet_matrix_done(&m);
                                return -ENOMEM;
                        }
                        for (size_t k = 0; k < n; k++)
                                if (isfinite(m.series[i].v[k]))
                                        h->estimated[k] = (signed char)est;
                }
                fleet_matrix_done(&m);
        }
        return 0;
}

/* PUE and embodied emissions per second: each host's latest in the range. */
static int fleet_settings(Fleet *f)
{
        static const char *const gauges[] = {"joules_pue", "joules_embodied_grams_per_second"};
        char sel[1024], q[1200];
        int64_t range_ms = (f->o->to_us - f->o->from_us) / 1000;
        for (size_t g = 0; g < ELEMENTSOF(gauges); g++) {
                FleetMatrix m = {0};
                int r = selector(f, gauges[g], NULL, sel, sizeof(sel));
                if (r < 0)
                        return r;
                snprintf(q, sizeof(q), "last_over_time(%s[%" PRId64 "ms])", sel, range_ms);
                if ((r = ask(f, q, f->o->to_us, 0, 1, 0, &m)) < 0)
                        return r;
                for (size_t i = 0; i < m.n; i++) {
                        Host *h = host_get(f, m.series[i].host);
                        if (!h) {
                                fleet_matrix_done(&m);
                                return -ENOMEM;
                        }
                        *(g == 0 ? &h->pue : &h->embodied_g_per_s) = m.series[i].v[0];
                }
                fleet_matrix_done(&m);
        }
        return 0;
}

/* The host's settings: the defaults, its gauges, then the command's flags. */
static void host_settings(const Fleet *f, const Host *h, FootprintSettings *fs)
{
        *fs = (FootprintSettings){
                .intensity = NAN,
                .pue = CARBON_DEFAULT_PUE,
                .el_hours = CARBON_DEFAULT_EL_HOURS,
                .market_g_per_kwh = NAN,
        };
        if (isfinite(h->pue) && h->pue >= 1 && h->pue <= 10)
                fs->pue = h->pue;
        footprint_apply(fs, &f->o->overrides);
        /* the gauge is TE / EL: the host's TE over the lifetime in force here */
        if (!f->o->overrides.te && isfinite(h->embodied_g_per_s))
                fs->te_g = h->embodied_g_per_s * fs->el_hours * 3600.0;
}

static bool pseudo_unit(const char *name)
{
        return strcmp(name, "kernel") == 0 || strcmp(name, "unattributed") == 0 ||
               strcmp(name, "idle") == 0;
}

static double or0(double v)
{
        return isfinite(v) ? v : 0;
}

/* Step k of host h into its builder. */
static int host_step(Fleet *f, Host *h, size_t k, int64_t start_us, int64_t end_us)
{
        int r;
        if (!h->b) {
                FootprintSettings fs;
                host_settings(f, h, &fs);
                r = footprint_builder_new(&fs, f->o->from_us, f->o->to_us, f->o->bucket, NULL,
                                          f->emit, f->user, &h->b);
                if (r < 0)
                        return r;
                footprint_builder_labels(h->b, h->id, "exporter");
        }
        if (f->cap_rows < h->n_units) {
                StorePeriodRow *rows = realloc(f->rows, h->n_units * sizeof(*rows));
                if (!rows)
                        return -ENOMEM;
                f->rows = rows;
                f->cap_rows = h->n_units;
        }
        bool estimated = h->estimated[k] == 1;
        size_t n = 0;
        for (size_t i = 0; i < h->n_units; i++) {
                const Unit *u = h->units[i];
                double a = or0(u->d[C_ACTIVE][k]), idle = or0(u->d[C_IDLE][k]),
                       cpu = or0(u->d[C_CPU][k]), req = u->d[C_REQ][k];
                /* as in the history: units with neither energy nor requests are absent */
                if (a == 0 && idle == 0 && cpu == 0 && !isfinite(req))
                        continue;
                StorePeriodRow *row = &f->rows[n++];
                *row = (StorePeriodRow){
                        .pseudo = pseudo_unit(u->name),
                        .active_uj = (uint64_t)a,
                        .idle_uj = (uint64_t)idle,
                        .cpu_ns = (uint64_t)cpu,
                        .has_requests = isfinite(req),
                        .requests = or0(req),
                        .estimated = estimated,
                };
                snprintf(row->name, sizeof(row->name), "%s", u->name);
        }
        StorePeriod step = {
                .start_us = start_us,
                .end_us = end_us,
                .first_us = start_us,
                .last_us = end_us,
                .host_uj = (uint64_t)h->d_energy[k],
                .seconds = or0(h->d_seconds[k]) / 1e6,
                .estimated = estimated,
        };
        double intensity = h->intensity[k];
        unsigned source = FOOTPRINT_SOURCE_SERIES;
        if (!isfinite(intensity)) {
                char label[64];
                FootprintSettings fs;
                host_settings(f, h, &fs);
                intensity = footprint_fallback_intensity(&fs, label, sizeof(label));
                source = FOOTPRINT_SOURCE_FALLBACK;
        }
        return footprint_builder_add(h->b, &step, f->rows, n, intensity, source);
}

static int flush_all(Fleet *f)
{
        for (size_t i = 0; i < f->n_hosts; i++)
                if (f->hosts[i]->b) {
                        int r = footprint_builder_flush(f->hosts[i]->b);
                        if (r < 0)
                                return r;
                }
        return 0;
}

int fleet_export(const FleetOptions *o, FootprintEmit emit, void *user, char *err, size_t errlen)
{
        FleetOptions opts = *o;
        /* the API takes milliseconds */
        opts.from_us -= opts.from_us % 1000;
        opts.to_us -= opts.to_us % 1000;
        Fleet f = {.o = &opts, .emit = emit, .user = user, .err = err, .errlen = errlen};
        StoreBucket step_bucket =
                opts.bucket == STORE_BUCKET_MINUTE ? STORE_BUCKET_MINUTE : STORE_BUCKET_HOUR;
        int64_t full = step_bucket == STORE_BUCKET_MINUTE ? 60 * (int64_t)USEC_PER_SEC
                                                          : 3600 * (int64_t)USEC_PER_SEC;
        size_t group = step_bucket == STORE_BUCKET_MINUTE ? 60 : 24;
        int64_t period = INT64_MIN;
        int r = prom_client_new(opts.url, opts.timeout_s, &f.client);
        if (r < 0)
                return r;
        if ((r = fleet_settings(&f)) < 0)
                goto out;

        for (int64_t c0 = opts.from_us; c0 < opts.to_us;) {
                /* Steps on the bucket's boundaries; the ends of the range cut the first and the
                 * last, each then asked alone. */
                int64_t next =
                        store_bucket_next(step_bucket, store_bucket_start(step_bucket, c0 + 1));
                int64_t step = full;
                size_t n;
                if (next - c0 != full || c0 + full > opts.to_us) {
                        step = (next < opts.to_us ? next : opts.to_us) - c0;
                        n = 1;
                } else {
                        n = (size_t)((opts.to_us - c0) / full);
                        if (n > group)
                                n = group;
                }
                for (size_t i = 0; i < f.n_hosts; i++)
                        host_clear_steps(f.hosts[i]);
                for (int fam = F_HOST_ENERGY; fam <= F_UNIT_REQUESTS; fam++)
                        if ((r = fleet_family(&f, fam, c0, step, n)) < 0)
                                goto out;
                if ((r = fleet_gauges(&f, c0, step, n)) < 0)
                        goto out;
                for (size_t k = 0; k < n; k++) {
                        int64_t s0 = c0 + (int64_t)k * step, s1 = s0 + step;
                        int64_t p = store_bucket_start(opts.bucket, s1);
                        if (p != period) {
                                /* every host's period before is complete: out in host order */
                                if ((r = flush_all(&f)) < 0)
                                        goto out;
                                period = p;
                        }
                        for (size_t i = 0; i < f.n_hosts; i++)
                                if (isfinite(f.hosts[i]->d_energy[k]) &&
                                    (r = host_step(&f, f.hosts[i], k, s0, s1)) < 0)
                                        goto out;
                }
                c0 += (int64_t)n * step;
        }
        if ((r = flush_all(&f)) < 0)
                goto out;
        for (size_t i = 0; i < f.n_hosts; i++)
                if (f.hosts[i]->b && (r = footprint_builder_finish(f.hosts[i]->b, NULL)) < 0)
                        goto out;
        r = (int)f.n_hosts;
out:
        if (r == -ENOMEM)
                snprintf(err, errlen, "out of memory");
        for (size_t i = 0; i < f.n_hosts; i++)
                host_free(f.hosts[i]);
        free(f.hosts);
        free(f.rows);
        prom_client_free(f.client);
        return r;
}
