#pragma once

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "collectors/energy.h"

/* joulesd's settings: defaults, then /etc/joules/joulesd.conf (INI, parsed with libinih), then
 * command-line flags. Every key is listed once in config.c's table; the same table validates a
 * file line and a flag, so both give the same error for the same bad value. */

#define JOULES_DEFAULT_CONFIG "/etc/joules/joulesd.conf"
#define JOULES_DEFAULT_DB     "/var/lib/joules/joules.db"
#define EX_CONFIG_ERROR       78 /* EX_CONFIG from sysexits.h */

typedef struct JoulesConfig {
        char db_path[PATH_MAX];
        uint64_t interval_us;
        int log_level; /* syslog level */
        char energy_source[16];
        char sysfs_root[PATH_MAX];
        char procfs_root[PATH_MAX];
        char cgroup_root[PATH_MAX]; /* empty: found from mountinfo */
        double max_domain_power_w;  /* sane bound per domain and interval */
        EnergyOptions energy;
        /* attribution */
        bool idle_learn;
        double idle_w;
        char events[512];
        unsigned top_processes;
} JoulesConfig;

void config_defaults(JoulesConfig *c);

/* Sets one key. err receives the reason in words (no file or line: the caller adds them). */
int config_set(JoulesConfig *c, const char *section, const char *key, const char *value, char *err,
               size_t errlen) __attribute__((warn_unused_result));

/* Loads an INI file over c. A missing file is -ENOENT (the caller decides whether that matters);
 * a bad line gives -EINVAL and err = "FILE:LINE: reason". c is left unchanged on error. */
int config_load(JoulesConfig *c, const char *path, char *err, size_t errlen)
        __attribute__((warn_unused_result));

/* Writes every key with its current value as an INI file (joulesd --dump-config). */
void config_dump(const JoulesConfig *c, FILE *f);
