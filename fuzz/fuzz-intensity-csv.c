/* joules intensity import, CSV "start,end,g_per_kwh" (common/carbon.c carbon_parse_csv): a file
 * from anywhere. Invariants: see intensity-check.h; a rejected file gives an error message. */

#include "fuzz/fuzz.h"
#include "fuzz/intensity-check.h"

#include <errno.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        if (size > 65536)
                return 0;
        char *s = fuzz_cstr(data, size);
        CarbonInterval *v = NULL;
        size_t n = 0;
        char err[512] = "";
        int r = carbon_parse_csv(s, &v, &n, err, sizeof(err));
        FUZZ_CHECK(r == 0 || r == -EINVAL);
        if (r == 0)
                intensity_check(v, n);
        else
                FUZZ_CHECK(err[0] != '\0');
        free(v);
        free(s);
        return 0;
}
