#include "common/power-curve.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

double power_curve_eval(const PowerCurve *c, double util_pct)
{
        if (!(util_pct > c->util_pct[0])) /* also NaN */
                return c->watts[0];
        for (unsigned i = 1; i < c->n; i++) {
                if (util_pct <= c->util_pct[i]) {
                        double u0 = c->util_pct[i - 1], u1 = c->util_pct[i];
                        double w0 = c->watts[i - 1], w1 = c->watts[i];
                        return w0 + (w1 - w0) * (util_pct - u0) / (u1 - u0);
                }
        }
        return c->watts[c->n - 1];
}

int power_curve_check(const PowerCurve *c, char *err, size_t errlen)
{
        if (c->n < POWER_CURVE_MIN || c->n > POWER_CURVE_MAX) {
                snprintf(err, errlen, "%u points, want %d to %d", c->n, POWER_CURVE_MIN,
                         POWER_CURVE_MAX);
                return -EINVAL;
        }
        for (unsigned i = 0; i < c->n; i++) {
                double u = c->util_pct[i], w = c->watts[i];
                if (!(u >= 0 && u <= 100)) {
                        snprintf(err, errlen, "point %u: utilisation %g is not within 0 to 100 %%",
                                 i + 1, u);
                        return -EINVAL;
                }
                if (!(w >= 0 && isfinite(w))) {
                        snprintf(err, errlen, "point %u: %g W is not a finite figure >= 0", i + 1,
                                 w);
                        return -EINVAL;
                }
                if (i > 0 && u == c->util_pct[i - 1]) {
                        snprintf(err, errlen, "point %u: utilisation %g given twice", i + 1, u);
                        return -EINVAL;
                }
                if (i > 0 && u < c->util_pct[i - 1]) {
                        snprintf(err, errlen,
                                 "point %u: utilisation %g after %g (points go in increasing "
                                 "order)",
                                 i + 1, u, c->util_pct[i - 1]);
                        return -EINVAL;
                }
        }
        return 0;
}

/* A decimal number at *p (strtod, but no hex, inf or nan), spaces around it skipped. */
static int curve_number(const char **p, double *ret)
{
        const char *s = *p;
        while (*s == ' ' || *s == '\t')
                s++;
        if (!((*s >= '0' && *s <= '9') || *s == '.' || *s == '-' || *s == '+'))
                return -EINVAL;
        for (const char *q = s; *q && *q != ':' && *q != ','; q++)
                if (*q == 'x' || *q == 'X' || *q == 'n' || *q == 'N' || *q == 'i' || *q == 'I')
                        return -EINVAL;
        char *end;
        errno = 0;
        double v = strtod(s, &end);
        if (end == s || errno == ERANGE)
                return -EINVAL;
        while (*end == ' ' || *end == '\t')
                end++;
        *ret = v;
        *p = end;
        return 0;
}

int power_curve_parse(const char *text, PowerCurve *ret, char *err, size_t errlen)
{
        PowerCurve c = {0};
        const char *p = text;
        for (;;) {
                if (c.n == POWER_CURVE_MAX) {
                        snprintf(err, errlen, "more than %d points", POWER_CURVE_MAX);
                        return -EINVAL;
                }
                double u, w;
                if (curve_number(&p, &u) < 0 || *p != ':') {
                        snprintf(err, errlen,
                                 "point %u: want UTILISATION_PCT:WATTS, such as 50:210", c.n + 1);
                        return -EINVAL;
                }
                p++;
                if (curve_number(&p, &w) < 0 || (*p != ',' && *p != '\0')) {
                        snprintf(err, errlen,
                                 "point %u: want UTILISATION_PCT:WATTS, such as 50:210", c.n + 1);
                        return -EINVAL;
                }
                c.util_pct[c.n] = u;
                c.watts[c.n] = w;
                c.n++;
                if (*p == '\0')
                        break;
                p++;
        }
        int r = power_curve_check(&c, err, errlen);
        if (r < 0)
                return r;
        *ret = c;
        return 0;
}

/* The shortest decimal that reads back as exactly v: fixed-point where that is exact within 17
 * decimals (74, 0.1, 220.5), otherwise the shortest %.Ng. */
static int curve_fmt_double(char *buf, size_t size, double v)
{
        char tmp[64];
        if (fabs(v) < 1e15)
                for (int d = 0; d <= 17; d++) {
                        snprintf(tmp, sizeof(tmp), "%.*f", d, v);
                        if (strtod(tmp, NULL) == v)
                                return snprintf(buf, size, "%s", tmp);
                }
        for (int prec = 1; prec <= 17; prec++) {
                snprintf(tmp, sizeof(tmp), "%.*g", prec, v);
                if (strtod(tmp, NULL) == v)
                        break;
        }
        return snprintf(buf, size, "%s", tmp);
}

int power_curve_format(const PowerCurve *c, const char *sep, char *buf, size_t size)
{
        size_t len = 0;
        for (unsigned i = 0; i < c->n; i++) {
                char u[64], w[64];
                curve_fmt_double(u, sizeof(u), c->util_pct[i]);
                curve_fmt_double(w, sizeof(w), c->watts[i]);
                int k = snprintf(len < size ? buf + len : NULL, len < size ? size - len : 0,
                                 "%s%s:%s", i ? sep : "", u, w);
                if (k < 0)
                        return k;
                len += (size_t)k;
        }
        if (c->n == 0 && size > 0)
                buf[0] = '\0';
        return (int)len;
}

void power_curve_linear(PowerCurve *ret, unsigned ncpu, double idle_w, double max_w)
{
        *ret = (PowerCurve){.n = 2, .util_pct = {0, 100}, .watts = {ncpu * idle_w, ncpu * max_w}};
}

void power_curve_scale(PowerCurve *c, double k)
{
        for (unsigned i = 0; i < c->n; i++)
                c->watts[i] *= k;
}
