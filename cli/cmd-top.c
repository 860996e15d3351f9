#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/json.h"
#include "common/args.h"
#include "common/text.h"
#include "common/util.h"

/* joules top: live watts per service, read from the history the daemon writes. Each frame covers
 * the last `window` of ticks, so it never shows a figure the history does not hold. */

typedef struct TopOptions {
        uint64_t refresh_us;
        uint64_t window_us;
        bool once;
        bool json;
        bool processes;
        size_t rows;
} TopOptions;

static void top_usage(FILE *f)
{
        fprintf(f, "Usage: joules top [--refresh D] [--window D] [--processes] [--once] [--json]\n"
                   "Live power per service, highest first, refreshed every --refresh (default\n"
                   "1s) over the last --window of samples (default 5s). Keys: p shows or hides\n"
                   "each service's top processes, q quits.\n\n"
                   "  --processes   start with processes shown\n"
                   "  --rows N      services shown (default: as many as fit, at least 10)\n"
                   "  --once        print one frame and exit (scripts)\n"
                   "  --json        one JSON object per frame\n\n"
                   "Examples:\n"
                   "  joules top\n"
                   "  joules top --once --json | jq '.units[0]'\n");
}

static volatile sig_atomic_t top_stop;

static void top_on_signal(int sig)
{
        (void)sig;
        top_stop = 1;
}

static struct termios top_saved_tty;
static bool top_tty_raw;

static void top_tty_restore(void)
{
        if (top_tty_raw) {
                (void)tcsetattr(STDIN_FILENO, TCSANOW, &top_saved_tty);
                top_tty_raw = false;
        }
}

static void top_tty_setup(void)
{
        if (!isatty(STDIN_FILENO) || tcgetattr(STDIN_FILENO, &top_saved_tty) < 0)
                return;
        struct termios raw = top_saved_tty;
        raw.c_lflag &= ~(tcflag_t)(ICANON | ECHO);
        raw.c_cc[VMIN] = 0;
        raw.c_cc[VTIME] = 0;
        if (tcsetattr(STDIN_FILENO, TCSANOW, &raw) == 0) {
                top_tty_raw = true;
                atexit(top_tty_restore);
        }
}

static void top_frame_json(const StoreServices *sv, const StoreProcTotal *procs, size_t n_procs,
                           bool with_procs)
{
        JsonWriter j;
        json_init(&j, stdout);
        json_object_begin(&j, NULL);
        json_time(&j, "from", sv->from_us, true);
        json_time(&j, "to", sv->to_us, true);
        json_number(&j, "seconds", sv->seconds);
        json_object_begin(&j, "host");
        json_number(&j, "power_w", sv->seconds > 0 ? sv->host_energy_j / sv->seconds : 0);
        json_bool(&j, "estimated", sv->estimated);
        json_object_end(&j);
        json_array_begin(&j, "units");
        for (size_t i = 0; i < sv->n_units; i++) {
                const StoreUnitTotal *u = &sv->units[i];
                double e = u->active_j + u->idle_j;
                json_object_begin(&j, NULL);
                json_string(&j, "unit", u->name);
                json_bool(&j, "pseudo", u->pseudo);
                json_number(&j, "power_w", sv->seconds > 0 ? e / sv->seconds : 0);
                json_number(&j, "active_w", sv->seconds > 0 ? u->active_j / sv->seconds : 0);
                json_number(&j, "cpu", sv->seconds > 0 ? u->cpu_s / sv->seconds : 0);
                if (with_procs) {
                        json_array_begin(&j, "processes");
                        for (size_t k = 0; k < n_procs; k++) {
                                if (strcmp(procs[k].unit, u->name) != 0)
                                        continue;
                                json_object_begin(&j, NULL);
                                json_int(&j, "pid", procs[k].pid);
                                json_string(&j, "comm", procs[k].comm);
                                json_number(&j, "power_w",
                                            sv->seconds > 0 ? procs[k].energy_j / sv->seconds : 0);
                                json_object_end(&j);
                        }
                        json_array_end(&j);
                }
                json_object_end(&j);
        }
        json_array_end(&j);
        json_object_end(&j);
        json_end(&j);
}

/* 80 columns: name 40, watts 9, active 9, cpu 7, share 7. */
static void top_frame_table(const StoreServices *sv, const StoreProcTotal *procs, size_t n_procs,
                            const TopOptions *o, const char *source)
{
        char ts[32];
        double host_w = sv->seconds > 0 ? sv->host_energy_j / sv->seconds : 0;
        printf("joules top  %s  host %.2f W%s  source %s\n",
               format_rfc3339(sv->to_us, ts, sizeof(ts)), host_w,
               sv->estimated ? " (estimated)" : "", TEXT_SAFE(source));
        printf("%-40s %9s %9s %7s %7s\n", "UNIT", "POWER W", "ACTIVE W", "CPU", "SHARE");
        size_t shown = 0;
        for (size_t i = 0; i < sv->n_units && shown < o->rows; i++, shown++) {
                const StoreUnitTotal *u = &sv->units[i];
                double e = u->active_j + u->idle_j;
                /* start and end, as joules report shows them: long unit names differ at the end */
                char label[TEXT_SAFE_MAX], name[41];
                text_abbrev(cli_unit_label(u->name, u->pseudo, label, sizeof(label)), 40, "~", name,
                            sizeof(name));
                printf("%-40s %9.2f %9.2f %6.0f%% %6.1f%%\n", name,
                       sv->seconds > 0 ? e / sv->seconds : 0,
                       sv->seconds > 0 ? u->active_j / sv->seconds : 0,
                       sv->seconds > 0 ? 100 * u->cpu_s / sv->seconds : 0,
                       sv->host_energy_j > 0 ? 100 * e / sv->host_energy_j : 0);
                if (!o->processes)
                        continue;
                for (size_t k = 0; k < n_procs; k++) {
                        if (strcmp(procs[k].unit, u->name) != 0)
                                continue;
                        char p[128];
                        snprintf(p, sizeof(p), "  %d %s", procs[k].pid, TEXT_SAFE(procs[k].comm));
                        p[text_fit(p, 40)] = '\0';
                        printf("%-40s %9.2f %9s %6.0f%%\n", p,
                               sv->seconds > 0 ? procs[k].energy_j / sv->seconds : 0, "",
                               sv->seconds > 0 ? 100 * procs[k].cpu_s / sv->seconds : 0);
                }
        }
        if (sv->n_units > shown)
                printf("... %zu more\n", sv->n_units - shown);
        if (sv->seconds <= 0)
                printf("no samples in the last %.0f s: is joulesd running?\n",
                       (double)o->window_us / 1e6);
}

static int top_frame(Store *s, const TopOptions *o, const char *db_path)
{
        /* While joulesd's journal holds ticks not committed yet (storage.commit_interval), the
         * window ends at the newest committed one: a frame is always a full window, never one
         * missing its last seconds. */
        int64_t now = now_realtime_us(), newest, committed;
        uint64_t interval;
        if (store_read_last_tick(s, &newest, &interval) >= 0 &&
            store_read_committed_last(s, &committed) >= 0 && newest > committed)
                now = committed;
        StoreServices sv;
        StoreStatus st;
        StoreProcTotal *procs = NULL;
        size_t n_procs = 0;
        int r = store_read_services(s, now - (int64_t)o->window_us, now, &sv);
        if (r < 0) {
                cli_store_error(db_path, store_last_error(s));
                return r;
        }
        if (o->processes) {
                r = store_read_processes(s, now - (int64_t)o->window_us, now, 3, &procs, &n_procs);
                if (r < 0)
                        n_procs = 0;
        }
        char source[16] = "?";
        if (!o->json && store_read_status(s, &st) >= 0) {
                snprintf(source, sizeof(source), "%s", st.source);
                store_status_done(&st);
        }
        if (o->json) {
                top_frame_json(&sv, procs, n_procs, o->processes);
        } else {
                if (!o->once)
                        fputs("\033[H\033[2J", stdout);
                top_frame_table(&sv, procs, n_procs, o, source);
                if (!o->once)
                        printf("\n[p] processes  [q] quit\n");
                fflush(stdout);
        }
        free(procs);
        store_services_done(&sv);
        return 0;
}

int cmd_top(const CliContext *ctx, int argc, char **argv)
{
        static const struct option opts[] = {
                {"refresh", required_argument, NULL, 'r'}, {"window", required_argument, NULL, 'w'},
                {"rows", required_argument, NULL, 'n'},    {"processes", no_argument, NULL, 'p'},
                {"once", no_argument, NULL, '1'},          {"json", no_argument, NULL, 'j'},
                {"help", no_argument, NULL, 'h'},          {0},
        };
        TopOptions o = {.refresh_us = USEC_PER_SEC, .window_us = 5 * USEC_PER_SEC, .rows = 0};
        uint64_t v;
        int c;
        while ((c = args_getopt(argc, argv, "", opts)) != -1) {
                switch (c) {
                case 'r':
                case 'w':
                        if (parse_duration_us(optarg, &v) < 0 || v < 100000) {
                                fprintf(stderr,
                                        "joules top: --%s: '%s' is not a duration of at least "
                                        "100ms\n",
                                        c == 'r' ? "refresh" : "window", TEXT_SAFE(optarg));
                                return CLI_EXIT_USAGE;
                        }
                        if (c == 'r')
                                o.refresh_us = v;
                        else
                                o.window_us = v;
                        break;
                case 'n':
                        if (parse_u64(optarg, &v) < 0 || v == 0 || v > 10000) {
                                fprintf(stderr, "joules top: --rows: '%s' is not a count\n",
                                        TEXT_SAFE(optarg));
                                return CLI_EXIT_USAGE;
                        }
                        o.rows = (size_t)v;
                        break;
                case 'p':
                        o.processes = true;
                        break;
                case '1':
                        o.once = true;
                        break;
                case 'j':
                        o.json = true;
                        break;
                case 'h':
                        top_usage(stdout);
                        return CLI_EXIT_OK;
                default:
                        top_usage(stderr);
                        return CLI_EXIT_USAGE;
                }
        }
        if (cli_no_more_args("joules top", argc, argv) < 0)
                return CLI_EXIT_USAGE;
        if (o.rows == 0) {
                o.rows = 10;
                const char *lines = getenv("LINES");
                uint64_t l;
                if (lines && parse_u64(lines, &l) >= 0 && l > 14)
                        o.rows = (size_t)l - 4;
        }
        Store *s = cli_open_store(ctx);
        if (!s)
                return CLI_EXIT_FAILURE;
        int rc = CLI_EXIT_OK;
        if (o.once) {
                if (top_frame(s, &o, ctx->db_path) < 0)
                        rc = CLI_EXIT_FAILURE;
                store_close(s);
                return rc;
        }
        signal(SIGINT, top_on_signal);
        signal(SIGTERM, top_on_signal);
        bool cursor_hidden = false;
        if (!o.json) {
                top_tty_setup();
                if (isatty(STDOUT_FILENO)) {
                        fputs("\033[?25l", stdout); /* no flicker while redrawing */
                        cursor_hidden = true;
                }
        }
        while (!top_stop) {
                if (top_frame(s, &o, ctx->db_path) < 0) {
                        rc = CLI_EXIT_FAILURE;
                        break;
                }
                struct pollfd p = {.fd = STDIN_FILENO, .events = POLLIN};
                int n = poll(&p, top_tty_raw ? 1 : 0, (int)(o.refresh_us / 1000));
                if (n > 0 && (p.revents & POLLIN)) {
                        char k;
                        if (read(STDIN_FILENO, &k, 1) == 1) {
                                if (k == 'q' || k == 'Q')
                                        break;
                                if (k == 'p' || k == 'P')
                                        o.processes = !o.processes;
                        }
                }
        }
        top_tty_restore();
        if (cursor_hidden)
                fputs("\033[?25h\n", stdout);
        store_close(s);
        return rc;
}
