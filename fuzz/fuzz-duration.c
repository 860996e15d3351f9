/* Durations, times and numbers from the command line and the config file (common/util.c):
 * parse_duration_us, parse_time_point, parse_double, parse_u64 and parse_u64_prefix.
 * Invariants: a duration that parses re-parses from its own value in microseconds ("Nus") to the
 * same value; "now" minus a duration is that duration before now; a time point is reproduced by
 * format_rfc3339 to the second; parse_u64 agrees with parse_u64_prefix. */

#include "fuzz/fuzz.h"

#include <inttypes.h>
#include <math.h>

#include "common/util.h"

#define NOW_US INT64_C(1764892800000000) /* 2025-12-05T00:00:00Z: a fixed "now" */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        if (size > 256)
                return 0;
        char *s = fuzz_cstr(data, size);

        uint64_t us;
        if (parse_duration_us(s, &us) == 0) {
                char again[32];
                uint64_t us2;
                snprintf(again, sizeof(again), "%" PRIu64 "us", us);
                FUZZ_CHECK(parse_duration_us(again, &us2) == 0 && us2 == us);
        }

        int64_t t;
        if (parse_time_point(s, NOW_US, &t) == 0) {
                /* a duration means that long before now */
                if (parse_duration_us(s, &us) == 0 && us <= (uint64_t)INT64_MAX)
                        FUZZ_CHECK(t == NOW_US - (int64_t)us || strcmp(s, "now") == 0);
                char buf[64], *end;
                format_rfc3339(t, buf, sizeof(buf));
                int64_t t2;
                if (buf[0] && strlen(buf) == 20 && parse_time_point(buf, NOW_US, &t2) == 0) {
                        /* to the second: the formatter drops the fraction, rounding down */
                        int64_t sec = t >= 0 ? t / 1000000 : -((-t + 999999) / 1000000);
                        FUZZ_CHECK(t2 == sec * 1000000);
                }
                (void)end;
        }

        double d;
        if (parse_double(s, &d) == 0)
                FUZZ_CHECK(isfinite(d));

        uint64_t u, u2;
        const char *end;
        if (parse_u64(s, &u) == 0)
                FUZZ_CHECK(parse_u64_prefix(s, &end, &u2) == 0 && u2 == u);

        free(s);
        return 0;
}
