/* /proc/self/mountinfo (mountinfo_cgroups): mount points carry octal escapes (\040) and
 * can be named by whoever may mount (user namespaces). Invariants: what is found fits its buffer
 * (also a tiny one), and the call answers the same with either output left out. */

#include "fuzz/fuzz.h"

#include <errno.h>

#include "common/mountinfo.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        if (size > 65536)
                return 0;
        char *s = fuzz_cstr(data, size);
        char v2[4096], acct[4096], tiny[8];
        int r = mountinfo_cgroups(s, v2, sizeof(v2), acct, sizeof(acct));
        FUZZ_CHECK(r == 0 || r == -ENOENT);
        FUZZ_CHECK(strlen(v2) < sizeof(v2) && strlen(acct) < sizeof(acct));
        FUZZ_CHECK((r == 0) == (v2[0] || acct[0]));
        char v2b[4096], acctb[4096];
        int r2 = mountinfo_cgroups(s, v2b, sizeof(v2b), NULL, 0);
        int r3 = mountinfo_cgroups(s, NULL, 0, acctb, sizeof(acctb));
        FUZZ_CHECK(strcmp(v2, v2b) == 0 && strcmp(acct, acctb) == 0);
        FUZZ_CHECK((r2 == 0) == (v2b[0] != '\0') && (r3 == 0) == (acctb[0] != '\0'));
        /* not NUL-filled: what a failed copy leaves behind must still be a string */
        memset(tiny, 'X', sizeof(tiny));
        (void)mountinfo_cgroups(s, tiny, sizeof(tiny), tiny, sizeof(tiny));
        FUZZ_CHECK(strlen(tiny) < sizeof(tiny));
        free(s);
        return 0;
}
