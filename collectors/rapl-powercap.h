#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "collectors/energy.h"
#include "common/util.h"

/* The energy source `powercap`: RAPL zones of the kernel's power capping framework under
 * <sysfs>/class/powercap/ (control types `intel-rapl`, which AMD uses too, and
 * `intel-rapl-mmio`). Each zone's energy_uj is a cumulative counter in microjoules that wraps at
 * its max_energy_range_uj. The source itself is `energy_source_powercap` (energy.h); the pure
 * parsers below are exposed for table tests.
 *
 * Domains: "package-0", "package-0-die-1", "psys", "psys-1", and subzones qualified by their
 * parent, "package-0/core", "package-1/dram"; `zone` is the sysfs id ("intel-rapl:0:1",
 * "intel-rapl-mmio:0"). Sorted by package, die, top-level zone first, then kind. in_host: the
 * packages and dram; with opts->host_psys every psys zone and nothing else. The MMIO twin of an
 * MSR package is dropped, and so, on AMD/Hygon (energy_rapl_pkg_scope()), is every die zone of a
 * package but the lowest: there the dies are CCDs sharing one package counter. Zones reading
 * enabled=0 are kept: that file is the power-limit enable bit, not the counter's. open() fails with
 * -ENODEV when there is no powercap or no RAPL zone, -EACCES when an energy_uj may not be read (err
 * names the file and how to grant access), -ENOENT when host_psys is asked on a host without
 * psys, and -EINVAL when it is asked where the kernel registered several psys zones (only one
 * can be the platform's, and sysfs does not say which). read() gives valid=false for a domain whose
 * energy_uj cannot be read or parsed (an empty read included), never a zero. */

typedef enum RaplControlType {
        RAPL_CONTROL_MSR,  /* "intel-rapl": the MSR (or TPMI) interface, with subzones */
        RAPL_CONTROL_MMIO, /* "intel-rapl-mmio": processor_thermal's MMIO mirror of a package */
} RaplControlType;

#define RAPL_ZONE_MAX_DEPTH 2

/* A class/powercap entry name: "intel-rapl:0", "intel-rapl:0:1", "intel-rapl-mmio:0". The
 * numbers are hexadecimal (the kernel names zones "%s:%x"): "intel-rapl:a" is id 10. */
typedef struct RaplZoneId {
        RaplControlType control;
        unsigned depth; /* 1: a top-level zone, 2: a subzone of zone id[0] */
        unsigned id[RAPL_ZONE_MAX_DEPTH];
} RaplZoneId;

/* -EINVAL for anything that is not a RAPL zone: the control-type directories themselves
 * ("intel-rapl", "intel-rapl-mmio"), other control types, malformed or non-hex ids, deeper
 * nesting than the kernel's RAPL drivers create. */
int rapl_parse_zone_id(const char *entry, RaplZoneId *ret) WARN_UNUSED;

/* What a zone's `name` says. Zones are identified by name only, never by number. */
typedef struct RaplZoneName {
        EnergyDomainKind kind; /* PACKAGE, CORE, UNCORE, DRAM, PSYS or OTHER */
        int package;           /* N of "package-N[-die-M]"; -1 otherwise (psys is the platform) */
        int die;               /* M of "package-N-die-M"; -1 otherwise */
} RaplZoneName;

/* Classifies a zone name: "package-N", "package-N-die-M" (PACKAGE), "psys", "psys-N" (PSYS),
 * "core", "uncore", "dram"; any other name is OTHER. Never fails. */
RaplZoneName rapl_classify_zone_name(const char *name);
