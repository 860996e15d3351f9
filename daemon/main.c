/* joulesd: measures the host's energy and attributes it to services. See joulesd --help. */

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/args.h"
#include "common/log.h"
#include "common/text.h"
#include "common/util.h"
#include "daemon/config.h"
#include "daemon/daemon.h"
#include "daemon/scrape.h"
#include "daemon/settings.h"

static void usage(FILE *f)
{
        fprintf(f,
                "Usage: joulesd [OPTIONS]\n"
                "Measures the host's energy (RAPL through the perf power PMU or powercap, or an\n"
                "estimate from CPU use) and stores it in a SQLite history.\n\n"
                "  --config FILE          settings file (default " JOULES_DEFAULT_CONFIG
                ", if present)\n"
                "  --db PATH              history file (default " JOULES_DEFAULT_DB ")\n"
                "  --interval DURATION    sampling interval: 200ms, 1s, 0.2 (default 1s)\n"
                "  --energy-source NAME   auto, perf, powercap or model (default auto)\n"
                "  --sysfs-root DIR       where the energy hardware files are read (default /sys)\n"
                "  --procfs-root DIR      where /proc is read (default /proc)\n"
                "  --cgroup-root DIR      cgroup v2 mount (default: from /proc/self/mountinfo)\n"
                "  --log-level LEVEL      error, warning, notice, info, debug\n"
                "  --events LIST          perf events weighting the split (default\n"
                "                         cycles,instructions; none: CPU time)\n"
                "  --idle-power W|learn   the host's idle power (default: learn)\n"
                "  --ingest-socket PATH   unix datagram socket for StatsD request counts\n"
                "                         (default /run/joules/ingest.sock; '' for none)\n"
                "  --commit-interval D    commit the history this often, each tick kept in the\n"
                "                         journal DATABASE-ticks until then (default 0: every "
                "tick)\n"
                "  --show                 print the measured power once a second\n"
                "  --duration DURATION    stop after this long (tests, benchmarks)\n"
                "  --profile              at exit, print the CPU time of each part of a tick\n"
                "                         (the ticks after the first 30)\n"
                "  --check-config         validate the settings and exit\n"
                "  --dump-config          print the effective settings as a config file\n"
                "  --version, --help\n\n"
                "Exit codes: 0 stopped cleanly, 1 failed, 2 bad arguments, 78 bad "
                "configuration.\n");
}

enum {
        ARG_CONFIG = 0x100,
        ARG_DB,
        ARG_INTERVAL,
        ARG_SOURCE,
        ARG_SYSFS,
        ARG_PROCFS,
        ARG_CGROUP,
        ARG_LOG_LEVEL,
        ARG_EVENTS,
        ARG_IDLE_POWER,
        ARG_INGEST_SOCKET,
        ARG_COMMIT_INTERVAL,
        ARG_SHOW,
        ARG_DURATION,
        ARG_PROFILE,
        ARG_CHECK,
        ARG_DUMP,
        ARG_VERSION,
        ARG_HELP,
};

static const struct option options[] = {
        {"config", required_argument, NULL, ARG_CONFIG},
        {"db", required_argument, NULL, ARG_DB},
        {"interval", required_argument, NULL, ARG_INTERVAL},
        {"energy-source", required_argument, NULL, ARG_SOURCE},
        {"sysfs-root", required_argument, NULL, ARG_SYSFS},
        {"procfs-root", required_argument, NULL, ARG_PROCFS},
        {"cgroup-root", required_argument, NULL, ARG_CGROUP},
        {"log-level", required_argument, NULL, ARG_LOG_LEVEL},
        {"events", required_argument, NULL, ARG_EVENTS},
        {"idle-power", required_argument, NULL, ARG_IDLE_POWER},
        {"ingest-socket", required_argument, NULL, ARG_INGEST_SOCKET},
        {"commit-interval", required_argument, NULL, ARG_COMMIT_INTERVAL},
        {"show", no_argument, NULL, ARG_SHOW},
        {"duration", required_argument, NULL, ARG_DURATION},
        {"profile", no_argument, NULL, ARG_PROFILE},
        {"check-config", no_argument, NULL, ARG_CHECK},
        {"dump-config", no_argument, NULL, ARG_DUMP},
        {"version", no_argument, NULL, ARG_VERSION},
        {"help", no_argument, NULL, ARG_HELP},
        {0},
};

/* Flags that are settings map onto config keys, so they are validated by the same table. */
static const struct {
        int arg;
        const char *section, *key;
} flag_keys[] = {
        {ARG_DB, "daemon", "database"},
        {ARG_INTERVAL, "daemon", "interval"},
        {ARG_LOG_LEVEL, "daemon", "log_level"},
        {ARG_SOURCE, "energy", "source"},
        {ARG_SYSFS, "energy", "sysfs_root"},
        {ARG_PROCFS, "attribution", "procfs_root"},
        {ARG_CGROUP, "attribution", "cgroup_root"},
        {ARG_EVENTS, "attribution", "events"},
        {ARG_IDLE_POWER, "attribution", "idle_power"},
        {ARG_INGEST_SOCKET, "ingest", "socket"},
        {ARG_COMMIT_INTERVAL, "storage", "commit_interval"},
};

int main(int argc, char **argv)
{
        JoulesConfig cfg;
        DaemonOptions opts = {0};
        SettingsSource src = {.path = JOULES_DEFAULT_CONFIG, .optional = true};
        /* Every setting flag, in order: applied over the file now and again after each reload. */
        SettingsFlag flags[64];
        size_t n_flags = 0;
        bool check = false, dump = false;
        char err[1024];
        int c;

        /* joulesd executing itself again, without capabilities (daemon/scrape-worker.c) */
        if (argc == 2 && strcmp(argv[1], "--scrape-worker") == 0)
                return scrape_worker_main();
        log_setup(LOG_INFO, "joulesd");
        while ((c = args_getopt(argc, argv, "", options)) != -1) {
                switch (c) {
                case ARG_CONFIG:
                        src.path = optarg;
                        src.optional = false;
                        continue;
                case ARG_HELP:
                        usage(stdout);
                        return 0;
                case ARG_VERSION:
                        printf("joulesd %s\n", JOULES_VERSION);
                        return 0;
                case ARG_SHOW:
                        opts.show = true;
                        continue;
                case ARG_PROFILE:
                        opts.profile = true;
                        continue;
                case ARG_CHECK:
                        check = true;
                        continue;
                case ARG_DUMP:
                        dump = true;
                        continue;
                case ARG_DURATION:
                        if (parse_duration_us(optarg, &opts.duration_us) < 0) {
                                fprintf(stderr, "joulesd: --duration: '%s' is not a duration\n",
                                        TEXT_SAFE(optarg));
                                return 2;
                        }
                        continue;
                case '?':
                        usage(stderr);
                        return 2;
                default:
                        break;
                }
                for (size_t i = 0; i < ELEMENTSOF(flag_keys); i++) {
                        if (flag_keys[i].arg != c)
                                continue;
                        if (n_flags == ELEMENTSOF(flags)) {
                                fprintf(stderr, "joulesd: too many options\n");
                                return 2;
                        }
                        flags[n_flags++] = (SettingsFlag){
                                .name = options[c - ARG_CONFIG].name,
                                .section = flag_keys[i].section,
                                .key = flag_keys[i].key,
                                .value = optarg,
                        };
                }
        }
        if (optind < argc) {
                fprintf(stderr, "joulesd: unexpected argument '%s'\n", TEXT_SAFE(argv[optind]));
                return 2;
        }

        /* A bad flag is a usage error (2), whatever the file says: check the flags alone first. */
        SettingsSource flags_only = {.flags = flags, .n_flags = n_flags};
        if (settings_build(&flags_only, &cfg, err, sizeof(err)) < 0) {
                fprintf(stderr, "joulesd: %s\n", TEXT_SAFE(err));
                return 2;
        }
        src.flags = flags;
        src.n_flags = n_flags;
        if (settings_build(&src, &cfg, err, sizeof(err)) < 0) {
                log_error("%s", err);
                return EX_CONFIG_ERROR;
        }
        log_setup(cfg.log_level, "joulesd");

        if (dump) {
                config_dump(&cfg, stdout);
                return 0;
        }
        if (check) {
                bool have_file = src.path && access(src.path, F_OK) == 0;
                printf("%s: configuration is valid\n",
                       have_file ? TEXT_SAFE(src.path) : "(defaults)");
                return 0;
        }

        opts.settings = src;
        Daemon *d = NULL;
        int r = daemon_new(&cfg, &opts, &d, err, sizeof(err));
        if (r < 0) {
                log_error("%s", err);
                return 1;
        }
        r = daemon_run(d);
        daemon_free(d);
        return r < 0 ? 1 : 0;
}
