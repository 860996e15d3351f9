#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "common/curve-fit.h"
#include "storage/store.h"

/* The inputs of `joules calibrate`, as pure functions: a CSV of measurements, or this host's
 * measured ticks, turned into samples for common/curve-fit.h. */

/* Parses CSV (RFC 4180: quoted fields, "" inside quotes, CRLF or LF, a UTF-8 byte order mark
 * allowed) whose first record is a header naming the columns utilization_pct and watts (in any
 * order, any case, spaces around names ignored; other columns are ignored). Every other record is
 * a sample of weight 1; blank lines are skipped. 0, or -EINVAL with the reason in err naming the
 * line ("line 7: watts '-3' is negative"; the line where the record starts), or -ENOMEM.
 * err may quote the file's bytes: make it safe where it is shown. *ret is freed by the caller. */
int calib_parse_csv(const char *text, CurveSample **ret, size_t *ret_n, char *err, size_t errlen)
        __attribute__((warn_unused_result));

typedef struct CalibTickStats {
        size_t ticks;              /* ticks read */
        size_t used;               /* turned into samples */
        size_t estimated;          /* left out: energy from the model, not measured */
        size_t no_cpu;             /* left out: no unit CPU time (no rows, or all 0) */
        size_t empty;              /* left out: zero length */
        size_t over_100;           /* used, utilisation above 100 % (clock skew) taken as 100 % */
        size_t over_105;           /* of those, above 105 %: too many means ncpu is wrong */
        double seconds;            /* the length of the ticks used */
        int64_t first_us, last_us; /* the first and last tick used (their ends) */
} CalibTickStats;

/* One sample per measured tick with unit CPU time: watts = host_uj / dt_us, utilisation = the
 * sum of every unit's CPU time (pseudo-units included, so all of the host's CPU time) over
 * ncpu x dt, weight = dt in seconds. -ENOMEM, or 0 (possibly with no samples: see the stats). */
int calib_samples_from_ticks(const StoreHostTick *t, size_t n, unsigned ncpu, CurveSample **ret,
                             size_t *ret_n, CalibTickStats *stats)
        __attribute__((warn_unused_result));
