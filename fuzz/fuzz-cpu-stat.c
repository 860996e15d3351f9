/* cgroup cpu.stat (cgroup_cpu_stat_parse), read from every service's cgroup every tick; a
 * delegated cgroup is the user's. Invariants: user and system time are reported as written, and
 * the three keys written back alone parse to the same numbers; the root's reading
 * (cgroup_root_cpu_stat_parse) fails as the plain one does, and is user + system or usage. */

#include "fuzz/fuzz.h"

#include <errno.h>
#include <inttypes.h>

#include "collectors/cgroup-names.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        if (size > 8192)
                return 0;
        char *s = fuzz_cstr(data, size);
        uint64_t usage, user, sys, u2, us2, sy2;
        int r = cgroup_cpu_stat_parse(s, &usage, &user, &sys);
        FUZZ_CHECK(r == 0 || r == -ENODATA || r == -EINVAL);
        if (r == 0) {
                FUZZ_CHECK(cgroup_cpu_stat_parse(s, &u2, NULL, NULL) == 0 && u2 == usage);
                char text[128];
                snprintf(text, sizeof(text),
                         "usage_usec %" PRIu64 "\nuser_usec %" PRIu64 "\nsystem_usec %" PRIu64 "\n",
                         usage, user, sys);
                FUZZ_CHECK(cgroup_cpu_stat_parse(text, &u2, &us2, &sy2) == 0);
                FUZZ_CHECK(u2 == usage && us2 == user && sy2 == sys);
        }
        uint64_t root;
        int rr = cgroup_root_cpu_stat_parse(s, &root);
        FUZZ_CHECK(rr == r || (r == 0 && rr == -ERANGE));
        if (rr == 0)
                FUZZ_CHECK(root == usage || root == user + sys);
        free(s);
        return 0;
}
