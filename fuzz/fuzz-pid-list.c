/* cgroup.procs (procfs_parse_pid_list): one decimal PID per line, read from cgroup directories
 * a delegated user may own. Invariants: every PID is in 1..INT32_MAX, never more than asked for,
 * and the list written back one per line parses to the same PIDs. */

#include "fuzz/fuzz.h"

#include <errno.h>

#include "collectors/procfs.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        if (size > 8192)
                return 0;
        char *s = fuzz_cstr(data, size);
        pid_t pids[64], again[64];
        int n = procfs_parse_pid_list(s, pids, 64);
        FUZZ_CHECK(n >= 0 || n == -EINVAL || n == -ENOBUFS);
        if (n >= 0) {
                FUZZ_CHECK(n <= 64);
                char out[64 * 12 + 1];
                size_t o = 0;
                for (int i = 0; i < n; i++) {
                        FUZZ_CHECK(pids[i] > 0);
                        o += (size_t)snprintf(out + o, sizeof(out) - o, "%d\n", (int)pids[i]);
                }
                out[o] = '\0';
                FUZZ_CHECK(procfs_parse_pid_list(out, again, 64) == n);
                FUZZ_CHECK(memcmp(pids, again, (size_t)n * sizeof(pid_t)) == 0);
        }
        free(s);
        return 0;
}
