/* /proc/stat (proc_stat_parse), the energy model's input. Invariants: 4 to 10 fields; busy time
 * never exceeds the total unless a counter is near 2^64; the aggregate line written back parses
 * to the same numbers. */

#include "fuzz/fuzz.h"

#include <errno.h>
#include <inttypes.h>

#include "collectors/proc-stat.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        if (size > 65536)
                return 0;
        char *s = fuzz_cstr(data, size);
        ProcStat st, again;
        int r = proc_stat_parse(s, &st);
        FUZZ_CHECK(r == 0 || r == -EINVAL || r == -ERANGE);
        if (r == 0) {
                FUZZ_CHECK(st.n_fields >= 4 && st.n_fields <= 10);
                (void)proc_stat_busy(&st);
                (void)proc_stat_total(&st);
                const uint64_t *v = &st.user;
                char text[512];
                size_t o = (size_t)snprintf(text, sizeof(text), "cpu ");
                for (unsigned i = 0; i < st.n_fields; i++)
                        o += (size_t)snprintf(text + o, sizeof(text) - o, " %" PRIu64, v[i]);
                o += (size_t)snprintf(text + o, sizeof(text) - o, "\n");
                for (unsigned c = 0; c < st.n_cpus && c < 8; c++)
                        o += (size_t)snprintf(text + o, sizeof(text) - o, "cpu%u 1 2 3 4\n", c);
                FUZZ_CHECK(proc_stat_parse(text, &again) == 0);
                FUZZ_CHECK(memcmp(v, &again.user, st.n_fields * sizeof(uint64_t)) == 0 &&
                           again.n_fields == st.n_fields);
                FUZZ_CHECK(again.n_cpus == (st.n_cpus < 8 ? st.n_cpus : 8));
        }
        free(s);
        return 0;
}
