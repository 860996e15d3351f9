/* joules run: the energy (and joules per request) of one command's run, from joulesd's history.
 * The measuring itself is cli/measure.c's, shared with joules ab.
 *
 * How the window is measured. The command's start and end are turned into whole ticks of the
 * running daemon: from the end of the last tick that ended before the command started (A) to the
 * end of the first tick that ended after it exited (B). The figures are exactly what
 * `joules services --since A --until B` shows for the unit (the same query): run and the reports
 * never disagree. avg_w is energy over that window's measured seconds.
 *
 * Whose energy. With --unit U, U's (the command is a load generator aimed at a service).
 * Without, the command's own process tree: it is started in a cgroup of its own,
 * system.slice/joules-run-PID.scope under the cgroup v2 mount, which joulesd attributes like any
 * unit. A new unit's first reading is only a baseline, so the command is held (blocked on a pipe,
 * using no CPU) until the daemon has stored a tick that saw the cgroup; and the cgroup is removed
 * only after the tick that closes the window has read it, so no CPU time leaks to `unattributed`.
 * This needs root (creating a cgroup); without it, use --unit.
 *
 * No daemon. The energy comes only from joulesd: if the history has no tick in the last three
 * intervals (plus a second), joules run says so and exits 1 before starting the command; it does
 * not measure by itself (two samplers would disagree, and run must agree with the reports).
 *
 * Requests: parsed from the command's output for wrk ("N requests in"), ab ("Complete requests:"),
 * hey (the sum of its "[code] N responses" lines) and httperf (its replies), or taken from the
 * ingest socket's counts for the unit over the window (--requests-from ingest). By default the
 * command's name picks the tool; anything else has no request count. The command's stdout is passed
 * through (to stderr with --json), its stderr untouched. Exit code: the command's when it failed
 * (128 + signal when killed), else 0, or 3 when the unit drew no energy in the window (a mistyped
 * --unit); 1 when joules itself could not measure, 2 for bad arguments. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "cli/cli.h"
#include "cli/json.h"
#include "cli/measure.h"
#include "common/args.h"
#include "common/text.h"
#include "common/util.h"

static void run_usage(FILE *f)
{
        fprintf(f,
                "Usage: joules run [--unit UNIT] [--requests-from wrk|ab|hey|httperf|ingest|none]\n"
                "                  [--json] [--cgroup-root DIR] -- COMMAND [ARGS...]\n"
                "Runs COMMAND and prints the energy of exactly the ticks it ran in, from "
                "joulesd's\n"
                "history: energy, average watts, requests and joules per request.\n\n"
                "  --unit UNIT          the energy of this service (COMMAND is its load "
                "generator);\n"
                "                       default: COMMAND's own processes, in a cgroup of their\n"
                "                       own (system.slice/joules-run-PID.scope; needs root)\n"
                "  --requests-from SRC  wrk, ab, hey or httperf: parsed from COMMAND's output;\n"
                "                       ingest: the counts the unit sent to the ingest socket;\n"
                "                       default: by COMMAND's name\n"
                "  --cgroup-root DIR    the cgroup v2 mount (default: from /proc/self/mountinfo)\n"
                "  --json               one JSON object on stdout; COMMAND's output goes to "
                "stderr\n\n"
                "The window is whole ticks: `joules services --since FROM --until TO` with the\n"
                "printed window gives the same figures. A running joulesd is required.\n"
                "Exit codes: COMMAND's when it failed, else 0; 1 no daemon; 2 usage; 3 the unit\n"
                "drew no energy in the window (is the name right?).\n\n"
                "Examples:\n"
                "  joules run --unit nginx.service -- wrk -t2 -c64 -d30s http://127.0.0.1/\n"
                "  joules run --json -- make -j8\n");
}

/* RFC 3339 with microseconds: `joules services --since/--until` parses it back exactly. */
static char *run_format_us(int64_t us, char *buf, size_t size)
{
        char sec[32];
        format_rfc3339(us - us % (int64_t)USEC_PER_SEC, sec, sizeof(sec));
        sec[strcspn(sec, "Z")] = '\0';
        snprintf(buf, size, "%s.%06lldZ", sec, (long long)(us % (int64_t)USEC_PER_SEC));
        return buf;
}

int cmd_run(const CliContext *ctx, int argc, char **argv)
{
        static const struct option opts[] = {
                {"unit", required_argument, NULL, 'u'},
                {"requests-from", required_argument, NULL, 'r'},
                {"cgroup-root", required_argument, NULL, 'c'},
                {"json", no_argument, NULL, 'j'},
                {"help", no_argument, NULL, 'h'},
                {0},
        };
        const char *unit_arg = NULL, *from_arg = NULL, *cg_root_arg = NULL;
        bool json = false;
        int c;
        /* "+": stop at the first non-option, so COMMAND's own flags are left alone */
        while ((c = args_getopt(argc, argv, "+", opts)) != -1) {
                switch (c) {
                case 'u':
                        unit_arg = optarg;
                        break;
                case 'r':
                        from_arg = optarg;
                        break;
                case 'c':
                        cg_root_arg = optarg;
                        break;
                case 'j':
                        json = true;
                        break;
                case 'h':
                        run_usage(stdout);
                        return CLI_EXIT_OK;
                default:
                        run_usage(stderr);
                        return CLI_EXIT_USAGE;
                }
        }
        if (optind >= argc) {
                fprintf(stderr, "joules run: no command given (joules run [OPTIONS] -- COMMAND)\n");
                return CLI_EXIT_USAGE;
        }
        char **cmd = argv + optind;
        MeasureRequests from = measure_requests_guess(cmd[0]);
        if (from_arg && measure_requests_parse(from_arg, &from) < 0) {
                fprintf(stderr,
                        "joules run: --requests-from: '%s' is not wrk, ab, hey, httperf, ingest or "
                        "none\n",
                        TEXT_SAFE(from_arg));
                return CLI_EXIT_USAGE;
        }

        Store *s = cli_open_store(ctx);
        if (!s)
                return CLI_EXIT_FAILURE;
        int rc = CLI_EXIT_FAILURE;
        MeasureOptions mo = {
                .cmd = "joules run",
                .db_path = ctx->db_path,
                .unit = unit_arg,
                .cg_root = cg_root_arg,
                .requests = from,
                .relay = json ? stderr : stdout,
        };
        Measure m;
        if (measure_check_daemon(s, mo.cmd, ctx->db_path, &mo.interval_us) < 0)
                goto out;
        /* Ctrl-C reaches the command (same process group); joules still reports. */
        signal(SIGINT, SIG_IGN);
        signal(SIGTERM, SIG_IGN);
        if (measure_run(s, &mo, cmd, &m) < 0)
                goto out;

        bool has_req = !isnan(m.requests);
        if (!m.found && unit_arg)
                fprintf(stderr,
                        "joules run: %s drew no energy in the window (is the name right? "
                        "see joules services)\n",
                        TEXT_SAFE(m.unit));
        char wa[48], wb[48];
        double avg_w = m.window_s > 0 ? m.energy_j / m.window_s : 0;
        if (json) {
                JsonWriter j;
                json_init(&j, stdout);
                json_object_begin(&j, NULL);
                json_string(&j, "unit", m.unit);
                json_number(&j, "duration_s", m.duration_s);
                json_number(&j, "energy_j", m.energy_j);
                json_number(&j, "avg_w", avg_w);
                if (has_req)
                        json_number(&j, "requests", m.requests);
                else
                        json_null(&j, "requests");
                if (has_req && m.requests > 0)
                        json_number(&j, "j_per_request", m.energy_j / m.requests);
                else
                        json_null(&j, "j_per_request");
                json_bool(&j, "estimated", m.estimated);
                json_string(&j, "requests_from", has_req ? measure_requests_name(from) : NULL);
                json_string(&j, "window_from", run_format_us(m.from_us, wa, sizeof(wa)));
                json_string(&j, "window_to", run_format_us(m.to_us, wb, sizeof(wb)));
                json_number(&j, "window_s", m.window_s);
                json_int(&j, "window_from_us", m.from_us);
                json_int(&j, "window_to_us", m.to_us);
                json_number(&j, "host_energy_j", m.host_energy_j);
                json_object_end(&j);
                json_end(&j);
        } else {
                printf("joules run: %s\n", TEXT_SAFE(m.unit));
                printf("  duration     %10.3f s (window %.3f s, whole ticks: --since %s "
                       "--until %s)\n",
                       m.duration_s, m.window_s, run_format_us(m.from_us, wa, sizeof(wa)),
                       run_format_us(m.to_us, wb, sizeof(wb)));
                printf("  energy       %10.3f J%s\n", m.energy_j,
                       m.estimated ? " (estimated)" : "");
                printf("  average      %10.3f W\n", avg_w);
                if (has_req) {
                        printf("  requests     %10.0f (from %s)\n", m.requests,
                               measure_requests_name(from));
                        if (m.requests > 0)
                                printf("  per request  %10.6f J\n", m.energy_j / m.requests);
                } else {
                        printf("  requests     %10s\n", "-");
                }
        }
        rc = m.found ? CLI_EXIT_OK : CLI_EXIT_NO_DATA; /* a --unit that drew nothing: a typo? */
        if (WIFEXITED(m.status) && WEXITSTATUS(m.status) != 0)
                rc = WEXITSTATUS(m.status);
        else if (WIFSIGNALED(m.status))
                rc = 128 + WTERMSIG(m.status);
        measure_done(&m);
out:
        store_close(s);
        return rc;
}
