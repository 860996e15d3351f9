#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "collectors/roots.h"
#include "common/power-curve.h"

/* Energy sources: the perf `power` PMU, powercap sysfs, or the utilisation model. Each is a const
 * ops table; every source reports, per domain, a cumulative energy counter in microjoules. Rates
 * and deltas are derived later (energy-delta.h). */

typedef enum EnergyDomainKind {
        ENERGY_DOMAIN_PACKAGE,
        ENERGY_DOMAIN_CORE,
        ENERGY_DOMAIN_UNCORE,
        ENERGY_DOMAIN_DRAM,
        ENERGY_DOMAIN_PSYS,
        ENERGY_DOMAIN_MODEL, /* the whole host, estimated */
        ENERGY_DOMAIN_OTHER,
        _ENERGY_DOMAIN_KIND_MAX,
} EnergyDomainKind;

typedef struct EnergyDomain {
        char name[64];  /* "package-0", "package-0-die-1", "core", "dram", "psys", "model" */
        char zone[128]; /* what was read: "intel-rapl:0:1", "power/energy-pkg/cpu0", "model" */
        EnergyDomainKind kind;
        int package;  /* package the domain belongs to; -1 where that means nothing */
        bool in_host; /* added into the host total (never core/uncore, psys only if chosen) */
        bool wraps;   /* counter wraps at max_range_uj (powercap); false for perf/model */
        uint64_t max_range_uj; /* 0: unknown, so a wrap cannot be undone and the interval drops */
} EnergyDomain;

typedef struct EnergyOptions {
        bool host_psys;              /* host_domain = psys: psys is the host total, packages not */
        double model_idle_w_per_cpu; /* default 0.74 W (Cloud Carbon Footprint, AWS) */
        double model_max_w_per_cpu;  /* default 3.5 W (Cloud Carbon Footprint, AWS) */
        unsigned model_cpus;         /* 0: the number of CPUs in procfs/stat */
        /* What the model's power comes from: a configured curve ([model] curve), the two-point
         * line of the two keys above when either was set, else the CPU-aware default
         * (power-defaults.h). */
        bool model_curve_set;
        bool model_line_set;                /* either of the two keys was set */
        bool model_idle_set, model_max_set; /* which (for the config's dump) */
        PowerCurve model_curve;
        int model_dram; /* EnergyModelDram; the default is ENERGY_MODEL_DRAM_AUTO */
} EnergyOptions;

/* Whether the model adds its estimated dram domain (MemTotal x W per GB). A configured curve says
 * host watts, so memory is in it already (joules calibrate fits the measured host, packages and
 * dram); so does the per-vCPU line, generic or configured (CCF's coefficients are SPECpower wall
 * power, memory included). Only the CPU-aware default (TDP x shape) counts the CPU alone. */
typedef enum EnergyModelDram {
        ENERGY_MODEL_DRAM_NONE,     /* never */
        ENERGY_MODEL_DRAM_AUTO,     /* with the CPU-aware default only */
        ENERGY_MODEL_DRAM_ESTIMATE, /* always */
} EnergyModelDram;

/* How the model source estimates (NULL for a measured source): what `joules status` shows and the
 * history keeps (runs.model_*). */
typedef struct EnergyModelInfo {
        int method;       /* PowerMethod (power-defaults.h) */
        char source[512]; /* where the curve came from, in words; holds untrusted CPU names */
        char cpu[128];    /* the CPU model as /proc/cpuinfo names it ("" unknown); untrusted */
        PowerCurve curve; /* host watts by utilisation, as used */
        double band_pct;  /* ± percent of the curve's estimate */
        double dram_w;    /* the estimated dram domain's constant power; 0: no such domain */
        double dram_gib;  /* MemTotal it comes from */
        double dram_band_pct;
        char dram_source[160];
} EnergyModelInfo;

typedef struct EnergySource EnergySource;

typedef struct EnergySourceOps {
        const char *name; /* "perf", "powercap", "model" */
        bool estimated;
        /* Discovers and opens the domains. -ENODEV: the source does not exist on this host (the
         * next one is tried); any other error: it exists but cannot be used, and err says why in
         * words for the user (which file, what to do). */
        int (*open)(const JoulesRoots *roots, const EnergyOptions *opts, EnergySource **ret,
                    char *err, size_t errlen);
        /* Reads every domain's cumulative counter in microjoules into ret_uj[i]; ret_valid[i] is
         * false where that domain could not be read this time. Returns 0, or -errno when nothing
         * could be read at all. */
        int (*read)(EnergySource *s, uint64_t *ret_uj, bool *ret_valid);
        /* Accepts NULL. */
        void (*close)(EnergySource *s);
} EnergySourceOps;

struct EnergySource {
        const EnergySourceOps *ops;
        EnergyDomain *domains;
        size_t n_domains;
        /* The host's idle power where the source defines it (the model: ncpu * idle W per
         * vCPU), else 0: attribution then uses the configured or learned idle power. */
        double idle_w;
        /* The model only: how it estimates, and the host utilisation (percent of all CPUs) it
         * read for the last interval (NAN before the second read, and for measured sources). */
        const EnergyModelInfo *model;
        double util_pct;
        /* Set by the caller before read(): the CLOCK_MONOTONIC time the tick stands for, so that
         * the model integrates over exactly the tick's interval (a reader preempted between its
         * clock and the model's would otherwise store another power than curve(util)). 0: the
         * model reads its own clock. Measured sources ignore it. */
        uint64_t tick_ns;
        void *priv; /* the source's own state */
};

extern const EnergySourceOps energy_source_perf;
extern const EnergySourceOps energy_source_powercap;
extern const EnergySourceOps energy_source_model;

/* In the order `auto` tries them. */
extern const EnergySourceOps *const energy_sources[];
extern const size_t energy_sources_count;

/* Whether the RAPL package counters of this CPU are per package whatever the die topology says:
 * AMD and Hygon. The kernel decides so by vendor (rapl_pkg_pmu_is_pkg_scope() in
 * arch/x86/events/rapl.c, rapl_msrs_are_pkg_scope() in drivers/powercap/intel_rapl_common.c);
 * kernels 6.10 and 6.11 before those fixes scoped them per CCD on Zen 4/5 (the CPUID 0x80000026
 * die), so one package counter appeared once per CCD. From the vendor_id of a cpuinfo text;
 * false when there is none. */
bool energy_cpuinfo_rapl_pkg_scope(const char *cpuinfo);
/* The same from <procfs>/cpuinfo; false when it cannot be read. */
bool energy_rapl_pkg_scope(const char *procfs);
const char *energy_domain_kind_to_string(EnergyDomainKind k);
void energy_options_default(EnergyOptions *o);

/* Reads a measured source's counters up to 50 ms apart: 0 as soon as one moved, -ENODEV with why
 * when none did (a VM may show the perf power PMU or RAPL with counters that read 0), the read's
 * -errno with why when it fails. */
int energy_source_counts(EnergySource *s, char *why, size_t len);
/* Opens the named source ("auto", "perf", "powercap", "model"). `auto` takes the first that opens
 * and whose counters move (energy_source_counts), and falls through only on -ENODEV: a source
 * that exists but fails (an unreadable energy_uj) stops it with that error rather than falling
 * silently to an estimate. err collects the reasons. */
int energy_source_open(const char *which, const JoulesRoots *roots, const EnergyOptions *opts,
                       EnergySource **ret, char *err, size_t errlen);
void energy_source_close(EnergySource *s);
