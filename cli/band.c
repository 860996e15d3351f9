#include "cli/band.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

bool band_known(double band_pct)
{
        return isfinite(band_pct) && band_pct > 0;
}

void band_bounds(double value, double band_pct, double *ret_low, double *ret_high)
{
        if (!band_known(band_pct) || !isfinite(value)) {
                *ret_low = *ret_high = NAN;
                return;
        }
        *ret_low = fmax(0, value * (1 - band_pct / 100));
        *ret_high = value * (1 + band_pct / 100);
}

const char *band_format(double band_pct, char *buf, size_t size)
{
        if (isnan(band_pct))
                snprintf(buf, size, "±?");
        else if (!(band_pct > 0))
                snprintf(buf, size, "%s", "");
        else if (band_pct == floor(band_pct) && band_pct < 1e6)
                snprintf(buf, size, "±%.0f%%", band_pct);
        else
                snprintf(buf, size, "±%.1f%%", band_pct);
        return buf;
}

const char *band_method_label(const char *method)
{
        static const struct {
                const char *method, *label;
        } labels[] = {
                {"configured", "configured curve"},
                {"cpu", "CPU-aware default"},
                {"generic", "generic default"},
        };
        if (!method)
                return "";
        for (size_t i = 0; i < sizeof(labels) / sizeof(labels[0]); i++)
                if (strcmp(method, labels[i].method) == 0)
                        return labels[i].label;
        return method;
}
