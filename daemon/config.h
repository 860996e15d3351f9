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

/* Requests counted for one unit from its own /metrics or its access log, configured in a section
 * named after the unit: [requests "nginx.service"] (see config.c's request keys). */
#define JOULES_REQUEST_SOURCES_MAX 16

typedef struct JoulesRequestSource {
        char unit[288];        /* display name: "nginx.service", "user@1000/x.service" */
        char metric_name[128]; /* stored as this metric; default "requests" */
        char url[512];         /* scrape_url: a Prometheus /metrics page; empty: none */
        char selector[512];    /* scrape_metric: name{label="v",code=~"2.."} */
        uint64_t scrape_interval_us;
        uint64_t scrape_timeout_us;
        char access_log[PATH_MAX];   /* empty: none */
        char access_log_filter[256]; /* POSIX extended regex a line must match; empty: all */
} JoulesRequestSource;

/* [carbon] (config-carbon.c): written into the history's meta table for joules. */
typedef struct JoulesCarbon {
        char country[8];         /* built-in table code; empty: WORLD */
        double intensity;        /* fixed gCO2e/kWh; NAN: none */
        double pue;              /* 1.0 by default */
        double embodied_g;       /* TE, grams */
        double lifetime_hours;   /* EL, 35040 by default */
        double market_intensity; /* NAN: none */
} JoulesCarbon;

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
        unsigned process_events_idle; /* ticks; 0: no per-process perf counters */
        /* requests (issue 5) */
        char ingest_socket[108]; /* sun_path; empty: no ingest socket */
        char ingest_trusted_units[1024];
        char ingest_trusted_uids[256];
        JoulesRequestSource request_sources[JOULES_REQUEST_SOURCES_MAX];
        size_t n_request_sources;
        JoulesCarbon carbon; /* [carbon] (issue 6) */
        /* [storage] how long each tier of the history is kept; 0: forever */
        uint64_t raw_retention_us;
        uint64_t minute_retention_us;
        uint64_t hour_retention_us;
        /* how often the history is committed; the tick journal holds the ticks in between */
        uint64_t commit_interval_us;
} JoulesConfig;

void config_defaults(JoulesConfig *c);

/* Sets one key. err receives the reason in words (no file or line: the caller adds them). */
int config_set(JoulesConfig *c, const char *section, const char *key, const char *value, char *err,
               size_t errlen) __attribute__((warn_unused_result));

/* Loads an INI file over c. A missing file is -ENOENT (the caller decides whether that matters);
 * a bad line gives -EINVAL and err = "FILE:LINE: reason". c is left unchanged on error. */
int config_load(JoulesConfig *c, const char *path, char *err, size_t errlen)
        __attribute__((warn_unused_result));

/* The same from an open stream (a file, or fmemopen() text for the fuzzer); name stands for the
 * file in err. */
int config_load_stream(JoulesConfig *c, FILE *f, const char *name, char *err, size_t errlen)
        __attribute__((warn_unused_result));

/* A number as config_dump writes it: the shortest text that reads back as exactly v. buf needs
 * 32 bytes. */
const char *config_format_double(double v, char *buf, size_t size);

/* Writes every key with its current value as an INI file (joulesd --dump-config). */
void config_dump(const JoulesConfig *c, FILE *f);

/* [requests "UNIT"] sections (config-requests.c): 0 when section is another one, 1 when the key
 * was set, -EINVAL with err. config_check_requests validates what needs several keys. */
int config_set_request(JoulesConfig *c, const char *section, const char *key, const char *value,
                       char *err, size_t errlen) __attribute__((warn_unused_result));
int config_check_requests(const JoulesConfig *c, char *err, size_t errlen)
        __attribute__((warn_unused_result));
void config_dump_requests(const JoulesConfig *c, FILE *f);

/* [storage]: retention must not shrink from raw to minute to hour (a tier is deleted only once
 * the next one holds it). */
int config_check_storage(const JoulesConfig *c, char *err, size_t errlen)
        __attribute__((warn_unused_result));

/* [carbon] (config-carbon.c): 0 when section is another one, 1 when set, -EINVAL with err. */
void config_carbon_defaults(JoulesCarbon *c);
int config_set_carbon(JoulesConfig *c, const char *section, const char *key, const char *value,
                      char *err, size_t errlen) __attribute__((warn_unused_result));
void config_dump_carbon(const JoulesConfig *c, FILE *f);
/* Writes the [carbon] settings into the history's meta table (carbon.* keys), replacing the
 * ones there. */
struct Store;
int config_store_carbon(const JoulesConfig *c, struct Store *s) __attribute__((warn_unused_result));
