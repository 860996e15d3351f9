#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "daemon/config.h"

/* joulesd's effective settings, built the same way at start-up and on every reload (SIGHUP,
 * `systemctl reload joulesd`): defaults, then the config file, then the command-line flags, so a
 * flag keeps overriding the file after any number of reloads.
 *
 * On reload the new settings are compared with the running ones key by key. A few keys apply to
 * the running daemon (settings_live_keys); every other key is bound to something built once at
 * start-up (the database, the energy source and its roots, the perf events, the cgroup tree), so
 * a change to it is reported and takes effect at the next restart. A key this table does not know
 * (a key added later) counts as needing a restart: the safe default. */

typedef struct SettingsFlag {
        const char *name; /* the option, "interval" for --interval: for messages */
        const char *section, *key, *value;
} SettingsFlag;

typedef struct SettingsSource {
        const char *path; /* NULL: defaults and flags only */
        bool optional;    /* a missing file means defaults (the default path) */
        const SettingsFlag *flags;
        size_t n_flags;
} SettingsSource;

/* Builds the settings into *ret (written only on success). On failure err is "FILE:LINE: reason"
 * for the file, or "--flag: reason" for a flag; returns -ENOENT for a missing non-optional
 * file and -EINVAL otherwise. */
int settings_build(const SettingsSource *src, JoulesConfig *ret, char *err, size_t errlen)
        __attribute__((warn_unused_result));

typedef struct SettingsChange {
        char *section, *key;
        char *old_value, *new_value; /* as joulesd --dump-config writes them */
        bool live;                   /* applies without a restart */
} SettingsChange;

typedef struct SettingsDiff {
        SettingsChange *changes;
        size_t n;
} SettingsDiff;

/* The keys whose values differ between a and b, in config-file order. */
int settings_diff(const JoulesConfig *a, const JoulesConfig *b, SettingsDiff *ret)
        __attribute__((warn_unused_result));
void settings_diff_done(SettingsDiff *d);

/* True if section.key applies to a running daemon. */
bool settings_key_is_live(const char *section, const char *key);

/* Copies the live keys of next into running and leaves every other key as it was, so running
 * keeps describing what the daemon really does. */
void settings_apply_live(JoulesConfig *running, const JoulesConfig *next);
