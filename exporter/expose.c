#include "exporter/expose.h"

#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/text.h"
#include "common/util.h"

void expo_buf_free(ExpoBuf *b)
{
        free(b->data);
        *b = (ExpoBuf){0};
}

static bool reserve(ExpoBuf *b, size_t more)
{
        if (b->oom)
                return false;
        if (b->len + more + 1 <= b->cap)
                return true;
        size_t nc = b->cap ? b->cap : 4096;
        while (nc < b->len + more + 1)
                nc *= 2;
        char *p = realloc(b->data, nc);
        if (!p) {
                b->oom = true;
                return false;
        }
        b->data = p;
        b->cap = nc;
        return true;
}

static void put(ExpoBuf *b, const char *s, size_t n)
{
        if (!reserve(b, n))
                return;
        memcpy(b->data + b->len, s, n);
        b->len += n;
        b->data[b->len] = '\0';
}

static void puts_(ExpoBuf *b, const char *s)
{
        put(b, s, strlen(s));
}

static void PRINTF(2, 3) putf(ExpoBuf *b, const char *fmt, ...)
{
        char tmp[128];
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
        va_end(ap);
        if (n < 0)
                return;
        if ((size_t)n < sizeof(tmp)) {
                put(b, tmp, (size_t)n);
                return;
        }
        if (!reserve(b, (size_t)n))
                return;
        va_start(ap, fmt);
        vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
        va_end(ap);
        b->len += (size_t)n;
}

void expo_label_value(ExpoBuf *b, const char *s, bool escape)
{
        /* the table form (common/text.h): inert in a terminal, valid UTF-8, and a different
         * string for every different name, so no two units become one series */
        char safe[TEXT_SAFE_MAX];
        const char *p = text_terminal(s, safe, sizeof(safe));
        while (*p) {
                size_t n = escape ? strcspn(p, "\\\"\n") : strlen(p);
                put(b, p, n);
                p += n;
                if (!*p)
                        break;
                puts_(b, *p == '\n' ? "\\n" : *p == '"' ? "\\\"" : "\\\\");
                p++;
        }
}

static void help_text(ExpoBuf *b, ExpoFormat f, const char *s)
{
        for (; *s; s++) {
                if (*s == '\\')
                        puts_(b, "\\\\");
                else if (*s == '\n')
                        puts_(b, "\\n");
                else if (*s == '"' && f == EXPO_OPENMETRICS)
                        puts_(b, "\\\"");
                else
                        put(b, s, 1);
        }
}

void expo_family(ExpoBuf *b, ExpoFormat f, const char *family, ExpoType type, const char *unit,
                 const char *help)
{
        /* The text format names a counter's family by its sample (x_total) and has no info type;
         * OpenMetrics names the family without the suffix. */
        const char *suffix = f == EXPO_OPENMETRICS  ? ""
                             : type == EXPO_COUNTER ? "_total"
                             : type == EXPO_INFO    ? "_info"
                                                    : "";
        const char *tname = type == EXPO_COUNTER                         ? "counter"
                            : type == EXPO_INFO && f == EXPO_OPENMETRICS ? "info"
                                                                         : "gauge";
        putf(b, "# HELP %s%s ", family, suffix);
        help_text(b, f, help);
        putf(b, "\n# TYPE %s%s %s\n", family, suffix, tname);
        if (unit && f == EXPO_OPENMETRICS)
                putf(b, "# UNIT %s %s\n", family, unit);
}

static void value(ExpoBuf *b, ExpoValue v)
{
        if (v.kind == EXPO_FIXED) {
                /* digits right to left, the point after `decimals` of them (no printf: a page
                 * of 500 units has a few thousand of these) */
                char tmp[48];
                size_t o = sizeof(tmp);
                uint64_t u = v.units;
                unsigned k = 0;
                do {
                        if (k == v.decimals && k > 0)
                                tmp[--o] = '.';
                        tmp[--o] = (char)('0' + u % 10);
                        u /= 10;
                        k++;
                } while (u > 0 || k <= v.decimals);
                put(b, tmp + o, sizeof(tmp) - o);
                return;
        }
        if (isnan(v.d)) {
                puts_(b, "NaN");
                return;
        }
        if (isinf(v.d)) {
                puts_(b, v.d > 0 ? "+Inf" : "-Inf");
                return;
        }
        /* the shortest of 15 or 17 significant digits that reads back the same */
        char tmp[40];
        snprintf(tmp, sizeof(tmp), "%.15g", v.d);
        if (strtod(tmp, NULL) != v.d)
                snprintf(tmp, sizeof(tmp), "%.17g", v.d);
        puts_(b, tmp);
}

static void labels_out(ExpoBuf *b, const ExpoLabel *labels, size_t n)
{
        if (n == 0)
                return;
        puts_(b, "{");
        for (size_t i = 0; i < n; i++) {
                if (i)
                        puts_(b, ",");
                puts_(b, labels[i].name);
                puts_(b, "=\"");
                expo_label_value(b, labels[i].value ? labels[i].value : "", true);
                puts_(b, "\"");
        }
        puts_(b, "}");
}

void expo_sample(ExpoBuf *b, ExpoFormat f, const char *family, ExpoType type,
                 const ExpoLabel *labels, size_t n_labels, ExpoValue v, double created_s)
{
        const char *suffix = type == EXPO_COUNTER ? "_total" : type == EXPO_INFO ? "_info" : "";
        puts_(b, family);
        puts_(b, suffix);
        labels_out(b, labels, n_labels);
        puts_(b, " ");
        value(b, v);
        puts_(b, "\n");
        if (f == EXPO_OPENMETRICS && type == EXPO_COUNTER && created_s >= 0) {
                puts_(b, family);
                puts_(b, "_created");
                labels_out(b, labels, n_labels);
                puts_(b, " ");
                value(b, expo_double(created_s));
                puts_(b, "\n");
        }
}

void expo_end(ExpoBuf *b, ExpoFormat f)
{
        if (f == EXPO_OPENMETRICS)
                puts_(b, "# EOF\n");
}

const char *expo_content_type(ExpoFormat f)
{
        return f == EXPO_OPENMETRICS ? "application/openmetrics-text; version=1.0.0; charset=utf-8"
                                     : "text/plain; version=0.0.4; charset=utf-8";
}

/* ---- Accept (RFC 9110 12.5.1) ---- */

static const char *skip_ws(const char *s)
{
        while (*s == ' ' || *s == '\t')
                s++;
        return s;
}

/* Copies the token at s (up to one of stop, trimmed) into buf; returns where it stopped. */
static const char *token(const char *s, const char *stop, char *buf, size_t size)
{
        s = skip_ws(s);
        size_t n = 0;
        while (*s && !strchr(stop, *s)) {
                if (n + 1 < size)
                        buf[n++] = *s;
                s++;
        }
        while (n > 0 && (buf[n - 1] == ' ' || buf[n - 1] == '\t'))
                n--;
        buf[n] = '\0';
        return s;
}

ExpoFormat expo_negotiate(const char *accept)
{
        if (!accept)
                return EXPO_TEXT;
        double q_text = -1, q_om = -1;
        const char *s = accept;
        while (*s) {
                char type[96], name[32], val[64];
                s = token(s, ",;", type, sizeof(type));
                double q = 1;
                bool version_ok_om = true, version_ok_text = true;
                while (*s == ';') {
                        s = token(s + 1, "=,;", name, sizeof(name));
                        val[0] = '\0';
                        if (*s == '=')
                                s = token(s + 1, ",;", val, sizeof(val));
                        char *v = val;
                        size_t vl = strlen(v);
                        if (vl >= 2 && v[0] == '"' && v[vl - 1] == '"') {
                                v[vl - 1] = '\0';
                                v++;
                        }
                        if (strcasecmp(name, "q") == 0) {
                                char *end;
                                q = strtod(v, &end);
                                if (end == v || *end || q < 0 || q > 1)
                                        q = 0;
                        } else if (strcasecmp(name, "version") == 0) {
                                version_ok_om = strcmp(v, "1.0.0") == 0;
                                version_ok_text = strcmp(v, "0.0.4") == 0;
                        }
                }
                if (*s == ',')
                        s++;
                if (strcasecmp(type, "application/openmetrics-text") == 0) {
                        if (version_ok_om && q > q_om)
                                q_om = q;
                } else if (strcasecmp(type, "text/plain") == 0) {
                        if (version_ok_text && q > q_text)
                                q_text = q;
                } else if (strcasecmp(type, "*/*") == 0 || strcasecmp(type, "text/*") == 0) {
                        if (q > q_text)
                                q_text = q;
                }
        }
        return q_om > 0 && q_om > q_text ? EXPO_OPENMETRICS : EXPO_TEXT;
}
