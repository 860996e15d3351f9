#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "daemon/config.h"
#include "daemon/settings.h"

/* joulesd's life: open the energy source and the history, then one tick per interval (a timerfd
 * on CLOCK_MONOTONIC): read the counters, turn them into an interval, attribute it, append it to
 * the history. Signals arrive through a signalfd so a tick is never interrupted half-way. */

typedef struct Daemon Daemon;

typedef struct DaemonOptions {
        /* How the settings were built; SIGHUP builds them again the same way (daemon/settings.h).
         * The strings it points to must outlive the daemon (argv). */
        SettingsSource settings;
        bool show;            /* print what is measured, once a second, on stdout */
        uint64_t duration_us; /* stop after this long; 0: run until a signal */
        bool profile;         /* at exit, print the CPU time of each part of a tick (stderr) */
} DaemonOptions;

/* err says, for the user, what failed and what to do. */
int daemon_new(const JoulesConfig *cfg, const DaemonOptions *opts, Daemon **ret, char *err,
               size_t errlen) __attribute__((warn_unused_result));
/* Runs until SIGTERM/SIGINT (or the duration). Returns 0 after a clean stop. SIGHUP reloads the
 * settings: an invalid file keeps the running ones (and says why); a valid one applies the keys
 * that can change live and names the ones that need a restart. */
int daemon_run(Daemon *d);
Daemon *daemon_free(Daemon *d);
