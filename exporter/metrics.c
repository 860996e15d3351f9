#include "exporter/metrics.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"

/* Label values are written in common/text.h's table form, which gives every different name a
 * different string. Only names the history cut to the same 255 bytes could give one series twice,
 * which Prometheus would reject: such rows are added up into one (a sum of counters still only
 * grows, and the units still add up to the host). The history lists them sorted by name, so
 * they are neighbours. */
static size_t units_merged(const StoreTotals *t, StoreTotalUnit **ret)
{
        StoreTotalUnit *v = malloc((t->n_units ? t->n_units : 1) * sizeof(*v));
        if (!v)
                return SIZE_MAX;
        size_t n = 0;
        for (size_t i = 0; i < t->n_units; i++) {
                if (n > 0 && strcmp(v[n - 1].name, t->units[i].name) == 0) {
                        v[n - 1].active_uj += t->units[i].active_uj;
                        v[n - 1].idle_uj += t->units[i].idle_uj;
                        v[n - 1].cpu_ns += t->units[i].cpu_ns;
                        continue;
                }
                v[n++] = t->units[i];
        }
        *ret = v;
        return n;
}

static size_t requests_merged(const StoreTotals *t, StoreTotalRequests **ret)
{
        StoreTotalRequests *v = malloc((t->n_requests ? t->n_requests : 1) * sizeof(*v));
        if (!v)
                return SIZE_MAX;
        size_t n = 0;
        for (size_t i = 0; i < t->n_requests; i++) {
                const StoreTotalRequests *q = &t->requests[i];
                if (n > 0 && strcmp(v[n - 1].unit, q->unit) == 0 &&
                    strcmp(v[n - 1].metric, q->metric) == 0) {
                        v[n - 1].count += q->count;
                        continue;
                }
                v[n++] = *q;
        }
        *ret = v;
        return n;
}

static size_t events_merged(const StoreTotals *t, StoreTotalEvents **ret)
{
        StoreTotalEvents *v = malloc((t->n_events ? t->n_events : 1) * sizeof(*v));
        if (!v)
                return SIZE_MAX;
        size_t n = 0;
        for (size_t i = 0; i < t->n_events; i++) {
                const StoreTotalEvents *e = &t->events[i];
                if (n > 0 && strcmp(v[n - 1].unit, e->unit) == 0 &&
                    strcmp(v[n - 1].event, e->event) == 0) {
                        v[n - 1].value = v[n - 1].value > UINT64_MAX - e->value
                                                 ? UINT64_MAX
                                                 : v[n - 1].value + e->value;
                        continue;
                }
                v[n++] = *e;
        }
        *ret = v;
        return n;
}

#define FAM(name, type, unit, help) expo_family(b, f, name, type, unit, help)
#define ONE(name, type, v)          expo_sample(b, f, name, type, NULL, 0, v, -1)

static void render_history(const MetricsInput *in, ExpoFormat f, ExpoBuf *b)
{
        const StoreTotals *t = in->totals;
        /* Every counter started at 0 with the history's first tick. */
        double created = t->empty ? -1 : (double)t->first_us / 1e6;

        FAM("joules_host_energy_joules", EXPO_COUNTER, "joules",
            "Energy the host used since the history began (the total joules status reports).");
        expo_sample(b, f, "joules_host_energy_joules", EXPO_COUNTER, NULL, 0,
                    expo_fixed(t->host_uj, 6), created);
        FAM("joules_host_measured_seconds", EXPO_COUNTER, "seconds",
            "Time covered by valid measurement intervals since the history began.");
        expo_sample(b, f, "joules_host_measured_seconds", EXPO_COUNTER, NULL, 0,
                    expo_fixed(t->valid_us, 6), created);
        FAM("joules_host_dropped_intervals", EXPO_COUNTER, NULL,
            "Measurement intervals dropped (implausible or unreadable energy).");
        expo_sample(b, f, "joules_host_dropped_intervals", EXPO_COUNTER, NULL, 0,
                    expo_fixed(t->dropped, 0), created);

        FAM("joules_domain_energy_joules", EXPO_COUNTER, "joules",
            "Energy per RAPL domain (or the model); in_host says whether it is part of the host "
            "total.");
        for (size_t i = 0; i < t->n_domains; i++) {
                const StoreTotalDomain *d = &t->domains[i];
                /* the same labels twice (one zone under two sources over the history): once,
                 * added up, at the first */
                bool seen = false;
                uint64_t uj = d->energy_uj;
                for (size_t k = 0; k < t->n_domains; k++) {
                        const StoreTotalDomain *e = &t->domains[k];
                        if (k == i || strcmp(d->name, e->name) != 0 ||
                            strcmp(d->zone, e->zone) != 0 || strcmp(d->kind, e->kind) != 0 ||
                            d->in_host != e->in_host)
                                continue;
                        if (k < i)
                                seen = true;
                        else
                                uj += e->energy_uj;
                }
                if (seen)
                        continue;
                ExpoLabel l[] = {{"domain", d->name},
                                 {"zone", d->zone},
                                 {"kind", d->kind},
                                 {"in_host", d->in_host ? "true" : "false"}};
                expo_sample(b, f, "joules_domain_energy_joules", EXPO_COUNTER, l, ELEMENTSOF(l),
                            expo_fixed(uj, 6), created);
        }

        StoreTotalUnit *units = NULL;
        size_t nu = units_merged(t, &units);
        if (nu == SIZE_MAX) {
                b->oom = true;
                return;
        }
        FAM("joules_unit_energy_joules", EXPO_COUNTER, "joules",
            "Energy attributed to each systemd unit and pseudo-unit (kernel, unattributed, idle), "
            "active or idle; the units add up to the host.");
        for (size_t i = 0; i < nu; i++) {
                ExpoLabel l[] = {{"unit", units[i].name}, {"mode", "active"}};
                expo_sample(b, f, "joules_unit_energy_joules", EXPO_COUNTER, l, 2,
                            expo_fixed(units[i].active_uj, 6), created);
                l[1].value = "idle";
                expo_sample(b, f, "joules_unit_energy_joules", EXPO_COUNTER, l, 2,
                            expo_fixed(units[i].idle_uj, 6), created);
        }
        FAM("joules_unit_cpu_seconds", EXPO_COUNTER, "seconds",
            "CPU time of each systemd unit and pseudo-unit.");
        for (size_t i = 0; i < nu; i++) {
                ExpoLabel l[] = {{"unit", units[i].name}};
                expo_sample(b, f, "joules_unit_cpu_seconds", EXPO_COUNTER, l, 1,
                            expo_fixed(units[i].cpu_ns, 9), created);
        }
        free(units);

        StoreTotalRequests *reqs = NULL;
        size_t nr = requests_merged(t, &reqs);
        if (nr == SIZE_MAX) {
                b->oom = true;
                return;
        }
        FAM("joules_unit_requests", EXPO_COUNTER, NULL,
            "Requests counted for each unit, per metric name (ingest socket, scrapes, access "
            "logs).");
        for (size_t i = 0; i < nr; i++) {
                ExpoLabel l[] = {{"unit", reqs[i].unit}, {"metric", reqs[i].metric}};
                expo_sample(b, f, "joules_unit_requests", EXPO_COUNTER, l, 2,
                            expo_double(reqs[i].count), created);
        }
        free(reqs);

        StoreTotalEvents *evs = NULL;
        size_t ne = events_merged(t, &evs);
        if (ne == SIZE_MAX) {
                b->oom = true;
                return;
        }
        FAM("joules_unit_events", EXPO_COUNTER, NULL,
            "Perf events (joulesd --events, libpfm4 names) counted for each unit, per event.");
        for (size_t i = 0; i < ne; i++) {
                ExpoLabel l[] = {{"unit", evs[i].unit}, {"event", evs[i].event}};
                expo_sample(b, f, "joules_unit_events", EXPO_COUNTER, l, 2,
                            expo_fixed(evs[i].value, 0), created);
        }
        free(evs);

        if (t->source[0]) {
                FAM("joules", EXPO_INFO, NULL,
                    "The energy source of the latest joulesd run and whether its figures are "
                    "estimated.");
                ExpoLabel l[] = {{"source", t->source},
                                 {"estimated", t->run_estimated ? "true" : "false"},
                                 {"hostname", t->hostname},
                                 {"weight", t->weight}};
                expo_sample(b, f, "joules", EXPO_INFO, l, ELEMENTSOF(l), expo_fixed(1, 0), -1);
        }
        if (in->carbon) {
                FAM("joules_grid_intensity_grams_per_kwh", EXPO_GAUGE, NULL,
                    "Location-based grid carbon intensity in force now, gCO2e/kWh.");
                ONE("joules_grid_intensity_grams_per_kwh", EXPO_GAUGE,
                    expo_double(in->intensity_g_per_kwh));
                FAM("joules_pue", EXPO_GAUGE, NULL, "Power usage effectiveness in force.");
                ONE("joules_pue", EXPO_GAUGE, expo_double(in->pue));
                FAM("joules_embodied_grams_per_second", EXPO_GAUGE, NULL,
                    "The host's embodied emissions per second of use (TE / EL), gCO2e/s.");
                ONE("joules_embodied_grams_per_second", EXPO_GAUGE,
                    expo_double(in->embodied_g_per_s));
        }
        if (!t->empty) {
                FAM("joules_last_tick_timestamp_seconds", EXPO_GAUGE, "seconds",
                    "End of the newest stored measurement interval, seconds since the epoch.");
                ONE("joules_last_tick_timestamp_seconds", EXPO_GAUGE,
                    expo_fixed((uint64_t)t->last_us, 6));
                FAM("joules_last_tick_age_seconds", EXPO_GAUGE, "seconds",
                    "Seconds since the newest stored measurement interval ended.");
                ONE("joules_last_tick_age_seconds", EXPO_GAUGE,
                    expo_double((double)(in->now_us - t->last_us) / 1e6));
        }
        if (in->n_procs > 0) {
                FAM("joules_process_power_watts", EXPO_GAUGE, "watts",
                    "Average power of the top processes over the last minute stored "
                    "(--top-processes).");
                for (size_t i = 0; i < in->n_procs; i++) {
                        char pid[16];
                        snprintf(pid, sizeof(pid), "%d", in->procs[i].pid);
                        ExpoLabel l[] = {{"unit", in->procs[i].unit},
                                         {"pid", pid},
                                         {"comm", in->procs[i].comm}};
                        expo_sample(b, f, "joules_process_power_watts", EXPO_GAUGE, l, 3,
                                    expo_double(in->procs[i].power_w), -1);
                }
        }
}

bool metrics_render(const MetricsInput *in, ExpoFormat f, ExpoBuf *b)
{
        if (in->history_up && in->totals)
                render_history(in, f, b);
        FAM("joules_history_up", EXPO_GAUGE, NULL,
            "1 when the history could be read for this scrape, 0 when not (HTTP 503).");
        ONE("joules_history_up", EXPO_GAUGE, expo_fixed(in->history_up && in->totals, 0));
        FAM("joules_build", EXPO_INFO, NULL, "The joules-exporter version.");
        ExpoLabel v[] = {{"version", in->version}};
        expo_sample(b, f, "joules_build", EXPO_INFO, v, 1, expo_fixed(1, 0), -1);
        FAM("joules_exporter_scrape_duration_seconds", EXPO_GAUGE, "seconds",
            "Time this scrape spent reading the history.");
        ONE("joules_exporter_scrape_duration_seconds", EXPO_GAUGE,
            expo_double(in->scrape_duration_s));
        FAM("process_cpu_seconds", EXPO_COUNTER, "seconds",
            "User and system CPU time of joules-exporter.");
        ONE("process_cpu_seconds", EXPO_COUNTER, expo_double(in->process_cpu_s));
        FAM("process_resident_memory_bytes", EXPO_GAUGE, "bytes",
            "Resident memory of joules-exporter.");
        ONE("process_resident_memory_bytes", EXPO_GAUGE, expo_fixed(in->process_rss_bytes, 0));
        FAM("process_start_time_seconds", EXPO_GAUGE, "seconds",
            "Start time of joules-exporter, seconds since the epoch.");
        ONE("process_start_time_seconds", EXPO_GAUGE, expo_double(in->process_start_s));
        expo_end(b, f);
        return !b->oom;
}
