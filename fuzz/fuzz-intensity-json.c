/* joules intensity import, the UK National Grid carbon-intensity API's JSON
 * (cli/intensity-json.c, json-c underneath), reached through cli_intensity_parse as the CLI does.
 * Invariants: see intensity-check.h; a rejected document gives an error message. */

#include "fuzz/fuzz.h"
#include "fuzz/intensity-check.h"

#include <errno.h>

#include "cli/intensity.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        if (size > 65536)
                return 0;
        char *s = fuzz_cstr(data, size);
        CarbonInterval *v = NULL;
        size_t n = 0;
        bool json = false;
        char err[512] = "";
        int r = cli_intensity_parse(s, &v, &n, &json, err, sizeof(err));
        FUZZ_CHECK(r == 0 || r == -EINVAL);
        if (r == 0)
                intensity_check(v, n);
        else
                FUZZ_CHECK(err[0] != '\0');
        free(v);
        free(s);
        return 0;
}
