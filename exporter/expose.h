#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The exposition writer: metric families and samples in the Prometheus text format 0.0.4 or in
 * OpenMetrics 1.0, into a growable buffer. Pure (no I/O), so every escaping rule is tested from
 * tables. Label values come from the system (unit names are chosen by unprivileged users): they
 * are written in common/text.h's table form, then escaped (\\, \", \n). */

typedef enum ExpoFormat {
        EXPO_TEXT,        /* text/plain; version=0.0.4 */
        EXPO_OPENMETRICS, /* application/openmetrics-text; version=1.0.0 */
} ExpoFormat;

typedef enum ExpoType {
        EXPO_COUNTER, /* family "x", samples x_total (and x_created in OpenMetrics) */
        EXPO_GAUGE,
        EXPO_INFO, /* family "x", sample x_info; a gauge in the text format */
} ExpoType;

typedef struct ExpoBuf {
        char *data;
        size_t len, cap;
        bool oom; /* an allocation failed: the buffer is incomplete, do not serve it */
} ExpoBuf;

typedef struct ExpoLabel {
        const char *name; /* a valid label name (joules' own constants) */
        const char *value;
} ExpoLabel;

/* The format an Accept header asks for: OpenMetrics when it is acceptable with a higher q-value
 * than the text format (Prometheus asks for it first), the text format otherwise (also for no
 * header, or one accepting neither). */
ExpoFormat expo_negotiate(const char *accept);
const char *expo_content_type(ExpoFormat f);

void expo_buf_free(ExpoBuf *b);

/* The family's HELP and TYPE lines (and UNIT in OpenMetrics when unit is not NULL). family is
 * the name without _total for a counter, without _info for an info metric. */
void expo_family(ExpoBuf *b, ExpoFormat f, const char *family, ExpoType type, const char *unit,
                 const char *help);

/* A sample's value, written exactly as it will be parsed. */
typedef struct ExpoValue {
        enum { EXPO_FIXED, EXPO_DOUBLE } kind;
        uint64_t units; /* EXPO_FIXED: the value is units / 10^decimals, written exactly */
        unsigned decimals;
        double d; /* EXPO_DOUBLE: shortest text that reads back the same; NaN, +Inf, -Inf */
} ExpoValue;

static inline ExpoValue expo_fixed(uint64_t units, unsigned decimals)
{
        return (ExpoValue){.kind = EXPO_FIXED, .units = units, .decimals = decimals};
}

static inline ExpoValue expo_double(double d)
{
        return (ExpoValue){.kind = EXPO_DOUBLE, .d = d};
}

/* One sample of a family declared with expo_family. created_s (OpenMetrics counters only, when
 * >= 0): the _created sample, seconds since the epoch. */
void expo_sample(ExpoBuf *b, ExpoFormat f, const char *family, ExpoType type,
                 const ExpoLabel *labels, size_t n_labels, ExpoValue v, double created_s);

/* The end of the exposition: "# EOF" in OpenMetrics, nothing in the text format. */
void expo_end(ExpoBuf *b, ExpoFormat f);

/* Appends s to b in the table form of common/text.h (text_terminal: control bytes and bytes that
 * are not UTF-8 as \xHH, a backslash as \\, C1 controls and bidirectional marks as \u{HHHH}), so
 * the page is valid UTF-8, inert in a terminal, and names show as `joules services` shows them;
 * with escape, \\, \" and newline are then escaped as label values need. */
void expo_label_value(ExpoBuf *b, const char *s, bool escape);
