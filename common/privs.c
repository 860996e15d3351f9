#include "common/privs.h"

#include <errno.h>
#include <linux/capability.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

int privs_drop_capabilities(void)
{
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
                return -errno;
        for (int cap = 0; prctl(PR_CAPBSET_READ, cap, 0, 0, 0) >= 0; cap++)
                if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno != EPERM)
                        return -errno;
        (void)prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
        struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3};
        struct __user_cap_data_struct d[2];
        memset(d, 0, sizeof(d));
        /* A unit's system call filter may refuse capset (it is in @privileged), and there the
         * process holds nothing to drop: what counts is the check that follows. */
        int r = syscall(SYS_capset, &h, d) < 0 ? -errno : 0;
        memset(d, 0xff, sizeof(d));
        if (syscall(SYS_capget, &h, d) < 0)
                return -errno;
        if (d[0].effective || d[1].effective || d[0].permitted || d[1].permitted)
                return r < 0 ? r : -EPERM;
        return 0;
}
