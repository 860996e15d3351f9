#pragma once

/* The invariants both intensity imports (CSV and JSON) must give: what fuzz-intensity-csv.c and
 * fuzz-intensity-json.c check on a series that was accepted. */

#include "common/carbon.h"
#include "fuzz/fuzz.h"

/* Sorted, each interval non-empty and within 0..100000 g/kWh, none overlapping; the time-weighted
 * mean over the whole span lies between the smallest and largest intensity and covers exactly the
 * intervals' total length. */
static inline void intensity_check(const CarbonInterval *v, size_t n)
{
        FUZZ_CHECK(n > 0);
        double lo = 1e300, hi = -1e300;
        int64_t total = 0;
        for (size_t k = 0; k < n; k++) {
                FUZZ_CHECK(v[k].end_us > v[k].start_us);
                FUZZ_CHECK(v[k].g_per_kwh >= 0 && v[k].g_per_kwh <= 1e5);
                FUZZ_CHECK(k == 0 || v[k].start_us >= v[k - 1].end_us);
                lo = v[k].g_per_kwh < lo ? v[k].g_per_kwh : lo;
                hi = v[k].g_per_kwh > hi ? v[k].g_per_kwh : hi;
                total += v[k].end_us - v[k].start_us;
        }
        double mean = -1;
        int64_t covered = carbon_series_mean(v, n, v[0].start_us, v[n - 1].end_us, &mean);
        FUZZ_CHECK(covered == total);
        FUZZ_CHECK(mean >= lo * (1 - 1e-9) && mean <= hi * (1 + 1e-9));
}
