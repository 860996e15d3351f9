/* powercap entry names and zone names (collectors/rapl-powercap.c): rapl_parse_zone_id on a
 * class/powercap directory entry and rapl_classify_zone_name on a zone's `name` file, plus the
 * one-number files (energy_uj, max_energy_range_uj) through parse_u64. Invariants: a zone id
 * written back in the kernel's "%s:%x" form parses to the same id; a package name gives its
 * number back. */

#include "fuzz/fuzz.h"

#include <errno.h>

#include "collectors/rapl-powercap.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        if (size > 512)
                return 0;
        char *s = fuzz_cstr(data, size);
        RaplZoneId id, again;
        if (rapl_parse_zone_id(s, &id) == 0) {
                FUZZ_CHECK(id.depth >= 1 && id.depth <= RAPL_ZONE_MAX_DEPTH);
                char name[64];
                int o = snprintf(name, sizeof(name), "%s:%x",
                                 id.control == RAPL_CONTROL_MMIO ? "intel-rapl-mmio" : "intel-rapl",
                                 id.id[0]);
                if (id.depth == 2)
                        snprintf(name + o, sizeof(name) - (size_t)o, ":%x", id.id[1]);
                FUZZ_CHECK(strcmp(name, s) == 0);
                FUZZ_CHECK(rapl_parse_zone_id(name, &again) == 0 &&
                           memcmp(&id, &again, sizeof(id)) == 0);
        }
        RaplZoneName z = rapl_classify_zone_name(s);
        if (z.kind == ENERGY_DOMAIN_PACKAGE) {
                FUZZ_CHECK(z.package >= 0);
                char name[64];
                if (z.die >= 0)
                        snprintf(name, sizeof(name), "package-%d-die-%d", z.package, z.die);
                else
                        snprintf(name, sizeof(name), "package-%d", z.package);
                FUZZ_CHECK(strcmp(name, s) == 0);
        }
        uint64_t v;
        (void)parse_u64(s, &v);
        free(s);
        return 0;
}
