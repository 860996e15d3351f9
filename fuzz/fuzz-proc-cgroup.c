/* /proc/PID/cgroup (procfs_cgroup_parse, procfs_cgroup_unit_path, units_from_cgroup_text): the
 * path part names cgroups a delegated user may create. Invariants: a path found is absolute and
 * fits the buffer; a unit found is a valid unit name whose display name fits. */

#include "fuzz/fuzz.h"

#include <errno.h>

#include "collectors/cgroup-names.h"
#include "collectors/procfs.h"
#include "collectors/units.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        if (size > 16384)
                return 0;
        char *s = fuzz_cstr(data, size);
        static const char *const controllers[] = {NULL, "cpuacct", "name=systemd", "cpu"};
        char buf[4096], small[16];
        for (size_t i = 0; i < ELEMENTSOF(controllers); i++) {
                int r = procfs_cgroup_parse(s, controllers[i], buf, sizeof(buf));
                FUZZ_CHECK(r == 0 || r == -ENODATA || r == -EINVAL || r == -ENAMETOOLONG);
                if (r == 0)
                        FUZZ_CHECK(buf[0] == '/' && strlen(buf) < sizeof(buf));
                r = procfs_cgroup_parse(s, controllers[i], small, sizeof(small));
                if (r == 0)
                        FUZZ_CHECK(strlen(small) < sizeof(small));
        }
        if (procfs_cgroup_unit_path(s, buf, sizeof(buf)) == 0) {
                CgroupUnitId id;
                FUZZ_CHECK(buf[0] == '/');
                if (cgroup_path_to_unit(buf, &id, NULL) == 0)
                        FUZZ_CHECK(id.name[0] && strlen(id.display) >= strlen(id.name));
        }
        CgroupUnitId id;
        if (units_from_cgroup_text(s, &id) == 0) {
                CgroupUnitKind kind;
                char unit[CGROUP_UNIT_NAME_MAX], escaped[CGROUP_UNIT_NAME_MAX + 1];
                /* id.name is unescaped: its directory name is the escaped form */
                snprintf(escaped, sizeof(escaped), "_%s", id.name);
                FUZZ_CHECK(cgroup_name_classify(escaped, strlen(escaped), unit, sizeof(unit),
                                                &kind) == 0);
                FUZZ_CHECK(kind == id.kind && kind != CGROUP_UNIT_SLICE);
        }
        free(s);
        return 0;
}
