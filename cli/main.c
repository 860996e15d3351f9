/* joules: answers questions from joulesd's history. See joules --help. */

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "common/text.h"
#include "common/util.h"

static const struct {
        const char *name;
        CliCommandFn fn;
        const char *help;
} commands[] = {
        {"status", cmd_status, "host energy and power, per domain; measured or estimated"},
        {"services", cmd_services, "energy per systemd unit over a time range"},
        {"top", cmd_top, "live power per service, expandable to processes"},
        {"processes", cmd_processes, "energy, CPU and perf events per process over a range"},
        {"run", cmd_run, "run a command: its energy, watts and joules per request"},
        {"ab", cmd_ab, "an A/B energy experiment: J/request of two services, ratio, interval"},
        {"report", cmd_report, "energy, requests and gCO2e per service and period, a chart"},
        {"compare", cmd_compare, "two services side by side: J/request, W, gCO2e, ratios"},
        {"sci", cmd_sci, "Software Carbon Intensity per request, every input shown"},
        {"export", cmd_export, "Net Zero rows (CSV or JSON) per host, service and period"},
        {"intensity", cmd_intensity, "grid carbon intensity: import a series, show the table"},
        {"calibrate", cmd_calibrate,
         "fit the model's power curve to measured watts (CSV or history)"},
};

static void usage(FILE *f)
{
        fprintf(f, "Usage: joules [--db PATH] COMMAND [ARGS]\n\n"
                   "Commands:\n");
        for (size_t i = 0; i < ELEMENTSOF(commands); i++)
                fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].help);
        fprintf(f, "\nOptions:\n"
                   "  --db PATH   history file (default: $JOULES_DB, else " JOULES_DEFAULT_DB ")\n"
                   "  --version, --help\n\n"
                   "Every command takes --help and --json. Exit codes: 0 ok, 1 the history could\n"
                   "not be read, 2 bad arguments, 3 no data for the question.\n");
}

int main(int argc, char **argv)
{
        CliContext ctx = {.db_path = getenv("JOULES_DB"), .now_us = now_realtime_us()};
        int i = 1;
        for (; i < argc && argv[i][0] == '-'; i++) {
                if (strcmp(argv[i], "--db") == 0 && i + 1 < argc) {
                        ctx.db_path = argv[++i];
                } else if (startswith(argv[i], "--db=")) {
                        ctx.db_path = argv[i] + 5;
                } else if (strcmp(argv[i], "--db") == 0) {
                        fprintf(stderr, "joules: option '--db' needs a value\n");
                        return CLI_EXIT_USAGE;
                } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
                        usage(stdout);
                        return CLI_EXIT_OK;
                } else if (strcmp(argv[i], "--version") == 0) {
                        printf("joules %s\n", JOULES_VERSION);
                        return CLI_EXIT_OK;
                } else {
                        fprintf(stderr, "joules: unknown option '%s'\n", TEXT_SAFE(argv[i]));
                        usage(stderr);
                        return CLI_EXIT_USAGE;
                }
        }
        if (!ctx.db_path || !*ctx.db_path)
                ctx.db_path = JOULES_DEFAULT_DB;
        if (i >= argc) {
                usage(stderr);
                return CLI_EXIT_USAGE;
        }
        for (size_t k = 0; k < ELEMENTSOF(commands); k++) {
                if (strcmp(argv[i], commands[k].name) == 0) {
                        optind = 1;
                        return commands[k].fn(&ctx, argc - i, argv + i);
                }
        }
        fprintf(stderr, "joules: unknown command '%s' (see joules --help)\n", TEXT_SAFE(argv[i]));
        return CLI_EXIT_USAGE;
}
