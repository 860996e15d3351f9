/* The [carbon] section (issue 6): the host's figures for the carbon reports.
 *
 *     [carbon]
 *     country = DE                  # built-in yearly grid intensity (Ember 2024); empty: WORLD
 *     intensity_g_per_kwh =         # a fixed location-based intensity instead; empty: none
 *     pue = 1.0                     # power usage effectiveness, 1 to 10
 *     embodied_g = 1000000          # the host's embodied emissions (TE), grams
 *     lifetime_hours = 35040        # its expected lifetime (EL), 4 years by default
 *     market_intensity_g_per_kwh =  # market-based factor, reported beside, never in SCI
 *
 * joulesd does nothing with them but write them into the history's meta table (carbon.* keys)
 * at start-up and on every reload, so the history describes itself and `joules` (which opens
 * it read-only and never reads joulesd.conf) finds them there; its flags override them. */
#include "daemon/config.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "common/carbon.h"
#include "common/util.h"
#include "storage/store.h"

void config_carbon_defaults(JoulesCarbon *c)
{
        *c = (JoulesCarbon){
                .intensity = NAN,
                .pue = CARBON_DEFAULT_PUE,
                .embodied_g = 0,
                .lifetime_hours = CARBON_DEFAULT_EL_HOURS,
                .market_intensity = NAN,
        };
}

static const struct {
        const char *key;
        size_t offset;
        bool optional; /* empty means none */
        double min, max;
        const char *help;
} carbon_numbers[] = {
        {"intensity_g_per_kwh", offsetof(JoulesCarbon, intensity), true, 0, 1e5,
         "a fixed grid intensity in gCO2e/kWh, or empty"},
        {"pue", offsetof(JoulesCarbon, pue), false, 1, 10, "power usage effectiveness"},
        {"embodied_g", offsetof(JoulesCarbon, embodied_g), false, 0, 1e12,
         "the host's embodied emissions in grams"},
        {"lifetime_hours", offsetof(JoulesCarbon, lifetime_hours), false, 1, 1e7,
         "the host's expected lifetime in hours"},
        {"market_intensity_g_per_kwh", offsetof(JoulesCarbon, market_intensity), true, 0, 1e5,
         "a market-based factor in gCO2e/kWh, or empty"},
};

int config_set_carbon(JoulesConfig *c, const char *section, const char *key, const char *value,
                      char *err, size_t errlen)
{
        if (strcmp(section, "carbon") != 0)
                return 0;
        if (strcmp(key, "country") == 0) {
                if (value[0] &&
                    (!carbon_grid_lookup(value) || strlen(value) >= sizeof(c->carbon.country))) {
                        snprintf(err, errlen,
                                 "carbon.country: '%s' is not in the built-in table (ISO 3166 "
                                 "alpha-2 such as DE, FR, US, GB; or WORLD, EU; joules intensity "
                                 "table lists them)",
                                 value);
                        return -EINVAL;
                }
                snprintf(c->carbon.country, sizeof(c->carbon.country), "%s", value);
                return 1;
        }
        for (size_t i = 0; i < ELEMENTSOF(carbon_numbers); i++) {
                if (strcmp(carbon_numbers[i].key, key) != 0)
                        continue;
                double *field = (double *)((char *)&c->carbon + carbon_numbers[i].offset);
                double v;
                if (!value[0] && carbon_numbers[i].optional) {
                        *field = NAN;
                        return 1;
                }
                if (parse_double(value, &v) < 0) {
                        snprintf(err, errlen, "carbon.%s: '%s' is not a number (%s)", key, value,
                                 carbon_numbers[i].help);
                        return -EINVAL;
                }
                if (v < carbon_numbers[i].min || v > carbon_numbers[i].max) {
                        snprintf(err, errlen, "carbon.%s: %s is out of range [%g, %g] (%s)", key,
                                 value, carbon_numbers[i].min, carbon_numbers[i].max,
                                 carbon_numbers[i].help);
                        return -ERANGE;
                }
                *field = v;
                return 1;
        }
        snprintf(err, errlen, "unknown key '%s' in section [carbon]", key);
        return -EINVAL;
}

void config_dump_carbon(const JoulesConfig *c, FILE *f)
{
        fprintf(f,
                "\n[carbon]\n# built-in yearly grid intensity (Ember 2024); empty: WORLD\n"
                "country = %s\n",
                c->carbon.country);
        for (size_t i = 0; i < ELEMENTSOF(carbon_numbers); i++) {
                double v = *(const double *)((const char *)&c->carbon + carbon_numbers[i].offset);
                fprintf(f, "# %s\n%s = ", carbon_numbers[i].help, carbon_numbers[i].key);
                char buf[32];
                if (isfinite(v))
                        fprintf(f, "%s\n", config_format_double(v, buf, sizeof(buf)));
                else
                        fprintf(f, "\n");
        }
}

int config_store_carbon(const JoulesConfig *c, Store *s)
{
        static const char *const meta_keys[] = {
                "carbon.intensity",        "carbon.pue",
                "carbon.embodied_g",       "carbon.lifetime_hours",
                "carbon.market_intensity",
        };
        static_assert(ELEMENTSOF(meta_keys) == ELEMENTSOF(carbon_numbers), "one meta key each");
        int r = store_delete_meta_prefix(s, "carbon.");
        if (r >= 0 && c->carbon.country[0])
                r = store_write_meta(s, "carbon.country", c->carbon.country);
        for (size_t i = 0; i < ELEMENTSOF(carbon_numbers) && r >= 0; i++) {
                double v = *(const double *)((const char *)&c->carbon + carbon_numbers[i].offset);
                char buf[64];
                if (!isfinite(v))
                        continue;
                snprintf(buf, sizeof(buf), "%.17g", v);
                r = store_write_meta(s, meta_keys[i], buf);
        }
        return r < 0 ? r : 0;
}
