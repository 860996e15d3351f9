#include "daemon/scrape.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the exposition format ---- */

static bool scrape_is_space(char c)
{
        return c == ' ' || c == '\t';
}

static bool scrape_name_start(char c, bool colon)
{
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (colon && c == ':');
}

static bool scrape_name_char(char c, bool colon)
{
        return scrape_name_start(c, colon) || (c >= '0' && c <= '9');
}

/* A name at *p (metric names may hold ':', label names not). */
static int scrape_take_name(const char **p, const char *end, bool colon, char *out, size_t size)
{
        const char *s = *p;
        if (s >= end || !scrape_name_start(*s, colon))
                return -EINVAL;
        while (s < end && scrape_name_char(*s, colon))
                s++;
        if ((size_t)(s - *p) >= size)
                return -EINVAL;
        memcpy(out, *p, (size_t)(s - *p));
        out[s - *p] = '\0';
        *p = s;
        return 0;
}

/* A double-quoted string with \\, \" and \n escapes, unescaped into out. */
static int scrape_take_quoted(const char **p, const char *end, char *out, size_t size)
{
        const char *s = *p;
        size_t n = 0;
        if (s >= end || *s != '"')
                return -EINVAL;
        for (s++; s < end && *s != '"'; s++) {
                char c = *s;
                if (c == '\\') {
                        if (++s >= end)
                                return -EINVAL;
                        c = *s == 'n' ? '\n' : *s;
                        if (*s != 'n' && *s != '\\' && *s != '"')
                                return -EINVAL;
                } else if (c == '\n') {
                        return -EINVAL;
                }
                if (n + 1 >= size)
                        return -EINVAL;
                out[n++] = c;
        }
        if (s >= end)
                return -EINVAL;
        out[n] = '\0';
        *p = s + 1;
        return 0;
}

static void scrape_skip_space(const char **p, const char *end)
{
        while (*p < end && scrape_is_space(**p))
                (*p)++;
}

static int scrape_parse_value(const char *s, size_t len, double *ret)
{
        char tmp[64];
        if (len == 0 || len >= sizeof(tmp))
                return -EINVAL;
        memcpy(tmp, s, len);
        tmp[len] = '\0';
        if (strcmp(tmp, "+Inf") == 0 || strcmp(tmp, "Inf") == 0) {
                *ret = INFINITY;
                return 0;
        }
        if (strcmp(tmp, "-Inf") == 0) {
                *ret = -INFINITY;
                return 0;
        }
        if (strcmp(tmp, "NaN") == 0) {
                *ret = NAN;
                return 0;
        }
        /* strtod alone would take "inf", "nan(...)" and hex: the format has only decimals */
        for (size_t i = 0; i < len; i++)
                if (!strchr("0123456789+-.eE", tmp[i]))
                        return -EINVAL;
        char *e;
        errno = 0;
        double v = strtod(tmp, &e);
        if (*e || e == tmp)
                return -EINVAL;
        *ret = v;
        return 0;
}

int scrape_parse_line(const char *line, size_t len, ScrapeSample *ret)
{
        const char *p = line, *end = line + len;
        if (len > 0 && end[-1] == '\r')
                end--;
        scrape_skip_space(&p, end);
        if (p == end || *p == '#')
                return 1;
        ScrapeSample *s = ret;
        s->n_labels = 0;
        if (scrape_take_name(&p, end, true, s->metric, sizeof(s->metric)) < 0)
                return -EINVAL;
        const char *after_name = p;
        scrape_skip_space(&p, end);
        bool spaced = p > after_name;
        if (p < end && *p == '{') {
                spaced = false; /* needed after the labels */
                p++;
                for (;;) {
                        scrape_skip_space(&p, end);
                        if (p < end && *p == '}') {
                                p++;
                                break;
                        }
                        if (s->n_labels >= SCRAPE_LABELS_MAX)
                                return -EINVAL;
                        ScrapeLabel *l = &s->labels[s->n_labels];
                        if (scrape_take_name(&p, end, false, l->name, sizeof(l->name)) < 0)
                                return -EINVAL;
                        scrape_skip_space(&p, end);
                        if (p >= end || *p != '=')
                                return -EINVAL;
                        p++;
                        scrape_skip_space(&p, end);
                        if (scrape_take_quoted(&p, end, l->value, sizeof(l->value)) < 0)
                                return -EINVAL;
                        s->n_labels++;
                        scrape_skip_space(&p, end);
                        if (p < end && *p == ',')
                                p++;
                        else if (p < end && *p == '}') {
                                p++;
                                break;
                        } else
                                return -EINVAL;
                }
        }
        const char *before_value = p;
        scrape_skip_space(&p, end);
        if (p == before_value && !spaced)
                return -EINVAL; /* the value must be set apart by white space */
        const char *v = p;
        while (p < end && !scrape_is_space(*p))
                p++;
        if (scrape_parse_value(v, (size_t)(p - v), &s->value) < 0)
                return -EINVAL;
        scrape_skip_space(&p, end);
        if (p < end) { /* an optional integer timestamp in milliseconds */
                if (*p == '-' || *p == '+')
                        p++;
                const char *t = p;
                while (p < end && *p >= '0' && *p <= '9')
                        p++;
                if (p == t)
                        return -EINVAL;
                scrape_skip_space(&p, end);
                if (p != end)
                        return -EINVAL;
        }
        return 0;
}

/* ---- selectors ---- */

int scrape_selector_parse(const char *str, ScrapeSelector *ret, char *err, size_t errlen)
{
        ScrapeSelector sel = {0};
        const char *p = str, *end = str + strlen(str);
        scrape_skip_space(&p, end);
        if (scrape_take_name(&p, end, true, sel.metric, sizeof(sel.metric)) < 0) {
                snprintf(err, errlen, "'%s' does not start with a metric name", str);
                return -EINVAL;
        }
        scrape_skip_space(&p, end);
        if (p < end && *p == '{') {
                p++;
                for (;;) {
                        scrape_skip_space(&p, end);
                        if (p < end && *p == '}') {
                                p++;
                                break;
                        }
                        if (sel.n_matchers >= SCRAPE_MATCHERS_MAX) {
                                snprintf(err, errlen, "more than %d label matchers",
                                         SCRAPE_MATCHERS_MAX);
                                goto fail;
                        }
                        ScrapeMatcher *m = &sel.matchers[sel.n_matchers];
                        if (scrape_take_name(&p, end, false, m->label, sizeof(m->label)) < 0) {
                                snprintf(err, errlen, "expected a label name at '%s'", p);
                                goto fail;
                        }
                        scrape_skip_space(&p, end);
                        if (end - p >= 2 && p[0] == '=' && p[1] == '~')
                                m->op = SCRAPE_RE, p += 2;
                        else if (end - p >= 2 && p[0] == '!' && p[1] == '~')
                                m->op = SCRAPE_NRE, p += 2;
                        else if (end - p >= 2 && p[0] == '!' && p[1] == '=')
                                m->op = SCRAPE_NE, p += 2;
                        else if (p < end && p[0] == '=')
                                m->op = SCRAPE_EQ, p += 1;
                        else {
                                snprintf(err, errlen, "expected =, !=, =~ or !~ after '%s'",
                                         m->label);
                                goto fail;
                        }
                        scrape_skip_space(&p, end);
                        if (scrape_take_quoted(&p, end, m->value, sizeof(m->value)) < 0) {
                                snprintf(err, errlen, "expected a \"quoted\" value for '%s'",
                                         m->label);
                                goto fail;
                        }
                        sel.n_matchers++;
                        if ((m->op == SCRAPE_RE || m->op == SCRAPE_NRE) &&
                            regex_too_costly(m->value)) {
                                snprintf(err, errlen,
                                         "regular expression \"%s\": too many nested repeats to "
                                         "compile",
                                         m->value);
                                sel.n_matchers--;
                                goto fail;
                        }
                        if (m->op == SCRAPE_RE || m->op == SCRAPE_NRE) {
                                char anchored[SCRAPE_VALUE_MAX + 8];
                                snprintf(anchored, sizeof(anchored), "^(%s)$", m->value);
                                int rc = regcomp(&m->re, anchored, REG_EXTENDED | REG_NOSUB);
                                if (rc != 0) {
                                        char why[128];
                                        regerror(rc, &m->re, why, sizeof(why));
                                        snprintf(err, errlen, "regular expression \"%s\": %s",
                                                 m->value, why);
                                        sel.n_matchers--;
                                        goto fail;
                                }
                                m->compiled = true;
                        }
                        scrape_skip_space(&p, end);
                        if (p < end && *p == ',')
                                p++;
                        else if (p < end && *p == '}') {
                                p++;
                                break;
                        } else {
                                snprintf(err, errlen, "expected ',' or '}' in '%s'", str);
                                goto fail;
                        }
                }
        }
        scrape_skip_space(&p, end);
        if (p != end) {
                snprintf(err, errlen, "unexpected '%s' after the selector", p);
                goto fail;
        }
        *ret = sel;
        return 0;
fail:
        scrape_selector_done(&sel);
        return -EINVAL;
}

void scrape_selector_done(ScrapeSelector *sel)
{
        for (size_t i = 0; i < sel->n_matchers; i++)
                if (sel->matchers[i].compiled) {
                        regfree(&sel->matchers[i].re);
                        sel->matchers[i].compiled = false;
                }
        sel->n_matchers = 0;
}

bool scrape_selector_match(const ScrapeSelector *sel, const ScrapeSample *s)
{
        if (strcmp(sel->metric, s->metric) != 0)
                return false;
        for (size_t i = 0; i < sel->n_matchers; i++) {
                const ScrapeMatcher *m = &sel->matchers[i];
                const char *v = "";
                for (size_t k = 0; k < s->n_labels; k++)
                        if (strcmp(s->labels[k].name, m->label) == 0) {
                                v = s->labels[k].value;
                                break;
                        }
                bool ok;
                switch (m->op) {
                case SCRAPE_EQ:
                        ok = strcmp(v, m->value) == 0;
                        break;
                case SCRAPE_NE:
                        ok = strcmp(v, m->value) != 0;
                        break;
                case SCRAPE_RE:
                        ok = regexec(&m->re, v, 0, NULL, 0) == 0;
                        break;
                default:
                        ok = regexec(&m->re, v, 0, NULL, 0) != 0;
                        break;
                }
                if (!ok)
                        return false;
        }
        return true;
}

double scrape_counter_delta(double prev, double cur)
{
        if (!isfinite(cur) || cur < 0)
                return 0;
        return cur >= prev ? cur - prev : cur;
}

/* The series' key: its labels sorted by name, each "name=LENGTH:value" (a label name holds no
 * '=', and the length says where the value ends whatever bytes it holds), so every label set
 * has a key of its own. */
static char *scrape_series_key(const ScrapeSample *s)
{
        size_t order[SCRAPE_LABELS_MAX], size = 1;
        for (size_t i = 0; i < s->n_labels; i++) {
                size_t k = i;
                while (k > 0 && strcmp(s->labels[order[k - 1]].name, s->labels[i].name) > 0) {
                        order[k] = order[k - 1];
                        k--;
                }
                order[k] = i;
                size += strlen(s->labels[i].name) + strlen(s->labels[i].value) + 24;
        }
        char *key = malloc(size);
        if (!key)
                return NULL;
        size_t n = 0;
        key[0] = '\0';
        for (size_t i = 0; i < s->n_labels; i++) {
                const ScrapeLabel *l = &s->labels[order[i]];
                n += (size_t)snprintf(key + n, size - n, "%s=%zu:%s", l->name, strlen(l->value),
                                      l->value);
        }
        return key;
}

static int scrape_series_cmp(const void *a, const void *b)
{
        return strcmp(((const ScrapeSeries *)a)->key, ((const ScrapeSeries *)b)->key);
}

void scrape_series_done(ScrapeSeriesSet *set)
{
        for (size_t i = 0; i < set->n; i++)
                free(set->v[i].key);
        free(set->v);
        *set = (ScrapeSeriesSet){0};
}

int scrape_collect(const ScrapeSelector *sel, const char *text, size_t len, ScrapeSeriesSet *ret)
{
        ScrapeSeriesSet set = {0};
        size_t cap = 0;
        ScrapeSample *s = malloc(sizeof(*s));
        if (!s)
                return -ENOMEM;
        const char *p = text, *end = text + len;
        size_t ml = strlen(sel->metric);
        while (p < end) {
                const char *nl = memchr(p, '\n', (size_t)(end - p));
                const char *le = nl ? nl : end;
                const char *q = p;
                while (q < le && scrape_is_space(*q))
                        q++;
                if ((size_t)(le - q) > ml && memcmp(q, sel->metric, ml) == 0 &&
                    scrape_parse_line(p, (size_t)(le - p), s) == 0 &&
                    scrape_selector_match(sel, s) && isfinite(s->value)) {
                        if (set.n == cap) {
                                size_t nc = cap ? cap * 2 : 16;
                                ScrapeSeries *v = realloc(set.v, nc * sizeof(*v));
                                if (!v)
                                        goto oom;
                                set.v = v;
                                cap = nc;
                        }
                        char *key = scrape_series_key(s);
                        if (!key)
                                goto oom;
                        set.v[set.n++] = (ScrapeSeries){key, s->value, 0};
                }
                p = nl ? nl + 1 : end;
        }
        free(s);
        if (set.n > 1)
                qsort(set.v, set.n, sizeof(*set.v), scrape_series_cmp);
        /* the same label set twice (not a valid page): added up, once */
        size_t n = 0;
        for (size_t i = 0; i < set.n; i++) {
                if (n > 0 && strcmp(set.v[n - 1].key, set.v[i].key) == 0) {
                        set.v[n - 1].value += set.v[i].value;
                        free(set.v[i].key);
                        continue;
                }
                set.v[n++] = set.v[i];
        }
        set.n = n;
        *ret = set;
        return 0;
oom:
        free(s);
        scrape_series_done(&set);
        return -ENOMEM;
}

int scrape_series_carry(const ScrapeSeriesSet *prev, ScrapeSeriesSet *cur)
{
        size_t extra = 0, k = 0;
        for (size_t i = 0; i < prev->n; i++) {
                while (k < cur->n && strcmp(cur->v[k].key, prev->v[i].key) < 0)
                        k++;
                if ((k == cur->n || strcmp(cur->v[k].key, prev->v[i].key) != 0) &&
                    prev->v[i].missing + 1 < SCRAPE_FORGET)
                        extra++;
        }
        if (extra == 0)
                return 0;
        ScrapeSeries *v = calloc(cur->n + extra, sizeof(*v));
        if (!v)
                return -ENOMEM;
        size_t n = 0, i = 0;
        k = 0;
        while (i < prev->n || k < cur->n) {
                int c = i == prev->n ? 1 : k == cur->n ? -1 : strcmp(prev->v[i].key, cur->v[k].key);
                if (c >= 0) { /* on the page now */
                        v[n++] = cur->v[k++];
                        i += c == 0;
                        continue;
                }
                const ScrapeSeries *p = &prev->v[i++];
                if (p->missing + 1 >= SCRAPE_FORGET)
                        continue;
                char *key = strdup(p->key);
                if (!key) {
                        for (size_t j = 0; j < n; j++) /* the keys of cur stay cur's */
                                if (v[j].missing > 0)
                                        free(v[j].key);
                        free(v);
                        return -ENOMEM;
                }
                v[n++] = (ScrapeSeries){key, p->value, p->missing + 1};
        }
        free(cur->v);
        cur->v = v;
        cur->n = n;
        return 0;
}

double scrape_growth(const ScrapeSeriesSet *prev, const ScrapeSeriesSet *cur)
{
        double growth = 0;
        size_t k = 0;
        for (size_t i = 0; i < cur->n; i++) {
                while (k < prev->n && strcmp(prev->v[k].key, cur->v[i].key) < 0)
                        k++;
                bool seen = k < prev->n && strcmp(prev->v[k].key, cur->v[i].key) == 0;
                growth += scrape_counter_delta(seen ? prev->v[k].value : 0, cur->v[i].value);
        }
        return growth;
}
