#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/events.h"
#include "cli/json.h"
#include "common/args.h"
#include "common/text.h"
#include "common/util.h"

static void services_usage(FILE *f)
{
        fprintf(f, "Usage: joules services [--since WHEN] [--until WHEN] [--wide] [--json]\n"
                   "Energy per systemd unit over a time range (default: the last hour):\n"
                   "total, active and idle energy, CPU seconds, average watts and share of the\n"
                   "host. Pseudo-units: kernel (kernel threads, interrupts), unattributed\n"
                   "(processes in no unit), idle (idle energy while nothing ran). The units'\n"
                   "energy, pseudo-units included, adds up to the host's.\n"
                   "Requests (the \"requests\" metric from the ingest socket, scrapes or access\n"
                   "logs): J/REQ is the unit's total energy per request, ACT J/REQ its active\n"
                   "energy per request; '-' (null in JSON) where it counted none.\n"
                   "Perf events (joulesd --events): each unit's total of each event and per\n"
                   "request in JSON (\"events\"); --wide shows the first event per request.\n\n"
                   "WHEN is a duration before now (15m, 24h, 7d) or an ISO 8601 time.\n\n"
                   "Examples:\n"
                   "  joules services --since 10m\n"
                   "  joules services --since 2026-11-01 --until 2026-11-02 --json\n");
}

/* The events of every unit in the range (store_read_unit_events), by unit. */
typedef struct ServicesEvents {
        StoreEventTotal *rows;
        size_t n;
} ServicesEvents;

static void services_json(const StoreServices *sv, const ServicesEvents *ev, FILE *f)
{
        JsonWriter j;
        json_init(&j, f);
        json_object_begin(&j, NULL);
        json_time(&j, "from", sv->from_us, true);
        json_time(&j, "to", sv->to_us, true);
        json_number(&j, "seconds", sv->seconds);
        json_object_begin(&j, "host");
        json_number(&j, "energy_j", sv->host_energy_j);
        json_number(&j, "avg_w", sv->seconds > 0 ? sv->host_energy_j / sv->seconds : 0);
        json_bool(&j, "estimated", sv->estimated);
        json_object_end(&j);
        json_array_begin(&j, "units");
        for (size_t i = 0; i < sv->n_units; i++) {
                const StoreUnitTotal *u = &sv->units[i];
                double e = u->active_j + u->idle_j;
                json_object_begin(&j, NULL);
                json_string(&j, "unit", u->name);
                json_bool(&j, "pseudo", u->pseudo);
                json_number(&j, "energy_j", e);
                json_number(&j, "active_j", u->active_j);
                json_number(&j, "idle_j", u->idle_j);
                json_number(&j, "cpu_s", u->cpu_s);
                json_number(&j, "avg_w", sv->seconds > 0 ? e / sv->seconds : 0);
                json_number(&j, "share", sv->host_energy_j > 0 ? e / sv->host_energy_j : 0);
                json_bool(&j, "estimated", u->estimated);
                /* per request: null where the unit counted no requests in the range */
                if (u->has_requests)
                        json_number(&j, "requests", u->requests);
                else
                        json_null(&j, "requests");
                if (u->has_requests && u->requests > 0) {
                        json_number(&j, "j_per_request", e / u->requests);
                        json_number(&j, "active_j_per_request", u->active_j / u->requests);
                } else {
                        json_null(&j, "j_per_request");
                        json_null(&j, "active_j_per_request");
                }
                size_t first, n_ev = events_of_unit(ev->rows, ev->n, u->name, &first);
                events_json(&j, "events", ev->rows + first, n_ev, u->has_requests, u->requests);
                json_object_end(&j);
        }
        json_array_end(&j);
        json_object_end(&j);
        json_end(&j);
}

/* 80 columns by default; --wide adds idle energy, CPU seconds, active J per request and the first
 * perf event per request. */
static void services_table(const StoreServices *sv, const ServicesEvents *ev, bool wide)
{
        char a[32], b[32];
        const char *event = wide ? events_first(ev->rows, ev->n) : NULL;
        char ev_head[40] = "";
        if (event) {
                /* "perf::TASK-CLOCK" shows as "TASK-CLOCK/REQ" */
                const char *short_name = strrchr(event, ':');
                short_name = short_name ? short_name + 1 : event;
                snprintf(ev_head, sizeof(ev_head), "%s/REQ", TEXT_SAFE_CUT(short_name, 14));
        }
        printf("%s .. %s, %.0f s measured\nhost %.2f J, %.2f W average%s\n",
               format_rfc3339(sv->from_us, a, sizeof(a)), format_rfc3339(sv->to_us, b, sizeof(b)),
               sv->seconds, sv->host_energy_j,
               sv->seconds > 0 ? sv->host_energy_j / sv->seconds : 0,
               sv->estimated ? " (estimated)" : "");
        printf("%-22s %9s %9s", "UNIT", "ENERGY J", "ACTIVE J");
        if (wide)
                printf(" %9s %8s", "IDLE J", "CPU S");
        printf(" %7s %6s %9s %9s%s", "AVG W", "SHARE", "REQUESTS", "J/REQ",
               wide ? "  ACT J/REQ" : "");
        if (event)
                printf(" %18s", ev_head);
        putchar('\n');
        for (size_t i = 0; i < sv->n_units; i++) {
                const StoreUnitTotal *u = &sv->units[i];
                double e = u->active_j + u->idle_j;
                char name[TEXT_SAFE_MAX + 2];
                cli_unit_label(u->name, u->pseudo, name, sizeof(name));
                /* A name longer than its column gets a line of its own: never cut. */
                if (strlen(name) > 22)
                        printf("%s\n%-22s", name, "");
                else
                        printf("%-22s", name);
                printf(" %9.2f %9.2f", e, u->active_j);
                if (wide)
                        printf(" %9.2f %8.2f", u->idle_j, u->cpu_s);
                printf(" %7.2f %5.1f%%", sv->seconds > 0 ? e / sv->seconds : 0,
                       sv->host_energy_j > 0 ? 100 * e / sv->host_energy_j : 0);
                if (u->has_requests && u->requests > 0) {
                        printf(" %9.0f %9.3g", u->requests, e / u->requests);
                        if (wide)
                                printf("  %9.3g", u->active_j / u->requests);
                } else {
                        printf(" %9s %9s", u->has_requests ? "0" : "-", "-");
                        if (wide)
                                printf("  %9s", "-");
                }
                if (event) {
                        size_t first, n_ev = events_of_unit(ev->rows, ev->n, u->name, &first);
                        char v[32];
                        events_format(
                                events_per_request(events_total(ev->rows + first, n_ev, event),
                                                   u->has_requests, u->requests),
                                v, sizeof(v));
                        printf(" %18s", v);
                }
                putchar('\n');
        }
}

int cmd_services(const CliContext *ctx, int argc, char **argv)
{
        static const struct option opts[] = {
                {"since", required_argument, NULL, 's'}, {"until", required_argument, NULL, 'u'},
                {"json", no_argument, NULL, 'j'},        {"wide", no_argument, NULL, 'w'},
                {"help", no_argument, NULL, 'h'},        {0},
        };
        int64_t from = ctx->now_us - 3600 * (int64_t)USEC_PER_SEC, to = ctx->now_us;
        bool json = false, wide = false;
        int c;
        while ((c = args_getopt(argc, argv, "", opts)) != -1) {
                int rr = cli_range_option(ctx, c, optarg, &from, &to);
                if (rr < 0)
                        return CLI_EXIT_USAGE;
                if (rr > 0)
                        continue;
                switch (c) {
                case 'j':
                        json = true;
                        break;
                case 'w':
                        wide = true;
                        break;
                case 'h':
                        services_usage(stdout);
                        return CLI_EXIT_OK;
                default:
                        services_usage(stderr);
                        return CLI_EXIT_USAGE;
                }
        }
        if (cli_no_more_args("joules services", argc, argv) < 0)
                return CLI_EXIT_USAGE;
        if (cli_range_check("joules services", from, to) < 0)
                return CLI_EXIT_USAGE;
        Store *s = cli_open_store(ctx);
        if (!s)
                return CLI_EXIT_FAILURE;
        StoreServices sv;
        int r = store_read_services(s, from, to, &sv);
        if (r < 0) {
                cli_store_error(ctx->db_path, store_last_error(s));
                store_close(s);
                return CLI_EXIT_FAILURE;
        }
        ServicesEvents ev = {0};
        if (store_read_unit_events(s, from, to, NULL, &ev.rows, &ev.n) < 0) {
                cli_store_error(ctx->db_path, store_last_error(s));
                store_services_done(&sv);
                store_close(s);
                return CLI_EXIT_FAILURE;
        }
        if (json)
                services_json(&sv, &ev, stdout);
        else
                services_table(&sv, &ev, wide);
        free(ev.rows);
        int rc = sv.seconds > 0 ? CLI_EXIT_OK : CLI_EXIT_NO_DATA;
        if (rc == CLI_EXIT_NO_DATA && !json)
                fprintf(stderr, "joules services: no samples in that range\n");
        store_services_done(&sv);
        store_close(s);
        return rc;
}
