/* /proc/PID/schedstat (procfs_schedstat_parse): "run_ns wait_ns timeslices\n".
 * Invariant: the three numbers written back parse to the same. */

#include "fuzz/fuzz.h"

#include <inttypes.h>

#include "collectors/procfs.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        if (size > 1024)
                return 0;
        char *s = fuzz_cstr(data, size);
        ProcSchedstat ss, again;
        if (procfs_schedstat_parse(s, &ss) == 0) {
                char line[96];
                snprintf(line, sizeof(line), "%" PRIu64 " %" PRIu64 " %" PRIu64 "\n", ss.run_ns,
                         ss.wait_ns, ss.timeslices);
                FUZZ_CHECK(procfs_schedstat_parse(line, &again) == 0);
                FUZZ_CHECK(memcmp(&ss, &again, sizeof(ss)) == 0);
        }
        free(s);
        return 0;
}
