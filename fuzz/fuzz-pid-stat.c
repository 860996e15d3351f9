/* /proc/PID/stat (collectors/procfs.c procfs_stat_parse): the comm field is any bytes a local
 * user chose (prctl(PR_SET_NAME), exec -a), including spaces, parentheses and newlines.
 * Invariant: a parsed line, written back in the kernel's layout, parses to the same fields. */

#include "fuzz/fuzz.h"

#include <inttypes.h>

#include "collectors/procfs.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        if (size > 4096)
                return 0;
        char *s = fuzz_cstr(data, size);
        ProcStat st;
        if (procfs_stat_parse(s, &st) == 0) {
                FUZZ_CHECK(st.pid > 0 && st.ppid >= 0);
                FUZZ_CHECK(strlen(st.comm) < sizeof(st.comm));
                (void)procfs_stat_is_kthread(&st);
                char line[512];
                snprintf(line, sizeof(line),
                         "%d (%s) %c %d 0 0 0 -1 %u 0 0 0 0 %" PRIu64 " %" PRIu64
                         " 0 0 20 0 %" PRIu64 " 0 %" PRIu64 " 0 0\n",
                         (int)st.pid, st.comm, st.state, (int)st.ppid, st.flags, st.utime, st.stime,
                         st.num_threads, st.starttime);
                ProcStat again;
                /* a comm cut at 63 bytes may end before a ')' the kernel's held: still parses */
                if (!strchr(st.comm, '\n')) {
                        FUZZ_CHECK(procfs_stat_parse(line, &again) == 0);
                        FUZZ_CHECK(again.pid == st.pid && again.ppid == st.ppid &&
                                   again.state == st.state && again.flags == st.flags &&
                                   again.utime == st.utime && again.stime == st.stime &&
                                   again.num_threads == st.num_threads &&
                                   again.starttime == st.starttime &&
                                   strcmp(again.comm, st.comm) == 0);
                }
        }
        free(s);
        return 0;
}
