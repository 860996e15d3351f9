#include "cli/calibrate.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/text.h"
#include "common/util.h"

/* One CSV record's fields, NUL-terminated, in one growing buffer. */
typedef struct CsvRecord {
        char *buf;
        size_t len, cap;
        size_t *start; /* offsets of the fields in buf */
        size_t n, cap_fields;
} CsvRecord;

static int rec_putc(CsvRecord *r, char c)
{
        if (r->len == r->cap) {
                size_t nc = r->cap ? 2 * r->cap : 256;
                char *nb = realloc(r->buf, nc);
                if (!nb)
                        return -ENOMEM;
                r->buf = nb;
                r->cap = nc;
        }
        r->buf[r->len++] = c;
        return 0;
}

static int rec_field_begin(CsvRecord *r)
{
        if (r->n == r->cap_fields) {
                size_t nc = r->cap_fields ? 2 * r->cap_fields : 16;
                size_t *ns = realloc(r->start, nc * sizeof(size_t));
                if (!ns)
                        return -ENOMEM;
                r->start = ns;
                r->cap_fields = nc;
        }
        r->start[r->n++] = r->len;
        return 0;
}

static const char *rec_field(const CsvRecord *r, size_t i)
{
        return r->buf + r->start[i];
}

/* Reads the record at *p into r; *line is the line it starts on and is advanced past it.
 * 1 with a record, 0 at the end of the text, -EINVAL (err set) or -ENOMEM. */
static int csv_next(const char **p, unsigned *line, unsigned *ret_line, CsvRecord *r, char *err,
                    size_t errlen)
{
        const char *s = *p;
        if (!*s)
                return 0;
        *ret_line = *line;
        r->len = 0;
        r->n = 0;
        for (;;) {
                if (rec_field_begin(r) < 0)
                        return -ENOMEM;
                if (*s == '"') {
                        s++;
                        for (;;) {
                                if (!*s) {
                                        snprintf(err, errlen,
                                                 "line %u: a quoted field is never closed",
                                                 *ret_line);
                                        return -EINVAL;
                                }
                                if (*s == '"' && s[1] == '"') {
                                        if (rec_putc(r, '"') < 0)
                                                return -ENOMEM;
                                        s += 2;
                                        continue;
                                }
                                if (*s == '"') {
                                        s++;
                                        break;
                                }
                                if (*s == '\n')
                                        (*line)++;
                                if (rec_putc(r, *s++) < 0)
                                        return -ENOMEM;
                        }
                        if (*s && *s != ',' && *s != '\n' && !(*s == '\r' && s[1] == '\n')) {
                                snprintf(err, errlen,
                                         "line %u: field %zu has text after its closing quote",
                                         *line, r->n);
                                return -EINVAL;
                        }
                } else {
                        while (*s && *s != ',' && *s != '\n' && !(*s == '\r' && s[1] == '\n')) {
                                if (*s == '"') {
                                        snprintf(err, errlen,
                                                 "line %u: field %zu has a quote inside an "
                                                 "unquoted field (quote the whole field)",
                                                 *line, r->n);
                                        return -EINVAL;
                                }
                                if (rec_putc(r, *s++) < 0)
                                        return -ENOMEM;
                        }
                }
                if (rec_putc(r, '\0') < 0)
                        return -ENOMEM;
                if (*s == ',') {
                        s++;
                        continue;
                }
                if (*s == '\r')
                        s++;
                if (*s == '\n') {
                        s++;
                        (*line)++;
                }
                break;
        }
        *p = s;
        return 1;
}

/* A plain decimal number (no hex, inf or nan), spaces around it allowed. */
static int csv_number(const char *f, double *ret)
{
        for (const char *c = f; *c; c++)
                if (!isdigit((unsigned char)*c) && !strchr(" \t.+-eE", *c))
                        return -EINVAL;
        return parse_double(f, ret);
}

static bool csv_blank(const CsvRecord *r)
{
        return r->n == 1 && strspn(rec_field(r, 0), " \t") == strlen(rec_field(r, 0));
}

int calib_parse_csv(const char *text, CurveSample **ret, size_t *ret_n, char *err, size_t errlen)
{
        CsvRecord rec = {0};
        CurveSample *v = NULL;
        size_t n = 0, cap = 0, nf = 0, iu = SIZE_MAX, iw = SIZE_MAX;
        unsigned line = 1, at = 0;
        bool header = true;
        int r;
        const char *p = text;
        if (strncmp(p, "\xEF\xBB\xBF", 3) == 0)
                p += 3;
        while ((r = csv_next(&p, &line, &at, &rec, err, errlen)) > 0) {
                if (csv_blank(&rec))
                        continue;
                if (header) {
                        header = false;
                        nf = rec.n;
                        for (size_t i = 0; i < rec.n; i++) {
                                char name[64];
                                snprintf(name, sizeof(name), "%s", rec_field(&rec, i));
                                const char *t = strstrip(name);
                                size_t *col = strcasecmp(t, "utilization_pct") == 0 ? &iu
                                              : strcasecmp(t, "watts") == 0         ? &iw
                                                                                    : NULL;
                                if (!col)
                                        continue;
                                if (*col != SIZE_MAX) {
                                        snprintf(err, errlen,
                                                 "line %u: the header names '%s' twice", at, t);
                                        r = -EINVAL;
                                        goto fail;
                                }
                                *col = i;
                        }
                        if (iu == SIZE_MAX || iw == SIZE_MAX) {
                                snprintf(err, errlen,
                                         "line %u: the header has no '%s' column (the first "
                                         "row must name the columns utilization_pct and watts)",
                                         at, iu == SIZE_MAX ? "utilization_pct" : "watts");
                                r = -EINVAL;
                                goto fail;
                        }
                        continue;
                }
                if (rec.n != nf) {
                        snprintf(err, errlen, "line %u: %zu fields, the header has %zu", at, rec.n,
                                 nf);
                        r = -EINVAL;
                        goto fail;
                }
                double u, w;
                const char *fu = rec_field(&rec, iu), *fw = rec_field(&rec, iw);
                if (strspn(fu, " \t") == strlen(fu) || strspn(fw, " \t") == strlen(fw)) {
                        snprintf(err, errlen, "line %u: %s is empty", at,
                                 strspn(fu, " \t") == strlen(fu) ? "utilization_pct" : "watts");
                        r = -EINVAL;
                        goto fail;
                }
                if (csv_number(fu, &u) < 0) {
                        snprintf(err, errlen, "line %u: utilization_pct '%.*s' is not a number", at,
                                 (int)text_fit(fu, 40), fu);
                        r = -EINVAL;
                        goto fail;
                }
                if (csv_number(fw, &w) < 0) {
                        snprintf(err, errlen, "line %u: watts '%.*s' is not a number", at,
                                 (int)text_fit(fw, 40), fw);
                        r = -EINVAL;
                        goto fail;
                }
                if (!(u >= 0 && u <= 100)) {
                        snprintf(err, errlen,
                                 "line %u: utilization_pct %g is outside 0 to 100 (percent of "
                                 "all CPUs)",
                                 at, u);
                        r = -EINVAL;
                        goto fail;
                }
                if (w < 0) {
                        snprintf(err, errlen, "line %u: watts %g is negative", at, w);
                        r = -EINVAL;
                        goto fail;
                }
                if (n == cap) {
                        size_t nc = cap ? 2 * cap : 64;
                        CurveSample *nv = realloc(v, nc * sizeof(*nv));
                        if (!nv) {
                                r = -ENOMEM;
                                goto fail;
                        }
                        v = nv;
                        cap = nc;
                }
                v[n++] = (CurveSample){u, w, 1};
        }
        if (r < 0)
                goto fail;
        if (header) {
                snprintf(err, errlen,
                         "the file is empty (want a header row naming "
                         "utilization_pct and watts, then one row per sample)");
                r = -EINVAL;
                goto fail;
        }
        if (n == 0) {
                snprintf(err, errlen, "no rows after the header");
                r = -EINVAL;
                goto fail;
        }
        free(rec.buf);
        free(rec.start);
        *ret = v;
        *ret_n = n;
        return 0;
fail:
        if (r == -ENOMEM)
                snprintf(err, errlen, "out of memory");
        free(rec.buf);
        free(rec.start);
        free(v);
        return r;
}

int calib_samples_from_ticks(const StoreHostTick *t, size_t n, unsigned ncpu, CurveSample **ret,
                             size_t *ret_n, CalibTickStats *stats)
{
        CalibTickStats st = {.ticks = n};
        CurveSample *v = calloc(n ? n : 1, sizeof(*v));
        size_t m = 0;
        if (!v)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                if (t[i].estimated) {
                        st.estimated++;
                        continue;
                }
                /* No unit CPU time at all: joulesd itself runs every tick, so the tick was
                 * written without a cgroup tree (everything unattributed, its CPU time unknown),
                 * and says nothing about the utilisation. */
                if (!t[i].has_cpu || t[i].cpu_ns == 0) {
                        st.no_cpu++;
                        continue;
                }
                if (t[i].dt_us == 0 || ncpu == 0) {
                        st.empty++;
                        continue;
                }
                double dt = (double)t[i].dt_us;
                double util = 100.0 * (double)t[i].cpu_ns / (1000.0 * dt * ncpu);
                if (util > 100) {
                        st.over_100++;
                        if (util > 105)
                                st.over_105++;
                        util = 100;
                }
                v[m++] = (CurveSample){util, (double)t[i].host_uj / dt, dt / 1e6};
                st.seconds += dt / 1e6;
                if (st.used++ == 0)
                        st.first_us = t[i].ts_us;
                st.last_us = t[i].ts_us;
        }
        *ret = v;
        *ret_n = m;
        *stats = st;
        return 0;
}
