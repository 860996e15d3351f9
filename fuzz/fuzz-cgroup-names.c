/* cgroup directory names and paths (collectors/cgroup-names.c) and the unit names a StatsD tag
 * may give (ingest_unit_name_valid): a delegated user names cgroups at will, any byte but '/' and
 * NUL. Invariants: a classified name is a valid unit name that classifies the same again; a path
 * mapped to a unit names a unit that classifies, and its own cgroup is a prefix of the path. */

#include "fuzz/fuzz.h"

#include <errno.h>

#include "collectors/cgroup-names.h"
#include "daemon/ingest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        if (size > 1024)
                return 0;
        char *s = fuzz_cstr(data, size);
        size_t len = strlen(s);
        char unit[CGROUP_UNIT_NAME_MAX], again[CGROUP_UNIT_NAME_MAX];
        CgroupUnitKind kind, kind2;
        if (cgroup_name_classify(s, len, unit, sizeof(unit), &kind) == 0) {
                FUZZ_CHECK(cgroup_unit_kind_to_string(kind) != NULL);
                FUZZ_CHECK(strlen(unit) > 0 && strlen(unit) < sizeof(unit));
                /* cg_escape() puts a '_' before a name and unescaping takes one off, so the
                 * escaped form of what was found classifies to it again */
                char escaped[CGROUP_UNIT_NAME_MAX + 1];
                snprintf(escaped, sizeof(escaped), "_%s", unit);
                FUZZ_CHECK(cgroup_name_classify(escaped, strlen(escaped), again, sizeof(again),
                                                &kind2) == 0);
                FUZZ_CHECK(kind2 == kind && strcmp(again, unit) == 0);
        }
        CgroupUnitId id;
        size_t prefix = 0;
        int r = cgroup_path_to_unit(s, &id, &prefix);
        FUZZ_CHECK(r == 0 || r == -ENXIO || r == -EINVAL);
        if (r == 0) {
                FUZZ_CHECK(prefix <= len && id.kind != CGROUP_UNIT_SLICE);
                /* id.name is unescaped: its directory name is the escaped form */
                char escaped[CGROUP_UNIT_NAME_MAX + 1];
                snprintf(escaped, sizeof(escaped), "_%s", id.name);
                FUZZ_CHECK(cgroup_name_classify(escaped, strlen(escaped), unit, sizeof(unit),
                                                &kind) == 0 &&
                           kind == id.kind);
                FUZZ_CHECK(id.uid >= -1 && id.uid < UINT32_MAX);
                CgroupUnitId id2;
                size_t prefix2;
                char *cut = strndup(s, prefix);
                FUZZ_CHECK(cut);
                FUZZ_CHECK(cgroup_path_to_unit(cut, &id2, &prefix2) == 0);
                FUZZ_CHECK(strcmp(id2.display, id.display) == 0 && prefix2 == prefix);
                free(cut);
        }
        if (ingest_unit_name_valid(s))
                FUZZ_CHECK(len > 0 && len < INGEST_UNIT_MAX);
        int64_t uid = cgroup_user_manager_uid(s, len);
        FUZZ_CHECK(uid >= -1 && uid < UINT32_MAX);
        free(s);
        return 0;
}
