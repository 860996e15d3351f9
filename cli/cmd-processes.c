/* joules processes: the stored processes over a range with their energy, CPU time and perf event
 * counts, highest energy first. */

#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/events.h"
#include "cli/json.h"
#include "common/args.h"
#include "common/text.h"
#include "common/util.h"

static void processes_usage(FILE *f)
{
        fprintf(f, "Usage: joules processes [--unit U] [--since WHEN] [--until WHEN] [--json]\n"
                   "The processes joulesd stored (the top attribution.top_processes of each\n"
                   "active unit, per tick) over a range (default: the last hour), highest energy\n"
                   "first: PID, start time (clock ticks after boot: with the PID, the process's\n"
                   "identity), name, unit, energy, CPU seconds and the total of each perf event\n"
                   "counted for it (joulesd --events; '-' where not counted). A process's counts\n"
                   "start when it first becomes one of the stored ones.\n\n"
                   "WHEN is a duration before now (15m, 24h, 7d) or an ISO 8601 time.\n\n"
                   "Examples:\n"
                   "  joules processes --since 10m\n"
                   "  joules processes --unit nginx.service --since 1h --json\n");
}

static void processes_json(const StoreProcesses *p, FILE *f)
{
        JsonWriter j;
        json_init(&j, f);
        json_object_begin(&j, NULL);
        json_time(&j, "from", p->from_us, true);
        json_time(&j, "to", p->to_us, true);
        json_array_begin(&j, "processes");
        for (size_t i = 0; i < p->n_procs; i++) {
                const StoreProcess *x = &p->procs[i];
                json_object_begin(&j, NULL);
                json_int(&j, "pid", x->pid);
                json_int(&j, "start_time", (int64_t)x->start_time);
                json_string(&j, "comm", x->comm);
                json_string(&j, "unit", x->unit);
                json_number(&j, "energy_j", x->energy_j);
                json_number(&j, "cpu_s", x->cpu_s);
                json_object_begin(&j, "events");
                for (size_t e = 0; e < p->n_events; e++)
                        if (isfinite(x->events[e]))
                                json_number(&j, p->event_names[e], x->events[e]);
                json_object_end(&j);
                json_object_end(&j);
        }
        json_array_end(&j);
        json_object_end(&j);
        json_end(&j);
}

static void processes_table(const StoreProcesses *p)
{
        char a[32], b[32];
        printf("%s .. %s, %zu processes\n", format_rfc3339(p->from_us, a, sizeof(a)),
               format_rfc3339(p->to_us, b, sizeof(b)), p->n_procs);
        printf("%8s %12s %-16s %-24s %10s %8s", "PID", "START", "COMM", "UNIT", "ENERGY J",
               "CPU S");
        for (size_t e = 0; e < p->n_events; e++) {
                /* "perf::TASK-CLOCK" as "TASK-CLOCK": the PMU prefix takes the column's room */
                const char *name = strrchr(p->event_names[e], ':');
                printf(" %14s", TEXT_SAFE_CUT(name ? name + 1 : p->event_names[e], 14));
        }
        putchar('\n');
        for (size_t i = 0; i < p->n_procs; i++) {
                const StoreProcess *x = &p->procs[i];
                char unit[TEXT_SAFE_MAX];
                text_terminal(x->unit, unit, sizeof(unit));
                printf("%8d %12llu %-16s %-24s %10.3f %8.2f", x->pid,
                       (unsigned long long)x->start_time, TEXT_SAFE(x->comm), unit, x->energy_j,
                       x->cpu_s);
                for (size_t e = 0; e < p->n_events; e++) {
                        char v[32];
                        printf(" %14s", events_format(x->events[e], v, sizeof(v)));
                }
                putchar('\n');
        }
}

int cmd_processes(const CliContext *ctx, int argc, char **argv)
{
        static const struct option opts[] = {
                {"unit", required_argument, NULL, 'U'},  {"since", required_argument, NULL, 's'},
                {"until", required_argument, NULL, 'u'}, {"json", no_argument, NULL, 'j'},
                {"help", no_argument, NULL, 'h'},        {0},
        };
        int64_t from = ctx->now_us - 3600 * (int64_t)USEC_PER_SEC, to = ctx->now_us;
        const char *unit = NULL;
        bool json = false;
        int c;
        while ((c = args_getopt(argc, argv, "", opts)) != -1) {
                int rr = cli_range_option(ctx, c, optarg, &from, &to);
                if (rr < 0)
                        return CLI_EXIT_USAGE;
                if (rr > 0)
                        continue;
                switch (c) {
                case 'U':
                        unit = optarg;
                        break;
                case 'j':
                        json = true;
                        break;
                case 'h':
                        processes_usage(stdout);
                        return CLI_EXIT_OK;
                default:
                        processes_usage(stderr);
                        return CLI_EXIT_USAGE;
                }
        }
        if (cli_no_more_args("joules processes", argc, argv) < 0)
                return CLI_EXIT_USAGE;
        if (cli_range_check("joules processes", from, to) < 0)
                return CLI_EXIT_USAGE;
        Store *s = cli_open_store(ctx);
        if (!s)
                return CLI_EXIT_FAILURE;
        StoreProcesses p;
        int r = store_read_process_list(s, from, to, unit, &p);
        if (r < 0) {
                cli_store_error(ctx->db_path, store_last_error(s));
                store_close(s);
                return CLI_EXIT_FAILURE;
        }
        if (json)
                processes_json(&p, stdout);
        else
                processes_table(&p);
        int rc = p.n_procs > 0 ? CLI_EXIT_OK : CLI_EXIT_NO_DATA;
        if (rc == CLI_EXIT_NO_DATA && !json)
                fprintf(stderr, "joules processes: no process stored in that range%s%s\n",
                        unit ? " for " : "", unit ? TEXT_SAFE(unit) : "");
        store_processes_done(&p);
        store_close(s);
        return rc;
}
