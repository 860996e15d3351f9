#include "cli/events.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

double events_per_request(double value, bool has_requests, double requests)
{
        if (!has_requests || !(requests > 0) || !isfinite(value))
                return NAN;
        return value / requests;
}

size_t events_of_unit(const StoreEventTotal *ev, size_t n, const char *unit, size_t *ret_first)
{
        size_t i = 0;
        while (i < n && strcmp(ev[i].unit, unit) != 0)
                i++;
        size_t k = i;
        while (k < n && strcmp(ev[k].unit, unit) == 0)
                k++;
        *ret_first = i;
        return k - i;
}

const char *events_first(const StoreEventTotal *ev, size_t n)
{
        const StoreEventTotal *first = NULL;
        for (size_t i = 0; i < n; i++)
                if (!first || ev[i].event_id < first->event_id)
                        first = &ev[i];
        return first ? first->event : NULL;
}

double events_total(const StoreEventTotal *ev, size_t n, const char *name)
{
        for (size_t i = 0; name && i < n; i++)
                if (strcmp(ev[i].event, name) == 0)
                        return ev[i].total;
        return NAN;
}

void events_json(JsonWriter *j, const char *key, const StoreEventTotal *ev, size_t n,
                 bool has_requests, double requests)
{
        json_object_begin(j, key);
        for (size_t i = 0; i < n; i++) {
                json_object_begin(j, ev[i].event);
                json_number(j, "total", ev[i].total);
                json_number(j, "per_request",
                            events_per_request(ev[i].total, has_requests, requests));
                json_object_end(j);
        }
        json_object_end(j);
}

char *events_format(double v, char *buf, size_t size)
{
        static const struct {
                double scale;
                const char *suffix;
        } units[] = {{1e12, "T"}, {1e9, "G"}, {1e6, "M"}, {1e4, "k"}};
        if (!isfinite(v)) {
                snprintf(buf, size, "-");
                return buf;
        }
        for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
                if (fabs(v) >= units[i].scale) {
                        double x = v / (units[i].scale == 1e4 ? 1e3 : units[i].scale);
                        snprintf(buf, size, "%.3g%s", x, units[i].suffix);
                        return buf;
                }
        snprintf(buf, size, fabs(v) >= 100 || v == floor(v) ? "%.0f" : "%.3g", v);
        return buf;
}
