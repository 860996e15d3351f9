#include "cli/band.h"

#include <math.h>
#include <stdlib.h>
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

void band_sum_add(BandSum *sum, double energy_j, bool estimated, double band_pct)
{
        if (!isfinite(energy_j) || energy_j < 0)
                return;
        if (!estimated) {
                sum->measured_j += energy_j;
                return;
        }
        sum->estimated_j += energy_j;
        if (!(isfinite(band_pct) && band_pct >= 0)) {
                /* no energy, nothing uncertain: an empty estimated run does not hide the band */
                if (energy_j > 0)
                        sum->unknown = true;
                return;
        }
        sum->low_j += fmax(0, energy_j * (1 - band_pct / 100));
        sum->high_j += energy_j * (1 + band_pct / 100);
        sum->weighted += energy_j * band_pct;
        if (energy_j > 0) {
                bool first = sum->n_banded++ == 0;
                sum->band_min = first ? band_pct : fmin(sum->band_min, band_pct);
                sum->band_max = first ? band_pct : fmax(sum->band_max, band_pct);
        }
}

double band_sum_pct(const BandSum *sum)
{
        if (sum->unknown)
                return NAN;
        double total = sum->measured_j + sum->estimated_j;
        if (!(sum->estimated_j > 0) || !(total > 0))
                return 0;
        /* one band over all the estimated parts: that band times their share, so an estimate
         * alone shows its band exactly, not one rounded by the sums */
        if (sum->band_min == sum->band_max)
                return sum->band_max * (sum->estimated_j / total);
        return sum->weighted / total;
}

void band_sum_bounds(const BandSum *sum, double value, double *ret_low, double *ret_high)
{
        double total = sum->measured_j + sum->estimated_j;
        if (sum->unknown || !(sum->estimated_j > 0) || !(total > 0) || !isfinite(value)) {
                *ret_low = *ret_high = NAN;
                return;
        }
        *ret_low = value * (sum->measured_j + sum->low_j) / total;
        *ret_high = value * (sum->measured_j + sum->high_j) / total;
}

BandSum band_sum_share(const BandSum *whole, double measured_j, double estimated_j)
{
        BandSum r = {0};
        band_sum_add(&r, measured_j, false, 0);
        double b = NAN;
        if (whole->unknown || whole->n_banded == 0)
                b = NAN;
        else if (whole->band_min == whole->band_max)
                b = whole->band_max;
        else if (whole->estimated_j > 0)
                b = whole->weighted / whole->estimated_j;
        band_sum_add(&r, estimated_j, true, b);
        return r;
}

int band_read(Store *s, int64_t from_us, int64_t to_us, BandSum *ret)
{
        StoreBandPart *parts;
        size_t n;
        int r = store_read_band(s, from_us, to_us, &parts, &n);
        if (r < 0)
                return r;
        *ret = (BandSum){0};
        for (size_t i = 0; i < n; i++)
                band_sum_add(ret, parts[i].energy_j, parts[i].estimated, parts[i].band_pct);
        free(parts);
        return 0;
}
