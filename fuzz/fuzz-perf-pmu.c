/* The perf power PMU's sysfs attribute files (collectors/rapl-perf.c): cpumask (a cpulist),
 * format/event, events/<name> and events/<name>.scale. The first byte picks the file, the rest is
 * its text. Invariants: a cpulist gives at most max CPUs, each within int; an event code fits
 * its format's bit field; a scale converts counts monotonically. */

#include "fuzz/fuzz.h"

#include <errno.h>
#include <limits.h>

#include "collectors/rapl-perf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        if (size < 1 || size > 4096)
                return 0;
        char *s = fuzz_cstr(data + 1, size - 1);
        switch (data[0] % 4) {
        case 0: {
                unsigned cpus[64];
                size_t n = 0;
                int r = perfpmu_parse_cpulist(s, cpus, ELEMENTSOF(cpus), &n);
                FUZZ_CHECK(r == 0 || r == -EINVAL || r == -E2BIG);
                if (r == 0) {
                        FUZZ_CHECK(n >= 1 && n <= ELEMENTSOF(cpus));
                        for (size_t i = 0; i < n; i++)
                                FUZZ_CHECK(cpus[i] <= INT_MAX);
                }
                r = perfpmu_parse_cpulist(s, NULL, 0, &n);
                FUZZ_CHECK(r == -EINVAL || r == -E2BIG);
                break;
        }
        case 1: {
                PerfPmuFormat f;
                int r = perfpmu_parse_format(s, &f);
                FUZZ_CHECK(r == 0 || r == -EINVAL || r == -EOPNOTSUPP);
                if (r == 0)
                        FUZZ_CHECK(f.lo <= f.hi && f.hi < 64);
                break;
        }
        case 2: {
                /* "config:LO-HI" from the second byte, the event text after it */
                if (size < 2)
                        break;
                unsigned lo = (data[1] & 0x3f), hi = lo + ((data[1] >> 6) * 8);
                PerfPmuFormat f = {.lo = lo, .hi = hi > 63 ? 63 : hi};
                uint64_t config;
                int r = perfpmu_parse_event(s + 1, &f, &config);
                FUZZ_CHECK(r == 0 || r == -EINVAL || r == -EOPNOTSUPP || r == -ERANGE);
                if (r == 0 && f.hi < 63)
                        FUZZ_CHECK((config >> (f.hi + 1)) == 0);
                if (r == 0)
                        FUZZ_CHECK((config & ((UINT64_C(1) << f.lo) - 1)) == 0);
                break;
        }
        default: {
                PerfPmuScale sc;
                int r = perfpmu_parse_scale(s, &sc);
                FUZZ_CHECK(r == 0 || r == -EINVAL);
                if (r == 0) {
                        FUZZ_CHECK(sc.joules > 0);
                        static const uint64_t counts[] = {0,          1,
                                                          2,          1000,
                                                          UINT32_MAX, UINT64_C(1) << 40,
                                                          INT64_MAX,  UINT64_MAX - 1};
                        uint64_t prev = 0;
                        for (size_t i = 0; i < ELEMENTSOF(counts); i++) {
                                uint64_t uj = perfpmu_count_to_uj(&sc, counts[i]);
                                FUZZ_CHECK(uj >= prev);
                                prev = uj;
                        }
                }
                break;
        }
        }
        free(s);
        return 0;
}
