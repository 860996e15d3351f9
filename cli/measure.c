/* One measured run of a command from joulesd's history: shared by joules run and joules ab.
 *
 * Whose energy. With a unit, that unit's (the command is a load generator aimed at a service).
 * Without, the command's own process tree: it is started in a cgroup of its own,
 * system.slice/joules-run-PID.scope under the cgroup v2 mount, which joulesd attributes like any
 * unit. A new unit's first reading is only a baseline, so the command is held (blocked on a pipe,
 * using no CPU) until the daemon has stored a tick that saw the cgroup; and the cgroup is removed
 * only after the tick that closes the window has read it, so no CPU time leaks to `unattributed`.
 *
 * No daemon. The energy comes only from joulesd: this never measures by itself (two samplers
 * would disagree, and run must agree with the reports). */
#include "cli/measure.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/mountinfo.h"
#include "common/text.h"
#include "common/util.h"

static const char *const measure_names[] = {
        [MEASURE_REQ_NONE] = "none",       [MEASURE_REQ_WRK] = "wrk",
        [MEASURE_REQ_AB] = "ab",           [MEASURE_REQ_HEY] = "hey",
        [MEASURE_REQ_HTTPERF] = "httperf", [MEASURE_REQ_INGEST] = "ingest",
};

int measure_requests_parse(const char *name, MeasureRequests *ret)
{
        for (size_t i = 0; i < ELEMENTSOF(measure_names); i++)
                if (strcmp(name, measure_names[i]) == 0) {
                        *ret = (MeasureRequests)i;
                        return 0;
                }
        return -EINVAL;
}

const char *measure_requests_name(MeasureRequests r)
{
        return (size_t)r < ELEMENTSOF(measure_names) ? measure_names[r] : "none";
}

MeasureRequests measure_requests_guess(const char *argv0)
{
        const char *s = strrchr(argv0, '/');
        const char *b = s ? s + 1 : argv0;
        MeasureRequests r;
        if (measure_requests_parse(b, &r) < 0 || r == MEASURE_REQ_INGEST)
                return MEASURE_REQ_NONE;
        return r;
}

static bool measure_parses_output(MeasureRequests r)
{
        return r == MEASURE_REQ_WRK || r == MEASURE_REQ_AB || r == MEASURE_REQ_HEY ||
               r == MEASURE_REQ_HTTPERF;
}

/* Calls fn on each line of text (cut to 511 bytes) until it returns nonzero. */
static void measure_each_line(const char *text, int (*fn)(const char *line, void *user), void *user)
{
        for (const char *line = text; line && *line;) {
                const char *nl = strchr(line, '\n');
                size_t len = nl ? (size_t)(nl - line) : strlen(line);
                char buf[512];
                snprintf(buf, sizeof(buf), "%.*s", (int)(len < sizeof(buf) ? len : sizeof(buf) - 1),
                         line);
                if (fn(buf, user))
                        return;
                line = nl ? nl + 1 : NULL;
        }
}

typedef struct MeasureScan {
        MeasureRequests tool;
        double total;
        bool found;
} MeasureScan;

static int measure_requests_line(const char *buf, void *user)
{
        MeasureScan *sc = user;
        unsigned long long n, m, k;
        char word[32];
        int code;
        switch (sc->tool) {
        case MEASURE_REQ_WRK:
                /* "  305072 requests in 2.10s, 23.86MB read" */
                if (sscanf(buf, " %llu requests in %31s", &n, word) == 2) {
                        sc->total = (double)n;
                        sc->found = true;
                }
                break;
        case MEASURE_REQ_AB:
                /* "Complete requests:      500" */
                if (sscanf(buf, "Complete requests: %llu", &n) == 1) {
                        sc->total = (double)n;
                        sc->found = true;
                }
                break;
        case MEASURE_REQ_HEY:
                /* "  [200]	300 responses", one line per status code */
                if (sscanf(buf, " [%d] %llu %31s", &code, &n, word) == 3 &&
                    strcmp(word, "responses") == 0) {
                        sc->total += (double)n;
                        sc->found = true;
                }
                break;
        case MEASURE_REQ_HTTPERF:
                /* "Total: connections 200 requests 200 replies 198 test-duration 0.996 s": the
                 * replies are the requests the service answered */
                if (sscanf(buf, "Total: connections %llu requests %llu replies %llu", &n, &m, &k) ==
                    3) {
                        sc->total = (double)k;
                        sc->found = true;
                }
                break;
        default:
                break;
        }
        return 0;
}

int measure_parse_requests(MeasureRequests tool, const char *text, double *ret)
{
        if (!measure_parses_output(tool))
                return -EINVAL;
        MeasureScan sc = {.tool = tool};
        measure_each_line(text, measure_requests_line, &sc);
        if (!sc.found)
                return -ENODATA;
        *ret = sc.total;
        return 0;
}

static int measure_latency_line(const char *buf, void *user)
{
        MeasureScan *sc = user;
        double v, w;
        char unit[16];
        switch (sc->tool) {
        case MEASURE_REQ_WRK:
                /* "    Latency    51.31us  125.35us   3.98ms   98.48%": the average, in us, ms,
                 * s or m */
                if (sscanf(buf, " Latency %lf%15[a-z]", &v, unit) == 2) {
                        double scale = strcmp(unit, "us") == 0   ? 1e-3
                                       : strcmp(unit, "ms") == 0 ? 1
                                       : strcmp(unit, "s") == 0  ? 1e3
                                       : strcmp(unit, "m") == 0  ? 60e3
                                                                 : NAN;
                        if (!isnan(scale)) {
                                sc->total = v * scale;
                                sc->found = true;
                        }
                }
                break;
        case MEASURE_REQ_AB:
                /* "Time per request:       0.208 [ms] (mean)": the first such line is a
                 * request's own time; the second is across all concurrent requests */
                if (sscanf(buf, "Time per request: %lf [ms] (mean%15[)]", &v, unit) == 2) {
                        sc->total = v;
                        sc->found = true;
                        return 1;
                }
                break;
        case MEASURE_REQ_HEY:
                /* "  Average:	0.0012 secs" */
                if (sscanf(buf, " Average: %lf %15s", &v, unit) == 2 && strcmp(unit, "secs") == 0) {
                        sc->total = v * 1e3;
                        sc->found = true;
                        return 1;
                }
                break;
        case MEASURE_REQ_HTTPERF:
                /* "Reply time [ms]: response 1.4 transfer 0.0": to the first byte, then the
                 * rest of the reply */
                if (sscanf(buf, "Reply time [ms]: response %lf transfer %lf", &v, &w) == 2) {
                        sc->total = v + w;
                        sc->found = true;
                }
                break;
        default:
                break;
        }
        return 0;
}

int measure_parse_latency_ms(MeasureRequests tool, const char *text, double *ret)
{
        if (!measure_parses_output(tool))
                return -EINVAL;
        MeasureScan sc = {.tool = tool};
        measure_each_line(text, measure_latency_line, &sc);
        if (!sc.found)
                return -ENODATA;
        *ret = sc.total;
        return 0;
}

int measure_check_daemon(Store *s, const char *cmd, const char *db_path, uint64_t *ret_interval_us)
{
        int64_t last_ts;
        uint64_t interval_us;
        int r = store_read_last_tick(s, &last_ts, &interval_us);
        if (r < 0 || interval_us == 0 ||
            now_realtime_us() - last_ts > (int64_t)(3 * interval_us + USEC_PER_SEC)) {
                char when[32];
                fprintf(stderr,
                        "%s: no joulesd is writing %s (%s%s); start joulesd (systemctl "
                        "start joulesd) or give its history with --db\n",
                        cmd, TEXT_SAFE(db_path), r < 0 ? "no tick stored" : "last tick at ",
                        r < 0 ? "" : format_rfc3339(last_ts, when, sizeof(when)));
                return r < 0 ? -ENODATA : -ESTALE;
        }
        *ret_interval_us = interval_us;
        return 0;
}

/* Writes text to an existing file (a cgroup's cgroup.procs). */
static int measure_write_file(const char *path, const char *text)
{
        int fd = open(path, O_WRONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        ssize_t n = write(fd, text, strlen(text));
        int r = n < 0 ? -errno : 0;
        close(fd);
        return r;
}

/* Polls ready (a store lookup: -ENODATA or -EBUSY while the tick is not there yet) every 20 ms;
 * -ETIMEDOUT after timeout_us. */
static int measure_wait(Store *s, int (*ready)(Store *, int64_t, int64_t *), int64_t ts_us,
                        uint64_t timeout_us, int64_t *ret)
{
        uint64_t deadline = now_monotonic_ns() + timeout_us * NSEC_PER_USEC;
        for (;;) {
                int r = ready(s, ts_us, ret);
                if (r != -ENODATA && r != -EBUSY)
                        return r;
                if (now_monotonic_ns() > deadline)
                        return -ETIMEDOUT;
                sleep_us(20000);
        }
}

/* Whether the history's queries can read the tick ending at ts_us: with a commit interval (at
 * most a minute) joulesd's tick journal holds it first. */
static int measure_committed(Store *s, int64_t ts_us, int64_t *ret)
{
        int r = store_read_committed_last(s, ret);
        return r >= 0 && *ret < ts_us ? -ENODATA : r;
}

typedef struct MeasureChild {
        pid_t pid;
        int go_fd;  /* write a byte to start it */
        int out_fd; /* its stdout, when captured; -1 */
} MeasureChild;

/* capture: the child's stdout comes to us through a pipe; else it goes to relay's descriptor
 * (or stays where ours is). */
static int measure_spawn(const char *cmd, char **argv, bool capture, FILE *relay, MeasureChild *ret)
{
        int go[2], out[2] = {-1, -1};
        if (pipe2(go, O_CLOEXEC) < 0)
                return -errno;
        if (capture && pipe2(out, O_CLOEXEC) < 0) {
                close(go[0]);
                close(go[1]);
                return -errno;
        }
        fflush(NULL);
        pid_t pid = fork();
        if (pid < 0) {
                int r = -errno;
                close(go[0]);
                close(go[1]);
                if (capture) {
                        close(out[0]);
                        close(out[1]);
                }
                return r;
        }
        if (pid == 0) {
                char b;
                close(go[1]);
                if (read(go[0], &b, 1) != 1)
                        _exit(127); /* joules gave up before starting it */
                signal(SIGINT, SIG_DFL);
                signal(SIGTERM, SIG_DFL);
                if (capture)
                        dup2(out[1], STDOUT_FILENO);
                else if (relay && fileno(relay) != STDOUT_FILENO)
                        dup2(fileno(relay), STDOUT_FILENO);
                execvp(argv[0], argv);
                fprintf(stderr, "%s: %s: %s\n", cmd, TEXT_SAFE(argv[0]), strerror(errno));
                _exit(127);
        }
        close(go[0]);
        if (capture)
                close(out[1]);
        *ret = (MeasureChild){.pid = pid, .go_fd = go[1], .out_fd = capture ? out[0] : -1};
        return 0;
}

/* Passes the child's stdout through to `to` (NULL: nowhere) and keeps the first
 * MEASURE_OUTPUT_MAX bytes. */
static void measure_relay(int fd, FILE *to, char **ret_text)
{
        size_t len = 0;
        char *text = malloc(MEASURE_OUTPUT_MAX + 1);
        char buf[8192];
        for (;;) {
                ssize_t n = read(fd, buf, sizeof(buf));
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        break;
                if (to) {
                        fwrite(buf, 1, (size_t)n, to);
                        fflush(to);
                }
                if (text && len < MEASURE_OUTPUT_MAX) {
                        size_t k = (size_t)n < MEASURE_OUTPUT_MAX - len ? (size_t)n
                                                                        : MEASURE_OUTPUT_MAX - len;
                        memcpy(text + len, buf, k);
                        len += k;
                }
        }
        if (text)
                text[len] = '\0';
        *ret_text = text;
}

int measure_run(Store *s, const MeasureOptions *o, char **argv, Measure *ret)
{
        Measure m = {.requests = NAN, .latency_ms = NAN, .instructions = NAN, .cycles = NAN};
        char cg_dir[PATH_MAX] = "";
        MeasureChild child = {.pid = -1, .go_fd = -1, .out_fd = -1};
        uint64_t wait_us = 3 * o->interval_us + 2 * USEC_PER_SEC;
        bool parse = measure_parses_output(o->requests);
        int r;

        if (o->unit) {
                snprintf(m.unit, sizeof(m.unit), "%s", o->unit);
        } else {
                char cg_root[PATH_MAX], slice[PATH_MAX];
                if (o->cg_root)
                        snprintf(cg_root, sizeof(cg_root), "%s", o->cg_root);
                else if (mountinfo_read_cgroups("/proc", cg_root, sizeof(cg_root), NULL, 0) < 0) {
                        fprintf(stderr, "%s: no cgroup v2 mount; use --unit\n", o->cmd);
                        r = -ENOENT;
                        goto out;
                }
                snprintf(m.unit, sizeof(m.unit), "joules-run-%d.scope", (int)getpid());
                if (path_fmt(slice, sizeof(slice), "%s/system.slice", cg_root) < 0 ||
                    path_fmt(cg_dir, sizeof(cg_dir), "%s/%s", slice, m.unit) < 0) {
                        fprintf(stderr, "%s: cgroup path too long\n", o->cmd);
                        cg_dir[0] = '\0';
                        r = -ENAMETOOLONG;
                        goto out;
                }
                (void)mkdir(slice, 0755);
                if (mkdir(cg_dir, 0755) < 0) {
                        r = -errno;
                        fprintf(stderr,
                                "%s: cannot create the cgroup %s: %s (needs root; or measure a "
                                "service with --unit)\n",
                                o->cmd, TEXT_SAFE(cg_dir), strerror(errno));
                        cg_dir[0] = '\0';
                        goto out;
                }
        }

        /* without a relay the output is read and dropped, so it never mixes with ours */
        r = measure_spawn(o->cmd, argv, parse || !o->relay, o->relay, &child);
        if (r < 0) {
                fprintf(stderr, "%s: fork: %s\n", o->cmd, strerror(-r));
                goto out;
        }
        int64_t moved = 0;
        if (cg_dir[0]) {
                char procs[PATH_MAX + 16], pid[32];
                snprintf(procs, sizeof(procs), "%s/cgroup.procs", cg_dir);
                snprintf(pid, sizeof(pid), "%d", (int)child.pid);
                int64_t seen;
                moved = now_realtime_us();
                r = measure_write_file(procs, pid);
                if (r < 0) {
                        fprintf(stderr, "%s: moving the command into %s: %s\n", o->cmd,
                                TEXT_SAFE(cg_dir), strerror(-r));
                        goto out;
                }
                /* the daemon's next tick finds the cgroup and takes its baseline */
                r = measure_wait(s, store_read_tick_after, moved, wait_us, &seen);
                if (r < 0) {
                        fprintf(stderr, "%s: joulesd stopped writing %s\n", o->cmd,
                                TEXT_SAFE(o->db_path));
                        goto out;
                }
        }
        int64_t t0 = now_realtime_us();
        if (write(child.go_fd, "g", 1) != 1) {
                r = -errno;
                fprintf(stderr, "%s: starting the command: %s\n", o->cmd, strerror(errno));
                goto out;
        }
        close(child.go_fd);
        child.go_fd = -1;
        if (child.out_fd >= 0) {
                measure_relay(child.out_fd, o->relay, &m.output);
                close(child.out_fd);
                child.out_fd = -1;
        }
        while (waitpid(child.pid, &m.status, 0) < 0 && errno == EINTR)
                ;
        child.pid = -1;
        int64_t t1 = now_realtime_us();

        /* In a cgroup of its own, the window starts before the command's process moved in: the
         * little CPU it used while waiting to start is the command's too, and a tick with
         * little else running gives it a share of the idle energy worth counting. */
        r = store_read_tick_before(s, moved ? moved : t0, &m.from_us);
        if (r >= 0)
                r = measure_wait(s, store_read_tick_after, t1, wait_us, &m.to_us);
        int64_t committed;
        if (r >= 0)
                r = measure_wait(s, measure_committed, m.to_us, 65 * USEC_PER_SEC, &committed);
        if (r < 0) {
                fprintf(stderr, "%s: no tick closed the window in %s: %s\n", o->cmd,
                        TEXT_SAFE(o->db_path),
                        TEXT_SAFE(r == -ETIMEDOUT ? "joulesd stopped writing"
                                                  : store_last_error(s)));
                goto out;
        }
        if (m.from_us == 0) /* no tick before the command: the window starts with the history */
                m.from_us = t0 - (int64_t)o->interval_us;

        StoreServices sv;
        r = store_read_services(s, m.from_us, m.to_us, &sv);
        if (r < 0) {
                fprintf(stderr, "%s: reading %s: %s\n", o->cmd, TEXT_SAFE(o->db_path),
                        TEXT_SAFE(store_last_error(s)));
                goto out;
        }
        for (size_t i = 0; i < sv.n_units; i++) {
                const StoreUnitTotal *u = &sv.units[i];
                if (strcmp(u->name, m.unit) != 0)
                        continue;
                m.found = true;
                m.active_j = u->active_j;
                m.idle_j = u->idle_j;
                m.cpu_s = u->cpu_s;
                if (o->requests == MEASURE_REQ_INGEST)
                        m.requests = u->has_requests ? u->requests : 0;
                break;
        }
        if (!m.found && o->requests == MEASURE_REQ_INGEST)
                m.requests = 0;
        m.energy_j = m.active_j + m.idle_j;
        m.estimated = sv.estimated;
        m.host_energy_j = sv.host_energy_j;
        store_services_done(&sv);
        /* where the kernel gives hardware counters, the work itself, beside its energy */
        if (store_read_unit_counter(s, m.from_us, m.to_us, m.unit, "instructions",
                                    &m.instructions) < 0)
                m.instructions = NAN;
        if (store_read_unit_counter(s, m.from_us, m.to_us, m.unit, "cycles", &m.cycles) < 0)
                m.cycles = NAN;
        StoreEventTotal *ev = NULL;
        size_t n_ev = 0;
        if (store_read_unit_events(s, m.from_us, m.to_us, m.unit, &ev, &n_ev) >= 0) {
                for (size_t k = 0; k < n_ev && m.n_events < MEASURE_EVENTS_MAX; k++) {
                        snprintf(m.event_names[m.n_events], sizeof(m.event_names[0]), "%s",
                                 ev[k].event);
                        m.event_totals[m.n_events++] = ev[k].total;
                }
                free(ev);
        }
        m.window_s = (double)(m.to_us - m.from_us) / 1e6;
        m.duration_s = (double)(t1 - t0) / 1e6;
        if (parse) {
                if (!m.output || measure_parse_requests(o->requests, m.output, &m.requests) < 0)
                        fprintf(stderr, "%s: no request count in %s's output\n", o->cmd,
                                measure_requests_name(o->requests));
                if (m.output && measure_parse_latency_ms(o->requests, m.output, &m.latency_ms) < 0)
                        m.latency_ms = NAN;
        }
        r = 0;
out:
        if (child.go_fd >= 0)
                close(child.go_fd); /* the child exits 127 without running anything */
        if (child.out_fd >= 0)
                close(child.out_fd);
        if (child.pid > 0)
                while (waitpid(child.pid, NULL, 0) < 0 && errno == EINTR)
                        ;
        if (cg_dir[0] && rmdir(cg_dir) < 0 && errno != ENOENT)
                fprintf(stderr, "%s: removing %s: %s\n", o->cmd, TEXT_SAFE(cg_dir),
                        strerror(errno));
        if (r < 0) {
                free(m.output);
                return r;
        }
        *ret = m;
        return 0;
}

void measure_done(Measure *m)
{
        if (!m)
                return;
        free(m->output);
        m->output = NULL;
}
