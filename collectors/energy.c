#include "collectors/energy.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "common/log.h"

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

void energy_options_default(EnergyOptions *o)
{
        *o = (EnergyOptions){
                .host_psys = false,
                .model_idle_w_per_cpu = ENERGY_MODEL_IDLE_W_PER_CPU,
                .model_max_w_per_cpu = ENERGY_MODEL_MAX_W_PER_CPU,
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
