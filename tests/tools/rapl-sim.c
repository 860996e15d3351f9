/* rapl-sim: a fake powercap RAPL tree whose energy counters advance in real time.
 *
 * Creates (or reuses) <root>/devices/virtual/powercap/intel-rapl/... and the class/powercap
 * symlinks into it, as the kernel lays them out, then advances every zone's energy_uj at its
 * configured power, wrapping at its max_energy_range_uj. Energy is a function of
 * CLOCK_MONOTONIC time since start (E = P * t, in integers), not a sum of steps, so the average
 * power over any two readings is exact up to the update period.
 *
 * How energy_uj is written: readers (joulesd) keep energy_uj open and pread it from offset 0
 * each tick, so the file must never be replaced (rename would leave them reading the old inode
 * forever). Each update is one pwrite of the whole new text at offset 0, followed by an
 * ftruncate only when the text got shorter (after a wrap, "5000000\n" -> "12\n"). A reader sees
 * either the old or the new number; in the microseconds between the pwrite and the ftruncate of a
 * shrinking update it can see "12\n0000\n", which is not a number: readers must treat an empty
 * or unparsable read as invalid for that tick (the powercap source does). The static files
 * (name, max_energy_range_uj, ...) are written to a temporary file and renamed into place. */

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/util.h"

#define SIM_MAX_ZONES         64
#define SIM_DEFAULT_MAX_RANGE UINT64_C(262143328850)

typedef struct SimZone {
        char name[64];  /* the zone's `name`: "package-0", "dram" */
        char entry[64]; /* "intel-rapl:0:1" */
        char rel[160];  /* under devices/virtual/powercap/intel-rapl/: "intel-rapl:0/intel-rapl:0:1"
                         */
        int parent;     /* index of the parent zone, -1 for a top-level zone */
        unsigned n_children;
        uint64_t uw;     /* power in microwatts */
        uint64_t max_uj; /* max_energy_range_uj; the counter runs 0 .. max-1 */
        uint64_t start_uj;
        uint64_t total_uj; /* energy since start, not wrapped */
        uint64_t wraps;
        int fd;     /* energy_uj, open for writing */
        size_t len; /* current length of energy_uj */
} SimZone;

static volatile sig_atomic_t sim_stop;

static void sim_on_signal(int sig)
{
        (void)sig;
        sim_stop = 1;
}

static void sim_usage(FILE *f)
{
        fprintf(f,
                "usage: rapl-sim --root DIR --zone NAME:WATTS[:MAX_RANGE_UJ] [--zone ...] "
                "[options]\n"
                "\n"
                "Creates (or reuses) a fake powercap RAPL tree under DIR, in the kernel's layout\n"
                "(DIR/class/powercap/intel-rapl:N -> "
                "../../devices/virtual/powercap/intel-rapl/...),\n"
                "and advances each zone's energy_uj at WATTS, wrapping at its "
                "max_energy_range_uj.\n"
                "Point a reader at it with --sysfs-root DIR.\n"
                "\n"
                "  --root DIR            the sysfs root to create or reuse\n"
                "  --zone NAME:W[:MAX]   a zone drawing W watts (repeatable). NAME:\n"
                "                          package-N, package-N-die-M, psys, psys-N: a top-level\n"
                "                            zone, numbered intel-rapl:0, :1, ... (hex) in order\n"
                "                          core, uncore, dram: a subzone of the last package "
                "given\n"
                "                            before it (a top-level zone if there is none)\n"
                "                          PARENT/NAME: a subzone of the zone named PARENT\n"
                "                        MAX: this zone's max_energy_range_uj (default "
                "--max-range-uj)\n"
                "  --max-range-uj N      default max_energy_range_uj (%" PRIu64 ")\n"
                "  --interval-ms N       update period in milliseconds (default 20)\n"
                "  --duration S          stop after S seconds (\"2.5\", \"500ms\"; default: until\n"
                "                        SIGTERM or SIGINT)\n"
                "  --start-uj N          initial energy_uj of every zone (default: the value\n"
                "                        already in a reused tree, else 0)\n"
                "  --mode OCTAL          mode of the energy_uj files (default 0444; Linux >= 5.10\n"
                "                        uses 0400)\n"
                "  --once                write the tree and the initial values, then exit\n"
                "  -h, --help            this text\n"
                "\n"
                "Prints one line per zone (\"zone ENTRY NAME WATTS max MAX\"), then \"ready\" once "
                "every\n"
                "file and class/ symlink exists; on exit \"total ENTRY NAME UJ wraps N seconds "
                "S\".\n"
                "A wrap must take longer than the reader's interval (MAX / W seconds), or the\n"
                "reader cannot tell how many wraps happened. Exits 0 on SIGTERM/SIGINT or after\n"
                "--duration, 1 on errors, 2 on bad usage.\n",
                SIM_DEFAULT_MAX_RANGE);
}

static int sim_mkdir_p(const char *path)
{
        char buf[PATH_MAX];
        if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf))
                return -ENAMETOOLONG;
        for (char *p = buf + 1; *p; p++) {
                if (*p != '/')
                        continue;
                *p = '\0';
                if (mkdir(buf, 0755) < 0 && errno != EEXIST)
                        return -errno;
                *p = '/';
        }
        if (mkdir(buf, 0755) < 0 && errno != EEXIST)
                return -errno;
        return 0;
}

/* Writes a static file atomically: a temporary file renamed into place. */
static int sim_write_file(const char *dir, const char *file, const char *text)
{
        char path[PATH_MAX], tmp[PATH_MAX];
        if (path_fmt(path, sizeof(path), "%s/%s", dir, file) < 0 ||
            path_fmt(tmp, sizeof(tmp), "%s/.%s.tmp", dir, file) < 0)
                return -ENAMETOOLONG;
        int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0)
                return -errno;
        size_t len = strlen(text);
        ssize_t n = write(fd, text, len);
        int r = n == (ssize_t)len ? 0 : n < 0 ? -errno : -EIO;
        if (close(fd) < 0 && r == 0)
                r = -errno;
        if (r == 0 && rename(tmp, path) < 0)
                r = -errno;
        if (r < 0)
                (void)unlink(tmp);
        return r;
}

/* A symlink at path pointing to target, replacing whatever is there. */
static int sim_symlink(const char *target, const char *path)
{
        char cur[PATH_MAX];
        ssize_t n = readlink(path, cur, sizeof(cur) - 1);
        if (n >= 0) {
                cur[n] = '\0';
                if (strcmp(cur, target) == 0)
                        return 0;
        }
        char tmp[PATH_MAX];
        if (path_fmt(tmp, sizeof(tmp), "%s.tmp", path) < 0)
                return -ENAMETOOLONG;
        (void)unlink(tmp);
        if (symlink(target, tmp) < 0)
                return -errno;
        if (rename(tmp, path) < 0) {
                int r = -errno;
                (void)unlink(tmp);
                return r;
        }
        return 0;
}

/* The new counter text in place: one pwrite, then a truncate only if it got shorter. */
static int sim_write_counter(SimZone *z, uint64_t v)
{
        char buf[32];
        int len = snprintf(buf, sizeof(buf), "%" PRIu64 "\n", v);
        ssize_t n = pwrite(z->fd, buf, (size_t)len, 0);
        if (n != len)
                return n < 0 ? -errno : -EIO;
        if ((size_t)len < z->len && ftruncate(z->fd, len) < 0)
                return -errno;
        z->len = (size_t)len;
        return 0;
}

static uint64_t sim_counter(const SimZone *z)
{
        uint64_t v = z->start_uj + z->total_uj;
        return z->max_uj ? v % z->max_uj : v;
}

static void sim_advance(SimZone *zones, size_t n, uint64_t elapsed_ns)
{
        for (size_t i = 0; i < n; i++) {
                SimZone *z = &zones[i];
                z->total_uj = (uint64_t)((unsigned __int128)z->uw * elapsed_ns / NSEC_PER_SEC);
                z->wraps = z->max_uj ? (z->start_uj + z->total_uj) / z->max_uj : 0;
        }
}

static int sim_write_all(SimZone *zones, size_t n)
{
        for (size_t i = 0; i < n; i++) {
                int r = sim_write_counter(&zones[i], sim_counter(&zones[i]));
                if (r < 0) {
                        fprintf(stderr, "rapl-sim: writing %s/energy_uj: %s\n", zones[i].entry,
                                strerror(-r));
                        return r;
                }
        }
        return 0;
}

static bool sim_is_package(const char *name)
{
        return startswith(name, "package-");
}

static int sim_find_top(const SimZone *zones, size_t n, const char *name)
{
        for (size_t i = 0; i < n; i++)
                if (zones[i].parent < 0 && strcmp(zones[i].name, name) == 0)
                        return (int)i;
        return -1;
}

static int sim_parse_zone(const char *spec, SimZone *zones, size_t *n, int *last_package,
                          uint64_t default_max)
{
        if (*n >= SIM_MAX_ZONES) {
                fprintf(stderr, "rapl-sim: at most %d zones\n", SIM_MAX_ZONES);
                return -E2BIG;
        }
        char buf[256];
        if (snprintf(buf, sizeof(buf), "%s", spec) >= (int)sizeof(buf))
                return -EINVAL;
        char *w = strchr(buf, ':');
        if (!w || w == buf)
                goto bad;
        *w++ = '\0';
        char *m = strchr(w, ':');
        if (m)
                *m++ = '\0';

        SimZone z = {.parent = -1, .fd = -1, .max_uj = default_max};
        double watts;
        if (parse_double(w, &watts) < 0 || watts < 0 || watts > 1e6)
                goto bad;
        z.uw = (uint64_t)llround(watts * 1e6);
        if (m && parse_u64(m, &z.max_uj) < 0)
                goto bad;

        const char *name = buf;
        char *slash = strchr(buf, '/');
        if (slash) {
                *slash = '\0';
                z.parent = sim_find_top(zones, *n, buf);
                if (z.parent < 0) {
                        fprintf(stderr, "rapl-sim: --zone %s: no zone '%s' given before it\n", spec,
                                buf);
                        return -EINVAL;
                }
                name = slash + 1;
        } else if (!sim_is_package(name) && !startswith(name, "psys"))
                z.parent = *last_package; /* core, uncore, dram: inside the last package */
        if (!*name || strchr(name, '/') || path_fmt(z.name, sizeof(z.name), "%s", name) < 0)
                goto bad;

        if (z.parent < 0) {
                unsigned id = 0;
                for (size_t i = 0; i < *n; i++)
                        id += zones[i].parent < 0;
                snprintf(z.entry, sizeof(z.entry), "intel-rapl:%x", id);
                snprintf(z.rel, sizeof(z.rel), "%s", z.entry);
                if (sim_is_package(z.name))
                        *last_package = (int)*n;
        } else {
                SimZone *p = &zones[z.parent];
                if (path_fmt(z.entry, sizeof(z.entry), "%s:%x", p->entry, p->n_children++) < 0 ||
                    path_fmt(z.rel, sizeof(z.rel), "%s/%s", p->rel, z.entry) < 0)
                        goto bad;
        }
        zones[(*n)++] = z;
        return 0;
bad:
        fprintf(stderr, "rapl-sim: bad --zone '%s' (NAME:WATTS[:MAX_RANGE_UJ])\n", spec);
        return -EINVAL;
}

/* Creates one zone's directory and files and opens its energy_uj. */
static int sim_create_zone(const char *ctdir, SimZone *z, bool have_start, uint64_t start,
                           mode_t mode)
{
        char dir[PATH_MAX], path[PATH_MAX], text[sizeof(z->name) + 32];
        int r;
        if (path_fmt(dir, sizeof(dir), "%s/%s", ctdir, z->rel) < 0)
                return -ENAMETOOLONG;
        r = sim_mkdir_p(dir);
        if (r < 0)
                return r;

        bool package = z->parent < 0 && sim_is_package(z->name);
        if (path_fmt(text, sizeof(text), "%s\n", z->name) < 0)
                return -ENAMETOOLONG;
        r = sim_write_file(dir, "name", text);
        snprintf(text, sizeof(text), "%" PRIu64 "\n", z->max_uj);
        r = r < 0 ? r : sim_write_file(dir, "max_energy_range_uj", text);
        r = r < 0 ? r : sim_write_file(dir, "enabled", package ? "1\n" : "0\n");
        r = r < 0 ? r : sim_write_file(dir, "uevent", "");
        r = r < 0 ? r : sim_write_file(dir, "constraint_0_name", "long_term\n");
        r = r < 0 ? r : sim_write_file(dir, "constraint_0_power_limit_uw", "0\n");
        r = r < 0 ? r : sim_write_file(dir, "constraint_0_time_window_us", "976\n");
        if (r < 0)
                return r;

        if (path_fmt(path, sizeof(path), "%s/energy_uj", dir) < 0)
                return -ENAMETOOLONG;
        z->fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, mode);
        if (z->fd < 0)
                return -errno;
        if (fchmod(z->fd, mode) < 0)
                return -errno;
        /* Reuse: continue from the value already there, so a restarted simulator looks like a
         * counter that kept running to a reader holding the file open. */
        z->start_uj = 0;
        char old[32];
        ssize_t n = pread_text(z->fd, old, sizeof(old));
        uint64_t v;
        if (n > 0 && parse_u64(old, &v) == 0 && (z->max_uj == 0 || v < z->max_uj))
                z->start_uj = v;
        if (have_start)
                z->start_uj = z->max_uj ? start % z->max_uj : start;
        struct stat st;
        if (fstat(z->fd, &st) < 0)
                return -errno;
        z->len = (size_t)st.st_size;
        return sim_write_counter(z, z->start_uj);
}

int main(int argc, char **argv)
{
        static const struct option options[] = {
                {"root", required_argument, NULL, 'r'},
                {"zone", required_argument, NULL, 'z'},
                {"max-range-uj", required_argument, NULL, 'm'},
                {"interval-ms", required_argument, NULL, 'i'},
                {"duration", required_argument, NULL, 'd'},
                {"start-uj", required_argument, NULL, 's'},
                {"mode", required_argument, NULL, 'M'},
                {"once", no_argument, NULL, 'o'},
                {"help", no_argument, NULL, 'h'},
                {},
        };
        const char *root = NULL;
        const char *zone_specs[SIM_MAX_ZONES];
        size_t n_specs = 0;
        uint64_t default_max = SIM_DEFAULT_MAX_RANGE, interval_ms = 20, duration_us = 0, start = 0;
        bool have_start = false, once = false;
        mode_t mode = 0444;
        int c;

        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0) {
                switch (c) {
                case 'r':
                        root = optarg;
                        break;
                case 'z':
                        if (n_specs >= SIM_MAX_ZONES) {
                                fprintf(stderr, "rapl-sim: at most %d zones\n", SIM_MAX_ZONES);
                                return 2;
                        }
                        zone_specs[n_specs++] = optarg;
                        break;
                case 'm':
                        if (parse_u64(optarg, &default_max) < 0) {
                                fprintf(stderr, "rapl-sim: bad --max-range-uj '%s'\n", optarg);
                                return 2;
                        }
                        break;
                case 'i':
                        if (parse_u64(optarg, &interval_ms) < 0 || interval_ms == 0 ||
                            interval_ms > 60000) {
                                fprintf(stderr, "rapl-sim: bad --interval-ms '%s'\n", optarg);
                                return 2;
                        }
                        break;
                case 'd':
                        if (parse_duration_us(optarg, &duration_us) < 0 || duration_us == 0) {
                                fprintf(stderr, "rapl-sim: bad --duration '%s'\n", optarg);
                                return 2;
                        }
                        break;
                case 's':
                        if (parse_u64(optarg, &start) < 0) {
                                fprintf(stderr, "rapl-sim: bad --start-uj '%s'\n", optarg);
                                return 2;
                        }
                        have_start = true;
                        break;
                case 'M': {
                        char *end;
                        errno = 0;
                        unsigned long v = strtoul(optarg, &end, 8);
                        if (errno || *end || end == optarg || v > 07777) {
                                fprintf(stderr, "rapl-sim: bad --mode '%s'\n", optarg);
                                return 2;
                        }
                        mode = (mode_t)v;
                        break;
                }
                case 'o':
                        once = true;
                        break;
                case 'h':
                        sim_usage(stdout);
                        return 0;
                default:
                        sim_usage(stderr);
                        return 2;
                }
        }
        if (!root || n_specs == 0 || optind != argc) {
                sim_usage(stderr);
                return 2;
        }

        SimZone zones[SIM_MAX_ZONES];
        size_t n = 0;
        int last_package = -1;
        for (size_t i = 0; i < n_specs; i++)
                if (sim_parse_zone(zone_specs[i], zones, &n, &last_package, default_max) < 0)
                        return 2;

        /* A signal before the loop still ends it cleanly. */
        struct sigaction sa = {.sa_handler = sim_on_signal};
        sigemptyset(&sa.sa_mask);
        (void)sigaction(SIGTERM, &sa, NULL);
        (void)sigaction(SIGINT, &sa, NULL);

        char ctdir[PATH_MAX], classdir[PATH_MAX], path[PATH_MAX], target[PATH_MAX];
        if (path_fmt(ctdir, sizeof(ctdir), "%s/devices/virtual/powercap/intel-rapl", root) < 0 ||
            path_fmt(classdir, sizeof(classdir), "%s/class/powercap", root) < 0) {
                fprintf(stderr, "rapl-sim: --root too long\n");
                return 1;
        }
        int r = sim_mkdir_p(ctdir);
        r = r < 0 ? r : sim_mkdir_p(classdir);
        r = r < 0 ? r : sim_write_file(ctdir, "enabled", "1\n");
        r = r < 0 ? r : sim_write_file(ctdir, "uevent", "");
        if (r < 0) {
                fprintf(stderr, "rapl-sim: creating %s: %s\n", root, strerror(-r));
                return 1;
        }
        for (size_t i = 0; i < n; i++) {
                r = sim_create_zone(ctdir, &zones[i], have_start, start, mode);
                if (r < 0) {
                        fprintf(stderr, "rapl-sim: creating zone %s (%s): %s\n", zones[i].entry,
                                zones[i].name, strerror(-r));
                        return 1;
                }
        }
        /* The class/ links last: once they exist, every file behind them does. */
        r = path_fmt(path, sizeof(path), "%s/intel-rapl", classdir);
        r = r < 0 ? r : sim_symlink("../../devices/virtual/powercap/intel-rapl", path);
        for (size_t i = 0; r >= 0 && i < n; i++) {
                r = path_fmt(target, sizeof(target), "../../devices/virtual/powercap/intel-rapl/%s",
                             zones[i].rel);
                r = r < 0 ? r : path_fmt(path, sizeof(path), "%s/%s", classdir, zones[i].entry);
                r = r < 0 ? r : sim_symlink(target, path);
        }
        if (r < 0) {
                fprintf(stderr, "rapl-sim: creating %s links: %s\n", classdir, strerror(-r));
                return 1;
        }

        for (size_t i = 0; i < n; i++)
                printf("zone %s %s %.3f W max %" PRIu64 "\n", zones[i].entry, zones[i].name,
                       (double)zones[i].uw / 1e6, zones[i].max_uj);
        printf("ready\n");
        fflush(stdout);

        uint64_t t0 = now_monotonic_ns(), elapsed = 0;
        uint64_t period = interval_ms * 1000000, duration_ns = duration_us * 1000;
        for (uint64_t k = 1; !once && !sim_stop; k++) {
                uint64_t next = t0 + k * period;
                if (duration_ns && next > t0 + duration_ns)
                        next = t0 + duration_ns;
                struct timespec ts = {.tv_sec = (time_t)(next / NSEC_PER_SEC),
                                      .tv_nsec = (long)(next % NSEC_PER_SEC)};
                int e = clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
                if (e != 0 && e != EINTR) {
                        fprintf(stderr, "rapl-sim: clock_nanosleep: %s\n", strerror(e));
                        return 1;
                }
                elapsed = now_monotonic_ns() - t0;
                if (duration_ns && elapsed > duration_ns)
                        elapsed = duration_ns; /* the last value is exactly P * duration */
                sim_advance(zones, n, elapsed);
                if (sim_write_all(zones, n) < 0)
                        return 1;
                if (duration_ns && elapsed >= duration_ns)
                        break;
        }

        for (size_t i = 0; i < n; i++) {
                printf("total %s %s %" PRIu64 " wraps %" PRIu64 " seconds %.6f\n", zones[i].entry,
                       zones[i].name, zones[i].total_uj, zones[i].wraps, (double)elapsed / 1e9);
                (void)close(zones[i].fd);
        }
        fflush(stdout);
        return 0;
}
