/* joules export --prometheus: the store's answers to /api/v1/query and /api/v1/query_range
 * (cli/fleet.c fleet_parse_answer, json-c underneath), as a matrix of 4 steps, as an instant
 * vector and as raw samples. Invariants: an answer is refused with a message or gives series
 * sorted by host, each with a host and the values asked for, every value NAN or finite >= 0. */

#include "fuzz/fuzz.h"

#include <errno.h>
#include <math.h>

#include "cli/fleet.h"

static void check(const char *s, size_t len, int64_t step_us, size_t n_steps, unsigned decimals)
{
        FleetMatrix m = {0};
        char err[512] = "";
        int r = fleet_parse_answer(200, s, len, "instance", INT64_C(1767225600000000), step_us,
                                   n_steps, decimals, &m, err, sizeof(err));
        if (r < 0) {
                FUZZ_CHECK(r == -EPROTO || r == -ENOTUNIQ || r == -ENOMEM);
                FUZZ_CHECK(r == -ENOMEM || err[0] != '\0');
                return;
        }
        for (size_t i = 0; i < m.n; i++) {
                FUZZ_CHECK(m.series[i].host != NULL);
                if (i)
                        FUZZ_CHECK(strcmp(m.series[i - 1].host, m.series[i].host) <= 0);
                if (step_us >= 0)
                        FUZZ_CHECK(m.series[i].n_v == n_steps);
                for (size_t k = 0; k < m.series[i].n_v; k++)
                        FUZZ_CHECK(isnan(m.series[i].v[k]) ||
                                   (isfinite(m.series[i].v[k]) && m.series[i].v[k] >= 0));
        }
        fleet_matrix_done(&m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        if (size > 65536)
                return 0;
        char *s = fuzz_cstr(data, size);
        check(s, size, INT64_C(3600000000), 4, 6);  /* query_range, µJ */
        check(s, size, 0, 1, 0);                    /* an instant query, values as they are */
        check(s, size, -INT64_C(3600000000), 1, 6); /* the raw samples of a range selector */
        free(s);
        return 0;
}
