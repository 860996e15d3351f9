#include "collectors/energy.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collectors/power-defaults.h"
#include "common/log.h"
#include "common/util.h"

const EnergySourceOps *const energy_sources[] = {
        &energy_source_perf,
        &energy_source_powercap,
        &energy_source_model,
};
const size_t energy_sources_count = ELEMENTSOF(energy_sources);

static const char *const domain_kind_names[_ENERGY_DOMAIN_KIND_MAX] = {
        [ENERGY_DOMAIN_PACKAGE] = "package", [ENERGY_DOMAIN_CORE] = "core",
        [ENERGY_DOMAIN_UNCORE] = "uncore",   [ENERGY_DOMAIN_DRAM] = "dram",
        [ENERGY_DOMAIN_PSYS] = "psys",       [ENERGY_DOMAIN_MODEL] = "model",
        [ENERGY_DOMAIN_OTHER] = "other",
};

const char *energy_domain_kind_to_string(EnergyDomainKind k)
{
        if ((unsigned)k >= _ENERGY_DOMAIN_KIND_MAX)
                return "other";
        return domain_kind_names[k];
}

bool energy_cpuinfo_rapl_pkg_scope(const char *cpuinfo)
{
        /* The first processor's "vendor_id\t: AuthenticAMD"; all processors share it. */
        for (const char *l = cpuinfo; l && *l;) {
                if (startswith(l, "vendor_id")) {
                        const char *v = l + strlen("vendor_id");
                        v += strspn(v, " \t");
                        if (*v++ != ':')
                                return false;
                        v += strspn(v, " \t");
                        size_t n = strcspn(v, " \t\n");
                        return (n == strlen("AuthenticAMD") && startswith(v, "AuthenticAMD")) ||
                               (n == strlen("HygonGenuine") && startswith(v, "HygonGenuine"));
                }
                l = strchr(l, '\n');
                if (l)
                        l++;
        }
        return false;
}

bool energy_rapl_pkg_scope(const char *procfs)
{
        char path[PATH_MAX], buf[4096]; /* vendor_id is the second line */
        if (!procfs || path_fmt(path, sizeof(path), "%s/cpuinfo", procfs) < 0 ||
            read_text(path, buf, sizeof(buf)) < 0)
                return false;
        return energy_cpuinfo_rapl_pkg_scope(buf);
}

void energy_options_default(EnergyOptions *o)
{
        const PowerTables *t = power_tables_builtin();
        *o = (EnergyOptions){
                .host_psys = false,
                /* what idle_w_per_cpu or max_w_per_cpu is when only the other is given: the
                 * generic line of data/estimates.csv */
                .model_idle_w_per_cpu = t ? t->generic_idle_w : NAN,
                .model_max_w_per_cpu = t ? t->generic_max_w : NAN,
                .model_cpus = 0,
                .model_dram = ENERGY_MODEL_DRAM_AUTO,
        };
}

static void append(char *err, size_t errlen, const char *name, const char *why)
{
        size_t l = strlen(err);
        if (l + 1 >= errlen)
                return;
        snprintf(err + l, errlen - l, "%s%s: %s", l ? "; " : "", name, why);
}

/* Whether a measured source counts: some virtual machines show the perf power PMU (or RAPL's
 * registers) with counters that read 0, or never move, and a source taken on that would report 0
 * W. RAPL updates its counters about every millisecond, and a package draws watts even idle
 * (tens of millijoules in 10 ms, the counters' unit 15.3 uJ), so a real one moves within the
 * first wait. 0 when a counter moved; -ENODEV with why when none did in ENERGY_PROBE_WAITS;
 * the read's -errno with why when it fails. */
#define ENERGY_PROBE_WAIT_US 10000
#define ENERGY_PROBE_WAITS   5

int energy_source_counts(EnergySource *s, char *why, size_t len)
{
        size_t n = s->n_domains;
        uint64_t *uj = calloc(2 * n + 1, sizeof(*uj));
        bool *valid = calloc(2 * n + 1, sizeof(*valid));
        int r = uj && valid ? 0 : -ENOMEM;
        if (r == 0)
                r = s->ops->read(s, uj, valid);
        for (unsigned k = 0; r == 0 && k < ENERGY_PROBE_WAITS; k++) {
                sleep_us(ENERGY_PROBE_WAIT_US);
                r = s->ops->read(s, uj + n, valid + n);
                for (size_t i = 0; r == 0 && i < n; i++)
                        if (valid[i] && valid[n + i] && uj[i] != uj[n + i])
                                goto out; /* it counts */
        }
        if (r == 0) {
                snprintf(why, len,
                         "its %zu counter(s) did not move in %d ms (a virtual machine that shows "
                         "the interface without the counters behind it?)",
                         n, ENERGY_PROBE_WAIT_US * ENERGY_PROBE_WAITS / 1000);
                r = -ENODEV;
        } else if (r != -ENOMEM) {
                /* a source there that fails stops auto with its error, as when it cannot open */
                snprintf(why, len, "reading its counters: %s", strerror(-r));
        }
out:
        free(uj);
        free(valid);
        return r;
}

int energy_source_open(const char *which, const JoulesRoots *roots, const EnergyOptions *opts,
                       EnergySource **ret, char *err, size_t errlen)
{
        assert(which && roots && opts && ret && err && errlen > 0);
        err[0] = '\0';
        bool any = strcmp(which, "auto") == 0;
        for (size_t i = 0; i < energy_sources_count; i++) {
                const EnergySourceOps *ops = energy_sources[i];
                if (!any && strcmp(which, ops->name) != 0)
                        continue;
                char why[1024] = "";
                EnergySource *s = NULL;
                int r = ops->open(roots, opts, &s, why, sizeof(why));
                /* Chosen by itself, a source must count; named, it is taken as it is. */
                if (r >= 0 && any && !ops->estimated) {
                        r = energy_source_counts(s, why, sizeof(why));
                        if (r < 0)
                                energy_source_close(s);
                        if (r == -ENODEV)
                                log_info("energy source %s: %s; trying the next", ops->name, why);
                }
                if (r >= 0) {
                        *ret = s;
                        return 0;
                }
                if (!why[0])
                        snprintf(why, sizeof(why), "%s", strerror(-r));
                append(err, errlen, ops->name, why);
                log_debug("energy source %s: %s", ops->name, why);
                if (!any || r != -ENODEV)
                        return r;
        }
        if (!any && !err[0])
                snprintf(err, errlen, "unknown energy source '%s' (auto, perf, powercap, model)",
                         which);
        return any ? -ENODEV : -EINVAL;
}

void energy_source_close(EnergySource *s)
{
        if (s)
                s->ops->close(s);
}
