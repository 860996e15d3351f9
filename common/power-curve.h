#pragma once

#include <stddef.h>

/* A host power curve: host utilisation in percent of all CPUs to host watts, linear between
 * points and flat outside them. What `[model] curve = U:W, U:W, ...` says, what the CPU-aware
 * defaults build and what `joules calibrate` fits. Pure functions. */

#define POWER_CURVE_MIN 2
#define POWER_CURVE_MAX 21

typedef struct PowerCurve {
        unsigned n;                       /* POWER_CURVE_MIN..POWER_CURVE_MAX points */
        double util_pct[POWER_CURVE_MAX]; /* strictly increasing, in [0, 100] */
        double watts[POWER_CURVE_MAX];    /* >= 0, finite */
} PowerCurve;

/* Watts at util_pct: linear between the two points around it, the first point's watts below the
 * first point and the last's above the last. NaN counts as 0 %. */
double power_curve_eval(const PowerCurve *c, double util_pct);

/* Checks a curve: the point count, utilisations strictly increasing within [0, 100], watts finite
 * and >= 0. 0 or -EINVAL with the reason in err (a sentence, "point 3: ..."). */
int power_curve_check(const PowerCurve *c, char *err, size_t errlen);

/* Parses "U:W, U:W, ..." (spaces allowed around each number, comma between points) and checks it
 * as power_curve_check does. 0, or -EINVAL with the reason in err. */
int power_curve_parse(const char *text, PowerCurve *ret, char *err, size_t errlen);

/* Formats as power_curve_parse reads it, shortest exact decimal of each number, points separated
 * by sep: ", " for people ("0:74, 50:220, 100:350"), "," where a config line must stay short.
 * The number of bytes it needs (as snprintf). */
int power_curve_format(const PowerCurve *c, const char *sep, char *buf, size_t size);

/* The straight line of the per-vCPU model as a two-point curve: 0 % -> ncpu * idle_w,
 * 100 % -> ncpu * max_w. */
void power_curve_linear(PowerCurve *ret, unsigned ncpu, double idle_w, double max_w);

/* Multiplies every point's watts by k (k >= 0): a curve shape scaled to a host. */
void power_curve_scale(PowerCurve *c, double k);
