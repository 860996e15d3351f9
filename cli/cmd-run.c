/* joules run: the energy (and joules per request) of one command's run, from joulesd's history.
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
 * Requests: parsed from the command's output for wrk ("N requests in"), ab ("Complete requests:")
 * and hey (the sum of its "[code] N responses" lines), or taken from the ingest socket's counts for
 * the unit over the window (--requests-from ingest). By default the command's name picks wrk, ab
 * or hey; anything else has no request count. The command's stdout is passed through (to stderr
 * with --json), its stderr untouched. Exit code: the command's when it failed (128 + signal when
 * killed), else 0, or 3 when the unit drew no energy in the window (a mistyped --unit); 1 when
 * joules itself could not measure, 2 for bad arguments. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/json.h"
#include "common/text.h"
#include "common/util.h"

#define RUN_OUTPUT_MAX (1u << 20) /* kept for parsing; all of it is passed through */

static void run_usage(FILE *f)
{
        fprintf(f,
                "Usage: joules run [--unit UNIT] [--requests-from wrk|ab|hey|ingest|none] "
                "[--json]\n"
                "                  [--cgroup-root DIR] -- COMMAND [ARGS...]\n"
                "Runs COMMAND and prints the energy of exactly the ticks it ran in, from "
                "joulesd's\n"
                "history: energy, average watts, requests and joules per request.\n\n"
                "  --unit UNIT          the energy of this service (COMMAND is its load "
                "generator);\n"
                "                       default: COMMAND's own processes, in a cgroup of their\n"
                "                       own (system.slice/joules-run-PID.scope; needs root)\n"
                "  --requests-from SRC  wrk, ab or hey: parsed from COMMAND's output; ingest: the\n"
                "                       counts the unit sent to the ingest socket; default: by\n"
                "                       COMMAND's name\n"
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

static const char *run_basename(const char *p)
{
        const char *s = strrchr(p, '/');
        return s ? s + 1 : p;
}

int cli_run_parse_requests(const char *tool, const char *text, double *ret)
{
        double total = 0;
        bool found = false;
        for (const char *line = text; line && *line;) {
                const char *nl = strchr(line, '\n');
                size_t len = nl ? (size_t)(nl - line) : strlen(line);
                char buf[512];
                snprintf(buf, sizeof(buf), "%.*s", (int)(len < sizeof(buf) ? len : sizeof(buf) - 1),
                         line);
                unsigned long long n;
                char word[32];
                int code;
                if (strcmp(tool, "wrk") == 0) {
                        /* "  305072 requests in 2.10s, 23.86MB read" */
                        if (sscanf(buf, " %llu requests in %31s", &n, word) == 2) {
                                total = (double)n;
                                found = true;
                        }
                } else if (strcmp(tool, "ab") == 0) {
                        /* "Complete requests:      500" */
                        if (sscanf(buf, "Complete requests: %llu", &n) == 1) {
                                total = (double)n;
                                found = true;
                        }
                } else if (strcmp(tool, "hey") == 0) {
                        /* "  [200]	300 responses", one line per status code */
                        if (sscanf(buf, " [%d] %llu %31s", &code, &n, word) == 3 &&
                            strcmp(word, "responses") == 0) {
                                total += (double)n;
                                found = true;
                        }
                } else {
                        return -EINVAL;
                }
                line = nl ? nl + 1 : NULL;
        }
        if (!found)
                return -ENODATA;
        *ret = total;
        return 0;
}

/* The first cgroup2 mount in /proc/self/mountinfo. */
static int run_cgroup_root(char *buf, size_t size)
{
        FILE *f = fopen("/proc/self/mountinfo", "re");
        if (!f)
                return -errno;
        char line[4096];
        int r = -ENOENT;
        while (fgets(line, sizeof(line), f)) {
                char *sep = strstr(line, " - ");
                if (!sep || strncmp(sep + 3, "cgroup2 ", 8) != 0)
                        continue;
                char *save = NULL, *tok = strtok_r(line, " ", &save);
                for (int i = 1; tok && i < 5; i++)
                        tok = strtok_r(NULL, " ", &save);
                if (tok) {
                        snprintf(buf, size, "%s", tok);
                        r = 0;
                }
                break;
        }
        fclose(f);
        return r;
}

static int run_write_file(const char *path, const char *text)
{
        int fd = open(path, O_WRONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        ssize_t n = write(fd, text, strlen(text));
        int r = n < 0 ? -errno : 0;
        close(fd);
        return r;
}

/* Waits for a tick ending at or after ts_us; -ETIMEDOUT after timeout_us. */
static int run_wait_tick(Store *s, int64_t ts_us, uint64_t timeout_us, int64_t *ret)
{
        uint64_t deadline = now_monotonic_ns() + timeout_us * NSEC_PER_USEC;
        for (;;) {
                int r = store_read_tick_after(s, ts_us, ret);
                if (r != -ENODATA && r != -EBUSY)
                        return r;
                if (now_monotonic_ns() > deadline)
                        return -ETIMEDOUT;
                sleep_us(20000);
        }
}

typedef struct RunChild {
        pid_t pid;
        int go_fd;  /* write a byte to start it */
        int out_fd; /* its stdout, when captured; -1 */
} RunChild;

/* capture: the child's stdout comes to us through a pipe; else to_stderr sends it to stderr
 * (--json keeps stdout for the JSON object). */
static int run_spawn(char **argv, bool capture, bool to_stderr, RunChild *ret)
{
        int go[2], out[2] = {-1, -1};
        if (pipe2(go, O_CLOEXEC) < 0)
                return -errno;
        if (capture && pipe2(out, O_CLOEXEC) < 0) {
                close(go[0]);
                close(go[1]);
                return -errno;
        }
        pid_t pid = fork();
        if (pid < 0)
                return -errno;
        if (pid == 0) {
                char b;
                close(go[1]);
                if (read(go[0], &b, 1) != 1)
                        _exit(127); /* joules gave up before starting it */
                signal(SIGINT, SIG_DFL);
                signal(SIGTERM, SIG_DFL);
                if (capture)
                        dup2(out[1], STDOUT_FILENO);
                else if (to_stderr)
                        dup2(STDERR_FILENO, STDOUT_FILENO);
                execvp(argv[0], argv);
                fprintf(stderr, "joules run: %s: %s\n", argv[0], strerror(errno));
                _exit(127);
        }
        close(go[0]);
        if (capture)
                close(out[1]);
        *ret = (RunChild){.pid = pid, .go_fd = go[1], .out_fd = capture ? out[0] : -1};
        return 0;
}

/* Passes the child's stdout through to `to` and keeps the first RUN_OUTPUT_MAX bytes. */
static void run_relay(int fd, FILE *to, char **ret_text)
{
        size_t len = 0;
        char *text = malloc(RUN_OUTPUT_MAX + 1);
        char buf[8192];
        for (;;) {
                ssize_t n = read(fd, buf, sizeof(buf));
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        break;
                fwrite(buf, 1, (size_t)n, to);
                fflush(to);
                if (text && len < RUN_OUTPUT_MAX) {
                        size_t k =
                                (size_t)n < RUN_OUTPUT_MAX - len ? (size_t)n : RUN_OUTPUT_MAX - len;
                        memcpy(text + len, buf, k);
                        len += k;
                }
        }
        if (text)
                text[len] = '\0';
        *ret_text = text;
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
        const char *unit_arg = NULL, *from = NULL, *cg_root_arg = NULL;
        bool json = false;
        int c;
        /* "+": stop at the first non-option, so COMMAND's own flags are left alone */
        while ((c = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
                switch (c) {
                case 'u':
                        unit_arg = optarg;
                        break;
                case 'r':
                        from = optarg;
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
        if (!from) {
                const char *b = run_basename(cmd[0]);
                from = strcmp(b, "wrk") == 0 || strcmp(b, "ab") == 0 || strcmp(b, "hey") == 0
                               ? b
                               : "none";
        }
        if (strcmp(from, "wrk") && strcmp(from, "ab") && strcmp(from, "hey") &&
            strcmp(from, "ingest") && strcmp(from, "none")) {
                fprintf(stderr,
                        "joules run: --requests-from: '%s' is not wrk, ab, hey, ingest or "
                        "none\n",
                        from);
                return CLI_EXIT_USAGE;
        }
        bool parse =
                strcmp(from, "wrk") == 0 || strcmp(from, "ab") == 0 || strcmp(from, "hey") == 0;

        Store *s = cli_open_store(ctx);
        if (!s)
                return CLI_EXIT_FAILURE;
        int rc = CLI_EXIT_FAILURE;
        char unit[300] = "", cg_dir[PATH_MAX] = "", cg_root[PATH_MAX] = "";
        RunChild child = {.pid = -1, .go_fd = -1, .out_fd = -1};
        char *output = NULL;

        /* Is a daemon writing this history? */
        int64_t last_ts;
        uint64_t interval_us;
        int r = store_read_last_tick(s, &last_ts, &interval_us);
        if (r < 0 || interval_us == 0 ||
            now_realtime_us() - last_ts > (int64_t)(3 * interval_us + USEC_PER_SEC)) {
                char when[32];
                fprintf(stderr,
                        "joules run: no joulesd is writing %s (%s%s); start joulesd (systemctl "
                        "start joulesd) or give its history with --db\n",
                        ctx->db_path, r < 0 ? "no tick stored" : "last tick at ",
                        r < 0 ? "" : format_rfc3339(last_ts, when, sizeof(when)));
                goto out;
        }
        uint64_t wait_us = 3 * interval_us + 2 * USEC_PER_SEC;

        if (unit_arg) {
                snprintf(unit, sizeof(unit), "%s", unit_arg);
        } else {
                if (cg_root_arg)
                        snprintf(cg_root, sizeof(cg_root), "%s", cg_root_arg);
                else if (run_cgroup_root(cg_root, sizeof(cg_root)) < 0) {
                        fprintf(stderr, "joules run: no cgroup v2 mount; use --unit\n");
                        goto out;
                }
                snprintf(unit, sizeof(unit), "joules-run-%d.scope", (int)getpid());
                char slice[PATH_MAX];
                if (path_fmt(slice, sizeof(slice), "%s/system.slice", cg_root) < 0 ||
                    path_fmt(cg_dir, sizeof(cg_dir), "%s/%s", slice, unit) < 0) {
                        fprintf(stderr, "joules run: cgroup path too long\n");
                        goto out;
                }
                (void)mkdir(slice, 0755);
                if (mkdir(cg_dir, 0755) < 0) {
                        fprintf(stderr,
                                "joules run: cannot create the cgroup %s: %s (needs root; or "
                                "measure a service with --unit)\n",
                                cg_dir, strerror(errno));
                        cg_dir[0] = '\0';
                        goto out;
                }
        }

        /* Ctrl-C reaches the command (same process group); joules still reports. */
        signal(SIGINT, SIG_IGN);
        signal(SIGTERM, SIG_IGN);
        r = run_spawn(cmd, parse, json, &child);
        if (r < 0) {
                fprintf(stderr, "joules run: fork: %s\n", strerror(-r));
                goto out;
        }
        int64_t moved = 0;
        if (cg_dir[0]) {
                char procs[PATH_MAX + 16], pid[32];
                snprintf(procs, sizeof(procs), "%s/cgroup.procs", cg_dir);
                snprintf(pid, sizeof(pid), "%d", (int)child.pid);
                int64_t seen;
                moved = now_realtime_us();
                r = run_write_file(procs, pid);
                if (r < 0) {
                        fprintf(stderr, "joules run: moving the command into %s: %s\n", cg_dir,
                                strerror(-r));
                        goto out;
                }
                /* the daemon's next tick finds the cgroup and takes its baseline */
                r = run_wait_tick(s, moved, wait_us, &seen);
                if (r < 0) {
                        fprintf(stderr, "joules run: joulesd stopped writing %s\n", ctx->db_path);
                        goto out;
                }
        }
        int64_t t0 = now_realtime_us();
        if (write(child.go_fd, "g", 1) != 1) {
                fprintf(stderr, "joules run: starting the command: %s\n", strerror(errno));
                goto out;
        }
        close(child.go_fd);
        child.go_fd = -1;
        if (child.out_fd >= 0) {
                run_relay(child.out_fd, json ? stderr : stdout, &output);
                close(child.out_fd);
                child.out_fd = -1;
        }
        int status = 0;
        while (waitpid(child.pid, &status, 0) < 0 && errno == EINTR)
                ;
        child.pid = -1;
        int64_t t1 = now_realtime_us();

        /* In a cgroup of its own, the window starts before the command's process moved in: the
         * little CPU it used while waiting to start is the command's too, and a tick with
         * little else running gives it a share of the idle energy worth counting. */
        int64_t a, b;
        r = store_read_tick_before(s, moved ? moved : t0, &a);
        if (r >= 0)
                r = run_wait_tick(s, t1, wait_us, &b);
        if (r < 0) {
                fprintf(stderr, "joules run: no tick closed the window in %s: %s\n", ctx->db_path,
                        r == -ETIMEDOUT ? "joulesd stopped writing" : store_last_error(s));
                goto out;
        }
        if (a == 0) /* no tick before the command: the window starts with the history */
                a = t0 - (int64_t)interval_us;

        StoreServices sv;
        r = store_read_services(s, a, b, &sv);
        if (r < 0) {
                fprintf(stderr, "joules run: reading %s: %s\n", ctx->db_path, store_last_error(s));
                goto out;
        }
        const StoreUnitTotal *u = NULL;
        for (size_t i = 0; i < sv.n_units && !u; i++)
                if (strcmp(sv.units[i].name, unit) == 0)
                        u = &sv.units[i];
        double energy = u ? u->active_j + u->idle_j : 0;
        double window_s = (double)(b - a) / 1e6;
        double duration_s = (double)(t1 - t0) / 1e6;
        double requests = NAN;
        if (parse) {
                if (!output || cli_run_parse_requests(from, output, &requests) < 0)
                        fprintf(stderr, "joules run: no request count in %s's output\n", from);
        } else if (strcmp(from, "ingest") == 0) {
                requests = u && u->has_requests ? u->requests : 0;
        }
        bool has_req = !isnan(requests);
        if (!u && unit_arg)
                fprintf(stderr,
                        "joules run: %s drew no energy in the window (is the name right? "
                        "see joules services)\n",
                        TEXT_SAFE(unit));

        char wa[48], wb[48];
        if (json) {
                JsonWriter j;
                json_init(&j, stdout);
                json_object_begin(&j, NULL);
                json_string(&j, "unit", unit);
                json_number(&j, "duration_s", duration_s);
                json_number(&j, "energy_j", energy);
                json_number(&j, "avg_w", window_s > 0 ? energy / window_s : 0);
                if (has_req)
                        json_number(&j, "requests", requests);
                else
                        json_null(&j, "requests");
                if (has_req && requests > 0)
                        json_number(&j, "j_per_request", energy / requests);
                else
                        json_null(&j, "j_per_request");
                json_bool(&j, "estimated", sv.estimated);
                json_string(&j, "requests_from", has_req ? from : NULL);
                json_string(&j, "window_from", run_format_us(a, wa, sizeof(wa)));
                json_string(&j, "window_to", run_format_us(b, wb, sizeof(wb)));
                json_number(&j, "window_s", window_s);
                json_int(&j, "window_from_us", a);
                json_int(&j, "window_to_us", b);
                json_number(&j, "host_energy_j", sv.host_energy_j);
                json_object_end(&j);
                json_end(&j);
        } else {
                printf("joules run: %s\n", TEXT_SAFE(unit));
                printf("  duration     %10.3f s (window %.3f s, whole ticks: --since %s "
                       "--until %s)\n",
                       duration_s, window_s, run_format_us(a, wa, sizeof(wa)),
                       run_format_us(b, wb, sizeof(wb)));
                printf("  energy       %10.3f J%s\n", energy, sv.estimated ? " (estimated)" : "");
                printf("  average      %10.3f W\n", window_s > 0 ? energy / window_s : 0);
                if (has_req) {
                        printf("  requests     %10.0f (from %s)\n", requests, from);
                        if (requests > 0)
                                printf("  per request  %10.6f J\n", energy / requests);
                } else {
                        printf("  requests     %10s\n", "-");
                }
        }
        store_services_done(&sv);
        rc = u ? CLI_EXIT_OK : CLI_EXIT_NO_DATA; /* a --unit that drew nothing: a typo? */
        if (WIFEXITED(status) && WEXITSTATUS(status) != 0)
                rc = WEXITSTATUS(status);
        else if (WIFSIGNALED(status))
                rc = 128 + WTERMSIG(status);
out:
        if (child.go_fd >= 0)
                close(child.go_fd); /* the child exits 127 without running anything */
        if (child.out_fd >= 0)
                close(child.out_fd);
        if (child.pid > 0)
                while (waitpid(child.pid, NULL, 0) < 0 && errno == EINTR)
                        ;
        if (cg_dir[0] && rmdir(cg_dir) < 0 && errno != ENOENT)
                fprintf(stderr, "joules run: removing %s: %s\n", cg_dir, strerror(errno));
        free(output);
        store_close(s);
        return rc;
}
