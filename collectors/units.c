#include "collectors/units.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-login.h>

#include "collectors/procfs.h"
#include "common/log.h"

int units_from_cgroup_text(const char *text, CgroupUnitId *ret)
{
        char path[4096];
        assert(text);
        assert(ret);
        int r = procfs_cgroup_unit_path(text, path, sizeof(path));
        if (r == -ENODATA)
                return -ENXIO;
        if (r < 0)
                return r;
        return cgroup_path_to_unit(path, ret, NULL);
}

static bool roots_are_real_proc(const JoulesRoots *roots)
{
        return !roots || !roots->procfs || strcmp(roots->procfs, "/proc") == 0;
}

/* Builds the answer from libsystemd's two names: sys from sd_pid_get_unit, user (may be NULL)
 * from sd_pid_get_user_unit. A user unit counts only inside a user manager, whose name gives the
 * uid (a session scope's "user unit" is not one: the scope is the unit, as in the cgroup walk). */
static int from_libsystemd(const char *sys, const char *user, CgroupUnitId *ret)
{
        char path[2 * CGROUP_UNIT_NAME_MAX + 16];
        int r;

        /* Map through the same rules as the cgroup walk so that kind, uid and display name agree
         * with it: a path of the two names is enough. */
        /* cg_escape(): a name that starts with '_' gets another one in the cgroup tree. */
        if (user)
                r = path_fmt(path, sizeof(path), "/%s%s/%s%s", sys[0] == '_' ? "_" : "", sys,
                             user[0] == '_' ? "_" : "", user);
        else
                r = path_fmt(path, sizeof(path), "/%s%s", sys[0] == '_' ? "_" : "", sys);
        if (r < 0)
                return r;
        return cgroup_path_to_unit(path, ret, NULL);
}

int units_pid_get_unit(const JoulesRoots *roots, pid_t pid, CgroupUnitId *ret,
                       UnitsSource *ret_source)
{
        CgroupUnitId id;
        int r;

        assert(ret);
        if (pid <= 0)
                return -EINVAL;

        if (roots_are_real_proc(roots)) {
                _cleanup_free_ char *sys = NULL, *user = NULL;
                r = sd_pid_get_unit(pid, &sys);
                if (r >= 0) {
                        if (sd_pid_get_user_unit(pid, &user) < 0)
                                user = NULL;
                        r = from_libsystemd(sys, user, &id);
                        if (r < 0 && user) /* an odd user unit name: the system unit alone */
                                r = from_libsystemd(sys, NULL, &id);
                        if (r >= 0) {
                                *ret = id;
                                if (ret_source)
                                        *ret_source = UNITS_SOURCE_LIBSYSTEMD;
                                return 0;
                        }
                }
                log_debug("units: sd_pid_get_unit(%d): %s, parsing /proc/%d/cgroup", (int)pid,
                          strerror(-r), (int)pid);
        }

        char path[4096], buf[8192];
        const char *procfs = roots && roots->procfs ? roots->procfs : "/proc";
        r = path_fmt(path, sizeof(path), "%s/%d/cgroup", procfs, (int)pid);
        if (r < 0)
                return r;
        ssize_t n = read_text(path, buf, sizeof(buf));
        if (n == -ENOENT)
                return -ESRCH;
        if (n < 0)
                return (int)n;
        r = units_from_cgroup_text(buf, &id);
        if (r < 0)
                return r;
        *ret = id;
        if (ret_source)
                *ret_source = UNITS_SOURCE_PROCFS;
        return 0;
}
